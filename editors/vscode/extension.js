// The VS Code client: starts `nudge lsp` and hands `.flow` files to it.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("nudge").get("path", "nudge");
  const serverOptions = {
    run: { command, args: ["lsp"] },
    debug: { command, args: ["lsp"] },
  };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "flow" }, { scheme: "untitled", language: "flow" }],
    synchronize: {
      fileEvents: vscode.workspace.createFileSystemWatcher("**/*.flow"),
    },
  };
  client = new LanguageClient("nudge", "Nudge", serverOptions, clientOptions);
  client.start();
  context.subscriptions.push({ dispose: () => client && client.stop() });
  // "Nudge: Show workflow graph": the server's `nudge.graph` (Mermaid)
  // for the project of the file in the editor, opened beside it.
  context.subscriptions.push(
    vscode.commands.registerCommand("nudge.showGraph", async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor || editor.document.languageId !== "flow") {
        vscode.window.showInformationMessage("Open a .flow file to draw its workflows.");
        return;
      }
      try {
        const text = await client.sendRequest("workspace/executeCommand", {
          command: "nudge.graph",
          arguments: [editor.document.uri.toString()],
        });
        const doc = await vscode.workspace.openTextDocument({ language: "mermaid", content: text });
        await vscode.window.showTextDocument(doc, vscode.ViewColumn.Beside);
      } catch (e) {
        vscode.window.showErrorMessage(`Nudge: ${e.message || e}`);
      }
    })
  );
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
