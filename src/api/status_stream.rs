//! `GET /api/uploads/events`: the caller's status changes as Server-Sent Events.

use crate::error_codes as codes;
use std::sync::Arc;

use poem::web::Data;
use poem::{Body, IntoResponse, Request, Response};
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::error::{ApiError, ErrorBody};
use super::event_view::UploadEventView;
use super::operation_errors::StreamErrors;
use super::security::ReaderAuth;
use crate::live::{self, OpenError};
use crate::state::AppState;

/// A `text/event-stream` body whose events carry an `UploadEvent` each.
pub struct EventStreamBody(Body);

impl Payload for EventStreamBody {
    const CONTENT_TYPE: &'static str = "text/event-stream";

    fn schema_ref() -> MetaSchemaRef {
        UploadEventView::schema_ref()
    }

    fn register(registry: &mut Registry) {
        UploadEventView::register(registry);
    }
}

impl IntoResponse for EventStreamBody {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(Self::CONTENT_TYPE)
            .header("cache-control", "no-store")
            // Proxies that buffer (nginx) pass each event on at once.
            .header("x-accel-buffering", "no")
            .body(self.0)
    }
}

#[derive(ApiResponse)]
pub enum StreamResponse {
    /// The stream: `id:` and one `data:` line (an `UploadEvent`) per change, `: heartbeat`
    /// comments while idle.
    #[oai(status = 200)]
    Stream(EventStreamBody),
}

pub struct StatusStreamApi;

#[OpenApi(tag = "ApiTags::Uploads")]
impl StatusStreamApi {
    /// Stream status changes
    ///
    /// Server-Sent Events, one per status change of any of the caller's uploads, committed on
    /// any replica. Resume with the `Last-Event-ID` header (browsers send it by themselves) or
    /// `last_event_id`; without either, the stream starts now and its first `id:` is where
    /// to resume from. Browsers authenticate with an upload session (`session` parameter or
    /// its cookie), since `EventSource` sends no headers. The stream ends after
    /// UC_STREAM_MAX_AGE_SECS, and the browser reconnects.
    #[oai(
        path = "/api/uploads/events",
        method = "get",
        operation_id = "streamUploadEvents"
    )]
    async fn stream(
        &self,
        req: &Request,
        auth: ReaderAuth,
        state: Data<&Arc<AppState>>,
        #[oai(name = "Last-Event-ID")] last_event_id_header: Header<Option<String>>,
        /// Resume after this event (when the `Last-Event-ID` header is absent).
        #[oai(validator(minimum(value = "0")))]
        last_event_id: Query<Option<i64>>,
    ) -> Result<StreamResponse, StreamErrors> {
        let resume_after = match last_event_id_header.0 {
            Some(header) => Some(parse_event_id(&header)?),
            None => last_event_id.0,
        };
        let owner = auth.owner(req).await?;
        let events = live::open(
            &state.status_hub,
            owner.as_str(),
            resume_after,
            state.stream_limits,
        )
        .await
        .map_err(|err| match err {
            OpenError::TooMany(too_many) => ApiError::TooManyRequests(
                ErrorBody::new(codes::TOO_MANY_STREAMS, too_many.to_string()),
                STREAM_RETRY_AFTER_SECS,
            ),
            OpenError::Db(cause) => ApiError::from(crate::uploads::UploadError::Db(cause)),
        })?;
        Ok(StreamResponse::Stream(EventStreamBody(
            Body::from_bytes_stream(events),
        )))
    }
}

/// A refused stream may try again this much later.
const STREAM_RETRY_AFTER_SECS: u64 = 30;

/// 1 to 18 decimal digits, as the stream writes ids (and the document's pattern says).
fn parse_event_id(value: &str) -> Result<i64, ApiError> {
    Some(value)
        .filter(|v| (1..=18).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or_else(|| {
            ApiError::BadRequest(ErrorBody::new(
                codes::INVALID_EVENT_ID,
                "Last-Event-ID must be an id this stream sent",
            ))
        })
}
