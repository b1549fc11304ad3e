//! `nudge serve` end to end over HTTP, with its own load generator.
//!
//! Starts the `nudge` binary (this build's) on a project written to a
//! temporary folder, then measures:
//! 1. **throughput**: client threads send batches of 100 `track` calls (each
//!    with a `messageId`) as fast as the server acknowledges them, for
//!    `NUDGE_BENCH_SECS` seconds (default 10): events/s acknowledged;
//! 2. **latency at half that load**: the same calls paced at half the
//!    measured rate: p50/p99/max acknowledgement latency of a batch;
//! 3. **event → woken journey**: journeys waiting in `wait for poke`; one
//!    `poke` at a time (with the load of 2. running, and without load):
//!    the time until its acknowledgement (the journey's step is in the
//!    commit the answer waits for) and until the message the woken
//!    journey sends is in the outbox file.
//!
//! ```sh
//! cargo bench -p nudge-cli --bench serve
//! NUDGE_BENCH_SECS=20 NUDGE_BENCH_CLIENTS=8 cargo bench -p nudge-cli --bench serve
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const PROJECT: &str = r#"
profile {
  email: email?
  plan: string?
}

event signed_up { plan: string }
event clicked { page: string }
event started {}
event poke {}

/// The load: a welcome, and a follow-up a day later unless they clicked.
workflow welcome {
  on signed_up
  send in_app hello
  wait 1d
  if not did clicked since entry {
    send in_app follow_up
  }
}

/// The wake-up probe: waits for `poke`, then sends at once.
workflow wake {
  on started
  entry restart
  wait for poke within 7d
    then { send in_app { title: "woken", body: "now" } }
    else {}
}

template hello: in_app for signed_up {
  title: "Welcome"
  body: "You are on {event.plan}."
}

template follow_up: in_app {
  title: "Still there?"
  body: "Have a look around."
}
"#;

struct Server {
    child: Child,
    base: String,
    key: String,
    data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Server {
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("bench.flow"), PROJECT).unwrap();
    let data = dir.join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .arg("serve")
        .arg(&project)
        .arg("--data")
        .arg(&data)
        .args(["--listen", "127.0.0.1:0", "--quiet"])
        .env("NUDGE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    let base = rx.recv_timeout(Duration::from_secs(120)).unwrap();
    let keys: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("keys.json")).unwrap()).unwrap();
    Server {
        child,
        base,
        key: keys["write_key"].as_str().unwrap().to_owned(),
        data,
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(4)
        .build()
        .unwrap()
}

/// A batch of 100 calls numbered from `first`: sign-ups of new profiles
/// and clicks of earlier ones.
fn batch(first: u64) -> Vec<u8> {
    let calls: Vec<Value> = (first..first + 100)
        .map(|i| {
            if i % 4 == 0 {
                json!({"type": "track", "userId": format!("u{}", i / 4), "event": "signed_up",
                       "properties": {"plan": "pro"}, "messageId": format!("m{i}")})
            } else {
                json!({"type": "track", "userId": format!("u{}", i / 16), "event": "clicked",
                       "properties": {"page": "/pricing"}, "messageId": format!("m{i}")})
            }
        })
        .collect();
    serde_json::to_vec(&json!({ "batch": calls })).unwrap()
}

fn post(http: &reqwest::blocking::Client, s: &Server, body: Vec<u8>) -> Duration {
    let t = Instant::now();
    let r = http
        .post(format!("{}/v1/batch", s.base))
        .basic_auth(&s.key, Some(""))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .unwrap();
    let status = r.status();
    let text = r.text().unwrap();
    assert!(status.is_success(), "{status}: {text}");
    t.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Sends batches from `clients` threads for `secs`, paced to `rate`
/// events/s in all (0: as fast as acknowledged); returns events
/// acknowledged, the wall time and the batch latencies.
fn load(
    s: &Arc<Server>,
    clients: u64,
    secs: f64,
    rate: f64,
    next: &Arc<AtomicU64>,
    stop: &Arc<AtomicBool>,
) -> (u64, f64, Vec<Duration>) {
    let lat = Arc::new(Mutex::new(Vec::new()));
    let t0 = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (s, next, stop, lat) = (s.clone(), next.clone(), stop.clone(), lat.clone());
            std::thread::spawn(move || {
                let http = client();
                let per_thread = rate / clients as f64;
                let mut sent = 0u64;
                let start = Instant::now() + Duration::from_millis(c * 7);
                while !stop.load(Ordering::Relaxed) && t0.elapsed().as_secs_f64() < secs {
                    if per_thread > 0.0 {
                        let due = start + Duration::from_secs_f64(sent as f64 * 100.0 / per_thread);
                        if let Some(d) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(d);
                        }
                    }
                    let first = next.fetch_add(100, Ordering::Relaxed);
                    let d = post(&http, &s, batch(first));
                    lat.lock().unwrap().push(d);
                    sent += 1;
                }
                sent * 100
            })
        })
        .collect();
    let events: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let wall = t0.elapsed().as_secs_f64();
    let mut lat = std::mem::take(&mut *lat.lock().unwrap());
    lat.sort();
    (events, wall, lat)
}

/// The outbox files read as they grow: each poll reads only what was
/// appended since the last one.
#[derive(Default)]
struct OutboxTail {
    offsets: std::collections::HashMap<PathBuf, u64>,
    pending: String,
}

impl OutboxTail {
    /// Whether a line appended since the last poll holds `needle`.
    fn poll(&mut self, data: &Path, needle: &str) -> bool {
        use std::io::{Read as _, Seek as _};
        let mut found = false;
        for e in std::fs::read_dir(data.join("outbox")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "jsonl") {
                continue;
            }
            let offset = self.offsets.entry(p.clone()).or_insert(0);
            let mut f = std::fs::File::open(&p).unwrap();
            f.seek(std::io::SeekFrom::Start(*offset)).unwrap();
            let mut text = String::new();
            let n = f.read_to_string(&mut text).unwrap_or(0);
            *offset += n as u64;
            self.pending.push_str(&text);
            found |= self.pending.contains(needle);
            // Keep only a partial last line.
            let keep = self.pending.rfind('\n').map_or(0, |i| i + 1);
            self.pending.drain(..keep);
        }
        found
    }
}

fn wake_probe(s: &Server, probes: u64, label: &str) {
    let http = client();
    let mut acked = Vec::new();
    let mut seen = Vec::new();
    let mut tail = OutboxTail::default();
    for p in 0..probes {
        let id = format!("w-{label}-{p}");
        let needle = format!("\"profile\":\"{id}\"");
        let start = json!({"batch": [{"type": "track", "userId": id, "event": "started"}]});
        post(&http, s, serde_json::to_vec(&start).unwrap());
        // Skip to the end of the outbox as it is now.
        tail.poll(&s.data, &needle);
        let poke = json!({"batch": [{"type": "track", "userId": id, "event": "poke"}]});
        let t = Instant::now();
        post(&http, s, serde_json::to_vec(&poke).unwrap());
        acked.push(t.elapsed());
        loop {
            if tail.poll(&s.data, &needle) {
                seen.push(t.elapsed());
                break;
            }
            if t.elapsed() > Duration::from_secs(10) {
                panic!("the woken journey's message for {id} never reached the outbox");
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    acked.sort();
    seen.sort();
    println!(
        "wake ({label}): {probes} pokes: acknowledged (journey stepped, committed) p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; message in the outbox p50 {:.2} ms, p99 {:.2} ms (the outbox files polled every 0.2 ms)",
        percentile(&acked, 0.5),
        percentile(&acked, 0.99),
        percentile(&acked, 1.0),
        percentile(&seen, 0.5),
        percentile(&seen, 0.99),
    );
}

fn main() {
    let secs = env_u64("NUDGE_BENCH_SECS", 10) as f64;
    let clients = env_u64("NUDGE_BENCH_CLIENTS", 4);
    let probes = env_u64("NUDGE_BENCH_PROBES", 200);
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(start(dir.path()));
    let load_avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "serve: {} clients, batches of 100 track calls, {secs} s per phase; load average {}",
        clients,
        load_avg.split(' ').take(3).collect::<Vec<_>>().join(" ")
    );
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (events, wall, lat) = load(&s, clients, secs, 0.0, &next, &stop);
    let rate = events as f64 / wall;
    println!(
        "throughput: {events} events acknowledged in {wall:.2} s = {rate:.0} events/s ({:.0} requests/s); batch latency p50 {:.1} ms, p99 {:.1} ms",
        rate / 100.0,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    wake_probe(&s, probes, "idle");
    let half = rate / 2.0;
    let bg = {
        let (s, next, stop) = (s.clone(), next.clone(), stop.clone());
        std::thread::spawn(move || load(&s, clients, secs, half, &next, &stop))
    };
    std::thread::sleep(Duration::from_millis(500));
    wake_probe(&s, probes, "under half load");
    let (events, wall, lat) = bg.join().unwrap();
    println!(
        "half load: {events} events in {wall:.2} s = {:.0} events/s (target {half:.0}); batch acknowledgement p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        events as f64 / wall,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
    let size: u64 = walk(&s.data);
    println!(
        "data folder: {:.1} MB after {} events",
        size as f64 / 1e6,
        next.load(Ordering::Relaxed)
    );
}

fn walk(p: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(p) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(p)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| walk(&e.path())).sum())
            .unwrap_or(0)
    } else {
        meta.len()
    }
}
