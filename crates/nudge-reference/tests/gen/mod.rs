//! Random projects and traces for the differential tests.
//!
//! Everything is drawn from a list of choices ([`Choices`]): a case is its
//! list, so a failing case shrinks by cutting and lowering choices (a
//! choice past the end reads as 0, the simplest option), and is written
//! out as the `.flow` text and trace it stands for.

#![allow(dead_code)]

use std::fmt::Write as _;

/// The next number of a splitmix64 sequence.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A source of choices: recorded from a seed, or replayed from a list.
#[derive(Clone, Debug)]
pub struct Choices {
    pub list: Vec<u32>,
    pos: usize,
    rng: Option<u64>,
}

impl Choices {
    /// Fresh choices from a seed (recorded as they are drawn).
    pub fn seeded(seed: u64) -> Self {
        Choices {
            list: Vec::new(),
            pos: 0,
            rng: Some(seed ^ 0x9e37_79b9_7f4a_7c15),
        }
    }

    /// Replays a list (0 past its end).
    pub fn replay(list: Vec<u32>) -> Self {
        Choices {
            list,
            pos: 0,
            rng: None,
        }
    }

    fn next_raw(&mut self) -> u32 {
        if let Some(state) = &mut self.rng {
            let v = (splitmix(state) >> 32) as u32;
            self.list.push(v);
            self.pos += 1;
            return v;
        }
        let v = self.list.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }

    /// A number below `n` (0 is the simplest).
    pub fn below(&mut self, n: u32) -> u32 {
        self.next_raw() % n.max(1)
    }

    /// True with probability `percent`% (false is the simplest).
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) >= 100 - percent
    }

    /// One of `items` (the first is the simplest).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u32) as usize]
    }
}

/// Zones with unusual rules: a gap that crosses midnight (Nuuk), 30-minute
/// DST (Lord Howe), negative DST (Dublin), +12:45 (Chatham), a two-hour
/// change (Troll), no DST (Kolkata).
pub const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/Nuuk",
    "Australia/Lord_Howe",
    "Europe/Dublin",
    "Pacific/Chatham",
    "Antarctica/Troll",
    "Asia/Kolkata",
    "America/New_York",
    "America/Santiago",
];

/// Trace starts a few days before clock changes of those zones.
pub const STARTS: &[&str] = &[
    "2026-03-26T18:00:00Z",
    "2026-10-22T18:00:00Z",
    "2026-04-02T08:00:00Z",
    "2026-09-24T08:00:00Z",
    "2026-03-05T12:00:00Z",
    "2026-01-10T09:00:00Z",
    // Within the hour before a change: Nuuk (Saturday 23:00 -> Sunday
    // 00:00 at 01:00Z), Berlin, Dublin and Troll (01:00Z), Lord Howe
    // (15:00Z) and Chatham (14:00Z) on 2026-04-04, Berlin back in October.
    "2026-03-29T00:20:00Z",
    "2026-03-28T23:50:00Z",
    "2026-04-04T13:40:00Z",
    "2026-10-25T00:15:00Z",
];

pub const SCHEMA: &str = r#"enum Plan { free, pro }

profile {
  email: email?
  phone: phone?
  push_token: string?
  plan: Plan = free
  score: int = 0
  timezone: timezone = "UTC"
  due: time?
}

event a { n: int }
event b { n: int }
event c {}
event buy { total: float }
"#;

/// The schema with a required attribute, so that entries wait for it.
fn schema_required() -> String {
    SCHEMA.replace(
        "  timezone: timezone = \"UTC\"\n",
        "  timezone: timezone = \"UTC\"\n  name: string\n",
    )
}

fn duration(c: &mut Choices) -> &'static str {
    c.pick(&[
        "1h", "30m", "2h", "1d", "45m", "3h", "2d", "12h", "5m", "1d6h",
    ])
}

fn long_duration(c: &mut Choices) -> &'static str {
    c.pick(&["1d", "2d", "12h", "3d", "5d", "1d12h", "7d", "6h"])
}

fn time_of_day(c: &mut Choices) -> String {
    let hours = [9u32, 23, 0, 2, 1, 22, 3, 12, 20, 7];
    let h = c.pick(&hours);
    let m = c.pick(&[0u32, 30, 10, 45, 59, 15]);
    format!("{h:02}:{m:02}")
}

/// A date trigger on `profile.due`: with or without an offset, a time of
/// day and a zone, once or every year.
fn date_trigger(c: &mut Choices) -> String {
    let at = c.chance(50);
    let mut t = String::new();
    if c.chance(60) {
        let d = if at {
            c.pick(&["1d", "2d", "3d", "0d"])
        } else {
            duration(c)
        };
        let side = c.pick(&["before", "after"]);
        t.push_str(&format!("{d} {side} "));
    }
    if c.chance(30) {
        t.push_str("anniversary of ");
    }
    t.push_str("profile.due");
    if at {
        t.push_str(&format!(" at {} {}", time_of_day(c), zone_clause(c)));
    }
    t
}

fn zone_clause(c: &mut Choices) -> String {
    if c.chance(40) {
        format!("in \"{}\"", c.pick(ZONES))
    } else {
        "local".to_owned()
    }
}

/// A condition on the profile and history (no `event.`).
fn condition(c: &mut Choices) -> String {
    match c.below(10) {
        0 => "profile.plan == pro".to_owned(),
        1 => format!("profile.score > {}", c.below(4)),
        2 => format!("did b within {}", long_duration(c)),
        3 => "not did c".to_owned(),
        4 => format!(
            "did a times >= {} within {}",
            1 + c.below(3),
            long_duration(c)
        ),
        5 => "did a since entry".to_owned(),
        6 => format!("inactive for {}", duration(c)),
        7 => "did a where event.n > 2".to_owned(),
        // The latest `b`: kept in the history however old.
        8 => format!("(last.b.n ?? 0) > {}", c.below(4)),
        9 => format!(
            "(profile.due ?? 1d ago) - {} < {} ago",
            duration(c),
            duration(c)
        ),
        _ => "profile.plan != pro".to_owned(),
    }
}

struct Body<'a> {
    c: &'a mut Choices,
    out: String,
    sends: u32,
    splits: u32,
    workflow: String,
    /// Channels whose address the audience guarantees.
    narrowed: Vec<&'static str>,
    in_entry_cond: bool,
}

impl Body<'_> {
    fn content(&mut self, channel: &str) -> String {
        self.sends += 1;
        let tag = format!("{}#{}", self.workflow, self.sends);
        match channel {
            "email" => format!("{{ subject: \"{tag}\", text: \"hi {{profile.id}} {{profile.score}}\" }}"),
            "push" => format!("{{ title: \"{tag}\", body: \"push {{profile.plan}}\" }}"),
            "sms" => format!("\"{tag} sms\""),
            "in_app" => format!("\"{tag} inbox\""),
            _ => format!("{{ url: \"https://example.com/hook\", body: {{ user: profile.id, tag: \"{tag}\" }} }}"),
        }
    }

    fn address_guard(channel: &str) -> Option<&'static str> {
        match channel {
            "email" => Some("profile.email != none"),
            "push" => Some("profile.push_token != none"),
            "sms" => Some("profile.phone != none"),
            _ => None,
        }
    }

    fn send(&mut self, indent: &str) {
        let channel = self.c.pick(&["email", "in_app", "push", "sms", "webhook"]);
        let content = self.content(channel);
        match Self::address_guard(channel) {
            Some(guard) if !self.narrowed.contains(&channel) => {
                let _ = writeln!(self.out, "{indent}if {guard} {{");
                let _ = writeln!(self.out, "{indent}  send {channel} {content}");
                let _ = writeln!(self.out, "{indent}}}");
            }
            _ => {
                let _ = writeln!(self.out, "{indent}send {channel} {content}");
            }
        }
    }

    fn block(&mut self, indent: &str, depth: u32, len: u32) {
        for _ in 0..len {
            self.statement(indent, depth);
        }
    }

    fn statement(&mut self, indent: &str, depth: u32) {
        let deeper = format!("{indent}  ");
        let kinds = if depth >= 2 { 4 } else { 12 };
        match self.c.below(kinds) {
            0 | 1 => self.send(indent),
            2 => {
                let d = duration(self.c);
                let _ = writeln!(self.out, "{indent}wait {d}");
            }
            3 => {
                let t = time_of_day(self.c);
                let z = zone_clause(self.c);
                let day = match self.c.below(3) {
                    0 => String::new(),
                    1 => format!(
                        " on {}",
                        self.c.pick(&["saturday", "sunday", "monday", "friday"])
                    ),
                    _ => format!(" on day {}", self.c.below(3)),
                };
                if self.c.chance(30) {
                    // An instant, or its day at a time, from the due date.
                    let off = duration(self.c);
                    let sign = self.c.pick(&["+", "-"]);
                    let clock = if self.c.chance(50) {
                        format!(" at {t} {z}")
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        self.out,
                        "{indent}wait until (profile.due ?? 2h ago) {sign} {off}{clock}"
                    );
                } else {
                    let _ = writeln!(self.out, "{indent}wait until {t} {z}{day}");
                }
            }
            4 => {
                let e = self.c.pick(&["b", "buy", "c"]);
                let filter = if e == "b" && self.c.chance(50) {
                    " where event.n > 1"
                } else {
                    ""
                };
                let d = duration(self.c);
                let _ = writeln!(self.out, "{indent}wait for {e}{filter} within {d}");
                let _ = writeln!(self.out, "{indent}  then {{");
                let n = self.c.below(3);
                self.block(&format!("{deeper}  "), depth + 1, n);
                let _ = writeln!(self.out, "{indent}  }}");
                let _ = writeln!(self.out, "{indent}  else {{");
                let n = self.c.below(3);
                self.block(&format!("{deeper}  "), depth + 1, n);
                let _ = writeln!(self.out, "{indent}  }}");
            }
            5 => {
                let cond = condition(self.c);
                let _ = writeln!(self.out, "{indent}if {cond} {{");
                let n = 1 + self.c.below(2);
                self.block(&deeper, depth + 1, n);
                if self.c.chance(50) {
                    let _ = writeln!(self.out, "{indent}}} else {{");
                    let n = self.c.below(2);
                    self.block(&deeper, depth + 1, n);
                }
                let _ = writeln!(self.out, "{indent}}}");
            }
            6 => {
                self.splits += 1;
                let name = format!("s{}", self.splits);
                let share = self.c.pick(&[50u32, 30, 90, 10]);
                let _ = writeln!(self.out, "{indent}split {name} {{");
                // Arms named, or called by position.
                let (first, second) = if self.c.chance(50) {
                    ("control ", "treat ")
                } else {
                    ("", "")
                };
                let _ = writeln!(self.out, "{indent}  {first}{share}%: {{");
                let n = 1 + self.c.below(2);
                self.block(&format!("{deeper}  "), depth + 1, n);
                let _ = writeln!(self.out, "{indent}  }}");
                let _ = writeln!(self.out, "{indent}  {second}{}%: {{", 100 - share);
                let n = self.c.below(2);
                self.block(&format!("{deeper}  "), depth + 1, n);
                let _ = writeln!(self.out, "{indent}  }}");
                let _ = writeln!(self.out, "{indent}}}");
            }
            7 => {
                let until = self.c.pick(&["buy", "c", "b"]);
                let _ = writeln!(self.out, "{indent}escalate until {until} {{");
                let steps = 1 + self.c.below(3);
                for i in 0..steps {
                    let channel = self.c.pick(&["email", "push", "in_app", "sms"]);
                    let content = self.content(channel);
                    let after = if i > 0 || self.c.chance(30) {
                        format!("after {} ", duration(self.c))
                    } else {
                        String::new()
                    };
                    let guard = match Self::address_guard(channel) {
                        Some(g) if !self.narrowed.contains(&channel) => format!(" if {g}"),
                        _ if self.c.chance(30) => format!(" if {}", condition(self.c)),
                        _ => String::new(),
                    };
                    let _ = writeln!(self.out, "{indent}  {after}{channel} {content}{guard}");
                }
                let _ = writeln!(self.out, "{indent}}}");
            }
            8 => {
                let d = duration(self.c);
                let _ = writeln!(self.out, "{indent}wait {d}");
                self.send(indent);
            }
            9 | 10 => self.send(indent),
            _ => {
                if self.in_entry_cond {
                    self.send(indent);
                } else {
                    let _ = writeln!(self.out, "{indent}exit");
                }
            }
        }
    }
}

/// One workflow's text.
fn workflow(c: &mut Choices, name: &str) -> String {
    let mut out = format!("workflow {name} {{\n");
    // Triggers.
    let mut event_triggers = 0;
    let triggers = 1 + c.below(2);
    let mut used = Vec::new();
    for _ in 0..triggers {
        let t = match c.below(7) {
            0 => "on a".to_owned(),
            1 => format!("on inactive for {}", long_duration(c)),
            2 => "on a where event.n > 2".to_owned(),
            3 => "on b".to_owned(),
            5 => format!("on {}", date_trigger(c)),
            _ => "on c".to_owned(),
        };
        if used.contains(&t) {
            continue;
        }
        if t.starts_with("on a") || t.starts_with("on b") || t.starts_with("on c") {
            event_triggers += 1;
        }
        let _ = writeln!(out, "  {t}");
        used.push(t);
    }
    let _ = event_triggers;
    // Audience.
    let mut narrowed = Vec::new();
    if c.chance(45) {
        let mut parts = Vec::new();
        if c.chance(60) {
            parts.push("profile.email != none".to_owned());
            narrowed.push("email");
        }
        if c.chance(30) {
            parts.push("profile.push_token != none".to_owned());
            narrowed.push("push");
        }
        if c.chance(25) || parts.is_empty() {
            parts.push(condition(c));
        }
        let _ = writeln!(out, "  audience {}", parts.join(" and "));
    }
    if c.chance(50) {
        let e = c.pick(&["buy", "c", "b where event.n > 3"]);
        let _ = writeln!(out, "  exit on {e}");
    }
    match c.below(5) {
        0 | 1 => {}
        2 => out.push_str("  entry once\n"),
        3 => {
            let d = long_duration(c);
            let _ = writeln!(out, "  entry once per {d}");
        }
        _ => out.push_str("  entry restart\n"),
    }
    if c.chance(40) {
        let e = c.pick(&["buy", "b", "c"]);
        let d = long_duration(c);
        let _ = writeln!(out, "  goal g1 = {e} within {d}");
        // A second goal, with a window of its own: ended journeys count
        // each goal while its own window is open.
        if c.chance(40) {
            let e = c.pick(&["c", "b where event.n > 3", "buy"]);
            let d = long_duration(c);
            let _ = writeln!(out, "  goal g2 = {e} within {d}");
        }
    }
    if c.chance(15) {
        out.push_str("  priority transactional\n");
    }
    out.push('\n');
    let mut body = Body {
        c,
        out: String::new(),
        sends: 0,
        splits: 0,
        workflow: name.to_owned(),
        narrowed,
        in_entry_cond: false,
    };
    let n = 1 + body.c.below(4);
    body.block("  ", 0, n);
    out.push_str(&body.out);
    out.push_str("}\n");
    out
}

fn policy(c: &mut Choices) -> String {
    if c.chance(20) {
        return String::new();
    }
    let mut out = "policy {\n".to_owned();
    let caps = c.below(3);
    for _ in 0..caps {
        let n = 1 + c.below(3);
        let per = long_duration(c);
        let for_ = match c.below(4) {
            0 | 1 => String::new(),
            2 => " for email".to_owned(),
            _ => " for push, sms, in_app".to_owned(),
        };
        let _ = writeln!(out, "  cap {n} per {per}{for_}");
    }
    let windows = c.below(3);
    for _ in 0..windows {
        let from = time_of_day(c);
        let mut to = time_of_day(c);
        if to == from {
            to = "08:00".to_owned();
        }
        let z = zone_clause(c);
        let for_ = if c.chance(40) { " for push, sms" } else { "" };
        let _ = writeln!(out, "  quiet hours {from} to {to} {z}{for_}");
    }
    out.push_str("}\n");
    out
}

/// A project: its files' text, joined.
#[derive(Clone, Debug)]
pub struct Project {
    pub schema: String,
    pub policy: String,
    pub workflows: Vec<(String, String)>,
}

impl Project {
    pub fn text(&self) -> String {
        let mut s = self.schema.clone();
        s.push('\n');
        s.push_str(&self.policy);
        for (_, w) in &self.workflows {
            s.push('\n');
            s.push_str(w);
        }
        s
    }
}

pub fn project(c: &mut Choices) -> Project {
    let schema = if c.chance(15) {
        schema_required()
    } else {
        SCHEMA.to_owned()
    };
    let policy = policy(c);
    let n = 1 + c.below(4);
    let workflows = (0..n)
        .map(|i| {
            let name = format!("w{i}");
            let text = workflow(c, &name);
            (name, text)
        })
        .collect();
    Project {
        schema,
        policy,
        workflows,
    }
}

/// The project changed for a redeploy: a workflow rewritten, added or
/// removed, or the policy rewritten.
pub fn changed(c: &mut Choices, p: &Project) -> Project {
    let mut p = p.clone();
    match c.below(4) {
        0 => {
            let i = c.below(p.workflows.len() as u32) as usize;
            let name = p.workflows[i].0.clone();
            p.workflows[i].1 = workflow(c, &name);
        }
        1 => {
            let name = format!("w{}", p.workflows.len() + 10);
            let text = workflow(c, &name);
            p.workflows.push((name, text));
        }
        2 if p.workflows.len() > 1 => {
            let i = c.below(p.workflows.len() as u32) as usize;
            p.workflows.remove(i);
        }
        _ => p.policy = policy(c),
    }
    p
}

/// One step of a trace.
#[derive(Clone, Debug)]
pub enum Step {
    Track {
        at: String,
        user: String,
        event: &'static str,
        props: String,
    },
    Identify {
        at: String,
        user: String,
        traits: String,
    },
    Deploy {
        at: String,
    },
}

pub fn trace(c: &mut Choices, required: bool, redeploy: bool) -> Vec<Step> {
    let start = c.pick(STARTS);
    let mut t = chrono::DateTime::parse_from_rfc3339(start)
        .expect("start")
        .with_timezone(&chrono::Utc);
    let users = 1 + c.below(4);
    let steps = 3 + c.below(20);
    let deploy_at = if redeploy { Some(c.below(steps)) } else { None };
    let mut out = Vec::new();
    for i in 0..steps {
        let gap = c.pick(&[
            0i64,
            60,
            3600,
            17 * 60,
            3 * 3600,
            9 * 3600,
            86_400,
            2 * 86_400,
            6 * 86_400,
            13 * 60 + 7,
        ]);
        t += chrono::Duration::seconds(gap);
        let at = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if deploy_at == Some(i) {
            out.push(Step::Deploy { at: at.clone() });
        }
        let user = format!("u{}", c.below(users));
        if c.chance(35) {
            // A due date around now, or a year and a bit ago (for
            // anniversaries), sometimes cleared.
            let traits = match c.below(11) {
                9 | 10 => {
                    if c.chance(15) {
                        "\"due\":null".to_owned()
                    } else {
                        let back = if c.chance(30) { 365 * 86_400 } else { 0 };
                        let ahead = c.pick(&[
                            -3600i64,
                            600,
                            3600,
                            5 * 3600,
                            86_400,
                            2 * 86_400 + 1800,
                            3 * 86_400,
                            4 * 86_400 + 7 * 3600,
                            6 * 86_400,
                            9 * 86_400,
                        ]);
                        let due = t + chrono::Duration::seconds(ahead - back);
                        format!(
                            "\"due\":\"{}\"",
                            due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        )
                    }
                }
                0 => format!("\"email\":\"{user}@example.com\""),
                1 => "\"email\":null".to_owned(),
                2 => format!("\"timezone\":\"{}\"", c.pick(ZONES)),
                3 => "\"plan\":\"pro\"".to_owned(),
                4 => format!("\"score\":{}", c.below(5)),
                5 => "\"phone\":\"+4915112345678\",\"push_token\":\"tok\"".to_owned(),
                6 => "\"push_token\":null".to_owned(),
                7 if required => "\"name\":\"Ada\"".to_owned(),
                _ => format!(
                    "\"email\":\"{user}@example.com\",\"timezone\":\"{}\"{}",
                    c.pick(ZONES),
                    if required { ",\"name\":\"Ada\"" } else { "" }
                ),
            };
            out.push(Step::Identify {
                at,
                user,
                traits: format!("{{{traits}}}"),
            });
        } else {
            let event = c.pick(&["a", "b", "c", "buy", "a", "page_viewed"]);
            let props = match event {
                "a" | "b" => format!("{{\"n\":{}}}", c.below(6)),
                "buy" => "{\"total\":12.5}".to_owned(),
                _ => "{}".to_owned(),
            };
            out.push(Step::Track {
                at,
                user,
                event,
                props,
            });
        }
    }
    out
}

impl Step {
    /// The step as a Segment-style line.
    pub fn line(&self) -> String {
        match self {
            Step::Track {
                at,
                user,
                event,
                props,
            } => format!(
                r#"{{"type":"track","userId":"{user}","event":"{event}","properties":{props},"timestamp":"{at}"}}"#
            ),
            Step::Identify { at, user, traits } => format!(
                r#"{{"type":"identify","userId":"{user}","traits":{traits},"timestamp":"{at}"}}"#
            ),
            Step::Deploy { at } => format!("# redeploy at {at}"),
        }
    }
}
