//! The deterministic Nudge interpreter and the event-handling core.
//!
//! Design notes
//! - [`Vm::start`] and [`Vm::step`] are the pure step function: (journey,
//!   input = event | timer, now, read access to the profile and its history
//!   via [`Facts`]) → (new journey, [`Effect`]s). No IO, no clock, no global
//!   state; the same inputs give the same outputs, so the simulator and
//!   `nudge test` agree, and a durable runtime on another store would too.
//! - A journey blocks only at statements, where the stack is empty, so its
//!   state is a pc plus a few fields ([`Journey`]). Timers carry a `seq`; a
//!   timer whose seq no longer matches is stale and does nothing, which
//!   makes firing idempotent and cancelling free.
//! - Sends get a deterministic id: hash(profile, workflow, run, pc, visit).
//! - Time rules (DST gaps, repeated hours, `on day N`, quiet hours) are in
//!   [`time`]; split buckets in `split.rs`. Both use the stable hash of
//!   `nudge_bytecode::hash`, never std's randomised one.
//! - Per event, each running journey sees it in one step (its `exit on`
//!   first, then goals, then `escalate until` and `wait for`); triggers come
//!   after every journey has seen it, so an event that ends a journey may
//!   start the next one.
//! - `inactive for` keeps one pending quiet check per profile and workflow;
//!   a check that finds activity re-arms from the last activity, so timers
//!   grow with profiles, not with events.
//! - [`Engine`] is the event-handling core over a [`Store`] trait: exits,
//!   waiting journeys, triggers, entry rules, goals, the frequency cap and
//!   quiet hours, module versions by content hash, and a virtual-clock
//!   driver ([`Engine::fire_next`], [`Engine::advance_to`]). [`MemoryStore`]
//!   serves the simulator and tests; a durable store (not built yet) would
//!   implement the same trait.
//! - Files import one way (`engine` → `vm`, `store`, `render` → `message`,
//!   `value`, `journey`), with one pair on purpose: `vm.rs` and
//!   `render.rs` use each other, because sending renders a message and
//!   rendering evaluates the message's interpolations on the `Vm`.

mod engine;
mod facts;
mod journey;
mod message;
mod record;
mod render;
mod split;
mod store;
pub mod stored_time;
pub mod time;
mod value;
mod vm;

pub use engine::{Engine, EngineError, Record, Suppression, WorkflowStats, NEVER_FREE};
pub use facts::Facts;
pub use journey::{ActiveEscalation, Effect, ExitReason, Input, Journey, Status, Wait};
pub use message::{Fields, Rendered};
pub use split::{choose_arm, split_bucket};
pub use store::{
    DateArm, EntryLog, MemoryStore, OutboxItem, ProfileRecord, ProfileState, QuietState, Store,
    StoreError, Timer, WorkflowState,
};
pub use value::{Event, Prop, Props, Value};
pub use vm::{send_id, Ctx, ForcedArms, Vm, VmError};
