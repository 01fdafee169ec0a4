//! The S3 client wrapper: presigning, multipart calls and object checks. Two SDK clients share
//! one configuration except the endpoint: one talks to storage from the service, the other signs
//! URLs for the host clients reach (they differ behind Docker networks or proxies).

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Builder, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use chrono::{DateTime, Utc};

use crate::config::StorageSettings;

mod credentials;
mod post_policy;

pub use credentials::StorageCredentials;
use post_policy::PolicySigner;
pub use post_policy::PostPolicy;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The multipart upload no longer exists (completed, aborted or never created).
    #[error("no such multipart upload")]
    NoSuchUpload,
    /// Storage refused a part list in CompleteMultipartUpload (unknown part or wrong ETag).
    #[error("storage refused the part list: {0}")]
    InvalidPart(String),
    #[error("storage request failed: {0}")]
    Request(String),
}

impl<E, R> From<SdkError<E, R>> for StorageError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    fn from(err: SdkError<E, R>) -> Self {
        match err.code() {
            Some("NoSuchUpload") => Self::NoSuchUpload,
            Some("InvalidPart") | Some("InvalidPartOrder") | Some("EntityTooSmall") => {
                Self::InvalidPart(err.message().unwrap_or("invalid part").to_owned())
            }
            _ => Self::Request(DisplayErrorContext(&err).to_string()),
        }
    }
}

/// A URL the client can use until `expires_at`, and the headers it must send with it.
#[derive(Clone, Debug)]
pub struct PresignedUrl {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

/// A part storage holds for a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPart {
    pub number: u32,
    pub etag: String,
    pub size: u64,
}

/// What a HEAD of an object tells.
#[derive(Clone, Debug)]
pub struct ObjectInfo {
    pub size: u64,
    pub content_type: Option<String>,
    pub etag: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Storage {
    client: Client,
    presigner: Client,
    bucket: String,
    /// For POST policies, which we sign ourselves.
    credentials: StorageCredentials,
    region: String,
    public_endpoint: String,
    /// Single-PUT URLs carry a signed `If-None-Match: *`: storage refuses a second PUT.
    write_once: bool,
}

/// A multipart upload storage holds, as listed.
#[derive(Clone, Debug)]
pub struct InProgress {
    pub key: String,
    pub upload_id: String,
    pub initiated: Option<DateTime<Utc>>,
}

impl Storage {
    pub fn new(settings: &StorageSettings, credentials: StorageCredentials) -> Self {
        let base = Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .credentials_provider(credentials.provider())
            .force_path_style(settings.path_style)
            // Checksums only where S3 requires them: S3-compatible stores differ in support.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(30))
                    .build(),
            );
        let client = Client::from_conf(base.clone().endpoint_url(&settings.endpoint).build());
        let presigner = Client::from_conf(base.endpoint_url(settings.public_endpoint()).build());
        Self {
            client,
            presigner,
            bucket: settings.bucket.clone(),
            credentials,
            region: settings.region.clone(),
            public_endpoint: settings.public_endpoint().trim_end_matches('/').to_owned(),
            write_once: false,
        }
    }

    /// Whether single-PUT URLs are signed write-once.
    pub fn with_write_once(mut self, write_once: bool) -> Self {
        self.write_once = write_once;
        self
    }

    pub fn write_once(&self) -> bool {
        self.write_once
    }

    /// Whether storage refuses a PUT with `If-None-Match: *` over an existing object: writes a
    /// scratch object under `prefix` (where our credentials may write) twice, then removes it.
    pub async fn probe_write_once(&self, prefix: &str) -> Result<bool, StorageError> {
        let key = format!(
            "{}/.write-once-probe/{}",
            prefix.trim_matches('/'),
            uuid::Uuid::new_v4()
        );
        let put = || {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .if_none_match("*")
                .body(aws_sdk_s3::primitives::ByteStream::from_static(b"probe"))
                .send()
        };
        put().await?;
        let second = put().await;
        let _ = self.delete(&key).await;
        Ok(match second {
            Ok(_) => false,
            // 412 from SeaweedFS and AWS, 304 reported from MinIO, 409 for a racing write.
            Err(err) => err
                .raw_response()
                .is_some_and(|raw| matches!(raw.status().as_u16(), 304 | 409 | 412)),
        })
    }

    /// Where clients find an object (path style).
    pub fn object_url(&self, key: &str) -> String {
        format!("{}/{}/{}", self.public_endpoint, self.bucket, key)
    }

    /// A browser form upload (POST policy) of exactly `length` bytes of `content_type` to `key`.
    pub async fn presign_post(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        ttl: Duration,
    ) -> Result<PostPolicy, StorageError> {
        let credentials = self.credentials.current().await?;
        let now = Utc::now();
        Ok(PolicySigner {
            access_key: credentials.access_key_id(),
            secret_key: credentials.secret_access_key(),
            session_token: credentials.session_token(),
            region: &self.region,
            bucket_url: format!("{}/{}", self.public_endpoint, self.bucket),
            bucket: &self.bucket,
        }
        .sign(key, content_type, length, now, now + ttl))
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Whether the bucket is reachable with our credentials.
    pub async fn check(&self) -> Result<(), StorageError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await?;
        Ok(())
    }

    /// Starts a multipart upload; returns its upload id.
    pub async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<String, StorageError> {
        let output = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await?;
        output
            .upload_id()
            .map(str::to_owned)
            .ok_or_else(|| StorageError::Request("CreateMultipartUpload returned no id".into()))
    }

    /// A PUT of exactly `length` bytes of `content_type` to `key`.
    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        ttl: Duration,
    ) -> Result<PresignedUrl, StorageError> {
        let mut request = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length as i64);
        if self.write_once {
            request = request.if_none_match("*");
        }
        let request = request.presigned(presigning(ttl)?).await?;
        Ok(presigned_url(&request, ttl))
    }

    /// An UploadPart of exactly `length` bytes.
    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        length: u64,
        ttl: Duration,
    ) -> Result<PresignedUrl, StorageError> {
        let request = self
            .presigner
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number as i32)
            .content_length(length as i64)
            .presigned(presigning(ttl)?)
            .await?;
        Ok(presigned_url(&request, ttl))
    }

    /// Every part storage holds for the upload, in part-number order.
    pub async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<StoredPart>, StorageError> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.take())
                .send()
                .await?;
            parts.extend(page.parts().iter().filter_map(|part| {
                Some(StoredPart {
                    number: u32::try_from(part.part_number()?).ok()?,
                    etag: part.e_tag()?.to_owned(),
                    size: u64::try_from(part.size()?).ok()?,
                })
            }));
            match page.next_part_number_marker() {
                Some(next) if page.is_truncated() == Some(true) => marker = Some(next.to_owned()),
                _ => break,
            }
        }
        parts.sort_by_key(|p| p.number);
        Ok(parts)
    }

    /// Assembles the object from `parts` (number, ETag), in order.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<(), StorageError> {
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|(number, etag)| {
                        CompletedPart::builder()
                            .part_number(*number as i32)
                            .e_tag(etag)
                            .build()
                    })
                    .collect(),
            ))
            .build();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(completed)
            .send()
            .await?;
        Ok(())
    }

    /// Aborts a multipart upload; one already gone counts as aborted.
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StorageError> {
        let result = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
        match result.map_err(StorageError::from) {
            Ok(_) | Err(StorageError::NoSuchUpload) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// The object's size and type, or `None` when there is no such object.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        let result = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(ObjectInfo {
                size: output.content_length().unwrap_or(0).max(0) as u64,
                content_type: output.content_type().map(str::to_owned),
                etag: output.e_tag().map(str::to_owned),
            })),
            Err(SdkError::ServiceError(err)) if err.err().is_not_found() => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Removes what storage may hold of an upload: its multipart upload, then its object.
    /// Both are idempotent: nothing there counts as done.
    pub async fn clean(&self, key: &str, upload_id: Option<&str>) -> Result<(), StorageError> {
        if let Some(upload_id) = upload_id {
            self.abort_multipart(key, upload_id).await?;
        }
        self.delete(key).await
    }

    /// Multipart uploads in progress under `prefix`, at most `max` of them.
    pub async fn list_in_progress(
        &self,
        prefix: &str,
        max: usize,
    ) -> Result<Vec<InProgress>, StorageError> {
        let mut found = Vec::new();
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        while found.len() < max {
            let page = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await?;
            found.extend(page.uploads().iter().filter_map(|upload| {
                Some(InProgress {
                    key: upload.key()?.to_owned(),
                    upload_id: upload.upload_id()?.to_owned(),
                    initiated: upload
                        .initiated()
                        .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
                })
            }));
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            id_marker = page.next_upload_id_marker().map(str::to_owned);
            if key_marker.is_none() {
                break;
            }
        }
        found.truncate(max);
        Ok(found)
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }
}

fn presigning(ttl: Duration) -> Result<PresigningConfig, StorageError> {
    PresigningConfig::expires_in(ttl).map_err(|e| StorageError::Request(e.to_string()))
}

fn presigned_url(
    request: &aws_sdk_s3::presigning::PresignedRequest,
    ttl: Duration,
) -> PresignedUrl {
    PresignedUrl {
        url: request.uri().to_owned(),
        // Browsers set Host and Content-Length themselves and refuse to be told.
        headers: request
            .headers()
            .filter(|(name, _)| {
                !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length")
            })
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
        expires_at: Utc::now() + ttl,
    }
}
