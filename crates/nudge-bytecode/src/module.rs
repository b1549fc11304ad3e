//! The compiled module: side tables, programs, schemas and the span table.

pub use nudge_core::{Channel, Priority, Scalar};
use serde::{Deserialize, Serialize};

use crate::instr::{
    CmpOp, DurationId, EscalationId, EventId, FunctionId, Instr, MessageId, Pc, SegmentId,
    StringId, TemplateId,
};

/// A constant in the pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Const {
    /// `none`
    None,
    /// `true` / `false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (interpolations are compiled separately).
    Str(String),
    /// An instant, milliseconds since the Unix epoch, UTC.
    Time(i64),
    /// A duration in seconds.
    Duration(i64),
    /// A time of day in minutes after midnight.
    TimeOfDay(u16),
    /// An enum member: the enum's index in [`Schemas::enums`] and the member's.
    Enum {
        /// Which enum.
        enum_id: u16,
        /// Which member.
        member: u16,
    },
}

/// The type of a schema field. (Its layout is part of the module format:
/// the built-in types are listed here rather than wrapped in a [`Scalar`].)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Type {
    /// `string`
    String,
    /// `int`
    Int,
    /// `float`
    Float,
    /// `bool`
    Bool,
    /// `time`
    Time,
    /// `duration`
    Duration,
    /// `time_of_day`
    TimeOfDay,
    /// `email`
    Email,
    /// `phone`
    Phone,
    /// `url`
    Url,
    /// `timezone`
    Timezone,
    /// A declared enum, by index into [`Schemas::enums`].
    Enum(u16),
    /// `[T]`
    List(Box<Type>),
    /// `T?`
    Optional(Box<Type>),
}

impl Type {
    /// The built-in type this is, if it is neither an enum, a list nor an
    /// optional.
    pub fn scalar(&self) -> Option<Scalar> {
        Some(match self {
            Type::String => Scalar::String,
            Type::Int => Scalar::Int,
            Type::Float => Scalar::Float,
            Type::Bool => Scalar::Bool,
            Type::Time => Scalar::Time,
            Type::Duration => Scalar::Duration,
            Type::TimeOfDay => Scalar::TimeOfDay,
            Type::Email => Scalar::Email,
            Type::Phone => Scalar::Phone,
            Type::Url => Scalar::Url,
            Type::Timezone => Scalar::Timezone,
            Type::Enum(_) | Type::List(_) | Type::Optional(_) => return None,
        })
    }
}

impl From<Scalar> for Type {
    fn from(s: Scalar) -> Type {
        match s {
            Scalar::String => Type::String,
            Scalar::Int => Type::Int,
            Scalar::Float => Type::Float,
            Scalar::Bool => Type::Bool,
            Scalar::Time => Type::Time,
            Scalar::Duration => Type::Duration,
            Scalar::TimeOfDay => Type::TimeOfDay,
            Scalar::Email => Type::Email,
            Scalar::Phone => Type::Phone,
            Scalar::Url => Type::Url,
            Scalar::Timezone => Type::Timezone,
        }
    }
}

/// A field of a profile or event schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldSchema {
    /// The field's name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Its default value, if declared.
    pub default: Option<Const>,
}

/// A declared event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventSchema {
    /// The event's name.
    pub name: String,
    /// Its properties.
    pub fields: Vec<FieldSchema>,
}

/// A declared enum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumSchema {
    /// The enum's name.
    pub name: String,
    /// Its members in order.
    pub members: Vec<String>,
}

/// The schemas a module was compiled against (also used to validate input).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Schemas {
    /// Declared enums.
    pub enums: Vec<EnumSchema>,
    /// Declared events.
    pub events: Vec<EventSchema>,
    /// The profile's declared fields (the implicit `id` is not listed).
    pub profile: Vec<FieldSchema>,
}

impl Schemas {
    /// The index of an event by name.
    pub fn event_id(&self, name: &str) -> Option<EventId> {
        self.events
            .iter()
            .position(|e| e.name == name)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// The index of a profile field by name.
    pub fn profile_field(&self, name: &str) -> Option<u16> {
        self.profile
            .iter()
            .position(|f| f.name == name)
            .and_then(|i| u16::try_from(i).ok())
    }
}

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSpan {
    /// Index into [`Module::files`], or [`SourceSpan::NO_FILE`].
    pub file: u16,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl SourceSpan {
    /// The file index of code that comes from no source file
    /// (hand-assembled code, or more files than a module can name).
    pub const NO_FILE: u16 = u16::MAX;

    /// A span that points nowhere (hand-assembled code).
    pub const NONE: SourceSpan = SourceSpan {
        file: SourceSpan::NO_FILE,
        start: 0,
        end: 0,
    };

    /// Whether the span names a source file.
    pub fn has_file(&self) -> bool {
        self.file != SourceSpan::NO_FILE
    }
}

/// What a function computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FunctionKind {
    /// A workflow's body: statements, ends with `return` on an empty stack.
    Body,
    /// An expression (a filter, audience, guard, segment or interpolation):
    /// returns one value.
    Expr,
}

/// A piece of code with its span table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Function {
    /// A readable name for listings (`workflow onboarding`, `segment paid`, …).
    pub name: String,
    /// Body or expression.
    pub kind: FunctionKind,
    /// The instructions.
    pub code: Vec<Instr>,
    /// Where each instruction came from; same length as `code`.
    pub spans: Vec<SourceSpan>,
}

/// `EVENT [where filter]`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMatch {
    /// The event.
    pub event: EventId,
    /// An expression function over `event.*` returning a bool.
    pub filter: Option<FunctionId>,
}

/// What starts a journey.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    /// An event, optionally filtered.
    Event(EventMatch),
    /// `inactive for D`
    Inactive(DurationId),
    /// `[D before|after] [anniversary of] profile.FIELD [at HH:MM zone]`.
    /// Last, so that older modules decode.
    Date(DateTrigger),
}

/// When a date trigger fires, read from a profile's time field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateTrigger {
    /// The profile field (an index into the profile schema).
    pub field: crate::instr::FieldId,
    /// Seconds after the field's instant or date (negative: before).
    pub offset: i64,
    /// Every year on the field's calendar date (in UTC).
    pub yearly: bool,
    /// A time of day (minutes after midnight) and its zone; without it,
    /// the instant itself (moved by the offset).
    pub at: Option<(u16, Zone)>,
}

/// Re-entry rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryRule {
    /// No `entry` line: any trigger may enter, one journey at a time.
    #[default]
    Default,
    /// `entry once`
    Once,
    /// `entry once per D`
    OncePer(DurationId),
    /// `entry restart`
    Restart,
}

/// `goal NAME = EVENT [where …] within D`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goal {
    /// The goal's name.
    pub name: StringId,
    /// The converting event.
    pub event: EventMatch,
    /// How long after entry it counts.
    pub within: DurationId,
}

/// One compiled workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    /// The workflow's name.
    pub name: String,
    /// What starts it.
    pub triggers: Vec<Trigger>,
    /// Checked at entry.
    pub audience: Option<FunctionId>,
    /// Events that end a journey at once.
    pub exit_on: Vec<EventMatch>,
    /// Re-entry rule.
    pub entry: EntryRule,
    /// Goals.
    pub goals: Vec<Goal>,
    /// Priority.
    pub priority: Priority,
    /// The body function.
    pub body: FunctionId,
}

/// A named condition over the profile and its history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The segment's name.
    pub name: String,
    /// Its predicate.
    pub predicate: FunctionId,
}

/// A piece of a compiled string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StringPart {
    /// Literal text.
    Text(StringId),
    /// An interpolated value: an expression function (`path ?? default`
    /// compiles into it).
    Value(FunctionId),
}

/// The value of a template or message field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FieldValue {
    /// A string with interpolations.
    Text(Vec<StringPart>),
    /// A typed value (webhook bodies): an expression function.
    Expr(FunctionId),
    /// A template file frozen into the module.
    File {
        /// The path as written.
        path: StringId,
        /// The file's content when compiled.
        source: StringId,
    },
    /// A nested object.
    Object(Vec<MessageField>),
}

/// `name: value`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageField {
    /// The field's name.
    pub name: StringId,
    /// Its value.
    pub value: FieldValue,
}

/// A declared template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// The template's name.
    pub name: String,
    /// The channel it renders for.
    pub channel: Channel,
    /// The event whose properties it may use.
    pub event: Option<EventId>,
    /// Its fields.
    pub fields: Vec<MessageField>,
}

/// What a `send` (or an escalation step) sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageDesc {
    /// The channel.
    pub channel: Channel,
    /// A template, if named.
    pub template: Option<TemplateId>,
    /// Inline fields, overriding the template's.
    pub overrides: Vec<MessageField>,
    /// The profile field holding the address (email, phone, push token),
    /// re-checked when the message is sent.
    pub address: Option<crate::instr::FieldId>,
}

/// The window of a `did` query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Window {
    /// Ever.
    Ever,
    /// In the last D.
    Within(DurationId),
    /// Since this journey started (the trigger excluded).
    SinceEntry,
}

/// `did EVENT [where f] [times OP N] [within D | since entry]`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// The event and filter.
    pub event: EventMatch,
    /// `times OP N`; none means "at least once".
    pub count: Option<(CmpOp, u32)>,
    /// The window.
    pub window: Window,
}

/// The zone a time of day is read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Zone {
    /// The profile's `timezone`, else the project default.
    Local,
    /// A named IANA zone (string table).
    Named(StringId),
}

/// Which day a `wait until` targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DaySpec {
    /// The next occurrence strictly after now.
    Next,
    /// Local entry date + N.
    Day(u16),
    /// The next such weekday (0 = Monday … 6 = Sunday).
    Weekday(u8),
}

/// `wait until HH:MM [zone] [day]`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitUntil {
    /// Minutes after midnight.
    pub minutes: u16,
    /// The zone.
    pub zone: Zone,
    /// The day.
    pub day: DaySpec,
}

/// `wait for EVENT [where] within D then {…} else {…}`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitFor {
    /// The awaited event.
    pub event: EventMatch,
    /// The deadline after the wait starts.
    pub within: DurationId,
    /// Where to continue when the event arrives.
    pub then_pc: Pc,
    /// Where to continue at the deadline.
    pub else_pc: Pc,
}

/// One arm of a split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitArm {
    /// Share in basis points (hundredths of a percent).
    pub basis_points: u32,
    /// Where the arm starts.
    pub pc: Pc,
}

/// `split name { … }`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// The experiment's name (part of the hash).
    pub name: StringId,
    /// Arms in order; a bucket beyond the arms' total goes to `end_pc`.
    pub arms: Vec<SplitArm>,
    /// After the split.
    pub end_pc: Pc,
}

/// `escalate until EVENT { … }`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// The event that stops it.
    pub until: EventMatch,
    /// Where to continue when it stops (after the block).
    pub end_pc: Pc,
}

/// `cap N per D [for channels]`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cap {
    /// Messages allowed per window.
    pub count: u32,
    /// The sliding window in seconds.
    pub per: i64,
    /// Channels counted (empty: [`Cap::DEFAULT_CHANNELS`]).
    pub channels: Vec<Channel>,
}

impl Cap {
    /// What a cap without `for` counts: the channels that interrupt people.
    pub const DEFAULT_CHANNELS: [Channel; 3] = [Channel::Email, Channel::Push, Channel::Sms];

    /// The channels this cap counts.
    pub fn channels(&self) -> &[Channel] {
        if self.channels.is_empty() {
            &Self::DEFAULT_CHANNELS
        } else {
            &self.channels
        }
    }

    /// Whether sends on `channel` count towards this cap.
    pub fn covers(&self, channel: Channel) -> bool {
        self.channels().contains(&channel)
    }
}

/// `quiet hours FROM to TO [zone] [for channels]`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// Window start, minutes after midnight.
    pub from: u16,
    /// Window end, minutes after midnight (may be before `from`: wraps midnight).
    pub to: u16,
    /// The zone.
    pub zone: Zone,
    /// Channels deferred.
    pub channels: Vec<Channel>,
}

/// Policies across all workflows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Frequency caps; a send must fit under every cap that counts its
    /// channel.
    pub caps: Vec<Cap>,
    /// Quiet hours.
    pub quiet_hours: Vec<QuietHours>,
}

/// The module header (written before the postcard body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format version of the body.
    pub format_version: u16,
    /// The compiler that wrote it.
    pub compiler_version: String,
    /// A hash of the sources it was compiled from.
    pub source_hash: u64,
}

/// A compiled project.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Module {
    /// Compiler version (also written in the header).
    pub compiler_version: String,
    /// Hash of the sources (also written in the header).
    pub source_hash: u64,
    /// Source file names, indexed by [`SourceSpan::file`].
    pub files: Vec<String>,
    /// Constant pool.
    pub consts: Vec<Const>,
    /// Strings (names, literal text, template sources).
    pub strings: Vec<String>,
    /// Durations in seconds.
    pub durations: Vec<i64>,
    /// All code.
    pub functions: Vec<Function>,
    /// Workflows.
    pub workflows: Vec<Workflow>,
    /// Segments.
    pub segments: Vec<Segment>,
    /// Templates.
    pub templates: Vec<Template>,
    /// Message descriptors.
    pub messages: Vec<MessageDesc>,
    /// History queries.
    pub queries: Vec<Query>,
    /// `wait until` descriptors.
    pub wait_untils: Vec<WaitUntil>,
    /// `wait for` descriptors.
    pub wait_fors: Vec<WaitFor>,
    /// Splits.
    pub splits: Vec<Split>,
    /// Escalations.
    pub escalations: Vec<Escalation>,
    /// Policies.
    pub policy: Policy,
    /// The schemas compiled against.
    pub schemas: Schemas,
    /// The names of each split's arms (parallel to [`Module::splits`]).
    /// Last, so that a format-1 module (which has none) reads as one with
    /// an empty table: see [`Module::arm_name`].
    pub arm_names: Vec<Vec<StringId>>,
}

impl Module {
    /// The name of arm `arm` of split `split`: as written, or by position.
    pub fn arm_name(&self, split: crate::instr::SplitId, arm: usize) -> std::borrow::Cow<'_, str> {
        match self
            .arm_names
            .get(split as usize)
            .and_then(|arms| arms.get(arm))
        {
            Some(&name) => std::borrow::Cow::Borrowed(self.string(name)),
            None => std::borrow::Cow::Owned(nudge_core::percent::default_arm_name(arm)),
        }
    }

    /// A string from the string table (empty when out of range; verified
    /// modules never are).
    pub fn string(&self, id: StringId) -> &str {
        self.strings
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("")
    }

    /// A duration in seconds (0 when out of range; verified modules never are).
    pub fn duration(&self, id: DurationId) -> i64 {
        self.durations.get(id as usize).copied().unwrap_or(0)
    }

    /// A workflow by name.
    pub fn workflow_id(&self, name: &str) -> Option<u16> {
        self.workflows
            .iter()
            .position(|w| w.name == name)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// The event's name (`?` when out of range).
    pub fn event_name(&self, id: EventId) -> &str {
        self.schemas
            .events
            .get(id as usize)
            .map(|e| e.name.as_str())
            .unwrap_or("?")
    }

    /// The header this module is written with.
    pub fn header(&self) -> Header {
        Header {
            format_version: crate::FORMAT_VERSION,
            compiler_version: self.compiler_version.clone(),
            source_hash: self.source_hash,
        }
    }

    /// Message descriptor by id.
    pub fn message(&self, id: MessageId) -> Option<&MessageDesc> {
        self.messages.get(id as usize)
    }

    /// Segment by id.
    pub fn segment(&self, id: SegmentId) -> Option<&Segment> {
        self.segments.get(id as usize)
    }

    /// Escalation by id.
    pub fn escalation(&self, id: EscalationId) -> Option<&Escalation> {
        self.escalations.get(id as usize)
    }
}
