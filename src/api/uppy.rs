//! Companion-style endpoints for Uppy's `@uppy/aws-s3` (Uppy 6 and 5), under `/s3` (bearer
//! token or session cookie) and `/uppy/<session-token>/s3` (Uppy 6, which sends no headers).
//! They speak Uppy's vocabulary over the same use cases and intent rows as the native API:
//! the `key` and `uploadId` a client sends are checked against the caller's intent. A session
//! is checked on every call (revocation), only from its origin, and within its upload cap.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use poem::web::{Data, Json, Path, Query};
use poem::{FromRequest, Request, RequestBody, Route, get, handler, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::{ApiError, ErrorBody};
use super::uppy_caller::{Caller, Claim};
pub use super::uppy_caller::{SESSION_COOKIE, origin_not_allowed, request_origin};
use crate::auth::{Owner, SmallFileMethod, UploadSession};
use crate::domain::{InvalidInput, Upload};
use crate::state::AppState;
use crate::uploads::{Declaration, DeclaredChecksums, PlanChoice, UploadError};

/// The endpoints for bearer tokens and the session cookie, under `/s3`.
pub fn bearer_routes(route: Route) -> Route {
    add_routes(route, "/s3")
}

/// The endpoints for a session token in the path, to be nested under `/uppy`.
pub fn session_routes() -> Route {
    add_routes(Route::new(), "/:session/s3")
}

/// The endpoints under `base` (poem nests cannot capture, so each path is spelled out).
fn add_routes(route: Route, base: &str) -> Route {
    {
        route
            .at(format!("{base}/params"), get(params))
            .at(format!("{base}/multipart"), post(create_multipart))
            .at(
                format!("{base}/multipart/:upload_id"),
                get(list_parts).delete(abort),
            )
            .at(
                format!("{base}/multipart/:upload_id/complete"),
                post(complete),
            )
            .at(
                format!("{base}/multipart/:upload_id/:part_number"),
                get(sign_part),
            )
    }
}

type UppyResult<T> = Result<Json<T>, poem::Error>;

pub(super) fn fail(err: impl Into<ApiError>) -> poem::Error {
    err.into().into()
}

/// Creates an upload counted against the session's cap (given back if creation fails). The
/// count and the checks of the declaration run side by side; neither changes anything the
/// other needs, and storage is asked for nothing unless both pass. No part URL is signed:
/// Uppy asks for each one when it uploads the part.
async fn create_in_session(
    state: &AppState,
    session: &UploadSession,
    declaration: Declaration,
    choice: PlanChoice,
) -> Result<Upload, poem::Error> {
    let (counted, prepared) = tokio::join!(
        state.sessions.count_upload(session),
        state.uploads.prepare(&session.owner, declaration, choice)
    );
    // The session's refusal comes first, as when the count was checked before anything else.
    counted.map_err(fail)?;
    let created = match prepared {
        Ok(prepared) => state.uploads.create_prepared_unsigned(prepared).await,
        Err(err) => Err(err),
    };
    if created.is_err() {
        state.sessions.uncount_upload(session).await;
    }
    created.map_err(fail)
}

/// Uppy puts the file's meta in `metadata`; the size is required (it is what we sign for).
fn declaration(
    filename: String,
    content_type: String,
    metadata: Map<String, Value>,
) -> Result<Declaration, ApiError> {
    let size = match metadata.get("size") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::Unprocessable(ErrorBody::new(
            InvalidInput::Size.code(),
            "metadata.size (the file's size in bytes) is required",
        ))
    })?;
    let title = metadata
        .get("title")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| match filename.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
            _ => filename.clone(),
        });
    Ok(Declaration {
        filename,
        size,
        content_type,
        title,
        metadata: Some(Value::Object(metadata)),
        // Uppy sends no checksums (storage still checks each part's length).
        checksums: DeclaredChecksums::default(),
    })
}

#[derive(Deserialize)]
struct CreateMultipart {
    filename: String,
    #[serde(rename = "type", default)]
    content_type: String,
    #[serde(default)]
    metadata: Map<String, Value>,
}

#[handler]
async fn create_multipart(
    Caller(session): Caller,
    state: Data<&Arc<AppState>>,
    Json(body): Json<CreateMultipart>,
) -> UppyResult<Value> {
    let declaration = declaration(body.filename, body.content_type, body.metadata).map_err(fail)?;
    let choice = PlanChoice::Multipart {
        part_size: state.web.uppy_part_size,
    };
    let upload = create_in_session(&state, &session, declaration, choice).await?;
    Ok(Json(json!({
        "key": upload.key,
        "uploadId": upload.storage_upload_id,
        "bucket": upload.bucket,
    })))
}

#[derive(Deserialize)]
struct KeyQuery {
    key: String,
}

/// Path parameters by name: the session base adds a `session` capture before them.
#[derive(Deserialize)]
struct UploadPath {
    upload_id: String,
}

#[derive(Deserialize)]
struct PartPath {
    part_number: u32,
}

/// The caller's multipart upload that the path's `uploadId` and the query's `key` name
/// together; neither is trusted alone.
struct Target {
    owner: Owner,
    upload: Upload,
}

impl<'a> FromRequest<'a> for Target {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let state = req.data::<Arc<AppState>>().expect("state installed");
        let claim = Claim::of(req, state)?;
        let named = match Path::<UploadPath>::from_request(req, body).await {
            Ok(Path(path)) => Query::<KeyQuery>::from_request(req, body)
                .await
                .map(|Query(query)| (path.upload_id, query.key)),
            Err(err) => Err(err),
        };
        let (upload_id, key) = match named {
            Ok(named) => named,
            // Who is calling is answered first, as for every other route.
            Err(err) => {
                claim.confirm(state).await?;
                return Err(err);
            }
        };
        let (session, upload) = claim.confirm_with_upload(state, &key, &upload_id).await?;
        Ok(Self {
            owner: session.owner,
            upload,
        })
    }
}

#[handler]
async fn sign_part(
    Target { upload, .. }: Target,
    state: Data<&Arc<AppState>>,
    Path(PartPath { part_number }): Path<PartPath>,
) -> UppyResult<Value> {
    let uploads = &state.uploads;
    let signed = uploads
        .sign_parts_of(&upload, &[part_number])
        .await
        .map_err(fail)?;
    let part = signed
        .into_iter()
        .next()
        .ok_or_else(|| fail(UploadError::NotFound))?;
    Ok(Json(json!({
        "url": part.url.url,
        "expires": uploads.url_lifetime().as_secs(),
    })))
}

#[handler]
async fn list_parts(
    Target { owner, upload }: Target,
    state: Data<&Arc<AppState>>,
) -> UppyResult<Value> {
    let parts = state
        .uploads
        .stored_parts(&owner, upload.id)
        .await
        .map_err(fail)?;
    Ok(Json(Value::Array(
        parts
            .into_iter()
            .map(|p| json!({"PartNumber": p.number, "ETag": p.etag, "Size": p.size}))
            .collect(),
    )))
}

#[derive(Deserialize)]
struct CompletedPart {
    #[serde(rename = "PartNumber")]
    part_number: u32,
    #[serde(rename = "ETag")]
    etag: String,
}

#[derive(Deserialize)]
struct CompleteBody {
    parts: Vec<CompletedPart>,
}

#[handler]
async fn complete(
    Target { owner, upload }: Target,
    state: Data<&Arc<AppState>>,
    Json(body): Json<CompleteBody>,
) -> UppyResult<Value> {
    let received_at = Utc::now();
    let uploads = &state.uploads;
    let parts = body
        .parts
        .into_iter()
        .map(|p| (p.part_number, p.etag))
        .collect();
    let upload = uploads
        .complete(&owner, upload.id, Some(parts), received_at)
        .await
        .map_err(fail)?;
    if upload.status.is_abandoned() {
        // Uppy treats any 2xx as success; a rejected object must show as an error.
        return Err(fail(UploadError::NotPending(upload.status)));
    }
    Ok(Json(json!({
        "location": uploads.object_url(&upload),
        "key": upload.key,
        "bucket": upload.bucket,
    })))
}

#[handler]
async fn abort(Target { owner, upload }: Target, state: Data<&Arc<AppState>>) -> UppyResult<Value> {
    state.uploads.abort(&owner, upload.id).await.map_err(fail)?;
    Ok(Json(json!({})))
}

/// Small files: a POST policy (Uppy 6) or a presigned PUT (Uppy 5), for one new intent.
#[handler]
async fn params(
    Caller(session): Caller,
    state: Data<&Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
) -> UppyResult<Value> {
    let metadata: Map<String, Value> = query
        .iter()
        .filter_map(|(name, value)| {
            let field = name.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((field.to_owned(), Value::String(value.clone())))
        })
        .collect();
    let filename = query.get("filename").cloned().unwrap_or_default();
    let content_type = query.get("type").cloned().unwrap_or_default();
    let declaration = declaration(filename, content_type, metadata).map_err(fail)?;
    let uploads = &state.uploads;
    let upload = create_in_session(&state, &session, declaration, PlanChoice::Single).await?;
    let ttl = uploads.url_lifetime();
    match session.method {
        SmallFileMethod::Post => {
            let policy = uploads.form_upload(&upload).await.map_err(fail)?;
            let fields: Map<String, Value> = policy
                .fields
                .into_iter()
                .map(|(name, value)| (name, Value::String(value)))
                .collect();
            Ok(Json(json!({
                "method": "POST",
                "url": policy.url,
                "fields": fields,
                "expires": ttl.as_secs(),
            })))
        }
        SmallFileMethod::Put => {
            let signed = uploads.sign_parts_of(&upload, &[1]).await;
            if signed.is_err() {
                state.sessions.uncount_upload(&session).await;
            }
            let part = signed
                .map_err(fail)?
                .into_iter()
                .next()
                .ok_or_else(|| fail(UploadError::NotFound))?;
            let headers: Map<String, Value> = part
                .url
                .headers
                .into_iter()
                .map(|(name, value)| (name, Value::String(value)))
                .collect();
            Ok(Json(json!({
                "method": "PUT",
                "url": part.url.url,
                "headers": headers,
                "fields": {},
                "expires": ttl.as_secs(),
            })))
        }
    }
}
