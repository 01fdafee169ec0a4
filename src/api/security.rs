//! Bearer-token authentication for the native API.

use std::sync::Arc;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Bearer};

use super::error::ApiError;
use crate::auth::Owner;
use crate::state::AppState;

/// A JWT access token: HS256 from the platform's auth service, or RS256/ES256 from an
/// identity provider, depending on the deployment.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "owner_from_token")]
pub struct BearerAuth(pub Owner);

async fn owner_from_token(req: &Request, bearer: Bearer) -> poem::Result<Owner> {
    let state = req
        .data::<Arc<AppState>>()
        .expect("application state is installed on every route");
    let owner = state
        .auth
        .verify(&bearer.token)
        .map_err(|err| poem::Error::from(ApiError::from(err)))?;
    tracing::Span::current().record("owner", owner.as_str());
    Ok(owner)
}

/// An Uppy upload session's token in the `session` query parameter: what a browser's
/// `EventSource` can carry, since it sends no headers.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "session",
    key_in = "query",
    checker = "session_given"
)]
pub struct SessionQuery(String);

/// The bearer token of [`BearerAuth`], taken as given and checked by [`ReaderAuth::owner`].
#[derive(SecurityScheme)]
#[oai(
    rename = "BearerAuth",
    ty = "bearer",
    bearer_format = "JWT",
    checker = "bearer_given"
)]
pub struct BearerGiven(String);

/// Who may follow the status stream: a bearer token, or an upload session in the query for
/// browsers, since `EventSource` sends no headers. The first credential present, in that
/// order, is the one used, and its own error is the answer: credentials are only taken here
/// and checked by [`ReaderAuth::owner`], since alternatives that fail would otherwise be
/// reported as the last one's failure.
#[derive(SecurityScheme)]
pub enum ReaderAuth {
    Bearer(BearerGiven),
    SessionQuery(SessionQuery),
}

impl ReaderAuth {
    /// The caller: the bearer's owner, or the session's once it is checked (stored, not
    /// revoked, used from its own origin).
    pub async fn owner(self, req: &Request) -> Result<Owner, ApiError> {
        let state = req
            .data::<Arc<AppState>>()
            .expect("application state is installed on every route");
        let token = match self {
            Self::Bearer(BearerGiven(token)) => {
                let owner = state.auth.verify(&token)?;
                tracing::Span::current().record("owner", owner.as_str());
                return Ok(owner);
            }
            Self::SessionQuery(SessionQuery(token)) => token,
        };
        let session = state.sessions.check(&token).await?;
        if let Some(origin) = super::uppy::request_origin(req)
            && !session.allows_origin(origin)
        {
            return Err(super::uppy::origin_not_allowed());
        }
        tracing::Span::current().record("owner", session.owner.as_str());
        Ok(session.owner)
    }
}

async fn session_given(_req: &Request, key: ApiKey) -> poem::Result<String> {
    Ok(key.key)
}

async fn bearer_given(_req: &Request, bearer: Bearer) -> poem::Result<String> {
    Ok(bearer.token)
}
