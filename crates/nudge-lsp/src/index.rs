//! A small symbol index of one project, built from the syntax trees:
//! declarations, the schemas (profile, events, enums) and, for every file,
//! the names written in it with what each one refers to. Hover, go to
//! definition, completion and document symbols read it.

use std::collections::HashMap;

use nudge_syntax::ast::*;
use nudge_syntax::Span;

/// What a declaration is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeclKind {
    /// `enum`
    Enum,
    /// `profile`
    Profile,
    /// `event`
    Event,
    /// `segment`
    Segment,
    /// `template`
    Template,
    /// `workflow`
    Workflow,
    /// `policy`
    Policy,
    /// `test`
    Test,
}

/// A top-level declaration.
#[derive(Clone, Debug)]
pub struct Decl {
    /// What it is.
    pub kind: DeclKind,
    /// Its name (`profile` and `policy` for the unnamed blocks, the quoted
    /// name for tests).
    pub name: String,
    /// The name as written (the keyword for unnamed blocks).
    pub name_span: Span,
    /// The whole declaration.
    pub span: Span,
    /// Index of the file in the project.
    pub file: usize,
    /// The doc comment.
    pub doc: Option<String>,
    /// A one-line summary in `.flow` syntax.
    pub detail: String,
    /// Members, fields or goals, for document symbols.
    pub children: Vec<Member>,
    /// For templates: the channel.
    pub channel: Option<Channel>,
}

/// A field of a schema or a member of an enum.
#[derive(Clone, Debug)]
pub struct Member {
    /// Its name.
    pub name: String,
    /// The name as written.
    pub span: Span,
    /// The type as written (`string?`, `Plan`); empty for enum members.
    pub ty: String,
    /// The named type with `?` removed, when the type is a name (`Plan`).
    pub base: Option<String>,
    /// The doc comment.
    pub doc: Option<String>,
    /// Index of the file in the project.
    pub file: usize,
}

/// What a name written somewhere refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An event.
    Event(String),
    /// A segment.
    Segment(String),
    /// A template.
    Template(String),
    /// A workflow.
    Workflow(String),
    /// An enum (as a type).
    Enum(String),
    /// A bare enum member (`pro`), resolved by name.
    EnumMember(String),
    /// A member inside its enum's declaration.
    EnumMemberOf {
        /// The enum.
        enum_name: String,
        /// The member.
        member: String,
    },
    /// The `profile` root of a path.
    Profile,
    /// `profile.x`
    ProfileField(String),
    /// The `event` root of a path: the event of the innermost `where`, else the trigger.
    ContextEvent(Option<String>),
    /// `event.x` or `order_completed.x`
    EventField {
        /// The event.
        event: String,
        /// The property.
        field: String,
    },
    /// A workflow's goal (`goal converted = …`, `reached goal converted`).
    Goal(String),
}

/// A name written in a file.
#[derive(Clone, Debug)]
pub struct Occurrence {
    /// Where.
    pub span: Span,
    /// What it refers to.
    pub target: Target,
}

/// The index of one project.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// Every declaration of every file.
    pub decls: Vec<Decl>,
    /// Profile attributes (the implicit `id` is not listed).
    pub profile: Vec<Member>,
    /// Event properties by event name.
    pub events: HashMap<String, Vec<Member>>,
    /// Enum members by enum name.
    pub enums: HashMap<String, Vec<Member>>,
    /// Names written in each file, by file index.
    pub occurrences: Vec<Vec<Occurrence>>,
}

impl Index {
    /// Builds the index of the parsed files of one project.
    pub fn build(files: &[&File]) -> Index {
        let mut index = Index::default();
        for (i, file) in files.iter().enumerate() {
            for item in &file.items {
                index.declare(i, item);
            }
        }
        for file in files {
            let mut walker = Walker {
                index: &index,
                out: Vec::new(),
            };
            for item in &file.items {
                walker.item(item);
            }
            let mut out = walker.out;
            out.sort_by_key(|o| (o.span.start, o.span.end));
            index.occurrences.push(out);
        }
        index
    }

    /// The declaration of `kind` called `name`.
    pub fn decl(&self, kind: DeclKind, name: &str) -> Option<&Decl> {
        self.decls.iter().find(|d| d.kind == kind && d.name == name)
    }

    /// The innermost name at byte `offset` of file `file`.
    pub fn occurrence_at(&self, file: usize, offset: usize) -> Option<&Occurrence> {
        self.occurrences
            .get(file)?
            .iter()
            .filter(|o| o.span.contains(offset))
            .min_by_key(|o| o.span.len())
    }

    /// The enums that have a member called `member`, with the member.
    pub fn enums_with_member(&self, member: &str) -> Vec<(&str, &Member)> {
        let mut found: Vec<(&str, &Member)> = self
            .enums
            .iter()
            .filter_map(|(e, members)| {
                members
                    .iter()
                    .find(|m| m.name == member)
                    .map(|m| (e.as_str(), m))
            })
            .collect();
        found.sort_by_key(|(e, _)| *e);
        found
    }

    /// The workflows with a goal called `goal`, with the goal.
    pub fn goals(&self, goal: &str) -> Vec<(&Decl, &Member)> {
        self.decls
            .iter()
            .filter(|d| d.kind == DeclKind::Workflow)
            .filter_map(|d| d.children.iter().find(|m| m.name == goal).map(|m| (d, m)))
            .collect()
    }

    /// The property `field` of event `event`.
    pub fn event_field(&self, event: &str, field: &str) -> Option<&Member> {
        self.events.get(event)?.iter().find(|m| m.name == field)
    }

    /// The profile attribute `field`.
    pub fn profile_field(&self, field: &str) -> Option<&Member> {
        self.profile.iter().find(|m| m.name == field)
    }

    fn declare(&mut self, file: usize, item: &Item) {
        let doc = item.doc().map(|d| d.text.clone());
        let decl = |kind, name: &str, name_span, detail: String| Decl {
            kind,
            name: name.to_owned(),
            name_span,
            span: item.span(),
            file,
            doc: doc.clone(),
            detail,
            children: Vec::new(),
            channel: None,
        };
        let decl = match item {
            Item::Enum(e) => {
                let members: Vec<Member> = e
                    .members
                    .iter()
                    .map(|m| Member {
                        name: m.name.name.clone(),
                        span: m.name.span,
                        ty: String::new(),
                        base: None,
                        doc: m.doc.as_ref().map(|d| d.text.clone()),
                        file,
                    })
                    .collect();
                let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
                let mut d = decl(
                    DeclKind::Enum,
                    &e.name.name,
                    e.name.span,
                    format!("enum {} {{ {} }}", e.name.name, names.join(", ")),
                );
                d.children.clone_from(&members);
                self.enums
                    .entry(e.name.name.clone())
                    .or_default()
                    .extend(members);
                d
            }
            Item::Profile(p) => {
                let fields = members_of(&p.fields, file);
                let mut d = decl(
                    DeclKind::Profile,
                    "profile",
                    p.keyword,
                    format!("profile {}", fields_summary(&fields)),
                );
                d.children.clone_from(&fields);
                self.profile.extend(fields);
                d
            }
            Item::Event(e) => {
                let fields = members_of(&e.fields, file);
                let mut d = decl(
                    DeclKind::Event,
                    &e.name.name,
                    e.name.span,
                    format!("event {} {}", e.name.name, fields_summary(&fields)),
                );
                d.children.clone_from(&fields);
                self.events
                    .entry(e.name.name.clone())
                    .or_default()
                    .extend(fields);
                d
            }
            Item::Segment(s) => decl(
                DeclKind::Segment,
                &s.name.name,
                s.name.span,
                format!("segment {}", s.name.name),
            ),
            Item::Template(t) => {
                let mut detail =
                    format!("template {}: {}", t.name.name, t.channel.channel.as_str());
                if let Some(e) = &t.event {
                    detail.push_str(&format!(" for {}", e.name));
                }
                let mut d = decl(DeclKind::Template, &t.name.name, t.name.span, detail);
                d.channel = Some(t.channel.channel);
                d
            }
            Item::Workflow(w) => {
                let mut d = decl(
                    DeclKind::Workflow,
                    &w.name.name,
                    w.name.span,
                    format!("workflow {}", w.name.name),
                );
                for clause in &w.clauses {
                    if let Clause::Goal(g) = clause {
                        d.children.push(Member {
                            name: g.name.name.clone(),
                            span: g.name.span,
                            ty: format!("goal: {}", g.event.event.name),
                            base: None,
                            doc: None,
                            file,
                        });
                    }
                }
                d
            }
            Item::Policy(p) => decl(DeclKind::Policy, "policy", p.keyword, "policy".to_owned()),
            Item::Test(t) => {
                let name = t.name.display();
                decl(
                    DeclKind::Test,
                    &name,
                    t.name.span,
                    format!("test \"{name}\""),
                )
            }
        };
        self.decls.push(decl);
    }
}

fn members_of(fields: &[FieldDecl], file: usize) -> Vec<Member> {
    fields
        .iter()
        .map(|f| Member {
            name: f.name.name.clone(),
            span: f.name.span,
            ty: type_text(&f.ty),
            base: base_name(&f.ty),
            doc: f.doc.as_ref().map(|d| d.text.clone()),
            file,
        })
        .collect()
}

fn fields_summary(fields: &[Member]) -> String {
    if fields.is_empty() {
        return "{}".to_owned();
    }
    let parts: Vec<String> = fields
        .iter()
        .map(|f| format!("{}: {}", f.name, f.ty))
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

/// A type as written.
pub fn type_text(ty: &TypeExpr) -> String {
    match &ty.kind {
        TypeExprKind::Named(n) => n.name.clone(),
        TypeExprKind::List(t) => format!("[{}]", type_text(t)),
        TypeExprKind::Optional(t) => format!("{}?", type_text(t)),
    }
}

fn base_name(ty: &TypeExpr) -> Option<String> {
    match &ty.kind {
        TypeExprKind::Named(n) => Some(n.name.clone()),
        TypeExprKind::Optional(t) => base_name(t),
        TypeExprKind::List(_) => None,
    }
}

/// Collects the names written in one file.
struct Walker<'a> {
    index: &'a Index,
    out: Vec<Occurrence>,
}

impl Walker<'_> {
    fn push(&mut self, span: Span, target: Target) {
        self.out.push(Occurrence { span, target });
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Enum(e) => {
                self.push(e.name.span, Target::Enum(e.name.name.clone()));
                for m in &e.members {
                    self.push(
                        m.name.span,
                        Target::EnumMemberOf {
                            enum_name: e.name.name.clone(),
                            member: m.name.name.clone(),
                        },
                    );
                }
            }
            Item::Profile(p) => {
                self.push(p.keyword, Target::Profile);
                for f in &p.fields {
                    self.push(f.name.span, Target::ProfileField(f.name.name.clone()));
                    self.field_decl(f);
                }
            }
            Item::Event(e) => {
                self.push(e.name.span, Target::Event(e.name.name.clone()));
                for f in &e.fields {
                    self.push(
                        f.name.span,
                        Target::EventField {
                            event: e.name.name.clone(),
                            field: f.name.name.clone(),
                        },
                    );
                    self.field_decl(f);
                }
            }
            Item::Segment(s) => {
                self.push(s.name.span, Target::Segment(s.name.name.clone()));
                self.expr(&s.condition, None);
            }
            Item::Template(t) => {
                self.push(t.name.span, Target::Template(t.name.name.clone()));
                let ctx = t.event.as_ref().map(|e| e.name.as_str());
                if let Some(e) = &t.event {
                    self.push(e.span, Target::Event(e.name.clone()));
                }
                self.object(&t.fields, ctx);
            }
            Item::Workflow(w) => self.workflow(w),
            Item::Policy(_) => {}
            Item::Test(t) => {
                for step in &t.steps {
                    self.test_step(step);
                }
            }
        }
    }

    fn field_decl(&mut self, f: &FieldDecl) {
        self.type_expr(&f.ty);
        if let Some(d) = &f.default {
            self.expr(d, None);
        }
    }

    fn type_expr(&mut self, ty: &TypeExpr) {
        match &ty.kind {
            TypeExprKind::Named(n) => {
                if self.index.enums.contains_key(&n.name) {
                    self.push(n.span, Target::Enum(n.name.clone()));
                }
            }
            TypeExprKind::List(t) | TypeExprKind::Optional(t) => self.type_expr(t),
        }
    }

    fn workflow(&mut self, w: &WorkflowDecl) {
        self.push(w.name.span, Target::Workflow(w.name.name.clone()));
        let trigger = w.clauses.iter().find_map(|c| match c {
            Clause::On { triggers, .. } => triggers.iter().find_map(|t| match t {
                Trigger::Event(m) => Some(m.event.name.clone()),
                Trigger::Inactive { .. } => None,
            }),
            _ => None,
        });
        let ctx = trigger.as_deref();
        for clause in &w.clauses {
            match clause {
                Clause::On { triggers, .. } => {
                    for t in triggers {
                        if let Trigger::Event(m) = t {
                            self.event_match(m);
                        }
                    }
                }
                Clause::Audience { condition, .. } => self.expr(condition, ctx),
                Clause::ExitOn { events, .. } => {
                    for m in events {
                        self.event_match(m);
                    }
                }
                Clause::Goal(g) => {
                    self.push(g.name.span, Target::Goal(g.name.name.clone()));
                    self.event_match(&g.event);
                }
                Clause::Entry { .. } | Clause::Priority { .. } => {}
            }
        }
        self.stmts(&w.body, ctx);
    }

    fn event_match(&mut self, m: &EventMatch) {
        self.push(m.event.span, Target::Event(m.event.name.clone()));
        if let Some(f) = &m.filter {
            self.expr(f, Some(&m.event.name));
        }
    }

    fn stmts(&mut self, stmts: &[Stmt], ctx: Option<&str>) {
        for s in stmts {
            self.stmt(s, ctx);
        }
    }

    fn stmt(&mut self, stmt: &Stmt, ctx: Option<&str>) {
        match stmt {
            Stmt::Send(s) => self.message(&s.message, ctx),
            Stmt::Wait { .. } | Stmt::WaitUntil(_) | Stmt::Exit { .. } => {}
            Stmt::WaitFor(w) => {
                self.event_match(&w.event);
                for b in [&w.then_block, &w.else_block].into_iter().flatten() {
                    self.stmts(&b.stmts, ctx);
                }
            }
            Stmt::If(i) => {
                for branch in &i.branches {
                    self.expr(&branch.condition, ctx);
                    self.stmts(&branch.block.stmts, ctx);
                }
                if let Some(b) = &i.else_block {
                    self.stmts(&b.stmts, ctx);
                }
            }
            Stmt::Split(s) => {
                for arm in &s.arms {
                    self.stmts(&arm.body.stmts, ctx);
                }
            }
            Stmt::Escalate(e) => {
                self.event_match(&e.until);
                for step in &e.steps {
                    self.message(&step.message, ctx);
                    if let Some(g) = &step.guard {
                        self.expr(g, ctx);
                    }
                }
            }
        }
    }

    fn message(&mut self, m: &Message, ctx: Option<&str>) {
        if let Some(t) = &m.template {
            self.push(t.span, Target::Template(t.name.clone()));
        }
        match &m.content {
            Some(Content::Fields(o)) => self.object(o, ctx),
            Some(Content::Text(s)) => self.string(s, ctx),
            None => {}
        }
    }

    fn object(&mut self, o: &Object, ctx: Option<&str>) {
        for f in &o.fields {
            self.value(&f.value, ctx);
        }
    }

    /// An object whose field names are attributes of the profile or of an event.
    fn record(&mut self, o: &Object, event: Option<&str>) {
        for f in &o.fields {
            let target = match event {
                Some(e) => Target::EventField {
                    event: e.to_owned(),
                    field: f.name.name.clone(),
                },
                None => Target::ProfileField(f.name.name.clone()),
            };
            self.push(f.name.span, target);
            self.value(&f.value, None);
        }
    }

    fn value(&mut self, v: &Value, ctx: Option<&str>) {
        match v {
            Value::Expr(e) => self.expr(e, ctx),
            Value::File(_) => {}
            Value::Object(o) => self.object(o, ctx),
        }
    }

    fn string(&mut self, s: &StringLit, ctx: Option<&str>) {
        for part in &s.parts {
            if let StringPart::Interp(i) = part {
                self.path(&i.path, ctx);
                if let Some(d) = &i.default {
                    self.expr(d, ctx);
                }
            }
        }
    }

    fn expr(&mut self, e: &Expr, ctx: Option<&str>) {
        match &e.kind {
            ExprKind::Literal(Literal::String(s)) => self.string(s, ctx),
            ExprKind::Literal(_) | ExprKind::Inactive(_) | ExprKind::Ago(_) | ExprKind::Error => {}
            ExprKind::Path(p) => self.path(p, ctx),
            ExprKind::List(items) => {
                for i in items {
                    self.expr(i, ctx);
                }
            }
            ExprKind::Paren(inner) | ExprKind::Not(inner) => self.expr(inner, ctx),
            ExprKind::IsNone { operand, .. } => self.expr(operand, ctx),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs, ctx);
                self.expr(rhs, ctx);
            }
            ExprKind::Did(d) => self.event_match(&d.event),
            ExprKind::InSegment(s) => self.push(s.span, Target::Segment(s.name.clone())),
        }
    }

    fn path(&mut self, p: &Path, ctx: Option<&str>) {
        let Some(root) = p.segments.first() else {
            return;
        };
        let second = p.segments.get(1);
        match root.name.as_str() {
            "profile" => {
                self.push(root.span, Target::Profile);
                if let Some(f) = second {
                    self.push(f.span, Target::ProfileField(f.name.clone()));
                }
            }
            "event" => {
                self.push(root.span, Target::ContextEvent(ctx.map(str::to_owned)));
                if let (Some(f), Some(event)) = (second, ctx) {
                    self.push(
                        f.span,
                        Target::EventField {
                            event: event.to_owned(),
                            field: f.name.clone(),
                        },
                    );
                }
            }
            name if self.index.events.contains_key(name) => {
                self.push(root.span, Target::Event(name.to_owned()));
                if let Some(f) = second {
                    self.push(
                        f.span,
                        Target::EventField {
                            event: name.to_owned(),
                            field: f.name.clone(),
                        },
                    );
                }
            }
            name if second.is_none() => {
                self.push(root.span, Target::EnumMember(name.to_owned()));
            }
            _ => {}
        }
    }

    fn test_step(&mut self, step: &TestStep) {
        match step {
            TestStep::GivenProfile { attributes, .. } => self.record(attributes, None),
            TestStep::GivenEvent {
                event, properties, ..
            } => {
                self.push(event.span, Target::Event(event.name.clone()));
                if let Some(o) = properties {
                    self.record(o, Some(&event.name));
                }
            }
            TestStep::At { action, .. } => match action {
                TestAction::Does { event, properties } => {
                    self.push(event.span, Target::Event(event.name.clone()));
                    if let Some(o) = properties {
                        self.record(o, Some(&event.name));
                    }
                }
                TestAction::Identify { traits } => self.record(traits, None),
            },
            TestStep::Expect(e) => match &e.kind {
                ExpectKind::Messages { template, .. } => {
                    if let Some(t) = template {
                        self.push(t.span, Target::Template(t.name.clone()));
                    }
                }
                ExpectKind::Journey { state, target, .. } => {
                    let t = if *state == JourneyState::ReachedGoal {
                        Target::Goal(target.name.clone())
                    } else {
                        Target::Workflow(target.name.clone())
                    };
                    self.push(target.span, t);
                }
            },
        }
    }
}
