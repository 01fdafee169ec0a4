//! `/api/internal/webhooks/...`: outgoing webhook deliveries for operators: what is pending,
//! delivered or parked, and replaying parked ones. Authenticated with UC_INTERNAL_TOKEN.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::internal::InternalToken;
use super::operation_errors::InternalListErrors;
use crate::db::webhooks::{self, DeliveryRecord, DeliveryState};
use crate::db::{self, DbError};
use crate::state::AppState;
use crate::uploads::UploadError;

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename = "DeliveryState", rename_all = "lowercase")]
pub enum DeliveryStateView {
    /// Not delivered yet: due, or waiting for its next attempt.
    Pending,
    Delivered,
    /// Given up after its last attempt; replay to send it again.
    Parked,
}

/// One event's delivery to one endpoint.
#[derive(Object, Debug)]
#[oai(rename = "WebhookDelivery")]
pub struct DeliveryView {
    pub id: i64,
    pub endpoint: String,
    /// The `webhook-id` is `msg_` and this, without dashes.
    pub event_id: Uuid,
    pub upload_id: Uuid,
    /// The upload status the event announces.
    pub status: String,
    pub state: DeliveryStateView,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub delivered_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub parked_at: Option<DateTime<Utc>>,
    /// The receiver's last HTTP status (absent when it never answered).
    #[oai(skip_serializing_if_is_none)]
    pub last_status: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    pub last_error: Option<String>,
}

impl From<DeliveryRecord> for DeliveryView {
    fn from(record: DeliveryRecord) -> Self {
        let state = if record.delivered_at.is_some() {
            DeliveryStateView::Delivered
        } else if record.parked_at.is_some() {
            DeliveryStateView::Parked
        } else {
            DeliveryStateView::Pending
        };
        Self {
            id: record.id,
            // Only scheme, host and path: the URL may carry a credential.
            endpoint: crate::webhooks::loggable_url(&record.endpoint),
            event_id: record.event_id,
            upload_id: record.upload_id,
            status: record.status,
            state,
            attempts: record.attempts,
            next_attempt_at: record.next_attempt_at,
            delivered_at: record.delivered_at,
            parked_at: record.parked_at,
            last_status: record.last_status,
            last_error: record.last_error,
        }
    }
}

#[derive(Object, Debug)]
pub struct DeliveryList {
    /// Newest first.
    pub items: Vec<DeliveryView>,
}

#[derive(Object, Debug)]
pub struct ReplayRequest {
    /// Only this upload's parked deliveries (default: every parked delivery).
    pub upload_id: Option<Uuid>,
}

#[derive(Object, Debug)]
pub struct ReplayResult {
    /// Deliveries due again, with fresh attempts.
    pub replayed: u64,
}

pub struct InternalWebhooksApi;

#[OpenApi(tag = "ApiTags::Internal")]
impl InternalWebhooksApi {
    /// List webhook deliveries
    #[oai(
        path = "/api/internal/webhooks/deliveries",
        method = "get",
        operation_id = "listWebhookDeliveries"
    )]
    async fn list(
        &self,
        _auth: InternalToken,
        state: Data<&Arc<AppState>>,
        /// Only deliveries in this state.
        #[oai(name = "state")]
        state_filter: Query<Option<DeliveryStateView>>,
        /// Only deliveries of this upload.
        upload_id: Query<Option<Uuid>>,
        /// At most this many (1 to 1000, default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<i64>>,
    ) -> Result<Json<DeliveryList>, InternalListErrors> {
        let wanted = state_filter.0.map(|s| match s {
            DeliveryStateView::Pending => DeliveryState::Pending,
            DeliveryStateView::Delivered => DeliveryState::Delivered,
            DeliveryStateView::Parked => DeliveryState::Parked,
        });
        let client = db::client(&state.db).await.map_err(UploadError::Db)?;
        let records = webhooks::list(&client, wanted, upload_id.0, limit.0.unwrap_or(100))
            .await
            .map_err(UploadError::Db)?;
        Ok(Json(DeliveryList {
            items: records.into_iter().map(Into::into).collect(),
        }))
    }

    /// Replay parked webhook deliveries
    ///
    /// Makes parked deliveries due again with fresh attempts; every replica's workers send
    /// them at once, with the same `webhook-id` as before.
    #[oai(
        path = "/api/internal/webhooks/deliveries/replay",
        method = "post",
        operation_id = "replayWebhookDeliveries"
    )]
    async fn replay(
        &self,
        _auth: InternalToken,
        state: Data<&Arc<AppState>>,
        body: Json<Option<ReplayRequest>>,
    ) -> Result<Json<ReplayResult>, InternalListErrors> {
        let upload_id = body.0.and_then(|request| request.upload_id);
        let replayed = replay(&state, upload_id).await.map_err(UploadError::Db)?;
        Ok(Json(ReplayResult { replayed }))
    }
}

async fn replay(state: &AppState, upload_id: Option<Uuid>) -> Result<u64, DbError> {
    webhooks::replay_parked(&db::client(&state.db).await?, upload_id).await
}
