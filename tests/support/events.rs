//! Storage event bodies, as storage sends them.

use serde_json::{Value, json};

/// Asserts a JSON error response with this status and code.
/// A MinIO AMQP/webhook record for `key` (form-URL-encoded in `s3.object.key`, as MinIO does).
pub fn minio_event(bucket: &str, key: &str, size: usize, etag: &str) -> Value {
    let encoded = key.replace('/', "%2F");
    json!({
        "EventName": "s3:ObjectCreated:Put",
        "Key": format!("{bucket}/{key}"),
        "Records": [{
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "awsRegion": "",
            "eventTime": "2026-11-28T10:00:00.000Z",
            "eventName": "s3:ObjectCreated:Put",
            "userIdentity": {"principalId": "uc-dev-access"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "Config",
                "bucket": {"name": bucket, "ownerIdentity": {"principalId": "uc-dev-access"}, "arn": format!("arn:aws:s3:::{bucket}")},
                "object": {"key": encoded, "size": size, "eTag": etag, "contentType": "video/mp4", "userMetadata": {"content-type": "video/mp4"}, "sequencer": "1797C5B5C7A5D3E0"}
            },
            "source": {"host": "127.0.0.1", "port": "", "userAgent": "MinIO (linux; amd64)"}
        }]
    })
}
