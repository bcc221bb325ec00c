// Tokenises .hyp files with the extension's TextMate grammar, as VS Code does (vscode-textmate
// with the Oniguruma regex engine), and prints one JSON object per file:
// {"file": ..., "lines": [[{"start": col, "end": col, "text": ..., "scopes": [...]}, ...], ...]}.
// Used by tests/test_textmate_grammar.py; `node test/tokenize.js FILE...`.
"use strict";

const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const GRAMMAR = path.join(__dirname, "..", "syntaxes", "hyp.tmLanguage.json");

async function main(files) {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === "source.hyp" ? vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR, "utf8"), GRAMMAR) : null,
  });
  const grammar = await registry.loadGrammar("source.hyp");
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8");
    let state = vsctm.INITIAL;
    const lines = [];
    for (const line of text.split("\n")) {
      const r = grammar.tokenizeLine(line, state);
      lines.push(r.tokens.map((t) => ({
        start: t.startIndex, end: t.endIndex, text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes,
      })));
      state = r.ruleStack;
    }
    process.stdout.write(JSON.stringify({ file, lines }) + "\n");
  }
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e);
  process.exit(1);
});
