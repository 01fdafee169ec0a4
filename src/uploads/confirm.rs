//! The one door every confirmation goes through (client `complete`, storage events, the
//! reconciler): check the object in storage against the intent, then commit, idempotently.
//! The statement that marks an upload `uploaded` also writes its processing job to the outbox.

use chrono::{DateTime, Utc};

use crate::db::{self, uploads::Lookup};
use crate::domain::{ContentType, Upload, UploadStatus};
use crate::storage::ObjectInfo;

use super::{UploadError, Uploads};

/// How long a storage event waits for a complete of its object running on this replica
/// before it confirms the object itself (as it would with no complete running). Short: the
/// event holds a consumer's prefetch slot, or the sender's request, meanwhile.
const COMPLETE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// What a confirmation attempt found, for callers that count outcomes (event listeners).
#[derive(Clone, Debug)]
pub enum ConfirmOutcome {
    /// The object matched; the upload is now `uploaded` and its job queued.
    Confirmed(Upload),
    /// The object did not match; it was deleted and the upload `rejected`.
    Rejected(Upload),
    /// The upload had already left `pending`; nothing changed.
    Unchanged(Upload),
}

impl ConfirmOutcome {
    pub fn upload(self) -> Upload {
        match self {
            Self::Confirmed(u) | Self::Rejected(u) | Self::Unchanged(u) => u,
        }
    }

    /// A stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Confirmed(_) => "confirmed",
            Self::Rejected(_) => "rejected",
            Self::Unchanged(_) => "duplicate",
        }
    }
}

/// An ETag without the quotes HTTP puts around it.
fn unquoted(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// Why an object does not match its intent, if it does not.
fn mismatch(upload: &Upload, object: &ObjectInfo) -> Option<String> {
    if object.size != upload.plan.size {
        return Some(format!(
            "object holds {} bytes, {} were declared",
            object.size, upload.plan.size
        ));
    }
    let declared = ContentType::parse(&upload.content_type, &["*/*".to_owned()]).ok()?;
    match object.content_type.as_deref() {
        Some(reported) if !declared.same_as(reported) => Some(format!(
            "object is {reported}, {} was declared",
            upload.content_type
        )),
        _ => None,
    }
}

impl Uploads {
    /// Confirms a pending upload whose object should now be in storage. An object that matches
    /// moves the intent to `uploaded` and queues its job; one that does not is deleted and the
    /// intent `rejected`. Anything but `pending` is returned unchanged, so repeats are harmless.
    /// `received_at` is when the triggering event or call reached us.
    pub async fn confirm(
        &self,
        upload: Upload,
        received_at: DateTime<Utc>,
    ) -> Result<ConfirmOutcome, UploadError> {
        if upload.status != UploadStatus::Pending {
            return Ok(ConfirmOutcome::Unchanged(upload));
        }
        let object = self
            .storage
            .head(&upload.key)
            .await?
            .ok_or(UploadError::ObjectMissing)?;
        self.confirm_found(upload, object, received_at).await
    }

    /// [`Self::confirm`] with what storage holds already known: from a HEAD, or from the
    /// CompleteMultipartUpload that assembled it (see `complete`).
    pub(super) async fn confirm_found(
        &self,
        upload: Upload,
        object: ObjectInfo,
        received_at: DateTime<Utc>,
    ) -> Result<ConfirmOutcome, UploadError> {
        if upload.status != UploadStatus::Pending {
            return Ok(ConfirmOutcome::Unchanged(upload));
        }
        let client = db::client(&self.db).await?;
        if let Some(reason) = mismatch(&upload, &object) {
            // Reject first so a racing confirmation cannot accept the object we delete.
            let rejected =
                db::uploads::mark_abandoned(&client, upload.id, UploadStatus::Rejected, &reason)
                    .await?;
            return match rejected {
                Some(rejected) => {
                    drop(client);
                    self.clean_now(&rejected).await;
                    tracing::warn!(upload_id = %upload.id, %reason, "rejected upload");
                    Ok(ConfirmOutcome::Rejected(rejected))
                }
                None => Ok(ConfirmOutcome::Unchanged(
                    self.reload(&client, upload.id).await?,
                )),
            };
        }
        let confirmed = db::outbox::mark_uploaded_with_job(
            &client,
            upload.id,
            object.etag.as_deref(),
            received_at,
        )
        .await?;
        let Some(confirmed) = confirmed else {
            return Ok(ConfirmOutcome::Unchanged(
                self.reload(&client, upload.id).await?,
            ));
        };
        self.relay_wake.notify_one();
        tracing::info!(upload_id = %upload.id, size = upload.plan.size, "upload confirmed");
        Ok(ConfirmOutcome::Confirmed(confirmed))
    }

    /// A storage event named a confirmed upload's object with `event_etag`. Should storage
    /// now hold other bytes there (the POST-policy path cannot be made write-once), the upload
    /// is flagged: `rejected` with the reason, its job withheld if not published yet, the
    /// object removed. Returns the flagged upload, if it was. The event alone proves nothing:
    /// storage is asked, about single-request uploads only (see below).
    pub async fn check_replaced(
        &self,
        upload: Upload,
        event_etag: Option<&str>,
        event_size: Option<u64>,
    ) -> Result<Option<Upload>, UploadError> {
        let Some(recorded) = upload.etag.as_deref().map(unquoted) else {
            return Ok(None);
        };
        // Assembled from parts: no URL we signed can write its key again (part URLs name a
        // multipart upload that no longer exists; it has no other), so storage is not asked.
        if upload.plan.multipart {
            return Ok(None);
        }
        // The event shows the confirmed bytes: a duplicate, no need to ask storage.
        let same_size = event_size.is_none_or(|size| size == upload.plan.size);
        if event_etag.map(unquoted) == Some(recorded) && same_size {
            return Ok(None);
        }
        let Some(object) = self.storage.head(&upload.key).await? else {
            return Ok(None);
        };
        // No ETag from storage: nothing to compare, nothing to conclude.
        let Some(now) = object.etag.as_deref().map(unquoted) else {
            return Ok(None);
        };
        if now == recorded && object.size == upload.plan.size {
            return Ok(None);
        }
        // Only a URL still valid can have replaced the bytes (POST policies cannot be made
        // write-once). Later, a changed ETag comes from storage itself (a copy onto itself, a
        // storage-class change): it is reported, and the upload left alone.
        if !self.urls_may_be_valid(&upload) {
            tracing::warn!(upload_id = %upload.id, recorded, now, "a confirmed object's ETag changed after its URLs expired; left alone");
            return Ok(None);
        }
        let reason =
            format!("the object was replaced after it was confirmed (ETag {recorded}, now {now})");
        let flagged = {
            let client = db::client(&self.db).await?;
            db::uploads::mark_replaced(&client, upload.id, Some(now), &reason).await?
        };
        if let Some(flagged) = &flagged {
            tracing::error!(upload_id = %upload.id, %reason, "confirmed upload replaced in storage");
            self.clean_now(flagged).await;
        }
        Ok(flagged)
    }

    /// Whether a URL signed for the upload may still be used: URLs are signed only while it is
    /// pending, and live `UC_PRESIGN_TTL_SECS` (a minute more for clock skew).
    fn urls_may_be_valid(&self, upload: &Upload) -> bool {
        let signed_until = upload.confirmed_at.unwrap_or(upload.updated_at);
        let margin = chrono::Duration::seconds(60);
        Utc::now() < signed_until + self.policy.presign_ttl() + margin
    }

    /// Confirms the upload storing `bucket`/`key`, as a storage event names it.
    /// `Ok(None)` when no intent has that object.
    pub async fn confirm_object(
        &self,
        bucket: &str,
        key: &str,
        received_at: DateTime<Utc>,
    ) -> Result<Option<ConfirmOutcome>, UploadError> {
        let client = db::client(&self.db).await?;
        let Some(mut upload) = db::uploads::find(&client, Lookup::Object { bucket, key }).await?
        else {
            return Ok(None);
        };
        drop(client);
        // A complete running here confirms it from its own answer: wait, then look again.
        if upload.status == UploadStatus::Pending
            && upload.storage_upload_id.is_some()
            && self.completing.wait_for(upload.id, COMPLETE_WAIT).await
        {
            let client = db::client(&self.db).await?;
            upload = self.reload(&client, upload.id).await?;
        }
        self.confirm(upload, received_at).await.map(Some)
    }

    async fn reload(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        id: uuid::Uuid,
    ) -> Result<Upload, UploadError> {
        db::uploads::find(client, Lookup::Id(id))
            .await?
            .ok_or(UploadError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PartPlan;

    fn upload(size: u64) -> Upload {
        Upload {
            id: uuid::Uuid::now_v7(),
            owner: "a".into(),
            title: "t".into(),
            filename: "f.mp4".into(),
            content_type: "video/mp4".into(),
            bucket: "videos".into(),
            key: "k".into(),
            storage_upload_id: None,
            plan: PartPlan::new(size, size, size),
            status: UploadStatus::Pending,
            reason: None,
            etag: None,
            metadata: serde_json::json!({}),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            expires_at: Utc::now(),
            confirmed_at: None,
            output_location: None,
            processed_at: None,
            checksums: Default::default(),
        }
    }

    fn object(size: u64, content_type: &str) -> ObjectInfo {
        ObjectInfo {
            size,
            content_type: Some(content_type.into()),
            etag: None,
        }
    }

    #[test]
    fn an_object_of_the_declared_size_and_type_matches() {
        assert_eq!(mismatch(&upload(10), &object(10, "video/mp4")), None);
    }

    #[test]
    fn a_different_size_or_type_is_a_mismatch() {
        assert!(mismatch(&upload(10), &object(11, "video/mp4")).is_some());
        assert!(mismatch(&upload(10), &object(10, "text/plain")).is_some());
    }
}
