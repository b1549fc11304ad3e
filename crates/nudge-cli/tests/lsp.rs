//! `nudge lsp` spoken to over stdio, as an editor does: JSON-RPC messages
//! with `Content-Length` headers, to the real process. These are the smoke
//! tests of the stdio transport and the process: malformed frames, a clean
//! exit, and one session end to end. Every read has a deadline, so a server
//! that hangs fails the test instead of blocking the run.
//!
//! What the server answers (diagnostics, hover, definition, completion,
//! formatting, code actions, symbols) is tested in-process, without the
//! transport, in `crates/nudge-lsp/tests/server.rs`.

// Helpers fail the test that calls them, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use serde_json::{json, Value};

/// How long to wait for one message before calling the server hung.
const DEADLINE: Duration = Duration::from_secs(30);

const SCHEMA: &str = r#"/// Plans a customer can be on.
enum Plan {
  starter
  /// The paid plan.
  pro
}

profile {
  /// Where emails go.
  email: email?
  phone: phone?
  plan: Plan
}

/// A shopper left items in the cart.
event checkout_abandoned { cart_total: float, product_name: string }
event order_completed { total: float }
"#;

/// A flow with non-ASCII text before a syntax error on line 4 (`wait 5`).
const BROKEN: &str = "workflow remind {\n  on checkout_abandoned\n  audience profile.phone != none\n  send sms \"héllo 🎉 {event.product_name}\" wait 5\n}\n";
const FIXED: &str = "workflow remind {\n  on checkout_abandoned\n  audience profile.phone != none\n  send sms \"héllo 🎉 {event.product_name}\" wait 5m\n}\n";

/// A `nudge lsp` process. Messages the test does not wait for (the
/// diagnostics of a file nobody asks about, say) are passed over.
struct Server {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: i64,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `nudge lsp` on a project holding `schema.flow` and
    /// `remind.flow` (broken), and initializes it.
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("schema.flow"), SCHEMA).unwrap();
        std::fs::write(dir.path().join("remind.flow"), BROKEN).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_nudge"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, incoming) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if tx.send(message).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            stdin,
            incoming,
            next_id: 1,
            dir,
        };
        let root = uri(server.dir.path());
        let result = server.request(
            "initialize",
            json!({ "processId": null, "rootUri": root, "capabilities": {} }),
        );
        assert!(result["capabilities"].is_object(), "{result}");
        server.notify("initialized", json!({}));
        server
    }

    fn uri(&self, name: &str) -> String {
        uri(&self.dir.path().join(name))
    }

    /// Writes `bytes` as they are: a frame, or something that is not one.
    fn write(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).unwrap();
        self.stdin.flush().unwrap();
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        self.write(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    fn next(&mut self) -> Value {
        self.incoming
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|e| panic!("no message from the server within {DEADLINE:?}: {e}"))
    }

    /// Sends a request and returns its result (panics on an error response).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.request_raw(method, params);
        assert!(
            response.get("error").is_none(),
            "{method} failed: {response}"
        );
        response["result"].clone()
    }

    fn request_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let message = self.next();
            if message["id"] == json!(id) && message.get("method").is_none() {
                return message;
            }
        }
    }

    /// The next `publishDiagnostics` for `uri`.
    fn diagnostics_for(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let m = self.next();
            if m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri {
                return m["params"]["diagnostics"].as_array().unwrap().clone();
            }
        }
    }

    fn open(&mut self, name: &str, text: &str) {
        let uri = self.uri(name);
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "flow", "version": 1, "text": text } }),
        );
    }

    /// `shutdown` then `exit`; returns whether the process exited cleanly.
    fn shutdown(mut self) -> bool {
        let result = self.request("shutdown", Value::Null);
        assert_eq!(result, Value::Null);
        self.exit()
    }

    /// `exit`; returns whether the process exited cleanly.
    fn exit(mut self) -> bool {
        self.notify("exit", Value::Null);
        // The reader thread sees end of file once the server is gone.
        loop {
            match self.incoming.recv_timeout(DEADLINE) {
                Ok(_) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("the server did not exit after `exit`");
                }
            }
        }
        self.child.wait().unwrap().success()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = n.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn uri(path: &Path) -> String {
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

/// One session end to end: initialize, open a broken file (its `é` and
/// emoji make `Content-Length`, in bytes, differ from its length in
/// characters), get its diagnostic, then `shutdown` and `exit` with status 0.
#[test]
fn a_broken_file_gets_its_diagnostics_over_stdio() {
    let mut server = Server::start();
    server.open("remind.flow", BROKEN);
    let uri = server.uri("remind.flow");
    let diagnostics = server.diagnostics_for(&uri);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!(diagnostics[0]["code"], "nudge::parse::unexpected");
    assert_eq!(diagnostics[0]["range"]["start"]["line"], 3);
    assert!(server.shutdown());
}

#[test]
fn shutdown_then_exit_ends_the_process_cleanly() {
    let server = Server::start();
    assert!(server.shutdown());
}

/// Malformed frames and payloads are answered with the JSON-RPC error and
/// the server keeps serving: a hover sent after each gets its answer. A
/// request after `shutdown` is refused, and only `exit` ends the process
/// (each of these used to stop the server).
#[test]
fn malformed_messages_are_answered_and_the_server_keeps_serving() {
    let mut server = Server::start();
    server.open("remind.flow", FIXED);
    let malformed: [(&[u8], i64); 8] = [
        (b"Content-Length: 8\r\n\r\nnot json", -32700),
        (b"Content-Length: 2\r\n\r\n{}", -32600),
        (b"Content-Length: 2\r\n\r\n[]", -32600),
        (b"Content-Length: 4\r\n\r\nnull", -32600),
        (b"Content-Length: 8\r\n\r\n[\"exit\"]", -32600),
        (b"Content-Length: 3\r\n\r\n\"\xff\"", -32700),
        (b"Content-Length: many\r\n\r\n", -32700),
        (b"Content-Type: x\r\n\r\n", -32700),
    ];
    let float_id = r#"{"jsonrpc":"2.0","id":2.5,"method":"textDocument/hover"}"#;
    let float_id = format!("Content-Length: {}\r\n\r\n{float_id}", float_id.len());
    let malformed = malformed.into_iter().chain([(float_id.as_bytes(), -32600)]);
    // On `checkout_abandoned` in `  on checkout_abandoned` (line 1, ASCII).
    let hover = json!({
        "textDocument": { "uri": server.uri("remind.flow") },
        "position": { "line": 1, "character": 7 },
    });
    for (bytes, code) in malformed {
        server.write(bytes);
        let error = loop {
            let m = server.next();
            if m.get("error").is_some() {
                break m;
            }
        };
        assert_eq!(
            error["error"]["code"],
            json!(code),
            "{} gave {error}",
            String::from_utf8_lossy(bytes)
        );
        let hover = server.request("textDocument/hover", hover.clone());
        assert!(hover["contents"].is_object(), "{hover}");
    }
    let result = server.request("shutdown", Value::Null);
    assert_eq!(result, Value::Null);
    let refused = server.request_raw("textDocument/hover", json!({}));
    assert_eq!(refused["error"]["code"], json!(-32600), "{refused}");
    assert!(server.exit());
}
