//! Declared checksums: checked when an upload is declared or its parts' checksums arrive
//! later (a client hashing as it goes), recorded, signed into part URLs, and compared with
//! what storage reports before the object is assembled.

use uuid::Uuid;

use super::{SignedPart, UploadError, Uploads};
use crate::auth::Owner;
use crate::db;
use crate::domain::{ChecksumAlgorithm, Checksums, InvalidInput, PartPlan, Upload};
use crate::storage::StoredPart;

/// Checksums as a client sends them, not yet checked.
#[derive(Clone, Debug, Default)]
pub struct DeclaredChecksums {
    pub algorithm: Option<ChecksumAlgorithm>,
    /// Base64 digests of the first parts, in order.
    pub parts: Vec<String>,
    /// The whole file's SHA-256, base64.
    pub sha256: Option<String>,
}

fn invalid(reason: impl Into<String>) -> UploadError {
    InvalidInput::Checksum {
        reason: reason.into(),
    }
    .into()
}

/// A digest for a part of an upload checked with `algorithm`. One that would be valid for
/// another algorithm conflicts with the upload's declaration rather than being malformed.
fn digest_of(algorithm: ChecksumAlgorithm, digest: &str) -> Result<String, UploadError> {
    algorithm.parse_digest(digest).map_err(|invalid| {
        let of_another = ChecksumAlgorithm::ALL
            .iter()
            .any(|other| other.parse_digest(digest).is_ok());
        if of_another {
            UploadError::ChecksumAlgorithmMismatch(algorithm)
        } else {
            invalid.into()
        }
    })
}

impl Uploads {
    pub(super) fn checked_checksums(
        &self,
        declared: DeclaredChecksums,
        plan: &PartPlan,
    ) -> Result<Checksums, UploadError> {
        if self.policy.require_checksums && declared.algorithm.is_none() {
            return Err(InvalidInput::ChecksumsRequired.into());
        }
        let sha256 = declared
            .sha256
            .as_deref()
            .map(|digest| ChecksumAlgorithm::Sha256.parse_digest(digest))
            .transpose()?;
        let Some(algorithm) = declared.algorithm else {
            if !declared.parts.is_empty() {
                return Err(invalid("part_checksums need a checksum_algorithm"));
            }
            return Ok(Checksums {
                algorithm: None,
                parts: Vec::new(),
                sha256,
            });
        };
        if declared.parts.len() > plan.part_count as usize {
            return Err(invalid(format!(
                "{} part checksums for {} parts",
                declared.parts.len(),
                plan.part_count
            )));
        }
        let mut parts = vec![None; plan.part_count as usize];
        for (slot, digest) in parts.iter_mut().zip(&declared.parts) {
            *slot = Some(algorithm.parse_digest(digest)?);
        }
        Ok(Checksums {
            algorithm: Some(algorithm),
            parts,
            sha256,
        })
    }

    /// Records the checksums of parts (a client that hashes as it goes), then signs their
    /// URLs. A part's checksum, once given, cannot change.
    pub async fn sign_parts_with_checksums(
        &self,
        owner: &Owner,
        id: Uuid,
        given: Vec<(u32, String)>,
    ) -> Result<Vec<SignedPart>, UploadError> {
        let upload = self.get_pending(owner, id).await?;
        let algorithm = upload
            .checksums
            .algorithm
            .ok_or(UploadError::ChecksumsNotDeclared)?;
        let numbers = super::check_part_numbers(&upload, given.iter().map(|(n, _)| *n))?;
        let mut checked = Vec::with_capacity(given.len());
        for (number, digest) in given {
            checked.push((number, digest_of(algorithm, &digest)?));
        }
        let recorded = {
            let mut client = db::client(&self.db).await?;
            let tx = client.transaction().await?;
            let Some(mut recorded) = db::uploads::lock_part_checksums(&tx, id).await? else {
                return Err(UploadError::NotPending(upload.status));
            };
            recorded.resize(upload.plan.part_count as usize, None);
            for (number, digest) in checked {
                let slot = &mut recorded[number as usize - 1];
                match slot {
                    Some(known) if *known != digest => {
                        return Err(UploadError::ChecksumConflict { number });
                    }
                    _ => *slot = Some(digest),
                }
            }
            db::uploads::set_part_checksums(&tx, id, &recorded).await?;
            tx.commit().await?;
            recorded
        };
        let upload = Upload {
            checksums: Checksums {
                parts: recorded,
                ..upload.checksums
            },
            ..upload
        };
        self.sign(&upload, &numbers).await
    }
}

/// Parts storage reports a checksum for that differs from the declared one.
pub(super) fn mismatched_parts(checksums: &Checksums, stored: &[StoredPart]) -> Vec<u32> {
    stored
        .iter()
        .filter(|part| {
            let declared = checksums.of_part(part.number);
            matches!((declared, &part.checksum), (Some(d), Some(s)) if d != s)
        })
        .map(|part| part.number)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(number: u32, checksum: Option<&str>) -> StoredPart {
        StoredPart {
            number,
            etag: format!("e{number}"),
            size: 1,
            checksum: checksum.map(str::to_owned),
        }
    }

    #[test]
    fn a_part_storage_records_with_another_checksum_is_a_mismatch() {
        let checksums = Checksums {
            algorithm: Some(ChecksumAlgorithm::Crc32),
            parts: vec![Some("AAAAAA==".into()), Some("AQEBAQ==".into()), None],
            sha256: None,
        };
        let held = [
            stored(1, Some("AAAAAA==")),
            stored(2, Some("AgICAg==")),
            // Storage reported none, or nothing was declared: nothing to compare.
            stored(3, Some("AwMDAw==")),
            stored(4, None),
        ];
        assert_eq!(mismatched_parts(&checksums, &held), vec![2]);
    }
}
