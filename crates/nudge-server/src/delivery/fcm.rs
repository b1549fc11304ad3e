//! Push through Firebase Cloud Messaging's HTTP v1 API.
//!
//! A service account (the JSON file Google's console gives) signs a JWT
//! (RS256) asking for the `firebase.messaging` scope; its `token_uri`
//! exchanges it for an access token, kept until a minute before it
//! expires. Each message is POSTed to
//! `{base_url}/v1/projects/{project_id}/messages:send`:
//! `{"message": {"token", "notification": {"title", "body"}, "data":
//! {"send_id", "url"}}}`. FCM has no idempotency key: a message whose
//! answer was lost is sent again, and `data.send_id` lets the app drop
//! the copy.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustls::pki_types::pem::PemObject as _;
use serde_json::{json, Value as Json};

use super::{Attempt, Outgoing, Provider};
use crate::ServeError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

/// How FCM is reached.
#[derive(Clone, Debug)]
pub struct FcmConfig {
    /// The service account's JSON (its text).
    pub service_account: String,
    /// Where the API is (`https://fcm.googleapis.com`).
    pub base_url: String,
    /// How long one request may take.
    pub timeout: Duration,
}

/// What the provider needs of a service account.
#[derive(Debug, serde::Deserialize)]
struct ServiceAccount {
    project_id: String,
    private_key: String,
    private_key_id: Option<String>,
    client_email: String,
    token_uri: String,
}

/// The FCM provider.
pub struct Fcm {
    account: ServiceAccount,
    key: ring::signature::RsaKeyPair,
    base_url: String,
    client: reqwest::blocking::Client,
    token: Mutex<Option<(String, Instant)>>,
}

impl Fcm {
    /// A provider for `config` (the key is read now; tokens are asked for
    /// when sending).
    pub fn new(
        config: &FcmConfig,
        tls: &std::sync::Arc<rustls::ClientConfig>,
    ) -> Result<Fcm, ServeError> {
        let account: ServiceAccount = serde_json::from_str(&config.service_account)
            .map_err(|e| ServeError::new(format!("the FCM service account is not valid: {e}")))?;
        let der =
            rustls::pki_types::PrivatePkcs8KeyDer::from_pem_slice(account.private_key.as_bytes())
                .map_err(|e| {
                ServeError::new(format!(
                    "the FCM service account's `private_key` is not a PKCS#8 PEM key: {e}"
                ))
            })?;
        let key = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).map_err(|e| {
            ServeError::new(format!(
                "the FCM service account's `private_key` is not an RSA key: {e}"
            ))
        })?;
        Ok(Fcm {
            account,
            key,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            client: crate::tls::http_client(config.timeout, tls)?,
            token: Mutex::new(None),
        })
    }

    /// A signed JWT asking for an access token.
    fn assertion(&self) -> Result<String, String> {
        let now = chrono::Utc::now().timestamp();
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.account.private_key_id {
            header["kid"] = json!(kid);
        }
        let claims = json!({
            "iss": self.account.client_email,
            "scope": SCOPE,
            "aud": self.account.token_uri,
            "iat": now,
            "exp": now + 3600,
        });
        let signed = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "cannot sign the FCM token request".to_owned())?;
        Ok(format!("{signed}.{}", B64.encode(signature)))
    }

    /// The access token, asked for when there is none or it is about to
    /// expire.
    fn access_token(&self) -> Result<String, Attempt> {
        if let Ok(t) = self.token.lock() {
            if let Some((token, until)) = t.as_ref() {
                if Instant::now() < *until {
                    return Ok(token.clone());
                }
            }
        }
        let assertion = self.assertion().map_err(Attempt::Permanent)?;
        let what = format!("POST {}", self.account.token_uri);
        let answer = self
            .client
            .post(&self.account.token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send();
        let response = match answer {
            Ok(r) => r,
            Err(e) => return Err(Attempt::Transient(format!("{what}: {e}"), None)),
        };
        let status = response.status();
        let body: Json = response.json().unwrap_or(Json::Null);
        if !status.is_success() {
            let reason = format!("{what}: {status} {body}");
            // A refused key will not be accepted later; a busy server may.
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                Attempt::Transient(reason, None)
            } else {
                Attempt::Permanent(reason)
            });
        }
        let Some(token) = body["access_token"].as_str() else {
            return Err(Attempt::Transient(
                format!("{what}: no access_token in {body}"),
                None,
            ));
        };
        let lifetime = body["expires_in"].as_u64().unwrap_or(3600);
        let until = Instant::now() + Duration::from_secs(lifetime.saturating_sub(60));
        if let Ok(mut t) = self.token.lock() {
            *t = Some((token.to_owned(), until));
        }
        Ok(token.to_owned())
    }
}

impl Provider for Fcm {
    fn send(&self, m: &Outgoing) -> Attempt {
        let Some(to) = m.to.as_deref().filter(|t| !t.is_empty()) else {
            return Attempt::Permanent("the profile has no push token".into());
        };
        let token = match self.access_token() {
            Ok(t) => t,
            Err(a) => return a,
        };
        let mut data = json!({"send_id": m.send_id});
        if let Some(url) = m.content.get("url").and_then(Json::as_str) {
            data["url"] = json!(url);
        }
        let body = json!({
            "message": {
                "token": to,
                "notification": {"title": m.field("title"), "body": m.field("body")},
                "data": data,
            }
        });
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            self.base_url, self.account.project_id
        );
        let sent = self
            .client
            .post(&url)
            .bearer_auth(&token)
            .json(&body)
            .send();
        if let Ok(r) = &sent {
            if r.status().as_u16() == 401 {
                // The token was revoked or expired early: ask again next time.
                if let Ok(mut t) = self.token.lock() {
                    *t = None;
                }
                return Attempt::Transient(
                    format!("POST {url}: 401, the access token is refused"),
                    None,
                );
            }
        }
        super::http_providers::judge(&format!("POST {url}"), sent)
    }
}
