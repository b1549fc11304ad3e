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

/// Calls for one partition, and where to say they are durable.
pub struct Job {
    /// The calls, in request order.
    pub calls: Vec<Call>,
    /// The answer: after the commit that holds the calls, or the
    /// partition's failure.
    pub done: oneshot::Sender<Result<Applied, String>>,
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

/// The profile attribute that holds email addresses, as the module's
/// email sends name it.
fn email_field(module: &Module) -> Option<String> {
    let field = module
        .messages
        .iter()
        .find(|m| m.channel == nudge_bytecode::Channel::Email)?
        .address?;
    Some(module.schemas.profile.get(field as usize)?.name.clone())
}

/// The running partitions.
pub struct Partitions {
    queues: Vec<Sender<Work>>,
    /// Each queue's free places (a request takes its places in every
    /// partition it needs before any job is queued, so that a full queue
    /// refuses a request whole).
    places: Vec<Arc<tokio::sync::Semaphore>>,
    threads: Vec<JoinHandle<Result<(), String>>>,
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
        count: usize,
        queue: usize,
        outbox_dir: &std::path::Path,
        sync_file: Option<std::path::PathBuf>,
        options: Options,
        echo: bool,
    ) -> Result<Partitions, ServeError> {
        let email_field = email_field(module);
        let failed = Arc::new(AtomicBool::new(false));
        let mut queues = Vec::new();
        let mut places = Vec::new();
        let mut threads = Vec::new();
        let mut counters = Vec::new();
        let mut ready = Vec::new();
        for n in 0..count {
            let store = SledStore::partition(db, n as u32, options)
                .map_err(|e| ServeError::new(format!("partition {n}: {e}")))?
                .syncing(sync_file.clone());
            let outbox = Outbox::open(outbox_dir, n, email_field.clone(), echo)?;
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
                    let out = run(n, store, module, rx, outbox, &thread_counters, ready_tx);
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
            queues,
            places,
            threads,
            counters,
            failed,
        })
    }

    /// How many there are.
    pub fn count(&self) -> usize {
        self.queues.len()
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
    ) -> Result<Vec<oneshot::Receiver<Result<Applied, String>>>, Busy> {
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
            let queue = self.queues.get(n).ok_or(Busy::Stopped)?;
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
        let queue = self.queues.get(n).ok_or(Busy::Stopped)?;
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
        let queue = self.queues.get(n).ok_or(Busy::Stopped)?;
        queue
            .send(Work::Query(query, tx))
            .map_err(|_| Busy::Stopped)?;
        Ok(rx)
    }

    /// Stops every partition once its queue is empty: what is queued is
    /// applied, committed and answered first.
    pub fn stop(self) -> Result<(), ServeError> {
        drop(self.queues);
        let mut failures = Vec::new();
        for (n, t) in self.threads.into_iter().enumerate() {
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

/// A partition's thread.
fn run(
    n: usize,
    store: SledStore,
    module: Module,
    queue: Receiver<Work>,
    mut outbox: Outbox,
    counters: &Counters,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) -> Result<(), String> {
    let start = wall_now();
    let mut engine = Engine::new(store, module, start);
    let started = engine.commit().map_err(|e| e.to_string()).and_then(|()| {
        engine.log.clear();
        outbox
            .catch_up(engine.store())
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
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
    let mut stats = api::stats_of_log(engine.store())?;
    let mut jobs: Vec<Job> = Vec::new();
    let mut queries: Vec<(Query, oneshot::Sender<Result<serde_json::Value, String>>)> = Vec::new();
    let mut deploys: Vec<(Arc<Module>, oneshot::Sender<Result<Deployed, String>>)> = Vec::new();
    loop {
        // Due timers, a bounded number at a time.
        let now = wall_now();
        let mut fired = 0;
        while fired < CATCH_UP {
            match engine.store().next_timer() {
                Some(due) if due <= now => {
                    engine.fire_next().map_err(|e| e.to_string())?;
                    fired += 1;
                    let late = (wall_now() - due).num_microseconds().unwrap_or(i64::MAX);
                    counters.lateness.observe(late as f64 / 1e6);
                }
                _ => break,
            }
        }
        counters
            .timers_fired
            .fetch_add(fired as u64, Ordering::Relaxed);
        // Wait for work until the next timer is due.
        let wait = if fired == CATCH_UP {
            Duration::ZERO
        } else {
            match engine.store().next_timer() {
                Some(due) => (due - wall_now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(IDLE),
                None => IDLE,
            }
        };
        let mut stopping = false;
        match queue.recv_timeout(wait) {
            Ok(Work::Apply(job)) => jobs.push(job),
            Ok(Work::Query(q, answer)) => queries.push((q, answer)),
            Ok(Work::Deploy(m, answer)) => deploys.push((m, answer)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => stopping = true,
        }
        let mut calls = jobs.iter().map(|j| j.calls.len()).sum::<usize>();
        while calls < MAX_GROUP_CALLS {
            match queue.try_recv() {
                Ok(Work::Apply(job)) => {
                    calls += job.calls.len();
                    jobs.push(job);
                }
                Ok(Work::Query(q, answer)) => queries.push((q, answer)),
                Ok(Work::Deploy(m, answer)) => deploys.push((m, answer)),
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    stopping = true;
                    break;
                }
            }
        }
        let mut answers = Vec::with_capacity(jobs.len());
        for job in jobs.drain(..) {
            let mut applied = Applied::default();
            for call in job.calls {
                if apply(&mut engine, call).map_err(|e| e.to_string())? {
                    applied.applied += 1;
                } else {
                    applied.duplicates += 1;
                }
            }
            counters
                .applied
                .fetch_add(applied.applied as u64, Ordering::Relaxed);
            counters
                .duplicates
                .fetch_add(applied.duplicates as u64, Ordering::Relaxed);
            answers.push((job.done, job.permit, applied));
        }
        let now = wall_now();
        if now - last_forget > chrono::TimeDelta::seconds(1) {
            engine
                .store_mut()
                .forget_messages(now - DEDUP_WINDOW, 100_000)
                .map_err(|e| e.to_string())?;
            last_forget = now;
        }
        // A deploy joins the group: what it ends is committed with the
        // calls before the answers go out.
        let mut deployed = Vec::new();
        for (module, answer) in deploys.drain(..) {
            let d = deploy(&mut engine, (*module).clone()).map_err(|e| e.to_string())?;
            deployed.push((answer, d));
        }
        if !answers.is_empty() || fired > 0 || stopping || !deployed.is_empty() {
            let t = std::time::Instant::now();
            engine.commit().map_err(|e| e.to_string())?;
            counters.commits.observe(t.elapsed().as_secs_f64());
            if let Some(delay) = ack_delay.filter(|_| !answers.is_empty()) {
                std::thread::sleep(delay);
            }
            for (done, permit, applied) in answers {
                // A caller that went away finds its calls applied anyway.
                let _ = done.send(Ok(applied));
                drop(permit);
            }
            for r in &engine.log {
                nudge_vm::WorkflowStats::tally(&mut stats, r);
                if let nudge_vm::Record::Sent { message, .. } = r {
                    counters.message(message.channel);
                }
            }
            engine.log.clear();
            outbox.catch_up(engine.store()).map_err(|e| e.to_string())?;
        }
        for (answer, d) in deployed {
            let _ = answer.send(Ok(d));
        }
        for (q, answer) in queries.drain(..) {
            let _ = answer.send(match q {
                Query::Profile(id) => {
                    api::profile(&engine, n, &id).map(|p| p.unwrap_or(serde_json::Value::Null))
                }
                Query::Stats => serde_json::to_value(&stats).map_err(|e| e.to_string()),
                Query::Versions => api::versions(&engine),
            });
        }
        if stopping {
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
    let names: std::collections::HashSet<String> =
        module.workflows.iter().map(|w| w.name.clone()).collect();
    engine.deploy(module);
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
fn apply(engine: &mut Engine<SledStore>, call: Call) -> Result<bool, nudge_vm::EngineError> {
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
        engine.store_mut().remember_message(id, at);
    }
    match call.input {
        Input::Track {
            user_id,
            event,
            props,
            ..
        } => engine.track(&user_id, &event, props, at)?,
        Input::Identify {
            user_id, traits, ..
        } => engine.identify(&user_id, traits, at)?,
    }
    Ok(true)
}
