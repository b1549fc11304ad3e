//! Ingestion throughput: Segment-style lines validated against the
//! examples' schemas.
//!
//! `cargo bench -p nudge-vm --bench ingest` prints `track` lines and
//! initial profiles parsed per second. The lines are the engine
//! benchmark's trace (200 000 events over a tenth as many profiles by
//! default, `NUDGE_BENCH_EVENTS` to change; a few thousand when run by
//! `cargo test --benches`), generated in memory; with
//! `NUDGE_BENCH_TRACE=FILE` the events are read from that file instead.
//! Runs with the allocator the `nudge` binary uses (mimalloc).

mod common;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use common::{cpu_seconds, examples, rates, KINDS};
use nudge_bytecode::Schemas;
use nudge_ingest as ingest;

/// Event `i`'s properties, as the engine benchmark's trace has them.
fn properties(i: u64, kind: &str) -> serde_json::Value {
    match kind {
        "checkout_abandoned" => serde_json::json!({
            "product_name": "Lamp",
            "price": 40.0,
            "cart_total": (i % 100) as f64,
        }),
        "feature_used" => serde_json::json!({"feature": "reports", "first_time": i % 7 == 0}),
        "order_completed" => serde_json::json!({"order_id": "o", "total": 40.0}),
        "account_created" => serde_json::json!({"plan_type": "starter", "company_size": 5}),
        _ => serde_json::json!({}),
    }
}

/// The engine benchmark's trace as lines: (events, profiles).
fn trace(t0: DateTime<Utc>, events: u64) -> (Vec<String>, Vec<String>) {
    let profiles = (events / 10).max(1);
    let created = t0.to_rfc3339_opts(SecondsFormat::Secs, true);
    let profile_lines = (0..profiles)
        .map(|p| {
            let plan = if p % 3 == 0 { "pro" } else { "starter" };
            serde_json::json!({
                "userId": format!("user-{p}"),
                "traits": {
                    "email": format!("user-{p}@example.com"),
                    "plan": plan,
                    "created_at": created,
                },
            })
            .to_string()
        })
        .collect();
    let step = Duration::milliseconds(((30 * 86_400_000) / events.max(1)) as i64);
    let mut now = t0;
    let event_lines = (0..events)
        .map(|i| {
            let p = i.wrapping_mul(2_654_435_761) % profiles;
            let kind = KINDS[(i % KINDS.len() as u64) as usize];
            now += step;
            serde_json::json!({
                "type": "track",
                "userId": format!("user-{p}"),
                "event": kind,
                "properties": properties(i, kind),
                "timestamp": now.to_rfc3339_opts(SecondsFormat::Millis, true),
            })
            .to_string()
        })
        .collect();
    (event_lines, profile_lines)
}

/// Parses every line `rounds` times with `parse`; prints the rate.
fn run(
    what: &str,
    lines: &[String],
    rounds: usize,
    schemas: &Schemas,
    parse: fn(&str, &Schemas) -> Result<ingest::Accepted, ingest::IngestError>,
) {
    let (mut accepted, mut rejected, mut notes) = (0usize, 0usize, 0usize);
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    for _ in 0..rounds {
        for line in lines {
            match parse(black_box(line), schemas) {
                Ok((input, n)) => {
                    accepted += 1;
                    notes += n.len();
                    black_box(input);
                }
                Err(e) => {
                    rejected += 1;
                    black_box(e);
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    let n = lines.len() * rounds;
    println!(
        "{what}: {n} lines in {secs:.3} s: lines {}; {accepted} accepted, {rejected} rejected, {notes} notes",
        rates(n as u64, secs, cpu),
    );
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
        .unwrap_or(if benching { 200_000u64 } else { 2_000 });
    let (mut event_lines, profile_lines) = trace(t0, events);
    if let Some(path) = std::env::var_os("NUDGE_BENCH_TRACE") {
        match std::fs::read_to_string(&path) {
            Ok(text) => event_lines = text.lines().map(str::to_owned).collect(),
            Err(e) => {
                eprintln!("cannot read {}: {e}", PathBuf::from(path).display());
                return;
            }
        }
    }
    let rounds = if benching { 3 } else { 1 };
    run(
        "profiles",
        &profile_lines,
        rounds,
        &module.schemas,
        ingest::parse_profile,
    );
    run(
        "events",
        &event_lines,
        rounds,
        &module.schemas,
        ingest::parse_call,
    );
}
