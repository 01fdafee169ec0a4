//! The demo page and its dev tokens exist only when switched on.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn with_the_demo_on_the_page_is_served_at_the_root_and_dev_tokens_work() {
    let dir = std::env::temp_dir().join(format!("uc-web-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(dir.join("assets/app.js"), "console.log(1)").unwrap();
    let web_dir = format!("--web-dir={}", dir.display());
    let app = spawn_app_with(&["--dev-mode=true", "--demo-page=true", &web_dir]).await;

    let page = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.text().await.unwrap(), "<h1>demo</h1>");
    let asset = app
        .http
        .get(app.url("/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(asset.status(), StatusCode::OK);

    let token: Value = app
        .http
        .post(app.url("/api/dev/token"))
        .json(&json!({"sub": "demo@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listing = app
        .http
        .get(app.url("/api/uploads"))
        .bearer_auth(token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), StatusCode::OK);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn with_the_demo_off_there_is_no_page_and_no_dev_token() {
    let app = spawn_app().await;
    let page = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let token = app
        .http
        .post(app.url("/api/dev/token"))
        .json(&json!({"sub": "demo@example.com"}))
        .send()
        .await
        .unwrap();
    assert_error(token, StatusCode::NOT_FOUND, "not-found").await;
}
