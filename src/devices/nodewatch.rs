//! Waking a scanner actor the moment its device node appears, instead of at its next poll.
//!
//! A [`NodeWatch`] is an inotify instance (through `libc`, read with tokio's `AsyncFd`; no
//! new crate) on the directory that holds a device path, for that path's name: created
//! (`IN_CREATE`: a kernel node, a plain symlink), moved in (`IN_MOVED_TO`: udev renames its
//! by-id links into place) or changed (`IN_ATTRIB`: udev handing the node to the
//! `returnsd` group after the kernel created it root-only). When that directory is missing
//! too (udev removes `/dev/serial/by-id` with the last serial device), the deepest
//! existing ancestor is watched for the next component; its appearance wakes the actor,
//! which finds the path still missing and arms again one level deeper. A dangling symlink
//! (the configured path points at a node that is gone) is also watched where it points.
//!
//! A wake-up is a hint, never a promise: the actor always tries the open and keeps its
//! own slow poll as the fallback (inotify unavailable, a filesystem without events).
//! Knows nothing of scanners.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tokio::io::unix::AsyncFd;

/// Which entries of a watched directory matter.
#[derive(Debug, Clone)]
enum Name {
    /// Exactly this name (a configured path, or the next missing component of it).
    Exact(OsString),
    /// Any name starting with this (`hidraw…` for a scanner found by USB id).
    Prefix(OsString),
}

impl Name {
    fn matches(&self, name: &[u8]) -> bool {
        match self {
            Name::Exact(n) => n.as_bytes() == name,
            Name::Prefix(p) => name.starts_with(p.as_bytes()),
        }
    }
}

/// Events that can mean "the node may be there now": an entry created, moved in or whose
/// attributes changed; the watched directory itself removed or moved (the caller arms
/// again from what exists then).
const MASK: u32 = libc::IN_CREATE
    | libc::IN_MOVED_TO
    | libc::IN_ATTRIB
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR;

/// Events about the watched directory itself (no name), each a reason to wake.
const SELF_EVENTS: u32 = libc::IN_DELETE_SELF | libc::IN_MOVE_SELF | libc::IN_IGNORED;

/// One inotify instance and the (watch, name) pairs it waits for.
pub struct NodeWatch {
    fd: AsyncFd<OwnedFd>,
    watches: Vec<(i32, Name)>,
}

impl NodeWatch {
    /// Watch for `path` to appear (or change): see the module doc.
    pub fn for_path(path: &Path) -> io::Result<NodeWatch> {
        let mut w = NodeWatch::new()?;
        w.add_path(path)?;
        if let Some(target) = dangling_target(path) {
            w.add_path(&target)?;
        }
        Ok(w)
    }

    /// Watch `dir` for any entry whose name starts with `prefix` (hidraw nodes); a missing
    /// `dir` is waited for like a missing path.
    pub fn for_prefix(dir: &Path, prefix: &str) -> io::Result<NodeWatch> {
        let mut w = NodeWatch::new()?;
        if dir.is_dir() {
            w.add(dir, Name::Prefix(prefix.into()))?;
        } else {
            w.add_path(dir)?;
        }
        Ok(w)
    }

    fn new() -> io::Result<NodeWatch> {
        // SAFETY: inotify_init1 takes only flags and returns a new descriptor or -1.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor we just opened and nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the `OwnedFd` is owned by the `AsyncFd` from here on, so the descriptor
        // stays open and refers to this inotify instance until the `AsyncFd` is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?;
        Ok(NodeWatch {
            fd,
            watches: Vec::new(),
        })
    }

    /// Watch the deepest existing ancestor of `path` for the next component toward it.
    fn add_path(&mut self, path: &Path) -> io::Result<()> {
        let (dir, name) = nearest_existing(path).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: no directory to watch", path.display()),
            )
        })?;
        self.add(&dir, Name::Exact(name))
    }

    fn add(&mut self, dir: &Path, name: Name) -> io::Result<()> {
        let c = CString::new(dir.as_os_str().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: a valid descriptor and a NUL-terminated path that outlives the call.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), MASK) };
        if wd < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display())));
        }
        self.watches.push((wd, name));
        Ok(())
    }

    /// Wait for the next event that may mean the node is there (or that the watched
    /// directory went away). Unrelated entries of the directory are skipped.
    pub async fn changed(&mut self) -> io::Result<()> {
        // Room for many events at once (each is 16 bytes and its padded name).
        let mut buf = [0u8; 4096];
        loop {
            let mut guard = self.fd.readable().await?;
            let n = match guard.try_io(|fd| {
                // SAFETY: reads into `buf`, which is valid for `buf.len()` bytes.
                let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            }) {
                Ok(r) => r?,
                Err(_would_block) => continue,
            };
            if events(&buf[..n]).any(|e| self.wakes(&e)) {
                return Ok(());
            }
        }
    }

    fn wakes(&self, e: &Event<'_>) -> bool {
        // The queue overflowed: anything may have happened.
        if e.mask & libc::IN_Q_OVERFLOW != 0 {
            return true;
        }
        self.watches
            .iter()
            .any(|(wd, name)| *wd == e.wd && (e.mask & SELF_EVENTS != 0 || name.matches(e.name)))
    }
}

/// One parsed `struct inotify_event`.
struct Event<'a> {
    wd: i32,
    mask: u32,
    /// The entry's name, without its NUL padding (empty for events on the directory).
    name: &'a [u8],
}

/// The events in one read: `wd`, `mask`, `cookie`, `len` (native-endian 32-bit words),
/// then `len` bytes of NUL-padded name.
fn events(mut buf: &[u8]) -> impl Iterator<Item = Event<'_>> {
    const HEAD: usize = 16;
    std::iter::from_fn(move || {
        if buf.len() < HEAD {
            return None;
        }
        let word = |i: usize| [buf[i], buf[i + 1], buf[i + 2], buf[i + 3]];
        let wd = i32::from_ne_bytes(word(0));
        let mask = u32::from_ne_bytes(word(4));
        let len = u32::from_ne_bytes(word(12)) as usize;
        let end = (HEAD + len).min(buf.len());
        let raw = &buf[HEAD..end];
        let name = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
        buf = &buf[end..];
        Some(Event { wd, mask, name })
    })
}

/// The deepest existing directory on the way to `path`, and the name of the next component
/// below it (`path`'s own name when its directory exists).
fn nearest_existing(path: &Path) -> Option<(PathBuf, OsString)> {
    let mut name = path.file_name()?.to_os_string();
    let mut dir = parent_of(path);
    while !dir.is_dir() {
        name = dir.file_name()?.to_os_string();
        dir = parent_of(&dir);
    }
    Some((dir, name))
}

/// A path's directory; `.` for a bare name.
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where `path` points when it is a symlink to nothing (one level, resolved against the
/// link's directory).
fn dangling_target(path: &Path) -> Option<PathBuf> {
    let target = std::fs::read_link(path).ok()?;
    let target = if target.is_absolute() {
        target
    } else {
        parent_of(path).join(target)
    };
    (!target.exists()).then_some(target)
}

/// A node's identity, to tell a replugged device (a new link or node at the same path)
/// from the one just lost: the path's own inode (the link, when it is one) and the inode
/// and device of what it leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeId([u64; 5]);

impl NodeId {
    /// The identity of what is at `path` now, if anything.
    pub fn of(path: &Path) -> Option<NodeId> {
        use std::os::unix::fs::MetadataExt;
        let link = std::fs::symlink_metadata(path).ok()?;
        let node = std::fs::metadata(path).ok()?;
        Some(NodeId([
            link.dev(),
            link.ino(),
            node.dev(),
            node.ino(),
            node.rdev(),
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::timeout;

    /// Long enough for a loaded machine, short against any poll the actors fall back on.
    const WAKE: Duration = Duration::from_millis(500);

    /// Whether `w` wakes within [`WAKE`].
    async fn wakes(w: &mut NodeWatch) -> bool {
        timeout(WAKE, w.changed()).await.is_ok()
    }

    /// A symlink created at the watched name wakes the watch; other names in the same
    /// directory do not.
    #[tokio::test]
    async fn created_link_wakes_and_other_names_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("usb-Scanner-if00");
        let mut w = NodeWatch::for_path(&link).unwrap();
        std::fs::write(dir.path().join("other"), b"").unwrap();
        assert!(!wakes(&mut w).await, "an unrelated entry woke the watch");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        assert!(wakes(&mut w).await, "the link's creation did not wake");
    }

    /// udev's way: the link is made under a temporary name and renamed into place.
    #[tokio::test]
    async fn link_renamed_into_place_wakes() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("scanner");
        let mut w = NodeWatch::for_path(&link).unwrap();
        let tmp = dir.path().join(".#scanner.tmp");
        std::os::unix::fs::symlink("/dev/null", &tmp).unwrap();
        assert!(!wakes(&mut w).await, "the temporary name woke the watch");
        std::fs::rename(&tmp, &link).unwrap();
        assert!(wakes(&mut w).await, "the rename into place did not wake");
    }

    /// A node that gets its permissions after it appeared (udev's chgrp/chmod) wakes.
    #[tokio::test]
    async fn attribute_change_wakes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let node = dir.path().join("ttyACM0");
        std::fs::write(&node, b"").unwrap();
        let mut w = NodeWatch::for_path(&node).unwrap();
        std::fs::set_permissions(&node, std::fs::Permissions::from_mode(0o660)).unwrap();
        assert!(wakes(&mut w).await);
    }

    /// The directory itself is missing (no serial device left, so no `by-id`): the nearest
    /// ancestor is watched, and the directory's creation wakes.
    #[tokio::test]
    async fn missing_directory_is_waited_for_at_its_ancestor() {
        let root = tempfile::tempdir().unwrap();
        let link = root.path().join("serial/by-id/usb-Scanner-if00");
        assert_eq!(
            nearest_existing(&link),
            Some((root.path().to_path_buf(), OsString::from("serial")))
        );
        let mut w = NodeWatch::for_path(&link).unwrap();
        std::fs::create_dir_all(root.path().join("serial/by-id")).unwrap();
        assert!(wakes(&mut w).await);
        // Armed again, one level deeper now.
        assert_eq!(
            nearest_existing(&link),
            Some((
                root.path().join("serial/by-id"),
                OsString::from("usb-Scanner-if00")
            ))
        );
    }

    /// A dangling link is also watched where it points.
    #[tokio::test]
    async fn dangling_link_waits_for_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("scanner");
        std::os::unix::fs::symlink("ttyACM0", &link).unwrap();
        assert_eq!(dangling_target(&link), Some(dir.path().join("ttyACM0")));
        let mut w = NodeWatch::for_path(&link).unwrap();
        std::fs::write(dir.path().join("ttyACM0"), b"").unwrap();
        assert!(wakes(&mut w).await);
    }

    /// A prefix watch wakes for any `hidraw…` entry, not for others.
    #[tokio::test]
    async fn prefix_watch_wakes_for_matching_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = NodeWatch::for_prefix(dir.path(), "hidraw").unwrap();
        std::fs::write(dir.path().join("ttyS0"), b"").unwrap();
        assert!(!wakes(&mut w).await);
        std::fs::write(dir.path().join("hidraw7"), b"").unwrap();
        assert!(wakes(&mut w).await);
    }

    /// A link removed and made again is a different node; the same link is the same one.
    #[test]
    fn node_id_tells_a_remade_link() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("scanner");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        let first = NodeId::of(&link).unwrap();
        assert_eq!(NodeId::of(&link), Some(first));
        // Keep the old inode alive so the new link cannot reuse its number.
        let keep = dir.path().join("old");
        std::fs::rename(&link, &keep).unwrap();
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        assert_ne!(NodeId::of(&link), Some(first));
        std::fs::remove_file(&link).unwrap();
        assert_eq!(NodeId::of(&link), None);
    }
}
