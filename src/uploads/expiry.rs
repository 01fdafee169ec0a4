//! Abandoned intents: past their expiry, a pending upload's multipart upload is aborted and the
//! row marked `expired`. Bytes that did arrive are confirmed instead of thrown away.

use chrono::Utc;

use super::{ConfirmOutcome, UploadError, Uploads};
use crate::db;
use crate::domain::{Upload, UploadStatus};

/// What the reaper did with one upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryOutcome {
    Expired,
    /// The object was complete in storage after all: confirmed (or rejected) instead.
    Confirmed,
    /// Someone else moved it out of `pending` first.
    Unchanged,
}

impl Uploads {
    pub async fn expire(&self, upload: Upload) -> Result<ExpiryOutcome, UploadError> {
        if upload.status != UploadStatus::Pending {
            return Ok(ExpiryOutcome::Unchanged);
        }
        match self.confirm(upload.clone(), Utc::now()).await {
            Ok(ConfirmOutcome::Unchanged(_)) => return Ok(ExpiryOutcome::Unchanged),
            Ok(_) => return Ok(ExpiryOutcome::Confirmed),
            Err(UploadError::ObjectMissing) => {}
            Err(err) => return Err(err),
        }
        let reason = format!("not completed before {}", upload.expires_at.to_rfc3339());
        let expired = {
            let client = db::client(&self.db).await?;
            db::uploads::mark_abandoned(&client, upload.id, UploadStatus::Expired, &reason).await?
        };
        let Some(expired) = expired else {
            return Ok(ExpiryOutcome::Unchanged);
        };
        // The multipart upload, and an object a racing complete may have assembled after all.
        self.clean_now(&expired).await;
        tracing::info!(upload_id = %upload.id, "upload expired");
        Ok(ExpiryOutcome::Expired)
    }
}
