use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn probes_report_a_live_and_ready_service() {
    let app = spawn_app().await;
    let live = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    // Ready once the background work has connected to RabbitMQ (503 until then).
    app.wait_ready().await;
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], true);
    assert_eq!(body["storage"], true);
    assert_eq!(body["broker"], true);
    assert_eq!(body["background"], true);
    assert_eq!(body["down"], serde_json::json!([]));
}

#[tokio::test]
async fn the_document_and_its_viewer_are_served() {
    let app = spawn_app().await;
    let spec: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/api/uploads"]["post"].is_object());
    let docs = app.http.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_echoes_the_callers() {
    let app = spawn_app().await;
    let fresh = app.http.get(app.url("/healthz")).send().await.unwrap();
    let id = fresh.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let given = app
        .http
        .get(app.url("/api/uploads/not-a-uuid"))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-123");
}

#[tokio::test]
async fn metrics_count_requests_by_operation_and_uploads_by_status() {
    let app = spawn_app().await;
    app.declare(1000).await;
    let created = app
        .metric(
            "uc_http_requests_total",
            &[("route", "createUpload"), ("status", "201")],
        )
        .await;
    assert_eq!(created, 1.0);
    assert_eq!(
        app.metric("uc_uploads", &[("status", "pending")]).await,
        1.0
    );
}

#[tokio::test]
async fn browsers_on_configured_origins_may_call_the_api() {
    let app = crate::helpers::spawn_app_with(&["--cors-origins=http://app.example"]).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/api/uploads"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight("http://app.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://app.example"
    );
    let other = preflight("http://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}
