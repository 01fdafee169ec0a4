//! S3 multipart uploads: created, listed, completed, aborted, and found when no one knows them.
//! Their parts' URLs are presigned in `presigned`.

use aws_sdk_s3::types::{ChecksumAlgorithm as S3Checksum, CompletedMultipartUpload, CompletedPart};
use chrono::DateTime;

use super::{InProgress, Storage, StorageError, StoredPart};
use crate::domain::ChecksumAlgorithm;

/// The S3 name of an algorithm S3 checksums parts with (MD5 is a plain header, not one).
fn s3_algorithm(algorithm: ChecksumAlgorithm) -> Option<S3Checksum> {
    match algorithm {
        ChecksumAlgorithm::Sha256 => Some(S3Checksum::Sha256),
        ChecksumAlgorithm::Crc32 => Some(S3Checksum::Crc32),
        ChecksumAlgorithm::Crc32c => Some(S3Checksum::Crc32C),
        ChecksumAlgorithm::Md5 => None,
    }
}

/// A part to assemble: its number, ETag and, where storage recorded it, checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartToAssemble {
    pub number: u32,
    pub etag: String,
    pub checksum: Option<String>,
}

impl Storage {
    /// Starts a multipart upload; returns its upload id. With a checksum algorithm, storage
    /// is told which one the parts will carry (AWS S3 requires it).
    pub async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        algorithm: Option<ChecksumAlgorithm>,
    ) -> Result<String, StorageError> {
        let output = self
            .timer
            .time(
                "CreateMultipartUpload",
                self.client
                    .create_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .content_type(content_type)
                    .set_checksum_algorithm(algorithm.and_then(s3_algorithm))
                    .send(),
            )
            .await?;
        output
            .upload_id()
            .map(str::to_owned)
            .ok_or_else(|| StorageError::Request("CreateMultipartUpload returned no id".into()))
    }

    /// Every part storage holds for the upload, in part-number order, with the checksums of
    /// `algorithm` storage reports.
    pub async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
        algorithm: Option<ChecksumAlgorithm>,
    ) -> Result<Vec<StoredPart>, StorageError> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .timer
                .time(
                    "ListParts",
                    self.client
                        .list_parts()
                        .bucket(&self.bucket)
                        .key(key)
                        .upload_id(upload_id)
                        .set_part_number_marker(marker.take())
                        .send(),
                )
                .await?;
            parts.extend(page.parts().iter().filter_map(|part| {
                let checksum = algorithm.and_then(|algorithm| match algorithm {
                    ChecksumAlgorithm::Sha256 => part.checksum_sha256(),
                    ChecksumAlgorithm::Crc32 => part.checksum_crc32(),
                    ChecksumAlgorithm::Crc32c => part.checksum_crc32_c(),
                    ChecksumAlgorithm::Md5 => None,
                });
                Some(StoredPart {
                    number: u32::try_from(part.part_number()?).ok()?,
                    etag: part.e_tag()?.to_owned(),
                    size: u64::try_from(part.size()?).ok()?,
                    checksum: checksum.filter(|c| !c.is_empty()).map(str::to_owned),
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

    /// Assembles the object from `parts`, in order, passing on the parts' checksums of
    /// `algorithm` where given. Returns the object's ETag, when storage tells it.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[PartToAssemble],
        algorithm: Option<ChecksumAlgorithm>,
    ) -> Result<Option<String>, StorageError> {
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|part| {
                        let builder = CompletedPart::builder()
                            .part_number(part.number as i32)
                            .e_tag(&part.etag);
                        let checksum = part.checksum.clone();
                        match algorithm {
                            Some(ChecksumAlgorithm::Sha256) => {
                                builder.set_checksum_sha256(checksum)
                            }
                            Some(ChecksumAlgorithm::Crc32) => builder.set_checksum_crc32(checksum),
                            Some(ChecksumAlgorithm::Crc32c) => {
                                builder.set_checksum_crc32_c(checksum)
                            }
                            Some(ChecksumAlgorithm::Md5) | None => builder,
                        }
                        .build()
                    })
                    .collect(),
            ))
            .build();
        let output = self
            .timer
            .time(
                "CompleteMultipartUpload",
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .multipart_upload(completed)
                    .send(),
            )
            .await?;
        Ok(output.e_tag().map(str::to_owned))
    }

    /// Aborts a multipart upload; one already gone counts as aborted.
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StorageError> {
        let result = self
            .timer
            .time(
                "AbortMultipartUpload",
                self.client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .send(),
            )
            .await;
        match result.map_err(StorageError::from) {
            Ok(_) | Err(StorageError::NoSuchUpload) => Ok(()),
            Err(err) => Err(err),
        }
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
                .timer
                .time(
                    "ListMultipartUploads",
                    self.client
                        .list_multipart_uploads()
                        .bucket(&self.bucket)
                        .prefix(prefix)
                        .set_key_marker(key_marker.take())
                        .set_upload_id_marker(id_marker.take())
                        .send(),
                )
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
}
