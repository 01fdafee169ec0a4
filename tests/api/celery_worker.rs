//! A real Celery worker (`pip install celery`, as `make test` does) consumes our job unchanged
//! and its report moves the upload to `processed`.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::helpers::{INTERNAL_TOKEN, payload, spawn_app};

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_real_celery_worker_runs_the_job_and_its_report_marks_the_upload_processed() {
    let app = spawn_app().await;
    let record = std::env::temp_dir().join(format!("uc-celery-{}.jsonl", uuid::Uuid::new_v4()));
    let worker_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/celery");
    let names = &app.names;
    let worker = Command::new("python3")
        .args([
            "-m",
            "celery",
            "-A",
            "worker",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
        ])
        .args([
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ])
        .current_dir(&worker_dir)
        .env("CELERY_BROKER_URL", &app.amqp_url)
        .env("UC_JOB_QUEUE", &names.job_queue)
        .env("UC_JOB_EXCHANGE", &names.job_exchange)
        .env("UC_JOB_ROUTING_KEY", "video")
        .env("UC_JOB_DEAD_LETTER_EXCHANGE", &names.job_dlx)
        .env("WORKER_RECORD", &record)
        .env("COORDINATOR_URL", &app.address)
        .env("INTERNAL_TOKEN", INTERNAL_TOKEN)
        .stdout(Stdio::null())
        .spawn()
        .expect("python3 with celery (make test installs it)");
    let _worker = Worker(worker);

    let data = payload(2500, 60);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    let key = upload["key"].as_str().unwrap();
    app.put_part(&upload["parts"][0], data).await;
    app.complete(id, None).await;

    let processed = app.wait_for_status(id, &["processed"]).await;
    let input_path = format!("s3://{}/{key}", app.bucket);
    assert_eq!(
        processed["output_location"],
        format!("{input_path}.processed.mp4")
    );

    let calls = std::fs::read_to_string(&record).expect("the worker ran the task");
    let _ = std::fs::remove_file(&record);
    let calls: Vec<Value> = calls
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(calls.len(), 1, "one task run");
    assert_eq!(calls[0][0], id);
    assert_eq!(calls[0][1], input_path.as_str());
    let correlation = calls[0][2].as_str().unwrap();
    let task_id: uuid::Uuid = app
        .db
        .query_one(
            "SELECT task_id FROM outbox WHERE upload_id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(correlation, task_id.to_string());
    let etag: String = app
        .db
        .query_one("SELECT etag FROM uploads WHERE id = $1::text::uuid", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        calls[0][3],
        etag.as_str(),
        "the worker reads the confirmed ETag"
    );
}
