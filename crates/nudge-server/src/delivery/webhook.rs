//! Webhooks: a message's `body` POSTed as JSON to its `url`, signed as
//! the Standard Webhooks specification says (`webhook-id` is the send id,
//! the same on every attempt; `webhook-timestamp`; `webhook-signature`:
//! `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the
//! secret).

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use super::{Attempt, Outgoing, Provider};
use crate::ServeError;

/// How webhooks are sent.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// The signing secret: `whsec_` and base64, as Standard Webhooks
    /// writes it (or any other text, used as it is).
    pub secret: String,
    /// How long one attempt may take.
    pub timeout: Duration,
}

/// The webhook provider.
pub struct Webhook {
    key: Vec<u8>,
    client: reqwest::blocking::Client,
}

impl Webhook {
    /// A provider with `config`'s secret.
    pub fn new(
        config: &WebhookConfig,
        tls: &std::sync::Arc<rustls::ClientConfig>,
    ) -> Result<Webhook, ServeError> {
        let key = match config.secret.strip_prefix("whsec_") {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| {
                    ServeError::new(format!(
                        "the webhook secret starts with `whsec_` but is not base64 after it: {e}"
                    ))
                })?,
            None => config.secret.as_bytes().to_vec(),
        };
        if key.is_empty() {
            return Err(ServeError::new("the webhook secret is empty"));
        }
        let client = crate::tls::http_client(config.timeout, tls)?;
        Ok(Webhook { key, client })
    }
}

/// The `webhook-signature` of a message.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

impl Provider for Webhook {
    fn send(&self, m: &Outgoing) -> Attempt {
        let url = m.field("url");
        if url.is_empty() {
            return Attempt::Permanent("the message has no `url`".into());
        }
        let body = match m.field("body") {
            "" => "{}".to_owned(),
            b => b.to_owned(),
        };
        let id = format!("msg_{}", m.send_id);
        let timestamp = chrono::Utc::now().timestamp();
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature(&self.key, &id, timestamp, &body),
            )
            .body(body)
            .send();
        super::http_providers::judge(&format!("POST {url}"), sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries.
    #[test]
    fn the_signature_matches_the_reference_example() {
        let key = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let sig = signature(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
