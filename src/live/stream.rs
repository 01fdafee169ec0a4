//! One owner's status stream as Server-Sent Events: the events after `Last-Event-ID` from the
//! database first, then live ones from the hub, with heartbeats, until the stream's age runs
//! out or the replica shuts down (the browser reconnects and resumes by itself).
//!
//! Event ids follow insertion, which two transactions can commit in the other order; live
//! events go out as they commit, so a resume from an id can miss an event committed after it
//! but numbered before it. Such a change is seconds old at most: a client that must see every
//! change lists its uploads after each reconnect.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use poem_openapi::types::ToJSON;
use tokio::sync::{broadcast, watch};
use tokio::time::{Instant, Interval};

use super::hub::{HubMessage, StatusHub, StreamSlot, TooManyStreams};
use crate::api::event_view::UploadEventView;
use crate::db::events::{self, UploadEvent};
use crate::db::{self, DbError};

/// Events read from the database at a time while catching up.
const PAGE: i64 = 200;
/// Ids remembered to send each event once when a catch-up overlaps live events.
const REMEMBERED: usize = 1024;
/// How soon a browser reconnects after the stream ends.
const RETRY_MS: u64 = 2000;

/// How a stream behaves.
#[derive(Clone, Copy, Debug)]
pub struct StreamLimits {
    pub heartbeat: Duration,
    pub max_age: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    TooMany(#[from] TooManyStreams),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Opens `owner`'s stream, resuming after `last_event_id` when given.
pub async fn open(
    hub: &Arc<StatusHub>,
    owner: &str,
    last_event_id: Option<i64>,
    limits: StreamLimits,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, OpenError> {
    let slot = hub.open(owner)?;
    // Subscribed before the database is read, so nothing falls between the two.
    let live = hub.subscribe();
    let mut first = format!(": status stream\nretry: {RETRY_MS}\n");
    let (resume_after, last_seq) = match last_event_id {
        Some(id) => (Some(id), id),
        None => {
            // The id only: it sets the browser's Last-Event-ID without dispatching anything.
            let latest = events::owner_latest(&db::client(&hub.db).await?, owner).await?;
            first.push_str(&format!("id: {latest}\n"));
            (None, latest)
        }
    };
    first.push('\n');
    let mut heartbeat =
        tokio::time::interval_at(Instant::now() + limits.heartbeat, limits.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = StreamState {
        hub: hub.clone(),
        owner: owner.to_owned(),
        live,
        closing: hub.closing(),
        queue: VecDeque::from([Bytes::from(first)]),
        catch_up_after: resume_after,
        last_seq,
        sent: Remembered::default(),
        heartbeat,
        ends_at: Instant::now() + limits.max_age,
        ended: false,
        _slot: slot,
    };
    Ok(futures_util::stream::unfold(
        state,
        |mut state| async move {
            let chunk = state.next_chunk().await?;
            Some((Ok(chunk), state))
        },
    ))
}

/// Why a waiting stream woke.
enum Woke {
    Live(Result<HubMessage, broadcast::error::RecvError>),
    End,
}

struct StreamState {
    hub: Arc<StatusHub>,
    owner: String,
    live: broadcast::Receiver<HubMessage>,
    closing: watch::Receiver<bool>,
    queue: VecDeque<Bytes>,
    /// Read the owner's events after this id from the database before going on.
    catch_up_after: Option<i64>,
    /// The highest id sent.
    last_seq: i64,
    sent: Remembered,
    heartbeat: Interval,
    ends_at: Instant,
    ended: bool,
    _slot: StreamSlot,
}

impl StreamState {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.queue.pop_front() {
                return Some(chunk);
            }
            if self.ended {
                return None;
            }
            if let Some(after) = self.catch_up_after.take() {
                if let Err(err) = self.catch_up(after).await {
                    // The browser reconnects and tries again.
                    tracing::warn!(error = %err, "status stream could not catch up; ending it");
                    self.ended = true;
                }
                continue;
            }
            let woke = tokio::select! {
                message = self.live.recv() => Woke::Live(message),
                _ = self.heartbeat.tick() => return Some(Bytes::from_static(b": heartbeat\n\n")),
                _ = tokio::time::sleep_until(self.ends_at) => Woke::End,
                _ = self.closing.wait_for(|closing| *closing) => Woke::End,
            };
            match woke {
                Woke::Live(Ok(HubMessage::Event(event))) => self.offer(&event),
                Woke::Live(Ok(HubMessage::CatchUp))
                | Woke::Live(Err(broadcast::error::RecvError::Lagged(_))) => {
                    self.catch_up_after = Some(self.last_seq);
                }
                Woke::Live(Err(broadcast::error::RecvError::Closed)) | Woke::End => {
                    self.ended = true;
                }
            }
        }
    }

    /// Queues one page of the owner's events after `after`, and asks for the next page when
    /// this one was full.
    async fn catch_up(&mut self, after: i64) -> Result<(), DbError> {
        // When every stream catches up at once (LISTEN reconnected), a few at a time, so the
        // API keeps its database connections.
        let hub = self.hub.clone();
        let page = {
            let _turn = hub.catch_up_turn().await;
            let client = db::client(&hub.db).await?;
            events::owner_since(&client, &self.owner, after, PAGE).await?
        };
        if page.len() as i64 == PAGE {
            self.catch_up_after = page.last().map(|event| event.seq);
        }
        for event in &page {
            self.offer(event);
        }
        Ok(())
    }

    fn offer(&mut self, event: &UploadEvent) {
        if event.upload.owner != self.owner || !self.sent.insert(event.seq) {
            return;
        }
        let Some(view) = UploadEventView::new(event, self.hub.checksums_verified) else {
            return;
        };
        self.last_seq = self.last_seq.max(event.seq);
        // Compact JSON holds no raw newline, so one `data:` line carries it.
        let chunk = format!("id: {}\ndata: {}\n\n", event.seq, view.to_json_string());
        self.queue.push_back(Bytes::from(chunk));
    }
}

/// The ids sent lately, forgetting the oldest beyond `REMEMBERED`.
#[derive(Default)]
struct Remembered {
    order: VecDeque<i64>,
    ids: HashSet<i64>,
}

impl Remembered {
    /// Whether `id` is new (and now remembered).
    fn insert(&mut self, id: i64) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_id_is_sent_once_within_the_remembered_window() {
        let mut sent = Remembered::default();
        assert!(sent.insert(5));
        assert!(!sent.insert(5));
        for id in 6..6 + REMEMBERED as i64 {
            assert!(sent.insert(id));
        }
        // 5 was forgotten to keep memory bounded.
        assert!(sent.insert(5));
        assert_eq!(sent.ids.len(), sent.order.len());
    }
}
