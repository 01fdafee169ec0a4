//! Storage ends clean for every terminal upload (aborted, expired, rejected): the transition
//! makes a cleanup due, which is tried at once and then by the sweepers, with backoff, until
//! storage holds nothing of the upload, and once more after the last URL signed for it
//! expired (a PUT through it would otherwise leave an object). Replicas share the work.
//! Multipart uploads no intent knows (a crash between creating one and recording it) are
//! aborted too.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use futures_util::{StreamExt, stream};

use super::{UploadError, Uploads};
use crate::db;
use crate::domain::Upload;

/// How long a claimed cleanup is kept from other replicas: longer than a batch can take.
const CLEANUP_LEASE_SECS: f64 = 900.0;
/// Cleanups run at once within a sweep.
const CONCURRENT_CLEANUPS: usize = 8;
/// A URL may be used this long past its expiry by a client whose clock runs behind.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(60);

/// What one sweep of cleanups did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanupSweep {
    pub cleaned: usize,
    pub failed: usize,
}

impl Uploads {
    /// Removes what storage holds of a terminal upload right away; should storage fail, the
    /// sweepers try again (the cleanup stays due).
    pub(super) async fn clean_now(&self, upload: &Upload) {
        let cleaned = self
            .storage
            .clean(&upload.key, upload.storage_upload_id.as_deref())
            .await;
        if let Err(err) = cleaned {
            tracing::warn!(upload_id = %upload.id, error = %err, "storage cleanup failed; the sweepers will retry");
        }
    }

    /// Runs up to `batch` due cleanups. `recheck_secs`: how soon an upload whose URLs may
    /// still be used is cleaned again.
    pub async fn sweep_cleanups(
        &self,
        batch: i64,
        recheck_secs: f64,
    ) -> Result<CleanupSweep, UploadError> {
        let due = {
            let client = db::client(&self.db).await?;
            db::sweeps::claim_cleanup(&client, batch, CLEANUP_LEASE_SECS).await?
        };
        let cleaned: Vec<_> = stream::iter(due)
            .map(|upload| async move {
                let result = self
                    .storage
                    .clean(&upload.key, upload.storage_upload_id.as_deref())
                    .await;
                (upload, result)
            })
            .buffer_unordered(CONCURRENT_CLEANUPS)
            .collect()
            .await;
        let client = db::client(&self.db).await?;
        let mut sweep = CleanupSweep::default();
        for (upload, result) in cleaned {
            match result {
                Ok(()) => {
                    let again_until = self.clean_again_until(&upload, recheck_secs);
                    db::sweeps::cleanup_done(&client, upload.id, again_until, recheck_secs).await?;
                    sweep.cleaned += 1;
                }
                Err(err) => {
                    tracing::warn!(upload_id = %upload.id, error = %err, "storage cleanup failed, will retry");
                    db::sweeps::cleanup_failed(&client, upload.id).await?;
                    sweep.failed += 1;
                }
            }
        }
        Ok(sweep)
    }

    /// Until when storage may still receive bytes for a terminal upload, so it is cleaned again
    /// each sweep: a single PUT's (or POST policy's) URL lives the presign TTL; a multipart
    /// upload's part URLs die with its abort, so only a complete already in flight can still
    /// assemble it, and one more sweep catches that.
    fn clean_again_until(&self, upload: &Upload, recheck_secs: f64) -> chrono::DateTime<Utc> {
        if upload.plan.multipart {
            upload.updated_at + chrono::Duration::milliseconds((recheck_secs * 1500.0) as i64)
        } else {
            upload.updated_at + self.policy.presign_ttl() + CLOCK_SKEW
        }
    }

    /// Aborts multipart uploads under the key prefix that are older than `older_than` and that
    /// no intent records; looks at `max` at most. Returns how many were aborted.
    pub async fn abort_orphans(
        &self,
        older_than: Duration,
        max: usize,
    ) -> Result<usize, UploadError> {
        let prefix = format!("{}/", self.policy.key_prefix.trim_matches('/'));
        let cutoff = Utc::now() - chrono::Duration::from_std(older_than).unwrap_or_default();
        let stale: Vec<_> = self
            .storage
            .list_in_progress(&prefix, max)
            .await?
            .into_iter()
            .filter(|upload| upload.initiated.is_some_and(|at| at < cutoff))
            .collect();
        if stale.is_empty() {
            return Ok(0);
        }
        let keys: Vec<String> = stale.iter().map(|upload| upload.key.clone()).collect();
        let known: HashSet<(String, String)> = {
            let client = db::client(&self.db).await?;
            db::sweeps::multipart_ids_of(&client, self.storage.bucket(), &keys)
                .await?
                .into_iter()
                .filter_map(|(key, id)| Some((key, id?)))
                .collect()
        };
        let mut aborted = 0;
        for orphan in stale {
            if known.contains(&(orphan.key.clone(), orphan.upload_id.clone())) {
                continue;
            }
            match self
                .storage
                .abort_multipart(&orphan.key, &orphan.upload_id)
                .await
            {
                Ok(()) => {
                    tracing::info!(key = %orphan.key, "aborted a multipart upload no intent knows");
                    aborted += 1;
                }
                Err(err) => {
                    tracing::warn!(key = %orphan.key, error = %err, "could not abort an orphaned multipart upload")
                }
            }
        }
        Ok(aborted)
    }
}
