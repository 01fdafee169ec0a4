//! MinIO and RustFS (AMQP and webhook targets). Each message wraps one S3-style record:
//! `{"EventName": "s3:ObjectCreated:Put", "Key": "<bucket>/<decoded key>", "Records": [...]}`.
//! Inside the record `s3.object.key` is form-URL-encoded, `/` included (`u1%2Fa+b.mp4`).
//! RustFS sends the same body with `eventSource` `rustfs:s3`. MinIO also files tagging,
//! retention and legal-hold changes under `s3:ObjectCreated:*`; those are not new objects.

use super::{Object, RecordDialect, s3_record};
use crate::events::{Format, Item, ParseError};

pub(super) const SOURCES: [&str; 2] = ["minio:s3", "rustfs:s3"];

const DIALECT: RecordDialect = RecordDialect {
    format: Format::Minio,
    key_is_encoded: true,
    size_may_be_string: false,
};

/// MinIO's wrapper fields; AWS and Ceph bodies carry `Records` alone.
pub(super) fn is_envelope(body: &Object) -> bool {
    body.contains_key("EventName") || body.contains_key("Key")
}

pub(super) fn record(index: usize, record: &Object) -> Result<Item, ParseError> {
    s3_record(index, record, &DIALECT)
}

#[cfg(test)]
mod tests {
    use crate::events::formats::only_item;
    use crate::events::{Format, IgnoredReason, Item, ObjectCreated, ParseError, parse};

    #[test]
    fn a_put_whose_key_has_spaces_and_a_slash_is_created_with_the_decoded_key() {
        let body = include_str!("../../../tests/fixtures/events/minio/put-key-with-spaces.json");
        assert_eq!(
            only_item(body),
            Item::Created(ObjectCreated {
                bucket: "videos".to_owned(),
                key: "u1/match highlights 01.mp4".to_owned(),
                size: Some(1000),
                etag: Some("398533d48111e9f664b1f64cb10c4b63".to_owned()),
                format: Format::Minio,
            })
        );
    }

    #[test]
    fn the_decoded_key_matches_the_envelope_key() {
        let body = include_str!("../../../tests/fixtures/events/minio/put-key-with-spaces.json");
        let envelope: serde_json::Value = serde_json::from_str(body).unwrap();
        let Item::Created(created) = only_item(body) else {
            panic!("expected a created object");
        };
        assert_eq!(
            envelope["Key"].as_str().unwrap(),
            format!("{}/{}", created.bucket, created.key)
        );
    }

    #[test]
    fn a_completed_multipart_upload_is_created_with_its_multipart_etag() {
        let body = include_str!("../../../tests/fixtures/events/minio/multipart-complete.json");
        assert_eq!(
            only_item(body),
            Item::Created(ObjectCreated {
                bucket: "videos".to_owned(),
                key: "u1/0193a3c2-7d5e-7c1a-9f00-3b1d2e4f5a6b.mp4".to_owned(),
                size: Some(12_582_912),
                etag: Some("03f380eb5a89915bcc0da556b0c0a450-3".to_owned()),
                format: Format::Minio,
            })
        );
    }

    #[test]
    fn a_delete_is_ignored_as_not_object_created() {
        let body = include_str!("../../../tests/fixtures/events/minio/delete.json");
        let Item::Ignored(ignored) = only_item(body) else {
            panic!("expected the delete to be ignored");
        };
        assert_eq!(ignored.reason, IgnoredReason::NotObjectCreated);
        assert!(
            ignored.detail.contains("s3:ObjectRemoved:Delete"),
            "{}",
            ignored.detail
        );
    }

    #[test]
    fn a_tagging_change_filed_under_object_created_is_not_a_new_object() {
        let body = include_str!("../../../tests/fixtures/events/minio/put-key-with-spaces.json")
            .replace("s3:ObjectCreated:Put", "s3:ObjectCreated:PutTagging");
        let Item::Ignored(ignored) = only_item(&body) else {
            panic!("expected the tagging change to be ignored");
        };
        assert_eq!(ignored.reason, IgnoredReason::NotObjectCreated);
    }

    #[test]
    fn a_rustfs_record_reads_like_a_minio_record() {
        let body = include_str!("../../../tests/fixtures/events/minio/put-key-with-spaces.json")
            .replace("\"minio:s3\"", "\"rustfs:s3\"");
        let Item::Created(created) = only_item(&body) else {
            panic!("expected a created object");
        };
        assert_eq!(created.format, Format::Minio);
        assert_eq!(created.key, "u1/match highlights 01.mp4");
    }

    #[test]
    fn a_record_missing_its_bucket_is_invalid() {
        let body = r#"{"EventName": "s3:ObjectCreated:Put", "Key": "videos/a.mp4",
            "Records": [{"eventSource": "minio:s3", "eventName": "s3:ObjectCreated:Put",
                         "s3": {"object": {"key": "a.mp4", "size": 1}}}]}"#;
        let error = parse(body.as_bytes()).unwrap_err();
        assert!(matches!(error, ParseError::Invalid(_)), "{error}");
        assert!(error.to_string().contains("s3.bucket.name"), "{error}");
    }

    #[test]
    fn a_key_with_a_broken_escape_is_invalid() {
        let body = include_str!("../../../tests/fixtures/events/minio/put-key-with-spaces.json")
            .replace("u1%2Fmatch", "u1%zzmatch");
        let error = parse(body.as_bytes()).unwrap_err();
        assert!(matches!(error, ParseError::Invalid(_)), "{error}");
    }
}
