//! The pest binding of `grammar/flow.pest`: the generated parser and its
//! rules, used by the parser and by the words of its errors.

/// The pest parser generated from `grammar/flow.pest`.
#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/flow.pest"]
pub(crate) struct FlowParser;

/// The grammar's rules, by their names in `flow.pest`.
pub(crate) use self::Rule as R;
