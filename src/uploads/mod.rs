//! The upload use cases: declare, sign, list parts, complete, abort, read. No HTTP types here;
//! the API layers (native, and later Uppy-compatible) call these.

mod abort;
mod checksums;
mod cleanup;
mod complete;
mod completing;
mod confirm;
mod create;
mod download;
mod error;
mod expiry;
mod idempotency;
mod listing;
mod operations;
mod quota;
mod results;
mod usage_hints;

pub use checksums::DeclaredChecksums;
pub use cleanup::CleanupSweep;
pub use confirm::ConfirmOutcome;
pub use create::{CreatedUpload, PreparedUpload};
pub use download::{DownloadLink, content_disposition};
pub use error::UploadError;
pub use expiry::ExpiryOutcome;
pub use idempotency::{
    IdempotentCreate, KEY_LIFETIME as IDEMPOTENCY_KEY_LIFETIME,
    MAX_KEY_BYTES as IDEMPOTENCY_KEY_MAX_BYTES,
};
pub use listing::{MAX_LIMIT, Page, PageRequest, StorageProgress};
pub use operations::UploadStats;
pub use quota::OverQuota;
pub use results::ProcessingResult;

use std::collections::BTreeSet;
use std::sync::Arc;

use deadpool_postgres::Pool;
use serde_json::Value;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::auth::Owner;
use crate::config::UploadPolicy;
use crate::db::{self, uploads::Lookup};
use crate::domain::{PlannedPart, Upload, UploadStatus};
use crate::storage::{PartChecksum, PresignedUrl, Storage, StoredPart};

/// At most this many part URLs per signing request.
pub const MAX_PARTS_PER_REQUEST: usize = 1000;

/// What a client declares, as received.
#[derive(Clone, Debug)]
pub struct Declaration {
    pub filename: String,
    pub size: i64,
    pub content_type: String,
    pub title: String,
    pub metadata: Option<Value>,
    pub checksums: DeclaredChecksums,
}

/// How to split the bytes of a new upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanChoice {
    /// One PUT up to the multipart threshold, parts of the configured size above it.
    Auto,
    /// Multipart with parts of this size (a client that chunks by its own rule, like Uppy).
    Multipart { part_size: u64 },
    /// Parts of exactly the size the client chose (one PUT if a part holds the file).
    ChosenPartSize(u64),
    /// One request for the whole file (a browser form POST, say).
    Single,
}

/// A presigned URL for one planned part.
#[derive(Clone, Debug)]
pub struct SignedPart {
    pub part: PlannedPart,
    pub url: PresignedUrl,
}

/// The use cases, over the database and storage they coordinate.
#[derive(Clone)]
pub struct Uploads {
    db: Pool,
    storage: Storage,
    policy: UploadPolicy,
    /// Wakes this process's outbox relay right after a job is committed.
    relay_wake: Arc<Notify>,
    /// The multipart completes running here, which storage events wait for.
    completing: completing::Completing,
    /// Owners' quota usage as last seen here, so a burst of creates skips the read before
    /// storage is asked.
    usage_hints: usage_hints::UsageHints,
}

impl Uploads {
    /// What uploads are accepted and how they are planned.
    pub fn policy(&self) -> &UploadPolicy {
        &self.policy
    }

    pub fn new(db: Pool, storage: Storage, policy: UploadPolicy, relay_wake: Arc<Notify>) -> Self {
        Self {
            db,
            storage,
            policy,
            relay_wake,
            completing: completing::Completing::default(),
            usage_hints: usage_hints::UsageHints::default(),
        }
    }

    /// Whether storage refuses bytes whose declared checksum differs.
    pub fn checksums_verified(&self) -> bool {
        self.storage.checksums_enforced()
    }

    pub async fn get(&self, owner: &Owner, id: Uuid) -> Result<Upload, UploadError> {
        let client = db::client(&self.db).await?;
        db::uploads::find(
            &client,
            Lookup::Owned {
                id,
                owner: owner.as_str(),
            },
        )
        .await?
        .ok_or(UploadError::NotFound)
    }

    /// The caller's multipart upload with this storage upload id, if the key the client
    /// names is its key. Clients that speak S3's vocabulary (Uppy) identify uploads this way;
    /// neither value is trusted on its own.
    pub async fn get_by_storage_upload_id(
        &self,
        owner: &Owner,
        storage_upload_id: &str,
        key: &str,
    ) -> Result<Upload, UploadError> {
        let client = db::client(&self.db).await?;
        db::uploads::find(
            &client,
            Lookup::StorageUploadId {
                owner: owner.as_str(),
                bucket: self.storage.bucket(),
                key,
                upload_id: storage_upload_id,
            },
        )
        .await?
        .ok_or(UploadError::NotFound)
    }

    async fn get_pending(&self, owner: &Owner, id: Uuid) -> Result<Upload, UploadError> {
        let upload = self.get(owner, id).await?;
        match upload.status {
            UploadStatus::Pending => Ok(upload),
            other => Err(UploadError::NotPending(other)),
        }
    }

    /// Fresh URLs for the given parts (resuming, or replacing expired URLs).
    pub async fn sign_parts(
        &self,
        owner: &Owner,
        id: Uuid,
        numbers: &[u32],
    ) -> Result<Vec<SignedPart>, UploadError> {
        let upload = self.get_pending(owner, id).await?;
        self.sign_parts_of(&upload, numbers).await
    }

    /// [`Self::sign_parts`] for an upload already read (Uppy's routes look it up first).
    pub async fn sign_parts_of(
        &self,
        upload: &Upload,
        numbers: &[u32],
    ) -> Result<Vec<SignedPart>, UploadError> {
        if upload.status != UploadStatus::Pending {
            return Err(UploadError::NotPending(upload.status));
        }
        let numbers = check_part_numbers(upload, numbers.iter().copied())?;
        if let Some(unknown) = numbers.iter().find(|n| !upload.checksums.can_sign(**n)) {
            return Err(UploadError::PartChecksumMissing { number: *unknown });
        }
        self.sign(upload, &numbers).await
    }

    async fn sign(&self, upload: &Upload, numbers: &[u32]) -> Result<Vec<SignedPart>, UploadError> {
        let ttl = self.policy.presign_ttl();
        let mut signed = Vec::with_capacity(numbers.len());
        for part in numbers.iter().filter_map(|n| upload.plan.part(*n)) {
            let checksums = &upload.checksums;
            let checksum = checksums.algorithm.zip(checksums.of_part(part.number));
            let checksum = checksum.map(|(algorithm, digest)| PartChecksum { algorithm, digest });
            let url = match &upload.storage_upload_id {
                Some(upload_id) => {
                    self.storage
                        .presign_part(
                            &upload.key,
                            upload_id,
                            part.number,
                            part.size,
                            checksum,
                            ttl,
                        )
                        .await?
                }
                None => {
                    self.storage
                        .presign_put(&upload.key, &upload.content_type, part.size, checksum, ttl)
                        .await?
                }
            };
            signed.push(SignedPart { part, url });
        }
        Ok(signed)
    }

    /// The parts storage already holds, so a client can resume.
    pub async fn stored_parts(
        &self,
        owner: &Owner,
        id: Uuid,
    ) -> Result<Vec<StoredPart>, UploadError> {
        let upload = self.get_pending(owner, id).await?;
        self.parts_held(&upload).await
    }

    /// What storage holds of `upload` so far: its multipart upload's parts, or its object.
    pub(crate) async fn parts_held(&self, upload: &Upload) -> Result<Vec<StoredPart>, UploadError> {
        match &upload.storage_upload_id {
            Some(upload_id) => Ok(self
                .storage
                .list_parts(&upload.key, upload_id, upload.checksums.algorithm)
                .await?),
            None => Ok(self
                .storage
                .head(&upload.key)
                .await?
                .map(|object| StoredPart {
                    number: 1,
                    etag: object.etag.unwrap_or_default(),
                    size: object.size,
                    checksum: None,
                })
                .into_iter()
                .collect()),
        }
    }
}

/// Part numbers checked against S3's range, then against `plan`: a number no upload can
/// have is invalid (422); one only this plan lacks conflicts with the upload (409).
pub(super) fn check_in_plan(
    plan: &crate::domain::PartPlan,
    numbers: impl Iterator<Item = u32> + Clone,
) -> Result<(), UploadError> {
    let max = crate::domain::MAX_PARTS as u32;
    let invalid: Vec<u32> = numbers.clone().filter(|n| !(1..=max).contains(n)).collect();
    if !invalid.is_empty() {
        return Err(UploadError::InvalidPartNumbers {
            numbers: invalid,
            max,
        });
    }
    let outside: Vec<u32> = numbers.filter(|n| !plan.contains(*n)).collect();
    if !outside.is_empty() {
        return Err(UploadError::PartsOutsidePlan {
            numbers: outside,
            part_count: plan.part_count,
        });
    }
    Ok(())
}

/// The distinct part numbers asked for, if there are 1 to `MAX_PARTS_PER_REQUEST` of them and
/// all are in the upload's plan.
fn check_part_numbers(
    upload: &Upload,
    numbers: impl Iterator<Item = u32>,
) -> Result<Vec<u32>, UploadError> {
    // Counted as sent, repeats included, as the document's maxItems counts them.
    let numbers: Vec<u32> = numbers.collect();
    if numbers.is_empty() || numbers.len() > MAX_PARTS_PER_REQUEST {
        return Err(UploadError::PartRequestSize {
            max: MAX_PARTS_PER_REQUEST,
        });
    }
    check_in_plan(&upload.plan, numbers.iter().copied())?;
    let distinct: BTreeSet<u32> = numbers.into_iter().collect();
    Ok(distinct.into_iter().collect())
}
