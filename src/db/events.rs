//! SQL for `upload_events`: the status changes the database records itself (a trigger on
//! `uploads`), read back by the live stream and the webhook deliveries.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::uploads::{columns_of, upload_from_row};
use super::{DbError, cached};
use crate::domain::Upload;

/// The channel every recorded status change NOTIFYs, with the event's id as payload.
pub const CHANNEL: &str = "upload_coordinator_events";

/// One status change: the upload as it was right after it.
#[derive(Clone, Debug)]
pub struct UploadEvent {
    /// Increasing in insertion order (not strictly in commit order): the stream's event id.
    pub seq: i64,
    /// Stable for good: the webhook id receivers deduplicate on.
    pub event_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub upload: Upload,
}

/// The select list and FROM clause that turn an event row back into an upload.
pub(super) fn event_source(alias: &str) -> String {
    format!(
        "{alias}.id AS event_seq, {alias}.event_id, {alias}.occurred_at, {} \
         FROM upload_events {alias} \
         CROSS JOIN LATERAL jsonb_populate_record(NULL::uploads, {alias}.snapshot) AS u",
        columns_of("u")
    )
}

pub(super) fn event_from_row(row: &Row) -> Result<UploadEvent, DbError> {
    Ok(UploadEvent {
        seq: row.get("event_seq"),
        event_id: row.get("event_id"),
        occurred_at: row.get("occurred_at"),
        upload: upload_from_row(row)?,
    })
}

/// The events with these ids, in id order.
pub async fn by_ids(db: &impl GenericClient, ids: &[i64]) -> Result<Vec<UploadEvent>, DbError> {
    let sql = format!(
        "SELECT {} WHERE e.id = ANY($1) ORDER BY e.id",
        event_source("e")
    );
    let rows = db.query(&cached(db, &sql).await?, &[&ids]).await?;
    rows.iter().map(event_from_row).collect()
}

/// Up to `limit` of `owner`'s events after `after`, oldest first.
pub async fn owner_since(
    db: &impl GenericClient,
    owner: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<UploadEvent>, DbError> {
    let sql = format!(
        "SELECT {} WHERE e.owner = $1 AND e.id > $2 ORDER BY e.id LIMIT $3",
        event_source("e")
    );
    let rows = db
        .query(&cached(db, &sql).await?, &[&owner, &after, &limit])
        .await?;
    rows.iter().map(event_from_row).collect()
}

/// The id of `owner`'s latest event, 0 when there is none.
pub async fn owner_latest(db: &impl GenericClient, owner: &str) -> Result<i64, DbError> {
    let statement = cached(
        db,
        "SELECT coalesce(max(id), 0) FROM upload_events WHERE owner = $1",
    )
    .await?;
    Ok(db.query_one(&statement, &[&owner]).await?.get(0))
}

/// Forgets up to `limit` events older than `retention_secs` whose deliveries are all done
/// to enabled endpoints (delivered, or parked as long as an event lives). Returns how many
/// went.
pub async fn prune(
    db: &impl GenericClient,
    retention_secs: f64,
    limit: i64,
) -> Result<u64, DbError> {
    let statement = cached(
        db,
        "DELETE FROM upload_events WHERE id IN ( \
             SELECT e.id FROM upload_events e \
             WHERE e.occurred_at < now() - make_interval(secs => $1) \
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
                   JOIN webhook_endpoints w ON w.url = d.endpoint AND w.enabled \
                   WHERE d.event_id = e.id AND d.delivered_at IS NULL AND d.parked_at IS NULL) \
             ORDER BY e.occurred_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .await?;
    Ok(db.execute(&statement, &[&retention_secs, &limit]).await?)
}
