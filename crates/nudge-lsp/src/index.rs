//! A small symbol index of one project: the declarations and the schemas
//! (profile, events, enums), built from the syntax trees, and, for every
//! file, the names written in it with what each one refers to, as the
//! checker resolved them (`nudge_check::Checked::references`). Hover, go to
//! definition, completion and document symbols read it.

use std::collections::HashMap;
use std::sync::Arc;

use nudge_check::Reference;
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
    /// Names written in each file, by file index, sorted by position: what
    /// the checker resolved them to (shared with the checker's cache).
    pub references: Vec<Arc<Vec<Reference>>>,
}

impl Index {
    /// Builds the index of the parsed files of one project, with the
    /// checker's references of each file (parallel to `files`; empty when
    /// the checker could not run).
    pub fn build(files: &[&File], references: Vec<Arc<Vec<Reference>>>) -> Index {
        let mut index = Index::default();
        for (i, file) in files.iter().enumerate() {
            for item in &file.items {
                index.declare(i, item);
            }
        }
        index.references = references;
        index
    }

    /// The declaration of `kind` called `name`.
    pub fn decl(&self, kind: DeclKind, name: &str) -> Option<&Decl> {
        self.decls.iter().find(|d| d.kind == kind && d.name == name)
    }

    /// The innermost name at byte `offset` of file `file`.
    pub fn reference_at(&self, file: usize, offset: usize) -> Option<&Reference> {
        self.references
            .get(file)?
            .iter()
            .filter(|r| r.span.contains(offset))
            .min_by_key(|r| r.span.len())
    }

    /// The member `member` of enum `enum_name`.
    pub fn enum_member(&self, enum_name: &str, member: &str) -> Option<&Member> {
        self.enums.get(enum_name)?.iter().find(|m| m.name == member)
    }

    /// The goals called `goal`, with their workflows: of `workflow` only
    /// when it is given, else of every workflow.
    pub fn goals(&self, workflow: Option<&str>, goal: &str) -> Vec<(&Decl, &Member)> {
        self.decls
            .iter()
            .filter(|d| d.kind == DeclKind::Workflow)
            .filter(|d| workflow.is_none_or(|w| d.name == w))
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
