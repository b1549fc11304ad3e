//! Finding and reading the `.flow` files of a project.
//!
//! A folder is one project: every `*.flow` file directly inside it shares
//! one namespace (like a Terraform module; sub-folders are separate
//! projects). Files named on the command line together form one project.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::codes::io as io_codes;
use crate::diagnostic::Diagnostic;
use crate::source::SourceFile;
use crate::span::Span;

/// The files of one project, sorted by path.
#[derive(Clone, Debug)]
pub struct Project {
    /// The folder (or, for loose files, the folder of the first one).
    pub root: PathBuf,
    /// The files, read.
    pub files: Vec<Arc<SourceFile>>,
}

/// What went wrong while loading, split by how bad it is.
#[derive(Debug, Default)]
pub struct LoadErrors {
    /// Problems with the paths themselves (missing, unreadable, empty
    /// folder): the run cannot go on as asked, exit code 2.
    pub fatal: Vec<Diagnostic>,
    /// Problems in files that were found (not UTF-8): reported as errors
    /// in the flows, exit code 1.
    pub in_files: Vec<Diagnostic>,
}

/// Loads the projects named by `paths` (the current folder when empty).
pub fn load(paths: &[PathBuf]) -> (Vec<Project>, LoadErrors) {
    let mut errors = LoadErrors::default();
    let mut projects = Vec::new();
    let mut loose: Vec<PathBuf> = Vec::new();
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => match flow_files_in(path) {
                Ok(files) if files.is_empty() => errors.fatal.push(
                    Diagnostic::error(
                        io_codes::NO_FLOW_FILES,
                        format!("no `.flow` files in `{}`", path.display()),
                    )
                    .with_help(
                        "a project is a folder of `.flow` files; name a file or another folder",
                    ),
                ),
                Ok(files) => {
                    let files = read_all(&files, &mut errors);
                    projects.push(Project {
                        root: path.clone(),
                        files,
                    });
                }
                Err(e) => errors.fatal.push(read_error(path, &e)),
            },
            Ok(meta) if meta.is_file() => loose.push(path.clone()),
            // A FIFO or a device could block or never end.
            Ok(_) => errors.fatal.push(
                Diagnostic::error(
                    io_codes::READ,
                    format!("cannot read `{}`: not a file or a folder", path.display()),
                )
                .with_help("name a `.flow` file or a folder of them"),
            ),
            Err(e) => errors.fatal.push(read_error(path, &e)),
        }
    }
    if !loose.is_empty() {
        loose.sort();
        loose.dedup();
        let root = loose[0].parent().map(Path::to_path_buf).unwrap_or_default();
        let files = read_all(&loose, &mut errors);
        projects.push(Project { root, files });
    }
    (projects, errors)
}

/// `*.flow` files directly inside `dir`, sorted.
pub fn flow_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "flow") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn read_all(paths: &[PathBuf], errors: &mut LoadErrors) -> Vec<Arc<SourceFile>> {
    let mut files = Vec::new();
    for path in paths {
        match read_source(path) {
            Ok(source) => files.push(Arc::new(source)),
            Err(ReadError::Fatal(d)) => errors.fatal.push(*d),
            Err(ReadError::InFile(d)) => errors.in_files.push(*d),
        }
    }
    files
}

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The path itself is the problem.
    Fatal(Box<Diagnostic>),
    /// The file's content is the problem.
    InFile(Box<Diagnostic>),
}

/// Reads one file as a source, naming it by the path as given.
pub fn read_source(path: &Path) -> Result<SourceFile, ReadError> {
    let bytes =
        std::fs::read(path).map_err(|e| ReadError::Fatal(Box::new(read_error(path, &e))))?;
    let name = display_name(path);
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(name, text)),
        Err(e) => {
            // Keep what can be shown, so that the error points at the byte.
            let valid = e.utf8_error().valid_up_to();
            let bad = e.as_bytes().get(valid).copied().unwrap_or_default();
            let source = Arc::new(SourceFile::new(name.clone(), shown_as_ascii(e.as_bytes())));
            Err(ReadError::InFile(Box::new(
                Diagnostic::error(io_codes::NOT_UTF8, format!("`{name}` is not UTF-8 text"))
                    .with_primary(
                        Span::new(valid, valid + 1),
                        format!("byte `0x{bad:02X}` is not UTF-8"),
                    )
                    .with_help("save the file as UTF-8")
                    .in_file(&source),
            )))
        }
    }
}

/// The text of a file that is not UTF-8, each byte that is not shown as
/// `?`: one byte for one, so that every offset (the label's, the ones in
/// `--format json`) is the file's own.
fn shown_as_ascii(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        text.extend(std::iter::repeat_n('?', chunk.invalid().len()));
    }
    text
}

fn display_name(path: &Path) -> String {
    let s = path.display().to_string();
    s.strip_prefix("./").map(str::to_owned).unwrap_or(s)
}

fn read_error(path: &Path, e: &std::io::Error) -> Diagnostic {
    if e.kind() == std::io::ErrorKind::NotFound {
        Diagnostic::error(
            io_codes::NOT_FOUND,
            format!("`{}` does not exist", path.display()),
        )
        .with_help("name a `.flow` file or a folder of them")
    } else {
        Diagnostic::error(
            io_codes::READ,
            format!("cannot read `{}`: {e}", path.display()),
        )
        .with_help("check that the path is readable by this user")
    }
}
