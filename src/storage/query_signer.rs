//! Presigned URLs (SigV4 query authentication) signed here rather than by the SDK, whose
//! presigner runs a whole request through its pipeline (endpoint rules, interceptors, a
//! request built and taken apart) for each URL: about 0.1 ms of CPU a URL, paid 13 times by a
//! 100 MiB create and once by every part an Uppy client signs. Here a URL is two SHA-256
//! digests and five HMACs.
//!
//! Where objects live (host, path style or virtual host, any path prefix) is read off a URL
//! the SDK signed, and this signer is used only once a startup check finds its URLs equal to
//! the SDK's for the same requests at the same instant (`Storage::with_own_presigner`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::StorageError;
use super::sigv4::{ALGORITHM, credential, hex, hmac, signing_key, uri_encode};

/// The longest a SigV4 presigned URL may live.
const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// One request to presign. Header names are lower case.
#[derive(Clone, Debug)]
pub(super) struct Presign<'a> {
    pub method: &'static str,
    pub key: &'a str,
    /// The operation's own query parameters (`uploadId`, `partNumber`, ...).
    pub query: Vec<(&'static str, String)>,
    /// Headers signed in, which the client must send as given.
    pub headers: Vec<(&'static str, String)>,
}

/// Who signs: the credentials' parts.
#[derive(Clone, Copy)]
pub(super) struct Signer<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// A presigned request: its URL, and the headers signed (`host` among them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Signed {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// Where the bucket's objects are, as the SDK addresses them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct QuerySigner {
    /// `scheme://authority`.
    origin: String,
    /// The Host header: the URL's authority.
    host: String,
    /// The path before an object's key: `/<bucket>/` in path style, `/` with a virtual host.
    path_prefix: String,
    region: String,
}

impl QuerySigner {
    /// Reads where objects live off `sdk_url`, a URL the SDK presigned for `key` (which must
    /// need no escaping).
    pub fn from_sdk_url(sdk_url: &str, key: &str, region: &str) -> Result<Self, String> {
        let path_end = sdk_url.find('?').unwrap_or(sdk_url.len());
        let (scheme, rest) = sdk_url[..path_end]
            .split_once("://")
            .ok_or_else(|| format!("no scheme in {sdk_url:?}"))?;
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path_prefix = path
            .strip_suffix(key)
            .filter(|prefix| prefix.ends_with('/'))
            .ok_or_else(|| format!("the SDK's URL {sdk_url:?} does not end in the key {key:?}"))?;
        Ok(Self {
            origin: format!("{scheme}://{host}"),
            host: host.to_owned(),
            path_prefix: path_prefix.to_owned(),
            region: region.to_owned(),
        })
    }

    pub fn sign(
        &self,
        request: &Presign<'_>,
        signer: &Signer<'_>,
        at: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Signed, StorageError> {
        if ttl.is_zero() || ttl > MAX_TTL {
            return Err(StorageError::Request(format!(
                "a presigned URL lives 1 s to 7 days, not {} s",
                ttl.as_secs()
            )));
        }
        let date = at.format("%Y%m%d").to_string();
        let amz_date = at.format("%Y%m%dT%H%M%SZ").to_string();
        let path = format!("{}{}", self.path_prefix, uri_encode(request.key, true));

        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(name, value)| Ok(((*name).to_owned(), canonical_value(name, value)?)))
            .chain([Ok(("host".to_owned(), self.host.clone()))])
            .collect::<Result<_, StorageError>>()?;
        headers.sort();
        let signed_headers = headers
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(";");

        let mut query: Vec<(String, String)> = request
            .query
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .chain(
                [
                    ("X-Amz-Algorithm", ALGORITHM.to_owned()),
                    (
                        "X-Amz-Credential",
                        credential(signer.access_key, &date, &self.region),
                    ),
                    ("X-Amz-Date", amz_date.clone()),
                    ("X-Amz-Expires", ttl.as_secs().to_string()),
                    ("X-Amz-SignedHeaders", signed_headers.clone()),
                ]
                .map(|(name, value)| (name.to_owned(), value)),
            )
            .chain(
                signer
                    .session_token
                    .map(|token| ("X-Amz-Security-Token".to_owned(), token.to_owned())),
            )
            .map(|(name, value)| (uri_encode(&name, false), uri_encode(&value, false)))
            .collect();
        query.sort();
        let query = query
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("&");

        let canonical_headers: String = headers
            .iter()
            .map(|(name, value)| format!("{name}:{value}\n"))
            .collect();
        let canonical_request = format!(
            "{}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\nUNSIGNED-PAYLOAD",
            request.method
        );
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let string_to_sign = format!(
            "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical_request.as_bytes()))
        );
        let key = signing_key(signer.secret_key, &date, &self.region);
        let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
        Ok(Signed {
            url: format!("{}{path}?{query}&X-Amz-Signature={signature}", self.origin),
            headers,
        })
    }
}

/// A header value as SigV4 signs it (as the SDK does): trimmed, runs of spaces made one. A
/// control character has no place in a header the client is handed to send.
fn canonical_value(name: &str, value: &str) -> Result<String, StorageError> {
    if value.chars().any(char::is_control) {
        return Err(StorageError::Request(format!(
            "the {name} header to sign holds a control character"
        )));
    }
    Ok(value
        .trim_matches(' ')
        .split(' ')
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" "))
}

/// Whether two presigned requests are the same: one URL path, the same query parameters
/// (order aside) and the same headers (order and case of names aside).
pub(super) fn same_request(a: &Signed, b: &Signed) -> bool {
    fn parts(signed: &Signed) -> (&str, Vec<&str>, Vec<(String, &str)>) {
        let (path, query) = signed.url.split_once('?').unwrap_or((&signed.url, ""));
        let mut query: Vec<&str> = query.split('&').collect();
        query.sort_unstable();
        let mut headers: Vec<(String, &str)> = signed
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.as_str()))
            .collect();
        headers.sort();
        (path, query, headers)
    }
    parts(a) == parts(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> QuerySigner {
        QuerySigner::from_sdk_url(
            "http://127.0.0.1:8333/videos/check/object?x-id=UploadPart&X-Amz-Signature=0",
            "check/object",
            "us-east-1",
        )
        .unwrap()
    }

    #[test]
    fn where_objects_live_is_read_off_the_sdk_url() {
        let path_style = signer();
        assert_eq!(path_style.origin, "http://127.0.0.1:8333");
        assert_eq!(path_style.host, "127.0.0.1:8333");
        assert_eq!(path_style.path_prefix, "/videos/");
        let virtual_host = QuerySigner::from_sdk_url(
            "https://videos.s3.eu-west-1.amazonaws.com/check/object?x-id=GetObject",
            "check/object",
            "eu-west-1",
        )
        .unwrap();
        assert_eq!(virtual_host.host, "videos.s3.eu-west-1.amazonaws.com");
        assert_eq!(virtual_host.path_prefix, "/");
        assert!(
            QuerySigner::from_sdk_url("http://s3/videos/other?x", "check/object", "r").is_err()
        );
    }

    #[test]
    fn a_lifetime_past_seven_days_is_refused() {
        let request = Presign {
            method: "GET",
            key: "k",
            query: vec![],
            headers: vec![],
        };
        let who = Signer {
            access_key: "AK",
            secret_key: "SK",
            session_token: None,
        };
        let at = Utc::now();
        assert!(signer().sign(&request, &who, at, MAX_TTL).is_ok());
        assert!(
            signer()
                .sign(&request, &who, at, MAX_TTL + Duration::from_secs(1))
                .is_err()
        );
        assert!(signer().sign(&request, &who, at, Duration::ZERO).is_err());
    }

    #[test]
    fn header_values_are_signed_as_the_sdk_signs_them_and_control_characters_refused() {
        assert_eq!(
            canonical_value("content-type", "  a   b c ").unwrap(),
            "a b c"
        );
        let request = |value: &str| Presign {
            method: "PUT",
            key: "k",
            query: vec![],
            headers: vec![("content-type", value.to_owned())],
        };
        let who = Signer {
            access_key: "AK",
            secret_key: "SK",
            session_token: None,
        };
        let at = Utc::now();
        let ttl = Duration::from_secs(60);
        for bad in ["a\r\nx-amz-acl: public-read", "a\tb", "a\u{0}"] {
            assert!(
                signer().sign(&request(bad), &who, at, ttl).is_err(),
                "{bad:?}"
            );
        }
    }
}
