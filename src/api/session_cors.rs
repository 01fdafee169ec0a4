//! CORS for the session routes (`/uppy/<token>/s3/...`): each session answers for the one
//! origin it was minted for, preflights included, so a single-page app on another origin works
//! with no other setting. A preflight is decided by the token's signature alone (it changes
//! nothing); the call that follows checks the session in full.

use std::sync::Arc;

use poem::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, VARY,
};
use poem::http::{HeaderValue, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};

use super::error::render_error;
use super::uppy::{origin_not_allowed, request_origin};
use crate::state::AppState;

/// What Uppy's calls need: its JSON bodies, and the methods of the Companion routes.
const ALLOWED_METHODS: &str = "GET, POST, DELETE";
const ALLOWED_HEADERS: &str = "content-type";
const PREFLIGHT_MAX_AGE: &str = "600";

/// The session token: the first segment of the path under `/uppy`.
fn session_token(req: &Request) -> Option<&str> {
    let path = req.uri().path();
    let rest = path.strip_prefix("/uppy").unwrap_or(path);
    rest.trim_start_matches('/')
        .split('/')
        .next()
        .filter(|t| !t.is_empty())
}

fn origin_allowed(req: &Request, origin: &str) -> bool {
    let Some(state) = req.data::<Arc<AppState>>() else {
        return false;
    };
    session_token(req)
        .and_then(|token| state.sessions.check_signature(token).ok())
        .is_some_and(|session| session.allows_origin(origin))
}

pub async fn session_cors<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let Some(origin) = request_origin(&req).and_then(|o| HeaderValue::from_str(o).ok()) else {
        // Caches must not hand this answer to a page that sends an Origin.
        let mut response = match ep.call(req).await {
            Ok(response) => response.into_response(),
            Err(err) => render_error(err).await,
        };
        response
            .headers_mut()
            .append(VARY, HeaderValue::from_static("origin"));
        return Ok(response);
    };
    let allowed = origin_allowed(&req, origin.to_str().unwrap_or_default());
    let preflight = req.method() == Method::OPTIONS
        && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        if !allowed {
            return Err(origin_not_allowed().into());
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(
            ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE),
        );
        response
    } else {
        match ep.call(req).await {
            Ok(response) => response.into_response(),
            Err(err) => render_error(err).await,
        }
    };
    let headers = response.headers_mut();
    headers.append(VARY, HeaderValue::from_static("origin"));
    if allowed {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    Ok(response)
}
