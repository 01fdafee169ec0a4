//! Typed settings, read from `UC_*` environment variables (or the matching flags), with defaults
//! that match the local stack started by `make run`.

mod auth;
mod database;
mod dev_mode;
mod http;
mod jobs;
mod messaging;
mod policy;
mod quotas;
mod storage;
mod sweepers;
mod webhooks;

pub use auth::{AuthSettings, JwtAlgorithm};
pub use database::DatabaseSettings;
pub use dev_mode::{MIN_SECRET_BYTES, defaults as dev_defaults};
pub use http::{HttpSettings, LogFormat, WebSettings};
pub use jobs::{JobFormat, JobSettings};
pub use messaging::{BrokerSettings, EventSettings, ExchangeKind};
pub use policy::UploadPolicy;
pub use quotas::OwnerQuotas;
pub use storage::{Enforcement, StorageSettings};
pub use sweepers::SweeperSettings;
pub use webhooks::{NotifySettings, WebhookEndpoint};

use std::fmt;
use std::str::FromStr;

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
    #[command(flatten)]
    pub notify: NotifySettings,
}

/// Settings problems found before anything starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    /// Checks what clap cannot: relations between settings, lists, URLs. (Ranges of single
    /// values are checked as they are parsed.)
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        self.notify.endpoints()?;
        let policy = &self.policy;
        if policy
            .allowed_content_types
            .iter()
            .all(|t| t.trim().is_empty())
        {
            return invalid("UC_ALLOWED_CONTENT_TYPES must name at least one type".into());
        }
        if self.auth.algorithm != JwtAlgorithm::Hs256 && self.web.session_secret.is_none() {
            return invalid("UC_SESSION_SECRET is required with RS256/ES256 tokens".into());
        }
        if self.http.body_memory_bytes < self.http.max_body_bytes {
            return invalid("UC_BODY_MEMORY_BYTES must be at least UC_MAX_BODY_BYTES".into());
        }
        if self
            .web
            .session_secret
            .as_ref()
            .is_some_and(|secret| secret.expose().is_empty())
        {
            return invalid("UC_SESSION_SECRET is set but empty".into());
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
    fn out_of_range_values_are_refused_as_they_are_parsed() {
        for flag in [
            "--part-size=1",
            "--presign-ttl=0",
            "--presign-ttl=604801",
            "--sweep-batch=0",
            "--events-prefetch=0",
            "--database-pool-size=0",
            "--uppy-part-size=1024",
        ] {
            let refused = Settings::from_flags([flag]);
            assert!(refused.is_err(), "{flag} accepted");
        }
        assert!(Settings::from_flags(["--part-size=5242880"]).is_ok());
    }

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
