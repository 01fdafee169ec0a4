//! LISTEN on PostgreSQL channels over one dedicated connection (pooled ones cannot hold a
//! LISTEN), handing each notification to its channel's subscriber. Reconnects with backoff
//! whenever the connection ends, however it ends (an error, or the server closing it cleanly),
//! until shutdown; after each (re)connection every subscriber hears `Heard::Listening`, since
//! notifications sent while nobody listened are lost for good.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::{Notify, watch};
use tokio_postgres::{AsyncMessage, NoTls};

use crate::backoff::{Backoff, Reconnecting, reconnecting};
use crate::config::Secret;

/// How the LISTEN connection shows in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "upload-coordinator/listen";

/// What a subscriber hears.
#[derive(Clone, Copy, Debug)]
pub enum Heard<'a> {
    /// LISTEN holds (again): anything committed meanwhile went unannounced.
    Listening,
    Notification(&'a str),
}

/// A channel and what to do with what is heard on it. Called on the connection's task:
/// it must not block.
#[derive(Clone)]
pub struct Subscription {
    pub channel: &'static str,
    pub on: Arc<dyn Fn(Heard<'_>) + Send + Sync>,
}

impl Subscription {
    /// Wakes `wake` on every notification, and once LISTEN holds.
    pub fn waking(channel: &'static str, wake: Arc<Notify>) -> Self {
        Self {
            channel,
            on: Arc::new(move |_| wake.notify_one()),
        }
    }
}

/// Runs until `shutdown` turns true.
pub async fn listen(
    url: Secret,
    subscriptions: Vec<Subscription>,
    shutdown: watch::Receiver<bool>,
) {
    reconnecting(&Listener { url, subscriptions }, shutdown).await;
}

struct Listener {
    url: Secret,
    subscriptions: Vec<Subscription>,
}

impl Reconnecting for Listener {
    type Error = tokio_postgres::Error;

    fn name(&self) -> &str {
        "listen"
    }

    async fn session(
        &self,
        backoff: &mut Backoff,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), tokio_postgres::Error> {
        self.listen_once(shutdown, backoff).await
    }
}

impl Listener {
    fn hear(&self, channel: &str, heard: Heard<'_>) {
        for subscription in &self.subscriptions {
            if subscription.channel == channel {
                (subscription.on)(heard);
            }
        }
    }

    async fn listen_once(
        &self,
        shutdown: &mut watch::Receiver<bool>,
        backoff: &mut Backoff,
    ) -> Result<(), tokio_postgres::Error> {
        let mut config: tokio_postgres::Config = self.url.expose().parse()?;
        config.application_name(APPLICATION_NAME);
        let (client, mut connection) = config.connect(NoTls).await?;
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        let statement: String = self
            .subscriptions
            .iter()
            .map(|s| format!("LISTEN {};", s.channel))
            .collect();
        let listen = client.batch_execute(&statement);
        tokio::pin!(listen);
        // The connection must be driven while LISTEN runs.
        loop {
            tokio::select! {
                done = &mut listen => { done?; break; }
                message = messages.next() => match message {
                    Some(Ok(_)) => {}
                    Some(Err(err)) => return Err(err),
                    None => return Ok(()),
                }
            }
        }
        backoff.reset();
        for subscription in &self.subscriptions {
            (subscription.on)(Heard::Listening);
        }
        loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(Ok(AsyncMessage::Notification(n))) => {
                        self.hear(n.channel(), Heard::Notification(n.payload()));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(err)) => return Err(err),
                    None => return Ok(()),
                },
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }
}
