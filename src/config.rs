//! Typed settings, read from `UC_*` environment variables (or the matching flags), with defaults
//! that match the local stack started by `make run`.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;

/// A value that must never be printed: `Debug` and `Display` show a placeholder.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// Everything the service needs to run.
#[derive(Args, Clone, Debug)]
pub struct Settings {
    #[command(flatten)]
    pub http: HttpSettings,
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub storage: StorageSettings,
    #[command(flatten)]
    pub auth: AuthSettings,
    #[command(flatten)]
    pub policy: UploadPolicy,
    #[command(flatten)]
    pub broker: BrokerSettings,
    #[command(flatten)]
    pub events: EventSettings,
    #[command(flatten)]
    pub jobs: JobSettings,
    #[command(flatten)]
    pub sweeper: SweeperSettings,
    #[command(flatten)]
    pub web: WebSettings,
}

#[derive(Args, Clone, Debug)]
pub struct HttpSettings {
    /// Address the HTTP server binds to.
    #[arg(
        id = "listen",
        long = "listen",
        env = "UC_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,

    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(
        id = "shutdown-grace",
        long = "shutdown-grace",
        env = "UC_SHUTDOWN_GRACE_SECS",
        default_value_t = 20
    )]
    pub shutdown_grace_secs: u64,

    /// Log format: `text` for people, `json` for log collectors.
    #[arg(
        id = "log-format",
        long = "log-format",
        env = "UC_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Clone, Debug)]
pub struct DatabaseSettings {
    /// PostgreSQL connection URL.
    #[arg(
        id = "database-url",
        long = "database-url",
        env = "UC_DATABASE_URL",
        default_value = "postgres://postgres:postgres@127.0.0.1:5432/upload_coordinator",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub url: Secret,

    /// Maximum connections in the pool.
    #[arg(
        id = "database-pool-size",
        long = "database-pool-size",
        env = "UC_DATABASE_POOL_SIZE",
        default_value_t = 16
    )]
    pub pool_size: usize,
}

#[derive(Args, Clone, Debug)]
pub struct StorageSettings {
    /// S3 endpoint the service talks to.
    #[arg(
        id = "s3-endpoint",
        long = "s3-endpoint",
        env = "UC_S3_ENDPOINT",
        default_value = "http://127.0.0.1:8333"
    )]
    pub endpoint: String,

    /// S3 endpoint clients reach, used in presigned URLs (defaults to UC_S3_ENDPOINT).
    #[arg(
        id = "s3-public-endpoint",
        long = "s3-public-endpoint",
        env = "UC_S3_PUBLIC_ENDPOINT"
    )]
    pub public_endpoint: Option<String>,

    /// Bucket that receives uploads.
    #[arg(
        id = "s3-bucket",
        long = "s3-bucket",
        env = "UC_S3_BUCKET",
        default_value = "videos"
    )]
    pub bucket: String,

    /// Region used to sign requests.
    #[arg(
        id = "s3-region",
        long = "s3-region",
        env = "UC_S3_REGION",
        default_value = "us-east-1"
    )]
    pub region: String,

    /// Access key id.
    #[arg(
        id = "s3-access-key",
        long = "s3-access-key",
        env = "UC_S3_ACCESS_KEY",
        default_value = "uc-dev-access"
    )]
    pub access_key: String,

    /// Secret access key.
    #[arg(
        id = "s3-secret-key",
        long = "s3-secret-key",
        env = "UC_S3_SECRET_KEY",
        default_value = "uc-dev-secret",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub secret_key: Secret,

    /// Path-style addressing (`endpoint/bucket/key`), which MinIO and SeaweedFS need.
    #[arg(id = "s3-path-style", long = "s3-path-style", env = "UC_S3_PATH_STYLE", default_value_t = true, action = clap::ArgAction::Set)]
    pub path_style: bool,
}

impl StorageSettings {
    pub fn public_endpoint(&self) -> &str {
        self.public_endpoint.as_deref().unwrap_or(&self.endpoint)
    }
}

#[derive(Args, Clone, Debug)]
pub struct AuthSettings {
    /// Signature algorithm of accepted tokens: HS256, RS256 or ES256.
    #[arg(
        id = "jwt-algorithm",
        long = "jwt-algorithm",
        env = "UC_JWT_ALGORITHM",
        default_value = "HS256"
    )]
    pub algorithm: JwtAlgorithm,

    /// Shared secret for HS256 tokens (the platform's auth service signs with it).
    #[arg(
        id = "jwt-secret",
        long = "jwt-secret",
        env = "UC_JWT_SECRET",
        default_value = "dev-jwt-secret",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub secret: Secret,

    /// PEM public key for RS256/ES256 tokens (the key itself).
    #[arg(
        id = "jwt-public-key",
        long = "jwt-public-key",
        env = "UC_JWT_PUBLIC_KEY",
        hide_env_values = true
    )]
    pub public_key: Option<String>,

    /// File holding the PEM public key for RS256/ES256 tokens.
    #[arg(
        id = "jwt-public-key-file",
        long = "jwt-public-key-file",
        env = "UC_JWT_PUBLIC_KEY_FILE"
    )]
    pub public_key_file: Option<std::path::PathBuf>,

    /// Required `iss` claim, if set.
    #[arg(id = "jwt-issuer", long = "jwt-issuer", env = "UC_JWT_ISSUER")]
    pub issuer: Option<String>,

    /// Required `aud` claim, if set.
    #[arg(id = "jwt-audience", long = "jwt-audience", env = "UC_JWT_AUDIENCE")]
    pub audience: Option<String>,

    /// Claim naming the owner of an upload.
    #[arg(
        id = "jwt-owner-claim",
        long = "jwt-owner-claim",
        env = "UC_JWT_OWNER_CLAIM",
        default_value = "sub"
    )]
    pub owner_claim: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum JwtAlgorithm {
    Hs256,
    Rs256,
    Es256,
}

/// What uploads the service accepts and how it plans them.
#[derive(Args, Clone, Debug)]
pub struct UploadPolicy {
    /// Largest accepted upload, in bytes (default 5 GiB).
    #[arg(id = "max-upload-size", long = "max-upload-size", env = "UC_MAX_UPLOAD_SIZE", default_value_t = 5 * 1024 * 1024 * 1024)]
    pub max_upload_size: u64,

    /// Comma-separated content types accepted; `type/*` matches a whole family.
    #[arg(
        id = "allowed-content-types",
        long = "allowed-content-types",
        env = "UC_ALLOWED_CONTENT_TYPES",
        default_value = "video/*",
        value_delimiter = ','
    )]
    pub allowed_content_types: Vec<String>,

    /// Uploads up to this size use one presigned PUT; larger ones use multipart.
    #[arg(id = "multipart-threshold", long = "multipart-threshold", env = "UC_MULTIPART_THRESHOLD", default_value_t = 8 * 1024 * 1024)]
    pub multipart_threshold: u64,

    /// Target part size for multipart uploads (raised when a file would need over 10,000 parts).
    #[arg(id = "part-size", long = "part-size", env = "UC_PART_SIZE", default_value_t = 8 * 1024 * 1024)]
    pub part_size: u64,

    /// How many part URLs the create call returns at most; the rest come from `/parts`.
    #[arg(
        id = "presign-batch",
        long = "presign-batch",
        env = "UC_PRESIGN_BATCH",
        default_value_t = 100
    )]
    pub presign_batch: u32,

    /// Lifetime of presigned URLs, in seconds.
    #[arg(
        id = "presign-ttl",
        long = "presign-ttl",
        env = "UC_PRESIGN_TTL_SECS",
        default_value_t = 900
    )]
    pub presign_ttl_secs: u64,

    /// How long an intent may stay pending before it expires, in seconds.
    #[arg(id = "upload-ttl", long = "upload-ttl", env = "UC_UPLOAD_TTL_SECS", default_value_t = 24 * 3600)]
    pub upload_ttl_secs: u64,

    /// Prefix of the object keys the server generates.
    #[arg(
        id = "key-prefix",
        long = "key-prefix",
        env = "UC_KEY_PREFIX",
        default_value = "uploads"
    )]
    pub key_prefix: String,
}

impl UploadPolicy {
    pub fn presign_ttl(&self) -> Duration {
        Duration::from_secs(self.presign_ttl_secs)
    }

    pub fn upload_ttl(&self) -> Duration {
        Duration::from_secs(self.upload_ttl_secs)
    }
}

#[derive(Args, Clone, Debug)]
pub struct BrokerSettings {
    /// RabbitMQ URL: storage events come in and processing jobs go out here.
    #[arg(
        id = "amqp-url",
        long = "amqp-url",
        env = "UC_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub url: Secret,
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

    /// Bearer token storage must send to `POST /api/storage-events` (empty disables the webhook).
    #[arg(
        id = "events-webhook-token",
        long = "events-webhook-token",
        env = "UC_EVENTS_WEBHOOK_TOKEN",
        default_value = "dev-webhook-token",
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

    /// Queue where workers report results (`{"upload_id", "status": "processed"|"failed", ...}`);
    /// empty disables it.
    #[arg(
        id = "results-queue",
        long = "results-queue",
        env = "UC_RESULTS_QUEUE",
        default_value = "video_results"
    )]
    pub results_queue: String,

    /// Bearer token for `POST /api/internal/uploads/{id}/result` (empty disables the endpoint).
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

    /// Seconds between sweeps.
    #[arg(
        id = "sweep-interval",
        long = "sweep-interval",
        env = "UC_SWEEP_INTERVAL_SECS",
        default_value_t = 30
    )]
    pub interval_secs: u64,

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

/// Browser clients: the demo page, Uppy's Companion-style endpoints, CORS.
#[derive(Args, Clone, Debug)]
pub struct WebSettings {
    /// Serve the demo page at `/` and hand out dev tokens at `/api/dev/token` (local use only).
    #[arg(id = "demo-page", long = "demo-page", env = "UC_DEMO_PAGE", default_value_t = false, action = clap::ArgAction::Set)]
    pub demo_page: bool,

    /// Directory of the built demo page.
    #[arg(
        id = "web-dir",
        long = "web-dir",
        env = "UC_WEB_DIR",
        default_value = "web/dist"
    )]
    pub web_dir: std::path::PathBuf,

    /// Base URL clients reach the service at, for the Companion endpoints we hand out
    /// (defaults to the request's Host).
    #[arg(id = "public-url", long = "public-url", env = "UC_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Comma-separated origins allowed to call the API from browsers (`*` for any).
    #[arg(
        id = "cors-origins",
        long = "cors-origins",
        env = "UC_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,

    /// Part size for Uppy's multipart uploads; must equal the client's chunk size (Uppy's
    /// default is 5 MiB, or size/10,000 for huge files).
    #[arg(id = "uppy-part-size", long = "uppy-part-size", env = "UC_UPPY_PART_SIZE", default_value_t = 5 * 1024 * 1024)]
    pub uppy_part_size: u64,

    /// Lifetime of an Uppy upload session, in seconds.
    #[arg(
        id = "uppy-session-ttl",
        long = "uppy-session-ttl",
        env = "UC_UPPY_SESSION_TTL_SECS",
        default_value_t = 3600
    )]
    pub uppy_session_ttl_secs: u64,

    /// Key that signs Uppy session tokens (derived from UC_JWT_SECRET when unset with HS256;
    /// required with RS256/ES256). Replicas must share it.
    #[arg(
        id = "session-secret",
        long = "session-secret",
        env = "UC_SESSION_SECRET",
        hide_env_values = true
    )]
    pub session_secret: Option<Secret>,
}

/// Settings problems found before anything starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    /// Checks relations between settings that clap cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        let policy = &self.policy;
        if policy.part_size < crate::domain::MIN_PART_SIZE {
            return invalid(format!(
                "UC_PART_SIZE must be at least {} bytes (S3's minimum part size)",
                crate::domain::MIN_PART_SIZE
            ));
        }
        if policy.max_upload_size > crate::domain::MAX_OBJECT_SIZE {
            return invalid(format!(
                "UC_MAX_UPLOAD_SIZE must be at most {} bytes (S3's largest object)",
                crate::domain::MAX_OBJECT_SIZE
            ));
        }
        if policy.multipart_threshold > crate::domain::MAX_SINGLE_PUT_SIZE {
            return invalid("UC_MULTIPART_THRESHOLD must be at most 5 GiB".into());
        }
        if policy.presign_batch == 0 {
            return invalid("UC_PRESIGN_BATCH must be at least 1".into());
        }
        if !(1..=7 * 24 * 3600).contains(&policy.presign_ttl_secs) {
            return invalid("UC_PRESIGN_TTL_SECS must be between 1 and 604800 (7 days)".into());
        }
        if policy.upload_ttl_secs == 0 {
            return invalid("UC_UPLOAD_TTL_SECS must be positive".into());
        }
        if policy
            .allowed_content_types
            .iter()
            .all(|t| t.trim().is_empty())
        {
            return invalid("UC_ALLOWED_CONTENT_TYPES must name at least one type".into());
        }
        if self.sweeper.interval_secs == 0
            || self.sweeper.reconcile_rate == 0
            || self.sweeper.batch < 1
        {
            return invalid(
                "UC_SWEEP_INTERVAL_SECS, UC_RECONCILE_RATE and UC_SWEEP_BATCH must be positive"
                    .into(),
            );
        }
        if self.web.uppy_part_size < crate::domain::MIN_PART_SIZE {
            return invalid("UC_UPPY_PART_SIZE must be at least 5 MiB".into());
        }
        if self.web.uppy_session_ttl_secs == 0 {
            return invalid("UC_UPPY_SESSION_TTL_SECS must be positive".into());
        }
        if self.auth.algorithm != JwtAlgorithm::Hs256 && self.web.session_secret.is_none() {
            return invalid("UC_SESSION_SECRET is required with RS256/ES256 tokens".into());
        }
        if self.jobs.poll_secs == 0 {
            return invalid("UC_OUTBOX_POLL_SECS must be positive".into());
        }
        if self.events.prefetch == 0 {
            return invalid("UC_EVENTS_PREFETCH must be at least 1".into());
        }
        if self.database.pool_size == 0 {
            return invalid("UC_DATABASE_POOL_SIZE must be at least 1".into());
        }
        for (name, endpoint) in [
            ("UC_S3_ENDPOINT", self.storage.endpoint.as_str()),
            ("UC_S3_PUBLIC_ENDPOINT", self.storage.public_endpoint()),
        ] {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return invalid(format!(
                    "{name} must be an http:// or https:// URL, got {endpoint:?}"
                ));
            }
        }
        if self.auth.algorithm == JwtAlgorithm::Hs256 && self.auth.secret.expose().is_empty() {
            return invalid("UC_JWT_SECRET must not be empty".into());
        }
        if self.auth.algorithm != JwtAlgorithm::Hs256
            && self.auth.public_key.is_none()
            && self.auth.public_key_file.is_none()
        {
            return invalid(
                "UC_JWT_PUBLIC_KEY or UC_JWT_PUBLIC_KEY_FILE is required for RS256/ES256".into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_output() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(secret.expose(), "hunter2");
    }
}

/// Parses settings from flags alone (the environment still fills what the flags leave out),
/// for tests and embedding.
#[derive(clap::Parser)]
struct SettingsOnly {
    #[command(flatten)]
    settings: Settings,
}

impl Settings {
    pub fn from_flags<I, T>(flags: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::Parser;
        let args = std::iter::once(std::ffi::OsString::from("upload-coordinator"))
            .chain(flags.into_iter().map(Into::into));
        SettingsOnly::try_parse_from(args).map(|only| only.settings)
    }
}
