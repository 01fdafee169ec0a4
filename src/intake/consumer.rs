//! A durable AMQP consumer that survives broker restarts: it reconnects with backoff,
//! redeclares its topology, handles up to `prefetch` messages at once, and acks each one only
//! after its handler has committed.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::Channel;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::broker::{self, Backoff};
use crate::config::Secret;

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

/// How long a failed message waits before it goes back to the queue, so an outage does not
/// turn into a hot redelivery loop.
const RETRY_DELAY: Duration = Duration::from_secs(1);

pub struct Consumer<H> {
    pub name: &'static str,
    pub url: Secret,
    pub queue: String,
    pub prefetch: u16,
    pub handler: H,
}

impl<H: Handler> Consumer<H> {
    /// Consumes until `shutdown` turns true; `declare` (re)creates the topology on every
    /// connection.
    pub async fn run<D, F>(self, declare: D, mut shutdown: watch::Receiver<bool>)
    where
        D: Fn(Channel) -> F,
        F: Future<Output = Result<Channel, lapin::Error>>,
    {
        let mut backoff = Backoff::default();
        while !*shutdown.borrow() {
            let result = async {
                let connection = broker::connect(&self.url, self.name).await?;
                let channel = declare(connection.create_channel().await?).await?;
                channel
                    .basic_qos(self.prefetch, BasicQosOptions::default())
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
                self.consume(consumer, &mut shutdown).await
            }
            .await;
            match result {
                Ok(()) => return,
                Err(err) => {
                    tracing::warn!(error = %err, consumer = self.name, "consumer interrupted, reconnecting")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_delay()) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn consume(
        &self,
        mut consumer: lapin::Consumer,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), lapin::Error> {
        let mut in_flight = JoinSet::new();
        let outcome = loop {
            tokio::select! {
                delivery = consumer.next() => match delivery {
                    Some(Ok(delivery)) => {
                        let handler = self.handler.clone();
                        in_flight.spawn(async move {
                            let disposition = handler.handle(delivery.data.clone()).await;
                            let acker = &delivery.acker;
                            let result = match disposition {
                                Disposition::Ack => acker.ack(BasicAckOptions::default()).await,
                                Disposition::DeadLetter => {
                                    acker.nack(BasicNackOptions { requeue: false, ..Default::default() }).await
                                }
                                Disposition::Retry => {
                                    tokio::time::sleep(RETRY_DELAY).await;
                                    acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await
                                }
                            };
                            if let Err(err) = result {
                                // The broker redelivers unacked messages after a reconnect.
                                tracing::warn!(error = %err, "could not settle a message");
                            }
                        });
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
