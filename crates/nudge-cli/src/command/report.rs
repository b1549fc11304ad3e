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
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
    }
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
        return ("—".into(), "control".into());
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

/// The three tables.
fn write_report(out: &mut dyn std::io::Write, r: &Report) -> std::io::Result<()> {
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
    write_rows(out, &rows)?;
    if !r.arms.is_empty() {
        writeln!(out)?;
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
        for a in &r.arms {
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
        write_rows(out, &rows)?;
    }
    if !r.messages.is_empty() {
        writeln!(out)?;
        let mut rows = vec![["WORKFLOW", "CHANNEL", "MESSAGE", "SENT"].map(str::to_owned)];
        for m in &r.messages {
            rows.push([
                m.workflow.clone(),
                m.channel.clone(),
                m.message.clone(),
                m.counts.sent.to_string(),
            ]);
        }
        write_rows(out, &rows)?;
    }
    Ok(())
}
