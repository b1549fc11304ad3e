//! The interpreter: expression functions and the journey step function.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use nudge_bytecode::{
    Const, DaySpec, EventId, EventMatch, FunctionId, Instr, Module, Pc, StableHasher, Window,
    WorkflowId, Zone,
};

use crate::facts::Facts;
use crate::journey::{ActiveEscalation, Effect, ExitReason, Input, Journey, Status, Wait};
use crate::split::{choose_arm, split_bucket};
use crate::time::{self, Day};
use crate::value::{Event, Value};

/// Instructions one step may run before it is stopped (a verified module
/// from the compiler never loops, but a hand-made one could).
pub const FUEL: u32 = 1_000_000;
/// How deep segments and `did` filters may nest at run time.
pub const MAX_DEPTH: u32 = 64;

/// Why a step failed. A verified module only fails with `OutOfFuel` or
/// `TooDeep`; the rest mean the module was not verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VmError {
    /// An index out of range or a stack underflow.
    #[error("invalid module: {0}")]
    Invalid(&'static str),
    /// The step ran too many instructions.
    #[error("step ran more than {FUEL} instructions")]
    OutOfFuel,
    /// Segments nest too deeply.
    #[error("segments or filters nest more than {MAX_DEPTH} deep")]
    TooDeep,
    /// A template file failed to render.
    #[error("template `{0}` failed to render: {1}")]
    Render(String, String),
    /// The journey's workflow is not in the module.
    #[error("workflow {0} is not in the module")]
    NoWorkflow(WorkflowId),
}

type Result<T> = std::result::Result<T, VmError>;

/// The VM for one module.
#[derive(Clone, Debug)]
pub struct Vm<'m> {
    /// The module.
    pub module: &'m Module,
    /// The zone `local` means when a profile has no valid `timezone`.
    pub default_zone: Tz,
    /// Compiled template files of this module (else compiled per send).
    pub templates: Option<&'m crate::render::TemplateCache>,
    /// The calendar rule of `wait until` ([`time::wait_until`]); a
    /// reference model plugs in its own to check it.
    pub wait_until: time::WaitUntilFn,
    /// Arms chosen for profiles instead of by hash (`nudge test`'s
    /// `given "u1" in arm …`).
    pub forced_arms: Option<std::sync::Arc<ForcedArms>>,
}

/// Arms chosen for profiles: (profile, workflow, split) → the arm's name.
pub type ForcedArms = std::collections::HashMap<(String, String, String), String>;

/// What an expression sees.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The profile and history.
    pub facts: &'a dyn Facts,
    /// The current instant.
    pub now: DateTime<Utc>,
    /// The event `event.*` refers to, with its schema index.
    pub event: Option<(&'a Event, EventId)>,
    /// The journey, for `X.field` and `since entry`.
    pub journey: Option<&'a Journey>,
    depth: u32,
}

impl<'a> Ctx<'a> {
    /// A context with no event and no journey.
    pub fn new(facts: &'a dyn Facts, now: DateTime<Utc>) -> Self {
        Ctx {
            facts,
            now,
            event: None,
            journey: None,
            depth: 0,
        }
    }

    /// The same context looking at `event`.
    pub fn with_event(self, event: Option<(&'a Event, EventId)>) -> Self {
        Ctx { event, ..self }
    }

    /// The same context inside `journey`.
    pub fn with_journey(self, journey: Option<&'a Journey>) -> Self {
        Ctx { journey, ..self }
    }
}

enum Flow {
    Next,
    Jump(Pc),
    Statement,
}

fn pop(stack: &mut Vec<Value>) -> Result<Value> {
    stack.pop().ok_or(VmError::Invalid("stack underflow"))
}

/// `t + seconds`, saturating at the ends of time (a hand-made module may
/// hold any duration; the VM must not panic on it).
pub fn plus(t: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    Duration::try_seconds(seconds)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(if seconds < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// `t - seconds`, saturating.
pub fn minus(t: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    plus(t, seconds.checked_neg().unwrap_or(i64::MAX))
}

/// `a + b` (`add`) or `a - b` on times and durations, as the checker
/// types them; none for anything else (a `none` operand included).
fn arithmetic(add: bool, a: Value, b: Value) -> Value {
    let sign = if add { 1 } else { -1 };
    match (a, b) {
        (Value::Time(t), Value::Duration(d)) => Value::Time(plus(t, d.saturating_mul(sign))),
        (Value::Duration(d), Value::Time(t)) if add => Value::Time(plus(t, d)),
        (Value::Duration(x), Value::Duration(y)) => {
            Value::Duration(x.saturating_add(y.saturating_mul(sign)))
        }
        (Value::Time(x), Value::Time(y)) if !add => {
            Value::Duration(x.signed_duration_since(y).num_seconds())
        }
        _ => Value::None,
    }
}

/// The deterministic id of a send.
pub fn send_id(profile: &str, workflow: &str, run: u32, pc: Pc, visit: u32) -> u64 {
    StableHasher::new()
        .write_str(profile)
        .write_str(workflow)
        .write_u64(u64::from(run))
        .write_u64(u64::from(pc))
        .write_u64(u64::from(visit))
        .finish()
}

impl<'m> Vm<'m> {
    /// A VM for `module`, with UTC as the default zone.
    pub fn new(module: &'m Module) -> Self {
        Vm {
            module,
            default_zone: Tz::UTC,
            templates: None,
            wait_until: time::wait_until,
            forced_arms: None,
        }
    }

    /// The zone `local` means for this profile.
    pub fn local_zone(&self, facts: &dyn Facts) -> Tz {
        facts
            .attribute("timezone")
            .as_str()
            .and_then(time::zone)
            .unwrap_or(self.default_zone)
    }

    /// The zone of a descriptor.
    pub fn zone(&self, zone: Zone, facts: &dyn Facts) -> Tz {
        match zone {
            Zone::Local => self.local_zone(facts),
            Zone::Named(s) => time::zone(self.module.string(s)).unwrap_or(self.default_zone),
        }
    }

    fn event_field(&self, event: Option<(&Event, EventId)>, field: u16) -> Value {
        let Some((e, id)) = event else {
            return Value::None;
        };
        match self
            .module
            .schemas
            .events
            .get(id as usize)
            .and_then(|s| s.fields.get(field as usize))
        {
            Some(f) => e.prop(&f.name),
            None => Value::None,
        }
    }

    fn constant(&self, c: u32) -> Result<Value> {
        Ok(match self.module.consts.get(c as usize) {
            None => return Err(VmError::Invalid("constant index")),
            Some(Const::None) => Value::None,
            Some(Const::Bool(b)) => Value::Bool(*b),
            Some(Const::Int(i)) => Value::Int(*i),
            Some(Const::Float(x)) => Value::Float(*x),
            Some(Const::Str(s)) => Value::Str(Arc::from(s.as_str())),
            Some(Const::Time(ms)) => {
                Value::Time(DateTime::from_timestamp_millis(*ms).unwrap_or_default())
            }
            Some(Const::Duration(s)) => Value::Duration(*s),
            Some(Const::TimeOfDay(m)) => Value::TimeOfDay(*m),
            Some(Const::Enum { enum_id, member }) => {
                let name = self
                    .module
                    .schemas
                    .enums
                    .get(*enum_id as usize)
                    .and_then(|e| e.members.get(*member as usize))
                    .ok_or(VmError::Invalid("enum member"))?;
                Value::Str(Arc::from(name.as_str()))
            }
        })
    }

    /// Runs one value instruction.
    fn value_op(&self, instr: Instr, stack: &mut Vec<Value>, ctx: &Ctx<'_>) -> Result<Flow> {
        let m = self.module;
        match instr {
            Instr::Const(c) => stack.push(self.constant(c)?),
            Instr::None => stack.push(Value::None),
            Instr::Bool(b) => stack.push(Value::Bool(b)),
            Instr::Int(i) => stack.push(Value::Int(i64::from(i))),
            Instr::LoadProfile(f) => {
                let field = m
                    .schemas
                    .profile
                    .get(f as usize)
                    .ok_or(VmError::Invalid("profile field"))?;
                stack.push(ctx.facts.attribute(&field.name));
            }
            Instr::LoadProfileId => stack.push(Value::str(ctx.facts.profile_id())),
            Instr::LoadEvent(f) => stack.push(self.event_field(ctx.event, f)),
            Instr::LoadEventByName(s) => {
                let name = m.string(s);
                stack.push(ctx.event.map_or(Value::None, |(e, _)| e.prop(name)));
            }
            Instr::Concat(n) => {
                let n = n as usize;
                if stack.len() < n {
                    return Err(VmError::Invalid("stack underflow"));
                }
                let mut text = String::new();
                for v in stack.drain(stack.len() - n..) {
                    use std::fmt::Write as _;
                    let _ = write!(text, "{v}");
                }
                stack.push(Value::Str(Arc::from(text)));
            }
            Instr::Format(spec) => {
                let spec = m.string(spec);
                let text = match pop(stack)? {
                    Value::None => String::new(),
                    Value::Int(i) => match nudge_core::format_spec::number(spec) {
                        Ok(f) => nudge_core::format_spec::write_int(i, f),
                        Err(_) => i.to_string(),
                    },
                    Value::Float(x) => match nudge_core::format_spec::number(spec) {
                        Ok(f) => nudge_core::format_spec::write_number(x, f),
                        Err(_) => x.to_string(),
                    },
                    Value::Time(t) => {
                        let zone = self.local_zone(ctx.facts);
                        let mut out = String::new();
                        use std::fmt::Write as _;
                        // A pattern the checker let through cannot fail;
                        // if one did, the time is written in full.
                        if write!(out, "{}", t.with_timezone(&zone).format(spec)).is_err() {
                            out = t.to_rfc3339();
                        }
                        out
                    }
                    other => other.to_string(),
                };
                stack.push(Value::Str(Arc::from(text)));
            }
            Instr::LoadLast(q, f) => {
                let event = m
                    .queries
                    .get(q as usize)
                    .map(|query| query.event.event)
                    .ok_or(VmError::Invalid("query"))?;
                let name = m
                    .schemas
                    .events
                    .get(event as usize)
                    .map(|s| s.name.as_str())
                    .ok_or(VmError::Invalid("event"))?;
                let mut value = Value::None;
                ctx.facts.history(name, &mut |e| {
                    value = self.event_field(Some((e, event)), f);
                    false
                });
                stack.push(value);
            }
            Instr::LoadReceived(e, f) => {
                let got = ctx
                    .journey
                    .and_then(|j| j.received.iter().rev().find(|(id, _)| *id == e))
                    .map(|(id, ev)| (&**ev, *id));
                stack.push(self.event_field(got, f));
            }
            Instr::Pop => {
                pop(stack)?;
            }
            Instr::Cmp(op) => {
                let b = pop(stack)?;
                let a = pop(stack)?;
                let r = match op {
                    nudge_bytecode::CmpOp::Eq => a.equals(&b),
                    nudge_bytecode::CmpOp::Ne => !a.equals(&b),
                    _ => a.compare(&b).is_some_and(|o| op.holds(o)),
                };
                stack.push(Value::Bool(r));
            }
            Instr::Add | Instr::Sub => {
                let b = pop(stack)?;
                let a = pop(stack)?;
                stack.push(arithmetic(instr == Instr::Add, a, b));
            }
            Instr::Not => {
                let a = pop(stack)?;
                stack.push(Value::Bool(!a.truthy()));
            }
            Instr::MakeList(n) => {
                let n = n as usize;
                if stack.len() < n {
                    return Err(VmError::Invalid("stack underflow"));
                }
                let items: Vec<Value> = stack.split_off(stack.len() - n);
                stack.push(Value::List(Arc::from(items)));
            }
            Instr::In => {
                let list = pop(stack)?;
                let x = pop(stack)?;
                let r = match list {
                    Value::List(items) => items.iter().any(|i| i.equals(&x)),
                    _ => false,
                };
                stack.push(Value::Bool(r));
            }
            Instr::IsNone => {
                let a = pop(stack)?;
                stack.push(Value::Bool(a.is_none()));
            }
            Instr::Ago(d) => stack.push(Value::Time(minus(ctx.now, m.duration(d)))),
            Instr::Jump(t) => return Ok(Flow::Jump(t)),
            Instr::JumpIfFalse(t) => {
                if !pop(stack)?.truthy() {
                    return Ok(Flow::Jump(t));
                }
            }
            Instr::JumpIfFalseKeep(t) => {
                if stack.last().is_some_and(|v| !v.truthy()) {
                    return Ok(Flow::Jump(t));
                }
                pop(stack)?;
            }
            Instr::JumpIfTrueKeep(t) => {
                if stack.last().is_some_and(Value::truthy) {
                    return Ok(Flow::Jump(t));
                }
                pop(stack)?;
            }
            Instr::JumpIfSomeKeep(t) => {
                if stack.last().is_some_and(|v| !v.is_none()) {
                    return Ok(Flow::Jump(t));
                }
                pop(stack)?;
            }
            Instr::Did(q) => {
                let q = *m.queries.get(q as usize).ok_or(VmError::Invalid("query"))?;
                stack.push(Value::Bool(self.did(&q, ctx)?));
            }
            Instr::InactiveFor(d) => {
                let quiet_since = minus(ctx.now, m.duration(d));
                stack.push(Value::Bool(ctx.facts.last_activity() <= quiet_since));
            }
            Instr::InSegment(s) => {
                let seg = m.segment(s).ok_or(VmError::Invalid("segment"))?;
                let inner = Ctx {
                    event: None,
                    depth: ctx.depth + 1,
                    ..*ctx
                };
                let v = self.eval(seg.predicate, &inner)?;
                stack.push(Value::Bool(v.truthy()));
            }
            _ => return Ok(Flow::Statement),
        }
        Ok(Flow::Next)
    }

    fn did(&self, q: &nudge_bytecode::Query, ctx: &Ctx<'_>) -> Result<bool> {
        let m = self.module;
        let name = m
            .schemas
            .events
            .get(q.event.event as usize)
            .ok_or(VmError::Invalid("event"))?
            .name
            .as_str();
        let after_time = match q.window {
            Window::Within(d) => Some(minus(ctx.now, m.duration(d))),
            _ => None,
        };
        // Since entry: after the trigger in history order; a journey with
        // no trigger event (`inactive for`) counts from its entry instant.
        let (after_seq, after_time) = match (q.window, ctx.journey) {
            (Window::SinceEntry, Some(j)) if j.trigger.is_some() => (Some(j.entry_seq), after_time),
            (Window::SinceEntry, Some(j)) => (None, Some(j.entered_at)),
            (Window::SinceEntry, None) => (Some(u64::MAX), after_time),
            _ => (None, after_time),
        };
        let mut count: u64 = 0;
        let mut err = None;
        let inner = Ctx {
            depth: ctx.depth + 1,
            ..*ctx
        };
        ctx.facts.history(name, &mut |e: &Event| {
            if e.at > ctx.now {
                return true;
            }
            if after_time.is_some_and(|t| e.at <= t) || after_seq.is_some_and(|s| e.seq <= s) {
                // Newest first: everything further is older.
                return false;
            }
            let hit = match q.event.filter {
                None => true,
                Some(f) => match self.eval(f, &inner.with_event(Some((e, q.event.event)))) {
                    Ok(v) => v.truthy(),
                    Err(e) => {
                        err = Some(e);
                        return false;
                    }
                },
            };
            if hit {
                count += 1;
            }
            // Without a count, one hit is enough.
            !(hit && q.count.is_none())
        });
        if let Some(e) = err {
            return Err(e);
        }
        Ok(match q.count {
            None => count > 0,
            Some((op, n)) => op.holds(count.cmp(&u64::from(n))),
        })
    }

    /// Evaluates an expression function.
    pub fn eval(&self, f: FunctionId, ctx: &Ctx<'_>) -> Result<Value> {
        if ctx.depth > MAX_DEPTH {
            return Err(VmError::TooDeep);
        }
        let func = self
            .module
            .functions
            .get(f as usize)
            .ok_or(VmError::Invalid("function"))?;
        let mut stack = Vec::with_capacity(8);
        let mut pc = 0usize;
        let mut fuel = FUEL;
        loop {
            fuel = fuel.checked_sub(1).ok_or(VmError::OutOfFuel)?;
            let instr = *func.code.get(pc).ok_or(VmError::Invalid("pc"))?;
            if let Instr::Return = instr {
                return pop(&mut stack);
            }
            match self.value_op(instr, &mut stack, ctx)? {
                Flow::Next => pc += 1,
                Flow::Jump(t) => pc = t as usize,
                Flow::Statement => return Err(VmError::Invalid("statement in expression")),
            }
        }
    }

    /// Whether `event` matches `EVENT [where filter]`.
    pub fn matches(&self, m: &EventMatch, event: &Event, ctx: &Ctx<'_>) -> Result<bool> {
        if self.module.event_name(m.event) != &*event.name {
            return Ok(false);
        }
        match m.filter {
            None => Ok(true),
            Some(f) => Ok(self
                .eval(f, &ctx.with_event(Some((event, m.event))))?
                .truthy()),
        }
    }

    /// The context of a journey's body: its trigger as `event`, the journey
    /// for `X.field` and `since entry`.
    pub fn trigger_ctx<'a>(&self, journey: &'a Journey, ctx: Ctx<'a>) -> Ctx<'a> {
        let event = journey.trigger.as_deref().zip(journey.trigger_event);
        ctx.with_event(event).with_journey(Some(journey))
    }

    /// Starts a journey: runs the body from the top until it blocks or ends.
    pub fn start(
        &self,
        workflow: WorkflowId,
        module_hash: u64,
        run: u32,
        trigger: Option<Event>,
        now: DateTime<Utc>,
        facts: &dyn Facts,
    ) -> Result<(Journey, Vec<Effect>)> {
        if self.module.workflows.get(workflow as usize).is_none() {
            return Err(VmError::NoWorkflow(workflow));
        }
        let journey = Journey {
            workflow,
            module: module_hash,
            profile: facts.shared_profile_id(),
            run,
            pc: 0,
            status: Status::Active,
            entered_at: now,
            entry_seq: trigger.as_ref().map_or(0, |e| e.seq),
            trigger_event: trigger
                .as_ref()
                .and_then(|e| self.module.schemas.event_id(&e.name)),
            trigger: trigger.map(Arc::new),
            received: Vec::new(),
            wait: None,
            escalation: None,
            seq: 0,
            visits: Vec::new(),
            goals: Vec::new(),
            arms: Vec::new(),
        };
        let mut effects = Vec::new();
        let journey = self.run(journey, now, facts, &mut effects)?;
        Ok((journey, effects))
    }

    /// Records the goals of `journey` that `event` reaches: each once, by an
    /// event after the one that started the journey, within the goal's
    /// window from entry.
    fn reach_goals(
        &self,
        wf: &nudge_bytecode::Workflow,
        journey: &mut Journey,
        event: &Event,
        base: Ctx<'_>,
        effects: &mut Vec<Effect>,
    ) -> Result<()> {
        if journey.goals.len() >= wf.goals.len() || event.seq <= journey.entry_seq {
            return Ok(());
        }
        let mut reached = Vec::new();
        {
            let ctx = self.trigger_ctx(journey, base);
            for (i, g) in wf.goals.iter().enumerate() {
                let i = u16::try_from(i).unwrap_or(u16::MAX);
                let in_time = event.at <= plus(journey.entered_at, self.module.duration(g.within));
                if !journey.goals.contains(&i) && in_time && self.matches(&g.event, event, &ctx)? {
                    reached.push(i);
                }
            }
        }
        for i in reached {
            journey.goals.push(i);
            effects.push(Effect::GoalReached { goal: i });
        }
        Ok(())
    }

    /// Moves a journey with an input. Inputs that do not concern it (an
    /// unrelated event, a stale timer) leave it unchanged with no effects.
    pub fn step(
        &self,
        mut journey: Journey,
        input: Input<'_>,
        now: DateTime<Utc>,
        facts: &dyn Facts,
    ) -> Result<(Journey, Vec<Effect>)> {
        let mut effects = Vec::new();
        if !journey.is_active() {
            // An ended journey still counts its goals, within their windows
            // from entry: a holdout that exits at once measures its
            // conversions.
            if let Input::Event(event) = input {
                let wf = self
                    .module
                    .workflows
                    .get(journey.workflow as usize)
                    .ok_or(VmError::NoWorkflow(journey.workflow))?;
                self.reach_goals(wf, &mut journey, event, Ctx::new(facts, now), &mut effects)?;
            }
            return Ok((journey, effects));
        }
        let wf = self
            .module
            .workflows
            .get(journey.workflow as usize)
            .ok_or(VmError::NoWorkflow(journey.workflow))?;
        match input {
            Input::Event(event) => {
                let base = Ctx::new(facts, now);
                // 1. exit on
                let mut exit = None;
                {
                    let ctx = self.trigger_ctx(&journey, base);
                    for e in &wf.exit_on {
                        if self.matches(e, event, &ctx)? {
                            exit = Some(event.name.to_string());
                            break;
                        }
                    }
                }
                // 2. goals (recorded even when the same event exits)
                self.reach_goals(wf, &mut journey, event, base, &mut effects)?;
                if let Some(name) = exit {
                    journey.status = Status::Exited(ExitReason::ExitOn(name.clone()));
                    journey.wait = None;
                    journey.escalation = None;
                    effects.push(Effect::Exit {
                        reason: ExitReason::ExitOn(name),
                    });
                    return Ok((journey, effects));
                }
                // 3. escalate until
                if let Some(active) = journey.escalation {
                    let esc = *self
                        .module
                        .escalation(active.escalation)
                        .ok_or(VmError::Invalid("escalation"))?;
                    let hit = {
                        let ctx = self.trigger_ctx(&journey, base);
                        self.matches(&esc.until, event, &ctx)?
                    };
                    if hit {
                        journey.escalation = None;
                        journey.wait = None;
                        journey.seq = journey.seq.wrapping_add(1);
                        journey.pc = esc.end_pc;
                        effects.push(Effect::EscalationStopped);
                        let journey = self.run(journey, now, facts, &mut effects)?;
                        return Ok((journey, effects));
                    }
                }
                // 4. wait for
                if let Some(Wait::Event { wait_for, .. }) = journey.wait {
                    let w = *self
                        .module
                        .wait_fors
                        .get(wait_for as usize)
                        .ok_or(VmError::Invalid("wait for"))?;
                    let hit = {
                        let ctx = self.trigger_ctx(&journey, base);
                        self.matches(&w.event, event, &ctx)?
                    };
                    if hit {
                        journey.received.retain(|(id, _)| *id != w.event.event);
                        journey
                            .received
                            .push((w.event.event, Arc::new(event.clone())));
                        journey.wait = None;
                        journey.seq = journey.seq.wrapping_add(1);
                        journey.pc = w.then_pc;
                        let journey = self.run(journey, now, facts, &mut effects)?;
                        return Ok((journey, effects));
                    }
                }
                Ok((journey, effects))
            }
            Input::Timer { seq } => {
                if seq != journey.seq {
                    return Ok((journey, effects));
                }
                match journey.wait.take() {
                    None => Ok((journey, effects)),
                    Some(Wait::Timer { .. }) => {
                        journey.pc += 1;
                        let journey = self.run(journey, now, facts, &mut effects)?;
                        Ok((journey, effects))
                    }
                    Some(Wait::Event { wait_for, .. }) => {
                        let w = self
                            .module
                            .wait_fors
                            .get(wait_for as usize)
                            .ok_or(VmError::Invalid("wait for"))?;
                        journey.pc = w.else_pc;
                        let journey = self.run(journey, now, facts, &mut effects)?;
                        Ok((journey, effects))
                    }
                }
            }
        }
    }

    fn schedule(journey: &mut Journey, at: DateTime<Utc>, effects: &mut Vec<Effect>) {
        journey.seq = journey.seq.wrapping_add(1);
        journey.wait = Some(Wait::Timer { at });
        effects.push(Effect::ScheduleTimer {
            at,
            seq: journey.seq,
        });
    }

    /// Runs the body from `journey.pc` until it blocks or ends.
    fn run(
        &self,
        mut journey: Journey,
        now: DateTime<Utc>,
        facts: &dyn Facts,
        effects: &mut Vec<Effect>,
    ) -> Result<Journey> {
        let m = self.module;
        let wf = m
            .workflows
            .get(journey.workflow as usize)
            .ok_or(VmError::NoWorkflow(journey.workflow))?;
        let func = m
            .functions
            .get(wf.body as usize)
            .ok_or(VmError::Invalid("function"))?;
        let mut stack: Vec<Value> = Vec::with_capacity(8);
        let mut fuel = FUEL;
        loop {
            fuel = fuel.checked_sub(1).ok_or(VmError::OutOfFuel)?;
            let pc = journey.pc;
            let instr = *func.code.get(pc as usize).ok_or(VmError::Invalid("pc"))?;
            let flow = {
                let ctx = self.trigger_ctx(&journey, Ctx::new(facts, now));
                self.value_op(instr, &mut stack, &ctx)?
            };
            match flow {
                Flow::Next => {
                    journey.pc += 1;
                    continue;
                }
                Flow::Jump(t) => {
                    journey.pc = t;
                    continue;
                }
                Flow::Statement => {}
            }
            match instr {
                Instr::Return => {
                    journey.status = Status::Completed;
                    journey.wait = None;
                    journey.escalation = None;
                    effects.push(Effect::Completed);
                    return Ok(journey);
                }
                Instr::Exit => {
                    journey.status = Status::Exited(ExitReason::Statement);
                    journey.wait = None;
                    journey.escalation = None;
                    effects.push(Effect::Exit {
                        reason: ExitReason::Statement,
                    });
                    return Ok(journey);
                }
                Instr::Send(message) => {
                    let visit = match journey.visits.iter_mut().find(|(p, _)| *p == pc) {
                        Some((_, n)) => {
                            *n += 1;
                            *n
                        }
                        None => {
                            journey.visits.push((pc, 0));
                            0
                        }
                    };
                    effects.push(Effect::Send {
                        message,
                        send_id: send_id(&journey.profile, &wf.name, journey.run, pc, visit),
                        escalation: journey.escalation.is_some(),
                    });
                    journey.pc += 1;
                }
                Instr::Wait(d) => {
                    let at = plus(now, m.duration(d));
                    Self::schedule(&mut journey, at, effects);
                    return Ok(journey);
                }
                Instr::WaitUntil(w) => {
                    let w = *m
                        .wait_untils
                        .get(w as usize)
                        .ok_or(VmError::Invalid("wait until"))?;
                    let tz = self.zone(w.zone, facts);
                    let day = match w.day {
                        DaySpec::Next => Day::Next,
                        DaySpec::Day(n) => Day::EntryPlus(n),
                        DaySpec::Weekday(d) => Day::Weekday(d),
                    };
                    let at = (self.wait_until)(now, tz, w.minutes, day, journey.entered_at);
                    if at <= now {
                        journey.pc += 1;
                    } else {
                        Self::schedule(&mut journey, at, effects);
                        return Ok(journey);
                    }
                }
                Instr::WaitUntilTime(w) => {
                    let Value::Time(t) = pop(&mut stack)? else {
                        // `none` (the checker asks for a check first): no
                        // wait.
                        journey.pc += 1;
                        continue;
                    };
                    let at = match w {
                        None => t,
                        Some(w) => {
                            let w = *m
                                .wait_untils
                                .get(w as usize)
                                .ok_or(VmError::Invalid("wait until"))?;
                            let tz = self.zone(w.zone, facts);
                            let day = time::Day::Date(time::local_date(tz, t));
                            (self.wait_until)(now, tz, w.minutes, day, journey.entered_at)
                        }
                    };
                    if at <= now {
                        journey.pc += 1;
                    } else {
                        Self::schedule(&mut journey, at, effects);
                        return Ok(journey);
                    }
                }
                Instr::WaitFor(w) => {
                    let d = *m
                        .wait_fors
                        .get(w as usize)
                        .ok_or(VmError::Invalid("wait for"))?;
                    let deadline = plus(now, m.duration(d.within));
                    journey.seq = journey.seq.wrapping_add(1);
                    journey.wait = Some(Wait::Event {
                        wait_for: w,
                        deadline,
                    });
                    effects.push(Effect::WaitForEvent {
                        event: d.event.event,
                        deadline,
                    });
                    effects.push(Effect::ScheduleTimer {
                        at: deadline,
                        seq: journey.seq,
                    });
                    return Ok(journey);
                }
                Instr::Split(s) => {
                    let split = m.splits.get(s as usize).ok_or(VmError::Invalid("split"))?;
                    let forced = self.forced_arms.as_ref().and_then(|f| {
                        let key = (
                            journey.profile.to_string(),
                            wf.name.clone(),
                            m.string(split.name).to_owned(),
                        );
                        let name = f.get(&key)?;
                        (0..split.arms.len()).find(|&i| m.arm_name(s, i) == name.as_str())
                    });
                    let chosen = match forced {
                        Some(i) => Some(i),
                        None => {
                            let bucket =
                                split_bucket(&journey.profile, &wf.name, m.string(split.name));
                            choose_arm(bucket, split.arms.iter().map(|a| a.basis_points))
                        }
                    };
                    match chosen {
                        Some(i) => {
                            let arm = split.arms.get(i).ok_or(VmError::Invalid("split arm"))?;
                            let i = u16::try_from(i).unwrap_or(u16::MAX);
                            journey.arms.push((s, i));
                            effects.push(Effect::Arm { split: s, arm: i });
                            journey.pc = arm.pc;
                        }
                        None => journey.pc = split.end_pc,
                    }
                }
                Instr::EscalateBegin(e) => {
                    journey.escalation = Some(ActiveEscalation {
                        escalation: e,
                        started: now,
                    });
                    journey.pc += 1;
                }
                Instr::WaitFromEscalation(d) => {
                    let started = journey.escalation.map_or(now, |e| e.started);
                    let at = plus(started, m.duration(d));
                    if at <= now {
                        journey.pc += 1;
                    } else {
                        Self::schedule(&mut journey, at, effects);
                        return Ok(journey);
                    }
                }
                Instr::EscalateEnd => {
                    journey.escalation = None;
                    journey.pc += 1;
                }
                _ => return Err(VmError::Invalid("unexpected instruction")),
            }
        }
    }
}
