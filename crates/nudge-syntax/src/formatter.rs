//! The canonical formatter: prints a parsed file in the one house style and
//! puts every comment back where it was.
//!
//! The style (documented for users in `docs/cli.md`, section `nudge fmt`):
//!
//! - two spaces per indentation level, lines of at most [`MAX_WIDTH`]
//!   columns where a choice exists, one declaration, clause, statement,
//!   field or step per line;
//! - exactly one blank line between top-level declarations; elsewhere a
//!   blank line the author wrote between two lines is kept (at most one),
//!   never right after `{` or right before `}`;
//! - short enums (`enum Plan { starter, pro }`), objects and single-statement
//!   `then`/`else`/split blocks stay on one line when the whole line fits and
//!   holds no comment; otherwise one member, field or statement per line,
//!   without commas;
//! - an `and`/`or` chain in a segment, `audience` or `if` breaks before each
//!   operator (one operand per line, indented once) when it does not fit, holds
//!   a comment, or was written over several lines;
//! - literals are written canonically: durations in the author's units
//!   without zero parts (`48h`, `1d12h`), times `09:00`, percentages `12.5%`,
//!   timestamps in UTC (`…Z`) with the written precision, strings with
//!   canonical escapes and `{{`/`}}` for braces;
//! - parentheses are kept as written.
//!
//! Comments: an own-line comment stays on its own line before whatever
//! followed it; a comment after code stays at the end of that line (a doc
//! comment always gets its own line). Comments are never merged, reordered
//! or dropped, and stay on the same side of every token: tokens the tree
//! gives no position (keywords, punctuation) are looked up in the source.
//! A leading byte order mark and CRLF line endings are kept.
//!
//! The tree is printed, not the text, so formatting is sound only if the
//! printed text parses back to the same tree: `nudge fmt` checks that with
//! [`same_tree`] and [`comment_texts`] before it writes a file.

use std::sync::Arc;

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use nudge_core::{duration, percent, time_of_day, weekday};

use crate::escape;
use crate::parser::{parse, Parsed};
use crate::source::SourceFile;
use crate::span::Span;
use crate::trivia::Comment;

/// U+FEFF, which the grammar reads as whitespace wherever it stands.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// The width the formatter keeps lines within when it has a choice.
pub const MAX_WIDTH: usize = 100;

const INDENT: &str = "  ";

/// Formats a source file. A file with parse errors is never formatted: its
/// diagnostics come back instead.
pub fn format_source(source: Arc<SourceFile>) -> Result<String, Vec<Diagnostic>> {
    let parsed = parse(source);
    if !parsed.is_ok() {
        return Err(parsed.diagnostics);
    }
    Ok(format_file(&parsed))
}

/// Formats a parsed file. The file should have parsed without errors:
/// declarations that failed to parse are not in the tree and would be lost.
pub fn format_file(parsed: &Parsed) -> String {
    let text = parsed.source.text();
    let mut p = Printer::new(text, &parsed.comments, false);
    p.file(&parsed.file);
    let mut out = p.finish();
    if text.contains("\r\n") && first_line_ending_is_crlf(text) {
        out = out.replace('\n', "\r\n");
    }
    if text.starts_with('\u{FEFF}') {
        out.insert(0, '\u{FEFF}');
    }
    out
}

/// Whether two files have the same syntax tree, spans ignored.
pub fn same_tree(a: &File, b: &File) -> bool {
    strip_spans(&format!("{a:?}")) == strip_spans(&format!("{b:?}"))
}

/// A textual dump of a tree with every span removed, for comparing trees
/// (and showing the difference when they are not equal).
pub fn tree_without_spans(file: &File) -> String {
    strip_spans(&format!("{file:#?}"))
}

/// The text of every comment of a parsed file, in order, trailing whitespace
/// removed.
pub fn comment_texts(parsed: &Parsed) -> Vec<String> {
    let text = parsed.source.text();
    parsed
        .comments
        .iter()
        .map(|c| text[c.span.range()].trim_end().to_owned())
        .collect()
}

/// Removes every `Span { start: …, end: … }` from a `Debug` dump (both the
/// compact and the pretty form).
fn strip_spans(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(i) = rest.find("Span {") {
        out.push_str(&rest[..i]);
        out.push_str("Span");
        let after = &rest[i + "Span {".len()..];
        match span_fields_len(after) {
            Some(len) => rest = &after[len..],
            None => {
                out.push_str(" {");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The length of `start: N, end: N }` (any whitespace, optional trailing
/// comma) at the start of `text`.
fn span_fields_len(text: &str) -> Option<usize> {
    let mut rest = text;
    for field in ["start:", "end:"] {
        rest = rest.trim_start().strip_prefix(field)?.trim_start();
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return None;
        }
        rest = &rest[digits..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    rest = rest.trim_start().strip_prefix('}')?;
    Some(text.len() - rest.len())
}

fn first_line_ending_is_crlf(text: &str) -> bool {
    text.find('\n')
        .is_some_and(|i| i > 0 && text.as_bytes()[i - 1] == b'\r')
}

fn is_blank(s: &str) -> bool {
    s.chars().all(|c| c.is_whitespace() || c == '\u{FEFF}')
}

/// The flattened operands of an `and`/`or` chain: the operator, the first
/// operand and every `(operator position, operand)` after it.
type Chain<'e> = (BinaryOp, &'e Expr, Vec<(Span, &'e Expr)>);

fn chain(e: &Expr) -> Option<Chain<'_>> {
    let ExprKind::Binary { op, .. } = &e.kind else {
        return None;
    };
    let op = *op;
    if !matches!(op, BinaryOp::And | BinaryOp::Or) {
        return None;
    }
    let mut rest = Vec::new();
    let mut cur = e;
    loop {
        match &cur.kind {
            ExprKind::Binary {
                op: o,
                op_span,
                lhs,
                rhs,
            } if *o == op => {
                rest.push((*op_span, &**rhs));
                cur = lhs;
            }
            _ => break,
        }
    }
    rest.reverse();
    Some((op, cur, rest))
}

/// A duration in the units its author chose (`48h` stays `48h`, `30d`
/// stays `30d`), without zero parts or leading zeros; `0s` for zero. Without
/// a valid written form, the shortest form of `seconds`.
fn duration_text(written: &str, seconds: i64) -> String {
    if duration::parse(written) != Ok(seconds) {
        return duration::format(seconds);
    }
    let mut out = String::new();
    let mut number = String::new();
    for c in written.chars() {
        if c.is_ascii_digit() {
            number.push(c);
        } else {
            let digits = number.trim_start_matches('0');
            if !digits.is_empty() {
                out.push_str(digits);
                out.push(c);
            }
            number.clear();
        }
    }
    if out.is_empty() {
        "0s".to_owned()
    } else {
        out
    }
}

fn float_text(f: f64) -> String {
    let s = format!("{f}");
    if s.contains(['.', 'e', 'E']) || !f.is_finite() {
        s
    } else {
        format!("{s}.0")
    }
}

/// Writes the output line by line. Newlines are requested (`pending`) and
/// only written with the next text, so a comment found before that text can
/// still go at the end of the previous line.
struct Printer<'a> {
    src: &'a str,
    comments: &'a [Comment],
    /// The next comment not yet written.
    next: usize,
    out: String,
    indent: usize,
    /// Line breaks to write before the next text (2: a blank line).
    pending: u8,
    /// Whether the pending break is between lines of the layout (indented
    /// normally) rather than forced by a comment inside a line (indented once
    /// more, as a continuation).
    structural: bool,
    /// Right after a `{`: no blank line here.
    at_block_start: bool,
    /// The last thing written was a comment: never append another to it.
    last_was_comment: bool,
    /// Measuring: everything on one line, no comments.
    flat: bool,
    /// The source offset just after the last token written, where the
    /// search for the next keyword starts.
    cursor: usize,
}

impl<'a> Printer<'a> {
    fn new(src: &'a str, comments: &'a [Comment], flat: bool) -> Self {
        Printer {
            src,
            comments,
            next: 0,
            out: String::new(),
            indent: 0,
            pending: 0,
            structural: true,
            at_block_start: true,
            last_was_comment: false,
            flat,
            cursor: 0,
        }
    }

    fn finish(mut self) -> String {
        self.newline();
        self.flush_before(u32::MAX);
        let mut out = self.out;
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        if !out.is_empty() {
            out.push('\n');
        }
        out
    }

    // ---------------------------------------------------------- low level

    fn trim_line_end(&mut self) {
        let trimmed = self.out.trim_end_matches([' ', '\t']).len();
        self.out.truncate(trimmed);
    }

    fn materialize(&mut self) -> bool {
        if self.pending == 0 {
            return false;
        }
        let wrote = !self.out.is_empty();
        if wrote {
            self.trim_line_end();
            for _ in 0..self.pending {
                self.out.push('\n');
            }
            let levels = self.indent + usize::from(!self.structural);
            for _ in 0..levels {
                self.out.push_str(INDENT);
            }
        }
        self.pending = 0;
        self.structural = false;
        wrote
    }

    fn write(&mut self, s: &str) {
        let s = if self.materialize() {
            s.trim_start()
        } else {
            s
        };
        self.out.push_str(s);
        self.at_block_start = false;
        self.last_was_comment = false;
    }

    /// Writes text that starts at `pos` in the source, after the comments
    /// that come before it.
    fn tok(&mut self, pos: u32, s: &str) {
        self.flush_before(pos);
        self.write(s);
        let start = pos as usize;
        let word = s.trim();
        self.cursor = if self.src.get(start..).is_some_and(|r| r.starts_with(word)) {
            start + word.len()
        } else {
            start
        };
    }

    /// Writes the token the source has at `span`, in canonical form.
    fn tok_span(&mut self, span: Span, s: &str) {
        self.flush_before(span.start);
        self.write(s);
        self.cursor = span.end as usize;
    }

    /// Writes keywords and punctuation that have no position in the tree:
    /// each word is looked for in the source right after the last token, so
    /// the comments written before it stay before it.
    fn kw(&mut self, s: &str) {
        if self.flat {
            self.write(s);
            return;
        }
        let mut rest = s;
        while !rest.is_empty() {
            let word_start = rest.len() - rest.trim_start().len();
            if word_start > 0 {
                self.write(&rest[..word_start]);
                rest = &rest[word_start..];
                continue;
            }
            let end = rest.find(' ').unwrap_or(rest.len());
            let word = &rest[..end];
            if let Some(at) = self.find_word(word) {
                self.flush_before(u32::try_from(at).unwrap_or(u32::MAX));
                self.cursor = at + word.len();
            }
            self.write(word);
            rest = &rest[end..];
        }
    }

    /// One member or field per line needs no commas, but a doc comment
    /// written before a comma documents nothing; without the comma it would
    /// document the next member. Such a comma is kept.
    fn separator_comma(&mut self) {
        if self.flat {
            return;
        }
        let Some(at) = self.find_word(",") else {
            return;
        };
        let doc_before = self.comments[self.next.min(self.comments.len())..]
            .iter()
            .take_while(|c| (c.span.start as usize) < at)
            .any(|c| c.doc);
        if doc_before {
            self.kw(",");
        }
    }

    /// Where `word` is in the source after the cursor, whitespace and
    /// comments skipped; `None` if something else comes first.
    fn find_word(&self, word: &str) -> Option<usize> {
        let bytes = self.src.as_bytes();
        let mut i = self.cursor;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    i = self.src[i..].find('\n').map_or(bytes.len(), |n| i + n);
                }
                b' ' | b'\t' | b'\r' | b'\n' => i += 1,
                _ if bytes[i..].starts_with(BOM) => i += BOM.len(),
                _ => break,
            }
        }
        let rest = self.src.get(i..)?.strip_prefix(word)?;
        let is_word = word.starts_with(|c: char| c.is_ascii_alphabetic());
        let boundary = rest
            .chars()
            .next()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        (!is_word || boundary).then_some(i)
    }

    fn sp(&mut self) {
        if self.pending == 0 && !self.out.is_empty() && !self.out.ends_with([' ', '\n']) {
            self.out.push(' ');
        }
    }

    fn newline(&mut self) {
        self.pending = self.pending.max(1);
        self.structural = true;
    }

    /// Starts a new line for a node starting at `pos`, keeping one blank
    /// line if the author left one.
    fn line(&mut self, pos: u32) {
        self.newline();
        self.flush_before(pos);
        self.newline();
        if !self.at_block_start && self.blank_before(pos) {
            self.pending = 2;
        }
    }

    /// Starts a new line for a node starting at `pos`, without a blank line.
    fn next_line(&mut self, pos: u32) {
        self.newline();
        self.flush_before(pos);
        self.newline();
    }

    fn open(&mut self, pos: Option<u32>) {
        match pos {
            Some(pos) => self.tok(pos, "{"),
            None => self.kw("{"),
        }
        self.indent += 1;
        self.newline();
        self.at_block_start = true;
    }

    /// Opens a block whose `{` is the first token after `from`.
    fn open_after(&mut self, from: u32) {
        let pos = self.brace_after(from);
        self.open(pos);
    }

    /// Where the `{` after `from` is, whitespace and comments skipped.
    fn brace_after(&self, from: u32) -> Option<u32> {
        let bytes = self.src.as_bytes();
        let mut i = from as usize;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'{' => return u32::try_from(i).ok(),
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    i = self.src[i..].find('\n').map_or(bytes.len(), |n| i + n);
                }
                b' ' | b'\t' | b'\r' | b'\n' => i += 1,
                _ if bytes[i..].starts_with(BOM) => i += BOM.len(),
                _ => return None,
            }
        }
        None
    }

    fn close(&mut self, pos: u32) {
        self.newline();
        self.flush_before(pos);
        self.indent = self.indent.saturating_sub(1);
        self.pending = 1;
        self.structural = true;
        self.write("}");
        if self.src.as_bytes().get(pos as usize) == Some(&b'}') {
            self.cursor = pos as usize + 1;
        }
    }

    fn flush_before(&mut self, pos: u32) {
        while let Some(c) = self.comments.get(self.next) {
            if c.span.start >= pos {
                break;
            }
            self.next += 1;
            self.comment(c.span, c.doc);
        }
    }

    /// Writes a comment: after code on the same line if it was written
    /// that way (doc comments always get a line of their own, above what
    /// they document), else on its own line.
    fn comment(&mut self, span: Span, doc: bool) {
        let text = self.src.get(span.range()).unwrap_or("").trim_end();
        let trailing = !doc
            && !self.out.is_empty()
            && !self.last_was_comment
            && self.code_before_on_line(span.start);
        if trailing {
            self.trim_line_end();
            self.out.push(' ');
            self.out.push_str(text);
            if self.pending == 0 {
                self.pending = 1;
                self.structural = false;
            }
        } else {
            let structural = self.out.is_empty() || (self.pending > 0 && self.structural);
            if self.pending == 0 {
                self.pending = 1;
                self.structural = false;
            }
            if structural && !self.at_block_start && self.blank_before(span.start) {
                self.pending = 2;
            }
            self.materialize();
            self.out.push_str(text);
            self.at_block_start = false;
            self.pending = 1;
            self.structural = structural;
        }
        self.last_was_comment = true;
    }

    fn line_start(&self, pos: usize) -> usize {
        self.src[..pos].rfind('\n').map_or(0, |i| i + 1)
    }

    fn code_before_on_line(&self, pos: u32) -> bool {
        let pos = (pos as usize).min(self.src.len());
        !is_blank(&self.src[self.line_start(pos)..pos])
    }

    /// Whether `pos` starts its line and the line above is blank.
    fn blank_before(&self, pos: u32) -> bool {
        let pos = pos as usize;
        if pos > self.src.len() || !self.src.is_char_boundary(pos) {
            return false;
        }
        let start = self.line_start(pos);
        if start == 0 || !is_blank(&self.src[start..pos]) {
            return false;
        }
        let prev_start = self.line_start(start - 1);
        is_blank(&self.src[prev_start..start - 1])
    }

    /// Whether a comment lies inside `span`. Node spans can run on over the
    /// whitespace and comments after their last token (the grammar's
    /// repetitions end there); those trailing comments do not count.
    fn has_comments(&self, span: Span) -> bool {
        let end = self.content_end(span);
        self.comments[self.next.min(self.comments.len())..]
            .iter()
            .any(|c| c.span.start >= span.start && c.span.start < end)
    }

    /// The end of the last token in `span`, trailing whitespace and comments
    /// skipped.
    fn content_end(&self, span: Span) -> u32 {
        let start = span.start as usize;
        let mut end = (span.end as usize).min(self.src.len());
        loop {
            let Some(text) = self.src.get(start..end) else {
                return span.end;
            };
            end = start
                + text
                    .trim_end_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
                    .len();
            let found = self
                .comments
                .binary_search_by_key(&end, |c| c.span.end as usize)
                .ok()
                .map(|i| &self.comments[i])
                .filter(|c| c.span.start as usize >= start);
            match found {
                Some(c) => end = c.span.start as usize,
                None => return u32::try_from(end).unwrap_or(span.end),
            }
        }
    }

    /// The width of `f`'s output on one line, `None` if it needs several.
    fn measure(&self, f: impl FnOnce(&mut Printer<'a>)) -> Option<usize> {
        let mut sub = Printer::new(self.src, &[], true);
        f(&mut sub);
        if sub.out.contains('\n') || sub.pending > 0 {
            None
        } else {
            Some(sub.out.chars().count())
        }
    }

    /// Whether the line `f` prints fits on one line at the current indent,
    /// with no comment inside `span`.
    fn try_inline(&self, span: Span, f: impl FnOnce(&mut Printer<'a>)) -> bool {
        if self.flat {
            return true;
        }
        if self.has_comments(span) {
            return false;
        }
        self.measure(f)
            .is_some_and(|w| self.indent * INDENT.len() + w <= MAX_WIDTH)
    }

    /// Whether the author wrote `span` over several lines, up to its last
    /// token (a span can run on over the line end after it).
    fn author_broke(&self, span: Span) -> bool {
        let end = self.content_end(span) as usize;
        self.src
            .get(span.start as usize..end)
            .is_some_and(|s| s.contains('\n'))
    }

    // ---------------------------------------------------------- file

    fn file(&mut self, file: &File) {
        for item in &file.items {
            self.line(item.span().start);
            self.item(item);
            self.pending = 2;
            self.structural = true;
        }
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Enum(d) => {
                let inline = self.try_inline(d.span, |p| p.enum_decl(d, true));
                self.enum_decl(d, inline);
            }
            Item::Profile(d) => {
                self.tok(d.keyword.start, "profile");
                self.sp();
                self.fields(&d.fields, d.span, d.keyword.end);
            }
            Item::Event(d) => {
                self.tok(d.span.start, "event");
                self.sp();
                self.ident(&d.name);
                self.sp();
                self.fields(&d.fields, d.span, d.name.span.end);
            }
            Item::Segment(d) => {
                let inline = self.try_inline(d.span, |p| p.segment(d, true));
                self.segment(d, inline);
            }
            Item::Template(d) => {
                self.tok(d.span.start, "template");
                self.sp();
                self.ident(&d.name);
                self.kw(":");
                self.sp();
                self.channel(&d.channel);
                if let Some(event) = &d.event {
                    self.sp();
                    self.kw("for");
                    self.sp();
                    self.ident(event);
                }
                self.sp();
                self.object(&d.fields, false);
            }
            Item::Workflow(d) => self.workflow(d),
            Item::Policy(d) => {
                self.tok(d.keyword.start, "policy");
                self.sp();
                if d.rules.is_empty() && !self.has_comments(d.span) {
                    self.kw("{}");
                    return;
                }
                self.open_after(d.keyword.end);
                for rule in &d.rules {
                    self.line(rule.span().start);
                    self.policy_rule(rule);
                }
                self.close(d.span.end.saturating_sub(1));
            }
            Item::Test(d) => {
                self.tok(d.span.start, "test");
                self.sp();
                self.string(&d.name);
                self.sp();
                if d.steps.is_empty() && !self.has_comments(d.span) {
                    self.kw("{}");
                    return;
                }
                self.open_after(d.name.span.end);
                for step in &d.steps {
                    self.line(step.span().start);
                    let inline = self.try_inline(step.span(), |p| p.test_step(step, true));
                    self.test_step(step, inline);
                }
                self.close(d.span.end.saturating_sub(1));
            }
        }
    }

    fn enum_decl(&mut self, d: &EnumDecl, inline: bool) {
        self.tok(d.span.start, "enum");
        self.sp();
        self.ident(&d.name);
        self.sp();
        if d.members.is_empty() && !self.has_comments(d.span) {
            self.kw("{}");
        } else if inline {
            self.kw("{ ");
            for (i, m) in d.members.iter().enumerate() {
                if i > 0 {
                    self.kw(", ");
                }
                self.ident(&m.name);
            }
            self.kw(" }");
        } else {
            self.open_after(d.name.span.end);
            for m in &d.members {
                self.line(m.name.span.start);
                self.ident(&m.name);
                self.separator_comma();
            }
            self.close(d.span.end.saturating_sub(1));
        }
    }

    /// Schema fields; the `{` is the first token after `from`.
    fn fields(&mut self, fields: &[FieldDecl], span: Span, from: u32) {
        if fields.is_empty() && !self.has_comments(span) {
            self.kw("{}");
            return;
        }
        self.open_after(from);
        for f in fields {
            self.line(f.span.start);
            self.field_decl(f);
            self.separator_comma();
        }
        self.close(span.end.saturating_sub(1));
    }

    fn field_decl(&mut self, f: &FieldDecl) {
        self.ident(&f.name);
        self.kw(":");
        self.sp();
        self.type_expr(&f.ty);
        if let Some(default) = &f.default {
            self.sp();
            self.kw("=");
            self.sp();
            self.expr(default);
        }
    }

    fn type_expr(&mut self, t: &TypeExpr) {
        match &t.kind {
            TypeExprKind::Named(name) => self.ident(name),
            TypeExprKind::List(inner) => {
                self.tok(t.span.start, "[");
                self.type_expr(inner);
                self.kw("]");
            }
            TypeExprKind::Optional(inner) => {
                self.type_expr(inner);
                self.kw("?");
            }
        }
    }

    fn segment(&mut self, d: &SegmentDecl, inline: bool) {
        self.tok(d.span.start, "segment");
        self.sp();
        self.ident(&d.name);
        self.sp();
        self.kw("=");
        self.sp();
        let broken = !self.flat && (!inline || self.author_broke(d.condition.span));
        self.condition(&d.condition, broken, 1);
    }

    /// An expression that may break before each `and`/`or` of its top-level
    /// chain.
    fn condition(&mut self, e: &Expr, broken: bool, levels: usize) {
        let Some((op, first, rest)) = chain(e).filter(|_| broken) else {
            self.expr(e);
            return;
        };
        self.expr(first);
        self.indent += levels;
        for (op_span, operand) in rest {
            self.next_line(op_span.start);
            self.tok(op_span.start, op.as_str());
            self.sp();
            self.expr(operand);
        }
        self.indent -= levels;
    }

    fn channel(&mut self, c: &ChannelRef) {
        self.tok(c.span.start, c.channel.as_str());
    }

    fn object(&mut self, o: &Object, inline: bool) {
        if o.fields.is_empty() && !self.has_comments(o.span) {
            self.tok_span(o.span, "{}");
        } else if inline {
            self.tok(o.span.start, "{ ");
            for (i, f) in o.fields.iter().enumerate() {
                if i > 0 {
                    self.kw(", ");
                }
                self.field_init(f, true);
            }
            self.kw(" }");
        } else {
            self.open(Some(o.span.start));
            for f in &o.fields {
                self.line(f.span.start);
                let inline = self.try_inline(f.span, |p| p.field_init(f, true));
                self.field_init(f, inline);
            }
            self.close(o.span.end.saturating_sub(1));
        }
    }

    fn field_init(&mut self, f: &FieldInit, inline: bool) {
        self.ident(&f.name);
        self.kw(":");
        self.sp();
        match &f.value {
            Value::Expr(e) => self.expr(e),
            Value::File(s) => {
                self.kw("file(");
                self.string(s);
                self.kw(")");
            }
            Value::Object(o) => self.object(o, inline),
        }
    }

    // ---------------------------------------------------------- workflows

    fn workflow(&mut self, d: &WorkflowDecl) {
        self.tok(d.span.start, "workflow");
        self.sp();
        self.ident(&d.name);
        self.sp();
        if d.clauses.is_empty() && d.body.is_empty() && !self.has_comments(d.span) {
            self.kw("{}");
            return;
        }
        self.open_after(d.name.span.end);
        for c in &d.clauses {
            self.line(c.span().start);
            self.clause(c);
        }
        self.stmts(&d.body);
        self.close(d.span.end.saturating_sub(1));
    }

    fn clause(&mut self, c: &Clause) {
        match c {
            Clause::On { triggers, span } => {
                self.tok(span.start, "on");
                for (i, t) in triggers.iter().enumerate() {
                    if i > 0 {
                        self.kw(",");
                    }
                    self.sp();
                    match t {
                        Trigger::Event(m) => self.event_match(m),
                        Trigger::Inactive { duration, span } => {
                            self.tok(span.start, "inactive");
                            self.kw(" for ");
                            self.duration(duration);
                        }
                        Trigger::Date(d) => self.date_trigger(d),
                    }
                }
            }
            Clause::Audience { condition, span } => {
                let inline = self.try_inline(*span, |p| {
                    p.write("audience ");
                    p.expr(condition);
                });
                self.tok(span.start, "audience");
                self.sp();
                let broken = !self.flat && (!inline || self.author_broke(condition.span));
                self.condition(condition, broken, 1);
            }
            Clause::ExitOn { events, span } => {
                self.tok(span.start, "exit");
                self.kw(" on");
                for (i, m) in events.iter().enumerate() {
                    if i > 0 {
                        self.kw(",");
                    }
                    self.sp();
                    self.event_match(m);
                }
            }
            Clause::Entry { rule, span } => {
                self.tok(span.start, "entry");
                match rule {
                    EntryRule::Once => self.kw(" once"),
                    EntryRule::OncePer(d) => {
                        self.kw(" once per ");
                        self.duration(d);
                    }
                    EntryRule::Restart => self.kw(" restart"),
                }
            }
            Clause::Goal(g) => {
                self.tok(g.span.start, "goal");
                self.sp();
                self.ident(&g.name);
                self.kw(" = ");
                self.event_match(&g.event);
                self.kw(" within ");
                self.duration(&g.within);
            }
            Clause::Priority {
                level,
                level_span,
                span,
            } => {
                self.tok(span.start, "priority");
                self.sp();
                self.tok(
                    level_span.start,
                    match level {
                        Priority::Transactional => "transactional",
                        Priority::Marketing => "marketing",
                    },
                );
            }
        }
    }

    fn event_match(&mut self, m: &EventMatch) {
        self.ident(&m.event);
        if let Some(filter) = &m.filter {
            self.sp();
            self.kw("where");
            self.sp();
            self.expr(filter);
        }
    }

    fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            self.line(s.span().start);
            self.stmt(s);
        }
    }

    /// A statement; lays out its objects on one line if the statement fits.
    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Send(send) => {
                let inline = self.try_inline(send.span, |p| p.send(send, true));
                self.send(send, inline);
            }
            Stmt::Wait { duration, span } => {
                self.tok(span.start, "wait");
                self.sp();
                self.duration(duration);
            }
            Stmt::WaitUntilTime { at, clock, span } => {
                self.tok(span.start, "wait");
                self.kw(" until ");
                self.expr(at);
                self.clock(clock.as_ref());
            }
            Stmt::WaitUntil(w) => {
                self.tok(w.span.start, "wait");
                self.kw(" until ");
                self.time_of_day(&w.time);
                if let Some(zone) = &w.zone {
                    self.sp();
                    self.zone(zone);
                }
                match &w.day {
                    Some(DaySpec::Day { number, span }) => {
                        self.kw(" on ");
                        self.tok_span(*span, &format!("day {number}"));
                    }
                    Some(DaySpec::Weekday { weekday, span }) => {
                        self.kw(" on ");
                        self.tok(span.start, weekday::name(*weekday));
                    }
                    None => {}
                }
            }
            Stmt::WaitFor(w) => {
                self.tok(w.span.start, "wait");
                self.kw(" for ");
                self.event_match(&w.event);
                self.kw(" within ");
                self.duration(&w.within);
                self.indent += 1;
                if let Some(b) = &w.then_block {
                    self.next_line(b.span.start);
                    self.branch("then", b);
                }
                if let Some(b) = &w.else_block {
                    self.next_line(b.span.start);
                    self.branch("else", b);
                }
                self.indent -= 1;
            }
            Stmt::If(i) => {
                for (n, branch) in i.branches.iter().enumerate() {
                    if n == 0 {
                        self.tok(i.span.start, "if");
                    } else {
                        self.kw(" else if");
                    }
                    let c = &branch.condition;
                    let inline = self.try_inline(c.span, |p| {
                        p.write("} else if ");
                        p.expr(c);
                        p.write(" {");
                    });
                    self.sp();
                    let broken = !inline || self.author_broke(c.span);
                    // Indented twice, so the condition does not line up with the block.
                    self.condition(c, broken && !self.flat, 2);
                    self.sp();
                    self.block(&branch.block, false);
                }
                if let Some(b) = &i.else_block {
                    self.kw(" else ");
                    self.block(b, false);
                }
            }
            Stmt::Split(split) => {
                self.tok(split.span.start, "split");
                self.sp();
                self.ident(&split.name);
                self.sp();
                if split.arms.is_empty() && !self.has_comments(split.span) {
                    self.kw("{}");
                    return;
                }
                self.open_after(split.name.span.end);
                for arm in &split.arms {
                    self.line(arm.span.start);
                    let inline = self.try_inline(arm.span, |p| p.split_arm(arm, true));
                    self.split_arm(arm, inline);
                }
                self.close(split.span.end.saturating_sub(1));
            }
            Stmt::Escalate(e) => {
                self.tok(e.span.start, "escalate");
                self.kw(" until ");
                self.event_match(&e.until);
                self.sp();
                if e.steps.is_empty() && !self.has_comments(e.span) {
                    self.kw("{}");
                    return;
                }
                self.open_after(e.until.span.end);
                for step in &e.steps {
                    self.line(step.span.start);
                    let inline = self.try_inline(step.span, |p| p.escalate_step(step, true));
                    self.escalate_step(step, inline);
                }
                self.close(e.span.end.saturating_sub(1));
            }
            Stmt::Exit { span } => self.tok(span.start, "exit"),
        }
    }

    fn send(&mut self, s: &SendStmt, inline: bool) {
        self.tok(s.span.start, "send");
        self.sp();
        self.message(&s.message, inline);
    }

    fn message(&mut self, m: &Message, inline: bool) {
        self.channel(&m.channel);
        if let Some(t) = &m.template {
            self.sp();
            self.ident(t);
        }
        match &m.content {
            Some(Content::Fields(o)) => {
                self.sp();
                self.object(o, inline);
            }
            Some(Content::Text(s)) => {
                self.sp();
                self.string(s);
            }
            None => {}
        }
    }

    /// `then { … }` / `else { … }` of a `wait for`.
    fn branch(&mut self, keyword: &str, b: &Block) {
        let inline = self.try_inline(b.span, |p| {
            p.write(keyword);
            p.write(" ");
            p.block(b, true);
        });
        self.kw(keyword);
        self.sp();
        self.block(b, inline);
    }

    /// A block: `{}`, `{ statement }` when `inline` allows and it holds one
    /// statement, else one statement per line.
    fn block(&mut self, b: &Block, inline: bool) {
        if b.stmts.is_empty() && !self.has_comments(b.span) {
            self.tok_span(b.span, "{}");
        } else if inline && b.stmts.len() == 1 {
            self.tok(b.span.start, "{ ");
            self.stmt(&b.stmts[0]);
            self.kw(" }");
        } else {
            self.open(Some(b.span.start));
            self.stmts(&b.stmts);
            self.close(b.span.end.saturating_sub(1));
        }
    }

    fn split_arm(&mut self, arm: &SplitArm, inline: bool) {
        if let Some(name) = &arm.name {
            self.ident(name);
            self.sp();
        }
        self.tok_span(arm.percent.span, &percent::format(arm.percent.basis_points));
        self.kw(":");
        self.sp();
        if arm.braced {
            self.block(&arm.body, inline);
        } else {
            for s in &arm.body.stmts {
                self.stmt(s);
            }
        }
    }

    fn escalate_step(&mut self, step: &EscalateStep, inline: bool) {
        if let Some(after) = &step.after {
            self.tok(step.span.start, "after");
            self.sp();
            self.duration(after);
            self.sp();
        }
        self.message(&step.message, inline);
        if let Some(guard) = &step.guard {
            self.sp();
            self.kw("if");
            self.sp();
            self.expr(guard);
        }
    }

    fn date_trigger(&mut self, d: &DateTrigger) {
        let mut first = true;
        if let Some((duration, side)) = &d.offset {
            self.duration(duration);
            self.kw(match side {
                DateSide::Before => " before",
                DateSide::After => " after",
            });
            first = false;
        }
        if d.anniversary {
            if first {
                self.tok(d.span.start, "anniversary");
            } else {
                self.kw(" anniversary");
            }
            self.kw(" of");
            first = false;
        }
        if first {
            self.tok(d.span.start, "profile");
        } else {
            self.kw(" profile");
        }
        self.kw(".");
        self.tok_span(d.field.span, &d.field.name);
        self.clock(d.at.as_ref());
    }

    /// ` at HH:MM [zone]`, when there is one.
    fn clock(&mut self, clock: Option<&(TimeOfDayLit, Option<Zone>)>) {
        if let Some((time, zone)) = clock {
            self.kw(" at ");
            self.time_of_day(time);
            if let Some(zone) = zone {
                self.sp();
                self.zone(zone);
            }
        }
    }

    fn zone(&mut self, zone: &Zone) {
        match zone {
            Zone::Local(span) => self.tok(span.start, "local"),
            Zone::Named(s) => {
                self.kw("in");
                self.sp();
                self.string(s);
            }
        }
    }

    // ---------------------------------------------------------- policy

    fn policy_rule(&mut self, rule: &PolicyRule) {
        match rule {
            PolicyRule::Cap {
                count,
                per,
                channels,
                span,
            } => {
                self.tok(span.start, "cap");
                self.sp();
                self.tok_span(count.span, &count.value.to_string());
                self.kw(" per ");
                self.duration(per);
                self.channel_list(channels);
            }
            PolicyRule::QuietHours {
                from,
                to,
                zone,
                channels,
                span,
            } => {
                self.tok(span.start, "quiet");
                self.kw(" hours ");
                self.time_of_day(from);
                self.kw(" to ");
                self.time_of_day(to);
                if let Some(zone) = zone {
                    self.sp();
                    self.zone(zone);
                }
                self.channel_list(channels);
            }
        }
    }

    fn channel_list(&mut self, channels: &[ChannelRef]) {
        for (i, c) in channels.iter().enumerate() {
            self.kw(if i == 0 { " for" } else { "," });
            self.sp();
            self.channel(c);
        }
    }

    // ---------------------------------------------------------- tests

    fn test_step(&mut self, step: &TestStep, inline: bool) {
        match step {
            TestStep::GivenProfile {
                id,
                attributes,
                span,
            } => {
                self.tok(span.start, "given");
                self.kw(" profile ");
                self.string(id);
                self.sp();
                self.object(attributes, inline);
            }
            TestStep::GivenEvent {
                id,
                event,
                properties,
                at,
                span,
            } => {
                self.tok(span.start, "given");
                self.sp();
                self.string(id);
                self.kw(" did ");
                self.ident(event);
                if let Some(o) = properties {
                    self.sp();
                    self.object(o, inline);
                }
                self.kw(" at ");
                self.time_ref(at);
            }
            TestStep::GivenArm { id, arm, span } => {
                self.tok(span.start, "given");
                self.sp();
                self.string(id);
                self.kw(" in ");
                self.arm_ref(arm);
            }
            TestStep::At {
                at,
                id,
                action,
                span,
            } => {
                self.tok(span.start, "at");
                self.sp();
                self.time_ref(at);
                self.sp();
                self.string(id);
                self.sp();
                match action {
                    TestAction::Does { event, properties } => {
                        self.kw("does");
                        self.sp();
                        self.ident(event);
                        if let Some(o) = properties {
                            self.sp();
                            self.object(o, inline);
                        }
                    }
                    TestAction::Identify { traits } => {
                        self.kw("identify");
                        self.sp();
                        self.object(traits, inline);
                    }
                }
            }
            TestStep::Expect(e) => {
                self.tok(e.span.start, "expect");
                self.sp();
                self.expectation(&e.kind);
            }
        }
    }

    fn arm_ref(&mut self, arm: &ArmRef) {
        self.kw("arm ");
        self.ident(&arm.arm);
        self.kw(" of split ");
        if let Some(w) = &arm.workflow {
            self.ident(w);
            self.kw(".");
        }
        self.ident(&arm.split);
    }

    fn expectation(&mut self, kind: &ExpectKind) {
        match kind {
            ExpectKind::Arm { id, arm } => {
                self.string(id);
                self.kw(" took ");
                self.arm_ref(arm);
            }
            ExpectKind::Messages {
                count,
                channel,
                template,
                to,
                time,
                with,
            } => {
                match count {
                    ExpectCount::AtLeastOne => {}
                    ExpectCount::None => self.kw("no "),
                    ExpectCount::Exactly(n) => self.kw(&format!("{n} ")),
                }
                match channel {
                    Some(c) => {
                        self.channel(c);
                        if let Some(t) = template {
                            self.sp();
                            self.ident(t);
                        }
                    }
                    None => self.kw(match count {
                        ExpectCount::Exactly(n) if *n != 1 => "messages",
                        _ => "message",
                    }),
                }
                if let Some(to) = to {
                    self.kw(" to ");
                    self.string(to);
                }
                match time {
                    Some(ExpectTime::At(t)) => {
                        self.kw(" at ");
                        self.time_ref(t);
                    }
                    Some(ExpectTime::Between(a, b)) => {
                        self.kw(" between ");
                        self.time_ref(a);
                        self.kw(" and ");
                        self.time_ref(b);
                    }
                    Some(ExpectTime::Within(d)) => {
                        self.kw(" within ");
                        self.duration(d);
                    }
                    None => {}
                }
                for (field, text) in with {
                    self.kw(" with ");
                    self.ident(field);
                    self.sp();
                    self.string(text);
                }
            }
            ExpectKind::Journey { id, state, target } => {
                self.string(id);
                self.kw(match state {
                    JourneyState::Entered => " entered ",
                    JourneyState::NotEntered => " did not enter ",
                    JourneyState::Exited => " exited ",
                    JourneyState::Completed => " completed ",
                    JourneyState::Active => " is in ",
                    JourneyState::ReachedGoal => " reached goal ",
                });
                self.ident(target);
            }
        }
    }

    fn time_ref(&mut self, t: &TimeRef) {
        match t {
            TimeRef::Absolute(ts) => self.timestamp(ts),
            TimeRef::Offset { seconds, span } => {
                // The written offset is the authority: read it again so the
                // text keeps its value whatever the tree holds.
                let written = self.src.get(span.range()).unwrap_or("");
                let body = written.get(1..).unwrap_or("");
                let seconds = match duration::parse(body) {
                    Ok(s) if written.starts_with('-') => -s,
                    Ok(s) => s,
                    Err(_) => *seconds,
                };
                let sign = if seconds < 0 { "-" } else { "+" };
                let text = format!("{sign}{}", duration_text(body, seconds.abs()));
                self.tok_span(*span, &text);
            }
        }
    }

    // ---------------------------------------------------------- expressions

    fn ident(&mut self, id: &Ident) {
        self.tok(id.span.start, &id.name);
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Literal(l) => self.literal(l, e.span),
            ExprKind::Path(path) => self.path(path, e.span),
            ExprKind::List(items) => {
                self.tok(e.span.start, "[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.kw(", ");
                    }
                    self.expr(item);
                }
                self.kw("]");
            }
            ExprKind::Paren(inner) => {
                self.tok(e.span.start, "(");
                self.expr(inner);
                self.kw(")");
            }
            ExprKind::Not(inner) => {
                self.tok(e.span.start, "not");
                self.sp();
                self.expr(inner);
            }
            ExprKind::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => {
                self.expr(lhs);
                self.sp();
                self.tok(op_span.start, op.as_str());
                self.sp();
                self.expr(rhs);
            }
            ExprKind::IsNone { operand, negated } => {
                self.expr(operand);
                self.kw(if *negated { " is not none" } else { " is none" });
            }
            ExprKind::Did(did) => {
                self.tok(e.span.start, "did");
                self.sp();
                self.event_match(&did.event);
                if let Some(count) = &did.count {
                    self.sp();
                    self.tok(count.span.start, "times");
                    self.sp();
                    self.kw(count.op.as_str());
                    self.sp();
                    self.tok_span(count.count.span, &count.count.value.to_string());
                }
                match &did.window {
                    Some(DidWindow::Within(d)) => {
                        self.kw(" within ");
                        self.duration(d);
                    }
                    Some(DidWindow::SinceEntry(span)) => {
                        self.sp();
                        self.tok_span(*span, "since entry");
                    }
                    None => {}
                }
            }
            ExprKind::Inactive(d) => {
                self.tok(e.span.start, "inactive");
                self.kw(" for ");
                self.duration(d);
            }
            ExprKind::InSegment(id) => {
                self.tok(e.span.start, "in");
                self.sp();
                self.ident(id);
            }
            ExprKind::Ago(d) => {
                self.duration(d);
                self.kw(" ago");
            }
            // Files with parse errors are never formatted.
            ExprKind::Error => {}
        }
    }

    fn path(&mut self, path: &Path, span: Span) {
        let first = path.segments.first().map_or(span, |s| s.span);
        let last = path.segments.last().map_or(span, |s| s.span);
        self.tok_span(first.to(last), &path.dotted());
    }

    fn literal(&mut self, l: &Literal, span: Span) {
        match l {
            Literal::None => self.tok(span.start, "none"),
            Literal::Bool(b) => self.tok(span.start, if *b { "true" } else { "false" }),
            Literal::Int(n) => self.tok_span(span, &n.to_string()),
            Literal::Float(f) => self.tok_span(span, &float_text(*f)),
            Literal::String(s) => self.string(s),
            Literal::Duration(d) => self.duration(d),
            Literal::TimeOfDay(t) => self.time_of_day(t),
            Literal::Timestamp(t) => self.timestamp(t),
        }
    }

    fn duration(&mut self, d: &DurationLit) {
        let written = self.src.get(d.span.range()).unwrap_or("");
        self.tok_span(d.span, &duration_text(written, d.seconds));
    }

    fn time_of_day(&mut self, t: &TimeOfDayLit) {
        self.tok_span(t.span, &time_of_day::format(t.minutes));
    }

    fn timestamp(&mut self, t: &TimestampLit) {
        use chrono::{Datelike, Timelike};
        let written = self.src.get(t.span.range()).unwrap_or("");
        let v = t.value;
        if !(0..=9999).contains(&v.year()) {
            // Only an offset can move a four-digit year out of range; keep
            // the instant as written.
            self.tok_span(t.span, written);
            return;
        }
        let written_digits = written.split_once('.').map_or(0, |(_, rest)| {
            rest.chars().take_while(char::is_ascii_digit).count()
        });
        let nanos = v.nanosecond() % 1_000_000_000;
        let mut needed = 9;
        let mut n = nanos;
        while needed > 0 && n % 10 == 0 {
            n /= 10;
            needed -= 1;
        }
        let digits = written_digits.clamp(needed, 9);
        let mut text = v.format("%Y-%m-%dT%H:%M:%S").to_string();
        if digits > 0 {
            let scaled = nanos / 10u32.pow(9 - digits as u32);
            text.push_str(&format!(".{scaled:0digits$}"));
        }
        text.push('Z');
        self.tok_span(t.span, &text);
    }

    fn string(&mut self, s: &StringLit) {
        let mut text = String::from("\"");
        for part in &s.parts {
            match part {
                StringPart::Text(t) => text.push_str(&escape::escape(t)),
                StringPart::Interp(i) => {
                    text.push('{');
                    text.push_str(&i.path.dotted());
                    if let Some(default) = &i.default {
                        let mut sub = Printer::new(self.src, &[], true);
                        sub.expr(default);
                        text.push_str(" ?? ");
                        text.push_str(&sub.out);
                    }
                    if let Some((format, _)) = &i.format {
                        text.push(':');
                        text.push_str(format);
                    }
                    text.push('}');
                }
            }
        }
        text.push('"');
        self.tok_span(s.span, &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(text: &str) -> String {
        match format_source(Arc::new(SourceFile::new("t.flow", text))) {
            Ok(s) => s,
            Err(d) => panic!("{}", crate::render_plain(&d, 80)),
        }
    }

    #[test]
    fn durations_keep_their_units() {
        assert_eq!(duration_text("48h", 172_800), "48h");
        assert_eq!(duration_text("30d", 2_592_000), "30d");
        assert_eq!(duration_text("1d0h05m", 86_700), "1d5m");
        assert_eq!(duration_text("0h", 0), "0s");
        assert_eq!(duration_text("", 90), "1m30s");
    }

    #[test]
    fn strips_spans() {
        assert_eq!(
            strip_spans("Ident { name: \"a\", span: Span { start: 1, end: 2 } }"),
            "Ident { name: \"a\", span: Span }"
        );
        assert_eq!(
            strip_spans("span: Span {\n    start: 1,\n    end: 22,\n},\n"),
            "span: Span,\n"
        );
        // Text that only looks like a span is kept.
        assert_eq!(
            strip_spans("Text(\"Span {a}\"), Text(\"Span {b}\")"),
            "Text(\"Span {a}\"), Text(\"Span {b}\")"
        );
    }

    #[test]
    fn same_tree_ignores_positions_only() {
        let tree = |text: &str| parse(Arc::new(SourceFile::new("t.flow", text))).file;
        let a = tree("segment s = profile.n == 1");
        assert!(same_tree(
            &a,
            &tree("\n\nsegment   s =\n profile.n==1 // c")
        ));
        assert!(!same_tree(&a, &tree("segment s = profile.n == 2")));
        assert!(!same_tree(&a, &tree("segment s = (profile.n == 1)")));
        assert!(!same_tree(&a, &tree("segment t = profile.n == 1")));
    }

    #[test]
    fn short_enum_stays_on_one_line() {
        assert_eq!(
            fmt("enum Plan {\n starter,\n pro\n}"),
            "enum Plan { starter, pro }\n"
        );
    }

    #[test]
    fn trailing_and_own_line_comments() {
        let src =
            "workflow w { // head\n  on a\n\n\n  // before wait\n  wait 1h   // after wait\n}\n";
        assert_eq!(
            fmt(src),
            "workflow w { // head\n  on a\n\n  // before wait\n  wait 1h // after wait\n}\n"
        );
    }

    #[test]
    fn timestamps_become_utc_with_their_precision() {
        let out = fmt("segment s = profile.t < 2026-03-01T10:00:00.250+02:00");
        assert_eq!(out, "segment s = profile.t < 2026-03-01T08:00:00.250Z\n");
    }
}
