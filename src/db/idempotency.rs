//! SQL for `idempotency_keys`: which upload a client's `Idempotency-Key` created.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::{DbError, cached};

/// What claiming a key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours to create with, as claimed at this instant. A takeover moves the
    /// instant by at least the abandonment delay, so it names this claim: attaching or
    /// releasing with it does nothing once another request has taken the key over.
    Ours { claimed_at: DateTime<Utc> },
    /// Another request holds it: with this declaration, and its upload once created.
    Held {
        fingerprint: Vec<u8>,
        upload_id: Option<Uuid>,
    },
}

/// Claims `owner`'s `key` for a declaration with `fingerprint`. A key older than
/// `lifetime_secs`, or claimed `abandoned_secs` ago without an upload (its request died), is
/// taken over.
pub async fn claim(
    db: &impl GenericClient,
    owner: &str,
    key: &str,
    fingerprint: &[u8],
    lifetime_secs: f64,
    abandoned_secs: f64,
) -> Result<Claim, DbError> {
    let claim = cached(
        db,
        // The clock, not the transaction's start: a claim that waited for the row is as old
        // as it is, and no older.
        "INSERT INTO idempotency_keys AS k (owner, key, fingerprint, created_at) \
             VALUES ($1, $2, $3, clock_timestamp()) \
         ON CONFLICT (owner, key) DO UPDATE \
             SET fingerprint = EXCLUDED.fingerprint, upload_id = NULL, \
                 created_at = clock_timestamp() \
             WHERE k.created_at < now() - make_interval(secs => $4) \
                OR (k.upload_id IS NULL AND k.created_at < now() - make_interval(secs => $5)) \
         RETURNING created_at",
    )
    .await?;
    let claimed = db
        .query_opt(
            &claim,
            &[&owner, &key, &fingerprint, &lifetime_secs, &abandoned_secs],
        )
        .await?;
    if let Some(row) = claimed {
        return Ok(Claim::Ours {
            claimed_at: row.get(0),
        });
    }
    let held = cached(
        db,
        "SELECT fingerprint, upload_id FROM idempotency_keys WHERE owner = $1 AND key = $2",
    )
    .await?;
    Ok(match db.query_opt(&held, &[&owner, &key]).await? {
        Some(row) => Claim::Held {
            fingerprint: row.get(0),
            upload_id: row.get(1),
        },
        // Released between the two statements: held by nobody, so to be claimed again.
        None => Claim::Held {
            fingerprint: fingerprint.to_vec(),
            upload_id: None,
        },
    })
}

/// Names the upload the claim made at `claimed_at` created (in the transaction that records
/// the upload). Returns false when the claim is no longer held: a retry took the key over
/// while this request stalled past the abandonment delay, and the key is the retry's.
pub async fn attach(
    db: &impl GenericClient,
    owner: &str,
    key: &str,
    claimed_at: DateTime<Utc>,
    upload_id: Uuid,
) -> Result<bool, DbError> {
    let statement = cached(
        db,
        "UPDATE idempotency_keys SET upload_id = $4 \
         WHERE owner = $1 AND key = $2 AND created_at = $3 AND upload_id IS NULL",
    )
    .await?;
    let attached = db
        .execute(&statement, &[&owner, &key, &claimed_at, &upload_id])
        .await?;
    Ok(attached == 1)
}

/// Gives up the claim made at `claimed_at` whose create failed, so a retry (with a corrected
/// body, say) may create; a claim another request has taken over stays.
pub async fn release(
    db: &impl GenericClient,
    owner: &str,
    key: &str,
    claimed_at: DateTime<Utc>,
) -> Result<(), DbError> {
    let statement = cached(
        db,
        "DELETE FROM idempotency_keys \
         WHERE owner = $1 AND key = $2 AND created_at = $3 AND upload_id IS NULL",
    )
    .await?;
    db.execute(&statement, &[&owner, &key, &claimed_at]).await?;
    Ok(())
}

/// Forgets up to `limit` keys older than `lifetime_secs`. Returns how many went.
pub async fn prune(
    db: &impl GenericClient,
    lifetime_secs: f64,
    limit: i64,
) -> Result<u64, DbError> {
    let statement = cached(
        db,
        "DELETE FROM idempotency_keys WHERE ctid IN ( \
             SELECT ctid FROM idempotency_keys \
             WHERE created_at < now() - make_interval(secs => $1) \
             ORDER BY created_at LIMIT $2)",
    )
    .await?;
    Ok(db.execute(&statement, &[&lifetime_secs, &limit]).await?)
}
