//! Newest-first listing of a user's uploads with opaque keyset cursors.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{UploadError, Uploads};
use crate::auth::Owner;
use crate::db::{self, uploads::ListCursor};
use crate::domain::Upload;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

#[derive(Clone, Debug, Default)]
pub struct PageRequest {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Page {
    pub items: Vec<Upload>,
    pub next_cursor: Option<String>,
}

/// `<microseconds since the epoch>.<id>`: enough to resume a (created_at, id) ordering.
fn encode(upload: &Upload) -> String {
    format!(
        "{}.{}",
        upload.created_at.timestamp_micros(),
        upload.id.simple()
    )
}

fn decode(cursor: &str) -> Result<ListCursor, UploadError> {
    let (micros, id) = cursor.split_once('.').ok_or(UploadError::InvalidCursor)?;
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
        let mut items = db::uploads::list_owned(&client, owner.as_str(), after, limit + 1).await?;
        let next_cursor = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(encode)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
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
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }
}
