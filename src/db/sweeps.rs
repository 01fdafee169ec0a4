//! SQL for the uploads table's background work: what the reconciler, the reaper and the
//! janitor claim (each with `FOR UPDATE SKIP LOCKED`, so replicas share it), and the counts
//! metrics show.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::uploads::{COLUMNS, from_row};
use super::{DbError, cached};
use crate::domain::Upload;

/// Claims the uploads `condition` picks, at most `limit` in `order`, skipping rows another
/// replica holds; `mark` says how the claim shows (so the same rows are not picked again
/// meanwhile). `$1` is the limit; the other parameters follow.
async fn claim(
    db: &impl GenericClient,
    mark: &str,
    condition: &str,
    order: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<Upload>, DbError> {
    let sql = format!(
        "UPDATE uploads SET {mark} WHERE id IN ( \
             SELECT id FROM uploads WHERE {condition} \
             ORDER BY {order} LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING {COLUMNS}"
    );
    let rows = db.query(&cached(db, &sql).await?, params).await?;
    rows.iter().map(from_row).collect()
}

/// Claims up to `limit` pending uploads, older than `min_age_secs` and not checked in the last
/// `recheck_secs`, for a storage check. The most overdue go first, taken in turns across
/// owners (every owner's most overdue, then every owner's second...), so one owner's backlog
/// cannot hold back another's upload. The claim (`last_checked_at`) keeps other replicas off.
pub async fn claim_for_reconcile(
    db: &impl GenericClient,
    min_age_secs: f64,
    recheck_secs: f64,
    limit: i64,
) -> Result<Vec<Upload>, DbError> {
    // Ranked first, locked after: a window function cannot share a SELECT with FOR UPDATE.
    let sql = format!(
        "UPDATE uploads SET last_checked_at = now() WHERE id IN ( \
             SELECT id FROM uploads WHERE id IN ( \
                 SELECT id FROM ( \
                     SELECT id, due, \
                         row_number() OVER (PARTITION BY owner ORDER BY due, id) AS turn \
                     FROM (SELECT id, owner, \
                               coalesce(last_checked_at + make_interval(secs => $3), \
                                        created_at + make_interval(secs => $2)) AS due \
                           FROM uploads \
                           WHERE status = 'pending' AND expires_at > now() \
                             AND created_at < now() - make_interval(secs => $2) \
                             AND (last_checked_at IS NULL \
                                  OR last_checked_at < now() - make_interval(secs => $3)) \
                          ) candidates \
                 ) ranked ORDER BY turn, due LIMIT $1) \
             FOR UPDATE SKIP LOCKED) \
         RETURNING {COLUMNS}"
    );
    let rows = db
        .query(
            &cached(db, &sql).await?,
            &[&limit, &min_age_secs, &recheck_secs],
        )
        .await?;
    rows.iter().map(from_row).collect()
}

/// Claims up to `limit` pending uploads past their expiry (not claimed in the last
/// `recheck_secs`).
pub async fn claim_expired(
    db: &impl GenericClient,
    recheck_secs: f64,
    limit: i64,
) -> Result<Vec<Upload>, DbError> {
    claim(
        db,
        "last_checked_at = now()",
        "status = 'pending' AND expires_at <= now() \
         AND (last_checked_at IS NULL OR last_checked_at < now() - make_interval(secs => $2))",
        "expires_at",
        &[&limit, &recheck_secs],
    )
    .await
}

/// Claims up to `limit` terminal uploads whose storage cleanup is due, pushing the due time
/// `lease_secs` ahead so no other replica takes them meanwhile.
pub async fn claim_cleanup(
    db: &impl GenericClient,
    limit: i64,
    lease_secs: f64,
) -> Result<Vec<Upload>, DbError> {
    claim(
        db,
        "cleanup_due_at = now() + make_interval(secs => $2)",
        "cleanup_due_at <= now()",
        "cleanup_due_at",
        &[&limit, &lease_secs],
    )
    .await
}

/// Storage holds nothing of the upload now. While URLs signed for it may still be used
/// (`urls_valid_until`), it is cleaned again `recheck_secs` later; after that, never.
pub async fn cleanup_done(
    db: &impl GenericClient,
    id: Uuid,
    urls_valid_until: DateTime<Utc>,
    recheck_secs: f64,
) -> Result<(), DbError> {
    let statement = cached(
        db,
        "UPDATE uploads SET cleanup_attempts = 0, \
             cleanup_due_at = CASE WHEN $2 > now() THEN now() + make_interval(secs => $3) END, \
             cleaned_at = CASE WHEN $2 > now() THEN NULL ELSE now() END \
         WHERE id = $1",
    )
    .await?;
    db.execute(&statement, &[&id, &urls_valid_until, &recheck_secs])
        .await?;
    Ok(())
}

/// Storage refused the cleanup: tried again after a doubling delay (at most five minutes).
pub async fn cleanup_failed(db: &impl GenericClient, id: Uuid) -> Result<(), DbError> {
    let statement = cached(
        db,
        "UPDATE uploads SET cleanup_attempts = cleanup_attempts + 1, \
             cleanup_due_at = now() + make_interval(secs => least(300, power(2, least(cleanup_attempts, 12)))) \
         WHERE id = $1",
    )
    .await?;
    db.execute(&statement, &[&id]).await?;
    Ok(())
}

/// Which of `keys` belong to an intent, with the multipart upload it records.
pub async fn multipart_ids_of(
    db: &impl GenericClient,
    bucket: &str,
    keys: &[String],
) -> Result<Vec<(String, Option<String>)>, DbError> {
    let statement = cached(
        db,
        "SELECT key, storage_upload_id FROM uploads WHERE bucket = $1 AND key = ANY($2)",
    )
    .await?;
    let rows = db.query(&statement, &[&bucket, &keys]).await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// How many uploads are in each status.
pub async fn count_by_status(db: &impl GenericClient) -> Result<Vec<(String, i64)>, DbError> {
    let rows = db
        .query("SELECT status, count(*) FROM uploads GROUP BY status", &[])
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}
