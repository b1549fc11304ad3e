//! The event-handling core: journeys, entry rules, policies and timers over
//! a [`Store`], on whatever clock the caller drives.
//!
//! Per event: the event joins the profile's history; every journey of the
//! profile sees it (`exit on` first, then goals, then `escalate until` and
//! `wait for`, see [`Vm::step`]); then triggers may start journeys (entry
//! rules, audience at entry). Timers due at or before an event's time fire
//! before it, in time order. Sends go through consent of address, quiet
//! hours (deferral) and the frequency cap (at send time); `transactional`
//! workflows bypass both policies.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::ser::{SerializeMap as _, Serializer};
use serde::Serialize;
use std::collections::HashMap;

use nudge_bytecode::{
    EntryRule, EventMatch, Module, Priority, Trigger, Type, Workflow, WorkflowId,
};

use crate::facts::Facts;
use crate::journey::{Effect, ExitReason, Input, Journey, Status};
use crate::message::Rendered;
use crate::store::{EntryLog, OutboxItem, ProfileRecord, ProfileState, Store, StoreError, Timer};
use crate::time::{quiet_release, Quiet, QuietWindow};
use crate::value::{profile_default, Event, Props, Value};
use crate::vm::{minus, plus, Ctx, Vm, VmError};

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
/// `capped`, `dropped`, `goal`, `exited`, `completed`), `time`, `profile`,
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
            | Record::Exited { workflow, .. }
            | Record::Completed { workflow, .. } => workflow,
        }
    }
}

/// Why the engine could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The VM failed (an unverified or corrupt module).
    #[error(transparent)]
    Vm(#[from] VmError),
    /// A journey's module version is not in the store.
    #[error("module version {0:016x} of a running journey is missing")]
    MissingModule(u64),
    /// The store could not read or write.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// One of the engine's invariants broke: a record earlier than the
    /// one before it, a message sent twice, a journey entered twice at one
    /// instant by one trigger, a timer set before the clock, or timers set
    /// for the instant being handled without end. Never tolerated: it is a
    /// bug.
    #[error(
        "engine invariant broken for profile `{profile}` in workflow `{workflow}` at {at}: {what}"
    )]
    Invariant {
        /// The profile.
        profile: String,
        /// The workflow.
        workflow: String,
        /// When.
        at: DateTime<Utc>,
        /// What broke.
        what: String,
    },
    /// Time went backwards.
    #[error("event at {at} is before the engine's clock {now}")]
    Backwards {
        /// The event's time.
        at: DateTime<Utc>,
        /// The engine's time.
        now: DateTime<Utc>,
    },
}

type Result<T> = std::result::Result<T, EngineError>;

/// A profile as the VM sees it.
struct ProfileFacts<'a> {
    module: &'a Module,
    state: &'a ProfileState,
}

impl Facts for ProfileFacts<'_> {
    fn profile_id(&self) -> &str {
        &self.state.record.id
    }

    fn shared_profile_id(&self) -> Arc<str> {
        self.state.record.id.clone()
    }

    fn attribute(&self, name: &str) -> Value {
        match self.state.record.attributes.get(name) {
            Some(v) => v.clone(),
            None => profile_default(self.module, name),
        }
    }

    fn attributes(&self) -> Option<Props> {
        Some(self.state.record.attributes.clone())
    }

    fn history(&self, name: &str, visit: &mut dyn FnMut(&Event) -> bool) {
        self.state.history(name, visit);
    }

    fn last_activity(&self) -> DateTime<Utc> {
        let p = &self.state.record;
        p.last_activity.unwrap_or(p.created_at)
    }
}

/// The `inactive for` workflows of a module.
fn quiet_workflow_names(module: &Module) -> Vec<Arc<str>> {
    module
        .workflows
        .iter()
        .filter(|w| w.triggers.iter().any(|t| matches!(t, Trigger::Inactive(_))))
        .map(|w| Arc::from(w.name.as_str()))
        .collect()
}

/// Why a message held by quiet hours that leave no time free is dropped.
pub const NEVER_FREE: &str = "quiet hours leave no time to send it within 48 hours";

/// A message on its way out of a step.
struct Outgoing {
    send_id: u64,
    escalation: bool,
    /// The profile field with the address, if the channel needs one.
    address: Option<String>,
    message: Rendered,
}

/// The workflows an event may start, with the trigger that names it.
type Triggers = Arc<[(WorkflowId, EventMatch)]>;

/// The event-handling core.
pub struct Engine<S: Store> {
    store: S,
    module: Arc<Module>,
    module_hash: u64,
    now: DateTime<Utc>,
    default_zone: Tz,
    /// Everything that happened, in order. A caller that writes records
    /// out as they come (counting them with [`WorkflowStats::tally`]) reads
    /// and clears it now and then, which keeps memory flat on a long trace
    /// (clearing keeps the allocation for the next records).
    pub log: Vec<Record>,
    /// VM steps run (journey starts and steps), for throughput figures.
    pub steps: u64,
    /// Current module: event name → (workflow, trigger) pairs it may start.
    triggers_by_event: HashMap<Arc<str>, Triggers, crate::store::FxBuild>,
    /// Current module: declared event, property and profile field names,
    /// shared by every event and profile that uses them (one allocation
    /// per name, not one per event).
    names: std::collections::HashSet<Arc<str>, crate::store::FxBuild>,
    /// Current module: its template files, compiled.
    templates: Arc<crate::render::TemplateCache>,
    /// Current module: `inactive for` workflows and their shortest spell.
    quiet_workflows: Vec<(Arc<str>, i64)>,
    /// Current module: the profile fields a profile must have set to enter
    /// a workflow (neither optional nor defaulted).
    required: Vec<Arc<str>>,
    /// Every `inactive for` workflow name of every version deployed.
    quiet_names_seen: Vec<Arc<str>>,
    /// Whether every name in `quiet_names_seen` is one of
    /// `quiet_workflows`. Then a profile's quiet checks (all names of
    /// quiet workflows, none twice) are all armed exactly when there are as
    /// many as there are quiet workflows, which a store can tell without
    /// reading the profile record. This holds for profiles this engine
    /// has handled since it started; a store that keeps profiles across
    /// restarts must make the versions their checks name known here
    /// before relying on it.
    quiet_names_current: bool,
    /// The time of the last record checked: records never go back in time.
    last_record_at: Option<DateTime<Utc>>,
    /// The ids of every message sent: none goes out twice. (Eight bytes
    /// and a table slot per message sent in this engine's life.)
    sent_ids: std::collections::HashSet<u64, crate::store::FxBuild>,
    /// The instant being handled, and how many timers of each profile were
    /// set for that very instant: a rule that re-arms a timer at the
    /// instant it fires would loop forever (see [`Engine::schedule`]).
    burst: (Option<DateTime<Utc>>, HashMap<String, u32>),
    /// An invariant found broken where no error can be returned; the
    /// operation stops with it.
    broken: Option<EngineError>,
}

/// How many timers of one profile may be set for the instant being handled
/// before the engine calls it a loop (a profile has a handful per workflow).
const MAX_BURST: u32 = 10_000;

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

impl<S: Store> Engine<S> {
    /// An engine running `module` (the current version) on `store`, with
    /// its clock at `now`.
    pub fn new(store: S, module: Module, now: DateTime<Utc>) -> Self {
        let mut engine = Engine {
            store,
            module: Arc::new(Module::default()),
            module_hash: 0,
            now,
            default_zone: Tz::UTC,
            log: Vec::new(),
            steps: 0,
            triggers_by_event: HashMap::default(),
            names: Default::default(),
            templates: Arc::new(crate::render::TemplateCache::default()),
            quiet_workflows: Vec::new(),
            required: Vec::new(),
            quiet_names_seen: Vec::new(),
            quiet_names_current: true,
            last_record_at: None,
            sent_ids: Default::default(),
            burst: Default::default(),
            broken: None,
        };
        // Quiet checks a profile may hold name the `inactive for`
        // workflows of every version the store has seen, not only this one.
        for hash in engine.store.module_hashes() {
            if let Some(m) = engine.store.module(hash) {
                for name in quiet_workflow_names(&m) {
                    if !engine.quiet_names_seen.contains(&name) {
                        engine.quiet_names_seen.push(name);
                    }
                }
            }
        }
        engine.deploy(module);
        engine
    }

    /// Makes `module` the current version; running journeys keep theirs.
    /// Returns its content hash.
    pub fn deploy(&mut self, module: Module) -> u64 {
        let hash = match module.to_bytes() {
            Ok(bytes) => Module::content_hash(&bytes),
            Err(_) => nudge_bytecode::stable_hash(format!("{module:?}").as_bytes()),
        };
        let mut by_event: HashMap<Arc<str>, Vec<(WorkflowId, EventMatch)>> = HashMap::new();
        let mut quiet_workflows = Vec::new();
        for (wi, w) in module.workflows.iter().enumerate() {
            let wi = WorkflowId::try_from(wi).unwrap_or(WorkflowId::MAX);
            let mut shortest: Option<i64> = None;
            for t in &w.triggers {
                match t {
                    Trigger::Event(m) => by_event
                        .entry(Arc::from(module.event_name(m.event)))
                        .or_default()
                        .push((wi, *m)),
                    Trigger::Inactive(d) => {
                        let d = module.duration(*d);
                        shortest = Some(shortest.map_or(d, |s| s.min(d)));
                    }
                }
            }
            if let Some(d) = shortest {
                quiet_workflows.push((Arc::from(w.name.as_str()), d));
            }
        }
        let triggers_by_event = by_event
            .into_iter()
            .map(|(name, list)| (name, Arc::from(list)))
            .collect();
        self.templates = Arc::new(crate::render::TemplateCache::new(&module));
        let module = Arc::new(module);
        self.store.put_module(hash, module.clone());
        self.module = module;
        self.module_hash = hash;
        self.triggers_by_event = triggers_by_event;
        let schemas = &self.module.schemas;
        self.names = schemas
            .events
            .iter()
            .flat_map(|e| std::iter::once(&e.name).chain(e.fields.iter().map(|f| &f.name)))
            .chain(schemas.profile.iter().map(|f| &f.name))
            .chain(self.module.workflows.iter().map(|w| &w.name))
            .map(|n| Arc::from(n.as_str()))
            .collect();
        for (name, _) in &quiet_workflows {
            if !self.quiet_names_seen.contains(name) {
                self.quiet_names_seen.push(name.clone());
            }
        }
        self.quiet_names_current = self
            .quiet_names_seen
            .iter()
            .all(|n| quiet_workflows.iter().any(|(q, _)| q == n));
        self.quiet_workflows = quiet_workflows;
        self.required = self
            .module
            .schemas
            .profile
            .iter()
            .filter(|f| !matches!(f.ty, Type::Optional(_)) && f.default.is_none())
            .map(|f| Arc::from(f.name.as_str()))
            .collect();
        hash
    }

    /// The current module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The content hash of the current module.
    pub fn module_hash(&self) -> u64 {
        self.module_hash
    }

    /// Makes every step so far durable (group commit: a caller handles
    /// many events and timers, then commits once, and only then
    /// acknowledges them).
    pub fn commit(&mut self) -> Result<()> {
        self.store.commit().map_err(EngineError::Store)
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The engine's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Sets the zone `local` means for profiles without a valid `timezone`.
    pub fn set_default_zone(&mut self, zone: Tz) {
        self.default_zone = zone;
    }

    /// The engine's shared copy of a declared name, or a new one.
    fn name(&self, name: &str) -> Arc<str> {
        self.names
            .get(name)
            .cloned()
            .unwrap_or_else(|| Arc::from(name))
    }

    fn vm<'m>(&self, module: &'m Module) -> Vm<'m> {
        Vm {
            default_zone: self.default_zone,
            ..Vm::new(module)
        }
    }

    /// Takes a profile out of the store (creating it when new); the
    /// caller puts it back with `put_profile`. Nothing in between reads the
    /// profile from the store: the steps get it by reference.
    /// A profile's state, out of the store (a new profile's, with its
    /// quiet checks armed, when it was never seen).
    fn load(&mut self, id: &str, now: DateTime<Utc>) -> Result<ProfileState> {
        Ok(match self.store.load(id)? {
            Some(state) => state,
            None => {
                let mut state = ProfileState::new(Arc::from(id), now);
                self.arm_quiet_checks(&mut state.record, now);
                state
            }
        })
    }

    /// Ends a step: the store takes what it saved and scheduled as one
    /// unit.
    fn end_step<T>(&mut self, result: Result<T>) -> Result<T> {
        let ended = self.store.end_step().map_err(EngineError::Store);
        let out = result?;
        ended.map(|()| out)
    }

    /// Schedules a quiet check for every `inactive for` workflow that has
    /// none pending for this profile. A check that finds activity re-arms
    /// itself from the last activity, so there is one timer per profile and
    /// workflow, not one per event.
    fn arm_quiet_checks(&mut self, p: &mut ProfileRecord, since: DateTime<Utc>) {
        // All armed, told by the count alone (see `quiet_names_current`):
        // the usual case on every event, without reading the list.
        if self.quiet_names_current && p.quiet_checks.len() == self.quiet_workflows.len() {
            return;
        }
        for i in 0..self.quiet_workflows.len() {
            let (name, d) = self.quiet_workflows[i].clone();
            if p.quiet_checks.contains(&name) {
                continue;
            }
            self.schedule(
                plus(since, d),
                Timer::Inactivity {
                    profile: p.id.clone(),
                    workflow: name.clone(),
                    since,
                },
            );
            p.quiet_checks.push(name.clone());
        }
    }

    /// Sets declared attributes of a profile (creating it); `Value::None`
    /// clears one. Not activity, triggers nothing.
    pub fn identify(&mut self, id: &str, traits: Props, now: DateTime<Utc>) -> Result<()> {
        self.checked(|e| e.identify_unchecked(id, traits, now))
    }

    fn identify_unchecked(&mut self, id: &str, traits: Props, now: DateTime<Utc>) -> Result<()> {
        self.advance(now)?;
        let mut state = self.load(id, now)?;
        let p = &mut state.record;
        let mut attributes = p.attributes.entries().to_vec();
        for (k, v) in traits {
            let Some(name) = self.names.get(&*k) else {
                continue;
            };
            if self.module.schemas.profile_field(&k).is_none() {
                continue;
            }
            match attributes.binary_search_by(|(n, _)| n.cmp(&k)) {
                Ok(i) if v.is_none() => {
                    attributes.remove(i);
                }
                Ok(i) => attributes[i].1 = v,
                Err(_) if v.is_none() => {}
                Err(i) => attributes.insert(i, (name.clone(), v)),
            }
        }
        p.attributes = attributes.into_iter().collect();
        self.store.save(state);
        self.end_step(Ok(()))
    }

    fn complete(&self, p: &ProfileRecord) -> bool {
        self.required
            .iter()
            .all(|f| p.attributes.get(f).is_some_and(|v| !v.is_none()))
    }

    /// Applies a `track` event at `now` (after firing the timers due by then).
    pub fn track(&mut self, id: &str, name: &str, props: Props, now: DateTime<Utc>) -> Result<()> {
        self.checked(|e| e.track_unchecked(id, name, props, now))
    }

    /// Runs one operation, then checks the invariants on the records it
    /// added (records present before were checked when they were added; a
    /// caller may drain the log between operations).
    fn checked<T>(&mut self, op: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let mark = self.log.len();
        let out = op(self);
        // A rule broken where no error could be returned stops the
        // operation; it is reported first (it is the cause of what follows).
        let found = self.broken.take();
        let records = self.check_records(mark);
        if let Some(e) = found {
            return Err(e);
        }
        let out = out?;
        records.map(|()| out)
    }

    fn check_records(&mut self, from: usize) -> Result<()> {
        let broken = |r: &Record, what: String| EngineError::Invariant {
            profile: r.profile().to_owned(),
            workflow: r.workflow().to_owned(),
            at: r.at(),
            what,
        };
        for r in self.log.get(from..).unwrap_or_default() {
            let at = r.at();
            if let Some(prev) = self.last_record_at.filter(|prev| at < *prev) {
                return Err(broken(
                    r,
                    format!("it follows a record at {prev}: records went back in time"),
                ));
            }
            self.last_record_at = Some(at);
            if let Record::Sent { send_id, .. } = r {
                if !self.sent_ids.insert(*send_id) {
                    return Err(broken(
                        r,
                        format!("message {send_id:016x} was already sent"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn track_unchecked(
        &mut self,
        id: &str,
        name: &str,
        props: Props,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.advance(now)?;
        let mut state = self.load(id, now)?;
        let p = &mut state.record;
        let name = self
            .names
            .get(name)
            .cloned()
            .unwrap_or_else(|| Arc::from(name));
        let mut props = props;
        props.share_names(|k| self.names.get(k).cloned());
        let event = Event {
            name,
            at: now,
            seq: p.next_seq,
            props,
        };
        p.next_seq += 1;
        p.last_activity = Some(now);
        // A quiet spell starts now; workflows whose check already fired
        // (or that are new) get one.
        self.arm_quiet_checks(&mut state.record, now);
        state.history.push(event.clone());
        let result = self.track_steps(&mut state, &event, now);
        self.store.save(state);
        self.end_step(result)
    }

    /// The steps of a `track` event: running journeys, then triggers.
    fn track_steps(
        &mut self,
        st: &mut ProfileState,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<()> {
        // Running journeys (each in its own module version). A step only
        // touches its own journey, so they can be read up front.
        for (wf, journey) in st.active_journeys() {
            self.step_journey(st, &wf, journey, Input::Event(event), now)?;
        }

        // Triggers (current version).
        let module = self.module.clone();
        let Some(candidates) = self.triggers_by_event.get(&*event.name).cloned() else {
            return Ok(());
        };
        let mut entered: Option<WorkflowId> = None;
        for &(wi, m) in candidates.iter() {
            // A workflow with several triggers on this event enters once.
            if entered == Some(wi) {
                continue;
            }
            let hit = {
                let facts = ProfileFacts {
                    module: &module,
                    state: st,
                };
                self.vm(&module)
                    .matches(&m, event, &Ctx::new(&facts, now))?
            };
            if hit {
                entered = Some(wi);
                self.enter(st, wi, Some(event.clone()), now)?;
            }
        }
        Ok(())
    }

    fn enter(
        &mut self,
        st: &mut ProfileState,
        wi: WorkflowId,
        trigger: Option<Event>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let module = self.module.clone();
        let Some(w) = module.workflows.get(wi as usize) else {
            return Ok(());
        };
        let id = st.record.id.clone();
        let suppress = |engine: &mut Self, reason| {
            let workflow = engine.name(&w.name);
            engine.log.push(Record::Suppressed {
                at: now,
                profile: id.clone(),
                workflow,
                reason,
            });
            Ok(())
        };
        if !self.complete(&st.record) {
            return suppress(self, Suppression::Incomplete);
        }
        let log = st.entry_log(&w.name);
        let trigger_key = trigger.as_ref().map_or(0, |e| e.seq);
        if log.count > 0 && log.last == Some(now) && log.trigger == trigger_key {
            return Err(EngineError::Invariant {
                profile: id.to_string(),
                workflow: w.name.clone(),
                at: now,
                what: "entered twice at one instant by one trigger".to_owned(),
            });
        }
        if let Some(existing) = st.journey(&w.name).filter(|j| j.is_active()).cloned() {
            if w.entry != EntryRule::Restart {
                return suppress(self, Suppression::Active);
            }
            self.end_journey(st, &w.name, existing, ExitReason::Restarted, now);
        }
        match w.entry {
            EntryRule::Once if log.count > 0 => return suppress(self, Suppression::Once),
            EntryRule::OncePer(d) => {
                if let Some(last) = log.last {
                    if now < plus(last, module.duration(d)) {
                        return suppress(self, Suppression::OncePer);
                    }
                }
            }
            _ => {}
        }
        let vm = self.vm(&module);
        if let Some(a) = w.audience {
            let facts = ProfileFacts {
                module: &module,
                state: st,
            };
            let event = trigger
                .as_ref()
                .and_then(|e| module.schemas.event_id(&e.name).map(|id| (e, id)));
            if !vm
                .eval(a, &Ctx::new(&facts, now).with_event(event))?
                .truthy()
            {
                return suppress(self, Suppression::Audience);
            }
        }
        let workflow = self.name(&w.name);
        st.workflow_mut(&workflow).entries = EntryLog {
            count: log.count + 1,
            last: Some(now),
            trigger: trigger_key,
        };
        self.log.push(Record::Entered {
            at: now,
            profile: id,
            workflow,
            run: log.count,
        });
        let (journey, effects) = {
            let facts = ProfileFacts {
                module: &module,
                state: st,
            };
            vm.start(wi, self.module_hash, log.count, trigger, now, &facts)?
        };
        self.steps += 1;
        self.apply(st, &module, w, journey, effects, now)
    }

    fn end_journey(
        &mut self,
        st: &mut ProfileState,
        workflow: &str,
        mut journey: Journey,
        reason: ExitReason,
        now: DateTime<Utc>,
    ) {
        journey.status = Status::Exited(reason.clone());
        journey.wait = None;
        journey.escalation = None;
        self.cancel_outbox(st, workflow, false, now);
        let workflow = self.name(workflow);
        st.workflow_mut(&workflow).journey = Some(journey);
        self.log.push(Record::Exited {
            at: now,
            profile: st.record.id.clone(),
            workflow,
            reason,
        });
    }

    /// Drops the parked messages of a profile's journey in `workflow` (only
    /// those of escalation steps when `escalation_only`), in send id order.
    fn cancel_outbox(
        &mut self,
        st: &mut ProfileState,
        workflow: &str,
        escalation_only: bool,
        now: DateTime<Utc>,
    ) {
        let mut ids: Vec<u64> = st
            .outbox
            .iter()
            .filter(|m| *m.workflow == *workflow && (m.escalation || !escalation_only))
            .map(|m| m.send_id)
            .collect();
        if ids.is_empty() {
            return;
        }
        ids.sort_unstable();
        for id in ids {
            if st.take_outbox(id).is_some() {
                self.log.push(Record::Dropped {
                    at: now,
                    profile: st.record.id.clone(),
                    workflow: self.name(workflow),
                    send_id: id,
                    reason: "cancelled before it went out".to_owned(),
                });
            }
        }
    }

    fn step_journey(
        &mut self,
        st: &mut ProfileState,
        workflow: &str,
        journey: Journey,
        input: Input<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let module = if journey.module == self.module_hash {
            self.module.clone()
        } else {
            self.store
                .module(journey.module)
                .ok_or(EngineError::MissingModule(journey.module))?
        };
        let Some(w) = module.workflows.get(journey.workflow as usize) else {
            return Err(VmError::NoWorkflow(journey.workflow).into());
        };
        let (journey, effects) = {
            let facts = ProfileFacts {
                module: &module,
                state: st,
            };
            self.vm(&module).step(journey, input, now, &facts)?
        };
        self.steps += 1;
        debug_assert_eq!(w.name, workflow);
        self.apply(st, &module, w, journey, effects, now)
    }

    fn apply(
        &mut self,
        st: &mut ProfileState,
        module: &Module,
        w: &Workflow,
        journey: Journey,
        effects: Vec<Effect>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        // Template files of the current version are compiled once.
        let templates = std::ptr::eq(module, &*self.module).then(|| self.templates.clone());
        let vm = Vm {
            templates: templates.as_deref(),
            ..self.vm(module)
        };
        for effect in effects {
            match effect {
                Effect::Send {
                    message,
                    send_id,
                    escalation,
                } => {
                    if escalation {
                        // A deferred earlier step that has not gone out is void.
                        self.cancel_outbox(st, &w.name, true, now);
                    }
                    let rendered = {
                        let facts = ProfileFacts { module, state: st };
                        let ctx = vm.trigger_ctx(&journey, Ctx::new(&facts, now));
                        vm.render(message, &ctx)?
                    };
                    let address = module
                        .message(message)
                        .and_then(|d| d.address)
                        .and_then(|f| module.schemas.profile.get(f as usize))
                        .map(|f| f.name.clone());
                    let out = Outgoing {
                        send_id,
                        escalation,
                        address,
                        message: rendered,
                    };
                    self.send(st, w, &journey, out, now);
                }
                Effect::ScheduleTimer { at, seq } => self.schedule(
                    at,
                    Timer::Journey {
                        profile: st.record.id.clone(),
                        workflow: self.name(&w.name),
                        run: journey.run,
                        seq,
                    },
                ),
                Effect::WaitForEvent { .. } => {}
                Effect::EscalationStopped => self.cancel_outbox(st, &w.name, true, now),
                Effect::GoalReached { goal } => {
                    let name = w
                        .goals
                        .get(goal as usize)
                        .map(|g| module.string(g.name).to_owned())
                        .unwrap_or_default();
                    self.log.push(Record::GoalReached {
                        at: now,
                        profile: st.record.id.clone(),
                        workflow: self.name(&w.name),
                        goal: name,
                    });
                }
                Effect::Exit { reason } => {
                    self.cancel_outbox(st, &w.name, false, now);
                    self.log.push(Record::Exited {
                        at: now,
                        profile: st.record.id.clone(),
                        workflow: self.name(&w.name),
                        reason,
                    });
                }
                Effect::Completed => self.log.push(Record::Completed {
                    at: now,
                    profile: st.record.id.clone(),
                    workflow: self.name(&w.name),
                }),
            }
        }
        let workflow = self.name(&w.name);
        st.workflow_mut(&workflow).journey = Some(journey);
        Ok(())
    }

    /// A message on its way out: the address, then quiet hours, then the
    /// cap. The policy is the current version's, whichever version the
    /// journey runs (as when a held message is released).
    fn send(
        &mut self,
        st: &mut ProfileState,
        w: &Workflow,
        journey: &Journey,
        out: Outgoing,
        now: DateTime<Utc>,
    ) {
        let current = self.module.clone();
        let module = &*current;
        let Outgoing {
            send_id,
            escalation,
            address,
            message,
        } = out;
        let channel = message.channel;
        // The address is checked when the message is sent.
        if let Some(field) = &address {
            let missing = st.record.attributes.get(field).is_none_or(Value::is_none);
            if missing {
                self.log.push(Record::Dropped {
                    at: now,
                    profile: st.record.id.clone(),
                    workflow: self.name(&w.name),
                    send_id,
                    reason: format!("no `{field}` to send {} to", channel.as_str()),
                });
                return;
            }
        }
        let transactional = w.priority == Priority::Transactional;
        let capped_channel = !transactional && module.policy.caps.iter().any(|c| c.covers(channel));
        if !transactional && !module.policy.quiet_hours.is_empty() {
            // Every window of the policy that covers this channel applies;
            // the release falls outside all of them.
            let windows: Vec<QuietWindow> = {
                let vm = self.vm(module);
                let facts = ProfileFacts { module, state: st };
                module
                    .policy
                    .quiet_hours
                    .iter()
                    .filter(|q| q.channels.is_empty() || q.channels.contains(&channel))
                    .map(|q| QuietWindow {
                        tz: vm.zone(q.zone, &facts),
                        from: q.from,
                        to: q.to,
                    })
                    .collect()
            };
            let until = match quiet_release(now, &windows, send_id) {
                Quiet::Free => None,
                Quiet::Until(until) => Some(until),
                Quiet::NeverFree => {
                    self.log.push(Record::Dropped {
                        at: now,
                        profile: st.record.id.clone(),
                        workflow: self.name(&w.name),
                        send_id,
                        reason: NEVER_FREE.to_owned(),
                    });
                    return;
                }
            };
            if let Some(until) = until {
                st.outbox.push(OutboxItem {
                    send_id,
                    profile: st.record.id.clone(),
                    workflow: self.name(&w.name),
                    run: journey.run,
                    escalation,
                    capped_channel,
                    address,
                    message,
                    due: until,
                });
                self.schedule(
                    until,
                    Timer::Outbox {
                        profile: st.record.id.clone(),
                        send_id,
                    },
                );
                self.log.push(Record::Deferred {
                    at: now,
                    until,
                    profile: st.record.id.clone(),
                    workflow: self.name(&w.name),
                    send_id,
                });
                return;
            }
        }
        self.deliver(st, module, &w.name, send_id, capped_channel, message, now);
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one send: who, what, where from and when"
    )]
    fn deliver(
        &mut self,
        st: &mut ProfileState,
        module: &Module,
        workflow: &str,
        send_id: u64,
        capped_channel: bool,
        message: Rendered,
        now: DateTime<Utc>,
    ) {
        if capped_channel {
            let channel = message.channel;
            let over = module.policy.caps.iter().any(|cap| {
                cap.covers(channel)
                    && st.capped_sends_after(minus(now, cap.per), cap.channels())
                        >= cap.count as usize
            });
            if over {
                self.log.push(Record::Capped {
                    at: now,
                    profile: st.record.id.clone(),
                    workflow: self.name(workflow),
                    send_id,
                });
                return;
            }
            st.capped.push((now, channel));
        }
        self.log.push(Record::Sent {
            at: now,
            profile: st.record.id.clone(),
            workflow: self.name(workflow),
            send_id,
            message,
        });
    }

    /// Fires every timer due at or before `t`, in order, and moves the
    /// clock to `t`.
    pub fn advance_to(&mut self, t: DateTime<Utc>) -> Result<()> {
        self.checked(|e| e.advance(t))
    }

    fn advance(&mut self, t: DateTime<Utc>) -> Result<()> {
        if t < self.now {
            return Err(EngineError::Backwards {
                at: t,
                now: self.now,
            });
        }
        while let Some((at, timer)) = self.store.pop_due(t)? {
            self.now = self.now.max(at);
            let fired = self.fire(at, timer);
            self.end_step(fired)?;
            if let Some(e) = self.broken.take() {
                return Err(e);
            }
        }
        self.now = t;
        Ok(())
    }

    /// Sets a timer. A timer is never set before the clock (it would fire
    /// in the past); one set for the instant being handled fires in this
    /// same instant, which a few rules legitimately do (a quiet check whose
    /// spell a redeploy shortened), but a rule that does it every time it
    /// fires loops forever: past [`MAX_BURST`] such timers of one profile
    /// at one instant the engine stops with an error.
    fn schedule(&mut self, at: DateTime<Utc>, timer: Timer) {
        if at <= self.now && self.broken.is_none() {
            let (profile, workflow) = match &timer {
                Timer::Journey {
                    profile, workflow, ..
                }
                | Timer::Inactivity {
                    profile, workflow, ..
                } => (profile.to_string(), workflow.to_string()),
                Timer::Outbox { profile, .. } => (profile.to_string(), String::new()),
            };
            if at < self.now {
                self.broken = Some(EngineError::Invariant {
                    profile,
                    workflow,
                    at: self.now,
                    what: format!("a timer was set for {at}, before the clock"),
                });
            } else {
                let (instant, counts) = &mut self.burst;
                if *instant != Some(at) {
                    *instant = Some(at);
                    counts.clear();
                }
                let n = counts.entry(profile.clone()).or_default();
                *n += 1;
                if *n > MAX_BURST {
                    self.broken = Some(EngineError::Invariant {
                        profile,
                        workflow,
                        at,
                        what: format!(
                            "more than {MAX_BURST} of its timers were set for the instant they fired at (a loop)"
                        ),
                    });
                }
            }
        }
        self.store.schedule(at, timer);
    }

    /// Fires the next timer, if any, moving the clock to it (the virtual
    /// clock's driver). Returns its time.
    pub fn fire_next(&mut self) -> Result<Option<DateTime<Utc>>> {
        match self.store.next_timer() {
            None => Ok(None),
            Some(at) => {
                let at = at.max(self.now);
                self.advance_to(at)?;
                Ok(Some(at))
            }
        }
    }

    /// Fires timers until none is left or the next is after `limit`.
    pub fn run_until(&mut self, limit: DateTime<Utc>) -> Result<()> {
        while let Some(at) = self.store.next_timer() {
            if at > limit {
                break;
            }
            self.advance_to(at.max(self.now))?;
        }
        Ok(())
    }

    fn fire(&mut self, at: DateTime<Utc>, timer: Timer) -> Result<()> {
        match timer {
            Timer::Journey {
                profile,
                workflow,
                run,
                seq,
            } => {
                let Some(mut st) = self.store.load(&profile)? else {
                    return Ok(());
                };
                let result = match st.journey(&workflow) {
                    Some(journey)
                        if journey.is_active() && journey.run == run && journey.seq == seq =>
                    {
                        let journey = journey.clone();
                        self.step_journey(&mut st, &workflow, journey, Input::Timer { seq }, at)
                    }
                    _ => Ok(()),
                };
                self.store.save(st);
                result?;
            }
            Timer::Outbox { profile, send_id } => {
                let Some(mut st) = self.store.load(&profile)? else {
                    return Ok(());
                };
                if let Some(item) = st.take_outbox(send_id) {
                    let module = self.module.clone();
                    if let Some(field) = &item.address {
                        let gone = st.record.attributes.get(field).is_none_or(Value::is_none);
                        if gone {
                            self.log.push(Record::Dropped {
                                at,
                                profile: item.profile.clone(),
                                workflow: item.workflow.clone(),
                                send_id,
                                reason: format!(
                                    "no `{field}` to send {} to",
                                    item.message.channel.as_str()
                                ),
                            });
                            self.store.save(st);
                            return Ok(());
                        }
                    }
                    self.deliver(
                        &mut st,
                        &module,
                        &item.workflow,
                        item.send_id,
                        item.capped_channel,
                        item.message,
                        at,
                    );
                }
                self.store.save(st);
            }
            Timer::Inactivity {
                profile,
                workflow,
                since,
            } => self.fire_quiet_check(at, profile, workflow, since)?,
        }
        Ok(())
    }

    /// A due quiet check of `workflow` for `profile`, armed for the spell
    /// that began at `since`. The rules (docs/language.md, "Inactivity"):
    /// a workflow that is no longer quiet drops its check; a profile
    /// active since gets the check moved to its last activity plus the
    /// spell; a profile quiet since `since` for the whole spell enters, and
    /// its next check is armed by its next event. Nothing here arms a
    /// check for another workflow: a check armed from a past activity
    /// would fire in the past and enter a second time for one spell.
    fn fire_quiet_check(
        &mut self,
        at: DateTime<Utc>,
        profile: Arc<str>,
        workflow: Arc<str>,
        since: DateTime<Utc>,
    ) -> Result<()> {
        let spell = self
            .quiet_workflows
            .iter()
            .find(|(name, _)| **name == *workflow)
            .map(|(_, d)| *d);
        // Active since: when the store keeps the profile's quiet state
        // apart, the record is not read at all (most checks end here).
        if let (Some(q), Some(d)) = (self.store.popped_quiet_state(), spell) {
            if q.last_active != since {
                let due = plus(q.last_active, d).max(at);
                self.schedule(
                    due,
                    Timer::Inactivity {
                        profile,
                        workflow,
                        since: q.last_active,
                    },
                );
                return Ok(());
            }
        }
        let Some(mut st) = self.store.load(&profile)? else {
            return Ok(());
        };
        let p = &mut st.record;
        let last = p.last_activity.unwrap_or(p.created_at);
        let Some(d) = spell else {
            // No longer an `inactive for` workflow: the check is dropped.
            p.quiet_checks.retain(|w| **w != *workflow);
            self.store.save(st);
            return Ok(());
        };
        let due = plus(last, d);
        if last != since || due > at {
            // Active since (or the spell grew in a redeploy): the check
            // moves to the end of the current spell.
            self.store.save(st);
            self.schedule(
                due.max(at),
                Timer::Inactivity {
                    profile,
                    workflow,
                    since: last,
                },
            );
            return Ok(());
        }
        p.quiet_checks.retain(|w| **w != *workflow);
        let result = match self.module.workflow_id(&workflow) {
            Some(wi) => self.enter(&mut st, wi, None, at),
            None => Ok(()),
        };
        self.store.save(st);
        result
    }

    /// Counts per workflow name, from the log.
    pub fn stats(&self) -> std::collections::BTreeMap<String, WorkflowStats> {
        let mut out = Default::default();
        for r in &self.log {
            WorkflowStats::tally(&mut out, r);
        }
        out
    }

    /// The journey of a profile in a workflow (latest run).
    pub fn journey(&self, profile: &str, workflow: &str) -> Option<Journey> {
        self.store.peek(profile).ok()??.journey(workflow).cloned()
    }

    /// Messages sent so far.
    pub fn sent(&self) -> impl Iterator<Item = (&DateTime<Utc>, &str, &Rendered)> {
        self.log.iter().filter_map(|r| match r {
            Record::Sent {
                at,
                profile,
                message,
                ..
            } => Some((at, &**profile, message)),
            _ => None,
        })
    }
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
