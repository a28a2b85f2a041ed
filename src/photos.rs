//! The photo store: inspection photos, content-addressed by SHA-256 under
//! `state_dir/photos/<aa>/<sha256>.<ext>`, sniffed (JPEG, PNG, WebP only), size-limited.
//! Events reference photos by hash; the push worker uploads them before those events.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::domain::event::PhotoRef;

/// Largest accepted photo (the contract's blob limit).
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// The image type of `bytes`, by their magic numbers.
pub fn sniff(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else {
        None
    }
}

fn ext_of(content_type: &str) -> Option<&'static str> {
    match content_type {
        "image/jpeg" => Some("jpg"),
        "image/png" => Some("png"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

fn path_for(state_dir: &Path, sha: &str, ext: &str) -> PathBuf {
    state_dir
        .join("photos")
        .join(&sha[..2])
        .join(format!("{sha}.{ext}"))
}

fn valid_sha(sha: &str) -> bool {
    sha.len() == 64
        && sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a photo cannot be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("the photo is {0} bytes; at most {MAX_BYTES} are accepted")]
    TooLarge(usize),
    #[error("not a JPEG, PNG or WebP image (by its content)")]
    NotAnImage,
    #[error("{0:?} is not a SHA-256 hex digest")]
    BadDigest(String),
    /// The stored copy does not hash to its name: it must never be used as the photo.
    #[error("{}: the stored photo is damaged (hash mismatch)", .0.display())]
    Damaged(std::path::PathBuf),
    #[error("{}: {error}", path.display())]
    Io {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PhotoError + '_ {
    move |error| PhotoError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Store a photo (idempotent) and return its reference. The file is written to a temp name,
/// synced, then renamed, so a crash never leaves a half photo under its hash.
pub fn store(state_dir: &Path, bytes: &[u8]) -> Result<PhotoRef, PhotoError> {
    if bytes.len() > MAX_BYTES {
        return Err(PhotoError::TooLarge(bytes.len()));
    }
    let (content_type, ext) = sniff(bytes).ok_or(PhotoError::NotAnImage)?;
    let sha = sha256_hex(bytes);
    let path = path_for(state_dir, &sha, ext);
    if !path.exists() {
        let dir = path.parent().unwrap_or(state_dir);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = dir.join(format!(".{sha}.tmp"));
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(bytes).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
    }
    Ok(PhotoRef {
        sha256: sha,
        bytes: bytes.len() as u64,
        content_type: content_type.to_string(),
    })
}

/// Read a stored photo; checks its hash so a damaged copy is never uploaded as good.
pub fn read(state_dir: &Path, sha: &str) -> Result<Option<(Vec<u8>, String)>, PhotoError> {
    if !valid_sha(sha) {
        return Err(PhotoError::BadDigest(sha.to_string()));
    }
    for ct in ["image/jpeg", "image/png", "image/webp"] {
        let Some(ext) = ext_of(ct) else { continue };
        let p = path_for(state_dir, sha, ext);
        if p.exists() {
            let bytes = std::fs::read(&p).map_err(io(&p))?;
            if sha256_hex(&bytes) != sha {
                return Err(PhotoError::Damaged(p));
            }
            return Ok(Some((bytes, ct.to_string())));
        }
    }
    Ok(None)
}

/// Delete photos older than `cutoff` (by file time) that no unacknowledged event still
/// references (`referenced` answers that); returns (files, bytes) removed.
pub fn prune(
    state_dir: &Path,
    cutoff: std::time::SystemTime,
    referenced: &mut dyn FnMut(&str) -> bool,
) -> (u64, u64) {
    let mut files = 0;
    let mut bytes = 0;
    let Ok(dirs) = std::fs::read_dir(state_dir.join("photos")) else {
        return (0, 0);
    };
    for d in dirs.filter_map(Result::ok) {
        let Ok(entries) = std::fs::read_dir(d.path()) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            let p = e.path();
            let Some(sha) = p.file_stem().and_then(|s| s.to_str()).map(str::to_string) else {
                continue;
            };
            let Ok(meta) = e.metadata() else { continue };
            let old = meta.modified().map(|m| m < cutoff).unwrap_or(false);
            if !valid_sha(&sha) || !old || referenced(&sha) {
                continue;
            }
            if std::fs::remove_file(&p).is_ok() {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    (files, bytes)
}

/// Bytes used by the photo store.
pub fn usage(state_dir: &Path) -> u64 {
    fn walk(p: &Path) -> u64 {
        let Ok(rd) = std::fs::read_dir(p) else {
            return 0;
        };
        rd.filter_map(Result::ok)
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => walk(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    }
    walk(&state_dir.join("photos"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pruning removes only photos past the cutoff that nothing pending references.
    #[test]
    fn prunes_old_unreferenced_photos_only() {
        let dir = tempfile::tempdir().unwrap();
        let mk = |tag: u8| {
            let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
            b.push(tag);
            store(dir.path(), &b).unwrap()
        };
        let (old, pending, young) = (mk(1), mk(2), mk(3));
        let day = std::time::Duration::from_secs(86_400);
        let long_ago = std::time::SystemTime::now() - 40 * day;
        for p in [&old, &pending] {
            let path = path_for(dir.path(), &p.sha256, "png");
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
        }
        let cutoff = std::time::SystemTime::now() - 30 * day;
        let pending_sha = pending.sha256.clone();
        let (files, _) = prune(dir.path(), cutoff, &mut |sha| sha == pending_sha);
        assert_eq!(files, 1);
        assert_eq!(
            read(dir.path(), &old.sha256).unwrap(),
            None,
            "old and unreferenced: gone"
        );
        assert!(
            read(dir.path(), &pending.sha256).unwrap().is_some(),
            "still referenced: kept"
        );
        assert!(
            read(dir.path(), &young.sha256).unwrap().is_some(),
            "young: kept"
        );
    }

    /// Photos are stored once by content, read back verified, and non-images refused.
    #[test]
    fn stores_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let png = b"\x89PNG\r\n\x1a\nrest-of-a-png".to_vec();
        let a = store(dir.path(), &png).unwrap();
        let b = store(dir.path(), &png).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.content_type, "image/png");
        assert_eq!(a.sha256, sha256_hex(&png));
        let (bytes, ct) = read(dir.path(), &a.sha256).unwrap().unwrap();
        assert_eq!((bytes, ct.as_str()), (png.clone(), "image/png"));
        assert!(store(dir.path(), b"GIF89a....").is_err());
        assert!(
            read(dir.path(), "../../etc/passwd").is_err(),
            "no path traversal"
        );
        assert_eq!(read(dir.path(), &"0".repeat(64)).unwrap(), None);
        // A damaged copy is detected, not uploaded.
        let p = path_for(dir.path(), &a.sha256, "png");
        std::fs::write(&p, b"\x89PNG\r\n\x1a\ndamaged").unwrap();
        assert!(matches!(
            read(dir.path(), &a.sha256),
            Err(PhotoError::Damaged(_))
        ));
    }
}
