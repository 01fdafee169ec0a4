//! The reaper expires abandoned intents; the reconciler confirms what no event announced.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{MIB, payload, spawn_app_with, wait_for};

#[tokio::test]
async fn an_expired_intent_has_its_multipart_upload_aborted() {
    let app = spawn_app_with(&["--upload-ttl=5", "--sweep-interval=1"]).await;
    let data = payload(12 * MIB, 40);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    let part_size = upload["part_size"].as_u64().unwrap() as usize;
    app.put_parts(&upload["parts"].as_array().unwrap()[..1], &data, part_size)
        .await;

    let expired = app.wait_for_status(id, &["expired"]).await;
    assert!(
        expired["reason"]
            .as_str()
            .unwrap()
            .contains("not completed")
    );
    assert!(
        !app.multipart_upload_exists(id, upload["key"].as_str().unwrap())
            .await,
        "the multipart upload is gone from storage"
    );
    let response = app.complete(id, None).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_reconciler_confirms_an_upload_whose_event_never_came() {
    // Not subscribed to SeaweedFS's webhook: only the reconciler can notice the object.
    let app = spawn_app_with(&["--reconcile-after=0", "--sweep-interval=1"]).await;
    let data = payload(4000, 41);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    app.put_part(&upload["parts"][0], data).await;

    let confirmed = app.wait_for_status(id, &["processing"]).await;
    assert!(confirmed["confirmed_at"].is_string());
    let reconciled = wait_for("the reconciler's count", Duration::from_secs(5), || async {
        let n = app
            .metric("uc_sweeper_actions_total", &[("action", "reconciled")])
            .await;
        (n >= 1.0).then_some(n)
    })
    .await;
    assert_eq!(reconciled, 1.0);
    assert_eq!(
        app.wait_for_messages(&app.names.job_queue, 1).await.len(),
        1
    );
    let listing: Value = app.get_upload(id).await.json().await.unwrap();
    assert_eq!(listing["status"], "processing");
}

#[tokio::test]
async fn a_flood_of_one_owners_overdue_intents_does_not_hold_back_another_owners_upload() {
    let app = spawn_app_with(&[
        "--reconcile-after=0",
        "--sweep-interval=1",
        "--sweep-batch=5",
        "--reconcile-rate=50",
    ])
    .await;
    // Forty intents of one owner, older (so more overdue) than anything else, never uploaded.
    let flooder = app.token_for("flood@example.com");
    for _ in 0..40 {
        let response = app
            .create_upload_as(
                &flooder,
                &serde_json::json!({"filename": "junk.mp4", "size": 1000,
                                    "content_type": "video/mp4", "title": "junk"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    app.db
        .execute(
            // Checks while the flood was being created do not count.
            "UPDATE uploads SET created_at = now() - interval '1 hour', last_checked_at = NULL \
             WHERE owner = 'flood@example.com'",
            &[],
        )
        .await
        .unwrap();
    // Another owner's upload whose event was lost.
    let data = payload(3000, 42);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    app.put_part(&upload["parts"][0], data).await;

    app.wait_for_status(id, &["uploaded", "processing"]).await;
    // Checked while most of the flood still waited its turn: it came first, not last.
    let unchecked: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM uploads WHERE owner = 'flood@example.com' AND last_checked_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        unchecked >= 25,
        "only {unchecked} of the flood's 40 were left unchecked"
    );
}
