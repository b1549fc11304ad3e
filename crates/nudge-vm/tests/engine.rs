//! Scenarios of the event-handling core on a virtual clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use nudge_bytecode::*;
use nudge_vm::{Engine, ExitReason, MemoryStore, Props, Record, Status, Suppression, Value};

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

#[test]
fn exit_cancels_pending_timers() {
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(reminder_module(), t0);
    with_email(&mut e, "u1", t0);
    with_email(&mut e, "u2", t0);
    e.track("u1", "checkout_abandoned", Props::new(), t0)
        .unwrap();
    e.track("u2", "checkout_abandoned", Props::new(), t0)
        .unwrap();
    e.track(
        "u1",
        "order_completed",
        Props::new(),
        t0 + Duration::minutes(30),
    )
    .unwrap();
    run_all(&mut e);
    assert_eq!(
        sent(&e),
        vec![(t0 + Duration::hours(1), "u2".into(), "reminder".into())]
    );
    let j = e.journey("u1", "cart").unwrap();
    assert_eq!(
        j.status,
        Status::Exited(ExitReason::ExitOn("order_completed".into()))
    );
    assert_eq!(e.journey("u2", "cart").unwrap().status, Status::Completed);
}

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

#[test]
fn entry_restart_cancels_and_starts_over() {
    let mut m = reminder_module();
    m.workflows[0].entry = EntryRule::Restart;
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(m, t0);
    with_email(&mut e, "u1", t0);
    e.track("u1", "checkout_abandoned", Props::new(), t0)
        .unwrap();
    e.track(
        "u1",
        "checkout_abandoned",
        Props::new(),
        t0 + Duration::minutes(40),
    )
    .unwrap();
    run_all(&mut e);
    assert_eq!(
        sent(&e),
        vec![(t0 + Duration::minutes(100), "u1".into(), "reminder".into())]
    );
    assert_eq!(
        count(&e, |r| matches!(
            r,
            Record::Exited {
                reason: ExitReason::Restarted,
                ..
            }
        )),
        1
    );
}

#[test]
fn entry_once_per_7d_counts_from_the_previous_entry() {
    let mut m = reminder_module();
    let week = m.durations.len() as u16;
    m.durations.push(7 * 86_400);
    m.workflows[0].entry = EntryRule::OncePer(week);
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(m, t0);
    with_email(&mut e, "u1", t0);
    for day in [0, 3, 6, 7, 8, 13, 14] {
        e.track(
            "u1",
            "checkout_abandoned",
            Props::new(),
            t0 + Duration::days(day),
        )
        .unwrap();
        run_all(&mut e);
    }
    let days: Vec<i64> = sent(&e)
        .iter()
        .map(|(at, ..)| (*at - t0).num_days())
        .collect();
    // Entries on day 0, 7 and 14; 3, 6, 8 and 13 are too soon after one.
    assert_eq!(days, vec![0, 7, 14]);
    assert_eq!(
        count(&e, |r| matches!(
            r,
            Record::Suppressed {
                reason: Suppression::OncePer,
                ..
            }
        )),
        4
    );
}

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

#[test]
fn escalation_stops_on_the_until_event() {
    let mut k = Kit::new();
    let hour = k.dur(3600);
    let day = k.dur(86_400);
    let two = k.dur(2 * 86_400);
    let order = k.on("order_completed");
    let esc = k.mb.add_escalation(order).unwrap();
    let email = k.message(Channel::Email, "cart_reminder");
    let push = k.message(Channel::Push, "still_thinking");
    let sms = k.message(Channel::Sms, "expires");
    k.workflow(
        "cart",
        vec![Trigger::Event(k.on("checkout_abandoned"))],
        |_, f| {
            let end = f.label();
            f.emit(Instr::Wait(hour));
            f.emit(Instr::EscalateBegin(esc));
            f.patch_escalation_end(esc, end);
            f.emit(Instr::Send(email));
            f.emit(Instr::WaitFromEscalation(day));
            f.emit(Instr::Send(push));
            f.emit(Instr::WaitFromEscalation(two));
            f.emit(Instr::Send(sms));
            f.emit(Instr::EscalateEnd);
            f.bind(end);
            f.emit(Instr::Return);
        },
    );
    let m = k.build();
    let t0 = t("2026-03-02T10:00:00Z");
    let mut e = engine(m, t0);
    for id in ["buyer", "browser"] {
        e.identify(
            id,
            props(&[
                ("email", Value::str("x@example.com")),
                ("push_token", Value::str("tok")),
                ("phone", Value::str("+4912345")),
            ]),
            t0,
        )
        .unwrap();
        e.track(id, "checkout_abandoned", Props::new(), t0).unwrap();
    }
    e.track(
        "buyer",
        "order_completed",
        Props::new(),
        t0 + Duration::hours(30),
    )
    .unwrap();
    run_all(&mut e);
    let of = |who: &str| -> Vec<(i64, String)> {
        sent(&e)
            .into_iter()
            .filter(|(_, p, _)| p == who)
            .map(|(at, _, tpl)| ((at - t0).num_hours(), tpl))
            .collect()
    };
    assert_eq!(
        of("buyer"),
        vec![(1, "cart_reminder".into()), (25, "still_thinking".into())]
    );
    assert_eq!(
        of("browser"),
        vec![
            (1, "cart_reminder".into()),
            (25, "still_thinking".into()),
            (49, "expires".into())
        ]
    );
    assert_eq!(
        e.journey("buyer", "cart").unwrap().status,
        Status::Completed
    );
}

/// Three workflows, each sends one email on its own event.
fn three_workflows(transactional_third: bool) -> Module {
    let mut k = Kit::new();
    for (name, event) in [("one", "a"), ("two", "b"), ("three", "c")] {
        let msg = k.message(Channel::Email, name);
        let wf = k.workflow(name, vec![Trigger::Event(k.on(event))], |_, f| {
            f.emit(Instr::Send(msg));
            f.emit(Instr::Return);
        });
        if transactional_third && name == "three" {
            k.set(wf, |w| w.priority = Priority::Transactional);
        }
    }
    k.mb.set_policy(Policy {
        caps: vec![Cap {
            count: 2,
            per: 48 * 3600,
            channels: vec![],
        }],
        quiet_hours: vec![],
    });
    k.build()
}

#[test]
fn cap_2_per_48h_holds_across_three_workflows() {
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(three_workflows(false), t0);
    with_email(&mut e, "u1", t0);
    e.track("u1", "a", Props::new(), t0).unwrap();
    e.track("u1", "b", Props::new(), t0 + Duration::hours(10))
        .unwrap();
    e.track("u1", "c", Props::new(), t0 + Duration::hours(20))
        .unwrap();
    // 48h after the first send the window has room again (sliding).
    e.track("u1", "c", Props::new(), t0 + Duration::hours(48))
        .unwrap();
    // …but only for one.
    e.track("u1", "a", Props::new(), t0 + Duration::hours(49))
        .unwrap();
    let got: Vec<(i64, String)> = sent(&e)
        .into_iter()
        .map(|(at, _, n)| ((at - t0).num_hours(), n))
        .collect();
    assert_eq!(
        got,
        vec![(0, "one".into()), (10, "two".into()), (48, "three".into())]
    );
    assert_eq!(count(&e, |r| matches!(r, Record::Capped { .. })), 2);
}

#[test]
fn transactional_bypasses_the_cap_and_is_not_counted() {
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(three_workflows(true), t0);
    with_email(&mut e, "u1", t0);
    e.track("u1", "c", Props::new(), t0).unwrap();
    e.track("u1", "a", Props::new(), t0 + Duration::hours(1))
        .unwrap();
    e.track("u1", "b", Props::new(), t0 + Duration::hours(2))
        .unwrap();
    e.track("u1", "c", Props::new(), t0 + Duration::hours(3))
        .unwrap();
    assert_eq!(sent(&e).len(), 4);
    assert_eq!(count(&e, |r| matches!(r, Record::Capped { .. })), 0);
}

fn push_module(transactional: bool) -> Module {
    let mut k = Kit::new();
    let msg = k.message(Channel::Push, "nudge");
    let wf = k.workflow("w", vec![Trigger::Event(k.on("ping"))], |_, f| {
        f.emit(Instr::Send(msg));
        f.emit(Instr::Return);
    });
    if transactional {
        k.set(wf, |w| w.priority = Priority::Transactional);
    }
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

#[test]
fn quiet_hours_move_a_23_berlin_send_to_08_berlin() {
    // 23:00 Berlin (CET) = 22:00Z.
    let t0 = t("2026-01-10T22:00:00Z");
    let mut e = engine(push_module(false), t0);
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
    let mut again = engine(push_module(false), t0);
    berlin_user(&mut again, "u1", t0);
    again.track("u1", "ping", Props::new(), t0).unwrap();
    run_all(&mut again);
    assert_eq!(sent(&again)[0].0, at);
}

#[test]
fn quiet_hours_across_dst_changes() {
    for (send, eight) in [
        // Night of the spring change: 08:00 CEST = 06:00Z.
        ("2026-03-28T22:00:00Z", "2026-03-29T06:00:00Z"),
        // Night of the autumn change: 23:00 CEST = 21:00Z; 08:00 CET = 07:00Z.
        ("2026-10-24T21:00:00Z", "2026-10-25T07:00:00Z"),
    ] {
        let t0 = t(send);
        let mut e = engine(push_module(false), t0);
        berlin_user(&mut e, "u1", t0);
        e.track("u1", "ping", Props::new(), t0).unwrap();
        run_all(&mut e);
        let (at, ..) = sent(&e)[0].clone();
        let eight = t(eight);
        assert!(
            at >= eight && at < eight + Duration::minutes(15),
            "{send}: {at}"
        );
    }
}

#[test]
fn transactional_bypasses_quiet_hours() {
    let t0 = t("2026-01-10T22:00:00Z");
    let mut e = engine(push_module(true), t0);
    berlin_user(&mut e, "u1", t0);
    e.track("u1", "ping", Props::new(), t0).unwrap();
    assert_eq!(sent(&e), vec![(t0, "u1".into(), "nudge".into())]);
}

#[test]
fn exit_cancels_a_deferred_message() {
    let mut m = push_module(false);
    m.workflows[0].exit_on = vec![EventMatch {
        event: m.schemas.event_id("order_completed").unwrap(),
        filter: None,
    }];
    // Keep the journey alive after the send so the exit has something to end.
    let body = m.workflows[0].body as usize;
    let hour = m.durations.len() as u16;
    m.durations.push(3600 * 24);
    m.functions[body].code.insert(1, Instr::Wait(hour));
    m.functions[body].spans.push(SourceSpan::NONE);
    verify(&m).unwrap();
    let t0 = t("2026-01-10T22:00:00Z");
    let mut e = engine(m, t0);
    berlin_user(&mut e, "u1", t0);
    e.track("u1", "ping", Props::new(), t0).unwrap();
    e.track(
        "u1",
        "order_completed",
        Props::new(),
        t0 + Duration::hours(2),
    )
    .unwrap();
    run_all(&mut e);
    assert!(sent(&e).is_empty());
    assert_eq!(count(&e, |r| matches!(r, Record::Dropped { .. })), 1);
}

fn win_back_module() -> Module {
    let mut k = Kit::new();
    let five = k.dur(5 * 86_400);
    let msg = k.message(Channel::Email, "we_miss_you");
    k.workflow("win_back", vec![Trigger::Inactive(five)], |_, f| {
        f.emit(Instr::Send(msg));
        f.emit(Instr::Return);
    });
    k.build()
}

#[test]
fn inactive_for_5d_fires_once_after_5_quiet_days() {
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(win_back_module(), t0);
    with_email(&mut e, "quiet", t0);
    e.track("quiet", "login", Props::new(), t0).unwrap();
    e.advance_to(t0 + Duration::days(30)).unwrap();
    // Once per quiet spell: at day 5 after the last activity, not again.
    assert_eq!(
        sent(&e),
        vec![(t0 + Duration::days(5), "quiet".into(), "we_miss_you".into())]
    );
    // A new spell after new activity fires again.
    e.track("quiet", "login", Props::new(), t0 + Duration::days(31))
        .unwrap();
    e.advance_to(t0 + Duration::days(40)).unwrap();
    assert_eq!(sent(&e).len(), 2);
    assert_eq!(sent(&e)[1].0, t0 + Duration::days(36));
}

#[test]
fn inactive_for_5d_does_not_fire_while_active() {
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(win_back_module(), t0);
    with_email(&mut e, "busy", t0);
    for day in 0..20 {
        e.track(
            "busy",
            "login",
            Props::new(),
            t0 + Duration::days(day) + Duration::hours(3),
        )
        .unwrap();
    }
    e.advance_to(t0 + Duration::days(24)).unwrap();
    assert!(sent(&e).is_empty());
    // Identify is not activity.
    e.identify(
        "busy",
        props(&[("first_name", Value::str("B"))]),
        t0 + Duration::days(24),
    )
    .unwrap();
    e.advance_to(t0 + Duration::days(26)).unwrap();
    assert_eq!(
        sent(&e),
        vec![(
            t0 + Duration::days(24) + Duration::hours(3),
            "busy".into(),
            "we_miss_you".into()
        )]
    );
}

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

#[test]
fn profiles_missing_required_attributes_enter_nothing() {
    let mut m = reminder_module();
    m.schemas.profile.push(FieldSchema {
        name: "created_at".into(),
        ty: Type::Time,
        default: None,
    });
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(m, t0);
    with_email(&mut e, "u1", t0);
    e.track("u1", "checkout_abandoned", Props::new(), t0)
        .unwrap();
    assert_eq!(
        count(&e, |r| matches!(
            r,
            Record::Suppressed {
                reason: Suppression::Incomplete,
                ..
            }
        )),
        1
    );
    e.identify("u1", props(&[("created_at", Value::Time(t0))]), t0)
        .unwrap();
    e.track("u1", "checkout_abandoned", Props::new(), t0)
        .unwrap();
    assert_eq!(count(&e, |r| matches!(r, Record::Entered { .. })), 1);
}

#[test]
fn the_clock_never_goes_backwards() {
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(reminder_module(), t0);
    let err = e
        .track("u1", "ping", Props::new(), t0 - Duration::seconds(1))
        .unwrap_err();
    assert!(err.to_string().contains("before the engine's clock"));
}

/// `escalate until order_completed { push nudge; after 2h email reminder }`
/// with quiet hours for push.
fn night_escalation() -> Module {
    let mut k = Kit::new();
    let two_hours = k.dur(2 * 3600);
    let order = k.on("order_completed");
    let esc = k.mb.add_escalation(order).unwrap();
    let push = k.message(Channel::Push, "nudge");
    let email = k.message(Channel::Email, "reminder");
    k.workflow(
        "cart",
        vec![Trigger::Event(k.on("checkout_abandoned"))],
        |_, f| {
            let end = f.label();
            f.emit(Instr::EscalateBegin(esc));
            f.patch_escalation_end(esc, end);
            f.emit(Instr::Send(push));
            f.emit(Instr::WaitFromEscalation(two_hours));
            f.emit(Instr::Send(email));
            f.emit(Instr::EscalateEnd);
            f.bind(end);
            f.emit(Instr::Return);
        },
    );
    k.mb.set_policy(Policy {
        caps: Vec::new(),
        quiet_hours: vec![QuietHours {
            from: 21 * 60,
            to: 8 * 60,
            zone: Zone::Local,
            channels: vec![Channel::Push],
        }],
    });
    k.build()
}

fn night_shopper(e: &mut Engine<MemoryStore>, now: DateTime<Utc>) {
    e.identify(
        "u1",
        props(&[
            ("email", Value::str("a@example.com")),
            ("push_token", Value::str("tok")),
            ("timezone", Value::str("Europe/Berlin")),
        ]),
        now,
    )
    .unwrap();
    e.track("u1", "checkout_abandoned", Props::new(), now)
        .unwrap();
}

#[test]
fn a_deferred_escalation_step_is_cancelled_by_the_next_step() {
    // 23:00 Berlin: the push waits for 08:00, the email step comes at 01:00.
    let t0 = t("2026-01-10T22:00:00Z");
    let mut e = engine(night_escalation(), t0);
    night_shopper(&mut e, t0);
    run_all(&mut e);
    assert_eq!(
        sent(&e),
        vec![(t0 + Duration::hours(2), "u1".into(), "reminder".into())]
    );
    assert_eq!(count(&e, |r| matches!(r, Record::Deferred { .. })), 1);
    assert_eq!(count(&e, |r| matches!(r, Record::Dropped { .. })), 1);
}

#[test]
fn the_until_event_cancels_a_deferred_step() {
    let t0 = t("2026-01-10T22:00:00Z");
    let mut e = engine(night_escalation(), t0);
    night_shopper(&mut e, t0);
    e.track(
        "u1",
        "order_completed",
        Props::new(),
        t0 + Duration::hours(1),
    )
    .unwrap();
    run_all(&mut e);
    assert!(sent(&e).is_empty());
    assert_eq!(count(&e, |r| matches!(r, Record::Dropped { .. })), 1);
    assert_eq!(e.journey("u1", "cart").unwrap().status, Status::Completed);
}

#[test]
fn webhook_bodies_render_as_json() {
    let mut k = Kit::new();
    let total = k.expr("total", &[Instr::LoadEvent(0), Instr::Return]);
    let user = k.expr("user", &[Instr::LoadProfileId, Instr::Return]);
    let (url, body, u, t_, hook) = (
        k.mb.string("url"),
        k.mb.string("body"),
        k.mb.string("user"),
        k.mb.string("total"),
        k.mb.string("https://crm.example.com/hooks/nudge"),
    );
    let msg =
        k.mb.add_message(MessageDesc {
            channel: Channel::Webhook,
            template: None,
            overrides: vec![
                MessageField {
                    name: url,
                    value: FieldValue::Text(vec![StringPart::Text(hook)]),
                },
                MessageField {
                    name: body,
                    value: FieldValue::Object(vec![
                        MessageField {
                            name: u,
                            value: FieldValue::Expr(user),
                        },
                        MessageField {
                            name: t_,
                            value: FieldValue::Expr(total),
                        },
                    ]),
                },
            ],
            address: None,
        })
        .unwrap();
    k.workflow(
        "crm",
        vec![Trigger::Event(k.on("order_completed"))],
        |_, f| {
            f.emit(Instr::Send(msg));
            f.emit(Instr::Return);
        },
    );
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = engine(k.build(), t0);
    e.track(
        "u\"1",
        "order_completed",
        props(&[("total", Value::Float(12.5))]),
        t0,
    )
    .unwrap();
    let (_, _, m) = e.sent().next().unwrap();
    assert_eq!(m.fields["url"], "https://crm.example.com/hooks/nudge");
    assert_eq!(m.fields["body"], r#"{"user":"u\"1","total":12.5}"#);
}

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

#[test]
fn a_deferred_message_rechecks_the_address_when_released() {
    let t0 = t("2026-01-10T22:00:00Z");
    let mut e = engine(push_module(false), t0);
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
