//! Results back from the worker: `processed` (with where the output went) or `failed`
//! (with why). Reporting the same result twice is harmless.

use uuid::Uuid;

use super::{UploadError, Uploads};
use crate::db::{self, uploads::Lookup};
use crate::domain::{Upload, UploadStatus};

/// What the worker reports about one upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProcessingResult {
    Processed { output_location: Option<String> },
    Failed { error: String },
}

impl ProcessingResult {
    fn status(&self) -> UploadStatus {
        match self {
            Self::Processed { .. } => UploadStatus::Processed,
            Self::Failed { .. } => UploadStatus::Failed,
        }
    }
}

impl Uploads {
    pub async fn record_result(
        &self,
        id: Uuid,
        result: ProcessingResult,
    ) -> Result<Upload, UploadError> {
        let client = db::client(&self.db).await?;
        // PostgreSQL's text keeps no NUL: a worker's text is stored with U+FFFD in its place.
        let (output, error) = match &result {
            ProcessingResult::Processed { output_location } => (
                output_location
                    .as_deref()
                    .map(crate::domain::text::storable),
                None,
            ),
            ProcessingResult::Failed { error } => {
                (None, Some(crate::domain::text::storable(error)))
            }
        };
        if let Some(updated) = db::uploads::record_result(
            &client,
            id,
            result.status(),
            output.as_deref(),
            error.as_deref(),
        )
        .await?
        {
            tracing::info!(upload_id = %id, status = %updated.status, "processing result recorded");
            return Ok(updated);
        }
        let current = db::uploads::find(&client, Lookup::Id(id))
            .await?
            .ok_or(UploadError::NotFound)?;
        if current.status == result.status() {
            Ok(current)
        } else {
            Err(UploadError::NotPending(current.status))
        }
    }
}
