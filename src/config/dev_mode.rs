//! Development mode, and what production requires instead. Outside development mode no secret
//! or credential has a built-in value: a missing one stops startup, naming its variable.
//! Development mode fills in the local stack's well-known values and, since anyone can read
//! them here, refuses to listen beyond loopback.

use super::{ConfigError, JwtAlgorithm, Secret, Settings};

/// HMAC keys and bearer tokens shorter than this are refused: guessable or brute-forceable.
pub const MIN_SECRET_BYTES: usize = 32;

/// The local stack's values (`make run`, `make test`): public knowledge, loopback only.
pub mod defaults {
    pub const JWT_SECRET: &str = "dev-jwt-secret-for-the-local-stack-only";
    pub const WEBHOOK_TOKEN: &str = "dev-webhook-token-for-the-local-stack-only";
    pub const S3_ACCESS_KEY: &str = "uc-dev-access";
    pub const S3_SECRET_KEY: &str = "uc-dev-secret";
    pub const DATABASE_URL: &str = "postgres://postgres:postgres@127.0.0.1:5432/upload_coordinator";
    pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
}

fn fill(secret: &mut Secret, value: &str) {
    if secret.expose().is_empty() {
        *secret = Secret::new(value);
    }
}

fn invalid<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError::Invalid(message.into()))
}

impl Settings {
    /// Fills in development defaults when development mode is on, then checks that every
    /// required secret is there and strong enough. Idempotent.
    pub fn resolve(mut self) -> Result<Self, ConfigError> {
        if self.http.dev_mode {
            self.fill_development_defaults();
        }
        self.check_credentials()?;
        Ok(self)
    }

    /// For commands that only need the database (`migrate`, `jobs`).
    pub fn resolve_database(mut self) -> Result<Self, ConfigError> {
        if self.http.dev_mode {
            self.fill_development_defaults();
        }
        if self.database.url.expose().is_empty() {
            return invalid(
                "UC_DATABASE_URL is required (or UC_DEV_MODE=true for the local stack)",
            );
        }
        Ok(self)
    }

    /// For `token`, which only signs with the HS256 secret.
    pub fn resolve_token_signing(mut self) -> Result<Self, ConfigError> {
        if self.http.dev_mode {
            self.fill_development_defaults();
        }
        if self.auth.secret.expose().is_empty() {
            return invalid("UC_JWT_SECRET is required (or UC_DEV_MODE=true for the local stack)");
        }
        Ok(self)
    }

    fn fill_development_defaults(&mut self) {
        if self.auth.algorithm == JwtAlgorithm::Hs256 {
            fill(&mut self.auth.secret, defaults::JWT_SECRET);
        }
        fill(&mut self.events.webhook_token, defaults::WEBHOOK_TOKEN);
        fill(&mut self.database.url, defaults::DATABASE_URL);
        fill(&mut self.broker.url, defaults::AMQP_URL);
        let storage = &mut self.storage;
        if storage.access_key.is_empty() && storage.secret_key.expose().is_empty() {
            storage.access_key = defaults::S3_ACCESS_KEY.to_owned();
            storage.secret_key = Secret::new(defaults::S3_SECRET_KEY);
        }
    }

    fn check_credentials(&self) -> Result<(), ConfigError> {
        let dev_hint = "(or UC_DEV_MODE=true for the local stack)";
        if self.http.dev_mode {
            for (name, addr) in [
                ("UC_LISTEN", Some(self.http.listen)),
                ("UC_METRICS_LISTEN", self.http.metrics_listen),
            ] {
                if let Some(addr) = addr.filter(|addr| !addr.ip().is_loopback()) {
                    return invalid(format!(
                        "UC_DEV_MODE uses well-known secrets and refuses to listen beyond \
                         loopback: {name} is {addr}; give real secrets and turn UC_DEV_MODE off"
                    ));
                }
            }
        } else if self.web.demo_page {
            return invalid("UC_DEMO_PAGE hands out tokens to anyone: it needs UC_DEV_MODE=true");
        }
        if self.database.url.expose().is_empty() {
            return invalid(format!("UC_DATABASE_URL is required {dev_hint}"));
        }
        if self.broker_needed() && self.broker.url.expose().is_empty() {
            return invalid(format!("UC_AMQP_URL is required {dev_hint}"));
        }
        if self.auth.algorithm == JwtAlgorithm::Hs256 && self.auth.secret.expose().is_empty() {
            return invalid(format!(
                "UC_JWT_SECRET is required with HS256 tokens {dev_hint}"
            ));
        }
        let storage = &self.storage;
        if storage.access_key.is_empty() != storage.secret_key.expose().is_empty() {
            return invalid(
                "UC_S3_ACCESS_KEY and UC_S3_SECRET_KEY go together: give both, or neither to use \
                 the AWS credential chain",
            );
        }
        let secrets = [
            ("UC_JWT_SECRET", Some(&self.auth.secret)),
            ("UC_SESSION_SECRET", self.web.session_secret.as_ref()),
            ("UC_INTERNAL_TOKEN", Some(&self.jobs.internal_token)),
            ("UC_EVENTS_WEBHOOK_TOKEN", Some(&self.events.webhook_token)),
        ];
        for (name, secret) in secrets {
            let length = secret.map_or(0, |s| s.expose().len());
            if length > 0 && length < MIN_SECRET_BYTES {
                return invalid(format!(
                    "{name} is {length} bytes long; use at least {MIN_SECRET_BYTES} random bytes \
                     (e.g. `openssl rand -base64 32`)"
                ));
            }
        }
        Ok(())
    }

    /// Whether anything talks to RabbitMQ.
    pub fn broker_needed(&self) -> bool {
        self.jobs.relay || self.events.amqp || !self.jobs.results_queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRONG: &str = "0123456789abcdef0123456789abcdef";

    fn production(extra: &[&str]) -> Result<Settings, ConfigError> {
        // Explicit empty values keep the environment that runs the tests out of the way.
        let mut flags = vec![
            "--s3-access-key=".to_owned(),
            "--s3-secret-key=".to_owned(),
            "--events-webhook-token=".to_owned(),
            "--internal-token=".to_owned(),
            "--dev-mode=false".to_owned(),
            "--demo-page=false".to_owned(),
            "--listen=127.0.0.1:8080".to_owned(),
            "--database-url=postgres://db/uc".to_owned(),
            "--amqp-url=amqp://broker".to_owned(),
            format!("--jwt-secret={STRONG}"),
        ];
        // A flag in `extra` replaces the base one of the same name.
        let name = |flag: &str| flag.split('=').next().unwrap_or_default().to_owned();
        flags.retain(|flag| !extra.iter().any(|e| name(e) == name(flag)));
        flags.extend(extra.iter().map(|s| s.to_string()));
        Settings::from_flags(flags).expect("flags parse").resolve()
    }

    fn refusal(result: Result<Settings, ConfigError>) -> String {
        match result {
            Err(ConfigError::Invalid(message)) => message,
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn production_needs_every_secret_named_by_its_variable() {
        assert!(production(&[]).is_ok());
        assert!(refusal(production(&["--jwt-secret="])).contains("UC_JWT_SECRET"));
        assert!(refusal(production(&["--database-url="])).contains("UC_DATABASE_URL"));
        assert!(refusal(production(&["--amqp-url="])).contains("UC_AMQP_URL"));
    }

    #[test]
    fn short_hmac_secrets_are_refused() {
        for flag in [
            "--jwt-secret=short",
            "--session-secret=short",
            "--internal-token=short",
            "--events-webhook-token=short",
        ] {
            assert!(
                refusal(production(&[flag])).contains("at least 32"),
                "{flag}"
            );
        }
    }

    #[test]
    fn without_development_mode_nothing_has_a_development_value() {
        let settings = production(&[]).unwrap();
        assert!(settings.events.webhook_token.expose().is_empty());
        assert!(settings.storage.access_key.is_empty());
        assert!(settings.storage.secret_key.expose().is_empty());
        assert!(refusal(production(&["--demo-page=true"])).contains("UC_DEV_MODE"));
        assert!(refusal(production(&["--s3-access-key=a"])).contains("go together"));
    }

    #[test]
    fn development_mode_fills_the_local_stack_and_stays_on_loopback() {
        let dev = Settings::from_flags([
            "--dev-mode=true",
            "--listen=127.0.0.1:8080",
            "--jwt-secret=",
            "--s3-access-key=",
            "--s3-secret-key=",
            "--database-url=",
        ])
        .unwrap()
        .resolve()
        .unwrap();
        assert_eq!(dev.auth.secret.expose(), defaults::JWT_SECRET);
        assert_eq!(dev.storage.access_key, defaults::S3_ACCESS_KEY);
        assert_eq!(dev.database.url.expose(), defaults::DATABASE_URL);
        let beyond = Settings::from_flags(["--dev-mode=true", "--listen=0.0.0.0:8080"])
            .unwrap()
            .resolve();
        assert!(refusal(beyond).contains("loopback"));
    }
}
