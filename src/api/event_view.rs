//! The envelope every status change is announced in, on the status stream and in webhooks:
//! `{type, timestamp, data}` with the upload as the API shows it at that moment.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};

use super::models::UploadView;
use crate::db::events::UploadEvent;
use crate::domain::UploadStatus;

/// What happened to the upload: its new status, prefixed with `upload.`.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename = "UploadEventType")]
pub enum EventTypeView {
    #[oai(rename = "upload.uploaded")]
    Uploaded,
    #[oai(rename = "upload.processing")]
    Processing,
    #[oai(rename = "upload.processed")]
    Processed,
    #[oai(rename = "upload.failed")]
    Failed,
    #[oai(rename = "upload.rejected")]
    Rejected,
    #[oai(rename = "upload.expired")]
    Expired,
    #[oai(rename = "upload.aborted")]
    Aborted,
}

impl EventTypeView {
    /// The event a change to `status` announces; none for `pending`, which nothing changes to.
    pub fn of(status: UploadStatus) -> Option<Self> {
        Some(match status {
            UploadStatus::Pending => return None,
            UploadStatus::Uploaded => Self::Uploaded,
            UploadStatus::Processing => Self::Processing,
            UploadStatus::Processed => Self::Processed,
            UploadStatus::Failed => Self::Failed,
            UploadStatus::Rejected => Self::Rejected,
            UploadStatus::Expired => Self::Expired,
            UploadStatus::Aborted => Self::Aborted,
        })
    }
}

/// A change of an upload's status. On the stream, the SSE `id` is the event's position (send it
/// back as `Last-Event-ID`); in a webhook, `webhook-id` is `msg_` and its `event_id`.
#[derive(Object, Clone, Debug)]
#[oai(rename = "UploadEvent")]
pub struct UploadEventView {
    #[oai(rename = "type")]
    pub kind: EventTypeView,
    /// Unique and stable: the same in every retry and replay of this event.
    pub event_id: uuid::Uuid,
    /// When the change was committed.
    pub timestamp: DateTime<Utc>,
    pub data: UploadView,
}

impl UploadEventView {
    pub fn new(event: &UploadEvent, checksums_verified: bool) -> Option<Self> {
        Some(Self {
            kind: EventTypeView::of(event.upload.status)?,
            event_id: event.event_id,
            timestamp: event.occurred_at,
            data: UploadView::new(event.upload.clone(), checksums_verified),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem_openapi::types::ToJSON;

    #[test]
    fn every_status_but_pending_has_an_event_named_after_it() {
        for status in UploadStatus::ALL {
            match EventTypeView::of(status) {
                None => assert_eq!(status, UploadStatus::Pending),
                Some(kind) => assert_eq!(
                    kind.to_json(),
                    Some(serde_json::json!(format!("upload.{status}")))
                ),
            }
        }
    }
}
