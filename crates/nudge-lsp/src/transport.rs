//! The stdio transport: LSP frames (`Content-Length` headers, then a JSON
//! body) in and out, for a [`Connection`] the server loop reads.
//!
//! lsp-server's own stdio transport ends on the first malformed frame, and
//! the server with it. This one answers a frame it cannot read with the
//! JSON-RPC error (`-32700` for a body that is not JSON or a broken
//! header, `-32600` for JSON that is not a request, response or
//! notification) and reads on; it stops at end of input or after
//! forwarding `exit`.

use std::io::{self, BufRead, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{unbounded, Sender};
use lsp_server::{Connection, ErrorCode, Message};
use serde_json::{json, Value};

/// The reader and writer threads of a connection.
pub struct IoThreads {
    reader: JoinHandle<io::Result<()>>,
    writer: JoinHandle<io::Result<()>>,
}

impl IoThreads {
    /// Waits for both threads (the writer ends when the connection is
    /// dropped, the reader at end of input or after `exit`).
    pub fn join(self) -> io::Result<()> {
        let panicked = |_| io::Error::other("an I/O thread of the language server panicked");
        let written = self.writer.join().map_err(panicked)?;
        let read = self.reader.join().map_err(panicked)?;
        written.and(read)
    }
}

/// A connection over `input` and `output`, with its threads. The channels
/// are unbounded, so the server can tell when the messages that arrived
/// together are all handled.
pub fn connect<R, W>(input: R, output: W) -> io::Result<(Connection, IoThreads)>
where
    R: BufRead + Send + 'static,
    W: Write + Send + 'static,
{
    let output = Arc::new(Mutex::new(output));
    let (to_server, from_client) = unbounded::<Message>();
    let (to_client, from_server) = unbounded::<Message>();
    let out = Arc::clone(&output);
    let writer = thread::Builder::new()
        .name("nudge-lsp-writer".into())
        .spawn(move || {
            for message in from_server {
                message.write(&mut *lock(&out))?;
            }
            Ok(())
        })?;
    let reader = thread::Builder::new()
        .name("nudge-lsp-reader".into())
        .spawn(move || read_loop(input, &to_server, &output))?;
    let connection = Connection {
        sender: to_client,
        receiver: from_client,
    };
    Ok((connection, IoThreads { reader, writer }))
}

fn lock<W>(m: &Mutex<W>) -> MutexGuard<'_, W> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What one frame held.
enum Frame {
    Body(Vec<u8>),
    BadHeader(String),
    End,
}

/// Reads frames until the end of input (or `exit`), passing messages on
/// and answering the ones that cannot be read.
fn read_loop<R: BufRead, W: Write>(
    mut input: R,
    to_server: &Sender<Message>,
    output: &Mutex<W>,
) -> io::Result<()> {
    loop {
        let body = match read_frame(&mut input)? {
            Frame::End => return Ok(()),
            Frame::BadHeader(why) => {
                write_error(output, Value::Null, ErrorCode::ParseError, &why)?;
                continue;
            }
            Frame::Body(body) => body,
        };
        match decode(&body) {
            Ok(message) => {
                let exit = matches!(&message, Message::Notification(n) if n.method == "exit");
                if to_server.send(message).is_err() || exit {
                    return Ok(());
                }
            }
            Err((id, code, why)) => write_error(output, id, code, &why)?,
        }
    }
}

/// The most a body may hold (a document of 64 MiB is far past any flow).
const MAX_BODY: usize = 64 << 20;

/// One frame: headers up to a blank line, then `Content-Length` bytes. A
/// `Content-Length` header is looked for on every line, so that reading
/// finds its feet again after a frame whose length was wrong.
fn read_frame(input: &mut impl BufRead) -> io::Result<Frame> {
    let mut length = None;
    let mut seen = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(Frame::End);
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if seen {
                break;
            }
            continue;
        }
        seen = true;
        if let Some(i) = text.to_ascii_lowercase().find("content-length:") {
            let value = text[i + "content-length:".len()..].trim();
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|e| format!("bad `Content-Length` `{value}`: {e}")),
            );
        }
    }
    let len = match length {
        None => return Ok(Frame::BadHeader("a frame without `Content-Length`".into())),
        Some(Err(why)) => return Ok(Frame::BadHeader(why)),
        Some(Ok(n)) if n > MAX_BODY => {
            return Ok(Frame::BadHeader(format!(
                "a body of {n} bytes is larger than the {MAX_BODY} allowed"
            )))
        }
        Some(Ok(n)) => n,
    };
    let mut body = Vec::new();
    input.by_ref().take(len as u64).read_to_end(&mut body)?;
    Ok(if body.len() < len {
        Frame::End
    } else {
        Frame::Body(body)
    })
}

/// A body as a message, or the error to answer it with (and the id to
/// answer, `null` when there is none).
fn decode(body: &[u8]) -> Result<Message, (Value, ErrorCode, String)> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        (
            Value::Null,
            ErrorCode::ParseError,
            format!("parse error: {e}"),
        )
    })?;
    if !value.is_object() {
        // `[]`, `null`, and `["exit"]`, which serde would read as a list
        // of fields.
        return Err((
            Value::Null,
            ErrorCode::InvalidRequest,
            "invalid request: a message is a JSON object".into(),
        ));
    }
    let id = match value.get("id") {
        Some(id @ (Value::Number(_) | Value::String(_))) => id.clone(),
        _ => Value::Null,
    };
    let has_id = value.get("id").is_some();
    match serde_json::from_value::<Message>(value) {
        // An id that is not an integer or a string makes serde read the
        // request as a notification.
        Ok(Message::Notification(_)) if has_id => Err((
            id,
            ErrorCode::InvalidRequest,
            "invalid request: an id is a whole number or a string".into(),
        )),
        Ok(m) => Ok(m),
        Err(e) => Err((
            id,
            ErrorCode::InvalidRequest,
            format!("invalid request: {e}"),
        )),
    }
}

fn write_error<W: Write>(
    out: &Mutex<W>,
    id: Value,
    code: ErrorCode,
    message: &str,
) -> io::Result<()> {
    eprintln!("nudge lsp: {message}");
    let body = json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code as i32, "message": message },
    })
    .to_string();
    let mut w = lock(out);
    write!(w, "Content-Length: {}\r\n\r\n{body}", body.len())?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    /// Feeds `input`, returns what was passed on and what was answered.
    fn feed(input: &str) -> (Vec<Message>, Vec<Value>) {
        let (tx, rx) = unbounded();
        let out = Mutex::new(Vec::new());
        read_loop(io::Cursor::new(input.as_bytes().to_vec()), &tx, &out).unwrap();
        drop(tx);
        let written = String::from_utf8(out.into_inner().unwrap()).unwrap();
        let answers = written
            .split("Content-Length: ")
            .filter(|s| !s.is_empty())
            .map(|s| serde_json::from_str(&s[s.find("\r\n\r\n").unwrap() + 4..]).unwrap())
            .collect();
        (rx.iter().collect(), answers)
    }

    fn code(v: &Value) -> i64 {
        v["error"]["code"].as_i64().unwrap()
    }

    #[test]
    fn malformed_frames_are_answered_and_reading_goes_on() {
        let hover = r#"{"jsonrpc":"2.0","id":7,"method":"textDocument/hover","params":{}}"#;
        let input = [
            frame("not json"),
            frame("{}"),
            frame("[]"),
            frame("null"),
            frame(r#"["exit"]"#),
            frame(r#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#),
            "Content-Length: abc\r\n\r\n".to_owned(),
            "X-Nothing: 1\r\n\r\n".to_owned(),
            frame(hover),
        ]
        .concat();
        let (passed, answers) = feed(&input);
        let codes: Vec<i64> = answers.iter().map(code).collect();
        assert_eq!(
            codes,
            [-32700, -32600, -32600, -32600, -32600, -32600, -32700, -32700]
        );
        assert!(answers[..5].iter().all(|a| a["id"].is_null()));
        assert_eq!(passed.len(), 1, "{passed:?}");
        assert!(matches!(&passed[0], Message::Request(r) if r.method == "textDocument/hover"));
    }

    #[test]
    fn reading_stops_after_exit_and_at_the_end() {
        let input = [
            frame(r#"{"jsonrpc":"2.0","method":"exit"}"#),
            frame(r#"{"jsonrpc":"2.0","method":"never read"}"#),
        ]
        .concat();
        let (passed, answers) = feed(&input);
        assert_eq!(passed.len(), 1);
        assert!(answers.is_empty());
        // A body shorter than its length ends the input.
        let (passed, _) = feed("Content-Length: 100\r\n\r\n{}");
        assert!(passed.is_empty());
    }
}
