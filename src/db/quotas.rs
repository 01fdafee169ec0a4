//! SQL for owner quotas: what an owner has pending and has declared lately, counted with
//! index ranges (`uploads_owner_pending`, `uploads_owner_created`).

use deadpool_postgres::GenericClient;

use super::{DbError, cached};

/// What one owner has going.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    pub pending_uploads: i64,
    pub pending_bytes: i64,
    pub created_last_minute: i64,
    /// Seconds since the oldest create of the last minute (0 when none).
    pub oldest_recent_create_secs: f64,
}

pub async fn usage(db: &impl GenericClient, owner: &str) -> Result<Usage, DbError> {
    let statement = cached(
        db,
        "SELECT p.uploads, p.bytes, r.creates, r.oldest_secs FROM \
             (SELECT count(*) AS uploads, coalesce(sum(size), 0)::bigint AS bytes \
              FROM uploads WHERE owner = $1 AND status = 'pending') p, \
             (SELECT count(*) AS creates, \
                  coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_secs \
              FROM uploads WHERE owner = $1 AND created_at > now() - interval '1 minute') r",
    )
    .await?;
    let row = db.query_one(&statement, &[&owner]).await?;
    Ok(Usage {
        pending_uploads: row.get(0),
        pending_bytes: row.get(1),
        created_last_minute: row.get(2),
        oldest_recent_create_secs: row.get(3),
    })
}

/// Serialises this transaction's creates with every other of `owner` (on any replica) until
/// it ends, so a usage read after it is exact.
pub async fn lock_owner(db: &impl GenericClient, owner: &str) -> Result<(), DbError> {
    let statement = cached(
        db,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 7563))",
    )
    .await?;
    db.execute(&statement, &[&owner]).await?;
    Ok(())
}
