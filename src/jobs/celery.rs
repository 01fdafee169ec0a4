//! Celery protocol 2 task messages, as the platform's existing worker consumes them:
//! `tasks.process_video.run(video_id, input_path, correlation_id)`.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldArray, FieldTable, ShortString};
use serde_json::json;
use uuid::Uuid;

use super::EncodedJob;
use crate::domain::Upload;

/// Python's `repr` of a tuple of strings, which Celery shows in its logs and monitors.
fn python_repr(args: &[&str]) -> String {
    let quoted: Vec<String> = args
        .iter()
        .map(|arg| format!("'{}'", arg.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect();
    format!("({})", quoted.join(", "))
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.into())
}

pub fn encode(
    task: &str,
    origin: &str,
    task_id: Uuid,
    upload: &Upload,
    input_path: &str,
    checksums_verified: bool,
) -> EncodedJob {
    let id = task_id.to_string();
    let video_id = upload.id.to_string();
    let args = [video_id.as_str(), input_path, id.as_str()];
    let body = json!([
        args,
        {},
        {"callbacks": null, "errbacks": null, "chain": null, "chord": null}
    ]);
    let mut headers = FieldTable::default();
    for (name, value) in [
        ("lang", text("py")),
        ("task", text(task)),
        ("id", text(&id)),
        ("root_id", text(&id)),
        ("parent_id", AMQPValue::Void),
        ("group", AMQPValue::Void),
        ("retries", AMQPValue::LongLongInt(0)),
        ("eta", AMQPValue::Void),
        ("expires", AMQPValue::Void),
        (
            "timelimit",
            AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::Void, AMQPValue::Void])),
        ),
        ("argsrepr", text(&python_repr(&args))),
        ("kwargsrepr", text("{}")),
        ("origin", text(origin)),
        // Not part of Celery's protocol, and ignored by workers that do not look: the ETag of
        // the bytes that were confirmed, so a worker can read the object `If-Match` it.
        (
            "upload_etag",
            upload.etag.as_deref().map_or(AMQPValue::Void, text),
        ),
        // Likewise the checksums storage verified the bytes with, and the file's SHA-256.
        (
            "upload_checksum_algorithm",
            upload
                .checksums
                .algorithm
                .map_or(AMQPValue::Void, |a| text(a.as_str())),
        ),
        (
            "upload_part_checksums",
            AMQPValue::FieldArray(FieldArray::from(
                upload
                    .checksums
                    .parts
                    .iter()
                    .map(|c| c.as_deref().map_or(AMQPValue::Void, text))
                    .collect::<Vec<_>>(),
            )),
        ),
        (
            "upload_checksums_verified",
            AMQPValue::Boolean(checksums_verified && upload.checksums.algorithm.is_some()),
        ),
        (
            "upload_sha256",
            upload
                .checksums
                .sha256
                .as_deref()
                .map_or(AMQPValue::Void, text),
        ),
    ] {
        headers.insert(ShortString::from(name), value);
    }
    let properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into())
        .with_correlation_id(id.as_str().into())
        .with_delivery_mode(2)
        .with_priority(0)
        .with_headers(headers);
    EncodedJob {
        body: serde_json::to_vec(&body).expect("JSON values serialize"),
        properties,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argsrepr_reads_like_a_python_tuple() {
        assert_eq!(python_repr(&["a", "it's"]), "('a', 'it\\'s')");
    }
}
