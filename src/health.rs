//! What is up and what is down, for `/readyz`: each background part reports its RabbitMQ
//! connection, and the supervisor reports background tasks that died.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::Mutex;

/// One thing that can be down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// A RabbitMQ connection, named by who holds it.
    Broker(&'static str),
    /// A background task.
    Task(&'static str),
}

impl Part {
    fn describe(self, why: &str) -> String {
        match self {
            Self::Broker(user) => format!("rabbitmq ({user}): {why}"),
            Self::Task(name) => format!("background task {name}: {why}"),
        }
    }
}

#[derive(Debug, Default)]
pub struct Health {
    /// `None` while up, the reason while down.
    parts: Mutex<BTreeMap<Part, Option<String>>>,
}

/// What readiness reports beyond the database and storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// `None` when nothing uses the broker.
    pub broker: Option<bool>,
    pub background: bool,
    /// One line per part that is down.
    pub down: Vec<String>,
}

impl Health {
    pub fn up(&self, part: Part) {
        self.parts.lock().expect("not poisoned").insert(part, None);
    }

    pub fn down(&self, part: Part, why: impl Display) {
        self.parts
            .lock()
            .expect("not poisoned")
            .insert(part, Some(why.to_string()));
    }

    pub fn snapshot(&self) -> Snapshot {
        let parts = self.parts.lock().expect("not poisoned");
        let broker_parts: Vec<bool> = parts
            .iter()
            .filter(|(part, _)| matches!(part, Part::Broker(_)))
            .map(|(_, why)| why.is_none())
            .collect();
        Snapshot {
            broker: (!broker_parts.is_empty()).then(|| broker_parts.iter().all(|up| *up)),
            background: parts
                .iter()
                .all(|(part, why)| !matches!(part, Part::Task(_)) || why.is_none()),
            down: parts
                .iter()
                .filter_map(|(part, why)| why.as_deref().map(|why| part.describe(why)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_down_shows_until_it_is_up_again() {
        let health = Health::default();
        assert_eq!(health.snapshot().broker, None);
        health.up(Part::Broker("relay"));
        health.down(Part::Broker("results"), "connection refused");
        health.down(Part::Task("sweeper"), "panicked");
        let snapshot = health.snapshot();
        assert_eq!(snapshot.broker, Some(false));
        assert!(!snapshot.background);
        assert_eq!(snapshot.down.len(), 2);
        assert!(snapshot.down[0].contains("rabbitmq (results)"));
        health.up(Part::Broker("results"));
        health.up(Part::Task("sweeper"));
        assert_eq!(
            health.snapshot(),
            Snapshot {
                broker: Some(true),
                background: true,
                down: vec![]
            }
        );
    }
}
