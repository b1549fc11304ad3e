//! `test` blocks: profiles and events against their schemas, names of
//! workflows, goals and templates, and test time; each block lowered into
//! an [`ir::Test`] for the test runner.

use nudge_syntax::ast::{
    self, ExpectKind, ExpectTime, JourneyState, Object, TestAction, TestStep, TimeRef, Value,
};
use nudge_syntax::{SourceFile, Span};

use crate::checker::{items, Checker, Dep};
use crate::ir::{self, Const, EventId, FieldId, FileId, Loc, Schema, WorkflowId};
use crate::messages::{self, ConstantSite, Owner};
use crate::references::Target;
use crate::suggest;
use crate::template::channel_fields;

impl Checker<'_> {
    pub(crate) fn check_tests(&mut self) {
        let parsed = self.parsed;
        for (file, item) in items(parsed) {
            let ast::Item::Test(test) = item else {
                continue;
            };
            if !self.in_focus(file) {
                continue;
            }
            let outer = self.set_owner(Some((file, test.name.span.start)));
            let lowered = self.test(file, test);
            self.tests.push(lowered);
            self.set_owner(outer);
        }
    }

    /// Checks one `test` block and lowers it. (The lowered test only runs
    /// when the project has no error, so what an error leaves out of it
    /// does not matter.)
    fn test(&mut self, file: FileId, test: &ast::TestDecl) -> ir::Test {
        let source = self.parsed[file.index()].source.clone();
        let mut lowered = ir::Test {
            name: test.name.as_plain().unwrap_or_default(),
            loc: Loc {
                file,
                span: test.span,
            },
            name_span: test.name.span,
            profiles: Vec::new(),
            history: Vec::new(),
            arms: Vec::new(),
            steps: Vec::new(),
            expectations: Vec::new(),
        };
        let mut absolute = false;
        // History (`given … did … at -2d`) may come before the first `at`
        // in the text; its offsets count from that `at` all the same.
        let has_absolute_at = test.steps.iter().any(|s| {
            matches!(
                s,
                TestStep::At {
                    at: TimeRef::Absolute(_),
                    ..
                }
            )
        });
        let mut offsets_in_expect: Vec<Span> = Vec::new();
        for step in &test.steps {
            match step {
                TestStep::GivenProfile { id, attributes, .. } => {
                    let schema = self.profile.clone();
                    let values =
                        self.values(file, attributes, &schema, Owner::Profile, Some(id.span));
                    lowered.profiles.push((plain(id), values));
                }
                TestStep::GivenEvent {
                    id,
                    event,
                    properties,
                    at,
                    ..
                } => {
                    if !has_absolute_at {
                        self.test_time(file, at, &mut absolute, true);
                    }
                    if let Some((event, properties)) =
                        self.test_event(file, event, properties.as_ref())
                    {
                        lowered.history.push(ir::PastEvent {
                            profile: plain(id),
                            event,
                            properties,
                            at: test_time(at),
                        });
                    }
                }
                TestStep::GivenArm { id, arm, .. } => {
                    if let Some(target) = self.arm_target(file, arm) {
                        lowered.arms.push((plain(id), target));
                    }
                }
                TestStep::At {
                    at,
                    id,
                    action,
                    span,
                } => {
                    self.test_time(file, at, &mut absolute, false);
                    let action = match action {
                        TestAction::Does { event, properties } => self
                            .test_event(file, event, properties.as_ref())
                            .map(|(event, properties)| ir::TestAction::Does { event, properties }),
                        TestAction::Identify { traits } => {
                            let schema = self.profile.clone();
                            let values = self.values(file, traits, &schema, Owner::Profile, None);
                            Some(ir::TestAction::Identify(values))
                        }
                    };
                    if let Some(action) = action {
                        lowered.steps.push(ir::TestStep {
                            at: test_time(at),
                            profile: plain(id),
                            action,
                            span: *span,
                        });
                    }
                }
                TestStep::Expect(ast::Expectation {
                    kind: ExpectKind::Arm { id, arm },
                    span,
                }) => {
                    if let Some(target) = self.arm_target(file, arm) {
                        lowered.expectations.push(ir::Expectation {
                            kind: ir::Expect::Arm {
                                profile: plain(id),
                                arm: target,
                            },
                            span: trimmed(&source, *span),
                        });
                    }
                }
                TestStep::Expect(e) => {
                    if let Some(kind) = self.expectation(&e.kind) {
                        lowered.expectations.push(ir::Expectation {
                            kind,
                            span: trimmed(&source, e.span),
                        });
                    }
                    match &e.kind {
                        ExpectKind::Messages {
                            channel,
                            template,
                            time,
                            with,
                            ..
                        } => {
                            if let Some(name) = template {
                                if let Some(&id) = self.template_names.get(&name.name) {
                                    let target = Target::Template(name.name.clone());
                                    self.refer(file, name.span, target);
                                    let t = &self.templates[id.index()];
                                    let tc = t.decl.channel.channel;
                                    if let Some(c) = channel {
                                        if c.channel != tc {
                                            let d = messages::expected_template_channel_mismatch(
                                                name.span, &name.name, tc, c.channel,
                                            );
                                            self.emit(file, d);
                                        }
                                    }
                                } else {
                                    let suggestion = suggest::closest(
                                        &name.name,
                                        self.templates.iter().map(|t| t.decl.name.name.as_str()),
                                    );
                                    let d = messages::unknown_template_in_test(
                                        name.span, &name.name, suggestion,
                                    );
                                    self.emit(file, d);
                                }
                            }
                            for (field, _) in with {
                                let allowed: Vec<&str> = match channel {
                                    Some(c) => channel_fields(c.channel).to_vec(),
                                    None => {
                                        let mut all: Vec<&str> = nudge_syntax::ast::Channel::ALL
                                            .iter()
                                            .flat_map(|c| channel_fields(*c).iter().copied())
                                            .collect();
                                        all.sort_unstable();
                                        all.dedup();
                                        all
                                    }
                                };
                                if !allowed.contains(&field.name.as_str()) {
                                    let suggestion =
                                        suggest::closest(&field.name, allowed.iter().copied());
                                    let d = messages::unknown_expected_message_field(
                                        field.span,
                                        channel.map(|c| c.channel),
                                        &field.name,
                                        suggestion,
                                        &allowed,
                                    );
                                    self.emit(file, d);
                                }
                            }
                            match time {
                                Some(ExpectTime::At(TimeRef::Offset { span, .. })) => {
                                    offsets_in_expect.push(*span)
                                }
                                Some(ExpectTime::Between(a, b)) => {
                                    for t in [a, b] {
                                        if let TimeRef::Offset { span, .. } = t {
                                            offsets_in_expect.push(*span);
                                        }
                                    }
                                }
                                _ => {}
                            }
                        }
                        ExpectKind::Arm { .. } => {}
                        ExpectKind::Journey { state, target, .. } => {
                            if *state == JourneyState::ReachedGoal {
                                self.depend(Dep::Goals);
                                let goals: Vec<String> = self
                                    .workflows
                                    .iter()
                                    .flat_map(|(_, w)| w.clauses.iter())
                                    .filter_map(|c| match c {
                                        ast::Clause::Goal(g) => Some(g.name.name.clone()),
                                        _ => None,
                                    })
                                    .collect();
                                if goals.contains(&target.name) {
                                    let goal = Target::Goal {
                                        workflow: None,
                                        goal: target.name.clone(),
                                    };
                                    self.refer(file, target.span, goal);
                                } else {
                                    let suggestion = suggest::closest(
                                        &target.name,
                                        goals.iter().map(String::as_str),
                                    );
                                    let d = messages::unknown_goal(
                                        target.span,
                                        &target.name,
                                        suggestion,
                                    );
                                    self.emit(file, d);
                                }
                            } else if self.workflow_names.contains_key(&target.name) {
                                let workflow = Target::Workflow(target.name.clone());
                                self.refer(file, target.span, workflow);
                            } else {
                                let suggestion = suggest::closest(
                                    &target.name,
                                    self.workflows.iter().map(|(_, w)| w.name.name.as_str()),
                                );
                                let d = messages::unknown_workflow(
                                    target.span,
                                    &target.name,
                                    suggestion,
                                );
                                self.emit(file, d);
                            }
                        }
                    }
                }
            }
        }
        if !absolute {
            if let Some(span) = offsets_in_expect.first() {
                self.emit(file, messages::no_absolute_time(*span));
            }
        }
        lowered
    }

    /// The arm a test names, when its split and arm exist (else the
    /// problem, reported).
    fn arm_target(&mut self, file: FileId, arm: &ast::ArmRef) -> Option<ir::ArmTarget> {
        // Every split of every workflow (in the workflow's scope): its
        // workflow, its name and its arms' names.
        self.depend(Dep::Splits);
        let mut splits: Vec<(String, String, Vec<String>)> = Vec::new();
        for (_, w) in &self.workflows {
            collect_splits(&w.body, &mut |s| {
                let arms = s
                    .arms
                    .iter()
                    .enumerate()
                    .map(|(i, a)| match &a.name {
                        Some(n) => n.name.to_string(),
                        None => nudge_core::percent::default_arm_name(i),
                    })
                    .collect();
                splits.push((w.name.name.to_string(), s.name.name.to_string(), arms));
            });
        }
        let named = arm.split.name.as_str();
        let candidates: Vec<&(String, String, Vec<String>)> = splits
            .iter()
            .filter(|(w, s, _)| {
                s == named && arm.workflow.as_ref().is_none_or(|ww| ww.name.as_str() == w)
            })
            .collect();
        let (workflow, split, arms) = match candidates.as_slice() {
            [one] => *one,
            [] => {
                let within: Vec<&str> = splits
                    .iter()
                    .filter(|(w, _, _)| {
                        arm.workflow.as_ref().is_none_or(|ww| ww.name.as_str() == w)
                    })
                    .map(|(_, s, _)| s.as_str())
                    .collect();
                let suggestion = suggest::closest(named, within.iter().copied());
                let d = messages::unknown_split(
                    arm.split.span,
                    named,
                    arm.workflow.as_ref().map(|w| w.name.as_str()),
                    suggestion,
                );
                self.emit(file, d);
                return None;
            }
            many => {
                let workflows: Vec<&str> = many.iter().map(|(w, _, _)| w.as_str()).collect();
                let d = messages::ambiguous_split(arm.split.span, named, &workflows);
                self.emit(file, d);
                return None;
            }
        };
        if !arms.iter().any(|a| *a == arm.arm.name.as_str()) {
            let d = messages::unknown_arm(arm.arm.span, &arm.arm.name, split, arms);
            self.emit(file, d);
            return None;
        }
        Some(ir::ArmTarget {
            workflow: workflow.clone(),
            split: split.clone(),
            arm: arm.arm.name.to_string(),
        })
    }

    /// The lowered form of an expectation whose names resolve.
    fn expectation(&self, kind: &ExpectKind) -> Option<ir::Expect> {
        Some(match kind {
            ExpectKind::Arm { .. } => return None,
            ExpectKind::Messages {
                count,
                channel,
                template,
                to,
                time,
                with,
            } => ir::Expect::Messages {
                count: *count,
                channel: channel.map(|c| c.channel),
                template: match template {
                    Some(t) => Some(*self.template_names.get(&t.name)?),
                    None => None,
                },
                to: to.as_ref().map(plain),
                time: time.as_ref().map(|t| match t {
                    ExpectTime::At(at) => ir::ExpectTime::At(test_time(at)),
                    ExpectTime::Between(a, b) => {
                        ir::ExpectTime::Between(test_time(a), test_time(b))
                    }
                    ExpectTime::Within(d) => ir::ExpectTime::Within(d.seconds),
                }),
                with: with
                    .iter()
                    .map(|(field, text)| (field.name.clone(), plain(text)))
                    .collect(),
            },
            ExpectKind::Journey { id, state, target } => ir::Expect::Journey {
                profile: plain(id),
                state: *state,
                target: if *state == JourneyState::ReachedGoal {
                    ir::JourneyTarget::Goal(target.name.clone())
                } else {
                    let index = *self.workflow_names.get(&target.name)?;
                    ir::JourneyTarget::Workflow(WorkflowId(u32::try_from(index).ok()?))
                },
            },
        })
    }

    fn test_time(&mut self, file: FileId, t: &TimeRef, absolute: &mut bool, given: bool) {
        match t {
            TimeRef::Absolute(_) => {
                if !given {
                    *absolute = true;
                }
            }
            TimeRef::Offset { span, .. } => {
                if !*absolute {
                    self.emit(file, messages::relative_first_at(*span));
                    *absolute = true;
                }
            }
        }
    }

    /// Checks a test event and its properties; the event and the values
    /// that check.
    fn test_event(
        &mut self,
        file: FileId,
        event: &ast::Ident,
        properties: Option<&Object>,
    ) -> Option<(EventId, Vec<(FieldId, Const)>)> {
        let id = self.event_ref(file, event)?;
        let schema = self.events[id.index()].schema.clone();
        let owner = Owner::Event(&event.name);
        let values = match properties {
            Some(obj) => self.values(file, obj, &schema, owner, Some(event.span)),
            None => {
                self.missing(file, &schema, &[], owner, event.span, false);
                Vec::new()
            }
        };
        Some((id, values))
    }

    /// Checks the values of a test object against a schema; `required`
    /// anchors the report of missing required fields. Returns the values
    /// that check, typed.
    fn values(
        &mut self,
        file: FileId,
        obj: &Object,
        schema: &Schema,
        owner: Owner<'_>,
        required: Option<Span>,
    ) -> Vec<(FieldId, Const)> {
        let mut typed = Vec::new();
        let mut given: Vec<&str> = Vec::new();
        for f in &obj.fields {
            if schema.field(&f.name.name).is_some() {
                let target = match owner {
                    Owner::Event(event) => Target::EventField {
                        event: event.to_owned(),
                        field: f.name.name.clone(),
                    },
                    Owner::Profile | Owner::EveryTrigger => {
                        Target::ProfileField(f.name.name.clone())
                    }
                };
                self.refer(file, f.name.span, target);
            }
            if given.contains(&f.name.name.as_str()) {
                let d = messages::duplicate_test_value(f.name.span, &f.name.name);
                self.emit(file, d);
                continue;
            }
            given.push(&f.name.name);
            let Some(fid) = schema.field(&f.name.name) else {
                let fields: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
                let suggestion = suggest::closest(&f.name.name, fields.iter().copied());
                let d = messages::unknown_test_field(
                    f.name.span,
                    owner,
                    &f.name.name,
                    suggestion,
                    &fields,
                );
                self.emit(file, d);
                continue;
            };
            let ty = schema.fields[fid.index()].ty.clone();
            match &f.value {
                Value::Expr(e) => {
                    if let Some(c) =
                        self.constant(file, e, &ty, ConstantSite::TestValue(&f.name.name))
                    {
                        typed.push((fid, c));
                    }
                }
                other => {
                    let d = messages::test_value_not_constant(
                        other.span(),
                        &f.name.name,
                        &self.type_name(&ty),
                    );
                    self.emit(file, d);
                }
            }
        }
        if let Some(anchor) = required {
            self.missing(file, schema, &given, owner, anchor, true);
        }
        typed
    }

    fn missing(
        &mut self,
        file: FileId,
        schema: &Schema,
        given: &[&str],
        owner: Owner<'_>,
        anchor: Span,
        _object: bool,
    ) {
        let missing: Vec<&str> = schema
            .fields
            .iter()
            .filter(|f| f.required() && f.name != "id" && !given.contains(&f.name.as_str()))
            .map(|f| f.name.as_str())
            .collect();
        if missing.is_empty() {
            return;
        }
        let d = messages::missing_property(anchor, owner, &missing);
        self.emit(file, d);
    }
}

/// A test time as written.
fn test_time(t: &TimeRef) -> ir::TestTime {
    match t {
        TimeRef::Absolute(ts) => ir::TestTime::At(ts.value),
        TimeRef::Offset { seconds, .. } => ir::TestTime::Offset(*seconds),
    }
}

/// The text of a string without interpolation (test names and profile ids
/// always are).
fn plain(s: &ast::StringLit) -> String {
    s.as_plain().unwrap_or_default()
}

/// `span` without the blank lines and comments after it: what a failed
/// expectation points at.
fn trimmed(source: &SourceFile, span: Span) -> Span {
    let text = source.text();
    let (start, end) = (span.start as usize, span.end as usize);
    let Some(piece) = text.get(start..end) else {
        return span;
    };
    let mut keep = piece.len();
    // Drop whole trailing lines that are blank or comments.
    loop {
        let body = piece[..keep].trim_end();
        let last_line_start = body.rfind('\n').map_or(0, |i| i + 1);
        let last = body[last_line_start..].trim_start();
        keep = body.len();
        if last_line_start > 0 && (last.starts_with("//") || last.is_empty()) {
            keep = last_line_start;
            continue;
        }
        break;
    }
    Span::new(start, start + keep)
}

/// Calls `found` for every `split` among `stmts`, nested ones too.
pub(crate) fn collect_splits(stmts: &[ast::Stmt], found: &mut dyn FnMut(&ast::SplitStmt)) {
    for s in stmts {
        match s {
            ast::Stmt::Split(split) => {
                found(split);
                for a in &split.arms {
                    collect_splits(&a.body.stmts, found);
                }
            }
            ast::Stmt::If(i) => {
                for b in &i.branches {
                    collect_splits(&b.block.stmts, found);
                }
                if let Some(e) = &i.else_block {
                    collect_splits(&e.stmts, found);
                }
            }
            ast::Stmt::WaitFor(w) => {
                for b in [&w.then_block, &w.else_block].into_iter().flatten() {
                    collect_splits(&b.stmts, found);
                }
            }
            _ => {}
        }
    }
}
