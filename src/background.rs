//! The background work a replica runs, each task under the supervisor: the outbox relay and the
//! LISTEN that wakes it, the storage-event and result consumers, the sweepers.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::app::AppState;
use crate::config::Settings;
use crate::db;
use crate::health::Part;
use crate::intake::EventIntake;
use crate::intake::consumer::{Consumer, RetryLimits};
use crate::intake::results::ResultIntake;
use crate::jobs::relay::{RELAY_BROKER_USER, Relay};
use crate::jobs::{JobEncoder, topology};
use crate::supervisor::Supervisor;
use crate::sweeper::Sweeper;

pub fn start(
    settings: &Settings,
    state: &Arc<AppState>,
    relay_wake: Arc<Notify>,
    supervisor: &mut Supervisor,
) {
    // Not ready until each RabbitMQ user has connected (and declared its topology).
    let connecting = |user| state.health.down(Part::Broker(user), "not connected yet");
    if settings.jobs.relay {
        let url = settings.database.url.clone();
        let wake = relay_wake.clone();
        supervisor.spawn("outbox-listen", move |stopped| {
            db::listen::wake_on_notify(url.clone(), db::outbox::CHANNEL, wake.clone(), stopped)
        });
        connecting(RELAY_BROKER_USER);
        let relay = Arc::new(Relay {
            db: state.db.clone(),
            broker_url: settings.broker.url.clone(),
            settings: settings.jobs.clone(),
            encoder: JobEncoder::new(&settings.jobs),
            wake: relay_wake,
            metrics: state.metrics.clone(),
            health: state.health.clone(),
        });
        supervisor.spawn("outbox-relay", move |stopped| {
            let relay = relay.clone();
            async move { relay.run(stopped).await }
        });
    }
    let retry = RetryLimits {
        max_attempts: settings.broker.consumer_max_attempts,
        base_delay: Duration::from_millis(settings.broker.consumer_retry_base_ms),
    };
    if settings.events.amqp {
        let events = settings.events.clone();
        connecting("storage-events");
        let consumer = Arc::new(Consumer {
            name: "storage-events",
            url: settings.broker.url.clone(),
            queue: events.queue.clone(),
            prefetch: events.prefetch,
            handler: EventIntake::new(state.uploads.clone(), state.metrics.clone(), "amqp"),
            retry,
            health: state.health.clone(),
            metrics: state.metrics.clone(),
        });
        supervisor.spawn("storage-events", move |stopped| {
            let consumer = consumer.clone();
            let events = events.clone();
            async move {
                let declare = move |channel| {
                    let events = events.clone();
                    async move {
                        topology::declare_events(&channel, &events).await?;
                        Ok(channel)
                    }
                };
                consumer.run(declare, stopped).await
            }
        });
    }
    if !settings.jobs.results_queue.is_empty() {
        let queue = settings.jobs.results_queue.clone();
        connecting("results");
        let consumer = Arc::new(Consumer {
            name: "results",
            url: settings.broker.url.clone(),
            queue: queue.clone(),
            prefetch: 16,
            handler: ResultIntake {
                uploads: state.uploads.clone(),
            },
            retry,
            health: state.health.clone(),
            metrics: state.metrics.clone(),
        });
        supervisor.spawn("results", move |stopped| {
            let consumer = consumer.clone();
            let queue = queue.clone();
            async move {
                let declare = move |channel| {
                    let queue = queue.clone();
                    async move {
                        topology::declare_results(&channel, &queue).await?;
                        Ok(channel)
                    }
                };
                consumer.run(declare, stopped).await
            }
        });
    }
    if settings.sweeper.enabled {
        let sweeper = Arc::new(Sweeper {
            db: state.db.clone(),
            uploads: state.uploads.clone(),
            settings: settings.sweeper.clone(),
            metrics: state.metrics.clone(),
        });
        supervisor.spawn("sweepers", move |stopped| {
            let sweeper = sweeper.clone();
            async move { sweeper.run(stopped).await }
        });
    }
}
