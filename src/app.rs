//! Builds the application from settings: checks dependencies, migrates, binds, serves, and
//! stops gracefully on SIGTERM/SIGINT.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::api::BodyLimits;
use crate::auth::{Authenticator, SessionRegistry, SessionTokens, derive_secret};
use crate::config::{JwtAlgorithm, Settings};
use crate::events::EventIntake;
use crate::live::{StatusHub, StreamLimits};
use crate::metrics::Metrics;
use crate::rabbitmq as broker;
use crate::rabbitmq::topology;
use crate::server::{self, ServerLimits};
use crate::state::AppState;
use crate::storage::{CallTimer, Storage, StorageCredentials};
use crate::supervisor::Supervisor;
use crate::uploads::Uploads;
use crate::{api, background, db};

pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    metrics_listener: Option<TcpListener>,
    state: Arc<AppState>,
    settings: Settings,
    relay_wake: Arc<Notify>,
}

/// Where a database URL points, without its credentials, for error messages.
fn database_location(settings: &Settings) -> String {
    match settings
        .database
        .url
        .expose()
        .parse::<tokio_postgres::Config>()
    {
        Ok(config) => {
            let host = match config.get_hosts().first() {
                Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
                Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
                None => "localhost".to_owned(),
            };
            let port = config.get_ports().first().copied().unwrap_or(5432);
            let name = config.get_dbname().unwrap_or("(default)");
            format!("{host}:{port}/{name}")
        }
        Err(_) => "(unparseable URL)".to_owned(),
    }
}

impl Application {
    /// Connects to everything it needs and binds the listener; fails fast, naming the problem.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let settings = settings.resolve()?;
        settings.validate()?;
        warn_about_settings(&settings);
        let auth = Authenticator::new(&settings.auth)?;
        let pool = db::pool(&settings.database)?;
        let location = database_location(&settings);
        db::ping(&pool)
            .await
            .with_context(|| format!("cannot reach PostgreSQL at {location}"))?;
        db::migrate(&pool)
            .await
            .with_context(|| format!("cannot migrate the database at {location}"))?;
        let webhook_urls: Vec<String> = settings
            .notify
            .endpoints()?
            .into_iter()
            .map(|endpoint| endpoint.url)
            .collect();
        db::webhooks::enable_endpoints(&db::client(&pool).await?, &webhook_urls)
            .await
            .context("cannot record the webhook endpoints")?;
        let credentials =
            StorageCredentials::from_settings(&settings.storage, settings.policy.presign_ttl())
                .await;
        let storage = Storage::new(&settings.storage, credentials);
        storage.check().await.with_context(|| {
            format!(
                "cannot reach bucket {:?} at {} (is storage running, the bucket created, the key valid?)",
                settings.storage.bucket, settings.storage.endpoint
            )
        })?;
        let (write_once, checksums, lengths) = storage
            .enforcement(
                settings.storage.write_once,
                settings.storage.checksums,
                &settings.policy.key_prefix,
            )
            .await;
        let storage = storage
            .with_enforcement(write_once, checksums, lengths)
            .with_own_presigner()
            .await;
        let listener = TcpListener::bind(settings.http.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.http.listen))?;
        let local_addr = listener.local_addr()?;
        let metrics_listener = match settings.http.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (UC_METRICS_LISTEN)"))?,
            ),
            None => None,
        };
        check_broker(&settings).await?;
        let relay_wake = Arc::new(Notify::new());
        let metrics = Arc::new(Metrics::new());
        let storage = storage.timed_by(CallTimer::into(metrics.storage_duration.clone()));
        let uploads = Uploads::new(
            pool.clone(),
            storage,
            settings.policy.clone(),
            relay_wake.clone(),
        );
        let status_hub = StatusHub::new(
            pool.clone(),
            uploads.checksums_verified(),
            settings.notify.max_streams_per_owner,
            // Streams hold connections: half of them stay for everything else.
            (settings.http.max_connections / 2).max(1),
            metrics.clone(),
        );
        let state = Arc::new(AppState {
            status_hub,
            stream_limits: StreamLimits {
                // Within the idle timeout, or idle streams would be cut off.
                heartbeat: Duration::from_secs(settings.notify.stream_heartbeat_secs)
                    .min(Duration::from_secs(settings.http.idle_timeout_secs) / 2),
                max_age: Duration::from_secs(settings.notify.stream_max_age_secs),
            },
            db: pool.clone(),
            auth,
            webhook_intake: EventIntake::new(uploads.clone(), metrics.clone(), "webhook"),
            uploads,
            metrics,
            health: Arc::default(),
            webhook_token: settings.events.webhook_token.clone(),
            internal_token: settings.jobs.internal_token.clone(),
            sessions: SessionRegistry::new(
                session_tokens(&settings),
                pool.clone(),
                settings.web.max_sessions_per_owner,
            ),
            web: settings.web.clone(),
            dev_mode: settings.http.dev_mode,
            body_limits: BodyLimits::new(
                settings.http.max_body_bytes as usize,
                Duration::from_secs(settings.http.body_read_timeout_secs),
                settings.http.body_memory_bytes as usize,
            ),
            separate_metrics_listener: metrics_listener.is_some(),
        });
        if settings.web.demo_page && !settings.web.web_dir.join("index.html").exists() {
            tracing::warn!(dir = %settings.web.web_dir.display(), "demo page not built: run `make web`");
        }
        Ok(Self {
            listener,
            local_addr,
            metrics_listener,
            state,
            settings,
            relay_wake,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where `/metrics` is served when it has a listener of its own.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref()?.local_addr().ok()
    }

    /// Serves and runs the background workers until `shutdown` resolves, then lets in-flight
    /// requests and messages finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let grace = Duration::from_secs(self.settings.http.shutdown_grace_secs);
        let (stop, stopped) = watch::channel(false);
        // Background work stops together with the server, and both share one grace period.
        let deadline = Arc::new(std::sync::OnceLock::new());
        let shutdown = {
            let stop = stop.clone();
            let deadline = deadline.clone();
            async move {
                shutdown.await;
                let _ = deadline.set(tokio::time::Instant::now() + grace);
                let _ = stop.send(true);
            }
        };
        let state = &self.state;
        let mut supervisor =
            Supervisor::new(state.health.clone(), state.metrics.clone(), stopped.clone());
        background::start(
            &self.settings,
            state,
            self.relay_wake.clone(),
            &mut supervisor,
        );
        let http = &self.settings.http;
        let limits = ServerLimits {
            header_read_timeout: Duration::from_secs(http.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(http.idle_timeout_secs),
            max_connections: http.max_connections as usize,
            http2_max_streams: http.http2_max_streams,
        };
        if let Some(listener) = self.metrics_listener {
            tracing::info!(addr = ?listener.local_addr().ok(), "metrics listening");
            let routes = Arc::new(api::metrics_routes(self.state.clone()));
            let listener = Arc::new(tokio::sync::Mutex::new(Some(listener)));
            supervisor.spawn("metrics-listener", move |mut stopped| {
                let routes = routes.clone();
                let listener = listener.clone();
                async move {
                    // The listener serves once; should it end early, the task stays down.
                    let Some(listener) = listener.lock().await.take() else {
                        let _ = stopped.wait_for(|stop| *stop).await;
                        return;
                    };
                    let stop = async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    };
                    if let Err(err) = server::serve(listener, routes, limits, stop, grace).await {
                        tracing::error!(error = %err, "metrics listener failed");
                    }
                }
            });
        }
        tracing::info!(addr = %self.local_addr, "listening");
        let served = server::serve(
            self.listener,
            api::routes(self.state),
            limits,
            shutdown,
            grace,
        )
        .await;
        let _ = stop.send(true);
        let left = deadline.get().map_or(grace, |deadline| {
            deadline.saturating_duration_since(tokio::time::Instant::now())
        });
        supervisor.join(left).await;
        served
    }
}

/// What is allowed but deserves a word at startup.
fn warn_about_settings(settings: &Settings) {
    if settings.http.dev_mode {
        tracing::warn!(
            "development mode: well-known secrets and dev tokens; for the local stack only"
        );
    }
    if settings.auth.algorithm != JwtAlgorithm::Hs256 && settings.auth.audience.is_none() {
        tracing::warn!(
            "UC_JWT_AUDIENCE is not set: tokens the identity provider issued for any other \
             application are accepted too"
        );
    }
    if settings.events.webhook_token.expose().is_empty() {
        tracing::info!("storage webhook off (UC_EVENTS_WEBHOOK_TOKEN not set)");
    }
}

fn session_tokens(settings: &Settings) -> SessionTokens {
    let secret = match &settings.web.session_secret {
        Some(secret) => secret.expose().as_bytes().to_vec(),
        None => derive_secret(settings.auth.secret.expose()),
    };
    SessionTokens::new(&secret, settings.web.uppy_session_ttl_secs)
}

/// Fails fast when RabbitMQ is needed but unreachable, or refuses our topology (a queue
/// declared elsewhere with other arguments, say). Later outages are survived by reconnecting.
async fn check_broker(settings: &Settings) -> anyhow::Result<()> {
    if !settings.broker_needed() {
        return Ok(());
    }
    let location = broker::location(&settings.broker.url);
    let connection = broker::connect(&settings.broker.url, "startup-check")
        .await
        .with_context(|| format!("cannot reach RabbitMQ at {location}"))?;
    let channel = connection.create_channel().await?;
    if settings.jobs.relay && settings.jobs.declare_topology {
        topology::declare_jobs(&channel, &settings.jobs)
            .await
            .with_context(|| {
                format!(
                    "cannot declare the job exchange {:?} and queue {:?} \
                     (set UC_JOB_DECLARE_TOPOLOGY=false if the worker owns them)",
                    settings.jobs.exchange, settings.jobs.queue
                )
            })?;
    }
    if settings.events.amqp {
        topology::declare_events(&channel, &settings.events)
            .await
            .with_context(|| {
                format!(
                    "cannot declare the storage event exchange {:?}",
                    settings.events.exchange
                )
            })?;
    }
    let _ = connection.close(200, "startup check done".into()).await;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
