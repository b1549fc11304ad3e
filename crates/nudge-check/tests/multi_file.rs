//! A project is one namespace across its files.

mod common;

use std::path::Path;
use std::sync::Arc;

use nudge_check::{check_project, codes, TemplateLoader};
use nudge_syntax::SourceFile;

struct Files;

impl TemplateLoader for Files {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        if path == Path::new("flows/mail/welcome.html") {
            Ok("<p>{{ event.plan }}</p>".to_owned())
        } else {
            Err(std::io::Error::new(std::io::ErrorKind::NotFound, "missing"))
        }
    }
}

fn src(name: &str, text: &str) -> Arc<SourceFile> {
    Arc::new(SourceFile::new(name, text))
}

#[test]
fn declarations_in_one_file_are_seen_from_another() {
    let a = src(
        "flows/schema.flow",
        "enum Plan { pro }\nprofile { email: email? }\nevent signed_up { plan: Plan }\n",
    );
    let b = src(
        "flows/welcome.flow",
        "template hi: email for signed_up { subject: \"Hi\", html: file(\"mail/welcome.html\") }\n\
         workflow welcome {\n  on signed_up where event.plan == pro\n  audience profile.email != none\n  send email hi\n}\n",
    );
    let checked = check_project(&[a, b], &Files);
    assert!(
        checked.diagnostics.is_empty(),
        "{}",
        nudge_syntax::render_plain(&checked.diagnostics, 80)
    );
    let program = checked.program.unwrap();
    assert_eq!(program.files.len(), 2);
    assert_eq!(program.workflows[0].loc.file.index(), 1);
    assert_eq!(program.events[0].loc.file.index(), 0);
}

#[test]
fn a_duplicate_in_another_file_points_at_both() {
    let a = src("a.flow", "profile { email: email? }\nevent signed_up {}\n");
    let b = src("b.flow", "event signed_up { plan: string }\n");
    let checked = check_project(&[a, b], &Files);
    let dup = checked
        .diagnostics
        .iter()
        .find(|d| d.code == codes::DUPLICATE_DECLARATION)
        .unwrap();
    assert_eq!(dup.source.as_ref().unwrap().name(), "b.flow");
    assert_eq!(dup.related.len(), 1);
    assert_eq!(dup.related[0].source.as_ref().unwrap().name(), "a.flow");
    let json = common::json(dup);
    assert_eq!(json.related[0].labels[0].line, 2);
    // As people read it: the other place is a note, not a second error.
    let rendered = nudge_syntax::render_plain(std::slice::from_ref(dup), 80);
    assert!(!rendered.contains("Error:"), "{rendered}");
    insta::assert_snapshot!(rendered);
}

#[test]
fn two_profiles_in_two_files() {
    let a = src("a.flow", "profile { email: email? }\n");
    let b = src("b.flow", "profile { phone: phone? }\n");
    let checked = check_project(&[a, b], &Files);
    let codes: Vec<_> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec![codes::DUPLICATE_PROFILE]);
}

#[test]
fn the_program_is_typed_and_resolved() {
    use nudge_check::ir::{ExprKind, Stmt, Trigger};
    use nudge_check::Type;
    let a = src(
        "a.flow",
        "enum Plan { starter, pro }\nprofile { email: email?, plan: Plan }\nevent up { to: Plan }\n\
         workflow w {\n  on up where event.to == pro\n  wait for up within 1d\n    then { if up.to == starter { exit } }\n    else {}\n}\n",
    );
    let program = check_project(&[a], &Files).program.unwrap();
    let w = &program.workflows[0];
    let Trigger::Event(m) = &w.triggers[0] else {
        panic!()
    };
    let filter = m.filter.as_ref().unwrap();
    assert_eq!(filter.ty, Type::Bool);
    let ExprKind::Binary(_, lhs, rhs) = &filter.kind else {
        panic!()
    };
    assert!(matches!(lhs.kind, ExprKind::EventField(ref f) if f.len() == 1));
    assert_eq!(lhs.ty, Type::Enum(nudge_check::ir::EnumId(0)));
    assert!(matches!(
        rhs.kind,
        ExprKind::Const(nudge_check::ir::Const::Enum(_, 1))
    ));
    let Stmt::WaitFor { then_block, .. } = &w.body[0] else {
        panic!()
    };
    let Stmt::If { branches, .. } = &then_block[0] else {
        panic!()
    };
    let ExprKind::Binary(_, lhs, _) = &branches[0].0.kind else {
        panic!()
    };
    assert!(matches!(lhs.kind, ExprKind::Received(_, _)));
    // profile.id is field 0.
    assert_eq!(program.profile.fields[0].name, "id");
}
