//! One per replica: hears the ids of committed status changes (PostgreSQL NOTIFY, so changes
//! made on any replica), reads each once, and fans it out to this replica's open streams.
//! When it may have missed some (LISTEN reconnected, its queue overflowed, a read failed) it
//! tells the streams to catch up from the database instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use deadpool_postgres::Pool;
use tokio::sync::{broadcast, mpsc, watch};

use crate::db::events::{self, UploadEvent};
use crate::db::listen::{Heard, Subscription};
use crate::db::{self, DbError};
use crate::metrics::Metrics;

/// Event ids waiting to be read; beyond this the hub resynchronises instead of queueing.
const QUEUE: usize = 4096;
/// Events read in one query.
const BATCH: usize = 256;
/// Messages a slow stream may fall behind by before it catches up from the database.
const FAN_OUT: usize = 1024;

#[derive(Clone, Debug)]
pub enum HubMessage {
    Event(Arc<UploadEvent>),
    /// Events may have been missed: read what came after your last one.
    CatchUp,
}

pub struct StatusHub {
    pub(super) db: Pool,
    pub(super) checksums_verified: bool,
    pub(super) max_per_owner: u32,
    pub(super) metrics: Arc<Metrics>,
    ids: mpsc::Sender<i64>,
    /// Held by the running `run` (a restarted one takes it over).
    receiver: tokio::sync::Mutex<mpsc::Receiver<i64>>,
    overflowed: AtomicBool,
    fan_out: broadcast::Sender<HubMessage>,
    streams: Mutex<OpenStreams>,
    /// Streams open on this replica at most, whoever holds them.
    max_streams: u32,
    catch_ups: tokio::sync::Semaphore,
    closing: watch::Sender<bool>,
}

#[derive(Default)]
struct OpenStreams {
    by_owner: HashMap<String, u32>,
    total: u32,
}

/// Streams reading the database at once to catch up.
const CATCH_UPS: usize = 4;

/// No more streams for this owner, or at all, on this replica.
#[derive(Debug, thiserror::Error)]
pub enum TooManyStreams {
    #[error("this owner already has {0} status streams open")]
    Owner(u32),
    #[error("this replica has {0} status streams open, as many as it serves")]
    Replica(u32),
}

/// One open stream, counted against its owner until dropped.
pub struct StreamSlot {
    hub: Arc<StatusHub>,
    owner: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = self.hub.streams.lock().expect("not poisoned");
        streams.total -= 1;
        if let Some(open) = streams.by_owner.get_mut(&self.owner) {
            *open -= 1;
            if *open == 0 {
                streams.by_owner.remove(&self.owner);
            }
        }
        self.hub.metrics.event_streams.dec();
    }
}

impl StatusHub {
    pub fn new(
        db: Pool,
        checksums_verified: bool,
        max_per_owner: u32,
        max_streams: u32,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let (ids, receiver) = mpsc::channel(QUEUE);
        Arc::new(Self {
            db,
            checksums_verified,
            max_per_owner,
            metrics,
            ids,
            receiver: tokio::sync::Mutex::new(receiver),
            overflowed: AtomicBool::new(false),
            fan_out: broadcast::channel(FAN_OUT).0,
            streams: Mutex::default(),
            max_streams,
            catch_ups: tokio::sync::Semaphore::new(CATCH_UPS),
            closing: watch::channel(false).0,
        })
    }

    /// What the LISTEN connection hands over on the events channel.
    pub fn subscription(self: &Arc<Self>) -> Subscription {
        let hub = self.clone();
        Subscription {
            channel: events::CHANNEL,
            on: Arc::new(move |heard| hub.heard(heard)),
        }
    }

    fn heard(&self, heard: Heard<'_>) {
        match heard {
            Heard::Listening => self.catch_up(),
            Heard::Notification(payload) => {
                // `0` only wakes webhook workers (a replay); no stream listening, nothing to read.
                let Ok(id) = payload.parse::<i64>() else {
                    return;
                };
                if id <= 0 || self.fan_out.receiver_count() == 0 {
                    return;
                }
                if self.ids.try_send(id).is_err() {
                    self.overflowed.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    fn catch_up(&self) {
        let _ = self.fan_out.send(HubMessage::CatchUp);
    }

    /// Counts a new stream of `owner` in, or refuses it over the cap.
    pub(super) fn open(self: &Arc<Self>, owner: &str) -> Result<StreamSlot, TooManyStreams> {
        let mut streams = self.streams.lock().expect("not poisoned");
        if streams.total >= self.max_streams {
            return Err(TooManyStreams::Replica(self.max_streams));
        }
        let open = streams.by_owner.entry(owner.to_owned()).or_default();
        if *open >= self.max_per_owner {
            return Err(TooManyStreams::Owner(self.max_per_owner));
        }
        *open += 1;
        streams.total += 1;
        self.metrics.event_streams.inc();
        Ok(StreamSlot {
            hub: self.clone(),
            owner: owner.to_owned(),
        })
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<HubMessage> {
        self.fan_out.subscribe()
    }

    pub(super) async fn catch_up_turn(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.catch_ups
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }

    pub(super) fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Reads and fans out events until `shutdown`, then ends every stream.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let mut ids = self.receiver.lock().await;
        // Whatever was queued before a restart may be incomplete.
        self.catch_up();
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                received = ids.recv_many(&mut batch, BATCH) => if received == 0 { break },
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
            if self.overflowed.swap(false, Ordering::Relaxed) {
                self.catch_up();
            }
            if let Err(err) = self.fan_out_events(&batch).await {
                tracing::warn!(error = %err, "status events not read; streams catch up");
                self.catch_up();
            }
            batch.clear();
        }
        // Kept for streams that open during the drain, too.
        self.closing.send_replace(true);
    }

    async fn fan_out_events(&self, ids: &[i64]) -> Result<(), DbError> {
        let client = db::client(&self.db).await?;
        for event in events::by_ids(&client, ids).await? {
            let _ = self.fan_out.send(HubMessage::Event(Arc::new(event)));
        }
        Ok(())
    }
}
