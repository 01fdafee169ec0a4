//! `compose.yaml` is checked by Docker Compose itself: it must render, name every service of
//! the stack, and point MinIO's AMQP target at the exchange the coordinator declares.
//! Where no Docker CLI with the compose plugin exists, each test prints why it is skipped.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

const SERVICES: [&str; 5] = ["postgres", "rabbitmq", "minio", "minio-init", "coordinator"];

/// Runs `docker compose -f compose.yaml <args>` from the crate root.
fn compose(args: &[&str]) -> Output {
    // The stack requires its secrets; any values render the file.
    let secrets = [
        "UC_POSTGRES_PASSWORD",
        "UC_RABBITMQ_PASSWORD",
        "UC_S3_ACCESS_KEY",
        "UC_S3_SECRET_KEY",
        "UC_JWT_SECRET",
    ];
    Command::new("docker")
        .arg("compose")
        .args(["-f", "compose.yaml"])
        .args(args)
        .envs(secrets.map(|name| (name, "rendering-only-0123456789abcdef0123")))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .output()
        .expect("docker was found a moment ago")
}

/// Why the compose check cannot run here, if it cannot.
fn compose_unavailable() -> Option<String> {
    match Command::new("docker").args(["compose", "version"]).output() {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Some("no docker CLI on PATH".to_owned())
        }
        Err(err) => Some(format!("docker CLI cannot be run ({err})")),
        Ok(out) if !out.status.success() => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let reason = stderr
                .lines()
                .next()
                .unwrap_or("no output")
                .trim()
                .to_owned();
            Some(format!("docker compose plugin not available ({reason})"))
        }
        Ok(_) => None,
    }
}

/// Returns the rendered output of a compose command, failing the test on a non-zero exit.
fn compose_ok(args: &[&str]) -> String {
    let out = compose(args);
    assert!(
        out.status.success(),
        "`docker compose -f compose.yaml {}` failed with {}:\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("compose prints UTF-8")
}

/// Returns early from a test where compose cannot run, saying why. The line goes to the real
/// stderr: the test harness would swallow an `eprintln!` from a passing test.
macro_rules! require_compose {
    () => {
        if let Some(reason) = compose_unavailable() {
            let _ = writeln!(std::io::stderr(), "skipped: {reason}");
            return;
        }
    };
}

/// The value of `key` in the `environment` mapping of `service` in rendered compose YAML.
fn env_value(rendered: &str, service: &str, key: &str) -> Option<String> {
    let service_header = format!("  {service}:");
    let key_prefix = format!("{key}:");
    let mut in_service = false;
    for line in rendered.lines() {
        // Service names sit at exactly two spaces of indentation under `services:`.
        if line.starts_with("  ") && !line.starts_with("   ") {
            in_service = line == service_header;
            continue;
        }
        if !line.starts_with(' ') {
            in_service = false;
            continue;
        }
        if !in_service {
            continue;
        }
        if let Some(value) = line.trim_start().strip_prefix(&key_prefix) {
            return Some(
                value
                    .trim()
                    .trim_matches(|c| c == '"' || c == '\'')
                    .to_owned(),
            );
        }
    }
    None
}

#[test]
fn compose_file_passes_docker_compose_config() {
    require_compose!();
    compose_ok(&["config", "--quiet"]);
}

#[test]
fn compose_stack_names_every_service() {
    require_compose!();
    let listed = compose_ok(&["config", "--services"]);
    let mut services: Vec<&str> = listed
        .lines()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    services.sort_unstable();
    let mut expected = SERVICES.to_vec();
    expected.sort_unstable();
    assert_eq!(services, expected);
}

#[test]
fn minio_publishes_to_the_exchange_the_coordinator_declares() {
    require_compose!();
    let rendered = compose_ok(&["config"]);
    let minio = |key: &str| {
        env_value(&rendered, "minio", key).unwrap_or_else(|| panic!("minio sets no {key}"))
    };
    let coordinator = |key: &str| {
        env_value(&rendered, "coordinator", key)
            .unwrap_or_else(|| panic!("the coordinator sets no {key}"))
    };

    assert_eq!(minio("MINIO_NOTIFY_AMQP_ENABLE_PRIMARY"), "on");
    assert_eq!(
        minio("MINIO_NOTIFY_AMQP_EXCHANGE_PRIMARY"),
        coordinator("UC_EVENTS_EXCHANGE")
    );
    // Both sides declare the exchange; RabbitMQ refuses a second declaration whose type or
    // flags differ, and MinIO's events would never arrive. The coordinator's is durable.
    assert_eq!(
        minio("MINIO_NOTIFY_AMQP_EXCHANGE_TYPE_PRIMARY"),
        coordinator("UC_EVENTS_EXCHANGE_TYPE")
    );
    assert_eq!(minio("MINIO_NOTIFY_AMQP_DURABLE_PRIMARY"), "on");
    assert_eq!(minio("MINIO_NOTIFY_AMQP_DELIVERY_MODE_PRIMARY"), "2");
    assert!(
        !minio("MINIO_NOTIFY_AMQP_QUEUE_DIR_PRIMARY").is_empty(),
        "events need a queue dir to survive a broker outage"
    );
}
