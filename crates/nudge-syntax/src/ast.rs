//! The spanned syntax tree of one `.flow` file.
//!
//! Every node carries a [`Span`]; names are [`Ident`]s with their own span,
//! so diagnostics can point at exactly the word they are about. Literals are
//! already decoded (durations in seconds, times of day in minutes, strings
//! unescaped and split into text and interpolations). No pest type leaks out.

pub use nudge_core::{BinaryOp, Channel, Priority};

use crate::span::Span;

/// A name as written, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// `///` lines written right above a declaration, field or enum member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocComment {
    /// The text with the `///` and one following space removed, lines joined by `\n`.
    pub text: String,
    /// All the doc lines.
    pub span: Span,
}

/// One parsed file.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    /// Top-level declarations in source order.
    pub items: Vec<Item>,
}

/// A top-level declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `enum Plan { … }`
    Enum(EnumDecl),
    /// `profile { … }`
    Profile(ProfileDecl),
    /// `event name { … }`
    Event(EventDecl),
    /// `segment name = …`
    Segment(SegmentDecl),
    /// `template name: channel [for event] { … }`
    Template(TemplateDecl),
    /// `workflow name { … }`
    Workflow(WorkflowDecl),
    /// `policy { … }`
    Policy(PolicyDecl),
    /// `test "name" { … }`
    Test(TestDecl),
}

impl Item {
    /// The whole declaration.
    pub fn span(&self) -> Span {
        match self {
            Item::Enum(d) => d.span,
            Item::Profile(d) => d.span,
            Item::Event(d) => d.span,
            Item::Segment(d) => d.span,
            Item::Template(d) => d.span,
            Item::Workflow(d) => d.span,
            Item::Policy(d) => d.span,
            Item::Test(d) => d.span,
        }
    }

    /// The doc comment above the declaration.
    pub fn doc(&self) -> Option<&DocComment> {
        match self {
            Item::Enum(d) => d.doc.as_ref(),
            Item::Profile(d) => d.doc.as_ref(),
            Item::Event(d) => d.doc.as_ref(),
            Item::Segment(d) => d.doc.as_ref(),
            Item::Template(d) => d.doc.as_ref(),
            Item::Workflow(d) => d.doc.as_ref(),
            Item::Policy(d) => d.doc.as_ref(),
            Item::Test(d) => d.doc.as_ref(),
        }
    }

    /// The declaration keyword (`enum`, `profile`, …).
    pub fn keyword(&self) -> &'static str {
        match self {
            Item::Enum(_) => "enum",
            Item::Profile(_) => "profile",
            Item::Event(_) => "event",
            Item::Segment(_) => "segment",
            Item::Template(_) => "template",
            Item::Workflow(_) => "workflow",
            Item::Policy(_) => "policy",
            Item::Test(_) => "test",
        }
    }
}

/// `enum Plan { starter, pro, enterprise }`
#[derive(Clone, Debug, PartialEq)]
pub struct EnumDecl {
    /// Doc comment.
    pub doc: Option<DocComment>,
    /// The enum's name.
    pub name: Ident,
    /// Members in order.
    pub members: Vec<EnumMember>,
    /// The whole declaration.
    pub span: Span,
}

/// One member of an enum.
#[derive(Clone, Debug, PartialEq)]
pub struct EnumMember {
    /// Doc comment.
    pub doc: Option<DocComment>,
    /// The member's name.
    pub name: Ident,
}

/// `profile { email: email? … }`
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileDecl {
    /// Doc comment.
    pub doc: Option<DocComment>,
    /// The `profile` keyword.
    pub keyword: Span,
    /// Declared attributes (the implicit `id` is not listed).
    pub fields: Vec<FieldDecl>,
    /// The whole declaration.
    pub span: Span,
}

/// `event checkout_abandoned { … }`
#[derive(Clone, Debug, PartialEq)]
pub struct EventDecl {
    /// Doc comment.
    pub doc: Option<DocComment>,
    /// The event's name.
    pub name: Ident,
    /// Its properties.
    pub fields: Vec<FieldDecl>,
    /// The whole declaration.
    pub span: Span,
}

/// `name: type [= default]` in a profile or event schema.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDecl {
    /// Doc comment.
    pub doc: Option<DocComment>,
    /// The field's name.
    pub name: Ident,
    /// Its type.
    pub ty: TypeExpr,
    /// Default value.
    pub default: Option<Expr>,
    /// The whole field.
    pub span: Span,
}

/// A type as written: `string`, `Plan`, `[string]`, `email?`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    /// Which type.
    pub kind: TypeExprKind,
    /// Where.
    pub span: Span,
}

/// The shapes of a written type.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeExprKind {
    /// A built-in (`string`, `int`, …) or an enum, resolved by the checker.
    Named(Ident),
    /// `[T]`
    List(Box<TypeExpr>),
    /// `T?`
    Optional(Box<TypeExpr>),
}

/// `segment paid = profile.plan in [pro, enterprise]`
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentDecl {
    /// Doc comment.
    pub doc: Option<DocComment>,
    /// The segment's name.
    pub name: Ident,
    /// Its condition.
    pub condition: Expr,
    /// The whole declaration.
    pub span: Span,
}

/// `template cart_reminder: email for checkout_abandoned { subject: "…" }`
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateDecl {
    /// Doc comment.
    pub doc: Option<DocComment>,
    /// The template's name.
    pub name: Ident,
    /// The channel it renders for.
    pub channel: ChannelRef,
    /// The event whose properties it may use (`for event`).
    pub event: Option<Ident>,
    /// Its fields (`subject`, `html`, `body`, …).
    pub fields: Object,
    /// The whole declaration.
    pub span: Span,
}

/// A channel keyword with its span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelRef {
    /// Which channel.
    pub channel: Channel,
    /// Where.
    pub span: Span,
}

/// `{ name: value, … }`: template fields, message overrides, webhook bodies,
/// test profiles and event properties.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    /// Fields in source order.
    pub fields: Vec<FieldInit>,
    /// From `{` to `}`.
    pub span: Span,
}

impl Object {
    /// The field called `name`.
    pub fn get(&self, name: &str) -> Option<&FieldInit> {
        self.fields.iter().find(|f| f.name.name == name)
    }
}

/// `name: value`
#[derive(Clone, Debug, PartialEq)]
pub struct FieldInit {
    /// The field's name.
    pub name: Ident,
    /// Its value.
    pub value: Value,
    /// The whole field.
    pub span: Span,
}

/// The value of a field.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Any expression (usually a string or a path).
    Expr(Expr),
    /// `file("templates/x.html")`: a template file relative to the `.flow` file.
    File(StringLit),
    /// A nested object (webhook bodies).
    Object(Object),
}

impl Value {
    /// Where the value is.
    pub fn span(&self) -> Span {
        match self {
            Value::Expr(e) => e.span,
            Value::File(s) => s.span,
            Value::Object(o) => o.span,
        }
    }
}

// ------------------------------------------------------------------ workflows

/// `workflow name { clauses… statements… }`
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowDecl {
    /// Doc comment.
    pub doc: Option<DocComment>,
    /// The workflow's name.
    pub name: Ident,
    /// Header clauses (`on`, `audience`, `exit on`, `entry`, `goal`, `priority`).
    pub clauses: Vec<Clause>,
    /// The steps.
    pub body: Vec<Stmt>,
    /// The whole declaration.
    pub span: Span,
}

/// A workflow header clause.
#[derive(Clone, Debug, PartialEq)]
pub enum Clause {
    /// `on a, b where …` or `on inactive for 5d`
    On {
        /// One or more triggers.
        triggers: Vec<Trigger>,
        /// The whole clause.
        span: Span,
    },
    /// `audience <condition>`
    Audience {
        /// Checked at entry.
        condition: Expr,
        /// The whole clause.
        span: Span,
    },
    /// `exit on a [where …], b`
    ExitOn {
        /// Events that end the journey at once.
        events: Vec<EventMatch>,
        /// The whole clause.
        span: Span,
    },
    /// `entry once`, `entry once per 7d`, `entry restart`
    Entry {
        /// The rule.
        rule: EntryRule,
        /// The whole clause.
        span: Span,
    },
    /// `goal converted = order_completed within 3d`
    Goal(Goal),
    /// `priority transactional`
    Priority {
        /// The level.
        level: Priority,
        /// The level word.
        level_span: Span,
        /// The whole clause.
        span: Span,
    },
}

impl Clause {
    /// The whole clause.
    pub fn span(&self) -> Span {
        match self {
            Clause::On { span, .. }
            | Clause::Audience { span, .. }
            | Clause::ExitOn { span, .. }
            | Clause::Entry { span, .. }
            | Clause::Priority { span, .. } => *span,
            Clause::Goal(g) => g.span,
        }
    }
}

/// What starts a journey.
#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// An event, optionally filtered.
    Event(EventMatch),
    /// `inactive for 5d`: a quiet spell of this length.
    Inactive {
        /// How long without activity.
        duration: DurationLit,
        /// The whole trigger.
        span: Span,
    },
    /// `3d before profile.trial_ends_at at 10:00 local`: an instant read
    /// from a profile's time field.
    Date(DateTrigger),
}

/// A trigger at an instant read from a profile's time field:
/// `[D before|after] [anniversary of] profile.FIELD [at HH:MM [zone]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct DateTrigger {
    /// How long before or after the field's instant (or its date).
    pub offset: Option<(DurationLit, DateSide)>,
    /// `anniversary of`: every year, on the field's calendar date.
    pub anniversary: bool,
    /// The profile field.
    pub field: Ident,
    /// A time of day, with the zone it is read in.
    pub at: Option<(TimeOfDayLit, Option<Zone>)>,
    /// The whole trigger.
    pub span: Span,
}

/// `before` or `after` in a date trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateSide {
    /// `before`
    Before,
    /// `after`
    After,
}

impl Trigger {
    /// The whole trigger.
    pub fn span(&self) -> Span {
        match self {
            Trigger::Event(m) => m.span,
            Trigger::Inactive { span, .. } => *span,
            Trigger::Date(d) => d.span,
        }
    }
}

/// `event_name [where <filter>]`
#[derive(Clone, Debug, PartialEq)]
pub struct EventMatch {
    /// The event.
    pub event: Ident,
    /// One comparison over `event.*` (and `profile.*`).
    pub filter: Option<Expr>,
    /// The whole match.
    pub span: Span,
}

/// Re-entry rule of a workflow.
#[derive(Clone, Debug, PartialEq)]
pub enum EntryRule {
    /// `entry once`: once ever, across versions.
    Once,
    /// `entry once per 7d`: counted from the previous entry.
    OncePer(DurationLit),
    /// `entry restart`: a new trigger cancels the running journey and starts over.
    Restart,
}

/// `goal NAME = EVENT [where …] within D`
#[derive(Clone, Debug, PartialEq)]
pub struct Goal {
    /// The goal's name.
    pub name: Ident,
    /// The converting event.
    pub event: EventMatch,
    /// How long after entry it counts.
    pub within: DurationLit,
    /// The whole clause.
    pub span: Span,
}

/// `{ statements }`
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The statements.
    pub stmts: Vec<Stmt>,
    /// From `{` to `}`.
    pub span: Span,
}

/// A workflow statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `send email welcome`
    Send(SendStmt),
    /// `wait 1d`
    Wait {
        /// How long.
        duration: DurationLit,
        /// The whole statement.
        span: Span,
    },
    /// `wait until 09:00 local on day 5`
    WaitUntil(WaitUntil),
    /// `wait until profile.trial_ends_at - 1d at 10:00 local`
    WaitUntilTime {
        /// The instant (a `time` expression).
        at: Expr,
        /// A time of day on that instant's day, with its zone.
        clock: Option<(TimeOfDayLit, Option<Zone>)>,
        /// The whole statement.
        span: Span,
    },
    /// `wait for feature_used within 2d then { … } else { … }`
    WaitFor(WaitFor),
    /// `if … { } else if … { } else { }`
    If(IfStmt),
    /// `split name { 50%: … }`
    Split(SplitStmt),
    /// `escalate until order_completed { … }`
    Escalate(EscalateStmt),
    /// `exit`
    Exit {
        /// The keyword.
        span: Span,
    },
}

impl Stmt {
    /// The whole statement.
    pub fn span(&self) -> Span {
        match self {
            Stmt::Send(s) => s.span,
            Stmt::Wait { span, .. } | Stmt::Exit { span } => *span,
            Stmt::WaitUntil(s) => s.span,
            Stmt::WaitUntilTime { span, .. } => *span,
            Stmt::WaitFor(s) => s.span,
            Stmt::If(s) => s.span,
            Stmt::Split(s) => s.span,
            Stmt::Escalate(s) => s.span,
        }
    }
}

/// `send CHANNEL [TEMPLATE] [{ fields } | "text"]`
#[derive(Clone, Debug, PartialEq)]
pub struct SendStmt {
    /// What to send.
    pub message: Message,
    /// The whole statement.
    pub span: Span,
}

/// A message: a channel, an optional template and optional inline content.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The channel.
    pub channel: ChannelRef,
    /// A declared template.
    pub template: Option<Ident>,
    /// Inline fields or text (overrides the template's fields).
    pub content: Option<Content>,
    /// The whole message.
    pub span: Span,
}

/// Inline message content.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// `{ title: "…", body: "…" }`
    Fields(Object),
    /// `"text"`: the text (SMS) or body of the message.
    Text(StringLit),
}

/// `wait until TIME [local | in "Zone"] [on day N | on WEEKDAY]`
#[derive(Clone, Debug, PartialEq)]
pub struct WaitUntil {
    /// The time of day.
    pub time: TimeOfDayLit,
    /// The time zone it is read in.
    pub zone: Option<Zone>,
    /// Which day.
    pub day: Option<DaySpec>,
    /// The whole statement.
    pub span: Span,
}

/// The time zone of a time of day.
#[derive(Clone, Debug, PartialEq)]
pub enum Zone {
    /// `local`: the profile's `timezone`, else the project default.
    Local(Span),
    /// `in "Europe/Berlin"`
    Named(StringLit),
}

/// `on day N` or `on monday`
#[derive(Clone, Debug, PartialEq)]
pub enum DaySpec {
    /// Local entry date + N (entry day is day 0).
    Day {
        /// N.
        number: i64,
        /// `day N`.
        span: Span,
    },
    /// The next such weekday.
    Weekday {
        /// Which weekday.
        weekday: chrono::Weekday,
        /// The word.
        span: Span,
    },
}

/// `wait for EVENT [where …] within D [then { }] [else { }]`
#[derive(Clone, Debug, PartialEq)]
pub struct WaitFor {
    /// The awaited event.
    pub event: EventMatch,
    /// How long to wait.
    pub within: DurationLit,
    /// Runs when the event arrives in time.
    pub then_block: Option<Block>,
    /// Runs when it does not.
    pub else_block: Option<Block>,
    /// The whole statement.
    pub span: Span,
}

/// `if c { } else if c { } else { }`
#[derive(Clone, Debug, PartialEq)]
pub struct IfStmt {
    /// `if` and `else if` arms, in order.
    pub branches: Vec<IfBranch>,
    /// The final `else`.
    pub else_block: Option<Block>,
    /// The whole statement.
    pub span: Span,
}

/// One `if`/`else if` arm.
#[derive(Clone, Debug, PartialEq)]
pub struct IfBranch {
    /// The condition.
    pub condition: Expr,
    /// What runs when it holds.
    pub block: Block,
}

/// `split name { 50%: …  50%: … }`
#[derive(Clone, Debug, PartialEq)]
pub struct SplitStmt {
    /// The experiment's name (part of the assignment hash).
    pub name: Ident,
    /// Arms in order.
    pub arms: Vec<SplitArm>,
    /// The whole statement.
    pub span: Span,
}

/// `50%: send email a`, `control 10%: {}`
#[derive(Clone, Debug, PartialEq)]
pub struct SplitArm {
    /// The arm's name, when written (reports and tests name arms; an arm
    /// without one is called by its position: `a`, `b`, …).
    pub name: Option<Ident>,
    /// The share.
    pub percent: PercentLit,
    /// What the arm runs (a single statement is wrapped in a block).
    pub body: Block,
    /// Whether the body was written as a block (`{ … }`); the formatter keeps it.
    pub braced: bool,
    /// The whole arm.
    pub span: Span,
}

/// `escalate until EVENT { steps }`
#[derive(Clone, Debug, PartialEq)]
pub struct EscalateStmt {
    /// The event that stops the escalation.
    pub until: EventMatch,
    /// The steps in order.
    pub steps: Vec<EscalateStep>,
    /// The whole statement.
    pub span: Span,
}

/// `[after D] CHANNEL … [if condition]`
#[derive(Clone, Debug, PartialEq)]
pub struct EscalateStep {
    /// Delay after the previous step.
    pub after: Option<DurationLit>,
    /// What to send.
    pub message: Message,
    /// A guard; a false guard skips the step.
    pub guard: Option<Expr>,
    /// The whole step.
    pub span: Span,
}

// ------------------------------------------------------------------ policy

/// `policy { cap … quiet hours … }`
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyDecl {
    /// Doc comment.
    pub doc: Option<DocComment>,
    /// The `policy` keyword.
    pub keyword: Span,
    /// The rules.
    pub rules: Vec<PolicyRule>,
    /// The whole declaration.
    pub span: Span,
}

/// One policy rule.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicyRule {
    /// `cap 2 per 48h [for email, push]`
    Cap {
        /// Messages allowed per window.
        count: IntLit,
        /// The sliding window.
        per: DurationLit,
        /// Channels counted (none: email, push and sms).
        channels: Vec<ChannelRef>,
        /// The whole rule.
        span: Span,
    },
    /// `quiet hours 21:00 to 08:00 [local | in "Zone"] [for push, sms]`
    QuietHours {
        /// Start of the quiet window.
        from: TimeOfDayLit,
        /// End of the quiet window.
        to: TimeOfDayLit,
        /// The time zone (default: local).
        zone: Option<Zone>,
        /// Channels deferred (none: every channel).
        channels: Vec<ChannelRef>,
        /// The whole rule.
        span: Span,
    },
}

impl PolicyRule {
    /// The whole rule.
    pub fn span(&self) -> Span {
        match self {
            PolicyRule::Cap { span, .. } | PolicyRule::QuietHours { span, .. } => *span,
        }
    }
}

// ------------------------------------------------------------------ tests

/// `test "name" { steps }`
#[derive(Clone, Debug, PartialEq)]
pub struct TestDecl {
    /// Doc comment.
    pub doc: Option<DocComment>,
    /// The test's name.
    pub name: StringLit,
    /// Steps in order.
    pub steps: Vec<TestStep>,
    /// The whole declaration.
    pub span: Span,
}

/// A step of a test.
#[derive(Clone, Debug, PartialEq)]
pub enum TestStep {
    /// `given profile "u1" { … }`
    GivenProfile {
        /// The profile id.
        id: StringLit,
        /// Its attributes.
        attributes: Object,
        /// The whole step.
        span: Span,
    },
    /// `given "u1" did EVENT { … } at TIME`: history from before the test.
    GivenEvent {
        /// The profile id.
        id: StringLit,
        /// The event.
        event: Ident,
        /// Its properties.
        properties: Option<Object>,
        /// When it happened.
        at: TimeRef,
        /// The whole step.
        span: Span,
    },
    /// `given "u1" in arm ARM of split SPLIT`: the arm the profile takes.
    GivenArm {
        /// The profile id.
        id: StringLit,
        /// The arm and its split.
        arm: ArmRef,
        /// The whole step.
        span: Span,
    },
    /// `at TIME "u1" does EVENT { … }` / `at TIME "u1" identify { … }`
    At {
        /// When.
        at: TimeRef,
        /// The profile id.
        id: StringLit,
        /// What happens.
        action: TestAction,
        /// The whole step.
        span: Span,
    },
    /// `expect …`
    Expect(Expectation),
}

impl TestStep {
    /// The whole step.
    pub fn span(&self) -> Span {
        match self {
            TestStep::GivenProfile { span, .. }
            | TestStep::GivenEvent { span, .. }
            | TestStep::GivenArm { span, .. }
            | TestStep::At { span, .. } => *span,
            TestStep::Expect(e) => e.span,
        }
    }
}

/// What a profile does at a test step.
#[derive(Clone, Debug, PartialEq)]
pub enum TestAction {
    /// `does EVENT { properties }`
    Does {
        /// The event.
        event: Ident,
        /// Its properties.
        properties: Option<Object>,
    },
    /// `identify { traits }`
    Identify {
        /// Attributes to update.
        traits: Object,
    },
}

/// A point in test time.
#[derive(Clone, Debug, PartialEq)]
pub enum TimeRef {
    /// `2026-03-01T10:00:00Z`
    Absolute(TimestampLit),
    /// `+30m` / `-2d`, from the test's first absolute time.
    Offset {
        /// Signed seconds.
        seconds: i64,
        /// Where.
        span: Span,
    },
}

impl TimeRef {
    /// Where.
    pub fn span(&self) -> Span {
        match self {
            TimeRef::Absolute(t) => t.span,
            TimeRef::Offset { span, .. } => *span,
        }
    }
}

/// `expect …`
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    /// What is expected.
    pub kind: ExpectKind,
    /// The whole step.
    pub span: Span,
}

/// The kinds of expectation.
#[derive(Clone, Debug, PartialEq)]
pub enum ExpectKind {
    /// `expect [no | N] (message[s] | CHANNEL [TEMPLATE]) [to "id"] [at … | between … and … | within D] [with FIELD "text"]*`
    Messages {
        /// How many.
        count: ExpectCount,
        /// A channel, if named.
        channel: Option<ChannelRef>,
        /// A template, if named.
        template: Option<Ident>,
        /// The recipient, if named.
        to: Option<StringLit>,
        /// When.
        time: Option<ExpectTime>,
        /// Rendered content that must match exactly.
        with: Vec<(Ident, StringLit)>,
    },
    /// `expect "u1" entered|exited|completed WORKFLOW`, `did not enter`, `is in`, `reached goal`
    Journey {
        /// The profile id.
        id: StringLit,
        /// The state.
        state: JourneyState,
        /// The workflow (or goal) named.
        target: Ident,
    },
    /// `expect "u1" took arm ARM of split SPLIT`
    Arm {
        /// The profile id.
        id: StringLit,
        /// The arm and its split.
        arm: ArmRef,
    },
}

/// `arm ARM of split [WORKFLOW.]SPLIT`
#[derive(Clone, Debug, PartialEq)]
pub struct ArmRef {
    /// The arm's name.
    pub arm: Ident,
    /// The split's workflow, when written.
    pub workflow: Option<Ident>,
    /// The split's name.
    pub split: Ident,
}

/// How many messages an expectation wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectCount {
    /// At least one (no count written).
    AtLeastOne,
    /// `no`
    None,
    /// Exactly N.
    Exactly(i64),
}

/// When expected messages go out.
#[derive(Clone, Debug, PartialEq)]
pub enum ExpectTime {
    /// `at T`: exactly then.
    At(TimeRef),
    /// `between T1 and T2`, inclusive.
    Between(TimeRef, TimeRef),
    /// `within D`: no later than D after the test's first absolute time.
    Within(DurationLit),
}

/// A journey state an expectation can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JourneyState {
    /// Entered the workflow at least once.
    Entered,
    /// Never entered it.
    NotEntered,
    /// Left it through `exit on` or `exit`.
    Exited,
    /// Ran it to the end.
    Completed,
    /// Still in it when the test ends.
    Active,
    /// Reached the named goal.
    ReachedGoal,
}

// ------------------------------------------------------------------ expressions

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// Expression forms.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A literal.
    Literal(Literal),
    /// `profile.plan`, `event.total`, `order_completed.total`, or a bare
    /// name (an enum member, resolved by the expected type).
    Path(Path),
    /// `[a, b]`
    List(Vec<Expr>),
    /// `( e )`, kept so the formatter preserves the author's grouping.
    Paren(Box<Expr>),
    /// `not e`
    Not(Box<Expr>),
    /// `a op b`
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Where the operator is.
        op_span: Span,
        /// Left side.
        lhs: Box<Expr>,
        /// Right side.
        rhs: Box<Expr>,
    },
    /// `e is none` (`negated`: `e is not none`)
    IsNone {
        /// The operand.
        operand: Box<Expr>,
        /// `is not none`.
        negated: bool,
    },
    /// `did EVENT [where f] [times OP N] [within D | since entry]`
    Did(Box<DidExpr>),
    /// `inactive for D`
    Inactive(DurationLit),
    /// `in SEGMENT`
    InSegment(Ident),
    /// `D ago`: an instant.
    Ago(DurationLit),
    /// A part the parser refused and already reported (an expression past
    /// the size limit); later stages accept it silently.
    Error,
}

/// `did EVENT …`
#[derive(Clone, Debug, PartialEq)]
pub struct DidExpr {
    /// The event.
    pub event: EventMatch,
    /// `times >= 3`
    pub count: Option<DidCount>,
    /// `within 14d` / `since entry`
    pub window: Option<DidWindow>,
}

/// `times OP N`
#[derive(Clone, Debug, PartialEq)]
pub struct DidCount {
    /// The comparison.
    pub op: BinaryOp,
    /// N.
    pub count: IntLit,
    /// The whole `times …`.
    pub span: Span,
}

/// The time window of a `did`.
#[derive(Clone, Debug, PartialEq)]
pub enum DidWindow {
    /// `within D`: in the last D.
    Within(DurationLit),
    /// `since entry`: since this journey started (trigger excluded).
    SinceEntry(Span),
}

/// A dotted path.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// The segments, first one is the root (`profile`, `event`, an event name
    /// or a bare enum member).
    pub segments: Vec<Ident>,
}

impl Path {
    /// The root segment.
    pub fn root(&self) -> &Ident {
        &self.segments[0]
    }

    /// `a.b.c`
    pub fn dotted(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// Literal values, decoded.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `none`
    None,
    /// `true` / `false`
    Bool(bool),
    /// `42`, `-3`
    Int(i64),
    /// `3.5`
    Float(f64),
    /// `"text {path}"`
    String(StringLit),
    /// `6h`
    Duration(DurationLit),
    /// `09:00`
    TimeOfDay(TimeOfDayLit),
    /// `2026-03-01T10:00:00Z`
    Timestamp(TimestampLit),
}

/// An integer with its span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntLit {
    /// The value.
    pub value: i64,
    /// Where.
    pub span: Span,
}

/// A duration: `30m`, `1d12h`, `2w`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationLit {
    /// Whole seconds.
    pub seconds: i64,
    /// Where.
    pub span: Span,
}

/// A time of day: `09:00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeOfDayLit {
    /// Minutes after midnight (0..1440).
    pub minutes: u16,
    /// Where.
    pub span: Span,
}

/// An RFC 3339 timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimestampLit {
    /// The instant in UTC.
    pub value: chrono::DateTime<chrono::Utc>,
    /// Where.
    pub span: Span,
}

/// A percentage: `50%`, `12.5%`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PercentLit {
    /// Hundredths of a percent (50% = 5000), the unit a split assigns in.
    pub basis_points: u32,
    /// Where.
    pub span: Span,
}

/// A string literal: text and `{path}` interpolations.
#[derive(Clone, Debug, PartialEq)]
pub struct StringLit {
    /// The pieces in order.
    pub parts: Vec<StringPart>,
    /// Including the quotes.
    pub span: Span,
}

impl StringLit {
    /// The text, if the string has no interpolation.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                StringPart::Text(t) => out.push_str(t),
                StringPart::Interp(_) => return None,
            }
        }
        Some(out)
    }

    /// The text with interpolations written back as `{path}`, for messages.
    pub fn display(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                StringPart::Text(t) => out.push_str(t),
                StringPart::Interp(i) => {
                    out.push('{');
                    out.push_str(&i.path.dotted());
                    out.push('}');
                }
            }
        }
        out
    }
}

/// A piece of a string.
#[derive(Clone, Debug, PartialEq)]
pub enum StringPart {
    /// Literal text, escapes decoded.
    Text(String),
    /// `{path}` or `{path ?? default}`
    Interp(Interpolation),
}

/// `{path ?? default}` inside a string.
#[derive(Clone, Debug, PartialEq)]
pub struct Interpolation {
    /// The value interpolated.
    pub path: Path,
    /// Used when the value is `none`.
    pub default: Option<Box<Expr>>,
    /// How the value is written (`.2`, `%B %-d`), without its `:`, and
    /// where.
    pub format: Option<(String, Span)>,
    /// From `{` to `}`.
    pub span: Span,
}
