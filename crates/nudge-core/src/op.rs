//! Operators: the binary operators of expressions and the comparisons the
//! instruction set carries.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in` (membership in a list)
    In,
    /// `??` (default for an optional value)
    Coalesce,
    /// `+` (a time or a duration plus a duration)
    Add,
    /// `-` (a time or a duration minus a duration, or between two times)
    Sub,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::In => "in",
            BinaryOp::Coalesce => "??",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            other => other.cmp_op().map_or("", CmpOp::as_str),
        }
    }

    /// Comparison operators (and `in`) do not chain.
    pub fn is_comparison(self) -> bool {
        self == BinaryOp::In || self.cmp_op().is_some()
    }

    /// A comparison operator from its text.
    pub fn comparison(text: &str) -> Option<BinaryOp> {
        CmpOp::ALL
            .into_iter()
            .find(|op| op.as_str() == text)
            .map(BinaryOp::from)
    }

    /// The comparison this operator is, if it is one of `==`, `!=`, `<`,
    /// `<=`, `>`, `>=`.
    pub fn cmp_op(self) -> Option<CmpOp> {
        Some(match self {
            BinaryOp::Eq => CmpOp::Eq,
            BinaryOp::Ne => CmpOp::Ne,
            BinaryOp::Lt => CmpOp::Lt,
            BinaryOp::Le => CmpOp::Le,
            BinaryOp::Gt => CmpOp::Gt,
            BinaryOp::Ge => CmpOp::Ge,
            BinaryOp::Or
            | BinaryOp::And
            | BinaryOp::In
            | BinaryOp::Coalesce
            | BinaryOp::Add
            | BinaryOp::Sub => return None,
        })
    }
}

/// Comparison operators (also used by `did … times OP N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// Every comparison.
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ];

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// Whether `ordering` (left compared with right) satisfies the operator.
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            CmpOp::Eq => ordering == Ordering::Equal,
            CmpOp::Ne => ordering != Ordering::Equal,
            CmpOp::Lt => ordering == Ordering::Less,
            CmpOp::Le => ordering != Ordering::Greater,
            CmpOp::Gt => ordering == Ordering::Greater,
            CmpOp::Ge => ordering != Ordering::Less,
        }
    }
}

impl From<CmpOp> for BinaryOp {
    fn from(op: CmpOp) -> BinaryOp {
        match op {
            CmpOp::Eq => BinaryOp::Eq,
            CmpOp::Ne => BinaryOp::Ne,
            CmpOp::Lt => BinaryOp::Lt,
            CmpOp::Le => BinaryOp::Le,
            CmpOp::Gt => BinaryOp::Gt,
            CmpOp::Ge => BinaryOp::Ge,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_round_trip() {
        for op in CmpOp::ALL {
            let binary = BinaryOp::comparison(op.as_str());
            assert_eq!(binary.and_then(BinaryOp::cmp_op), Some(op));
            assert_eq!(binary.map(BinaryOp::as_str), Some(op.as_str()));
        }
        assert_eq!(BinaryOp::comparison("??"), None);
        assert!(BinaryOp::In.is_comparison() && !BinaryOp::And.is_comparison());
    }
}
