//! RabbitMQ: where the broker is, how storage events come in, how consumers retry.

use clap::Args;

use super::Secret;

#[derive(Args, Clone, Debug)]
pub struct BrokerSettings {
    /// RabbitMQ URL: storage events come in and processing jobs go out here (required unless
    /// UC_DEV_MODE is on, which uses `amqp://guest:guest@127.0.0.1:5672/%2f`).
    #[arg(
        id = "amqp-url",
        long = "amqp-url",
        env = "UC_AMQP_URL",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub url: Secret,

    /// Tries a consumed message (storage event, worker result) gets when its handling fails
    /// for a passing reason (database or storage down), the pause doubling up to 5 minutes;
    /// then it goes to `<queue>.dlq`. The default outlasts about an hour of outage.
    #[arg(id = "consumer-max-attempts", long = "consumer-max-attempts", env = "UC_CONSUMER_MAX_ATTEMPTS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub consumer_max_attempts: u32,

    /// Milliseconds before a failed message is tried again, doubling per try (up to 5 min).
    #[arg(id = "consumer-retry-base", long = "consumer-retry-base", env = "UC_CONSUMER_RETRY_BASE_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub consumer_retry_base_ms: u64,
}

/// How storage events reach the service.
#[derive(Args, Clone, Debug)]
pub struct EventSettings {
    /// Consume storage events from RabbitMQ (MinIO/RustFS AMQP targets, AWS via a bridge).
    #[arg(id = "events-amqp", long = "events-amqp", env = "UC_EVENTS_AMQP", default_value_t = true, action = clap::ArgAction::Set)]
    pub amqp: bool,

    /// Exchange storage publishes events to (declared as MinIO's AMQP target declares it).
    #[arg(
        id = "events-exchange",
        long = "events-exchange",
        env = "UC_EVENTS_EXCHANGE",
        default_value = "storage-events"
    )]
    pub exchange: String,

    /// Type of that exchange: fanout, direct or topic.
    #[arg(
        id = "events-exchange-type",
        long = "events-exchange-type",
        env = "UC_EVENTS_EXCHANGE_TYPE",
        default_value = "fanout"
    )]
    pub exchange_type: ExchangeKind,

    /// Binding key of our queue on that exchange (ignored by fanout exchanges).
    #[arg(
        id = "events-routing-key",
        long = "events-routing-key",
        env = "UC_EVENTS_ROUTING_KEY",
        default_value = ""
    )]
    pub routing_key: String,

    /// Our durable queue of storage events; `<queue>.dlq` receives what cannot be parsed.
    #[arg(
        id = "events-queue",
        long = "events-queue",
        env = "UC_EVENTS_QUEUE",
        default_value = "upload-coordinator.storage-events"
    )]
    pub queue: String,

    /// Events processed at once (AMQP prefetch).
    #[arg(
        id = "events-prefetch",
        long = "events-prefetch",
        env = "UC_EVENTS_PREFETCH",
        default_value_t = 32,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub prefetch: u16,

    /// Bearer token storage must send to `POST /api/storage-events`, at least 32 bytes; the
    /// webhook is off while it is unset.
    #[arg(
        id = "events-webhook-token",
        long = "events-webhook-token",
        env = "UC_EVENTS_WEBHOOK_TOKEN",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub webhook_token: Secret,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExchangeKind {
    Fanout,
    Direct,
    Topic,
}
