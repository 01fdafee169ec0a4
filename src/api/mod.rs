//! The HTTP API: one module per resource, combined into one OpenAPI service.

pub mod error;
mod events;
mod health;
mod internal;
mod metrics;
pub mod models;
mod security;
pub mod uploads;

use std::sync::Arc;

use poem::http::HeaderValue;
use poem::http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use poem::{Endpoint, EndpointExt, Request, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::app::AppState;

#[derive(Tags)]
pub enum ApiTags {
    /// Declare, upload, complete and track uploads.
    Uploads,
    /// Storage's notifications (not for clients).
    Events,
    /// For processing workers (not for clients).
    Internal,
    /// Probes for orchestrators.
    Health,
}

type Apis = (
    uploads::UploadsApi,
    events::EventsApi,
    internal::InternalApi,
    health::HealthApi,
);

fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            uploads::UploadsApi,
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

/// Every route, with the state installed and errors rendered uniformly.
pub fn routes(state: Arc<AppState>) -> impl Endpoint {
    let service = service();
    let spec = service.spec_endpoint();
    let docs = service.swagger_ui();
    Route::new()
        .at("/openapi.json", spec)
        .at("/metrics", metrics::scrape)
        .nest("/docs", docs)
        .nest("/", service)
        .before(empty_body_is_json)
        .around(metrics::observe)
        .data(state)
        .catch_all_error(error::render_error)
}

/// A POST without a body (`curl -X POST .../complete`) reads as an empty JSON body, so
/// operations whose body is optional accept it instead of answering 415.
async fn empty_body_is_json(mut req: Request) -> poem::Result<Request> {
    let headers = req.headers();
    let empty = headers.get(CONTENT_LENGTH).is_none_or(|len| len == "0")
        && !headers.contains_key(TRANSFER_ENCODING);
    if empty && !headers.contains_key(CONTENT_TYPE) {
        req.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Ok(req)
}
