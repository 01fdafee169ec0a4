//! Versioned SQL migrations, embedded in the binary and applied in order. All pending ones run
//! in one transaction behind an advisory lock, so replicas starting at once apply each exactly
//! once and a failure leaves the schema as it was.

use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_postgres::error::SqlState;

use super::DbError;

const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "uploads",
        include_str!("../../migrations/0001_uploads.sql"),
    ),
    (
        2,
        "outbox",
        include_str!("../../migrations/0002_outbox.sql"),
    ),
    (
        3,
        "upload_sessions",
        include_str!("../../migrations/0003_upload_sessions.sql"),
    ),
    (
        4,
        "integrity",
        include_str!("../../migrations/0004_integrity.sql"),
    ),
    (
        5,
        "checksums",
        include_str!("../../migrations/0005_checksums.sql"),
    ),
    (
        6,
        "upload_events",
        include_str!("../../migrations/0006_upload_events.sql"),
    ),
    (
        7,
        "status_listing",
        include_str!("../../migrations/0007_status_listing.sql"),
    ),
    (
        8,
        "idempotency_keys",
        include_str!("../../migrations/0008_idempotency_keys.sql"),
    ),
    (
        9,
        "pending_per_owner",
        include_str!("../../migrations/0009_pending_per_owner.sql"),
    ),
    (
        10,
        "owner_usage",
        include_str!("../../migrations/0010_owner_usage.sql"),
    ),
    (
        11,
        "webhook_disable_order",
        include_str!("../../migrations/0011_webhook_disable_order.sql"),
    ),
    (
        12,
        "outbox_claim_token",
        include_str!("../../migrations/0012_outbox_claim_token.sql"),
    ),
];

/// Arbitrary constant shared by every replica ("ucmigrat").
const LOCK_ID: i64 = 0x7563_6d69_6772_6174;

/// How long a migration may wait for a table's lock, and how often it tries. A migration that
/// waits (for a long transaction on the table, say) makes every statement on that table queue
/// behind it: better to give way and try again than to stall the replicas still serving. Each
/// wait is bounded, not what the migrations hold while they run (a later one may wait while
/// an earlier one's locks are held; an index is built under its table's lock).
#[derive(Clone, Copy, Debug)]
pub struct LockWait {
    pub timeout: Duration,
    pub attempts: u32,
    pub pause: Duration,
}

/// Waits of at most 5 s, tried for about two minutes.
pub const DEFAULT_LOCK_WAIT: LockWait = LockWait {
    timeout: Duration::from_secs(5),
    attempts: 12,
    pause: Duration::from_secs(5),
};

/// Applies every migration not yet applied; returns how many ran.
pub async fn migrate(pool: &Pool) -> Result<usize, DbError> {
    migrate_waiting(pool, DEFAULT_LOCK_WAIT).await
}

/// [`migrate`], waiting for table locks as `wait` says.
pub async fn migrate_waiting(pool: &Pool, wait: LockWait) -> Result<usize, DbError> {
    let mut attempt = 1;
    loop {
        match apply_pending(pool, wait.timeout).await {
            Err(Pending::LockWait(version, name)) if attempt < wait.attempts => {
                tracing::warn!(
                    version,
                    name,
                    attempt,
                    "a migration gave way after waiting {:?} for a table lock; trying again",
                    wait.timeout
                );
                attempt += 1;
                tokio::time::sleep(wait.pause).await;
            }
            Err(Pending::LockWait(version, name)) => {
                return Err(DbError::MigrationLockWait {
                    version,
                    name,
                    waited: wait.timeout,
                    attempts: wait.attempts,
                });
            }
            Err(Pending::Failed(err)) => return Err(err),
            Ok(applied) => return Ok(applied),
        }
    }
}

/// Why applying the pending migrations stopped.
enum Pending {
    /// This migration waited too long for a lock, or deadlocked; everything was rolled back.
    LockWait(i32, &'static str),
    Failed(DbError),
}

impl From<tokio_postgres::Error> for Pending {
    fn from(err: tokio_postgres::Error) -> Self {
        Self::Failed(err.into())
    }
}

impl From<deadpool_postgres::PoolError> for Pending {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        Self::Failed(err.into())
    }
}

async fn apply_pending(pool: &Pool, lock_timeout: Duration) -> Result<usize, Pending> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // Waiting for another replica's migrations is right: they are bounded as these are.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_ID])
        .await?;
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = {}",
        lock_timeout.as_millis().max(1)
    ))
    .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let mut applied = 0;
    for (version, name, sql) in MIGRATIONS {
        let done = tx
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[version],
            )
            .await?
            .is_some();
        if done {
            continue;
        }
        if let Err(err) = tx.batch_execute(sql).await {
            // A deadlock with the traffic (this transaction holds the locks of the migrations
            // before) is given way to the same.
            let waited = [
                SqlState::LOCK_NOT_AVAILABLE,
                SqlState::T_R_DEADLOCK_DETECTED,
            ];
            return Err(if err.code().is_some_and(|code| waited.contains(code)) {
                Pending::LockWait(*version, name)
            } else {
                Pending::Failed(err.into())
            });
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
        tracing::info!(version, name, "applied migration");
        applied += 1;
    }
    tx.commit().await?;
    Ok(applied)
}
