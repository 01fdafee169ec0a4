//! Missing, malformed, forged or expired tokens get 401 with `WWW-Authenticate: Bearer`.

use jsonwebtoken::{Algorithm, EncodingKey, Header, get_current_timestamp};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{JWT_SECRET, assert_error, spawn_app};

fn sign(claims: serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn platform_claims(exp: u64) -> serde_json::Value {
    let now = get_current_timestamp();
    json!({"sub": "ana@example.com", "user_id": 1, "iat": now.min(exp), "exp": exp, "token_type": "access"})
}

async fn assert_unauthorized(response: reqwest::Response, code: &str) {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        challenge.is_some_and(|c| c.starts_with("Bearer")),
        "WWW-Authenticate: Bearer"
    );
    assert_error(response, StatusCode::UNAUTHORIZED, code).await;
}

#[tokio::test]
async fn requests_without_a_valid_token_are_unauthorized_and_change_nothing() {
    let app = spawn_app().await;
    let body = json!({"filename": "a.mp4", "size": 10, "content_type": "video/mp4", "title": "A"});
    let before = app.fingerprint().await;

    let response = app
        .http
        .post(app.url("/api/uploads"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, "missing-token").await;

    let expired = sign(platform_claims(get_current_timestamp() - 3600), JWT_SECRET);
    assert_unauthorized(app.create_upload_as(&expired, &body).await, "token-expired").await;

    let forged = sign(
        platform_claims(get_current_timestamp() + 600),
        "not-the-secret",
    );
    assert_unauthorized(app.create_upload_as(&forged, &body).await, "invalid-token").await;

    assert_unauthorized(
        app.create_upload_as("garbage", &body).await,
        "invalid-token",
    )
    .await;

    let refresh = sign(
        json!({"sub": "ana@example.com", "exp": get_current_timestamp() + 600, "token_type": "refresh"}),
        JWT_SECRET,
    );
    assert_unauthorized(app.create_upload_as(&refresh, &body).await, "invalid-token").await;

    let response = app
        .http
        .get(app.url("/api/uploads"))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, "missing-token").await;

    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn a_platform_token_is_accepted() {
    let app = spawn_app().await;
    let token = sign(platform_claims(get_current_timestamp() + 900), JWT_SECRET);
    let response = app
        .create_upload_as(
            &token,
            &json!({"filename": "a.mp4", "size": 10, "content_type": "video/mp4", "title": "A"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_token_not_valid_yet_or_without_its_type_is_refused() {
    let app = spawn_app().await;
    let body = json!({"filename": "a.mp4", "size": 10, "content_type": "video/mp4", "title": "A"});
    let now = get_current_timestamp();
    let mut early = platform_claims(now + 7200);
    early["nbf"] = json!(now + 3600);
    let early = sign(early, JWT_SECRET);
    assert_unauthorized(app.create_upload_as(&early, &body).await, "invalid-token").await;

    // The platform's access tokens say what they are; HS256 tokens must.
    let mut untyped = platform_claims(now + 600);
    untyped.as_object_mut().unwrap().remove("token_type");
    let untyped = sign(untyped, JWT_SECRET);
    assert_unauthorized(app.create_upload_as(&untyped, &body).await, "invalid-token").await;
}
