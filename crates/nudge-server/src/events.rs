//! Events from delivery: what happened to a message, and who changed
//! their subscriptions, back into flows as `track` calls of the profile.
//!
//! Each is applied only when the running project declares its event (any
//! subset of the properties): a project that does not gets nothing, and
//! such events are not activity for `inactive for` unless declared.
//!
//! - `message_sent` and `message_failed` come from the outcome files
//!   (`deliveries/partition-N.jsonl`): a reporter reads them as they grow,
//!   applies the events, and only then records how far it got in
//!   `deliveries/partition-N.reported`. A crash before that record
//!   replays a few outcomes, whose events carry the same message id and
//!   are dropped as duplicates.
//! - `message_delivered` and `message_bounced` come from providers'
//!   callbacks ([`crate::feedback`]); `message_opened` and
//!   `message_clicked` from the tracking pixel and links
//!   ([`crate::tracking`]); `subscription_changed` from every change of
//!   consent. These are applied before the request that brought them is
//!   answered, so that a provider retries what was not applied.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nudge_bytecode::Module;
use serde_json::{json, Value as Json};

use crate::http::AppState;
use crate::partition;
use crate::segment::Call;

/// A provider took the message.
pub const SENT: &str = "message_sent";
/// A provider refused the message for good.
pub const FAILED: &str = "message_failed";
/// A provider reported the message delivered to the device or mailbox.
pub const DELIVERED: &str = "message_delivered";
/// An email bounced (or an SMS was reported undelivered).
pub const BOUNCED: &str = "message_bounced";
/// A profile's consent for a channel changed.
pub const SUBSCRIPTION: &str = "subscription_changed";

/// A delivery event for the profile `profile`, as a call, when `module`
/// declares `event`; `message_id` makes a repeat a duplicate.
pub fn call(
    module: &Module,
    event: &str,
    profile: &str,
    properties: &Json,
    message_id: &str,
    at: &str,
) -> Option<Result<Call, String>> {
    module.schemas.event_id(event)?;
    let line = json!({
        "type": "track",
        "userId": profile,
        "event": event,
        "properties": properties,
        "timestamp": at,
    })
    .to_string();
    Some(match nudge_ingest::parse_call(&line, &module.schemas) {
        Ok((input, _)) => Ok(Call {
            message_id: Some(message_id.chars().take(256).collect()),
            input,
        }),
        Err(e) => Err(format!(
            "a `{event}` of `{profile}` does not fit its schema: {e}"
        )),
    })
}

/// The time now, as event timestamps are written.
pub fn now() -> String {
    partition::wall_now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The running module.
fn module(state: &AppState) -> Option<Arc<Module>> {
    state.module.read().ok().map(|m| m.clone())
}

/// Why events were not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotApplied {
    /// The server is stopping: try again after the restart.
    Stopping,
    /// The engine refused a call (a flow failed on it): trying again
    /// would fail again.
    Failed(String),
}

impl From<NotApplied> for String {
    fn from(e: NotApplied) -> String {
        e.to_string()
    }
}

impl std::fmt::Display for NotApplied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotApplied::Stopping => f.write_str("the server is stopping"),
            NotApplied::Failed(e) => f.write_str(e),
        }
    }
}

/// Applies `calls` (each with its profile), waiting until they are
/// committed; retries while a partition's queue is full.
pub async fn apply(state: &AppState, calls: Vec<(String, Call)>) -> Result<(), NotApplied> {
    if calls.is_empty() {
        return Ok(());
    }
    let count = state.partitions.count();
    let mut by_partition = vec![Vec::new(); count];
    for (profile, call) in calls {
        by_partition[partition::of(&profile, count)].push(call);
    }
    let answers = loop {
        match state.partitions.submit(by_partition.clone()) {
            Ok(answers) => break answers,
            Err(partition::Busy::Full) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(partition::Busy::Stopped) => return Err(NotApplied::Stopping),
        }
    };
    let mut failed = None;
    for a in answers {
        match a.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => failed = Some(NotApplied::Failed(e.0)),
            Err(_) => return Err(NotApplied::Stopping),
        }
    }
    failed.map_or(Ok(()), Err)
}

/// Applies `calls`; when the engine refuses a batch, applies its calls one
/// by one and logs (and skips) those it refuses, so that one event a flow
/// fails on does not hold back the others. `Err` only when stopping.
pub async fn apply_each(state: &AppState, calls: Vec<(String, Call)>) -> Result<(), NotApplied> {
    match apply(state, calls.clone()).await {
        Err(NotApplied::Failed(_)) if calls.len() > 1 => {
            for (profile, call) in calls {
                apply_one(state, profile, call).await?;
            }
            Ok(())
        }
        Err(NotApplied::Failed(e)) => {
            tracing::error!("a delivery event was refused and is skipped: {e}");
            Ok(())
        }
        other => other,
    }
}

async fn apply_one(state: &AppState, profile: String, call: Call) -> Result<(), NotApplied> {
    match apply(state, vec![(profile.clone(), call)]).await {
        Err(NotApplied::Failed(e)) => {
            tracing::error!("a delivery event of `{profile}` was refused and is skipped: {e}");
            Ok(())
        }
        other => other,
    }
}

/// Applies one event of `profile` now, when the project declares it.
pub async fn report(
    state: &AppState,
    event: &str,
    profile: &str,
    properties: Json,
    message_id: &str,
) -> Result<(), NotApplied> {
    let Some(module) = module(state) else {
        return Err(NotApplied::Failed("the module lock is poisoned".into()));
    };
    match call(&module, event, profile, &properties, message_id, &now()) {
        None => Ok(()),
        Some(Err(e)) => {
            // A project whose declaration does not fit cannot take it;
            // refusing would only make the provider retry for ever.
            tracing::warn!("{e}");
            Ok(())
        }
        Some(Ok(c)) => apply_each(state, vec![(profile.to_owned(), c)]).await,
    }
}

/// `subscription_changed` for a change of consent.
pub async fn subscription_changed(
    state: &AppState,
    profile: &str,
    channel: &str,
    subscribed: bool,
    source: &str,
) -> Result<(), NotApplied> {
    // Called only for a change; the time tells two changes apart.
    let at = now();
    let id = format!("{SUBSCRIPTION}-{channel}-{subscribed}-{at}");
    report(
        state,
        SUBSCRIPTION,
        profile,
        json!({"channel": channel, "subscribed": subscribed, "source": source}),
        &id,
    )
    .await
}

/// The event an outcome line makes, if any: its name and properties.
fn of_outcome(line: &Json) -> Option<(&'static str, Json)> {
    let event = match line.get("outcome")?.as_str()? {
        "delivered" => SENT,
        "failed" => FAILED,
        _ => return None,
    };
    let mut properties = json!({
        "send_id": line.get("send_id")?,
        "workflow": line.get("workflow").unwrap_or(&Json::Null),
        "template": line.get("template").unwrap_or(&Json::Null),
        "channel": line.get("channel")?,
    });
    if event == FAILED {
        properties["reason"] = line.get("detail").cloned().unwrap_or(Json::Null);
    }
    Some((event, properties))
}

fn reported_path(dir: &Path, partition: usize) -> PathBuf {
    dir.join(format!("partition-{partition}.reported"))
}

/// How far the outcomes of a partition were reported. A data folder from
/// before outcomes were reported starts at the end of its outcome file
/// (old sends are not news), and says so at once.
fn reported(dir: &Path, partition: usize) -> u64 {
    let path = reported_path(dir, partition);
    if let Some(offset) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| t.trim().parse().ok())
    {
        return offset;
    }
    let end = std::fs::metadata(dir.join(format!("partition-{partition}.jsonl")))
        .map(|m| m.len())
        .unwrap_or(0);
    if let Err(e) = set_reported(dir, partition, end) {
        tracing::warn!("cannot write `{}`: {e}", path.display());
    }
    end
}

fn set_reported(dir: &Path, partition: usize, offset: u64) -> std::io::Result<()> {
    let path = reported_path(dir, partition);
    let tmp = path.with_extension("reported.tmp");
    std::fs::write(&tmp, format!("{offset}\n"))?;
    std::fs::rename(tmp, path)
}

/// Whole lines of `path` from `offset` (at most `max` bytes' worth, at
/// least one line): the lines and the offset after them. A file shorter
/// than `offset` (replaced, or restored from a backup) is read from its
/// start; a line longer than `2 × max` is skipped.
fn read_lines(path: &Path, offset: u64, max: usize) -> std::io::Result<(Vec<String>, u64)> {
    use std::io::{Read as _, Seek as _};
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let offset = if len < offset {
        tracing::warn!(
            "`{}` is shorter than the events reported from it: reading it from its start",
            path.display()
        );
        0
    } else {
        offset
    };
    if len == offset {
        return Ok((Vec::new(), offset));
    }
    file.seek(std::io::SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    file.take((len - offset).min(max as u64 * 2))
        .read_to_end(&mut bytes)?;
    let mut end = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(i) => i + 1,
        // A line still being written.
        None if (bytes.len() as u64) == len - offset => return Ok((Vec::new(), offset)),
        // A line too long to be an outcome: skipped, piece by piece (what
        // follows up to its end does not read as one either).
        None => return Ok((Vec::new(), offset + bytes.len() as u64)),
    };
    if end > max {
        if let Some(i) = bytes[..max].iter().rposition(|b| *b == b'\n') {
            end = i + 1;
        }
    }
    let lines = String::from_utf8_lossy(&bytes[..end])
        .lines()
        .map(str::to_owned)
        .collect();
    Ok((lines, offset + end as u64))
}

/// Reports the outcomes of every partition as `message_sent` and
/// `message_failed` events, until the server stops.
pub async fn report_outcomes(state: Arc<AppState>) {
    let dir = state.outcomes.clone();
    let count = state.partitions.count();
    let mut offsets: Vec<u64> = (0..count).map(|n| reported(&dir, n)).collect();
    let mut stopping = state.stopping.subscribe();
    loop {
        let mut busy = false;
        for (n, offset) in offsets.iter_mut().enumerate() {
            let path = dir.join(format!("partition-{n}.jsonl"));
            let from = *offset;
            let read =
                tokio::task::spawn_blocking(move || read_lines(&path, from, 256 * 1024)).await;
            let (lines, next) = match read {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    tracing::error!("cannot read the outcomes of partition {n}: {e}");
                    continue;
                }
                Err(_) => return,
            };
            if next == *offset {
                continue;
            }
            busy = true;
            let Some(module) = module(&state) else { return };
            let mut calls = Vec::new();
            for line in &lines {
                let Ok(v) = serde_json::from_str::<Json>(line) else {
                    continue;
                };
                let Some((event, properties)) = of_outcome(&v) else {
                    continue;
                };
                let (Some(profile), Some(at)) = (
                    v.get("profile").and_then(Json::as_str),
                    v.get("at").and_then(Json::as_str),
                ) else {
                    continue;
                };
                let id = format!("{event}-{}", properties["send_id"].as_str().unwrap_or(""));
                match call(&module, event, profile, &properties, &id, at) {
                    None => {}
                    Some(Ok(c)) => calls.push((profile.to_owned(), c)),
                    Some(Err(e)) => tracing::warn!("{e}"),
                }
            }
            if apply_each(&state, calls).await.is_err() {
                // Stopping: the outcomes are read again at the next start.
                return;
            }
            *offset = next;
            let d = dir.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || set_reported(&d, n, next)).await
            {
                tracing::warn!(
                    "cannot record how far the outcomes of partition {n} were reported: {e}"
                );
            }
        }
        if *stopping.borrow() {
            return;
        }
        if !busy {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = stopping.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_are_read_from_an_offset() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("o.jsonl");
        std::fs::write(&path, "one\ntwo\nthr").unwrap_or_else(|e| panic!("{e}"));
        let (lines, next) = read_lines(&path, 0, 1000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((lines, next), (vec!["one".to_owned(), "two".to_owned()], 8));
        let (lines, next) = read_lines(&path, 8, 1000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((lines, next), (vec![], 8));
        let (lines, next) = read_lines(&path, 0, 5).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((lines, next), (vec!["one".to_owned()], 4));
        let (lines, _) =
            read_lines(&dir.path().join("none"), 0, 5).unwrap_or_else(|e| panic!("{e}"));
        assert!(lines.is_empty());
        // Shorter than the offset: from the start.
        let (lines, next) = read_lines(&path, 100, 1000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((lines.len(), next), (2, 8));
        // A line over twice the limit is skipped a piece at a time.
        std::fs::write(&path, format!("{}\nok\n", "x".repeat(50)))
            .unwrap_or_else(|e| panic!("{e}"));
        let (lines, next) = read_lines(&path, 0, 10).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((lines.len(), next), (0, 20));
    }

    #[test]
    fn outcomes_become_sent_or_failed() {
        let v = json!({"send_id": "ab", "workflow": "w", "template": null, "channel": "email", "outcome": "failed", "detail": "550 no"});
        let (e, p) = of_outcome(&v).unwrap_or_else(|| panic!("an event"));
        assert_eq!(e, FAILED);
        assert_eq!(p["reason"], "550 no");
        let v = json!({"send_id": "ab", "channel": "sms", "outcome": "parked"});
        assert!(of_outcome(&v).is_none());
    }
}
