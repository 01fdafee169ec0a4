//! `Allow` on a 405: the methods the OpenAPI document lists for the path (and `HEAD` beside
//! `GET`, which the router answers too), so a client learns what it may send instead.

use std::sync::{Arc, OnceLock};

use poem::http::header::ALLOW;
use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};

/// One documented path: its segments (`None` where a parameter goes) and its methods.
struct DocumentedPath {
    segments: Vec<Option<String>>,
    allow: HeaderValue,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

fn documented_paths(spec: &str) -> Vec<DocumentedPath> {
    let spec: serde_json::Value = serde_json::from_str(spec).expect("the document is JSON");
    let Some(paths) = spec["paths"].as_object() else {
        return Vec::new();
    };
    paths
        .iter()
        .map(|(path, item)| {
            let mut methods: Vec<String> = METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(|method| method.to_ascii_uppercase())
                .collect();
            if methods.iter().any(|m| m == "GET") && !methods.iter().any(|m| m == "HEAD") {
                methods.push("HEAD".into());
            }
            methods.sort();
            DocumentedPath {
                segments: path
                    .split('/')
                    .map(|segment| (!segment.starts_with('{')).then(|| segment.to_owned()))
                    .collect(),
                allow: HeaderValue::from_str(&methods.join(", ")).expect("method names are ASCII"),
            }
        })
        .collect()
}

/// The `Allow` value for a request path, if the document has the path.
fn allowed(table: &[DocumentedPath], path: &str) -> Option<HeaderValue> {
    let segments: Vec<&str> = path.split('/').collect();
    table
        .iter()
        // A literal segment beats a parameter where both would match (`/api/uploads/events`).
        .filter(|documented| {
            documented.segments.len() == segments.len()
                && documented
                    .segments
                    .iter()
                    .zip(&segments)
                    .all(|(want, got)| match want {
                        Some(literal) => literal == got,
                        None => !got.is_empty(),
                    })
        })
        .max_by_key(|documented| documented.segments.iter().filter(|s| s.is_some()).count())
        .map(|documented| documented.allow.clone())
}

fn table() -> &'static [DocumentedPath] {
    static TABLE: OnceLock<Vec<DocumentedPath>> = OnceLock::new();
    TABLE.get_or_init(|| documented_paths(&super::openapi_json()))
}

/// Adds `Allow` to every 405 answered for a documented path.
pub async fn advertise<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let path = req.uri().path().to_owned();
    let mut response = ep.call(req).await?.into_response();
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = allowed(table(), &path)
    {
        response.headers_mut().insert(ALLOW, allow);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_path_names_its_methods() {
        let table = documented_paths(&crate::api::openapi_json());
        let allow = |path| allowed(&table, path).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(allow("/api/uploads").as_deref(), Some("GET, HEAD, POST"));
        assert_eq!(
            allow("/api/uploads/0190a1b2-0000-7000-8000-000000000000").as_deref(),
            Some("DELETE, GET, HEAD")
        );
        assert_eq!(allow("/api/uploads/events").as_deref(), Some("GET, HEAD"));
        assert_eq!(allow("/healthz").as_deref(), Some("GET, HEAD"));
        assert_eq!(allow("/api/uploads//parts"), None);
        assert_eq!(allow("/nowhere"), None);
    }
}
