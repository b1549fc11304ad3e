//! A journey's state, the inputs that move it and the effects it asks for.

use chrono::{DateTime, Utc};
use nudge_bytecode::{EscalationId, EventId, MessageId, Pc, SplitId, WaitForId, WorkflowId};

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::value::Event;

/// Where a journey stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Blocked on a timer, an event, or between steps.
    Active,
    /// Ran to the end.
    Completed,
    /// Left early.
    Exited(ExitReason),
}

/// Why a journey ended early.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitReason {
    /// `exit on EVENT` matched.
    ExitOn(String),
    /// An `exit` statement.
    Statement,
    /// `entry restart`: a new trigger replaced it.
    Restarted,
    /// An operator cancelled it.
    Cancelled,
    /// A deploy removed its workflow.
    Removed,
}

impl ExitReason {
    /// A short name: `exit_on`, `exit`, `restarted`, `cancelled`,
    /// `removed`.
    pub fn code(&self) -> &'static str {
        match self {
            ExitReason::ExitOn(_) => "exit_on",
            ExitReason::Statement => "exit",
            ExitReason::Restarted => "restarted",
            ExitReason::Cancelled => "cancelled",
            ExitReason::Removed => "removed",
        }
    }

    /// The reason in words, as `nudge test` and `nudge simulate` show it.
    pub fn describe(&self) -> String {
        match self {
            ExitReason::ExitOn(e) => format!("on `{e}`"),
            ExitReason::Statement => "at an `exit`".to_owned(),
            ExitReason::Restarted => "restarted by a new trigger".to_owned(),
            ExitReason::Cancelled => "cancelled".to_owned(),
            ExitReason::Removed => "its workflow was removed by a deploy".to_owned(),
        }
    }
}

/// What a journey is blocked on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Wait {
    /// A timer (`wait`, `wait until`, an escalation step).
    Timer {
        /// When it fires.
        #[serde(with = "crate::stored_time")]
        at: DateTime<Utc>,
    },
    /// `wait for`: the event, or the deadline timer.
    Event {
        /// The descriptor.
        wait_for: WaitForId,
        /// When the `else` branch runs.
        #[serde(with = "crate::stored_time")]
        deadline: DateTime<Utc>,
    },
}

/// An escalation in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveEscalation {
    /// The descriptor.
    pub escalation: EscalationId,
    /// When the block started (step times count from here).
    #[serde(with = "crate::stored_time")]
    pub started: DateTime<Utc>,
}

/// One profile's run through one workflow version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Journey {
    /// The workflow in its module.
    pub workflow: WorkflowId,
    /// The content hash of the module it runs (kept until it ends).
    pub module: u64,
    /// The profile.
    pub profile: Arc<str>,
    /// How many times this profile entered this workflow before (0 first).
    pub run: u32,
    /// The next instruction (or the blocking one while waiting).
    pub pc: Pc,
    /// Where it stands.
    pub status: Status,
    /// When it started.
    #[serde(with = "crate::stored_time")]
    pub entered_at: DateTime<Utc>,
    /// The history position of the trigger (`since entry` excludes it).
    pub entry_seq: u64,
    /// The trigger event (none for `inactive for`), shared with history.
    pub trigger: Option<Arc<Event>>,
    /// The trigger's index in the module's events.
    pub trigger_event: Option<EventId>,
    /// Events received by `wait for`, latest per event.
    pub received: Vec<(EventId, Arc<Event>)>,
    /// What it is blocked on.
    pub wait: Option<Wait>,
    /// The escalation it is in.
    pub escalation: Option<ActiveEscalation>,
    /// Timer generation: a timer whose seq differs is stale.
    pub seq: u32,
    /// How often each send pc ran (part of the deterministic send id).
    pub visits: Vec<(Pc, u32)>,
    /// Goals reached (indexes into the workflow's goals).
    pub goals: Vec<u16>,
    /// Split arms taken (split, arm index).
    pub arms: Vec<(SplitId, u16)>,
}

impl Journey {
    /// Whether it is still running.
    pub fn is_active(&self) -> bool {
        self.status == Status::Active
    }
}

/// What moves a journey.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// An event of the journey's profile (after it was added to history).
    Event(&'a Event),
    /// A timer the journey scheduled.
    Timer {
        /// The seq it was scheduled with.
        seq: u32,
    },
}

/// What a step asks the host to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send a message (the host applies consent, cap and quiet hours).
    Send {
        /// The message descriptor.
        message: MessageId,
        /// Deterministic id: hash(profile, workflow, run, pc, visit).
        send_id: u64,
        /// Sent from an escalation step (cancelled with it while deferred).
        escalation: bool,
    },
    /// Wake the journey at `at` with `Input::Timer { seq }`; replaces any
    /// earlier timer of the journey.
    ScheduleTimer {
        /// When.
        at: DateTime<Utc>,
        /// The seq to pass back.
        seq: u32,
    },
    /// The journey listens for this event until the deadline.
    WaitForEvent {
        /// The event.
        event: EventId,
        /// The deadline.
        deadline: DateTime<Utc>,
    },
    /// An escalation stopped on its until-event: deferred steps are void.
    EscalationStopped,
    /// The journey took an arm of a split.
    Arm {
        /// The split.
        split: SplitId,
        /// The arm's index.
        arm: u16,
    },
    /// A goal was reached.
    GoalReached {
        /// Index into the workflow's goals.
        goal: u16,
    },
    /// The journey left early: cancel its timers and unsent messages.
    Exit {
        /// Why.
        reason: ExitReason,
    },
    /// The journey ran to its end.
    Completed,
}
