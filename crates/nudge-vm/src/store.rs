//! The storage the event-handling core needs, and an in-memory store.
//!
//! The boundary is narrow: the engine loads a profile's whole state
//! ([`ProfileState`]: record, history, journeys and entry logs, cap log,
//! parked messages) once per event or timer, changes it in memory, and
//! saves it back with the timers it set as one step ([`Store::end_step`]);
//! [`Store::commit`] makes the steps so far durable. The simulator and
//! `nudge test` use [`MemoryStore`]; a durable store implements the same
//! trait, so every store runs the same logic.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::hash::Hasher as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use nudge_bytecode::{Channel, EventId, Module, Pc, SplitId};
use serde::{Deserialize, Serialize};

use crate::journey::Journey;
use crate::message::Rendered;
use crate::record::Record;
use crate::value::{Event, Props, Value};

/// What is known about a profile, besides its history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileRecord {
    /// The id.
    pub id: Arc<str>,
    /// Declared attributes that are set.
    pub attributes: Props,
    /// When it was first seen.
    #[serde(with = "crate::stored_time")]
    pub created_at: DateTime<Utc>,
    /// The last accepted `track` event.
    #[serde(with = "crate::stored_time::option")]
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
    #[serde(with = "crate::stored_time::option")]
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
        /// The profile it is parked with.
        profile: Arc<str>,
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
        #[serde(with = "crate::stored_time")]
        since: DateTime<Utc>,
    },
    /// A date trigger's instant (it fires only if the profile still has
    /// it armed for this instant). Last, so that older timers decode.
    Date {
        /// The profile.
        profile: Arc<str>,
        /// The workflow's name.
        workflow: Arc<str>,
        /// The trigger's position among the workflow's triggers.
        trigger: u16,
        /// The instant it was armed for.
        #[serde(with = "crate::stored_time")]
        at: DateTime<Utc>,
    },
}

/// A date trigger armed for a profile: the one instant its timer is set
/// for (so that a changed field or a redeploy leaves no second timer
/// that fires).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateArm {
    /// The workflow's name.
    pub workflow: Arc<str>,
    /// The trigger's position among the workflow's triggers.
    pub trigger: u16,
    /// When it fires.
    #[serde(with = "crate::stored_time")]
    pub at: DateTime<Utc>,
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
    #[serde(with = "crate::stored_time")]
    pub due: DateTime<Utc>,
}

/// What is kept about one workflow of a profile.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowState {
    /// The latest journey (active or ended).
    pub journey: Option<Journey>,
    /// Entry bookkeeping, across versions.
    pub entries: EntryLog,
}

/// Everything kept about one profile: what the engine loads once per event
/// or timer, changes in memory, and saves back as one unit with the timers
/// it set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileState {
    /// The record: attributes, times, quiet checks.
    pub record: ProfileRecord,
    /// Accepted `track` events, oldest first.
    pub history: Vec<Event>,
    /// By workflow name, sorted.
    pub workflows: Vec<(Arc<str>, WorkflowState)>,
    /// Sends a cap counts: when, on which channel (oldest first).
    #[serde(with = "crate::stored_time::pairs")]
    pub capped: Vec<(DateTime<Utc>, Channel)>,
    /// Messages parked until quiet hours end, in the order they were
    /// parked.
    pub outbox: Vec<OutboxItem>,
    /// Date triggers armed, in the order of the module's workflows.
    pub dates: Vec<DateArm>,
    /// The module version `dates` was armed for (0: none yet).
    pub dates_module: u64,
}

impl ProfileState {
    /// A profile first seen at `now`.
    pub fn new(id: Arc<str>, now: DateTime<Utc>) -> ProfileState {
        ProfileState {
            record: ProfileRecord {
                id,
                attributes: Props::new(),
                created_at: now,
                last_activity: None,
                next_seq: 1,
                quiet_checks: Vec::new(),
            },
            history: Vec::new(),
            workflows: Vec::new(),
            capped: Vec::new(),
            outbox: Vec::new(),
            dates: Vec::new(),
            dates_module: 0,
        }
    }

    /// The profile's id.
    pub fn id(&self) -> &Arc<str> {
        &self.record.id
    }

    /// The events called `name`, newest first, until `visit` returns false.
    pub fn history(&self, name: &str, visit: &mut dyn FnMut(&Event) -> bool) {
        for e in self.history.iter().rev() {
            if &*e.name == name && !visit(e) {
                return;
            }
        }
    }

    /// What is kept about `workflow`, if anything.
    pub fn workflow(&self, workflow: &str) -> Option<&WorkflowState> {
        let i = find(&self.workflows, workflow).ok()?;
        Some(&self.workflows[i].1)
    }

    /// What is kept about `workflow`, added empty when missing.
    pub fn workflow_mut(&mut self, workflow: &Arc<str>) -> &mut WorkflowState {
        let i = match find(&self.workflows, workflow) {
            Ok(i) => i,
            Err(i) => {
                self.workflows
                    .insert(i, (workflow.clone(), WorkflowState::default()));
                i
            }
        };
        &mut self.workflows[i].1
    }

    /// The latest journey in `workflow`.
    pub fn journey(&self, workflow: &str) -> Option<&Journey> {
        self.workflow(workflow)?.journey.as_ref()
    }

    /// The entry log of `workflow`.
    pub fn entry_log(&self, workflow: &str) -> EntryLog {
        self.workflow(workflow)
            .map(|w| w.entries)
            .unwrap_or_default()
    }

    /// The running journeys, in workflow name order.
    pub fn active_journeys(&self) -> Vec<(Arc<str>, Journey)> {
        self.journeys_where(Journey::is_active)
    }

    /// The latest journeys that `keep` keeps, by workflow name.
    pub fn journeys_where(&self, keep: impl Fn(&Journey) -> bool) -> Vec<(Arc<str>, Journey)> {
        self.workflows
            .iter()
            .filter_map(|(name, w)| {
                let j = w.journey.as_ref().filter(|j| keep(j))?;
                Some((name.clone(), j.clone()))
            })
            .collect()
    }

    /// How many sends on `channels` that a cap counts happened after
    /// `after`.
    pub fn capped_sends_after(&self, after: DateTime<Utc>, channels: &[Channel]) -> usize {
        self.capped
            .iter()
            .rev()
            .take_while(|(t, _)| *t > after)
            .filter(|(_, c)| channels.contains(c))
            .count()
    }

    /// Takes a parked message out.
    pub fn take_outbox(&mut self, send_id: u64) -> Option<OutboxItem> {
        let i = self.outbox.iter().position(|m| m.send_id == send_id)?;
        Some(self.outbox.remove(i))
    }

    /// About how many bytes the state takes in memory, itself included:
    /// every allocation it holds counted as if it held it alone (shared
    /// names and events are counted at each place), plus an allocator's
    /// overhead per allocation. What a cache that holds many states
    /// counts against its budget.
    pub fn approx_memory(&self) -> usize {
        use std::mem::size_of;
        fn alloc(bytes: usize) -> usize {
            if bytes == 0 {
                0
            } else {
                bytes.next_multiple_of(16) + 16
            }
        }
        fn name(s: &str) -> usize {
            alloc(16 + s.len())
        }
        fn props(p: &Props) -> usize {
            let entries = p.entries();
            alloc(16 + std::mem::size_of_val(entries))
                + entries
                    .iter()
                    .map(|(k, v)| name(k) + value(v))
                    .sum::<usize>()
        }
        fn value(v: &Value) -> usize {
            match v {
                Value::Str(s) => name(s),
                Value::List(items) => {
                    alloc(16 + items.len() * size_of::<Value>())
                        + items.iter().map(value).sum::<usize>()
                }
                _ => 0,
            }
        }
        fn event(e: &Event) -> usize {
            name(&e.name) + props(&e.props)
        }
        let r = &self.record;
        let mut n = size_of::<ProfileState>()
            + name(&r.id)
            + props(&r.attributes)
            + alloc(r.quiet_checks.capacity() * size_of::<Arc<str>>())
            + r.quiet_checks.iter().map(|w| name(w)).sum::<usize>();
        n += alloc(self.history.capacity() * size_of::<Event>());
        n += self.history.iter().map(event).sum::<usize>();
        // Workflow names are shared with the module's (no copy each).
        n += alloc(self.dates.capacity() * size_of::<DateArm>());
        n += alloc(self.workflows.capacity() * size_of::<(Arc<str>, WorkflowState)>());
        for (w, state) in &self.workflows {
            n += name(w);
            if let Some(j) = &state.journey {
                n += name(&j.profile)
                    + j.trigger
                        .as_ref()
                        .map_or(0, |e| alloc(size_of::<Event>() + 16) + event(e))
                    + alloc(j.received.capacity() * size_of::<(EventId, Arc<Event>)>())
                    + j.received
                        .iter()
                        .map(|(_, e)| alloc(size_of::<Event>() + 16) + event(e))
                        .sum::<usize>()
                    + alloc(j.visits.capacity() * size_of::<(Pc, u32)>())
                    + alloc(j.goals.capacity() * size_of::<u16>())
                    + alloc(j.arms.capacity() * size_of::<(SplitId, u16)>());
            }
        }
        n += alloc(self.capped.capacity() * size_of::<(DateTime<Utc>, Channel)>());
        n += alloc(self.outbox.capacity() * size_of::<OutboxItem>());
        for m in &self.outbox {
            n += name(&m.profile)
                + name(&m.workflow)
                + m.address.as_ref().map_or(0, |a| alloc(a.len()))
                + m.message.template.as_ref().map_or(0, |t| name(t))
                + alloc(m.message.fields.len() * size_of::<(Arc<str>, String)>())
                + m.message
                    .fields
                    .iter()
                    .map(|(k, v)| name(k) + alloc(v.len()))
                    .sum::<usize>();
        }
        n
    }
}

/// Storage for the event-handling core: a profile's whole state, loaded
/// and saved as one unit; pending timers; module versions.
///
/// Between [`Store::load`] and [`Store::end_step`] the engine handles one
/// event or timer of one profile: it loads the state (when it needs it),
/// saves it back, and sets timers. `end_step` makes that one unit (a
/// durable store writes it as one batch, with the removal of the timer
/// that was fired); [`Store::commit`] makes the units so far durable, and
/// only then may a caller acknowledge them.
pub trait Store {
    /// Takes a profile's state out to work on it (`None` for a profile
    /// never seen). The engine saves it back before the step ends.
    fn load(&mut self, id: &str) -> Result<Option<ProfileState>, StoreError>;
    /// Puts a profile's state back.
    fn save(&mut self, state: ProfileState);
    /// A copy of a profile's state, for reading outside a step.
    fn peek(&self, id: &str) -> Result<Option<ProfileState>, StoreError>;
    /// Sets a timer.
    fn schedule(&mut self, at: DateTime<Utc>, timer: Timer);
    /// The earliest timer's time.
    fn next_timer(&self) -> Option<DateTime<Utc>>;
    /// Removes and returns the earliest timer due at or before `now`
    /// (ties in scheduling order); a durable store removes it for good in
    /// the unit that [`Store::end_step`] ends.
    fn pop_due(&mut self, now: DateTime<Utc>)
        -> Result<Option<(DateTime<Utc>, Timer)>, StoreError>;
    /// The [`QuietState`] of the profile of the timer `pop_due` returned
    /// last, if the store keeps it apart from the profile's state; `None`
    /// tells the engine to load the state.
    fn popped_quiet_state(&self) -> Option<QuietState> {
        None
    }
    /// Ends one step: what was saved and scheduled since the last step,
    /// the timer fired, and the step's `records` (what happened, messages
    /// sent included), as one unit.
    fn end_step(&mut self, records: &[Record]) -> Result<(), StoreError> {
        let _ = records;
        Ok(())
    }
    /// Makes every step ended so far durable.
    fn commit(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Stores a module by content hash.
    fn put_module(&mut self, hash: u64, module: Arc<Module>);
    /// A module by content hash.
    fn module(&self, hash: u64) -> Option<Arc<Module>>;
    /// The content hashes of every module stored.
    fn module_hashes(&self) -> Vec<u64>;
}

/// A store that could not read or write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the store failed: {0}")]
pub struct StoreError(pub String);

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

/// One profile's place in the store: its key and, unless the engine has
/// it out, its state.
#[derive(Debug, Default)]
struct Slot {
    key: Key,
    state: Option<ProfileState>,
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
    modules: HashMap<u64, Arc<Module>>,
}

fn find<T>(list: &[(Arc<str>, T)], key: &str) -> Result<usize, usize> {
    list.binary_search_by(|(k, _)| (**k).cmp(key))
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

    /// Removes and returns the earliest timer due at or before `now`.
    fn pop_due_now(&mut self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Timer)> {
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
            let (Timer::Journey { profile, .. }
            | Timer::Inactivity { profile, .. }
            | Timer::Outbox { profile, .. }
            | Timer::Date { profile, .. }) = &timer;
            self.popped = Some((profile.as_ptr().addr(), profile.len(), hint));
        }
        Some((at, timer))
    }

    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// How many timers are pending.
    pub fn pending_timers(&self) -> usize {
        self.timers.len() + self.current.len() + self.later_len
    }

    /// The earliest pending timer that is not a date trigger's (date
    /// triggers recur: an anniversary always has a next one).
    pub fn next_timer_not_dated(&self) -> Option<DateTime<Utc>> {
        self.timers
            .iter()
            .map(|Reverse(p)| p)
            .chain(&self.current)
            .chain(self.later.values().flatten())
            .filter(|p| !matches!(p.timer, Timer::Date { .. }))
            .map(|p| p.at)
            .min()
    }

    /// How many journeys (active or ended) are stored.
    pub fn journey_count(&self) -> usize {
        self.slots
            .iter()
            .filter_map(|s| s.state.as_ref())
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
    fn load(&mut self, id: &str) -> Result<Option<ProfileState>, StoreError> {
        let Some(i) = self.slot_index(id) else {
            return Ok(None);
        };
        if let Some(q) = self.quiet.get_mut(i) {
            *q = None;
        }
        Ok(self.slots.get_mut(i).and_then(|s| s.state.take()))
    }

    fn save(&mut self, state: ProfileState) {
        let i = self.slot_index_or_insert(&state.record.id);
        if let Some(q) = self.quiet.get_mut(i) {
            *q = Some((
                state.record.id.as_ptr().addr(),
                QuietState::of(&state.record),
            ));
        }
        self.slots[i].state = Some(state);
    }

    fn peek(&self, id: &str) -> Result<Option<ProfileState>, StoreError> {
        Ok(self
            .slot_index(id)
            .and_then(|i| self.slots.get(i))
            .and_then(|s| s.state.clone()))
    }

    fn popped_quiet_state(&self) -> Option<QuietState> {
        let (addr, _, slot) = self.popped?;
        let (id, state) = (*self.quiet.get(slot as usize)?)?;
        // The timer names the profile by the record's own id (one shared
        // string, alive as long as the record): the same address is the
        // same profile, so a wrong hint cannot give another's state.
        (id == addr).then_some(state)
    }

    fn schedule(&mut self, at: DateTime<Utc>, timer: Timer) {
        self.timer_counter += 1;
        // Only the remembered slot is asked (the engine schedules a
        // profile's timers while it handles that profile): a hint must not
        // cost an index lookup.
        let hint = match &timer {
            Timer::Journey { profile, .. }
            | Timer::Inactivity { profile, .. }
            | Timer::Outbox { profile, .. }
            | Timer::Date { profile, .. } => {
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

    fn pop_due(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<Option<(DateTime<Utc>, Timer)>, StoreError> {
        Ok(self.pop_due_now(now))
    }

    fn module_hashes(&self) -> Vec<u64> {
        self.modules.keys().copied().collect()
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
        Timer::Outbox {
            profile: Arc::from("p"),
            send_id,
        }
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
        assert_eq!(s.pop_due_now(at("2026-02-19T00:00:00Z")), None);
        let mut order = Vec::new();
        while let Some((t, timer)) = s.pop_due_now(at("2026-03-05T10:00:00Z")) {
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
                Timer::Outbox { send_id, .. } => *send_id,
                _ => 0,
            })
            .collect();
        assert_eq!(ids, vec![5, 1, 6, 3, 4]);
        assert_eq!(s.next_timer(), Some(at("2026-03-09T10:00:00Z")));
        assert_eq!(s.pending_timers(), 2);
        assert!(s.pop_due_now(at("2026-03-30T00:00:00Z")).is_some());
        assert_eq!(s.next_timer(), Some(at("2026-03-20T00:00:00Z")));
        assert!(s.pop_due_now(at("2026-03-30T00:00:00Z")).is_some());
        assert_eq!(s.pending_timers(), 0);
        assert_eq!(s.next_timer(), None);
    }

    #[test]
    fn slots_keep_profiles_apart() {
        let mut s = MemoryStore::new();
        let t0 = at("2026-03-01T10:00:00Z");
        let e = |name: &str| Event {
            name: name.into(),
            at: t0,
            seq: 1,
            props: Props::new(),
        };
        let long = "a-profile-id-longer-than-the-38-bytes-kept-inline";
        for (id, events) in [(long, &["z"][..]), ("a", &["x", "y"]), ("b", &["y"])] {
            let mut state = s
                .load(id)
                .unwrap()
                .unwrap_or_else(|| ProfileState::new(Arc::from(id), t0));
            state.history.extend(events.iter().map(|n| e(n)));
            s.save(state);
        }
        let mut seen = Vec::new();
        for (id, name) in [("a", "y"), ("b", "x"), (long, "z"), ("a", "z")] {
            s.peek(id).unwrap().unwrap().history(name, &mut |ev| {
                seen.push(ev.name.to_string());
                true
            });
        }
        assert_eq!(seen, vec!["y", "z"]);
        let mut a = s.load("a").unwrap().unwrap();
        a.workflow_mut(&Arc::from("w")).entries.count = 2;
        // Out of the store while the engine has it.
        assert!(s.peek("a").unwrap().is_none());
        s.save(a);
        assert_eq!(s.peek("a").unwrap().unwrap().entry_log("w").count, 2);
        assert_eq!(s.peek("b").unwrap().unwrap().entry_log("w").count, 0);
        assert_eq!(s.peek("a").unwrap().unwrap().entry_log("v").count, 0);
    }

    #[test]
    fn the_index_finds_every_profile_as_it_grows() {
        let mut s = MemoryStore::new();
        let t0 = at("2026-03-01T10:00:00Z");
        let id = |i: u32| format!("user-{i}-{}", "x".repeat((i % 30) as usize));
        for i in 0..5000 {
            let mut state = ProfileState::new(Arc::from(id(i)), t0);
            state.record.next_seq = u64::from(i);
            s.save(state);
        }
        for i in (0..5000).rev() {
            assert_eq!(
                s.peek(&id(i)).unwrap().unwrap().record.next_seq,
                u64::from(i)
            );
        }
        assert!(s.peek("user-5000-").unwrap().is_none());
        assert!(s.load("user-1-x").unwrap().is_some());
        assert!(s.load("user-1-x").unwrap().is_none());
        assert_eq!(s.slots.len(), 5000);
    }
}
