//! Delivery: messages handed to the providers configured for their
//! channel (email over SMTP, webhooks), sent once, retried when the
//! provider fails for a while, and their outcomes recorded.
//!
//! **The outbox is the queue.** A message is committed with the journey
//! step that sends it; after the commit the partition writes it to its
//! outbox file ([`crate::outbox`]), and, when its channel has a provider,
//! hands it to that provider's workers. A worker sends it with a key that
//! stays the same across attempts (the send id: the webhook's
//! `webhook-id`, the email's `Message-ID`), retries transient failures
//! (timeouts, connection errors, HTTP 5xx and 429, SMTP 4xx) with
//! exponential backoff and jitter up to [`Retry::attempts`], and appends
//! the outcome to `deliveries/partition-N.jsonl`: `delivered`, `failed`
//! (a permanent refusal, with the provider's reason) or `parked` (still
//! failing after every attempt; never dropped silently). On start, every
//! outbox message of a configured channel without an outcome is handed
//! over again: a crash between a send and its outcome sends it again
//! (with the same key, so a receiver can drop the copy).

use std::collections::HashSet;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value as Json};

use crate::ServeError;

/// A record's time, as the record log writes it.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

mod email;
mod fcm;
mod http_providers;
mod smtp_client;
mod webhook;

pub use email::EmailConfig;
pub use fcm::FcmConfig;
pub use http_providers::{PushConfig, SmsConfig};
pub use smtp_client::Security;
pub use webhook::WebhookConfig;

/// What delivery is configured.
#[derive(Clone, Debug, Default)]
pub struct DeliveryConfig {
    /// Email over SMTP.
    pub email: Option<EmailConfig>,
    /// Webhooks.
    pub webhook: Option<WebhookConfig>,
    /// SMS, through a Twilio-shaped API.
    pub sms: Option<SmsConfig>,
    /// Push, through an HTTP endpoint.
    pub push: Option<PushConfig>,
    /// Push, through Firebase Cloud Messaging (instead of `push`).
    pub fcm: Option<FcmConfig>,
    /// How failures are retried.
    pub retry: Retry,
    /// The most attempts per second, by channel (none: no limit).
    pub rates: std::collections::HashMap<String, f64>,
    /// Certificate authorities trusted besides the system's (a PEM file).
    pub ca_file: Option<PathBuf>,
}

/// How transient failures are retried.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Attempts in all before a message is parked.
    pub attempts: u32,
    /// The wait before the second attempt; each later one doubles it.
    pub first_wait: Duration,
    /// The longest wait between two attempts.
    pub max_wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 10,
            first_wait: Duration::from_millis(500),
            max_wait: Duration::from_secs(300),
        }
    }
}

impl Retry {
    /// The wait before attempt `n + 1` (after `n` attempts), with up to a
    /// quarter of jitter; a provider's own `Retry-After` wins when longer.
    fn wait(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        let base = self
            .first_wait
            .saturating_mul(1u32 << n.saturating_sub(1).min(20))
            .min(self.max_wait);
        let mut r = [0u8; 2];
        let jitter = if getrandom::fill(&mut r).is_ok() {
            base.mul_f64(f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX) / 4.0)
        } else {
            Duration::ZERO
        };
        (base + jitter).max(retry_after.unwrap_or_default())
    }
}

/// A message on its way to a provider.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    /// The partition that sent it.
    pub partition: usize,
    /// Its number in the partition's record log.
    pub record: u64,
    /// The send id (hex): the key every attempt carries.
    pub send_id: String,
    /// The channel.
    pub channel: String,
    /// The profile.
    pub profile: String,
    /// The workflow.
    pub workflow: String,
    /// The template, if any.
    pub template: Option<String>,
    /// When the journey sent it.
    pub time: String,
    /// Field name → text.
    pub content: serde_json::Map<String, Json>,
    /// The profile's address for the channel, when it has one.
    pub to: Option<String>,
    /// Sent by a `priority transactional` workflow: consent is not asked.
    pub transactional: bool,
    /// Where its line starts in the partition's outbox file.
    pub offset: u64,
}

/// Where a partition's unsettled messages can be: every message of a
/// lower record has an outcome, its lines start at `outbox_offset` in the
/// outbox file, and the outcomes of its messages start at
/// `outcomes_offset` in the outcome file. Kept in
/// `deliveries/partition-N.mark`, so that a start reads only what follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mark {
    /// The first record that may be unsettled.
    pub record: u64,
    /// Where its line starts in the outbox file.
    pub outbox_offset: u64,
    /// The outcome file's length when it was handed over.
    pub outcomes_offset: u64,
}

impl Outgoing {
    /// A field of the content, empty when absent.
    pub fn field(&self, name: &str) -> &str {
        self.content.get(name).and_then(Json::as_str).unwrap_or("")
    }
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The provider took it (with what it said).
    Delivered(String),
    /// Worth trying again (after the provider's `Retry-After`, if any).
    Transient(String, Option<Duration>),
    /// The provider refused it for good.
    Permanent(String),
}

/// A provider of one channel.
pub trait Provider: Send + Sync {
    /// One attempt to send `message`.
    fn send(&self, message: &Outgoing) -> Attempt;
}

/// What delivery shares with the rest of the server.
pub struct Services {
    /// Sends and addresses, noted for providers' reports.
    pub book: crate::feedback::Book,
    /// Consent, asked before each attempt.
    pub consent: crate::consent::Consent,
    /// The address the server is reached at (links in messages).
    pub public_url: Arc<std::sync::OnceLock<String>>,
    /// The in-app inbox, the in-app channel's provider.
    pub inbox: Option<crate::inbox::Inbox>,
    /// Email's open and click tracking.
    pub tracking: crate::tracking::Tracking,
    /// The tokens of SMS status callbacks.
    pub sms_status: crate::tracking::Tracking,
}

/// Per journey with messages on their way: how many, and when the journey
/// exited, once it has.
type Watched = std::collections::HashMap<(String, String), (usize, Option<DateTime<Utc>>)>;

/// Where a message handed over has its outcome looked for.
#[derive(Clone, Copy, Debug)]
enum Settle {
    /// After the outcome file's end now.
    Now,
    /// From this offset of the outcome file on.
    From(u64),
    /// It has one already: not waited for.
    Already,
}

/// The channels with a provider, and the workers that send their
/// messages.
#[derive(Debug)]
pub struct Deliveries {
    queues: Vec<(String, crossbeam_channel::Sender<Outgoing>)>,
    stopping: Arc<std::sync::atomic::AtomicBool>,
    log: Arc<Mutex<Outcomes>>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

/// The outcome files, one per partition.
#[derive(Debug)]
struct Outcomes {
    dir: PathBuf,
    files: std::collections::HashMap<usize, std::fs::File>,
    /// Messages handed over and without an outcome yet, by partition:
    /// record → (outbox offset, outcome file length when handed over).
    pending: std::collections::HashMap<usize, std::collections::BTreeMap<u64, (u64, u64)>>,
    /// The journeys with messages handed over and without an outcome, by
    /// (profile, workflow): how many, and when the journey exited, once
    /// it has.
    journeys: Watched,
}

impl Outcomes {
    fn write(
        &mut self,
        m: &Outgoing,
        outcome: &str,
        attempts: u32,
        detail: &str,
    ) -> Result<(), String> {
        let file = match self.files.entry(m.partition) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let path = self.dir.join(format!("partition-{}.jsonl", m.partition));
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .read(true)
                    .append(true)
                    .open(&path)
                    .map_err(|err| format!("cannot open `{}`: {err}", path.display()))?;
                // A line a crash cut short is ended, so that it stays one
                // unreadable line (its message is sent again) and the next
                // outcome starts a line of its own.
                if ends_mid_line(&mut f)
                    .map_err(|err| format!("cannot read `{}`: {err}", path.display()))?
                {
                    f.write_all(b"\n")
                        .map_err(|err| format!("cannot write `{}`: {err}", path.display()))?;
                }
                e.insert(f)
            }
        };
        // A provider's answer is kept to 1 000 characters.
        let detail: String = detail.chars().take(1000).collect();
        let line = json!({
            "send_id": m.send_id,
            "partition": m.partition,
            "record": m.record,
            "channel": m.channel,
            "profile": m.profile,
            "workflow": m.workflow,
            "template": m.template,
            "outcome": outcome,
            "attempts": attempts,
            "detail": detail,
            "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        writeln!(file, "{line}").map_err(|e| format!("cannot write an outcome: {e}"))?;
        // Settled: its outcome is written.
        if let Some(p) = self.pending.get_mut(&m.partition) {
            p.remove(&m.record);
        }
        Ok(())
    }

    /// Forgets a message handed over (its outcome is written, or it goes
    /// again at the next start).
    fn release(&mut self, m: &Outgoing) {
        let key = (m.profile.clone(), m.workflow.clone());
        if let Some((n, _)) = self.journeys.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.journeys.remove(&key);
            }
        }
    }

    /// When the journey that sent `m` exited, if it did after sending it.
    fn exited_after(&self, m: &Outgoing) -> Option<DateTime<Utc>> {
        let (_, exited) = self
            .journeys
            .get(&(m.profile.clone(), m.workflow.clone()))?;
        let sent = parse_time(&m.time)?;
        exited.filter(|at| *at > sent)
    }

    /// The length of a partition's outcome file.
    fn len(&self, partition: usize) -> u64 {
        std::fs::metadata(self.dir.join(format!("partition-{partition}.jsonl")))
            .map(|m| m.len())
            .unwrap_or(0)
    }
}

/// The messages whose latest outcome is `parked`, from every outcome
/// file in `dir`, oldest first.
pub fn parked(dir: &Path) -> Result<Vec<Json>, String> {
    let mut latest: std::collections::HashMap<String, Json> = Default::default();
    let mut order = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read `{}`: {e}", dir.display())),
    };
    // The outcome files only (not the marks, the reporters' positions or
    // the engagement log beside them).
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| is_outcome_file(p))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Json>(line) else {
                continue;
            };
            let Some(id) = v.get("send_id").and_then(Json::as_str).map(str::to_owned) else {
                continue;
            };
            if !latest.contains_key(&id) {
                order.push(id.clone());
            }
            latest.insert(id, v);
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|id| latest.remove(&id))
        .filter(|v| v["outcome"] == "parked")
        .collect())
}

/// Whether `path` is a partition's outcome file (`partition-N.jsonl`).
pub fn is_outcome_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("partition-") && n.ends_with(".jsonl"))
}

/// Whether a file's last byte is not a newline.
fn ends_mid_line(f: &mut std::fs::File) -> std::io::Result<bool> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    if f.metadata()?.len() == 0 {
        return Ok(false);
    }
    f.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// The send ids with an outcome in a partition's outcome file.
pub fn settled(dir: &Path, partition: usize, from: u64) -> Result<HashSet<String>, ServeError> {
    let path = dir.join(format!("partition-{partition}.jsonl"));
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => {
            return Err(ServeError::new(format!(
                "cannot read `{}`: {e}",
                path.display()
            )))
        }
    };
    {
        use std::io::Seek as _;
        file.seek(std::io::SeekFrom::Start(from))
            .map_err(|e| ServeError::new(format!("cannot read `{}`: {e}", path.display())))?;
    }
    let mut out = HashSet::new();
    for line in std::io::BufReader::new(file).lines() {
        let line =
            line.map_err(|e| ServeError::new(format!("cannot read `{}`: {e}", path.display())))?;
        // A line a crash cut short has no outcome: its message goes again.
        if let Ok(v) = serde_json::from_str::<Json>(&line) {
            if let Some(id) = v.get("send_id").and_then(Json::as_str) {
                out.insert(id.to_owned());
            }
        }
    }
    Ok(out)
}

/// Workers per channel.
const WORKERS: usize = 4;

/// A channel's rate limit: attempts are spaced `1/rate` apart, shared by
/// its workers.
#[derive(Debug)]
struct Limiter {
    gap: Duration,
    next: Mutex<std::time::Instant>,
}

impl Limiter {
    fn new(rate: f64) -> Option<Limiter> {
        (rate > 0.0 && rate.is_finite()).then(|| Limiter {
            gap: Duration::from_secs_f64(1.0 / rate),
            next: Mutex::new(std::time::Instant::now()),
        })
    }

    /// Waits for this attempt's turn.
    fn wait(&self) {
        let turn = match self.next.lock() {
            Ok(mut next) => {
                let now = std::time::Instant::now();
                let turn = (*next).max(now);
                *next = turn + self.gap;
                turn
            }
            Err(_) => return,
        };
        if let Some(d) = turn.checked_duration_since(std::time::Instant::now()) {
            std::thread::sleep(d);
        }
    }
}

impl Deliveries {
    /// Starts the workers of every configured channel; outcomes go to
    /// `dir`.
    pub fn start(
        config: &DeliveryConfig,
        dir: &Path,
        with: Services,
    ) -> Result<Deliveries, ServeError> {
        let Services {
            book,
            consent,
            public_url,
            inbox,
            tracking,
            sms_status,
        } = with;
        let (book, consent, public_url) = (&book, &consent, &public_url);
        std::fs::create_dir_all(dir)
            .map_err(|e| ServeError::new(format!("cannot create `{}`: {e}", dir.display())))?;
        let mut providers: Vec<(String, Arc<dyn Provider>)> = Vec::new();
        let tls = crate::tls::client_config(config.ca_file.as_deref())?;
        if let Some(c) = &config.email {
            providers.push((
                "email".into(),
                Arc::new(email::Smtp::new(
                    c,
                    &tls,
                    consent.clone(),
                    public_url.clone(),
                    c.track.then_some(tracking.clone()),
                )?),
            ));
        }
        if let Some(c) = &config.webhook {
            providers.push(("webhook".into(), Arc::new(webhook::Webhook::new(c, &tls)?)));
        }
        if let Some(c) = &config.sms {
            providers.push((
                "sms".into(),
                Arc::new(http_providers::Sms::new(
                    c,
                    &tls,
                    sms_status,
                    public_url.clone(),
                )?),
            ));
        }
        if let Some(c) = &config.push {
            providers.push(("push".into(), Arc::new(http_providers::Push::new(c, &tls)?)));
        } else if let Some(c) = &config.fcm {
            providers.push(("push".into(), Arc::new(fcm::Fcm::new(c, &tls)?)));
        }
        if let Some(inbox) = inbox {
            providers.push(("in_app".into(), Arc::new(inbox)));
        }
        let log = Arc::new(Mutex::new(Outcomes {
            dir: dir.to_owned(),
            files: Default::default(),
            pending: Default::default(),
            journeys: Default::default(),
        }));
        let mut queues = Vec::new();
        let mut workers = Vec::new();
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        for (channel, provider) in providers {
            let (tx, rx) = crossbeam_channel::unbounded::<Outgoing>();
            let limiter = Arc::new(config.rates.get(&channel).and_then(|r| Limiter::new(*r)));
            for i in 0..WORKERS {
                let (rx, provider, log, retry, stopping, consent, limiter, book) = (
                    rx.clone(),
                    provider.clone(),
                    log.clone(),
                    config.retry,
                    stopping.clone(),
                    consent.clone(),
                    limiter.clone(),
                    book.clone(),
                );
                let worker = std::thread::Builder::new()
                    .name(format!("deliver-{channel}-{i}"))
                    .spawn(move || {
                        for m in rx {
                            if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                                break;
                            }
                            let provider = Limited {
                                provider: &*provider,
                                limiter: limiter.as_ref().as_ref(),
                            };
                            if m.channel != "in_app" {
                                if let Err(e) = book.note(&m) {
                                    tracing::warn!(
                                        "{e}: reports about `{}` will not find it",
                                        m.send_id
                                    );
                                }
                            }
                            deliver(&provider, &m, retry, &log, &stopping, &consent);
                        }
                    })
                    .map_err(|e| ServeError::new(format!("cannot start a delivery worker: {e}")))?;
                workers.push(worker);
            }
            queues.push((channel, tx));
        }
        Ok(Deliveries {
            queues,
            stopping,
            log,
            workers,
        })
    }

    /// Whether any channel has a provider.
    pub fn handles_any(&self) -> bool {
        !self.queues.is_empty()
    }

    /// Whether `channel` has a provider.
    pub fn handles(&self, channel: &str) -> bool {
        self.queues.iter().any(|(c, _)| c == channel)
    }

    /// Hands a message to its channel's workers (a message of a channel
    /// without a provider stays in the outbox only).
    pub fn send(&self, m: Outgoing) {
        self.hand_over(m, Settle::Now, None);
    }

    /// Hands over again a message the outbox found without an outcome at
    /// a start, where the outcomes were read from `outcomes_offset` on;
    /// `exited`: when its journey exited since, if it did.
    pub fn send_unsettled(&self, m: Outgoing, outcomes_offset: u64, exited: Option<DateTime<Utc>>) {
        self.hand_over(m, Settle::From(outcomes_offset), exited);
    }

    /// Hands over again a message that has an outcome already (a parked
    /// one, retried by an operator): the mark does not wait for it, and a
    /// crash before its new outcome leaves it parked. An operator's retry
    /// does not ask whether the journey exited since.
    pub fn send_settled(&self, m: Outgoing) {
        self.hand_over(m, Settle::Already, None);
    }

    /// Hands a message over, noting where its outcome is to be looked for.
    ///
    /// The mark says: every message of a lower record is settled, and the
    /// outcomes of the others are at or after its offset. A message handed
    /// over in record order gets the outcome file's length now (the
    /// messages after it are handed over later). One handed over again at
    /// a start gets the offset the start read outcomes from: messages of
    /// later records may have been settled since then, and a later mark
    /// that skipped their outcomes would send them again.
    fn hand_over(&self, m: Outgoing, settle: Settle, exited: Option<DateTime<Utc>>) {
        if let Some((_, q)) = self.queues.iter().find(|(c, _)| *c == m.channel) {
            if let Ok(mut log) = self.log.lock() {
                let at = match settle {
                    Settle::Now => Some(log.len(m.partition)),
                    Settle::From(offset) => Some(offset.min(log.len(m.partition))),
                    Settle::Already => None,
                };
                if let Some(at) = at {
                    log.pending
                        .entry(m.partition)
                        .or_default()
                        .insert(m.record, (m.offset, at));
                }
                let entry = log
                    .journeys
                    .entry((m.profile.clone(), m.workflow.clone()))
                    .or_default();
                entry.0 += 1;
                if exited.is_some() {
                    entry.1 = entry.1.max(exited);
                }
            }
            let _ = q.send(m);
        }
    }

    /// Notes that `profile`'s journey of `workflow` exited at `at`: its
    /// messages not sent yet, and sent before then, are not sent.
    pub fn exited(&self, profile: &str, workflow: &str, at: DateTime<Utc>) {
        if let Ok(mut log) = self.log.lock() {
            if let Some((_, exited)) = log
                .journeys
                .get_mut(&(profile.to_owned(), workflow.to_owned()))
            {
                *exited = Some(at);
            }
        }
    }

    /// Where partition `partition`'s unsettled messages can be, given the
    /// record the outbox hands over next and its file's length.
    pub fn mark(&self, partition: usize, next: u64, outbox_len: u64) -> Option<Mark> {
        let log = self.log.lock().ok()?;
        // The outcomes the mark counts as written are on disk first.
        if let Some(f) = log.files.get(&partition) {
            f.sync_data().ok()?;
        }
        let first = log
            .pending
            .get(&partition)
            .and_then(|p| p.iter().next().map(|(r, o)| (*r, *o)));
        Some(match first {
            Some((record, (outbox_offset, outcomes_offset))) => Mark {
                record,
                outbox_offset,
                outcomes_offset,
            },
            None => Mark {
                record: next,
                outbox_offset: outbox_len,
                outcomes_offset: log.len(partition),
            },
        })
    }

    /// Stops taking messages and waits for the workers to finish those
    /// they have (a message waiting for a retry is sent again at the next
    /// start).
    pub fn stop(self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        drop(self.queues);
        for w in self.workers {
            let _ = w.join();
        }
        drop(self.log);
    }
}

/// A provider behind its channel's rate limit.
struct Limited<'a> {
    provider: &'a dyn Provider,
    limiter: Option<&'a Limiter>,
}

impl Provider for Limited<'_> {
    fn send(&self, m: &Outgoing) -> Attempt {
        if let Some(l) = self.limiter {
            l.wait();
        }
        self.provider.send(m)
    }
}

/// Forgets a message handed over that goes again at the next start.
fn release(log: &Mutex<Outcomes>, m: &Outgoing) {
    if let Ok(mut log) = log.lock() {
        log.release(m);
    }
}

fn deliver(
    provider: &dyn Provider,
    m: &Outgoing,
    retry: Retry,
    log: &Mutex<Outcomes>,
    stopping: &std::sync::atomic::AtomicBool,
    consent: &crate::consent::Consent,
) {
    let mut attempts = 0;
    let (outcome, detail) = loop {
        // The journey's exit, and consent, are asked just before each
        // attempt.
        let exited = log.lock().ok().and_then(|l| l.exited_after(m));
        if let Some(at) = exited {
            break (
                "suppressed",
                format!("the journey exited at {at}, before the message went out"),
            );
        }
        if !m.transactional {
            match consent.unsubscribed(&m.profile, &m.channel) {
                Ok(true) => {
                    break (
                        "suppressed",
                        format!("the profile unsubscribed from {}", m.channel),
                    )
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::error!("{e}; the message is sent again at the next start");
                    release(log, m);
                    return;
                }
            }
        }
        attempts += 1;
        match provider.send(m) {
            Attempt::Delivered(d) => break ("delivered", d),
            Attempt::Permanent(reason) => break ("failed", reason),
            Attempt::Transient(reason, after) => {
                if attempts >= retry.attempts {
                    break ("parked", reason);
                }
                let wait = retry.wait(attempts, after);
                tracing::warn!(
                    channel = %m.channel,
                    send_id = %m.send_id,
                    "attempt {attempts} failed, again in {:.1} s: {reason}",
                    wait.as_secs_f64()
                );
                // A stop does not wait for retries: the message has no
                // outcome, so it goes again at the next start.
                let until = std::time::Instant::now() + wait;
                while std::time::Instant::now() < until {
                    if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                        release(log, m);
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50).min(wait));
                }
            }
        }
    };
    match outcome {
        "delivered" => tracing::debug!(channel = %m.channel, send_id = %m.send_id, "delivered"),
        _ => {
            tracing::error!(channel = %m.channel, send_id = %m.send_id, "{outcome} after {attempts} attempts: {detail}")
        }
    }
    match log.lock() {
        Ok(mut log) => {
            log.release(m);
            if let Err(e) = log.write(m, outcome, attempts, &detail) {
                tracing::error!("{e}; the message is sent again at the next start");
            }
        }
        Err(_) => tracing::error!("the outcome log is poisoned"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parked_messages_are_read_from_the_outcome_files_only() {
        let dir = std::env::temp_dir().join(format!("nudge-parked-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let parked_line = json!({"send_id": "ab", "outcome": "parked"}).to_string();
        std::fs::write(dir.join("partition-0.jsonl"), parked_line + "\n")
            .unwrap_or_else(|e| panic!("{e}"));
        // The engagement log and a mark beside it name the same send.
        std::fs::write(
            dir.join("engagement.jsonl"),
            json!({"send_id": "ab", "kind": "opened"}).to_string() + "\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("partition-0.reported"), "12\n").unwrap_or_else(|e| panic!("{e}"));
        let p = parked(&dir).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0]["outcome"], "parked");
    }

    #[test]
    fn a_limiter_spaces_attempts() {
        let l = Limiter::new(200.0).unwrap();
        let t = std::time::Instant::now();
        for _ in 0..21 {
            l.wait();
        }
        // 20 gaps of 5 ms.
        assert!(
            t.elapsed() >= Duration::from_millis(100),
            "{:?}",
            t.elapsed()
        );
        assert!(Limiter::new(0.0).is_none());
    }

    #[test]
    fn waits_double_up_to_the_cap_and_honour_retry_after() {
        let r = Retry {
            attempts: 10,
            first_wait: Duration::from_millis(100),
            max_wait: Duration::from_secs(1),
        };
        let w1 = r.wait(1, None);
        assert!(w1 >= Duration::from_millis(100) && w1 <= Duration::from_millis(125));
        let w3 = r.wait(3, None);
        assert!(w3 >= Duration::from_millis(400) && w3 <= Duration::from_millis(500));
        let w9 = r.wait(9, None);
        assert!(w9 >= Duration::from_secs(1) && w9 <= Duration::from_millis(1250));
        assert!(r.wait(1, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
    }
}
