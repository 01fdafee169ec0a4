use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{MIB, assert_error, payload, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_small_file_is_one_presigned_put_and_completes_as_uploaded() {
    let app = spawn_app().await;
    let data = payload(MIB, 1);

    let upload = app.declare(data.len()).await;
    assert_eq!(upload["status"], "pending");
    assert_eq!(upload["multipart"], false);
    assert_eq!(upload["part_count"], 1);
    let parts = upload["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0]["size"], MIB);
    let key = upload["key"].as_str().unwrap();
    assert!(
        key.ends_with("/jugada_final.mp4"),
        "server-generated key: {key}"
    );

    let put = app.put_part(&parts[0], data.clone()).await;
    assert_eq!(put.status(), StatusCode::OK);

    let id = upload["id"].as_str().unwrap();
    let completed = app.complete(id, None).await;
    assert_eq!(completed.status(), StatusCode::OK);
    let completed: Value = completed.json().await.unwrap();
    assert_eq!(completed["status"], "uploaded");
    assert!(completed["confirmed_at"].is_string());
    assert_eq!(app.stored_bytes(key).await, data);

    // Its job is published right after, which moves it on to `processing`.
    let fetched = app.wait_for_status(id, &["processing"]).await;
    assert_eq!(fetched["metadata"]["team"], "ANB");
}

#[tokio::test]
async fn the_create_response_points_at_the_new_upload() {
    let app = spawn_app().await;
    let response = app
        .create_upload(&serde_json::json!({
            "filename": "a.mp4", "size": 10, "content_type": "video/mp4", "title": "A"
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/uploads/{}", body["id"].as_str().unwrap())
    );
}

#[tokio::test]
async fn completing_twice_is_harmless() {
    let app = spawn_app().await;
    let data = payload(1000, 2);
    let upload = app.declare(data.len()).await;
    app.put_part(&upload["parts"][0], data).await;
    let id = upload["id"].as_str().unwrap();

    let first: Value = app.complete(id, None).await.json().await.unwrap();
    assert_eq!(first["status"], "uploaded");
    // The relay moves it on to `processing` by itself; wait for that before comparing.
    app.wait_for_status(id, &["processing"]).await;
    let before = app.fingerprint().await;
    let second = app.complete(id, None).await;
    assert_eq!(second.status(), StatusCode::OK);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["status"], "processing");
    assert_eq!(first["confirmed_at"], second["confirmed_at"]);
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn completing_before_the_bytes_arrive_is_a_conflict() {
    let app = spawn_app().await;
    let upload = app.declare(1000).await;
    let before = app.fingerprint().await;
    let response = app.complete(upload["id"].as_str().unwrap(), None).await;
    assert_error(response, StatusCode::CONFLICT, "object-missing").await;
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn an_object_of_another_size_is_rejected_and_deleted() {
    let app = spawn_app().await;
    let upload = app.declare(1000).await;
    let key = upload["key"].as_str().unwrap();
    // Someone with storage credentials writes 999 bytes where 1000 were declared.
    app.put_object_directly(key, payload(999, 3)).await;

    let response = app.complete(upload["id"].as_str().unwrap(), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "rejected");
    assert!(body["reason"].as_str().unwrap().contains("999"), "{body}");
    assert!(
        !app.object_exists(key).await,
        "a rejected object is deleted"
    );
}

#[tokio::test]
async fn storage_refuses_a_put_of_more_or_fewer_bytes_than_signed() {
    let app = spawn_app().await;
    let upload = app.declare(1000).await;
    let part = &upload["parts"][0];
    for len in [1001, 999] {
        let response = app.put_part(part, payload(len, 4)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{len} bytes");
    }
    assert!(!app.object_exists(upload["key"].as_str().unwrap()).await);
}

#[tokio::test]
async fn storage_refuses_a_put_with_another_content_type() {
    let app = spawn_app().await;
    let upload = app.declare(1000).await;
    let part = &upload["parts"][0];
    let response = app
        .http
        .put(part["url"].as_str().unwrap())
        .header("content-type", "text/html")
        .body(payload(1000, 5))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_size_limit_is_configurable() {
    let app = spawn_app_with(&["--max-upload-size=1000"]).await;
    let response = app
        .create_upload(&serde_json::json!({
            "filename": "a.mp4", "size": 1001, "content_type": "video/mp4", "title": "A"
        }))
        .await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "upload-too-large").await;
}
