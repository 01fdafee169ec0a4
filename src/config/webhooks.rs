//! Outgoing webhooks (Standard Webhooks) and the live status stream.

use clap::Args;

use super::{ConfigError, Secret};

/// Where status changes are announced.
#[derive(Args, Clone, Debug)]
pub struct NotifySettings {
    /// Endpoints that receive every upload event as a signed POST (comma-separated; empty: no
    /// webhooks). Give every replica the same list; `upload-coordinator webhooks disable`
    /// stops one that is no longer wanted.
    #[arg(
        id = "webhook-url",
        long = "webhook-url",
        env = "UC_WEBHOOK_URL",
        value_delimiter = ',',
        default_value = ""
    )]
    pub webhook_urls: Vec<String>,

    /// Signing secrets in the Standard Webhooks form `whsec_<base64 of 24-64 random bytes>`:
    /// one for every endpoint, or one per endpoint in the order of UC_WEBHOOK_URL.
    #[arg(
        id = "webhook-secret",
        long = "webhook-secret",
        env = "UC_WEBHOOK_SECRET"
    )]
    pub webhook_secret: Option<Secret>,

    /// Seconds a receiver has to answer a delivery (connecting included).
    #[arg(id = "webhook-timeout", long = "webhook-timeout", env = "UC_WEBHOOK_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub webhook_timeout_secs: u64,

    /// Attempts of a delivery before it is parked (`upload-coordinator webhooks replay` sends
    /// parked ones again).
    #[arg(id = "webhook-max-attempts", long = "webhook-max-attempts", env = "UC_WEBHOOK_MAX_ATTEMPTS", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub webhook_max_attempts: u32,

    /// Wait after a delivery's first failure, in milliseconds; it doubles with each failure
    /// (with jitter) up to UC_WEBHOOK_RETRY_MAX_SECS.
    #[arg(id = "webhook-retry-base", long = "webhook-retry-base", env = "UC_WEBHOOK_RETRY_BASE_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub webhook_retry_base_ms: u64,

    /// Longest wait between two attempts of a delivery, in seconds.
    #[arg(id = "webhook-retry-max", long = "webhook-retry-max", env = "UC_WEBHOOK_RETRY_MAX_SECS", default_value_t = 3_600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub webhook_retry_max_secs: u64,

    /// Deliveries in flight at once, per endpoint and replica.
    #[arg(id = "webhook-concurrency", long = "webhook-concurrency", env = "UC_WEBHOOK_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub webhook_concurrency: u32,

    /// Open status streams (`GET /api/uploads/events`) one owner may hold on a replica.
    #[arg(id = "max-streams-per-owner", long = "max-streams-per-owner", env = "UC_MAX_STREAMS_PER_OWNER", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_streams_per_owner: u32,

    /// Seconds between heartbeats on an idle status stream (at most half UC_IDLE_TIMEOUT_SECS).
    #[arg(id = "stream-heartbeat", long = "stream-heartbeat", env = "UC_STREAM_HEARTBEAT_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub stream_heartbeat_secs: u64,

    /// A status stream ends after this many seconds; the browser reconnects at once, resuming
    /// from its last event, and its credential is checked again.
    #[arg(id = "stream-max-age", long = "stream-max-age", env = "UC_STREAM_MAX_AGE_SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub stream_max_age_secs: u64,

    /// Hours status events are kept, for streams resuming with `Last-Event-ID` (an event with
    /// a delivery still due is kept until it is delivered or parked).
    #[arg(id = "event-retention", long = "event-retention", env = "UC_EVENT_RETENTION_HOURS", default_value_t = 72, value_parser = clap::value_parser!(u64).range(1..=24 * 365))]
    pub event_retention_hours: u64,
}

/// One configured receiver.
#[derive(Clone, Debug)]
pub struct WebhookEndpoint {
    pub url: String,
    pub secret: Secret,
}

impl NotifySettings {
    /// The configured endpoints, each with its secret.
    pub fn endpoints(&self) -> Result<Vec<WebhookEndpoint>, ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        let urls: Vec<&str> = self
            .webhook_urls
            .iter()
            .map(|url| url.trim())
            .filter(|url| !url.is_empty())
            .collect();
        if urls.is_empty() {
            return Ok(Vec::new());
        }
        let Some(secret) = &self.webhook_secret else {
            return invalid("UC_WEBHOOK_SECRET is required with UC_WEBHOOK_URL".into());
        };
        let secrets: Vec<&str> = secret.expose().split(',').map(str::trim).collect();
        if secrets.len() != 1 && secrets.len() != urls.len() {
            return invalid(format!(
                "UC_WEBHOOK_SECRET holds {} secrets for {} endpoints: give one, or one per endpoint",
                secrets.len(),
                urls.len()
            ));
        }
        let mut endpoints = Vec::with_capacity(urls.len());
        for (i, url) in urls.iter().enumerate() {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return invalid(format!(
                    "UC_WEBHOOK_URL must hold http:// or https:// URLs, got {:?}",
                    crate::webhooks::loggable_url(url)
                ));
            }
            if endpoints.iter().any(|e: &WebhookEndpoint| e.url == *url) {
                return invalid(format!(
                    "UC_WEBHOOK_URL names {:?} twice",
                    crate::webhooks::loggable_url(url)
                ));
            }
            let secret = secrets[if secrets.len() == 1 { 0 } else { i }];
            if let Err(why) = crate::webhooks::SigningKey::parse(secret) {
                return invalid(format!("UC_WEBHOOK_SECRET: {why}"));
            }
            endpoints.push(WebhookEndpoint {
                url: (*url).to_owned(),
                secret: Secret::new(secret),
            });
        }
        Ok(endpoints)
    }
}
