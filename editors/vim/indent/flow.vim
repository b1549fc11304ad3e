" Vim indent file for Nudge `.flow` files: one level (two spaces) per open
" `{`, `[` or `(`, as `nudge fmt` writes them.
if exists('b:did_indent')
  finish
endif
let b:did_indent = 1

setlocal indentexpr=FlowIndent(v:lnum)
setlocal indentkeys=0{,0},0],0),!^F,o,O
setlocal nolisp nosmartindent nocindent autoindent

let b:undo_indent = 'setlocal indentexpr< indentkeys< lisp< smartindent< cindent< autoindent<'

if exists('*FlowIndent')
  finish
endif

" Brackets opened minus brackets closed on a line, outside strings and
" comments.
function! s:Balance(line) abort
  let balance = 0
  let in_string = 0
  let interp = 0
  let i = 0
  let n = strlen(a:line)
  while i < n
    let c = a:line[i]
    if in_string && interp == 0
      if c ==# '\'
        let i += 1
      elseif c ==# '"'
        let in_string = 0
      elseif c ==# '{' && a:line[i + 1] ==# '{'
        let i += 1
      elseif c ==# '}' && a:line[i + 1] ==# '}'
        let i += 1
      elseif c ==# '{'
        let interp = 1
      endif
    elseif in_string
      if c ==# '}'
        let interp = 0
      endif
    elseif c ==# '/' && a:line[i + 1] ==# '/'
      break
    elseif c ==# '"'
      let in_string = 1
    elseif c =~# '[{[(]'
      let balance += 1
    elseif c =~# '[}\])]'
      let balance -= 1
    endif
    let i += 1
  endwhile
  return balance
endfunction

" Closing brackets at the start of a line.
function! s:LeadingClosers(line) abort
  return strlen(matchstr(a:line, '^\s*\zs[}\])]\+'))
endfunction

" The line of the bracket that the first closer on line `lnum` closes, or
" `lnum` when the line does not start with a closer.
function! s:Opener(lnum) abort
  let line = getline(a:lnum)
  let col = match(line, '^\s*\zs[}\])]')
  if col < 0
    return a:lnum
  endif
  let close = line[col]
  let open = close ==# '}' ? '{' : (close ==# ']' ? '\[' : '(')
  let close = close ==# ']' ? '\]' : close
  let saved = getcurpos()
  call cursor(a:lnum, col + 1)
  let skip = 'synIDattr(synID(line("."), col("."), 0), "name") =~? "string\\|comment\\|interp"'
  let found = searchpair(open, '', close, 'bnW', skip)
  call setpos('.', saved)
  return found > 0 ? found : a:lnum
endfunction

" The first line of an `and`/`or` chain that ends on line `lnum`.
function! s:ChainStart(lnum) abort
  let l = a:lnum
  while l > 1 && getline(l) =~# '^\s*\%(and\|or\)\>'
    let l = prevnonblank(l - 1)
  endwhile
  return l
endfunction

" The first line of the statement that ends on line `lnum`: back over a
" closing bracket, an `and`/`or` chain, and the `then`/`else` branches of a
" `wait for`.
function! s:Start(lnum) abort
  let l = s:ChainStart(s:Opener(a:lnum))
  if l > 1 && getline(l) =~# '^\s*\%(then\|else\)\>'
    return s:Start(prevnonblank(l - 1))
  endif
  return l
endfunction

function! FlowIndent(lnum) abort
  let prev = prevnonblank(a:lnum - 1)
  if prev == 0
    return 0
  endif
  let cur = getline(a:lnum)
  let sw = shiftwidth()
  if cur =~# '^\s*\%(and\|or\|then\)\>'
    " A continuation: one level deeper than its statement.
    return indent(s:Start(prev)) + sw
  endif
  if cur =~# '^\s*else\>' && getline(prev) =~# '^\s*}'
    " `else` of a `wait for`: under its `then`.
    return indent(s:Opener(prev))
  endif
  if cur =~# '^\s*[}\])]'
    return indent(s:ChainStart(s:Opener(a:lnum)))
  endif
  let prev_line = getline(prev)
  if s:Balance(prev_line) + s:LeadingClosers(prev_line) > 0
    " The previous line opens a block.
    return indent(s:ChainStart(prev)) + sw
  endif
  return indent(s:Start(prev))
endfunction
