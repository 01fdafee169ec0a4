use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{Checksums, PartPlan, UploadStatus};

/// An upload intent as recorded: who declared what, where its bytes go, and its status.
#[derive(Clone, Debug)]
pub struct Upload {
    pub id: Uuid,
    pub owner: String,
    pub title: String,
    pub filename: String,
    pub content_type: String,
    pub bucket: String,
    pub key: String,
    /// The S3 multipart upload id; `None` for single-PUT uploads.
    pub storage_upload_id: Option<String>,
    pub plan: PartPlan,
    pub status: UploadStatus,
    pub reason: Option<String>,
    pub etag: Option<String>,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Where the worker put its output, once `processed`.
    pub output_location: Option<String>,
    pub processed_at: Option<DateTime<Utc>>,
    /// What the client declared to have storage verify its bytes.
    pub checksums: Checksums,
}
