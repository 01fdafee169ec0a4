//! Jobs out (Celery or JSON) and results back (queue or internal endpoint).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{INTERNAL_TOKEN, assert_error, payload, spawn_app, spawn_app_with};

async fn confirmed_upload(app: &crate::helpers::TestApp) -> String {
    let data = payload(1500, 30);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap().to_owned();
    app.put_part(&upload["parts"][0], data).await;
    assert_eq!(app.complete(&id, None).await.status(), StatusCode::OK);
    app.wait_for_status(&id, &["processing"]).await;
    id
}

#[tokio::test]
async fn the_json_format_publishes_a_documented_event() {
    let app = spawn_app_with(&["--job-format=json", "--job-input-path={key}"]).await;
    let id = confirmed_upload(&app).await;
    let jobs = app.wait_for_messages(&app.names.job_queue, 1).await;
    let body: Value = serde_json::from_slice(&jobs[0].delivery.data).unwrap();
    assert_eq!(body["event"], "upload.confirmed");
    assert_eq!(body["upload_id"], id);
    assert_eq!(body["size"], 1500);
    assert!(body["input_path"].as_str().unwrap().starts_with("uploads/"));
    assert_eq!(
        body["correlation_id"],
        jobs[0]
            .delivery
            .properties
            .correlation_id()
            .as_ref()
            .unwrap()
            .as_str()
    );
}

#[tokio::test]
async fn a_result_on_the_results_queue_marks_the_upload_processed() {
    let app = spawn_app().await;
    let id = confirmed_upload(&app).await;
    let report = json!({"upload_id": id, "status": "processed", "output_location": "s3://videos/processed/x.mp4"});
    app.publish(
        "",
        &app.names.results_queue,
        &serde_json::to_vec(&report).unwrap(),
    )
    .await;
    let processed = app.wait_for_status(&id, &["processed"]).await;
    assert_eq!(processed["output_location"], "s3://videos/processed/x.mp4");
    assert!(processed["processed_at"].is_string());

    app.publish("", &app.names.results_queue, b"not json").await;
    let dead = app
        .wait_for_messages(&format!("{}.dlq", app.names.results_queue), 1)
        .await;
    assert_eq!(dead.len(), 1);
}

#[tokio::test]
async fn a_worker_reports_through_the_internal_endpoint() {
    let app = spawn_app().await;
    let id = confirmed_upload(&app).await;
    let url = app.url(&format!("/api/internal/uploads/{id}/result"));
    let failure = json!({"status": "failed", "error": "ffmpeg: invalid data"});

    let response = app.http.post(&url).json(&failure).send().await.unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "missing-token").await;
    let response = app
        .http
        .post(&url)
        .bearer_auth(&app.token)
        .json(&failure)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid-token").await;

    let response = app
        .http
        .post(&url)
        .bearer_auth(INTERNAL_TOKEN)
        .json(&failure)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let failed: Value = response.json().await.unwrap();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["reason"], "ffmpeg: invalid data");

    let again = app
        .http
        .post(&url)
        .bearer_auth(INTERNAL_TOKEN)
        .json(&failure)
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the same report twice is harmless"
    );
    let contradicting = json!({"status": "processed"});
    let response = app
        .http
        .post(&url)
        .bearer_auth(INTERNAL_TOKEN)
        .json(&contradicting)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::CONFLICT, "upload-not-pending").await;
}

#[tokio::test]
async fn replicas_side_by_side_publish_each_job_exactly_once() {
    let app = spawn_app().await;
    let replica = app.spawn_replica().await;
    let data = payload(1200, 31);
    let mut ids = Vec::new();
    for n in 0..12 {
        let upload = app.declare(data.len()).await;
        let id = upload["id"].as_str().unwrap().to_owned();
        app.put_part(&upload["parts"][0], data.clone()).await;
        // Half the completions reach each replica; both relays race for every job.
        let base = if n % 2 == 0 { &app.address } else { &replica };
        let completed = app
            .http
            .post(format!("{base}/api/uploads/{id}/complete"))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_eq!(completed.status(), StatusCode::OK);
        ids.push(id);
    }
    for id in &ids {
        app.wait_for_status(id, &["processing"]).await;
    }
    let jobs = app.wait_for_messages(&app.names.job_queue, 12).await;
    let mut published: Vec<String> = jobs
        .iter()
        .map(|job| {
            let body: Value = serde_json::from_slice(&job.delivery.data).unwrap();
            body[0][0].as_str().unwrap().to_owned()
        })
        .collect();
    published.sort();
    ids.sort();
    assert_eq!(published, ids, "every upload's job, once");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        app.queue_depth(&app.names.job_queue).await,
        0,
        "no job twice"
    );
}
