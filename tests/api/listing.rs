use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_error, spawn_app};

fn ids_of(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn uploads_are_listed_newest_first_in_pages() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.declare(1000).await["id"].as_str().unwrap().to_owned());
    }
    ids.reverse();

    let first = app.get_json(&app.url("/api/uploads?limit=2")).await;
    assert_eq!(ids_of(&first), ids[..2]);
    let cursor = first["next_cursor"].as_str().expect("a next page");

    // Cursors are `<micros>.<hex id>`: safe in a query string as they are.
    let second = app
        .get_json(&app.url(&format!("/api/uploads?limit=2&cursor={cursor}")))
        .await;
    assert_eq!(ids_of(&second), ids[2..]);
    assert!(second["next_cursor"].is_null());
    assert!(
        second["items"][0].get("parts").is_none(),
        "listings carry no URLs"
    );
}

#[tokio::test]
async fn bad_listing_parameters_are_refused() {
    let app = spawn_app().await;
    for (query, status, code) in [
        ("limit=0", StatusCode::UNPROCESSABLE_ENTITY, "invalid-limit"),
        (
            "limit=101",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-limit",
        ),
        ("limit=ten", StatusCode::BAD_REQUEST, "invalid-request"),
        ("cursor=bogus", StatusCode::BAD_REQUEST, "invalid-cursor"),
    ] {
        let response = app
            .http
            .get(app.url(&format!("/api/uploads?{query}")))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_error(response, status, code).await;
    }
}

#[tokio::test]
async fn the_status_filter_lists_only_the_asked_statuses_with_storage_progress() {
    use crate::helpers::{MIB, payload};
    let app = spawn_app().await;
    // A multipart upload with one part stored, a single PUT not yet made, one aborted, and
    // one completed: what another device sees of each.
    let data = payload(9 * MIB, 70);
    let multipart = app.declare(data.len()).await;
    let part_size = multipart["part_size"].as_u64().unwrap() as usize;
    let first_part = &multipart["parts"][0];
    assert_eq!(
        app.put_part(first_part, data[..part_size].to_vec())
            .await
            .status(),
        StatusCode::OK
    );
    let untouched = app.declare(1000).await;
    let aborted = app.declare(1000).await;
    assert_eq!(
        app.abort(aborted["id"].as_str().unwrap()).await.status(),
        StatusCode::OK
    );
    let done = app.declare(1000).await;
    let done_id = done["id"].as_str().unwrap();
    app.put_part(&done["parts"][0], payload(1000, 71)).await;
    assert_eq!(app.complete(done_id, None).await.status(), StatusCode::OK);

    let pending = app
        .get_json(&app.url("/api/uploads?status=pending&progress=true"))
        .await;
    assert_eq!(
        ids_of(&pending),
        [
            untouched["id"].as_str().unwrap(),
            multipart["id"].as_str().unwrap()
        ]
    );
    let items = pending["items"].as_array().unwrap();
    assert_eq!(
        items[0]["progress"],
        serde_json::json!({"parts": 0, "bytes": 0})
    );
    assert_eq!(
        items[1]["progress"],
        serde_json::json!({"parts": 1, "bytes": part_size})
    );

    // Several statuses at once; without `progress`, storage is not asked.
    let ended = app
        .get_json(&app.url("/api/uploads?status=aborted&status=uploaded&status=processing"))
        .await;
    let mut ended_ids = ids_of(&ended);
    ended_ids.sort();
    let mut expected = vec![aborted["id"].as_str().unwrap(), done_id];
    expected.sort();
    assert_eq!(ended_ids, expected);
    assert!(ended["items"][0].get("progress").is_none());

    // Pages of a filtered listing follow the filter.
    let first = app
        .get_json(&app.url("/api/uploads?status=pending&limit=1"))
        .await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get_json(&app.url(&format!(
            "/api/uploads?status=pending&limit=1&cursor={cursor}"
        )))
        .await;
    assert_eq!(ids_of(&second), [multipart["id"].as_str().unwrap()]);
    assert!(second["next_cursor"].is_null());

    let response = app
        .http
        .get(app.url("/api/uploads?status=done"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid-request").await;
}
