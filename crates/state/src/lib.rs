//! The local state store: what a previous run learnt, so the next one moves only what changed
//! and never copies a message twice.
//!
//! One SQLite database (WAL, `synchronous=NORMAL`) per account pair, in a private directory.
//! Per folder pair it keeps:
//! * both sides' UIDVALIDITY, and the UIDNEXT / HIGHESTMODSEQ / message count seen at the end
//!   of the last complete sync: equal values on the next run mean "nothing changed" and the
//!   folder costs no command at all;
//! * the UID map `uid1 → uid2` (from APPENDUID or from identity matches), with the flags last
//!   written to host2;
//! * an intent journal: one row per APPEND written *before* the APPEND is sent (source UID,
//!   identity key, host2 UIDNEXT and UIDVALIDITY seen). An APPENDUID answer turns the intent
//!   into a map entry in the same transaction. Intents left open by a crash tell the next run
//!   which host2 UIDs may hold a copy that arrived without us learning it; that run adopts those
//!   messages by identity instead of copying them again (mbsync's journal-before-act idea,
//!   without adding any header to the messages).
//!
//! The record types are plain data defined by `imapsync_plan::record` (the folder plan
//! decides what is recorded); this crate stores them.
//!
//! Files are created 0600 in a directory created 0700; neither is opened through a symlink.
//! An advisory lock (`flock`) on `<db>.lock` keeps two runs of the same account pair apart:
//! the second one gets [`StateError::Busy`] and can carry on without a store.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state store {path}: {source}")]
    Db {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("state store {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("state store {path} is in use by another run (pid {pid})")]
    Busy { path: String, pid: String },
    #[error("state store {path}: {reason}")]
    Unsafe { path: String, reason: String },
}

type Result<T> = std::result::Result<T, StateError>;

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS folder(
    id INTEGER PRIMARY KEY,
    name1 TEXT NOT NULL,
    name2 TEXT NOT NULL,
    uidvalidity1 INTEGER, uidvalidity2 INTEGER,
    uidnext1 INTEGER, modseq1 INTEGER, messages1 INTEGER,
    uidnext2 INTEGER, modseq2 INTEGER, messages2 INTEGER,
    complete INTEGER NOT NULL DEFAULT 0,
    n1 INTEGER NOT NULL DEFAULT 0, n2 INTEGER NOT NULL DEFAULT 0,
    dup1 INTEGER NOT NULL DEFAULT 0, dup2 INTEGER NOT NULL DEFAULT 0,
    missing INTEGER NOT NULL DEFAULT 0, extra INTEGER NOT NULL DEFAULT 0,
    bytes1 INTEGER NOT NULL DEFAULT 0, bytes2 INTEGER NOT NULL DEFAULT 0,
    options TEXT,
    uids1 TEXT,
    UNIQUE(name1, name2)
);
CREATE TABLE IF NOT EXISTS map(
    folder INTEGER NOT NULL,
    uid1 INTEGER NOT NULL,
    uid2 INTEGER NOT NULL,
    flags TEXT,
    PRIMARY KEY(folder, uid1)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS map_uid2 ON map(folder, uid2);
CREATE TABLE IF NOT EXISTS intent(
    id INTEGER PRIMARY KEY,
    folder INTEGER NOT NULL,
    uid1 INTEGER NOT NULL,
    key TEXT,
    size INTEGER NOT NULL,
    uidvalidity2 INTEGER,
    uidnext2 INTEGER
);
CREATE INDEX IF NOT EXISTS intent_folder ON intent(folder);
";

pub use imapsync_plan::record::{FolderRecord, Intent, MapEntry, NewIntent, SideStatus, Summary};

/// The store of one account pair.
pub struct Store {
    db: Mutex<Connection>,
    path: PathBuf,
    _lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path.display())
    }
}

/// Creates `dir` (and parents) with mode 0700 if missing; refuses a symlink or a directory
/// owned by someone else. An existing directory's mode is left alone.
pub fn private_dir(dir: &Path) -> Result<()> {
    let io = |reason: String| StateError::Io {
        path: dir.display().to_string(),
        reason,
    };
    match std::fs::symlink_metadata(dir) {
        Ok(m) => {
            if m.file_type().is_symlink() {
                return Err(StateError::Unsafe {
                    path: dir.display().to_string(),
                    reason: "is a symbolic link".into(),
                });
            }
            if !m.is_dir() {
                return Err(io("not a directory".into()));
            }
            // SAFETY: geteuid has no preconditions.
            let me = unsafe { libc::geteuid() };
            if m.uid() != me {
                return Err(StateError::Unsafe {
                    path: dir.display().to_string(),
                    reason: format!("owned by uid {}, not by us ({me})", m.uid()),
                });
            }
            Ok(())
        }
        Err(_) => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io(e.to_string())),
    }
}

/// Opens (creating 0600, never through a symlink) a private file for writing.
pub fn private_file(path: &Path, truncate: bool) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(truncate)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> StateError + '_ {
    move |source| StateError::Db {
        path: path.display().to_string(),
        source,
    }
}

impl Store {
    /// Opens or creates the store at `path` (its directory is made private), taking the lock.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            private_dir(dir)?;
        }
        let lock_path = path.with_extension("lock");
        let lock = private_file(&lock_path, false).map_err(|e| StateError::Io {
            path: lock_path.display().to_string(),
            reason: e.to_string(),
        })?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a file descriptor we own.
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let pid = std::fs::read_to_string(&lock_path).unwrap_or_default();
            return Err(StateError::Busy {
                path: path.display().to_string(),
                pid: pid.trim().to_string(),
            });
        }
        {
            use std::io::Write;
            let mut l = &lock;
            let _ = lock.set_len(0);
            let _ = writeln!(l, "{}", std::process::id());
        }
        // Create the database file ourselves so its mode is 0600 and no symlink is followed.
        private_file(path, false).map_err(|e| StateError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let conn = Connection::open(path).map_err(db_err(path))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF; PRAGMA busy_timeout=5000;",
        )
        .map_err(db_err(path))?;
        conn.execute_batch(SCHEMA).map_err(db_err(path))?;
        // Stores made before `uids1` existed get the column (it starts empty: the next
        // complete sync of each folder fills it).
        let has_uids1: bool = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('folder') WHERE name='uids1'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(db_err(path))?
            > 0;
        if !has_uids1 {
            conn.execute_batch("ALTER TABLE folder ADD COLUMN uids1 TEXT;")
                .map_err(db_err(path))?;
        }
        let version: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key='schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_err(path))?;
        match version.and_then(|v| v.parse::<i64>().ok()) {
            None => {
                conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES('schema', ?1)",
                    params![SCHEMA_VERSION.to_string()],
                )
                .map_err(db_err(path))?;
            }
            Some(v) if v == SCHEMA_VERSION => {}
            Some(v) => {
                return Err(StateError::Io {
                    path: path.display().to_string(),
                    reason: format!(
                        "schema version {v} is newer than this program ({SCHEMA_VERSION})"
                    ),
                });
            }
        }
        // The WAL and shm files inherit the umask; make them private too.
        for ext in ["sqlite-wal", "sqlite-shm"] {
            let p = PathBuf::from(format!(
                "{}-{}",
                path.display(),
                ext.trim_start_matches("sqlite-")
            ));
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
        Ok(Store {
            db: Mutex::new(conn),
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut guard = self.db.lock().map_err(|_| StateError::Io {
            path: self.path.display().to_string(),
            reason: "lock poisoned".into(),
        })?;
        f(&mut guard).map_err(db_err(&self.path))
    }

    /// Stores a free-form description (e.g. the account pair) in the meta table.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
                params![key, value],
            )
            .map(|_| ())
        })
    }

    /// The record of a folder pair, created empty if new.
    pub fn folder(&self, name1: &str, name2: &str) -> Result<FolderRecord> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO folder(name1, name2) VALUES(?1, ?2)",
                params![name1, name2],
            )?;
            c.query_row(
                "SELECT id, uidvalidity1, uidvalidity2, uidnext1, modseq1, messages1, uidnext2, modseq2, messages2,
                        complete, n1, n2, dup1, dup2, missing, extra, bytes1, bytes2, options, uids1
                 FROM folder WHERE name1=?1 AND name2=?2",
                params![name1, name2],
                |r| {
                    Ok(FolderRecord {
                        id: r.get(0)?,
                        name1: name1.to_string(),
                        name2: name2.to_string(),
                        uidvalidity1: r.get(1)?,
                        uidvalidity2: r.get(2)?,
                        side1: SideStatus {
                            uidnext: r.get(3)?,
                            modseq: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
                            messages: r.get(5)?,
                        },
                        side2: SideStatus {
                            uidnext: r.get(6)?,
                            modseq: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
                            messages: r.get(8)?,
                        },
                        complete: r.get::<_, i64>(9)? != 0,
                        options: r.get(18)?,
                        uids1: r.get(19)?,
                        summary: Summary {
                            n1: r.get::<_, i64>(10)? as u64,
                            n2: r.get::<_, i64>(11)? as u64,
                            dup1: r.get::<_, i64>(12)? as u64,
                            dup2: r.get::<_, i64>(13)? as u64,
                            missing: r.get::<_, i64>(14)? as u64,
                            extra: r.get::<_, i64>(15)? as u64,
                            bytes1: r.get::<_, i64>(16)? as u64,
                            bytes2: r.get::<_, i64>(17)? as u64,
                        },
                    })
                },
            )
        })
    }

    /// Saves the statuses and summary of a folder pair (after a sync attempt).
    pub fn save_folder(&self, rec: &FolderRecord) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE folder SET uidvalidity1=?2, uidvalidity2=?3, uidnext1=?4, modseq1=?5, messages1=?6,
                        uidnext2=?7, modseq2=?8, messages2=?9, complete=?10, n1=?11, n2=?12, dup1=?13,
                        dup2=?14, missing=?15, extra=?16, bytes1=?17, bytes2=?18, options=?19, uids1=?20
                 WHERE id=?1",
                params![
                    rec.id,
                    rec.uidvalidity1,
                    rec.uidvalidity2,
                    rec.side1.uidnext,
                    rec.side1.modseq.map(|v| v as i64),
                    rec.side1.messages,
                    rec.side2.uidnext,
                    rec.side2.modseq.map(|v| v as i64),
                    rec.side2.messages,
                    i64::from(rec.complete),
                    rec.summary.n1 as i64,
                    rec.summary.n2 as i64,
                    rec.summary.dup1 as i64,
                    rec.summary.dup2 as i64,
                    rec.summary.missing as i64,
                    rec.summary.extra as i64,
                    rec.summary.bytes1 as i64,
                    rec.summary.bytes2 as i64,
                    rec.options,
                    rec.uids1,
                ],
            )
            .map(|_| ())
        })
    }

    /// Marks a folder pair incomplete (at the start of a sync, so a crash leaves it marked).
    pub fn mark_incomplete(&self, folder: i64) -> Result<()> {
        self.with(|c| {
            c.execute("UPDATE folder SET complete=0 WHERE id=?1", params![folder])
                .map(|_| ())
        })
    }

    /// Forgets everything about a folder pair (a UIDVALIDITY changed): map, intents, statuses.
    pub fn reset_folder(&self, folder: i64) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM map WHERE folder=?1", params![folder])?;
            tx.execute("DELETE FROM intent WHERE folder=?1", params![folder])?;
            tx.execute(
                "UPDATE folder SET uidvalidity1=NULL, uidvalidity2=NULL, uidnext1=NULL, modseq1=NULL, messages1=NULL,
                        uidnext2=NULL, modseq2=NULL, messages2=NULL, complete=0, uids1=NULL WHERE id=?1",
                params![folder],
            )?;
            tx.commit()
        })
    }

    /// The UID map of a folder pair.
    pub fn load_map(&self, folder: i64) -> Result<Vec<MapEntry>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT uid1, uid2, flags FROM map WHERE folder=?1 ORDER BY uid1",
            )?;
            let rows = st.query_map(params![folder], |r| {
                Ok(MapEntry {
                    uid1: r.get(0)?,
                    uid2: r.get(1)?,
                    flags: r.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Adds or replaces map entries.
    pub fn insert_map(&self, folder: i64, entries: &[MapEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT OR REPLACE INTO map(folder, uid1, uid2, flags) VALUES(?1, ?2, ?3, ?4)",
                )?;
                for e in entries {
                    st.execute(params![folder, e.uid1, e.uid2, e.flags])?;
                }
            }
            tx.commit()
        })
    }

    /// Updates the flags recorded for host1 UIDs.
    pub fn update_flags(&self, folder: i64, flags: &[(u32, String)]) -> Result<()> {
        if flags.is_empty() {
            return Ok(());
        }
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st =
                    tx.prepare_cached("UPDATE map SET flags=?3 WHERE folder=?1 AND uid1=?2")?;
                for (uid1, f) in flags {
                    st.execute(params![folder, uid1, f])?;
                }
            }
            tx.commit()
        })
    }

    /// Removes map entries by host1 UID.
    pub fn remove_uid1(&self, folder: i64, uids: &[u32]) -> Result<()> {
        self.remove(folder, uids, "DELETE FROM map WHERE folder=?1 AND uid1=?2")
    }

    /// Removes map entries by host2 UID.
    pub fn remove_uid2(&self, folder: i64, uids: &[u32]) -> Result<()> {
        self.remove(folder, uids, "DELETE FROM map WHERE folder=?1 AND uid2=?2")
    }

    fn remove(&self, folder: i64, uids: &[u32], sql: &str) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(sql)?;
                for u in uids {
                    st.execute(params![folder, u])?;
                }
            }
            tx.commit()
        })
    }

    /// Journals APPENDs about to be sent; returns their ids (same order).
    pub fn add_intents(&self, folder: i64, intents: &[NewIntent]) -> Result<Vec<i64>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut ids = Vec::with_capacity(intents.len());
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO intent(folder, uid1, key, size, uidvalidity2, uidnext2) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for i in intents {
                    st.execute(params![folder, i.uid1, i.key, i.size as i64, i.uidvalidity2, i.uidnext2])?;
                    ids.push(tx.last_insert_rowid());
                }
            }
            tx.commit()?;
            Ok(ids)
        })
    }

    /// Turns intents into map entries (APPENDUID received), atomically.
    pub fn resolve_intents(&self, folder: i64, done: &[(i64, MapEntry)]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut ins = tx.prepare_cached(
                    "INSERT OR REPLACE INTO map(folder, uid1, uid2, flags) VALUES(?1, ?2, ?3, ?4)",
                )?;
                let mut del = tx.prepare_cached("DELETE FROM intent WHERE id=?1")?;
                for (id, e) in done {
                    ins.execute(params![folder, e.uid1, e.uid2, e.flags])?;
                    del.execute(params![id])?;
                }
            }
            tx.commit()
        })
    }

    /// Drops intents whose APPEND certainly did not happen (refused by the server), or whose
    /// outcome has been settled another way.
    pub fn drop_intents(&self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut del = tx.prepare_cached("DELETE FROM intent WHERE id=?1")?;
                for id in ids {
                    del.execute(params![id])?;
                }
            }
            tx.commit()
        })
    }

    /// Intents left open in a folder pair.
    pub fn open_intents(&self, folder: i64) -> Result<Vec<Intent>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, uid1, key, size, uidvalidity2, uidnext2 FROM intent WHERE folder=?1 ORDER BY id",
            )?;
            let rows = st.query_map(params![folder], |r| {
                Ok(Intent {
                    id: r.get(0)?,
                    uid1: r.get(1)?,
                    key: r.get(2)?,
                    size: r.get::<_, i64>(3)? as u64,
                    uidvalidity2: r.get(4)?,
                    uidnext2: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }
}

/// The default directory of state stores: `$XDG_STATE_HOME/imapsync-rs` or
/// `~/.local/state/imapsync-rs`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("imapsync-rs"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".local/state/imapsync-rs"))
}

/// File name of the store of an account pair: readable parts plus a hash of the exact
/// identities (so two spellings that sanitise alike don't collide).
pub fn file_name(host1: &str, user1: &str, host2: &str, user2: &str) -> String {
    let ident = format!(
        "{}\u{0}{}\u{0}{}\u{0}{}",
        host1.to_ascii_lowercase(),
        user1,
        host2.to_ascii_lowercase(),
        user2
    );
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect()
    };
    format!(
        "{}_{}__{}_{}-{:016x}.sqlite",
        clean(&host1.to_ascii_lowercase()),
        clean(user1),
        clean(&host2.to_ascii_lowercase()),
        clean(user2),
        fnv1a(ident.as_bytes())
    )
}

fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("state/x.sqlite")).expect("open");
        (dir, s)
    }

    #[test]
    fn a_store_from_before_uids1_gets_the_column_and_keeps_its_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.sqlite");
        {
            let c = Connection::open(&path).expect("open");
            // The folder table as the first release made it.
            c.execute_batch(&SCHEMA.replace("    uids1 TEXT,\n", ""))
                .expect("old schema");
            c.execute(
                "INSERT INTO folder(name1, name2, uidnext1, complete) VALUES('A', 'B', 7, 1)",
                [],
            )
            .expect("row");
            c.execute("INSERT INTO meta(key, value) VALUES('schema', '1')", [])
                .expect("meta");
        }
        let st = Store::open(&path).expect("reopen");
        let mut r = st.folder("A", "B").expect("record");
        assert_eq!(
            (r.side1.uidnext, r.complete, r.uids1.as_deref()),
            (Some(7), true, None)
        );
        r.uids1 = Some("1:5,9".into());
        st.save_folder(&r).expect("save");
        assert_eq!(
            st.folder("A", "B").expect("again").uids1.as_deref(),
            Some("1:5,9")
        );
        st.reset_folder(r.id).expect("reset");
        assert_eq!(st.folder("A", "B").expect("reset").uids1, None);
    }

    #[test]
    fn folder_roundtrip_and_reset() {
        let (_d, s) = store();
        let mut f = s.folder("INBOX.a", "a").expect("folder");
        assert_eq!(f.uidvalidity1, None);
        f.uidvalidity1 = Some(7);
        f.uidvalidity2 = Some(9);
        f.side1 = SideStatus {
            uidnext: Some(10),
            modseq: Some(1 << 40),
            messages: Some(3),
        };
        f.complete = true;
        f.summary.n1 = 3;
        s.save_folder(&f).expect("save");
        let g = s.folder("INBOX.a", "a").expect("folder");
        assert_eq!(f, g);
        s.insert_map(
            g.id,
            &[MapEntry {
                uid1: 1,
                uid2: 5,
                flags: Some("\\Seen".into()),
            }],
        )
        .expect("map");
        s.reset_folder(g.id).expect("reset");
        let h = s.folder("INBOX.a", "a").expect("folder");
        assert_eq!(h.uidvalidity1, None);
        assert!(!h.complete);
        assert!(s.load_map(h.id).expect("map").is_empty());
    }

    #[test]
    fn intents_become_map_entries() {
        let (_d, s) = store();
        let f = s.folder("A", "B").expect("folder");
        let ids = s
            .add_intents(
                f.id,
                &[
                    NewIntent {
                        uid1: 1,
                        key: Some("k1".into()),
                        size: 10,
                        uidvalidity2: Some(3),
                        uidnext2: Some(1),
                    },
                    NewIntent {
                        uid1: 2,
                        key: None,
                        size: 20,
                        uidvalidity2: Some(3),
                        uidnext2: Some(1),
                    },
                ],
            )
            .expect("intents");
        assert_eq!(s.open_intents(f.id).expect("open").len(), 2);
        s.resolve_intents(
            f.id,
            &[(
                ids[0],
                MapEntry {
                    uid1: 1,
                    uid2: 1,
                    flags: None,
                },
            )],
        )
        .expect("resolve");
        let open = s.open_intents(f.id).expect("open");
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].uid1, 2);
        assert_eq!(
            s.load_map(f.id).expect("map"),
            vec![MapEntry {
                uid1: 1,
                uid2: 1,
                flags: None
            }]
        );
        s.drop_intents(&[ids[1]]).expect("drop");
        assert!(s.open_intents(f.id).expect("open").is_empty());
    }

    #[test]
    fn second_open_is_busy_and_files_are_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("st/y.sqlite");
        let _a = Store::open(&path).expect("open");
        assert!(matches!(Store::open(&path), Err(StateError::Busy { .. })));
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = std::fs::metadata(path.parent().expect("parent"))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
    }

    #[test]
    fn symlinked_dir_or_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("real");
        std::fs::create_dir(&real).expect("mkdir");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        assert!(matches!(
            Store::open(&link.join("z.sqlite")),
            Err(StateError::Unsafe { .. })
        ));
        // A planted symlink in place of the database file.
        let d2 = dir.path().join("d2");
        private_dir(&d2).expect("dir");
        let target = dir.path().join("victim");
        std::fs::write(&target, b"precious").expect("write");
        std::os::unix::fs::symlink(&target, d2.join("w.sqlite")).expect("symlink");
        assert!(Store::open(&d2.join("w.sqlite")).is_err());
        assert_eq!(std::fs::read(&target).expect("read"), b"precious");
    }

    #[test]
    fn file_names_are_distinct_and_safe() {
        let a = file_name("imap.example.com", "u/1", "h2", "u2");
        let b = file_name("imap.example.com", "u_1", "h2", "u2");
        assert_ne!(a, b);
        assert!(!a.contains('/'));
        assert_eq!(file_name("H", "u", "h", "v"), file_name("h", "u", "H", "v"));
    }
}
