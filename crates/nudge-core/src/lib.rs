//! The vocabulary of the Nudge language, written once, below every stage.
//!
//! The parser, the checker, the compiler, the runtime, ingestion and the
//! language server all name channels, priorities, operators, durations,
//! times of day, weekdays, split percentages and built-in types; each has
//! its one definition here, with its spelling in the language and the
//! functions that read and write it.
//!
//! ```
//! use nudge_core::{duration, Channel};
//!
//! assert_eq!(duration::parse("1d12h"), Ok(129_600));
//! assert_eq!(duration::format(90), "1m30s");
//! assert_eq!(Channel::from_keyword("in_app"), Some(Channel::InApp));
//! ```

mod channel;
pub mod duration;
pub mod format_spec;
mod op;
pub mod percent;
pub mod time_of_day;
mod types;
pub mod weekday;

pub use channel::{Channel, Priority};
pub use op::{BinaryOp, CmpOp};
pub use types::Scalar;
