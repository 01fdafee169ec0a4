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

/// An owner's pending uploads and bytes as their usage row said, and as their uploads say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recounted {
    pub owner: String,
    pub stored: (i64, i64),
    pub counted: (i64, i64),
}

/// Owners a recount looks at: every one with a usage row or a pending upload.
pub async fn owners(db: &impl GenericClient) -> Result<Vec<String>, DbError> {
    let rows = db
        .query(
            "SELECT owner FROM owner_usage \
             UNION SELECT owner FROM uploads WHERE status = 'pending' ORDER BY 1",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Sets the owner's pending counts to what their uploads say: for a row that drifted (rows
/// written with the triggers off, a restore of one table without the other). The usage row
/// is locked first, and each statement after reads anew, so a status change committed before
/// the lock is counted and one still running waits to add itself to the recount. `None`: the
/// owner has neither a counter nor a pending upload.
pub async fn recount(
    client: &mut deadpool_postgres::Object,
    owner: &str,
) -> Result<Option<Recounted>, DbError> {
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO owner_usage (owner) \
         SELECT $1 WHERE EXISTS (SELECT 1 FROM uploads WHERE owner = $1 AND status = 'pending') \
         ON CONFLICT (owner) DO NOTHING",
        &[&owner],
    )
    .await?;
    let Some(stored) = tx
        .query_opt(
            "SELECT pending_uploads, pending_bytes FROM owner_usage WHERE owner = $1 FOR UPDATE",
            &[&owner],
        )
        .await?
    else {
        return Ok(None);
    };
    let counted = tx
        .query_one(
            "SELECT count(*), coalesce(sum(size), 0)::bigint FROM uploads \
             WHERE owner = $1 AND status = 'pending'",
            &[&owner],
        )
        .await?;
    let recounted = Recounted {
        owner: owner.to_owned(),
        stored: (stored.get(0), stored.get(1)),
        counted: (counted.get(0), counted.get(1)),
    };
    if recounted.stored != recounted.counted {
        tx.execute(
            "UPDATE owner_usage SET pending_uploads = $2, pending_bytes = $3 WHERE owner = $1",
            &[&owner, &recounted.counted.0, &recounted.counted.1],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Some(recounted))
}
