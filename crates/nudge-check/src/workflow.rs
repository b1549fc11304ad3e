//! Workflows: triggers and clauses, statements along every path (what is
//! narrowed, what was received, how much time has passed), sends and their
//! channel addresses, and the policy.

use nudge_syntax::ast::{self, Channel, Clause, Content, DaySpec, EntryRule, Priority, Stmt, Zone};
use nudge_syntax::Span;

use crate::checker::{Checker, Cx, EventScope, Key};
use crate::ir::{self, EventId, FileId, Loc};
use crate::messages::NoEvent;
use crate::messages::{self, ConditionSite, DurationSite, MessageSite, OnceClause};
use crate::references::Target;
use crate::suggest;
use crate::Type;

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
    /// `exit on` events without a filter, with where they are named.
    exits: Vec<(EventId, Span)>,
    splits: Vec<(String, Span)>,
    reported_suppression: bool,
    reported_goal_window: bool,
}

impl Checker<'_> {
    pub(crate) fn check_workflows(&mut self) -> Vec<ir::WorkflowDef> {
        let mut out = Vec::new();
        for i in 0..self.workflows.len() {
            let (file, decl) = self.workflows[i];
            if !self.in_focus(file) {
                continue;
            }
            let outer = self.set_owner(Some((file, decl.name.span.start)));
            out.push(self.workflow(file, decl));
            self.set_owner(outer);
        }
        out
    }

    fn workflow(&mut self, file: FileId, decl: &ast::WorkflowDecl) -> ir::WorkflowDef {
        // Triggers first: they decide what `event` means everywhere else.
        let mut trigger_events: Vec<EventId> = Vec::new();
        let mut inactive = false;
        let mut dated = false;
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
                        ast::Trigger::Date(_) => dated = true,
                    }
                }
            }
        }
        if !has_on {
            let d = messages::missing_trigger(decl.name.span, &decl.name.name);
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
        let scope = if dated {
            EventScope::None(NoEvent::Date)
        } else if inactive {
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
        let mut plain_exits: Vec<(EventId, Span)> = Vec::new();
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
                                self.positive(file, duration, DurationSite::InactiveFor);
                                triggers.push(ir::Trigger::Inactive {
                                    seconds: duration.seconds,
                                    span: *span,
                                });
                            }
                            ast::Trigger::Date(d) => {
                                if let Some(t) = self.date_trigger(file, d) {
                                    triggers.push(t);
                                }
                            }
                        }
                    }
                }
                Clause::Audience { condition, span } => {
                    if let Some(first) = audience_span {
                        let d = messages::duplicate_clause(*span, first, OnceClause::Audience);
                        self.emit(file, d);
                        continue;
                    }
                    audience_span = Some(*span);
                    let t = self.condition(&base, condition, ConditionSite::Audience);
                    self.lint_condition(&base, condition);
                    let facts = self.facts_true(&base, condition);
                    base = base.with_facts(&facts);
                    audience = Some(t);
                }
                Clause::ExitOn { events, .. } => {
                    for written in events {
                        if let Some(m) = self.event_match(&base, written) {
                            if m.filter.is_none() {
                                plain_exits.push((m.event, written.event.span));
                            }
                            exits.push(m);
                        }
                    }
                }
                Clause::Entry { rule, span } => {
                    if let Some(first) = entry_span {
                        let d = messages::duplicate_clause(*span, first, OnceClause::Entry);
                        self.emit(file, d);
                        continue;
                    }
                    entry_span = Some(*span);
                    entry = match rule {
                        EntryRule::Once => ir::Entry::Once,
                        EntryRule::OncePer(d) => {
                            self.positive(file, d, DurationSite::EntryOncePer);
                            ir::Entry::OncePer(d.seconds)
                        }
                        EntryRule::Restart => ir::Entry::Restart,
                    };
                }
                Clause::Goal(g) => {
                    let target = Target::Goal {
                        workflow: Some(decl.name.name.clone()),
                        goal: g.name.name.clone(),
                    };
                    self.refer(file, g.name.span, target);
                    if let Some((_, first, _, _)) =
                        goal_spans.iter().find(|(n, ..)| *n == g.name.name)
                    {
                        let d = messages::duplicate_goal(g.name.span, *first, &g.name.name);
                        self.emit(file, d);
                        continue;
                    }
                    self.positive(file, &g.within, DurationSite::GoalWithin);
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
                        let d = messages::duplicate_clause(*span, first, OnceClause::Priority);
                        self.emit(file, d);
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
                let ev = &self.events[event.index()].name;
                let d = messages::goal_not_exit(*event_span, name, ev);
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
            exits: plain_exits,
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

    fn block(&mut self, wf: &mut Wf, stmts: &[Stmt], mut flow: Flow) -> (Vec<ir::Stmt>, Flow) {
        let mut out = Vec::new();
        // Inside code that is already unreachable, the outer block reported it.
        let mut reported = flow.dead;
        for (i, stmt) in stmts.iter().enumerate() {
            if flow.dead && !reported && i > 0 {
                reported = true;
                let after_exit = matches!(stmts[i - 1], Stmt::Exit { .. });
                let d = messages::unreachable(stmt.span(), stmts[i - 1].span(), after_exit);
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
                self.positive(file, duration, DurationSite::Wait);
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
                            self.emit(file, messages::invalid_day(*span));
                        } else {
                            // The target is at least (N-1) days + TIME after entry.
                            let earliest = (*number - 1) * DAY + time;
                            if flow.max > earliest {
                                let d = messages::wait_until_past(
                                    w.span,
                                    *number,
                                    w.time.minutes,
                                    flow.max,
                                );
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
            Stmt::WaitUntilTime { at, clock, span } => {
                let cx = self.flow_cx(wf, &flow, &[]);
                let e = self.expr(&cx, at, None);
                match e.ty.strip_optional() {
                    Type::Time if e.ty.is_optional() => {
                        let (s, t) = (e.span, e.ty.clone());
                        self.not_narrowed(&cx, s, &t);
                    }
                    Type::Time | Type::Error => {}
                    other => {
                        let d = messages::wait_until_type(e.span, &self.type_name(other));
                        self.emit(file, d);
                    }
                }
                let clock = clock
                    .as_ref()
                    .map(|(time, zone)| (time.minutes, self.zone(file, zone.as_ref())));
                // Any time from now on: only the lower bound is known.
                let mut next = flow.clone();
                next.waited = true;
                next.max = i64::MAX / 4;
                (
                    ir::Stmt::WaitUntilTime {
                        at: e,
                        clock,
                        span: *span,
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
                self.positive(file, &w.within, DurationSite::WaitForWithin);
                let then_runs_something =
                    w.then_block.as_ref().is_some_and(|b| !b.stmts.is_empty());
                if let (Some(mm), true) = (&m, then_runs_something) {
                    if let Some((_, exit)) = wf.exits.iter().find(|(e, _)| *e == mm.event) {
                        let d = messages::wait_for_exit_event(
                            w.event.event.span,
                            *exit,
                            &w.event.event.name,
                        );
                        self.emit(file, d);
                    }
                }
                if w.else_block.is_none() {
                    let d = messages::wait_for_without_else(
                        w.event.event.span,
                        &w.event.event.name,
                        w.within.seconds,
                    );
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
                    let cond = self.condition(&cx, &b.condition, ConditionSite::IfCondition);
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
                    let d = messages::duplicate_split(s.name.span, *first, &s.name.name);
                    self.emit(file, d);
                } else {
                    wf.splits.push((s.name.name.clone(), s.name.span));
                }
                let total: u32 = s.arms.iter().map(|a| a.percent.basis_points).sum();
                if total != 10_000 {
                    let d = messages::split_total(s.name.span, &s.name.name, total);
                    self.emit(file, d);
                }
                let mut arms = Vec::new();
                let mut end: Option<Flow> = None;
                let mut named: Vec<(String, Span)> = Vec::new();
                for (i, a) in s.arms.iter().enumerate() {
                    let (name, at): (String, Span) = match &a.name {
                        Some(n) => (n.name.to_string(), n.span),
                        None => (nudge_core::percent::default_arm_name(i), a.percent.span),
                    };
                    if let Some((_, first)) = named.iter().find(|(n, _)| *n == name) {
                        let d = messages::duplicate_arm(at, *first, &name, &s.name.name);
                        self.emit(file, d);
                    } else {
                        named.push((name.clone(), at));
                    }
                    let (block, e) = self.block(wf, &a.body.stmts, flow.clone());
                    end = Some(match end {
                        None => e,
                        Some(prev) => Flow::merge(prev, e),
                    });
                    arms.push((name, a.percent.basis_points, block));
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
                        self.positive(file, after, DurationSite::After);
                        elapsed = elapsed.saturating_add(after.seconds);
                    }
                    let mut step_flow = flow.after(elapsed, elapsed);
                    // The escalation's own pauses are watched by its `until`
                    // event, which stops it: only the waits before it count
                    // for `missing_suppression`.
                    step_flow.waited = flow.waited;
                    let cx = self.flow_cx(wf, &step_flow, &[]);
                    let guard = step.guard.as_ref().map(|g| {
                        let t = self.condition(&cx, g, ConditionSite::StepGuard);
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

    /// Types `[D before|after] [anniversary of] profile.FIELD [at …]`.
    fn date_trigger(&mut self, file: FileId, d: &ast::DateTrigger) -> Option<ir::Trigger> {
        let name = &d.field.name;
        let Some(field) = self.profile.field(name) else {
            self.unknown_profile_field(file, &d.field);
            return None;
        };
        self.refer(file, d.field.span, Target::ProfileField(name.clone()));
        let ty = self.profile.fields[field.index()].ty.clone();
        if !matches!(ty.strip_optional(), Type::Time | Type::Error) {
            let diag = messages::date_field_type(d.field.span, name, &self.type_name(&ty));
            self.emit(file, diag);
            return None;
        }
        let offset = match &d.offset {
            None => 0,
            Some((duration, side)) => {
                if d.at.is_some() && duration.seconds % 86_400 != 0 {
                    let written = self
                        .source(file)
                        .text()
                        .get(duration.span.range())
                        .unwrap_or("")
                        .to_owned();
                    let diag = messages::date_offset(duration.span, &written, duration.seconds);
                    self.emit(file, diag);
                }
                match side {
                    ast::DateSide::Before => -duration.seconds,
                    ast::DateSide::After => duration.seconds,
                }
            }
        };
        let at =
            d.at.as_ref()
                .map(|(time, zone)| (time.minutes, self.zone(file, zone.as_ref())));
        Some(ir::Trigger::Date {
            field,
            offset,
            yearly: d.anniversary,
            at,
            span: d.span,
        })
    }

    fn zone(&mut self, file: FileId, zone: Option<&Zone>) -> ir::Zone {
        match zone {
            None | Some(Zone::Local(_)) => ir::Zone::Local,
            Some(Zone::Named(s)) => {
                let text = s.as_plain().unwrap_or_default();
                if let Err(e) = crate::string_formats::timezone(&text) {
                    let d = messages::unknown_timezone(s.span, &text, e.suggestion);
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
                    let d = messages::template_channel_mismatch(
                        name.span,
                        msg.channel.span,
                        &t_name,
                        t_channel,
                        channel,
                    );
                    self.emit(file, d);
                }
                if let Some(ev) = t_event {
                    if wf.inactive || wf.triggers.iter().any(|t| *t != ev) {
                        let triggers: Vec<&str> = wf
                            .triggers
                            .iter()
                            .map(|t| self.events[t.index()].name.as_str())
                            .collect();
                        let d = messages::template_event_mismatch(
                            name.span,
                            &t_name,
                            &self.events[ev.index()].name,
                            &wf.name.name,
                            wf.inactive,
                            &triggers,
                        );
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
            let what = MessageSite::Inline(channel);
            self.require_fields(&cx, channel, &names, msg.channel.span, what);
        }
        // The address.
        let address = match self.address_field(channel) {
            None => None,
            Some(None) => {
                self.emit(file, messages::no_address_field(msg.channel.span, channel));
                None
            }
            Some(Some(field)) => {
                let f = &self.profile.fields[field.index()];
                let key = format!("profile.{}", f.name);
                if f.ty.is_optional() && !cx.facts.contains(&key) {
                    let d = messages::address_not_narrowed(msg.channel.span, &f.name, channel);
                    self.emit(file, d);
                }
                Some(field)
            }
        };
        // Lints along the path.
        let counted = matches!(channel, Channel::Email | Channel::Push | Channel::Sms);
        if wf.marketing && counted && !wf.suppressed && flow.waited && !wf.reported_suppression {
            wf.reported_suppression = true;
            let d = messages::missing_suppression(msg.span, wf.name.span, &wf.name.name);
            self.emit(file, d);
        }
        if let Some((goal, within, goal_span)) = wf.goals.iter().max_by_key(|g| g.1).cloned() {
            if flow.min > within && !wf.reported_goal_window {
                wf.reported_goal_window = true;
                let d = messages::wait_past_goal(msg.span, goal_span, &goal, flow.min, within);
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
            self.mark_used(crate::checker::Used::Template(name.name.clone()));
            self.refer(file, name.span, Target::Template(name.name.clone()));
            return Some(id);
        }
        let suggestion = suggest::closest(
            &name.name,
            self.templates.iter().map(|t| t.decl.name.name.as_str()),
        );
        let d = messages::unknown_template(name.span, &name.name, suggestion);
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
                            self.emit(file, messages::invalid_cap(count.span));
                        }
                        self.positive(file, per, DurationSite::CapWindow);
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
                            let d = messages::empty_quiet_hours(from.span.to(to.span));
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
