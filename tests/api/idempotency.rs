//! `Idempotency-Key` on `POST /api/uploads`: a retried declaration gets the same upload.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{MIB, TestApp, assert_error, spawn_app, wait_for};

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

/// Once `count` creates wait for their owner's usage row (their admission statement).
async fn creates_waiting_for_admission(app: &TestApp, count: i64) {
    let waiting = || async {
        let waiting: i64 = app
            .db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock' \
                   AND query LIKE '%INSERT INTO owner_usage%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        (waiting >= count).then_some(())
    };
    wait_for(
        "creates waiting for admission",
        Duration::from_secs(30),
        waiting,
    )
    .await;
}

#[tokio::test]
async fn a_create_that_stalls_until_a_retry_takes_its_key_over_answers_with_the_retrys_upload() {
    let app = spawn_app().await;
    let body = declaration(12 * MIB);
    // The owner's usage row exists once it has an upload; holding it stalls every create of
    // the owner just before it records its intent.
    let first = create_with_key(&app, &app.token, "earlier", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let mut locker = app.pooled_db().await;
    let lock = locker.transaction().await.unwrap();
    lock.execute("SELECT 1 FROM owner_usage FOR UPDATE", &[])
        .await
        .unwrap();

    let (app, body) = (&app, &body);
    let (stalled, (retry, ())) = tokio::join!(
        create_with_key(app, &app.token, "stalls", body),
        async move {
            creates_waiting_for_admission(app, 1).await;
            // As if the stalled request had held its claim past the abandonment delay.
            let backdated = app
                .db
                .execute(
                    "UPDATE idempotency_keys SET created_at = created_at - interval '2 minutes' \
                     WHERE key = 'stalls'",
                    &[],
                )
                .await
                .unwrap();
            assert_eq!(backdated, 1, "the stalled request claimed the key");
            tokio::join!(create_with_key(app, &app.token, "stalls", body), async {
                creates_waiting_for_admission(app, 2).await;
                lock.rollback().await.unwrap();
            })
        }
    );
    assert_eq!(stalled.status(), StatusCode::CREATED);
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(stalled.headers()["idempotent-replayed"], "true");
    assert!(retry.headers().get("idempotent-replayed").is_none());
    let stalled: Value = stalled.json().await.unwrap();
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(stalled["id"], retry["id"]);
    // The stalled request's intent was rolled back: one upload for the key, and the key names it.
    assert_eq!(uploads_in_database(app).await, 2);
    let named: uuid::Uuid = app
        .db
        .query_one(
            "SELECT upload_id FROM idempotency_keys WHERE key = 'stalls'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(named.to_string(), retry["id"].as_str().unwrap());
}

#[tokio::test]
async fn a_claim_taken_over_can_neither_name_an_upload_nor_release_the_key() {
    use upload_coordinator::db::idempotency::{self, Claim};
    let app = spawn_app().await;
    let db = app.pooled_db().await;
    let claim = |abandoned_secs: f64| {
        idempotency::claim(&db, "someone", "k", b"fp", 86_400.0, abandoned_secs)
    };
    let Claim::Ours { claimed_at: stale } = claim(60.0).await.unwrap() else {
        panic!("a new key is claimed");
    };
    assert!(matches!(
        claim(60.0).await.unwrap(),
        Claim::Held {
            upload_id: None,
            ..
        }
    ));
    let Claim::Ours { claimed_at: fresh } = claim(0.0).await.unwrap() else {
        panic!("a key abandoned for longer than the delay is taken over");
    };
    assert_ne!(stale, fresh);

    // The stale claim's failure leaves the key claimed, and its upload is not named.
    idempotency::release(&db, "someone", "k", stale)
        .await
        .unwrap();
    let declared = app.declare(1000).await;
    let upload = uuid::Uuid::parse_str(declared["id"].as_str().unwrap()).unwrap();
    assert!(
        !idempotency::attach(&db, "someone", "k", stale, upload)
            .await
            .unwrap()
    );
    assert!(
        idempotency::attach(&db, "someone", "k", fresh, upload)
            .await
            .unwrap()
    );
    assert_eq!(
        claim(60.0).await.unwrap(),
        Claim::Held {
            fingerprint: b"fp".to_vec(),
            upload_id: Some(upload)
        }
    );
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
