//! Input makers for the property tests in `tests/`: a seeded random
//! source, a mutator of text, the corpus of `.flow` files, and a watchdog
//! that fails a case that hangs.
//!
//! Every test runs a few hundred cases by default; `NUDGE_FUZZ_CASES`
//! sets the number (`NUDGE_FUZZ_SEED` the first seed). Inputs that ever
//! failed are kept in `tests/fuzz/` at the workspace root and run first.

#![allow(
    clippy::panic,
    reason = "test support: a failed case must stop the test that runs it"
)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// A splitmix64 sequence.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// The sequence of `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % (n.max(1) as u64)) as usize
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// The number of cases and the first seed, from the environment.
pub fn cases(default: u64) -> (u64, u64) {
    let number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    (
        number("NUDGE_FUZZ_CASES", default),
        number("NUDGE_FUZZ_SEED", 0),
    )
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.flow` file under `dir`, sorted, with its text.
pub fn flow_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "flow") {
                if let Ok(text) = std::fs::read_to_string(&p) {
                    out.push((p, text));
                }
            }
        }
    }
    out.sort();
    out
}

/// The corpus: the examples and every case of `tests/cases`.
pub fn corpus() -> Vec<String> {
    let root = root();
    let mut texts: Vec<String> = flow_files(&root.join("examples"))
        .into_iter()
        .chain(flow_files(&root.join("tests/cases")))
        .map(|(_, t)| t)
        .collect();
    texts.retain(|t| !t.is_empty());
    texts
}

/// The inputs that once failed, kept as files in `tests/fuzz/<kind>/`.
pub fn regressions(kind: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = root().join("tests/fuzz").join(kind);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| Some((e.path(), std::fs::read(e.path()).ok()?)))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Pieces worth inserting: the language's punctuation and keywords,
/// literals, comments, and characters that take several bytes or are
/// whitespace only to some readers.
const PIECES: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    ":",
    "\"",
    "=",
    "==",
    "!=",
    "<",
    ">=",
    "?",
    "??",
    "%",
    "//",
    "///",
    "\n",
    " ",
    "\t",
    "\r\n",
    "\u{feff}",
    "ß",
    "é",
    "😀",
    "\u{2028}",
    "\u{a0}",
    "0",
    "-1",
    "3.5",
    "5d",
    "1h30m",
    "09:00",
    "24:00",
    "50%",
    "2026-03-01T10:00:00Z",
    "none",
    "true",
    "not ",
    "and ",
    "or ",
    "in ",
    "is ",
    "did ",
    "inactive for ",
    "within ",
    "since entry",
    "event ",
    "profile ",
    "enum ",
    "segment ",
    "template ",
    "workflow ",
    "policy ",
    "test ",
    "on ",
    "send ",
    "wait ",
    "until ",
    "for ",
    "if ",
    "else ",
    "split ",
    "escalate ",
    "after ",
    "exit",
    "email ",
    "push ",
    "sms ",
    "in_app ",
    "webhook ",
    "audience ",
    "entry once ",
    "goal g = ",
    "cap 2 per 1d",
    "quiet hours 22:00 to 07:00",
    "file(\"x.html\")",
    "expect ",
    "at +1h ",
    "{profile.id}",
    "event.",
    "profile.",
    "x",
    "_",
    "ident_of_some_length",
];

/// `text` changed by one to four random edits: a range deleted,
/// duplicated or moved, a piece inserted, a character replaced.
pub fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut s = text.to_owned();
    for _ in 0..1 + rng.below(4) {
        let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
        // A short range most of the time, sometimes a long one.
        let i = rng.below(bounds.len());
        let k = if rng.below(4) > 0 {
            rng.below(12)
        } else {
            rng.below(bounds.len())
        };
        let (a, b) = (bounds[i], bounds[(i + k).min(bounds.len() - 1)]);
        match rng.below(6) {
            0 => s.replace_range(a..b, ""),
            1 => {
                let piece = s[a..b].to_owned();
                s.insert_str(b, &piece);
            }
            2 => {
                let piece = s[a..b].to_owned();
                s.replace_range(a..b, "");
                let bounds: Vec<usize> =
                    s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
                let to = bounds[rng.below(bounds.len())];
                s.insert_str(to, &piece);
            }
            3 => {
                let end = s[a..].chars().next().map_or(a, |c| a + c.len_utf8());
                s.replace_range(a..end, rng.pick(PIECES));
            }
            _ => s.insert_str(a, rng.pick(PIECES)),
        }
    }
    s
}

/// Layout that changes no meaning between tokens.
const LAYOUT: &[&str] = &[
    " ",
    "\n",
    "\n\n",
    "\t",
    "\r\n",
    "\u{feff}",
    "// a comment\n",
    "/// a doc comment\n",
    "//// not a doc\n",
    "//\n",
];

/// `text` with one to four pieces of layout (whitespace, comments, a byte
/// order mark) inserted where a space already is: the meaning may only
/// change by what a comment swallows or documents.
pub fn mutate_layout(rng: &mut Rng, text: &str) -> String {
    let mut s = text.to_owned();
    for _ in 0..1 + rng.below(4) {
        let spaces: Vec<usize> = s
            .char_indices()
            .filter(|(_, c)| *c == ' ' || *c == '\n')
            .map(|(i, _)| i)
            .collect();
        if spaces.is_empty() {
            break;
        }
        let at = spaces[rng.below(spaces.len())];
        s.insert_str(at, rng.pick(LAYOUT));
    }
    s
}

/// Runs `f` on its own thread (with a large stack, as `nudge` has) and
/// panics, naming `what`, if it has not finished in `limit`; a panic of
/// `f` is passed on.
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap_or_else(|e| panic!("cannot start a thread: {e}"));
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => panic!("{what}: the case ended without a result"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: did not finish in {limit:?}"),
    }
}

/// How long one case may take before it counts as a hang (5 s, as for an
/// input under 100 KB in a release build; twice that in a debug build).
pub fn hang_limit() -> Duration {
    if cfg!(debug_assertions) {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(5)
    }
}
