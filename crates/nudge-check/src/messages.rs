//! The text of every diagnostic of the checker: one constructor per code
//! (one per shape where a code has several), in the order of `codes.rs`.
//!
//! A constructor takes the spans and the values the text needs (names,
//! written types, counts, an optional "did you mean" candidate) and returns
//! the whole [`Diagnostic`]: message, labels, help and related notes. The
//! passes decide *whether* to report; this module decides *what it says*.
//! `Checker::emit` later trims label spans, picks "a" or "an" and attaches
//! the file.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use nudge_core::duration::format as format_duration;
use nudge_core::percent::format as format_percent;
use nudge_core::time_of_day::format as format_time_of_day;
use nudge_syntax::ast::{BinaryOp, Channel};
use nudge_syntax::{Diagnostic, SourceFile, Span};

use crate::codes;
use crate::suggest::{all_of, one_of};

/// Why there is no `event` in scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoEvent {
    Segment,
    Inactive,
    Date,
    Template,
}

/// A kind of declaration that shares the project's namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Declaration {
    /// `enum NAME { … }`
    Enum,
    /// `event NAME { … }`
    Event,
    /// `segment NAME = …`
    Segment,
    /// `template NAME: CHANNEL { … }`
    Template,
    /// `workflow NAME { … }`
    Workflow,
    /// `test "NAME" { … }`
    Test,
}

impl fmt::Display for Declaration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Declaration::Enum => "enum",
            Declaration::Event => "event",
            Declaration::Segment => "segment",
            Declaration::Template => "template",
            Declaration::Workflow => "workflow",
            Declaration::Test => "test",
        })
    }
}

/// A workflow clause that may appear once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnceClause {
    /// `audience …`
    Audience,
    /// `entry …`
    Entry,
    /// `priority …`
    Priority,
}

/// Where a constant (a default or a value in a test) is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConstantSite<'a> {
    /// The default of the named schema field.
    Default(&'a str),
    /// The value of the named field in a test.
    TestValue(&'a str),
}

impl fmt::Display for ConstantSite<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConstantSite::Default(field) => write!(f, "the default of `{field}`"),
            ConstantSite::TestValue(field) => write!(f, "`{field}`"),
        }
    }
}

/// Where a condition (a `bool`) is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConditionSite {
    /// The operand of `not`.
    NotOperand,
    /// The left side of `and` or `or`.
    LeftOf(BinaryOp),
    /// The right side of `and` or `or`.
    RightOf(BinaryOp),
    /// `EVENT where …`
    WhereFilter,
    /// `segment NAME = …`
    Segment,
    /// `audience …`
    Audience,
    /// `if …`
    IfCondition,
    /// The `if` guard of an escalation step.
    StepGuard,
}

impl fmt::Display for ConditionSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConditionSite::NotOperand => f.write_str("the operand of `not`"),
            ConditionSite::LeftOf(op) => write!(f, "the left side of `{}`", op.as_str()),
            ConditionSite::RightOf(op) => write!(f, "the right side of `{}`", op.as_str()),
            ConditionSite::WhereFilter => f.write_str("a `where` filter"),
            ConditionSite::Segment => f.write_str("a segment"),
            ConditionSite::Audience => f.write_str("`audience`"),
            ConditionSite::IfCondition => f.write_str("an `if` condition"),
            ConditionSite::StepGuard => f.write_str("a step guard"),
        }
    }
}

/// Where a duration must be above zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DurationSite {
    /// `on inactive for D` or `inactive for D` in a condition.
    InactiveFor,
    /// `D ago`
    Ago,
    /// `did … within D`
    Within,
    /// `entry once per D`
    EntryOncePer,
    /// `goal NAME = EVENT within D`
    GoalWithin,
    /// `wait D`
    Wait,
    /// `wait for EVENT within D`
    WaitForWithin,
    /// `after D` in an escalation.
    After,
    /// `cap N per D`
    CapWindow,
}

impl fmt::Display for DurationSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DurationSite::InactiveFor => "`inactive for`",
            DurationSite::Ago => "`ago`",
            DurationSite::Within => "`within`",
            DurationSite::EntryOncePer => "`entry once per`",
            DurationSite::GoalWithin => "a goal's `within`",
            DurationSite::Wait => "`wait`",
            DurationSite::WaitForWithin => "`wait for … within`",
            DurationSite::After => "`after`",
            DurationSite::CapWindow => "a cap's window",
        })
    }
}

/// Whose fields a name was looked up in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner<'a> {
    /// The profile.
    Profile,
    /// The named event.
    Event(&'a str),
    /// The fields every trigger of a workflow shares.
    EveryTrigger,
}

impl fmt::Display for Owner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Profile => f.write_str("the profile"),
            Owner::Event(name) => write!(f, "event `{name}`"),
            Owner::EveryTrigger => f.write_str("every trigger of this workflow"),
        }
    }
}

/// A complete message whose required fields are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MessageSite<'a> {
    /// A message written in a `send`.
    Inline(Channel),
    /// The named template.
    Template(&'a str),
}

impl fmt::Display for MessageSite<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageSite::Inline(channel) => write!(f, "this `{}` message", channel.as_str()),
            MessageSite::Template(name) => write!(f, "template `{name}`"),
        }
    }
}

/// What a bare name that is not a value could have meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NameHint<'a> {
    /// It is a member of the named enum.
    MemberOf(&'a str),
    /// It is close to this path root.
    Suggestion(&'a str),
    /// Nothing close.
    Nothing,
}

// codes::DUPLICATE_DECLARATION

/// A name declared twice; the first place is a secondary label, or a related note in `first_file`.
pub(crate) fn duplicate_declaration(
    what: Declaration,
    name: &str,
    span: Span,
    first: Span,
    first_file: Option<&Arc<SourceFile>>,
) -> Diagnostic {
    let d = Diagnostic::error(
        codes::DUPLICATE_DECLARATION,
        format!("{what} `{name}` is declared twice"),
    )
    .with_primary(span, "declared again here")
    .with_help(
        "rename one of them or remove this one; a project has one namespace across all its files",
    );
    match first_file {
        None => d.with_secondary(first, "first declared here"),
        Some(src) => d.with_related(
            Diagnostic::error(
                codes::DUPLICATE_DECLARATION,
                format!("{what} `{name}` is first declared here"),
            )
            .with_primary(first, "first declared here")
            .in_file(src),
        ),
    }
}

// codes::DUPLICATE_FIELD

/// A profile or event field declared twice.
pub(crate) fn duplicate_field(span: Span, first: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        codes::DUPLICATE_FIELD,
        format!("field `{name}` is declared twice"),
    )
    .with_primary(span, "declared again here")
    .with_secondary(first, "first declared here")
    .with_help("rename or remove one of them")
}

/// A message or template field given twice.
pub(crate) fn duplicate_message_field(span: Span, first: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        codes::DUPLICATE_FIELD,
        format!("field `{name}` is given twice"),
    )
    .with_primary(span, "given again here")
    .with_secondary(first, "first given here")
    .with_help("remove one of them")
}

/// A field of a webhook body object given twice.
pub(crate) fn duplicate_body_field(span: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        codes::DUPLICATE_FIELD,
        format!("field `{name}` is given twice"),
    )
    .with_primary(span, "given again here")
    .with_help("remove one of them")
}

/// A value of a test profile or event given twice.
pub(crate) fn duplicate_test_value(span: Span, name: &str) -> Diagnostic {
    Diagnostic::error(codes::DUPLICATE_FIELD, format!("`{name}` is given twice"))
        .with_primary(span, "given again here")
        .with_help("remove one of them")
}

// codes::DUPLICATE_MEMBER

/// An enum that lists a member twice.
pub(crate) fn duplicate_member(
    span: Span,
    first: Span,
    enum_name: &str,
    member: &str,
) -> Diagnostic {
    Diagnostic::error(
        codes::DUPLICATE_MEMBER,
        format!("enum `{enum_name}` lists `{member}` twice"),
    )
    .with_primary(span, "listed again here")
    .with_secondary(first, "first listed here")
    .with_help("remove one of them")
}

// codes::DUPLICATE_CLAUSE

/// A workflow clause that may appear once, repeated.
pub(crate) fn duplicate_clause(span: Span, first: Span, clause: OnceClause) -> Diagnostic {
    let (keyword, help) = match clause {
        OnceClause::Audience => ("audience", "combine the conditions with `and`"),
        OnceClause::Entry => ("entry", "keep one `entry` rule"),
        OnceClause::Priority => ("priority", "keep one `priority`"),
    };
    Diagnostic::error(
        codes::DUPLICATE_CLAUSE,
        format!("a workflow has one `{keyword}` clause"),
    )
    .with_primary(span, "a second one")
    .with_secondary(first, "first one here")
    .with_help(help)
}

// codes::DUPLICATE_GOAL

/// Two goals of one name in a workflow.
pub(crate) fn duplicate_goal(span: Span, first: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        codes::DUPLICATE_GOAL,
        format!("goal `{name}` is declared twice"),
    )
    .with_primary(span, "declared again here")
    .with_secondary(first, "first declared here")
    .with_help("give each goal of a workflow its own name")
}

// codes::DUPLICATE_SPLIT

/// Two splits of one name in a workflow.
pub(crate) fn duplicate_split(span: Span, first: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        codes::DUPLICATE_SPLIT,
        format!("split `{name}` is declared twice in this workflow"),
    )
    .with_primary(span, "declared again here")
    .with_secondary(first, "first declared here")
    .with_help("the name picks each user's arm; give every split its own name")
}

// codes::DUPLICATE_ARM

/// Two arms of split `split` called `name` (written, or by position).
pub(crate) fn duplicate_arm(span: Span, first: Span, name: &str, split: &str) -> Diagnostic {
    Diagnostic::error(
        codes::DUPLICATE_ARM,
        format!("split `{split}` has two arms called `{name}`"),
    )
    .with_primary(span, "this arm")
    .with_secondary(first, "the other one")
    .with_help(
        "reports and tests tell arms apart by name; an arm without one is called by its position (`a`, `b`, …), so name this one differently",
    )
}

// codes::MISSING_PROFILE

/// A project without a `profile` block.
pub(crate) fn missing_profile(span: Span) -> Diagnostic {
    Diagnostic::error(codes::MISSING_PROFILE, "the project has no `profile` block")
        .with_primary(span, "expected a `profile { … }` in one of the files")
        .with_help(
            "declare what is known about each user, for example `profile { email: email?, plan: Plan }`",
        )
}

// codes::DUPLICATE_PROFILE

/// A second `profile` block (the first in `first_file` if that is another file).
pub(crate) fn duplicate_profile(
    span: Span,
    first: Span,
    first_file: Option<&Arc<SourceFile>>,
) -> Diagnostic {
    duplicate_block(codes::DUPLICATE_PROFILE, "profile", span, first, first_file)
}

// codes::DUPLICATE_POLICY

/// A second `policy` block (the first in `first_file` if that is another file).
pub(crate) fn duplicate_policy(
    span: Span,
    first: Span,
    first_file: Option<&Arc<SourceFile>>,
) -> Diagnostic {
    duplicate_block(codes::DUPLICATE_POLICY, "policy", span, first, first_file)
}

// codes::RESERVED_FIELD

/// A profile that declares `id`.
pub(crate) fn reserved_field(span: Span) -> Diagnostic {
    Diagnostic::error(codes::RESERVED_FIELD, "every profile already has `id`")
        .with_primary(span, "declared here")
        .with_help("remove this field: `profile.id` is the user id of incoming events, a `string`")
}

// codes::UNKNOWN_TYPE

/// A field type that is neither built in nor a declared enum.
pub(crate) fn unknown_type(span: Span, name: &str, suggestion: Option<&str>) -> Diagnostic {
    Diagnostic::error(codes::UNKNOWN_TYPE, format!("unknown type `{name}`"))
        .with_primary(span, "not a type")
        .with_help(suggestion.map(did_you_mean).unwrap_or_else(|| {
            "use a built-in type (`string`, `int`, `float`, `bool`, `time`, `duration`, `email`, `phone`, `url`, `timezone`) or declare an `enum`".to_owned()
        }))
}

// codes::UNKNOWN_EVENT

/// An event name that is not declared.
/// `last` without an event and a field.
pub(crate) fn last_path(span: Span) -> Diagnostic {
    Diagnostic::error(
        codes::INVALID_PATH,
        "`last` reads a field of the latest event of a kind",
    )
    .with_primary(span, "expected `last.EVENT.FIELD`")
    .with_help(
        "write `last.order_completed.total`: the `total` of the profile's latest `order_completed`",
    )
}

pub(crate) fn unknown_event(span: Span, name: &str, suggestion: Option<&str>) -> Diagnostic {
    Diagnostic::error(codes::UNKNOWN_EVENT, format!("unknown event `{name}`"))
        .with_primary(span, "no event of this name")
        .with_help(
            suggestion
                .map(did_you_mean)
                .unwrap_or_else(|| format!("declare it: `event {name} {{ … }}`")),
        )
}

// codes::UNKNOWN_SEGMENT

/// `in NAME` where no segment has that name.
pub(crate) fn unknown_segment(span: Span, name: &str, suggestion: Option<&str>) -> Diagnostic {
    Diagnostic::error(codes::UNKNOWN_SEGMENT, format!("unknown segment `{name}`"))
        .with_primary(span, "no segment of this name")
        .with_help(
            suggestion
                .map(did_you_mean)
                .unwrap_or_else(|| format!("declare it: `segment {name} = …`")),
        )
}

// codes::UNKNOWN_TEMPLATE

/// `send CHANNEL NAME` where no template has that name.
pub(crate) fn unknown_template(span: Span, name: &str, suggestion: Option<&str>) -> Diagnostic {
    Diagnostic::error(
        codes::UNKNOWN_TEMPLATE,
        format!("unknown template `{name}`"),
    )
    .with_primary(span, "no template of this name")
    .with_help(suggestion.map(did_you_mean).unwrap_or_else(|| {
        format!("declare it: `template {name}: CHANNEL {{ … }}`, or write the content inline")
    }))
}

/// A test's `expect` naming a template that is not declared.
pub(crate) fn unknown_template_in_test(
    span: Span,
    name: &str,
    suggestion: Option<&str>,
) -> Diagnostic {
    Diagnostic::error(
        codes::UNKNOWN_TEMPLATE,
        format!("unknown template `{name}`"),
    )
    .with_primary(span, "no template of this name")
    .with_help(
        suggestion
            .map(did_you_mean)
            .unwrap_or_else(|| "name a declared template".to_owned()),
    )
}

// codes::UNKNOWN_WORKFLOW

/// A test naming a workflow that is not declared.
pub(crate) fn unknown_workflow(span: Span, name: &str, suggestion: Option<&str>) -> Diagnostic {
    Diagnostic::error(
        codes::UNKNOWN_WORKFLOW,
        format!("unknown workflow `{name}`"),
    )
    .with_primary(span, "no workflow of this name")
    .with_help(
        suggestion
            .map(did_you_mean)
            .unwrap_or_else(|| "name a declared workflow".to_owned()),
    )
}

// codes::UNKNOWN_GOAL

/// A test naming a goal that no workflow declares.
pub(crate) fn unknown_goal(span: Span, name: &str, suggestion: Option<&str>) -> Diagnostic {
    Diagnostic::error(
        codes::UNKNOWN_GOAL,
        format!("no workflow has a goal `{name}`"),
    )
    .with_primary(span, "unknown goal")
    .with_help(
        suggestion.map(did_you_mean).unwrap_or_else(|| {
            "name a goal declared with `goal NAME = …` in a workflow".to_owned()
        }),
    )
}

// codes::FORMAT_SPEC

/// `{value:SPEC}` where `SPEC` does not fit the value's type (`problem`).
pub(crate) fn format_spec(span: Span, spec: &str, problem: &str, ty: &crate::Type) -> Diagnostic {
    use crate::Type;
    let help = match ty.strip_optional() {
        Type::Int | Type::Float => {
            "numbers take `.N` for N decimals (`.2`), `,` for thousands (`,.2` writes `1,234.50`), or a currency code for an amount (`USD` writes `$1,234.50`, `EUR.0` writes `€1,235`)".to_owned()
        }
        Type::Time => {
            "times take a strftime pattern, written in the profile's time zone: `%B %-d` (`March 16`), `%Y-%m-%d %H:%M`".to_owned()
        }
        _ => "only numbers and times take a format; interpolate other values as they are".to_owned(),
    };
    Diagnostic::error(
        codes::FORMAT_SPEC,
        format!("`{spec}` cannot write this value: {problem}"),
    )
    .with_primary(span, "this format")
    .with_help(help)
}

// codes::UNKNOWN_SPLIT

/// A test names split `name`, which no workflow has (`workflow`: the one
/// written, if any).
pub(crate) fn unknown_split(
    span: Span,
    name: &str,
    workflow: Option<&str>,
    suggestion: Option<&str>,
) -> Diagnostic {
    let message = match workflow {
        Some(w) => format!("workflow `{w}` has no split `{name}`"),
        None => format!("no workflow has a split `{name}`"),
    };
    Diagnostic::error(codes::UNKNOWN_SPLIT, message)
        .with_primary(span, "unknown split")
        .with_help(suggestion.map(did_you_mean).unwrap_or_else(|| {
            "name a split declared with `split NAME { … }` in a workflow".to_owned()
        }))
}

/// A test names split `name` without its workflow, and several have one.
pub(crate) fn ambiguous_split(span: Span, name: &str, workflows: &[&str]) -> Diagnostic {
    let listed: Vec<String> = workflows.iter().map(|w| format!("`{w}.{name}`")).collect();
    Diagnostic::error(
        codes::UNKNOWN_SPLIT,
        format!("several workflows have a split `{name}`"),
    )
    .with_primary(span, "which one?")
    .with_help(format!("name its workflow: {}", listed.join(" or ")))
}

// codes::UNKNOWN_ARM

/// A test names arm `name` of split `split`, which has `arms`.
pub(crate) fn unknown_arm(span: Span, name: &str, split: &str, arms: &[String]) -> Diagnostic {
    let suggestion = crate::suggest::closest(name, arms.iter().map(String::as_str));
    let listed: Vec<String> = arms.iter().map(|a| format!("`{a}`")).collect();
    Diagnostic::error(
        codes::UNKNOWN_ARM,
        format!("split `{split}` has no arm `{name}`"),
    )
    .with_primary(span, "unknown arm")
    .with_help(match suggestion {
        Some(s) => did_you_mean(s),
        None => format!(
            "its arms are {} (an arm without a name is called by its position: `a`, `b`, …)",
            listed.join(", ")
        ),
    })
}

// codes::UNKNOWN_PROPERTY

/// `profile.FIELD` where the profile has no such field (`fields`: those it has).
pub(crate) fn unknown_profile_field(
    span: Span,
    field: &str,
    suggestion: Option<&str>,
    fields: &[&str],
) -> Diagnostic {
    Diagnostic::error(
        codes::UNKNOWN_PROPERTY,
        format!("the profile has no field `{field}`"),
    )
    .with_primary(span, "unknown field")
    .with_help(
        suggestion
            .map(did_you_mean)
            .unwrap_or_else(|| format!("the profile has {}", all_of(fields.iter().copied()))),
    )
}

/// `event.FIELD` that the `missing` triggers lack or have with another type.
pub(crate) fn field_not_shared(span: Span, field: &str, missing: &[&str]) -> Diagnostic {
    Diagnostic::error(
        codes::UNKNOWN_PROPERTY,
        format!("not every trigger of this workflow has `{field}` of one type"),
    )
    .with_primary(
        span,
        format!(
            "missing or of another type in {}",
            one_of(missing.iter().copied())
        ),
    )
    .with_help("with several triggers, `event.` reaches only the fields they all share with the same type; split the workflow, or filter in the trigger's `where`")
}

/// `event.FIELD` or `EVENT.FIELD` where the event has no such property.
pub(crate) fn unknown_event_property(
    span: Span,
    event: &str,
    field: &str,
    suggestion: Option<&str>,
    fields: &[&str],
) -> Diagnostic {
    let help = match suggestion {
        Some(s) => did_you_mean(s),
        None if fields.is_empty() => format!("`{event}` has no properties"),
        None => format!("`{event}` has {}", all_of(fields.iter().copied())),
    };
    Diagnostic::error(
        codes::UNKNOWN_PROPERTY,
        format!("event `{event}` has no property `{field}`"),
    )
    .with_primary(span, "unknown property")
    .with_help(help)
}

/// A test value for a field the profile or event does not have.
pub(crate) fn unknown_test_field(
    span: Span,
    owner: Owner<'_>,
    field: &str,
    suggestion: Option<&str>,
    fields: &[&str],
) -> Diagnostic {
    Diagnostic::error(
        codes::UNKNOWN_PROPERTY,
        format!("{owner} has no field `{field}`"),
    )
    .with_primary(span, "unknown field")
    .with_help(
        suggestion
            .map(did_you_mean)
            .unwrap_or_else(|| format!("{owner} has {}", one_of(fields.iter().copied()))),
    )
}

// codes::UNKNOWN_ENUM_MEMBER

/// A bare name that is not a member of the expected enum (`other_enum`: one it belongs to).
pub(crate) fn unknown_enum_member(
    span: Span,
    enum_name: &str,
    member: &str,
    suggestion: Option<&str>,
    other_enum: Option<&str>,
    members: &[&str],
) -> Diagnostic {
    let help = suggestion.map(did_you_mean).unwrap_or_else(|| {
        let members = all_of(members.iter().copied());
        match other_enum {
            Some(other) => format!(
                "`{member}` is a member of `{other}`, not of `{enum_name}`; `{enum_name}` has {members}"
            ),
            None => format!("`{enum_name}` has {members}"),
        }
    });
    Diagnostic::error(
        codes::UNKNOWN_ENUM_MEMBER,
        format!("`{enum_name}` has no member `{member}`"),
    )
    .with_primary(span, format!("not a member of `{enum_name}`"))
    .with_help(help)
}

/// A string literal where an enum member is expected (`is_member`: it names one).
pub(crate) fn enum_member_as_string(
    span: Span,
    enum_name: &str,
    text: &str,
    suggestion: Option<&str>,
    is_member: bool,
    members: &[&str],
) -> Diagnostic {
    let help = match suggestion {
        Some(m) => format!("did you mean `{m}`? enum members are written without quotes"),
        None if is_member => format!("enum members are written without quotes: `{text}`"),
        None => format!(
            "`{enum_name}` has {}; members are written without quotes",
            all_of(members.iter().copied())
        ),
    };
    Diagnostic::error(
        codes::UNKNOWN_ENUM_MEMBER,
        format!("`{enum_name}` has no member `\"{text}\"`"),
    )
    .with_primary(span, format!("a string, where a `{enum_name}` is expected"))
    .with_help(help)
}

// codes::UNKNOWN_NAME

/// A bare name that is not a value (`expected`: the type wanted there, if known).
pub(crate) fn unknown_name(
    span: Span,
    name: &str,
    expected: Option<&str>,
    hint: NameHint<'_>,
) -> Diagnostic {
    let label = match expected {
        Some(ty) => format!("expected a `{ty}`"),
        None => "not a value here".to_owned(),
    };
    let help = match hint {
        NameHint::MemberOf(e) => format!(
            "`{name}` is a member of `{e}`; it can stand only where a `{e}` is expected, for example compared with a `{e}` field"
        ),
        NameHint::Suggestion(s) => did_you_mean(s),
        NameHint::Nothing => {
            "a value is a literal, an enum member, or a path such as `profile.plan` or `event.total`".to_owned()
        }
    };
    Diagnostic::error(codes::UNKNOWN_NAME, format!("unknown name `{name}`"))
        .with_primary(span, label)
        .with_help(help)
}

/// A path whose root is not `profile`, `event` or an event.
pub(crate) fn unknown_path_root(span: Span, name: &str, suggestion: Option<&str>) -> Diagnostic {
    Diagnostic::error(codes::UNKNOWN_NAME, format!("unknown name `{name}`"))
        .with_primary(span, "not `profile`, `event` or an event")
        .with_help(suggestion.map(did_you_mean).unwrap_or_else(|| {
            "a path starts with `profile`, `event` or the name of an event received by `wait for`"
                .to_owned()
        }))
}

// codes::UNKNOWN_MESSAGE_FIELD

/// A message or template field the channel does not have (`allowed`: those it has).
pub(crate) fn unknown_message_field(
    span: Span,
    channel: Channel,
    field: &str,
    suggestion: Option<&str>,
    allowed: &[&str],
) -> Diagnostic {
    let help = suggestion.map(did_you_mean).unwrap_or_else(|| {
        format!(
            "`{}` messages have {}",
            channel.as_str(),
            one_of(allowed.iter().copied())
        )
    });
    Diagnostic::error(
        codes::UNKNOWN_MESSAGE_FIELD,
        format!("`{}` messages have no field `{field}`", channel.as_str()),
    )
    .with_primary(span, "unknown field")
    .with_help(help)
}

/// A field in a test's `expect … with` that no message there has.
pub(crate) fn unknown_expected_message_field(
    span: Span,
    channel: Option<Channel>,
    field: &str,
    suggestion: Option<&str>,
    allowed: &[&str],
) -> Diagnostic {
    let help = suggestion
        .map(did_you_mean)
        .unwrap_or_else(|| format!("messages here have {}", one_of(allowed.iter().copied())));
    let message = match channel {
        Some(c) => format!("`{}` messages have no field `{field}`", c.as_str()),
        None => format!("no channel has a field `{field}`"),
    };
    Diagnostic::error(codes::UNKNOWN_MESSAGE_FIELD, message)
        .with_primary(span, "unknown field")
        .with_help(help)
}

// codes::INVALID_PATH

/// `profile`, `event` or an event name used alone as a value.
pub(crate) fn path_root_alone(span: Span, root: &str) -> Diagnostic {
    Diagnostic::error(
        codes::INVALID_PATH,
        format!("`{root}` alone is not a value"),
    )
    .with_primary(span, "name one of its fields")
    .with_help(format!("write `{root}.FIELD`"))
}

/// A path that goes on past a field.
pub(crate) fn path_past_field(span: Span, root: &str, field: &str) -> Diagnostic {
    Diagnostic::error(
        codes::INVALID_PATH,
        format!("`{root}.{field}` has no fields"),
    )
    .with_primary(span, "fields have no fields")
    .with_help(format!("write `{root}.{field}`"))
}

// codes::SEGMENT_CYCLE

/// A segment that refers to itself through the segments in `chain`.
pub(crate) fn segment_cycle(span: Span, name: &str, chain: &[&str]) -> Diagnostic {
    let chain = chain
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(" → ");
    Diagnostic::error(
        codes::SEGMENT_CYCLE,
        format!("segment `{name}` refers to itself"),
    )
    .with_primary(span, format!("cycle: {chain}"))
    .with_help("a segment is a condition over the profile and its history; break the cycle by inlining the shared part")
}

// codes::EVENT_NOT_IN_SCOPE

/// `event.` where there is no event, and why.
pub(crate) fn event_not_in_scope(span: Span, why: NoEvent) -> Diagnostic {
    let (message, help) = match why {
        NoEvent::Segment => (
            "a segment has no `event`",
            "segments are conditions over the profile and its history: use `did EVENT where event.FIELD …` or a `profile.` field",
        ),
        NoEvent::Inactive => (
            "a workflow started by `on inactive for` has no triggering `event`",
            "use `profile.` fields, or `did EVENT where event.FIELD …` to look at history",
        ),
        NoEvent::Date => (
            "a workflow started by a date has no triggering `event`",
            "use `profile.` fields, or `did EVENT where event.FIELD …` to look at history",
        ),
        NoEvent::Template => (
            "this template is not for an event",
            "add `for EVENT` after the channel (`template t: email for order_completed { … }`) to use that event's properties",
        ),
    };
    Diagnostic::error(codes::EVENT_NOT_IN_SCOPE, message)
        .with_primary(span, "`event` is not defined here")
        .with_help(help)
}

// codes::EVENT_NOT_RECEIVED

/// `EVENT.field` where `EVENT` may not have been received.
pub(crate) fn event_not_received(span: Span, event: &str, field: &str) -> Diagnostic {
    Diagnostic::error(
        codes::EVENT_NOT_RECEIVED,
        format!("`{event}.{field}` is used where `{event}` may not have been received"),
    )
    .with_primary(
        span,
        format!("no `wait for {event}` received it on every path to here"),
    )
    .with_help(format!(
        "`{event}.FIELD` is available in the `then {{ … }}` block of `wait for {event}`; inside `{event} where …` clauses write `event.{field}`"
    ))
}

// codes::TYPE_MISMATCH

/// A `profile.timezone` field that is not a `timezone`.
pub(crate) fn timezone_field_type(span: Span, ty: &str) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!("`profile.timezone` must be a `timezone`, not a `{ty}`"),
    )
    .with_primary(span, "read by every `local` time")
    .with_help("declare it `timezone: timezone = \"UTC\"` (an IANA zone name, checked), or rename the field")
}

/// A constant string with interpolations.
pub(crate) fn constant_interpolates(span: Span, what: ConstantSite<'_>) -> Diagnostic {
    Diagnostic::error(codes::TYPE_MISMATCH, format!("{what} cannot interpolate"))
        .with_primary(span, "a constant is needed here")
        .with_help("write the text without `{…}`; use `{{` for a literal brace")
}

/// A list constant where a single value is expected.
pub(crate) fn constant_not_list(span: Span, what: ConstantSite<'_>, expected: &str) -> Diagnostic {
    Diagnostic::error(codes::TYPE_MISMATCH, format!("{what} is not a list"))
        .with_primary(span, format!("expected a `{expected}`"))
        .with_help("give a single value")
}

/// An expression where a constant is needed.
pub(crate) fn not_constant(span: Span, what: ConstantSite<'_>, expected: &str) -> Diagnostic {
    Diagnostic::error(codes::TYPE_MISMATCH, format!("{what} must be a constant"))
        .with_primary(span, "not a constant")
        .with_help(format!("write a `{expected}` literal"))
}

/// A constant of the wrong type.
pub(crate) fn constant_type(
    span: Span,
    what: ConstantSite<'_>,
    expected: &str,
    got: &str,
) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!("{what} must be a `{expected}`, not a `{got}`"),
    )
    .with_primary(span, format!("this is a `{got}`"))
    .with_help(format!("write a `{expected}` value"))
}

/// A test value that is an object or a template file.
pub(crate) fn test_value_not_constant(span: Span, field: &str, expected: &str) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!("`{field}` must be a constant"),
    )
    .with_primary(span, "not a value")
    .with_help(format!("write a `{expected}` literal"))
}

/// A condition that is not a `bool`.
pub(crate) fn not_a_condition(span: Span, what: ConditionSite, got: &str) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!("{what} must be a `bool`, not a `{got}`"),
    )
    .with_primary(span, format!("this is a `{got}`"))
    .with_help("write a condition such as `profile.plan == pro` or `event.total > 20.0`")
}

/// A list item of another type than the items before it.
pub(crate) fn list_item_type(span: Span, item: &str, got: &str) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!("a list of `{item}` cannot hold a `{got}`"),
    )
    .with_primary(span, format!("this is a `{got}`"))
    .with_help("every item of a list has the same type")
}

/// A `??` default (in an expression or in text) of the wrong type.
pub(crate) fn default_type(span: Span, expected: &str, got: &str) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!("the default must be a `{expected}`, not a `{got}`"),
    )
    .with_primary(span, format!("this is a `{got}`"))
    .with_help(format!("give a `{expected}` default"))
}

/// `+` or `-` between values that are not a time and a duration.
pub(crate) fn arithmetic_types(op_span: Span, op: BinaryOp, lhs: &str, rhs: &str) -> Diagnostic {
    let (title, help) = if op == BinaryOp::Add {
        (
            format!("cannot add a `{rhs}` to a `{lhs}`"),
            "`+` adds a duration to a time or to a duration: `profile.trial_ends_at + 1d`, `1d + 12h`",
        )
    } else {
        (
            format!("cannot subtract a `{rhs}` from a `{lhs}`"),
            "`-` takes a duration from a time or a duration (`profile.trial_ends_at - 3d`), or gives the duration between two times",
        )
    };
    let text = ["string", "email", "phone", "url"];
    let help = if text.contains(&lhs) && text.contains(&rhs) {
        "to build text, interpolate in one string, such as `\"Hi {profile.first_name}\"`"
    } else {
        help
    };
    Diagnostic::error(codes::TYPE_MISMATCH, title)
        .with_primary(op_span, format!("`{lhs}` {} `{rhs}`", op.as_str()))
        .with_help(help)
}

/// `wait until` an expression that is not a time.
pub(crate) fn wait_until_type(span: Span, ty: &str) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!("`wait until` needs a `time` or a time of day, not a `{ty}`"),
    )
    .with_primary(span, format!("a `{ty}`"))
    .with_help("wait until an instant (`wait until profile.trial_ends_at - 1d`) or a time of day (`wait until 09:00 local`)")
}

/// A date trigger's field that is not a time.
pub(crate) fn date_field_type(span: Span, field: &str, ty: &str) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!("`profile.{field}` is a `{ty}`, not a `time`"),
    )
    .with_primary(span, format!("a `{ty}`"))
    .with_help("a date trigger reads a `time` (or `time?`) field of the profile, such as `trial_ends_at: time?`")
}

/// A date trigger at a time of day whose offset has hours or minutes.
pub(crate) fn date_offset(span: Span, written: &str, seconds: i64) -> Diagnostic {
    let days = seconds / 86_400;
    let fix = if days == 0 { 1 } else { days };
    Diagnostic::error(
        codes::DATE_OFFSET,
        format!("`{written}` is not a whole number of days"),
    )
    .with_primary(span, "with `at`, the offset moves the day")
    .with_help(format!(
        "write whole days (`{fix}d`), or drop `at` to count `{written}` from the field's exact instant"
    ))
}

/// A list interpolated into text.
pub(crate) fn list_in_text(span: Span, ty: &str) -> Diagnostic {
    Diagnostic::error(codes::TYPE_MISMATCH, "a list cannot be written into text")
        .with_primary(span, format!("a `{ty}`"))
        .with_help("interpolate single values; lists can go into a webhook `body`")
}

/// `x in LIST` where `x` is never of the items' type.
pub(crate) fn never_in_list(op_span: Span, lhs_span: Span, lhs: &str, item: &str) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!("a `{lhs}` is never in a list of `{item}`"),
    )
    .with_primary(op_span, "types differ")
    .with_secondary(lhs_span, format!("a `{lhs}`"))
    .with_help("compare values of the same type")
}

/// A right side of `in` that is not a list.
pub(crate) fn in_needs_list(span: Span, ty: &str) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!("the right side of `in` must be a list, not a `{ty}`"),
    )
    .with_primary(span, "not a list")
    .with_help("write a list such as `[pro, enterprise]`, or use `==`")
}

/// A comparison of two types that do not compare.
pub(crate) fn incomparable(
    op_span: Span,
    lhs_span: Span,
    lhs: &str,
    rhs_span: Span,
    rhs: &str,
) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!("cannot compare a `{lhs}` with a `{rhs}`"),
    )
    .with_primary(op_span, "types differ")
    .with_secondary(lhs_span, format!("a `{lhs}`"))
    .with_secondary(rhs_span, format!("a `{rhs}`"))
    .with_help("compare values of the same type (`int` and `float` mix)")
}

/// `since entry` in a segment.
pub(crate) fn since_entry_in_segment(span: Span) -> Diagnostic {
    Diagnostic::error(codes::TYPE_MISMATCH, "a segment has no entry to count from")
        .with_primary(span, "`since entry` needs a journey")
        .with_help("use `within D` in segments; `since entry` belongs in workflows")
}

/// A webhook message written as text.
pub(crate) fn webhook_text(span: Span) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        "a webhook message is an object, not text",
    )
    .with_primary(span, "text")
    .with_help("write `webhook { url: \"https://…\", body: { … } }`")
}

/// A `file(…)` for a message field that is not text.
pub(crate) fn field_from_file(span: Span, field: &str) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!("`{field}` cannot come from a template file"),
    )
    .with_primary(span, "a template file")
    .with_help("template files hold text fields such as an email's `html` or `text`")
}

/// An object for a text field.
pub(crate) fn field_object(span: Span, field: &str) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!("`{field}` is text, not an object"),
    )
    .with_primary(span, "an object")
    .with_help("write a string such as `\"Hi {profile.first_name ?? \"there\"}\"`")
}

/// A webhook `body` that is not an object.
pub(crate) fn webhook_body_not_object(span: Span) -> Diagnostic {
    Diagnostic::error(codes::TYPE_MISMATCH, "a webhook `body` is an object")
        .with_primary(span, "not an object")
        .with_help("write the JSON to send as an object of values and paths: `body: { user: profile.id, total: event.total }`")
}

/// A message field value that is not text (or, for `url`, not a url).
pub(crate) fn field_type(span: Span, field: &str, is_url: bool, ty: &str) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        format!(
            "`{field}` must be {}, not a `{ty}`",
            if is_url { "a url" } else { "text" }
        ),
    )
    .with_primary(span, format!("a `{ty}`"))
    .with_help("write a string; interpolate values with `{path}`")
}

/// A `file(…)` inside a webhook body.
pub(crate) fn file_in_webhook_body(span: Span) -> Diagnostic {
    Diagnostic::error(
        codes::TYPE_MISMATCH,
        "a webhook body cannot hold a template file",
    )
    .with_primary(span, "a template file")
    .with_help("put values and `{path}` strings in a webhook body")
}

// codes::OPTIONAL_NOT_NARROWED

/// An optional value, written `text`, used where a value is needed.
pub(crate) fn optional_not_narrowed(span: Span, text: &str, ty: &str) -> Diagnostic {
    Diagnostic::error(
        codes::OPTIONAL_NOT_NARROWED,
        format!("`{text}` may be `none` here"),
    )
    .with_primary(span, format!("a `{ty}`"))
    .with_help(format!(
        "check it first (`if {text} != none {{ … }}`, `audience {text} != none`, or `{text} != none and …`), or give a default: `{text} ?? …`"
    ))
}

/// An optional path interpolated into text without a default.
pub(crate) fn optional_in_text(span: Span, path: &str, ty: &str) -> Diagnostic {
    Diagnostic::error(
        codes::OPTIONAL_NOT_NARROWED,
        format!("`{path}` may be `none` here"),
    )
    .with_primary(span, format!("a `{ty}`"))
    .with_help({
        // A default of the value's own type: `??` takes no other.
        let default = match ty.trim_end_matches('?') {
            "int" => "0",
            "float" => "0.0",
            "bool" => "false",
            "string" | "email" | "phone" | "url" => "\"…\"",
            _ => "…",
        };
        if path.starts_with("last.") {
            // The latest event can change between a test and a send: only
            // a default makes it safe.
            format!("give a default: `{{{path} ?? {default}}}` (the profile may have no such event)")
        } else {
            format!(
                "give a default: `{{{path} ?? {default}}}`, or send only where it is set (`if {path} != none {{ … }}`)"
            )
        }
    })
}

// codes::NOT_OPTIONAL

/// A `none` constant for a field that is never `none`.
pub(crate) fn constant_not_optional(span: Span, what: ConstantSite<'_>, ty: &str) -> Diagnostic {
    Diagnostic::error(codes::NOT_OPTIONAL, format!("{what} cannot be `none`"))
        .with_primary(span, format!("`{ty}` is never `none`"))
        .with_help("give a value, or declare the field optional with `?`")
}

/// A value, written `text`, that is never `none`, compared with `none`.
pub(crate) fn never_none(span: Span, text: &str, ty: &str) -> Diagnostic {
    Diagnostic::error(codes::NOT_OPTIONAL, format!("`{text}` is never `none`"))
        .with_primary(span, format!("a `{ty}`, not optional"))
        .with_help("only optional values (`T?`) can be `none`; remove the comparison")
}

// codes::NOT_ORDERED

/// `none` on one side of an ordering.
pub(crate) fn none_ordered(span: Span, op: BinaryOp) -> Diagnostic {
    Diagnostic::error(
        codes::NOT_ORDERED,
        format!("`none` cannot be compared with `{}`", op.as_str()),
    )
    .with_primary(span, "not an ordering")
    .with_help("use `== none`, `!= none`, `is none` or `is not none`")
}

/// An ordering on a type without an order.
pub(crate) fn not_ordered(span: Span, op: BinaryOp, ty: &str) -> Diagnostic {
    Diagnostic::error(codes::NOT_ORDERED, format!("`{ty}` values have no order"))
        .with_primary(
            span,
            format!(
                "`{}` needs numbers, durations, times or times of day",
                op.as_str()
            ),
        )
        .with_help("compare with `==`, `!=` or `in` instead")
}

// codes::INVALID_FORMAT

/// A literal that is not an email address.
pub(crate) fn invalid_email(span: Span, text: &str) -> Diagnostic {
    Diagnostic::error(
        codes::INVALID_FORMAT,
        format!("`{text}` is not an email address"),
    )
    .with_primary(span, "not a valid `email`")
    .with_help("write an address such as `ada@example.com`")
}

/// A literal that is not a phone number in E.164 form.
pub(crate) fn invalid_phone(span: Span, text: &str) -> Diagnostic {
    Diagnostic::error(
        codes::INVALID_FORMAT,
        format!("`{text}` is not a phone number in international form"),
    )
    .with_primary(span, "not a valid `phone`")
    .with_help("write the number in E.164 form: `+` and 8 to 15 digits, such as `+4915112345678`")
}

/// A literal that is not an `http` or `https` address.
pub(crate) fn invalid_url(span: Span, text: &str) -> Diagnostic {
    Diagnostic::error(
        codes::INVALID_FORMAT,
        format!("`{text}` is not an `http` or `https` address"),
    )
    .with_primary(span, "not a valid `url`")
    .with_help("write a full address such as `https://example.com/path`")
}

// codes::UNKNOWN_TIMEZONE

/// A `timezone` literal that is not an IANA zone name.
pub(crate) fn unknown_timezone_literal(
    span: Span,
    text: &str,
    suggestion: Option<&str>,
) -> Diagnostic {
    Diagnostic::error(
        codes::UNKNOWN_TIMEZONE,
        format!("unknown time zone `{text}`"),
    )
    .with_primary(span, "not a valid `timezone`")
    .with_help(timezone_help(suggestion))
}

/// A zone in `wait until` or quiet hours that is not an IANA zone name.
pub(crate) fn unknown_timezone(span: Span, text: &str, suggestion: Option<&str>) -> Diagnostic {
    Diagnostic::error(
        codes::UNKNOWN_TIMEZONE,
        format!("unknown time zone `{text}`"),
    )
    .with_primary(span, "not an IANA time zone")
    .with_help(timezone_help(suggestion))
}

// codes::NON_POSITIVE_DURATION

/// A duration of zero where a wait or window is meant.
pub(crate) fn non_positive_duration(span: Span, what: DurationSite) -> Diagnostic {
    Diagnostic::error(
        codes::NON_POSITIVE_DURATION,
        format!("{what} needs a duration above zero"),
    )
    .with_primary(span, "zero")
    .with_help("give a positive duration such as `1h`")
}

// codes::SPLIT_TOTAL

/// Split arms that add up to `total` basis points instead of 100%.
pub(crate) fn split_total(span: Span, name: &str, total: u32) -> Diagnostic {
    let help = if total < 10_000 {
        format!(
            "add {} to an arm, or add a control arm: `{}: {{}}`",
            format_percent(10_000 - total),
            format_percent(10_000 - total)
        )
    } else {
        format!("take {} away from the arms", format_percent(total - 10_000))
    };
    Diagnostic::error(
        codes::SPLIT_TOTAL,
        format!(
            "the arms of split `{name}` add up to {}",
            format_percent(total)
        ),
    )
    .with_primary(span, "must add up to 100%")
    .with_help(help)
}

// codes::INVALID_DAY

/// `on day N` with a negative N.
pub(crate) fn invalid_day(span: Span) -> Diagnostic {
    Diagnostic::error(codes::INVALID_DAY, "a day number cannot be negative")
        .with_primary(span, "below zero")
        .with_help("the entry day is `day 0`; count days after entry from there")
}

// codes::INVALID_COUNT

/// A negative count in `did … times`.
pub(crate) fn invalid_count(span: Span) -> Diagnostic {
    Diagnostic::error(codes::INVALID_COUNT, "a count cannot be negative")
        .with_primary(span, "below zero")
        .with_help("count with a number of zero or more, such as `times >= 3`")
}

// codes::INVALID_CAP

/// A cap below one message.
pub(crate) fn invalid_cap(span: Span) -> Diagnostic {
    Diagnostic::error(codes::INVALID_CAP, "a cap must allow at least one message")
        .with_primary(span, "below one")
        .with_help("use `cap 1 per D` or more; to stop a channel, do not send on it")
}

// codes::EMPTY_QUIET_HOURS

/// Quiet hours that start and end at the same time.
pub(crate) fn empty_quiet_hours(span: Span) -> Diagnostic {
    Diagnostic::error(
        codes::EMPTY_QUIET_HOURS,
        "quiet hours start and end at the same time",
    )
    .with_primary(span, "an empty window")
    .with_help("give two different times, such as `quiet hours 21:00 to 08:00`")
}

// codes::MISSING_TRIGGER

/// A workflow without an `on` clause.
pub(crate) fn missing_trigger(span: Span, workflow: &str) -> Diagnostic {
    Diagnostic::error(
        codes::MISSING_TRIGGER,
        format!("workflow `{workflow}` has no trigger"),
    )
    .with_primary(span, "nothing starts this workflow")
    .with_help("add an `on EVENT` clause (or `on inactive for D`) at the top of the workflow")
}

// codes::MISSING_MESSAGE_FIELD

/// A message without any of the fields in `group` (`fields`: all of the channel's).
pub(crate) fn missing_message_field(
    span: Span,
    what: MessageSite<'_>,
    channel: Channel,
    group: &[&str],
    fields: &[&str],
) -> Diagnostic {
    let names = one_of(group.iter().copied());
    Diagnostic::error(
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
        all_of(fields.iter().copied())
    ))
}

// codes::TEMPLATE_CHANNEL_MISMATCH

/// `send CHANNEL TEMPLATE` with a template for another channel.
pub(crate) fn template_channel_mismatch(
    span: Span,
    channel_span: Span,
    template: &str,
    template_channel: Channel,
    channel: Channel,
) -> Diagnostic {
    Diagnostic::error(
        codes::TEMPLATE_CHANNEL_MISMATCH,
        format!(
            "template `{template}` is for `{}`, not `{}`",
            template_channel.as_str(),
            channel.as_str()
        ),
    )
    .with_primary(span, format!("a `{}` template", template_channel.as_str()))
    .with_secondary(channel_span, format!("sent as `{}`", channel.as_str()))
    .with_help(format!(
        "write `send {} {template}`, or use a `{}` template",
        template_channel.as_str(),
        channel.as_str()
    ))
}

/// A test's `expect CHANNEL TEMPLATE` with a template for another channel.
pub(crate) fn expected_template_channel_mismatch(
    span: Span,
    template: &str,
    template_channel: Channel,
    channel: Channel,
) -> Diagnostic {
    Diagnostic::error(
        codes::TEMPLATE_CHANNEL_MISMATCH,
        format!(
            "template `{template}` is for `{}`, not `{}`",
            template_channel.as_str(),
            channel.as_str()
        ),
    )
    .with_primary(span, format!("a `{}` template", template_channel.as_str()))
    .with_help(format!(
        "write `expect {} {template}`",
        template_channel.as_str()
    ))
}

// codes::TEMPLATE_EVENT_MISMATCH

/// A template `for EVENT` sent from a workflow started otherwise (`inactive` or `triggers`).
pub(crate) fn template_event_mismatch(
    span: Span,
    template: &str,
    event: &str,
    workflow: &str,
    inactive: bool,
    triggers: &[&str],
) -> Diagnostic {
    let started = if inactive {
        "`on inactive for`".to_owned()
    } else {
        one_of(triggers.iter().copied())
    };
    Diagnostic::error(
        codes::TEMPLATE_EVENT_MISMATCH,
        format!("template `{template}` is for `{event}`, but workflow `{workflow}` starts on {started}"),
    )
    .with_primary(span, format!("uses `{event}`'s properties"))
    .with_help(format!("send it from a workflow triggered by `on {event}`, or remove `for {event}` from the template and use `profile.` fields"))
}

// codes::TEMPLATE_FILE

/// A `file(…)` path with interpolations.
pub(crate) fn template_path_interpolates(span: Span) -> Diagnostic {
    Diagnostic::error(
        codes::TEMPLATE_FILE,
        "a template file path cannot interpolate",
    )
    .with_primary(span, "interpolated path")
    .with_help("write the path as plain text, relative to this `.flow` file")
}

/// A template file that cannot be read (`error`: why, none if it does not exist).
pub(crate) fn unreadable_template_file(
    span: Span,
    path: &str,
    error: Option<&str>,
    flow_file: &str,
    full: &Path,
) -> Diagnostic {
    Diagnostic::error(
        codes::TEMPLATE_FILE,
        format!("cannot read template file `{path}`"),
    )
    .with_primary(span, error.unwrap_or("it does not exist"))
    .with_help(format!(
        "the path is relative to the folder of `{flow_file}`: it names `{}`",
        full.display()
    ))
}

// codes::TEMPLATE_SYNTAX

/// A template file that does not parse (`parsed_as`: the path it was first read by).
pub(crate) fn template_syntax(
    span: Span,
    path: &str,
    detail: &str,
    line: Option<usize>,
    parsed_as: &str,
) -> Diagnostic {
    let line = line.map(|l| format!(" at line {l}")).unwrap_or_default();
    Diagnostic::error(
        codes::TEMPLATE_SYNTAX,
        format!("template file `{path}` does not parse"),
    )
    .with_primary(span, format!("{detail}{line} of `{parsed_as}`"))
    .with_help("fix the template: `{{ value }}` prints, `{% if … %}…{% endif %}` decides, `{% for x in … %}…{% endfor %}` repeats")
}

// codes::TEMPLATE_VARIABLE

/// A template file that uses `event` where there is none.
pub(crate) fn template_variable_without_event(
    span: Span,
    path: &str,
    var: &str,
    why: NoEvent,
) -> Diagnostic {
    let help = if why == NoEvent::Template {
        "add `for EVENT` to the template to use that event's properties"
    } else {
        "use `profile.` fields"
    };
    template_variable(span, path, var, "but there is no `event` here", help)
}

/// A template file that uses an event not received there.
pub(crate) fn template_variable_not_received(
    span: Span,
    path: &str,
    var: &str,
    event: &str,
) -> Diagnostic {
    template_variable(
        span,
        path,
        var,
        &format!("but `{event}` is not received here"),
        &format!("`{event}.FIELD` is available in the `then` block of `wait for {event}`"),
    )
}

/// A template file that uses a name that is not defined.
pub(crate) fn template_variable_undefined(
    span: Span,
    path: &str,
    var: &str,
    suggestion: Option<&str>,
) -> Diagnostic {
    let help = suggestion.map(did_you_mean).unwrap_or_else(|| {
        "template files see `profile` and, for a template `for EVENT`, `event`; set other names with `{% set %}`".to_owned()
    });
    template_variable(span, path, var, "which is not defined", &help)
}

/// A template file that goes on past a field.
pub(crate) fn template_variable_past_field(
    span: Span,
    path: &str,
    var: &str,
    root: &str,
    field: &str,
) -> Diagnostic {
    template_variable(
        span,
        path,
        var,
        &format!("but `{root}.{field}` has no fields"),
        &format!("use `{root}.{field}`"),
    )
}

/// A template file that uses a field its owner does not have.
pub(crate) fn template_variable_unknown_field(
    span: Span,
    path: &str,
    var: &str,
    owner: Owner<'_>,
    root: &str,
    suggestion: Option<&str>,
    fields: &[&str],
) -> Diagnostic {
    let help = match suggestion {
        Some(best) => format!("did you mean `{root}.{best}`?"),
        None => format!("{owner} has {}", one_of(fields.iter().copied())),
    };
    template_variable(
        span,
        path,
        var,
        &format!("which {owner} does not have"),
        &help,
    )
}

// codes::NO_ADDRESS_FIELD

/// A channel with no profile attribute to address it.
pub(crate) fn no_address_field(span: Span, channel: Channel) -> Diagnostic {
    let (what, how) = match channel {
        Channel::Email => ("an `email` attribute", "`email: email?`"),
        Channel::Sms => ("a `phone` attribute", "`phone: phone?`"),
        _ => ("a `push_token` attribute", "`push_token: string?`"),
    };
    Diagnostic::error(
        codes::NO_ADDRESS_FIELD,
        format!("`{}` messages need {what} in the profile", channel.as_str()),
    )
    .with_primary(span, "nowhere to send this")
    .with_help(format!("declare one in the profile, for example {how}"))
}

// codes::ADDRESS_NOT_NARROWED

/// A send where the channel's address field may be `none`.
pub(crate) fn address_not_narrowed(span: Span, field: &str, channel: Channel) -> Diagnostic {
    Diagnostic::error(
        codes::ADDRESS_NOT_NARROWED,
        format!(
            "`profile.{field}` may be `none` when this `{}` is sent",
            channel.as_str()
        ),
    )
    .with_primary(span, format!("needs `profile.{field}`"))
    .with_help(format!(
        "add `audience profile.{field} != none` to the workflow, or send inside `if profile.{field} != none {{ … }}`"
    ))
}

// codes::MISSING_PROPERTY

/// A test profile or event without the `missing` required fields.
pub(crate) fn missing_property(span: Span, owner: Owner<'_>, missing: &[&str]) -> Diagnostic {
    let list = all_of(missing.iter().copied());
    Diagnostic::error(codes::MISSING_PROPERTY, format!("{owner} needs {list}"))
        .with_primary(
            span,
            format!(
                "{} required field{} missing",
                missing.len(),
                if missing.len() == 1 { "" } else { "s" }
            ),
        )
        .with_help(format!(
            "give {list}; only optional fields and fields with a default may be left out"
        ))
}

// codes::RELATIVE_FIRST_AT

/// A test whose expectations count from an absolute time it does not have.
pub(crate) fn no_absolute_time(span: Span) -> Diagnostic {
    Diagnostic::error(
        codes::RELATIVE_FIRST_AT,
        "this test has no absolute time to count from",
    )
    .with_primary(span, "relative to nothing")
    .with_help("start the test with an absolute time: `at 2026-03-01T10:00:00Z \"u1\" does …`")
}

/// A test whose first time is relative.
pub(crate) fn relative_first_at(span: Span) -> Diagnostic {
    Diagnostic::error(codes::RELATIVE_FIRST_AT, "the first time of a test must be absolute")
        .with_primary(span, "relative to nothing yet")
        .with_help("offsets such as `+30m` count from the test's first absolute `at`; write one first, such as `at 2026-03-01T10:00:00Z`")
}

// codes::MISSING_SUPPRESSION

/// A marketing workflow that keeps sending after a wait with no `exit on` and no `goal`.
pub(crate) fn missing_suppression(span: Span, workflow_span: Span, workflow: &str) -> Diagnostic {
    Diagnostic::warning(
        codes::MISSING_SUPPRESSION,
        format!("workflow `{workflow}` keeps sending after a wait, with no `exit on` and no `goal`"),
    )
    .with_primary(span, "sent even if the user already did what this asks")
    .with_secondary(workflow_span, "no suppression")
    .with_help("add `exit on EVENT` for what makes this message pointless (a purchase, an upgrade), or a `goal`; transactional workflows say `priority transactional`")
}

// codes::GOAL_NOT_EXIT

/// A goal whose event does not also end the journey.
pub(crate) fn goal_not_exit(span: Span, goal: &str, event: &str) -> Diagnostic {
    Diagnostic::warning(
        codes::GOAL_NOT_EXIT,
        format!("reaching goal `{goal}` does not end the journey"),
    )
    .with_primary(span, format!("`{event}` is not an `exit on` event"))
    .with_help(format!(
        "add `exit on {event}` so that converted users stop getting messages"
    ))
}

// codes::UNREACHABLE

/// Statements after `end`: an `exit` (`after_exit`) or a statement whose every path exits.
pub(crate) fn unreachable(span: Span, end: Span, after_exit: bool) -> Diagnostic {
    let ends = if after_exit {
        "the journey ends here"
    } else {
        "every path through this ends the journey"
    };
    Diagnostic::warning(codes::UNREACHABLE, "this never runs")
        .with_primary(span, "after `exit`")
        .with_secondary(end, ends)
        .with_help("remove these statements, or move the `exit` after them")
}

// codes::UNUSED

/// An enum no field has as its type.
pub(crate) fn unused_enum(span: Span, name: &str) -> Diagnostic {
    unused(
        span,
        Declaration::Enum,
        name,
        "no field has this type; remove it or use it as a field's type",
    )
}

/// An event nothing refers to.
pub(crate) fn unused_event(span: Span, name: &str) -> Diagnostic {
    unused(
        span,
        Declaration::Event,
        name,
        "no workflow, segment or template refers to it; remove it, or use it (`on`, `exit on`, `did`, `wait for`)",
    )
}

/// A segment no condition uses.
pub(crate) fn unused_segment(span: Span, name: &str) -> Diagnostic {
    unused(
        span,
        Declaration::Segment,
        name,
        "remove it, or use it with `in NAME` (for example `audience in NAME`)",
    )
}

/// A template nothing sends.
pub(crate) fn unused_template(span: Span, name: &str) -> Diagnostic {
    unused(
        span,
        Declaration::Template,
        name,
        "remove it, or send it: `send CHANNEL NAME`",
    )
}

// codes::IMPOSSIBLE_CONDITION

/// `x in []`.
pub(crate) fn impossible_empty_list(span: Span, path: &str) -> Diagnostic {
    impossible_condition(
        span,
        format!("nothing is in an empty list, so `{path} in []` never holds"),
    )
}

/// Bounds no value of a path satisfies.
pub(crate) fn impossible_bounds(span: Span, path: &str) -> Diagnostic {
    impossible_condition(
        span,
        format!("no value of `{path}` satisfies all of these bounds"),
    )
}

/// `x == m` after an enclosing condition ruled out `m`.
pub(crate) fn impossible_ruled_out(span: Span, path: &str, member: &str) -> Diagnostic {
    impossible_condition(
        span,
        format!("an earlier condition already ruled out `{path} == {member}`"),
    )
}

/// Comparisons that require different members at once.
pub(crate) fn impossible_members(span: Span, path: &str) -> Diagnostic {
    impossible_condition(
        span,
        format!("`{path}` cannot equal every member these comparisons require"),
    )
}

/// A member the enclosing conditions leave out (`possible`: those still possible).
pub(crate) fn impossible_member(span: Span, path: &str, possible: &[&str]) -> Diagnostic {
    impossible_condition(
        span,
        format!(
            "`{path}` can only be {} here",
            one_of(possible.iter().copied())
        ),
    )
}

// codes::WAIT_PAST_GOAL

/// A send at least `earliest` seconds after entry, past every goal's window.
pub(crate) fn wait_past_goal(
    span: Span,
    goal_span: Span,
    goal: &str,
    earliest: i64,
    within: i64,
) -> Diagnostic {
    Diagnostic::warning(
        codes::WAIT_PAST_GOAL,
        format!("this message goes out after goal `{goal}` can no longer be reached"),
    )
    .with_primary(
        span,
        format!("at least {} after entry", format_duration(earliest)),
    )
    .with_secondary(
        goal_span,
        format!("counts only {} after entry", format_duration(within)),
    )
    .with_help("shorten the waits before this send, or widen the goal's `within`")
}

// codes::WAIT_FOR_WITHOUT_ELSE

/// A `wait for` with no `else`.
pub(crate) fn wait_for_without_else(span: Span, event: &str, within: i64) -> Diagnostic {
    Diagnostic::warning(
        codes::WAIT_FOR_WITHOUT_ELSE,
        format!("nothing says what happens when `{event}` does not come"),
    )
    .with_primary(
        span,
        format!(
            "after {} without it, the workflow goes on silently",
            format_duration(within)
        ),
    )
    .with_help(
        "add `else { … }` for the timeout, even an empty `else {}` to say that nothing happens",
    )
}

// codes::WAIT_FOR_EXIT_EVENT

/// `wait for EVENT … then { … }` where `exit on EVENT` ends the journey
/// when the event comes (`exit`: where that clause is).
pub(crate) fn wait_for_exit_event(span: Span, exit: Span, event: &str) -> Diagnostic {
    Diagnostic::warning(
        codes::WAIT_FOR_EXIT_EVENT,
        format!("the `then` branch of this `wait for` never runs: `{event}` ends the journey first"),
    )
    .with_primary(span, format!("`{event}` exits the journey before it is waited for"))
    .with_secondary(exit, format!("`exit on {event}` here"))
    .with_help(format!(
        "`exit on` comes first when `{event}` arrives; drop the `then` branch (the wait ends the journey either way), or take `{event}` out of `exit on` if the journey should go on"
    ))
}

// codes::WAIT_UNTIL_PAST

/// `wait until … on day N` that up to `latest` seconds of earlier waits can run past.
pub(crate) fn wait_until_past(span: Span, day: i64, minutes: u16, latest: i64) -> Diagnostic {
    Diagnostic::warning(
        codes::WAIT_UNTIL_PAST,
        format!(
            "earlier waits can run past day {day} at {}",
            format_time_of_day(minutes)
        ),
    )
    .with_primary(
        span,
        format!(
            "up to {} may have passed since entry",
            format_duration(latest)
        ),
    )
    .with_help(
        "a time already past continues at once; pick a later day or shorten the waits before it",
    )
}

// codes::NEEDLESS_DEFAULT

/// `??` on a value, written `text`, that is never `none`.
pub(crate) fn needless_default(span: Span, text: &str, ty: &str) -> Diagnostic {
    Diagnostic::warning(
        codes::NEEDLESS_DEFAULT,
        format!("`{text}` is never `none`, so `??` does nothing"),
    )
    .with_primary(span, format!("`{text}` is a `{ty}`"))
    .with_help("remove the `??` and its default")
}

// Pieces shared by several constructors.

/// "did you mean `x`?" (the language server reads the name back).
fn did_you_mean(name: &str) -> String {
    format!("did you mean `{name}`?")
}

/// A second `profile` or `policy` block.
fn duplicate_block(
    code: &'static str,
    keyword: &str,
    span: Span,
    first: Span,
    first_file: Option<&Arc<SourceFile>>,
) -> Diagnostic {
    let d = Diagnostic::error(
        code,
        format!("the project has more than one `{keyword}` block"),
    )
    .with_primary(span, "another one here")
    .with_help(format!(
        "a project has exactly one `{keyword}`: merge the two blocks"
    ));
    match first_file {
        None => d.with_secondary(first, "first one here"),
        Some(src) => d.with_related(
            Diagnostic::error(code, format!("the first `{keyword}` block"))
                .with_primary(first, "first one here")
                .in_file(src),
        ),
    }
}

/// The help for an unknown time zone.
fn timezone_help(suggestion: Option<&str>) -> String {
    suggestion.map(did_you_mean).unwrap_or_else(|| {
        "use an IANA zone name such as `Europe/Berlin`, `America/New_York` or `UTC`".to_owned()
    })
}

/// A template file uses `var`, with `problem` and `help`.
fn template_variable(span: Span, path: &str, var: &str, problem: &str, help: &str) -> Diagnostic {
    Diagnostic::error(
        codes::TEMPLATE_VARIABLE,
        format!("template file `{path}` uses `{var}`, {problem}"),
    )
    .with_primary(span, format!("uses `{var}`"))
    .with_help(help.to_owned())
}

/// A declaration nothing uses.
fn unused(span: Span, what: Declaration, name: &str, help: &str) -> Diagnostic {
    Diagnostic::warning(codes::UNUSED, format!("{what} `{name}` is never used"))
        .with_primary(span, "declared here")
        .with_help(help.to_owned())
}

/// A condition that can never hold, and `why`.
fn impossible_condition(span: Span, why: String) -> Diagnostic {
    Diagnostic::warning(codes::IMPOSSIBLE_CONDITION, "this condition can never hold")
        .with_primary(span, why)
        .with_help("check the bounds and members; did you mean `or`?")
}
