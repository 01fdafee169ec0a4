//! `spawn_app()` and typed request helpers shared by the integration tests.

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
pub const JWT_SECRET: &str = "integration-test-secret";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Where the test stack runs (`make test` starts it; see scripts/stack.sh).
pub struct Stack {
    pub admin_database_url: String,
    pub s3_endpoint: String,
    pub s3_access_key: String,
    pub s3_secret_key: String,
    pub bucket: String,
}

impl Stack {
    pub fn from_env() -> Self {
        Self {
            admin_database_url: env_or(
                "UC_TEST_DATABASE_URL",
                "postgres://postgres:postgres@127.0.0.1:5432/postgres",
            ),
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

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub token: String,
    pub auth: Authenticator,
    pub db: tokio_postgres::Client,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

/// Extra flags on top of the test defaults, e.g. `["--max-upload-size", "1000"]`.
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
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

    let mut flags: Vec<String> = [
        "--listen=127.0.0.1:0",
        "--shutdown-grace=1",
        &format!("--database-url={database_url}"),
        "--database-pool-size=4",
        &format!("--s3-endpoint={}", stack.s3_endpoint),
        &format!("--s3-bucket={}", stack.bucket),
        &format!("--s3-access-key={}", stack.s3_access_key),
        &format!("--s3-secret-key={}", stack.s3_secret_key),
        &format!("--jwt-secret={JWT_SECRET}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    flags.extend(extra.iter().map(|s| s.to_string()));
    let settings = Settings::from_flags(&flags).expect("valid test settings");
    let auth = Authenticator::new(&settings.auth).unwrap();
    let app = Application::build(settings).await.expect("the app starts");
    let address = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until(std::future::pending()));

    let (db, connection) = tokio_postgres::connect(&database_url, NoTls).await.unwrap();
    tokio::spawn(connection);
    TestApp {
        address,
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

impl TestApp {
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
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status for expected code {code}");
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["code"], code, "body: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    body
}
