//! The types of the language.

use crate::ir::EnumId;

/// The type of a value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
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
    /// A time of day such as `09:00` (literals only).
    TimeOfDay,
    /// A declared enum.
    Enum(EnumId),
    /// `T?`
    Optional(Box<Type>),
    /// `[T]`
    List(Box<Type>),
    /// The type of the `none` literal.
    None,
    /// The type of something that already failed to check; it matches
    /// everything so that one mistake is reported once.
    Error,
}

impl Type {
    /// The built-in type called `name`.
    pub fn builtin(name: &str) -> Option<Type> {
        Some(match name {
            "string" => Type::String,
            "int" => Type::Int,
            "float" => Type::Float,
            "bool" => Type::Bool,
            "time" => Type::Time,
            "duration" => Type::Duration,
            "email" => Type::Email,
            "phone" => Type::Phone,
            "url" => Type::Url,
            "timezone" => Type::Timezone,
            _ => return None,
        })
    }

    /// Names of the built-in types, for suggestions.
    pub const BUILTINS: [&'static str; 10] = [
        "string", "int", "float", "bool", "time", "duration", "email", "phone", "url", "timezone",
    ];

    /// Whether the value may be `none`.
    pub fn is_optional(&self) -> bool {
        matches!(self, Type::Optional(_))
    }

    /// The type without `?`.
    pub fn strip_optional(&self) -> &Type {
        match self {
            Type::Optional(inner) => inner,
            other => other,
        }
    }

    /// Whether this is the error type.
    pub fn is_error(&self) -> bool {
        matches!(self, Type::Error)
    }

    /// Strings and the string types with a format.
    pub fn is_stringlike(&self) -> bool {
        matches!(
            self,
            Type::String | Type::Email | Type::Phone | Type::Url | Type::Timezone
        )
    }

    /// `int` or `float`.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Type::Int | Type::Float)
    }

    /// Whether `<`, `<=`, `>`, `>=` apply.
    pub fn is_ordered(&self) -> bool {
        matches!(
            self,
            Type::Int | Type::Float | Type::Duration | Type::Time | Type::TimeOfDay | Type::Error
        )
    }

    /// Whether a value of this type may stand where `target` is wanted
    /// (`int` widens to `float`, `none` fits any optional).
    pub fn fits(&self, target: &Type) -> bool {
        match (self, target) {
            (Type::Error, _) | (_, Type::Error) => true,
            (a, b) if a == b => true,
            (Type::Int, Type::Float) => true,
            (Type::String, t) if t.is_stringlike() => true,
            (t, Type::String) if t.is_stringlike() => true,
            (Type::None, Type::Optional(_)) => true,
            (Type::Optional(a), Type::Optional(b)) => a.fits(b),
            (a, Type::Optional(b)) => a.fits(b),
            (Type::List(a), Type::List(b)) => a.fits(b),
            _ => false,
        }
    }

    /// Whether two non-optional values can be compared with `==`.
    pub fn comparable(&self, other: &Type) -> bool {
        match (self, other) {
            (Type::Error, _) | (_, Type::Error) => true,
            (a, b) if a == b => true,
            (a, b) if a.is_numeric() && b.is_numeric() => true,
            (Type::String, b) if b.is_stringlike() => true,
            (a, Type::String) if a.is_stringlike() => true,
            (Type::List(a), Type::List(b)) => a.comparable(b),
            _ => false,
        }
    }
}
