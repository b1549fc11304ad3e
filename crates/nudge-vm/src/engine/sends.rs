//! What a step does and how its messages go out: applying a step's
//! effects (sends, timers, goals, exits, completion), then for each
//! message the address, quiet hours (deferral to the outbox) and the
//! frequency cap; and cancelling parked messages.

use chrono::{DateTime, Utc};

use nudge_bytecode::{Module, Priority, Workflow};

use super::{Engine, ProfileFacts, Result};
use crate::journey::{Effect, Journey};
use crate::message::Rendered;
use crate::record::Record;
use crate::store::{OutboxItem, ProfileState, Store, Timer};
use crate::time::{quiet_release, Quiet, QuietWindow};
use crate::value::Value;
use crate::vm::{minus, Ctx, Vm};

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

impl<S: Store> Engine<S> {
    pub(super) fn apply(
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
                Effect::Arm { split, arm } => self.log.push(Record::Arm {
                    at: now,
                    profile: st.record.id.clone(),
                    workflow: self.name(&w.name),
                    split: module
                        .splits
                        .get(split as usize)
                        .map(|s| module.string(s.name).to_owned())
                        .unwrap_or_default(),
                    arm: module.arm_name(split, arm as usize).into_owned(),
                }),
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
    pub(super) fn deliver(
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

    /// Drops the parked messages of a profile's journey in `workflow` (only
    /// those of escalation steps when `escalation_only`), in send id order.
    pub(super) fn cancel_outbox(
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
}
