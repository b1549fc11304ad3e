" Vim syntax file for Nudge `.flow` files (Vim and Neovim).
" The words come from grammar/flow.pest; a test keeps the two in step.
if exists('b:current_syntax')
  finish
endif

let s:cpo_save = &cpoptions
set cpoptions&vim

syntax case match
syntax iskeyword @,48-57,_

" ------------------------------------------------------------- keywords
" `event` and `profile` are also the roots of paths (`event.total`), so they
" are matches below, not keywords (a keyword would win over the path).
syntax keyword flowDeclaration enum segment template workflow policy test
syntax keyword flowControl on exit entry goal audience priority send wait until for within then else if split escalate after before anniversary where since once per restart local day to at between with
syntax keyword flowOperatorWord and or not in is
syntax keyword flowBehaviour did inactive ago times
syntax keyword flowTestKeyword given does identify expect no entered exited completed enter reached
syntax keyword flowPolicy cap quiet hours
syntax keyword flowMessages message messages
syntax keyword flowChannel email push sms in_app webhook
syntax keyword flowPriority transactional marketing
syntax keyword flowWeekday monday tuesday wednesday thursday friday saturday sunday
syntax keyword flowBoolean true false
syntax keyword flowNone none
syntax keyword flowType string int float bool time duration phone url timezone
syntax match flowDeclaration "\<event\>\ze\s\+\h"
syntax match flowDeclaration "\<profile\>\ze\s*[{"]"
syntax match flowFile "\<file\>\ze\s*("
syntax match flowTypeName "\<\u\w*\>"

" ------------------------------------------------------------- names
syntax match flowDeclName "\%(\<\%(enum\|segment\|template\|workflow\)\s\+\)\@<=\h\w*"
syntax match flowDeclName "\%(\<event\s\+\)\@<=\h\w*\ze\s*{"
syntax match flowDeclName "\%(\<\%(goal\|split\)\s\+\)\@<=\h\w*"

" ------------------------------------------------------------- paths
syntax match flowPathRoot "\<\%(profile\|event\)\ze\s*\."
syntax match flowProperty "\.\h\w*"

" ------------------------------------------------------------- literals
" Later definitions win where two start at the same place: most specific last.
syntax match flowNumber "\<-\=\d\+\>"
syntax match flowFloat "\<-\=\d\+\.\d\+\>"
syntax match flowDuration "\<\%(\d\+\a\)\+\>"
syntax match flowOffset "[+-]\%(\d\+\a\)\+\>"
syntax match flowPercent "\<\d\+\%(\.\d\+\)\=%"
syntax match flowTime "\<\d\{1,2}:\d\d\>:\@!"
syntax match flowTimestamp "\<\d\{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d\%(\.\d\+\)\=\%([Zz]\|[+-]\d\d:\d\d\)"

" ------------------------------------------------------------- strings
syntax region flowString start=+"+ skip=+\\\\\|\\"+ end=+"+ end=+$+ oneline
      \ contains=flowEscape,flowBadEscape,flowInterp,flowBraceEscape,flowStrayBrace
syntax match flowBadEscape "\\." contained
syntax match flowEscape +\\\%(["\\ntr{}]\|u{\x\{1,6}}\)+ contained
syntax match flowStrayBrace "}" contained
syntax region flowInterp matchgroup=flowInterpDelim start="{" end="}" contained oneline
      \ contains=flowString,flowPathRoot,flowProperty,flowCoalesce,flowNumber,flowFloat,flowBoolean,flowNone
syntax match flowBraceEscape "{{\|}}" contained

" ------------------------------------------------------------- operators
syntax match flowOperator "==\|!=\|<=\|>=\|<\|>\|=\|?"
syntax match flowCoalesce "??"

" ------------------------------------------------------------- comments
syntax keyword flowTodo TODO FIXME XXX NOTE contained
syntax match flowComment "//.*$" contains=flowTodo,@Spell
syntax match flowDocComment "///\%(/\)\@!.*$" contains=flowTodo,@Spell

highlight default link flowDeclaration Structure
highlight default link flowControl Statement
highlight default link flowOperatorWord Operator
highlight default link flowBehaviour Keyword
highlight default link flowTestKeyword Keyword
highlight default link flowPolicy Keyword
highlight default link flowMessages Keyword
highlight default link flowChannel Type
highlight default link flowPriority Constant
highlight default link flowWeekday Constant
highlight default link flowBoolean Boolean
highlight default link flowNone Constant
highlight default link flowType Type
highlight default link flowTypeName Type
highlight default link flowFile Function
highlight default link flowDeclName Function
highlight default link flowPathRoot Special
highlight default link flowProperty Identifier
highlight default link flowNumber Number
highlight default link flowFloat Float
highlight default link flowDuration Number
highlight default link flowOffset Number
highlight default link flowPercent Number
highlight default link flowTime Number
highlight default link flowTimestamp Number
highlight default link flowString String
highlight default link flowEscape SpecialChar
highlight default link flowBraceEscape SpecialChar
highlight default link flowBadEscape Error
highlight default link flowStrayBrace Error
highlight default link flowInterpDelim Delimiter
highlight default link flowOperator Operator
highlight default link flowCoalesce Operator
highlight default link flowTodo Todo
highlight default link flowComment Comment
highlight default link flowDocComment SpecialComment

let b:current_syntax = 'flow'

let &cpoptions = s:cpo_save
unlet s:cpo_save
