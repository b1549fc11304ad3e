//! The reference model of the Nudge engine.
//!
//! [`Reference`] does what `docs/language.md` ("Runtime semantics") says,
//! as plainly as it can: one map of profiles, each with its whole history
//! (every `did` scans all of it), one unsorted list of timers searched for
//! the earliest on every step, no caches, no indexes, no side state kept
//! for speed, and local times found by brute force ([`calendar`]). It
//! writes the same [`Record`] log as `nudge_vm::Engine`, and the
//! differential tests run both on random projects and traces and compare
//! the logs record for record.
//!
//! It shares with the engine only the pure step function ([`Vm`], the
//! journey's interpreter), with its own calendar plugged in; every rule
//! around it (history, entry rules, triggers, timers, quiet checks, quiet
//! hours, caps, deferred messages, versions) is written again here.
//!
//! Ties: timers due at the same instant fire in the order they were set,
//! as in the engine; the model sets them at the same points of the
//! semantics (a journey's wait, a held message, a profile's first
//! appearance, an event, a quiet check that finds activity).

#![allow(
    clippy::expect_used,
    reason = "a test model: a broken assumption should stop the test loudly"
)]

pub mod calendar;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use nudge_bytecode::{
    Channel, Const, DateTrigger, EntryRule, Module, Priority, Trigger, Type, Window, WorkflowId,
};
use nudge_vm::{
    Ctx, Effect, Event, ExitReason, Facts, Input, Journey, Props, Record, Rendered, Status,
    Suppression, Value, Vm, VmError,
};

/// A profile and everything kept about it.
#[derive(Clone, Debug)]
struct Profile {
    id: Arc<str>,
    attributes: BTreeMap<String, Value>,
    created_at: DateTime<Utc>,
    last_event: Option<DateTime<Utc>>,
    /// The accepted events the deployed versions can still read, oldest
    /// first (see [`Reference::forget`]).
    history: Vec<Event>,
    /// Events accepted so far (the next event's `seq` is one more).
    events_seen: u64,
    /// Per workflow name: the latest journey.
    journeys: BTreeMap<String, Journey>,
    /// Per workflow name: every entry (time, trigger key).
    entries: BTreeMap<String, Vec<DateTime<Utc>>>,
    /// Every message that went out on a capped channel.
    capped_sends: Vec<(DateTime<Utc>, Channel)>,
    /// `inactive for` workflows with a check pending.
    quiet_checks: Vec<String>,
    /// Date triggers armed: (workflow, trigger position, instant).
    dates: Vec<(String, u16, DateTime<Utc>)>,
}

/// A timer: when, the order it was set in, what.
#[derive(Clone, Debug)]
enum Wake {
    Journey {
        profile: Arc<str>,
        workflow: String,
        run: u32,
        seq: u32,
    },
    Release {
        send_id: u64,
    },
    QuietCheck {
        profile: Arc<str>,
        workflow: String,
        since: DateTime<Utc>,
    },
    Date {
        profile: Arc<str>,
        workflow: String,
        trigger: u16,
        at: DateTime<Utc>,
    },
}

/// A message held by quiet hours.
#[derive(Clone, Debug)]
struct Held {
    send_id: u64,
    profile: Arc<str>,
    workflow: String,
    escalation: bool,
    capped_channel: bool,
    address: Option<String>,
    message: Rendered,
}

/// Why the model stopped.
#[derive(Debug)]
pub enum ModelError {
    /// The interpreter failed.
    Vm(VmError),
    /// An event before the clock.
    Backwards,
}

impl From<VmError> for ModelError {
    fn from(e: VmError) -> Self {
        ModelError::Vm(e)
    }
}

type Result<T> = std::result::Result<T, ModelError>;

/// The reference engine.
pub struct Reference {
    /// Every version deployed; a journey's `module` is its index here.
    versions: Vec<Arc<Module>>,
    now: DateTime<Utc>,
    profiles: BTreeMap<String, Profile>,
    timers: Vec<(DateTime<Utc>, u64, Wake)>,
    timers_set: u64,
    held: Vec<Held>,
    /// Everything that happened, in order.
    pub log: Vec<Record>,
}

/// The model's view of one profile for the interpreter.
struct View<'a> {
    module: &'a Module,
    p: &'a Profile,
}

fn constant(module: &Module, c: &Const) -> Value {
    match c {
        Const::None => Value::None,
        Const::Bool(b) => Value::Bool(*b),
        Const::Int(i) => Value::Int(*i),
        Const::Float(x) => Value::Float(*x),
        Const::Str(s) => Value::str(s),
        Const::Time(ms) => Value::Time(DateTime::from_timestamp_millis(*ms).unwrap_or_default()),
        Const::Duration(s) => Value::Duration(*s),
        Const::TimeOfDay(m) => Value::TimeOfDay(*m),
        Const::Enum { enum_id, member } => module
            .schemas
            .enums
            .get(*enum_id as usize)
            .and_then(|e| e.members.get(*member as usize))
            .map_or(Value::None, |m| Value::str(m)),
    }
}

impl Facts for View<'_> {
    fn profile_id(&self) -> &str {
        &self.p.id
    }

    fn attribute(&self, name: &str) -> Value {
        if let Some(v) = self.p.attributes.get(name) {
            return v.clone();
        }
        // Unset: the schema's default, else none.
        self.module
            .schemas
            .profile
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.default.as_ref())
            .map_or(Value::None, |c| constant(self.module, c))
    }

    fn history(&self, name: &str, visit: &mut dyn FnMut(&Event) -> bool) {
        for e in self.p.history.iter().rev() {
            if &*e.name == name && !visit(e) {
                return;
            }
        }
    }

    fn last_activity(&self) -> DateTime<Utc> {
        self.p.last_event.unwrap_or(self.p.created_at)
    }
}

fn vm(module: &Module) -> Vm<'_> {
    Vm {
        wait_until: calendar::wait_until,
        ..Vm::new(module)
    }
}

fn plus(t: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    t + chrono::Duration::seconds(seconds)
}

impl Reference {
    /// A model running `module`, its clock at `now`.
    pub fn new(module: Module, now: DateTime<Utc>) -> Self {
        Reference {
            versions: vec![Arc::new(module)],
            now,
            profiles: BTreeMap::new(),
            timers: Vec::new(),
            timers_set: 0,
            held: Vec::new(),
            log: Vec::new(),
        }
    }

    /// Deploys a new version: new journeys run it, running ones keep theirs.
    pub fn deploy(&mut self, module: Module) {
        self.versions.push(Arc::new(module));
    }

    /// Ends the running journeys of `id` in workflows the current version
    /// does not have (a deploy removed them), at `now`: each is recorded
    /// as exited (`removed`), and its held messages are dropped. Returns
    /// their workflows, by name.
    pub fn end_removed(&mut self, id: &str, now: DateTime<Utc>) -> Result<Vec<String>> {
        self.advance_to(now)?;
        let current = self.current();
        let names: Vec<String> = match self.profiles.get(id) {
            None => Vec::new(),
            Some(p) => p
                .journeys
                .iter()
                .filter(|(name, j)| {
                    j.status == Status::Active
                        && !current.workflows.iter().any(|w| &w.name == *name)
                })
                .map(|(name, _)| name.clone())
                .collect(),
        };
        for name in &names {
            self.cancel_held(id, name, false, now);
            let p = self.profiles.get_mut(id).expect("profile");
            let j = p.journeys.get_mut(name).expect("journey");
            j.status = Status::Exited(ExitReason::Removed);
            j.wait = None;
            j.escalation = None;
            self.log.push(Record::Exited {
                at: now,
                profile: Arc::from(id),
                workflow: Arc::from(name.as_str()),
                reason: ExitReason::Removed,
            });
        }
        Ok(names)
    }

    /// Every profile seen, by id.
    pub fn profile_ids(&self) -> Vec<String> {
        self.profiles.keys().cloned().collect()
    }

    fn current(&self) -> Arc<Module> {
        self.versions.last().cloned().expect("one version at least")
    }

    fn current_version(&self) -> u64 {
        (self.versions.len() - 1) as u64
    }

    /// The `inactive for` workflows of the current version, with the
    /// shortest spell of each, in the order they are declared.
    fn quiet_workflows(&self) -> Vec<(String, i64)> {
        let m = self.current();
        m.workflows
            .iter()
            .filter_map(|w| {
                let spells = w.triggers.iter().filter_map(|t| match t {
                    Trigger::Inactive(d) => Some(m.duration(*d)),
                    Trigger::Event(_) | Trigger::Date(_) => None,
                });
                spells.min().map(|d| (w.name.clone(), d))
            })
            .collect()
    }

    fn set_timer(&mut self, at: DateTime<Utc>, wake: Wake) {
        self.timers_set += 1;
        self.timers.push((at, self.timers_set, wake));
    }

    /// Sets a quiet check, due a spell after `since`, for every current
    /// `inactive for` workflow that has none pending for the profile.
    fn arm_missing_quiet_checks(&mut self, id: &str, since: DateTime<Utc>) {
        for (workflow, d) in self.quiet_workflows() {
            let p = self.profiles.get_mut(id).expect("profile");
            if p.quiet_checks.contains(&workflow) {
                continue;
            }
            p.quiet_checks.push(workflow.clone());
            let profile = p.id.clone();
            self.set_timer(
                plus(since, d),
                Wake::QuietCheck {
                    profile,
                    workflow,
                    since,
                },
            );
        }
    }

    /// The date triggers of the current version: (workflow, position,
    /// trigger), in declaration order.
    fn date_triggers(&self) -> Vec<(String, u16, DateTrigger)> {
        let m = self.current();
        let mut out = Vec::new();
        for w in &m.workflows {
            for (i, t) in w.triggers.iter().enumerate() {
                if let Trigger::Date(d) = t {
                    out.push((w.name.clone(), i as u16, *d));
                }
            }
        }
        out
    }

    /// When `trigger` next fires for profile `id` after `after`, from its
    /// fields as they are now.
    fn date_occurrence(
        &self,
        id: &str,
        trigger: &DateTrigger,
        after: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let m = self.current();
        let field = &m.schemas.profile.get(trigger.field as usize)?.name;
        let view = View {
            module: &m,
            p: &self.profiles[id],
        };
        let Value::Time(value) = view.attribute(field) else {
            return None;
        };
        let at = trigger
            .at
            .map(|(minutes, zone)| (minutes, vm(&m).zone(zone, &view)));
        calendar::date_occurrence(value, trigger.offset, trigger.yearly, at, after)
    }

    /// Arms every date trigger of the current version as the profile's
    /// fields now say: a new instant gets a timer; a cleared field or a
    /// past instant disarms. An instant due now or overdue that has not
    /// fired yet stays armed.
    fn arm_dates(&mut self, id: &str, now: DateTime<Utc>) {
        let mut armed = Vec::new();
        for (workflow, i, trigger) in self.date_triggers() {
            let have = self.profiles[id]
                .dates
                .iter()
                .find(|(w, t, _)| *w == workflow && *t == i)
                .map(|(_, _, at)| *at);
            // Due now or overdue and not fired yet (a fired one is no
            // longer armed): kept while the fields still give it.
            let still_due = have.filter(|h| {
                *h <= now
                    && self.date_occurrence(id, &trigger, *h - chrono::Duration::nanoseconds(1))
                        == Some(*h)
            });
            let want = match still_due {
                Some(h) => Some(h),
                None => self.date_occurrence(id, &trigger, now),
            };
            let Some(at) = want else { continue };
            if have != Some(at) {
                let profile = self.profiles[id].id.clone();
                self.set_timer(
                    at,
                    Wake::Date {
                        profile,
                        workflow: workflow.clone(),
                        trigger: i,
                        at,
                    },
                );
            }
            armed.push((workflow, i, at));
        }
        self.profiles.get_mut(id).expect("profile").dates = armed;
    }

    /// The profile, created (with its quiet checks) when first seen.
    fn ensure_profile(&mut self, id: &str, now: DateTime<Utc>) {
        if self.profiles.contains_key(id) {
            return;
        }
        self.profiles.insert(
            id.to_owned(),
            Profile {
                id: Arc::from(id),
                attributes: BTreeMap::new(),
                created_at: now,
                last_event: None,
                history: Vec::new(),
                events_seen: 0,
                journeys: BTreeMap::new(),
                entries: BTreeMap::new(),
                capped_sends: Vec::new(),
                quiet_checks: Vec::new(),
                dates: Vec::new(),
            },
        );
        self.arm_missing_quiet_checks(id, now);
    }

    /// Fires every timer due at or before `t`, earliest first (ties in the
    /// order they were set), and moves the clock to `t`.
    pub fn advance_to(&mut self, t: DateTime<Utc>) -> Result<()> {
        if t < self.now {
            return Err(ModelError::Backwards);
        }
        loop {
            let next = self
                .timers
                .iter()
                .enumerate()
                .filter(|(_, (at, _, _))| *at <= t)
                .min_by_key(|(_, (at, order, _))| (*at, *order))
                .map(|(i, _)| i);
            let Some(i) = next else { break };
            let (at, _, wake) = self.timers.remove(i);
            // A timer overdue when the clock started (a runtime stopped
            // past its due time) fires late, at the clock.
            self.now = self.now.max(at);
            self.fire(self.now, wake)?;
        }
        self.now = t;
        Ok(())
    }

    /// The earliest pending timer.
    pub fn next_timer(&self) -> Option<DateTime<Utc>> {
        self.timers.iter().map(|(at, _, _)| *at).min()
    }

    /// An `identify`: sets declared attributes (`none` clears one). Not
    /// activity; starts nothing.
    pub fn identify(&mut self, id: &str, traits: Props, now: DateTime<Utc>) -> Result<()> {
        self.advance_to(now)?;
        self.ensure_profile(id, now);
        let m = self.current();
        let p = self.profiles.get_mut(id).expect("profile");
        for (name, v) in traits {
            if m.schemas.profile_field(&name).is_none() {
                continue;
            }
            if v.is_none() {
                p.attributes.remove(&*name);
            } else {
                p.attributes.insert(name.to_string(), v);
            }
        }
        self.arm_dates(id, now);
        Ok(())
    }

    /// A `track` event.
    pub fn track(&mut self, id: &str, name: &str, props: Props, now: DateTime<Utc>) -> Result<()> {
        self.advance_to(now)?;
        self.ensure_profile(id, now);
        let event = {
            let p = self.profiles.get_mut(id).expect("profile");
            p.last_event = Some(now);
            p.events_seen += 1;
            Event {
                name: Arc::from(name),
                at: now,
                seq: p.events_seen + 1,
                props,
            }
        };
        // A quiet spell starts now.
        self.arm_missing_quiet_checks(id, now);
        self.arm_dates(id, now);
        self.profiles
            .get_mut(id)
            .expect("profile")
            .history
            .push(event.clone());

        // Every latest journey sees the event, in workflow name order: a
        // running one to move, an ended one to count its goals.
        let running: Vec<(String, Journey)> = self.profiles[id]
            .journeys
            .iter()
            .map(|(w, j)| (w.clone(), j.clone()))
            .collect();
        for (_, journey) in running {
            self.step(id, journey, Input::Event(&event), now)?;
        }

        // Then triggers, in declaration order; a workflow enters once.
        let m = self.current();
        for (wi, w) in m.workflows.iter().enumerate() {
            let mut hit = false;
            for t in &w.triggers {
                let Trigger::Event(em) = t else { continue };
                let view = View {
                    module: &m,
                    p: &self.profiles[id],
                };
                if vm(&m).matches(em, &event, &Ctx::new(&view, now))? {
                    hit = true;
                    break;
                }
            }
            if hit {
                self.enter(id, wi as WorkflowId, Some(event.clone()), now)?;
            }
        }
        self.forget(id, now);
        Ok(())
    }

    /// After an event, a profile forgets the events no version deployed so
    /// far can read any more: events no `did` names, and events older than
    /// the longest `within` of every `did` that names them (a `did` that
    /// looks at all time or since entry keeps them all).
    fn forget(&mut self, id: &str, now: DateTime<Utc>) {
        let mut keep: BTreeMap<String, Option<i64>> = BTreeMap::new();
        for m in &self.versions {
            for q in &m.queries {
                let name = m.event_name(q.event.event).to_owned();
                let window = match q.window {
                    Window::Within(d) => Some(m.duration(d)),
                    Window::Ever | Window::SinceEntry => None,
                };
                let slot = keep.entry(name).or_insert(window);
                *slot = match (*slot, window) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
        }
        if let Some(p) = self.profiles.get_mut(id) {
            p.history.retain(|e| match keep.get(&*e.name) {
                None => false,
                Some(None) => true,
                Some(Some(d)) => e.at >= now - chrono::Duration::seconds(*d),
            });
        }
    }

    fn record_suppressed(
        &mut self,
        id: &str,
        workflow: &str,
        reason: Suppression,
        now: DateTime<Utc>,
    ) {
        self.log.push(Record::Suppressed {
            at: now,
            profile: Arc::from(id),
            workflow: Arc::from(workflow),
            reason,
        });
    }

    /// The entry rules, in the order the reference gives them.
    fn enter(
        &mut self,
        id: &str,
        wi: WorkflowId,
        trigger: Option<Event>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let m = self.current();
        let w = &m.workflows[wi as usize];
        // 1. Every required attribute is set.
        let complete = m
            .schemas
            .profile
            .iter()
            .filter(|f| !matches!(f.ty, Type::Optional(_)) && f.default.is_none())
            .all(|f| {
                self.profiles[id]
                    .attributes
                    .get(&f.name)
                    .is_some_and(|v| !v.is_none())
            });
        if !complete {
            self.record_suppressed(id, &w.name, Suppression::Incomplete, now);
            return Ok(());
        }
        // 2. No running journey (a restart ends it).
        let running = self.profiles[id]
            .journeys
            .get(&w.name)
            .is_some_and(|j| j.status == Status::Active);
        if running {
            if w.entry != EntryRule::Restart {
                self.record_suppressed(id, &w.name, Suppression::Active, now);
                return Ok(());
            }
            self.cancel_held(id, &w.name, false, now);
            let p = self.profiles.get_mut(id).expect("profile");
            let j = p.journeys.get_mut(&w.name).expect("journey");
            j.status = Status::Exited(ExitReason::Restarted);
            j.wait = None;
            j.escalation = None;
            self.log.push(Record::Exited {
                at: now,
                profile: Arc::from(id),
                workflow: Arc::from(w.name.as_str()),
                reason: ExitReason::Restarted,
            });
        }
        // 3. `entry once` / `entry once per D`.
        let entries = self.profiles[id]
            .entries
            .get(&w.name)
            .cloned()
            .unwrap_or_default();
        match w.entry {
            EntryRule::Once if !entries.is_empty() => {
                self.record_suppressed(id, &w.name, Suppression::Once, now);
                return Ok(());
            }
            EntryRule::OncePer(d)
                if entries
                    .last()
                    .is_some_and(|last| now < plus(*last, m.duration(d))) =>
            {
                self.record_suppressed(id, &w.name, Suppression::OncePer, now);
                return Ok(());
            }
            _ => {}
        }
        // 4. The audience, with the trigger as `event`.
        if let Some(a) = w.audience {
            let view = View {
                module: &m,
                p: &self.profiles[id],
            };
            let event = trigger
                .as_ref()
                .and_then(|e| m.schemas.event_id(&e.name).map(|i| (e, i)));
            if !vm(&m)
                .eval(a, &Ctx::new(&view, now).with_event(event))?
                .truthy()
            {
                self.record_suppressed(id, &w.name, Suppression::Audience, now);
                return Ok(());
            }
        }
        let run = entries.len() as u32;
        self.profiles
            .get_mut(id)
            .expect("profile")
            .entries
            .entry(w.name.clone())
            .or_default()
            .push(now);
        self.log.push(Record::Entered {
            at: now,
            profile: Arc::from(id),
            workflow: Arc::from(w.name.as_str()),
            run,
        });
        let (journey, effects) = {
            let view = View {
                module: &m,
                p: &self.profiles[id],
            };
            vm(&m).start(wi, self.current_version(), run, trigger, now, &view)?
        };
        self.apply(id, &m, journey, effects, now)
    }

    fn step(
        &mut self,
        id: &str,
        journey: Journey,
        input: Input<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let m = self.versions[journey.module as usize].clone();
        let (journey, effects) = {
            let view = View {
                module: &m,
                p: &self.profiles[id],
            };
            vm(&m).step(journey, input, now, &view)?
        };
        self.apply(id, &m, journey, effects, now)
    }

    /// Drops the held messages of a profile's journey (only escalation
    /// steps when `escalation_only`), in send id order.
    fn cancel_held(&mut self, id: &str, workflow: &str, escalation_only: bool, now: DateTime<Utc>) {
        let mut dropped: Vec<Held> = Vec::new();
        self.held.retain(|h| {
            let hit =
                &*h.profile == id && h.workflow == workflow && (h.escalation || !escalation_only);
            if hit {
                dropped.push(h.clone());
            }
            !hit
        });
        dropped.sort_by_key(|h| h.send_id);
        for h in dropped {
            self.log.push(Record::Dropped {
                at: now,
                profile: Arc::from(id),
                workflow: Arc::from(workflow),
                send_id: h.send_id,
                reason: "cancelled before it went out".to_owned(),
            });
        }
    }

    fn apply(
        &mut self,
        id: &str,
        m: &Module,
        journey: Journey,
        effects: Vec<Effect>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let w = &m.workflows[journey.workflow as usize];
        let rec = |workflow: &str| (Arc::<str>::from(id), Arc::<str>::from(workflow));
        for effect in effects {
            match effect {
                Effect::Send {
                    message,
                    send_id,
                    escalation,
                } => {
                    if escalation {
                        self.cancel_held(id, &w.name, true, now);
                    }
                    let rendered = {
                        let view = View {
                            module: m,
                            p: &self.profiles[id],
                        };
                        let v = vm(m);
                        let ctx = v.trigger_ctx(&journey, Ctx::new(&view, now));
                        v.render(message, &ctx)?
                    };
                    let address = m
                        .message(message)
                        .and_then(|d| d.address)
                        .and_then(|f| m.schemas.profile.get(f as usize))
                        .map(|f| f.name.clone());
                    self.send(
                        id, &w.name, w.priority, send_id, escalation, address, rendered, now,
                    );
                }
                Effect::ScheduleTimer { at, seq } => {
                    let profile = self.profiles[id].id.clone();
                    self.set_timer(
                        at,
                        Wake::Journey {
                            profile,
                            workflow: w.name.clone(),
                            run: journey.run,
                            seq,
                        },
                    );
                }
                Effect::WaitForEvent { .. } => {}
                Effect::EscalationStopped => self.cancel_held(id, &w.name, true, now),
                Effect::Arm { split, arm } => {
                    let (profile, workflow) = rec(&w.name);
                    self.log.push(Record::Arm {
                        at: now,
                        profile,
                        workflow,
                        split: m.string(m.splits[split as usize].name).to_owned(),
                        arm: m.arm_name(split, arm as usize).into_owned(),
                    });
                }
                Effect::GoalReached { goal } => {
                    let (profile, workflow) = rec(&w.name);
                    self.log.push(Record::GoalReached {
                        at: now,
                        profile,
                        workflow,
                        goal: m.string(w.goals[goal as usize].name).to_owned(),
                    });
                }
                Effect::Exit { reason } => {
                    self.cancel_held(id, &w.name, false, now);
                    let (profile, workflow) = rec(&w.name);
                    self.log.push(Record::Exited {
                        at: now,
                        profile,
                        workflow,
                        reason,
                    });
                }
                Effect::Completed => {
                    let (profile, workflow) = rec(&w.name);
                    self.log.push(Record::Completed {
                        at: now,
                        profile,
                        workflow,
                    });
                }
            }
        }
        self.profiles
            .get_mut(id)
            .expect("profile")
            .journeys
            .insert(w.name.clone(), journey);
        Ok(())
    }

    /// A message on its way: address, then quiet hours, then the cap.
    #[allow(clippy::too_many_arguments, reason = "one send, spelt out")]
    fn send(
        &mut self,
        id: &str,
        workflow: &str,
        priority: Priority,
        send_id: u64,
        escalation: bool,
        address: Option<String>,
        message: Rendered,
        now: DateTime<Utc>,
    ) {
        let channel = message.channel;
        if let Some(field) = &address {
            if self.profiles[id]
                .attributes
                .get(field)
                .is_none_or(Value::is_none)
            {
                self.log.push(Record::Dropped {
                    at: now,
                    profile: Arc::from(id),
                    workflow: Arc::from(workflow),
                    send_id,
                    reason: format!("no `{field}` to send {} to", channel.as_str()),
                });
                return;
            }
        }
        // The policy in force is the current version's, whichever version
        // the journey runs.
        let m = &*self.current();
        let transactional = priority == Priority::Transactional;
        let capped_channel = !transactional && m.policy.caps.iter().any(|c| c.covers(channel));
        if !transactional {
            let view = View {
                module: m,
                p: &self.profiles[id],
            };
            let windows: Vec<calendar::Window> = m
                .policy
                .quiet_hours
                .iter()
                .filter(|q| q.channels.is_empty() || q.channels.contains(&channel))
                .map(|q| calendar::Window {
                    tz: vm(m).zone(q.zone, &view),
                    from: q.from,
                    to: q.to,
                })
                .collect();
            match calendar::quiet_release(now, &windows, send_id) {
                None => {}
                Some(None) => {
                    self.log.push(Record::Dropped {
                        at: now,
                        profile: Arc::from(id),
                        workflow: Arc::from(workflow),
                        send_id,
                        reason: "quiet hours leave no time to send it within 48 hours".to_owned(),
                    });
                    return;
                }
                Some(Some(until)) => {
                    self.held.push(Held {
                        send_id,
                        profile: Arc::from(id),
                        workflow: workflow.to_owned(),
                        escalation,
                        capped_channel,
                        address,
                        message,
                    });
                    self.set_timer(until, Wake::Release { send_id });
                    self.log.push(Record::Deferred {
                        at: now,
                        until,
                        profile: Arc::from(id),
                        workflow: Arc::from(workflow),
                        send_id,
                    });
                    return;
                }
            }
        }
        self.deliver(id, workflow, send_id, capped_channel, message, now);
    }

    /// Goes out unless a cap of the current version is full: a sliding
    /// window over every capped send of the profile, all workflows.
    fn deliver(
        &mut self,
        id: &str,
        workflow: &str,
        send_id: u64,
        capped_channel: bool,
        message: Rendered,
        now: DateTime<Utc>,
    ) {
        if capped_channel {
            let m = self.current();
            let channel = message.channel;
            let sends = &self.profiles[id].capped_sends;
            let over = m
                .policy
                .caps
                .iter()
                .filter(|c| c.covers(channel))
                .any(|cap| {
                    let after = now - chrono::Duration::seconds(cap.per);
                    let counted = sends
                        .iter()
                        .filter(|(t, c)| *t > after && cap.channels().contains(c))
                        .count();
                    counted >= cap.count as usize
                });
            if over {
                self.log.push(Record::Capped {
                    at: now,
                    profile: Arc::from(id),
                    workflow: Arc::from(workflow),
                    send_id,
                });
                return;
            }
            self.profiles
                .get_mut(id)
                .expect("profile")
                .capped_sends
                .push((now, channel));
        }
        self.log.push(Record::Sent {
            at: now,
            profile: Arc::from(id),
            workflow: Arc::from(workflow),
            send_id,
            message,
        });
    }

    fn fire(&mut self, at: DateTime<Utc>, wake: Wake) -> Result<()> {
        match wake {
            Wake::Journey {
                profile,
                workflow,
                run,
                seq,
            } => {
                let current = self
                    .profiles
                    .get(&*profile)
                    .and_then(|p| p.journeys.get(&workflow))
                    .filter(|j| j.status == Status::Active && j.run == run && j.seq == seq)
                    .cloned();
                if let Some(journey) = current {
                    self.step(&profile, journey, Input::Timer { seq }, at)?;
                }
            }
            Wake::Release { send_id } => {
                let Some(i) = self.held.iter().position(|h| h.send_id == send_id) else {
                    return Ok(());
                };
                let h = self.held.remove(i);
                if let Some(field) = &h.address {
                    let gone = self.profiles[&*h.profile]
                        .attributes
                        .get(field)
                        .is_none_or(Value::is_none);
                    if gone {
                        self.log.push(Record::Dropped {
                            at,
                            profile: h.profile.clone(),
                            workflow: Arc::from(h.workflow.as_str()),
                            send_id,
                            reason: format!(
                                "no `{field}` to send {} to",
                                h.message.channel.as_str()
                            ),
                        });
                        return Ok(());
                    }
                }
                self.deliver(
                    &h.profile,
                    &h.workflow,
                    send_id,
                    h.capped_channel,
                    h.message,
                    at,
                );
            }
            Wake::QuietCheck {
                profile,
                workflow,
                since,
            } => {
                let spell = self
                    .quiet_workflows()
                    .into_iter()
                    .find(|(w, _)| *w == workflow)
                    .map(|(_, d)| d);
                let p = self.profiles.get_mut(&*profile).expect("profile");
                let Some(d) = spell else {
                    // No longer an `inactive for` workflow.
                    p.quiet_checks.retain(|w| *w != workflow);
                    return Ok(());
                };
                let last = p.last_event.unwrap_or(p.created_at);
                let due = plus(last, d);
                if last != since || due > at {
                    // Active since: the check moves to the end of the spell.
                    self.set_timer(
                        due.max(at),
                        Wake::QuietCheck {
                            profile,
                            workflow,
                            since: last,
                        },
                    );
                    return Ok(());
                }
                // Quiet for the whole spell: enter; the next check is set
                // by the next event.
                p.quiet_checks.retain(|w| *w != workflow);
                let wi = self
                    .current()
                    .workflow_id(&workflow)
                    .expect("a current workflow");
                self.enter(&profile, wi, None, at)?;
            }
            Wake::Date {
                profile,
                workflow,
                trigger,
                at: armed_for,
            } => {
                let p = self.profiles.get_mut(&*profile).expect("profile");
                let Some(i) = p
                    .dates
                    .iter()
                    .position(|(w, t, a)| *w == workflow && *t == trigger && *a == armed_for)
                else {
                    // Re-armed or disarmed since.
                    return Ok(());
                };
                p.dates.remove(i);
                // It fires if the current version still has the trigger
                // and it still falls on this instant.
                let just_before = armed_for - chrono::Duration::nanoseconds(1);
                let fires = self.date_triggers().iter().any(|(w, t, d)| {
                    *w == workflow
                        && *t == trigger
                        && self.date_occurrence(&profile, d, just_before) == Some(armed_for)
                });
                if fires {
                    let wi = self
                        .current()
                        .workflow_id(&workflow)
                        .expect("a current workflow");
                    self.enter(&profile, wi, None, at)?;
                }
                self.arm_dates(&profile, at);
            }
        }
        Ok(())
    }

    /// Stores a profile's past, as `nudge test`'s `given` steps do: events
    /// that happened before the run (history, not replayed), and the quiet
    /// checks of the spell after the last of them (due no earlier than
    /// `start`).
    pub fn given_history(
        &mut self,
        id: &str,
        attributes: Props,
        events: Vec<(DateTime<Utc>, String, Props)>,
        start: DateTime<Utc>,
    ) {
        let first = events.first().map_or(start, |e| e.0).min(start);
        let last = events.last().map(|e| e.0);
        let history: Vec<Event> = events
            .into_iter()
            .enumerate()
            .map(|(i, (at, name, props))| Event {
                name: Arc::from(name.as_str()),
                at,
                seq: i as u64 + 1,
                props,
            })
            .collect();
        self.profiles.insert(
            id.to_owned(),
            Profile {
                id: Arc::from(id),
                attributes: attributes
                    .into_iter()
                    .filter(|(_, v)| !v.is_none())
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                created_at: first,
                last_event: last,
                events_seen: history.len() as u64,
                history,
                journeys: BTreeMap::new(),
                entries: BTreeMap::new(),
                capped_sends: Vec::new(),
                quiet_checks: Vec::new(),
                dates: Vec::new(),
            },
        );
        let since = last.unwrap_or(first);
        for (workflow, d) in self.quiet_workflows() {
            let profile = self.profiles[id].id.clone();
            self.profiles
                .get_mut(id)
                .expect("profile")
                .quiet_checks
                .push(workflow.clone());
            self.set_timer(
                plus(since, d).max(start),
                Wake::QuietCheck {
                    profile,
                    workflow,
                    since,
                },
            );
        }
        self.arm_dates(id, start);
    }
}
