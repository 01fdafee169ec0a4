//! The service as a separate process, for tests that kill it.

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
        let mut flags = prepared.flags(extra);
        flags.push(format!("--listen=127.0.0.1:{port}"));
        let child = Command::new(env!("CARGO_BIN_EXE_upload-coordinator"))
            .args(&flags)
            .arg("serve")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the service binary starts");
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
