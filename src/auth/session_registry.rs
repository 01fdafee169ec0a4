//! Stored Uppy sessions: minted for an owner and an origin, checked on every call (so a
//! revocation holds on every replica at once), counted against their upload cap, revoked.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use uuid::Uuid;

use super::{AuthError, Owner, SessionTokens, SmallFileMethod, UploadSession};
use crate::db::{self, DbError, sessions::StoredSession};
use crate::domain::Upload;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("this session has made all the uploads it was allowed")]
    UploadLimit,
    #[error("no such session among the caller's")]
    NotFound,
    #[error("you have {0} active upload sessions, the most allowed; revoke one or let one expire")]
    TooMany(u32),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A new session and the token that carries it.
#[derive(Clone, Debug)]
pub struct MintedSession {
    pub session: UploadSession,
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub max_uploads: Option<u32>,
}

/// What a new session is for.
#[derive(Clone, Debug)]
pub struct SessionRequest {
    pub owner: Owner,
    pub method: SmallFileMethod,
    /// `None`: any origin.
    pub origin: Option<String>,
    pub max_uploads: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct SessionRegistry {
    tokens: SessionTokens,
    db: Pool,
    /// Active sessions one owner may have.
    max_per_owner: u32,
}

impl SessionRegistry {
    pub fn new(tokens: SessionTokens, db: Pool, max_per_owner: u32) -> Self {
        Self {
            tokens,
            db,
            max_per_owner,
        }
    }

    pub async fn mint(&self, request: SessionRequest) -> Result<MintedSession, SessionError> {
        let session = UploadSession {
            id: Some(Uuid::new_v4()),
            owner: request.owner,
            method: request.method,
            origin: request.origin,
        };
        let expires_at = self.tokens.expiry();
        let client = db::client(&self.db).await?;
        let stored = StoredSession {
            id: session.id.expect("just set"),
            owner: session.owner.as_str().to_owned(),
            origin: session.origin.clone(),
            max_uploads: request.max_uploads.map(|n| n as i32),
            expires_at,
        };
        if !db::sessions::insert_capped(&client, &stored, i64::from(self.max_per_owner)).await? {
            return Err(SessionError::TooMany(self.max_per_owner));
        }
        Ok(MintedSession {
            token: self.tokens.issue(&session, expires_at),
            session,
            expires_at,
            max_uploads: request.max_uploads,
        })
    }

    /// The session a token names, by its signature alone: enough to answer a CORS preflight,
    /// which changes nothing.
    pub fn check_signature(&self, token: &str) -> Result<UploadSession, AuthError> {
        self.tokens.verify(token)
    }

    /// The session a token names, if it is still active; owner and origin as stored, not as
    /// the token says.
    pub async fn check(&self, token: &str) -> Result<UploadSession, SessionError> {
        self.confirm(self.tokens.verify(token)?).await
    }

    /// The session a token's signature showed ([`Self::check_signature`]), if it is still
    /// active; owner and origin as stored.
    pub async fn confirm(&self, claimed: UploadSession) -> Result<UploadSession, SessionError> {
        let id = named_session(&claimed)?;
        let client = db::client(&self.db).await?;
        let stored = db::sessions::active(&client, id).await?;
        confirmed(claimed, stored)
    }

    /// [`Self::confirm`], and the claimed owner's multipart upload `upload_id` of `key` read
    /// in the same round trip (`None`: no such upload); the upload is the session's once the
    /// session is confirmed.
    pub async fn confirm_with_upload(
        &self,
        claimed: UploadSession,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(UploadSession, Option<Upload>), SessionError> {
        let id = named_session(&claimed)?;
        let client = db::client(&self.db).await?;
        let found = db::sessions::active_with_upload(
            &client,
            id,
            claimed.owner.as_str(),
            bucket,
            key,
            upload_id,
        )
        .await?;
        let (stored, upload) = found.unzip();
        Ok((confirmed(claimed, stored)?, upload.flatten()))
    }

    /// Counts one upload against the session's cap; callers without a session are not capped.
    pub async fn count_upload(&self, session: &UploadSession) -> Result<(), SessionError> {
        let Some(id) = session.id else { return Ok(()) };
        let client = db::client(&self.db).await?;
        if db::sessions::count_upload(&client, id).await? {
            Ok(())
        } else {
            Err(SessionError::UploadLimit)
        }
    }

    /// Gives back a counted upload that was not made after all.
    pub async fn uncount_upload(&self, session: &UploadSession) {
        let Some(id) = session.id else { return };
        let result = match self.db.get().await {
            Ok(client) => db::sessions::uncount_upload(&client, id).await,
            Err(err) => Err(err.into()),
        };
        if let Err(err) = result {
            tracing::warn!(session_id = %id, error = %err, "could not give back a session's upload");
        }
    }

    /// Forgets sessions that expired more than `after_secs` ago.
    pub async fn forget_expired(&self, after_secs: f64) -> Result<u64, DbError> {
        let client = db::client(&self.db).await?;
        db::sessions::delete_expired(&client, after_secs).await
    }

    pub async fn revoke(&self, owner: &Owner, id: Uuid) -> Result<(), SessionError> {
        let client = db::client(&self.db).await?;
        if db::sessions::revoke(&client, id, owner.as_str()).await? {
            tracing::info!(session_id = %id, "upload session revoked");
            Ok(())
        } else {
            Err(SessionError::NotFound)
        }
    }
}

fn named_session(claimed: &UploadSession) -> Result<Uuid, SessionError> {
    claimed
        .id
        .ok_or_else(|| AuthError::Invalid("the token names no session".into()).into())
}

/// The session a token claims, as its stored row (`None`: not active) says it is.
fn confirmed(
    claimed: UploadSession,
    stored: Option<StoredSession>,
) -> Result<UploadSession, SessionError> {
    let stored = stored.ok_or(AuthError::Revoked)?;
    if stored.owner != claimed.owner.as_str() {
        return Err(AuthError::Invalid("the session names another owner".into()).into());
    }
    Ok(UploadSession {
        id: Some(stored.id),
        owner: Owner::new(stored.owner),
        method: claimed.method,
        origin: stored.origin,
    })
}

/// A browser origin as `Origin` headers carry it (`scheme://host[:port]`, lowercase), or
/// `None` for `*` (any origin). `Err` names what is wrong.
pub fn parse_origin(value: &str) -> Result<Option<String>, String> {
    if value == "*" {
        return Ok(None);
    }
    let (scheme, rest) = value
        .split_once("://")
        .ok_or_else(|| format!("{value:?} is not an origin like https://app.example"))?;
    let scheme = scheme.to_ascii_lowercase();
    let valid_host = !rest.is_empty()
        && rest.len() <= 253
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !matches!(scheme.as_str(), "http" | "https") || !valid_host {
        return Err(format!(
            "{value:?} is not an origin like https://app.example (scheme, host and port only)"
        ));
    }
    Ok(Some(format!("{scheme}://{}", rest.to_ascii_lowercase())))
}

/// What [`parse_origin`] accepts, as an ECMA-262 pattern for the OpenAPI document.
pub const ORIGIN_PATTERN: &str = r"^(\*|[hH][tT][tT][pP][sS]?://[A-Za-z0-9.:\[\]\-]{1,253})$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_pattern_describes_the_parser() {
        let pattern = regex_lite::Regex::new(ORIGIN_PATTERN).unwrap();
        for sample in [
            "*",
            "https://App.Example:8443",
            "http://[::1]:5173",
            "HTTPS://a",
            " *",
            "https://",
            "ftp://a",
            "https://a/b",
            "null",
            "https://a b",
            "**",
        ] {
            assert_eq!(
                pattern.is_match(sample),
                parse_origin(sample).is_ok(),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(
            parse_origin("https://App.Example:8443").unwrap().as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(parse_origin("*").unwrap(), None);
        for bad in [
            "app.example",
            "https://app.example/path",
            "ftp://app.example",
            "https://",
            "null",
            "https://a b",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
