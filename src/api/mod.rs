//! The HTTP API: one module per resource, combined into one OpenAPI service.

pub mod error;
mod events;
mod health;
mod internal;
mod metrics;
pub mod models;
mod operation_errors;
mod request_log;
mod security;
mod sessions;
pub mod uploads;
mod uppy;

use std::sync::Arc;

use poem::endpoint::{StaticFileEndpoint, StaticFilesEndpoint};
use poem::http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use poem::http::{HeaderValue, Method, StatusCode};
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::app::AppState;

#[derive(Tags)]
pub enum ApiTags {
    /// Declare, upload, complete and track uploads.
    Uploads,
    /// Upload sessions for Uppy and tokens for the demo page.
    Uppy,
    /// Storage's notifications (not for clients).
    Events,
    /// For processing workers (not for clients).
    Internal,
    /// Probes for orchestrators.
    Health,
}

type Apis = (
    uploads::UploadsApi,
    sessions::SessionsApi,
    events::EventsApi,
    internal::InternalApi,
    health::HealthApi,
);

fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            uploads::UploadsApi,
            sessions::SessionsApi,
            events::EventsApi,
            internal::InternalApi,
            health::HealthApi,
        ),
        "upload-coordinator",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Coordinates uploads that go straight from clients to S3-compatible storage through \
         presigned URLs. Errors are JSON `{code, message}` with a stable `code`.",
    )
}

/// The OpenAPI document, as committed under `openapi/`.
pub fn openapi_json() -> String {
    service().spec()
}

/// No request of ours carries bytes of the videos: bodies are declarations, part lists and
/// storage events, far below this.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Every route, with the state installed and errors rendered uniformly.
pub fn routes(state: Arc<AppState>) -> impl Endpoint {
    let service = service();
    let spec = service.spec_endpoint();
    let docs = service.swagger_ui();
    let mut route = uppy::add_routes(Route::new())
        .at("/openapi.json", spec)
        .at("/metrics", metrics::scrape)
        .nest("/docs", docs);
    if state.web.demo_page {
        route = route.nest(
            "/assets",
            StaticFilesEndpoint::new(state.web.web_dir.join("assets")),
        );
    }
    let cors = cors(&state.web.cors_origins);
    route
        .nest("/", service)
        .before(bounded_body)
        .around(demo_index)
        .around(metrics::observe)
        .data(state)
        .catch_all_error(error::render_error)
        .around(request_log::log)
        .with_if(cors.is_some(), cors.unwrap_or_default())
}

/// `/` is the demo page while it is switched on. (A route at exactly `/` would lose to the API
/// nested there, so this is decided before routing.)
async fn demo_index<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    if req.uri().path() == "/" && req.method() == Method::GET {
        let state = req.data::<Arc<AppState>>().cloned();
        if let Some(state) = state.filter(|state| state.web.demo_page) {
            let index = StaticFileEndpoint::new(state.web.web_dir.join("index.html"));
            return index.call(req).await;
        }
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

/// Browsers on the configured origins may call the API; `*` allows any origin.
fn cors(origins: &[String]) -> Option<Cors> {
    let origins: Vec<&str> = origins
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let cors = Cors::new()
        .allow_methods(["GET", "POST", "DELETE", "OPTIONS"])
        .allow_headers(["authorization", "content-type"])
        .expose_headers(["location"])
        .max_age(600);
    Some(if origins.contains(&"*") {
        cors
    } else {
        cors.allow_origins(origins)
    })
}

/// Bodies are bounded (a declared length over the limit is refused before reading, a chunked
/// body is read up to it), and a POST without a body (`curl -X POST .../complete`) reads as an
/// empty JSON body, so operations whose body is optional accept it instead of answering 415.
async fn bounded_body(mut req: Request) -> poem::Result<Request> {
    let too_large = || poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE);
    let headers = req.headers();
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|len| len.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    if declared.is_none() && headers.contains_key(TRANSFER_ENCODING) {
        let body = req
            .take_body()
            .into_bytes_limit(MAX_BODY_BYTES)
            .await
            .map_err(|_| too_large())?;
        req.set_body(body);
    }
    let empty = declared.unwrap_or(0) == 0 && !req.headers().contains_key(TRANSFER_ENCODING);
    if empty && !req.headers().contains_key(CONTENT_TYPE) {
        req.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Ok(req)
}
