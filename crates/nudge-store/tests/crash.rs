//! Crash test: a child process applies a trace on the sled store and says
//! which steps are durable after each group commit; the test kills it with
//! SIGKILL at random moments, reopens the store, and checks that every
//! acknowledged step is there and nothing is half-applied; finally the
//! record log the store kept across every crash must be the log of an
//! uninterrupted run, and so must the final state.
//!
//! `NUDGE_CRASH_CYCLES` (default 70) sets how many kills, and
//! `NUDGE_CRASH_SEED` the seed of their timing; `tests/crash/run-long.sh`
//! runs 1 000.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{end, examples, t0, trace, Call};
use nudge_store::{Options, SledStore};
use nudge_vm::{Engine, Store, Value};

const PROFILES: u64 = 30;
const EVENTS: u64 = 1200;
/// Steps per group commit.
const GROUP: usize = 16;

/// The child's side, run when `NUDGE_CRASH_DIR` names its store: applies
/// the trace from where the store says it stopped, prints `ack N` after
/// each group commit (every input up to N is durable, with its records),
/// and `done` at the end.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("NUDGE_CRASH_DIR") else {
        return;
    };
    run_child(Path::new(&dir));
}

fn run_child(dir: &Path) {
    let module = examples();
    let calls = trace(PROFILES, EVENTS);
    let store = SledStore::open(dir, Options::default()).unwrap();
    let start = store.applied().unwrap().map_or(0, |a| a as usize + 1);
    let now = if start == 0 { t0() } else { calls[start - 1].0 };
    let mut engine = Engine::new(store, module, now);
    let mut out = std::io::stdout().lock();
    let mut publish = |engine: &mut Engine<SledStore>, ack: &str| {
        engine.commit().unwrap();
        engine.log.clear();
        writeln!(out, "ack {ack}").unwrap();
        out.flush().unwrap();
    };
    for (i, (at, call)) in calls.iter().enumerate().skip(start) {
        // Timers due by then are steps of their own; the input's own step
        // records that it is applied.
        engine.advance_to(*at).unwrap();
        engine.store_mut().mark_applied(i as u64);
        common::apply(&mut engine, *at, call);
        if (i + 1) % GROUP == 0 || i + 1 == calls.len() {
            publish(&mut engine, &i.to_string());
        }
    }
    // The timers after the last input, a day at a time.
    let mut day = engine.now();
    while day < end() {
        day = (day + chrono::Duration::days(1)).min(end());
        engine.advance_to(day).unwrap();
        publish(&mut engine, "timers");
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "done").unwrap();
    out.flush().unwrap();
}

/// What one run of the child said before it ended or was killed.
#[derive(Default)]
struct Heard {
    /// The last input acknowledged.
    last_ack: Option<usize>,
    done: bool,
}

/// Starts the child on `dir`; kills it after `kill_after` (if given).
fn child(dir: &Path, kill_after: Option<Duration>) -> Heard {
    let mut process = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env("NUDGE_CRASH_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = process.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut heard = Heard::default();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(ack) = line.strip_prefix("ack ") {
                if let Ok(n) = ack.parse() {
                    heard.last_ack = Some(n);
                }
            } else if line == "done" {
                heard.done = true;
            }
        }
        heard
    });
    if let Some(after) = kill_after {
        let deadline = Instant::now() + after;
        while Instant::now() < deadline {
            if process.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        // SIGKILL: no destructor, no flush.
        let _ = process.kill();
    }
    let status = process.wait().unwrap();
    let heard = reader.join().unwrap();
    if kill_after.is_none() {
        assert!(status.success() && heard.done, "the child failed: {status}");
    }
    heard
}

/// Every profile has counted exactly its inputs up to the applied
/// position, and the history it keeps (events no flow reads are forgotten)
/// holds only those, in order: none lost, none half there.
fn check_store(dir: &Path, last_ack: Option<usize>) -> Option<usize> {
    let store = SledStore::open(dir, Options::default()).unwrap();
    let applied = store.applied().unwrap().map(|a| a as usize);
    if let Some(ack) = last_ack {
        assert!(
            applied.is_some_and(|a| a >= ack),
            "input {ack} was acknowledged, but the store has applied {applied:?}"
        );
    }
    let calls = trace(PROFILES, EVENTS);
    for p in 0..PROFILES {
        let id = format!("user-{p}");
        let expected: Vec<i64> = calls
            .iter()
            .enumerate()
            .take(applied.map_or(0, |a| a + 1))
            .filter_map(|(i, (_, call))| match call {
                Call::Track(who, _, _) if *who == id => Some(i as i64),
                _ => None,
            })
            .collect();
        let Some(state) = store.peek(&id).unwrap() else {
            assert!(expected.is_empty(), "{id} is missing after a crash");
            continue;
        };
        assert_eq!(
            state.record.next_seq - 1,
            expected.len() as u64,
            "events counted for {id} after a crash"
        );
        let kept: Vec<i64> = state
            .history
            .iter()
            .filter_map(|e| match e.props.get("step") {
                Some(Value::Int(n)) => Some(*n),
                _ => None,
            })
            .collect();
        let mut rest = expected.iter();
        assert!(
            kept.iter().all(|k| rest.any(|e| e == k)),
            "history of {id} after a crash: {kept:?}, inputs {expected:?}"
        );
    }
    applied
}

/// The record log a store kept.
fn records_of(dir: &Path) -> Vec<String> {
    SledStore::open(dir, Options::default())
        .unwrap()
        .records()
        .unwrap()
}

/// Fails with the first record that differs, and how many there are.
fn same_records(crashed: &[String], clean: &[String]) {
    if let Some(i) = (0..crashed.len().max(clean.len())).find(|&i| crashed.get(i) != clean.get(i)) {
        panic!(
            "records across crashes differ from an uninterrupted run at record {i} \
             ({} against {}):\n  crashed: {:?}\n  clean:   {:?}",
            crashed.len(),
            clean.len(),
            crashed.get(i),
            clean.get(i)
        );
    }
}

/// A small deterministic generator for the kill times.
fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn kill_9_at_random_moments_loses_and_repeats_nothing() {
    if std::env::var("NUDGE_CRASH_DIR").is_ok() {
        return;
    }
    let cycles: usize = std::env::var("NUDGE_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(70);
    let mut seed: u64 = std::env::var("NUDGE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let crashed = tempfile::tempdir().unwrap();
    let clean_dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    child(clean_dir.path(), None);
    // Kills land anywhere in a run, whatever the build's speed.
    let run_ms = (started.elapsed().as_millis() as u64).max(20);
    let clean = records_of(clean_dir.path());
    let mut kills = 0;
    let mut runs = 0;
    for _ in 0..cycles {
        let after = Duration::from_millis(xorshift(&mut seed) % run_ms);
        let heard = child(crashed.path(), Some(after));
        check_store(crashed.path(), heard.last_ack);
        if heard.done {
            // Compare, then start over on a fresh store: more crashes.
            same_records(&records_of(crashed.path()), &clean);
            runs += 1;
            std::fs::remove_dir_all(crashed.path()).unwrap();
            std::fs::create_dir_all(crashed.path()).unwrap();
        } else {
            kills += 1;
        }
    }
    // Run the last store to its end and compare it with the uninterrupted
    // run: records and final states.
    child(crashed.path(), None);
    same_records(&records_of(crashed.path()), &clean);
    let a = SledStore::open(crashed.path(), Options::default()).unwrap();
    let b = SledStore::open(clean_dir.path(), Options::default()).unwrap();
    let ids = b.profile_ids().unwrap();
    assert_eq!(a.profile_ids().unwrap(), ids);
    for id in &ids {
        assert_eq!(a.peek(id).unwrap(), b.peek(id).unwrap(), "state of {id}");
    }
    assert_eq!(a.pending_timers().unwrap(), b.pending_timers().unwrap());
    eprintln!("{kills} kills, {runs} runs finished between kills");
    assert!(
        kills >= cycles / 2,
        "only {kills} of {cycles} runs were killed"
    );
}
