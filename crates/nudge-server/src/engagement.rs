//! Engagement per message: what happened to the messages of each workflow
//! and template after they were sent.
//!
//! Providers' reports and the tracking pixel and links are appended to
//! `deliveries/engagement.jsonl` (`{"send_id", "kind", "at"}`, `kind`
//! being `delivered`, `bounced`, `complained`, `opened`, `clicked` or
//! `unsubscribed`) as they arrive, whether or not the project declares
//! events for them. The read API joins them with the outcome files (which
//! name each send's workflow, template and channel): per message, the
//! sends taken by the provider, failed, suppressed, and those delivered,
//! bounced, opened, clicked and unsubscribed from, each send counted once
//! per kind.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nudge_measure::MessageEngagement;
use serde_json::{json, Value as Json};

/// The engagement log.
#[derive(Debug)]
pub struct Engagement {
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

impl Engagement {
    /// The log in the deliveries folder `dir`.
    pub fn new(dir: &Path) -> Engagement {
        Engagement {
            path: dir.join("engagement.jsonl"),
            file: Mutex::new(None),
        }
    }

    /// Notes that `kind` happened to the message `send_id` (a failure to
    /// write is logged: engagement is measured, not acted on).
    pub fn note(&self, send_id: &str, kind: &str) {
        let line = json!({
            "send_id": send_id,
            "kind": kind,
            "at": crate::events::now(),
        });
        let Ok(mut file) = self.file.lock() else {
            return;
        };
        if file.is_none() {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
            {
                Ok(f) => *file = Some(f),
                Err(e) => {
                    tracing::warn!("cannot open `{}`: {e}", self.path.display());
                    return;
                }
            }
        }
        if let Some(f) = file.as_mut() {
            if let Err(e) = writeln!(f, "{line}") {
                tracing::warn!("cannot write `{}`: {e}", self.path.display());
            }
        }
    }
}

fn lines(path: &Path) -> Result<Vec<Json>, String> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
    };
    let mut out = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        // A line a crash cut short is skipped.
        if let Ok(v) = serde_json::from_str::<Json>(&line) {
            out.push(v);
        }
    }
    Ok(out)
}

/// Engagement per message, from the outcome files and the engagement log
/// in the deliveries folder `dir` (a scan of both).
pub fn per_message(dir: &Path) -> Result<Vec<MessageEngagement>, String> {
    let mut outcome_files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| crate::delivery::is_outcome_file(p))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("cannot read `{}`: {e}", dir.display())),
    };
    outcome_files.sort();
    type Key = (String, String, String);
    let mut messages: BTreeMap<Key, MessageEngagement> = BTreeMap::new();
    let mut send_key: HashMap<String, Key> = HashMap::new();
    // The latest outcome of each send counts (a parked one retried later
    // has two).
    let mut latest: HashMap<String, (Key, String)> = HashMap::new();
    for file in &outcome_files {
        for v in lines(file)? {
            let text = |k: &str| {
                v.get(k)
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let key = (text("workflow"), text("channel"), text("template"));
            let send = text("send_id");
            send_key.insert(send.clone(), key.clone());
            latest.insert(send, (key, text("outcome")));
        }
    }
    for (key, outcome) in latest.into_values() {
        let m = messages.entry(key).or_default();
        match outcome.as_str() {
            "delivered" => m.sent += 1,
            "failed" => m.failed += 1,
            "suppressed" => m.suppressed += 1,
            _ => {}
        }
    }
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for v in lines(&dir.join("engagement.jsonl"))? {
        let (Some(send), Some(kind)) = (
            v.get("send_id").and_then(Json::as_str),
            v.get("kind").and_then(Json::as_str),
        ) else {
            continue;
        };
        if !seen.insert((send.to_owned(), kind.to_owned())) {
            continue;
        }
        let Some(key) = send_key.get(send) else {
            continue;
        };
        let m = messages.entry(key.clone()).or_default();
        match kind {
            "delivered" => m.delivered += 1,
            "bounced" => m.bounced += 1,
            "complained" => m.complained += 1,
            "opened" => m.opened += 1,
            "clicked" => m.clicked += 1,
            "unsubscribed" => m.unsubscribed += 1,
            _ => {}
        }
    }
    Ok(messages
        .into_iter()
        .map(|((workflow, channel, template), m)| MessageEngagement {
            workflow,
            channel,
            template,
            ..m
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engagement_joins_outcomes_and_counts_each_send_once_per_kind() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let outcome = |send: &str, outcome: &str| {
            json!({"send_id": send, "workflow": "w", "channel": "email", "template": "t", "outcome": outcome})
                .to_string()
        };
        std::fs::write(
            dir.path().join("partition-0.jsonl"),
            [
                outcome("s1", "delivered"),
                outcome("s2", "parked"),
                outcome("s2", "delivered"),
                outcome("s3", "suppressed"),
                "{\"torn".to_owned(),
            ]
            .join("\n"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e = Engagement::new(dir.path());
        e.note("s1", "opened");
        e.note("s1", "opened");
        e.note("s1", "clicked");
        e.note("s2", "bounced");
        e.note("unknown", "opened");
        let m = per_message(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.len(), 1);
        let m = &m[0];
        assert_eq!((m.sent, m.suppressed, m.failed), (2, 1, 0));
        assert_eq!((m.opened, m.clicked, m.bounced), (1, 1, 1));
    }
}
