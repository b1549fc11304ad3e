//! The storage the event-handling core needs, and an in-memory store.
//!
//! The simulator and `nudge test` use [`MemoryStore`]; a durable store
//! (sled, not built yet) would implement the same trait. Everything the
//! engine keeps goes through it, so every store runs the same logic.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::hash::Hasher as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use nudge_bytecode::{Channel, Module};
use serde::{Deserialize, Serialize};

use crate::journey::Journey;
use crate::message::Rendered;
use crate::value::{Event, Props};

/// What is known about a profile, besides its history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileRecord {
    /// The id.
    pub id: Arc<str>,
    /// Declared attributes that are set.
    pub attributes: Props,
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
    /// What started the last entry: the trigger event's history position,
    /// or 0 for an `inactive for` spell (one entry per instant and trigger
    /// is an engine invariant).
    #[serde(default)]
    pub trigger: u64,
}

/// What a due quiet check reads of its profile. A store may keep it apart
/// from the profile record (see [`Store::popped_quiet_state`]), so that a
/// check that finds the profile active since re-arms without reading the
/// record: most quiet checks end that way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietState {
    /// The last accepted `track` event, or when the profile was created.
    pub last_active: DateTime<Utc>,
    /// How many quiet checks are pending (`ProfileRecord::quiet_checks`).
    pub pending_checks: usize,
}

impl QuietState {
    /// The state of a profile record.
    pub fn of(p: &ProfileRecord) -> QuietState {
        QuietState {
            last_active: p.last_activity.unwrap_or(p.created_at),
            pending_checks: p.quiet_checks.len(),
        }
    }
}

/// A scheduled wake-up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Timer {
    /// Resume a journey (`seq` must still match).
    Journey {
        /// The profile.
        profile: Arc<str>,
        /// The workflow's name.
        workflow: Arc<str>,
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
        profile: Arc<str>,
        /// The workflow's name.
        workflow: Arc<str>,
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
    pub profile: Arc<str>,
    /// The workflow's name.
    pub workflow: Arc<str>,
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

    /// Takes a profile out to change it; the caller puts it back with
    /// `put_profile` before anything else asks for it. A store that cannot
    /// lend its record returns a copy (the default).
    fn take_profile(&mut self, id: &str) -> Option<ProfileRecord> {
        self.profile(id)
    }
    /// Appends an event to a profile's history.
    fn append_event(&mut self, profile: &str, event: Event);
    /// The profile's events called `name`, newest first, until `visit`
    /// returns false.
    fn history(&self, profile: &str, name: &str, visit: &mut dyn FnMut(&Event) -> bool);

    /// The latest journey of a profile in a workflow (active or ended).
    fn journey(&self, profile: &str, workflow: &str) -> Option<Journey>;
    /// Whether the profile's latest journey in a workflow is running (a
    /// store may answer without copying it; the default copies).
    fn has_active_journey(&self, profile: &str, workflow: &str) -> bool {
        self.journey(profile, workflow)
            .is_some_and(|j| j.is_active())
    }
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

    /// The [`QuietState`] of the profile of the timer `pop_due` returned
    /// last, if the store keeps it apart from the record and the profile
    /// record is in the store; `None` tells the caller to read the record.
    fn popped_quiet_state(&self) -> Option<QuietState> {
        None
    }

    /// Parks a deferred message.
    fn put_outbox(&mut self, item: OutboxItem);
    /// Takes a deferred message out.
    fn take_outbox(&mut self, send_id: u64) -> Option<OutboxItem>;
    /// Deferred messages of a profile's journey.
    fn outbox_of(&self, profile: &str, workflow: &str) -> Vec<u64>;

    /// How many of the profile's sends on `channels` that a cap counts
    /// happened after `after`.
    fn capped_sends_after(
        &self,
        profile: &str,
        after: DateTime<Utc>,
        channels: &[Channel],
    ) -> usize;
    /// Records a send that a cap counts.
    fn record_capped_send(&mut self, profile: &str, at: DateTime<Utc>, channel: Channel);

    /// Stores a module by content hash.
    fn put_module(&mut self, hash: u64, module: Arc<Module>);
    /// A module by content hash.
    fn module(&self, hash: u64) -> Option<Arc<Module>>;

    /// The profile's active journeys, in workflow name order (a store may
    /// answer this without copying the ended ones).
    fn active_journeys(&self, profile: &str) -> Vec<(String, Journey)> {
        self.journey_workflows(profile)
            .into_iter()
            .filter_map(|w| {
                let j = self.journey(profile, &w).filter(Journey::is_active)?;
                Some((w, j))
            })
            .collect()
    }
}

/// A fast, deterministic hasher for the in-memory store's keys (FxHash:
/// std's SipHash guards against hostile keys, which a simulation on the
/// user's own trace does not need, and costs a fifth of the run).
#[derive(Clone, Copy, Debug, Default)]
pub struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

/// How long an id may be to be kept inline: a UUID's 36 characters fit.
const INLINE_KEY: usize = 38;

/// A profile id as a key. Ids of up to [`INLINE_KEY`] bytes are kept
/// inline, so comparing keys in the map or in a slot reads no other memory
/// (with 100 000 profiles, following a pointer to the id was a cache miss).
#[derive(Clone, Debug)]
enum Key {
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    Heap(Box<[u8]>),
}

impl Key {
    fn new(id: &str) -> Key {
        let b = id.as_bytes();
        match u8::try_from(b.len()) {
            Ok(len) if b.len() <= INLINE_KEY => {
                let mut bytes = [0u8; INLINE_KEY];
                bytes[..b.len()].copy_from_slice(b);
                Key::Inline { len, bytes }
            }
            _ => Key::Heap(b.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len).min(INLINE_KEY)],
            Key::Heap(b) => b,
        }
    }
}

impl Default for Key {
    fn default() -> Self {
        Key::Inline {
            len: 0,
            bytes: [0; INLINE_KEY],
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Everything the store keeps about one profile, in one place: one lookup
/// per call instead of one per map.
#[derive(Debug, Default)]
struct Slot {
    key: Key,
    profile: Option<ProfileRecord>,
    history: Vec<Event>,
    /// By workflow name, sorted: the latest journey and the entry log side
    /// by side (entering reads both; one list is one cache miss, not two).
    workflows: Vec<(String, PerWorkflow)>,
    capped: Vec<(DateTime<Utc>, Channel)>,
    /// Deferred messages: (workflow, send id), sorted.
    outbox: Vec<(Arc<str>, u64)>,
}

/// What a slot keeps about one workflow.
#[derive(Debug, Default)]
struct PerWorkflow {
    journey: Option<Journey>,
    entries: EntryLog,
}

/// The entry for `key` in a sorted list, added (with the default value)
/// when missing.
fn entry_mut<'a, T: Default>(list: &'a mut Vec<(String, T)>, key: &str) -> &'a mut T {
    let i = match find(list, key) {
        Ok(i) => i,
        Err(i) => {
            list.insert(i, (key.to_owned(), T::default()));
            i
        }
    };
    &mut list[i].1
}

/// The profile index: open addressing over slot numbers. An entry holds
/// 32 bits of the key's hash (which also give its home position) and the
/// slot number plus one (0 is an empty entry); a candidate is confirmed by
/// the key kept in its slot, which the caller reads next anyway. One
/// cache miss in the table instead of two (control bytes, then a bucket
/// holding a copy of the key).
#[derive(Debug, Default)]
struct SlotIndex {
    table: Vec<u64>,
    len: usize,
}

/// 32 well-mixed bits of a key (FxHash, then the splitmix64 finaliser).
fn key_tag(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(bytes);
    let mut z = h.finish() ^ bytes.len() as u64;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) >> 32
}

impl SlotIndex {
    fn find(&self, slots: &[Slot], bytes: &[u8]) -> Option<u32> {
        if self.table.is_empty() {
            return None;
        }
        let mask = self.table.len() - 1;
        let tag = key_tag(bytes);
        let mut pos = tag as usize & mask;
        loop {
            let e = self.table[pos];
            if e == 0 {
                return None;
            }
            if e >> 32 == tag {
                let slot = (e & 0xffff_ffff) as u32 - 1;
                if slots
                    .get(slot as usize)
                    .is_some_and(|s| s.key.as_bytes() == bytes)
                {
                    return Some(slot);
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Adds a key known to be absent.
    fn insert(&mut self, bytes: &[u8], slot: u32) {
        if (self.len + 1) * 2 > self.table.len() {
            let old = std::mem::take(&mut self.table);
            self.table = vec![0; (old.len() * 2).max(16)];
            for e in old.into_iter().filter(|&e| e != 0) {
                self.place(e);
            }
        }
        self.place((key_tag(bytes) << 32) | (u64::from(slot) + 1));
        self.len += 1;
    }

    fn place(&mut self, entry: u64) {
        let mask = self.table.len() - 1;
        let mut pos = (entry >> 32) as usize & mask;
        while self.table[pos] != 0 {
            pos = (pos + 1) & mask;
        }
        self.table[pos] = entry;
    }
}

/// A pending timer: when it is due, its scheduling order (timers due at
/// the same time fire in that order), its profile's slot number when that
/// was known at scheduling time (`u32::MAX` when not: when the timer is
/// due, the engine's lookup of its profile by the timer's own id skips the
/// index) and the timer itself. They are kept together so that a due
/// timer is read where its sorted bucket lies, not from a table in random
/// order (that read was a cache miss per timer).
#[derive(Debug)]
struct Pending {
    at: DateTime<Utc>,
    order: u64,
    hint: u32,
    timer: Timer,
}

impl Pending {
    fn key(&self) -> (DateTime<Utc>, u64) {
        (self.at, self.order)
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// The bucket (UTC hour) of a time: small enough that a due bucket sorts
/// within the cache.
fn bucket(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(3_600)
}

/// Everything in memory: the simulator's and the test runner's store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    index: SlotIndex,
    slots: Vec<Slot>,
    /// The slot of the last profile asked about: the engine asks about the
    /// same profile many times in a row, and a hit skips the hash table.
    last: std::cell::Cell<u32>,
    /// Pending timers. The heap holds the timers of the hours before
    /// `horizon`; later ones wait in one bucket per hour and enter the heap
    /// when it runs dry, so the heap stays small (most timers, such as
    /// quiet checks, are days away). Every timer in the heap is earlier
    /// than every timer in a bucket, and the buckets are empty whenever the
    /// heap is.
    timers: BinaryHeap<Reverse<Pending>>,
    /// An hour's bucket once it is due, sorted latest first (popped from
    /// the end): sorting a bucket once is cheaper than pushing every timer
    /// through the heap. The next timer is the earlier of this list's last
    /// and the heap's top; together they are "the heap" above.
    current: Vec<Pending>,
    later: BTreeMap<i64, Vec<Pending>>,
    later_len: usize,
    horizon: i64,
    timer_counter: u64,
    /// Each slot's [`QuietState`] and the address of its record's id
    /// string (none while the record is lent out or absent), beside the
    /// slots: a dense array that stays in the cache, where a slot of
    /// 100 000 would not.
    quiet: Vec<Option<(usize, QuietState)>>,
    /// The timer `pop_due` returned last: the address and length of its
    /// profile id, and its slot. A lookup or a timer with that same id (the
    /// engine asks with the timer's own id, and moves it from the old
    /// timer into the new one) gets that slot without the index, and no
    /// other lookup reads that slot. Addresses can be reused, so nothing
    /// trusts them alone: a lookup confirms the slot by its key, and the
    /// quiet state is given only when the slot's record holds that very
    /// id string.
    popped: Option<(usize, usize, u32)>,
    outbox: HashMap<u64, OutboxItem, FxBuild>,
    modules: HashMap<u64, Arc<Module>>,
}

fn find<T>(list: &[(String, T)], key: &str) -> Result<usize, usize> {
    list.binary_search_by(|(k, _)| k.as_str().cmp(key))
}

impl MemoryStore {
    /// The earliest pending timer's key (from the heap or the due bucket).
    fn next_key(&self) -> Option<(DateTime<Utc>, u64)> {
        match (self.timers.peek(), self.current.last()) {
            (Some(Reverse(h)), Some(c)) => Some(h.key().min(c.key())),
            (Some(Reverse(h)), None) => Some(h.key()),
            (None, c) => c.map(Pending::key),
        }
    }

    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// How many timers are pending.
    pub fn pending_timers(&self) -> usize {
        self.timers.len() + self.current.len() + self.later_len
    }

    /// How many journeys (active or ended) are stored.
    pub fn journey_count(&self) -> usize {
        self.slots
            .iter()
            .flat_map(|s| &s.workflows)
            .filter(|(_, w)| w.journey.is_some())
            .count()
    }

    fn slot_index(&self, profile: &str) -> Option<usize> {
        // The profile of the timer just popped, asked by that timer's own
        // id: its slot is known (still confirmed by the key). Asked by any
        // other id, that slot is not read at all: a quiet check re-armed
        // without its record must not cost a cache miss later.
        if let Some((addr, len, slot)) = self.popped {
            if (profile.as_ptr().addr(), profile.len()) == (addr, len)
                && self
                    .slots
                    .get(slot as usize)
                    .is_some_and(|s| s.key.as_bytes() == profile.as_bytes())
            {
                self.last.set(slot);
                return Some(slot as usize);
            }
        }
        let last = self.last.get() as usize;
        if self
            .slots
            .get(last)
            .is_some_and(|s| s.key.as_bytes() == profile.as_bytes())
        {
            return Some(last);
        }
        let i = self.index.find(&self.slots, profile.as_bytes())?;
        self.last.set(i);
        Some(i as usize)
    }

    fn slot(&self, profile: &str) -> Option<&Slot> {
        self.slots.get(self.slot_index(profile)?)
    }

    fn slot_mut(&mut self, profile: &str) -> &mut Slot {
        let i = self.slot_index_or_insert(profile);
        &mut self.slots[i]
    }

    fn slot_index_or_insert(&mut self, profile: &str) -> usize {
        match self.slot_index(profile) {
            Some(i) => i,
            None => {
                let i = self.slots.len();
                let n = u32::try_from(i).unwrap_or(u32::MAX);
                self.slots.push(Slot {
                    key: Key::new(profile),
                    ..Slot::default()
                });
                self.quiet.push(None);
                self.index.insert(profile.as_bytes(), n);
                self.last.set(n);
                i
            }
        }
    }
}

impl Store for MemoryStore {
    fn profile(&self, id: &str) -> Option<ProfileRecord> {
        self.slot(id)?.profile.clone()
    }

    fn put_profile(&mut self, profile: ProfileRecord) {
        let i = self.slot_index_or_insert(&profile.id);
        if let Some(q) = self.quiet.get_mut(i) {
            *q = Some((profile.id.as_ptr().addr(), QuietState::of(&profile)));
        }
        self.slots[i].profile = Some(profile);
    }

    fn take_profile(&mut self, id: &str) -> Option<ProfileRecord> {
        let i = self.slot_index(id)?;
        if let Some(q) = self.quiet.get_mut(i) {
            *q = None;
        }
        self.slots.get_mut(i)?.profile.take()
    }

    fn popped_quiet_state(&self) -> Option<QuietState> {
        let (addr, _, slot) = self.popped?;
        let (id, state) = (*self.quiet.get(slot as usize)?)?;
        // The timer names the profile by the record's own id (one shared
        // string, alive as long as the record): the same address is the
        // same profile, so a wrong hint cannot give another's state.
        (id == addr).then_some(state)
    }

    fn append_event(&mut self, profile: &str, event: Event) {
        self.slot_mut(profile).history.push(event);
    }

    fn history(&self, profile: &str, name: &str, visit: &mut dyn FnMut(&Event) -> bool) {
        if let Some(slot) = self.slot(profile) {
            for e in slot.history.iter().rev() {
                if &*e.name == name && !visit(e) {
                    return;
                }
            }
        }
    }

    fn journey(&self, profile: &str, workflow: &str) -> Option<Journey> {
        let slot = self.slot(profile)?;
        let i = find(&slot.workflows, workflow).ok()?;
        slot.workflows[i].1.journey.clone()
    }

    fn has_active_journey(&self, profile: &str, workflow: &str) -> bool {
        self.slot(profile).is_some_and(|slot| {
            find(&slot.workflows, workflow).is_ok_and(|i| {
                slot.workflows[i]
                    .1
                    .journey
                    .as_ref()
                    .is_some_and(Journey::is_active)
            })
        })
    }

    fn journey_workflows(&self, profile: &str) -> Vec<String> {
        self.slot(profile)
            .map(|s| {
                s.workflows
                    .iter()
                    .filter(|(_, w)| w.journey.is_some())
                    .map(|(name, _)| name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn active_journeys(&self, profile: &str) -> Vec<(String, Journey)> {
        self.slot(profile)
            .map(|s| {
                s.workflows
                    .iter()
                    .filter_map(|(name, w)| {
                        let j = w.journey.as_ref().filter(|j| j.is_active())?;
                        Some((name.clone(), j.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn put_journey(&mut self, profile: &str, workflow: &str, journey: Journey) {
        entry_mut(&mut self.slot_mut(profile).workflows, workflow).journey = Some(journey);
    }

    fn entry_log(&self, profile: &str, workflow: &str) -> EntryLog {
        self.slot(profile)
            .and_then(|s| {
                let i = find(&s.workflows, workflow).ok()?;
                Some(s.workflows[i].1.entries)
            })
            .unwrap_or_default()
    }

    fn put_entry_log(&mut self, profile: &str, workflow: &str, log: EntryLog) {
        entry_mut(&mut self.slot_mut(profile).workflows, workflow).entries = log;
    }

    fn schedule(&mut self, at: DateTime<Utc>, timer: Timer) {
        self.timer_counter += 1;
        // Only the remembered slot is asked (the engine schedules a
        // profile's timers while it handles that profile): a hint must not
        // cost an index lookup.
        let hint = match &timer {
            Timer::Journey { profile, .. } | Timer::Inactivity { profile, .. } => {
                let last = self.last.get();
                let id = (profile.as_ptr().addr(), profile.len());
                if let Some((_, _, slot)) = self.popped.filter(|&(a, n, _)| (a, n) == id) {
                    slot
                } else if self
                    .slots
                    .get(last as usize)
                    .is_some_and(|s| s.key.as_bytes() == profile.as_bytes())
                {
                    last
                } else {
                    u32::MAX
                }
            }
            Timer::Outbox { .. } => u32::MAX,
        };
        let pending = Pending {
            at,
            order: self.timer_counter,
            hint,
            timer,
        };
        let b = bucket(at);
        if self.timers.is_empty() && self.current.is_empty() {
            // The buckets are empty too.
            self.horizon = b + 1;
            self.timers.push(Reverse(pending));
        } else if b < self.horizon {
            self.timers.push(Reverse(pending));
        } else {
            self.later.entry(b).or_default().push(pending);
            self.later_len += 1;
        }
    }

    fn next_timer(&self) -> Option<DateTime<Utc>> {
        self.next_key().map(|k| k.0)
    }

    fn pop_due(&mut self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Timer)> {
        let (at, _) = self.next_key()?;
        if at > now {
            return None;
        }
        let from_heap = self
            .timers
            .peek()
            .is_some_and(|top| self.current.last().is_none_or(|c| top.0 < *c));
        let pending = if from_heap {
            self.timers.pop().map(|Reverse(p)| p)
        } else {
            self.current.pop()
        }?;
        if self.timers.is_empty() && self.current.is_empty() {
            if let Some((b, mut list)) = self.later.pop_first() {
                self.horizon = b + 1;
                self.later_len -= list.len();
                list.sort_unstable_by(|a, b| b.cmp(a));
                self.current = list;
            }
        }
        let Pending {
            at, hint, timer, ..
        } = pending;
        self.popped = None;
        if (hint as usize) < self.slots.len() {
            if let Timer::Journey { profile, .. } | Timer::Inactivity { profile, .. } = &timer {
                self.popped = Some((profile.as_ptr().addr(), profile.len(), hint));
            }
        }
        Some((at, timer))
    }

    fn put_outbox(&mut self, item: OutboxItem) {
        let slot = self.slot_mut(&item.profile);
        let key = (item.workflow.clone(), item.send_id);
        if let Err(i) = slot.outbox.binary_search(&key) {
            slot.outbox.insert(i, key);
        }
        self.outbox.insert(item.send_id, item);
    }

    fn take_outbox(&mut self, send_id: u64) -> Option<OutboxItem> {
        let item = self.outbox.remove(&send_id)?;
        let slot = self.slot_mut(&item.profile);
        slot.outbox
            .retain(|(w, id)| !(*id == send_id && *w == item.workflow));
        Some(item)
    }

    fn outbox_of(&self, profile: &str, workflow: &str) -> Vec<u64> {
        self.slot(profile)
            .map(|s| {
                s.outbox
                    .iter()
                    .filter(|(w, _)| **w == *workflow)
                    .map(|(_, id)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn capped_sends_after(
        &self,
        profile: &str,
        after: DateTime<Utc>,
        channels: &[Channel],
    ) -> usize {
        self.slot(profile).map_or(0, |s| {
            s.capped
                .iter()
                .rev()
                .take_while(|(t, _)| *t > after)
                .filter(|(_, c)| channels.contains(c))
                .count()
        })
    }

    fn record_capped_send(&mut self, profile: &str, at: DateTime<Utc>, channel: Channel) {
        self.slot_mut(profile).capped.push((at, channel));
    }

    fn put_module(&mut self, hash: u64, module: Arc<Module>) {
        self.modules.insert(hash, module);
    }

    fn module(&self, hash: u64) -> Option<Arc<Module>> {
        self.modules.get(&hash).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn outbox(send_id: u64) -> Timer {
        Timer::Outbox { send_id }
    }

    #[test]
    fn timers_fire_in_time_then_scheduling_order_across_days() {
        let mut s = MemoryStore::new();
        s.schedule(at("2026-03-01T10:00:00Z"), outbox(1));
        // Days away: waits in a bucket.
        s.schedule(at("2026-03-09T10:00:00Z"), outbox(2));
        s.schedule(at("2026-03-05T10:00:00Z"), outbox(3));
        s.schedule(at("2026-03-05T10:00:00Z"), outbox(4));
        // Earlier than everything else, scheduled last.
        s.schedule(at("2026-02-20T10:00:00Z"), outbox(5));
        assert_eq!(s.pending_timers(), 5);
        assert_eq!(s.next_timer(), Some(at("2026-02-20T10:00:00Z")));
        assert_eq!(s.pop_due(at("2026-02-19T00:00:00Z")), None);
        let mut order = Vec::new();
        while let Some((t, timer)) = s.pop_due(at("2026-03-05T10:00:00Z")) {
            order.push((t, timer));
            if order.len() == 2 {
                // Scheduled while others wait: still in order.
                s.schedule(at("2026-03-03T00:00:00Z"), outbox(6));
                s.schedule(at("2026-03-20T00:00:00Z"), outbox(7));
            }
        }
        let ids: Vec<_> = order
            .iter()
            .map(|(_, t)| match t {
                Timer::Outbox { send_id } => *send_id,
                _ => 0,
            })
            .collect();
        assert_eq!(ids, vec![5, 1, 6, 3, 4]);
        assert_eq!(s.next_timer(), Some(at("2026-03-09T10:00:00Z")));
        assert_eq!(s.pending_timers(), 2);
        assert!(s.pop_due(at("2026-03-30T00:00:00Z")).is_some());
        assert_eq!(s.next_timer(), Some(at("2026-03-20T00:00:00Z")));
        assert!(s.pop_due(at("2026-03-30T00:00:00Z")).is_some());
        assert_eq!(s.pending_timers(), 0);
        assert_eq!(s.next_timer(), None);
    }

    #[test]
    fn slots_keep_profiles_apart() {
        let mut s = MemoryStore::new();
        let e = |name: &str| Event {
            name: name.into(),
            at: at("2026-03-01T10:00:00Z"),
            seq: 1,
            props: Props::new(),
        };
        let long = "a-profile-id-longer-than-the-38-bytes-kept-inline";
        s.append_event(long, e("z"));
        s.append_event("a", e("x"));
        s.append_event("b", e("y"));
        s.append_event("a", e("y"));
        let mut seen = Vec::new();
        s.history("a", "y", &mut |ev| {
            seen.push(ev.name.to_string());
            true
        });
        s.history("b", "x", &mut |ev| {
            seen.push(ev.name.to_string());
            true
        });
        s.history(long, "z", &mut |ev| {
            seen.push(ev.name.to_string());
            true
        });
        s.history("a", "z", &mut |ev| {
            seen.push(ev.name.to_string());
            true
        });
        assert_eq!(seen, vec!["y", "z"]);
        s.put_entry_log(
            "a",
            "w",
            EntryLog {
                count: 2,
                last: None,
                trigger: 0,
            },
        );
        assert_eq!(s.entry_log("a", "w").count, 2);
        assert_eq!(s.entry_log("b", "w").count, 0);
        assert_eq!(s.entry_log("a", "v").count, 0);
    }

    #[test]
    fn the_index_finds_every_profile_as_it_grows() {
        let mut s = MemoryStore::new();
        let id = |i: u32| format!("user-{i}-{}", "x".repeat((i % 30) as usize));
        for i in 0..5000 {
            s.put_entry_log(
                &id(i),
                "w",
                EntryLog {
                    count: i,
                    last: None,
                    trigger: 0,
                },
            );
        }
        for i in (0..5000).rev() {
            assert_eq!(s.entry_log(&id(i), "w").count, i);
        }
        assert_eq!(s.entry_log("user-5000-", "w").count, 0);
        assert!(s.take_profile("user-1-x").is_none());
        assert_eq!(s.slots.len(), 5000);
    }
}
