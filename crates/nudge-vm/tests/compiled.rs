//! Small flows compiled from source and run on the engine: each construct
//! of the language through checker, compiler, verifier, VM and engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::{props, t};
use nudge_bytecode::{disassemble, Instr, Module};
use nudge_check::{check_project, FsLoader};
use nudge_compile::compile;
use nudge_syntax::SourceFile;
use nudge_vm::{Engine, MemoryStore, Props, Record, Value};

const SCHEMA: &str = r#"
enum Plan { starter, pro, enterprise }

profile {
  email: email
  phone: phone?
  first_name: string?
  plan: Plan
  timezone: timezone = "UTC"
  tags: [string]?
}

event signup { plan_type: Plan, size: int }
event upgrade { size: int, note: string }
event buy { total: float }
event login {}
event click { target: string }
"#;

fn build(flows: &str) -> Module {
    let files = vec![
        Arc::new(SourceFile::new("schema.flow", SCHEMA)),
        Arc::new(SourceFile::new("flows.flow", flows)),
    ];
    let checked = check_project(&files, &FsLoader);
    let program = checked
        .program
        .unwrap_or_else(|| panic!("{}", nudge_syntax::render_plain(&checked.diagnostics, 80)));
    compile(&program, "test").unwrap()
}

fn engine(flows: &str, now: DateTime<Utc>) -> Engine<MemoryStore> {
    Engine::new(MemoryStore::new(), build(flows), now)
}

fn person(e: &mut Engine<MemoryStore>, id: &str, extra: &[(&str, Value)], now: DateTime<Utc>) {
    let mut traits = props(&[
        ("email", Value::str(&format!("{id}@example.com"))),
        ("plan", Value::str("starter")),
    ]);
    traits.extend(props(extra));
    e.identify(id, traits, now).unwrap();
}

/// (minutes after t0, field values joined) of messages to `who`.
fn got(e: &Engine<MemoryStore>, who: &str, t0: DateTime<Utc>) -> Vec<(i64, String)> {
    e.sent()
        .filter(|(_, p, _)| *p == who)
        .map(|(at, _, m)| {
            let text: Vec<String> = m.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            ((*at - t0).num_minutes(), text.join(" "))
        })
        .collect()
}

#[test]
fn if_else_if_else_and_expressions() {
    let t0 = t("2026-03-02T10:00:00Z");
    let mut e = engine(
        r#"
workflow w {
  on signup
  if event.size >= 100 and profile.plan in [pro, enterprise] {
    send in_app { body: "big {event.size}" }
  } else if profile.first_name is none or event.size < 0 {
    send in_app { body: "anonymous" }
  } else {
    send in_app { body: "hi {profile.first_name ?? "there"}, {profile.plan}" }
  }
}
"#,
        t0,
    );
    person(&mut e, "a", &[("plan", Value::str("pro"))], t0);
    person(&mut e, "b", &[], t0);
    person(&mut e, "c", &[("first_name", Value::str("Cy"))], t0);
    for id in ["a", "b", "c"] {
        e.track(
            id,
            "signup",
            props(&[("plan_type", Value::str("pro")), ("size", Value::Int(150))]),
            t0,
        )
        .unwrap();
    }
    assert_eq!(got(&e, "a", t0), vec![(0, "body=big 150".into())]);
    assert_eq!(got(&e, "b", t0), vec![(0, "body=anonymous".into())]);
    assert_eq!(got(&e, "c", t0), vec![(0, "body=hi Cy, starter".into())]);
}

#[test]
fn wait_for_then_else_and_received_fields() {
    let t0 = t("2026-03-02T10:00:00Z");
    let mut e = engine(
        r#"
workflow w {
  on signup
  wait for click where event.target == "pricing" within 1d
    then { send in_app { body: "you looked at {click.target}" } }
    else { send in_app { body: "nothing" } }
}
"#,
        t0,
    );
    person(&mut e, "a", &[], t0);
    person(&mut e, "b", &[], t0);
    let signup = || {
        props(&[
            ("plan_type", Value::str("starter")),
            ("size", Value::Int(1)),
        ])
    };
    e.track("a", "signup", signup(), t0).unwrap();
    e.track("b", "signup", signup(), t0).unwrap();
    e.track(
        "a",
        "click",
        props(&[("target", Value::str("docs"))]),
        t0 + Duration::minutes(5),
    )
    .unwrap();
    e.track(
        "a",
        "click",
        props(&[("target", Value::str("pricing"))]),
        t0 + Duration::minutes(10),
    )
    .unwrap();
    e.advance_to(t0 + Duration::days(2)).unwrap();
    assert_eq!(
        got(&e, "a", t0),
        vec![(10, "body=you looked at pricing".into())]
    );
    assert_eq!(got(&e, "b", t0), vec![(24 * 60, "body=nothing".into())]);
}

#[test]
fn wait_until_in_a_named_zone_on_a_weekday() {
    // 2026-03-02 is a Monday.
    let t0 = t("2026-03-02T10:00:00Z");
    let mut e = engine(
        r#"
workflow w {
  on signup
  wait until 09:00 in "America/New_York" on friday
  send in_app { body: "friday" }
}
"#,
        t0,
    );
    person(&mut e, "a", &[], t0);
    e.track(
        "a",
        "signup",
        props(&[
            ("plan_type", Value::str("starter")),
            ("size", Value::Int(1)),
        ]),
        t0,
    )
    .unwrap();
    e.advance_to(t0 + Duration::days(7)).unwrap();
    let at: Vec<DateTime<Utc>> = e.sent().map(|(at, ..)| *at).collect();
    // 09:00 EST = 14:00Z.
    assert_eq!(at, vec![t("2026-03-06T14:00:00Z")]);
}

#[test]
fn split_with_a_control_group_and_exit() {
    let t0 = t("2026-03-02T10:00:00Z");
    let mut e = engine(
        r#"
workflow w {
  on signup
  split test {
    50%: send in_app { body: "treated" }
    50%: {}
  }
  exit
  send in_app { body: "never" }
}
"#,
        t0,
    );
    let mut treated = 0;
    for i in 0..400 {
        let id = format!("p{i}");
        person(&mut e, &id, &[], t0);
        e.track(
            &id,
            "signup",
            props(&[
                ("plan_type", Value::str("starter")),
                ("size", Value::Int(1)),
            ]),
            t0,
        )
        .unwrap();
        let mine = got(&e, &id, t0);
        assert!(mine.len() <= 1);
        treated += mine.len();
    }
    assert!((150..=250).contains(&treated), "{treated}");
    assert!(e.sent().all(|(_, _, m)| m.fields["body"] == "treated"));
    assert_eq!(
        e.log
            .iter()
            .filter(|r| matches!(r, Record::Exited { .. }))
            .count(),
        400
    );
}

#[test]
fn did_counts_windows_and_segments() {
    let t0 = t("2026-03-02T10:00:00Z");
    let mut e = engine(
        r#"
segment regular = did login times >= 3 within 7d

workflow w {
  on buy where event.total > 10.0
  audience in regular and not did buy where event.total > 1000.0
  send in_app { body: "thanks" }
}
"#,
        t0,
    );
    person(&mut e, "a", &[], t0);
    person(&mut e, "b", &[], t0);
    e.track("b", "login", Props::new(), t0).unwrap();
    for d in 0..3 {
        e.track("a", "login", Props::new(), t0 + Duration::days(d))
            .unwrap();
    }
    let at = t0 + Duration::days(3);
    e.track("a", "buy", props(&[("total", Value::Float(50.0))]), at)
        .unwrap();
    e.track("b", "buy", props(&[("total", Value::Float(50.0))]), at)
        .unwrap();
    assert_eq!(got(&e, "a", t0).len(), 1);
    assert!(got(&e, "b", t0).is_empty());
    // A big buyer is excluded by the `did … where` filter.
    e.track(
        "a",
        "buy",
        props(&[("total", Value::Float(5000.0))]),
        at + Duration::hours(1),
    )
    .unwrap();
    assert_eq!(got(&e, "a", t0).len(), 1);
}

#[test]
fn several_triggers_share_field_names_at_different_positions() {
    let t0 = t("2026-03-02T10:00:00Z");
    let flows = r#"
workflow w {
  on signup, upgrade
  send in_app { body: "size {event.size}" }
}
"#;
    let module = build(flows);
    let listing = disassemble(&module, &[]);
    assert!(
        module.functions.iter().any(|f| f
            .code
            .iter()
            .any(|i| matches!(i, Instr::LoadEventByName(_)))),
        "{listing}"
    );
    let mut e = Engine::new(MemoryStore::new(), module, t0);
    person(&mut e, "a", &[], t0);
    e.track(
        "a",
        "signup",
        props(&[("plan_type", Value::str("pro")), ("size", Value::Int(7))]),
        t0,
    )
    .unwrap();
    e.track(
        "a",
        "upgrade",
        props(&[("note", Value::str("x")), ("size", Value::Int(9))]),
        t0 + Duration::minutes(1),
    )
    .unwrap();
    assert_eq!(
        got(&e, "a", t0),
        vec![(0, "body=size 7".into()), (1, "body=size 9".into())]
    );
}

#[test]
fn escalation_with_guards_from_source() {
    let t0 = t("2026-03-02T10:00:00Z");
    let mut e = engine(
        r#"
workflow w {
  on signup
  exit on buy
  escalate until login {
    in_app { body: "one" }
    after 1h sms "two" if profile.phone != none
    after 1h in_app { body: "three" }
  }
  send in_app { body: "after" }
}
"#,
        t0,
    );
    person(&mut e, "a", &[], t0);
    person(&mut e, "b", &[("phone", Value::str("+15550001"))], t0);
    person(&mut e, "c", &[], t0);
    for id in ["a", "b", "c"] {
        e.track(
            id,
            "signup",
            props(&[
                ("plan_type", Value::str("starter")),
                ("size", Value::Int(1)),
            ]),
            t0,
        )
        .unwrap();
    }
    e.track("c", "login", Props::new(), t0 + Duration::minutes(90))
        .unwrap();
    e.advance_to(t0 + Duration::days(1)).unwrap();
    assert_eq!(
        got(&e, "a", t0),
        vec![
            (0, "body=one".into()),
            (120, "body=three".into()),
            (120, "body=after".into())
        ]
    );
    assert_eq!(
        got(&e, "b", t0),
        vec![
            (0, "body=one".into()),
            (60, "text=two".into()),
            (120, "body=three".into()),
            (120, "body=after".into())
        ]
    );
    assert_eq!(
        got(&e, "c", t0),
        vec![(0, "body=one".into()), (90, "body=after".into())]
    );
}

#[test]
fn policies_goals_and_entry_rules_from_source() {
    let t0 = t("2026-03-02T20:30:00Z");
    let mut e = engine(
        r#"
policy {
  cap 1 per 1d for email
  quiet hours 21:00 to 08:00 local for sms
}

workflow promo {
  on signup
  audience profile.phone != none
  entry once per 2d
  exit on buy where event.total > 100.0
  goal bought = buy within 1d
  send email { subject: "promo", text: "hello" }
  send sms "late"
  wait 1h
  send email { subject: "second", text: "capped" }
}
"#,
        t0,
    );
    person(&mut e, "a", &[("phone", Value::str("+15550001"))], t0);
    let signup = || {
        props(&[
            ("plan_type", Value::str("starter")),
            ("size", Value::Int(1)),
        ])
    };
    e.track("a", "signup", signup(), t0).unwrap();
    // A second trigger a day later is too soon; a small purchase is a goal but no exit.
    e.track(
        "a",
        "buy",
        props(&[("total", Value::Float(5.0))]),
        t0 + Duration::minutes(10),
    )
    .unwrap();
    e.track("a", "signup", signup(), t0 + Duration::days(1))
        .unwrap();
    e.advance_to(t0 + Duration::days(1) + Duration::hours(1))
        .unwrap();
    let sent: Vec<(i64, String)> = got(&e, "a", t0);
    // 20:30 UTC is before the quiet window: the email and the sms go at
    // once; the second email is capped.
    assert_eq!(
        sent,
        vec![
            (0, "subject=promo text=hello".into()),
            (0, "text=late".into())
        ]
    );
    let stats = e.stats();
    assert_eq!(stats["promo"].entered, 1);
    assert_eq!(stats["promo"].suppressed, 1);
    assert_eq!(stats["promo"].capped, 1);
    assert_eq!(stats["promo"].goals, 1);
    assert_eq!(stats["promo"].completed, 1);
    // Two days after the first entry it may enter again; at 21:30 the sms waits.
    let later = t0 + Duration::days(2) + Duration::hours(1);
    e.track("a", "signup", signup(), later).unwrap();
    e.advance_to(later + Duration::days(1)).unwrap();
    let stats = e.stats();
    assert_eq!(stats["promo"].entered, 2);
    assert_eq!(stats["promo"].deferred, 1);
    let sms_at: Vec<DateTime<Utc>> = e
        .sent()
        .filter(|(_, _, m)| m.channel == nudge_bytecode::Channel::Sms)
        .map(|(at, ..)| *at)
        .collect();
    assert_eq!(sms_at.len(), 2);
    let eight = t("2026-03-05T08:00:00Z");
    assert!(
        sms_at[1] >= eight && sms_at[1] < eight + Duration::minutes(15),
        "{sms_at:?}"
    );
}

#[test]
fn webhook_from_source_and_time_expressions() {
    let t0 = t("2026-03-02T10:00:00Z");
    let mut e = engine(
        r#"
workflow crm {
  on buy where event.total >= 10.0
  if not inactive for 1d and profile.tags is not none {
    send webhook {
      url: "https://crm.example.com/hooks/nudge"
      body: { user: profile.id, plan: profile.plan, total: event.total, tags: profile.tags }
    }
  }
}
"#,
        t0,
    );
    person(
        &mut e,
        "a",
        &[("tags", Value::List(vec![Value::str("vip")].into()))],
        t0,
    );
    person(&mut e, "b", &[], t0);
    e.track("a", "buy", props(&[("total", Value::Float(12.5))]), t0)
        .unwrap();
    e.track("b", "buy", props(&[("total", Value::Float(12.5))]), t0)
        .unwrap();
    assert_eq!(
        got(&e, "a", t0),
        vec![(
            0,
            r#"body={"user":"a","plan":"starter","total":12.5,"tags":["vip"]} url=https://crm.example.com/hooks/nudge"#
                .into()
        )]
    );
    assert!(got(&e, "b", t0).is_empty());
}

#[test]
fn a_profile_keeps_only_the_history_its_flows_can_read() {
    use nudge_vm::Store as _;
    // `login` within 3 days, `buy` over all time, `click` never.
    let flows = "workflow back {\n  on upgrade\n  audience did login within 3d or did buy\n  send email { subject: \"hi\", text: \"t\" }\n}\n";
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(flows, t0);
    person(&mut e, "u1", &[], t0);
    let mut buy = Props::new();
    buy.insert("total", Value::Float(3.0));
    let mut click = Props::new();
    click.insert("target", Value::str("x"));
    for day in 0..10 {
        let at = t0 + Duration::days(day);
        e.track("u1", "login", Props::new(), at).unwrap();
        e.track("u1", "click", click.clone(), at).unwrap();
        if day % 4 == 0 {
            e.track("u1", "buy", buy.clone(), at).unwrap();
        }
    }
    let kept = |e: &Engine<MemoryStore>| -> Vec<(String, i64)> {
        e.store()
            .peek("u1")
            .unwrap()
            .unwrap()
            .history
            .iter()
            .map(|ev| (ev.name.to_string(), (ev.at - t0).num_days()))
            .collect()
    };
    assert_eq!(
        kept(&e),
        [
            ("buy", 0),
            ("buy", 4),
            ("login", 6),
            ("login", 7),
            ("login", 8),
            ("buy", 8),
            ("login", 9)
        ]
        .map(|(n, d)| (n.to_owned(), d))
        .to_vec()
    );
    // Every event is still counted.
    assert_eq!(e.store().peek("u1").unwrap().unwrap().record.next_seq, 24);
    // A version that reads `click` sees only the clicks after it.
    e.deploy(build(
        "workflow back {\n  on upgrade\n  audience did click\n  send email { subject: \"hi\", text: \"t\" }\n}\n",
    ));
    let at = t0 + Duration::days(11);
    let mut up = Props::new();
    up.insert("size", Value::Int(1));
    up.insert("note", Value::str("n"));
    e.track("u1", "upgrade", up.clone(), at).unwrap();
    assert!(
        e.log.iter().any(|r| matches!(r, Record::Suppressed { .. })),
        "the clicks before the version that reads them are forgotten"
    );
    e.track("u1", "click", click, at + Duration::hours(1))
        .unwrap();
    e.advance_to(at + Duration::days(2)).unwrap();
    e.track("u1", "upgrade", up, at + Duration::days(2))
        .unwrap();
    assert!(e.log.iter().any(|r| matches!(r, Record::Sent { .. })));
}
