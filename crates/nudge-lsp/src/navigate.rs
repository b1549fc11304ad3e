//! Hover and go to definition: what the name under the cursor refers to.

use nudge_check::Target;
use nudge_syntax::Span;

use crate::index::{DeclKind, Index, Member};

/// Where a target is declared: file index and the name's span.
pub fn definition(index: &Index, target: &Target) -> Option<(usize, Span)> {
    let decl = |kind, name: &str| index.decl(kind, name).map(|d| (d.file, d.name_span));
    let member = |m: &Member| (m.file, m.span);
    match target {
        Target::Event(e) => decl(DeclKind::Event, e),
        Target::Segment(s) => decl(DeclKind::Segment, s),
        Target::Template(t) => decl(DeclKind::Template, t),
        Target::Workflow(w) => decl(DeclKind::Workflow, w),
        Target::Enum(e) => decl(DeclKind::Enum, e),
        Target::EnumMember {
            enum_name,
            member: m,
        } => index.enum_member(enum_name, m).map(member),
        Target::Profile => decl(DeclKind::Profile, "profile"),
        Target::ProfileField(f) => index.profile_field(f).map(member),
        Target::ContextEvent(events) => decl(DeclKind::Event, events.first()?),
        Target::EventField { event, field } => index.event_field(event, field).map(member),
        Target::Goal { workflow, goal } => index
            .goals(workflow.as_deref(), goal)
            .first()
            .map(|(_, m)| member(m)),
    }
}

/// Markdown describing a target.
pub fn hover(index: &Index, target: &Target) -> Option<String> {
    let decl = |kind, name: &str| {
        index
            .decl(kind, name)
            .map(|d| with_doc(&code(&d.detail), d.doc.as_deref()))
    };
    match target {
        Target::Event(e) => decl(DeclKind::Event, e),
        Target::Segment(s) => decl(DeclKind::Segment, s),
        Target::Template(t) => decl(DeclKind::Template, t),
        Target::Workflow(w) => decl(DeclKind::Workflow, w),
        Target::Enum(e) => decl(DeclKind::Enum, e),
        Target::EnumMember { enum_name, member } => index
            .enum_member(enum_name, member)
            .map(|m| enum_member(enum_name, m)),
        Target::Profile => decl(DeclKind::Profile, "profile"),
        Target::ProfileField(f) => {
            if f == "id" && index.profile_field("id").is_none() {
                return Some(with_doc(
                    &code("profile.id: string"),
                    Some("Every profile's id: the `userId` of incoming events."),
                ));
            }
            let m = index.profile_field(f)?;
            Some(with_doc(
                &code(&format!("profile.{}: {}", m.name, m.ty)),
                m.doc.as_deref(),
            ))
        }
        Target::ContextEvent(events) => {
            if let [e] = events.as_slice() {
                let d = index.decl(DeclKind::Event, e)?;
                return Some(with_doc(
                    &format!("{}\n`event` is `{e}` here", code(&d.detail)),
                    d.doc.as_deref(),
                ));
            }
            // Several triggers: `event` is whichever of them came.
            let names: Vec<String> = events.iter().map(|e| format!("`{e}`")).collect();
            let mut parts = vec![format!("`event` is any of {} here", names.join(", "))];
            parts.extend(
                events
                    .iter()
                    .filter_map(|e| index.decl(DeclKind::Event, e))
                    .map(|d| with_doc(&code(&d.detail), d.doc.as_deref())),
            );
            Some(parts.join("\n\n---\n\n"))
        }
        Target::EventField { event, field } => {
            let m = index.event_field(event, field)?;
            Some(with_doc(
                &format!(
                    "{}\nproperty of event `{event}`",
                    code(&format!("{}: {}", m.name, m.ty))
                ),
                m.doc.as_deref(),
            ))
        }
        Target::Goal { workflow, goal: g } => {
            let parts: Vec<String> = index
                .goals(workflow.as_deref(), g)
                .iter()
                .map(|(w, m)| {
                    let event = m.ty.strip_prefix("goal: ").unwrap_or_default();
                    format!(
                        "{}\ngoal of workflow `{}`, reached on `{event}`",
                        code(&format!("goal {g}")),
                        w.name
                    )
                })
                .collect();
            (!parts.is_empty()).then(|| parts.join("\n\n---\n\n"))
        }
    }
}

fn enum_member(enum_name: &str, m: &Member) -> String {
    with_doc(
        &format!("{}\nmember of enum `{enum_name}`", code(&m.name)),
        m.doc.as_deref(),
    )
}

fn code(text: &str) -> String {
    format!("```flow\n{text}\n```")
}

fn with_doc(head: &str, doc: Option<&str>) -> String {
    match doc {
        Some(doc) if !doc.trim().is_empty() => format!("{head}\n\n{doc}"),
        _ => head.to_owned(),
    }
}
