//! `POST /api/storage-events`: the webhook storage posts its events to (MinIO/RustFS webhook
//! targets, SeaweedFS's filer). Answers 2xx only once every named object is committed, so a
//! sender that retries on failure loses nothing.

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::auth::Bearer;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, SecurityScheme};
use serde_json::Value;

use super::ApiTags;
use super::error::{ApiError, ErrorBody};
use super::operation_errors::EventErrors;
use crate::auth::AuthError;
use crate::events::IntakeError;
use crate::state::AppState;

/// Compares secrets in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The shared token storage sends as `Authorization: Bearer <token>` (UC_EVENTS_WEBHOOK_TOKEN).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_webhook_token")]
pub struct WebhookToken(());

async fn check_webhook_token(req: &Request, bearer: Bearer) -> poem::Result<()> {
    let state = req.data::<Arc<AppState>>().expect("state installed");
    let expected = state.webhook_token.expose().as_bytes();
    if !expected.is_empty() && constant_time_eq(bearer.token.as_bytes(), expected) {
        Ok(())
    } else {
        Err(ApiError::from(AuthError::Invalid("not the webhook token".into())).into())
    }
}

/// What one event body led to.
#[derive(Object, Debug)]
pub struct EventReceipt {
    /// Uploads confirmed by this body.
    pub confirmed: u32,
    /// Objects that did not match their intent (deleted).
    pub rejected: u32,
    /// Objects whose upload was already confirmed.
    pub duplicates: u32,
    /// Objects no intent declared.
    pub unknown: u32,
    /// Records skipped (deletes, multipart parts, directories, test events).
    pub ignored: u32,
}

pub struct EventsApi;

#[OpenApi(tag = "ApiTags::Events")]
impl EventsApi {
    /// Receive storage events
    ///
    /// For storage, not for clients: MinIO/RustFS webhook bodies and SeaweedFS filer webhook
    /// bodies. Every object named is checked in storage before anything is committed.
    #[oai(
        path = "/api/storage-events",
        method = "post",
        operation_id = "receiveStorageEvents"
    )]
    async fn receive(
        &self,
        _auth: WebhookToken,
        state: Data<&Arc<AppState>>,
        body: Json<Value>,
    ) -> Result<Json<EventReceipt>, EventErrors> {
        let bytes = serde_json::to_vec(&body.0).expect("JSON values serialize");
        match state.webhook_intake.handle(&bytes).await {
            Ok(summary) => Ok(Json(EventReceipt {
                confirmed: summary.confirmed as u32,
                rejected: summary.rejected as u32,
                duplicates: summary.duplicates as u32,
                unknown: summary.unknown as u32,
                ignored: summary.ignored as u32,
            })),
            Err(IntakeError::Malformed(err)) => Err(EventErrors::BadRequest(ErrorBody::new(
                err.code(),
                err.to_string(),
            ))),
            Err(IntakeError::Unavailable(err)) => Err(err.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
