//! `nudge serve`: check and compile a project, then run it: events in over
//! Segment's HTTP API, journeys on the wall clock, messages to the local
//! outbox (see the `nudge-server` crate and docs/operations.md).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use nudge_server::{Config, DEFAULT_PORT};

use crate::exit::Exit;
use crate::pipeline;

/// `nudge serve`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The project: a folder (every `.flow` file directly inside) or files.
    #[arg(required = true)]
    pub project: Vec<PathBuf>,
    /// A settings file (TOML); flags and their environment variables win
    /// over it.
    #[arg(long, value_name = "FILE", env = "NUDGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The data folder: the store, the keys and the outbox [default: .nudge]
    #[arg(long, value_name = "DIR", env = "NUDGE_DATA")]
    pub data: Option<PathBuf>,
    /// Where to listen; port 0 picks a free port (the address is printed)
    /// [default: 127.0.0.1:8788]
    #[arg(long, value_name = "ADDR", env = "NUDGE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Partitions of a new data folder (one thread each); a data folder
    /// keeps the count it was made with [default: 2]
    #[arg(long, value_name = "N")]
    pub partitions: Option<usize>,
    /// Refuse `track` calls of events the schema does not declare (by
    /// default they are accepted as activity and trigger nothing).
    #[arg(long)]
    pub reject_undeclared_events: bool,
    /// Do not print a line per message on stdout.
    #[arg(long)]
    pub quiet: bool,
}

/// The settings file: every key optional, unknown keys refused.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    data: Option<PathBuf>,
    listen: Option<SocketAddr>,
    partitions: Option<usize>,
    /// Requests queued per partition before 503.
    queue: Option<usize>,
    reject_undeclared_events: Option<bool>,
    quiet: Option<bool>,
    /// The profile cache's memory budget per partition, in MiB.
    cache_mb: Option<usize>,
    #[serde(default)]
    limits: LimitSettings,
    #[serde(default)]
    delivery: DeliverySettings,
    /// The address the server is reached at from outside (unsubscribe
    /// links).
    public_url: Option<String>,
}

/// `[delivery]`: the providers, and how failures are retried.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliverySettings {
    email: Option<EmailSettings>,
    webhook: Option<WebhookSettings>,
    sms: Option<SmsSettings>,
    push: Option<PushSettings>,
    #[serde(default)]
    retry: RetrySettings,
    /// A PEM file of certificate authorities trusted besides the system's.
    ca_file: Option<PathBuf>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailSettings {
    host: String,
    port: Option<u16>,
    /// `none`, `starttls` or `tls`.
    tls: Option<String>,
    from: String,
    user: Option<String>,
    /// The environment variable holding the password.
    password_env: Option<String>,
    timeout_ms: Option<u64>,
    /// The domain of `Message-ID`s (default: the sender's).
    message_id_domain: Option<String>,
    rate_per_second: Option<f64>,
    /// Track opens and clicks of HTML email (default true).
    track: Option<bool>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookSettings {
    /// The environment variable holding the signing secret.
    secret_env: String,
    timeout_ms: Option<u64>,
    rate_per_second: Option<f64>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SmsSettings {
    base_url: Option<String>,
    account: String,
    /// The environment variable holding the account's token.
    token_env: String,
    from: String,
    timeout_ms: Option<u64>,
    rate_per_second: Option<f64>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PushSettings {
    /// `http` (the default) or `fcm`.
    provider: Option<String>,
    /// http: where to POST.
    url: Option<String>,
    /// fcm: the service account's JSON file.
    service_account_file: Option<PathBuf>,
    /// fcm: the environment variable holding the service account's JSON.
    service_account_env: Option<String>,
    /// fcm: the API's address (default `https://fcm.googleapis.com`).
    base_url: Option<String>,
    /// Header name → the environment variable holding its value.
    #[serde(default)]
    headers_env: std::collections::BTreeMap<String, String>,
    timeout_ms: Option<u64>,
    rate_per_second: Option<f64>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RetrySettings {
    attempts: Option<u32>,
    first_wait_ms: Option<u64>,
    max_wait_ms: Option<u64>,
}

/// A secret from the environment variable a setting names.
fn secret(key: &str, var: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!(
            "`{key}` names the environment variable `{var}`, which is not set"
        )),
    }
}

/// Whether `host` names this machine.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The delivery settings, with their secrets read.
fn delivery_of(d: DeliverySettings) -> Result<nudge_server::delivery::DeliveryConfig, String> {
    use nudge_server::delivery::{DeliveryConfig, EmailConfig, Retry, Security, WebhookConfig};
    use std::time::Duration;
    let mut config = DeliveryConfig {
        ca_file: d.ca_file.clone(),
        ..DeliveryConfig::default()
    };
    let mut rate = |channel: &str, r: Option<f64>| {
        if let Some(r) = r {
            config.rates.insert(channel.to_owned(), r);
        }
    };
    if let Some(e) = &d.email {
        rate("email", e.rate_per_second);
    }
    if let Some(w) = &d.webhook {
        rate("webhook", w.rate_per_second);
    }
    if let Some(s) = &d.sms {
        rate("sms", s.rate_per_second);
    }
    if let Some(p) = &d.push {
        rate("push", p.rate_per_second);
    }
    if let Some(e) = d.email {
        let credentials = match (e.user, e.password_env) {
            (Some(user), Some(var)) => Some((user, secret("delivery.email.password_env", &var)?)),
            (None, None) => None,
            _ => {
                return Err(
                    "`delivery.email` needs both `user` and `password_env`, or neither".into(),
                )
            }
        };
        let domain = e.message_id_domain.unwrap_or_else(|| {
            e.from
                .rsplit('@')
                .next()
                .unwrap_or("localhost")
                .trim_end_matches('>')
                .to_owned()
        });
        let security = match e.tls.as_deref() {
            Some("none") => Security::None,
            Some("starttls") => Security::StartTls,
            Some("tls") => Security::Tls,
            Some(other) => {
                return Err(format!(
                    "`delivery.email.tls` is `{other}`; it takes `none`, `starttls` or `tls`"
                ))
            }
            None if e.port == Some(465) => Security::Tls,
            None if is_loopback(&e.host) => Security::None,
            None => Security::StartTls,
        };
        if security == Security::None && credentials.is_some() && !is_loopback(&e.host) {
            return Err(
                "`delivery.email` would send its password in plain text: set `tls = \"starttls\"` or `tls = \"tls\"`"
                    .into(),
            );
        }
        let port = e.port.unwrap_or(match security {
            Security::None => 25,
            Security::StartTls => 587,
            Security::Tls => 465,
        });
        config.email = Some(EmailConfig {
            host: e.host,
            port,
            security,
            from: e.from,
            credentials,
            timeout: Duration::from_millis(e.timeout_ms.unwrap_or(10_000)),
            domain,
            track: e.track.unwrap_or(true),
        });
    }
    if let Some(w) = d.webhook {
        config.webhook = Some(WebhookConfig {
            secret: secret("delivery.webhook.secret_env", &w.secret_env)?,
            timeout: Duration::from_millis(w.timeout_ms.unwrap_or(10_000)),
        });
    }
    if let Some(s) = d.sms {
        config.sms = Some(nudge_server::delivery::SmsConfig {
            base_url: s
                .base_url
                .unwrap_or_else(|| "https://api.twilio.com".to_owned()),
            account: s.account,
            token: secret("delivery.sms.token_env", &s.token_env)?,
            from: s.from,
            timeout: Duration::from_millis(s.timeout_ms.unwrap_or(10_000)),
        });
    }
    if let Some(p) = d.push {
        let timeout = Duration::from_millis(p.timeout_ms.unwrap_or(10_000));
        match p.provider.as_deref().unwrap_or("http") {
            "http" => {
                let only_fcm = [
                    ("service_account_file", p.service_account_file.is_some()),
                    ("service_account_env", p.service_account_env.is_some()),
                    ("base_url", p.base_url.is_some()),
                ];
                if let Some((key, _)) = only_fcm.iter().find(|(_, set)| *set) {
                    return Err(format!("`delivery.push.{key}` is for `provider = \"fcm\"`"));
                }
                let Some(url) = p.url else {
                    return Err("`delivery.push` needs `url` (or `provider = \"fcm\"`)".into());
                };
                let mut headers = Vec::new();
                for (name, var) in p.headers_env {
                    let value = secret(&format!("delivery.push.headers_env.{name}"), &var)?;
                    headers.push((name, value));
                }
                config.push = Some(nudge_server::delivery::PushConfig {
                    url,
                    headers,
                    timeout,
                });
            }
            "fcm" => {
                if p.url.is_some() || !p.headers_env.is_empty() {
                    return Err(
                        "`delivery.push.url` and `headers_env` are for `provider = \"http\"`; FCM takes `service_account_file`".into(),
                    );
                }
                let service_account = match (p.service_account_file, p.service_account_env) {
                    (Some(file), None) => std::fs::read_to_string(&file).map_err(|e| {
                        format!(
                            "`delivery.push.service_account_file`: cannot read `{}`: {e}",
                            file.display()
                        )
                    })?,
                    (None, Some(var)) => secret("delivery.push.service_account_env", &var)?,
                    _ => {
                        return Err(
                            "`delivery.push` with `provider = \"fcm\"` needs `service_account_file` or `service_account_env` (one of them)".into(),
                        )
                    }
                };
                config.fcm = Some(nudge_server::delivery::FcmConfig {
                    service_account,
                    base_url: p
                        .base_url
                        .unwrap_or_else(|| "https://fcm.googleapis.com".to_owned()),
                    timeout,
                });
            }
            other => {
                return Err(format!(
                    "`delivery.push.provider` is `{other}`; it takes `http` or `fcm`"
                ))
            }
        }
    }
    let defaults = Retry::default();
    config.retry = Retry {
        attempts: d.retry.attempts.unwrap_or(defaults.attempts).max(1),
        first_wait: d
            .retry
            .first_wait_ms
            .map_or(defaults.first_wait, Duration::from_millis),
        max_wait: d
            .retry
            .max_wait_ms
            .map_or(defaults.max_wait, Duration::from_millis),
    };
    Ok(config)
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitSettings {
    body_kb: Option<usize>,
    call_kb: Option<usize>,
    batch_calls: Option<usize>,
}

fn read_settings(path: &Path) -> Result<Settings, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("`{}`: {e}", path.display()))
}

/// The server's settings: flags, then the file, then the defaults.
fn config_of(args: &Args, file: Settings) -> Result<Config, String> {
    let mut config = Config::new(
        args.data
            .clone()
            .or(file.data)
            .unwrap_or_else(|| PathBuf::from(".nudge")),
    );
    config.listen = args
        .listen
        .or(file.listen)
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)));
    config.partitions = args.partitions.or(file.partitions);
    if let Some(q) = file.queue {
        config.queue = q;
    }
    if let Some(mb) = file.cache_mb {
        config.cache_bytes = mb << 20;
    }
    config.limits.reject_undeclared =
        args.reject_undeclared_events || file.reject_undeclared_events.unwrap_or(false);
    config.echo = !(args.quiet || file.quiet.unwrap_or(false));
    if let Some(kb) = file.limits.body_kb {
        config.limits.body_bytes = kb << 10;
    }
    if let Some(kb) = file.limits.call_kb {
        config.limits.call_bytes = kb << 10;
    }
    if let Some(n) = file.limits.batch_calls {
        config.limits.batch_calls = n;
    }
    config.delivery = delivery_of(file.delivery)?;
    config.public_url = file.public_url;
    Ok(config)
}

/// Runs `nudge serve`.
pub fn run(args: &Args) -> Exit {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NUDGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let settings = match &args.config {
        None => Settings::default(),
        Some(path) => match read_settings(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Failure;
            }
        },
    };
    let config = match config_of(args, settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failure;
        }
    };
    let module = match pipeline::module_of(&args.project, "serve") {
        Ok(module) => module,
        Err(exit) => return exit,
    };
    let workflows = module.workflows.len();
    let project = args
        .project
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let data = config.data.display().to_string();
    let keys_file = nudge_server::keys::path(&config.data);
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
                keys_file.display(),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use nudge_server::delivery::Security;

    fn email(toml_text: &str) -> Result<nudge_server::delivery::EmailConfig, String> {
        let d: DeliverySettings = toml::from_str(toml_text).unwrap();
        delivery_of(d).map(|c| c.email.unwrap())
    }

    #[test]
    fn email_security_follows_the_port_and_host_unless_set() {
        let e = email("[email]\nhost = \"smtp.example.com\"\nfrom = \"a@b.example\"").unwrap();
        assert_eq!((e.security, e.port), (Security::StartTls, 587));
        let e = email("[email]\nhost = \"smtp.example.com\"\nport = 465\nfrom = \"a@b.example\"")
            .unwrap();
        assert_eq!((e.security, e.port), (Security::Tls, 465));
        let e = email("[email]\nhost = \"127.0.0.1\"\nfrom = \"a@b.example\"").unwrap();
        assert_eq!((e.security, e.port), (Security::None, 25));
        let e =
            email("[email]\nhost = \"localhost\"\ntls = \"tls\"\nfrom = \"a@b.example\"").unwrap();
        assert_eq!((e.security, e.port), (Security::Tls, 465));
    }

    #[test]
    fn bad_email_security_settings_are_refused_by_name() {
        let err =
            email("[email]\nhost = \"h\"\ntls = \"ssl\"\nfrom = \"a@b.example\"").unwrap_err();
        assert!(err.contains("`delivery.email.tls` is `ssl`"), "{err}");
        std::env::set_var("NUDGE_SERVE_TEST_PASSWORD", "x");
        let err = email(
            "[email]\nhost = \"smtp.example.com\"\ntls = \"none\"\nfrom = \"a@b.example\"\nuser = \"u\"\npassword_env = \"NUDGE_SERVE_TEST_PASSWORD\"",
        )
        .unwrap_err();
        assert!(err.contains("password in plain text"), "{err}");
    }

    fn push(toml_text: &str) -> Result<nudge_server::delivery::DeliveryConfig, String> {
        delivery_of(toml::from_str(toml_text).unwrap())
    }

    #[test]
    fn push_settings_pick_one_provider_and_name_what_is_wrong() {
        let c = push("[push]\nurl = \"https://push.example\"").unwrap();
        assert!(c.push.is_some() && c.fcm.is_none());
        let err = push("[push]\nprovider = \"fcm\"").unwrap_err();
        assert!(
            err.contains("needs `service_account_file` or `service_account_env`"),
            "{err}"
        );
        let err =
            push("[push]\nprovider = \"fcm\"\nservice_account_file = \"/nonexistent/sa.json\"")
                .unwrap_err();
        assert!(err.contains("cannot read `/nonexistent/sa.json`"), "{err}");
        let err = push("[push]\nurl = \"https://x\"\nbase_url = \"https://y\"").unwrap_err();
        assert!(
            err.contains("`delivery.push.base_url` is for `provider = \"fcm\"`"),
            "{err}"
        );
        let err = push("[push]\nprovider = \"apns\"").unwrap_err();
        assert!(err.contains("takes `http` or `fcm`"), "{err}");
    }
}
