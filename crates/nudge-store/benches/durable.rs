//! The durable store's figures: steps per second with group commit beside
//! the in-memory engine, timers fired per second with a million pending
//! (and how late they fire against a wall-clock schedule), restart to
//! ready, resident memory, and disk.
//!
//! `cargo bench -p nudge-store --bench durable` prints one line per
//! figure, with its unit, by the wall clock and (for throughput) by the
//! process's CPU time (every thread, sled's flusher included). Sections:
//!
//! - `steps`: the engine benchmark's generated trace over the examples
//!   (profiles identified, then `track` events; `NUDGE_BENCH_EVENTS`,
//!   default 200 000 events over a tenth as many profiles) on
//!   `Engine<MemoryStore>`, then on `Engine<SledStore>` in a temporary
//!   folder, committing every 1, 64 and 1 024 steps (`NUDGE_BENCH_GROUPS`;
//!   a step is one `identify` or `track` call, with the timers it fires),
//!   with the bytes written and write calls made (`/proc/self/io`). A
//!   durable run stops after `NUDGE_BENCH_BUDGET_SECS` (default 120) and
//!   reports the steps done by then.
//! - `timers`: `NUDGE_BENCH_TIMERS` (default 1 000 000) pending timers: half
//!   as many profiles identified one after the other over two days of
//!   virtual time, each of which arms the examples' two `inactive for`
//!   checks (`win_back`, 5 days; `stalled_help`, 7 days). Then every timer
//!   is fired in 100 `advance_to` slices over their due times, committing
//!   every 1 024 steps (timers/s, and the time to each 1 % fired); then, on
//!   a copy of the same store, the due times are replayed against the wall
//!   clock, scaled so that timers come due at `NUDGE_BENCH_TIMER_RATE` per
//!   second (default 50 000): the driver moves the virtual clock to the
//!   wall clock's image, fires what is due, commits when it has caught up
//!   and 2 ms have gone by since the last commit (or every 1 024 steps or
//!   10 ms when it has not caught up), and the lateness of
//!   each timer is its wall time at the end of its step (and at the commit
//!   that made it durable) minus its due time's image. A wrapper around the
//!   store times its calls, to tell where pauses come from.
//! - `restart`: on the same store before firing, a child process times
//!   `SledStore::open` + `Engine::new` until the first `next_timer()`
//!   answer (three times; the files are in the page cache).
//! - `memory`: child processes each load 10 000, then
//!   `NUDGE_BENCH_JOURNEYS` (default 1 000 000), journeys waiting on a
//!   timer (a profile identified, then a `checkout_abandoned` that starts
//!   `abandoned_checkout`, which waits an hour; the loading takes less
//!   virtual time than that, so nothing fires) and print `VmRSS`, disk
//!   bytes per waiting journey and the live data by kind; once with sled's
//!   page cache as `SledStore::open` leaves it and once with it set to
//!   32 MiB. The profile cache's budget is `NUDGE_BENCH_CACHE_BYTES`
//!   (default 8 MiB).
//! - `disk`: `NUDGE_BENCH_DISK_EVENTS` (default 1 000 000) events over
//!   `NUDGE_BENCH_DISK_PROFILES` (default 20 000) profiles, committing
//!   every 1 024 steps, with the size on disk after every 100 000 events,
//!   and the live data by kind at the end.
//!
//! `NUDGE_BENCH_ONLY=steps,timers,restart,memory,disk` (any of them) runs
//! only those sections; `NUDGE_BENCH_DIR` is where the temporary stores go
//! (default the system's temporary folder: put it on the disk to measure).
//! Under `cargo test --benches` every section is a quick smoke run. A
//! watchdog ends the run with a `STALLED` line when no engine step ends
//! for `NUDGE_BENCH_STALL_SECS` (default 60).

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration as Wall, Instant};

use chrono::{DateTime, Duration, Utc};
use common::{cpu_seconds, examples, mb, rates, status_kb, write_calls, written_bytes, KINDS};
use nudge_bytecode::Module;
use nudge_store::{open_db, Options, SledStore};
use nudge_vm::{
    Engine, MemoryStore, ProfileState, Props, QuietState, Record, Store, StoreError, Timer, Value,
};

type Error = Box<dyn std::error::Error>;
type Res<T> = Result<T, Error>;

/// How many steps go by between two takes of the record log (as the
/// engine benchmark and `nudge simulate` do).
const LOG_BATCH: u64 = 4096;

/// Steps per group commit in the timer, memory and disk sections.
const GROUP: u64 = 1024;

/// The longest a paced run lets fired steps wait for a commit while it is
/// still catching up.
const COMMIT_EVERY: Wall = Wall::from_millis(10);

/// How long a paced run that has caught up lets fired steps wait for a
/// commit at most (fewer, larger groups than a commit every time it waits).
const COMMIT_IDLE: Wall = Wall::from_millis(2);

/// The profile count the memory figure compares with.
const FEW_JOURNEYS: u64 = 10_000;

/// Steps ended, for the watchdog.
static PROGRESS: AtomicU64 = AtomicU64::new(0);
/// Whether the watchdog is looking (not while a child runs).
static WATCHING: AtomicBool = AtomicBool::new(false);

/// One more step ended.
fn tick() {
    PROGRESS.fetch_add(1, Ordering::Relaxed);
}

/// Ends the process when no step ends for `secs` seconds while the bench
/// is stepping: sled 0.34.7 can deadlock (see docs/performance.md), and a
/// hung run should say so rather than hang.
fn watchdog(secs: u64) {
    std::thread::spawn(move || {
        let mut last = PROGRESS.load(Ordering::Relaxed);
        let mut still = 0;
        loop {
            std::thread::sleep(Wall::from_secs(1));
            let now = PROGRESS.load(Ordering::Relaxed);
            if now != last || !WATCHING.load(Ordering::Relaxed) {
                last = now;
                still = 0;
                continue;
            }
            still += 1;
            if still >= secs {
                println!(
                    "STALLED: no engine step ended for {secs} s (after {now} steps); the store is hung (sled 0.34.7's segment-truncation deadlock shows as the main thread in `SegmentAccountant::bump_tip` and sled's IO threads in `sa_stabilize`)"
                );
                std::process::exit(3);
            }
        }
    });
}

struct Config {
    t0: DateTime<Utc>,
    events: u64,
    timers: u64,
    journeys: u64,
    disk_events: u64,
    disk_profiles: u64,
    budget: f64,
    groups: Vec<u64>,
    rate: f64,
    cache_bytes: usize,
    base: Option<PathBuf>,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(default)
}

impl Config {
    fn from_env() -> Config {
        // `cargo bench` passes `--bench`; under `cargo test --benches` this
        // is a quick smoke run.
        let benching = std::env::args().any(|a| a == "--bench");
        let big = |n: u64, small: u64| if benching { n } else { small };
        Config {
            t0: DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
            events: env_u64("NUDGE_BENCH_EVENTS", big(200_000, 2_000)),
            timers: env_u64("NUDGE_BENCH_TIMERS", big(1_000_000, 2_000)),
            journeys: env_u64("NUDGE_BENCH_JOURNEYS", big(1_000_000, 2_000)),
            disk_events: env_u64("NUDGE_BENCH_DISK_EVENTS", big(1_000_000, 5_000)),
            disk_profiles: env_u64("NUDGE_BENCH_DISK_PROFILES", big(20_000, 500)),
            budget: env_u64("NUDGE_BENCH_BUDGET_SECS", 120) as f64,
            groups: std::env::var("NUDGE_BENCH_GROUPS")
                .ok()
                .map(|s| s.split(',').filter_map(|g| g.trim().parse().ok()).collect())
                .unwrap_or_else(|| vec![1, 64, 1024]),
            rate: env_u64("NUDGE_BENCH_TIMER_RATE", 50_000) as f64,
            cache_bytes: env_u64("NUDGE_BENCH_CACHE_BYTES", 8 << 20) as usize,
            base: std::env::var_os("NUDGE_BENCH_DIR").map(PathBuf::from),
        }
    }

    fn tempdir(&self) -> Res<tempfile::TempDir> {
        Ok(match &self.base {
            Some(base) => tempfile::tempdir_in(base)?,
            None => tempfile::tempdir()?,
        })
    }
}

fn ms(n: i64) -> Duration {
    Duration::milliseconds(n)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The p-th quantile (0..=1) of sorted values.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

// ---------------------------------------------------------------------
// The trace, as the engine benchmark generates it.

/// Properties built as ingestion builds them.
fn props(pairs: &[(&str, Value)]) -> Props {
    pairs.iter().map(|(k, v)| (*k, v.clone())).collect()
}

/// Event `i` of the generated trace: (profile number, name, properties).
fn trace_event(i: u64, profiles: u64) -> (u64, &'static str, Props) {
    let p = i.wrapping_mul(2_654_435_761) % profiles;
    let kind = KINDS[(i % KINDS.len() as u64) as usize];
    let props = match kind {
        "checkout_abandoned" => props(&[
            ("product_name", Value::str("Lamp")),
            ("price", Value::Float(40.0)),
            ("cart_total", Value::Float((i % 100) as f64)),
        ]),
        "feature_used" => props(&[
            ("feature", Value::str("reports")),
            ("first_time", Value::Bool(i % 7 == 0)),
        ]),
        "order_completed" => props(&[("order_id", Value::str("o")), ("total", Value::Float(40.0))]),
        "account_created" => props(&[
            ("plan_type", Value::str("starter")),
            ("company_size", Value::Int(5)),
        ]),
        _ => Props::new(),
    };
    (p, kind, props)
}

/// Profile `p`'s traits.
fn traits(p: u64, t0: DateTime<Utc>) -> Props {
    props(&[
        ("email", Value::str(&format!("user-{p}@example.com"))),
        (
            "plan",
            Value::str(if p % 3 == 0 { "pro" } else { "starter" }),
        ),
        ("created_at", Value::Time(t0)),
    ])
}

/// The trace spreads its events over 30 days.
fn spacing(events: u64) -> Duration {
    ms(((30 * 86_400_000) / events.max(1)) as i64)
}

/// Counts the messages in the record log and clears it.
fn take_sent<S: Store>(engine: &mut Engine<S>) -> u64 {
    let sent = engine
        .log
        .iter()
        .filter(|r| matches!(r, Record::Sent { .. }))
        .count();
    engine.log.clear();
    sent as u64
}

// ---------------------------------------------------------------------
// 1. Steps per second.

struct Run {
    steps: u64,
    secs: f64,
    cpu: Option<f64>,
    commits: u64,
    written: Option<u64>,
    write_calls: Option<u64>,
    messages: u64,
    complete: bool,
}

/// Identifies `profiles` profiles, then applies `events` track events;
/// commits every `group` steps when given.
fn drive<S: Store>(
    engine: &mut Engine<S>,
    t0: DateTime<Utc>,
    profiles: u64,
    events: u64,
    group: Option<u64>,
    budget: Option<f64>,
) -> Res<Run> {
    let total = profiles + events;
    let step = spacing(events);
    let mut now = t0;
    let mut id = String::new();
    let (mut steps, mut commits, mut messages) = (0u64, 0u64, 0u64);
    let mut complete = true;
    let w0 = written_bytes();
    let c0 = write_calls();
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    for i in 0..total {
        id.clear();
        if i < profiles {
            let _ = write!(id, "user-{i}");
            engine.identify(&id, traits(i, t0), t0)?;
        } else {
            let (p, kind, props) = trace_event(i - profiles, profiles);
            now += step;
            let _ = write!(id, "user-{p}");
            engine.track(&id, kind, props, now)?;
        }
        steps += 1;
        tick();
        if group.is_some_and(|n| steps % n == 0) {
            engine.commit()?;
            commits += 1;
        }
        if steps % LOG_BATCH == 0 {
            messages += take_sent(engine);
            if budget.is_some_and(|b| start.elapsed().as_secs_f64() > b) {
                complete = false;
                break;
            }
        }
    }
    if group.is_some_and(|n| steps % n != 0) {
        engine.commit()?;
        commits += 1;
    }
    messages += take_sent(engine);
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    let written = written_bytes().zip(w0).map(|(b, a)| b - a);
    let write_calls = write_calls().zip(c0).map(|(b, a)| b - a);
    Ok(Run {
        steps,
        secs,
        cpu,
        commits,
        written,
        write_calls,
        messages,
        complete,
    })
}

fn steps_section(module: &Module, cfg: &Config) -> Res<()> {
    let events = cfg.events;
    let profiles = (events / 10).max(1);
    println!(
        "steps: trace: {profiles} identify + {events} track = {} steps over 30 days of virtual time (examples project); load average {}",
        profiles + events,
        loadavg()
    );
    let mut engine = Engine::new(MemoryStore::new(), module.clone(), cfg.t0);
    let memory = drive(&mut engine, cfg.t0, profiles, events, None, None)?;
    // Freeing the profiles' state is not part of the run.
    std::mem::forget(engine);
    println!(
        "steps: in-memory (MemoryStore): {} steps in {:.3} s: steps {}; {} messages",
        memory.steps,
        memory.secs,
        rates(memory.steps, memory.secs, memory.cpu),
        memory.messages
    );
    let memory_rate = memory.steps as f64 / memory.secs;
    // The same trace again, untimed, counting the engine's store steps:
    // every one is a sled batch of its own (timers fired are steps too).
    let mut counted = Engine::new(Probe::new(MemoryStore::new(), 0), module.clone(), cfg.t0);
    drive(&mut counted, cfg.t0, profiles, events, None, None)?;
    let batches = counted.store().uncommitted;
    println!(
        "steps: the trace's {} calls are {batches} store steps (`Store::end_step` calls): {:.2} per call, {} of them timers fired",
        profiles + events,
        batches as f64 / (profiles + events) as f64,
        counted.store().fired
    );
    std::mem::forget(counted);
    for &n in &cfg.groups {
        let dir = cfg.tempdir()?;
        let store = SledStore::open(dir.path(), Options::default())?;
        let mut engine = Engine::new(store, module.clone(), cfg.t0);
        let run = drive(
            &mut engine,
            cfg.t0,
            profiles,
            events,
            Some(n),
            Some(cfg.budget),
        )?;
        let disk = engine.store().size_on_disk()?;
        drop(engine);
        let rate = run.steps as f64 / run.secs;
        let written = run.written.map_or(String::new(), |w| {
            format!(
                "; {:.1} MB written = {:.0} bytes/step",
                mb(w),
                w as f64 / run.steps.max(1) as f64
            )
        });
        let calls = run.write_calls.map_or(String::new(), |c| {
            format!(
                "; {c} write calls = {:.2}/step",
                c as f64 / run.steps.max(1) as f64
            )
        });
        let stopped = if run.complete {
            String::new()
        } else {
            format!(
                " (stopped by the {} s budget, {} steps of {}: all {profiles} identifies and {} tracks)",
                cfg.budget,
                run.steps,
                profiles + events,
                run.steps.saturating_sub(profiles)
            )
        };
        println!(
            "steps: sled, commit every {n} steps: {} steps in {:.3} s{stopped}: steps {}; {} commits (sled flushes) = {:.0} commits/s; {:.3}x the in-memory rate (wall){written}{calls}; {:.1} MB on disk; {} messages",
            run.steps,
            run.secs,
            rates(run.steps, run.secs, run.cpu),
            run.commits,
            run.commits as f64 / run.secs,
            rate / memory_rate,
            mb(disk),
            run.messages
        );
    }
    println!("steps: load average {}", loadavg());
    Ok(())
}

// ---------------------------------------------------------------------
// The store seen from the bench: a wrapper that counts fired timers, times
// them and commits in groups inside `advance_to`.

/// How a paced run maps virtual due times onto the wall clock.
struct Pace {
    first: DateTime<Utc>,
    secs_per_ms: f64,
}

struct Probe<S> {
    inner: S,
    /// The due time of the timer the step under way fired.
    popped: Option<DateTime<Utc>>,
    fired: u64,
    /// Commit after this many steps (0: only when asked).
    group: u64,
    uncommitted: u64,
    commits: u64,
    last_commit: Instant,
    start: Instant,
    /// Record the wall time after every `mark_every` timers fired.
    mark_every: u64,
    marks: Vec<f64>,
    pace: Option<Pace>,
    /// Seconds from a timer's due time's image to the end of its step.
    late_fired: Vec<f64>,
    /// … and to the commit that made it durable.
    late_durable: Vec<f64>,
    /// The due-time images of fired steps not yet committed.
    unacked: Vec<f64>,
    /// When the last step ended, and the pauses of over 10 ms between two
    /// steps (seconds).
    last_end: Option<Instant>,
    pauses: Vec<f64>,
    /// Time in the store's commits and in `pop_due` (which reads timers
    /// in from sled): (total, longest) seconds.
    in_commit: (f64, f64),
    in_pop: (f64, f64),
    /// … and in its `end_step` (which writes a group of 1 024 steps on the
    /// way without flushing it).
    in_end: (f64, f64),
    /// … and in `load` (a profile read from sled when it is not cached).
    in_load: (f64, f64),
    /// … and in `save` (a profile put back in the cache).
    in_save: (f64, f64),
}

/// Adds one timing to a (total, longest) pair.
fn account(pair: &mut (f64, f64), since: Instant) {
    let secs = since.elapsed().as_secs_f64();
    pair.0 += secs;
    pair.1 = pair.1.max(secs);
}

impl<S: Store> Probe<S> {
    fn new(inner: S, group: u64) -> Probe<S> {
        Probe {
            inner,
            popped: None,
            fired: 0,
            group,
            uncommitted: 0,
            commits: 0,
            last_commit: Instant::now(),
            start: Instant::now(),
            mark_every: 0,
            marks: Vec::new(),
            pace: None,
            late_fired: Vec::new(),
            late_durable: Vec::new(),
            unacked: Vec::new(),
            last_end: None,
            pauses: Vec::new(),
            in_commit: (0.0, 0.0),
            in_pop: (0.0, 0.0),
            in_end: (0.0, 0.0),
            in_load: (0.0, 0.0),
            in_save: (0.0, 0.0),
        }
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        let t = Instant::now();
        self.inner.commit()?;
        account(&mut self.in_commit, t);
        self.commits += 1;
        self.uncommitted = 0;
        self.last_commit = Instant::now();
        if !self.unacked.is_empty() {
            let t = self.start.elapsed().as_secs_f64();
            self.late_durable
                .extend(self.unacked.drain(..).map(|i| t - i));
        }
        Ok(())
    }
}

impl<S: Store> Store for Probe<S> {
    fn load(&mut self, id: &str) -> Result<Option<ProfileState>, StoreError> {
        let t = Instant::now();
        let state = self.inner.load(id);
        account(&mut self.in_load, t);
        state
    }
    fn save(&mut self, state: ProfileState) {
        let t = Instant::now();
        self.inner.save(state);
        account(&mut self.in_save, t);
    }
    fn peek(&self, id: &str) -> Result<Option<ProfileState>, StoreError> {
        self.inner.peek(id)
    }
    fn schedule(&mut self, at: DateTime<Utc>, timer: Timer) {
        self.inner.schedule(at, timer);
    }
    fn next_timer(&self) -> Option<DateTime<Utc>> {
        self.inner.next_timer()
    }
    fn pop_due(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<Option<(DateTime<Utc>, Timer)>, StoreError> {
        let t = Instant::now();
        let popped = self.inner.pop_due(now)?;
        account(&mut self.in_pop, t);
        if let Some((at, _)) = &popped {
            self.popped = Some(*at);
        }
        Ok(popped)
    }
    fn popped_quiet_state(&self) -> Option<QuietState> {
        self.inner.popped_quiet_state()
    }
    fn end_step(&mut self, records: &[Record]) -> Result<(), StoreError> {
        let t = Instant::now();
        self.inner.end_step(records)?;
        account(&mut self.in_end, t);
        tick();
        let now = Instant::now();
        if let Some(gap) = self.last_end.map(|t| (now - t).as_secs_f64()) {
            if gap > 0.010 {
                self.pauses.push(gap);
            }
        }
        self.last_end = Some(now);
        self.uncommitted += 1;
        if let Some(at) = self.popped.take() {
            self.fired += 1;
            let t = self.start.elapsed().as_secs_f64();
            if self.mark_every > 0 && self.fired % self.mark_every == 0 {
                self.marks.push(t);
            }
            if let Some(p) = &self.pace {
                let image = (at - p.first).num_milliseconds() as f64 * p.secs_per_ms;
                self.late_fired.push(t - image);
                self.unacked.push(image);
            }
        }
        if self.group > 0 && self.uncommitted >= self.group {
            self.flush()?;
        }
        Ok(())
    }
    fn commit(&mut self) -> Result<(), StoreError> {
        if self.uncommitted > 0 {
            self.flush()?;
        }
        Ok(())
    }
    fn put_module(&mut self, hash: u64, module: std::sync::Arc<Module>) {
        self.inner.put_module(hash, module);
    }
    fn module(&self, hash: u64) -> Option<std::sync::Arc<Module>> {
        self.inner.module(hash)
    }
    fn module_hashes(&self) -> Vec<u64> {
        self.inner.module_hashes()
    }
}

// ---------------------------------------------------------------------
// 2. and 3. A million pending timers: setting them up, restarting on
// them, firing them.

struct Pending {
    dir: tempfile::TempDir,
    timers: u64,
    /// The first and last due times.
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    /// The engine's clock after the setup.
    now: DateTime<Utc>,
}

fn timers_setup(module: &Module, cfg: &Config) -> Res<Pending> {
    let profiles = (cfg.timers / 2).max(1);
    let dir = cfg.tempdir()?;
    let store = SledStore::open(dir.path(), Options::default())?;
    let mut engine = Engine::new(store, module.clone(), cfg.t0);
    let every = (Duration::days(2).num_milliseconds() / profiles as i64).max(1);
    let mut at = cfg.t0;
    let mut id = String::new();
    let c0 = write_calls();
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    for p in 0..profiles {
        at = cfg.t0 + ms(p as i64 * every);
        id.clear();
        let _ = write!(id, "user-{p}");
        engine.identify(&id, traits(p, cfg.t0), at)?;
        tick();
        if (p + 1) % GROUP == 0 {
            engine.commit()?;
        }
        if p % LOG_BATCH == 0 {
            engine.log.clear();
        }
    }
    engine.commit()?;
    engine.log.clear();
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    let calls = write_calls().zip(c0).map(|(b, a)| b - a);
    let timers = engine.store().pending_timers()? as u64;
    let disk = engine.store().size_on_disk()?;
    let first = cfg.t0 + Duration::days(5);
    let last = at + Duration::days(7);
    println!(
        "timers: setup: {profiles} profiles identified one every {every} ms of virtual time (each arms the two `inactive for` checks: win_back 5d, stalled_help 7d): {timers} timers pending, due {first} to {last}; in {secs:.1} s: steps {}; {:.1} MB on disk; {} write calls",
        rates(profiles, secs, cpu),
        mb(disk),
        calls.map_or("?".into(), |c| c.to_string())
    );
    drop(engine);
    // sled lets go of the folder a moment after the last handle is gone.
    std::thread::sleep(Wall::from_secs(1));
    Ok(Pending {
        dir,
        timers,
        first,
        last,
        now: at,
    })
}

fn restart_section(cfg: &Config, pending: &Pending) -> Res<()> {
    let now = pending.now.timestamp_millis().to_string();
    let dir = pending.dir.path().to_string_lossy().into_owned();
    for _ in 0..3 {
        let out = child(cfg, &["restart", &dir, &now])?;
        print!("{out}");
    }
    Ok(())
}

fn child_restart(module: Module, dir: &Path, now: DateTime<Utc>) -> Res<()> {
    let rss0 = status_kb("VmRSS").unwrap_or(0);
    let start = Instant::now();
    let store = SledStore::open(dir, Options::default())?;
    let opened = start.elapsed().as_secs_f64();
    let engine = Engine::new(store, module, now);
    let next = engine.store().next_timer();
    let ready = start.elapsed().as_secs_f64();
    let rss = status_kb("VmRSS").unwrap_or(0);
    let next = next.map_or("none".to_owned(), |t| t.to_string());
    println!(
        "restart: SledStore::open {:.0} ms + Engine::new {:.0} ms = ready in {:.0} ms (first next_timer() = {next}); {} timers in memory; VmRSS {:.0} MB after (before {:.0} MB)",
        opened * 1e3,
        (ready - opened) * 1e3,
        ready * 1e3,
        engine.store().timers_in_memory(),
        rss as f64 / 1024.0,
        rss0 as f64 / 1024.0
    );
    drop(engine);
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn fire_unpaced(module: &Module, pending: &Pending, dir: &Path) -> Res<()> {
    let store = SledStore::open(dir, Options::default())?;
    let mut probe = Probe::new(store, GROUP);
    probe.mark_every = (pending.timers / 100).max(1);
    let mut engine = Engine::new(probe, module.clone(), pending.now);
    let to = pending.last + ms(1);
    let span = (to - pending.first).num_milliseconds();
    let mut messages = 0;
    let w0 = written_bytes();
    let c0 = write_calls();
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    engine.store_mut().start = start;
    for k in 1..=100 {
        let v = (pending.first + ms(span * k / 100)).max(engine.now());
        engine.advance_to(v)?;
        messages += take_sent(&mut engine);
    }
    engine.commit()?;
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    let written = written_bytes().zip(w0).map(|(b, a)| b - a);
    let calls = write_calls().zip(c0).map(|(b, a)| b - a);
    let probe = engine.store();
    let left = probe.inner.pending_timers()?;
    println!(
        "timers: fired {} timers of {} pending, as fast as they go (100 advance_to slices over their due times, commit every {GROUP} steps): {:.2} s: timers {}; {} commits; {} messages; {} left{}",
        probe.fired,
        pending.timers,
        secs,
        rates(probe.fired, secs, cpu),
        probe.commits,
        messages,
        left,
        written.zip(calls).map_or(String::new(), |(w, c)| format!(
            "; {:.1} MB written = {:.0} bytes/timer; {c} write calls = {:.2}/timer",
            mb(w),
            w as f64 / probe.fired.max(1) as f64,
            c as f64 / probe.fired.max(1) as f64
        ))
    );
    let mut deciles = String::new();
    for (i, t) in probe.marks.iter().enumerate() {
        if (i + 1) % 10 == 0 {
            let _ = write!(deciles, " {}% {t:.2} s,", i + 1);
        }
    }
    println!(
        "timers: wall time from the first advance_to to each 10% of the timers fired:{}",
        deciles.trim_end_matches(',')
    );
    println!(
        "timers: of which in the store's commits {:.2} s (the longest {:.0} ms), end_step {:.2} s (the longest {:.0} ms), pop_due {:.2} s (the longest {:.0} ms), load {:.2} s (the longest {:.0} ms), save {:.2} s (the longest {:.0} ms); {} pauses of over 10 ms between two steps, the longest {:.0} ms",
        probe.in_commit.0,
        probe.in_commit.1 * 1e3,
        probe.in_end.0,
        probe.in_end.1 * 1e3,
        probe.in_pop.0,
        probe.in_pop.1 * 1e3,
        probe.in_load.0,
        probe.in_load.1 * 1e3,
        probe.in_save.0,
        probe.in_save.1 * 1e3,
        probe.pauses.len(),
        probe.pauses.iter().copied().fold(0.0, f64::max) * 1e3
    );
    let all: Vec<String> = probe.marks.iter().map(|t| format!("{t:.2}")).collect();
    println!("timers: … to each 1% (s): {}", all.join(" "));
    Ok(())
}

fn fire_paced(module: &Module, cfg: &Config, pending: &Pending, dir: &Path) -> Res<()> {
    let store = SledStore::open(dir, Options::default())?;
    let probe = Probe::new(store, GROUP);
    let mut engine = Engine::new(probe, module.clone(), pending.now);
    let first = pending.first;
    let last = pending.last;
    let span_ms = (last - first).num_milliseconds().max(1) as f64;
    let secs_per_ms = pending.timers as f64 / cfg.rate / span_ms;
    engine.store_mut().pace = Some(Pace { first, secs_per_ms });
    let start = Instant::now();
    engine.store_mut().start = start;
    engine.store_mut().last_commit = start;
    let cpu0 = cpu_seconds();
    loop {
        let elapsed = start.elapsed().as_secs_f64();
        let image = (first + ms((elapsed / secs_per_ms) as i64)).min(last);
        engine.advance_to(image.max(engine.now()))?;
        engine.log.clear();
        if engine.store().uncommitted > 0 && engine.store().last_commit.elapsed() >= COMMIT_EVERY {
            engine.commit()?;
        }
        let Some(next) = engine.store().next_timer() else {
            break;
        };
        let due = (next - first).num_milliseconds() as f64 * secs_per_ms;
        let now = start.elapsed().as_secs_f64();
        if due > now {
            // Caught up: what fired becomes durable, then wait.
            if engine.store().last_commit.elapsed() >= COMMIT_IDLE {
                engine.commit()?;
            }
            let now = start.elapsed().as_secs_f64();
            if due > now {
                std::thread::sleep(Wall::from_secs_f64((due - now).min(0.001)));
            }
        }
    }
    engine.commit()?;
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    let probe = engine.store_mut();
    let late = probe.late_fired.iter().filter(|l| **l > 0.050).count();
    let pauses = probe.pauses.len();
    let paused: f64 = probe.pauses.iter().sum();
    let longest = probe.pauses.iter().copied().fold(0.0, f64::max);
    let (commit, pop, end, load, save) = (
        probe.in_commit,
        probe.in_pop,
        probe.in_end,
        probe.in_load,
        probe.in_save,
    );
    probe.late_fired.sort_by(f64::total_cmp);
    probe.late_durable.sort_by(f64::total_cmp);
    let (f, d) = (&probe.late_fired, &probe.late_durable);
    println!(
        "timers: paced: {} timers due at {:.0}/s of wall clock (their due times scaled onto {:.1} s), fired in {secs:.2} s ({:.0}/s, {:.2} CPU-s); {} commits; lateness at the end of the timer's step p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; until durable (committed) p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        probe.fired,
        cfg.rate,
        pending.timers as f64 / cfg.rate,
        probe.fired as f64 / secs,
        cpu.unwrap_or(f64::NAN),
        probe.commits,
        quantile(f, 0.5) * 1e3,
        quantile(f, 0.99) * 1e3,
        quantile(f, 1.0) * 1e3,
        quantile(d, 0.5) * 1e3,
        quantile(d, 0.99) * 1e3,
        quantile(d, 1.0) * 1e3,
    );
    println!(
        "timers: paced: {late} timers ({:.2}%) fired over 50 ms late; {pauses} pauses of over 10 ms between two steps, {:.2} s in all, the longest {:.0} ms; in the store's commits {:.2} s (the longest {:.0} ms), end_step {:.2} s (the longest {:.0} ms), pop_due {:.2} s (the longest {:.0} ms), load {:.2} s (the longest {:.0} ms), save {:.2} s (the longest {:.0} ms)",
        late as f64 * 100.0 / f.len().max(1) as f64,
        paused,
        longest * 1e3,
        commit.0,
        commit.1 * 1e3,
        end.0,
        end.1 * 1e3,
        pop.0,
        pop.1 * 1e3,
        load.0,
        load.1 * 1e3,
        save.0,
        save.1 * 1e3
    );
    Ok(())
}

fn timers_sections(module: &Module, cfg: &Config, fire: bool, restart: bool) -> Res<()> {
    println!("timers: load average {}", loadavg());
    let pending = timers_setup(module, cfg)?;
    if restart {
        restart_section(cfg, &pending)?;
    }
    if fire {
        let copy = cfg.tempdir()?;
        copy_dir(pending.dir.path(), copy.path())?;
        fire_unpaced(module, &pending, pending.dir.path())?;
        std::thread::sleep(Wall::from_secs(1));
        fire_paced(module, cfg, &pending, copy.path())?;
    }
    println!("timers: load average {}", loadavg());
    Ok(())
}

// ---------------------------------------------------------------------
// 4. Memory and disk.

/// Runs this binary as a child with `args`, returning what it printed.
fn child(cfg: &Config, args: &[&str]) -> Res<String> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command.arg("--child").args(args);
    if std::env::args().any(|a| a == "--bench") {
        command.arg("--bench");
    }
    if let Some(base) = &cfg.base {
        command.env("NUDGE_BENCH_DIR", base);
    }
    WATCHING.store(false, Ordering::Relaxed);
    let out = command.output();
    WATCHING.store(true, Ordering::Relaxed);
    let out = out?;
    if !out.status.success() {
        return Err(format!(
            "child {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn child_memory(module: Module, cfg: &Config, n: u64, sled_cache: u64) -> Res<()> {
    let dir = cfg.tempdir()?;
    let options = Options {
        cache_bytes: cfg.cache_bytes,
        ..Options::default()
    };
    let store = if sled_cache == 0 {
        SledStore::open(dir.path(), options)?
    } else {
        let db = sled::Config::new()
            .path(dir.path())
            .cache_capacity(sled_cache)
            .open()?;
        SledStore::partition(&db, 0, options)?
    };
    let rss0 = status_kb("VmRSS").unwrap_or(0);
    let mut engine = Engine::new(store, module, cfg.t0);
    let cart = props(&[
        ("product_name", Value::str("Lamp")),
        ("price", Value::Float(40.0)),
        ("cart_total", Value::Float(40.0)),
    ]);
    let mut id = String::new();
    let start = Instant::now();
    for p in 0..n {
        // Spread over 50 minutes: the journeys' hour has not gone by.
        let at = cfg.t0 + ms((u128::from(p) * 3_000_000 / u128::from(n.max(1))) as i64);
        id.clear();
        let _ = write!(id, "user-{p}");
        engine.identify(&id, traits(p, cfg.t0), at)?;
        engine.track(&id, "checkout_abandoned", cart.clone(), at)?;
        tick();
        if (p + 1) % (GROUP / 2) == 0 {
            engine.commit()?;
        }
        if p % LOG_BATCH == 0 {
            engine.log.clear();
        }
    }
    engine.commit()?;
    engine.log.clear();
    let secs = start.elapsed().as_secs_f64();
    let sample = (n / 1000).max(1);
    let (mut sampled, mut waiting) = (0, 0);
    for p in (0..n).step_by(sample as usize) {
        sampled += 1;
        if engine
            .journey(&format!("user-{p}"), "abandoned_checkout")
            .is_some_and(|j| j.is_active())
        {
            waiting += 1;
        }
    }
    let rss = status_kb("VmRSS").unwrap_or(0);
    let hwm = status_kb("VmHWM").unwrap_or(0);
    let disk = engine.store().size_on_disk()?;
    let cache = if sled_cache == 0 {
        format!(
            "sled page cache as `SledStore::open` sets it, {} MiB",
            nudge_store::SLED_CACHE_BYTES >> 20
        )
    } else {
        format!("sled page cache {} MiB", sled_cache >> 20)
    };
    println!(
        "memory: {n} journeys waiting ({cache}, profile cache {} MiB): VmRSS {:.0} MB (peak {:.0} MB, {:.0} MB before loading); {:.1} MB on disk = {:.0} bytes per waiting journey; {} timers in memory; {waiting} of {sampled} sampled journeys waiting; loaded in {secs:.1} s ({:.0} steps/s)",
        cfg.cache_bytes >> 20,
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        rss0 as f64 / 1024.0,
        mb(disk),
        disk as f64 / n as f64,
        engine.store().timers_in_memory(),
        (2 * n) as f64 / secs
    );
    println!("RESULT {rss} {disk}");
    drop(engine);
    WATCHING.store(false, Ordering::Relaxed);
    let (by_kind, live, size) = live_data(dir.path())?;
    println!(
        "memory: {n} journeys waiting: live keys and values:{by_kind} total {:.1} MB = {:.0} bytes per journey; {:.1} MB on disk (reopened) = {:.1}x the live data",
        mb(live),
        live as f64 / n as f64,
        mb(size),
        size as f64 / live.max(1) as f64
    );
    Ok(())
}

fn memory_section(cfg: &Config) -> Res<()> {
    println!("memory: load average {}", loadavg());
    let many = cfg.journeys;
    let few = FEW_JOURNEYS.min(many);
    for sled_cache in [0u64, 32 << 20] {
        let mut rss = Vec::new();
        for n in [few, many] {
            let out = child(cfg, &["memory", &n.to_string(), &sled_cache.to_string()])?;
            for line in out.lines() {
                match line.strip_prefix("RESULT ") {
                    Some(r) => rss.push(
                        r.split_whitespace()
                            .next()
                            .and_then(|s| s.parse::<u64>().ok())
                            .unwrap_or(0),
                    ),
                    None => println!("{line}"),
                }
            }
        }
        if let [a, b] = rss[..] {
            println!(
                "memory: VmRSS with {many} journeys minus with {few}: {:+.0} MB",
                (b as f64 - a as f64) / 1024.0
            );
        }
    }
    println!("memory: load average {}", loadavg());
    Ok(())
}

fn disk_section(module: &Module, cfg: &Config) -> Res<()> {
    println!("disk: load average {}", loadavg());
    let (events, profiles) = (cfg.disk_events, cfg.disk_profiles.max(1));
    let every = if events >= 1_000_000 {
        100_000
    } else {
        (events / 10).max(1)
    };
    let dir = cfg.tempdir()?;
    let store = SledStore::open(dir.path(), Options::default())?;
    let mut engine = Engine::new(store, module.clone(), cfg.t0);
    let mut id = String::new();
    for p in 0..profiles {
        id.clear();
        let _ = write!(id, "user-{p}");
        engine.identify(&id, traits(p, cfg.t0), cfg.t0)?;
        tick();
        if (p + 1) % GROUP == 0 {
            engine.commit()?;
        }
    }
    engine.commit()?;
    engine.log.clear();
    let mut before = engine.store().size_on_disk()?;
    println!(
        "disk: {profiles} profiles identified: {:.1} MB on disk",
        mb(before)
    );
    let step = spacing(events);
    let mut now = cfg.t0;
    let (mut records, mut record_bytes) = (0u64, 0u64);
    let mut w0 = written_bytes();
    let mut c0 = write_calls();
    let mut t = Instant::now();
    for i in 0..events {
        let (p, kind, props) = trace_event(i, profiles);
        now += step;
        id.clear();
        let _ = write!(id, "user-{p}");
        engine.track(&id, kind, props, now)?;
        tick();
        if (i + 1) % GROUP == 0 {
            engine.commit()?;
        }
        if (i + 1) % LOG_BATCH == 0 || (i + 1) % every == 0 {
            records += engine.log.len() as u64;
            for r in &engine.log {
                record_bytes += serde_json::to_vec(r).map_or(0, |v| v.len() as u64);
            }
            engine.log.clear();
        }
        if (i + 1) % every == 0 {
            engine.commit()?;
            let secs = t.elapsed().as_secs_f64();
            let size = engine.store().size_on_disk()?;
            let written = written_bytes();
            let calls = write_calls();
            // A profile's state as the store writes it on every step.
            let mut state_bytes = 0usize;
            let mut sampled = 0usize;
            for p in (0..profiles).step_by((profiles / 200).max(1) as usize) {
                if let Some(state) = engine.store().peek(&format!("user-{p}"))? {
                    state_bytes += postcard::to_allocvec(&state).map_or(0, |v| v.len());
                    sampled += 1;
                }
            }
            println!(
                "disk: after {} events: {:.1} MB on disk ({:+.1} MB); {records} records so far ({:.1} MB as JSON); a profile's state {:.0} bytes encoded on average; last {every} events at {:.0}/s{}{}",
                i + 1,
                mb(size),
                mb(size) - mb(before),
                mb(record_bytes),
                state_bytes as f64 / sampled.max(1) as f64,
                every as f64 / secs,
                written.zip(w0).map_or(String::new(), |(b, a)| format!(
                    ", {:.0} bytes written per event",
                    (b - a) as f64 / every as f64
                )),
                calls.zip(c0).map_or(String::new(), |(b, a)| format!(
                    ", {:.2} write calls per event",
                    (b - a) as f64 / every as f64
                ))
            );
            before = size;
            w0 = written;
            c0 = calls;
            t = Instant::now();
        }
    }
    engine.commit()?;
    drop(engine);
    let (by_kind, live, size) = live_data(dir.path())?;
    println!(
        "disk: at the end, live keys and values:{by_kind} total {:.1} MB; {:.1} MB on disk (reopened) = {:.1}x the live data",
        mb(live),
        mb(size),
        size as f64 / live.max(1) as f64
    );
    println!("disk: load average {}", loadavg());
    Ok(())
}

/// What is live in a closed store, by kind (keys and values), against
/// what its files take: (by kind, as text; live bytes; bytes on disk).
fn live_data(dir: &Path) -> Res<(String, u64, u64)> {
    let db = open_db(dir)?;
    let tree = db.open_tree("partition-0")?;
    let mut kinds: std::collections::BTreeMap<u8, (u64, u64)> = Default::default();
    for entry in tree.iter() {
        let (k, v) = entry?;
        let e = kinds.entry(k.first().copied().unwrap_or(0)).or_default();
        e.0 += 1;
        e.1 += (k.len() + v.len()) as u64;
    }
    let live: u64 = kinds.values().map(|(_, b)| b).sum();
    let size = db.size_on_disk()?;
    let mut by_kind = String::new();
    for (k, (n, b)) in &kinds {
        let name = match k {
            b'P' => "profiles".to_owned(),
            b'T' => "timers".to_owned(),
            b'L' => "record groups".to_owned(),
            other => format!("`{}`", char::from(*other)),
        };
        let _ = write!(by_kind, " {name} {n} = {:.2} MB,", mb(*b));
    }
    Ok((by_kind, live, size))
}

// ---------------------------------------------------------------------

fn run_child(module: Module, cfg: &Config, args: &[String]) -> Res<()> {
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    match arg(0) {
        "restart" => {
            // Opening is not a step: nothing to watch.
            WATCHING.store(false, Ordering::Relaxed);
            let now = DateTime::from_timestamp_millis(arg(2).parse()?).unwrap_or_default();
            child_restart(module, Path::new(arg(1)), now)
        }
        "memory" => child_memory(module, cfg, arg(1).parse()?, arg(2).parse()?),
        other => Err(format!("unknown child `{other}`").into()),
    }
}

fn run() -> Res<()> {
    let cfg = Config::from_env();
    let Some(module) = examples() else {
        return Err("the examples do not compile".into());
    };
    watchdog(env_u64("NUDGE_BENCH_STALL_SECS", 60));
    WATCHING.store(true, Ordering::Relaxed);
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        return run_child(module, &cfg, &args[i + 1..]);
    }
    let only = std::env::var("NUDGE_BENCH_ONLY").unwrap_or_default();
    let wanted = |s: &str| only.is_empty() || only.split(',').any(|o| o.trim() == s);
    if wanted("steps") {
        steps_section(&module, &cfg)?;
    }
    if wanted("timers") || wanted("restart") {
        timers_sections(&module, &cfg, wanted("timers"), wanted("restart"))?;
    }
    if wanted("memory") {
        memory_section(&cfg)?;
    }
    if wanted("disk") {
        disk_section(&module, &cfg)?;
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("durable: {e}");
        std::process::exit(1);
    }
}
