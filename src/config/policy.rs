//! What uploads are accepted and how they are planned.

use std::time::Duration;

use clap::Args;

/// What uploads the service accepts and how it plans them.
#[derive(Args, Clone, Debug)]
pub struct UploadPolicy {
    /// Largest accepted upload, in bytes (default 5 GiB).
    #[arg(id = "max-upload-size", long = "max-upload-size", env = "UC_MAX_UPLOAD_SIZE", default_value_t = 5 * 1024 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..=5 * 1024 * 1024 * 1024 * 1024))]
    pub max_upload_size: u64,

    /// Comma-separated content types accepted; `type/*` matches a whole family.
    #[arg(
        id = "allowed-content-types",
        long = "allowed-content-types",
        env = "UC_ALLOWED_CONTENT_TYPES",
        default_value = "video/*",
        value_delimiter = ','
    )]
    pub allowed_content_types: Vec<String>,

    /// Uploads up to this size use one presigned PUT; larger ones use multipart.
    #[arg(id = "multipart-threshold", long = "multipart-threshold", env = "UC_MULTIPART_THRESHOLD", default_value_t = 8 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(0..=5 * 1024 * 1024 * 1024))]
    pub multipart_threshold: u64,

    /// Target part size for multipart uploads (raised when a file would need over 10,000 parts).
    #[arg(id = "part-size", long = "part-size", env = "UC_PART_SIZE", default_value_t = 8 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(5 * 1024 * 1024..=5 * 1024 * 1024 * 1024))]
    pub part_size: u64,

    /// How many part URLs the create call returns at most; the rest come from `/parts`.
    #[arg(
        id = "presign-batch",
        long = "presign-batch",
        env = "UC_PRESIGN_BATCH",
        default_value_t = 100,
        value_parser = clap::value_parser!(u32).range(1..=10_000)
    )]
    pub presign_batch: u32,

    /// Lifetime of presigned URLs, in seconds.
    #[arg(
        id = "presign-ttl",
        long = "presign-ttl",
        env = "UC_PRESIGN_TTL_SECS",
        default_value_t = 900,
        value_parser = clap::value_parser!(u64).range(1..=7 * 24 * 3600)
    )]
    pub presign_ttl_secs: u64,

    /// How long an intent may stay pending before it expires, in seconds.
    #[arg(id = "upload-ttl", long = "upload-ttl", env = "UC_UPLOAD_TTL_SECS", default_value_t = 24 * 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub upload_ttl_secs: u64,

    /// Refuse uploads declared without checksums (`checksum_algorithm`): every byte then
    /// reaches storage verified, where storage enforces checksums. Uppy sends none.
    #[arg(id = "require-checksums", long = "require-checksums", env = "UC_REQUIRE_CHECKSUMS", default_value_t = false, action = clap::ArgAction::Set)]
    pub require_checksums: bool,

    /// Prefix of the object keys the server generates.
    #[arg(
        id = "key-prefix",
        long = "key-prefix",
        env = "UC_KEY_PREFIX",
        default_value = "uploads"
    )]
    pub key_prefix: String,

    #[command(flatten)]
    pub quotas: super::OwnerQuotas,
}

impl UploadPolicy {
    pub fn presign_ttl(&self) -> Duration {
        Duration::from_secs(self.presign_ttl_secs)
    }

    pub fn upload_ttl(&self) -> Duration {
        Duration::from_secs(self.upload_ttl_secs)
    }
}
