; Locals for Nudge `.flow` files. Every declaration of a project shares one
; namespace (across files), so the only scope is the file.

(source_file) @local.scope

; Definitions.
(enum_declaration
  name: (identifier) @local.definition.type)

(event_declaration
  name: (identifier) @local.definition.type)

(enum_member
  name: (identifier) @local.definition.constant)

(field_declaration
  name: (property_identifier) @local.definition.field)

(segment_declaration
  name: (identifier) @local.definition.function)

(template_declaration
  name: (identifier) @local.definition.function)

(workflow_declaration
  name: (identifier) @local.definition.function)

(goal_clause
  name: (identifier) @local.definition.var)

(split_statement
  name: (identifier) @local.definition.var)

(split_arm
  name: (identifier) @local.definition.var)

; References.
(event_match
  event: (identifier) @local.reference)

(did_expression
  event: (identifier) @local.reference)

(template_declaration
  event: (identifier) @local.reference)

(given_event
  event: (identifier) @local.reference)

(does_action
  event: (identifier) @local.reference)

(in_segment
  segment: (identifier) @local.reference)

(message
  template: (identifier) @local.reference)

(message_kind
  template: (identifier) @local.reference)

(path
  root: (identifier) @local.reference)

(type_identifier) @local.reference
