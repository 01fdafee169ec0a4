//! Every request body is bounded in size and in time, whatever the protocol: HTTP/1 with a
//! length or chunked, HTTP/2 with a length or without. A declared length over the limit is
//! refused before a byte is read; otherwise at most the limit is kept, then 413. No request of
//! ours carries video bytes: bodies are declarations, part lists and storage events.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use poem::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use poem::http::{HeaderValue, StatusCode, Version};
use poem::{Endpoint, Error, IntoResponse, Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::error::render_error;
use crate::app::AppState;

/// How much of a body is read, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub read_timeout: Duration,
}

/// How long, and how many bytes, the rest of a refused HTTP/1 body is read and thrown away: a
/// server that closes with unread bytes resets the connection, and the client may never see
/// the 413. (HTTP/2 resets just the stream.)
const DISCARD_FOR: Duration = Duration::from_secs(2);
const DISCARD_AT_MOST: u64 = 256 * 1024 * 1024;

type BodyReader = Box<dyn AsyncRead + Send + Unpin>;

/// Why a body was not read, and what is left of it.
struct Refused {
    error: Error,
    rest: Option<BodyReader>,
}

impl From<Error> for Refused {
    fn from(error: Error) -> Self {
        Self { error, rest: None }
    }
}

/// Reads the body before the endpoint runs. An HTTP/1 connection whose body was cut short
/// cannot carry another request: the refusal says so, or a client would reuse it.
pub async fn bounded_body<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let version = req.version();
    match read_within_limits(req).await {
        Ok(req) => ep.call(req).await.map(IntoResponse::into_response),
        Err(refused) => {
            let mut response = render_error(refused.error).await;
            if version < Version::HTTP_2 {
                if let Some(rest) = refused.rest {
                    discard(rest).await;
                }
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response)
        }
    }
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
async fn read_within_limits(mut req: Request) -> Result<Request, Refused> {
    let limits = req
        .data::<Arc<AppState>>()
        .expect("state installed")
        .body_limits;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|len| len.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.max_bytes as u64) {
        return Err(too_large(limits.max_bytes).into());
    }
    let mut reader: BodyReader = Box::new(req.take_body().into_async_read());
    let read = read_at_most(&mut reader, limits.max_bytes);
    let body = match tokio::time::timeout(limits.read_timeout, read).await {
        Ok(Ok(Some(body))) => body,
        Ok(Ok(None)) => {
            return Err(Refused {
                error: too_large(limits.max_bytes),
                rest: Some(reader),
            });
        }
        Ok(Err(err)) => {
            return Err(Error::from_string(
                format!("the request body could not be read: {err}"),
                StatusCode::BAD_REQUEST,
            )
            .into());
        }
        Err(_) => {
            return Err(Error::from_string(
                format!(
                    "the request body did not arrive within {} s",
                    limits.read_timeout.as_secs()
                ),
                StatusCode::REQUEST_TIMEOUT,
            )
            .into());
        }
    };
    if body.is_empty() && !req.headers().contains_key(CONTENT_TYPE) {
        req.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    req.set_body(body.freeze());
    Ok(req)
}

/// The whole body, or `None` as soon as it is longer than `limit` (the rest left unread).
async fn read_at_most(reader: &mut BodyReader, limit: usize) -> std::io::Result<Option<BytesMut>> {
    let mut body = BytesMut::new();
    let mut chunk = [0u8; 8192];
    loop {
        let read = reader.read(&mut chunk).await?;
        if read == 0 {
            return Ok(Some(body));
        }
        if body.len() + read > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk[..read]);
    }
}

/// Reads and drops what is left, within a time and a byte budget.
async fn discard(rest: BodyReader) {
    let mut sink = tokio::io::sink();
    let mut bounded = rest.take(DISCARD_AT_MOST);
    let _ = tokio::time::timeout(DISCARD_FOR, tokio::io::copy(&mut bounded, &mut sink)).await;
}
