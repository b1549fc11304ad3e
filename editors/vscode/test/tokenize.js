// Loads syntaxes/flow.tmLanguage.json with the engine VS Code uses
// (vscode-textmate + the Oniguruma regex library) and tokenizes text.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const root = path.join(__dirname, "..");
const grammarPath = path.join(root, "syntaxes", "flow.tmLanguage.json");

let grammarPromise;

function loadGrammar() {
  if (!grammarPromise) {
    const wasm = fs.readFileSync(
      path.join(path.dirname(require.resolve("vscode-oniguruma")), "onig.wasm"),
    );
    const onigLib = oniguruma.loadWASM(wasm.buffer).then(() => ({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }));
    const registry = new vsctm.Registry({
      onigLib,
      loadGrammar: async (scopeName) => {
        if (scopeName !== "source.flow") return null;
        const text = fs.readFileSync(grammarPath, "utf8");
        return vsctm.parseRawGrammar(text, grammarPath);
      },
    });
    grammarPromise = registry.loadGrammar("source.flow");
  }
  return grammarPromise;
}

/** Tokenizes `text`: one array per line of `{ text, scopes }`. */
async function tokenize(text) {
  const grammar = await loadGrammar();
  let state = vsctm.INITIAL;
  const lines = [];
  for (const line of text.split(/\r?\n/)) {
    const result = grammar.tokenizeLine(line, state);
    lines.push(
      result.tokens.map((t) => ({
        text: line.slice(t.startIndex, t.endIndex),
        scopes: t.scopes,
      })),
    );
    state = result.ruleStack;
  }
  return lines;
}

/** Reads an example from the repository's examples folder. */
function example(name) {
  return fs.readFileSync(path.join(root, "..", "..", "examples", name), "utf8");
}

module.exports = { tokenize, example, grammarPath };
