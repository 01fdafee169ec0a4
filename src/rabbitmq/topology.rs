//! Declares the exchanges and queues jobs, events and results travel through. Declarations are
//! idempotent, so every replica (and every reconnect) makes them.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ExchangeKind as LapinExchangeKind};

use crate::config::{EventSettings, ExchangeKind, JobSettings};

fn durable_exchange() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    }
}

fn durable_queue() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

fn dead_lettering_to(exchange: &str) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        ShortString::from("x-dead-letter-exchange"),
        AMQPValue::LongString(exchange.into()),
    );
    args
}

/// A durable queue whose rejected messages go to `<queue>.dlq` through a fanout exchange of
/// the same name, so nothing rejected is lost.
async fn dead_lettered_queue(channel: &Channel, queue: &str) -> Result<(), lapin::Error> {
    let dlq = format!("{queue}.dlq");
    channel
        .exchange_declare(
            dlq.as_str().into(),
            LapinExchangeKind::Fanout,
            durable_exchange(),
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(dlq.as_str().into(), durable_queue(), FieldTable::default())
        .await?;
    channel
        .queue_bind(
            dlq.as_str().into(),
            dlq.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(queue.into(), durable_queue(), dead_lettering_to(&dlq))
        .await?;
    Ok(())
}

/// The worker's side: `video` (direct) -> `video_tasks`, dead letters to `video-dlx` ->
/// `video.dlq`.
pub async fn declare_jobs(channel: &Channel, jobs: &JobSettings) -> Result<(), lapin::Error> {
    channel
        .exchange_declare(
            jobs.exchange.as_str().into(),
            LapinExchangeKind::Direct,
            durable_exchange(),
            FieldTable::default(),
        )
        .await?;
    if jobs.queue.is_empty() {
        return Ok(());
    }
    channel
        .exchange_declare(
            jobs.dead_letter_exchange.as_str().into(),
            LapinExchangeKind::Fanout,
            durable_exchange(),
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(
            jobs.dead_letter_queue.as_str().into(),
            durable_queue(),
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            jobs.dead_letter_queue.as_str().into(),
            jobs.dead_letter_exchange.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(
            jobs.queue.as_str().into(),
            durable_queue(),
            dead_lettering_to(&jobs.dead_letter_exchange),
        )
        .await?;
    channel
        .queue_bind(
            jobs.queue.as_str().into(),
            jobs.exchange.as_str().into(),
            jobs.routing_key.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// The storage side: the exchange declared exactly as MinIO's AMQP target declares it
/// (durable, not auto-deleted, not internal), and our queue bound to it.
pub async fn declare_events(channel: &Channel, events: &EventSettings) -> Result<(), lapin::Error> {
    let kind = match events.exchange_type {
        ExchangeKind::Fanout => LapinExchangeKind::Fanout,
        ExchangeKind::Direct => LapinExchangeKind::Direct,
        ExchangeKind::Topic => LapinExchangeKind::Topic,
    };
    channel
        .exchange_declare(
            events.exchange.as_str().into(),
            kind,
            durable_exchange(),
            FieldTable::default(),
        )
        .await?;
    dead_lettered_queue(channel, &events.queue).await?;
    channel
        .queue_bind(
            events.queue.as_str().into(),
            events.exchange.as_str().into(),
            events.routing_key.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// The queue workers report results to (messages published to it via the default exchange).
pub async fn declare_results(channel: &Channel, queue: &str) -> Result<(), lapin::Error> {
    dead_lettered_queue(channel, queue).await
}
