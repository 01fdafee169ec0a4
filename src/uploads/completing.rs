//! The multipart completes running on this replica. SeaweedFS (and any store as quick)
//! announces an assembled object while CompleteMultipartUpload is still answering, so its event
//! would race the complete that asked for it to one confirmation: the event spends a HEAD, both
//! take the upload's row lock, and the loser only finds the upload confirmed. An event for an upload
//! whose complete runs here waits for that complete instead. (An event reaching another
//! replica still races it; either way exactly one confirmation commits.)

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use uuid::Uuid;

#[derive(Clone, Default)]
pub(super) struct Completing {
    /// A complete's sender is dropped when it ends, which is what waiters wait for.
    running: Arc<Mutex<HashMap<Uuid, watch::Sender<()>>>>,
}

/// Held while a complete runs. Dropping it (the complete done, failed or cancelled with its
/// request) releases whoever waits.
pub(super) struct CompletingGuard {
    completing: Completing,
    /// `None` when another complete of the same upload was running already.
    id: Option<Uuid>,
}

impl Completing {
    pub fn start(&self, id: Uuid) -> CompletingGuard {
        let registered = match self.lock().entry(id) {
            Entry::Vacant(entry) => {
                entry.insert(watch::channel(()).0);
                true
            }
            Entry::Occupied(_) => false,
        };
        CompletingGuard {
            completing: self.clone(),
            id: registered.then_some(id),
        }
    }

    /// Waits (at most `limit`) for a complete of `id` running here to end. Returns whether
    /// one was running.
    pub async fn wait_for(&self, id: Uuid, limit: Duration) -> bool {
        let Some(mut ended) = self.lock().get(&id).map(watch::Sender::subscribe) else {
            return false;
        };
        // Nothing is ever sent: `changed` fails once the sender is dropped.
        let _ = tokio::time::timeout(limit, ended.changed()).await;
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, watch::Sender<()>>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for CompletingGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.completing.lock().remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn nothing_running_means_no_wait() {
        let completing = Completing::default();
        assert!(!completing.wait_for(Uuid::now_v7(), LONG).await);
    }

    #[tokio::test]
    async fn a_waiter_is_released_when_the_complete_ends() {
        let completing = Completing::default();
        let id = Uuid::now_v7();
        let guard = completing.start(id);
        let waiter = tokio::spawn({
            let completing = completing.clone();
            async move { completing.wait_for(id, LONG).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(guard);
        assert!(tokio::time::timeout(LONG, waiter).await.unwrap().unwrap());
        assert!(!completing.wait_for(id, LONG).await, "the entry is gone");
    }

    #[tokio::test]
    async fn a_cancelled_complete_releases_its_waiters_too() {
        let completing = Completing::default();
        let id = Uuid::now_v7();
        let complete = tokio::spawn({
            let completing = completing.clone();
            async move {
                let _guard = completing.start(id);
                std::future::pending::<()>().await;
            }
        });
        while completing.lock().get(&id).is_none() {
            tokio::task::yield_now().await;
        }
        let waiter = tokio::spawn({
            let completing = completing.clone();
            async move { completing.wait_for(id, LONG).await }
        });
        complete.abort();
        assert!(tokio::time::timeout(LONG, waiter).await.unwrap().unwrap());
    }

    #[tokio::test]
    async fn a_waiter_gives_up_after_the_limit() {
        let completing = Completing::default();
        let id = Uuid::now_v7();
        let _guard = completing.start(id);
        assert!(completing.wait_for(id, Duration::from_millis(20)).await);
        assert!(
            completing.lock().contains_key(&id),
            "the complete still runs"
        );
    }

    #[tokio::test]
    async fn a_second_complete_of_one_upload_leaves_the_first_registered() {
        let completing = Completing::default();
        let id = Uuid::now_v7();
        let first = completing.start(id);
        drop(completing.start(id));
        assert!(completing.lock().contains_key(&id));
        drop(first);
        assert!(!completing.lock().contains_key(&id));
    }
}
