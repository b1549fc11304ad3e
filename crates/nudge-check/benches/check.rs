//! Parse + check throughput on a generated, valid 100 000-line project.
//!
//! `cargo bench -p nudge-check --bench check` prints the best of a few runs
//! of parsing alone and of parsing plus checking (name resolution, types,
//! narrowing, template files, lints). Figures are recorded in
//! `docs/performance.md`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nudge_check::{check_project, TemplateLoader};
use nudge_syntax::{parse, render_plain, SourceFile};

/// Lines in the generated project.
const TARGET_LINES: usize = 100_000;
/// Timed runs; the best is reported.
const RUNS: usize = 7;

/// Serves the one template file the modules name, from memory.
struct MemoryLoader;

impl TemplateLoader for MemoryLoader {
    fn load(&self, _path: &Path) -> std::io::Result<String> {
        Ok(
            "<h1>Welcome{% if profile.first_name %}, {{ profile.first_name }}{% endif %}!</h1>\n\
            <p>Your {{ event.plan_type }} account is ready.</p>\n"
                .to_owned(),
        )
    }
}

fn main() {
    let files = project(TARGET_LINES);
    let lines: usize = files.iter().map(|f| f.lines().count()).sum();
    let bytes: usize = files.iter().map(String::len).sum();
    println!(
        "generated project: {} files, {lines} lines, {:.2} MB",
        files.len(),
        bytes as f64 / 1e6
    );
    let sources: Vec<Arc<SourceFile>> = files
        .iter()
        .enumerate()
        .map(|(i, f)| Arc::new(SourceFile::new(format!("m{i:05}.flow"), f.as_str())))
        .collect();

    // Sanity: the project checks without a single diagnostic.
    let checked = check_project(&sources, &MemoryLoader);
    if !checked.diagnostics.is_empty() {
        let shown: Vec<_> = checked.diagnostics.iter().take(5).cloned().collect();
        eprintln!(
            "the generated project has {} diagnostics:\n{}",
            checked.diagnostics.len(),
            render_plain(&shown, 100)
        );
        std::process::exit(1);
    }
    let program = checked.program.unwrap_or_else(|| std::process::exit(1));
    println!(
        "checked: {} workflows, {} templates, {} segments",
        program.workflows.len(),
        program.templates.len(),
        program.segments.len()
    );

    // Interleaved, so that a busy machine slows both alike; best of each.
    let mut parse_time = Duration::MAX;
    let mut check_time = Duration::MAX;
    for _ in 0..RUNS {
        parse_time = parse_time.min(time(|| {
            for s in &sources {
                black_box(parse(s.clone()));
            }
        }));
        check_time = check_time.min(time(|| {
            black_box(check_project(&sources, &MemoryLoader));
        }));
    }
    report("parse", lines, parse_time);
    report("parse + check", lines, check_time);
    println!(
        "checking alone: about {:.1} ms",
        (check_time.as_secs_f64() - parse_time.as_secs_f64()) * 1e3
    );
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn report(what: &str, lines: usize, time: Duration) {
    let secs = time.as_secs_f64();
    println!(
        "{what:<16} {:>8.1} ms  {:>10.0} lines/s",
        secs * 1e3,
        lines as f64 / secs
    );
}

/// About `target` lines: a schema file, then modules with unique names.
fn project(target: usize) -> Vec<String> {
    let mut files = vec![SCHEMA.to_owned()];
    let mut lines = SCHEMA.lines().count();
    let mut n = 0;
    while lines < target {
        let m = MODULE.replace("@N", &n.to_string());
        lines += m.lines().count();
        files.push(m);
        n += 1;
    }
    files
}

const SCHEMA: &str = r#"// The data model.

/// Plans.
enum Plan { starter, pro, enterprise }

enum Source { search, friend, ad, other }

/// What we know about a customer.
profile {
  /// Where emails go.
  email: email?
  phone: phone?
  push_token: string?
  first_name: string?
  plan: Plan
  tags: [string]
  timezone: timezone = "UTC"
  score: int = 0
  created_at: time
}

event login { plan_type: Plan?, source: Source?, total: float, first_time: bool, feature: string, count: int }
event account_created { plan_type: Plan?, source: Source?, total: float, first_time: bool, feature: string, count: int }
event feature_used { plan_type: Plan?, source: Source?, total: float, first_time: bool, feature: string, count: int }
event order_completed { plan_type: Plan?, source: Source?, total: float, first_time: bool, feature: string, count: int }
event plan_upgraded { plan_type: Plan?, source: Source?, total: float, first_time: bool, feature: string, count: int }
"#;

const MODULE: &str = r#"// Module @N: segments, templates, a workflow and its test.

/// Paying customers, cohort @N.
segment paid_@N = profile.plan in [pro, enterprise] and profile.score >= @N

/// Customers who went quiet.
segment stalled_@N = in paid_@N
  and did login
  and not did feature_used where event.first_time == true times >= 3 within 14d
  and inactive for 7d
  and (profile.first_name ?? "x") != "x"
  and profile.created_at < 30d ago
  and profile.phone is not none

template welcome_@N: email for account_created {
  subject: "Welcome to the shop, {profile.first_name ?? "friend"}"
  text: "Your {event.feature} account is ready; {{literal braces}} too."
  html: file("templates/welcome.html")
}

template nudge_@N: push for account_created {
  title: "Still there?"
  body: "Your cart of {event.total} is waiting"
}

/// Onboarding, variant @N.
workflow onboarding_@N {
  on account_created where event.plan_type != none
  audience (in stalled_@N or in paid_@N) and profile.email != none
  exit on plan_upgraded, order_completed where event.total > 100.0
  entry once per 30d
  goal activated = plan_upgraded where event.first_time within 30d
  priority marketing

  split subject_@N {
    50%: send email welcome_@N
    25%: {
      send email welcome_@N { subject: "Hello again" }
      wait 1h
    }
    25%: if profile.phone != none { send sms "Welcome, {profile.first_name ?? "friend"}" }
  }
  wait 1d
  if not did feature_used since entry {
    if profile.push_token != none { send push nudge_@N }
  } else if profile.score > 10 {
    send in_app { title: "Tips", body: "Try reports" }
  } else {
    wait until 09:00 local on monday
  }
  wait until 18:30 in "Europe/Berlin" on day 9
  wait for feature_used where event.count >= 2 within 3d
    then { send webhook { url: "https://example.com/hook/@N", body: { user: profile.id, total: feature_used.total } } }
    else { exit }
  escalate until order_completed {
    email welcome_@N
    after 1d push nudge_@N if profile.push_token != none
    after 1d sms "Last call" if profile.phone != none
  }
}

test "module @N welcomes" {
  given profile "u@N" { email: "u@N@example.com", plan: pro, tags: [], created_at: 2026-01-01T00:00:00Z }
  at 2026-03-01T10:00:00Z "u@N" does account_created { plan_type: pro, total: 1.0, first_time: true, feature: "x", count: 1 }
  at +1h "u@N" does feature_used { total: 2.0, first_time: false, feature: "reports", count: 2 }
  expect email welcome_@N to "u@N" at +0s
  expect "u@N" entered onboarding_@N
}
"#;
