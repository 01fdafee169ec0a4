//! Where storage credentials come from: the settings when both keys are given, otherwise the
//! standard AWS chain (environment, profile, web identity, container or instance role). Never a
//! built-in key: development mode fills the settings in before they reach here.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_s3::config::{Credentials, ProvideCredentials, Region, SharedCredentialsProvider};

use super::StorageError;
use crate::config::StorageSettings;

/// How often credentials that are not fresh enough are asked for again: a provider that keeps
/// handing back the same ones (a role session shorter than a URL's lifetime, an instance
/// endpoint still serving the old pair) must not be asked once per URL.
const RETRY_STALE: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct StorageCredentials {
    provider: SharedCredentialsProvider,
    /// The last credentials resolved, for what we sign ourselves (URLs, POST policies): read
    /// without waiting; renewed by one caller at a time.
    cached: Arc<Mutex<Option<Resolved>>>,
    renewing: Arc<tokio::sync::Mutex<()>>,
    /// Credentials are renewed this long before they expire: a URL or policy signed with them
    /// should stay good for its whole lifetime.
    renew_before: Duration,
}

#[derive(Clone, Debug)]
struct Resolved {
    credentials: Credentials,
    at: Instant,
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
        Self::with_provider(provider, longest_use + Duration::from_secs(60))
    }

    /// Credentials from `provider` alone.
    #[cfg(test)]
    pub fn fixed(provider: impl ProvideCredentials + 'static) -> Self {
        Self::with_provider(
            SharedCredentialsProvider::new(provider),
            Duration::from_secs(60),
        )
    }

    fn with_provider(provider: SharedCredentialsProvider, renew_before: Duration) -> Self {
        Self {
            provider,
            cached: Arc::default(),
            renewing: Arc::default(),
            renew_before,
        }
    }

    /// For the SDK clients, which cache and renew on their own.
    pub fn provider(&self) -> SharedCredentialsProvider {
        self.provider.clone()
    }

    /// Credentials valid for a while yet: the cached ones while they stay good for
    /// `renew_before`, else new ones. Should renewing fail, or bring nothing fresher, the
    /// cached ones serve until they expire.
    pub async fn current(&self) -> Result<Credentials, StorageError> {
        if let Some(credentials) = self.usable(false) {
            return Ok(credentials);
        }
        let _one_at_a_time = self.renewing.lock().await;
        // Renewed by another caller meanwhile?
        if let Some(credentials) = self.usable(false) {
            return Ok(credentials);
        }
        match self.provider.provide_credentials().await {
            Ok(resolved) => {
                *self.lock() = Some(Resolved {
                    credentials: resolved.clone(),
                    at: Instant::now(),
                });
                Ok(resolved)
            }
            Err(err) => self
                .usable(true)
                .ok_or_else(|| StorageError::Request(format!("no storage credentials: {err}"))),
        }
    }

    /// The cached credentials if fresh, or if resolved lately (they are the provider's
    /// freshest), or if `until_expiry` and not expired yet.
    fn usable(&self, until_expiry: bool) -> Option<Credentials> {
        let cached = self.lock().clone()?;
        let now = SystemTime::now();
        let expiry = cached.credentials.expiry();
        let fresh = expiry.is_none_or(|expiry| expiry > now + self.renew_before);
        let alive = expiry.is_none_or(|expiry| expiry > now);
        let lately = cached.at.elapsed() < RETRY_STALE;
        (fresh || (alive && (lately || until_expiry))).then_some(cached.credentials)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Resolved>> {
        self.cached.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use aws_credential_types::provider::error::CredentialsError;
    use aws_credential_types::provider::future::ProvideCredentials as ProvideFuture;

    use super::*;

    /// Hands out credentials expiring in `lasts` (or fails once `failing`), counting asks.
    #[derive(Debug, Default)]
    struct Counted {
        asked: AtomicU32,
        lasts: Option<Duration>,
        failing: std::sync::atomic::AtomicBool,
    }

    /// The provider handed over; the test keeps its own handle on the counter.
    #[derive(Debug)]
    struct Shared(Arc<Counted>);

    impl ProvideCredentials for Shared {
        fn provide_credentials<'a>(&'a self) -> ProvideFuture<'a>
        where
            Self: 'a,
        {
            let n = self.0.asked.fetch_add(1, Ordering::SeqCst);
            if self.0.failing.load(Ordering::SeqCst) {
                return ProvideFuture::ready(Err(CredentialsError::not_loaded("down")));
            }
            let expiry = self.0.lasts.map(|lasts| SystemTime::now() + lasts);
            ProvideFuture::ready(Ok(Credentials::new(
                format!("AK{n}"),
                "SK",
                None,
                expiry,
                "test",
            )))
        }
    }

    #[tokio::test]
    async fn credentials_good_for_long_enough_are_resolved_once() {
        let provider = Arc::new(Counted::default());
        let credentials = StorageCredentials::fixed(Shared(provider.clone()));
        for _ in 0..100 {
            credentials.current().await.unwrap();
        }
        assert_eq!(provider.asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn credentials_shorter_than_a_url_are_not_asked_for_on_every_url() {
        // Expiring in 10 s, while URLs need 60 s more: not fresh, and still the freshest.
        let provider = Arc::new(Counted {
            lasts: Some(Duration::from_secs(10)),
            ..Counted::default()
        });
        let credentials = StorageCredentials::fixed(Shared(provider.clone()));
        for _ in 0..100 {
            credentials.current().await.unwrap();
        }
        assert_eq!(provider.asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_renewal_falls_back_to_credentials_not_expired_yet() {
        let provider = Arc::new(Counted {
            lasts: Some(Duration::from_secs(10)),
            ..Counted::default()
        });
        let credentials = StorageCredentials::fixed(Shared(provider.clone()));
        let first = credentials.current().await.unwrap();
        // Pretend they were resolved long ago, so the next call renews, and renewing fails.
        credentials.lock().as_mut().unwrap().at = Instant::now() - RETRY_STALE;
        provider.failing.store(true, Ordering::SeqCst);
        let again = credentials.current().await.unwrap();
        assert_eq!(again.access_key_id(), first.access_key_id());
        assert_eq!(provider.asked.load(Ordering::SeqCst), 2);
    }
}
