//! The background work a replica runs, each task under the supervisor: the LISTEN that wakes
//! the outbox relay, the status hub and the webhook workers; the relay; the storage-event and
//! result consumers; the sweepers; the webhook workers and the janitor of old records.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::Settings;
use crate::db;
use crate::db::listen::Subscription;
use crate::db::outbox::RetryPolicy;
use crate::events::EventIntake;
use crate::health::Part;
use crate::jobs::JobEncoder;
use crate::jobs::relay::{RELAY_BROKER_USER, Relay};
use crate::jobs::results::ResultIntake;
use crate::rabbitmq::consumer::{Consumer, ConsumerTopology, Handler, RetryLimits};
use crate::state::AppState;
use crate::supervisor::Supervisor;
use crate::sweeper::Sweeper;
use crate::uploads::IDEMPOTENCY_KEY_LIFETIME;
use crate::webhooks::{self, SigningKey, WebhookWorker};

pub fn start(
    settings: &Settings,
    state: &Arc<AppState>,
    relay_wake: Arc<Notify>,
    supervisor: &mut Supervisor,
) {
    // Not ready until each RabbitMQ user has connected (and declared its topology).
    let connecting = |user| state.health.down(Part::Broker(user), "not connected yet");
    let mut subscriptions = vec![state.status_hub.subscription()];
    if settings.jobs.relay {
        subscriptions.push(Subscription::waking(
            db::outbox::CHANNEL,
            relay_wake.clone(),
        ));
    }
    for worker in webhook_workers(settings, state) {
        subscriptions.push(Subscription::waking(
            db::events::CHANNEL,
            worker.wake.clone(),
        ));
        let worker = Arc::new(worker);
        supervisor.spawn("webhooks", move |stopped| {
            let worker = worker.clone();
            async move { worker.run(stopped).await }
        });
    }
    let url = settings.database.url.clone();
    supervisor.spawn("listen", move |stopped| {
        db::listen::listen(url.clone(), subscriptions.clone(), stopped)
    });
    let hub = state.status_hub.clone();
    supervisor.spawn("status-hub", move |stopped| {
        let hub = hub.clone();
        async move { hub.run(stopped).await }
    });
    let retention = Duration::from_secs(settings.notify.event_retention_hours * 3600);
    let pool = state.db.clone();
    supervisor.spawn("record-janitor", move |stopped| {
        forget_old_records(pool.clone(), retention, stopped)
    });
    if settings.jobs.relay {
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

/// One worker per configured endpoint (checked at startup, so the list parses).
fn webhook_workers(settings: &Settings, state: &AppState) -> Vec<WebhookWorker> {
    let notify = &settings.notify;
    let timeout = Duration::from_secs(notify.webhook_timeout_secs);
    let client = WebhookWorker::client(timeout);
    let retry = RetryPolicy {
        max_attempts: notify.webhook_max_attempts,
        base_secs: notify.webhook_retry_base_ms as f64 / 1000.0,
        max_secs: notify.webhook_retry_max_secs as f64,
    };
    let endpoints = notify.endpoints().expect("validated at startup");
    endpoints
        .into_iter()
        .map(|endpoint| WebhookWorker {
            db: state.db.clone(),
            label: webhooks::loggable_url(&endpoint.url),
            key: SigningKey::parse(endpoint.secret.expose()).expect("validated at startup"),
            url: endpoint.url,
            client: client.clone(),
            timeout,
            retry,
            concurrency: notify.webhook_concurrency,
            checksums_verified: state.uploads.checksums_verified(),
            wake: Arc::new(Notify::new()),
            metrics: state.metrics.clone(),
        })
        .collect()
}

/// How often old status events and idempotency keys are looked for.
const JANITOR_EVERY: Duration = Duration::from_secs(600);
/// Rows forgotten per statement.
const PRUNE_BATCH: i64 = 1000;

/// Forgets status events older than `retention` (kept while a delivery of theirs is due) and
/// idempotency keys past their lifetime.
async fn forget_old_records(
    pool: deadpool_postgres::Pool,
    retention: Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let key_lifetime = IDEMPOTENCY_KEY_LIFETIME.as_secs_f64();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(JANITOR_EVERY) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        let events = prune_all("status events", &pool, |client| async move {
            db::events::prune(&client, retention.as_secs_f64(), PRUNE_BATCH).await
        });
        let keys = prune_all("idempotency keys", &pool, |client| async move {
            db::idempotency::prune(&client, key_lifetime, PRUNE_BATCH).await
        });
        tokio::join!(events, keys);
    }
}

/// Runs `prune` batch after batch until one comes back short.
async fn prune_all<F, Fut>(what: &str, pool: &deadpool_postgres::Pool, prune: F)
where
    F: Fn(deadpool_postgres::Object) -> Fut,
    Fut: std::future::Future<Output = Result<u64, db::DbError>>,
{
    loop {
        let pruned = match db::client(pool).await {
            Ok(client) => prune(client).await,
            Err(err) => Err(err),
        };
        match pruned {
            Ok(n) if n == PRUNE_BATCH as u64 => continue,
            Ok(_) => return,
            Err(err) => {
                tracing::warn!(error = %err, what, "old records not pruned");
                return;
            }
        }
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
