//! `nudge deploy`: compile a project and deploy the module to a running
//! `nudge serve` (its `/api/deploy`), then say what each workflow's change
//! did to the journeys running in it.

use std::path::PathBuf;
use std::time::Duration;

use crate::exit::Exit;
use crate::pipeline;

/// `nudge deploy`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The project: a folder (every `.flow` file directly inside) or files.
    #[arg(required = true)]
    pub project: Vec<PathBuf>,
    /// The server's address.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:8788",
        env = "NUDGE_SERVER"
    )]
    pub server: String,
    /// The server's admin token (default: the one in the data folder's
    /// `keys.json`, see --data).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "NUDGE_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// The server's data folder, to read the admin token from.
    #[arg(long, value_name = "DIR", default_value = ".nudge", env = "NUDGE_DATA")]
    pub data: PathBuf,
    /// Print the server's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `nudge deploy`.
pub fn run(args: &Args) -> Exit {
    let module = match pipeline::module_of(&args.project, "deploy") {
        Ok(module) => module,
        Err(exit) => return exit,
    };
    let token = match &args.token {
        Some(t) => t.clone(),
        None => match read_token(&args.data) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Failure;
            }
        },
    };
    let bytes = match module.to_bytes() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot encode the module: {e}");
            return Exit::Failure;
        }
    };
    let url = format!("{}/api/deploy", args.server.trim_end_matches('/'));
    let client = match reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot make an HTTP client: {e}");
            return Exit::Failure;
        }
    };
    let answer = client
        .post(&url)
        .bearer_auth(&token)
        .header("Content-Type", "application/octet-stream")
        .body(bytes)
        .send()
        .and_then(|r| Ok((r.status(), r.text()?)));
    let (status, text) = match answer {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot reach the server at {}: {e}", args.server);
            return Exit::Failure;
        }
    };
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        let message = json["message"].as_str().unwrap_or(text.trim());
        eprintln!("error: the server refused the deploy ({status}): {message}");
        return Exit::Failure;
    }
    if args.json {
        println!("{json}");
    } else {
        println!("{}", nudge_server::http::deploy_summary(&json));
    }
    Exit::Ok
}

/// The admin token in a data folder's `keys.json`.
pub(crate) fn read_token(data: &std::path::Path) -> Result<String, String> {
    let path = nudge_server::keys::path(data);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "no admin token: pass --token (or NUDGE_ADMIN_TOKEN), or --data with the server's data \
             folder (`{}`: {e})",
            path.display()
        )
    })?;
    let keys: nudge_server::keys::Keys = serde_json::from_str(&text)
        .map_err(|e| format!("`{}` cannot be read: {e}", path.display()))?;
    Ok(keys.admin_token)
}
