//! Parser throughput on a generated 100 000-line project.
//!
//! `cargo bench -p nudge-syntax --bench parse` prints, for the best of a few
//! runs: the project parsed file by file, the same text as one file, and one
//! file with a syntax error near its end (error recovery and the detailed
//! re-parse that names the expected tokens). Figures are recorded in
//! `docs/performance.md`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nudge_syntax::{parse, SourceFile};

/// Lines in the generated project (`NUDGE_BENCH_LINES` overrides).
const TARGET_LINES: usize = 100_000;
/// Timed runs; the best is reported (`NUDGE_BENCH_RUNS` overrides).
const RUNS: usize = 7;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let files = project(setting("NUDGE_BENCH_LINES", TARGET_LINES));
    let lines: usize = files.iter().map(|f| f.lines().count()).sum();
    let bytes: usize = files.iter().map(String::len).sum();
    println!(
        "generated project: {} files, {lines} lines, {:.2} MB",
        files.len(),
        bytes as f64 / 1e6
    );

    // Sanity: every generated file parses cleanly.
    for (i, f) in files.iter().enumerate() {
        let parsed = parse(Arc::new(SourceFile::new(format!("m{i}.flow"), f.as_str())));
        if !parsed.is_ok() {
            eprintln!(
                "generated file m{i}.flow does not parse:\n{}",
                nudge_syntax::render_plain(&parsed.diagnostics, 100)
            );
            std::process::exit(1);
        }
    }

    let sources: Vec<Arc<SourceFile>> = files
        .iter()
        .enumerate()
        .map(|(i, f)| Arc::new(SourceFile::new(format!("m{i}.flow"), f.as_str())))
        .collect();
    let project_time = best(|| {
        for s in &sources {
            black_box(parse(s.clone()));
        }
    });
    report("project, file by file", lines, bytes, project_time);

    let whole: String = files.concat();
    let whole_src = Arc::new(SourceFile::new("all.flow", whole.as_str()));
    let whole_time = best(|| {
        black_box(parse(whole_src.clone()));
    });
    report("project as one file", lines, bytes, whole_time);

    // One mistake near the end of the one big file: the whole parse fails,
    // recovery re-parses every declaration, and the failing one is parsed a
    // third time with pest's token tracking on.
    let cut = whole.rfind("  wait 1d\n").unwrap_or(whole.len() / 2);
    let broken = format!(
        "{}  wait soon\n{}",
        &whole[..cut],
        &whole[cut + "  wait 1d\n".len()..]
    );
    let broken_src = Arc::new(SourceFile::new("broken.flow", broken.as_str()));
    let parsed = parse(broken_src.clone());
    println!(
        "broken file: {} diagnostic(s), {} declarations recovered",
        parsed.diagnostics.len(),
        parsed.file.items.len()
    );
    let broken_time = best(|| {
        black_box(parse(broken_src.clone()));
    });
    report("one file with one error", lines, broken.len(), broken_time);
    println!(
        "error cost: {:.1} ms over the clean parse ({:.2}x)",
        (broken_time.as_secs_f64() - whole_time.as_secs_f64()) * 1e3,
        broken_time.as_secs_f64() / whole_time.as_secs_f64()
    );

    // The same mistake with nothing to recover at (every line indented):
    // the whole file fails once, then is parsed again with pest's token
    // tracking on to name what was expected. The difference to the clean
    // parse is the cost of that detailed re-parse on 100 000 lines.
    let indented: String = broken.lines().map(|l| format!(" {l}\n")).collect();
    let indented_src = Arc::new(SourceFile::new("indented.flow", indented.as_str()));
    let indented_time = best(|| {
        black_box(parse(indented_src.clone()));
    });
    report(
        "same, nothing to recover at",
        lines,
        indented.len(),
        indented_time,
    );
    println!(
        "detailed re-parse of the whole file: {:.1} ms ({:.2}x the clean parse)",
        (indented_time.as_secs_f64() - whole_time.as_secs_f64()) * 1e3,
        indented_time.as_secs_f64() / whole_time.as_secs_f64()
    );

    // The same mistake in a 100-line file: what a user waits for.
    let small: String = whole.lines().take(100).collect::<Vec<_>>().join("\n");
    let small_broken = small.replacen("  wait 1d", "  wait soon", 1);
    let small_src = Arc::new(SourceFile::new("small.flow", small_broken.as_str()));
    let small_time = best(|| {
        black_box(parse(small_src.clone()));
    });
    println!(
        "100-line file with one error: {:.3} ms",
        small_time.as_secs_f64() * 1e3
    );
}

fn best(mut f: impl FnMut()) -> Duration {
    f(); // warm up
    (0..setting("NUDGE_BENCH_RUNS", RUNS))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn report(what: &str, lines: usize, bytes: usize, time: Duration) {
    let secs = time.as_secs_f64();
    println!(
        "{what:<28} {:>8.1} ms  {:>10.0} lines/s  {:>6.1} MB/s",
        secs * 1e3,
        lines as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
}

/// A project of about `target` lines: one schema file, then modules of
/// segments, templates, workflows and tests, each with unique names.
fn project(target: usize) -> Vec<String> {
    let mut files = vec![schema()];
    let mut lines = files[0].lines().count();
    let mut n = 0;
    while lines < target {
        let m = module(n);
        lines += m.lines().count();
        files.push(m);
        n += 1;
    }
    files
}

fn schema() -> String {
    let mut s = String::from(
        "// The data model.\n\n/// Plans.\nenum Plan { starter, pro, enterprise }\n\n\
         enum Source { search, friend, ad, other }\n\n\
         /// What we know about a customer.\nprofile {\n  /// Where emails go.\n  email: email?\n  phone: phone?\n  \
         push_token: string?\n  first_name: string?\n  plan: Plan\n  tags: [string]\n  timezone: timezone = \"UTC\"\n  \
         score: int = 0\n  created_at: time\n}\n\n",
    );
    for e in [
        "login",
        "account_created",
        "feature_used",
        "order_completed",
        "plan_upgraded",
        "checkout_abandoned",
    ] {
        s.push_str(&format!(
            "/// `{e}` as sent by the app.\nevent {e} {{\n  plan_type: Plan?\n  source: Source?\n  total: float\n  \
             first_time: bool\n  feature: string\n  count: int\n}}\n\n"
        ));
    }
    s
}

fn module(n: usize) -> String {
    format!(
        r#"// Module {n}: segments, templates, a workflow and its tests.

/// Paying customers, cohort {n}.
segment paid_{n} = profile.plan in [pro, enterprise] and profile.score >= {n}

/// Customers who went quiet.
segment stalled_{n} = in paid_{n}
  and did account_created
  and not did feature_used where event.first_time == true times >= 3 within 14d
  and inactive for 7d
  and (profile.first_name ?? "x") != "x"
  and profile.created_at < 30d ago
  and profile.phone is not none

template welcome_{n}: email for account_created {{
  subject: "Welcome to the shop, {{profile.first_name ?? "friend"}}"
  text: "Your {{event.plan_type}} account is ready; {{{{literal braces}}}} too.\n"
  html: file("templates/welcome.html")
}}

template nudge_{n}: push {{
  title: "Still there?"
  body: "Your cart of {{event.total}} is waiting"
}}

/// Onboarding, variant {n}.
workflow onboarding_{n} {{
  on account_created where event.plan_type != none, inactive for 5d
  audience in paid_{n} or profile.email != none
  exit on plan_upgraded, order_completed where event.total > 100.0
  entry once per 30d
  goal activated = feature_used where event.first_time within 7d
  priority marketing

  split subject_{n} {{
    50%: send email welcome_{n}
    25%: {{
      send email welcome_{n} {{ subject: "Hello again" }}
      wait 1h
    }}
    25%: send sms "Welcome, {{profile.first_name ?? "friend"}}"
  }}
  wait 1d
  if not did feature_used since entry {{
    send push nudge_{n}
  }} else if profile.score > 10 {{
    send in_app {{ title: "Tips", body: "Try reports" }}
  }} else {{
    wait until 09:00 local on monday
  }}
  wait until 18:30 in "Europe/Berlin" on day 5
  wait for feature_used where event.count >= 2 within 3d
    then {{ send webhook {{ url: "https://example.com/hook/{n}" }} }}
    else {{ exit }}
  escalate until order_completed {{
    email welcome_{n}
    after 24h push nudge_{n} if profile.push_token is not none
    after 2d sms "Last call" if profile.phone != none
  }}
  wait 2h30m
  send email welcome_{n}
}}

test "onboarding {n}: a new account is welcomed" {{
  given profile "u{n}" {{ email: "a{n}@example.com", first_name: "Ada", plan: pro, created_at: 2026-01-01T00:00:00Z }}
  given "u{n}" did login {{ feature: "x" }} at 2026-02-01T00:00:00Z
  at 2026-03-02T10:00:00Z "u{n}" does account_created {{ plan_type: pro, total: 1.5 }}
  at +2h "u{n}" identify {{ plan: enterprise }}
  at +1d "u{n}" does feature_used
  expect 1 email welcome_{n} to "u{n}" at +0s
  expect no message to "u{n}" between +3h and +1d
  expect push to "u{n}" within 2d with title "Still there?"
  expect "u{n}" entered onboarding_{n}
  expect "u{n}" is in onboarding_{n}
}}

test "onboarding {n}: buyers leave" {{
  given profile "v{n}" {{ email: "b{n}@example.com", plan: starter, created_at: 2026-01-01T00:00:00Z }}
  at 2026-03-02T10:00:00Z "v{n}" does account_created {{ plan_type: starter, total: 0.0 }}
  at +30m "v{n}" does order_completed {{ total: 300.0 }}
  expect "v{n}" exited onboarding_{n}
  expect "v{n}" reached goal activated
  expect "v{n}" did not enter stalled_{n}
  expect 2 messages to "v{n}"
}}

"#
    )
}
