//! The runner of `test` blocks: each test on a fresh [`Engine`] with a
//! [`MemoryStore`], on a virtual clock.
//!
//! Semantics (documented for users in `docs/language.md`, "Running tests"):
//!
//! - **Time.** Offsets (`+30m`, `-2d`) count from the test's first absolute
//!   `at` step (or, without one, its first absolute `given … at`). The clock
//!   starts at the earliest `at` step (or that origin); `given` history lies
//!   before it and is stored, not replayed: it triggers nothing, but counts
//!   for `did …` and as the profile's last activity.
//! - **Profiles.** `given profile` attributes are set before the first step;
//!   attributes left out read as their schema default.
//! - **Steps** run in time order (steps at the same time in source order);
//!   then the clock runs until no timer is left.
//! - **Horizon.** The clock never runs past the last step plus [`HORIZON`]
//!   (366 days). If timers are still pending there, the test fails with
//!   `nudge::test::horizon_reached`, since an expectation of "no message"
//!   could not be trusted; date triggers' timers do not count (they recur:
//!   an anniversary always has a next one).
//! - **Expectations** are checked after the run, against everything that
//!   went out. A message expectation filters the messages by recipient,
//!   channel, template, time and `with` fields, then compares the count:
//!   `expect no …` wants none, `expect N …` exactly N, `expect …` at least
//!   one. `within D` means no later than D after the origin; `between` is
//!   inclusive at both ends. A journey expectation looks at the whole run,
//!   except `is in`, which asks whether the journey was still running right
//!   after the last `at` step (after the run every journey has settled).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use nudge_bytecode::{Module, Trigger};
use nudge_check::ir::{
    Const, Expect, ExpectCount, ExpectTime, Expectation, FieldId, JourneyState, JourneyTarget,
    Program, Schema, Test, TestAction, TestTime,
};
use nudge_core::duration::format as format_duration;
use nudge_core::Channel;
use nudge_syntax::{Diagnostic, SourceFile, Span};

use nudge_vm::{
    Engine, Event, ExitReason, MemoryStore, ProfileState, Props, Record, Rendered, Store, Timer,
    Value,
};

/// An `expect` that does not hold.
pub const EXPECTATION_FAILED: &str = "nudge::test::expectation_failed";
/// Timers were still pending at the horizon.
pub const HORIZON_REACHED: &str = "nudge::test::horizon_reached";
/// The engine stopped with an error while running the test.
pub const RUN_FAILED: &str = "nudge::test::run_failed";
/// Every code of the test runner.
pub const ALL: &[&str] = &[EXPECTATION_FAILED, HORIZON_REACHED, RUN_FAILED];

/// How far past the last step the clock may run: 366 days.
pub const HORIZON: Duration = Duration::days(366);

fn horizon_days() -> String {
    format!("{} days", HORIZON.num_days())
}

/// Where offsets count from when a test has no absolute time at all.
pub const DEFAULT_ORIGIN: &str = "2026-01-01T00:00:00Z";

/// Timers fired per test at most (a guard against runaway schedules).
const MAX_TIMERS: u64 = 1_000_000;

/// The outcome of one `test` block.
#[derive(Clone, Debug)]
pub struct TestOutcome {
    /// The test's name.
    pub name: String,
    /// The file it is in.
    pub source: Arc<SourceFile>,
    /// The `test` declaration.
    pub span: Span,
    /// Failed expectations and run problems; empty when the test passed.
    pub failures: Vec<Diagnostic>,
    /// The virtual time the test covered, from its first step to its last
    /// event or timer.
    pub simulated: Duration,
    /// Messages that went out.
    pub messages: usize,
}

impl TestOutcome {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Runs every `test` block of a checked program, in file and source
/// order, on the module compiled from it.
pub fn run_tests(program: &Program, module: &Module) -> Vec<TestOutcome> {
    run_tests_where(program, module, |_| true).0
}

/// Runs the `test` blocks whose name `keep` accepts, in file and source
/// order; also returns how many blocks it left out.
pub fn run_tests_where(
    program: &Program,
    module: &Module,
    mut keep: impl FnMut(&str) -> bool,
) -> (Vec<TestOutcome>, usize) {
    let mut out = Vec::new();
    let mut left_out = 0;
    for test in &program.tests {
        if keep(&test.name) {
            out.push(run_test(program, test, module));
        } else {
            left_out += 1;
        }
    }
    (out, left_out)
}

/// A message that went out, as tests see it.
#[derive(Clone, Debug)]
struct Sent {
    at: DateTime<Utc>,
    profile: String,
    workflow: String,
    message: Rendered,
}

struct Clock {
    origin: DateTime<Utc>,
    /// The time of the last `at` step (`is in` is judged then).
    last_step: DateTime<Utc>,
}

impl Clock {
    fn resolve(&self, t: TestTime) -> DateTime<Utc> {
        match t {
            TestTime::At(at) => at,
            TestTime::Offset(seconds) => self.origin + Duration::seconds(seconds),
        }
    }

    /// `+1d1h (2026-03-02 11:00Z)`
    fn show(&self, t: DateTime<Utc>) -> String {
        let off = (t - self.origin).num_seconds();
        let sign = if off < 0 { "" } else { "+" };
        let abs = if t.timestamp() % 60 == 0 {
            t.format("%Y-%m-%d %H:%MZ").to_string()
        } else {
            t.to_rfc3339_opts(SecondsFormat::Secs, true)
        };
        format!("{sign}{} ({abs})", format_duration(off))
    }
}

/// A time as the test wrote it: `+1h`, `2026-03-01T10:00:00Z`.
fn written(t: TestTime) -> String {
    match t {
        TestTime::At(at) => at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        TestTime::Offset(seconds) if seconds >= 0 => format!("+{}", format_duration(seconds)),
        TestTime::Offset(seconds) => format_duration(seconds),
    }
}

/// Where offsets count from: the first absolute `at` step, else the first
/// absolute `given … at`, else [`DEFAULT_ORIGIN`].
fn origin_of(test: &Test) -> DateTime<Utc> {
    let absolute = |t: TestTime| match t {
        TestTime::At(at) => Some(at),
        TestTime::Offset(_) => None,
    };
    test.steps
        .iter()
        .find_map(|s| absolute(s.at))
        .or_else(|| test.history.iter().find_map(|e| absolute(e.at)))
        .or_else(|| {
            DateTime::parse_from_rfc3339(DEFAULT_ORIGIN)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
        .unwrap_or_default()
}

/// The engine's value of a checked constant (enum members are their
/// names, as ingestion gives them).
fn value_of(program: &Program, c: &Const) -> Value {
    match c {
        Const::None => Value::None,
        Const::Bool(b) => Value::Bool(*b),
        Const::Int(i) => Value::Int(*i),
        Const::Float(x) => Value::Float(*x),
        Const::String(s) => Value::str(s),
        Const::Duration(d) => Value::Duration(*d),
        Const::TimeOfDay(t) => Value::TimeOfDay(*t),
        Const::Time(t) => Value::Time(*t),
        Const::Enum(id, member) => program
            .enums
            .get(id.index())
            .and_then(|e| e.members.get(*member as usize))
            .map_or(Value::None, |m| Value::str(m)),
        Const::List(items) => Value::List(items.iter().map(|c| value_of(program, c)).collect()),
    }
}

/// Properties or attributes by name.
fn props_of(program: &Program, schema: &Schema, values: &[(FieldId, Const)]) -> Props {
    values
        .iter()
        .filter_map(|(field, c)| {
            let name = &schema.fields.get(field.index())?.name;
            Some((name.clone(), value_of(program, c)))
        })
        .collect()
}

/// An event from before the test: when, which, its properties.
type Past<'a> = (DateTime<Utc>, &'a str, Props);

/// A step to play, in time order.
enum Play<'a> {
    Track(&'a str, &'a str, Props),
    Identify(&'a str, Props),
}

/// Runs one `test` block of `program` on the module compiled from it.
pub fn run_test(program: &Program, test: &Test, module: &Module) -> TestOutcome {
    let source = &program.files[test.loc.file.index()];
    let origin = origin_of(test);
    let mut clock = Clock {
        origin,
        last_step: origin,
    };
    clock.last_step = test
        .steps
        .iter()
        .map(|s| clock.resolve(s.at))
        .max()
        .unwrap_or(origin);
    let mut failures = Vec::new();
    let mut ran = true;
    let Run {
        sent,
        log,
        end,
        start,
        pending,
    } = match simulate(program, test, module, &clock) {
        Ok(r) => r,
        Err(failed) => {
            let (d, start) = *failed;
            failures.push(d.in_file(source));
            ran = false;
            Run {
                sent: Vec::new(),
                log: Vec::new(),
                end: start,
                start,
                pending: None,
            }
        }
    };
    let journeys = journeys_of(&log);
    if let Some(at) = pending {
        failures.push(
            Diagnostic::error(
                HORIZON_REACHED,
                format!(
                    "timers were still pending {} after the last step",
                    horizon_days()
                ),
            )
            .with_primary(test.name_span, "this test never settles")
            .with_help(format!(
                "the next timer was due at {}; a test runs until no timer is left, but never \
                 past the last step plus {}: shorten the waits this test reaches",
                clock.show(at),
                horizon_days()
            ))
            .in_file(source),
        );
    }
    // After an engine error the expectations would only repeat it.
    for e in test.expectations.iter().filter(|_| ran) {
        if let Some(d) = check_expectation(program, e, &sent, &log, &journeys, &clock) {
            failures.push(d.in_file(source));
        }
    }
    TestOutcome {
        name: test.name.clone(),
        source: source.clone(),
        span: test.loc.span,
        failures,
        simulated: end - start,
        messages: sent.len(),
    }
}

/// What a test run produced.
struct Run {
    sent: Vec<Sent>,
    log: Vec<Record>,
    /// The time of the last thing that happened.
    end: DateTime<Utc>,
    start: DateTime<Utc>,
    /// The next timer, if some were left at the horizon.
    pending: Option<DateTime<Utc>>,
}

/// Plays the test on a fresh engine.
fn simulate<'a>(
    program: &'a Program,
    test: &'a Test,
    module: &Module,
    clock: &Clock,
) -> Result<Run, Box<(Diagnostic, DateTime<Utc>)>> {
    // Profiles, history and steps.
    let mut profiles: BTreeMap<&str, Props> = BTreeMap::new();
    for (id, attributes) in &test.profiles {
        profiles.entry(id.as_str()).or_default().extend(props_of(
            program,
            &program.profile,
            attributes,
        ));
    }
    let event_of = |e: nudge_check::ir::EventId| &program.events[e.index()];
    let mut history: BTreeMap<&str, Vec<Past<'_>>> = BTreeMap::new();
    for past in &test.history {
        let event = event_of(past.event);
        history.entry(past.profile.as_str()).or_default().push((
            clock.resolve(past.at),
            event.name.as_str(),
            props_of(program, &event.schema, &past.properties),
        ));
    }
    let mut plays: Vec<(DateTime<Utc>, Span, Play<'_>)> = Vec::new();
    for step in &test.steps {
        let id = step.profile.as_str();
        let play = match &step.action {
            TestAction::Does { event, properties } => {
                let event = event_of(*event);
                Play::Track(
                    id,
                    event.name.as_str(),
                    props_of(program, &event.schema, properties),
                )
            }
            TestAction::Identify(traits) => {
                Play::Identify(id, props_of(program, &program.profile, traits))
            }
        };
        plays.push((clock.resolve(step.at), step.span, play));
    }
    plays.sort_by_key(|(at, _, _)| *at);
    let start = plays
        .first()
        .map_or(clock.origin, |(at, _, _)| (*at).min(clock.origin));
    let last = plays.last().map_or(start, |(at, _, _)| *at).max(start);

    // History goes straight into the store: it is the past, not replayed.
    let mut store = MemoryStore::new();
    let quiet: Vec<(String, i64)> = module
        .workflows
        .iter()
        .filter_map(|w| {
            w.triggers
                .iter()
                .filter_map(|t| match t {
                    Trigger::Inactive(d) => Some(module.duration(*d)),
                    Trigger::Event(_) | Trigger::Date(_) => None,
                })
                .min()
                .map(|d| (w.name.clone(), d))
        })
        .collect();
    for (id, events) in &mut history {
        events.sort_by_key(|(at, _, _)| *at);
        let first = events.first().map_or(start, |e| e.0).min(start);
        let last_activity = events.last().map(|e| e.0);
        let mut state = ProfileState::new(Arc::from(*id), first);
        let record = &mut state.record;
        record.attributes = profiles.remove(id).unwrap_or_default();
        record.last_activity = last_activity;
        for (at, name, props) in events.drain(..) {
            state.history.push(Event {
                name: Arc::from(name),
                at,
                seq: state.record.next_seq,
                props,
            });
            state.record.next_seq += 1;
        }
        let since = last_activity.unwrap_or(first);
        for (workflow, d) in &quiet {
            // A spell that ended before the test fires as it starts.
            store.schedule(
                (since + Duration::seconds(*d)).max(start),
                Timer::Inactivity {
                    profile: Arc::from(*id),
                    workflow: Arc::from(workflow.as_str()),
                    since,
                },
            );
            state.record.quiet_checks.push(Arc::from(workflow.as_str()));
        }
        store.save(state);
    }

    let mut engine = Engine::new(store, module.clone(), start);
    for (profile, arm) in &test.arms {
        engine.force_arm(profile, &arm.workflow, &arm.split, &arm.arm);
    }
    let fail = |e: nudge_vm::EngineError, span: Span| {
        Box::new((
            Diagnostic::error(RUN_FAILED, "the test could not run to its end")
                .with_primary(span, "the engine stopped here")
                .with_help(format!("the engine reported: {e}")),
            start,
        ))
    };
    // Profiles with a history went straight into the store: their date
    // triggers are armed as the test starts.
    for id in history.keys() {
        engine
            .arm_profile_dates(id, start)
            .map_err(|e| fail(e, test.name_span))?;
    }
    for (id, attrs) in profiles {
        engine
            .identify(id, attrs, start)
            .map_err(|e| fail(e, test.name_span))?;
    }
    for (at, span, play) in plays {
        let r = match play {
            Play::Track(id, name, props) => engine.track(id, name, props, at),
            Play::Identify(id, props) => engine.identify(id, props, at),
        };
        r.map_err(|e| fail(e, span))?;
    }
    let horizon = last + HORIZON;
    let mut fired = 0u64;
    while let Some(at) = engine.store().next_timer() {
        if at > horizon || fired >= MAX_TIMERS {
            break;
        }
        engine
            .advance_to(at.max(engine.now()))
            .map_err(|e| fail(e, test.name_span))?;
        fired += 1;
    }
    // Date triggers recur (an anniversary always has a next one): only
    // other timers left at the horizon mean the test never settles.
    let pending = if engine.store().next_timer().is_some_and(|at| at <= horizon) {
        engine.store().next_timer()
    } else {
        engine.store().next_timer_not_dated()
    };
    let sent: Vec<Sent> = engine
        .log
        .iter()
        .filter_map(|r| match r {
            Record::Sent {
                at,
                profile,
                workflow,
                message,
                ..
            } => Some(Sent {
                at: *at,
                profile: profile.to_string(),
                workflow: workflow.to_string(),
                message: message.clone(),
            }),
            _ => None,
        })
        .collect();
    let end = engine
        .log
        .iter()
        .map(Record::at)
        .max()
        .unwrap_or(last)
        .max(last);
    Ok(Run {
        sent,
        log: std::mem::take(&mut engine.log),
        end,
        start,
        pending,
    })
}

/// What happened per (profile, workflow).
#[derive(Default)]
struct Journeys {
    entered: Vec<(String, String)>,
    exited: Vec<(String, String)>,
    completed: Vec<(String, String)>,
    goals: Vec<(String, String)>,
}

impl Journeys {
    /// Entered and neither exited nor completed since the last entry, as
    /// of `at`.
    fn active(&self, log: &[Record], profile: &str, workflow: &str, at: DateTime<Utc>) -> bool {
        let mut active = false;
        for r in log.iter().take_while(|r| r.at() <= at) {
            match r {
                Record::Entered {
                    profile: p,
                    workflow: w,
                    ..
                } if **p == *profile && **w == *workflow => active = true,
                Record::Exited {
                    profile: p,
                    workflow: w,
                    ..
                }
                | Record::Completed {
                    profile: p,
                    workflow: w,
                    ..
                } if **p == *profile && **w == *workflow => active = false,
                _ => {}
            }
        }
        active
    }
}

fn journeys_of(log: &[Record]) -> Journeys {
    let mut j = Journeys::default();
    let key = |p: &str, w: &str| (p.to_owned(), w.to_owned());
    for r in log {
        match r {
            Record::Entered {
                profile, workflow, ..
            } => j.entered.push(key(profile, workflow)),
            Record::Exited {
                profile, workflow, ..
            } => j.exited.push(key(profile, workflow)),
            Record::Completed {
                profile, workflow, ..
            } => j.completed.push(key(profile, workflow)),
            Record::GoalReached { profile, goal, .. } => j.goals.push(key(profile, goal)),
            _ => {}
        }
    }
    j
}

/// The fields shown for a message, most telling first.
const KEY_FIELDS: [&str; 6] = ["subject", "title", "body", "text", "url", "html"];

fn key_content(m: &Rendered) -> String {
    for k in KEY_FIELDS {
        if let Some(v) = m.fields.get(k) {
            let mut v: String = v.split_whitespace().collect::<Vec<_>>().join(" ");
            if v.chars().count() > 60 {
                v = v.chars().take(57).collect::<String>() + "...";
            }
            return format!("{k} {v:?}");
        }
    }
    String::new()
}

fn describe(s: &Sent, clock: &Clock, with_profile: bool) -> String {
    let mut line = format!("{}  ", clock.show(s.at));
    if with_profile {
        let _ = write!(line, "to `{}`  ", s.profile);
    }
    let _ = write!(line, "{}  {}", s.workflow, s.message.channel.as_str());
    if let Some(t) = &s.message.template {
        let _ = write!(line, " {t}");
    }
    let content = key_content(&s.message);
    if !content.is_empty() {
        let _ = write!(line, "\n    {content}");
    }
    line
}

/// Lines about messages that did not go out (capped, dropped).
fn held_back(log: &[Record], to: Option<&str>, clock: &Clock) -> Vec<String> {
    let mut out = Vec::new();
    for r in log {
        match r {
            Record::Capped {
                at,
                profile,
                workflow,
                ..
            } if to.is_none_or(|t| *t == **profile) => out.push(format!(
                "{}  {workflow}: held back by the frequency cap",
                clock.show(*at)
            )),
            Record::Dropped {
                at,
                profile,
                workflow,
                reason,
                ..
            } if to.is_none_or(|t| *t == **profile) => out.push(format!(
                "{}  {workflow}: dropped, {reason}",
                clock.show(*at)
            )),
            _ => {}
        }
    }
    out
}

fn messages_help(sent: &[Sent], log: &[Record], to: Option<&str>, clock: &Clock) -> String {
    let list: Vec<String> = sent
        .iter()
        .filter(|s| to.is_none_or(|t| t == s.profile))
        .map(|s| describe(s, clock, to.is_none()))
        .collect();
    let whom = to.map_or_else(String::new, |t| format!(" to `{t}`"));
    let mut help = if list.is_empty() {
        format!("no message went out{whom}")
    } else {
        let mut h = format!(
            "{} message{} went out{whom}:",
            list.len(),
            if list.len() == 1 { "" } else { "s" }
        );
        for l in &list {
            let _ = write!(h, "\n  {l}");
        }
        h
    };
    let held = held_back(log, to, clock);
    if !held.is_empty() {
        help.push_str("\nnot sent:");
        for l in held {
            let _ = write!(help, "\n  {l}");
        }
    }
    help
}

fn journey_help(log: &[Record], profile: &str, clock: &Clock) -> String {
    let mut lines = Vec::new();
    for r in log {
        let line = match r {
            Record::Entered {
                at,
                profile: p,
                workflow,
                ..
            } if **p == *profile => format!("{}  entered {workflow}", clock.show(*at)),
            Record::Suppressed {
                at,
                profile: p,
                workflow,
                reason,
            } if **p == *profile => format!(
                "{}  did not enter {workflow}: {}",
                clock.show(*at),
                reason.describe()
            ),
            Record::Exited {
                at,
                profile: p,
                workflow,
                reason,
            } if **p == *profile => format!(
                "{}  exited {workflow}{}{}",
                clock.show(*at),
                match reason {
                    ExitReason::ExitOn(_) | ExitReason::Statement => " ",
                    ExitReason::Restarted | ExitReason::Cancelled | ExitReason::Removed => ", ",
                },
                reason.describe()
            ),
            Record::Completed {
                at,
                profile: p,
                workflow,
            } if **p == *profile => format!("{}  completed {workflow}", clock.show(*at)),
            Record::GoalReached {
                at,
                profile: p,
                workflow,
                goal,
            } if **p == *profile => {
                format!("{}  reached goal {goal} of {workflow}", clock.show(*at))
            }
            _ => continue,
        };
        lines.push(line);
    }
    if lines.is_empty() {
        format!("`{profile}` entered no workflow")
    } else {
        let mut h = format!("what `{profile}` did:");
        for l in lines {
            let _ = write!(h, "\n  {l}");
        }
        h
    }
}

/// "`email cart_reminder` messages", "message".
fn what(channel: Option<Channel>, template: Option<&str>, plural: bool) -> String {
    let noun = if plural { "messages" } else { "message" };
    match (channel, template) {
        (Some(c), Some(t)) => format!("`{} {t}` {noun}", c.as_str()),
        (Some(c), None) => format!("`{}` {noun}", c.as_str()),
        (None, Some(t)) => format!("`{t}` {noun}"),
        (None, None) => noun.to_owned(),
    }
}

fn check_expectation(
    program: &Program,
    e: &Expectation,
    sent: &[Sent],
    log: &[Record],
    journeys: &Journeys,
    clock: &Clock,
) -> Option<Diagnostic> {
    match &e.kind {
        Expect::Messages {
            count,
            channel,
            template,
            to,
            time,
            with,
        } => {
            let channel = *channel;
            let template = template.map(|t| program.templates[t.index()].name.as_str());
            let to = to.as_deref();
            let window = time.map(|t| match t {
                ExpectTime::At(t) => {
                    let at = clock.resolve(t);
                    (at, at, format!(" at {}", written(t)))
                }
                ExpectTime::Between(a, b) => (
                    clock.resolve(a),
                    clock.resolve(b),
                    format!(" between {} and {}", written(a), written(b)),
                ),
                ExpectTime::Within(seconds) => (
                    DateTime::<Utc>::MIN_UTC,
                    clock.origin + Duration::seconds(seconds),
                    format!(" within {}", format_duration(seconds)),
                ),
            });
            let matching: Vec<&Sent> = sent
                .iter()
                .filter(|s| to.is_none_or(|t| t == s.profile))
                .filter(|s| channel.is_none_or(|c| c == s.message.channel))
                .filter(|s| template.is_none_or(|t| s.message.template.as_deref() == Some(t)))
                .filter(|s| {
                    window
                        .as_ref()
                        .is_none_or(|(a, b, _)| *a <= s.at && s.at <= *b)
                })
                .filter(|s| {
                    with.iter()
                        .all(|(f, v)| s.message.fields.get(f).is_some_and(|x| x == v))
                })
                .collect();
            let n = matching.len();
            let ok = match count {
                ExpectCount::AtLeastOne => n >= 1,
                ExpectCount::None => n == 0,
                ExpectCount::Exactly(k) => i64::try_from(n).is_ok_and(|n| n == *k),
            };
            if ok {
                return None;
            }
            let mut scope = String::new();
            if let Some(t) = to {
                let _ = write!(scope, " to `{t}`");
            }
            if let Some((_, _, w)) = &window {
                scope.push_str(w);
            }
            for (f, v) in with {
                let _ = write!(scope, " with {f} {v:?}");
            }
            let message = match count {
                ExpectCount::AtLeastOne => {
                    format!(
                        "expected at least one {}{scope}, none went out",
                        what(channel, template, false)
                    )
                }
                ExpectCount::None => format!(
                    "expected no {}{scope}, {n} went out",
                    what(channel, template, false)
                ),
                ExpectCount::Exactly(k) => format!(
                    "expected {k} {}{scope}, {n} went out",
                    what(channel, template, *k != 1)
                ),
            };
            let label = match count {
                ExpectCount::AtLeastOne => "no message matches".to_owned(),
                _ => format!("{n} matching"),
            };
            let mut help = messages_help(sent, log, to, clock);
            if !with.is_empty() && !matching.is_empty() {
                // Nothing to add: the count is off with the content right.
            } else if !with.is_empty() {
                let near: Vec<&Sent> = sent
                    .iter()
                    .filter(|s| to.is_none_or(|t| t == s.profile))
                    .filter(|s| channel.is_none_or(|c| c == s.message.channel))
                    .collect();
                for s in near {
                    for (f, v) in with {
                        match s.message.fields.get(f) {
                            Some(x) if x != v => {
                                let _ = write!(
                                    help,
                                    "\nthe {} at {} has {f} {x:?}, not {v:?}",
                                    s.message.channel.as_str(),
                                    clock.show(s.at)
                                );
                            }
                            None => {
                                let _ = write!(
                                    help,
                                    "\nthe {} at {} has no field `{f}`",
                                    s.message.channel.as_str(),
                                    clock.show(s.at)
                                );
                            }
                            _ => {}
                        }
                    }
                }
            }
            Some(
                Diagnostic::error(EXPECTATION_FAILED, message)
                    .with_primary(e.span, label)
                    .with_help(help),
            )
        }
        Expect::Arm { profile, arm: want } => {
            let taken: Vec<&str> = log
                .iter()
                .filter_map(|r| match r {
                    Record::Arm {
                        profile: p,
                        workflow,
                        split,
                        arm,
                        ..
                    } if **p == *profile
                        && **workflow == *want.workflow
                        && *split == want.split =>
                    {
                        Some(arm.as_str())
                    }
                    _ => None,
                })
                .collect();
            if taken.contains(&want.arm.as_str()) {
                return None;
            }
            let message = format!(
                "`{profile}` never took arm `{}` of split `{}`",
                want.arm, want.split
            );
            let help = if taken.is_empty() {
                format!(
                    "`{profile}` took no arm of `{}.{}`: did the journey reach the split?\n{}",
                    want.workflow,
                    want.split,
                    journey_help(log, profile, clock)
                )
            } else {
                let taken: Vec<String> = taken.iter().map(|a| format!("`{a}`")).collect();
                format!("`{profile}` took {}", taken.join(", then "))
            };
            Some(
                Diagnostic::error(EXPECTATION_FAILED, message)
                    .with_primary(e.span, "this expectation does not hold")
                    .with_help(help),
            )
        }
        Expect::Journey {
            profile,
            state,
            target,
        } => {
            let target = match target {
                JourneyTarget::Workflow(w) => program.workflows[w.index()].name.as_str(),
                JourneyTarget::Goal(goal) => goal.as_str(),
            };
            let key = (profile.clone(), target.to_owned());
            let has = |v: &Vec<(String, String)>| v.contains(&key);
            let (ok, message) = match state {
                JourneyState::Entered => (
                    has(&journeys.entered),
                    format!("`{profile}` never entered `{}`", target),
                ),
                JourneyState::NotEntered => (
                    !has(&journeys.entered),
                    format!("`{profile}` entered `{}`", target),
                ),
                JourneyState::Exited => (
                    has(&journeys.exited),
                    format!("`{profile}` never exited `{}`", target),
                ),
                JourneyState::Completed => (
                    has(&journeys.completed),
                    format!("`{profile}` never completed `{}`", target),
                ),
                JourneyState::Active => (
                    journeys.active(log, profile, target, clock.last_step),
                    format!("`{profile}` is not in `{}` after the last step", target),
                ),
                JourneyState::ReachedGoal => (
                    has(&journeys.goals),
                    format!("`{profile}` never reached goal `{}`", target),
                ),
            };
            if ok {
                return None;
            }
            let mut help = journey_help(log, profile, clock);
            help.push('\n');
            help.push_str(&messages_help(sent, log, Some(profile), clock));
            Some(
                Diagnostic::error(EXPECTATION_FAILED, message)
                    .with_primary(e.span, "this expectation does not hold")
                    .with_help(help),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = "profile {\n  email: email?\n  plan: string = \"free\"\n}\n\nevent signed_up {}\nevent login {}\n\n";

    /// Runs the tests of `flows` (after SCHEMA); panics if it does not check.
    fn run(flows: &str) -> Vec<TestOutcome> {
        let text = format!("{SCHEMA}{flows}");
        let src = Arc::new(SourceFile::new("t.flow", text));
        let checked = nudge_check::check_project(&[src], &nudge_check::FsLoader);
        let program = checked
            .program
            .unwrap_or_else(|| panic!("{}", nudge_syntax::render_plain(&checked.diagnostics, 80)));
        let module = nudge_compile::compile(&program, "test").unwrap();
        run_tests(&program, &module)
    }

    fn codes(o: &TestOutcome) -> Vec<&'static str> {
        o.failures.iter().map(|d| d.code).collect()
    }

    const DRIP: &str = "workflow drip {\n  on signed_up\n  send in_app { title: \"one\", body: \"b\" }\n  wait 1d\n  send in_app { title: \"two\", body: \"b\" }\n}\n\n";

    #[test]
    fn run_tests_where_runs_only_the_kept_names() {
        let text = format!(
            "{SCHEMA}{DRIP}test \"drip one\" {{\n  at 2026-03-01T10:00:00Z \"u1\" does signed_up\n  expect 2 messages\n}}\n\ntest \"login\" {{\n  at 2026-03-01T10:00:00Z \"u1\" does login\n  expect no message\n}}\n\ntest \"drip two\" {{\n  at 2026-03-01T10:00:00Z \"u2\" does signed_up\n  expect 1 message\n}}\n"
        );
        let src = Arc::new(SourceFile::new("t.flow", text));
        let checked = nudge_check::check_project(&[src], &nudge_check::FsLoader);
        let program = checked.program.unwrap();
        let module = nudge_compile::compile(&program, "test").unwrap();
        let (out, left_out) = run_tests_where(&program, &module, |n| n.contains("drip"));
        let names: Vec<&str> = out.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["drip one", "drip two"]);
        assert_eq!(left_out, 1);
        assert!(out[0].passed() && !out[1].passed());
        assert_eq!(run_tests(&program, &module).len(), 3);
    }

    #[test]
    fn counts_filter_first_then_compare() {
        let out = run(&format!(
            "{DRIP}test \"t\" {{\n  at 2026-03-01T10:00:00Z \"u1\" does signed_up\n  expect 2 messages\n  expect 1 in_app at +1d\n  expect in_app\n  expect no in_app between +1h and +23h\n  expect no message to \"u2\"\n}}\n"
        ));
        assert!(out[0].passed(), "{:?}", out[0].failures);
        assert_eq!(out[0].messages, 2);
        assert_eq!(out[0].simulated, Duration::days(1));

        let out = run(&format!(
            "{DRIP}test \"t\" {{\n  at 2026-03-01T10:00:00Z \"u1\" does signed_up\n  expect 1 message\n  expect no in_app at +1d\n  expect in_app at +2d\n}}\n"
        ));
        assert_eq!(codes(&out[0]), [EXPECTATION_FAILED; 3]);
        // Each failure points at its own `expect` line, and no further.
        let src = &out[0].source;
        let texts: Vec<&str> = out[0]
            .failures
            .iter()
            .map(|d| &src.text()[d.labels[0].span.start as usize..d.labels[0].span.end as usize])
            .collect();
        assert_eq!(
            texts,
            [
                "expect 1 message",
                "expect no in_app at +1d",
                "expect in_app at +2d"
            ]
        );
        let help = out[0].failures[0].help.as_deref().unwrap();
        assert!(help.contains("2 messages went out:"), "{help}");
        assert!(
            help.contains("+1d (2026-03-02 10:00Z)  to `u1`  drip  in_app"),
            "{help}"
        );
    }

    #[test]
    fn with_compares_the_whole_field() {
        let out = run(&format!(
            "{DRIP}test \"t\" {{\n  at 2026-03-01T10:00:00Z \"u1\" does signed_up\n  expect in_app with title \"on\"\n  expect 1 in_app with title \"two\"\n}}\n"
        ));
        assert_eq!(codes(&out[0]), [EXPECTATION_FAILED]);
        let help = out[0].failures[0].help.as_deref().unwrap();
        assert!(help.contains("has title \"one\", not \"on\""), "{help}");
    }

    #[test]
    fn history_is_the_past_not_a_trigger() {
        let out = run(&format!(
            "{DRIP}workflow back {{\n  on login\n  if did login within 30d {{\n    send in_app {{ title: \"again\", body: \"b\" }}\n  }}\n}}\n\ntest \"t\" {{\n  given \"u1\" did signed_up at -2d\n  given \"u1\" did login at -1d\n  at 2026-03-01T10:00:00Z \"u1\" does login\n  expect \"u1\" did not enter drip\n  expect 1 in_app with title \"again\"\n}}\n"
        ));
        assert!(out[0].passed(), "{:?}", out[0].failures);
    }

    #[test]
    fn a_quiet_spell_before_the_test_fires_as_it_starts() {
        let out = run(
            "workflow quiet {\n  on inactive for 5d\n  send in_app { title: \"miss you\", body: \"b\" }\n}\n\ntest \"t\" {\n  given \"u1\" did login at -10d\n  at 2026-03-01T10:00:00Z \"u2\" does login\n  expect 1 in_app to \"u1\" at +0s\n  expect 1 in_app to \"u2\" at +5d\n}\n",
        );
        assert!(out[0].passed(), "{:?}", out[0].failures);
    }

    #[test]
    fn is_in_is_judged_after_the_last_step() {
        let out = run(&format!(
            "{DRIP}test \"t\" {{\n  at 2026-03-01T10:00:00Z \"u1\" does signed_up\n  at +2h \"u1\" does login\n  expect \"u1\" is in drip\n  expect \"u1\" completed drip\n}}\n\ntest \"late\" {{\n  at 2026-03-01T10:00:00Z \"u1\" does signed_up\n  at +2d \"u1\" does login\n  expect \"u1\" is in drip\n}}\n"
        ));
        assert!(out[0].passed(), "{:?}", out[0].failures);
        assert_eq!(codes(&out[1]), [EXPECTATION_FAILED]);
    }

    #[test]
    fn the_horizon_stops_a_test_that_never_settles() {
        let out = run(
            "workflow far {\n  on signed_up\n  wait 400d\n  send in_app { title: \"late\", body: \"b\" }\n}\n\ntest \"t\" {\n  at 2026-03-01T10:00:00Z \"u1\" does signed_up\n  expect no message\n}\n",
        );
        assert_eq!(codes(&out[0]), [HORIZON_REACHED]);
        let help = out[0].failures[0].help.as_deref().unwrap();
        assert!(help.contains("+57w1d (2027-04-05 10:00Z)"), "{help}");
    }

    #[test]
    fn runs_are_deterministic() {
        let flows = format!(
            "{DRIP}test \"t\" {{\n  at 2026-03-01T10:00:00Z \"u1\" does signed_up\n  expect 3 messages\n}}\n"
        );
        let render = |o: &[TestOutcome]| nudge_syntax::render_plain(&o[0].failures, 80);
        assert_eq!(render(&run(&flows)), render(&run(&flows)));
    }
}
