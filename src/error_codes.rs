//! Every stable error code a client can see, defined once: the `code` of each `{code, message}`
//! error body. A code, once published, keeps its meaning; a test checks they are unique and
//! kebab-case.

pub const CHECKSUM_ALGORITHM_MISMATCH: &str = "checksum-algorithm-mismatch";
pub const CHECKSUM_CONFLICT: &str = "checksum-conflict";
pub const CHECKSUM_MISMATCH: &str = "checksum-mismatch";
pub const CHECKSUMS_NOT_DECLARED: &str = "checksums-not-declared";
pub const CHECKSUMS_REQUIRED: &str = "checksums-required";
pub const CREATE_RATE_EXCEEDED: &str = "create-rate-exceeded";
pub const DEV_TOKEN_UNAVAILABLE: &str = "dev-token-unavailable";
pub const EVENT_INVALID: &str = "event-invalid";
pub const EVENT_NOT_JSON: &str = "event-not-json";
pub const EVENT_UNKNOWN_SHAPE: &str = "event-unknown-shape";
pub const IDEMPOTENCY_KEY_IN_PROGRESS: &str = "idempotency-key-in-progress";
pub const IDEMPOTENCY_KEY_REUSED: &str = "idempotency-key-reused";
pub const INTERNAL: &str = "internal";
pub const INVALID_CHECKSUM: &str = "invalid-checksum";
pub const INVALID_CONTENT_TYPE: &str = "invalid-content-type";
pub const INVALID_CURSOR: &str = "invalid-cursor";
pub const INVALID_EVENT_ID: &str = "invalid-event-id";
pub const INVALID_IDEMPOTENCY_KEY: &str = "invalid-idempotency-key";
pub const INVALID_FILENAME: &str = "invalid-filename";
pub const INVALID_LIMIT: &str = "invalid-limit";
pub const INVALID_METADATA: &str = "invalid-metadata";
pub const INVALID_ORIGIN: &str = "invalid-origin";
pub const INVALID_PART: &str = "invalid-part";
pub const INVALID_PART_NUMBER: &str = "invalid-part-number";
pub const INVALID_PART_REQUEST: &str = "invalid-part-request";
pub const INVALID_PART_SIZE: &str = "invalid-part-size";
pub const INVALID_REQUEST: &str = "invalid-request";
pub const INVALID_SIZE: &str = "invalid-size";
pub const INVALID_SUB: &str = "invalid-sub";
pub const INVALID_TITLE: &str = "invalid-title";
pub const INVALID_TOKEN: &str = "invalid-token";
pub const METHOD_NOT_ALLOWED: &str = "method-not-allowed";
pub const MISSING_TOKEN: &str = "missing-token";
pub const NOT_FOUND: &str = "not-found";
pub const OBJECT_MISSING: &str = "object-missing";
pub const ORIGIN_NOT_ALLOWED: &str = "origin-not-allowed";
pub const PART_SIZE_MISMATCH: &str = "part-size-mismatch";
pub const PARTS_MISSING: &str = "parts-missing";
pub const PAYLOAD_TOO_LARGE: &str = "payload-too-large";
pub const REQUEST_TIMEOUT: &str = "request-timeout";
pub const SESSION_NOT_FOUND: &str = "session-not-found";
pub const SESSION_REVOKED: &str = "session-revoked";
pub const SESSION_UPLOAD_LIMIT: &str = "session-upload-limit";
pub const STORAGE_UNAVAILABLE: &str = "storage-unavailable";
pub const TOKEN_EXPIRED: &str = "token-expired";
pub const TOO_MANY_PENDING_BYTES: &str = "too-many-pending-bytes";
pub const TOO_MANY_PENDING_UPLOADS: &str = "too-many-pending-uploads";
pub const TOO_MANY_SESSIONS: &str = "too-many-sessions";
pub const TOO_MANY_STREAMS: &str = "too-many-streams";
pub const UNSUPPORTED_CONTENT_TYPE: &str = "unsupported-content-type";
pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported-media-type";
pub const UPLOAD_GONE: &str = "upload-gone";
pub const PART_CHECKSUM_MISSING: &str = "part-checksum-missing";
pub const PART_OUTSIDE_PLAN: &str = "part-outside-plan";
pub const UPLOAD_NOT_FOUND: &str = "upload-not-found";
pub const UPLOAD_NOT_UPLOADED: &str = "upload-not-uploaded";
pub const UPLOAD_NOT_PENDING: &str = "upload-not-pending";
pub const UPLOAD_TOO_LARGE: &str = "upload-too-large";
pub const X_FORWARDED_HOST: &str = "x-forwarded-host";
pub const X_FORWARDED_PROTO: &str = "x-forwarded-proto";

/// Every code above.
pub const ALL: &[&str] = &[
    INTERNAL,
    IDEMPOTENCY_KEY_IN_PROGRESS,
    IDEMPOTENCY_KEY_REUSED,
    INVALID_IDEMPOTENCY_KEY,
    CHECKSUM_ALGORITHM_MISMATCH,
    CHECKSUM_CONFLICT,
    CHECKSUMS_NOT_DECLARED,
    PART_CHECKSUM_MISSING,
    PART_OUTSIDE_PLAN,
    CHECKSUM_MISMATCH,
    CHECKSUMS_REQUIRED,
    CREATE_RATE_EXCEEDED,
    DEV_TOKEN_UNAVAILABLE,
    EVENT_INVALID,
    EVENT_NOT_JSON,
    EVENT_UNKNOWN_SHAPE,
    INVALID_CHECKSUM,
    INVALID_CONTENT_TYPE,
    INVALID_CURSOR,
    INVALID_EVENT_ID,
    INVALID_FILENAME,
    INVALID_LIMIT,
    INVALID_METADATA,
    INVALID_ORIGIN,
    INVALID_PART,
    INVALID_PART_NUMBER,
    INVALID_PART_REQUEST,
    INVALID_PART_SIZE,
    INVALID_REQUEST,
    INVALID_SIZE,
    INVALID_SUB,
    INVALID_TITLE,
    INVALID_TOKEN,
    METHOD_NOT_ALLOWED,
    MISSING_TOKEN,
    NOT_FOUND,
    OBJECT_MISSING,
    ORIGIN_NOT_ALLOWED,
    PART_SIZE_MISMATCH,
    PARTS_MISSING,
    PAYLOAD_TOO_LARGE,
    REQUEST_TIMEOUT,
    SESSION_NOT_FOUND,
    SESSION_REVOKED,
    SESSION_UPLOAD_LIMIT,
    STORAGE_UNAVAILABLE,
    TOKEN_EXPIRED,
    TOO_MANY_PENDING_BYTES,
    TOO_MANY_PENDING_UPLOADS,
    TOO_MANY_SESSIONS,
    TOO_MANY_STREAMS,
    UNSUPPORTED_CONTENT_TYPE,
    UNSUPPORTED_MEDIA_TYPE,
    UPLOAD_GONE,
    UPLOAD_NOT_FOUND,
    UPLOAD_NOT_UPLOADED,
    UPLOAD_NOT_PENDING,
    UPLOAD_TOO_LARGE,
    X_FORWARDED_HOST,
    X_FORWARDED_PROTO,
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::ALL;

    #[test]
    fn codes_are_unique_and_kebab_case() {
        let unique: BTreeSet<&str> = ALL.iter().copied().collect();
        assert_eq!(unique.len(), ALL.len(), "a code defined twice");
        for code in ALL {
            let kebab = !code.is_empty()
                && code.split('-').all(|word| {
                    !word.is_empty()
                        && word
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                });
            assert!(kebab, "{code:?} is not kebab-case");
        }
    }
}
