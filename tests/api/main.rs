//! Integration tests: the real application on port 0, against real PostgreSQL (a database per
//! test), RabbitMQ and SeaweedFS, uploading real bytes through the presigned URLs.

mod helpers;

mod auth;
mod health;
mod listing;
mod multipart;
mod openapi;
mod refusals;
mod single_put;
