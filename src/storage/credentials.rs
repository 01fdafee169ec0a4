//! Where storage credentials come from: the settings when both keys are given, otherwise the
//! standard AWS chain (environment, profile, web identity, container or instance role). Never a
//! built-in key: development mode fills the settings in before they reach here.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::future::ProvideCredentials as ProvideFuture;
use aws_sdk_s3::config::{Credentials, ProvideCredentials, Region, SharedCredentialsProvider};
use aws_sdk_s3::error::DisplayErrorContext;

use super::StorageError;
use crate::config::StorageSettings;

/// How often the provider is asked again when it has nothing fresh enough, or failed: a
/// provider that keeps handing back the same credentials (a role session shorter than a URL's
/// lifetime, an instance endpoint still serving the old pair) or is down must not be asked once
/// per URL.
const RETRY_STALE: Duration = Duration::from_secs(30);

/// Credentials closer than this to their expiry sign nothing.
const MIN_LEFT: Duration = Duration::from_secs(60);

/// How long the provider (an instance or container endpoint, STS) may take to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct StorageCredentials {
    provider: SharedCredentialsProvider,
    /// What the provider last said, for what we sign ourselves (URLs, POST policies): read
    /// without waiting; renewed by one caller at a time.
    state: Arc<Mutex<Asked>>,
    renewing: Arc<tokio::sync::Mutex<()>>,
    /// Credentials are renewed this long before they expire: a URL or policy signed with them
    /// should stay good for its whole lifetime.
    renew_before: Duration,
}

#[derive(Debug, Default)]
struct Asked {
    credentials: Option<Credentials>,
    at: Option<Instant>,
    /// Why the last ask failed, if it did.
    error: Option<String>,
}

/// How long something signed at `at` for `ttl` can live: no longer than its credentials.
pub fn lifetime(credentials: &Credentials, at: SystemTime, ttl: Duration) -> Duration {
    match credentials.expiry() {
        Some(expiry) => {
            let left = expiry.duration_since(at).unwrap_or_default();
            ttl.min(Duration::from_secs(left.as_secs()))
        }
        None => ttl,
    }
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
            Duration::from_secs(120),
        )
    }

    fn with_provider(provider: SharedCredentialsProvider, renew_before: Duration) -> Self {
        Self {
            provider,
            state: Arc::default(),
            renewing: Arc::default(),
            renew_before,
        }
    }

    /// For the SDK clients, to be given with no identity cache of their own: they then sign
    /// with the credentials [`Self::current`] hands out, the same ones every lifetime we
    /// report is measured against.
    pub fn for_the_sdk(&self) -> SharedCredentialsProvider {
        SharedCredentialsProvider::new(self.clone())
    }

    /// Credentials valid for a while yet: the held ones while they stay good for
    /// `renew_before`, else new ones. While a renewal runs, or for `RETRY_STALE` after one
    /// brought nothing fresher or failed, the held ones serve as long as they have a minute
    /// left.
    pub async fn current(&self) -> Result<Credentials, StorageError> {
        if let Some(answer) = self.without_asking(false) {
            return answer;
        }
        let _renewing = match self.renewing.try_lock() {
            Ok(renewing) => renewing,
            Err(_) => {
                if let Some(alive) = self.lasting(MIN_LEFT) {
                    return Ok(alive);
                }
                self.renewing.lock().await
            }
        };
        // Asked by another caller while this one waited?
        if let Some(answer) = self.without_asking(false) {
            return answer;
        }
        let answer = tokio::time::timeout(ASK_TIMEOUT, self.provider.provide_credentials()).await;
        {
            let mut state = self.lock();
            state.at = Some(Instant::now());
            match answer {
                Ok(Ok(credentials)) => {
                    state.credentials = Some(credentials);
                    state.error = None;
                }
                Ok(Err(err)) => state.error = Some(DisplayErrorContext(&err).to_string()),
                Err(_) => {
                    state.error = Some(format!(
                        "the credentials provider did not answer within {} s",
                        ASK_TIMEOUT.as_secs()
                    ))
                }
            }
        }
        self.without_asking(true)
            .expect("an answer right after asking")
    }

    /// The answer without asking the provider, if there is one: fresh credentials, or (asked
    /// lately, or `asked_now`) the held ones with a minute left, or why there are none.
    fn without_asking(&self, asked_now: bool) -> Option<Result<Credentials, StorageError>> {
        if let Some(fresh) = self.lasting(self.renew_before) {
            return Some(Ok(fresh));
        }
        let state = self.lock();
        let lately = asked_now || state.at.is_some_and(|at| at.elapsed() < RETRY_STALE);
        if !lately {
            return None;
        }
        let why = state
            .error
            .clone()
            .unwrap_or_else(|| "the provider's credentials expire within a minute".to_owned());
        drop(state);
        Some(
            self.lasting(MIN_LEFT)
                .ok_or_else(|| StorageError::Request(format!("no storage credentials: {why}"))),
        )
    }

    /// The held credentials if they last longer than `margin` from now.
    fn lasting(&self, margin: Duration) -> Option<Credentials> {
        let now = SystemTime::now();
        self.lock()
            .credentials
            .clone()
            .filter(|c| c.expiry().is_none_or(|expiry| expiry > now + margin))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Asked> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ProvideCredentials for StorageCredentials {
    fn provide_credentials<'a>(&'a self) -> ProvideFuture<'a>
    where
        Self: 'a,
    {
        ProvideFuture::new(async move {
            self.current()
                .await
                .map_err(|err| CredentialsError::provider_error(err.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

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
        // Expiring in 90 s, while URLs need 120 s: not fresh, and still the freshest.
        let provider = Arc::new(Counted {
            lasts: Some(Duration::from_secs(90)),
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
            lasts: Some(Duration::from_secs(90)),
            ..Counted::default()
        });
        let credentials = StorageCredentials::fixed(Shared(provider.clone()));
        let first = credentials.current().await.unwrap();
        // Pretend they were asked for long ago, so the next call renews, and renewing fails.
        credentials.lock().at = Instant::now().checked_sub(RETRY_STALE);
        provider.failing.store(true, Ordering::SeqCst);
        let again = credentials.current().await.unwrap();
        assert_eq!(again.access_key_id(), first.access_key_id());
        assert_eq!(provider.asked.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failing_provider_is_not_asked_on_every_call() {
        let provider = Arc::new(Counted::default());
        provider.failing.store(true, Ordering::SeqCst);
        let credentials = StorageCredentials::fixed(Shared(provider.clone()));
        for _ in 0..10 {
            let err = credentials.current().await.unwrap_err();
            assert!(err.to_string().contains("down"), "{err}");
        }
        assert_eq!(provider.asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn credentials_about_to_expire_sign_nothing() {
        let provider = Arc::new(Counted {
            lasts: Some(Duration::from_secs(30)),
            ..Counted::default()
        });
        let credentials = StorageCredentials::fixed(Shared(provider.clone()));
        assert!(credentials.current().await.is_err());
    }

    #[test]
    fn a_lifetime_ends_with_the_credentials() {
        let at = SystemTime::now();
        let lasting =
            |secs| Credentials::new("AK", "SK", None, Some(at + Duration::from_secs(secs)), "t");
        let ttl = Duration::from_secs(900);
        assert_eq!(lifetime(&lasting(120), at, ttl), Duration::from_secs(120));
        assert_eq!(lifetime(&lasting(3600), at, ttl), ttl);
        let forever = Credentials::new("AK", "SK", None, None, "t");
        assert_eq!(lifetime(&forever, at, ttl), ttl);
    }
}
