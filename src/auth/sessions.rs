//! Upload sessions for Uppy 6, which cannot send an `Authorization` header: a short-lived,
//! upload-scoped token minted by an authenticated call and carried in the Companion endpoint's
//! path (`<base>/uppy/<token>`) or a same-origin cookie. The token is signed (forgeries cost no
//! database query) and names a stored session, so a session can be revoked everywhere at once.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use uuid::Uuid;

use super::{AuthError, Owner};

/// How Uppy uploads small files in this session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmallFileMethod {
    /// A browser form POST with a signed policy (Uppy 6).
    Post,
    /// A presigned PUT (Uppy 5 and older).
    Put,
}

/// Whose session it is, how small files go up, and which browser origin may use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadSession {
    /// The stored session; `None` for a caller with a bearer token instead of a session.
    pub id: Option<Uuid>,
    pub owner: Owner,
    pub method: SmallFileMethod,
    /// `None`: any origin.
    pub origin: Option<String>,
}

impl UploadSession {
    /// Whether a browser on `origin` may use the session.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origin
            .as_deref()
            .is_none_or(|allowed| allowed == origin)
    }
}

const AUDIENCE: &str = "upload-coordinator/uppy-session";

#[derive(Serialize, Deserialize)]
struct Claims {
    sid: Uuid,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    method: SmallFileMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin: Option<String>,
}

#[derive(Clone)]
pub struct SessionTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: chrono::Duration,
}

impl std::fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTokens").finish_non_exhaustive()
    }
}

/// A key of its own for sessions, derived from the JWT secret, so a session token is never
/// accepted as an access token or the other way round.
pub fn derive_secret(jwt_secret: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(jwt_secret.as_bytes()).expect("any key length");
    mac.update(b"upload-coordinator uppy sessions");
    mac.finalize().into_bytes().to_vec()
}

impl SessionTokens {
    pub fn new(secret: &[u8], ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret).expect("HMAC keys of any length"),
            decoding: DecodingKey::from_secret(secret).expect("HMAC keys of any length"),
            validation,
            ttl: chrono::Duration::seconds(ttl_secs as i64),
        }
    }

    /// The expiry a session minted now gets.
    pub fn expiry(&self) -> DateTime<Utc> {
        Utc::now() + self.ttl
    }

    /// A token for a stored session (`session.id` set) expiring at `expires_at`.
    pub fn issue(&self, session: &UploadSession, expires_at: DateTime<Utc>) -> String {
        let claims = Claims {
            sid: session.id.expect("only stored sessions get tokens"),
            sub: session.owner.as_str().to_owned(),
            aud: AUDIENCE.to_owned(),
            exp: expires_at.timestamp(),
            iat: Utc::now().timestamp(),
            method: session.method,
            origin: session.origin.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing does not fail")
    }

    /// The session a token names, checked by signature and expiry only (not revocation).
    pub fn verify(&self, token: &str) -> Result<UploadSession, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Invalid(e.to_string()),
            })?;
        Ok(UploadSession {
            id: Some(data.claims.sid),
            owner: Owner::new(data.claims.sub),
            method: data.claims.method,
            origin: data.claims.origin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_round_trip_and_foreign_tokens_fail() {
        let tokens = SessionTokens::new(&derive_secret("s"), 60);
        let session = UploadSession {
            id: Some(Uuid::new_v4()),
            owner: Owner::new("ana@example.com"),
            method: SmallFileMethod::Post,
            origin: Some("https://app.example".into()),
        };
        let token = tokens.issue(&session, tokens.expiry());
        assert_eq!(tokens.verify(&token).unwrap(), session);
        let other = SessionTokens::new(&derive_secret("other"), 60);
        assert!(other.verify(&token).is_err());
        assert!(tokens.verify("garbage").is_err());
        assert!(session.allows_origin("https://app.example"));
        assert!(!session.allows_origin("https://evil.example"));
    }

    #[test]
    fn an_access_token_is_not_a_session() {
        let auth =
            crate::auth::Authenticator::new(&crate::config::AuthSettings::hs256_for_tests("s"))
                .unwrap();
        let access = auth.issue("ana@example.com", 1, 60).unwrap();
        let tokens = SessionTokens::new(&derive_secret("s"), 60);
        assert!(tokens.verify(&access).is_err());
    }
}
