//! `GET /metrics` (Prometheus text format) and the middleware that counts and times requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::http::Method;
use poem::web::Data;
use poem::{Endpoint, IntoResponse, Request, Response, handler};
use poem_openapi::OperationId;

use crate::db::{self, DbError};
use crate::domain::UploadStatus;
use crate::state::AppState;

#[handler]
pub async fn scrape(state: Data<&Arc<AppState>>) -> Response {
    // Scrapes cost no query: the gauges that need SQL are refreshed at most this often.
    if state.metrics.gauges_due(GAUGE_REFRESH)
        && let Err(err) = refresh_gauges(&state).await
    {
        tracing::warn!(error = %err, "metrics: database gauges not refreshed");
    }
    state
        .metrics
        .render()
        .with_content_type("text/plain; version=0.0.4")
        .into_response()
}

const GAUGE_REFRESH: Duration = Duration::from_secs(5);

async fn refresh_gauges(state: &AppState) -> Result<(), DbError> {
    let stats = state.uploads.stats().await?;
    let metrics = &state.metrics;
    // Every status is set (0 when absent) rather than the vector reset, so a concurrent
    // scrape never sees a status missing.
    for status in UploadStatus::ALL {
        let count = stats
            .by_status
            .iter()
            .find(|(name, _)| name == status.as_str())
            .map_or(0, |(_, count)| *count);
        metrics
            .uploads_by_status
            .with_label_values(&[status.as_str()])
            .set(count);
    }
    metrics.outbox_pending.set(stats.jobs_waiting);
    metrics.outbox_parked.set(stats.jobs_parked);
    metrics.outbox_oldest_seconds.set(stats.oldest_job_secs);
    let (pending, oldest, parked) = db::webhooks::backlog(&db::client(&state.db).await?).await?;
    metrics.webhook_pending.set(pending);
    metrics.webhook_oldest_seconds.set(oldest);
    metrics.webhook_parked.set(parked);
    Ok(())
}

/// The method as a label: the standard ones, and `other` for whatever a client invents.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 7] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::PATCH,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("other", Method::as_str)
}

/// Routes without an OpenAPI operation: Uppy's, by base, and everything else.
fn route_label(path: &str) -> &'static str {
    if path.starts_with("/uppy/") {
        "uppy-session"
    } else if path.starts_with("/s3/") {
        "uppy"
    } else {
        "other"
    }
}

/// Records every request by operation and status. Every label comes from a closed set.
pub async fn observe<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let state = req.data::<Arc<AppState>>().cloned();
    let method = method_label(req.method());
    let fallback_route = route_label(req.uri().path());
    let started = Instant::now();
    let result = ep.call(req).await.map(IntoResponse::into_response);
    let (status, operation) = match &result {
        Ok(resp) => (resp.status(), resp.data::<OperationId>().map(|id| id.0)),
        Err(err) => (err.status(), err.data::<OperationId>().map(|id| id.0)),
    };
    if let Some(state) = state {
        let route = operation.unwrap_or(fallback_route);
        let metrics = &state.metrics;
        metrics
            .http_requests
            .with_label_values(&[method, route, status.as_str()])
            .inc();
        metrics
            .http_duration
            .with_label_values(&[method, route])
            .observe(started.elapsed().as_secs_f64());
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        for invented in ["X0Y", "X1Y", "BREW"] {
            let method = Method::from_bytes(invented.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other");
        }
    }
}
