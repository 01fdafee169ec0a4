//! `/api/uploads`: declare, sign, resume, complete, abort and read uploads.

use crate::error_codes as codes;
use std::collections::BTreeMap;
use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::Value;
use uuid::Uuid;

use super::ApiTags;
use super::error::ErrorBody;
use super::json_string::JsonString;
use super::models::{ChecksumAlgorithmView, PartUrlView, StatusView, StoredPartView, UploadView};
use super::operation_errors::{CreateErrors, DownloadErrors, ReadErrors, UploadActionErrors};
use super::security::BearerAuth;
use crate::state::AppState;
use crate::uploads::{Declaration, DeclaredChecksums, PageRequest, PlanChoice};

/// A declaration of an upload.
#[derive(Object, Debug)]
pub struct CreateUploadRequest {
    /// Original file name, as the user chose it (1-255 bytes, no path).
    pub filename: JsonString,
    /// Exact size in bytes.
    pub size: i64,
    /// Media type of the file; must be in the service's allow-list (`video/*` by default).
    pub content_type: JsonString,
    /// Title shown on the platform (1-200 characters).
    pub title: JsonString,
    /// Free-form JSON object kept with the upload (8 KiB at most; a NUL character, which
    /// PostgreSQL cannot keep, is stored as U+FFFD).
    pub metadata: Option<BTreeMap<String, Value>>,
    /// Part size chosen by the client (5 MiB to 5 GiB, at most 10,000 parts), so it can hash
    /// its parts before asking; one PUT when a part holds the whole file.
    pub part_size: Option<u64>,
    // Documented on the type: a description here would make the schema an `allOf`.
    pub checksum_algorithm: Option<ChecksumAlgorithmView>,
    /// Base64 checksums of the first parts, in order (for a single PUT, the file's). Parts
    /// without one get their URL once their checksum is given to `POST .../parts`.
    pub part_checksums: Option<Vec<JsonString>>,
    /// The whole file's SHA-256, base64: kept and passed on to the worker.
    pub sha256: Option<JsonString>,
}

/// A part and its checksum, for clients that hash as they go.
#[derive(Object, Debug)]
pub struct PartWithChecksum {
    pub part_number: u32,
    /// Base64 digest of the part's bytes, of the upload's algorithm.
    pub checksum: JsonString,
}

#[derive(Object, Debug)]
pub struct SignPartsRequest {
    /// Part numbers to sign (1 to 1000 of them, each within the plan).
    pub part_numbers: Option<Vec<u32>>,
    /// Or parts with their checksums (uploads declared with `checksum_algorithm`): recorded,
    /// then signed.
    pub parts: Option<Vec<PartWithChecksum>>,
}

#[derive(Object, Debug)]
pub struct PartUrls {
    pub parts: Vec<PartUrlView>,
}

#[derive(Object, Debug)]
pub struct StoredParts {
    pub parts: Vec<StoredPartView>,
}

#[derive(Object, Debug)]
pub struct CompletedPart {
    pub part_number: u32,
    /// The ETag storage returned for the part's PUT.
    pub etag: JsonString,
}

#[derive(Object, Debug)]
pub struct CompleteUploadRequest {
    /// The parts to assemble. When omitted, the parts storage holds are used.
    pub parts: Option<Vec<CompletedPart>>,
}

#[derive(Object, Debug)]
pub struct UploadPage {
    /// The caller's uploads, newest first.
    pub items: Vec<UploadView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum CreatedResponse {
    /// The intent is recorded; upload the bytes through `parts`. `Idempotent-Replayed: true`
    /// says an earlier request with the same `Idempotency-Key` created it.
    #[oai(status = 201)]
    Created(
        Json<UploadView>,
        #[oai(header = "Location")] String,
        #[oai(header = "Idempotent-Replayed")] Option<String>,
    ),
}

#[derive(ApiResponse)]
pub enum DownloadResponse {
    /// Fetch the object from `Location` (a presigned GET, valid for at most five minutes); it
    /// is saved under the upload's filename.
    #[oai(status = 302)]
    Found(
        #[oai(header = "Location")] String,
        #[oai(header = "Cache-Control")] String,
    ),
}

/// The request's `Idempotency-Key`, read from the header itself: the typed parameter drops a
/// value that is not visible ASCII, which would turn a retry into a second upload.
fn idempotency_key(req: &Request) -> Result<Option<String>, crate::uploads::UploadError> {
    req.headers()
        .get("idempotency-key")
        .map(|value| {
            value.to_str().map(str::to_owned).map_err(|_| {
                crate::uploads::UploadError::InvalidIdempotencyKey {
                    max: crate::uploads::IDEMPOTENCY_KEY_MAX_BYTES,
                }
            })
        })
        .transpose()
}

/// The upload as shown, saying whether storage verifies declared checksums.
fn view(state: &AppState, upload: crate::domain::Upload) -> UploadView {
    UploadView::new(upload, state.uploads.checksums_verified())
}

pub struct UploadsApi;

#[OpenApi(tag = "ApiTags::Uploads")]
impl UploadsApi {
    /// Declare an upload
    ///
    /// Records the intent and returns presigned URLs: one PUT for small files, S3 multipart
    /// parts (each signed for its exact size) for large ones. With an `Idempotency-Key`, a
    /// retry (concurrent ones included) gets the same upload.
    #[oai(path = "/api/uploads", method = "post", operation_id = "createUpload")]
    async fn create(
        &self,
        req: &Request,
        auth: BearerAuth,
        state: Data<&Arc<AppState>>,
        /// Makes a retry safe: the same key and body give the upload the first request created
        /// (with fresh URLs), for a day; the same key with another body is refused.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: Header<Option<String>>,
        body: Json<CreateUploadRequest>,
    ) -> Result<CreatedResponse, CreateErrors> {
        let Json(body) = body;
        let choice = body
            .part_size
            .map_or(PlanChoice::Auto, PlanChoice::ChosenPartSize);
        let declaration = Declaration {
            filename: body.filename.into_inner(),
            size: body.size,
            content_type: body.content_type.into_inner(),
            title: body.title.into_inner(),
            metadata: body
                .metadata
                .map(|map| Value::Object(map.into_iter().collect())),
            checksums: DeclaredChecksums {
                algorithm: body.checksum_algorithm.map(Into::into),
                parts: body
                    .part_checksums
                    .unwrap_or_default()
                    .into_iter()
                    .map(JsonString::into_inner)
                    .collect(),
                sha256: body.sha256.map(JsonString::into_inner),
            },
        };
        let (created, replayed) = match idempotency_key(req)? {
            Some(key) => {
                let once = state
                    .uploads
                    .create_once(&auth.0, &key, declaration, choice)
                    .await?;
                (once.created, once.replayed)
            }
            None => (
                state.uploads.create(&auth.0, declaration, choice).await?,
                false,
            ),
        };
        let location = format!("/api/uploads/{}", created.upload.id);
        let mut view = view(&state, created.upload);
        view.parts = Some(created.parts.into_iter().map(Into::into).collect());
        Ok(CreatedResponse::Created(
            Json(view),
            location,
            replayed.then(|| "true".to_owned()),
        ))
    }

    /// List your uploads
    ///
    /// Newest first, `limit` per page (1 to 100, default 20); `cursor` is the previous page's
    /// `next_cursor`. `status` (repeatable) keeps only those statuses: `status=pending` is
    /// what a device can resume. `progress=true` adds what storage holds of each pending one.
    #[oai(path = "/api/uploads", method = "get", operation_id = "listUploads")]
    async fn list(
        &self,
        auth: BearerAuth,
        state: Data<&Arc<AppState>>,
        limit: Query<Option<i64>>,
        cursor: Query<Option<String>>,
        /// Only uploads in these statuses (all when absent).
        status: Query<Option<Vec<StatusView>>>,
        /// Ask storage what it holds of each pending upload listed.
        progress: Query<Option<bool>>,
    ) -> Result<Json<UploadPage>, ReadErrors> {
        let page = state
            .uploads
            .list(
                &auth.0,
                PageRequest {
                    limit: limit.0,
                    cursor: cursor.0,
                    statuses: status
                        .0
                        .unwrap_or_default()
                        .into_iter()
                        .map(Into::into)
                        .collect(),
                    progress: progress.0.unwrap_or(false),
                },
            )
            .await?;
        let mut progress = page.progress;
        Ok(Json(UploadPage {
            items: page
                .items
                .into_iter()
                .map(|upload| {
                    let found = progress.remove(&upload.id);
                    let mut shown = view(&state, upload);
                    shown.progress = found.map(Into::into);
                    shown
                })
                .collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// Get an upload
    #[oai(path = "/api/uploads/:id", method = "get", operation_id = "getUpload")]
    async fn get(
        &self,
        auth: BearerAuth,
        state: Data<&Arc<AppState>>,
        id: Path<Uuid>,
    ) -> Result<Json<UploadView>, ReadErrors> {
        Ok(Json(view(&state, state.uploads.get(&auth.0, id.0).await?)))
    }

    /// Download an upload
    ///
    /// Redirects the owner to a short-lived presigned GET of the object, once its bytes are
    /// confirmed (`uploaded` and after).
    #[oai(
        path = "/api/uploads/:id/download",
        method = "get",
        operation_id = "downloadUpload"
    )]
    async fn download(
        &self,
        auth: BearerAuth,
        state: Data<&Arc<AppState>>,
        id: Path<Uuid>,
    ) -> Result<DownloadResponse, DownloadErrors> {
        let link = state.uploads.download_link(&auth.0, id.0).await?;
        Ok(DownloadResponse::Found(link.url, "no-store".to_owned()))
    }

    /// Sign parts again
    ///
    /// Fresh presigned URLs for the given parts: to resume, or when earlier URLs expired.
    #[oai(
        path = "/api/uploads/:id/parts",
        method = "post",
        operation_id = "signParts"
    )]
    async fn sign_parts(
        &self,
        auth: BearerAuth,
        state: Data<&Arc<AppState>>,
        id: Path<Uuid>,
        body: Json<SignPartsRequest>,
    ) -> Result<Json<PartUrls>, UploadActionErrors> {
        let uploads = &state.uploads;
        let signed = match body.0 {
            SignPartsRequest {
                parts: Some(parts),
                part_numbers: None,
            } => {
                let given = parts
                    .into_iter()
                    .map(|p| (p.part_number, p.checksum.into_inner()))
                    .collect();
                uploads
                    .sign_parts_with_checksums(&auth.0, id.0, given)
                    .await?
            }
            SignPartsRequest {
                part_numbers: Some(numbers),
                parts: None,
            } => uploads.sign_parts(&auth.0, id.0, &numbers).await?,
            _ => {
                return Err(UploadActionErrors::Unprocessable(ErrorBody::new(
                    codes::INVALID_PART_REQUEST,
                    "give either part_numbers or parts",
                )));
            }
        };
        Ok(Json(PartUrls {
            parts: signed.into_iter().map(Into::into).collect(),
        }))
    }

    /// List uploaded parts
    ///
    /// The parts storage already holds, so a client can resume after a reload.
    #[oai(
        path = "/api/uploads/:id/parts",
        method = "get",
        operation_id = "listParts"
    )]
    async fn list_parts(
        &self,
        auth: BearerAuth,
        state: Data<&Arc<AppState>>,
        id: Path<Uuid>,
    ) -> Result<Json<StoredParts>, UploadActionErrors> {
        let parts = state.uploads.stored_parts(&auth.0, id.0).await?;
        Ok(Json(StoredParts {
            parts: parts.into_iter().map(Into::into).collect(),
        }))
    }

    /// Complete an upload
    ///
    /// Assembles the parts and confirms the object against the declaration. An object that
    /// does not match is deleted and the upload `rejected`. Completing twice is harmless.
    #[oai(
        path = "/api/uploads/:id/complete",
        method = "post",
        operation_id = "completeUpload"
    )]
    async fn complete(
        &self,
        auth: BearerAuth,
        state: Data<&Arc<AppState>>,
        id: Path<Uuid>,
        body: Json<Option<CompleteUploadRequest>>,
    ) -> Result<Json<UploadView>, UploadActionErrors> {
        let received_at = chrono::Utc::now();
        let parts = body.0.and_then(|b| b.parts).map(|parts| {
            parts
                .into_iter()
                .map(|p| (p.part_number, p.etag.into_inner()))
                .collect()
        });
        let completed = state
            .uploads
            .complete(&auth.0, id.0, parts, received_at)
            .await?;
        Ok(Json(view(&state, completed)))
    }

    /// Abort an upload
    ///
    /// Discards the parts uploaded so far; the upload becomes `aborted`.
    #[oai(
        path = "/api/uploads/:id",
        method = "delete",
        operation_id = "abortUpload"
    )]
    async fn abort(
        &self,
        auth: BearerAuth,
        state: Data<&Arc<AppState>>,
        id: Path<Uuid>,
    ) -> Result<Json<UploadView>, UploadActionErrors> {
        Ok(Json(view(
            &state,
            state.uploads.abort(&auth.0, id.0).await?,
        )))
    }
}
