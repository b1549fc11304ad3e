//! What the durable benchmark borrows from the engine benchmark
//! (`crates/nudge-vm/benches/common/mod.rs`): the allocator the `nudge`
//! binary uses, the examples compiled, the trace's event kinds and
//! CPU-time figures; and what it adds: the process's resident memory and
//! bytes written, from `/proc/self`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nudge_bytecode::Module;
use nudge_check::{check_project, TemplateLoader};
use nudge_compile::compile;
use nudge_syntax::SourceFile;

/// The allocator the `nudge` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The repository's `examples` folder.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Reads the examples' template files.
pub struct ExamplesLoader;

impl TemplateLoader for ExamplesLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        let rel = path.strip_prefix("examples").unwrap_or(path);
        std::fs::read_to_string(examples_dir().join(rel))
    }
}

/// The examples, checked and compiled.
pub fn examples() -> Option<Module> {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .ok()?
        .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".flow"))
        .collect();
    names.sort();
    let sources: Vec<Arc<SourceFile>> = names
        .into_iter()
        .filter_map(|n| {
            let text = std::fs::read_to_string(examples_dir().join(&n)).ok()?;
            Some(Arc::new(SourceFile::new(format!("examples/{n}"), text)))
        })
        .collect();
    let program = check_project(&sources, &ExamplesLoader).program?;
    compile(&program, "bench").ok()
}

/// The generated trace's event kinds, in turn (logins are common).
pub const KINDS: [&str; 8] = [
    "login",
    "checkout_abandoned",
    "feature_used",
    "order_completed",
    "login",
    "setup_completed",
    "account_created",
    "login",
];

/// CPU seconds this process has used (user + system, every thread: sled's
/// flusher included), from `/proc/self/stat`; on a shared machine the wall
/// clock also counts the time other processes held the core. `None` off
/// Linux.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports clock ticks of 1/100 s (USER_HZ) on every architecture.
    Some((utime + stime) / 100.0)
}

/// "… = N per s (wall), M per CPU-s".
pub fn rates(n: u64, wall: f64, cpu: Option<f64>) -> String {
    match cpu {
        Some(cpu) if cpu > 0.0 => format!(
            "{:.0}/s wall, {:.0}/s of CPU ({cpu:.2} CPU-s)",
            n as f64 / wall,
            n as f64 / cpu
        ),
        _ => format!("{:.0}/s wall", n as f64 / wall),
    }
}

/// A field of `/proc/self/status` in kB (`VmRSS`, `VmHWM`).
pub fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Bytes this process has caused to be written to storage (`write_bytes`
/// of `/proc/self/io`: what reached the block layer, fsyncs' data
/// included). `None` where the kernel does not keep it.
pub fn written_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    let line = io.lines().find(|l| l.starts_with("write_bytes:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Write-type system calls this process has made (`syscw` of
/// `/proc/self/io`: `write`, `pwrite`, … by every thread).
pub fn write_calls() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    let line = io.lines().find(|l| l.starts_with("syscw:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Megabytes, for printing.
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
