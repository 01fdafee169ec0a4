//! What one owner may have going at once, shared by every replica (counted in PostgreSQL).

use clap::Args;

/// Limits per owner on new uploads; over one, a create gets 429 and nothing is made.
#[derive(Args, Clone, Copy, Debug)]
pub struct OwnerQuotas {
    /// Pending uploads (declared, not yet completed or ended) one owner may have at once.
    #[arg(id = "max-pending-uploads", long = "max-pending-uploads", env = "UC_MAX_PENDING_UPLOADS", default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..=10_000_000))]
    pub max_pending_uploads: i64,

    /// Declared bytes of one owner's pending uploads together (default 1 TiB).
    #[arg(id = "max-pending-bytes", long = "max-pending-bytes", env = "UC_MAX_PENDING_BYTES", default_value_t = 1 << 40, value_parser = clap::value_parser!(i64).range(1..))]
    pub max_pending_bytes: i64,

    /// Uploads one owner may declare per minute: that many at once, then one every 60/N seconds.
    #[arg(id = "create-rate-per-minute", long = "create-rate-per-minute", env = "UC_CREATE_RATE_PER_MINUTE", default_value_t = 600, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub creates_per_minute: i64,
}
