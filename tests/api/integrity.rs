//! Confirmed bytes stay confirmed and nothing is left behind: write-once single PUTs, replaced
//! objects flagged, the confirmed ETag in the job, storage cleaned after abort (even through a
//! URL used afterwards) and of orphaned multipart uploads, the LISTEN connection back after
//! PostgreSQL ends it, and a message that keeps failing dead-lettered after its last try.

use std::time::{Duration, Instant};

use lapin::types::AMQPValue;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, minio_event, payload, spawn_app, spawn_app_with, wait_for};

/// A confirmed single-PUT upload of `data`; returns the create response.
async fn confirmed_single_put(app: &TestApp, data: &[u8]) -> Value {
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    let put = app.put_part(&upload["parts"][0], data.to_vec()).await;
    assert_eq!(put.status(), StatusCode::OK);
    assert_eq!(app.complete(id, None).await.status(), StatusCode::OK);
    upload
}

async fn recorded_etag(app: &TestApp, id: &str) -> String {
    app.db
        .query_one("SELECT etag FROM uploads WHERE id = $1::text::uuid", &[&id])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_second_put_through_a_confirmed_single_put_url_is_refused_and_the_bytes_stay() {
    let app = spawn_app().await;
    let data = payload(4000, 11);
    let upload = confirmed_single_put(&app, &data).await;
    assert_eq!(upload["parts"][0]["headers"]["if-none-match"], "*");

    let other = payload(4000, 99);
    let again = app.put_part(&upload["parts"][0], other).await;
    assert_eq!(again.status(), StatusCode::PRECONDITION_FAILED);
    let key = upload["key"].as_str().unwrap();
    assert_eq!(app.stored_bytes(key).await, data, "the confirmed bytes");
}

#[tokio::test]
async fn the_job_carries_the_confirmed_etag() {
    let app = spawn_app().await;
    let upload = confirmed_single_put(&app, &payload(2500, 3)).await;
    let jobs = app.wait_for_messages(&app.names.job_queue, 1).await;
    let headers = jobs[0].delivery.properties.headers().clone().unwrap();
    let etag = match headers.inner().get("upload_etag") {
        Some(AMQPValue::LongString(etag)) => etag.to_string(),
        other => panic!("upload_etag header: {other:?}"),
    };
    let key = upload["key"].as_str().unwrap();
    let stored = app
        .s3
        .head_object()
        .bucket(&app.bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        Some(etag.as_str()),
        stored.e_tag(),
        "the ETag of the bytes in storage"
    );

    let json_app = spawn_app_with(&["--job-format=json"]).await;
    let upload = confirmed_single_put(&json_app, &payload(2500, 4)).await;
    let id = upload["id"].as_str().unwrap();
    let jobs = json_app
        .wait_for_messages(&json_app.names.job_queue, 1)
        .await;
    let body: Value = serde_json::from_slice(&jobs[0].delivery.data).unwrap();
    assert_eq!(body["etag"], recorded_etag(&json_app, id).await);
}

#[tokio::test]
async fn an_event_showing_a_confirmed_key_with_other_bytes_flags_the_upload() {
    let app = spawn_app_with(&["--sweep-interval=1"]).await;
    let data = payload(3000, 5);
    let upload = confirmed_single_put(&app, &data).await;
    let id = upload["id"].as_str().unwrap();
    let key = upload["key"].as_str().unwrap();
    app.wait_for_status(id, &["processing"]).await;

    // A duplicate event (same ETag) changes nothing.
    let etag = recorded_etag(&app, id).await;
    let duplicate = minio_event(&app.bucket, key, data.len(), etag.trim_matches('"'));
    assert_eq!(app.post_event(&duplicate).await.status(), StatusCode::OK);
    assert_eq!(
        app.get_json(&app.url(&format!("/api/uploads/{id}"))).await["status"],
        "processing"
    );

    // Someone with storage access (or a POST policy still valid) writes other bytes there.
    app.put_object_directly(key, payload(3000, 6)).await;
    let replaced = minio_event(
        &app.bucket,
        key,
        data.len(),
        "0123456789abcdef0123456789abcdef",
    );
    let receipt: Value = app.post_event(&replaced).await.json().await.unwrap();
    assert_eq!(receipt["rejected"], 1, "{receipt}");
    let flagged = app.get_json(&app.url(&format!("/api/uploads/{id}"))).await;
    assert_eq!(flagged["status"], "rejected");
    assert!(
        flagged["reason"].as_str().unwrap().contains("replaced"),
        "{flagged}"
    );
    assert_eq!(
        app.metric("uc_uploads_replaced_total", &[]).await,
        1.0,
        "counted"
    );
    wait_for(
        "the replacing object to be removed",
        Duration::from_secs(10),
        || async { (!app.object_exists(key).await).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn after_an_abort_a_put_through_its_url_leaves_no_object_after_the_next_sweep() {
    let app = spawn_app_with(&["--sweep-interval=1"]).await;
    let data = payload(2000, 8);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    let key = upload["key"].as_str().unwrap();
    assert_eq!(app.abort(id).await.status(), StatusCode::OK);

    // The URL is still valid for a while: the PUT works...
    let late = app.put_part(&upload["parts"][0], data).await;
    assert_eq!(late.status(), StatusCode::OK);
    // ...and the next sweep removes what it left (it may have already: it runs every second).
    wait_for(
        "the late object to be removed",
        Duration::from_secs(10),
        || async { (!app.object_exists(key).await).then_some(()) },
    )
    .await;
    let cleaned_at: Option<chrono::DateTime<chrono::Utc>> = app
        .db
        .query_one(
            "SELECT cleaned_at FROM uploads WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        cleaned_at.is_none(),
        "not done for good while its URL is valid"
    );
}

#[tokio::test]
async fn abort_racing_complete_ends_in_one_state_that_storage_matches() {
    let app = spawn_app_with(&["--sweep-interval=1"]).await;
    let mut outcomes = Vec::new();
    for seed in 0..4u64 {
        let data = payload(6 * 1024 * 1024 + 100, seed);
        let upload = app.declare(data.len()).await;
        let id = upload["id"].as_str().unwrap().to_owned();
        let part_size = upload["part_size"].as_u64().unwrap() as usize;
        let parts: Vec<Value> = upload["parts"].as_array().unwrap().clone();
        app.put_parts(&parts, &data, part_size).await;
        let (completed, _) = tokio::join!(app.complete(&id, None), app.abort(&id));
        let status = app.get_json(&app.url(&format!("/api/uploads/{id}"))).await["status"]
            .as_str()
            .unwrap()
            .to_owned();
        // The complete call says what happened: 200 only if the upload was confirmed.
        match completed.status() {
            StatusCode::OK => assert_ne!(status, "aborted", "{id}: complete answered 200"),
            StatusCode::CONFLICT => assert_eq!(status, "aborted", "{id}"),
            other => panic!("{id}: complete answered {other}"),
        }
        outcomes.push((id, upload["key"].as_str().unwrap().to_owned(), status));
    }
    for (id, key, status) in outcomes {
        match status.as_str() {
            "aborted" => {
                wait_for(
                    "an aborted upload's object to be gone",
                    Duration::from_secs(10),
                    || async { (!app.object_exists(&key).await).then_some(()) },
                )
                .await
            }
            "uploaded" | "processing" => assert!(app.object_exists(&key).await, "{id}"),
            other => panic!("{id} ended {other}"),
        }
    }
}

#[tokio::test]
async fn a_multipart_upload_no_intent_knows_is_aborted() {
    // A prefix of its own: the scan looks at every multipart upload under the prefix.
    let prefix = format!("orphan-test-{}", uuid::Uuid::new_v4().simple());
    let app = spawn_app_with(&[
        "--sweep-interval=1",
        "--orphan-after=1",
        &format!("--key-prefix={prefix}"),
    ])
    .await;
    let known = app.declare(9 * 1024 * 1024).await;
    // What a crash between CreateMultipartUpload and the insert leaves behind.
    let key = format!("{prefix}/{}/lost.mp4", uuid::Uuid::now_v7());
    let orphan = app
        .s3
        .create_multipart_upload()
        .bucket(&app.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    let upload_id = orphan.upload_id().unwrap().to_owned();
    let exists = |key: String, upload_id: String| {
        let s3 = app.s3.clone();
        let bucket = app.bucket.clone();
        async move {
            s3.list_parts()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .send()
                .await
                .is_ok()
        }
    };
    wait_for(
        "the orphaned multipart upload to be aborted",
        Duration::from_secs(15),
        || async { (!exists(key.clone(), upload_id.clone()).await).then_some(()) },
    )
    .await;
    let known_id = known["id"].as_str().unwrap();
    assert!(
        app.multipart_upload_exists(known_id, known["key"].as_str().unwrap())
            .await,
        "an intent's multipart upload is kept"
    );
}

/// The LISTEN connections of this test's replicas (one each).
async fn listen_backends(app: &TestApp) -> Vec<i32> {
    app.db
        .query(
            "SELECT pid FROM pg_stat_activity \
             WHERE application_name = 'upload-coordinator/listen' AND datname = $1 \
               AND query LIKE 'LISTEN%'",
            &[&app.database],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn after_postgresql_ends_the_listen_connection_a_job_from_another_replica_goes_out_before_the_backstop_poll()
 {
    // Only a notification can wake this relay in time: its backstop poll is a minute, and the
    // bound below leaves room for a broker confirm on a loaded machine.
    let app = spawn_app_with(&["--outbox-poll=60"]).await;
    let committer = app.spawn_replica_with(&["--outbox-relay=false"]).await;
    let first = wait_for(
        "both LISTEN connections",
        Duration::from_secs(10),
        || async {
            let pids = listen_backends(&app).await;
            (pids.len() == 2).then_some(pids)
        },
    )
    .await;
    for pid in &first {
        app.db
            .execute("SELECT pg_terminate_backend($1)", &[pid])
            .await
            .unwrap();
    }
    wait_for("LISTEN to be back", Duration::from_secs(10), || async {
        let pids = listen_backends(&app).await;
        (pids.len() == 2 && pids.iter().all(|pid| !first.contains(pid))).then_some(())
    })
    .await;

    let data = payload(1200, 7);
    let upload = app.declare(data.len()).await;
    let id = upload["id"].as_str().unwrap();
    app.put_part(&upload["parts"][0], data).await;
    let completed = app
        .http
        .post(format!("{committer}/api/uploads/{id}/complete"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(completed.status(), StatusCode::OK);
    let committed = Instant::now();
    app.wait_for_status(id, &["processing"]).await;
    assert!(
        committed.elapsed() < Duration::from_secs(15),
        "published {:?} after the commit",
        committed.elapsed()
    );
}

#[tokio::test]
async fn a_result_that_keeps_failing_ends_in_its_dead_letter_queue_after_the_last_try() {
    let app = spawn_app_with(&["--consumer-max-attempts=3", "--consumer-retry-base=50"]).await;
    let upload = confirmed_single_put(&app, &payload(1000, 2)).await;
    let id = upload["id"].as_str().unwrap();
    app.wait_for_status(id, &["processing"]).await;
    // The database refuses to record any result: a passing failure, tried again.
    app.db
        .batch_execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'induced failure'; END $$; \
             CREATE TRIGGER refuse BEFORE UPDATE ON uploads FOR EACH ROW EXECUTE FUNCTION refuse()",
        )
        .await
        .unwrap();
    let report = json!({"upload_id": id, "status": "processed"});
    app.publish(
        "",
        &app.names.results_queue,
        &serde_json::to_vec(&report).unwrap(),
    )
    .await;
    let dead = app
        .wait_for_messages(&format!("{}.dlq", app.names.results_queue), 1)
        .await;
    app.db
        .batch_execute("DROP TRIGGER refuse ON uploads")
        .await
        .unwrap();
    assert_eq!(
        app.get_json(&app.url(&format!("/api/uploads/{id}"))).await["status"],
        "processing",
        "nothing recorded"
    );
    let headers = dead[0].delivery.properties.headers().clone().unwrap();
    assert_eq!(
        headers.inner().get("x-upload-coordinator-attempts"),
        Some(&AMQPValue::LongUInt(2)),
        "tried three times: twice put back, then dead-lettered"
    );
    assert_eq!(
        app.metric(
            "uc_consumer_retries_total",
            &[("consumer", "results"), ("outcome", "dead-lettered")]
        )
        .await,
        1.0
    );
}

#[tokio::test]
async fn a_multipart_complete_records_the_etag_storage_shows() {
    let app = spawn_app().await;
    let data = payload(12 * crate::helpers::MIB + 5, 7);
    let upload = app.declare(data.len()).await;
    assert_eq!(upload["multipart"], true);
    let part_size = upload["part_size"].as_u64().unwrap() as usize;
    let etags = app
        .put_parts(upload["parts"].as_array().unwrap(), &data, part_size)
        .await;
    let body = json!({
        "parts": etags.iter().map(|(n, etag)| json!({"part_number": n, "etag": etag})).collect::<Vec<_>>()
    });
    let id = upload["id"].as_str().unwrap();
    assert_eq!(app.complete(id, Some(&body)).await.status(), StatusCode::OK);
    let stored = app
        .s3
        .head_object()
        .bucket(&app.bucket)
        .key(upload["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(stored.content_length(), Some(data.len() as i64));
    assert_eq!(Some(recorded_etag(&app, id).await.as_str()), stored.e_tag());
}

/// A multipart complete is confirmed from storage's answer only where storage holds every
/// part to its signed length; the test stack's SeaweedFS is found to.
#[tokio::test]
async fn storage_is_found_to_hold_presigned_puts_to_their_signed_length() {
    use upload_coordinator::config::{Enforcement, Secret, StorageSettings};
    use upload_coordinator::storage::{Storage, StorageCredentials};
    let stack = crate::helpers::Stack::from_env();
    let settings = StorageSettings {
        endpoint: stack.s3_endpoint.clone(),
        public_endpoint: None,
        bucket: stack.bucket.clone(),
        region: "us-east-1".into(),
        access_key: stack.s3_access_key.clone(),
        secret_key: Secret::new(stack.s3_secret_key.clone()),
        write_once: Enforcement::Auto,
        checksums: Enforcement::Auto,
        path_style: true,
    };
    let credentials = StorageCredentials::from_settings(&settings, Duration::from_secs(60)).await;
    let storage = Storage::new(&settings, credentials);
    assert!(storage.probe_signed_lengths("probe-test").await.unwrap());
}

/// The one job in the outbox of an app whose relay is off, as its row stands.
#[derive(Debug)]
struct OutboxJob {
    leased: bool,
    parked: bool,
    published: bool,
    attempts: i32,
    last_error: Option<String>,
}

async fn the_only_job(app: &TestApp) -> OutboxJob {
    let row = app
        .db
        .query_one(
            "SELECT coalesce(claimed_until > now(), false), parked_at IS NOT NULL, \
                 published_at IS NOT NULL, attempts, last_error \
             FROM outbox",
            &[],
        )
        .await
        .unwrap();
    OutboxJob {
        leased: row.get(0),
        parked: row.get(1),
        published: row.get(2),
        attempts: row.get(3),
        last_error: row.get(4),
    }
}

/// Retries a second apart, parking after `max_attempts`.
fn retrying(max_attempts: u32) -> upload_coordinator::db::outbox::RetryPolicy {
    upload_coordinator::db::outbox::RetryPolicy {
        max_attempts,
        base_secs: 1.0,
        max_secs: 1.0,
    }
}

#[tokio::test]
async fn a_relay_whose_lease_ran_out_cannot_undo_the_claim_of_the_relay_after_it() {
    use upload_coordinator::db::outbox;
    let app = spawn_app_with(&["--outbox-relay=false"]).await;
    confirmed_single_put(&app, &payload(1000, 12)).await;
    let db = app.pooled_db().await;
    // A lease of no time: the next claim takes the job over at once.
    let stale = outbox::claim_due(&db, 10, 0.0).await.unwrap();
    assert_eq!(stale.jobs.len(), 1);
    let current = outbox::claim_due(&db, 10, 300.0).await.unwrap();
    assert_eq!(current.jobs.len(), 1);
    let ids = [current.jobs[0].outbox_id];
    let lease = || async {
        let job = the_only_job(&app).await;
        (job.leased, job.attempts, job.last_error)
    };

    // The stale relay's late news changes nothing: the job stays the current relay's.
    let parked = outbox::record_failure(&db, &ids, stale.token, "late", retrying(1))
        .await
        .unwrap();
    assert_eq!(parked, 0);
    outbox::release(&db, &ids, stale.token, "late", 0.0)
        .await
        .unwrap();
    assert_eq!(lease().await, (true, 0, None));
    // The current relay's is recorded.
    outbox::release(&db, &ids, current.token, "broker gone", 0.0)
        .await
        .unwrap();
    assert_eq!(lease().await, (false, 0, Some("broker gone".into())));
}

#[tokio::test]
async fn a_job_withheld_while_it_is_going_out_keeps_its_reason_or_ends_published() {
    use upload_coordinator::db::{outbox, uploads};
    let app = spawn_app_with(&["--outbox-relay=false"]).await;
    let upload = confirmed_single_put(&app, &payload(1000, 13)).await;
    let id = uuid::Uuid::parse_str(upload["id"].as_str().unwrap()).unwrap();
    let db = app.pooled_db().await;
    let job = || async {
        let job = the_only_job(&app).await;
        (job.parked, job.published, job.attempts, job.last_error)
    };
    let claimed = outbox::claim_due(&db, 10, 300.0).await.unwrap();
    assert_eq!(claimed.jobs.len(), 1);
    // The object is found replaced while the relay is publishing: the job is withheld.
    assert!(
        uploads::mark_replaced(&db, id, Some("\"other\""), "replaced")
            .await
            .unwrap()
            .is_some()
    );
    let withheld = (true, false, 0, Some("replaced".to_owned()));
    assert_eq!(job().await, withheld);

    // The broker refusing it, or failing as a whole, changes nothing: it stays withheld.
    let ids = [claimed.jobs[0].outbox_id];
    let parked = outbox::record_failure(&db, &ids, claimed.token, "refused", retrying(20))
        .await
        .unwrap();
    assert_eq!(parked, 0);
    outbox::release(&db, &ids, claimed.token, "broker gone", 1.0)
        .await
        .unwrap();
    assert_eq!(job().await, withheld);
    // Had the broker confirmed it, it went out: published, not parked.
    outbox::mark_published(&db, &[&claimed.jobs[0]])
        .await
        .unwrap();
    assert_eq!(job().await, (false, true, 1, None));
}
