//! The upload use cases: declare, sign, list parts, complete, abort, read. No HTTP types here;
//! the API layers (native, and later Uppy-compatible) call these.

mod abort;
mod checksums;
mod cleanup;
mod complete;
mod confirm;
mod download;
mod error;
mod expiry;
mod idempotency;
mod listing;
mod operations;
mod quota;
mod results;

pub use checksums::DeclaredChecksums;
pub use cleanup::CleanupSweep;
pub use confirm::ConfirmOutcome;
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

use chrono::{SubsecRound, Utc};
use deadpool_postgres::Pool;
use serde_json::Value;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::auth::Owner;
use crate::config::UploadPolicy;
use crate::db::{self, uploads::Lookup};
use crate::domain::{
    ContentType, Filename, InvalidInput, MAX_SINGLE_PUT_SIZE, NewUpload, PartPlan, PlannedPart,
    Title, Upload, UploadSize, UploadStatus,
};
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

/// Whether a create signs the first batch of part URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FirstUrls {
    Signed,
    None,
}

/// A presigned URL for one planned part.
#[derive(Clone, Debug)]
pub struct SignedPart {
    pub part: PlannedPart,
    pub url: PresignedUrl,
}

/// A declaration checked, planned and named, not recorded yet ([`Uploads::prepare`]).
#[derive(Debug)]
pub struct PreparedUpload {
    new: NewUpload,
    plan: PartPlan,
    checksums: crate::domain::Checksums,
    id: Uuid,
    key: String,
}

/// A new intent and the first batch of URLs to upload it.
#[derive(Clone, Debug)]
pub struct CreatedUpload {
    pub upload: Upload,
    pub parts: Vec<SignedPart>,
}

/// The use cases, over the database and storage they coordinate.
#[derive(Clone)]
pub struct Uploads {
    db: Pool,
    storage: Storage,
    policy: UploadPolicy,
    /// Wakes this process's outbox relay right after a job is committed.
    relay_wake: Arc<Notify>,
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
        }
    }

    /// Whether storage refuses bytes whose declared checksum differs.
    pub fn checksums_verified(&self) -> bool {
        self.storage.checksums_enforced()
    }

    fn parse(&self, declaration: Declaration) -> Result<NewUpload, UploadError> {
        Ok(NewUpload {
            filename: Filename::parse(&declaration.filename)?,
            title: Title::parse(&declaration.title)?,
            content_type: ContentType::parse(
                &declaration.content_type,
                &self.policy.allowed_content_types,
            )?,
            size: UploadSize::parse(declaration.size, self.policy.max_upload_size)?,
            metadata: NewUpload::parse_metadata(declaration.metadata)?,
        })
    }

    /// Records an intent, starts the multipart upload when the plan needs one, and signs the
    /// first batch of part URLs. The key is ours, never the client's.
    pub async fn create(
        &self,
        owner: &Owner,
        declaration: Declaration,
        choice: PlanChoice,
    ) -> Result<CreatedUpload, UploadError> {
        self.create_as(owner, declaration, choice, None, FirstUrls::Signed)
            .await
    }

    /// The second half of `create` for a declaration [`Self::prepare`] accepted, signing no
    /// part URL: for clients that ask for each part's URL when they upload it (Uppy), so the
    /// create does not sign up to a batch of URLs nobody reads.
    pub async fn create_prepared_unsigned(
        &self,
        owner: &Owner,
        prepared: PreparedUpload,
    ) -> Result<Upload, UploadError> {
        let created = self.start(owner, prepared, None, FirstUrls::None).await?;
        Ok(created.upload)
    }

    /// `create`, naming the upload under the claimed `idempotency_key` in the transaction
    /// that records it.
    async fn create_as(
        &self,
        owner: &Owner,
        declaration: Declaration,
        choice: PlanChoice,
        idempotency_key: Option<&str>,
        first_urls: FirstUrls,
    ) -> Result<CreatedUpload, UploadError> {
        let prepared = self.prepare(owner, declaration, choice).await?;
        self.start(owner, prepared, idempotency_key, first_urls)
            .await
    }

    /// The first half of a create, which changes nothing: the declaration checked and
    /// planned, and the owner found within quota (checked again, exactly, when recorded). A
    /// caller with checks of its own can run them meanwhile.
    pub async fn prepare(
        &self,
        owner: &Owner,
        declaration: Declaration,
        choice: PlanChoice,
    ) -> Result<PreparedUpload, UploadError> {
        let declared = declaration.checksums.clone();
        let new = self.parse(declaration)?;
        let size = new.size.get();
        let plan = match choice {
            PlanChoice::Auto => {
                PartPlan::new(size, self.policy.multipart_threshold, self.policy.part_size)
            }
            PlanChoice::Multipart { part_size } => PartPlan::multipart(size, part_size),
            PlanChoice::ChosenPartSize(part_size) => PartPlan::with_part_size(size, part_size)?,
            PlanChoice::Single if size > MAX_SINGLE_PUT_SIZE => {
                return Err(InvalidInput::TooLarge {
                    size,
                    max: MAX_SINGLE_PUT_SIZE,
                }
                .into());
            }
            PlanChoice::Single => PartPlan::single(size),
        };
        let checksums = self.checked_checksums(declared, &plan)?;
        let id = Uuid::now_v7();
        let key = format!(
            "{}/{}/{}",
            self.policy.key_prefix.trim_matches('/'),
            id,
            new.filename.key_safe()
        );
        // Checked before storage is asked for anything.
        self.within_quota(&self.usage_of(owner.as_str()).await?, plan.size)?;
        Ok(PreparedUpload {
            new,
            plan,
            checksums,
            id,
            key,
        })
    }

    /// The second half of a create: the multipart upload started, the intent recorded if the
    /// owner's quotas still admit it, the first URLs signed.
    async fn start(
        &self,
        owner: &Owner,
        prepared: PreparedUpload,
        idempotency_key: Option<&str>,
        first_urls: FirstUrls,
    ) -> Result<CreatedUpload, UploadError> {
        let PreparedUpload {
            new,
            plan,
            checksums,
            id,
            key,
        } = prepared;
        let storage_upload_id = if plan.multipart {
            Some(
                self.storage
                    .create_multipart(&key, new.content_type.as_str(), checksums.algorithm)
                    .await?,
            )
        } else {
            None
        };
        // Microseconds, as PostgreSQL stores them, so what we return equals what we read back.
        let now = Utc::now().trunc_subsecs(6);
        let upload = Upload {
            id,
            owner: owner.as_str().to_owned(),
            title: new.title.as_str().to_owned(),
            filename: new.filename.as_str().to_owned(),
            content_type: new.content_type.as_str().to_owned(),
            bucket: self.storage.bucket().to_owned(),
            key,
            storage_upload_id,
            plan,
            status: UploadStatus::Pending,
            reason: None,
            etag: None,
            metadata: new.metadata,
            created_at: now,
            updated_at: now,
            expires_at: now + self.policy.upload_ttl(),
            confirmed_at: None,
            output_location: None,
            processed_at: None,
            checksums,
        };
        // The first URLs are signed while the intent commits: signing asks nobody anything,
        // and the URLs of an intent that fails to record are dropped with its multipart upload.
        let first_batch = match first_urls {
            FirstUrls::Signed => self.first_batch(&upload),
            FirstUrls::None => Vec::new(),
        };
        let (recorded, signed) = tokio::join!(
            self.record_intent(&upload, idempotency_key),
            self.sign(&upload, &first_batch)
        );
        if let Err(err) = recorded {
            if let Some(upload_id) = &upload.storage_upload_id
                && let Err(abort) = self.storage.abort_multipart(&upload.key, upload_id).await
            {
                tracing::warn!(error = %abort, "could not abort the multipart upload of a failed intent");
            }
            return Err(err);
        }
        let parts = signed?;
        tracing::info!(upload_id = %upload.id, owner = %owner, size = plan.size, parts = plan.part_count, "upload declared");
        Ok(CreatedUpload { upload, parts })
    }

    /// Inserts the intent if the owner's quotas still admit it (decided in the insert itself,
    /// so concurrent creates on any replica cannot overshoot); with an idempotency key, names
    /// the upload there in the same transaction.
    async fn record_intent(
        &self,
        upload: &Upload,
        idempotency_key: Option<&str>,
    ) -> Result<(), UploadError> {
        let quotas = &self.policy.quotas;
        let mut client = db::client(&self.db).await?;
        let admission = match idempotency_key {
            None => db::uploads::insert_within_quotas(&client, upload, quotas).await?,
            Some(key) => {
                let tx = client.transaction().await.map_err(db::DbError::from)?;
                let admission = db::uploads::insert_within_quotas(&tx, upload, quotas).await?;
                if admission.admitted {
                    db::idempotency::attach(&tx, &upload.owner, key, upload.id).await?;
                    tx.commit().await.map_err(db::DbError::from)?;
                }
                admission
            }
        };
        if admission.admitted {
            return Ok(());
        }
        self.within_quota(&admission.usage, upload.plan.size)?;
        // The statement and this check weigh the same usage the same way: not reached.
        tracing::error!(usage = ?admission.usage, "a create was refused with room in every quota");
        Err(UploadError::OverQuota {
            over: OverQuota::CreateRate {
                per_minute: quotas.creates_per_minute,
            },
            retry_after_secs: 1,
        })
    }

    async fn usage_of(&self, owner: &str) -> Result<db::quotas::Usage, UploadError> {
        let client = db::client(&self.db).await?;
        Ok(db::quotas::usage(&client, owner, self.policy.quotas.creates_per_minute).await?)
    }

    fn within_quota(&self, usage: &db::quotas::Usage, size: u64) -> Result<(), UploadError> {
        quota::check(&self.policy.quotas, usage, size as i64).map_err(|(over, retry_after_secs)| {
            UploadError::OverQuota {
                over,
                retry_after_secs,
            }
        })
    }

    /// The parts whose URLs go out with a new upload. With checksums declared, a part is
    /// signed once its checksum is known.
    fn first_batch(&self, upload: &Upload) -> Vec<u32> {
        (1..=upload.plan.part_count.min(self.policy.presign_batch))
            .filter(|n| upload.checksums.can_sign(*n))
            .collect()
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
