//! Scenarios of the event-handling core on a virtual clock that a `test`
//! block cannot write: the others are `tests/cases/run/*.flow`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use nudge_bytecode::*;
use nudge_vm::{Engine, MemoryStore, Props, Record, Suppression, Value};

fn engine(m: Module, now: DateTime<Utc>) -> Engine<MemoryStore> {
    Engine::new(MemoryStore::new(), m, now)
}

fn with_email(e: &mut Engine<MemoryStore>, id: &str, now: DateTime<Utc>) {
    e.identify(
        id,
        props(&[("email", Value::str(&format!("{id}@example.com")))]),
        now,
    )
    .unwrap();
}

/// (time, profile, template) of every message sent.
fn sent(e: &Engine<MemoryStore>) -> Vec<(DateTime<Utc>, String, String)> {
    e.sent()
        .map(|(at, p, m)| {
            (
                *at,
                p.to_owned(),
                m.template.as_deref().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn count(e: &Engine<MemoryStore>, f: impl Fn(&Record) -> bool) -> usize {
    e.log.iter().filter(|r| f(r)).count()
}

fn run_all(e: &mut Engine<MemoryStore>) {
    while e.fire_next().unwrap().is_some() {}
}

/// `on checkout_abandoned; exit on order_completed; wait 1h; send email reminder`
fn reminder_module() -> Module {
    let mut k = Kit::new();
    let hour = k.dur(3600);
    let reminder = k.message(Channel::Email, "reminder");
    let wf = k.workflow(
        "cart",
        vec![Trigger::Event(k.on("checkout_abandoned"))],
        |_, f| {
            f.emit(Instr::Wait(hour));
            f.emit(Instr::Send(reminder));
            f.emit(Instr::Return);
        },
    );
    let order = k.on("order_completed");
    k.set(wf, |w| w.exit_on = vec![order]);
    k.build()
}

// Kept: the journey's run number, which `expect` cannot see (the rest: entry_default.flow).
#[test]
fn default_entry_is_one_at_a_time() {
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(reminder_module(), t0);
    with_email(&mut e, "u1", t0);
    e.track("u1", "checkout_abandoned", Props::new(), t0)
        .unwrap();
    e.track(
        "u1",
        "checkout_abandoned",
        Props::new(),
        t0 + Duration::minutes(10),
    )
    .unwrap();
    assert_eq!(
        count(&e, |r| matches!(
            r,
            Record::Suppressed {
                reason: Suppression::Active,
                ..
            }
        )),
        1
    );
    run_all(&mut e);
    // After the first journey ends, a new trigger enters again (run 1).
    e.track(
        "u1",
        "checkout_abandoned",
        Props::new(),
        t0 + Duration::hours(2),
    )
    .unwrap();
    run_all(&mut e);
    assert_eq!(sent(&e).len(), 2);
    assert_eq!(e.journey("u1", "cart").unwrap().run, 1);
}

// Kept: a redeploy between the entries, which a `test` block cannot do (the rest: entry_once.flow).
#[test]
fn entry_once_is_once_ever_even_across_versions() {
    let mut m = reminder_module();
    m.workflows[0].entry = EntryRule::Once;
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(m.clone(), t0);
    with_email(&mut e, "u1", t0);
    e.track("u1", "checkout_abandoned", Props::new(), t0)
        .unwrap();
    run_all(&mut e);
    m.compiler_version = "v2".into();
    e.deploy(m);
    e.track(
        "u1",
        "checkout_abandoned",
        Props::new(),
        t0 + Duration::days(30),
    )
    .unwrap();
    run_all(&mut e);
    assert_eq!(sent(&e).len(), 1);
    assert_eq!(
        count(&e, |r| matches!(
            r,
            Record::Suppressed {
                reason: Suppression::Once,
                ..
            }
        )),
        1
    );
}

/// `on ping; send push nudge`, with quiet hours 21:00 to 08:00 local for
/// push and sms.
fn push_module() -> Module {
    let mut k = Kit::new();
    let msg = k.message(Channel::Push, "nudge");
    k.workflow("w", vec![Trigger::Event(k.on("ping"))], |_, f| {
        f.emit(Instr::Send(msg));
        f.emit(Instr::Return);
    });
    k.mb.set_policy(Policy {
        caps: Vec::new(),
        quiet_hours: vec![QuietHours {
            from: 21 * 60,
            to: 8 * 60,
            zone: Zone::Local,
            channels: vec![Channel::Push, Channel::Sms],
        }],
    });
    k.build()
}

fn berlin_user(e: &mut Engine<MemoryStore>, id: &str, now: DateTime<Utc>) {
    e.identify(
        id,
        props(&[
            ("push_token", Value::str("tok")),
            ("timezone", Value::str("Europe/Berlin")),
        ]),
        now,
    )
    .unwrap();
}

// Kept: the spread is the same in a second engine; `expect` cannot compare two runs.
#[test]
fn quiet_hours_move_a_23_berlin_send_to_08_berlin() {
    // 23:00 Berlin (CET) = 22:00Z.
    let t0 = t("2026-01-10T22:00:00Z");
    let mut e = engine(push_module(), t0);
    berlin_user(&mut e, "u1", t0);
    e.track("u1", "ping", Props::new(), t0).unwrap();
    assert!(sent(&e).is_empty());
    assert_eq!(count(&e, |r| matches!(r, Record::Deferred { .. })), 1);
    run_all(&mut e);
    let (at, ..) = sent(&e)[0].clone();
    // 08:00 Berlin = 07:00Z, plus a spread under 15 minutes.
    let eight = t("2026-01-11T07:00:00Z");
    assert!(at >= eight && at < eight + Duration::minutes(15), "{at}");
    // The spread is deterministic.
    let mut again = engine(push_module(), t0);
    berlin_user(&mut again, "u1", t0);
    again.track("u1", "ping", Props::new(), t0).unwrap();
    run_all(&mut again);
    assert_eq!(sent(&again)[0].0, at);
}

// Kept: the text of the drop reason, which `expect` cannot check (the audience: audience.flow).
#[test]
fn audience_is_checked_at_entry_and_addresses_at_send() {
    let mut m = reminder_module();
    // audience profile.email != none
    let email = m.schemas.profile_field("email").unwrap();
    m.functions.push(Function {
        name: "audience".into(),
        kind: FunctionKind::Expr,
        code: vec![
            Instr::LoadProfile(email),
            Instr::None,
            Instr::Cmp(CmpOp::Ne),
            Instr::Return,
        ],
        spans: vec![SourceSpan::NONE; 4],
    });
    m.workflows[0].audience = Some((m.functions.len() - 1) as u16);
    verify(&m).unwrap();
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(m, t0);
    e.track("anon", "checkout_abandoned", Props::new(), t0)
        .unwrap();
    assert_eq!(
        count(&e, |r| matches!(
            r,
            Record::Suppressed {
                reason: Suppression::Audience,
                ..
            }
        )),
        1
    );
    // Enters with an email, loses it before the send: dropped with a reason.
    with_email(&mut e, "u1", t0);
    e.track("u1", "checkout_abandoned", Props::new(), t0)
        .unwrap();
    e.identify(
        "u1",
        props(&[("email", Value::None)]),
        t0 + Duration::minutes(5),
    )
    .unwrap();
    run_all(&mut e);
    assert!(sent(&e).is_empty());
    let reasons: Vec<String> = e
        .log
        .iter()
        .filter_map(|r| match r {
            Record::Dropped { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec!["no `email` to send email to".to_owned()]);
}

// Kept: a redeploy and the module hash a journey keeps, which a `test` block cannot see.
#[test]
fn a_running_journey_keeps_its_module_version() {
    let t0 = t("2026-03-01T10:00:00Z");
    let v1 = reminder_module();
    let mut v2 = v1.clone();
    // v2 renames the template the journey sends.
    v2.templates[0].name = "reminder_v2".into();
    let mut e = engine(v1, t0);
    let h1 = e.module_hash();
    with_email(&mut e, "old", t0);
    with_email(&mut e, "new", t0);
    e.track("old", "checkout_abandoned", Props::new(), t0)
        .unwrap();
    let h2 = e.deploy(v2);
    assert_ne!(h1, h2);
    e.track(
        "new",
        "checkout_abandoned",
        Props::new(),
        t0 + Duration::minutes(1),
    )
    .unwrap();
    run_all(&mut e);
    let got: Vec<(String, String)> = sent(&e).into_iter().map(|(_, p, n)| (p, n)).collect();
    assert_eq!(
        got,
        vec![
            ("old".into(), "reminder".into()),
            ("new".into(), "reminder_v2".into())
        ]
    );
    assert_eq!(e.journey("old", "cart").unwrap().module, h1);
    assert_eq!(e.journey("new", "cart").unwrap().module, h2);
}

// Kept: `reached goal` cannot count goal records (the rest: goal_without_exit.flow).
#[test]
fn goals_are_recorded_once() {
    let mut m = reminder_module();
    let d = m.durations.len() as u16;
    m.durations.push(3 * 86_400);
    m.strings.push("converted".into());
    let name = (m.strings.len() - 1) as u32;
    let order = m.schemas.event_id("order_completed").unwrap();
    m.workflows[0].exit_on.clear();
    m.workflows[0].goals = vec![Goal {
        name,
        event: EventMatch {
            event: order,
            filter: None,
        },
        within: d,
    }];
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(m, t0);
    with_email(&mut e, "u1", t0);
    e.track("u1", "checkout_abandoned", Props::new(), t0)
        .unwrap();
    e.track(
        "u1",
        "order_completed",
        Props::new(),
        t0 + Duration::minutes(10),
    )
    .unwrap();
    e.track(
        "u1",
        "order_completed",
        Props::new(),
        t0 + Duration::minutes(20),
    )
    .unwrap();
    run_all(&mut e);
    let goals: Vec<&Record> = e
        .log
        .iter()
        .filter(|r| matches!(r, Record::GoalReached { .. }))
        .collect();
    assert_eq!(goals.len(), 1);
    assert!(matches!(goals[0], Record::GoalReached { goal, .. } if goal == "converted"));
    // A goal does not stop the journey.
    assert_eq!(sent(&e).len(), 1);
}

// Kept: an engine error for a time before the clock, which a `test` block cannot cause.
#[test]
fn the_clock_never_goes_backwards() {
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(reminder_module(), t0);
    let err = e
        .track("u1", "ping", Props::new(), t0 - Duration::seconds(1))
        .unwrap_err();
    assert!(err.to_string().contains("before the engine's clock"));
}

// Kept: the journey's run number (the rest: exit_event_starts_a_new_journey.flow).
#[test]
fn an_event_that_ends_a_journey_may_start_a_new_one() {
    let mut k = Kit::new();
    let day = k.dur(86_400);
    let msg = k.message(Channel::Email, "later");
    let wf = k.workflow("w", vec![Trigger::Event(k.on("login"))], |_, f| {
        f.emit(Instr::Wait(day));
        f.emit(Instr::Send(msg));
        f.emit(Instr::Return);
    });
    let login = k.on("login");
    k.set(wf, |w| w.exit_on = vec![login]);
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(k.build(), t0);
    with_email(&mut e, "u1", t0);
    e.track("u1", "login", Props::new(), t0).unwrap();
    e.track("u1", "login", Props::new(), t0 + Duration::hours(5))
        .unwrap();
    run_all(&mut e);
    // The first journey exits on the second login, which starts run 1.
    assert_eq!(
        sent(&e),
        vec![(t0 + Duration::hours(29), "u1".into(), "later".into())]
    );
    assert_eq!(e.journey("u1", "w").unwrap().run, 1);
    assert_eq!(count(&e, |r| matches!(r, Record::Suppressed { .. })), 0);
}

// Kept: the drop reason's text, which `expect` cannot check (see missing_address_drops.flow).
#[test]
fn a_deferred_message_rechecks_the_address_when_released() {
    let t0 = t("2026-01-10T22:00:00Z");
    let mut e = engine(push_module(), t0);
    berlin_user(&mut e, "u1", t0);
    e.track("u1", "ping", Props::new(), t0).unwrap();
    // The push token goes away during the night.
    e.identify(
        "u1",
        props(&[("push_token", Value::None)]),
        t0 + Duration::hours(1),
    )
    .unwrap();
    run_all(&mut e);
    assert!(sent(&e).is_empty());
    let reasons: Vec<String> = e
        .log
        .iter()
        .filter_map(|r| match r {
            Record::Dropped { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec!["no `push_token` to send push to".to_owned()]);
}
