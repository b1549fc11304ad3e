//! Opens and clicks of emails, back into flows as events.
//!
//! An email's HTML gets a one-pixel image at `/o/TOKEN` and its links are
//! rewritten through `/c/TOKEN` (which redirects to the link). The token
//! holds the profile, the send id, the workflow, the template and, for a
//! click, a hash of the link, and an HMAC-SHA256 under a key derived from
//! the admin token, so that a token can be neither forged nor pointed at
//! another address. A hit becomes a `track` call of the event
//! `message_opened` or `message_clicked` for the profile, with the
//! properties `send_id`, `workflow`, `template`, `channel` (and `url` for
//! a click), when the project declares that event: flows `wait for` it,
//! branch and set goals on it like any event. A project that does not
//! declare them gets nothing (a pixel is not product activity).

use base64::Engine as _;
use serde_json::{json, Value as Json};
use sha2::{Digest as _, Sha256};

use crate::signed::Signer;
use crate::ServeError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The event of an open.
pub const OPENED: &str = "message_opened";
/// The event of a click.
pub const CLICKED: &str = "message_clicked";

/// Makes and checks tracking tokens.
#[derive(Clone, Debug)]
pub struct Tracking {
    links: Signer,
}

/// What a genuine token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The profile.
    pub profile: String,
    /// The properties of the event.
    pub properties: Json,
    /// For a click: the hash of the link it may go to.
    pub link: Option<String>,
}

fn link_hash(url: &str) -> String {
    B64.encode(&Sha256::digest(url.as_bytes())[..12])
}

impl Tracking {
    /// Tracking keyed from `secret`.
    pub fn new(secret: &str) -> Result<Tracking, ServeError> {
        Ok(Tracking {
            links: Signer::new(secret, "nudge tracking links")?,
        })
    }

    /// Tokens of SMS status callbacks: keyed apart from the tracking
    /// links, so that an email's pixel token is no status token.
    pub fn for_sms_status(secret: &str) -> Result<Tracking, ServeError> {
        Ok(Tracking {
            links: Signer::new(secret, "nudge sms status")?,
        })
    }

    /// A token for a message (and a link of it).
    pub fn token(&self, profile: &str, properties: &Json, link: Option<&str>) -> String {
        let payload = json!({"p": profile, "e": properties, "l": link.map(link_hash)}).to_string();
        self.links.token(payload.as_bytes())
    }

    /// What a genuine token says.
    pub fn verify(&self, token: &str) -> Option<Hit> {
        let v: Json = serde_json::from_slice(&self.links.open(token)?).ok()?;
        Some(Hit {
            profile: v["p"].as_str()?.to_owned(),
            properties: v["e"].clone(),
            link: v["l"].as_str().map(str::to_owned),
        })
    }

    /// Whether `url` is the link a click token was made for.
    pub fn link_matches(hit: &Hit, url: &str) -> bool {
        hit.link.as_deref() == Some(link_hash(url).as_str())
    }

    /// An email's HTML with its links going through `/c/` and an open
    /// pixel at the end.
    pub fn rewrite(&self, html: &str, base: &str, profile: &str, properties: &Json) -> String {
        let mut out = String::with_capacity(html.len() + 256);
        let mut rest = html;
        while let Some(i) = rest.find("href=\"") {
            let start = i + "href=\"".len();
            out.push_str(&rest[..start]);
            let after = &rest[start..];
            let Some(end) = after.find('"') else {
                rest = after;
                break;
            };
            let url = &after[..end];
            if url.starts_with("http://") || url.starts_with("https://") {
                let mut props = properties.clone();
                props["url"] = Json::String(url.to_owned());
                let token = self.token(profile, &props, Some(url));
                let encoded: String =
                    url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
                out.push_str(&format!("{base}/c/{token}?u={encoded}"));
            } else {
                out.push_str(url);
            }
            rest = &after[end..];
        }
        out.push_str(rest);
        let pixel = format!(
            "<img src=\"{base}/o/{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">",
            self.token(profile, properties, None)
        );
        match out.rfind("</body>") {
            Some(i) => out.insert_str(i, &pixel),
            None => out.push_str(&pixel),
        }
        out
    }
}

/// A transparent 1×1 GIF.
pub const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_status_tokens_and_tracking_tokens_are_not_interchangeable() {
        let links = Tracking::new("adm_x").unwrap_or_else(|e| panic!("{e}"));
        let status = Tracking::for_sms_status("adm_x").unwrap_or_else(|e| panic!("{e}"));
        let props = json!({"send_id": "ab"});
        let pixel = links.token("u1", &props, None);
        assert!(links.verify(&pixel).is_some());
        assert!(status.verify(&pixel).is_none());
        let callback = status.token("u1", &props, None);
        assert!(links.verify(&callback).is_none());
    }

    #[test]
    fn links_go_through_tokens_that_cannot_be_redirected() {
        let t = Tracking::new("adm_x").unwrap();
        let props = json!({"send_id": "ab", "workflow": "w"});
        let html = t.rewrite(
            "<p><a href=\"https://shop.example/cart?x=1\">cart</a> <a href=\"#top\">top</a></p>",
            "http://127.0.0.1:1",
            "u1",
            &props,
        );
        assert!(html.contains("href=\"#top\""), "{html}");
        assert!(html.contains("<img src=\"http://127.0.0.1:1/o/"), "{html}");
        let start = html.find("/c/").unwrap() + 3;
        let token = &html[start..html[start..].find('?').unwrap() + start];
        let hit = t.verify(token).unwrap();
        assert_eq!(hit.profile, "u1");
        assert_eq!(hit.properties["url"], "https://shop.example/cart?x=1");
        assert!(Tracking::link_matches(
            &hit,
            "https://shop.example/cart?x=1"
        ));
        assert!(!Tracking::link_matches(&hit, "https://evil.example/"));
        assert!(t.verify(&token.replace('.', ".x")).is_none());
        assert!(Tracking::new("adm_y").unwrap().verify(token).is_none());
    }
}
