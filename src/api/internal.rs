//! `POST /api/internal/uploads/{id}/result`: where a worker reports how processing went, as an
//! alternative to the results queue. Authenticated with UC_INTERNAL_TOKEN.

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::auth::Bearer;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi, SecurityScheme};
use uuid::Uuid;

use super::ApiTags;
use super::error::ApiError;
use super::events::constant_time_eq;
use super::json_string::JsonString;
use super::models::UploadView;
use super::operation_errors::ReportErrors;
use crate::auth::AuthError;
use crate::state::AppState;
use crate::uploads::ProcessingResult;

/// A service token for workers (UC_INTERNAL_TOKEN); the endpoint is off while it is empty.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_internal_token")]
pub struct InternalToken(pub(super) ());

async fn check_internal_token(req: &Request, bearer: Bearer) -> poem::Result<()> {
    let state = req.data::<Arc<AppState>>().expect("state installed");
    let expected = state.internal_token.expose().as_bytes();
    if !expected.is_empty() && constant_time_eq(bearer.token.as_bytes(), expected) {
        Ok(())
    } else {
        Err(ApiError::from(AuthError::Invalid("not the internal token".into())).into())
    }
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum ResultStatus {
    Processed,
    Failed,
}

#[derive(Object, Debug)]
pub struct ProcessingReport {
    pub status: ResultStatus,
    /// Where the processed output is (when `processed`). A NUL character, which PostgreSQL
    /// cannot keep, is stored as U+FFFD, here and in `error`.
    pub output_location: Option<JsonString>,
    /// What went wrong (when `failed`).
    pub error: Option<JsonString>,
}

pub struct InternalApi;

#[OpenApi(tag = "ApiTags::Internal")]
impl InternalApi {
    /// Report a processing result
    ///
    /// Moves the upload to `processed` or `failed`. Reporting the same result again is harmless.
    #[oai(
        path = "/api/internal/uploads/:id/result",
        method = "post",
        operation_id = "reportResult"
    )]
    async fn report(
        &self,
        _auth: InternalToken,
        state: Data<&Arc<AppState>>,
        id: Path<Uuid>,
        body: Json<ProcessingReport>,
    ) -> Result<Json<UploadView>, ReportErrors> {
        let result = match body.0.status {
            ResultStatus::Processed => ProcessingResult::Processed {
                output_location: body.0.output_location.map(JsonString::into_inner),
            },
            ResultStatus::Failed => ProcessingResult::Failed {
                error: body
                    .0
                    .error
                    .map(JsonString::into_inner)
                    .unwrap_or_else(|| "the worker reported a failure".into()),
            },
        };
        Ok(Json(
            state.uploads.record_result(id.0, result).await?.into(),
        ))
    }
}
