//! How instants are serialized in the engine's state.
//!
//! Human-readable formats (JSON: records, tools) get chrono's RFC 3339
//! text. Binary formats (postcard: the durable store) get the instant as
//! whole seconds since the Unix epoch and nanoseconds, two varints: about
//! 6 bytes instead of 28, and no text to format or parse on every save.
//!
//! Stores of format 1 held the text form in binary encodings too;
//! [`with_text_times`] reads and writes that form, so a store can migrate
//! its data.

use std::cell::Cell;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::de::{Deserializer, Error as _, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

thread_local! {
    static TEXT_TIMES: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with instants serialized as text in binary formats too (the
/// form of store format 1), on this thread.
pub fn with_text_times<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            TEXT_TIMES.with(|t| t.set(self.0));
        }
    }
    let _reset = Reset(TEXT_TIMES.with(|t| t.replace(true)));
    f()
}

fn as_text(human_readable: bool) -> bool {
    human_readable || TEXT_TIMES.with(Cell::get)
}

/// Serializes an instant (`#[serde(with = "stored_time")]`).
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    if as_text(s.is_human_readable()) {
        at.serialize(s)
    } else {
        (at.timestamp(), at.timestamp_subsec_nanos()).serialize(s)
    }
}

/// Deserializes an instant.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    if as_text(d.is_human_readable()) {
        DateTime::<Utc>::deserialize(d)
    } else {
        let (secs, nanos) = <(i64, u32)>::deserialize(d)?;
        DateTime::from_timestamp(secs, nanos)
            .ok_or_else(|| D::Error::custom(format!("instant out of range: {secs}.{nanos:09}")))
    }
}

/// An instant serialized as above, inside other types.
struct At(DateTime<Utc>);

impl Serialize for At {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<At, D::Error> {
        deserialize(d).map(At)
    }
}

/// `Option<DateTime<Utc>>` (`#[serde(with = "stored_time::option")]`).
pub mod option {
    use super::*;

    /// Serializes an optional instant.
    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        at.map(At).serialize(s)
    }

    /// Deserializes an optional instant.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(Option::<At>::deserialize(d)?.map(|a| a.0))
    }
}

/// `Vec<(DateTime<Utc>, T)>` (`#[serde(with = "stored_time::pairs")]`).
pub mod pairs {
    use super::*;

    /// Serializes instants paired with values.
    pub fn serialize<S: Serializer, T: Serialize>(
        pairs: &[(DateTime<Utc>, T)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(pairs.len()))?;
        for (at, value) in pairs {
            seq.serialize_element(&(At(*at), value))?;
        }
        seq.end()
    }

    /// Deserializes instants paired with values.
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Vec<(DateTime<Utc>, T)>, D::Error> {
        struct Pairs<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Pairs<T> {
            type Value = Vec<(DateTime<Utc>, T)>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence of (instant, value) pairs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some((At(at), value)) = seq.next_element::<(At, T)>()? {
                    out.push((at, value));
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Pairs(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        #[serde(with = "super")]
        at: DateTime<Utc>,
        #[serde(with = "super::option")]
        last: Option<DateTime<Utc>>,
        #[serde(with = "super::pairs")]
        capped: Vec<(DateTime<Utc>, u8)>,
    }

    fn sample() -> Sample {
        let at = DateTime::from_timestamp(1_767_225_600, 123_456_789).unwrap_or_default();
        let before = DateTime::from_timestamp(-86_400, 0).unwrap_or_default();
        Sample {
            at,
            last: Some(before),
            capped: vec![(at, 1), (before, 2)],
        }
    }

    #[test]
    fn binary_form_is_compact_and_lossless() {
        let s = sample();
        let bytes = postcard::to_allocvec(&s).unwrap_or_default();
        assert!(bytes.len() < 40, "{} bytes", bytes.len());
        let back: Sample = postcard::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, s);
    }

    #[test]
    fn json_keeps_rfc3339_text() {
        let json = serde_json::to_string(&sample()).unwrap_or_default();
        assert!(
            json.contains("\"2026-01-01T00:00:00.123456789Z\""),
            "{json}"
        );
        assert!(json.contains("\"1969-12-31T00:00:00Z\""), "{json}");
    }

    #[test]
    fn text_form_reads_what_format_1_wrote() {
        let s = sample();
        let text = with_text_times(|| postcard::to_allocvec(&s).unwrap_or_default());
        assert!(text.len() > 60);
        assert!(postcard::from_bytes::<Sample>(&text).is_err());
        let back: Sample =
            with_text_times(|| postcard::from_bytes(&text)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, s);
        // The flag is reset afterwards.
        assert!(postcard::from_bytes::<Sample>(&text).is_err());
    }
}
