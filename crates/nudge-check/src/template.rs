//! Message content: channel fields, inline text, `file(…)` templates
//! (minijinja) and their variables, declared templates.

use std::path::Path;

use nudge_syntax::ast::{self, Channel, Object, StringLit, Value};
use nudge_syntax::{Diagnostic, Span};

use crate::checker::{Checker, Cx, EventScope, NoEvent};
use crate::codes;
use crate::ir::{self, FieldValue, Loc, MessageField, TemplateDef, TemplateId};
use crate::suggest;
use crate::types::Type;

/// A template file, read and parsed once.
#[derive(Clone, Debug)]
pub(crate) enum TemplateFile {
    /// Its text and the variables it uses (dotted, sorted).
    Parsed(String, Vec<String>),
    /// It could not be read: why.
    Unreadable(String),
    /// It does not parse: what and where.
    Syntax(String),
}

fn read_template(loader: &dyn crate::TemplateLoader, path: &Path, rel: &str) -> TemplateFile {
    let text = match loader.load(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return TemplateFile::Unreadable("it does not exist".to_owned())
        }
        Err(e) => return TemplateFile::Unreadable(e.to_string()),
    };
    let env = minijinja::Environment::new();
    match env.template_from_named_str(rel, &text) {
        Ok(template) => {
            let mut variables: Vec<String> =
                template.undeclared_variables(true).into_iter().collect();
            variables.sort();
            TemplateFile::Parsed(text.clone(), variables)
        }
        Err(e) => {
            let line = e
                .line()
                .map(|l| format!(" at line {l}"))
                .unwrap_or_default();
            let detail = e
                .detail()
                .map(str::to_owned)
                .unwrap_or_else(|| e.kind().to_string());
            TemplateFile::Syntax(format!("{detail}{line} of `{rel}`"))
        }
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
                let help = suggest::did_you_mean(&f.name.name, allowed.iter().copied())
                    .unwrap_or_else(|| {
                        format!(
                            "`{}` messages have {}",
                            channel.as_str(),
                            suggest::one_of(allowed.iter().copied())
                        )
                    });
                let d = Diagnostic::error(
                    codes::UNKNOWN_MESSAGE_FIELD,
                    format!(
                        "`{}` messages have no field `{}`",
                        channel.as_str(),
                        f.name.name
                    ),
                )
                .with_primary(f.name.span, "unknown field")
                .with_help(help);
                self.emit(cx.file, d);
                continue;
            }
            if let Some(i) = out.iter().position(|m| m.name == f.name.name) {
                let d = Diagnostic::error(
                    codes::DUPLICATE_FIELD,
                    format!("field `{}` is given twice", f.name.name),
                )
                .with_primary(f.name.span, "given again here")
                .with_secondary(spans[i], "first given here")
                .with_help("remove one of them");
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
            let d = Diagnostic::error(
                codes::TYPE_MISMATCH,
                "a webhook message is an object, not text",
            )
            .with_primary(s.span, "text")
            .with_help("write `webhook { url: \"https://…\", body: { … } }`");
            self.emit(cx.file, d);
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
                let d = Diagnostic::error(
                    codes::TYPE_MISMATCH,
                    format!("`{name}` cannot come from a template file"),
                )
                .with_primary(lit.span, "a template file")
                .with_help("template files hold text fields such as an email's `html` or `text`");
                self.emit(cx.file, d);
                FieldValue::Text(Vec::new())
            }
            Value::Object(obj) if is_body_object => self.json_object(cx, obj),
            Value::Object(obj) => {
                let d = Diagnostic::error(
                    codes::TYPE_MISMATCH,
                    format!("`{name}` is text, not an object"),
                )
                .with_primary(obj.span, "an object")
                .with_help("write a string such as `\"Hi {profile.first_name ?? \"there\"}\"`");
                self.emit(cx.file, d);
                FieldValue::Text(Vec::new())
            }
            Value::Expr(e) => {
                if is_body_object {
                    let t = self.expr(cx, e, None);
                    let d = Diagnostic::error(codes::TYPE_MISMATCH, "a webhook `body` is an object")
                        .with_primary(t.span, "not an object")
                        .with_help("write the JSON to send as an object of values and paths: `body: { user: profile.id, total: event.total }`");
                    self.emit(cx.file, d);
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
                    let d = Diagnostic::error(
                        codes::TYPE_MISMATCH,
                        format!(
                            "`{name}` must be {}, not a `{}`",
                            if is_url { "a url" } else { "text" },
                            self.type_name(&t.ty)
                        ),
                    )
                    .with_primary(t.span, format!("a `{}`", self.type_name(&t.ty)))
                    .with_help("write a string; interpolate values with `{path}`");
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
                let d = Diagnostic::error(
                    codes::DUPLICATE_FIELD,
                    format!("field `{}` is given twice", f.name.name),
                )
                .with_primary(f.name.span, "given again here")
                .with_help("remove one of them");
                self.emit(cx.file, d);
                continue;
            }
            let v = match &f.value {
                Value::Object(o) => self.json_object(cx, o),
                Value::Expr(e) => FieldValue::Expr(self.expr(cx, e, None)),
                Value::File(lit) => {
                    let d = Diagnostic::error(
                        codes::TYPE_MISMATCH,
                        "a webhook body cannot hold a template file",
                    )
                    .with_primary(lit.span, "a template file")
                    .with_help("put values and `{path}` strings in a webhook body");
                    self.emit(cx.file, d);
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
            let d = Diagnostic::error(
                codes::TEMPLATE_FILE,
                "a template file path cannot interpolate",
            )
            .with_primary(lit.span, "interpolated path")
            .with_help("write the path as plain text, relative to this `.flow` file");
            self.emit(cx.file, d);
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
            TemplateFile::Unreadable(reason) => {
                let d = Diagnostic::error(
                    codes::TEMPLATE_FILE,
                    format!("cannot read template file `{rel}`"),
                )
                .with_primary(lit.span, reason)
                .with_help(format!(
                    "the path is relative to the folder of `{flow_name}`: it names `{}`",
                    full.display()
                ));
                self.emit(cx.file, d);
                return empty;
            }
            TemplateFile::Syntax(what) => {
                let d = Diagnostic::error(codes::TEMPLATE_SYNTAX, format!("template file `{rel}` does not parse"))
                    .with_primary(lit.span, what)
                    .with_help("fix the template: `{{ value }}` prints, `{% if … %}…{% endif %}` decides, `{% for x in … %}…{% endfor %}` repeats");
                self.emit(cx.file, d);
                return empty;
            }
        };
        for var in &variables {
            if let Err((message, help)) = self.template_variable(cx, var) {
                let d = Diagnostic::error(
                    codes::TEMPLATE_VARIABLE,
                    format!("template file `{rel}` uses `{var}`, {message}"),
                )
                .with_primary(lit.span, format!("uses `{var}`"))
                .with_help(help);
                self.emit(cx.file, d);
            }
        }
        FieldValue::File {
            path: rel,
            source: text,
            variables,
        }
    }

    /// Whether a dotted variable of a template file exists in `cx`.
    fn template_variable(&mut self, cx: &Cx, var: &str) -> Result<(), (String, String)> {
        let mut parts = var.split('.');
        let root = parts.next().unwrap_or("");
        let field = parts.next();
        if ENGINE_GLOBALS.contains(&root) {
            return Ok(());
        }
        let (fields, owner): (Vec<String>, String) = match root {
            "profile" => (
                self.profile.fields.iter().map(|f| f.name.clone()).collect(),
                "the profile".to_owned(),
            ),
            "event" => match &cx.event {
                EventScope::One(id) => {
                    let ev = &self.events[id.index()];
                    (
                        ev.schema.fields.iter().map(|f| f.name.clone()).collect(),
                        format!("event `{}`", ev.name),
                    )
                }
                EventScope::Many(ids) => {
                    let Some(first) = ids.first().map(|id| &self.events[id.index()]) else {
                        return Ok(());
                    };
                    let common: Vec<String> = first
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
                        .map(|f| f.name.clone())
                        .collect();
                    (common, "every trigger of this workflow".to_owned())
                }
                EventScope::None(why) => {
                    let help = if *why == NoEvent::Template {
                        "add `for EVENT` to the template to use that event's properties".to_owned()
                    } else {
                        "use `profile.` fields".to_owned()
                    };
                    return Err(("but there is no `event` here".to_owned(), help));
                }
            },
            other => {
                if let Some(&id) = self.event_names.get(other) {
                    if cx.received.contains(&id) {
                        let ev = &self.events[id.index()];
                        (
                            ev.schema.fields.iter().map(|f| f.name.clone()).collect(),
                            format!("event `{}`", ev.name),
                        )
                    } else {
                        return Err((
                            format!("but `{other}` is not received here"),
                            format!("`{other}.FIELD` is available in the `then` block of `wait for {other}`"),
                        ));
                    }
                } else {
                    let help = suggest::did_you_mean(other, ["profile", "event"])
                        .unwrap_or_else(|| "template files see `profile` and, for a template `for EVENT`, `event`; set other names with `{% set %}`".to_owned());
                    return Err(("which is not defined".to_owned(), help));
                }
            }
        };
        let Some(field) = field else { return Ok(()) };
        if parts.next().is_some() {
            return Err((
                format!("but `{root}.{field}` has no fields"),
                format!("use `{root}.{field}`"),
            ));
        }
        if fields.iter().any(|f| f == field) {
            return Ok(());
        }
        let help = match suggest::closest(field, fields.iter().map(String::as_str)) {
            Some(best) => format!("did you mean `{root}.{best}`?"),
            None => format!(
                "{owner} has {}",
                suggest::one_of(fields.iter().map(String::as_str))
            ),
        };
        Err((format!("which {owner} does not have"), help))
    }

    /// Reports missing required fields of a complete message.
    pub(crate) fn require_fields(
        &mut self,
        cx: &Cx,
        channel: Channel,
        fields: &[&str],
        span: Span,
        what: &str,
    ) {
        for group in required(channel) {
            if group.iter().any(|g| fields.contains(g)) {
                continue;
            }
            let names = suggest::one_of(group.iter().copied());
            let d = Diagnostic::error(
                codes::MISSING_MESSAGE_FIELD,
                format!("{what} has no {names}"),
            )
            .with_primary(
                span,
                format!("`{}` messages need {names}", channel.as_str()),
            )
            .with_help(format!(
                "add {} (`{}` messages have {})",
                if group.len() > 1 {
                    format!("one of {names}")
                } else {
                    names.clone()
                },
                channel.as_str(),
                suggest::all_of(channel_fields(channel).iter().copied())
            ));
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
                    &format!("template `{}`", decl.name.name),
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
