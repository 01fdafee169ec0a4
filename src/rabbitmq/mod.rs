//! Everything RabbitMQ: connections (here), the topology jobs, events and results travel
//! through, the durable consumer, and the confirmed publisher. Each background worker owns its
//! connection and reconnects on its own with capped exponential backoff, so a broker restart
//! delays work without losing any.

pub mod consumer;
pub mod publisher;
pub mod topology;

use lapin::{Connection, ConnectionProperties};

use crate::config::Secret;

/// Connects once; the error names where (without credentials).
pub async fn connect(url: &Secret, name: &str) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default()
        .with_connection_name(format!("upload-coordinator/{name}").into());
    Connection::connect(url.expose(), properties).await
}

/// Where an AMQP URL points, without credentials, for messages.
pub fn location(url: &Secret) -> String {
    let raw = url.expose();
    let after_scheme = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let host = after_scheme
        .rsplit_once('@')
        .map_or(after_scheme, |(_, host)| host);
    host.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_hide_credentials() {
        let url = Secret::new("amqp://guest:pa55@rabbit:5672/%2f");
        assert_eq!(location(&url), "rabbit:5672/%2f");
    }
}
