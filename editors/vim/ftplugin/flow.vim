" Vim filetype plugin for Nudge `.flow` files (Vim and Neovim).
if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

let s:cpo_save = &cpoptions
set cpoptions&vim

" Comments: `//`, and `///` doc comments above declarations.
setlocal commentstring=//\ %s
setlocal comments=:///,://
" Continue comments on Enter and `o`, wrap them at 'textwidth'.
setlocal formatoptions-=t formatoptions+=croql

" The canonical style: two spaces, no tabs.
setlocal expandtab shiftwidth=2 softtabstop=2 tabstop=8
setlocal iskeyword=@,48-57,_

" `gq` formats the buffer through `nudge fmt` when it is installed.
if executable('nudge')
  setlocal formatprg=nudge\ fmt\ --stdin
endif

let b:undo_ftplugin = 'setlocal commentstring< comments< formatoptions< expandtab<'
      \ . ' shiftwidth< softtabstop< tabstop< iskeyword< formatprg<'

let &cpoptions = s:cpo_save
unlet s:cpo_save
