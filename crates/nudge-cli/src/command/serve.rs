//! `nudge serve`: check and compile a project, then run it: events in over
//! Segment's HTTP API, journeys on the wall clock, messages to the local
//! outbox (see the `nudge-server` crate and docs/operations.md).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use nudge_server::{Config, DEFAULT_PORT};

use crate::exit::Exit;
use crate::pipeline;

/// `nudge serve`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The project: a folder (every `.flow` file directly inside) or files.
    #[arg(required = true)]
    pub project: Vec<PathBuf>,
    /// The data folder: the store, the keys and the outbox.
    #[arg(long, value_name = "DIR", default_value = ".nudge", env = "NUDGE_DATA")]
    pub data: PathBuf,
    /// Where to listen (port 0 picks a free port; the address is printed).
    #[arg(long, value_name = "ADDR", default_value_t = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)), env = "NUDGE_LISTEN")]
    pub listen: SocketAddr,
    /// Partitions of a new data folder (one thread each); a data folder
    /// keeps the count it was made with.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub partitions: usize,
    /// Refuse `track` calls of events the schema does not declare (by
    /// default they are accepted as activity and trigger nothing).
    #[arg(long)]
    pub reject_undeclared_events: bool,
    /// Do not print a line per message on stdout.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `nudge serve`.
pub fn run(args: &Args) -> Exit {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NUDGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let module = match pipeline::module_of(&args.project, "serve") {
        Ok(module) => module,
        Err(exit) => return exit,
    };
    let mut config = Config::new(args.data.clone());
    config.listen = args.listen;
    config.partitions = args.partitions;
    config.limits.reject_undeclared = args.reject_undeclared_events;
    config.echo = !args.quiet;
    let workflows = module.workflows.len();
    let project = args
        .project
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let data = args.data.display().to_string();
    let paths = args.project.clone();
    let reload: nudge_server::Reload = std::sync::Arc::new(move || {
        pipeline::module_of(&paths, "serve")
            .map_err(|_| "the project does not compile (see the diagnostics above)".to_owned())
    });
    let served = nudge_server::serve(config, module, Some(reload), |addr, keys, new_keys| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "nudge serve: {workflows} workflows from `{project}`, data in `{data}`"
        );
        if new_keys {
            let _ = writeln!(
                out,
                "new keys, kept in `{}` (readable by you only) and shown this once:\n  \
                 write key:   {}\n  admin token: {}\n\
                 send an event:\n  curl -u {}: -H 'Content-Type: application/json' \
                 http://{addr}/v1/identify -d '{{\"userId\":\"user-1\",\"traits\":{{}}}}'",
                nudge_server::keys::path(&args.data).display(),
                keys.write_key,
                keys.admin_token,
                keys.write_key,
            );
        }
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    });
    match served {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failure
        }
    }
}
