//! Background sweeps, safe with several replicas (rows are claimed with SKIP LOCKED):
//! the reaper expires abandoned intents; the janitor removes what storage holds of terminal
//! uploads (retrying until it is gone) and multipart uploads no intent knows; the reconciler
//! asks storage about pending uploads whose event never came (SeaweedFS's webhook, for one,
//! tries each event once) and confirms those whose object is there.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use crate::auth::SessionRegistry;
use crate::config::SweeperSettings;
use crate::metrics::Metrics;
use crate::uploads::{ConfirmOutcome, ExpiryOutcome, UploadError, Uploads};

/// Multipart uploads looked at per sweep for orphans.
const ORPHAN_SCAN_LIMIT: usize = 5000;
/// Expired upload sessions are forgotten after this long.
const SESSION_RETENTION_SECS: f64 = 86_400.0;

pub struct Sweeper {
    pub uploads: Uploads,
    pub sessions: SessionRegistry,
    pub settings: SweeperSettings,
    pub metrics: Arc<Metrics>,
}

impl Sweeper {
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let interval = Duration::from_secs(self.settings.interval_secs);
        loop {
            if let Err(err) = self.reap().await {
                tracing::warn!(error = %err, "reaper sweep failed");
            }
            if let Err(err) = self.clean().await {
                tracing::warn!(error = %err, "storage cleanup sweep failed");
            }
            if let Err(err) = self.reconcile(&mut shutdown).await {
                tracing::warn!(error = %err, "reconciler sweep failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    fn count(&self, action: &str) {
        self.metrics.sweeps.with_label_values(&[action]).inc();
    }

    /// Expires pending uploads past their expiry.
    pub async fn reap(&self) -> Result<(), UploadError> {
        let expired = self
            .uploads
            .claim_expired(self.settings.interval_secs as f64, self.settings.batch)
            .await?;
        for upload in expired {
            let id = upload.id;
            match self.uploads.expire(upload).await {
                Ok(ExpiryOutcome::Expired) => self.count("expired"),
                Ok(ExpiryOutcome::Confirmed) => self.count("confirmed-at-expiry"),
                Ok(ExpiryOutcome::Unchanged) => {}
                Err(err) => tracing::warn!(upload_id = %id, error = %err, "could not expire"),
            }
        }
        Ok(())
    }

    /// Removes what storage holds of terminal uploads, aborts orphaned multipart uploads, and
    /// forgets upload sessions a day after they expired.
    pub async fn clean(&self) -> Result<(), UploadError> {
        let interval = self.settings.interval_secs as f64;
        let sweep = self
            .uploads
            .sweep_cleanups(self.settings.batch, interval)
            .await?;
        for _ in 0..sweep.cleaned {
            self.count("storage-cleaned");
        }
        for _ in 0..sweep.failed {
            self.count("storage-cleanup-failed");
        }
        let orphan_after = Duration::from_secs(self.settings.orphan_after_secs);
        let orphans = self
            .uploads
            .abort_orphans(orphan_after, ORPHAN_SCAN_LIMIT)
            .await?;
        for _ in 0..orphans {
            self.count("orphan-aborted");
        }
        self.sessions.forget_expired(SESSION_RETENTION_SECS).await?;
        Ok(())
    }

    /// Confirms pending uploads whose object is in storage, at a bounded rate of checks.
    pub async fn reconcile(&self, shutdown: &mut watch::Receiver<bool>) -> Result<(), UploadError> {
        let due = self
            .uploads
            .claim_for_reconcile(
                self.settings.reconcile_after_secs as f64,
                self.settings.interval_secs as f64,
                self.settings.batch,
            )
            .await?;
        let pause = Duration::from_secs_f64(1.0 / f64::from(self.settings.reconcile_rate));
        for upload in due {
            let id = upload.id;
            match self.uploads.confirm(upload, Utc::now()).await {
                Ok(ConfirmOutcome::Confirmed(_)) => self.count("reconciled"),
                Ok(ConfirmOutcome::Rejected(_)) => self.count("rejected"),
                Ok(ConfirmOutcome::Unchanged(_)) | Err(UploadError::ObjectMissing) => {}
                Err(err) => tracing::warn!(upload_id = %id, error = %err, "could not reconcile"),
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
        Ok(())
    }
}
