//! The outbox relay: publishes committed jobs to RabbitMQ with publisher confirms, then marks
//! them published. Jobs are claimed with a lease (`FOR UPDATE SKIP LOCKED` in one statement),
//! so replicas share the work and no lock or transaction is held while the broker confirms,
//! which it must within a timeout. A job the broker refuses or returns waits a doubling delay
//! and is parked after its last attempt. A confirm that arrives but whose commit is lost
//! (crash in that window) republishes the job once: delivery is at least once, same task id.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use deadpool_postgres::Pool;
use lapin::Channel;
use lapin::options::ConfirmSelectOptions;
use tokio::sync::{Notify, watch};

use super::JobEncoder;
use crate::backoff::{Backoff, Reconnecting, reconnecting};
use crate::config::{JobSettings, Secret};
use crate::db::outbox::{ClaimedJobs, PendingJob, RetryPolicy};
use crate::db::{self, DbError};
use crate::health::{Health, Part};
use crate::metrics::Metrics;
use crate::rabbitmq::{self as broker, publisher, topology};

const BATCH: i64 = 100;
/// How long a claim outlives the confirm timeout: past it, another relay may take the job.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// How the relay's RabbitMQ connection is named in readiness.
pub const RELAY_BROKER_USER: &str = "outbox relay";
const BROKER: Part = Part::Broker(RELAY_BROKER_USER);

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker confirmed nothing within {0:?}")]
    ConfirmTimeout(Duration),
    #[error("the broker connection is closed")]
    Disconnected,
}

impl RelayError {
    /// Whether the broker (not the database) is what failed.
    fn is_broker(&self) -> bool {
        !matches!(self, Self::Db(_))
    }
}

pub struct Relay {
    pub db: Pool,
    pub broker_url: Secret,
    pub settings: JobSettings,
    pub encoder: JobEncoder,
    pub wake: Arc<Notify>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
}

/// What one claim did.
struct Batch {
    claimed: usize,
    published: usize,
}

impl Reconnecting for Relay {
    type Error = RelayError;

    fn name(&self) -> &str {
        RELAY_BROKER_USER
    }

    async fn session(
        &self,
        backoff: &mut Backoff,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), RelayError> {
        let channel = self.open_channel().await?;
        backoff.reset();
        self.health.up(BROKER);
        self.serve(&channel, shutdown).await
    }

    fn lost(&self, err: &RelayError) {
        if err.is_broker() {
            self.health.down(BROKER, err);
        }
    }
}

impl Relay {
    fn confirm_timeout(&self) -> Duration {
        Duration::from_secs(self.settings.confirm_timeout_secs)
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.settings.max_attempts,
            base_secs: self.settings.retry_base_ms as f64 / 1000.0,
            max_secs: self.settings.retry_max_secs as f64,
        }
    }

    /// Publishes until `shutdown` turns true, reconnecting to the broker as needed.
    pub async fn run(&self, shutdown: watch::Receiver<bool>) {
        reconnecting(self, shutdown).await;
    }

    async fn open_channel(&self) -> Result<Channel, RelayError> {
        let connection = broker::connect(&self.broker_url, "relay").await?;
        let channel = connection.create_channel().await?;
        if self.settings.declare_topology {
            topology::declare_jobs(&channel, &self.settings).await?;
        }
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        tracing::info!(exchange = %self.settings.exchange, "outbox relay connected");
        Ok(channel)
    }

    async fn serve(
        &self,
        channel: &Channel,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), RelayError> {
        let poll = Duration::from_secs(self.settings.poll_secs);
        loop {
            if !channel.status().connected() {
                return Err(RelayError::Disconnected);
            }
            let batch = self.publish_batch(channel).await?;
            // A full batch that made progress: more may be due right away. Anything else waits
            // (failed jobs are not due again before their backoff).
            if batch.claimed as i64 == BATCH && batch.published > 0 {
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    async fn publish_batch(&self, channel: &Channel) -> Result<Batch, RelayError> {
        let lease = self.confirm_timeout() + LEASE_MARGIN;
        let ClaimedJobs { token, jobs } = {
            let client = db::client(&self.db).await?;
            db::outbox::claim_due(&client, BATCH, lease.as_secs_f64()).await?
        };
        if jobs.is_empty() {
            return Ok(Batch {
                claimed: 0,
                published: 0,
            });
        }
        let publishing = std::time::Instant::now();
        let outcome =
            match tokio::time::timeout(self.confirm_timeout(), self.publish_all(channel, &jobs))
                .await
            {
                Ok(outcome) => outcome,
                Err(_) => Err(RelayError::ConfirmTimeout(self.confirm_timeout())),
            };
        tracing::debug!(
            jobs = jobs.len(),
            micros = publishing.elapsed().as_micros() as u64,
            "published and confirmed"
        );
        let confirmed: Vec<&PendingJob> = match &outcome {
            Ok(accepted) => accepted.iter().map(|i| &jobs[*i]).collect(),
            Err(_) => Vec::new(),
        };
        let client = db::client(&self.db).await?;
        db::outbox::mark_published(&client, &confirmed).await?;
        self.record_latency(&confirmed);
        let failed: Vec<i64> = jobs
            .iter()
            .filter(|job| !confirmed.iter().any(|c| c.outbox_id == job.outbox_id))
            .map(|job| job.outbox_id)
            .collect();
        if !failed.is_empty() {
            self.metrics
                .jobs_published
                .with_label_values(&["failed"])
                .inc_by(failed.len() as u64);
            match &outcome {
                // The broker refused or returned these jobs: an attempt each.
                Ok(_) => {
                    let reason = "refused or unroutable";
                    let retry = self.retry_policy();
                    let parked =
                        db::outbox::record_failure(&client, &failed, token, reason, retry).await?;
                    if parked > 0 {
                        self.metrics.jobs_parked.inc_by(parked);
                        tracing::error!(
                            jobs = parked,
                            reason,
                            "jobs parked after their last attempt: `upload-coordinator jobs replay` sends them again"
                        );
                    }
                    tracing::warn!(
                        jobs = failed.len(),
                        reason,
                        "jobs not published, will retry"
                    );
                }
                // The broker as a whole failed: the jobs wait, their attempts untouched.
                Err(err) => {
                    let delay = self.retry_policy().base_secs;
                    db::outbox::release(&client, &failed, token, &err.to_string(), delay).await?;
                    tracing::warn!(jobs = failed.len(), error = %err, "jobs not published, will retry");
                }
            }
        }
        // A broken channel or a broker that stopped confirming: reconnect.
        outcome.map(|_| Batch {
            claimed: jobs.len(),
            published: confirmed.len(),
        })
    }

    fn record_latency(&self, confirmed: &[&PendingJob]) {
        let now = Utc::now();
        let latency = self
            .metrics
            .event_to_job
            .with_label_values(&[self.encoder.format_name()]);
        for job in confirmed {
            let elapsed = (now - job.trigger_received_at).to_std().unwrap_or_default();
            latency.observe(elapsed.as_secs_f64());
        }
        self.metrics
            .jobs_published
            .with_label_values(&["confirmed"])
            .inc_by(confirmed.len() as u64);
    }

    /// Publishes every job, then waits for the broker's confirms; returns the indexes of the
    /// jobs the broker accepted and routed.
    async fn publish_all(
        &self,
        channel: &Channel,
        jobs: &[PendingJob],
    ) -> Result<Vec<usize>, RelayError> {
        let messages: Vec<_> = jobs
            .iter()
            .map(|job| self.encoder.encode(job.task_id, &job.upload))
            .collect();
        let accepted = publisher::publish_confirmed(
            channel,
            &self.settings.exchange,
            &self.settings.routing_key,
            messages,
        )
        .await?;
        Ok(accepted
            .into_iter()
            .enumerate()
            .filter_map(|(index, accepted)| {
                if !accepted {
                    tracing::warn!(upload_id = %jobs[index].upload.id, "broker refused or returned a job");
                }
                accepted.then_some(index)
            })
            .collect())
    }
}
