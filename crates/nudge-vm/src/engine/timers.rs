//! Timers: moving the clock (firing what is due, in order), setting a
//! timer (with the guard against a rule that re-arms one at the instant it
//! fires), firing journey, outbox and quiet-check timers, and arming the
//! quiet checks of `inactive for` workflows.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Engine, EngineError, Result};
use crate::journey::Input;
use crate::record::Record;
use crate::store::{ProfileRecord, Store, Timer};
use crate::value::Value;
use crate::vm::plus;

/// How many timers of one profile may be set for the instant being handled
/// before the engine calls it a loop (a profile has a handful per workflow).
const MAX_BURST: u32 = 10_000;

impl<S: Store> Engine<S> {
    pub(super) fn advance(&mut self, t: DateTime<Utc>) -> Result<()> {
        if t < self.now {
            return Err(EngineError::Backwards {
                at: t,
                now: self.now,
            });
        }
        while let Some((at, timer)) = self.store.pop_due(t)? {
            // A timer overdue when the engine started (the runtime was
            // stopped past its due time) fires late, at the clock: what it
            // runs, and the waits after, count from then.
            self.now = self.now.max(at);
            let fired = self.fire(self.now, timer);
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
    pub(super) fn schedule(&mut self, at: DateTime<Utc>, timer: Timer) {
        if at <= self.now && self.broken.is_none() {
            let (profile, workflow) = match &timer {
                Timer::Journey {
                    profile, workflow, ..
                }
                | Timer::Inactivity {
                    profile, workflow, ..
                }
                | Timer::Date {
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
            Timer::Date {
                profile,
                workflow,
                trigger,
                at: armed_for,
            } => self.fire_date(at, profile, workflow, trigger, armed_for)?,
        }
        Ok(())
    }

    /// Schedules a quiet check for every `inactive for` workflow that has
    /// none pending for this profile. A check that finds activity re-arms
    /// itself from the last activity, so there is one timer per profile and
    /// workflow, not one per event.
    pub(super) fn arm_quiet_checks(&mut self, p: &mut ProfileRecord, since: DateTime<Utc>) {
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
}
