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
use chrono::{DateTime, Utc};

use crate::config::StorageSettings;
use crate::domain::ChecksumAlgorithm;

mod credentials;
mod multipart;
mod post_policy;
mod presigned;
mod probes;
mod query_signer;
mod sigv4;
mod timing;

pub use credentials::StorageCredentials;
pub use multipart::PartToAssemble;
use post_policy::PolicySigner;
pub use post_policy::PostPolicy;
pub use timing::CallTimer;

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
    /// The checksum storage recorded for the part, when it reports one of the upload's
    /// algorithm.
    pub checksum: Option<String>,
}

/// A part's declared checksum, to sign into its URL or hand to storage.
#[derive(Clone, Copy, Debug)]
pub struct PartChecksum<'a> {
    pub algorithm: ChecksumAlgorithm,
    pub digest: &'a str,
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
    /// Storage refuses bytes whose checksum header does not match them.
    checksums_enforced: bool,
    /// Storage refuses a presigned PUT of another length than the one signed.
    lengths_enforced: bool,
    /// Signs presigned URLs here instead of through the SDK (see `with_own_presigner`).
    own_signer: Option<query_signer::QuerySigner>,
    timer: CallTimer,
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
            // Our cache only, so what the SDK signs is what lifetimes are measured against.
            .credentials_provider(credentials.for_the_sdk())
            .identity_cache(aws_sdk_s3::config::IdentityCache::no_cache())
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
            checksums_enforced: false,
            lengths_enforced: false,
            own_signer: None,
            timer: CallTimer::default(),
        }
    }

    /// Times every call to storage with `timer`.
    pub fn timed_by(mut self, timer: CallTimer) -> Self {
        self.timer = timer;
        self
    }

    /// What storage was found (or said) to enforce.
    pub fn with_enforcement(mut self, write_once: bool, checksums: bool, lengths: bool) -> Self {
        self.write_once = write_once;
        self.checksums_enforced = checksums;
        self.lengths_enforced = lengths;
        self
    }

    /// Whether every part of a multipart upload holds exactly the length its URL was signed
    /// for (storage refuses any other).
    pub fn lengths_enforced(&self) -> bool {
        self.lengths_enforced
    }

    pub fn checksums_enforced(&self) -> bool {
        self.checksums_enforced
    }

    pub fn write_once(&self) -> bool {
        self.write_once
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
        // A policy dies with the credentials that signed it: it says so rather than outlive them.
        let ttl = credentials::lifetime(&credentials, now.into(), ttl);
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
        self.timer
            .time(
                "HeadBucket",
                self.client.head_bucket().bucket(&self.bucket).send(),
            )
            .await?;
        Ok(())
    }

    /// The object's size and type, or `None` when there is no such object.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        let result = self
            .timer
            .time(
                "HeadObject",
                self.client
                    .head_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send(),
            )
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

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.timer
            .time(
                "DeleteObject",
                self.client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send(),
            )
            .await?;
        Ok(())
    }
}
