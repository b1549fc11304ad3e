//! What providers report back: deliveries, bounces, complaints and SMS
//! replies, into consent and into flows (see [`crate::events`]).
//!
//! - `POST /v1/feedback` (admin token, as a bearer token or as the
//!   password of HTTP basic auth): one report or an array of them,
//!   `{"type": "delivered" | "bounced" | "complained", "send_id" or
//!   "message_id", "permanent": bool, "reason": text}`, for any provider
//!   whose webhook can be shaped so (or a small adapter in front of one).
//!   A permanent bounce and a complaint unsubscribe the profile from the
//!   message's channel.
//! - `POST /v1/feedback/twilio/TOKEN`: Twilio's status callback for one
//!   SMS (the URL is sent with the message; the token is signed, naming
//!   the profile and the message). `delivered` becomes
//!   `message_delivered`; `undelivered` and `failed`, `message_bounced`.
//! - `POST /v1/feedback/twilio/inbound`: replies to the sending number,
//!   with Twilio's `X-Twilio-Signature` checked against the account's
//!   token. `STOP` (and Twilio's other opt-out words) unsubscribes every
//!   profile an SMS was sent to at that number; `START` subscribes them
//!   again.
//!
//! Sends are looked up in the store's `sends` tree (send id → profile,
//! workflow, template, channel, written when a message is handed to its
//! provider) and numbers in its `addresses` tree (channel, address,
//! profile).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use axum::Json;
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use serde_json::{json, Value as Json_};

use crate::delivery::Outgoing;
use crate::events;
use crate::http::AppState;
use crate::ServeError;

/// Sends and addresses, for the reports that name them.
#[derive(Clone, Debug)]
pub struct Book {
    sends: sled::Tree,
    addresses: sled::Tree,
}

fn address_key(channel: &str, address: &str) -> Vec<u8> {
    let mut k = channel.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(normal_address(channel, address).as_bytes());
    k.push(0);
    k
}

/// An address as replies name it: a phone number as `+` and its digits
/// (`+1 (415) 555-0100` and Twilio's `+14155550100` are one number);
/// anything else as written.
fn normal_address(channel: &str, address: &str) -> String {
    if channel != "sms" {
        return address.to_owned();
    }
    let digits: String = address.chars().filter(char::is_ascii_digit).collect();
    if address.trim_start().starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    }
}

impl Book {
    /// Opens the trees of `db`.
    pub fn open(db: &sled::Db) -> Result<Book, ServeError> {
        let open = |name: &str| {
            db.open_tree(name)
                .map_err(|e| ServeError::new(format!("cannot open the `{name}` store: {e}")))
        };
        Ok(Book {
            sends: open("sends")?,
            addresses: open("addresses")?,
        })
    }

    /// Notes a message handed to its provider (sled writes it out within
    /// half a second; a report for a message lost in a crash is answered
    /// as unknown, and the message is sent, and noted, again).
    pub fn note(&self, m: &Outgoing) -> Result<(), String> {
        let value = json!({
            "profile": m.profile,
            "workflow": m.workflow,
            "template": m.template,
            "channel": m.channel,
        });
        self.sends
            .insert(m.send_id.as_bytes(), value.to_string().into_bytes())
            .map_err(|e| format!("cannot note a send: {e}"))?;
        if let Some(to) = m.to.as_deref().filter(|t| !t.is_empty()) {
            let mut key = address_key(&m.channel, to);
            key.extend_from_slice(m.profile.as_bytes());
            self.addresses
                .insert(key, &[])
                .map_err(|e| format!("cannot note an address: {e}"))?;
        }
        Ok(())
    }

    /// A send's profile, workflow, template and channel.
    pub fn send(&self, send_id: &str) -> Result<Option<Json_>, String> {
        match self
            .sends
            .get(send_id.as_bytes())
            .map_err(|e| format!("cannot read a send: {e}"))?
        {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| format!("a send's entry is damaged: {e}")),
        }
    }

    /// The profiles messages of `channel` went to at `address`.
    pub fn profiles_at(&self, channel: &str, address: &str) -> Result<Vec<String>, String> {
        let prefix = address_key(channel, address);
        let mut out = Vec::new();
        for kv in self.addresses.scan_prefix(&prefix) {
            let (k, _) = kv.map_err(|e| format!("cannot read addresses: {e}"))?;
            out.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
        }
        Ok(out)
    }
}

/// The token of `POST /v1/feedback`, keyed from the admin token: a
/// provider's webhook settings hold it, and it opens nothing else.
pub fn token(admin: &str) -> String {
    match crate::signed::Signer::new(admin, "nudge feedback") {
        Ok(s) => format!("fbk_{}", s.mac(b"feedback")),
        Err(_) => String::new(),
    }
}

/// Sets consent (durably) and, when that changed it, applies
/// `subscription_changed`; whether it changed.
pub async fn set_consent(
    state: &AppState,
    profile: &str,
    channel: &str,
    subscribed: bool,
    source: &'static str,
) -> Result<bool, String> {
    let consent = state.consent.clone();
    let (p, c) = (profile.to_owned(), channel.to_owned());
    let changed = tokio::task::spawn_blocking(move || consent.set(&p, &c, subscribed, source))
        .await
        .map_err(|e| e.to_string())??;
    if changed {
        if let Err(e) =
            events::subscription_changed(state, profile, channel, subscribed, source).await
        {
            tracing::warn!("`{}` of `{profile}` not applied: {e}", events::SUBSCRIPTION);
        }
    }
    Ok(changed)
}

/// The properties of a message's events, from its entry in the book.
fn message_properties(send_id: &str, entry: &Json_) -> Json_ {
    json!({
        "send_id": send_id,
        "workflow": entry["workflow"],
        "template": entry["template"],
        "channel": entry["channel"],
    })
}

/// One report of `POST /v1/feedback`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    #[serde(rename = "type")]
    kind: Kind,
    send_id: Option<String>,
    /// An email's `Message-ID` (`<SEND_ID@DOMAIN>`).
    message_id: Option<String>,
    permanent: Option<bool>,
    reason: Option<String>,
}

#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Delivered,
    Bounced,
    Complained,
}

impl Report {
    fn send_id(&self) -> Option<String> {
        if let Some(id) = &self.send_id {
            return Some(id.clone());
        }
        let m = self.message_id.as_deref()?.trim();
        let inner = m.strip_prefix('<').unwrap_or(m);
        let inner = inner.strip_suffix('>').unwrap_or(inner);
        Some(inner.split('@').next()?.to_owned())
    }
}

/// Applies one report: what it did (`applied`, `unknown`).
async fn apply_report(state: &AppState, r: &Report) -> Result<&'static str, String> {
    let Some(send_id) = r.send_id() else {
        return Err("a report needs `send_id` or `message_id`".into());
    };
    let book = state.book.clone();
    let id = send_id.clone();
    let entry = tokio::task::spawn_blocking(move || book.send(&id))
        .await
        .map_err(|e| e.to_string())??;
    let Some(entry) = entry else {
        return Ok("unknown");
    };
    let profile = entry["profile"].as_str().unwrap_or_default().to_owned();
    let channel = entry["channel"].as_str().unwrap_or_default().to_owned();
    let mut properties = message_properties(&send_id, &entry);
    state.engagement.note(
        &send_id,
        match r.kind {
            Kind::Delivered => "delivered",
            Kind::Bounced => "bounced",
            Kind::Complained => "complained",
        },
    );
    match r.kind {
        Kind::Delivered => {
            let mid = format!("{}-{send_id}", events::DELIVERED);
            events::report(state, events::DELIVERED, &profile, properties, &mid).await?;
        }
        Kind::Bounced => {
            let permanent = r.permanent.unwrap_or(true);
            if permanent {
                set_consent(state, &profile, &channel, false, "bounce").await?;
            }
            properties["reason"] = json!(r.reason.clone().unwrap_or_default());
            properties["permanent"] = json!(permanent);
            let mid = format!("{}-{send_id}-{permanent}", events::BOUNCED);
            events::report(state, events::BOUNCED, &profile, properties, &mid).await?;
        }
        Kind::Complained => {
            set_consent(state, &profile, &channel, false, "complaint").await?;
        }
    }
    Ok("applied")
}

/// `POST /v1/feedback` (admin): reports from any provider.
pub async fn feedback(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let allowed = crate::http::presented_token(&headers)
        .filter(|t| !t.is_empty())
        .is_some_and(|t| {
            crate::signed::same(&t, &token(&state.keys.admin_token))
                || crate::signed::same(&t, &state.keys.admin_token)
        });
    if !allowed {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "feedback needs the feedback token (GET /api/feedback_token) or the admin token, as a bearer token or the basic-auth password"})),
        )
            .into_response();
    }
    let reports: Vec<Report> = match serde_json::from_slice::<Json_>(&body) {
        Ok(Json_::Array(a)) => match a.into_iter().map(serde_json::from_value).collect() {
            Ok(r) => r,
            Err(e) => return bad(format!("a report is not valid: {e}")),
        },
        Ok(one) => match serde_json::from_value(one) {
            Ok(r) => vec![r],
            Err(e) => return bad(format!("the report is not valid: {e}")),
        },
        Err(e) => return bad(format!("the body is not JSON: {e}")),
    };
    let (mut applied, mut unknown) = (0, Vec::new());
    for (i, r) in reports.iter().enumerate() {
        match apply_report(&state, r).await {
            Ok("applied") => applied += 1,
            Ok(_) => unknown.push(json!(r.send_id())),
            Err(e) if e.starts_with("a report needs") => {
                return bad(format!("report {i}: {e}"));
            }
            Err(e) => {
                // Not applied: the provider sends it again.
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"error": e, "applied": applied})),
                )
                    .into_response();
            }
        }
    }
    (
        StatusCode::OK,
        Json(json!({"applied": applied, "unknown": unknown})),
    )
        .into_response()
}

fn bad(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

/// The fields of a form body.
fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// `POST /v1/feedback/twilio/TOKEN`: the status of one SMS.
pub async fn twilio_status(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(hit) = state.sms_status.verify(&token) else {
        return (StatusCode::NOT_FOUND, "this status link is not valid\n").into_response();
    };
    let fields = form(&body);
    if let Some(r) = not_signed_by_twilio(
        &state,
        &format!("/v1/feedback/twilio/{token}"),
        &headers,
        &fields,
    ) {
        return r;
    }
    let status = field(&fields, "MessageStatus");
    let send_id = hit.properties["send_id"].as_str().unwrap_or_default();
    let mut properties = hit.properties.clone();
    match status {
        "delivered" => state.engagement.note(send_id, "delivered"),
        "undelivered" | "failed" => state.engagement.note(send_id, "bounced"),
        _ => {}
    }
    let applied = match status {
        "delivered" => {
            let mid = format!("{}-{send_id}", events::DELIVERED);
            events::report(&state, events::DELIVERED, &hit.profile, properties, &mid).await
        }
        "undelivered" | "failed" => {
            let code = field(&fields, "ErrorCode");
            properties["reason"] = json!(format!("{status} (Twilio error {code})"));
            properties["permanent"] = json!(true);
            let mid = format!("{}-{send_id}-true", events::BOUNCED);
            events::report(&state, events::BOUNCED, &hit.profile, properties, &mid).await
        }
        // queued, sending, sent, …: steps on the way.
        _ => Ok(()),
    };
    match applied {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// Twilio's opt-out and opt-in words.
const STOP_WORDS: &[&str] = &[
    "STOP",
    "STOPALL",
    "STOP ALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "REVOKE",
];
const START_WORDS: &[&str] = &["START", "YES", "UNSTOP"];

/// Twilio's `X-Twilio-Signature` of a form POSTed to `url`: the base64
/// HMAC-SHA1, under the account's token, of the URL followed by every
/// field's name and value, sorted by name.
pub fn twilio_signature(token: &str, url: &str, fields: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = fields.iter().collect();
    sorted.sort();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()) else {
        return String::new();
    };
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks a Twilio request's `X-Twilio-Signature` (the URL Twilio called
/// is `public_url` and `path`): the refusal, when it does not match.
fn not_signed_by_twilio(
    state: &AppState,
    path: &str,
    headers: &HeaderMap,
    fields: &[(String, String)],
) -> Option<Response> {
    let (Some(token), Some(base)) = (state.sms_token.as_deref(), state.public_url.get()) else {
        return Some(
            (
                StatusCode::NOT_FOUND,
                "Twilio's callbacks need `[delivery.sms]`\n",
            )
                .into_response(),
        );
    };
    let given = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected = twilio_signature(token, &format!("{base}{path}"), fields);
    (!crate::signed::same(given, &expected)).then(|| {
        (
            StatusCode::FORBIDDEN,
            "the Twilio signature does not match\n",
        )
            .into_response()
    })
}

/// `POST /v1/feedback/twilio/inbound`: a reply to the sending number.
pub async fn twilio_inbound(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = form(&body);
    if let Some(r) = not_signed_by_twilio(&state, "/v1/feedback/twilio/inbound", &headers, &fields)
    {
        return r;
    }
    let from = field(&fields, "From").to_owned();
    let words = field(&fields, "Body").trim().to_ascii_uppercase();
    let subscribed = if STOP_WORDS.contains(&words.as_str()) {
        Some(false)
    } else if START_WORDS.contains(&words.as_str()) {
        Some(true)
    } else {
        None
    };
    if let Some(subscribed) = subscribed {
        let book = state.book.clone();
        let number = from.clone();
        let profiles =
            match tokio::task::spawn_blocking(move || book.profiles_at("sms", &number)).await {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => return (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
                Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
            };
        if profiles.is_empty() {
            tracing::warn!(
                "an SMS `{words}` from {from}, a number no message was sent to: no consent changed"
            );
        }
        for profile in profiles {
            if let Err(e) = set_consent(&state, &profile, "sms", subscribed, "sms_reply").await {
                return (StatusCode::SERVICE_UNAVAILABLE, e).into_response();
            }
        }
    }
    // An empty TwiML answer: Twilio sends its own confirmation of STOP
    // and START.
    (
        [(header::CONTENT_TYPE, "text/xml")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_signatures_match_twilios_documented_example() {
        // Twilio's documentation of webhook security: this URL, these
        // fields and the token 12345 sign to this value.
        let fields: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            twilio_signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &fields
            ),
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        );
    }

    #[test]
    fn phone_numbers_are_compared_by_their_digits() {
        assert_eq!(normal_address("sms", "+1 (415) 555-0100"), "+14155550100");
        assert_eq!(normal_address("sms", "+14155550100"), "+14155550100");
        assert_eq!(normal_address("email", "A@B.example"), "A@B.example");
    }

    #[test]
    fn a_message_id_names_its_send() {
        let r: Report =
            serde_json::from_value(json!({"type": "bounced", "message_id": "<ab12@shop.example>"}))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.send_id().as_deref(), Some("ab12"));
    }
}
