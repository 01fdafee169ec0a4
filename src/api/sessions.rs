//! `POST /api/uppy-sessions`: an upload session for Uppy 6, and `POST /api/dev/token`: access
//! tokens for the demo page (only when it is switched on).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::ApiTags;
use super::error::ErrorBody;
use super::operation_errors::{DevTokenErrors, SessionErrors};
use super::security::BearerAuth;
use super::uppy::SESSION_COOKIE;
use crate::app::AppState;
use crate::auth::{SmallFileMethod, UploadSession};

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
}

#[derive(Object, Debug)]
pub struct UppySession {
    /// Pass as `companionEndpoint` to `@uppy/aws-s3`; the session token rides in its path.
    pub companion_endpoint: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(ApiResponse)]
pub enum SessionCreated {
    /// The session; a same-origin page may also rely on the cookie set for `/s3`.
    #[oai(status = 201)]
    Created(Json<UppySession>, #[oai(header = "Set-Cookie")] String),
}

#[derive(Object, Debug)]
pub struct DevTokenRequest {
    /// Who the token is for (the platform puts the user's email here).
    pub sub: String,
}

#[derive(Object, Debug)]
pub struct DevToken {
    pub token: String,
    pub expires_in: u64,
}

const DEV_TOKEN_TTL: u64 = 900;

/// The base URL clients reach us at: configured, or taken from the request.
fn public_base(state: &AppState, req: &Request) -> String {
    if let Some(url) = &state.web.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let headers = req.headers();
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get("host"))
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

pub struct SessionsApi;

#[OpenApi(tag = "ApiTags::Uppy")]
impl SessionsApi {
    /// Start an Uppy upload session
    ///
    /// Uppy 6 cannot send an `Authorization` header, so the session token travels in the
    /// Companion endpoint's path. Uploads made in the session belong to the caller.
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
        let method = match body.0.unwrap_or_default().small_files.unwrap_or_default() {
            SmallFiles::Post => SmallFileMethod::Post,
            SmallFiles::Put => SmallFileMethod::Put,
        };
        let session = UploadSession {
            owner: auth.0,
            method,
        };
        let (token, expires_at) = state.sessions.issue(&session);
        let max_age = (expires_at - Utc::now()).num_seconds().max(0);
        let cookie = format!(
            "{SESSION_COOKIE}={token}; Path=/s3; Max-Age={max_age}; HttpOnly; SameSite=Strict"
        );
        Ok(SessionCreated::Created(
            Json(UppySession {
                companion_endpoint: format!("{}/uppy/{token}", public_base(&state, req)),
                token,
                expires_at,
            }),
            cookie,
        ))
    }

    /// Get a development token
    ///
    /// Only while the demo page is switched on (UC_DEMO_PAGE): anyone can get a token here.
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
        if !state.web.demo_page {
            return Err(DevTokenErrors::NotFound(ErrorBody::new(
                "not-found",
                "dev tokens are only handed out with the demo page on",
            )));
        }
        let sub = body.0.sub.trim();
        if sub.is_empty() || sub.len() > 200 || sub.chars().any(char::is_control) {
            return Err(DevTokenErrors::Unprocessable(ErrorBody::new(
                "invalid-sub",
                "sub must be 1 to 200 characters",
            )));
        }
        let token = state.auth.issue(sub, 1, DEV_TOKEN_TTL).map_err(|err| {
            DevTokenErrors::Unprocessable(ErrorBody::new("dev-token-unavailable", err.to_string()))
        })?;
        Ok(Json(DevToken {
            token,
            expires_in: DEV_TOKEN_TTL,
        }))
    }
}
