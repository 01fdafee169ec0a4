//! `POST /api/uppy-sessions`: an upload session for Uppy 6, and `POST /api/dev/token`: access
//! tokens for the demo page (only when it is switched on).

use crate::error_codes as codes;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::ApiTags;
use super::error::{ApiError, ErrorBody};
use super::json_string::JsonString;
use super::operation_errors::{DevTokenErrors, RevokeSessionErrors, SessionErrors};
use super::security::BearerAuth;
use super::uppy::SESSION_COOKIE;
use crate::auth::{SessionRequest, SmallFileMethod, parse_origin};
use crate::state::AppState;
use uuid::Uuid;

/// How small (non-multipart) files go up: `post` for Uppy 6 (default), `put` for Uppy 5.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[oai(rename_all = "lowercase")]
pub enum SmallFiles {
    /// A browser form POST with a signed policy (Uppy 6).
    #[default]
    Post,
    /// A presigned PUT (Uppy 5 and older).
    Put,
}

#[derive(Object, Debug, Default)]
pub struct NewSession {
    pub small_files: Option<SmallFiles>,
    /// The browser origin allowed to use the session (`https://app.example`), `*` for any.
    /// Defaults to this request's `Origin`, else any. The session's routes answer CORS for it.
    #[oai(validator(max_length = 300))]
    pub origin: Option<JsonString>,
    /// At most this many uploads through the session (default: no cap).
    #[oai(validator(minimum(value = "1"), maximum(value = "100000")))]
    pub max_uploads: Option<u32>,
}

#[derive(Object, Debug)]
pub struct UppySession {
    /// Revoke with `DELETE /api/uppy-sessions/{id}`.
    pub id: Uuid,
    /// Pass as `companionEndpoint` to `@uppy/aws-s3`; the session token rides in its path.
    pub companion_endpoint: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
    /// The only browser origin that may use the session; absent: any.
    #[oai(skip_serializing_if_is_none)]
    pub origin: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub max_uploads: Option<u32>,
}

#[derive(ApiResponse)]
pub enum SessionCreated {
    /// The session; a same-origin page may also rely on the cookie set for `/s3`.
    #[oai(status = 201)]
    Created(Json<UppySession>, #[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
pub enum SessionRevoked {
    /// Revoked: every replica refuses the session's token from now on.
    #[oai(status = 204)]
    Revoked,
}

#[derive(Object, Debug)]
pub struct DevTokenRequest {
    /// Who the token is for (the platform puts the user's email here).
    pub sub: JsonString,
}

#[derive(Object, Debug)]
pub struct DevToken {
    pub token: String,
    pub expires_in: u64,
}

const DEV_TOKEN_TTL: u64 = 900;

/// The base URL clients reach us at: configured, or taken from the request (forwarded
/// headers only when a proxy we trust sets them).
fn public_base(state: &AppState, req: &Request) -> String {
    if let Some(url) = &state.web.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let headers = req.headers();
    let header = |name: &str| headers.get(name).and_then(|h| h.to_str().ok());
    let trusted = |name: &str| header(name).filter(|_| state.web.trust_forwarded_headers);
    let host = trusted(codes::X_FORWARDED_HOST)
        .or_else(|| header("host"))
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("127.0.0.1");
    let scheme = trusted(codes::X_FORWARDED_PROTO).unwrap_or("http");
    format!("{scheme}://{host}")
}

/// The session's origin: as asked, else the minting request's `Origin`, else any.
fn session_origin(asked: Option<&str>, req: &Request) -> Result<Option<String>, SessionErrors> {
    let unprocessable = |message: String| {
        SessionErrors::Unprocessable(ErrorBody::new(codes::INVALID_ORIGIN, message))
    };
    match asked {
        Some(origin) => parse_origin(origin).map_err(unprocessable),
        None => Ok(req
            .headers()
            .get("origin")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_origin(value).ok().flatten())),
    }
}

pub struct SessionsApi;

#[OpenApi(tag = "ApiTags::Uppy")]
impl SessionsApi {
    /// Start an Uppy upload session
    ///
    /// Uppy 6 cannot send an `Authorization` header, so the session token travels in the
    /// Companion endpoint's path. Uploads made in the session belong to the caller. The session
    /// is bound to one browser origin, expires, can cap its uploads, and can be revoked.
    #[oai(
        path = "/api/uppy-sessions",
        method = "post",
        operation_id = "createUppySession"
    )]
    async fn create(
        &self,
        auth: BearerAuth,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<Option<NewSession>>,
    ) -> Result<SessionCreated, SessionErrors> {
        let asked = body.0.unwrap_or_default();
        let method = match asked.small_files.unwrap_or_default() {
            SmallFiles::Post => SmallFileMethod::Post,
            SmallFiles::Put => SmallFileMethod::Put,
        };
        let origin = session_origin(asked.origin.as_ref().map(AsRef::as_ref), req)?;
        let minted = state
            .sessions
            .mint(SessionRequest {
                owner: auth.0,
                method,
                origin,
                max_uploads: asked.max_uploads,
            })
            .await
            .map_err(|err| SessionErrors::from(ApiError::from(err)))?;
        let base = public_base(&state, req);
        let max_age = (minted.expires_at - Utc::now()).num_seconds().max(0);
        let secure = if base.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        let token = minted.token;
        let cookie = format!(
            "{SESSION_COOKIE}={token}; Path=/s3; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
        );
        Ok(SessionCreated::Created(
            Json(UppySession {
                id: minted.session.id.expect("minted sessions are stored"),
                companion_endpoint: format!("{base}/uppy/{token}"),
                token,
                expires_at: minted.expires_at,
                origin: minted.session.origin,
                max_uploads: minted.max_uploads,
            }),
            cookie,
        ))
    }

    /// Revoke an Uppy upload session
    ///
    /// Its token stops working at once, on every replica. Uploads already made stay.
    #[oai(
        path = "/api/uppy-sessions/:id",
        method = "delete",
        operation_id = "revokeUppySession"
    )]
    async fn revoke(
        &self,
        auth: BearerAuth,
        state: Data<&Arc<AppState>>,
        id: Path<Uuid>,
    ) -> Result<SessionRevoked, RevokeSessionErrors> {
        state
            .sessions
            .revoke(&auth.0, id.0)
            .await
            .map_err(|err| RevokeSessionErrors::from(ApiError::from(err)))?;
        Ok(SessionRevoked::Revoked)
    }

    /// Get a development token
    ///
    /// Only in development mode with the demo page on (UC_DEV_MODE, UC_DEMO_PAGE): anyone can
    /// get a token here.
    #[oai(
        path = "/api/dev/token",
        method = "post",
        operation_id = "createDevToken"
    )]
    async fn dev_token(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<DevTokenRequest>,
    ) -> Result<Json<DevToken>, DevTokenErrors> {
        if !(state.dev_mode && state.web.demo_page) {
            return Err(DevTokenErrors::NotFound(ErrorBody::new(
                codes::NOT_FOUND,
                "dev tokens are only handed out in development mode with the demo page on",
            )));
        }
        let Some(sub) = crate::domain::text::SUBJECT.check(body.0.sub.as_ref()) else {
            return Err(DevTokenErrors::Unprocessable(ErrorBody::new(
                codes::INVALID_SUB,
                "sub must be 1 to 200 characters, not all spaces, without control characters",
            )));
        };
        let token = state.auth.issue(sub, 1, DEV_TOKEN_TTL).map_err(|err| {
            DevTokenErrors::Unprocessable(ErrorBody::new(
                codes::DEV_TOKEN_UNAVAILABLE,
                err.to_string(),
            ))
        })?;
        Ok(Json(DevToken {
            token,
            expires_in: DEV_TOKEN_TTL,
        }))
    }
}
