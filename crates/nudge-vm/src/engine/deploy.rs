//! Deploying a module version: [`Engine::deploy`] and the per-version
//! tables it builds for the current version (triggers by event name,
//! shared names, compiled templates, `inactive for` workflows and their
//! spells, the profile fields required to enter), with the lookup of a
//! shared name.

use std::collections::HashMap;
use std::sync::Arc;

use nudge_bytecode::{EventMatch, Module, Trigger, Type, Window, WorkflowId};

use super::Engine;
use crate::store::Store;

/// The workflows an event may start, with the trigger that names it.
pub(super) type Triggers = Arc<[(WorkflowId, EventMatch)]>;

impl<S: Store> Engine<S> {
    /// Makes `module` the current version; running journeys keep theirs.
    /// Returns its content hash.
    pub fn deploy(&mut self, module: Module) -> u64 {
        let hash = match module.to_bytes() {
            Ok(bytes) => Module::content_hash(&bytes),
            Err(_) => nudge_bytecode::stable_hash(format!("{module:?}").as_bytes()),
        };
        let mut by_event: HashMap<Arc<str>, Vec<(WorkflowId, EventMatch)>> = HashMap::new();
        let mut quiet_workflows = Vec::new();
        for (wi, w) in module.workflows.iter().enumerate() {
            let wi = WorkflowId::try_from(wi).unwrap_or(WorkflowId::MAX);
            let mut shortest: Option<i64> = None;
            for t in &w.triggers {
                match t {
                    Trigger::Event(m) => by_event
                        .entry(Arc::from(module.event_name(m.event)))
                        .or_default()
                        .push((wi, *m)),
                    Trigger::Inactive(d) => {
                        let d = module.duration(*d);
                        shortest = Some(shortest.map_or(d, |s| s.min(d)));
                    }
                    Trigger::Date(_) => {}
                }
            }
            if let Some(d) = shortest {
                quiet_workflows.push((Arc::from(w.name.as_str()), d));
            }
        }
        let triggers_by_event = by_event
            .into_iter()
            .map(|(name, list)| (name, Arc::from(list)))
            .collect();
        self.templates = Arc::new(crate::render::TemplateCache::new(&module));
        let module = Arc::new(module);
        self.store.put_module(hash, module.clone());
        self.retention = retention(
            self.store
                .module_hashes()
                .into_iter()
                .filter_map(|h| self.store.module(h))
                .chain(std::iter::once(module.clone())),
        );
        self.module = module;
        self.module_hash = hash;
        self.triggers_by_event = triggers_by_event;
        let schemas = &self.module.schemas;
        self.names = schemas
            .events
            .iter()
            .flat_map(|e| std::iter::once(&e.name).chain(e.fields.iter().map(|f| &f.name)))
            .chain(schemas.profile.iter().map(|f| &f.name))
            .chain(self.module.workflows.iter().map(|w| &w.name))
            .map(|n| Arc::from(n.as_str()))
            .collect();
        for (name, _) in &quiet_workflows {
            if !self.quiet_names_seen.contains(name) {
                self.quiet_names_seen.push(name.clone());
            }
        }
        self.quiet_names_current = self
            .quiet_names_seen
            .iter()
            .all(|n| quiet_workflows.iter().any(|(q, _)| q == n));
        self.quiet_workflows = quiet_workflows;
        self.date_triggers = Arc::from(super::dates::date_triggers(&self.module));
        self.required = self
            .module
            .schemas
            .profile
            .iter()
            .filter(|f| !matches!(f.ty, Type::Optional(_)) && f.default.is_none())
            .map(|f| Arc::from(f.name.as_str()))
            .collect();
        hash
    }

    /// The engine's shared copy of a declared name, or a new one.
    pub(super) fn name(&self, name: &str) -> Arc<str> {
        self.names
            .get(name)
            .cloned()
            .unwrap_or_else(|| Arc::from(name))
    }
}

/// The `inactive for` workflows of a module.
pub(super) fn quiet_workflow_names(module: &Module) -> Vec<Arc<str>> {
    module
        .workflows
        .iter()
        .filter(|w| w.triggers.iter().any(|t| matches!(t, Trigger::Inactive(_))))
        .map(|w| Arc::from(w.name.as_str()))
        .collect()
}

/// What the versions deployed so far can read of each event's history:
/// `None` keeps every event of that name (a `did` over all time or since
/// entry), `Some(seconds)` the events of the last that long (the longest
/// `within`); a name no `did` reads keeps none.
pub(super) fn retention(
    modules: impl Iterator<Item = Arc<Module>>,
) -> HashMap<Arc<str>, Option<i64>, crate::store::FxBuild> {
    let mut keep: HashMap<Arc<str>, Option<i64>, crate::store::FxBuild> = HashMap::default();
    for m in modules {
        for q in &m.queries {
            let window = match q.window {
                Window::Within(d) => Some(m.duration(d)),
                Window::Ever | Window::SinceEntry => None,
            };
            let slot = keep
                .entry(Arc::from(m.event_name(q.event.event)))
                .or_insert(window);
            *slot = match (*slot, window) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
    }
    keep
}
