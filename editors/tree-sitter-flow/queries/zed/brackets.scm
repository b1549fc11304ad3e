; Bracket pairs for Zed: copy to languages/flow/brackets.scm in the extension.

("{" @open "}" @close)

("[" @open "]" @close)

("(" @open ")" @close)

("\"" @open "\"" @close)
