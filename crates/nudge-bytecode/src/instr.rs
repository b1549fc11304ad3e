//! The instruction set.
//!
//! A small stack machine. Expression code pushes and pops values;
//! workflow code runs statements with an empty stack, so a journey that stops
//! at a blocking instruction (`wait`, `wait for`, …) never has to save one.
//! Every operand is an index into a side table of the [`crate::Module`] (or a
//! program counter inside the same function), which keeps `Instr` at 8 bytes.

pub use nudge_core::CmpOp;
use serde::{Deserialize, Serialize};

/// Index into [`crate::Module::consts`].
pub type ConstId = u32;
/// Index into [`crate::Module::strings`].
pub type StringId = u32;
/// Index into [`crate::Module::durations`] (seconds).
pub type DurationId = u16;
/// Index into [`crate::Schemas::events`].
pub type EventId = u16;
/// Index of a field in a schema (profile or event).
pub type FieldId = u16;
/// Index into [`crate::Module::functions`].
pub type FunctionId = u16;
/// Index into [`crate::Module::segments`].
pub type SegmentId = u16;
/// Index into [`crate::Module::messages`].
pub type MessageId = u16;
/// Index into [`crate::Module::templates`].
pub type TemplateId = u16;
/// Index into [`crate::Module::queries`].
pub type QueryId = u16;
/// Index into [`crate::Module::wait_untils`].
pub type WaitUntilId = u16;
/// Index into [`crate::Module::wait_fors`].
pub type WaitForId = u16;
/// Index into [`crate::Module::splits`].
pub type SplitId = u16;
/// Index into [`crate::Module::escalations`].
pub type EscalationId = u16;
/// Index into [`crate::Module::workflows`].
pub type WorkflowId = u16;
/// A program counter: an index into the current function's code.
pub type Pc = u32;

/// One instruction.
///
/// Stack effects are written `[inputs] -> [outputs]`, top of stack last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Instr {
    // ---------------------------------------------------------------- values
    /// `[] -> [const]`
    Const(ConstId),
    /// `[] -> [none]`
    None,
    /// `[] -> [bool]`
    Bool(bool),
    /// `[] -> [int]`: a small integer without a constant-pool entry.
    Int(i32),
    /// `[] -> [profile.field]` (a field of the profile schema).
    LoadProfile(FieldId),
    /// `[] -> [profile.id]`
    LoadProfileId,
    /// `[] -> [event.field]`: the event in context (the trigger, or the event
    /// a `where` filter is looking at).
    LoadEvent(FieldId),
    /// `[] -> [event.name]`: a field of the event in context by name, for
    /// code shared by triggers of several events (where the field's index
    /// differs per event).
    LoadEventByName(StringId),
    /// `[] -> [X.field]`: the last `X` this journey received (`wait for X`).
    LoadReceived(EventId, FieldId),
    /// `[x] -> []`
    Pop,
    /// `[a, b] -> [bool]`
    Cmp(CmpOp),
    /// `[x] -> [not x]`
    Not,
    /// `[x1 … xn] -> [[x1 … xn]]`
    MakeList(u16),
    /// `[x1 … xn] -> [text]`: the values as message text, concatenated
    /// (interpolated strings).
    Concat(u16),
    /// `[x, list] -> [x in list]`
    In,
    /// `[x] -> [x is none]`
    IsNone,
    /// `[] -> [now - duration]`: `D ago`.
    Ago(DurationId),

    // ---------------------------------------------------------------- control
    /// Jump unconditionally.
    Jump(Pc),
    /// `[bool] -> []`, jump when false.
    JumpIfFalse(Pc),
    /// Short-circuit `and`: when the top is false jump keeping it, else pop it.
    JumpIfFalseKeep(Pc),
    /// Short-circuit `or`: when the top is true jump keeping it, else pop it.
    JumpIfTrueKeep(Pc),
    /// Short-circuit `??`: when the top is not none jump keeping it, else pop it.
    JumpIfSomeKeep(Pc),
    /// End of a function. An expression function returns the single value
    /// left on the stack; a workflow body ends its journey (completed).
    Return,

    // ---------------------------------------------------------------- behaviour
    /// `[] -> [bool]`: a `did …` history query.
    Did(QueryId),
    /// `[] -> [bool]`: no activity for the duration.
    InactiveFor(DurationId),
    /// `[] -> [bool]`: run a segment's predicate.
    InSegment(SegmentId),

    // ---------------------------------------------------------------- statements
    /// Send a message (channel, template, overrides).
    Send(MessageId),
    /// Block until now + duration.
    Wait(DurationId),
    /// Block until a time of day.
    WaitUntil(WaitUntilId),
    /// Block until an event or a deadline; resumes at the descriptor's
    /// `then` or `else` pc.
    WaitFor(WaitForId),
    /// Jump to the arm chosen by hash for this profile.
    Split(SplitId),
    /// Start an escalation: remember the start instant and listen for the
    /// until-event, which jumps to the descriptor's `end` pc.
    EscalateBegin(EscalationId),
    /// Block until the escalation's start + duration (step times are fixed
    /// when the block starts).
    WaitFromEscalation(DurationId),
    /// Leave an escalation normally (all steps done).
    EscalateEnd,
    /// Leave the workflow (`exit`).
    Exit,
    /// Pops a number or a time and pushes it as text, as the format (a
    /// string) says: `.2`, `,.2` for numbers, a strftime pattern for times
    /// (in the profile's local zone). Last, so that older modules decode.
    Format(StringId),
    /// Pushes a field of the profile's latest event of the query's event
    /// (none when it has none); the query keeps that event in the history.
    LoadLast(QueryId, FieldId),
    /// `[a, b] -> [a + b]`: a time or a duration plus a duration (none when
    /// either is none).
    Add,
    /// `[a, b] -> [a - b]`: a time or a duration minus a duration, or the
    /// duration between two times (none when either is none).
    Sub,
    /// `[time] -> []`, a statement: block until the instant popped, or,
    /// with a descriptor, until its time of day (in its zone) on the
    /// instant's local day; continue at once when that is not after now.
    WaitUntilTime(Option<WaitUntilId>),
}

impl Instr {
    /// The mnemonic used by the disassembler.
    pub fn mnemonic(&self) -> &'static str {
        match self {
            Instr::Const(_) => "const",
            Instr::None => "none",
            Instr::Bool(_) => "bool",
            Instr::Int(_) => "int",
            Instr::LoadProfile(_) => "load.profile",
            Instr::LoadProfileId => "load.profile_id",
            Instr::LoadEvent(_) => "load.event",
            Instr::LoadEventByName(_) => "load.event",
            Instr::LoadReceived(_, _) => "load.received",
            Instr::Concat(_) => "concat",
            Instr::Pop => "pop",
            Instr::Cmp(_) => "cmp",
            Instr::Not => "not",
            Instr::MakeList(_) => "list",
            Instr::In => "in",
            Instr::IsNone => "is_none",
            Instr::Ago(_) => "ago",
            Instr::Jump(_) => "jump",
            Instr::JumpIfFalse(_) => "jump.false",
            Instr::JumpIfFalseKeep(_) => "jump.false.keep",
            Instr::JumpIfTrueKeep(_) => "jump.true.keep",
            Instr::JumpIfSomeKeep(_) => "jump.some.keep",
            Instr::Return => "return",
            Instr::Did(_) => "did",
            Instr::InactiveFor(_) => "inactive_for",
            Instr::InSegment(_) => "in_segment",
            Instr::Send(_) => "send",
            Instr::Wait(_) => "wait",
            Instr::WaitUntil(_) => "wait.until",
            Instr::WaitFor(_) => "wait.for",
            Instr::Split(_) => "split",
            Instr::EscalateBegin(_) => "escalate.begin",
            Instr::WaitFromEscalation(_) => "escalate.wait",
            Instr::EscalateEnd => "escalate.end",
            Instr::Exit => "exit",
            Instr::Format(_) => "format",
            Instr::LoadLast(_, _) => "load.last",
            Instr::Add => "add",
            Instr::Sub => "sub",
            Instr::WaitUntilTime(_) => "wait.until.time",
        }
    }

    /// The jump target of a jump instruction.
    pub fn jump_target(&self) -> Option<Pc> {
        match *self {
            Instr::Jump(t)
            | Instr::JumpIfFalse(t)
            | Instr::JumpIfFalseKeep(t)
            | Instr::JumpIfTrueKeep(t)
            | Instr::JumpIfSomeKeep(t) => Some(t),
            _ => None,
        }
    }

    /// Whether the instruction is only legal in a workflow body (it blocks
    /// or has an effect), not in an expression function.
    pub fn is_statement(&self) -> bool {
        matches!(
            self,
            Instr::Send(_)
                | Instr::Wait(_)
                | Instr::WaitUntil(_)
                | Instr::WaitUntilTime(_)
                | Instr::WaitFor(_)
                | Instr::Split(_)
                | Instr::EscalateBegin(_)
                | Instr::WaitFromEscalation(_)
                | Instr::EscalateEnd
                | Instr::Exit
        )
    }

    /// `(pops, pushes)` on the value stack.
    pub fn stack_effect(&self) -> (u32, u32) {
        match *self {
            Instr::Const(_)
            | Instr::None
            | Instr::Bool(_)
            | Instr::Int(_)
            | Instr::LoadProfile(_)
            | Instr::LoadProfileId
            | Instr::LoadEvent(_)
            | Instr::LoadEventByName(_)
            | Instr::LoadReceived(_, _)
            | Instr::LoadLast(_, _)
            | Instr::Ago(_)
            | Instr::Did(_)
            | Instr::InactiveFor(_)
            | Instr::InSegment(_) => (0, 1),
            Instr::Pop | Instr::JumpIfFalse(_) | Instr::WaitUntilTime(_) => (1, 0),
            Instr::Cmp(_) | Instr::In | Instr::Add | Instr::Sub => (2, 1),
            Instr::Not | Instr::IsNone | Instr::Format(_) => (1, 1),
            Instr::MakeList(n) | Instr::Concat(n) => (u32::from(n), 1),
            // The keep-jumps are handled specially by the verifier (they
            // leave 1 on the taken edge, 0 on the fall-through edge).
            Instr::JumpIfFalseKeep(_) | Instr::JumpIfTrueKeep(_) | Instr::JumpIfSomeKeep(_) => {
                (1, 0)
            }
            Instr::Jump(_)
            | Instr::Return
            | Instr::Send(_)
            | Instr::Wait(_)
            | Instr::WaitUntil(_)
            | Instr::WaitFor(_)
            | Instr::Split(_)
            | Instr::EscalateBegin(_)
            | Instr::WaitFromEscalation(_)
            | Instr::EscalateEnd
            | Instr::Exit => (0, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instr_is_eight_bytes() {
        assert_eq!(std::mem::size_of::<Instr>(), 8);
    }

    #[test]
    fn cmp_ops_hold() {
        use std::cmp::Ordering::*;
        assert!(CmpOp::Ge.holds(Equal));
        assert!(CmpOp::Ge.holds(Greater));
        assert!(!CmpOp::Ge.holds(Less));
        assert!(CmpOp::Ne.holds(Less));
        assert!(!CmpOp::Lt.holds(Equal));
    }
}
