//! A webhook receiver in its own process (`webhook_receiver.py`): every delivery verified by
//! the Standard Webhooks reference verifier, each answered as the test asked, all recorded.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::wait_for;

/// A Standard Webhooks secret (24 random-looking bytes), for tests only.
pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub struct Receiver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Receiver {
    /// Starts a receiver answering on each `(path, behaviour)`: `ok`, `fail:N`, `down` or
    /// `held` (see webhook_receiver.py).
    pub fn start(paths: &[(&str, &str)]) -> Self {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/webhook_receiver.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .arg(WEBHOOK_SECRET)
            .args(
                paths
                    .iter()
                    .map(|(path, behaviour)| format!("{path}={behaviour}")),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (make test installs standardwebhooks)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("the receiver did not start: {line:?}"))
            .trim()
            .to_owned();
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every request received on a delivery path, in order.
    pub async fn log(&self) -> Vec<Value> {
        let response = self.http.get(self.url("/log")).send().await.unwrap();
        response.json().await.unwrap()
    }

    /// The log once `done` holds for it.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        wait_for(what, Duration::from_secs(30), || async {
            let log = self.log().await;
            done(&log).then_some(log)
        })
        .await
    }

    /// A `down` path answers 200 from now on.
    pub async fn bring_up(&self, path: &str) {
        self.control("/control/up", path).await;
    }

    /// A `held` path answers the deliveries it is holding (and any later one, at once).
    pub async fn release(&self, path: &str) {
        self.control("/control/release", path).await;
    }

    async fn control(&self, action: &str, path: &str) {
        let response = self
            .http
            .post(self.url(action))
            .query(&[("path", path)])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    /// Sends a request as a forger would: any body, any headers. Returns the status.
    pub async fn post_raw(&self, path: &str, headers: &[(&str, &str)], body: String) -> u16 {
        let mut request = self.http.post(self.url(path)).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap().status().as_u16()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
