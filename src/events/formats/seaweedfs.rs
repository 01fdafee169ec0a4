//! The SeaweedFS filer webhook (`notification.toml`, `[notification.webhook]`). SeaweedFS has no
//! S3 bucket notifications; its filer reports every entry change under its own shape:
//! `{"key": "/buckets/<bucket>/<key>", "event_type": "create|update|delete|rename",
//!   "message": {"new_entry": {"name", "is_directory", "attributes": {"file_size", ...},
//!   "extended": {...}}, "old_entry": {...}, "new_parent_path": ...}}`.
//! Some releases name `message` `message_data`; both are read. The key is the raw path, not
//! URL-encoded.
//!
//! The filer reports everything the S3 gateway does to its tree: the bucket directory, "folder"
//! directories, each multipart part under `/buckets/<bucket>/.uploads/<upload>/`, and the final
//! object. One PUT can produce a `create` and then an `update` of the same entry; both are
//! reported as created (the consumer is idempotent). SeaweedFS 3.95 to 4.17 labelled an in-place
//! update `rename` whenever `new_parent_path` was set; a `rename` that leaves the entry where it
//! was is therefore read as an update.

use serde_json::Value;

use super::{Object, clean_etag, kind, size};
use crate::events::{Format, Ignored, IgnoredReason, Item, ObjectCreated, ParseError};

/// Where the S3 gateway keeps an object's ETag. `extended` values are bytes, which Go's JSON
/// encoding writes as base64.
const ETAG_ATTRIBUTE: &str = "Seaweed-X-Amz-ETag";

pub(super) fn is_filer_event(body: &Object) -> bool {
    body.get("event_type").is_some_and(Value::is_string)
        && body.get("key").is_some_and(Value::is_string)
}

pub(super) fn parse(body: &Object) -> Result<Item, ParseError> {
    let invalid = |what: String| ParseError::Invalid(format!("SeaweedFS event: {what}"));
    let path = body.get("key").and_then(Value::as_str).unwrap_or_default();
    let event_type = body
        .get("event_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let message = match body.get("message").or_else(|| body.get("message_data")) {
        Some(Value::Object(message)) => Some(message),
        None | Some(Value::Null) => None,
        Some(other) => return Err(invalid(format!("message is {}", kind(other)))),
    };
    let new_entry = message
        .and_then(|m| m.get("new_entry"))
        .and_then(Value::as_object);
    let ignored = |reason, what: &str| {
        Ok(Item::Ignored(Ignored::new(
            reason,
            format!("{event_type} {path}: {what}"),
        )))
    };

    match event_type {
        "create" | "update" => {}
        "rename" if stays_in_place(path, message, new_entry) => {}
        "rename" => return ignored(IgnoredReason::NotObjectCreated, "moved elsewhere"),
        "delete" => return ignored(IgnoredReason::NotObjectCreated, "deleted"),
        other => return Err(invalid(format!("unknown event_type {other:?}"))),
    }

    let Some(in_buckets) = path.strip_prefix("/buckets/") else {
        return ignored(IgnoredReason::NotObjectCreated, "outside /buckets/");
    };
    let (bucket, key) = in_buckets.split_once('/').unwrap_or((in_buckets, ""));
    if bucket.is_empty() || key.is_empty() {
        return ignored(IgnoredReason::BucketEntry, "the bucket itself");
    }
    if key == ".uploads" || key.starts_with(".uploads/") {
        return ignored(IgnoredReason::MultipartPart, "part of an unfinished upload");
    }
    let new_entry = new_entry.ok_or_else(|| invalid(format!("{event_type} without new_entry")))?;
    if new_entry.get("is_directory").and_then(Value::as_bool) == Some(true) {
        return ignored(IgnoredReason::Directory, "a directory");
    }

    let attributes = new_entry.get("attributes").and_then(Value::as_object);
    let file_size = size(attributes.and_then(|a| a.get("file_size")), false)
        .map_err(|e| invalid(format!("attributes.{e}")))?;
    let etag = new_entry
        .get("extended")
        .and_then(|extended| extended.get(ETAG_ATTRIBUTE))
        .and_then(Value::as_str)
        .and_then(decode_etag);

    Ok(Item::Created(ObjectCreated {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        size: file_size,
        etag,
        format: Format::SeaweedFs,
    }))
}

/// Whether a `rename` puts the entry back at the path it was reported under.
fn stays_in_place(path: &str, message: Option<&Object>, new_entry: Option<&Object>) -> bool {
    let Some(name) = new_entry
        .and_then(|entry| entry.get("name"))
        .and_then(Value::as_str)
    else {
        return false;
    };
    let (old_parent, _) = path.rsplit_once('/').unwrap_or(("", path));
    let new_parent = message
        .and_then(|m| m.get("new_parent_path"))
        .and_then(Value::as_str)
        .filter(|parent| !parent.is_empty())
        .unwrap_or(old_parent);
    format!("{}/{name}", new_parent.trim_end_matches('/')) == path
}

/// The S3 ETag SeaweedFS keeps as base64 of its text (`<md5 hex>` or `<md5 hex>-<parts>`).
/// Anything else is dropped rather than guessed at: the ETag is a hint, storage has the truth.
fn decode_etag(encoded: &str) -> Option<String> {
    let text = String::from_utf8(base64_decode(encoded)?).ok()?;
    clean_etag(&text).filter(|etag| etag.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
}

/// Standard base64 with optional padding, as Go's `encoding/json` writes byte slices.
fn base64_decode(encoded: &str) -> Option<Vec<u8>> {
    let digits = encoded.trim_end_matches('=');
    let mut bytes = Vec::with_capacity(digits.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for digit in digits.bytes() {
        let value = match digit {
            b'A'..=b'Z' => digit - b'A',
            b'a'..=b'z' => digit - b'a' + 26,
            b'0'..=b'9' => digit - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        buffer = buffer << 6 | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // Six or more bits left over means a truncated group, not padding.
    (bits < 6).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::{base64_decode, decode_etag};
    use crate::events::formats::only_item;
    use crate::events::{Format, IgnoredReason, Item, ObjectCreated, ParseError, parse};

    fn ignored_reason(body: &str) -> IgnoredReason {
        match only_item(body) {
            Item::Ignored(ignored) => ignored.reason,
            Item::Created(created) => panic!("expected an ignored item, got {created:?}"),
        }
    }

    fn created(key: &str, size: u64, etag: &str) -> Item {
        Item::Created(ObjectCreated {
            bucket: "videos".to_owned(),
            key: key.to_owned(),
            size: Some(size),
            etag: Some(etag.to_owned()),
            format: Format::SeaweedFs,
        })
    }

    #[test]
    fn a_single_put_create_is_created_with_size_and_etag() {
        let body = include_str!("../../../tests/fixtures/events/seaweedfs/single-put-create.json");
        assert_eq!(
            only_item(body),
            created("u1/small.mp4", 1000, "398533d48111e9f664b1f64cb10c4b63")
        );
    }

    #[test]
    fn an_update_of_the_same_entry_is_created_with_the_new_size_and_etag() {
        let body = include_str!("../../../tests/fixtures/events/seaweedfs/single-put-update.json");
        assert_eq!(
            only_item(body),
            created("u1/small.mp4", 1, "9dd4e461268c8034f5c8564e155c67a6")
        );
    }

    #[test]
    fn a_completed_multipart_upload_is_created_with_its_multipart_etag() {
        let body =
            include_str!("../../../tests/fixtures/events/seaweedfs/multipart-complete-create.json");
        assert_eq!(
            only_item(body),
            created(
                "u1/test.mp4",
                12_582_912,
                "03f380eb5a89915bcc0da556b0c0a450-3"
            )
        );
    }

    #[test]
    fn a_part_under_uploads_is_ignored_as_a_multipart_part() {
        let body = include_str!(
            "../../../tests/fixtures/events/seaweedfs/multipart-part-create-ignore.json"
        );
        assert_eq!(ignored_reason(body), IgnoredReason::MultipartPart);
    }

    #[test]
    fn deleting_the_uploads_directory_is_not_object_created() {
        let body = include_str!(
            "../../../tests/fixtures/events/seaweedfs/multipart-uploads-dir-delete-ignore.json"
        );
        assert_eq!(ignored_reason(body), IgnoredReason::NotObjectCreated);
    }

    #[test]
    fn creating_the_bucket_is_ignored_as_a_bucket_entry() {
        let body =
            include_str!("../../../tests/fixtures/events/seaweedfs/bucket-create-ignore.json");
        assert_eq!(ignored_reason(body), IgnoredReason::BucketEntry);
    }

    #[test]
    fn a_folder_directory_inside_a_bucket_is_ignored_as_a_directory() {
        let body = r#"{"event_type": "create", "key": "/buckets/videos/u1",
            "message": {"new_entry": {"name": "u1", "is_directory": true,
                        "attributes": {"file_mode": 2147484159}},
                        "new_parent_path": "/buckets/videos"}}"#;
        assert_eq!(ignored_reason(body), IgnoredReason::Directory);
    }

    #[test]
    fn a_path_outside_buckets_is_not_object_created() {
        let body = r#"{"event_type": "create", "key": "/etc/iam/identity.json",
            "message": {"new_entry": {"name": "identity.json", "attributes": {"file_size": 10}}}}"#;
        assert_eq!(ignored_reason(body), IgnoredReason::NotObjectCreated);
    }

    #[test]
    fn the_message_may_be_named_message_data() {
        let body = include_str!("../../../tests/fixtures/events/seaweedfs/single-put-create.json")
            .replacen("\"message\"", "\"message_data\"", 1);
        assert_eq!(
            only_item(&body),
            created("u1/small.mp4", 1000, "398533d48111e9f664b1f64cb10c4b63")
        );
    }

    #[test]
    fn a_rename_that_leaves_the_entry_in_place_reads_as_an_update() {
        let body = include_str!("../../../tests/fixtures/events/seaweedfs/single-put-update.json")
            .replacen("\"update\"", "\"rename\"", 1);
        assert_eq!(
            only_item(&body),
            created("u1/small.mp4", 1, "9dd4e461268c8034f5c8564e155c67a6")
        );
    }

    #[test]
    fn a_rename_to_another_path_is_not_object_created() {
        let body = include_str!("../../../tests/fixtures/events/seaweedfs/single-put-update.json")
            .replacen("\"update\"", "\"rename\"", 1)
            .replace(
                "\"new_parent_path\": \"/buckets/videos/u1\"",
                "\"new_parent_path\": \"/buckets/videos/u2\"",
            );
        assert_eq!(ignored_reason(&body), IgnoredReason::NotObjectCreated);
    }

    #[test]
    fn a_create_without_a_new_entry_is_invalid() {
        let body = r#"{"event_type": "create", "key": "/buckets/videos/u1/a.mp4", "message": {}}"#;
        let error = parse(body.as_bytes()).unwrap_err();
        assert!(matches!(error, ParseError::Invalid(_)), "{error}");
    }

    #[test]
    fn an_unknown_event_type_is_invalid() {
        let body = r#"{"event_type": "truncate", "key": "/buckets/videos/u1/a.mp4"}"#;
        let error = parse(body.as_bytes()).unwrap_err();
        assert!(matches!(error, ParseError::Invalid(_)), "{error}");
    }

    #[test]
    fn an_etag_that_is_not_simple_base64_of_hex_is_dropped() {
        assert_eq!(decode_etag("not base64!"), None);
        // base64 of "admin": decodes, but is no ETag.
        assert_eq!(decode_etag("YWRtaW4="), None);
        assert_eq!(
            decode_etag("Mzk4NTMzZDQ4MTExZTlmNjY0YjFmNjRjYjEwYzRiNjM="),
            Some("398533d48111e9f664b1f64cb10c4b63".to_owned())
        );
    }

    #[test]
    fn base64_decodes_with_and_without_padding_and_refuses_a_truncated_group() {
        assert_eq!(base64_decode("Mw==").as_deref(), Some(&b"3"[..]));
        assert_eq!(base64_decode("Mw").as_deref(), Some(&b"3"[..]));
        assert_eq!(base64_decode("TWFu").as_deref(), Some(&b"Man"[..]));
        assert_eq!(base64_decode("TWFuT"), None);
    }
}
