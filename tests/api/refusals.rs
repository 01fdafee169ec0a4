//! Bad input gets a clear 4xx with a stable code, and nothing changes.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{MIB, assert_error, spawn_app};

fn declaration(size: i64, content_type: &str) -> serde_json::Value {
    json!({"filename": "clip.mp4", "size": size, "content_type": content_type, "title": "Clip"})
}

#[tokio::test]
async fn invalid_declarations_are_refused_with_their_codes_and_record_nothing() {
    let app = spawn_app().await;
    let cases = [
        (
            declaration(0, "video/mp4"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-size",
        ),
        (
            declaration(-1, "video/mp4"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-size",
        ),
        (
            declaration(5 * 1024 * 1024 * 1024 + 1, "video/mp4"),
            StatusCode::PAYLOAD_TOO_LARGE,
            "upload-too-large",
        ),
        (
            declaration(10, "image/png"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported-content-type",
        ),
        (
            declaration(10, "not a type"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-content-type",
        ),
        (
            json!({"filename": "../etc/passwd", "size": 10, "content_type": "video/mp4", "title": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-filename",
        ),
        (
            json!({"filename": "a.mp4", "size": 10, "content_type": "video/mp4", "title": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-title",
        ),
        (
            json!({"filename": "a.mp4", "size": 10, "content_type": "video/mp4", "title": "t", "metadata": [1]}),
            StatusCode::BAD_REQUEST,
            "invalid-request",
        ),
        (
            json!({"filename": "a.mp4", "size": 10, "content_type": "video/mp4", "title": "t", "metadata": {"notes": "x".repeat(9000)}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-metadata",
        ),
        (
            json!({"filename": "a.mp4"}),
            StatusCode::BAD_REQUEST,
            "invalid-request",
        ),
        (
            json!({"filename": "a.mp4", "size": "big", "content_type": "video/mp4", "title": "t"}),
            StatusCode::BAD_REQUEST,
            "invalid-request",
        ),
    ];
    let before = app.fingerprint().await;
    for (body, status, code) in cases {
        let response = app.create_upload(&body).await;
        assert_error(response, status, code).await;
    }
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_bad_request() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/api/uploads"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid-request").await;
}

#[tokio::test]
async fn part_numbers_outside_the_plan_are_refused() {
    let app = spawn_app().await;
    let upload = app.declare(20 * MIB).await; // three parts
    let id = upload["id"].as_str().unwrap();
    let before = app.fingerprint().await;
    // No upload has these numbers: the request is malformed.
    for numbers in [vec![0], vec![2, 10_001]] {
        let body = assert_error(
            app.sign_parts(id, &numbers).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-part-number",
        )
        .await;
        assert!(
            body["message"].as_str().unwrap().contains("1 to 10000"),
            "{body}"
        );
    }
    // Valid numbers this upload's plan lacks: a conflict with the upload.
    for numbers in [vec![4], vec![2, 9_999]] {
        let body = assert_error(
            app.sign_parts(id, &numbers).await,
            StatusCode::CONFLICT,
            "part-outside-plan",
        )
        .await;
        assert!(
            body["message"].as_str().unwrap().contains("3 parts"),
            "{body}"
        );
    }
    assert_error(
        app.sign_parts(id, &[]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-part-request",
    )
    .await;
    let single = app.declare(1000).await;
    assert_error(
        app.sign_parts(single["id"].as_str().unwrap(), &[2]).await,
        StatusCode::CONFLICT,
        "part-outside-plan",
    )
    .await;
    let after_single = app.fingerprint().await;
    assert_ne!(before, after_single, "the second declaration was recorded");
    let complete_given = json!({"parts": [{"part_number": 7, "etag": "x"}]});
    assert_error(
        app.complete(id, Some(&complete_given)).await,
        StatusCode::CONFLICT,
        "part-outside-plan",
    )
    .await;
    assert_eq!(app.fingerprint().await, after_single);
}

#[tokio::test]
async fn another_owners_upload_is_not_found() {
    let app = spawn_app().await;
    let upload = app.declare(20 * MIB).await;
    let id = upload["id"].as_str().unwrap();
    let intruder = app.token_for("eve@example.com");
    let before = app.fingerprint().await;

    let requests = [
        app.http.get(app.url(&format!("/api/uploads/{id}"))),
        app.http.get(app.url(&format!("/api/uploads/{id}/parts"))),
        app.http
            .post(app.url(&format!("/api/uploads/{id}/parts")))
            .json(&json!({"part_numbers": [1]})),
        app.http
            .post(app.url(&format!("/api/uploads/{id}/complete"))),
        app.http.delete(app.url(&format!("/api/uploads/{id}"))),
    ];
    for request in requests {
        let response = request.bearer_auth(&intruder).send().await.unwrap();
        assert_error(response, StatusCode::NOT_FOUND, "upload-not-found").await;
    }
    assert_eq!(app.fingerprint().await, before);
    let listing: serde_json::Value = app
        .http
        .get(app.url("/api/uploads"))
        .bearer_auth(&intruder)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listing["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn an_unknown_upload_id_is_not_found_and_a_malformed_one_is_a_bad_request() {
    let app = spawn_app().await;
    let missing = uuid::Uuid::new_v4();
    assert_error(
        app.get_upload(&missing.to_string()).await,
        StatusCode::NOT_FOUND,
        "upload-not-found",
    )
    .await;
    assert_error(
        app.get_upload("not-a-uuid").await,
        StatusCode::BAD_REQUEST,
        "invalid-request",
    )
    .await;
}

#[tokio::test]
async fn unknown_routes_answer_json_not_found() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/api/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "not-found").await;
}

#[tokio::test]
async fn bodies_over_a_megabyte_are_refused_before_anything_is_read() {
    let app = spawn_app().await;
    let huge = format!("{{\"filename\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let declared = app
        .http
        .post(app.url("/api/uploads"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(huge.clone())
        .send()
        .await
        .unwrap();
    assert_error(declared, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    let chunks = futures_util::stream::iter(
        huge.into_bytes()
            .chunks(64 * 1024)
            .map(|chunk| Ok::<_, std::io::Error>(chunk.to_vec()))
            .collect::<Vec<_>>(),
    );
    let chunked = app
        .http
        .post(app.url("/api/uploads"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_error(chunked, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
}

#[tokio::test]
async fn a_method_a_path_does_not_take_gets_405_with_the_ones_it_does() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        ("TRACE", "/api/uploads".to_owned(), "GET, HEAD, POST"),
        (
            "PUT",
            format!("/api/uploads/{}", uuid::Uuid::now_v7()),
            "DELETE, GET, HEAD",
        ),
        ("POST", "/healthz".to_owned(), "GET, HEAD"),
        ("DELETE", "/api/uploads/events".to_owned(), "GET, HEAD"),
    ] {
        let response = app
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(&path),
            )
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        assert_error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        )
        .await;
    }
}
