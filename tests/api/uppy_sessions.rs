//! Uppy sessions are scoped: to one origin (CORS answered for it, preflights included, and
//! refused from any other), to a number of uploads, and revocable on every replica at once.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app};

const APP_ORIGIN: &str = "https://app.example";
const OTHER_ORIGIN: &str = "https://evil.example";

/// `DELETE /api/uppy-sessions/{id}` with `token`.
async fn revoke(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    app.http
        .delete(app.url(&format!("/api/uppy-sessions/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn preflight(url: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap()
}

fn declaration() -> Value {
    json!({"filename": "a.mp4", "type": "video/mp4", "metadata": {"size": 6 * 1024 * 1024}})
}

#[tokio::test]
async fn a_session_answers_cors_for_its_own_origin_and_refuses_any_other() {
    let app = spawn_app().await;
    let session = app
        .start_session(&json!({"origin": APP_ORIGIN}), None)
        .await;
    assert_eq!(session["origin"], APP_ORIGIN);
    let endpoint = session["companion_endpoint"].as_str().unwrap();
    let multipart = format!("{endpoint}/s3/multipart");

    let allowed = preflight(&multipart, APP_ORIGIN).await;
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], APP_ORIGIN);
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("content-type")
    );

    let refused = preflight(&multipart, OTHER_ORIGIN).await;
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );
    assert_error(refused, StatusCode::FORBIDDEN, "origin-not-allowed").await;

    let create_from = |origin: &'static str| {
        app.http
            .post(&multipart)
            .header("origin", origin)
            .json(&declaration())
            .send()
    };
    let created = create_from(APP_ORIGIN).await.unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    assert_eq!(created.headers()["access-control-allow-origin"], APP_ORIGIN);

    let before = app.fingerprint().await;
    let elsewhere = create_from(OTHER_ORIGIN).await.unwrap();
    assert_error(elsewhere, StatusCode::FORBIDDEN, "origin-not-allowed").await;
    assert_eq!(app.fingerprint().await, before, "nothing was created");

    // The routes that name an upload (session and upload read together) check it too.
    let created: Value = created.json().await.unwrap();
    let sign_from = |origin: &'static str| {
        app.http
            .get(format!(
                "{multipart}/{}/1",
                created["uploadId"].as_str().unwrap()
            ))
            .query(&[("key", created["key"].as_str().unwrap())])
            .header("origin", origin)
            .send()
    };
    assert_eq!(
        sign_from(APP_ORIGIN).await.unwrap().status(),
        StatusCode::OK
    );
    let elsewhere = sign_from(OTHER_ORIGIN).await.unwrap();
    assert_error(elsewhere, StatusCode::FORBIDDEN, "origin-not-allowed").await;
}

#[tokio::test]
async fn a_session_takes_the_minting_requests_origin_unless_told_otherwise() {
    let app = spawn_app().await;
    let from_page = app
        .start_session(&json!({}), Some("http://127.0.0.1:5173"))
        .await;
    assert_eq!(from_page["origin"], "http://127.0.0.1:5173");
    let any = app
        .start_session(&json!({"origin": "*"}), Some("http://127.0.0.1:5173"))
        .await;
    assert!(any.get("origin").is_none(), "{any}");
    let endpoint = any["companion_endpoint"].as_str().unwrap();
    let answered = preflight(&format!("{endpoint}/s3/multipart"), OTHER_ORIGIN).await;
    assert_eq!(answered.status(), StatusCode::NO_CONTENT);

    let bad = app
        .http
        .post(app.url("/api/uppy-sessions"))
        .bearer_auth(&app.token)
        .json(&json!({"origin": "https://app.example/path"}))
        .send()
        .await
        .unwrap();
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid-origin").await;
}

#[tokio::test]
async fn a_revoked_session_is_refused_on_every_replica() {
    let app = spawn_app().await;
    let replica = app.spawn_replica().await;
    let session = app.start_session(&json!({}), None).await;
    let endpoint = session["companion_endpoint"].as_str().unwrap();
    let on_replica = endpoint.replacen(&app.address, &replica, 1);
    // A part's URL, by the route that reads the session and the upload together.
    let sign = |base: &str, created: &Value| {
        let (upload_id, key) = (&created["uploadId"], created["key"].as_str().unwrap());
        app.http
            .get(format!(
                "{base}/s3/multipart/{}/1",
                upload_id.as_str().unwrap()
            ))
            .query(&[("key", key)])
            .send()
    };
    let mut created = Vec::new();
    for base in [endpoint, on_replica.as_str()] {
        let works = app
            .http
            .post(format!("{base}/s3/multipart"))
            .json(&declaration())
            .send()
            .await
            .unwrap();
        assert_eq!(works.status(), StatusCode::OK, "{base}");
        let upload: Value = works.json().await.unwrap();
        let signed = sign(base, &upload).await.unwrap();
        assert_eq!(signed.status(), StatusCode::OK, "{base}");
        created.push(upload);
    }

    let id = session["id"].as_str().unwrap();
    let revoked = revoke(&app, &app.token, id).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    for (base, upload) in [endpoint, on_replica.as_str()].into_iter().zip(&created) {
        let refused = app
            .http
            .post(format!("{base}/s3/multipart"))
            .json(&declaration())
            .send()
            .await
            .unwrap();
        assert_error(refused, StatusCode::UNAUTHORIZED, "session-revoked").await;
        let unsigned = sign(base, upload).await.unwrap();
        assert_error(unsigned, StatusCode::UNAUTHORIZED, "session-revoked").await;
    }

    let eve = app.token_for("eve@example.com");
    let not_hers = revoke(&app, &eve, id).await;
    assert_error(not_hers, StatusCode::NOT_FOUND, "session-not-found").await;
}

#[tokio::test]
async fn a_session_makes_at_most_its_uploads() {
    let app = spawn_app().await;
    let session = app.start_session(&json!({"max_uploads": 1}), None).await;
    assert_eq!(session["max_uploads"], 1);
    let endpoint = session["companion_endpoint"].as_str().unwrap();
    let create = || {
        app.http
            .post(format!("{endpoint}/s3/multipart"))
            .json(&declaration())
            .send()
    };
    // A declaration the use case refuses (counted, then given back) leaves the upload unused.
    let refused = app
        .http
        .post(format!("{endpoint}/s3/multipart"))
        .json(&json!({"filename": "a.png", "type": "image/png", "metadata": {"size": 10}}))
        .send()
        .await
        .unwrap();
    assert_error(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unsupported-content-type",
    )
    .await;
    assert_eq!(create().await.unwrap().status(), StatusCode::OK);
    let before = app.fingerprint().await;
    let over = create().await.unwrap();
    assert_error(over, StatusCode::FORBIDDEN, "session-upload-limit").await;
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn an_owner_has_at_most_the_allowed_active_sessions() {
    let app = crate::helpers::spawn_app_with(&["--max-sessions-per-owner=2"]).await;
    app.start_session(&json!({}), None).await;
    let second = app.start_session(&json!({}), None).await;
    let over = app
        .http
        .post(app.url("/api/uppy-sessions"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert!(over.headers().contains_key("retry-after"));
    assert_error(over, StatusCode::TOO_MANY_REQUESTS, "too-many-sessions").await;
    let id = second["id"].as_str().unwrap();
    let revoked = revoke(&app, &app.token, id).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    app.start_session(&json!({}), None).await;
}

/// Mints a session with the proxy headers given; returns its cookie and endpoint.
async fn mint_behind_proxy(app: &TestApp, forwarded: &[(&str, &str)]) -> (String, String) {
    let mut request = app
        .http
        .post(app.url("/api/uppy-sessions"))
        .bearer_auth(&app.token);
    for (name, value) in forwarded {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    let endpoint = body["companion_endpoint"].as_str().unwrap().to_owned();
    (cookie, endpoint)
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_an_https_public_url() {
    let https = "https://uploads.example/uppy/";
    let configured =
        crate::helpers::spawn_app_with(&["--public-url=https://uploads.example"]).await;
    let (cookie, endpoint) =
        mint_behind_proxy(&configured, &[("x-forwarded-host", "attacker.example")]).await;
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(endpoint.starts_with(https), "{endpoint}");

    let trusting = crate::helpers::spawn_app_with(&["--trust-forwarded-headers=true"]).await;
    let forwarded = [
        ("x-forwarded-host", "uploads.example"),
        ("x-forwarded-proto", "https"),
    ];
    let (cookie, endpoint) = mint_behind_proxy(&trusting, &forwarded).await;
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(endpoint.starts_with(https), "{endpoint}");

    let untrusting = spawn_app().await;
    let (cookie, endpoint) = mint_behind_proxy(&untrusting, &forwarded).await;
    assert!(!cookie.contains("; Secure"), "{cookie}");
    assert!(!endpoint.contains("uploads.example"), "{endpoint}");
}
