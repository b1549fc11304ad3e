//! The compiler: the checker's typed [`Program`] to a verified [`Module`].
//!
//! Every condition becomes an expression function evaluated with the right
//! `event` in context; statements become straight-line body code with
//! labels for `if`, `wait for`, `split` and `escalate`. Escalation step
//! delays are summed into offsets from the block's start, because step
//! times are fixed when the block starts. The result is verified before it
//! is returned, so a compiler bug shows up here and not in a journey.

use nudge_bytecode::{BuildError, FunctionBuilder, ModuleBuilder, StableHasher, VerifyError, *};
use nudge_check::ir::{
    self, Const as IrConst, DidWindow, Entry, EventMatch as IrMatch, Expr, ExprKind,
    FieldValue as IrFieldValue, Loc, MessageField as IrField, PolicyRule, Program, Stmt, TextPart,
    Trigger as IrTrigger,
};
use nudge_check::Type as IrType;
use nudge_core::BinaryOp;
use nudge_syntax::Span;

/// Why a program could not be compiled.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompileError {
    /// A table outgrew its index type, or a label was left unplaced.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The compiled module failed verification (a compiler bug).
    #[error("the compiler produced an invalid module: {0}")]
    Verify(#[from] VerifyError),
    /// A number does not fit its operand.
    #[error("{0} is too large to compile")]
    TooLarge(&'static str),
}

type Result<T> = std::result::Result<T, CompileError>;

fn ty(t: &IrType) -> Type {
    match t {
        IrType::Enum(e) => Type::Enum(u16::try_from(e.0).unwrap_or(u16::MAX)),
        IrType::Optional(inner) => Type::Optional(Box::new(ty(inner))),
        IrType::List(inner) => Type::List(Box::new(ty(inner))),
        // `none` and the error type never reach a schema of a checked
        // program; a string is the harmless stand-in.
        other => other.scalar().map_or(Type::String, Type::from),
    }
}

fn u16_of(n: impl TryInto<u16>, what: &'static str) -> Result<u16> {
    n.try_into().map_err(|_| CompileError::TooLarge(what))
}

/// A scalar constant (lists are compiled to `list` instructions).
fn scalar(c: &IrConst) -> Option<Const> {
    Some(match c {
        IrConst::None => Const::None,
        IrConst::Bool(b) => Const::Bool(*b),
        IrConst::Int(i) => Const::Int(*i),
        IrConst::Float(x) => Const::Float(*x),
        IrConst::String(s) => Const::Str(s.clone()),
        IrConst::Duration(s) => Const::Duration(*s),
        IrConst::TimeOfDay(m) => Const::TimeOfDay(*m),
        IrConst::Time(t) => Const::Time(t.timestamp_millis()),
        IrConst::Enum(e, m) => Const::Enum {
            enum_id: u16::try_from(e.0).unwrap_or(u16::MAX),
            member: u16::try_from(*m).unwrap_or(u16::MAX),
        },
        IrConst::List(_) => return None,
    })
}

struct Compiler<'p> {
    program: &'p Program,
    mb: ModuleBuilder,
    /// The file of the declaration being compiled.
    file: u16,
}

/// The checker's profile schema has the implicit `id` as field 0; the
/// module lists only declared fields.
fn profile_field(f: ir::FieldId) -> Option<u16> {
    f.0.checked_sub(1).and_then(|i| u16::try_from(i).ok())
}

impl<'p> Compiler<'p> {
    fn span(&self, span: Span) -> SourceSpan {
        SourceSpan {
            file: self.file,
            start: span.start,
            end: span.end,
        }
    }

    fn at(&mut self, loc: Loc) {
        self.file = u16::try_from(loc.file.0).unwrap_or(SourceSpan::NO_FILE);
    }

    fn dur(&mut self, seconds: i64) -> Result<DurationId> {
        Ok(self.mb.duration(seconds)?)
    }

    fn event(&self, e: ir::EventId) -> Result<EventId> {
        u16_of(e.0, "an event index")
    }

    // ------------------------------------------------------------ expressions

    fn constant(&mut self, f: &mut FunctionBuilder, c: &IrConst) -> Result<()> {
        match c {
            IrConst::None => {
                f.emit(Instr::None);
            }
            IrConst::Bool(b) => {
                f.emit(Instr::Bool(*b));
            }
            IrConst::Int(i) if i32::try_from(*i).is_ok() => {
                f.emit(Instr::Int(i32::try_from(*i).unwrap_or(0)));
            }
            IrConst::List(items) => {
                for item in items {
                    self.constant(f, item)?;
                }
                f.emit(Instr::MakeList(u16_of(items.len(), "a list")?));
            }
            other => {
                if let Some(k) = scalar(other) {
                    let id = self.mb.constant(k);
                    f.emit(Instr::Const(id));
                }
            }
        }
        Ok(())
    }

    fn expr(&mut self, f: &mut FunctionBuilder, e: &Expr) -> Result<()> {
        f.set_span(self.span(e.span));
        match &e.kind {
            ExprKind::Const(c) => self.constant(f, c)?,
            ExprKind::Text(parts) => {
                for p in parts {
                    match p {
                        TextPart::Text(t) => {
                            let id = self.mb.constant(Const::Str(t.clone()));
                            f.emit(Instr::Const(id));
                        }
                        TextPart::Interp(inner) => self.expr(f, inner)?,
                    }
                }
                f.set_span(self.span(e.span));
                f.emit(Instr::Concat(u16_of(parts.len(), "a text")?));
            }
            ExprKind::Format(inner, spec) => {
                self.expr(f, inner)?;
                let spec = self.mb.string(spec);
                f.set_span(self.span(e.span));
                f.emit(Instr::Format(spec));
            }
            ExprKind::Profile(field) => {
                match profile_field(*field) {
                    None => f.emit(Instr::LoadProfileId),
                    Some(i) => f.emit(Instr::LoadProfile(i)),
                };
            }
            ExprKind::EventField(candidates) => {
                let first = candidates.first().map(|(_, fi)| fi.0);
                let same = candidates.iter().all(|(_, fi)| Some(fi.0) == first);
                match (first, same) {
                    (Some(i), true) => {
                        f.emit(Instr::LoadEvent(u16_of(i, "a field index")?));
                    }
                    _ => {
                        let name = candidates
                            .first()
                            .and_then(|(ev, fi)| {
                                self.program
                                    .events
                                    .get(ev.index())
                                    .and_then(|e| e.schema.fields.get(fi.index()))
                            })
                            .map(|fd| fd.name.clone())
                            .unwrap_or_default();
                        let s = self.mb.string(&name);
                        f.emit(Instr::LoadEventByName(s));
                    }
                }
            }
            ExprKind::Received(ev, field) => {
                f.emit(Instr::LoadReceived(
                    self.event(*ev)?,
                    u16_of(field.0, "a field index")?,
                ));
            }
            ExprKind::Last(ev, field) => {
                // A query the history keeps this event for (as `did … ever`
                // does); the load reads the newest one.
                let q = self.mb.add_query(Query {
                    event: EventMatch {
                        event: self.event(*ev)?,
                        filter: None,
                    },
                    count: None,
                    window: Window::Ever,
                })?;
                f.set_span(self.span(e.span));
                f.emit(Instr::LoadLast(q, u16_of(field.0, "a field index")?));
            }
            ExprKind::List(items) => {
                for item in items {
                    self.expr(f, item)?;
                }
                f.set_span(self.span(e.span));
                f.emit(Instr::MakeList(u16_of(items.len(), "a list")?));
            }
            ExprKind::Not(inner) => {
                self.expr(f, inner)?;
                f.set_span(self.span(e.span));
                f.emit(Instr::Not);
            }
            ExprKind::Binary(op, lhs, rhs) => {
                let short = match op {
                    BinaryOp::And => Some(Instr::JumpIfFalseKeep as fn(Pc) -> Instr),
                    BinaryOp::Or => Some(Instr::JumpIfTrueKeep as fn(Pc) -> Instr),
                    BinaryOp::Coalesce => Some(Instr::JumpIfSomeKeep as fn(Pc) -> Instr),
                    _ => None,
                };
                self.expr(f, lhs)?;
                if let Some(jump) = short {
                    let end = f.label();
                    f.set_span(self.span(e.span));
                    f.emit_jump(jump, end);
                    self.expr(f, rhs)?;
                    f.bind(end);
                } else {
                    self.expr(f, rhs)?;
                    f.set_span(self.span(e.span));
                    f.emit(match op {
                        BinaryOp::Eq => Instr::Cmp(CmpOp::Eq),
                        BinaryOp::Ne => Instr::Cmp(CmpOp::Ne),
                        BinaryOp::Lt => Instr::Cmp(CmpOp::Lt),
                        BinaryOp::Le => Instr::Cmp(CmpOp::Le),
                        BinaryOp::Gt => Instr::Cmp(CmpOp::Gt),
                        BinaryOp::Ge => Instr::Cmp(CmpOp::Ge),
                        BinaryOp::Add => Instr::Add,
                        BinaryOp::Sub => Instr::Sub,
                        _ => Instr::In,
                    });
                }
            }
            ExprKind::IsNone(inner, negated) => {
                self.expr(f, inner)?;
                f.set_span(self.span(e.span));
                f.emit(Instr::IsNone);
                if *negated {
                    f.emit(Instr::Not);
                }
            }
            ExprKind::Did {
                event,
                filter,
                count,
                window,
            } => {
                let filter = match filter {
                    Some(flt) => {
                        Some(self.expr_fn(&format!("did {} filter", self.event_name(*event)), flt)?)
                    }
                    None => None,
                };
                let count = match count {
                    None => None,
                    Some((op, n)) => {
                        let op = match op {
                            BinaryOp::Eq => CmpOp::Eq,
                            BinaryOp::Ne => CmpOp::Ne,
                            BinaryOp::Lt => CmpOp::Lt,
                            BinaryOp::Le => CmpOp::Le,
                            BinaryOp::Gt => CmpOp::Gt,
                            _ => CmpOp::Ge,
                        };
                        Some((
                            op,
                            u32::try_from(*n).map_err(|_| CompileError::TooLarge("a count"))?,
                        ))
                    }
                };
                let window = match window {
                    DidWindow::Ever => Window::Ever,
                    DidWindow::Within(s) => Window::Within(self.dur(*s)?),
                    DidWindow::SinceEntry => Window::SinceEntry,
                };
                let q = self.mb.add_query(Query {
                    event: EventMatch {
                        event: self.event(*event)?,
                        filter,
                    },
                    count,
                    window,
                })?;
                f.set_span(self.span(e.span));
                f.emit(Instr::Did(q));
            }
            ExprKind::Inactive(s) => {
                let d = self.dur(*s)?;
                f.emit(Instr::InactiveFor(d));
            }
            ExprKind::InSegment(s) => {
                f.emit(Instr::InSegment(u16_of(s.0, "a segment index")?));
            }
            ExprKind::Ago(s) => {
                let d = self.dur(*s)?;
                f.emit(Instr::Ago(d));
            }
        }
        Ok(())
    }

    fn event_name(&self, e: ir::EventId) -> String {
        self.program
            .events
            .get(e.index())
            .map(|e| e.name.clone())
            .unwrap_or_default()
    }

    /// An expression function.
    fn expr_fn(&mut self, name: &str, e: &Expr) -> Result<FunctionId> {
        let mut f = FunctionBuilder::new(name, FunctionKind::Expr);
        self.expr(&mut f, e)?;
        f.set_span(self.span(e.span));
        f.emit(Instr::Return);
        Ok(self.mb.add_function(f)?)
    }

    fn event_match(&mut self, name: &str, m: &IrMatch) -> Result<EventMatch> {
        let filter = match &m.filter {
            Some(flt) => Some(self.expr_fn(name, flt)?),
            None => None,
        };
        Ok(EventMatch {
            event: self.event(m.event)?,
            filter,
        })
    }

    // ------------------------------------------------------------ messages

    fn field_value(&mut self, owner: &str, v: &IrFieldValue) -> Result<FieldValue> {
        Ok(match v {
            IrFieldValue::Text(parts) => {
                let mut out = Vec::with_capacity(parts.len());
                for p in parts {
                    out.push(match p {
                        TextPart::Text(t) => StringPart::Text(self.mb.string(t)),
                        TextPart::Interp(e) => StringPart::Value(self.expr_fn(owner, e)?),
                    });
                }
                FieldValue::Text(out)
            }
            IrFieldValue::Expr(e) => FieldValue::Expr(self.expr_fn(owner, e)?),
            IrFieldValue::File { path, source, .. } => FieldValue::File {
                path: self.mb.string(path),
                source: self.mb.string(source),
            },
            IrFieldValue::Object(fields) => {
                let mut out = Vec::with_capacity(fields.len());
                for (name, value) in fields {
                    let value = self.field_value(&format!("{owner}.{name}"), value)?;
                    out.push(MessageField {
                        name: self.mb.string(name),
                        value,
                    });
                }
                FieldValue::Object(out)
            }
        })
    }

    fn fields(&mut self, owner: &str, fields: &[IrField]) -> Result<Vec<MessageField>> {
        let mut out = Vec::with_capacity(fields.len());
        for fd in fields {
            let value = self.field_value(&format!("{owner} {}", fd.name), &fd.value)?;
            out.push(MessageField {
                name: self.mb.string(&fd.name),
                value,
            });
        }
        Ok(out)
    }

    fn send(&mut self, owner: &str, s: &ir::Send) -> Result<MessageId> {
        let overrides = self.fields(&format!("{owner} send"), &s.fields)?;
        let template = match s.template {
            Some(t) => Some(u16_of(t.0, "a template index")?),
            None => None,
        };
        Ok(self.mb.add_message(MessageDesc {
            channel: s.channel,
            template,
            overrides,
            address: s.address.and_then(profile_field),
        })?)
    }

    // ------------------------------------------------------------ statements

    fn block(&mut self, wf: &str, f: &mut FunctionBuilder, stmts: &[Stmt]) -> Result<()> {
        for s in stmts {
            self.stmt(wf, f, s)?;
        }
        Ok(())
    }

    fn stmt(&mut self, wf: &str, f: &mut FunctionBuilder, s: &Stmt) -> Result<()> {
        match s {
            Stmt::Send(send) => {
                let m = self.send(wf, send)?;
                f.set_span(self.span(send.span));
                f.emit(Instr::Send(m));
            }
            Stmt::Wait { seconds, span } => {
                let d = self.dur(*seconds)?;
                f.set_span(self.span(*span));
                f.emit(Instr::Wait(d));
            }
            Stmt::WaitUntilTime { at, clock, span } => {
                self.expr(f, at)?;
                let w = match clock {
                    None => None,
                    Some((minutes, zone)) => {
                        let zone = self.zone(zone);
                        Some(self.mb.add_wait_until(WaitUntil {
                            minutes: *minutes,
                            zone,
                            day: DaySpec::Next,
                        })?)
                    }
                };
                f.set_span(self.span(*span));
                f.emit(Instr::WaitUntilTime(w));
            }
            Stmt::WaitUntil {
                minutes,
                zone,
                day,
                span,
            } => {
                let zone = self.zone(zone);
                let day = match day {
                    None => DaySpec::Next,
                    Some(ir::Day::Number(n)) => DaySpec::Day(u16_of(*n, "a day number")?),
                    Some(ir::Day::Weekday(w)) => {
                        DaySpec::Weekday(u8::try_from(w.num_days_from_monday()).unwrap_or(0))
                    }
                };
                let w = self.mb.add_wait_until(WaitUntil {
                    minutes: *minutes,
                    zone,
                    day,
                })?;
                f.set_span(self.span(*span));
                f.emit(Instr::WaitUntil(w));
            }
            Stmt::WaitFor {
                event,
                within,
                then_block,
                else_block,
                span,
            } => {
                let m = self.event_match(&format!("{wf} wait for filter"), event)?;
                let d = self.dur(*within)?;
                let w = self.mb.add_wait_for(m, d)?;
                let (then_l, else_l, end) = (f.label(), f.label(), f.label());
                f.set_span(self.span(*span));
                f.emit(Instr::WaitFor(w));
                f.patch_wait_for(w, then_l, else_l);
                f.bind(then_l);
                self.block(wf, f, then_block)?;
                f.set_span(self.span(*span));
                f.emit_jump(Instr::Jump, end);
                f.bind(else_l);
                self.block(wf, f, else_block)?;
                f.bind(end);
            }
            Stmt::If {
                branches,
                else_block,
                span,
            } => {
                let end = f.label();
                for (cond, block) in branches {
                    let next = f.label();
                    self.expr(f, cond)?;
                    f.set_span(self.span(cond.span));
                    f.emit_jump(Instr::JumpIfFalse, next);
                    self.block(wf, f, block)?;
                    f.set_span(self.span(*span));
                    f.emit_jump(Instr::Jump, end);
                    f.bind(next);
                }
                self.block(wf, f, else_block)?;
                f.bind(end);
            }
            Stmt::Split { name, arms, span } => {
                let shares: Vec<(&str, u32)> =
                    arms.iter().map(|(n, bp, _)| (n.as_str(), *bp)).collect();
                let split = self.mb.add_split(name, &shares)?;
                let end = f.label();
                f.set_span(self.span(*span));
                f.emit(Instr::Split(split));
                f.patch_split_end(split, end);
                for (i, (_, _, block)) in arms.iter().enumerate() {
                    let arm = f.label();
                    f.patch_split_arm(split, i, arm);
                    f.bind(arm);
                    self.block(wf, f, block)?;
                    f.set_span(self.span(*span));
                    f.emit_jump(Instr::Jump, end);
                }
                f.bind(end);
            }
            Stmt::Escalate { until, steps, span } => {
                let m = self.event_match(&format!("{wf} escalate until filter"), until)?;
                let esc = self.mb.add_escalation(m)?;
                let end = f.label();
                f.set_span(self.span(*span));
                f.emit(Instr::EscalateBegin(esc));
                f.patch_escalation_end(esc, end);
                let mut offset: i64 = 0;
                for step in steps {
                    offset = offset.saturating_add(step.after);
                    f.set_span(self.span(step.span));
                    if offset > 0 {
                        let d = self.dur(offset)?;
                        f.emit(Instr::WaitFromEscalation(d));
                    }
                    let skip = f.label();
                    if let Some(guard) = &step.guard {
                        self.expr(f, guard)?;
                        f.set_span(self.span(step.span));
                        f.emit_jump(Instr::JumpIfFalse, skip);
                    }
                    let msg = self.send(wf, &step.send)?;
                    f.set_span(self.span(step.span));
                    f.emit(Instr::Send(msg));
                    f.bind(skip);
                }
                f.set_span(self.span(*span));
                f.emit(Instr::EscalateEnd);
                f.bind(end);
            }
            Stmt::Exit { span } => {
                f.set_span(self.span(*span));
                f.emit(Instr::Exit);
            }
        }
        Ok(())
    }

    fn zone(&mut self, z: &ir::Zone) -> Zone {
        match z {
            ir::Zone::Local => Zone::Local,
            ir::Zone::Named(n) => Zone::Named(self.mb.string(n)),
        }
    }

    // ------------------------------------------------------------ declarations

    fn schemas(&mut self) -> Result<()> {
        let p = self.program;
        let field = |f: &ir::FieldDef| FieldSchema {
            name: f.name.clone(),
            ty: ty(&f.ty),
            default: f.default.as_ref().and_then(scalar),
        };
        let schemas = Schemas {
            enums: p
                .enums
                .iter()
                .map(|e| EnumSchema {
                    name: e.name.clone(),
                    members: e.members.clone(),
                })
                .collect(),
            events: p
                .events
                .iter()
                .map(|e| EventSchema {
                    name: e.name.clone(),
                    fields: e.schema.fields.iter().map(field).collect(),
                })
                .collect(),
            profile: p.profile.fields.iter().skip(1).map(field).collect(),
        };
        if schemas.events.len() > usize::from(u16::MAX)
            || schemas.profile.len() > usize::from(u16::MAX)
        {
            return Err(CompileError::TooLarge("the schema"));
        }
        self.mb.set_schemas(schemas);
        Ok(())
    }

    fn workflow(&mut self, w: &ir::WorkflowDef) -> Result<()> {
        self.at(w.loc);
        let name = &w.name;
        let mut triggers = Vec::with_capacity(w.triggers.len());
        for t in &w.triggers {
            triggers.push(match t {
                IrTrigger::Event(m) => {
                    Trigger::Event(self.event_match(&format!("{name} on filter"), m)?)
                }
                IrTrigger::Inactive { seconds, .. } => Trigger::Inactive(self.dur(*seconds)?),
                IrTrigger::Date {
                    field,
                    offset,
                    yearly,
                    at,
                    ..
                } => Trigger::Date(nudge_bytecode::DateTrigger {
                    // The checker accepts only `time` fields, never `id`.
                    field: u16_of(field.0.saturating_sub(1), "a field index")?,
                    offset: *offset,
                    yearly: *yearly,
                    at: at.as_ref().map(|(m, z)| (*m, self.zone(z))),
                }),
            });
        }
        let audience = match &w.audience {
            Some(a) => Some(self.expr_fn(&format!("{name} audience"), a)?),
            None => None,
        };
        let mut exit_on = Vec::with_capacity(w.exits.len());
        for e in &w.exits {
            exit_on.push(self.event_match(&format!("{name} exit on filter"), e)?);
        }
        let entry = match w.entry {
            Entry::Default => EntryRule::Default,
            Entry::Once => EntryRule::Once,
            Entry::OncePer(s) => EntryRule::OncePer(self.dur(s)?),
            Entry::Restart => EntryRule::Restart,
        };
        let mut goals = Vec::with_capacity(w.goals.len());
        for g in &w.goals {
            let event = self.event_match(&format!("{name} goal {} filter", g.name), &g.event)?;
            goals.push(Goal {
                name: self.mb.string(&g.name),
                event,
                within: self.dur(g.within)?,
            });
        }
        let mut f = FunctionBuilder::new(format!("workflow {name}"), FunctionKind::Body);
        self.block(name, &mut f, &w.body)?;
        f.set_span(self.span(w.loc.span));
        f.emit(Instr::Return);
        let body = self.mb.add_function(f)?;
        self.mb.add_workflow(Workflow {
            name: name.clone(),
            triggers,
            audience,
            exit_on,
            entry,
            goals,
            priority: w.priority,
            body,
        })?;
        Ok(())
    }

    fn policy(&mut self) -> Result<()> {
        let Some(p) = &self.program.policy else {
            return Ok(());
        };
        let mut policy = Policy::default();
        for rule in &p.rules {
            match rule {
                PolicyRule::Cap {
                    count,
                    per,
                    channels,
                } => {
                    policy.caps.push(Cap {
                        count: u32::try_from(*count)
                            .map_err(|_| CompileError::TooLarge("a cap"))?,
                        per: *per,
                        channels: channels.clone(),
                    });
                }
                PolicyRule::QuietHours {
                    from,
                    to,
                    zone,
                    channels,
                } => {
                    let zone = self.zone(zone);
                    policy.quiet_hours.push(QuietHours {
                        from: *from,
                        to: *to,
                        zone,
                        channels: channels.clone(),
                    });
                }
            }
        }
        self.mb.set_policy(policy);
        Ok(())
    }
}

/// The hash of a project's sources (names and texts, in order).
pub fn source_hash(program: &Program) -> u64 {
    let mut h = StableHasher::new();
    for f in &program.files {
        h.write_str(f.name()).write_str(f.text());
    }
    h.finish()
}

/// Compiles a checked program into a verified module.
pub fn compile(program: &Program, compiler_version: &str) -> Result<Module> {
    let mut c = Compiler {
        program,
        mb: ModuleBuilder::new(compiler_version),
        file: SourceSpan::NO_FILE,
    };
    c.mb.set_source_hash(source_hash(program));
    for f in &program.files {
        c.mb.file(f.name());
    }
    c.schemas()?;
    // Segments and templates keep the program's indexes.
    for s in &program.segments {
        c.at(s.loc);
        let predicate = c.expr_fn(&format!("segment {}", s.name), &s.condition)?;
        c.mb.add_segment(&s.name, predicate)?;
    }
    for t in &program.templates {
        c.at(t.loc);
        let fields = c.fields(&format!("template {}", t.name), &t.fields)?;
        let event = match t.event {
            Some(e) => Some(c.event(e)?),
            None => None,
        };
        c.mb.add_template(Template {
            name: t.name.clone(),
            channel: t.channel,
            event,
            fields,
        })?;
    }
    for w in &program.workflows {
        c.workflow(w)?;
    }
    c.policy()?;
    Ok(c.mb.build_verified()?)
}
