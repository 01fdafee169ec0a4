//! What storage enforces, found out at startup on scratch objects under the key prefix:
//! whether it refuses a second PUT signed `If-None-Match: *` (write once), whether it refuses
//! bytes whose checksum header does not match (declared checksums), and whether it refuses a
//! presigned PUT of another length than the one signed (signed lengths).

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::presigned::{presigned_url, presigning};
use super::{Storage, StorageError};
use crate::config::Enforcement;

/// As configured, or as the probe finds (a probe that fails counts as not enforced).
async fn decide(
    setting: Enforcement,
    variable: &str,
    probe: impl std::future::Future<Output = Result<bool, StorageError>>,
) -> bool {
    match setting {
        Enforcement::On => true,
        Enforcement::Off => false,
        Enforcement::Auto => probe.await.unwrap_or_else(|err| {
            tracing::warn!(error = %err, "could not probe storage; set {variable}=on or off");
            false
        }),
    }
}

impl Storage {
    /// What storage enforces, as configured or as the probes find (logged either way):
    /// `(write once, checksums, signed lengths)`. Signed lengths are always probed: a store
    /// found not to hold them gets its assembled objects checked with a HEAD.
    pub async fn enforcement(
        &self,
        write_once: Enforcement,
        checksums: Enforcement,
        prefix: &str,
    ) -> (bool, bool, bool) {
        let (write_once, checksums, signed_lengths) = tokio::join!(
            decide(
                write_once,
                "UC_S3_WRITE_ONCE",
                self.probe_write_once(prefix)
            ),
            decide(checksums, "UC_S3_CHECKSUMS", self.probe_checksums(prefix)),
            async {
                self.probe_signed_lengths(prefix).await.unwrap_or_else(|err| {
                    tracing::warn!(error = %err, "could not probe whether storage holds presigned PUTs to their signed length");
                    false
                })
            },
        );
        if signed_lengths {
            tracing::info!(
                "storage holds presigned PUTs to their signed length: a multipart complete is \
                 confirmed from CompleteMultipartUpload's answer"
            );
        } else {
            tracing::warn!(
                "storage did not refuse a PUT longer than its URL was signed for: parts are not \
                 held to their size by signature; each complete checks the object with a HEAD"
            );
        }
        if write_once {
            tracing::info!("single-PUT uploads are write-once (storage refuses a second PUT)");
        } else {
            tracing::warn!(
                "single-PUT uploads are not write-once: a confirmed object can be overwritten \
                 through its URL until the URL expires"
            );
        }
        if checksums {
            tracing::info!("storage verifies declared checksums");
        } else {
            tracing::warn!(
                "storage does not verify checksum headers: declared checksums are recorded and \
                 passed on, uploads say verified_by_storage: false"
            );
        }
        (write_once, checksums, signed_lengths)
    }

    /// Whether storage refuses a presigned PUT whose body is longer than the length signed
    /// into its URL: signs a PUT of 5 bytes to a scratch object under `prefix` and sends 6
    /// (through the endpoint the service uses), then removes anything stored.
    pub async fn probe_signed_lengths(&self, prefix: &str) -> Result<bool, StorageError> {
        let key = format!(
            "{}/.length-probe/{}",
            prefix.trim_matches('/'),
            uuid::Uuid::new_v4()
        );
        let ttl = std::time::Duration::from_secs(60);
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_length(5)
            .presigned(presigning(ttl)?)
            .await?;
        // As a client gets it: Host and Content-Length are its HTTP client's to set.
        let url = presigned_url(&request, chrono::Utc::now() + ttl);
        let mut put = reqwest::Client::new()
            .put(&url.url)
            .timeout(std::time::Duration::from_secs(10));
        for (name, value) in &url.headers {
            put = put.header(name, value);
        }
        let status = put
            .body(b"probe!".to_vec())
            .send()
            .await
            .map_err(|err| StorageError::Request(format!("the length probe's PUT: {err}")))?
            .status();
        if status.is_success() {
            let _ = self.delete(&key).await;
            return Ok(false);
        }
        // The signature covers Content-Length: storage that checks it answers 403.
        match status.as_u16() {
            403 => Ok(true),
            other => Err(StorageError::Request(format!(
                "the length probe's PUT answered {other}"
            ))),
        }
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
                .body(ByteStream::from_static(b"probe"))
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

    /// Whether storage refuses a PUT whose `x-amz-checksum-sha256` is another body's: it
    /// should answer 400 (BadDigest); one that stores the object ignores checksums.
    pub async fn probe_checksums(&self, prefix: &str) -> Result<bool, StorageError> {
        let key = format!(
            "{}/.checksum-probe/{}",
            prefix.trim_matches('/'),
            uuid::Uuid::new_v4()
        );
        let other_bytes = STANDARD.encode(Sha256::digest(b"other bytes"));
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .checksum_sha256(other_bytes)
            .body(ByteStream::from_static(b"probe"))
            .send()
            .await;
        // A refusal for the digest (BadDigest, XAmzContentChecksumMismatch, ...) is what
        // enforcing looks like; any other refusal says nothing about checksums.
        let enforced = match put {
            Ok(_) => false,
            Err(err) => {
                let status = err.raw_response().map(|raw| raw.status().as_u16());
                let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&err)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let about_digest = ["digest", "checksum", "mismatch"]
                    .iter()
                    .any(|word| code.contains(word));
                if status == Some(400) && about_digest {
                    true
                } else {
                    return Err(err.into());
                }
            }
        };
        let _ = self.delete(&key).await;
        Ok(enforced)
    }
}
