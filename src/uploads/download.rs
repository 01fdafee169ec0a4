//! Download links: a short-lived presigned GET of a confirmed upload's object, saved under the
//! name the user gave it, whatever that name holds.

use std::fmt::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{UploadError, Uploads};
use crate::auth::Owner;

/// A download link never outlives this, whatever UC_PRESIGN_TTL_SECS says.
const MAX_LIFETIME: Duration = Duration::from_secs(300);

/// Where to fetch an upload's bytes, until when.
#[derive(Clone, Debug)]
pub struct DownloadLink {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

impl Uploads {
    /// A link to the owner's upload, once its bytes are confirmed (`uploaded` and after).
    pub async fn download_link(
        &self,
        owner: &Owner,
        id: Uuid,
    ) -> Result<DownloadLink, UploadError> {
        let upload = self.get(owner, id).await?;
        if upload.status.is_abandoned() {
            return Err(UploadError::Gone(upload.status));
        }
        if !upload.status.is_confirmed() {
            return Err(UploadError::NotUploaded);
        }
        let ttl = self.url_lifetime().min(MAX_LIFETIME);
        let disposition = content_disposition(&upload.filename);
        let url = self
            .storage
            .presign_get(&upload.key, &disposition, ttl)
            .await?;
        Ok(DownloadLink {
            url,
            expires_at: Utc::now() + ttl,
        })
    }
}

/// `attachment` with an ASCII `filename` any client can parse (every character it cannot carry
/// safely becomes `_`) and the exact name as RFC 8187 `filename*`.
pub fn content_disposition(filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| match c {
            ' '..='~' if !matches!(c, '"' | '\\' | '%' | '/' | ';') => c,
            _ => '_',
        })
        .collect();
    let mut exact = String::with_capacity(filename.len() * 3);
    for byte in filename.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            exact.push(byte as char);
        } else {
            let _ = write!(exact, "%{byte:02X}");
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_through() {
        assert_eq!(
            content_disposition("clip-01.mp4"),
            "attachment; filename=\"clip-01.mp4\"; filename*=UTF-8''clip-01.mp4"
        );
    }

    #[test]
    fn quotes_newlines_and_non_ascii_cannot_break_the_header() {
        let header = content_disposition("a\"b\\c\r\nSet-Cookie: x=1; é😀%.mp4");
        assert_eq!(
            header,
            "attachment; filename=\"a_b_c__Set-Cookie: x=1_ ___.mp4\"; \
             filename*=UTF-8''a%22b%5Cc%0D%0ASet-Cookie%3A%20x%3D1%3B%20%C3%A9%F0%9F%98%80%25.mp4"
        );
        // A valid header value: visible ASCII and spaces only.
        assert!(header.bytes().all(|b| (b' '..=b'~').contains(&b)));
        assert!(poem::http::HeaderValue::from_str(&header).is_ok());
    }

    #[test]
    fn the_exact_name_decodes_back() {
        let name = "résumé \"final\" 🎬.mov";
        let header = content_disposition(name);
        let encoded = header.split("UTF-8''").nth(1).unwrap();
        let mut bytes = Vec::new();
        let mut rest = encoded.as_bytes();
        while let Some((&first, tail)) = rest.split_first() {
            if first == b'%' {
                bytes.push(
                    u8::from_str_radix(std::str::from_utf8(&tail[..2]).unwrap(), 16).unwrap(),
                );
                rest = &tail[2..];
            } else {
                bytes.push(first);
                rest = tail;
            }
        }
        assert_eq!(String::from_utf8(bytes).unwrap(), name);
    }
}
