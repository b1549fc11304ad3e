//! `nudge disasm`: a module file written by `nudge compile` back to a
//! readable listing.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use nudge_bytecode::{disassemble, verify, ListingSource, Module};

use crate::exit::Exit;

/// `nudge disasm`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A module written by `nudge compile`.
    pub file: PathBuf,
}

/// Reads and verifies a module file; the error is one line for people.
fn load_module(path: &Path) -> Result<Module, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let module =
        Module::from_bytes(&bytes).map_err(|e| format!("cannot load `{}`: {e}", path.display()))?;
    verify(&module).map_err(|e| {
        format!(
            "cannot load `{}`: the module does not verify: {e}",
            path.display()
        )
    })?;
    Ok(module)
}

/// Runs `nudge disasm`.
pub fn run(args: &Args) -> Exit {
    let module = match load_module(&args.file) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failure;
        }
    };
    // Sources as recorded (relative to where `nudge compile` ran), else
    // next to the module file; a file that cannot be read is listed
    // without locations.
    let beside = args
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let texts: Vec<(String, String)> = module
        .files
        .iter()
        .filter_map(|name| {
            let recorded = Path::new(name);
            let text = std::fs::read_to_string(recorded)
                .or_else(|_| {
                    let file_name = recorded.file_name().unwrap_or(recorded.as_os_str());
                    std::fs::read_to_string(beside.join(file_name))
                })
                .ok()?;
            Some((name.clone(), text))
        })
        .collect();
    let sources: Vec<ListingSource<'_>> = texts
        .iter()
        .map(|(name, text)| ListingSource { name, text })
        .collect();
    let listing = disassemble(&module, &sources);
    let mut out = std::io::stdout().lock();
    match out.write_all(listing.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Exit::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(e) => {
            eprintln!("error: cannot write the listing: {e}");
            Exit::Failure
        }
    }
}
