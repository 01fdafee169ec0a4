//! `spawn_app()` and typed request helpers shared by the integration test binaries.
#![allow(dead_code)] // each test binary uses a different part of the support code

pub mod amqp;
mod app;
mod events;
pub mod faults;
pub mod process;
pub mod receiver;
mod requests;
pub mod sse;
mod stack;
mod storage;
pub mod webhook_hub;

// Each test binary uses some of these.
#[allow(unused_imports)]
pub use app::{Prepared, TestApp, spawn_app, spawn_app_with};
#[allow(unused_imports)]
pub use events::minio_event;
#[allow(unused_imports)]
pub use stack::{AmqpNames, Stack};

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::Value;

pub const MIB: usize = 1024 * 1024;
pub const JWT_SECRET: &str = "integration-test-secret-of-32-bytes-at-least";
pub const INTERNAL_TOKEN: &str = "integration-internal-token-of-32-bytes-or-more";

/// Deterministic, non-repeating-looking bytes, so misplaced parts would be caught.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

/// Polls `check` every 25 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status for expected code {code}");
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["code"], code, "body: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    body
}
