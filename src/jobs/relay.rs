//! The outbox relay: publishes committed jobs to RabbitMQ with publisher confirms, then marks
//! them published. Several replicas share the work (`FOR UPDATE SKIP LOCKED`); a broker outage
//! delays jobs and drops none. A confirm that arrives but whose commit is lost (crash in that
//! window) republishes the job once: delivery is at least once, with the same task id.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use deadpool_postgres::Pool;
use lapin::Channel;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use tokio::sync::{Notify, watch};

use super::{JobEncoder, topology};
use crate::broker::{self, Backoff};
use crate::config::{JobSettings, Secret};
use crate::db::{self, DbError, outbox::PendingJob};
use crate::metrics::Metrics;

const BATCH: i64 = 100;

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
}

impl From<deadpool_postgres::PoolError> for RelayError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        Self::Db(err.into())
    }
}

impl From<tokio_postgres::Error> for RelayError {
    fn from(err: tokio_postgres::Error) -> Self {
        Self::Db(err.into())
    }
}

pub struct Relay {
    pub db: Pool,
    pub broker_url: Secret,
    pub settings: JobSettings,
    pub encoder: JobEncoder,
    pub wake: Arc<Notify>,
    pub metrics: Arc<Metrics>,
}

impl Relay {
    /// Publishes until `shutdown` turns true, reconnecting to the broker as needed.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Backoff::default();
        while !*shutdown.borrow() {
            let outcome = match self.open_channel().await {
                Ok(channel) => {
                    backoff.reset();
                    self.serve(&channel, &mut shutdown).await
                }
                Err(err) => Err(err),
            };
            match outcome {
                Ok(()) => return,
                Err(err) => tracing::warn!(error = %err, "outbox relay interrupted, retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_delay()) => {}
                _ = shutdown.changed() => return,
            }
        }
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
            let published = self.publish_batch(channel).await?;
            if published as i64 == BATCH {
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    /// Publishes one batch; returns how many jobs it claimed.
    async fn publish_batch(&self, channel: &Channel) -> Result<usize, RelayError> {
        let mut client = self.db.get().await?;
        let tx = client.transaction().await?;
        let jobs = db::outbox::claim_unpublished(&tx, BATCH).await?;
        if jobs.is_empty() {
            return Ok(0);
        }
        let publishing = std::time::Instant::now();
        let outcome = self.publish_all(channel, &jobs).await;
        tracing::debug!(
            jobs = jobs.len(),
            micros = publishing.elapsed().as_micros() as u64,
            "published and confirmed"
        );
        let confirmed: Vec<&PendingJob> = match &outcome {
            Ok(confirmed) => confirmed.iter().map(|i| &jobs[*i]).collect(),
            Err(_) => Vec::new(),
        };
        db::outbox::mark_published(&tx, &confirmed).await?;
        tx.commit().await?;
        let now = Utc::now();
        let latency = self
            .metrics
            .event_to_job
            .with_label_values(&[self.encoder.format_name()]);
        for job in &confirmed {
            let elapsed = (now - job.trigger_received_at).to_std().unwrap_or_default();
            latency.observe(elapsed.as_secs_f64());
        }
        self.metrics
            .jobs_published
            .with_label_values(&["confirmed"])
            .inc_by(confirmed.len() as u64);
        let failed: Vec<i64> = jobs
            .iter()
            .filter(|job| !confirmed.iter().any(|c| c.outbox_id == job.outbox_id))
            .map(|job| job.outbox_id)
            .collect();
        if !failed.is_empty() {
            let reason = match &outcome {
                Ok(_) => "refused or unroutable".to_owned(),
                Err(err) => err.to_string(),
            };
            self.metrics
                .jobs_published
                .with_label_values(&["failed"])
                .inc_by(failed.len() as u64);
            db::outbox::record_failure(&client, &failed, &reason).await?;
            tracing::warn!(jobs = failed.len(), %reason, "jobs not published, will retry");
        }
        outcome.map(|_| jobs.len())
    }

    /// Publishes every job, then waits for the broker's confirms; returns the indexes of the
    /// jobs the broker accepted and routed.
    async fn publish_all(
        &self,
        channel: &Channel,
        jobs: &[PendingJob],
    ) -> Result<Vec<usize>, RelayError> {
        let options = BasicPublishOptions {
            // Unroutable jobs come back instead of vanishing.
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let mut pending = Vec::with_capacity(jobs.len());
        for job in jobs {
            let message = self.encoder.encode(job.task_id, &job.upload);
            let confirm = channel
                .basic_publish(
                    self.settings.exchange.as_str().into(),
                    self.settings.routing_key.as_str().into(),
                    options,
                    &message.body,
                    message.properties,
                )
                .await?;
            pending.push(confirm);
        }
        let mut accepted = Vec::with_capacity(jobs.len());
        for (index, confirm) in pending.into_iter().enumerate() {
            let confirmation = confirm.await?;
            if confirmation.is_ack() && confirmation.take_message().is_none() {
                accepted.push(index);
            } else {
                tracing::warn!(upload_id = %jobs[index].upload.id, "broker refused or returned a job");
            }
        }
        Ok(accepted)
    }
}
