//! A pseudo-terminal pair standing in for a serial device: the daemon opens the slave side
//! by its path (a serial scanner or printer in the config), the test or bench plays the
//! device on the master side with plain blocking I/O.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};

use tokio_serial::{SerialPort, SerialStream};

pub struct Pty {
    /// The device's end, blocking.
    pub master: File,
    /// The slave's path, for the daemon's config.
    pub path: String,
    /// Held so the slave side stays open until the pair is dropped.
    pub slave: SerialStream,
}

/// Open a pty pair.
pub fn pty() -> Pty {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime for the pty pair");
    let (master, slave) = rt
        .block_on(async { SerialStream::pair() })
        .expect("open a pty pair");
    let path = slave.name().expect("the slave's path");
    // SAFETY: dup(2) of a valid open descriptor; the File owns the duplicate, and
    // fcntl(2) only clears O_NONBLOCK on it.
    let master = unsafe {
        let fd = libc::dup(master.as_raw_fd());
        assert!(
            fd >= 0,
            "dup the pty master: {}",
            std::io::Error::last_os_error()
        );
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK);
        File::from_raw_fd(fd)
    };
    Pty {
        master,
        path,
        slave,
    }
}
