//! The project of the checker benchmark: a schema file and modules of 68
//! lines with unique names (segments, templates, a workflow using every
//! statement, a test block). Shared by `check.rs` here and the language
//! server's benchmark (`crates/nudge-cli/benches/lsp.rs`).

/// About `target` lines: a schema file, then modules with unique names.
pub fn project(target: usize) -> Vec<String> {
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
