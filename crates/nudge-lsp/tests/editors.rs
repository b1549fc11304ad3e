//! The editor files under `editors/`, tested with the real highlighters:
//! the TextMate grammar in Node with vscode-textmate and vscode-oniguruma
//! (the engine VS Code uses), the Vim syntax in a headless Vim, the
//! tree-sitter grammar of `editors/tree-sitter-flow` with the tree-sitter
//! CLI, and all of them against the keywords of `grammar/flow.pest` so they
//! cannot drift.
//!
//! Node with `editors/vscode/node_modules` (`npm ci --prefix editors/vscode`),
//! Vim (`apt-get install vim-nox`), the tree-sitter CLI (`cargo install
//! tree-sitter-cli --version 0.27.1 --locked`) and a C compiler are needed. Without them these tests
//! fail when `CI=true` and are skipped, with the reason printed, elsewhere.

// Helpers fail the test that calls them, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Fails in CI, skips (returning `false`) elsewhere.
fn require(available: bool, what: &str) -> bool {
    if available {
        return true;
    }
    assert!(!in_ci(), "{what}; CI=true, so this is a failure");
    println!("skipped: {what} (set CI=true to make this a failure)");
    false
}

fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

// ------------------------------------------------------------------ TextMate

#[test]
fn textmate_grammar_highlights_the_examples() {
    let vscode = repo().join("editors/vscode");
    if !require(runs("node", "--version"), "`node` is not installed")
        || !require(
            vscode.join("node_modules/vscode-textmate").is_dir()
                && vscode.join("node_modules/vscode-oniguruma").is_dir(),
            "editors/vscode/node_modules is missing (run `npm ci --prefix editors/vscode`)",
        )
    {
        return;
    }
    let output = Command::new("node")
        .args(["--test", "test/highlight.test.js"])
        .current_dir(&vscode)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node --test failed:\n{stdout}\n{stderr}"
    );
    // The runner really ran the tests, and all passed.
    let passed: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(passed >= 7, "{stdout}");
    assert!(stdout.contains("# fail 0"), "{stdout}");
}

// ------------------------------------------------------------------ Vim

/// A place to probe: the `nth` occurrence of `token` on the first line
/// containing `line_has`, and the syntax group expected there.
struct Probe {
    line_has: &'static str,
    token: &'static str,
    nth: usize,
    group: &'static str,
}

const fn probe(line_has: &'static str, token: &'static str, group: &'static str) -> Probe {
    Probe {
        line_has,
        token,
        nth: 0,
        group,
    }
}

/// 1-based line and byte column (what Vim's `synID` takes).
fn locate(text: &str, p: &Probe) -> (usize, usize) {
    let (index, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(p.line_has))
        .unwrap_or_else(|| panic!("no line contains `{}`", p.line_has));
    let column = line
        .match_indices(p.token)
        .nth(p.nth)
        .unwrap_or_else(|| panic!("`{}` not on line `{line}`", p.token))
        .0;
    (index + 1, column + 1)
}

/// Runs `body` in a headless Vim with `editors/vim` on the runtime path
/// (so ftdetect, ftplugin, indent and syntax load as they would for a
/// user); `body` adds lines to the list `out`, which is returned.
fn run_vim(body: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let script = format!(
        "set nocompatible noswapfile\n\
         set runtimepath^={}\n\
         filetype plugin indent on\n\
         syntax on\n\
         let out = []\n\
         {body}\n\
         call writefile(out, '{}')\n\
         qall!\n",
        repo().join("editors/vim").display(),
        out.display(),
    );
    let script_path = dir.path().join("probe.vim");
    std::fs::write(&script_path, script).unwrap();
    let status = Command::new("vim")
        // `-n`: no swap files, so Vims running side by side on the same
        // example do not see each other's.
        .args(["-Nu", "NONE", "-i", "NONE", "-n", "-es", "-S"])
        .arg(&script_path)
        .status()
        .unwrap();
    assert!(status.success(), "vim exited with {status}");
    let text = std::fs::read_to_string(&out).expect("vim wrote no results");
    text.lines().map(str::to_owned).collect()
}

/// Opens `file` and returns the file type, `commentstring`, `shiftwidth`
/// and the syntax group at each position.
fn vim_groups(file: &Path, positions: &[(usize, usize)]) -> Vec<String> {
    let mut body = format!(
        "edit {}\n\
         call extend(out, [&filetype, &commentstring, string(&shiftwidth)])\n",
        file.display()
    );
    for (line, col) in positions {
        body.push_str(&format!(
            "call add(out, synIDattr(synID({line}, {col}, 1), 'name'))\n"
        ));
    }
    run_vim(&body)
}

#[test]
fn vim_indents_the_examples_as_the_formatter_does() {
    if !require(runs("vim", "--version"), "`vim` is not installed") {
        return;
    }
    // Every line of every example loses its indentation; `gg=G` must give
    // it back exactly.
    let body = format!(
        "for f in glob('{}/*.flow', 0, 1)\n\
           execute 'edit! ' . f\n\
           let want = getline(1, '$')\n\
           silent! %s/^\\s\\+//\n\
           normal! gg=G\n\
           let got = getline(1, '$')\n\
           call add(out, 'checked ' . fnamemodify(f, ':t'))\n\
           for i in range(len(want))\n\
             if want[i] !=# got[i]\n\
               call add(out, fnamemodify(f, ':t') . ':' . (i + 1) . ': expected [' . want[i] . '] got [' . got[i] . ']')\n\
             endif\n\
           endfor\n\
           set nomodified\n\
         endfor",
        repo().join("examples").display()
    );
    let out = run_vim(&body);
    let checked = out.iter().filter(|l| l.starts_with("checked ")).count();
    assert!(checked >= 5, "{out:?}");
    let wrong: Vec<&String> = out.iter().filter(|l| !l.starts_with("checked ")).collect();
    assert!(
        wrong.is_empty(),
        "\n{}",
        wrong
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn check_vim(file: &Path, probes: &[Probe]) {
    let text = std::fs::read_to_string(file).unwrap();
    let positions: Vec<(usize, usize)> = probes.iter().map(|p| locate(&text, p)).collect();
    let groups = vim_groups(file, &positions);
    assert_eq!(groups[0], "flow", "ftdetect sets the file type");
    assert_eq!(groups[1], "// %s", "ftplugin sets commentstring");
    assert_eq!(groups[2], "2", "ftplugin sets shiftwidth");
    let mut wrong = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        let got = &groups[i + 3];
        if got != p.group {
            let (l, c) = positions[i];
            wrong.push(format!(
                "{}:{l}:{c} `{}`: expected {}, got `{got}`",
                file.display(),
                p.token,
                p.group
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn vim_syntax_highlights_the_examples() {
    if !require(runs("vim", "--version"), "`vim` is not installed") {
        return;
    }
    let examples = repo().join("examples");
    check_vim(
        &examples.join("onboarding.flow"),
        &[
            probe("/// Welcomes", "///", "flowDocComment"),
            probe("workflow onboarding", "workflow", "flowDeclaration"),
            probe("workflow onboarding", "onboarding", "flowDeclName"),
            probe("exit on plan_upgraded", "exit", "flowControl"),
            probe("if not did", "not", "flowOperatorWord"),
            probe("if not did", "did", "flowBehaviour"),
            probe("within 7d", "7d", "flowDuration"),
            probe("wait until 09:00", "09:00", "flowTime"),
            probe("50%: send", "50%", "flowPercent"),
            probe("50%: send", "email", "flowChannel"),
            probe("at 2026-03-02T10:00:00Z \"u1\"", "2026", "flowTimestamp"),
            probe("at +1d", "+1d", "flowOffset"),
            probe("expect 1 email", "1", "flowNumber"),
            probe("reached goal", "reached", "flowTestKeyword"),
            probe("expect 1 message", "message", "flowMessages"),
            probe("html: file(", "file", "flowFile"),
            probe("first_name ?? \"friend\"", "Welcome", "flowString"),
            probe("first_name ?? \"friend\"", "profile", "flowPathRoot"),
            probe("first_name ?? \"friend\"", ".first_name", "flowProperty"),
            probe("first_name ?? \"friend\"", "??", "flowCoalesce"),
            probe("first_name ?? \"friend\"", "friend", "flowString"),
            probe("first_name ?? \"friend\"", "}", "flowInterpDelim"),
        ],
    );
    check_vim(
        &examples.join("schema.flow"),
        &[
            probe("// The shop's", "//", "flowComment"),
            probe("enum Plan", "Plan", "flowDeclName"),
            probe("  plan: Plan", "Plan", "flowTypeName"),
            probe("event account_created", "event", "flowDeclaration"),
            probe("event account_created", "account_created", "flowDeclName"),
            probe("  company_size: int", "int", "flowType"),
            probe("segment paid", "in", "flowOperatorWord"),
        ],
    );
}

#[test]
fn vim_syntax_highlights_escapes_and_braces_in_strings() {
    if !require(runs("vim", "--version"), "`vim` is not installed") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("strings.flow");
    std::fs::write(
        &file,
        "template t: sms { text: \"use {{code}} \\\"now\\\" {event.x} }\" }\n\
         workflow w { on a where event.total >= 1.5 priority transactional }\n\
         policy { cap 2 per 48h quiet hours 21:00 to 08:00 local for push, sms }\n",
    )
    .unwrap();
    check_vim(
        &file,
        &[
            probe("template t", "{{", "flowBraceEscape"),
            probe("template t", "}}", "flowBraceEscape"),
            probe("template t", "\\\"", "flowEscape"),
            probe("template t", "event", "flowPathRoot"),
            Probe {
                nth: 3,
                ..probe("template t", "}", "flowStrayBrace")
            },
            probe("workflow w", ">=", "flowOperator"),
            probe("workflow w", "1.5", "flowFloat"),
            probe("workflow w", "transactional", "flowPriority"),
            probe("policy", "policy", "flowDeclaration"),
            probe("policy", "cap", "flowPolicy"),
            probe("policy", "48h", "flowDuration"),
            probe("policy", "21:00", "flowTime"),
        ],
    );
}

// ------------------------------------------------------------------ drift

/// Every word of the grammar: the `k_*` keyword rules, the `reserved`
/// words, channels, priority levels, weekdays, `message(s)` and `file`.
fn grammar_words() -> BTreeSet<String> {
    let pest = std::fs::read_to_string(repo().join("grammar/flow.pest")).unwrap();
    nudge_lsp::grammar_words(&pest)
}

/// The identifier-like pieces of some highlighter source text.
fn pieces(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_grammar_keyword_is_in_the_textmate_grammar_and_the_vim_syntax() {
    let words = grammar_words();
    // Words from each kind of rule, so that a change in how the grammar is
    // written cannot make this test vacuous (`true` is only in `reserved`).
    for expected in [
        "workflow",
        "within",
        "true",
        "in_app",
        "transactional",
        "sunday",
        "messages",
        "file",
    ] {
        assert!(
            words.contains(expected),
            "`{expected}` not found in the grammar"
        );
    }

    // TextMate: the regexes of the grammar, not its scope names.
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("editors/vscode/syntaxes/flow.tmLanguage.json"))
            .unwrap(),
    )
    .unwrap();
    let mut regexes = String::new();
    collect_regexes(&json, &mut regexes);
    let textmate = pieces(&regexes);

    // Vim: the `syntax keyword` and `syntax match` lines.
    let vim_text = std::fs::read_to_string(repo().join("editors/vim/syntax/flow.vim")).unwrap();
    let vim_lines: String = vim_text
        .lines()
        .filter(|l| l.starts_with("syntax keyword") || l.starts_with("syntax match"))
        .map(|l| format!("{l}\n"))
        .collect();
    let vim = pieces(&vim_lines);

    let missing_tm: Vec<&String> = words.iter().filter(|w| !textmate.contains(*w)).collect();
    let missing_vim: Vec<&String> = words.iter().filter(|w| !vim.contains(*w)).collect();
    assert!(
        missing_tm.is_empty() && missing_vim.is_empty(),
        "keywords of grammar/flow.pest missing from\n  \
         editors/vscode/syntaxes/flow.tmLanguage.json: {missing_tm:?}\n  \
         editors/vim/syntax/flow.vim: {missing_vim:?}"
    );
}

/// A line that shows `word` in a place where the grammar allows it, with
/// `word` first.
fn line_for(word: &str) -> String {
    match word {
        "event" => "event signed_up { }".to_owned(),
        "profile" => "profile { }".to_owned(),
        "file" => "file(\"a.html\")".to_owned(),
        w => format!("{w} "),
    }
}

#[test]
fn every_grammar_keyword_is_highlighted_by_the_textmate_grammar() {
    let vscode = repo().join("editors/vscode");
    if !require(runs("node", "--version"), "`node` is not installed")
        || !require(
            vscode.join("node_modules/vscode-textmate").is_dir(),
            "editors/vscode/node_modules is missing (run `npm ci --prefix editors/vscode`)",
        )
    {
        return;
    }
    let words: Vec<String> = grammar_words().into_iter().collect();
    let lines: Vec<String> = words.iter().map(|w| line_for(w)).collect();
    let mut child = Command::new("node")
        .arg("test/scopes.js")
        .current_dir(&vscode)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(&lines).unwrap().as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let scopes: Vec<Vec<String>> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(scopes.len(), words.len());
    let plain: Vec<String> = words
        .iter()
        .zip(&scopes)
        .filter(|(_, s)| {
            !s.iter().any(|s| {
                s.starts_with("keyword.") || s.starts_with("constant.") || s.starts_with("support.")
            })
        })
        .map(|(w, s)| format!("`{w}`: {s:?}"))
        .collect();
    assert!(
        plain.is_empty(),
        "keywords the TextMate grammar does not highlight:\n{}",
        plain.join("\n")
    );
}

#[test]
fn every_grammar_keyword_is_highlighted_by_the_vim_syntax() {
    if !require(runs("vim", "--version"), "`vim` is not installed") {
        return;
    }
    let words: Vec<String> = grammar_words().into_iter().collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("words.flow");
    let text: String = words.iter().map(|w| line_for(w) + "\n").collect();
    std::fs::write(&file, text).unwrap();
    let positions: Vec<(usize, usize)> = (1..=words.len()).map(|l| (l, 1)).collect();
    let groups = vim_groups(&file, &positions);
    let plain: Vec<String> = words
        .iter()
        .zip(&groups[3..])
        .filter(|(_, g)| g.is_empty() || g.as_str() == "flowTypeName")
        .map(|(w, g)| format!("`{w}`: `{g}`"))
        .collect();
    assert!(
        plain.is_empty(),
        "keywords the Vim syntax does not highlight:\n{}",
        plain.join("\n")
    );
}

fn collect_regexes(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("match" | "begin" | "end", serde_json::Value::String(s)) => {
                        out.push_str(s);
                        out.push('\n');
                    }
                    _ => collect_regexes(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                collect_regexes(v, out);
            }
        }
        _ => {}
    }
}

// ------------------------------------------------------------------ tree-sitter

fn tree_sitter_dir() -> PathBuf {
    repo().join("editors/tree-sitter-flow")
}

/// The tree-sitter CLI (`cargo install tree-sitter-cli --locked`).
fn tree_sitter_cli() -> bool {
    require(
        runs("tree-sitter", "--version"),
        "the tree-sitter CLI is not installed (`cargo install tree-sitter-cli --locked`)",
    )
}

/// Runs `tree-sitter ARGS` in editors/tree-sitter-flow; fails on a non-zero exit.
fn tree_sitter(args: &[&std::ffi::OsStr]) -> String {
    let output = Command::new("tree-sitter")
        .args(args)
        .current_dir(tree_sitter_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tree-sitter {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

#[test]
fn tree_sitter_parser_is_generated_from_its_grammar() {
    if !tree_sitter_cli() {
        return;
    }
    // `native`: the CLI's own JavaScript engine, so no Node is needed.
    let out = tempfile::tempdir().unwrap();
    tree_sitter(&[
        "generate".as_ref(),
        "--js-runtime".as_ref(),
        "native".as_ref(),
        "-o".as_ref(),
        out.path().as_os_str(),
        "grammar.js".as_ref(),
    ]);
    for file in ["grammar.json", "node-types.json"] {
        let committed = std::fs::read_to_string(tree_sitter_dir().join("src").join(file)).unwrap();
        let fresh = std::fs::read_to_string(out.path().join(file)).unwrap();
        assert!(
            committed == fresh,
            "editors/tree-sitter-flow/src/{file} is not generated from grammar.js: \
             run `tree-sitter generate` there and commit src/"
        );
    }
}

#[test]
fn tree_sitter_grammar_passes_its_corpus() {
    if !tree_sitter_cli() {
        return;
    }
    let stdout = tree_sitter(&["test".as_ref()]);
    // `Total parses: 64; successful parses: 64; failed parses: 0; …`
    let count = |label: &str| -> usize {
        stdout
            .lines()
            .find(|l| l.starts_with("Total parses: "))
            .and_then(|l| l.split("; ").find_map(|p| p.strip_prefix(label)))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    assert!(count("Total parses: ") >= 60, "{stdout}");
    assert_eq!(count("failed parses: "), 0, "{stdout}");
    // Each query compiles against the grammar (an unknown node fails).
    for query in [
        "queries/highlights.scm",
        "queries/folds.scm",
        "queries/indents.scm",
        "queries/locals.scm",
        "queries/helix/highlights.scm",
        "queries/helix/indents.scm",
        "queries/zed/indents.scm",
        "queries/zed/brackets.scm",
        "queries/zed/outline.scm",
    ] {
        let example = repo().join("examples/onboarding.flow");
        tree_sitter(&["query".as_ref(), query.as_ref(), example.as_os_str()]);
    }
}

fn flow_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            flow_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "flow") {
            out.push(path);
        }
    }
}

#[test]
fn tree_sitter_grammar_parses_every_file_the_parser_accepts() {
    if !tree_sitter_cli() {
        return;
    }
    let mut files = Vec::new();
    for dir in ["examples", "docs", "tests/cases", "tests/fuzz"] {
        flow_files(&repo().join(dir), &mut files);
    }
    // Only the files `nudge` parses: tests/cases/parse holds wrong ones.
    let valid: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| {
            let Ok(text) = String::from_utf8(std::fs::read(f).unwrap()) else {
                return false;
            };
            let source = nudge_syntax::SourceFile::new(f.display().to_string(), text);
            nudge_syntax::parse(std::sync::Arc::new(source)).is_ok()
        })
        .map(|f| f.canonicalize().unwrap())
        .collect();
    assert!(valid.len() >= 200, "only {} valid files found", valid.len());
    let list = tempfile::NamedTempFile::new().unwrap();
    let paths: String = valid.iter().map(|p| format!("{}\n", p.display())).collect();
    std::fs::write(list.path(), paths).unwrap();
    // `--quiet` prints only the files with an ERROR or MISSING node, and
    // exits 1 when there is one.
    let output = Command::new("tree-sitter")
        .args(["parse", "--quiet", "--paths"])
        .arg(list.path())
        .current_dir(tree_sitter_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !stdout.contains("ERROR") && !stdout.contains("MISSING"),
        "files that `nudge` parses and tree-sitter-flow does not:\n{stdout}\n{stderr}"
    );
}

/// The words a tree-sitter query names as anonymous nodes (`"workflow"`),
/// outside comments and predicates (`(#any-of? @x "profile")`).
fn query_words(query: &str) -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    for line in query.lines().filter(|l| !l.trim_start().starts_with(';')) {
        let mut chars = line.chars().peekable();
        let mut in_predicate = false;
        while let Some(c) = chars.next() {
            match c {
                '(' if chars.peek() == Some(&'#') => in_predicate = true,
                ')' => in_predicate = false,
                '"' => {
                    let mut word = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => word.extend(chars.next()),
                            '"' => break,
                            c => word.push(c),
                        }
                    }
                    if !in_predicate {
                        words.insert(word);
                    }
                }
                _ => {}
            }
        }
    }
    words
}

#[test]
fn every_grammar_keyword_is_highlighted_by_the_tree_sitter_queries() {
    let highlights =
        std::fs::read_to_string(tree_sitter_dir().join("queries/highlights.scm")).unwrap();
    let captured = query_words(&highlights);
    assert!(captured.contains("workflow") && !captured.contains("last"));
    let missing: Vec<String> = grammar_words()
        .into_iter()
        .filter(|w| !captured.contains(w))
        .collect();
    assert!(
        missing.is_empty(),
        "keywords of grammar/flow.pest without a capture in \
         editors/tree-sitter-flow/queries/highlights.scm: {missing:?}"
    );
    // Helix's copy is made from it, with Helix's capture names.
    let output = Command::new("sed")
        .args(["-f", "queries/helix/captures.sed", "queries/highlights.scm"])
        .current_dir(tree_sitter_dir())
        .output()
        .unwrap();
    assert!(output.status.success());
    let helix =
        std::fs::read_to_string(tree_sitter_dir().join("queries/helix/highlights.scm")).unwrap();
    assert!(
        helix.as_bytes() == output.stdout,
        "queries/helix/highlights.scm is stale: run \
         `sed -f queries/helix/captures.sed queries/highlights.scm > queries/helix/highlights.scm` \
         in editors/tree-sitter-flow"
    );
}
