//! RabbitMQ: storage events in, processing jobs out, results back; and the sweepers.

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
        default_value_t = 32
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

/// The processing job published for every confirmed upload.
#[derive(Args, Clone, Debug)]
pub struct JobSettings {
    /// Message format: `celery` (protocol 2, for the platform's worker) or `json`.
    #[arg(
        id = "job-format",
        long = "job-format",
        env = "UC_JOB_FORMAT",
        default_value = "celery"
    )]
    pub format: JobFormat,

    /// Celery task name.
    #[arg(
        id = "job-task",
        long = "job-task",
        env = "UC_JOB_TASK",
        default_value = "tasks.process_video.run"
    )]
    pub task: String,

    /// Exchange jobs are published to (durable, direct).
    #[arg(
        id = "job-exchange",
        long = "job-exchange",
        env = "UC_JOB_EXCHANGE",
        default_value = "video"
    )]
    pub exchange: String,

    /// Routing key of published jobs.
    #[arg(
        id = "job-routing-key",
        long = "job-routing-key",
        env = "UC_JOB_ROUTING_KEY",
        default_value = "video"
    )]
    pub routing_key: String,

    /// Queue the worker consumes, declared and bound at startup.
    #[arg(
        id = "job-queue",
        long = "job-queue",
        env = "UC_JOB_QUEUE",
        default_value = "video_tasks"
    )]
    pub queue: String,

    /// Dead-letter exchange of the job queue.
    #[arg(
        id = "job-dead-letter-exchange",
        long = "job-dead-letter-exchange",
        env = "UC_JOB_DEAD_LETTER_EXCHANGE",
        default_value = "video-dlx"
    )]
    pub dead_letter_exchange: String,

    /// Queue that keeps dead-lettered jobs.
    #[arg(
        id = "job-dead-letter-queue",
        long = "job-dead-letter-queue",
        env = "UC_JOB_DEAD_LETTER_QUEUE",
        default_value = "video.dlq"
    )]
    pub dead_letter_queue: String,

    /// Declare the exchanges and queues above at startup (turn off where the worker owns them).
    #[arg(id = "job-declare-topology", long = "job-declare-topology", env = "UC_JOB_DECLARE_TOPOLOGY", default_value_t = true, action = clap::ArgAction::Set)]
    pub declare_topology: bool,

    /// What the job's input path holds; `{bucket}`, `{key}` and `{id}` are replaced.
    #[arg(
        id = "job-input-path",
        long = "job-input-path",
        env = "UC_JOB_INPUT_PATH",
        default_value = "s3://{bucket}/{key}"
    )]
    pub input_path: String,

    /// Run the outbox relay that publishes jobs (every replica may; they share the work).
    #[arg(id = "outbox-relay", long = "outbox-relay", env = "UC_OUTBOX_RELAY", default_value_t = true, action = clap::ArgAction::Set)]
    pub relay: bool,

    /// Seconds between outbox polls when no commit wakes the relay.
    #[arg(
        id = "outbox-poll",
        long = "outbox-poll",
        env = "UC_OUTBOX_POLL_SECS",
        default_value_t = 2
    )]
    pub poll_secs: u64,

    /// Publish attempts of a job before it is parked (`upload-coordinator jobs replay` sends
    /// parked jobs again).
    #[arg(id = "job-max-attempts", long = "job-max-attempts", env = "UC_JOB_MAX_ATTEMPTS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_attempts: u32,

    /// Milliseconds a job waits after its first failed publish; the wait doubles with each
    /// failure (with jitter) up to UC_JOB_RETRY_MAX_SECS.
    #[arg(id = "job-retry-base", long = "job-retry-base", env = "UC_JOB_RETRY_BASE_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub retry_base_ms: u64,

    /// Longest wait between two publish attempts of a job, in seconds.
    #[arg(id = "job-retry-max", long = "job-retry-max", env = "UC_JOB_RETRY_MAX_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub retry_max_secs: u64,

    /// Seconds the relay waits for the broker's confirms of a batch (no database lock or
    /// transaction is held meanwhile); past it the batch counts as failed.
    #[arg(id = "job-confirm-timeout", long = "job-confirm-timeout", env = "UC_JOB_CONFIRM_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub confirm_timeout_secs: u64,

    /// Queue where workers report results (`{"upload_id", "status": "processed"|"failed", ...}`);
    /// empty disables it.
    #[arg(
        id = "results-queue",
        long = "results-queue",
        env = "UC_RESULTS_QUEUE",
        default_value = "video_results"
    )]
    pub results_queue: String,

    /// Bearer token for `POST /api/internal/uploads/{id}/result`, at least 32 bytes (unset
    /// disables the endpoint).
    #[arg(
        id = "internal-token",
        long = "internal-token",
        env = "UC_INTERNAL_TOKEN",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub internal_token: Secret,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum JobFormat {
    Celery,
    Json,
}

/// The reconciler (confirms pending uploads whose object exists although no event came) and
/// the reaper (expires abandoned intents).
#[derive(Args, Clone, Debug)]
pub struct SweeperSettings {
    /// Run the sweepers (every replica may; they share the work).
    #[arg(id = "sweepers", long = "sweepers", env = "UC_SWEEPERS", default_value_t = true, action = clap::ArgAction::Set)]
    pub enabled: bool,

    /// Seconds between sweeps. Storage left by an aborted, expired or rejected upload (a PUT
    /// through a URL still valid, say) is removed at the next sweep.
    #[arg(
        id = "sweep-interval",
        long = "sweep-interval",
        env = "UC_SWEEP_INTERVAL_SECS",
        default_value_t = 30
    )]
    pub interval_secs: u64,

    /// Multipart uploads under UC_KEY_PREFIX that no intent knows (a crash between creating one
    /// and recording it) are aborted once this many seconds old.
    #[arg(id = "orphan-after", long = "orphan-after", env = "UC_ORPHAN_AFTER_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=30 * 86_400))]
    pub orphan_after_secs: u64,

    /// A pending upload is checked in storage once it is this many seconds old, and again
    /// every interval after that.
    #[arg(
        id = "reconcile-after",
        long = "reconcile-after",
        env = "UC_RECONCILE_AFTER_SECS",
        default_value_t = 60
    )]
    pub reconcile_after_secs: u64,

    /// At most this many storage checks per second.
    #[arg(
        id = "reconcile-rate",
        long = "reconcile-rate",
        env = "UC_RECONCILE_RATE",
        default_value_t = 20
    )]
    pub reconcile_rate: u32,

    /// Uploads handled per sweep.
    #[arg(
        id = "sweep-batch",
        long = "sweep-batch",
        env = "UC_SWEEP_BATCH",
        default_value_t = 100
    )]
    pub batch: i64,
}
