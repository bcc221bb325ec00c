// The VS Code client of the .hyp language server: starts `hypsearch lsp` (stdio) for .hyp files.
// Highlighting comes from syntaxes/hyp.tmLanguage.json and works without the server.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("hypsearch");
  const command = config.get("server.command", "hypsearch");
  const args = config.get("server.args", ["lsp"]);
  const server = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient(
    "hypsearch",
    "hypsearch .hyp",
    { run: server, debug: server },
    {
      documentSelector: [{ scheme: "file", language: "hyp" }, { scheme: "untitled", language: "hyp" }],
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.{hyp,py}") },
    },
  );
  client.start().catch((err) => {
    vscode.window.showErrorMessage(
      `hypsearch: could not start \`${command} ${args.join(" ")}\` (${err.message}). ` +
        "Install the server with: pip install 'hypsearch[lsp]', or set hypsearch.server.command.",
    );
  });
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
