//! Run-time values and events.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use nudge_bytecode::{Const, Module};
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
    Time(#[serde(with = "crate::stored_time")] DateTime<Utc>),
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
            Value::Duration(s) => f.write_str(&nudge_core::duration::format(*s)),
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
///
/// A list sorted by name in one shared allocation: events keep theirs in
/// history for as long as the profile lives, so a property costs one entry
/// (no tree node with room for eleven, no string per name when the engine
/// has swapped the names for its own shared ones), and a copy is a
/// reference count. Changing one (`insert`, `remove`) copies the list,
/// which suits what changes them: an `identify` call now and then.
#[derive(Clone, Default, PartialEq)]
pub struct Props(Option<Arc<[Prop]>>);

/// One named value of [`Props`].
pub type Prop = (Arc<str>, Value);

impl Props {
    /// No properties.
    pub fn new() -> Props {
        Props(None)
    }

    /// The entries, sorted by name.
    pub fn entries(&self) -> &[Prop] {
        self.0.as_deref().unwrap_or(&[])
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.entries().binary_search_by(|(k, _)| (**k).cmp(name))
    }

    /// The value called `name`. A few entries (the usual case) are scanned,
    /// comparing lengths before bytes; more are searched.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let entries = self.entries();
        if entries.len() <= 8 {
            return entries
                .iter()
                .find(|(k, _)| k.len() == name.len() && k.as_bytes() == name.as_bytes())
                .map(|(_, v)| v);
        }
        let i = self.position(name).ok()?;
        entries.get(i).map(|(_, v)| v)
    }

    /// Whether there is a value called `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// The entries in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Prop> {
        self.entries().iter()
    }

    /// The names in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries().iter().map(|(k, _)| &**k)
    }

    /// Sets `name` to `value`; returns the value it had.
    pub fn insert(&mut self, name: impl Into<Arc<str>>, value: Value) -> Option<Value> {
        let name = name.into();
        let mut list = self.entries().to_vec();
        let old = match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut list[i].1, value)),
            Err(i) => {
                list.insert(i, (name, value));
                None
            }
        };
        self.0 = Some(list.into());
        old
    }

    /// Removes `name`; returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.position(name).ok()?;
        let mut list = self.entries().to_vec();
        let (_, old) = list.remove(i);
        self.0 = (!list.is_empty()).then(|| list.into());
        Some(old)
    }

    /// The names, each replaced by the equal string `shared` returns
    /// (the engine's own copy of a declared name), so stored events do not
    /// each keep their own. Done in place when this is the only copy.
    pub fn share_names(&mut self, shared: impl Fn(&str) -> Option<Arc<str>>) {
        let Some(list) = &mut self.0 else {
            return;
        };
        let swap = |entries: &mut [Prop]| {
            for (k, _) in entries {
                if let Some(s) = shared(k) {
                    if !Arc::ptr_eq(&s, k) {
                        *k = s;
                    }
                }
            }
        };
        match Arc::get_mut(list) {
            Some(entries) => swap(entries),
            None => {
                let mut entries = list.to_vec();
                swap(&mut entries);
                *list = entries.into();
            }
        }
    }
}

impl<K: Into<Arc<str>>> FromIterator<(K, Value)> for Props {
    /// Later entries win over earlier ones with the same name.
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Props {
        let mut list: Vec<Prop> = iter.into_iter().map(|(k, v)| (k.into(), v)).collect();
        if list.is_empty() {
            return Props(None);
        }
        // Stable: equal names keep their order, and the last one stays.
        list.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<Prop> = Vec::with_capacity(list.len());
        for entry in list {
            match out.last_mut() {
                Some(last) if last.0 == entry.0 => *last = entry,
                _ => out.push(entry),
            }
        }
        Props(Some(out.into()))
    }
}

impl<K: Into<Arc<str>>> Extend<(K, Value)> for Props {
    /// Later entries win, as with `insert`.
    fn extend<I: IntoIterator<Item = (K, Value)>>(&mut self, iter: I) {
        let more: Vec<Prop> = iter.into_iter().map(|(k, v)| (k.into(), v)).collect();
        if !more.is_empty() {
            let all = std::mem::take(self).into_iter().chain(more);
            *self = all.collect();
        }
    }
}

impl<'a> IntoIterator for &'a Props {
    type Item = &'a Prop;
    type IntoIter = std::slice::Iter<'a, Prop>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl IntoIterator for Props {
    type Item = Prop;
    type IntoIter = std::vec::IntoIter<Prop>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries().to_vec().into_iter()
    }
}

impl fmt::Debug for Props {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl Serialize for Props {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter().map(|(k, v)| (&**k, v)))
    }
}

impl<'de> Deserialize<'de> for Props {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Props, D::Error> {
        let map = BTreeMap::<String, Value>::deserialize(deserializer)?;
        Ok(map.into_iter().collect())
    }
}

/// One accepted `track` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The event's name.
    pub name: Arc<str>,
    /// When it was received.
    #[serde(with = "crate::stored_time")]
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

/// A module constant as a value (enum members are read by name where
/// their enum is known: see [`profile_default`]).
fn const_value(c: &Const) -> Value {
    match c {
        Const::None | Const::Enum { .. } => Value::None,
        Const::Bool(b) => Value::Bool(*b),
        Const::Int(i) => Value::Int(*i),
        Const::Float(x) => Value::Float(*x),
        Const::Str(s) => Value::str(s),
        Const::Time(ms) => Value::Time(DateTime::from_timestamp_millis(*ms).unwrap_or_default()),
        Const::Duration(s) => Value::Duration(*s),
        Const::TimeOfDay(m) => Value::TimeOfDay(*m),
    }
}

/// What an unset profile field reads as: its schema default, else none.
pub(crate) fn profile_default(module: &Module, name: &str) -> Value {
    let field = module.schemas.profile.iter().find(|f| f.name == name);
    match field.and_then(|f| f.default.as_ref()) {
        Some(Const::Enum { enum_id, member }) => module
            .schemas
            .enums
            .get(*enum_id as usize)
            .and_then(|e| e.members.get(*member as usize))
            .map_or(Value::None, |m| Value::str(m)),
        Some(c) => const_value(c),
        None => Value::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn props_stay_sorted_and_later_entries_win() {
        let p: Props = [
            ("b", Value::Int(1)),
            ("a", Value::Int(2)),
            ("b", Value::Int(3)),
        ]
        .into_iter()
        .collect();
        assert_eq!(p.keys().collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(p.get("b"), Some(&Value::Int(3)));
        assert_eq!(p.get("c"), None);
        let mut q = p.clone();
        assert_eq!(q.insert("c", Value::Bool(true)), None);
        assert_eq!(q.insert("a", Value::Int(9)), Some(Value::Int(2)));
        // A copy is not changed by changes to the other.
        assert_eq!(p.get("a"), Some(&Value::Int(2)));
        assert_eq!(q.keys().collect::<Vec<_>>(), vec!["a", "b", "c"]);
        assert_eq!(q.remove("b"), Some(Value::Int(3)));
        assert_eq!(q.remove("b"), None);
        q.extend([("a", Value::Int(0)), ("d", Value::None)]);
        assert_eq!(
            format!("{q:?}"),
            r#"{"a": Int(0), "c": Bool(true), "d": None}"#
        );
        assert_eq!(q.remove("a"), Some(Value::Int(0)));
        assert_eq!(q.remove("c"), Some(Value::Bool(true)));
        assert_eq!(q.remove("d"), Some(Value::None));
        assert!(q.is_empty());
        assert_eq!(q, Props::new());
    }

    #[test]
    fn shared_names_replace_equal_ones_without_changing_copies() {
        let shared: Arc<str> = Arc::from("plan");
        let mut p: Props = [("plan", Value::str("pro"))].into_iter().collect();
        let copy = p.clone();
        p.share_names(|k| (k == "plan").then(|| shared.clone()));
        assert!(Arc::ptr_eq(
            &p.iter().next().map(|(k, _)| k.clone()).unwrap(),
            &shared
        ));
        assert!(!Arc::ptr_eq(
            &copy.iter().next().map(|(k, _)| k.clone()).unwrap(),
            &shared
        ));
        assert_eq!(p, copy);
        // The only copy is changed in place.
        let mut only: Props = [("plan", Value::Int(1))].into_iter().collect();
        only.share_names(|_| Some(shared.clone()));
        assert_eq!(Arc::strong_count(&shared), 3);
        assert_eq!(only.get("plan"), Some(&Value::Int(1)));
    }

    #[test]
    fn props_serialise_as_a_map() {
        let p: Props = [("n", Value::Int(2)), ("a", Value::str("x"))]
            .into_iter()
            .collect();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"a":{"Str":"x"},"n":{"Int":2}}"#);
        let back: Props = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }
}
