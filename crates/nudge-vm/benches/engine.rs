//! VM and engine throughput on the examples and a generated event trace.
//!
//! `cargo bench -p nudge-vm --bench engine` prints VM steps per second (the
//! pure step function alone) and simulated events per second (the engine
//! with the in-memory store: history, journeys, timers, policies,
//! rendering; the record log is taken and dropped every few thousand
//! events, as `nudge simulate` writes it out). `NUDGE_BENCH_EVENTS` sets
//! the trace length (default 1 000 000 events over a tenth as many
//! profiles; a few thousand when run by `cargo test --benches`). With `NUDGE_BENCH_TRACE_DIR=DIR` it only
//! writes the same trace as `DIR/events.jsonl` and `DIR/profiles.jsonl`,
//! to time `nudge simulate` end to end. Runs with the allocator the `nudge`
//! binary uses (mimalloc).

mod common;

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use common::{cpu_seconds, examples, rates, KINDS};
use nudge_bytecode::Module;
use nudge_vm::{Engine, Event, Facts, Input, MemoryStore, Props, Record, Value, Vm};

struct OneProfile {
    attributes: Props,
    events: Vec<Event>,
    created: DateTime<Utc>,
}

impl Facts for OneProfile {
    fn profile_id(&self) -> &str {
        "p"
    }
    fn attribute(&self, name: &str) -> Value {
        self.attributes.get(name).cloned().unwrap_or_default()
    }
    fn history(&self, name: &str, visit: &mut dyn FnMut(&Event) -> bool) {
        for e in self.events.iter().rev() {
            if &*e.name == name && !visit(e) {
                return;
            }
        }
    }
    fn last_activity(&self) -> DateTime<Utc> {
        self.events.last().map_or(self.created, |e| e.at)
    }
}

/// Properties built as ingestion builds them: names from the schema's
/// strings, one allocation each.
fn props(pairs: &[(&str, Value)]) -> Props {
    pairs.iter().map(|(k, v)| (*k, v.clone())).collect()
}

fn vm_steps(module: &Module, t0: DateTime<Utc>) {
    let Some(wf) = module.workflow_id("abandoned_checkout") else {
        return;
    };
    let facts = OneProfile {
        attributes: props(&[
            ("email", Value::str("a@example.com")),
            ("plan", Value::str("pro")),
        ]),
        events: Vec::new(),
        created: t0,
    };
    let trigger = Event {
        name: "checkout_abandoned".into(),
        at: t0,
        seq: 1,
        props: props(&[
            ("product_name", Value::str("Desk")),
            ("cart_total", Value::Float(30.0)),
        ]),
    };
    let unrelated = Event {
        name: "login".into(),
        at: t0,
        seq: 2,
        props: Props::new(),
    };
    let vm = Vm::new(module);
    let rounds = if std::env::args().any(|a| a == "--bench") {
        200_000u64
    } else {
        1_000
    };
    let mut steps = 0u64;
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    for _ in 0..rounds {
        // Start (blocks on `wait 1h`), an unrelated event, then the timers
        // through the escalation to the end.
        let Ok((mut j, _)) = vm.start(wf, 0, 0, Some(trigger.clone()), t0, &facts) else {
            return;
        };
        steps += 1;
        if let Ok((next, _)) = vm.step(j.clone(), Input::Event(&unrelated), t0, &facts) {
            j = next;
            steps += 1;
        }
        let mut now = t0;
        while j.is_active() {
            now += Duration::days(1);
            let seq = j.seq;
            match vm.step(j, Input::Timer { seq }, now, &facts) {
                Ok((next, fx)) => {
                    black_box(&fx);
                    j = next;
                    steps += 1;
                }
                Err(_) => break,
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    println!(
        "vm: {steps} steps in {secs:.3} s: steps {}",
        rates(steps, secs, cpu)
    );
}

/// Event `i` of the generated trace: (profile number, name, properties).
fn trace_event(i: u64, profiles: u64) -> (u64, &'static str, Props) {
    let p = i.wrapping_mul(2_654_435_761) % profiles;
    let kind = KINDS[(i % KINDS.len() as u64) as usize];
    let props = match kind {
        "checkout_abandoned" => props(&[
            ("product_name", Value::str("Lamp")),
            ("price", Value::Float(40.0)),
            ("cart_total", Value::Float((i % 100) as f64)),
        ]),
        "feature_used" => props(&[
            ("feature", Value::str("reports")),
            ("first_time", Value::Bool(i % 7 == 0)),
        ]),
        "order_completed" => props(&[("order_id", Value::str("o")), ("total", Value::Float(40.0))]),
        "account_created" => props(&[
            ("plan_type", Value::str("starter")),
            ("company_size", Value::Int(5)),
        ]),
        _ => Props::new(),
    };
    (p, kind, props)
}

/// Profile `p`'s traits.
fn traits(p: u64, t0: DateTime<Utc>) -> Props {
    props(&[
        ("email", Value::str(&format!("user-{p}@example.com"))),
        (
            "plan",
            Value::str(if p % 3 == 0 { "pro" } else { "starter" }),
        ),
        ("created_at", Value::Time(t0)),
    ])
}

fn spacing(events: u64) -> Duration {
    Duration::milliseconds(((30 * 86_400_000) / events.max(1)) as i64)
}

fn json(v: &Value) -> serde_json::Value {
    match v {
        Value::None => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(x) => (*x).into(),
        Value::Time(t) => t.to_rfc3339_opts(SecondsFormat::Secs, true).into(),
        other => other.to_string().into(),
    }
}

fn json_map(p: &Props) -> serde_json::Value {
    p.iter()
        .map(|(k, v)| (k.to_string(), json(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Writes the trace the engine benchmark replays as `events.jsonl` and
/// `profiles.jsonl` in `dir`, for timing `nudge simulate` end to end.
fn write_trace(dir: &Path, t0: DateTime<Utc>, events: u64) -> std::io::Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)?;
    let profiles = (events / 10).max(1);
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("profiles.jsonl"))?);
    for p in 0..profiles {
        let line =
            serde_json::json!({"userId": format!("user-{p}"), "traits": json_map(&traits(p, t0))});
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("events.jsonl"))?);
    let step = spacing(events);
    let mut now = t0;
    for i in 0..events {
        let (p, kind, props) = trace_event(i, profiles);
        now += step;
        let line = serde_json::json!({
            "type": "track",
            "userId": format!("user-{p}"),
            "event": kind,
            "properties": json_map(&props),
            "timestamp": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}

/// How many events go by between two takes of the record log.
const LOG_BATCH: u64 = 4096;

/// Counts the messages in the record log and clears it: `nudge simulate`
/// writes records out as they come, so they do not pile up in memory.
fn take_sent(engine: &mut Engine<MemoryStore>) -> usize {
    let sent = engine
        .log
        .iter()
        .filter(|r| matches!(r, Record::Sent { .. }))
        .count();
    engine.log.clear();
    sent
}

fn simulate(module: Module, t0: DateTime<Utc>, events: u64) {
    let profiles = (events / 10).max(1);
    let ids: Vec<String> = (0..profiles).map(|p| format!("user-{p}")).collect();
    let mut engine = Engine::new(MemoryStore::new(), module, t0);
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    for (p, id) in ids.iter().enumerate() {
        if engine.identify(id, traits(p as u64, t0), t0).is_err() {
            return;
        }
    }
    let step = spacing(events);
    let mut now = t0;
    // Each event brings its own copy of the id, as a parsed line does (an
    // id read from a table of 100 000 would cost a cache miss of its own).
    let mut id = String::new();
    let mut sent = 0;
    for i in 0..events {
        let (p, kind, props) = trace_event(i, profiles);
        now += step;
        id.clear();
        let _ = write!(id, "user-{p}");
        if engine.track(&id, kind, props, now).is_err() {
            return;
        }
        if i % LOG_BATCH == 0 {
            sent += take_sent(&mut engine);
        }
    }
    let _ = engine.advance_to(now + Duration::days(10));
    sent += take_sent(&mut engine);
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    println!(
        "engine: {events} events over {profiles} profiles in {secs:.3} s: events {}; {} vm steps; {sent} messages",
        rates(events, secs, cpu),
        engine.steps,
    );
    // Freeing 100 000 profiles' state is not part of the run.
    std::mem::forget(engine);
}

fn main() {
    let t0 = DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let Some(module) = examples() else {
        eprintln!("the examples do not compile");
        return;
    };
    // `cargo bench` passes `--bench`; under `cargo test --benches` this is a
    // quick smoke run.
    let benching = std::env::args().any(|a| a == "--bench");
    let events = std::env::var("NUDGE_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if benching { 1_000_000u64 } else { 2_000 });
    if let Some(dir) = std::env::var_os("NUDGE_BENCH_TRACE_DIR") {
        let dir = PathBuf::from(dir);
        match write_trace(&dir, t0, events) {
            Ok(()) => println!("trace: {events} events in {}", dir.display()),
            Err(e) => eprintln!("cannot write the trace: {e}"),
        }
        return;
    }
    vm_steps(&module, t0);
    simulate(module, t0, events);
}
