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
/// `EventSource` or a plain link can carry, since neither sends headers.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "session",
    key_in = "query",
    checker = "owner_from_session"
)]
pub struct SessionQuery(pub Owner);

/// The upload session cookie a same-origin page got with its session.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "uc_uppy_session",
    key_in = "cookie",
    checker = "owner_from_session"
)]
pub struct SessionCookie(pub Owner);

/// Who may read: a bearer token, or an upload session (query parameter or cookie) for
/// browsers, which cannot add headers to `EventSource` or a link. The bearer is tried last,
/// so its error is the one a caller without any credential sees.
#[derive(SecurityScheme)]
pub enum ReaderAuth {
    SessionQuery(SessionQuery),
    SessionCookie(SessionCookie),
    Bearer(BearerAuth),
}

impl ReaderAuth {
    pub fn owner(&self) -> &Owner {
        match self {
            Self::SessionQuery(SessionQuery(owner))
            | Self::SessionCookie(SessionCookie(owner))
            | Self::Bearer(BearerAuth(owner)) => owner,
        }
    }
}

async fn owner_from_session(req: &Request, key: ApiKey) -> poem::Result<Owner> {
    let state = req
        .data::<Arc<AppState>>()
        .expect("application state is installed on every route");
    let session = state
        .sessions
        .check(&key.key)
        .await
        .map_err(|err| poem::Error::from(ApiError::from(err)))?;
    // Like the Companion routes: a session works only from the origin it was minted for.
    if let Some(origin) = super::uppy::request_origin(req)
        && !session.allows_origin(origin)
    {
        return Err(super::uppy::origin_not_allowed().into());
    }
    tracing::Span::current().record("owner", session.owner.as_str());
    Ok(session.owner)
}
