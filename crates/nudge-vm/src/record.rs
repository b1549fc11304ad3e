//! What the engine reports: the [`Record`]s of its log, why a trigger was
//! [`Suppression`]-ed, and the per-workflow counts of a summary
//! ([`WorkflowStats`]), with their serialisation (one JSON object per
//! record for `nudge simulate --format jsonl`). Imports nothing from the
//! other engine files.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::{SerializeMap as _, Serializer};
use serde::Serialize;

use crate::journey::ExitReason;
use crate::message::Rendered;

/// Why a trigger did not start a journey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Suppression {
    /// A journey of this workflow is already running.
    Active,
    /// `entry once` and it already ran.
    Once,
    /// `entry once per D` and the previous entry is too recent.
    OncePer,
    /// The audience condition is false.
    Audience,
    /// Required profile attributes are not all set yet.
    Incomplete,
}

impl Serialize for Suppression {
    /// `{"reason": "once_per", "detail": "the previous entry is too recent"}`
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("reason", self.code())?;
        map.serialize_entry("detail", self.describe())?;
        map.end()
    }
}

impl Suppression {
    /// A short name: `active`, `once`, `once_per`, `audience`, `incomplete`.
    pub fn code(&self) -> &'static str {
        match self {
            Suppression::Active => "active",
            Suppression::Once => "once",
            Suppression::OncePer => "once_per",
            Suppression::Audience => "audience",
            Suppression::Incomplete => "incomplete",
        }
    }

    /// The reason in words, as `nudge test` and `nudge simulate` show it.
    pub fn describe(&self) -> &'static str {
        match self {
            Suppression::Active => "already in it",
            Suppression::Once => "`entry once` and it already ran",
            Suppression::OncePer => "the previous entry is too recent",
            Suppression::Audience => "not in the audience",
            Suppression::Incomplete => "required attributes are missing",
        }
    }
}

/// One thing that happened, in order.
///
/// Serialised (for `nudge simulate --format jsonl`) as one object per
/// record: `kind` (`entered`, `suppressed`, `message`, `deferred`,
/// `capped`, `dropped`, `goal`, `arm`, `exited`, `completed`), `time`, `profile`,
/// `workflow`, then what the kind adds.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// A journey started.
    Entered {
        /// When.
        #[serde(rename = "time", serialize_with = "rfc3339")]
        at: DateTime<Utc>,
        /// Who.
        profile: Arc<str>,
        /// Which workflow.
        workflow: Arc<str>,
        /// Run number.
        run: u32,
    },
    /// A trigger matched but did not start a journey.
    Suppressed {
        /// When.
        #[serde(rename = "time", serialize_with = "rfc3339")]
        at: DateTime<Utc>,
        /// Who.
        profile: Arc<str>,
        /// Which workflow.
        workflow: Arc<str>,
        /// Why: `reason` (a short name) and `detail` (in words).
        #[serde(flatten)]
        reason: Suppression,
    },
    /// A message went out.
    #[serde(rename = "message")]
    Sent {
        /// When.
        #[serde(rename = "time", serialize_with = "rfc3339")]
        at: DateTime<Utc>,
        /// Who.
        profile: Arc<str>,
        /// Which workflow.
        workflow: Arc<str>,
        /// The deterministic id.
        #[serde(skip)]
        send_id: u64,
        /// The content: `channel`, `template` and `content`.
        #[serde(flatten)]
        message: Rendered,
    },
    /// A message was held until the end of quiet hours.
    Deferred {
        /// When.
        #[serde(rename = "time", serialize_with = "rfc3339")]
        at: DateTime<Utc>,
        /// Until when.
        #[serde(serialize_with = "rfc3339")]
        until: DateTime<Utc>,
        /// Who.
        profile: Arc<str>,
        /// Which workflow.
        workflow: Arc<str>,
        /// The deterministic id.
        send_id: u64,
    },
    /// A message was skipped by the frequency cap.
    Capped {
        /// When.
        #[serde(rename = "time", serialize_with = "rfc3339")]
        at: DateTime<Utc>,
        /// Who.
        profile: Arc<str>,
        /// Which workflow.
        workflow: Arc<str>,
        /// The deterministic id.
        send_id: u64,
    },
    /// A message could not be sent or a deferred one was cancelled.
    Dropped {
        /// When.
        #[serde(rename = "time", serialize_with = "rfc3339")]
        at: DateTime<Utc>,
        /// Who.
        profile: Arc<str>,
        /// Which workflow.
        workflow: Arc<str>,
        /// The deterministic id.
        send_id: u64,
        /// Why.
        #[serde(rename = "detail")]
        reason: String,
    },
    /// A goal was reached.
    #[serde(rename = "goal")]
    GoalReached {
        /// When.
        #[serde(rename = "time", serialize_with = "rfc3339")]
        at: DateTime<Utc>,
        /// Who.
        profile: Arc<str>,
        /// Which workflow.
        workflow: Arc<str>,
        /// The goal's name.
        goal: String,
    },
    /// A journey took an arm of a split: its messages and goals from here
    /// on count for that arm.
    Arm {
        /// When.
        #[serde(rename = "time", serialize_with = "rfc3339")]
        at: DateTime<Utc>,
        /// Who.
        profile: Arc<str>,
        /// Which workflow.
        workflow: Arc<str>,
        /// The split's name.
        split: String,
        /// The arm's name.
        arm: String,
    },
    /// A journey ended early.
    Exited {
        /// When.
        #[serde(rename = "time", serialize_with = "rfc3339")]
        at: DateTime<Utc>,
        /// Who.
        profile: Arc<str>,
        /// Which workflow.
        workflow: Arc<str>,
        /// Why: `reason` (a short name), `detail` (in words) and, for
        /// `exit on`, the `event`.
        #[serde(flatten, serialize_with = "exit_reason")]
        reason: ExitReason,
    },
    /// A journey ran to its end.
    Completed {
        /// When.
        #[serde(rename = "time", serialize_with = "rfc3339")]
        at: DateTime<Utc>,
        /// Who.
        profile: Arc<str>,
        /// Which workflow.
        workflow: Arc<str>,
    },
}

/// An instant as RFC 3339 in UTC, with fractions of a second only when
/// there are some.
fn rfc3339<S: Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// `{"reason": "exit_on", "detail": "on `order_completed`", "event":
/// "order_completed"}` (the journey's own serialisation of [`ExitReason`]
/// is for storing it).
fn exit_reason<S: Serializer>(
    reason: &ExitReason,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(None)?;
    map.serialize_entry("reason", reason.code())?;
    map.serialize_entry("detail", &reason.describe())?;
    if let ExitReason::ExitOn(event) = reason {
        map.serialize_entry("event", event)?;
    }
    map.end()
}

impl Record {
    /// When it happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Record::Entered { at, .. }
            | Record::Suppressed { at, .. }
            | Record::Sent { at, .. }
            | Record::Deferred { at, .. }
            | Record::Capped { at, .. }
            | Record::Dropped { at, .. }
            | Record::GoalReached { at, .. }
            | Record::Arm { at, .. }
            | Record::Exited { at, .. }
            | Record::Completed { at, .. } => *at,
        }
    }

    /// Whose record it is.
    pub fn profile(&self) -> &str {
        match self {
            Record::Entered { profile, .. }
            | Record::Suppressed { profile, .. }
            | Record::Sent { profile, .. }
            | Record::Deferred { profile, .. }
            | Record::Capped { profile, .. }
            | Record::Dropped { profile, .. }
            | Record::GoalReached { profile, .. }
            | Record::Arm { profile, .. }
            | Record::Exited { profile, .. }
            | Record::Completed { profile, .. } => profile,
        }
    }

    /// The workflow it belongs to.
    pub fn workflow(&self) -> &str {
        match self {
            Record::Entered { workflow, .. }
            | Record::Suppressed { workflow, .. }
            | Record::Sent { workflow, .. }
            | Record::Deferred { workflow, .. }
            | Record::Capped { workflow, .. }
            | Record::Dropped { workflow, .. }
            | Record::GoalReached { workflow, .. }
            | Record::Arm { workflow, .. }
            | Record::Exited { workflow, .. }
            | Record::Completed { workflow, .. } => workflow,
        }
    }
}

/// Per-workflow counts, as a simulation summary shows them.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkflowStats {
    /// Journeys started.
    pub entered: u64,
    /// Triggers that did not start one (any reason).
    pub suppressed: u64,
    /// Journeys that left early.
    pub exited: u64,
    /// Journeys that ran to the end.
    pub completed: u64,
    /// Goals reached.
    pub goals: u64,
    /// Messages sent, by channel name (serialised as `messages`).
    #[serde(rename = "messages")]
    pub sent: std::collections::BTreeMap<&'static str, u64>,
    /// Messages skipped by the cap.
    pub capped: u64,
    /// Messages deferred by quiet hours.
    pub deferred: u64,
    /// Messages dropped (no address, or cancelled while deferred).
    pub dropped: u64,
}

impl WorkflowStats {
    /// Counts one record into `stats`, by workflow name.
    pub fn tally(stats: &mut std::collections::BTreeMap<String, WorkflowStats>, r: &Record) {
        let (workflow, apply): (&str, fn(&mut WorkflowStats, &Record)) = match r {
            Record::Entered { workflow, .. } => (workflow, |s, _| s.entered += 1),
            Record::Suppressed { workflow, .. } => (workflow, |s, _| s.suppressed += 1),
            Record::Exited { workflow, .. } => (workflow, |s, _| s.exited += 1),
            Record::Completed { workflow, .. } => (workflow, |s, _| s.completed += 1),
            Record::GoalReached { workflow, .. } => (workflow, |s, _| s.goals += 1),
            Record::Arm { workflow, .. } => (workflow, |_, _| {}),
            Record::Capped { workflow, .. } => (workflow, |s, _| s.capped += 1),
            Record::Deferred { workflow, .. } => (workflow, |s, _| s.deferred += 1),
            Record::Dropped { workflow, .. } => (workflow, |s, _| s.dropped += 1),
            Record::Sent { workflow, .. } => (workflow, |s, r| {
                if let Record::Sent { message, .. } = r {
                    *s.sent.entry(message.channel.as_str()).or_default() += 1;
                }
            }),
        };
        match stats.get_mut(workflow) {
            Some(s) => apply(s, r),
            None => apply(stats.entry(workflow.to_owned()).or_default(), r),
        }
    }
}
