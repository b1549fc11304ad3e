//! `nudge report`: what a record log says about the flows: journeys per
//! workflow, each split's arms against their control (conversion rates,
//! always-valid intervals and a decision, see `nudge_measure::stats`),
//! and the messages sent.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;

use nudge_measure::stats::{Decision, Rate};
use nudge_measure::{ArmRow, Report, Tally};

use crate::command::simulate::write_rows;
use crate::exit::Exit;

/// `nudge report`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A record log: what `nudge simulate --records --format jsonl`
    /// writes (`-` reads standard input). Without one, --server is read.
    #[arg(required_unless_present = "server")]
    pub records: Option<PathBuf>,
    /// A running `nudge serve` to read instead (its `GET /api/report`).
    #[arg(long, value_name = "URL", conflicts_with = "records")]
    pub server: Option<String>,
    /// The server's admin token (default: the one in the data folder's
    /// `keys.json`, see --data).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "NUDGE_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// The server's data folder, to read the admin token from.
    #[arg(long, value_name = "DIR", default_value = ".nudge", env = "NUDGE_DATA")]
    pub data: PathBuf,
    /// How to print the results.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

/// `--format`
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// Aligned tables: workflows, arms, messages.
    Table,
    /// One JSON document (`workflows`, `arms`, `messages`).
    Json,
    /// A self-contained HTML page: the tables, and per split and goal a
    /// chart of each arm's conversion over time with its interval.
    Html,
}

/// The report of a running server.
fn from_server(args: &Args, server: &str) -> Result<Report, String> {
    let token = match &args.token {
        Some(t) => t.clone(),
        None => crate::command::deploy::read_token(&args.data)?,
    };
    let url = format!("{}/api/report", server.trim_end_matches('/'));
    let response = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(600))
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))?
        .get(&url)
        .bearer_auth(token)
        .send()
        .map_err(|e| format!("cannot reach the server at {server}: {e}"))?;
    let status = response.status();
    let text = response
        .text()
        .map_err(|e| format!("cannot read the server's answer: {e}"))?;
    if !status.is_success() {
        return Err(format!("the server refused ({status}): {}", text.trim()));
    }
    serde_json::from_str(&text).map_err(|e| format!("the server's report is not one: {e}"))
}

/// Prints a report as `format` says.
fn print(report: &Report, format: ReportFormat) -> Result<(), std::io::Error> {
    let mut out = std::io::stdout().lock();
    match format {
        ReportFormat::Table => write_report(&mut out, report),
        ReportFormat::Json => serde_json::to_writer_pretty(&mut out, report)
            .map_err(|e| match e.io_error_kind() {
                Some(kind) => std::io::Error::new(kind, e),
                None => std::io::Error::other(e),
            })
            .and_then(|()| writeln!(out)),
        ReportFormat::Html => out.write_all(html(report).as_bytes()),
    }
}

/// Text safe in HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Colours of the arms in a chart, the control's first.
const COLOURS: [&str; 6] = [
    "#6b7280", "#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed",
];

/// A chart of the arms of one split for one goal: each arm's cumulative
/// conversion rate at the end of each day, with its 95% interval as a band.
fn chart(arms: &[&ArmRow], goal: &str) -> String {
    let (w, h, left, bottom, top, right) = (640.0, 240.0, 48.0, 28.0, 12.0, 12.0);
    let series: Vec<(&ArmRow, &Vec<nudge_measure::DayRate>)> = arms
        .iter()
        .filter_map(|a| Some((*a, &a.goals.iter().find(|g| g.goal == goal)?.series)))
        .collect();
    let mut days: Vec<chrono::NaiveDate> = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|d| d.day))
        .collect();
    days.sort();
    days.dedup();
    let max = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|d| d.rate.high))
        .fold(0.01_f64, f64::max)
        .min(1.0);
    let x = |day: chrono::NaiveDate| {
        let i = days.iter().position(|d| *d == day).unwrap_or(0) as f64;
        let n = (days.len().max(2) - 1) as f64;
        left + (w - left - right) * i / n
    };
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / max);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"conversion to {} over time\">",
        esc(goal)
    );
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        svg.push_str(&format!(
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e5e7eb\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{:.1}%</text>",
            w - right,
            left - 4.0,
            y(v) + 3.0,
            v * 100.0,
            y = y(v)
        ));
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        svg.push_str(&format!(
            "<text x=\"{left}\" y=\"{}\" font-size=\"10\">{first}</text><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{last}</text>",
            h - 8.0,
            w - right,
            h - 8.0
        ));
    }
    for (i, (arm, s)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        if s.is_empty() {
            continue;
        }
        let upper: Vec<String> = s
            .iter()
            .map(|d| format!("{:.1},{:.1}", x(d.day), y(d.rate.high)))
            .collect();
        let lower: Vec<String> = s
            .iter()
            .rev()
            .map(|d| format!("{:.1},{:.1}", x(d.day), y(d.rate.low)))
            .collect();
        svg.push_str(&format!(
            "<polygon points=\"{} {}\" fill=\"{colour}\" fill-opacity=\"0.15\" class=\"band\"/>",
            upper.join(" "),
            lower.join(" ")
        ));
        let line: Vec<String> = s
            .iter()
            .map(|d| format!("{:.1},{:.1}", x(d.day), y(d.rate.rate)))
            .collect();
        svg.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" class=\"rate\" data-arm=\"{}\"/>",
            line.join(" "),
            esc(&arm.arm)
        ));
    }
    svg.push_str("</svg>");
    let legend: Vec<String> = series
        .iter()
        .enumerate()
        .map(|(i, (a, _))| {
            format!(
                "<span><i style=\"background:{}\"></i>{}{}</span>",
                COLOURS[i % COLOURS.len()],
                esc(&a.arm),
                if a.control && a.arm != "control" {
                    " (control)"
                } else {
                    ""
                }
            )
        })
        .collect();
    format!(
        "<figure>{svg}<figcaption>{}</figcaption></figure>",
        legend.join(" ")
    )
}

/// A table as HTML.
fn html_table<R: AsRef<[String]>>(rows: &[R]) -> String {
    let mut t = String::from("<table>");
    for (i, row) in rows.iter().enumerate() {
        t.push_str("<tr>");
        for cell in row.as_ref() {
            let tag = if i == 0 { "th" } else { "td" };
            t.push_str(&format!("<{tag}>{}</{tag}>", esc(cell)));
        }
        t.push_str("</tr>");
    }
    t.push_str("</table>");
    t
}

/// The report as a self-contained HTML page.
fn html(r: &Report) -> String {
    let mut body = String::new();
    body.push_str("<h2>Workflows</h2>");
    body.push_str(&html_table(&workflow_rows(r)));
    let mut splits: Vec<(String, String)> = r
        .arms
        .iter()
        .map(|a| (a.workflow.clone(), a.split.clone()))
        .collect();
    splits.dedup();
    for (workflow, split) in &splits {
        let arms: Vec<&ArmRow> = r
            .arms
            .iter()
            .filter(|a| a.workflow == *workflow && a.split == *split)
            .collect();
        body.push_str(&format!(
            "<section class=\"split\"><h2>{} / split {}</h2>",
            esc(workflow),
            esc(split)
        ));
        let rows = arm_rows(&arms);
        body.push_str(&html_table(&rows));
        let goals: Vec<String> = arms
            .first()
            .map(|a| a.goals.iter().map(|g| g.goal.clone()).collect())
            .unwrap_or_default();
        for goal in goals {
            body.push_str(&format!("<h3>Conversion to {} over time</h3>", esc(&goal)));
            body.push_str(&chart(&arms, &goal));
        }
        body.push_str("</section>");
    }
    if !r.messages.is_empty() {
        body.push_str("<h2>Messages</h2>");
        body.push_str(&html_table(&message_rows(r)));
    }
    if !r.engagement.is_empty() {
        body.push_str("<h2>After sending</h2>");
        body.push_str(&html_table(&engagement_rows(r)));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Nudge report</title><style>\
body{{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#111827}}\
table{{border-collapse:collapse;margin:.5rem 0 1rem}}\
td,th{{border-bottom:1px solid #e5e7eb;padding:.25rem .75rem;text-align:left;white-space:nowrap}}\
th{{font-weight:600;background:#f9fafb}}\
figcaption span{{margin-right:1rem}}figcaption i{{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}}\
</style></head><body><h1>Nudge report</h1>{body}<p><small>Rates with 95% Wilson intervals; differences with always-valid 95% intervals (mSPRT, see docs/measurement.md).</small></p></body></html>\n"
    )
}

/// Runs `nudge report`.
pub fn run(args: &Args) -> Exit {
    if let Some(server) = &args.server {
        let report = match from_server(args, server) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Failure;
            }
        };
        return match print(&report, args.format) {
            Ok(()) => Exit::Ok,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok,
            Err(e) => {
                eprintln!("error: cannot write the report: {e}");
                Exit::Failure
            }
        };
    }
    let Some(records) = &args.records else {
        eprintln!("error: give a record log, or --server");
        return Exit::Failure;
    };
    let name = records.display().to_string();
    let reader: Box<dyn std::io::BufRead> = if name == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(records) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => {
                eprintln!("error: cannot read `{name}`: {e}");
                return Exit::Failure;
            }
        }
    };
    let mut tally = Tally::new();
    let mut bad = 0usize;
    for (i, line) in reader.lines().enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot read `{name}`: {e}");
                return Exit::Failure;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(v) if tally.json(&v) => {}
            Ok(_) => {
                bad += 1;
                eprintln!("{name}:{}: not a record (no `kind`)", i + 1);
            }
            Err(e) => {
                bad += 1;
                eprintln!("{name}:{}: not JSON: {e}", i + 1);
            }
        }
    }
    let report = tally.report();
    if let Err(e) = print(&report, args.format) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write the report: {e}");
            return Exit::Failure;
        }
    }
    if bad > 0 {
        eprintln!(
            "{bad} line{} of `{name}` skipped",
            if bad == 1 { "" } else { "s" }
        );
    }
    Exit::problems_if(bad > 0)
}

/// A share as a percentage with one decimal.
fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A rate: `12.0% (9.4–15.2%)`.
fn rate(r: &Rate) -> String {
    format!(
        "{} ({:.1}–{:.1}%)",
        percent(r.rate),
        r.low * 100.0,
        r.high * 100.0
    )
}

/// An arm's comparison with the control, and the decision.
fn versus(arm: &ArmRow, goal: usize) -> (String, String) {
    let Some(g) = arm.goals.get(goal) else {
        return (String::new(), String::new());
    };
    let Some(c) = g.comparison else {
        return if arm.control {
            ("—".into(), "control".into())
        } else {
            ("—".into(), "too early".into())
        };
    };
    let points = |x: f64| format!("{:+.1}", x * 100.0);
    let lift = c
        .lift
        .map(|l| format!(", lift {:+.0}%", l * 100.0))
        .unwrap_or_default();
    let difference = if c.decision == Decision::TooEarly {
        format!("{} pts{lift}", points(c.difference))
    } else {
        format!(
            "{} pts ({} to {}){lift}",
            points(c.difference),
            points(c.low),
            points(c.high)
        )
    };
    let decision = match c.decision {
        Decision::TooEarly => "too early".to_owned(),
        Decision::Better => "better".to_owned(),
        Decision::Worse => "worse".to_owned(),
        Decision::NotYetDecided => match c.more_entries {
            Some(n) => format!("not yet decided (about {n} more entries)"),
            None => "not yet decided".to_owned(),
        },
    };
    (difference, decision)
}

/// The workflow table's rows, header first.
fn workflow_rows(r: &Report) -> Vec<[String; 6]> {
    let mut rows = vec![[
        "WORKFLOW",
        "ENTERED",
        "EXITED",
        "COMPLETED",
        "MESSAGES",
        "GOALS",
    ]
    .map(str::to_owned)];
    for w in &r.workflows {
        let goals: Vec<String> = w
            .counts
            .goals
            .iter()
            .map(|(g, n)| format!("{g} {n}"))
            .collect();
        rows.push([
            w.workflow.clone(),
            w.counts.entered.to_string(),
            w.counts.exited.to_string(),
            w.counts.completed.to_string(),
            w.counts.messages.to_string(),
            goals.join(", "),
        ]);
    }
    rows
}

/// The arm table's rows, header first: a row per arm and goal, the split
/// named on its first row.
fn arm_rows(arms: &[&ArmRow]) -> Vec<[String; 9]> {
    let mut rows = vec![[
        "SPLIT",
        "ARM",
        "ENTERED",
        "MESSAGES",
        "GOAL",
        "CONVERTED",
        "RATE (95%)",
        "VS CONTROL (always valid 95%)",
        "DECISION",
    ]
    .map(str::to_owned)];
    let mut last_split = String::new();
    for a in arms {
        let split = format!("{}/{}", a.workflow, a.split);
        let shown = if split == last_split {
            String::new()
        } else {
            split.clone()
        };
        last_split = split;
        if a.goals.is_empty() {
            rows.push([
                shown,
                a.arm.clone(),
                a.entered.to_string(),
                a.messages.to_string(),
                "-".into(),
                String::new(),
                String::new(),
                String::new(),
                if a.control {
                    "control".into()
                } else {
                    String::new()
                },
            ]);
            continue;
        }
        for (i, g) in a.goals.iter().enumerate() {
            let (difference, decision) = versus(a, i);
            let first = i == 0;
            rows.push([
                if first { shown.clone() } else { String::new() },
                if first { a.arm.clone() } else { String::new() },
                if first {
                    a.entered.to_string()
                } else {
                    String::new()
                },
                if first {
                    a.messages.to_string()
                } else {
                    String::new()
                },
                g.goal.clone(),
                g.rate.converted.to_string(),
                rate(&g.rate),
                difference,
                decision,
            ]);
        }
    }
    rows
}

/// The message table's rows, header first.
fn message_rows(r: &Report) -> Vec<[String; 4]> {
    let mut rows = vec![["WORKFLOW", "CHANNEL", "MESSAGE", "SENT"].map(str::to_owned)];
    for m in &r.messages {
        rows.push([
            m.workflow.clone(),
            m.channel.clone(),
            m.message.clone(),
            m.counts.sent.to_string(),
        ]);
    }
    rows
}

/// A count and its share of `of`: `12 (34.5%)`.
fn share(n: u64, of: u64) -> String {
    if of == 0 || n == 0 {
        n.to_string()
    } else {
        format!("{n} ({:.1}%)", n as f64 * 100.0 / of as f64)
    }
}

/// The engagement table's rows, header first.
fn engagement_rows(r: &Report) -> Vec<[String; 11]> {
    let mut rows = vec![[
        "WORKFLOW",
        "CHANNEL",
        "TEMPLATE",
        "SENT",
        "FAILED",
        "SUPPRESSED",
        "DELIVERED",
        "BOUNCED",
        "OPENED",
        "CLICKED",
        "UNSUBSCRIBED",
    ]
    .map(str::to_owned)];
    for m in &r.engagement {
        rows.push([
            m.workflow.clone(),
            m.channel.clone(),
            if m.template.is_empty() {
                "(inline)".to_owned()
            } else {
                m.template.clone()
            },
            m.sent.to_string(),
            m.failed.to_string(),
            m.suppressed.to_string(),
            share(m.delivered, m.sent),
            share(m.bounced, m.sent),
            share(m.opened, m.sent),
            share(m.clicked, m.sent),
            share(m.unsubscribed, m.sent),
        ]);
    }
    rows
}

/// The tables.
fn write_report(out: &mut dyn std::io::Write, r: &Report) -> std::io::Result<()> {
    write_rows(out, &workflow_rows(r))?;
    if !r.arms.is_empty() {
        writeln!(out)?;
        let arms: Vec<&ArmRow> = r.arms.iter().collect();
        write_rows(out, &arm_rows(&arms))?;
    }
    if !r.messages.is_empty() {
        writeln!(out)?;
        write_rows(out, &message_rows(r))?;
    }
    if !r.engagement.is_empty() {
        writeln!(out)?;
        write_rows(out, &engagement_rows(r))?;
    }
    Ok(())
}
