//! What the derived OpenAPI document cannot say by itself, added to it: the bounds, patterns
//! and combinations the handlers check, that optional request fields may be `null`, and
//! links from a created upload to what can be done with it.
//!
//! Rules that relate fields go in `x-cross-field-rules`, a JSON Schema (2020-12) the body must
//! also satisfy, and in the schema's description: as `anyOf` beside the properties they would
//! turn the request types of generated SDKs into unions.
//!
//! The handlers check these rules themselves, with their own stable error codes; poem's
//! validators would answer with its own. Each value here comes from the constant or pattern
//! the check uses, so the document follows the code; `tests/conformance.rs` runs
//! schemathesis against the server to show the two agree.

use serde_json::{Map, Value, json};

mod document;

use document::{
    constrain, merge, nullable_optional_bodies, nullable_optional_fields, parameter, schema,
};

use crate::auth::ORIGIN_PATTERN;
use crate::config::UploadPolicy;
use crate::domain::text::{FILENAME, SUBJECT, TITLE, TextRule};
use crate::domain::{ChecksumAlgorithm, ContentType, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE};
use crate::uploads::{IDEMPOTENCY_KEY_MAX_BYTES, MAX_LIMIT, MAX_PARTS_PER_REQUEST};

/// The configured part of the rules: the document a server serves states its own settings.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_upload_size: u64,
    pub allowed_content_types: Vec<String>,
    pub require_checksums: bool,
}

impl Limits {
    pub fn of(policy: &UploadPolicy) -> Self {
        Self {
            max_upload_size: policy.max_upload_size,
            allowed_content_types: policy.allowed_content_types.clone(),
            require_checksums: policy.require_checksums,
        }
    }

    /// The defaults, as the committed document states them.
    pub fn defaults() -> Self {
        Self {
            max_upload_size: 5 * 1024 * 1024 * 1024,
            allowed_content_types: vec!["video/*".to_owned()],
            require_checksums: false,
        }
    }
}

/// Cursors as `listUploads` issues them: microseconds since the epoch, a dot, the id (17
/// digits reach the year 5138, well within what PostgreSQL stores).
pub const CURSOR_PATTERN: &str = r"^[0-9]{1,17}\.[0-9a-f]{32}$";
/// An event id, as the status stream sends them.
pub const EVENT_ID_PATTERN: &str = r"^[0-9]{1,18}$";
/// An `Idempotency-Key`: visible ASCII.
const IDEMPOTENCY_KEY_PATTERN: &str = r"^[!-~]+$";

/// `spec` (poem's document) with every rule added.
pub fn complete(spec: &str, limits: &Limits) -> String {
    let mut doc: Value = serde_json::from_str(spec).expect("poem's document is JSON");
    nullable_optional_fields(&mut doc);
    declaration_rules(&mut doc, limits);
    part_rules(&mut doc);
    session_rules(&mut doc);
    parameter_rules(&mut doc);
    nullable_optional_bodies(&mut doc);
    event_stream(&mut doc);
    links(&mut doc);
    serde_json::to_string_pretty(&doc).expect("a document serializes")
}

fn text(rule: TextRule) -> Value {
    json!({ "maxLength": rule.max_chars, "pattern": rule.pattern() })
}

fn part_number() -> Value {
    json!({ "minimum": 1, "maximum": MAX_PARTS })
}

/// The digest shapes of every algorithm, for where the upload's own algorithm is not in the
/// request (a digest of another algorithm's shape is then a conflict, 409).
fn any_digest_pattern() -> String {
    let shapes: Vec<String> = ChecksumAlgorithm::ALL
        .iter()
        .map(|algorithm| {
            let pattern = algorithm.digest_pattern();
            pattern[1..pattern.len() - 1].to_owned()
        })
        .collect();
    format!("^({})$", shapes.join("|"))
}

/// The status stream's events, as OpenAPI 3.2 describes Server-Sent Events: each event's
/// `data` is an `UploadEvent` in JSON.
fn event_stream(doc: &mut Value) {
    let media = &mut doc["paths"]["/api/uploads/events"]["get"]["responses"]["200"]["content"]["text/event-stream"];
    assert!(
        media.is_object(),
        "the status stream's response is not text/event-stream"
    );
    let event = media["schema"].take();
    media["schema"] = json!({
        "type": "object",
        "required": ["data"],
        "properties": {
            "id": { "type": "string", "pattern": EVENT_ID_PATTERN },
            "event": { "type": "string" },
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": event,
            },
        },
    });
}

fn declaration_rules(doc: &mut Value, limits: &Limits) {
    const NAME: &str = "CreateUploadRequest";
    constrain(doc, NAME, "filename", text(FILENAME));
    constrain(doc, NAME, "title", text(TITLE));
    constrain(
        doc,
        NAME,
        "size",
        json!({ "minimum": 1, "maximum": limits.max_upload_size }),
    );
    constrain(
        doc,
        NAME,
        "content_type",
        json!({ "pattern": ContentType::pattern(&limits.allowed_content_types) }),
    );
    constrain(
        doc,
        NAME,
        "part_size",
        json!({ "minimum": MIN_PART_SIZE, "maximum": MAX_PART_SIZE }),
    );
    constrain(
        doc,
        NAME,
        "part_checksums",
        json!({ "maxItems": MAX_PARTS, "items": { "type": "string", "pattern": any_digest_pattern() } }),
    );
    constrain(
        doc,
        NAME,
        "sha256",
        json!({ "pattern": ChecksumAlgorithm::Sha256.digest_pattern() }),
    );
    // Each algorithm's digests have their own shape; part checksums need an algorithm. Stated
    // as conditions on the fields' values only, so a body whose field has the wrong type is
    // left to the field's own rule.
    let mut rules: Vec<Value> = ChecksumAlgorithm::ALL
        .iter()
        .map(|algorithm| {
            json!({
                "if": {
                    "required": ["checksum_algorithm"],
                    "properties": { "checksum_algorithm": { "const": algorithm.as_str() } },
                },
                "then": {
                    "properties": {
                        "part_checksums": { "items": { "pattern": algorithm.digest_pattern() } },
                    },
                },
            })
        })
        .collect();
    rules.push(json!({
        "if": {
            "required": ["part_checksums"],
            "properties": { "part_checksums": { "type": "array", "minItems": 1 } },
        },
        "then": {
            "required": ["checksum_algorithm"],
            "properties": { "checksum_algorithm": { "not": { "const": null } } },
        },
    }));
    let mut description = "Each part checksum is a digest of `checksum_algorithm` (canonical \
         base64 of its length); `part_checksums` need a `checksum_algorithm`, and number at most \
         the parts `size` and `part_size` make."
        .to_owned();
    if limits.require_checksums {
        let required = schema(doc, NAME)["required"].as_array_mut().unwrap();
        required.push(json!("checksum_algorithm"));
        description.push_str(" This service requires checksums.");
    }
    cross_field_rules(doc, NAME, json!({ "allOf": rules }), &description);
}

/// Rules relating fields of schema `name`: stated in words, and as `x-cross-field-rules` (a
/// JSON Schema, 2020-12, that the body must also satisfy).
fn cross_field_rules(doc: &mut Value, name: &str, rules: Value, description: &str) {
    let schema = schema(doc, name);
    let stated = match schema["description"].as_str() {
        Some(known) => format!("{known}\n\n{description}"),
        None => description.to_owned(),
    };
    schema["description"] = Value::String(stated);
    schema["x-cross-field-rules"] = rules;
}

fn part_rules(doc: &mut Value) {
    let batch = json!({ "minItems": 1, "maxItems": MAX_PARTS_PER_REQUEST });
    constrain(doc, "SignPartsRequest", "part_numbers", batch.clone());
    merge(
        &mut schema(doc, "SignPartsRequest")["properties"]["part_numbers"]["items"],
        part_number(),
    );
    constrain(doc, "SignPartsRequest", "parts", batch);
    let given = |list: &str| json!({ "required": [list], "properties": { list: { "not": { "const": null } } } });
    cross_field_rules(
        doc,
        "SignPartsRequest",
        json!({
            "anyOf": [given("part_numbers"), given("parts")],
            "if": given("part_numbers"),
            "then": { "properties": { "parts": { "const": null } } },
        }),
        "Exactly one of `part_numbers` and `parts`.",
    );
    constrain(doc, "PartWithChecksum", "part_number", part_number());
    constrain(
        doc,
        "PartWithChecksum",
        "checksum",
        json!({ "pattern": any_digest_pattern() }),
    );
    constrain(doc, "CompletedPart", "part_number", part_number());
    constrain(
        doc,
        "CompleteUploadRequest",
        "parts",
        json!({ "maxItems": MAX_PARTS }),
    );
}

fn session_rules(doc: &mut Value) {
    constrain(
        doc,
        "NewSession",
        "origin",
        json!({ "pattern": ORIGIN_PATTERN }),
    );
    constrain(doc, "DevTokenRequest", "sub", text(SUBJECT));
}

fn parameter_rules(doc: &mut Value) {
    merge(
        parameter(doc, "/api/uploads", "get", "limit"),
        json!({ "minimum": 1, "maximum": MAX_LIMIT }),
    );
    merge(
        parameter(doc, "/api/uploads", "get", "cursor"),
        json!({ "pattern": CURSOR_PATTERN }),
    );
    merge(
        parameter(doc, "/api/uploads/events", "get", "Last-Event-ID"),
        json!({ "pattern": EVENT_ID_PATTERN }),
    );
    merge(
        parameter(doc, "/api/uploads", "post", "Idempotency-Key"),
        json!({
            "minLength": 1,
            "maxLength": IDEMPOTENCY_KEY_MAX_BYTES,
            "pattern": IDEMPOTENCY_KEY_PATTERN,
        }),
    );
}

/// What a client can do next with what an operation returned, so generated clients and
/// stateful testers can follow it.
fn links(doc: &mut Value) {
    let upload_id = json!({ "id": "$response.body#/id" });
    let mut upload_links = Map::new();
    for (name, operation) in [
        ("GetUpload", "getUpload"),
        ("SignParts", "signParts"),
        ("ListParts", "listParts"),
        ("CompleteUpload", "completeUpload"),
        ("AbortUpload", "abortUpload"),
        ("DownloadUpload", "downloadUpload"),
    ] {
        upload_links.insert(
            name.to_owned(),
            json!({ "operationId": operation, "parameters": upload_id }),
        );
    }
    doc["paths"]["/api/uploads"]["post"]["responses"]["201"]["links"] = Value::Object(upload_links);
    doc["paths"]["/api/uppy-sessions"]["post"]["responses"]["201"]["links"] = json!({
        "RevokeUppySession": { "operationId": "revokeUppySession", "parameters": upload_id },
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        let doc: Value =
            serde_json::from_str(&complete(&crate::api::poem_spec(), &Limits::defaults())).unwrap();
        let mut patterns = Vec::new();
        fn walk(value: &Value, found: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(p)) = map.get("pattern") {
                        found.push(p.clone());
                    }
                    map.values().for_each(|v| walk(v, found));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
                _ => {}
            }
        }
        walk(&doc, &mut patterns);
        assert!(patterns.len() >= 10, "{patterns:?}");
        for pattern in patterns {
            regex_lite::Regex::new(&pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        }
    }

    #[test]
    fn cursors_and_event_ids_match_their_patterns() {
        let cursor = regex_lite::Regex::new(CURSOR_PATTERN).unwrap();
        assert!(cursor.is_match(&format!(
            "1764633600000000.{}",
            uuid::Uuid::new_v4().simple()
        )));
        assert!(!cursor.is_match(""));
        let event_id = regex_lite::Regex::new(EVENT_ID_PATTERN).unwrap();
        assert!(event_id.is_match("0") && !event_id.is_match("-1") && !event_id.is_match(" 1"));
    }
}
