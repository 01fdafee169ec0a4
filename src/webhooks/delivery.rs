//! Delivers one endpoint's webhooks: claims due deliveries (shared by replicas, each claim a
//! lease), POSTs each signed per Standard Webhooks with a timeout, and records the outcome.
//! Each endpoint has a worker of its own, so a slow or failing receiver delays only itself.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use futures_util::future::join_all;
use poem_openapi::types::ToJSON;
use tokio::sync::{Notify, watch};

use super::SigningKey;
use crate::api::event_view::UploadEventView;
use crate::db::outbox::RetryPolicy;
use crate::db::webhooks::{self, AfterFailure, ClaimedDelivery};
use crate::db::{self, DbError};
use crate::metrics::Metrics;

/// Looks for due deliveries this often even when nothing wakes the worker (retries come due,
/// and a notification can be lost while LISTEN reconnects).
const POLL: Duration = Duration::from_secs(1);

pub struct WebhookWorker {
    pub db: Pool,
    pub url: String,
    /// The URL as logs show it: no credentials, no query.
    pub label: String,
    pub key: SigningKey,
    pub client: reqwest::Client,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub concurrency: u32,
    pub checksums_verified: bool,
    pub wake: Arc<Notify>,
    pub metrics: Arc<Metrics>,
}

/// What a receiver made of one attempt.
enum Outcome {
    Delivered(u16),
    Failed { status: Option<u16>, error: String },
}

impl WebhookWorker {
    /// An HTTP client for webhooks: no redirects followed (a receiver answers itself), bounded
    /// time to connect and to answer.
    pub fn client(timeout: Duration) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!("upload-coordinator/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the TLS backend initialises")
    }

    /// Runs until `shutdown` turns true; a database error ends the run (the supervisor starts
    /// it again).
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            let delivered = match self.round().await {
                Ok(claimed) => claimed,
                Err(err) => {
                    tracing::warn!(endpoint = %self.label, error = %err, "webhook deliveries not claimed");
                    0
                }
            };
            if delivered as u32 == self.concurrency {
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Claims and sends one batch; returns how many were claimed.
    async fn round(&self) -> Result<usize, DbError> {
        let client = db::client(&self.db).await?;
        // The lease outlasts the slowest attempt, so no other replica sends it meanwhile.
        let lease = self.timeout.as_secs_f64() * 2.0 + 5.0;
        let claimed =
            webhooks::claim_due(&client, &self.url, i64::from(self.concurrency), lease).await?;
        drop(client);
        let outcomes = join_all(claimed.iter().map(|delivery| self.attempt(delivery))).await;
        // Every outcome is recorded, whatever happens to one of them: an unrecorded delivery
        // is sent again once its lease runs out.
        let client = db::client(&self.db).await?;
        for (delivery, outcome) in claimed.iter().zip(outcomes) {
            if let Err(err) = self.record(&client, delivery, outcome).await {
                tracing::warn!(endpoint = %self.label, error = %err, "webhook outcome not recorded");
            }
        }
        Ok(claimed.len())
    }

    async fn attempt(&self, delivery: &ClaimedDelivery) -> Outcome {
        let Some(view) = UploadEventView::new(&delivery.event, self.checksums_verified) else {
            // Nothing changes to `pending`; should it ever, there is nothing to announce.
            return Outcome::Delivered(204);
        };
        let body = view.to_json_string();
        let id = format!("msg_{}", delivery.event.event_id.simple());
        let timestamp = chrono::Utc::now().timestamp();
        let signature = self.key.sign(&id, timestamp, body.as_bytes());
        let sent = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                Outcome::Delivered(response.status().as_u16())
            }
            Ok(response) => Outcome::Failed {
                status: Some(response.status().as_u16()),
                error: format!("the receiver answered {}", response.status()),
            },
            Err(err) => Outcome::Failed {
                status: None,
                // The URL may carry a credential: it stays out of the error.
                error: crate::api::error::cause_chain(&err.without_url()),
            },
        }
    }

    async fn record(
        &self,
        client: &deadpool_postgres::Client,
        delivery: &ClaimedDelivery,
        outcome: Outcome,
    ) -> Result<(), DbError> {
        match outcome {
            Outcome::Delivered(status) => {
                let recorded =
                    webhooks::mark_delivered(client, delivery.id, delivery.claim_token, status)
                        .await?;
                self.count("delivered");
                if !recorded {
                    self.count("unrecorded");
                    tracing::info!(
                        endpoint = %self.label,
                        upload_id = %delivery.event.upload.id,
                        "webhook delivered, its claim no longer held (endpoint disabled?): \
                         not recorded, a replay sends it again"
                    );
                }
            }
            Outcome::Failed { status, error } => {
                let after = webhooks::record_failure(
                    client,
                    delivery.id,
                    delivery.claim_token,
                    status,
                    &error,
                    self.retry,
                )
                .await?;
                self.count("failed");
                match after {
                    AfterFailure::Parked => {
                        self.count("parked");
                        tracing::warn!(
                            endpoint = %self.label,
                            upload_id = %delivery.event.upload.id,
                            attempts = delivery.attempts + 1,
                            error = %error,
                            "webhook delivery parked after its last attempt"
                        );
                    }
                    AfterFailure::Retrying => tracing::info!(
                        endpoint = %self.label,
                        upload_id = %delivery.event.upload.id,
                        error = %error,
                        "webhook delivery failed, will retry"
                    ),
                    AfterFailure::ClaimLost => {
                        self.count("unrecorded");
                        tracing::info!(
                            endpoint = %self.label,
                            upload_id = %delivery.event.upload.id,
                            error = %error,
                            "webhook delivery failed, its claim no longer held (endpoint \
                             disabled?): not recorded"
                        );
                    }
                }
            }
        }
        Ok(())
    }

    fn count(&self, outcome: &str) {
        self.metrics
            .webhook_deliveries
            .with_label_values(&[outcome])
            .inc();
    }
}
