//! The incremental check, for a caller that checks the same project again
//! and again as it is edited (the language server).
//!
//! A check has two parts. The **declarations** (names of every kind, the
//! enums, the profile and the events, with their diagnostics: duplicates,
//! unknown types) are collected from every file at every check: that is
//! quick. The **bodies** (segments' conditions, templates' fields,
//! workflows, tests) are most of the work; what the check of one body finds
//! (diagnostics, references, the declarations it uses) is kept, with what
//! it depended on:
//!
//! - its own text (an edit re-checks every body of the file it changed);
//! - the schemas: the enums, the profile and the events (any change to
//!   them, and any change to the list of files, re-checks everything);
//! - the segments, templates and workflows it names (a segment's meaning
//!   includes the segments it names in turn, followed to the end);
//! - for a test, the table of every workflow's splits or goals it looked a
//!   name up in;
//! - for a body with diagnostics, the names declared (a misspelt name's
//!   "did you mean" and the error itself change when a name appears).
//!
//! After an edit, the files re-checked are those edited and those with a
//! body that depends on something that changed; every other file's bodies
//! keep what was found before. The result equals a full check of the same
//! texts ([`crate::check_parsed`]), which a property test holds it to.
//!
//! Checked in full instead, whatever changed: when a segment cycle is met
//! (which segment reports it depends on the order of the checks), when a
//! template file named by `file("…")` could not be read or parsed, and
//! when a template file read before has changed.
//!
//! Dependencies are explicit (recorded as the checker resolves names)
//! rather than a query system: the checker is one pass over tables it
//! builds itself, the units worth reusing are whole declarations, and
//! what a body depends on is exactly what it resolved.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use nudge_syntax::ast::{self, Item};
use nudge_syntax::{Diagnostic, Parsed, Severity, SourceFile};

use crate::checker::{self, Dep, Focus, ItemOut, Used};
use crate::ids::FileId;
use crate::{Reference, TemplateLoader};

/// What an incremental check found.
#[derive(Debug)]
pub struct IncrementalChecked {
    /// As [`crate::CheckedParsed::diagnostics`].
    pub diagnostics: Vec<Diagnostic>,
    /// As [`crate::CheckedParsed::references`] (shared with the cache: a
    /// file not checked again keeps its list).
    pub references: Vec<Arc<Vec<Reference>>>,
    /// The files whose bodies were checked (indexes into the files given);
    /// every file after a full check.
    pub rechecked: Vec<usize>,
    /// Whether this was a full check.
    pub full: bool,
}

/// What is kept between checks of one project. See the module
/// documentation.
#[derive(Debug, Default)]
pub struct CheckCache {
    state: Option<State>,
}

#[derive(Debug)]
struct State {
    files: Vec<FileState>,
    tables: Tables,
    /// Template files read, with the text read.
    template_texts: Vec<(PathBuf, String)>,
}

#[derive(Debug)]
struct FileState {
    parsed: Arc<Parsed>,
    summary: Arc<Summary>,
    /// What each body found, by where its declaration's name starts.
    bodies: HashMap<u32, Body>,
    /// Every reference in the file, in order.
    references: Arc<Vec<Reference>>,
}

#[derive(Debug)]
struct Body {
    /// The segment or template it is, if it is one.
    decl: Option<Dep>,
    out: ItemOut,
}

/// A piece of a file's text.
#[derive(Clone, Debug)]
struct Text {
    source: Arc<SourceFile>,
    range: Range<usize>,
}

impl Text {
    fn str(&self) -> &str {
        self.source.text().get(self.range.clone()).unwrap_or("")
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        (Arc::ptr_eq(&self.source, &other.source) && self.range == other.range)
            || self.str() == other.str()
    }
}

/// What other files can see of one file.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    /// The text of its enums, profile and events, in order.
    schemas: Vec<Text>,
    /// Its segments and templates: name, where the name starts, text.
    segments: Vec<(String, u32, Text)>,
    templates: Vec<(String, u32, Text)>,
    /// Its workflows: name, and the splits (with their arms' names) and
    /// goals in them.
    workflows: Vec<(String, Splits, Vec<String>)>,
}

/// A workflow's splits: each one's name and its arms' names.
type Splits = Vec<(String, Vec<String>)>;

impl Summary {
    fn of(parsed: &Parsed) -> Summary {
        let mut s = Summary::default();
        let text = |span: nudge_syntax::Span| Text {
            source: parsed.source.clone(),
            range: span.range(),
        };
        for item in &parsed.file.items {
            match item {
                Item::Enum(_) | Item::Profile(_) | Item::Event(_) => {
                    s.schemas.push(text(item.span()));
                }
                Item::Segment(d) => {
                    s.segments
                        .push((d.name.name.clone(), d.name.span.start, text(d.span)));
                }
                Item::Template(d) => {
                    s.templates
                        .push((d.name.name.clone(), d.name.span.start, text(item.span())));
                }
                Item::Workflow(w) => {
                    let mut splits = Vec::new();
                    crate::test_blocks::collect_splits(&w.body, &mut |sp| {
                        let arms = sp
                            .arms
                            .iter()
                            .enumerate()
                            .map(|(i, a)| match &a.name {
                                Some(n) => n.name.clone(),
                                None => nudge_core::percent::default_arm_name(i),
                            })
                            .collect();
                        splits.push((sp.name.name.clone(), arms));
                    });
                    let goals = w
                        .clauses
                        .iter()
                        .filter_map(|c| match c {
                            ast::Clause::Goal(g) => Some(g.name.name.clone()),
                            _ => None,
                        })
                        .collect();
                    s.workflows.push((w.name.name.clone(), splits, goals));
                }
                Item::Policy(_) | Item::Test(_) => {}
            }
        }
        s
    }

    /// The segment or template whose name starts at `start`.
    fn decl_at(&self, start: u32) -> Option<Dep> {
        if let Some((n, _, _)) = self.segments.iter().find(|(_, s, _)| *s == start) {
            return Some(Dep::Segment(n.clone()));
        }
        self.templates
            .iter()
            .find(|(_, s, _)| *s == start)
            .map(|(n, _, _)| Dep::Template(n.clone()))
    }
}

/// The project's names as the checker resolves them (the first
/// declaration of a name wins), with what each one's dependents see.
#[derive(Clone, Debug, Default, PartialEq)]
struct Tables {
    segments: HashMap<String, (usize, Text)>,
    templates: HashMap<String, (usize, Text)>,
    workflows: HashMap<String, usize>,
    /// Every workflow's splits, and goals, in the order tests read them.
    splits: Vec<(String, String, Vec<String>)>,
    goals: Vec<String>,
}

impl Tables {
    fn of(summaries: &[Arc<Summary>]) -> Tables {
        let mut t = Tables::default();
        for (i, s) in summaries.iter().enumerate() {
            for (name, _, text) in &s.segments {
                t.segments
                    .entry(name.clone())
                    .or_insert_with(|| (i, text.clone()));
            }
            for (name, _, text) in &s.templates {
                t.templates
                    .entry(name.clone())
                    .or_insert_with(|| (i, text.clone()));
            }
            for (name, splits, goals) in &s.workflows {
                if t.workflows.contains_key(name) {
                    continue;
                }
                t.workflows.insert(name.clone(), i);
                for (split, arms) in splits {
                    t.splits.push((name.clone(), split.clone(), arms.clone()));
                }
                t.goals.extend(goals.iter().cloned());
            }
        }
        t
    }

    /// What changed from `old` to `self`, and whether the names declared
    /// did.
    fn changes(&self, old: &Tables) -> (HashSet<Dep>, bool) {
        let mut changed = HashSet::new();
        fn diff<V: PartialEq>(
            new: &HashMap<String, V>,
            old: &HashMap<String, V>,
            dep: fn(String) -> Dep,
            changed: &mut HashSet<Dep>,
        ) -> bool {
            let mut names_changed = false;
            for (name, v) in new {
                match old.get(name) {
                    Some(o) if o == v => {}
                    Some(_) => {
                        changed.insert(dep(name.clone()));
                    }
                    None => {
                        names_changed = true;
                        changed.insert(dep(name.clone()));
                    }
                }
            }
            for name in old.keys() {
                if !new.contains_key(name) {
                    names_changed = true;
                    changed.insert(dep(name.clone()));
                }
            }
            names_changed
        }
        let a = diff(&self.segments, &old.segments, Dep::Segment, &mut changed);
        let b = diff(&self.templates, &old.templates, Dep::Template, &mut changed);
        let c = diff(&self.workflows, &old.workflows, Dep::Workflow, &mut changed);
        if self.splits != old.splits {
            changed.insert(Dep::Splits);
        }
        if self.goals != old.goals {
            changed.insert(Dep::Goals);
        }
        (changed, a || b || c)
    }
}

fn has_error(out: &ItemOut) -> bool {
    out.diags.iter().any(|d| d.severity == Severity::Error)
}

impl CheckCache {
    /// Forgets everything kept: the next check is a full one.
    pub fn clear(&mut self) {
        self.state = None;
    }

    /// Checks the files of one project (parsed, in a stable order), reusing
    /// what the last check found where nothing it depended on changed.
    pub fn check(
        &mut self,
        parsed: &[Arc<Parsed>],
        loader: &dyn TemplateLoader,
    ) -> IncrementalChecked {
        let summaries: Vec<Arc<Summary>> = parsed
            .iter()
            .enumerate()
            .map(
                |(i, p)| match self.state.as_ref().and_then(|s| s.files.get(i)) {
                    Some(f) if Arc::ptr_eq(&f.parsed, p) => f.summary.clone(),
                    _ => Arc::new(Summary::of(p)),
                },
            )
            .collect();
        if let Some(state) = self.state.as_mut() {
            if let Some((focus, tables)) = plan(state, parsed, &summaries, loader) {
                if let Some(checked) = focused(state, parsed, &summaries, tables, loader, focus) {
                    return checked;
                }
            }
        }
        let (checked, state) = full(parsed, &summaries, loader);
        self.state = state;
        checked
    }
}

/// Which files to check the bodies of, if an incremental check can be
/// made, and the new tables (none if they did not change).
fn plan(
    state: &State,
    parsed: &[Arc<Parsed>],
    summaries: &[Arc<Summary>],
    loader: &dyn TemplateLoader,
) -> Option<(Vec<bool>, Option<Tables>)> {
    if state.files.len() != parsed.len() {
        return None;
    }
    let mut recheck: Vec<bool> = Vec::with_capacity(parsed.len());
    let mut same_summaries = true;
    for ((f, p), s) in state.files.iter().zip(parsed).zip(summaries) {
        if f.parsed.source.name() != p.source.name() {
            return None;
        }
        let edited = !Arc::ptr_eq(&f.parsed, p);
        if edited {
            if f.summary.schemas != s.schemas {
                return None;
            }
            same_summaries &= f.summary.same_names(s);
        }
        recheck.push(edited);
    }
    for (path, text) in &state.template_texts {
        match loader.load(path) {
            Ok(now) if now == *text => {}
            _ => return None,
        }
    }
    // The tables change only if an edited file's declarations did.
    let tables = (!same_summaries).then(|| Tables::of(summaries));
    let (mut changed, names_changed) = match &tables {
        Some(t) => t.changes(&state.tables),
        None => (HashSet::new(), false),
    };
    // A declaration that changed is checked where it is now, and where it
    // was (a duplicate that now comes first was not checked before, and
    // one that no longer does is not checked now).
    for t in tables.iter().chain([&state.tables]) {
        for dep in &changed {
            let file = match dep {
                Dep::Segment(n) => t.segments.get(n).map(|(f, _)| *f),
                Dep::Template(n) => t.templates.get(n).map(|(f, _)| *f),
                Dep::Workflow(n) => t.workflows.get(n).copied(),
                Dep::Splits | Dep::Goals => None,
            };
            if let Some(f) = file {
                recheck[f] = true;
            }
        }
    }
    // What changed, followed through the segments and templates that
    // depend on it, to every body that depends on any of it.
    while !changed.is_empty() || names_changed {
        let mut grew = false;
        for (i, f) in state.files.iter().enumerate() {
            for body in f.bodies.values() {
                let affected = body.out.deps.iter().any(|d| changed.contains(d))
                    || (names_changed && !body.out.diags.is_empty());
                if !affected {
                    continue;
                }
                if !recheck[i] {
                    recheck[i] = true;
                    grew = true;
                }
                if let Some(decl) = &body.decl {
                    if !changed.contains(decl) {
                        changed.insert(decl.clone());
                        grew = true;
                    }
                }
            }
        }
        if !grew {
            break;
        }
    }
    Some((recheck, tables))
}

impl Summary {
    /// Whether `other` declares the same segments and templates (same
    /// texts) and workflows (same names, splits and goals) in the same
    /// order, wherever they are in the file.
    fn same_names(&self, other: &Summary) -> bool {
        let same = |a: &[(String, u32, Text)], b: &[(String, u32, Text)]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && x.2 == y.2)
        };
        same(&self.segments, &other.segments)
            && same(&self.templates, &other.templates)
            && self.workflows == other.workflows
    }
}

/// Whether every reference a body recorded is in the body's own file (so
/// that a file's references are its own bodies' and its declarations').
fn own_references(file: FileId, out: &ItemOut) -> bool {
    out.refs.iter().all(|(f, _)| *f == file)
}

/// A file's references, in order: those recorded outside bodies, and its
/// bodies'.
fn file_references(
    mut outside: Vec<Reference>,
    bodies: &HashMap<u32, Body>,
) -> Arc<Vec<Reference>> {
    for body in bodies.values() {
        outside.extend(body.out.refs.iter().map(|(_, r)| r.clone()));
    }
    sort_references(&mut outside);
    Arc::new(outside)
}

/// Checks the bodies of the files in `focus` only, and keeps what it found
/// in `state`; none (and `state` untouched) if the result could differ
/// from a full check (see the module documentation).
fn focused(
    state: &mut State,
    parsed: &[Arc<Parsed>],
    summaries: &[Arc<Summary>],
    tables: Option<Tables>,
    loader: &dyn TemplateLoader,
    focus: Vec<bool>,
) -> Option<IncrementalChecked> {
    let mut cached_uses: Vec<&Used> = Vec::new();
    let mut cached_errors = false;
    for (f, _) in state.files.iter().zip(&focus).filter(|(_, r)| !**r) {
        for body in f.bodies.values() {
            cached_uses.extend(body.out.uses.iter());
            cached_errors |= has_error(&body.out);
        }
    }
    let refs: Vec<&Parsed> = parsed.iter().map(|p| &**p).collect();
    let run = checker::run(
        &refs,
        loader,
        Some(Focus {
            files: focus.clone(),
            cached_uses,
            cached_errors,
        }),
    );
    let fresh: Vec<_> = run
        .items
        .into_iter()
        .filter(|((file, _), _)| focus[file.index()])
        .collect();
    if run.cycle_seen
        || run.template_files.iter().any(|(_, t)| t.is_none())
        || !fresh
            .iter()
            .all(|((file, _), out)| own_references(*file, out))
    {
        return None;
    }
    for (i, f) in state.files.iter_mut().enumerate() {
        f.parsed = parsed[i].clone();
        f.summary = summaries[i].clone();
        if focus[i] {
            f.bodies.clear();
        }
    }
    for ((file, start), out) in fresh {
        let decl = summaries[file.index()].decl_at(start);
        state.files[file.index()]
            .bodies
            .insert(start, Body { decl, out });
    }
    for (i, outside) in run.references.into_iter().enumerate() {
        if focus[i] {
            let f = &mut state.files[i];
            f.references = file_references(outside, &f.bodies);
        }
    }
    if let Some(tables) = tables {
        state.tables = tables;
    }
    for (path, text) in run.template_files {
        if let Some(text) = text {
            if !state.template_texts.iter().any(|(p, _)| *p == path) {
                state.template_texts.push((path, text));
            }
        }
    }
    Some(IncrementalChecked {
        diagnostics: diagnostics(&refs, run.diags, &state.files),
        references: state.files.iter().map(|f| f.references.clone()).collect(),
        rechecked: (0..parsed.len()).filter(|i| focus[*i]).collect(),
        full: false,
    })
}

/// Every diagnostic, in order: the parses', those found outside bodies and
/// the bodies'.
fn diagnostics(
    parsed: &[&Parsed],
    outside: Vec<Diagnostic>,
    files: &[FileState],
) -> Vec<Diagnostic> {
    let mut all: Vec<Diagnostic> = parsed
        .iter()
        .flat_map(|p| p.diagnostics.iter().cloned())
        .collect();
    all.extend(outside);
    for f in files {
        for body in f.bodies.values() {
            all.extend(body.out.diags.iter().cloned());
        }
    }
    sort_diagnostics(&mut all);
    all
}

/// A full check, and what to keep of it (nothing when a template file could
/// not be read or parsed, or a body recorded references in another file:
/// the next check is a full one too).
fn full(
    parsed: &[Arc<Parsed>],
    summaries: &[Arc<Summary>],
    loader: &dyn TemplateLoader,
) -> (IncrementalChecked, Option<State>) {
    let refs: Vec<&Parsed> = parsed.iter().map(|p| &**p).collect();
    let run = checker::run(&refs, loader, None);
    let keep = !run.template_files.iter().any(|(_, t)| t.is_none())
        && run
            .items
            .iter()
            .all(|((file, _), out)| own_references(*file, out));
    if !keep {
        let (diagnostics, references) = assemble(
            &refs,
            run.diags,
            run.references,
            run.items.iter().map(|((file, _), out)| (*file, out)),
        );
        let checked = IncrementalChecked {
            diagnostics,
            references: references.into_iter().map(Arc::new).collect(),
            rechecked: (0..parsed.len()).collect(),
            full: true,
        };
        return (checked, None);
    }
    let mut bodies: Vec<HashMap<u32, Body>> = (0..parsed.len()).map(|_| HashMap::new()).collect();
    for ((file, start), out) in run.items {
        let decl = summaries[file.index()].decl_at(start);
        bodies[file.index()].insert(start, Body { decl, out });
    }
    let files: Vec<FileState> = parsed
        .iter()
        .zip(summaries)
        .zip(bodies)
        .zip(run.references)
        .map(|(((p, s), bodies), outside)| FileState {
            parsed: p.clone(),
            summary: s.clone(),
            references: file_references(outside, &bodies),
            bodies,
        })
        .collect();
    let checked = IncrementalChecked {
        diagnostics: diagnostics(&refs, run.diags, &files),
        references: files.iter().map(|f| f.references.clone()).collect(),
        rechecked: (0..parsed.len()).collect(),
        full: true,
    };
    let state = State {
        files,
        tables: Tables::of(summaries),
        template_texts: run
            .template_files
            .into_iter()
            .filter_map(|(p, t)| Some((p, t?)))
            .collect(),
    };
    (checked, Some(state))
}

/// Diagnostics in the order they are reported: by file, position and
/// code, then message.
fn sort_diagnostics(list: &mut [Diagnostic]) {
    list.sort_by(|a, b| {
        a.sort_key()
            .cmp(&b.sort_key())
            .then_with(|| a.message.cmp(&b.message))
    });
}

/// References by position (then target, so the order never depends on the
/// order they were found in), each once.
fn sort_references(list: &mut Vec<Reference>) {
    list.sort_by(|a, b| {
        (a.span.start, a.span.end)
            .cmp(&(b.span.start, b.span.end))
            .then_with(|| a.target.cmp(&b.target))
    });
    list.dedup();
}

/// Every diagnostic (the parses' included) in order, and every file's
/// references in order, from what a run found outside bodies and what
/// each body found.
pub(crate) fn assemble<'o>(
    parsed: &[&Parsed],
    diags: Vec<Diagnostic>,
    mut references: Vec<Vec<Reference>>,
    bodies: impl Iterator<Item = (FileId, &'o ItemOut)>,
) -> (Vec<Diagnostic>, Vec<Vec<Reference>>) {
    let mut diagnostics: Vec<Diagnostic> = parsed
        .iter()
        .flat_map(|p| p.diagnostics.iter().cloned())
        .collect();
    diagnostics.extend(diags);
    for (_, out) in bodies {
        diagnostics.extend(out.diags.iter().cloned());
        for (file, r) in &out.refs {
            if let Some(list) = references.get_mut(file.index()) {
                list.push(r.clone());
            }
        }
    }
    sort_diagnostics(&mut diagnostics);
    for list in &mut references {
        sort_references(list);
    }
    (diagnostics, references)
}
