//! The background sweeps: reconciler, reaper, janitor.

use clap::Args;

/// The reconciler (confirms pending uploads whose object exists although no event came) and
/// the reaper (expires abandoned intents).
#[derive(Args, Clone, Debug)]
pub struct SweeperSettings {
    /// Run the sweepers (every replica may; they share the work).
    #[arg(id = "sweepers", long = "sweepers", env = "UC_SWEEPERS", default_value_t = true, action = clap::ArgAction::Set)]
    pub enabled: bool,

    /// Seconds between sweeps. Storage left by an aborted, expired or rejected upload (a PUT
    /// through a URL still valid, say) is removed at the next sweep.
    #[arg(
        id = "sweep-interval",
        long = "sweep-interval",
        env = "UC_SWEEP_INTERVAL_SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub interval_secs: u64,

    /// Multipart uploads under UC_KEY_PREFIX that no intent knows (a crash between creating one
    /// and recording it) are aborted once this many seconds old.
    #[arg(id = "orphan-after", long = "orphan-after", env = "UC_ORPHAN_AFTER_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=30 * 86_400))]
    pub orphan_after_secs: u64,

    /// A pending upload is checked in storage once it is this many seconds old, and again
    /// every interval after that.
    #[arg(
        id = "reconcile-after",
        long = "reconcile-after",
        env = "UC_RECONCILE_AFTER_SECS",
        default_value_t = 60
    )]
    pub reconcile_after_secs: u64,

    /// At most this many storage checks per second.
    #[arg(
        id = "reconcile-rate",
        long = "reconcile-rate",
        env = "UC_RECONCILE_RATE",
        default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(1..=10_000)
    )]
    pub reconcile_rate: u32,

    /// Uploads handled per sweep.
    #[arg(
        id = "sweep-batch",
        long = "sweep-batch",
        env = "UC_SWEEP_BATCH",
        default_value_t = 100,
        value_parser = clap::value_parser!(i64).range(1..=10_000)
    )]
    pub batch: i64,
}
