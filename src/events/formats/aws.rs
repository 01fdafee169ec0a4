//! AWS S3 in its four shapes:
//! - S3 notification records (SQS, Lambda): `{"Records": [...]}`, `eventSource` `aws:s3`,
//!   `eventName` without the `s3:` prefix, keys form-URL-encoded (`+` for a space). One body may
//!   carry several records.
//! - The `s3:TestEvent` message S3 sends once when a notification is configured.
//! - An SNS envelope (`"Type": "Notification"`) whose `Message` is one of the above as a string.
//! - EventBridge: `{"source": "aws.s3", "detail-type": "Object Created", "detail": {...}}`.
//!   AWS does not document whether `detail.object.key` is encoded; AWS's own Lambda Powertools
//!   form-decode it, so we do too. Our keys never contain `+` or `%`, so either reading of the
//!   documentation gives the same key for objects this service created.

use serde_json::Value;

use super::{Object, RecordDialect, clean_etag, kind, optional_str, parse_value, s3_record, size};
use crate::events::{Format, Ignored, IgnoredReason, Item, ObjectCreated, ParseError, Parsed, key};

pub(super) const SOURCE: &str = "aws:s3";

const DIALECT: RecordDialect = RecordDialect {
    format: Format::Aws,
    key_is_encoded: true,
    size_may_be_string: false,
};

pub(super) fn record(index: usize, record: &Object) -> Result<Item, ParseError> {
    s3_record(index, record, &DIALECT)
}

pub(super) fn is_test_event(body: &Object) -> bool {
    body.get("Event").and_then(Value::as_str) == Some("s3:TestEvent")
}

pub(super) fn test_event(body: &Object) -> Ignored {
    let bucket = body.get("Bucket").and_then(Value::as_str).unwrap_or("?");
    Ignored::new(
        IgnoredReason::TestEvent,
        format!("s3:TestEvent for bucket {bucket}"),
    )
}

pub(super) fn is_sns_envelope(body: &Object) -> bool {
    body.get("Type").is_some_and(Value::is_string)
        && body.contains_key("TopicArn")
        && body.contains_key("Message")
}

/// Unwraps an SNS envelope and reads its `Message`. Subscription confirmations and other
/// non-notification messages carry no event.
pub(super) fn parse_sns(body: &Object) -> Result<Parsed, ParseError> {
    let kind_of_message = body.get("Type").and_then(Value::as_str).unwrap_or_default();
    if kind_of_message != "Notification" {
        let topic = body.get("TopicArn").and_then(Value::as_str).unwrap_or("?");
        return Ok(Parsed::single(Item::Ignored(Ignored::new(
            IgnoredReason::NotObjectCreated,
            format!("SNS {kind_of_message} from {topic}"),
        ))));
    }
    let Some(message) = body.get("Message").and_then(Value::as_str) else {
        return Err(ParseError::Invalid(
            "SNS Message is not a string".to_owned(),
        ));
    };
    let inner: Value = serde_json::from_str(message)
        .map_err(|e| ParseError::Invalid(format!("SNS Message is not JSON: {e}")))?;
    parse_value(&inner, true)
}

pub(super) fn is_eventbridge(body: &Object) -> bool {
    body.get("source").and_then(Value::as_str) == Some("aws.s3")
        && body.contains_key("detail-type")
        && body.contains_key("detail")
}

pub(super) fn parse_eventbridge(body: &Object) -> Result<Item, ParseError> {
    let invalid = |what: String| ParseError::Invalid(format!("EventBridge event: {what}"));
    let detail_type = body
        .get("detail-type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("detail-type is not a string".to_owned()))?;
    let detail = match body.get("detail") {
        Some(Value::Object(detail)) => detail,
        other => {
            let found = other.map_or("missing", kind);
            return Err(invalid(format!("detail is {found}, not an object")));
        }
    };
    let object = detail.get("object").and_then(Value::as_object);
    let raw_key = object.and_then(|o| o.get("key")).and_then(Value::as_str);

    if detail_type != "Object Created" {
        return Ok(Item::Ignored(Ignored::new(
            IgnoredReason::NotObjectCreated,
            format!("{detail_type} {}", raw_key.unwrap_or("(no key)")),
        )));
    }

    let bucket = detail
        .get("bucket")
        .and_then(|bucket| bucket.get("name"))
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| invalid("detail.bucket.name is missing".to_owned()))?;
    let object = object.ok_or_else(|| invalid("detail.object is missing".to_owned()))?;
    let raw_key = raw_key
        .filter(|key| !key.is_empty())
        .ok_or_else(|| invalid("detail.object.key is missing".to_owned()))?;
    let key = key::form_decode(raw_key)
        .map_err(|e| invalid(format!("detail.object.key {raw_key:?}: {e}")))?;
    let size = size(object.get("size"), false).map_err(invalid)?;
    let etag = optional_str(object, "etag").map_err(invalid)?;

    Ok(Item::Created(ObjectCreated {
        bucket: bucket.to_owned(),
        key,
        size,
        etag: etag.and_then(clean_etag),
        format: Format::Aws,
    }))
}

#[cfg(test)]
mod tests {
    use crate::events::{Format, Ignored, IgnoredReason, Item, ObjectCreated, ParseError, parse};

    fn items(body: &str) -> Vec<Item> {
        parse(body.as_bytes()).unwrap().items
    }

    fn only_ignored(body: &str) -> Ignored {
        match items(body).as_slice() {
            [Item::Ignored(ignored)] => ignored.clone(),
            other => panic!("expected one ignored item, got {other:?}"),
        }
    }

    fn only_created(body: &str) -> ObjectCreated {
        match items(body).as_slice() {
            [Item::Created(created)] => created.clone(),
            other => panic!("expected one created object, got {other:?}"),
        }
    }

    fn created(bucket: &str, key: &str, size: u64, etag: &str) -> Item {
        Item::Created(ObjectCreated {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: Some(size),
            etag: Some(etag.to_owned()),
            format: Format::Aws,
        })
    }

    #[test]
    fn a_put_is_created_with_plus_as_space_and_an_escaped_plus_as_plus() {
        let body = include_str!("../../../tests/fixtures/events/aws/put.json");
        assert_eq!(
            items(body),
            vec![created(
                "anb-videos",
                "uploads/u1/my clip+final.mp4",
                1000,
                "398533d48111e9f664b1f64cb10c4b63",
            )]
        );
    }

    #[test]
    fn two_completed_multipart_uploads_in_one_body_give_two_facts_in_order() {
        let body =
            include_str!("../../../tests/fixtures/events/aws/complete-multipart-two-records.json");
        assert_eq!(
            items(body),
            vec![
                created(
                    "anb-videos",
                    "uploads/u1/0193a3c2-7d5e-7c1a-9f00-3b1d2e4f5a6b.mp4",
                    104_857_600,
                    "6f5902ac237024bdd0c176cb93063dc4-13",
                ),
                created(
                    "anb-videos",
                    "uploads/u2/0193a3c4-1a2b-7c3d-8e4f-5a6b7c8d9e0f.mp4",
                    52_428_800,
                    "0cc175b9c0f1b6a831c399e269772661-7",
                ),
            ]
        );
    }

    #[test]
    fn the_test_event_is_ignored_as_a_test_event() {
        let body = include_str!("../../../tests/fixtures/events/aws/test-event.json");
        let ignored = only_ignored(body);
        assert_eq!(ignored.reason, IgnoredReason::TestEvent);
        assert!(ignored.detail.contains("anb-videos"), "{}", ignored.detail);
    }

    #[test]
    fn an_sns_wrapped_put_is_unwrapped_and_created() {
        let body = include_str!("../../../tests/fixtures/events/aws/sns-put.json");
        assert_eq!(
            items(body),
            vec![created(
                "anb-videos",
                "uploads/u3/tiro libre.mp4",
                2048,
                "0f343b0931126a20f133d67c2b018a3b",
            )]
        );
    }

    #[test]
    fn an_sns_wrapped_test_event_is_ignored_as_a_test_event() {
        let test_event = include_str!("../../../tests/fixtures/events/aws/test-event.json");
        let body = serde_json::json!({
            "Type": "Notification",
            "MessageId": "0b5e8f1c-2d4a-4c6e-9f7b-3a1d5e8c2b40",
            "TopicArn": "arn:aws:sns:eu-west-1:111122223333:anb-uploads",
            "Subject": "Amazon S3 Notification",
            "Message": test_event,
        })
        .to_string();
        let ignored = only_ignored(&body);
        assert_eq!(ignored.reason, IgnoredReason::TestEvent);
    }

    #[test]
    fn an_sns_subscription_confirmation_is_not_object_created() {
        let body = serde_json::json!({
            "Type": "SubscriptionConfirmation",
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "2336412f37",
            "TopicArn": "arn:aws:sns:eu-west-1:111122223333:anb-uploads",
            "Message": "You have chosen to subscribe to the topic.",
            "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
        })
        .to_string();
        let ignored = only_ignored(&body);
        assert_eq!(ignored.reason, IgnoredReason::NotObjectCreated);
        assert!(ignored.detail.contains("SubscriptionConfirmation"));
    }

    #[test]
    fn an_sns_message_that_is_not_json_is_invalid() {
        let body = serde_json::json!({
            "Type": "Notification",
            "TopicArn": "arn:aws:sns:eu-west-1:111122223333:anb-uploads",
            "Message": "hello",
        })
        .to_string();
        let error = parse(body.as_bytes()).unwrap_err();
        assert!(matches!(error, ParseError::Invalid(_)), "{error}");
    }

    #[test]
    fn an_sns_envelope_inside_an_sns_envelope_is_unknown_shape() {
        let sns = include_str!("../../../tests/fixtures/events/aws/sns-put.json");
        let body = serde_json::json!({
            "Type": "Notification",
            "TopicArn": "arn:aws:sns:eu-west-1:111122223333:outer",
            "Message": sns,
        })
        .to_string();
        let error = parse(body.as_bytes()).unwrap_err();
        assert!(matches!(error, ParseError::UnknownShape(_)), "{error}");
    }

    #[test]
    fn an_eventbridge_object_created_is_created() {
        let body =
            include_str!("../../../tests/fixtures/events/aws/eventbridge-object-created.json");
        assert_eq!(
            items(body),
            vec![created(
                "anb-videos",
                "uploads/u1/0193a3c2-7d5e-7c1a-9f00-3b1d2e4f5a6b.mp4",
                104_857_600,
                "6f5902ac237024bdd0c176cb93063dc4-13",
            )]
        );
    }

    #[test]
    fn eventbridge_keys_are_form_decoded_like_record_keys() {
        let body =
            include_str!("../../../tests/fixtures/events/aws/eventbridge-object-created.json")
                .replace("0193a3c2-7d5e", "final+match%2B1-0193a3c2-7d5e");
        let created = only_created(&body);
        assert_eq!(
            created.key,
            "uploads/u1/final match+1-0193a3c2-7d5e-7c1a-9f00-3b1d2e4f5a6b.mp4"
        );
    }

    #[test]
    fn an_eventbridge_object_deleted_is_not_object_created() {
        let body =
            include_str!("../../../tests/fixtures/events/aws/eventbridge-object-created.json")
                .replace("Object Created", "Object Deleted");
        let ignored = only_ignored(&body);
        assert_eq!(ignored.reason, IgnoredReason::NotObjectCreated);
        assert!(ignored.detail.starts_with("Object Deleted"));
    }

    #[test]
    fn a_removal_record_is_not_object_created() {
        let body = include_str!("../../../tests/fixtures/events/aws/put.json")
            .replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        let ignored = only_ignored(&body);
        assert_eq!(ignored.reason, IgnoredReason::NotObjectCreated);
    }

    #[test]
    fn a_record_missing_its_bucket_is_invalid() {
        let body = r#"{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {}, "object": {"key": "a.mp4", "size": 1}}}]}"#;
        let error = parse(body.as_bytes()).unwrap_err();
        assert!(matches!(error, ParseError::Invalid(_)), "{error}");
        assert!(error.to_string().contains("record 0"), "{error}");
    }

    #[test]
    fn one_bad_record_refuses_the_whole_body() {
        let body =
            include_str!("../../../tests/fixtures/events/aws/complete-multipart-two-records.json")
                .replacen("\"size\": 52428800", "\"size\": \"52428800\"", 1);
        let error = parse(body.as_bytes()).unwrap_err();
        assert!(matches!(error, ParseError::Invalid(_)), "{error}");
        assert!(error.to_string().contains("record 1"), "{error}");
    }
}
