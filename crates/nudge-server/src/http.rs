//! The HTTP API: Segment-compatible ingestion under `/v1/`, health and
//! readiness, Prometheus metrics.

use std::io::Read as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use nudge_bytecode::Module;
use serde_json::json;

use crate::api::{self, Query};
use crate::keys::Keys;
use crate::partition::{self, Busy, Partitions};
use crate::segment::{self, Limits, Refusal};
use crate::signed::same_bytes;

/// What every handler reads.
pub struct AppState {
    /// The partitions.
    pub partitions: Partitions,
    /// The credentials.
    pub keys: Keys,
    /// The running module: its schemas validate calls.
    pub module: std::sync::RwLock<Arc<Module>>,
    /// One deploy at a time.
    pub deploying: tokio::sync::Mutex<()>,
    /// Who takes marketing messages on which channel.
    pub consent: crate::consent::Consent,
    /// In-app messages by profile.
    pub inbox: crate::inbox::Inbox,
    /// Sends and addresses, for providers' reports.
    pub book: crate::feedback::Book,
    /// The SMS provider's token (it signs SMS replies and status
    /// callbacks).
    pub sms_token: Option<String>,
    /// The tokens of SMS status callback URLs.
    pub sms_status: crate::tracking::Tracking,
    /// The address the server is reached at from outside.
    pub public_url: Arc<std::sync::OnceLock<String>>,
    /// Set when the server stops: open streams end.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Where delivery outcomes are written.
    pub outcomes: std::path::PathBuf,
    /// What happened to messages after they were sent.
    pub engagement: crate::engagement::Engagement,
    /// Opens and clicks of emails.
    pub tracking: crate::tracking::Tracking,
    /// Request limits.
    pub limits: Limits,
    /// Requests refused, by code (for `/metrics`).
    pub refused: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

/// The server's routes.
pub fn router(state: Arc<AppState>) -> Router {
    // The raw body may be as large as the decoded limit: a compressed
    // body over it would decode larger still.
    let raw_limit = state.limits.body_bytes;
    Router::new()
        .route("/v1/consent", post(set_consent))
        .route("/v1/feedback", post(crate::feedback::feedback))
        .route(
            "/v1/feedback/twilio/inbound",
            post(crate::feedback::twilio_inbound),
        )
        .route(
            "/v1/feedback/twilio/{token}",
            post(crate::feedback::twilio_status),
        )
        .route("/v1/{kind}", post(ingest))
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/v1/profiles/{id}/inbox", get(inbox_list))
        .route("/v1/profiles/{id}/inbox/stream", get(inbox_stream))
        .route("/v1/profiles/{id}/inbox/{send_id}/{flag}", post(inbox_mark))
        .route("/api/profiles/{id}/inbox_token", get(inbox_token))
        .route("/api/deliveries/parked", get(parked))
        .route("/api/feedback_token", get(feedback_token))
        .route("/o/{token}", get(opened))
        .route("/c/{token}", get(clicked))
        .route("/api/deliveries/{send_id}/retry", post(retry))
        .route("/api/profiles/{id}", get(api_profile))
        .route("/api/workflows", get(api_workflows))
        .route("/api/versions", get(api_versions))
        .route("/api/report", get(api_report))
        .route(
            "/api/deploy",
            post(api_deploy).layer(DefaultBodyLimit::max(MAX_MODULE_BYTES)),
        )
        .layer(DefaultBodyLimit::max(raw_limit))
        .with_state(state)
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let p = &state.partitions;
    let all_ready = !p.failed() && p.counters.iter().all(|c| c.ready.load(Ordering::SeqCst));
    if all_ready {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let refused: Vec<(&str, u64)> = state
        .refused
        .lock()
        .map(|r| r.iter().map(|(k, v)| (*k, *v)).collect())
        .unwrap_or_default();
    let out = crate::metrics::render(&state.partitions.counters, refused.into_iter());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// Whether a request carries the admin token as a bearer token.
pub fn is_admin(state: &AppState, headers: &HeaderMap) -> bool {
    bearer(headers).is_some_and(|t| same_bytes(t.as_bytes(), state.keys.admin_token.as_bytes()))
}

/// The token a request presents: a bearer token, or the password of HTTP
/// basic auth (what providers' webhook settings can often only give, in
/// the URL).
pub fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = bearer(headers) {
        return Some(t.to_owned());
    }
    let b64 = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let pair = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let colon = pair.iter().position(|b| *b == b':')?;
    String::from_utf8(pair[colon + 1..].to_vec()).ok()
}

/// The refusal of a request without the admin token (`Authorization:
/// Bearer TOKEN`), if it has none.
fn not_admin(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    match is_admin(state, headers) {
        true => None,
        false => Some(refuse(
            state,
            Refusal::new(
                401,
                "unauthorized",
                "the read API needs the admin token: `Authorization: Bearer TOKEN`",
            ),
        )),
    }
}

/// Asks partitions (`None`: all of them) a question; their answers in
/// partition order, or the response to give instead.
async fn ask(
    state: &AppState,
    only: Option<usize>,
    query: Query,
) -> Result<Vec<serde_json::Value>, Response> {
    let p = &state.partitions;
    let which: Vec<usize> = match only {
        Some(n) => vec![n],
        None => (0..p.count()).collect(),
    };
    let mut answers = Vec::new();
    for n in which {
        let unavailable = || {
            refuse(
                state,
                Refusal::new(
                    503,
                    "stopping",
                    "the server is not answering now; retry shortly",
                ),
            )
        };
        let rx = p.query(n, query.clone()).map_err(|_| unavailable())?;
        match rx.await {
            Ok(Ok(v)) => answers.push(v),
            Ok(Err(e)) => return Err(refuse(state, Refusal::new(500, "internal", e))),
            Err(_) => return Err(unavailable()),
        }
    }
    Ok(answers)
}

async fn api_profile(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = not_admin(&state, &headers) {
        return r;
    }
    let n = partition::of(&id, state.partitions.count());
    match ask(&state, Some(n), Query::Profile(id.clone())).await {
        Ok(mut v) => match v.pop() {
            Some(serde_json::Value::Null) | None => refuse(
                &state,
                Refusal::new(404, "not_found", format!("no profile `{id}`")),
            ),
            Some(mut profile) => {
                let mut consent = serde_json::Map::new();
                for c in nudge_bytecode::Channel::ALL {
                    if let Ok(Some(v)) = state.consent.get(&id, c.as_str()) {
                        consent.insert(c.as_str().to_owned(), v);
                    }
                }
                profile["consent"] = serde_json::Value::Object(consent);
                (StatusCode::OK, Json(profile)).into_response()
            }
        },
        Err(r) => r,
    }
}

async fn api_workflows(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(r) = not_admin(&state, &headers) {
        return r;
    }
    match ask(&state, None, Query::Stats).await {
        Ok(parts) => {
            let mut total = std::collections::BTreeMap::new();
            for part in parts {
                if let Ok(stats) =
                    serde_json::from_value::<std::collections::BTreeMap<String, api::Counts>>(part)
                {
                    for (w, c) in stats {
                        total.entry(w).or_insert_with(api::Counts::default).add(&c);
                    }
                }
            }
            (StatusCode::OK, Json(json!({ "workflows": total }))).into_response()
        }
        Err(r) => r,
    }
}

/// `GET /api/report` (admin): what `nudge report` prints, over every
/// partition's record log.
async fn api_report(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(r) = not_admin(&state, &headers) {
        return r;
    }
    match ask(&state, None, Query::Measure).await {
        Ok(parts) => {
            let mut tally = nudge_measure::Tally::new();
            for part in parts {
                match serde_json::from_value::<nudge_measure::Counts>(part) {
                    Ok(counts) => tally.merge(counts),
                    Err(e) => return refuse(&state, Refusal::new(500, "internal", e.to_string())),
                }
            }
            let mut report = tally.report();
            let dir = state.outcomes.clone();
            match tokio::task::spawn_blocking(move || crate::engagement::per_message(&dir)).await {
                Ok(Ok(e)) => report.engagement = e,
                Ok(Err(e)) => return refuse(&state, Refusal::new(500, "internal", e)),
                Err(e) => return refuse(&state, Refusal::new(500, "internal", e.to_string())),
            }
            (StatusCode::OK, Json(report)).into_response()
        }
        Err(r) => r,
    }
}

async fn api_versions(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(r) = not_admin(&state, &headers) {
        return r;
    }
    match ask(&state, None, Query::Versions).await {
        Ok(parts) => {
            let mut out = serde_json::Map::new();
            for part in parts {
                let serde_json::Value::Object(versions) = part else {
                    continue;
                };
                for (hash, v) in versions {
                    let entry = out.entry(hash).or_insert_with(|| {
                        json!({"current": v["current"], "workflows": v["workflows"], "running": {}})
                    });
                    if let (Some(running), Some(add)) =
                        (entry["running"].as_object_mut(), v["running"].as_object())
                    {
                        for (w, n) in add {
                            let sum = running.get(w).and_then(|x| x.as_u64()).unwrap_or(0)
                                + n.as_u64().unwrap_or(0);
                            running.insert(w.clone(), json!(sum));
                        }
                    }
                }
            }
            (StatusCode::OK, Json(json!({ "versions": out }))).into_response()
        }
        Err(r) => r,
    }
}

/// The largest module `/api/deploy` takes.
pub const MAX_MODULE_BYTES: usize = 64 << 20;

async fn api_deploy(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = not_admin(&state, &headers) {
        return r;
    }
    let module = match Module::from_bytes(&body) {
        Ok(m) => m,
        Err(e) => {
            return refuse(
                &state,
                Refusal::new(
                    400,
                    "invalid_module",
                    format!("the body is not a module `nudge compile` writes: {e}"),
                ),
            )
        }
    };
    if let Err(e) = nudge_bytecode::verify(&module) {
        return refuse(
            &state,
            Refusal::new(
                400,
                "invalid_module",
                format!("the module does not verify: {e}"),
            ),
        );
    }
    match deploy(&state, module).await {
        Ok(answer) => (StatusCode::OK, Json(answer)).into_response(),
        Err(r) => refuse(&state, r),
    }
}

/// Deploys a verified module on every partition (one deploy at a time):
/// new journeys run it, running ones keep their version, journeys of the
/// workflows it drops end. The answer says what each workflow's change
/// did.
pub async fn deploy(state: &AppState, module: Module) -> Result<serde_json::Value, Refusal> {
    let _one = state.deploying.lock().await;
    let bytes = module
        .to_bytes()
        .map_err(|e| Refusal::new(500, "internal", format!("cannot encode the module: {e}")))?;
    let hash = Module::content_hash(&bytes);
    let previous = state
        .module
        .read()
        .map_err(|_| Refusal::new(500, "internal", "the module lock is poisoned"))?
        .clone();
    let previous_hash = previous
        .to_bytes()
        .map(|b| Module::content_hash(&b))
        .unwrap_or_default();
    let module = Arc::new(module);
    let mut running: std::collections::BTreeMap<String, u64> = Default::default();
    let mut ended: std::collections::BTreeMap<String, u64> = Default::default();
    for n in 0..state.partitions.count() {
        let rx = state.partitions.deploy(n, module.clone()).map_err(|_| {
            Refusal::new(
                503,
                "stopping",
                "the server is not taking deploys now; retry shortly",
            )
        })?;
        let d = match rx.await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => return Err(Refusal::new(500, "internal", e)),
            Err(_) => {
                return Err(Refusal::new(
                    500,
                    "internal",
                    format!("partition {n} stopped during the deploy; deploy again"),
                ))
            }
        };
        for (w, k) in d.running {
            *running.entry(w).or_default() += k;
        }
        for (w, k) in d.ended {
            *ended.entry(w).or_default() += k;
        }
    }
    if let Ok(mut m) = state.module.write() {
        *m = module.clone();
    }
    let mut workflows = serde_json::Map::new();
    for w in &module.workflows {
        let change = if previous.workflows.iter().any(|p| p.name == w.name) {
            json!({"change": "kept", "running": running.get(&w.name).copied().unwrap_or(0)})
        } else {
            json!({"change": "added"})
        };
        workflows.insert(w.name.clone(), change);
    }
    for w in &previous.workflows {
        if !module.workflows.iter().any(|m| m.name == w.name) {
            workflows.insert(
                w.name.clone(),
                json!({"change": "removed", "ended": ended.get(&w.name).copied().unwrap_or(0)}),
            );
        }
    }
    // Journeys of workflows dropped by an earlier version, ended now.
    for (w, k) in &ended {
        workflows
            .entry(w.clone())
            .or_insert_with(|| json!({"change": "removed", "ended": k}));
    }
    tracing::info!(version = %format!("{hash:016x}"), "deployed");
    Ok(json!({
        "success": true,
        "version": format!("{hash:016x}"),
        "previous": format!("{previous_hash:016x}"),
        "unchanged": hash == previous_hash,
        "workflows": workflows,
    }))
}

/// A deploy's answer in a few lines: the version, then each workflow that
/// was added, removed, or kept with journeys running.
pub fn deploy_summary(answer: &serde_json::Value) -> String {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_owned();
    let mut out = if answer["unchanged"] == true {
        format!("deployed {}: unchanged", text(&answer["version"]))
    } else {
        format!(
            "deployed {} (was {})",
            text(&answer["version"]),
            text(&answer["previous"])
        )
    };
    if let Some(workflows) = answer["workflows"].as_object() {
        for (name, w) in workflows {
            let line = match w["change"].as_str() {
                Some("added") => "added".to_owned(),
                Some("removed") => format!(
                    "removed: {} running journeys ended",
                    w["ended"].as_u64().unwrap_or(0)
                ),
                _ => match w["running"].as_u64().unwrap_or(0) {
                    0 => "kept".to_owned(),
                    n => {
                        format!("kept: {n} running journeys finish on the version they started on")
                    }
                },
            };
            out.push_str(&format!("\n  {name}: {line}"));
        }
    }
    out
}

/// `POST /v1/consent` (write key): `{"userId", "channel", "subscribed"}`.
async fn set_consent(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authenticate(&headers, &body, &state.keys) {
        return refuse(&state, r);
    }
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(rename = "userId")]
        user_id: String,
        channel: String,
        subscribed: bool,
    }
    let b: Body = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return refuse(
                &state,
                Refusal::new(
                    400,
                    "invalid_call",
                    format!("expected {{\"userId\", \"channel\", \"subscribed\"}}: {e}"),
                ),
            )
        }
    };
    if !nudge_bytecode::Channel::ALL
        .iter()
        .any(|c| c.as_str() == b.channel)
    {
        return refuse(
            &state,
            Refusal {
                field: Some("channel".into()),
                ..Refusal::new(
                    400,
                    "invalid_call",
                    format!(
                        "unknown channel `{}`; expected email, push, sms, in_app or webhook",
                        b.channel
                    ),
                )
            },
        );
    }
    match crate::feedback::set_consent(&state, &b.user_id, &b.channel, b.subscribed, "api").await {
        Ok(_) => (StatusCode::OK, Json(json!({"success": true}))).into_response(),
        Err(e) => refuse(&state, Refusal::new(500, "internal", e)),
    }
}

/// `GET /unsubscribe/TOKEN`: a page asking to confirm (a link opened by a
/// mail scanner must not unsubscribe anyone).
async fn unsubscribe_page(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
) -> Response {
    match state.consent.verify(&token) {
        None => (
            StatusCode::NOT_FOUND,
            "this unsubscribe link is not valid\n",
        )
            .into_response(),
        Some((_, channel)) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!(
                "<!doctype html><title>Unsubscribe</title><form method=post>\
                 <p>Stop receiving {channel} messages?</p>\
                 <button name=List-Unsubscribe value=One-Click>Unsubscribe</button></form>\n"
            ),
        )
            .into_response(),
    }
}

/// `POST /unsubscribe/TOKEN`: one-click unsubscribe (RFC 8058).
async fn unsubscribe(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    axum::extract::Query(query): QueryString,
) -> Response {
    let Some((profile, channel)) = state.consent.verify(&token) else {
        return (
            StatusCode::NOT_FOUND,
            "this unsubscribe link is not valid\n",
        )
            .into_response();
    };
    match crate::feedback::set_consent(&state, &profile, &channel, false, "unsubscribe_link").await
    {
        Ok(changed) => {
            // The message whose link it was, when it says (a hex send id).
            let message = query.get("m").filter(|m| {
                !m.is_empty() && m.len() <= 32 && m.bytes().all(|b| b.is_ascii_hexdigit())
            });
            if let (true, Some(m)) = (changed, message) {
                state.engagement.note(m, "unsubscribed");
            }
            (StatusCode::OK, "unsubscribed\n").into_response()
        }
        Err(e) => refuse(&state, Refusal::new(500, "internal", e)),
    }
}

/// `GET /o/TOKEN`: an email was opened (its pixel was fetched).
async fn opened(State(state): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    if let Some(hit) = state.tracking.verify(&token) {
        track_hit(&state, crate::tracking::OPENED, hit, None).await;
    }
    (
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        crate::tracking::PIXEL,
    )
        .into_response()
}

/// `GET /c/TOKEN?u=URL`: a link of an email was followed; redirects to it.
async fn clicked(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    axum::extract::Query(query): QueryString,
) -> Response {
    let url = query.get("u").cloned().unwrap_or_default();
    let Some(hit) = state
        .tracking
        .verify(&token)
        .filter(|h| crate::tracking::Tracking::link_matches(h, &url))
    else {
        return (StatusCode::NOT_FOUND, "this link is not valid\n").into_response();
    };
    track_hit(&state, crate::tracking::CLICKED, hit, Some(&url)).await;
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&url) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// Applies an open or a click as a `track` call of its profile, when the
/// project declares the event (once per message, and per link for a
/// click: the message id says so).
async fn track_hit(state: &AppState, event: &str, hit: crate::tracking::Hit, url: Option<&str>) {
    let send_id = hit.properties["send_id"].as_str().unwrap_or_default();
    let kind = if url.is_some() { "clicked" } else { "opened" };
    state.engagement.note(send_id, kind);
    let message_id = match (url, &hit.link) {
        (Some(_), Some(link)) => format!("{event}-{send_id}-{link}"),
        _ => format!("{event}-{send_id}"),
    };
    if let Err(e) =
        crate::events::report(state, event, &hit.profile, hit.properties, &message_id).await
    {
        tracing::warn!("a `{event}` of `{}` was not applied: {e}", hit.profile);
    }
}

/// `GET /api/feedback_token` (admin): the token `POST /v1/feedback` takes,
/// for providers' webhook settings (it can do nothing else).
async fn feedback_token(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(r) = not_admin(&state, &headers) {
        return r;
    }
    Json(json!({"token": crate::feedback::token(&state.keys.admin_token)})).into_response()
}

/// `GET /api/deliveries/parked` (admin): the messages still failing after
/// every attempt.
async fn parked(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(r) = not_admin(&state, &headers) {
        return r;
    }
    let dir = state.outcomes.clone();
    match tokio::task::spawn_blocking(move || crate::delivery::parked(&dir)).await {
        Ok(Ok(list)) => (StatusCode::OK, Json(json!({ "parked": list }))).into_response(),
        Ok(Err(e)) => refuse(&state, Refusal::new(500, "internal", e)),
        Err(e) => refuse(&state, Refusal::new(500, "internal", e.to_string())),
    }
}

/// `POST /api/deliveries/SEND_ID/retry` (admin): a parked message goes to
/// its provider again (a new outcome follows).
async fn retry(
    State(state): State<Arc<AppState>>,
    Path(send_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = not_admin(&state, &headers) {
        return r;
    }
    let dir = state.outcomes.clone();
    let list = match tokio::task::spawn_blocking(move || crate::delivery::parked(&dir)).await {
        Ok(Ok(list)) => list,
        Ok(Err(e)) => return refuse(&state, Refusal::new(500, "internal", e)),
        Err(e) => return refuse(&state, Refusal::new(500, "internal", e.to_string())),
    };
    let Some(partition) = list
        .iter()
        .find(|v| v["send_id"] == send_id.as_str())
        .and_then(|v| v["partition"].as_u64())
    else {
        return refuse(
            &state,
            Refusal::new(404, "not_found", format!("no parked message `{send_id}`")),
        );
    };
    match ask(
        &state,
        Some(partition as usize),
        Query::Retry(send_id.clone()),
    )
    .await
    {
        Ok(mut v) => match v.pop() {
            Some(serde_json::Value::Null) | None => refuse(
                &state,
                Refusal::new(
                    404,
                    "not_found",
                    format!("message `{send_id}` is not in its outbox"),
                ),
            ),
            Some(answer) => (StatusCode::OK, Json(answer)).into_response(),
        },
        Err(r) => r,
    }
}

/// The inbox token of a request: `Authorization: Bearer TOKEN` or
/// `?token=TOKEN` (an `EventSource` cannot set headers).
fn inbox_allowed(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    query: &std::collections::HashMap<String, String>,
) -> bool {
    let token = bearer(headers)
        .or_else(|| query.get("token").map(String::as_str))
        .unwrap_or_default();
    state.inbox.allows(id, token.trim())
}

fn inbox_refused(state: &AppState) -> Response {
    refuse(
        state,
        Refusal::new(
            401,
            "unauthorized",
            "an inbox is read with its profile's token (`GET /api/profiles/ID/inbox_token`)",
        ),
    )
}

/// A request's query string.
type QueryString = axum::extract::Query<std::collections::HashMap<String, String>>;

/// `GET /v1/profiles/ID/inbox[?archived=true]`: unread first, newest first.
async fn inbox_list(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::extract::Query(query): QueryString,
) -> Response {
    if !inbox_allowed(&state, &id, &headers, &query) {
        return inbox_refused(&state);
    }
    let archived = query.get("archived").is_some_and(|v| v == "true");
    match state.inbox.list(&id, archived) {
        Ok(messages) => {
            let unread = messages.iter().filter(|m| m["read"] == false).count();
            (
                StatusCode::OK,
                Json(json!({"messages": messages, "unread": unread})),
            )
                .into_response()
        }
        Err(e) => refuse(&state, Refusal::new(500, "internal", e)),
    }
}

/// `POST /v1/profiles/ID/inbox/SEND_ID/read` (or `/archive`).
async fn inbox_mark(
    State(state): State<Arc<AppState>>,
    Path((id, send_id, flag)): Path<(String, String, String)>,
    headers: HeaderMap,
    axum::extract::Query(query): QueryString,
) -> Response {
    if !inbox_allowed(&state, &id, &headers, &query) {
        return inbox_refused(&state);
    }
    let flag = match flag.as_str() {
        "read" => "read",
        "archive" => "archived",
        other => {
            return refuse(
                &state,
                Refusal::new(
                    404,
                    "not_found",
                    format!("no action `{other}`; use read or archive"),
                ),
            )
        }
    };
    match state.inbox.mark(&id, &send_id, flag) {
        Ok(true) => (StatusCode::OK, Json(json!({"success": true}))).into_response(),
        Ok(false) => refuse(
            &state,
            Refusal::new(
                404,
                "not_found",
                format!("no message `{send_id}` in this inbox"),
            ),
        ),
        Err(e) => refuse(&state, Refusal::new(500, "internal", e)),
    }
}

/// `GET /v1/profiles/ID/inbox/stream`: server-sent events, one `message`
/// event per new in-app message (its JSON), for an open app.
async fn inbox_stream(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::extract::Query(query): QueryString,
) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    if !inbox_allowed(&state, &id, &headers, &query) {
        return inbox_refused(&state);
    }
    let rx = state.inbox.news.subscribe();
    let stop = state.stopping.subscribe();
    let stream =
        futures_util::stream::unfold((rx, stop, id), |(mut rx, mut stop, id)| async move {
            loop {
                if *stop.borrow() {
                    return None;
                }
                tokio::select! {
                    got = rx.recv() => match got {
                        Ok((profile, m)) if profile == id => {
                            let event = Event::default().event("message").data(m.to_string());
                            return Some((Ok::<_, std::convert::Infallible>(event), (rx, stop, id)));
                        }
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    },
                    // The server is stopping: the stream ends, so that the
                    // clean stop does not wait for it.
                    _ = stop.changed() => return None,
                }
            }
        });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `GET /api/profiles/ID/inbox_token` (admin): the token that reads a
/// profile's inbox, for the app's back end to hand to its user.
async fn inbox_token(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = not_admin(&state, &headers) {
        return r;
    }
    (
        StatusCode::OK,
        Json(json!({"token": state.inbox.token(&id)})),
    )
        .into_response()
}

/// An answer refusing the request.
fn refuse(state: &AppState, r: Refusal) -> Response {
    if let Ok(mut refused) = state.refused.lock() {
        *refused.entry(r.code).or_default() += 1;
    }
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, Json(r.body())).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"nudge\""),
        );
    }
    response
}

const KINDS: [&str; 8] = [
    "track", "identify", "page", "screen", "group", "alias", "batch", "import",
];

async fn ingest(
    State(state): State<Arc<AppState>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let received = partition::wall_now();
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return refuse(
                &state,
                Refusal::new(
                    413,
                    "body_too_large",
                    format!(
                        "a request body is at most {} bytes",
                        state.limits.body_bytes
                    ),
                ),
            )
        }
        Err(e) => {
            return refuse(
                &state,
                Refusal::new(400, "invalid_body", format!("the body cannot be read: {e}")),
            )
        }
    };
    if !KINDS.contains(&kind.as_str()) {
        return refuse(
            &state,
            Refusal::new(
                404,
                "not_found",
                format!(
                    "no endpoint /v1/{kind}; the endpoints are /v1/track, identify, page, screen, \
                     group, alias, batch and import"
                ),
            ),
        );
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return refuse(
            &state,
            Refusal::new(
                415,
                "unsupported_media_type",
                format!(
                    "the body must be JSON sent as `Content-Type: application/json` (got `{content_type}`)"
                ),
            ),
        );
    }
    let module = match state.module.read() {
        Ok(m) => m.clone(),
        Err(_) => {
            return refuse(
                &state,
                Refusal::new(500, "internal", "the module lock is poisoned"),
            )
        }
    };
    // Decompressing and checking up to thousands of calls is CPU work: off
    // the threads that serve connections.
    let read = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            let body = decode(&headers, &body, state.limits.body_bytes)?;
            authenticate(&headers, &body, &state.keys)?;
            segment::read(&kind, &body, received, &module.schemas, &state.limits)
        })
        .await
    };
    let calls = match read {
        Ok(Ok(calls)) => calls,
        Ok(Err(r)) => return refuse(&state, r),
        Err(e) => {
            return refuse(
                &state,
                Refusal::new(500, "internal", format!("reading the request failed: {e}")),
            )
        }
    };
    let count = state.partitions.count();
    let mut by_partition = vec![Vec::new(); count];
    for call in calls {
        by_partition[partition::of(call.input.user_id(), count)].push(call);
    }
    let answers = match state.partitions.submit(by_partition) {
        Ok(a) => a,
        Err(Busy::Full) => {
            return refuse(
                &state,
                Refusal::new(503, "busy", "the server's queues are full; retry shortly"),
            )
        }
        Err(Busy::Stopped) => {
            return refuse(
                &state,
                Refusal::new(
                    503,
                    "stopping",
                    "the server is not taking events now; retry shortly",
                ),
            )
        }
    };
    for answer in answers {
        match answer.await {
            Ok(Ok(_)) => {}
            Ok(Err(partition::CallFailed(e))) => {
                return refuse(&state, Refusal::new(422, "call_failed", e));
            }
            Err(_) => {
                return refuse(
                    &state,
                    Refusal::new(
                        500,
                        "internal",
                        "a partition stopped before the calls were durable; retry (calls with a \
                         messageId are applied once)",
                    ),
                )
            }
        }
    }
    (StatusCode::OK, Json(json!({"success": true}))).into_response()
}

/// The body, gunzipped when sent so, within `limit` bytes.
fn decode(headers: &HeaderMap, body: &Bytes, limit: usize) -> Result<Vec<u8>, Refusal> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let too_large = || {
        Refusal::new(
            413,
            "body_too_large",
            format!("a request body is at most {limit} bytes (after decompression)"),
        )
    };
    match encoding.as_str() {
        "identity" | "" => Ok(body.to_vec()),
        "gzip" | "x-gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| {
                    Refusal::new(
                        400,
                        "invalid_gzip",
                        format!("the gzip body cannot be read: {e}"),
                    )
                })?;
            if out.len() > limit {
                return Err(too_large());
            }
            Ok(out)
        }
        other => Err(Refusal::new(
            415,
            "unsupported_encoding",
            format!("`Content-Encoding: {other}` is not supported; send gzip or no encoding"),
        )),
    }
}

/// Checks the write key: HTTP basic auth with the key as the user name,
/// else `writeKey` in the body.
fn authenticate(headers: &HeaderMap, body: &[u8], keys: &Keys) -> Result<(), Refusal> {
    let wrong = || Refusal::new(401, "unauthorized", "the write key is wrong");
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let auth = auth.to_str().map_err(|_| wrong())?;
        let Some(encoded) = auth
            .strip_prefix("Basic ")
            .or_else(|| auth.strip_prefix("basic "))
        else {
            return Err(Refusal::new(
                401,
                "unauthorized",
                "use HTTP basic auth with the write key as the user name",
            ));
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| wrong())?;
        let user = decoded.split(|&b| b == b':').next().unwrap_or_default();
        return if same_bytes(user, keys.write_key.as_bytes()) {
            Ok(())
        } else {
            Err(wrong())
        };
    }
    #[derive(serde::Deserialize)]
    struct Key {
        #[serde(rename = "writeKey")]
        write_key: Option<String>,
    }
    match serde_json::from_slice::<Key>(body) {
        Ok(Key {
            write_key: Some(key),
        }) if same_bytes(key.as_bytes(), keys.write_key.as_bytes()) => Ok(()),
        Ok(Key { write_key: Some(_) }) => Err(wrong()),
        // A body that is not JSON is answered as such: it has no key to
        // find.
        Err(e) if e.is_syntax() || e.is_eof() => Err(Refusal::new(
            400,
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
        )),
        _ => Err(Refusal::new(
            401,
            "unauthorized",
            "no write key: use HTTP basic auth with the write key as the user name, or send \
             `writeKey` in the body",
        )),
    }
}

/// The token of `Authorization: Bearer TOKEN`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}
