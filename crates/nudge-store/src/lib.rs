//! The durable Nudge store: the engine's [`Store`] on sled 0.34.
//!
//! Layout (one sled tree per partition, `partition-N`; keys prefixed and
//! big-endian, so range scans come out ordered):
//!
//! | key | value |
//! | --- | ----- |
//! | `P` + profile id | the profile's [`ProfileState`] (postcard) |
//! | `T` + due (ms, sign-flipped, big-endian) + sequence (big-endian) | the [`Timer`] (postcard) |
//! | `S` | the next timer sequence number |
//! | `C` | how many timers are pending |
//! | `A` | the position of the last input applied (see [`SledStore::mark_applied`]) |
//! | `L` + number (big-endian) | records from that one on (JSON lines, as `nudge simulate` writes them, messages with their `send_id`; at most 64 KiB a value) |
//! | `N` | the number of the next record |
//! | `M` + message id | when an input with that id was applied (ms, big-endian) |
//! | `E` + that time (ms, big-endian) + message id | nothing: the message ids in the order they expire |
//!
//! Modules live in the tree `modules` (content hash, big-endian → the
//! module's own encoding), and the format version in the tree `meta`.
//!
//! **Steps and group commit.** Everything one step of the engine saves and
//! schedules, the records it adds (messages sent included), and the
//! removal of the timer it fired, joins the group of steps since the last
//! commit; [`Store::commit`] writes the group as one [`sled::Batch`]
//! (atomically: every step of it is there after a crash, or none) and
//! makes it durable: sled's flush, then an fsync of sled's log file (sled
//! 0.34's flush alone writes with `sync_file_range`, which does not
//! survive a power loss). Only then may a caller acknowledge
//! those steps. A profile saved several times in a group is encoded and
//! written once, at the commit; a timer set and fired within the group is
//! never written. A group longer than [`MAX_GROUP`] steps is written (not
//! flushed) on the way, so memory stays bounded. A store dropped without a
//! commit loses its group, as a crash would.
//!
//! **The timer wheel.** sled holds every timer. Memory holds only those
//! due before a horizon, refilled from an ordered range scan when they run
//! out, so a timer due in three weeks costs no memory. A fired timer is
//! removed in the same batch as the state change it caused: a crash before
//! the batch leaves both undone, and the timer fires again on restart.
//!
//! **Bounded memory.** Profile states are cached up to a memory budget
//! ([`ProfileState::approx_memory`] of each), least recently used first
//! out; sled's own page cache is capped at [`SLED_CACHE_BYTES`].

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use nudge_bytecode::Module;
use nudge_vm::{ProfileState, Record, Store, StoreError, Timer};

/// The format this build writes. A store written by a newer format is
/// refused; an older one is migrated when opened.
///
/// - 1: instants in states and timers as RFC 3339 text.
/// - 2: instants as seconds and nanoseconds ([`nudge_vm::stored_time`]).
/// - 3: a profile state ends with its armed date triggers.
pub const FORMAT_VERSION: u32 = 3;

/// The shapes older formats stored, for migrating them.
pub mod legacy {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};
    use nudge_bytecode::Channel;
    use nudge_vm::{Event, OutboxItem, ProfileRecord, ProfileState, WorkflowState};
    use serde::{Deserialize, Serialize};

    /// A profile state of formats 1 and 2: without date triggers.
    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct ProfileStateV2 {
        /// As [`ProfileState::record`].
        pub record: ProfileRecord,
        /// As [`ProfileState::history`].
        pub history: Vec<Event>,
        /// As [`ProfileState::workflows`].
        pub workflows: Vec<(Arc<str>, WorkflowState)>,
        /// As [`ProfileState::capped`].
        #[serde(with = "nudge_vm::stored_time::pairs")]
        pub capped: Vec<(DateTime<Utc>, Channel)>,
        /// As [`ProfileState::outbox`].
        pub outbox: Vec<OutboxItem>,
    }

    impl From<ProfileStateV2> for ProfileState {
        fn from(old: ProfileStateV2) -> ProfileState {
            ProfileState {
                record: old.record,
                history: old.history,
                workflows: old.workflows,
                capped: old.capped,
                outbox: old.outbox,
                // Armed again when the profile is next identified, sends an
                // event, or is armed after a deploy.
                dates: Vec::new(),
                dates_module: 0,
            }
        }
    }

    impl From<ProfileState> for ProfileStateV2 {
        /// What format 2 kept of a state (for tests that write old stores).
        fn from(s: ProfileState) -> ProfileStateV2 {
            ProfileStateV2 {
                record: s.record,
                history: s.history,
                workflows: s.workflows,
                capped: s.capped,
                outbox: s.outbox,
            }
        }
    }
}

/// The default memory budget of the profile cache: 64 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

/// What the cache spends on an entry besides the state: its slot in the
/// table and in the recency list.
const CACHE_ENTRY_BYTES: usize = 96;

/// sled's own page cache (sled's default is 1 GiB, which a store of a
/// million waiting journeys fills).
pub const SLED_CACHE_BYTES: u64 = 64 << 20;

/// The most steps a group holds before it is written (without a flush).
pub const MAX_GROUP: usize = 1024;

/// The largest value the record log is written in (sled 0.34 keeps
/// values over a quarter of its 512 KiB segments in files of their own,
/// which its flush does not sync).
const LOG_PIECE: usize = 64 * 1024;

/// How many timers a refill of the in-memory wheel reads at most.
const REFILL: usize = 4096;

const PROFILE: u8 = b'P';
const TIMER: u8 = b'T';
const SEQUENCE: &[u8] = b"S";
const TIMER_COUNT: &[u8] = b"C";
const APPLIED: &[u8] = b"A";
const LOG: u8 = b'L';
const LOG_NEXT: &[u8] = b"N";
const MESSAGE: u8 = b'M';
const MESSAGE_EXPIRY: u8 = b'E';
const FORMAT_KEY: &[u8] = b"format";

/// How a store is opened.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The memory budget of the profile cache, in bytes (each state
    /// counted by [`ProfileState::approx_memory`]).
    pub cache_bytes: usize,
    /// The most steps a group holds before it is written without a
    /// flush ([`MAX_GROUP`] by default). A caller that bounds its groups
    /// itself sets it higher, so that a group is written only at its
    /// commit and a failure can drop it whole.
    pub max_group: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cache_bytes: DEFAULT_CACHE_BYTES,
            max_group: MAX_GROUP,
        }
    }
}

/// A failure of sled, named with what was being done.
fn failed(what: &str) -> impl Fn(sled::Error) -> StoreError + '_ {
    move |e| StoreError(format!("{what}: {e}"))
}

/// Opens (creating if needed) the database in `dir` and checks its format.
pub fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    // A store closed in this process lets go of its lock file a moment
    // after the last handle is dropped (sled's flusher thread ends
    // first): wait for it, briefly, before calling the folder busy.
    let mut tries = 0;
    let db = loop {
        match sled::Config::new()
            .path(dir)
            .cache_capacity(SLED_CACHE_BYTES)
            .open()
        {
            Ok(db) => break db,
            Err(e) if locked(&e) && tries < 300 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) if locked(&e) => {
                return Err(StoreError(format!(
                    "the data folder `{}` is in use by another nudge process",
                    dir.display()
                )))
            }
            Err(e) => {
                return Err(StoreError(format!(
                    "cannot open the data folder `{}`: {e}",
                    dir.display()
                )))
            }
        }
    };
    let meta = db
        .open_tree("meta")
        .map_err(failed("cannot open the store's metadata"))?;
    match meta
        .get(FORMAT_KEY)
        .map_err(failed("cannot read the store's format"))?
    {
        None => {
            meta.insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())
                .map_err(failed("cannot write the store's format"))?;
            db.flush()
                .map_err(failed("cannot write the store's format"))?;
        }
        Some(v) => {
            let found = <[u8; 4]>::try_from(v.as_ref())
                .map(u32::from_be_bytes)
                .map_err(|_| {
                    StoreError(format!(
                        "the data folder `{}` holds a store of an unknown format",
                        dir.display()
                    ))
                })?;
            if found > FORMAT_VERSION {
                return Err(StoreError(format!(
                    "the data folder `{}` was written by a newer nudge (store format {found}; \
                     this one reads formats up to {FORMAT_VERSION}): run that version, or \
                     point --data at another folder",
                    dir.display()
                )));
            }
            if found == 0 {
                return Err(StoreError(format!(
                    "the data folder `{}` holds a store of an unknown format (0)",
                    dir.display()
                )));
            }
            if found < FORMAT_VERSION {
                migrate(&db, &meta).map_err(|StoreError(e)| {
                    StoreError(format!(
                        "cannot migrate the data folder `{}` from store format {found} to \
                         {FORMAT_VERSION}: {e}",
                        dir.display()
                    ))
                })?;
            }
        }
    }
    Ok(db)
}

/// Rewrites a format 1 or 2 store in the current format: every profile
/// state and timer re-encoded (instants as numbers; states with their
/// date triggers, none armed yet), a thousand per batch, then the new
/// format number. A migration cut short by a crash goes on when the store
/// is next opened: an entry already rewritten is recognised and left.
fn migrate(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    /// A profile state of any format, in the current one (`None` when it
    /// already is).
    fn profile(key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if postcard::from_bytes::<ProfileState>(value).is_ok() {
            return Ok(None);
        }
        let old: legacy::ProfileStateV2 = postcard::from_bytes(value)
            .or_else(|_| nudge_vm::stored_time::with_text_times(|| postcard::from_bytes(value)))
            .map_err(|e| {
                StoreError(format!(
                    "the state of profile `{}` cannot be read: {e}",
                    String::from_utf8_lossy(key.get(1..).unwrap_or_default())
                ))
            })?;
        postcard::to_allocvec(&ProfileState::from(old))
            .map(Some)
            .map_err(|e| StoreError(format!("cannot encode the state of a profile: {e}")))
    }
    fn rewrite<T: serde::Serialize + serde::de::DeserializeOwned>(
        key: &[u8],
        value: &[u8],
        what: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        if postcard::from_bytes::<T>(value).is_ok() {
            return Ok(None);
        }
        let old: T = nudge_vm::stored_time::with_text_times(|| postcard::from_bytes(value))
            .map_err(|e| {
                StoreError(format!(
                    "{what} `{}` cannot be read: {e}",
                    String::from_utf8_lossy(key.get(1..).unwrap_or_default())
                ))
            })?;
        postcard::to_allocvec(&old)
            .map(Some)
            .map_err(|e| StoreError(format!("cannot encode {what}: {e}")))
    }
    for name in db.tree_names() {
        if !name.starts_with(b"partition-") {
            continue;
        }
        let tree = db
            .open_tree(&name)
            .map_err(failed("cannot open a partition"))?;
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for entry in tree.iter() {
            let (key, value) = entry.map_err(failed("cannot read a partition"))?;
            let new = match key.first() {
                Some(&PROFILE) => profile(&key, &value)?,
                Some(&TIMER) => rewrite::<Timer>(&key, &value, "timer")?,
                _ => None,
            };
            if let Some(new) = new {
                batch.insert(key, new);
                n += 1;
            }
            if n == 1000 {
                tree.apply_batch(std::mem::take(&mut batch))
                    .map_err(failed("cannot write a partition"))?;
                n = 0;
            }
        }
        tree.apply_batch(batch)
            .map_err(failed("cannot write a partition"))?;
    }
    db.flush().map_err(failed("cannot write a partition"))?;
    meta.insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())
        .map_err(failed("cannot write the store's format"))?;
    db.flush()
        .map_err(failed("cannot write the store's format"))?;
    Ok(())
}

/// fsyncs sled's blob files newer than `after` (sled 0.34 writes a value
/// over a quarter of its segment size to a file of its own, named by its
/// log position, and does not sync it), then their folder; returns the
/// newest synced.
fn sync_blobs(dir: &Path, after: u64) -> Result<u64, StoreError> {
    let failed = |e: std::io::Error| {
        StoreError(format!(
            "cannot make the steps durable: syncing `{}`: {e}",
            dir.display()
        ))
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(after),
        Err(e) => return Err(failed(e)),
    };
    let mut newest = after;
    for entry in entries {
        let entry = entry.map_err(failed)?;
        let Some(n) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        if n > after {
            match std::fs::File::open(entry.path()).and_then(|f| f.sync_data()) {
                Ok(()) => {}
                // sled removes a blob once a newer value replaces it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(failed(e)),
            }
            newest = newest.max(n);
        }
    }
    if newest > after {
        std::fs::File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(failed)?;
    }
    Ok(newest)
}

/// Whether sled could not take the folder's lock file.
fn locked(e: &sled::Error) -> bool {
    match e {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}

/// The key of a profile's state.
fn profile_key(id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + id.len());
    key.push(PROFILE);
    key.extend_from_slice(id.as_bytes());
    key
}

/// A timer's place in the wheel: due time in milliseconds, then the order
/// it was set in.
type TimerKey = (i64, u64);

/// The key of a timer: big-endian, the due time's sign bit flipped so that
/// negative times sort first.
fn timer_key((due, seq): TimerKey) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[0] = TIMER;
    key[1..9].copy_from_slice(&((due as u64) ^ (1 << 63)).to_be_bytes());
    key[9..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// The (due, seq) of a timer key.
fn parse_timer_key(key: &[u8]) -> Option<TimerKey> {
    let due = u64::from_be_bytes(key.get(1..9)?.try_into().ok()?) ^ (1 << 63);
    let seq = u64::from_be_bytes(key.get(9..17)?.try_into().ok()?);
    Some((due as i64, seq))
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A cached profile state and its cost (boxed: growing the table moves
/// pointers, not states).
struct Cached {
    state: Box<ProfileState>,
    bytes: usize,
    /// Its latest place in `Cache::order`.
    tick: u64,
}

/// Profile states by id, up to a memory budget, least recently used out
/// first (the order list keeps stale entries until they reach its front).
struct Cache {
    budget: usize,
    used: usize,
    tick: u64,
    entries: HashMap<Arc<str>, Cached>,
    order: VecDeque<(Arc<str>, u64)>,
}

impl Cache {
    fn new(budget: usize) -> Cache {
        Cache {
            budget,
            used: 0,
            tick: 0,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn take(&mut self, id: &str) -> Option<ProfileState> {
        let c = self.entries.remove(id)?;
        self.used -= c.bytes;
        Some(*c.state)
    }

    fn get(&self, id: &str) -> Option<&ProfileState> {
        self.entries.get(id).map(|c| &*c.state)
    }

    fn put(&mut self, state: ProfileState, bytes: usize) {
        self.tick += 1;
        let id = state.record.id.clone();
        if let Some(old) = self.entries.insert(
            id.clone(),
            Cached {
                state: Box::new(state),
                bytes,
                tick: self.tick,
            },
        ) {
            self.used -= old.bytes;
        }
        self.used += bytes;
        self.order.push_back((id, self.tick));
    }

    /// Sets the memory a cached state takes.
    fn set_size(&mut self, id: &str, bytes: usize) {
        if let Some(c) = self.entries.get_mut(id) {
            self.used = self.used - c.bytes + bytes;
            c.bytes = bytes;
        }
    }

    /// The memory last counted for a cached state.
    fn size(&self, id: &str) -> usize {
        self.entries.get(id).map_or(0, |c| c.bytes)
    }

    /// Drops the least recently used states until the cache is within its
    /// budget (only when none is waiting to be written).
    fn trim(&mut self) {
        while self.used > self.budget {
            let Some((id, tick)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&id).is_some_and(|c| c.tick == tick) {
                if let Some(c) = self.entries.remove(&id) {
                    self.used -= c.bytes;
                }
            }
        }
        // Stale entries are dropped when the list grows far past the map.
        if self.order.len() > 4 * self.entries.len() + 1024 {
            let entries = &self.entries;
            self.order
                .retain(|(id, tick)| entries.get(id).is_some_and(|c| c.tick == *tick));
        }
    }
}

/// The engine's store on one sled partition.
pub struct SledStore {
    db: sled::Db,
    /// sled's log file, synced at each commit (`None` for a database
    /// opened by the caller, which syncs it).
    log_file: Option<std::path::PathBuf>,
    tree: sled::Tree,
    modules_tree: sled::Tree,
    modules: HashMap<u64, Arc<Module>>,
    cache: Cache,
    /// Timers due before `horizon` (all of them: memory mirrors sled
    /// below it).
    near: BTreeMap<TimerKey, Timer>,
    horizon: i64,
    /// The earliest timer at or after the horizon, if any.
    far_first: Option<TimerKey>,
    /// The next timer's sequence number.
    seq: u64,
    /// The next record's number.
    next_record: u64,
    /// The writes of the step under way, as (key, value or removal).
    step: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// The writes of the steps since the last commit.
    group: sled::Batch,
    /// Steps in the group.
    group_steps: usize,
    /// Profiles saved in the group: encoded and written at the commit.
    saved: HashSet<Arc<str>>,
    /// The group's records (JSON lines) and the number of its first.
    group_records: Vec<u8>,
    group_first_record: u64,
    /// The step's records, joined to the group's when the step ends.
    step_records: Vec<u8>,
    step_record_count: u64,
    /// See [`Options::max_group`].
    max_group: usize,
    /// Pending timers (kept in the store with each group).
    timer_count: u64,
    /// The newest of sled's blob files synced so far.
    synced_blob: u64,
    /// Message ids remembered since the last write of the group.
    group_messages: HashSet<Box<str>>,
    /// The timer the step under way fired (removed with its batch).
    fired: Option<TimerKey>,
    /// An encoding failure inside the step, reported at its end.
    failure: Option<StoreError>,
}

impl SledStore {
    /// Opens partition 0 of the store in `dir` (creating it).
    pub fn open(dir: &Path, options: Options) -> Result<SledStore, StoreError> {
        let db = open_db(dir)?;
        let mut store = SledStore::partition(&db, 0, options)?;
        store.log_file = Some(dir.join("db"));
        Ok(store)
    }

    /// Opens partition `n` of an open database.
    pub fn partition(db: &sled::Db, n: u32, options: Options) -> Result<SledStore, StoreError> {
        let tree = db
            .open_tree(format!("partition-{n}"))
            .map_err(failed("cannot open a partition"))?;
        let modules_tree = db
            .open_tree("modules")
            .map_err(failed("cannot open the modules"))?;
        let mut modules = HashMap::new();
        for entry in modules_tree.iter() {
            let (key, value) = entry.map_err(failed("cannot read the modules"))?;
            let hash = <[u8; 8]>::try_from(key.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError("a module key is damaged".into()))?;
            let module = Module::from_bytes(&value).map_err(|e| {
                StoreError(format!("module version {hash:016x} cannot be read: {e}"))
            })?;
            modules.insert(hash, Arc::new(module));
        }
        let seq = match tree
            .get(SEQUENCE)
            .map_err(failed("cannot read a partition"))?
        {
            Some(v) => <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError("the timer sequence is damaged".into()))?,
            None => 0,
        };
        let next_record = match tree
            .get(LOG_NEXT)
            .map_err(failed("cannot read a partition"))?
        {
            Some(v) => <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError("the record count is damaged".into()))?,
            None => 0,
        };
        let mut store = SledStore {
            db: db.clone(),
            log_file: None,
            tree,
            modules_tree,
            modules,
            cache: Cache::new(options.cache_bytes),
            near: BTreeMap::new(),
            horizon: i64::MIN,
            far_first: None,
            seq,
            next_record,
            step: Vec::new(),
            group: sled::Batch::default(),
            group_steps: 0,
            saved: HashSet::new(),
            group_records: Vec::new(),
            group_first_record: next_record,
            step_records: Vec::new(),
            step_record_count: 0,
            group_messages: HashSet::new(),
            max_group: options.max_group,
            timer_count: 0,
            synced_blob: 0,
            fired: None,
            failure: None,
        };
        store.far_first = store.first_timer_from(i64::MIN)?;
        store.timer_count = match store
            .tree
            .get(TIMER_COUNT)
            .map_err(failed("cannot read a partition"))?
        {
            Some(v) => <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError("the timer count is damaged".into()))?,
            // A store written before the count was kept: counted once.
            None => store.pending_timers()? as u64,
        };
        Ok(store)
    }

    /// Makes each commit also fsync `file` (sled's log file, `db` in the
    /// data folder), as [`SledStore::open`] does: for a partition of a
    /// database the caller opened with [`open_db`].
    pub fn syncing(mut self, file: Option<std::path::PathBuf>) -> SledStore {
        self.log_file = file;
        self
    }

    /// How many timers are pending, as of the last step (kept with the
    /// steps, so read without a scan).
    pub fn timer_count(&self) -> u64 {
        self.timer_count
    }

    /// How many timers are pending (a full scan: for tests and tools).
    pub fn pending_timers(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        for entry in self.tree.scan_prefix([TIMER]) {
            entry.map_err(failed("cannot read the timers"))?;
            n += 1;
        }
        Ok(n)
    }

    /// Visits the state of every profile written to the store (the
    /// cached one when newer): a full scan, for tools and the read API.
    pub fn for_each_profile(&self, visit: &mut dyn FnMut(&ProfileState)) -> Result<(), StoreError> {
        for entry in self.tree.scan_prefix([PROFILE]) {
            let (key, value) = entry.map_err(failed("cannot read the profiles"))?;
            let id = String::from_utf8_lossy(&key[1..]);
            if let Some(state) = self.cache.get(&id) {
                visit(state);
                continue;
            }
            let state: ProfileState = postcard::from_bytes(&value).map_err(|e| {
                StoreError(format!("the state of profile `{id}` cannot be read: {e}"))
            })?;
            visit(&state);
        }
        Ok(())
    }

    /// The ids of every profile (a full scan: for tests and tools).
    pub fn profile_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        for entry in self.tree.scan_prefix([PROFILE]) {
            let (key, _) = entry.map_err(failed("cannot read the profiles"))?;
            ids.push(String::from_utf8_lossy(&key[1..]).into_owned());
        }
        Ok(ids)
    }

    /// Records, in the step under way, that the input at `position` of the
    /// caller's ordered input (a trace line, a log offset) is applied: it
    /// becomes durable with that step's state, so after a crash the caller
    /// knows exactly where to go on. Set it after advancing the clock to
    /// the input's time and before the input's own step.
    pub fn mark_applied(&mut self, position: u64) {
        self.step
            .push((APPLIED.to_vec(), Some(position.to_be_bytes().to_vec())));
    }

    /// Whether an input with this message id was applied (and not yet
    /// forgotten by [`SledStore::forget_messages`]).
    pub fn seen_message(&self, id: &str) -> Result<bool, StoreError> {
        if self.group_messages.contains(id) {
            return Ok(true);
        }
        let mut key = Vec::with_capacity(1 + id.len());
        key.push(MESSAGE);
        key.extend_from_slice(id.as_bytes());
        self.tree
            .contains_key(key)
            .map_err(failed("cannot read the message ids"))
    }

    /// Remembers, in the step under way, that the input with this message
    /// id was applied at `at`: a later input with the same id is a retry
    /// (see [`SledStore::seen_message`]).
    pub fn remember_message(&mut self, id: &str, at: DateTime<Utc>) {
        let ms = millis(at).max(0) as u64;
        let mut key = Vec::with_capacity(1 + id.len());
        key.push(MESSAGE);
        key.extend_from_slice(id.as_bytes());
        self.step.push((key, Some(ms.to_be_bytes().to_vec())));
        let mut expiry = Vec::with_capacity(9 + id.len());
        expiry.push(MESSAGE_EXPIRY);
        expiry.extend_from_slice(&ms.to_be_bytes());
        expiry.extend_from_slice(id.as_bytes());
        self.step.push((expiry, Some(Vec::new())));
        self.group_messages.insert(id.into());
    }

    /// Forgets up to `limit` message ids applied before `before`, oldest
    /// first, in the group under way (their removal is durable with its
    /// commit); returns how many. Called now and then with a window's
    /// start, it keeps the ids of that window only.
    pub fn forget_messages(
        &mut self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let mut end = vec![MESSAGE_EXPIRY];
        end.extend_from_slice(&(millis(before).max(0) as u64).to_be_bytes());
        let mut n = 0;
        for entry in self.tree.range([MESSAGE_EXPIRY].as_slice()..end.as_slice()) {
            if n == limit {
                break;
            }
            let (key, _) = entry.map_err(failed("cannot read the message ids"))?;
            let mut message = vec![MESSAGE];
            message.extend_from_slice(key.get(9..).unwrap_or_default());
            self.group.remove(message);
            self.group.remove(key);
            n += 1;
        }
        Ok(n)
    }

    /// The records numbered `from` on, as (number, JSON line), oldest
    /// first, at most `limit` (what is committed or written; a scan from
    /// the group holding `from`).
    pub fn records_from(&self, from: u64, limit: usize) -> Result<Vec<(u64, String)>, StoreError> {
        let mut out = Vec::new();
        // The group holding `from` starts at or before it.
        let mut start = vec![LOG];
        start.extend_from_slice(&from.to_be_bytes());
        let first = self
            .tree
            .range(..start.clone())
            .next_back()
            .transpose()
            .map_err(failed("cannot read the records"))?
            .filter(|(k, _)| k.first() == Some(&LOG))
            .map(|(k, _)| k.to_vec());
        let scan_from = first.unwrap_or(start);
        for entry in self.tree.range(scan_from..vec![LOG + 1]) {
            let (key, value) = entry.map_err(failed("cannot read the records"))?;
            let n0 = key
                .get(1..9)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StoreError("a record key is damaged".into()))?;
            for (i, line) in String::from_utf8_lossy(&value).lines().enumerate() {
                let n = n0 + i as u64;
                if n >= from {
                    out.push((n, line.to_owned()));
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The number the next record will get.
    pub fn next_record(&self) -> u64 {
        self.next_record
    }

    /// The position last recorded by [`SledStore::mark_applied`].
    pub fn applied(&self) -> Result<Option<u64>, StoreError> {
        match self
            .tree
            .get(APPLIED)
            .map_err(failed("cannot read a partition"))?
        {
            None => Ok(None),
            Some(v) => <[u8; 8]>::try_from(v.as_ref())
                .map(|b| Some(u64::from_be_bytes(b)))
                .map_err(|_| StoreError("the applied position is damaged".into())),
        }
    }

    /// The record log, oldest first, as JSON lines (a full scan: for tests
    /// and tools).
    pub fn records(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for entry in self.tree.scan_prefix([LOG]) {
            let (_, value) = entry.map_err(failed("cannot read the records"))?;
            out.extend(String::from_utf8_lossy(&value).lines().map(str::to_owned));
        }
        Ok(out)
    }

    /// How many timers are held in memory (those due before the horizon).
    pub fn timers_in_memory(&self) -> usize {
        self.near.len()
    }

    /// Bytes the database takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db
            .size_on_disk()
            .map_err(failed("cannot measure the store"))
    }

    /// The first timer due at or after `from`.
    fn first_timer_from(&self, from: i64) -> Result<Option<TimerKey>, StoreError> {
        let start = timer_key((from, 0));
        let end = [TIMER + 1];
        match self.tree.range(start.as_slice()..end.as_slice()).next() {
            None => Ok(None),
            Some(entry) => {
                let (key, _) = entry.map_err(failed("cannot read the timers"))?;
                Ok(parse_timer_key(&key))
            }
        }
    }

    /// Moves the horizon past the next timers and reads them into memory
    /// (after writing the group, so that the scan sees every timer).
    fn refill(&mut self) -> Result<(), StoreError> {
        self.write_group()?;
        let Some(first) = self.far_first else {
            return Ok(());
        };
        let start = timer_key((first.0, 0));
        let end = [TIMER + 1];
        let mut last: Option<i64> = None;
        for entry in self.tree.range(start.as_slice()..end.as_slice()) {
            let (key, value) = entry.map_err(failed("cannot read the timers"))?;
            let Some(k) = parse_timer_key(&key) else {
                return Err(StoreError("a timer key is damaged".into()));
            };
            // Stop at a due time boundary once enough are in: every timer
            // of one instant is in memory or none is.
            if self.near.len() >= REFILL && last != Some(k.0) {
                break;
            }
            let timer: Timer = postcard::from_bytes(&value)
                .map_err(|e| StoreError(format!("a timer cannot be read: {e}")))?;
            self.near.insert(k, timer);
            last = Some(k.0);
        }
        self.horizon = last.map_or(self.horizon, |t| t.saturating_add(1));
        self.far_first = self.first_timer_from(self.horizon)?;
        Ok(())
    }

    /// Writes the group (the profiles it saved, encoded now) as one atomic
    /// batch, and lets the cache shrink to its budget again.
    fn write_group(&mut self) -> Result<(), StoreError> {
        if self.group_steps == 0 && self.saved.is_empty() {
            return Ok(());
        }
        let mut group = std::mem::take(&mut self.group);
        if !self.group_records.is_empty() {
            // In pieces of at most LOG_PIECE bytes: sled keeps a larger
            // value in a file of its own, outside the log a commit syncs.
            let records = std::mem::take(&mut self.group_records);
            let mut first = self.group_first_record;
            let mut piece: Vec<u8> = Vec::new();
            let mut lines = 0u64;
            for line in records.split_inclusive(|b| *b == b'\n') {
                if !piece.is_empty() && piece.len() + line.len() > LOG_PIECE {
                    let mut key = vec![LOG];
                    key.extend_from_slice(&first.to_be_bytes());
                    group.insert(key, std::mem::take(&mut piece));
                    first += lines;
                    lines = 0;
                }
                piece.extend_from_slice(line);
                lines += 1;
            }
            let mut key = vec![LOG];
            key.extend_from_slice(&first.to_be_bytes());
            group.insert(key, piece);
            group.insert(LOG_NEXT, &self.next_record.to_be_bytes());
        }
        self.group_first_record = self.next_record;
        for id in std::mem::take(&mut self.saved) {
            let Some(state) = self.cache.get(&id) else {
                continue;
            };
            let bytes = postcard::to_allocvec(state).map_err(|e| {
                StoreError(format!("cannot encode the state of profile `{id}`: {e}"))
            })?;
            let memory = state.approx_memory() + CACHE_ENTRY_BYTES;
            self.cache.set_size(&id, memory);
            group.insert(profile_key(&id), bytes);
        }
        group.insert(TIMER_COUNT, &self.timer_count.to_be_bytes());
        self.group_steps = 0;
        self.group_messages.clear();
        self.tree
            .apply_batch(group)
            .map_err(failed("cannot write the steps"))?;
        self.cache.trim();
        Ok(())
    }

    fn encode<T: serde::Serialize>(&mut self, value: &T, what: &str) -> Option<Vec<u8>> {
        match postcard::to_allocvec(value) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                self.failure
                    .get_or_insert(StoreError(format!("cannot encode {what}: {e}")));
                None
            }
        }
    }

    fn read(&self, id: &str) -> Result<Option<ProfileState>, StoreError> {
        match self
            .tree
            .get(profile_key(id))
            .map_err(failed("cannot read a profile"))?
        {
            None => Ok(None),
            Some(bytes) => postcard::from_bytes(&bytes).map(Some).map_err(|e| {
                StoreError(format!("the state of profile `{id}` cannot be read: {e}"))
            }),
        }
    }
}

impl Store for SledStore {
    fn load(&mut self, id: &str) -> Result<Option<ProfileState>, StoreError> {
        if let Some(state) = self.cache.take(id) {
            return Ok(Some(state));
        }
        self.read(id)
    }

    fn save(&mut self, state: ProfileState) {
        let id = state.record.id.clone();
        let size = self.cache.size(&id);
        self.cache.put(state, size);
        self.saved.insert(id);
    }

    fn peek(&self, id: &str) -> Result<Option<ProfileState>, StoreError> {
        match self.cache.get(id) {
            Some(state) => Ok(Some(state.clone())),
            None => self.read(id),
        }
    }

    fn schedule(&mut self, at: DateTime<Utc>, timer: Timer) {
        // Rounded up to the millisecond: a timer never fires early.
        let sub_ms = at.timestamp_subsec_nanos() % 1_000_000 != 0;
        let key = (millis(at) + i64::from(sub_ms), self.seq);
        self.seq += 1;
        let Some(bytes) = self.encode(&timer, "a timer") else {
            return;
        };
        self.step.push((timer_key(key).to_vec(), Some(bytes)));
        self.step
            .push((SEQUENCE.to_vec(), Some(self.seq.to_be_bytes().to_vec())));
        self.timer_count += 1;
        if key.0 < self.horizon {
            self.near.insert(key, timer);
        } else if self.far_first.is_none_or(|f| key < f) {
            self.far_first = Some(key);
        }
    }

    fn next_timer(&self) -> Option<DateTime<Utc>> {
        let near = self.near.keys().next().map(|k| k.0);
        near.or(self.far_first.map(|k| k.0)).map(instant)
    }

    fn pop_due(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<Option<(DateTime<Utc>, Timer)>, StoreError> {
        // The wheel is read from disk only when something there is due.
        if self.near.is_empty() && self.far_first.is_some_and(|f| f.0 <= millis(now)) {
            self.refill()?;
        }
        let Some((&key, _)) = self.near.iter().next() else {
            return Ok(None);
        };
        if key.0 > millis(now) {
            return Ok(None);
        }
        let Some(timer) = self.near.remove(&key) else {
            return Ok(None);
        };
        self.fired = Some(key);
        Ok(Some((instant(key.0), timer)))
    }

    fn end_step(&mut self, records: &[Record]) -> Result<(), StoreError> {
        for r in records {
            let start = self.step_records.len();
            if let Err(e) = serde_json::to_writer(&mut self.step_records, r) {
                self.failure
                    .get_or_insert(StoreError(format!("cannot encode a record: {e}")));
            }
            // A message keeps its send id, which delivery needs (the
            // simulator's JSON leaves it out).
            if let Record::Sent { send_id, .. } = r {
                const PREFIX: &[u8] = b"{\"kind\":\"message\",";
                if self.step_records[start..].starts_with(PREFIX) {
                    let at = start + PREFIX.len();
                    let field = format!("\"send_id\":\"{send_id:016x}\",");
                    self.step_records.splice(at..at, field.bytes());
                }
            }
            self.step_records.push(b'\n');
            self.step_record_count += 1;
        }
        if let Some(key) = self.fired.take() {
            self.step.push((timer_key(key).to_vec(), None));
            self.timer_count = self.timer_count.saturating_sub(1);
        }
        if let Some(e) = self.failure.take() {
            // The step is not kept; the caller stops on the error.
            self.step.clear();
            self.step_records.clear();
            self.step_record_count = 0;
            return Err(e);
        }
        self.group_records.append(&mut self.step_records);
        self.next_record += std::mem::take(&mut self.step_record_count);
        for (key, value) in self.step.drain(..) {
            match value {
                Some(value) => self.group.insert(key, value),
                None => self.group.remove(key),
            }
        }
        self.group_steps += 1;
        if self.group_steps >= self.max_group {
            self.write_group()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        self.write_group()?;
        self.db
            .flush()
            .map_err(failed("cannot make the steps durable"))?;
        if let Some(path) = &self.log_file {
            std::fs::File::open(path)
                .and_then(|f| f.sync_data())
                .map_err(|e| {
                    StoreError(format!(
                        "cannot make the steps durable: syncing `{}`: {e}",
                        path.display()
                    ))
                })?;
            if let Some(dir) = path.parent() {
                self.synced_blob = sync_blobs(&dir.join("blobs"), self.synced_blob)?;
            }
        }
        Ok(())
    }

    fn put_module(&mut self, hash: u64, module: Arc<Module>) {
        if self.modules.contains_key(&hash) {
            return;
        }
        match module.to_bytes() {
            Ok(bytes) => {
                if let Err(e) = self.modules_tree.insert(hash.to_be_bytes(), bytes) {
                    self.failure
                        .get_or_insert(StoreError(format!("cannot store a module: {e}")));
                }
            }
            Err(e) => {
                self.failure
                    .get_or_insert(StoreError(format!("cannot encode a module: {e}")));
            }
        }
        self.modules.insert(hash, module);
    }

    fn module(&self, hash: u64) -> Option<Arc<Module>> {
        self.modules.get(&hash).cloned()
    }

    fn module_hashes(&self) -> Vec<u64> {
        self.modules.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_keys_sort_by_time_then_order() {
        let keys = [
            (-5_000, 9),
            (-1, 0),
            (0, 0),
            (0, 1),
            (1_700_000_000_000, 0),
            (i64::MAX, 0),
        ];
        let encoded: Vec<[u8; 17]> = keys.iter().map(|k| timer_key(*k)).collect();
        let mut sorted = encoded.clone();
        sorted.sort();
        assert_eq!(encoded, sorted);
        for k in keys {
            assert_eq!(parse_timer_key(&timer_key(k)), Some(k));
        }
    }
}
