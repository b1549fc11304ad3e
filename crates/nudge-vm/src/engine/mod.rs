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
//!
//! The files, by concern (each adds an `impl<S: Store> Engine<S>` block;
//! they import from this file and `records.rs`, never from each other):
//! - `mod.rs`: the [`Engine`], its public entry points and accessors, the
//!   invariant checks, [`EngineError`], the profile as the VM sees it, and
//!   the step boundary (loading a profile, ending a step, a journey's step);
//! - `records.rs`: [`Record`], [`Suppression`], [`WorkflowStats`] and their
//!   serialisation;
//! - `entry.rs`: triggers and entry rules;
//! - `timers.rs`: the clock, timers and quiet checks;
//! - `dates.rs`: date triggers, armed per profile and fired;
//! - `sends.rs`: a step's effects, sends, quiet hours and the cap;
//! - `deploy.rs`: module versions and the current version's tables.

mod dates;
mod deploy;
mod entry;
mod sends;
mod timers;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use nudge_bytecode::Module;

use crate::facts::Facts;
use crate::journey::{Input, Journey};
use crate::message::Rendered;
use crate::store::{ProfileState, Store, StoreError};
use crate::value::{profile_default, Event, Props, Value};
use crate::vm::{Vm, VmError};

pub use crate::record::{Record, Suppression, WorkflowStats};
use deploy::{quiet_workflow_names, Triggers};
pub use sends::NEVER_FREE;

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

/// The event-handling core.
pub struct Engine<S: Store> {
    store: S,
    module: Arc<Module>,
    module_hash: u64,
    /// Arms chosen for profiles by tests (none outside them).
    forced_arms: Option<std::sync::Arc<crate::vm::ForcedArms>>,
    now: DateTime<Utc>,
    default_zone: Tz,
    /// Everything that happened, in order. A caller that writes records
    /// out as they come (counting them with [`WorkflowStats::tally`]) reads
    /// and clears it now and then, which keeps memory flat on a long trace
    /// (clearing keeps the allocation for the next records).
    pub log: Vec<Record>,
    /// VM steps run (journey starts and steps), for throughput figures.
    pub steps: u64,
    /// Where the records of the step under way begin in `log`.
    step_start: usize,
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
    /// Current module: its date triggers (see `dates.rs`).
    date_triggers: Arc<[(Arc<str>, u16, nudge_bytecode::DateTrigger)]>,
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
    /// Every version deployed: how long each event's history is read (see
    /// [`deploy::retention`]).
    retention: HashMap<Arc<str>, Option<i64>, crate::store::FxBuild>,
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

impl<S: Store> Engine<S> {
    /// An engine running `module` (the current version) on `store`, with
    /// its clock at `now`.
    pub fn new(store: S, module: Module, now: DateTime<Utc>) -> Self {
        let mut engine = Engine {
            store,
            module: Arc::new(Module::default()),
            module_hash: 0,
            forced_arms: None,
            now,
            default_zone: Tz::UTC,
            log: Vec::new(),
            steps: 0,
            step_start: 0,
            triggers_by_event: HashMap::default(),
            names: Default::default(),
            templates: Arc::new(crate::render::TemplateCache::default()),
            quiet_workflows: Vec::new(),
            date_triggers: Arc::from(Vec::new()),
            required: Vec::new(),
            quiet_names_seen: Vec::new(),
            quiet_names_current: true,
            retention: HashMap::default(),
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

    /// The store, to record what a caller keeps beside the engine's state
    /// between steps (such as how far its input is applied).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The engine's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Sets the zone `local` means for profiles without a valid `timezone`.
    pub fn set_default_zone(&mut self, zone: Tz) {
        self.default_zone = zone;
    }

    fn vm<'m>(&self, module: &'m Module) -> Vm<'m> {
        Vm {
            default_zone: self.default_zone,
            forced_arms: self.forced_arms.clone(),
            ..Vm::new(module)
        }
    }

    /// Puts `profile` in arm `arm` of split `split` of `workflow`, instead
    /// of the arm its hash picks (for tests).
    pub fn force_arm(&mut self, profile: &str, workflow: &str, split: &str, arm: &str) {
        let mut forced = self.forced_arms.as_deref().cloned().unwrap_or_default();
        forced.insert(
            (profile.to_owned(), workflow.to_owned(), split.to_owned()),
            arm.to_owned(),
        );
        self.forced_arms = Some(std::sync::Arc::new(forced));
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
        let from = self.step_start.min(self.log.len());
        let ended = self
            .store
            .end_step(&self.log[from..])
            .map_err(EngineError::Store);
        self.step_start = self.log.len();
        let out = result?;
        ended.map(|()| out)
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
        self.arm_dates(&mut state, now);
        self.store.save(state);
        self.end_step(Ok(()))
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
        // A caller may have drained the log since the last step.
        self.step_start = mark;
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
        if state.dates_module != self.module_hash {
            // A deploy since this profile was last armed.
            self.arm_dates(&mut state, now);
        }
        state.history.push(event.clone());
        let result = self.track_steps(&mut state, &event, now);
        self.forget(&mut state, now);
        self.store.save(state);
        self.end_step(result)
    }

    /// After an event, a profile forgets the events no version deployed so
    /// far can read any more (docs/language.md, "What a profile keeps").
    fn forget(&self, state: &mut ProfileState, now: DateTime<Utc>) {
        state.history.retain(|e| match self.retention.get(&e.name) {
            None => false,
            Some(None) => true,
            Some(Some(d)) => e.at >= crate::vm::minus(now, *d),
        });
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

    /// Fires every timer due at or before `t`, in order, and moves the
    /// clock to `t`.
    pub fn advance_to(&mut self, t: DateTime<Utc>) -> Result<()> {
        self.checked(|e| e.advance(t))
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
