use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{MIB, assert_error, payload, spawn_app};

#[tokio::test]
async fn a_large_file_goes_up_in_parallel_parts_and_is_stored_intact() {
    let app = spawn_app().await;
    let data = payload(42 * MIB + 12345, 10);

    let upload = app.declare(data.len()).await;
    assert_eq!(upload["multipart"], true);
    let part_size = upload["part_size"].as_u64().unwrap() as usize;
    let part_count = upload["part_count"].as_u64().unwrap() as usize;
    assert_eq!(part_count, data.len().div_ceil(part_size));
    let parts = upload["parts"].as_array().unwrap();
    assert_eq!(parts.len(), part_count);
    let sizes: usize = parts
        .iter()
        .map(|p| p["size"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(sizes, data.len());

    let etags = app.put_parts(parts, &data, part_size).await;
    let body = json!({
        "parts": etags.iter().map(|(n, etag)| json!({"part_number": n, "etag": etag})).collect::<Vec<_>>()
    });
    let id = upload["id"].as_str().unwrap();
    let completed = app.complete(id, Some(&body)).await;
    assert_eq!(completed.status(), StatusCode::OK);
    let completed: Value = completed.json().await.unwrap();
    assert_eq!(completed["status"], "uploaded");
    assert_eq!(
        app.stored_bytes(upload["key"].as_str().unwrap()).await,
        data
    );
    // Each storage call is timed by operation: one multipart upload started, one assembled.
    for operation in ["CreateMultipartUpload", "CompleteMultipartUpload"] {
        let timed = app
            .metric(
                "uc_storage_request_duration_seconds_count",
                &[("operation", operation), ("outcome", "ok")],
            )
            .await;
        assert_eq!(timed, 1.0, "{operation}");
    }
}

#[tokio::test]
async fn an_interrupted_upload_resumes_from_what_storage_holds() {
    let app = spawn_app().await;
    let data = payload(20 * MIB, 11);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    let part_size = upload["part_size"].as_u64().unwrap() as usize;
    let parts = upload["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);

    // The first two parts go up, then the client "reloads" and has lost everything.
    app.put_parts(&parts[..2], &data, part_size).await;

    let listed: Value = app.list_parts(id).await.json().await.unwrap();
    let listed = listed["parts"].as_array().unwrap();
    let numbers: Vec<u64> = listed
        .iter()
        .map(|p| p["part_number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![1, 2]);
    assert!(
        listed
            .iter()
            .all(|p| p["size"] == part_size && p["etag"].is_string())
    );

    let fresh = app.sign_parts(id, &[3]).await;
    assert_eq!(fresh.status(), StatusCode::OK);
    let fresh: Value = fresh.json().await.unwrap();
    let fresh = fresh["parts"].as_array().unwrap();
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh[0]["part_number"], 3);
    app.put_parts(fresh, &data, part_size).await;

    // No part list: the coordinator takes the parts from storage.
    let completed = app.complete(id, None).await;
    assert_eq!(completed.status(), StatusCode::OK);
    assert_eq!(
        completed.json::<Value>().await.unwrap()["status"],
        "uploaded"
    );
    assert_eq!(
        app.stored_bytes(upload["key"].as_str().unwrap()).await,
        data
    );
}

#[tokio::test]
async fn a_part_signed_again_replaces_an_earlier_attempt() {
    let app = spawn_app().await;
    let data = payload(12 * MIB, 12);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    let part_size = upload["part_size"].as_u64().unwrap() as usize;
    let parts = upload["parts"].as_array().unwrap();
    // A first attempt at part 1 with the wrong bytes, then the right bytes via a fresh URL.
    let wrong = payload(part_size, 99);
    app.put_parts(&parts[..1], &wrong, part_size).await;
    let fresh: Value = app.sign_parts(id, &[1, 2]).await.json().await.unwrap();
    app.put_parts(fresh["parts"].as_array().unwrap(), &data, part_size)
        .await;

    assert_eq!(app.complete(id, None).await.status(), StatusCode::OK);
    assert_eq!(
        app.stored_bytes(upload["key"].as_str().unwrap()).await,
        data
    );
}

#[tokio::test]
async fn completing_with_a_part_missing_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let data = payload(20 * MIB, 13);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    let part_size = upload["part_size"].as_u64().unwrap() as usize;
    let parts = upload["parts"].as_array().unwrap();
    let etags = app.put_parts(&parts[..2], &data, part_size).await;
    let before = app.fingerprint().await;

    let given = json!({
        "parts": etags.iter().map(|(n, e)| json!({"part_number": n, "etag": e})).collect::<Vec<_>>()
    });
    let body = assert_error(
        app.complete(id, Some(&given)).await,
        StatusCode::CONFLICT,
        "parts-missing",
    )
    .await;
    assert!(body["message"].as_str().unwrap().contains('3'));
    assert_error(
        app.complete(id, None).await,
        StatusCode::CONFLICT,
        "parts-missing",
    )
    .await;

    assert_eq!(app.fingerprint().await, before);
    let listed: Value = app.list_parts(id).await.json().await.unwrap();
    assert_eq!(
        listed["parts"].as_array().unwrap().len(),
        2,
        "the multipart upload survives"
    );
}

#[tokio::test]
async fn completing_with_a_wrong_etag_is_refused() {
    let app = spawn_app().await;
    let data = payload(12 * MIB, 14);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    let part_size = upload["part_size"].as_u64().unwrap() as usize;
    app.put_parts(upload["parts"].as_array().unwrap(), &data, part_size)
        .await;
    let before = app.fingerprint().await;
    let given = json!({"parts": [
        {"part_number": 1, "etag": "\"00000000000000000000000000000000\""},
        {"part_number": 2, "etag": "\"00000000000000000000000000000000\""}
    ]});
    assert_error(
        app.complete(id, Some(&given)).await,
        StatusCode::CONFLICT,
        "invalid-part",
    )
    .await;
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn aborting_discards_the_parts_and_marks_the_upload_aborted() {
    let app = spawn_app().await;
    let data = payload(12 * MIB, 15);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    let part_size = upload["part_size"].as_u64().unwrap() as usize;
    app.put_parts(&upload["parts"].as_array().unwrap()[..1], &data, part_size)
        .await;

    let aborted = app.abort(id).await;
    assert_eq!(aborted.status(), StatusCode::OK);
    let aborted: Value = aborted.json().await.unwrap();
    assert_eq!(aborted["status"], "aborted");

    assert!(
        !app.multipart_upload_exists(id, upload["key"].as_str().unwrap())
            .await,
        "the multipart upload is gone from storage"
    );

    let again = app.abort(id).await;
    assert_eq!(again.status(), StatusCode::OK, "aborting twice is harmless");
    assert_error(
        app.complete(id, None).await,
        StatusCode::CONFLICT,
        "upload-not-pending",
    )
    .await;
    assert_error(
        app.sign_parts(id, &[1]).await,
        StatusCode::CONFLICT,
        "upload-not-pending",
    )
    .await;
}
