//! The one place errors become HTTP: every 4xx carries `{code, message}` with a stable code;
//! 5xx bodies say nothing internal while the log keeps the whole cause chain.

use crate::error_codes as codes;
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OperationId};

use crate::auth::{AuthError, SessionError};
use crate::uploads::UploadError;

/// What went wrong, for programs (`code`) and people (`message`).
#[derive(Object, Clone, Debug, serde::Deserialize)]
#[oai(rename = "ApiError")]
pub struct ErrorBody {
    /// Stable kebab-case identifier, e.g. `upload-not-found`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Json<Self> {
        Json(Self {
            code: code.to_owned(),
            message: message.into(),
        })
    }
}

/// An error and every cause under it, `outer: inner: innermost`, for the log of a 5xx.
pub fn cause_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Wrappers often repeat their cause's text; say it once.
        if !chain.ends_with(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        source = cause.source();
    }
    chain
}

pub const BEARER_CHALLENGE: &str = "Bearer realm=\"upload-coordinator\"";

#[derive(ApiResponse, Debug)]
pub enum ApiError {
    /// The request is malformed (unparseable JSON, bad parameter, unknown cursor).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Missing, malformed, forged or expired bearer token.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// The caller may not do this here (a session used from another origin, or out of uploads).
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such upload among the caller's.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The upload is not in a state that allows this (parts missing, not pending, ...).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The declared size exceeds the maximum.
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
    /// A value is well-formed but not acceptable (size, type, name, part numbers).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// Over a limit; retry after the given seconds.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// Something failed on our side; the log has the details.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// Storage could not be reached; retry later.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        Self::Unauthorized(
            ErrorBody::new(err.code(), err.to_string()),
            BEARER_CHALLENGE.to_owned(),
        )
    }
}

impl From<SessionError> for ApiError {
    fn from(err: SessionError) -> Self {
        match err {
            SessionError::Auth(auth) => auth.into(),
            SessionError::UploadLimit => {
                Self::Forbidden(ErrorBody::new(codes::SESSION_UPLOAD_LIMIT, err.to_string()))
            }
            SessionError::NotFound => {
                Self::NotFound(ErrorBody::new(codes::SESSION_NOT_FOUND, err.to_string()))
            }
            SessionError::TooMany(_) => Self::TooManyRequests(
                ErrorBody::new(codes::TOO_MANY_SESSIONS, err.to_string()),
                60,
            ),
            SessionError::Db(cause) => {
                tracing::error!(error = %cause_chain(&cause), "database request failed");
                Self::Internal(ErrorBody::new(codes::INTERNAL, "internal error"))
            }
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(err: UploadError) -> Self {
        let body = || ErrorBody::new(err.code(), err.to_string());
        match &err {
            UploadError::Invalid(crate::domain::InvalidInput::TooLarge { .. }) => {
                Self::TooLarge(body())
            }
            UploadError::Invalid(_)
            | UploadError::InvalidPartNumbers { .. }
            | UploadError::PartRequestSize { .. }
            | UploadError::InvalidLimit { .. }
            | UploadError::IdempotencyKeyReused => Self::Unprocessable(body()),
            UploadError::InvalidCursor | UploadError::InvalidIdempotencyKey { .. } => {
                Self::BadRequest(body())
            }
            UploadError::IdempotencyKeyInProgress | UploadError::IdempotencyKeyTakenOver => {
                Self::Conflict(body())
            }
            UploadError::OverQuota {
                retry_after_secs, ..
            } => Self::TooManyRequests(body(), *retry_after_secs),
            UploadError::NotFound => Self::NotFound(body()),
            UploadError::NotPending(_)
            | UploadError::PartsMissing(_)
            | UploadError::PartSizeMismatch { .. }
            | UploadError::InvalidPart(_)
            | UploadError::ChecksumConflict { .. }
            | UploadError::ChecksumMismatch(_)
            | UploadError::ObjectMissing
            | UploadError::NotUploaded
            | UploadError::PartsOutsidePlan { .. }
            | UploadError::ChecksumsNotDeclared
            | UploadError::PartChecksumMissing { .. }
            | UploadError::ChecksumAlgorithmMismatch(_)
            | UploadError::Gone(_) => Self::Conflict(body()),
            UploadError::Storage(cause) => {
                tracing::error!(error = %cause_chain(cause), "storage request failed");
                Self::Unavailable(ErrorBody::new(
                    err.code(),
                    "storage is unavailable, try again later",
                ))
            }
            UploadError::Db(cause) => {
                tracing::error!(error = %cause_chain(cause), "database request failed");
                Self::Internal(ErrorBody::new(err.code(), "internal error"))
            }
        }
    }
}

/// Gives errors raised outside our handlers (unknown routes, request parsing, missing
/// credentials) the same `{code, message}` shape. Our own responses pass through untouched.
pub async fn render_error(err: poem::Error) -> Response {
    // Kept on the response, so the metrics name the operation that failed.
    let operation = err.data::<OperationId>().copied();
    let mut response = render(err);
    if let Some(operation) = operation {
        response.set_data(operation);
    }
    response
}

fn render(err: poem::Error) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let (code, message) = match status {
        StatusCode::UNAUTHORIZED => (
            codes::MISSING_TOKEN,
            "a bearer token is required".to_owned(),
        ),
        StatusCode::NOT_FOUND => (codes::NOT_FOUND, "no such resource".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => (codes::METHOD_NOT_ALLOWED, err.to_string()),
        StatusCode::PAYLOAD_TOO_LARGE => (codes::PAYLOAD_TOO_LARGE, err.to_string()),
        StatusCode::REQUEST_TIMEOUT => (codes::REQUEST_TIMEOUT, err.to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (codes::UNSUPPORTED_MEDIA_TYPE, err.to_string()),
        s if s.is_client_error() => (codes::INVALID_REQUEST, err.to_string()),
        _ => {
            tracing::error!(error = %cause_chain(&err), "unhandled error");
            (codes::INTERNAL, "internal error".to_owned())
        }
    };
    let mut response = poem::web::Json(serde_json::json!({"code": code, "message": message}))
        .with_status(status)
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            "WWW-Authenticate",
            BEARER_CHALLENGE.parse().expect("valid header"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("storage request failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_5xx_is_logged_with_every_cause() {
        let err = Outer(std::io::Error::other("connection refused"));
        assert_eq!(
            cause_chain(&err),
            "storage request failed: connection refused"
        );
    }
}
