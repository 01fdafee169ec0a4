//! The upload domain: statuses and their transitions, part plans, validated inputs.
//! Nothing here does I/O.

mod checksum;
mod new_upload;
mod part_plan;
mod status;
pub mod text;
mod upload;

pub use checksum::{ChecksumAlgorithm, Checksums};
pub use new_upload::{ContentType, Filename, InvalidInput, NewUpload, Title, UploadSize};
pub use part_plan::{PartPlan, PlannedPart};
pub use status::UploadStatus;
pub use upload::Upload;

/// S3's smallest part (except the last one).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's largest part.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3's largest single PUT.
pub const MAX_SINGLE_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3's largest object.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// S3's part-count limit.
pub const MAX_PARTS: u64 = 10_000;
