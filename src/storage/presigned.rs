//! The URLs clients upload and download with: a single PUT, a multipart part, a GET. Each is
//! described once ([`Presign`]); it is signed here ([`QuerySigner`]) once the startup check
//! found that signer's URLs equal to the SDK's, and by the SDK otherwise.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use chrono::{DateTime, SubsecRound, Utc};

use super::query_signer::{Presign, QuerySigner, Signed, Signer, same_request};
use super::{PartChecksum, PresignedUrl, Storage, StorageError, credentials};
use crate::domain::ChecksumAlgorithm;

/// Sets the header of a part's declared checksum on a PutObject or UploadPart request (the
/// SDK's builders share the methods, not a trait).
macro_rules! with_checksum {
    ($request:expr, $checksum:expr) => {
        match $checksum {
            None => $request,
            Some(PartChecksum { algorithm, digest }) => match algorithm {
                ChecksumAlgorithm::Sha256 => $request.checksum_sha256(digest),
                ChecksumAlgorithm::Crc32 => $request.checksum_crc32(digest),
                ChecksumAlgorithm::Crc32c => $request.checksum_crc32_c(digest),
                ChecksumAlgorithm::Md5 => $request.content_md5(digest),
            },
        }
    };
}

/// The header that carries a declared checksum.
fn checksum_header(algorithm: ChecksumAlgorithm) -> &'static str {
    match algorithm {
        ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
        ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
        ChecksumAlgorithm::Md5 => "content-md5",
    }
}

/// A key that needs no escaping, for reading the SDK's URL layout.
const CHECK_KEY: &str = "presign-check/object";

impl Storage {
    /// A PUT of exactly `length` bytes of `content_type` to `key`, with the bytes' checksum
    /// signed in when one is given.
    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        checksum: Option<PartChecksum<'_>>,
        ttl: Duration,
    ) -> Result<PresignedUrl, StorageError> {
        if let Some(signer) = &self.own_signer {
            let request = self.put_request(key, content_type, length, checksum);
            return self.sign_here(signer, &request, ttl).await;
        }
        let (config, expires_at) = self.sdk_presigning(ttl).await?;
        let request = self
            .sdk_put(key, content_type, length, checksum, config)
            .await?;
        Ok(presigned_url(&request, expires_at))
    }

    /// An UploadPart of exactly `length` bytes, and of the bytes `checksum` digests when
    /// given.
    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        length: u64,
        checksum: Option<PartChecksum<'_>>,
        ttl: Duration,
    ) -> Result<PresignedUrl, StorageError> {
        if let Some(signer) = &self.own_signer {
            let request = part_request(key, upload_id, number, length, checksum);
            return self.sign_here(signer, &request, ttl).await;
        }
        let (config, expires_at) = self.sdk_presigning(ttl).await?;
        let request = self
            .sdk_part(key, upload_id, number, length, checksum, config)
            .await?;
        Ok(presigned_url(&request, expires_at))
    }

    /// A GET of `key` whose response carries `content_disposition`.
    pub async fn presign_get(
        &self,
        key: &str,
        content_disposition: &str,
        ttl: Duration,
    ) -> Result<String, StorageError> {
        if let Some(signer) = &self.own_signer {
            let request = get_request(key, content_disposition);
            return Ok(self.sign_here(signer, &request, ttl).await?.url);
        }
        let (config, _) = self.sdk_presigning(ttl).await?;
        let request = self.sdk_get(key, content_disposition, config).await?;
        Ok(request.uri().to_owned())
    }

    /// Signs here from now on if, for a sample of each kind of URL, a URL signed here is the
    /// SDK's (logged either way). Endpoints, path style and credentials all shape a URL, so
    /// this runs with the settings the service runs with.
    pub async fn with_own_presigner(mut self) -> Self {
        // Boxed: the SDK's presigning futures are large, and startup runs on a test's stack.
        match Box::pin(self.own_signer_checked()).await {
            Ok(signer) => {
                tracing::info!("presigned URLs are signed here (found equal to the SDK's)");
                self.own_signer = Some(signer);
            }
            Err(why) => {
                tracing::warn!(%why, "presigned URLs are signed by the SDK (slower)");
                self.own_signer = None;
            }
        }
        self
    }

    async fn own_signer_checked(&self) -> Result<QuerySigner, String> {
        // Whole seconds: the SDK signs in seconds, and both must sign one instant.
        let at = Utc::now().trunc_subsecs(0);
        let config = || {
            PresigningConfig::builder()
                .start_time(SystemTime::from(at))
                .expires_in(Duration::from_secs(900))
                .build()
                .map_err(|err| err.to_string())
        };
        let layout = self
            .sdk_part(CHECK_KEY, "check", 1, 5, None, config()?)
            .await
            .map_err(|err| err.to_string())?;
        let signer = QuerySigner::from_sdk_url(layout.uri(), CHECK_KEY, &self.region)?;
        let key = "uploads/0190a3f0-0000-7000-8000-000000000000/a b+ü%.mp4";
        // Each kind of URL with no checksum and with each algorithm's header.
        let checksums = [
            None,
            Some((
                ChecksumAlgorithm::Sha256,
                "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            )),
            Some((ChecksumAlgorithm::Crc32, "AAAAAA==")),
            Some((ChecksumAlgorithm::Crc32c, "AAAAAA==")),
            Some((ChecksumAlgorithm::Md5, "1B2M2Y8AsgTpgAmY7PhCfg==")),
        ]
        .map(|c| c.map(|(algorithm, digest)| PartChecksum { algorithm, digest }));
        let mut samples = Vec::new();
        for checksum in checksums {
            samples.push((
                self.put_request(key, "video/mp4", 5, checksum),
                self.sdk_put(key, "video/mp4", 5, checksum, config()?).await,
            ));
            samples.push((
                part_request(key, "id/+=", 7, 5, checksum),
                self.sdk_part(key, "id/+=", 7, 5, checksum, config()?).await,
            ));
        }
        samples.push((
            get_request(key, "attachment; filename=\"a b.mp4\""),
            self.sdk_get(key, "attachment; filename=\"a b.mp4\"", config()?)
                .await,
        ));
        let credentials = self
            .credentials
            .current()
            .await
            .map_err(|err| err.to_string())?;
        let who = Signer {
            access_key: credentials.access_key_id(),
            secret_key: credentials.secret_access_key(),
            session_token: credentials.session_token(),
        };
        for (request, sdk) in samples {
            let sdk = as_signed(&sdk.map_err(|err| err.to_string())?);
            let ours = signer
                .sign(&request, &who, at, Duration::from_secs(900))
                .map_err(|err| err.to_string())?;
            if !same_request(&ours, &sdk) {
                return Err(format!(
                    "a {} URL signed here differs from the SDK's ({} against {})",
                    request.method, ours.url, sdk.url
                ));
            }
        }
        Ok(signer)
    }

    async fn sign_here(
        &self,
        signer: &QuerySigner,
        request: &Presign<'_>,
        ttl: Duration,
    ) -> Result<PresignedUrl, StorageError> {
        let credentials = self.credentials.current().await?;
        let who = Signer {
            access_key: credentials.access_key_id(),
            secret_key: credentials.secret_access_key(),
            session_token: credentials.session_token(),
        };
        // Whole seconds, as the URL states its time.
        let at = Utc::now().trunc_subsecs(0);
        // A URL dies with the credentials that signed it: it says so rather than outlive them.
        let lifetime = credentials::lifetime(&credentials, SystemTime::from(at), ttl);
        let signed = signer.sign(request, &who, at, lifetime)?;
        Ok(PresignedUrl {
            url: signed.url,
            headers: for_the_client(
                signed
                    .headers
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str())),
            ),
            expires_at: at + lifetime,
        })
    }

    /// How a URL the SDK signs now is timed, and when it expires: no later than the
    /// credentials it is signed with (the SDK asks our cache for them, see `Storage::new`;
    /// one renewed meanwhile only lives longer).
    async fn sdk_presigning(
        &self,
        ttl: Duration,
    ) -> Result<(PresigningConfig, DateTime<Utc>), StorageError> {
        let credentials = self.credentials.current().await?;
        // Whole seconds, as the URL states its time.
        let at = Utc::now().trunc_subsecs(0);
        let lifetime = credentials::lifetime(&credentials, SystemTime::from(at), ttl);
        let config = PresigningConfig::builder()
            .start_time(SystemTime::from(at))
            .expires_in(lifetime)
            .build()
            .map_err(|e| StorageError::Request(e.to_string()))?;
        Ok((config, at + lifetime))
    }

    fn put_request<'a>(
        &self,
        key: &'a str,
        content_type: &str,
        length: u64,
        checksum: Option<PartChecksum<'_>>,
    ) -> Presign<'a> {
        let mut headers = vec![
            ("content-length", length.to_string()),
            ("content-type", content_type.to_owned()),
        ];
        if self.write_once {
            headers.push(("if-none-match", "*".to_owned()));
        }
        headers.extend(checksum_of(checksum));
        Presign {
            method: "PUT",
            key,
            query: vec![("x-id", "PutObject".to_owned())],
            headers,
        }
    }

    async fn sdk_put(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        checksum: Option<PartChecksum<'_>>,
        config: PresigningConfig,
    ) -> Result<PresignedRequest, StorageError> {
        let mut request = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length as i64);
        if self.write_once {
            request = request.if_none_match("*");
        }
        Ok(with_checksum!(request, checksum).presigned(config).await?)
    }

    async fn sdk_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        length: u64,
        checksum: Option<PartChecksum<'_>>,
        config: PresigningConfig,
    ) -> Result<PresignedRequest, StorageError> {
        let request = self
            .presigner
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number as i32)
            .content_length(length as i64);
        Ok(with_checksum!(request, checksum).presigned(config).await?)
    }

    async fn sdk_get(
        &self,
        key: &str,
        content_disposition: &str,
        config: PresigningConfig,
    ) -> Result<PresignedRequest, StorageError> {
        Ok(self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(content_disposition)
            .presigned(config)
            .await?)
    }
}

fn part_request<'a>(
    key: &'a str,
    upload_id: &str,
    number: u32,
    length: u64,
    checksum: Option<PartChecksum<'_>>,
) -> Presign<'a> {
    let mut headers = vec![("content-length", length.to_string())];
    headers.extend(checksum_of(checksum));
    Presign {
        method: "PUT",
        key,
        query: vec![
            ("partNumber", number.to_string()),
            ("uploadId", upload_id.to_owned()),
            ("x-id", "UploadPart".to_owned()),
        ],
        headers,
    }
}

fn get_request<'a>(key: &'a str, content_disposition: &str) -> Presign<'a> {
    Presign {
        method: "GET",
        key,
        query: vec![
            (
                "response-content-disposition",
                content_disposition.to_owned(),
            ),
            ("x-id", "GetObject".to_owned()),
        ],
        headers: Vec::new(),
    }
}

fn checksum_of(checksum: Option<PartChecksum<'_>>) -> Option<(&'static str, String)> {
    checksum.map(|c| (checksum_header(c.algorithm), c.digest.to_owned()))
}

/// A URL the SDK presigned, with the Host header it signed.
fn as_signed(sdk: &PresignedRequest) -> Signed {
    Signed {
        url: sdk.uri().to_owned(),
        headers: sdk
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .chain([("host".to_owned(), host_of(sdk.uri()).to_owned())])
            .collect(),
    }
}

/// `host` of `scheme://host/...`.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

/// The signed headers a client sends itself: browsers set Host and Content-Length on their
/// own and refuse to be told.
fn for_the_client<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    headers
        .filter(|(name, _)| {
            !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length")
        })
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

pub(super) fn presigning(ttl: Duration) -> Result<PresigningConfig, StorageError> {
    PresigningConfig::expires_in(ttl).map_err(|e| StorageError::Request(e.to_string()))
}

/// A URL the SDK presigned, as clients get it.
pub(super) fn presigned_url(request: &PresignedRequest, expires_at: DateTime<Utc>) -> PresignedUrl {
    PresignedUrl {
        url: request.uri().to_owned(),
        headers: for_the_client(request.headers()),
        expires_at,
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::config::StorageSettings;
    use crate::storage::StorageCredentials;

    const ACCESS_KEY: &str = "AKIDEXAMPLE";
    const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn settings(endpoint: &str, path_style: bool) -> StorageSettings {
        StorageSettings {
            endpoint: endpoint.to_owned(),
            public_endpoint: None,
            bucket: "videos".to_owned(),
            region: "eu-west-1".to_owned(),
            access_key: ACCESS_KEY.to_owned(),
            secret_key: crate::config::Secret::new(SECRET_KEY),
            write_once: crate::config::Enforcement::Auto,
            checksums: crate::config::Enforcement::Auto,
            path_style,
        }
    }

    fn storage(endpoint: &str, path_style: bool, write_once: bool, token: Option<&str>) -> Storage {
        let settings = settings(endpoint, path_style);
        let credentials = StorageCredentials::fixed(aws_sdk_s3::config::Credentials::new(
            ACCESS_KEY,
            SECRET_KEY,
            token.map(str::to_owned),
            None,
            "test",
        ));
        Storage::new(&settings, credentials).with_enforcement(write_once, false, true)
    }

    /// Every kind of URL, signed here and by the SDK at one instant, for keys and values
    /// that need escaping: the same request.
    #[tokio::test]
    async fn urls_signed_here_are_the_sdks() {
        let at = Utc::now().trunc_subsecs(0);
        let ttl = Duration::from_secs(3600);
        let config = || {
            PresigningConfig::builder()
                .start_time(SystemTime::from(at))
                .expires_in(ttl)
                .build()
                .unwrap()
        };
        let keys = [
            "uploads/0190a3f0/clip.mp4",
            "uploads/0190a3f0/a b+c&d=e?f#g.mp4",
            "uploads/0190a3f0/ünï cødé 🎬.mov",
            "uploads/0190a3f0/%41~tilde_(1)!*'.webm",
            "deep/er/pre fix/0190a3f0/x",
        ];
        let checksums = [
            None,
            Some((
                ChecksumAlgorithm::Sha256,
                "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            )),
            Some((ChecksumAlgorithm::Crc32, "AAAAAA==")),
            Some((ChecksumAlgorithm::Crc32c, "yZRlqg==")),
            Some((ChecksumAlgorithm::Md5, "1B2M2Y8AsgTpgAmY7PhCfg==")),
        ];
        let mut compared = 0;
        for (endpoint, path_style) in [
            ("http://127.0.0.1:8333", true),
            ("https://storage.example.com", true),
            ("https://s3.eu-west-1.amazonaws.com", false),
            ("http://minio.local:9000/proxy/s3", true),
        ] {
            for (write_once, token) in [(false, None), (true, Some("token/with+chars="))] {
                let storage = storage(endpoint, path_style, write_once, token);
                let layout = storage
                    .sdk_part(CHECK_KEY, "check", 1, 5, None, config())
                    .await
                    .unwrap();
                let signer =
                    QuerySigner::from_sdk_url(layout.uri(), CHECK_KEY, &storage.region).unwrap();
                let who = Signer {
                    access_key: ACCESS_KEY,
                    secret_key: SECRET_KEY,
                    session_token: token,
                };
                for key in keys {
                    for checksum in checksums {
                        let checksum =
                            checksum.map(|(algorithm, digest)| PartChecksum { algorithm, digest });
                        let pairs = [
                            (
                                storage.put_request(key, "video/mp4", 1 << 20, checksum),
                                storage
                                    .sdk_put(key, "video/mp4", 1 << 20, checksum, config())
                                    .await
                                    .unwrap(),
                            ),
                            (
                                part_request(key, "2~aF/x+y=z", 13, 8 << 20, checksum),
                                storage
                                    .sdk_part(key, "2~aF/x+y=z", 13, 8 << 20, checksum, config())
                                    .await
                                    .unwrap(),
                            ),
                            (
                                get_request(key, "attachment; filename=\"ü b.mp4\""),
                                storage
                                    .sdk_get(key, "attachment; filename=\"ü b.mp4\"", config())
                                    .await
                                    .unwrap(),
                            ),
                        ];
                        for (request, sdk) in pairs {
                            let ours = signer.sign(&request, &who, at, ttl).unwrap();
                            let sdk = as_signed(&sdk);
                            let forged = Signer {
                                secret_key: "another secret",
                                ..who
                            };
                            let forged = signer.sign(&request, &forged, at, ttl).unwrap();
                            assert!(!same_request(&forged, &sdk), "the comparison can fail");
                            assert!(
                                same_request(&ours, &sdk),
                                "{endpoint} {key:?} {checksum:?}:\n ours {ours:?}\n  sdk {sdk:?}"
                            );
                            compared += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(compared, 4 * 2 * 5 * 5 * 3);
    }

    #[tokio::test]
    async fn a_url_lives_no_longer_than_the_credentials_that_signed_it() {
        let expiry = SystemTime::now() + Duration::from_secs(120);
        let credentials = StorageCredentials::fixed(aws_sdk_s3::config::Credentials::new(
            ACCESS_KEY,
            SECRET_KEY,
            Some("token".to_owned()),
            Some(expiry),
            "test",
        ));
        let by_sdk = Storage::new(&settings("http://127.0.0.1:8333", true), credentials);
        assert!(by_sdk.own_signer.is_none());
        let here = by_sdk.clone().with_own_presigner().await;
        assert!(here.own_signer.is_some());
        for storage in [by_sdk, here] {
            let url = storage
                .presign_part("k", "id", 1, 5, None, Duration::from_secs(900))
                .await
                .unwrap();
            let expires: u64 = url
                .url
                .split_once("X-Amz-Expires=")
                .and_then(|(_, rest)| rest.split('&').next())
                .and_then(|secs| secs.parse().ok())
                .unwrap();
            let signer = if storage.own_signer.is_some() {
                "here"
            } else {
                "SDK"
            };
            assert!(
                (110..=120).contains(&expires),
                "{signer}: X-Amz-Expires={expires}"
            );
            assert!(url.expires_at <= DateTime::<Utc>::from(expiry), "{signer}");
        }
    }

    #[tokio::test]
    async fn the_startup_check_picks_the_signer_made_here() {
        for token in [None, Some("token")] {
            let storage = storage("http://127.0.0.1:8333", true, true, token)
                .with_own_presigner()
                .await;
            assert!(storage.own_signer.is_some());
            let url = storage
                .presign_get("k", "inline", Duration::from_secs(60))
                .await
                .unwrap();
            assert_eq!(
                url.contains("X-Amz-Security-Token=token"),
                token.is_some(),
                "{url}"
            );
        }
    }
}
