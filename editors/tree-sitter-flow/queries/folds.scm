; Folds for Nudge `.flow` files (Neovim: `foldmethod=expr`,
; `foldexpr=v:lua.vim.treesitter.foldexpr()`).

[
  (enum_declaration)
  (profile_declaration)
  (event_declaration)
  (template_declaration)
  (workflow_declaration)
  (policy_declaration)
  (test_declaration)
  (object)
  (block)
  (split_statement)
  (escalate_statement)
  (wait_for_statement)
  (if_statement)
  (list)
] @fold
