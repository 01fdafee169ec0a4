//! Bearer JWTs -> the owner of an upload. HS256 tokens from the platform's auth service
//! (`sub`, `user_id`, `exp`, `iat`, `token_type: "access"`), or RS256/ES256 from an identity
//! provider's public key.

mod session_registry;
mod sessions;

pub use session_registry::{
    MintedSession, ORIGIN_PATTERN, SessionError, SessionRegistry, SessionRequest, parse_origin,
};
pub use sessions::{SessionTokens, SmallFileMethod, UploadSession, derive_secret};

use crate::error_codes as codes;
use std::fmt;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

use crate::config::{AuthSettings, JwtAlgorithm};

/// Who owns an upload: the value of the configured owner claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner(String);

impl Owner {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("a bearer token is required")]
    Missing,
    #[error("the token has expired")]
    Expired,
    #[error("the token is invalid: {0}")]
    Invalid(String),
    #[error("the upload session has been revoked or has ended")]
    Revoked,
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => codes::MISSING_TOKEN,
            Self::Expired => codes::TOKEN_EXPIRED,
            Self::Invalid(_) => codes::INVALID_TOKEN,
            Self::Revoked => codes::SESSION_REVOKED,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("auth configuration: {0}")]
pub struct AuthConfigError(String);

/// Verifies tokens and, with a shared secret, issues them for local use.
#[derive(Clone)]
pub struct Authenticator {
    decoding: DecodingKey,
    validation: Validation,
    owner_claim: String,
    require_access_type: bool,
    encoding: Option<EncodingKey>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("algorithms", &self.validation.algorithms)
            .field("owner_claim", &self.owner_claim)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(settings: &AuthSettings) -> Result<Self, AuthConfigError> {
        let bad =
            |what: &str, e: jsonwebtoken::errors::Error| AuthConfigError(format!("{what}: {e}"));
        let (algorithm, decoding, encoding) = match settings.algorithm {
            JwtAlgorithm::Hs256 => {
                let secret = settings.secret.expose().as_bytes();
                (
                    Algorithm::HS256,
                    DecodingKey::from_secret(secret).map_err(|e| bad("UC_JWT_SECRET", e))?,
                    Some(EncodingKey::from_secret(secret).map_err(|e| bad("UC_JWT_SECRET", e))?),
                )
            }
            JwtAlgorithm::Rs256 => {
                let pem = public_key_pem(settings)?;
                let key =
                    DecodingKey::from_rsa_pem(&pem).map_err(|e| bad("RS256 public key", e))?;
                (Algorithm::RS256, key, None)
            }
            JwtAlgorithm::Es256 => {
                let pem = public_key_pem(settings)?;
                let key = DecodingKey::from_ec_pem(&pem).map_err(|e| bad("ES256 public key", e))?;
                (Algorithm::ES256, key, None)
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = 30;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        match &settings.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        if let Some(iss) = &settings.issuer {
            validation.set_issuer(&[iss]);
        }
        Ok(Self {
            decoding,
            validation,
            owner_claim: settings.owner_claim.clone(),
            require_access_type: settings.requires_access_type(),
            encoding,
        })
    }

    /// The owner named by a valid token.
    pub fn verify(&self, token: &str) -> Result<Owner, AuthError> {
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &self.validation)
                .map_err(|e| match e.kind() {
                    ErrorKind::ExpiredSignature => AuthError::Expired,
                    _ => AuthError::Invalid(e.to_string()),
                })?;
        let claims = data.claims;
        // The platform also issues refresh tokens with the same key; only access tokens upload.
        match claims.get("token_type") {
            Some(kind) if kind.as_str() != Some("access") => {
                return Err(AuthError::Invalid("not an access token".into()));
            }
            None if self.require_access_type => {
                return Err(AuthError::Invalid(
                    "the token has no token_type; access tokens say \"access\"".into(),
                ));
            }
            _ => {}
        }
        match claims.get(&self.owner_claim) {
            Some(Value::String(s)) if !s.is_empty() => Ok(Owner::new(s.clone())),
            Some(Value::Number(n)) => Ok(Owner::new(n.to_string())),
            _ => Err(AuthError::Invalid(format!(
                "claim {:?} is missing or empty",
                self.owner_claim
            ))),
        }
    }

    /// An HS256 access token shaped like the platform's, for local use and tests.
    pub fn issue(&self, sub: &str, user_id: i64, ttl_secs: u64) -> Result<String, AuthConfigError> {
        let key = self.encoding.as_ref().ok_or_else(|| {
            AuthConfigError("tokens can only be issued with an HS256 secret".into())
        })?;
        let now = jsonwebtoken::get_current_timestamp();
        let claims = serde_json::json!({
            "sub": sub,
            "user_id": user_id,
            "iat": now,
            "exp": now + ttl_secs,
            "token_type": "access",
        });
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key)
            .map_err(|e| AuthConfigError(e.to_string()))
    }
}

fn public_key_pem(settings: &AuthSettings) -> Result<Vec<u8>, AuthConfigError> {
    if let Some(pem) = &settings.public_key {
        return Ok(pem.as_bytes().to_vec());
    }
    let path = settings.public_key_file.as_ref().ok_or_else(|| {
        AuthConfigError("UC_JWT_PUBLIC_KEY or UC_JWT_PUBLIC_KEY_FILE is required".into())
    })?;
    std::fs::read(path).map_err(|e| AuthConfigError(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(secret: &str) -> AuthSettings {
        AuthSettings::hs256_for_tests(secret)
    }

    fn hs256(claims: serde_json::Value, secret: &[u8]) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_token_not_valid_yet_is_refused() {
        let auth = Authenticator::new(&settings("s3cret")).unwrap();
        let now = jsonwebtoken::get_current_timestamp();
        let early = serde_json::json!({
            "sub": "a", "exp": now + 7200, "nbf": now + 3600, "token_type": "access",
        });
        assert!(auth.verify(&hs256(early, b"s3cret")).is_err());
    }

    #[test]
    fn hs256_tokens_must_say_they_are_access_tokens_unless_told_otherwise() {
        let now = jsonwebtoken::get_current_timestamp();
        let untyped = hs256(serde_json::json!({"sub": "a", "exp": now + 60}), b"s3cret");
        let strict = Authenticator::new(&settings("s3cret")).unwrap();
        assert_eq!(strict.verify(&untyped).unwrap_err().code(), "invalid-token");
        let lenient = Authenticator::new(&AuthSettings {
            require_access_type: Some(false),
            ..settings("s3cret")
        })
        .unwrap();
        assert_eq!(lenient.verify(&untyped).unwrap().as_str(), "a");
    }

    #[test]
    fn issued_tokens_verify_to_their_subject() {
        let auth = Authenticator::new(&settings("s3cret")).unwrap();
        let token = auth.issue("ana@example.com", 7, 900).unwrap();
        assert_eq!(auth.verify(&token).unwrap().as_str(), "ana@example.com");
    }

    #[test]
    fn tokens_signed_with_another_secret_are_invalid() {
        let ours = Authenticator::new(&settings("s3cret")).unwrap();
        let theirs = Authenticator::new(&settings("other")).unwrap();
        let token = theirs.issue("ana@example.com", 7, 900).unwrap();
        assert_eq!(ours.verify(&token).unwrap_err().code(), "invalid-token");
        assert_eq!(
            ours.verify("not-a-jwt").unwrap_err().code(),
            "invalid-token"
        );
    }

    #[test]
    fn refresh_tokens_are_refused() {
        let auth = Authenticator::new(&settings("s3cret")).unwrap();
        let now = jsonwebtoken::get_current_timestamp();
        let claims = serde_json::json!({"sub": "a", "exp": now + 60, "token_type": "refresh"});
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"s3cret").unwrap(),
        )
        .unwrap();
        assert!(auth.verify(&token).is_err());
    }

    fn identity_provider_token(
        algorithm: Algorithm,
        private_pem: &str,
        claims: serde_json::Value,
    ) -> String {
        let key = match algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_ec_pem(private_pem.as_bytes()).unwrap(),
        };
        jsonwebtoken::encode(&Header::new(algorithm), &claims, &key).unwrap()
    }

    fn provider_settings(algorithm: JwtAlgorithm, public_pem: &str) -> AuthSettings {
        AuthSettings {
            algorithm,
            public_key: Some(public_pem.to_owned()),
            issuer: Some("https://id.example.com".into()),
            audience: Some("uploads".into()),
            ..settings("unused")
        }
    }

    #[test]
    fn rs256_and_es256_tokens_from_an_identity_provider_verify_with_its_public_key() {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = serde_json::json!({
            "sub": "ana@example.com", "exp": now + 60,
            "iss": "https://id.example.com", "aud": "uploads",
        });
        let cases = [
            (
                Algorithm::RS256,
                JwtAlgorithm::Rs256,
                include_str!("../../tests/fixtures/keys/rs256-private.pem"),
                include_str!("../../tests/fixtures/keys/rs256-public.pem"),
            ),
            (
                Algorithm::ES256,
                JwtAlgorithm::Es256,
                include_str!("../../tests/fixtures/keys/es256-private.pem"),
                include_str!("../../tests/fixtures/keys/es256-public.pem"),
            ),
        ];
        for (algorithm, configured, private_pem, public_pem) in cases {
            let auth = Authenticator::new(&provider_settings(configured, public_pem)).unwrap();
            let token = identity_provider_token(algorithm, private_pem, claims.clone());
            assert_eq!(auth.verify(&token).unwrap().as_str(), "ana@example.com");

            let mut wrong_issuer = claims.clone();
            wrong_issuer["iss"] = "https://evil.example.com".into();
            let token = identity_provider_token(algorithm, private_pem, wrong_issuer);
            assert!(
                auth.verify(&token).is_err(),
                "{algorithm:?} with another issuer"
            );

            let mut wrong_audience = claims.clone();
            wrong_audience["aud"] = "payments".into();
            let token = identity_provider_token(algorithm, private_pem, wrong_audience);
            assert!(
                auth.verify(&token).is_err(),
                "{algorithm:?} for another audience"
            );
        }
    }

    #[test]
    fn an_hs256_token_is_refused_where_rs256_is_configured() {
        let public_pem = include_str!("../../tests/fixtures/keys/rs256-public.pem");
        let auth = Authenticator::new(&provider_settings(JwtAlgorithm::Rs256, public_pem)).unwrap();
        let hs = Authenticator::new(&settings("secret")).unwrap();
        assert!(
            auth.verify(&hs.issue("ana@example.com", 1, 60).unwrap())
                .is_err()
        );
    }

    #[test]
    fn a_configured_owner_claim_is_used() {
        let mut s = settings("s3cret");
        s.owner_claim = "user_id".into();
        let auth = Authenticator::new(&s).unwrap();
        let token = auth.issue("ana@example.com", 42, 900).unwrap();
        assert_eq!(auth.verify(&token).unwrap().as_str(), "42");
    }
}
