//! `nudge check` and `nudge fmt` on mutated corpus files: no panic and no
//! hang; when the text parses, its formatting parses to the same tree,
//! keeps every comment, is a fixed point, and checks with the same
//! diagnostic codes.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use nudge_check::{check_project, FsLoader};
use nudge_fuzz::{cases, corpus, hang_limit, mutate, mutate_layout, regressions, within, Rng};
use nudge_syntax::{comment_texts, format_file, same_tree};
use nudge_syntax::{parse, SourceFile};

/// The diagnostic codes `nudge check` gives `text`, sorted.
fn codes(text: &str) -> Vec<&'static str> {
    let source = Arc::new(SourceFile::new("fuzz.flow", text));
    let mut codes: Vec<&'static str> = check_project(&[source], &FsLoader)
        .diagnostics
        .iter()
        .map(|d| d.code)
        .collect();
    codes.sort_unstable();
    codes
}

/// One case: whether it parsed (and was formatted), or what is wrong.
fn case(text: String) -> Result<bool, String> {
    let before = codes(&text);
    let parsed = parse(Arc::new(SourceFile::new("fuzz.flow", text.as_str())));
    if !parsed.is_ok() {
        return Ok(false);
    }
    let formatted = format_file(&parsed);
    let after = parse(Arc::new(SourceFile::new("fuzz.flow", formatted.as_str())));
    if !after.is_ok() {
        return Err(format!("the formatted text does not parse:\n{formatted}"));
    }
    if !same_tree(&parsed.file, &after.file) {
        return Err(format!("formatting changed the tree:\n{formatted}"));
    }
    if comment_texts(&parsed) != comment_texts(&after) {
        return Err(format!("formatting changed the comments:\n{formatted}"));
    }
    let again = format_file(&after);
    if again != formatted {
        return Err(format!(
            "formatting is not a fixed point:\n{formatted}\n--- then ---\n{again}"
        ));
    }
    let after_codes = codes(&formatted);
    if after_codes != before {
        return Err(format!(
            "the formatted text checks with other codes: {before:?} then {after_codes:?}\n{formatted}"
        ));
    }
    Ok(true)
}

fn run(what: &str, text: String) -> bool {
    let shown = text.clone();
    match within(hang_limit(), what, move || case(text)) {
        Ok(formatted) => formatted,
        Err(why) => panic!("{what}: {why}\n--- input ---\n{shown:?}"),
    }
}

#[test]
fn check_and_fmt_hold_on_mutated_corpus_files() {
    for (path, bytes) in regressions("check_fmt") {
        run(
            &path.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        );
    }
    let corpus = corpus();
    assert!(corpus.len() > 100, "only {} corpus files", corpus.len());
    let (n, seed) = cases(300);
    let mut formatted = 0;
    for s in seed..seed + n {
        let mut rng = Rng::new(s);
        let base = &corpus[rng.below(corpus.len())];
        let text = if rng.below(3) == 0 {
            mutate_layout(&mut rng, base)
        } else {
            mutate(&mut rng, base)
        };
        formatted += usize::from(run(&format!("seed {s}"), text));
    }
    println!(
        "{n} mutated files checked, {formatted} of them parsed and formatted (seeds {seed}..{})",
        seed + n
    );
}
