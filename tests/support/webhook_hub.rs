//! The test SeaweedFS posts its filer events to one fixed address (UC_TEST_WEBHOOK_LISTEN).
//! This hub listens there for the whole test process and forwards every event to each app that
//! subscribed, as a fan-out: apps ignore objects they did not declare.

use std::sync::{Arc, Mutex, OnceLock};

use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::web::Data;
use poem::{EndpointExt, Route, Server, handler, post};

type Targets = Arc<Mutex<Vec<String>>>;

fn targets() -> &'static Targets {
    static TARGETS: OnceLock<Targets> = OnceLock::new();
    TARGETS.get_or_init(|| {
        let targets: Targets = Arc::default();
        let listen =
            std::env::var("UC_TEST_WEBHOOK_LISTEN").unwrap_or_else(|_| "127.0.0.1:18080".into());
        let shared = targets.clone();
        // Its own thread and runtime: each test's runtime ends with the test.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                let app = Route::new()
                    .at("/api/storage-events", post(forward))
                    .data(shared)
                    .data(reqwest::Client::new());
                Server::new(TcpListener::bind(listen))
                    .run(app)
                    .await
                    .expect("the webhook hub's port is free");
            });
        });
        targets
    })
}

#[handler]
async fn forward(
    body: Vec<u8>,
    auth: &poem::http::HeaderMap,
    Data(targets): Data<&Targets>,
    Data(http): Data<&reqwest::Client>,
) -> StatusCode {
    let token = auth.get("authorization").cloned();
    let urls: Vec<String> = targets.lock().unwrap().clone();
    for url in urls {
        let mut request = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(token) = &token {
            request = request.header("authorization", token.to_str().unwrap_or_default());
        }
        // Apps of finished tests are gone; that is fine.
        let _ = request.send().await;
    }
    StatusCode::OK
}

/// Forwards SeaweedFS's events to `base_url` until the guard drops.
pub struct Subscription(String);

impl Drop for Subscription {
    fn drop(&mut self) {
        targets().lock().unwrap().retain(|url| url != &self.0);
    }
}

pub fn subscribe(base_url: &str) -> Subscription {
    let url = format!("{base_url}/api/storage-events");
    targets().lock().unwrap().push(url.clone());
    Subscription(url)
}
