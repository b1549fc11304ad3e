//! `nudge simulate`: replay an event trace through a project on a virtual
//! clock and show every message that would go out (with `--records`, every
//! record of the run: why a message did or did not go out).
//!
//! The trace is Segment-style JSON lines, validated by
//! [`nudge_ingest`]. Lines are
//! applied in file order, their `timestamp` taken as the receive time; a
//! line earlier than the one before is rejected (the engine's clock only
//! moves forward). A rejected line is reported on stderr with its number and
//! the field at fault, and skipped whole. After the last line, timers run
//! until `--until`, or, by default, until none is left. The engine's record
//! log is drained as the run goes: JSON lines are written as messages are
//! sent (or records logged), and the table keeps only its row text.

use std::collections::{BTreeMap, HashSet};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use clap::ValueEnum;
use nudge_bytecode::Module;
use nudge_ingest::{self as ingest, IngestError, Input, Note};
use nudge_store::{Options, SledStore};
use nudge_vm::{Engine, MemoryStore, Props, Record, Rendered, Store, WorkflowStats};

use crate::exit::Exit;
use crate::pipeline::{self, NoModule};
use crate::report;

/// `nudge simulate`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The project: a folder (or `.flow` files).
    pub project: Vec<PathBuf>,
    /// The trace: Segment-style JSON lines (`track` and `identify` calls
    /// with RFC 3339 `timestamp`s, in time order).
    #[arg(long, value_name = "FILE.jsonl")]
    pub events: PathBuf,
    /// Initial profiles: JSON lines `{"userId": …, "traits": {…}}`, set
    /// before the first event.
    #[arg(long, value_name = "FILE.jsonl")]
    pub profiles: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: SimFormat,
    /// Run timers up to this RFC 3339 time; lines after it are not applied.
    /// Default: after the last line, until no timer is left.
    #[arg(long, value_name = "TIMESTAMP")]
    pub until: Option<String>,
    /// Exit 0 even when some lines were rejected.
    #[arg(long)]
    pub allow_bad_lines: bool,
    /// List every record of the run (entries, suppressions, deferrals,
    /// caps, drops, goals, exits, completions and messages), in the order
    /// they happened, instead of only the messages.
    #[arg(long)]
    pub records: bool,
    /// Run on the durable store in this folder instead of in memory. A
    /// folder from an earlier run continues it: the lines that run applied
    /// are skipped, the rest applied.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// What a run needs of its store beyond the engine's: where an earlier run
/// on it stopped, and how to make what is applied durable.
trait RunStore: Store {
    /// The trace line an earlier run applied last.
    fn applied_line(&self) -> Result<Option<u64>, Failure>;
    /// Records, with the step about to run, that `line` is applied.
    fn mark_line(&mut self, line: u64);
}

impl RunStore for MemoryStore {
    fn applied_line(&self) -> Result<Option<u64>, Failure> {
        Ok(None)
    }
    fn mark_line(&mut self, _: u64) {}
}

impl RunStore for SledStore {
    fn applied_line(&self) -> Result<Option<u64>, Failure> {
        self.applied().map_err(|e| Failure::Other(e.to_string()))
    }
    fn mark_line(&mut self, line: u64) {
        self.mark_applied(line);
    }
}

/// Lines applied between two commits of a durable run.
const COMMIT_EVERY: u64 = 4096;

/// Output formats of `nudge simulate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SimFormat {
    /// An aligned message (or record) log, then a summary per workflow.
    Table,
    /// One JSON object per line: messages (or records), then summaries.
    Jsonl,
}

/// Traces at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_BYTES: u64 = 4 << 20;

/// The widest content summary in the table.
const CONTENT_WIDTH: usize = 60;

/// Runs `nudge simulate`.
pub fn run(args: &Args) -> Exit {
    match simulate(args) {
        Ok(exit) => exit,
        Err(Failure::Flows) => Exit::Problems,
        Err(Failure::Other(message)) => {
            eprintln!("error: {message}");
            Exit::Failure
        }
    }
}

enum Failure {
    /// The flows have errors (already reported).
    Flows,
    /// Usage, IO or internal error.
    Other(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Other(format!("cannot write the output: {e}"))
    }
}

/// Loads, checks and compiles the project; problems go to stderr.
fn load_module(paths: &[PathBuf]) -> Result<Module, Failure> {
    let loaded = pipeline::load(paths);
    let color = report::color_on(&std::io::stderr());
    if !loaded.fatal.is_empty() {
        eprint!("{}", report::render_human(&loaded.fatal, color));
        return Err(Failure::Other("cannot load the project".into()));
    }
    if !loaded.file_errors.is_empty() {
        eprint!("{}", report::render_human(&loaded.file_errors, color));
        return Err(Failure::Flows);
    }
    let project = loaded.single().map_err(|found| {
        Failure::Other(format!(
            "expected one project, found {found}; name one folder"
        ))
    })?;
    match pipeline::compile(&pipeline::check(project)) {
        Ok(compiled) => Ok(compiled.module),
        Err(NoModule::Errors(errors)) => {
            if !errors.is_empty() {
                eprint!("{}", report::render_human(&errors, color));
                eprintln!(
                    "error: the flows have {} error{}; nothing was simulated",
                    errors.len(),
                    plural(errors.len() as u64)
                );
            }
            Err(Failure::Flows)
        }
        Err(NoModule::Internal(e)) => {
            Err(Failure::Other(format!("cannot compile the project: {e}")))
        }
    }
}

/// Reports rejected lines and notes on stderr, and counts them.
struct Reporter {
    bar: Option<indicatif::ProgressBar>,
    rejected: u64,
    noted: HashSet<(Option<String>, String)>,
}

impl Reporter {
    fn say(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    fn reject(&mut self, file: &str, line: usize, e: &IngestError) {
        self.rejected += 1;
        let text = match &e.field {
            Some(field) => {
                format!(
                    "error: {file}:{line}: `{field}`: {} (line skipped)",
                    e.message
                )
            }
            None => format!("error: {file}:{line}: {} (line skipped)", e.message),
        };
        self.say(&text);
    }

    /// An ignored property or trait, once per event and field.
    fn note(&mut self, file: &str, line: usize, note: Note) {
        let text = match &note.event {
            Some(event) => format!(
                "note: {file}:{line}: `{}` is not declared for `{event}` and is ignored (said once)",
                note.field
            ),
            None => format!(
                "note: {file}:{line}: `{}` is not declared in the profile and is ignored (said once)",
                note.field
            ),
        };
        if self.noted.insert((note.event, note.field)) {
            self.say(&text);
        }
    }
}

fn display_name(path: &Path) -> String {
    path.display().to_string()
}

fn open(path: &Path) -> Result<(std::io::BufReader<std::fs::File>, u64), Failure> {
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::Other(format!("cannot read `{}`: {e}", path.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((std::io::BufReader::with_capacity(1 << 16, file), size))
}

/// Reads JSON lines, calling `each` with (line number, text); blank lines
/// are skipped, and a line that is not UTF-8 comes as the error that
/// rejects it (the lines after it are read as usual). Returns the bytes
/// read per line through `progress`.
fn for_each_line(
    path: &Path,
    mut reader: impl std::io::BufRead,
    mut each: impl FnMut(usize, Result<&str, IngestError>) -> Result<bool, Failure>,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<(), Failure> {
    let mut buf = Vec::new();
    let mut number = 0usize;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|e| {
            Failure::Other(format!(
                "cannot read `{}` after line {number}: {e}",
                path.display()
            ))
        })?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        if let Some(bar) = progress {
            bar.inc(n as u64);
        }
        let line = match std::str::from_utf8(&buf) {
            Ok(text) => Ok(text.trim()),
            Err(e) => Err(IngestError {
                field: None,
                message: format!("not valid UTF-8 (byte {} of the line)", e.valid_up_to() + 1),
            }),
        };
        if line.as_ref().is_ok_and(|t| t.is_empty()) {
            continue;
        }
        if !each(number, line)? {
            return Ok(());
        }
    }
}

/// An initial profile.
struct Initial {
    user_id: String,
    traits: Props,
    at: Option<DateTime<Utc>>,
}

fn read_profiles(
    path: &Path,
    module: &Module,
    rep: &mut Reporter,
) -> Result<Vec<Initial>, Failure> {
    let (reader, _) = open(path)?;
    let name = display_name(path);
    let mut out = Vec::new();
    for_each_line(
        path,
        reader,
        |number, line| {
            match line.and_then(|text| ingest::parse_profile(text, &module.schemas)) {
                Ok((
                    Input::Identify {
                        user_id,
                        traits,
                        at,
                    },
                    notes,
                )) => {
                    for n in notes {
                        rep.note(&name, number, n);
                    }
                    out.push(Initial {
                        user_id,
                        traits,
                        at,
                    });
                }
                Ok(_) => {}
                Err(e) => rep.reject(&name, number, &e),
            }
            Ok(true)
        },
        None,
    )?;
    Ok(out)
}

fn engine_error(e: nudge_vm::EngineError) -> Failure {
    Failure::Other(format!("the simulation stopped: {e}"))
}

/// Creates the engine at the trace's start and sets the initial profiles.
fn start<S: RunStore>(
    store: S,
    module: &Module,
    profiles: &mut Vec<Initial>,
    first: DateTime<Utc>,
) -> Result<Engine<S>, Failure> {
    profiles.sort_by_key(|p| p.at.unwrap_or(first));
    let t0 = profiles
        .first()
        .and_then(|p| p.at)
        .map_or(first, |t| t.min(first));
    let mut engine = Engine::new(store, module.clone(), t0);
    for p in profiles.drain(..) {
        let at = p.at.unwrap_or(first).min(first).max(engine.now());
        engine
            .identify(&p.user_id, p.traits, at)
            .map_err(engine_error)?;
    }
    Ok(engine)
}

/// Everything a run produced.
struct Outcome<S: Store> {
    engine: Option<Engine<S>>,
    applied: u64,
    skipped_after_until: u64,
    /// Lines an earlier run on the same store applied (skipped now).
    continued: u64,
}

fn simulate(args: &Args) -> Result<Exit, Failure> {
    let until = match &args.until {
        None => None,
        Some(s) => Some(ingest::parse_time(s).ok_or_else(|| {
            Failure::Other(format!(
                "--until `{s}` is not an RFC 3339 time (like `2026-03-01T10:00:00Z`)"
            ))
        })?),
    };
    let paths = if args.project.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.project.clone()
    };
    let module = load_module(&paths)?;
    // Open the trace before the work starts, so a typo fails fast.
    let (reader, size) = open(&args.events)?;
    let mut rep = Reporter {
        bar: None,
        rejected: 0,
        noted: HashSet::new(),
    };
    let mut profiles = match &args.profiles {
        Some(path) => read_profiles(path, &module, &mut rep)?,
        None => Vec::new(),
    };
    // JSON lines go out during the run: no bar when they share its terminal.
    let output_on_terminal = args.format == SimFormat::Jsonl && std::io::stdout().is_terminal();
    if size >= PROGRESS_BYTES && std::io::stderr().is_terminal() && !output_on_terminal {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        rep.bar = Some(bar);
    }
    let mut sink = Sink::new(
        std::io::BufWriter::new(std::io::stdout().lock()),
        args.format,
        args.records,
        &module,
    );
    let ran = match &args.data {
        None => run_on(
            MemoryStore::new(),
            args,
            &module,
            reader,
            &mut profiles,
            until,
            &mut rep,
            &mut sink,
        ),
        Some(dir) => {
            let store = SledStore::open(dir, Options::default())
                .map_err(|e| Failure::Other(e.to_string()))?;
            run_on(
                store,
                args,
                &module,
                reader,
                &mut profiles,
                until,
                &mut rep,
                &mut sink,
            )
        }
    };
    let (applied, skipped_after_until, continued) = match ran {
        Ok(outcome) => outcome,
        Err(e) => {
            // The messages already written stay written.
            sink.flush_partial();
            return Err(e);
        }
    };
    sink.finish()?;
    if continued > 0 {
        eprintln!(
            "note: continued the run in `{}`: {continued} line{} applied by an earlier run skipped",
            args.data.as_deref().unwrap_or(Path::new("")).display(),
            plural(continued)
        );
    }
    if skipped_after_until > 0 {
        eprintln!(
            "note: {skipped_after_until} line{} after --until not applied",
            plural(skipped_after_until)
        );
    }
    if rep.rejected > 0 {
        eprintln!(
            "{}: {} line{} rejected, {applied} applied",
            if args.allow_bad_lines {
                "warning"
            } else {
                "error"
            },
            rep.rejected,
            plural(rep.rejected)
        );
        if !args.allow_bad_lines {
            eprintln!("  help: fix the lines, or pass --allow-bad-lines to exit 0 all the same");
            return Ok(Exit::Problems);
        }
    }
    Ok(Exit::Ok)
}

/// Replays the trace on `store`, then runs the timers; what it applied,
/// left out after `--until`, and found applied by an earlier run.
#[expect(
    clippy::too_many_arguments,
    reason = "the run's store, its inputs and its outputs"
)]
fn run_on<S: RunStore>(
    store: S,
    args: &Args,
    module: &Module,
    reader: impl std::io::BufRead,
    profiles: &mut Vec<Initial>,
    until: Option<DateTime<Utc>>,
    rep: &mut Reporter,
    sink: &mut Sink<impl std::io::Write>,
) -> Result<(u64, u64, u64), Failure> {
    let outcome = replay(store, args, module, reader, profiles, until, rep, sink);
    if let Some(bar) = rep.bar.take() {
        bar.finish_and_clear();
    }
    let mut outcome = outcome?;
    match outcome.engine.take() {
        Some(engine) if !sink.closed => run_timers(engine, until, sink)?,
        _ => {}
    }
    Ok((
        outcome.applied,
        outcome.skipped_after_until,
        outcome.continued,
    ))
}

/// Runs timers after the last line, to `until` or until none is left,
/// draining the log into `sink` after each due time; a durable store is
/// committed at the end.
fn run_timers<S: Store>(
    mut engine: Engine<S>,
    until: Option<DateTime<Utc>>,
    sink: &mut Sink<impl std::io::Write>,
) -> Result<(), Failure> {
    match until {
        Some(t) => {
            // `advance_to(limit)`, one due time at a time.
            let limit = t.max(engine.now());
            while let Some(at) = engine.store().next_timer().filter(|at| *at <= limit) {
                engine
                    .advance_to(at.max(engine.now()))
                    .map_err(engine_error)?;
                sink.drain(&mut engine)?;
                if sink.closed {
                    return Ok(());
                }
            }
            engine.advance_to(limit).map_err(engine_error)?;
        }
        None => {
            while engine.fire_next().map_err(engine_error)?.is_some() {
                sink.drain(&mut engine)?;
                if sink.closed {
                    break;
                }
            }
        }
    }
    engine.commit().map_err(engine_error)?;
    sink.drain(&mut engine)
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "the run's store, its inputs and its outputs"
)]
fn replay<S: RunStore>(
    store: S,
    args: &Args,
    module: &Module,
    reader: impl std::io::BufRead,
    profiles: &mut Vec<Initial>,
    until: Option<DateTime<Utc>>,
    rep: &mut Reporter,
    sink: &mut Sink<impl std::io::Write>,
) -> Result<Outcome<S>, Failure> {
    let name = display_name(&args.events);
    // An earlier run on this store applied the lines up to this one.
    let done_before = store.applied_line()?;
    let mut store = Some(store);
    let mut engine: Option<Engine<S>> = None;
    let mut last: Option<DateTime<Utc>> = None;
    let mut applied = 0u64;
    let mut continued = 0u64;
    let mut skipped_after_until = 0u64;
    let bar = rep.bar.clone();
    for_each_line(
        &args.events,
        reader,
        |number, line| {
            if done_before.is_some_and(|d| number as u64 <= d) {
                // Applied by the earlier run: only its time matters, as
                // where the clock stood.
                if let Ok((input, _)) =
                    line.and_then(|text| ingest::parse_call(text, &module.schemas))
                {
                    last = input.at().or(last);
                }
                continued += 1;
                return Ok(true);
            }
            let (input, notes) =
                match line.and_then(|text| ingest::parse_call(text, &module.schemas)) {
                    Ok(ok) => ok,
                    Err(e) => {
                        rep.reject(&name, number, &e);
                        return Ok(true);
                    }
                };
            let at = input.at().unwrap_or_default();
            if let Some(prev) = last.filter(|prev| at < *prev) {
                rep.reject(
                    &name,
                    number,
                    &IngestError {
                        field: Some("timestamp".into()),
                        message: format!(
                            "`{}` is earlier than the line before (`{}`); the trace must be in time order",
                            stamp(at),
                            stamp(prev)
                        ),
                    },
                );
                return Ok(true);
            }
            if until.is_some_and(|u| at > u) {
                skipped_after_until += 1;
                return Ok(true);
            }
            for n in notes {
                rep.note(&name, number, n);
            }
            let engine = match &mut engine {
                Some(e) => e,
                None => {
                    let store = store
                        .take()
                        .ok_or_else(|| Failure::Other("the store is gone".into()))?;
                    let e = match (done_before, last) {
                        // Go on from the earlier run's clock; its profiles
                        // are in the store.
                        (Some(_), Some(clock)) => Engine::new(store, module.clone(), clock),
                        _ => start(store, module, profiles, at)?,
                    };
                    engine.insert(e)
                }
            };
            last = Some(at);
            applied += 1;
            engine.advance_to(at).map_err(engine_error)?;
            engine.store_mut().mark_line(number as u64);
            let done = match input {
                Input::Track {
                    user_id,
                    event,
                    props,
                    ..
                } => engine.track(&user_id, &event, props, at),
                Input::Identify {
                    user_id, traits, ..
                } => engine.identify(&user_id, traits, at),
            };
            done.map_err(engine_error)?;
            if applied % COMMIT_EVERY == 0 {
                engine.commit().map_err(engine_error)?;
            }
            sink.drain(engine)?;
            // A closed output (the reader is gone): stop here.
            Ok(!sink.closed)
        },
        bar.as_ref(),
    )?;
    // No line applied: initial profiles still start their quiet spells
    // (on a new store), or the earlier run's timers go on.
    if engine.is_none() {
        if let Some(store) = store.take() {
            if let (Some(_), Some(clock)) = (done_before, last) {
                engine = Some(Engine::new(store, module.clone(), clock));
            } else if !profiles.is_empty() {
                let first = profiles.iter().filter_map(|p| p.at).min();
                if let Some(first) = first.or(until) {
                    engine = Some(start(store, module, profiles, first)?);
                }
            }
        }
    }
    Ok(Outcome {
        engine,
        applied,
        skipped_after_until,
        continued,
    })
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A one-line summary of a message's content.
pub fn summary(message: &Rendered) -> String {
    let f = |k: &str| message.fields.get(k).map(String::as_str);
    let text = match (f("subject"), f("title"), f("body"), f("text")) {
        (Some(subject), ..) => subject.to_owned(),
        (None, Some(title), Some(body), _) => format!("{title}: {body}"),
        (None, Some(title), None, _) => title.to_owned(),
        (None, None, Some(body), _) => body.to_owned(),
        (None, None, None, Some(text)) => text.to_owned(),
        _ => message
            .fields
            .iter()
            .next()
            .map(|(k, v)| format!("{k}: {v}"))
            .unwrap_or_default(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shorten(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The run's output, written as the engine's log is drained: JSON lines
/// go out as the messages (or, with `--records`, all records) are logged;
/// the table, which aligns its columns over every row, keeps only its row
/// cells until the end. Either way the records themselves are dropped once
/// counted.
struct Sink<W: std::io::Write> {
    out: W,
    format: SimFormat,
    /// Every record is written, not only the messages.
    records: bool,
    /// The message table's rows, header first (table format only).
    rows: Vec<[String; 6]>,
    /// The record table's rows, header first (table format with
    /// `--records` only).
    trace: Vec<[String; 5]>,
    /// Messages sent.
    messages: u64,
    /// Counts for every workflow of the module (and any older version).
    stats: BTreeMap<String, WorkflowStats>,
    /// Per arm of each split, when the module has splits.
    arms: Option<nudge_measure::Tally>,
    /// The output is closed (the reader has gone) or failed: nothing more
    /// is written.
    closed: bool,
}

impl<W: std::io::Write> Sink<W> {
    fn new(out: W, format: SimFormat, records: bool, module: &Module) -> Self {
        let (rows, trace) = match (format, records) {
            (SimFormat::Table, false) => (
                vec![[
                    "TIME", "PROFILE", "WORKFLOW", "CHANNEL", "TEMPLATE", "CONTENT",
                ]
                .map(str::to_owned)],
                Vec::new(),
            ),
            (SimFormat::Table, true) => (
                Vec::new(),
                vec![["TIME", "PROFILE", "WORKFLOW", "WHAT", "DETAIL"].map(str::to_owned)],
            ),
            (SimFormat::Jsonl, _) => (Vec::new(), Vec::new()),
        };
        Sink {
            out,
            format,
            records,
            rows,
            trace,
            messages: 0,
            stats: module
                .workflows
                .iter()
                .map(|w| (w.name.clone(), WorkflowStats::default()))
                .collect(),
            arms: (!module.splits.is_empty()).then(nudge_measure::Tally::new),
            closed: false,
        }
    }

    /// Takes what the engine logged since the last drain.
    fn drain<S: Store>(&mut self, engine: &mut Engine<S>) -> Result<(), Failure> {
        if engine.log.is_empty() {
            return Ok(());
        }
        self.feed(&engine.log)?;
        // Cleared, not replaced: the next batch reuses the same memory.
        engine.log.clear();
        Ok(())
    }

    /// Counts `records` and writes (or keeps) their messages, or all of
    /// them with `--records`.
    fn feed(&mut self, records: &[Record]) -> Result<(), Failure> {
        for r in records {
            WorkflowStats::tally(&mut self.stats, r);
            if let Some(arms) = &mut self.arms {
                arms.record(r);
            }
            if matches!(r, Record::Sent { .. }) {
                self.messages += 1;
            }
            if self.closed {
                continue;
            }
            if self.records {
                match self.format {
                    SimFormat::Table => self.trace.push(record_row(r)),
                    SimFormat::Jsonl => {
                        let written = record_line(r).and_then(|line| writeln!(self.out, "{line}"));
                        self.check(written)?;
                    }
                }
                continue;
            }
            let Record::Sent {
                at,
                profile,
                workflow,
                message,
                ..
            } = r
            else {
                continue;
            };
            match self.format {
                SimFormat::Table => self.rows.push([
                    stamp(*at),
                    profile.to_string(),
                    workflow.to_string(),
                    message.channel.as_str().to_owned(),
                    message.template.as_deref().unwrap_or("-").to_owned(),
                    shorten(&summary(message), CONTENT_WIDTH),
                ]),
                SimFormat::Jsonl => {
                    let written = record_line(r).and_then(|line| writeln!(self.out, "{line}"));
                    self.check(written)?;
                }
            }
        }
        Ok(())
    }

    /// A closed pipe ends the output quietly (as with the other commands);
    /// any other write error ends the run.
    fn check(&mut self, written: std::io::Result<()>) -> Result<(), Failure> {
        match written {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(e) => {
                // Nothing more is written (not even on the way out).
                self.closed = true;
                Err(e.into())
            }
        }
    }

    /// After an error: pushes out the message lines already written, if
    /// the output still takes them.
    fn flush_partial(&mut self) {
        if !self.closed {
            // The run has already failed; the error that ended it is the
            // one reported.
            let _ = self.out.flush();
        }
    }

    /// Writes the rest (the table, the summaries) and flushes.
    fn finish(mut self) -> Result<(), Failure> {
        if self.closed {
            return Ok(());
        }
        let written = match (self.format, self.records) {
            (SimFormat::Table, false) => write_table(&mut self.out, &self.rows, &self.stats),
            (SimFormat::Table, true) => {
                write_trace(&mut self.out, &self.trace, self.messages, &self.stats)
            }
            (SimFormat::Jsonl, _) => write_summaries(&mut self.out, &self.stats),
        }
        .and_then(|()| match &self.arms {
            Some(arms) => write_arms(&mut self.out, self.format, &arms.report()),
            None => Ok(()),
        })
        .and_then(|()| self.out.flush());
        self.check(written)
    }
}

/// What a capped message's row says.
const CAPPED: &str = "held back by the frequency cap";

/// A record's JSON line: its own serialisation, keys in alphabetical
/// order (a `serde_json::Value` keeps them sorted), so lines are stable
/// whatever order the record declares its fields in.
fn record_line(r: &Record) -> std::io::Result<serde_json::Value> {
    serde_json::to_value(r).map_err(std::io::Error::other)
}

/// A record's table row (`--records`): time, profile, workflow, what,
/// detail.
fn record_row(r: &Record) -> [String; 5] {
    let (at, profile, workflow, what, detail) = match r {
        Record::Sent {
            at,
            profile,
            workflow,
            message,
            ..
        } => (
            at,
            profile,
            workflow,
            "message",
            format!(
                "{} {}: {}",
                message.channel.as_str(),
                message.template.as_deref().unwrap_or("-"),
                shorten(&summary(message), CONTENT_WIDTH)
            ),
        ),
        Record::Entered {
            at,
            profile,
            workflow,
            run,
        } => (
            at,
            profile,
            workflow,
            "entered",
            if *run > 0 {
                format!("run {run}")
            } else {
                String::new()
            },
        ),
        Record::Suppressed {
            at,
            profile,
            workflow,
            reason,
        } => (
            at,
            profile,
            workflow,
            "suppressed",
            reason.describe().to_owned(),
        ),
        Record::Deferred {
            at,
            until,
            profile,
            workflow,
            ..
        } => (
            at,
            profile,
            workflow,
            "deferred",
            format!("until {}", stamp(*until)),
        ),
        Record::Capped {
            at,
            profile,
            workflow,
            ..
        } => (at, profile, workflow, "capped", CAPPED.to_owned()),
        Record::Dropped {
            at,
            profile,
            workflow,
            reason,
            ..
        } => (at, profile, workflow, "dropped", reason.clone()),
        Record::GoalReached {
            at,
            profile,
            workflow,
            goal,
        } => (at, profile, workflow, "goal", goal.clone()),
        Record::Arm {
            at,
            profile,
            workflow,
            split,
            arm,
        } => (at, profile, workflow, "arm", format!("{split}: {arm}")),
        Record::Exited {
            at,
            profile,
            workflow,
            reason,
        } => (at, profile, workflow, "exited", reason.describe()),
        Record::Completed {
            at,
            profile,
            workflow,
        } => (at, profile, workflow, "completed", String::new()),
    };
    [
        stamp(*at),
        profile.to_string(),
        workflow.to_string(),
        what.to_owned(),
        detail,
    ]
}

fn channels(s: &WorkflowStats) -> String {
    if s.sent.is_empty() {
        return "-".into();
    }
    s.sent
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn write_rows<R: AsRef<[String]>>(
    out: &mut dyn std::io::Write,
    rows: &[R],
) -> std::io::Result<()> {
    let columns = rows.first().map_or(0, |r| r.as_ref().len());
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .map(|r| r.as_ref().get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut line = String::new();
    for row in rows {
        let row = row.as_ref();
        line.clear();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The message table (`rows`, header first), then the summary table.
fn write_table(
    out: &mut dyn std::io::Write,
    rows: &[[String; 6]],
    stats: &BTreeMap<String, WorkflowStats>,
) -> std::io::Result<()> {
    let count = rows.len().saturating_sub(1);
    if count > 0 {
        write_rows(out, rows)?;
        writeln!(out)?;
    }
    writeln!(out, "{count} message{}", plural(count as u64))?;
    writeln!(out)?;
    write_stats(out, stats)
}

/// The summary table, one row per workflow.
fn write_stats(
    out: &mut dyn std::io::Write,
    stats: &BTreeMap<String, WorkflowStats>,
) -> std::io::Result<()> {
    let mut rows = vec![[
        "WORKFLOW",
        "ENTERED",
        "SUPPRESSED",
        "EXITED",
        "COMPLETED",
        "GOALS",
        "CAPPED",
        "DEFERRED",
        "DROPPED",
        "MESSAGES",
    ]
    .map(str::to_owned)];
    for (name, s) in stats {
        rows.push([
            name.clone(),
            s.entered.to_string(),
            s.suppressed.to_string(),
            s.exited.to_string(),
            s.completed.to_string(),
            s.goals.to_string(),
            s.capped.to_string(),
            s.deferred.to_string(),
            s.dropped.to_string(),
            channels(s),
        ]);
    }
    write_rows(out, &rows)
}

/// The record table (`rows`, header first), then the summary table.
fn write_trace(
    out: &mut dyn std::io::Write,
    rows: &[[String; 5]],
    messages: u64,
    stats: &BTreeMap<String, WorkflowStats>,
) -> std::io::Result<()> {
    let count = rows.len().saturating_sub(1);
    if count > 0 {
        write_rows(out, rows)?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "{count} record{}, {messages} message{}",
        plural(count as u64),
        plural(messages)
    )?;
    writeln!(out)?;
    write_stats(out, stats)
}

/// Per arm of each split: a table, or `arm_summary` lines.
fn write_arms(
    out: &mut dyn std::io::Write,
    format: SimFormat,
    report: &nudge_measure::Report,
) -> std::io::Result<()> {
    if report.arms.is_empty() {
        return Ok(());
    }
    let goals = |a: &nudge_measure::ArmRow| -> BTreeMap<String, u64> {
        a.goals
            .iter()
            .map(|g| (g.goal.clone(), g.rate.converted))
            .collect()
    };
    match format {
        SimFormat::Jsonl => {
            for a in &report.arms {
                let line = serde_json::json!({
                    "kind": "arm_summary",
                    "workflow": a.workflow,
                    "split": a.split,
                    "arm": a.arm,
                    "control": a.control,
                    "entered": a.entered,
                    "messages": a.messages,
                    "goals": goals(a),
                });
                writeln!(out, "{line}")?;
            }
            Ok(())
        }
        SimFormat::Table => {
            writeln!(out)?;
            let mut rows = vec![
                ["WORKFLOW", "SPLIT", "ARM", "ENTERED", "MESSAGES", "GOALS"].map(str::to_owned)
            ];
            for a in &report.arms {
                let g: Vec<String> = a
                    .goals
                    .iter()
                    .map(|g| {
                        format!(
                            "{} {} ({:.1}%)",
                            g.goal,
                            g.rate.converted,
                            g.rate.rate * 100.0
                        )
                    })
                    .collect();
                let arm = if a.control && a.arm != "control" {
                    format!("{} (control)", a.arm)
                } else {
                    a.arm.clone()
                };
                rows.push([
                    a.workflow.clone(),
                    a.split.clone(),
                    arm,
                    a.entered.to_string(),
                    a.messages.to_string(),
                    g.join(", "),
                ]);
            }
            write_rows(out, &rows)
        }
    }
}

/// The JSON summary lines, one per workflow.
fn write_summaries(
    out: &mut dyn std::io::Write,
    stats: &BTreeMap<String, WorkflowStats>,
) -> std::io::Result<()> {
    /// `{"kind": "summary", "workflow": …, "entered": …, …}`
    #[derive(serde::Serialize)]
    struct Line<'a> {
        kind: &'static str,
        workflow: &'a str,
        #[serde(flatten)]
        stats: &'a WorkflowStats,
    }
    for (workflow, stats) in stats {
        let line = Line {
            kind: "summary",
            workflow,
            stats,
        };
        // Sorted keys, as the record lines have them.
        let line = serde_json::to_value(&line).map_err(std::io::Error::other)?;
        writeln!(out, "{line}")?;
    }
    Ok(())
}
