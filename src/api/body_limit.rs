//! Every request body is bounded in size and in time, whatever the protocol: HTTP/1 with a
//! length or chunked, HTTP/2 with a length or without. A declared length over the limit is
//! refused before a byte is read; otherwise at most the limit is read, then 413. No request of
//! ours carries video bytes: bodies are declarations, part lists and storage events.

use std::sync::Arc;
use std::time::Duration;

use poem::error::ReadBodyError;
use poem::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use poem::http::{HeaderValue, StatusCode};
use poem::{Error, Request};

use crate::app::AppState;

/// How much of a body is read, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub read_timeout: Duration,
}

fn too_large(limit: usize) -> Error {
    Error::from_string(
        format!("request bodies are limited to {limit} bytes"),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
}

/// Reads the body up front within the limits. A POST without a body (`curl -X POST
/// .../complete`) then reads as an empty JSON body, so operations whose body is optional accept
/// it instead of answering 415.
pub async fn bounded_body(mut req: Request) -> poem::Result<Request> {
    let limits = req
        .data::<Arc<AppState>>()
        .expect("state installed")
        .body_limits;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|len| len.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.max_bytes as u64) {
        return Err(too_large(limits.max_bytes));
    }
    let read = req.take_body().into_bytes_limit(limits.max_bytes);
    let body = match tokio::time::timeout(limits.read_timeout, read).await {
        Ok(Ok(body)) => body,
        Ok(Err(ReadBodyError::PayloadTooLarge)) => return Err(too_large(limits.max_bytes)),
        Ok(Err(err)) => {
            return Err(Error::from_string(
                format!("the request body could not be read: {err}"),
                StatusCode::BAD_REQUEST,
            ));
        }
        Err(_) => {
            return Err(Error::from_string(
                format!(
                    "the request body did not arrive within {} s",
                    limits.read_timeout.as_secs()
                ),
                StatusCode::REQUEST_TIMEOUT,
            ));
        }
    };
    if body.is_empty() && !req.headers().contains_key(CONTENT_TYPE) {
        req.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    req.set_body(body);
    Ok(req)
}
