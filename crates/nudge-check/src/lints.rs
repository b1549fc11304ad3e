//! Warnings about flows that run but probably do not do what was meant:
//! unused declarations and conditions that can never hold. (The lints that
//! follow the paths of a workflow live in `workflow.rs`.)

use std::collections::HashMap;

use nudge_syntax::ast::{self, BinaryOp, ExprKind as A, Literal};
use nudge_syntax::Diagnostic;

use crate::checker::{Checker, Cx, Key};
use crate::ir::FileId;
use crate::messages;

fn conjuncts<'e>(e: &'e ast::Expr, out: &mut Vec<&'e ast::Expr>) {
    match &e.kind {
        A::Paren(inner) => conjuncts(inner, out),
        A::Binary {
            op: BinaryOp::And,
            lhs,
            rhs,
            ..
        } => {
            conjuncts(lhs, out);
            conjuncts(rhs, out);
        }
        _ => out.push(e),
    }
}

fn number(e: &ast::Expr) -> Option<f64> {
    match &e.kind {
        A::Paren(inner) => number(inner),
        A::Literal(Literal::Int(i)) => Some(*i as f64),
        A::Literal(Literal::Float(f)) => Some(*f),
        _ => None,
    }
}

fn member(e: &ast::Expr) -> Option<&str> {
    match &e.kind {
        A::Paren(inner) => member(inner),
        A::Path(p) if p.segments.len() == 1 => Some(p.segments[0].name.as_str()),
        _ => None,
    }
}

fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Le => BinaryOp::Ge,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Ge => BinaryOp::Le,
        other => other,
    }
}

/// Bounds known for one numeric path: (value, inclusive).
#[derive(Default)]
struct Range {
    lo: Option<(f64, bool)>,
    hi: Option<(f64, bool)>,
}

impl Range {
    fn add(&mut self, op: BinaryOp, v: f64) {
        let lo = |r: &mut Range, b: (f64, bool)| {
            if r.lo
                .is_none_or(|(x, inc)| b.0 > x || (b.0 == x && inc && !b.1))
            {
                r.lo = Some(b);
            }
        };
        let hi = |r: &mut Range, b: (f64, bool)| {
            if r.hi
                .is_none_or(|(x, inc)| b.0 < x || (b.0 == x && inc && !b.1))
            {
                r.hi = Some(b);
            }
        };
        match op {
            BinaryOp::Gt => lo(self, (v, false)),
            BinaryOp::Ge => lo(self, (v, true)),
            BinaryOp::Lt => hi(self, (v, false)),
            BinaryOp::Le => hi(self, (v, true)),
            BinaryOp::Eq => {
                lo(self, (v, true));
                hi(self, (v, true));
            }
            _ => {}
        }
    }

    fn empty(&self) -> bool {
        match (self.lo, self.hi) {
            (Some((lo, li)), Some((hi, hi_inc))) => lo > hi || (lo == hi && !(li && hi_inc)),
            _ => false,
        }
    }
}

impl Checker<'_> {
    /// Warns about a condition that can never hold: `x > 5 and x < 3`,
    /// `x == pro and x == starter`, `x in []`.
    pub(crate) fn lint_condition(&mut self, cx: &Cx, e: &ast::Expr) {
        let mut parts = Vec::new();
        conjuncts(e, &mut parts);
        let mut ranges: HashMap<Key, Range> = HashMap::new();
        let mut allowed: HashMap<Key, Vec<String>> = HashMap::new();
        let mut excluded: HashMap<Key, Vec<String>> = HashMap::new();
        let mut found: Option<Diagnostic> = None;
        // What the enclosing conditions already say about enum values.
        for fact in &cx.facts {
            if let Some((key, members)) = fact.strip_prefix('=').and_then(|f| f.rsplit_once('=')) {
                let names: Vec<String> = members.split(',').map(str::to_owned).collect();
                let set = allowed
                    .entry(key.to_owned())
                    .or_insert_with(|| names.clone());
                set.retain(|n| names.contains(n));
            } else if let Some((key, member)) =
                fact.strip_prefix('!').and_then(|f| f.rsplit_once('='))
            {
                excluded
                    .entry(key.to_owned())
                    .or_default()
                    .push(member.to_owned());
            }
        }
        for part in parts {
            let A::Binary { op, lhs, rhs, .. } = &part.kind else {
                continue;
            };
            let key_of = |x: &ast::Expr| match &x.kind {
                A::Path(p) => self.path_key(cx, p),
                A::Paren(inner) => match &inner.kind {
                    A::Path(p) => self.path_key(cx, p),
                    _ => None,
                },
                _ => None,
            };
            let (key, op, other) = match (key_of(lhs), key_of(rhs)) {
                (Some(k), _) => (k, *op, &**rhs),
                (None, Some(k)) => (k, flip(*op), &**lhs),
                _ => continue,
            };
            let before: Vec<String> = {
                let ex = excluded.get(&key).cloned().unwrap_or_default();
                allowed
                    .get(&key)
                    .map(|set| set.iter().filter(|n| !ex.contains(n)).cloned().collect())
                    .unwrap_or_default()
            };
            let shown = key.split_once('@').map_or(key.clone(), |(a, b)| {
                format!("{a}{}", &b[b.find('.').unwrap_or(0)..])
            });
            if op == BinaryOp::In {
                if let A::List(items) = &other.kind {
                    if items.is_empty() {
                        found = Some(messages::impossible_empty_list(e.span, &shown));
                        break;
                    }
                    let names: Option<Vec<String>> =
                        items.iter().map(|i| member(i).map(str::to_owned)).collect();
                    if let Some(names) = names {
                        let set = allowed.entry(key.clone()).or_insert_with(|| names.clone());
                        set.retain(|n| names.contains(n));
                    }
                }
            } else if let Some(v) = number(other) {
                let r = ranges.entry(key.clone()).or_default();
                r.add(op, v);
                if r.empty() {
                    found = Some(messages::impossible_bounds(e.span, &shown));
                    break;
                }
            } else if let Some(m) = member(other) {
                match op {
                    BinaryOp::Eq => {
                        let set = allowed
                            .entry(key.clone())
                            .or_insert_with(|| vec![m.to_owned()]);
                        set.retain(|n| n == m);
                    }
                    BinaryOp::Ne => excluded.entry(key.clone()).or_default().push(m.to_owned()),
                    _ => {}
                }
            }
            if let Some(set) = allowed.get(&key) {
                let ex = excluded.get(&key).cloned().unwrap_or_default();
                if set.iter().all(|n| ex.contains(n)) {
                    let ruled_out = member(other).filter(|m| ex.iter().any(|x| x == m));
                    found = Some(if let Some(m) = ruled_out {
                        messages::impossible_ruled_out(e.span, &shown, m)
                    } else if before.is_empty() {
                        messages::impossible_members(e.span, &shown)
                    } else {
                        let before: Vec<&str> = before.iter().map(String::as_str).collect();
                        messages::impossible_member(e.span, &shown, &before)
                    });
                    break;
                }
            }
        }
        if let Some(d) = found {
            self.emit(cx.file, d);
        }
    }

    /// Warns about declarations that nothing uses.
    pub(crate) fn lint_unused(&mut self) {
        let mut unused: Vec<(FileId, Diagnostic)> = Vec::new();
        for (i, e) in self.enums.iter().enumerate() {
            if !self.used_enums[i] {
                unused.push((e.loc.file, messages::unused_enum(e.loc.span, &e.name)));
            }
        }
        for (i, e) in self.events.iter().enumerate() {
            if !self.used_events[i] {
                unused.push((e.loc.file, messages::unused_event(e.loc.span, &e.name)));
            }
        }
        for (i, s) in self.segments.iter().enumerate() {
            if !self.used_segments[i] {
                let d = messages::unused_segment(s.decl.name.span, &s.decl.name.name);
                unused.push((s.file, d));
            }
        }
        for (i, t) in self.templates.iter().enumerate() {
            if !self.used_templates[i] {
                let d = messages::unused_template(t.decl.name.span, &t.decl.name.name);
                unused.push((t.file, d));
            }
        }
        for (file, d) in unused {
            self.emit(file, d);
        }
    }
}
