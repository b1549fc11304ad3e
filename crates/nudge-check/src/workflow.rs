//! Workflows: triggers and clauses, statements along every path (what is
//! narrowed, what was received, how much time has passed), sends and their
//! channel addresses, and the policy.

use nudge_syntax::ast::{self, Channel, Clause, Content, DaySpec, EntryRule, Priority, Stmt, Zone};
use nudge_syntax::{Diagnostic, Span};

use crate::checker::{Checker, Cx, EventScope, Key, NoEvent};
use crate::codes;
use crate::ir::{self, EventId, FileId, Loc};
use crate::suggest;

const DAY: i64 = 86_400;

/// What is known at a point of a workflow.
#[derive(Clone, Debug)]
pub(crate) struct Flow {
    facts: Vec<Key>,
    received: Vec<EventId>,
    /// Least and most time since entry.
    min: i64,
    max: i64,
    /// Whether some wait may have passed.
    waited: bool,
    /// After `exit`.
    dead: bool,
}

impl Flow {
    fn merge(a: Flow, b: Flow) -> Flow {
        if a.dead {
            return b;
        }
        if b.dead {
            return a;
        }
        Flow {
            facts: a
                .facts
                .iter()
                .filter(|k| b.facts.contains(k))
                .cloned()
                .collect(),
            received: a
                .received
                .iter()
                .filter(|k| b.received.contains(k))
                .copied()
                .collect(),
            min: a.min.min(b.min),
            max: a.max.max(b.max),
            waited: a.waited || b.waited,
            dead: false,
        }
    }

    fn with_facts(&self, facts: Vec<Key>) -> Flow {
        let mut f = self.clone();
        for k in facts {
            if !f.facts.contains(&k) {
                f.facts.push(k);
            }
        }
        f
    }

    fn after(&self, min: i64, max: i64) -> Flow {
        let mut f = self.clone();
        f.min = f.min.saturating_add(min);
        f.max = f.max.saturating_add(max);
        f.waited = f.waited || max > 0;
        f
    }
}

struct Wf {
    base: Cx,
    name: ast::Ident,
    triggers: Vec<EventId>,
    inactive: bool,
    marketing: bool,
    suppressed: bool,
    goals: Vec<(String, i64, Span)>,
    splits: Vec<(String, Span)>,
    reported_suppression: bool,
    reported_goal_window: bool,
}

impl Checker<'_> {
    pub(crate) fn check_workflows(&mut self) -> Vec<ir::WorkflowDef> {
        let mut out = Vec::new();
        for i in 0..self.workflows.len() {
            let (file, decl) = self.workflows[i];
            out.push(self.workflow(file, decl));
        }
        out
    }

    fn workflow(&mut self, file: FileId, decl: &ast::WorkflowDecl) -> ir::WorkflowDef {
        // Triggers first: they decide what `event` means everywhere else.
        let mut trigger_events: Vec<EventId> = Vec::new();
        let mut inactive = false;
        let mut has_on = false;
        for clause in &decl.clauses {
            if let Clause::On { triggers, .. } = clause {
                has_on = true;
                for t in triggers {
                    match t {
                        ast::Trigger::Event(m) => {
                            if let Some(&id) = self.event_names.get(&m.event.name) {
                                if !trigger_events.contains(&id) {
                                    trigger_events.push(id);
                                }
                            }
                        }
                        ast::Trigger::Inactive { .. } => inactive = true,
                    }
                }
            }
        }
        if !has_on {
            let d = Diagnostic::error(
                codes::MISSING_TRIGGER,
                format!("workflow `{}` has no trigger", decl.name.name),
            )
            .with_primary(decl.name.span, "nothing starts this workflow")
            .with_help(
                "add an `on EVENT` clause (or `on inactive for D`) at the top of the workflow",
            );
            self.emit(file, d);
        }
        let trigger_count: usize = decl
            .clauses
            .iter()
            .map(|c| match c {
                Clause::On { triggers, .. } => triggers.len(),
                _ => 0,
            })
            .sum();
        let scope = if inactive {
            EventScope::None(NoEvent::Inactive)
        } else if trigger_events.len() == 1 {
            EventScope::One(trigger_events[0])
        } else if trigger_events.is_empty() {
            EventScope::Many(Vec::new())
        } else {
            EventScope::Many(trigger_events.clone())
        };
        let tag = self.fresh_tag();
        let mut base = Cx::new(file, scope, tag);
        let mut triggers = Vec::new();
        let mut audience: Option<ir::Expr> = None;
        let mut audience_span: Option<Span> = None;
        let mut exits: Vec<ir::EventMatch> = Vec::new();
        let mut entry = ir::Entry::Default;
        let mut entry_span: Option<Span> = None;
        let mut goals: Vec<ir::Goal> = Vec::new();
        let mut goal_spans: Vec<(String, Span, Span, EventId)> = Vec::new();
        let mut priority = Priority::Marketing;
        let mut priority_span: Option<Span> = None;
        for clause in &decl.clauses {
            match clause {
                Clause::On { triggers: ts, .. } => {
                    for t in ts {
                        match t {
                            ast::Trigger::Event(m) => {
                                // With one trigger, what its filter says
                                // holds for `event` in the whole workflow.
                                let only = trigger_count == 1;
                                let tag = if only { base.tag } else { self.fresh_tag() };
                                let (matched, facts) = self.event_match_facts(&base, m, tag);
                                if let (Some(f), Some(mm)) = (&m.filter, &matched) {
                                    let mut fcx = base.clone();
                                    fcx.event = EventScope::One(mm.event);
                                    fcx.tag = tag;
                                    self.lint_condition(&fcx, f);
                                }
                                if only {
                                    base = base.with_facts(&facts);
                                }
                                if let Some(mm) = matched {
                                    triggers.push(ir::Trigger::Event(mm));
                                }
                            }
                            ast::Trigger::Inactive { duration, span } => {
                                self.positive(file, duration, "`inactive for`");
                                triggers.push(ir::Trigger::Inactive {
                                    seconds: duration.seconds,
                                    span: *span,
                                });
                            }
                        }
                    }
                }
                Clause::Audience { condition, span } => {
                    if let Some(first) = audience_span {
                        self.duplicate_clause(
                            file,
                            "audience",
                            *span,
                            first,
                            "combine the conditions with `and`",
                        );
                        continue;
                    }
                    audience_span = Some(*span);
                    let t = self.condition(&base, condition, "`audience`");
                    self.lint_condition(&base, condition);
                    let facts = self.facts_true(&base, condition);
                    base = base.with_facts(&facts);
                    audience = Some(t);
                }
                Clause::ExitOn { events, .. } => {
                    for m in events {
                        if let Some(m) = self.event_match(&base, m) {
                            exits.push(m);
                        }
                    }
                }
                Clause::Entry { rule, span } => {
                    if let Some(first) = entry_span {
                        self.duplicate_clause(file, "entry", *span, first, "keep one `entry` rule");
                        continue;
                    }
                    entry_span = Some(*span);
                    entry = match rule {
                        EntryRule::Once => ir::Entry::Once,
                        EntryRule::OncePer(d) => {
                            self.positive(file, d, "`entry once per`");
                            ir::Entry::OncePer(d.seconds)
                        }
                        EntryRule::Restart => ir::Entry::Restart,
                    };
                }
                Clause::Goal(g) => {
                    if let Some((_, first, _, _)) =
                        goal_spans.iter().find(|(n, ..)| *n == g.name.name)
                    {
                        let d = Diagnostic::error(
                            codes::DUPLICATE_GOAL,
                            format!("goal `{}` is declared twice", g.name.name),
                        )
                        .with_primary(g.name.span, "declared again here")
                        .with_secondary(*first, "first declared here")
                        .with_help("give each goal of a workflow its own name");
                        self.emit(file, d);
                        continue;
                    }
                    self.positive(file, &g.within, "a goal's `within`");
                    if let Some(m) = self.event_match(&base, &g.event) {
                        goal_spans.push((
                            g.name.name.clone(),
                            g.name.span,
                            g.event.event.span,
                            m.event,
                        ));
                        goals.push(ir::Goal {
                            name: g.name.name.clone(),
                            event: m,
                            within: g.within.seconds,
                            span: g.span,
                        });
                    }
                }
                Clause::Priority { level, span, .. } => {
                    if let Some(first) = priority_span {
                        self.duplicate_clause(
                            file,
                            "priority",
                            *span,
                            first,
                            "keep one `priority`",
                        );
                        continue;
                    }
                    priority_span = Some(*span);
                    priority = *level;
                }
            }
        }
        // A goal whose event does not end the journey.
        for (name, _, event_span, event) in &goal_spans {
            if !exits.iter().any(|e| e.event == *event) {
                let ev = self.events[event.index()].name.clone();
                let d = Diagnostic::warning(
                    codes::GOAL_NOT_EXIT,
                    format!("reaching goal `{name}` does not end the journey"),
                )
                .with_primary(*event_span, format!("`{ev}` is not an `exit on` event"))
                .with_help(format!(
                    "add `exit on {ev}` so that converted users stop getting messages"
                ));
                self.emit(file, d);
            }
        }
        let mut wf = Wf {
            base: base.clone(),
            name: decl.name.clone(),
            triggers: trigger_events,
            inactive,
            marketing: priority == Priority::Marketing,
            suppressed: !exits.is_empty() || !goals.is_empty(),
            goals: goals
                .iter()
                .map(|g| (g.name.clone(), g.within, g.span))
                .collect(),
            splits: Vec::new(),
            reported_suppression: false,
            reported_goal_window: false,
        };
        let flow = Flow {
            facts: base.facts.clone(),
            received: Vec::new(),
            min: 0,
            max: 0,
            waited: false,
            dead: false,
        };
        let (body, _) = self.block(&mut wf, &decl.body, flow);
        ir::WorkflowDef {
            name: decl.name.name.clone(),
            triggers,
            audience,
            exits,
            entry,
            goals,
            priority,
            body,
            loc: Loc {
                file,
                span: decl.name.span,
            },
        }
    }

    fn duplicate_clause(&mut self, file: FileId, what: &str, span: Span, first: Span, help: &str) {
        let d = Diagnostic::error(
            codes::DUPLICATE_CLAUSE,
            format!("a workflow has one `{what}` clause"),
        )
        .with_primary(span, "a second one")
        .with_secondary(first, "first one here")
        .with_help(help.to_owned());
        self.emit(file, d);
    }

    fn block(&mut self, wf: &mut Wf, stmts: &[Stmt], mut flow: Flow) -> (Vec<ir::Stmt>, Flow) {
        let mut out = Vec::new();
        // Inside code that is already unreachable, the outer block reported it.
        let mut reported = flow.dead;
        for (i, stmt) in stmts.iter().enumerate() {
            if flow.dead && !reported && i > 0 {
                reported = true;
                let ends = if matches!(stmts[i - 1], Stmt::Exit { .. }) {
                    "the journey ends here"
                } else {
                    "every path through this ends the journey"
                };
                let d = Diagnostic::warning(codes::UNREACHABLE, "this never runs")
                    .with_primary(stmt.span(), "after `exit`")
                    .with_secondary(stmts[i - 1].span(), ends)
                    .with_help("remove these statements, or move the `exit` after them");
                self.emit(wf.base.file, d);
            }
            let (s, next) = self.stmt(wf, stmt, flow.clone());
            out.push(s);
            flow = if flow.dead { flow } else { next };
        }
        (out, flow)
    }

    fn stmt(&mut self, wf: &mut Wf, stmt: &Stmt, flow: Flow) -> (ir::Stmt, Flow) {
        let file = wf.base.file;
        match stmt {
            Stmt::Send(s) => {
                let send = self.send(wf, &s.message, &flow, &[]);
                (ir::Stmt::Send(send), flow)
            }
            Stmt::Wait { duration, span } => {
                self.positive(file, duration, "`wait`");
                let next = flow.after(duration.seconds, duration.seconds);
                (
                    ir::Stmt::Wait {
                        seconds: duration.seconds,
                        span: *span,
                    },
                    next,
                )
            }
            Stmt::WaitUntil(w) => {
                let zone = self.zone(file, w.zone.as_ref());
                let time = i64::from(w.time.minutes) * 60;
                let mut next = flow.clone();
                next.waited = true;
                let day = match &w.day {
                    None => {
                        next.max = next.max.saturating_add(DAY);
                        None
                    }
                    Some(DaySpec::Weekday { weekday, .. }) => {
                        next.max = next.max.saturating_add(7 * DAY);
                        Some(ir::Day::Weekday(*weekday))
                    }
                    Some(DaySpec::Day { number, span }) => {
                        if *number < 0 {
                            let d = Diagnostic::error(
                                codes::INVALID_DAY,
                                "a day number cannot be negative",
                            )
                            .with_primary(*span, "below zero")
                            .with_help(
                                "the entry day is `day 0`; count days after entry from there",
                            );
                            self.emit(file, d);
                        } else {
                            // The target is at least (N-1) days + TIME after entry.
                            let earliest = (*number - 1) * DAY + time;
                            if flow.max > earliest {
                                let d = Diagnostic::warning(
                                    codes::WAIT_UNTIL_PAST,
                                    format!("earlier waits can run past day {number} at {}", nudge_syntax::literal::format_time_of_day(w.time.minutes)),
                                )
                                .with_primary(w.span, format!("up to {} may have passed since entry", nudge_syntax::literal::format_duration(flow.max)))
                                .with_help("a time already past continues at once; pick a later day or shorten the waits before it");
                                self.emit(file, d);
                            }
                            next.min = next.min.max(earliest.max(0));
                            next.max = next.max.max(number * DAY + time);
                        }
                        Some(ir::Day::Number(*number))
                    }
                };
                (
                    ir::Stmt::WaitUntil {
                        minutes: w.time.minutes,
                        zone,
                        day,
                        span: w.span,
                    },
                    next,
                )
            }
            Stmt::WaitFor(w) => {
                let cx = self.flow_cx(wf, &flow, &[]);
                let tag = self.fresh_tag();
                let (m, filter_facts) = self.event_match_facts(&cx, &w.event, tag);
                if let (Some(f), Some(mm)) = (&w.event.filter, &m) {
                    let mut fcx = cx.clone();
                    fcx.event = EventScope::One(mm.event);
                    fcx.tag = tag;
                    self.lint_condition(&fcx, f);
                }
                // In `then`, what the filter said about `event.f` holds for `X.f`.
                let prefix = format!("event@{tag}.");
                let received = format!("recv.{}.", w.event.event.name);
                let then_facts: Vec<Key> = filter_facts
                    .iter()
                    .map(|k| k.replace(&prefix, &received))
                    .collect();
                self.positive(file, &w.within, "`wait for … within`");
                if w.else_block.is_none() {
                    let d = Diagnostic::warning(codes::WAIT_FOR_WITHOUT_ELSE, format!("nothing says what happens when `{}` does not come", w.event.event.name))
                        .with_primary(w.event.event.span, format!("after {} without it, the workflow goes on silently", nudge_syntax::literal::format_duration(w.within.seconds)))
                        .with_help("add `else { … }` for the timeout, even an empty `else {}` to say that nothing happens");
                    self.emit(file, d);
                }
                let mut then_flow = flow.after(0, w.within.seconds).with_facts(then_facts);
                then_flow.waited = true;
                if let Some(m) = &m {
                    if !then_flow.received.contains(&m.event) {
                        then_flow.received.push(m.event);
                    }
                }
                let else_flow = flow.after(w.within.seconds, w.within.seconds);
                let (then_block, then_end) = match &w.then_block {
                    Some(b) => self.block(wf, &b.stmts, then_flow),
                    None => (Vec::new(), then_flow),
                };
                let (else_block, else_end) = match &w.else_block {
                    Some(b) => self.block(wf, &b.stmts, else_flow),
                    None => (Vec::new(), else_flow),
                };
                let next = Flow::merge(then_end, else_end);
                let s = match m {
                    Some(event) => ir::Stmt::WaitFor {
                        event,
                        within: w.within.seconds,
                        then_block,
                        else_block,
                        span: w.span,
                    },
                    None => ir::Stmt::Exit { span: w.span },
                };
                (s, next)
            }
            Stmt::If(s) => {
                let mut branches = Vec::new();
                let mut otherwise = flow.clone();
                let mut ends: Vec<Flow> = Vec::new();
                for b in &s.branches {
                    let cx = self.flow_cx(wf, &otherwise, &[]);
                    let cond = self.condition(&cx, &b.condition, "an `if` condition");
                    self.lint_condition(&cx, &b.condition);
                    let then_flow = otherwise.with_facts(self.facts_true(&cx, &b.condition));
                    let (block, end) = self.block(wf, &b.block.stmts, then_flow);
                    ends.push(end);
                    branches.push((cond, block));
                    otherwise = otherwise.with_facts(self.facts_false(&cx, &b.condition));
                }
                let (else_block, else_end) = match &s.else_block {
                    Some(b) => self.block(wf, &b.stmts, otherwise),
                    None => (Vec::new(), otherwise),
                };
                let next = ends.into_iter().fold(else_end, Flow::merge);
                (
                    ir::Stmt::If {
                        branches,
                        else_block,
                        span: s.span,
                    },
                    next,
                )
            }
            Stmt::Split(s) => {
                if let Some((_, first)) = wf.splits.iter().find(|(n, _)| *n == s.name.name) {
                    let d = Diagnostic::error(
                        codes::DUPLICATE_SPLIT,
                        format!("split `{}` is declared twice in this workflow", s.name.name),
                    )
                    .with_primary(s.name.span, "declared again here")
                    .with_secondary(*first, "first declared here")
                    .with_help("the name picks each user's arm; give every split its own name");
                    self.emit(file, d);
                } else {
                    wf.splits.push((s.name.name.clone(), s.name.span));
                }
                let total: u32 = s.arms.iter().map(|a| a.percent.basis_points).sum();
                if total != 10_000 {
                    let d = Diagnostic::error(
                        codes::SPLIT_TOTAL,
                        format!(
                            "the arms of split `{}` add up to {}",
                            s.name.name,
                            nudge_syntax::literal::format_percent(total)
                        ),
                    )
                    .with_primary(s.name.span, "must add up to 100%")
                    .with_help(if total < 10_000 {
                        format!(
                            "add {} to an arm, or add a control arm: `{}: {{}}`",
                            nudge_syntax::literal::format_percent(10_000 - total),
                            nudge_syntax::literal::format_percent(10_000 - total)
                        )
                    } else {
                        format!(
                            "take {} away from the arms",
                            nudge_syntax::literal::format_percent(total - 10_000)
                        )
                    });
                    self.emit(file, d);
                }
                let mut arms = Vec::new();
                let mut end: Option<Flow> = None;
                for a in &s.arms {
                    let (block, e) = self.block(wf, &a.body.stmts, flow.clone());
                    end = Some(match end {
                        None => e,
                        Some(prev) => Flow::merge(prev, e),
                    });
                    arms.push((a.percent.basis_points, block));
                }
                (
                    ir::Stmt::Split {
                        name: s.name.name.clone(),
                        arms,
                        span: s.span,
                    },
                    end.unwrap_or(flow),
                )
            }
            Stmt::Escalate(s) => {
                let cx = self.flow_cx(wf, &flow, &[]);
                let until = self.event_match(&cx, &s.until);
                if let Some(f) = &s.until.filter {
                    self.lint_condition(&cx, f);
                }
                let mut elapsed = 0i64;
                let mut steps = Vec::new();
                for step in &s.steps {
                    if let Some(after) = &step.after {
                        self.positive(file, after, "`after`");
                        elapsed = elapsed.saturating_add(after.seconds);
                    }
                    let step_flow = flow.after(elapsed, elapsed);
                    let cx = self.flow_cx(wf, &step_flow, &[]);
                    let guard = step.guard.as_ref().map(|g| {
                        let t = self.condition(&cx, g, "a step guard");
                        self.lint_condition(&cx, g);
                        t
                    });
                    let facts = step
                        .guard
                        .as_ref()
                        .map(|g| self.facts_true(&cx, g))
                        .unwrap_or_default();
                    let send = self.send(wf, &step.message, &step_flow, &facts);
                    steps.push(ir::EscalateStep {
                        after: step.after.map_or(0, |a| a.seconds),
                        send,
                        guard,
                        span: step.span,
                    });
                }
                let next = flow.after(0, elapsed);
                let s = match until {
                    Some(until) => ir::Stmt::Escalate {
                        until,
                        steps,
                        span: s.span,
                    },
                    None => ir::Stmt::Exit { span: s.span },
                };
                (s, next)
            }
            Stmt::Exit { span } => {
                let mut next = flow;
                next.dead = true;
                (ir::Stmt::Exit { span: *span }, next)
            }
        }
    }

    fn flow_cx(&self, wf: &Wf, flow: &Flow, extra: &[Key]) -> Cx {
        let mut cx = wf.base.clone();
        cx.facts = flow.facts.clone();
        cx.received = flow.received.clone();
        cx.with_facts(extra)
    }

    fn zone(&mut self, file: FileId, zone: Option<&Zone>) -> ir::Zone {
        match zone {
            None | Some(Zone::Local(_)) => ir::Zone::Local,
            Some(Zone::Named(s)) => {
                let text = s.as_plain().unwrap_or_default();
                if let Err(e) = crate::format::timezone(&text) {
                    let d = Diagnostic::error(codes::UNKNOWN_TIMEZONE, e.message)
                        .with_primary(s.span, "not an IANA time zone")
                        .with_help(e.help);
                    self.emit(file, d);
                }
                ir::Zone::Named(text)
            }
        }
    }

    fn send(&mut self, wf: &mut Wf, msg: &ast::Message, flow: &Flow, extra: &[Key]) -> ir::Send {
        let cx = self.flow_cx(wf, flow, extra);
        let channel = msg.channel.channel;
        let file = cx.file;
        let mut template = None;
        if let Some(name) = &msg.template {
            template = self.template_ref(file, name);
            if let Some(id) = template {
                let (t_channel, t_event, t_name) = {
                    let t = &self.templates[id.index()];
                    (t.decl.channel.channel, t.event, t.decl.name.name.clone())
                };
                if t_channel != channel {
                    let d = Diagnostic::error(
                        codes::TEMPLATE_CHANNEL_MISMATCH,
                        format!(
                            "template `{t_name}` is for `{}`, not `{}`",
                            t_channel.as_str(),
                            channel.as_str()
                        ),
                    )
                    .with_primary(name.span, format!("a `{}` template", t_channel.as_str()))
                    .with_secondary(msg.channel.span, format!("sent as `{}`", channel.as_str()))
                    .with_help(format!(
                        "write `send {} {t_name}`, or use a `{}` template",
                        t_channel.as_str(),
                        channel.as_str()
                    ));
                    self.emit(file, d);
                }
                if let Some(ev) = t_event {
                    if wf.inactive || wf.triggers.iter().any(|t| *t != ev) {
                        let ev_name = self.events[ev.index()].name.clone();
                        let started = if wf.inactive {
                            "`on inactive for`".to_owned()
                        } else {
                            suggest::one_of(
                                wf.triggers
                                    .iter()
                                    .map(|t| self.events[t.index()].name.as_str()),
                            )
                        };
                        let d = Diagnostic::error(
                            codes::TEMPLATE_EVENT_MISMATCH,
                            format!("template `{t_name}` is for `{ev_name}`, but workflow `{}` starts on {started}", wf.name.name),
                        )
                        .with_primary(name.span, format!("uses `{ev_name}`'s properties"))
                        .with_help(format!("send it from a workflow triggered by `on {ev_name}`, or remove `for {ev_name}` from the template and use `profile.` fields"));
                        self.emit(file, d);
                    }
                }
            }
        }
        let fields = match &msg.content {
            Some(Content::Fields(obj)) => self.message_fields(&cx, channel, obj),
            Some(Content::Text(s)) => self.message_text(&cx, channel, s),
            None => Vec::new(),
        };
        let webhook_text =
            channel == Channel::Webhook && matches!(msg.content, Some(Content::Text(_)));
        if msg.template.is_none() && !webhook_text {
            let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            let what = format!("this `{}` message", channel.as_str());
            self.require_fields(&cx, channel, &names, msg.channel.span, &what);
        }
        // The address.
        let address = match self.address_field(channel) {
            None => None,
            Some(None) => {
                let (what, how) = match channel {
                    Channel::Email => ("an `email` attribute", "`email: email?`"),
                    Channel::Sms => ("a `phone` attribute", "`phone: phone?`"),
                    _ => ("a `push_token` attribute", "`push_token: string?`"),
                };
                let d = Diagnostic::error(
                    codes::NO_ADDRESS_FIELD,
                    format!("`{}` messages need {what} in the profile", channel.as_str()),
                )
                .with_primary(msg.channel.span, "nowhere to send this")
                .with_help(format!("declare one in the profile, for example {how}"));
                self.emit(file, d);
                None
            }
            Some(Some(field)) => {
                let f = &self.profile.fields[field.index()];
                let key = format!("profile.{}", f.name);
                if f.ty.is_optional() && !cx.facts.contains(&key) {
                    let d = Diagnostic::error(
                        codes::ADDRESS_NOT_NARROWED,
                        format!("`profile.{}` may be `none` when this `{}` is sent", f.name, channel.as_str()),
                    )
                    .with_primary(msg.channel.span, format!("needs `profile.{}`", f.name))
                    .with_help(format!(
                        "add `audience profile.{0} != none` to the workflow, or send inside `if profile.{0} != none {{ … }}`",
                        f.name
                    ));
                    self.emit(file, d);
                }
                Some(field)
            }
        };
        // Lints along the path.
        let counted = matches!(channel, Channel::Email | Channel::Push | Channel::Sms);
        if wf.marketing && counted && !wf.suppressed && flow.waited && !wf.reported_suppression {
            wf.reported_suppression = true;
            let d = Diagnostic::warning(
                codes::MISSING_SUPPRESSION,
                format!("workflow `{}` keeps sending after a wait, with no `exit on` and no `goal`", wf.name.name),
            )
            .with_primary(msg.span, "sent even if the user already did what this asks")
            .with_secondary(wf.name.span, "no suppression")
            .with_help("add `exit on EVENT` for what makes this message pointless (a purchase, an upgrade), or a `goal`; transactional workflows say `priority transactional`");
            self.emit(file, d);
        }
        if let Some((goal, within, goal_span)) = wf.goals.iter().max_by_key(|g| g.1).cloned() {
            if flow.min > within && !wf.reported_goal_window {
                wf.reported_goal_window = true;
                let d = Diagnostic::warning(
                    codes::WAIT_PAST_GOAL,
                    format!("this message goes out after goal `{goal}` can no longer be reached"),
                )
                .with_primary(
                    msg.span,
                    format!(
                        "at least {} after entry",
                        nudge_syntax::literal::format_duration(flow.min)
                    ),
                )
                .with_secondary(
                    goal_span,
                    format!(
                        "counts only {} after entry",
                        nudge_syntax::literal::format_duration(within)
                    ),
                )
                .with_help("shorten the waits before this send, or widen the goal's `within`");
                self.emit(file, d);
            }
        }
        ir::Send {
            channel,
            template,
            fields,
            address,
            span: msg.span,
        }
    }

    /// Resolves a template name.
    pub(crate) fn template_ref(
        &mut self,
        file: FileId,
        name: &ast::Ident,
    ) -> Option<ir::TemplateId> {
        if let Some(&id) = self.template_names.get(&name.name) {
            self.used_templates[id.index()] = true;
            return Some(id);
        }
        let help = suggest::did_you_mean(
            &name.name,
            self.templates.iter().map(|t| t.decl.name.name.as_str()),
        )
        .unwrap_or_else(|| {
            format!(
                "declare it: `template {}: CHANNEL {{ … }}`, or write the content inline",
                name.name
            )
        });
        let d = Diagnostic::error(
            codes::UNKNOWN_TEMPLATE,
            format!("unknown template `{}`", name.name),
        )
        .with_primary(name.span, "no template of this name")
        .with_help(help);
        self.emit(file, d);
        None
    }

    pub(crate) fn check_policy(&mut self) -> Option<ir::PolicyDef> {
        let mut found: Option<ir::PolicyDef> = None;
        let parsed = self.parsed;
        for (file, item) in crate::checker::items(parsed) {
            let ast::Item::Policy(p) = item else { continue };
            let mut rules = Vec::new();
            for rule in &p.rules {
                match rule {
                    ast::PolicyRule::Cap {
                        count,
                        per,
                        channels,
                        ..
                    } => {
                        if count.value < 1 {
                            let d = Diagnostic::error(
                                codes::INVALID_CAP,
                                "a cap must allow at least one message",
                            )
                            .with_primary(count.span, "below one")
                            .with_help(
                                "use `cap 1 per D` or more; to stop a channel, do not send on it",
                            );
                            self.emit(file, d);
                        }
                        self.positive(file, per, "a cap's window");
                        rules.push(ir::PolicyRule::Cap {
                            count: count.value,
                            per: per.seconds,
                            channels: channels.iter().map(|c| c.channel).collect(),
                        });
                    }
                    ast::PolicyRule::QuietHours {
                        from,
                        to,
                        zone,
                        channels,
                        ..
                    } => {
                        if from.minutes == to.minutes {
                            let d = Diagnostic::error(
                                codes::EMPTY_QUIET_HOURS,
                                "quiet hours start and end at the same time",
                            )
                            .with_primary(from.span.to(to.span), "an empty window")
                            .with_help(
                                "give two different times, such as `quiet hours 21:00 to 08:00`",
                            );
                            self.emit(file, d);
                        }
                        let zone = self.zone(file, zone.as_ref());
                        rules.push(ir::PolicyRule::QuietHours {
                            from: from.minutes,
                            to: to.minutes,
                            zone,
                            channels: channels.iter().map(|c| c.channel).collect(),
                        });
                    }
                }
            }
            if found.is_none() {
                found = Some(ir::PolicyDef {
                    rules,
                    loc: Loc {
                        file,
                        span: p.keyword,
                    },
                });
            }
        }
        found
    }
}
