//! Where the database is.

use clap::Args;

use super::Secret;

#[derive(Args, Clone, Debug)]
pub struct DatabaseSettings {
    /// PostgreSQL connection URL (required unless UC_DEV_MODE is on, which uses the local
    /// stack's `postgres://postgres:postgres@127.0.0.1:5432/upload_coordinator`).
    #[arg(
        id = "database-url",
        long = "database-url",
        env = "UC_DATABASE_URL",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub url: Secret,

    /// Maximum connections in the pool.
    #[arg(
        id = "database-pool-size",
        long = "database-pool-size",
        env = "UC_DATABASE_POOL_SIZE",
        default_value_t = 16,
        value_parser = clap::value_parser!(u32).range(1..=10_000)
    )]
    pub pool_size: u32,
}
