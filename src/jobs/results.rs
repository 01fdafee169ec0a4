//! Workers report results on a queue:
//! `{"upload_id": "...", "status": "processed", "output_location": "s3://..."}` or
//! `{"upload_id": "...", "status": "failed", "error": "..."}`.

use serde::Deserialize;
use uuid::Uuid;

use crate::rabbitmq::consumer::{Disposition, Handler};
use crate::uploads::{ProcessingResult, UploadError, Uploads};

#[derive(Debug, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum Report {
    Processed {
        upload_id: Uuid,
        #[serde(default)]
        output_location: Option<String>,
    },
    Failed {
        upload_id: Uuid,
        #[serde(default)]
        error: Option<String>,
    },
}

impl Report {
    fn into_parts(self) -> (Uuid, ProcessingResult) {
        match self {
            Self::Processed {
                upload_id,
                output_location,
            } => (upload_id, ProcessingResult::Processed { output_location }),
            Self::Failed { upload_id, error } => (
                upload_id,
                ProcessingResult::Failed {
                    error: error.unwrap_or_else(|| "the worker reported a failure".to_owned()),
                },
            ),
        }
    }
}

#[derive(Clone)]
pub struct ResultIntake {
    pub uploads: Uploads,
}

impl Handler for ResultIntake {
    async fn handle(&self, body: Vec<u8>) -> Disposition {
        let report: Report = match serde_json::from_slice(&body) {
            Ok(report) => report,
            Err(err) => {
                tracing::warn!(error = %err, "unreadable result report");
                return Disposition::DeadLetter;
            }
        };
        let (id, result) = report.into_parts();
        match self.uploads.record_result(id, result).await {
            Ok(_) => Disposition::Ack,
            Err(UploadError::NotFound) => Disposition::DeadLetter,
            Err(UploadError::NotPending(status)) => {
                tracing::warn!(upload_id = %id, %status, "result for an upload that is not being processed");
                Disposition::Ack
            }
            Err(err) => {
                tracing::warn!(upload_id = %id, error = %err, "could not record a result, will retry");
                Disposition::Retry
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_read_by_their_status() {
        let id = Uuid::new_v4();
        let processed: Report = serde_json::from_value(
            serde_json::json!({"upload_id": id, "status": "processed", "output_location": "s3://o"}),
        )
        .unwrap();
        assert_eq!(
            processed.into_parts(),
            (
                id,
                ProcessingResult::Processed {
                    output_location: Some("s3://o".into())
                }
            )
        );
        let failed: Report =
            serde_json::from_value(serde_json::json!({"upload_id": id, "status": "failed"}))
                .unwrap();
        assert!(matches!(
            failed.into_parts().1,
            ProcessingResult::Failed { .. }
        ));
        assert!(
            serde_json::from_value::<Report>(
                serde_json::json!({"upload_id": id, "status": "done"})
            )
            .is_err()
        );
    }
}
