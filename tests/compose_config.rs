//! `compose.yaml` is checked on every machine, Docker or not: it must validate against the
//! Compose Specification (`check-jsonschema`, which `make test` installs; `docker compose
//! config` too where the compose plugin exists), name every service of the stack, point
//! MinIO's AMQP target at the exchange the coordinator declares, and take its secrets from
//! the environment rather than carry any.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const SERVICES: [&str; 5] = ["postgres", "rabbitmq", "minio", "minio-init", "coordinator"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where pip put its scripts (check-jsonschema), as scripts/install-deps.sh installs them.
fn python_scripts() -> PathBuf {
    let output = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .expect("python3 runs");
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// compose.yaml as JSON, read by the YAML library check-jsonschema brings.
fn compose() -> Value {
    let output = Command::new("python3")
        .args([
            "-c",
            "import json, sys\nfrom ruamel.yaml import YAML\n\
             print(json.dumps(YAML(typ='safe').load(open(sys.argv[1]))))",
        ])
        .arg(root().join("compose.yaml"))
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "compose.yaml does not parse (ruamel.yaml comes with check-jsonschema: make deps): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// A service's environment: its `environment` mapping over its `env_file`s.
fn environment(compose: &Value, service: &str) -> BTreeMap<String, String> {
    let definition = &compose["services"][service];
    let mut env = BTreeMap::new();
    let files = match &definition["env_file"] {
        Value::String(file) => vec![file.clone()],
        Value::Array(files) => files
            .iter()
            .filter_map(|f| f.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    for file in files {
        let text = std::fs::read_to_string(root().join(&file)).expect("the env_file exists");
        for line in text.lines().map(str::trim) {
            if let Some((key, value)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
                env.insert(key.to_owned(), value.to_owned());
            }
        }
    }
    if let Some(map) = definition["environment"].as_object() {
        for (key, value) in map {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            env.insert(key.clone(), value);
        }
    }
    env
}

#[test]
fn compose_file_follows_the_compose_specification() {
    let checker = python_scripts().join("check-jsonschema");
    let checker = if checker.exists() {
        checker
    } else {
        PathBuf::from("check-jsonschema")
    };
    let output = Command::new(&checker)
        .args(["--builtin-schema", "vendor.compose-spec"])
        .arg(root().join("compose.yaml"))
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "{} cannot run ({err}): make deps installs it",
                checker.display()
            )
        });
    assert!(
        output.status.success(),
        "compose.yaml breaks the Compose Specification:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Where the compose plugin exists, Docker Compose renders it too (with stand-in secrets).
    let plugin = Command::new("docker").args(["compose", "version"]).output();
    if plugin.is_ok_and(|out| out.status.success()) {
        let secrets = [
            "UC_POSTGRES_PASSWORD",
            "UC_RABBITMQ_PASSWORD",
            "UC_S3_ACCESS_KEY",
            "UC_S3_SECRET_KEY",
            "UC_JWT_SECRET",
        ];
        let rendered = Command::new("docker")
            .args(["compose", "-f", "compose.yaml", "config", "--quiet"])
            .current_dir(root())
            .envs(secrets.map(|name| (name, "rendering-only-0123456789abcdef0123")))
            .output()
            .expect("docker runs");
        assert!(
            rendered.status.success(),
            "docker compose config: {}",
            String::from_utf8_lossy(&rendered.stderr)
        );
    }
}

#[test]
fn compose_stack_names_every_service() {
    let compose = compose();
    let mut services: Vec<&str> = compose["services"]
        .as_object()
        .expect("services")
        .keys()
        .map(String::as_str)
        .collect();
    services.sort_unstable();
    let mut expected = SERVICES.to_vec();
    expected.sort_unstable();
    assert_eq!(services, expected);
}

#[test]
fn minio_publishes_to_the_exchange_the_coordinator_declares() {
    let compose = compose();
    let minio = environment(&compose, "minio");
    let coordinator = environment(&compose, "coordinator");
    let minio = |key: &str| {
        minio
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("minio sets no {key}"))
    };
    let coordinator = |key: &str| {
        coordinator
            .get(key)
            .cloned()
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

#[test]
fn the_stack_carries_no_secret_of_its_own() {
    let compose = compose();
    // Every secret is a `${VAR}` the .env file fills in, never a value written here.
    for (service, key) in [
        ("postgres", "POSTGRES_PASSWORD"),
        ("rabbitmq", "RABBITMQ_DEFAULT_PASS"),
        ("minio", "MINIO_ROOT_PASSWORD"),
        ("coordinator", "UC_JWT_SECRET"),
        ("coordinator", "UC_S3_SECRET_KEY"),
    ] {
        let value = environment(&compose, service)
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("{service} sets no {key}"));
        assert!(
            value.starts_with("${") && !value.contains(":-"),
            "{service} {key} = {value}: a secret must come from the environment, with no default"
        );
    }
    assert!(
        !environment(&compose, "coordinator").contains_key("UC_DEV_MODE"),
        "the compose stack is a deployment, not development mode"
    );
}
