//! Presigned POST policies (SigV4), which the SDK cannot make: a browser form upload of one
//! object whose key, size and content type are fixed by the signed policy. Uppy 6 uploads small
//! files this way; storage refuses another key (403) or size (400 EntityTooLarge/Small).

use super::sigv4::{ALGORITHM, credential, hex, hmac, signing_key};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

/// The URL to POST the form to and the fields that must precede the `file` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostPolicy {
    pub url: String,
    pub fields: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

/// Who signs, and where the bucket is.
pub struct PolicySigner<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    /// With temporary credentials (an instance role, say): signed into the policy too.
    pub session_token: Option<&'a str>,
    pub region: &'a str,
    /// The bucket's URL (path style: `<endpoint>/<bucket>`).
    pub bucket_url: String,
    pub bucket: &'a str,
}

impl PolicySigner<'_> {
    pub fn sign(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> PostPolicy {
        let date = now.format("%Y%m%d").to_string();
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let credential = credential(self.access_key, &date, self.region);
        let mut conditions = vec![
            serde_json::json!({"bucket": self.bucket}),
            serde_json::json!({"key": key}),
            serde_json::json!({"Content-Type": content_type}),
            serde_json::json!(["content-length-range", size, size]),
            serde_json::json!({"x-amz-algorithm": ALGORITHM}),
            serde_json::json!({"x-amz-credential": credential}),
            serde_json::json!({"x-amz-date": amz_date}),
        ];
        if let Some(token) = self.session_token {
            conditions.push(serde_json::json!({"x-amz-security-token": token}));
        }
        let policy = serde_json::json!({
            "expiration": expires_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "conditions": conditions,
        });
        let encoded = STANDARD.encode(policy.to_string());
        let signing_key = signing_key(self.secret_key, &date, self.region);
        let signature = hex(&hmac(&signing_key, encoded.as_bytes()));
        let mut fields: Vec<(String, String)> = [
            ("key", key.to_owned()),
            ("Content-Type", content_type.to_owned()),
            ("x-amz-algorithm", ALGORITHM.to_owned()),
            ("x-amz-credential", credential),
            ("x-amz-date", amz_date),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        if let Some(token) = self.session_token {
            fields.push(("x-amz-security-token".to_owned(), token.to_owned()));
        }
        fields.push(("policy".to_owned(), encoded));
        fields.push(("x-amz-signature".to_owned(), signature));
        PostPolicy {
            // With the trailing slash, a client that appends the key to the URL (as some Uppy
            // releases do to report the object's location) gets the object's real URL.
            url: format!("{}/", self.bucket_url.trim_end_matches('/')),
            fields,
            expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_pins_key_size_and_type() {
        let signer = PolicySigner {
            access_key: "AK",
            secret_key: "SK",
            session_token: None,
            region: "us-east-1",
            bucket_url: "http://s3/videos".into(),
            bucket: "videos",
        };
        let now = Utc::now();
        let policy = signer.sign("uploads/1/a.mp4", "video/mp4", 42, now, now);
        let field = |name: &str| {
            policy
                .fields
                .iter()
                .find(|(n, _)| n == name)
                .unwrap()
                .1
                .clone()
        };
        let decoded: serde_json::Value =
            serde_json::from_slice(&STANDARD.decode(field("policy")).unwrap()).unwrap();
        let conditions = decoded["conditions"].as_array().unwrap();
        assert!(conditions.contains(&serde_json::json!({"key": "uploads/1/a.mp4"})));
        assert!(conditions.contains(&serde_json::json!(["content-length-range", 42, 42])));
        assert!(conditions.contains(&serde_json::json!({"Content-Type": "video/mp4"})));
        assert_eq!(field("x-amz-signature").len(), 64);
        assert_eq!(
            format!("{}{}", policy.url, field("key")),
            "http://s3/videos/uploads/1/a.mp4"
        );
    }
}
