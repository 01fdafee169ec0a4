//! SQL for outgoing webhooks: the configured endpoints and one delivery per event and
//! endpoint, written by the status-change trigger and claimed by every replica's workers.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::events::{UploadEvent, event_from_row, event_source};
use super::outbox::RetryPolicy;
use super::{DbError, cached};

/// Enables `urls` (new ones get the events from now on). Endpoints other replicas were given
/// are left alone: during a rolling deploy, replicas disagree for a while.
pub async fn enable_endpoints(db: &impl GenericClient, urls: &[String]) -> Result<(), DbError> {
    db.execute(
        "INSERT INTO webhook_endpoints (url) SELECT unnest($1::text[]) \
         ON CONFLICT (url) DO UPDATE SET enabled = true",
        &[&urls],
    )
    .await?;
    Ok(())
}

/// Stops delivering to `url`: no new deliveries, and its pending ones are parked (replayable
/// once it is enabled again). Returns whether such an endpoint was enabled. Two statements:
/// the update of the endpoint waits for the status changes writing deliveries to it (they hold
/// its row in share mode, migration 0011), and the park, with a snapshot taken after, sees them.
pub async fn disable_endpoint(
    db: &mut deadpool_postgres::Object,
    url: &str,
) -> Result<bool, DbError> {
    let tx = db.transaction().await?;
    let disabled = tx
        .execute(
            "UPDATE webhook_endpoints SET enabled = false WHERE url = $1 AND enabled",
            &[&url],
        )
        .await?;
    if disabled == 0 {
        return Ok(false);
    }
    // The claims go too: an attempt in flight cannot then record its outcome over the park
    // (a failure would unpark the delivery). If it was in fact delivered, a replay sends it
    // again, as with any lost answer; receivers deduplicate by webhook-id.
    tx.execute(
        "UPDATE webhook_deliveries SET parked_at = now(), claimed_until = NULL, \
             claim_token = NULL, last_error = 'endpoint disabled' \
         WHERE endpoint = $1 AND delivered_at IS NULL AND parked_at IS NULL",
        &[&url],
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Every endpoint ever enabled, and whether it is now.
pub async fn endpoints(db: &impl GenericClient) -> Result<Vec<(String, bool)>, DbError> {
    let rows = db
        .query(
            "SELECT url, enabled FROM webhook_endpoints ORDER BY created_at",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// A delivery claimed for sending, with its event.
#[derive(Clone, Debug)]
pub struct ClaimedDelivery {
    pub id: i64,
    /// What the claim was marked with: recording an outcome needs it.
    pub claim_token: Uuid,
    pub attempts: i32,
    pub event: UploadEvent,
}

/// Claims up to `limit` of `endpoint`'s due deliveries for `lease_secs`, oldest first. A
/// delivery waits while an earlier one of the same upload is pending, so each receiver sees an
/// upload's changes in order; a parked one stops holding the rest back.
pub async fn claim_due(
    db: &impl GenericClient,
    endpoint: &str,
    limit: i64,
    lease_secs: f64,
) -> Result<Vec<ClaimedDelivery>, DbError> {
    let sql = format!(
        "WITH claimed AS ( \
             UPDATE webhook_deliveries d SET claimed_until = now() + make_interval(secs => $3), \
                 claim_token = $4 \
             WHERE d.id IN ( \
                 SELECT c.id FROM webhook_deliveries c \
                 WHERE c.endpoint = $1 AND c.delivered_at IS NULL AND c.parked_at IS NULL \
                   AND c.next_attempt_at <= now() \
                   AND (c.claimed_until IS NULL OR c.claimed_until < now()) \
                   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
                       WHERE p.endpoint = c.endpoint AND p.upload_id = c.upload_id \
                         AND p.id < c.id AND p.delivered_at IS NULL AND p.parked_at IS NULL) \
                 ORDER BY c.next_attempt_at, c.id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING d.id, d.attempts, d.event_id, d.claim_token) \
         SELECT claimed.id AS delivery_id, claimed.attempts, claimed.claim_token, {} \
         JOIN claimed ON claimed.event_id = e.id ORDER BY claimed.id",
        event_source("e")
    );
    let token = Uuid::new_v4();
    let rows = db
        .query(
            &cached(db, &sql).await?,
            &[&endpoint, &limit, &lease_secs, &token],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(ClaimedDelivery {
                id: row.get("delivery_id"),
                claim_token: row.get("claim_token"),
                attempts: row.get("attempts"),
                event: event_from_row(row)?,
            })
        })
        .collect()
}

/// Records a 2xx answer to the claim `token` made. Returns false when that claim is no longer
/// held (the endpoint was disabled meanwhile, or the lease ran out): nothing recorded.
pub async fn mark_delivered(
    db: &impl GenericClient,
    id: i64,
    token: Uuid,
    status: u16,
) -> Result<bool, DbError> {
    let statement = cached(
        db,
        "UPDATE webhook_deliveries SET delivered_at = now(), attempts = attempts + 1, \
             last_status = $3, last_error = NULL, claimed_until = NULL \
         WHERE id = $1 AND claim_token = $2 AND delivered_at IS NULL",
    )
    .await?;
    let recorded = db
        .execute(&statement, &[&id, &token, &i32::from(status)])
        .await?;
    Ok(recorded == 1)
}

/// What became of a failed attempt's delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Due again after a delay.
    Retrying,
    /// That was its last attempt.
    Parked,
    /// Its claim was no longer held (its endpoint was disabled meanwhile, or the lease ran
    /// out): nothing recorded.
    ClaimLost,
}

/// Records a failed attempt of the claim `token` made: the delivery waits a jittered,
/// doubling delay, or is parked after its last attempt. The upload's later deliveries to the
/// endpoint wait at least as long (they go out after it), so claims need not skip them.
pub async fn record_failure(
    db: &impl GenericClient,
    id: i64,
    token: Uuid,
    status: Option<u16>,
    error: &str,
    retry: RetryPolicy,
) -> Result<AfterFailure, DbError> {
    let statement = cached(
        db,
        "WITH failed AS ( \
             UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $2, \
                 last_error = $3, claimed_until = NULL, \
                 next_attempt_at = now() + make_interval(secs => \
                     least($5, $4 * power(2, least(attempts, 30))) * (0.5 + random() / 2)), \
                 parked_at = CASE WHEN attempts + 1 >= $6 THEN now() END \
             WHERE id = $1 AND claim_token = $7 AND delivered_at IS NULL AND parked_at IS NULL \
             RETURNING endpoint, upload_id, next_attempt_at, parked_at), \
         held_back AS ( \
             UPDATE webhook_deliveries later \
             SET next_attempt_at = greatest(later.next_attempt_at, failed.next_attempt_at) \
             FROM failed \
             WHERE failed.parked_at IS NULL AND later.endpoint = failed.endpoint \
               AND later.upload_id = failed.upload_id AND later.id > $1 \
               AND later.delivered_at IS NULL AND later.parked_at IS NULL) \
         SELECT (SELECT parked_at IS NOT NULL FROM failed)",
    )
    .await?;
    let row = db
        .query_one(
            &statement,
            &[
                &id,
                &status.map(i32::from),
                &error,
                &retry.base_secs,
                &retry.max_secs,
                &(retry.max_attempts as i32),
                &token,
            ],
        )
        .await?;
    Ok(match row.get::<_, Option<bool>>(0) {
        None => AfterFailure::ClaimLost,
        Some(true) => AfterFailure::Parked,
        Some(false) => AfterFailure::Retrying,
    })
}

/// Which deliveries a listing shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Parked,
}

impl DeliveryState {
    fn condition(self) -> &'static str {
        match self {
            Self::Pending => "d.delivered_at IS NULL AND d.parked_at IS NULL",
            Self::Delivered => "d.delivered_at IS NOT NULL",
            Self::Parked => "d.parked_at IS NOT NULL",
        }
    }
}

/// A delivery as operators see it.
#[derive(Clone, Debug)]
pub struct DeliveryRecord {
    pub id: i64,
    pub endpoint: String,
    pub event_id: Uuid,
    pub upload_id: Uuid,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub parked_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
}

/// Up to `limit` deliveries in `state` (all when `None`), optionally of one upload, newest
/// first.
pub async fn list(
    db: &impl GenericClient,
    state: Option<DeliveryState>,
    upload_id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DeliveryRecord>, DbError> {
    let condition = state.map_or("true", DeliveryState::condition);
    let sql = format!(
        "SELECT d.id, d.endpoint, e.event_id, d.upload_id, e.status, d.attempts, \
             d.next_attempt_at, d.delivered_at, d.parked_at, d.last_status, d.last_error \
         FROM webhook_deliveries d JOIN upload_events e ON e.id = d.event_id \
         WHERE {condition} AND ($1::uuid IS NULL OR d.upload_id = $1) \
         ORDER BY d.id DESC LIMIT $2"
    );
    let rows = db.query(&sql, &[&upload_id, &limit]).await?;
    Ok(rows
        .iter()
        .map(|row| DeliveryRecord {
            id: row.get(0),
            endpoint: row.get(1),
            event_id: row.get(2),
            upload_id: row.get(3),
            status: row.get(4),
            attempts: row.get(5),
            next_attempt_at: row.get(6),
            delivered_at: row.get(7),
            parked_at: row.get(8),
            last_status: row.get(9),
            last_error: row.get(10),
        })
        .collect())
}

/// Makes parked deliveries to enabled endpoints (all, or those of one upload) due again with
/// fresh attempts and wakes the workers. Returns how many.
pub async fn replay_parked(
    db: &impl GenericClient,
    upload_id: Option<Uuid>,
) -> Result<u64, DbError> {
    let sql = format!(
        "WITH replayed AS ( \
             UPDATE webhook_deliveries SET parked_at = NULL, attempts = 0, \
                 next_attempt_at = now(), claimed_until = NULL \
             WHERE parked_at IS NOT NULL AND ($1::uuid IS NULL OR upload_id = $1) \
               AND endpoint IN (SELECT url FROM webhook_endpoints WHERE enabled) \
             RETURNING event_id), \
         woken AS (SELECT pg_notify('{}', '0') FROM (SELECT 1 FROM replayed LIMIT 1) one) \
         SELECT (SELECT count(*) FROM replayed), (SELECT count(*) FROM woken)",
        super::events::CHANNEL
    );
    let row = db.query_one(&sql, &[&upload_id]).await?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Deliveries not yet done (due or waiting for a retry), the age in seconds of the oldest, and
/// parked ones, over the enabled endpoints.
pub async fn backlog(db: &impl GenericClient) -> Result<(i64, f64, i64), DbError> {
    let row = db
        .query_one(
            "SELECT count(*) FILTER (WHERE d.parked_at IS NULL), \
                 coalesce(extract(epoch FROM now() - min(e.occurred_at) \
                     FILTER (WHERE d.parked_at IS NULL))::float8, 0), \
                 count(*) FILTER (WHERE d.parked_at IS NOT NULL) \
             FROM webhook_deliveries d JOIN upload_events e ON e.id = d.event_id \
             JOIN webhook_endpoints w ON w.url = d.endpoint AND w.enabled \
             WHERE d.delivered_at IS NULL",
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1), row.get(2)))
}
