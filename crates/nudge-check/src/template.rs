//! Message content: channel fields, inline text, `file(…)` templates
//! (minijinja) and their variables, declared templates.

use std::path::Path;

use nudge_syntax::ast::{self, Channel, Object, StringLit, Value};
use nudge_syntax::{Diagnostic, Span};

use crate::checker::{Checker, Cx, EventScope, TemplateFile};
use crate::ir::{self, FieldValue, Loc, MessageField, TemplateDef, TemplateId};
use crate::messages::NoEvent;
use crate::messages::{self, MessageSite, Owner};
use crate::suggest;
use crate::types::Type;

fn read_template(loader: &dyn crate::TemplateLoader, path: &Path, rel: &str) -> TemplateFile {
    let text = match loader.load(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return TemplateFile::Unreadable(None)
        }
        Err(e) => return TemplateFile::Unreadable(Some(e.to_string())),
    };
    let env = minijinja::Environment::new();
    match env.template_from_named_str(rel, &text) {
        Ok(template) => {
            let mut variables: Vec<String> =
                template.undeclared_variables(true).into_iter().collect();
            variables.sort();
            TemplateFile::Parsed(text.clone(), variables)
        }
        Err(e) => TemplateFile::Syntax {
            detail: e
                .detail()
                .map(str::to_owned)
                .unwrap_or_else(|| e.kind().to_string()),
            line: e.line(),
            path: rel.to_owned(),
        },
    }
}

/// The fields a channel's messages have.
pub(crate) fn channel_fields(channel: Channel) -> &'static [&'static str] {
    match channel {
        Channel::Email => &["subject", "html", "text"],
        Channel::Push => &["title", "body", "url"],
        Channel::Sms => &["text"],
        Channel::InApp => &["title", "body", "url"],
        Channel::Webhook => &["url", "body"],
    }
}

/// The field a bare string (`sms "…"`) fills.
fn text_field(channel: Channel) -> Option<&'static str> {
    match channel {
        Channel::Email | Channel::Sms => Some("text"),
        Channel::Push | Channel::InApp => Some("body"),
        Channel::Webhook => None,
    }
}

/// Required fields: each inner slice needs one of its names.
fn required(channel: Channel) -> &'static [&'static [&'static str]] {
    match channel {
        Channel::Email => &[&["subject"], &["html", "text"]],
        Channel::Push | Channel::InApp => &[&["body"]],
        Channel::Sms => &[&["text"]],
        Channel::Webhook => &[&["url"]],
    }
}

/// Names a template file may use besides `profile` and `event`: the
/// engine's own globals.
const ENGINE_GLOBALS: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "debug",
    "loop",
    "self",
    "super",
    "caller",
    "varargs",
    "kwargs",
];

impl Checker<'_> {
    /// Checks the fields of a message or template.
    pub(crate) fn message_fields(
        &mut self,
        cx: &Cx,
        channel: Channel,
        obj: &Object,
    ) -> Vec<MessageField> {
        let allowed = channel_fields(channel);
        let mut out: Vec<MessageField> = Vec::new();
        let mut spans: Vec<Span> = Vec::new();
        for f in &obj.fields {
            if !allowed.contains(&f.name.name.as_str()) {
                let suggestion = suggest::closest(&f.name.name, allowed.iter().copied());
                let d = messages::unknown_message_field(
                    f.name.span,
                    channel,
                    &f.name.name,
                    suggestion,
                    allowed,
                );
                self.emit(cx.file, d);
                continue;
            }
            if let Some(i) = out.iter().position(|m| m.name == f.name.name) {
                let d = messages::duplicate_message_field(f.name.span, spans[i], &f.name.name);
                self.emit(cx.file, d);
                continue;
            }
            let value = self.field_value(cx, channel, &f.name.name, &f.value);
            spans.push(f.name.span);
            out.push(MessageField {
                name: f.name.name.clone(),
                value,
                span: f.span,
            });
        }
        out
    }

    /// A bare string as a message: the channel's text field.
    pub(crate) fn message_text(
        &mut self,
        cx: &Cx,
        channel: Channel,
        s: &StringLit,
    ) -> Vec<MessageField> {
        let Some(name) = text_field(channel) else {
            self.emit(cx.file, messages::webhook_text(s.span));
            return Vec::new();
        };
        let parts = self.text_parts(cx, s);
        vec![MessageField {
            name: name.to_owned(),
            value: FieldValue::Text(parts),
            span: s.span,
        }]
    }

    fn field_value(&mut self, cx: &Cx, channel: Channel, name: &str, value: &Value) -> FieldValue {
        let is_url = name == "url";
        let is_body_object = channel == Channel::Webhook && name == "body";
        match value {
            Value::File(lit) if !is_url && !is_body_object => self.template_file(cx, lit),
            Value::File(lit) => {
                self.emit(cx.file, messages::field_from_file(lit.span, name));
                FieldValue::Text(Vec::new())
            }
            Value::Object(obj) if is_body_object => self.json_object(cx, obj),
            Value::Object(obj) => {
                self.emit(cx.file, messages::field_object(obj.span, name));
                FieldValue::Text(Vec::new())
            }
            Value::Expr(e) => {
                if is_body_object {
                    let t = self.expr(cx, e, None);
                    self.emit(cx.file, messages::webhook_body_not_object(t.span));
                    return FieldValue::Expr(t);
                }
                if let ast::ExprKind::Literal(ast::Literal::String(s)) = &e.kind {
                    if is_url {
                        if let Some(text) = s.as_plain() {
                            let t = self.string(cx, s, Some(&Type::Url));
                            let _ = text;
                            return FieldValue::Expr(t);
                        }
                    }
                    return FieldValue::Text(self.text_parts(cx, s));
                }
                let t = self.expr(cx, e, None);
                let ok = match t.ty.strip_optional() {
                    Type::List(_) | Type::None => false,
                    ty if is_url => ty.is_stringlike() || ty.is_error(),
                    _ => true,
                };
                if !ok {
                    let d = messages::field_type(t.span, name, is_url, &self.type_name(&t.ty));
                    self.emit(cx.file, d);
                } else if t.ty.is_optional() {
                    let (s, ty) = (t.span, t.ty.clone());
                    self.not_narrowed(cx, s, &ty);
                }
                FieldValue::Expr(t)
            }
        }
    }

    fn json_object(&mut self, cx: &Cx, obj: &Object) -> FieldValue {
        let mut out: Vec<(String, FieldValue)> = Vec::new();
        for f in &obj.fields {
            if out.iter().any(|(n, _)| *n == f.name.name) {
                let d = messages::duplicate_body_field(f.name.span, &f.name.name);
                self.emit(cx.file, d);
                continue;
            }
            let v = match &f.value {
                Value::Object(o) => self.json_object(cx, o),
                Value::Expr(e) => FieldValue::Expr(self.expr(cx, e, None)),
                Value::File(lit) => {
                    self.emit(cx.file, messages::file_in_webhook_body(lit.span));
                    FieldValue::Object(Vec::new())
                }
            };
            out.push((f.name.name.clone(), v));
        }
        FieldValue::Object(out)
    }

    /// Loads and checks a `file("…")` template.
    fn template_file(&mut self, cx: &Cx, lit: &StringLit) -> FieldValue {
        let empty = FieldValue::Text(Vec::new());
        let Some(rel) = lit.as_plain() else {
            self.emit(cx.file, messages::template_path_interpolates(lit.span));
            return empty;
        };
        let flow_name = self.source(cx.file).name().to_owned();
        let base = Path::new(&flow_name).parent().unwrap_or(Path::new(""));
        let full = base.join(&rel);
        let file = match self.template_files.get(&full) {
            Some(f) => f.clone(),
            None => {
                let f = read_template(self.loader, &full, &rel);
                self.template_files.insert(full.clone(), f.clone());
                f
            }
        };
        let (text, variables) = match file {
            TemplateFile::Parsed(text, variables) => (text, variables),
            TemplateFile::Unreadable(error) => {
                let d = messages::unreadable_template_file(
                    lit.span,
                    &rel,
                    error.as_deref(),
                    &flow_name,
                    &full,
                );
                self.emit(cx.file, d);
                return empty;
            }
            TemplateFile::Syntax { detail, line, path } => {
                let d = messages::template_syntax(lit.span, &rel, &detail, line, &path);
                self.emit(cx.file, d);
                return empty;
            }
        };
        for var in &variables {
            if let Some(d) = self.template_variable(cx, var, lit.span, &rel) {
                self.emit(cx.file, d);
            }
        }
        FieldValue::File {
            path: rel,
            source: text,
            variables,
        }
    }

    /// What is wrong with a dotted variable of the template file `path`
    /// (named at `span`) in `cx`, if anything.
    fn template_variable(&self, cx: &Cx, var: &str, span: Span, path: &str) -> Option<Diagnostic> {
        let mut parts = var.split('.');
        let root = parts.next().unwrap_or("");
        let field = parts.next();
        if ENGINE_GLOBALS.contains(&root) {
            return None;
        }
        let (fields, owner): (Vec<&str>, Owner<'_>) = match root {
            "profile" => (
                self.profile
                    .fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect(),
                Owner::Profile,
            ),
            "event" => match &cx.event {
                EventScope::One(id) => {
                    let ev = &self.events[id.index()];
                    (
                        ev.schema.fields.iter().map(|f| f.name.as_str()).collect(),
                        Owner::Event(&ev.name),
                    )
                }
                EventScope::Many(ids) => {
                    let first = ids.first().map(|id| &self.events[id.index()])?;
                    let common: Vec<&str> = first
                        .schema
                        .fields
                        .iter()
                        .filter(|f| {
                            ids.iter().all(|id| {
                                self.events[id.index()]
                                    .schema
                                    .fields
                                    .iter()
                                    .any(|g| g.name == f.name && g.ty == f.ty)
                            })
                        })
                        .map(|f| f.name.as_str())
                        .collect();
                    (common, Owner::EveryTrigger)
                }
                EventScope::None(why) => {
                    return Some(messages::template_variable_without_event(
                        span, path, var, *why,
                    ));
                }
            },
            other => {
                if let Some(&id) = self.event_names.get(other) {
                    if cx.received.contains(&id) {
                        let ev = &self.events[id.index()];
                        (
                            ev.schema.fields.iter().map(|f| f.name.as_str()).collect(),
                            Owner::Event(&ev.name),
                        )
                    } else {
                        return Some(messages::template_variable_not_received(
                            span, path, var, other,
                        ));
                    }
                } else {
                    let suggestion = suggest::closest(other, ["profile", "event"]);
                    return Some(messages::template_variable_undefined(
                        span, path, var, suggestion,
                    ));
                }
            }
        };
        let field = field?;
        if parts.next().is_some() {
            return Some(messages::template_variable_past_field(
                span, path, var, root, field,
            ));
        }
        if fields.contains(&field) {
            return None;
        }
        let suggestion = suggest::closest(field, fields.iter().copied());
        Some(messages::template_variable_unknown_field(
            span, path, var, owner, root, suggestion, &fields,
        ))
    }

    /// Reports missing required fields of a complete message.
    pub(crate) fn require_fields(
        &mut self,
        cx: &Cx,
        channel: Channel,
        fields: &[&str],
        span: Span,
        what: MessageSite<'_>,
    ) {
        for group in required(channel) {
            if group.iter().any(|g| fields.contains(g)) {
                continue;
            }
            let d = messages::missing_message_field(
                span,
                what,
                channel,
                group,
                channel_fields(channel),
            );
            self.emit(cx.file, d);
        }
    }

    /// Checks every template declaration.
    pub(crate) fn check_templates(&mut self) -> Vec<TemplateDef> {
        let mut out = Vec::new();
        for i in 0..self.templates.len() {
            let (file, decl, event) = {
                let t = &self.templates[i];
                (t.file, t.decl, t.event)
            };
            if !self.in_focus(file) {
                continue;
            }
            let outer = self.set_owner(Some((file, decl.name.span.start)));
            let tag = self.fresh_tag();
            let scope = match event {
                Some(id) => {
                    self.use_event(id);
                    EventScope::One(id)
                }
                None if decl.event.is_some() => EventScope::Many(Vec::new()),
                None => EventScope::None(NoEvent::Template),
            };
            let mut cx = Cx::new(file, scope, tag);
            cx.template = Some(TemplateId(i as u32));
            let fields = if matches!(&cx.event, EventScope::Many(v) if v.is_empty()) {
                Vec::new()
            } else {
                let fields = self.message_fields(&cx, decl.channel.channel, &decl.fields);
                let names: Vec<&str> = decl
                    .fields
                    .fields
                    .iter()
                    .map(|f| f.name.name.as_str())
                    .collect();
                self.require_fields(
                    &cx,
                    decl.channel.channel,
                    &names,
                    decl.name.span,
                    MessageSite::Template(&decl.name.name),
                );
                fields
            };
            let def = TemplateDef {
                name: decl.name.name.clone(),
                channel: decl.channel.channel,
                event,
                fields,
                loc: Loc {
                    file,
                    span: decl.name.span,
                },
            };
            self.templates[i].typed = Some(def.clone());
            out.push(def);
            self.set_owner(outer);
        }
        out
    }

    /// The profile attribute that addresses `channel`: for email an
    /// `email`-typed field (`email` preferred), for sms a `phone`-typed
    /// one (`phone` preferred), for push the field `push_token`.
    pub(crate) fn address_field(&self, channel: Channel) -> Option<Option<ir::FieldId>> {
        let fields = &self.profile.fields;
        let find = |ty: Type, preferred: &str| {
            let matches = |f: &ir::FieldDef| *f.ty.strip_optional() == ty;
            fields
                .iter()
                .position(|f| f.name == preferred && matches(f))
                .or_else(|| fields.iter().position(matches))
                .map(|i| ir::FieldId(i as u32))
        };
        match channel {
            Channel::Email => Some(find(Type::Email, "email")),
            Channel::Sms => Some(find(Type::Phone, "phone")),
            Channel::Push => Some(
                fields
                    .iter()
                    .position(|f| f.name == "push_token" && f.ty.strip_optional().is_stringlike())
                    .map(|i| ir::FieldId(i as u32)),
            ),
            Channel::InApp | Channel::Webhook => None,
        }
    }
}
