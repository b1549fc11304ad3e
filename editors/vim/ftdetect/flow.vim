" Nudge flows: `.flow` files.
autocmd BufNewFile,BufRead *.flow setfiletype flow
