//! What every request handler can reach, built once by the application. The API depends on
//! this, never on the application that wires it.

use std::sync::Arc;

use deadpool_postgres::Pool;

use crate::api::BodyLimits;
use crate::auth::{Authenticator, SessionRegistry};
use crate::config::{Secret, WebSettings};
use crate::events::EventIntake;
use crate::health::Health;
use crate::live::{StatusHub, StreamLimits};
use crate::metrics::Metrics;
use crate::uploads::Uploads;

/// What every request handler can reach.
pub struct AppState {
    pub db: Pool,
    pub auth: Authenticator,
    pub uploads: Uploads,
    pub metrics: Arc<Metrics>,
    /// What background work reports up or down, for readiness.
    pub health: Arc<Health>,
    pub webhook_intake: EventIntake,
    pub webhook_token: Secret,
    pub internal_token: Secret,
    pub sessions: SessionRegistry,
    pub web: WebSettings,
    pub dev_mode: bool,
    pub body_limits: BodyLimits,
    /// `/metrics` is served on a listener of its own (UC_METRICS_LISTEN), not the API's.
    pub separate_metrics_listener: bool,
    /// Status changes for this replica's open streams.
    pub status_hub: Arc<StatusHub>,
    pub stream_limits: StreamLimits,
}
