//! SQL for `idempotency_keys`: which upload a client's `Idempotency-Key` created.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::{DbError, cached};

/// What claiming a key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours to create with.
    Ours,
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
        "INSERT INTO idempotency_keys AS k (owner, key, fingerprint) VALUES ($1, $2, $3) \
         ON CONFLICT (owner, key) DO UPDATE \
             SET fingerprint = EXCLUDED.fingerprint, upload_id = NULL, created_at = now() \
             WHERE k.created_at < now() - make_interval(secs => $4) \
                OR (k.upload_id IS NULL AND k.created_at < now() - make_interval(secs => $5)) \
         RETURNING 1",
    )
    .await?;
    let claimed = db
        .query_opt(
            &claim,
            &[&owner, &key, &fingerprint, &lifetime_secs, &abandoned_secs],
        )
        .await?;
    if claimed.is_some() {
        return Ok(Claim::Ours);
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

/// Names the upload a claimed key created (in the transaction that records the upload).
pub async fn attach(
    db: &impl GenericClient,
    owner: &str,
    key: &str,
    upload_id: Uuid,
) -> Result<(), DbError> {
    let statement = cached(
        db,
        "UPDATE idempotency_keys SET upload_id = $3 WHERE owner = $1 AND key = $2",
    )
    .await?;
    db.execute(&statement, &[&owner, &key, &upload_id]).await?;
    Ok(())
}

/// Gives up a claim whose create failed, so a retry (with a corrected body, say) may create.
pub async fn release(db: &impl GenericClient, owner: &str, key: &str) -> Result<(), DbError> {
    let statement = cached(
        db,
        "DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 AND upload_id IS NULL",
    )
    .await?;
    db.execute(&statement, &[&owner, &key]).await?;
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
