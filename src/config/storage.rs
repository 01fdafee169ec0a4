//! Where the object store is, with which credentials, and what it is trusted to enforce.

use clap::Args;

use super::Secret;

#[derive(Args, Clone, Debug)]
pub struct StorageSettings {
    /// S3 endpoint the service talks to.
    #[arg(
        id = "s3-endpoint",
        long = "s3-endpoint",
        env = "UC_S3_ENDPOINT",
        default_value = "http://127.0.0.1:8333"
    )]
    pub endpoint: String,

    /// S3 endpoint clients reach, used in presigned URLs (defaults to UC_S3_ENDPOINT).
    #[arg(
        id = "s3-public-endpoint",
        long = "s3-public-endpoint",
        env = "UC_S3_PUBLIC_ENDPOINT"
    )]
    pub public_endpoint: Option<String>,

    /// Bucket that receives uploads.
    #[arg(
        id = "s3-bucket",
        long = "s3-bucket",
        env = "UC_S3_BUCKET",
        default_value = "videos"
    )]
    pub bucket: String,

    /// Region used to sign requests.
    #[arg(
        id = "s3-region",
        long = "s3-region",
        env = "UC_S3_REGION",
        default_value = "us-east-1"
    )]
    pub region: String,

    /// Access key id. With neither key given, credentials come from the standard AWS chain
    /// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, web identity, the instance role).
    #[arg(
        id = "s3-access-key",
        long = "s3-access-key",
        env = "UC_S3_ACCESS_KEY",
        default_value = ""
    )]
    pub access_key: String,

    /// Secret access key (given together with UC_S3_ACCESS_KEY).
    #[arg(
        id = "s3-secret-key",
        long = "s3-secret-key",
        env = "UC_S3_SECRET_KEY",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub secret_key: Secret,

    /// Sign `If-None-Match: *` into single-PUT URLs so storage refuses a second PUT of a
    /// confirmed object: `auto` probes storage at startup, `on` trusts it does (SeaweedFS, AWS
    /// S3, MinIO), `off` leaves it out.
    #[arg(
        id = "s3-write-once",
        long = "s3-write-once",
        env = "UC_S3_WRITE_ONCE",
        default_value = "auto"
    )]
    pub write_once: Enforcement,

    /// Whether storage refuses bytes whose signed checksum header differs: `auto` probes at
    /// startup (SeaweedFS and AWS S3 do; MinIO is reported not to on presigned URLs), `on`,
    /// `off`. Uploads say whether their declared checksums are verified by storage.
    #[arg(
        id = "s3-checksums",
        long = "s3-checksums",
        env = "UC_S3_CHECKSUMS",
        default_value = "auto"
    )]
    pub checksums: Enforcement,

    /// Path-style addressing (`endpoint/bucket/key`), which MinIO and SeaweedFS need.
    #[arg(id = "s3-path-style", long = "s3-path-style", env = "UC_S3_PATH_STYLE", default_value_t = true, action = clap::ArgAction::Set)]
    pub path_style: bool,
}

impl StorageSettings {
    pub fn public_endpoint(&self) -> &str {
        self.public_endpoint.as_deref().unwrap_or(&self.endpoint)
    }
}

/// Whether storage enforces something: found out at startup, or as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Enforcement {
    Auto,
    On,
    Off,
}
