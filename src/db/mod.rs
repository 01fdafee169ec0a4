//! PostgreSQL: the connection pool, migrations, and one module of SQL per table.

pub mod events;
pub mod idempotency;
pub mod listen;
mod migrations;
pub mod outbox;
pub mod quotas;
pub mod sessions;
pub mod sweeps;
pub mod uploads;
pub mod webhooks;

pub use migrations::{LockWait, migrate, migrate_waiting};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::config::DatabaseSettings;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {0}")]
    Query(#[from] tokio_postgres::Error),
    #[error("database URL: {0}")]
    Url(String),
    #[error("stored row is inconsistent: {0}")]
    Corrupt(String),
    #[error(
        "migration {version} ({name}) waited {waited:?} for a table lock (or deadlocked), \
         {attempts} times: a long transaction or an anti-wraparound vacuum holds it (see \
         pg_stat_activity and pg_locks), and traffic queues behind a migration that waits"
    )]
    MigrationLockWait {
        version: i32,
        name: &'static str,
        waited: std::time::Duration,
        attempts: u32,
    },
}

/// Builds the pool without connecting; the first checkout connects.
pub fn pool(settings: &DatabaseSettings) -> Result<Pool, DbError> {
    let config: tokio_postgres::Config = settings
        .url
        .expose()
        .parse()
        .map_err(|e: tokio_postgres::Error| DbError::Url(e.to_string()))?;
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(settings.pool_size as usize)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .build()
        .map_err(|e| DbError::Url(e.to_string()))
}

/// The statement for `sql` from the connection's cache: parsed and planned once per
/// connection instead of on every call.
pub(crate) async fn cached(
    db: &impl deadpool_postgres::GenericClient,
    sql: &str,
) -> Result<tokio_postgres::Statement, DbError> {
    Ok(db.prepare_cached(sql).await?)
}

/// A pooled connection, its failure a database error like any other.
pub async fn client(pool: &Pool) -> Result<deadpool_postgres::Object, DbError> {
    Ok(pool.get().await?)
}

/// Whether the database answers a trivial query.
pub async fn ping(pool: &Pool) -> Result<(), DbError> {
    pool.get().await?.simple_query("SELECT 1").await?;
    Ok(())
}
