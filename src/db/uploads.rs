//! SQL for the `uploads` table. Every status change is conditional on the current status, so a
//! second caller racing the first changes nothing.
//!
//! A statement that finds a row by its id tests the status as `(status = ...) IS TRUE`, which
//! no index on `status` can serve: statuses come and go, and with statistics taken while none
//! was pending the planner found "the pending upload with this id" by scanning every pending
//! upload through a status index (4,608 buffers for 5,434 pending uploads, against 5 through
//! the primary key).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::quotas::Usage;
use super::{DbError, cached};
use crate::config::OwnerQuotas;
use crate::domain::{ChecksumAlgorithm, Checksums, PartPlan, Upload, UploadStatus};

pub(super) const COLUMNS: &str = "id, owner, title, filename, content_type, size, bucket, key, \
     storage_upload_id, multipart, part_size, part_count, status, reason, etag, metadata, \
     created_at, updated_at, expires_at, confirmed_at, output_location, processed_at, \
     checksum_algorithm, part_checksums, sha256";

fn checksums_from_row(row: &Row) -> Result<Checksums, DbError> {
    let algorithm = row
        .get::<_, Option<String>>("checksum_algorithm")
        .map(|name| {
            ChecksumAlgorithm::parse(&name)
                .ok_or_else(|| DbError::Corrupt(format!("checksum algorithm {name:?}")))
        })
        .transpose()?;
    Ok(Checksums {
        algorithm,
        parts: row
            .get::<_, Option<Vec<Option<String>>>>("part_checksums")
            .unwrap_or_default(),
        sha256: row.get("sha256"),
    })
}

pub(super) fn from_row(row: &Row) -> Result<Upload, DbError> {
    let status: String = row.get("status");
    let size: i64 = row.get("size");
    let part_size: i64 = row.get("part_size");
    let part_count: i32 = row.get("part_count");
    Ok(Upload {
        id: row.get("id"),
        owner: row.get("owner"),
        title: row.get("title"),
        filename: row.get("filename"),
        content_type: row.get("content_type"),
        bucket: row.get("bucket"),
        key: row.get("key"),
        storage_upload_id: row.get("storage_upload_id"),
        plan: PartPlan::from_stored(
            size as u64,
            part_size as u64,
            part_count as u32,
            row.get("multipart"),
        ),
        status: status
            .parse::<UploadStatus>()
            .map_err(|e| DbError::Corrupt(e.to_string()))?,
        reason: row.get("reason"),
        etag: row.get("etag"),
        metadata: row.get("metadata"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        expires_at: row.get("expires_at"),
        confirmed_at: row.get("confirmed_at"),
        output_location: row.get("output_location"),
        processed_at: row.get("processed_at"),
        checksums: checksums_from_row(row)?,
    })
}

fn one(row: Option<Row>) -> Result<Option<Upload>, DbError> {
    row.as_ref().map(from_row).transpose()
}

/// What [`insert_within_quotas`] decided, and the owner's usage it decided on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Admission {
    pub admitted: bool,
    /// Before this upload: what a refusal is explained by.
    pub usage: Usage,
}

/// Inserts `upload` if its owner's quotas admit it, spending one create from the owner's
/// allowance, in one statement: the owner's usage row is locked and read at its latest (as an
/// upsert reads a conflicting row), so creates racing on any replica cannot overshoot. The
/// triggers of migration 0010 then count the upload as pending.
pub async fn insert_within_quotas(
    db: &impl GenericClient,
    upload: &Upload,
    quotas: &OwnerQuotas,
) -> Result<Admission, DbError> {
    // $20 creates per minute, $21 pending uploads, $22 pending bytes. A refusal still updates
    // the row (to itself): ON CONFLICT DO UPDATE returns only rows it updated, and the usage
    // is what explains the refusal.
    let insert = cached(
        db,
        "WITH admitted AS ( \
             INSERT INTO owner_usage AS u (owner, create_tokens, tokens_at, last_admitted) \
                 VALUES ($2, CASE WHEN $6 <= $22::bigint THEN $20::float8 - 1 END, now(), \
                         CASE WHEN $6 <= $22::bigint THEN $1::uuid END) \
             ON CONFLICT (owner) DO UPDATE SET \
                 (create_tokens, tokens_at, last_admitted) = ( \
                     SELECT CASE WHEN fits THEN allowance - 1 ELSE u.create_tokens END, \
                            CASE WHEN fits THEN now() ELSE u.tokens_at END, \
                            CASE WHEN fits THEN $1::uuid ELSE u.last_admitted END \
                     FROM (SELECT allowance, \
                                  u.pending_uploads < $21::bigint \
                                      AND u.pending_bytes + $6 <= $22::bigint \
                                      AND allowance >= 1 AS fits \
                           FROM (SELECT owner_create_allowance(u.create_tokens, u.tokens_at, \
                                                               $20::float8) AS allowance) a) f) \
             RETURNING last_admitted IS NOT DISTINCT FROM $1::uuid AS admitted, \
                 pending_uploads, pending_bytes, \
                 CASE WHEN last_admitted IS NOT DISTINCT FROM $1::uuid \
                      THEN create_tokens + 1 \
                      ELSE owner_create_allowance(create_tokens, tokens_at, $20::float8) END \
                     AS allowance), \
         inserted AS ( \
             INSERT INTO uploads (id, owner, title, filename, content_type, size, bucket, key, \
                 storage_upload_id, multipart, part_size, part_count, status, metadata, \
                 created_at, updated_at, expires_at, checksum_algorithm, part_checksums, sha256) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, \
                 $17, $18, $19 FROM admitted WHERE admitted \
             RETURNING 1) \
         SELECT admitted, pending_uploads, pending_bytes, coalesce(allowance, $20::float8), \
             (SELECT count(*) FROM inserted) FROM admitted",
    )
    .await?;
    let row = db
        .query_one(
            &insert,
            &[
                &upload.id,
                &upload.owner,
                &upload.title,
                &upload.filename,
                &upload.content_type,
                &(upload.plan.size as i64),
                &upload.bucket,
                &upload.key,
                &upload.storage_upload_id,
                &upload.plan.multipart,
                &(upload.plan.part_size as i64),
                &(upload.plan.part_count as i32),
                &upload.status.as_str(),
                &upload.metadata,
                &upload.created_at,
                &upload.expires_at,
                &upload.checksums.algorithm.map(ChecksumAlgorithm::as_str),
                &(!upload.checksums.parts.is_empty()).then_some(&upload.checksums.parts),
                &upload.checksums.sha256,
                &(quotas.creates_per_minute as f64),
                &quotas.max_pending_uploads,
                &quotas.max_pending_bytes,
            ],
        )
        .await?;
    let inserted: i64 = row.get(4);
    Ok(Admission {
        admitted: row.get::<_, bool>(0) && inserted == 1,
        usage: Usage {
            pending_uploads: row.get(1),
            pending_bytes: row.get(2),
            create_allowance: row.get(3),
        },
    })
}

/// The part checksums of a pending upload, locked until `tx` ends, so checksums given by two
/// requests at once are merged one after the other.
pub async fn lock_part_checksums(
    tx: &impl GenericClient,
    id: Uuid,
) -> Result<Option<Vec<Option<String>>>, DbError> {
    let statement = cached(
        tx,
        "SELECT part_checksums FROM uploads WHERE id = $1 AND (status = 'pending') IS TRUE FOR UPDATE",
    )
    .await?;
    Ok(tx.query_opt(&statement, &[&id]).await?.map(|row| {
        row.get::<_, Option<Vec<Option<String>>>>(0)
            .unwrap_or_default()
    }))
}

pub async fn set_part_checksums(
    tx: &impl GenericClient,
    id: Uuid,
    checksums: &[Option<String>],
) -> Result<(), DbError> {
    let statement = cached(
        tx,
        "UPDATE uploads SET part_checksums = $2, updated_at = now() WHERE id = $1",
    )
    .await?;
    tx.execute(&statement, &[&id, &checksums]).await?;
    Ok(())
}

pub(super) fn upload_from_row(row: &Row) -> Result<Upload, DbError> {
    from_row(row)
}

/// The column list, prefixed with a table alias, for joins.
pub(super) fn columns_of(alias: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|column| format!("{alias}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How an upload is looked up: each an index lookup.
#[derive(Clone, Copy, Debug)]
pub enum Lookup<'a> {
    Id(Uuid),
    /// The owner's upload with this id (another owner's is not found).
    Owned {
        id: Uuid,
        owner: &'a str,
    },
    /// The upload storing this object, as a storage event names it.
    Object {
        bucket: &'a str,
        key: &'a str,
    },
    /// The owner's multipart upload with this key and storage upload id (Uppy names uploads
    /// so): found through the key's unique index, however many uploads the owner has.
    StorageUploadId {
        owner: &'a str,
        bucket: &'a str,
        key: &'a str,
        upload_id: &'a str,
    },
}

pub async fn find(db: &impl GenericClient, lookup: Lookup<'_>) -> Result<Option<Upload>, DbError> {
    let (condition, params): (&str, Vec<&(dyn tokio_postgres::types::ToSql + Sync)>) = match &lookup
    {
        Lookup::Id(id) => ("id = $1", vec![id]),
        Lookup::Owned { id, owner } => ("id = $1 AND owner = $2", vec![id, owner]),
        Lookup::Object { bucket, key } => ("bucket = $1 AND key = $2", vec![bucket, key]),
        Lookup::StorageUploadId {
            owner,
            bucket,
            key,
            upload_id,
        } => (
            "bucket = $1 AND key = $2 AND owner = $3 AND storage_upload_id = $4",
            vec![bucket, key, owner, upload_id],
        ),
    };
    let sql = format!("SELECT {COLUMNS} FROM uploads WHERE {condition}");
    one(db.query_opt(&cached(db, &sql).await?, &params).await?)
}

/// Position in a newest-first listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// The owner's uploads, newest first, strictly after `after` when given.
/// Up to `limit` of `owner`'s uploads (of `statuses` only, unless empty), newest first, after
/// `after`.
pub async fn list_owned(
    db: &impl GenericClient,
    owner: &str,
    statuses: &[UploadStatus],
    after: Option<ListCursor>,
    limit: i64,
) -> Result<Vec<Upload>, DbError> {
    let names: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
    // One statement per shape, each a plain index range (a `$n IS NULL OR ...` condition would
    // keep a generic plan from using the index).
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&owner, &limit];
    let mut conditions = String::from("owner = $1");
    if !names.is_empty() {
        params.push(&names);
        conditions.push_str(&format!(" AND status = ANY(${})", params.len()));
    }
    if let Some(cursor) = &after {
        params.push(&cursor.created_at);
        params.push(&cursor.id);
        let n = params.len();
        conditions.push_str(&format!(" AND (created_at, id) < (${}, ${n})", n - 1));
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM uploads WHERE {conditions} \
         ORDER BY created_at DESC, id DESC LIMIT $2"
    );
    let rows = db.query(&cached(db, &sql).await?, &params).await?;
    rows.iter().map(from_row).collect()
}

/// `pending` -> a terminal status (`aborted`, `expired`, `rejected`) with a reason.
/// Returns the updated upload, or `None` when it was not pending.
pub async fn mark_abandoned(
    db: &impl GenericClient,
    id: Uuid,
    status: UploadStatus,
    reason: &str,
) -> Result<Option<Upload>, DbError> {
    debug_assert!(status.is_abandoned());
    // The storage cleanup falls due with the transition (see `claim_cleanup`).
    let sql = format!(
        "UPDATE uploads SET status = $2, reason = $3, updated_at = now(), \
             cleanup_due_at = now(), cleanup_attempts = 0 \
         WHERE id = $1 AND (status = 'pending') IS TRUE RETURNING {COLUMNS}"
    );
    one(db
        .query_opt(&cached(db, &sql).await?, &[&id, &status.as_str(), &reason])
        .await?)
}

/// `uploaded`/`processing` -> `processed` or `failed`, with the worker's output or error.
/// Returns the updated upload, or `None` when it was in another status.
pub async fn record_result(
    db: &impl GenericClient,
    id: Uuid,
    status: UploadStatus,
    output_location: Option<&str>,
    error: Option<&str>,
) -> Result<Option<Upload>, DbError> {
    debug_assert!(matches!(
        status,
        UploadStatus::Processed | UploadStatus::Failed
    ));
    let sql = format!(
        "UPDATE uploads SET status = $2, output_location = $3, reason = $4, processed_at = now(), \
             updated_at = now() \
         WHERE id = $1 AND (status IN ('uploaded', 'processing')) IS TRUE RETURNING {COLUMNS}"
    );
    one(db
        .query_opt(
            &cached(db, &sql).await?,
            &[&id, &status.as_str(), &output_location, &error],
        )
        .await?)
}

/// A confirmed upload whose object storage shows replaced by other bytes (`etag`): rejected,
/// its object due for removal, and its job withheld if not published yet. `None` when the
/// upload is not confirmed (any more).
pub async fn mark_replaced(
    db: &impl GenericClient,
    id: Uuid,
    etag: Option<&str>,
    reason: &str,
) -> Result<Option<Upload>, DbError> {
    let sql = format!(
        "WITH withheld AS ( \
             UPDATE outbox SET parked_at = now(), last_error = $3 \
             WHERE upload_id = $1 AND published_at IS NULL AND parked_at IS NULL) \
         UPDATE uploads SET status = 'rejected', reason = $3, replaced_etag = $2, \
             updated_at = now(), cleanup_due_at = now(), cleanup_attempts = 0 \
         WHERE id = $1 AND (status IN ('uploaded', 'processing', 'processed', 'failed')) IS TRUE \
         RETURNING {COLUMNS}"
    );
    one(db
        .query_opt(&cached(db, &sql).await?, &[&id, &etag, &reason])
        .await?)
}
