; Indents for Zed (its captures differ from nvim-treesitter's): copy to
; languages/flow/indents.scm in the extension.

(_ "{" "}" @end) @indent

(_ "[" "]" @end) @indent
