//! One test suite, run over both backends of the state store: a SQLite file, and a real
//! PostgreSQL started by the test (a throwaway cluster, see `imapsync_testkit::Postgres`).
//! Each case gets a fresh store; the PostgreSQL cases share one cluster (one database each).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use imapsync_state::{Location, MapEntry, NewIntent, SideStatus, StateError, Store};
use imapsync_testkit::Postgres;

/// Opens stores of one backend: `open(account)` opens (or reopens) that account's store.
struct Backend {
    name: &'static str,
    dir: tempfile::TempDir,
    url: Option<String>,
}

impl Backend {
    fn location(&self, account: &str) -> Location {
        match &self.url {
            None => Location::Sqlite(self.dir.path().join(format!("{account}.sqlite"))),
            Some(u) => Location::Postgres {
                url: u.clone(),
                account: account.to_string(),
            },
        }
    }

    fn open(&self, account: &str) -> Store {
        Store::open_at(&self.location(account))
            .unwrap_or_else(|e| panic!("{}: open {account}: {e}", self.name))
    }
}

fn cluster() -> Option<&'static Postgres> {
    static PG: OnceLock<Option<Postgres>> = OnceLock::new();
    PG.get_or_init(|| Postgres::start_or_skip("state backends (PostgreSQL half)"))
        .as_ref()
}

/// Both backends, fresh.
fn backends() -> Vec<Backend> {
    let mut v = vec![Backend {
        name: "sqlite",
        dir: tempfile::tempdir().expect("tempdir"),
        url: None,
    }];
    if let Some(pg) = cluster() {
        v.push(Backend {
            name: "postgres",
            dir: tempfile::tempdir().expect("tempdir"),
            url: Some(pg.create_database().expect("create database")),
        });
    }
    v
}

fn entry(uid1: u32, uid2: u32, flags: Option<&str>) -> MapEntry {
    MapEntry {
        uid1,
        uid2,
        flags: flags.map(str::to_string),
    }
}

fn intent(uid1: u32, key: Option<&str>, size: u64) -> NewIntent {
    NewIntent {
        uid1,
        key: key.map(str::to_string),
        size,
        uidvalidity2: Some(77),
        uidnext2: Some(uid1 + 100),
    }
}

#[test]
fn folder_records_round_trip_and_reset() {
    for b in backends() {
        let s = b.open("acct");
        let mut f = s.folder("INBOX.a", "a").expect("folder");
        assert_eq!(f.uidvalidity1, None, "{}", b.name);
        assert!(!f.complete);
        f.uidvalidity1 = Some(u32::MAX);
        f.uidvalidity2 = Some(9);
        f.side1 = SideStatus {
            uidnext: Some(10),
            modseq: Some(1 << 40),
            messages: Some(3),
        };
        f.side2.uidnext = Some(4);
        f.complete = true;
        f.summary.n1 = 3;
        f.summary.bytes2 = 5_000_000_000;
        f.options = Some("opts".into());
        f.uids1 = Some("1:5,9".into());
        s.save_folder(&f).expect("save");
        assert_eq!(s.folder("INBOX.a", "a").expect("again"), f, "{}", b.name);
        // Another pair gets another id; the same names give the same record.
        let g = s.folder("INBOX.b", "b").expect("other");
        assert_ne!(g.id, f.id);
        s.insert_map(f.id, &[entry(1, 5, Some("\\Seen"))])
            .expect("map");
        s.add_intents(f.id, &[intent(2, None, 10)]).expect("intent");
        s.mark_incomplete(f.id).expect("incomplete");
        assert!(!s.folder("INBOX.a", "a").expect("rec").complete);
        s.reset_folder(f.id).expect("reset");
        let h = s.folder("INBOX.a", "a").expect("after reset");
        assert_eq!(
            (h.uidvalidity1, h.side1, h.complete, h.uids1.clone()),
            (None, SideStatus::default(), false, None),
            "{}",
            b.name
        );
        assert!(s.load_map(h.id).expect("map").is_empty(), "{}", b.name);
        assert!(s.open_intents(h.id).expect("intents").is_empty());
        s.set_meta("pair", "h1 u1 -> h2 u2").expect("meta");
        s.set_meta("pair", "again").expect("meta twice");
    }
}

#[test]
fn the_map_is_replaced_updated_and_trimmed() {
    for b in backends() {
        let s = b.open("acct");
        let f = s.folder("A", "B").expect("folder").id;
        s.insert_map(f, &[entry(3, 30, None), entry(1, 10, Some("\\Seen"))])
            .expect("insert");
        // Replacing an entry; a uid1 given twice keeps the last one.
        s.insert_map(f, &[entry(3, 31, Some("a")), entry(3, 32, Some("b"))])
            .expect("replace");
        s.insert_map(f, &[]).expect("nothing");
        s.update_flags(f, &[(1, "\\Seen \\Flagged".into()), (99, "x".into())])
            .expect("flags");
        assert_eq!(
            s.load_map(f).expect("map"),
            vec![
                entry(1, 10, Some("\\Seen \\Flagged")),
                entry(3, 32, Some("b"))
            ],
            "{}",
            b.name
        );
        let many: Vec<MapEntry> = (100..1100).map(|u| entry(u, u + 5000, None)).collect();
        s.insert_map(f, &many).expect("many");
        s.remove_uid1(f, &[1, 100, 101]).expect("rm1");
        s.remove_uid2(f, &[32, 5102]).expect("rm2");
        let m = s.load_map(f).expect("map");
        assert_eq!(m.len(), 1000 - 3, "{}", b.name);
        assert_eq!(m[0], entry(103, 5103, None), "{}", b.name);
        // Maps of other folders are not touched.
        let g = s.folder("C", "D").expect("folder").id;
        assert!(s.load_map(g).expect("empty").is_empty());
    }
}

#[test]
fn intents_keep_their_order_and_become_map_entries() {
    for b in backends() {
        let s = b.open("acct");
        let f = s.folder("A", "B").expect("folder").id;
        let news: Vec<NewIntent> = (1..=300)
            .map(|u| intent(u, (u % 2 == 0).then_some("k"), u as u64 * 7))
            .collect();
        let ids = s.add_intents(f, &news).expect("intents");
        assert_eq!(ids.len(), 300);
        let open = s.open_intents(f).expect("open");
        // The i-th id is the i-th intent.
        for (i, id) in ids.iter().enumerate() {
            let o = open.iter().find(|o| o.id == *id).expect("id");
            assert_eq!(
                (o.uid1, o.size, o.key.is_some()),
                (news[i].uid1, news[i].size, news[i].key.is_some()),
                "{}",
                b.name
            );
            assert_eq!(
                (o.uidvalidity2, o.uidnext2),
                (Some(77), Some(news[i].uid1 + 100))
            );
        }
        s.resolve_intents(
            f,
            &[(ids[0], entry(1, 501, None)), (ids[2], entry(3, 503, None))],
        )
        .expect("resolve");
        s.drop_intents(&ids[3..]).expect("drop");
        let left: Vec<u32> = s
            .open_intents(f)
            .expect("open")
            .iter()
            .map(|i| i.uid1)
            .collect();
        assert_eq!(left, vec![2], "{}", b.name);
        assert_eq!(
            s.load_map(f).expect("map"),
            vec![entry(1, 501, None), entry(3, 503, None)],
            "{}",
            b.name
        );
        assert!(s.add_intents(f, &[]).expect("none").is_empty());
    }
}

#[test]
fn one_account_is_opened_by_one_run_at_a_time() {
    for b in backends() {
        let first = b.open("acct");
        match Store::open_at(&b.location("acct")) {
            Err(StateError::Busy { pid, .. }) => {
                if b.url.is_some() {
                    // The owner shown is this process.
                    assert!(
                        pid.contains(&std::process::id().to_string()),
                        "{}: {pid}",
                        b.name
                    );
                }
            }
            other => panic!("{}: second open should be busy: {other:?}", b.name),
        }
        // Another account is free; after the first store goes, the account is free again.
        let _other = b.open("other");
        let f = first.folder("A", "B").expect("folder");
        first.insert_map(f.id, &[entry(1, 2, None)]).expect("map");
        drop(first);
        let again = b.open("acct");
        let f2 = again.folder("A", "B").expect("folder");
        assert_eq!(f2.id, f.id, "{}", b.name);
        assert_eq!(again.load_map(f2.id).expect("map").len(), 1, "{}", b.name);
    }
}

#[test]
fn accounts_do_not_see_each_other() {
    for b in backends() {
        let a = b.open("a");
        let c = b.open("c");
        let fa = a.folder("INBOX", "INBOX").expect("a");
        let fc = c.folder("INBOX", "INBOX").expect("c");
        a.insert_map(fa.id, &[entry(1, 1, None)]).expect("map");
        let mut r = fa.clone();
        r.complete = true;
        a.save_folder(&r).expect("save");
        assert!(!c.folder("INBOX", "INBOX").expect("c").complete);
        assert!(c.load_map(fc.id).expect("map").is_empty());
    }
}

#[test]
fn a_statedir_url_names_a_database_and_an_account() {
    let file = imapsync_state::file_name("h1", "u1", "h2", "u2");
    let url = "postgres://mig@db.example:5432/migration";
    // What the command line builds from --statedir URL.
    let path: PathBuf = Path::new(url).join(&file);
    assert_eq!(
        Location::from_path(&path),
        Location::Postgres {
            url: url.into(),
            account: file.trim_end_matches(".sqlite").into()
        }
    );
    let p = Path::new("/var/lib/x/state.sqlite");
    assert_eq!(Location::from_path(p), Location::Sqlite(p.into()));
    if let Some(pg) = cluster() {
        // Through Store::open, as the executor calls it; the shown path has no password.
        let url = pg.create_database().expect("db");
        let with_pw = url.replace("postgres@", "postgres:hunter2@");
        let s = Store::open(&Path::new(&with_pw).join(&file)).expect("open by path");
        let shown = s.path().display().to_string();
        assert!(
            !shown.contains("hunter2") && shown.contains(&file.replace(".sqlite", "")),
            "{shown}"
        );
        s.folder("A", "B").expect("works");
    }
}
