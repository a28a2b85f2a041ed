//! A fake label printer: the firmware side of a ZPL or TSPL printer, on a loopback TCP
//! socket (port-9100 style) or the master side of a pseudo-terminal (a serial or USB
//! printer). It stands in for what is outside the project — the printer's firmware — and
//! behaves like one:
//!
//! - ZPL: a format is `^XA … ^XZ`; `~HS` is answered at once (three `STX…ETX CR LF`
//!   strings) with paper-out / pause / head-open flags and the count of formats in the
//!   receive buffer. With a fault, formats wait in the buffer and print when it clears.
//! - TSPL: a job ends with `PRINT n\r\n`; `ESC ! ?` is answered with one status byte.
//! - `Mode::Silent` never answers status queries (Zebra printers do exactly that when the
//!   media is out or the head is open); `Mode::Down` (TCP) refuses connections.
//! - `Mode::Garbage` prints, but answers status queries with bytes that are no status: a
//!   broken frame, binary noise, numbers that are not numbers (a firmware fault, or another
//!   device on the printer's address).
//!
//! - `Mode::VanishMidJob` takes the next complete job and goes away with it: nothing
//!   prints, the connection closes before any status answer, and the printer comes back
//!   `Ok` at once with an empty buffer (a printer power-cycled or unplugged mid-job).
//!
//! Everything received is recorded: the printed labels (in order), the raw bytes of each
//! connection, and the number of status queries.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::poll;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ok,
    PaperOut,
    HeadOpen,
    Silent,
    Down,
    Garbage,
    VanishMidJob,
}

#[derive(Debug, Default)]
pub struct State {
    pub mode: Option<Mode>,
    /// Labels that came out, in order.
    pub printed: Vec<Vec<u8>>,
    /// Formats received but held (a fault stops printing).
    pub held: Vec<Vec<u8>>,
    /// Status queries received.
    pub queries: usize,
    /// Every byte received, per connection.
    pub connections: Vec<Vec<u8>>,
    /// Jobs lost by a `VanishMidJob` printer.
    pub vanished: usize,
}

#[derive(Clone)]
pub struct FakePrinter {
    pub state: Arc<Mutex<State>>,
    pub tspl: bool,
    pub addr: Option<SocketAddr>,
}

impl FakePrinter {
    /// A TCP printer on 127.0.0.1 (an ephemeral port).
    pub fn tcp(tspl: bool, mode: Mode) -> FakePrinter {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let p = FakePrinter {
            state: Arc::new(Mutex::new(State {
                mode: Some(mode),
                ..Default::default()
            })),
            tspl,
            addr: Some(addr),
        };
        let me = p.clone();
        std::thread::spawn(move || me.accept_loop(l, addr));
        p
    }

    /// Accept connections while the printer is on; while it is `Down` nothing listens on
    /// its port (connections are refused), and it listens again when it comes back. The
    /// 5 ms sleeps are this firmware's own polling of a non-blocking listener (it must
    /// notice a mode change without a connection), not a test waiting for a result.
    fn accept_loop(&self, l: TcpListener, addr: SocketAddr) {
        let mut listener = Some(l);
        loop {
            match (self.mode() == Mode::Down, &listener) {
                (true, Some(_)) => listener = None,
                (false, None) => match TcpListener::bind(addr) {
                    Ok(l) => listener = Some(l),
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                },
                _ => {}
            }
            let Some(l) = &listener else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            l.set_nonblocking(true).unwrap();
            match l.accept() {
                Ok((mut c, _)) => {
                    c.set_nonblocking(false).unwrap();
                    let me = self.clone();
                    std::thread::spawn(move || {
                        let idx = me.begin_connection();
                        let mut r = c.try_clone().unwrap();
                        me.serve(&mut r, &mut c, idx);
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// Firmware on the master side of a pty (a serial or USB printer).
    pub fn on_pty(tspl: bool, mode: Mode, master: std::fs::File) -> FakePrinter {
        let p = FakePrinter {
            state: Arc::new(Mutex::new(State {
                mode: Some(mode),
                ..Default::default()
            })),
            tspl,
            addr: None,
        };
        let me = p.clone();
        std::thread::spawn(move || {
            let idx = me.begin_connection();
            let mut r = master.try_clone().unwrap();
            let mut w = master;
            me.serve(&mut r, &mut w, idx);
        });
        p
    }

    pub fn mode(&self) -> Mode {
        self.lock().mode.unwrap_or(Mode::Ok)
    }

    /// Change the printer's condition; clearing a fault prints the held formats.
    pub fn set_mode(&self, mode: Mode) {
        let mut s = self.lock();
        s.mode = Some(mode);
        if mode == Mode::Ok {
            let held = std::mem::take(&mut s.held);
            s.printed.extend(held);
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn printed(&self) -> Vec<Vec<u8>> {
        self.lock().printed.clone()
    }

    /// Wait (the kit's `poll`) until `f` holds.
    pub fn wait_for(&self, what: &str, f: impl Fn(&State) -> bool) {
        poll(&format!("printer: {what}"), || {
            f(&self.lock()).then_some(())
        });
    }

    fn begin_connection(&self) -> usize {
        let mut s = self.lock();
        s.connections.push(Vec::new());
        s.connections.len() - 1
    }

    fn status_answer(&self) -> Option<Vec<u8>> {
        let mut s = self.lock();
        s.queries += 1;
        let mode = s.mode.unwrap_or(Mode::Ok);
        if mode == Mode::Silent {
            return None;
        }
        if mode == Mode::Garbage {
            let q = s.queries as u8;
            return Some(if self.tspl {
                vec![0xff, q, b'?', 0x1b, b'!']
            } else {
                let mut g = b"\x02030,x,,12\xff\xfe,\x03\r\n\x02\x02001,\x03".to_vec();
                g.extend((0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(q)));
                g
            });
        }
        if self.tspl {
            return Some(vec![match mode {
                Mode::PaperOut => 0x04,
                Mode::HeadOpen => 0x01,
                _ => 0x00,
            }]);
        }
        let paper = u8::from(mode == Mode::PaperOut);
        let head = u8::from(mode == Mode::HeadOpen);
        let held = s.held.len();
        Some(
            format!(
                "\x02030,{paper},{paper},1225,{held:03},0,0,0,000,0,0,0\x03\r\n\x02001,0,{head},0,1,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n"
            )
            .into_bytes(),
        )
    }

    /// Consume complete commands from `buf`; returns answers to write, or None when the
    /// printer went away (the connection is closed, nothing more answered).
    fn take_commands(&self, buf: &mut Vec<u8>) -> Option<Vec<Vec<u8>>> {
        let mut answers = Vec::new();
        loop {
            // Whitespace between formats is ignored, like the firmware does.
            let ws = buf
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n' | b' '))
                .count();
            buf.drain(..ws);
            let query: &[u8] = if self.tspl { b"\x1b!?" } else { b"~HS" };
            let q = find(buf, query);
            let end_marker: &[u8] = if self.tspl { b"\r\n" } else { b"^XZ" };
            let job_end = if self.tspl {
                find(buf, b"PRINT ").and_then(|i| find(&buf[i..], end_marker).map(|j| i + j + 2))
            } else {
                find(buf, end_marker).map(|i| i + 3)
            };
            match (q, job_end) {
                (Some(qi), je) if je.is_none_or(|e| qi < e) => {
                    // A status query before the next complete job.
                    buf.drain(..qi + query.len());
                    if let Some(a) = self.status_answer() {
                        answers.push(a);
                    }
                }
                (_, Some(e)) => {
                    let job: Vec<u8> = buf.drain(..e).collect();
                    let mut s = self.lock();
                    if s.mode == Some(Mode::VanishMidJob) {
                        s.vanished += 1;
                        s.mode = Some(Mode::Ok);
                        buf.clear();
                        return None;
                    }
                    if matches!(s.mode.unwrap_or(Mode::Ok), Mode::Ok | Mode::Garbage)
                        || s.mode == Some(Mode::Silent) && !self.tspl
                    {
                        s.printed.push(job);
                    } else {
                        s.held.push(job);
                    }
                }
                _ => return Some(answers),
            }
        }
    }

    fn serve(&self, r: &mut impl Read, w: &mut impl Write, idx: usize) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = match r.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            self.lock().connections[idx].extend_from_slice(&chunk[..n]);
            buf.extend_from_slice(&chunk[..n]);
            let Some(answers) = self.take_commands(&mut buf) else {
                return;
            };
            for a in answers {
                if w.write_all(&a).and_then(|_| w.flush()).is_err() {
                    return;
                }
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The double behaves as its doc says: formats print, a paper-out printer holds them and
/// reports the count, clearing the fault prints them, silence answers nothing.
#[test]
fn fake_printer_selftest() {
    let p = FakePrinter::tcp(false, Mode::PaperOut);
    let mut c = std::net::TcpStream::connect(p.addr.unwrap()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"^XA^FDone^FS^XZ~HS").unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 256];
    while got.iter().filter(|x| **x == 3).count() < 3 {
        let n = c.read(&mut b).unwrap();
        got.extend_from_slice(&b[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("\x02030,1,1,1225,001,"), "{text}");
    assert!(p.printed().is_empty());
    p.set_mode(Mode::Ok);
    assert_eq!(p.printed(), vec![b"^XA^FDone^FS^XZ".to_vec()]);
    p.set_mode(Mode::Silent);
    c.write_all(b"~HS").unwrap();
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(c.read(&mut b).is_err(), "silent printers do not answer");
    p.wait_for("two queries", |s| s.queries == 2);

    let t = FakePrinter::tcp(true, Mode::Ok);
    let mut c = std::net::TcpStream::connect(t.addr.unwrap()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"SIZE 60 mm,40 mm\r\nCLS\r\nPRINT 1\r\n\x1b!?")
        .unwrap();
    let mut one = [0u8; 1];
    c.read_exact(&mut one).unwrap();
    assert_eq!(one, [0]);
    assert_eq!(t.printed().len(), 1);
}
