//! upload-coordinator: coordinates uploads that go straight from clients to S3-compatible
//! storage. The service never touches the bytes; it records intents, presigns URLs, confirms
//! objects and hands confirmed uploads on for processing.

pub mod api;
pub mod app;
pub mod auth;
pub mod background;
pub mod backoff;
pub mod config;
pub mod db;
pub mod domain;
pub mod error_codes;
pub mod events;
pub mod health;
pub mod jobs;
pub mod live;
pub mod metrics;
pub mod rabbitmq;
pub mod server;
pub mod state;
pub mod storage;
pub mod supervisor;
pub mod sweeper;
pub mod telemetry;
pub mod uploads;
pub mod webhooks;
