//! The processing job published for every confirmed upload, how it is retried, and where
//! results come back.

use clap::Args;

use super::Secret;

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
        default_value_t = 2,
        value_parser = clap::value_parser!(u64).range(1..=3600)
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
