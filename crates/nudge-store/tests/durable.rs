//! The sled store against the in-memory one: the same trace gives the same
//! record log, also when the store is closed and reopened along the way;
//! and what the store refuses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use nudge_bytecode::Module;
use nudge_check::{check_project, TemplateLoader};
use nudge_store::{Options, SledStore};
use nudge_syntax::SourceFile;
use nudge_vm::{Engine, MemoryStore, Props, Record, Store, Value};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

struct ExamplesLoader;

impl TemplateLoader for ExamplesLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        let rel = path.strip_prefix("examples").unwrap_or(path);
        std::fs::read_to_string(examples_dir().join(rel))
    }
}

fn examples() -> Module {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".flow"))
        .collect();
    names.sort();
    let files: Vec<Arc<SourceFile>> = names
        .iter()
        .map(|n| {
            let text = std::fs::read_to_string(examples_dir().join(n)).unwrap();
            Arc::new(SourceFile::new(format!("examples/{n}"), text))
        })
        .collect();
    let checked = check_project(&files, &ExamplesLoader);
    let program = checked
        .program
        .unwrap_or_else(|| panic!("{}", nudge_syntax::render_plain(&checked.diagnostics, 80)));
    nudge_compile::compile(&program, "test").unwrap()
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// One input of the trace.
enum Call {
    Identify(String, Props),
    Track(String, &'static str, Props),
}

/// A deterministic trace over the examples: profiles, then carts, orders,
/// logins, setups and quiet spells over three weeks.
fn trace(profiles: u64, events: u64) -> Vec<(DateTime<Utc>, Call)> {
    let mut out = Vec::new();
    for p in 0..profiles {
        let id = format!("user-{p}");
        let mut traits = Props::new();
        traits.insert("email", Value::str(&format!("{id}@example.com")));
        traits.insert(
            "plan",
            Value::str(if p % 3 == 0 { "pro" } else { "starter" }),
        );
        traits.insert("created_at", Value::Time(t0()));
        if p % 4 == 0 {
            traits.insert("timezone", Value::str("Europe/Berlin"));
        }
        out.push((t0(), Call::Identify(id, traits)));
    }
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..events {
        let at = t0() + Duration::minutes((i * 21 * 24 * 60 / events) as i64);
        let id = format!("user-{}", next() % profiles);
        let call = match next() % 6 {
            0 => {
                let mut props = Props::new();
                props.insert("cart_total", Value::Float((next() % 90) as f64 + 5.0));
                props.insert("product_name", Value::str("Lamp"));
                props.insert("price", Value::Float(30.0));
                Call::Track(id, "checkout_abandoned", props)
            }
            1 => {
                let mut props = Props::new();
                props.insert("total", Value::Float(30.0));
                props.insert("order_id", Value::str(&format!("o{i}")));
                Call::Track(id, "order_completed", props)
            }
            2 => {
                let mut props = Props::new();
                props.insert("feature", Value::str("export"));
                props.insert("first_time", Value::Bool(next() % 2 == 0));
                Call::Track(id, "feature_used", props)
            }
            3 => Call::Track(id, "setup_completed", Props::new()),
            4 => {
                let mut props = Props::new();
                props.insert("plan_type", Value::str("starter"));
                props.insert("company_size", Value::Int((next() % 50) as i64));
                Call::Track(id, "account_created", props)
            }
            _ => Call::Track(id, "login", Props::new()),
        };
        out.push((at, call));
    }
    out
}

fn apply<S: Store>(engine: &mut Engine<S>, at: DateTime<Utc>, call: &Call) {
    match call {
        Call::Identify(id, traits) => engine.identify(id, traits.clone(), at).unwrap(),
        Call::Track(id, name, props) => engine.track(id, name, props.clone(), at).unwrap(),
    }
}

fn end() -> DateTime<Utc> {
    t0() + Duration::days(40)
}

#[test]
fn a_trace_on_sled_gives_the_memory_stores_log_across_reopens() {
    let module = examples();
    let calls = trace(60, 1500);

    let mut memory = Engine::new(MemoryStore::new(), module.clone(), t0());
    for (at, call) in &calls {
        apply(&mut memory, *at, call);
    }
    memory.advance_to(end()).unwrap();
    assert!(
        memory
            .log
            .iter()
            .filter(|r| matches!(r, Record::Sent { .. }))
            .count()
            > 50,
        "the trace sends messages"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut log: Vec<Record> = Vec::new();
    let mut engine = Engine::new(
        SledStore::open(dir.path(), Options::default()).unwrap(),
        module.clone(),
        t0(),
    );
    for (i, (at, call)) in calls.iter().enumerate() {
        apply(&mut engine, *at, call);
        if i % 250 == 249 {
            // Commit, close, reopen: the engine starts again on the store.
            engine.commit().unwrap();
            log.append(&mut engine.log);
            let now = engine.now();
            drop(engine);
            let store = SledStore::open(dir.path(), Options::default()).unwrap();
            engine = Engine::new(store, module.clone(), now);
        }
    }
    engine.advance_to(end()).unwrap();
    log.append(&mut engine.log);
    assert_eq!(log.len(), memory.log.len());
    for (i, (a, b)) in log.iter().zip(&memory.log).enumerate() {
        assert_eq!(a, b, "record {i} differs");
    }
}

#[test]
fn a_small_cache_gives_the_same_log() {
    let module = examples();
    let calls = trace(40, 600);
    let run = |options: Options| {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = Engine::new(
            SledStore::open(dir.path(), options).unwrap(),
            module.clone(),
            t0(),
        );
        for (at, call) in &calls {
            apply(&mut engine, *at, call);
        }
        engine.advance_to(end()).unwrap();
        engine.log
    };
    let roomy = run(Options::default());
    // A few hundred bytes: nearly every load reads sled.
    let tight = run(Options { cache_bytes: 600 });
    assert_eq!(roomy, tight);
}

#[test]
fn far_timers_wait_on_disk_not_in_memory() {
    let module = examples();
    let dir = tempfile::tempdir().unwrap();
    let mut engine = Engine::new(
        SledStore::open(dir.path(), Options::default()).unwrap(),
        module,
        t0(),
    );
    // Every profile gets its win-back check (`inactive for`) days away.
    for p in 0..20_000 {
        let at = t0() + Duration::seconds(p);
        engine
            .track(&format!("u{p}"), "login", Props::new(), at)
            .unwrap();
    }
    engine.commit().unwrap();
    let store = engine.store();
    assert!(store.pending_timers().unwrap() >= 20_000);
    assert!(
        store.timers_in_memory() <= 5_000,
        "{} timers in memory",
        store.timers_in_memory()
    );
}

#[test]
fn a_store_of_a_newer_format_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert("format", &99u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let err = SledStore::open(dir.path(), Options::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("newer nudge"), "{err}");
    assert!(err.contains("format 99"), "{err}");
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
}
