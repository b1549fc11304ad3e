//! The shape of the tree: operator precedence and associativity, literals,
//! string interpolation, doc comments, atomic keywords and exact spans.

use std::sync::Arc;

use nudge_syntax::ast::*;
use nudge_syntax::{parse, parse_expr, render_plain, Parsed, SourceFile};

#[allow(clippy::panic)] // a test helper: an expression that does not parse fails the test
fn expr(text: &str) -> Expr {
    match parse_expr(Arc::new(SourceFile::new("expr.flow", text))) {
        Ok(e) => e,
        Err(d) => panic!("`{text}` did not parse:\n{}", render_plain(&d, 80)),
    }
}

fn file(text: &str) -> Parsed {
    let parsed = parse(Arc::new(SourceFile::new("test.flow", text)));
    assert!(parsed.is_ok(), "{}", render_plain(&parsed.diagnostics, 80));
    parsed
}

/// An expression as an S-expression, for comparing shapes.
fn sexpr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Literal(l) => match l {
            Literal::None => "none".into(),
            Literal::Bool(b) => b.to_string(),
            Literal::Int(i) => i.to_string(),
            Literal::Float(f) => format!("{f:?}"),
            Literal::String(s) => format!("{:?}", s.display()),
            Literal::Duration(d) => format!("{}s", d.seconds),
            Literal::TimeOfDay(t) => format!("{}min", t.minutes),
            Literal::Timestamp(t) => t.value.to_rfc3339(),
        },
        ExprKind::Path(p) => p.dotted(),
        ExprKind::List(items) => {
            format!(
                "[{}]",
                items.iter().map(sexpr).collect::<Vec<_>>().join(" ")
            )
        }
        ExprKind::Paren(inner) => sexpr(inner),
        ExprKind::Not(inner) => format!("(not {})", sexpr(inner)),
        ExprKind::Binary { op, lhs, rhs, .. } => {
            format!("({} {} {})", op.as_str(), sexpr(lhs), sexpr(rhs))
        }
        ExprKind::IsNone { operand, negated } => {
            let op = if *negated { "is-not-none" } else { "is-none" };
            format!("({op} {})", sexpr(operand))
        }
        ExprKind::Did(d) => {
            let mut s = format!("(did {}", d.event.event.name);
            if let Some(f) = &d.event.filter {
                s.push_str(&format!(" where {}", sexpr(f)));
            }
            if let Some(c) = &d.count {
                s.push_str(&format!(" times {} {}", c.op.as_str(), c.count.value));
            }
            match &d.window {
                Some(DidWindow::Within(w)) => s.push_str(&format!(" within {}s", w.seconds)),
                Some(DidWindow::SinceEntry(_)) => s.push_str(" since-entry"),
                None => {}
            }
            s.push(')');
            s
        }
        ExprKind::Inactive(d) => format!("(inactive {}s)", d.seconds),
        ExprKind::InSegment(i) => format!("(in-segment {})", i.name),
        ExprKind::Ago(d) => format!("(ago {}s)", d.seconds),
        ExprKind::Error => "(error)".to_owned(),
    }
}

fn shape(text: &str) -> String {
    sexpr(&expr(text))
}

#[test]
fn or_is_weaker_than_and() {
    assert_eq!(shape("a or b and c"), "(or a (and b c))");
    assert_eq!(shape("a and b or c"), "(or (and a b) c)");
}

#[test]
fn and_and_or_are_left_associative() {
    assert_eq!(shape("a or b or c"), "(or (or a b) c)");
    assert_eq!(shape("a and b and c"), "(and (and a b) c)");
}

#[test]
fn not_is_weaker_than_comparisons_and_stronger_than_and() {
    assert_eq!(shape("not a == b"), "(not (== a b))");
    assert_eq!(shape("not a and b"), "(and (not a) b)");
    assert_eq!(shape("not not a"), "(not (not a))");
}

#[test]
fn comparisons_bind_tighter_than_and() {
    assert_eq!(
        shape("profile.plan == pro and event.total >= 10"),
        "(and (== profile.plan pro) (>= event.total 10))"
    );
    for op in ["==", "!=", "<", "<=", ">", ">="] {
        assert_eq!(shape(&format!("a {op} b")), format!("({op} a b)"));
    }
}

#[test]
fn in_is_a_comparison() {
    assert_eq!(
        shape("profile.plan in [pro, enterprise] or b"),
        "(or (in profile.plan [pro enterprise]) b)"
    );
    assert_eq!(shape("x in profile.tags"), "(in x profile.tags)");
}

#[test]
fn coalesce_binds_tightest_and_is_right_associative() {
    assert_eq!(shape("a ?? b == c"), "(== (?? a b) c)");
    assert_eq!(shape("a ?? b ?? c"), "(?? a (?? b c))");
    assert_eq!(shape("a ?? b is none"), "(is-none (?? a b))");
}

#[test]
fn is_none_is_a_postfix_comparison() {
    assert_eq!(shape("a is none and b"), "(and (is-none a) b)");
    assert_eq!(shape("not a is not none"), "(not (is-not-none a))");
}

#[test]
fn parentheses_override_precedence() {
    assert_eq!(shape("(a or b) and c"), "(and (or a b) c)");
    assert_eq!(shape("not (a and b)"), "(not (and a b))");
}

#[test]
fn history_primaries() {
    assert_eq!(
        shape("did login where event.ok == true times >= 3 within 7d"),
        "(did login where (== event.ok true) times >= 3 within 604800s)"
    );
    assert_eq!(
        shape("did setup_completed since entry"),
        "(did setup_completed since-entry)"
    );
    assert_eq!(shape("did login"), "(did login)");
    assert_eq!(shape("inactive for 2d"), "(inactive 172800s)");
    assert_eq!(shape("in paid and b"), "(and (in-segment paid) b)");
    assert_eq!(
        shape("profile.created_at < 3d ago"),
        "(< profile.created_at (ago 259200s))"
    );
}

#[test]
fn negative_and_other_literals() {
    assert_eq!(shape("x > -5"), "(> x -5)");
    assert_eq!(shape("x >= -0.5"), "(>= x -0.5)");
    assert_eq!(shape("x == 2.25"), "(== x 2.25)");
    assert_eq!(shape("x == none"), "(== x none)");
    assert_eq!(shape("x != false"), "(!= x false)");
    assert_eq!(shape("t == 18:30"), "(== t 1110min)");
    assert_eq!(shape("t == 00:00"), "(== t 0min)");
    assert_eq!(
        shape("t < 2026-03-01T10:00:00+02:00"),
        "(< t 2026-03-01T08:00:00+00:00)"
    );
    assert_eq!(shape("x == []"), "(== x [])");
}

#[test]
fn durations_add_their_units() {
    assert_eq!(shape("d == 1w2d3h4m5s"), "(== d 788645s)");
    assert_eq!(shape("d == 90m"), "(== d 5400s)");
    assert_eq!(shape("d == 0s"), "(== d 0s)");
}

#[test]
fn chained_comparisons_are_errors() {
    let err = parse_expr(Arc::new(SourceFile::new("e.flow", "a < b < c"))).unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].code, "nudge::parse::chained_comparison");
}

#[test]
fn interpolation_parts_and_spans() {
    let text = r#"segment s = x == "Hi {profile.first_name ?? "friend"}, {{ok}} {event.total}!""#;
    let parsed = file(text);
    let Item::Segment(seg) = &parsed.file.items[0] else {
        panic!("not a segment")
    };
    let ExprKind::Binary { rhs, .. } = &seg.condition.kind else {
        panic!("not a comparison")
    };
    let ExprKind::Literal(Literal::String(s)) = &rhs.kind else {
        panic!("not a string")
    };
    assert_eq!(
        &text[s.span.range()],
        r#""Hi {profile.first_name ?? "friend"}, {{ok}} {event.total}!""#
    );
    assert_eq!(s.parts.len(), 5);
    assert_eq!(s.parts[0], StringPart::Text("Hi ".into()));
    let StringPart::Interp(first) = &s.parts[1] else {
        panic!("not an interpolation")
    };
    assert_eq!(first.path.dotted(), "profile.first_name");
    assert_eq!(
        &text[first.span.range()],
        r#"{profile.first_name ?? "friend"}"#
    );
    assert_eq!(&text[first.path.segments[1].span.range()], "first_name");
    let default = first.default.as_deref().expect("a default");
    assert_eq!(sexpr(default), "\"friend\"");
    assert_eq!(&text[default.span.range()], "\"friend\"");
    assert_eq!(s.parts[2], StringPart::Text(", {ok} ".into()));
    let StringPart::Interp(second) = &s.parts[3] else {
        panic!("not an interpolation")
    };
    assert!(second.default.is_none());
    assert_eq!(&text[second.span.range()], "{event.total}");
    assert_eq!(s.parts[4], StringPart::Text("!".into()));
    assert_eq!(s.as_plain(), None);
}

#[test]
fn escapes_decode() {
    let parsed = file(r#"segment s = x == "a\"b\\c\n\t\u{e9}\{\}""#);
    let Item::Segment(seg) = &parsed.file.items[0] else {
        panic!("not a segment")
    };
    let ExprKind::Binary { rhs, .. } = &seg.condition.kind else {
        panic!("not a comparison")
    };
    let ExprKind::Literal(Literal::String(s)) = &rhs.kind else {
        panic!("not a string")
    };
    assert_eq!(s.as_plain().as_deref(), Some("a\"b\\c\n\t\u{e9}{}"));
}

#[test]
fn doc_comments_attach_to_declarations_fields_and_members() {
    let text = "\
/// Plans.
/// Two lines.
enum Plan {
  /// The free one.
  starter,
  // not a doc comment
  pro,
}

//// four slashes are a plain comment
event login {
  /// Which device.
  device: string
  ok: bool
}

/// Paying.
segment paid = profile.plan == pro
";
    let parsed = file(text);
    let items = &parsed.file.items;
    let Item::Enum(plan) = &items[0] else {
        panic!("not an enum")
    };
    let doc = plan.doc.as_ref().expect("enum doc");
    assert_eq!(doc.text, "Plans.\nTwo lines.");
    assert_eq!(&text[doc.span.range()], "/// Plans.\n/// Two lines.");
    assert_eq!(
        plan.members[0].doc.as_ref().map(|d| d.text.as_str()),
        Some("The free one.")
    );
    assert_eq!(plan.members[1].doc, None);
    let Item::Event(login) = &items[1] else {
        panic!("not an event")
    };
    assert_eq!(login.doc, None);
    assert_eq!(
        login.fields[0].doc.as_ref().map(|d| d.text.as_str()),
        Some("Which device.")
    );
    assert_eq!(login.fields[1].doc, None);
    assert_eq!(items[2].doc().map(|d| d.text.as_str()), Some("Paying."));
}

#[test]
fn keywords_are_atomic() {
    // `index` is a name, not `in dex`; `inside` and `notify` are names too.
    assert_eq!(
        shape("index in [inside, notify]"),
        "(in index [inside notify])"
    );
    assert_eq!(shape("profile.in_app == true"), "(== profile.in_app true)");
    assert_eq!(
        shape("nothing or orange and android"),
        "(or nothing (and orange android))"
    );
    assert_eq!(shape("isnt is none"), "(is-none isnt)");

    let parsed = file("workflow w {\n  on login\n  send in_app { title: \"Hi\" }\n}\n");
    let Item::Workflow(w) = &parsed.file.items[0] else {
        panic!("not a workflow")
    };
    let Stmt::Send(send) = &w.body[0] else {
        panic!("not a send")
    };
    assert_eq!(send.message.channel.channel, Channel::InApp);
    assert!(matches!(send.message.content, Some(Content::Fields(_))));
}

#[test]
fn any_word_names_a_property() {
    assert_eq!(
        shape("plan_changed.to != plan_changed.from"),
        "(!= plan_changed.to plan_changed.from)"
    );
    assert_eq!(
        shape("event.in == event.within"),
        "(== event.in event.within)"
    );
}

#[test]
fn ident_spans_are_exact() {
    let text = "event  order_completed {\n  total :  float?\n}\nsegment big = did order_completed where event.total > 100.0\n";
    let parsed = file(text);
    let Item::Event(ev) = &parsed.file.items[0] else {
        panic!("not an event")
    };
    assert_eq!(&text[ev.name.span.range()], "order_completed");
    assert_eq!(&text[ev.fields[0].name.span.range()], "total");
    assert_eq!(&text[ev.fields[0].ty.span.range()], "float?");
    assert!(matches!(ev.fields[0].ty.kind, TypeExprKind::Optional(_)));
    let Item::Segment(seg) = &parsed.file.items[1] else {
        panic!("not a segment")
    };
    assert_eq!(&text[seg.name.span.range()], "big");
    let ExprKind::Did(did) = &seg.condition.kind else {
        panic!("not did")
    };
    assert_eq!(&text[did.event.event.span.range()], "order_completed");
    let filter = did.event.filter.as_ref().expect("a filter");
    assert_eq!(&text[filter.span.range()], "event.total > 100.0");
    let ExprKind::Binary { lhs, op_span, .. } = &filter.kind else {
        panic!("not a comparison")
    };
    assert_eq!(&text[op_span.range()], ">");
    let ExprKind::Path(path) = &lhs.kind else {
        panic!("not a path")
    };
    assert_eq!(&text[path.segments[0].span.range()], "event");
    assert_eq!(&text[path.segments[1].span.range()], "total");
}

#[test]
fn spans_survive_recovery() {
    // The second declaration is parsed on its own after the first fails;
    // its spans are still offsets in the whole file.
    let text = "event login {\n  at time\n}\n\nsegment paid = profile.plan == pro\n";
    let parsed = parse(Arc::new(SourceFile::new("r.flow", text)));
    assert_eq!(parsed.diagnostics.len(), 1);
    let Some(Item::Segment(seg)) = parsed.file.items.first() else {
        panic!("the segment was lost")
    };
    assert_eq!(&text[seg.name.span.range()], "paid");
    assert_eq!(&text[seg.condition.span.range()], "profile.plan == pro");
}

#[test]
fn expression_errors_name_what_was_expected() {
    let message = |text: &str| {
        let err = parse_expr(Arc::new(SourceFile::new("e.flow", text))).unwrap_err();
        err[0].message.clone()
    };
    assert_eq!(message("a && b"), "expected `and`, found `&&`");
    assert_eq!(
        message("a =="),
        "expected an expression, found the end of the file"
    );
    assert_eq!(
        message("did login within soon"),
        "expected a duration such as `6h`, found `soon`"
    );
}
