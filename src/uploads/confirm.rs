//! The one door every confirmation goes through (client `complete`, storage events, the
//! reconciler): check the object in storage against the intent, then commit, idempotently.

use crate::db;
use crate::domain::{ContentType, Upload, UploadStatus};
use crate::storage::ObjectInfo;

use super::{UploadError, Uploads};

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
    /// moves the intent to `uploaded`; one that does not is deleted and the intent `rejected`.
    /// Anything but `pending` is returned unchanged, so repeated calls are harmless.
    pub async fn confirm(&self, upload: Upload) -> Result<Upload, UploadError> {
        if upload.status != UploadStatus::Pending {
            return Ok(upload);
        }
        let object = self
            .storage
            .head(&upload.key)
            .await?
            .ok_or(UploadError::ObjectMissing)?;
        let client = self.db.get().await?;
        if let Some(reason) = mismatch(&upload, &object) {
            // Reject first so a racing confirmation cannot accept the object we delete.
            let rejected =
                db::uploads::mark_abandoned(&client, upload.id, UploadStatus::Rejected, &reason)
                    .await?;
            if rejected.is_some() {
                self.storage.delete(&upload.key).await?;
                tracing::warn!(upload_id = %upload.id, %reason, "rejected upload");
            }
            return self.current(&client, rejected, upload.id).await;
        }
        let confirmed =
            db::uploads::mark_uploaded(&client, upload.id, object.etag.as_deref()).await?;
        if confirmed.is_some() {
            tracing::info!(upload_id = %upload.id, size = upload.plan.size, "upload confirmed");
        }
        self.current(&client, confirmed, upload.id).await
    }

    /// The row a conditional update returned, or the current one when another caller won.
    async fn current(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        updated: Option<Upload>,
        id: uuid::Uuid,
    ) -> Result<Upload, UploadError> {
        match updated {
            Some(upload) => Ok(upload),
            None => db::uploads::find(client, id)
                .await?
                .ok_or(UploadError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PartPlan;
    use chrono::Utc;

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
