//! `GET /api/uploads/events`: status changes as Server-Sent Events, across replicas.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::sse::SseReader;
use crate::helpers::{INTERNAL_TOKEN, TestApp, assert_error, payload, spawn_app, spawn_app_with};

/// The answer to opening the caller's stream on the replica at `address` with its bearer token.
async fn stream_response(
    app: &TestApp,
    address: &str,
    last_event_id: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .http
        .get(format!("{address}/api/uploads/events"))
        .bearer_auth(&app.token);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    request.send().await.unwrap()
}

async fn open_stream(app: &TestApp, address: &str, last_event_id: Option<&str>) -> SseReader {
    SseReader::new(stream_response(app, address, last_event_id).await)
}

/// Declares and stores a small upload; completes it when asked.
async fn stored_upload(app: &TestApp, seed: u64) -> String {
    let data = payload(1000, seed);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap().to_owned();
    app.put_part(&upload["parts"][0], data).await;
    id
}

async fn report_processed(app: &TestApp, id: &str) {
    let response = app
        .http
        .post(app.url(&format!("/api/internal/uploads/{id}/result")))
        .bearer_auth(INTERNAL_TOKEN)
        .json(&json!({"status": "processed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

fn of_upload<'a>(events: &'a [crate::helpers::sse::Block], id: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter_map(|block| block.data.as_ref())
        .filter(|data| data["data"]["id"] == id)
        .collect()
}

#[tokio::test]
async fn a_stream_on_one_replica_shows_changes_committed_on_another() {
    let app = spawn_app().await;
    // The replica runs no relay and no sweepers: every change comes from the first app.
    let replica = app
        .spawn_replica_with(&[
            "--outbox-relay=false",
            "--sweepers=false",
            "--events-amqp=false",
        ])
        .await;
    let mut stream = open_stream(&app, &replica, None).await;
    // The stream starts with where to resume from, and nothing to replay.
    let first = stream.next_block(Duration::from_secs(5)).await.unwrap();
    assert_eq!(first.id.as_deref(), Some("0"));
    assert!(first.data.is_none());

    let id = stored_upload(&app, 50).await;
    assert_eq!(app.complete(&id, None).await.status(), StatusCode::OK);
    let seen = stream.events_until(&id, "upload.processing").await;
    let changes = of_upload(&seen, &id);
    let types: Vec<&str> = changes
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["upload.uploaded", "upload.processing"]);
    assert_eq!(changes[0]["data"]["status"], "uploaded");
    assert_eq!(changes[1]["data"]["status"], "processing");
    assert!(seen.iter().all(|block| block.id.is_some()));

    // Another owner's changes never reach this stream.
    let bob = app.token_for("bob@example.com");
    let data = payload(900, 51);
    let response = app
        .create_upload_as(
            &bob,
            &json!({"filename": "b.mp4", "size": data.len(), "content_type": "video/mp4", "title": "b"}),
        )
        .await;
    let bobs: Value = response.json().await.unwrap();
    let bobs_id = bobs["id"].as_str().unwrap().to_owned();
    app.put_part(&bobs["parts"][0], data).await;
    let completed = app
        .http
        .post(app.url(&format!("/api/uploads/{bobs_id}/complete")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(completed.status(), StatusCode::OK);
    report_processed(&app, &id).await;
    let seen = stream.events_until(&id, "upload.processed").await;
    assert!(of_upload(&seen, &bobs_id).is_empty(), "{seen:?}");
}

#[tokio::test]
async fn a_reconnecting_stream_resumes_after_its_last_event() {
    let app = spawn_app().await;
    let mut stream = open_stream(&app, &app.address, None).await;
    let id = stored_upload(&app, 52).await;
    assert_eq!(app.complete(&id, None).await.status(), StatusCode::OK);
    let seen = stream.events_until(&id, "upload.processing").await;
    let last_id = seen.last().unwrap().id.clone().unwrap();
    drop(stream);

    // Changes while nobody listens are replayed, and only those.
    report_processed(&app, &id).await;
    let other = stored_upload(&app, 53).await;
    assert_eq!(app.abort(&other).await.status(), StatusCode::OK);
    let mut resumed = open_stream(&app, &app.address, Some(&last_id)).await;
    let first = resumed.next_event(Duration::from_secs(10)).await;
    let second = resumed.next_event(Duration::from_secs(10)).await;
    let replayed = [first.data.unwrap(), second.data.unwrap()];
    let mut got: Vec<(String, String)> = replayed
        .iter()
        .map(|e| {
            (
                e["data"]["id"].as_str().unwrap().to_owned(),
                e["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let mut expected = vec![
        (id.clone(), "upload.processed".to_owned()),
        (other.clone(), "upload.aborted".to_owned()),
    ];
    expected.sort();
    assert_eq!(got, expected);
    assert!(first.id.unwrap().parse::<i64>().unwrap() > last_id.parse::<i64>().unwrap());

    // The same through the query parameter, for clients that cannot set headers.
    let response = app
        .http
        .get(app.url("/api/uploads/events"))
        .query(&[("last_event_id", last_id.as_str())])
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    let mut by_query = SseReader::new(response);
    let event = by_query.next_event(Duration::from_secs(10)).await;
    assert!(replayed.contains(event.data.as_ref().unwrap()));
}

#[tokio::test]
async fn a_browser_stream_authenticates_with_its_upload_session() {
    let app = spawn_app_with(&["--max-streams-per-owner=2", "--stream-heartbeat=1"]).await;
    let session = app
        .start_session(&json!({"origin": "https://app.example.com"}), None)
        .await;
    let token = session["token"].as_str().unwrap();
    let events = app.url("/api/uploads/events");

    let by_query = app
        .http
        .get(&events)
        .query(&[("session", token)])
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    let mut by_query = SseReader::new(by_query);
    let mut second = open_stream(&app, &app.address, None).await;

    // Idle streams carry heartbeats.
    by_query.next_block(Duration::from_secs(5)).await.unwrap();
    let heartbeat = by_query.next_block(Duration::from_secs(5)).await.unwrap();
    assert_eq!(heartbeat.comments, ["heartbeat"]);

    // A third stream for the same owner is over the cap.
    let third = stream_response(&app, &app.address, None).await;
    assert!(third.headers().contains_key("retry-after"));
    assert_error(third, StatusCode::TOO_MANY_REQUESTS, "too-many-streams").await;

    let id = stored_upload(&app, 54).await;
    assert_eq!(app.complete(&id, None).await.status(), StatusCode::OK);
    by_query.events_until(&id, "upload.uploaded").await;
    second.events_until(&id, "upload.uploaded").await;

    // Closing a stream frees its place.
    drop(second);
    crate::helpers::wait_for(
        "a stream's place to be freed",
        Duration::from_secs(10),
        || async {
            let response = app
                .http
                .get(&events)
                .bearer_auth(&app.token)
                .send()
                .await
                .ok()?;
            (response.status() == StatusCode::OK).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn streams_refuse_bad_credentials_and_bad_ids() {
    let app = spawn_app().await;
    let events = app.url("/api/uploads/events");
    let response = app.http.get(&events).send().await.unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "missing-token").await;
    let response = app
        .http
        .get(&events)
        .query(&[("session", "forged.session.token")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = stream_response(&app, &app.address, Some("yesterday")).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid-event-id").await;

    // A session from another origin is refused, as on the Companion routes.
    let session = app
        .start_session(&json!({"origin": "https://app.example.com"}), None)
        .await;
    let response = app
        .http
        .get(&events)
        .query(&[("session", session["token"].as_str().unwrap())])
        .header("origin", "https://evil.example.net")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "origin-not-allowed").await;
}

#[tokio::test]
async fn streams_hold_at_most_half_the_connections_whoever_opens_them() {
    let app = spawn_app_with(&["--max-connections=4"]).await;
    let events = app.url("/api/uploads/events");
    let open_as = |owner: &str| {
        let token = app.token_for(owner);
        let request = app.http.get(&events).bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    let _ana = SseReader::new(open_as("ana@example.com").await);
    let _bob = SseReader::new(open_as("bob@example.com").await);
    let carol = open_as("carol@example.com").await;
    assert_error(carol, StatusCode::TOO_MANY_REQUESTS, "too-many-streams").await;
    // The rest of the API keeps its connections.
    assert_eq!(app.list_uploads().await.len(), 0);
}
