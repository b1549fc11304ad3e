//! What each name written in a file resolved to, recorded by the checker
//! as it resolves it: the language server's hover, go to definition and
//! the like read these instead of resolving names a second time.
//!
//! References are kept for everything that resolves, also when the
//! project has errors elsewhere. A name that does not resolve (a typo, a
//! bare name where the expected type is unknown because the other side of
//! a comparison failed) has no reference.

use nudge_syntax::Span;

/// A name written in a file and what it refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// Where the name is written.
    pub span: Span,
    /// What it refers to.
    pub target: Target,
}

/// What a written name refers to. Declarations are named by their names:
/// names are unique per kind in a project (a duplicate is an error, and
/// its name refers to the first declaration).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// An event: a declaration's name, a trigger, `did`, `wait for`, a test
    /// step, the root of `EVENT.x`, a template's `for EVENT`.
    Event(String),
    /// A segment: its declaration's name or `in NAME`.
    Segment(String),
    /// A template: its declaration's name, a message or an expectation.
    Template(String),
    /// A workflow: its declaration's name or `expect … entered NAME`.
    Workflow(String),
    /// An enum: its declaration's name or a type.
    Enum(String),
    /// A member of an enum: in its declaration, or a bare name where that
    /// enum is expected.
    EnumMember {
        /// The enum.
        enum_name: String,
        /// The member.
        member: String,
    },
    /// The `profile` keyword of the declaration, or the root of a path.
    Profile,
    /// A profile attribute: its declaration, `profile.x`, or a field of
    /// `given profile` or `identify` in a test (`id` included).
    ProfileField(String),
    /// The `event` root of a path: the event of the innermost `where`,
    /// else the template's `for` event or the workflow's trigger. A
    /// workflow with several triggers lists them all (in the order
    /// written); the list is never empty.
    ContextEvent(Vec<String>),
    /// A property of an event: its declaration, `event.x` or `EVENT.x`, or
    /// a field of an event in a test step. Where `event` may be several
    /// triggers, the first one.
    EventField {
        /// The event.
        event: String,
        /// The property.
        field: String,
    },
    /// A workflow's goal: its declaration (`goal converted = …`, with the
    /// workflow) or `expect … reached goal converted` (a goal of any
    /// workflow, as the test runner matches it: by name).
    Goal {
        /// The workflow, when the goal is its declaration.
        workflow: Option<String>,
        /// The goal.
        goal: String,
    },
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use nudge_syntax::SourceFile;

    use super::{Reference, Target};
    use crate::{check_project, Checked, FsLoader};

    fn check(text: &str) -> Checked {
        let src = Arc::new(SourceFile::new("a.flow", text));
        check_project(&[src], &FsLoader)
    }

    /// What `word` refers to where it is written inside the first
    /// occurrence of `needle` (its last `word`).
    fn targets(checked: &Checked, text: &str, needle: &str, word: &str) -> Vec<Target> {
        let start = text.find(needle).unwrap() + needle.rfind(word).unwrap();
        let end = start + word.len();
        checked.references[0]
            .iter()
            .filter(|r| r.span.start as usize == start && r.span.end as usize == end)
            .map(|r| r.target.clone())
            .collect()
    }

    fn line_of(text: &str, offset: usize) -> usize {
        text[..offset].matches('\n').count()
    }

    #[test]
    fn references_are_kept_past_an_error() {
        let text = "enum Plan { starter, pro }\n\
                    profile { plan: Plan, email: email? }\n\
                    event bought { total: float }\n\
                    segment broken = profile.plna == pro\n\
                    workflow w {\n  on bought where event.total > 1.0\n  audience profile.plan == pro\n}\n";
        let checked = check(text);
        assert!(checked.has_errors(), "{:?}", checked.diagnostics);
        assert!(checked.program.is_none());
        assert_eq!(checked.references.len(), 1);
        let error_line = line_of(text, text.find("plna").unwrap());
        let after: Vec<&Reference> = checked.references[0]
            .iter()
            .filter(|r| line_of(text, r.span.start as usize) > error_line)
            .collect();
        assert!(after.len() >= 6, "{after:#?}");
        assert_eq!(
            targets(&checked, text, "event.total", "total"),
            [Target::EventField {
                event: "bought".into(),
                field: "total".into()
            }]
        );
        assert_eq!(
            targets(&checked, text, "event.total", "event"),
            [Target::ContextEvent(vec!["bought".into()])]
        );
        assert_eq!(
            targets(&checked, text, "audience profile.plan == pro", "pro"),
            [Target::EnumMember {
                enum_name: "Plan".into(),
                member: "pro".into()
            }]
        );
        // The misspelt name has no reference, nor has `pro` beside it (the
        // enum expected there is unknown); the lists are sorted, without
        // duplicates.
        assert_eq!(targets(&checked, text, "profile.plna", "plna"), []);
        assert_eq!(targets(&checked, text, "plna == pro", "pro"), []);
        let list = &checked.references[0];
        assert!(list
            .windows(2)
            .all(|w| w[0].span <= w[1].span && w[0] != w[1]));
    }

    #[test]
    fn a_member_of_two_enums_is_the_expected_enums() {
        let text = "enum Plan { free, pro }\n\
                    enum Tier { free, gold }\n\
                    profile { plan: Plan, tier: Tier }\n\
                    event a { x: int }\n\
                    event b { x: int }\n\
                    segment s = profile.tier == free and profile.plan != free\n\
                    workflow w {\n  on a, b\n  if event.x > 1 { exit }\n}\n";
        let checked = check(text);
        let member = |enum_name: &str| Target::EnumMember {
            enum_name: enum_name.into(),
            member: "free".into(),
        };
        assert_eq!(
            targets(&checked, text, "tier == free", "free"),
            [member("Tier")]
        );
        assert_eq!(
            targets(&checked, text, "plan != free", "free"),
            [member("Plan")]
        );
        // `event` with two triggers is either.
        assert_eq!(
            targets(&checked, text, "event.x", "event"),
            [Target::ContextEvent(vec!["a".into(), "b".into()])]
        );
    }
}
