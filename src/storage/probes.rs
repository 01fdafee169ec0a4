//! What storage enforces, found out at startup on scratch objects under the key prefix:
//! whether it refuses a second PUT signed `If-None-Match: *` (write once), and whether it
//! refuses bytes whose checksum header does not match (declared checksums).

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

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
    /// `(write once, checksums)`.
    pub async fn enforcement(
        &self,
        write_once: Enforcement,
        checksums: Enforcement,
        prefix: &str,
    ) -> (bool, bool) {
        let (write_once, checksums) = tokio::join!(
            decide(
                write_once,
                "UC_S3_WRITE_ONCE",
                self.probe_write_once(prefix)
            ),
            decide(checksums, "UC_S3_CHECKSUMS", self.probe_checksums(prefix)),
        );
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
        (write_once, checksums)
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
