//! Where storage credentials come from: the settings when both keys are given, otherwise the
//! standard AWS chain (environment, profile, web identity, container or instance role). Never a
//! built-in key: development mode fills the settings in before they reach here.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::{Credentials, ProvideCredentials, Region, SharedCredentialsProvider};
use tokio::sync::Mutex;

use super::StorageError;
use crate::config::StorageSettings;

#[derive(Clone, Debug)]
pub struct StorageCredentials {
    provider: SharedCredentialsProvider,
    /// The last credentials resolved, for the POST policies we sign ourselves.
    current: Arc<Mutex<Option<Credentials>>>,
    /// Credentials are renewed this long before they expire: a policy signed with them must
    /// stay good for its whole lifetime.
    renew_before: Duration,
}

impl StorageCredentials {
    /// `longest_use`: how long a signature made with the credentials must stay valid.
    pub async fn from_settings(settings: &StorageSettings, longest_use: Duration) -> Self {
        let provider = if settings.access_key.is_empty() {
            let chain =
                aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                    .region(Region::new(settings.region.clone()))
                    .build()
                    .await;
            SharedCredentialsProvider::new(chain)
        } else {
            SharedCredentialsProvider::new(Credentials::new(
                settings.access_key.clone(),
                settings.secret_key.expose().to_owned(),
                None,
                None,
                "upload-coordinator settings",
            ))
        };
        Self {
            provider,
            current: Arc::default(),
            renew_before: longest_use + Duration::from_secs(60),
        }
    }

    /// These credentials and no others.
    #[cfg(test)]
    pub fn fixed(credentials: Credentials) -> Self {
        Self {
            provider: SharedCredentialsProvider::new(credentials),
            current: Arc::default(),
            renew_before: Duration::from_secs(60),
        }
    }

    /// For the SDK clients, which cache and renew on their own.
    pub fn provider(&self) -> SharedCredentialsProvider {
        self.provider.clone()
    }

    /// Credentials valid for a while yet.
    pub async fn current(&self) -> Result<Credentials, StorageError> {
        let mut current = self.current.lock().await;
        let fresh = |credentials: &Credentials| {
            credentials
                .expiry()
                .is_none_or(|expiry| expiry > SystemTime::now() + self.renew_before)
        };
        if let Some(credentials) = current.as_ref().filter(|c| fresh(c)) {
            return Ok(credentials.clone());
        }
        let resolved = self
            .provider
            .provide_credentials()
            .await
            .map_err(|err| StorageError::Request(format!("no storage credentials: {err}")))?;
        *current = Some(resolved.clone());
        Ok(resolved)
    }
}
