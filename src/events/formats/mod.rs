//! One module per storage dialect, plus what they share: picking the dialect from a body's shape,
//! and reading the S3-style records that MinIO/RustFS, AWS and Ceph all send (they differ only in
//! how the key is encoded and how a few fields are spelled).

mod aws;
mod ceph;
mod minio;
mod seaweedfs;

use serde_json::{Map, Value};

use super::key;
use super::{Format, Ignored, IgnoredReason, Item, ObjectCreated, ParseError, Parsed};

type Object = Map<String, Value>;

/// Picks the dialect from the body's shape. `inside_sns` is set while reading an SNS `Message`,
/// so an envelope inside an envelope is refused instead of unwrapped again.
pub(super) fn parse_value(value: &Value, inside_sns: bool) -> Result<Parsed, ParseError> {
    let Some(body) = value.as_object() else {
        return Err(ParseError::UnknownShape(format!(
            "the top level is {}, not an object",
            kind(value)
        )));
    };
    if let Some(records) = body.get("Records") {
        return parse_records(body, records);
    }
    if aws::is_sns_envelope(body) {
        if inside_sns {
            return Err(ParseError::UnknownShape(
                "an SNS envelope inside an SNS envelope".to_owned(),
            ));
        }
        return aws::parse_sns(body);
    }
    if aws::is_test_event(body) {
        return Ok(Parsed::single(Item::Ignored(aws::test_event(body))));
    }
    if aws::is_eventbridge(body) {
        return aws::parse_eventbridge(body).map(Parsed::single);
    }
    if seaweedfs::is_filer_event(body) {
        return seaweedfs::parse(body).map(Parsed::single);
    }
    Err(ParseError::UnknownShape(format!(
        "top-level fields {}",
        field_names(body)
    )))
}

fn parse_records(body: &Object, records: &Value) -> Result<Parsed, ParseError> {
    let Some(records) = records.as_array() else {
        return Err(ParseError::Invalid(format!(
            "Records is {}, not a list",
            kind(records)
        )));
    };
    if records.is_empty() {
        return Ok(Parsed::single(Item::Ignored(Ignored::new(
            IgnoredReason::Empty,
            "Records is empty",
        ))));
    }
    let minio_envelope = minio::is_envelope(body);
    let items = records
        .iter()
        .enumerate()
        .map(|(index, record)| parse_record(index, record, minio_envelope))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Parsed { items })
}

/// Each record names its sender in `eventSource`; MinIO's envelope vouches for records without one.
fn parse_record(index: usize, record: &Value, minio_envelope: bool) -> Result<Item, ParseError> {
    let Some(record) = record.as_object() else {
        return Err(ParseError::Invalid(format!(
            "record {index} is {}, not an object",
            kind(record)
        )));
    };
    match record.get("eventSource").and_then(Value::as_str) {
        Some(source) if minio::SOURCES.contains(&source) => minio::record(index, record),
        Some(aws::SOURCE) => aws::record(index, record),
        Some(ceph::SOURCE) => ceph::record(index, record),
        None if minio_envelope => minio::record(index, record),
        source => Err(ParseError::UnknownShape(format!(
            "record {index} has eventSource {source:?}, not a storage event source"
        ))),
    }
}

/// What differs between the S3-style records of the stores that send them.
struct RecordDialect {
    format: Format,
    /// MinIO, RustFS and AWS form-URL-encode `s3.object.key`; Ceph sends it raw.
    key_is_encoded: bool,
    /// Ceph has sent `size` as a JSON string.
    size_may_be_string: bool,
}

/// Reads one S3-style record: `eventName`, then `s3.bucket.name` and `s3.object.*`.
fn s3_record(index: usize, record: &Object, dialect: &RecordDialect) -> Result<Item, ParseError> {
    let invalid = |what: String| ParseError::Invalid(format!("record {index}: {what}"));
    let event_name = record
        .get("eventName")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("eventName is missing".to_owned()))?;
    let s3 = record.get("s3").and_then(Value::as_object);
    let object = s3
        .and_then(|s3| s3.get("object"))
        .and_then(Value::as_object);
    let raw_key = object.and_then(|o| o.get("key")).and_then(Value::as_str);

    if !creates_object(event_name) {
        return Ok(Item::Ignored(Ignored::new(
            IgnoredReason::NotObjectCreated,
            format!("{event_name} {}", raw_key.unwrap_or("(no key)")),
        )));
    }

    let bucket = s3
        .and_then(|s3| s3.get("bucket"))
        .and_then(|bucket| bucket.get("name"))
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| invalid("s3.bucket.name is missing".to_owned()))?;
    let object = object.ok_or_else(|| invalid("s3.object is missing".to_owned()))?;
    let raw_key = raw_key
        .filter(|key| !key.is_empty())
        .ok_or_else(|| invalid("s3.object.key is missing".to_owned()))?;
    let key = if dialect.key_is_encoded {
        key::form_decode(raw_key).map_err(|e| invalid(format!("s3.object.key {raw_key:?}: {e}")))?
    } else {
        raw_key.to_owned()
    };
    let size = size(object.get("size"), dialect.size_may_be_string).map_err(invalid)?;
    // RustFS before its camelCase fix and older Ceph spell it `etag`.
    let etag = match optional_str(object, "eTag").map_err(invalid)? {
        Some(etag) => Some(etag),
        None => optional_str(object, "etag").map_err(invalid)?,
    };

    Ok(Item::Created(ObjectCreated {
        bucket: bucket.to_owned(),
        key,
        size,
        etag: etag.and_then(clean_etag),
        format: dialect.format,
    }))
}

/// Whether an S3 event name (with or without the `s3:` prefix) means new bytes under a key.
/// MinIO and RustFS also file tagging, retention and legal-hold changes under `ObjectCreated:`
/// (`PutTagging`, `DeleteTagging`, `PutRetention`, `PutLegalHold`); those write no object.
fn creates_object(event_name: &str) -> bool {
    let name = event_name.strip_prefix("s3:").unwrap_or(event_name);
    matches!(
        name,
        "ObjectCreated:Put"
            | "ObjectCreated:Post"
            | "ObjectCreated:Copy"
            | "ObjectCreated:CompleteMultipartUpload"
    )
}

/// A byte count: a JSON number, or where the dialect allows it a string of digits.
fn size(value: Option<&Value>, may_be_string: bool) -> Result<Option<u64>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("size {number} is not a byte count")),
        Some(Value::String(text)) if may_be_string => text
            .parse()
            .map(Some)
            .map_err(|_| format!("size {text:?} is not a byte count")),
        Some(other) => Err(format!("size is {}, not a number", kind(other))),
    }
}

/// A string field that may be absent, null or empty (all read as `None`), but not another type.
fn optional_str<'a>(object: &'a Object, field: &str) -> Result<Option<&'a str>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(format!("{field} is {}, not a string", kind(other))),
    }
}

/// ETags are quoted in HTTP headers and some senders keep the quotes; an empty one is no ETag.
fn clean_etag(etag: &str) -> Option<String> {
    let bare = etag
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(etag);
    (!bare.is_empty()).then(|| bare.to_owned())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The first few field names, enough to recognise a sender in a log line.
fn field_names(object: &Object) -> String {
    const SHOWN: usize = 8;
    let mut names: Vec<&str> = object.keys().map(String::as_str).take(SHOWN).collect();
    if object.len() > SHOWN {
        names.push("...");
    }
    if names.is_empty() {
        return "(none)".to_owned();
    }
    names.join(", ")
}

/// The one item a test body parses to.
#[cfg(test)]
pub(crate) fn only_item(body: &str) -> crate::events::Item {
    let mut parsed = crate::events::parse(body.as_bytes()).unwrap();
    assert_eq!(parsed.items.len(), 1, "{parsed:?}");
    parsed.items.remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_four_writing_operations_create_objects() {
        for name in [
            "s3:ObjectCreated:Put",
            "ObjectCreated:Post",
            "ObjectCreated:Copy",
            "s3:ObjectCreated:CompleteMultipartUpload",
        ] {
            assert!(creates_object(name), "{name}");
        }
        for name in [
            "s3:ObjectCreated:PutTagging",
            "s3:ObjectCreated:DeleteTagging",
            "s3:ObjectCreated:PutRetention",
            "s3:ObjectCreated:PutLegalHold",
            "s3:ObjectRemoved:Delete",
            "ObjectRestore:Completed",
            "ObjectCreated",
        ] {
            assert!(!creates_object(name), "{name}");
        }
    }

    #[test]
    fn quotes_around_an_etag_are_removed_and_an_empty_etag_is_none() {
        assert_eq!(clean_etag("\"abc\"").as_deref(), Some("abc"));
        assert_eq!(clean_etag("abc").as_deref(), Some("abc"));
        assert_eq!(clean_etag("\"\""), None);
        assert_eq!(clean_etag(""), None);
    }

    #[test]
    fn a_negative_or_fractional_size_is_refused() {
        assert!(size(Some(&serde_json::json!(-1)), false).is_err());
        assert!(size(Some(&serde_json::json!(1.5)), false).is_err());
        assert!(size(Some(&serde_json::json!("12")), false).is_err());
        assert_eq!(size(Some(&serde_json::json!("12")), true), Ok(Some(12)));
    }
}
