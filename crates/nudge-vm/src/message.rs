//! A message ready for a channel: what rendering produces and what the
//! store keeps in the outbox.

use std::collections::BTreeMap;
use std::sync::Arc;

use nudge_bytecode::Channel;

/// A message ready for a channel.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rendered {
    /// The channel.
    pub channel: Channel,
    /// The template's name, if any.
    pub template: Option<Arc<str>>,
    /// Field name → text (webhook objects as JSON); serialised as
    /// `content`.
    #[serde(rename = "content")]
    pub fields: Fields,
}

/// A rendered message's fields by name: a list sorted by name, as long as
/// the message has fields (a message has a handful; a tree map would
/// allocate room for eleven). Serialised as a map.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<(Arc<str>, String)>);

/// What `fields["name"]` reads for a field the message does not have.
static NO_FIELD: String = String::new();

impl Fields {
    /// No fields.
    pub fn new() -> Fields {
        Fields(Vec::new())
    }

    /// The text of field `name`.
    pub fn get(&self, name: &str) -> Option<&String> {
        let i = self.0.binary_search_by(|(k, _)| (**k).cmp(name)).ok()?;
        self.0.get(i).map(|(_, v)| v)
    }

    /// Sets field `name` (a later value replaces an earlier one).
    pub fn insert(&mut self, name: impl Into<Arc<str>>, text: String) {
        let name = name.into();
        match self.0.binary_search_by(|(k, _)| k.cmp(&name)) {
            Ok(i) => self.0[i].1 = text,
            Err(i) => self.0.insert(i, (name, text)),
        }
    }

    /// The fields in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &String)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Index<&str> for Fields {
    type Output = String;

    /// The text of field `name`; empty when the message has no such field.
    fn index(&self, name: &str) -> &String {
        self.get(name).unwrap_or(&NO_FIELD)
    }
}

impl<K: Into<Arc<str>>> FromIterator<(K, String)> for Fields {
    fn from_iter<I: IntoIterator<Item = (K, String)>>(iter: I) -> Fields {
        let mut fields = Fields::new();
        for (k, v) in iter {
            fields.insert(k, v);
        }
        fields
    }
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl serde::Serialize for Fields {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Fields, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(deserializer)?;
        Ok(map.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_name_order_and_serialise_as_a_map() {
        let mut f: Fields = [("subject", "Hi".to_owned()), ("body", "One".to_owned())]
            .into_iter()
            .collect();
        // An override replaces the template's text.
        f.insert("body", "Two".to_owned());
        assert_eq!(f.len(), 2);
        assert_eq!(f.get("body").map(String::as_str), Some("Two"));
        assert_eq!(f["subject"], "Hi");
        assert_eq!(f["missing"], "");
        assert_eq!(f.get("missing"), None);
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, r#"{"body":"Two","subject":"Hi"}"#);
        let back: Fields = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        assert_eq!(format!("{f:?}"), r#"{"body": "Two", "subject": "Hi"}"#);
    }

    #[test]
    fn a_message_serialises_its_channel_by_keyword_and_its_fields_as_content() {
        let m = Rendered {
            channel: Channel::InApp,
            template: None,
            fields: [("title", "Hi".to_owned())].into_iter().collect(),
        };
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            json,
            r#"{"channel":"in_app","template":null,"content":{"title":"Hi"}}"#
        );
        assert_eq!(serde_json::from_str::<Rendered>(&json).unwrap(), m);
    }
}
