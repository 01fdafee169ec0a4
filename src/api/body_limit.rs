//! Every request body is bounded in size and in time, whatever the protocol: HTTP/1 with a
//! length or chunked, HTTP/2 with a length or without. A declared length over the limit is
//! refused before a byte is read; otherwise at most the limit is kept, then 413. And all the
//! bodies held at once share one memory budget: past it, 503 (many HTTP/2 streams each
//! trickling almost a limit's worth cannot add up). No request of ours carries video bytes:
//! bodies are declarations, part lists and storage events.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use poem::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use poem::http::{HeaderValue, StatusCode, Version};
use poem::{Endpoint, Error, IntoResponse, Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::render_error;
use crate::state::AppState;

/// How much of a body is read, and for how long.
#[derive(Clone, Debug)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub read_timeout: Duration,
    /// Shared by every body held at once, in KiB.
    pub budget: Arc<Semaphore>,
}

impl BodyLimits {
    pub fn new(max_bytes: usize, read_timeout: Duration, budget_bytes: usize) -> Self {
        let kib = (budget_bytes / 1024).clamp(1, Semaphore::MAX_PERMITS);
        Self {
            max_bytes,
            read_timeout,
            budget: Arc::new(Semaphore::new(kib)),
        }
    }
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
        // The body's share of the budget is given back once the response is ready.
        Ok((req, _held)) => ep.call(req).await.map(IntoResponse::into_response),
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
async fn read_within_limits(mut req: Request) -> Result<(Request, Held), Refused> {
    let limits = req
        .data::<Arc<AppState>>()
        .expect("state installed")
        .body_limits
        .clone();
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|len| len.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.max_bytes as u64) {
        return Err(too_large(limits.max_bytes).into());
    }
    let mut reader: BodyReader = Box::new(req.take_body().into_async_read());
    let mut held = Held::default();
    let read = read_at_most(&mut reader, limits.max_bytes, &limits.budget, &mut held);
    let body = match tokio::time::timeout(limits.read_timeout, read).await {
        Ok(Ok(Read::Whole(body))) => body,
        Ok(Ok(Read::TooLong)) => {
            return Err(Refused {
                error: too_large(limits.max_bytes),
                rest: Some(reader),
            });
        }
        Ok(Ok(Read::OverBudget)) => {
            return Err(Error::from_string(
                "too many requests are being received at once; try again shortly",
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .into());
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
    Ok((req, held))
}

/// The share of the memory budget a body holds, in KiB.
#[derive(Default)]
struct Held(Option<OwnedSemaphorePermit>);

impl Held {
    /// Grows the share to cover `total` bytes; `false` when the budget has no room.
    fn cover(&mut self, budget: &Arc<Semaphore>, total: usize) -> bool {
        let held = self.0.as_ref().map_or(0, |permit| permit.num_permits());
        let more = total.div_ceil(1024).saturating_sub(held);
        if more == 0 {
            return true;
        }
        let Ok(permit) = budget.clone().try_acquire_many_owned(more as u32) else {
            return false;
        };
        match &mut self.0 {
            Some(held) => held.merge(permit),
            None => self.0 = Some(permit),
        }
        true
    }
}

enum Read {
    Whole(BytesMut),
    /// Longer than the limit; the rest is left unread.
    TooLong,
    /// The bodies held at once would exceed the memory budget.
    OverBudget,
}

async fn read_at_most(
    reader: &mut BodyReader,
    limit: usize,
    budget: &Arc<Semaphore>,
    held: &mut Held,
) -> std::io::Result<Read> {
    let mut body = BytesMut::new();
    let mut chunk = [0u8; 8192];
    loop {
        let read = reader.read(&mut chunk).await?;
        if read == 0 {
            return Ok(Read::Whole(body));
        }
        if body.len() + read > limit {
            return Ok(Read::TooLong);
        }
        if !held.cover(budget, body.len() + read) {
            return Ok(Read::OverBudget);
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
