//! SQL for owner quotas: the one `owner_usage` row that says what an owner has pending and how
//! many creates it may make now (migration 0010). Admission itself is
//! [`super::uploads::insert_within_quotas`].

use deadpool_postgres::GenericClient;

use super::{DbError, cached};

/// What one owner has going.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usage {
    pub pending_uploads: i64,
    pub pending_bytes: i64,
    /// Creates the owner may make right now (a fraction while the allowance refills).
    pub create_allowance: f64,
}

impl Usage {
    /// An owner with nothing pending and a full allowance.
    pub fn fresh(creates_per_minute: i64) -> Self {
        Self {
            pending_uploads: 0,
            pending_bytes: 0,
            create_allowance: creates_per_minute as f64,
        }
    }
}

pub async fn usage(
    db: &impl GenericClient,
    owner: &str,
    creates_per_minute: i64,
) -> Result<Usage, DbError> {
    let statement = cached(
        db,
        "SELECT pending_uploads, pending_bytes, \
             owner_create_allowance(create_tokens, tokens_at, $2::float8) \
         FROM owner_usage WHERE owner = $1",
    )
    .await?;
    let rate = creates_per_minute as f64;
    Ok(match db.query_opt(&statement, &[&owner, &rate]).await? {
        Some(row) => Usage {
            pending_uploads: row.get(0),
            pending_bytes: row.get(1),
            create_allowance: row.get(2),
        },
        None => Usage::fresh(creates_per_minute),
    })
}
