//! Faults injected into the shared stack, each undone on drop so a failing test never leaves
//! the broker stopped, alarmed or storage down. Tests using them run one at a time.

use std::path::Path;
use std::process::Command;

fn rabbitmqctl(args: &[&str]) -> String {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl is installed with RabbitMQ");
    assert!(output.status.success(), "rabbitmqctl {args:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// RabbitMQ's application stopped; started again on drop.
pub struct BrokerStopped;

impl BrokerStopped {
    pub fn stop() -> Self {
        rabbitmqctl(&["stop_app"]);
        Self
    }
}

impl Drop for BrokerStopped {
    fn drop(&mut self) {
        rabbitmqctl(&["start_app"]);
    }
}

/// RabbitMQ's memory alarm raised (publishers are blocked); the watermark it had is restored
/// on drop.
pub struct MemoryAlarm {
    watermark: String,
}

impl MemoryAlarm {
    pub fn raise() -> Self {
        let watermark = rabbitmqctl(&["eval", "vm_memory_monitor:get_vm_memory_high_watermark()."]);
        rabbitmqctl(&["set_vm_memory_high_watermark", "0.000001"]);
        Self { watermark }
    }
}

impl Drop for MemoryAlarm {
    fn drop(&mut self) {
        let restore = format!(
            "vm_memory_monitor:set_vm_memory_high_watermark({}).",
            self.watermark
        );
        rabbitmqctl(&["eval", &restore]);
    }
}

fn test_stack(action: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(root.join("scripts/stack.sh"))
        .arg(action)
        .env("STACK_NAME", "test")
        .status()
        .expect("the stack script runs");
    assert!(status.success(), "scripts/stack.sh {action}");
}

/// The test SeaweedFS stopped; started again on drop.
pub struct StorageStopped;

impl StorageStopped {
    pub fn stop() -> Self {
        test_stack("down");
        Self
    }
}

impl Drop for StorageStopped {
    fn drop(&mut self) {
        test_stack("up");
    }
}

/// CPU time the process has used so far, in seconds (user + system, from /proc).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("a command name")
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    let per_second = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .unwrap_or(100.0);
    ticks / per_second
}
