//! `test` blocks: profiles and events against their schemas, names of
//! workflows, goals and templates, and test time.

use nudge_syntax::ast::{
    self, ExpectKind, ExpectTime, JourneyState, Object, TestAction, TestStep, TimeRef, Value,
};
use nudge_syntax::{Diagnostic, Span};

use crate::checker::{items, Checker};
use crate::codes;
use crate::ir::{FileId, Schema};
use crate::suggest;
use crate::template::channel_fields;

impl Checker<'_> {
    pub(crate) fn check_tests(&mut self) {
        let parsed = self.parsed;
        for (file, item) in items(parsed) {
            let ast::Item::Test(test) = item else {
                continue;
            };
            self.test(file, test);
        }
    }

    fn test(&mut self, file: FileId, test: &ast::TestDecl) {
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
                    self.values(file, attributes, &schema, "the profile", Some(id.span));
                }
                TestStep::GivenEvent {
                    event,
                    properties,
                    at,
                    ..
                } => {
                    if !has_absolute_at {
                        self.test_time(file, at, &mut absolute, true);
                    }
                    self.test_event(file, event, properties.as_ref());
                }
                TestStep::At { at, action, .. } => {
                    self.test_time(file, at, &mut absolute, false);
                    match action {
                        TestAction::Does { event, properties } => {
                            self.test_event(file, event, properties.as_ref())
                        }
                        TestAction::Identify { traits } => {
                            let schema = self.profile.clone();
                            self.values(file, traits, &schema, "the profile", None);
                        }
                    }
                }
                TestStep::Expect(e) => match &e.kind {
                    ExpectKind::Messages {
                        channel,
                        template,
                        time,
                        with,
                        ..
                    } => {
                        if let Some(name) = template {
                            if let Some(&id) = self.template_names.get(&name.name) {
                                let t = &self.templates[id.index()];
                                let tc = t.decl.channel.channel;
                                if let Some(c) = channel {
                                    if c.channel != tc {
                                        let d = Diagnostic::error(
                                            codes::TEMPLATE_CHANNEL_MISMATCH,
                                            format!(
                                                "template `{}` is for `{}`, not `{}`",
                                                name.name,
                                                tc.as_str(),
                                                c.channel.as_str()
                                            ),
                                        )
                                        .with_primary(
                                            name.span,
                                            format!("a `{}` template", tc.as_str()),
                                        )
                                        .with_help(format!(
                                            "write `expect {} {}`",
                                            tc.as_str(),
                                            name.name
                                        ));
                                        self.emit(file, d);
                                    }
                                }
                            } else {
                                let help = suggest::did_you_mean(
                                    &name.name,
                                    self.templates.iter().map(|t| t.decl.name.name.as_str()),
                                )
                                .unwrap_or_else(|| "name a declared template".to_owned());
                                let d = Diagnostic::error(
                                    codes::UNKNOWN_TEMPLATE,
                                    format!("unknown template `{}`", name.name),
                                )
                                .with_primary(name.span, "no template of this name")
                                .with_help(help);
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
                                let help =
                                    suggest::did_you_mean(&field.name, allowed.iter().copied())
                                        .unwrap_or_else(|| {
                                            format!(
                                                "messages here have {}",
                                                suggest::one_of(allowed.iter().copied())
                                            )
                                        });
                                let d = Diagnostic::error(
                                    codes::UNKNOWN_MESSAGE_FIELD,
                                    match channel {
                                        Some(c) => format!(
                                            "`{}` messages have no field `{}`",
                                            c.channel.as_str(),
                                            field.name
                                        ),
                                        None => format!("no channel has a field `{}`", field.name),
                                    },
                                )
                                .with_primary(field.span, "unknown field")
                                .with_help(help);
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
                    ExpectKind::Journey { state, target, .. } => {
                        if *state == JourneyState::ReachedGoal {
                            let goals: Vec<String> = self
                                .workflows
                                .iter()
                                .flat_map(|(_, w)| w.clauses.iter())
                                .filter_map(|c| match c {
                                    ast::Clause::Goal(g) => Some(g.name.name.clone()),
                                    _ => None,
                                })
                                .collect();
                            if !goals.contains(&target.name) {
                                let help = suggest::did_you_mean(
                                    &target.name,
                                    goals.iter().map(String::as_str),
                                )
                                .unwrap_or_else(|| {
                                    "name a goal declared with `goal NAME = …` in a workflow"
                                        .to_owned()
                                });
                                let d = Diagnostic::error(
                                    codes::UNKNOWN_GOAL,
                                    format!("no workflow has a goal `{}`", target.name),
                                )
                                .with_primary(target.span, "unknown goal")
                                .with_help(help);
                                self.emit(file, d);
                            }
                        } else if !self.workflow_names.contains_key(&target.name) {
                            let help = suggest::did_you_mean(
                                &target.name,
                                self.workflows.iter().map(|(_, w)| w.name.name.as_str()),
                            )
                            .unwrap_or_else(|| "name a declared workflow".to_owned());
                            let d = Diagnostic::error(
                                codes::UNKNOWN_WORKFLOW,
                                format!("unknown workflow `{}`", target.name),
                            )
                            .with_primary(target.span, "no workflow of this name")
                            .with_help(help);
                            self.emit(file, d);
                        }
                    }
                },
            }
        }
        if !absolute {
            if let Some(span) = offsets_in_expect.first() {
                let d = Diagnostic::error(
                    codes::RELATIVE_FIRST_AT,
                    "this test has no absolute time to count from",
                )
                .with_primary(*span, "relative to nothing")
                .with_help(
                    "start the test with an absolute time: `at 2026-03-01T10:00:00Z \"u1\" does …`",
                );
                self.emit(file, d);
            }
        }
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
                    let d = Diagnostic::error(codes::RELATIVE_FIRST_AT, "the first time of a test must be absolute")
                        .with_primary(*span, "relative to nothing yet")
                        .with_help("offsets such as `+30m` count from the test's first absolute `at`; write one first, such as `at 2026-03-01T10:00:00Z`");
                    self.emit(file, d);
                    *absolute = true;
                }
            }
        }
    }

    fn test_event(&mut self, file: FileId, event: &ast::Ident, properties: Option<&Object>) {
        let Some(id) = self.event_ref(file, event) else {
            return;
        };
        let schema = self.events[id.index()].schema.clone();
        let owner = format!("event `{}`", event.name);
        match properties {
            Some(obj) => self.values(file, obj, &schema, &owner, Some(event.span)),
            None => self.missing(file, &schema, &[], &owner, event.span, false),
        }
    }

    /// Checks the values of a test object against a schema; `required`
    /// anchors the report of missing required fields.
    fn values(
        &mut self,
        file: FileId,
        obj: &Object,
        schema: &Schema,
        owner: &str,
        required: Option<Span>,
    ) {
        let mut given: Vec<&str> = Vec::new();
        for f in &obj.fields {
            if given.contains(&f.name.name.as_str()) {
                let d = Diagnostic::error(
                    codes::DUPLICATE_FIELD,
                    format!("`{}` is given twice", f.name.name),
                )
                .with_primary(f.name.span, "given again here")
                .with_help("remove one of them");
                self.emit(file, d);
                continue;
            }
            given.push(&f.name.name);
            let Some(fid) = schema.field(&f.name.name) else {
                let help = suggest::did_you_mean(
                    &f.name.name,
                    schema.fields.iter().map(|f| f.name.as_str()),
                )
                .unwrap_or_else(|| {
                    format!(
                        "{owner} has {}",
                        suggest::one_of(schema.fields.iter().map(|f| f.name.as_str()))
                    )
                });
                let d = Diagnostic::error(
                    codes::UNKNOWN_PROPERTY,
                    format!("{owner} has no field `{}`", f.name.name),
                )
                .with_primary(f.name.span, "unknown field")
                .with_help(help);
                self.emit(file, d);
                continue;
            };
            let ty = schema.fields[fid.index()].ty.clone();
            match &f.value {
                Value::Expr(e) => {
                    let _ = self.constant(file, e, &ty, &format!("`{}`", f.name.name));
                }
                other => {
                    let d = Diagnostic::error(
                        codes::TYPE_MISMATCH,
                        format!("`{}` must be a constant", f.name.name),
                    )
                    .with_primary(other.span(), "not a value")
                    .with_help(format!("write a `{}` literal", self.type_name(&ty)));
                    self.emit(file, d);
                }
            }
        }
        if let Some(anchor) = required {
            self.missing(file, schema, &given, owner, anchor, true);
        }
    }

    fn missing(
        &mut self,
        file: FileId,
        schema: &Schema,
        given: &[&str],
        owner: &str,
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
        let list = suggest::all_of(missing.iter().copied());
        let d = Diagnostic::error(codes::MISSING_PROPERTY, format!("{owner} needs {list}"))
            .with_primary(
                anchor,
                format!(
                    "{} required field{} missing",
                    missing.len(),
                    if missing.len() == 1 { "" } else { "s" }
                ),
            )
            .with_help(format!(
                "give {list}; only optional fields and fields with a default may be left out"
            ));
        self.emit(file, d);
    }
}
