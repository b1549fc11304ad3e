//! `nudge serve` killed with SIGKILL under a steady event load, again and
//! again, and restarted: every acknowledged event is applied exactly once,
//! every timer fires, and the outbox has no gap and no duplicate.
//!
//! A client thread sends batches of sign-ups, each call with its own
//! `messageId`, and, like a real client, sends a batch again (same ids)
//! until it is acknowledged. `NUDGE_SERVE_KILL_CYCLES` sets the number of
//! kills (default 50; `tests/crash/serve-run-long.sh` runs 1 000).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod serve_common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serve_common::{project, Server};

/// A small, seeded random source (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What the client knows: the batch it has not seen acknowledged, and the
/// users whose sign-up was.
#[derive(Default)]
struct Client {
    pending: Option<(Vec<u64>, Value)>,
    acked: BTreeSet<u64>,
    next_user: u64,
    sent: u64,
}

impl Client {
    /// The batch to send: the unacknowledged one again, or a new one.
    fn batch(&mut self, size: u64) -> (Vec<u64>, Value) {
        if let Some(p) = &self.pending {
            return p.clone();
        }
        let users: Vec<u64> = (self.next_user..self.next_user + size).collect();
        self.next_user += size;
        // A sign-up (whose journey waits on two timers) and, for a buyer
        // of its own, a purchase (whose receipt a second application
        // would send again).
        let calls: Vec<Value> = users
            .iter()
            .flat_map(|u| {
                [
                    json!({"type": "track", "userId": format!("u{u}"), "event": "signed_up",
                           "properties": {"plan": "free"}, "messageId": format!("s-{u}")}),
                    json!({"type": "track", "userId": format!("b{u}"), "event": "bought",
                           "properties": {"total": 9.5}, "messageId": format!("b-{u}")}),
                ]
            })
            .collect();
        let p = (users, json!({ "batch": calls }));
        self.pending = Some(p.clone());
        p
    }
}

/// Sends batches until one fails (the server is gone) or `stop` is set.
fn send_until_gone(base: &str, key: &str, client: &Mutex<Client>, stop: &AtomicBool) {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    while !stop.load(Ordering::SeqCst) {
        let (users, body) = client.lock().unwrap().batch(20);
        let r = http
            .post(format!("{base}/v1/batch"))
            .basic_auth(key, Some(""))
            .json(&body)
            .send();
        let mut c = client.lock().unwrap();
        c.sent += 1;
        match r {
            Ok(r) if r.status().as_u16() == 200 => {
                c.acked.extend(users);
                c.pending = None;
            }
            Ok(r) if r.status().as_u16() == 503 => {
                drop(c);
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(r) => panic!("unexpected answer {}: {:?}", r.status(), r.text()),
            // The server was killed: send the batch again after the restart.
            Err(_) => return,
        }
    }
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_event_and_sends_nothing_twice() {
    let cycles: u64 = std::env::var("NUDGE_SERVE_KILL_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let seed = std::env::var("NUDGE_SERVE_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("NUDGE_SERVE_KILL_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let data = dir.path().join("data");
    let client = Arc::new(Mutex::new(Client::default()));
    for cycle in 0..cycles {
        // Every other run pauses between its commits and their answers, so
        // that kills often land after a batch is applied and before the
        // client hears so: the retry must then be dropped.
        let delay = if cycle % 2 == 0 { "0" } else { "40" };
        let server = Server::start_with(
            &project,
            &data,
            &["--quiet"],
            &[("NUDGE_FAULT_ACK_DELAY_MS", delay)],
        );
        let stop = Arc::new(AtomicBool::new(false));
        let sender = {
            let (base, key) = (server.base.clone(), server.key.clone());
            let (client, stop) = (client.clone(), stop.clone());
            std::thread::spawn(move || send_until_gone(&base, &key, &client, &stop))
        };
        std::thread::sleep(Duration::from_millis(30 + rng.below(400)));
        server.kill9();
        sender.join().unwrap();
    }
    // A last run: the client gets its batch through, the timers of the
    // last sign-ups (2 s and 3 s) fire, and the server stops cleanly.
    let server = Server::start(&project, &data, &["--quiet"]);
    {
        let stop = Arc::new(AtomicBool::new(false));
        let sender = {
            let (base, key) = (server.base.clone(), server.key.clone());
            let (client, stop) = (client.clone(), stop.clone());
            std::thread::spawn(move || send_until_gone(&base, &key, &client, &stop))
        };
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::SeqCst);
        sender.join().unwrap();
    }
    assert!(client.lock().unwrap().pending.is_none());
    let waited = Instant::now();
    std::thread::sleep(Duration::from_millis(3_600).saturating_sub(waited.elapsed()));
    let lines = server.stop();
    let c = client.lock().unwrap();
    eprintln!(
        "{cycles} kills: {} batches sent, {} users acknowledged, {} outbox lines",
        c.sent,
        c.acked.len(),
        lines.len()
    );
    assert!(c.acked.len() as u64 >= cycles, "the load was too thin");

    // No duplicate: each (profile, template) once; numbers rise in each
    // partition's file.
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut last: BTreeMap<u64, u64> = BTreeMap::new();
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap();
        let (p, r) = (
            v["partition"].as_u64().unwrap(),
            v["record"].as_u64().unwrap(),
        );
        if let Some(prev) = last.insert(p, r) {
            assert!(r > prev, "partition {p}: record {r} after {prev}");
        }
        let key = (
            v["profile"].as_str().unwrap().to_owned(),
            v["template"].as_str().unwrap().to_owned(),
        );
        *seen.entry(key).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    // No gap: every acknowledged sign-up got its welcome and both timers
    // fired (no activation: the nudge, then the last call).
    for u in &c.acked {
        for template in ["hello", "nudge", "last_call"] {
            assert!(
                seen.contains_key(&(format!("u{u}"), template.to_owned())),
                "u{u} has no {template}"
            );
        }
        assert!(
            seen.contains_key(&(format!("b{u}"), "receipt".to_owned())),
            "b{u} has no receipt"
        );
    }
    // Nothing for users never sent.
    let users: BTreeSet<&str> = seen.keys().map(|(p, _)| p.as_str()).collect();
    assert_eq!(users.len(), 2 * c.acked.len());
    assert_eq!(lines.len(), 4 * c.acked.len());
}
