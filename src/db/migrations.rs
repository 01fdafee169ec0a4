//! Versioned SQL migrations, embedded in the binary and applied in order. All pending ones run
//! in one transaction behind an advisory lock, so replicas starting at once apply each exactly
//! once and a failure leaves the schema as it was.

use deadpool_postgres::Pool;

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

/// Applies every migration not yet applied; returns how many ran.
pub async fn migrate(pool: &Pool) -> Result<usize, DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_ID])
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
        tx.batch_execute(sql).await?;
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
