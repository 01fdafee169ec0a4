//! The errors each operation can answer with, so the OpenAPI document (and the SDKs generated
//! from it) lists exactly those. Each is a subset of [`ApiError`]; every one also documents 401
//! and 500. An error outside an operation's set is a bug: it is logged and answered as 500.

use crate::error_codes as codes;
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;

use super::error::{ApiError, ErrorBody};
use crate::uploads::UploadError;

macro_rules! operation_errors {
    ($(#[doc = $doc:literal])* $name:ident { $($variant:ident = $status:literal: $what:literal),* $(,)? } $(throttled: $throttled:literal)?) => {
        $(#[doc = $doc])*
        #[derive(ApiResponse, Debug)]
        pub enum $name {
            $(
                #[doc = $what]
                #[oai(status = $status)]
                $variant(Json<ErrorBody>),
            )*
            $(
                #[doc = $throttled]
                #[oai(status = 429)]
                TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
            )?
            /// Missing, malformed, forged or expired bearer token.
            #[oai(status = 401)]
            Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
            /// Something failed on our side; the log has the details.
            #[oai(status = 500)]
            Internal(Json<ErrorBody>),
        }

        impl From<ApiError> for $name {
            fn from(err: ApiError) -> Self {
                match err {
                    $(ApiError::$variant(body) => Self::$variant(body),)*
                    $(ApiError::TooManyRequests(body, retry_after) => {
                        let _ = $throttled;
                        Self::TooManyRequests(body, retry_after)
                    })?
                    ApiError::Unauthorized(body, challenge) => Self::Unauthorized(body, challenge),
                    ApiError::Internal(body) => Self::Internal(body),
                    unexpected => {
                        tracing::error!(error = ?unexpected, operation = stringify!($name), "undocumented error status");
                        Self::Internal(ErrorBody::new(codes::INTERNAL, "internal error"))
                    }
                }
            }
        }

        impl From<UploadError> for $name {
            fn from(err: UploadError) -> Self {
                ApiError::from(err).into()
            }
        }
    };
}

operation_errors!(
    /// Errors of declaring an upload.
    CreateErrors {
        BadRequest = 400: "The body is not a declaration (unparseable JSON, missing fields), or the `Idempotency-Key` is malformed.",
        Conflict = 409: "A request with the same `Idempotency-Key` is still creating its upload (`idempotency-key-in-progress`); retry shortly.",
        TooLarge = 413: "The declared size exceeds the maximum.",
        Unprocessable = 422: "A value is not acceptable: name, size, type, title or metadata; or the `Idempotency-Key` was used with another body (`idempotency-key-reused`).",
        Unavailable = 503: "Storage could not be reached; retry later.",
    }
    throttled: "Over one of the owner's quotas: pending uploads (`too-many-pending-uploads`), pending bytes (`too-many-pending-bytes`) or creates per minute (`create-rate-exceeded`). Nothing was created."
);

operation_errors!(
    /// Errors of reading uploads.
    ReadErrors {
        BadRequest = 400: "A malformed id, parameter or cursor.",
        NotFound = 404: "No such upload among the caller's.",
        Unprocessable = 422: "A parameter out of range (`limit`).",
    }
);

operation_errors!(
    /// Errors of acting on an upload (signing, listing parts, completing, aborting).
    UploadActionErrors {
        BadRequest = 400: "A malformed id or body.",
        NotFound = 404: "No such upload among the caller's.",
        Conflict = 409: "The upload does not allow it: not pending, parts missing or refused, object not there yet; part numbers beyond its plan (`part-outside-plan`); a part whose checksum is not known yet (`part-checksum-missing`), checksums for an upload declared without them (`checksums-not-declared`) or of another algorithm's length (`checksum-algorithm-mismatch`).",
        Unprocessable = 422: "Part numbers no upload has (1 to 10,000), too many at once, or a malformed checksum.",
        Unavailable = 503: "Storage could not be reached; retry later.",
    }
);

operation_errors!(
    /// Errors of starting an Uppy session.
    SessionErrors {
        BadRequest = 400: "A body that cannot be read.",
        Unprocessable = 422: "An `origin` that is not `scheme://host[:port]` or `*`, or a `max_uploads` out of range.",
    }
    throttled: "The caller has as many active sessions as allowed (UC_MAX_SESSIONS_PER_OWNER)."
);

operation_errors!(
    /// Errors of revoking an Uppy session.
    RevokeSessionErrors {
        BadRequest = 400: "A malformed session id.",
        NotFound = 404: "No such session among the caller's.",
    }
);

operation_errors!(
    /// Errors of getting a development token.
    DevTokenErrors {
        BadRequest = 400: "A body that cannot be read.",
        NotFound = 404: "The demo page, and with it dev tokens, is switched off.",
        Unprocessable = 422: "An unacceptable `sub`.",
    }
);

operation_errors!(
    /// Errors of receiving storage events.
    EventErrors {
        BadRequest = 400: "A body that is not a storage event this service understands.",
        Unavailable = 503: "Storage or the database failed; send the event again later.",
    }
);

operation_errors!(
    /// Errors of a worker's report.
    ReportErrors {
        BadRequest = 400: "A malformed id or body.",
        NotFound = 404: "No such upload.",
        Conflict = 409: "The upload is not being processed (or already reported otherwise).",
    }
);

operation_errors!(
    /// Errors of opening the status stream.
    StreamErrors {
        BadRequest = 400: "A `Last-Event-ID` that is not an id this stream sent.",
        Forbidden = 403: "An upload session used from another origin than its own.",
    }
    throttled: "The caller has as many status streams open as allowed (UC_MAX_STREAMS_PER_OWNER)."
);

operation_errors!(
    /// Errors of asking for a download link.
    DownloadErrors {
        BadRequest = 400: "A malformed id.",
        NotFound = 404: "No such upload among the caller's.",
        Conflict = 409: "No bytes to download: not confirmed yet (`upload-not-uploaded`), or aborted, expired or rejected (`upload-gone`).",
        Unavailable = 503: "Storage could not be reached; retry later.",
    }
);

operation_errors!(
    /// Errors of the operators' webhook endpoints.
    InternalListErrors {
        BadRequest = 400: "A malformed parameter or body.",
        Unprocessable = 422: "A parameter out of range.",
    }
);
