//! The service as a separate process, for tests that kill it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{Prepared, wait_for};

/// A running `upload-coordinator serve`; killed (SIGKILL) when dropped.
pub struct ServiceProcess {
    child: Child,
    pub address: String,
}

impl ServiceProcess {
    /// Starts the binary with the test flags plus `extra`, and waits until it is ready.
    pub async fn start(prepared: &Prepared, port: u16, extra: &[&str]) -> Self {
        Self::start_logging_to(prepared, port, extra, None).await
    }

    /// Like [`start`](Self::start), with everything the service logs (debug level for its
    /// own modules) written to `log` when given.
    pub async fn start_logging_to(
        prepared: &Prepared,
        port: u16,
        extra: &[&str],
        log: Option<&Path>,
    ) -> Self {
        let mut flags = prepared.flags(extra);
        flags.push(format!("--listen=127.0.0.1:{port}"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_upload-coordinator"));
        command.args(&flags).arg("serve").stdin(Stdio::null());
        match log {
            Some(path) => {
                let file = std::fs::File::create(path).expect("create the service log");
                command
                    .env("RUST_LOG", "info,upload_coordinator=debug")
                    .stdout(file.try_clone().unwrap())
                    .stderr(file);
            }
            None => {
                command
                    .env_remove("RUST_LOG")
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit());
            }
        }
        let child = command.spawn().expect("the service binary starts");
        let address = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let ready_url = format!("{address}/readyz");
        wait_for(
            "the service to be ready",
            Duration::from_secs(30),
            || async {
                let response = http.get(&ready_url).send().await.ok()?;
                response.status().is_success().then_some(())
            },
        )
        .await;
        Self { child, address }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then the exit status (waiting at most `within`).
    pub fn terminate(mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "send SIGTERM");
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// SIGKILL: no shutdown hooks, no draining.
    pub fn kill(mut self) {
        self.child.kill().expect("kill the service");
        self.child.wait().expect("reap the service");
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
