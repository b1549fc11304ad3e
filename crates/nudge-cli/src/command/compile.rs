//! `nudge compile`: checked flows to a bytecode module file.

use std::path::PathBuf;

use crate::exit::Exit;
use crate::pipeline;

/// `nudge compile`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The project: a folder (every `.flow` file directly inside) or files.
    #[arg(required = true)]
    pub project: Vec<PathBuf>,
    /// Where to write the module.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// Runs `nudge compile`.
pub fn run(args: &Args) -> Exit {
    let module = match pipeline::module_of(&args.project, "compile") {
        Ok(module) => module,
        Err(exit) => return exit,
    };
    let bytes = match module.to_bytes() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot encode the module: {e}");
            return Exit::Failure;
        }
    };
    if let Err(e) = std::fs::write(&args.output, &bytes) {
        eprintln!("error: cannot write `{}`: {e}", args.output.display());
        return Exit::Failure;
    }
    Exit::Ok
}
