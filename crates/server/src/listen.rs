//! Accepting connections: caps on how many are open (overall and per client address) and
//! the timeouts that disconnect clients who stall, in front of hyper's HTTP/1 connection.
//!
//! ```text
//!  accept ─► admit? ── no ──► 503, closed at once (never queued)
//!              │ yes (a Slot, given back when the connection ends)
//!              ▼
//!  hyper http1 connection ── first request's headers within header_timeout
//!                          ── later requests: idle gap + headers within idle_timeout
//!                          ── request body: no pause longer than body_timeout
//!                          ── response: no write blocked longer than WRITE_STALL
//! ```
//!
//! hyper's buffer for a response is capped at [`BUF_MAX`], and a client that stops
//! reading is cut after [`WRITE_STALL`], so a connection holds a bounded amount of
//! memory however its client behaves (live streams rely on it, issue 21).
//!
//! axum's own `serve` sets none of these (hyper gets no timer), which let half-sent
//! requests hold sockets until the file-descriptor limit was reached (issue 14).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::time::Sleep;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

/// The `[server]` settings the accept loop enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
}

impl Limits {
    pub(crate) fn from_config(c: &sitrep_app::config::ServerConfig) -> Limits {
        Limits {
            header_timeout: c.header_timeout,
            body_timeout: c.body_timeout,
            idle_timeout: c.idle_timeout,
            max_connections: c.max_connections,
            max_connections_per_ip: c.max_connections_per_ip,
        }
    }
}

/// Longest one write to a client may stay blocked (its socket buffers full because it
/// does not read) before the connection is closed.
pub(crate) const WRITE_STALL: Duration = Duration::from_secs(30);
/// hyper's read and write buffer cap per connection (request headers included; its
/// default is about 400 KiB).
pub(crate) const BUF_MAX: usize = 64 << 10;

/// What a refused connection is told before it is closed. Written without waiting: a
/// fresh socket's send buffer is empty, and a client that cannot take 100 bytes gets
/// nothing rather than a slot.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\
retry-after: 1\r\ncontent-length: 0\r\n\r\n";

/// Serves `app` on `listener` until `signal` resolves; then stops accepting, asks every
/// connection to finish its request in flight and close, and returns once all have.
pub(crate) async fn serve(
    mut listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    signal: impl Future<Output = ()>,
) {
    let counts = Arc::new(Counts::new(limits));
    // Connections hold a receiver: `true` asks them to shut down gracefully, and the
    // sender sees `closed()` once the last one has ended.
    let (stop, stopped) = watch::channel(false);
    tokio::pin!(signal);
    loop {
        // axum's accept retries on errors, pausing a second when out of file descriptors.
        let (tcp, peer) = tokio::select! {
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            () = &mut signal => break,
        };
        match counts.admit(peer.ip()) {
            Some(slot) => {
                let client = crate::auth::ClientAddr(peer.ip().to_canonical());
                let conn = connection(tcp, app.clone(), limits, stopped.clone(), slot, client);
                tokio::spawn(conn);
            }
            None => {
                tracing::debug!(%peer, "connection refused: too many open");
                let _ = tcp.try_write(REFUSED);
            }
        }
    }
    drop(listener);
    drop(stopped);
    stop.send_replace(true);
    stop.closed().await;
}

/// One connection, from admission to close. The `Slot` is given back when this ends.
async fn connection(
    tcp: TcpStream,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    _slot: Slot,
    client: crate::auth::ClientAddr,
) {
    let first = Arc::new(Notify::new());
    let seen = first.clone();
    let body_timeout = limits.body_timeout;
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // hyper calls the service once a request's headers are complete.
        seen.notify_one();
        req.extensions_mut().insert(client);
        app.clone()
            .oneshot(req.map(|body| TimeoutBody::new(body_timeout, body)))
    });
    let mut http = http1::Builder::new();
    // hyper runs this timer from the moment it waits for a request's head, so on a
    // kept-alive connection it covers the idle gap plus the next headers; it does not
    // run while a response (a live stream included) is being written.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout)
        .max_buf_size(BUF_MAX);
    let io = WriteDeadline::new(tcp, WRITE_STALL);
    let conn = http.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    // The first request's headers get the (shorter) header timeout.
    let headers = tokio::time::timeout(limits.header_timeout, first.notified());
    tokio::pin!(headers);
    let (mut awaiting_headers, mut stopping) = (true, false);
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            waited = &mut headers, if awaiting_headers => {
                awaiting_headers = false;
                if waited.is_err() {
                    tracing::debug!("no request headers within header_timeout: closed");
                    return;
                }
            }
            _ = stop.wait_for(|s| *s), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// A socket whose writes fail with `TimedOut` once one has been blocked for `limit`.
pub(crate) struct WriteDeadline<T> {
    inner: T,
    limit: Duration,
    blocked: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteDeadline<T> {
    pub(crate) fn new(inner: T, limit: Duration) -> WriteDeadline<T> {
        WriteDeadline {
            inner,
            limit,
            blocked: None,
        }
    }

    /// After the socket said Pending: arms the deadline (once per blocked stretch) and
    /// registers the waker with it, so the task wakes to fail the write.
    fn pending<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let limit = self.limit;
        let sleep = self
            .blocked
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn guard<R>(&mut self, cx: &mut Context<'_>, p: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match p {
            Poll::Pending => self.pending(cx),
            ready => {
                self.blocked = None;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, p)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, p)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_flush(cx);
        self.guard(cx, p)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.guard(cx, p)
    }
}

/// Open connections, overall and per client address.
struct Counts {
    limits: Limits,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection's place in the counts, given back on drop.
struct Slot {
    counts: Arc<Counts>,
    ip: IpAddr,
}

impl Counts {
    fn new(limits: Limits) -> Counts {
        Counts {
            limits,
            open: Mutex::new(Open::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // The counts are consistent after every statement, so a panic elsewhere while
        // holding the lock leaves nothing half-done.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a connection from `ip`, or `None` when a cap is reached.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        // An IPv4 client reaching an IPv6 socket is the same client as over IPv4.
        let ip = ip.to_canonical();
        let mut open = self.lock();
        let from_ip = open.per_ip.get(&ip).copied().unwrap_or(0);
        if open.total >= self.limits.max_connections
            || from_ip >= self.limits.max_connections_per_ip
        {
            return None;
        }
        open.total += 1;
        open.per_ip.insert(ip, from_ip + 1);
        Some(Slot {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.counts.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                // Keeps the map as small as the set of clients connected right now.
                open.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, per_ip: usize) -> Limits {
        Limits {
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            max_connections: max,
            max_connections_per_ip: per_ip,
        }
    }

    #[test]
    fn caps_refuse_and_dropped_slots_are_given_back() {
        let counts = Arc::new(Counts::new(limits(3, 2)));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = counts.admit(a).unwrap();
        let _a2 = counts.admit(a).unwrap();
        assert!(counts.admit(a).is_none(), "per-address cap");
        let _b1 = counts.admit(b).unwrap();
        assert!(counts.admit(b).is_none(), "overall cap");
        drop(a1);
        assert!(
            counts.admit(a).is_some(),
            "a closed connection frees its slot"
        );
    }

    #[tokio::test]
    async fn a_write_blocked_past_its_deadline_fails() {
        use tokio::io::AsyncWriteExt;
        // A 1-byte pipe nobody reads: the second write blocks.
        let (a, _b) = tokio::io::duplex(1);
        let mut w = WriteDeadline::new(a, Duration::from_millis(100));
        w.write_all(b"x").await.unwrap();
        let started = std::time::Instant::now();
        let e = w.write_all(b"y").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    fn an_ipv4_client_over_ipv6_counts_as_itself() {
        let counts = Arc::new(Counts::new(limits(10, 1)));
        let _v4 = counts.admit("10.0.0.1".parse().unwrap()).unwrap();
        assert!(counts.admit("::ffff:10.0.0.1".parse().unwrap()).is_none());
    }
}
