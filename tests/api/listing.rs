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
