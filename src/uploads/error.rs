use crate::db::DbError;
use crate::domain::{InvalidInput, UploadStatus};
use crate::error_codes as codes;
use crate::storage::StorageError;

/// Why an upload use case did not succeed. Client mistakes carry a stable code; the HTTP layer
/// maps each variant to a status once.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error("no such upload")]
    NotFound,
    #[error("part numbers are 1 to {max}: {numbers:?}")]
    InvalidPartNumbers { numbers: Vec<u32>, max: u32 },
    #[error("part numbers outside this upload's plan of {part_count} parts: {numbers:?}")]
    PartsOutsidePlan { numbers: Vec<u32>, part_count: u32 },
    #[error("part {number} has no checksum yet: give it with the part (`parts`)")]
    PartChecksumMissing { number: u32 },
    #[error("this upload was declared without a checksum_algorithm")]
    ChecksumsNotDeclared,
    #[error("this upload's parts are checked with {0}, and this digest is not of its length")]
    ChecksumAlgorithmMismatch(crate::domain::ChecksumAlgorithm),
    #[error("ask for 1 to {max} distinct part numbers at a time")]
    PartRequestSize { max: usize },
    #[error("the upload is {0}, not pending")]
    NotPending(UploadStatus),
    #[error("parts not uploaded yet: {0:?}")]
    PartsMissing(Vec<u32>),
    #[error("part {number} holds {actual} bytes, the plan says {expected}")]
    PartSizeMismatch {
        number: u32,
        expected: u64,
        actual: u64,
    },
    #[error("storage refused the parts: {0}")]
    InvalidPart(String),
    #[error("part {number} already has another checksum")]
    ChecksumConflict { number: u32 },
    #[error("storage holds parts whose checksums differ from the declared ones: {0:?}")]
    ChecksumMismatch(Vec<u32>),
    #[error("the object has not been uploaded yet")]
    ObjectMissing,
    #[error("the upload's bytes are not confirmed yet")]
    NotUploaded,
    #[error("an Idempotency-Key is 1 to {max} visible ASCII characters")]
    InvalidIdempotencyKey { max: usize },
    #[error("{}", .over.describe())]
    OverQuota {
        over: super::quota::OverQuota,
        retry_after_secs: u64,
    },
    #[error("this Idempotency-Key was used with another declaration")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still creating its upload; retry shortly")]
    IdempotencyKeyInProgress,
    /// A create's claim on its key was taken over by a retry while it stalled; the create
    /// answers with the retry's upload instead, so this does not reach clients.
    #[error("a request with this Idempotency-Key is still creating its upload; retry shortly")]
    IdempotencyKeyTakenOver,
    #[error("the upload is {0}: storage no longer holds its bytes")]
    Gone(UploadStatus),
    #[error("the cursor is not one this service issued")]
    InvalidCursor,
    #[error("limit must be between 1 and {max}")]
    InvalidLimit { max: i64 },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<tokio_postgres::Error> for UploadError {
    fn from(err: tokio_postgres::Error) -> Self {
        Self::Db(err.into())
    }
}

impl UploadError {
    /// The stable, kebab-case code clients can match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(invalid) => invalid.code(),
            Self::NotFound => codes::UPLOAD_NOT_FOUND,
            Self::InvalidPartNumbers { .. } => codes::INVALID_PART_NUMBER,
            Self::PartsOutsidePlan { .. } => codes::PART_OUTSIDE_PLAN,
            Self::ChecksumsNotDeclared => codes::CHECKSUMS_NOT_DECLARED,
            Self::PartChecksumMissing { .. } => codes::PART_CHECKSUM_MISSING,
            Self::ChecksumAlgorithmMismatch(_) => codes::CHECKSUM_ALGORITHM_MISMATCH,
            Self::PartRequestSize { .. } => codes::INVALID_PART_REQUEST,
            Self::NotPending(_) => codes::UPLOAD_NOT_PENDING,
            Self::PartsMissing(_) => codes::PARTS_MISSING,
            Self::PartSizeMismatch { .. } => codes::PART_SIZE_MISMATCH,
            Self::InvalidPart(_) => codes::INVALID_PART,
            Self::ChecksumConflict { .. } => codes::CHECKSUM_CONFLICT,
            Self::ChecksumMismatch(_) => codes::CHECKSUM_MISMATCH,
            Self::ObjectMissing => codes::OBJECT_MISSING,
            Self::NotUploaded => codes::UPLOAD_NOT_UPLOADED,
            Self::InvalidIdempotencyKey { .. } => codes::INVALID_IDEMPOTENCY_KEY,
            Self::IdempotencyKeyReused => codes::IDEMPOTENCY_KEY_REUSED,
            Self::OverQuota { over, .. } => over.code(),
            Self::IdempotencyKeyInProgress | Self::IdempotencyKeyTakenOver => {
                codes::IDEMPOTENCY_KEY_IN_PROGRESS
            }
            Self::Gone(_) => codes::UPLOAD_GONE,
            Self::InvalidCursor => codes::INVALID_CURSOR,
            Self::InvalidLimit { .. } => codes::INVALID_LIMIT,
            Self::Storage(_) => codes::STORAGE_UNAVAILABLE,
            Self::Db(_) => codes::INTERNAL,
        }
    }
}
