//! Run-time values and events.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A value on the VM's stack, in a profile or in an event.
///
/// Enum members are their member name (`Str`): the checker has already made
/// sure only members are compared with members.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub enum Value {
    /// `none`
    #[default]
    None,
    /// A bool.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string, email, phone, url, time zone or enum member.
    Str(Arc<str>),
    /// An instant.
    Time(DateTime<Utc>),
    /// A duration in seconds.
    Duration(i64),
    /// A time of day in minutes after midnight.
    TimeOfDay(u16),
    /// A list.
    List(Arc<[Value]>),
}

impl Value {
    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }

    /// Whether this is `none`.
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    /// The truth of a condition (`none` and anything but `true` are false).
    pub fn truthy(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// The string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Equality as `==` sees it (ints and floats compare by value).
    pub fn equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => {
                (*a as f64) == *b
            }
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.equals(y))
            }
            _ => self == other,
        }
    }

    /// Ordering for `< <= > >=`; `None` when the values do not compare
    /// (then every ordering comparison is false).
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
            (Value::Int(a), Value::Float(b)) => (*a as f64).partial_cmp(b),
            (Value::Float(a), Value::Int(b)) => a.partial_cmp(&(*b as f64)),
            (Value::Str(a), Value::Str(b)) => Some(a.cmp(b)),
            (Value::Time(a), Value::Time(b)) => Some(a.cmp(b)),
            (Value::Duration(a), Value::Duration(b)) => Some(a.cmp(b)),
            (Value::TimeOfDay(a), Value::TimeOfDay(b)) => Some(a.cmp(b)),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// How a value reads inside a message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
            Value::Time(t) => write!(
                f,
                "{}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            Value::Duration(s) => f.write_str(&nudge_bytecode::format_duration(*s)),
            Value::TimeOfDay(m) => write!(f, "{:02}:{:02}", m / 60, m % 60),
            Value::List(items) => {
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
        }
    }
}

/// Properties of an event or attributes of a profile, by name.
pub type Props = BTreeMap<String, Value>;

/// One accepted `track` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The event's name.
    pub name: Arc<str>,
    /// When it was received.
    pub at: DateTime<Utc>,
    /// Its position in the profile's history (strictly increasing).
    pub seq: u64,
    /// Its properties.
    pub props: Props,
}

impl Event {
    /// A property (none when absent).
    pub fn prop(&self, name: &str) -> Value {
        self.props.get(name).cloned().unwrap_or(Value::None)
    }
}
