//! The Nudge bytecode: instruction set, module format, assembler, verifier
//! and disassembler.
//!
//! Design notes
//! - A stack machine with a small `Copy` [`Instr`] (8 bytes, locked by a
//!   test). Operands are indexes into side tables of the [`Module`]
//!   (constants, strings, durations, schemas, messages, history queries,
//!   `wait until`/`wait for`/split/escalation descriptors), so the code stays
//!   dense and big things are stored once.
//! - All code lives in [`Module::functions`]. A workflow body is a
//!   [`FunctionKind::Body`]; every condition (trigger and exit filters,
//!   audience, goal filters, `did … where`, escalation guards, segments,
//!   interpolations) is a [`FunctionKind::Expr`] that returns one value. The
//!   VM evaluates an expression function with the right `event` in context,
//!   so filters need no special instructions.
//! - Statements run on an empty stack (the verifier enforces it), so a
//!   journey blocked at `wait`, `wait for` or an escalation step is fully
//!   described by its pc and a few fields: nothing else to persist.
//! - Control constructs with several exits (`wait for`, `split`, `escalate`)
//!   keep their target pcs in their descriptors, which the verifier checks
//!   like jump targets.
//! - A module is `b"NUDG"`, a format version, the compiler version, the
//!   source hash, then a checksummed postcard body ([`Module::to_bytes`]). Newer
//!   formats, truncation and corruption each give their own [`LoadError`].
//! - The compiler (typed program → module) is `nudge-compile`; this crate
//!   links neither the parser nor the checker, so the runtime does not.
//! - [`hash`] is the one stable hash used for content hashes, send ids,
//!   split buckets and quiet-hour spreads.

mod builder;
mod context;
mod disasm;
mod encode;
mod hash;
mod instr;
mod module;
mod verify;

pub use builder::{BuildError, FunctionBuilder, Label, ModuleBuilder};
pub use disasm::{disassemble, ListingSource};
pub use encode::{LoadError, SaveError, FORMAT_VERSION, MAGIC};
pub use hash::{stable_hash, StableHasher};
pub use instr::*;
pub use module::*;
pub use verify::{verify, Problem, VerifyError};
