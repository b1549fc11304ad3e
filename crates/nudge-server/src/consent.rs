//! Consent: whether a profile takes marketing messages on a channel.
//!
//! Kept in the store's `consent` tree (`profile`, a zero byte, the channel
//! → `{"subscribed": bool, "at": …, "source": …}`), set by
//! `POST /v1/consent` and by one-click unsubscribe links, and read by
//! delivery just before a message goes out: a profile unsubscribed from a
//! channel gets no message of a `priority marketing` workflow there
//! (transactional ones still go). A profile without an entry is
//! subscribed.
//!
//! An unsubscribe link carries a token: the profile and the channel, and
//! an HMAC-SHA256 of them under a key derived from the server's admin
//! token, so that a link only unsubscribes the profile it was sent to.

use serde_json::{json, Value as Json};

use crate::signed::Signer;
use crate::ServeError;

/// The consent tree.
#[derive(Clone, Debug)]
pub struct Consent {
    db: sled::Db,
    tree: sled::Tree,
    links: Signer,
}

fn key_of(profile: &str, channel: &str) -> Vec<u8> {
    let mut k = profile.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(channel.as_bytes());
    k
}

impl Consent {
    /// Opens the consent tree of `db`; `secret` keys the unsubscribe links.
    pub fn open(db: &sled::Db, secret: &str) -> Result<Consent, ServeError> {
        let tree = db
            .open_tree("consent")
            .map_err(|e| ServeError::new(format!("cannot open the consent store: {e}")))?;
        Ok(Consent {
            db: db.clone(),
            tree,
            links: Signer::new(secret, "nudge unsubscribe links")?,
        })
    }

    /// Sets a profile's consent for a channel, durably (`source` says
    /// what set it: `api`, `unsubscribe_link`, `sms_reply`, `bounce`,
    /// `complaint`); whether that changed it.
    pub fn set(
        &self,
        profile: &str,
        channel: &str,
        subscribed: bool,
        source: &str,
    ) -> Result<bool, String> {
        let value = json!({
            "subscribed": subscribed,
            "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "source": source,
        });
        let before = self
            .tree
            .insert(key_of(profile, channel), value.to_string().into_bytes())
            .map_err(|e| format!("cannot write consent: {e}"))?;
        self.db
            .flush()
            .map_err(|e| format!("cannot write consent: {e}"))?;
        // No entry: subscribed.
        let was = before
            .and_then(|v| serde_json::from_slice::<Json>(&v).ok())
            .is_none_or(|v| v["subscribed"] != false);
        Ok(was != subscribed)
    }

    /// A profile's consent entry for a channel, if any.
    pub fn get(&self, profile: &str, channel: &str) -> Result<Option<Json>, String> {
        match self
            .tree
            .get(key_of(profile, channel))
            .map_err(|e| format!("cannot read consent: {e}"))?
        {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| format!("a consent entry is damaged: {e}")),
        }
    }

    /// Whether a profile unsubscribed from a channel.
    pub fn unsubscribed(&self, profile: &str, channel: &str) -> Result<bool, String> {
        Ok(self
            .get(profile, channel)?
            .is_some_and(|v| v["subscribed"] == false))
    }

    /// The token of an unsubscribe link for a profile and a channel.
    pub fn token(&self, profile: &str, channel: &str) -> String {
        self.links.token(&key_of(profile, channel))
    }

    /// The profile and channel of a genuine token.
    pub fn verify(&self, token: &str) -> Option<(String, String)> {
        let payload = self.links.open(token)?;
        let zero = payload.iter().position(|b| *b == 0)?;
        let profile = String::from_utf8(payload[..zero].to_vec()).ok()?;
        let channel = String::from_utf8(payload[zero + 1..].to_vec()).ok()?;
        Some((profile, channel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_profile_and_cannot_be_forged() {
        let dir = std::env::temp_dir().join(format!("nudge-consent-{}", std::process::id()));
        let db = sled::Config::new()
            .path(&dir)
            .temporary(true)
            .open()
            .unwrap();
        let c = Consent::open(&db, "adm_secret").unwrap();
        let t = c.token("u1", "email");
        assert_eq!(c.verify(&t), Some(("u1".into(), "email".into())));
        let other = Consent::open(&db, "adm_other").unwrap();
        assert_eq!(other.verify(&t), None);
        // u2's payload under u1's signature.
        let forged = format!(
            "{}.{}",
            c.token("u2", "email").split_once('.').unwrap().0,
            t.split_once('.').unwrap().1
        );
        assert_eq!(c.verify(&forged), None);
        assert!(!c.unsubscribed("u1", "email").unwrap());
        assert!(c.set("u1", "email", false, "api").unwrap(), "a change");
        assert!(!c.set("u1", "email", false, "api").unwrap(), "no change");
        assert!(c.unsubscribed("u1", "email").unwrap());
        assert!(
            !c.set("u1", "sms", true, "api").unwrap(),
            "subscribed already"
        );
        assert!(!c.unsubscribed("u1", "sms").unwrap());
    }
}
