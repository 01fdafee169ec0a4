//! The HTTP API: one module per resource, combined into one OpenAPI service.

pub mod error;
mod health;
pub mod models;
mod security;
pub mod uploads;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::app::AppState;

#[derive(Tags)]
pub enum ApiTags {
    /// Declare, upload, complete and track uploads.
    Uploads,
    /// Probes for orchestrators.
    Health,
}

fn service() -> OpenApiService<(uploads::UploadsApi, health::HealthApi), ()> {
    OpenApiService::new(
        (uploads::UploadsApi, health::HealthApi),
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
        .nest("/docs", docs)
        .nest("/", service)
        .data(state)
        .catch_all_error(error::render_error)
}
