//! The verifier: a module that passes never makes the VM index out of
//! range, jump outside its function, underflow its stack or recurse forever.

use crate::instr::*;
use crate::module::*;

/// What is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A jump or descriptor pc points outside the function.
    #[error("jump to {target} is outside the function ({len} instructions)")]
    BadJump {
        /// The target.
        target: u32,
        /// The function's length.
        len: usize,
    },
    /// An index into a side table is out of range.
    #[error("{table} index {index} is out of range (the table has {len})")]
    BadIndex {
        /// Which table.
        table: &'static str,
        /// The index.
        index: usize,
        /// The table's length.
        len: usize,
    },
    /// An instruction pops more than the stack holds.
    #[error("stack underflow")]
    StackUnderflow,
    /// Two paths reach an instruction with different stack depths.
    #[error("stack depth {0} here but {1} on another path")]
    StackMismatch(u32, u32),
    /// `return` with the wrong number of values.
    #[error("`return` with {found} values on the stack, expected {expected}")]
    BadReturn {
        /// Depth found.
        found: u32,
        /// Depth expected.
        expected: u32,
    },
    /// A statement with values on the stack.
    #[error("statement with {0} values on the stack")]
    StatementOnStack(u32),
    /// Control can run past the last instruction.
    #[error("control runs past the end of the function")]
    FallsOffEnd,
    /// A statement in an expression function.
    #[error("statement `{0}` in an expression function")]
    StatementInExpression(&'static str),
    /// A function of the wrong kind is referenced.
    #[error("function {0} is a {1}, expected a {2}")]
    WrongKind(u16, &'static str, &'static str),
    /// The span table does not match the code.
    #[error("span table has {spans} entries for {code} instructions")]
    SpanTable {
        /// Spans.
        spans: usize,
        /// Instructions.
        code: usize,
    },
    /// A span names a file that is not listed.
    #[error("span names file {0} which is not in the file table")]
    BadSpanFile(u16),
    /// Split arms add up to more than 100%.
    #[error("split arms add up to {0} basis points, more than 10000")]
    SplitOverfull(u64),
    /// A segment refers to itself, directly or not.
    #[error("segment `{0}` refers to itself")]
    SegmentCycle(String),
    /// A descriptor is used by a function other than the one its pcs are for.
    #[error("descriptor is used by two functions")]
    SharedDescriptor,
}

/// Why a module was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Inside a function.
    #[error("invalid module: in `{function}` at pc {pc}: {problem}")]
    Code {
        /// The function's name.
        function: String,
        /// The instruction.
        pc: u32,
        /// What is wrong.
        problem: Problem,
    },
    /// In a side table.
    #[error("invalid module: {table} {index}: {problem}")]
    Table {
        /// Which table.
        table: &'static str,
        /// Which entry.
        index: usize,
        /// What is wrong.
        problem: Problem,
    },
}

fn check<T>(table: &'static str, v: &[T], index: usize) -> Result<(), Problem> {
    if index < v.len() {
        Ok(())
    } else {
        Err(Problem::BadIndex {
            table,
            index,
            len: v.len(),
        })
    }
}

fn kind_name(k: FunctionKind) -> &'static str {
    match k {
        FunctionKind::Body => "workflow body",
        FunctionKind::Expr => "expression",
    }
}

fn check_fn(m: &Module, f: FunctionId, want: FunctionKind) -> Result<(), Problem> {
    check("function", &m.functions, f as usize)?;
    let kind = m.functions[f as usize].kind;
    if kind != want {
        return Err(Problem::WrongKind(f, kind_name(kind), kind_name(want)));
    }
    Ok(())
}

fn check_match(m: &Module, e: &EventMatch) -> Result<(), Problem> {
    check("event", &m.schemas.events, e.event as usize)?;
    if let Some(f) = e.filter {
        check_fn(m, f, FunctionKind::Expr)?;
    }
    Ok(())
}

fn check_fields(m: &Module, fields: &[MessageField]) -> Result<(), Problem> {
    for field in fields {
        check("string", &m.strings, field.name as usize)?;
        match &field.value {
            FieldValue::Text(parts) => {
                for p in parts {
                    match *p {
                        StringPart::Text(s) => check("string", &m.strings, s as usize)?,
                        StringPart::Value(f) => check_fn(m, f, FunctionKind::Expr)?,
                    }
                }
            }
            FieldValue::Expr(f) => check_fn(m, *f, FunctionKind::Expr)?,
            FieldValue::File { path, source } => {
                check("string", &m.strings, *path as usize)?;
                check("string", &m.strings, *source as usize)?;
            }
            FieldValue::Object(inner) => check_fields(m, inner)?,
        }
    }
    Ok(())
}

fn check_zone(m: &Module, z: Zone) -> Result<(), Problem> {
    match z {
        Zone::Local => Ok(()),
        Zone::Named(s) => check("string", &m.strings, s as usize),
    }
}

fn table<T>(
    name: &'static str,
    items: &[T],
    mut f: impl FnMut(&T) -> Result<(), Problem>,
) -> Result<(), VerifyError> {
    for (index, item) in items.iter().enumerate() {
        f(item).map_err(|problem| VerifyError::Table {
            table: name,
            index,
            problem,
        })?;
    }
    Ok(())
}

/// Checks a module; the VM may assume everything this accepts.
pub fn verify(m: &Module) -> Result<(), VerifyError> {
    let dur = |d: DurationId| check("duration", &m.durations, d as usize);
    table("workflow", &m.workflows, |w| {
        check_fn(m, w.body, FunctionKind::Body)?;
        for t in &w.triggers {
            match t {
                Trigger::Event(e) => check_match(m, e)?,
                Trigger::Inactive(d) => dur(*d)?,
                Trigger::Date(d) => {
                    check("profile field", &m.schemas.profile, d.field as usize)?;
                    if let Some((minutes, zone)) = d.at {
                        check_zone(m, zone)?;
                        if minutes >= 24 * 60 {
                            return Err(Problem::BadIndex {
                                table: "minute of day",
                                index: minutes as usize,
                                len: 24 * 60,
                            });
                        }
                    }
                }
            }
        }
        if let Some(a) = w.audience {
            check_fn(m, a, FunctionKind::Expr)?;
        }
        for e in &w.exit_on {
            check_match(m, e)?;
        }
        if let EntryRule::OncePer(d) = w.entry {
            dur(d)?;
        }
        for g in &w.goals {
            check("string", &m.strings, g.name as usize)?;
            check_match(m, &g.event)?;
            dur(g.within)?;
        }
        Ok(())
    })?;
    table("segment", &m.segments, |s| {
        check_fn(m, s.predicate, FunctionKind::Expr)
    })?;
    table("template", &m.templates, |t| {
        if let Some(e) = t.event {
            check("event", &m.schemas.events, e as usize)?;
        }
        check_fields(m, &t.fields)
    })?;
    table("message", &m.messages, |d| {
        if let Some(a) = d.address {
            check("profile field", &m.schemas.profile, a as usize)?;
        }
        if let Some(t) = d.template {
            check("template", &m.templates, t as usize)?;
        }
        check_fields(m, &d.overrides)
    })?;
    table("query", &m.queries, |q| {
        check_match(m, &q.event)?;
        if let Window::Within(d) = q.window {
            dur(d)?;
        }
        Ok(())
    })?;
    table("wait until", &m.wait_untils, |w| {
        check_zone(m, w.zone)?;
        if w.minutes >= 24 * 60 {
            return Err(Problem::BadIndex {
                table: "minute of day",
                index: w.minutes as usize,
                len: 24 * 60,
            });
        }
        if let DaySpec::Weekday(d) = w.day {
            check("weekday", &[(); 7], d as usize)?;
        }
        Ok(())
    })?;
    table("wait for", &m.wait_fors, |w| {
        check_match(m, &w.event)?;
        dur(w.within)
    })?;
    table("split", &m.splits, |s| {
        check("string", &m.strings, s.name as usize)?;
        let total: u64 = s.arms.iter().map(|a| u64::from(a.basis_points)).sum();
        if total > 10_000 {
            return Err(Problem::SplitOverfull(total));
        }
        Ok(())
    })?;
    let mut index = 0;
    table("arm names", &m.arm_names, |names| {
        check("split", &m.splits, index)?;
        // A split's arms are all named, or none are (a split added by hand).
        let arms = m.splits[index].arms.len();
        if !names.is_empty() && names.len() != arms {
            check("arm name", names, arms.saturating_sub(1).max(names.len()))?;
        }
        index += 1;
        for &n in names {
            check("string", &m.strings, n as usize)?;
        }
        Ok(())
    })?;
    table("escalation", &m.escalations, |e| check_match(m, &e.until))?;
    table("quiet hours", &m.policy.quiet_hours, |q| {
        check_zone(m, q.zone)
    })?;

    // Descriptor pcs belong to the function that uses them.
    let contexts = crate::context::event_contexts(m);
    let mut owner: Vec<Option<usize>> =
        vec![None; m.wait_fors.len() + m.splits.len() + m.escalations.len()];
    for (fi, f) in m.functions.iter().enumerate() {
        let context = contexts.get(fi).copied().flatten();
        verify_function(m, f, fi, context, &mut owner).map_err(|(pc, problem)| {
            VerifyError::Code {
                function: f.name.clone(),
                pc,
                problem,
            }
        })?;
    }
    verify_segments_acyclic(m)?;
    Ok(())
}

fn verify_function(
    m: &Module,
    f: &Function,
    fi: usize,
    context: Option<EventId>,
    owner: &mut [Option<usize>],
) -> Result<(), (u32, Problem)> {
    let len = f.code.len();
    if f.spans.len() != len {
        return Err((
            0,
            Problem::SpanTable {
                spans: f.spans.len(),
                code: len,
            },
        ));
    }
    if len == 0 {
        return Err((0, Problem::FallsOffEnd));
    }
    let pc_ok = |target: u32| -> Result<(), Problem> {
        if (target as usize) < len {
            Ok(())
        } else {
            Err(Problem::BadJump { target, len })
        }
    };
    let mut claim = |slot: usize| -> Result<(), Problem> {
        match owner.get_mut(slot) {
            Some(o @ None) => {
                *o = Some(fi);
                Ok(())
            }
            Some(Some(prev)) if *prev == fi => Ok(()),
            _ => Err(Problem::SharedDescriptor),
        }
    };
    let (wf_base, split_base) = (0, m.wait_fors.len());
    let esc_base = split_base + m.splits.len();

    // Operands and successor edges.
    let mut succ: Vec<Vec<u32>> = Vec::with_capacity(len);
    for (pc, (instr, span)) in f.code.iter().zip(&f.spans).enumerate() {
        let at = |p: Problem| (u32::try_from(pc).unwrap_or(u32::MAX), p);
        if span.has_file() && span.file as usize >= m.files.len() {
            return Err(at(Problem::BadSpanFile(span.file)));
        }
        if f.kind == FunctionKind::Expr && instr.is_statement() {
            return Err(at(Problem::StatementInExpression(instr.mnemonic())));
        }
        let next = u32::try_from(pc + 1).unwrap_or(u32::MAX);
        let max_event_fields = m
            .schemas
            .events
            .iter()
            .map(|e| e.fields.len())
            .max()
            .unwrap_or(0);
        let operand: Result<Vec<u32>, Problem> = (|| {
            Ok(match *instr {
                Instr::Const(c) => {
                    check("constant", &m.consts, c as usize)?;
                    vec![next]
                }
                Instr::Format(s) => {
                    check("string", &m.strings, s as usize)?;
                    vec![next]
                }
                Instr::LoadProfile(field) => {
                    check("profile field", &m.schemas.profile, field as usize)?;
                    vec![next]
                }
                Instr::LoadEvent(field) => {
                    // Exact when the function's event is known; a function
                    // no table refers to is checked against every event.
                    if let Some(e) = context.and_then(|e| m.schemas.events.get(e as usize)) {
                        check("event field", &e.fields, field as usize)?;
                    } else if field as usize >= max_event_fields {
                        return Err(Problem::BadIndex {
                            table: "event field",
                            index: field as usize,
                            len: max_event_fields,
                        });
                    }
                    vec![next]
                }
                Instr::LoadEventByName(s) => {
                    check("string", &m.strings, s as usize)?;
                    vec![next]
                }
                Instr::LoadLast(q, field) => {
                    check("query", &m.queries, q as usize)?;
                    let e = m.queries[q as usize].event.event;
                    check("event", &m.schemas.events, e as usize)?;
                    check(
                        "event field",
                        &m.schemas.events[e as usize].fields,
                        field as usize,
                    )?;
                    vec![next]
                }
                Instr::LoadReceived(e, field) => {
                    check("event", &m.schemas.events, e as usize)?;
                    check(
                        "event field",
                        &m.schemas.events[e as usize].fields,
                        field as usize,
                    )?;
                    vec![next]
                }
                Instr::Ago(d)
                | Instr::InactiveFor(d)
                | Instr::Wait(d)
                | Instr::WaitFromEscalation(d) => {
                    check("duration", &m.durations, d as usize)?;
                    vec![next]
                }
                Instr::Did(q) => {
                    check("query", &m.queries, q as usize)?;
                    vec![next]
                }
                Instr::InSegment(s) => {
                    check("segment", &m.segments, s as usize)?;
                    vec![next]
                }
                Instr::Send(msg) => {
                    check("message", &m.messages, msg as usize)?;
                    vec![next]
                }
                Instr::WaitUntil(w) | Instr::WaitUntilTime(Some(w)) => {
                    check("wait until", &m.wait_untils, w as usize)?;
                    vec![next]
                }
                Instr::WaitFor(w) => {
                    check("wait for", &m.wait_fors, w as usize)?;
                    claim(wf_base + w as usize)?;
                    let d = &m.wait_fors[w as usize];
                    pc_ok(d.then_pc)?;
                    pc_ok(d.else_pc)?;
                    vec![d.then_pc, d.else_pc]
                }
                Instr::Split(s) => {
                    check("split", &m.splits, s as usize)?;
                    claim(split_base + s as usize)?;
                    let d = &m.splits[s as usize];
                    let mut out = Vec::with_capacity(d.arms.len() + 1);
                    for a in &d.arms {
                        pc_ok(a.pc)?;
                        out.push(a.pc);
                    }
                    pc_ok(d.end_pc)?;
                    out.push(d.end_pc);
                    out
                }
                Instr::EscalateBegin(e) => {
                    check("escalation", &m.escalations, e as usize)?;
                    claim(esc_base + e as usize)?;
                    let d = &m.escalations[e as usize];
                    pc_ok(d.end_pc)?;
                    vec![next, d.end_pc]
                }
                Instr::Jump(t) => {
                    pc_ok(t)?;
                    vec![t]
                }
                Instr::JumpIfFalse(t)
                | Instr::JumpIfFalseKeep(t)
                | Instr::JumpIfTrueKeep(t)
                | Instr::JumpIfSomeKeep(t) => {
                    pc_ok(t)?;
                    vec![next, t]
                }
                Instr::Return | Instr::Exit => vec![],
                _ => vec![next],
            })
        })();
        let targets = operand.map_err(at)?;
        if targets.iter().any(|&t| t as usize >= len) {
            return Err(at(Problem::FallsOffEnd));
        }
        succ.push(targets);
    }

    // Stack depths by abstract interpretation.
    let mut depth: Vec<Option<u32>> = vec![None; len];
    depth[0] = Some(0);
    let mut work = vec![0u32];
    while let Some(pc) = work.pop() {
        let p = pc as usize;
        let d = depth[p].unwrap_or(0);
        let instr = f.code[p];
        let at = |problem| (pc, problem);
        let (pops, pushes) = instr.stack_effect();
        if d < pops {
            return Err(at(Problem::StackUnderflow));
        }
        // A statement leaves the stack empty (a journey keeps no stack
        // while it waits): it runs with its operands only.
        if instr.is_statement() && d != pops {
            return Err(at(Problem::StatementOnStack(d - pops)));
        }
        if let Instr::Return = instr {
            let expected = match f.kind {
                FunctionKind::Body => 0,
                FunctionKind::Expr => 1,
            };
            if d != expected {
                return Err(at(Problem::BadReturn { found: d, expected }));
            }
        }
        let after = d - pops + pushes;
        for (i, &t) in succ[p].iter().enumerate() {
            // Keep-jumps keep their operand on the taken edge.
            let edge = match instr {
                Instr::JumpIfFalseKeep(_) | Instr::JumpIfTrueKeep(_) | Instr::JumpIfSomeKeep(_)
                    if i == 1 =>
                {
                    after + 1
                }
                _ => after,
            };
            match depth[t as usize] {
                None => {
                    depth[t as usize] = Some(edge);
                    work.push(t);
                }
                Some(existing) if existing != edge => {
                    return Err((t, Problem::StackMismatch(edge, existing)));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

fn segment_refs(m: &Module, f: FunctionId, out: &mut Vec<SegmentId>, seen: &mut Vec<bool>) {
    let Some(func) = m.functions.get(f as usize) else {
        return;
    };
    if seen[f as usize] {
        return;
    }
    seen[f as usize] = true;
    for instr in &func.code {
        match *instr {
            Instr::InSegment(s) => out.push(s),
            Instr::Did(q) => {
                if let Some(filter) = m.queries.get(q as usize).and_then(|q| q.event.filter) {
                    segment_refs(m, filter, out, seen);
                }
            }
            _ => {}
        }
    }
}

fn verify_segments_acyclic(m: &Module) -> Result<(), VerifyError> {
    let edges: Vec<Vec<SegmentId>> = m
        .segments
        .iter()
        .map(|s| {
            let mut out = Vec::new();
            let mut seen = vec![false; m.functions.len()];
            segment_refs(m, s.predicate, &mut out, &mut seen);
            out
        })
        .collect();
    // 0 = unvisited, 1 = on the path, 2 = done.
    let mut state = vec![0u8; edges.len()];
    fn visit(i: usize, edges: &[Vec<SegmentId>], state: &mut [u8]) -> bool {
        state[i] = 1;
        for &j in &edges[i] {
            let j = j as usize;
            if j >= state.len() {
                continue;
            }
            if state[j] == 1 || (state[j] == 0 && !visit(j, edges, state)) {
                return false;
            }
        }
        state[i] = 2;
        true
    }
    for i in 0..edges.len() {
        if state[i] == 0 && !visit(i, &edges, &mut state) {
            return Err(VerifyError::Table {
                table: "segment",
                index: i,
                problem: Problem::SegmentCycle(m.segments[i].name.clone()),
            });
        }
    }
    Ok(())
}
