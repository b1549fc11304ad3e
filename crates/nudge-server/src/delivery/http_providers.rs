//! SMS and push over HTTP.
//!
//! - **SMS** speaks the Twilio Messages API: a form (`To`, `From`,
//!   `Body`: the message's `text`, and `StatusCallback`: a signed URL of
//!   [`crate::feedback`]) POSTed to `{base_url}/2010-04-01/Accounts/{account}/Messages.json`
//!   with HTTP basic auth (the account and its token). Any provider with
//!   that shape works, and the base URL makes a local test server one.
//! - **Push** POSTs JSON to a configured URL, with configured headers:
//!   `{"to": token, "title", "body", "url", "send_id", "profile",
//!   "workflow"}` and an `Idempotency-Key` header (the send id), for a
//!   push service or a gateway in front of one.

use std::time::Duration;

use serde_json::json;

use super::{Attempt, Outgoing, Provider};
use crate::ServeError;

/// How SMS is sent.
#[derive(Clone, Debug)]
pub struct SmsConfig {
    /// The API's base URL (`https://api.twilio.com`).
    pub base_url: String,
    /// The account (Twilio's account SID).
    pub account: String,
    /// Its token.
    pub token: String,
    /// The sending number.
    pub from: String,
    /// How long one attempt may take.
    pub timeout: Duration,
}

/// How push notifications are sent.
#[derive(Clone, Debug)]
pub struct PushConfig {
    /// Where to POST.
    pub url: String,
    /// Extra headers (an `Authorization`, say).
    pub headers: Vec<(String, String)>,
    /// How long one attempt may take.
    pub timeout: Duration,
}

/// What an HTTP answer means for a message: 2xx delivered; 408, 429 and
/// 5xx (and network errors) transient, with the answer's `Retry-After`;
/// the rest permanent.
pub(super) fn judge(what: &str, sent: reqwest::Result<reqwest::blocking::Response>) -> Attempt {
    let response = match sent {
        Ok(r) => r,
        Err(e) if e.is_builder() => return Attempt::Permanent(format!("{what}: {e}")),
        Err(e) => return Attempt::Transient(format!("{what}: {e}"), None),
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text: String = response
        .text()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    if status.is_success() {
        Attempt::Delivered(format!("{status} {text}").trim().to_owned())
    } else if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        Attempt::Transient(format!("{what}: {status} {text}"), retry_after)
    } else {
        Attempt::Permanent(format!("{what}: {status} {text}"))
    }
}

/// Whether a provider could call back `base`: not an unspecified address
/// (`0.0.0.0`, `[::]`).
fn callable(base: &str) -> bool {
    match url::Url::parse(base)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Ipv4(ip)) => !ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => !ip.is_unspecified(),
        Some(url::Host::Domain(_)) => true,
        None => false,
    }
}

/// The SMS provider.
pub struct Sms {
    config: SmsConfig,
    client: reqwest::blocking::Client,
    tracking: crate::tracking::Tracking,
    public_url: std::sync::Arc<std::sync::OnceLock<String>>,
}

impl Sms {
    /// A provider for `config`.
    pub fn new(
        config: &SmsConfig,
        tls: &std::sync::Arc<rustls::ClientConfig>,
        tracking: crate::tracking::Tracking,
        public_url: std::sync::Arc<std::sync::OnceLock<String>>,
    ) -> Result<Sms, ServeError> {
        Ok(Sms {
            config: config.clone(),
            client: crate::tls::http_client(config.timeout, tls)?,
            tracking,
            public_url,
        })
    }
}

impl Provider for Sms {
    fn send(&self, m: &Outgoing) -> Attempt {
        let Some(to) = m.to.as_deref().filter(|t| !t.is_empty()) else {
            return Attempt::Permanent("the profile has no phone number".into());
        };
        let c = &self.config;
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            c.base_url.trim_end_matches('/'),
            c.account
        );
        let mut form = vec![
            ("To", to.to_owned()),
            ("From", c.from.clone()),
            ("Body", m.field("text").to_owned()),
        ];
        // Its delivery status comes back to a signed URL naming it (not to
        // a server listening on every address without a `public_url`:
        // that URL reaches nothing).
        if let Some(base) = self.public_url.get().filter(|b| callable(b)) {
            let properties = json!({
                "send_id": m.send_id,
                "workflow": m.workflow,
                "template": m.template,
                "channel": "sms",
            });
            let token = self.tracking.token(&m.profile, &properties, None);
            form.push((
                "StatusCallback",
                format!("{base}/v1/feedback/twilio/{token}"),
            ));
        }
        let sent = self
            .client
            .post(&url)
            .basic_auth(&c.account, Some(&c.token))
            .header("Idempotency-Key", &m.send_id)
            .form(&form)
            .send();
        judge(&format!("POST {url}"), sent)
    }
}

/// The push provider.
pub struct Push {
    config: PushConfig,
    client: reqwest::blocking::Client,
}

impl Push {
    /// A provider for `config`.
    pub fn new(
        config: &PushConfig,
        tls: &std::sync::Arc<rustls::ClientConfig>,
    ) -> Result<Push, ServeError> {
        Ok(Push {
            config: config.clone(),
            client: crate::tls::http_client(config.timeout, tls)?,
        })
    }
}

impl Provider for Push {
    fn send(&self, m: &Outgoing) -> Attempt {
        let Some(to) = m.to.as_deref().filter(|t| !t.is_empty()) else {
            return Attempt::Permanent("the profile has no push token".into());
        };
        let body = json!({
            "to": to,
            "title": m.field("title"),
            "body": m.field("body"),
            "url": m.content.get("url"),
            "send_id": m.send_id,
            "profile": m.profile,
            "workflow": m.workflow,
        });
        let mut request = self
            .client
            .post(&self.config.url)
            .header("Idempotency-Key", &m.send_id)
            .json(&body);
        for (k, v) in &self.config.headers {
            request = request.header(k, v);
        }
        judge(&format!("POST {}", self.config.url), request.send())
    }
}
