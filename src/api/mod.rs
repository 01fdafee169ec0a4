//! The HTTP API: one module per resource, combined into one OpenAPI service.

mod allow;
mod body_limit;
pub mod contract;
pub mod error;
pub mod event_view;
mod events;
mod health;
mod internal;
mod internal_webhooks;
mod json_string;
mod metrics;
pub mod models;
mod operation_errors;
mod request_log;
mod security;
mod session_cors;
mod sessions;
mod status_stream;
pub mod uploads;
mod uppy;
mod uppy_caller;

use std::sync::Arc;

use poem::endpoint::{StaticFileEndpoint, StaticFilesEndpoint};
use poem::http::Method;
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::state::AppState;

pub use body_limit::BodyLimits;

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
    status_stream::StatusStreamApi,
    sessions::SessionsApi,
    events::EventsApi,
    internal::InternalApi,
    internal_webhooks::InternalWebhooksApi,
    health::HealthApi,
);

fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            uploads::UploadsApi,
            status_stream::StatusStreamApi,
            sessions::SessionsApi,
            events::EventsApi,
            internal::InternalApi,
            internal_webhooks::InternalWebhooksApi,
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

/// The document poem derives from the operations and types.
fn poem_spec() -> String {
    service().spec()
}

/// The OpenAPI document with the default settings, as committed under `openapi/`.
pub fn openapi_json() -> String {
    contract::complete(&poem_spec(), &contract::Limits::defaults())
}

/// The document this server serves (stating its own settings), and Swagger UI showing it.
fn documentation(state: &AppState) -> (impl Endpoint + use<>, impl Endpoint + use<>) {
    let service = service();
    let derived = service.spec();
    let document = contract::complete(&derived, &contract::Limits::of(state.uploads.policy()));
    // Swagger UI embeds the document it is built with: show the completed one.
    let ui = service.swagger_ui_html().replacen(&derived, &document, 1);
    let json = poem::endpoint::make_sync(move |_| {
        Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(document.clone())
    });
    let html = poem::endpoint::make_sync(move |_| poem::web::Html(ui.clone()));
    (json, html)
}

/// Every route, with the state installed and errors rendered uniformly.
pub fn routes(state: Arc<AppState>) -> impl Endpoint {
    let (spec, docs) = documentation(&state);
    let mut api = uppy::bearer_routes(Route::new())
        .at("/openapi.json", spec)
        .at("/docs", docs);
    if !state.separate_metrics_listener {
        api = api.at("/metrics", metrics::scrape);
    }
    if state.web.demo_page {
        api = api.nest(
            "/assets",
            StaticFilesEndpoint::new(state.web.web_dir.join("assets")),
        );
    }
    // Bodies are bounded and errors become responses inside CORS, so a browser can read a
    // refusal (a 413 included).
    let cors = cors(&state.web.cors_origins);
    let api = api
        .nest("/", service())
        .around(body_limit::bounded_body)
        .catch_all_error(error::render_error)
        .with_if(cors.is_some(), cors.unwrap_or_default());
    // Session routes answer CORS for their session's origin instead.
    let sessions = uppy::session_routes()
        .around(body_limit::bounded_body)
        .around(session_cors::session_cors);
    Route::new()
        .nest("/uppy", sessions)
        .nest("/", api)
        .around(demo_index)
        .around(metrics::observe)
        .data(state)
        .catch_all_error(error::render_error)
        .around(allow::advertise)
        .around(request_log::log)
}

/// `/metrics` alone, for a listener of its own.
pub fn metrics_routes(state: Arc<AppState>) -> impl Endpoint {
    Route::new()
        .at("/metrics", metrics::scrape)
        .data(state)
        .catch_all_error(error::render_error)
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
        .allow_headers(["authorization", "content-type", "idempotency-key"])
        .expose_headers(["location", "idempotent-replayed"])
        .max_age(600);
    Some(if origins.contains(&"*") {
        cors
    } else {
        cors.allow_origins(origins)
    })
}
