//! Triggers and entry rules: the steps of a `track` event (running
//! journeys, then the triggers it matches), entering a workflow (required
//! attributes, `entry` rules, the audience at entry) and ending a journey
//! early.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use nudge_bytecode::{EntryRule, WorkflowId};

use super::{Engine, EngineError, ProfileFacts, Result};
use crate::journey::{ExitReason, Input, Journey, Status};
use crate::record::{Record, Suppression};
use crate::store::{EntryLog, ProfileRecord, ProfileState, Store};
use crate::value::Event;
use crate::vm::{plus, Ctx};

impl<S: Store> Engine<S> {
    /// Whether an ended journey may still reach a goal at `now`: its
    /// workflow (in the journey's own version) has goals it has not
    /// reached, and `now` is inside the longest window.
    fn goals_open(&self, j: &Journey, now: DateTime<Utc>) -> bool {
        let older;
        let module = if j.module == self.module_hash {
            &*self.module
        } else {
            match self.store.module(j.module) {
                Some(m) => {
                    older = m;
                    &*older
                }
                // A version the store lacks: an ended journey there is not
                // worth failing the event over.
                None => return false,
            }
        };
        let Some(w) = module.workflows.get(j.workflow as usize) else {
            return false;
        };
        j.goals.len() < w.goals.len()
            && w.goals
                .iter()
                .any(|g| now <= plus(j.entered_at, module.duration(g.within)))
    }

    fn complete(&self, p: &ProfileRecord) -> bool {
        self.required
            .iter()
            .all(|f| p.attributes.get(f).is_some_and(|v| !v.is_none()))
    }

    /// The steps of a `track` event: running journeys, then triggers.
    pub(super) fn track_steps(
        &mut self,
        st: &mut ProfileState,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<()> {
        // Running journeys (each in its own module version), and ended
        // ones whose goals may still be reached. A step only touches its
        // own journey, so they can be read up front.
        for (wf, journey) in st.journeys_where(|j| j.is_active() || self.goals_open(j, now)) {
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

    pub(super) fn enter(
        &mut self,
        st: &mut ProfileState,
        wi: WorkflowId,
        trigger: Option<Event>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let key = trigger.as_ref().map_or(0, |e| e.seq);
        self.enter_keyed(st, wi, trigger, key, now)
    }

    /// [`Engine::enter`] with the entry log's key of what started it (the
    /// event's position, 0 for `inactive for`, another for a date).
    pub(super) fn enter_keyed(
        &mut self,
        st: &mut ProfileState,
        wi: WorkflowId,
        trigger: Option<Event>,
        trigger_key: u64,
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

    /// Ends the running journeys of profile `id` in workflows the current
    /// version does not have (a deploy removed them), at `now`, as one
    /// step: each is recorded as exited (`removed`) and its parked
    /// messages are dropped. Returns their workflows. A runtime calls it,
    /// after a deploy, for each profile with such a journey.
    pub fn end_removed(&mut self, id: &str, now: DateTime<Utc>) -> Result<Vec<Arc<str>>> {
        self.checked(|e| e.end_removed_unchecked(id, now))
    }

    fn end_removed_unchecked(&mut self, id: &str, now: DateTime<Utc>) -> Result<Vec<Arc<str>>> {
        self.advance(now)?;
        let Some(mut state) = self.store.load(id).map_err(EngineError::Store)? else {
            return self.end_step(Ok(Vec::new()));
        };
        let module = self.module.clone();
        let removed: Vec<(Arc<str>, Journey)> = state
            .workflows
            .iter()
            .filter(|(name, _)| !module.workflows.iter().any(|w| *w.name == **name))
            .filter_map(|(name, w)| {
                let j = w.journey.as_ref().filter(|j| j.is_active())?;
                Some((name.clone(), j.clone()))
            })
            .collect();
        let names = removed.iter().map(|(n, _)| n.clone()).collect();
        for (name, journey) in removed {
            self.end_journey(&mut state, &name, journey, ExitReason::Removed, now);
        }
        self.store.save(state);
        self.end_step(Ok(names))
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
}
