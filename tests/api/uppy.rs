//! Uppy's Companion-style protocol, spoken the way `@uppy/aws-s3` speaks it, over the real
//! stack: sessions in the path, POST policies for small files, 5 MiB multipart chunks.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{MIB, TestApp, assert_error, payload, spawn_app, webhook_hub};

async fn session(app: &TestApp, small_files: &str) -> String {
    let response = app
        .http
        .post(app.url("/api/uppy-sessions"))
        .bearer_auth(&app.token)
        .json(&json!({"small_files": small_files}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"));
    let body: Value = response.json().await.unwrap();
    let endpoint = body["companion_endpoint"].as_str().unwrap().to_owned();
    assert!(
        endpoint.starts_with(&format!("{}/uppy/", app.address)),
        "{endpoint}"
    );
    endpoint
}

/// A GET as Uppy sends it: no headers, the object key in the query.
async fn uppy_get(app: &TestApp, url: &str, key: &str) -> Value {
    let response = app
        .http
        .get(url)
        .query(&[("key", key)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {url}");
    response.json().await.unwrap()
}

/// Uppy's default chunking: 5 MiB (or size/10,000) parts, the last one shorter.
fn chunks(data: &[u8]) -> Vec<&[u8]> {
    data.chunks(5 * MIB).collect()
}

#[tokio::test]
async fn a_multipart_upload_through_the_companion_endpoint_is_confirmed() {
    let app = spawn_app().await;
    let endpoint = session(&app, "post").await;
    let data = payload(17 * MIB + 99, 70);

    let created: Value = app
        .http
        .post(format!("{endpoint}/s3/multipart"))
        .json(&json!({"filename": "final.mp4", "type": "video/mp4",
                      "metadata": {"name": "final.mp4", "type": "video/mp4", "size": data.len(), "title": "Final"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap();
    let upload_id = created["uploadId"].as_str().unwrap();
    assert_eq!(created["bucket"], app.bucket.as_str());
    assert!(
        key.starts_with("uploads/"),
        "the server chose the key: {key}"
    );

    let mut parts = Vec::new();
    for (index, chunk) in chunks(&data).into_iter().enumerate() {
        let number = index + 1;
        let signed = uppy_get(
            &app,
            &format!("{endpoint}/s3/multipart/{upload_id}/{number}"),
            key,
        )
        .await;
        assert!(signed["expires"].as_u64().unwrap() > 0);
        let put = app
            .http
            .put(signed["url"].as_str().unwrap())
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::OK, "part {number}");
        parts.push(json!({"PartNumber": number, "ETag": put.headers()["etag"].to_str().unwrap()}));
    }

    let listed = uppy_get(&app, &format!("{endpoint}/s3/multipart/{upload_id}"), key).await;
    assert_eq!(listed.as_array().unwrap().len(), 4);
    assert_eq!(listed[0]["PartNumber"], 1);
    assert_eq!(listed[0]["Size"], 5 * MIB);

    let completed: Value = app
        .http
        .post(format!("{endpoint}/s3/multipart/{upload_id}/complete"))
        .query(&[("key", key)])
        .json(&json!({"parts": parts}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(completed["key"], key);
    assert!(completed["location"].as_str().unwrap().ends_with(key));
    assert_eq!(app.stored_bytes(key).await, data);
    let listing = app.list_uploads().await;
    let upload = &listing[0];
    assert_eq!(upload["title"], "Final");
    assert!(["uploaded", "processing"].contains(&upload["status"].as_str().unwrap()));
}

#[tokio::test]
async fn a_small_file_goes_up_as_a_form_post_pinned_to_its_key_and_size() {
    let app = spawn_app().await;
    let _events = webhook_hub::subscribe(&app.address);
    let endpoint = session(&app, "post").await;
    let data = payload(MIB, 71);
    let params: Value = app
        .http
        .get(format!("{endpoint}/s3/params"))
        .query(&[
            ("filename", "tiny clip.mp4"),
            ("type", "video/mp4"),
            ("metadata[size]", &data.len().to_string()),
            ("metadata[name]", "tiny clip.mp4"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = params["url"].as_str().unwrap();
    let fields = params["fields"].as_object().unwrap();
    let key = fields["key"].as_str().unwrap().to_owned();

    let form = |fields: &serde_json::Map<String, Value>, file: Vec<u8>| {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in fields {
            form = form.text(name.clone(), value.as_str().unwrap().to_owned());
        }
        form.part(
            "file",
            reqwest::multipart::Part::bytes(file)
                .file_name("tiny.mp4")
                .mime_str("video/mp4")
                .unwrap(),
        )
    };
    // A larger file, or another key, than the policy names is refused by storage.
    let oversize = app
        .http
        .post(url)
        .multipart(form(fields, payload(MIB + 1, 72)))
        .send()
        .await
        .unwrap();
    assert_eq!(oversize.status(), StatusCode::BAD_REQUEST);
    let mut elsewhere = fields.clone();
    elsewhere.insert(
        "key".into(),
        Value::String("uploads/someone-else.mp4".into()),
    );
    let moved = app
        .http
        .post(url)
        .multipart(form(&elsewhere, data.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::FORBIDDEN);

    let posted = app
        .http
        .post(url)
        .multipart(form(fields, data.clone()))
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "{}", posted.status());
    // Uppy never calls back for these: storage's event confirms the upload.
    let id = app.list_uploads().await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_status(&id, &["processing"]).await;
    assert_eq!(app.stored_bytes(&key).await, data);
}

#[tokio::test]
async fn uppy_5_gets_a_presigned_put_with_a_bearer_token() {
    let app = spawn_app().await;
    let data = payload(3000, 73);
    let params: Value = app
        .http
        .get(app.url("/s3/params"))
        .query(&[
            ("filename", "a.mp4"),
            ("type", "video/mp4"),
            ("metadata[size]", "3000"),
            ("method", "put"),
        ])
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(params["method"], "PUT");
    assert_eq!(params["headers"]["content-type"], "video/mp4");
    // Write-once: the storage under test honours it, so the URL is signed with it.
    assert_eq!(params["headers"]["if-none-match"], "*");
    // Uppy 5 sends the headers it is given.
    let put = app.put_part(&params, data).await;
    assert_eq!(put.status(), StatusCode::OK);
}

#[tokio::test]
async fn uppy_calls_are_checked_against_the_callers_intent() {
    let app = spawn_app().await;
    let endpoint = session(&app, "post").await;
    let created: Value = app
        .http
        .post(format!("{endpoint}/s3/multipart"))
        .json(&json!({"filename": "a.mp4", "type": "video/mp4", "metadata": {"size": 6 * MIB}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload_id = created["uploadId"].as_str().unwrap();
    let key = created["key"].as_str().unwrap();
    let before = app.fingerprint().await;

    // The right upload id with another key, and the right pair in someone else's session.
    let wrong_key = app
        .http
        .get(format!("{endpoint}/s3/multipart/{upload_id}/1"))
        .query(&[("key", "uploads/other.mp4")])
        .send()
        .await
        .unwrap();
    assert_error(wrong_key, StatusCode::NOT_FOUND, "upload-not-found").await;
    let eve = app.token_for("eve@example.com");
    let eves_session: Value = app
        .http
        .post(app.url("/api/uppy-sessions"))
        .bearer_auth(&eve)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let eves = eves_session["companion_endpoint"].as_str().unwrap();
    let stolen = app
        .http
        .delete(format!("{eves}/s3/multipart/{upload_id}"))
        .query(&[("key", key)])
        .send()
        .await
        .unwrap();
    assert_error(stolen, StatusCode::NOT_FOUND, "upload-not-found").await;

    let no_size = app
        .http
        .post(format!("{endpoint}/s3/multipart"))
        .json(&json!({"filename": "a.mp4", "type": "video/mp4", "metadata": {}}))
        .send()
        .await
        .unwrap();
    assert_error(no_size, StatusCode::UNPROCESSABLE_ENTITY, "invalid-size").await;
    let not_video = app
        .http
        .post(format!("{endpoint}/s3/multipart"))
        .json(&json!({"filename": "a.png", "type": "image/png", "metadata": {"size": 10}}))
        .send()
        .await
        .unwrap();
    assert_error(
        not_video,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unsupported-content-type",
    )
    .await;
    let forged = app
        .http
        .post(format!("{}/uppy/not-a-session/s3/multipart", app.address))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(forged, StatusCode::UNAUTHORIZED, "invalid-token").await;
    let anonymous = app
        .http
        .get(app.url("/s3/params?filename=a.mp4"))
        .send()
        .await
        .unwrap();
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "missing-token").await;
    assert_eq!(app.fingerprint().await, before);

    let aborted = app
        .http
        .delete(format!("{endpoint}/s3/multipart/{upload_id}"))
        .query(&[("key", key)])
        .send()
        .await
        .unwrap();
    assert_eq!(aborted.status(), StatusCode::OK);
    assert_eq!(aborted.json::<Value>().await.unwrap(), json!({}));
    assert_eq!(app.list_uploads().await[0]["status"], "aborted");
}

#[tokio::test]
async fn a_same_origin_page_can_use_the_session_cookie() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/api/uppy-sessions"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert!(cookie.contains("Path=/s3"));
    let params = app
        .http
        .get(app.url("/s3/params"))
        .query(&[
            ("filename", "a.mp4"),
            ("type", "video/mp4"),
            ("metadata[size]", "10"),
        ])
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(params.status(), StatusCode::OK);
    assert!(params.json::<Value>().await.unwrap()["fields"]["policy"].is_string());
}
