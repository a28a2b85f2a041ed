//! How bytes reach a printer and how its status is read back: a raw TCP socket (port
//! 9100), a serial port (tokio-serial), a USB printer-class node (`/dev/usb/lpN`, opened
//! non-blocking and read through `AsyncFd`, so a printer that never answers costs a timeout,
//! not a thread), or a directory (one fsynced file per job).
//!
//! A status query is written on the same connection as the job, right after it; the answer
//! is read until it is complete or a deadline passes. Silence is [`Status::Unknown`],
//! never ok — Zebra printers stay silent on exactly the faults that matter.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::{tspl_status, zpl_status};
use crate::labels::printer_config::{PrinterTarget, PrinterTransport};

/// What a printer said about itself after a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// No fault and nothing waiting or printing: every job it took is done.
    Idle,
    /// No fault, still working on what it has.
    Busy,
    /// Faults that stop printing, as stable codes (`paper_out`, `head_open`, …).
    Fault(Vec<String>),
    /// No (complete) answer before the deadline.
    Unknown,
    /// The connection ended (closed, reset, or the query could not be written) before a
    /// complete answer: the printer went away, and a job just sent on this connection may
    /// never have been printed. Never a confirmation.
    Lost,
}

/// An open connection to one printer.
pub enum Conn {
    Tcp(tokio::net::TcpStream),
    Serial(tokio_serial::SerialStream),
    Node(AsyncFd<std::fs::File>),
    Directory(PathBuf),
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Open a connection (for a directory: check it exists or can be made).
pub async fn open(t: &PrinterTarget) -> Result<Conn, String> {
    match &t.transport {
        PrinterTransport::Tcp(addr) => {
            let s = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
                .await
                .map_err(|_| format!("{addr}: connect timed out"))?
                .map_err(|e| format!("{addr}: {e}"))?;
            let _ = s.set_nodelay(true);
            Ok(Conn::Tcp(s))
        }
        PrinterTransport::Serial { path, baud } => {
            use tokio_serial::SerialPortBuilderExt;
            let p = path.to_string_lossy().to_string();
            tokio_serial::new(&p, *baud)
                .open_native_async()
                .map(Conn::Serial)
                .map_err(|e| format!("{p}: {e}"))
        }
        PrinterTransport::Usb(path) => open_node(path).map(Conn::Node),
        PrinterTransport::Directory(dir) => {
            let d = dir.clone();
            tokio::task::spawn_blocking(move || std::fs::create_dir_all(&d))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            Ok(Conn::Directory(dir.clone()))
        }
    }
}

/// Open a character device read/write, non-blocking, for `AsyncFd`.
fn open_node(path: &Path) -> Result<AsyncFd<std::fs::File>, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: `f` owns its descriptor and `AsyncFd` owns `f`: the descriptor is neither
    // closed nor replaced while registered.
    unsafe { AsyncFd::register(f) }.map_err(|e| format!("{}: {e}", path.display()))
}

/// One non-blocking read or write on a device node: wait until it is ready, run the
/// syscall, and try again when it would block.
async fn node_io(
    fd: &AsyncFd<std::fs::File>,
    interest: tokio::io::Interest,
    mut syscall: impl FnMut(i32) -> isize,
) -> std::io::Result<usize> {
    loop {
        let mut guard = fd.ready(interest).await?;
        match guard.try_io(|inner| {
            let n = syscall(inner.get_ref().as_raw_fd());
            if n < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        }) {
            Ok(r) => return r,
            Err(_would_block) => continue,
        }
    }
}

async fn node_write(fd: &AsyncFd<std::fs::File>, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let n = node_io(fd, tokio::io::Interest::WRITABLE, |raw| {
            // SAFETY: `raw` is open while `fd` lives; the buffer is valid for its length.
            unsafe { libc::write(raw, bytes.as_ptr().cast(), bytes.len()) }
        })
        .await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
    }
    Ok(())
}

async fn node_read(fd: &AsyncFd<std::fs::File>, buf: &mut [u8]) -> std::io::Result<usize> {
    node_io(fd, tokio::io::Interest::READABLE, |raw| {
        // SAFETY: as in `node_write`.
        unsafe { libc::read(raw, buf.as_mut_ptr().cast(), buf.len()) }
    })
    .await
}

/// Write a timestamped job file atomically: a temp name, fsync, rename, fsync the directory.
fn write_job_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
    use std::io::Write;
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let mut f = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(bytes)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.sync_all()
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(path)
}

impl Conn {
    /// Send every byte of a job. For a directory, `name` is the file written.
    pub async fn send(&mut self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let r = match self {
            Conn::Tcp(s) => tokio::time::timeout(WRITE_TIMEOUT, async {
                s.write_all(bytes).await?;
                s.flush().await
            })
            .await
            .map_err(|_| "write timed out".to_string())?,
            Conn::Serial(s) => tokio::time::timeout(WRITE_TIMEOUT, async {
                s.write_all(bytes).await?;
                s.flush().await
            })
            .await
            .map_err(|_| "write timed out".to_string())?,
            Conn::Node(fd) => tokio::time::timeout(WRITE_TIMEOUT, node_write(fd, bytes))
                .await
                .map_err(|_| "write timed out".to_string())?,
            Conn::Directory(dir) => {
                let (dir, name, bytes) = (dir.clone(), name.to_string(), bytes.to_vec());
                return tokio::task::spawn_blocking(move || write_job_file(&dir, &name, &bytes))
                    .await
                    .map_err(|e| e.to_string())?
                    .map(|_| ());
            }
        };
        r.map_err(|e| e.to_string())
    }

    /// Read whatever arrives until `complete(bytes)` or the deadline; `false` with it when
    /// the connection ended first (end of stream or an error), not the deadline.
    async fn read_until(
        &mut self,
        deadline: Instant,
        complete: fn(&[u8]) -> bool,
    ) -> (Vec<u8>, bool) {
        let mut got = Vec::new();
        let mut open = true;
        let mut buf = [0u8; 512];
        while !complete(&got) && got.len() < 4096 {
            let r = match self {
                Conn::Tcp(s) => tokio::time::timeout_at(deadline, s.read(&mut buf)).await,
                Conn::Serial(s) => tokio::time::timeout_at(deadline, s.read(&mut buf)).await,
                Conn::Node(fd) => tokio::time::timeout_at(deadline, node_read(fd, &mut buf)).await,
                Conn::Directory(_) => return (got, open),
            };
            match r {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    // A device node (a USB printer class device) that cannot read back ends
                    // its reads at once: that is a printer without a status channel, not
                    // one that went away.
                    open = matches!(self, Conn::Node(_));
                    break;
                }
                Err(_) => break,
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            }
        }
        (got, open)
    }

    /// Ask the printer's status in its language and wait up to `wait` for the answer.
    pub async fn status(&mut self, language: &str, wait: Duration) -> Status {
        if let Conn::Directory(dir) = self {
            return if dir.is_dir() {
                Status::Idle
            } else {
                Status::Fault(vec!["directory_missing".into()])
            };
        }
        let deadline = Instant::now() + wait;
        if language == "tspl" {
            if self.send("", tspl_status::QUERY).await.is_err() {
                return Status::Lost;
            }
            let (got, open) = self.read_until(deadline, |b| !b.is_empty()).await;
            return match tspl_status::parse(&got) {
                None if !open => Status::Lost,
                None => Status::Unknown,
                Some(s) if !s.faults().is_empty() => {
                    Status::Fault(s.faults().iter().map(|f| f.to_string()).collect())
                }
                Some(s) if s.idle() => Status::Idle,
                Some(_) => Status::Busy,
            };
        }
        if self.send("", b"~HS").await.is_err() {
            return Status::Lost;
        }
        let (got, open) = self.read_until(deadline, zpl_status::hs_complete).await;
        match zpl_status::parse_hs(&got) {
            None if !open => Status::Lost,
            None => Status::Unknown,
            Some(s) if !s.faults().is_empty() => {
                Status::Fault(s.faults().iter().map(|f| f.to_string()).collect())
            }
            Some(s) if s.formats_in_buffer == 0 => Status::Idle,
            Some(_) => Status::Busy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(transport: PrinterTransport, language: &str) -> PrinterTarget {
        PrinterTarget {
            name: "primary",
            transport,
            language: language.into(),
            dpi: 203,
        }
    }

    /// A USB-class node (a pty stands in for /dev/usb/lp0) takes the job and its TSPL
    /// status byte is read back through AsyncFd; a silent node is unknown after the wait.
    #[tokio::test]
    async fn usb_node_sends_and_reads_tspl_status() {
        let (mut master, slave) = tokio_serial::SerialStream::pair().unwrap();
        use tokio_serial::SerialPort;
        let path = slave.name().unwrap();
        let t = target(PrinterTransport::Usb(path.into()), "tspl");
        let mut c = open(&t).await.unwrap();
        c.send("job", b"SIZE 60 mm,40 mm\r\nPRINT 1\r\n")
            .await
            .unwrap();
        let mut got = [0u8; 64];
        let mut n = 0;
        while !got[..n].ends_with(b"PRINT 1\r\n") {
            n += master.read(&mut got[n..]).await.unwrap();
        }
        // Silence: unknown, not ok.
        assert_eq!(
            c.status("tspl", Duration::from_millis(100)).await,
            Status::Unknown
        );
        // Answer "out of paper" to the next query.
        let answer = tokio::spawn(async move {
            let mut q = [0u8; 3];
            master.read_exact(&mut q).await.unwrap();
            // The earlier, unanswered query is still queued at the "printer".
            if q == tspl_status::QUERY {
                let mut q2 = [0u8; 3];
                master.read_exact(&mut q2).await.unwrap();
            }
            master.write_all(&[0x04]).await.unwrap();
            master
        });
        assert_eq!(
            c.status("tspl", Duration::from_secs(5)).await,
            Status::Fault(vec!["paper_out".into()])
        );
        drop(answer.await.unwrap());
        drop(slave);
    }

    /// A directory printer writes the job atomically and is idle while the directory exists.
    #[tokio::test]
    async fn directory_sink_writes_the_file() {
        let d = tempfile::tempdir().unwrap();
        let t = target(PrinterTransport::Directory(d.path().join("labels")), "zpl");
        let mut c = open(&t).await.unwrap();
        c.send("a.zpl", b"^XA^XZ").await.unwrap();
        assert_eq!(
            std::fs::read(d.path().join("labels/a.zpl")).unwrap(),
            b"^XA^XZ"
        );
        assert_eq!(
            c.status("zpl", Duration::from_millis(10)).await,
            Status::Idle
        );
    }

    /// A TCP printer that is not listening is an error naming the address.
    #[tokio::test]
    async fn refused_tcp_names_the_address() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let t = target(PrinterTransport::Tcp(addr.clone()), "zpl");
        let e = open(&t).await.err().unwrap();
        assert!(e.contains(&addr), "{e}");
    }
}
