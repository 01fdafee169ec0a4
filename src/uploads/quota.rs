//! Owner quotas on new uploads: pending uploads, pending bytes and creates per minute,
//! counted in PostgreSQL so every replica enforces the same limits. Creates per minute are an
//! allowance that refills continuously: up to a minute's worth at once, then one every
//! `60 / rate` seconds.

use crate::config::OwnerQuotas;
use crate::db::quotas::Usage;
use crate::error_codes as codes;

/// Which limit a create would cross.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverQuota {
    PendingUploads { max: i64 },
    PendingBytes { max: i64 },
    CreateRate { per_minute: i64 },
}

/// A pending upload's quota frees up when one completes or ends; a client may look again this
/// much later.
const PENDING_RETRY_AFTER_SECS: u64 = 30;

impl OverQuota {
    pub fn code(self) -> &'static str {
        match self {
            Self::PendingUploads { .. } => codes::TOO_MANY_PENDING_UPLOADS,
            Self::PendingBytes { .. } => codes::TOO_MANY_PENDING_BYTES,
            Self::CreateRate { .. } => codes::CREATE_RATE_EXCEEDED,
        }
    }

    pub fn describe(self) -> String {
        match self {
            Self::PendingUploads { max } => {
                format!("{max} uploads are pending already: complete or abort some first")
            }
            Self::PendingBytes { max } => format!(
                "pending uploads already declare up to {max} bytes: complete or abort some first"
            ),
            Self::CreateRate { per_minute } => {
                format!("at most {per_minute} uploads may be declared per minute")
            }
        }
    }
}

/// Whether one more upload of `size` bytes fits; if not, which limit it crosses and when to
/// retry (seconds).
pub fn check(quotas: &OwnerQuotas, usage: &Usage, size: i64) -> Result<(), (OverQuota, u64)> {
    if usage.create_allowance < 1.0 {
        // When the allowance has refilled to one create.
        let wait = ((1.0 - usage.create_allowance) * 60.0 / quotas.creates_per_minute as f64)
            .ceil()
            .max(1.0) as u64;
        return Err((
            OverQuota::CreateRate {
                per_minute: quotas.creates_per_minute,
            },
            wait.min(60),
        ));
    }
    if usage.pending_uploads >= quotas.max_pending_uploads {
        return Err((
            OverQuota::PendingUploads {
                max: quotas.max_pending_uploads,
            },
            PENDING_RETRY_AFTER_SECS,
        ));
    }
    if usage.pending_bytes.saturating_add(size) > quotas.max_pending_bytes {
        return Err((
            OverQuota::PendingBytes {
                max: quotas.max_pending_bytes,
            },
            PENDING_RETRY_AFTER_SECS,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUOTAS: OwnerQuotas = OwnerQuotas {
        max_pending_uploads: 2,
        max_pending_bytes: 100,
        creates_per_minute: 3,
    };

    #[test]
    fn each_limit_is_checked_and_says_when_to_retry() {
        let fresh = Usage::fresh(QUOTAS.creates_per_minute);
        assert_eq!(check(&QUOTAS, &fresh, 100), Ok(()));
        assert_eq!(
            check(&QUOTAS, &fresh, 101),
            Err((OverQuota::PendingBytes { max: 100 }, 30))
        );
        let full = Usage {
            pending_uploads: 2,
            ..fresh
        };
        assert_eq!(
            check(&QUOTAS, &full, 1),
            Err((OverQuota::PendingUploads { max: 2 }, 30))
        );
        // Three a minute: the missing three quarters of a create are back in 15 seconds.
        let hurried = Usage {
            create_allowance: 0.25,
            ..fresh
        };
        assert_eq!(
            check(&QUOTAS, &hurried, 1),
            Err((OverQuota::CreateRate { per_minute: 3 }, 15))
        );
        let spent = Usage {
            create_allowance: 0.0,
            ..fresh
        };
        assert_eq!(
            check(&QUOTAS, &spent, 1),
            Err((OverQuota::CreateRate { per_minute: 3 }, 20))
        );
    }
}
