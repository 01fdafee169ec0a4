//! The demo page in a real browser: Debian's headless Chromium, driven by playwright-core
//! (`tests/browser/upload.mjs`), uploads through Uppy's Dashboard into the test SeaweedFS, sees
//! the worker's reports arrive over the status stream with no polling, and cancels an upload
//! midway; then the API, the database and storage must agree with the page.
//! And Uppy alone on a page of another origin (`tests/browser/cross-origin.mjs`), given only an
//! upload session, uploads with no CORS setting, while the service's log keeps no credential.
//! `make test` installs Chromium and builds the page first; run on its own without them, the
//! test says what is missing and does nothing (in CI it fails instead).

#[path = "support/mod.rs"]
mod helpers;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use helpers::process::{ServiceProcess, free_port};
use helpers::{MIB, Prepared, Stack, TestApp, spawn_app_with, wait_for, webhook_hub};

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
    let built = [
        "dist/index.html",
        "dist/embed.html",
        "node_modules/playwright-core",
    ];
    if !built.iter().all(|path| web.join(path).exists()) {
        return Some("the demo page is not built: run `make web`".into());
    }
    None
}

fn artifacts(root: &Path) -> PathBuf {
    root.join("target/browser-artifacts")
}

/// Runs a Playwright script of `tests/browser/`; returns its `RESULT` line, parsed.
async fn run_script(root: &Path, script: &str, args: &[&str]) -> Value {
    let mut command = Command::new("node");
    command
        .arg(root.join("tests/browser").join(script))
        .args(args)
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

/// Whether the browser tests can run here; in CI they must.
fn prerequisites_met(root: &Path) -> bool {
    let Some(missing) = missing_prerequisite(&root.join("web")) else {
        return true;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "the browser test cannot run: {missing}"
    );
    eprintln!("skipped: {missing}");
    false
}

#[tokio::test]
async fn videos_uploaded_through_the_demo_page_are_confirmed_and_a_cancelled_one_is_aborted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !prerequisites_met(root) {
        return;
    }
    let web_dir = format!("--web-dir={}", root.join("web/dist").display());
    let app = spawn_app_with(&["--dev-mode=true", "--demo-page=true", &web_dir]).await;
    // Small files go up as a form POST with no call back to us: storage's event confirms them.
    let _events = webhook_hub::subscribe(&app.address);
    let worker = tokio::spawn(report_processed_later(
        app.address.clone(),
        app.database.clone(),
    ));

    let started = Instant::now();
    let out = artifacts(root);
    let result = run_script(
        root,
        "upload.mjs",
        &[&app.address, out.to_str().unwrap(), OWNER],
    )
    .await;
    println!(
        "browser run: {:.1} s in all; clip.mp4 (32 MiB, multipart) and small.mp4 (1 MiB, POST \
         policy) uploaded {} s after the click, shown confirmed after {} s",
        started.elapsed().as_secs_f64(),
        result["seconds_to_uploaded"],
        result["seconds_to_confirmed"],
    );
    worker.abort();
    let ids = &result["uploads"];
    // The page showed the worker's reports without asking: they came over the status stream.
    assert_eq!(
        result["list_requests_while_waiting_for_processed"], 0,
        "{result}"
    );
    assert!(result["streams_opened"].as_u64().unwrap() >= 1, "{result}");
    assert!(
        result["seconds_waiting_for_processed"].as_f64().unwrap()
            >= WORKER_DELAY.as_secs_f64() / 2.0,
        "the wait spans the worker's delay, long enough for polling to have shown: {result}"
    );

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

/// How long the stand-in worker takes to report an upload processed.
const WORKER_DELAY: Duration = Duration::from_secs(3);

/// The platform's worker, reduced to its report: every upload that reaches `processing` is
/// reported `processed` after `WORKER_DELAY`, through the internal endpoint.
async fn report_processed_later(address: String, database: String) {
    let url = Stack::from_env().database_url(&database);
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let http = reqwest::Client::new();
    let mut reported = std::collections::HashSet::new();
    loop {
        let rows = db
            .query(
                "SELECT id::text FROM uploads WHERE status = 'processing'",
                &[],
            )
            .await
            .unwrap();
        for id in rows.iter().map(|row| row.get::<_, String>(0)) {
            if reported.insert(id.clone()) {
                let http = http.clone();
                let url = format!("{address}/api/internal/uploads/{id}/result");
                tokio::spawn(async move {
                    tokio::time::sleep(WORKER_DELAY).await;
                    let response = http
                        .post(url)
                        .bearer_auth(helpers::INTERNAL_TOKEN)
                        .json(&json!({"status": "processed", "output_location": "s3://videos/out"}))
                        .send()
                        .await
                        .unwrap();
                    assert!(response.status().is_success());
                });
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `dir` served over HTTP on a port of its own: another origin than the service's.
struct PageServer {
    child: Child,
    origin: String,
}

impl PageServer {
    async fn start(dir: &Path) -> Self {
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 serves the page");
        let origin = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        wait_for("the page server", Duration::from_secs(10), || async {
            let response = http.get(format!("{origin}/embed.html")).send().await.ok()?;
            response.status().is_success().then_some(())
        })
        .await;
        Self { child, origin }
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn uppy_on_another_origin_uploads_through_its_session_and_the_log_keeps_no_credential() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !prerequisites_met(root) {
        return;
    }
    let out = artifacts(root);
    std::fs::create_dir_all(&out).unwrap();
    let log_path = out.join("cross-origin-service.log");
    let prepared = Prepared::new().await;
    // The service as `make run` has it: no CORS setting.
    let service =
        ServiceProcess::start_logging_to(&prepared, free_port(), &[], Some(&log_path)).await;
    let app = prepared.client_for(service.address.clone()).await;
    let _events = webhook_hub::subscribe(&app.address);
    let page = PageServer::start(&root.join("web/dist")).await;
    assert_ne!(
        page.origin, app.address,
        "the page has an origin of its own"
    );

    // The page's backend starts a session for the page's origin and hands it the endpoint.
    let session: Value = app
        .http
        .post(app.url("/api/uppy-sessions"))
        .bearer_auth(&app.token)
        .json(&json!({"origin": page.origin}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let endpoint = session["companion_endpoint"].as_str().unwrap();
    let page_url = format!("{}/embed.html#endpoint={endpoint}", page.origin);
    let result = run_script(
        root,
        "cross-origin.mjs",
        &[&page_url, out.to_str().unwrap()],
    )
    .await;

    for (name, multipart) in [("small.mp4", false), ("clip.mp4", true)] {
        let row = app
            .db
            .query_one(
                "SELECT id::text, key, multipart FROM uploads WHERE filename = $1",
                &[&name],
            )
            .await
            .unwrap();
        let (id, key): (String, String) = (row.get(0), row.get(1));
        assert_eq!(row.get::<_, bool>(2), multipart, "{name}");
        let location = result["uploads"][name].as_str().unwrap();
        assert!(
            location.ends_with(&format!("/{}/{key}", app.bucket)),
            "{name}: Uppy reported {location}, the key is {key}"
        );
        app.wait_for_status(&id, &CONFIRMED).await;
    }

    drop(service);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("/uppy/[session]/s3/multipart"),
        "the session's calls are in the log"
    );
    let token = session["token"].as_str().unwrap();
    for secret in [
        token,
        app.token.as_str(),
        "X-Amz-Signature",
        "x-amz-signature",
        "Bearer ",
    ] {
        assert!(!log.contains(secret), "the service log holds {secret:?}");
    }
}
