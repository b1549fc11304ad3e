//! The types of the language.

use nudge_core::Scalar;

use crate::ids::EnumId;

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
    /// The declarable built-in type called `name`.
    pub fn builtin(name: &str) -> Option<Type> {
        Scalar::from_name(name).map(Type::from)
    }

    /// The built-in type this is, if it is neither an enum, a list, an
    /// optional, `none` nor the error type.
    pub fn scalar(&self) -> Option<Scalar> {
        Some(match self {
            Type::String => Scalar::String,
            Type::Int => Scalar::Int,
            Type::Float => Scalar::Float,
            Type::Bool => Scalar::Bool,
            Type::Time => Scalar::Time,
            Type::Duration => Scalar::Duration,
            Type::Email => Scalar::Email,
            Type::Phone => Scalar::Phone,
            Type::Url => Scalar::Url,
            Type::Timezone => Scalar::Timezone,
            Type::TimeOfDay => Scalar::TimeOfDay,
            Type::Enum(_) | Type::Optional(_) | Type::List(_) | Type::None | Type::Error => {
                return None
            }
        })
    }

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
        self.scalar().is_some_and(Scalar::is_stringlike)
    }

    /// `int` or `float`.
    pub fn is_numeric(&self) -> bool {
        self.scalar().is_some_and(Scalar::is_numeric)
    }

    /// Whether `<`, `<=`, `>`, `>=` apply (the error type too, so that one
    /// mistake is reported once).
    pub fn is_ordered(&self) -> bool {
        self.is_error() || self.scalar().is_some_and(Scalar::is_ordered)
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

impl From<Scalar> for Type {
    fn from(s: Scalar) -> Type {
        match s {
            Scalar::String => Type::String,
            Scalar::Int => Type::Int,
            Scalar::Float => Type::Float,
            Scalar::Bool => Type::Bool,
            Scalar::Time => Type::Time,
            Scalar::Duration => Type::Duration,
            Scalar::Email => Type::Email,
            Scalar::Phone => Type::Phone,
            Scalar::Url => Type::Url,
            Scalar::Timezone => Type::Timezone,
            Scalar::TimeOfDay => Type::TimeOfDay,
        }
    }
}
