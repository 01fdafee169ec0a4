//! Prometheus metrics, in a registry of the application's own (several apps can share a
//! process in tests). Gauges that mirror the database are refreshed by a scrape at most every
//! few seconds.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// When the gauges that need SQL were last refreshed.
    gauges_refreshed: std::sync::Mutex<Option<std::time::Instant>>,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub storage_duration: HistogramVec,
    pub events: IntCounterVec,
    pub jobs_published: IntCounterVec,
    pub event_to_job: HistogramVec,
    pub uploads_by_status: IntGaugeVec,
    pub outbox_pending: IntGauge,
    pub outbox_oldest_seconds: prometheus::Gauge,
    pub sweeps: IntCounterVec,
    pub outbox_parked: IntGauge,
    pub jobs_parked: prometheus::IntCounter,
    pub consumer_retries: IntCounterVec,
    pub background_restarts: IntCounterVec,
    pub uploads_replaced: prometheus::IntCounter,
    pub webhook_deliveries: IntCounterVec,
    pub webhook_pending: IntGauge,
    pub webhook_oldest_seconds: prometheus::Gauge,
    pub webhook_parked: IntGauge,
    pub event_streams: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("uc".into()), None).expect("valid prefix");
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )
        .unwrap();
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )
        .unwrap();
        let storage_duration = HistogramVec::new(
            HistogramOpts::new(
                "storage_request_duration_seconds",
                "Calls to storage by S3 operation and outcome (ok, not_found, error), retries included",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
            ]),
            &["operation", "outcome"],
        )
        .unwrap();
        let events = IntCounterVec::new(
            Opts::new(
                "storage_events_total",
                "Storage events by source, format and outcome",
            ),
            &["source", "format", "outcome"],
        )
        .unwrap();
        let jobs_published = IntCounterVec::new(
            Opts::new(
                "jobs_published_total",
                "Processing jobs publish attempts by result",
            ),
            &["result"],
        )
        .unwrap();
        let event_to_job = HistogramVec::new(
            HistogramOpts::new(
                "event_to_job_seconds",
                "From the event (or complete call) that confirmed an upload to its job's publish confirm",
            )
            .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0]),
            &["format"],
        )
        .unwrap();
        let uploads_by_status =
            IntGaugeVec::new(Opts::new("uploads", "Uploads by status"), &["status"]).unwrap();
        let outbox_pending =
            IntGauge::new("outbox_pending_jobs", "Jobs waiting to be published").unwrap();
        let outbox_oldest_seconds = prometheus::Gauge::new(
            "outbox_oldest_pending_seconds",
            "Age of the oldest job waiting to be published",
        )
        .unwrap();
        let sweeps = IntCounterVec::new(
            Opts::new(
                "sweeper_actions_total",
                "What the reconciler and the reaper did",
            ),
            &["action"],
        )
        .unwrap();
        let outbox_parked = IntGauge::new(
            "outbox_parked_jobs",
            "Jobs parked after their last publish attempt (replay with `upload-coordinator jobs replay`)",
        )
        .unwrap();
        let jobs_parked = prometheus::IntCounter::new(
            "jobs_parked_total",
            "Jobs parked after their last publish attempt",
        )
        .unwrap();
        let consumer_retries = IntCounterVec::new(
            Opts::new(
                "consumer_retries_total",
                "Consumed messages whose handling failed for a passing reason: tried again, or dead-lettered after the last try",
            ),
            &["consumer", "outcome"],
        )
        .unwrap();
        let background_restarts = IntCounterVec::new(
            Opts::new(
                "background_restarts_total",
                "Background tasks that ended early and were started again",
            ),
            &["task"],
        )
        .unwrap();
        let uploads_replaced = prometheus::IntCounter::new(
            "uploads_replaced_total",
            "Confirmed uploads whose object storage showed replaced by other bytes",
        )
        .unwrap();
        let webhook_deliveries = IntCounterVec::new(
            Opts::new(
                "webhook_deliveries_total",
                "Outgoing webhook attempts: delivered (2xx) and failed count each attempt; \
                 parked (its last) and unrecorded (its claim no longer held, as after a \
                 disable) count some of those again",
            ),
            &["outcome"],
        )
        .unwrap();
        let webhook_pending = IntGauge::new(
            "webhook_pending_deliveries",
            "Webhook deliveries due or waiting for a retry",
        )
        .unwrap();
        let webhook_oldest_seconds = prometheus::Gauge::new(
            "webhook_oldest_pending_seconds",
            "Age of the oldest event whose webhook delivery is not done",
        )
        .unwrap();
        let webhook_parked = IntGauge::new(
            "webhook_parked_deliveries",
            "Webhook deliveries parked after their last attempt (replay with `upload-coordinator webhooks replay`)",
        )
        .unwrap();
        let event_streams = IntGauge::new(
            "event_streams",
            "Status streams (GET /api/uploads/events) open on this replica",
        )
        .unwrap();
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(storage_duration.clone()),
            Box::new(events.clone()),
            Box::new(jobs_published.clone()),
            Box::new(event_to_job.clone()),
            Box::new(uploads_by_status.clone()),
            Box::new(outbox_pending.clone()),
            Box::new(outbox_oldest_seconds.clone()),
            Box::new(sweeps.clone()),
            Box::new(outbox_parked.clone()),
            Box::new(jobs_parked.clone()),
            Box::new(consumer_retries.clone()),
            Box::new(background_restarts.clone()),
            Box::new(uploads_replaced.clone()),
            Box::new(webhook_deliveries.clone()),
            Box::new(webhook_pending.clone()),
            Box::new(webhook_oldest_seconds.clone()),
            Box::new(webhook_parked.clone()),
            Box::new(event_streams.clone()),
        ] {
            registry.register(collector).expect("unique metric names");
        }
        Self {
            registry,
            gauges_refreshed: std::sync::Mutex::new(None),
            http_requests,
            http_duration,
            storage_duration,
            events,
            jobs_published,
            event_to_job,
            uploads_by_status,
            outbox_pending,
            outbox_oldest_seconds,
            sweeps,
            outbox_parked,
            jobs_parked,
            consumer_retries,
            background_restarts,
            uploads_replaced,
            webhook_deliveries,
            webhook_pending,
            webhook_oldest_seconds,
            webhook_parked,
            event_streams,
        }
    }

    /// Whether the database gauges are older than `every`; if so, the caller refreshes them now
    /// (and concurrent callers do not).
    pub fn gauges_due(&self, every: std::time::Duration) -> bool {
        let mut refreshed = self.gauges_refreshed.lock().expect("not poisoned");
        let now = std::time::Instant::now();
        if refreshed.is_some_and(|at| now.duration_since(at) < every) {
            return false;
        }
        *refreshed = Some(now);
        true
    }

    /// Counts one storage event outcome.
    pub fn event(&self, source: &str, format: &str, outcome: &str) {
        self.events
            .with_label_values(&[source, format, outcome])
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("metrics encode");
        String::from_utf8(buffer).expect("metrics are UTF-8")
    }
}
