//! Capped exponential backoff for reconnecting and retrying.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// Doubling delays from 100 ms up to 5 s, reset after a success.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: Self::FIRST }
    }
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    /// The delay to wait now; the following one is twice as long, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        delay
    }
}

/// Background work that holds a connection: it connects and serves until the connection
/// ends (`Ok` at shutdown), resetting the backoff it is handed once it is connected.
pub trait Reconnecting {
    type Error: std::fmt::Display;

    /// What the log calls it.
    fn name(&self) -> &str;

    fn session(
        &self,
        backoff: &mut Backoff,
        shutdown: &mut watch::Receiver<bool>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Sees each error first (to report health, say).
    fn lost(&self, _error: &Self::Error) {}
}

/// Runs `work`'s sessions until `shutdown` turns true, starting one again after each end
/// with growing pauses.
pub async fn reconnecting<W: Reconnecting>(work: &W, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Backoff::default();
    while !*shutdown.borrow() {
        match work.session(&mut backoff, &mut shutdown).await {
            Ok(()) if *shutdown.borrow() => return,
            Ok(()) => tracing::warn!(what = work.name(), "connection closed, reconnecting"),
            Err(err) => {
                work.lost(&err);
                tracing::warn!(what = work.name(), error = %err, "connection lost, reconnecting");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_resets() {
        let mut backoff = Backoff::default();
        let delays: Vec<_> = (0..8).map(|_| backoff.next_delay()).collect();
        assert_eq!(delays[0], Duration::from_millis(100));
        assert_eq!(delays[1], Duration::from_millis(200));
        assert_eq!(*delays.last().unwrap(), Duration::from_secs(5));
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
    }
}
