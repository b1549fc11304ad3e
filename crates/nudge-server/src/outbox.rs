//! The local outbox: where messages go until delivery providers are
//! configured.
//!
//! Each partition appends its messages to `outbox/partition-N.jsonl` in
//! the data folder, one JSON object per message: `partition`, `record`
//! (the message's number in the partition's record log), then the message
//! as `nudge simulate --format jsonl` prints it. Each also goes to stdout
//! as one line, and each email to `outbox/email/N-RECORD.eml`.
//!
//! **No gap, no duplicate.** The outbox is written from the store's record
//! log after each group commit, so it only holds committed messages. On
//! start, the last complete line of the file says how far it got (a line
//! cut short by a crash is cut off), and the messages committed after it
//! are written then: a crash anywhere loses no message and writes none
//! twice.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use nudge_store::SledStore;
use serde_json::Value as Json;

use crate::ServeError;

/// How many records a catch-up reads at a time.
const READ: usize = 1024;

/// One partition's outbox file.
pub struct Outbox {
    partition: usize,
    path: PathBuf,
    file: File,
    email_dir: PathBuf,
    /// The number of the next record to look at.
    next: u64,
    /// The profile attribute holding email addresses, if any.
    email_field: Option<String>,
    /// The profile attribute holding each channel's address, by channel.
    address_fields: std::collections::HashMap<String, String>,
    /// The `priority transactional` workflows of the running version.
    transactional: std::collections::HashSet<String>,
    /// Print each message on stdout.
    echo: bool,
    /// The providers messages are handed to, and where their outcomes
    /// are.
    deliveries: Option<(std::sync::Arc<crate::delivery::Deliveries>, PathBuf)>,
    /// Whether the messages written before this start that have no
    /// outcome were handed over again.
    resent: bool,
    /// The file's length.
    len: u64,
    /// When the delivery mark was last written.
    marked: Option<std::time::Instant>,
}

impl Outbox {
    /// Opens (creating) partition `n`'s outbox in `dir`, cutting off a line
    /// a crash cut short.
    pub fn open(
        dir: &Path,
        n: usize,
        module: &nudge_bytecode::Module,
        echo: bool,
        deliveries: Option<(std::sync::Arc<crate::delivery::Deliveries>, PathBuf)>,
    ) -> Result<Outbox, ServeError> {
        let email_dir = dir.join("email");
        std::fs::create_dir_all(&email_dir).map_err(|e| {
            ServeError::new(format!("cannot create `{}`: {e}", email_dir.display()))
        })?;
        let path = dir.join(format!("partition-{n}.jsonl"));
        let failed =
            |e: std::io::Error| ServeError::new(format!("outbox `{}`: {e}", path.display()));
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(failed)?;
        let (keep, last) = last_line(&mut file).map_err(failed)?;
        if keep < file.metadata().map_err(failed)?.len() {
            tracing::warn!(
                outbox = %path.display(),
                "cutting off a message line left incomplete by a crash (it is written again)"
            );
            file.set_len(keep).map_err(failed)?;
        }
        let next = match last {
            None => 0,
            Some(line) => {
                let record = serde_json::from_str::<Json>(&line)
                    .ok()
                    .and_then(|j| j.get("record").and_then(Json::as_u64))
                    .ok_or_else(|| {
                        ServeError::new(format!(
                            "outbox `{}`: its last line has no record number; move the file away to \
                             start a new one",
                            path.display()
                        ))
                    })?;
                record + 1
            }
        };
        let len = file.metadata().map_err(failed)?.len();
        Ok(Outbox {
            partition: n,
            path,
            file,
            email_dir,
            next,
            email_field: address_field(module, nudge_bytecode::Channel::Email),
            address_fields: address_fields(module),
            transactional: transactional(module),
            echo,
            len,
            deliveries,
            resent: false,
            marked: None,
        })
    }

    /// Takes what it needs of a new version: the profile attribute that
    /// holds email addresses, the transactional workflows.
    pub fn set_module(&mut self, module: &nudge_bytecode::Module) {
        self.email_field = address_field(module, nudge_bytecode::Channel::Email);
        self.address_fields = address_fields(module);
        self.transactional = transactional(module);
    }

    /// Writes the messages committed since the last call; returns how many.
    pub fn catch_up(&mut self, store: &SledStore) -> Result<u64, ServeError> {
        let path = self.path.clone();
        let failed =
            |e: std::io::Error| ServeError::new(format!("outbox `{}`: {e}", path.display()));
        let mut written = 0;
        let mut out = Vec::new();
        if !self.resent {
            self.resend_unsettled(store)?;
            self.resent = true;
        }
        let mut handed = Vec::new();
        let mut exits = Vec::new();
        loop {
            let records = store
                .records_from(self.next, READ)
                .map_err(|e| ServeError::new(e.to_string()))?;
            let Some(&(last, _)) = records.last() else {
                break;
            };
            for (number, line) in &records {
                if line.starts_with(EXITED) {
                    exits.push(line.clone());
                    continue;
                }
                if !line.starts_with("{\"kind\":\"message\"") {
                    continue;
                }
                let tail = line.get(1..).unwrap_or_default();
                let offset = self.len + out.len() as u64;
                out.extend_from_slice(
                    format!("{{\"partition\":{},\"record\":{number},", self.partition).as_bytes(),
                );
                out.extend_from_slice(tail.as_bytes());
                out.push(b'\n');
                written += 1;
                if let Ok(message) = serde_json::from_str::<Json>(line) {
                    if self.echo {
                        println!("{}", summary(&message));
                    }
                    // An email with a provider goes out through it; the
                    // others are left as `.eml` files to read.
                    let email = message.get("channel").and_then(Json::as_str) == Some("email");
                    let delivered = self
                        .deliveries
                        .as_ref()
                        .is_some_and(|(d, _)| d.handles("email"));
                    if email && !delivered {
                        self.write_email(*number, &message, store)?;
                    }
                    if let Some(m) = self.outgoing(*number, offset, &message, store) {
                        handed.push(m);
                    }
                }
            }
            self.file.write_all(&out).map_err(failed)?;
            self.len += out.len() as u64;
            out.clear();
            // Handed over once written: a message is resent from this file.
            // Then the exits after them, which stop those not sent yet.
            if let Some((d, _)) = &self.deliveries {
                for m in handed.drain(..) {
                    d.send(m);
                }
                for line in exits.drain(..) {
                    note_exit(d, &line);
                }
            }
            self.next = last + 1;
            self.write_mark();
            if records.len() < READ {
                break;
            }
        }
        Ok(written)
    }

    /// The message of a record, when its channel has a provider.
    fn outgoing(
        &self,
        record: u64,
        offset: u64,
        message: &Json,
        store: &SledStore,
    ) -> Option<crate::delivery::Outgoing> {
        let (d, _) = self.deliveries.as_ref()?;
        let text = |k: &str| message.get(k).and_then(Json::as_str).map(str::to_owned);
        let channel = text("channel")?;
        if !d.handles(&channel) {
            return None;
        }
        let profile = text("profile").unwrap_or_default();
        let to = self
            .address_fields
            .get(&channel)
            .and_then(|field| attribute(store, &profile, field));
        Some(crate::delivery::Outgoing {
            partition: self.partition,
            record,
            send_id: text("send_id").unwrap_or_default(),
            channel,
            profile,
            workflow: text("workflow").unwrap_or_default(),
            template: text("template"),
            time: text("time").unwrap_or_default(),
            content: message
                .get("content")
                .and_then(Json::as_object)
                .cloned()
                .unwrap_or_default(),
            offset,
            transactional: self.transactional.contains(
                message
                    .get("workflow")
                    .and_then(Json::as_str)
                    .unwrap_or_default(),
            ),
            to,
        })
    }

    /// The profile's email address as it is now.
    fn address(&self, profile: &str, store: &SledStore) -> Option<String> {
        attribute(store, profile, self.email_field.as_ref()?)
    }

    /// The outbox file from `from` on, with each line's offset.
    fn lines_from(&self, from: u64) -> Result<Vec<(u64, String)>, ServeError> {
        use std::io::{Read as _, Seek as _};
        let failed =
            |e: std::io::Error| ServeError::new(format!("outbox `{}`: {e}", self.path.display()));
        let mut f = File::open(&self.path).map_err(failed)?;
        f.seek(SeekFrom::Start(from)).map_err(failed)?;
        let mut text = String::new();
        f.read_to_string(&mut text).map_err(failed)?;
        let mut out = Vec::new();
        let mut at = from;
        for line in text.split_inclusive('\n') {
            out.push((at, line.trim_end_matches('\n').to_owned()));
            at += line.len() as u64;
        }
        Ok(out)
    }

    /// Hands one message of this outbox file to its provider again (a
    /// parked one, retried by an operator); `false` when the file has no
    /// such message or its channel no provider.
    pub fn resend(&self, send_id: &str, store: &SledStore) -> Result<bool, ServeError> {
        let Some((d, _)) = &self.deliveries else {
            return Ok(false);
        };
        let needle = format!("\"send_id\":\"{send_id}\"");
        for (offset, line) in self.lines_from(0)? {
            if !line.contains(&needle) {
                continue;
            }
            let Ok(message) = serde_json::from_str::<Json>(&line) else {
                continue;
            };
            let record = message.get("record").and_then(Json::as_u64).unwrap_or(0);
            if let Some(m) = self.outgoing(record, offset, &message, store) {
                d.send_settled(m);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The delivery mark of this partition, if one was written and fits
    /// the files.
    fn read_mark(&self, outcomes: &Path) -> Option<crate::delivery::Mark> {
        let text =
            std::fs::read_to_string(outcomes.join(format!("partition-{}.mark", self.partition)))
                .ok()?;
        let mark: crate::delivery::Mark = serde_json::from_str(&text).ok()?;
        let outcomes_len =
            std::fs::metadata(outcomes.join(format!("partition-{}.jsonl", self.partition)))
                .map(|m| m.len())
                .unwrap_or(0);
        (mark.outbox_offset <= self.len && mark.outcomes_offset <= outcomes_len).then_some(mark)
    }

    /// Writes where this partition's unsettled messages can be (at most
    /// once a second; written aside and renamed, so a crash leaves the old
    /// mark or the new one).
    fn write_mark(&mut self) {
        let Some((d, outcomes)) = &self.deliveries else {
            return;
        };
        if !d.handles_any()
            || self
                .marked
                .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1))
        {
            return;
        }
        let Some(mark) = d.mark(self.partition, self.next, self.len) else {
            return;
        };
        let path = outcomes.join(format!("partition-{}.mark", self.partition));
        let tmp = path.with_extension("mark.tmp");
        let written = serde_json::to_vec(&mark)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            tracing::warn!(
                "cannot write `{}`: {e} (the next start reads more)",
                path.display()
            );
        }
        self.marked = Some(std::time::Instant::now());
    }

    /// Hands over again the messages of this outbox file whose channel has
    /// a provider and that have no outcome (a crash or a stop came first):
    /// from the delivery mark on, or the whole file when there is none.
    fn resend_unsettled(&self, store: &SledStore) -> Result<(), ServeError> {
        let Some((d, outcomes)) = self.deliveries.clone() else {
            return Ok(());
        };
        if !d.handles_any() {
            return Ok(());
        }
        let mark = self.read_mark(&outcomes).unwrap_or(crate::delivery::Mark {
            record: 0,
            outbox_offset: 0,
            outcomes_offset: 0,
        });
        let settled = crate::delivery::settled(&outcomes, self.partition, mark.outcomes_offset)?;
        let mut unsettled = Vec::new();
        for (offset, line) in self.lines_from(mark.outbox_offset)? {
            let Ok(message) = serde_json::from_str::<Json>(&line) else {
                continue;
            };
            let record = message.get("record").and_then(Json::as_u64).unwrap_or(0);
            let settled_already = record < mark.record
                || message
                    .get("send_id")
                    .and_then(Json::as_str)
                    .is_some_and(|id| settled.contains(id));
            if settled_already {
                continue;
            }
            if let Some(m) = self.outgoing(record, offset, &message, store) {
                unsettled.push(m);
            }
        }
        if unsettled.is_empty() {
            return Ok(());
        }
        // The journeys that exited since those messages were committed,
        // known before any of them goes out.
        let mut exits: std::collections::HashMap<(String, String), chrono::DateTime<chrono::Utc>> =
            Default::default();
        let mut next = mark.record;
        loop {
            let records = store
                .records_from(next, READ)
                .map_err(|e| ServeError::new(e.to_string()))?;
            let Some(&(last, _)) = records.last() else {
                break;
            };
            for (_, line) in &records {
                if line.starts_with(EXITED) {
                    if let Some((profile, workflow, at)) = exit_of(line) {
                        let e = exits.entry((profile, workflow)).or_insert(at);
                        *e = (*e).max(at);
                    }
                }
            }
            next = last + 1;
            if records.len() < READ {
                break;
            }
        }
        tracing::info!(
            partition = self.partition,
            "{} messages without an outcome are sent again",
            unsettled.len()
        );
        for m in unsettled {
            let exited = exits.get(&(m.profile.clone(), m.workflow.clone())).copied();
            d.send_unsettled(m, mark.outcomes_offset, exited);
        }
        Ok(())
    }

    fn write_email(
        &self,
        number: u64,
        message: &Json,
        store: &SledStore,
    ) -> Result<(), ServeError> {
        let text = |k: &str| message.get(k).and_then(Json::as_str).unwrap_or_default();
        let content = |k: &str| {
            message
                .get("content")
                .and_then(|c| c.get(k))
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let profile = text("profile");
        let to = self.address(profile, store).unwrap_or_default();
        let mut eml = String::new();
        eml.push_str(&format!("To: <{}>\r\n", header(&to)));
        eml.push_str("From: Nudge outbox <outbox@localhost>\r\n");
        eml.push_str(&format!("Subject: {}\r\n", header(&content("subject"))));
        eml.push_str(&format!("Date: {}\r\n", header(text("time"))));
        eml.push_str(&format!(
            "Message-ID: <{}.{number}.{}@nudge.localhost>\r\n",
            self.partition,
            header(profile)
        ));
        eml.push_str(&format!("X-Nudge-Profile: {}\r\n", header(profile)));
        eml.push_str(&format!(
            "X-Nudge-Workflow: {}\r\n",
            header(text("workflow"))
        ));
        eml.push_str("MIME-Version: 1.0\r\n");
        let (kind, body) = match content("html") {
            html if !html.is_empty() => ("text/html", html),
            _ => ("text/plain", content("text")),
        };
        eml.push_str(&format!("Content-Type: {kind}; charset=utf-8\r\n"));
        eml.push_str("Content-Transfer-Encoding: 8bit\r\n\r\n");
        for line in body.lines() {
            eml.push_str(line);
            eml.push_str("\r\n");
        }
        let path = self
            .email_dir
            .join(format!("{}-{number}.eml", self.partition));
        std::fs::write(&path, eml)
            .map_err(|e| ServeError::new(format!("cannot write `{}`: {e}", path.display())))
    }
}

/// A profile's text attribute as it is now.
/// How an `exited` record starts.
const EXITED: &str = "{\"kind\":\"exited\"";

/// The profile, workflow and time of an `exited` record.
fn exit_of(line: &str) -> Option<(String, String, chrono::DateTime<chrono::Utc>)> {
    let v = serde_json::from_str::<Json>(line).ok()?;
    let text = |k: &str| v.get(k).and_then(Json::as_str).map(str::to_owned);
    let at = crate::delivery::parse_time(&text("time")?)?;
    Some((text("profile")?, text("workflow")?, at))
}

/// Tells delivery of the journey exit an `exited` record says.
fn note_exit(d: &crate::delivery::Deliveries, line: &str) {
    if let Some((profile, workflow, at)) = exit_of(line) {
        d.exited(&profile, &workflow, at);
    }
}

fn attribute(store: &SledStore, profile: &str, field: &str) -> Option<String> {
    let state = nudge_vm::Store::peek(store, profile).ok()??;
    match state.record.attributes.get(field)? {
        nudge_vm::Value::Str(s) => Some(s.to_string()),
        _ => None,
    }
}

/// The profile attribute that holds a channel's addresses, as the
/// module's sends on it name it.
fn address_field(
    module: &nudge_bytecode::Module,
    channel: nudge_bytecode::Channel,
) -> Option<String> {
    let field = module
        .messages
        .iter()
        .find(|m| m.channel == channel && m.address.is_some())?
        .address?;
    Some(module.schemas.profile.get(field as usize)?.name.clone())
}

/// The address attribute of every channel that has one.
fn address_fields(module: &nudge_bytecode::Module) -> std::collections::HashMap<String, String> {
    nudge_bytecode::Channel::ALL
        .into_iter()
        .filter_map(|c| Some((c.as_str().to_owned(), address_field(module, c)?)))
        .collect()
}

/// The `priority transactional` workflows of a module.
fn transactional(module: &nudge_bytecode::Module) -> std::collections::HashSet<String> {
    module
        .workflows
        .iter()
        .filter(|w| w.priority == nudge_bytecode::Priority::Transactional)
        .map(|w| w.name.clone())
        .collect()
}

/// A header value on one line.
fn header(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// The stdout line of a message.
fn summary(m: &Json) -> String {
    let f = |k: &str| m.get(k).and_then(Json::as_str).unwrap_or("-");
    format!(
        "message {} {} {} {} {}",
        f("time"),
        f("channel"),
        f("profile"),
        f("workflow"),
        f("template"),
    )
}

/// The length to keep (up to the last newline) and the last complete line.
fn last_line(file: &mut File) -> std::io::Result<(u64, Option<String>)> {
    let len = file.metadata()?.len();
    let mut end = len;
    let mut chunk = 64 * 1024u64;
    loop {
        let start = end.saturating_sub(chunk);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        std::io::Read::by_ref(file)
            .take(len - start)
            .read_to_end(&mut buf)?;
        let keep = match buf.iter().rposition(|&b| b == b'\n') {
            Some(i) => start + i as u64 + 1,
            None if start == 0 => return Ok((0, None)),
            None => {
                chunk *= 2;
                end = len;
                continue;
            }
        };
        let upto = (keep - start) as usize - 1;
        let line_start = buf[..upto].iter().rposition(|&b| b == b'\n').map(|i| i + 1);
        match line_start {
            Some(i) => {
                return Ok((
                    keep,
                    Some(String::from_utf8_lossy(&buf[i..upto]).into_owned()),
                ))
            }
            None if start == 0 => {
                return Ok((
                    keep,
                    Some(String::from_utf8_lossy(&buf[..upto]).into_owned()),
                ))
            }
            None => {
                chunk *= 2;
                end = len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(content: &str) -> (u64, Option<String>) {
        let dir = std::env::temp_dir().join(format!(
            "nudge-outbox-{}-{}",
            std::process::id(),
            content.len()
        ));
        std::fs::write(&dir, content).unwrap();
        let mut f = File::open(&dir).unwrap();
        let out = last_line(&mut f).unwrap();
        std::fs::remove_file(&dir).unwrap();
        out
    }

    #[test]
    fn the_last_complete_line_is_found_and_a_torn_one_cut() {
        assert_eq!(tail(""), (0, None));
        assert_eq!(tail("{\"a\""), (0, None));
        assert_eq!(tail("one\n"), (4, Some("one".into())));
        assert_eq!(tail("one\ntwo\n"), (8, Some("two".into())));
        assert_eq!(tail("one\ntwo\nthr"), (8, Some("two".into())));
        let long = "x".repeat(200_000);
        let text = format!("{long}\n{long}\n{long}");
        assert_eq!(tail(&text), (400_002, Some(long)));
    }
}
