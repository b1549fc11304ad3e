//! The engine against the reference model, on random projects and traces.
//!
//! Each case is a random project (schema, policy, one to four workflows
//! built from the language's parts), an optional redeploy of a changed
//! version mid-trace, and a random trace of `track` and `identify` calls
//! over a few profiles near clock changes of unusual zones. Both engines
//! run it, then every timer left within 60 days, and must write the same
//! record log, record for record. A failing case is shrunk and printed as
//! the `.flow` text and trace it stands for.
//!
//! `NUDGE_DIFF_CASES` sets the number of cases (default 2 000);
//! `NUDGE_DIFF_SEED` the first seed (default 0).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod gen;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use gen::{Choices, Step};
use nudge_bytecode::Module;
use nudge_ingest::{parse_call, Input};
use nudge_reference::Reference;
use nudge_store::{Options, SledStore};
use nudge_syntax::{Severity, SourceFile};
use nudge_vm::{Engine, MemoryStore, Record};

/// How a case went.
enum Outcome {
    Agree,
    /// The generator made something the checker refuses.
    Invalid(String),
    /// The engines disagree (or one failed).
    Differ(String),
}

fn compile(text: &str) -> Result<Module, String> {
    let file = Arc::new(SourceFile::new("gen.flow", text));
    let checked = nudge_check::check_project(&[file], &nudge_check::FsLoader);
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .cloned()
        .collect();
    if !errors.is_empty() {
        return Err(nudge_syntax::render_plain(&errors, 100));
    }
    let program = checked.program.ok_or("no program")?;
    nudge_compile::compile(&program, "test").map_err(|e| e.to_string())
}

/// A generated case, written out.
struct Case {
    project: String,
    redeployed: Option<String>,
    steps: Vec<Step>,
}

impl Case {
    fn draw(c: &mut Choices) -> Case {
        let project = gen::project(c);
        let redeploy = c.chance(30);
        let redeployed = redeploy.then(|| gen::changed(c, &project).text());
        let required = project.schema.contains("name: string");
        let steps = gen::trace(c, required, redeploy);
        Case {
            project: project.text(),
            redeployed,
            steps,
        }
    }

    fn describe(&self) -> String {
        let mut s = format!("--- project ---\n{}", self.project);
        if let Some(r) = &self.redeployed {
            s.push_str(&format!("--- redeployed as ---\n{r}"));
        }
        s.push_str("--- trace ---\n");
        for step in &self.steps {
            s.push_str(&step.line());
            s.push('\n');
        }
        s
    }
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn show(log: &[Record], around: usize) -> String {
    let from = around.saturating_sub(3);
    let to = (around + 3).min(log.len());
    (from..to)
        .map(|i| {
            format!(
                "  {}{i}: {:?}\n",
                if i == around { ">" } else { " " },
                log[i]
            )
        })
        .collect()
}

fn compare(fast: &[Record], model: &[Record]) -> Result<(), String> {
    let n = fast.len().min(model.len());
    let first = (0..n).find(|&i| fast[i] != model[i]).unwrap_or(n);
    if first == fast.len() && first == model.len() {
        return Ok(());
    }
    Err(format!(
        "the logs differ at record {first} (engine: {} records, model: {})\nengine:\n{}model:\n{}",
        fast.len(),
        model.len(),
        show(fast, first),
        show(model, first)
    ))
}

/// What the agreeing cases exercised, by record kind.
static SEEN: std::sync::Mutex<std::collections::BTreeMap<String, usize>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

fn tally(log: &[Record]) {
    let mut seen = SEEN.lock().unwrap();
    for r in log {
        let kind = match r {
            Record::Entered { .. } => "entered".to_owned(),
            Record::Suppressed { reason, .. } => format!("suppressed {reason:?}"),
            Record::Sent { .. } => "sent".to_owned(),
            Record::Deferred { .. } => "deferred".to_owned(),
            Record::Capped { .. } => "capped".to_owned(),
            Record::Dropped { reason, .. } => format!("dropped: {reason}"),
            Record::GoalReached { .. } => "goal".to_owned(),
            Record::Arm { .. } => "arm".to_owned(),
            Record::Exited { reason, .. } => format!("exited {reason:?}"),
            Record::Completed { .. } => "completed".to_owned(),
        };
        *seen.entry(kind).or_default() += 1;
    }
}

fn run(case: &Case) -> Outcome {
    match play(case) {
        Ok(log) => {
            tally(&log);
            Outcome::Agree
        }
        Err(outcome) => outcome,
    }
}

/// The engine on the durable store, closed and reopened now and then: it
/// must write the same log as the engine on the in-memory store.
struct Durable {
    dir: tempfile::TempDir,
    engine: Option<Engine<SledStore>>,
    module: nudge_bytecode::Module,
    /// Its records so far, across reopens.
    log: Vec<Record>,
}

impl Durable {
    fn new(module: nudge_bytecode::Module, now: chrono::DateTime<chrono::Utc>) -> Durable {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = SledStore::open(dir.path(), Options::default()).expect("a new store");
        Durable {
            engine: Some(Engine::new(store, module.clone(), now)),
            dir,
            module,
            log: Vec::new(),
        }
    }

    fn engine(&mut self) -> &mut Engine<SledStore> {
        self.engine.as_mut().expect("the engine is open")
    }

    fn deploy(&mut self, module: nudge_bytecode::Module) {
        self.module = module.clone();
        self.engine().deploy(module);
    }

    /// Commits, closes and reopens the store, and starts an engine on it.
    fn reopen(&mut self) -> Result<(), String> {
        let Some(mut engine) = self.engine.take() else {
            return Ok(());
        };
        engine.commit().map_err(|e| e.to_string())?;
        self.log.append(&mut engine.log);
        let now = engine.now();
        drop(engine);
        let store =
            SledStore::open(self.dir.path(), Options::default()).map_err(|e| e.to_string())?;
        self.engine = Some(Engine::new(store, self.module.clone(), now));
        Ok(())
    }

    fn log(&mut self) -> &[Record] {
        if let Some(engine) = self.engine.as_mut() {
            self.log.append(&mut engine.log);
        }
        &self.log
    }
}

/// Runs a case on both engines: the log they agree on, or how they differ.
fn play(case: &Case) -> Result<Vec<Record>, Outcome> {
    let v1 = compile(&case.project).map_err(Outcome::Invalid)?;
    let v2 = match case.redeployed.as_deref().map(compile) {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => return Err(Outcome::Invalid(e)),
    };
    let Some(first) = case.steps.iter().find_map(|s| match s {
        Step::Track { at, .. } | Step::Identify { at, .. } => Some(time(at)),
        Step::Deploy { .. } => None,
    }) else {
        return Ok(Vec::new());
    };
    let schemas = v1.schemas.clone();
    let mut fast = Engine::new(MemoryStore::new(), v1.clone(), first);
    let mut durable = Durable::new(v1.clone(), first);
    let mut model = Reference::new(v1, first);
    let mut last = first;
    for (i, step) in case.steps.iter().enumerate() {
        // Every third step, the durable engine starts again on its store.
        if i % 3 == 2 {
            durable
                .reopen()
                .map_err(|e| Outcome::Differ(format!("reopening the durable store: {e}")))?;
        }
        let (f, m) = match step {
            Step::Deploy { at } => {
                let at = time(at);
                let (f, m) = (fast.advance_to(at), model.advance_to(at));
                let d = durable.engine().advance_to(at);
                if let Some(v2) = &v2 {
                    fast.deploy(v2.clone());
                    durable.deploy(v2.clone());
                    model.deploy(v2.clone());
                    // Journeys of workflows the new version dropped end.
                    if f.is_ok() && m.is_ok() && d.is_ok() {
                        for id in model.profile_ids() {
                            let ended = (
                                fast.end_removed(&id, at).map_err(|e| e.to_string()),
                                durable
                                    .engine()
                                    .end_removed(&id, at)
                                    .map_err(|e| e.to_string()),
                                model.end_removed(&id, at).map_err(|e| format!("{e:?}")),
                            );
                            match ended {
                                (Ok(a), Ok(b), Ok(c)) => {
                                    let c: Vec<String> = c;
                                    let a: Vec<String> = a.iter().map(|n| n.to_string()).collect();
                                    let b: Vec<String> = b.iter().map(|n| n.to_string()).collect();
                                    if a != c || b != c {
                                        return Err(Outcome::Differ(format!(
                                            "ending journeys of removed workflows of `{id}`: engine {a:?}, durable {b:?}, model {c:?}"
                                        )));
                                    }
                                }
                                (a, b, c) => {
                                    return Err(Outcome::Differ(format!(
                                        "ending journeys of removed workflows of `{id}`: engine {a:?}, durable {b:?}, model {c:?}"
                                    )))
                                }
                            }
                        }
                    }
                }
                if let Err(e) = d {
                    return Err(Outcome::Differ(format!("durable engine: {e}")));
                }
                (
                    f.map_err(|e| e.to_string()),
                    m.map_err(|e| format!("{e:?}")),
                )
            }
            Step::Track { .. } | Step::Identify { .. } => {
                let (input, _) = match parse_call(&step.line(), &schemas) {
                    Ok(ok) => ok,
                    Err(e) => return Err(Outcome::Invalid(format!("trace line refused: {e}"))),
                };
                match input {
                    Input::Track {
                        user_id,
                        event,
                        props,
                        at,
                        ..
                    } => {
                        last = at;
                        if let Err(e) = durable.engine().track(&user_id, &event, props.clone(), at)
                        {
                            return Err(Outcome::Differ(format!("durable engine: {e}")));
                        }
                        (
                            fast.track(&user_id, &event, props.clone(), at)
                                .map_err(|e| e.to_string()),
                            model
                                .track(&user_id, &event, props, at)
                                .map_err(|e| format!("{e:?}")),
                        )
                    }
                    Input::Identify {
                        user_id,
                        traits,
                        at,
                    } => {
                        let at = at.unwrap_or(last);
                        last = at;
                        if let Err(e) = durable.engine().identify(&user_id, traits.clone(), at) {
                            return Err(Outcome::Differ(format!("durable engine: {e}")));
                        }
                        (
                            fast.identify(&user_id, traits.clone(), at)
                                .map_err(|e| e.to_string()),
                            model
                                .identify(&user_id, traits, at)
                                .map_err(|e| format!("{e:?}")),
                        )
                    }
                }
            }
        };
        if f.is_err() || m.is_err() {
            return Err(Outcome::Differ(format!(
                "at {}: engine {f:?}, model {m:?}\n{}",
                step.line(),
                compare(&fast.log, &model.log).err().unwrap_or_default()
            )));
        }
    }
    let end = last + chrono::Duration::days(60);
    let (f, m) = (fast.advance_to(end), model.advance_to(end));
    if f.is_err() || m.is_err() {
        return Err(Outcome::Differ(format!(
            "running the timers: engine {f:?}, model {m:?}\n{}",
            compare(&fast.log, &model.log).err().unwrap_or_default()
        )));
    }
    compare(&fast.log, &model.log).map_err(Outcome::Differ)?;
    if let Err(e) = durable.engine().advance_to(end) {
        return Err(Outcome::Differ(format!("durable engine: {e}")));
    }
    if durable.log() != fast.log.as_slice() {
        let at = durable
            .log()
            .iter()
            .zip(&fast.log)
            .position(|(a, b)| a != b)
            .unwrap_or(fast.log.len().min(durable.log().len()));
        return Err(Outcome::Differ(format!(
            "the durable store's log differs from the in-memory store's at record {at}: {:?} / {:?}",
            durable.log().get(at),
            fast.log.get(at)
        )));
    }
    Ok(fast.log)
}

fn differs(list: &[u32]) -> bool {
    let case = Case::draw(&mut Choices::replay(list.to_vec()));
    matches!(run(&case), Outcome::Differ(_))
}

/// Cuts and lowers choices while the case still fails (for two minutes
/// at most).
fn shrink(mut list: Vec<u32>) -> Vec<u32> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut budget = 3000;
    let mut progress = true;
    while progress && budget > 0 && std::time::Instant::now() < deadline {
        progress = false;
        for size in [16, 8, 4, 2, 1] {
            let mut i = 0;
            while i + size <= list.len() && budget > 0 && std::time::Instant::now() < deadline {
                let mut candidate = list.clone();
                candidate.drain(i..i + size);
                budget -= 1;
                if differs(&candidate) {
                    list = candidate;
                    progress = true;
                } else {
                    i += 1;
                }
            }
        }
        for i in 0..list.len() {
            for lower in [0, list[i] / 2, list[i].saturating_sub(1)] {
                if lower >= list[i] || budget == 0 {
                    continue;
                }
                let mut candidate = list.clone();
                candidate[i] = lower;
                budget -= 1;
                if differs(&candidate) {
                    list = candidate;
                    progress = true;
                    break;
                }
            }
        }
    }
    list
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn the_engine_agrees_with_the_model() {
    let cases = env_number("NUDGE_DIFF_CASES", 2000);
    let seed = env_number("NUDGE_DIFF_SEED", 0);
    let mut records = 0usize;
    for n in seed..seed + cases {
        let mut choices = Choices::seeded(n);
        let case = Case::draw(&mut choices);
        match run(&case) {
            Outcome::Agree => records += 1,
            Outcome::Invalid(e) => {
                panic!(
                    "seed {n}: the generator made a project the checker refuses:\n{e}\n{}",
                    case.describe()
                );
            }
            Outcome::Differ(first) => {
                let small = shrink(choices.list.clone());
                let case = Case::draw(&mut Choices::replay(small.clone()));
                let why = match run(&case) {
                    Outcome::Differ(e) => e,
                    _ => first,
                };
                panic!(
                    "seed {n}: the engine and the model disagree (shrunk to {} choices: {small:?})\n{why}\n{}",
                    small.len(),
                    case.describe()
                );
            }
        }
    }
    println!("{records} cases agreed, seeds {seed}..{}", seed + cases);
    for (kind, n) in SEEN.lock().unwrap().iter() {
        println!("  {n:>8}  {kind}");
    }
}

/// The log both engines agree on for a hand-written case.
fn agreed(project: &str, redeployed: Option<&str>, steps: Vec<Step>) -> Vec<Record> {
    let case = Case {
        project: project.to_owned(),
        redeployed: redeployed.map(str::to_owned),
        steps,
    };
    match play(&case) {
        Ok(log) => log,
        Err(Outcome::Invalid(e)) => panic!("the case does not check:\n{e}"),
        Err(Outcome::Differ(e)) => panic!("{e}"),
        Err(Outcome::Agree) => unreachable!(),
    }
}

fn identify(at: &str, user: &str, traits: &str) -> Step {
    Step::Identify {
        at: at.to_owned(),
        user: user.to_owned(),
        traits: traits.to_owned(),
    }
}

fn track(at: &str, user: &str, event: &'static str) -> Step {
    Step::Track {
        at: at.to_owned(),
        user: user.to_owned(),
        event,
        props: if event == "a" || event == "b" {
            "{\"n\":1}".to_owned()
        } else {
            "{}".to_owned()
        },
    }
}

const QUIET_PAIR: &str = r#"
profile {
  email: email?
  timezone: timezone = "UTC"
}

event login {}

workflow five {
  on inactive for 5d
  audience profile.email != none
  send email { subject: "five", text: "come back" }
}

workflow seven {
  on inactive for 7d
  audience profile.email != none
  send email { subject: "seven", text: "come back" }
}
"#;

fn sends(log: &[Record]) -> Vec<(String, String)> {
    log.iter()
        .filter_map(|r| match r {
            Record::Sent { at, workflow, .. } => Some((at.to_rfc3339(), workflow.to_string())),
            _ => None,
        })
        .collect()
}

/// An identify before the first event used to give `five` a second entry
/// (and a second email) at the same instant, recorded after `seven`'s.
#[test]
fn one_inactive_entry_per_spell_after_an_identify() {
    let log = agreed(
        QUIET_PAIR,
        None,
        vec![
            identify(
                "2026-03-01T09:00:00Z",
                "u1",
                r#"{"email":"u1@example.com"}"#,
            ),
            Step::Track {
                at: "2026-03-01T10:00:00Z".into(),
                user: "u1".into(),
                event: "login",
                props: "{}".into(),
            },
        ],
    );
    assert_eq!(
        sends(&log),
        [
            ("2026-03-06T10:00:00+00:00".into(), "five".into()),
            ("2026-03-08T10:00:00+00:00".into(), "seven".into()),
        ]
    );
}

/// Windows that together cover the whole day leave no time to send: the
/// message is dropped with a reason (each engine once gave up differently).
#[test]
fn quiet_hours_that_cover_the_day_drop_the_message() {
    let project = format!(
        "{}\npolicy {{\n  quiet hours 09:30 to 09:00 local\n  quiet hours 09:00 to 08:00 local\n}}\n\nworkflow w {{\n  on a\n  send in_app \"hello\"\n}}\n",
        gen::SCHEMA
    );
    let log = agreed(
        &project,
        None,
        vec![track("2026-03-01T12:00:00Z", "u1", "a")],
    );
    assert!(
        log.iter()
            .any(|r| matches!(r, Record::Dropped { reason, .. } if reason == nudge_vm::NEVER_FREE)),
        "{log:?}"
    );
}

/// A journey of an older version sends under the policy of the current
/// one (as a held message is released under it).
#[test]
fn an_old_version_sends_under_the_current_policy() {
    let v1 = format!(
        "{}\nworkflow w {{\n  on a\n  wait 2h\n  send in_app \"hello\"\n}}\n",
        gen::SCHEMA
    );
    let v2 = format!("{v1}\npolicy {{\n  quiet hours 13:00 to 15:00 in \"UTC\"\n}}\n");
    let log = agreed(
        &v1,
        Some(&v2),
        vec![
            track("2026-03-01T12:00:00Z", "u1", "a"),
            Step::Deploy {
                at: "2026-03-01T12:30:00Z".into(),
            },
        ],
    );
    let deferred = log.iter().find_map(|r| match r {
        Record::Deferred { at, until, .. } => Some((at.to_rfc3339(), *until)),
        _ => None,
    });
    let (at, until) = deferred.unwrap_or_else(|| panic!("not deferred: {log:?}"));
    assert_eq!(at, "2026-03-01T14:00:00+00:00");
    assert!(until >= time("2026-03-01T15:00:00Z") && until < time("2026-03-01T15:15:00Z"));
}

/// A deploy that drops a workflow ends its running journeys (recorded as
/// `removed`, their parked messages dropped); the workflows it keeps run
/// on.
#[test]
fn a_deploy_that_drops_a_workflow_ends_its_journeys() {
    let kept = "workflow kept {\n  on a\n  wait 2d\n  send in_app \"still here\"\n}\n";
    let dropped = "workflow gone {\n  on a\n  wait 2d\n  send in_app \"never\"\n}\n";
    let v1 = format!("{}\n{kept}\n{dropped}", gen::SCHEMA);
    let v2 = format!("{}\n{kept}", gen::SCHEMA);
    let log = agreed(
        &v1,
        Some(&v2),
        vec![
            track("2026-03-01T12:00:00Z", "u1", "a"),
            track("2026-03-01T13:00:00Z", "u2", "a"),
            Step::Deploy {
                at: "2026-03-02T00:00:00Z".into(),
            },
        ],
    );
    let removed: Vec<(String, String)> = log
        .iter()
        .filter_map(|r| match r {
            Record::Exited {
                profile,
                workflow,
                reason: nudge_vm::ExitReason::Removed,
                ..
            } => Some((profile.to_string(), workflow.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(
        removed,
        [("u1".into(), "gone".into()), ("u2".into(), "gone".into())]
    );
    let sent: Vec<String> = log
        .iter()
        .filter_map(|r| match r {
            Record::Sent { workflow, .. } => Some(workflow.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(sent, ["kept", "kept"]);
}
