//! LISTEN on a PostgreSQL channel over a dedicated connection (pooled ones cannot hold a
//! LISTEN), waking a `Notify` on every notification. Reconnects with backoff whenever the
//! connection ends, however it ends (an error, or the server closing it cleanly), until shutdown.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::{Notify, watch};
use tokio_postgres::{AsyncMessage, NoTls};

use crate::backoff::{Backoff, Reconnecting, reconnecting};
use crate::config::Secret;

/// How the LISTEN connection shows in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "upload-coordinator/listen";

/// Runs until `shutdown` turns true.
pub async fn wake_on_notify(
    url: Secret,
    channel: &'static str,
    wake: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
) {
    reconnecting(&Listener { url, channel, wake }, shutdown).await;
}

struct Listener {
    url: Secret,
    channel: &'static str,
    wake: Arc<Notify>,
}

impl Reconnecting for Listener {
    type Error = tokio_postgres::Error;

    fn name(&self) -> &str {
        self.channel
    }

    async fn session(
        &self,
        backoff: &mut Backoff,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), tokio_postgres::Error> {
        listen_once(&self.url, self.channel, &self.wake, shutdown, backoff).await
    }
}

async fn listen_once(
    url: &Secret,
    channel: &str,
    wake: &Notify,
    shutdown: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
) -> Result<(), tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.expose().parse()?;
    config.application_name(APPLICATION_NAME);
    let (client, mut connection) = config.connect(NoTls).await?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let statement = format!("LISTEN {channel}");
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
    // Whatever was committed while we were away: the relay looks now that LISTEN holds again.
    wake.notify_one();
    loop {
        tokio::select! {
            message = messages.next() => match message {
                Some(Ok(AsyncMessage::Notification(_))) => wake.notify_one(),
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err),
                None => return Ok(()),
            },
            _ = shutdown.changed() => return Ok(()),
        }
    }
}
