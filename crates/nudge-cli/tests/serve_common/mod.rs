//! Running `nudge serve` as a process for the tests: a small project with
//! waits of a second or two, the server on a free port of 127.0.0.1, HTTP
//! calls, a clean stop, and the outbox it leaves.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod peers;
pub mod sink;

use std::collections::HashMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A project whose waits take seconds: a welcome (and a welcome email to
/// those with an address), then a thank-you when the user activates
/// within 2 s or a nudge when not, then a last call 1 s later; buying
/// ends it, and sends a receipt.
pub const PROJECT: &str = r#"
enum Tier { basic, gold }

profile {
  email: email?
  name: string?
  tier: Tier?
}

event signed_up { plan: string }
event activated {}
event bought { total: float }

workflow welcome {
  on signed_up
  exit on bought

  send in_app hello
  if profile.email != none {
    send email welcome_mail
  }
  wait for activated within 2s
    then { send in_app thanks }
    else { send in_app nudge }
  wait 1s
  send in_app last_call
}

/// Every purchase gets a receipt (the journey ends at once, so each
/// `bought` applied sends one).
workflow receipt {
  on bought
  send in_app receipt
}

template receipt: in_app for bought {
  title: "Thanks for your order"
  body: "Total: {event.total}"
}

template hello: in_app for signed_up {
  title: "Hello {profile.name ?? "there"}"
  body: "You are on the {event.plan} plan."
}

template welcome_mail: email {
  subject: "Welcome, {profile.name ?? "friend"}"
  text: "Here is how to start."
}

template thanks: in_app {
  title: "Thanks for trying it"
  body: "Glad you found it."
}

template nudge: in_app {
  title: "Have a look"
  body: "It takes a minute."
}

template last_call: in_app {
  title: "One more thing"
  body: "Reply with questions."
}
"#;

/// Writes the project into `dir/project` and returns that folder.
pub fn project(dir: &Path) -> PathBuf {
    let p = dir.join("project");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("welcome.flow"), PROJECT).unwrap();
    p
}

/// A running `nudge serve`.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The write key.
    pub key: String,
    /// The admin token.
    pub admin: String,
    /// The data folder.
    pub data: PathBuf,
    /// Every line the server printed on stdout so far.
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    client: reqwest::blocking::Client,
}

impl Server {
    /// Starts the server on `project` with the data folder `data`, and
    /// waits until it listens.
    pub fn start(project: &Path, data: &Path, extra: &[&str]) -> Server {
        Server::start_with(project, data, extra, &[])
    }

    /// Starts the server with the settings file `settings` (written beside
    /// the data folder, as `DATA.toml`) and environment variables.
    pub fn configured(project: &Path, data: &Path, settings: &str, env: &[(&str, &str)]) -> Server {
        let file = data.with_extension("toml");
        std::fs::write(&file, settings).unwrap();
        Server::start_with(project, data, &["--config", file.to_str().unwrap()], env)
    }

    /// Starts the server with more environment variables.
    pub fn start_with(project: &Path, data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nudge"))
            .arg("serve")
            .arg(project)
            .arg("--data")
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("NUDGE_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.to_owned());
                }
                seen.lock().unwrap().push(line);
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("nudge serve did not start listening"));
        let keys: Value =
            serde_json::from_str(&std::fs::read_to_string(data.join("keys.json")).unwrap())
                .unwrap();
        Server {
            child: Some(child),
            base,
            key: keys["write_key"].as_str().unwrap().to_owned(),
            admin: keys["admin_token"].as_str().unwrap().to_owned(),
            data: data.to_owned(),
            stdout: lines,
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Waits until the server prints a line starting with `prefix`, and
    /// returns the lines from it on.
    pub fn wait_for_line(&self, prefix: &str, seconds: u64) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            {
                let lines = self.stdout.lock().unwrap();
                if let Some(i) = lines.iter().rposition(|l| l.starts_with(prefix)) {
                    return lines[i..].to_vec();
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "nudge serve printed no line starting with {prefix:?}: {:#?}",
                    self.stdout.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Calls applied and calls acknowledged as duplicates, from
    /// `/metrics`.
    pub fn counts(&self) -> (u64, u64) {
        let m = self.get("/metrics");
        (
            metric(&m, "nudge_events_applied_total"),
            metric(&m, "nudge_events_duplicate_total"),
        )
    }

    /// Sends a signal (`HUP`, `TERM`) to the server.
    pub fn signal(&self, name: &str) {
        signal(self.pid(), name);
    }

    /// POSTs JSON with the write key; the status and body.
    pub fn post(&self, path: &str, body: &Value) -> (u16, String) {
        self.raw(
            path,
            "application/json",
            None,
            Some(&self.key),
            serde_json::to_vec(body).unwrap(),
        )
    }

    /// POSTs bytes as told; the status and body.
    pub fn raw(
        &self,
        path: &str,
        content_type: &str,
        encoding: Option<&str>,
        key: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, String) {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", content_type)
            .body(body);
        if let Some(e) = encoding {
            req = req.header("Content-Encoding", e);
        }
        if let Some(k) = key {
            req = req.basic_auth(k, Some(""));
        }
        let r = req.send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    /// GETs a page's text.
    pub fn get(&self, path: &str) -> String {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    /// GETs a read API page with a bearer token; the status and JSON.
    pub fn api(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().unwrap();
        let status = r.status().as_u16();
        (status, serde_json::from_str(&r.text().unwrap()).unwrap())
    }

    /// Stops the server with SIGTERM, checks it exits 0, and returns the
    /// outbox's lines (partition by partition).
    pub fn stop(mut self) -> Vec<String> {
        let mut child = self.child.take().unwrap();
        signal(child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("nudge serve did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "nudge serve exited with {status}");
        outbox(&self.data)
    }

    /// Kills the server with SIGKILL.
    pub fn kill9(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends signal `name` (`TERM`, `HUP`) to process `pid`.
pub fn signal(pid: u32, name: &str) {
    use rustix::process::{kill_process, Pid, Signal};
    let signal = match name {
        "TERM" => Signal::TERM,
        "HUP" => Signal::HUP,
        other => panic!("no signal {other} here"),
    };
    let pid = Pid::from_raw(pid as i32).expect("a process id");
    kill_process(pid, signal).expect("the signal is sent");
}

/// The outbox lines of a data folder, partition by partition.
pub fn outbox(data: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("outbox"))
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "jsonl"));
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Messages as `nudge simulate --format jsonl` prints them, in a stable
/// order (time, profile, template).
pub fn messages(lines: Vec<String>) -> Vec<Value> {
    let mut out: Vec<Value> = lines
        .iter()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("partition");
            o.remove("record");
            o.remove("send_id");
            v
        })
        .filter(|v| v["kind"] == "message")
        .collect();
    out.sort_by_key(|v| {
        (
            v["time"].as_str().unwrap_or_default().to_owned(),
            v["profile"].as_str().unwrap_or_default().to_owned(),
            v["template"].as_str().unwrap_or_default().to_owned(),
        )
    });
    out
}

/// The messages `nudge simulate` predicts for a trace.
pub fn simulate(project: &Path, trace: &Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .arg("simulate")
        .arg(project)
        .arg("--events")
        .arg(trace)
        .args(["--format", "jsonl"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    messages(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

/// The sum over partitions of a counter in `/metrics`.
pub fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The outcomes recorded so far, by profile.
pub fn outcomes(data: &Path) -> HashMap<String, Value> {
    outcome_list(data)
        .into_iter()
        .map(|v| (v["profile"].as_str().unwrap().to_owned(), v))
        .collect()
}

/// [`outcomes`], once there are `n` (or `seconds` have passed).
pub fn wait_for_outcomes(data: &Path, n: usize, seconds: u64) -> HashMap<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let o = outcomes(data);
        if o.len() >= n || Instant::now() > deadline {
            return o;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every outcome line of `data/deliveries/`, in no particular order.
pub fn outcome_list(data: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(data.join("deliveries")) else {
        return out;
    };
    for e in dir {
        let path = e.unwrap().path();
        // The outcome files (not the marks, positions or engagement log
        // beside them).
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("partition-") && name.ends_with(".jsonl")) {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        out.extend(
            text.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok()),
        );
    }
    out
}

/// The outcomes of `channel`, once there are `n` (or 20 s have passed).
pub fn channel_outcomes(data: &Path, channel: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let o: Vec<Value> = outcome_list(data)
            .into_iter()
            .filter(|o| o["channel"] == channel)
            .collect();
        if o.len() >= n || Instant::now() > deadline {
            return o;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// [`outcome_list`], once it has `n` lines (or 20 s have passed).
pub fn wait_for_count(data: &Path, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let o = outcome_list(data);
        if o.len() >= n || Instant::now() > deadline {
            return o;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A project of one file, `flow`, in `dir`.
pub fn project_of(dir: &Path, flow: &str) -> PathBuf {
    let p = dir.join("project");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("delivery.flow"), flow).unwrap();
    p
}
