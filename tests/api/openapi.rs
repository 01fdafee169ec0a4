//! The committed OpenAPI document must be the one the code generates.
//! `UPDATE_OPENAPI=1 cargo test openapi` rewrites it.

#[test]
fn the_committed_openapi_document_is_up_to_date() {
    let generated = upload_coordinator::api::openapi_json() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: run `make openapi` (UPDATE_OPENAPI=1 cargo test openapi)"
    );
}
