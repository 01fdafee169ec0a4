//! SQL for the `outbox` table: jobs written with the confirmation, published by the relay.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::uploads::{columns_of, upload_from_row};
use super::{DbError, cached};
use crate::domain::Upload;

/// The channel the relay LISTENs on; a commit that adds a job NOTIFYs it.
pub const CHANNEL: &str = "upload_coordinator_outbox";

/// A job waiting to be published, with the upload it is for.
#[derive(Clone, Debug)]
pub struct PendingJob {
    pub outbox_id: i64,
    pub task_id: Uuid,
    pub trigger_received_at: DateTime<Utc>,
    pub upload: Upload,
}

/// Adds the processing job of `upload_id` (at most one per upload) and wakes the relays on
/// commit. Returns whether a job was added.
pub async fn enqueue(
    db: &impl GenericClient,
    upload_id: Uuid,
    trigger_received_at: DateTime<Utc>,
) -> Result<bool, DbError> {
    // One round trip: the notification goes out only if a row went in.
    let sql = format!(
        "WITH added AS ( \
             INSERT INTO outbox (upload_id, task_id, trigger_received_at, created_at) \
             VALUES ($1, $2, $3, clock_timestamp()) \
             ON CONFLICT (upload_id) DO NOTHING RETURNING id) \
         SELECT pg_notify('{CHANNEL}', '') FROM added"
    );
    let added = db
        .query(
            &cached(db, &sql).await?,
            &[&upload_id, &Uuid::new_v4(), &trigger_received_at],
        )
        .await?;
    Ok(!added.is_empty())
}

/// Locks up to `limit` unpublished jobs, oldest first, skipping those another relay holds.
pub async fn claim_unpublished(
    db: &impl GenericClient,
    limit: i64,
) -> Result<Vec<PendingJob>, DbError> {
    let sql = format!(
        "SELECT o.id AS outbox_id, o.task_id, o.trigger_received_at, {} FROM outbox o JOIN uploads u ON u.id = o.upload_id \
         WHERE o.published_at IS NULL ORDER BY o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED",
        columns_of("u")
    );
    let rows = db.query(&cached(db, &sql).await?, &[&limit]).await?;
    rows.iter()
        .map(|row| {
            Ok(PendingJob {
                outbox_id: row.get("outbox_id"),
                task_id: row.get("task_id"),
                trigger_received_at: row.get("trigger_received_at"),
                upload: upload_from_row(row)?,
            })
        })
        .collect()
}

/// Marks jobs published and their uploads `processing` (unless the worker already reported).
pub async fn mark_published(db: &impl GenericClient, jobs: &[&PendingJob]) -> Result<(), DbError> {
    let outbox_ids: Vec<i64> = jobs.iter().map(|job| job.outbox_id).collect();
    let statement = cached(
        db,
        "WITH published AS ( \
             UPDATE outbox SET published_at = clock_timestamp(), attempts = attempts + 1, \
                 last_error = NULL \
             WHERE id = ANY($1) RETURNING upload_id) \
         UPDATE uploads SET status = 'processing', updated_at = now() \
         WHERE id IN (SELECT upload_id FROM published) AND status = 'uploaded'",
    )
    .await?;
    db.execute(&statement, &[&outbox_ids]).await?;
    Ok(())
}

/// Records a failed publish attempt, for operators.
pub async fn record_failure(
    db: &impl GenericClient,
    outbox_ids: &[i64],
    error: &str,
) -> Result<(), DbError> {
    db.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1)",
        &[&outbox_ids, &error],
    )
    .await?;
    Ok(())
}

/// Unpublished jobs and the age in seconds of the oldest one.
pub async fn lag(db: &impl GenericClient) -> Result<(i64, f64), DbError> {
    let row = db
        .query_one(
            "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at))::float8, 0) \
             FROM outbox WHERE published_at IS NULL",
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}
