//! `nudge check` end to end: the real binary on real files in a temporary
//! folder, every output format, exit codes and hostile input.

// Helpers fail the test that calls them, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use tempfile::TempDir;

/// What one run printed and how it exited.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `nudge` in `dir` with plain output and no format from the
/// environment.
fn nudge(dir: &Path, args: &[&str]) -> Run {
    nudge_env(dir, args, &[])
}

fn nudge_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nudge"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("NUDGE_FORMAT")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.stdout))
}

// ------------------------------------------------------------ robustness

/// A profile, so that checking a folder is about the other files only.
const SCHEMA: &str = "profile {\n  email: email\n  created_at: time\n}\n";

/// A temporary folder `proj` with `schema.flow` and `files`.
fn project(files: &[(&str, &[u8])]) -> TempDir {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "proj/schema.flow", SCHEMA);
    for (name, text) in files {
        write(dir.path(), &format!("proj/{name}"), text);
    }
    dir
}

#[test]
fn empty_files_are_valid_and_declare_nothing() {
    let dir = project(&[
        ("empty.flow", b""),
        ("comments.flow", b"// Nothing here yet.\n\n/// Nor here.\n"),
    ]);
    let run = nudge(dir.path(), &["check", "proj"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "checked 3 files: 0 errors, 0 warnings\n");
}

#[test]
fn a_file_that_is_not_utf8_names_the_first_bad_byte() {
    let dir = project(&[(
        "latin1.flow",
        b"event a { x: string }\n// caf\xE9 au lait\n",
    )]);
    let run = nudge(dir.path(), &["check", "proj"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    for text in [
        "nudge::io::not_utf8",
        "`proj/latin1.flow` is not UTF-8 text",
        "[proj/latin1.flow:2:7]",
        "byte `0xE9` is not UTF-8",
        "help: save the file as UTF-8",
        "checked 2 files: 1 error, 0 warnings",
    ] {
        assert!(run.stdout.contains(text), "no {text:?} in\n{}", run.stdout);
    }

    let run = nudge(dir.path(), &["check", "--format", "json", "proj"]);
    assert_eq!(run.code, 1);
    let d = &json(&run)["diagnostics"][0];
    assert_eq!(d["code"], "nudge::io::not_utf8");
    assert_eq!(d["file"], "proj/latin1.flow");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(2), Some(7))
    );
    assert_eq!(d["labels"][0]["start_byte"], 28);
    assert_eq!(d["labels"][0]["end_byte"], 29);
}

/// A file of one byte that is not UTF-8: the label ends at the end of the
/// file, not past it (the byte used to be counted as the three of U+FFFD).
#[test]
fn the_bad_byte_of_a_one_byte_file_is_labelled_within_the_file() {
    let dir = project(&[("one.flow", b"\xff")]);
    let run = nudge(dir.path(), &["check", "--format", "json", "proj"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let d = &json(&run)["diagnostics"][0];
    assert_eq!(d["code"], "nudge::io::not_utf8");
    assert_eq!(
        (&d["labels"][0]["start_byte"], &d["labels"][0]["end_byte"]),
        (&json!(0), &json!(1)),
        "{d}"
    );
}

#[test]
fn a_ten_megabyte_file_checks_clean() {
    let mut text = String::from("event stop {}\n\n");
    let mut i = 0;
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(&format!(
            "/// Number {i}.\nevent e{i} {{ n: int }}\n\n\
             template t{i}: email for e{i} {{\n  subject: \"Café {i} 🎉\"\n  text: \"n is {{event.n}}\"\n}}\n\n\
             workflow w{i} {{\n  on e{i}\n  exit on stop\n  wait 1d\n  if event.n > {i} {{\n    send email t{i}\n  }}\n}}\n\n"
        ));
        i += 1;
    }
    let dir = project(&[("big.flow", text.as_bytes())]);
    let run = nudge(dir.path(), &["check", "proj"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "checked 2 files: 0 errors, 0 warnings\n", "")
    );
}

/// Checks `proj` holding `text` as `deep.flow`; expects one `too_deep`
/// error on line 3 of it.
fn assert_too_deep(text: &str) {
    let dir = project(&[("deep.flow", text.as_bytes())]);
    let run = nudge(dir.path(), &["check", "--format", "json", "proj"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = json(&run);
    let deep: Vec<&Value> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "nudge::parse::too_deep")
        .collect();
    assert_eq!(deep.len(), 1, "{report}");
    assert_eq!(deep[0]["message"], "brackets nest too deeply");
    assert_eq!(deep[0]["file"], "proj/deep.flow");
    assert_eq!(deep[0]["line"], 3);
}

#[test]
fn ten_thousand_nested_parentheses_are_too_deep_not_a_crash() {
    let depth = 10_000;
    assert_too_deep(&format!(
        "workflow w {{\n  on e\n  if {}event.x{} {{\n    send email t\n  }}\n}}\n",
        "(".repeat(depth),
        ")".repeat(depth)
    ));
}

#[test]
fn a_long_run_of_not_is_too_deep_not_a_crash() {
    assert_too_deep(&format!(
        "workflow w {{\n  on e\n  if {}event.x {{\n    send email t\n  }}\n}}\n",
        "not ".repeat(200_000)
    ));
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let dir = TempDir::new().unwrap();
    let run = nudge(dir.path(), &["check", "missing.flow"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.contains("`missing.flow` does not exist"),
        "{}",
        run.stdout
    );

    let run = nudge(dir.path(), &["check", "--format", "json", "missing.flow"]);
    assert_eq!(run.code, 2);
    let d = &json(&run)["diagnostics"][0];
    assert_eq!(d["code"], "nudge::io::not_found");
    assert!(d["file"].is_null() && d["line"].is_null() && d["column"].is_null());

    let run = nudge(dir.path(), &["check", "--format", "github", "missing.flow"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.starts_with(
            "::error title=nudge%3A%3Aio%3A%3Anot_found::`missing.flow` does not exist%0Ahelp: "
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn a_folder_without_flow_files_is_a_usage_error() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "empty/readme.txt", "not a flow");
    let run = nudge(dir.path(), &["check", "empty"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.contains("no `.flow` files in `empty`"),
        "{}",
        run.stdout
    );
}

/// A device never ends: reading it would hang, so it is refused.
#[cfg(unix)]
#[test]
fn a_device_is_refused_not_read() {
    let dir = TempDir::new().unwrap();
    let run = nudge(dir.path(), &["check", "/dev/zero"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout
            .contains("cannot read `/dev/zero`: not a file or a folder"),
        "{}",
        run.stdout
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = TempDir::new().unwrap();
    for args in [
        &["check", "--format", "xml"][..],
        &["check", "--no-such-flag"],
        &["no-such-command"],
        &[],
    ] {
        let run = nudge(dir.path(), args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.trim().is_empty(), "{args:?}");
    }
    let run = nudge_env(dir.path(), &["check"], &[("NUDGE_FORMAT", "yaml")]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

// ------------------------------------------------------------ formats

/// A project of a clean schema and three files, each broken in its own
/// way (and only there: the checker finds nothing else); `a.flow` has
/// non-ASCII text before the error on the same line.
fn broken_project() -> TempDir {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "proj/schema.flow",
        "profile {\n  email: email\n  created_at: time\n}\n\n\
         event signed_up { seats: int }\nevent upgraded {}\n\n\
         template hello: email {\n  subject: \"Hello\"\n  text: \"Welcome\"\n}\n",
    );
    write(
        dir.path(),
        "proj/a.flow",
        "template greeting: email {\n  subject: \"café 🎉 \\q\"\n  text: \"Welcome\"\n}\n",
    );
    write(
        dir.path(),
        "proj/b.flow",
        "workflow welcome {\n  on signed_up\n  exit on upgraded\n  wait until 9:00 local\n  send email hello\n}\n",
    );
    write(
        dir.path(),
        "proj/c.flow",
        "workflow teams {\n  on signed_up\n  exit on upgraded\n  if event.seats > 99999999999999999999 {\n    send email hello\n  }\n}\n",
    );
    dir
}

/// Per broken file of [`broken_project`]: (line, column, the text there).
const EXPECTED: [(&str, u64, u64, &str); 3] = [
    ("proj/a.flow", 2, 20, "\\q"),
    ("proj/b.flow", 4, 14, "9:00"),
    ("proj/c.flow", 4, 20, "99999999999999999999"),
];

/// The text of 1-based `line` from character `column` to `end_column`.
fn text_at(dir: &Path, file: &str, line: u64, column: u64, end_column: u64) -> String {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let line = text.lines().nth(line as usize - 1).unwrap();
    line.chars()
        .skip(column as usize - 1)
        .take((end_column - column) as usize)
        .collect()
}

#[test]
fn human_output_shows_every_file() {
    let dir = broken_project();
    let run = nudge(dir.path(), &["check", "proj"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn json_output_has_an_error_in_each_file_at_the_right_place() {
    let dir = broken_project();
    let run = nudge(dir.path(), &["check", "--format", "json", "proj"]);
    assert_eq!(run.code, 1);
    let report = json(&run);
    assert_eq!(report["version"], 1);
    assert_eq!(
        report["summary"],
        serde_json::json!({ "files": 4, "errors": 3, "warnings": 0 })
    );
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 3);
    for (d, (file, line, column, text)) in diagnostics.iter().zip(EXPECTED) {
        for key in [
            "code",
            "severity",
            "message",
            "help",
            "file",
            "line",
            "column",
            "end_line",
            "end_column",
            "labels",
            "related",
        ] {
            assert!(d.get(key).is_some(), "{key} missing in {d}");
        }
        assert_eq!(d["severity"], "error");
        assert_eq!(d["file"], file);
        assert_eq!(
            (d["line"].as_u64(), d["column"].as_u64()),
            (Some(line), Some(column))
        );
        let end_column = d["end_column"].as_u64().unwrap();
        assert_eq!(d["end_line"].as_u64(), Some(line));
        assert_eq!(text_at(dir.path(), file, line, column, end_column), text);

        // The label's bytes and characters mark the same text.
        let label = &d["labels"][0];
        assert_eq!(label["primary"], true);
        assert_eq!(
            (&label["line"], &label["column"]),
            (&d["line"], &d["column"])
        );
        let source = std::fs::read_to_string(dir.path().join(file)).unwrap();
        let bytes = label["start_byte"].as_u64().unwrap() as usize
            ..label["end_byte"].as_u64().unwrap() as usize;
        assert_eq!(&source[bytes], text);
    }
    assert_eq!(diagnostics[1]["help"], "write `09:00`");
}

#[test]
fn github_output_annotates_each_file() {
    let dir = broken_project();
    let run = nudge(dir.path(), &["check", "--format", "github", "proj"]);
    assert_eq!(run.code, 1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    for (line, (file, l, c, text)) in lines.iter().zip(EXPECTED) {
        let (properties, message) = line
            .strip_prefix("::error ")
            .and_then(|rest| rest.split_once("::"))
            .unwrap_or_else(|| panic!("not a workflow command: {line}"));
        let properties: Vec<(&str, &str)> = properties
            .split(',')
            .map(|p| p.split_once('=').unwrap())
            .collect();
        let get = |k: &str| properties.iter().find(|(key, _)| *key == k).unwrap().1;
        assert_eq!(get("file"), file);
        assert_eq!(get("line"), l.to_string());
        assert_eq!(get("col"), c.to_string());
        let end: u64 = get("endColumn").parse().unwrap();
        assert_eq!(text_at(dir.path(), file, l, c, end), text);
        assert!(get("title").starts_with("nudge%3A%3Aparse%3A%3A"), "{line}");
        assert!(!message.is_empty());
    }
    // Help follows the message after an escaped line break.
    assert!(
        lines[1].ends_with("::the time `9:00` needs a two-digit hour%0Ahelp: write `09:00`"),
        "{}",
        lines[1]
    );
}

#[test]
fn github_output_escapes_properties() {
    let dir = project(&[("50%,off.flow", b"event e { when: 9:00 }\n")]);
    let run = nudge(dir.path(), &["check", "--format", "github", "proj"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .starts_with("::error file=proj/50%25%2Coff.flow,line=1,"),
        "{}",
        run.stdout
    );
}

/// Validates a SARIF log against the SARIF 2.1.0 schema kept in
/// `tests/data`, and checks what the schema allows but GitHub's upload
/// refuses: a result without a location.
fn assert_valid_sarif(log: &Value) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sarif-schema-2.1.0.json"
    );
    let mut schemas = boon::Schemas::new();
    let index = boon::Compiler::new().compile(path, &mut schemas).unwrap();
    if let Err(e) = schemas.validate(log, index) {
        panic!("not SARIF 2.1.0:\n{e:#}\n{log:#}");
    }
    for r in log["runs"][0]["results"].as_array().unwrap() {
        assert!(
            r["locations"].as_array().is_some_and(|l| !l.is_empty()),
            "a result without a location: {r}"
        );
    }
}

/// A problem in no file (a path that does not exist) is a notification of
/// the run, not a result with `"locations": []`, which GitHub's upload
/// refuses.
#[test]
fn sarif_for_a_missing_path_is_a_tool_notification() {
    let dir = tempfile::tempdir().unwrap();
    let run = nudge(dir.path(), &["check", "--format", "sarif", "missing.flow"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let sarif = json(&run);
    assert_valid_sarif(&sarif);
    let tool_run = &sarif["runs"][0];
    assert_eq!(tool_run["results"], json!([]));
    let invocation = &tool_run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], json!(false));
    let notification = &invocation["toolExecutionNotifications"][0];
    assert_eq!(notification["descriptor"]["id"], "nudge::io::not_found");
    assert_eq!(notification["level"], "error");
    assert!(notification["message"]["text"]
        .as_str()
        .unwrap()
        .contains("`missing.flow` does not exist"));
}

#[test]
fn sarif_output_is_valid_and_points_into_each_file() {
    let dir = broken_project();
    let run = nudge(dir.path(), &["check", "--format", "sarif", "proj"]);
    assert_eq!(run.code, 1);
    let sarif = json(&run);
    assert_valid_sarif(&sarif);
    assert_eq!(
        sarif["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    assert_eq!(sarif["version"], "2.1.0");
    let runs = sarif["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let tool_run = &runs[0];
    assert_eq!(tool_run["columnKind"], "unicodeCodePoints");
    let driver = &tool_run["tool"]["driver"];
    assert_eq!(driver["name"], "nudge");
    assert!(driver["version"].is_string());
    assert!(driver["informationUri"]
        .as_str()
        .unwrap()
        .starts_with("https://"));

    let rules = driver["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        ids.len(),
        "one rule per code: {ids:?}"
    );
    for rule in rules {
        assert!(rule["shortDescription"]["text"].is_string());
        let id = rule["id"].as_str().unwrap();
        let page = id.replace("nudge::", "").replace("::", "/");
        assert!(rule["helpUri"]
            .as_str()
            .unwrap()
            .ends_with(&format!("docs/errors/{page}.md")));
    }

    let results = tool_run["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    let mut uris = BTreeSet::new();
    for (result, (file, line, column, text)) in results.iter().zip(EXPECTED) {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert_eq!(result["level"], "error");
        assert!(!result["message"]["text"].as_str().unwrap().is_empty());
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().unwrap();
        assert_eq!(uri, file, "relative, forward slashes");
        uris.insert(uri.to_owned());
        let region = &location["region"];
        assert_eq!(region["startLine"].as_u64(), Some(line));
        assert_eq!(region["startColumn"].as_u64(), Some(column));
        assert_eq!(region["endLine"].as_u64(), Some(line));
        let end = region["endColumn"].as_u64().unwrap();
        assert!(end >= column);
        assert_eq!(text_at(dir.path(), file, line, column, end), text);
        assert!(result.get("relatedLocations").is_none(), "none here");
    }
    assert_eq!(uris.len(), 3, "an error in each file");
}

#[test]
fn nudge_format_picks_the_format() {
    let dir = broken_project();
    let run = nudge_env(dir.path(), &["check", "proj"], &[("NUDGE_FORMAT", "json")]);
    assert_eq!(run.code, 1);
    assert_eq!(json(&run)["summary"]["errors"], 3);
    // The flag wins over the environment.
    let run = nudge_env(
        dir.path(),
        &["check", "--format", "github", "proj"],
        &[("NUDGE_FORMAT", "json")],
    );
    assert!(run.stdout.starts_with("::error "), "{}", run.stdout);
}

#[test]
fn files_named_together_form_one_project_and_keep_their_names() {
    let dir = broken_project();
    let run = nudge(
        dir.path(),
        &[
            "check",
            "--format",
            "json",
            "proj/c.flow",
            "proj/schema.flow",
            "proj/a.flow",
        ],
    );
    assert_eq!(run.code, 1);
    let report = json(&run);
    assert_eq!(report["summary"]["files"], 3);
    let files: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["proj/a.flow", "proj/c.flow"]);
}

/// A project with an error in one file, whose related note points into a
/// second, and a warning in a third. Files are read in name order, so
/// `upgrade.flow` holds the second declaration of `signed_up`.
fn error_and_warning_project() -> TempDir {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "proj/schema.flow",
        "profile {\n  email: email\n  created_at: time\n}\n\n\
         event signed_up { seats: int }\nevent upgraded {}\n\n\
         template hello: email {\n  subject: \"Hello\"\n  text: \"Welcome\"\n}\n",
    );
    write(
        dir.path(),
        "proj/upgrade.flow",
        "event signed_up { plan: string }\n",
    );
    write(
        dir.path(),
        "proj/welcome.flow",
        "workflow welcome {\n  on signed_up\n  exit on upgraded\n  exit\n  send email hello\n}\n",
    );
    dir
}

#[test]
fn every_format_reports_an_error_and_a_warning_in_two_files() {
    let dir = error_and_warning_project();
    for f in ["human", "json", "github", "sarif"] {
        let run = nudge(dir.path(), &["check", "--format", f, "proj"]);
        assert_eq!(run.code, 1, "{f}:\n{}{}", run.stdout, run.stderr);
        assert!(!run.stdout.is_empty(), "{f}: nothing on stdout");
        assert_eq!(run.stderr, "", "{f}");
        match f {
            "json" => assert_eq!(
                json(&run)["summary"],
                json!({ "files": 3, "errors": 1, "warnings": 1 })
            ),
            "sarif" => assert_valid_sarif(&json(&run)),
            _ => {}
        }
        // SARIF names the tool's version; the snapshot outlives releases.
        let out = run.stdout.replace(
            &format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION")),
            "\"version\": \"[version]\"",
        );
        insta::assert_snapshot!(format!("formats_{f}"), out);
    }
}
