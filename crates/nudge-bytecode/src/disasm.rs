//! A readable listing of a module, with source locations.

use std::fmt::Write as _;

use nudge_core::{duration, time_of_day, weekday};

use crate::instr::*;
use crate::module::*;

/// A source file's text for locations in the listing, by the module's file
/// index.
#[derive(Clone, Copy, Debug)]
pub struct ListingSource<'a> {
    /// The file's name as listed in the module.
    pub name: &'a str,
    /// Its text.
    pub text: &'a str,
}

struct Lister<'a> {
    m: &'a Module,
    sources: &'a [ListingSource<'a>],
    context: Vec<Option<EventId>>,
}

impl Lister<'_> {
    fn event(&self, e: EventId) -> String {
        self.m.event_name(e).to_owned()
    }

    fn event_match(&self, e: &EventMatch) -> String {
        match e.filter {
            Some(f) => format!("{} where fn{}", self.event(e.event), f),
            None => self.event(e.event),
        }
    }

    fn zone(&self, z: Zone) -> String {
        match z {
            Zone::Local => "local".to_owned(),
            Zone::Named(s) => format!("in {:?}", self.m.string(s)),
        }
    }

    fn date_trigger(&self, d: &DateTrigger) -> String {
        let mut s = String::new();
        if d.offset != 0 {
            let side = if d.offset < 0 { "before" } else { "after" };
            let _ = write!(
                s,
                "{} {side} ",
                duration::format(d.offset.unsigned_abs().min(i64::MAX as u64) as i64)
            );
        }
        if d.yearly {
            s.push_str("anniversary of ");
        }
        let _ = write!(
            s,
            "profile.{}",
            Self::field_name(&self.m.schemas.profile, d.field)
        );
        if let Some((minutes, zone)) = d.at {
            let _ = write!(
                s,
                " at {} {}",
                time_of_day::format(minutes),
                self.zone(zone)
            );
        }
        s
    }

    fn dur(&self, d: DurationId) -> String {
        duration::format(self.m.duration(d))
    }

    fn constant(&self, c: ConstId) -> String {
        match self.m.consts.get(c as usize) {
            None => format!("#{c}?"),
            Some(Const::None) => "none".to_owned(),
            Some(Const::Bool(b)) => b.to_string(),
            Some(Const::Int(i)) => i.to_string(),
            Some(Const::Float(x)) => format!("{x:?}"),
            Some(Const::Str(s)) => format!("{s:?}"),
            Some(Const::Time(ms)) => format!("@{ms}ms"),
            Some(Const::Duration(s)) => duration::format(*s),
            Some(Const::TimeOfDay(m)) => time_of_day::format(*m),
            Some(Const::Enum { enum_id, member }) => {
                let e = self.m.schemas.enums.get(*enum_id as usize);
                match e.and_then(|e| e.members.get(*member as usize).map(|m| (e, m))) {
                    Some((e, m)) => format!("{}.{}", e.name, m),
                    None => format!("enum {enum_id}.{member}?"),
                }
            }
        }
    }

    fn field_name(fields: &[FieldSchema], f: FieldId) -> String {
        fields
            .get(f as usize)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| format!("#{f}"))
    }

    fn operands(&self, func: usize, instr: &Instr) -> String {
        let m = self.m;
        match *instr {
            Instr::Const(c) => self.constant(c),
            Instr::Bool(b) => b.to_string(),
            Instr::Int(i) => i.to_string(),
            Instr::LoadProfile(f) => format!("profile.{}", Self::field_name(&m.schemas.profile, f)),
            Instr::LoadProfileId => "profile.id".to_owned(),
            Instr::LoadEvent(f) => {
                let fields = self
                    .context
                    .get(func)
                    .copied()
                    .flatten()
                    .and_then(|e| m.schemas.events.get(e as usize))
                    .map(|e| e.fields.as_slice())
                    .unwrap_or(&[]);
                format!("event.{}", Self::field_name(fields, f))
            }
            Instr::LoadEventByName(s) => format!("event.{}", m.string(s)),
            Instr::Concat(n) => n.to_string(),
            Instr::Format(s) => format!("{:?}", m.string(s)),
            Instr::LoadLast(q, f) => match m.queries.get(q as usize) {
                Some(query) => {
                    let e = query.event.event;
                    let fields = m
                        .schemas
                        .events
                        .get(e as usize)
                        .map(|e| e.fields.as_slice())
                        .unwrap_or(&[]);
                    format!("last.{}.{}", self.event(e), Self::field_name(fields, f))
                }
                None => format!("query {q}?"),
            },
            Instr::LoadReceived(e, f) => {
                let fields = m
                    .schemas
                    .events
                    .get(e as usize)
                    .map(|e| e.fields.as_slice())
                    .unwrap_or(&[]);
                format!("{}.{}", self.event(e), Self::field_name(fields, f))
            }
            Instr::Cmp(op) => op.as_str().to_owned(),
            Instr::MakeList(n) => n.to_string(),
            Instr::Ago(d)
            | Instr::InactiveFor(d)
            | Instr::Wait(d)
            | Instr::WaitFromEscalation(d) => self.dur(d),
            Instr::Jump(t)
            | Instr::JumpIfFalse(t)
            | Instr::JumpIfFalseKeep(t)
            | Instr::JumpIfTrueKeep(t)
            | Instr::JumpIfSomeKeep(t) => format!("-> {t:04}"),
            Instr::Did(q) => match m.queries.get(q as usize) {
                None => format!("query {q}?"),
                Some(q) => {
                    let mut s = self.event_match(&q.event);
                    if let Some((op, n)) = q.count {
                        let _ = write!(s, " times {} {n}", op.as_str());
                    }
                    match q.window {
                        Window::Ever => {}
                        Window::Within(d) => {
                            let _ = write!(s, " within {}", self.dur(d));
                        }
                        Window::SinceEntry => s.push_str(" since entry"),
                    }
                    s
                }
            },
            Instr::InSegment(s) => m
                .segments
                .get(s as usize)
                .map(|s| s.name.clone())
                .unwrap_or_else(|| format!("segment {s}?")),
            Instr::Send(id) => match m.messages.get(id as usize) {
                None => format!("message {id}?"),
                Some(msg) => {
                    let mut s = msg.channel.as_str().to_owned();
                    if let Some(t) = msg.template.and_then(|t| m.templates.get(t as usize)) {
                        let _ = write!(s, " {}", t.name);
                    }
                    if !msg.overrides.is_empty() {
                        let names: Vec<&str> =
                            msg.overrides.iter().map(|f| m.string(f.name)).collect();
                        let _ = write!(s, " {{ {} }}", names.join(", "));
                    }
                    s
                }
            },
            Instr::WaitUntil(w) => match m.wait_untils.get(w as usize) {
                None => format!("wait until {w}?"),
                Some(w) => {
                    let mut s = format!("{} {}", time_of_day::format(w.minutes), self.zone(w.zone));
                    match w.day {
                        DaySpec::Next => {}
                        DaySpec::Day(n) => {
                            let _ = write!(s, " on day {n}");
                        }
                        DaySpec::Weekday(d) => {
                            let _ =
                                write!(s, " on {}", weekday::NAMES.get(d as usize).unwrap_or(&"?"));
                        }
                    }
                    s
                }
            },
            Instr::WaitUntilTime(None) => "the instant".to_owned(),
            Instr::WaitUntilTime(Some(w)) => match m.wait_untils.get(w as usize) {
                None => format!("wait until {w}?"),
                Some(w) => format!(
                    "its day at {} {}",
                    time_of_day::format(w.minutes),
                    self.zone(w.zone)
                ),
            },
            Instr::WaitFor(w) => match m.wait_fors.get(w as usize) {
                None => format!("wait for {w}?"),
                Some(w) => format!(
                    "{} within {} then -> {:04} else -> {:04}",
                    self.event_match(&w.event),
                    self.dur(w.within),
                    w.then_pc,
                    w.else_pc
                ),
            },
            Instr::Split(id) => match m.splits.get(id as usize) {
                None => format!("split {id}?"),
                Some(s) => {
                    let arms: Vec<String> = s
                        .arms
                        .iter()
                        .enumerate()
                        .map(|(i, a)| {
                            format!(
                                "{} {}.{:02}% -> {:04}",
                                m.arm_name(id, i),
                                a.basis_points / 100,
                                a.basis_points % 100,
                                a.pc
                            )
                        })
                        .collect();
                    format!(
                        "{} [{}] end -> {:04}",
                        m.string(s.name),
                        arms.join(", "),
                        s.end_pc
                    )
                }
            },
            Instr::EscalateBegin(e) => match m.escalations.get(e as usize) {
                None => format!("escalation {e}?"),
                Some(e) => format!(
                    "until {} end -> {:04}",
                    self.event_match(&e.until),
                    e.end_pc
                ),
            },
            Instr::None
            | Instr::Pop
            | Instr::Not
            | Instr::In
            | Instr::Add
            | Instr::Sub
            | Instr::IsNone
            | Instr::Return
            | Instr::EscalateEnd
            | Instr::Exit => String::new(),
        }
    }

    fn location(&self, span: SourceSpan) -> String {
        if !span.has_file() {
            return String::new();
        }
        let name = self
            .m
            .files
            .get(span.file as usize)
            .map(String::as_str)
            .unwrap_or("?");
        match self.sources.iter().find(|s| s.name == name) {
            Some(src) => {
                let start = (span.start as usize).min(src.text.len());
                let before = src.text.get(..start).unwrap_or("");
                let line = before.matches('\n').count() + 1;
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
                format!("{name}:{line}:{col}")
            }
            None => format!("{name}@{}..{}", span.start, span.end),
        }
    }
}

fn entry_rule(l: &Lister<'_>, e: EntryRule) -> String {
    match e {
        EntryRule::Default => "default".to_owned(),
        EntryRule::Once => "once".to_owned(),
        EntryRule::OncePer(d) => format!("once per {}", l.dur(d)),
        EntryRule::Restart => "restart".to_owned(),
    }
}

fn list_fields(l: &Lister<'_>, out: &mut String, indent: usize, fields: &[MessageField]) {
    let m = l.m;
    for f in fields {
        let pad = " ".repeat(indent);
        let name = m.string(f.name);
        match &f.value {
            FieldValue::Text(parts) => {
                let mut s = String::new();
                for p in parts {
                    match *p {
                        StringPart::Text(t) => s.push_str(m.string(t)),
                        StringPart::Value(f) => {
                            let _ = write!(s, "{{fn{f}}}");
                        }
                    }
                }
                let _ = writeln!(out, "{pad}{name}: {s:?}");
            }
            FieldValue::Expr(f) => {
                let _ = writeln!(out, "{pad}{name}: fn{f}");
            }
            FieldValue::File { path, source } => {
                let _ = writeln!(
                    out,
                    "{pad}{name}: file({:?}, {} bytes)",
                    m.string(*path),
                    m.string(*source).len()
                );
            }
            FieldValue::Object(inner) => {
                let _ = writeln!(out, "{pad}{name}:");
                list_fields(l, out, indent + 2, inner);
            }
        }
    }
}

/// The listing of a module. `sources` gives file texts (by the names in the
/// module's file table) so locations print as `file:line:col`; without them
/// they print as byte ranges.
pub fn disassemble(m: &Module, sources: &[ListingSource<'_>]) -> String {
    let l = Lister {
        m,
        sources,
        context: crate::context::event_contexts(m),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "module format {} compiler {:?} source {:016x}",
        crate::FORMAT_VERSION,
        m.compiler_version,
        m.source_hash
    );
    for w in &m.workflows {
        let _ = writeln!(out, "\nworkflow {}", w.name);
        for t in &w.triggers {
            match t {
                Trigger::Event(e) => {
                    let _ = writeln!(out, "  on {}", l.event_match(e));
                }
                Trigger::Inactive(d) => {
                    let _ = writeln!(out, "  on inactive for {}", l.dur(*d));
                }
                Trigger::Date(d) => {
                    let _ = writeln!(out, "  on {}", l.date_trigger(d));
                }
            }
        }
        if let Some(a) = w.audience {
            let _ = writeln!(out, "  audience fn{a}");
        }
        for e in &w.exit_on {
            let _ = writeln!(out, "  exit on {}", l.event_match(e));
        }
        let _ = writeln!(out, "  entry {}", entry_rule(&l, w.entry));
        for g in &w.goals {
            let _ = writeln!(
                out,
                "  goal {} = {} within {}",
                m.string(g.name),
                l.event_match(&g.event),
                l.dur(g.within)
            );
        }
        let priority = match w.priority {
            Priority::Marketing => "marketing",
            Priority::Transactional => "transactional",
        };
        let _ = writeln!(out, "  priority {priority}");
        let _ = writeln!(out, "  body fn{}", w.body);
    }
    for s in &m.segments {
        let _ = writeln!(out, "\nsegment {} = fn{}", s.name, s.predicate);
    }
    for t in &m.templates {
        let _ = write!(out, "\ntemplate {}: {}", t.name, t.channel.as_str());
        if let Some(e) = t.event {
            let _ = write!(out, " for {}", l.event(e));
        }
        out.push('\n');
        list_fields(&l, &mut out, 2, &t.fields);
    }
    for (i, msg) in m.messages.iter().enumerate() {
        if !msg.overrides.is_empty() {
            let _ = writeln!(out, "\nmessage {i}: {}", msg.channel.as_str());
            list_fields(&l, &mut out, 2, &msg.overrides);
        }
    }
    for cap in &m.policy.caps {
        let chans: Vec<&str> = cap.channels.iter().map(|c| c.as_str()).collect();
        let _ = write!(
            out,
            "\npolicy cap {} per {}",
            cap.count,
            duration::format(cap.per)
        );
        if !chans.is_empty() {
            let _ = write!(out, " for {}", chans.join(", "));
        }
        out.push('\n');
    }
    for q in &m.policy.quiet_hours {
        let chans: Vec<&str> = q.channels.iter().map(|c| c.as_str()).collect();
        let _ = write!(
            out,
            "\npolicy quiet hours {} to {} {}",
            time_of_day::format(q.from),
            time_of_day::format(q.to),
            l.zone(q.zone)
        );
        if !chans.is_empty() {
            let _ = write!(out, " for {}", chans.join(", "));
        }
        out.push('\n');
    }
    for (fi, f) in m.functions.iter().enumerate() {
        let kind = match f.kind {
            FunctionKind::Body => "body",
            FunctionKind::Expr => "expr",
        };
        let _ = writeln!(out, "\nfn{fi} {kind} {}", f.name);
        for (pc, instr) in f.code.iter().enumerate() {
            let span = f.spans.get(pc).copied().unwrap_or(SourceSpan::NONE);
            let ops = l.operands(fi, instr);
            let text = if ops.is_empty() {
                instr.mnemonic().to_owned()
            } else {
                format!("{:<16}{ops}", instr.mnemonic())
            };
            let loc = l.location(span);
            if loc.is_empty() {
                let _ = writeln!(out, "  {pc:04}  {text}");
            } else {
                let _ = writeln!(out, "  {pc:04}  {text:<56}  ; {loc}");
            }
        }
    }
    out
}
