//! `GET /api/uploads/{id}/download`: a redirect to a short-lived presigned GET of the object.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, LOCATION};
use serde_json::{Value, json};
use upload_coordinator::uploads::content_disposition;

use crate::helpers::{TestApp, assert_error, payload, spawn_app};

/// A client that shows redirects instead of following them.
fn not_following() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn declare_named(app: &TestApp, filename: &str, size: usize) -> Value {
    let response = app
        .create_upload(&json!({
            "filename": filename, "size": size, "content_type": "video/mp4", "title": "t",
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn download(app: &TestApp, id: &str) -> reqwest::Response {
    not_following()
        .get(app.url(&format!("/api/uploads/{id}/download")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_link_serves_the_exact_bytes_under_a_safe_name() {
    let app = spawn_app().await;
    let filename = "\"Final\" cut; naïve 東京 100%.mp4";
    let data = payload(9 * 1024 * 1024 + 17, 60);
    let upload = declare_named(&app, filename, data.len()).await;
    let id = upload["id"].as_str().unwrap();
    let part_size = upload["part_size"].as_u64().unwrap() as usize;
    app.put_parts(upload["parts"].as_array().unwrap(), &data, part_size)
        .await;
    assert_eq!(app.complete(id, None).await.status(), StatusCode::OK);

    let redirect = download(&app, id).await;
    assert_eq!(redirect.status(), StatusCode::FOUND);
    assert_eq!(redirect.headers()["cache-control"], "no-store");
    let location = redirect.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(location.contains("X-Amz-Signature="), "{location}");

    // Fetched as a browser would after the redirect: no credential of ours goes along.
    let object = reqwest::get(&location).await.unwrap();
    assert_eq!(object.status(), StatusCode::OK);
    let disposition = object.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(disposition, content_disposition(filename));
    assert!(disposition.starts_with("attachment; filename=\""));
    assert!(
        disposition
            .contains("filename*=UTF-8''%22Final%22%20cut%3B%20na%C3%AFve%20%E6%9D%B1%E4%BA%AC")
    );
    // The quoted fallback holds no quote, backslash or non-ASCII that could end it early.
    let fallback = disposition
        .strip_prefix("attachment; filename=\"")
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(fallback, "_Final_ cut_ na_ve __ 100_.mp4");
    assert_eq!(object.bytes().await.unwrap().as_ref(), data.as_slice());

    // Through the follow-redirects client, the same bytes.
    let followed = app
        .http
        .get(app.url(&format!("/api/uploads/{id}/download")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(followed.bytes().await.unwrap().as_ref(), data.as_slice());
}

#[tokio::test]
async fn only_confirmed_uploads_of_the_caller_can_be_downloaded() {
    let app = spawn_app().await;
    let pending = app.declare(1000).await;
    let pending_id = pending["id"].as_str().unwrap();
    assert_error(
        download(&app, pending_id).await,
        StatusCode::CONFLICT,
        "upload-not-uploaded",
    )
    .await;

    assert_eq!(app.abort(pending_id).await.status(), StatusCode::OK);
    assert_error(
        download(&app, pending_id).await,
        StatusCode::CONFLICT,
        "upload-gone",
    )
    .await;

    let data = payload(1000, 61);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    app.put_part(&upload["parts"][0], data).await;
    assert_eq!(app.complete(id, None).await.status(), StatusCode::OK);
    let bob = not_following()
        .get(app.url(&format!("/api/uploads/{id}/download")))
        .bearer_auth(app.token_for("bob@example.com"))
        .send()
        .await
        .unwrap();
    assert_error(bob, StatusCode::NOT_FOUND, "upload-not-found").await;
    let anonymous = not_following()
        .get(app.url(&format!("/api/uploads/{id}/download")))
        .send()
        .await
        .unwrap();
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "missing-token").await;
    let forged = not_following()
        .get(app.url(&format!("/api/uploads/{id}/download")))
        .bearer_auth("forged.token.value")
        .send()
        .await
        .unwrap();
    assert_error(forged, StatusCode::UNAUTHORIZED, "invalid-token").await;

    // A filename that could split the header is refused when declared.
    let response = app
        .create_upload(&json!({
            "filename": "a\r\nSet-Cookie: x=1.mp4", "size": 10, "content_type": "video/mp4", "title": "t",
        }))
        .await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-filename",
    )
    .await;

    // An upload session (what Uppy's endpoint carries) is not enough to read the bytes.
    let session = app.start_session(&json!({}), None).await;
    let by_session = not_following()
        .get(app.url(&format!("/api/uploads/{id}/download")))
        .query(&[("session", session["token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_error(by_session, StatusCode::UNAUTHORIZED, "missing-token").await;
}
