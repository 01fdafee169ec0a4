//! A plain JSON event for consumers that are not Celery workers:
//! `{"event": "upload.confirmed", "upload_id", "correlation_id", "input_path", ...}`.

use lapin::BasicProperties;
use serde_json::json;
use uuid::Uuid;

use super::EncodedJob;
use crate::domain::Upload;

pub const EVENT_TYPE: &str = "upload.confirmed";

pub fn encode(
    task_id: Uuid,
    upload: &Upload,
    input_path: &str,
    checksums_verified: bool,
) -> EncodedJob {
    let body = json!({
        "event": EVENT_TYPE,
        "upload_id": upload.id,
        "correlation_id": task_id,
        "input_path": input_path,
        "bucket": upload.bucket,
        "key": upload.key,
        "size": upload.plan.size,
        // The confirmed bytes: read the object `If-Match` this.
        "etag": upload.etag,
        // What storage verified the bytes with (absent when nothing was declared).
        "checksums": {
            "algorithm": upload.checksums.algorithm.map(|a| a.as_str()),
            "parts": upload.checksums.parts,
            "sha256": upload.checksums.sha256,
            // Whether storage refused other bytes than these (UC_S3_CHECKSUMS).
            "verified_by_storage": checksums_verified && upload.checksums.algorithm.is_some(),
        },
        "content_type": upload.content_type,
        "filename": upload.filename,
        "title": upload.title,
        "owner": upload.owner,
        "metadata": upload.metadata,
        "confirmed_at": upload.confirmed_at,
    });
    let id = task_id.to_string();
    let properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_message_id(id.as_str().into())
        .with_correlation_id(id.as_str().into())
        .with_type(EVENT_TYPE.into())
        .with_delivery_mode(2);
    EncodedJob {
        body: serde_json::to_vec(&body).expect("JSON values serialize"),
        properties,
    }
}
