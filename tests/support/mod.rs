//! `spawn_app()` and typed request helpers shared by the integration test binaries.
#![allow(dead_code)] // each test binary uses a different part of the support code

pub mod amqp;
pub mod faults;
pub mod process;
pub mod webhook_hub;

use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio_postgres::NoTls;
use upload_coordinator::app::Application;
use upload_coordinator::auth::Authenticator;
use upload_coordinator::config::Settings;
use uuid::Uuid;

pub const MIB: usize = 1024 * 1024;
pub const JWT_SECRET: &str = "integration-test-secret-of-32-bytes-at-least";
pub const INTERNAL_TOKEN: &str = "integration-internal-token-of-32-bytes-or-more";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Where the test stack runs (`make test` starts it; see scripts/stack.sh).
pub struct Stack {
    /// The token the test SeaweedFS sends with its filer events.
    pub webhook_token: String,
    pub admin_database_url: String,
    pub amqp_url: String,
    pub s3_endpoint: String,
    pub s3_access_key: String,
    pub s3_secret_key: String,
    pub bucket: String,
}

impl Stack {
    pub fn from_env() -> Self {
        Self {
            webhook_token: env_or(
                "UC_EVENTS_WEBHOOK_TOKEN",
                upload_coordinator::config::dev_defaults::WEBHOOK_TOKEN,
            ),
            admin_database_url: env_or(
                "UC_TEST_DATABASE_URL",
                "postgres://postgres:postgres@127.0.0.1:5432/postgres",
            ),
            amqp_url: env_or("UC_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            s3_endpoint: env_or("UC_TEST_S3_ENDPOINT", "http://127.0.0.1:8433"),
            s3_access_key: env_or("UC_TEST_S3_ACCESS_KEY", "uc-dev-access"),
            s3_secret_key: env_or("UC_TEST_S3_SECRET_KEY", "uc-dev-secret"),
            bucket: env_or("UC_TEST_S3_BUCKET", "videos"),
        }
    }

    pub fn database_url(&self, name: &str) -> String {
        let (base, _) = self
            .admin_database_url
            .rsplit_once('/')
            .expect("database URL ends with /<name>");
        format!("{base}/{name}")
    }
}

/// RabbitMQ names of one test's own, so tests never see each other's messages.
#[derive(Clone, Debug)]
pub struct AmqpNames {
    pub events_exchange: String,
    pub events_queue: String,
    pub job_exchange: String,
    pub job_queue: String,
    pub job_dlx: String,
    pub job_dlq: String,
    pub results_queue: String,
}

impl AmqpNames {
    fn unique() -> Self {
        let tag = &Uuid::new_v4().simple().to_string()[..10];
        Self {
            events_exchange: format!("uc-test-{tag}.storage-events"),
            events_queue: format!("uc-test-{tag}.events"),
            job_exchange: format!("uc-test-{tag}.video"),
            job_queue: format!("uc-test-{tag}.video_tasks"),
            job_dlx: format!("uc-test-{tag}.video-dlx"),
            job_dlq: format!("uc-test-{tag}.video.dlq"),
            results_queue: format!("uc-test-{tag}.results"),
        }
    }

    pub fn flags(&self) -> Vec<String> {
        vec![
            format!("--events-exchange={}", self.events_exchange),
            format!("--events-queue={}", self.events_queue),
            format!("--job-exchange={}", self.job_exchange),
            format!("--job-queue={}", self.job_queue),
            format!("--job-dead-letter-exchange={}", self.job_dlx),
            format!("--job-dead-letter-queue={}", self.job_dlq),
            format!("--results-queue={}", self.results_queue),
        ]
    }

    pub fn queues(&self) -> Vec<String> {
        vec![
            self.events_queue.clone(),
            format!("{}.dlq", self.events_queue),
            self.job_queue.clone(),
            self.job_dlq.clone(),
            self.results_queue.clone(),
            format!("{}.dlq", self.results_queue),
        ]
    }

    pub fn exchanges(&self) -> Vec<String> {
        vec![
            self.events_exchange.clone(),
            format!("{}.dlq", self.events_queue),
            self.job_exchange.clone(),
            self.job_dlx.clone(),
            format!("{}.dlq", self.results_queue),
        ]
    }
}

pub struct TestApp {
    pub address: String,
    pub amqp_url: String,
    pub names: AmqpNames,
    pub database: String,
    pub admin_database_url: String,
    pub webhook_token: String,
    pub http: reqwest::Client,
    pub token: String,
    pub auth: Authenticator,
    pub db: tokio_postgres::Client,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

/// A fresh database and RabbitMQ names for one test, and the flags that point an app at them.
pub struct Prepared {
    pub stack: Stack,
    pub database: String,
    pub database_url: String,
    pub names: AmqpNames,
}

impl Prepared {
    pub async fn new() -> Self {
        let stack = Stack::from_env();
        let database = format!("uc_test_{}", Uuid::new_v4().simple());
        let (admin, connection) = tokio_postgres::connect(&stack.admin_database_url, NoTls)
            .await
            .expect("the test database server is reachable (run `make test`)");
        tokio::spawn(connection);
        admin
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .await
            .expect("create the test database");
        let database_url = stack.database_url(&database);
        Self {
            stack,
            database,
            database_url,
            names: AmqpNames::unique(),
        }
    }

    /// The test defaults plus `extra` (later flags win).
    pub fn flags(&self, extra: &[&str]) -> Vec<String> {
        let stack = &self.stack;
        let mut flags: Vec<String> = vec![
            "--shutdown-grace=1".into(),
            format!("--database-url={}", self.database_url),
            "--database-pool-size=4".into(),
            format!("--amqp-url={}", stack.amqp_url),
            format!("--events-webhook-token={}", stack.webhook_token),
            format!("--internal-token={INTERNAL_TOKEN}"),
            format!("--s3-endpoint={}", stack.s3_endpoint),
            format!("--s3-bucket={}", stack.bucket),
            format!("--s3-access-key={}", stack.s3_access_key),
            format!("--s3-secret-key={}", stack.s3_secret_key),
            format!("--jwt-secret={JWT_SECRET}"),
        ];
        flags.extend(self.names.flags());
        flags.extend(extra.iter().map(|s| s.to_string()));
        flags
    }

    /// A client of the app at `address`, owning this preparation's cleanup.
    pub async fn client_for(self, address: String) -> TestApp {
        let settings = Settings::from_flags(self.flags(&[])).expect("valid test settings");
        let auth = Authenticator::new(&settings.auth).unwrap();
        let (db, connection) = tokio_postgres::connect(&self.database_url, NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let stack = self.stack;
        TestApp {
            address,
            amqp_url: stack.amqp_url.clone(),
            names: self.names,
            database: self.database,
            admin_database_url: stack.admin_database_url.clone(),
            webhook_token: stack.webhook_token.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            token: auth.issue("ana@example.com", 1, 900).unwrap(),
            auth,
            db,
            s3: s3_client(&stack),
            bucket: stack.bucket,
        }
    }
}

/// The app in this process on a free port, with extra flags on top of the test defaults,
/// e.g. `["--max-upload-size=1000"]`.
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    let prepared = Prepared::new().await;
    let mut flags = prepared.flags(&["--listen=127.0.0.1:0"]);
    flags.extend(extra.iter().map(|s| s.to_string()));
    let settings = Settings::from_flags(&flags).expect("valid test settings");
    let app = Application::build(settings).await.expect("the app starts");
    let address = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until(std::future::pending()));
    prepared.client_for(address).await
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

fn s3_client(stack: &Stack) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&stack.s3_endpoint)
        .credentials_provider(Credentials::new(
            &stack.s3_access_key,
            &stack.s3_secret_key,
            None,
            None,
            "tests",
        ))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

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

impl Drop for TestApp {
    /// Removes the test's database and RabbitMQ entities, so runs leave nothing behind.
    fn drop(&mut self) {
        let admin_url = self.admin_database_url.clone();
        let database = self.database.clone();
        let amqp_url = self.amqp_url.clone();
        let names = self.names.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                amqp::delete_all(&amqp_url, &names).await;
                if let Ok((admin, connection)) = tokio_postgres::connect(&admin_url, NoTls).await {
                    tokio::spawn(connection);
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
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

impl TestApp {
    /// Another replica of this app: same database, same RabbitMQ names, its own port.
    pub async fn spawn_replica(&self) -> String {
        self.spawn_replica_with(&[]).await
    }

    /// A second app on this app's database and broker names, with `extra` flags.
    pub async fn spawn_replica_with(&self, extra: &[&str]) -> String {
        let stack = Stack::from_env();
        let prepared = Prepared {
            database_url: stack.database_url(&self.database),
            stack,
            database: self.database.clone(),
            names: self.names.clone(),
        };
        let mut flags = prepared.flags(&["--listen=127.0.0.1:0"]);
        flags.extend(extra.iter().map(|s| s.to_string()));
        let settings = Settings::from_flags(flags).expect("valid test settings");
        let replica = Application::build(settings)
            .await
            .expect("the replica starts");
        let address = format!("http://{}", replica.local_addr());
        tokio::spawn(replica.run_until(std::future::pending()));
        address
    }

    /// Waits until `/readyz` answers 200: the background work is connected (and has declared
    /// its RabbitMQ topology).
    pub async fn wait_ready(&self) {
        wait_for("the app to be ready", Duration::from_secs(20), || async {
            let response = self.http.get(self.url("/readyz")).send().await.ok()?;
            response.status().is_success().then_some(())
        })
        .await;
    }

    /// Waits until the upload's status is one of `statuses`; returns the upload.
    pub async fn wait_for_status(&self, id: &str, statuses: &[&str]) -> Value {
        wait_for(
            &format!("upload {id} to become {statuses:?}"),
            Duration::from_secs(20),
            || async {
                let upload: Value = self.get_upload(id).await.json().await.ok()?;
                statuses
                    .contains(&upload["status"].as_str()?)
                    .then_some(upload)
            },
        )
        .await
    }

    /// The value of one sample of `/metrics`, e.g. `uc_storage_events_total{...}`; 0 when absent.
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .filter(|line| line.starts_with(name) && line[name.len()..].starts_with(['{', ' ']))
            .filter(|line| {
                labels
                    .iter()
                    .all(|(key, value)| line.contains(&format!("{key}=\"{value}\"")))
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Posts a storage event body to the webhook with the right token.
    pub async fn post_event(&self, body: &Value) -> Response {
        self.http
            .post(self.url("/api/storage-events"))
            .bearer_auth(&self.webhook_token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn token_for(&self, owner: &str) -> String {
        self.auth.issue(owner, 2, 900).unwrap()
    }

    pub async fn create_upload_as(&self, token: &str, body: &Value) -> Response {
        self.http
            .post(self.url("/api/uploads"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn create_upload(&self, body: &Value) -> Response {
        self.create_upload_as(&self.token, body).await
    }

    /// Declares a video of `size` bytes and returns the created upload.
    pub async fn declare(&self, size: usize) -> Value {
        let response = self
            .create_upload(&json!({
                "filename": "jugada final.mp4",
                "size": size,
                "content_type": "video/mp4",
                "title": "Final play",
                "metadata": {"team": "ANB"},
            }))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    pub async fn get_upload(&self, id: &str) -> Response {
        self.http
            .get(self.url(&format!("/api/uploads/{id}")))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn sign_parts(&self, id: &str, numbers: &[u32]) -> Response {
        self.http
            .post(self.url(&format!("/api/uploads/{id}/parts")))
            .bearer_auth(&self.token)
            .json(&json!({ "part_numbers": numbers }))
            .send()
            .await
            .unwrap()
    }

    pub async fn list_parts(&self, id: &str) -> Response {
        self.http
            .get(self.url(&format!("/api/uploads/{id}/parts")))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn complete(&self, id: &str, body: Option<&Value>) -> Response {
        let request = self
            .http
            .post(self.url(&format!("/api/uploads/{id}/complete")))
            .bearer_auth(&self.token);
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        request.send().await.unwrap()
    }

    pub async fn abort(&self, id: &str) -> Response {
        self.http
            .delete(self.url(&format!("/api/uploads/{id}")))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    /// PUTs `bytes` to a presigned part (`{url, headers}`); returns storage's response.
    pub async fn put_part(&self, part: &Value, bytes: Vec<u8>) -> Response {
        let mut request = self.http.put(part["url"].as_str().unwrap()).body(bytes);
        if let Some(headers) = part["headers"].as_object() {
            for (name, value) in headers {
                request = request.header(name, value.as_str().unwrap());
            }
        }
        request.send().await.unwrap()
    }

    /// PUTs every part of `data` through `parts` concurrently; returns `(number, etag)` pairs.
    pub async fn put_parts(
        &self,
        parts: &[Value],
        data: &[u8],
        part_size: usize,
    ) -> Vec<(u64, String)> {
        let puts = parts.iter().map(|part| {
            let number = part["part_number"].as_u64().unwrap();
            let start = (number as usize - 1) * part_size;
            let end = (start + part_size).min(data.len());
            let bytes = data[start..end].to_vec();
            async move {
                let response = self.put_part(part, bytes).await;
                assert_eq!(response.status(), StatusCode::OK, "PUT of part {number}");
                let etag = response.headers()["etag"].to_str().unwrap().to_owned();
                (number, etag)
            }
        });
        futures_util::future::join_all(puts).await
    }

    /// The bytes storage holds under `key`.
    pub async fn stored_bytes(&self, key: &str) -> Vec<u8> {
        let object = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .expect("the object exists");
        object.body.collect().await.unwrap().into_bytes().to_vec()
    }

    /// Whether storage still has the multipart upload behind upload `id`.
    pub async fn multipart_upload_exists(&self, id: &str, key: &str) -> bool {
        let storage_upload_id: String = self
            .db
            .query_one(
                "SELECT storage_upload_id FROM uploads WHERE id = $1::text::uuid",
                &[&id],
            )
            .await
            .unwrap()
            .get(0);
        self.s3
            .list_parts()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(storage_upload_id)
            .send()
            .await
            .is_ok()
    }

    /// GET `url` with the caller's token and read the JSON answer.
    pub async fn get_json(&self, url: &str) -> Value {
        self.http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The caller's uploads, newest first.
    pub async fn list_uploads(&self) -> Vec<Value> {
        let page = self.get_json(&self.url("/api/uploads")).await;
        page["items"].as_array().unwrap().clone()
    }

    /// Writes `bytes` under `key` with storage's own credentials, bypassing the coordinator.
    pub async fn put_object_directly(&self, key: &str, bytes: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("video/mp4")
            .body(bytes.into())
            .send()
            .await
            .expect("storage accepts its own credentials");
    }

    pub async fn object_exists(&self, key: &str) -> bool {
        self.s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .is_ok()
    }

    /// A digest of every upload row: equal before and after means nothing changed.
    pub async fn fingerprint(&self) -> String {
        self.db
            .query_one(
                "SELECT count(*)::text || ':' || coalesce(md5(string_agg(u::text, ',' ORDER BY id)), '') \
                 FROM uploads u",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    }
}

/// Asserts a JSON error response with this status and code.
/// A MinIO AMQP/webhook record for `key` (form-URL-encoded in `s3.object.key`, as MinIO does).
pub fn minio_event(bucket: &str, key: &str, size: usize, etag: &str) -> Value {
    let encoded = key.replace('/', "%2F");
    json!({
        "EventName": "s3:ObjectCreated:Put",
        "Key": format!("{bucket}/{key}"),
        "Records": [{
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "awsRegion": "",
            "eventTime": "2026-11-28T10:00:00.000Z",
            "eventName": "s3:ObjectCreated:Put",
            "userIdentity": {"principalId": "uc-dev-access"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "Config",
                "bucket": {"name": bucket, "ownerIdentity": {"principalId": "uc-dev-access"}, "arn": format!("arn:aws:s3:::{bucket}")},
                "object": {"key": encoded, "size": size, "eTag": etag, "contentType": "video/mp4", "userMetadata": {"content-type": "video/mp4"}, "sequencer": "1797C5B5C7A5D3E0"}
            },
            "source": {"host": "127.0.0.1", "port": "", "userAgent": "MinIO (linux; amd64)"}
        }]
    })
}

pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status for expected code {code}");
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["code"], code, "body: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    body
}
