//! The server against its own OpenAPI document: schemathesis (every check, the stateful links
//! included) generates valid and invalid requests for every operation, from the document this
//! service serves, and fails on any answer the document does not allow. The real binary on the
//! test stack, with real tokens. `make test` installs schemathesis; without it this test fails
//! under CI and says so elsewhere.

#[path = "support/mod.rs"]
mod helpers;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use uuid::Uuid;

use helpers::INTERNAL_TOKEN;
use helpers::Prepared;
use helpers::process::{ServiceProcess, free_port};

/// Fixed, so a failure is reproducible (`st run ... --seed`); `UC_CONFORMANCE_SEED` picks
/// another.
const DEFAULT_SEED: &str = "20261201";
const EXAMPLES_PER_OPERATION: &str = "30";

fn schemathesis_installed() -> bool {
    Command::new("python3")
        .args(["-c", "import schemathesis"])
        .status()
        .is_ok_and(|status| status.success())
}

/// The number before `label` in schemathesis' summary, e.g. `947 generated`.
fn count_before(output: &str, label: &str) -> Option<u64> {
    output.lines().find_map(|line| {
        let (before, _) = line.split_once(label)?;
        before.split_whitespace().last()?.parse().ok()
    })
}

#[tokio::test]
async fn the_server_keeps_to_its_openapi_document() {
    if !schemathesis_installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "schemathesis is not installed: scripts/install-deps.sh (run by `make test`) installs it"
        );
        eprintln!("skipped: schemathesis is not installed (scripts/install-deps.sh installs it)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = std::env::temp_dir().join(format!("uc-conformance-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch).unwrap();
    let prefix = format!("--key-prefix=conformance-{}", Uuid::new_v4().simple());
    let prepared = Prepared::new().await;
    let log = scratch.join("service.log");
    let service =
        ServiceProcess::start_logging_to(&prepared, free_port(), &[&prefix], Some(&log)).await;
    let app = prepared.client_for(service.address.clone()).await;

    // An upload session, for the stream's `?session=` scheme.
    let session = app.start_session(&serde_json::json!({}), None).await;
    let session_token = session["token"]
        .as_str()
        .expect("a session token")
        .to_owned();

    let seed = std::env::var("UC_CONFORMANCE_SEED").unwrap_or_else(|_| DEFAULT_SEED.to_owned());
    let mut command = Command::new("python3");
    command
        .current_dir(&scratch)
        .args(["-m", "schemathesis.cli", "--no-color", "--config-file"])
        .arg(root.join("tests/conformance/schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/openapi.json", service.address))
        .args(["--checks", "all", "--max-examples", EXAMPLES_PER_OPERATION])
        // DELETE /api/uploads/{id} aborts an upload, which stays readable as `aborted` rather
        // than vanishing, so "gone after DELETE" does not apply (tests/api cover abort).
        .args(["--exclude-checks", "use_after_free"])
        .args([
            "--seed",
            &seed,
            "--generation-database",
            "none",
            "--workers",
            "1",
        ])
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", root.join("tests/conformance"))
        .env("UC_CONFORMANCE_TOKEN", &app.token)
        .env("UC_CONFORMANCE_INTERNAL_TOKEN", INTERNAL_TOKEN)
        .env("UC_CONFORMANCE_SESSION", &session_token);
    let run = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run schemathesis");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let service_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        run.status.success(),
        "schemathesis found the server and its document disagreeing (seed {seed}):\n{output}\n\
         service log (tail):\n{}",
        service_log
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // It really ran: cases were generated for every operation but the one configured off.
    let generated = count_before(&output, " generated").unwrap_or(0);
    assert!(
        generated >= 500,
        "only {generated} cases generated:\n{output}"
    );
    let documented = serde_json::from_str::<Value>(&upload_coordinator::api::openapi_json())
        .unwrap()["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|path| path.as_object().unwrap().len())
        .sum::<usize>();
    let tested = output
        .lines()
        .find_map(|line| line.trim().strip_prefix("Tested: "))
        .and_then(|n| n.trim().parse::<usize>().ok());
    assert_eq!(tested, Some(documented - 1), "operations tested:\n{output}");
    eprintln!(
        "{}",
        output
            .lines()
            .filter(|line| line.contains("generated") || line.contains("Seed"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    drop(service);
    drop(app);
    std::fs::remove_dir_all(&scratch).ok();
}
