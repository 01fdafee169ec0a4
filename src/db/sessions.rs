//! SQL for the `upload_sessions` table: Uppy sessions that can be revoked and can cap uploads.

use chrono::{DateTime, Utc};
use std::sync::LazyLock;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::uploads::{self, COLUMNS};
use super::{DbError, cached};
use crate::domain::Upload;

/// A session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    pub id: Uuid,
    pub owner: String,
    pub origin: Option<String>,
    pub max_uploads: Option<i32>,
    pub expires_at: DateTime<Utc>,
}

/// Stores a session unless its owner already has `max_active` active ones. Returns whether
/// it was stored.
pub async fn insert_capped(
    db: &impl GenericClient,
    session: &StoredSession,
    max_active: i64,
) -> Result<bool, DbError> {
    let statement = cached(
        db,
        "INSERT INTO upload_sessions (id, owner, origin, max_uploads, expires_at) \
         SELECT $1, $2, $3, $4, $5 \
         WHERE (SELECT count(*) FROM upload_sessions \
                WHERE owner = $2 AND revoked_at IS NULL AND expires_at > now()) < $6",
    )
    .await?;
    let inserted = db
        .execute(
            &statement,
            &[
                &session.id,
                &session.owner,
                &session.origin,
                &session.max_uploads,
                &session.expires_at,
                &max_active,
            ],
        )
        .await?;
    Ok(inserted == 1)
}

/// The session, if it exists, is not revoked and has not expired.
pub async fn active(db: &impl GenericClient, id: Uuid) -> Result<Option<StoredSession>, DbError> {
    let statement = cached(
        db,
        "SELECT id, owner, origin, max_uploads, expires_at FROM upload_sessions \
         WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()",
    )
    .await?;
    Ok(db
        .query_opt(&statement, &[&id])
        .await?
        .map(|row| stored(&row)))
}

/// A session's columns, the first five of a row.
fn stored(row: &Row) -> StoredSession {
    StoredSession {
        id: row.get(0),
        owner: row.get(1),
        origin: row.get(2),
        max_uploads: row.get(3),
        expires_at: row.get(4),
    }
}

/// [`active`], and beside it the upload `owner`'s multipart upload `upload_id` of `key`
/// names, if there is one: the two reads of every call on a session's multipart upload, in
/// one round trip. The upload is the claimed owner's; the caller must still check that the
/// session's stored owner is that owner.
pub async fn active_with_upload(
    db: &impl GenericClient,
    id: Uuid,
    owner: &str,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<Option<(StoredSession, Option<Upload>)>, DbError> {
    // Built once: this runs on every call that names a session's upload.
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT s.id AS session_id, s.owner AS session_owner, s.origin AS session_origin, \
                s.max_uploads AS session_max_uploads, s.expires_at AS session_expires_at, u.* \
         FROM upload_sessions s LEFT JOIN LATERAL ( \
             SELECT {COLUMNS} FROM uploads \
             WHERE bucket = $3 AND key = $4 AND owner = $2 AND storage_upload_id = $5 \
         ) u ON true \
         WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()"
        )
    });
    let statement = cached(db, &SQL).await?;
    let Some(row) = db
        .query_opt(&statement, &[&id, &owner, &bucket, &key, &upload_id])
        .await?
    else {
        return Ok(None);
    };
    // The upload's columns follow the session's five (renamed, so that the upload's are
    // found by their names); its id is null when none matched.
    let upload = match row.get::<_, Option<Uuid>>("id") {
        Some(_) => Some(uploads::from_row(&row)?),
        None => None,
    };
    Ok(Some((stored(&row), upload)))
}

/// Counts one more upload against an active session, unless its cap is reached. Returns
/// whether it was counted.
pub async fn count_upload(db: &impl GenericClient, id: Uuid) -> Result<bool, DbError> {
    let statement = cached(
        db,
        "UPDATE upload_sessions SET uploads = uploads + 1 \
         WHERE id = $1 AND revoked_at IS NULL AND expires_at > now() \
           AND (max_uploads IS NULL OR uploads < max_uploads)",
    )
    .await?;
    Ok(db.execute(&statement, &[&id]).await? == 1)
}

/// Gives back an upload counted by [`count_upload`] whose creation then failed.
pub async fn uncount_upload(db: &impl GenericClient, id: Uuid) -> Result<(), DbError> {
    let statement = cached(
        db,
        "UPDATE upload_sessions SET uploads = uploads - 1 WHERE id = $1 AND uploads > 0",
    )
    .await?;
    db.execute(&statement, &[&id]).await?;
    Ok(())
}

/// Revokes the owner's session. Returns whether the owner has such a session (revoking twice
/// is harmless).
pub async fn revoke(db: &impl GenericClient, id: Uuid, owner: &str) -> Result<bool, DbError> {
    let statement = cached(
        db,
        "UPDATE upload_sessions SET revoked_at = coalesce(revoked_at, now()) \
         WHERE id = $1 AND owner = $2",
    )
    .await?;
    Ok(db.execute(&statement, &[&id, &owner]).await? == 1)
}

/// Forgets sessions that expired more than `after_secs` ago; returns how many.
pub async fn delete_expired(db: &impl GenericClient, after_secs: f64) -> Result<u64, DbError> {
    let statement = cached(
        db,
        "DELETE FROM upload_sessions WHERE expires_at < now() - make_interval(secs => $1)",
    )
    .await?;
    Ok(db.execute(&statement, &[&after_secs]).await?)
}
