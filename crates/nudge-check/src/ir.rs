//! The typed, resolved program: what the bytecode compiler reads.
//!
//! Names are resolved to indexes (`EventId`, `FieldId`, …) into the tables
//! of [`Program`]; every expression carries its [`Type`]; every node keeps
//! its [`Span`] and every declaration its [`FileId`], for the span table.

use std::sync::Arc;

use nudge_syntax::ast::{BinaryOp, Channel, Priority};
pub use nudge_syntax::ast::{ExpectCount, JourneyState};
use nudge_syntax::{SourceFile, Span};

use crate::types::Type;

pub use crate::ids::{EnumId, EventId, FieldId, FileId, SegmentId, TemplateId, WorkflowId};

/// A place in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    /// Which file.
    pub file: FileId,
    /// Where in it.
    pub span: Span,
}

/// A checked project.
#[derive(Clone, Debug)]
pub struct Program {
    /// The source files, indexed by [`FileId`].
    pub files: Vec<Arc<SourceFile>>,
    /// Declared enums.
    pub enums: Vec<EnumDef>,
    /// The profile schema; field 0 is the implicit `id`.
    pub profile: Schema,
    /// Declared events.
    pub events: Vec<EventDef>,
    /// Segments with their typed conditions.
    pub segments: Vec<SegmentDef>,
    /// Message templates.
    pub templates: Vec<TemplateDef>,
    /// Workflows.
    pub workflows: Vec<WorkflowDef>,
    /// The project policy, if declared.
    pub policy: Option<PolicyDef>,
    /// The `test` blocks, in file and source order.
    pub tests: Vec<Test>,
}

impl Program {
    /// The event called `name`.
    pub fn event(&self, name: &str) -> Option<EventId> {
        self.events
            .iter()
            .position(|e| e.name == name)
            .map(|i| EventId(i as u32))
    }

    /// The workflow called `name`.
    pub fn workflow(&self, name: &str) -> Option<WorkflowId> {
        self.workflows
            .iter()
            .position(|w| w.name == name)
            .map(|i| WorkflowId(i as u32))
    }

    /// The template called `name`.
    pub fn template(&self, name: &str) -> Option<TemplateId> {
        self.templates
            .iter()
            .position(|t| t.name == name)
            .map(|i| TemplateId(i as u32))
    }
}

/// `enum Plan { … }`
#[derive(Clone, Debug)]
pub struct EnumDef {
    /// Its name.
    pub name: String,
    /// Member names in order; a value is the member's index.
    pub members: Vec<String>,
    /// The declaration.
    pub loc: Loc,
}

/// The fields of the profile or of an event.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// Fields in declaration order.
    pub fields: Vec<FieldDef>,
}

impl Schema {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<FieldId> {
        self.fields
            .iter()
            .position(|f| f.name == name)
            .map(|i| FieldId(i as u32))
    }
}

/// One field of a schema.
#[derive(Clone, Debug)]
pub struct FieldDef {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Its default value.
    pub default: Option<Const>,
    /// The declaration (the `profile` keyword for the implicit `id`).
    pub loc: Loc,
}

impl FieldDef {
    /// Whether an event or profile must carry the field.
    pub fn required(&self) -> bool {
        !self.ty.is_optional() && self.default.is_none()
    }
}

/// `event name { … }`
#[derive(Clone, Debug)]
pub struct EventDef {
    /// Its name.
    pub name: String,
    /// Its properties.
    pub schema: Schema,
    /// The declaration.
    pub loc: Loc,
}

/// A constant value (defaults).
#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    /// `none`
    None,
    /// `true` / `false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (also emails, phones, urls and zones).
    String(String),
    /// Seconds.
    Duration(i64),
    /// Minutes after midnight.
    TimeOfDay(u16),
    /// An instant.
    Time(chrono::DateTime<chrono::Utc>),
    /// An enum member.
    Enum(EnumId, u32),
    /// A list.
    List(Vec<Const>),
}

/// `segment name = …`
#[derive(Clone, Debug)]
pub struct SegmentDef {
    /// Its name.
    pub name: String,
    /// The condition, over the profile and its history.
    pub condition: Expr,
    /// The declaration.
    pub loc: Loc,
}

/// `template name: channel [for event] { … }`
#[derive(Clone, Debug)]
pub struct TemplateDef {
    /// Its name.
    pub name: String,
    /// The channel it renders for.
    pub channel: Channel,
    /// The event whose properties it uses.
    pub event: Option<EventId>,
    /// Its fields.
    pub fields: Vec<MessageField>,
    /// The declaration.
    pub loc: Loc,
}

/// One field of a message (`subject`, `body`, …).
#[derive(Clone, Debug)]
pub struct MessageField {
    /// The field's name.
    pub name: String,
    /// Its content.
    pub value: FieldValue,
    /// The whole field.
    pub span: Span,
}

/// The content of a message field.
#[derive(Clone, Debug)]
pub enum FieldValue {
    /// Text with `{path}` interpolations.
    Text(Vec<TextPart>),
    /// A typed expression, rendered as text.
    Expr(Expr),
    /// A template file: its path (as written, relative to the `.flow`
    /// file's folder), its name as loaded, and its text. HTML files are
    /// escaped when rendered.
    File {
        /// As written.
        path: String,
        /// The text of the file.
        source: String,
        /// Variables it uses (dotted, sorted).
        variables: Vec<String>,
    },
    /// A JSON object (webhook bodies).
    Object(Vec<(String, FieldValue)>),
}

/// A piece of a text.
#[derive(Clone, Debug)]
pub enum TextPart {
    /// Literal text.
    Text(String),
    /// `{path}` or `{path ?? default}`, typed as one expression.
    Interp(Expr),
}

/// `workflow name { … }`
#[derive(Clone, Debug)]
pub struct WorkflowDef {
    /// Its name.
    pub name: String,
    /// What starts a journey.
    pub triggers: Vec<Trigger>,
    /// Checked at entry.
    pub audience: Option<Expr>,
    /// Events that end the journey at once.
    pub exits: Vec<EventMatch>,
    /// The re-entry rule.
    pub entry: Entry,
    /// Conversion goals.
    pub goals: Vec<Goal>,
    /// Message priority.
    pub priority: Priority,
    /// The steps.
    pub body: Vec<Stmt>,
    /// The declaration.
    pub loc: Loc,
}

/// What starts a journey.
#[derive(Clone, Debug)]
pub enum Trigger {
    /// An event, maybe filtered.
    Event(EventMatch),
    /// `inactive for D` (seconds).
    Inactive {
        /// Seconds without activity.
        seconds: i64,
        /// Where.
        span: Span,
    },
    /// `[D before|after] [anniversary of] profile.FIELD [at HH:MM zone]`.
    Date {
        /// The profile's time field.
        field: FieldId,
        /// Seconds after the field (negative: before).
        offset: i64,
        /// `anniversary of`: every year.
        yearly: bool,
        /// The time of day (minutes) and its zone.
        at: Option<(u16, Zone)>,
        /// Where.
        span: Span,
    },
}

/// `EVENT [where filter]`
#[derive(Clone, Debug)]
pub struct EventMatch {
    /// The event.
    pub event: EventId,
    /// A condition over that event (`event.*` means it).
    pub filter: Option<Expr>,
    /// Where.
    pub span: Span,
}

/// The re-entry rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// No rule: every trigger may enter, one journey at a time.
    Default,
    /// Once ever.
    Once,
    /// Once per this many seconds.
    OncePer(i64),
    /// A trigger restarts the running journey.
    Restart,
}

/// `goal NAME = EVENT [where …] within D`
#[derive(Clone, Debug)]
pub struct Goal {
    /// Its name.
    pub name: String,
    /// The converting event.
    pub event: EventMatch,
    /// Seconds after entry it counts.
    pub within: i64,
    /// Where.
    pub span: Span,
}

/// A workflow statement.
#[derive(Clone, Debug)]
pub enum Stmt {
    /// Send a message.
    Send(Send),
    /// `wait D` (seconds).
    Wait {
        /// Seconds.
        seconds: i64,
        /// Where.
        span: Span,
    },
    /// `wait until TIME [zone] [day]`
    WaitUntil {
        /// Minutes after midnight.
        minutes: u16,
        /// The zone it is read in.
        zone: Zone,
        /// Which day.
        day: Option<Day>,
        /// Where.
        span: Span,
    },
    /// `wait until EXPR [at HH:MM zone]`
    WaitUntilTime {
        /// The instant (a `time`).
        at: Expr,
        /// A time of day on that instant's local day, and its zone.
        clock: Option<(u16, Zone)>,
        /// Where.
        span: Span,
    },
    /// `wait for EVENT within D then … else …`
    WaitFor {
        /// The awaited event.
        event: EventMatch,
        /// Seconds to wait.
        within: i64,
        /// Runs when it arrives.
        then_block: Vec<Stmt>,
        /// Runs when it does not.
        else_block: Vec<Stmt>,
        /// Where.
        span: Span,
    },
    /// `if … else if … else …`
    If {
        /// Conditions and their blocks.
        branches: Vec<(Expr, Vec<Stmt>)>,
        /// The final `else`.
        else_block: Vec<Stmt>,
        /// Where.
        span: Span,
    },
    /// `split name { … }`
    Split {
        /// The experiment's name.
        name: String,
        /// Arms: name, share in basis points (they total 10 000) and the
        /// block.
        arms: Vec<(String, u32, Vec<Stmt>)>,
        /// Where.
        span: Span,
    },
    /// `escalate until EVENT { … }`
    Escalate {
        /// The event that stops it.
        until: EventMatch,
        /// The steps.
        steps: Vec<EscalateStep>,
        /// Where.
        span: Span,
    },
    /// `exit`
    Exit {
        /// Where.
        span: Span,
    },
}

/// A time zone for `wait until` and quiet hours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Zone {
    /// The profile's `timezone`, else the project default.
    Local,
    /// A named IANA zone.
    Named(String),
}

/// Which day a `wait until` lands on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Day {
    /// Local entry date + N.
    Number(i64),
    /// The next such weekday.
    Weekday(chrono::Weekday),
}

/// One step of an escalation.
#[derive(Clone, Debug)]
pub struct EscalateStep {
    /// Seconds after the previous step.
    pub after: i64,
    /// The message.
    pub send: Send,
    /// Skips the step when false.
    pub guard: Option<Expr>,
    /// Where.
    pub span: Span,
}

/// A message to send.
#[derive(Clone, Debug)]
pub struct Send {
    /// The channel.
    pub channel: Channel,
    /// The template, if any.
    pub template: Option<TemplateId>,
    /// Inline fields; they override the template's.
    pub fields: Vec<MessageField>,
    /// The profile field that holds the address (email, phone, push token).
    pub address: Option<FieldId>,
    /// Where.
    pub span: Span,
}

/// `policy { … }`
#[derive(Clone, Debug)]
pub struct PolicyDef {
    /// The rules.
    pub rules: Vec<PolicyRule>,
    /// The declaration.
    pub loc: Loc,
}

/// A policy rule.
#[derive(Clone, Debug)]
pub enum PolicyRule {
    /// At most `count` messages per `per` seconds on `channels`.
    Cap {
        /// How many.
        count: i64,
        /// Window in seconds.
        per: i64,
        /// Counted channels.
        channels: Vec<Channel>,
    },
    /// Defer `channels` between `from` and `to` (minutes after midnight).
    QuietHours {
        /// Start.
        from: u16,
        /// End.
        to: u16,
        /// Zone.
        zone: Zone,
        /// Deferred channels.
        channels: Vec<Channel>,
    },
}

/// A typed expression.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Its type (after narrowing: a narrowed `T?` is `T`).
    pub ty: Type,
    /// Where.
    pub span: Span,
}

/// Typed expression forms.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A constant.
    Const(Const),
    /// Text with interpolations.
    Text(Vec<TextPart>),
    /// `profile.FIELD`
    Profile(FieldId),
    /// `event.FIELD`: a field of the event in scope. With several
    /// triggers, the field's index in each candidate event.
    EventField(Vec<(EventId, FieldId)>),
    /// `X.FIELD`: a field of the last `X` this journey received.
    Received(EventId, FieldId),
    /// `last.X.FIELD`: a field of the profile's latest `X` (none when it
    /// has none).
    Last(EventId, FieldId),
    /// `[a, b]`
    List(Vec<Expr>),
    /// `not e`
    Not(Box<Expr>),
    /// `a op b`
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// A number or time written as the format says (`.2`, `%B %-d`).
    Format(Box<Expr>, String),
    /// `e is none` (`true`: `is not none`)
    IsNone(Box<Expr>, bool),
    /// `did EVENT …`
    Did {
        /// The event.
        event: EventId,
        /// A filter over it.
        filter: Option<Box<Expr>>,
        /// `times OP N`.
        count: Option<(BinaryOp, i64)>,
        /// The window.
        window: DidWindow,
    },
    /// `inactive for D` (seconds).
    Inactive(i64),
    /// `in SEGMENT`
    InSegment(SegmentId),
    /// `D ago` (seconds): an instant.
    Ago(i64),
}

/// The window of a `did`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DidWindow {
    /// Ever.
    Ever,
    /// In the last N seconds.
    Within(i64),
    /// Since this journey started (trigger excluded).
    SinceEntry,
}

// ------------------------------------------------------------------ tests

/// A `test` block: names resolved, values typed against their schemas,
/// times read. Steps of each kind keep their source order.
#[derive(Clone, Debug)]
pub struct Test {
    /// Its name.
    pub name: String,
    /// Its file and the whole declaration.
    pub loc: Loc,
    /// Its name as written (problems of the whole test point here).
    pub name_span: Span,
    /// `given profile "ID" { … }`: attributes set before the first step.
    pub profiles: Vec<(String, Vec<(FieldId, Const)>)>,
    /// `given "ID" did EVENT { … } at T`: history from before the test.
    pub history: Vec<PastEvent>,
    /// `given "ID" in arm ARM of split SPLIT`: arms chosen for profiles.
    pub arms: Vec<(String, ArmTarget)>,
    /// `at T "ID" …`: what profiles do during the test.
    pub steps: Vec<TestStep>,
    /// `expect …`
    pub expectations: Vec<Expectation>,
}

/// A point in test time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestTime {
    /// An absolute time.
    At(chrono::DateTime<chrono::Utc>),
    /// Signed seconds from the test's first absolute time.
    Offset(i64),
}

/// An event from before the test.
#[derive(Clone, Debug)]
pub struct PastEvent {
    /// The profile id.
    pub profile: String,
    /// The event.
    pub event: EventId,
    /// Its properties (fields of the event's schema).
    pub properties: Vec<(FieldId, Const)>,
    /// When it happened.
    pub at: TestTime,
}

/// An `at` step.
#[derive(Clone, Debug)]
pub struct TestStep {
    /// When.
    pub at: TestTime,
    /// The profile id.
    pub profile: String,
    /// What it does.
    pub action: TestAction,
    /// The whole step.
    pub span: Span,
}

/// What a profile does at a test step.
#[derive(Clone, Debug)]
pub enum TestAction {
    /// `does EVENT { properties }`
    Does {
        /// The event.
        event: EventId,
        /// Its properties (fields of the event's schema).
        properties: Vec<(FieldId, Const)>,
    },
    /// `identify { traits }` (fields of the profile schema).
    Identify(Vec<(FieldId, Const)>),
}

/// An `expect` step.
#[derive(Clone, Debug)]
pub struct Expectation {
    /// What it expects.
    pub kind: Expect,
    /// The step, without the blank lines and comments after it.
    pub span: Span,
}

/// What an `expect` step expects.
#[derive(Clone, Debug)]
pub enum Expect {
    /// `expect [no | N] (message[s] | CHANNEL [TEMPLATE]) [to "ID"] [TIME] [with FIELD "text"]*`
    Messages {
        /// How many.
        count: ExpectCount,
        /// The channel, if named.
        channel: Option<Channel>,
        /// The template, if named.
        template: Option<TemplateId>,
        /// The recipient, if named.
        to: Option<String>,
        /// When they go out.
        time: Option<ExpectTime>,
        /// Rendered fields that must match exactly.
        with: Vec<(String, String)>,
    },
    /// `expect "ID" entered WORKFLOW`, `did not enter`, `exited`,
    /// `completed`, `is in`, `reached goal GOAL`
    Journey {
        /// The profile id.
        profile: String,
        /// The state.
        state: JourneyState,
        /// The workflow or goal named.
        target: JourneyTarget,
    },
    /// `expect "ID" took arm ARM of split SPLIT`
    Arm {
        /// The profile id.
        profile: String,
        /// The arm.
        arm: ArmTarget,
    },
}

/// An arm of a split of a workflow, by names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArmTarget {
    /// The workflow.
    pub workflow: String,
    /// The split.
    pub split: String,
    /// The arm.
    pub arm: String,
}

/// When expected messages go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectTime {
    /// `at T`: exactly then.
    At(TestTime),
    /// `between T1 and T2`, inclusive.
    Between(TestTime, TestTime),
    /// `within D`: no later than D seconds after the test's first absolute
    /// time.
    Within(i64),
}

/// What a journey expectation names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JourneyTarget {
    /// A workflow.
    Workflow(WorkflowId),
    /// A goal, by name (any workflow's goal of that name).
    Goal(String),
}
