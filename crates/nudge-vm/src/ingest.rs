//! Validating incoming events and profiles against a module's schemas.
//!
//! Input is Segment-style JSON, one object per line (the simulator's trace)
//! or per request (the server's ingestion API):
//!
//! ```json
//! {"type":"track","userId":"u1","event":"order_completed","properties":{"order_id":"o1","total":30.0},"timestamp":"2026-03-01T10:00:00Z"}
//! {"type":"identify","userId":"u1","traits":{"plan":"pro"},"timestamp":"2026-03-01T10:00:00Z"}
//! ```
//!
//! Rules, the same everywhere input enters:
//! - A declared event's properties must have the declared types; required
//!   ones (not `T?`, no default) must be present; enum values must be
//!   members. Properties the schema does not declare are ignored, each with
//!   a [`Note`] (Segment libraries add their own).
//! - An event the schema does not declare is accepted with no properties:
//!   it is activity (it counts for `inactive for`) and triggers nothing.
//! - `identify` traits follow the profile's schema the same way; `null`
//!   clears an optional trait. Traits the profile does not declare are
//!   ignored with a note.
//! - A line is either accepted whole or rejected with an [`IngestError`]
//!   naming the field at fault: nothing is half-applied.

use chrono::{DateTime, Utc};
use nudge_bytecode::{FieldSchema, Schemas, Type};
use serde_json::Value as Json;

use crate::value::{Props, Value};

/// One accepted input line.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A `track` call.
    Track {
        /// The profile's id (`userId`).
        user_id: String,
        /// The event's name.
        event: String,
        /// Validated properties (empty for undeclared events).
        props: Props,
        /// Whether the schema declares the event.
        declared: bool,
        /// `timestamp`.
        at: DateTime<Utc>,
    },
    /// An `identify` call.
    Identify {
        /// The profile's id (`userId`).
        user_id: String,
        /// Validated traits (`Value::None` clears one).
        traits: Props,
        /// `timestamp` (required in a trace, optional for initial profiles).
        at: Option<DateTime<Utc>>,
    },
}

impl Input {
    /// The profile the line is about.
    pub fn user_id(&self) -> &str {
        match self {
            Input::Track { user_id, .. } | Input::Identify { user_id, .. } => user_id,
        }
    }

    /// The line's timestamp.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        match self {
            Input::Track { at, .. } => Some(*at),
            Input::Identify { at, .. } => *at,
        }
    }
}

/// Why a line was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct IngestError {
    /// The field at fault as a path (`properties.cart_total`), if any.
    pub field: Option<String>,
    /// What is wrong (lowercase, no final period).
    pub message: String,
}

impl IngestError {
    fn new(field: impl Into<Option<String>>, message: impl Into<String>) -> Self {
        IngestError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Something accepted but worth telling: an ignored property or trait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The field ignored (`properties.coupon`, `traits.nickname`).
    pub field: String,
    /// The event it came with (`None` for traits).
    pub event: Option<String>,
}

/// A validated line and its notes.
pub type Accepted = (Input, Vec<Note>);

/// The JSON type of a value, as messages name it.
fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a bool",
        Json::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// A schema type as the language spells it.
pub fn type_name(ty: &Type, schemas: &Schemas) -> String {
    match ty {
        Type::String => "string".into(),
        Type::Int => "int".into(),
        Type::Float => "float".into(),
        Type::Bool => "bool".into(),
        Type::Time => "time".into(),
        Type::Duration => "duration".into(),
        Type::TimeOfDay => "time_of_day".into(),
        Type::Email => "email".into(),
        Type::Phone => "phone".into(),
        Type::Url => "url".into(),
        Type::Timezone => "timezone".into(),
        Type::Enum(e) => schemas
            .enums
            .get(*e as usize)
            .map_or_else(|| "enum".into(), |e| e.name.clone()),
        Type::List(t) => format!("[{}]", type_name(t, schemas)),
        Type::Optional(t) => format!("{}?", type_name(t, schemas)),
    }
}

/// Parses an RFC 3339 timestamp.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Parses a duration written like the language does (`90m`, `1d12h`,
/// `2w`), in seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut any = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: i64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        let n: i64 = digits.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        digits.clear();
        any = true;
    }
    (any && digits.is_empty()).then_some(total)
}

fn time_of_day(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn expected(ty: &Type, schemas: &Schemas, got: &Json) -> String {
    format!(
        "expected {}, found {}",
        type_name(ty, schemas),
        json_kind(got)
    )
}

/// Converts a JSON value to a value of `ty`; the error says what is wrong.
pub fn convert(ty: &Type, v: &Json, schemas: &Schemas) -> Result<Value, String> {
    let text = || v.as_str().ok_or_else(|| expected(ty, schemas, v));
    match ty {
        Type::Optional(inner) => match v {
            Json::Null => Ok(Value::None),
            _ => convert(inner, v, schemas),
        },
        Type::String | Type::Phone => Ok(Value::str(text()?)),
        Type::Email => {
            let s = text()?;
            match s.split_once('@') {
                Some((user, host)) if !user.is_empty() && !host.is_empty() => Ok(Value::str(s)),
                _ => Err(format!("`{s}` is not an email address")),
            }
        }
        Type::Url => {
            let s = text()?;
            if s.split_once("://").is_some_and(|(scheme, rest)| {
                !scheme.is_empty() && !rest.is_empty() && !scheme.contains(char::is_whitespace)
            }) {
                Ok(Value::str(s))
            } else {
                Err(format!("`{s}` is not a URL (`https://…`)"))
            }
        }
        Type::Timezone => {
            let s = text()?;
            match crate::time::zone(s) {
                Some(_) => Ok(Value::str(s)),
                None => Err(format!(
                    "`{s}` is not an IANA time zone (like `Europe/Berlin`)"
                )),
            }
        }
        Type::Int => match v.as_i64() {
            Some(i) => Ok(Value::Int(i)),
            None => Err(expected(ty, schemas, v)),
        },
        Type::Float => match v.as_f64() {
            Some(x) => Ok(Value::Float(x)),
            None => Err(expected(ty, schemas, v)),
        },
        Type::Bool => match v.as_bool() {
            Some(b) => Ok(Value::Bool(b)),
            None => Err(expected(ty, schemas, v)),
        },
        Type::Time => {
            let s = text()?;
            parse_time(s).map(Value::Time).ok_or_else(|| {
                format!("`{s}` is not an RFC 3339 time (like `2026-03-01T10:00:00Z`)")
            })
        }
        Type::Duration => match v {
            Json::Number(n) => n
                .as_i64()
                .map(Value::Duration)
                .ok_or_else(|| "a duration in seconds must be a whole number".into()),
            Json::String(s) => parse_duration(s)
                .map(Value::Duration)
                .ok_or_else(|| format!("`{s}` is not a duration (like `90m` or `1d12h`)")),
            _ => Err(expected(ty, schemas, v)),
        },
        Type::TimeOfDay => {
            let s = text()?;
            time_of_day(s)
                .map(Value::TimeOfDay)
                .ok_or_else(|| format!("`{s}` is not a time of day (like `09:30`)"))
        }
        Type::Enum(e) => {
            let s = text()?;
            let Some(schema) = schemas.enums.get(*e as usize) else {
                return Err(format!("unknown enum for `{s}`"));
            };
            if schema.members.iter().any(|m| m == s) {
                return Ok(Value::str(s));
            }
            let members = schema.members.join(", ");
            let close = schema
                .members
                .iter()
                .map(|m| (strsim::jaro_winkler(m, s), m))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            Err(match close {
                Some((_, m)) => format!(
                    "`{s}` is not a member of `{}` (did you mean `{m}`? members: {members})",
                    schema.name
                ),
                None => format!(
                    "`{s}` is not a member of `{}` (members: {members})",
                    schema.name
                ),
            })
        }
        Type::List(inner) => match v {
            Json::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(convert(inner, item, schemas).map_err(|e| format!("item {i}: {e}"))?);
                }
                Ok(Value::List(out.into()))
            }
            _ => Err(expected(ty, schemas, v)),
        },
    }
}

/// Validates an object of properties (or traits) against `fields`.
/// `partial`: missing required fields are fine (`identify` sets some
/// traits, not all).
fn fields(
    object: Option<&Json>,
    field_path: &str,
    schema: &[FieldSchema],
    schemas: &Schemas,
    partial: bool,
    event: Option<&str>,
    notes: &mut Vec<Note>,
) -> Result<Props, IngestError> {
    let empty = serde_json::Map::new();
    let map = match object {
        None | Some(Json::Null) => &empty,
        Some(Json::Object(m)) => m,
        Some(other) => {
            return Err(IngestError::new(
                field_path.to_owned(),
                format!("expected an object, found {}", json_kind(other)),
            ))
        }
    };
    let mut props: Vec<(&str, Value)> = Vec::with_capacity(map.len());
    for (name, v) in map {
        let path = format!("{field_path}.{name}");
        match schema.iter().find(|f| f.name == *name) {
            None => notes.push(Note {
                field: path,
                event: event.map(str::to_owned),
            }),
            Some(f) => {
                if v.is_null() && partial && !matches!(f.ty, Type::Optional(_)) {
                    return Err(IngestError::new(
                        path,
                        format!(
                            "`{name}` is {} and cannot be cleared",
                            type_name(&f.ty, schemas)
                        ),
                    ));
                }
                let value = convert(&f.ty, v, schemas).map_err(|m| IngestError::new(path, m))?;
                props.push((&f.name, value));
            }
        }
    }
    let props: Props = props.into_iter().collect();
    if !partial {
        for f in schema {
            let required = !matches!(f.ty, Type::Optional(_)) && f.default.is_none();
            if required && !props.contains_key(&f.name) {
                return Err(IngestError::new(
                    format!("{field_path}.{}", f.name),
                    format!(
                        "missing property `{}` ({})",
                        f.name,
                        type_name(&f.ty, schemas)
                    ),
                ));
            }
        }
    }
    Ok(props)
}

fn string_field<'a>(
    object: &'a serde_json::Map<String, Json>,
    name: &str,
) -> Result<&'a str, IngestError> {
    match object.get(name) {
        None | Some(Json::Null) => Err(IngestError::new(
            name.to_owned(),
            format!("missing `{name}`"),
        )),
        Some(Json::String(s)) if s.is_empty() => Err(IngestError::new(
            name.to_owned(),
            format!("`{name}` is empty"),
        )),
        Some(Json::String(s)) => Ok(s),
        Some(other) => Err(IngestError::new(
            name.to_owned(),
            format!("expected a string, found {}", json_kind(other)),
        )),
    }
}

fn timestamp(
    object: &serde_json::Map<String, Json>,
    required: bool,
) -> Result<Option<DateTime<Utc>>, IngestError> {
    if !required && object.get("timestamp").is_none_or(Json::is_null) {
        return Ok(None);
    }
    let s = string_field(object, "timestamp")?;
    parse_time(s).map(Some).ok_or_else(|| {
        IngestError::new(
            "timestamp".to_owned(),
            format!("`{s}` is not an RFC 3339 time (like `2026-03-01T10:00:00Z`)"),
        )
    })
}

/// The fields of a call that matter, read without building the rest
/// (Segment lines carry large `context` and `integrations` objects).
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "userId", default, borrow)]
    user_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    event: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    timestamp: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    properties: Option<Json>,
    #[serde(default)]
    traits: Option<Json>,
}

/// The call as a map of the fields that matter. A line the quick reading
/// does not take (not JSON, a field of the wrong type, a repeated field) is
/// read again in full, for the exact message.
fn object(line: &str) -> Result<serde_json::Map<String, Json>, IngestError> {
    if let Ok(e) = serde_json::from_str::<Envelope<'_>>(line) {
        let mut map = serde_json::Map::new();
        let mut put = |key: &str, value: Option<Json>| {
            if let Some(v) = value {
                map.insert(key.to_owned(), v);
            }
        };
        let text = |s: Option<std::borrow::Cow<'_, str>>| s.map(|s| Json::String(s.into_owned()));
        put("type", text(e.kind));
        put("userId", text(e.user_id));
        put("event", text(e.event));
        put("timestamp", text(e.timestamp));
        put("properties", e.properties);
        put("traits", e.traits);
        return Ok(map);
    }
    match serde_json::from_str::<Json>(line) {
        Ok(Json::Object(m)) => Ok(m),
        Ok(other) => Err(IngestError::new(
            None,
            format!("expected a JSON object, found {}", json_kind(&other)),
        )),
        Err(e) => Err(IngestError::new(None, format!("not valid JSON: {e}"))),
    }
}

/// Validates one Segment-style `track` or `identify` call.
pub fn parse_call(line: &str, schemas: &Schemas) -> Result<Accepted, IngestError> {
    let o = object(line)?;
    let kind = string_field(&o, "type")?;
    let mut notes = Vec::new();
    match kind {
        "track" => {
            let user_id = string_field(&o, "userId")?.to_owned();
            let event = string_field(&o, "event")?.to_owned();
            let at = timestamp(&o, true)?.unwrap_or_default();
            let (props, declared) = match schemas.events.iter().find(|e| e.name == event) {
                Some(schema) => (
                    fields(
                        o.get("properties"),
                        "properties",
                        &schema.fields,
                        schemas,
                        false,
                        Some(&event),
                        &mut notes,
                    )?,
                    true,
                ),
                None => (Props::new(), false),
            };
            Ok((
                Input::Track {
                    user_id,
                    event,
                    props,
                    declared,
                    at,
                },
                notes,
            ))
        }
        "identify" => {
            let user_id = string_field(&o, "userId")?.to_owned();
            let at = timestamp(&o, true)?;
            let traits = fields(
                o.get("traits"),
                "traits",
                &schemas.profile,
                schemas,
                true,
                None,
                &mut notes,
            )?;
            Ok((
                Input::Identify {
                    user_id,
                    traits,
                    at,
                },
                notes,
            ))
        }
        other => Err(IngestError::new(
            "type".to_owned(),
            format!("unsupported type `{other}`; expected `track` or `identify`"),
        )),
    }
}

/// Validates one initial profile: `{"userId": …, "traits": {…}}` (a
/// `timestamp` is optional). Traits are checked like `identify`'s.
pub fn parse_profile(line: &str, schemas: &Schemas) -> Result<Accepted, IngestError> {
    let o = object(line)?;
    let user_id = string_field(&o, "userId")?.to_owned();
    let at = timestamp(&o, false)?;
    let mut notes = Vec::new();
    let traits = fields(
        o.get("traits"),
        "traits",
        &schemas.profile,
        schemas,
        true,
        None,
        &mut notes,
    )?;
    Ok((
        Input::Identify {
            user_id,
            traits,
            at,
        },
        notes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nudge_bytecode::{EnumSchema, EventSchema};

    fn schemas() -> Schemas {
        let f = |name: &str, ty: Type| FieldSchema {
            name: name.into(),
            ty,
            default: None,
        };
        Schemas {
            enums: vec![EnumSchema {
                name: "Plan".into(),
                members: vec!["starter".into(), "pro".into()],
            }],
            events: vec![EventSchema {
                name: "order".into(),
                fields: vec![
                    f("total", Type::Float),
                    f("count", Type::Int),
                    f("plan", Type::Enum(0)),
                    f("note", Type::Optional(Box::new(Type::String))),
                ],
            }],
            profile: vec![
                f("email", Type::Optional(Box::new(Type::Email))),
                f("plan", Type::Enum(0)),
                f("timezone", Type::Timezone),
            ],
        }
    }

    fn err(line: &str) -> IngestError {
        match parse_call(line, &schemas()) {
            Err(e) => e,
            Ok(ok) => panic!("accepted: {ok:?}"),
        }
    }

    const T: &str = r#""timestamp":"2026-03-01T10:00:00+01:00""#;

    #[test]
    fn a_valid_track_converts_its_properties_and_notes_extras() {
        let line = format!(
            r#"{{"type":"track","userId":"u","event":"order","properties":{{"total":3,"count":2,"plan":"pro","coupon":"X"}},{T}}}"#
        );
        let (input, notes) = parse_call(&line, &schemas()).unwrap();
        let Input::Track {
            props,
            at,
            declared,
            ..
        } = input
        else {
            panic!("not a track")
        };
        assert!(declared);
        assert_eq!(props.get("total"), Some(&Value::Float(3.0)));
        assert_eq!(props.get("count"), Some(&Value::Int(2)));
        assert_eq!(props.get("plan"), Some(&Value::str("pro")));
        assert!(!props.contains_key("note"));
        assert_eq!(at, parse_time("2026-03-01T09:00:00Z").unwrap());
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].field, "properties.coupon");
    }

    #[test]
    fn bad_values_name_the_field() {
        let e = err(&format!(
            r#"{{"type":"track","userId":"u","event":"order","properties":{{"total":"3","count":2,"plan":"pro"}},{T}}}"#
        ));
        assert_eq!(e.field.as_deref(), Some("properties.total"));
        assert_eq!(e.message, "expected float, found a string");
        let e = err(&format!(
            r#"{{"type":"track","userId":"u","event":"order","properties":{{"total":3,"count":2.5,"plan":"pro"}},{T}}}"#
        ));
        assert_eq!(e.field.as_deref(), Some("properties.count"));
        let e = err(&format!(
            r#"{{"type":"track","userId":"u","event":"order","properties":{{"total":3,"count":2,"plan":"prro"}},{T}}}"#
        ));
        assert!(e.message.contains("did you mean `pro`?"), "{}", e.message);
        let e = err(&format!(
            r#"{{"type":"track","userId":"u","event":"order","properties":{{"total":3,"plan":"pro"}},{T}}}"#
        ));
        assert_eq!(e.field.as_deref(), Some("properties.count"));
        assert_eq!(e.message, "missing property `count` (int)");
    }

    #[test]
    fn envelope_errors() {
        assert_eq!(err("{").field, None);
        assert_eq!(err("[1]").message, "expected a JSON object, found a list");
        assert_eq!(err(r#"{"type":"page"}"#).field.as_deref(), Some("type"));
        let e = err(&format!(r#"{{"type":"track","event":"x",{T}}}"#));
        assert_eq!(e.field.as_deref(), Some("userId"));
        let e = err(r#"{"type":"track","userId":"u","event":"x","timestamp":"yesterday"}"#);
        assert_eq!(e.field.as_deref(), Some("timestamp"));
    }

    #[test]
    fn envelope_fields_of_the_wrong_type_are_named() {
        let e = err(&format!(r#"{{"type":"track","userId":7,"event":"x",{T}}}"#));
        assert_eq!(e.field.as_deref(), Some("userId"));
        assert_eq!(e.message, "expected a string, found an integer");
        let e = err(&format!(
            r#"{{"type":"track","userId":"u","event":"order","properties":[1],{T}}}"#
        ));
        assert_eq!(e.field.as_deref(), Some("properties"));
        assert_eq!(e.message, "expected an object, found a list");
        let e = err(r#"{"type":"track","userId":"u","event":"x","timestamp":null}"#);
        assert_eq!(e.message, "missing `timestamp`");
        // Extra envelope fields (Segment's `context`, `messageId`) are ignored.
        let line = format!(
            r#"{{"type":"track","userId":"u\u0041","event":"ping","context":{{"ip":"1.2.3.4","library":{{"name":"x"}}}},"messageId":"m",{T}}}"#
        );
        let (input, _) = parse_call(&line, &schemas()).unwrap();
        assert_eq!(input.user_id(), "uA");
    }

    #[test]
    fn undeclared_events_are_accepted_without_properties() {
        let line = format!(
            r#"{{"type":"track","userId":"u","event":"page_viewed","properties":{{"a":1}},{T}}}"#
        );
        let (input, notes) = parse_call(&line, &schemas()).unwrap();
        assert!(notes.is_empty());
        assert!(
            matches!(input, Input::Track { declared: false, ref props, .. } if props.is_empty())
        );
    }

    #[test]
    fn identify_checks_traits_and_clears_optional_ones() {
        let line = format!(
            r#"{{"type":"identify","userId":"u","traits":{{"email":null,"plan":"starter","timezone":"Europe/Berlin","nick":"x"}},{T}}}"#
        );
        let (input, notes) = parse_call(&line, &schemas()).unwrap();
        let Input::Identify { traits, .. } = input else {
            panic!("not identify")
        };
        assert_eq!(traits.get("email"), Some(&Value::None));
        assert_eq!(traits.get("plan"), Some(&Value::str("starter")));
        assert_eq!(notes[0].field, "traits.nick");
        let e = err(&format!(
            r#"{{"type":"identify","userId":"u","traits":{{"plan":null}},{T}}}"#
        ));
        assert_eq!(e.field.as_deref(), Some("traits.plan"));
        let e = err(&format!(
            r#"{{"type":"identify","userId":"u","traits":{{"timezone":"Mars/Base"}},{T}}}"#
        ));
        assert!(e.message.contains("IANA"));
        let e =
            parse_profile(r#"{"userId":"u","traits":{"email":"nobody"}}"#, &schemas()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("traits.email"));
    }

    #[test]
    fn durations_and_times_of_day() {
        assert_eq!(parse_duration("1d12h"), Some(129_600));
        assert_eq!(parse_duration("90m"), Some(5_400));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(time_of_day("09:30"), Some(570));
        assert_eq!(time_of_day("24:00"), None);
    }
}
