//! `Idempotency-Key` on `POST /api/uploads`: a retried declaration gets the same upload.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{MIB, TestApp, assert_error, spawn_app};

fn declaration(size: usize) -> Value {
    json!({"filename": "clip.mp4", "size": size, "content_type": "video/mp4", "title": "clip",
           "metadata": {"camera": "a", "take": 2}})
}

async fn create_with_key(app: &TestApp, token: &str, key: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(app.url("/api/uploads"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn uploads_in_database(app: &TestApp) -> i64 {
    app.db
        .query_one("SELECT count(*) FROM uploads", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_retry_with_the_same_key_and_body_gets_the_same_upload_with_fresh_urls() {
    let app = spawn_app().await;
    let body = declaration(20 * MIB);
    let first = create_with_key(&app, &app.token, "mobile-retry-1", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();

    // The same JSON in another key order is the same declaration.
    let reordered = json!({"title": "clip", "metadata": {"take": 2, "camera": "a"},
                           "content_type": "video/mp4", "size": 20 * MIB, "filename": "clip.mp4"});
    let again = create_with_key(&app, &app.token, "mobile-retry-1", &reordered).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(
        again.headers()["location"],
        format!("/api/uploads/{}", first["id"].as_str().unwrap())
    );
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["key"], first["key"]);
    let parts = again["parts"].as_array().unwrap();
    assert_eq!(parts.len(), first["parts"].as_array().unwrap().len());
    // The fresh URLs work: the bytes go up through them.
    let response = app
        .put_part(
            &parts[0],
            vec![7u8; parts[0]["size"].as_u64().unwrap() as usize],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(uploads_in_database(&app).await, 1);

    // Another owner's key of the same name is theirs.
    let bob = app.token_for("bob@example.com");
    let bobs: Value = create_with_key(&app, &bob, "mobile-retry-1", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(bobs["id"], first["id"]);
    assert_eq!(uploads_in_database(&app).await, 2);
}

#[tokio::test]
async fn concurrent_retries_create_one_upload() {
    let app = spawn_app().await;
    let body = declaration(12 * MIB);
    let requests = (0..8).map(|_| create_with_key(&app, &app.token, "burst", &body));
    let responses = futures_util::future::join_all(requests).await;
    let mut ids = Vec::new();
    let mut replayed = 0;
    for response in responses {
        assert_eq!(response.status(), StatusCode::CREATED);
        replayed += response.headers().contains_key("idempotent-replayed") as usize;
        let upload: Value = response.json().await.unwrap();
        ids.push(upload["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(replayed, 7);
    assert_eq!(uploads_in_database(&app).await, 1);
    // One multipart upload in storage, not eight.
    let listed = app
        .s3
        .list_multipart_uploads()
        .bucket(&app.bucket)
        .prefix(format!("uploads/{}", ids[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.uploads().len(), 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let first = create_with_key(&app, &app.token, "k-1", &declaration(1000)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let other = create_with_key(&app, &app.token, "k-1", &declaration(1001)).await;
    assert_error(
        other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
    )
    .await;
    assert_eq!(uploads_in_database(&app).await, 1);

    // A refused declaration keeps no key: the corrected retry creates.
    let mut bad = declaration(1000);
    bad["content_type"] = json!("text/plain");
    let refused = create_with_key(&app, &app.token, "k-2", &bad).await;
    assert_error(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unsupported-content-type",
    )
    .await;
    let corrected = create_with_key(&app, &app.token, "k-2", &declaration(1000)).await;
    assert_eq!(corrected.status(), StatusCode::CREATED);

    for key in ["", &"x".repeat(256), "caf\u{e9}"] {
        let response = app
            .http
            .post(app.url("/api/uploads"))
            .bearer_auth(&app.token)
            .header("idempotency-key", key.as_bytes())
            .json(&declaration(1000))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "key {key:?}");
        assert_error(response, StatusCode::BAD_REQUEST, "invalid-idempotency-key").await;
    }
    assert_eq!(uploads_in_database(&app).await, 2);
}

#[tokio::test]
async fn a_key_is_forgotten_after_a_day() {
    let app = spawn_app().await;
    let first: Value = create_with_key(&app, &app.token, "daily", &declaration(1000))
        .await
        .json()
        .await
        .unwrap();
    app.db
        .execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'",
            &[],
        )
        .await
        .unwrap();
    let later = create_with_key(&app, &app.token, "daily", &declaration(2000)).await;
    assert_eq!(later.status(), StatusCode::CREATED);
    assert!(later.headers().get("idempotent-replayed").is_none());
    let later: Value = later.json().await.unwrap();
    assert_ne!(later["id"], first["id"]);

    // The janitor's statement forgets keys past their lifetime, and only those.
    create_with_key(&app, &app.token, "fresh", &declaration(3000)).await;
    app.db
        .execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'daily'",
            &[],
        )
        .await
        .unwrap();
    let lifetime = upload_coordinator::uploads::IDEMPOTENCY_KEY_LIFETIME.as_secs_f64();
    let pruned = upload_coordinator::db::idempotency::prune(&app.pooled_db().await, lifetime, 100)
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let left: Vec<String> = app
        .db
        .query("SELECT key FROM idempotency_keys", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(left, ["fresh"]);
}
