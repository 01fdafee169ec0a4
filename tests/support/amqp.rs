//! RabbitMQ from the tests' side: publish storage events, read jobs, count queues, clean up.

use std::time::Duration;

use lapin::message::BasicGetMessage;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, ExchangeDeleteOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use super::{AmqpNames, TestApp, wait_for};

pub async fn connect(url: &str) -> (Connection, Channel) {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("RabbitMQ is reachable (run `make test`)");
    let channel = connection.create_channel().await.unwrap();
    (connection, channel)
}

/// Deletes a test's queues and exchanges; errors (already gone) are fine.
pub async fn delete_all(url: &str, names: &AmqpNames) {
    let Ok(connection) = Connection::connect(url, ConnectionProperties::default()).await else {
        return;
    };
    for queue in names.queues() {
        if let Ok(channel) = connection.create_channel().await {
            let _ = channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    }
    for exchange in names.exchanges() {
        if let Ok(channel) = connection.create_channel().await {
            let _ = channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
    let _ = connection.close(200, "cleanup".into()).await;
}

impl TestApp {
    /// Ready messages in `queue` (0 when it does not exist yet).
    pub async fn queue_depth(&self, queue: &str) -> u32 {
        let (connection, channel) = connect(&self.amqp_url).await;
        let depth = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map(|q| q.message_count())
            .unwrap_or(0);
        let _ = connection.close(200, "done".into()).await;
        depth
    }

    /// Publishes to the storage event exchange as MinIO's AMQP target does.
    pub async fn publish_event(&self, body: &[u8]) {
        self.publish(&self.names.events_exchange, "", body).await;
    }

    /// Publishes a persistent message with publisher confirms.
    pub async fn publish(&self, exchange: &str, routing_key: &str, body: &[u8]) {
        let (connection, channel) = connect(&self.amqp_url).await;
        channel.confirm_select(Default::default()).await.unwrap();
        let confirm = channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default()
                    .with_content_type("application/json".into())
                    .with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack());
        let _ = connection.close(200, "done".into()).await;
    }

    /// Takes (and acks) every message now in `queue`.
    pub async fn drain(&self, queue: &str) -> Vec<BasicGetMessage> {
        let (connection, channel) = connect(&self.amqp_url).await;
        let mut messages = Vec::new();
        while let Ok(Some(message)) = channel
            .basic_get(queue.into(), BasicGetOptions::default())
            .await
        {
            message
                .delivery
                .ack(BasicAckOptions::default())
                .await
                .unwrap();
            messages.push(message);
        }
        let _ = connection.close(200, "done".into()).await;
        messages
    }

    /// Waits until `queue` holds `count` messages, then takes them all.
    pub async fn wait_for_messages(&self, queue: &str, count: u32) -> Vec<BasicGetMessage> {
        wait_for(
            &format!("{count} message(s) in {queue}"),
            Duration::from_secs(20),
            || async { (self.queue_depth(queue).await >= count).then_some(()) },
        )
        .await;
        self.drain(queue).await
    }
}
