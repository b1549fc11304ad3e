//! Segment's HTTP tracking API: reading a request's calls into validated
//! inputs, or the reason the whole request is refused.
//!
//! What is read of a call, beyond what [`nudge_ingest`] checks:
//! - **Who**: `userId`, else `anonymousId` (a profile of its own: calls
//!   are not merged across the two ids). A call with neither is refused.
//! - **When**: Segment's clock-skew correction. A call's `timestamp`
//!   (any RFC 3339 offset; the time the request arrived when absent) is
//!   moved by the difference between the arrival time and the request's
//!   `sentAt` (the call's own, or the batch's), as Segment computes
//!   `timestamp = receivedAt - (sentAt - originalTimestamp)`.
//! - **Which**: `messageId`; a call whose id was applied within the
//!   deduplication window is acknowledged and not applied again.
//! - `group` and `alias` calls are acknowledged and ignored (profiles are
//!   not grouped or merged); any other type is refused.

use chrono::{DateTime, SecondsFormat, Utc};
use nudge_bytecode::Schemas;
use nudge_ingest::{IngestError, Input};
use serde_json::{Map, Value as Json};

/// Limits of one request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest request body, in bytes, after gzip decompression.
    pub body_bytes: usize,
    /// The largest call, in bytes of JSON.
    pub call_bytes: usize,
    /// The most calls in one batch.
    pub batch_calls: usize,
    /// Refuse `track` calls of events the schema does not declare (by
    /// default they are accepted as activity, as `nudge simulate` does).
    pub reject_undeclared: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 512 * 1024,
            call_bytes: 32 * 1024,
            batch_calls: 2500,
            reject_undeclared: false,
        }
    }
}

/// One call, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// `messageId`, if the call had one.
    pub message_id: Option<String>,
    /// The validated call, its time corrected for clock skew.
    pub input: Input,
}

/// Why a request is refused: nothing of it is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// A short name (`invalid_json`, `invalid_call`, `too_large`, …).
    pub code: &'static str,
    /// The call at fault: its index in the batch.
    pub index: Option<usize>,
    /// The field at fault, as a path (`properties.total`).
    pub field: Option<String>,
    /// The event of a `track` call at fault.
    pub event: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

impl Refusal {
    /// A refusal not tied to one call.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            index: None,
            field: None,
            event: None,
            message: message.into(),
        }
    }

    /// The JSON body of the answer.
    pub fn body(&self) -> Json {
        let mut o = Map::new();
        o.insert("success".into(), Json::Bool(false));
        o.insert("code".into(), self.code.into());
        o.insert("message".into(), self.message.clone().into());
        if let Some(i) = self.index {
            o.insert("index".into(), i.into());
        }
        if let Some(f) = &self.field {
            o.insert("field".into(), f.clone().into());
        }
        if let Some(e) = &self.event {
            o.insert("event".into(), e.clone().into());
        }
        Json::Object(o)
    }
}

/// The calls of one request to `/v1/{kind}` (`batch` and `import` hold
/// several), read at `received`.
pub fn read(
    kind: &str,
    body: &[u8],
    received: DateTime<Utc>,
    schemas: &Schemas,
    limits: &Limits,
) -> Result<Vec<Call>, Refusal> {
    let json: Json = serde_json::from_slice(body).map_err(|e| {
        Refusal::new(
            400,
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let Json::Object(mut envelope) = json else {
        return Err(Refusal::new(
            400,
            "invalid_json",
            "the body must be a JSON object",
        ));
    };
    let batch_sent_at = envelope.get("sentAt").cloned();
    let items: Vec<(Option<&str>, Json)> = match kind {
        "batch" | "import" => {
            let Some(Json::Array(items)) = envelope.remove("batch") else {
                return Err(Refusal {
                    field: Some("batch".into()),
                    ..Refusal::new(400, "invalid_call", "`batch` must be a list of calls")
                });
            };
            if items.len() > limits.batch_calls {
                return Err(Refusal::new(
                    413,
                    "too_many_calls",
                    format!(
                        "a batch holds at most {} calls; this one holds {}",
                        limits.batch_calls,
                        items.len()
                    ),
                ));
            }
            items.into_iter().map(|item| (None, item)).collect()
        }
        single => vec![(Some(single), Json::Object(envelope))],
    };
    let batch = kind == "batch" || kind == "import";
    let mut calls = Vec::with_capacity(items.len());
    for (i, (path_kind, item)) in items.into_iter().enumerate() {
        let index = batch.then_some(i);
        let at_fault = |r: Refusal| Refusal { index, ..r };
        let size = serde_json::to_vec(&item).map_or(0, |v| v.len());
        if size > limits.call_bytes {
            return Err(at_fault(Refusal::new(
                413,
                "call_too_large",
                format!(
                    "a call is at most {} bytes of JSON; this one is {size}",
                    limits.call_bytes
                ),
            )));
        }
        if let Some(call) = read_call(
            path_kind,
            item,
            batch_sent_at.as_ref(),
            received,
            schemas,
            limits,
        )
        .map_err(at_fault)?
        {
            calls.push(call);
        }
    }
    Ok(calls)
}

/// One call; `None` for a call acknowledged and ignored.
fn read_call(
    path_kind: Option<&str>,
    item: Json,
    batch_sent_at: Option<&Json>,
    received: DateTime<Utc>,
    schemas: &Schemas,
    limits: &Limits,
) -> Result<Option<Call>, Refusal> {
    let Json::Object(mut o) = item else {
        return Err(Refusal::new(
            400,
            "invalid_call",
            "a call must be a JSON object",
        ));
    };
    let kind = match path_kind {
        Some(k) => k.to_owned(),
        None => match o.get("type") {
            Some(Json::String(k)) => k.clone(),
            _ => {
                return Err(Refusal {
                    field: Some("type".into()),
                    ..Refusal::new(400, "invalid_call", "a call in a batch needs a `type`")
                })
            }
        },
    };
    let event = match o.get("event") {
        Some(Json::String(e)) if kind == "track" => Some(e.clone()),
        _ => None,
    };
    let refuse = |field: Option<String>, message: String| Refusal {
        field,
        event: event.clone(),
        ..Refusal::new(400, "invalid_call", message)
    };
    match kind.as_str() {
        "track" | "identify" | "page" | "screen" => {}
        "group" | "alias" => return Ok(None),
        other => {
            return Err(refuse(
                Some("type".into()),
                format!(
                    "unsupported type `{other}`; expected `track`, `identify`, `page`, `screen`, \
                     `group` or `alias`"
                ),
            ))
        }
    }
    let user = match (o.get("userId"), o.get("anonymousId")) {
        (Some(id), _) if id_text(id).is_some() => id_text(id),
        (_, Some(id)) => id_text(id),
        _ => None,
    };
    let Some(user) = user else {
        return Err(refuse(
            Some("userId".into()),
            "a call needs a `userId` or an `anonymousId` (a non-empty string)".into(),
        ));
    };
    let message_id = match o.get("messageId") {
        None | Some(Json::Null) => None,
        Some(Json::String(id)) if !id.is_empty() && id.chars().count() <= 256 => Some(id.clone()),
        Some(_) => {
            return Err(refuse(
                Some("messageId".into()),
                "`messageId` must be a string of 1 to 256 characters".into(),
            ))
        }
    };
    let time = |field: &str, v: Option<&Json>| -> Result<Option<DateTime<Utc>>, Refusal> {
        match v {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => nudge_ingest::parse_time(s).map(Some).ok_or_else(|| {
                refuse(
                    Some(field.into()),
                    format!("`{s}` is not an RFC 3339 time (like `2026-03-01T10:00:00Z`)"),
                )
            }),
            Some(_) => Err(refuse(
                Some(field.into()),
                format!("`{field}` must be an RFC 3339 time string"),
            )),
        }
    };
    let original = time("timestamp", o.get("timestamp"))?;
    let sent_at = match o.get("sentAt").filter(|v| !v.is_null()) {
        Some(v) => time("sentAt", Some(v))?,
        None => time("sentAt", batch_sent_at)?,
    };
    let at = match (original, sent_at) {
        (Some(t), Some(sent)) => received - (sent - t),
        (Some(t), None) => t,
        (None, _) => received,
    };
    o.insert("type".into(), Json::String(kind.clone()));
    o.insert("userId".into(), Json::String(user));
    o.insert(
        "timestamp".into(),
        Json::String(at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    );
    // What the checks do not read: Segment's own fields.
    for field in [
        "context",
        "integrations",
        "anonymousId",
        "sentAt",
        "_metadata",
    ] {
        o.remove(field);
    }
    let line = serde_json::to_string(&Json::Object(o))
        .map_err(|e| refuse(None, format!("the call cannot be read: {e}")))?;
    let (input, _notes) = nudge_ingest::parse_call(&line, schemas)
        .map_err(|IngestError { field, message }| refuse(field, message))?;
    if limits.reject_undeclared {
        if let Input::Track {
            declared: false,
            event,
            ..
        } = &input
        {
            return Err(refuse(
                Some("event".into()),
                format!("the schema declares no event `{event}`"),
            ));
        }
    }
    Ok(Some(Call { message_id, input }))
}

/// A user id: a non-empty string, or a number (as Segment takes it).
fn id_text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nudge_bytecode::{EventSchema, FieldSchema, Type};

    fn schemas() -> Schemas {
        Schemas {
            events: vec![EventSchema {
                name: "order_completed".into(),
                fields: vec![FieldSchema {
                    name: "total".into(),
                    ty: Type::Float,
                    default: None,
                }],
            }],
            ..Schemas::default()
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        nudge_ingest::parse_time(s).unwrap()
    }

    fn read_batch(body: &str) -> Result<Vec<Call>, Refusal> {
        read(
            "batch",
            body.as_bytes(),
            t("2026-03-01T10:00:10Z"),
            &schemas(),
            &Limits::default(),
        )
    }

    #[test]
    fn clock_skew_is_corrected_as_segment_does() {
        // The client's clock is 5 s ahead: it stamped 10:00:12 and sent
        // at 10:00:15; the request arrived at 10:00:10.
        let calls = read_batch(
            r#"{"batch":[{"type":"track","userId":"u","event":"x","timestamp":"2026-03-01T12:00:12+02:00"}],"sentAt":"2026-03-01T10:00:15Z"}"#,
        )
        .unwrap();
        assert_eq!(calls[0].input.at(), Some(t("2026-03-01T10:00:07Z")));
        // No timestamp: the arrival time.
        let calls =
            read_batch(r#"{"batch":[{"type":"track","anonymousId":"a1","event":"x"}]}"#).unwrap();
        assert_eq!(calls[0].input.at(), Some(t("2026-03-01T10:00:10Z")));
        assert_eq!(calls[0].input.user_id(), "a1");
    }

    #[test]
    fn a_bad_call_refuses_the_batch_naming_it() {
        let r = read_batch(
            r#"{"batch":[{"type":"track","userId":"u","event":"x"},{"type":"track","userId":"u","event":"order_completed","properties":{"total":"ten"}}]}"#,
        )
        .unwrap_err();
        assert_eq!(r.status, 400);
        assert_eq!(r.index, Some(1));
        assert_eq!(r.field.as_deref(), Some("properties.total"));
        assert_eq!(r.event.as_deref(), Some("order_completed"));
        let r =
            read_batch(r#"{"batch":[{"type":"track","event":"x","userId":null}]}"#).unwrap_err();
        assert_eq!((r.index, r.field.as_deref()), (Some(0), Some("userId")));
        let r = read_batch(r#"{"batch":[{"type":"fax","userId":"u"}]}"#).unwrap_err();
        assert_eq!(r.field.as_deref(), Some("type"));
        let r = read_batch(r#"{"batch":[1]}"#).unwrap_err();
        assert_eq!(r.index, Some(0));
    }

    #[test]
    fn group_and_alias_are_acknowledged_and_ignored() {
        let calls = read_batch(
            r#"{"batch":[{"type":"group","userId":"u","groupId":"g"},{"type":"alias","userId":"u","previousId":"a"}]}"#,
        )
        .unwrap();
        assert!(calls.is_empty());
    }

    #[test]
    fn limits_answer_413() {
        let big = "x".repeat(40_000);
        let r = read_batch(&format!(
            r#"{{"batch":[{{"type":"track","userId":"u","event":"x","properties":{{"p":"{big}"}}}}]}}"#
        ))
        .unwrap_err();
        assert_eq!((r.status, r.index), (413, Some(0)));
        let many = vec![r#"{"type":"track","userId":"u","event":"x"}"#; 2501].join(",");
        let r = read_batch(&format!(r#"{{"batch":[{many}]}}"#)).unwrap_err();
        assert_eq!(r.status, 413);
    }
}
