//! Who calls the Companion-style routes: a session token in the path (Uppy 6), a bearer token
//! (Uppy 5 and other clients), or the session cookie (a same-origin page). A session is
//! checked against its stored row on every call, and only from its own origin.

use crate::error_codes as codes;
use std::sync::Arc;

use poem::{FromRequest, Request, RequestBody};

use super::error::{ApiError, ErrorBody};
use super::uppy::fail;
use crate::auth::{AuthError, SmallFileMethod, UploadSession};
use crate::domain::Upload;
use crate::state::AppState;
use crate::uploads::UploadError;

/// The cookie a same-origin page can authenticate Uppy's calls with.
pub const SESSION_COOKIE: &str = "uc_uppy_session";

/// Who is calling: a session token in the path, a bearer token, or the session cookie.
pub(super) struct Caller(pub UploadSession);

impl<'a> FromRequest<'a> for Caller {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let state = req.data::<Arc<AppState>>().expect("state installed");
        let session = Claim::of(req, state)?.confirm(state).await?;
        Ok(Caller(session))
    }
}

/// Who a request says it comes from, by its token's signature alone. [`Claim::confirm`] then
/// reads a session's row (revocation, stored owner and origin), or
/// [`Claim::confirm_with_upload`] that row and the upload a call is about.
pub(super) struct Claim<'a> {
    /// As the token says; one from a session token names its row (`id`), still to be read.
    session: UploadSession,
    origin: Option<&'a str>,
}

impl<'a> Claim<'a> {
    pub fn of(req: &'a Request, state: &AppState) -> poem::Result<Self> {
        let session = if let Some(token) = req.raw_path_param("session") {
            state.sessions.check_signature(token).map_err(fail)?
        } else if let Some(token) = bearer(req) {
            // Uppy 5 and other clients: an access token; `?method=put` asks for Uppy 5's shape.
            let owner = state.auth.verify(token).map_err(fail)?;
            let method = if req.uri().query().is_some_and(|q| q.contains("method=put")) {
                SmallFileMethod::Put
            } else {
                SmallFileMethod::Post
            };
            UploadSession {
                id: None,
                owner,
                method,
                origin: None,
            }
        } else if let Some(token) = session_cookie(req).map_err(fail)? {
            state.sessions.check_signature(token).map_err(fail)?
        } else {
            return Err(fail(AuthError::Missing));
        };
        Ok(Self {
            session,
            origin: request_origin(req),
        })
    }

    /// The caller, once its session is found active and the request comes from its origin.
    pub async fn confirm(self, state: &AppState) -> poem::Result<UploadSession> {
        let session = if self.session.id.is_some() {
            state.sessions.confirm(self.session).await.map_err(fail)?
        } else {
            self.session
        };
        Self::from_its_origin(self.origin, session)
    }

    /// [`Self::confirm`], and the caller's multipart upload `upload_id` of `key`: for a
    /// session, read with its row in one round trip.
    pub async fn confirm_with_upload(
        self,
        state: &AppState,
        key: &str,
        upload_id: &str,
    ) -> poem::Result<(UploadSession, Upload)> {
        let uploads = &state.uploads;
        let (session, upload) = if self.session.id.is_some() {
            let bucket = uploads.bucket();
            let (session, upload) = state
                .sessions
                .confirm_with_upload(self.session, bucket, key, upload_id)
                .await
                .map_err(fail)?;
            (session, upload.ok_or(UploadError::NotFound))
        } else {
            let upload = uploads
                .get_by_storage_upload_id(&self.session.owner, upload_id, key)
                .await;
            (self.session, upload)
        };
        let session = Self::from_its_origin(self.origin, session)?;
        Ok((session, upload.map_err(fail)?))
    }

    /// A page elsewhere than the session's origin is refused, whatever it could read.
    fn from_its_origin(
        origin: Option<&str>,
        session: UploadSession,
    ) -> poem::Result<UploadSession> {
        if let Some(origin) = origin
            && !session.allows_origin(origin)
        {
            return Err(fail(origin_not_allowed()));
        }
        Ok(session)
    }
}

/// The browser origin a request comes from, if it says.
pub fn request_origin(req: &Request) -> Option<&str> {
    req.headers().get("origin")?.to_str().ok()
}

pub fn origin_not_allowed() -> ApiError {
    ApiError::Forbidden(ErrorBody::new(
        codes::ORIGIN_NOT_ALLOWED,
        "this upload session belongs to another origin",
    ))
}

/// The session cookie, if sent. Two of them (one planted by a sibling site, say) are refused
/// rather than guessed between.
fn session_cookie(req: &Request) -> Result<Option<&str>, AuthError> {
    let mut sessions = req
        .headers()
        .get_all("cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then_some(value)
        });
    let first = sessions.next();
    if sessions.next().is_some() {
        return Err(AuthError::Invalid("more than one session cookie".into()));
    }
    Ok(first)
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}
