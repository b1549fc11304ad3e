//! Parse + check throughput on a generated, valid 100 000-line project.
//!
//! `cargo bench -p nudge-check --bench check` prints the best of a few runs
//! of parsing alone and of parsing plus checking (name resolution, types,
//! narrowing, template files, lints). Figures are recorded in
//! `docs/performance.md`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nudge_check::{check_project, TemplateLoader};
use nudge_syntax::{parse, render_plain, SourceFile};

/// Lines in the generated project.
const TARGET_LINES: usize = 100_000;
/// Timed runs; the best is reported.
const RUNS: usize = 7;

/// Serves the one template file the modules name, from memory.
struct MemoryLoader;

impl TemplateLoader for MemoryLoader {
    fn load(&self, _path: &Path) -> std::io::Result<String> {
        Ok(
            "<h1>Welcome{% if profile.first_name %}, {{ profile.first_name }}{% endif %}!</h1>\n\
            <p>Your {{ event.plan_type }} account is ready.</p>\n"
                .to_owned(),
        )
    }
}

fn main() {
    let files = project(TARGET_LINES);
    let lines: usize = files.iter().map(|f| f.lines().count()).sum();
    let bytes: usize = files.iter().map(String::len).sum();
    println!(
        "generated project: {} files, {lines} lines, {:.2} MB",
        files.len(),
        bytes as f64 / 1e6
    );
    let sources: Vec<Arc<SourceFile>> = files
        .iter()
        .enumerate()
        .map(|(i, f)| Arc::new(SourceFile::new(format!("m{i:05}.flow"), f.as_str())))
        .collect();

    // Sanity: the project checks without a single diagnostic.
    let checked = check_project(&sources, &MemoryLoader);
    if !checked.diagnostics.is_empty() {
        let shown: Vec<_> = checked.diagnostics.iter().take(5).cloned().collect();
        eprintln!(
            "the generated project has {} diagnostics:\n{}",
            checked.diagnostics.len(),
            render_plain(&shown, 100)
        );
        std::process::exit(1);
    }
    let program = checked.program.unwrap_or_else(|| std::process::exit(1));
    println!(
        "checked: {} workflows, {} templates, {} segments",
        program.workflows.len(),
        program.templates.len(),
        program.segments.len()
    );

    // Interleaved, so that a busy machine slows both alike; best of each.
    let mut parse_time = Duration::MAX;
    let mut check_time = Duration::MAX;
    for _ in 0..RUNS {
        parse_time = parse_time.min(time(|| {
            for s in &sources {
                black_box(parse(s.clone()));
            }
        }));
        check_time = check_time.min(time(|| {
            black_box(check_project(&sources, &MemoryLoader));
        }));
    }
    report("parse", lines, parse_time);
    report("parse + check", lines, check_time);
    println!(
        "checking alone: about {:.1} ms",
        (check_time.as_secs_f64() - parse_time.as_secs_f64()) * 1e3
    );
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn report(what: &str, lines: usize, time: Duration) {
    let secs = time.as_secs_f64();
    println!(
        "{what:<16} {:>8.1} ms  {:>10.0} lines/s",
        secs * 1e3,
        lines as f64 / secs
    );
}

#[path = "common/project_gen.rs"]
mod project_gen;
use project_gen::project;
