//! The HTTP listener's guard against slow or idle clients: at most `http.max_connections`
//! connections at once (past that the listener stops accepting until one closes, so the
//! kernel's backlog holds the rest), and a connection that moves no byte in either
//! direction for `http.idle_timeout_s` is closed — a client dripping its headers, a
//! keep-alive connection left open, or one that stopped reading our answer. (axum's
//! server sets no header-read timeout of its own.) Event streams stay open: their
//! keep-alive comments count as traffic.
//!
//! With TLS (`http.tls`), the listener accepts TCP as before and runs each handshake in a
//! task of its own (bounded by [`HANDSHAKE_TIMEOUT`] and the idle timeout, holding its
//! connection slot), so a client that connects and never says hello stalls nobody; the
//! finished TLS streams come back through a channel. The stack above (connect info
//! [`Peer`], cap, idle timeout) is the same for both.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::{Instant, Sleep};

/// Longest time a client may take over its TLS handshake (or the idle timeout if shorter).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP listener that caps connections and closes idle ones.
pub struct GuardedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    idle: Duration,
    tls: Option<TlsAccept>,
}

/// Handshakes in flight report here.
struct TlsAccept {
    acceptor: tokio_rustls::TlsAcceptor,
    timeout: Duration,
    done_tx: mpsc::Sender<(Conn, std::net::SocketAddr)>,
    done_rx: mpsc::Receiver<(Conn, std::net::SocketAddr)>,
}

impl GuardedListener {
    pub fn new(inner: TcpListener, max_connections: usize, idle: Duration) -> GuardedListener {
        GuardedListener {
            inner,
            permits: Arc::new(Semaphore::new(max_connections)),
            idle,
            tls: None,
        }
    }

    /// Speak TLS on every accepted connection.
    pub fn with_tls(mut self, acceptor: tokio_rustls::TlsAcceptor) -> GuardedListener {
        let (done_tx, done_rx) = mpsc::channel(64);
        self.tls = Some(TlsAccept {
            acceptor,
            timeout: HANDSHAKE_TIMEOUT.min(self.idle),
            done_tx,
            done_rx,
        });
        self
    }
}

/// Wait for a free slot, then for a TCP connection.
async fn accept_tcp(
    inner: &TcpListener,
    permits: &Arc<Semaphore>,
    idle: Duration,
) -> (GuardedStream, std::net::SocketAddr) {
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            // The semaphore is never closed; if it were, fall back to a short pause.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        match inner.accept().await {
            Ok((io, addr)) => {
                let _ = io.set_nodelay(true);
                let stream = GuardedStream {
                    io,
                    _permit: permit,
                    idle,
                    deadline: Box::pin(tokio::time::sleep(idle)),
                };
                return (stream, addr);
            }
            Err(e) => {
                // Out of file descriptors and the like: log and back off briefly.
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

impl TlsAccept {
    /// Handshake in a task of its own; a finished stream is sent back to `accept`.
    fn start(&self, stream: GuardedStream, addr: std::net::SocketAddr) {
        let acceptor = self.acceptor.clone();
        let timeout = self.timeout;
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = done.send((Conn::Tls(Box::new(tls)), addr)).await;
                }
                Ok(Err(e)) => tracing::debug!(peer = %addr, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(peer = %addr, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = Conn;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Conn, std::net::SocketAddr) {
        let GuardedListener {
            inner,
            permits,
            idle,
            tls,
        } = self;
        let Some(tls) = tls else {
            let (stream, addr) = accept_tcp(inner, permits, *idle).await;
            return (Conn::Plain(stream), addr);
        };
        loop {
            tokio::select! {
                biased;
                done = tls.done_rx.recv() => {
                    if let Some(done) = done {
                        return done;
                    }
                }
                (stream, addr) = accept_tcp(inner, permits, *idle) => tls.start(stream, addr),
            }
        }
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection as the server sees it: plain, or TLS over the guarded stream.
pub enum Conn {
    Plain(GuardedStream),
    Tls(Box<tokio_rustls::server::TlsStream<GuardedStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// One accepted connection: holds its slot, and fails with `TimedOut` once idle too long.
pub struct GuardedStream {
    io: TcpStream,
    _permit: OwnedSemaphorePermit,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl GuardedStream {
    fn moved(&mut self) {
        let next = Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    fn idle_out<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// A write's outcome: bytes moved restart the idle clock; a write that cannot go on
    /// waits only until the connection has been idle too long.
    fn wrote(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match r {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.moved();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => self.idle_out(cx),
        }
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.moved();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.idle_out(cx),
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(cx, r)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A connection that sends nothing is closed after the idle time; one that talks is
    /// not; past the cap, the next connection waits until a slot frees.
    #[tokio::test]
    async fn idle_connections_close_and_the_cap_holds() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut g = GuardedListener::new(l, 1, Duration::from_millis(300));
        let _c1 = TcpStream::connect(addr).await.unwrap();
        let (mut s1, _) = g.accept().await;
        let mut buf = [0u8; 8];
        let t = std::time::Instant::now();
        let e = s1.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(t.elapsed() >= Duration::from_millis(250));
        // The cap: a second connection is not accepted while the first is held.
        let mut c2 = TcpStream::connect(addr).await.unwrap();
        let second = tokio::time::timeout(Duration::from_millis(200), g.accept()).await;
        assert!(second.is_err(), "accepted past the cap");
        drop(s1);
        let (mut s2, _) = g.accept().await;
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            c2.write_all(b"x").await.unwrap();
            assert_eq!(s2.read(&mut buf).await.unwrap(), 1);
        }
    }
}

/// The peer address of a connection accepted by [`GuardedListener`], for handlers that
/// need it (`ConnectInfo<Peer>`: the kiosk lets loopback peers in without a session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, GuardedListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, GuardedListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}
