//! The pure step function on hand-assembled modules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Duration;
use common::*;
use nudge_bytecode::*;
use nudge_vm::{choose_arm, split_bucket};
use nudge_vm::{send_id, Ctx, Effect, ExitReason, Input, Props, Status, Value, Vm};

fn sends(effects: &[Effect]) -> Vec<u16> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { message, .. } => Some(*message),
            _ => None,
        })
        .collect()
}

fn timer(effects: &[Effect]) -> Option<(chrono::DateTime<chrono::Utc>, u32)> {
    effects.iter().find_map(|e| match e {
        Effect::ScheduleTimer { at, seq } => Some((*at, *seq)),
        _ => None,
    })
}

#[test]
fn wait_then_send_then_complete() {
    let mut k = Kit::new();
    let hello = k.message(Channel::Email, "hello");
    let hour = k.dur(3600);
    let wf = k.workflow("w", vec![Trigger::Event(k.on("login"))], |_, f| {
        f.emit(Instr::Wait(hour));
        f.emit(Instr::Send(hello));
        f.emit(Instr::Return);
    });
    let m = k.build();
    let vm = Vm::new(&m);
    let now = t("2026-03-01T10:00:00Z");
    let mut facts = TestFacts::new("u1", now);
    let trig = facts.add("login", now, Props::new());

    let (j, fx) = vm.start(wf, 7, 0, Some(trig), now, &facts).unwrap();
    assert_eq!(
        fx,
        vec![Effect::ScheduleTimer {
            at: now + Duration::hours(1),
            seq: 1
        }]
    );
    assert!(j.is_active());
    assert_eq!(j.pc, 0);
    assert_eq!(j.module, 7);

    // A stale timer does nothing.
    let (same, fx) = vm
        .step(j.clone(), Input::Timer { seq: 0 }, now, &facts)
        .unwrap();
    assert!(fx.is_empty());
    assert_eq!(same, j);

    // An unrelated event does nothing.
    let other = facts.add("ping", now, Props::new());
    let (same, fx) = vm
        .step(j.clone(), Input::Event(&other), now, &facts)
        .unwrap();
    assert!(fx.is_empty());
    assert_eq!(same, j);

    let later = now + Duration::hours(1);
    let (j, fx) = vm.step(j, Input::Timer { seq: 1 }, later, &facts).unwrap();
    assert_eq!(
        fx,
        vec![
            Effect::Send {
                message: hello,
                send_id: send_id("u1", "w", 0, 1, 0),
                escalation: false
            },
            Effect::Completed
        ]
    );
    assert_eq!(j.status, Status::Completed);

    // Finished journeys ignore inputs.
    let (_, fx) = vm.step(j, Input::Timer { seq: 1 }, later, &facts).unwrap();
    assert!(fx.is_empty());
}

#[test]
fn send_ids_are_deterministic_and_distinct() {
    assert_eq!(send_id("u1", "w", 0, 3, 0), send_id("u1", "w", 0, 3, 0));
    let ids = [
        send_id("u1", "w", 0, 3, 0),
        send_id("u2", "w", 0, 3, 0),
        send_id("u1", "v", 0, 3, 0),
        send_id("u1", "w", 1, 3, 0),
        send_id("u1", "w", 0, 4, 0),
        send_id("u1", "w", 0, 3, 1),
    ];
    for i in 0..ids.len() {
        for j in i + 1..ids.len() {
            assert_ne!(ids[i], ids[j], "{i} vs {j}");
        }
    }
}

fn eval(
    m: &Module,
    f: FunctionId,
    facts: &TestFacts,
    event: Option<(&nudge_vm::Event, EventId)>,
) -> Value {
    let now = facts.events.last().map_or(facts.created_at, |e| e.at);
    eval_at(m, f, facts, event, now)
}

fn eval_at(
    m: &Module,
    f: FunctionId,
    facts: &TestFacts,
    event: Option<(&nudge_vm::Event, EventId)>,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    Vm::new(m)
        .eval(f, &Ctx::new(facts, now).with_event(event))
        .unwrap()
}

#[test]
fn expressions() {
    let mut k = Kit::new();
    let email = k.profile["email"];
    let first = k.profile["first_name"];
    let tags = k.profile["tags"];
    let friend = k.mb.constant(Const::Str("friend".into()));
    let vip = k.mb.constant(Const::Str("vip".into()));
    let twenty = k.mb.constant(Const::Float(20.0));
    // profile.first_name ?? "friend"
    let coalesce = {
        let mut f = FunctionBuilder::new("coalesce", FunctionKind::Expr);
        let l = f.label();
        f.emit(Instr::LoadProfile(first));
        f.emit_jump(Instr::JumpIfSomeKeep, l);
        f.emit(Instr::Const(friend));
        f.bind(l);
        f.emit(Instr::Return);
        k.mb.add_function(f).unwrap()
    };
    // profile.email is none
    let is_none = k.expr(
        "is_none",
        &[Instr::LoadProfile(email), Instr::IsNone, Instr::Return],
    );
    // "vip" in profile.tags
    let in_tags = k.expr(
        "in",
        &[
            Instr::Const(vip),
            Instr::LoadProfile(tags),
            Instr::In,
            Instr::Return,
        ],
    );
    // event.cart_total in [20.0, 30]
    let in_list = k.expr(
        "in list",
        &[
            Instr::LoadEvent(1),
            Instr::Const(twenty),
            Instr::Int(30),
            Instr::MakeList(2),
            Instr::In,
            Instr::Return,
        ],
    );
    // profile.email != none and event.cart_total > 20.0 (short circuit)
    let and = {
        let mut f = FunctionBuilder::new("and", FunctionKind::Expr);
        let l = f.label();
        f.emit(Instr::LoadProfile(email));
        f.emit(Instr::None);
        f.emit(Instr::Cmp(CmpOp::Ne));
        f.emit_jump(Instr::JumpIfFalseKeep, l);
        f.emit(Instr::LoadEvent(1));
        f.emit(Instr::Const(twenty));
        f.emit(Instr::Cmp(CmpOp::Gt));
        f.bind(l);
        f.emit(Instr::Return);
        k.mb.add_function(f).unwrap()
    };
    // profile.email == none or not (event.cart_total <= 20.0)
    let or = {
        let mut f = FunctionBuilder::new("or", FunctionKind::Expr);
        let l = f.label();
        f.emit(Instr::LoadProfile(email));
        f.emit(Instr::IsNone);
        f.emit_jump(Instr::JumpIfTrueKeep, l);
        f.emit(Instr::LoadEvent(1));
        f.emit(Instr::Const(twenty));
        f.emit(Instr::Cmp(CmpOp::Le));
        f.emit(Instr::Not);
        f.bind(l);
        f.emit(Instr::Return);
        k.mb.add_function(f).unwrap()
    };
    let abandoned = k.ev("checkout_abandoned");
    let m = k.build();

    let now = t("2026-03-01T10:00:00Z");
    let mut facts = TestFacts::new("u1", now);
    let cart = facts.add(
        "checkout_abandoned",
        now,
        props(&[("cart_total", Value::Float(30.0))]),
    );
    let ev = Some((&cart, abandoned));

    assert_eq!(eval(&m, coalesce, &facts, None), Value::str("friend"));
    assert_eq!(eval(&m, is_none, &facts, None), Value::Bool(true));
    assert_eq!(eval(&m, in_tags, &facts, None), Value::Bool(false));
    assert_eq!(
        eval(&m, in_list, &facts, ev),
        Value::Bool(true),
        "int 30 equals float 30.0"
    );
    assert_eq!(eval(&m, and, &facts, ev), Value::Bool(false));
    assert_eq!(eval(&m, or, &facts, ev), Value::Bool(true));

    facts.attributes.insert("first_name", Value::str("Ada"));
    facts
        .attributes
        .insert("email", Value::str("ada@example.com"));
    facts
        .attributes
        .insert("tags", Value::List(vec![Value::str("vip")].into()));
    assert_eq!(eval(&m, coalesce, &facts, None), Value::str("Ada"));
    assert_eq!(eval(&m, is_none, &facts, None), Value::Bool(false));
    assert_eq!(eval(&m, in_tags, &facts, None), Value::Bool(true));
    assert_eq!(eval(&m, and, &facts, ev), Value::Bool(true));
    assert_eq!(eval(&m, or, &facts, ev), Value::Bool(true));
    let small = facts.add(
        "checkout_abandoned",
        now,
        props(&[("cart_total", Value::Float(5.0))]),
    );
    assert_eq!(
        eval(&m, and, &facts, Some((&small, abandoned))),
        Value::Bool(false)
    );
    assert_eq!(
        eval(&m, or, &facts, Some((&small, abandoned))),
        Value::Bool(false)
    );
}

#[test]
fn behavioural_predicates() {
    let mut k = Kit::new();
    let login = k.on("login");
    let week = k.dur(7 * 86_400);
    let five_days = k.dur(5 * 86_400);
    let ever =
        k.mb.add_query(Query {
            event: login,
            count: None,
            window: Window::Ever,
        })
        .unwrap();
    let within =
        k.mb.add_query(Query {
            event: login,
            count: None,
            window: Window::Within(week),
        })
        .unwrap();
    let thrice =
        k.mb.add_query(Query {
            event: login,
            count: Some((CmpOp::Ge, 3)),
            window: Window::Within(week),
        })
        .unwrap();
    // did feature_used where event.first_time
    let first_time = k.expr("first_time", &[Instr::LoadEvent(1), Instr::Return]);
    let filtered =
        k.mb.add_query(Query {
            event: EventMatch {
                event: k.ev("feature_used"),
                filter: Some(first_time),
            },
            count: None,
            window: Window::Ever,
        })
        .unwrap();
    let f_ever = k.expr("ever", &[Instr::Did(ever), Instr::Return]);
    let f_within = k.expr("within", &[Instr::Did(within), Instr::Return]);
    let f_thrice = k.expr("thrice", &[Instr::Did(thrice), Instr::Return]);
    let f_filtered = k.expr("filtered", &[Instr::Did(filtered), Instr::Return]);
    let f_inactive = k.expr("inactive", &[Instr::InactiveFor(five_days), Instr::Return]);
    // segment active = did login within 7d; expr: in active
    let seg = k.mb.add_segment("active", f_within).unwrap();
    let f_in = k.expr("in", &[Instr::InSegment(seg), Instr::Return]);
    // 7d ago < now
    let f_ago = k.expr("ago", &[Instr::Ago(week), Instr::Return]);
    let m = k.build();

    let start = t("2026-03-01T00:00:00Z");
    let mut facts = TestFacts::new("u1", start);
    let b = |v| Value::Bool(v);
    assert_eq!(eval(&m, f_ever, &facts, None), b(false));
    assert_eq!(eval(&m, f_inactive, &facts, None), b(false));
    let day6 = start + Duration::days(6);
    assert_eq!(
        eval_at(&m, f_inactive, &facts, None, day6),
        b(true),
        "quiet since creation"
    );
    assert_eq!(
        eval_at(&m, f_inactive, &facts, None, start + Duration::days(4)),
        b(false)
    );
    assert_eq!(
        eval_at(&m, f_ago, &facts, None, day6),
        Value::Time(start - Duration::days(1))
    );

    facts.add("login", start + Duration::days(3), Props::new());
    facts.add("login", start + Duration::days(10), Props::new());
    facts.add("login", start + Duration::days(11), Props::new());
    assert_eq!(eval(&m, f_ever, &facts, None), b(true));
    assert_eq!(eval(&m, f_within, &facts, None), b(true));
    assert_eq!(eval(&m, f_in, &facts, None), b(true));
    assert_eq!(
        eval(&m, f_thrice, &facts, None),
        b(false),
        "only two in the last 7 days"
    );
    facts.add("login", start + Duration::days(12), Props::new());
    assert_eq!(eval(&m, f_thrice, &facts, None), b(true));
    assert_eq!(eval(&m, f_inactive, &facts, None), b(false));
    facts.add("ping", start + Duration::days(30), Props::new());
    assert_eq!(
        eval(&m, f_within, &facts, None),
        b(false),
        "the last login is 18 days old"
    );
    assert_eq!(eval(&m, f_in, &facts, None), b(false));

    assert_eq!(eval(&m, f_filtered, &facts, None), b(false));
    facts.add(
        "feature_used",
        start + Duration::days(30),
        props(&[("first_time", Value::Bool(false))]),
    );
    assert_eq!(eval(&m, f_filtered, &facts, None), b(false));
    facts.add(
        "feature_used",
        start + Duration::days(30),
        props(&[("first_time", Value::Bool(true))]),
    );
    assert_eq!(eval(&m, f_filtered, &facts, None), b(true));
}

#[test]
fn since_entry_excludes_the_trigger() {
    let mut k = Kit::new();
    let setup = k.on("setup_completed");
    let q =
        k.mb.add_query(Query {
            event: setup,
            count: None,
            window: Window::SinceEntry,
        })
        .unwrap();
    let prompt = k.message(Channel::Email, "setup_prompt");
    let day = k.dur(86_400);
    // wait 1d; if not did setup_completed since entry { send }
    let wf = k.workflow("onboarding", vec![Trigger::Event(setup)], |_, f| {
        let skip = f.label();
        f.emit(Instr::Wait(day));
        f.emit(Instr::Did(q));
        f.emit(Instr::Not);
        f.emit_jump(Instr::JumpIfFalse, skip);
        f.emit(Instr::Send(prompt));
        f.bind(skip);
        f.emit(Instr::Return);
    });
    let m = k.build();
    let vm = Vm::new(&m);
    let now = t("2026-03-01T10:00:00Z");

    // Triggered by setup_completed itself: the trigger does not count.
    let mut facts = TestFacts::new("u1", now);
    let trig = facts.add("setup_completed", now, Props::new());
    let (j, fx) = vm.start(wf, 0, 0, Some(trig), now, &facts).unwrap();
    let (_, seq) = timer(&fx).unwrap();
    let (_, fx) = vm
        .step(
            j.clone(),
            Input::Timer { seq },
            now + Duration::days(1),
            &facts,
        )
        .unwrap();
    assert_eq!(sends(&fx), vec![prompt]);

    // A later one does.
    facts.add("setup_completed", now + Duration::hours(2), Props::new());
    let (_, fx) = vm
        .step(j, Input::Timer { seq }, now + Duration::days(1), &facts)
        .unwrap();
    assert_eq!(sends(&fx), Vec::<u16>::new());
}

#[test]
fn wait_for_then_and_else() {
    let mut k = Kit::new();
    let feature = k.ev("feature_used");
    let two_days = k.dur(2 * 86_400);
    let w =
        k.mb.add_wait_for(
            EventMatch {
                event: feature,
                filter: None,
            },
            two_days,
        )
        .unwrap();
    let tip = k.message(Channel::InApp, "tip");
    let hint = k.message(Channel::Email, "hint");
    // The tip mentions feature_used.feature.
    let feat = k.expr("feature", &[Instr::LoadReceived(feature, 0), Instr::Return]);
    let body = k.mb.string("body");
    let nice = k.mb.string("Nice, you used ");
    k.mb.module_mut().messages[tip as usize].overrides = vec![MessageField {
        name: body,
        value: FieldValue::Text(vec![StringPart::Text(nice), StringPart::Value(feat)]),
    }];
    let wf = k.workflow(
        "tips",
        vec![Trigger::Event(k.on("setup_completed"))],
        |_, f| {
            let (then_l, else_l, end) = (f.label(), f.label(), f.label());
            f.emit(Instr::WaitFor(w));
            f.patch_wait_for(w, then_l, else_l);
            f.bind(then_l);
            f.emit(Instr::Send(tip));
            f.emit_jump(Instr::Jump, end);
            f.bind(else_l);
            f.emit(Instr::Send(hint));
            f.bind(end);
            f.emit(Instr::Return);
        },
    );
    let m = k.build();
    let vm = Vm::new(&m);
    let now = t("2026-03-01T10:00:00Z");
    let mut facts = TestFacts::new("u1", now);
    let trig = facts.add("setup_completed", now, Props::new());
    let (j, fx) = vm.start(wf, 0, 0, Some(trig), now, &facts).unwrap();
    assert_eq!(
        fx,
        vec![
            Effect::WaitForEvent {
                event: feature,
                deadline: now + Duration::days(2)
            },
            Effect::ScheduleTimer {
                at: now + Duration::days(2),
                seq: 1
            }
        ]
    );

    // The event arrives: then-branch, and the deadline timer is now stale.
    let used = facts.add(
        "feature_used",
        now + Duration::hours(3),
        props(&[
            ("feature", Value::str("reports")),
            ("first_time", Value::Bool(true)),
        ]),
    );
    let (j2, fx) = vm
        .step(
            j.clone(),
            Input::Event(&used),
            now + Duration::hours(3),
            &facts,
        )
        .unwrap();
    assert_eq!(sends(&fx), vec![tip]);
    assert_eq!(j2.status, Status::Completed);
    let ctx = vm.trigger_ctx(&j2, Ctx::new(&facts, now));
    let rendered = vm.render(tip, &ctx).unwrap();
    assert_eq!(rendered.fields["body"], "Nice, you used reports");
    assert_eq!(rendered.template.as_deref(), Some("tip"));

    // No event: else-branch at the deadline.
    let (j3, fx) = vm
        .step(j, Input::Timer { seq: 1 }, now + Duration::days(2), &facts)
        .unwrap();
    assert_eq!(sends(&fx), vec![hint]);
    assert_eq!(j3.status, Status::Completed);
}

#[test]
fn escalation_steps_are_fixed_at_the_start_and_stop_on_the_until_event() {
    let mut k = Kit::new();
    let order = k.on("order_completed");
    let esc = k.mb.add_escalation(order).unwrap();
    let email = k.message(Channel::Email, "reminder");
    let push = k.message(Channel::Push, "still_thinking");
    let sms = k.message(Channel::Sms, "expires");
    let after = k.message(Channel::Email, "after");
    let d1 = k.dur(86_400);
    let d2 = k.dur(2 * 86_400);
    let wf = k.workflow(
        "cart",
        vec![Trigger::Event(k.on("checkout_abandoned"))],
        |_, f| {
            let end = f.label();
            f.emit(Instr::EscalateBegin(esc));
            f.patch_escalation_end(esc, end);
            f.emit(Instr::Send(email));
            f.emit(Instr::WaitFromEscalation(d1));
            f.emit(Instr::Send(push));
            f.emit(Instr::WaitFromEscalation(d2));
            f.emit(Instr::Send(sms));
            f.emit(Instr::EscalateEnd);
            f.bind(end);
            f.emit(Instr::Send(after));
            f.emit(Instr::Return);
        },
    );
    let m = k.build();
    let vm = Vm::new(&m);
    let now = t("2026-03-01T10:00:00Z");
    let mut facts = TestFacts::new("u1", now);
    let trig = facts.add("checkout_abandoned", now, Props::new());
    let (j, fx) = vm.start(wf, 0, 0, Some(trig), now, &facts).unwrap();
    assert_eq!(sends(&fx), vec![email]);
    assert!(matches!(
        fx[0],
        Effect::Send {
            escalation: true,
            ..
        }
    ));
    assert_eq!(timer(&fx), Some((now + Duration::days(1), 1)));

    // The step fires late (a busy host): the next step still counts from the start.
    let late = now + Duration::days(1) + Duration::hours(5);
    let (j, fx) = vm.step(j, Input::Timer { seq: 1 }, late, &facts).unwrap();
    assert_eq!(sends(&fx), vec![push]);
    assert_eq!(timer(&fx), Some((now + Duration::days(2), 2)));

    // The until-event stops it: no sms, and the workflow goes on after the block.
    let bought = facts.add("order_completed", late + Duration::hours(1), Props::new());
    let (j, fx) = vm
        .step(j, Input::Event(&bought), late + Duration::hours(1), &facts)
        .unwrap();
    assert_eq!(fx[0], Effect::EscalationStopped);
    assert_eq!(sends(&fx), vec![after]);
    assert!(matches!(
        fx[1],
        Effect::Send {
            escalation: false,
            ..
        }
    ));
    assert_eq!(j.status, Status::Completed);
}

#[test]
fn split_follows_the_hash() {
    let mut k = Kit::new();
    let a = k.message(Channel::Email, "welcome_a");
    let b = k.message(Channel::Email, "welcome_b");
    let split =
        k.mb.add_split("welcome_subject", &[("a", 5000), ("b", 5000)])
            .unwrap();
    let wf = k.workflow(
        "onboarding",
        vec![Trigger::Event(k.on("account_created"))],
        |_, f| {
            let (la, lb, end) = (f.label(), f.label(), f.label());
            f.emit(Instr::Split(split));
            f.patch_split_arm(split, 0, la);
            f.patch_split_arm(split, 1, lb);
            f.patch_split_end(split, end);
            f.bind(la);
            f.emit(Instr::Send(a));
            f.emit_jump(Instr::Jump, end);
            f.bind(lb);
            f.emit(Instr::Send(b));
            f.bind(end);
            f.emit(Instr::Return);
        },
    );
    let m = k.build();
    let vm = Vm::new(&m);
    let now = t("2026-03-01T10:00:00Z");
    let mut counts = [0u32; 2];
    for i in 0..2000 {
        let id = format!("user-{i}");
        let mut facts = TestFacts::new(&id, now);
        let trig = facts.add("account_created", now, Props::new());
        let (j, fx) = vm.start(wf, 0, 0, Some(trig), now, &facts).unwrap();
        let arm = choose_arm(
            split_bucket(&id, "onboarding", "welcome_subject"),
            [5000, 5000],
        )
        .unwrap();
        assert_eq!(sends(&fx), vec![[a, b][arm]]);
        assert_eq!(j.arms, vec![(split, arm as u16)]);
        counts[arm] += 1;
    }
    assert!((900..=1100).contains(&counts[0]), "{counts:?}");
}

#[test]
fn control_group_arm_sends_nothing() {
    let mut k = Kit::new();
    let a = k.message(Channel::Email, "a");
    let split = k.mb.add_split("s", &[("a", 10_000), ("b", 0)]).unwrap();
    let wf = k.workflow("w", vec![Trigger::Event(k.on("login"))], |_, f| {
        let (la, lb, end) = (f.label(), f.label(), f.label());
        f.emit(Instr::Split(split));
        f.patch_split_arm(split, 0, la);
        f.patch_split_arm(split, 1, lb);
        f.patch_split_end(split, end);
        f.bind(la);
        f.bind(lb);
        f.bind(end);
        f.emit(Instr::Send(a));
        f.emit(Instr::Return);
    });
    let m = k.build();
    let now = t("2026-03-01T10:00:00Z");
    let mut facts = TestFacts::new("u1", now);
    let trig = facts.add("login", now, Props::new());
    let (j, _) = Vm::new(&m)
        .start(wf, 0, 0, Some(trig), now, &facts)
        .unwrap();
    assert_eq!(j.arms, vec![(split, 0)]);
}

#[test]
fn wait_until_uses_the_profile_zone_and_entry_day() {
    let mut k = Kit::new();
    let w =
        k.mb.add_wait_until(WaitUntil {
            minutes: 9 * 60,
            zone: Zone::Local,
            day: DaySpec::Day(5),
        })
        .unwrap();
    let past =
        k.mb.add_wait_until(WaitUntil {
            minutes: 0,
            zone: Zone::Local,
            day: DaySpec::Day(0),
        })
        .unwrap();
    let check_in = k.message(Channel::Email, "check_in");
    let wf = k.workflow(
        "w",
        vec![Trigger::Event(k.on("account_created"))],
        |_, f| {
            f.emit(Instr::WaitUntil(past));
            f.emit(Instr::WaitUntil(w));
            f.emit(Instr::Send(check_in));
            f.emit(Instr::Return);
        },
    );
    let m = k.build();
    let vm = Vm::new(&m);
    let now = t("2026-03-02T10:00:00Z");
    let mut facts = TestFacts::new("u1", now);
    facts
        .attributes
        .insert("timezone", Value::str("America/New_York"));
    let trig = facts.add("account_created", now, Props::new());
    let (j, fx) = vm.start(wf, 0, 0, Some(trig), now, &facts).unwrap();
    // A time already past continues at once; day 5 09:00 New York (EST) = 14:00Z.
    assert_eq!(timer(&fx), Some((t("2026-03-07T14:00:00Z"), 1)));
    assert_eq!(j.pc, 1);

    // Unknown zone: the default (UTC).
    let mut facts = TestFacts::new("u2", now);
    facts
        .attributes
        .insert("timezone", Value::str("Nowhere/Land"));
    let trig = facts.add("account_created", now, Props::new());
    let (_, fx) = vm.start(wf, 0, 0, Some(trig), now, &facts).unwrap();
    assert_eq!(timer(&fx), Some((t("2026-03-07T09:00:00Z"), 1)));
}

#[test]
fn exit_on_goals_and_exit_statement() {
    let mut k = Kit::new();
    let hour = k.dur(3600);
    let three_days = k.dur(3 * 86_400);
    let converted = k.mb.string("converted");
    let a = k.message(Channel::Email, "a");
    // Goal filter: event.total > 100.0
    let hundred = k.mb.constant(Const::Float(100.0));
    let big = k.expr(
        "big",
        &[
            Instr::LoadEvent(0),
            Instr::Const(hundred),
            Instr::Cmp(CmpOp::Gt),
            Instr::Return,
        ],
    );
    let wf = k.workflow(
        "w",
        vec![Trigger::Event(k.on("checkout_abandoned"))],
        |_, f| {
            f.emit(Instr::Wait(hour));
            f.emit(Instr::Send(a));
            f.emit(Instr::Exit);
        },
    );
    let order = k.ev("order_completed");
    k.set(wf, |w| {
        w.exit_on = vec![EventMatch {
            event: order,
            filter: None,
        }];
        w.goals = vec![Goal {
            name: converted,
            event: EventMatch {
                event: order,
                filter: Some(big),
            },
            within: three_days,
        }];
    });
    let m = k.build();
    let vm = Vm::new(&m);
    let now = t("2026-03-01T10:00:00Z");

    // Runs to the exit statement.
    let mut facts = TestFacts::new("u1", now);
    let trig = facts.add("checkout_abandoned", now, Props::new());
    let (j, _) = vm.start(wf, 0, 0, Some(trig.clone()), now, &facts).unwrap();
    let (j2, fx) = vm
        .step(
            j.clone(),
            Input::Timer { seq: 1 },
            now + Duration::hours(1),
            &facts,
        )
        .unwrap();
    assert_eq!(sends(&fx), vec![a]);
    assert_eq!(
        fx.last(),
        Some(&Effect::Exit {
            reason: ExitReason::Statement
        })
    );
    assert_eq!(j2.status, Status::Exited(ExitReason::Statement));

    // A small order exits without the goal; a big one reaches it too.
    let small = facts.add(
        "order_completed",
        now + Duration::minutes(30),
        props(&[("total", Value::Float(5.0))]),
    );
    let (j3, fx) = vm
        .step(
            j.clone(),
            Input::Event(&small),
            now + Duration::minutes(30),
            &facts,
        )
        .unwrap();
    assert_eq!(
        fx,
        vec![Effect::Exit {
            reason: ExitReason::ExitOn("order_completed".into())
        }]
    );
    assert!(!j3.is_active());
    let big = facts.add(
        "order_completed",
        now + Duration::minutes(30),
        props(&[("total", Value::Float(500.0))]),
    );
    let (j4, fx) = vm
        .step(
            j.clone(),
            Input::Event(&big),
            now + Duration::minutes(30),
            &facts,
        )
        .unwrap();
    assert_eq!(
        fx,
        vec![
            Effect::GoalReached { goal: 0 },
            Effect::Exit {
                reason: ExitReason::ExitOn("order_completed".into())
            }
        ]
    );
    assert_eq!(j4.goals, vec![0]);

    // Too late for the goal.
    let late = facts.add(
        "order_completed",
        now + Duration::days(4),
        props(&[("total", Value::Float(500.0))]),
    );
    let (_, fx) = vm
        .step(j, Input::Event(&late), now + Duration::days(4), &facts)
        .unwrap();
    assert_eq!(
        fx,
        vec![Effect::Exit {
            reason: ExitReason::ExitOn("order_completed".into())
        }]
    );
}

#[test]
fn a_runaway_loop_runs_out_of_fuel() {
    let mut k = Kit::new();
    let wf = k.workflow("w", vec![Trigger::Event(k.on("login"))], |_, f| {
        f.emit(Instr::Jump(0));
    });
    let m = k.build();
    let now = t("2026-03-01T10:00:00Z");
    let facts = TestFacts::new("u1", now);
    let err = Vm::new(&m).start(wf, 0, 0, None, now, &facts).unwrap_err();
    assert_eq!(err, nudge_vm::VmError::OutOfFuel);
}

#[test]
fn journey_state_round_trips_through_postcard() {
    let mut k = Kit::new();
    let feature = k.ev("feature_used");
    let day = k.dur(86_400);
    let w =
        k.mb.add_wait_for(
            EventMatch {
                event: feature,
                filter: None,
            },
            day,
        )
        .unwrap();
    let split = k.mb.add_split("s", &[("a", 5000), ("b", 5000)]).unwrap();
    let wf = k.workflow(
        "w",
        vec![Trigger::Event(k.on("checkout_abandoned"))],
        |_, f| {
            let (a, b, end, then_l, else_l) =
                (f.label(), f.label(), f.label(), f.label(), f.label());
            f.emit(Instr::Split(split));
            f.patch_split_arm(split, 0, a);
            f.patch_split_arm(split, 1, b);
            f.patch_split_end(split, end);
            f.bind(a);
            f.bind(b);
            f.bind(end);
            f.emit(Instr::WaitFor(w));
            f.patch_wait_for(w, then_l, else_l);
            f.bind(then_l);
            f.bind(else_l);
            f.emit(Instr::Return);
        },
    );
    let m = k.build();
    let now = t("2026-03-01T10:00:00Z");
    let mut facts = TestFacts::new("u1", now);
    let trig = facts.add(
        "checkout_abandoned",
        now,
        props(&[
            ("product_name", Value::str("Desk")),
            ("cart_total", Value::Float(30.5)),
            ("tags", Value::List(vec![Value::Int(1), Value::None].into())),
        ]),
    );
    let (j, _) = Vm::new(&m)
        .start(wf, 42, 3, Some(trig), now, &facts)
        .unwrap();
    assert!(j.wait.is_some());
    let bytes = postcard::to_allocvec(&j).unwrap();
    let back: nudge_vm::Journey = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, j);
}

#[test]
fn since_entry_without_a_trigger_counts_from_the_entry_instant() {
    let mut k = Kit::new();
    let q =
        k.mb.add_query(Query {
            event: k.on("login"),
            count: None,
            window: Window::SinceEntry,
        })
        .unwrap();
    let five = k.dur(5 * 86_400);
    let hour = k.dur(3600);
    let a = k.message(Channel::Email, "came_back");
    let wf = k.workflow("w", vec![Trigger::Inactive(five)], |_, f| {
        let skip = f.label();
        f.emit(Instr::Wait(hour));
        f.emit(Instr::Did(q));
        f.emit_jump(Instr::JumpIfFalse, skip);
        f.emit(Instr::Send(a));
        f.bind(skip);
        f.emit(Instr::Return);
    });
    let m = k.build();
    let vm = Vm::new(&m);
    let start = t("2026-03-01T00:00:00Z");
    let mut facts = TestFacts::new("u1", start);
    facts.add("login", start, Props::new());
    let entry = start + Duration::days(5);
    let (j, _) = vm.start(wf, 0, 0, None, entry, &facts).unwrap();
    // The login before entry does not count.
    let (_, fx) = vm
        .step(
            j.clone(),
            Input::Timer { seq: 1 },
            entry + Duration::hours(1),
            &facts,
        )
        .unwrap();
    assert_eq!(sends(&fx), Vec::<u16>::new());
    facts.add("login", entry + Duration::minutes(30), Props::new());
    let (_, fx) = vm
        .step(
            j,
            Input::Timer { seq: 1 },
            entry + Duration::hours(1),
            &facts,
        )
        .unwrap();
    assert_eq!(sends(&fx), vec![a]);
}

#[test]
fn absurd_durations_saturate_instead_of_panicking() {
    let mut k = Kit::new();
    let forever = k.dur(i64::MAX);
    let past = k.dur(i64::MIN);
    let wf = k.workflow("w", vec![Trigger::Event(k.on("login"))], |_, f| {
        f.emit(Instr::Ago(past));
        f.emit(Instr::Pop);
        f.emit(Instr::InactiveFor(forever));
        f.emit(Instr::Pop);
        f.emit(Instr::Wait(forever));
        f.emit(Instr::Return);
    });
    let m = k.build();
    let now = t("2026-03-01T10:00:00Z");
    let facts = TestFacts::new("u1", now);
    let (_, fx) = Vm::new(&m).start(wf, 0, 0, None, now, &facts).unwrap();
    assert_eq!(
        timer(&fx),
        Some((chrono::DateTime::<chrono::Utc>::MAX_UTC, 1))
    );
}
