//! The background work a replica runs, each task under the supervisor: the outbox relay and the
//! LISTEN that wakes it, the storage-event and result consumers, the sweepers.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::Settings;
use crate::db;
use crate::events::EventIntake;
use crate::health::Part;
use crate::jobs::JobEncoder;
use crate::jobs::relay::{RELAY_BROKER_USER, Relay};
use crate::jobs::results::ResultIntake;
use crate::rabbitmq::consumer::{Consumer, ConsumerTopology, Handler, RetryLimits};
use crate::state::AppState;
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
            encoder: JobEncoder::new(&settings.jobs, state.uploads.checksums_verified()),
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
    let consumer = |name, queue: &str, topology, prefetch| Consumer {
        name,
        url: settings.broker.url.clone(),
        queue: queue.to_owned(),
        topology,
        prefetch,
        handler: (),
        retry,
        health: state.health.clone(),
        metrics: state.metrics.clone(),
    };
    if settings.events.amqp {
        let events = &settings.events;
        connecting("storage-events");
        let topology = ConsumerTopology::StorageEvents(events.clone());
        let intake = EventIntake::new(state.uploads.clone(), state.metrics.clone(), "amqp");
        let events = consumer("storage-events", &events.queue, topology, events.prefetch);
        spawn_consumer(supervisor, events.with_handler(intake));
    }
    if !settings.jobs.results_queue.is_empty() {
        connecting("results");
        let results = consumer(
            "results",
            &settings.jobs.results_queue,
            ConsumerTopology::Results,
            RESULTS_PREFETCH,
        );
        let intake = ResultIntake {
            uploads: state.uploads.clone(),
        };
        spawn_consumer(supervisor, results.with_handler(intake));
    }
    if settings.sweeper.enabled {
        let sweeper = Arc::new(Sweeper {
            uploads: state.uploads.clone(),
            sessions: state.sessions.clone(),
            settings: settings.sweeper.clone(),
            metrics: state.metrics.clone(),
        });
        supervisor.spawn("sweepers", move |stopped| {
            let sweeper = sweeper.clone();
            async move { sweeper.run(stopped).await }
        });
    }
}

/// Worker results handled at once.
const RESULTS_PREFETCH: u16 = 16;

fn spawn_consumer<H: Handler>(supervisor: &mut Supervisor, consumer: Consumer<H>) {
    let name = consumer.name;
    let consumer = Arc::new(consumer);
    supervisor.spawn(name, move |stopped| {
        let consumer = consumer.clone();
        async move { consumer.run(stopped).await }
    });
}
