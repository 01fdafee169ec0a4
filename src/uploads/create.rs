//! Declaring an upload: the declaration checked and planned, the owner's quotas consulted
//! before storage is asked for anything (or found ample a moment ago, `usage_hints`), the
//! multipart upload started, the intent recorded (admitted by the quotas in the same
//! statement), the first part URLs signed.

use chrono::{SubsecRound, Utc};

use super::idempotency::ClaimedKey;
use super::usage_hints::UsageHints;
use super::{Declaration, OverQuota, PlanChoice, SignedPart, UploadError, Uploads, quota};
use crate::auth::Owner;
use crate::db;
use crate::domain::{
    ContentType, Filename, InvalidInput, MAX_SINGLE_PUT_SIZE, NewUpload, PartPlan, Title, Upload,
    UploadSize, UploadStatus,
};
use uuid::Uuid;

/// Whether a create signs the first batch of part URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FirstUrls {
    Signed,
    None,
}

/// A declaration checked, planned and named, not recorded yet ([`Uploads::prepare`]).
#[derive(Debug)]
pub struct PreparedUpload {
    /// Whose it is: the owner whose quotas were consulted.
    owner: Owner,
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

impl Uploads {
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
        prepared: PreparedUpload,
    ) -> Result<Upload, UploadError> {
        let created = self.start(prepared, None, FirstUrls::None).await?;
        Ok(created.upload)
    }

    /// `create`, naming the upload under the claimed `idempotency_key` in the transaction
    /// that records it (or failing with [`UploadError::IdempotencyKeyTakenOver`], the
    /// multipart upload aborted and nothing recorded, if the claim is no longer held).
    pub(super) async fn create_as(
        &self,
        owner: &Owner,
        declaration: Declaration,
        choice: PlanChoice,
        idempotency_key: Option<ClaimedKey<'_>>,
        first_urls: FirstUrls,
    ) -> Result<CreatedUpload, UploadError> {
        let prepared = self.prepare(owner, declaration, choice).await?;
        self.start(prepared, idempotency_key, first_urls).await
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
        // Checked before storage is asked for anything, unless this replica saw the owner
        // with ample room a moment ago (the insert checks exactly either way).
        let owner_name = owner.as_str();
        if !self
            .usage_hints
            .has_room(owner_name, &self.policy.quotas, plan.size as i64)
        {
            let usage = self.usage_of(owner_name).await?;
            self.usage_hints.saw(owner_name, usage);
            self.within_quota(&usage, plan.size)?;
        }
        Ok(PreparedUpload {
            owner: owner.clone(),
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
        prepared: PreparedUpload,
        idempotency_key: Option<ClaimedKey<'_>>,
        first_urls: FirstUrls,
    ) -> Result<CreatedUpload, UploadError> {
        let PreparedUpload {
            owner,
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
        idempotency_key: Option<ClaimedKey<'_>>,
    ) -> Result<(), UploadError> {
        let quotas = &self.policy.quotas;
        let mut client = db::client(&self.db).await?;
        let admission = match idempotency_key {
            None => db::uploads::insert_within_quotas(&client, upload, quotas).await?,
            Some(claimed) => {
                let tx = client.transaction().await.map_err(db::DbError::from)?;
                let admission = db::uploads::insert_within_quotas(&tx, upload, quotas).await?;
                if admission.admitted {
                    let ours = db::idempotency::attach(
                        &tx,
                        &upload.owner,
                        claimed.key,
                        claimed.claimed_at,
                        upload.id,
                    )
                    .await?;
                    if !ours {
                        tx.rollback().await.map_err(db::DbError::from)?;
                        return Err(UploadError::IdempotencyKeyTakenOver);
                    }
                    tx.commit().await.map_err(db::DbError::from)?;
                }
                admission
            }
        };
        let size = upload.plan.size as i64;
        if admission.admitted {
            let left = UsageHints::after_admitting(admission.usage, size);
            self.usage_hints.saw(&upload.owner, left);
            return Ok(());
        }
        self.usage_hints.saw(&upload.owner, admission.usage);
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
    pub(super) fn first_batch(&self, upload: &Upload) -> Vec<u32> {
        (1..=upload.plan.part_count.min(self.policy.presign_batch))
            .filter(|n| upload.checksums.can_sign(*n))
            .collect()
    }
}
