//! Ceph RGW bucket notifications (HTTP, AMQP, Kafka endpoints). Records look like AWS's with
//! `eventSource` `ceph:s3`, and differ in three ways that matter here:
//! - `s3.object.key` is the raw object name: RGW does not URL-encode it, so it is not decoded.
//! - `size` has been sent as a JSON string (`"1024"`) as well as a number.
//! - `ObjectCreated:Post` is also sent when a multipart upload is *initiated*, before any byte
//!   exists (size 0, empty ETag). It is reported as created anyway, since RGW sends the same name
//!   for a real browser POST upload: the consumer HEADs the object, finds nothing yet (or a size
//!   that does not match the intent yet) and leaves the upload pending until the
//!   `CompleteMultipartUpload` event arrives.
//!
//! Older RGW releases prefixed `eventName` with `s3:` and spelled `eTag` as `etag`; both are read.

use super::{Object, RecordDialect, s3_record};
use crate::events::{Format, Item, ParseError};

pub(super) const SOURCE: &str = "ceph:s3";

const DIALECT: RecordDialect = RecordDialect {
    format: Format::Ceph,
    key_is_encoded: false,
    size_may_be_string: true,
};

pub(super) fn record(index: usize, record: &Object) -> Result<Item, ParseError> {
    s3_record(index, record, &DIALECT)
}

#[cfg(test)]
mod tests {
    use crate::events::formats::only_item;
    use crate::events::{Format, IgnoredReason, Item, ObjectCreated, ParseError, parse};

    #[test]
    fn a_put_with_its_size_as_a_string_is_created_with_a_numeric_size() {
        let body = include_str!("../../../tests/fixtures/events/ceph/put-string-size.json");
        assert_eq!(
            only_item(body),
            Item::Created(ObjectCreated {
                bucket: "videos".to_owned(),
                key: "u1/clip-01.mp4".to_owned(),
                size: Some(1_048_576),
                etag: Some("b6d81b360a5672d80c27430f39153e2c".to_owned()),
                format: Format::Ceph,
            })
        );
    }

    #[test]
    fn a_post_at_multipart_initiation_is_reported_as_created_with_nothing_known_yet() {
        let body = include_str!("../../../tests/fixtures/events/ceph/post-multipart-initiate.json");
        assert_eq!(
            only_item(body),
            Item::Created(ObjectCreated {
                bucket: "videos".to_owned(),
                key: "u1/0193a3c2-7d5e-7c1a-9f00-3b1d2e4f5a6b.mp4".to_owned(),
                size: Some(0),
                etag: None,
                format: Format::Ceph,
            })
        );
    }

    #[test]
    fn a_ceph_key_is_taken_raw_without_form_decoding() {
        let body = include_str!("../../../tests/fixtures/events/ceph/put-string-size.json")
            .replace("u1/clip-01.mp4", "u1/my clip+final%.mp4");
        let Item::Created(created) = only_item(&body) else {
            panic!("expected a created object");
        };
        assert_eq!(created.key, "u1/my clip+final%.mp4");
    }

    #[test]
    fn an_old_style_prefixed_event_name_and_lowercase_etag_are_read() {
        let body = include_str!("../../../tests/fixtures/events/ceph/put-string-size.json")
            .replace("\"ObjectCreated:Put\"", "\"s3:ObjectCreated:Put\"")
            .replace("\"eTag\"", "\"etag\"");
        let Item::Created(created) = only_item(&body) else {
            panic!("expected a created object");
        };
        assert_eq!(
            created.etag.as_deref(),
            Some("b6d81b360a5672d80c27430f39153e2c")
        );
    }

    #[test]
    fn a_size_string_that_is_not_a_number_is_invalid() {
        let body = include_str!("../../../tests/fixtures/events/ceph/put-string-size.json")
            .replace("\"1048576\"", "\"1 MiB\"");
        let error = parse(body.as_bytes()).unwrap_err();
        assert!(matches!(error, ParseError::Invalid(_)), "{error}");
    }

    #[test]
    fn a_multisite_sync_event_is_not_object_created() {
        let body = include_str!("../../../tests/fixtures/events/ceph/put-string-size.json")
            .replace("ObjectCreated:Put", "ObjectSynced:Create");
        let Item::Ignored(ignored) = only_item(&body) else {
            panic!("expected the sync event to be ignored");
        };
        assert_eq!(ignored.reason, IgnoredReason::NotObjectCreated);
    }
}
