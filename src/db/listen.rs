//! LISTEN on a PostgreSQL channel over a dedicated connection (pooled ones cannot hold a
//! LISTEN), waking a `Notify` on every notification. Reconnects with backoff.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::{Notify, watch};
use tokio_postgres::{AsyncMessage, NoTls};

use crate::broker::Backoff;
use crate::config::Secret;

/// Runs until `shutdown` turns true.
pub async fn wake_on_notify(
    url: Secret,
    channel: &'static str,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::default();
    while !*shutdown.borrow() {
        match listen_once(&url, channel, &wake, &mut shutdown, &mut backoff).await {
            Ok(()) => return,
            Err(err) => {
                tracing::warn!(error = %err, channel, "LISTEN connection lost, reconnecting")
            }
        }
        // Whatever was notified while we were away is picked up by the next poll.
        wake.notify_one();
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn listen_once(
    url: &Secret,
    channel: &str,
    wake: &Notify,
    shutdown: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(url.expose(), NoTls).await?;
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
