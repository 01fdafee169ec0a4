//! Safe to expose: what a hostile or careless client can do to the service process, measured
//! on the real binary. Bodies are bounded on every protocol (HTTP/2 without a length too) while
//! the connection's other streams keep working; slow and silent connections are cut off;
//! invented methods add no metric series; without development mode the binary refuses to
//! start on missing or weak secrets.

#[path = "support/mod.rs"]
mod helpers;

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::stream;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use helpers::process::{ServiceProcess, free_port};
use helpers::{Prepared, spawn_app, spawn_app_with};

const MIB: usize = 1024 * 1024;

/// The process's peak resident memory so far, in bytes (`VmHWM` in /proc).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc status");
    kib * 1024
}

/// `total` bytes in 64 KiB chunks, produced as they are sent: no length is known up front.
fn endless_body(total: usize) -> reqwest::Body {
    const CHUNK: usize = 64 * 1024;
    let chunks = stream::iter(
        (0..total / CHUNK)
            .map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from_static(&[b'x'; CHUNK]))),
    );
    reqwest::Body::wrap_stream(chunks)
}

#[tokio::test]
async fn a_64_mib_body_without_a_length_gets_413_on_http2_and_http1_and_memory_stays_flat() {
    let prepared = Prepared::new().await;
    let service = ServiceProcess::start(&prepared, free_port(), &[]).await;
    let app = prepared.client_for(service.address.clone()).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let h1 = reqwest::Client::builder().http1_only().build().unwrap();
    // The same calls with small bodies first: pools, buffers and threads warm up before the
    // baseline is read.
    for client in [&h2, &h1] {
        for path in ["/api/uploads", "/api/storage-events"] {
            for _ in 0..20 {
                let response = client
                    .post(app.url(path))
                    .bearer_auth(&app.token)
                    .header("content-type", "application/json")
                    .body(endless_body(128 * 1024))
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_client_error());
            }
        }
    }
    let before = peak_rss(service.pid());

    for (protocol, client) in [("HTTP/2", &h2), ("HTTP/1.1 chunked", &h1)] {
        for path in ["/api/uploads", "/api/storage-events"] {
            let response = client
                .post(app.url(path))
                .bearer_auth(&app.token)
                .header("content-type", "application/json")
                .body(endless_body(64 * MIB))
                .send()
                .await
                .unwrap_or_else(|err| panic!("{protocol} {path}: {err}"));
            assert_eq!(
                response.status(),
                StatusCode::PAYLOAD_TOO_LARGE,
                "{protocol} {path}"
            );
            if protocol == "HTTP/2" {
                assert_eq!(response.version(), reqwest::Version::HTTP_2);
            }
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["code"], "payload-too-large");
        }
        // The same connection (HTTP/2: the same one, other streams) still serves.
        let health = client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK, "{protocol} after the 413s");
    }

    let grown = peak_rss(service.pid()).saturating_sub(before);
    println!(
        "peak RSS grew by {:.1} MiB over four 64 MiB bodies",
        grown as f64 / MIB as f64
    );
    assert!(
        grown < 16 * MIB as u64,
        "the service's peak RSS grew by {grown} bytes"
    );
}

/// Reads until the peer closes; how long that took, or `None` if it stayed open past `limit`.
async fn time_to_close(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

#[tokio::test]
async fn half_sent_headers_and_silent_connections_are_closed_within_the_timeout() {
    let app = spawn_app_with(&["--header-read-timeout=1"]).await;
    let address = app.address.trim_start_matches("http://").to_owned();

    let mut half = TcpStream::connect(&address).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(&address).await.unwrap();

    // Others are served meanwhile.
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    for (what, stream) in [("half-sent header", &mut half), ("silent", &mut silent)] {
        let closed = time_to_close(stream, Duration::from_secs(10)).await;
        let closed = closed.unwrap_or_else(|| panic!("the {what} connection stayed open"));
        assert!(
            closed < Duration::from_secs(5),
            "{what}: closed after {closed:?}"
        );
    }
}

#[tokio::test]
async fn beyond_the_connection_cap_clients_wait_for_a_free_slot() {
    let app = spawn_app_with(&["--max-connections=1", "--header-read-timeout=1"]).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    // The hog's header timeout runs from its accept, which comes after this instant.
    let started = Instant::now();
    let mut hog = TcpStream::connect(&address).await.unwrap();
    hog.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    // The slot is taken once the server has accepted the hog (it is first in the backlog).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // Served only once the hog's header timeout freed the one slot.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn invented_methods_add_no_series_to_the_metrics() {
    let app = spawn_app().await;
    let send = |method: String| {
        let request = app.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            app.url("/healthz"),
        );
        async move { request.send().await.unwrap().status() }
    };
    send("X0Y".into()).await;
    let scrape = || async {
        app.http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // The HTTP series only: the sweepers' first pass may add storage series meanwhile.
    let series = |text: &str| text.lines().filter(|l| l.starts_with("uc_http_")).count();
    // A scrape's own series show from the next scrape on.
    scrape().await;
    let after_one = series(&scrape().await);
    for n in 1..200 {
        assert!(send(format!("X{n}Y")).await.is_client_error());
    }
    let text = scrape().await;
    assert_eq!(
        series(&text),
        after_one,
        "200 invented methods added series"
    );
    assert!(!text.contains("X1Y"));
    assert!(text.contains("method=\"other\""));
}

/// The binary with nothing from the environment but what is given: no development mode.
fn start_bare(env: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_upload-coordinator"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn without_secrets_or_development_mode_the_binary_exits_naming_the_variable() {
    let database = ("UC_DATABASE_URL", "postgres://127.0.0.1:1/none");
    let broker = ("UC_AMQP_URL", "amqp://127.0.0.1:1/%2f");
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[], "UC_DATABASE_URL"),
        (&[database], "UC_AMQP_URL"),
        (&[database, broker], "UC_JWT_SECRET"),
        (
            &[database, broker, ("UC_JWT_SECRET", "too-short")],
            "at least 32",
        ),
    ];
    for (env, named) in cases {
        let (succeeded, stderr) = start_bare(env);
        assert!(!succeeded, "started with {env:?}");
        assert!(stderr.contains(named), "{env:?}: {stderr}");
    }
    let (succeeded, stderr) = start_bare(&[("UC_DEV_MODE", "true"), ("UC_LISTEN", "0.0.0.0:0")]);
    assert!(!succeeded);
    assert!(stderr.contains("loopback"), "{stderr}");
}

#[tokio::test]
async fn an_http2_connection_that_starts_no_request_is_closed_despite_its_frames() {
    let app = spawn_app_with(&["--header-read-timeout=1", "--idle-timeout=2"]).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).await.unwrap();
    // The HTTP/2 preface and an empty SETTINGS frame, then only PINGs: no request ever.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let ping = b"\0\0\x08\x06\0\0\0\0\0\x01\x02\x03\x04\x05\x06\x07\x08";
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    let closed = loop {
        if started.elapsed() > Duration::from_secs(10) {
            break false;
        }
        if stream.write_all(ping).await.is_err() {
            break true;
        }
        match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            _ => {}
        }
    };
    assert!(closed, "the frames kept the connection open");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
