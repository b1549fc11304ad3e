//! The verifier rejects malformed modules with a clear error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use nudge_bytecode::*;

fn expr(code: &[Instr]) -> (ModuleBuilder, FunctionId) {
    let mut mb = ModuleBuilder::new("t");
    mb.event_schema("e", &[("x", Type::Int)]).unwrap();
    mb.profile_field("p", Type::Int).unwrap();
    let mut f = FunctionBuilder::new("f", FunctionKind::Expr);
    for i in code {
        f.emit(*i);
    }
    let id = mb.add_function(f).unwrap();
    (mb, id)
}

fn body(code: &[Instr]) -> ModuleBuilder {
    let mut mb = ModuleBuilder::new("t");
    mb.event_schema("e", &[("x", Type::Int)]).unwrap();
    mb.duration(60).unwrap();
    let mut f = FunctionBuilder::new("w", FunctionKind::Body);
    for i in code {
        f.emit(*i);
    }
    let body = mb.add_function(f).unwrap();
    mb.add_workflow(Workflow {
        name: "w".into(),
        triggers: vec![Trigger::Event(EventMatch {
            event: 0,
            filter: None,
        })],
        audience: None,
        exit_on: vec![],
        entry: EntryRule::Default,
        goals: vec![],
        priority: Priority::Marketing,
        body,
    })
    .unwrap();
    mb
}

fn problem(mb: ModuleBuilder) -> (String, Problem) {
    match verify(&mb.build()) {
        Err(VerifyError::Code {
            function, problem, ..
        }) => (function, problem),
        Err(VerifyError::Table { table, problem, .. }) => (table.to_owned(), problem),
        Err(other) => panic!("unexpected error {other:?}"),
        Ok(()) => panic!("module verified"),
    }
}

#[test]
fn accepts_a_well_formed_function() {
    let (mb, _) = expr(&[
        Instr::LoadProfile(0),
        Instr::Int(3),
        Instr::Cmp(CmpOp::Gt),
        Instr::Return,
    ]);
    verify(&mb.build()).unwrap();
}

#[test]
fn rejects_a_jump_outside_the_function() {
    let (mb, _) = expr(&[Instr::Bool(true), Instr::Jump(9), Instr::Return]);
    let err = verify(&mb.build()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid module: in `f` at pc 1: jump to 9 is outside the function (3 instructions)"
    );
}

#[test]
fn rejects_a_bad_constant_index() {
    let (mb, _) = expr(&[Instr::Const(4), Instr::Return]);
    assert_eq!(
        problem(mb).1,
        Problem::BadIndex {
            table: "constant",
            index: 4,
            len: 0
        }
    );
}

#[test]
fn rejects_bad_profile_and_event_fields() {
    let (mb, _) = expr(&[Instr::LoadProfile(1), Instr::Return]);
    assert!(matches!(
        problem(mb).1,
        Problem::BadIndex {
            table: "profile field",
            ..
        }
    ));
    let (mb, _) = expr(&[Instr::LoadReceived(0, 5), Instr::Return]);
    assert!(matches!(
        problem(mb).1,
        Problem::BadIndex {
            table: "event field",
            ..
        }
    ));
    let (mb, _) = expr(&[Instr::LoadReceived(3, 0), Instr::Return]);
    assert!(matches!(
        problem(mb).1,
        Problem::BadIndex { table: "event", .. }
    ));
}

#[test]
fn rejects_stack_underflow() {
    let (mb, _) = expr(&[Instr::Int(1), Instr::Cmp(CmpOp::Eq), Instr::Return]);
    let err = verify(&mb.build()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid module: in `f` at pc 1: stack underflow"
    );
}

#[test]
fn rejects_a_wrong_return_depth() {
    let (mb, _) = expr(&[Instr::Int(1), Instr::Int(2), Instr::Return]);
    assert_eq!(
        problem(mb).1,
        Problem::BadReturn {
            found: 2,
            expected: 1
        }
    );
    let mb = body(&[Instr::Int(1), Instr::Return]);
    assert_eq!(
        problem(mb).1,
        Problem::BadReturn {
            found: 1,
            expected: 0
        }
    );
}

#[test]
fn rejects_mismatched_depths_at_a_join() {
    // One path pushes before the join, the other does not.
    let (mb, _) = expr(&[
        Instr::Bool(true),
        Instr::JumpIfFalse(3),
        Instr::Int(1),
        Instr::Int(2),
        Instr::Return,
    ]);
    assert!(matches!(problem(mb).1, Problem::StackMismatch(..)));
}

#[test]
fn keep_jumps_keep_their_operand() {
    // a and b: a; jump.false.keep L; b; L: return
    let (mb, _) = expr(&[
        Instr::Bool(true),
        Instr::JumpIfFalseKeep(3),
        Instr::Bool(false),
        Instr::Return,
    ]);
    verify(&mb.build()).unwrap();
}

#[test]
fn rejects_falling_off_the_end() {
    let (mb, _) = expr(&[Instr::Int(1)]);
    assert_eq!(problem(mb).1, Problem::FallsOffEnd);
    let (mb, _) = expr(&[]);
    assert_eq!(problem(mb).1, Problem::FallsOffEnd);
}

#[test]
fn rejects_statements_in_expressions_and_on_a_stack() {
    let (mb, _) = expr(&[Instr::Wait(0), Instr::Bool(true), Instr::Return]);
    assert_eq!(problem(mb).1, Problem::StatementInExpression("wait"));
    let mb = body(&[Instr::Int(1), Instr::Wait(0), Instr::Pop, Instr::Return]);
    assert_eq!(problem(mb).1, Problem::StatementOnStack(1));
}

#[test]
fn rejects_a_bad_duration_and_message() {
    let mb = body(&[Instr::Wait(7), Instr::Return]);
    assert!(matches!(
        problem(mb).1,
        Problem::BadIndex {
            table: "duration",
            ..
        }
    ));
    let mb = body(&[Instr::Send(0), Instr::Return]);
    assert!(matches!(
        problem(mb).1,
        Problem::BadIndex {
            table: "message",
            ..
        }
    ));
}

#[test]
fn rejects_descriptor_pcs_outside_the_function() {
    let mut mb = body(&[Instr::WaitFor(0), Instr::Return]);
    mb.add_wait_for(
        EventMatch {
            event: 0,
            filter: None,
        },
        0,
    )
    .unwrap();
    // then/else default to 0; move else outside by hand.
    let mut m = mb.build();
    m.wait_fors[0].else_pc = 40;
    let err = verify(&m).unwrap_err();
    assert!(
        err.to_string()
            .contains("jump to 40 is outside the function"),
        "{err}"
    );
}

#[test]
fn rejects_a_body_used_as_a_filter() {
    let mut mb = body(&[Instr::Return]);
    let mut m = {
        mb.duration(1).unwrap();
        mb.build()
    };
    m.workflows[0].triggers = vec![Trigger::Event(EventMatch {
        event: 0,
        filter: Some(0),
    })];
    let err = verify(&m).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid module: workflow 0: function 0 is a workflow body, expected a expression"
    );
}

#[test]
fn rejects_an_overfull_split() {
    let mut mb = body(&[Instr::Split(0), Instr::Return]);
    mb.add_split("s", &[("a", 6000), ("b", 6000)]).unwrap();
    assert_eq!(problem(mb).1, Problem::SplitOverfull(12_000));
}

#[test]
fn rejects_a_segment_cycle() {
    let (mut mb, f) = expr(&[Instr::InSegment(1), Instr::Return]);
    let mut g = FunctionBuilder::new("g", FunctionKind::Expr);
    g.emit(Instr::InSegment(0));
    g.emit(Instr::Return);
    let g = mb.add_function(g).unwrap();
    mb.add_segment("a", f).unwrap();
    mb.add_segment("b", g).unwrap();
    let err = verify(&mb.build()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid module: segment 0: segment `a` refers to itself"
    );
}

#[test]
fn rejects_an_unbound_label() {
    let mut mb = ModuleBuilder::new("t");
    let mut f = FunctionBuilder::new("f", FunctionKind::Expr);
    let l = f.label();
    f.emit(Instr::Bool(true));
    f.emit_jump(Instr::Jump, l);
    assert_eq!(
        mb.add_function(f).unwrap_err(),
        BuildError::UnboundLabel(0, "f".into())
    );
}

#[test]
fn rejects_a_span_table_of_the_wrong_length() {
    let (mb, _) = expr(&[Instr::Bool(true), Instr::Return]);
    let mut m = mb.build();
    m.functions[0].spans.pop();
    assert_eq!(
        verify(&m).unwrap_err().to_string(),
        "invalid module: in `f` at pc 0: span table has 1 entries for 2 instructions"
    );
}

#[test]
fn event_fields_are_checked_against_the_event_in_scope() {
    let mut mb = body(&[Instr::Return]);
    mb.event_schema(
        "big",
        &[
            ("a", Type::Int),
            ("b", Type::Int),
            ("c", Type::Int),
            ("d", Type::Int),
        ],
    )
    .unwrap();
    let mut f = FunctionBuilder::new("filter", FunctionKind::Expr);
    f.emit(Instr::LoadEvent(3));
    f.emit(Instr::Return);
    let filter = mb.add_function(f).unwrap();
    // Field 3 exists in `big` but the filter looks at `e`, which has one field.
    mb.module_mut().workflows[0].triggers = vec![Trigger::Event(EventMatch {
        event: 0,
        filter: Some(filter),
    })];
    assert_eq!(
        verify(&mb.build()).unwrap_err().to_string(),
        "invalid module: in `filter` at pc 0: event field index 3 is out of range (the table has 1)"
    );
}
