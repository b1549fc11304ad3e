//! Stable diagnostic codes of the checker. Each has a page in
//! `docs/errors/check/` (`nudge::check::unknown_property` →
//! `docs/errors/check/unknown_property.md`); a released code never changes
//! meaning.

/// Two declarations of the same kind share a name.
pub const DUPLICATE_DECLARATION: &str = "nudge::check::duplicate_declaration";
/// A schema, an object or a template names the same field twice.
pub const DUPLICATE_FIELD: &str = "nudge::check::duplicate_field";
/// An enum lists the same member twice.
pub const DUPLICATE_MEMBER: &str = "nudge::check::duplicate_member";
/// A workflow repeats a clause that may appear once (`audience`, `entry`, `priority`).
pub const DUPLICATE_CLAUSE: &str = "nudge::check::duplicate_clause";
/// A workflow declares two goals with the same name.
pub const DUPLICATE_GOAL: &str = "nudge::check::duplicate_goal";
/// A workflow has two splits with the same name.
pub const DUPLICATE_SPLIT: &str = "nudge::check::duplicate_split";
/// Two arms of a split have the same name.
pub const DUPLICATE_ARM: &str = "nudge::check::duplicate_arm";
/// A test names a split no workflow has (or one several have, unqualified).
pub const UNKNOWN_SPLIT: &str = "nudge::check::unknown_split";
/// A test names an arm its split does not have.
pub const UNKNOWN_ARM: &str = "nudge::check::unknown_arm";
/// The project has no `profile` block.
pub const MISSING_PROFILE: &str = "nudge::check::missing_profile";
/// The project has more than one `profile` block.
pub const DUPLICATE_PROFILE: &str = "nudge::check::duplicate_profile";
/// The project has more than one `policy` block.
pub const DUPLICATE_POLICY: &str = "nudge::check::duplicate_policy";
/// A profile declares `id`, which every profile has implicitly.
pub const RESERVED_FIELD: &str = "nudge::check::reserved_field";
/// A field's type is neither built in nor a declared enum.
pub const UNKNOWN_TYPE: &str = "nudge::check::unknown_type";
/// An event name that is not declared.
pub const UNKNOWN_EVENT: &str = "nudge::check::unknown_event";
/// `in NAME` names no segment.
pub const UNKNOWN_SEGMENT: &str = "nudge::check::unknown_segment";
/// A template name that is not declared.
pub const UNKNOWN_TEMPLATE: &str = "nudge::check::unknown_template";
/// A test names a workflow that is not declared.
pub const UNKNOWN_WORKFLOW: &str = "nudge::check::unknown_workflow";
/// A test names a goal no workflow declares.
pub const UNKNOWN_GOAL: &str = "nudge::check::unknown_goal";
/// A path names a field the profile or the event does not have.
pub const UNKNOWN_PROPERTY: &str = "nudge::check::unknown_property";
/// A value is not a member of the enum expected there.
pub const UNKNOWN_ENUM_MEMBER: &str = "nudge::check::unknown_enum_member";
/// A bare name that is neither an enum member expected there nor a path root.
pub const UNKNOWN_NAME: &str = "nudge::check::unknown_name";
/// A message or template field the channel does not have.
pub const UNKNOWN_MESSAGE_FIELD: &str = "nudge::check::unknown_message_field";
/// A path that is not a value (`profile`, `event`) or goes past a field.
pub const INVALID_PATH: &str = "nudge::check::invalid_path";
/// A segment refers to itself, directly or through others.
pub const SEGMENT_CYCLE: &str = "nudge::check::segment_cycle";
/// `event.` where there is no event.
pub const EVENT_NOT_IN_SCOPE: &str = "nudge::check::event_not_in_scope";
/// `X.field` where `X` is not received on every path.
pub const EVENT_NOT_RECEIVED: &str = "nudge::check::event_not_received";
/// A value of one type where another is needed.
pub const TYPE_MISMATCH: &str = "nudge::check::type_mismatch";
/// A value that may be `none` used where a value is needed.
pub const OPTIONAL_NOT_NARROWED: &str = "nudge::check::optional_not_narrowed";
/// `none` compared with a value that is never `none`.
pub const NOT_OPTIONAL: &str = "nudge::check::not_optional";
/// `<`, `<=`, `>` or `>=` on a type without an order.
pub const NOT_ORDERED: &str = "nudge::check::not_ordered";
/// An interpolation's format that its value's type cannot be written
/// with.
pub const FORMAT_SPEC: &str = "nudge::check::format_spec";
/// A date trigger read at a time of day whose offset is not whole days.
pub const DATE_OFFSET: &str = "nudge::check::date_offset";
/// A string literal that is not a valid email, phone or url.
pub const INVALID_FORMAT: &str = "nudge::check::invalid_format";
/// A time zone that is not an IANA name.
pub const UNKNOWN_TIMEZONE: &str = "nudge::check::unknown_timezone";
/// A duration of zero where a wait or window is meant.
pub const NON_POSITIVE_DURATION: &str = "nudge::check::non_positive_duration";
/// The arms of a split do not add up to 100%.
pub const SPLIT_TOTAL: &str = "nudge::check::split_total";
/// `on day N` with a negative N.
pub const INVALID_DAY: &str = "nudge::check::invalid_day";
/// A negative count in `did … times`.
pub const INVALID_COUNT: &str = "nudge::check::invalid_count";
/// A cap that allows fewer than one message.
pub const INVALID_CAP: &str = "nudge::check::invalid_cap";
/// Quiet hours that start and end at the same time.
pub const EMPTY_QUIET_HOURS: &str = "nudge::check::empty_quiet_hours";
/// A workflow without an `on` clause.
pub const MISSING_TRIGGER: &str = "nudge::check::missing_trigger";
/// A message lacks a field its channel requires.
pub const MISSING_MESSAGE_FIELD: &str = "nudge::check::missing_message_field";
/// `send CHANNEL TEMPLATE` where the template is for another channel.
pub const TEMPLATE_CHANNEL_MISMATCH: &str = "nudge::check::template_channel_mismatch";
/// A template `for X` sent from a workflow that is not triggered by `X`.
pub const TEMPLATE_EVENT_MISMATCH: &str = "nudge::check::template_event_mismatch";
/// A `file(…)` template that cannot be read.
pub const TEMPLATE_FILE: &str = "nudge::check::template_file";
/// A `file(…)` template that does not parse.
pub const TEMPLATE_SYNTAX: &str = "nudge::check::template_syntax";
/// A `file(…)` template uses a variable the schemas do not have.
pub const TEMPLATE_VARIABLE: &str = "nudge::check::template_variable";
/// A channel is used but the profile has no attribute to address it.
pub const NO_ADDRESS_FIELD: &str = "nudge::check::no_address_field";
/// A send on a path where the channel's address may be `none`.
pub const ADDRESS_NOT_NARROWED: &str = "nudge::check::address_not_narrowed";
/// A test profile or event lacks a required field.
pub const MISSING_PROPERTY: &str = "nudge::check::missing_property";
/// A test's first time is relative.
pub const RELATIVE_FIRST_AT: &str = "nudge::check::relative_first_at";
/// A marketing workflow keeps sending after a wait with no `exit on` and no `goal`. (warning)
pub const MISSING_SUPPRESSION: &str = "nudge::check::missing_suppression";
/// A goal's event does not also end the journey. (warning)
pub const GOAL_NOT_EXIT: &str = "nudge::check::goal_not_exit";
/// Statements after `exit`. (warning)
pub const UNREACHABLE: &str = "nudge::check::unreachable";
/// A declaration nothing uses. (warning)
pub const UNUSED: &str = "nudge::check::unused";
/// A condition that can never hold. (warning)
pub const IMPOSSIBLE_CONDITION: &str = "nudge::check::impossible_condition";
/// A send that can only happen after every goal's window has closed. (warning)
pub const WAIT_PAST_GOAL: &str = "nudge::check::wait_past_goal";
/// A `wait for` with no `else`. (warning)
pub const WAIT_FOR_WITHOUT_ELSE: &str = "nudge::check::wait_for_without_else";
/// A `wait for E` with a `then` branch, where `exit on E` ends the journey
/// first.
pub const WAIT_FOR_EXIT_EVENT: &str = "nudge::check::wait_for_exit_event";
/// A `wait until … on day N` that earlier waits can run past. (warning)
pub const WAIT_UNTIL_PAST: &str = "nudge::check::wait_until_past";
/// `??` on a value that is never `none`. (warning)
pub const NEEDLESS_DEFAULT: &str = "nudge::check::needless_default";

/// Every check code, for documentation tests.
pub const ALL: &[&str] = &[
    DUPLICATE_DECLARATION,
    DUPLICATE_FIELD,
    DUPLICATE_MEMBER,
    DUPLICATE_CLAUSE,
    DUPLICATE_GOAL,
    DUPLICATE_SPLIT,
    DUPLICATE_ARM,
    UNKNOWN_SPLIT,
    UNKNOWN_ARM,
    MISSING_PROFILE,
    DUPLICATE_PROFILE,
    DUPLICATE_POLICY,
    RESERVED_FIELD,
    UNKNOWN_TYPE,
    UNKNOWN_EVENT,
    UNKNOWN_SEGMENT,
    UNKNOWN_TEMPLATE,
    UNKNOWN_WORKFLOW,
    UNKNOWN_GOAL,
    UNKNOWN_PROPERTY,
    UNKNOWN_ENUM_MEMBER,
    UNKNOWN_NAME,
    UNKNOWN_MESSAGE_FIELD,
    INVALID_PATH,
    SEGMENT_CYCLE,
    EVENT_NOT_IN_SCOPE,
    EVENT_NOT_RECEIVED,
    TYPE_MISMATCH,
    OPTIONAL_NOT_NARROWED,
    NOT_OPTIONAL,
    NOT_ORDERED,
    INVALID_FORMAT,
    FORMAT_SPEC,
    DATE_OFFSET,
    UNKNOWN_TIMEZONE,
    NON_POSITIVE_DURATION,
    SPLIT_TOTAL,
    INVALID_DAY,
    INVALID_COUNT,
    INVALID_CAP,
    EMPTY_QUIET_HOURS,
    MISSING_TRIGGER,
    MISSING_MESSAGE_FIELD,
    TEMPLATE_CHANNEL_MISMATCH,
    TEMPLATE_EVENT_MISMATCH,
    TEMPLATE_FILE,
    TEMPLATE_SYNTAX,
    TEMPLATE_VARIABLE,
    NO_ADDRESS_FIELD,
    ADDRESS_NOT_NARROWED,
    MISSING_PROPERTY,
    RELATIVE_FIRST_AT,
    MISSING_SUPPRESSION,
    GOAL_NOT_EXIT,
    UNREACHABLE,
    UNUSED,
    IMPOSSIBLE_CONDITION,
    WAIT_PAST_GOAL,
    WAIT_FOR_WITHOUT_ELSE,
    WAIT_FOR_EXIT_EVENT,
    WAIT_UNTIL_PAST,
    NEEDLESS_DEFAULT,
];

/// The codes that are warnings (lints).
pub const WARNINGS: &[&str] = &[
    MISSING_SUPPRESSION,
    GOAL_NOT_EXIT,
    UNREACHABLE,
    UNUSED,
    IMPOSSIBLE_CONDITION,
    WAIT_PAST_GOAL,
    WAIT_FOR_WITHOUT_ELSE,
    WAIT_FOR_EXIT_EVENT,
    WAIT_UNTIL_PAST,
    NEEDLESS_DEFAULT,
];
