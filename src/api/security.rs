//! Bearer-token authentication for the native API.

use std::sync::Arc;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

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
