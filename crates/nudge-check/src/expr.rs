//! Types for expressions, paths and enum members; narrowing of optionals;
//! segments.

use nudge_syntax::ast::{
    self, BinaryOp, DidWindow as AstWindow, ExprKind as A, Literal, StringLit, StringPart,
};
use nudge_syntax::Span;

use crate::checker::{Checker, Cx, EventScope, Key, SegState};
use crate::ir::{
    self, Const, DidWindow, EventId, ExprKind as K, FieldId, SegmentDef, SegmentId, TextPart,
};
use crate::messages::NoEvent;
use crate::messages::{self, ConditionSite, DurationSite};
use crate::references::Target;
use crate::suggest;
use crate::types::Type;

fn typed(kind: K, ty: Type, span: Span) -> ir::Expr {
    ir::Expr { kind, ty, span }
}

fn error(span: Span) -> ir::Expr {
    typed(K::Const(Const::None), Type::Error, span)
}

fn strip_parens(e: &ast::Expr) -> &ast::Expr {
    match &e.kind {
        A::Paren(inner) => strip_parens(inner),
        _ => e,
    }
}

fn is_none_lit(e: &ast::Expr) -> bool {
    matches!(strip_parens(e).kind, A::Literal(Literal::None))
}

fn is_value_lit(e: &ast::Expr) -> bool {
    match &strip_parens(e).kind {
        A::Literal(Literal::None) => false,
        A::Literal(_) => true,
        A::Path(p) => p.segments.len() == 1,
        _ => false,
    }
}

impl Checker<'_> {
    /// The narrowing key of a path in `cx`.
    pub(crate) fn path_key(&self, cx: &Cx, p: &ast::Path) -> Option<Key> {
        if p.segments.len() != 2 {
            return None;
        }
        let root = &p.segments[0].name;
        let field = &p.segments[1].name;
        match root.as_str() {
            "profile" => Some(format!("profile.{field}")),
            "event" => Some(format!("event@{}.{field}", cx.tag)),
            other if self.event_names.contains_key(other) => Some(format!("recv.{other}.{field}")),
            _ => None,
        }
    }

    fn expr_key(&self, cx: &Cx, e: &ast::Expr) -> Option<Key> {
        match &strip_parens(e).kind {
            A::Path(p) => self.path_key(cx, p),
            _ => None,
        }
    }

    /// Paths known not to be `none` when `e` holds.
    pub(crate) fn facts_true(&self, cx: &Cx, e: &ast::Expr) -> Vec<Key> {
        let mut out = Vec::new();
        match &e.kind {
            A::Paren(inner) => return self.facts_true(cx, inner),
            A::Not(inner) => return self.facts_false(cx, inner),
            A::Binary {
                op: BinaryOp::And,
                lhs,
                rhs,
                ..
            } => {
                out = self.facts_true(cx, lhs);
                out.extend(self.facts_true(cx, rhs));
            }
            A::Binary {
                op: BinaryOp::Or,
                lhs,
                rhs,
                ..
            } => {
                let l = self.facts_true(cx, lhs);
                let r = self.facts_true(cx, rhs);
                out = l.into_iter().filter(|k| r.contains(k)).collect();
            }
            A::Binary {
                op: BinaryOp::Ne,
                lhs,
                rhs,
                ..
            } => {
                out.extend(self.unequal_facts(cx, lhs, rhs));
            }
            A::Binary {
                op: op @ (BinaryOp::Eq | BinaryOp::In),
                lhs,
                rhs,
                ..
            } => {
                // Which members an enum value can still be (for lints).
                if let Some(key) = self.expr_key(cx, lhs) {
                    let members: Option<Vec<&str>> = match (&strip_parens(rhs).kind, op) {
                        (A::Path(p), BinaryOp::Eq) if p.segments.len() == 1 => {
                            Some(vec![p.segments[0].name.as_str()])
                        }
                        (A::List(items), BinaryOp::In) => items
                            .iter()
                            .map(|i| match &strip_parens(i).kind {
                                A::Path(p) if p.segments.len() == 1 => {
                                    Some(p.segments[0].name.as_str())
                                }
                                _ => None,
                            })
                            .collect(),
                        _ => None,
                    };
                    if let Some(m) = members {
                        out.push(format!("={key}={}", m.join(",")));
                    }
                }
                // `x == pro` or `x in [a, b]` holds only for a value.
                let non_empty_list = matches!(&strip_parens(rhs).kind, A::List(items) if !items.is_empty() && items.iter().all(|i| !is_none_lit(i)));
                if is_value_lit(rhs) || non_empty_list {
                    out.extend(self.expr_key(cx, lhs));
                } else if is_value_lit(lhs) {
                    out.extend(self.expr_key(cx, rhs));
                }
            }
            A::IsNone {
                operand,
                negated: true,
            } => out.extend(self.expr_key(cx, operand)),
            A::InSegment(name) => {
                if let Some(&id) = self.segment_names.get(&name.name) {
                    out.extend(self.segments[id.index()].facts.iter().cloned());
                }
            }
            _ => {}
        }
        out
    }

    /// What `lhs != rhs` holding tells: the path is not `none` (when one
    /// side is `none`), or the path is not that enum member.
    fn unequal_facts(&self, cx: &Cx, lhs: &ast::Expr, rhs: &ast::Expr) -> Vec<String> {
        let mut out = Vec::new();
        if is_none_lit(rhs) {
            out.extend(self.expr_key(cx, lhs));
        } else if is_none_lit(lhs) {
            out.extend(self.expr_key(cx, rhs));
        } else if let (Some(key), A::Path(p)) = (self.expr_key(cx, lhs), &strip_parens(rhs).kind) {
            if p.segments.len() == 1 {
                out.push(format!("!{key}={}", p.segments[0].name));
            }
        }
        out
    }

    /// Paths known not to be `none` when `e` does not hold.
    pub(crate) fn facts_false(&self, cx: &Cx, e: &ast::Expr) -> Vec<Key> {
        let mut out = Vec::new();
        match &e.kind {
            A::Paren(inner) => return self.facts_false(cx, inner),
            A::Not(inner) => return self.facts_true(cx, inner),
            A::Binary {
                op: BinaryOp::Or,
                lhs,
                rhs,
                ..
            } => {
                out = self.facts_false(cx, lhs);
                out.extend(self.facts_false(cx, rhs));
            }
            A::Binary {
                op: BinaryOp::Eq,
                lhs,
                rhs,
                ..
            } => {
                out.extend(self.unequal_facts(cx, lhs, rhs));
            }
            A::Binary {
                op: BinaryOp::Ne,
                lhs,
                rhs,
                ..
            } => {
                if let (Some(key), A::Path(p)) = (self.expr_key(cx, lhs), &strip_parens(rhs).kind) {
                    if p.segments.len() == 1 {
                        out.push(format!("={key}={}", p.segments[0].name));
                        out.push(key);
                    }
                }
            }
            A::IsNone {
                operand,
                negated: false,
            } => out.extend(self.expr_key(cx, operand)),
            _ => {}
        }
        out
    }

    /// Checks a condition: a `bool`.
    pub(crate) fn condition(&mut self, cx: &Cx, e: &ast::Expr, what: ConditionSite) -> ir::Expr {
        let t = self.expr(cx, e, Some(&Type::Bool));
        self.require_bool(cx, &t, what);
        t
    }

    /// Reports `t` if it is not a `bool`.
    fn require_bool(&mut self, cx: &Cx, t: &ir::Expr, what: ConditionSite) {
        if t.ty.fits(&Type::Bool) {
            return;
        }
        if t.ty.is_optional() && t.ty.strip_optional().fits(&Type::Bool) {
            self.not_narrowed(cx, t.span, &t.ty);
            return;
        }
        let d = messages::not_a_condition(t.span, what, &self.type_name(&t.ty));
        self.emit(cx.file, d);
    }

    pub(crate) fn not_narrowed(&mut self, cx: &Cx, span: Span, ty: &Type) {
        let text = self
            .source(cx.file)
            .text()
            .get(span.range())
            .unwrap_or("this")
            .to_owned();
        let d = messages::optional_not_narrowed(span, &text, &self.type_name(ty));
        self.emit(cx.file, d);
    }

    /// Types an expression; `expect` resolves bare enum members.
    pub(crate) fn expr(&mut self, cx: &Cx, e: &ast::Expr, expect: Option<&Type>) -> ir::Expr {
        let span = e.span;
        match &e.kind {
            A::Literal(lit) => self.literal(cx, lit, span, expect),
            A::Path(p) => self.path(cx, p, span, expect),
            A::Paren(inner) => {
                let mut t = self.expr(cx, inner, expect);
                t.span = span;
                t
            }
            A::List(items) => {
                let elem_expect = match expect.map(Type::strip_optional) {
                    Some(Type::List(inner)) => Some((**inner).clone()),
                    _ => None,
                };
                let mut elem_ty: Option<Type> = elem_expect.clone();
                let mut out = Vec::new();
                for item in items {
                    let t = self.expr(cx, item, elem_ty.as_ref());
                    match &elem_ty {
                        None => elem_ty = Some(t.ty.clone()),
                        Some(et) => {
                            if !t.ty.fits(et) && !t.ty.comparable(et.strip_optional()) {
                                let d = messages::list_item_type(
                                    t.span,
                                    &self.type_name(et),
                                    &self.type_name(&t.ty),
                                );
                                self.emit(cx.file, d);
                            }
                        }
                    }
                    out.push(t);
                }
                let ty = Type::List(Box::new(elem_ty.unwrap_or(Type::Error)));
                typed(K::List(out), ty, span)
            }
            A::Not(inner) => {
                let t = self.condition(cx, inner, ConditionSite::NotOperand);
                typed(K::Not(Box::new(t)), Type::Bool, span)
            }
            A::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => self.binary(cx, *op, *op_span, lhs, rhs, span, expect),
            A::IsNone { operand, negated } => {
                let t = self.expr(cx, operand, None);
                if !t.ty.is_optional() && !t.ty.is_error() {
                    self.never_none(cx, &t);
                }
                typed(K::IsNone(Box::new(t), *negated), Type::Bool, span)
            }
            A::Did(did) => self.did(cx, did, span),
            A::Inactive(d) => {
                self.positive(cx.file, d, DurationSite::InactiveFor);
                typed(K::Inactive(d.seconds), Type::Bool, span)
            }
            A::InSegment(name) => match self.segment_ref(cx, name) {
                Some(id) => typed(K::InSegment(id), Type::Bool, span),
                None => typed(K::Const(Const::Bool(false)), Type::Error, span),
            },
            A::Ago(d) => {
                self.positive(cx.file, d, DurationSite::Ago);
                typed(K::Ago(d.seconds), Type::Time, span)
            }
            A::Error => error(span),
        }
    }

    pub(crate) fn never_none(&mut self, cx: &Cx, t: &ir::Expr) {
        let text = self
            .source(cx.file)
            .text()
            .get(t.span.range())
            .unwrap_or("this")
            .to_owned();
        let d = messages::never_none(t.span, &text, &self.type_name(&t.ty));
        self.emit(cx.file, d);
    }

    /// Reports a duration of zero where a positive one is needed.
    pub(crate) fn positive(
        &mut self,
        file: ir::FileId,
        d: &ast::DurationLit,
        what: DurationSite,
    ) -> bool {
        if d.seconds > 0 {
            return true;
        }
        // An invalid literal (`1h1d`) also decodes to zero; the parser has
        // reported it already.
        let src = self.parsed[file.index()].source.clone();
        let written = src.text().get(d.span.range()).unwrap_or_default();
        if nudge_core::duration::parse(written).is_err() {
            return false;
        }
        self.emit(file, messages::non_positive_duration(d.span, what));
        false
    }

    fn literal(&mut self, cx: &Cx, lit: &Literal, span: Span, expect: Option<&Type>) -> ir::Expr {
        let (c, ty) = match lit {
            Literal::None => (Const::None, Type::None),
            Literal::Bool(b) => (Const::Bool(*b), Type::Bool),
            Literal::Int(i) => (Const::Int(*i), Type::Int),
            Literal::Float(f) => (Const::Float(*f), Type::Float),
            Literal::Duration(d) => (Const::Duration(d.seconds), Type::Duration),
            Literal::TimeOfDay(t) => (Const::TimeOfDay(t.minutes), Type::TimeOfDay),
            Literal::Timestamp(t) => (Const::Time(t.value), Type::Time),
            Literal::String(s) => return self.string(cx, s, expect),
        };
        typed(K::Const(c), ty, span)
    }

    /// A string literal, with its interpolations typed in `cx`.
    pub(crate) fn string(&mut self, cx: &Cx, s: &StringLit, expect: Option<&Type>) -> ir::Expr {
        if let Some(text) = s.as_plain() {
            let target = expect.map(Type::strip_optional);
            match target {
                Some(Type::Enum(id)) => {
                    self.enum_string(cx.file, *id, &text, s.span);
                    return error(s.span);
                }
                Some(t) if t.is_stringlike() && *t != Type::String => {
                    if let Err(err) = crate::string_formats::validate(t, &text) {
                        self.emit(cx.file, err.diagnostic(s.span, &text));
                    }
                    return typed(K::Const(Const::String(text)), t.clone(), s.span);
                }
                _ => return typed(K::Const(Const::String(text)), Type::String, s.span),
            }
        }
        let parts = self.text_parts(cx, s);
        typed(K::Text(parts), Type::String, s.span)
    }

    /// The pieces of a string, interpolations typed.
    pub(crate) fn text_parts(&mut self, cx: &Cx, s: &StringLit) -> Vec<TextPart> {
        let mut parts = Vec::new();
        for part in &s.parts {
            match part {
                StringPart::Text(t) => parts.push(TextPart::Text(t.clone())),
                StringPart::Interp(i) => {
                    let path = self.path(cx, &i.path, i.span, None);
                    let t = match &i.default {
                        Some(default) => {
                            let inner = path.ty.strip_optional().clone();
                            if !path.ty.is_optional() && !path.ty.is_error() {
                                self.needless_default(cx, &path, i.span);
                            }
                            let d = self.expr(cx, default, Some(&inner));
                            if !d.ty.fits(&inner) && !inner.is_stringlike() {
                                let diag = messages::default_type(
                                    d.span,
                                    &self.type_name(&inner),
                                    &self.type_name(&d.ty),
                                );
                                self.emit(cx.file, diag);
                            }
                            let ty = inner;
                            typed(
                                K::Binary(BinaryOp::Coalesce, Box::new(path), Box::new(d)),
                                ty,
                                i.span,
                            )
                        }
                        None => {
                            if path.ty.is_optional() {
                                let d = messages::optional_in_text(
                                    i.span,
                                    &i.path.dotted(),
                                    &self.type_name(&path.ty),
                                );
                                self.emit(cx.file, d);
                            }
                            path
                        }
                    };
                    if let Type::List(_) = t.ty.strip_optional() {
                        let d = messages::list_in_text(i.span, &self.type_name(&t.ty));
                        self.emit(cx.file, d);
                    }
                    let t = match &i.format {
                        None => t,
                        Some((spec, span)) => {
                            let checked = match t.ty.strip_optional() {
                                Type::Int | Type::Float => {
                                    nudge_core::format_spec::number(spec).map(|_| ())
                                }
                                Type::Time => nudge_core::format_spec::time(spec),
                                _ if t.ty.is_error() => Ok(()),
                                other => {
                                    Err(format!("a `{}` has no format", self.type_name(other)))
                                }
                            };
                            if let Err(problem) = checked {
                                let d = messages::format_spec(*span, spec, &problem, &t.ty);
                                self.emit(cx.file, d);
                            }
                            let s = t.span;
                            typed(K::Format(Box::new(t), spec.clone()), Type::String, s)
                        }
                    };
                    parts.push(TextPart::Interp(t));
                }
            }
        }
        parts
    }

    pub(crate) fn needless_default(&mut self, cx: &Cx, t: &ir::Expr, span: Span) {
        let text = self
            .source(cx.file)
            .text()
            .get(t.span.range())
            .unwrap_or("this")
            .to_owned();
        let d = messages::needless_default(span, &text, &self.type_name(&t.ty));
        self.emit(cx.file, d);
    }

    /// Resolves a path.
    /// `last.EVENT.FIELD`: the field of the profile's latest `EVENT` (the
    /// one being handled included), `none` when it has none.
    fn last_path(&mut self, cx: &Cx, p: &ast::Path, span: Span) -> ir::Expr {
        let [_, event, field] = p.segments.as_slice() else {
            let d = messages::last_path(span);
            self.emit(cx.file, d);
            return error(span);
        };
        let Some(id) = self.event_names.get(&event.name).copied() else {
            let names: Vec<&str> = self.events.iter().map(|e| e.name.as_str()).collect();
            let suggestion = suggest::closest(&event.name, names.iter().copied());
            let d = messages::unknown_event(event.span, &event.name, suggestion);
            self.emit(cx.file, d);
            return error(span);
        };
        self.refer(cx.file, event.span, Target::Event(event.name.clone()));
        self.use_event(id);
        match self.event_field(cx, id, field) {
            Some((f, ty)) => {
                let ty = if ty.is_optional() {
                    ty
                } else {
                    Type::Optional(Box::new(ty))
                };
                typed(K::Last(id, f), ty, span)
            }
            None => error(span),
        }
    }

    pub(crate) fn path(
        &mut self,
        cx: &Cx,
        p: &ast::Path,
        span: Span,
        expect: Option<&Type>,
    ) -> ir::Expr {
        let root = &p.segments[0];
        if p.segments.len() == 1 {
            if expect.is_some_and(Type::is_error)
                && !self.event_names.contains_key(&root.name)
                && root.name != "profile"
                && root.name != "event"
            {
                // The other side already failed; do not guess.
                return error(span);
            }
            if let Some(Type::Enum(id)) = expect.map(Type::strip_optional) {
                let id = *id;
                return match self.enum_member(cx.file, id, root) {
                    Some(m) => typed(K::Const(Const::Enum(id, m)), Type::Enum(id), span),
                    None => error(span),
                };
            }
            if root.name == "profile"
                || root.name == "event"
                || self.event_names.contains_key(&root.name)
            {
                self.refer_root(cx, root);
                self.emit(cx.file, messages::path_root_alone(span, &root.name));
                return error(span);
            }
            let expected = match expect {
                Some(t) if !t.is_error() => Some(self.type_name(t)),
                _ => None,
            };
            let d = messages::unknown_name(
                span,
                &root.name,
                expected.as_deref(),
                self.bare_name_hint(&root.name),
            );
            self.emit(cx.file, d);
            return error(span);
        }
        if root.name == "last" && !self.event_names.contains_key("last") {
            return self.last_path(cx, p, span);
        }
        self.refer_root(cx, root);
        if p.segments.len() > 2 {
            let extra = &p.segments[2];
            let d = messages::path_past_field(
                extra.span.to(p.segments[p.segments.len() - 1].span),
                &root.name,
                &p.segments[1].name,
            );
            self.emit(cx.file, d);
            return error(span);
        }
        let field = &p.segments[1];
        let key = self.path_key(cx, p);
        let (kind, ty) = match root.name.as_str() {
            "profile" => match self.profile.field(&field.name) {
                Some(f) => {
                    self.refer(
                        cx.file,
                        field.span,
                        Target::ProfileField(field.name.clone()),
                    );
                    (K::Profile(f), self.profile.fields[f.index()].ty.clone())
                }
                None => {
                    self.unknown_profile_field(cx.file, field);
                    return error(span);
                }
            },
            "event" => match cx.event.clone() {
                EventScope::None(why) => {
                    self.no_event(cx, why, span);
                    return error(span);
                }
                EventScope::One(id) => match self.event_field(cx, id, field) {
                    Some((f, ty)) => (K::EventField(vec![(id, f)]), ty),
                    None => return error(span),
                },
                EventScope::Many(ids) if ids.is_empty() => {
                    // The triggers are unknown or missing: already reported.
                    return error(span);
                }
                EventScope::Many(ids) => {
                    let mut found = Vec::new();
                    let mut ty: Option<Type> = None;
                    let mut missing: Vec<String> = Vec::new();
                    for id in &ids {
                        let ev = &self.events[id.index()];
                        match ev.schema.field(&field.name) {
                            Some(f) => {
                                let fty = ev.schema.fields[f.index()].ty.clone();
                                if ty.as_ref().is_some_and(|t| *t != fty) {
                                    missing.push(ev.name.clone());
                                }
                                ty.get_or_insert(fty);
                                found.push((*id, f));
                            }
                            None => missing.push(ev.name.clone()),
                        }
                    }
                    if !missing.is_empty() || ty.is_none() {
                        let missing: Vec<&str> = missing.iter().map(String::as_str).collect();
                        let d = messages::field_not_shared(field.span, &field.name, &missing);
                        self.emit(cx.file, d);
                        return error(span);
                    }
                    if let Some((first, _)) = found.first() {
                        let target = Target::EventField {
                            event: self.events[first.index()].name.clone(),
                            field: field.name.clone(),
                        };
                        self.refer(cx.file, field.span, target);
                    }
                    (K::EventField(found), ty.unwrap_or(Type::Error))
                }
            },
            name => match self.event_names.get(name).copied() {
                Some(id) => {
                    if !cx.received.contains(&id) {
                        // The property is known, only not received here.
                        if self.events[id.index()].schema.field(&field.name).is_some() {
                            let target = Target::EventField {
                                event: name.to_owned(),
                                field: field.name.clone(),
                            };
                            self.refer(cx.file, field.span, target);
                        }
                        let d = messages::event_not_received(root.span, name, &field.name);
                        self.emit(cx.file, d);
                        return error(span);
                    }
                    match self.event_field(cx, id, field) {
                        Some((f, ty)) => (K::Received(id, f), ty),
                        None => return error(span),
                    }
                }
                None => {
                    let roots: Vec<&str> = ["profile", "event"]
                        .into_iter()
                        .chain(self.events.iter().map(|e| e.name.as_str()))
                        .collect();
                    let suggestion = suggest::closest(&root.name, roots);
                    let d = messages::unknown_path_root(root.span, &root.name, suggestion);
                    self.emit(cx.file, d);
                    return error(span);
                }
            },
        };
        let ty = match (ty, key) {
            (Type::Optional(inner), Some(k)) if cx.facts.contains(&k) => *inner,
            (ty, _) => ty,
        };
        typed(kind, ty, span)
    }

    /// The root of a path (`profile`, `event`, an event), if it resolves.
    fn refer_root(&mut self, cx: &Cx, root: &ast::Ident) {
        let target = match root.name.as_str() {
            "profile" => Target::Profile,
            "event" => match &cx.event {
                EventScope::One(id) => {
                    Target::ContextEvent(vec![self.events[id.index()].name.clone()])
                }
                EventScope::Many(ids) if !ids.is_empty() => Target::ContextEvent(
                    ids.iter()
                        .map(|id| self.events[id.index()].name.clone())
                        .collect(),
                ),
                EventScope::Many(_) | EventScope::None(_) => return,
            },
            name if self.event_names.contains_key(name) => Target::Event(name.to_owned()),
            _ => return,
        };
        self.refer(cx.file, root.span, target);
    }

    fn event_field(&mut self, cx: &Cx, id: EventId, field: &ast::Ident) -> Option<(FieldId, Type)> {
        let ev = &self.events[id.index()];
        if let Some(f) = ev.schema.field(&field.name) {
            let ty = ev.schema.fields[f.index()].ty.clone();
            let target = Target::EventField {
                event: ev.name.clone(),
                field: field.name.clone(),
            };
            self.refer(cx.file, field.span, target);
            return Some((f, ty));
        }
        let fields: Vec<&str> = ev.schema.fields.iter().map(|f| f.name.as_str()).collect();
        let suggestion = suggest::closest(&field.name, fields.iter().copied());
        let d = messages::unknown_event_property(
            field.span,
            &ev.name,
            &field.name,
            suggestion,
            &fields,
        );
        self.emit(cx.file, d);
        None
    }

    /// Reports `profile.FIELD` for a field the profile does not have.
    pub(crate) fn unknown_profile_field(&mut self, file: crate::ids::FileId, field: &ast::Ident) {
        let fields: Vec<&str> = self
            .profile
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        let suggestion = suggest::closest(&field.name, fields.iter().copied());
        let d = messages::unknown_profile_field(field.span, &field.name, suggestion, &fields);
        self.emit(file, d);
    }

    fn no_event(&mut self, cx: &Cx, why: NoEvent, span: Span) {
        self.emit(cx.file, messages::event_not_in_scope(span, why));
    }

    #[allow(clippy::too_many_arguments)]
    fn binary(
        &mut self,
        cx: &Cx,
        op: BinaryOp,
        op_span: Span,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        span: Span,
        expect: Option<&Type>,
    ) -> ir::Expr {
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let l = self.condition(cx, lhs, ConditionSite::LeftOf(op));
                let facts = if op == BinaryOp::And {
                    self.facts_true(cx, lhs)
                } else {
                    self.facts_false(cx, lhs)
                };
                let rcx = cx.with_facts(&facts);
                let r = self.condition(&rcx, rhs, ConditionSite::RightOf(op));
                typed(K::Binary(op, Box::new(l), Box::new(r)), Type::Bool, span)
            }
            BinaryOp::Coalesce => {
                let l = self.expr(cx, lhs, expect);
                if !l.ty.is_optional() && !l.ty.is_error() {
                    self.needless_default(cx, &l, op_span.to(rhs.span));
                }
                let inner = l.ty.strip_optional().clone();
                let r = self.expr(cx, rhs, Some(&inner));
                if !r.ty.fits(&inner) {
                    let d = messages::default_type(
                        r.span,
                        &self.type_name(&inner),
                        &self.type_name(&r.ty),
                    );
                    self.emit(cx.file, d);
                }
                let ty = if r.ty.is_optional() {
                    r.ty.clone()
                } else {
                    inner
                };
                typed(K::Binary(op, Box::new(l), Box::new(r)), ty, span)
            }
            BinaryOp::Add | BinaryOp::Sub => {
                let l = self.expr(cx, lhs, None);
                let r = self.expr(cx, rhs, None);
                let (a, b) = (l.ty.strip_optional(), r.ty.strip_optional());
                let ty = match (op, a, b) {
                    (_, Type::Error, _) | (_, _, Type::Error) => Type::Error,
                    (_, Type::Time, Type::Duration)
                    | (BinaryOp::Add, Type::Duration, Type::Time) => Type::Time,
                    (_, Type::Duration, Type::Duration)
                    | (BinaryOp::Sub, Type::Time, Type::Time) => Type::Duration,
                    _ => {
                        let d = messages::arithmetic_types(
                            op_span,
                            op,
                            &self.type_name(a),
                            &self.type_name(b),
                        );
                        self.emit(cx.file, d);
                        return typed(K::Binary(op, Box::new(l), Box::new(r)), Type::Error, span);
                    }
                };
                // Only right types left: a `none` side still needs a check.
                for side in [&l, &r] {
                    if side.ty.is_optional() {
                        let (s, t) = (side.span, side.ty.clone());
                        self.not_narrowed(cx, s, &t);
                    }
                }
                typed(K::Binary(op, Box::new(l), Box::new(r)), ty, span)
            }
            BinaryOp::In => {
                let l = self.expr(cx, lhs, None);
                let want = Type::List(Box::new(l.ty.strip_optional().clone()));
                let r = self.expr(cx, rhs, Some(&want));
                match &r.ty {
                    Type::List(elem) => {
                        if !l.ty.strip_optional().comparable(elem.strip_optional()) {
                            let d = messages::never_in_list(
                                op_span,
                                l.span,
                                &self.type_name(&l.ty),
                                &self.type_name(elem),
                            );
                            self.emit(cx.file, d);
                        }
                    }
                    Type::Error => {}
                    other => {
                        let d = messages::in_needs_list(r.span, &self.type_name(other));
                        self.emit(cx.file, d);
                    }
                }
                typed(K::Binary(op, Box::new(l), Box::new(r)), Type::Bool, span)
            }
            _ => {
                // Comparisons. Type the side that is not a bare name first,
                // so that `pro == profile.plan` resolves `pro`.
                let bare = |e: &ast::Expr| {
                    matches!(&strip_parens(e).kind, A::Path(p) if p.segments.len() == 1)
                        || matches!(&strip_parens(e).kind, A::Literal(Literal::String(_)))
                };
                let (l, r) = if bare(lhs) && !bare(rhs) {
                    let r = self.expr(cx, rhs, None);
                    let l = self.expr(cx, lhs, Some(&r.ty.clone()));
                    (l, r)
                } else {
                    let l = self.expr(cx, lhs, None);
                    let r = self.expr(cx, rhs, Some(&l.ty.clone()));
                    (l, r)
                };
                let equality = matches!(op, BinaryOp::Eq | BinaryOp::Ne);
                if l.ty == Type::None || r.ty == Type::None {
                    let other = if l.ty == Type::None { &r } else { &l };
                    if !equality {
                        self.emit(cx.file, messages::none_ordered(op_span, op));
                    } else if !other.ty.is_optional()
                        && !other.ty.is_error()
                        && other.ty != Type::None
                    {
                        let other = other.clone();
                        self.never_none(cx, &other);
                    }
                    return typed(K::Binary(op, Box::new(l), Box::new(r)), Type::Bool, span);
                }
                if !equality {
                    for side in [&l, &r] {
                        if side.ty.is_optional() {
                            let (s, t) = (side.span, side.ty.clone());
                            self.not_narrowed(cx, s, &t);
                        }
                    }
                }
                let (lt, rt) = (l.ty.strip_optional(), r.ty.strip_optional());
                if !lt.comparable(rt) {
                    let d = messages::incomparable(
                        op_span,
                        l.span,
                        &self.type_name(lt),
                        r.span,
                        &self.type_name(rt),
                    );
                    self.emit(cx.file, d);
                } else if !(equality || lt.is_ordered() && rt.is_ordered()) {
                    let bad = if lt.is_ordered() { rt } else { lt };
                    let d = messages::not_ordered(op_span, op, &self.type_name(bad));
                    self.emit(cx.file, d);
                }
                typed(K::Binary(op, Box::new(l), Box::new(r)), Type::Bool, span)
            }
        }
    }

    /// A `X where …` filter: `event` means X inside it.
    pub(crate) fn event_filter(&mut self, cx: &Cx, event: EventId, filter: &ast::Expr) -> ir::Expr {
        let mut inner = cx.clone();
        inner.event = EventScope::One(event);
        inner.tag = self.fresh_tag();
        self.condition(&inner, filter, ConditionSite::WhereFilter)
    }

    /// Resolves an `EVENT [where …]` and returns what its filter narrows:
    /// keys of `event.` paths are written with `tag` (the scope that sees
    /// the event after the filter held).
    pub(crate) fn event_match_facts(
        &mut self,
        cx: &Cx,
        m: &ast::EventMatch,
        tag: u32,
    ) -> (Option<ir::EventMatch>, Vec<Key>) {
        let id = self.event_ref(cx.file, &m.event);
        let Some(id) = id else {
            return (None, Vec::new());
        };
        self.use_event(id);
        let mut inner = cx.clone();
        inner.event = EventScope::One(id);
        inner.tag = tag;
        let (filter, facts) = match &m.filter {
            Some(f) => {
                let t = self.condition(&inner, f, ConditionSite::WhereFilter);
                (Some(t), self.facts_true(&inner, f))
            }
            None => (None, Vec::new()),
        };
        (
            Some(ir::EventMatch {
                event: id,
                filter,
                span: m.span,
            }),
            facts,
        )
    }

    /// Resolves an `EVENT [where …]`.
    pub(crate) fn event_match(&mut self, cx: &Cx, m: &ast::EventMatch) -> Option<ir::EventMatch> {
        let id = self.event_ref(cx.file, &m.event);
        if let Some(id) = id {
            self.use_event(id);
        }
        let filter = match (id, &m.filter) {
            (Some(id), Some(f)) => Some(self.event_filter(cx, id, f)),
            _ => None,
        };
        id.map(|event| ir::EventMatch {
            event,
            filter,
            span: m.span,
        })
    }

    fn did(&mut self, cx: &Cx, did: &ast::DidExpr, span: Span) -> ir::Expr {
        let m = self.event_match(cx, &did.event);
        let count = did.count.as_ref().map(|c| {
            if c.count.value < 0 {
                self.emit(cx.file, messages::invalid_count(c.count.span));
            }
            (c.op, c.count.value)
        });
        let window = match &did.window {
            None => DidWindow::Ever,
            Some(AstWindow::Within(d)) => {
                self.positive(cx.file, d, DurationSite::Within);
                DidWindow::Within(d.seconds)
            }
            Some(AstWindow::SinceEntry(s)) => {
                if matches!(cx.event, EventScope::None(NoEvent::Segment)) || cx.segment.is_some() {
                    self.emit(cx.file, messages::since_entry_in_segment(*s));
                }
                DidWindow::SinceEntry
            }
        };
        match m {
            Some(m) => typed(
                K::Did {
                    event: m.event,
                    filter: m.filter.map(Box::new),
                    count,
                    window,
                },
                Type::Bool,
                span,
            ),
            None => error(span),
        }
    }

    fn segment_ref(&mut self, cx: &Cx, name: &ast::Ident) -> Option<SegmentId> {
        let Some(&id) = self.segment_names.get(&name.name) else {
            let suggestion = suggest::closest(
                &name.name,
                self.segments.iter().map(|s| s.decl.name.name.as_str()),
            );
            let d = messages::unknown_segment(name.span, &name.name, suggestion);
            self.emit(cx.file, d);
            return None;
        };
        self.refer(cx.file, name.span, Target::Segment(name.name.clone()));
        self.mark_used(crate::checker::Used::Segment(name.name.clone()));
        match self.segments[id.index()].state {
            SegState::Done => Some(id),
            SegState::Todo => {
                self.check_segment(id);
                Some(id)
            }
            SegState::InProgress => {
                let start = self.seg_stack.iter().position(|s| *s == id).unwrap_or(0);
                let mut chain: Vec<&str> = self.seg_stack[start..]
                    .iter()
                    .map(|s| self.segments[s.index()].decl.name.name.as_str())
                    .collect();
                chain.push(&name.name);
                let d = messages::segment_cycle(name.span, &name.name, &chain);
                self.cycle_seen = true;
                self.emit(cx.file, d);
                None
            }
        }
    }

    pub(crate) fn check_segment(&mut self, id: SegmentId) {
        let info = &self.segments[id.index()];
        let (file, decl) = (info.file, info.decl);
        let outer = self.set_owner(Some((file, decl.name.span.start)));
        self.segments[id.index()].state = SegState::InProgress;
        self.seg_stack.push(id);
        let tag = self.fresh_tag();
        let mut cx = Cx::new(file, EventScope::None(NoEvent::Segment), tag);
        cx.segment = Some(id);
        let typed = self.condition(&cx, &decl.condition, ConditionSite::Segment);
        self.lint_condition(&cx, &decl.condition);
        let facts: Vec<Key> = self
            .facts_true(&cx, &decl.condition)
            .into_iter()
            .filter(|k| k.starts_with("profile."))
            .collect();
        self.seg_stack.pop();
        let info = &mut self.segments[id.index()];
        info.state = SegState::Done;
        info.facts = facts;
        info.typed = Some(typed);
        self.set_owner(outer);
    }

    pub(crate) fn check_segments(&mut self) -> Vec<SegmentDef> {
        for i in 0..self.segments.len() {
            if self.segments[i].state == SegState::Todo && self.in_focus(self.segments[i].file) {
                self.check_segment(SegmentId(i as u32));
            }
        }
        let segments: Vec<SegmentDef> = self
            .segments
            .iter()
            .map(|s| SegmentDef {
                name: s.decl.name.name.clone(),
                condition: s
                    .typed
                    .clone()
                    .unwrap_or_else(|| error(s.decl.condition.span)),
                loc: ir::Loc {
                    file: s.file,
                    span: s.decl.name.span,
                },
            })
            .collect();
        segments
    }
}
