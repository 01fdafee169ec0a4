//! SQL for the `outbox` table: jobs written with the confirmation, published by the relay.
//! Uploads found by id test their status as `(status = ...) IS TRUE` (see `db::uploads`).

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

/// `pending` -> `uploaded` with the object's `etag`, and the upload's processing job written to
/// the outbox, in one statement (so one commit): a confirmed upload always has its job. The
/// relays are woken at commit. Returns the upload, or `None` when it was not pending.
pub async fn mark_uploaded_with_job(
    db: &impl GenericClient,
    upload_id: Uuid,
    etag: Option<&str>,
    trigger_received_at: DateTime<Utc>,
) -> Result<Option<Upload>, DbError> {
    let sql = format!(
        "WITH confirmed AS ( \
             UPDATE uploads \
             SET status = 'uploaded', etag = $2, confirmed_at = now(), updated_at = now() \
             WHERE id = $1 AND (status = 'pending') IS TRUE RETURNING {columns}), \
         added AS ( \
             INSERT INTO outbox (upload_id, task_id, trigger_received_at, created_at) \
             SELECT id, $3, $4, clock_timestamp() FROM confirmed \
             ON CONFLICT (upload_id) DO NOTHING RETURNING id), \
         woken AS (SELECT pg_notify('{CHANNEL}', '') FROM added) \
         SELECT confirmed.*, (SELECT count(*) FROM woken) AS woken FROM confirmed",
        columns = columns_of("uploads"),
    );
    let row = db
        .query_opt(
            &cached(db, &sql).await?,
            &[&upload_id, &etag, &Uuid::new_v4(), &trigger_received_at],
        )
        .await?;
    row.as_ref().map(upload_from_row).transpose()
}

/// How failed publishes are retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts before a job is parked.
    pub max_attempts: u32,
    /// Delay after the first failure; it doubles with each one (with jitter), up to `max_secs`.
    pub base_secs: f64,
    pub max_secs: f64,
}

/// Jobs one claim took, and the token that names the claim: a failure or a release is
/// recorded only while the jobs are still under it.
#[derive(Clone, Debug)]
pub struct ClaimedJobs {
    pub token: Uuid,
    pub jobs: Vec<PendingJob>,
}

/// Claims up to `limit` jobs that are due, oldest first, for `lease_secs`: other relays skip
/// them until the lease runs out, and no row lock or transaction outlives this statement.
/// A rejected upload's job (its object was replaced) never goes out.
pub async fn claim_due(
    db: &impl GenericClient,
    limit: i64,
    lease_secs: f64,
) -> Result<ClaimedJobs, DbError> {
    let sql = format!(
        "UPDATE outbox o SET claimed_until = now() + make_interval(secs => $2), \
             claim_token = $3 \
         FROM uploads u \
         WHERE u.id = o.upload_id AND o.id IN ( \
             SELECT j.id FROM outbox j JOIN uploads ju ON ju.id = j.upload_id \
             WHERE j.published_at IS NULL AND j.parked_at IS NULL AND j.next_attempt_at <= now() \
               AND (j.claimed_until IS NULL OR j.claimed_until < now()) \
               AND ju.status <> 'rejected' \
             ORDER BY j.next_attempt_at, j.id LIMIT $1 FOR UPDATE OF j SKIP LOCKED) \
         RETURNING o.id AS outbox_id, o.task_id, o.trigger_received_at, {}",
        columns_of("u")
    );
    let token = Uuid::new_v4();
    let rows = db
        .query(&cached(db, &sql).await?, &[&limit, &lease_secs, &token])
        .await?;
    let mut jobs = rows
        .iter()
        .map(|row| {
            Ok(PendingJob {
                outbox_id: row.get("outbox_id"),
                task_id: row.get("task_id"),
                trigger_received_at: row.get("trigger_received_at"),
                upload: upload_from_row(row)?,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    jobs.sort_by_key(|job| job.outbox_id);
    Ok(ClaimedJobs { token, jobs })
}

/// Marks jobs published and their uploads `processing` (unless the worker already reported).
/// A job withheld while it was going out (its upload rejected) went out all the same: it is
/// published, not parked (the upload stays rejected, with its reason).
pub async fn mark_published(db: &impl GenericClient, jobs: &[&PendingJob]) -> Result<(), DbError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let outbox_ids: Vec<i64> = jobs.iter().map(|job| job.outbox_id).collect();
    let statement = cached(
        db,
        "WITH published AS ( \
             UPDATE outbox SET published_at = clock_timestamp(), attempts = attempts + 1, \
                 last_error = NULL, claimed_until = NULL, parked_at = NULL \
             WHERE id = ANY($1) AND published_at IS NULL RETURNING upload_id) \
         UPDATE uploads SET status = 'processing', updated_at = now() \
         WHERE id IN (SELECT upload_id FROM published) AND (status = 'uploaded') IS TRUE",
    )
    .await?;
    db.execute(&statement, &[&outbox_ids]).await?;
    Ok(())
}

/// Records a failed attempt of the claim `token` made: the job waits a jittered, doubling
/// delay, or is parked after its last attempt. Returns how many were parked. A job withheld
/// while it was out (its upload rejected) stays withheld.
pub async fn record_failure(
    db: &impl GenericClient,
    outbox_ids: &[i64],
    token: Uuid,
    error: &str,
    retry: RetryPolicy,
) -> Result<u64, DbError> {
    let statement = cached(
        db,
        "WITH failed AS ( \
             UPDATE outbox SET attempts = attempts + 1, last_error = $2, claimed_until = NULL, \
                 next_attempt_at = now() + make_interval(secs => \
                     least($4, $3 * power(2, least(attempts, 30))) * (0.5 + random() / 2)), \
                 parked_at = CASE WHEN attempts + 1 >= $5 THEN now() END \
             WHERE id = ANY($1) AND claim_token = $6 AND published_at IS NULL \
               AND parked_at IS NULL \
             RETURNING parked_at) \
         SELECT count(*) FILTER (WHERE parked_at IS NOT NULL) FROM failed",
    )
    .await?;
    let row = db
        .query_one(
            &statement,
            &[
                &outbox_ids,
                &error,
                &retry.base_secs,
                &retry.max_secs,
                &(retry.max_attempts as i32),
                &token,
            ],
        )
        .await?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Gives back claimed jobs the broker as a whole failed (a broken connection, no confirm in
/// time): no attempt is counted (the jobs did nothing wrong), they are due again after
/// `delay_secs`. One withheld meanwhile keeps its reason; one claimed anew since `token`'s
/// claim keeps its newer lease.
pub async fn release(
    db: &impl GenericClient,
    outbox_ids: &[i64],
    token: Uuid,
    error: &str,
    delay_secs: f64,
) -> Result<(), DbError> {
    let statement = cached(
        db,
        "UPDATE outbox SET claimed_until = NULL, last_error = $2, \
             next_attempt_at = now() + make_interval(secs => $3) \
         WHERE id = ANY($1) AND claim_token = $4 AND published_at IS NULL \
           AND parked_at IS NULL",
    )
    .await?;
    db.execute(&statement, &[&outbox_ids, &error, &delay_secs, &token])
        .await?;
    Ok(())
}

/// A job parked after its last attempt, for operators.
#[derive(Clone, Debug)]
pub struct ParkedJob {
    pub upload_id: Uuid,
    pub task_id: Uuid,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub parked_at: DateTime<Utc>,
}

pub async fn list_parked(db: &impl GenericClient, limit: i64) -> Result<Vec<ParkedJob>, DbError> {
    let rows = db
        .query(
            "SELECT upload_id, task_id, attempts, last_error, parked_at FROM outbox \
             WHERE parked_at IS NOT NULL ORDER BY parked_at LIMIT $1",
            &[&limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| ParkedJob {
            upload_id: row.get(0),
            task_id: row.get(1),
            attempts: row.get(2),
            last_error: row.get(3),
            parked_at: row.get(4),
        })
        .collect())
}

/// Makes parked jobs (all, or the one of `upload_id`) due again with fresh attempts, and wakes
/// the relays. Returns how many.
pub async fn replay_parked(
    db: &impl GenericClient,
    upload_id: Option<Uuid>,
) -> Result<u64, DbError> {
    let sql = format!(
        "WITH replayed AS ( \
             UPDATE outbox SET parked_at = NULL, attempts = 0, next_attempt_at = now(), \
                 claimed_until = NULL \
             WHERE parked_at IS NOT NULL AND ($1::uuid IS NULL OR upload_id = $1) \
               AND upload_id NOT IN (SELECT id FROM uploads WHERE status = 'rejected') \
             RETURNING id), \
         woken AS (SELECT pg_notify('{CHANNEL}', '') FROM (SELECT 1 FROM replayed LIMIT 1) one) \
         SELECT (SELECT count(*) FROM replayed), (SELECT count(*) FROM woken)"
    );
    let row = db.query_one(&sql, &[&upload_id]).await?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Jobs waiting to be published, the age in seconds of the oldest, and parked jobs.
pub async fn lag(db: &impl GenericClient) -> Result<(i64, f64, i64), DbError> {
    let row = db
        .query_one(
            "SELECT count(*) FILTER (WHERE parked_at IS NULL), \
                 coalesce(extract(epoch FROM now() - min(created_at) \
                     FILTER (WHERE parked_at IS NULL))::float8, 0), \
                 count(*) FILTER (WHERE parked_at IS NOT NULL) \
             FROM outbox WHERE published_at IS NULL",
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1), row.get(2)))
}
