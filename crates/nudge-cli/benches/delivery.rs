//! Delivery throughput: emails to a local SMTP sink and webhooks to a
//! local HTTP sink, through `nudge serve`.
//!
//! The sinks are small servers in this benchmark (an SMTP responder that
//! accepts every message, an HTTP/1.1 responder that answers 200), on
//! 127.0.0.1, so that they cost little beside the server. Each phase
//! starts this build's `nudge serve` on a project whose trigger sends one
//! message of its channel, sends `NUDGE_BENCH_MESSAGES` (default 20 000)
//! triggers in batches of 500, and times until every message's outcome is
//! written (`delivered`).
//!
//! ```sh
//! cargo bench -p nudge-cli --bench delivery
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// An SMTP server that accepts everything; counts messages.
fn smtp_sink() -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // Small replies at once (no Nagle delay against delayed ACKs).
            let _ = stream.set_nodelay(true);
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let _ = stream.write_all(b"220 sink ESMTP\r\n");
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250 PIPELINING\r\n",
                        "DATA" => {
                            let _ = stream.write_all(b"354 go on\r\n");
                            loop {
                                line.clear();
                                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                    return;
                                }
                                if line == ".\r\n" {
                                    break;
                                }
                            }
                            seen.fetch_add(1, Ordering::Relaxed);
                            b"250 accepted\r\n"
                        }
                        "QUIT" => {
                            let _ = stream.write_all(b"221 bye\r\n");
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    if stream.write_all(answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, count)
}

/// An HTTP/1.1 server that answers every request 200 (keeping the
/// connection); counts requests.
fn http_sink() -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_nodelay(true);
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                loop {
                    let mut len = 0usize;
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    seen.fetch_add(1, Ordering::Relaxed);
                    if stream
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, count)
}

struct Server {
    child: Child,
    base: String,
    key: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, flow: &str, settings: &str) -> Server {
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("bench.flow"), flow).unwrap();
    std::fs::write(dir.join("nudge.toml"), settings).unwrap();
    let data = dir.join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .arg("serve")
        .arg(&project)
        .arg("--data")
        .arg(&data)
        .arg("--config")
        .arg(dir.join("nudge.toml"))
        .args(["--listen", "127.0.0.1:0"])
        .env("NUDGE_LOG", "error")
        .env("BENCH_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
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
    }
}

fn run(label: &str, flow: &str, settings: &str, sunk: &AtomicU64, n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), flow, settings);
    let http = reqwest::blocking::Client::new();
    let t0 = Instant::now();
    for first in (0..n).step_by(500) {
        let calls: Vec<Value> = (first..(first + 500).min(n))
            .flat_map(|i| {
                [
                    json!({"type": "identify", "userId": format!("u{i}"), "traits": {"email": format!("u{i}@example.com")}}),
                    json!({"type": "track", "userId": format!("u{i}"), "event": "go"}),
                ]
            })
            .collect();
        let r = http
            .post(format!("{}/v1/batch", server.base))
            .basic_auth(&server.key, Some(""))
            .json(&json!({ "batch": calls }))
            .send()
            .unwrap();
        assert!(r.status().is_success());
    }
    let accepted = t0.elapsed();
    let deadline = Instant::now() + Duration::from_secs(600);
    let outcomes = dir.path().join("data/deliveries");
    let settled = || -> u64 {
        std::fs::read_dir(&outcomes)
            .map(|d| {
                d.filter_map(|e| Some(e.ok()?.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                    .filter_map(|p| std::fs::read_to_string(p).ok())
                    .map(|t| t.matches("\"outcome\":\"delivered\"").count() as u64)
                    .sum()
            })
            .unwrap_or(0)
    };
    while settled() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = t0.elapsed();
    println!(
        "{label}: {n} messages: events accepted in {:.2} s; all delivered after {:.2} s = {:.0} {label}s/s; the sink counted {}",
        accepted.as_secs_f64(),
        all.as_secs_f64(),
        n as f64 / all.as_secs_f64(),
        sunk.load(Ordering::Relaxed)
    );
    drop(server);
}

fn main() {
    let n: u64 = std::env::var("NUDGE_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "delivery: load average {}",
        load.split(' ').take(3).collect::<Vec<_>>().join(" ")
    );
    let (smtp_port, smtp_count) = smtp_sink();
    let email_flow = "profile {\n  email: email?\n}\n\nevent go {}\n\nworkflow mail {\n  on go\n  audience profile.email != none\n  send email { subject: \"Hello\", text: \"Plain\", html: \"<p>Rich</p>\" }\n}\n";
    run(
        "email",
        email_flow,
        &format!("quiet = true\n\n[delivery.email]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nfrom = \"bench@example.com\"\n"),
        &smtp_count,
        n,
    );
    let (http_port, http_count) = http_sink();
    let hook_flow = format!(
        "profile {{\n  email: email?\n}}\n\nevent go {{}}\n\nworkflow hook {{\n  on go\n  send webhook {{ url: \"http://127.0.0.1:{http_port}/hook\", body: {{ user: profile.id }} }}\n}}\n"
    );
    run(
        "webhook",
        &hook_flow,
        "quiet = true\n\n[delivery.webhook]\nsecret_env = \"BENCH_SECRET\"\n",
        &http_count,
        n,
    );
}
