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
//! `NUDGE_DIFF_CASES` sets the number of cases (default 300);
//! `NUDGE_DIFF_SEED` the first seed (default 0).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod gen;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use gen::{Choices, Step};
use nudge_bytecode::Module;
use nudge_reference::Reference;
use nudge_syntax::{Severity, SourceFile};
use nudge_vm::ingest::{parse_call, Input};
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
    nudge_bytecode::compile(&program, "test").map_err(|e| e.to_string())
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
            Record::Exited { reason, .. } => format!("exited {reason:?}"),
            Record::Completed { .. } => "completed".to_owned(),
        };
        *seen.entry(kind).or_default() += 1;
    }
}

fn run(case: &Case) -> Outcome {
    let v1 = match compile(&case.project) {
        Ok(m) => m,
        Err(e) => return Outcome::Invalid(e),
    };
    let v2 = match case.redeployed.as_deref().map(compile) {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => return Outcome::Invalid(e),
    };
    let Some(first) = case.steps.iter().find_map(|s| match s {
        Step::Track { at, .. } | Step::Identify { at, .. } => Some(time(at)),
        Step::Deploy { .. } => None,
    }) else {
        return Outcome::Agree;
    };
    let schemas = v1.schemas.clone();
    let mut fast = Engine::new(MemoryStore::new(), v1.clone(), first);
    let mut model = Reference::new(v1, first);
    let mut last = first;
    for step in &case.steps {
        let (f, m) = match step {
            Step::Deploy { at } => {
                let at = time(at);
                let (f, m) = (fast.advance_to(at), model.advance_to(at));
                if let Some(v2) = &v2 {
                    fast.deploy(v2.clone());
                    model.deploy(v2.clone());
                }
                (
                    f.map_err(|e| e.to_string()),
                    m.map_err(|e| format!("{e:?}")),
                )
            }
            Step::Track { .. } | Step::Identify { .. } => {
                let (input, _) = match parse_call(&step.line(), &schemas) {
                    Ok(ok) => ok,
                    Err(e) => return Outcome::Invalid(format!("trace line refused: {e}")),
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
            return Outcome::Differ(format!(
                "at {}: engine {f:?}, model {m:?}\n{}",
                step.line(),
                compare(&fast.log, &model.log).err().unwrap_or_default()
            ));
        }
    }
    let end = last + chrono::Duration::days(60);
    let (f, m) = (fast.advance_to(end), model.advance_to(end));
    if f.is_err() || m.is_err() {
        return Outcome::Differ(format!(
            "running the timers: engine {f:?}, model {m:?}\n{}",
            compare(&fast.log, &model.log).err().unwrap_or_default()
        ));
    }
    match compare(&fast.log, &model.log) {
        Ok(()) => {
            tally(&fast.log);
            Outcome::Agree
        }
        Err(e) => Outcome::Differ(e),
    }
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
    let cases = env_number("NUDGE_DIFF_CASES", 300);
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
