//! Processing jobs: how a confirmed upload is encoded for the worker, the outbox relay that
//! publishes them, and the results workers report back.

mod celery;
mod json;
pub mod relay;
pub mod results;

use uuid::Uuid;

use crate::config::{JobFormat, JobSettings};
use crate::domain::Upload;

/// A job message ready to publish.
pub type EncodedJob = crate::rabbitmq::publisher::Message;

/// Turns a confirmed upload into the message its consumer expects.
#[derive(Clone, Debug)]
pub struct JobEncoder {
    format: JobFormat,
    task: String,
    input_path: String,
    origin: String,
    /// Whether storage verifies declared checksums (the job says so beside them).
    checksums_verified: bool,
}

impl JobEncoder {
    pub fn new(settings: &JobSettings, checksums_verified: bool) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_owned());
        Self {
            format: settings.format,
            task: settings.task.clone(),
            input_path: settings.input_path.clone(),
            origin: format!("upload-coordinator@{host}"),
            checksums_verified,
        }
    }

    /// The input path the worker reads, from the configured template.
    pub fn input_path(&self, upload: &Upload) -> String {
        self.input_path
            .replace("{bucket}", &upload.bucket)
            .replace("{key}", &upload.key)
            .replace("{id}", &upload.id.to_string())
    }

    pub fn format_name(&self) -> &'static str {
        match self.format {
            JobFormat::Celery => "celery",
            JobFormat::Json => "json",
        }
    }

    pub fn encode(&self, task_id: Uuid, upload: &Upload) -> EncodedJob {
        let input_path = self.input_path(upload);
        match self.format {
            JobFormat::Celery => celery::encode(
                &self.task,
                &self.origin,
                task_id,
                upload,
                &input_path,
                self.checksums_verified,
            ),
            JobFormat::Json => json::encode(task_id, upload, &input_path, self.checksums_verified),
        }
    }
}
