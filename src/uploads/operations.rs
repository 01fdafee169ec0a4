//! What the API, the sweepers and the metrics need beyond the upload lifecycle, so none of
//! them reaches into storage, the policy or SQL: a browser form upload for a new intent, where
//! an object is, what the sweepers claim, the numbers the gauges show, readiness.

use std::time::Duration;

use super::{UploadError, Uploads};
use crate::db::{self, DbError};
use crate::domain::Upload;
use crate::storage::{PostPolicy, StorageError};

/// What the gauges show.
#[derive(Clone, Debug, Default)]
pub struct UploadStats {
    pub by_status: Vec<(String, i64)>,
    pub jobs_waiting: i64,
    pub oldest_job_secs: f64,
    pub jobs_parked: i64,
}

impl Uploads {
    /// How long the URLs handed out stay valid.
    pub fn url_lifetime(&self) -> Duration {
        self.policy.presign_ttl()
    }

    /// Where clients find the upload's object.
    pub fn object_url(&self, upload: &Upload) -> String {
        self.storage.object_url(&upload.key)
    }

    /// The bucket uploads go to.
    pub fn bucket(&self) -> &str {
        self.storage.bucket()
    }

    /// A browser form upload (POST policy) of exactly the upload's bytes to its key: what
    /// Uppy 6 sends small files with.
    pub async fn form_upload(&self, upload: &Upload) -> Result<PostPolicy, UploadError> {
        let ttl = self.url_lifetime();
        Ok(self
            .storage
            .presign_post(&upload.key, &upload.content_type, upload.plan.size, ttl)
            .await?)
    }

    /// Pending uploads past their expiry, for the reaper (not claimed in the last
    /// `recheck_secs`).
    pub async fn claim_expired(
        &self,
        recheck_secs: f64,
        limit: i64,
    ) -> Result<Vec<Upload>, UploadError> {
        let client = db::client(&self.db).await?;
        Ok(db::sweeps::claim_expired(&client, recheck_secs, limit).await?)
    }

    /// Pending uploads whose object may be there although no event came, for the reconciler.
    pub async fn claim_for_reconcile(
        &self,
        min_age_secs: f64,
        recheck_secs: f64,
        limit: i64,
    ) -> Result<Vec<Upload>, UploadError> {
        let client = db::client(&self.db).await?;
        Ok(db::sweeps::claim_for_reconcile(&client, min_age_secs, recheck_secs, limit).await?)
    }

    pub async fn stats(&self) -> Result<UploadStats, DbError> {
        let client = db::client(&self.db).await?;
        let by_status = db::sweeps::count_by_status(&client).await?;
        let (jobs_waiting, oldest_job_secs, jobs_parked) = db::outbox::lag(&client).await?;
        Ok(UploadStats {
            by_status,
            jobs_waiting,
            oldest_job_secs,
            jobs_parked,
        })
    }

    /// Whether the database and storage answer.
    pub async fn readiness(&self) -> (Result<(), DbError>, Result<(), StorageError>) {
        tokio::join!(db::ping(&self.db), self.storage.check())
    }
}
