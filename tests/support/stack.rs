//! Where the test stack runs (`make test` starts it) and the RabbitMQ names of one test.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use uuid::Uuid;

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
    pub(super) fn unique() -> Self {
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

pub(super) fn s3_client(stack: &Stack) -> aws_sdk_s3::Client {
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
