//! What the store's tests share: the examples compiled, and a
//! deterministic trace over them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use nudge_bytecode::Module;
use nudge_check::{check_project, TemplateLoader};
use nudge_syntax::SourceFile;
use nudge_vm::{Engine, Props, Store, Value};

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

pub fn examples() -> Module {
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

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// One input of the trace.
pub enum Call {
    Identify(String, Props),
    Track(String, &'static str, Props),
}

/// A deterministic trace over the examples: profiles, then carts, orders,
/// logins, setups and quiet spells over three weeks.
pub fn trace(profiles: u64, events: u64) -> Vec<(DateTime<Utc>, Call)> {
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
        let mut call = match next() % 6 {
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
        // Which input it is, kept in the history (an undeclared property).
        if let Call::Track(_, _, props) = &mut call {
            props.insert("step", Value::Int((profiles + i) as i64));
        }
        out.push((at, call));
    }
    out
}

pub fn apply<S: Store>(engine: &mut Engine<S>, at: DateTime<Utc>, call: &Call) {
    match call {
        Call::Identify(id, traits) => engine.identify(id, traits.clone(), at).unwrap(),
        Call::Track(id, name, props) => engine.track(id, name, props.clone(), at).unwrap(),
    }
}

pub fn end() -> DateTime<Utc> {
    t0() + Duration::days(40)
}
