//! Builds the application from settings: checks dependencies, migrates, binds, serves, and
//! stops gracefully on SIGTERM/SIGINT.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::Pool;
use poem::Server;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};

use crate::auth::Authenticator;
use crate::config::Settings;
use crate::storage::Storage;
use crate::uploads::Uploads;
use crate::{api, db};

/// What every request handler can reach.
pub struct AppState {
    pub db: Pool,
    pub storage: Storage,
    pub auth: Authenticator,
    pub uploads: Uploads,
}

pub struct Application {
    acceptor: TcpAcceptor,
    local_addr: SocketAddr,
    state: Arc<AppState>,
    shutdown_grace: Duration,
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
        settings.validate()?;
        let auth = Authenticator::new(&settings.auth)?;
        let pool = db::pool(&settings.database)?;
        let location = database_location(&settings);
        db::ping(&pool)
            .await
            .with_context(|| format!("cannot reach PostgreSQL at {location}"))?;
        db::migrate(&pool)
            .await
            .with_context(|| format!("cannot migrate the database at {location}"))?;
        let storage = Storage::new(&settings.storage);
        storage.check().await.with_context(|| {
            format!(
                "cannot reach bucket {:?} at {} (is storage running, the bucket created, the key valid?)",
                settings.storage.bucket, settings.storage.endpoint
            )
        })?;
        let acceptor = TcpListener::bind(settings.http.listen)
            .into_acceptor()
            .await
            .with_context(|| format!("cannot listen on {}", settings.http.listen))?;
        let local_addr = acceptor
            .local_addr()
            .first()
            .and_then(|addr| addr.as_socket_addr().copied())
            .context("the listener has no socket address")?;
        let uploads = Uploads::new(pool.clone(), storage.clone(), settings.policy.clone());
        let state = Arc::new(AppState {
            db: pool,
            storage,
            auth,
            uploads,
        });
        Ok(Self {
            acceptor,
            local_addr,
            state,
            shutdown_grace: Duration::from_secs(settings.http.shutdown_grace_secs),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        tracing::info!(addr = %self.local_addr, "listening");
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(
                api::routes(self.state),
                shutdown,
                Some(self.shutdown_grace),
            )
            .await
    }
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
