//! Partitions: profiles spread over threads by a stable hash of their id.
//!
//! Each partition is one thread that owns an engine on its own tree of the
//! store (`partition-N`), fed by a bounded queue of jobs (the validated
//! calls of one request that belong to it). The thread handles, in turn:
//! the timers that are due by the wall clock (at most [`CATCH_UP`] between
//! two looks at its queue, so that a long backlog after a restart does not
//! hold up new events), then every job waiting in its queue; then it
//! commits the group (one sled batch and an fsync) and only then answers
//! the jobs' callers; then it writes the new messages to its outbox.
//!
//! A partition's input is thus an ordered sequence of validated calls: the
//! boundary a stream (one subject per partition) can feed later.
//!
//! **Time.** The engine's clock follows the wall clock through the timers
//! it fires (a timer fires at its due time). A call is applied at its
//! corrected timestamp, but never before the partition's clock (an event
//! that arrives after a later timer fired is applied at the clock: late
//! events take their place in arrival order) and never after the wall
//! clock (a call from the future is applied now).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use nudge_bytecode::Module;
use nudge_ingest::Input;
use nudge_store::{Options, SledStore};
use nudge_vm::{Engine, Store as _};
use tokio::sync::oneshot;

use crate::api::{self, Query};
use crate::outbox::Outbox;
use crate::segment::Call;
use crate::ServeError;

/// The most timers a partition fires between two looks at its queue.
pub const CATCH_UP: usize = 2048;

/// The most calls a partition applies in one group before committing.
const MAX_GROUP_CALLS: usize = 8192;

/// The longest a partition sleeps without looking at the wall clock.
const IDLE: Duration = Duration::from_millis(500);

/// How long a message id is remembered (retries within it are applied
/// once).
pub const DEDUP_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// What a job's caller gets back once its calls are durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Calls applied.
    pub applied: usize,
    /// Calls whose message id was applied before (acknowledged, not
    /// applied again).
    pub duplicates: usize,
}

/// What a partition is given to do.
pub enum Work {
    /// Calls to apply.
    Apply(Job),
    /// A question for the read API, answered after the group under way
    /// is committed.
    Query(Query, oneshot::Sender<Result<serde_json::Value, String>>),
    /// A new version to run, after the group under way is committed.
    Deploy(Arc<Module>, oneshot::Sender<Result<Deployed, String>>),
}

/// What a deploy did in one partition.
#[derive(Clone, Debug, Default)]
pub struct Deployed {
    /// Running journeys before the deploy, by workflow.
    pub running: std::collections::BTreeMap<String, u64>,
    /// Journeys ended because the new version dropped their workflow.
    pub ended: std::collections::BTreeMap<String, u64>,
}

/// Why a job's calls were not applied: a call failed in the engine (a
/// template that cannot render with this profile's data, say). The job
/// is refused whole; the other jobs of its group are applied without it.
/// (A partition that stops drops its jobs' senders instead.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallFailed(pub String);

/// Calls for one partition, and where to say they are durable.
pub struct Job {
    /// The calls, in request order.
    pub calls: Vec<Call>,
    /// The answer: after the commit that holds the calls, or why not.
    pub done: oneshot::Sender<Result<Applied, CallFailed>>,
    /// The job's place in the partition's queue, given back when it is
    /// answered.
    pub permit: tokio::sync::OwnedSemaphorePermit,
}

/// Why jobs were not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// A partition's queue is full: try again shortly.
    Full,
    /// A partition has stopped (it failed, or the server is stopping).
    Stopped,
}

pub use crate::metrics::Counters;

/// The partition of a profile: FNV-1a of its id, so that it never
/// changes between runs or builds.
pub fn of(id: &str, partitions: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % partitions.max(1) as u64) as usize
}

/// How partitions run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How many.
    pub count: usize,
    /// Requests each one queues at most.
    pub queue: usize,
    /// Where their outboxes go.
    pub outbox_dir: std::path::PathBuf,
    /// sled's log file, synced at each commit.
    pub sync_file: Option<std::path::PathBuf>,
    /// The store's options.
    pub options: Options,
    /// Print each message on stdout.
    pub echo: bool,
    /// The providers messages are handed to, and where outcomes go.
    pub deliveries: Option<(Arc<crate::delivery::Deliveries>, std::path::PathBuf)>,
}

/// Where a read API question is answered.
type QueryAnswer = oneshot::Sender<Result<serde_json::Value, String>>;

/// Where a deploy is answered.
type DeployAnswer = oneshot::Sender<Result<Deployed, String>>;

/// The running partitions.
pub struct Partitions {
    /// Emptied when the partitions stop (their threads then end).
    queues: std::sync::RwLock<Vec<Sender<Work>>>,
    /// Each queue's free places (a request takes its places in every
    /// partition it needs before any job is queued, so that a full queue
    /// refuses a request whole).
    places: Vec<Arc<tokio::sync::Semaphore>>,
    threads: std::sync::Mutex<Vec<JoinHandle<Result<(), String>>>>,
    /// Each partition's counters.
    pub counters: Vec<Arc<Counters>>,
    failed: Arc<AtomicBool>,
}

impl Partitions {
    /// Opens every partition of `db` and starts its thread; returns once
    /// every partition has recovered its outbox and is ready.
    pub fn start(
        db: &sled::Db,
        module: &Module,
        settings: &Settings,
    ) -> Result<Partitions, ServeError> {
        let Settings {
            count,
            queue,
            ref outbox_dir,
            ref sync_file,
            options,
            echo,
            ref deliveries,
        } = *settings;
        let failed = Arc::new(AtomicBool::new(false));
        let mut queues = Vec::new();
        let mut places = Vec::new();
        let mut threads = Vec::new();
        let mut counters = Vec::new();
        let mut ready = Vec::new();
        for n in 0..count {
            let place = Place {
                n,
                db: db.clone(),
                options: Options {
                    // A group is written only at its commit (the loop
                    // bounds it), so a failed group can be dropped whole.
                    max_group: usize::MAX,
                    ..options
                },
                sync_file: sync_file.clone(),
            };
            let store = place
                .open()
                .map_err(|e| ServeError::new(format!("partition {n}: {e}")))?;
            let outbox = Outbox::open(outbox_dir, n, module, echo, deliveries.clone())?;
            let (tx, rx) = std::sync::mpsc::channel();
            places.push(Arc::new(tokio::sync::Semaphore::new(queue)));
            let c = Arc::new(Counters::default());
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let module = module.clone();
            let thread_counters = c.clone();
            let thread_failed = failed.clone();
            let thread = std::thread::Builder::new()
                .name(format!("partition-{n}"))
                .spawn(move || {
                    let out = run(place, store, module, rx, outbox, &thread_counters, ready_tx);
                    if let Err(e) = &out {
                        tracing::error!(partition = n, "the partition stopped: {e}");
                        thread_failed.store(true, Ordering::SeqCst);
                    }
                    out
                })
                .map_err(|e| ServeError::new(format!("cannot start partition {n}: {e}")))?;
            queues.push(tx);
            threads.push(thread);
            counters.push(c);
            ready.push(ready_rx);
        }
        for (n, r) in ready.into_iter().enumerate() {
            match r.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(ServeError::new(format!("partition {n}: {e}"))),
                Err(_) => {
                    return Err(ServeError::new(format!(
                        "partition {n} stopped while starting"
                    )))
                }
            }
        }
        Ok(Partitions {
            queues: std::sync::RwLock::new(queues),
            places,
            threads: std::sync::Mutex::new(threads),
            counters,
            failed,
        })
    }

    /// How many there are.
    pub fn count(&self) -> usize {
        self.places.len()
    }

    /// Whether a partition has failed (the server should stop).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Queues the calls of one request, split by partition (each list's
    /// index is its partition), without waiting: all of them, or none when
    /// a queue is full or a partition stopped. The receivers answer once
    /// the calls are durable.
    pub fn submit(
        &self,
        mut by_partition: Vec<Vec<Call>>,
    ) -> Result<Vec<oneshot::Receiver<Result<Applied, CallFailed>>>, Busy> {
        if self.failed() {
            return Err(Busy::Stopped);
        }
        let mut permits = Vec::new();
        for (n, calls) in by_partition.iter().enumerate() {
            if calls.is_empty() {
                continue;
            }
            let place = self.places.get(n).ok_or(Busy::Stopped)?;
            match place.clone().try_acquire_owned() {
                Ok(p) => permits.push((n, p)),
                Err(tokio::sync::TryAcquireError::NoPermits) => return Err(Busy::Full),
                Err(tokio::sync::TryAcquireError::Closed) => return Err(Busy::Stopped),
            }
        }
        let mut answers = Vec::new();
        for (n, permit) in permits {
            let (done, answer) = oneshot::channel();
            let job = Job {
                calls: std::mem::take(&mut by_partition[n]),
                done,
                permit,
            };
            let queues = self.queues.read().map_err(|_| Busy::Stopped)?;
            let queue = queues.get(n).ok_or(Busy::Stopped)?;
            queue.send(Work::Apply(job)).map_err(|_| Busy::Stopped)?;
            answers.push(answer);
        }
        Ok(answers)
    }

    /// Deploys a version on partition `n`.
    pub fn deploy(
        &self,
        n: usize,
        module: Arc<Module>,
    ) -> Result<oneshot::Receiver<Result<Deployed, String>>, Busy> {
        let (tx, rx) = oneshot::channel();
        let queues = self.queues.read().map_err(|_| Busy::Stopped)?;
        let queue = queues.get(n).ok_or(Busy::Stopped)?;
        queue
            .send(Work::Deploy(module, tx))
            .map_err(|_| Busy::Stopped)?;
        Ok(rx)
    }

    /// Asks partition `n` a question of the read API.
    pub fn query(
        &self,
        n: usize,
        query: Query,
    ) -> Result<oneshot::Receiver<Result<serde_json::Value, String>>, Busy> {
        let (tx, rx) = oneshot::channel();
        let queues = self.queues.read().map_err(|_| Busy::Stopped)?;
        let queue = queues.get(n).ok_or(Busy::Stopped)?;
        queue
            .send(Work::Query(query, tx))
            .map_err(|_| Busy::Stopped)?;
        Ok(rx)
    }

    /// Stops every partition once its queue is empty: what is queued is
    /// applied, committed and answered first.
    pub fn stop(&self) -> Result<(), ServeError> {
        if let Ok(mut queues) = self.queues.write() {
            queues.clear();
        }
        let threads = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        let mut failures = Vec::new();
        for (n, t) in threads.into_iter().enumerate() {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!("partition {n}: {e}")),
                Err(_) => failures.push(format!("partition {n} panicked")),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(ServeError::new(failures.join("; ")))
        }
    }
}

/// Where a partition's store is: enough to open it again.
struct Place {
    n: usize,
    db: sled::Db,
    options: Options,
    sync_file: Option<std::path::PathBuf>,
}

impl Place {
    fn open(&self) -> Result<SledStore, nudge_vm::StoreError> {
        Ok(SledStore::partition(&self.db, self.n as u32, self.options)?
            .syncing(self.sync_file.clone()))
    }
}

/// A partition's engine, its outbox and its counts.
struct Partition<'a> {
    place: Place,
    engine: Engine<SledStore>,
    outbox: Outbox,
    counters: &'a Counters,
    /// Counts per workflow over the record log: read from the log at the
    /// first question (not at start, which would cost a scan of the whole
    /// log), then kept up to date.
    stats: Option<std::collections::BTreeMap<String, nudge_vm::WorkflowStats>>,
}

/// A failure that stops the partition (the store's).
type Fatal = String;

fn fatal(e: impl std::fmt::Display) -> Fatal {
    e.to_string()
}

impl Partition<'_> {
    /// Drops the group under way and starts again from the last commit.
    fn reopen(&mut self) -> Result<(), Fatal> {
        let module = self.engine.module().clone();
        let now = wall_now().max(self.engine.now());
        let store = self.place.open().map_err(fatal)?;
        self.engine = Engine::new(store, module, now);
        self.engine.log.clear();
        Ok(())
    }

    /// Fires the timers due by `now`, at most [`CATCH_UP`]; returns how
    /// many. A timer whose step fails in the engine (not in the store) is
    /// logged and dropped, so that it cannot stop the partition again.
    fn fire_due(&mut self, now: DateTime<Utc>) -> Result<usize, Fatal> {
        let mut fired = 0;
        while fired < CATCH_UP {
            let Some(due) = self.engine.store().next_timer().filter(|d| *d <= now) else {
                break;
            };
            match self.engine.fire_next() {
                Ok(_) => {
                    fired += 1;
                    let late = (wall_now() - due).num_microseconds().unwrap_or(i64::MAX);
                    self.counters.lateness.observe(late as f64 / 1e6);
                }
                Err(nudge_vm::EngineError::Store(e)) => return Err(fatal(e)),
                Err(e) => {
                    self.reopen()?;
                    let store = self.engine.store_mut();
                    if let Some((at, timer)) = store.pop_due(due).map_err(fatal)? {
                        store.end_step(&[]).map_err(fatal)?;
                        store.commit().map_err(fatal)?;
                        tracing::error!(
                            partition = self.place.n,
                            "a timer due at {at} failed in the engine and is dropped: {e} ({timer:?})"
                        );
                    }
                    fired = 0;
                }
            }
        }
        Ok(fired)
    }

    /// Applies the jobs' calls in order. A job with a call that fails in
    /// the engine is answered with the failure, the group is dropped, and
    /// the other jobs are applied again without it.
    fn apply_jobs(&mut self, jobs: &mut Vec<Job>) -> Result<Vec<Applied>, Fatal> {
        loop {
            let mut results = Vec::with_capacity(jobs.len());
            let mut failed = None;
            'jobs: for (i, job) in jobs.iter().enumerate() {
                let mut applied = Applied::default();
                for call in &job.calls {
                    match apply(&mut self.engine, call) {
                        Ok(true) => applied.applied += 1,
                        Ok(false) => applied.duplicates += 1,
                        Err(nudge_vm::EngineError::Store(e)) => return Err(fatal(e)),
                        Err(e) => {
                            failed = Some((
                                i,
                                format!(
                                    "the call for user `{}` failed in the engine: {e}",
                                    call.input.user_id()
                                ),
                            ));
                            break 'jobs;
                        }
                    }
                }
                results.push(applied);
            }
            let Some((i, message)) = failed else {
                return Ok(results);
            };
            tracing::error!(partition = self.place.n, "a request is refused: {message}");
            self.reopen()?;
            let job = jobs.remove(i);
            let _ = job.done.send(Err(CallFailed(message)));
        }
    }

    /// Commits the group, then counts and writes out what it holds.
    fn commit(&mut self) -> Result<(), Fatal> {
        let t = std::time::Instant::now();
        self.engine.commit().map_err(fatal)?;
        self.counters.commits.observe(t.elapsed().as_secs_f64());
        self.counters
            .steps
            .fetch_add(std::mem::take(&mut self.engine.steps), Ordering::Relaxed);
        self.counters
            .timers_pending
            .store(self.engine.store().timer_count(), Ordering::Relaxed);
        for r in &self.engine.log {
            if let Some(stats) = &mut self.stats {
                nudge_vm::WorkflowStats::tally(stats, r);
            }
            if let nudge_vm::Record::Sent { message, .. } = r {
                self.counters.message(message.channel);
            }
        }
        self.engine.log.clear();
        self.outbox.catch_up(self.engine.store()).map_err(fatal)?;
        Ok(())
    }

    fn answer(&mut self, q: Query) -> Result<serde_json::Value, String> {
        match q {
            Query::Profile(id) => api::profile(&self.engine, self.place.n, &id)
                .map(|p| p.unwrap_or(serde_json::Value::Null)),
            Query::Stats => {
                if self.stats.is_none() {
                    self.stats = Some(api::stats_of_log(self.engine.store())?);
                }
                serde_json::to_value(&self.stats).map_err(|e| e.to_string())
            }
            Query::Versions => api::versions(&self.engine),
            Query::Measure => api::measure_log(self.engine.store()),
            Query::Retry(send_id) => match self.outbox.resend(&send_id, self.engine.store()) {
                Ok(true) => Ok(serde_json::json!({"success": true})),
                Ok(false) => Ok(serde_json::Value::Null),
                Err(e) => Err(e.to_string()),
            },
        }
    }
}

/// A partition's thread.
fn run(
    place: Place,
    store: SledStore,
    module: Module,
    queue: Receiver<Work>,
    outbox: Outbox,
    counters: &Counters,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) -> Result<(), String> {
    let n = place.n;
    let start = wall_now();
    let mut p = Partition {
        place,
        engine: Engine::new(store, module, start),
        outbox,
        counters,
        stats: None,
    };
    let started = (|| -> Result<(), Fatal> {
        // Journeys of workflows the project no longer has end now, as
        // with a deploy.
        if drops_workflows(&p.engine) {
            let d = end_dropped(&mut p.engine).map_err(fatal)?;
            if !d.ended.is_empty() {
                tracing::info!(
                    partition = n,
                    "journeys of removed workflows ended: {:?}",
                    d.ended
                );
            }
        }
        arm_dates(&mut p.engine).map_err(fatal)?;
        p.commit()?;
        Ok(())
    })();
    let _ = ready.send(started.clone());
    started?;
    counters.ready.store(true, Ordering::SeqCst);
    tracing::info!(partition = n, "ready");
    // Fault injection for the crash tests: a pause between a group's
    // commit and its answers widens the window in which a kill leaves
    // calls applied but unacknowledged (their retries must be dropped).
    let ack_delay = std::env::var("NUDGE_FAULT_ACK_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis);
    let mut last_forget = start;
    let mut jobs: Vec<Job> = Vec::new();
    let mut queries: Vec<(Query, QueryAnswer)> = Vec::new();
    let mut deploys: Vec<(Arc<Module>, DeployAnswer)> = Vec::new();
    let mut stopping = false;
    loop {
        // Due timers, a bounded number at a time.
        let fired = p.fire_due(wall_now())?;
        // Calls wait while timers due before them remain: they are
        // applied in order, after the catch-up.
        let catching_up = fired == CATCH_UP;
        let wait = if catching_up || stopping {
            Duration::ZERO
        } else {
            match p.engine.store().next_timer() {
                Some(due) => (due - wall_now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(IDLE),
                None => IDLE,
            }
        };
        if !stopping {
            let mut calls = jobs.iter().map(|j| j.calls.len()).sum::<usize>();
            let mut first = Some(wait);
            while calls < MAX_GROUP_CALLS {
                let next = match first.take() {
                    Some(wait) => queue.recv_timeout(wait),
                    None => queue.try_recv().map_err(|e| match e {
                        std::sync::mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                        std::sync::mpsc::TryRecvError::Disconnected => {
                            RecvTimeoutError::Disconnected
                        }
                    }),
                };
                match next {
                    Ok(Work::Apply(job)) => {
                        calls += job.calls.len();
                        jobs.push(job);
                    }
                    Ok(Work::Query(q, answer)) => queries.push((q, answer)),
                    Ok(Work::Deploy(m, answer)) => deploys.push((m, answer)),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        stopping = true;
                        break;
                    }
                }
            }
        }
        if catching_up {
            if fired > 0 {
                p.commit()?;
                counters
                    .timers_fired
                    .fetch_add(fired as u64, Ordering::Relaxed);
            }
            continue;
        }
        let results = p.apply_jobs(&mut jobs)?;
        let now = wall_now();
        if now - last_forget > chrono::TimeDelta::seconds(1) {
            p.engine
                .store_mut()
                .forget_messages(now - DEDUP_WINDOW, 100_000)
                .map_err(fatal)?;
            last_forget = now;
        }
        // A deploy joins the group: what it ends is committed with the
        // calls before the answers go out.
        let mut deployed = Vec::new();
        for (module, answer) in deploys.drain(..) {
            match deploy(&mut p.engine, (*module).clone()) {
                Ok(d) => {
                    p.outbox.set_module(&module);
                    deployed.push((answer, Ok(d)));
                }
                Err(nudge_vm::EngineError::Store(e)) => return Err(fatal(e)),
                Err(e) => {
                    p.reopen()?;
                    let _ = answer.send(Err(format!("the deploy failed in the engine: {e}")));
                }
            }
        }
        if !results.is_empty() || fired > 0 || stopping || !deployed.is_empty() {
            p.commit()?;
            counters
                .timers_fired
                .fetch_add(fired as u64, Ordering::Relaxed);
            if let Some(delay) = ack_delay.filter(|_| !results.is_empty()) {
                std::thread::sleep(delay);
            }
            for (job, applied) in jobs.drain(..).zip(results) {
                counters
                    .applied
                    .fetch_add(applied.applied as u64, Ordering::Relaxed);
                counters
                    .duplicates
                    .fetch_add(applied.duplicates as u64, Ordering::Relaxed);
                // A caller that went away finds its calls applied anyway.
                let _ = job.done.send(Ok(applied));
            }
        }
        for (answer, d) in deployed {
            let _ = answer.send(d);
        }
        for (q, answer) in queries.drain(..) {
            let _ = answer.send(p.answer(q));
        }
        if stopping && jobs.is_empty() {
            tracing::info!(partition = n, "stopped");
            return Ok(());
        }
    }
}

/// The wall clock, to the millisecond (the precision of the timer wheel
/// and of Segment's timestamps).
pub fn wall_now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// The same instant to the millisecond, earlier.
fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// Deploys `module` and ends the journeys of the workflows it drops.
fn deploy(
    engine: &mut Engine<SledStore>,
    module: Module,
) -> Result<Deployed, nudge_vm::EngineError> {
    // Every profile of the group under way is in the store's scan.
    engine.commit()?;
    engine.deploy(module);
    let deployed = end_dropped(engine)?;
    arm_dates(engine)?;
    Ok(deployed)
}

/// Arms the date triggers of the current version for every profile not
/// armed for it yet (a scan of every profile, when the version has date
/// triggers): a birthday workflow deployed today reaches profiles that
/// send nothing.
fn arm_dates(engine: &mut Engine<SledStore>) -> Result<(), nudge_vm::EngineError> {
    let dated = engine.module().workflows.iter().any(|w| {
        w.triggers
            .iter()
            .any(|t| matches!(t, nudge_bytecode::Trigger::Date(_)))
    });
    if !dated {
        return Ok(());
    }
    let hash = engine.module_hash();
    let mut to_arm = Vec::new();
    engine
        .store()
        .for_each_profile(&mut |state| {
            if state.dates_module != hash {
                to_arm.push(state.id().to_string());
            }
        })
        .map_err(nudge_vm::EngineError::Store)?;
    let now = wall_now().max(engine.now());
    for id in to_arm {
        engine.arm_profile_dates(&id, now)?;
    }
    Ok(())
}

/// Whether a version in the store has a workflow the current one lacks.
fn drops_workflows(engine: &Engine<SledStore>) -> bool {
    let store = engine.store();
    let current = engine.module();
    store.module_hashes().into_iter().any(|h| {
        store.module(h).is_some_and(|m| {
            m.workflows
                .iter()
                .any(|w| !current.workflows.iter().any(|c| c.name == w.name))
        })
    })
}

/// Ends the running journeys of workflows the current version does not
/// have (a scan of every profile); counts the running journeys by
/// workflow and those ended.
fn end_dropped(engine: &mut Engine<SledStore>) -> Result<Deployed, nudge_vm::EngineError> {
    let names: std::collections::HashSet<String> = engine
        .module()
        .workflows
        .iter()
        .map(|w| w.name.clone())
        .collect();
    let mut d = Deployed::default();
    let mut to_end = Vec::new();
    engine
        .store()
        .for_each_profile(&mut |state| {
            let mut removed = false;
            for (name, w) in &state.workflows {
                if w.journey.as_ref().is_some_and(|j| j.is_active()) {
                    *d.running.entry(name.to_string()).or_default() += 1;
                    removed |= !names.contains(&**name);
                }
            }
            if removed {
                to_end.push(state.id().to_string());
            }
        })
        .map_err(nudge_vm::EngineError::Store)?;
    let now = wall_now().max(engine.now());
    for id in to_end {
        for w in engine.end_removed(&id, now)? {
            *d.ended.entry(w.to_string()).or_default() += 1;
        }
    }
    Ok(d)
}

/// Applies one call; `false` when its message id was applied before.
fn apply(engine: &mut Engine<SledStore>, call: &Call) -> Result<bool, nudge_vm::EngineError> {
    if let Some(id) = &call.message_id {
        if engine
            .store()
            .seen_message(id)
            .map_err(nudge_vm::EngineError::Store)?
        {
            return Ok(false);
        }
    }
    let wall = wall_now().max(engine.now());
    let at = to_millis(call.input.at().unwrap_or(wall)).clamp(engine.now(), wall);
    engine.advance_to(at)?;
    if let Some(id) = &call.message_id {
        // The retry window counts from when the call was applied, not from
        // its (possibly old) timestamp.
        engine.store_mut().remember_message(id, wall);
    }
    match &call.input {
        Input::Track {
            user_id,
            event,
            props,
            ..
        } => engine.track(user_id, event, props.clone(), at)?,
        Input::Identify {
            user_id, traits, ..
        } => engine.identify(user_id, traits.clone(), at)?,
    }
    Ok(true)
}
