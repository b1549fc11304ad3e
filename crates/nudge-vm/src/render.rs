//! Rendering a message: template fields, then inline overrides.

use nudge_bytecode::{FieldValue, MessageField, MessageId, Module, StringId, StringPart};

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr};

use crate::message::{Fields, Rendered};
use crate::value::{profile_default, Props, Value};
use crate::vm::{Ctx, Vm, VmError};

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_value(v: &Value, out: &mut String) {
    match v {
        Value::None => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(x) if x.is_finite() => out.push_str(&format!("{x:?}")),
        Value::Float(_) => out.push_str("null"),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_value(item, out);
            }
            out.push(']');
        }
        other => json_string(&other.to_string(), out),
    }
}

/// A module's template files, compiled once.
#[derive(Debug, Default)]
pub struct TemplateCache {
    env: minijinja::Environment<'static>,
    /// Every declared profile field with its default, for templates.
    profile_defaults: Arc<Props>,
    /// Field names, shared by every message, by string id.
    names: Vec<Option<Arc<str>>>,
    /// Template names, shared by every message, by template.
    template_names: Vec<Arc<str>>,
}

impl TemplateCache {
    /// The cache key: unique per file content, ending in the file's name
    /// (minijinja picks HTML escaping by the name's extension).
    fn key(source: StringId, path: &str) -> String {
        format!("{source}/{path}")
    }

    /// Compiles every template file the module's templates and messages
    /// name. A file that does not compile is left out and reports its error
    /// when rendered.
    pub fn new(module: &Module) -> Self {
        fn add(env: &mut minijinja::Environment<'static>, m: &Module, fields: &[MessageField]) {
            for f in fields {
                match &f.value {
                    FieldValue::File { path, source } => {
                        let key = TemplateCache::key(*source, m.string(*path));
                        let _ = env.add_template_owned(key, m.string(*source).to_owned());
                    }
                    FieldValue::Object(inner) => add(env, m, inner),
                    FieldValue::Text(_) | FieldValue::Expr(_) => {}
                }
            }
        }
        let mut env = environment();
        for t in &module.templates {
            add(&mut env, module, &t.fields);
        }
        for msg in &module.messages {
            add(&mut env, module, &msg.overrides);
        }
        let mut names = vec![None; module.strings.len()];
        let mut name = |id: StringId| {
            if let Some(slot) = names.get_mut(id as usize) {
                *slot = Some(Arc::from(module.string(id)));
            }
        };
        for t in &module.templates {
            t.fields.iter().for_each(|f| name(f.name));
        }
        for msg in &module.messages {
            msg.overrides.iter().for_each(|f| name(f.name));
        }
        TemplateCache {
            env,
            profile_defaults: Arc::new(profile_defaults(module)),
            names,
            template_names: module
                .templates
                .iter()
                .map(|t| Arc::from(t.name.as_str()))
                .collect(),
        }
    }
}

fn jinja(v: &Value) -> minijinja::Value {
    match v {
        Value::None => minijinja::Value::from(()),
        Value::Bool(b) => minijinja::Value::from(*b),
        Value::Int(i) => minijinja::Value::from(*i),
        Value::Float(x) => minijinja::Value::from(*x),
        Value::Str(s) => minijinja::Value::from(s.clone()),
        Value::List(items) => items.iter().map(jinja).collect(),
        other => minijinja::Value::from(other.to_string()),
    }
}

/// Event properties as a template sees them, read on demand.
#[derive(Debug)]
struct PropsView(Props);

impl Object for PropsView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        self.0.get(key.as_str()?).map(jinja)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.keys().map(minijinja::Value::from).collect())
    }
}

/// A profile as a template sees it: every declared field (set, else its
/// default, else none) and `id`, read on demand rather than copied into a
/// map for every message.
#[derive(Debug)]
struct ProfileView {
    id: minijinja::Value,
    set: Props,
    /// Every declared field with its default (none when it has none).
    defaults: Arc<Props>,
}

impl Object for ProfileView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let key = key.as_str()?;
        if key == "id" {
            return Some(self.id.clone());
        }
        let default = self.defaults.get(key)?;
        Some(jinja(self.set.get(key).unwrap_or(default)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<&str> = self.defaults.keys().chain(["id"]).collect();
        keys.sort_unstable();
        keys.dedup();
        Enumerator::Values(keys.into_iter().map(minijinja::Value::from).collect())
    }
}

/// The names a template file sees: `profile`, `event` (the trigger's
/// properties) and each event received by `wait for`, by its name (a
/// received event's name wins over the others).
#[derive(Debug)]
struct Scope {
    profile: minijinja::Value,
    event: Option<minijinja::Value>,
    received: Vec<(Arc<str>, minijinja::Value)>,
}

impl Object for Scope {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let key = key.as_str()?;
        if let Some((_, v)) = self.received.iter().rev().find(|(k, _)| &**k == key) {
            return Some(v.clone());
        }
        match key {
            "event" => self.event.clone(),
            "profile" => Some(self.profile.clone()),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<&str> = ["profile"]
            .into_iter()
            .chain(self.event.as_ref().map(|_| "event"))
            .chain(self.received.iter().map(|(k, _)| &**k))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        Enumerator::Values(keys.into_iter().map(minijinja::Value::from).collect())
    }
}

/// A template environment where `none` prints as nothing (an unset
/// optional field must not print as a word in a message); everything else
/// prints as minijinja prints it, escaped for `.html` files.
fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            Ok(())
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env.add_filter("number", number_filter);
    env.add_filter("date", date_filter);
    env
}

fn filter_error(message: String) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message)
}

/// `{{ event.total | number(".2") }}`: a number written as an inline
/// `{event.total:.2}` writes it (none stays none).
fn number_filter(
    value: minijinja::Value,
    spec: String,
) -> Result<minijinja::Value, minijinja::Error> {
    use nudge_core::format_spec::{number, write_int, write_number};
    if value.is_none() || value.is_undefined() {
        return Ok(value);
    }
    let f = number(&spec).map_err(filter_error)?;
    if let Some(i) = value.as_i64() {
        return Ok(minijinja::Value::from(write_int(i, f)));
    }
    let x = f64::try_from(value.clone())
        .map_err(|_| filter_error(format!("`number` writes numbers, not `{value}`")))?;
    Ok(minijinja::Value::from(write_number(x, f)))
}

/// `{{ profile.trial_ends_at | date("%B %-d") }}`: a time written with a
/// strftime pattern in the profile's time zone (`profile.timezone`, else
/// UTC), as an inline `{…:%B %-d}` writes it (none stays none).
fn date_filter(
    state: &minijinja::State<'_, '_>,
    value: minijinja::Value,
    spec: String,
) -> Result<minijinja::Value, minijinja::Error> {
    if value.is_none() || value.is_undefined() {
        return Ok(value);
    }
    nudge_core::format_spec::time(&spec).map_err(filter_error)?;
    let text = value.to_string();
    let at = chrono::DateTime::parse_from_rfc3339(&text)
        .map_err(|_| filter_error(format!("`date` writes times, not `{text}`")))?;
    let zone = state
        .lookup("profile")
        .and_then(|p| p.get_attr("timezone").ok())
        .and_then(|z| z.as_str().and_then(crate::time::zone))
        .unwrap_or(chrono_tz::Tz::UTC);
    Ok(minijinja::Value::from(
        at.with_timezone(&zone).format(&spec).to_string(),
    ))
}

/// Every declared profile field with its default (none when it has none).
fn profile_defaults(module: &Module) -> Props {
    module
        .schemas
        .profile
        .iter()
        .map(|f| (f.name.as_str(), profile_default(module, &f.name)))
        .collect()
}

impl Vm<'_> {
    /// Renders a template file frozen in the module with `profile`,
    /// `event` and the events received by `wait for` in scope. `.html`
    /// files are escaped (minijinja picks escaping by file name).
    fn render_file(
        &self,
        path: StringId,
        source: StringId,
        ctx: &Ctx<'_>,
    ) -> Result<String, VmError> {
        let defaults = match self.templates {
            Some(cache) => cache.profile_defaults.clone(),
            None => Arc::new(profile_defaults(self.module)),
        };
        // Facts that do not hold their attributes as `Props` are read
        // field by field.
        let set = ctx.facts.attributes().unwrap_or_else(|| {
            defaults
                .keys()
                .map(|k| (k, ctx.facts.attribute(k)))
                .collect()
        });
        let profile = minijinja::Value::from_object(ProfileView {
            id: minijinja::Value::from(ctx.facts.profile_id()),
            set,
            defaults,
        });
        let view =
            |e: &crate::value::Event| minijinja::Value::from_object(PropsView(e.props.clone()));
        let root = minijinja::Value::from_object(Scope {
            profile,
            event: ctx.event.map(|(e, _)| view(e)),
            received: ctx
                .journey
                .map(|j| {
                    j.received
                        .iter()
                        .map(|(_, e)| (e.name.clone(), view(e)))
                        .collect()
                })
                .unwrap_or_default(),
        });
        let name = self.module.string(path);
        let fail = |e: minijinja::Error| VmError::Render(name.to_owned(), e.to_string());
        if let Some(t) = self
            .templates
            .and_then(|c| c.env.get_template(&TemplateCache::key(source, name)).ok())
        {
            return t.render(root).map_err(fail);
        }
        let env = environment();
        env.template_from_named_str(name, self.module.string(source))
            .and_then(|t| t.render(root))
            .map_err(fail)
    }

    fn text(&self, parts: &[StringPart], ctx: &Ctx<'_>) -> Result<String, VmError> {
        let mut out = String::new();
        for p in parts {
            match *p {
                StringPart::Text(s) => out.push_str(self.module.string(s)),
                StringPart::Value(f) => out.push_str(&self.eval(f, ctx)?.to_string()),
            }
        }
        Ok(out)
    }

    fn object_json(
        &self,
        fields: &[MessageField],
        ctx: &Ctx<'_>,
        out: &mut String,
    ) -> Result<(), VmError> {
        out.push('{');
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_string(self.module.string(f.name), out);
            out.push(':');
            match &f.value {
                FieldValue::Text(parts) => json_string(&self.text(parts, ctx)?, out),
                FieldValue::Expr(e) => json_value(&self.eval(*e, ctx)?, out),
                FieldValue::File { source, .. } => json_string(self.module.string(*source), out),
                FieldValue::Object(inner) => self.object_json(inner, ctx, out)?,
            }
        }
        out.push('}');
        Ok(())
    }

    fn render_fields(
        &self,
        fields: &[MessageField],
        ctx: &Ctx<'_>,
        out: &mut Fields,
    ) -> Result<(), VmError> {
        for f in fields {
            let text = match &f.value {
                FieldValue::Text(parts) => self.text(parts, ctx)?,
                FieldValue::Expr(e) => self.eval(*e, ctx)?.to_string(),
                FieldValue::File { path, source } => self.render_file(*path, *source, ctx)?,
                FieldValue::Object(inner) => {
                    let mut s = String::new();
                    self.object_json(inner, ctx, &mut s)?;
                    s
                }
            };
            out.insert(self.shared_string(f.name), text);
        }
        Ok(())
    }

    /// A string of the module, shared when the template cache holds it.
    fn shared_string(&self, id: StringId) -> Arc<str> {
        self.templates
            .and_then(|c| c.names.get(id as usize)?.clone())
            .unwrap_or_else(|| Arc::from(self.module.string(id)))
    }

    /// Renders a message in a journey's context (`ctx` carries the trigger
    /// event and the journey).
    pub fn render(&self, message: MessageId, ctx: &Ctx<'_>) -> Result<Rendered, VmError> {
        let desc = self
            .module
            .message(message)
            .ok_or(VmError::Invalid("message"))?;
        let mut fields = Fields::new();
        let mut template = None;
        if let Some(ti) = desc.template {
            let t = self
                .module
                .templates
                .get(ti as usize)
                .ok_or(VmError::Invalid("template"))?;
            let shared = self
                .templates
                .and_then(|c| c.template_names.get(ti as usize).cloned());
            template = Some(shared.unwrap_or_else(|| Arc::from(t.name.as_str())));
            self.render_fields(&t.fields, ctx, &mut fields)?;
        }
        self.render_fields(&desc.overrides, ctx, &mut fields)?;
        Ok(Rendered {
            channel: desc.channel,
            template,
            fields,
        })
    }
}
