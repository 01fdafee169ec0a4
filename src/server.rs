//! The HTTP server: HTTP/1 and HTTP/2 (cleartext too) with the limits a reverse proxy would
//! set, so a client cannot hold the service's memory or connections: a header-read timeout, an
//! idle timeout, bounded headers and HTTP/2 streams, and a cap on open connections (further
//! ones wait in the listen backlog). Idle means no request in flight and none started for a
//! while: pings and window updates keep nothing open. A new connection must start its first
//! request within the header timeout. On shutdown, requests in flight get the grace period.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::endpoint::BoxEndpoint;
use poem::http;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, EndpointExt, Response};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// Headers (HTTP/1 request line and headers, HTTP/2 header list) are bounded by this.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// HTTP/1 headers per request at most.
const MAX_HEADERS: usize = 100;

#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub http2_max_streams: u32,
}

type Handler = Arc<BoxEndpoint<'static, Response>>;

/// Serves `endpoint` on `listener` until `shutdown` resolves, then lets connections finish
/// their requests for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    endpoint: impl Endpoint + 'static,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) -> io::Result<()> {
    let handler: Handler = Arc::new(endpoint.map_to_response().boxed());
    let local = listener.local_addr()?;
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, remote)) => {
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                let stopping = stopping.clone();
                connections.spawn(async move {
                    serve_connection(stream, local, remote, handler, limits, stopping).await;
                    drop(slot);
                });
            }
            Err(err) => {
                // Out of file descriptors, say: pause instead of spinning.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "connections still open after the grace period"
        );
    }
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    local: SocketAddr,
    remote: SocketAddr,
    handler: Handler,
    limits: ServerLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::default());
    let io = TokioIo::new(stream);
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let handler = handler.clone();
        let in_flight = InFlight::start(requests.clone());
        let activity = requests.clone();
        async move {
            let req = poem::Request::from((
                req,
                LocalAddr(Addr::SocketAddr(local)),
                RemoteAddr(Addr::SocketAddr(remote)),
                http::uri::Scheme::HTTP,
            ));
            let response = handler.get_response(req).await;
            drop(in_flight);
            // Each frame of a body sent counts as activity: a streamed response (the status
            // stream, with its heartbeats) keeps its connection, while a client that stops
            // reading is still cut off after the idle timeout.
            let response =
                http::Response::<BoxBody<Bytes, io::Error>>::from(response).map(|body| {
                    body.map_frame(move |frame| {
                        activity.happened.store(true, Ordering::Relaxed);
                        frame
                    })
                    .boxed()
                });
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_streams)
        .max_header_list_size(MAX_HEADER_BYTES as u32)
        .max_pending_accept_reset_streams(20)
        .keep_alive_interval(limits.idle_timeout / 2)
        .keep_alive_timeout(Duration::from_secs(20));
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    let idle = idle_watch(activity, limits.header_read_timeout, limits.idle_timeout);
    tokio::pin!(idle);
    let reason = tokio::select! {
        _ = connection.as_mut() => return,
        _ = &mut idle => "idle",
        _ = stopping.wait_for(|stop| *stop) => "shutdown",
    };
    tracing::debug!(%remote, reason, "closing connection");
    // Requests in flight finish; a client that keeps the connection busy past another idle
    // period is cut off.
    connection.as_mut().graceful_shutdown();
    if tokio::time::timeout(limits.idle_timeout, connection)
        .await
        .is_err()
    {
        tracing::debug!(%remote, "connection dropped after its graceful close timed out");
    }
}

/// Resolves once a whole `timeout` passes with no request in flight and none started or
/// finished, or when a new connection starts no request within `first` (hyper's header timer
/// starts only once it knows the protocol, and an HTTP/2 client may send only frames).
async fn idle_watch(activity: Arc<Activity>, first: Duration, timeout: Duration) {
    let mut period = first;
    loop {
        tokio::time::sleep(period).await;
        let busy = activity.in_flight.load(Ordering::Relaxed) > 0;
        if !activity.happened.swap(false, Ordering::Relaxed) && !busy {
            return;
        }
        period = timeout;
    }
}

/// Requests on one connection, for the idle timeout.
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    /// A request started or finished since the idle watch last looked.
    happened: AtomicBool,
}

/// One request in flight; counted out when its handler has answered (or it is dropped).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.happened.store(true, Ordering::Relaxed);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.happened.store(true, Ordering::Relaxed);
    }
}
