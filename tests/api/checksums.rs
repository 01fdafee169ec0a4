//! Checksums declared by the client, signed into every part URL and enforced by storage: other
//! bytes of the right length are refused, the upload completes once the right ones arrive,
//! and the upload view and the job carry the checksums.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lapin::types::AMQPValue;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{MIB, TestApp, assert_error, payload, spawn_app, spawn_app_with};

fn sha256(bytes: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(bytes))
}

fn crc32(bytes: &[u8]) -> String {
    STANDARD.encode(crc32fast::hash(bytes).to_be_bytes())
}

async fn declare(app: &TestApp, body: Value) -> reqwest::Response {
    app.create_upload(&body).await
}

fn declaration(size: usize, extra: Value) -> Value {
    let mut body = json!({
        "filename": "clip.mp4", "size": size, "content_type": "video/mp4", "title": "Clip"
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

#[tokio::test]
async fn other_bytes_of_the_right_length_are_refused_until_the_right_ones_arrive() {
    let app = spawn_app().await;
    let part_size = 5 * MIB;
    let data = payload(11 * MIB, 21);
    let checksums: Vec<String> = data.chunks(part_size).map(sha256).collect();
    let file_sha256 = sha256(&data);
    let created = declare(
        &app,
        declaration(
            data.len(),
            json!({"part_size": part_size, "checksum_algorithm": "sha256",
                   "part_checksums": checksums, "sha256": file_sha256}),
        ),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let upload: Value = created.json().await.unwrap();
    let id = upload["id"].as_str().unwrap();
    assert_eq!(upload["part_size"], part_size, "the client's part size");
    assert_eq!(upload["part_count"], 3);
    assert_eq!(upload["checksums"]["verified_by_storage"], true);
    let parts = upload["parts"].as_array().unwrap();
    assert_eq!(parts[0]["headers"]["x-amz-checksum-sha256"], checksums[0]);

    let mut corrupted = data[..part_size].to_vec();
    corrupted[1000] ^= 0xff;
    let refused = app.put_part(&parts[0], corrupted).await;
    assert_eq!(
        refused.status(),
        StatusCode::BAD_REQUEST,
        "storage refuses other bytes"
    );
    assert_error(
        app.complete(id, None).await,
        StatusCode::CONFLICT,
        "parts-missing",
    )
    .await;

    app.put_parts(parts, &data, part_size).await;
    let completed: Value = app.complete(id, None).await.json().await.unwrap();
    assert_eq!(completed["status"], "uploaded", "{completed}");
    let key = upload["key"].as_str().unwrap();
    assert_eq!(app.stored_bytes(key).await, data);

    let shown = app.get_json(&app.url(&format!("/api/uploads/{id}"))).await;
    assert_eq!(shown["checksums"]["algorithm"], "sha256");
    assert_eq!(shown["checksums"]["sha256"], file_sha256);
    assert_eq!(shown["checksums"]["parts"][2]["checksum"], checksums[2]);

    let jobs = app.wait_for_messages(&app.names.job_queue, 1).await;
    let headers = jobs[0].delivery.properties.headers().clone().unwrap();
    let header = |name: &str| headers.inner().get(name).cloned();
    assert_eq!(
        header("upload_checksum_algorithm"),
        Some(AMQPValue::LongString("sha256".into()))
    );
    assert_eq!(
        header("upload_sha256"),
        Some(AMQPValue::LongString(file_sha256.as_str().into()))
    );
    assert_eq!(
        header("upload_checksums_verified"),
        Some(AMQPValue::Boolean(true))
    );
    match header("upload_part_checksums") {
        Some(AMQPValue::FieldArray(array)) => assert_eq!(array.as_slice().len(), 3),
        other => panic!("upload_part_checksums: {other:?}"),
    }
}

#[tokio::test]
async fn a_single_put_with_a_crc32_refuses_other_bytes() {
    let app = spawn_app_with(&["--job-format=json"]).await;
    let data = payload(300_000, 22);
    let upload: Value = declare(
        &app,
        declaration(
            data.len(),
            json!({"checksum_algorithm": "crc32", "part_checksums": [crc32(&data)]}),
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    let part = &upload["parts"][0];
    assert_eq!(part["headers"]["x-amz-checksum-crc32"], crc32(&data));
    let mut other = data.clone();
    other[7] ^= 1;
    assert_eq!(
        app.put_part(part, other).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.put_part(part, data.clone()).await.status(),
        StatusCode::OK
    );
    let id = upload["id"].as_str().unwrap();
    assert_eq!(app.complete(id, None).await.status(), StatusCode::OK);
    let jobs = app.wait_for_messages(&app.names.job_queue, 1).await;
    let body: Value = serde_json::from_slice(&jobs[0].delivery.data).unwrap();
    assert_eq!(body["checksums"]["algorithm"], "crc32");
    assert_eq!(body["checksums"]["parts"][0], crc32(&data));
    assert_eq!(body["checksums"]["verified_by_storage"], true);
}

#[tokio::test]
async fn a_client_that_hashes_as_it_goes_gives_each_checksum_with_its_part() {
    let app = spawn_app().await;
    let data = payload(11 * MIB, 23);
    let upload: Value = declare(
        &app,
        declaration(
            data.len(),
            json!({"part_size": 5 * MIB, "checksum_algorithm": "crc32c"}),
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = upload["id"].as_str().unwrap();
    assert_eq!(upload["parts"], json!([]), "no URL before its checksum");
    let unsigned = app.sign_parts(id, &[1]).await;
    assert_error(unsigned, StatusCode::CONFLICT, "part-checksum-missing").await;

    let sign = |number: u32, checksum: String| {
        let url = app.url(&format!("/api/uploads/{id}/parts"));
        let body = json!({"parts": [{"part_number": number, "checksum": checksum}]});
        app.http
            .post(url)
            .bearer_auth(&app.token)
            .json(&body)
            .send()
    };
    let checksum = STANDARD.encode(crc32c(&data[..5 * MIB]).to_be_bytes());
    let signed: Value = sign(1, checksum.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        signed["parts"][0]["headers"]["x-amz-checksum-crc32c"],
        checksum
    );
    let conflict = sign(1, STANDARD.encode([0u8; 4])).await.unwrap();
    assert_error(conflict, StatusCode::CONFLICT, "checksum-conflict").await;
    // A well-formed digest of another algorithm conflicts with this upload's declaration;
    // one of no algorithm is malformed.
    let sha256_digest = sign(2, STANDARD.encode([0u8; 32])).await.unwrap();
    assert_error(
        sha256_digest,
        StatusCode::CONFLICT,
        "checksum-algorithm-mismatch",
    )
    .await;
    let malformed = sign(2, "AAAA".to_owned()).await.unwrap();
    assert_error(
        malformed,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-checksum",
    )
    .await;
    let put = app
        .put_part(&signed["parts"][0], data[..5 * MIB].to_vec())
        .await;
    assert_eq!(put.status(), StatusCode::OK);
}

/// CRC-32C (Castagnoli), bit by bit: enough for a test.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn a_part_size_out_of_bounds_is_refused() {
    let app = spawn_app().await;
    let before = app.fingerprint().await;
    for part_size in [MIB, 0] {
        let response = declare(&app, declaration(20 * MIB, json!({"part_size": part_size}))).await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-part-size",
        )
        .await;
    }
    let bad = declare(
        &app,
        declaration(
            1000,
            json!({"checksum_algorithm": "sha256", "part_checksums": ["AAAA"]}),
        ),
    )
    .await;
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid-checksum").await;
    assert_eq!(app.fingerprint().await, before, "nothing created");
}

#[tokio::test]
async fn with_checksums_required_a_declaration_without_them_is_refused() {
    let app = spawn_app_with(&["--require-checksums=true"]).await;
    let refused = declare(&app, declaration(1000, json!({}))).await;
    assert_error(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "checksums-required",
    )
    .await;
    let data = payload(1000, 24);
    let accepted = declare(
        &app,
        declaration(
            1000,
            json!({"checksum_algorithm": "md5",
                   "part_checksums": [STANDARD.encode(md5_of(&data))]}),
        ),
    )
    .await;
    assert_eq!(accepted.status(), StatusCode::CREATED);
    let upload: Value = accepted.json().await.unwrap();
    assert!(upload["parts"][0]["headers"]["content-md5"].is_string());
    assert_eq!(
        app.put_part(&upload["parts"][0], data).await.status(),
        StatusCode::OK
    );
}

/// MD5 via the system's `md5sum`: the tests need no MD5 crate of their own.
fn md5_of(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("md5sum (coreutils)");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    let hex = String::from_utf8(out.stdout).unwrap();
    (0..32)
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn checksums_for_an_upload_declared_without_them_conflict_with_it() {
    let app = spawn_app().await;
    let upload: Value = declare(&app, declaration(20 * MIB, json!({})))
        .await
        .json()
        .await
        .unwrap();
    let id = upload["id"].as_str().unwrap();
    let before = app.fingerprint().await;
    let body = json!({"parts": [{"part_number": 1, "checksum": STANDARD.encode([0u8; 4])}]});
    let response = app
        .http
        .post(app.url(&format!("/api/uploads/{id}/parts")))
        .bearer_auth(&app.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::CONFLICT, "checksums-not-declared").await;
    assert_eq!(app.fingerprint().await, before, "nothing recorded");
}
