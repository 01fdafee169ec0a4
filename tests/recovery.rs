//! Nothing is lost when the coordinator dies or RabbitMQ restarts. These tests kill processes
//! and stop the broker, so they run one at a time in a binary of their own.

#[path = "support/mod.rs"]
mod helpers;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Mutex;

use helpers::faults::BrokerStopped;
use helpers::process::{ServiceProcess, free_port};
use helpers::{Prepared, payload, spawn_app};

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

#[tokio::test]
async fn a_job_committed_but_not_published_when_the_service_dies_is_published_once_after_restart() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let prepared = Prepared::new().await;
    let port = free_port();
    // With its relay off, the service commits confirmations and never publishes: exactly the
    // state a crash between commit and publish leaves behind.
    let first = ServiceProcess::start(&prepared, port, &["--outbox-relay=false"]).await;
    let app = prepared.client_for(first.address.clone()).await;

    let data = payload(5000, 50);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap().to_owned();
    app.put_part(&upload["parts"][0], data).await;
    let completed: Value = app.complete(&id, None).await.json().await.unwrap();
    assert_eq!(completed["status"], "uploaded");
    let unpublished: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unpublished, 1);

    first.kill();
    let second = ServiceProcess::start(&prepared_again(&app), port, &[]).await;
    let jobs = app.wait_for_messages(&app.names.job_queue, 1).await;
    assert_eq!(jobs.len(), 1);
    let body: Value = serde_json::from_slice(&jobs[0].delivery.data).unwrap();
    assert_eq!(body[0][0], id.as_str());
    app.wait_for_status(&id, &["processing"]).await;

    // Another relay pass (a poll, a second restart) must not publish it again.
    drop(second);
    let _third = ServiceProcess::start(&prepared_again(&app), port, &["--outbox-poll=1"]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        app.queue_depth(&app.names.job_queue).await,
        0,
        "published exactly once"
    );
}

/// The same database and names as `app`, for starting the service again.
fn prepared_again(app: &helpers::TestApp) -> Prepared {
    Prepared {
        stack: helpers::Stack::from_env(),
        database: app.database.clone(),
        database_url: helpers::Stack::from_env().database_url(&app.database),
        names: app.names.clone(),
    }
}

#[tokio::test]
async fn a_rabbitmq_restart_delays_jobs_and_events_but_loses_none() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let data = payload(3000, 51);
    let during = app.declare(data.len()).await;
    let during_id = during["id"].as_str().unwrap().to_owned();
    app.put_part(&during["parts"][0], data.clone()).await;

    let outage = BrokerStopped::stop();
    // Readiness names the broker while it is away.
    let readiness = helpers::wait_for(
        "readiness to report RabbitMQ down",
        Duration::from_secs(15),
        || async {
            let response = app.http.get(app.url("/readyz")).send().await.ok()?;
            (response.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(response)
        },
    )
    .await;
    let body: Value = readiness.json().await.unwrap();
    assert_eq!(body["broker"], false, "{body}");
    assert!(
        body["down"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.as_str().unwrap().contains("rabbitmq")),
        "{body}"
    );
    // Confirmation needs only PostgreSQL and storage: the job waits in the outbox.
    let completed = app.complete(&during_id, None).await;
    assert_eq!(completed.status(), StatusCode::OK);
    assert_eq!(
        completed.json::<Value>().await.unwrap()["status"],
        "uploaded"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(outage);

    // Publishing resumes on its own, and readiness with it.
    app.wait_for_status(&during_id, &["processing"]).await;
    helpers::wait_for("readiness again", Duration::from_secs(15), || async {
        let response = app.http.get(app.url("/readyz")).send().await.ok()?;
        response.status().is_success().then_some(())
    })
    .await;
    // And so does consuming storage events.
    let after = app.declare(data.len()).await;
    let after_id = after["id"].as_str().unwrap().to_owned();
    app.put_part(&after["parts"][0], data).await;
    let event = serde_json::json!({
        "EventName": "s3:ObjectCreated:Put",
        "Key": format!("{}/{}", app.bucket, after["key"].as_str().unwrap()),
        "Records": [{
            "eventVersion": "2.0", "eventSource": "minio:s3", "eventName": "s3:ObjectCreated:Put",
            "s3": {"bucket": {"name": app.bucket}, "object": {
                "key": after["key"].as_str().unwrap().replace('/', "%2F"), "size": 3000,
                "eTag": "x", "contentType": "video/mp4", "sequencer": "1"}}
        }]
    });
    // The queue is durable: the event waits there until the consumer has reconnected.
    app.publish_event(&serde_json::to_vec(&event).unwrap())
        .await;
    app.wait_for_status(&after_id, &["processing"]).await;
    let jobs = app.wait_for_messages(&app.names.job_queue, 2).await;
    assert_eq!(jobs.len(), 2, "one job per upload, none lost");
}

#[tokio::test]
async fn sigterm_stops_the_service_cleanly_within_its_grace_period() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let prepared = Prepared::new().await;
    let service = ServiceProcess::start(&prepared, free_port(), &[]).await;
    let app = prepared.client_for(service.address.clone()).await;
    // Work in flight at the time: an upload just declared.
    app.declare(1000).await;
    let status = tokio::task::spawn_blocking(move || service.terminate(Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("the service exits within its grace period");
    assert!(status.success(), "exit status {status}");
}
