//! Which event `event.*` means in each function.

use crate::instr::*;
use crate::module::*;

/// For each function, the event that `event.*` refers to inside it.
pub fn event_contexts(m: &Module) -> Vec<Option<EventId>> {
    let mut ctx = vec![None; m.functions.len()];
    let mut set = |f: Option<FunctionId>, e: EventId| {
        if let Some(slot) = f.and_then(|f| ctx.get_mut(f as usize)) {
            *slot = Some(e);
        }
    };
    for w in &m.workflows {
        let first = w.triggers.iter().find_map(|t| match t {
            Trigger::Event(e) => Some(e.event),
            Trigger::Inactive(_) | Trigger::Date(_) => None,
        });
        for t in &w.triggers {
            if let Trigger::Event(e) = t {
                set(e.filter, e.event);
            }
        }
        if let Some(e) = first {
            set(Some(w.body), e);
            set(w.audience, e);
        }
        for e in &w.exit_on {
            set(e.filter, e.event);
        }
        for g in &w.goals {
            set(g.event.filter, g.event.event);
        }
    }
    for q in &m.queries {
        set(q.event.filter, q.event.event);
    }
    for w in &m.wait_fors {
        set(w.event.filter, w.event.event);
    }
    for e in &m.escalations {
        set(e.until.filter, e.until.event);
    }
    fn fields(fs: &[MessageField], e: EventId, set: &mut dyn FnMut(Option<FunctionId>, EventId)) {
        for f in fs {
            match &f.value {
                FieldValue::Text(parts) => {
                    for p in parts {
                        if let StringPart::Value(id) = p {
                            set(Some(*id), e);
                        }
                    }
                }
                FieldValue::Expr(id) => set(Some(*id), e),
                FieldValue::File { .. } => {}
                FieldValue::Object(inner) => fields(inner, e, set),
            }
        }
    }
    for t in &m.templates {
        if let Some(e) = t.event {
            fields(&t.fields, e, &mut set);
        }
    }
    // Inline message fields see the trigger of the workflow that sends them.
    for w in &m.workflows {
        let first = w.triggers.iter().find_map(|t| match t {
            Trigger::Event(e) => Some(e.event),
            Trigger::Inactive(_) | Trigger::Date(_) => None,
        });
        let (Some(e), Some(body)) = (first, m.functions.get(w.body as usize)) else {
            continue;
        };
        for instr in &body.code {
            if let Instr::Send(id) = instr {
                if let Some(msg) = m.messages.get(*id as usize) {
                    fields(&msg.overrides, e, &mut set);
                }
            }
        }
    }
    ctx
}
