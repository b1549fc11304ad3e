//! The canonical style, rule by rule (docs/cli.md, "The canonical style"):
//! each test formats a messy input and compares with the exact output, then
//! checks that the output is a fixed point.

// The helper fails the test that calls it, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use nudge_syntax::format_source;
use nudge_syntax::{render_plain, SourceFile};

fn fmt(text: &str) -> String {
    let out = match format_source(Arc::new(SourceFile::new("style.flow", text))) {
        Ok(s) => s,
        Err(d) => panic!("{}", render_plain(&d, 80)),
    };
    let again = format_source(Arc::new(SourceFile::new("style.flow", out.as_str()))).unwrap();
    assert_eq!(out, again, "not a fixed point");
    out
}

#[test]
fn one_blank_line_between_declarations_and_kept_blank_lines_inside() {
    let src = "event a {}\n\n\n\nevent b {\n\n  x: int\n\n\n\n  y: int\n\n}\nevent c {}";
    assert_eq!(
        fmt(src),
        "event a {}\n\nevent b {\n  x: int\n\n  y: int\n}\n\nevent c {}\n"
    );
}

#[test]
fn schemas_one_field_per_line_without_commas() {
    let src = "profile { email: email?, tags: [string], plan: Plan = starter }";
    assert_eq!(
        fmt(src),
        "profile {\n  email: email?\n  tags: [string]\n  plan: Plan = starter\n}\n"
    );
}

#[test]
fn enums_inline_unless_documented() {
    assert_eq!(
        fmt("enum Plan {\n starter\n pro,\n}"),
        "enum Plan { starter, pro }\n"
    );
    assert_eq!(
        fmt("enum Plan { /// The free one.\n starter, pro }"),
        "enum Plan {\n  /// The free one.\n  starter\n  pro\n}\n"
    );
}

#[test]
fn objects_inline_when_they_fit() {
    let src = "workflow w {\n  on a\n  send push {title:\"Hi\",body:\"Welcome\"}\n  send webhook { url: \"https://example.com/hooks/a-rather-long-path\", body: { user: profile.id, plan: profile.plan } }\n}\n";
    assert_eq!(
        fmt(src),
        "workflow w {\n  on a\n  send push { title: \"Hi\", body: \"Welcome\" }\n  send webhook {\n    url: \"https://example.com/hooks/a-rather-long-path\"\n    body: { user: profile.id, plan: profile.plan }\n  }\n}\n"
    );
}

#[test]
fn objects_with_comments_break() {
    let src = "test \"t\" {\n  given profile \"u1\" { plan: pro, // the paid plan\n email: \"a@example.com\" }\n}\n";
    assert_eq!(
        fmt(src),
        "test \"t\" {\n  given profile \"u1\" {\n    plan: pro // the paid plan\n    email: \"a@example.com\"\n  }\n}\n"
    );
}

#[test]
fn templates_one_field_per_line() {
    assert_eq!(
        fmt("template hi: push for login { title: \"Hi\", body: \"Yo\" }"),
        "template hi: push for login {\n  title: \"Hi\"\n  body: \"Yo\"\n}\n"
    );
}

#[test]
fn chains_break_before_each_operator() {
    // Written on several lines: kept broken, one operand per line.
    let src = "segment s = in paid and\n did login and not did x within 14d";
    assert_eq!(
        fmt(src),
        "segment s = in paid\n  and did login\n  and not did x within 14d\n"
    );
    // Written on one line and fits: one line.
    assert_eq!(
        fmt("segment s = in paid   and   (did a or did b)"),
        "segment s = in paid and (did a or did b)\n"
    );
    // Too long for one line: broken at the outermost chain only.
    let long = "segment s = profile.plan in [starter, pro, enterprise] and did feature_used times >= 3 within 7d or inactive for 30d";
    assert_eq!(
        fmt(long),
        "segment s = profile.plan in [starter, pro, enterprise] and did feature_used times >= 3 within 7d\n  or inactive for 30d\n"
    );
}

#[test]
fn if_conditions_continue_twice_indented() {
    let src = "workflow w { on a if profile.age > 10\n and profile.age < 20 { exit } }";
    assert_eq!(
        fmt(src),
        "workflow w {\n  on a\n  if profile.age > 10\n      and profile.age < 20 {\n    exit\n  }\n}\n"
    );
}

#[test]
fn wait_for_branches_on_their_own_lines() {
    let src = "workflow w { on a wait for b within 2d then { send email x } else { wait 1d send email y } }";
    assert_eq!(
        fmt(src),
        "workflow w {\n  on a\n  wait for b within 2d\n    then { send email x }\n    else {\n      wait 1d\n      send email y\n    }\n}\n"
    );
}

#[test]
fn if_split_and_escalate() {
    let src = "workflow w { on a if did b { exit } else if did c {} else { wait 1h } split t { 50%: send email a 40%: { send email b } 10%: {} } escalate until b { email x after 24h sms \"Hi\" if profile.phone is not none } }";
    assert_eq!(
        fmt(src),
        "workflow w {\n  on a\n  if did b {\n    exit\n  } else if did c {} else {\n    wait 1h\n  }\n  split t {\n    50%: send email a\n    40%: { send email b }\n    10%: {}\n  }\n  escalate until b {\n    email x\n    after 24h sms \"Hi\" if profile.phone is not none\n  }\n}\n"
    );
}

#[test]
fn literals_in_canonical_form() {
    let src = "segment s = profile.a > 007 and profile.b < 1.500 and profile.c == 0h30m and profile.d == 2026-03-01t10:00:00.250+02:00 and profile.e == \"tab\\there {{x}} \\u{e9}\" and profile.f == \"{profile.n ?? \"you\"}\"";
    assert_eq!(
        fmt(src),
        "segment s = profile.a > 7\n  and profile.b < 1.5\n  and profile.c == 30m\n  and profile.d == 2026-03-01T08:00:00.250Z\n  and profile.e == \"tab\\there {{x}} é\"\n  and profile.f == \"{profile.n ?? \"you\"}\"\n"
    );
}

#[test]
fn parentheses_are_kept() {
    assert_eq!(
        fmt("segment s = ((in a)) and not (did b)"),
        "segment s = ((in a)) and not (did b)\n"
    );
}

#[test]
fn tests_and_expectations() {
    let src = "test \"t\" { given \"u1\" did login at -1d at 2026-03-01T10:00:00Z \"u1\" identify { plan: pro } expect 1 messages to \"u1\" expect 3 message expect \"u1\" did not enter w }";
    assert_eq!(
        fmt(src),
        "test \"t\" {\n  given \"u1\" did login at -1d\n  at 2026-03-01T10:00:00Z \"u1\" identify { plan: pro }\n  expect 1 message to \"u1\"\n  expect 3 messages\n  expect \"u1\" did not enter w\n}\n"
    );
}

#[test]
fn comments_keep_their_places() {
    let src = "// file header\n\n\n/// Docs.\nworkflow w { // opening\n  on a\n\n  // before the wait\n  wait 1h // after the wait\n  // last\n}\n// trailer\n";
    assert_eq!(
        fmt(src),
        "// file header\n\n/// Docs.\nworkflow w { // opening\n  on a\n\n  // before the wait\n  wait 1h // after the wait\n  // last\n}\n\n// trailer\n"
    );
}

#[test]
fn a_comment_inside_a_line_continues_it() {
    assert_eq!(
        fmt("workflow w { on a wait // why\n 1d }"),
        "workflow w {\n  on a\n  wait // why\n    1d\n}\n"
    );
}

#[test]
fn comments_stay_on_their_side_of_keywords() {
    assert_eq!(
        fmt("workflow w { on a wait for x // before within\n within 2d }"),
        "workflow w {\n  on a\n  wait for x // before within\n    within 2d\n}\n"
    );
    // A doc comment before a comma documents nothing; the comma stays so it
    // does not start documenting `b`.
    assert_eq!(
        fmt("enum E { a /// stray\n , b }"),
        "enum E {\n  a\n    /// stray\n    ,\n  b\n}\n"
    );
}

#[test]
fn test_offsets_keep_their_value() {
    use nudge_syntax::ast::{Item, TestStep, TimeRef};
    let parsed = nudge_syntax::parse(Arc::new(SourceFile::new(
        "t.flow",
        "test \"t\" { at +1d30m \"u1\" does login\n at -2h \"u1\" does login }",
    )));
    let Item::Test(test) = &parsed.file.items[0] else {
        panic!("not a test")
    };
    let offsets: Vec<i64> = test
        .steps
        .iter()
        .map(|step| match step {
            TestStep::At {
                at: TimeRef::Offset { seconds, .. },
                ..
            } => *seconds,
            other => panic!("unexpected step {other:?}"),
        })
        .collect();
    assert_eq!(offsets, vec![86_400 + 1_800, -7_200]);
    assert_eq!(
        fmt("test \"t\" { at +1d30m \"u1\" does login\n at -2h \"u1\" does login }"),
        "test \"t\" {\n  at +1d30m \"u1\" does login\n  at -2h \"u1\" does login\n}\n"
    );
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("\n\n  \n"), "");
    assert_eq!(fmt("  // only a comment   \n\n"), "// only a comment\n");
}

#[test]
fn broken_files_are_not_formatted() {
    let result = format_source(Arc::new(SourceFile::new("bad.flow", "workflow w { on }")));
    let diagnostics = result.unwrap_err();
    assert!(!diagnostics.is_empty());
}
