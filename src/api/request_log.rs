//! One span and one log line per request, tagged with a request id (the caller's
//! `X-Request-Id`, or a new one) that is echoed back, so a client's report finds our log.
//! No credential reaches the log: only the path is logged (never the query, where presigned
//! signatures live, nor headers), and a session token in the path is replaced.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

const HEADER: &str = "x-request-id";

fn request_id(req: &Request) -> String {
    req.headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Whether a path segment may be a credential: the segment after `uppy` (the session token),
/// or anything shaped like a JWT, wherever it sits (`//uppy/...` included).
fn secret_segment(previous: Option<&str>, segment: &str) -> bool {
    let jwt_like = segment.len() >= 32 && segment.matches('.').count() == 2;
    previous == Some("uppy") && !segment.is_empty() || jwt_like
}

/// The path with the Uppy session token (a bearer credential) taken out.
fn loggable_path(path: &str) -> Cow<'_, str> {
    let segments: Vec<&str> = path.split('/').collect();
    let previous_of = |i: usize| segments[..i].iter().rev().find(|s| !s.is_empty()).copied();
    if !(0..segments.len()).any(|i| secret_segment(previous_of(i), segments[i])) {
        return Cow::Borrowed(path);
    }
    let redacted: Vec<&str> = (0..segments.len())
        .map(|i| {
            if secret_segment(previous_of(i), segments[i]) {
                "[session]"
            } else {
                segments[i]
            }
        })
        .collect();
    Cow::Owned(redacted.join("/"))
}

pub async fn log<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let id = request_id(&req);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %loggable_path(req.uri().path()),
        owner = tracing::field::Empty,
    );
    async move {
        let started = Instant::now();
        let result = ep.call(req).await.map(IntoResponse::into_response);
        let status = match &result {
            Ok(resp) => resp.status(),
            Err(err) => err.status(),
        };
        let micros = started.elapsed().as_micros() as u64;
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), micros, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), micros, "request");
        }
        let header = HeaderValue::from_str(&id).expect("checked ASCII");
        match result {
            Ok(mut resp) => {
                resp.headers_mut().insert(HEADER, header);
                Ok(resp)
            }
            Err(err) => {
                let mut resp = err.into_response();
                resp.headers_mut().insert(HEADER, header);
                Ok(resp)
            }
        }
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_tokens_are_taken_out_of_logged_paths() {
        assert_eq!(
            loggable_path("/uppy/eyJhbGciOi.abc.def/s3/multipart"),
            "/uppy/[session]/s3/multipart"
        );
        assert_eq!(loggable_path("/uppy/eyJtoken"), "/uppy/[session]");
        assert_eq!(loggable_path("/uppy//eyJtoken/s3"), "/uppy//[session]/s3");
        assert_eq!(loggable_path("//uppy/eyJtoken/s3"), "//uppy/[session]/s3");
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOiJhIn0.c2lnbmF0dXJlLWJ5dGVz";
        assert_eq!(
            loggable_path(&format!("/other/{jwt}/x")),
            "/other/[session]/x"
        );
        assert_eq!(loggable_path("/api/uploads"), "/api/uploads");
    }
}
