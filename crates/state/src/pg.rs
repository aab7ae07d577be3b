//! The state store in PostgreSQL: the same records as the SQLite file, for every account of a
//! batch in one database, so that any machine can resume any account.
//!
//! Tables are prefixed `imapsync_state_`; folder ids are global, so the map and the journal
//! are keyed by folder only. Each account pair is a row of `imapsync_state_account` (its key is
//! the name the SQLite file would have). Two runs of one account pair are kept apart by a
//! session-level advisory lock on that key: it is held as long as the connection lives and
//! released by PostgreSQL when the process holding it dies, so a crashed worker never leaves
//! a stale lock behind.
//!
//! Commits are asynchronous (`synchronous_commit = off`): a killed worker loses nothing (the
//! server has the transaction), a crash of the database server itself may lose the last
//! fraction of a second, the same guarantee the SQLite store has with `synchronous=NORMAL`.
//! Every write is one round trip (arrays with `UNNEST`), whatever the number of rows.

use crate::pgconn::{self, PgConn, PgError};
use crate::{FolderRecord, Intent, MapEntry, NewIntent, Result, SideStatus, StateError, Summary};

const STEPS: &[&str] = &["
CREATE TABLE IF NOT EXISTS imapsync_state_account(
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS imapsync_state_meta(
    account BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT,
    PRIMARY KEY(account, key)
);
CREATE TABLE IF NOT EXISTS imapsync_state_folder(
    id BIGSERIAL PRIMARY KEY,
    account BIGINT NOT NULL,
    name1 TEXT NOT NULL,
    name2 TEXT NOT NULL,
    uidvalidity1 BIGINT, uidvalidity2 BIGINT,
    uidnext1 BIGINT, modseq1 BIGINT, messages1 BIGINT,
    uidnext2 BIGINT, modseq2 BIGINT, messages2 BIGINT,
    complete BOOLEAN NOT NULL DEFAULT FALSE,
    n1 BIGINT NOT NULL DEFAULT 0, n2 BIGINT NOT NULL DEFAULT 0,
    dup1 BIGINT NOT NULL DEFAULT 0, dup2 BIGINT NOT NULL DEFAULT 0,
    missing BIGINT NOT NULL DEFAULT 0, extra BIGINT NOT NULL DEFAULT 0,
    bytes1 BIGINT NOT NULL DEFAULT 0, bytes2 BIGINT NOT NULL DEFAULT 0,
    options TEXT,
    uids1 TEXT,
    UNIQUE(account, name1, name2)
);
CREATE TABLE IF NOT EXISTS imapsync_state_map(
    folder BIGINT NOT NULL,
    uid1 BIGINT NOT NULL,
    uid2 BIGINT NOT NULL,
    flags TEXT,
    PRIMARY KEY(folder, uid1)
);
CREATE INDEX IF NOT EXISTS imapsync_state_map_uid2 ON imapsync_state_map(folder, uid2);
CREATE TABLE IF NOT EXISTS imapsync_state_intent(
    id BIGSERIAL PRIMARY KEY,
    folder BIGINT NOT NULL,
    uid1 BIGINT NOT NULL,
    key TEXT,
    size BIGINT NOT NULL,
    uidvalidity2 BIGINT,
    uidnext2 BIGINT
);
CREATE INDEX IF NOT EXISTS imapsync_state_intent_folder ON imapsync_state_intent(folder);
"];

pub(crate) struct PgStore {
    conn: PgConn,
    account: i64,
    shown: String,
}

fn u32_of(v: Option<i64>) -> Option<u32> {
    v.and_then(|v| u32::try_from(v).ok())
}

fn opt_i64(v: Option<u32>) -> Option<i64> {
    v.map(i64::from)
}

impl PgStore {
    /// Opens the store of account pair `key` in the database at `url`, creating or upgrading
    /// the tables, and takes the account's lock.
    pub(crate) fn open(url: &str, key: &str) -> Result<PgStore> {
        let shown = format!("{}#{key}", pgconn::mask_url(url));
        let err = |e: PgError| StateError::Io {
            path: shown.clone(),
            reason: e.to_string(),
        };
        let conn = PgConn::connect(
            url,
            &format!("imapsync-state {} on {}", std::process::id(), hostname()),
        )
        .map_err(err)?;
        conn.call(|c| c.batch_execute("SET synchronous_commit = off"))
            .map_err(err)?;
        conn.call(|c| {
            Ok(pgconn::migrate(c, "state", STEPS)
                .map_err(|e| PgError::Config(format!("creating the state tables: {e}"))))
        })
        .map_err(err)?
        .map_err(err)?;
        let lock = pgconn::lock_key(&format!("imapsync-state\u{0}{key}"));
        let (got, owner) = conn
            .call(move |c| {
                let got: bool = c
                    .query_one("SELECT pg_try_advisory_lock($1)", &[&lock])?
                    .get(0);
                let owner = if got {
                    None
                } else {
                    pgconn::lock_owner(c, lock)?
                };
                Ok((got, owner))
            })
            .map_err(err)?;
        if !got {
            return Err(StateError::Busy {
                path: shown,
                pid: owner.map_or_else(
                    || "unknown, another session".into(),
                    |o| o.trim_start_matches("imapsync-state ").to_string(),
                ),
            });
        }
        let k = key.to_string();
        let account: i64 = conn
            .call(move |c| {
                Ok(c.query_one(
                    "INSERT INTO imapsync_state_account(key) VALUES($1)
                     ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key RETURNING id",
                    &[&k],
                )?
                .get(0))
            })
            .map_err(err)?;
        Ok(PgStore {
            conn,
            account,
            shown,
        })
    }

    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut postgres::Client) -> std::result::Result<T, postgres::Error>
            + Send
            + 'static,
    {
        self.conn.call(f).map_err(|e| StateError::Io {
            path: self.shown.clone(),
            reason: e.to_string(),
        })
    }

    pub(crate) fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        let (a, k, v) = (self.account, key.to_string(), value.to_string());
        self.call(move |c| {
            c.execute(
                "INSERT INTO imapsync_state_meta(account, key, value) VALUES($1, $2, $3)
                 ON CONFLICT (account, key) DO UPDATE SET value = EXCLUDED.value",
                &[&a, &k, &v],
            )
            .map(|_| ())
        })
    }

    pub(crate) fn folder(&self, name1: &str, name2: &str) -> Result<FolderRecord> {
        let (a, n1, n2) = (self.account, name1.to_string(), name2.to_string());
        self.call(move |c| {
            c.execute(
                "INSERT INTO imapsync_state_folder(account, name1, name2) VALUES($1, $2, $3)
                 ON CONFLICT (account, name1, name2) DO NOTHING",
                &[&a, &n1, &n2],
            )?;
            let r = c.query_one(
                "SELECT id, uidvalidity1, uidvalidity2, uidnext1, modseq1, messages1, uidnext2, modseq2, messages2,
                        complete, n1, n2, dup1, dup2, missing, extra, bytes1, bytes2, options, uids1
                   FROM imapsync_state_folder WHERE account = $1 AND name1 = $2 AND name2 = $3",
                &[&a, &n1, &n2],
            )?;
            let n = |i: usize| r.get::<_, i64>(i) as u64;
            Ok(FolderRecord {
                id: r.get(0),
                name1: n1,
                name2: n2,
                uidvalidity1: u32_of(r.get(1)),
                uidvalidity2: u32_of(r.get(2)),
                side1: SideStatus {
                    uidnext: u32_of(r.get(3)),
                    modseq: r.get::<_, Option<i64>>(4).map(|v| v as u64),
                    messages: u32_of(r.get(5)),
                },
                side2: SideStatus {
                    uidnext: u32_of(r.get(6)),
                    modseq: r.get::<_, Option<i64>>(7).map(|v| v as u64),
                    messages: u32_of(r.get(8)),
                },
                complete: r.get(9),
                options: r.get(18),
                uids1: r.get(19),
                summary: Summary {
                    n1: n(10),
                    n2: n(11),
                    dup1: n(12),
                    dup2: n(13),
                    missing: n(14),
                    extra: n(15),
                    bytes1: n(16),
                    bytes2: n(17),
                },
            })
        })
    }

    pub(crate) fn save_folder(&self, rec: &FolderRecord) -> Result<()> {
        let r = rec.clone();
        self.call(move |c| {
            let s = &r.summary;
            c.execute(
                "UPDATE imapsync_state_folder SET uidvalidity1=$2, uidvalidity2=$3, uidnext1=$4, modseq1=$5, messages1=$6,
                        uidnext2=$7, modseq2=$8, messages2=$9, complete=$10, n1=$11, n2=$12, dup1=$13,
                        dup2=$14, missing=$15, extra=$16, bytes1=$17, bytes2=$18, options=$19, uids1=$20
                  WHERE id=$1",
                &[
                    &r.id,
                    &opt_i64(r.uidvalidity1),
                    &opt_i64(r.uidvalidity2),
                    &opt_i64(r.side1.uidnext),
                    &r.side1.modseq.map(|v| v as i64),
                    &opt_i64(r.side1.messages),
                    &opt_i64(r.side2.uidnext),
                    &r.side2.modseq.map(|v| v as i64),
                    &opt_i64(r.side2.messages),
                    &r.complete,
                    &(s.n1 as i64),
                    &(s.n2 as i64),
                    &(s.dup1 as i64),
                    &(s.dup2 as i64),
                    &(s.missing as i64),
                    &(s.extra as i64),
                    &(s.bytes1 as i64),
                    &(s.bytes2 as i64),
                    &r.options,
                    &r.uids1,
                ],
            )
            .map(|_| ())
        })
    }

    pub(crate) fn mark_incomplete(&self, folder: i64) -> Result<()> {
        self.call(move |c| {
            c.execute(
                "UPDATE imapsync_state_folder SET complete = FALSE WHERE id = $1",
                &[&folder],
            )
            .map(|_| ())
        })
    }

    pub(crate) fn reset_folder(&self, folder: i64) -> Result<()> {
        self.call(move |c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "DELETE FROM imapsync_state_map WHERE folder = $1",
                &[&folder],
            )?;
            tx.execute(
                "DELETE FROM imapsync_state_intent WHERE folder = $1",
                &[&folder],
            )?;
            tx.execute(
                "UPDATE imapsync_state_folder SET uidvalidity1=NULL, uidvalidity2=NULL, uidnext1=NULL, modseq1=NULL,
                        messages1=NULL, uidnext2=NULL, modseq2=NULL, messages2=NULL, complete=FALSE, uids1=NULL
                  WHERE id = $1",
                &[&folder],
            )?;
            tx.commit()
        })
    }

    pub(crate) fn load_map(&self, folder: i64) -> Result<Vec<MapEntry>> {
        self.call(move |c| {
            let rows = c.query(
                "SELECT uid1, uid2, flags FROM imapsync_state_map WHERE folder = $1 ORDER BY uid1",
                &[&folder],
            )?;
            Ok(rows
                .iter()
                .filter_map(|r| {
                    Some(MapEntry {
                        uid1: u32::try_from(r.get::<_, i64>(0)).ok()?,
                        uid2: u32::try_from(r.get::<_, i64>(1)).ok()?,
                        flags: r.get(2),
                    })
                })
                .collect())
        })
    }

    pub(crate) fn insert_map(&self, folder: i64, entries: &[MapEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let (u1, u2, f) = columns(entries);
        self.call(move |c| upsert_map(c, folder, &u1, &u2, &f).map(|_| ()))
    }

    pub(crate) fn update_flags(&self, folder: i64, flags: &[(u32, String)]) -> Result<()> {
        if flags.is_empty() {
            return Ok(());
        }
        let uids: Vec<i64> = flags.iter().map(|(u, _)| i64::from(*u)).collect();
        let f: Vec<String> = flags.iter().map(|(_, f)| f.clone()).collect();
        self.call(move |c| {
            c.execute(
                "UPDATE imapsync_state_map m SET flags = t.f
                   FROM UNNEST($2::bigint[], $3::text[]) AS t(u, f)
                  WHERE m.folder = $1 AND m.uid1 = t.u",
                &[&folder, &uids, &f],
            )
            .map(|_| ())
        })
    }

    pub(crate) fn remove_uid1(&self, folder: i64, uids: &[u32]) -> Result<()> {
        self.remove(folder, uids, "uid1")
    }

    pub(crate) fn remove_uid2(&self, folder: i64, uids: &[u32]) -> Result<()> {
        self.remove(folder, uids, "uid2")
    }

    fn remove(&self, folder: i64, uids: &[u32], column: &'static str) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let u: Vec<i64> = uids.iter().map(|&x| i64::from(x)).collect();
        self.call(move |c| {
            c.execute(
                &format!("DELETE FROM imapsync_state_map WHERE folder = $1 AND {column} = ANY($2)"),
                &[&folder, &u],
            )
            .map(|_| ())
        })
    }

    pub(crate) fn add_intents(&self, folder: i64, intents: &[NewIntent]) -> Result<Vec<i64>> {
        if intents.is_empty() {
            return Ok(Vec::new());
        }
        let uid1: Vec<i64> = intents.iter().map(|i| i64::from(i.uid1)).collect();
        let key: Vec<Option<String>> = intents.iter().map(|i| i.key.clone()).collect();
        let size: Vec<i64> = intents.iter().map(|i| i.size as i64).collect();
        let v2: Vec<Option<i64>> = intents.iter().map(|i| opt_i64(i.uidvalidity2)).collect();
        let n2: Vec<Option<i64>> = intents.iter().map(|i| opt_i64(i.uidnext2)).collect();
        self.call(move |c| {
            // Rows are inserted in ORDINALITY order, so the sequence hands out ascending ids
            // in that order: sorted, the ids match the intents one to one.
            let rows = c.query(
                "INSERT INTO imapsync_state_intent(folder, uid1, key, size, uidvalidity2, uidnext2)
                 SELECT $1, u, k, s, v, n
                   FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
                        WITH ORDINALITY AS t(u, k, s, v, n, o)
                  ORDER BY o
                 RETURNING id",
                &[&folder, &uid1, &key, &size, &v2, &n2],
            )?;
            let mut ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
            ids.sort_unstable();
            Ok(ids)
        })
    }

    pub(crate) fn resolve_intents(&self, folder: i64, done: &[(i64, MapEntry)]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = done.iter().map(|(id, _)| *id).collect();
        let entries: Vec<MapEntry> = done.iter().map(|(_, e)| e.clone()).collect();
        let (u1, u2, f) = columns(&entries);
        self.call(move |c| {
            let mut tx = c.transaction()?;
            upsert_map(&mut tx, folder, &u1, &u2, &f)?;
            tx.execute(
                "DELETE FROM imapsync_state_intent WHERE id = ANY($1)",
                &[&ids],
            )?;
            tx.commit()
        })
    }

    pub(crate) fn drop_intents(&self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.call(move |c| {
            c.execute(
                "DELETE FROM imapsync_state_intent WHERE id = ANY($1)",
                &[&ids],
            )
            .map(|_| ())
        })
    }

    pub(crate) fn open_intents(&self, folder: i64) -> Result<Vec<Intent>> {
        self.call(move |c| {
            let rows = c.query(
                "SELECT id, uid1, key, size, uidvalidity2, uidnext2 FROM imapsync_state_intent
                  WHERE folder = $1 ORDER BY id",
                &[&folder],
            )?;
            Ok(rows
                .iter()
                .filter_map(|r| {
                    Some(Intent {
                        id: r.get(0),
                        uid1: u32::try_from(r.get::<_, i64>(1)).ok()?,
                        key: r.get(2),
                        size: r.get::<_, i64>(3) as u64,
                        uidvalidity2: u32_of(r.get(4)),
                        uidnext2: u32_of(r.get(5)),
                    })
                })
                .collect())
        })
    }
}

type Columns = (Vec<i64>, Vec<i64>, Vec<Option<String>>);

fn columns(entries: &[MapEntry]) -> Columns {
    (
        entries.iter().map(|e| i64::from(e.uid1)).collect(),
        entries.iter().map(|e| i64::from(e.uid2)).collect(),
        entries.iter().map(|e| e.flags.clone()).collect(),
    )
}

fn upsert_map(
    c: &mut impl postgres::GenericClient,
    folder: i64,
    uid1: &[i64],
    uid2: &[i64],
    flags: &[Option<String>],
) -> std::result::Result<u64, postgres::Error> {
    // A uid1 given twice keeps its last entry, as INSERT OR REPLACE row by row would.
    c.execute(
        "INSERT INTO imapsync_state_map(folder, uid1, uid2, flags)
         SELECT DISTINCT ON (u) $1, u, v, f
           FROM UNNEST($2::bigint[], $3::bigint[], $4::text[]) WITH ORDINALITY AS t(u, v, f, o)
          ORDER BY u, o DESC
         ON CONFLICT (folder, uid1) DO UPDATE SET uid2 = EXCLUDED.uid2, flags = EXCLUDED.flags",
        &[&folder, &uid1, &uid2, &flags],
    )
}

/// This machine's name, for lock owners shown to others.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into the buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "?".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
