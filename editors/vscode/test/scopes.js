// Prints the scopes of the first token of each line given on stdin as a
// JSON array of strings: `node test/scopes.js < lines.json`. Used by the
// keyword drift test in crates/nudge-lsp/tests/editors.rs.
"use strict";

const { tokenize } = require("./tokenize");

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", async () => {
  const lines = JSON.parse(input);
  const out = [];
  for (const line of lines) {
    const [tokens] = await tokenize(line);
    out.push(tokens[0].scopes.slice(1));
  }
  process.stdout.write(JSON.stringify(out));
});
