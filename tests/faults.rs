//! No loop spins and nothing is left behind under faults: jobs the broker cannot route back off
//! (and are parked after their last attempt, then replayed), a broker under its memory alarm
//! pins no database transaction, and an abort while storage is down is cleaned up once it is
//! back. These tests alarm the broker and stop storage, so they run one at a time.

#[path = "support/mod.rs"]
mod helpers;

use std::process::Command;
use std::time::Duration;

use lapin::options::QueueBindOptions;
use lapin::types::FieldTable;
use reqwest::StatusCode;
use tokio::sync::Mutex;

use helpers::faults::{MemoryAlarm, StorageStopped, cpu_seconds};
use helpers::process::{ServiceProcess, free_port};
use helpers::{Prepared, TestApp, payload, spawn_app_with, wait_for};

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// `count` single-PUT uploads, uploaded and completed; returns their ids.
async fn confirm_uploads(app: &TestApp, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in (0..count).collect::<Vec<_>>().chunks(10) {
        let batch = chunk.iter().map(|n| async move {
            let data = payload(1000, *n as u64);
            let upload = app.declare(data.len()).await;
            let id = upload["id"].as_str().unwrap().to_owned();
            app.put_part(&upload["parts"][0], data).await;
            assert_eq!(app.complete(&id, None).await.status(), StatusCode::OK);
            id
        });
        ids.extend(futures_util::future::join_all(batch).await);
    }
    ids
}

/// Takes the job queue off its exchange (jobs become unroutable), or puts it back.
async fn bind_jobs(app: &TestApp, bound: bool) {
    // Not before the relay has declared (and bound) its topology.
    app.wait_ready().await;
    let (_connection, channel) = helpers::amqp::connect(&app.amqp_url).await;
    let names = &app.names;
    if bound {
        channel
            .queue_bind(
                names.job_queue.as_str().into(),
                names.job_exchange.as_str().into(),
                "video".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
    } else {
        channel
            .queue_unbind(
                names.job_queue.as_str().into(),
                names.job_exchange.as_str().into(),
                "video".into(),
                FieldTable::default(),
            )
            .await
            .unwrap();
    }
}

async fn unpublished(app: &TestApp) -> (i64, i64) {
    let row = app
        .db
        .query_one(
            "SELECT count(*) FILTER (WHERE parked_at IS NULL), \
                    count(*) FILTER (WHERE parked_at IS NOT NULL) \
             FROM outbox WHERE published_at IS NULL",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn unroutable_jobs_back_off_instead_of_spinning_and_go_out_once_when_routable() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let prepared = Prepared::new().await;
    // Waits capped at 4 s: the jobs go out within the wait below once routable, however many
    // attempts the slow setup of a loaded machine let them fail first.
    let service = ServiceProcess::start(&prepared, free_port(), &["--job-retry-max=4"]).await;
    let app = prepared.client_for(service.address.clone()).await;
    bind_jobs(&app, false).await;

    let ids = confirm_uploads(&app, 150).await;
    let before = cpu_seconds(service.pid());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let spent = cpu_seconds(service.pid()) - before;
    println!("the service used {spent:.2} CPU-seconds in the 10 s its 150 jobs were unroutable");
    // Spinning would take most of a core; backing off took 0.19 CPU-seconds here.
    assert!(spent < 1.0, "{spent} CPU-seconds");
    let (waiting, parked) = unpublished(&app).await;
    assert_eq!((waiting, parked), (150, 0), "all waiting, none parked");

    bind_jobs(&app, true).await;
    let jobs = app.wait_for_messages(&app.names.job_queue, 150).await;
    assert_eq!(jobs.len(), 150, "no copies");
    let mut published: Vec<String> = jobs
        .iter()
        .map(|job| {
            let body: serde_json::Value = serde_json::from_slice(&job.delivery.data).unwrap();
            body[0][0].as_str().unwrap().to_owned()
        })
        .collect();
    published.sort();
    published.dedup();
    assert_eq!(published.len(), 150, "every job, once");
    for id in &ids {
        assert!(published.contains(id), "{id}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.queue_depth(&app.names.job_queue).await, 0, "no copies");
}

#[tokio::test]
async fn a_job_unroutable_past_its_last_attempt_is_parked_then_sent_by_a_replay() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let app = spawn_app_with(&[
        "--job-max-attempts=2",
        "--job-retry-base=100",
        "--outbox-poll=1",
    ])
    .await;
    bind_jobs(&app, false).await;
    let id = confirm_uploads(&app, 1).await.remove(0);
    wait_for("the job to be parked", Duration::from_secs(15), || async {
        (unpublished(&app).await == (0, 1)).then_some(())
    })
    .await;
    assert_eq!(app.metric("uc_jobs_parked_total", &[]).await, 1.0);
    let listed = upload_coordinator_cli(&app, &["jobs", "parked"]);
    assert!(listed.contains(&id), "{listed}");

    bind_jobs(&app, true).await;
    let replayed = upload_coordinator_cli(&app, &["jobs", "replay"]);
    assert!(replayed.starts_with("1 job"), "{replayed}");
    app.wait_for_status(&id, &["processing"]).await;
    assert_eq!(
        app.wait_for_messages(&app.names.job_queue, 1).await.len(),
        1
    );
}

/// Runs the binary's operator commands against `app`'s database; returns what it printed.
fn upload_coordinator_cli(app: &TestApp, args: &[&str]) -> String {
    let database_url = helpers::Stack::from_env().database_url(&app.database);
    let output = Command::new(env!("CARGO_BIN_EXE_upload-coordinator"))
        .arg(format!("--database-url={database_url}"))
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn under_the_memory_alarm_no_transaction_waits_on_the_broker_and_jobs_go_out_after() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let app = spawn_app_with(&["--job-confirm-timeout=2", "--job-retry-base=200"]).await;
    let alarm = MemoryAlarm::raise();
    let ids = confirm_uploads(&app, 5).await;
    // Publishers are blocked now; watch the sessions while the relay waits on confirms.
    for _ in 0..20 {
        let stuck: i64 = app
            .db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 \
                 AND state LIKE 'idle in transaction%' \
                 AND xact_start < now() - interval '2 seconds'",
                &[&app.database],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            stuck, 0,
            "a session idles in a transaction past the confirm timeout"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        unpublished(&app).await.0,
        5,
        "nothing published under the alarm"
    );
    drop(alarm);
    for id in &ids {
        app.wait_for_status(id, &["processing"]).await;
    }
}

#[tokio::test]
async fn an_abort_while_storage_is_down_is_cleaned_up_once_it_is_back() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let app = spawn_app_with(&["--sweep-interval=1"]).await;
    let upload = app.declare(9 * 1024 * 1024).await;
    let id = upload["id"].as_str().unwrap();
    let key = upload["key"].as_str().unwrap();
    assert!(app.multipart_upload_exists(id, key).await);

    let outage = StorageStopped::stop();
    let aborted = app.abort(id).await;
    assert_eq!(
        aborted.status(),
        StatusCode::OK,
        "the intent is aborted at once"
    );
    drop(outage);

    wait_for(
        "the multipart upload to be aborted in storage",
        // Failed cleanups back off (1, 2, 4... s): room for a slow restart of storage.
        Duration::from_secs(90),
        || async { (!app.multipart_upload_exists(id, key).await).then_some(()) },
    )
    .await;
}
