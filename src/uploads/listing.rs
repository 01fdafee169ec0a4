//! Newest-first listing of a user's uploads with opaque keyset cursors.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use uuid::Uuid;

use super::{UploadError, Uploads};
use crate::auth::Owner;
use crate::db::{self, uploads::ListCursor};
use crate::domain::{Upload, UploadStatus};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// Storage calls in flight at once while gathering a page's progress.
const PROGRESS_CONCURRENCY: usize = 8;

#[derive(Clone, Debug, Default)]
pub struct PageRequest {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Only uploads in these statuses (all when empty).
    pub statuses: Vec<UploadStatus>,
    /// Ask storage what it holds of each pending upload listed.
    pub progress: bool,
}

#[derive(Clone, Debug)]
pub struct Page {
    pub items: Vec<Upload>,
    pub next_cursor: Option<String>,
    /// What storage holds of the pending uploads listed, when asked (an upload storage could
    /// not be asked about is left out).
    pub progress: HashMap<Uuid, StorageProgress>,
}

/// What storage holds of a pending upload: enough for another device to resume it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorageProgress {
    pub parts: u32,
    pub bytes: u64,
}

/// `<microseconds since the epoch>.<id>`: enough to resume a (created_at, id) ordering.
fn encode(upload: &Upload) -> String {
    format!(
        "{}.{}",
        upload.created_at.timestamp_micros(),
        upload.id.simple()
    )
}

/// Exactly what [`encode`] writes (the document's pattern for `cursor` says so too): digits,
/// not whatever else `i64` and `Uuid` parsing would take.
fn decode(cursor: &str) -> Result<ListCursor, UploadError> {
    let (micros, id) = cursor.split_once('.').ok_or(UploadError::InvalidCursor)?;
    let plain = (1..=17).contains(&micros.len())
        && micros.bytes().all(|b| b.is_ascii_digit())
        && id.len() == 32
        && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !plain {
        return Err(UploadError::InvalidCursor);
    }
    let micros: i64 = micros.parse().map_err(|_| UploadError::InvalidCursor)?;
    Ok(ListCursor {
        created_at: DateTime::<Utc>::from_timestamp_micros(micros)
            .ok_or(UploadError::InvalidCursor)?,
        id: Uuid::try_parse(id).map_err(|_| UploadError::InvalidCursor)?,
    })
}

impl Uploads {
    pub async fn list(&self, owner: &Owner, request: PageRequest) -> Result<Page, UploadError> {
        let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(UploadError::InvalidLimit { max: MAX_LIMIT });
        }
        let after = request.cursor.as_deref().map(decode).transpose()?;
        let client = db::client(&self.db).await?;
        // One extra row tells whether another page follows.
        let mut items =
            db::uploads::list_owned(&client, owner.as_str(), &request.statuses, after, limit + 1)
                .await?;
        drop(client);
        let next_cursor = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(encode)
        } else {
            None
        };
        let progress = if request.progress {
            self.progress_of(&items).await
        } else {
            HashMap::new()
        };
        Ok(Page {
            items,
            next_cursor,
            progress,
        })
    }

    /// Asks storage about each pending upload of `items`, a few at a time.
    async fn progress_of(&self, items: &[Upload]) -> HashMap<Uuid, StorageProgress> {
        let pending: Vec<&Upload> = items
            .iter()
            .filter(|upload| upload.status == UploadStatus::Pending)
            .collect();
        let mut progress = HashMap::with_capacity(pending.len());
        for batch in pending.chunks(PROGRESS_CONCURRENCY) {
            let found = join_all(batch.iter().map(|upload| self.progress_one(upload))).await;
            progress.extend(found.into_iter().flatten());
        }
        progress
    }

    async fn progress_one(&self, upload: &Upload) -> Option<(Uuid, StorageProgress)> {
        match self.parts_held(upload).await {
            Ok(parts) => Some((
                upload.id,
                StorageProgress {
                    parts: parts.len() as u32,
                    bytes: parts.iter().map(|part| part.size).sum(),
                },
            )),
            Err(err) => {
                tracing::warn!(upload_id = %upload.id, error = %err, "progress not read from storage");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_that_we_did_not_issue_are_refused() {
        for bad in [
            "",
            "abc",
            "12.",
            ".0190",
            "12.not-a-uuid",
            "99999999999999999999.0",
            "+12.0123456789abcdef0123456789abcdef",
            "12.01234567-89ab-cdef-0123-456789abcdef",
            "12.0123456789ABCDEF0123456789ABCDEF",
            "-12.0123456789abcdef0123456789abcdef",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        for good in [
            "12.0123456789abcdef0123456789abcdef",
            "99999999999999999.0123456789abcdef0123456789abcdef",
        ] {
            assert!(decode(good).is_ok(), "{good:?}");
        }
    }
}
