//! `GET /metrics` (Prometheus text format) and the middleware that counts and times requests.

use std::sync::Arc;
use std::time::Instant;

use poem::web::Data;
use poem::{Endpoint, IntoResponse, Request, Response, handler};
use poem_openapi::OperationId;

use crate::app::AppState;
use crate::db;

#[handler]
pub async fn scrape(state: Data<&Arc<AppState>>) -> Response {
    if let Err(err) = refresh_gauges(&state).await {
        tracing::warn!(error = %err, "metrics: database gauges not refreshed");
    }
    state
        .metrics
        .render()
        .with_content_type("text/plain; version=0.0.4")
        .into_response()
}

async fn refresh_gauges(state: &AppState) -> Result<(), db::DbError> {
    let client = state.db.get().await?;
    let metrics = &state.metrics;
    metrics.uploads_by_status.reset();
    for (status, count) in db::uploads::count_by_status(&client).await? {
        metrics
            .uploads_by_status
            .with_label_values(&[&status])
            .set(count);
    }
    let (pending, oldest) = db::outbox::lag(&client).await?;
    metrics.outbox_pending.set(pending);
    metrics.outbox_oldest_seconds.set(oldest);
    Ok(())
}

/// Records every request by operation (or `other`) and status.
pub async fn observe<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let state = req.data::<Arc<AppState>>().cloned();
    let method = req.method().to_string();
    let started = Instant::now();
    let result = ep.call(req).await.map(IntoResponse::into_response);
    let (status, operation) = match &result {
        Ok(resp) => (resp.status(), resp.data::<OperationId>().map(|id| id.0)),
        Err(err) => (err.status(), err.data::<OperationId>().map(|id| id.0)),
    };
    if let Some(state) = state {
        let route = operation.unwrap_or("other");
        let metrics = &state.metrics;
        metrics
            .http_requests
            .with_label_values(&[&method, route, status.as_str()])
            .inc();
        metrics
            .http_duration
            .with_label_values(&[&method, route])
            .observe(started.elapsed().as_secs_f64());
    }
    result
}
