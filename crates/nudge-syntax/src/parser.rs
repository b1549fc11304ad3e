//! From text to [`ast::File`]: the pest binding, the tree builder and error
//! recovery.
//!
//! A file is parsed whole; if that fails, it is cut at every line that starts
//! a top-level declaration in column 0 and the pieces are parsed one by one,
//! so one typo does not hide the errors (or the declarations) after it.

use std::sync::{Arc, LazyLock};

use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser as _;

use crate::ast::*;
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::parse_errors;
use nudge_core::duration::{self, DurationError};
use nudge_core::time_of_day::{self, TimeOfDayError};
use nudge_core::{percent, weekday};

use crate::escape;
use crate::grammar::{FlowParser, R};
use crate::source::SourceFile;
use crate::span::Span;
use crate::trivia::{self, Comment, MAX_NESTING};

/// The result of parsing one file: a tree (possibly partial) and every
/// problem found.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The source parsed.
    pub source: Arc<SourceFile>,
    /// The declarations that parsed; after an error, those of the other pieces.
    pub file: File,
    /// Every comment in the file.
    pub comments: Vec<Comment>,
    /// Parse errors, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// Whether the file parsed without errors.
    pub fn is_ok(&self) -> bool {
        self.diagnostics.is_empty()
    }
}

/// Parses one file.
pub fn parse(source: Arc<SourceFile>) -> Parsed {
    let text = source.text();
    let trivia = trivia::scan(text);
    if let Some(span) = trivia.too_deep {
        let d = Diagnostic::error(codes::parse::TOO_DEEP, "brackets nest too deeply")
            .with_primary(span, format!("more than {MAX_NESTING} levels deep here"))
            .with_help("split the expression or the object into smaller pieces")
            .in_file(&source);
        return Parsed {
            file: File { items: Vec::new() },
            comments: trivia.comments,
            diagnostics: vec![d],
            source,
        };
    }
    let docs = DocIndex::new(text, &trivia.comments);
    let mut builder = Builder {
        source: &source,
        docs: &docs,
        diagnostics: Vec::new(),
        expr_items: 0,
    };
    let items = match FlowParser::parse(R::file, text) {
        Ok(pairs) => builder.file(pairs, 0),
        Err(first) => builder.recover(text, first),
    };
    let mut diagnostics = builder.diagnostics;
    diagnostics.sort_by_key(|d| d.primary_span().map(|s| (s.start, s.end)));
    Parsed {
        file: File { items },
        comments: trivia.comments,
        diagnostics,
        source,
    }
}

/// Parses a single expression (used by tools and tests).
pub fn parse_expr(source: Arc<SourceFile>) -> Result<Expr, Vec<Diagnostic>> {
    let docs = DocIndex::default();
    let mut builder = Builder {
        source: &source,
        docs: &docs,
        diagnostics: Vec::new(),
        expr_items: 0,
    };
    match FlowParser::parse(R::expr_only, source.text()) {
        Ok(mut pairs) => {
            let expr = pairs
                .next()
                .and_then(|p| p.into_inner().find(|p| p.as_rule() == R::expr))
                .map(|p| builder.expr(p, 0));
            match expr {
                Some(e) if builder.diagnostics.is_empty() => Ok(e),
                _ => Err(builder.diagnostics),
            }
        }
        Err(e) => Err(vec![parse_errors::syntax_error_in(
            R::expr_only,
            &source,
            source.text(),
            0,
            &e,
        )]),
    }
}

/// Doc comment blocks, keyed by where the next non-blank text starts.
#[derive(Default)]
struct DocIndex {
    /// (offset of the first non-blank byte after the block, block)
    blocks: Vec<(usize, DocComment)>,
}

impl DocIndex {
    fn new(text: &str, comments: &[Comment]) -> Self {
        let mut blocks: Vec<(usize, DocComment)> = Vec::new();
        let mut current: Option<(Span, Vec<String>)> = None;
        let flush = |current: &mut Option<(Span, Vec<String>)>, blocks: &mut Vec<_>| {
            if let Some((span, lines)) = current.take() {
                let after = skip_blank(text, span.end as usize);
                blocks.push((
                    after,
                    DocComment {
                        text: lines.join("\n"),
                        span,
                    },
                ));
            }
        };
        for c in comments {
            if !c.doc {
                flush(&mut current, &mut blocks);
                continue;
            }
            let raw = &text[c.span.range()];
            let line = raw.trim_start_matches("///");
            let line = line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned();
            match &mut current {
                Some((span, lines))
                    if skip_blank(text, span.end as usize) == c.span.start as usize =>
                {
                    *span = span.to(c.span);
                    lines.push(line);
                }
                _ => {
                    flush(&mut current, &mut blocks);
                    current = Some((c.span, vec![line]));
                }
            }
        }
        flush(&mut current, &mut blocks);
        DocIndex { blocks }
    }

    /// The doc block right above `start`.
    fn before(&self, start: u32) -> Option<DocComment> {
        let i = self
            .blocks
            .binary_search_by_key(&(start as usize), |(after, _)| *after)
            .ok()?;
        Some(self.blocks[i].1.clone())
    }
}

/// The first character at or after `from` that is not whitespace (U+FEFF
/// included, as in the grammar).
fn skip_blank(text: &str, from: usize) -> usize {
    text[from..]
        .find(|c: char| !(c.is_whitespace() || c == '\u{feff}'))
        .map_or(text.len(), |n| from + n)
}

/// Keyword tokens are atomic rules so that `index` never lexes as `in dex`;
/// the builder never needs them, so it skips them.
fn is_keyword(rule: R) -> bool {
    matches!(
        rule,
        R::k_after
            | R::k_ago
            | R::k_and
            | R::k_at
            | R::k_anniversary
            | R::k_audience
            | R::k_before
            | R::k_between
            | R::k_cap
            | R::k_completed
            | R::k_day
            | R::k_did
            | R::k_does
            | R::k_else
            | R::k_enter
            | R::k_entered
            | R::k_entry
            | R::k_enum
            | R::k_escalate
            | R::k_event
            | R::k_exit
            | R::k_exited
            | R::k_expect
            | R::k_for
            | R::k_given
            | R::k_goal
            | R::k_hours
            | R::k_identify
            | R::k_if
            | R::k_in
            | R::k_inactive
            | R::k_is
            | R::k_local
            | R::k_no
            | R::k_none
            | R::k_not
            | R::k_on
            | R::k_once
            | R::k_per
            | R::k_policy
            | R::k_priority
            | R::k_profile
            | R::k_quiet
            | R::k_reached
            | R::k_restart
            | R::k_segment
            | R::k_send
            | R::k_since
            | R::k_split
            | R::k_template
            | R::k_test
            | R::k_then
            | R::k_times
            | R::k_to
            | R::k_until
            | R::k_wait
            | R::k_where
            | R::k_with
            | R::k_within
            | R::k_workflow
            | R::EOI
    )
}

/// The children of a pair, keywords skipped.
fn children(pair: Pair<'_, R>) -> impl Iterator<Item = Pair<'_, R>> {
    pair.into_inner().filter(|p| !is_keyword(p.as_rule()))
}

static PRATT: LazyLock<PrattParser<R>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(R::or_op, Assoc::Left))
        .op(Op::infix(R::and_op, Assoc::Left))
        .op(Op::prefix(R::not_op))
        .op(Op::infix(R::cmp_op, Assoc::Left)
            | Op::infix(R::in_op, Assoc::Left)
            | Op::postfix(R::is_none)
            | Op::postfix(R::is_not_none))
        .op(Op::infix(R::coalesce, Assoc::Right))
        .op(Op::infix(R::add_op, Assoc::Left))
});

/// Words that start a top-level declaration: where recovery resumes.
const DECLARATION_KEYWORDS: [&str; 8] = [
    "enum", "profile", "event", "segment", "template", "workflow", "policy", "test",
];

struct Builder<'s> {
    source: &'s Arc<SourceFile>,
    docs: &'s DocIndex,
    diagnostics: Vec<Diagnostic>,
    /// Operands and operators of the expressions being built, outermost
    /// included: bounds how deep the tree of one expression can get.
    expr_items: usize,
}

/// Operands and operators one expression may hold, nested ones included.
/// An expression tree is as deep as its operators are many, and every pass
/// over it (building, checking, formatting, dropping) recurses; real
/// conditions hold a few dozen.
pub const MAX_EXPRESSION_ITEMS: usize = 2_000;

impl Builder<'_> {
    fn error(
        &mut self,
        code: &'static str,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        // A rule's span runs up to the next token when its optional tail is
        // absent; the label marks only the words.
        let written = self.source.text().get(span.range()).unwrap_or_default();
        let span = Span::new(
            span.start as usize,
            span.start as usize + written.trim_end().len(),
        );
        let mut d = Diagnostic::error(code, message)
            .with_primary(span, label)
            .in_file(self.source);
        d.help = help;
        self.diagnostics.push(d);
    }

    fn span(&self, pair: &Pair<'_, R>, offset: usize) -> Span {
        Span::from(pair.as_span()).shift(offset)
    }

    /// Parses the file in pieces after `first` failed, collecting every
    /// piece's items and errors.
    fn recover(&mut self, text: &str, first: pest::error::Error<R>) -> Vec<Item> {
        let mut starts = vec![0usize];
        let mut offset = 0usize;
        for line in text.split_inclusive('\n') {
            if offset > 0 && starts_declaration(line) {
                // Doc comments right above belong to the declaration.
                starts.push(offset);
            }
            offset += line.len();
        }
        let starts = attach_doc_lines(text, starts);
        if starts.len() == 1 {
            // Nothing to cut at: the piece is the whole file, which failed.
            self.diagnostics
                .push(parse_errors::syntax_error(self.source, text, 0, &first));
            return Vec::new();
        }
        let mut items = Vec::new();
        let mut errors = 0;
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(text.len());
            let piece = &text[start..end];
            match FlowParser::parse(R::file, piece) {
                Ok(pairs) => items.extend(self.file(pairs, start)),
                Err(e) => {
                    errors += 1;
                    let d = parse_errors::syntax_error(self.source, piece, start, &e);
                    self.diagnostics.push(d);
                }
            }
        }
        if errors == 0 {
            self.diagnostics
                .push(parse_errors::syntax_error(self.source, text, 0, &first));
        }
        items
    }

    fn file(&mut self, mut pairs: Pairs<'_, R>, offset: usize) -> Vec<Item> {
        let Some(file) = pairs.next() else {
            return Vec::new();
        };
        children(file)
            .filter_map(|p| self.item(p, offset))
            .collect()
    }

    fn doc(&self, pair: &Pair<'_, R>, offset: usize) -> Option<DocComment> {
        self.docs.before(self.span(pair, offset).start)
    }

    fn ident(&self, pair: Pair<'_, R>, offset: usize) -> Ident {
        Ident {
            name: pair.as_str().to_owned(),
            span: self.span(&pair, offset),
        }
    }

    fn item(&mut self, pair: Pair<'_, R>, o: usize) -> Option<Item> {
        let span = self.span(&pair, o);
        let doc = self.doc(&pair, o);
        Some(match pair.as_rule() {
            R::enum_decl => {
                let mut it = children(pair);
                let name = self.ident(it.next()?, o);
                let members = it
                    .filter_map(|m| {
                        let doc = self.doc(&m, o);
                        let name = self.ident(m.into_inner().next()?, o);
                        Some(EnumMember { doc, name })
                    })
                    .collect();
                Item::Enum(EnumDecl {
                    doc,
                    name,
                    members,
                    span,
                })
            }
            R::profile_decl => {
                let keyword = pair
                    .clone()
                    .into_inner()
                    .next()
                    .map_or(span, |k| self.span(&k, o));
                let fields = children(pair).map(|f| self.field_decl(f, o)).collect();
                Item::Profile(ProfileDecl {
                    doc,
                    keyword,
                    fields,
                    span,
                })
            }
            R::event_decl => {
                let mut it = children(pair);
                let name = self.ident(it.next()?, o);
                let fields = it.map(|f| self.field_decl(f, o)).collect();
                Item::Event(EventDecl {
                    doc,
                    name,
                    fields,
                    span,
                })
            }
            R::segment_decl => {
                let mut it = children(pair);
                let name = self.ident(it.next()?, o);
                let condition = self.expr(it.next()?, o);
                Item::Segment(SegmentDecl {
                    doc,
                    name,
                    condition,
                    span,
                })
            }
            R::template_decl => {
                let mut it = children(pair);
                let name = self.ident(it.next()?, o);
                let channel = self.channel(it.next()?, o)?;
                let mut event = None;
                let mut fields = None;
                for p in it {
                    match p.as_rule() {
                        R::ident => event = Some(self.ident(p, o)),
                        R::object => fields = Some(self.object(p, o)),
                        _ => {}
                    }
                }
                Item::Template(TemplateDecl {
                    doc,
                    name,
                    channel,
                    event,
                    fields: fields?,
                    span,
                })
            }
            R::workflow_decl => Item::Workflow(self.workflow(pair, o, doc)?),
            R::policy_decl => {
                let keyword = pair
                    .clone()
                    .into_inner()
                    .next()
                    .map_or(span, |k| self.span(&k, o));
                let rules = children(pair)
                    .filter_map(|r| self.policy_rule(r, o))
                    .collect();
                Item::Policy(PolicyDecl {
                    doc,
                    keyword,
                    rules,
                    span,
                })
            }
            R::test_decl => {
                let mut it = children(pair);
                let name = self.string(it.next()?, o);
                let steps = it.filter_map(|s| self.test_step(s, o)).collect();
                Item::Test(TestDecl {
                    doc,
                    name,
                    steps,
                    span,
                })
            }
            _ => return None,
        })
    }

    fn field_decl(&mut self, pair: Pair<'_, R>, o: usize) -> FieldDecl {
        let span = self.span(&pair, o);
        let doc = self.doc(&pair, o);
        let mut name = None;
        let mut ty = None;
        let mut default = None;
        for p in children(pair) {
            match p.as_rule() {
                R::name => name = Some(self.ident(p, o)),
                R::type_expr => ty = Some(self.type_expr(p, o)),
                R::expr => default = Some(self.expr(p, o)),
                _ => {}
            }
        }
        let name = name.unwrap_or(Ident {
            name: String::new(),
            span,
        });
        let ty = ty.unwrap_or_else(|| TypeExpr {
            kind: TypeExprKind::Named(name.clone()),
            span,
        });
        FieldDecl {
            doc,
            name,
            ty,
            default,
            span,
        }
    }

    fn type_expr(&mut self, pair: Pair<'_, R>, o: usize) -> TypeExpr {
        let span = self.span(&pair, o);
        let mut base: Option<TypeExpr> = None;
        let mut optional = false;
        for p in children(pair) {
            match p.as_rule() {
                R::named_type => {
                    let s = self.span(&p, o);
                    let ident = p
                        .into_inner()
                        .next()
                        .map(|n| self.ident(n, o))
                        .unwrap_or(Ident {
                            name: String::new(),
                            span: s,
                        });
                    base = Some(TypeExpr {
                        kind: TypeExprKind::Named(ident),
                        span: s,
                    });
                }
                R::list_type => {
                    let s = self.span(&p, o);
                    let inner = p.into_inner().next().map(|t| self.type_expr(t, o));
                    if let Some(inner) = inner {
                        base = Some(TypeExpr {
                            kind: TypeExprKind::List(Box::new(inner)),
                            span: s,
                        });
                    }
                }
                R::optional_mark => optional = true,
                _ => {}
            }
        }
        let base = base.unwrap_or(TypeExpr {
            kind: TypeExprKind::Named(Ident {
                name: String::new(),
                span,
            }),
            span,
        });
        if optional {
            TypeExpr {
                kind: TypeExprKind::Optional(Box::new(base)),
                span,
            }
        } else {
            base
        }
    }

    fn channel(&mut self, pair: Pair<'_, R>, o: usize) -> Option<ChannelRef> {
        Some(ChannelRef {
            channel: Channel::from_keyword(pair.as_str())?,
            span: self.span(&pair, o),
        })
    }

    fn object(&mut self, pair: Pair<'_, R>, o: usize) -> Object {
        let span = self.span(&pair, o);
        let fields = children(pair)
            .filter_map(|f| {
                let span = self.span(&f, o);
                let mut it = children(f);
                let name = self.ident(it.next()?, o);
                let value = self.value(it.next()?, o);
                Some(FieldInit { name, value, span })
            })
            .collect();
        Object { fields, span }
    }

    fn value(&mut self, pair: Pair<'_, R>, o: usize) -> Value {
        match pair.as_rule() {
            R::file_ref => {
                let span = self.span(&pair, o);
                match pair.into_inner().next() {
                    Some(s) => Value::File(self.string(s, o)),
                    None => Value::File(StringLit {
                        parts: Vec::new(),
                        span,
                    }),
                }
            }
            R::object => Value::Object(self.object(pair, o)),
            _ => Value::Expr(self.expr(pair, o)),
        }
    }

    // -------------------------------------------------------------- workflows

    fn workflow(
        &mut self,
        pair: Pair<'_, R>,
        o: usize,
        doc: Option<DocComment>,
    ) -> Option<WorkflowDecl> {
        let span = self.span(&pair, o);
        let mut it = children(pair);
        let name = self.ident(it.next()?, o);
        let mut clauses = Vec::new();
        let mut body = Vec::new();
        for p in it {
            match p.as_rule() {
                R::on_clause
                | R::audience_clause
                | R::exit_on_clause
                | R::entry_clause
                | R::goal_clause
                | R::priority_clause => {
                    if let Some(c) = self.clause(p, o) {
                        clauses.push(c);
                    }
                }
                _ => {
                    if let Some(s) = self.stmt(p, o) {
                        body.push(s);
                    }
                }
            }
        }
        Some(WorkflowDecl {
            doc,
            name,
            clauses,
            body,
            span,
        })
    }

    fn clause(&mut self, pair: Pair<'_, R>, o: usize) -> Option<Clause> {
        let span = self.span(&pair, o);
        Some(match pair.as_rule() {
            R::on_clause => Clause::On {
                triggers: children(pair)
                    .filter_map(|t| match t.as_rule() {
                        R::inactive_trigger => {
                            let span = self.span(&t, o);
                            let d = children(t).next()?;
                            Some(Trigger::Inactive {
                                duration: self.duration(d, o),
                                span,
                            })
                        }
                        R::date_trigger => Some(Trigger::Date(self.date_trigger(t, o)?)),
                        _ => Some(Trigger::Event(self.event_match(t, o)?)),
                    })
                    .collect(),
                span,
            },
            R::audience_clause => Clause::Audience {
                condition: self.expr(children(pair).next()?, o),
                span,
            },
            R::exit_on_clause => Clause::ExitOn {
                events: children(pair)
                    .filter_map(|e| self.event_match(e, o))
                    .collect(),
                span,
            },
            R::entry_clause => {
                let rule = children(pair).next()?;
                let rule = match rule.as_rule() {
                    R::entry_restart => EntryRule::Restart,
                    _ => match children(rule).next() {
                        Some(d) => EntryRule::OncePer(self.duration(d, o)),
                        None => EntryRule::Once,
                    },
                };
                Clause::Entry { rule, span }
            }
            R::goal_clause => {
                let mut it = children(pair);
                let name = self.ident(it.next()?, o);
                let event = self.event_match(it.next()?, o)?;
                let within = self.duration(it.next()?, o);
                Clause::Goal(Goal {
                    name,
                    event,
                    within,
                    span,
                })
            }
            R::priority_clause => {
                let level = children(pair).next()?;
                let level_span = self.span(&level, o);
                Clause::Priority {
                    level: if level.as_str() == "transactional" {
                        Priority::Transactional
                    } else {
                        Priority::Marketing
                    },
                    level_span,
                    span,
                }
            }
            _ => return None,
        })
    }

    fn event_match(&mut self, pair: Pair<'_, R>, o: usize) -> Option<EventMatch> {
        let span = self.span(&pair, o);
        let mut it = children(pair);
        let event = self.ident(it.next()?, o);
        let filter = it
            .next()
            .and_then(|w| children(w).next())
            .map(|f| self.expr(f, o));
        Some(EventMatch {
            event,
            filter,
            span,
        })
    }

    fn block(&mut self, pair: Pair<'_, R>, o: usize) -> Block {
        let span = self.span(&pair, o);
        Block {
            stmts: children(pair).filter_map(|s| self.stmt(s, o)).collect(),
            span,
        }
    }

    fn stmt(&mut self, pair: Pair<'_, R>, o: usize) -> Option<Stmt> {
        let span = self.span(&pair, o);
        Some(match pair.as_rule() {
            R::send_stmt => Stmt::Send(SendStmt {
                message: self.message(children(pair).next()?, o)?,
                span,
            }),
            R::wait_stmt => Stmt::Wait {
                duration: self.duration(children(pair).next()?, o),
                span,
            },
            R::wait_until_time_stmt => {
                let mut at = None;
                let mut clock = None;
                for p in children(pair) {
                    match p.as_rule() {
                        R::expr => at = Some(self.expr(p, o)),
                        R::date_at => clock = self.clock(p, o),
                        _ => {}
                    }
                }
                Stmt::WaitUntilTime {
                    at: at?,
                    clock,
                    span,
                }
            }
            R::wait_until_stmt => {
                let mut time = None;
                let mut zone = None;
                let mut day = None;
                for p in children(pair) {
                    match p.as_rule() {
                        R::time_of_day => time = Some(self.time_of_day(p, o)),
                        R::zone => zone = self.zone(p, o),
                        R::day_number => {
                            let span = self.span(&p, o);
                            let n = children(p).next()?;
                            day = Some(DaySpec::Day {
                                number: self.int(n, o).value,
                                span,
                            });
                        }
                        R::weekday => {
                            day = Some(DaySpec::Weekday {
                                weekday: weekday::from_name(p.as_str())?,
                                span: self.span(&p, o),
                            });
                        }
                        _ => {}
                    }
                }
                Stmt::WaitUntil(WaitUntil {
                    time: time?,
                    zone,
                    day,
                    span,
                })
            }
            R::wait_for_stmt => {
                let mut it = children(pair);
                let event = self.event_match(it.next()?, o)?;
                let within = self.duration(it.next()?, o);
                let mut then_block = None;
                let mut else_block = None;
                for p in it {
                    let is_then = p.as_rule() == R::then_branch;
                    let b = children(p).next().map(|b| self.block(b, o));
                    if is_then {
                        then_block = b;
                    } else {
                        else_block = b;
                    }
                }
                Stmt::WaitFor(WaitFor {
                    event,
                    within,
                    then_block,
                    else_block,
                    span,
                })
            }
            R::if_stmt => {
                let mut it = children(pair);
                let condition = self.expr(it.next()?, o);
                let block = self.block(it.next()?, o);
                let mut branches = vec![IfBranch { condition, block }];
                let mut else_block = None;
                for p in it {
                    match p.as_rule() {
                        R::else_if => {
                            let mut e = children(p);
                            let condition = self.expr(e.next()?, o);
                            let block = self.block(e.next()?, o);
                            branches.push(IfBranch { condition, block });
                        }
                        _ => else_block = children(p).next().map(|b| self.block(b, o)),
                    }
                }
                Stmt::If(IfStmt {
                    branches,
                    else_block,
                    span,
                })
            }
            R::split_stmt => {
                let mut it = children(pair);
                let name = self.ident(it.next()?, o);
                let arms = it
                    .filter_map(|arm| {
                        let span = self.span(&arm, o);
                        let mut a = children(arm).peekable();
                        let name = match a.peek() {
                            Some(p) if p.as_rule() == R::ident => {
                                let p = a.next()?;
                                Some(self.ident(p, o))
                            }
                            _ => None,
                        };
                        let percent = self.percent(a.next()?, o);
                        let body = a.next()?;
                        let braced = body.as_rule() == R::block;
                        let body = if braced {
                            self.block(body, o)
                        } else {
                            let s = self.span(&body, o);
                            Block {
                                stmts: self.stmt(body, o).into_iter().collect(),
                                span: s,
                            }
                        };
                        Some(SplitArm {
                            name,
                            percent,
                            body,
                            braced,
                            span,
                        })
                    })
                    .collect();
                Stmt::Split(SplitStmt { name, arms, span })
            }
            R::escalate_stmt => {
                let mut it = children(pair);
                let until = self.event_match(it.next()?, o)?;
                let steps = it
                    .filter_map(|step| {
                        let span = self.span(&step, o);
                        let mut after = None;
                        let mut message = None;
                        let mut guard = None;
                        for p in children(step) {
                            match p.as_rule() {
                                R::after => after = children(p).next().map(|d| self.duration(d, o)),
                                R::message => message = self.message(p, o),
                                R::guard => guard = children(p).next().map(|e| self.expr(e, o)),
                                _ => {}
                            }
                        }
                        Some(EscalateStep {
                            after,
                            message: message?,
                            guard,
                            span,
                        })
                    })
                    .collect();
                Stmt::Escalate(EscalateStmt { until, steps, span })
            }
            R::exit_stmt => Stmt::Exit { span },
            _ => return None,
        })
    }

    fn message(&mut self, pair: Pair<'_, R>, o: usize) -> Option<Message> {
        let span = self.span(&pair, o);
        let mut it = children(pair);
        let channel = self.channel(it.next()?, o)?;
        let mut template = None;
        let mut content = None;
        for p in it {
            match p.as_rule() {
                R::template_ref => template = p.into_inner().next().map(|i| self.ident(i, o)),
                R::object => content = Some(Content::Fields(self.object(p, o))),
                R::string => content = Some(Content::Text(self.string(p, o))),
                _ => {}
            }
        }
        if template.is_none() && content.is_none() {
            self.error(
                codes::parse::EMPTY_MESSAGE,
                format!(
                    "{} `{}` message needs a template or content",
                    if matches!(channel.channel, Channel::Push | Channel::Webhook) {
                        "a"
                    } else {
                        "an"
                    },
                    channel.channel.as_str()
                ),
                span,
                "nothing to send",
                Some(format!(
                    "name a template (`{c} welcome`) or write the fields (`{c} {{ … }}`)",
                    c = channel.channel.as_str()
                )),
            );
        }
        Some(Message {
            channel,
            template,
            content,
            span,
        })
    }

    fn date_trigger(&mut self, pair: Pair<'_, R>, o: usize) -> Option<DateTrigger> {
        let span = self.span(&pair, o);
        let mut trigger = DateTrigger {
            offset: None,
            anniversary: false,
            field: Ident {
                name: String::new(),
                span,
            },
            at: None,
            span,
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                R::date_offset => {
                    let mut it = p.into_inner();
                    let d = self.duration(it.next()?, o);
                    let side = it.next()?;
                    let side = if side.as_rule() == R::k_before {
                        DateSide::Before
                    } else {
                        DateSide::After
                    };
                    trigger.offset = Some((d, side));
                }
                R::date_anniversary => trigger.anniversary = true,
                R::name => trigger.field = self.ident(p, o),
                R::date_at => trigger.at = Some(self.clock(p, o)?),
                _ => {}
            }
        }
        Some(trigger)
    }

    /// `at HH:MM [zone]`.
    fn clock(&mut self, pair: Pair<'_, R>, o: usize) -> Option<(TimeOfDayLit, Option<Zone>)> {
        let mut time = None;
        let mut zone = None;
        for q in children(pair) {
            match q.as_rule() {
                R::time_of_day => time = Some(self.time_of_day(q, o)),
                R::zone => zone = self.zone(q, o),
                _ => {}
            }
        }
        Some((time?, zone))
    }

    fn zone(&mut self, pair: Pair<'_, R>, o: usize) -> Option<Zone> {
        let inner = children(pair).next()?;
        Some(match inner.as_rule() {
            R::zone_local => Zone::Local(self.span(&inner, o)),
            _ => Zone::Named(self.string(children(inner).next()?, o)),
        })
    }

    fn policy_rule(&mut self, pair: Pair<'_, R>, o: usize) -> Option<PolicyRule> {
        let span = self.span(&pair, o);
        match pair.as_rule() {
            R::cap_rule => {
                let mut it = children(pair);
                let count = self.int(it.next()?, o);
                let per = self.duration(it.next()?, o);
                let channels = it
                    .next()
                    .map(|l| self.channel_list(l, o))
                    .unwrap_or_default();
                Some(PolicyRule::Cap {
                    count,
                    per,
                    channels,
                    span,
                })
            }
            R::quiet_hours_rule => {
                let mut it = children(pair);
                let from = self.time_of_day(it.next()?, o);
                let to = self.time_of_day(it.next()?, o);
                let mut zone = None;
                let mut channels = Vec::new();
                for p in it {
                    match p.as_rule() {
                        R::zone => zone = self.zone(p, o),
                        R::channel_list => channels = self.channel_list(p, o),
                        _ => {}
                    }
                }
                Some(PolicyRule::QuietHours {
                    from,
                    to,
                    zone,
                    channels,
                    span,
                })
            }
            _ => None,
        }
    }

    fn channel_list(&mut self, pair: Pair<'_, R>, o: usize) -> Vec<ChannelRef> {
        children(pair).filter_map(|c| self.channel(c, o)).collect()
    }

    // -------------------------------------------------------------- tests

    fn test_step(&mut self, pair: Pair<'_, R>, o: usize) -> Option<TestStep> {
        let span = self.span(&pair, o);
        Some(match pair.as_rule() {
            R::given_profile => {
                let mut it = children(pair);
                let id = self.string(it.next()?, o);
                let attributes = self.object(it.next()?, o);
                TestStep::GivenProfile {
                    id,
                    attributes,
                    span,
                }
            }
            R::given_event => {
                let mut it = children(pair);
                let id = self.string(it.next()?, o);
                let event = self.ident(it.next()?, o);
                let mut properties = None;
                let mut at = None;
                for p in it {
                    match p.as_rule() {
                        R::object => properties = Some(self.object(p, o)),
                        _ => at = Some(self.time_ref(p, o)),
                    }
                }
                TestStep::GivenEvent {
                    id,
                    event,
                    properties,
                    at: at?,
                    span,
                }
            }
            R::given_arm => {
                let mut it = children(pair);
                let id = self.string(it.next()?, o);
                let arm = self.arm_ref(it.next()?, o)?;
                TestStep::GivenArm { id, arm, span }
            }
            R::at_step => {
                let mut it = children(pair);
                let at = self.time_ref(it.next()?, o);
                let id = self.string(it.next()?, o);
                let action = it.next()?;
                let action = match action.as_rule() {
                    R::does_action => {
                        let mut a = children(action);
                        let event = self.ident(a.next()?, o);
                        let properties = a.next().map(|p| self.object(p, o));
                        TestAction::Does { event, properties }
                    }
                    _ => TestAction::Identify {
                        traits: self.object(children(action).next()?, o),
                    },
                };
                TestStep::At {
                    at,
                    id,
                    action,
                    span,
                }
            }
            R::expect_step => TestStep::Expect(self.expectation(pair, o)?),
            _ => return None,
        })
    }

    /// `arm ARM of split [WORKFLOW.]SPLIT`
    fn arm_ref(&mut self, pair: Pair<'_, R>, o: usize) -> Option<ArmRef> {
        let mut it = children(pair).filter(|p| !matches!(p.as_rule(), R::arm_word | R::of_word));
        let arm = self.ident(it.next()?, o);
        let names: Vec<Ident> = children(it.next()?).map(|p| self.ident(p, o)).collect();
        let (workflow, split) = match names.as_slice() {
            [split] => (None, split.clone()),
            [workflow, split] => (Some(workflow.clone()), split.clone()),
            _ => return None,
        };
        Some(ArmRef {
            arm,
            workflow,
            split,
        })
    }

    fn expectation(&mut self, pair: Pair<'_, R>, o: usize) -> Option<Expectation> {
        let span = self.span(&pair, o);
        let inner = children(pair).next()?;
        let kind = match inner.as_rule() {
            R::expect_journey => {
                let mut it = children(inner);
                let id = self.string(it.next()?, o);
                let state_pair = it.next()?;
                if state_pair.as_rule() == R::state_arm {
                    let arm_pair = children(state_pair).find(|p| p.as_rule() == R::arm_of_split)?;
                    let arm = self.arm_ref(arm_pair, o)?;
                    return Some(Expectation {
                        kind: ExpectKind::Arm { id, arm },
                        span,
                    });
                }
                let state = match state_pair.as_rule() {
                    R::state_entered => JourneyState::Entered,
                    R::state_not_entered => JourneyState::NotEntered,
                    R::state_exited => JourneyState::Exited,
                    R::state_completed => JourneyState::Completed,
                    R::state_active => JourneyState::Active,
                    _ => JourneyState::ReachedGoal,
                };
                let target = self.ident(children(state_pair).next()?, o);
                ExpectKind::Journey { id, state, target }
            }
            _ => {
                let mut count = ExpectCount::AtLeastOne;
                let mut channel = None;
                let mut template = None;
                let mut to = None;
                let mut time = None;
                let mut with = Vec::new();
                for p in children(inner) {
                    match p.as_rule() {
                        R::message_count => {
                            let c = children(p).next()?;
                            count = match c.as_rule() {
                                R::no_count => ExpectCount::None,
                                _ => ExpectCount::Exactly(self.int(c, o).value),
                            };
                        }
                        R::message_kind => {
                            for k in children(p) {
                                match k.as_rule() {
                                    R::channel => channel = self.channel(k, o),
                                    R::template_ref => {
                                        template = k.into_inner().next().map(|i| self.ident(i, o))
                                    }
                                    _ => {}
                                }
                            }
                        }
                        R::recipient => to = children(p).next().map(|s| self.string(s, o)),
                        R::message_time => {
                            let t = children(p).next()?;
                            time = Some(match t.as_rule() {
                                R::at_time => ExpectTime::At(self.time_ref(children(t).next()?, o)),
                                R::between_time => {
                                    let mut b = children(t);
                                    let from = self.time_ref(b.next()?, o);
                                    let until = self.time_ref(b.next()?, o);
                                    ExpectTime::Between(from, until)
                                }
                                _ => ExpectTime::Within(self.duration(children(t).next()?, o)),
                            });
                        }
                        R::with_content => {
                            let mut w = children(p);
                            let field = self.ident(w.next()?, o);
                            let text = self.string(w.next()?, o);
                            with.push((field, text));
                        }
                        _ => {}
                    }
                }
                ExpectKind::Messages {
                    count,
                    channel,
                    template,
                    to,
                    time,
                    with,
                }
            }
        };
        Some(Expectation { kind, span })
    }

    fn time_ref(&mut self, pair: Pair<'_, R>, o: usize) -> TimeRef {
        let span = self.span(&pair, o);
        match pair.as_rule() {
            R::timestamp => TimeRef::Absolute(self.timestamp(pair, o)),
            _ => {
                let text = pair.as_str();
                let negative = text.starts_with('-');
                let seconds = match children(pair).next() {
                    Some(d) => self.duration(d, o).seconds,
                    None => 0,
                };
                TimeRef::Offset {
                    seconds: if negative { -seconds } else { seconds },
                    span,
                }
            }
        }
    }

    // -------------------------------------------------------------- expressions

    fn expr(&mut self, pair: Pair<'_, R>, o: usize) -> Expr {
        let span = self.span(&pair, o);
        let items = pair.clone().into_inner().count();
        if self.expr_items + items > MAX_EXPRESSION_ITEMS {
            if self.expr_items == 0
                || !self
                    .diagnostics
                    .iter()
                    .any(|d| d.code == codes::parse::TOO_DEEP)
            {
                self.error(
                    codes::parse::TOO_DEEP,
                    "this expression is too long",
                    Span::new(span.start as usize, span.start as usize + 1),
                    format!("more than {MAX_EXPRESSION_ITEMS} operands and operators from here"),
                    Some("split the condition into segments and combine them with `in`".into()),
                );
            }
            return Expr {
                kind: ExprKind::Error,
                span,
            };
        }
        self.expr_items += items;
        let expr = self.build_expr(pair, o, span);
        self.expr_items -= items;
        expr
    }

    fn build_expr(&mut self, pair: Pair<'_, R>, o: usize, span: Span) -> Expr {
        // The operator closures all need the builder (for diagnostics); the
        // Pratt parser calls them one at a time, so a `RefCell` is enough.
        let cell = std::cell::RefCell::new(self);
        let result = PRATT
            .map_primary(|p| cell.borrow_mut().primary(p, o))
            .map_prefix(|op, rhs| Expr {
                span: cell.borrow().span(&op, o).to(rhs.span),
                kind: ExprKind::Not(Box::new(rhs)),
            })
            .map_postfix(|lhs, op| Expr {
                span: lhs.span.to(cell.borrow().span(&op, o)),
                kind: ExprKind::IsNone {
                    negated: op.as_rule() == R::is_not_none,
                    operand: Box::new(lhs),
                },
            })
            .map_infix(|lhs, op, rhs| cell.borrow_mut().binary(lhs, op, rhs, o))
            .parse(pair.into_inner());
        Expr {
            kind: result.kind,
            span: if result.span.is_empty() {
                span
            } else {
                result.span
            },
        }
    }

    fn binary(&mut self, lhs: Expr, op: Pair<'_, R>, rhs: Expr, o: usize) -> Expr {
        let op_span = self.span(&op, o);
        let op_kind = match op.as_rule() {
            R::or_op => BinaryOp::Or,
            R::and_op => BinaryOp::And,
            R::in_op => BinaryOp::In,
            R::coalesce => BinaryOp::Coalesce,
            R::add_op if op.as_str() == "+" => BinaryOp::Add,
            R::add_op => BinaryOp::Sub,
            _ => BinaryOp::comparison(op.as_str()).unwrap_or(BinaryOp::Eq),
        };
        if op_kind.is_comparison() {
            if let ExprKind::Binary { op: inner, .. } = &lhs.kind {
                if inner.is_comparison() {
                    self.error(
                        codes::parse::CHAINED_COMPARISON,
                        "comparisons cannot be chained",
                        op_span,
                        format!("second comparison `{}`", op_kind.as_str()),
                        Some(format!(
                            "compare twice and join with `and`, for example `a {} b and b {} c`",
                            inner.as_str(),
                            op_kind.as_str()
                        )),
                    );
                }
            }
        }
        if op_kind == BinaryOp::In && !matches!(rhs.kind, ExprKind::List(_) | ExprKind::Path(_)) {
            self.error(
                codes::parse::IN_RIGHT_SIDE,
                "the right side of `in` must be a list or a property",
                rhs.span,
                "not a list",
                Some(
                    "write a list such as `[pro, enterprise]`, or a property that holds a list"
                        .into(),
                ),
            );
        }
        Expr {
            span: lhs.span.to(rhs.span),
            kind: ExprKind::Binary {
                op: op_kind,
                op_span,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
        }
    }

    fn primary(&mut self, pair: Pair<'_, R>, o: usize) -> Expr {
        let span = self.span(&pair, o);
        let kind = match pair.as_rule() {
            R::paren => match children(pair).next() {
                Some(e) => ExprKind::Paren(Box::new(self.expr(e, o))),
                None => ExprKind::Literal(Literal::None),
            },
            R::list => ExprKind::List(children(pair).map(|e| self.expr(e, o)).collect()),
            R::did_expr => {
                let mut event = None;
                let mut count = None;
                let mut window = None;
                let mut filter = None;
                let mut event_span = span;
                for p in children(pair) {
                    match p.as_rule() {
                        R::ident => {
                            event_span = self.span(&p, o);
                            event = Some(self.ident(p, o));
                        }
                        R::where_filter => {
                            if let Some(f) = children(p).next() {
                                let f = self.expr(f, o);
                                event_span = event_span.to(f.span);
                                filter = Some(f);
                            }
                        }
                        R::did_count => {
                            let cspan = self.span(&p, o);
                            let mut c = children(p);
                            let op = c
                                .next()
                                .and_then(|op| BinaryOp::comparison(op.as_str()))
                                .unwrap_or(BinaryOp::Ge);
                            let n = c.next().map_or(
                                IntLit {
                                    value: 0,
                                    span: cspan,
                                },
                                |n| self.int(n, o),
                            );
                            count = Some(DidCount {
                                op,
                                count: n,
                                span: cspan,
                            });
                        }
                        R::did_within => {
                            if let Some(d) = children(p).next() {
                                window = Some(DidWindow::Within(self.duration(d, o)));
                            }
                        }
                        R::did_since => window = Some(DidWindow::SinceEntry(self.span(&p, o))),
                        _ => {}
                    }
                }
                let event = event.unwrap_or(Ident {
                    name: String::new(),
                    span,
                });
                ExprKind::Did(Box::new(DidExpr {
                    event: EventMatch {
                        event,
                        filter,
                        span: event_span,
                    },
                    count,
                    window,
                }))
            }
            R::inactive_expr => match children(pair).next() {
                Some(d) => ExprKind::Inactive(self.duration(d, o)),
                None => ExprKind::Literal(Literal::None),
            },
            R::in_segment => match children(pair).next() {
                Some(i) => ExprKind::InSegment(self.ident(i, o)),
                None => ExprKind::Literal(Literal::None),
            },
            R::ago => match children(pair).next() {
                Some(d) => ExprKind::Ago(self.duration(d, o)),
                None => ExprKind::Literal(Literal::None),
            },
            R::path => ExprKind::Path(Path {
                segments: pair.into_inner().map(|s| self.ident(s, o)).collect(),
            }),
            R::none_lit => ExprKind::Literal(Literal::None),
            R::bool_lit => ExprKind::Literal(Literal::Bool(pair.as_str() == "true")),
            R::int => ExprKind::Literal(Literal::Int(self.int(pair, o).value)),
            R::float => ExprKind::Literal(Literal::Float(pair.as_str().parse().unwrap_or(0.0))),
            R::string => ExprKind::Literal(Literal::String(self.string(pair, o))),
            R::duration => ExprKind::Literal(Literal::Duration(self.duration(pair, o))),
            R::time_of_day => ExprKind::Literal(Literal::TimeOfDay(self.time_of_day(pair, o))),
            R::timestamp => ExprKind::Literal(Literal::Timestamp(self.timestamp(pair, o))),
            _ => ExprKind::Literal(Literal::None),
        };
        Expr { kind, span }
    }

    // -------------------------------------------------------------- literals

    fn int(&mut self, pair: Pair<'_, R>, o: usize) -> IntLit {
        let span = self.span(&pair, o);
        let value = match pair.as_str().parse::<i64>() {
            Ok(v) => v,
            Err(_) => {
                self.error(
                    codes::parse::NUMBER_RANGE,
                    format!("the number `{}` is too large", pair.as_str()),
                    span,
                    "does not fit in 64 bits",
                    Some(format!("numbers range from {} to {}", i64::MIN, i64::MAX)),
                );
                0
            }
        };
        IntLit { value, span }
    }

    fn duration(&mut self, pair: Pair<'_, R>, o: usize) -> DurationLit {
        let span = self.span(&pair, o);
        let text = pair.as_str();
        let seconds = match duration::parse(text) {
            Ok(s) => s,
            Err(DurationError::UnknownUnit { unit, offset }) => {
                let unit_span = Span::new(
                    span.start as usize + offset,
                    span.start as usize + offset + unit.len(),
                );
                let hint = parse_errors::unit_hint(&unit);
                self.error(
                    codes::parse::INVALID_DURATION,
                    format!("`{unit}` is not a unit of duration"),
                    unit_span,
                    "unknown unit",
                    Some(hint),
                );
                0
            }
            Err(DurationError::Order { canonical, .. }) => {
                self.error(
                    codes::parse::INVALID_DURATION,
                    format!("the units of `{text}` are out of order"),
                    span,
                    "units must go from largest to smallest, each once",
                    Some(format!("write `{canonical}`")),
                );
                0
            }
            Err(DurationError::TooLong { .. } | DurationError::Overflow) => {
                self.error(
                    codes::parse::INVALID_DURATION,
                    format!("the duration `{text}` is too long"),
                    span,
                    "longer than ten years",
                    Some("durations are at most ten years".into()),
                );
                0
            }
        };
        DurationLit { seconds, span }
    }

    fn time_of_day(&mut self, pair: Pair<'_, R>, o: usize) -> TimeOfDayLit {
        let span = self.span(&pair, o);
        let text = pair.as_str();
        let minutes = match time_of_day::parse(text) {
            Ok(m) => m,
            Err(TimeOfDayError::OneDigitHour) => {
                self.error(
                    codes::parse::INVALID_TIME,
                    format!("the time `{text}` needs a two-digit hour"),
                    span,
                    "one-digit hour",
                    Some(format!("write `0{text}`")),
                );
                0
            }
            Err(TimeOfDayError::OutOfRange) => {
                self.error(
                    codes::parse::INVALID_TIME,
                    format!("`{text}` is not a time of day"),
                    span,
                    "out of range",
                    Some("times of day go from `00:00` to `23:59`".into()),
                );
                0
            }
        };
        TimeOfDayLit { minutes, span }
    }

    fn timestamp(&mut self, pair: Pair<'_, R>, o: usize) -> TimestampLit {
        let span = self.span(&pair, o);
        let text = pair.as_str();
        let value = match chrono::DateTime::parse_from_rfc3339(text) {
            Ok(t) => t.with_timezone(&chrono::Utc),
            Err(e) => {
                self.error(
                    codes::parse::INVALID_TIMESTAMP,
                    format!("`{text}` is not a valid timestamp"),
                    span,
                    match e.kind() {
                        chrono::format::ParseErrorKind::OutOfRange
                        | chrono::format::ParseErrorKind::Impossible => {
                            "no such date or time".to_owned()
                        }
                        _ => e.to_string(),
                    },
                    Some("timestamps are RFC 3339, such as `2026-03-01T10:00:00Z`".into()),
                );
                chrono::DateTime::<chrono::Utc>::UNIX_EPOCH
            }
        };
        TimestampLit { value, span }
    }

    fn percent(&mut self, pair: Pair<'_, R>, o: usize) -> PercentLit {
        let span = self.span(&pair, o);
        let text = pair.as_str();
        let basis_points = match percent::parse(text) {
            Some(b) if b <= 10_000 => b,
            Some(_) => {
                self.error(
                    codes::parse::INVALID_PERCENT,
                    format!("`{text}` is more than 100%"),
                    span,
                    "too large",
                    Some("a split arm's share is between 0% and 100%".into()),
                );
                0
            }
            None => {
                self.error(
                    codes::parse::INVALID_PERCENT,
                    format!("`{text}` is too precise"),
                    span,
                    "more than two decimals",
                    Some("splits assign in steps of 0.01%".into()),
                );
                0
            }
        };
        PercentLit { basis_points, span }
    }

    fn string(&mut self, pair: Pair<'_, R>, o: usize) -> StringLit {
        let span = self.span(&pair, o);
        let mut parts: Vec<StringPart> = Vec::new();
        let mut text = String::new();
        let raw = pair.as_str();
        // A stray `}` already explained with the `{` before it.
        let mut explained_close: Option<u32> = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                R::str_text => text.push_str(p.as_str()),
                R::str_escape => {
                    match escape::unescape(&p.as_str()[1..]) {
                        Some(c) => text.push(c),
                        None => {
                            let s = self.span(&p, o);
                            self.error(
                            codes::parse::INVALID_ESCAPE,
                            format!("`{}` is not a valid escape", p.as_str()),
                            s,
                            "not a Unicode scalar value",
                            Some("write `\\u{…}` with a hexadecimal code point such as `\\u{e9}`".into()),
                        );
                        }
                    }
                }
                R::str_brace => text.push(if p.as_str() == "{{" { '{' } else { '}' }),
                R::stray_brace => {
                    let s = self.span(&p, o);
                    let brace = p.as_str();
                    if explained_close == Some(s.start) {
                        text.push_str(brace);
                        continue;
                    }
                    let rel = (s.start - span.start) as usize;
                    let inside = &raw[rel + 1..];
                    let close = inside
                        .find(['{', '}', '"'])
                        .filter(|&n| inside[n..].starts_with('}'));
                    if let (Some(n), "{") = (close, brace) {
                        let whole = Span::new(s.start as usize, s.start as usize + n + 2);
                        explained_close = Some(whole.end - 1);
                        self.error(
                            codes::parse::STRAY_BRACE,
                            format!("`{{{}}}` is not an interpolation", &inside[..n]),
                            whole,
                            "braces in a string hold a property such as `{event.total}`",
                            Some("interpolate a property, with an optional default: `{profile.first_name ?? \"friend\"}`; write `{{` and `}}` for literal braces".into()),
                        );
                        text.push_str(brace);
                        continue;
                    }
                    let (label, help) = if brace == "{" {
                        (
                            "this `{` starts no interpolation",
                            "interpolate a value with `{profile.first_name}`; write `{{` for a literal `{`",
                        )
                    } else {
                        ("unmatched `}`", "write `}}` for a literal `}`")
                    };
                    self.error(
                        codes::parse::STRAY_BRACE,
                        format!("stray `{brace}` in a string"),
                        s,
                        label,
                        Some(help.into()),
                    );
                    text.push_str(brace);
                }
                R::interp => {
                    if !text.is_empty() {
                        parts.push(StringPart::Text(std::mem::take(&mut text)));
                    }
                    let ispan = self.span(&p, o);
                    let mut path = None;
                    let mut default = None;
                    let mut after_coalesce = false;
                    let mut format = None;
                    for q in children(p) {
                        match q.as_rule() {
                            R::fmt_spec => {
                                let s = self.span(&q, o);
                                let text =
                                    q.as_str().strip_prefix(':').unwrap_or_default().to_owned();
                                format =
                                    Some((text, Span::new(s.start as usize + 1, s.end as usize)));
                            }
                            // The default: a literal, or an enum member.
                            _ if after_coalesce => default = Some(Box::new(self.primary(q, o))),
                            R::path => {
                                path = Some(Path {
                                    segments: q.into_inner().map(|s| self.ident(s, o)).collect(),
                                })
                            }
                            R::coalesce => after_coalesce = true,
                            _ => default = Some(Box::new(self.primary(q, o))),
                        }
                    }
                    if let Some(path) = path {
                        parts.push(StringPart::Interp(Interpolation {
                            path,
                            default,
                            format,
                            span: ispan,
                        }));
                    }
                }
                _ => {}
            }
        }
        if !text.is_empty() {
            parts.push(StringPart::Text(text));
        }
        StringLit { parts, span }
    }
}

fn starts_declaration(line: &str) -> bool {
    DECLARATION_KEYWORDS.iter().any(|kw| {
        line.strip_prefix(kw).is_some_and(|rest| {
            rest.starts_with(|c: char| c.is_whitespace() || c == '{' || c == '"')
        })
    })
}

/// Moves each cut above the `///` lines that document the declaration.
fn attach_doc_lines(text: &str, starts: Vec<usize>) -> Vec<usize> {
    starts
        .into_iter()
        .map(|start| {
            let mut start = start;
            while start > 0 {
                let prev_end = start - 1; // the '\n' ending the previous line
                let prev_start = text[..prev_end].rfind('\n').map_or(0, |n| n + 1);
                if text[prev_start..prev_end].trim_start().starts_with("///") {
                    start = prev_start;
                } else {
                    break;
                }
            }
            start
        })
        .collect()
}
