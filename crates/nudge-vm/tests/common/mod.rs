//! A small kit for hand-assembling test modules with the bytecode builder.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nudge_bytecode::*;
use nudge_vm::{Event, Facts, Props, Value};

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn props(pairs: &[(&str, Value)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// A module builder with the shop's schema declared.
pub struct Kit {
    pub mb: ModuleBuilder,
    pub events: HashMap<&'static str, EventId>,
    pub profile: HashMap<&'static str, FieldId>,
}

impl Kit {
    pub fn new() -> Self {
        let mut mb = ModuleBuilder::new("test");
        let mut profile = HashMap::new();
        let opt = |t: Type| Type::Optional(Box::new(t));
        for (name, ty) in [
            ("email", opt(Type::Email)),
            ("phone", opt(Type::Phone)),
            ("push_token", opt(Type::String)),
            ("first_name", opt(Type::String)),
            ("plan", opt(Type::String)),
            ("timezone", Type::Timezone),
            ("tags", opt(Type::List(Box::new(Type::String)))),
        ] {
            profile.insert(name, mb.profile_field(name, ty).unwrap());
        }
        let mut schemas = mb.module().schemas.clone();
        schemas.profile[profile["timezone"] as usize].default = Some(Const::Str("UTC".into()));
        mb.set_schemas(schemas);
        let mut events = HashMap::new();
        for (name, fields) in [
            (
                "checkout_abandoned",
                vec![("product_name", Type::String), ("cart_total", Type::Float)],
            ),
            ("order_completed", vec![("total", Type::Float)]),
            ("login", vec![]),
            (
                "feature_used",
                vec![("feature", Type::String), ("first_time", Type::Bool)],
            ),
            ("account_created", vec![]),
            ("setup_completed", vec![]),
            ("ping", vec![]),
            ("a", vec![]),
            ("b", vec![]),
            ("c", vec![]),
        ] {
            events.insert(name, mb.event_schema(name, &fields).unwrap());
        }
        Kit {
            mb,
            events,
            profile,
        }
    }

    pub fn ev(&self, name: &str) -> EventId {
        self.events[name]
    }

    pub fn on(&self, name: &str) -> EventMatch {
        EventMatch {
            event: self.ev(name),
            filter: None,
        }
    }

    pub fn dur(&mut self, seconds: i64) -> DurationId {
        self.mb.duration(seconds).unwrap()
    }

    /// An expression function from raw code.
    pub fn expr(&mut self, name: &str, code: &[Instr]) -> FunctionId {
        let mut f = FunctionBuilder::new(name, FunctionKind::Expr);
        for i in code {
            f.emit(*i);
        }
        self.mb.add_function(f).unwrap()
    }

    /// A message on `channel` with a template of that name and a `subject`
    /// (or `text`/`body`) field of fixed text.
    pub fn message(&mut self, channel: Channel, template: &str) -> MessageId {
        let field = self.mb.string(match channel {
            Channel::Email => "subject",
            Channel::Sms => "text",
            _ => "body",
        });
        let text = self.mb.string(template);
        let t = self
            .mb
            .add_template(Template {
                name: template.to_owned(),
                channel,
                event: None,
                fields: vec![MessageField {
                    name: field,
                    value: FieldValue::Text(vec![StringPart::Text(text)]),
                }],
            })
            .unwrap();
        self.mb
            .add_message(MessageDesc {
                channel,
                template: Some(t),
                overrides: vec![],
                address: match channel {
                    Channel::Email => Some(self.profile["email"]),
                    Channel::Sms => Some(self.profile["phone"]),
                    Channel::Push => Some(self.profile["push_token"]),
                    _ => None,
                },
            })
            .unwrap()
    }

    /// A workflow triggered by `trigger` with a body from `body`.
    pub fn workflow(
        &mut self,
        name: &str,
        triggers: Vec<Trigger>,
        body: impl FnOnce(&mut Self, &mut FunctionBuilder),
    ) -> WorkflowId {
        let mut f = FunctionBuilder::new(format!("workflow {name}"), FunctionKind::Body);
        body(self, &mut f);
        let body = self.mb.add_function(f).unwrap();
        self.mb
            .add_workflow(Workflow {
                name: name.to_owned(),
                triggers,
                audience: None,
                exit_on: vec![],
                entry: EntryRule::Default,
                goals: vec![],
                priority: Priority::Marketing,
                body,
            })
            .unwrap()
    }

    pub fn set<F: FnOnce(&mut Workflow)>(&mut self, wf: WorkflowId, edit: F) {
        edit(&mut self.mb.module_mut().workflows[wf as usize]);
    }

    pub fn build(self) -> Module {
        self.mb.build_verified().expect("test module verifies")
    }
}

/// Facts over plain vectors.
pub struct TestFacts {
    pub id: String,
    pub attributes: Props,
    pub events: Vec<Event>,
    pub created_at: DateTime<Utc>,
}

impl TestFacts {
    pub fn new(id: &str, created_at: DateTime<Utc>) -> Self {
        TestFacts {
            id: id.to_owned(),
            attributes: Props::new(),
            events: Vec::new(),
            created_at,
        }
    }

    /// Adds an event to history and returns it.
    pub fn add(&mut self, name: &str, at: DateTime<Utc>, props: Props) -> Event {
        let e = Event {
            name: name.into(),
            at,
            seq: self.events.len() as u64 + 1,
            props,
        };
        self.events.push(e.clone());
        e
    }
}

impl Facts for TestFacts {
    fn profile_id(&self) -> &str {
        &self.id
    }

    fn attribute(&self, name: &str) -> Value {
        self.attributes.get(name).cloned().unwrap_or(Value::None)
    }

    fn history(&self, name: &str, visit: &mut dyn FnMut(&Event) -> bool) {
        for e in self.events.iter().rev() {
            if &*e.name == name && !visit(e) {
                return;
            }
        }
    }

    fn last_activity(&self) -> DateTime<Utc> {
        self.events.last().map_or(self.created_at, |e| e.at)
    }
}
