//! How the service serves HTTP, and what it offers browsers.

use std::net::SocketAddr;

use clap::Args;

use super::Secret;

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
