//! One project as the editor sees it: the `.flow` files of a folder, with
//! unsaved buffers in place of what is on disk, parsed, checked and indexed.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::Arc;

use lsp_types::Uri;
use nudge_check::Reference;
use nudge_syntax::{project, Diagnostic, Parsed, SourceFile};

use crate::index::Index;
use crate::uri;

/// One file of a project.
#[derive(Debug)]
pub struct ProjectFile {
    /// How the editor names it.
    pub uri: Uri,
    /// The text checked (the buffer if open, else the file on disk).
    pub source: Arc<SourceFile>,
}

/// A parsed, checked and indexed project.
#[derive(Debug)]
pub struct Analysis {
    /// The files, in a stable order.
    pub files: Vec<ProjectFile>,
    /// Diagnostics by file index (a diagnostic without a file goes to the
    /// file that was asked about).
    pub diagnostics: Vec<Vec<Diagnostic>>,
    /// Names and declarations.
    pub index: Index,
    /// The type checker failed; only syntax errors were found.
    pub checker_failed: bool,
}

impl Analysis {
    /// The index of the file named `uri`.
    pub fn file_index(&self, uri: &Uri) -> Option<usize> {
        self.files.iter().position(|f| f.uri == *uri)
    }
}

/// Open documents: URI (as text) to the document's text.
pub type Buffers = HashMap<String, String>;

/// The files of the project that `uri` belongs to: every `*.flow` file in
/// its folder, open buffers overriding the disk. A document that is not a
/// local file (`untitled:`) is a project of its own.
pub fn project_files(uri: &Uri, buffers: &Buffers) -> Vec<ProjectFile> {
    let Some(path) = uri::to_path(uri) else {
        let text = buffers.get(uri.as_str()).cloned().unwrap_or_default();
        return vec![ProjectFile {
            uri: uri.clone(),
            source: Arc::new(SourceFile::new(uri.as_str(), text)),
        }];
    };
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
    // Open buffers by path, so a URI spelled differently by the client still
    // replaces the file on disk.
    let open: HashMap<PathBuf, (Uri, &String)> = buffers
        .iter()
        .filter_map(|(u, text)| {
            let u = Uri::from_str(u).ok()?;
            uri::to_path(&u).map(|p| (p, (u, text)))
        })
        .collect();
    let mut paths = project::flow_files_in(&folder).unwrap_or_default();
    for p in open.keys() {
        if p.parent() == Some(folder.as_path()) && !paths.contains(p) {
            paths.push(p.clone());
        }
    }
    if !paths.contains(&path) {
        paths.push(path.clone());
    }
    paths.sort();
    let mut files = Vec::new();
    for p in paths {
        let name = p.display().to_string();
        let (file_uri, text) = match open.get(&p) {
            Some((u, text)) => (u.clone(), (*text).clone()),
            None => {
                let Ok(text) = std::fs::read_to_string(&p) else {
                    continue;
                };
                let Some(u) = uri::from_path(&p) else {
                    continue;
                };
                (u, text)
            }
        };
        files.push(ProjectFile {
            uri: file_uri,
            source: Arc::new(SourceFile::new(name, text)),
        });
    }
    files
}

/// Parses, checks and indexes a project; diagnostics without a file are
/// filed under `asked`.
pub fn analyze(files: Vec<ProjectFile>, asked: &Uri) -> Analysis {
    let sources: Vec<Arc<SourceFile>> = files.iter().map(|f| f.source.clone()).collect();
    let Checked {
        parsed,
        diagnostics: all,
        references,
        checker_failed,
    } = check(&sources);
    let mut diagnostics: Vec<Vec<Diagnostic>> = vec![Vec::new(); files.len()];
    let fallback = files.iter().position(|f| f.uri == *asked).unwrap_or(0);
    for d in all {
        let at = d
            .source
            .as_ref()
            .and_then(|s| files.iter().position(|f| f.source.name() == s.name()))
            .unwrap_or(fallback);
        if let Some(list) = diagnostics.get_mut(at) {
            list.push(d);
        }
    }
    let trees: Vec<&nudge_syntax::ast::File> = parsed.iter().map(|p| &p.file).collect();
    let index = Index::build(&trees, references);
    Analysis {
        files,
        diagnostics,
        index,
        checker_failed,
    }
}

/// Parses and type-checks a project: the same diagnostics as `nudge check`
/// (template files named by `file("…")` are read from disk).
///
/// A bug in the checker must not take the editor's server down with it: a
/// panic falls back to the parse diagnostics (and no references: hover and
/// go to definition then find nothing), and `checker_failed` is set so
/// the server can tell the user (the panic message itself goes to stderr,
/// the client's log).
pub fn check(files: &[Arc<SourceFile>]) -> Checked {
    let checked = std::panic::catch_unwind(AssertUnwindSafe(|| {
        nudge_check::check_project(files, &nudge_check::FsLoader)
    }));
    match checked {
        Ok(checked) => Checked {
            parsed: checked.parsed,
            diagnostics: checked.diagnostics,
            references: checked.references,
            checker_failed: false,
        },
        Err(_) => {
            let parsed: Vec<Parsed> = files
                .iter()
                .map(|f| nudge_syntax::parse(f.clone()))
                .collect();
            let diagnostics = parsed
                .iter()
                .flat_map(|p| p.diagnostics.iter().cloned())
                .collect();
            Checked {
                parsed,
                diagnostics,
                references: Vec::new(),
                checker_failed: true,
            }
        }
    }
}

/// What [`check`] found.
#[derive(Debug)]
pub struct Checked {
    /// Every file, parsed, in the order given.
    pub parsed: Vec<Parsed>,
    /// Every problem.
    pub diagnostics: Vec<Diagnostic>,
    /// What the names written in each file refer to, as the checker
    /// resolved them (parallel to `parsed`); none when it failed.
    pub references: Vec<Vec<Reference>>,
    /// The type checker failed; only syntax errors are in `diagnostics`.
    pub checker_failed: bool,
}
