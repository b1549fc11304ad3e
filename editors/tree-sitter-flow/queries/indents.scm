; Indents for Nudge `.flow` files, in nvim-treesitter's captures: one level
; (two spaces, as `nudge fmt` writes) per open `{` or `[`, and one for the
; continuation lines of a condition and for the `then`/`else` of a `wait for`.
; Helix uses queries/helix/indents.scm, Zed queries/zed/indents.scm.

[
  (enum_declaration)
  (profile_declaration)
  (event_declaration)
  (object)
  (workflow_declaration)
  (block)
  (split_statement)
  (escalate_statement)
  (policy_declaration)
  (test_declaration)
  (list)
  (segment_declaration)
  (audience_clause)
  (wait_for_statement)
] @indent.begin

[
  "}"
  "]"
] @indent.branch

[
  "}"
  "]"
] @indent.end
