//! The language server in-process, spoken to as an editor does: the
//! server loop (`nudge_lsp::run`) on a thread of its own, the test on the
//! other end of an in-memory `lsp_server::Connection`. Every wait has a
//! deadline, so a server that hangs fails the test instead of blocking the
//! run, and one that stops fails it at once.
//!
//! The stdio transport (`Content-Length` frames, malformed ones) and the
//! `nudge lsp` process are tested in `crates/nudge-cli/tests/lsp.rs`.

// Helpers fail the test that calls them, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{json, Value};

/// How long to wait for one answer before calling the server hung.
const DEADLINE: Duration = Duration::from_secs(30);

/// The stack of the server's thread: the one `nudge` runs its commands on.
const STACK_SIZE: usize = 64 << 20;

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

/// The client end of a server running on a thread.
struct Server {
    client: Connection,
    /// The thread running `nudge_lsp::run`, until it is joined.
    thread: Option<JoinHandle<Result<(), String>>>,
    /// Notifications that arrived while waiting for something else.
    pending: Vec<Value>,
    next_id: i32,
    dir: tempfile::TempDir,
    /// The result of `initialize`.
    init: Value,
}

impl Server {
    /// Starts the server on a project holding `schema.flow` and
    /// `remind.flow` (broken), and initializes it.
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("schema.flow"), SCHEMA).unwrap();
        std::fs::write(dir.path().join("remind.flow"), BROKEN).unwrap();
        let (server_side, client) = Connection::memory();
        let thread = std::thread::Builder::new()
            .name("nudge-lsp".into())
            .stack_size(STACK_SIZE)
            .spawn(move || nudge_lsp::run(&server_side).map_err(|e| e.to_string()))
            .unwrap();
        let mut server = Server {
            client,
            thread: Some(thread),
            pending: Vec::new(),
            next_id: 1,
            dir,
            init: Value::Null,
        };
        let root = uri(server.dir.path());
        let result = server.request(
            "initialize",
            json!({ "processId": null, "rootUri": root, "capabilities": {} }),
        );
        assert!(result["capabilities"].is_object(), "{result}");
        server.init = result;
        server.notify("initialized", json!({}));
        server
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn uri(&self, name: &str) -> String {
        uri(&self.path(name))
    }

    fn send(&mut self, message: Message) {
        if self.client.sender.send(message).is_err() {
            panic!("the server has stopped: {}", self.stopped());
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(Notification::new(method.to_owned(), params).into());
    }

    /// The next message from the server, as JSON, if it comes before
    /// `deadline`; `waiting_for` says what for when it does not.
    fn next(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.client.receiver.recv_timeout(left) {
            Ok(message) => serde_json::to_value(message).unwrap(),
            Err(e) if e.is_disconnected() => {
                panic!(
                    "the server stopped while waiting for {waiting_for}: {}",
                    self.stopped()
                )
            }
            Err(_) => panic!("no {waiting_for} from the server within {DEADLINE:?}"),
        }
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

    /// Sends a request and returns the response to it (result or error),
    /// keeping the notifications that come before it.
    fn request_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(Request::new(RequestId::from(id), method.to_owned(), params).into());
        let deadline = Instant::now() + DEADLINE;
        let waiting_for = format!("the answer to `{method}`");
        loop {
            let message = self.next(deadline, &waiting_for);
            if message["id"] == json!(id) && message.get("method").is_none() {
                return message;
            }
            self.pending.push(message);
        }
    }

    /// The next `publishDiagnostics` for `uri`.
    fn diagnostics_for(&mut self, uri: &str) -> Vec<Value> {
        self.publish_for(uri)["diagnostics"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// The next `publishDiagnostics` for `uri`: its parameters.
    fn publish_for(&mut self, uri: &str) -> Value {
        let is_it = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        };
        if let Some(i) = self.pending.iter().position(is_it) {
            let m = self.pending.remove(i);
            return m["params"].clone();
        }
        let deadline = Instant::now() + DEADLINE;
        let waiting_for = format!("diagnostics for {uri}");
        loop {
            let m = self.next(deadline, &waiting_for);
            if is_it(&m) {
                return m["params"].clone();
            }
            self.pending.push(m);
        }
    }

    fn open(&mut self, name: &str, text: &str) {
        let uri = self.uri(name);
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "flow", "version": 1, "text": text } }),
        );
    }

    fn change(&mut self, name: &str, version: i32, text: &str) {
        let uri = self.uri(name);
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri, "version": version },
                "contentChanges": [{ "text": text }],
            }),
        );
    }

    /// `textDocument/<method>` at the position of the first occurrence of
    /// `needle` in `text`, plus `shift` UTF-16 units.
    fn at(&mut self, method: &str, name: &str, text: &str, needle: &str, shift: u32) -> Value {
        let offset = text
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` not in text"));
        let (line, character) = utf16_position(text, offset);
        let uri = self.uri(name);
        self.request(
            &format!("textDocument/{method}"),
            json!({
                "textDocument": { "uri": uri },
                "position": { "line": line, "character": character + shift },
            }),
        )
    }

    /// Like [`Server::shutdown`], and no file under `folder` (a URI) was
    /// reported with a problem.
    fn shutdown_checking_no_diagnostics(self, folder: &str) -> bool {
        self.finish(Some(folder))
    }

    /// `shutdown` then `exit`; returns whether the server ended cleanly.
    fn shutdown(self) -> bool {
        self.finish(None)
    }

    fn finish(mut self, clean: Option<&str>) -> bool {
        let result = self.request("shutdown", Value::Null);
        assert_eq!(result, Value::Null);
        if let Some(folder) = clean {
            for m in &self.pending {
                let uri = m["params"]["uri"].as_str().unwrap_or_default();
                if m["method"] == "textDocument/publishDiagnostics" && uri.starts_with(folder) {
                    assert_eq!(m["params"]["diagnostics"], json!([]), "{m:#}");
                }
            }
        }
        self.exit()
    }

    /// `exit`; returns whether `nudge_lsp::run` then returned `Ok`.
    fn exit(mut self) -> bool {
        self.notify("exit", Value::Null);
        match self.join() {
            Ok(()) => true,
            Err(e) => {
                eprintln!("the server ended with an error: {e}");
                false
            }
        }
    }

    /// Waits (up to the deadline) for the server's thread to end, and
    /// returns what `nudge_lsp::run` returned.
    fn join(&mut self) -> Result<(), String> {
        let thread = self
            .thread
            .take()
            .ok_or_else(|| "the server was already joined".to_owned())?;
        let deadline = Instant::now() + DEADLINE;
        while !thread.is_finished() {
            assert!(
                Instant::now() < deadline,
                "the server did not end within {DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        thread
            .join()
            .unwrap_or_else(|_| Err("the server's thread panicked".to_owned()))
    }

    /// Why the server stopped, for a test that did not expect it to.
    fn stopped(&mut self) -> String {
        match self.join() {
            Ok(()) => "`nudge_lsp::run` returned `Ok`".to_owned(),
            Err(e) => e,
        }
    }
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

/// 0-based line and UTF-16 column of a byte offset, counted independently
/// of the server's code.
fn utf16_position(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let character = text[line_start..offset].encode_utf16().count();
    (line as u32, character as u32)
}

#[test]
fn initialize_announces_the_features() {
    let mut server = Server::start();
    let init = server.init.clone();
    let caps = &init["capabilities"];
    assert_eq!(init["serverInfo"]["name"], "nudge");
    assert_eq!(caps["textDocumentSync"], 1, "full document sync");
    assert_eq!(caps["hoverProvider"], true);
    assert_eq!(caps["definitionProvider"], true);
    assert_eq!(caps["documentSymbolProvider"], true);
    assert_eq!(caps["documentFormattingProvider"], true);
    assert_eq!(
        caps["codeActionProvider"]["codeActionKinds"],
        json!(["quickfix"])
    );
    assert!(caps["completionProvider"]["triggerCharacters"]
        .as_array()
        .unwrap()
        .contains(&json!(".")));
    // A second `initialize` is a protocol error, and the server stays up.
    let response = server.request_raw("initialize", json!({ "capabilities": {} }));
    assert!(response.get("error").is_some(), "{response}");
    assert!(server.shutdown());
}

#[test]
fn did_open_of_a_broken_file_publishes_its_error_with_utf16_positions() {
    let mut server = Server::start();
    server.open("remind.flow", BROKEN);
    let uri = server.uri("remind.flow");
    let diagnostics = server.diagnostics_for(&uri);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let d = &diagnostics[0];
    let offset = BROKEN.find("5\n").unwrap();
    let (line, character) = utf16_position(BROKEN, offset);
    // The line has an `é` and an emoji before the error: bytes, characters
    // and UTF-16 units all differ there.
    let line_start = BROKEN[..offset].rfind('\n').unwrap() + 1;
    assert_ne!(character as usize, offset - line_start);
    assert_ne!(
        character as usize,
        BROKEN[line_start..offset].chars().count()
    );
    assert_eq!(
        d["range"]["start"],
        json!({ "line": line, "character": character })
    );
    assert_eq!(
        d["range"]["end"],
        json!({ "line": line, "character": character + 1 })
    );
    assert_eq!(d["severity"], 1);
    assert_eq!(d["code"], "nudge::parse::unexpected");
    assert_eq!(d["source"], "nudge");
    let message = d["message"].as_str().unwrap();
    assert!(message.contains("found `5`"), "{message}");
    assert!(
        message.contains("help: durations are a number and a unit"),
        "{message}"
    );
    assert!(server.shutdown());
}

#[test]
fn did_change_that_fixes_the_file_clears_its_diagnostics() {
    let mut server = Server::start();
    server.open("remind.flow", BROKEN);
    let uri = server.uri("remind.flow");
    assert_eq!(server.diagnostics_for(&uri).len(), 1);
    server.change("remind.flow", 2, FIXED);
    assert_eq!(server.diagnostics_for(&uri), Vec::<Value>::new());
    // Type errors come too, as `nudge check` reports them.
    server.change(
        "remind.flow",
        3,
        &FIXED.replace("wait 5m", "if profile.plan == Pro { exit }"),
    );
    let diagnostics = server.diagnostics_for(&uri);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert!(
        diagnostics[0]["code"]
            .as_str()
            .unwrap()
            .starts_with("nudge::check::"),
        "{diagnostics:#?}"
    );
    server.change("remind.flow", 4, FIXED);
    assert_eq!(server.diagnostics_for(&uri), Vec::<Value>::new());
    // And breaking it again brings the error back: the buffer, not the
    // file on disk (still broken), is what counts.
    server.change("remind.flow", 5, &FIXED.replace("wait 5m", "wait"));
    assert_eq!(server.diagnostics_for(&uri).len(), 1);
    assert!(server.shutdown());
}

#[test]
fn a_burst_of_changes_ends_with_the_diagnostics_of_the_last() {
    let mut server = Server::start();
    server.open("remind.flow", BROKEN);
    let uri = server.uri("remind.flow");
    assert_eq!(server.diagnostics_for(&uri).len(), 1);
    // Twenty edits sent at once, alternately fixing and breaking the
    // syntax, then one with a type error instead: however many of them are
    // checked, the diagnostics that stand are the last text's.
    for version in 2..=21 {
        let text = if version % 2 == 1 { FIXED } else { BROKEN };
        server.change("remind.flow", version, text);
    }
    let last = FIXED.replace("wait 5m", "if profile.plan == Pro { exit }");
    server.change("remind.flow", 22, &last);
    let is_last = |d: &[Value]| {
        d.len() == 1
            && d[0]["code"]
                .as_str()
                .is_some_and(|c| c.starts_with("nudge::check::"))
    };
    // Each publish names the version it is of; they never go back, and the
    // burst is checked far fewer times than it has edits.
    let mut versions = Vec::new();
    loop {
        let p = server.publish_for(&uri);
        versions.push(p["version"].as_i64().unwrap());
        if is_last(p["diagnostics"].as_array().unwrap()) {
            break;
        }
    }
    eprintln!("publishes for a burst of 21 edits: versions {versions:?}");
    assert!(versions.windows(2).all(|w| w[0] <= w[1]), "{versions:?}");
    assert_eq!(versions.last(), Some(&22));
    assert!(versions.len() <= 11, "{versions:?}");
    // Nothing about the file comes after that: a request answered later
    // finds no diagnostics left behind it.
    server.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    let later: Vec<&Value> = server
        .pending
        .iter()
        .filter(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri)
        .collect();
    assert!(later.is_empty(), "{later:#?}");
    assert!(server.shutdown());
}

#[test]
fn a_change_in_one_file_updates_the_diagnostics_of_the_others() {
    let mut server = Server::start();
    server.open("remind.flow", FIXED);
    let remind = server.uri("remind.flow");
    assert_eq!(server.diagnostics_for(&remind), Vec::<Value>::new());
    // Renaming the event in the (unsaved) schema breaks the workflow that
    // uses it, in the other file.
    let renamed = SCHEMA.replace("event checkout_abandoned", "event cart_abandoned");
    server.open("schema.flow", &renamed);
    let diagnostics = server.diagnostics_for(&remind);
    assert!(!diagnostics.is_empty());
    let message = diagnostics[0]["message"].as_str().unwrap();
    assert!(message.contains("checkout_abandoned"), "{message}");
    // Undoing the rename clears them again.
    server.change("schema.flow", 2, SCHEMA);
    assert_eq!(server.diagnostics_for(&remind), Vec::<Value>::new());
    assert!(server.shutdown());
}

#[test]
fn related_places_in_other_files_come_as_related_information() {
    let mut server = Server::start();
    // Files are checked in name order: `upgrade.flow` after `schema.flow`
    // holds the second declaration.
    let text = "event order_completed { total: float }\n";
    server.open("upgrade.flow", text);
    let uri = server.uri("upgrade.flow");
    let diagnostics = server.diagnostics_for(&uri);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let d = &diagnostics[0];
    assert_eq!(d["code"], "nudge::check::duplicate_declaration");
    assert_eq!(
        d["range"]["start"],
        json!({ "line": 0, "character": 6 }),
        "{d:#}"
    );
    let related = d["relatedInformation"].as_array().unwrap();
    let first = related
        .iter()
        .find(|r| r["location"]["uri"] == server.uri("schema.flow"))
        .unwrap_or_else(|| panic!("no related place in schema.flow: {d:#}"));
    let offset = SCHEMA.find("order_completed").unwrap();
    let (line, character) = utf16_position(SCHEMA, offset);
    assert_eq!(
        first["location"]["range"]["start"],
        json!({ "line": line, "character": character })
    );
    assert!(server.shutdown());
}

#[test]
fn the_graph_command_draws_the_project_of_a_document() {
    let mut server = Server::start();
    assert_eq!(
        server.init["capabilities"]["executeCommandProvider"]["commands"],
        json!(["nudge.graph"])
    );
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let file = examples.canonicalize().unwrap().join("onboarding.flow");
    let uri = uri(&file);
    let mermaid = server.request(
        "workspace/executeCommand",
        json!({ "command": "nudge.graph", "arguments": [uri, "onboarding"] }),
    );
    let text = mermaid.as_str().unwrap();
    assert!(text.starts_with("flowchart TD"), "{text}");
    assert!(text.contains("split welcome_subject"), "{text}");
    let missing = server.request_raw(
        "workspace/executeCommand",
        json!({ "command": "nudge.graph", "arguments": [uri, "nope"] }),
    );
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no workflow `nope`"),
        "{missing}"
    );
    assert!(server.shutdown());
}

#[test]
fn the_examples_are_clean_in_the_editor_too() {
    let mut server = Server::start();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let examples = examples.canonicalize().unwrap();
    let file = examples.join("onboarding.flow");
    let text = std::fs::read_to_string(&file).unwrap();
    let uri = uri(&file);
    server.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "flow", "version": 1, "text": text } }),
    );
    // Template files (`file("templates/…")`) are found next to the flows,
    // and no file of the project has a problem.
    assert_eq!(server.diagnostics_for(&uri), Vec::<Value>::new());
    let symbols = server.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert!(symbols.as_array().unwrap().len() >= 5);
    assert!(server.shutdown_checking_no_diagnostics(&super_uri(&examples)));
}

/// The URI of a folder, as a prefix of its files' URIs.
fn super_uri(folder: &Path) -> String {
    format!("{}/", uri(folder).trim_end_matches('/'))
}

#[test]
fn the_workspace_is_checked_without_opening_a_file() {
    // Two projects under the root: one broken, one clean, and one in a
    // hidden folder, which is not looked at.
    let root = tempfile::tempdir().unwrap();
    for (folder, text) in [("shop", BROKEN), ("blog", FIXED), (".cache", BROKEN)] {
        let dir = root.path().join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("schema.flow"), SCHEMA).unwrap();
        std::fs::write(dir.join("remind.flow"), text).unwrap();
    }
    let (server_side, client) = Connection::memory();
    let thread = std::thread::Builder::new()
        .stack_size(STACK_SIZE)
        .spawn(move || nudge_lsp::run(&server_side).map_err(|e| e.to_string()))
        .unwrap();
    let mut server = Server {
        client,
        thread: Some(thread),
        pending: Vec::new(),
        next_id: 1,
        dir: tempfile::tempdir().unwrap(),
        init: Value::Null,
    };
    let folders = json!([{ "uri": uri(root.path()), "name": "root" }]);
    let capabilities =
        json!({ "workspace": { "didChangeWatchedFiles": { "dynamicRegistration": true } } });
    server.request(
        "initialize",
        json!({ "processId": null, "workspaceFolders": folders, "capabilities": capabilities }),
    );
    server.notify("initialized", json!({}));
    // No document is open: the broken project's file is reported all the
    // same, and the server asks to be told of changed `.flow` files.
    let broken = uri(&root.path().join("shop/remind.flow"));
    assert_eq!(server.diagnostics_for(&broken).len(), 1);
    let registration = server
        .pending
        .iter()
        .find(|m| m["method"] == "client/registerCapability")
        .cloned()
        .unwrap_or_else(|| panic!("no registration: {:#?}", server.pending));
    let watcher = &registration["params"]["registrations"][0];
    assert_eq!(watcher["method"], "workspace/didChangeWatchedFiles");
    assert_eq!(
        watcher["registerOptions"]["watchers"][0]["globPattern"],
        "**/*.flow"
    );
    // A change on disk (a `git checkout`) fixes it.
    std::fs::write(root.path().join("shop/remind.flow"), FIXED).unwrap();
    server.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": broken, "type": 2 }] }),
    );
    assert_eq!(server.diagnostics_for(&broken), Vec::<Value>::new());
    // A folder removed from the workspace takes its diagnostics along.
    std::fs::write(root.path().join("shop/remind.flow"), BROKEN).unwrap();
    server.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": broken, "type": 2 }] }),
    );
    assert_eq!(server.diagnostics_for(&broken).len(), 1);
    server.notify(
        "workspace/didChangeWorkspaceFolders",
        json!({ "event": { "added": [], "removed": folders } }),
    );
    assert_eq!(server.diagnostics_for(&broken), Vec::<Value>::new());
    let hidden = uri(&root.path().join(".cache/remind.flow"));
    assert!(server.shutdown_checking_no_diagnostics(&hidden));
}

#[test]
fn a_deleted_file_loses_its_diagnostics() {
    let mut server = Server::start();
    // `remind.flow` on disk is broken; opening the schema reports it too.
    server.open("schema.flow", SCHEMA);
    let remind = server.uri("remind.flow");
    assert_eq!(server.diagnostics_for(&remind).len(), 1);
    std::fs::remove_file(server.path("remind.flow")).unwrap();
    server.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": remind, "type": 3 }] }),
    );
    assert_eq!(server.diagnostics_for(&remind), Vec::<Value>::new());
    assert!(server.shutdown());
}

#[test]
fn a_malformed_notification_does_not_stop_the_server() {
    let mut server = Server::start();
    server.notify("textDocument/didOpen", json!({ "textDocument": 42 }));
    let uri = server.uri("schema.flow");
    let symbols = server.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert_eq!(symbols.as_array().unwrap().len(), 4);
    let response = server.request_raw("textDocument/hover", json!({ "nonsense": true }));
    assert_eq!(response["error"]["code"], -32602, "{response}");
    assert!(server.shutdown());
}

#[test]
fn hover_shows_types_docs_and_enum_members() {
    let mut server = Server::start();
    let text = format!(
        "{FIXED}segment paid = profile.plan == pro and profile.email != none\n\
         workflow big {{\n  on checkout_abandoned where event.cart_total > 100.0\n  send email {{ subject: \"hi\" }}\n}}\n"
    );
    server.open("remind.flow", &text);

    let hover = server.at("hover", "remind.flow", &text, "plan ==", 0);
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("profile.plan: Plan"), "{value}");

    let hover = server.at("hover", "remind.flow", &text, "email != none", 1);
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("profile.email: email?"), "{value}");
    assert!(value.contains("Where emails go."), "{value}");

    let hover = server.at("hover", "remind.flow", &text, "cart_total >", 2);
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("cart_total: float"), "{value}");
    assert!(
        value.contains("property of event `checkout_abandoned`"),
        "{value}"
    );

    let hover = server.at("hover", "remind.flow", &text, "pro and", 1);
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("member of enum `Plan`"), "{value}");
    assert!(value.contains("The paid plan."), "{value}");

    // A declaration's doc comment, from another file of the project.
    let hover = server.at("hover", "remind.flow", &text, "checkout_abandoned\n", 3);
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(
        value.contains("event checkout_abandoned { cart_total: float, product_name: string }"),
        "{value}"
    );
    assert!(
        value.contains("A shopper left items in the cart."),
        "{value}"
    );
    // The range is the word hovered, in UTF-16 units.
    let offset = text.find("checkout_abandoned\n").unwrap();
    let (line, character) = utf16_position(&text, offset);
    assert_eq!(
        hover["range"]["start"],
        json!({ "line": line, "character": character })
    );

    // Nothing to say about a keyword.
    let hover = server.at("hover", "remind.flow", &text, "workflow big", 1);
    assert_eq!(hover, Value::Null);
    assert!(server.shutdown());
}

#[test]
fn definition_jumps_to_declarations_in_other_files() {
    let mut server = Server::start();
    let text = format!("{FIXED}segment paid = profile.plan == pro\n");
    server.open("remind.flow", &text);
    let schema = server.uri("schema.flow");
    // `word` where `needle` starts in the schema.
    let expect = |location: &Value, needle: &str, word: &str| {
        assert_eq!(location["uri"], schema, "{location}");
        let offset = SCHEMA.find(needle).unwrap();
        let (line, character) = utf16_position(SCHEMA, offset);
        assert_eq!(
            location["range"]["start"],
            json!({ "line": line, "character": character })
        );
        let end = utf16_position(SCHEMA, offset + word.len());
        assert_eq!(
            location["range"]["end"],
            json!({ "line": end.0, "character": end.1 })
        );
    };
    // An event, from a trigger.
    let location = server.at("definition", "remind.flow", &text, "checkout_abandoned", 3);
    expect(&location, "checkout_abandoned", "checkout_abandoned");
    // An enum member.
    let location = server.at("definition", "remind.flow", &text, "pro\n", 0);
    expect(&location, "pro\n}", "pro");
    // A profile field.
    let location = server.at("definition", "remind.flow", &text, "plan ==", 1);
    expect(&location, "plan: Plan", "plan");
    // An event property inside a string's interpolation.
    let location = server.at("definition", "remind.flow", &text, "product_name}", 1);
    expect(&location, "product_name: string", "product_name");

    // Segments, templates and workflows, in the same file.
    let text = "/// Paying customers.\nsegment paid = profile.plan == pro\n\
                template hi: email for checkout_abandoned { subject: \"hi\" }\n\
                workflow big {\n  on checkout_abandoned\n  audience in paid and profile.email != none\n  goal bought = order_completed within 3d\n  send email hi\n}\n\
                test \"t\" {\n  at 2026-01-01T00:00:00Z \"u\" does checkout_abandoned { cart_total: 1.0, product_name: \"x\" }\n  expect \"u\" entered big\n  expect \"u\" reached goal bought\n}\n";
    server.change("remind.flow", 2, text);
    let remind = server.uri("remind.flow");
    for (from, shift, to) in [
        ("paid and", 0, "paid ="),
        ("hi\n}", 0, "hi:"),
        ("big\n", 0, "big {"),
        ("bought\n}", 0, "bought ="),
    ] {
        let location = server.at("definition", "remind.flow", text, from, shift);
        assert_eq!(location["uri"], remind, "{location}");
        let (line, character) = utf16_position(text, text.find(to).unwrap());
        assert_eq!(
            location["range"]["start"],
            json!({ "line": line, "character": character }),
            "definition of `{from}`"
        );
    }
    // Hover on a segment shows its doc comment.
    let hover = server.at("hover", "remind.flow", text, "paid and", 0);
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("segment paid"), "{value}");
    assert!(value.contains("Paying customers."), "{value}");
    assert!(server.shutdown());
}

/// The names come from the checker, which reports what it resolved even
/// when the project has errors: a type error on one line leaves hover and
/// go to definition working on the others.
#[test]
fn hover_and_definition_work_in_a_file_with_a_type_error() {
    let mut server = Server::start();
    let text = format!(
        "{}segment paid = profile.plan == pro\n",
        FIXED.replace("wait 5m", "if profile.plan == Pro { exit }")
    );
    server.open("remind.flow", &text);
    let uri = server.uri("remind.flow");
    let diagnostics = server.diagnostics_for(&uri);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!(diagnostics[0]["code"], "nudge::check::unknown_enum_member");
    let error_line = diagnostics[0]["range"]["start"]["line"].as_u64().unwrap();
    let schema = server.uri("schema.flow");

    // After the error: a profile field and an enum member.
    let needle = "plan == pro";
    let (line, _) = utf16_position(&text, text.find(needle).unwrap());
    assert!(u64::from(line) > error_line);
    let location = server.at("definition", "remind.flow", &text, needle, 1);
    assert_eq!(location["uri"], schema, "{location}");
    let (line, character) = utf16_position(SCHEMA, SCHEMA.find("plan: Plan").unwrap());
    assert_eq!(
        location["range"]["start"],
        json!({ "line": line, "character": character })
    );
    let hover = server.at("hover", "remind.flow", &text, "pro\n", 1);
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("member of enum `Plan`"), "{value}");
    assert!(value.contains("The paid plan."), "{value}");

    // On the line of the error: the path still resolves, the misspelt
    // member does not.
    let hover = server.at("hover", "remind.flow", &text, "plan == Pro", 1);
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("profile.plan: Plan"), "{value}");
    let hover = server.at("hover", "remind.flow", &text, "Pro {", 1);
    assert_eq!(hover, Value::Null);

    // Before it: the trigger and a property inside a string.
    let location = server.at("definition", "remind.flow", &text, "checkout_abandoned", 3);
    assert_eq!(location["uri"], schema, "{location}");
    let hover = server.at("hover", "remind.flow", &text, "product_name}", 1);
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(
        value.contains("property of event `checkout_abandoned`"),
        "{value}"
    );
    assert!(server.shutdown());
}

/// A bare enum member is the member of the enum expected where it is
/// written, even when another enum has a member of that name.
#[test]
fn a_member_of_two_enums_is_the_one_of_the_enum_expected() {
    let mut server = Server::start();
    let text = "/// Loyalty tiers.\nenum Tier {\n  /// The first tier.\n  starter\n  gold\n}\n\
                event tier_changed { tier: Tier }\n\
                segment new_plan = profile.plan == starter\n\
                workflow promote {\n  on tier_changed where event.tier == starter\n  send email { subject: \"hi\" }\n}\n";
    server.open("tiers.flow", text);
    let tiers = server.uri("tiers.flow");
    let schema = server.uri("schema.flow");

    // `profile.plan == starter`: Plan's, in the schema.
    let location = server.at("definition", "tiers.flow", text, "starter\nworkflow", 0);
    assert_eq!(location["uri"], schema, "{location}");
    let (line, character) = utf16_position(SCHEMA, SCHEMA.find("starter").unwrap());
    assert_eq!(
        location["range"]["start"],
        json!({ "line": line, "character": character })
    );
    let hover = server.at("hover", "tiers.flow", text, "starter\nworkflow", 0);
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("member of enum `Plan`"), "{value}");
    assert!(!value.contains("Tier"), "{value}");

    // `event.tier == starter`: Tier's, in this file.
    let location = server.at("definition", "tiers.flow", text, "starter\n  send", 0);
    assert_eq!(location["uri"], tiers, "{location}");
    let (line, character) = utf16_position(text, text.find("starter\n  gold").unwrap());
    assert_eq!(
        location["range"]["start"],
        json!({ "line": line, "character": character })
    );
    let hover = server.at("hover", "tiers.flow", text, "starter\n  send", 0);
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("member of enum `Tier`"), "{value}");
    assert!(value.contains("The first tier."), "{value}");
    assert!(!value.contains("Plan"), "{value}");
    assert!(server.shutdown());
}

#[test]
fn completion_offers_the_trigger_events_properties_and_enum_members() {
    let mut server = Server::start();
    let labels = |result: &Value| -> Vec<String> {
        result
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["label"].as_str().unwrap().to_owned())
            .collect()
    };
    // `event.` inside a half-written `if`: the file does not parse.
    let text = "workflow w {\n  on checkout_abandoned\n  if event.\n}\n";
    server.open("w.flow", text);
    let result = server.at("completion", "w.flow", text, "event.", 6);
    assert_eq!(labels(&result), ["cart_total", "product_name"]);
    assert_eq!(result[0]["detail"], "float");

    let text = "segment s = profile.\n";
    server.change("w.flow", 2, text);
    let result = server.at("completion", "w.flow", text, "profile.", 8);
    assert_eq!(labels(&result), ["id", "email", "phone", "plan"]);

    let text = "segment s = profile.plan == \n";
    server.change("w.flow", 3, text);
    let result = server.at("completion", "w.flow", text, "== ", 3);
    assert_eq!(labels(&result), ["starter", "pro"]);

    let text = "workflow w {\n  on \n}\n";
    server.change("w.flow", 4, text);
    let result = server.at("completion", "w.flow", text, "on ", 3);
    assert_eq!(
        labels(&result),
        [
            "checkout_abandoned",
            "order_completed",
            "inactive",
            "anniversary",
            "profile"
        ]
    );

    let result = server.at("completion", "w.flow", text, "workflow", 0);
    let keywords = labels(&result);
    assert!(keywords.contains(&"workflow".to_owned()), "{keywords:?}");
    assert!(keywords.contains(&"escalate".to_owned()), "{keywords:?}");
    assert!(server.shutdown());
}

#[test]
fn formatting_returns_the_canonical_text_as_one_edit() {
    let mut server = Server::start();
    let messy = "event   signed_up{plan:string}\n";
    server.open("remind.flow", messy);
    let uri = server.uri("remind.flow");
    let edits = server.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let edits = edits.as_array().unwrap();
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(
        edits[0]["range"]["start"],
        json!({ "line": 0, "character": 0 })
    );
    assert_eq!(
        edits[0]["range"]["end"],
        json!({ "line": 1, "character": 0 })
    );
    let formatted = edits[0]["newText"].as_str().unwrap();
    assert_ne!(formatted, messy);
    assert!(formatted.contains("event signed_up"), "{formatted}");
    // Formatting the result again changes nothing.
    server.change("remind.flow", 2, formatted);
    let again = server.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert_eq!(again, json!([]));
    // A file with syntax errors is not formatted.
    server.change("remind.flow", 3, BROKEN);
    let response = server.request_raw(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert!(response["error"]["message"]
        .as_str()
        .unwrap()
        .contains("syntax errors"));
    assert!(server.shutdown());
}

#[test]
fn code_actions_apply_the_suggestion_of_a_diagnostic() {
    let mut server = Server::start();
    let text = "segment paid = profile.plan == \"Pro\"\nsegment quiet = in pai\n";
    server.open("upgrade.flow", text);
    let uri = server.uri("upgrade.flow");
    let diagnostics = server.diagnostics_for(&uri);
    assert_eq!(diagnostics.len(), 2, "{diagnostics:#?}");
    let ask = |server: &mut Server, word: &str| {
        let start = utf16_position(text, text.find(word).unwrap());
        server.request(
            "textDocument/codeAction",
            json!({
                "textDocument": { "uri": uri },
                "range": {
                    "start": { "line": start.0, "character": start.1 },
                    "end": { "line": start.0, "character": start.1 },
                },
                "context": { "diagnostics": [] },
            }),
        )
    };
    let actions = ask(&mut server, "pai\n");
    let actions = actions.as_array().unwrap();
    assert_eq!(actions.len(), 1, "{actions:#?}");
    let action = &actions[0];
    assert_eq!(action["title"], "replace with `paid`");
    assert_eq!(action["kind"], "quickfix");
    let edit = &action["edit"]["documentChanges"][0];
    assert_eq!(edit["textDocument"]["uri"], uri);
    let (line, character) = utf16_position(text, text.find("pai\n").unwrap());
    assert_eq!(
        edit["edits"][0],
        json!({
            "range": {
                "start": { "line": line, "character": character },
                "end": { "line": line, "character": character + 3 },
            },
            "newText": "paid",
        })
    );
    // A quoted enum member loses its quotes.
    let actions = ask(&mut server, "\"Pro\"");
    assert_eq!(
        actions[0]["edit"]["documentChanges"][0]["edits"][0]["newText"],
        "pro"
    );
    // Nothing to fix elsewhere.
    assert_eq!(ask(&mut server, "segment quiet"), json!([]));
    assert!(server.shutdown());
}

#[test]
fn document_symbols_list_the_declarations() {
    let mut server = Server::start();
    let uri = server.uri("schema.flow");
    let symbols = server.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Plan", "profile", "checkout_abandoned", "order_completed"]
    );
    let members: Vec<&str> = symbols[0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["starter", "pro"]);
    assert!(server.shutdown());
}

/// A request after `shutdown` is refused, and only `exit` ends the server
/// (refusing it used to stop the server). Over stdio, the `nudge lsp`
/// process is held to the same in nudge-cli's
/// `malformed_messages_are_answered_and_the_server_keeps_serving`.
#[test]
fn a_request_after_shutdown_is_refused_until_exit() {
    let mut server = Server::start();
    server.open("remind.flow", FIXED);
    let result = server.request("shutdown", Value::Null);
    assert_eq!(result, Value::Null);
    let refused = server.request_raw("textDocument/hover", json!({}));
    assert_eq!(refused["error"]["code"], json!(-32600), "{refused}");
    assert!(server.exit());
}
