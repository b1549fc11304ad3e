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

/// Files read from disk, kept while their size and modification time stay
/// the same: an edit in a large project does not read every other file
/// again (and the parse of an unchanged file is found by identity).
#[derive(Debug, Default)]
pub struct DiskCache {
    files: HashMap<PathBuf, (std::time::SystemTime, u64, Arc<SourceFile>)>,
}

impl DiskCache {
    /// The file at `path`, named `name`: the copy kept if the file has not
    /// changed, else read again.
    fn read(&mut self, path: &Path, name: String) -> Option<Arc<SourceFile>> {
        let meta = std::fs::metadata(path).ok()?;
        let stamp = (meta.modified().ok()?, meta.len());
        if let Some((modified, len, source)) = self.files.get(path) {
            if (*modified, *len) == stamp && source.name() == name {
                return Some(source.clone());
            }
        }
        let text = std::fs::read_to_string(path).ok()?;
        let source = Arc::new(SourceFile::new(name, text));
        self.files
            .insert(path.to_path_buf(), (stamp.0, stamp.1, source.clone()));
        Some(source)
    }

    /// Forgets the file at `path` (deleted, or changed on disk).
    pub fn forget(&mut self, path: &Path) {
        self.files.remove(path);
    }
}

/// The files of the project that `uri` belongs to: every `*.flow` file in
/// its folder, open buffers overriding the disk. A document that is not a
/// local file (`untitled:`) is a project of its own. Files on disk are
/// read through `disk`.
pub fn project_files(uri: &Uri, buffers: &Buffers, disk: &mut DiskCache) -> Vec<ProjectFile> {
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
        let (file_uri, source) = match open.get(&p) {
            Some((u, text)) => (u.clone(), Arc::new(SourceFile::new(name, (*text).clone()))),
            None => {
                let Some(source) = disk.read(&p, name) else {
                    continue;
                };
                let Some(u) = uri::from_path(&p) else {
                    continue;
                };
                (u, source)
            }
        };
        files.push(ProjectFile {
            uri: file_uri,
            source,
        });
    }
    files
}

/// Each file's parse, by file name, and what each project's last check
/// found, kept between checks: an edit parses again only the file it
/// changed, and checks again only the declarations that depend on it
/// ([`nudge_check::CheckCache`]).
#[derive(Debug, Default)]
pub struct ParseCache {
    parses: HashMap<String, Arc<Parsed>>,
    checks: HashMap<String, nudge_check::CheckCache>,
}

impl ParseCache {
    /// The parse of `source`: the one kept if its text is the same, else a
    /// new one (kept in its place).
    pub fn parse(&mut self, source: &Arc<SourceFile>) -> Arc<Parsed> {
        if let Some(p) = self.parses.get(source.name()) {
            if Arc::ptr_eq(&p.source, source) || p.source.text() == source.text() {
                return p.clone();
            }
        }
        let parsed = Arc::new(nudge_syntax::parse(source.clone()));
        self.parses.insert(source.name().to_owned(), parsed.clone());
        parsed
    }

    /// Forgets the parse of the file named `name` (deleted, or closed and
    /// not on disk).
    pub fn forget(&mut self, name: &str) {
        self.parses.remove(name);
    }
}

/// The project `uri` belongs to: its folder (a document that is not a local
/// file is a project of its own).
pub fn project_key(uri: &Uri) -> String {
    uri::to_path(uri)
        .and_then(|p| p.parent().map(|f| f.display().to_string()))
        .unwrap_or_else(|| uri.to_string())
}

/// Parses (with `cache`), checks and indexes a project; diagnostics without
/// a file are filed under `asked`.
pub fn analyze(files: Vec<ProjectFile>, asked: &Uri, cache: &mut ParseCache) -> Analysis {
    let sources: Vec<Arc<SourceFile>> = files.iter().map(|f| f.source.clone()).collect();
    let Checked {
        parsed,
        diagnostics: all,
        references,
        checker_failed,
    } = check(&sources, cache, &project_key(asked));
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

/// Parses (files whose text `cache` has are not parsed again) and
/// type-checks a project (`project` names it, for what `cache` keeps of
/// its last check): the same diagnostics as `nudge check` (template files
/// named by `file("…")` are read from disk).
///
/// A bug in the checker must not take the editor's server down with it: a
/// panic falls back to the parse diagnostics (and no references: hover and
/// go to definition then find nothing), and `checker_failed` is set so
/// the server can tell the user (the panic message itself goes to stderr,
/// the client's log).
pub fn check(files: &[Arc<SourceFile>], cache: &mut ParseCache, project: &str) -> Checked {
    let parsed: Vec<Arc<Parsed>> = files.iter().map(|f| cache.parse(f)).collect();
    let checks = cache.checks.entry(project.to_owned()).or_default();
    let checked = std::panic::catch_unwind(AssertUnwindSafe(|| {
        checks.check(&parsed, &nudge_check::FsLoader)
    }));
    match checked {
        Ok(checked) => Checked {
            parsed,
            diagnostics: checked.diagnostics,
            references: checked.references,
            checker_failed: false,
        },
        Err(_) => {
            checks.clear();
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
    pub parsed: Vec<Arc<Parsed>>,
    /// Every problem.
    pub diagnostics: Vec<Diagnostic>,
    /// What the names written in each file refer to, as the checker
    /// resolved them (parallel to `parsed`); none when it failed.
    pub references: Vec<Arc<Vec<Reference>>>,
    /// The type checker failed; only syntax errors are in `diagnostics`.
    pub checker_failed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Versions of each file of a small project: valid ones, and ones with
    /// parse and type errors that reach across files.
    const VERSIONS: [&[&str]; 3] = [
        &[
            "enum Plan { free, pro }\nprofile {\n  email: email?\n  plan: Plan = free\n}\nevent signed_up { source: string }\n",
            "enum Plan { free, pro, team }\nprofile {\n  email: email?\n}\nevent signed_up {}\n",
            "profile {\n  emial: email?\n  plan: Plan\n}\nevent signed_up { source: string }\n",
            "profile { email: email?\nevent signed_up {}\n",
        ],
        &[
            "segment paid = profile.plan == pro\n",
            "segment paid = profile.plan == gold\n",
            "segment paid = \n",
            "segment paid = in paid\n",
            "",
        ],
        &[
            "workflow welcome {\n  on signed_up\n  audience profile.email != none and in paid\n  send email { subject: \"Hi\", text: \"From {event.source}\" }\n}\n",
            "workflow welcome {\n  on signed_up\n  send email { subject: \"Hi\", text: \"Hi\" }\n}\n",
            "workflow welcome {\n  on signed_up\n  send emial { subject: \"Hi\" }\n}\n",
            "workflow welcome {\n  on sign_up\n  audience profile.email != none\n  wait 1d\n  send email { subject: \"{profile.plan}\", text: \"x\" }\n}\n",
        ],
    ];

    fn next(state: &mut u64) -> u64 {
        // splitmix64
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn sources(texts: &[String]) -> Vec<Arc<SourceFile>> {
        ["a_schema.flow", "b_segments.flow", "c_flows.flow"]
            .iter()
            .zip(texts)
            .map(|(name, text)| Arc::new(SourceFile::new(*name, text.clone())))
            .collect()
    }

    /// The incremental check (parses kept between edits) equals a full
    /// check of the same texts, at every step of random edit sequences:
    /// whole versions swapped in, and single characters removed or added
    /// anywhere (which makes arbitrary parse errors).
    #[test]
    fn the_incremental_check_equals_the_full_check_after_every_edit() {
        let mut steps = 0;
        for seed in 0..150u64 {
            let mut state = seed;
            let mut texts: Vec<String> = VERSIONS.iter().map(|v| v[0].to_owned()).collect();
            let mut cache = ParseCache::default();
            for _ in 0..12 {
                let file = (next(&mut state) % 3) as usize;
                let text = &mut texts[file];
                match next(&mut state) % 4 {
                    0 | 1 => {
                        let versions = VERSIONS[file];
                        *text = versions[(next(&mut state) as usize) % versions.len()].to_owned();
                    }
                    2 if !text.is_empty() => {
                        let mut at = (next(&mut state) as usize) % text.len();
                        while !text.is_char_boundary(at) {
                            at -= 1;
                        }
                        text.remove(at);
                    }
                    _ => {
                        let mut at = (next(&mut state) as usize) % (text.len() + 1);
                        while !text.is_char_boundary(at) {
                            at -= 1;
                        }
                        let c = b"{}\"x.:= \n"[(next(&mut state) % 9) as usize] as char;
                        text.insert(at, c);
                    }
                }
                let files = sources(&texts);
                let incremental = check(&files, &mut cache, "p");
                let full = nudge_check::check_project(&files, &nudge_check::FsLoader);
                assert!(!incremental.checker_failed);
                assert_eq!(
                    format!("{:?}", incremental.diagnostics),
                    format!("{:?}", full.diagnostics),
                    "seed {seed}: diagnostics differ for {texts:#?}"
                );
                assert_eq!(
                    format!("{:?}", incremental.references),
                    format!("{:?}", full.references),
                    "seed {seed}: references differ for {texts:#?}"
                );
                let trees =
                    |p: &[&Parsed]| format!("{:?}", p.iter().map(|p| &p.file).collect::<Vec<_>>());
                let kept: Vec<&Parsed> = incremental.parsed.iter().map(|p| &**p).collect();
                let fresh: Vec<&Parsed> = full.parsed.iter().collect();
                assert_eq!(trees(&kept), trees(&fresh), "seed {seed}");
                steps += 1;
            }
        }
        println!("{steps} edits checked both ways");
    }

    /// An edit parses again only the file it changed.
    #[test]
    fn only_the_changed_file_is_parsed_again() {
        let texts: Vec<String> = VERSIONS.iter().map(|v| v[0].to_owned()).collect();
        let mut cache = ParseCache::default();
        let first = check(&sources(&texts), &mut cache, "p");
        let mut edited = texts.clone();
        edited[1] = VERSIONS[1][1].to_owned();
        let second = check(&sources(&edited), &mut cache, "p");
        assert!(Arc::ptr_eq(&first.parsed[0], &second.parsed[0]));
        assert!(!Arc::ptr_eq(&first.parsed[1], &second.parsed[1]));
        assert!(Arc::ptr_eq(&first.parsed[2], &second.parsed[2]));
    }
}

#[cfg(test)]
mod disk_tests {
    use super::*;

    #[test]
    fn an_unchanged_file_is_not_read_again_and_a_changed_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.flow");
        std::fs::write(&path, "event a {}\n").unwrap();
        let mut disk = DiskCache::default();
        let first = disk.read(&path, "a".into()).unwrap();
        let again = disk.read(&path, "a".into()).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        std::fs::write(&path, "event a {}\nevent b {}\n").unwrap();
        let changed = disk.read(&path, "a".into()).unwrap();
        assert_eq!(changed.text(), "event a {}\nevent b {}\n");
        // Told of a change, it reads the file again even if size and time
        // look the same.
        disk.forget(&path);
        assert!(!Arc::ptr_eq(
            &changed,
            &disk.read(&path, "a".into()).unwrap()
        ));
    }
}
