//! How the service serves HTTP, and what it offers browsers.

use std::net::SocketAddr;

use clap::Args;

use super::Secret;

#[derive(Args, Clone, Debug)]
pub struct HttpSettings {
    /// Development mode: fills in the local stack's well-known secrets and URLs, allows the
    /// demo page and its dev tokens, and refuses to listen beyond loopback. `make run` and
    /// `make test` switch it on; never in production.
    #[arg(id = "dev-mode", long = "dev-mode", env = "UC_DEV_MODE", default_value_t = false, action = clap::ArgAction::Set)]
    pub dev_mode: bool,

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

    /// Largest request body read, in bytes; a longer one gets 413 (HTTP/1 and HTTP/2, with a
    /// length or without).
    #[arg(id = "max-body-bytes", long = "max-body-bytes", env = "UC_MAX_BODY_BYTES", default_value_t = 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..=64 * 1024 * 1024))]
    pub max_body_bytes: u64,

    /// Bytes all request bodies being received at once may hold together; past it, 503.
    #[arg(id = "body-memory", long = "body-memory", env = "UC_BODY_MEMORY_BYTES", default_value_t = 64 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1024..=16 * 1024 * 1024 * 1024))]
    pub body_memory_bytes: u64,

    /// Seconds a client gets to send a request's headers (and, on a kept-alive HTTP/1
    /// connection, to start the next request).
    #[arg(id = "header-read-timeout", long = "header-read-timeout", env = "UC_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout_secs: u64,

    /// Seconds a client gets to send a request's body; after that it gets 408.
    #[arg(id = "body-read-timeout", long = "body-read-timeout", env = "UC_BODY_READ_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_read_timeout_secs: u64,

    /// Seconds a connection may stay silent (nothing read, nothing written) before it is
    /// closed; requests in flight are let finish.
    #[arg(id = "idle-timeout", long = "idle-timeout", env = "UC_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub idle_timeout_secs: u64,

    /// Open connections at most; further ones wait in the listen backlog.
    #[arg(id = "max-connections", long = "max-connections", env = "UC_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// HTTP/2 streams a connection may have open at once.
    #[arg(id = "http2-max-streams", long = "http2-max-streams", env = "UC_HTTP2_MAX_STREAMS", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub http2_max_streams: u32,

    /// Serve `/metrics` on this address of its own instead of the API's (keep it private).
    #[arg(
        id = "metrics-listen",
        long = "metrics-listen",
        env = "UC_METRICS_LISTEN"
    )]
    pub metrics_listen: Option<SocketAddr>,

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

/// Browser clients: the demo page, Uppy's Companion-style endpoints, CORS.
#[derive(Args, Clone, Debug)]
pub struct WebSettings {
    /// Serve the demo page at `/`; with UC_DEV_MODE also dev tokens at `/api/dev/token`.
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
    /// (defaults to the request's Host). An https URL makes the session cookie `Secure`.
    #[arg(id = "public-url", long = "public-url", env = "UC_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Believe `X-Forwarded-Host` and `X-Forwarded-Proto` (only behind a proxy that sets them).
    #[arg(id = "trust-forwarded-headers", long = "trust-forwarded-headers", env = "UC_TRUST_FORWARDED_HEADERS", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_forwarded_headers: bool,

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
    #[arg(id = "uppy-part-size", long = "uppy-part-size", env = "UC_UPPY_PART_SIZE", default_value_t = 5 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(5 * 1024 * 1024..=5 * 1024 * 1024 * 1024))]
    pub uppy_part_size: u64,

    /// Lifetime of an Uppy upload session, in seconds.
    #[arg(
        id = "uppy-session-ttl",
        long = "uppy-session-ttl",
        env = "UC_UPPY_SESSION_TTL_SECS",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(1..=7 * 24 * 3600)
    )]
    pub uppy_session_ttl_secs: u64,

    /// Active Uppy sessions one owner may have at once; past it, minting answers 429.
    #[arg(id = "max-sessions-per-owner", long = "max-sessions-per-owner", env = "UC_MAX_SESSIONS_PER_OWNER", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_sessions_per_owner: u32,

    /// Key that signs Uppy session tokens, at least 32 bytes (derived from UC_JWT_SECRET when
    /// unset with HS256; required with RS256/ES256). Replicas must share it.
    #[arg(
        id = "session-secret",
        long = "session-secret",
        env = "UC_SESSION_SECRET",
        hide_env_values = true
    )]
    pub session_secret: Option<Secret>,
}
