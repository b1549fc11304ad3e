//! The language server in-process, driven by random sessions: edits that
//! mutate the text, requests at random positions (past the end of lines
//! and of the file too), requests and notifications with malformed
//! parameters, unknown methods. Every request gets its answer in time, and
//! the server ends cleanly on `exit`.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use nudge_fuzz::{cases, corpus, hang_limit, mutate, Rng};
use serde_json::{json, Value};

struct Session {
    client: Connection,
    server: std::thread::JoinHandle<Result<(), String>>,
    next_id: i32,
    uri: String,
    _dir: tempfile::TempDir,
}

impl Session {
    fn start(text: &str) -> Session {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzz.flow");
        std::fs::write(&path, text).unwrap();
        let uri = format!("file://{}", path.display());
        let (server_side, client) = Connection::memory();
        let server = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || nudge_lsp::run(&server_side).map_err(|e| e.to_string()))
            .unwrap();
        let mut s = Session {
            client,
            server,
            next_id: 1,
            uri,
            _dir: dir,
        };
        let root = format!("file://{}", s._dir.path().display());
        let init = s.request(
            "initialize",
            json!({ "processId": null, "rootUri": root, "capabilities": {} }),
        );
        assert!(init.get("result").is_some(), "{init}");
        s.notify("initialized", json!({}));
        let uri = s.uri.clone();
        s.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "flow", "version": 1, "text": text } }),
        );
        s
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.client
            .sender
            .send(Notification::new(method.to_owned(), params).into())
            .unwrap();
    }

    /// Sends a request and waits for its answer (result or error).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.client
            .sender
            .send(Request::new(RequestId::from(id), method.to_owned(), params).into())
            .unwrap();
        let deadline = Instant::now() + hang_limit();
        loop {
            if self.server.is_finished() {
                panic!("the server stopped while `{method}` waited for its answer");
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .client
                .receiver
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(Message::Response(r)) if r.id == RequestId::from(id) => {
                    let r = serde_json::to_value(r).unwrap();
                    // The server answers a handler that panicked with an
                    // internal error and goes on: for the fuzzer, a bug.
                    assert_ne!(
                        r["error"]["code"],
                        json!(-32603),
                        "`{method}` panicked: {r}"
                    );
                    return r;
                }
                Ok(_) => {}
                Err(_) if Instant::now() >= deadline => {
                    panic!("no answer to `{method}` within {:?}", hang_limit())
                }
                Err(_) => {}
            }
        }
    }

    fn finish(mut self) {
        let r = self.request("shutdown", Value::Null);
        assert_eq!(r["result"], Value::Null, "{r}");
        let after = self.request("textDocument/hover", json!({}));
        assert_eq!(after["error"]["code"], json!(-32600), "{after}");
        self.notify("exit", Value::Null);
        let outcome = self
            .server
            .join()
            .unwrap_or_else(|_| Err("panicked".into()));
        assert_eq!(outcome, Ok(()));
    }
}

const METHODS: &[&str] = &[
    "textDocument/hover",
    "textDocument/completion",
    "textDocument/definition",
    "textDocument/formatting",
    "textDocument/documentSymbol",
    "textDocument/codeAction",
];

/// The positions (line, UTF-16 character) just after each character of
/// several bytes: where slicing by bytes breaks.
fn after_wide_chars(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut line, mut character) = (0, 0);
    for c in text.chars() {
        if c == '\n' {
            line += 1;
            character = 0;
            continue;
        }
        character += c.len_utf16();
        if c.len_utf8() > 1 {
            out.push((line, character));
        }
    }
    out
}

fn position(rng: &mut Rng, text: &str) -> Value {
    let wide = after_wide_chars(text);
    if !wide.is_empty() && rng.below(4) == 0 {
        let (line, character) = wide[rng.below(wide.len())];
        return json!({ "line": line, "character": character });
    }
    let lines = text.lines().count();
    let line = rng.below(lines + 3);
    let width = text
        .lines()
        .nth(line)
        .map_or(0, |l| l.encode_utf16().count());
    let character = if rng.below(4) == 0 {
        rng.below(500)
    } else {
        rng.below(width + 2)
    };
    json!({ "line": line, "character": character })
}

fn params(rng: &mut Rng, uri: &str, text: &str) -> Value {
    let doc = json!({ "uri": uri });
    match rng.below(12) {
        // Malformed: what an editor with a bug, or a fuzzer, sends.
        0 => json!({}),
        1 => json!(null),
        2 => json!({ "textDocument": { "uri": 7 }, "position": "here" }),
        3 => {
            json!({ "textDocument": { "uri": "file:///elsewhere/none.flow" }, "position": { "line": 0, "character": 0 } })
        }
        4 => {
            json!({ "textDocument": doc, "position": { "line": -1, "character": 4_294_967_295_u64 } })
        }
        _ => {
            let pos = position(rng, text);
            json!({
                "textDocument": doc,
                "position": pos,
                "options": { "tabSize": 2, "insertSpaces": true },
                "range": { "start": pos, "end": pos },
                "context": { "diagnostics": [] },
            })
        }
    }
}

#[test]
fn random_sessions_are_answered_and_the_server_survives() {
    let corpus = corpus();
    let (n, seed) = cases(30);
    let mut requests = 0;
    let mut useful = 0;
    for s in seed..seed + n {
        let mut rng = Rng::new(s);
        let mut text = corpus[rng.below(corpus.len())].clone();
        let mut session = Session::start(&text);
        let uri = session.uri.clone();
        for version in 2..2 + 25 {
            match rng.below(5) {
                0 => {
                    text = mutate(&mut rng, &text);
                    session.notify(
                        "textDocument/didChange",
                        json!({
                            "textDocument": { "uri": uri, "version": version },
                            "contentChanges": [{ "text": text }],
                        }),
                    );
                }
                1 if rng.below(4) == 0 => {
                    // Notifications with broken parameters, or none known.
                    let method = rng.pick(&[
                        "textDocument/didChange",
                        "textDocument/didOpen",
                        "x/unknown",
                    ]);
                    session.notify(method, json!({ "textDocument": 3 }));
                }
                2 if rng.below(6) == 0 => {
                    let r = session.request("x/unknown", json!({}));
                    assert!(r.get("error").is_some(), "{r}");
                    requests += 1;
                }
                _ => {
                    let method = rng.pick(METHODS);
                    let p = params(&mut rng, &uri, &text);
                    let r = session.request(method, p);
                    if !r["result"].is_null() && r.get("result").is_some() {
                        useful += 1;
                    }
                    assert!(
                        r.get("result").is_some() || r.get("error").is_some(),
                        "seed {s}: {method}: {r}"
                    );
                    requests += 1;
                }
            }
        }
        session.finish();
    }
    println!(
        "{n} sessions, {requests} requests answered, {useful} with a result (seeds {seed}..{})",
        seed + n
    );
}

/// Completion right after a character of several bytes, the whole text
/// being that character: the server used to die (and, with the catch-all,
/// answered an internal error).
#[test]
fn completion_after_a_wide_character_is_answered() {
    for text in [
        "ß",
        "é.",
        "😀",
        "\u{2028}",
        "\u{feff}",
        "workflow w {\n  on é",
    ] {
        let mut session = Session::start(text);
        let uri = session.uri.clone();
        let (line, character) = after_wide_chars(text).last().copied().unwrap_or((0, 1));
        let r = session.request(
            "textDocument/completion",
            json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } }),
        );
        assert!(r.get("result").is_some(), "{text:?}: {r}");
        session.finish();
    }
}

/// Formatting a buffer with a byte order mark inside it (the formatter
/// used to panic, and the server with it).
#[test]
fn formatting_a_buffer_with_a_byte_order_mark_inside_is_answered() {
    for text in [
        "enum E { a \u{feff}b }\n",
        "profile {\n  x: int\n\u{feff}}\n",
        "/// d\n\u{feff}profile { x: int }\n",
    ] {
        let mut session = Session::start(text);
        let uri = session.uri.clone();
        let r = session.request(
            "textDocument/formatting",
            json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
        );
        let edits = r["result"]
            .as_array()
            .unwrap_or_else(|| panic!("{text:?}: {r}"));
        assert!(!edits.is_empty(), "{text:?}: {r}");
        session.finish();
    }
}
