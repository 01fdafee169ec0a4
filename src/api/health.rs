//! Liveness and readiness probes.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use crate::app::AppState;
use crate::db;

#[derive(Object, Debug)]
pub struct Readiness {
    pub database: bool,
    pub storage: bool,
}

#[derive(ApiResponse)]
pub enum ReadinessResponse {
    /// Database and storage answer.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// A dependency does not answer.
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

    /// Readiness: the database and storage are reachable.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, state: Data<&Arc<AppState>>) -> ReadinessResponse {
        let (database, storage) = tokio::join!(db::ping(&state.db), state.storage.check());
        if let Err(err) = &database {
            tracing::warn!(error = %err, "readiness: database");
        }
        if let Err(err) = &storage {
            tracing::warn!(error = %err, "readiness: storage");
        }
        let readiness = Readiness {
            database: database.is_ok(),
            storage: storage.is_ok(),
        };
        if readiness.database && readiness.storage {
            ReadinessResponse::Ready(Json(readiness))
        } else {
            ReadinessResponse::NotReady(Json(readiness))
        }
    }
}
