//! `nudge serve`: the runtime that takes events over HTTP and runs
//! journeys on the wall clock.
//!
//! - [`segment`] reads Segment-compatible requests into validated calls;
//! - [`http`] serves them (and health, readiness, metrics) with axum;
//! - [`partition`] applies them: one thread per partition, each owning an
//!   engine on its own tree of the durable store, answering a request only
//!   after the group commit that holds its calls;
//! - [`outbox`] writes the messages sent to the data folder until delivery
//!   providers are configured;
//! - [`keys`] makes and keeps the write key and admin token.
//!
//! The data folder holds `store/` (sled), `keys.json` and `outbox/`.

pub mod api;
pub mod consent;
pub mod delivery;
pub mod engagement;
pub mod events;
pub mod feedback;
pub mod http;
pub mod inbox;
pub mod keys;
pub mod metrics;
pub mod outbox;
pub mod partition;
pub mod segment;
pub mod signed;
pub mod tls;
pub mod tracking;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nudge_bytecode::Module;

/// The port `nudge serve` listens on by default (on 127.0.0.1).
pub const DEFAULT_PORT: u16 = 8788;

/// How long requests under way may take to finish once the server is
/// told to stop.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// A failure that stops the server, said in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ServeError(pub String);

impl ServeError {
    /// A failure.
    pub fn new(message: impl Into<String>) -> ServeError {
        ServeError(message.into())
    }
}

/// How the server runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The data folder.
    pub data: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Partitions of a new data folder (2 when not said); a folder keeps
    /// the count it was made with, with a warning when one is said that
    /// differs.
    pub partitions: Option<usize>,
    /// Requests each partition queues at most before answering 503.
    pub queue: usize,
    /// Request limits.
    pub limits: segment::Limits,
    /// The profile cache's memory budget per partition.
    pub cache_bytes: usize,
    /// Print each message on stdout.
    pub echo: bool,
    /// The providers of each channel (none: every message stays in the
    /// outbox).
    pub delivery: delivery::DeliveryConfig,
    /// The address the server is reached at from outside (unsubscribe
    /// links); by default `http://` and the listening address.
    pub public_url: Option<String>,
}

impl Config {
    /// The defaults for a data folder.
    pub fn new(data: PathBuf) -> Config {
        Config {
            data,
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            partitions: None,
            queue: 256,
            limits: segment::Limits::default(),
            cache_bytes: nudge_store::DEFAULT_CACHE_BYTES,
            echo: true,
            delivery: delivery::DeliveryConfig::default(),
            public_url: None,
        }
    }
}

/// The partition count of a data folder: the one it was made with, or
/// `wanted` for a new one.
fn partition_count(db: &sled::Db, wanted: Option<usize>, data: &Path) -> Result<usize, ServeError> {
    let failed = |e: sled::Error| ServeError::new(format!("cannot read the store's settings: {e}"));
    let meta = db.open_tree("meta").map_err(failed)?;
    match meta.get("partitions").map_err(failed)? {
        Some(v) => {
            let n = <[u8; 4]>::try_from(v.as_ref())
                .map(u32::from_be_bytes)
                .map_err(|_| ServeError::new("the store's partition count is damaged"))?;
            if let Some(w) = wanted.filter(|w| *w != n as usize) {
                tracing::warn!(
                    "the data folder `{}` has {n} partitions; running {n} (not {w})",
                    data.display()
                );
            }
            Ok(n as usize)
        }
        None => {
            let wanted = wanted.unwrap_or(2).max(1);
            meta.insert("partitions", &(wanted as u32).to_be_bytes())
                .map_err(failed)?;
            db.flush().map_err(failed)?;
            Ok(wanted)
        }
    }
}

/// Recompiles the project the server was started with (on SIGHUP): the
/// new module, or why there is none.
pub type Reload = Arc<dyn Fn() -> Result<Module, String> + Send + Sync>;

/// Runs the server until SIGTERM or SIGINT (or a partition fails), then
/// stops cleanly: no new requests, what is queued applied and committed.
/// `started` is called with the address once the server listens.
pub fn serve(
    config: Config,
    module: Module,
    reload: Option<Reload>,
    started: impl FnOnce(SocketAddr, &keys::Keys, bool),
) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ServeError::new(format!("cannot start the async runtime: {e}")))?;
    // SIGHUP is caught from here on (its default action ends the
    // process): one that comes while the partitions start reloads then.
    let hangup = hangup_signal(&runtime);
    std::fs::create_dir_all(&config.data).map_err(|e| {
        ServeError::new(format!(
            "cannot create the data folder `{}`: {e}",
            config.data.display()
        ))
    })?;
    let (keys, new_keys) = keys::load_or_create(&config.data)?;
    let store_dir = config.data.join("store");
    let db = nudge_store::open_db(&store_dir).map_err(|e| ServeError::new(e.0))?;
    let count = partition_count(&db, config.partitions, &config.data)?;
    let consent = consent::Consent::open(&db, &keys.admin_token)?;
    let inbox = inbox::Inbox::open(&db, &keys.admin_token)?;
    let tracking = tracking::Tracking::new(&keys.admin_token)?;
    let sms_status = tracking::Tracking::for_sms_status(&keys.admin_token)?;
    let public_url = Arc::new(std::sync::OnceLock::new());
    if let Some(url) = &config.public_url {
        let _ = public_url.set(url.trim_end_matches('/').to_owned());
    }
    let book = feedback::Book::open(&db)?;
    let outcomes = config.data.join("deliveries");
    let deliveries = Arc::new(delivery::Deliveries::start(
        &config.delivery,
        &outcomes,
        delivery::Services {
            book: book.clone(),
            consent: consent.clone(),
            public_url: public_url.clone(),
            inbox: Some(inbox.clone()),
            tracking: tracking.clone(),
            sms_status: sms_status.clone(),
        },
    )?);
    let partitions = partition::Partitions::start(
        &db,
        &module,
        &partition::Settings {
            count,
            queue: config.queue.max(1),
            outbox_dir: config.data.join("outbox"),
            sync_file: Some(store_dir.join("db")),
            options: nudge_store::Options {
                cache_bytes: config.cache_bytes,
                ..nudge_store::Options::default()
            },
            echo: config.echo,
            deliveries: Some((deliveries.clone(), outcomes.clone())),
        },
    )?;
    let state = Arc::new(http::AppState {
        partitions,
        keys: keys.clone(),
        module: std::sync::RwLock::new(Arc::new(module)),
        consent,
        inbox,
        book,
        sms_token: config.delivery.sms.as_ref().map(|s| s.token.clone()),
        sms_status,
        public_url: public_url.clone(),
        stopping: tokio::sync::watch::channel(false).0,
        outcomes: outcomes.clone(),
        engagement: engagement::Engagement::new(&outcomes),
        tracking,
        deploying: tokio::sync::Mutex::new(()),
        limits: config.limits,
        refused: Default::default(),
    });
    let served: Result<(), ServeError> = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| ServeError::new(format!("cannot listen on {}: {e}", config.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| ServeError::new(format!("cannot listen on {}: {e}", config.listen)))?;
        let _ = public_url.set(format!("http://{addr}"));
        started(addr, &keys, new_keys);
        if let Some(reload) = reload {
            if let Some(hangup) = hangup {
                tokio::spawn(reload_on_hangup(state.clone(), reload, hangup));
            }
        }
        tokio::spawn(events::report_outcomes(state.clone()));
        let app = http::router(state.clone());
        let watch = state.clone();
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            stop_signal(&watch).await;
            watch.stopping.send_replace(true);
            let _ = stopping.send(());
        });
        // Requests under way get a grace period to finish, not more: a
        // client that holds its connection cannot keep the server up.
        tokio::select! {
            served = server => served.map_err(|e| ServeError::new(format!("the HTTP server failed: {e}"))),
            () = async {
                if stopped.await.is_ok() {
                    tokio::time::sleep(SHUTDOWN_GRACE).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => {
                tracing::warn!("requests still under way after {} s: stopping without them", SHUTDOWN_GRACE.as_secs());
                Ok(())
            }
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    // Requests still holding the state (past the grace period) find the
    // partitions stopped.
    let failed = state.partitions.failed();
    state.partitions.stop()?;
    db.flush()
        .map_err(|e| ServeError::new(format!("cannot flush the store: {e}")))?;
    // Messages being sent are finished; those waiting for a retry go
    // again at the next start.
    if let Ok(d) = Arc::try_unwrap(deliveries) {
        d.stop();
    }
    served?;
    if failed {
        return Err(ServeError::new(
            "a partition failed (see the log above); nothing acknowledged is lost: restart the server",
        ));
    }
    Ok(())
}

#[cfg(unix)]
type Hangup = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type Hangup = ();

/// Starts catching SIGHUP (`None` where it cannot be caught).
fn hangup_signal(runtime: &tokio::runtime::Runtime) -> Option<Hangup> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let _in_runtime = runtime.enter();
        match signal(SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("cannot catch SIGHUP, reloading is off: {e}");
                None
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = runtime;
        None
    }
}

/// Recompiles and deploys the project on each SIGHUP; a project with
/// errors leaves the running version in place.
async fn reload_on_hangup(state: Arc<http::AppState>, reload: Reload, mut hangup: Hangup) {
    #[cfg(unix)]
    while hangup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the project");
        let r = reload.clone();
        match tokio::task::spawn_blocking(move || r()).await {
            Ok(Ok(module)) => match http::deploy(&state, module).await {
                Ok(answer) => {
                    use std::io::Write as _;
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{}", http::deploy_summary(&answer));
                    let _ = out.flush();
                }
                Err(r) => tracing::error!("the reload was not deployed: {}", r.message),
            },
            Ok(Err(e)) => tracing::error!("the reload failed; the running version stays: {e}"),
            Err(e) => tracing::error!("the reload failed: {e}"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (state, reload, &mut hangup);
    }
}

/// Resolves on SIGTERM, SIGINT, or when a partition has failed.
async fn stop_signal(state: &http::AppState) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminate = async {
        #[cfg(unix)]
        if let Some(t) = term.as_mut() {
            t.recv().await;
            return;
        }
        std::future::pending::<()>().await
    };
    let failure = async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if state.partitions.failed() {
                return;
            }
        }
    };
    tokio::select! {
        _ = ctrl_c => tracing::info!("interrupted: stopping"),
        () = terminate => tracing::info!("SIGTERM: stopping"),
        () = failure => tracing::error!("a partition failed: stopping"),
    }
}
