//! Storage event parsing: turns the bodies that MinIO, RustFS, AWS S3 (direct, SNS-wrapped or
//! through EventBridge), Ceph RGW and the SeaweedFS filer send into normalised "object created"
//! facts. Pure: no I/O. An event only names an object; whoever consumes these facts still checks
//! storage (HEAD) and its own intent before committing anything, so a fact here is a hint that
//! may be duplicated, stale or premature, never proof.

mod formats;
mod intake;
mod key;

pub use intake::{EventIntake, IntakeError, Summary};

use crate::error_codes as codes;
use std::fmt;

/// Storage reports that an object now exists under `bucket`/`key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectCreated {
    pub bucket: String,
    /// The object key as storage knows it: URL escapes already decoded.
    pub key: String,
    pub size: Option<u64>,
    /// The S3 ETag without surrounding quotes (`<md5>-<parts>` after a multipart upload).
    pub etag: Option<String>,
    pub format: Format,
}

/// Which store's dialect a fact was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// MinIO and RustFS, which share one body layout.
    Minio,
    /// AWS S3 records, SNS envelopes and EventBridge events.
    Aws,
    Ceph,
    SeaweedFs,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minio => "minio",
            Self::Aws => "aws",
            Self::Ceph => "ceph",
            Self::SeaweedFs => "seaweedfs",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a well-formed event carries nothing to confirm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IgnoredReason {
    /// The `s3:TestEvent` AWS sends when a notification is configured.
    TestEvent,
    /// A removal, a rename, a metadata change or any other event that writes no new object.
    NotObjectCreated,
    /// A SeaweedFS entry under `/buckets/<bucket>/.uploads/`: a part of an unfinished upload.
    MultipartPart,
    /// A SeaweedFS directory entry; S3 objects are files.
    Directory,
    /// A SeaweedFS `/buckets/<bucket>` entry: the bucket itself.
    BucketEntry,
    /// A body with no event in it (empty, or an empty `Records` list).
    Empty,
}

impl IgnoredReason {
    pub const ALL: [IgnoredReason; 6] = [
        Self::TestEvent,
        Self::NotObjectCreated,
        Self::MultipartPart,
        Self::Directory,
        Self::BucketEntry,
        Self::Empty,
    ];

    /// A stable label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TestEvent => "test-event",
            Self::NotObjectCreated => "not-object-created",
            Self::MultipartPart => "multipart-part",
            Self::Directory => "directory",
            Self::BucketEntry => "bucket-entry",
            Self::Empty => "empty",
        }
    }
}

impl fmt::Display for IgnoredReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event that was understood and deliberately skipped; `detail` is for logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignored {
    pub reason: IgnoredReason,
    pub detail: String,
}

impl Ignored {
    fn new(reason: IgnoredReason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Created(ObjectCreated),
    Ignored(Ignored),
}

/// Everything one body said, in order. AWS may put several records in one body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub items: Vec<Item>,
}

impl Parsed {
    fn single(item: Item) -> Self {
        Self { items: vec![item] }
    }
}

/// Why a body could not be read. The whole body is refused: acknowledging half of it would
/// lose the other half silently.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("event body is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("event body has no known shape: {0}")]
    UnknownShape(String),
    #[error("event body is invalid: {0}")]
    Invalid(String),
}

impl ParseError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotJson(_) => codes::EVENT_NOT_JSON,
            Self::UnknownShape(_) => codes::EVENT_UNKNOWN_SHAPE,
            Self::Invalid(_) => codes::EVENT_INVALID,
        }
    }
}

/// Reads one event body, detecting which store sent it from its shape.
pub fn parse(body: &[u8]) -> Result<Parsed, ParseError> {
    // Webhook senders probe endpoints with empty requests; that is not malformed JSON.
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Parsed::single(Item::Ignored(Ignored::new(
            IgnoredReason::Empty,
            "empty body",
        ))));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(ParseError::NotJson)?;
    formats::parse_value(&value, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn single_ignored(body: &str) -> Ignored {
        let parsed = parse(body.as_bytes()).unwrap();
        match parsed.items.as_slice() {
            [Item::Ignored(ignored)] => ignored.clone(),
            other => panic!("expected one ignored item, got {other:?}"),
        }
    }

    #[test]
    fn malformed_json_is_not_json() {
        let error = parse(br#"{"Records": [ "#).unwrap_err();
        assert!(matches!(error, ParseError::NotJson(_)));
        assert_eq!(error.code(), "event-not-json");
    }

    #[test]
    fn json_of_an_unknown_shape_is_unknown_shape() {
        let error = parse(br#"{"hello": "world", "count": 3}"#).unwrap_err();
        assert!(matches!(error, ParseError::UnknownShape(_)), "{error}");
        assert_eq!(error.code(), "event-unknown-shape");
        assert!(error.to_string().contains("hello"), "{error}");
    }

    #[test]
    fn a_top_level_array_is_unknown_shape() {
        let error = parse(b"[1, 2, 3]").unwrap_err();
        assert!(matches!(error, ParseError::UnknownShape(_)), "{error}");
    }

    #[test]
    fn records_from_an_unknown_source_are_unknown_shape() {
        let body = r#"{"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}"#;
        let error = parse(body.as_bytes()).unwrap_err();
        assert!(matches!(error, ParseError::UnknownShape(_)), "{error}");
        assert!(error.to_string().contains("aws:sqs"), "{error}");
    }

    #[test]
    fn records_that_are_not_a_list_are_invalid() {
        let error = parse(br#"{"Records": {"eventSource": "aws:s3"}}"#).unwrap_err();
        assert!(matches!(error, ParseError::Invalid(_)), "{error}");
        assert_eq!(error.code(), "event-invalid");
    }

    #[test]
    fn an_empty_body_is_ignored_as_empty() {
        assert_eq!(single_ignored("").reason, IgnoredReason::Empty);
        assert_eq!(single_ignored(" \r\n").reason, IgnoredReason::Empty);
    }

    #[test]
    fn an_empty_records_list_is_ignored_as_empty() {
        assert_eq!(
            single_ignored(r#"{"Records": []}"#).reason,
            IgnoredReason::Empty
        );
    }

    #[test]
    fn ignored_reasons_have_distinct_kebab_case_labels() {
        let labels: HashSet<&str> = IgnoredReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels.len(), IgnoredReason::ALL.len());
        for label in labels {
            assert!(
                label.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{label}"
            );
        }
        assert_eq!(
            IgnoredReason::NotObjectCreated.as_str(),
            "not-object-created"
        );
    }

    #[test]
    fn formats_have_stable_labels() {
        assert_eq!(Format::Minio.as_str(), "minio");
        assert_eq!(Format::Aws.as_str(), "aws");
        assert_eq!(Format::Ceph.as_str(), "ceph");
        assert_eq!(Format::SeaweedFs.to_string(), "seaweedfs");
    }
}
