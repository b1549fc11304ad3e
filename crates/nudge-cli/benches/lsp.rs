//! `nudge lsp` over stdio: how fast an edit gets its diagnostics, on
//! generated projects of 10 000, 50 000 and 100 000 lines.
//!
//! Writes a valid project (the generator of the checker benchmark,
//! `crates/nudge-check/benches/check.rs`: a schema and modules of segments,
//! templates, a workflow and a test, one module per file) to a temporary
//! folder, starts this build's `nudge lsp` with piped stdin and stdout,
//! speaks LSP to it as an editor does (`initialize` with the folder as root
//! and workspace folder, `initialized`, `didOpen` of one module), then
//! measures:
//! 1. **single edit**: one full-text `didChange` at a time (a comment line
//!    added or removed; every 5th edit a type error or a syntax error, fixed
//!    by the next edit): the time from sending it until a
//!    `publishDiagnostics` for the file carries the version sent;
//! 2. **burst**: 20 `didChange` 30 ms apart (a note typed one character at
//!    a time): the time from the last send until a publish of the last
//!    version arrives, and the publishes received meanwhile, among them the
//!    stale ones (a version older than the newest one sent before it was
//!    received);
//! 3. **memory**: the server's peak resident memory (`VmHWM`), next to the
//!    peak of `nudge check` on the same folder (from `/usr/bin/time`, when
//!    present);
//! 4. **`nudge check`** on the same folder, wall clock, best and median of
//!    three runs.
//!
//! ```sh
//! cargo bench -p nudge-cli --bench lsp
//! NUDGE_BENCH_LSP_LINES=10000 cargo bench -p nudge-cli --bench lsp
//! ```
//!
//! `NUDGE_BENCH_LSP_LINES` lists the sizes (default `10000,50000,100000`);
//! `NUDGE_BENCH_LSP_EDITS` (default 50) and `NUDGE_BENCH_LSP_BURSTS`
//! (default 5) change the number of single edits and bursts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long one answer may take before the server is called hung.
const DEADLINE: Duration = Duration::from_secs(120);
/// Edits in a burst, and the time between two of them.
const BURST_EDITS: usize = 20;
const BURST_GAP: Duration = Duration::from_millis(30);
/// How long to listen for late publishes after a burst's last one.
const QUIET: Duration = Duration::from_millis(1000);
/// The text of the one template file the modules name.
const WELCOME_HTML: &str =
    "<h1>Welcome{% if profile.first_name %}, {{ profile.first_name }}{% endif %}!</h1>\n\
<p>Your {{ event.plan_type }} account is ready.</p>\n";

fn main() {
    let sizes = env_list("NUDGE_BENCH_LSP_LINES", &[10_000, 50_000, 100_000]);
    let edits = env_list("NUDGE_BENCH_LSP_EDITS", &[50])[0];
    let bursts = env_list("NUDGE_BENCH_LSP_BURSTS", &[5])[0];
    for lines in sizes {
        run(lines, edits, bursts);
    }
}

/// One size: the project, the server session, then `nudge check`.
fn run(target: usize, edits: usize, bursts: usize) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let files = project(target);
    let lines: usize = files.iter().map(|f| f.lines().count()).sum();
    let bytes: usize = files.iter().map(String::len).sum();
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(root.join("templates/welcome.html"), WELCOME_HTML).unwrap();
    for (i, text) in files.iter().enumerate() {
        std::fs::write(root.join(format!("m{i:05}.flow")), text).unwrap();
    }
    // A module in the middle of the folder.
    let opened = files.len() / 2;
    let path = root.join(format!("m{opened:05}.flow"));
    let base = files[opened].clone();
    println!();
    println!(
        "== {lines} lines, {} files, {:.2} MB; open m{opened:05}.flow ({} lines); load average {}",
        files.len(),
        bytes as f64 / 1e6,
        base.lines().count(),
        load_average()
    );

    let mut s = Session::start(&root, &path, &base);
    single_edits(&mut s, &base, edits);
    burst_runs(&mut s, &base, bursts);
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid)).unwrap_or_default();
    let hwm = status_kb(&status, "VmHWM:");
    let rss = status_kb(&status, "VmRSS:");
    let mut unexpected = std::mem::take(&mut s.notes);
    for (uri, diagnostics, _) in std::mem::take(&mut s.elsewhere) {
        unexpected.push(format!(
            "publish for another file: {uri} ({diagnostics} diagnostics)"
        ));
    }
    s.stop();

    let (times, check_peak) = nudge_check(&root);
    let mut line = format!(
        "memory: server peak RSS (VmHWM) {:.0} MB, RSS at the end {:.0} MB",
        hwm / 1024.0,
        rss / 1024.0
    );
    if let Some(peak) = check_peak {
        line.push_str(&format!(
            "; nudge check peak RSS {:.0} MB; server/check {:.2}x",
            peak / 1024.0,
            hwm / peak
        ));
    }
    println!("{line}");
    println!(
        "nudge check: best {:.0} ms, median {:.0} ms ({} runs: {})",
        times[0],
        times[times.len() / 2],
        times.len(),
        times
            .iter()
            .map(|t| format!("{t:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for note in unexpected {
        println!("note: {note}");
    }
}

/// What the reader thread saw, stamped when it was read.
enum Event {
    Publish {
        uri: String,
        version: Option<i64>,
        diagnostics: usize,
        at: Instant,
    },
    Response {
        id: i64,
        at: Instant,
    },
    /// A request from the server (answered with `null` by the reader) or a
    /// notification other than diagnostics.
    Other(String),
    Closed,
}

/// A `nudge lsp` process with one open document.
struct Session {
    child: Child,
    pid: u32,
    stdin: Arc<Mutex<ChildStdin>>,
    events: Receiver<Event>,
    uri: String,
    version: i64,
    next_id: i64,
    /// Things worth a line in the output (server requests, publishes
    /// without a version).
    notes: Vec<String>,
    /// Publishes for other files: URI, diagnostics, when.
    elsewhere: Vec<(String, usize, Instant)>,
}

impl Session {
    /// Starts the server, initializes it, opens `path` (version 1) and
    /// waits for its first diagnostics.
    fn start(root: &Path, path: &Path, text: &str) -> Session {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nudge"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = Arc::new(Mutex::new(child.stdin.take().unwrap()));
        let stdout = child.stdout.take().unwrap();
        let (tx, events) = mpsc::channel();
        {
            let stdin = stdin.clone();
            std::thread::spawn(move || read_loop(BufReader::new(stdout), &stdin, &tx));
        }
        let pid = child.id();
        let mut s = Session {
            child,
            pid,
            stdin,
            events,
            uri: file_uri(path),
            version: 0,
            next_id: 1,
            notes: Vec::new(),
            elsewhere: Vec::new(),
        };
        let root_uri = file_uri(root);
        let started = Instant::now();
        let id = s.request(
            "initialize",
            json!({
                "processId": std::process::id(),
                "rootUri": root_uri,
                "workspaceFolders": [{ "uri": root_uri, "name": "bench" }],
                "capabilities": {
                    "workspace": {
                        "workspaceFolders": true,
                        "didChangeWatchedFiles": { "dynamicRegistration": true }
                    },
                    "textDocument": {
                        "synchronization": { "didSave": true },
                        "publishDiagnostics": { "versionSupport": true, "relatedInformation": true }
                    },
                    "window": { "workDoneProgress": true }
                }
            }),
        );
        let answered = s.wait_response(id);
        let initialized = s.notify("initialized", json!({}));
        s.version = 1;
        let sent = s.notify(
            "textDocument/didOpen",
            json!({
                "textDocument": { "uri": s.uri, "languageId": "nudge", "version": 1, "text": text }
            }),
        );
        let (at, diagnostics, _) = s.wait_version(1);
        if diagnostics != 0 {
            panic!("the generated project has {diagnostics} diagnostics in the opened file");
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        println!(
            "start: initialize answered in {:.1} ms; didOpen to first diagnostics (version 1) {:.0} ms; RSS then {:.0} MB",
            ms(answered - started),
            ms(at - sent),
            status_kb(&status, "VmRSS:") / 1024.0
        );
        // The server checks the workspace folder when initialized: that
        // check publishes for the folder's first file unless the open
        // document took its place before it ran.
        for (uri, diagnostics, at) in std::mem::take(&mut s.elsewhere) {
            let name = uri.rsplit('/').next().unwrap_or_default();
            let after_open = if at >= sent {
                format!("{:.0} ms after didOpen", ms(at - sent))
            } else {
                "before didOpen".to_owned()
            };
            println!(
                "  before that: a publish for {name} ({diagnostics} diagnostics) {:.0} ms after `initialized`, {after_open}",
                ms(at - initialized)
            );
        }
        s
    }

    fn send(&self, message: &Value) -> Instant {
        let body = message.to_string();
        let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        frame.extend_from_slice(body.as_bytes());
        let mut w = self.stdin.lock().unwrap();
        let at = Instant::now();
        w.write_all(&frame).unwrap();
        w.flush().unwrap();
        at
    }

    fn request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        id
    }

    fn notify(&self, method: &str, params: Value) -> Instant {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }))
    }

    /// Sends the whole text as the next version; returns the version and
    /// when it was sent.
    fn change(&mut self, text: &str) -> (i64, Instant) {
        self.version += 1;
        let at = self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": self.uri, "version": self.version },
                "contentChanges": [{ "text": text }]
            }),
        );
        (self.version, at)
    }

    /// The next event before `deadline`, `None` after it. Events that
    /// are not about the open document become notes.
    fn next(&mut self, deadline: Instant) -> Option<(Option<i64>, usize, Instant)> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = match self.events.recv_timeout(left) {
                Ok(e) => e,
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => panic!("the server's output ended"),
            };
            match event {
                Event::Publish {
                    uri,
                    version,
                    diagnostics,
                    at,
                } if uri == self.uri => {
                    if version.is_none() {
                        self.notes
                            .push("a publish for the open document had no version".to_owned());
                    }
                    return Some((version, diagnostics, at));
                }
                Event::Publish {
                    uri,
                    diagnostics,
                    at,
                    ..
                } => self.elsewhere.push((uri, diagnostics, at)),
                Event::Response { id, .. } => {
                    self.notes.push(format!("response {id} not waited for"));
                }
                Event::Other(what) => self.notes.push(what),
                Event::Closed => panic!("the server's output ended"),
            }
        }
    }

    /// Waits for a publish of `version` for the open document: when it
    /// arrived, its diagnostics, and the publishes of other versions seen
    /// before it (version, when).
    fn wait_version(&mut self, version: i64) -> (Instant, usize, Vec<(Option<i64>, Instant)>) {
        let deadline = Instant::now() + DEADLINE;
        let mut others = Vec::new();
        loop {
            let Some((v, diagnostics, at)) = self.next(deadline) else {
                panic!("no diagnostics of version {version} within {DEADLINE:?}")
            };
            if v == Some(version) {
                return (at, diagnostics, others);
            }
            others.push((v, at));
        }
    }

    fn wait_response(&mut self, id: i64) -> Instant {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Event::Response { id: got, at }) if got == id => return at,
                Ok(Event::Other(what)) => self.notes.push(what),
                Ok(Event::Closed) | Err(_) => panic!("no answer to request {id}"),
                Ok(_) => {}
            }
        }
    }

    /// CPU time the server has used so far (user + system).
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // The fields after the command name (which may hold spaces).
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
            .sum();
        // /proc counts in USER_HZ, 100 on Linux.
        Duration::from_millis(ticks * 10)
    }

    /// `shutdown`, `exit`, and the process's end.
    fn stop(mut self) {
        let id = self.request("shutdown", Value::Null);
        self.wait_response(id);
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                if !status.success() {
                    println!("note: the server exited with {status}");
                }
                return;
            }
            if Instant::now() > deadline {
                println!("note: the server did not exit after `exit`; killed");
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Reads the server's messages until its output ends: diagnostics and
/// answers go to `tx`, requests are answered with `null` at once.
fn read_loop(mut input: impl BufRead, stdin: &Mutex<ChildStdin>, tx: &Sender<Event>) {
    while let Some(body) = read_frame(&mut input) {
        let at = Instant::now();
        let Ok(message) = serde_json::from_slice::<Value>(&body) else {
            let _ = tx.send(Event::Other(format!(
                "unreadable message: {}",
                String::from_utf8_lossy(&body)
            )));
            continue;
        };
        let method = message.get("method").and_then(Value::as_str);
        let id = message.get("id");
        let event = match (method, id) {
            (Some(method), Some(id)) => {
                let body = json!({ "jsonrpc": "2.0", "id": id, "result": null }).to_string();
                let mut w = stdin.lock().unwrap();
                let _ = write!(w, "Content-Length: {}\r\n\r\n{body}", body.len());
                let _ = w.flush();
                Event::Other(format!("server request `{method}`, answered with null"))
            }
            (Some("textDocument/publishDiagnostics"), None) => {
                let p = &message["params"];
                Event::Publish {
                    uri: p["uri"].as_str().unwrap_or_default().to_owned(),
                    version: p["version"].as_i64(),
                    diagnostics: p["diagnostics"].as_array().map_or(0, Vec::len),
                    at,
                }
            }
            (Some(method), None) => Event::Other(format!(
                "server notification `{method}`: {}",
                message["params"]
            )),
            (None, Some(id)) => {
                if let Some(error) = message.get("error") {
                    let _ = tx.send(Event::Other(format!("error answer to {id}: {error}")));
                }
                Event::Response {
                    id: id.as_i64().unwrap_or(-1),
                    at,
                }
            }
            (None, None) => Event::Other(format!("odd message: {message}")),
        };
        if tx.send(event).is_err() {
            return;
        }
    }
    let _ = tx.send(Event::Closed);
}

/// One frame's body: headers up to a blank line, then `Content-Length`
/// bytes; `None` at the end of the output.
fn read_frame(input: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut length = None;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let text = line.trim_end();
        if text.is_empty() {
            if length.is_some() {
                break;
            }
            continue;
        }
        if let Some((name, value)) = text.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = vec![0; length?];
    input.read_exact(&mut body).ok()?;
    Some(body)
}

/// What a single edit does to the text.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    AddComment,
    RemoveComment,
    TypeError,
    SyntaxError,
    Fix,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::AddComment => "add comment",
            Kind::RemoveComment => "remove comment",
            Kind::TypeError => "type error",
            Kind::SyntaxError => "syntax error",
            Kind::Fix => "fix",
        }
    }
}

/// `edits` edits one at a time, each waited for.
fn single_edits(s: &mut Session, base: &str, edits: usize) {
    let commented = format!("{base}// edited: one more line\n");
    // A template name misspelt (an unknown name), and a `wait` without a
    // duration (a parse error in the middle of the workflow).
    let type_error = base.replacen("send email welcome_", "send email welcom_", 1);
    let syntax_error = base.replacen("\n  wait 1d\n", "\n  wait soon\n", 1);
    assert!(type_error != base && syntax_error != base);
    let mut latencies = Vec::new();
    let mut by_kind: Vec<(Kind, f64)> = Vec::new();
    let mut wrong = Vec::new();
    let mut current = Kind::RemoveComment;
    let mut errors = 0;
    let cpu_before = s.cpu();
    let started = Instant::now();
    for i in 0..edits {
        let kind = match current {
            Kind::TypeError | Kind::SyntaxError => Kind::Fix,
            _ if i % 5 == 4 => {
                errors += 1;
                if errors % 2 == 1 {
                    Kind::TypeError
                } else {
                    Kind::SyntaxError
                }
            }
            Kind::AddComment => Kind::RemoveComment,
            _ => Kind::AddComment,
        };
        let text = match kind {
            Kind::AddComment => &commented,
            Kind::RemoveComment | Kind::Fix => base,
            Kind::TypeError => &type_error,
            Kind::SyntaxError => &syntax_error,
        };
        let (version, sent) = s.change(text);
        let (at, diagnostics, others) = s.wait_version(version);
        let expected_errors = matches!(kind, Kind::TypeError | Kind::SyntaxError);
        if (diagnostics > 0) != expected_errors {
            wrong.push(format!(
                "edit {i} ({}): {diagnostics} diagnostics",
                kind.name()
            ));
        }
        if !others.is_empty() {
            wrong.push(format!(
                "edit {i}: {} publishes of other versions before version {version}",
                others.len()
            ));
        }
        let t = ms(at - sent);
        latencies.push(t);
        by_kind.push((kind, t));
        current = kind;
    }
    let wall = started.elapsed();
    let cpu = s.cpu().saturating_sub(cpu_before);
    latencies.sort_by(f64::total_cmp);
    println!(
        "single edit ({edits}): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms; server CPU {:.0} ms per edit ({:.0} % of the phase's wall time)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        ms(cpu) / edits as f64,
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
    );
    let kinds = [
        Kind::AddComment,
        Kind::RemoveComment,
        Kind::TypeError,
        Kind::SyntaxError,
        Kind::Fix,
    ];
    let parts: Vec<String> = kinds
        .iter()
        .filter_map(|&k| {
            let mut t: Vec<f64> = by_kind
                .iter()
                .filter(|(kind, _)| *kind == k)
                .map(|(_, t)| *t)
                .collect();
            t.sort_by(f64::total_cmp);
            (!t.is_empty()).then(|| {
                format!(
                    "{} ({}) median {:.1} ms, max {:.1} ms",
                    k.name(),
                    t.len(),
                    percentile(&t, 0.5),
                    percentile(&t, 1.0)
                )
            })
        })
        .collect();
    println!("  by edit: {}", parts.join("; "));
    for w in wrong {
        println!("  unexpected: {w}");
    }
}

/// `bursts` bursts of typing, each waited for to its last version.
fn burst_runs(s: &mut Session, base: &str, bursts: usize) {
    const NOTE: &str = "the quick brown fox jumps over";
    let mut finals = Vec::new();
    let mut publishes = 0;
    let mut stale = 0;
    let mut worst_stale = 0;
    for b in 0..bursts {
        std::thread::sleep(Duration::from_millis(300));
        // Nothing left over from before.
        while s.next(Instant::now()).is_some() {}
        let mut sent = Vec::new();
        let start = Instant::now();
        for k in 0..BURST_EDITS {
            let due = start + BURST_GAP * k as u32;
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            let text = format!("{base}// note {b}: {}\n", &NOTE[..=k]);
            sent.push(s.change(&text));
        }
        let (last, last_at) = *sent.last().unwrap();
        let (at, _, mut seen) = s.wait_version(last);
        seen.push((Some(last), at));
        let until = Instant::now() + QUIET;
        while let Some((v, _, at)) = s.next(until) {
            seen.push((v, at));
        }
        let during = seen.iter().filter(|(_, at)| *at < last_at).count();
        // Stale: older than the newest version sent before it arrived.
        let old = |(v, at): &(Option<i64>, Instant)| {
            let newest = sent
                .iter()
                .filter(|(_, t)| t <= at)
                .map(|(v, _)| *v)
                .max()
                .unwrap_or(0);
            v.is_none_or(|v| v < newest)
        };
        let stale_here = seen.iter().filter(|p| old(p)).count();
        let late = seen.iter().filter(|(_, t)| *t > at).count();
        let versions: Vec<String> = seen
            .iter()
            .map(|(v, _)| v.map_or("none".to_owned(), |v| (v - sent[0].0 + 1).to_string()))
            .collect();
        let final_ms = ms(at - last_at);
        println!(
            "  burst {}: final diagnostics {final_ms:.0} ms after the last edit; {} publishes ({during} during the burst, {} after), {stale_here} stale, {late} after the final one; edits published: {}",
            b + 1,
            seen.len(),
            seen.len() - during,
            versions.join(" ")
        );
        finals.push(final_ms);
        publishes += seen.len();
        stale += stale_here;
        worst_stale = worst_stale.max(stale_here);
    }
    finals.sort_by(f64::total_cmp);
    println!(
        "burst ({bursts} x {BURST_EDITS} edits {} ms apart): final latency median {:.0} ms, worst {:.0} ms; {publishes} publishes, {stale} stale (at most {worst_stale} in one burst)",
        BURST_GAP.as_millis(),
        percentile(&finals, 0.5),
        percentile(&finals, 1.0)
    );
}

/// `nudge check` on the folder: three timed runs (ms, sorted), and the
/// peak resident memory (KB) of one more run under `/usr/bin/time`.
fn nudge_check(root: &Path) -> (Vec<f64>, Option<f64>) {
    let mut times = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_nudge"))
            .arg("check")
            .arg(root)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        times.push(ms(start.elapsed()));
        assert!(status.success(), "nudge check failed: {status}");
    }
    times.sort_by(f64::total_cmp);
    let time = PathBuf::from("/usr/bin/time");
    let peak = time.exists().then(|| {
        let out = Command::new(time)
            .args(["-f", "%M"])
            .arg(env!("CARGO_BIN_EXE_nudge"))
            .arg("check")
            .arg(root)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .and_then(|l| l.trim().parse::<f64>().ok())
    });
    (times, peak.flatten())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The value at `p` of sorted figures (nearest rank; with 50 figures,
/// p99 is the largest).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A `kB` field of `/proc/PID/status`.
fn status_kb(status: &str, field: &str) -> f64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split(' ')
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    let Ok(value) = std::env::var(name) else {
        return default.to_vec();
    };
    let list: Vec<usize> = value
        .split(',')
        .map(|v| {
            v.trim()
                .replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("{name}: `{v}` is not a number"))
        })
        .collect();
    assert!(!list.is_empty(), "{name} is empty");
    list
}

/// The `file://` URI of an absolute path.
fn file_uri(path: &Path) -> String {
    let mut out = String::from("file://");
    for b in path.to_str().unwrap().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[path = "../../nudge-check/benches/common/project_gen.rs"]
mod project_gen;
use project_gen::project;
