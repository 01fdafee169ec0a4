//! Storage events coming in (over AMQP or the webhook): each object they name goes through the
//! confirmation function, which checks storage and the intent before committing anything.

use std::sync::Arc;

use chrono::Utc;

use super::{Item, ObjectCreated};
use crate::domain::Upload;
use crate::events;
use crate::metrics::Metrics;
use crate::rabbitmq::consumer::{Disposition, Handler};
use crate::uploads::{ConfirmOutcome, UploadError, Uploads};

/// How one event body was handled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub confirmed: usize,
    pub rejected: usize,
    pub duplicates: usize,
    pub unknown: usize,
    pub ignored: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The body can never be understood; retrying will not help.
    #[error(transparent)]
    Malformed(#[from] events::ParseError),
    /// Storage or the database failed; the same body may succeed later.
    #[error(transparent)]
    Unavailable(UploadError),
}

#[derive(Clone)]
pub struct EventIntake {
    uploads: Uploads,
    bucket: String,
    metrics: Arc<Metrics>,
    /// `amqp` or `webhook`, for metrics and logs.
    source: &'static str,
}

impl EventIntake {
    pub fn new(uploads: Uploads, metrics: Arc<Metrics>, source: &'static str) -> Self {
        let bucket = uploads.bucket().to_owned();
        Self {
            uploads,
            bucket,
            metrics,
            source,
        }
    }

    /// Parses a body and confirms every object it names. Safe to repeat: a redelivered body
    /// changes nothing more.
    pub async fn handle(&self, body: &[u8]) -> Result<Summary, IntakeError> {
        let received_at = Utc::now();
        let parsed = events::parse(body).inspect_err(|err| {
            self.metrics.event(self.source, "unknown", "malformed");
            tracing::warn!(source = self.source, error = %err, "unparseable storage event");
        })?;
        let mut summary = Summary::default();
        for item in parsed.items {
            match item {
                Item::Ignored(ignored) => {
                    summary.ignored += 1;
                    self.metrics.event(
                        self.source,
                        "any",
                        &format!("ignored-{}", ignored.reason.as_str()),
                    );
                    tracing::debug!(reason = ignored.reason.as_str(), detail = %ignored.detail, "event ignored");
                }
                Item::Created(created) => self.created(created, received_at, &mut summary).await?,
            }
        }
        Ok(summary)
    }

    async fn created(
        &self,
        created: ObjectCreated,
        received_at: chrono::DateTime<Utc>,
        summary: &mut Summary,
    ) -> Result<(), IntakeError> {
        let format = created.format.as_str();
        if created.bucket != self.bucket {
            summary.ignored += 1;
            self.metrics
                .event(self.source, format, "ignored-other-bucket");
            return Ok(());
        }
        let outcome = match self
            .uploads
            .confirm_object(&created.bucket, &created.key, received_at)
            .await
        {
            Ok(Some(outcome)) => outcome,
            Ok(None) => {
                summary.unknown += 1;
                self.metrics.event(self.source, format, "unknown-object");
                tracing::debug!(key = %created.key, "event for an object no intent declared");
                return Ok(());
            }
            // Named but not there (an initiate-time Ceph event, or deleted since): nothing to do.
            Err(UploadError::ObjectMissing) => {
                summary.ignored += 1;
                self.metrics.event(self.source, format, "object-missing");
                return Ok(());
            }
            Err(err) => {
                self.metrics.event(self.source, format, "retried");
                tracing::warn!(key = %created.key, error = %err, "could not confirm, will retry");
                return Err(IntakeError::Unavailable(err));
            }
        };
        if let ConfirmOutcome::Unchanged(upload) = &outcome
            && upload.status.is_confirmed()
        {
            return self.check_replaced(upload.clone(), &created, summary).await;
        }
        self.metrics.event(self.source, format, outcome.label());
        match outcome {
            ConfirmOutcome::Confirmed(_) => summary.confirmed += 1,
            ConfirmOutcome::Rejected(_) => summary.rejected += 1,
            ConfirmOutcome::Unchanged(_) => summary.duplicates += 1,
        }
        Ok(())
    }

    /// An event for a confirmed upload: a duplicate, or a sign its object was replaced.
    async fn check_replaced(
        &self,
        upload: Upload,
        created: &ObjectCreated,
        summary: &mut Summary,
    ) -> Result<(), IntakeError> {
        let format = created.format.as_str();
        match self
            .uploads
            .check_replaced(upload, created.etag.as_deref(), created.size)
            .await
        {
            Ok(None) => {
                self.metrics.event(self.source, format, "duplicate");
                summary.duplicates += 1;
                Ok(())
            }
            Ok(Some(_)) => {
                self.metrics.event(self.source, format, "replaced");
                self.metrics.uploads_replaced.inc();
                summary.rejected += 1;
                Ok(())
            }
            Err(err) => {
                self.metrics.event(self.source, format, "retried");
                tracing::warn!(key = %created.key, error = %err, "could not check a confirmed object, will retry");
                Err(IntakeError::Unavailable(err))
            }
        }
    }
}

impl Handler for EventIntake {
    async fn handle(&self, body: Vec<u8>) -> Disposition {
        match EventIntake::handle(self, &body).await {
            Ok(_) => Disposition::Ack,
            Err(IntakeError::Malformed(_)) => Disposition::DeadLetter,
            Err(IntakeError::Unavailable(_)) => Disposition::Retry,
        }
    }
}
