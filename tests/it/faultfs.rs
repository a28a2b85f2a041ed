//! A fault-injecting FUSE filesystem for the integration tests: mount it, point the real
//! daemon's `storage.state_dir` at a directory on it, then make fsyncs fail or cut the power.
//!
//! The filesystem lives in memory and is served by threads of the test process (fuser, pure-Rust
//! mount: a direct mount(2) as root, no libfuse and no `fusermount`). Every regular file has
//! `data` (what reads see: the page cache), `durable` (what survives a power cut) and the byte
//! ranges written since its last fsync. A successful fsync copies those ranges into `durable`
//! and makes the current length durable; a failed one (injected, Linux "fsyncgate" semantics)
//! answers EIO and forgets them, so they stay readable but no later fsync persists them. A power
//! cut unmounts, sets every file's `data` to `durable` and mounts again at the same path, so no
//! kernel cache serves bytes from before the cut; [`Cut::Torn`] first lets a 512-byte multiple of
//! the last unsynced `write(2)` reach the disk.
//!
//! Simplifications: namespace operations (create, unlink, rename, mkdir, rmdir) are durable at
//! once; data, truncation and other size changes only at the next fsync. Locks are left to the
//! kernel (fuser asks for neither POSIX nor flock locks, so the kernel keeps them locally, which
//! is right for several processes on one machine). Files are opened with `keep_cache` and no
//! `direct_io`: the page cache writes through to this server and shared mmap (SQLite's `-shm`)
//! works. Writes the kernel sends back from the page cache (mmap writeback) never count as the
//! "last write" that a torn cut tears; a torn write that extended its file extends the durable
//! length to cover what it kept. Regular files and directories only: no symlinks, hard links,
//! device nodes or unix sockets (put the daemon's `control.socket` elsewhere), no xattrs, no
//! fallocate (the kernel answers EOPNOTSUPP). One quota for all files, counted in bytes.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{CString, OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use fuser::{
    BsdFileFlags, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request,
    Session, SessionACL, TimeOrNow, WriteFlags,
};

use crate::support::{EVERY, poll_within, try_poll};

const TTL: Duration = Duration::from_secs(1);
const SECTOR: usize = 512;
const BLOCK: u64 = 4096;
/// How long an unmount may find the mount busy (a killed process's files still closing).
const BUSY_FOR: Duration = Duration::from_secs(10);

/// How a power cut treats what was not made durable.
#[derive(Clone, Copy, Debug)]
pub enum Cut {
    /// Every byte not fsynced is lost.
    Lost,
    /// As `Lost`, but a prefix of the last unsynced write, a multiple of 512 bytes chosen from
    /// `seed`, reached the disk first.
    Torn { seed: u64 },
}

/// What a [`Cut::Torn`] kept of the last unsynced write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornWrite {
    /// The file's name (last path component).
    pub file: String,
    pub offset: u64,
    pub len: usize,
    /// Bytes of the write that survived: a multiple of 512, at most `len`.
    pub kept: usize,
}

/// A mounted fault-injecting filesystem; unmounted on drop.
pub struct FaultFs {
    path: PathBuf,
    state: Arc<Mutex<State>>,
    server: Option<JoinHandle<io::Result<()>>>,
    /// The temporary directory of [`FaultFs::scratch`], removed after the unmount.
    tmp: Option<tempfile::TempDir>,
}

impl FaultFs {
    /// Mounts an empty filesystem on `dir` (created if missing). Panics with the reason when
    /// FUSE is unavailable: the tests that need it must fail, not skip.
    pub fn mount(dir: &Path) -> FaultFs {
        std::fs::create_dir_all(dir).expect("create the mount point");
        let state = Arc::new(Mutex::new(State::new()));
        let server = serve(dir, &state).unwrap_or_else(|e| {
            panic!(
                "faultfs: cannot mount FUSE on {}: {e} (needs root, /dev/fuse and the fuse \
                 kernel module)",
                dir.display()
            )
        });
        FaultFs {
            path: dir.to_path_buf(),
            state,
            server: Some(server),
            tmp: None,
        }
    }

    /// Mounts an empty filesystem on a fresh temporary directory.
    pub fn scratch() -> FaultFs {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut fs = FaultFs::mount(&tmp.path().join("mnt"));
        fs.tmp = Some(tmp);
        fs
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next `n` fsyncs of files whose name ends with `suffix` fail with EIO and forget
    /// the file's unsynced writes.
    pub fn fail_fsyncs(&self, suffix: &str, n: usize) {
        lock(&self.state).fail.push((suffix.to_owned(), n, false));
    }

    /// As [`fail_fsyncs`](Self::fail_fsyncs), counting only fsyncs that have unsynced
    /// writes to make durable (a commit's, not a checkpoint's re-sync of a clean file).
    pub fn fail_dirty_fsyncs(&self, suffix: &str, n: usize) {
        lock(&self.state).fail.push((suffix.to_owned(), n, true));
    }

    /// Forget every fsync failure still to be injected (the disk is healthy again).
    pub fn heal(&self) {
        lock(&self.state).fail.clear();
    }

    /// Writes (and size changes) that would take the total of all files past `bytes` get
    /// ENOSPC; `None` lifts the quota.
    pub fn set_quota(&self, bytes: Option<u64>) {
        lock(&self.state).quota = bytes;
    }

    /// Fsyncs seen of files (or directories) named `name`, failed ones included.
    pub fn fsyncs(&self, name: &str) -> usize {
        lock(&self.state).fsyncs.get(name).copied().unwrap_or(0)
    }

    /// Fsync failures injected so far.
    pub fn injected_failures(&self) -> usize {
        lock(&self.state).injected
    }

    /// Cuts the power: unmounts (nothing may hold files open on the mount: kill the daemon
    /// first), keeps only what was durable (plus the torn prefix) and mounts again.
    pub fn power_cut(&mut self, cut: Cut) -> Option<TornWrite> {
        if let Err(e) = self.unmount(false) {
            panic!("faultfs: power cut: {e}");
        }
        let torn = lock(&self.state).cut(cut);
        let server = serve(&self.path, &self.state)
            .unwrap_or_else(|e| panic!("faultfs: remount {}: {e}", self.path.display()));
        self.server = Some(server);
        torn
    }

    /// Unmounts, waiting out a busy mount for a while; then either gives up (`force` false:
    /// still mounted) or aborts the FUSE connection and detaches the mount, so whatever still
    /// has files open on it gets ENOTCONN instead of waiting on a server that is gone (a
    /// process exiting with a file open on its own mount would wait forever).
    fn unmount(&mut self, force: bool) -> Result<(), String> {
        let Some(server) = self.server.take() else {
            return Ok(());
        };
        let path = CString::new(self.path.as_os_str().as_bytes()).expect("path without NUL");
        let mut outcome = Ok(());
        // Unmounted, or why not: a busy mount is tried again until BUSY_FOR has passed.
        let mut last = None;
        let unmounted = try_poll(BUSY_FOR, EVERY, || {
            // SAFETY: umount2 with a valid NUL-terminated path.
            if unsafe { libc::umount2(path.as_ptr(), 0) } == 0 {
                return Some(Ok(()));
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EBUSY) {
                last = Some(err);
                return None;
            }
            Some(Err(err))
        });
        let failed = match unmounted {
            Some(Ok(())) => None,
            Some(Err(err)) => Some(err),
            None => last.take(),
        };
        if let Some(err) = failed {
            let msg = format!("unmount {}: {err}", self.path.display());
            if !force {
                self.server = Some(server); // the drop tries again, then forces
                return Err(format!("{msg}: something still holds files open on it"));
            }
            // SAFETY: as above; on FUSE, MNT_FORCE aborts the connection.
            unsafe { libc::umount2(path.as_ptr(), libc::MNT_FORCE | libc::MNT_DETACH) };
            outcome = Err(format!("{msg}; aborted the connection and detached it"));
        }
        if try_poll(BUSY_FOR, Duration::from_millis(5), || {
            server.is_finished().then_some(())
        })
        .is_none()
        {
            return Err("the FUSE server thread did not stop after unmount".into());
        }
        match server.join() {
            Ok(Ok(())) => outcome,
            // The kernel ended the connection of a mount it had just unmounted: the
            // server's read loop sees the abort instead of a clean end (seen about once in
            // a hundred power cuts). The unmount itself succeeded.
            Ok(Err(e)) if e.raw_os_error() == Some(libc::ECONNABORTED) && outcome.is_ok() => {
                outcome
            }
            Ok(Err(e)) => Err(format!("FUSE server: {e}")),
            Err(_) => Err("FUSE server thread panicked".into()),
        }
    }
}

impl Drop for FaultFs {
    fn drop(&mut self) {
        if let Err(e) = self.unmount(true) {
            eprintln!("faultfs: {e}");
        }
    }
}

/// Mounts `dir` and serves it from `state` on a thread of its own.
fn serve(dir: &Path, state: &Arc<Mutex<State>>) -> io::Result<JoinHandle<io::Result<()>>> {
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("faultfs".into()),
        MountOption::DefaultPermissions,
    ];
    config.acl = SessionACL::All;
    config.n_threads = Some(2);
    let fs = Server {
        state: state.clone(),
    };
    let session = Session::new(fs, dir, &config)?;
    std::thread::Builder::new()
        .name("faultfs".into())
        .spawn(move || session.run())
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Default)]
struct Regular {
    data: Vec<u8>,
    durable: Vec<u8>,
    /// Sorted, disjoint byte ranges written since the last fsync.
    dirty: Vec<(usize, usize)>,
}

impl Regular {
    fn mark_dirty(&mut self, start: usize, end: usize) {
        self.dirty.push((start, end));
        self.dirty.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.dirty.len());
        for &(a, b) in self.dirty.iter().filter(|(a, b)| a < b) {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.dirty = merged;
    }

    /// Copies `data[start..end]` (as far as it goes) into `durable`.
    fn persist(&mut self, start: usize, end: usize) {
        let end = end.min(self.data.len());
        if start < end {
            if self.durable.len() < end {
                self.durable.resize(end, 0);
            }
            self.durable[start..end].copy_from_slice(&self.data[start..end]);
        }
    }
}

enum Kind {
    File(Regular),
    Dir(BTreeMap<OsString, u64>),
}

struct Node {
    kind: Kind,
    name: String,
    perm: u16,
    uid: u32,
    gid: u32,
    nlink: u32,
    opens: u32,
    mtime: SystemTime,
}

impl Node {
    fn new(kind: Kind, name: &OsStr, mode: u32, uid: u32, gid: u32) -> Node {
        let name = name.to_string_lossy().into_owned();
        let perm = (mode & 0o7777) as u16;
        let mtime = SystemTime::now();
        Node {
            kind,
            name,
            perm,
            uid,
            gid,
            nlink: 1,
            opens: 0,
            mtime,
        }
    }

    fn size(&self) -> usize {
        match &self.kind {
            Kind::File(f) => f.data.len(),
            Kind::Dir(_) => 0,
        }
    }
}

#[derive(Default)]
struct State {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
    /// (name suffix, fsyncs still to fail, count only fsyncs with unsynced writes)
    fail: Vec<(String, usize, bool)>,
    injected: usize,
    fsyncs: BTreeMap<String, usize>,
    quota: Option<u64>,
    /// (inode, offset, length) of the last write(2) not yet fsynced.
    last_write: Option<(u64, usize, usize)>,
}

impl State {
    fn new() -> State {
        // SAFETY: getuid and getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let root = Node::new(Kind::Dir(BTreeMap::new()), "/".as_ref(), 0o755, uid, gid);
        let nodes = HashMap::from([(INodeNo::ROOT.0, root)]);
        let next_ino = INodeNo::ROOT.0 + 1;
        State {
            nodes,
            next_ino,
            ..State::default()
        }
    }

    fn node(&mut self, ino: u64) -> Result<&mut Node, Errno> {
        self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    fn file(&mut self, ino: u64) -> Result<&mut Regular, Errno> {
        match &mut self.node(ino)?.kind {
            Kind::File(f) => Ok(f),
            Kind::Dir(_) => Err(Errno::EISDIR),
        }
    }

    fn dir(&mut self, ino: u64) -> Result<&mut BTreeMap<OsString, u64>, Errno> {
        match &mut self.node(ino)?.kind {
            Kind::Dir(d) => Ok(d),
            Kind::File(_) => Err(Errno::ENOTDIR),
        }
    }

    fn child(&mut self, parent: u64, name: &OsStr) -> Result<u64, Errno> {
        self.dir(parent)?.get(name).copied().ok_or(Errno::ENOENT)
    }

    fn attr(&mut self, ino: u64) -> Result<FileAttr, Errno> {
        let n = self.node(ino)?;
        let (kind, size, nlink) = match &n.kind {
            Kind::File(f) => (FileType::RegularFile, f.data.len() as u64, n.nlink),
            Kind::Dir(_) => (FileType::Directory, BLOCK, 2),
        };
        Ok(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: n.mtime,
            mtime: n.mtime,
            ctime: n.mtime,
            crtime: n.mtime,
            kind,
            perm: n.perm,
            nlink,
            uid: n.uid,
            gid: n.gid,
            rdev: 0,
            blksize: BLOCK as u32,
            flags: 0,
        })
    }

    fn add(
        &mut self,
        req: &Request,
        parent: u64,
        name: &OsStr,
        kind: Kind,
        mode: u32,
    ) -> Result<FileAttr, Errno> {
        let ino = self.next_ino;
        if self.dir(parent)?.insert(name.to_owned(), ino).is_some() {
            return Err(Errno::EEXIST); // the kernel looked it up first: no race here
        }
        self.next_ino += 1;
        let node = Node::new(kind, name, mode, req.uid(), req.gid());
        self.nodes.insert(ino, node);
        self.attr(ino)
    }

    /// Removes the entry `name` (not a non-empty directory) from `parent`; the node goes
    /// once nothing has it open.
    fn detach(&mut self, parent: u64, name: &OsStr) -> Result<(), Errno> {
        let ino = self.child(parent, name)?;
        if matches!(&self.node(ino)?.kind, Kind::Dir(d) if !d.is_empty()) {
            return Err(Errno::ENOTEMPTY);
        }
        self.dir(parent)?.remove(name);
        self.node(ino)?.nlink -= 1;
        self.free_if_unused(ino);
        Ok(())
    }

    fn open(&mut self, ino: u64) -> Result<(), Errno> {
        self.node(ino)?.opens += 1;
        Ok(())
    }

    fn free_if_unused(&mut self, ino: u64) {
        let unused = |n: &Node| n.nlink == 0 && n.opens == 0;
        if self.nodes.get(&ino).is_some_and(unused) {
            self.nodes.remove(&ino);
            if self.last_write.is_some_and(|w| w.0 == ino) {
                self.last_write = None;
            }
        }
    }

    fn rename(
        &mut self,
        parent: u64,
        name: &OsStr,
        to: u64,
        newname: &OsStr,
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        if !(flags - RenameFlags::RENAME_NOREPLACE).is_empty() {
            return Err(Errno::EINVAL);
        }
        let ino = self.child(parent, name)?;
        // The kernel has checked that a directory replaces only a directory.
        match self.child(to, newname) {
            Ok(old) if old == ino => return Ok(()),
            Ok(_) if flags.contains(RenameFlags::RENAME_NOREPLACE) => return Err(Errno::EEXIST),
            Ok(_) => self.detach(to, newname)?,
            Err(_) => {}
        }
        self.dir(parent)?.remove(name);
        self.dir(to)?.insert(newname.to_owned(), ino);
        self.node(ino)?.name = newname.to_string_lossy().into_owned();
        Ok(())
    }

    /// Sets the file's length to `len`, then writes `bytes` at `offset`: data changes, all
    /// durable at the next fsync.
    fn change(&mut self, ino: u64, len: usize, offset: usize, bytes: &[u8]) -> Result<(), Errno> {
        let used: usize = self.nodes.values().map(|n| n.size()).sum();
        let quota = self.quota;
        let f = self.file(ino)?;
        let old = f.data.len();
        if len > old && quota.is_some_and(|q| (used + len - old) as u64 > q) {
            return Err(Errno::ENOSPC);
        }
        f.data.resize(len, 0);
        f.mark_dirty(old.min(len), old.max(len));
        f.data[offset..offset + bytes.len()].copy_from_slice(bytes);
        f.mark_dirty(offset, offset + bytes.len());
        self.node(ino)?.mtime = SystemTime::now();
        Ok(())
    }

    fn write(
        &mut self,
        ino: u64,
        offset: usize,
        bytes: &[u8],
        from_cache: bool,
    ) -> Result<u32, Errno> {
        let len = self.file(ino)?.data.len().max(offset + bytes.len());
        self.change(ino, len, offset, bytes)?;
        if !from_cache {
            // The kernel splits a write(2) at page boundaries: a contiguous run is one write.
            self.last_write = match self.last_write {
                Some((i, o, l)) if i == ino && o + l == offset => Some((i, o, l + bytes.len())),
                _ => Some((ino, offset, bytes.len())),
            };
        }
        Ok(bytes.len() as u32)
    }

    fn fsync(&mut self, ino: u64) -> Result<(), Errno> {
        let node = self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        *self.fsyncs.entry(node.name.clone()).or_default() += 1;
        let Kind::File(f) = &mut node.kind else {
            return Ok(());
        };
        if self.last_write.is_some_and(|w| w.0 == ino) {
            self.last_write = None;
        }
        let name = node.name.as_str();
        let dirty = !f.dirty.is_empty();
        let rule = self.fail.iter_mut().find(|(sfx, n, dirty_only)| {
            *n > 0 && name.ends_with(sfx.as_str()) && (dirty || !*dirty_only)
        });
        if let Some((_, n, _)) = rule {
            *n -= 1;
            self.injected += 1;
            f.dirty.clear(); // the pages count as written: no later fsync writes them
            return Err(Errno::EIO);
        }
        f.durable.resize(f.data.len(), 0);
        for (a, b) in std::mem::take(&mut f.dirty) {
            f.persist(a, b);
        }
        Ok(())
    }

    /// The power cut itself (the mount is already gone): only durable bytes remain.
    fn cut(&mut self, cut: Cut) -> Option<TornWrite> {
        let mut torn = None;
        if let (Cut::Torn { seed }, Some((ino, offset, len))) = (cut, self.last_write.take()) {
            let node = self.nodes.get_mut(&ino).expect("the last write's file");
            let kept = (splitmix64(seed) % (len / SECTOR + 1) as u64) as usize * SECTOR;
            if let Kind::File(f) = &mut node.kind {
                f.persist(offset, offset + kept);
            }
            let file = node.name.clone();
            torn = Some(TornWrite {
                file,
                offset: offset as u64,
                len,
                kept,
            });
        }
        self.nodes.retain(|_, n| n.nlink > 0);
        for n in self.nodes.values_mut() {
            n.opens = 0;
            if let Kind::File(f) = &mut n.kind {
                f.data = f.durable.clone();
                f.dirty.clear();
            }
        }
        torn
    }
}

fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The FUSE side of one mount.
struct Server {
    state: Arc<Mutex<State>>,
}

impl Server {
    fn run<T>(&self, reply: impl Answer<T>, f: impl FnOnce(&mut State) -> Result<T, Errno>) {
        reply.answer(f(&mut lock(&self.state)));
    }
}

/// A reply that carries a handler's result or its errno.
trait Answer<T> {
    fn answer(self, r: Result<T, Errno>);
}

macro_rules! answer {
    ($reply:ty, $t:ty, |$r:ident, $v:pat_param| $ok:expr) => {
        impl Answer<$t> for $reply {
            fn answer(self, r: Result<$t, Errno>) {
                let $r = self;
                match r {
                    Ok($v) => $ok,
                    Err(e) => $r.error(e),
                }
            }
        }
    };
}

const KEEP_CACHE: FopenFlags = FopenFlags::FOPEN_KEEP_CACHE;
answer!(ReplyEntry, FileAttr, |r, a| r.entry(
    &TTL,
    &a,
    Generation(0)
));
answer!(ReplyAttr, FileAttr, |r, a| r.attr(&TTL, &a));
answer!(ReplyEmpty, (), |r, ()| r.ok());
answer!(ReplyData, Vec<u8>, |r, d| r.data(&d));
answer!(ReplyWrite, u32, |r, n| r.written(n));
answer!(ReplyOpen, (), |r, ()| r.opened(FileHandle(0), KEEP_CACHE));
answer!(ReplyCreate, FileAttr, |r, a| {
    r.created(&TTL, &a, Generation(0), FileHandle(0), KEEP_CACHE)
});

impl Filesystem for Server {
    fn lookup(&self, _: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.run(reply, |s| s.child(parent.0, name).and_then(|i| s.attr(i)));
    }

    fn getattr(&self, _: &Request, ino: INodeNo, _: Option<FileHandle>, reply: ReplyAttr) {
        self.run(reply, |s| s.attr(ino.0));
    }

    fn setattr(
        &self,
        _: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        self.run(reply, |s| {
            if let Some(size) = size {
                s.change(ino.0, size as usize, 0, &[])?;
            }
            let n = s.node(ino.0)?;
            n.perm = mode.map_or(n.perm, |m| (m & 0o7777) as u16);
            n.uid = uid.unwrap_or(n.uid);
            n.gid = gid.unwrap_or(n.gid);
            n.mtime = match mtime {
                Some(TimeOrNow::SpecificTime(t)) => t,
                Some(TimeOrNow::Now) => SystemTime::now(),
                None => n.mtime,
            };
            s.attr(ino.0)
        });
    }

    fn mkdir(
        &self,
        req: &Request,
        dir: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        self.run(reply, |s| {
            s.add(req, dir.0, name, Kind::Dir(BTreeMap::new()), mode & !umask)
        });
    }

    fn unlink(&self, _: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.run(reply, |s| s.detach(parent.0, name));
    }

    fn rmdir(&self, _: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.run(reply, |s| s.detach(parent.0, name));
    }

    fn rename(
        &self,
        _: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        self.run(reply, |s| {
            s.rename(parent.0, name, newparent.0, newname, flags)
        });
    }

    fn open(&self, _: &Request, ino: INodeNo, _: OpenFlags, reply: ReplyOpen) {
        self.run(reply, |s| s.open(ino.0));
    }

    fn read(
        &self,
        _: &Request,
        ino: INodeNo,
        _: FileHandle,
        offset: u64,
        size: u32,
        _: OpenFlags,
        _: Option<LockOwner>,
        reply: ReplyData,
    ) {
        self.run(reply, |s| {
            let data = &s.file(ino.0)?.data;
            let start = (offset as usize).min(data.len());
            let end = (start + size as usize).min(data.len());
            Ok(data[start..end].to_vec())
        });
    }

    fn write(
        &self,
        _: &Request,
        ino: INodeNo,
        _: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: WriteFlags,
        _: OpenFlags,
        _: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let from_cache = write_flags.contains(WriteFlags::FUSE_WRITE_CACHE);
        self.run(reply, |s| s.write(ino.0, offset as usize, data, from_cache));
    }

    fn release(
        &self,
        _: &Request,
        ino: INodeNo,
        _: FileHandle,
        _: OpenFlags,
        _: Option<LockOwner>,
        _: bool,
        reply: ReplyEmpty,
    ) {
        self.run(reply, |s| {
            let n = s.node(ino.0)?;
            n.opens = n.opens.saturating_sub(1);
            s.free_if_unused(ino.0);
            Ok(())
        });
    }

    fn fsync(&self, _: &Request, ino: INodeNo, _: FileHandle, _: bool, reply: ReplyEmpty) {
        self.run(reply, |s| s.fsync(ino.0));
    }

    fn fsyncdir(&self, _: &Request, ino: INodeNo, _: FileHandle, _: bool, reply: ReplyEmpty) {
        self.run(reply, |s| s.fsync(ino.0));
    }

    fn readdir(
        &self,
        _: &Request,
        ino: INodeNo,
        _: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let mut s = lock(&self.state);
        let names = match s.dir(ino.0) {
            Ok(d) => d.clone(),
            Err(e) => return reply.error(e),
        };
        let dots = [(".".into(), ino.0), ("..".into(), INodeNo::ROOT.0)];
        let all = dots.into_iter().chain(names).enumerate();
        for (i, (name, child)) in all.skip(offset as usize) {
            let kind = s.attr(child).map_or(FileType::RegularFile, |a| a.kind);
            if reply.add(INodeNo(child), i as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn statfs(&self, _: &Request, _: INodeNo, reply: ReplyStatfs) {
        let (used, quota, files) = {
            let s = lock(&self.state);
            let used: usize = s.nodes.values().map(|n| n.size()).sum();
            (used as u64, s.quota, s.nodes.len() as u64)
        };
        let blocks = quota.unwrap_or(1 << 36) / BLOCK;
        let free = blocks.saturating_sub(used.div_ceil(BLOCK));
        let bs = BLOCK as u32;
        reply.statfs(blocks, free, free, files, 1 << 20, bs, 255, bs);
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _: i32,
        reply: ReplyCreate,
    ) {
        self.run(reply, |s| {
            let file = Kind::File(Regular::default());
            let a = s.add(req, parent.0, name, file, mode & !umask)?;
            s.open(a.ino.0).map(|()| a)
        });
    }
}

fn open_rw(path: &Path) -> File {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true);
    o.open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Unsynced writes are lost at a power cut; fsynced ones survive, and so does the namespace.
#[test]
fn unsynced_writes_are_lost_and_fsynced_ones_survive_a_power_cut() {
    let mut fs = FaultFs::scratch();
    let (synced, unsynced) = (fs.path().join("synced.dat"), fs.path().join("unsynced.dat"));
    let mut f = open_rw(&synced);
    f.write_all(b"kept").unwrap();
    f.sync_all().unwrap();
    f.write_all(b" and lost").unwrap();
    drop(f);
    std::fs::write(&unsynced, b"never fsynced").unwrap();
    std::fs::create_dir(fs.path().join("sub")).unwrap();
    assert_eq!(read(&synced), b"kept and lost");
    assert_eq!(fs.fsyncs("synced.dat"), 1);

    assert_eq!(fs.power_cut(Cut::Lost), None);
    assert_eq!(read(&synced), b"kept");
    assert_eq!(
        read(&unsynced),
        b"",
        "the name is durable at once, the data was not"
    );
    assert!(fs.path().join("sub").is_dir());
}

/// A failed fsync keeps the data readable until the cut, a later successful fsync does not
/// persist it (Linux marks the pages clean), and the cut loses it.
#[test]
fn a_failed_fsync_keeps_data_readable_but_it_never_becomes_durable() {
    let mut fs = FaultFs::scratch();
    let p = fs.path().join("x.db");
    let f = open_rw(&p);
    f.write_all_at(&[b'A'; 4096], 0).unwrap();
    f.sync_all().unwrap();
    f.write_all_at(&[b'B'; 4096], 0).unwrap();
    fs.fail_fsyncs(".db", 1);
    let err = f.sync_all().expect_err("the injected fsync failure");
    assert_eq!(err.raw_os_error(), Some(libc::EIO));
    assert_eq!(fs.injected_failures(), 1);
    assert_eq!(read(&p), [b'B'; 4096], "still readable");
    f.write_all_at(&[b'C'; 512], 4096).unwrap();
    f.sync_all().expect("the next fsync succeeds");
    drop(f);
    assert_eq!(fs.fsyncs("x.db"), 3);

    fs.power_cut(Cut::Lost);
    let mut want = vec![b'A'; 4096];
    want.extend([b'C'; 512]);
    assert_eq!(read(&p), want, "B never persisted; C, written after, did");
}

/// A torn cut keeps a 512-byte-multiple prefix of the last unsynced write, and nothing else
/// unsynced.
#[test]
fn a_torn_cut_keeps_a_sector_multiple_prefix_of_the_last_unsynced_write() {
    let mut fs = FaultFs::scratch();
    let (other, wal) = (fs.path().join("other.dat"), fs.path().join("t-wal"));
    std::fs::write(&other, [b'O'; 2048]).unwrap();
    let f = open_rw(&wal);
    f.write_all_at(&[b'S'; 1024], 0).unwrap();
    f.sync_all().unwrap();
    f.write_all_at(&[b'U'; 4096], 1024).unwrap();
    drop(f);

    let torn = fs.power_cut(Cut::Torn { seed: 7 }).expect("a torn write");
    let (file, offset, len, kept) = (torn.file.as_str(), torn.offset, torn.len, torn.kept);
    assert_eq!((file, offset, len), ("t-wal", 1024, 4096));
    assert!(
        kept % SECTOR == 0 && 0 < kept && kept < len,
        "seed 7 tears mid-write: {kept}"
    );
    let mut want = vec![b'S'; 1024];
    want.extend(vec![b'U'; kept]);
    assert_eq!(read(&wal), want);
    assert_eq!(read(&other), b"", "only the last write is torn");
}

/// Writes beyond the quota get ENOSPC; lifting the quota lets them succeed.
#[test]
fn writes_beyond_the_quota_get_enospc_until_it_is_lifted() {
    let fs = FaultFs::scratch();
    fs.set_quota(Some(64 * 1024));
    std::fs::write(fs.path().join("a"), [1u8; 48 * 1024]).unwrap();
    let b = fs.path().join("b");
    let err = std::fs::write(&b, [2u8; 32 * 1024]).expect_err("over the quota");
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    fs.set_quota(None);
    std::fs::write(&b, [2u8; 32 * 1024]).unwrap();
    assert_eq!(read(&b), [2u8; 32 * 1024]);
}

const COMMITTED: i64 = 40;

/// SQLite in WAL mode with synchronous=FULL, killed with committed, committed-but-unsynced
/// and uncommitted work, then a power cut: reopened, exactly the committed rows, intact.
#[test]
fn sqlite_keeps_exactly_the_committed_rows_across_a_kill_and_power_cut() {
    let mut fs = FaultFs::scratch();
    let db = fs.path().join("test.db");
    let mut writer = Helper::spawn("crash", &db);
    let unsynced = COMMITTED + 10;
    assert_eq!(
        writer.hear(),
        format!("ready {unsynced}"),
        "all rows committed"
    );
    drop(writer); // SIGKILL, no close
    assert!(
        fs.fsyncs("test.db-wal") >= COMMITTED as usize,
        "each commit syncs the WAL"
    );
    assert!(
        fs.fsyncs("test.db") >= 1,
        "the checkpoint synced the database"
    );

    fs.power_cut(Cut::Lost);
    let c = open_db(&db);
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM t"), COMMITTED);
    assert_eq!(one::<i64>(&c, "SELECT max(i) FROM t"), COMMITTED - 1);
    assert_eq!(one::<String>(&c, "PRAGMA integrity_check"), "ok");
}

/// Two processes share one WAL database on the mount (shared-mmap `-shm`, kernel-kept
/// POSIX locks): each sees the other's commit at once, and the result is intact.
#[test]
fn sqlite_wal_is_shared_by_two_processes_on_the_mount() {
    let fs = FaultFs::scratch();
    let db = fs.path().join("shared.db");
    let c = open_db(&db);
    c.execute_batch("CREATE TABLE t(who TEXT NOT NULL, i INTEGER NOT NULL)")
        .unwrap();
    let mut other = Helper::spawn("pingpong", &db);
    for i in 0..20 {
        c.execute("INSERT INTO t VALUES ('parent', ?1)", [i])
            .unwrap();
        other.tell(&i.to_string());
        assert_eq!(other.hear(), "ok");
        assert_eq!(one::<i64>(&c, CHILD_ROWS), i + 1);
    }
    other.tell("done");
    other.wait_success();
    assert_eq!(one::<i64>(&c, "SELECT count(*) FROM t"), 40);
    assert_eq!(one::<String>(&c, "PRAGMA integrity_check"), "ok");
}

const CHILD_ROWS: &str = "SELECT count(*) FROM t WHERE who = 'child'";
const PARENT_ROWS: &str = "SELECT count(*) FROM t WHERE who = 'parent'";

/// fcntl (POSIX) and flock locks taken by one process on the mount block another process.
#[test]
fn posix_and_flock_locks_conflict_across_processes() {
    let fs = FaultFs::scratch();
    let p = fs.path().join("locked");
    let f = open_rw(&p);
    assert_eq!(set_locks(&f, true), (true, true));
    let mut other = Helper::spawn("locks", &p);
    assert_eq!(other.hear(), "fcntl=false flock=false");
    assert_eq!(set_locks(&f, false), (true, true));
    other.tell("released");
    assert_eq!(other.hear(), "fcntl=true flock=true");
    other.wait_success();
}

/// Takes (or drops) without waiting a POSIX write lock on byte 0 and an exclusive flock;
/// whether each call succeeded.
fn set_locks(f: &File, take: bool) -> (bool, bool) {
    // SAFETY: a zeroed `struct flock` is valid; its fields are set below.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = if take { libc::F_WRLCK } else { libc::F_UNLCK } as i16;
    fl.l_whence = libc::SEEK_SET as i16;
    fl.l_len = 1;
    let op = if take {
        libc::LOCK_EX | libc::LOCK_NB
    } else {
        libc::LOCK_UN
    };
    let fd = f.as_raw_fd();
    // SAFETY: a valid open fd and a valid `struct flock`.
    unsafe {
        (
            libc::fcntl(fd, libc::F_SETLK, &fl) == 0,
            libc::flock(fd, op) == 0,
        )
    }
}

fn open_db(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).expect("open the database");
    assert_eq!(one::<String>(&c, "PRAGMA journal_mode=WAL"), "wal");
    c.execute_batch("PRAGMA synchronous=FULL").unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c
}

/// The one value `sql` answers.
fn one<T: rusqlite::types::FromSql>(c: &rusqlite::Connection, sql: &str) -> T {
    c.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// This test binary run again as a second process (`helper_process`), talking by lines:
/// commands on its stdin, answers on its stderr prefixed with `@`.
struct Helper {
    child: Child,
    stdin: ChildStdin,
    said: mpsc::Receiver<String>,
}

const HELPER_ARGS: [&str; 4] = [
    "faultfs::helper_process",
    "--exact",
    "--ignored",
    "--nocapture",
];

impl Helper {
    fn spawn(mode: &str, path: &Path) -> Helper {
        let mut cmd = Command::new(std::env::current_exe().expect("the test binary"));
        cmd.args(HELPER_ARGS)
            .env("FAULTFS_HELPER", mode)
            .env("FAULTFS_PATH", path);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn the helper process");
        let stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        let (tx, said) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stdin = child.stdin.take().expect("piped stdin");
        Helper { child, stdin, said }
    }

    fn tell(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the helper");
    }

    /// The helper's next `@` answer, waiting at most 60 s; anything else it said (a panic)
    /// goes into the failure message.
    fn hear(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut other = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.said.recv_timeout(left) {
                Ok(line) if line.starts_with('@') => return line[1..].to_owned(),
                Ok(line) => other.push(line),
                Err(e) => panic!(
                    "no answer from the helper ({e}); it said:\n{}",
                    other.join("\n")
                ),
            }
        }
    }

    fn wait_success(mut self) {
        let status = poll_within(Duration::from_secs(60), "the helper to exit", || {
            self.child.try_wait().expect("wait for the helper")
        });
        assert!(status.success(), "helper exited with {status}");
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Not a test: the second process of the tests above, started by `Helper::spawn` (does
/// nothing when run any other way).
#[test]
#[ignore = "child process of the faultfs tests"]
fn helper_process() {
    let (Ok(mode), Some(path)) = (
        std::env::var("FAULTFS_HELPER"),
        std::env::var_os("FAULTFS_PATH"),
    ) else {
        return;
    };
    let path = PathBuf::from(path);
    let say = |s: &str| eprintln!("@{s}");
    let mut stdin = io::stdin().lines().map(|l| l.expect("stdin"));
    match mode.as_str() {
        "crash" => {
            let c = open_db(&path);
            c.execute_batch("CREATE TABLE t(i INTEGER PRIMARY KEY, v BLOB NOT NULL)")
                .unwrap();
            let insert = "INSERT INTO t VALUES (?1, randomblob(3000))";
            for i in 0..COMMITTED {
                c.execute(insert, [i]).unwrap();
                if i == COMMITTED / 2 {
                    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
                }
            }
            let lazy = open_db(&path);
            lazy.execute_batch("PRAGMA synchronous=OFF").unwrap();
            for i in COMMITTED..COMMITTED + 10 {
                lazy.execute(insert, [i]).unwrap();
            }
            let n: i64 = one(&lazy, "SELECT count(*) FROM t");
            // Uncommitted, and larger than the page cache: it spills into the WAL.
            c.execute_batch("PRAGMA cache_size=4; BEGIN;").unwrap();
            c.execute_batch("INSERT INTO t SELECT i + 1000, randomblob(3000) FROM t")
                .unwrap();
            say(&format!("ready {n}"));
            let _ = stdin.next(); // killed while waiting here
        }
        "pingpong" => {
            let c = open_db(&path);
            for line in stdin.take_while(|l| l != "done") {
                let i: i64 = line.parse().expect("a round number");
                assert_eq!(
                    one::<i64>(&c, PARENT_ROWS),
                    i + 1,
                    "the parent's commit is seen"
                );
                c.execute("INSERT INTO t VALUES ('child', ?1)", [i])
                    .unwrap();
                say("ok");
            }
        }
        "locks" => {
            let f = open_rw(&path);
            let report = |(a, b): (bool, bool)| format!("fcntl={a} flock={b}");
            say(&report(set_locks(&f, true)));
            assert_eq!(stdin.next().as_deref(), Some("released"));
            say(&report(set_locks(&f, true)));
        }
        m => panic!("unknown helper mode {m}"),
    }
}
