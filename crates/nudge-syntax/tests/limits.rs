//! Inputs built to exhaust the stack are refused with a diagnostic.

// Helpers fail the test that calls them, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use nudge_syntax::ast::{ExprKind, Item};
use nudge_syntax::{codes, parse, SourceFile};

fn parse_text(text: String) -> nudge_syntax::Parsed {
    parse(Arc::new(SourceFile::new("limits.flow", text)))
}

#[test]
fn a_very_long_chain_of_operators_is_refused() {
    // Left-associative and right-associative chains both nest one level
    // per operator.
    for op in [" or ", " ?? ", " and "] {
        let text = format!("segment s = {}\n", vec!["a"; 50_000].join(op));
        let parsed = parse_text(text);
        assert_eq!(
            parsed.diagnostics.len(),
            1,
            "{op}: {:?}",
            parsed.diagnostics
        );
        let d = &parsed.diagnostics[0];
        assert_eq!(d.code, codes::parse::TOO_DEEP);
        assert_eq!(d.message, "this expression is too long");
        let Some(Item::Segment(s)) = parsed.file.items.first() else {
            panic!("the segment is kept");
        };
        assert!(matches!(s.condition.kind, ExprKind::Error));
    }
}

#[test]
fn nested_groups_share_one_budget() {
    // 100 levels of brackets (under the nesting limit), each with 30
    // operators: the whole expression is over the limit.
    let level = vec!["a"; 30].join(" or ");
    let mut text = "x".to_owned();
    for _ in 0..100 {
        text = format!("({level} or {text})");
    }
    let parsed = parse_text(format!("segment s = {text}\n"));
    assert_eq!(parsed.diagnostics.len(), 1, "{:?}", parsed.diagnostics);
    assert_eq!(parsed.diagnostics[0].code, codes::parse::TOO_DEEP);
}

#[test]
fn long_real_conditions_are_fine() {
    let text = format!("segment s = {}\n", vec!["profile.a == 1"; 300].join(" or "));
    assert!(parse_text(text).is_ok());
}

#[test]
fn a_long_line_is_shown_around_the_label_not_whole() {
    // A generated file: one 300 KB line, with errors at its start and end,
    // after a short line that a label points at too.
    let long = vec!["profile.a == 1"; 20_000].join(" or ");
    let text = format!("workflow w {{ on x\nsegment s = {long} or %%% é\n");
    let parsed = parse_text(text);
    let out = nudge_syntax::render_plain(&parsed.diagnostics, 100);
    assert!(out.len() < 4_000, "{} bytes of output", out.len());
    // The label at the end of the long line is shown with what is just
    // before it, and its line and column are the real ones.
    assert!(out.contains("profile.a == 1 or %%% é"), "{out}");
    assert!(
        out.contains(&format!("limits.flow:2:{}", 12 + long.len() + 5)),
        "{out}"
    );
    assert!(out.contains("expected an expression"), "{out}");
    // The short line keeps its label in full.
    assert!(out.contains("1 │ workflow w { on x"), "{out}");
    assert!(out.contains("this `{` is never closed"), "{out}");
}

/// Runs `f` on its own thread and fails if it has not finished in five
/// seconds: a hang guard for inputs under 100 KB, whose work is linear
/// (milliseconds), not a measure of speed.
fn finishes<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap();
    rx.recv_timeout(std::time::Duration::from_secs(5))
        .unwrap_or_else(|_| panic!("{what} did not finish in 5 s"))
}

/// 50 000 nested brackets (100 KB) used to take seconds before the
/// `too_deep` error: the pre-scan counted the stack at every bracket.
#[test]
fn deep_nesting_is_refused_in_linear_time() {
    let text = format!(
        "segment s = {}x{}\n",
        "(".repeat(50_000),
        ")".repeat(50_000)
    );
    let parsed = finishes("the nesting scan", move || parse_text(text));
    assert_eq!(parsed.diagnostics.len(), 1);
    assert_eq!(
        parsed.diagnostics[0].code,
        nudge_syntax::codes::parse::TOO_DEEP
    );
}
