//! Publishing with publisher confirms: a message counts as sent only once the broker has
//! confirmed and routed it (published `mandatory`, an unroutable one comes back instead of
//! vanishing).

use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Channel};

/// A message ready to publish.
#[derive(Clone, Debug)]
pub struct Message {
    pub body: Vec<u8>,
    pub properties: BasicProperties,
}

/// Publishes every message, then waits for the broker's confirms; says, for each message in
/// order, whether the broker accepted and routed it.
pub async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    messages: impl IntoIterator<Item = Message>,
) -> Result<Vec<bool>, lapin::Error> {
    let options = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    let mut pending = Vec::new();
    for message in messages {
        let confirm = channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                options,
                &message.body,
                message.properties,
            )
            .await?;
        pending.push(confirm);
    }
    let mut accepted = Vec::with_capacity(pending.len());
    for confirm in pending {
        let confirmation = confirm.await?;
        accepted.push(confirmation.is_ack() && confirmation.take_message().is_none());
    }
    Ok(accepted)
}
