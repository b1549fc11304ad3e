//! The examples, compiled and run on the engine: what their `test` blocks
//! cannot say (the HTML rendered from template files, and
//! the store's quiet checks).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::{props, t};
use nudge_bytecode::{Channel, Module};
use nudge_check::{check_project, TemplateLoader};
use nudge_compile::compile;
use nudge_syntax::SourceFile;
use nudge_vm::{Engine, MemoryStore, ProfileState, Props, Record, Store, StoreError, Timer, Value};

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
    examples_edited(|_, text| text)
}

/// The examples compiled after `edit(file name, text)`.
fn examples_edited(edit: impl Fn(&str, String) -> String) -> Module {
    examples_with(edit, &ExamplesLoader)
}

/// The examples compiled after `edit(file name, text)`, their template
/// files read by `loader`.
fn examples_with(edit: impl Fn(&str, String) -> String, loader: &dyn TemplateLoader) -> Module {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".flow"))
        .collect();
    names.sort();
    let sources: Vec<Arc<SourceFile>> = names
        .into_iter()
        .map(|n| {
            let text = edit(
                &n,
                std::fs::read_to_string(examples_dir().join(&n)).unwrap(),
            );
            Arc::new(SourceFile::new(format!("examples/{n}"), text))
        })
        .collect();
    let checked = check_project(&sources, loader);
    let program = checked
        .program
        .unwrap_or_else(|| panic!("examples check clean: {:#?}", checked.diagnostics));
    compile(&program, "test").unwrap()
}

fn customer(e: &mut Engine<MemoryStore>, id: &str, extra: &[(&str, Value)], now: DateTime<Utc>) {
    let mut traits = props(&[
        ("email", Value::str(&format!("{id}@example.com"))),
        ("plan", Value::str("pro")),
        ("created_at", Value::Time(t("2026-01-01T00:00:00Z"))),
    ]);
    traits.extend(props(extra));
    e.identify(id, traits, now).unwrap();
}

/// Runs four days past `t0`: long enough for every step of the scenario,
/// short of the `inactive for 5d` workflows, which would otherwise greet
/// every quiet test profile (a test that runs "until no timer is left"
/// always reaches them).
fn run_days(e: &mut Engine<MemoryStore>, t0: DateTime<Utc>) {
    e.advance_to(t0 + Duration::days(4)).unwrap();
}

/// (offset from t0, channel, template) of messages to `who`.
fn messages(
    e: &Engine<MemoryStore>,
    who: &str,
    t0: DateTime<Utc>,
) -> Vec<(Duration, Channel, Option<String>)> {
    e.sent()
        .filter(|(_, p, _)| *p == who)
        .map(|(at, _, m)| {
            (
                *at - t0,
                m.channel,
                m.template.as_deref().map(str::to_owned),
            )
        })
        .collect()
}

fn cart(name: &str, total: f64) -> Props {
    props(&[
        ("product_name", Value::str(name)),
        ("price", Value::Float(total)),
        ("cart_total", Value::Float(total)),
    ])
}

// Kept: the whole HTML rendered from the template file (the times, subject and push body are in
// the test blocks of examples/abandoned_checkout.flow).
#[test]
fn a_shopper_who_does_not_buy_hears_by_email_then_push() {
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = Engine::new(MemoryStore::new(), examples(), t0);
    customer(
        &mut e,
        "u2",
        &[
            ("push_token", Value::str("tok")),
            ("plan", Value::str("starter")),
        ],
        t0,
    );
    e.track("u2", "checkout_abandoned", cart("Lamp", 40.0), t0)
        .unwrap();
    run_days(&mut e, t0);
    assert_eq!(
        messages(&e, "u2", t0),
        vec![
            (
                Duration::hours(1),
                Channel::Email,
                Some("cart_reminder".into())
            ),
            (Duration::hours(25), Channel::Push, None),
        ]
    );
    let push = e
        .sent()
        .find(|(_, _, m)| m.channel == Channel::Push)
        .unwrap()
        .2;
    assert_eq!(push.fields["body"], "Lamp is waiting");
    let email = e.sent().next().unwrap().2;
    assert_eq!(email.fields["subject"], "You left Lamp in your cart");
    assert_eq!(
        email.fields["html"].trim(),
        "<p>You left <strong>Lamp</strong> in your cart.</p>\n<p>Your cart total is 40.0.</p>"
    );
}

// Kept: HTML escaping in a template file, which a run case cannot name.
#[test]
fn html_template_files_escape_what_they_interpolate() {
    let t0 = t("2026-03-01T10:00:00Z");
    let mut e = Engine::new(MemoryStore::new(), examples(), t0);
    customer(&mut e, "u4", &[], t0);
    e.track("u4", "checkout_abandoned", cart("<script>", 40.0), t0)
        .unwrap();
    run_days(&mut e, t0);
    let email = e.sent().next().unwrap().2;
    assert!(
        email.fields["html"].contains("<strong>&lt;script&gt;</strong>"),
        "{}",
        email.fields["html"]
    );
    // Plain-text fields are not HTML.
    assert_eq!(email.fields["subject"], "You left <script> in your cart");
}

/// The memory store without its dense quiet-check state: every due quiet
/// check reads the profile record, as a store that keeps nothing apart
/// does.
struct RecordOnly(MemoryStore);

impl Store for RecordOnly {
    fn load(&mut self, id: &str) -> Result<Option<ProfileState>, StoreError> {
        self.0.load(id)
    }
    fn save(&mut self, state: ProfileState) {
        self.0.save(state)
    }
    fn peek(&self, id: &str) -> Result<Option<ProfileState>, StoreError> {
        self.0.peek(id)
    }
    fn schedule(&mut self, at: DateTime<Utc>, timer: Timer) {
        self.0.schedule(at, timer)
    }
    fn next_timer(&self) -> Option<DateTime<Utc>> {
        self.0.next_timer()
    }
    fn pop_due(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<Option<(DateTime<Utc>, Timer)>, StoreError> {
        self.0.pop_due(now)
    }
    fn put_module(&mut self, hash: u64, module: Arc<Module>) {
        self.0.put_module(hash, module)
    }
    fn module(&self, hash: u64) -> Option<Arc<Module>> {
        self.0.module(hash)
    }
    fn module_hashes(&self) -> Vec<u64> {
        self.0.module_hashes()
    }
}

/// Replays a generated trace (quiet spells, logins, carts, orders) on
/// `engine`, deploying `next` halfway through, and returns the log.
fn replay_trace<S: Store>(mut engine: Engine<S>, next: Module) -> Vec<Record> {
    let t0 = t("2026-03-01T00:00:00Z");
    let profiles = 300u64;
    for p in 0..profiles {
        let id = format!("user-{p}");
        let mut traits = props(&[
            ("email", Value::str(&format!("{id}@example.com"))),
            (
                "plan",
                Value::str(if p % 3 == 0 { "pro" } else { "starter" }),
            ),
            ("created_at", Value::Time(t0)),
        ]);
        if p % 5 == 0 {
            traits.insert("timezone", Value::str("Europe/Berlin"));
        }
        engine.identify(&id, traits, t0).unwrap();
    }
    let kinds = [
        "login",
        "checkout_abandoned",
        "feature_used",
        "order_completed",
        "setup_completed",
    ];
    let events = 6000u64;
    let mut next = Some(next);
    for i in 0..events {
        // Profiles from 200 on are active on days 18 and 19 only, just
        // before the new version: one quiet check finds them quiet while
        // the other, armed before the last activity, still has to find
        // them active, and their next event never comes.
        let at = t0 + Duration::minutes((i * 60 * 24 * 40 / events) as i64);
        let day = (at - t0).num_days();
        let mut p = (i * 7919 + (i / 500) * 31) % profiles;
        if p >= 200 && day != 18 && day != 19 {
            p %= 200;
        }
        let kind = kinds[(i % kinds.len() as u64) as usize];
        let props = match kind {
            "checkout_abandoned" => props(&[
                ("product_name", Value::str("Lamp")),
                ("price", Value::Float(40.0)),
                ("cart_total", Value::Float((i % 100) as f64)),
            ]),
            "feature_used" => props(&[
                ("feature", Value::str("reports")),
                ("first_time", Value::Bool(i % 7 == 0)),
            ]),
            "order_completed" => {
                props(&[("order_id", Value::str("o")), ("total", Value::Float(40.0))])
            }
            _ => Props::new(),
        };
        engine.track(&format!("user-{p}"), kind, props, at).unwrap();
        if i == events / 2 {
            if let Some(m) = next.take() {
                engine.deploy(m);
            }
        }
    }
    while engine.fire_next().unwrap().is_some() {}
    std::mem::take(&mut engine.log)
}

// Kept: compares two stores' logs record by record, which `expect` cannot do.
#[test]
fn quiet_checks_from_the_dense_state_match_checks_that_read_the_record() {
    // Redeploying the same module keeps the fast path; a version whose
    // quiet workflows have other names turns it off for the rest of the run.
    let same = || (examples(), examples());
    let changed = || {
        let edited = examples_edited(|name, text| {
            if name == "win_back.flow" {
                // The second quiet workflow under a new name: profiles keep
                // checks of the old name that no version has any more.
                text.replace("workflow stalled_help {", "workflow stalled_help_2 {")
                    .replace("audience in stalled and", "audience")
            } else {
                text
            }
        });
        (examples(), edited)
    };
    for (label, modules) in [
        ("same", same as fn() -> (Module, Module)),
        ("changed", changed),
    ] {
        let (first, next) = modules();
        let t0 = t("2026-03-01T00:00:00Z");
        let fast = replay_trace(
            Engine::new(MemoryStore::new(), first.clone(), t0),
            next.clone(),
        );
        let plain = replay_trace(Engine::new(RecordOnly(MemoryStore::new()), first, t0), next);
        let quiet_entries = fast
            .iter()
            .filter(|r| matches!(r, Record::Entered { workflow, .. } if &**workflow == "win_back"))
            .count();
        assert!(
            quiet_entries > 10,
            "{label}: too few quiet spells to compare: {quiet_entries}"
        );
        assert_eq!(fast.len(), plain.len(), "{label}");
        for (i, (a, b)) in fast.iter().zip(&plain).enumerate() {
            assert_eq!(a, b, "{label}: record {i} differs");
        }
    }
}

/// The cart reminder's HTML file replaced by one that shows what a
/// template file can read.
struct ProbeLoader;

const PROBE: &str = "id={{ profile.id }} first={{ profile.first_name }} \
or={{ profile.first_name or \"there\" }} \
zone={{ profile.timezone }} plan={{ profile.plan }} \
product={{ event.product_name }} total={{ event.cart_total }} \
profile=[{% for k in profile %}{{ k }} {% endfor %}] \
event=[{% for k, v in event|items %}{{ k }}:{{ v }} {% endfor %}] \
set={{ profile.email }} <{{ event.product_name|upper }}>";

impl TemplateLoader for ProbeLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        if path.ends_with("cart_reminder.html") {
            return Ok(PROBE.to_owned());
        }
        ExamplesLoader.load(path)
    }
}

// Kept: a probe template file, which a run case cannot name.
#[test]
fn template_files_read_the_profile_and_the_trigger_event() {
    let module = examples_with(|_, text| text, &ProbeLoader);
    let now = t("2026-03-01T10:00:00Z");
    let mut e = Engine::new(MemoryStore::new(), module, now);
    customer(&mut e, "u1", &[], now);
    e.track(
        "u1",
        "checkout_abandoned",
        props(&[
            ("product_name", Value::str("<Lamp>")),
            ("price", Value::Float(40.0)),
            ("cart_total", Value::Float(30.5)),
        ]),
        now,
    )
    .unwrap();
    e.advance_to(now + Duration::hours(2)).unwrap();
    let html: Vec<&str> = e
        .sent()
        .filter_map(|(_, _, m)| m.fields.get("html").map(String::as_str))
        .collect();
    assert_eq!(
        html,
        vec![
            "id=u1 first= or=there zone=UTC plan=pro product=&lt;Lamp&gt; total=30.5 \
             profile=[created_at email first_name id phone plan push_token timezone ] \
             event=[cart_total:30.5 price:40.0 product_name:&lt;Lamp&gt; ] \
             set=u1@example.com <&lt;LAMP&gt;>"
        ]
    );
}
