//! The storage the event-handling core needs, and an in-memory store.
//!
//! The durable server implements [`Store`] on sled; the simulator and
//! `nudge test` use [`MemoryStore`]. Everything the engine keeps goes
//! through this trait, so both run the same logic.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use nudge_bytecode::Module;
use serde::{Deserialize, Serialize};

use crate::journey::Journey;
use crate::render::Rendered;
use crate::value::{Event, Props};

/// What is known about a profile, besides its history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileRecord {
    /// The id.
    pub id: String,
    /// Declared attributes that are set (shared: every event reads the
    /// profile, few change it).
    pub attributes: Arc<Props>,
    /// When it was first seen.
    pub created_at: DateTime<Utc>,
    /// The last accepted `track` event.
    pub last_activity: Option<DateTime<Utc>>,
    /// The seq the next event gets.
    pub next_seq: u64,
    /// `inactive for` workflows with a quiet check scheduled for this
    /// profile (one pending check per workflow, re-armed on activity).
    pub quiet_checks: Vec<Arc<str>>,
}

/// How often and when a profile entered a workflow (across versions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryLog {
    /// Entries so far (the next run number).
    pub count: u32,
    /// The last entry.
    pub last: Option<DateTime<Utc>>,
}

/// A scheduled wake-up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Timer {
    /// Resume a journey (`seq` must still match).
    Journey {
        /// The profile.
        profile: String,
        /// The workflow's name.
        workflow: String,
        /// The journey's run (a restarted journey must not take the old
        /// run's timers).
        run: u32,
        /// The journey's timer generation.
        seq: u32,
    },
    /// Release a deferred message.
    Outbox {
        /// The send id.
        send_id: u64,
    },
    /// Check whether a profile has stayed quiet since `since`.
    Inactivity {
        /// The profile.
        profile: String,
        /// The workflow's name.
        workflow: String,
        /// The activity the quiet spell started after.
        since: DateTime<Utc>,
    },
}

/// A message waiting for the end of quiet hours.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// The deterministic send id.
    pub send_id: u64,
    /// The profile.
    pub profile: String,
    /// The workflow's name.
    pub workflow: String,
    /// The journey's run.
    pub run: u32,
    /// Sent from an escalation step.
    pub escalation: bool,
    /// Counted by the cap.
    pub capped_channel: bool,
    /// The profile attribute holding the address, re-checked on release.
    pub address: Option<String>,
    /// The content, rendered when the step ran.
    pub message: Rendered,
    /// When it is released.
    pub due: DateTime<Utc>,
}

/// Storage for the event-handling core.
pub trait Store {
    /// A profile.
    fn profile(&self, id: &str) -> Option<ProfileRecord>;
    /// Creates or replaces a profile.
    fn put_profile(&mut self, profile: ProfileRecord);
    /// Appends an event to a profile's history.
    fn append_event(&mut self, profile: &str, event: Event);
    /// The profile's events called `name`, newest first, until `visit`
    /// returns false.
    fn history(&self, profile: &str, name: &str, visit: &mut dyn FnMut(&Event) -> bool);

    /// The latest journey of a profile in a workflow (active or ended).
    fn journey(&self, profile: &str, workflow: &str) -> Option<Journey>;
    /// The workflows a profile has journeys in, in name order.
    fn journey_workflows(&self, profile: &str) -> Vec<String>;
    /// Stores a journey.
    fn put_journey(&mut self, profile: &str, workflow: &str, journey: Journey);

    /// Entry bookkeeping.
    fn entry_log(&self, profile: &str, workflow: &str) -> EntryLog;
    /// Updates entry bookkeeping.
    fn put_entry_log(&mut self, profile: &str, workflow: &str, log: EntryLog);

    /// Schedules a timer.
    fn schedule(&mut self, at: DateTime<Utc>, timer: Timer);
    /// The earliest timer's time.
    fn next_timer(&self) -> Option<DateTime<Utc>>;
    /// Removes and returns the earliest timer due at or before `now`
    /// (ties in scheduling order).
    fn pop_due(&mut self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Timer)>;

    /// Parks a deferred message.
    fn put_outbox(&mut self, item: OutboxItem);
    /// Takes a deferred message out.
    fn take_outbox(&mut self, send_id: u64) -> Option<OutboxItem>;
    /// Deferred messages of a profile's journey.
    fn outbox_of(&self, profile: &str, workflow: &str) -> Vec<u64>;

    /// How many of the profile's sends counted by the cap happened after
    /// `after`.
    fn capped_sends_after(&self, profile: &str, after: DateTime<Utc>) -> usize;
    /// Records a send counted by the cap.
    fn record_capped_send(&mut self, profile: &str, at: DateTime<Utc>);

    /// Stores a module by content hash.
    fn put_module(&mut self, hash: u64, module: Arc<Module>);
    /// A module by content hash.
    fn module(&self, hash: u64) -> Option<Arc<Module>>;
}

/// Everything in memory: the simulator's and the test runner's store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    profiles: HashMap<String, ProfileRecord>,
    history: HashMap<String, Vec<Event>>,
    journeys: HashMap<String, BTreeMap<String, Journey>>,
    entries: HashMap<(String, String), EntryLog>,
    timers: BTreeMap<(DateTime<Utc>, u64), Timer>,
    timer_counter: u64,
    outbox: BTreeMap<u64, OutboxItem>,
    outbox_index: HashMap<(String, String), std::collections::BTreeSet<u64>>,
    capped: HashMap<String, Vec<DateTime<Utc>>>,
    modules: HashMap<u64, Arc<Module>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// How many timers are pending.
    pub fn pending_timers(&self) -> usize {
        self.timers.len()
    }

    /// How many journeys (active or ended) are stored.
    pub fn journey_count(&self) -> usize {
        self.journeys.values().map(BTreeMap::len).sum()
    }
}

impl Store for MemoryStore {
    fn profile(&self, id: &str) -> Option<ProfileRecord> {
        self.profiles.get(id).cloned()
    }

    fn put_profile(&mut self, profile: ProfileRecord) {
        self.profiles.insert(profile.id.clone(), profile);
    }

    fn append_event(&mut self, profile: &str, event: Event) {
        self.history
            .entry(profile.to_owned())
            .or_default()
            .push(event);
    }

    fn history(&self, profile: &str, name: &str, visit: &mut dyn FnMut(&Event) -> bool) {
        if let Some(events) = self.history.get(profile) {
            for e in events.iter().rev() {
                if &*e.name == name && !visit(e) {
                    return;
                }
            }
        }
    }

    fn journey(&self, profile: &str, workflow: &str) -> Option<Journey> {
        self.journeys.get(profile)?.get(workflow).cloned()
    }

    fn journey_workflows(&self, profile: &str) -> Vec<String> {
        self.journeys
            .get(profile)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn put_journey(&mut self, profile: &str, workflow: &str, journey: Journey) {
        self.journeys
            .entry(profile.to_owned())
            .or_default()
            .insert(workflow.to_owned(), journey);
    }

    fn entry_log(&self, profile: &str, workflow: &str) -> EntryLog {
        self.entries
            .get(&(profile.to_owned(), workflow.to_owned()))
            .copied()
            .unwrap_or_default()
    }

    fn put_entry_log(&mut self, profile: &str, workflow: &str, log: EntryLog) {
        self.entries
            .insert((profile.to_owned(), workflow.to_owned()), log);
    }

    fn schedule(&mut self, at: DateTime<Utc>, timer: Timer) {
        self.timer_counter += 1;
        self.timers.insert((at, self.timer_counter), timer);
    }

    fn next_timer(&self) -> Option<DateTime<Utc>> {
        self.timers.keys().next().map(|(at, _)| *at)
    }

    fn pop_due(&mut self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Timer)> {
        let key = *self.timers.keys().next()?;
        if key.0 > now {
            return None;
        }
        self.timers.remove(&key).map(|t| (key.0, t))
    }

    fn put_outbox(&mut self, item: OutboxItem) {
        self.outbox_index
            .entry((item.profile.clone(), item.workflow.clone()))
            .or_default()
            .insert(item.send_id);
        self.outbox.insert(item.send_id, item);
    }

    fn take_outbox(&mut self, send_id: u64) -> Option<OutboxItem> {
        let item = self.outbox.remove(&send_id)?;
        let key = (item.profile.clone(), item.workflow.clone());
        if let Some(ids) = self.outbox_index.get_mut(&key) {
            ids.remove(&send_id);
            if ids.is_empty() {
                self.outbox_index.remove(&key);
            }
        }
        Some(item)
    }

    fn outbox_of(&self, profile: &str, workflow: &str) -> Vec<u64> {
        self.outbox_index
            .get(&(profile.to_owned(), workflow.to_owned()))
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default()
    }

    fn capped_sends_after(&self, profile: &str, after: DateTime<Utc>) -> usize {
        self.capped.get(profile).map_or(0, |times| {
            times.iter().rev().take_while(|t| **t > after).count()
        })
    }

    fn record_capped_send(&mut self, profile: &str, at: DateTime<Utc>) {
        self.capped.entry(profile.to_owned()).or_default().push(at);
    }

    fn put_module(&mut self, hash: u64, module: Arc<Module>) {
        self.modules.insert(hash, module);
    }

    fn module(&self, hash: u64) -> Option<Arc<Module>> {
        self.modules.get(&hash).cloned()
    }
}
