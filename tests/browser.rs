//! The demo page in a real browser: Debian's headless Chromium, driven by playwright-core
//! (`tests/browser/upload.mjs`), uploads through Uppy's Dashboard into the test SeaweedFS and
//! cancels an upload midway; then the API, the database and storage must agree with the page.
//! `make test` installs Chromium and builds the page first; run on its own without them, the
//! test says what is missing and does nothing (in CI it fails instead).

#[path = "support/mod.rs"]
mod helpers;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use reqwest::StatusCode;
use serde_json::Value;

use helpers::{MIB, TestApp, spawn_app_with, webhook_hub};

/// The owner of `TestApp::token`, so the test reads the page's uploads with its own token.
const OWNER: &str = "ana@example.com";
const CONFIRMED: [&str; 3] = ["uploaded", "processing", "processed"];

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What the browser run needs and is missing, if anything.
fn missing_prerequisite(web: &Path) -> Option<String> {
    if !chromium().exists() {
        return Some(format!(
            "{} is missing (scripts/install-deps.sh installs Debian's chromium)",
            chromium().display()
        ));
    }
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|output| output.status.success()) {
        return Some("node is missing (scripts/install-deps.sh installs it)".into());
    }
    if !web.join("dist/index.html").exists() || !web.join("node_modules/playwright-core").exists() {
        return Some("the demo page is not built: run `make web`".into());
    }
    None
}

/// Runs the Playwright script against `address`; returns its `RESULT` line, parsed.
async fn drive_the_page(root: &Path, address: &str) -> Value {
    let mut command = Command::new("node");
    command
        .arg(root.join("tests/browser/upload.mjs"))
        .arg(address)
        .arg(root.join("target/browser-artifacts"))
        .arg(OWNER)
        // playwright-core is a devDependency of the page, installed in web/node_modules.
        .current_dir(root.join("web"));
    // Blocking on the child elsewhere keeps this runtime free to serve the page's requests.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "the browser script failed ({})",
        output.status
    );
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .expect("the script prints its RESULT line");
    serde_json::from_str(line).expect("RESULT is JSON")
}

async fn fetch_upload(app: &TestApp, id: &str) -> Value {
    let response = app.get_upload(id).await;
    assert_eq!(response.status(), StatusCode::OK, "upload {id}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn videos_uploaded_through_the_demo_page_are_confirmed_and_a_cancelled_one_is_aborted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(missing) = missing_prerequisite(&root.join("web")) {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser test cannot run: {missing}"
        );
        eprintln!("skipped: {missing}");
        return;
    }
    let web_dir = format!("--web-dir={}", root.join("web/dist").display());
    let app = spawn_app_with(&["--dev-mode=true", "--demo-page=true", &web_dir]).await;
    // Small files go up as a form POST with no call back to us: storage's event confirms them.
    let _events = webhook_hub::subscribe(&app.address);

    let started = Instant::now();
    let result = drive_the_page(root, &app.address).await;
    println!(
        "browser run: {:.1} s in all; clip.mp4 (32 MiB, multipart) and small.mp4 (1 MiB, POST \
         policy) uploaded {} s after the click, shown confirmed after {} s",
        started.elapsed().as_secs_f64(),
        result["seconds_to_uploaded"],
        result["seconds_to_confirmed"],
    );
    let ids = &result["uploads"];

    for (name, size, multipart, title) in [
        ("clip.mp4", 32 * MIB, true, "clip"),
        ("small.mp4", MIB, false, "small"),
    ] {
        let upload = fetch_upload(&app, ids[name].as_str().unwrap()).await;
        assert!(
            CONFIRMED.contains(&upload["status"].as_str().unwrap()),
            "{name}: {upload}"
        );
        assert_eq!(upload["size"], size, "{name}");
        assert_eq!(upload["multipart"], multipart, "{name}");
        assert_eq!(upload["title"], title, "{name}");
        assert_eq!(upload["content_type"], "video/mp4", "{name}");
        assert!(
            app.object_exists(upload["key"].as_str().unwrap()).await,
            "{name} is in storage"
        );
    }

    let cancelled_id = ids["cancel-me.mp4"].as_str().unwrap();
    let cancelled = fetch_upload(&app, cancelled_id).await;
    assert_eq!(cancelled["status"], "aborted", "{cancelled}");
    let storage_upload_id: String = app
        .db
        .query_one(
            "SELECT storage_upload_id FROM uploads WHERE id = $1::text::uuid",
            &[&cancelled_id],
        )
        .await
        .unwrap()
        .get(0);
    let listed = app
        .s3
        .list_parts()
        .bucket(&app.bucket)
        .key(cancelled["key"].as_str().unwrap())
        .upload_id(storage_upload_id)
        .send()
        .await;
    assert!(
        listed.is_err(),
        "the cancelled multipart upload is gone from storage"
    );
    assert!(
        !app.object_exists(cancelled["key"].as_str().unwrap()).await,
        "no object was made of the cancelled upload"
    );

    let screenshot = result["screenshot"].as_str().unwrap();
    assert!(Path::new(screenshot).exists());
    println!("screenshot of the page after a confirmed upload: {screenshot}");
}
