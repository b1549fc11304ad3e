//! Validating incoming events and profiles against a module's schemas.
//!
//! Input is Segment-style JSON, one object per line (the simulator's
//! trace); the rules do not depend on where the object came from:
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
use nudge_bytecode::{FieldSchema, Scalar, Schemas, Type};
use serde_json::Value as Json;

use nudge_vm::{Props, Value};

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

/// A JSON value as the checks read it: scalars by reference, lists whole.
/// Both readings of a line (the quick one and the full one) are checked
/// through it, so they give the same values and the same messages.
#[derive(Clone, Copy)]
enum Node<'a> {
    Null,
    Bool(bool),
    Number(&'a serde_json::Number),
    Str(&'a str),
    List(&'a [Json]),
    Object,
}

impl<'a> Node<'a> {
    fn of(v: &'a Json) -> Node<'a> {
        match v {
            Json::Null => Node::Null,
            Json::Bool(b) => Node::Bool(*b),
            Json::Number(n) => Node::Number(n),
            Json::String(s) => Node::Str(s),
            Json::Array(items) => Node::List(items),
            Json::Object(_) => Node::Object,
        }
    }

    /// The JSON type, as messages name it.
    fn kind(self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a bool",
            Node::Number(n) if n.is_i64() || n.is_u64() => "an integer",
            Node::Number(_) => "a number",
            Node::Str(_) => "a string",
            Node::List(_) => "a list",
            Node::Object => "an object",
        }
    }

    fn as_str(self) -> Option<&'a str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The JSON type of a value, as messages name it.
fn json_kind(v: &Json) -> &'static str {
    Node::of(v).kind()
}

/// A schema type as the language spells it.
pub fn type_name(ty: &Type, schemas: &Schemas) -> String {
    match ty {
        Type::Enum(e) => schemas
            .enums
            .get(*e as usize)
            .map_or_else(|| "enum".into(), |e| e.name.clone()),
        Type::List(t) => format!("[{}]", type_name(t, schemas)),
        Type::Optional(t) => format!("{}?", type_name(t, schemas)),
        scalar => scalar.scalar().map_or("", Scalar::name).to_owned(),
    }
}

/// Parses an RFC 3339 timestamp.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .filter(in_range)
}

/// Whether a time falls in the years 0000 to 9999 (in UTC): the times RFC
/// 3339 can write, so that every time Nudge prints reads back.
fn in_range(t: &DateTime<Utc>) -> bool {
    (0..=9999).contains(&chrono::Datelike::year(t))
}

/// `HH:MM` exactly, digits only, as the language writes a time of day.
fn time_of_day(s: &str) -> Option<u16> {
    let shaped = s.len() == 5
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 2 {
                b == b':'
            } else {
                b.is_ascii_digit()
            }
        });
    shaped
        .then(|| nudge_core::time_of_day::parse(s).ok())
        .flatten()
}

fn expected(ty: &Type, schemas: &Schemas, got: Node<'_>) -> String {
    format!("expected {}, found {}", type_name(ty, schemas), got.kind())
}

/// Converts a JSON value to a value of `ty`; the error says what is wrong.
pub fn convert(ty: &Type, v: &Json, schemas: &Schemas) -> Result<Value, String> {
    convert_node(ty, Node::of(v), schemas)
}

fn convert_node(ty: &Type, v: Node<'_>, schemas: &Schemas) -> Result<Value, String> {
    let text = || v.as_str().ok_or_else(|| expected(ty, schemas, v));
    match ty {
        Type::Optional(inner) => match v {
            Node::Null => Ok(Value::None),
            _ => convert_node(inner, v, schemas),
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
            match nudge_vm::time::zone(s) {
                Some(_) => Ok(Value::str(s)),
                None => Err(format!(
                    "`{s}` is not an IANA time zone (like `Europe/Berlin`)"
                )),
            }
        }
        Type::Int => match v {
            Node::Number(n) => n.as_i64().map(Value::Int),
            _ => None,
        }
        .ok_or_else(|| expected(ty, schemas, v)),
        Type::Float => match v {
            Node::Number(n) => n.as_f64().map(Value::Float),
            _ => None,
        }
        .ok_or_else(|| expected(ty, schemas, v)),
        Type::Bool => match v {
            Node::Bool(b) => Ok(Value::Bool(b)),
            _ => Err(expected(ty, schemas, v)),
        },
        Type::Time => {
            let s = text()?;
            parse_time(s).map(Value::Time).ok_or_else(|| {
                format!("`{s}` is not an RFC 3339 time (like `2026-03-01T10:00:00Z`)")
            })
        }
        Type::Duration => match v {
            Node::Number(n) => n
                .as_i64()
                .map(Value::Duration)
                .ok_or_else(|| "a duration in seconds must be a whole number".into()),
            Node::Str(s) => nudge_core::duration::parse_lenient(s)
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
            Node::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(
                        convert_node(inner, Node::of(item), schemas)
                            .map_err(|e| format!("item {i}: {e}"))?,
                    );
                }
                Ok(Value::List(out.into()))
            }
            _ => Err(expected(ty, schemas, v)),
        },
    }
}

/// Validates an object of properties (or traits) against `fields`. The
/// entries come by name in byte order, each name once (the last one
/// written wins), as a `serde_json::Map` holds them. `partial`: missing
/// required fields are fine (`identify` sets some traits, not all).
fn fields<'n>(
    entries: impl Iterator<Item = (&'n str, Node<'n>)>,
    field_path: &str,
    schema: &[FieldSchema],
    schemas: &Schemas,
    partial: bool,
    event: Option<&str>,
    notes: &mut Vec<Note>,
) -> Result<Props, IngestError> {
    let path = |name: &str| format!("{field_path}.{name}");
    let mut props: Vec<(&str, Value)> = Vec::with_capacity(entries.size_hint().0);
    for (name, v) in entries {
        match schema.iter().find(|f| f.name == name) {
            None => notes.push(Note {
                field: path(name),
                event: event.map(str::to_owned),
            }),
            Some(f) => {
                if matches!(v, Node::Null) && partial && !matches!(f.ty, Type::Optional(_)) {
                    return Err(IngestError::new(
                        path(name),
                        format!(
                            "`{name}` is {} and cannot be cleared",
                            type_name(&f.ty, schemas)
                        ),
                    ));
                }
                let value =
                    convert_node(&f.ty, v, schemas).map_err(|m| IngestError::new(path(name), m))?;
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
                    path(&f.name),
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

/// A string field of a call (`type`, `userId`, `event`, `timestamp`).
#[derive(Clone, Copy)]
enum Text<'a> {
    /// Absent or `null`.
    Missing,
    Str(&'a str),
    /// Something else, of this JSON type.
    Other(&'static str),
}

impl<'a> Text<'a> {
    fn of(object: &'a serde_json::Map<String, Json>, name: &str) -> Text<'a> {
        match object.get(name) {
            None | Some(Json::Null) => Text::Missing,
            Some(Json::String(s)) => Text::Str(s),
            Some(other) => Text::Other(json_kind(other)),
        }
    }

    fn of_name(name: &'a Option<Name<'_>>) -> Text<'a> {
        match name {
            None => Text::Missing,
            Some(Name(s)) => Text::Str(s),
        }
    }
}

/// `properties` or `traits` as a call has them.
#[derive(Clone, Copy)]
enum Object<'a> {
    /// Absent or `null`.
    Absent,
    /// From the quick reading: sorted by name, each name once.
    Entries(&'a [(Name<'a>, Item<'a>)]),
    /// From a `serde_json` reading.
    Map(&'a serde_json::Map<String, Json>),
    /// Something else, of this JSON type.
    Other(&'static str),
}

impl<'a> Object<'a> {
    fn of(object: &'a serde_json::Map<String, Json>, name: &str) -> Object<'a> {
        match object.get(name) {
            None | Some(Json::Null) => Object::Absent,
            Some(Json::Object(m)) => Object::Map(m),
            Some(other) => Object::Other(json_kind(other)),
        }
    }

    fn of_entries(entries: &'a Option<Entries<'_>>) -> Object<'a> {
        match entries {
            None => Object::Absent,
            Some(Entries(list)) => Object::Entries(list),
        }
    }

    /// Validates the object against `schema` (see [`fields`]).
    fn fields(
        self,
        field_path: &str,
        schema: &[FieldSchema],
        schemas: &Schemas,
        partial: bool,
        event: Option<&str>,
        notes: &mut Vec<Note>,
    ) -> Result<Props, IngestError> {
        match self {
            Object::Absent => fields(
                std::iter::empty(),
                field_path,
                schema,
                schemas,
                partial,
                event,
                notes,
            ),
            Object::Entries(list) => fields(
                list.iter().map(|(Name(k), v)| (&**k, v.node())),
                field_path,
                schema,
                schemas,
                partial,
                event,
                notes,
            ),
            Object::Map(m) => fields(
                m.iter().map(|(k, v)| (k.as_str(), Node::of(v))),
                field_path,
                schema,
                schemas,
                partial,
                event,
                notes,
            ),
            Object::Other(kind) => Err(IngestError::new(
                field_path.to_owned(),
                format!("expected an object, found {kind}"),
            )),
        }
    }
}

/// The fields of a call that matter, however the line was read.
struct Call<'a> {
    kind: Text<'a>,
    user_id: Text<'a>,
    event: Text<'a>,
    timestamp: Text<'a>,
    properties: Object<'a>,
    traits: Object<'a>,
}

impl<'a> Call<'a> {
    fn of_map(o: &'a serde_json::Map<String, Json>) -> Call<'a> {
        Call {
            kind: Text::of(o, "type"),
            user_id: Text::of(o, "userId"),
            event: Text::of(o, "event"),
            timestamp: Text::of(o, "timestamp"),
            properties: Object::of(o, "properties"),
            traits: Object::of(o, "traits"),
        }
    }

    fn of_envelope(e: &'a Envelope<'a>) -> Call<'a> {
        Call {
            kind: Text::of_name(&e.kind),
            user_id: Text::of_name(&e.user_id),
            event: Text::of_name(&e.event),
            timestamp: Text::of_name(&e.timestamp),
            properties: Object::of_entries(&e.properties),
            traits: Object::of_entries(&e.traits),
        }
    }
}

fn string_field<'a>(field: Text<'a>, name: &str) -> Result<&'a str, IngestError> {
    match field {
        Text::Missing => Err(IngestError::new(
            name.to_owned(),
            format!("missing `{name}`"),
        )),
        Text::Str("") => Err(IngestError::new(
            name.to_owned(),
            format!("`{name}` is empty"),
        )),
        Text::Str(s) => Ok(s),
        Text::Other(kind) => Err(IngestError::new(
            name.to_owned(),
            format!("expected a string, found {kind}"),
        )),
    }
}

fn timestamp(field: Text<'_>, required: bool) -> Result<Option<DateTime<Utc>>, IngestError> {
    if !required && matches!(field, Text::Missing) {
        return Ok(None);
    }
    let s = string_field(field, "timestamp")?;
    parse_time(s).map(Some).ok_or_else(|| {
        let message = if DateTime::parse_from_rfc3339(s).is_ok() {
            format!("`{s}` is outside the years 0000 to 9999 (in UTC)")
        } else {
            format!("`{s}` is not an RFC 3339 time (like `2026-03-01T10:00:00Z`)")
        };
        IngestError::new("timestamp".to_owned(), message)
    })
}

/// A string read from the line, borrowed when it has no escapes.
#[derive(Debug, PartialEq)]
struct Name<'a>(std::borrow::Cow<'a, str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Name<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Name<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Name<'a>, E> {
                Ok(Name(s.into()))
            }
            fn visit_str<E>(self, s: &str) -> Result<Name<'a>, E> {
                Ok(Name(s.to_owned().into()))
            }
        }
        d.deserialize_str(Visit(std::marker::PhantomData))
    }
}

/// A value in `properties` or `traits` from the quick reading: scalars
/// without a `serde_json::Value` around them (strings borrowed when they
/// can be), lists and objects read in full. Holds what the `Value` would.
#[derive(Debug, PartialEq)]
enum Item<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(std::borrow::Cow<'a, str>),
    /// A list or an object.
    Json(Json),
}

impl Item<'_> {
    fn node(&self) -> Node<'_> {
        match self {
            Item::Null => Node::Null,
            Item::Bool(b) => Node::Bool(*b),
            Item::Number(n) => Node::Number(n),
            Item::Str(s) => Node::Str(s),
            Item::Json(v) => Node::of(v),
        }
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Item<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        // Each case as `serde_json::Value`'s own reading has it.
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Item<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any valid JSON value")
            }
            fn visit_bool<E>(self, b: bool) -> Result<Item<'a>, E> {
                Ok(Item::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Item<'a>, E> {
                Ok(Item::Number(i.into()))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Item<'a>, E> {
                Ok(Item::Number(u.into()))
            }
            fn visit_f64<E>(self, x: f64) -> Result<Item<'a>, E> {
                Ok(serde_json::Number::from_f64(x).map_or(Item::Null, Item::Number))
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Item<'a>, E> {
                Ok(Item::Str(s.into()))
            }
            fn visit_str<E>(self, s: &str) -> Result<Item<'a>, E> {
                Ok(Item::Str(s.to_owned().into()))
            }
            fn visit_unit<E>(self) -> Result<Item<'a>, E> {
                Ok(Item::Null)
            }
            fn visit_none<E>(self) -> Result<Item<'a>, E> {
                Ok(Item::Null)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Item<'a>, A::Error> {
                serde::Deserialize::deserialize(SeqAccessDeserializer::new(seq)).map(Item::Json)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Item<'a>, A::Error> {
                serde::Deserialize::deserialize(MapAccessDeserializer::new(map)).map(Item::Json)
            }
        }
        d.deserialize_any(Visit(std::marker::PhantomData))
    }
}

/// The entries of an object from the quick reading, sorted by name, each
/// name once: the last one written wins, as in a `serde_json::Map`.
#[derive(Debug, PartialEq)]
struct Entries<'a>(Vec<(Name<'a>, Item<'a>)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Entries<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Entries<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries<'a>, A::Error> {
                let mut list: Vec<(Name<'a>, Item<'a>)> = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    list.push(entry);
                }
                // Stable, so equal names keep their order; of those, the
                // last one written is kept.
                list.sort_by(|a, b| a.0 .0.cmp(&b.0 .0));
                list.dedup_by(|later, kept| {
                    let same = later.0 == kept.0;
                    if same {
                        std::mem::swap(later, kept);
                    }
                    same
                });
                Ok(Entries(list))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// The fields of a call that matter, read without building the rest
/// (Segment lines carry large `context` and `integrations` objects) and
/// with `properties` and `traits` read as [`Entries`], not as
/// `serde_json` values.
///
/// It takes only lines that [`QuickEnvelope`] takes too (here `properties`
/// and `traits` must be objects or `null`) and reads the same values from
/// them; every other line is read as before by [`object`], so messages
/// stay exactly as they were.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    // The fields in the order `QuickEnvelope` has them: serde also reads a
    // struct from a JSON list, by position.
    #[serde(rename = "type", default, borrow)]
    kind: Option<Name<'a>>,
    #[serde(rename = "userId", default, borrow)]
    user_id: Option<Name<'a>>,
    #[serde(default, borrow)]
    event: Option<Name<'a>>,
    #[serde(default, borrow)]
    timestamp: Option<Name<'a>>,
    #[serde(default, borrow)]
    properties: Option<Entries<'a>>,
    #[serde(default, borrow)]
    traits: Option<Entries<'a>>,
}

/// The fields of a call that matter, with `properties` and `traits` read
/// as `serde_json` values.
#[derive(serde::Deserialize)]
struct QuickEnvelope<'a> {
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

/// The call as a map of the fields that matter, for a line [`Envelope`]
/// does not take. A line [`QuickEnvelope`] does not take either (not
/// JSON, a field of the wrong type, a repeated field) is read again in
/// full, for the exact message.
fn object(line: &str) -> Result<serde_json::Map<String, Json>, IngestError> {
    if let Ok(e) = serde_json::from_str::<QuickEnvelope<'_>>(line) {
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

/// Reads `line` and checks the call with `check`: the quick reading
/// ([`Envelope`]) when it takes the line, else [`object`]'s.
fn read<R>(
    line: &str,
    check: impl FnOnce(&Call<'_>) -> Result<R, IngestError>,
) -> Result<R, IngestError> {
    if let Ok(e) = serde_json::from_str::<Envelope<'_>>(line) {
        return check(&Call::of_envelope(&e));
    }
    let o = object(line)?;
    check(&Call::of_map(&o))
}

/// Validates one Segment-style `track`, `identify`, `page` or `screen`
/// call. A `page` or `screen` call is read as a `track` of the event
/// `page` or `screen` (see [`page_as_track`]).
pub fn parse_call(line: &str, schemas: &Schemas) -> Result<Accepted, IngestError> {
    if line.contains("\"page\"") || line.contains("\"screen\"") {
        if let Some(track) = page_as_track(line) {
            return read(&track, |call| check_call(call, schemas));
        }
    }
    read(line, |call| check_call(call, schemas))
}

/// A `page` or `screen` call rewritten as the `track` call it stands for:
/// the event is named `page` or `screen`, its properties are the call's,
/// and the call's `name` and `category` (which Segment sends beside the
/// properties) are added to them when they do not hold their own. `None`
/// for any other line.
fn page_as_track(line: &str) -> Option<String> {
    let mut o: serde_json::Map<String, Json> = serde_json::from_str(line).ok()?;
    let kind = match o.get("type") {
        Some(Json::String(k)) if k == "page" || k == "screen" => k.clone(),
        _ => return None,
    };
    let extra: Vec<(String, Json)> = ["name", "category"]
        .into_iter()
        .filter_map(|k| Some((k.to_owned(), o.get(k).filter(|v| v.is_string())?.clone())))
        .collect();
    let properties = o
        .entry("properties")
        .or_insert_with(|| Json::Object(serde_json::Map::new()));
    if let Json::Object(props) = properties {
        for (k, v) in extra {
            props.entry(k).or_insert(v);
        }
    }
    o.insert("type".to_owned(), Json::String("track".to_owned()));
    o.insert("event".to_owned(), Json::String(kind));
    serde_json::to_string(&o).ok()
}

fn check_call(o: &Call<'_>, schemas: &Schemas) -> Result<Accepted, IngestError> {
    let kind = string_field(o.kind, "type")?;
    let mut notes = Vec::new();
    match kind {
        "track" => {
            let user_id = string_field(o.user_id, "userId")?.to_owned();
            let event = string_field(o.event, "event")?.to_owned();
            let at = timestamp(o.timestamp, true)?.unwrap_or_default();
            let (props, declared) = match schemas.events.iter().find(|e| e.name == event) {
                Some(schema) => (
                    o.properties.fields(
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
            let user_id = string_field(o.user_id, "userId")?.to_owned();
            let at = timestamp(o.timestamp, true)?;
            let traits =
                o.traits
                    .fields("traits", &schemas.profile, schemas, true, None, &mut notes)?;
            Ok((
                Input::Identify {
                    user_id,
                    traits,
                    at,
                },
                notes,
            ))
        }
        "group" | "alias" => Err(IngestError::new(
            "type".to_owned(),
            format!(
                "`{kind}` calls are not supported yet; send `track`, `identify`, `page` or `screen`"
            ),
        )),
        other => Err(IngestError::new(
            "type".to_owned(),
            format!("unsupported type `{other}`; expected `track`, `identify`, `page` or `screen`"),
        )),
    }
}

/// Validates one initial profile: `{"userId": …, "traits": {…}}` (a
/// `timestamp` is optional). Traits are checked like `identify`'s.
pub fn parse_profile(line: &str, schemas: &Schemas) -> Result<Accepted, IngestError> {
    read(line, |o| {
        let user_id = string_field(o.user_id, "userId")?.to_owned();
        let at = timestamp(o.timestamp, false)?;
        let mut notes = Vec::new();
        let traits =
            o.traits
                .fields("traits", &schemas.profile, schemas, true, None, &mut notes)?;
        Ok((
            Input::Identify {
                user_id,
                traits,
                at,
            },
            notes,
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_and_screen_calls_are_events_named_page_and_screen() {
        let schemas = Schemas {
            events: vec![nudge_bytecode::EventSchema {
                name: "page".into(),
                fields: vec![
                    FieldSchema {
                        name: "name".into(),
                        ty: Type::Optional(Box::new(Type::String)),
                        default: None,
                    },
                    FieldSchema {
                        name: "url".into(),
                        ty: Type::Optional(Box::new(Type::String)),
                        default: None,
                    },
                ],
            }],
            ..Schemas::default()
        };
        let page = r#"{"type":"page","userId":"u","name":"Pricing","properties":{"url":"https://example.com/pricing"},"timestamp":"2026-03-01T10:00:00Z"}"#;
        let (input, _) = parse_call(page, &schemas).unwrap();
        let Input::Track {
            event,
            props,
            declared,
            ..
        } = input
        else {
            panic!("not a track: {input:?}")
        };
        assert_eq!(event, "page");
        assert!(declared);
        assert_eq!(props.get("name"), Some(&Value::str("Pricing")));
        assert_eq!(
            props.get("url"),
            Some(&Value::str("https://example.com/pricing"))
        );
        // A screen call with no `screen` event declared is activity only.
        let screen =
            r#"{"type":"screen","userId":"u","name":"Home","timestamp":"2026-03-01T10:00:00Z"}"#;
        let (input, _) = parse_call(screen, &schemas).unwrap();
        assert!(
            matches!(&input, Input::Track { event, declared: false, .. } if event == "screen"),
            "{input:?}"
        );
        // Bad properties are named as in a track call.
        let bad = r#"{"type":"page","userId":"u","properties":{"url":3},"timestamp":"2026-03-01T10:00:00Z"}"#;
        let e = parse_call(bad, &schemas).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("properties.url"), "{e}");
        // A track of an event called `page` is still a track.
        let track = r#"{"type":"track","userId":"u","event":"page","properties":{"name":"x"},"timestamp":"2026-03-01T10:00:00Z"}"#;
        assert!(parse_call(track, &schemas).is_ok());
    }

    #[test]
    fn group_and_alias_are_refused_as_not_supported_yet() {
        for kind in ["group", "alias"] {
            let line = format!(
                r#"{{"type":"{kind}","userId":"u","groupId":"g","previousId":"p","timestamp":"2026-03-01T10:00:00Z"}}"#
            );
            let e = parse_call(&line, &Schemas::default()).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("type"));
            assert!(e.message.contains("not supported yet"), "{}", e.message);
        }
    }
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
                    f(
                        "tags",
                        Type::Optional(Box::new(Type::List(Box::new(Type::String)))),
                    ),
                    f("wait", Type::Optional(Box::new(Type::Duration))),
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

    /// A time past 9999-12-31 in UTC used to be accepted and printed as
    /// `+10000-01-01T…`, which no tool reads back.
    #[test]
    fn timestamps_outside_the_years_0000_to_9999_are_refused() {
        let line =
            |at: &str| format!(r#"{{"type":"track","userId":"u","event":"x","timestamp":"{at}"}}"#);
        let e = err(&line("9999-12-31T23:00:00-05:00"));
        assert_eq!(e.field.as_deref(), Some("timestamp"));
        assert!(e.message.contains("outside the years 0000 to 9999"), "{e}");
        let e = err(&line("0000-01-01T00:30:00+01:00"));
        assert!(e.message.contains("outside the years 0000 to 9999"), "{e}");
        assert!(parse_call(&line("9999-12-31T23:59:59Z"), &Schemas::default()).is_ok());
        assert!(parse_call(&line("0000-01-01T00:00:00Z"), &Schemas::default()).is_ok());
    }

    #[test]
    fn envelope_errors() {
        assert_eq!(err("{").field, None);
        assert_eq!(err("[1]").message, "expected a JSON object, found a list");
        assert_eq!(err(r#"{"type":"group"}"#).field.as_deref(), Some("type"));
        assert_eq!(err(r#"{"type":"fax"}"#).field.as_deref(), Some("type"));
        // A page call is a track call: it needs a user.
        assert_eq!(err(r#"{"type":"page"}"#).field.as_deref(), Some("userId"));
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

    /// A line read the quick way ([`Envelope`], `None` when it does not
    /// take the line), the older way ([`object`]) and in full.
    type Readings = (
        Option<Result<Accepted, IngestError>>,
        Result<Accepted, IngestError>,
        Result<Accepted, IngestError>,
    );

    fn readings(line: &str, profile: bool) -> Readings {
        let s = schemas();
        let check = |call: &Call<'_>| {
            if profile {
                // As `parse_profile` checks it.
                let user_id = string_field(call.user_id, "userId")?.to_owned();
                let at = timestamp(call.timestamp, false)?;
                let mut notes = Vec::new();
                let traits = call
                    .traits
                    .fields("traits", &s.profile, &s, true, None, &mut notes)?;
                Ok((
                    Input::Identify {
                        user_id,
                        traits,
                        at,
                    },
                    notes,
                ))
            } else {
                check_call(call, &s)
            }
        };
        let quick = serde_json::from_str::<Envelope<'_>>(line)
            .ok()
            .map(|e| check(&Call::of_envelope(&e)));
        let older = object(line).and_then(|o| check(&Call::of_map(&o)));
        let full = match serde_json::from_str::<Json>(line) {
            Ok(Json::Object(o)) => check(&Call::of_map(&o)),
            Ok(other) => Err(IngestError::new(
                None,
                format!("expected a JSON object, found {}", json_kind(&other)),
            )),
            Err(e) => Err(IngestError::new(None, format!("not valid JSON: {e}"))),
        };
        (quick, older, full)
    }

    /// The quick reading takes `line` and agrees with the others; returns
    /// what `parse_call` (or `parse_profile`) gives.
    fn agree(line: &str, profile: bool) -> Result<Accepted, IngestError> {
        let (quick, older, full) = readings(line, profile);
        let quick = quick.unwrap_or_else(|| panic!("not read the quick way: {line}"));
        assert_eq!(quick, older, "{line}");
        assert_eq!(quick, full, "{line}");
        let parsed = if profile {
            parse_profile(line, &schemas())
        } else {
            parse_call(line, &schemas())
        };
        assert_eq!(parsed, quick, "{line}");
        quick
    }

    fn order(props: &str) -> String {
        format!(r#"{{"type":"track","userId":"u","event":"order","properties":{props},{T}}}"#)
    }

    fn props_of(result: Result<Accepted, IngestError>) -> (Props, Vec<String>) {
        match result {
            Ok((Input::Track { props, .. }, notes))
            | Ok((Input::Identify { traits: props, .. }, notes)) => {
                (props, notes.into_iter().map(|n| n.field).collect())
            }
            Err(e) => panic!("rejected: {e:?}"),
        }
    }

    const OK: &str = r#""total":3,"count":2,"plan":"pro""#;

    #[test]
    fn the_quick_reading_agrees_on_accepted_properties() {
        // Nested lists and objects, declared and not.
        let (props, notes) = props_of(agree(
            &order(&format!(
                r#"{{{OK},"tags":["a","b\u00e9"],"cart":{{"items":[{{"sku":"x"}}],"n":null}},"extra":[1,{{"a":[]}}]}}"#
            )),
            false,
        ));
        assert_eq!(
            props.get("tags"),
            Some(&Value::List(vec![Value::str("a"), Value::str("bé")].into()))
        );
        assert_eq!(notes, ["properties.cart", "properties.extra"]);
        // Unicode escapes in names and values; a name escaped to a declared one.
        let (props, notes) = props_of(agree(
            &order(
                r#"{"tot\u0061l":3.5,"count":2,"plan":"pr\u006f","note":"\ud83d\ude00 \"q\"","\u00fcber":1}"#,
            ),
            false,
        ));
        assert_eq!(props.get("total"), Some(&Value::Float(3.5)));
        assert_eq!(props.get("plan"), Some(&Value::str("pro")));
        assert_eq!(props.get("note"), Some(&Value::str("😀 \"q\"")));
        assert_eq!(notes, ["properties.über"]);
        // Null for an optional property; numbers of every kind.
        let (props, _) = props_of(agree(
            &order(r#"{"total":-0.0,"count":-7,"plan":"pro","note":null,"wait":100}"#),
            false,
        ));
        assert_eq!(props.get("note"), Some(&Value::None));
        assert_eq!(props.get("count"), Some(&Value::Int(-7)));
        props_of(agree(
            &order(r#"{"total":1e308,"count":9223372036854775807,"plan":"pro","wait":"1d12h"}"#),
            false,
        ));
        // Repeated names: the last one wins, wherever it is.
        let (props, notes) = props_of(agree(
            &order(r#"{"count":"x","total":3,"zz":1,"count":2,"plan":"pro","zz":2,"a":0}"#),
            false,
        ));
        assert_eq!(props.get("count"), Some(&Value::Int(2)));
        // Notes come by name, as the older reading gave them.
        assert_eq!(notes, ["properties.a", "properties.zz"]);
        // An empty object, absent and `null` properties of an undeclared event.
        for props in ["{}", "null"] {
            agree(
                &format!(
                    r#"{{"type":"track","userId":"u","event":"ping","properties":{props},{T}}}"#
                ),
                false,
            )
            .unwrap();
        }
        // Envelope fields in any order, escaped, with `null` traits on a track.
        agree(
            &format!(
                r#"{{{T},"properties":{{{OK}}},"traits":null,"event":"ord\u0065r","userId":"\u0075","type":"track","context":{{"a":[1,2]}}}}"#
            ),
            false,
        )
        .unwrap();
    }

    #[test]
    fn the_quick_reading_agrees_on_rejected_properties() {
        let cases = [
            // A number as a string, a float for an int, a string for a bool.
            (
                r#"{"total":"3","count":2,"plan":"pro"}"#,
                "properties.total",
            ),
            (
                r#"{"total":3,"count":2.5,"plan":"pro"}"#,
                "properties.count",
            ),
            (
                r#"{"total":3,"count":2,"plan":"pro","wait":true}"#,
                "properties.wait",
            ),
            (
                r#"{"total":3,"count":18446744073709551615,"plan":"pro"}"#,
                "properties.count",
            ),
            (
                r#"{"total":3,"count":2,"plan":"pro","wait":1.5}"#,
                "properties.wait",
            ),
            (
                r#"{"total":3,"count":2,"plan":"pro","wait":"soon"}"#,
                "properties.wait",
            ),
            // Null for a required property is a type error.
            (
                r#"{"total":null,"count":2,"plan":"pro"}"#,
                "properties.total",
            ),
            // Not a member (with a suggestion), a list item of the wrong type.
            (r#"{"total":3,"count":2,"plan":"prro"}"#, "properties.plan"),
            (
                r#"{"total":3,"count":2,"plan":"pro","tags":["a",1]}"#,
                "properties.tags",
            ),
            (
                r#"{"total":3,"count":2,"plan":"pro","tags":{"a":1}}"#,
                "properties.tags",
            ),
            (r#"{"total":3,"count":2,"plan":{"a":1}}"#, "properties.plan"),
            // The first bad one by name is named; an earlier repeat is forgotten.
            (
                r#"{"total":"x","count":"y","plan":"pro"}"#,
                "properties.count",
            ),
            (
                r#"{"total":3,"count":2,"plan":"pro","count":"z"}"#,
                "properties.count",
            ),
            // Missing, or missing because `null`.
            (r#"{"total":3,"plan":"pro"}"#, "properties.count"),
            ("{}", "properties.total"),
            ("null", "properties.total"),
        ];
        for (props, field) in cases {
            let e = agree(&order(props), false).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{props}: {e:?}");
        }
    }

    #[test]
    fn the_quick_reading_agrees_on_traits() {
        let identify =
            |traits: &str| format!(r#"{{"type":"identify","userId":"u","traits":{traits},{T}}}"#);
        let (traits, notes) = props_of(agree(
            &identify(
                r#"{"email":null,"plan":"starter","nick":{"a":1},"timezone":"Europe/Berlin"}"#,
            ),
            false,
        ));
        assert_eq!(traits.get("email"), Some(&Value::None));
        assert_eq!(notes, ["traits.nick"]);
        let e = agree(&identify(r#"{"plan":null}"#), false).unwrap_err();
        assert_eq!(e.message, "`plan` is Plan and cannot be cleared");
        let e = agree(&identify(r#"{"email":"x","email":"nobody"}"#), false).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("traits.email"));
        // Initial profiles, with and without a timestamp.
        agree(r#"{"userId":"u","traits":{"plan":"pro"}}"#, true).unwrap();
        agree(
            r#"{"userId":"u","traits":{"plan":"pro"},"timestamp":null}"#,
            true,
        )
        .unwrap();
        let e = agree(r#"{"userId":"u","traits":{"email":"nobody"}}"#, true).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("traits.email"));
        let e = agree(r#"{"userId":"","traits":{}}"#, true).unwrap_err();
        assert_eq!(e.message, "`userId` is empty");
    }

    #[test]
    fn lines_the_quick_reading_does_not_take_read_as_before() {
        let not_taken = [
            // Properties or traits not an object, even where unused.
            order("[1]"),
            order(r#""x""#),
            format!(r#"{{"type":"track","userId":"u","event":"ping","properties":3,{T}}}"#),
            format!(r#"{{"type":"identify","userId":"u","traits":{{}},"properties":[],{T}}}"#),
            // Repeated or mistyped envelope fields.
            format!(r#"{{"type":"track","type":"identify","userId":"u","traits":{{}},{T}}}"#),
            format!(r#"{{"type":"track","userId":7,"event":"x",{T}}}"#),
            r#"{"type":"track","userId":"u","event":"x","timestamp":5}"#.into(),
            // Not an object, not JSON, a bad value deep inside.
            "[1]".into(),
            "{".into(),
            order(r#"{"a":[1,}"#),
            format!("{} x", order("{}")),
        ];
        for line in &not_taken {
            let (quick, older, _) = readings(line, false);
            assert!(quick.is_none(), "{line}");
            assert_eq!(parse_call(line, &schemas()), older, "{line}");
        }
        // A list is read as a struct by position the older way (not as
        // the full reading would), and the quick way agrees where it takes it.
        let (quick, older, _) = readings("[]", false);
        assert_eq!(quick, Some(older.clone()));
        assert_eq!(older.map_err(|e| e.message), Err("missing `type`".into()));
        let list = r#"["track","u","ping","2026-03-01T10:00:00Z",[1]]"#;
        let (quick, older, _) = readings(list, false);
        assert!(quick.is_none());
        assert!(older.is_ok());
        assert_eq!(parse_call(list, &schemas()), older);
        let list =
            r#"["track","u","order","2026-03-01T10:00:00Z",{"total":1,"count":1,"plan":"pro"}]"#;
        let (quick, older, _) = readings(list, false);
        assert_eq!(quick, Some(older));
    }

    #[test]
    fn times_of_day() {
        assert_eq!(time_of_day("09:30"), Some(570));
        for bad in ["24:00", "9:30", "+9:00", "09:+5", "09:5", "0930", "09:300"] {
            assert_eq!(time_of_day(bad), None, "{bad}");
        }
    }
}
