# Renames the captures of ../highlights.scm (nvim-treesitter's names) to
# Helix's theme scopes. Regenerate highlights.scm here with:
#   sed -f queries/helix/captures.sed queries/highlights.scm > queries/helix/highlights.scm
s/@comment\.documentation\b/@comment.line.documentation/g
s/@keyword\.type\b/@keyword.storage.type/g
s/@keyword\.conditional\b/@keyword.control.conditional/g
s/@keyword\.repeat\b/@keyword.control.repeat/g
s/@keyword\.return\b/@keyword.control.return/g
s/@number\.float\b/@constant.numeric.float/g
s/@number\b/@constant.numeric.integer/g
s/@boolean\b/@constant.builtin.boolean/g
s/@string\.escape\b/@constant.character.escape/g
s/@type\.definition\b/@type/g
s/@function\.call\b/@function/g
s/@property\b/@variable.other.member/g
1s/^; Highlights for Nudge `.flow` files\./; Highlights for Nudge `.flow` files, for Helix (generated from ..\/highlights.scm by captures.sed: do not edit)./
