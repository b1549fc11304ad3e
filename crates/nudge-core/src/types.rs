//! The built-in value types and their names.

/// A built-in type: every type that is not an enum, a list or an optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// `string`
    String,
    /// `int`
    Int,
    /// `float`
    Float,
    /// `bool`
    Bool,
    /// `time`: an instant.
    Time,
    /// `duration`
    Duration,
    /// `email`: a string with the shape of an address.
    Email,
    /// `phone`: a string in E.164 form.
    Phone,
    /// `url`: an `http` or `https` address.
    Url,
    /// `timezone`: an IANA zone name.
    Timezone,
    /// A time of day such as `09:00`: written as a literal, never declared.
    TimeOfDay,
}

impl Scalar {
    /// The types a schema field may declare, in the order the language
    /// reference lists them.
    pub const DECLARABLE: [Scalar; 10] = [
        Scalar::String,
        Scalar::Int,
        Scalar::Float,
        Scalar::Bool,
        Scalar::Time,
        Scalar::Duration,
        Scalar::Email,
        Scalar::Phone,
        Scalar::Url,
        Scalar::Timezone,
    ];

    /// The type's name (`time_of_day` for the type of `09:00`, which no
    /// schema can declare).
    pub fn name(self) -> &'static str {
        match self {
            Scalar::String => "string",
            Scalar::Int => "int",
            Scalar::Float => "float",
            Scalar::Bool => "bool",
            Scalar::Time => "time",
            Scalar::Duration => "duration",
            Scalar::Email => "email",
            Scalar::Phone => "phone",
            Scalar::Url => "url",
            Scalar::Timezone => "timezone",
            Scalar::TimeOfDay => "time_of_day",
        }
    }

    /// The declarable type called `name`.
    pub fn from_name(name: &str) -> Option<Scalar> {
        Scalar::DECLARABLE.into_iter().find(|s| s.name() == name)
    }

    /// Strings and the string types with a format.
    pub fn is_stringlike(self) -> bool {
        matches!(
            self,
            Scalar::String | Scalar::Email | Scalar::Phone | Scalar::Url | Scalar::Timezone
        )
    }

    /// `int` or `float`.
    pub fn is_numeric(self) -> bool {
        matches!(self, Scalar::Int | Scalar::Float)
    }

    /// Whether `<`, `<=`, `>`, `>=` apply.
    pub fn is_ordered(self) -> bool {
        matches!(
            self,
            Scalar::Int | Scalar::Float | Scalar::Duration | Scalar::Time | Scalar::TimeOfDay
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarable_names_round_trip() {
        for s in Scalar::DECLARABLE {
            assert_eq!(Scalar::from_name(s.name()), Some(s));
        }
        assert_eq!(Scalar::from_name("time_of_day"), None);
    }
}
