// Highlighting of the examples, checked with the engine VS Code uses.
// Run: `node --test test/` in editors/vscode (after `npm ci`).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { tokenize, example } = require("./tokenize");

/**
 * The scopes of the `nth` token whose text is `token` on the first line of
 * `file` that contains `lineHas`.
 */
async function scopesOf(file, lineHas, token, nth = 0) {
  const text = file.endsWith(".flow") ? example(file) : file;
  const lines = await tokenize(text);
  const sourceLines = text.split(/\r?\n/);
  const index = sourceLines.findIndex((l) => l.includes(lineHas));
  assert.notEqual(index, -1, `no line contains ${JSON.stringify(lineHas)}`);
  const found = lines[index].filter((t) => t.text === token);
  assert.ok(
    found.length > nth,
    `no token ${JSON.stringify(token)} on line ${index + 1}: ${JSON.stringify(
      lines[index].map((t) => t.text),
    )}`,
  );
  return found[nth].scopes;
}

async function expectScope(file, lineHas, token, scope, nth = 0) {
  const scopes = await scopesOf(file, lineHas, token, nth);
  assert.ok(
    scopes.includes(scope),
    `${JSON.stringify(token)} in ${JSON.stringify(lineHas)}: expected ${scope}, got ${scopes.join(" ")}`,
  );
}

test("literals of every kind", async () => {
  await expectScope("onboarding.flow", "within 7d", "7d", "constant.numeric.duration.flow");
  await expectScope("onboarding.flow", "wait until 09:00", "09:00", "constant.numeric.time.flow");
  await expectScope(
    "abandoned_checkout.flow",
    "at 2026-03-01T10:00:00Z",
    "2026-03-01T10:00:00Z",
    "constant.numeric.timestamp.flow",
  );
  await expectScope("onboarding.flow", "50%: send email welcome_a", "50%", "constant.numeric.percent.flow");
  await expectScope("abandoned_checkout.flow", "at +30m", "+30m", "constant.numeric.offset.flow");
  await expectScope("abandoned_checkout.flow", "where event.cart_total > 20.0", "20.0", "constant.numeric.float.flow");
  await expectScope("onboarding.flow", "expect 1 email", "1", "constant.numeric.integer.flow");
  await expectScope("abandoned_checkout.flow", "audience profile.email != none", "none", "constant.language.none.flow");
  await expectScope("onboarding.flow", "first_time: true", "true", "constant.language.boolean.flow");
});

test("a keyword of each kind", async () => {
  await expectScope("onboarding.flow", "workflow onboarding {", "workflow", "keyword.declaration.workflow.flow");
  await expectScope("schema.flow", "enum Plan", "enum", "keyword.declaration.enum.flow");
  await expectScope("onboarding.flow", "  exit on plan_upgraded", "exit", "keyword.control.flow");
  await expectScope("onboarding.flow", "  exit on plan_upgraded", "on", "keyword.control.flow");
  await expectScope("onboarding.flow", "if not did setup_completed", "not", "keyword.operator.word.flow");
  await expectScope("onboarding.flow", "if not did setup_completed", "did", "keyword.other.behaviour.flow");
  await expectScope("onboarding.flow", "expect \"u2\" reached goal", "reached", "keyword.other.test.flow");
  await expectScope("policy.flow", "cap ", "cap", "keyword.other.policy.flow");
  await expectScope("onboarding.flow", "50%: send email welcome_a", "email", "support.type.channel.flow");
  await expectScope("password_reset.flow", "priority transactional", "transactional", "constant.language.priority.flow");
  await expectScope("onboarding.flow", "expect 1 message to", "message", "keyword.other.messages.flow");
  await expectScope("onboarding.flow", "html: file(", "file", "support.function.file.flow");
  await expectScope("schema.flow", "segment paid =", "in", "keyword.operator.word.flow");
});

test("declaration names", async () => {
  await expectScope("onboarding.flow", "workflow onboarding {", "onboarding", "entity.name.function.workflow.flow");
  await expectScope("schema.flow", "enum Plan", "Plan", "entity.name.type.enum.flow");
  await expectScope("schema.flow", "event account_created {", "account_created", "entity.name.type.event.flow");
  await expectScope("schema.flow", "segment paid =", "paid", "entity.name.variable.segment.flow");
  await expectScope("onboarding.flow", "template welcome_a:", "welcome_a", "entity.name.function.template.flow");
  await expectScope("onboarding.flow", "goal activated =", "activated", "entity.name.variable.goal.flow");
  await expectScope("schema.flow", "  plan: Plan", "Plan", "entity.name.type.flow");
  await expectScope("schema.flow", "  email: email?", "email", "support.type.primitive.flow", 1);
});

test("comments and doc comments", async () => {
  await expectScope(
    "schema.flow",
    "// The shop's data model",
    "// The shop's data model: what we know about a customer and what they do.",
    "comment.line.double-slash.flow",
  );
  await expectScope("schema.flow", "/// Plans a customer can be on.", "/// Plans a customer can be on.", "comment.line.documentation.flow");
});

test("strings, escapes and interpolation", async () => {
  const line = 'subject: "Welcome to the shop, {profile.first_name ?? "friend"}"';
  await expectScope("onboarding.flow", line, "profile", "meta.interpolation.flow");
  await expectScope("onboarding.flow", line, "profile", "variable.language.profile.flow");
  await expectScope("onboarding.flow", line, "first_name", "variable.other.property.flow");
  await expectScope("onboarding.flow", line, "??", "keyword.operator.coalesce.flow");
  // The nested string is a string inside the interpolation, and the outer
  // string goes on after it.
  const inner = await scopesOf("onboarding.flow", line, "friend");
  assert.ok(inner.includes("meta.interpolation.flow") && inner.includes("string.quoted.double.flow"));
  await expectScope("onboarding.flow", line, "}", "punctuation.section.interpolation.end.flow");
  const last = await scopesOf("onboarding.flow", line, '"', 3);
  assert.ok(last.includes("punctuation.definition.string.end.flow"), last.join(" "));

  const text = 'template t: sms { text: "use {{code}} \\"now\\" {event.x}" }\nsegment s = in paid\n';
  await expectScope(text, "template t", "{{", "constant.character.escape.brace.flow");
  await expectScope(text, "template t", "}}", "constant.character.escape.brace.flow");
  await expectScope(text, "template t", '\\"', "constant.character.escape.flow");
  await expectScope(text, "template t", "event", "variable.language.event.flow");
  // The string ended: the next line is code again.
  await expectScope(text, "segment s", "segment", "keyword.declaration.segment.flow");
});

test("operators", async () => {
  await expectScope("abandoned_checkout.flow", "where event.cart_total > 20.0", ">", "keyword.operator.comparison.flow");
  await expectScope("abandoned_checkout.flow", "audience profile.email != none", "!=", "keyword.operator.comparison.flow");
  await expectScope("onboarding.flow", "goal activated =", "=", "keyword.operator.assignment.flow");
});

test("every example tokenizes without an invalid token", async () => {
  const dir = path.join(__dirname, "..", "..", "..", "examples");
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".flow"));
  assert.ok(files.length >= 5);
  for (const f of files) {
    const lines = await tokenize(example(f));
    lines.forEach((tokens, i) => {
      for (const t of tokens) {
        assert.ok(
          !t.scopes.some((s) => s.startsWith("invalid")),
          `${f}:${i + 1}: ${JSON.stringify(t.text)} is ${t.scopes.join(" ")}`,
        );
        if (t.text.trim() !== "") {
          assert.ok(t.scopes.length > 1, `${f}:${i + 1}: ${JSON.stringify(t.text)} has no scope`);
        }
      }
    });
  }
});

test("the extension manifest and the language configuration fit together", () => {
  const root = path.join(__dirname, "..");
  const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  const [language] = manifest.contributes.languages;
  assert.equal(language.id, "flow");
  assert.deepEqual(language.extensions, [".flow"]);
  const [grammar] = manifest.contributes.grammars;
  assert.equal(grammar.language, "flow");
  assert.equal(grammar.scopeName, "source.flow");
  const tm = JSON.parse(fs.readFileSync(path.join(root, grammar.path), "utf8"));
  assert.equal(tm.scopeName, grammar.scopeName);
  assert.ok(fs.existsSync(path.join(root, manifest.main)));

  const config = JSON.parse(fs.readFileSync(path.join(root, language.configuration), "utf8"));
  assert.equal(config.comments.lineComment, "//");
  assert.deepEqual(config.brackets, [["{", "}"], ["[", "]"], ["(", ")"]]);
  const pairs = config.autoClosingPairs.map((p) => p.open + p.close);
  for (const pair of ["{}", "[]", "()", '""']) {
    assert.ok(pairs.includes(pair), `auto-closing ${pair}`);
  }
  assert.ok(config.folding.markers.start && config.folding.markers.end);
  // The doc-comment rule continues `///` lines and nothing else.
  const rule = new RegExp(config.onEnterRules[0].beforeText);
  assert.ok(rule.test("  /// Plans a customer can be on."));
  assert.ok(!rule.test("  // a plain comment"));
});
