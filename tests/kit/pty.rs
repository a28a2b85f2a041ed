//! A pseudo-terminal pair standing in for a serial device: the daemon opens the slave side
//! by its path (a serial scanner or printer in the config), the test or bench plays the
//! device on the master side with plain blocking I/O.
//!
//! Every descriptor is opened close-on-exec from the start: tests run in parallel threads,
//! and a daemon or CLI that another thread spawns must not inherit a master, or dropping
//! the pair here would not hang the line up (an "unplug" the daemon never sees).

use std::ffi::CStr;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

pub struct Pty {
    /// The device's end, blocking.
    pub master: File,
    /// The slave's path, for the daemon's config.
    pub path: String,
    /// Held so the slave side stays open (and keeps what the device sends before the
    /// daemon opens it) until the pair is dropped.
    pub slave: File,
}

/// Open a pty pair; the slave's line in raw mode, as a serial port's is.
pub fn pty() -> Pty {
    // std opens every file with O_CLOEXEC.
    let master = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open("/dev/ptmx")
        .expect("open /dev/ptmx");
    let fd = master.as_raw_fd();
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: `fd` is an open pty master; `name` is valid for its length.
    let rc = unsafe {
        if libc::grantpt(fd) != 0 || libc::unlockpt(fd) != 0 {
            -1
        } else {
            libc::ptsname_r(fd, name.as_mut_ptr(), name.len())
        }
    };
    assert_eq!(rc, 0, "pty slave: {}", std::io::Error::last_os_error());
    // SAFETY: ptsname_r wrote a NUL-terminated name into `name`.
    let path = unsafe { CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&path)
        .expect("open the pty slave");
    // SAFETY: tcgetattr fills `t` for an open tty; cfmakeraw and tcsetattr only read it.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(slave.as_raw_fd(), &mut t), 0, "tcgetattr");
        libc::cfmakeraw(&mut t);
        t.c_cflag |= libc::CREAD | libc::CLOCAL;
        assert_eq!(
            libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t),
            0,
            "tcsetattr"
        );
    }
    Pty {
        master,
        path,
        slave,
    }
}
