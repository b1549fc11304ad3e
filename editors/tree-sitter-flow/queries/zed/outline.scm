; The outline panel for Zed: copy to languages/flow/outline.scm in the extension.

(enum_declaration
  "enum" @context
  name: (_) @name) @item

(enum_member
  name: (_) @name) @item

(profile_declaration
  "profile" @name) @item

(event_declaration
  "event" @context
  name: (_) @name) @item

(field_declaration
  name: (_) @name) @item

(segment_declaration
  "segment" @context
  name: (_) @name) @item

(template_declaration
  "template" @context
  name: (_) @name) @item

(workflow_declaration
  "workflow" @context
  name: (_) @name) @item

(goal_clause
  "goal" @context
  name: (_) @name) @item

(split_statement
  "split" @context
  name: (_) @name) @item

(policy_declaration
  "policy" @name) @item

(test_declaration
  "test" @context
  name: (_) @name) @item
