; Highlights for Nudge `.flow` files, for Helix (generated from ../highlights.scm by captures.sed: do not edit).
;
; Capture names follow nvim-treesitter; Zed falls back from
; `keyword.conditional` to `keyword` and so on, and Helix has its own names
; (queries/helix/highlights.scm, made from this file by captures.sed).
; Patterns are disjoint (each node gets at most one capture), so editors that
; let the first pattern win and those that let the last win agree.

; ------------------------------------------------------------------ comments

(comment) @comment

(doc_comment) @comment.line.documentation

; ------------------------------------------------------------------ keywords

; Declarations.
[
  "enum"
  "event"
] @keyword.storage.type

(profile_declaration
  "profile" @keyword.storage.type)

[
  "segment"
  "template"
  "workflow"
  "policy"
  "test"
] @keyword

; Workflow clauses.
(exit_on_clause
  "exit" @keyword)

[
  "on"
  "audience"
  "entry"
  "once"
  "per"
  "restart"
  "goal"
  "priority"
] @keyword

; Date triggers.
[
  "before"
  "after"
  "anniversary"
  "of"
] @keyword

(date_trigger
  "profile" @variable.builtin)

; Statements.
[
  "send"
  "wait"
  "until"
  "for"
  "within"
  "local"
  "day"
] @keyword

(exit_statement) @keyword.control.return

[
  "if"
  "else"
  "then"
] @keyword.control.conditional

(split_statement
  "split" @keyword.control.conditional)

"escalate" @keyword.control.repeat

; Conditions.
[
  "did"
  "where"
  "times"
  "since"
  "inactive"
  "ago"
] @keyword

[
  "and"
  "or"
  "not"
  "in"
  "is"
] @keyword.operator

; Policy.
[
  "cap"
  "quiet"
  "hours"
  "to"
] @keyword

; Tests.
[
  "given"
  "at"
  "does"
  "identify"
  "expect"
  "no"
  "message"
  "messages"
  "between"
  "with"
  "entered"
  "enter"
  "exited"
  "completed"
  "reached"
  "took"
  "arm"
] @keyword

(given_profile
  "profile" @keyword)

(arm_of_split
  "split" @keyword)

"file" @function.builtin

; ------------------------------------------------------------------ constants

[
  "email"
  "push"
  "sms"
  "in_app"
  "webhook"
] @constant.builtin

[
  "transactional"
  "marketing"
] @constant.builtin

[
  "monday"
  "tuesday"
  "wednesday"
  "thursday"
  "friday"
  "saturday"
  "sunday"
] @constant.builtin

[
  "true"
  "false"
] @constant.builtin.boolean

(none) @constant.builtin

(is_none_expression
  "none" @constant.builtin)

; ------------------------------------------------------------------ literals

(string) @string

(escape_sequence) @constant.character.escape

(brace_escape) @constant.character.escape

(format_spec) @string.special

(interpolation
  [
    "{"
    "}"
  ] @punctuation.special)

(integer) @constant.numeric.integer

(float) @constant.numeric.float

(percent) @constant.numeric.integer

(duration) @constant.numeric.integer

(offset) @constant.numeric.integer

(time_of_day) @string.special

(timestamp) @string.special

; ------------------------------------------------------------------ names

(enum_declaration
  name: (identifier) @type)

(event_declaration
  name: (identifier) @type)

(enum_member
  name: (identifier) @constant)

(segment_declaration
  name: (identifier) @function)

(template_declaration
  name: (identifier) @function)

(workflow_declaration
  name: (identifier) @function)

((type_identifier) @type.builtin
  (#any-of? @type.builtin
    "string" "int" "float" "bool" "time" "duration" "email" "phone" "url" "timezone"))

((type_identifier) @type
  (#not-any-of? @type
    "string" "int" "float" "bool" "time" "duration" "email" "phone" "url" "timezone"))

(property_identifier) @variable.other.member

; Events where they are used.
(template_declaration
  event: (identifier) @type)

(event_match
  event: (identifier) @type)

(did_expression
  event: (identifier) @type)

(given_event
  event: (identifier) @type)

(does_action
  event: (identifier) @type)

; Segments, templates and workflows where they are used.
(in_segment
  segment: (identifier) @function)

(message
  template: (identifier) @function)

(message_kind
  template: (identifier) @function)

(state_entered
  workflow: (identifier) @function)

(state_not_entered
  workflow: (identifier) @function)

(state_exited
  workflow: (identifier) @function)

(state_completed
  workflow: (identifier) @function)

(state_active
  workflow: (identifier) @function)

; Goals, splits and arms.
(goal_clause
  name: (identifier) @label)

(state_goal
  goal: (identifier) @label)

(split_statement
  name: (identifier) @label)

(split_arm
  name: (identifier) @label)

(arm_of_split
  arm: (identifier) @label)

(split_ref
  name: (identifier) @label)

; Paths: `profile.plan`, `event.total`, `last.E.FIELD`, `order_completed.total`,
; and a bare name, which is an enum member.
(path
  root: (identifier) @variable.builtin
  (#any-of? @variable.builtin "profile" "event" "last"))

(path
  root: (identifier) @variable
  property: (_)
  (#not-any-of? @variable "profile" "event" "last"))

(path
  root: (identifier) @constant
  !property
  (#not-any-of? @constant "profile" "event" "last"))

; ------------------------------------------------------------------ punctuation

[
  "=="
  "!="
  "<"
  "<="
  ">"
  ">="
  "??"
  "+"
  "-"
  "="
] @operator

(optional_marker) @operator

[
  ","
  ":"
  "."
] @punctuation.delimiter

; Braces, except those of an interpolation (`punctuation.special` above).
[
  (enum_declaration
    [
      "{"
      "}"
    ] @punctuation.bracket)
  (profile_declaration
    [
      "{"
      "}"
    ] @punctuation.bracket)
  (event_declaration
    [
      "{"
      "}"
    ] @punctuation.bracket)
  (object
    [
      "{"
      "}"
    ] @punctuation.bracket)
  (workflow_declaration
    [
      "{"
      "}"
    ] @punctuation.bracket)
  (block
    [
      "{"
      "}"
    ] @punctuation.bracket)
  (split_statement
    [
      "{"
      "}"
    ] @punctuation.bracket)
  (escalate_statement
    [
      "{"
      "}"
    ] @punctuation.bracket)
  (policy_declaration
    [
      "{"
      "}"
    ] @punctuation.bracket)
  (test_declaration
    [
      "{"
      "}"
    ] @punctuation.bracket)
]

[
  "["
  "]"
  "("
  ")"
] @punctuation.bracket
