//! The in-app inbox: in-app messages kept per profile and served to the
//! app's front end.
//!
//! Delivery writes each in-app message to the store's `inbox` tree
//! (`profile`, a zero byte, the time in ms big-endian, the send id →
//! the message as JSON, with `read` and `archived`), and announces it to
//! open streams. The front end reads it with a per-profile token: an
//! HMAC-SHA256 of the profile id under a key derived from the admin
//! token, which the app's back end fetches from the read API
//! (`GET /api/profiles/ID/inbox_token`) and hands to the signed-in user.

use serde_json::{json, Value as Json};

use crate::delivery::{Attempt, Outgoing, Provider};
use crate::signed::{same, Signer};
use crate::ServeError;

/// The inbox tree, and the stream of new messages.
#[derive(Clone, Debug)]
pub struct Inbox {
    db: sled::Db,
    tree: sled::Tree,
    tokens: Signer,
    /// New messages, as (profile, message), for open streams.
    pub news: tokio::sync::broadcast::Sender<(String, Json)>,
}

fn prefix(profile: &str) -> Vec<u8> {
    let mut k = profile.as_bytes().to_vec();
    k.push(0);
    k
}

impl Inbox {
    /// Opens the inbox tree of `db`; `secret` keys the profile tokens.
    pub fn open(db: &sled::Db, secret: &str) -> Result<Inbox, ServeError> {
        let tree = db
            .open_tree("inbox")
            .map_err(|e| ServeError::new(format!("cannot open the inbox store: {e}")))?;
        Ok(Inbox {
            db: db.clone(),
            tree,
            tokens: Signer::new(secret, "nudge inbox tokens")?,
            news: tokio::sync::broadcast::channel(1024).0,
        })
    }

    /// The token that reads `profile`'s inbox.
    pub fn token(&self, profile: &str) -> String {
        self.tokens.mac(profile.as_bytes())
    }

    /// Whether `token` reads `profile`'s inbox.
    pub fn allows(&self, profile: &str, token: &str) -> bool {
        same(&self.token(profile), token)
    }

    /// Keeps a message (again: the same key replaces it, so a retry
    /// changes nothing) and announces it.
    fn put(&self, m: &Outgoing) -> Result<(), String> {
        let at = chrono::DateTime::parse_from_rfc3339(&m.time)
            .map(|t| t.timestamp_millis())
            .unwrap_or(0)
            .max(0) as u64;
        let mut key = prefix(&m.profile);
        key.extend_from_slice(&at.to_be_bytes());
        key.push(0);
        key.extend_from_slice(m.send_id.as_bytes());
        if self
            .tree
            .contains_key(&key)
            .map_err(|e| format!("cannot read the inbox: {e}"))?
        {
            return Ok(());
        }
        let message = json!({
            "send_id": m.send_id,
            "time": m.time,
            "workflow": m.workflow,
            "template": m.template,
            "title": m.field("title"),
            "body": m.field("body"),
            "url": m.content.get("url"),
            "read": false,
            "archived": false,
        });
        self.tree
            .insert(key, message.to_string().into_bytes())
            .map_err(|e| format!("cannot write the inbox: {e}"))?;
        self.db
            .flush()
            .map_err(|e| format!("cannot write the inbox: {e}"))?;
        let _ = self.news.send((m.profile.clone(), message));
        Ok(())
    }

    /// A profile's messages: unread first, then read, newest first in
    /// each; archived ones only when asked.
    pub fn list(&self, profile: &str, archived: bool) -> Result<Vec<Json>, String> {
        let mut out: Vec<Json> = Vec::new();
        for entry in self.tree.scan_prefix(prefix(profile)) {
            let (_, v) = entry.map_err(|e| format!("cannot read the inbox: {e}"))?;
            let m: Json = serde_json::from_slice(&v)
                .map_err(|e| format!("an inbox entry is damaged: {e}"))?;
            if m["archived"] == true && !archived {
                continue;
            }
            out.push(m);
        }
        out.reverse();
        out.sort_by_key(|m| m["read"] == true);
        Ok(out)
    }

    /// Sets `read` or `archived` on a message; `false` when there is none.
    pub fn mark(&self, profile: &str, send_id: &str, flag: &str) -> Result<bool, String> {
        for entry in self.tree.scan_prefix(prefix(profile)) {
            let (k, v) = entry.map_err(|e| format!("cannot read the inbox: {e}"))?;
            if !k.ends_with(send_id.as_bytes()) {
                continue;
            }
            let mut m: Json = serde_json::from_slice(&v)
                .map_err(|e| format!("an inbox entry is damaged: {e}"))?;
            m[flag] = Json::Bool(true);
            self.tree
                .insert(k, m.to_string().into_bytes())
                .map_err(|e| format!("cannot write the inbox: {e}"))?;
            self.db
                .flush()
                .map_err(|e| format!("cannot write the inbox: {e}"))?;
            return Ok(true);
        }
        Ok(false)
    }
}

impl Provider for Inbox {
    fn send(&self, m: &Outgoing) -> Attempt {
        match self.put(m) {
            Ok(()) => Attempt::Delivered("in the inbox".into()),
            Err(e) => Attempt::Transient(e, None),
        }
    }
}
