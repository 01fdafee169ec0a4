//! The SDKs generated from `openapi/openapi.json` (`make sdk`, scripts/sdk.sh) against the real
//! stack: a script per language (`tests/sdk/upload.ts`, `tests/sdk/upload.py`) declares a
//! multipart upload with SHA-256 part checksums through its generated client, PUTs the parts straight to storage in
//! parallel, completes and reads the upload through the client, and checks that an unknown
//! upload surfaces as the API's typed `upload-not-found` error. Here we check that storage holds
//! exactly the bytes the script sent. Without generated SDKs the tests fail and say to run
//! `make sdk` (`make test` does it first).

#[path = "support/mod.rs"]
mod helpers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use helpers::{MIB, TestApp, spawn_app};

/// Three 8 MiB parts, the last one short: multipart, and odd enough that a misplaced or
/// truncated part shows.
const SIZE: usize = 20 * MIB + 12_345;
const CONFIRMED: [&str; 3] = ["uploaded", "processing", "processed"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Fails the test, naming the fix, unless every file of `needed` exists and the SDKs were
/// generated from the current OpenAPI document.
fn require_generated(language: &str, needed: &[&str]) {
    for file in needed {
        assert!(
            root().join(file).exists(),
            "the {language} SDK is not generated ({file} is missing): run `make sdk` \
             (scripts/sdk.sh installs the pinned generators from sdk-tools/ and generates sdk/)"
        );
    }
    let document = std::fs::read(root().join("openapi/openapi.json")).unwrap();
    let current: String = Sha256::digest(&document)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let generated_from =
        std::fs::read_to_string(root().join("sdk/.openapi.sha256")).unwrap_or_default();
    assert_eq!(
        generated_from.trim(),
        current,
        "the {language} SDK was generated from another openapi/openapi.json: run `make sdk` again"
    );
}

/// Runs `command` on a blocking thread, so this test's runtime keeps serving the app it drives.
async fn run(what: &str, mut command: Command) -> Output {
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|err| panic!("cannot start {what}: {err}"));
    eprintln!(
        "{what}: {:.1} s\n{}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The script's one JSON line: `{"id", "key", "status", "size"}`.
fn result_line(what: &str, output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.starts_with('{'))
        .unwrap_or_else(|| panic!("{what} printed no JSON line:\n{stdout}"));
    serde_json::from_str(line).unwrap_or_else(|err| panic!("{what} printed {line}: {err}"))
}

/// What the scripts upload: byte i is i % 251.
fn expected_bytes() -> Vec<u8> {
    (0..SIZE).map(|i| (i % 251) as u8).collect()
}

/// The script's upload is confirmed, as the API and the script both say, and storage holds
/// exactly the bytes it sent.
async fn assert_uploaded_intact(app: &TestApp, result: &Value, sdk: &str) {
    assert!(
        CONFIRMED.contains(&result["status"].as_str().unwrap_or_default()),
        "the {sdk} script saw {result}"
    );
    assert_eq!(result["size"], SIZE, "{result}");
    let id = result["id"].as_str().expect("the result has an id");

    let response = app.get_upload(id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let upload: Value = response.json().await.unwrap();
    assert!(
        CONFIRMED.contains(&upload["status"].as_str().unwrap()),
        "{upload}"
    );
    assert_eq!(upload["key"], result["key"]);
    assert_eq!(upload["multipart"], true);
    // The scripts choose 5 MiB parts and sign each for its SHA-256.
    assert_eq!(upload["part_count"], 5);
    assert_eq!(upload["checksums"]["algorithm"], "sha256", "{upload}");
    assert_eq!(upload["checksums"]["parts"].as_array().unwrap().len(), 5);
    assert_eq!(upload["content_type"], "video/mp4");
    assert_eq!(upload["metadata"]["sdk"], sdk, "{upload}");

    let stored = app.stored_bytes(result["key"].as_str().unwrap()).await;
    let expected = expected_bytes();
    assert_eq!(stored.len(), expected.len(), "stored object size");
    if let Some(at) = stored.iter().zip(&expected).position(|(a, b)| a != b) {
        panic!(
            "the stored object differs from what the {sdk} script sent, from byte {at} (part {})",
            at / (5 * MIB) + 1
        );
    }
}

fn tool(relative: &str) -> PathBuf {
    root().join("sdk-tools/node_modules").join(relative)
}

#[tokio::test]
async fn a_multipart_upload_through_the_typescript_sdk_is_stored_intact() {
    require_generated(
        "TypeScript",
        &[
            "sdk/typescript/sdk.gen.ts",
            "sdk-tools/node_modules/.bin/tsx",
            "sdk-tools/node_modules/typescript/bin/tsc",
        ],
    );
    // The script compiles against the generated types under `strict`, or the test fails here.
    let mut type_check = Command::new("node");
    type_check
        .arg(tool("typescript/bin/tsc"))
        .args(["-p", "sdk-tools/tsconfig.json"])
        .current_dir(root());
    run(
        "tsc on tests/sdk/upload.ts and the TypeScript SDK",
        type_check,
    )
    .await;

    let app = spawn_app().await;
    let mut script = Command::new(tool(".bin/tsx"));
    script
        .arg("tests/sdk/upload.ts")
        .arg(&app.address)
        .arg(SIZE.to_string())
        .env("UC_SDK_TOKEN", &app.token)
        .current_dir(root());
    let output = run("tests/sdk/upload.ts", script).await;

    let result = result_line("tests/sdk/upload.ts", &output);
    assert_uploaded_intact(&app, &result, "typescript").await;
}

#[tokio::test]
async fn a_multipart_upload_through_the_python_sdk_is_stored_intact() {
    require_generated(
        "Python",
        &["sdk/python/upload_coordinator_client/api/uploads/create_upload.py"],
    );
    let imports = Command::new("python3")
        .args(["-c", "import httpx, attrs"])
        .output();
    assert!(
        imports.is_ok_and(|output| output.status.success()),
        "python3 lacks the generated client's dependencies (httpx, attrs): run `make sdk`"
    );

    let app = spawn_app().await;
    let mut script = Command::new("python3");
    script
        .arg("tests/sdk/upload.py")
        .arg(&app.address)
        .arg(SIZE.to_string())
        .env("UC_SDK_TOKEN", &app.token)
        .env("PYTHONPATH", root().join("sdk/python"))
        .current_dir(root());
    let output = run("tests/sdk/upload.py", script).await;

    let result = result_line("tests/sdk/upload.py", &output);
    assert_uploaded_intact(&app, &result, "python").await;
}
