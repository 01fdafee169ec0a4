//! Idempotent create: a client that retries a declaration (after a timeout, say) with the same
//! `Idempotency-Key` and body gets the upload its first request created, with fresh URLs,
//! however many retries race each other. Keys belong to their owner and last a day.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::{CreatedUpload, Declaration, PlanChoice, UploadError, Uploads};
use crate::auth::Owner;
use crate::db::{self, idempotency::Claim};
use crate::domain::UploadStatus;

/// How long a key names its upload.
pub const KEY_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// A claim this old with no upload is taken over: the request that made it died.
const ABANDONED_AFTER: Duration = Duration::from_secs(60);
/// A retry racing the first request waits this long at most for its upload, looking this often.
const WAIT_FOR: Duration = Duration::from_secs(10);
const LOOK_EVERY: Duration = Duration::from_millis(25);
/// Keys are 1 to this many visible ASCII characters (a UUID is 36).
pub const MAX_KEY_BYTES: usize = 255;

/// A key this request claimed, and when: the claim is ours only while the key still bears
/// that instant.
#[derive(Clone, Copy, Debug)]
pub(super) struct ClaimedKey<'a> {
    pub key: &'a str,
    pub claimed_at: DateTime<Utc>,
}

/// What an idempotent create did.
pub struct IdempotentCreate {
    pub created: CreatedUpload,
    /// Whether an earlier request with the key created it.
    pub replayed: bool,
}

impl Uploads {
    /// Creates the upload `declaration` asks for, once per `owner` and `key`.
    pub async fn create_once(
        &self,
        owner: &Owner,
        key: &str,
        declaration: Declaration,
        choice: PlanChoice,
    ) -> Result<IdempotentCreate, UploadError> {
        if key.is_empty() || key.len() > MAX_KEY_BYTES || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(UploadError::InvalidIdempotencyKey { max: MAX_KEY_BYTES });
        }
        let fingerprint = fingerprint(&declaration, choice);
        let mut gives_up_at = Instant::now() + WAIT_FOR;
        loop {
            let client = db::client(&self.db).await?;
            let claim = db::idempotency::claim(
                &client,
                owner.as_str(),
                key,
                &fingerprint,
                KEY_LIFETIME.as_secs_f64(),
                ABANDONED_AFTER.as_secs_f64(),
            )
            .await?;
            drop(client);
            match claim {
                Claim::Ours { claimed_at } => {
                    let claimed = ClaimedKey { key, claimed_at };
                    match self
                        .create_as(
                            owner,
                            declaration.clone(),
                            choice,
                            Some(claimed),
                            super::create::FirstUrls::Signed,
                        )
                        .await
                    {
                        Ok(created) => {
                            return Ok(IdempotentCreate {
                                created,
                                replayed: false,
                            });
                        }
                        // This request stalled past the abandonment delay and a retry took
                        // the key over: the key names the retry's upload, which this request
                        // now answers with too (once it is created).
                        Err(UploadError::IdempotencyKeyTakenOver) => {
                            tracing::warn!(
                                owner = %owner,
                                key,
                                "an idempotent create stalled past the abandonment delay and a \
                                 retry took its key over; its own intent is rolled back, and \
                                 it answers with the retry's upload"
                            );
                            gives_up_at = Instant::now() + WAIT_FOR;
                            continue;
                        }
                        Err(err) => {
                            let client = db::client(&self.db).await?;
                            db::idempotency::release(&client, owner.as_str(), key, claimed_at)
                                .await?;
                            return Err(err);
                        }
                    }
                }
                Claim::Held {
                    fingerprint: held, ..
                } if held != fingerprint => {
                    return Err(UploadError::IdempotencyKeyReused);
                }
                Claim::Held {
                    upload_id: Some(id),
                    ..
                } => {
                    return Ok(IdempotentCreate {
                        created: self.replay(owner, id).await?,
                        replayed: true,
                    });
                }
                Claim::Held {
                    upload_id: None, ..
                } => {
                    if Instant::now() >= gives_up_at {
                        return Err(UploadError::IdempotencyKeyInProgress);
                    }
                    tokio::time::sleep(LOOK_EVERY).await;
                }
            }
        }
    }

    /// The upload an earlier request created, with fresh URLs while it is pending.
    async fn replay(&self, owner: &Owner, id: uuid::Uuid) -> Result<CreatedUpload, UploadError> {
        let upload = self.get(owner, id).await?;
        let parts = if upload.status == UploadStatus::Pending {
            self.sign(&upload, &self.first_batch(&upload)).await?
        } else {
            Vec::new()
        };
        Ok(CreatedUpload { upload, parts })
    }
}

/// The declaration, canonically: equal for equal requests whatever their JSON's key order.
fn fingerprint(declaration: &Declaration, choice: PlanChoice) -> Vec<u8> {
    let checksums = &declaration.checksums;
    let canonical = json!({
        "filename": declaration.filename,
        "size": declaration.size,
        "content_type": declaration.content_type,
        "title": declaration.title,
        "metadata": declaration.metadata,
        "plan": format!("{choice:?}"),
        "checksum_algorithm": checksums.algorithm.map(|a| a.as_str()),
        "part_checksums": checksums.parts,
        "sha256": checksums.sha256,
    });
    Sha256::digest(canonical.to_string().as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uploads::DeclaredChecksums;

    fn declaration(metadata: serde_json::Value) -> Declaration {
        Declaration {
            filename: "a.mp4".into(),
            size: 10,
            content_type: "video/mp4".into(),
            title: "a".into(),
            metadata: Some(metadata),
            checksums: DeclaredChecksums::default(),
        }
    }

    #[test]
    fn the_fingerprint_ignores_key_order_and_sees_every_field() {
        let a: serde_json::Value = serde_json::from_str(r#"{"x": 1, "y": [1, 2]}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"y": [1, 2], "x": 1}"#).unwrap();
        let auto = PlanChoice::Auto;
        assert_eq!(
            fingerprint(&declaration(a.clone()), auto),
            fingerprint(&declaration(b), auto)
        );
        let other = serde_json::json!({"x": 2, "y": [1, 2]});
        assert_ne!(
            fingerprint(&declaration(a.clone()), auto),
            fingerprint(&declaration(other), auto)
        );
        assert_ne!(
            fingerprint(&declaration(a.clone()), auto),
            fingerprint(&declaration(a), PlanChoice::ChosenPartSize(5 << 20))
        );
    }
}
