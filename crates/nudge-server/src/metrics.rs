//! The counters and histograms partitions keep, and their Prometheus text
//! (`GET /metrics`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nudge_bytecode::Channel;

/// A histogram of durations with fixed buckets (seconds), updated without
/// locks.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations at or under each bound (not cumulative).
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Buckets for commit latencies.
pub const COMMIT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Buckets for how late timers fire.
pub const LATENESS_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 10.0, 60.0, 3600.0];

impl Histogram {
    /// An empty histogram.
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Counts one observation of `secs`.
    pub fn observe(&self, secs: f64) {
        let secs = secs.max(0.0);
        if let Some(i) = self.bounds.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, name: &str, labels: &str, out: &mut String) {
        let mut cumulative = 0;
        for (b, n) in self.bounds.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// What one partition counts.
#[derive(Debug)]
pub struct Counters {
    /// Calls applied.
    pub applied: AtomicU64,
    /// Calls acknowledged as retries.
    pub duplicates: AtomicU64,
    /// Timers fired (each instant at which timers fired counts once per
    /// profile step run).
    pub timers_fired: AtomicU64,
    /// Journey steps run (starts and steps).
    pub steps: AtomicU64,
    /// Timers pending, as of the last commit.
    pub timers_pending: AtomicU64,
    /// Group commits, by how long they took.
    pub commits: Histogram,
    /// How late timers fired, after their due time.
    pub lateness: Histogram,
    /// Messages written to the outbox, by channel (in [`Channel::ALL`]'s
    /// order).
    pub messages: [AtomicU64; 5],
    /// Started: the outbox caught up, taking calls.
    pub ready: AtomicBool,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            applied: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            timers_fired: AtomicU64::new(0),
            steps: AtomicU64::new(0),
            timers_pending: AtomicU64::new(0),
            commits: Histogram::new(COMMIT_BUCKETS),
            lateness: Histogram::new(LATENESS_BUCKETS),
            messages: Default::default(),
            ready: AtomicBool::new(false),
        }
    }
}

impl Counters {
    /// Counts a message sent on `channel`.
    pub fn message(&self, channel: Channel) {
        if let Some(i) = Channel::ALL.iter().position(|c| *c == channel) {
            self.messages[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The Prometheus text of every partition's counters and of the refused
/// requests by reason.
pub fn render<'a>(
    counters: &[std::sync::Arc<Counters>],
    refused: impl Iterator<Item = (&'a str, u64)>,
) -> String {
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, value: &dyn Fn(&Counters) -> u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (n, c) in counters.iter().enumerate() {
            let _ = writeln!(out, "{name}{{partition=\"{n}\"}} {}", value(c));
        }
    };
    counter("nudge_events_applied_total", "Calls applied.", &|c| {
        c.applied.load(Ordering::Relaxed)
    });
    counter(
        "nudge_events_duplicate_total",
        "Calls acknowledged as retries of calls already applied (same messageId).",
        &|c| c.duplicates.load(Ordering::Relaxed),
    );
    counter(
        "nudge_timers_fired_total",
        "Timer firings (the timers of one instant fire together).",
        &|c| c.timers_fired.load(Ordering::Relaxed),
    );
    counter(
        "nudge_journey_steps_total",
        "Journey steps run (a journey started, or moved by an event or a timer).",
        &|c| c.steps.load(Ordering::Relaxed),
    );
    let _ = writeln!(
        out,
        "# HELP nudge_timers_pending Timers waiting, as of the last commit.\n# TYPE nudge_timers_pending gauge"
    );
    for (n, c) in counters.iter().enumerate() {
        let _ = writeln!(
            out,
            "nudge_timers_pending{{partition=\"{n}\"}} {}",
            c.timers_pending.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP nudge_messages_total Messages sent (to the outbox), by channel.\n# TYPE nudge_messages_total counter"
    );
    for (n, c) in counters.iter().enumerate() {
        for (i, channel) in Channel::ALL.iter().enumerate() {
            let _ = writeln!(
                out,
                "nudge_messages_total{{partition=\"{n}\",channel=\"{}\"}} {}",
                channel.as_str(),
                c.messages[i].load(Ordering::Relaxed)
            );
        }
    }
    let mut histogram = |name: &str, help: &str, h: &dyn Fn(&Counters) -> &Histogram| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (n, c) in counters.iter().enumerate() {
            h(c).render(name, &format!("partition=\"{n}\""), &mut out);
        }
    };
    histogram(
        "nudge_commit_seconds",
        "Group commits (a sled batch, a flush and an fsync), by duration.",
        &|c| &c.commits,
    );
    histogram(
        "nudge_timer_lateness_seconds",
        "How long after its due time a timer fired.",
        &|c| &c.lateness,
    );
    let _ = writeln!(
        out,
        "# HELP nudge_events_rejected_total Requests refused, by reason.\n# TYPE nudge_events_rejected_total counter"
    );
    for (code, n) in refused {
        let _ = writeln!(out, "nudge_events_rejected_total{{reason=\"{code}\"}} {n}");
    }
    out
}
