//! Integration tests: the real application on port 0, against real PostgreSQL (a database per
//! test), RabbitMQ and SeaweedFS, uploading real bytes through the presigned URLs.

#[path = "../support/mod.rs"]
mod helpers;

mod auth;
mod celery_worker;
mod checksums;
mod demo_page;
mod downloads;
mod health;
mod idempotency;
mod integrity;
mod listing;
mod migrations;
mod multipart;
mod openapi;
mod processing;
mod quotas;
mod refusals;
mod single_put;
mod status_stream;
mod storage_events;
mod sweepers;
mod uppy;
mod uppy_sessions;
mod webhooks;
