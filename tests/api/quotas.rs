//! Owner quotas on creates: each answers 429 with `Retry-After`, creates nothing in the database
//! or storage, and is shared by replicas.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{MIB, TestApp, assert_error, spawn_app_with};

fn declaration(size: usize) -> Value {
    json!({"filename": "clip.mp4", "size": size, "content_type": "video/mp4", "title": "clip"})
}

async fn create_on(app: &TestApp, address: &str, size: usize) -> reqwest::Response {
    app.http
        .post(format!("{address}/api/uploads"))
        .bearer_auth(&app.token)
        .json(&declaration(size))
        .send()
        .await
        .unwrap()
}

/// An app whose keys go under a prefix of its own, so storage can be counted per test.
async fn app_with(limit: &str) -> (TestApp, String) {
    let prefix = format!("quota-{}", uuid::Uuid::new_v4().simple());
    let flag = format!("--key-prefix={prefix}");
    (spawn_app_with(&[limit, &flag]).await, prefix)
}

/// The uploads rows, and the multipart uploads storage holds under `prefix`.
async fn footprint(app: &TestApp, prefix: &str) -> (i64, usize) {
    let rows: i64 = app
        .db
        .query_one("SELECT count(*) FROM uploads", &[])
        .await
        .unwrap()
        .get(0);
    let listed = app
        .s3
        .list_multipart_uploads()
        .bucket(&app.bucket)
        .prefix(format!("{prefix}/"))
        .send()
        .await
        .unwrap();
    (rows, listed.uploads().len())
}

/// What the owner's usage row says is pending, beside what the uploads table holds.
async fn usage_beside_rows(app: &TestApp, owner: &str) -> ((i64, i64), (i64, i64)) {
    let row = app
        .db
        .query_one(
            "SELECT pending_uploads, pending_bytes FROM owner_usage WHERE owner = $1",
            &[&owner],
        )
        .await
        .unwrap();
    let counted = app
        .db
        .query_one(
            "SELECT count(*), coalesce(sum(size), 0)::bigint FROM uploads \
             WHERE owner = $1 AND status = 'pending'",
            &[&owner],
        )
        .await
        .unwrap();
    ((row.get(0), row.get(1)), (counted.get(0), counted.get(1)))
}

async fn assert_throttled(response: reqwest::Response, code: &str) -> u64 {
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, code).await;
    retry_after
}

#[tokio::test]
async fn pending_uploads_are_capped_and_a_refused_create_leaves_nothing() {
    let (app, prefix) = app_with("--max-pending-uploads=2").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let response = create_on(&app, &app.address, 12 * MIB).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        ids.push(
            response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let before = footprint(&app, &prefix).await;
    assert_eq!(before, (2, 2));
    let refused = create_on(&app, &app.address, 12 * MIB).await;
    assert_throttled(refused, "too-many-pending-uploads").await;
    assert_eq!(footprint(&app, &prefix).await, before);

    // Ending one frees its place.
    assert_eq!(app.abort(&ids[0]).await.status(), StatusCode::OK);
    let (usage, rows) = usage_beside_rows(&app, "ana@example.com").await;
    assert_eq!(usage, (1, 12 * MIB as i64));
    assert_eq!(usage, rows);
    assert_eq!(
        create_on(&app, &app.address, 12 * MIB).await.status(),
        StatusCode::CREATED
    );
    let (usage, rows) = usage_beside_rows(&app, "ana@example.com").await;
    assert_eq!(usage, (2, 24 * MIB as i64));
    assert_eq!(usage, rows);
}

#[tokio::test]
async fn pending_bytes_are_capped() {
    let (app, prefix) = app_with(&format!("--max-pending-bytes={}", 20 * MIB)).await;
    assert_eq!(
        create_on(&app, &app.address, 12 * MIB).await.status(),
        StatusCode::CREATED
    );
    let refused = create_on(&app, &app.address, 12 * MIB).await;
    assert_throttled(refused, "too-many-pending-bytes").await;
    assert_eq!(footprint(&app, &prefix).await, (1, 1));
    // What still fits is accepted.
    assert_eq!(
        create_on(&app, &app.address, 8 * MIB).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn creates_per_minute_are_capped_whatever_becomes_of_them() {
    let (app, prefix) = app_with("--create-rate-per-minute=3").await;
    for _ in 0..3 {
        let response = create_on(&app, &app.address, 1000).await;
        let id = response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // Aborted at once: the rate counts creates, not what is pending.
        assert_eq!(app.abort(&id).await.status(), StatusCode::OK);
    }
    let refused = create_on(&app, &app.address, 1000).await;
    // Three a minute: the allowance has one create back within 20 seconds of the last (less
    // the time the three took).
    let retry_after = assert_throttled(refused, "create-rate-exceeded").await;
    assert!((5..=20).contains(&retry_after), "{retry_after}");
    assert_eq!(footprint(&app, &prefix).await.0, 3);
    // Another owner has a rate of their own.
    let bob = app
        .http
        .post(app.url("/api/uploads"))
        .bearer_auth(app.token_for("bob@example.com"))
        .json(&declaration(1000))
        .send()
        .await
        .unwrap();
    assert_eq!(bob.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn replicas_share_an_owners_limit_even_when_racing() {
    let (app, prefix) = app_with("--max-pending-uploads=3").await;
    let flag = format!("--key-prefix={prefix}");
    let replica = app
        .spawn_replica_with(&["--max-pending-uploads=3", &flag])
        .await;
    // Ten creates at once, split over both replicas.
    let addresses: Vec<&str> = (0..10)
        .map(|i| {
            if i % 2 == 0 {
                app.address.as_str()
            } else {
                replica.as_str()
            }
        })
        .collect();
    let responses =
        futures_util::future::join_all(addresses.iter().map(|a| create_on(&app, a, 12 * MIB)))
            .await;
    let created = responses
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED)
        .count();
    let throttled = responses
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((created, throttled), (3, 7));
    // The refused ones left nothing behind in storage either.
    assert_eq!(footprint(&app, &prefix).await, (3, 3));
    let refused = create_on(&app, &replica, 1000).await;
    assert_throttled(refused, "too-many-pending-uploads").await;
}

#[tokio::test]
async fn a_drifted_counter_is_recounted_from_the_uploads() {
    let (app, _) = app_with("--max-pending-uploads=2").await;
    assert_eq!(
        create_on(&app, &app.address, 12 * MIB).await.status(),
        StatusCode::CREATED
    );
    // A counter that drifted (rows written with triggers off, say) refuses a create with room.
    app.db
        .execute(
            "UPDATE owner_usage SET pending_uploads = 50, pending_bytes = 7 WHERE owner = $1",
            &[&"ana@example.com"],
        )
        .await
        .unwrap();
    // And an owner with a pending upload and no counter at all (written with triggers off).
    app.db
        .batch_execute(&format!(
            "SET session_replication_role = replica; \
             INSERT INTO uploads (id, owner, title, filename, content_type, size, bucket, key, \
                 multipart, part_size, part_count, expires_at) \
             VALUES ('{}', 'bob@example.com', 'b', 'b.mp4', 'video/mp4', 1000, 'videos', \
                 'recount/b.mp4', false, 1000, 1, now() + interval '1 day'); \
             SET session_replication_role = origin",
            uuid::Uuid::now_v7()
        ))
        .await
        .unwrap();
    let refused = create_on(&app, &app.address, 12 * MIB).await;
    assert_throttled(refused, "too-many-pending-uploads").await;

    let database_url = crate::helpers::Stack::from_env().database_url(&app.database);
    let recount = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_upload-coordinator"))
            .arg(format!("--database-url={database_url}"))
            .args(["quotas", "recount"])
            .args(args)
            .output()
            .unwrap()
    };
    // A mistyped owner is said to be unknown, and gets no counter.
    let unknown = recount(&["--owner", "nobody@example.com"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no quota counter"));
    let output = recount(&[]);
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        said.contains(&format!(
            "ana@example.com\tpending uploads 50 -> 1\tpending bytes 7 -> {}",
            12 * MIB
        )),
        "{said}"
    );
    assert!(
        said.contains("bob@example.com\tpending uploads 0 -> 1\tpending bytes 0 -> 1000"),
        "{said}"
    );
    assert!(said.contains("2 owner(s) recounted, 2 corrected"), "{said}");
    for owner in ["ana@example.com", "bob@example.com"] {
        let (usage, rows) = usage_beside_rows(&app, owner).await;
        assert_eq!(usage, rows, "{owner}");
    }
    assert_eq!(
        create_on(&app, &app.address, 12 * MIB).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_replica_trusting_a_stale_sighting_still_refuses_and_leaves_nothing() {
    let (app, prefix) = app_with("--max-pending-uploads=20").await;
    let flag = format!("--key-prefix={prefix}");
    let replica = app
        .spawn_replica_with(&["--max-pending-uploads=20", &flag])
        .await;
    let started = || {
        app.metric(
            "uc_storage_request_duration_seconds_count",
            &[("operation", "CreateMultipartUpload"), ("outcome", "ok")],
        )
    };
    // Five creates here: this replica last saw the owner with room for many more.
    for _ in 0..5 {
        let created = create_on(&app, &app.address, 12 * MIB).await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    // The other replica spends that room.
    for _ in 0..15 {
        let created = create_on(&app, &replica, 12 * MIB).await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let before = footprint(&app, &prefix).await;
    assert_eq!(before, (20, 20));
    let started_before = started().await;

    // Trusting what it saw, this replica asks storage first; the insert refuses and the
    // multipart upload is aborted.
    let refused = create_on(&app, &app.address, 12 * MIB).await;
    assert_throttled(refused, "too-many-pending-uploads").await;
    assert_eq!(footprint(&app, &prefix).await, before);
    assert_eq!(started().await, started_before + 1.0);
    // The refusal taught it the owner's usage: the next create is refused before storage.
    let refused = create_on(&app, &app.address, 12 * MIB).await;
    assert_throttled(refused, "too-many-pending-uploads").await;
    assert_eq!(footprint(&app, &prefix).await, before);
    assert_eq!(started().await, started_before + 1.0);
}
