//! `spawn_app()`: the real application on port 0 against a fresh database and RabbitMQ names
//! of its own, and the `TestApp` a test drives it with; cleaned up when dropped.

use std::time::Duration;

use serde_json::Value;
use tokio_postgres::NoTls;
use upload_coordinator::app::Application;
use upload_coordinator::auth::Authenticator;
use upload_coordinator::config::Settings;
use uuid::Uuid;

use super::stack::{AmqpNames, Stack, s3_client};
use super::{INTERNAL_TOKEN, JWT_SECRET, amqp, wait_for};

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
            Duration::from_secs(60),
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

    /// A pooled connection to the app's database, for calling the service's own SQL.
    pub async fn pooled_db(&self) -> deadpool_postgres::Object {
        upload_coordinator::db::client(&self.db_pool())
            .await
            .unwrap()
    }

    /// A pool of one connection to the app's database.
    pub fn db_pool(&self) -> deadpool_postgres::Pool {
        let settings = upload_coordinator::config::DatabaseSettings {
            url: upload_coordinator::config::Secret::new(
                Stack::from_env().database_url(&self.database),
            ),
            pool_size: 1,
        };
        upload_coordinator::db::pool(&settings).unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn token_for(&self, owner: &str) -> String {
        self.auth.issue(owner, 2, 900).unwrap()
    }
}
