//! The checker's state: symbol tables built from every file of the project,
//! the diagnostics collected so far, and the passes in order.

use std::collections::HashMap;
use std::sync::Arc;

use nudge_core::Scalar;
use nudge_syntax::ast::{self, Ident, Item, TypeExpr, TypeExprKind};
use nudge_syntax::{Diagnostic, Parsed, SourceFile, Span};

use crate::ir::{
    self, Const, EnumId, EventId, FieldDef, FileId, Loc, Schema, SegmentId, TemplateId,
};
use crate::messages::{self, ConstantSite, Declaration, NameHint, NoEvent};
use crate::references::{Reference, Target};
use crate::suggest;
use crate::types::Type;
use crate::TemplateLoader;

/// A narrowing fact: the rendered key of a path known not to be `none`.
pub(crate) type Key = String;

/// A template file, read and parsed once.
#[derive(Clone, Debug)]
pub(crate) enum TemplateFile {
    /// Its text and the variables it uses (dotted, sorted).
    Parsed(String, Vec<String>),
    /// It could not be read: why (nothing if it does not exist).
    Unreadable(Option<String>),
    /// It does not parse: what, on which line, and the path it was read by.
    Syntax {
        /// What is wrong.
        detail: String,
        /// The line, if known.
        line: Option<usize>,
        /// The path as written where the file was first read.
        path: String,
    },
}

/// Which event `event.` means.
#[derive(Clone, Debug)]
pub(crate) enum EventScope {
    None(NoEvent),
    One(EventId),
    Many(Vec<EventId>),
}

/// Where an expression is checked.
#[derive(Clone, Debug)]
pub(crate) struct Cx {
    pub file: FileId,
    pub event: EventScope,
    /// Identity of the `event` scope, so facts about one `event` do not
    /// leak into a nested `X where …`.
    pub tag: u32,
    /// Events received on every path to here (`wait for X` then-blocks).
    pub received: Vec<EventId>,
    /// Paths known not to be `none` here.
    pub facts: Vec<Key>,
    /// The segment being checked.
    pub segment: Option<SegmentId>,
    /// The template being checked (for messages).
    pub template: Option<TemplateId>,
}

impl Cx {
    pub(crate) fn new(file: FileId, event: EventScope, tag: u32) -> Cx {
        Cx {
            file,
            event,
            tag,
            received: Vec::new(),
            facts: Vec::new(),
            segment: None,
            template: None,
        }
    }

    pub(crate) fn with_facts(&self, facts: &[Key]) -> Cx {
        let mut cx = self.clone();
        for f in facts {
            if !cx.facts.contains(f) {
                cx.facts.push(f.clone());
            }
        }
        cx
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SegState {
    Todo,
    InProgress,
    Done,
}

pub(crate) struct SegInfo<'a> {
    pub file: FileId,
    pub decl: &'a ast::SegmentDecl,
    pub state: SegState,
    pub facts: Vec<Key>,
    pub typed: Option<ir::Expr>,
}

pub(crate) struct TplInfo<'a> {
    pub file: FileId,
    pub decl: &'a ast::TemplateDecl,
    pub event: Option<EventId>,
    pub typed: Option<ir::TemplateDef>,
}

/// The checker.
pub(crate) struct Checker<'a> {
    pub parsed: &'a [&'a Parsed],
    pub loader: &'a dyn TemplateLoader,
    pub diags: Vec<Diagnostic>,
    /// The `test` blocks, lowered (file and source order).
    pub tests: Vec<ir::Test>,
    pub enums: Vec<ir::EnumDef>,
    pub enum_names: HashMap<String, EnumId>,
    pub profile: Schema,
    pub profile_loc: Option<Loc>,
    pub events: Vec<ir::EventDef>,
    pub event_names: HashMap<String, EventId>,
    pub segments: Vec<SegInfo<'a>>,
    pub segment_names: HashMap<String, SegmentId>,
    pub seg_stack: Vec<SegmentId>,
    pub templates: Vec<TplInfo<'a>>,
    pub template_names: HashMap<String, TemplateId>,
    pub workflows: Vec<(FileId, &'a ast::WorkflowDecl)>,
    pub workflow_names: HashMap<String, usize>,
    pub used_enums: Vec<bool>,
    pub used_events: Vec<bool>,
    pub used_segments: Vec<bool>,
    pub used_templates: Vec<bool>,
    /// Template files read and parsed so far, by path: many templates
    /// share one file.
    pub template_files: HashMap<std::path::PathBuf, TemplateFile>,
    /// What the names written in each file resolved to, by file, outside
    /// the checks of declarations' bodies (those go to `items`).
    pub references: Vec<Vec<Reference>>,
    /// The declaration whose body is being checked: what is found goes to
    /// its entry of `items` (none: to `diags` and `references`).
    owner: Option<Owner>,
    /// What the check of each declaration's body found.
    pub items: HashMap<Owner, ItemOut>,
    /// The files whose declarations' bodies are checked (none: every
    /// file); a segment of another file is still checked when one of
    /// these needs it.
    focus: Option<Vec<bool>>,
    /// A reference from a segment to one being checked was met (a cycle:
    /// which segment reports it depends on the order of the checks).
    pub cycle_seen: bool,
    next_tag: u32,
}

/// A declaration whose body is checked: its file and where its name starts.
pub(crate) type Owner = (FileId, u32);

/// What the check of a declaration's body may depend on besides its own
/// text and the schemas: the declarations it names, and the tables of
/// every workflow's splits and goals that tests look names up in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Dep {
    Segment(String),
    Template(String),
    Workflow(String),
    Splits,
    Goals,
}

/// A declaration the check of a body marked as used (for the unused lints).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Used {
    Enum(String),
    Event(String),
    Segment(String),
    Template(String),
}

/// What the check of one declaration's body found.
#[derive(Clone, Debug, Default)]
pub(crate) struct ItemOut {
    /// Its diagnostics.
    pub diags: Vec<Diagnostic>,
    /// The references it recorded, with the file each is in.
    pub refs: Vec<(FileId, Reference)>,
    /// The declarations it used.
    pub uses: Vec<Used>,
    /// What it depends on (each once).
    pub deps: Vec<Dep>,
}

/// A check that checks the bodies of some files only (the incremental
/// check): which files, and what the other files' bodies were found to use
/// and whether they had errors, for the unused lints.
pub(crate) struct Focus<'u> {
    pub files: Vec<bool>,
    pub cached_uses: Vec<&'u Used>,
    pub cached_errors: bool,
}

/// What [`run`] found.
pub(crate) struct Run {
    /// Diagnostics outside declarations' bodies (declarations, policy,
    /// unused lints), parse errors not included.
    pub diags: Vec<Diagnostic>,
    /// References outside declarations' bodies, by file (unsorted).
    pub references: Vec<Vec<Reference>>,
    /// What each body checked found.
    pub items: HashMap<Owner, ItemOut>,
    /// The program (a full check only; dropped by the caller on errors).
    pub program: Option<ir::Program>,
    /// See [`Checker::cycle_seen`].
    pub cycle_seen: bool,
    /// The template files read: their text, or none if one could not be
    /// read or parsed.
    pub template_files: Vec<(std::path::PathBuf, Option<String>)>,
}

/// Runs every pass; returns the diagnostics, the program (which the
/// caller drops if there are errors) and the references of each file.
pub(crate) fn run<'a>(
    parsed: &'a [&'a Parsed],
    loader: &dyn TemplateLoader,
    focus: Option<Focus<'_>>,
) -> Run {
    let (focus_files, cached_uses, cached_errors) = match focus {
        Some(f) => (Some(f.files), f.cached_uses, f.cached_errors),
        None => (None, Vec::new(), false),
    };
    let mut c = Checker {
        parsed,
        loader,
        diags: Vec::new(),
        tests: Vec::new(),
        enums: Vec::new(),
        enum_names: HashMap::new(),
        profile: Schema::default(),
        profile_loc: None,
        events: Vec::new(),
        event_names: HashMap::new(),
        segments: Vec::new(),
        segment_names: HashMap::new(),
        seg_stack: Vec::new(),
        templates: Vec::new(),
        template_names: HashMap::new(),
        workflows: Vec::new(),
        workflow_names: HashMap::new(),
        used_enums: Vec::new(),
        used_events: Vec::new(),
        used_segments: Vec::new(),
        used_templates: Vec::new(),
        template_files: HashMap::new(),
        references: vec![Vec::new(); parsed.len()],
        owner: None,
        items: HashMap::new(),
        focus: focus_files,
        cycle_seen: false,
        next_tag: 1,
    };
    c.collect_enums();
    c.collect_profile();
    c.collect_events();
    c.collect_names();
    let segments = c.check_segments();
    let templates = c.check_templates();
    let workflows = c.check_workflows();
    let policy = c.check_policy();
    c.check_tests();
    for u in cached_uses {
        c.apply_use(u);
    }
    // Unused declarations are noise while there are errors (a misspelt
    // reference makes its target look unused).
    let is_error = |d: &Diagnostic| d.severity == nudge_syntax::Severity::Error;
    let errors = cached_errors
        || c.diags.iter().any(is_error)
        || c.items.values().any(|i| i.diags.iter().any(is_error));
    if !errors && !parsed.iter().any(|p| !p.diagnostics.is_empty()) {
        c.lint_unused();
    }
    let program = c.focus.is_none().then(|| ir::Program {
        files: parsed.iter().map(|p| p.source.clone()).collect(),
        enums: c.enums.clone(),
        profile: c.profile.clone(),
        events: c.events.clone(),
        segments,
        templates,
        workflows,
        policy,
        tests: std::mem::take(&mut c.tests),
    });
    let mut template_files: Vec<(std::path::PathBuf, Option<String>)> = c
        .template_files
        .drain()
        .map(|(path, f)| match f {
            TemplateFile::Parsed(text, _) => (path, Some(text)),
            _ => (path, None),
        })
        .collect();
    template_files.sort();
    Run {
        diags: c.diags,
        references: c.references,
        items: c.items,
        program,
        cycle_seen: c.cycle_seen,
        template_files,
    }
}

/// "a `int`" → "an `int`".
fn articles(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("a `") {
        let (before, after) = rest.split_at(i);
        out.push_str(before);
        let word_start = before.is_empty() || before.ends_with([' ', '(']);
        let vowel = after[3..].starts_with(['a', 'e', 'i', 'o', 'A', 'E', 'I', 'O']);
        if word_start && vowel {
            out.push_str("an `");
        } else {
            out.push_str("a `");
        }
        rest = &after[3..];
    }
    out.push_str(rest);
    out
}

/// Items of every file with the file they are in.
pub(crate) fn items<'p>(parsed: &'p [&'p Parsed]) -> impl Iterator<Item = (FileId, &'p Item)> {
    parsed
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.file.items.iter().map(move |it| (FileId(i as u32), it)))
}

impl<'a> Checker<'a> {
    pub(crate) fn source(&self, file: FileId) -> &Arc<SourceFile> {
        &self.parsed[file.index()].source
    }

    pub(crate) fn emit(&mut self, file: FileId, mut d: Diagnostic) {
        let src = self.parsed[file.index()].source.clone();
        let text = src.text();
        for label in &mut d.labels {
            // Spans of clauses and statements run up to the next token; a
            // label marks only the words.
            if let Some(words) = text.get(label.span.range()) {
                label.span.end = label.span.start + words.trim_end().len() as u32;
            }
            label.message = label.message.take().map(|m| articles(&m));
        }
        d.message = articles(&d.message);
        d.help = d.help.take().map(|h| articles(&h));
        let d = d.in_file(&src);
        match self.owner {
            Some(owner) => self.items.entry(owner).or_default().diags.push(d),
            None => self.diags.push(d),
        }
    }

    /// Records that the name at `span` of `file` resolved to `target`.
    pub(crate) fn refer(&mut self, file: FileId, span: Span, target: Target) {
        let reference = Reference { span, target };
        match self.owner {
            Some(owner) => {
                let dep = match &reference.target {
                    Target::Segment(n) => Some(Dep::Segment(n.clone())),
                    Target::Template(n) => Some(Dep::Template(n.clone())),
                    Target::Workflow(n) => Some(Dep::Workflow(n.clone())),
                    _ => None,
                };
                let item = self.items.entry(owner).or_default();
                if let Some(dep) = dep {
                    if !item.deps.contains(&dep) {
                        item.deps.push(dep);
                    }
                }
                item.refs.push((file, reference));
            }
            // The references of files whose bodies are not checked are
            // kept by the caller.
            None if self.in_focus(file) => {
                if let Some(list) = self.references.get_mut(file.index()) {
                    list.push(reference);
                }
            }
            None => {}
        }
    }

    /// Records that the body being checked depends on `dep`.
    pub(crate) fn depend(&mut self, dep: Dep) {
        if let Some(owner) = self.owner {
            let item = self.items.entry(owner).or_default();
            if !item.deps.contains(&dep) {
                item.deps.push(dep);
            }
        }
    }

    /// Makes the declaration at `owner` the one whose body is being
    /// checked; returns the one before, to be put back.
    pub(crate) fn set_owner(&mut self, owner: Option<Owner>) -> Option<Owner> {
        if let Some(o) = owner {
            self.items.entry(o).or_default();
        }
        std::mem::replace(&mut self.owner, owner)
    }

    /// Whether the bodies of `file`'s declarations are checked.
    pub(crate) fn in_focus(&self, file: FileId) -> bool {
        self.focus.as_ref().is_none_or(|f| f[file.index()])
    }

    /// Marks a declaration as used (by the body being checked, if any).
    pub(crate) fn mark_used(&mut self, used: Used) {
        self.apply_use(&used);
        if let Some(owner) = self.owner {
            let item = self.items.entry(owner).or_default();
            if !item.uses.contains(&used) {
                item.uses.push(used);
            }
        }
    }

    /// Sets the used flag `used` names (if it still exists).
    fn apply_use(&mut self, used: &Used) {
        match used {
            Used::Enum(n) => {
                if let Some(id) = self.enum_names.get(n) {
                    self.used_enums[id.index()] = true;
                }
            }
            Used::Event(n) => {
                if let Some(id) = self.event_names.get(n) {
                    self.used_events[id.index()] = true;
                }
            }
            Used::Segment(n) => {
                if let Some(id) = self.segment_names.get(n) {
                    self.used_segments[id.index()] = true;
                }
            }
            Used::Template(n) => {
                if let Some(id) = self.template_names.get(n) {
                    self.used_templates[id.index()] = true;
                }
            }
        }
    }

    pub(crate) fn fresh_tag(&mut self) -> u32 {
        self.next_tag += 1;
        self.next_tag
    }

    /// The file of `first` if it is not `file`: a duplicate then points
    /// there with a related diagnostic instead of a secondary label.
    fn elsewhere(&self, file: FileId, first: Loc) -> Option<Arc<SourceFile>> {
        (first.file != file).then(|| self.source(first.file).clone())
    }

    /// A duplicate declaration: the second place is primary; the first is
    /// a secondary label (same file) or a related diagnostic (other file).
    pub(crate) fn duplicate(&mut self, what: Declaration, name: &Ident, file: FileId, first: Loc) {
        let elsewhere = self.elsewhere(file, first);
        let d = messages::duplicate_declaration(
            what,
            &name.name,
            name.span,
            first.span,
            elsewhere.as_ref(),
        );
        self.emit(file, d);
    }

    fn collect_enums(&mut self) {
        for (file, item) in items(self.parsed) {
            let Item::Enum(decl) = item else { continue };
            self.refer(file, decl.name.span, Target::Enum(decl.name.name.clone()));
            for m in &decl.members {
                let target = Target::EnumMember {
                    enum_name: decl.name.name.clone(),
                    member: m.name.name.clone(),
                };
                self.refer(file, m.name.span, target);
            }
            if let Some(&prev) = self.enum_names.get(&decl.name.name) {
                let first = self.enums[prev.index()].loc;
                self.duplicate(Declaration::Enum, &decl.name, file, first);
                continue;
            }
            let mut members: Vec<String> = Vec::new();
            let mut spans: Vec<Span> = Vec::new();
            for m in &decl.members {
                if let Some(i) = members.iter().position(|x| *x == m.name.name) {
                    let d = messages::duplicate_member(
                        m.name.span,
                        spans[i],
                        &decl.name.name,
                        &m.name.name,
                    );
                    self.emit(file, d);
                    continue;
                }
                members.push(m.name.name.clone());
                spans.push(m.name.span);
            }
            let id = EnumId(self.enums.len() as u32);
            self.enum_names.insert(decl.name.name.clone(), id);
            self.enums.push(ir::EnumDef {
                name: decl.name.name.clone(),
                members,
                loc: Loc {
                    file,
                    span: decl.name.span,
                },
            });
            self.used_enums.push(false);
        }
    }

    /// Resolves a written type.
    pub(crate) fn resolve_type(&mut self, file: FileId, t: &TypeExpr) -> Type {
        match &t.kind {
            TypeExprKind::Named(name) => {
                if let Some(ty) = Type::builtin(&name.name) {
                    return ty;
                }
                if let Some(&id) = self.enum_names.get(&name.name) {
                    self.mark_used(Used::Enum(name.name.clone()));
                    self.refer(file, name.span, Target::Enum(name.name.clone()));
                    return Type::Enum(id);
                }
                let candidates: Vec<String> = Scalar::DECLARABLE
                    .iter()
                    .map(|s| s.name().to_owned())
                    .chain(self.enums.iter().map(|e| e.name.clone()))
                    .collect();
                let suggestion =
                    suggest::closest(&name.name, candidates.iter().map(String::as_str));
                let d = messages::unknown_type(name.span, &name.name, suggestion);
                self.emit(file, d);
                Type::Error
            }
            TypeExprKind::List(inner) => Type::List(Box::new(self.resolve_type(file, inner))),
            TypeExprKind::Optional(inner) => {
                // The grammar allows one `?` only.
                let inner_ty = self.resolve_type(file, inner);
                Type::Optional(Box::new(inner_ty))
            }
        }
    }

    /// The fields of a profile or event declaration.
    fn schema(&mut self, file: FileId, fields: &[ast::FieldDecl], is_profile: bool) -> Schema {
        let mut schema = Schema::default();
        let mut spans: Vec<Span> = Vec::new();
        if is_profile {
            let kw = self.profile_loc.map(|l| l.span).unwrap_or_default();
            schema.fields.push(FieldDef {
                name: "id".to_owned(),
                ty: Type::String,
                default: None,
                loc: Loc { file, span: kw },
            });
            spans.push(kw);
        }
        for f in fields {
            if is_profile && f.name.name == "id" {
                self.emit(file, messages::reserved_field(f.name.span));
                continue;
            }
            let ty = self.resolve_type(file, &f.ty);
            if let Some(i) = schema.fields.iter().position(|x| x.name == f.name.name) {
                let d = messages::duplicate_field(f.name.span, spans[i], &f.name.name);
                self.emit(file, d);
                continue;
            }
            let default = f
                .default
                .as_ref()
                .and_then(|e| self.constant(file, e, &ty, ConstantSite::Default(&f.name.name)));
            schema.fields.push(FieldDef {
                name: f.name.name.clone(),
                ty,
                default,
                loc: Loc {
                    file,
                    span: f.name.span,
                },
            });
            spans.push(f.name.span);
        }
        schema
    }

    fn collect_profile(&mut self) {
        let mut found: Option<(FileId, &ast::ProfileDecl)> = None;
        let mut policy: Option<(FileId, Span)> = None;
        for (file, item) in items(self.parsed) {
            match item {
                Item::Profile(p) => {
                    self.refer(file, p.keyword, Target::Profile);
                    for f in &p.fields {
                        self.refer(file, f.name.span, Target::ProfileField(f.name.name.clone()));
                    }
                    if let Some((f0, first)) = found {
                        let first = Loc {
                            file: f0,
                            span: first.keyword,
                        };
                        let elsewhere = self.elsewhere(file, first);
                        let d =
                            messages::duplicate_profile(p.keyword, first.span, elsewhere.as_ref());
                        self.emit(file, d);
                    } else {
                        found = Some((file, p));
                    }
                }
                Item::Policy(p) => {
                    if let Some((f0, first)) = policy {
                        let first = Loc {
                            file: f0,
                            span: first,
                        };
                        let elsewhere = self.elsewhere(file, first);
                        let d =
                            messages::duplicate_policy(p.keyword, first.span, elsewhere.as_ref());
                        self.emit(file, d);
                    } else {
                        policy = Some((file, p.keyword));
                    }
                }
                _ => {}
            }
        }
        match found {
            Some((file, p)) => {
                self.profile_loc = Some(Loc {
                    file,
                    span: p.keyword,
                });
                self.profile = self.schema(file, &p.fields, true);
                // `local` times are read in `profile.timezone`.
                if let Some(f) = self.profile.fields.iter().find(|f| f.name == "timezone") {
                    let ty = f.ty.strip_optional();
                    if *ty != Type::Timezone && !ty.is_error() {
                        let d = messages::timezone_field_type(f.loc.span, &self.type_name(&f.ty));
                        self.emit(file, d);
                    }
                }
            }
            None => {
                self.profile.fields.push(FieldDef {
                    name: "id".to_owned(),
                    ty: Type::String,
                    default: None,
                    loc: Loc {
                        file: FileId(0),
                        span: Span::default(),
                    },
                });
                if !self.parsed.is_empty() {
                    self.emit(FileId(0), messages::missing_profile(Span::empty(0)));
                }
            }
        }
    }

    fn collect_events(&mut self) {
        for (file, item) in items(self.parsed) {
            let Item::Event(decl) = item else { continue };
            self.refer(file, decl.name.span, Target::Event(decl.name.name.clone()));
            for f in &decl.fields {
                let target = Target::EventField {
                    event: decl.name.name.clone(),
                    field: f.name.name.clone(),
                };
                self.refer(file, f.name.span, target);
            }
            if let Some(&prev) = self.event_names.get(&decl.name.name) {
                let first = self.events[prev.index()].loc;
                self.duplicate(Declaration::Event, &decl.name, file, first);
                continue;
            }
            let schema = self.schema(file, &decl.fields, false);
            let id = EventId(self.events.len() as u32);
            self.event_names.insert(decl.name.name.clone(), id);
            self.events.push(ir::EventDef {
                name: decl.name.name.clone(),
                schema,
                loc: Loc {
                    file,
                    span: decl.name.span,
                },
            });
            self.used_events.push(false);
        }
    }

    fn collect_names(&mut self) {
        let mut tests: HashMap<String, Loc> = HashMap::new();
        for (file, item) in items(self.parsed) {
            match item {
                Item::Segment(decl) => {
                    self.refer(
                        file,
                        decl.name.span,
                        Target::Segment(decl.name.name.clone()),
                    );
                    if let Some(&prev) = self.segment_names.get(&decl.name.name) {
                        let s = &self.segments[prev.index()];
                        let first = Loc {
                            file: s.file,
                            span: s.decl.name.span,
                        };
                        self.duplicate(Declaration::Segment, &decl.name, file, first);
                        continue;
                    }
                    self.segment_names.insert(
                        decl.name.name.clone(),
                        SegmentId(self.segments.len() as u32),
                    );
                    self.segments.push(SegInfo {
                        file,
                        decl,
                        state: SegState::Todo,
                        facts: Vec::new(),
                        typed: None,
                    });
                    self.used_segments.push(false);
                }
                Item::Template(decl) => {
                    self.refer(
                        file,
                        decl.name.span,
                        Target::Template(decl.name.name.clone()),
                    );
                    if let Some(&prev) = self.template_names.get(&decl.name.name) {
                        let t = &self.templates[prev.index()];
                        let first = Loc {
                            file: t.file,
                            span: t.decl.name.span,
                        };
                        self.duplicate(Declaration::Template, &decl.name, file, first);
                        continue;
                    }
                    let event = decl.event.as_ref().and_then(|e| self.event_ref(file, e));
                    self.template_names.insert(
                        decl.name.name.clone(),
                        TemplateId(self.templates.len() as u32),
                    );
                    self.templates.push(TplInfo {
                        file,
                        decl,
                        event,
                        typed: None,
                    });
                    self.used_templates.push(false);
                }
                Item::Workflow(decl) => {
                    self.refer(
                        file,
                        decl.name.span,
                        Target::Workflow(decl.name.name.clone()),
                    );
                    if let Some(&prev) = self.workflow_names.get(&decl.name.name) {
                        let (f0, w) = self.workflows[prev];
                        let first = Loc {
                            file: f0,
                            span: w.name.span,
                        };
                        self.duplicate(Declaration::Workflow, &decl.name, file, first);
                        continue;
                    }
                    self.workflow_names
                        .insert(decl.name.name.clone(), self.workflows.len());
                    self.workflows.push((file, decl));
                }
                Item::Test(decl) => {
                    let name = decl.name.display();
                    if let Some(&first) = tests.get(&name) {
                        let ident = Ident {
                            name: name.clone(),
                            span: decl.name.span,
                        };
                        self.duplicate(Declaration::Test, &ident, file, first);
                        continue;
                    }
                    tests.insert(
                        name,
                        Loc {
                            file,
                            span: decl.name.span,
                        },
                    );
                }
                _ => {}
            }
        }
    }

    /// Resolves an event name, reporting an unknown one.
    pub(crate) fn event_ref(&mut self, file: FileId, name: &Ident) -> Option<EventId> {
        if let Some(&id) = self.event_names.get(&name.name) {
            self.refer(file, name.span, Target::Event(name.name.clone()));
            return Some(id);
        }
        let suggestion = suggest::closest(&name.name, self.events.iter().map(|e| e.name.as_str()));
        let d = messages::unknown_event(name.span, &name.name, suggestion);
        self.emit(file, d);
        None
    }

    /// Marks an event as used by the flows.
    pub(crate) fn use_event(&mut self, id: EventId) {
        self.mark_used(Used::Event(self.events[id.index()].name.clone()));
    }

    /// Checks a constant (a default or a value in a test) against `want`.
    pub(crate) fn constant(
        &mut self,
        file: FileId,
        e: &ast::Expr,
        want: &Type,
        what: ConstantSite<'_>,
    ) -> Option<Const> {
        use ast::{ExprKind, Literal};
        let target = want.strip_optional().clone();
        let got: (Type, Const) = match &e.kind {
            ExprKind::Paren(inner) => return self.constant(file, inner, want, what),
            ExprKind::Literal(Literal::None) => {
                if want.is_optional() || want.is_error() {
                    return Some(Const::None);
                }
                let d = messages::constant_not_optional(e.span, what, &self.type_name(want));
                self.emit(file, d);
                return None;
            }
            ExprKind::Literal(Literal::Bool(b)) => (Type::Bool, Const::Bool(*b)),
            ExprKind::Literal(Literal::Int(i)) => {
                if target == Type::Float {
                    return Some(Const::Float(*i as f64));
                }
                (Type::Int, Const::Int(*i))
            }
            ExprKind::Literal(Literal::Float(f)) => (Type::Float, Const::Float(*f)),
            ExprKind::Literal(Literal::Duration(d)) => (Type::Duration, Const::Duration(d.seconds)),
            ExprKind::Literal(Literal::TimeOfDay(t)) => {
                (Type::TimeOfDay, Const::TimeOfDay(t.minutes))
            }
            ExprKind::Literal(Literal::Timestamp(t)) => (Type::Time, Const::Time(t.value)),
            ExprKind::Literal(Literal::String(s)) => {
                let Some(text) = s.as_plain() else {
                    self.emit(file, messages::constant_interpolates(s.span, what));
                    return None;
                };
                if let Type::Enum(id) = target {
                    self.enum_string(file, id, &text, s.span);
                    return None;
                }
                if target.is_stringlike() {
                    if let Err(err) = crate::string_formats::validate(&target, &text) {
                        self.emit(file, err.diagnostic(s.span, &text));
                        return None;
                    }
                    return Some(Const::String(text));
                }
                (Type::String, Const::String(text))
            }
            ExprKind::Path(p) if p.segments.len() == 1 => {
                if let Type::Enum(id) = target {
                    return self
                        .enum_member(file, id, &p.segments[0])
                        .map(|m| Const::Enum(id, m));
                }
                let name = &p.segments[0].name;
                let d = messages::unknown_name(
                    e.span,
                    name,
                    Some(self.type_name(&target).as_str()),
                    self.bare_name_hint(name),
                );
                self.emit(file, d);
                return None;
            }
            ExprKind::List(items) => {
                let Type::List(elem) = &target else {
                    let d = messages::constant_not_list(e.span, what, &self.type_name(&target));
                    self.emit(file, d);
                    return None;
                };
                let mut out = Vec::new();
                for item in items {
                    out.push(self.constant(file, item, elem, what)?);
                }
                return Some(Const::List(out));
            }
            _ => {
                let d = messages::not_constant(e.span, what, &self.type_name(&target));
                self.emit(file, d);
                return None;
            }
        };
        if got.0.fits(&target) {
            Some(got.1)
        } else {
            let d = messages::constant_type(
                e.span,
                what,
                &self.type_name(&target),
                &self.type_name(&got.0),
            );
            self.emit(file, d);
            None
        }
    }

    /// A member of `id` written as a bare name.
    pub(crate) fn enum_member(&mut self, file: FileId, id: EnumId, name: &Ident) -> Option<u32> {
        self.mark_used(Used::Enum(self.enums[id.index()].name.clone()));
        let def = &self.enums[id.index()];
        if let Some(i) = def.members.iter().position(|m| *m == name.name) {
            let target = Target::EnumMember {
                enum_name: def.name.clone(),
                member: name.name.clone(),
            };
            self.refer(file, name.span, target);
            return Some(i as u32);
        }
        let members: Vec<&str> = def.members.iter().map(String::as_str).collect();
        let suggestion = suggest::closest(&name.name, members.iter().copied());
        let other = self
            .enums
            .iter()
            .find(|e| e.members.contains(&name.name))
            .map(|e| e.name.as_str());
        let d = messages::unknown_enum_member(
            name.span, &def.name, &name.name, suggestion, other, &members,
        );
        self.emit(file, d);
        None
    }

    /// A string literal where an enum member is expected.
    pub(crate) fn enum_string(&mut self, file: FileId, id: EnumId, text: &str, span: Span) {
        self.mark_used(Used::Enum(self.enums[id.index()].name.clone()));
        let def = &self.enums[id.index()];
        let members: Vec<&str> = def.members.iter().map(String::as_str).collect();
        let suggestion = suggest::closest(text, members.iter().copied());
        let is_member = members.contains(&text);
        let d =
            messages::enum_member_as_string(span, &def.name, text, suggestion, is_member, &members);
        self.emit(file, d);
    }

    /// What a bare name that is not an expected enum member could have
    /// meant: a member of another enum, or a path root.
    pub(crate) fn bare_name_hint(&self, name: &str) -> NameHint<'_> {
        if let Some(e) = self
            .enums
            .iter()
            .find(|e| e.members.iter().any(|m| m == name))
        {
            return NameHint::MemberOf(&e.name);
        }
        let roots: Vec<&str> = ["profile", "event"]
            .into_iter()
            .chain(self.events.iter().map(|e| e.name.as_str()))
            .collect();
        match suggest::closest(name, roots) {
            Some(root) => NameHint::Suggestion(root),
            None => NameHint::Nothing,
        }
    }

    /// How a type is written.
    pub(crate) fn type_name(&self, t: &Type) -> String {
        match t {
            // A time of day is only ever a literal: it is named in words.
            Type::TimeOfDay => "time of day".into(),
            Type::Enum(id) => self.enums[id.index()].name.clone(),
            Type::Optional(inner) => format!("{}?", self.type_name(inner)),
            Type::List(inner) => format!("[{}]", self.type_name(inner)),
            Type::None => "none".into(),
            Type::Error => "unknown".into(),
            scalar => scalar.scalar().map_or("", Scalar::name).into(),
        }
    }
}
