//! Liveness and readiness probes.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use crate::state::AppState;

#[derive(Object, Debug)]
pub struct Readiness {
    pub database: bool,
    pub storage: bool,
    /// Whether every RabbitMQ connection of the background work is up (absent when none uses
    /// the broker).
    #[oai(skip_serializing_if_is_none)]
    pub broker: Option<bool>,
    /// Whether every background task runs (one that died is being restarted).
    pub background: bool,
    /// What is down, one line each, e.g. `rabbitmq (outbox relay): connection refused`.
    pub down: Vec<String>,
}

#[derive(ApiResponse)]
pub enum ReadinessResponse {
    /// Database, storage, broker and background work are up.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// Something is down; `down` names it.
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness: the process is up.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Json<serde_json::Value> {
        Json(serde_json::json!({"status": "ok"}))
    }

    /// Readiness: the database and storage are reachable, RabbitMQ connected, background
    /// tasks running.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, state: Data<&Arc<AppState>>) -> ReadinessResponse {
        let (database, storage) = state.uploads.readiness().await;
        if let Err(err) = &database {
            tracing::warn!(error = %err, "readiness: database");
        }
        if let Err(err) = &storage {
            tracing::warn!(error = %err, "readiness: storage");
        }
        let background = state.health.snapshot();
        let mut down = Vec::new();
        if let Err(err) = &database {
            down.push(format!("database: {err}"));
        }
        if storage.is_err() {
            down.push("storage: not reachable".to_owned());
        }
        down.extend(background.down);
        let readiness = Readiness {
            database: database.is_ok(),
            storage: storage.is_ok(),
            broker: background.broker,
            background: background.background,
            down,
        };
        if readiness.down.is_empty() {
            ReadinessResponse::Ready(Json(readiness))
        } else {
            ReadinessResponse::NotReady(Json(readiness))
        }
    }
}
