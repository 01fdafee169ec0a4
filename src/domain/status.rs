use std::fmt;
use std::str::FromStr;

/// Where an upload is in its life. The platform shows `uploaded`, `processing`, `processed` and
/// `failed`; the coordinator adds `pending` before them and the terminal `aborted`, `expired`
/// and `rejected`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UploadStatus {
    Pending,
    Uploaded,
    Processing,
    Processed,
    Failed,
    Aborted,
    Expired,
    Rejected,
}

impl UploadStatus {
    pub const ALL: [UploadStatus; 8] = [
        Self::Pending,
        Self::Uploaded,
        Self::Processing,
        Self::Processed,
        Self::Failed,
        Self::Aborted,
        Self::Expired,
        Self::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Uploaded => "uploaded",
            Self::Processing => "processing",
            Self::Processed => "processed",
            Self::Failed => "failed",
            Self::Aborted => "aborted",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
        }
    }

    /// Whether the bytes are confirmed in storage (every status after `pending` on the happy path).
    pub fn is_confirmed(self) -> bool {
        matches!(
            self,
            Self::Uploaded | Self::Processing | Self::Processed | Self::Failed
        )
    }

    /// Whether the intent ended without confirmed bytes.
    pub fn is_abandoned(self) -> bool {
        matches!(self, Self::Aborted | Self::Expired | Self::Rejected)
    }
}

impl fmt::Display for UploadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown upload status {0:?}")]
pub struct UnknownStatus(String);

impl FromStr for UploadStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_name() {
        for status in UploadStatus::ALL {
            assert_eq!(status.as_str().parse::<UploadStatus>().unwrap(), status);
        }
        assert!("done".parse::<UploadStatus>().is_err());
    }

    #[test]
    fn confirmed_and_abandoned_statuses_do_not_overlap() {
        for status in UploadStatus::ALL {
            assert!(
                !(status.is_confirmed() && status.is_abandoned()),
                "{status}"
            );
        }
        assert!(!UploadStatus::Pending.is_confirmed());
        assert!(!UploadStatus::Pending.is_abandoned());
    }
}
