//! Completing an upload: assembling the parts (from the client's list, or from what storage
//! holds) and confirming the object. With checksums declared, storage's record of each part
//! is compared with them first, and they are handed to storage with the part list.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ConfirmOutcome, UploadError, Uploads, checksums};
use crate::auth::Owner;
use crate::domain::{PartPlan, Upload, UploadStatus};
use crate::storage::{ObjectInfo, PartToAssemble, StorageError, StoredPart};

impl Uploads {
    /// Assembles a multipart upload (from the client's part list, or from what storage holds)
    /// and confirms it. Completing an upload that is already confirmed returns it unchanged.
    pub async fn complete(
        &self,
        owner: &Owner,
        id: Uuid,
        parts: Option<Vec<(u32, String)>>,
        received_at: DateTime<Utc>,
    ) -> Result<Upload, UploadError> {
        let upload = self.get(owner, id).await?;
        if upload.status.is_confirmed() {
            return Ok(upload);
        }
        if upload.status != UploadStatus::Pending {
            return Err(UploadError::NotPending(upload.status));
        }
        // Until this returns (a HEAD included, where one is made), a storage event for the
        // object waits for us.
        let _completing = upload
            .storage_upload_id
            .is_some()
            .then(|| self.completing.start(upload.id));
        if let Some(upload_id) = &upload.storage_upload_id {
            let algorithm = upload.checksums.algorithm;
            // Storage's record is needed without a part list, and to verify checksums.
            let stored = if parts.is_none() || algorithm.is_some() {
                match self
                    .storage
                    .list_parts(&upload.key, upload_id, algorithm)
                    .await
                {
                    Ok(stored) => Some(stored),
                    // Already assembled (a concurrent or interrupted complete): confirm below.
                    Err(StorageError::NoSuchUpload) => None,
                    Err(err) => return Err(err.into()),
                }
            } else {
                None
            };
            let assemble = match (parts, &stored) {
                (Some(given), _) => check_given_parts(&upload.plan, given)?,
                (None, Some(stored)) => check_stored_parts(&upload.plan, stored)?,
                (None, None) => Vec::new(),
            };
            if let Some(stored) = &stored {
                let mismatched = checksums::mismatched_parts(&upload.checksums, stored);
                if !mismatched.is_empty() {
                    return Err(UploadError::ChecksumMismatch(mismatched));
                }
            }
            let parts: Vec<PartToAssemble> = assemble
                .into_iter()
                .map(|(number, etag)| PartToAssemble {
                    number,
                    etag,
                    checksum: upload.checksums.of_part(number).map(str::to_owned),
                })
                .collect();
            if !parts.is_empty() {
                match self
                    .storage
                    .complete_multipart(&upload.key, upload_id, &parts, algorithm)
                    .await
                {
                    // The object is every planned part, once: each PUT through a URL signed
                    // for that part's exact length (storage, probed at startup, refuses any
                    // other), under the content type our CreateMultipartUpload set. A HEAD
                    // would prove nothing more. Events and the reconciler, which did not
                    // assemble it, still ask; so does this, where lengths are not held.
                    Ok(etag) if self.storage.lengths_enforced() => {
                        let object = ObjectInfo {
                            size: upload.plan.size,
                            content_type: Some(upload.content_type.clone()),
                            etag,
                        };
                        let outcome = self.confirm_found(upload, object, received_at).await?;
                        return finished(outcome);
                    }
                    Ok(_) | Err(StorageError::NoSuchUpload) => {}
                    Err(StorageError::InvalidPart(msg)) => {
                        return Err(UploadError::InvalidPart(msg));
                    }
                    Err(err) => return Err(err.into()),
                }
            }
        }
        finished(self.confirm(upload, received_at).await?)
    }
}

/// What a complete answers once the upload was confirmed (or found no longer pending).
fn finished(outcome: ConfirmOutcome) -> Result<Upload, UploadError> {
    match outcome {
        // Aborted or expired meanwhile: the complete did not happen, whatever storage did
        // (the janitor removes it).
        ConfirmOutcome::Unchanged(now)
            if matches!(now.status, UploadStatus::Aborted | UploadStatus::Expired) =>
        {
            Err(UploadError::NotPending(now.status))
        }
        outcome => Ok(outcome.upload()),
    }
}

/// The client's part list, checked against the plan: every planned part exactly once.
fn check_given_parts(
    plan: &PartPlan,
    given: Vec<(u32, String)>,
) -> Result<Vec<(u32, String)>, UploadError> {
    super::check_in_plan(plan, given.iter().map(|(n, _)| *n))?;
    let mut parts = given;
    parts.sort_by_key(|(n, _)| *n);
    parts.dedup_by_key(|(n, _)| *n);
    let present: BTreeSet<u32> = parts.iter().map(|(n, _)| *n).collect();
    let missing: Vec<u32> = plan
        .parts()
        .map(|p| p.number)
        .filter(|n| !present.contains(n))
        .collect();
    if !missing.is_empty() {
        return Err(UploadError::PartsMissing(missing));
    }
    Ok(parts)
}

/// What storage holds, checked against the plan: every part present with its planned size.
fn check_stored_parts(
    plan: &PartPlan,
    stored: &[StoredPart],
) -> Result<Vec<(u32, String)>, UploadError> {
    let missing: Vec<u32> = plan
        .parts()
        .map(|p| p.number)
        .filter(|n| !stored.iter().any(|s| s.number == *n))
        .collect();
    if !missing.is_empty() {
        return Err(UploadError::PartsMissing(missing));
    }
    for part in plan.parts() {
        let held = stored.iter().find(|s| s.number == part.number);
        if let Some(held) = held
            && held.size != part.size
        {
            return Err(UploadError::PartSizeMismatch {
                number: part.number,
                expected: part.size,
                actual: held.size,
            });
        }
    }
    Ok(stored
        .iter()
        .filter(|s| plan.contains(s.number))
        .map(|s| (s.number, s.etag.clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn stored(number: u32, etag: &str, size: u64) -> StoredPart {
        StoredPart {
            number,
            etag: etag.into(),
            size,
            checksum: None,
        }
    }

    fn plan() -> PartPlan {
        PartPlan::new(20 * MIB, 8 * MIB, 8 * MIB)
    }

    #[test]
    fn a_part_list_missing_a_part_is_refused_with_the_missing_numbers() {
        let given = vec![(1, "a".to_owned()), (3, "c".to_owned())];
        match check_given_parts(&plan(), given) {
            Err(UploadError::PartsMissing(missing)) => assert_eq!(missing, vec![2]),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_part_list_naming_parts_outside_the_plan_is_refused() {
        let given = vec![
            (1, "a".into()),
            (2, "b".into()),
            (3, "c".into()),
            (9, "x".into()),
        ];
        assert!(matches!(
            check_given_parts(&plan(), given),
            Err(UploadError::PartsOutsidePlan { .. })
        ));
    }

    #[test]
    fn stored_parts_of_the_wrong_size_are_refused() {
        let stored = vec![
            stored(1, "a", 8 * MIB),
            stored(2, "b", 7 * MIB),
            stored(3, "c", 4 * MIB),
        ];
        assert!(matches!(
            check_stored_parts(&plan(), &stored),
            Err(UploadError::PartSizeMismatch { number: 2, .. })
        ));
    }

    #[test]
    fn complete_stored_parts_become_the_part_list() {
        let stored = vec![
            stored(1, "a", 8 * MIB),
            stored(2, "b", 8 * MIB),
            stored(3, "c", 4 * MIB),
        ];
        let parts = check_stored_parts(&plan(), &stored).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], (3, "c".to_owned()));
    }
}
