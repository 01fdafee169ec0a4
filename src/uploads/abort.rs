//! Aborting an upload on the client's request.

use uuid::Uuid;

use super::{UploadError, Uploads};
use crate::auth::Owner;
use crate::db;
use crate::domain::{Upload, UploadStatus};

impl Uploads {
    /// Abandons a pending upload: the intent is marked `aborted`, and its multipart upload (or
    /// an object a racing complete assembled) is removed, now or by the sweepers should storage
    /// fail. Aborting twice is harmless.
    pub async fn abort(&self, owner: &Owner, id: Uuid) -> Result<Upload, UploadError> {
        let upload = self.get(owner, id).await?;
        match upload.status {
            UploadStatus::Aborted => return Ok(upload),
            UploadStatus::Pending => {}
            other => return Err(UploadError::NotPending(other)),
        }
        let aborted = {
            let client = db::client(&self.db).await?;
            db::uploads::mark_abandoned(
                &client,
                upload.id,
                UploadStatus::Aborted,
                "aborted by the client",
            )
            .await?
        };
        let Some(aborted) = aborted else {
            // Confirmed or ended by someone else in the meantime: report what it is now.
            let now = self.get(owner, id).await?;
            return match now.status {
                UploadStatus::Aborted => Ok(now),
                other => Err(UploadError::NotPending(other)),
            };
        };
        self.clean_now(&aborted).await;
        tracing::info!(upload_id = %upload.id, "upload aborted");
        Ok(aborted)
    }
}
