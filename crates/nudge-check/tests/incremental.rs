//! The incremental check ([`nudge_check::CheckCache`]) against the full
//! check on the same texts: random edit sequences over a project whose
//! files name each other's declarations in every way the checker resolves
//! names (segments in segments and audiences, templates in sends and
//! expectations, workflows, splits and goals in tests), with errors, cycles,
//! duplicates and template files; and which files an edit re-checks.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nudge_check::{check_parsed, CheckCache, TemplateLoader};
use nudge_syntax::{Parsed, SourceFile};

/// Template files in memory, changed by the test between checks.
#[derive(Default)]
struct Memory(RefCell<HashMap<PathBuf, String>>);

impl TemplateLoader for Memory {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        self.0
            .borrow()
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
}

const NAMES: [&str; 5] = [
    "a_schema.flow",
    "b_segments.flow",
    "c_templates.flow",
    "d_flows.flow",
    "e_tests.flow",
];

/// Versions of each file.
const VERSIONS: [&[&str]; 5] = [
    &[
        "enum Plan { free, pro }\nprofile {\n  email: email?\n  phone: phone?\n  plan: Plan = free\n}\nevent signed_up { source: string }\nevent bought { total: float }\n",
        "enum Plan { free, pro, team }\nprofile {\n  email: email?\n  phone: phone?\n  plan: Plan = free\n}\nevent signed_up { source: string }\nevent bought { total: float }\n",
        "enum Plan { free, pro }\nprofile {\n  email: email?\n  plan: Plan = free\n}\nevent signed_up { source: string }\n",
    ],
    &[
        "segment paid = profile.plan == pro\nsegment reachable = in paid and profile.email != none\n",
        "segment paid = profile.plan == gold\nsegment reachable = profile.email != none\n",
        "segment paid = in reachable\nsegment reachable = in paid\n",
        "segment reachable = profile.email != none\n",
        "segment paid = profile.plan == pro\nsegment reachable = in paid and profile.email != none\nsegment texting = profile.phone != none\n",
        "segment reachable = in paid and profile.email != none\nsegment paid = profile.plan == pro\nsegment paid = profile.plan == free\n",
        "segment paid = profile.plan == pro\nsegment reachable = in paid\n",
        "",
    ],
    &[
        "template hello: email for signed_up { subject: \"Hi\", text: \"From {event.source}\" }\ntemplate nudge: email { subject: \"Still there?\", text: \"x\" }\n",
        "template hello: push { title: \"Hi\", body: \"x\" }\ntemplate nudge: email { subject: \"Still there?\", text: \"x\" }\n",
        "template hello: email { subject: \"Hi {profile.email}\", text: \"x\" }\ntemplate nudge: email { subject: \"Still there?\", text: \"x\" }\n",
        "template hello: email { subject: \"Hi\", text: \"x\", html: file(\"t/hello.html\") }\ntemplate nudge: email { subject: \"Still there?\", text: \"x\" }\n",
        "template hello: email { subject: \"Hi\", text: \"x\", html: file(\"t/missing.html\") }\n",
        "segment paid = profile.plan == free\ntemplate nudge: email { subject: \"Still there?\", text: \"x\" }\n",
        "workflow welcome {\n  on bought\n  exit\n}\n",
        "segment vip = in reachable and profile.phone != none\ntemplate hello: email for signed_up { subject: \"Hi\", text: \"From {event.source}\" }\ntemplate nudge: email { subject: \"Still there?\", text: \"x\" }\n",
        "",
    ],
    &[
        "workflow welcome {\n  on signed_up\n  audience in reachable\n  exit on bought\n  goal converted = bought within 7d\n  split offer {\n    holdout 20%: exit\n    discount 80%: send email hello\n  }\n}\n",
        "workflow welcome {\n  on signed_up\n  audience profile.email != none and in paid\n  send email nudge\n}\n",
        "workflow welcome {\n  on signed_up\n  audience in reachable\n  goal bought_soon = bought within 1d\n  split offer {\n    a 50%: send email hello\n    b 50%: send email nudge\n  }\n}\n",
        "workflow welcome {\n  on signed_up\n  audience in reachable\n  wait soon\n  send email hello\n}\n",
        "workflow welcome2 {\n  on signed_up\n  audience in texting and profile.email != none\n  send email hello\n}\n",
        "workflow welcome {\n  on signed_up\n  audience in vip\n  send email hello\n  send sms \"Hi\"\n}\n",
        "workflow welcome {\n  on signed_up\n  audience in reachable\n  send email hello\n}\nworkflow later {\n  on bought\n  audience in paid and profile.email != none\n  wait 1d\n  send email nudge\n}\n",
    ],
    &[
        "test \"welcome\" {\n  given profile \"u1\" { email: \"u1@example.com\", plan: pro }\n  given \"u1\" in arm discount of split offer\n  at 2026-03-02T10:00:00Z \"u1\" does signed_up { source: \"ad\" }\n  expect email hello to \"u1\"\n  expect \"u1\" entered welcome\n  expect \"u1\" reached goal converted\n}\n",
        "test \"welcome\" {\n  given profile \"u1\" { email: \"u1@example.com\" }\n  at 2026-03-02T10:00:00Z \"u1\" does signed_up { source: \"ad\" }\n  expect email nudge to \"u1\"\n}\n",
        "test \"arms\" {\n  given profile \"u1\" { email: \"u1@example.com\" }\n  given \"u1\" in arm b of split offer\n  at 2026-03-02T10:00:00Z \"u1\" does signed_up { source: \"ad\" }\n  expect \"u1\" took arm b of split welcome.offer\n  expect \"u1\" reached goal bought_soon\n}\n",
        "",
    ],
];

const HTML: [&str; 3] = [
    "<p>Hi {{ profile.email }}</p>\n",
    "<p>Hi {{ profile.emial }}</p>\n",
    "<p>Hi {% if %}</p>\n",
];

fn next(state: &mut u64) -> u64 {
    // splitmix64
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One random edit: a whole version swapped in, a character removed or
/// added, or the template file changed.
fn edit(texts: &mut [String], loader: &Memory, state: &mut u64) {
    if next(state) % 8 == 0 {
        let html = HTML[(next(state) as usize) % HTML.len()];
        loader
            .0
            .borrow_mut()
            .insert(PathBuf::from("t/hello.html"), html.to_owned());
        return;
    }
    let file = (next(state) as usize) % texts.len();
    let text = &mut texts[file];
    match next(state) % 5 {
        0..=2 => {
            let versions = VERSIONS[file];
            *text = versions[(next(state) as usize) % versions.len()].to_owned();
        }
        3 if !text.is_empty() => {
            let mut at = (next(state) as usize) % text.len();
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.remove(at);
        }
        _ => {
            let mut at = (next(state) as usize) % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let c = b"{}\"x.:= \nap"[(next(state) % 11) as usize] as char;
            text.insert(at, c);
        }
    }
}

/// The parses of `texts`: the ones in `kept` where the text is the same
/// (as an editor's server keeps them), new ones for the rest.
fn parses(texts: &[String], kept: &mut Vec<Arc<Parsed>>) -> Vec<Arc<Parsed>> {
    let fresh: Vec<Arc<Parsed>> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| match kept.get(i) {
            Some(p) if p.source.text() == text => p.clone(),
            _ => Arc::new(nudge_syntax::parse(Arc::new(SourceFile::new(
                NAMES[i],
                text.clone(),
            )))),
        })
        .collect();
    *kept = fresh.clone();
    fresh
}

#[test]
fn the_incremental_check_equals_the_full_check_after_every_edit() {
    let (mut steps, mut incremental_steps, mut partial) = (0, 0, 0);
    for seed in 0..400u64 {
        let mut state = seed;
        let loader = Memory::default();
        loader
            .0
            .borrow_mut()
            .insert(PathBuf::from("t/hello.html"), HTML[0].to_owned());
        // Half the runs start from the first versions, half from random ones.
        let mut texts: Vec<String> = VERSIONS
            .iter()
            .map(|v| {
                let pick = if seed % 2 == 0 {
                    0
                } else {
                    next(&mut state) as usize % v.len()
                };
                v[pick].to_owned()
            })
            .collect();
        let mut kept = Vec::new();
        let mut cache = CheckCache::default();
        for step in 0..16 {
            if step > 0 {
                edit(&mut texts, &loader, &mut state);
            }
            let parsed = parses(&texts, &mut kept);
            let got = cache.check(&parsed, &loader);
            let refs: Vec<&Parsed> = parsed.iter().map(|p| &**p).collect();
            let want = check_parsed(&refs, &loader);
            assert_eq!(
                format!("{:#?}", got.diagnostics),
                format!("{:#?}", want.diagnostics),
                "seed {seed}, step {step}: diagnostics differ for {texts:#?}"
            );
            assert_eq!(
                format!("{:#?}", got.references),
                format!("{:#?}", want.references),
                "seed {seed}, step {step}: references differ for {texts:#?}"
            );
            steps += 1;
            if !got.full {
                incremental_steps += 1;
                if got.rechecked.len() < texts.len() {
                    partial += 1;
                }
            }
        }
    }
    println!(
        "{steps} checks compared; {incremental_steps} incremental, {partial} of them re-checking some files only"
    );
    // The comparison means something only if most checks are incremental.
    assert!(
        incremental_steps * 2 > steps,
        "{incremental_steps} of {steps}"
    );
    assert!(partial * 3 > steps, "{partial} of {steps}");
}

/// A project of independent modules, each with a segment, a template, a
/// workflow and a test, sharing one schema.
fn modules(n: usize) -> Vec<String> {
    let mut files = vec![VERSIONS[0][0].to_owned()];
    for i in 0..n {
        files.push(format!(
            "segment paid_{i} = profile.plan == pro\n\
             template hello_{i}: email for signed_up {{ subject: \"Hi\", text: \"From {{event.source}}\" }}\n\
             workflow welcome_{i} {{\n  on signed_up\n  audience in paid_{i} and profile.email != none\n  exit on bought\n  wait 1d\n  send email hello_{i}\n}}\n\
             test \"welcome {i}\" {{\n  given profile \"u1\" {{ email: \"u1@example.com\", plan: pro }}\n  at 2026-03-02T10:00:00Z \"u1\" does signed_up {{ source: \"ad\" }}\n  expect \"u1\" entered welcome_{i}\n}}\n"
        ));
    }
    files
}

fn module_parses(texts: &[String], kept: &mut Vec<Arc<Parsed>>) -> Vec<Arc<Parsed>> {
    let fresh: Vec<Arc<Parsed>> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| match kept.get(i) {
            Some(p) if p.source.text() == text => p.clone(),
            _ => Arc::new(nudge_syntax::parse(Arc::new(SourceFile::new(
                format!("m{i:03}.flow"),
                text.clone(),
            )))),
        })
        .collect();
    *kept = fresh.clone();
    fresh
}

#[test]
fn an_edit_rechecks_the_file_it_changed_and_what_depends_on_it() {
    let loader = Memory::default();
    let mut texts = modules(20);
    let mut kept = Vec::new();
    let mut cache = CheckCache::default();
    let first = cache.check(&module_parses(&texts, &mut kept), &loader);
    assert!(first.full);
    assert!(first.diagnostics.is_empty(), "{:#?}", first.diagnostics);

    // A workflow's body: that file only.
    texts[5] = texts[5].replace("wait 1d", "wait 2d");
    let got = cache.check(&module_parses(&texts, &mut kept), &loader);
    assert!(!got.full);
    assert_eq!(got.rechecked, vec![5]);

    // An error in it, and the fix: that file only, and the error found.
    texts[5] = texts[5].replace("send email hello_4", "send email helo_4");
    let got = cache.check(&module_parses(&texts, &mut kept), &loader);
    assert_eq!(got.rechecked, vec![5]);
    assert_eq!(got.diagnostics.len(), 1, "{:#?}", got.diagnostics);
    texts[5] = texts[5].replace("helo_4", "hello_4");
    let got = cache.check(&module_parses(&texts, &mut kept), &loader);
    assert_eq!(got.rechecked, vec![5]);
    assert!(got.diagnostics.is_empty());

    // A segment another file uses: both files.
    texts[9] = texts[9].replace("audience in paid_8", "audience in paid_8 and in paid_3");
    cache.check(&module_parses(&texts, &mut kept), &loader);
    texts[4] = texts[4].replace(
        "segment paid_3 = profile.plan == pro",
        "segment paid_3 = profile.plan == pro and profile.phone != none",
    );
    let got = cache.check(&module_parses(&texts, &mut kept), &loader);
    assert_eq!(got.rechecked, vec![4, 9]);

    // A segment named by a segment another file's workflow uses: the
    // three files, and the error it makes there found.
    texts[1].push_str("segment mailable = profile.plan == pro and profile.email != none\n");
    texts[2].push_str("segment vip_1 = in mailable and profile.phone != none\n");
    texts[3] = texts[3].replace(
        "audience in paid_2 and profile.email != none",
        "audience in paid_2 and in vip_1",
    );
    let got = cache.check(&module_parses(&texts, &mut kept), &loader);
    assert!(got.diagnostics.is_empty(), "{:#?}", got.diagnostics);
    texts[1] = texts[1].replace(
        "mailable = profile.plan == pro and profile.email != none",
        "mailable = profile.plan == pro",
    );
    let got = cache.check(&module_parses(&texts, &mut kept), &loader);
    assert_eq!(got.rechecked, vec![1, 2, 3]);
    assert_eq!(got.diagnostics.len(), 1, "{:#?}", got.diagnostics);
    assert_eq!(
        got.diagnostics[0].code,
        "nudge::check::address_not_narrowed"
    );

    // The schema: everything.
    texts[0] = VERSIONS[0][1].to_owned();
    let got = cache.check(&module_parses(&texts, &mut kept), &loader);
    assert!(got.full);
    assert_eq!(got.rechecked.len(), texts.len());
}
