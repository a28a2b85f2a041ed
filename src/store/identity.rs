//! Where the database lives, recorded when it is created, so that a database copied or
//! moved to another disk or machine is noticed (contract 1.1, "Identity and auth"):
//! such a copy is "replaced", and must not push under its old epoch until an operator
//! confirms a restore (`returnsd restore --confirm-moved`), which takes a new epoch.
//!
//! The identity is the machine id (`/etc/machine-id`; empty where there is none) and the
//! database file's device and inode. SQLite writes the main file in place (it never
//! replaces it), so both stay the same for the life of a database where it was created;
//! a copy (`cp`, rsync, a backup tool's restore) is a new file, another inode. A restore by
//! `returnsd restore` records the identity of the file it renames into place.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

const MACHINE: &str = "identity_machine";
const FILE: &str = "identity_file";

/// Where the machine id is read from, in order.
const MACHINE_ID_FILES: [&str; 2] = ["/etc/machine-id", "/var/lib/dbus/machine-id"];

/// The identity of the database file at `db` on this machine: (machine id, `dev:inode`).
fn current(db: &Path) -> Result<(String, String), StoreError> {
    let machine = MACHINE_ID_FILES
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let meta = std::fs::metadata(db).map_err(|e| StoreError::Fault {
        path: db.to_path_buf(),
        detail: e.to_string(),
    })?;
    Ok((machine, format!("{}:{}", meta.dev(), meta.ino())))
}

/// Record the identity of the file at `db` (written into the database `conn`, which may be
/// another path that will be renamed to `db`'s: a rename keeps the inode).
pub(super) fn record(conn: &Connection, db: &Path) -> Result<(), StoreError> {
    let (machine, file) = current(db)?;
    for (k, v) in [(MACHINE, machine), (FILE, file)] {
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![k, v],
        )?;
    }
    Ok(())
}

/// Why the database at `db` is not where it was created (None: it is, or it predates
/// identities — then its identity is recorded now).
pub(super) fn moved(conn: &Connection, db: &Path) -> Result<Option<String>, StoreError> {
    let get = |k: &str| -> Result<Option<String>, StoreError> {
        Ok(conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([k], |r| r.get(0))
            .optional()?)
    };
    let (Some(machine), Some(file)) = (get(MACHINE)?, get(FILE)?) else {
        record(conn, db)?;
        return Ok(None);
    };
    let (now_machine, now_file) = current(db)?;
    if machine == now_machine && file == now_file {
        return Ok(None);
    }
    Ok(Some(format!(
        "{}: this database was created {} and is now {}: it was copied or moved, so it must not go on under its epoch. Stop returnsd and run `returnsd restore --confirm-moved` (a new epoch; nothing is lost)",
        db.display(),
        describe(&machine, &file),
        describe(&now_machine, &now_file),
    )))
}

fn describe(machine: &str, file: &str) -> String {
    if machine.is_empty() {
        format!("as file {file}")
    } else {
        format!("on machine {machine} as file {file}")
    }
}
