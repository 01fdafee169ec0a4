//! Outgoing webhooks, received by a real receiver that verifies each delivery with the Standard
//! Webhooks reference verifier (PyPI `standardwebhooks`).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::receiver::{Receiver, WEBHOOK_SECRET};
use crate::helpers::{INTERNAL_TOKEN, TestApp, payload, spawn_app_with, wait_for};

/// An app delivering to `urls`, retrying quickly so a test sees parking in seconds.
async fn app_delivering_to(urls: &[String], max_attempts: u32) -> TestApp {
    let urls = format!("--webhook-url={}", urls.join(","));
    let attempts = format!("--webhook-max-attempts={max_attempts}");
    spawn_app_with(&[
        &urls,
        &format!("--webhook-secret={WEBHOOK_SECRET}"),
        "--webhook-retry-base=50",
        "--webhook-retry-max=1",
        &attempts,
    ])
    .await
}

/// An upload confirmed, its job published, then reported processed by the worker.
async fn processed_upload(app: &TestApp) -> String {
    let data = payload(2000, 41);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap().to_owned();
    app.put_part(&upload["parts"][0], data).await;
    assert_eq!(app.complete(&id, None).await.status(), StatusCode::OK);
    app.wait_for_status(&id, &["processing"]).await;
    let report = app
        .http
        .post(app.url(&format!("/api/internal/uploads/{id}/result")))
        .bearer_auth(INTERNAL_TOKEN)
        .json(&json!({"status": "processed", "output_location": "s3://videos/out.mp4"}))
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), StatusCode::OK);
    id
}

/// The log's entries on `path` for `upload_id`, in arrival order.
fn deliveries<'a>(log: &'a [Value], path: &str, upload_id: &str) -> Vec<&'a Value> {
    log.iter()
        .filter(|entry| entry["path"] == path)
        .filter(|entry| entry["payload"]["data"]["id"] == upload_id)
        .collect()
}

fn types(entries: &[&Value]) -> Vec<String> {
    entries
        .iter()
        .map(|entry| entry["payload"]["type"].as_str().unwrap().to_owned())
        .collect()
}

const LIFECYCLE: [&str; 3] = ["upload.uploaded", "upload.processing", "upload.processed"];

#[tokio::test]
async fn a_verified_receiver_sees_each_change_of_an_upload_once_and_in_order() {
    let receiver = Receiver::start(&[("/hooks", "ok")]);
    let app = app_delivering_to(&[receiver.url("/hooks")], 5).await;
    let id = processed_upload(&app).await;

    let log = receiver
        .wait_until("three deliveries", |log| {
            deliveries(log, "/hooks", &id).len() >= 3
        })
        .await;
    let received = deliveries(&log, "/hooks", &id);
    assert_eq!(types(&received), LIFECYCLE);
    for entry in &received {
        assert_eq!(entry["verified"], true, "{entry}");
        assert_eq!(entry["status"], 200);
        assert_eq!(entry["headers"]["content-type"], "application/json");
        let payload = &entry["payload"];
        // The upload as the API shows it, at that moment.
        assert_eq!(
            payload["type"].as_str().unwrap(),
            format!("upload.{}", payload["data"]["status"].as_str().unwrap())
        );
        assert_eq!(payload["data"]["size"], 2000);
        let webhook_id = entry["headers"]["webhook-id"].as_str().unwrap();
        let event_id = payload["event_id"].as_str().unwrap().replace('-', "");
        assert_eq!(webhook_id, format!("msg_{event_id}"));
    }
    let mut ids: Vec<&str> = received
        .iter()
        .map(|e| e["headers"]["webhook-id"].as_str().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "one webhook-id per event");
    assert_eq!(
        received.last().unwrap()["payload"]["data"]["output_location"],
        "s3://videos/out.mp4"
    );

    // Every delivery is recorded as done (the receiver logs one before its answer reaches the
    // worker), so nothing is sent twice.
    wait_for("3 deliveries recorded", Duration::from_secs(30), || async {
        let done = app
            .db
            .query_one(
                "SELECT count(*) FILTER (WHERE delivered_at IS NOT NULL), count(*) \
                 FROM webhook_deliveries",
                &[],
            )
            .await
            .unwrap();
        let counts = (done.get::<_, i64>(0), done.get::<_, i64>(1));
        assert!(counts.1 <= 3, "{counts:?}");
        (counts == (3, 3)).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(deliveries(&receiver.log().await, "/hooks", &id).len(), 3);
    // Delivered events can be forgotten once past their retention, deliveries with them.
    let pruned = upload_coordinator::db::events::prune(&app.pooled_db().await, 0.0, 100)
        .await
        .unwrap();
    assert_eq!(pruned, 3);

    // A forger who changes the body cannot reuse the signature.
    let original = received[0];
    let headers = &original["headers"];
    let header = |name: &str| headers[name].as_str().unwrap().to_owned();
    let tampered = original["body"]
        .as_str()
        .unwrap()
        .replace("\"size\":2000", "\"size\":2001");
    assert_ne!(tampered, original["body"].as_str().unwrap());
    let (webhook_id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let forged = [
        ("content-type", "application/json"),
        ("webhook-id", webhook_id.as_str()),
        ("webhook-timestamp", timestamp.as_str()),
        ("webhook-signature", signature.as_str()),
    ];
    assert_eq!(receiver.post_raw("/hooks", &forged, tampered).await, 400);
    let refused = receiver.log().await.pop().unwrap();
    assert_eq!(refused["verified"], false);
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("WebhookVerificationError"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_failing_receiver_gets_the_same_webhook_id_until_it_answers() {
    let receiver = Receiver::start(&[("/flaky", "fail:3")]);
    let app = app_delivering_to(&[receiver.url("/flaky")], 10).await;
    let data = payload(1200, 42);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap().to_owned();
    app.put_part(&upload["parts"][0], data).await;
    assert_eq!(app.complete(&id, None).await.status(), StatusCode::OK);

    let log = receiver
        .wait_until("the uploaded event to get through", |log| {
            log.iter()
                .any(|e| e["status"] == 200 && e["payload"]["type"] == "upload.uploaded")
        })
        .await;
    let uploaded: Vec<&Value> = deliveries(&log, "/flaky", &id)
        .into_iter()
        .filter(|e| e["payload"]["type"] == "upload.uploaded")
        .collect();
    let statuses: Vec<i64> = uploaded
        .iter()
        .map(|e| e["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 500, 500, 200]);
    let first_id = &uploaded[0]["headers"]["webhook-id"];
    assert!(
        uploaded
            .iter()
            .all(|e| &e["headers"]["webhook-id"] == first_id)
    );
    assert!(uploaded.iter().all(|e| e["verified"] == true));
    // Each attempt is signed anew.
    let timestamps: Vec<&Value> = uploaded
        .iter()
        .map(|e| &e["headers"]["webhook-timestamp"])
        .collect();
    assert!(
        timestamps
            .windows(2)
            .all(|w| w[0].as_str() <= w[1].as_str())
    );
    // The next change waited for the first: the receiver sees them in order.
    let log = receiver
        .wait_until("the processing event", |log| {
            deliveries(log, "/flaky", &id)
                .iter()
                .any(|e| e["payload"]["type"] == "upload.processing")
        })
        .await;
    let order = types(&deliveries(&log, "/flaky", &id));
    let first_processing = order.iter().position(|t| t == "upload.processing").unwrap();
    assert_eq!(first_processing, 4, "{order:?}");
}

#[tokio::test]
async fn a_receiver_down_for_good_is_parked_without_delaying_the_others_then_replayed() {
    let receiver = Receiver::start(&[("/ok", "ok"), ("/down", "down")]);
    let app = app_delivering_to(&[receiver.url("/ok"), receiver.url("/down")], 3).await;
    let id = processed_upload(&app).await;

    // The healthy endpoint gets everything while the other keeps failing.
    let log = receiver
        .wait_until("the healthy endpoint's deliveries", |log| {
            deliveries(log, "/ok", &id).len() >= 3
        })
        .await;
    assert_eq!(types(&deliveries(&log, "/ok", &id)), LIFECYCLE);

    let parked = wait_parked(&app).await;
    assert_eq!(parked.len(), 3, "{parked:?}");
    for delivery in &parked {
        assert_eq!(delivery["attempts"], 3);
        assert_eq!(delivery["last_status"], 503);
        assert_eq!(delivery["endpoint"], receiver.url("/down"));
    }
    let attempts = deliveries(&receiver.log().await, "/down", &id).len();
    assert_eq!(attempts, 9, "three attempts of each of three events");

    receiver.bring_up("/down").await;
    let replay = app
        .http
        .post(app.url("/api/internal/webhooks/deliveries/replay"))
        .bearer_auth(INTERNAL_TOKEN)
        .json(&json!({"upload_id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(replay.json::<Value>().await.unwrap()["replayed"], 3);

    let log = receiver
        .wait_until("the replayed deliveries", |log| {
            deliveries(log, "/down", &id)
                .iter()
                .filter(|e| e["status"] == 200)
                .count()
                >= 3
        })
        .await;
    let delivered: Vec<&Value> = deliveries(&log, "/down", &id)
        .into_iter()
        .filter(|e| e["status"] == 200)
        .collect();
    assert_eq!(types(&delivered), LIFECYCLE);
    // The same ids the healthy endpoint got: a receiver deduplicates across replays.
    let ids = |entries: Vec<&Value>| -> Vec<String> {
        entries
            .iter()
            .map(|e| e["headers"]["webhook-id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(delivered), ids(deliveries(&log, "/ok", &id)));
    assert!(
        deliveries(&log, "/down", &id)
            .iter()
            .all(|e| e["verified"] == true)
    );
}

async fn wait_parked(app: &TestApp) -> Vec<Value> {
    crate::helpers::wait_for(
        "three parked deliveries",
        std::time::Duration::from_secs(30),
        || async {
            let listed: Value = app
                .http
                .get(app.url("/api/internal/webhooks/deliveries"))
                .query(&[("state", "parked")])
                .bearer_auth(INTERNAL_TOKEN)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let items = listed["items"].as_array()?.clone();
            (items.len() >= 3).then_some(items)
        },
    )
    .await
}

#[tokio::test]
async fn webhook_settings_are_checked_at_startup() {
    use upload_coordinator::config::Settings;
    let prepared = crate::helpers::Prepared::new().await;
    for (flags, expected) in [
        (
            vec!["--webhook-url=http://127.0.0.1:9/in"],
            "UC_WEBHOOK_SECRET is required",
        ),
        (
            vec![
                "--webhook-url=http://127.0.0.1:9/in",
                "--webhook-secret=plain-secret",
            ],
            "must start with \"whsec_\"",
        ),
        (
            vec![
                "--webhook-url=ftp://example.com/in",
                &format!("--webhook-secret={WEBHOOK_SECRET}"),
            ],
            "http:// or https://",
        ),
        (
            vec![
                "--webhook-url=http://127.0.0.1:9/a,http://127.0.0.1:9/b,http://127.0.0.1:9/c",
                &format!("--webhook-secret={WEBHOOK_SECRET},{WEBHOOK_SECRET}"),
            ],
            "2 secrets for 3 endpoints",
        ),
    ] {
        let settings = Settings::from_flags(prepared.flags(&flags)).unwrap();
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains(expected), "{flags:?}: {err}");
        assert!(
            !err.contains("plain-secret"),
            "the secret is not echoed: {err}"
        );
    }
    // The test database goes with the client.
    drop(prepared.client_for(String::new()).await);
}

#[tokio::test]
async fn disabling_an_endpoint_parks_what_it_had_pending() {
    // The receiver holds the first attempt unanswered, so the endpoint is disabled while that
    // attempt is out, and its failure comes back after the park.
    let receiver = Receiver::start(&[("/gone", "held")]);
    let url = receiver.url("/gone");
    // Long enough that the held attempt does not time out while the CLI runs.
    let app = spawn_app_with(&[
        &format!("--webhook-url={url}"),
        &format!("--webhook-secret={WEBHOOK_SECRET}"),
        "--webhook-timeout=60",
    ])
    .await;
    let attempts = |outcome: &'static str| {
        let app = &app;
        async move {
            app.metric("uc_webhook_deliveries_total", &[("outcome", outcome)])
                .await
        }
    };
    let data = payload(1100, 43);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap().to_owned();
    app.put_part(&upload["parts"][0], data).await;
    assert_eq!(app.complete(&id, None).await.status(), StatusCode::OK);
    receiver
        .wait_until("an attempt held by the receiver", |log| !log.is_empty())
        .await;

    let database_url = crate::helpers::Stack::from_env().database_url(&app.database);
    let cli = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_upload-coordinator"))
            .arg(format!("--database-url={database_url}"))
            .args(args)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.success(), said)
    };
    let (ok, listed) = cli(&["webhooks", "endpoints"]);
    assert!(
        ok && listed.contains(&format!("{url}\tenabled")),
        "{listed}"
    );
    let (ok, said) = cli(&["webhooks", "disable", &url]);
    assert!(ok, "{said}");
    let (ok, _) = cli(&["webhooks", "disable", &url]);
    assert!(!ok, "disabling twice says there was nothing to disable");

    let all_parked_by_the_disable = || async {
        let rows = app
            .db
            .query(
                "SELECT parked_at IS NOT NULL, last_error FROM webhook_deliveries \
                 WHERE upload_id = $1",
                &[&uuid::Uuid::parse_str(&id).unwrap()],
            )
            .await
            .unwrap();
        assert!(!rows.is_empty());
        for row in &rows {
            assert!(row.get::<_, bool>(0));
            assert_eq!(
                row.get::<_, Option<String>>(1).as_deref(),
                Some("endpoint disabled")
            );
        }
    };
    all_parked_by_the_disable().await;
    assert_eq!(attempts("failed").await, 0.0, "the attempt is still held");
    // The held attempt now fails; its outcome is not recorded over the park.
    receiver.release("/gone").await;
    wait_for(
        "the held attempt's failure",
        Duration::from_secs(30),
        || async { (attempts("unrecorded").await >= 1.0).then_some(()) },
    )
    .await;
    assert_eq!(attempts("failed").await, 1.0);
    all_parked_by_the_disable().await;
    // Later changes make no delivery for it, and nothing counts as pending.
    app.wait_for_status(&id, &["processing"]).await;
    let pending: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NULL AND parked_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(pending, 0);
    let (ok, deliveries) = cli(&["webhooks", "deliveries", "--state", "parked"]);
    assert!(
        ok && deliveries.contains("endpoint disabled"),
        "{deliveries}"
    );
}
