//! A durable AMQP consumer that survives broker restarts: it reconnects with backoff,
//! redeclares its topology, handles up to `prefetch` messages at once, and acks each one only
//! after its handler has committed. A message whose handling fails for a passing reason is put
//! back on the queue after a doubling delay with its try counted in a header; after the last
//! try it goes to the dead-letter queue.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use std::panic::AssertUnwindSafe;

use futures_util::{FutureExt, StreamExt};
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::topology;
use crate::backoff::{Backoff, Reconnecting, reconnecting};
use crate::config::{EventSettings, Secret};
use crate::health::{Health, Part};
use crate::metrics::Metrics;
use crate::rabbitmq as broker;

/// What to do with a message once handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Done (committed, or nothing to do).
    Ack,
    /// Never processable: to the dead-letter queue.
    DeadLetter,
    /// A dependency failed: back to the queue, tried again later.
    Retry,
}

/// Handles one message body.
pub trait Handler: Clone + Send + Sync + 'static {
    fn handle(&self, body: Vec<u8>) -> impl Future<Output = Disposition> + Send;
}

/// The header that counts a message's tries.
pub const ATTEMPTS_HEADER: &str = "x-upload-coordinator-attempts";
/// The longest pause before a failed message is tried again: with the default 20 tries, a
/// message outlasts about an hour of its dependency being down before it is dead-lettered.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// How often a failing message is tried, and how long it waits in between.
#[derive(Clone, Copy, Debug)]
pub struct RetryLimits {
    pub max_attempts: u32,
    pub base_delay: Duration,
}

impl RetryLimits {
    /// The pause after the `attempt`-th failure (1-based): doubling, capped.
    fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        self.base_delay.saturating_mul(factor).min(MAX_RETRY_DELAY)
    }
}

/// What a consumer declares on every connection before it consumes.
#[derive(Clone, Debug)]
pub enum ConsumerTopology {
    /// The storage events exchange, our queue bound to it, and its dead-letter queue.
    StorageEvents(EventSettings),
    /// The results queue and its dead-letter queue.
    Results,
}

pub struct Consumer<H> {
    pub name: &'static str,
    pub url: Secret,
    pub queue: String,
    pub topology: ConsumerTopology,
    pub prefetch: u16,
    pub handler: H,
    pub retry: RetryLimits,
    pub health: Arc<Health>,
    pub metrics: Arc<Metrics>,
}

/// Tries a delivery has had before, from its header.
fn attempts_so_far(delivery: &Delivery) -> u32 {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get(ATTEMPTS_HEADER))
        .and_then(|value| match value {
            AMQPValue::LongUInt(n) => Some(*n),
            AMQPValue::LongLongInt(n) => u32::try_from(*n).ok(),
            AMQPValue::LongInt(n) => u32::try_from(*n).ok(),
            _ => None,
        })
        .unwrap_or(0)
}

impl Consumer<()> {
    /// The same consumer, handing its messages to `handler`.
    pub fn with_handler<H: Handler>(self, handler: H) -> Consumer<H> {
        Consumer {
            name: self.name,
            url: self.url,
            queue: self.queue,
            topology: self.topology,
            prefetch: self.prefetch,
            handler,
            retry: self.retry,
            health: self.health,
            metrics: self.metrics,
        }
    }
}

impl<H: Handler> Reconnecting for Consumer<H> {
    type Error = lapin::Error;

    fn name(&self) -> &str {
        self.name
    }

    async fn session(
        &self,
        backoff: &mut Backoff,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), lapin::Error> {
        let connection = broker::connect(&self.url, self.name).await?;
        let channel = connection.create_channel().await?;
        match &self.topology {
            ConsumerTopology::StorageEvents(events) => {
                topology::declare_events(&channel, events).await?
            }
            ConsumerTopology::Results => topology::declare_results(&channel, &self.queue).await?,
        }
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        // Messages put back for another try are confirmed before the original is acked.
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                self.queue.as_str().into(),
                format!("upload-coordinator-{}", self.name).as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(queue = %self.queue, consumer = self.name, "consuming");
        backoff.reset();
        self.health.up(Part::Broker(self.name));
        self.consume(&channel, consumer, shutdown).await
    }

    fn lost(&self, err: &lapin::Error) {
        self.health.down(Part::Broker(self.name), err);
    }
}

impl<H: Handler> Consumer<H> {
    /// Consumes until `shutdown` turns true, declaring the topology on every connection.
    pub async fn run(&self, shutdown: watch::Receiver<bool>) {
        reconnecting(self, shutdown).await;
    }

    async fn consume(
        &self,
        channel: &Channel,
        mut consumer: lapin::Consumer,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), lapin::Error> {
        let mut in_flight = JoinSet::new();
        let outcome = loop {
            tokio::select! {
                delivery = consumer.next() => match delivery {
                    Some(Ok(delivery)) => {
                        let settle = Settle {
                            handler: self.handler.clone(),
                            channel: channel.clone(),
                            queue: self.queue.clone(),
                            name: self.name,
                            retry: self.retry,
                            metrics: self.metrics.clone(),
                        };
                        in_flight.spawn(settle.handle(delivery));
                    }
                    Some(Err(err)) => break Err(err),
                    None => break Err(lapin::Error::from(lapin::ErrorKind::InvalidChannelState(
                        lapin::ChannelState::Closed,
                        "consumer stream ended",
                    ))),
                },
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = shutdown.changed() => break Ok(()),
            }
        };
        // Let handlers that already started finish and settle their messages.
        while in_flight.join_next().await.is_some() {}
        outcome
    }
}

/// Handles one delivery and settles it.
struct Settle<H> {
    handler: H,
    channel: Channel,
    queue: String,
    name: &'static str,
    retry: RetryLimits,
    metrics: Arc<Metrics>,
}

impl<H: Handler> Settle<H> {
    async fn handle(self, delivery: Delivery) {
        // A handler that panics must not leave its message unsettled until the channel
        // closes: the panic counts as a passing failure, and the message is tried again.
        let handled = AssertUnwindSafe(self.handler.handle(delivery.data.clone()))
            .catch_unwind()
            .await;
        let disposition = handled.unwrap_or_else(|_| {
            tracing::error!(consumer = self.name, "a message handler panicked");
            Disposition::Retry
        });
        let acker = &delivery.acker;
        let dead_letter = BasicNackOptions {
            requeue: false,
            ..Default::default()
        };
        let result = match disposition {
            Disposition::Ack => acker.ack(BasicAckOptions::default()).await.map(drop),
            Disposition::DeadLetter => acker.nack(dead_letter).await.map(drop),
            Disposition::Retry => {
                let attempt = attempts_so_far(&delivery) + 1;
                if attempt >= self.retry.max_attempts {
                    self.count("dead-lettered");
                    tracing::error!(
                        consumer = self.name,
                        attempts = attempt,
                        "a message failed on every try: to the dead-letter queue"
                    );
                    acker.nack(dead_letter).await.map(drop)
                } else {
                    self.count("retried");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    self.try_again(&delivery, attempt).await
                }
            }
        };
        if let Err(err) = result {
            // The broker redelivers unacked messages after a reconnect.
            tracing::warn!(error = %err, "could not settle a message");
        }
    }

    fn count(&self, outcome: &str) {
        self.metrics
            .consumer_retries
            .with_label_values(&[self.name, outcome])
            .inc();
    }

    /// Puts a copy back on the queue with its tries counted, then acks the original. Should
    /// the copy not be confirmed, the original goes back instead (its count unchanged).
    async fn try_again(&self, delivery: &Delivery, attempt: u32) -> Result<(), lapin::Error> {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(ATTEMPTS_HEADER.into(), AMQPValue::LongUInt(attempt));
        let properties = delivery.properties.clone().with_headers(headers);
        let republished = async {
            self.channel
                .basic_publish(
                    "".into(),
                    self.queue.as_str().into(),
                    BasicPublishOptions::default(),
                    &delivery.data,
                    properties,
                )
                .await?
                .await
        }
        .await;
        match republished {
            Ok(confirmation) if confirmation.is_ack() => delivery
                .acker
                .ack(BasicAckOptions::default())
                .await
                .map(drop),
            _ => delivery
                .acker
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await
                .map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_their_cap() {
        let limits = RetryLimits {
            max_attempts: 10,
            base_delay: Duration::from_secs(1),
        };
        assert_eq!(limits.delay(1), Duration::from_secs(1));
        assert_eq!(limits.delay(2), Duration::from_secs(2));
        assert_eq!(limits.delay(3), Duration::from_secs(4));
        assert_eq!(limits.delay(40), MAX_RETRY_DELAY);
    }
}
