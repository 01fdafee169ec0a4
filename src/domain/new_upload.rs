//! Parse-don't-validate inputs for a new upload: once built, each value is known good.

use crate::error_codes as codes;
use serde_json::Value;

use super::text;

const MAX_METADATA_BYTES: usize = 8 * 1024;

/// Why a client's declaration was refused. Each variant has a stable code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidInput {
    #[error(
        "filename must be 1 to 255 characters, without control characters or path separators, \
         and more than dots and spaces"
    )]
    Filename,
    #[error("title must be 1 to 200 characters without control characters")]
    Title,
    #[error("size must be a positive number of bytes")]
    Size,
    #[error("size {size} exceeds the maximum of {max} bytes")]
    TooLarge { size: u64, max: u64 },
    #[error("content_type must look like type/subtype")]
    ContentType,
    #[error("content type {0:?} is not accepted here")]
    UnsupportedContentType(String),
    #[error("metadata must be a JSON object of at most 8 KiB")]
    Metadata,
    #[error("part_size must be from 5 MiB to 5 GiB and split the file into at most 10,000 parts")]
    PartSize,
    #[error("invalid checksum: {reason}")]
    Checksum { reason: String },
    #[error("this service requires checksums: give checksum_algorithm and part_checksums")]
    ChecksumsRequired,
}

impl InvalidInput {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Filename => codes::INVALID_FILENAME,
            Self::Title => codes::INVALID_TITLE,
            Self::Size => codes::INVALID_SIZE,
            Self::TooLarge { .. } => codes::UPLOAD_TOO_LARGE,
            Self::ContentType => codes::INVALID_CONTENT_TYPE,
            Self::UnsupportedContentType(_) => codes::UNSUPPORTED_CONTENT_TYPE,
            Self::Metadata => codes::INVALID_METADATA,
            Self::PartSize => codes::INVALID_PART_SIZE,
            Self::Checksum { .. } => codes::INVALID_CHECKSUM,
            Self::ChecksumsRequired => codes::CHECKSUMS_REQUIRED,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filename(String);

impl Filename {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let name = text::FILENAME.check(raw).ok_or(InvalidInput::Filename)?;
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A form of the name safe in an object key: ASCII letters, digits, `.`, `-`, `_` only,
    /// so keys never need percent-encoding and events decode unambiguously.
    pub fn key_safe(&self) -> String {
        let safe: String = self
            .0
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .take(100)
            .collect();
        let trimmed = safe.trim_start_matches('.');
        if trimmed.is_empty() {
            "file".to_owned()
        } else {
            trimmed.to_owned()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let title = text::TITLE.check(raw).ok_or(InvalidInput::Title)?;
        Ok(Self(title.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadSize(u64);

impl UploadSize {
    pub fn parse(raw: i64, max: u64) -> Result<Self, InvalidInput> {
        let size = u64::try_from(raw).map_err(|_| InvalidInput::Size)?;
        if size == 0 {
            return Err(InvalidInput::Size);
        }
        if size > max {
            return Err(InvalidInput::TooLarge { size, max });
        }
        Ok(Self(size))
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

/// A `type/subtype` media type, lower-cased, accepted by the configured allow-list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentType(String);

/// The characters of a media type's type and subtype (RFC 6838's restricted names).
const MEDIA_TOKEN_CHARS: &str = "!#$&-^_.+";

impl ContentType {
    pub fn parse(raw: &str, allowed: &[String]) -> Result<Self, InvalidInput> {
        let value = raw.to_ascii_lowercase();
        let is_token = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || MEDIA_TOKEN_CHARS.contains(c))
        };
        match value.split_once('/') {
            Some((kind, sub)) if is_token(kind) && is_token(sub) => {}
            _ => return Err(InvalidInput::ContentType),
        }
        if !allowed.iter().any(|pattern| Self::matches(pattern, &value)) {
            return Err(InvalidInput::UnsupportedContentType(value));
        }
        Ok(Self(value))
    }

    fn matches(pattern: &str, value: &str) -> bool {
        let pattern = pattern.trim().to_ascii_lowercase();
        if pattern == "*/*" {
            return true;
        }
        match pattern.strip_suffix("/*") {
            Some(family) => value
                .split_once('/')
                .is_some_and(|(kind, _)| kind == family),
            None => pattern == value,
        }
    }

    /// The allow-list as an ECMA-262 pattern, for the OpenAPI document: what [`Self::parse`]
    /// accepts, in any letter case.
    pub fn pattern(allowed: &[String]) -> String {
        let token = r"[A-Za-z0-9!#$&\-^_.+]+";
        let literal = |text: &str| -> String {
            text.chars()
                .map(|c| match c {
                    c if c.is_ascii_alphabetic() => {
                        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                    }
                    c if "\\^$.|?*+()[]{}".contains(c) => format!("\\{c}"),
                    c => c.to_string(),
                })
                .collect()
        };
        let alternatives: Vec<String> = allowed
            .iter()
            .map(|pattern| pattern.trim())
            .filter(|pattern| !pattern.is_empty())
            .map(|pattern| {
                if pattern == "*/*" {
                    format!("{token}/{token}")
                } else if let Some(family) = pattern.strip_suffix("/*") {
                    format!("{}/{token}", literal(family))
                } else {
                    literal(pattern)
                }
            })
            .collect();
        format!("^({})$", alternatives.join("|"))
    }

    /// Whether a `Content-Type` reported by storage is this type (parameters and case ignored).
    pub fn same_as(&self, reported: &str) -> bool {
        let essence = reported.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated declaration of an upload.
#[derive(Clone, Debug)]
pub struct NewUpload {
    pub filename: Filename,
    pub title: Title,
    pub content_type: ContentType,
    pub size: UploadSize,
    pub metadata: Value,
}

impl NewUpload {
    /// A JSON object of at most 8 KiB; NUL characters (which `jsonb` cannot keep) become
    /// U+FFFD.
    pub fn parse_metadata(raw: Option<Value>) -> Result<Value, InvalidInput> {
        let value = text::storable_json(raw.unwrap_or_else(|| Value::Object(Default::default())));
        if !value.is_object() || value.to_string().len() > MAX_METADATA_BYTES {
            return Err(InvalidInput::Metadata);
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video_only() -> Vec<String> {
        vec!["video/*".to_owned()]
    }

    #[test]
    fn filenames_with_paths_or_control_characters_are_refused() {
        for bad in [
            "", "   ", "../x.mp4", "a/b.mp4", "a\\b.mp4", "a\nb.mp4", "..", "...",
        ] {
            assert_eq!(Filename::parse(bad), Err(InvalidInput::Filename), "{bad:?}");
        }
        assert!(Filename::parse(&"x".repeat(256)).is_err());
        assert_eq!(Filename::parse(" clip.mp4 ").unwrap().as_str(), "clip.mp4");
    }

    #[test]
    fn key_safe_names_keep_only_plain_characters() {
        let name = Filename::parse("Mi jugada ñ (final)+1.mp4").unwrap();
        assert_eq!(name.key_safe(), "Mi_jugada____final__1.mp4");
        assert_eq!(Filename::parse("..clip").unwrap().key_safe(), "clip");
    }

    #[test]
    fn sizes_must_be_positive_and_within_the_maximum() {
        assert_eq!(UploadSize::parse(0, 10), Err(InvalidInput::Size));
        assert_eq!(UploadSize::parse(-5, 10), Err(InvalidInput::Size));
        assert_eq!(
            UploadSize::parse(11, 10),
            Err(InvalidInput::TooLarge { size: 11, max: 10 })
        );
        assert_eq!(UploadSize::parse(10, 10).unwrap().get(), 10);
    }

    #[test]
    fn content_types_are_matched_against_the_allow_list() {
        assert_eq!(
            ContentType::parse("Video/MP4", &video_only())
                .unwrap()
                .as_str(),
            "video/mp4"
        );
        assert_eq!(
            ContentType::parse("image/png", &video_only()),
            Err(InvalidInput::UnsupportedContentType("image/png".into()))
        );
        assert_eq!(
            ContentType::parse("video", &video_only()),
            Err(InvalidInput::ContentType)
        );
        assert!(ContentType::parse("image/png", &["*/*".to_owned()]).is_ok());
        let exact = vec!["video/mp4".to_owned()];
        assert!(ContentType::parse("video/webm", &exact).is_err());
        assert!(ContentType::parse("video/mp4", &exact).is_ok());
    }

    #[test]
    fn the_content_type_pattern_describes_the_allow_list() {
        let lists = [
            video_only(),
            vec!["*/*".to_owned()],
            vec!["video/mp4".to_owned(), "application/x.y+z".to_owned()],
        ];
        for allowed in lists {
            let pattern = regex_lite::Regex::new(&ContentType::pattern(&allowed)).unwrap();
            for sample in [
                "video/mp4",
                "VIDEO/Quicktime",
                "video/",
                "video",
                " video/mp4",
                "image/png",
                "application/x.y+z",
                "application/xay+z",
                "video/mp4;x=y",
                "a/b/c",
            ] {
                assert_eq!(
                    pattern.is_match(sample),
                    ContentType::parse(sample, &allowed).is_ok(),
                    "{sample:?} against {allowed:?}"
                );
            }
        }
    }

    #[test]
    fn reported_content_types_compare_without_parameters() {
        let ct = ContentType::parse("video/mp4", &video_only()).unwrap();
        assert!(ct.same_as("video/mp4; charset=binary"));
        assert!(ct.same_as("VIDEO/MP4"));
        assert!(!ct.same_as("text/plain"));
    }

    #[test]
    fn titles_and_metadata_are_bounded() {
        assert!(Title::parse("  ").is_err());
        assert!(Title::parse(&"t".repeat(201)).is_err());
        assert_eq!(Title::parse(" Triple ").unwrap().as_str(), "Triple");
        assert!(NewUpload::parse_metadata(Some(serde_json::json!([1]))).is_err());
        assert!(NewUpload::parse_metadata(None).unwrap().is_object());
    }
}
