; Indents for Helix (its captures differ from nvim-treesitter's): copy to
; ~/.config/helix/runtime/queries/flow/indents.scm.

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
] @indent

[
  "}"
  "]"
] @outdent
