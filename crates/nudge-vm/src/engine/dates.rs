//! Date triggers (`3d before profile.trial_ends_at at 10:00 local`,
//! `anniversary of profile.birthday at 09:00`): arming a profile's
//! instants when its fields, its zone or the module change, and firing
//! them.
//!
//! A profile keeps one armed instant per date trigger (`ProfileState::
//! dates`); a timer fires only if the profile still has that very instant
//! armed, so a field changed back and forth, or a redeploy, never leaves a
//! second timer that enters. An instant at or before the moment it is
//! computed is not armed (a date already past when it is set does not
//! fire), except one already armed that is due or overdue and has not
//! fired yet: two triggers of one instant both fire, and so do triggers
//! a stopped runtime let pass.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use nudge_bytecode::{DateTrigger, Trigger};

use super::{Engine, ProfileFacts, Result};
use crate::store::{DateArm, ProfileState, Store, Timer};
use crate::time::date_occurrence;
use crate::value::Value;

/// The date triggers of a module: (workflow, trigger position, trigger),
/// in the order of its workflows and their triggers.
pub(super) fn date_triggers(m: &nudge_bytecode::Module) -> Vec<(Arc<str>, u16, DateTrigger)> {
    let mut out = Vec::new();
    for w in &m.workflows {
        for (i, t) in w.triggers.iter().enumerate() {
            if let Trigger::Date(d) = t {
                let i = u16::try_from(i).unwrap_or(u16::MAX);
                out.push((Arc::from(w.name.as_str()), i, *d));
            }
        }
    }
    out
}

impl<S: Store> Engine<S> {
    /// The instant `trigger` next fires for this profile strictly after
    /// `after`, from its fields as they are.
    fn occurrence(
        &self,
        st: &ProfileState,
        trigger: &DateTrigger,
        after: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let module = &self.module;
        let field = module.schemas.profile.get(trigger.field as usize)?;
        let facts = ProfileFacts { module, state: st };
        let Value::Time(value) = crate::facts::Facts::attribute(&facts, &field.name) else {
            return None;
        };
        let vm = self.vm(module);
        let at = trigger.at.map(|(m, zone)| (m, vm.zone(zone, &facts)));
        date_occurrence(value, trigger.offset, trigger.yearly, at, after)
    }

    /// Arms the profile's date triggers as its fields now say: a trigger
    /// whose instant changed gets a timer for the new one, one whose
    /// field was cleared (or whose instant passed) is disarmed, and
    /// triggers a redeploy removed are dropped.
    pub(super) fn arm_dates(&mut self, st: &mut ProfileState, now: DateTime<Utc>) {
        st.dates_module = self.module_hash;
        if self.date_triggers.is_empty() && st.dates.is_empty() {
            return;
        }
        let triggers = self.date_triggers.clone();
        let mut armed = Vec::with_capacity(triggers.len());
        for (workflow, i, trigger) in triggers.iter() {
            let have = st
                .dates
                .iter()
                .find(|a| a.workflow == *workflow && a.trigger == *i)
                .map(|a| a.at);
            // An instant due now or overdue whose timer has not fired yet
            // (another trigger of the same instant fired first, or a
            // runtime stopped past both) stays armed while the fields
            // still give it: an armed instant that fired is no longer
            // armed.
            let want = match have {
                Some(h) if h <= now && self.occurrence(st, trigger, just_before(h)) == Some(h) => {
                    Some(h)
                }
                _ => self.occurrence(st, trigger, now),
            };
            let Some(at) = want else { continue };
            if have != Some(at) {
                self.schedule(
                    at,
                    Timer::Date {
                        profile: st.record.id.clone(),
                        workflow: workflow.clone(),
                        trigger: *i,
                        at,
                    },
                );
            }
            armed.push(DateArm {
                workflow: workflow.clone(),
                trigger: *i,
                at,
            });
        }
        st.dates = armed;
    }

    /// Arms what the current module's date triggers need for profile `id`
    /// (a profile loaded from elsewhere, or after a deploy), as one step.
    pub fn arm_profile_dates(&mut self, id: &str, now: DateTime<Utc>) -> Result<()> {
        self.checked(|e| {
            e.advance(now)?;
            let Some(mut st) = e.store.load(id)? else {
                return Ok(());
            };
            e.arm_dates(&mut st, now);
            e.store.save(st);
            e.end_step(Ok(()))
        })
    }

    /// A due date trigger: the profile enters if it still has this instant
    /// armed, then its next instant (next year's, for an anniversary) is
    /// armed.
    pub(super) fn fire_date(
        &mut self,
        at: DateTime<Utc>,
        profile: Arc<str>,
        workflow: Arc<str>,
        trigger: u16,
        armed_for: DateTime<Utc>,
    ) -> Result<()> {
        let Some(mut st) = self.store.load(&profile)? else {
            return Ok(());
        };
        let Some(i) = st
            .dates
            .iter()
            .position(|a| a.workflow == workflow && a.trigger == trigger && a.at == armed_for)
        else {
            self.store.save(st);
            return Ok(());
        };
        st.dates.remove(i);
        // Armed by an earlier version: it fires only if the current one
        // still has this trigger, and it still falls on this instant.
        let current = self.module.workflow_id(&workflow).filter(|&wi| {
            self.date_triggers.iter().any(|(w, i, t)| {
                **w == *workflow
                    && *i == trigger
                    && self.occurrence(&st, t, just_before(armed_for)) == Some(armed_for)
            }) && self.module.workflows.get(wi as usize).is_some()
        });
        let result = match current {
            Some(wi) => self.enter_keyed(&mut st, wi, None, date_key(trigger), at),
            None => Ok(()),
        };
        self.arm_dates(&mut st, at);
        self.store.save(st);
        result
    }
}

/// The instant just before `t` (an occurrence strictly after it is `t`
/// itself, if `t` is one).
fn just_before(t: DateTime<Utc>) -> DateTime<Utc> {
    t - chrono::Duration::nanoseconds(1)
}

/// The entry-log key of a date trigger: apart from events' positions
/// (which count up from 1) and from `inactive for` (0).
fn date_key(trigger: u16) -> u64 {
    u64::MAX - u64::from(trigger)
}
