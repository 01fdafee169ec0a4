//! Storage confirms uploads: SeaweedFS's real filer webhook, and MinIO-format events on the
//! real RabbitMQ exchange. Every confirmed upload becomes exactly one job.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, payload, spawn_app, wait_for, webhook_hub};

fn minio_event(bucket: &str, key: &str, size: usize) -> Value {
    crate::helpers::minio_event(bucket, key, size, "d41d8cd98f00b204e9800998ecf8427e")
}

#[tokio::test]
async fn a_single_put_never_completed_is_confirmed_by_seaweedfs_and_becomes_one_celery_job() {
    let app = spawn_app().await;
    let _events = webhook_hub::subscribe(&app.address);
    let data = payload(1000, 20);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    let key = upload["key"].as_str().unwrap();

    assert_eq!(
        app.put_part(&upload["parts"][0], data).await.status(),
        StatusCode::OK
    );
    // No complete call: the storage's own event must confirm it.
    let confirmed = app.wait_for_status(id, &["processing"]).await;
    assert!(confirmed["confirmed_at"].is_string());
    let by_webhook = app
        .metric(
            "uc_storage_events_total",
            &[("source", "webhook"), ("outcome", "confirmed")],
        )
        .await;
    assert_eq!(by_webhook, 1.0, "the webhook confirmed it");

    let jobs = app.wait_for_messages(&app.names.job_queue, 1).await;
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0].delivery;
    let properties = &job.properties;
    assert_eq!(
        properties.content_type().as_ref().unwrap().as_str(),
        "application/json"
    );
    assert_eq!(
        properties.content_encoding().as_ref().unwrap().as_str(),
        "utf-8"
    );
    assert_eq!(properties.delivery_mode(), &Some(2));
    let headers = properties.headers().as_ref().unwrap().inner();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.as_long_string())
            .map(|s| s.to_string())
    };
    assert_eq!(header("task").as_deref(), Some("tasks.process_video.run"));
    assert_eq!(header("lang").as_deref(), Some("py"));
    let body: Value = serde_json::from_slice(&job.data).unwrap();
    let args = body[0].as_array().unwrap();
    assert_eq!(args[0], id);
    assert_eq!(args[1], format!("s3://{}/{}", app.bucket, key));
    let correlation = properties.correlation_id().as_ref().unwrap().to_string();
    assert_eq!(args[2], correlation.as_str());
    assert_eq!(header("id").unwrap(), correlation);
    assert_eq!(body[1], json!({}));
    assert_eq!(
        body[2],
        json!({"callbacks": null, "errbacks": null, "chain": null, "chord": null})
    );

    // SeaweedFS may post more than one event for the PUT; still exactly one job.
    app.complete(id, None).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.queue_depth(&app.names.job_queue).await,
        0,
        "no second job"
    );
}

#[tokio::test]
async fn minio_events_on_the_exchange_confirm_once_and_bad_messages_are_dead_lettered() {
    let app = spawn_app().await;
    let data = payload(2000, 21);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    let key = upload["key"].as_str().unwrap();
    app.put_part(&upload["parts"][0], data).await;

    let event = serde_json::to_vec(&minio_event(&app.bucket, key, 2000)).unwrap();
    app.publish_event(&event).await;
    app.wait_for_status(id, &["processing"]).await;
    let before = app.fingerprint().await;

    for _ in 0..3 {
        app.publish_event(&event).await;
    }
    let unknown =
        serde_json::to_vec(&minio_event(&app.bucket, "uploads/nobody/declared.mp4", 5)).unwrap();
    app.publish_event(&unknown).await;
    app.publish_event(b"{this is not an event").await;

    let dlq = format!("{}.dlq", app.names.events_queue);
    let dead = app.wait_for_messages(&dlq, 1).await;
    assert_eq!(dead[0].delivery.data, b"{this is not an event");
    wait_for("every event handled", Duration::from_secs(20), || async {
        let duplicates = app
            .metric(
                "uc_storage_events_total",
                &[("source", "amqp"), ("outcome", "duplicate")],
            )
            .await;
        let unknown = app
            .metric(
                "uc_storage_events_total",
                &[("source", "amqp"), ("outcome", "unknown-object")],
            )
            .await;
        (duplicates == 3.0 && unknown == 1.0).then_some(())
    })
    .await;
    assert_eq!(
        app.fingerprint().await,
        before,
        "redeliveries changed nothing"
    );
    assert_eq!(
        app.wait_for_messages(&app.names.job_queue, 1).await.len(),
        1,
        "exactly one job"
    );
}

#[tokio::test]
async fn the_webhook_needs_its_token_and_refuses_bodies_it_cannot_read() {
    let app = spawn_app().await;
    let event = minio_event(&app.bucket, "uploads/x/y.mp4", 5);
    let response = app
        .http
        .post(app.url("/api/storage-events"))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "missing-token").await;
    let response = app
        .http
        .post(app.url("/api/storage-events"))
        .bearer_auth("wrong")
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid-token").await;

    let response = app.post_event(&json!({"hello": "world"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let receipt: Value = app.post_event(&event).await.json().await.unwrap();
    assert_eq!(receipt["unknown"], 1);
}

#[tokio::test]
async fn a_webhook_event_for_an_object_of_the_wrong_size_rejects_the_upload() {
    let app = spawn_app().await;
    let upload = app.declare(3000).await;
    let key = upload["key"].as_str().unwrap();
    app.put_object_directly(key, payload(10, 22)).await;
    let receipt: Value = app
        .post_event(&minio_event(&app.bucket, key, 10))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(receipt["rejected"], 1);
    let rejected = app
        .wait_for_status(upload["id"].as_str().unwrap(), &["rejected"])
        .await;
    assert!(rejected["reason"].as_str().unwrap().contains("3000"));
    assert!(!app.object_exists(key).await);
    assert_eq!(
        app.queue_depth(&app.names.job_queue).await,
        0,
        "no job for a rejected upload"
    );
}
