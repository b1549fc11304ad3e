// Parses the Mermaid document on standard input with Mermaid itself
// (its parser needs a DOM: jsdom gives one). Prints "ok" and the diagram
// type, or "error" and Mermaid's message (exit 1).
import { JSDOM } from "jsdom";
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });
let text = "";
for await (const chunk of process.stdin) text += chunk;
try {
  const r = await mermaid.parse(text);
  console.log("ok", JSON.stringify(r));
} catch (e) {
  console.log("error", e.message || String(e));
  process.exit(1);
}
