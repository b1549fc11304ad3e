//! `nudge graph`: a picture of each workflow (its trigger, audience,
//! waits, branches, splits, escalations, exits and goals) as Mermaid, DOT
//! or SVG, with the counts of a record log laid over it.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;

use nudge_check::graph::{graphs, to_dot, to_mermaid, Overlay};

use crate::exit::Exit;
use crate::pipeline;

/// `nudge graph`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The project: a folder (every `.flow` file directly inside) or a file.
    pub project: PathBuf,
    /// Only this workflow (default: every one).
    pub workflow: Option<String>,
    /// What to write.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
    /// A record log (`nudge simulate --records --format jsonl`) whose
    /// counts are laid over the graph.
    #[arg(long, value_name = "FILE")]
    pub records: Option<PathBuf>,
}

/// `--format`
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    /// A Mermaid `flowchart` (renders on GitHub, GitLab and in most wikis).
    Mermaid,
    /// Graphviz DOT.
    Dot,
    /// SVG, drawn by Graphviz (`dot` must be on the PATH).
    Svg,
}

/// The counts of a record log, per workflow.
fn overlays(path: &PathBuf) -> Result<BTreeMap<String, Overlay>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let mut tally = nudge_measure::Tally::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| format!("{}:{}: not JSON: {e}", path.display(), i + 1))?;
        tally.json(&v);
    }
    let report = tally.report();
    let mut out: BTreeMap<String, Overlay> = BTreeMap::new();
    for w in &report.workflows {
        let o = out.entry(w.workflow.clone()).or_default();
        o.entered = w.counts.entered;
        o.exited = w.counts.exited;
        o.completed = w.counts.completed;
        o.goals = w.counts.goals.clone();
    }
    for a in &report.arms {
        out.entry(a.workflow.clone())
            .or_default()
            .arms
            .insert((a.split.clone(), a.arm.clone()), a.entered);
    }
    for m in &report.messages {
        let o = out.entry(m.workflow.clone()).or_default();
        if m.message.starts_with(&format!("{}:", m.channel))
            || m.message == format!("{} (inline)", m.channel)
        {
            *o.inline.entry(m.channel.clone()).or_default() += m.counts.sent;
        } else {
            o.templates
                .insert((m.channel.clone(), m.message.clone()), m.counts.sent);
        }
    }
    Ok(out)
}

/// Runs `nudge graph`.
pub fn run(args: &Args) -> Exit {
    let loaded = pipeline::load(std::slice::from_ref(&args.project));
    if !loaded.fatal.is_empty() {
        let _ = pipeline::report_stderr(&loaded.fatal, 0);
        return Exit::Failure;
    }
    let Ok(project) = loaded.single() else {
        eprintln!("error: `nudge graph` takes one project (a folder or a file)");
        return Exit::Failure;
    };
    let checked = pipeline::check(project);
    let errors = pipeline::errors(&checked.diagnostics);
    let program = match &checked.program {
        Some(p) if errors.is_empty() && loaded.file_errors.is_empty() => p,
        _ => {
            let mut all = loaded.file_errors.clone();
            all.extend(errors);
            let _ = pipeline::report_stderr(&all, loaded.files);
            return Exit::Problems;
        }
    };
    if let Some(w) = &args.workflow {
        if !program.workflows.iter().any(|d| d.name == *w) {
            let names: Vec<&str> = program.workflows.iter().map(|d| d.name.as_str()).collect();
            eprintln!(
                "error: the project has no workflow `{w}`; it has {}",
                names.join(", ")
            );
            return Exit::Failure;
        }
    }
    let counts = match &args.records {
        Some(path) => match overlays(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Failure;
            }
        },
        None => BTreeMap::new(),
    };
    let drawn = graphs(program, args.workflow.as_deref(), &counts);
    let text = match args.format {
        GraphFormat::Mermaid => to_mermaid(&drawn),
        GraphFormat::Dot => to_dot(&drawn),
        GraphFormat::Svg => match svg(&to_dot(&drawn)) {
            Ok(svg) => svg,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Failure;
            }
        },
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()) {
        Ok(()) => Exit::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(e) => {
            eprintln!("error: cannot write the graph: {e}");
            Exit::Failure
        }
    }
}

/// DOT drawn as SVG by Graphviz.
fn svg(dot: &str) -> Result<String, String> {
    let mut child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("`--format svg` runs Graphviz's `dot`, which cannot be started ({e}); install Graphviz, or write `--format dot` and draw it elsewhere")
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(dot.as_bytes())
            .map_err(|e| format!("cannot write to `dot`: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("`dot` failed: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`dot` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("`dot` wrote something other than text: {e}"))
}
