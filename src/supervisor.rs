//! Background tasks run under one supervisor: a task that panics or returns before shutdown is
//! logged, counted, shown down in readiness, and started again after a growing pause.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::backoff::Backoff;
use crate::health::{Health, Part};
use crate::metrics::Metrics;

pub struct Supervisor {
    tasks: JoinSet<()>,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    stopped: watch::Receiver<bool>,
}

impl Supervisor {
    pub fn new(health: Arc<Health>, metrics: Arc<Metrics>, stopped: watch::Receiver<bool>) -> Self {
        Self {
            tasks: JoinSet::new(),
            health,
            metrics,
            stopped,
        }
    }

    /// Runs `start(stopped)` until shutdown, starting it again whenever it ends early.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, start: F)
    where
        F: Fn(watch::Receiver<bool>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let health = self.health.clone();
        let metrics = self.metrics.clone();
        let mut stopped = self.stopped.clone();
        self.tasks.spawn(async move {
            let mut backoff = Backoff::default();
            loop {
                health.up(Part::Task(name));
                let started = tokio::time::Instant::now();
                let ended = tokio::spawn(start(stopped.clone())).await;
                if *stopped.borrow() {
                    return;
                }
                let why = match ended {
                    Err(err) if err.is_panic() => "panicked",
                    Err(_) => "was cancelled",
                    Ok(()) => "stopped on its own",
                };
                tracing::error!(task = name, why, "background task ended, restarting it");
                metrics.background_restarts.with_label_values(&[name]).inc();
                health.down(Part::Task(name), why);
                // A task that ran a good while before ending starts over from a short pause.
                if started.elapsed() > Duration::from_secs(60) {
                    backoff.reset();
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff.next_delay()) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
    }

    /// Waits for every task to stop (after shutdown was signalled), at most `grace`.
    pub async fn join(mut self, grace: Duration) {
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("background tasks did not stop within the grace period");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_is_reported_and_started_again() {
        let health = Arc::new(Health::default());
        let metrics = Arc::new(Metrics::new());
        let (stop, stopped) = watch::channel(false);
        let mut supervisor = Supervisor::new(health.clone(), metrics.clone(), stopped);
        let starts = Arc::new(AtomicU32::new(0));
        let counted = starts.clone();
        supervisor.spawn("flaky", move |mut stopped| {
            let counted = counted.clone();
            async move {
                if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("first run fails");
                }
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        });
        // Generous: with RUST_BACKTRACE set, the panic hook symbolizes a backtrace of this
        // debug build first, which took over 5 s while the whole suite ran.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while starts.load(Ordering::SeqCst) < 2 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(starts.load(Ordering::SeqCst), 2, "started again");
        assert_eq!(
            metrics
                .background_restarts
                .with_label_values(&["flaky"])
                .get(),
            1
        );
        assert!(health.snapshot().background, "up again once restarted");
        let _ = stop.send(true);
        supervisor.join(Duration::from_secs(1)).await;
        assert_eq!(
            starts.load(Ordering::SeqCst),
            2,
            "not restarted after shutdown"
        );
    }
}
