//! Throwaway Dovecot instances: layouts, users, options, lifecycle.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use imapsync_testkit::dovecot::DOVECOT_CAPABILITIES;
use imapsync_testkit::spawn::{children_of, group_members, pid_alive};
use imapsync_testkit::verify::canonical_name;
use imapsync_testkit::{
    Dovecot, Layout, MASTER_PASSWORD, MASTER_USER, Status, TestImap, USERS, WEIRD_PASSWORD,
};

const MSG: &[u8] = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\nMessage-ID: <t1@example.org>\r\n\r\nbody\r\n";

fn caps_without(drop: &[&str]) -> Vec<String> {
    DOVECOT_CAPABILITIES
        .iter()
        .filter(|c| !drop.contains(c))
        .map(|c| c.to_string())
        .collect()
}

#[test]
fn layouts_namespace_separator_special_use() {
    for layout in Layout::ALL {
        let t = Instant::now();
        let d = Dovecot::start(layout).unwrap();
        eprintln!(
            "{layout:?}: started in {:?} (greeting after {:?})",
            t.elapsed(),
            d.startup_time()
        );
        let mut c = d.connect("user1").unwrap();
        assert!(
            c.greeting().ends_with(layout.greeting()),
            "{layout:?} greeting {}",
            c.greeting()
        );
        let ns = c.personal_namespaces().unwrap();
        assert_eq!(
            ns,
            vec![(layout.prefix().to_string(), Some(layout.separator()))],
            "{layout:?}"
        );
        // the capability constant must match the installed Dovecot (version drift check)
        let caps = c.capabilities().unwrap();
        let expect = match layout {
            Layout::DotPrefix | Layout::Slash => caps_without(&["SPECIAL-USE"]),
            _ => caps_without(&[]),
        };
        assert_eq!(caps, expect, "{layout:?}");
        for user in ["user1", "weird"] {
            let mut c = d.connect(user).unwrap();
            let list = c.list().unwrap();
            for e in &list {
                assert_eq!(e.sep, Some(layout.separator()));
            }
            let names: Vec<&str> = list.iter().map(|e| e.name.as_str()).collect();
            assert!(names.contains(&"INBOX"), "{names:?}");
            let special = layout.special_folders();
            match layout {
                Layout::DotPrefix | Layout::Slash => {
                    assert_eq!(
                        list.len(),
                        1,
                        "plain layouts start with INBOX only: {list:?}"
                    )
                }
                Layout::GmailLike => {
                    let g = list
                        .iter()
                        .find(|e| e.name == "[Gmail]")
                        .expect("[Gmail] listed");
                    assert!(
                        g.has_attr("\\Noselect") && g.has_attr("\\HasChildren"),
                        "{g:?}"
                    );
                    assert_eq!(list.len(), special.len() + 2);
                }
                Layout::ExchangeLike => assert_eq!(list.len(), special.len() + 1),
            }
            let lsub: Vec<String> = c.lsub().unwrap().into_iter().map(|e| e.name).collect();
            for (name, flag) in special {
                let e = list
                    .iter()
                    .find(|e| e.name == *name)
                    .unwrap_or_else(|| panic!("{layout:?}/{user}: {name} missing: {list:?}"));
                if let Some(f) = flag {
                    assert!(e.has_attr(f), "{name} lacks {f}: {e:?}");
                }
                assert!(lsub.contains(&name.to_string()), "{name} not subscribed");
                c.examine(name).unwrap();
            }
        }
        if layout == Layout::GmailLike {
            let r = c.command("ID NIL").unwrap();
            assert!(
                r.untagged_text()[0].contains("\"GImap\""),
                "{:?}",
                r.untagged_text()
            );
        }
    }
}

#[test]
fn every_user_logs_in_including_weird_and_master() {
    let d = Dovecot::start(Layout::Slash).unwrap();
    for (u, p) in USERS {
        let mut c = TestImap::connect(d.host(), d.port()).unwrap();
        c.login(u, p).unwrap_or_else(|e| panic!("{u}: {e:#}"));
        c.command("NOOP").unwrap();
    }
    assert_eq!(WEIRD_PASSWORD, "sp ace\"q\\b($");
    // wrong password fails
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    assert!(c.login("user1", "nope").is_err());
    // a message only user1 has, seen through the master user
    let mut c = d.connect("user1").unwrap();
    c.append("INBOX", &[], None, MSG).unwrap();
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    c.login(&format!("user1*{MASTER_USER}"), MASTER_PASSWORD)
        .unwrap();
    assert_eq!(c.examine("INBOX").unwrap().exists, 1);
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    c.authenticate_plain("user1", MASTER_USER, MASTER_PASSWORD)
        .unwrap();
    assert_eq!(c.examine("INBOX").unwrap().exists, 1);
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    c.authenticate_plain("user2", MASTER_USER, MASTER_PASSWORD)
        .unwrap();
    assert_eq!(c.examine("INBOX").unwrap().exists, 0);
    // master user cannot log in as itself
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    assert!(c.login(MASTER_USER, MASTER_PASSWORD).is_err());
    // CRAM-MD5 and plain AUTHENTICATE for ordinary users, weird password included
    for (u, p) in [("user1", "pass1"), ("weird", WEIRD_PASSWORD)] {
        let mut c = TestImap::connect(d.host(), d.port()).unwrap();
        assert!(c.has_capability("AUTH=CRAM-MD5"));
        c.authenticate_cram_md5(u, p).unwrap();
        let mut c = TestImap::connect(d.host(), d.port()).unwrap();
        c.authenticate_plain("", u, p).unwrap();
    }
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    assert!(c.authenticate_cram_md5("user1", "wrong").is_err());
}

#[test]
fn users_added_at_run_time() {
    let d = Dovecot::start(Layout::DotPrefix).unwrap();
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    assert!(c.login("newbie", "n3w pass").is_err());
    d.add_user("newbie", "n3w pass").unwrap();
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    c.login("newbie", "n3w pass").unwrap();
    c.create("INBOX.mine").unwrap();
    // changing the password is picked up as well (passwd-file is re-read on change)
    d.add_user("newbie", "other").unwrap();
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    assert!(c.login("newbie", "n3w pass").is_err());
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    c.login("newbie", "other").unwrap();
    assert!(c.list().unwrap().iter().any(|e| e.name == "INBOX.mine"));
    assert!(d.add_user("bad:name", "x").is_err());
}

fn openssl_verify(d: &Dovecot, starttls: bool) -> String {
    let port = if starttls { d.port() } else { d.tls_port() };
    let ca = d.ca_cert_path();
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-CAfile", ca.to_str().unwrap()])
        .args([
            "-verify_return_error",
            "-verify_hostname",
            "localhost",
            "-brief",
        ]);
    if starttls {
        cmd.args(["-starttls", "imap"]);
    }
    let out = cmd.stdin(Stdio::null()).output().expect("openssl s_client");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "s_client failed: {text}");
    text
}

#[test]
fn tls_and_starttls_with_trusted_ca() {
    let d = Dovecot::start(Layout::ExchangeLike).unwrap();
    let c = TestImap::connect(d.host(), d.port()).unwrap();
    assert!(c.has_capability("STARTTLS"));
    for starttls in [false, true] {
        let text = openssl_verify(&d, starttls);
        assert!(text.contains("Verification: OK"), "{text}");
    }
    let pem = std::fs::read_to_string(d.ca_cert_path()).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
}

#[test]
fn restart_keeps_ports_and_data() {
    let mut d = Dovecot::start(Layout::Slash).unwrap();
    let (port, tls) = (d.port(), d.tls_port());
    let mut c = d.connect("user2").unwrap();
    c.create("Keep").unwrap();
    let uid = c
        .append(
            "Keep",
            &["\\Flagged"],
            Some("02-Feb-2021 10:00:00 +0100"),
            MSG,
        )
        .unwrap();
    drop(c);
    d.restart().unwrap();
    assert_eq!((d.port(), d.tls_port()), (port, tls));
    let mut c = d.connect("user2").unwrap();
    let msgs = c.folder_snapshot("Keep").unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].uid, uid);
    assert_eq!(msgs[0].flags, vec!["\\Flagged".to_string()]);
    // an open connection is cut by stop(); new connections are refused until restart
    d.stop().unwrap();
    assert!(!d.is_running());
    assert!(c.command("NOOP").is_err());
    assert!(TestImap::connect(d.host(), port).is_err());
    d.restart().unwrap();
    let mut c = d.connect("user2").unwrap();
    assert_eq!(c.examine("Keep").unwrap().exists, 1);
}

#[test]
fn capabilities_can_be_removed() {
    let removed = [
        "LITERAL+",
        "UIDPLUS",
        "CONDSTORE",
        "QRESYNC",
        "MULTIAPPEND",
        "ESEARCH",
        "LIST-STATUS",
        "SPECIAL-USE",
        "MOVE",
    ];
    let d = Dovecot::builder(Layout::GmailLike)
        .remove_capabilities(&removed)
        .add_capability("XTESTKIT")
        .start()
        .unwrap();
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    for cap in removed {
        assert!(
            !c.has_capability(cap),
            "pre-login {cap}: {:?}",
            c.cached_capabilities()
        );
    }
    c.login("user1", "pass1").unwrap();
    let caps = c.capabilities().unwrap();
    for cap in removed {
        assert!(!caps.iter().any(|x| x == cap), "post-login {cap}: {caps:?}");
    }
    assert!(caps.iter().any(|x| x == "XTESTKIT"));
    assert!(caps.iter().any(|x| x == "IMAP4rev1"));
    // without LITERAL+ the test client uses synchronizing literals
    let uid = c.append("INBOX", &["\\Seen"], None, MSG).unwrap();
    assert_eq!(uid, 1);
    // Dovecot still *accepts* what it no longer advertises (documented behaviour)
    c.set_literal_plus(Some(true));
    let r = c.append_status("INBOX", &[], None, MSG).unwrap();
    assert_eq!(r.status, Status::Ok, "{}", r.text);
    assert_eq!(r.code().map(|c| c.0).as_deref(), Some("APPENDUID"));
    c.command("ENABLE CONDSTORE").unwrap();
    // special-use flags are still sent in LIST; no_special_use() removes them
    let d = Dovecot::builder(Layout::ExchangeLike)
        .no_special_use()
        .start()
        .unwrap();
    let mut c = d.connect("user1").unwrap();
    assert!(!c.capabilities().unwrap().iter().any(|x| x == "SPECIAL-USE"));
    let list = c.list().unwrap();
    let sent = list.iter().find(|e| e.name == "Sent Items").unwrap();
    assert!(!sent.has_attr("\\Sent"), "{sent:?}");
}

#[test]
fn quota_and_size_limits() {
    let d = Dovecot::builder(Layout::Slash)
        .quota_storage_kib(200)
        .max_mail_size(50_000)
        .advertise_appendlimit()
        .start()
        .unwrap();
    let mut c = d.connect("user1").unwrap();
    let caps = c.capabilities().unwrap();
    assert!(caps.iter().any(|x| x == "QUOTA"), "{caps:?}");
    assert!(caps.iter().any(|x| x == "APPENDLIMIT=50000"), "{caps:?}");
    let mut big = MSG.to_vec();
    big.extend(std::iter::repeat_n(b'x', 60_000));
    // synchronizing literal: rejected before the data is sent
    c.set_literal_plus(Some(false));
    let r = c.append_status("INBOX", &[], None, &big).unwrap();
    assert_eq!(r.status, Status::No);
    assert_eq!(r.code().unwrap().0, "LIMIT", "{}", r.text);
    // LITERAL+: the data is read, then rejected
    c.set_literal_plus(Some(true));
    let r = c.append_status("INBOX", &[], None, &big).unwrap();
    assert_eq!(r.status, Status::No);
    let mut mid = MSG.to_vec();
    mid.extend(std::iter::repeat_n(b'y', 45_000));
    let mut over = None;
    for i in 0..10 {
        let r = c.append_status("INBOX", &[], None, &mid).unwrap();
        if r.status != Status::Ok {
            over = Some((i, r));
            break;
        }
    }
    let (i, r) = over.expect("quota never hit");
    assert_eq!(i, 4, "200 KiB holds four 45 kB messages");
    assert_eq!(r.code().unwrap().0, "OVERQUOTA", "{}", r.text);
    // without advertise_appendlimit() Dovecot enforces the limit silently
    let quiet = Dovecot::builder(Layout::Slash)
        .max_mail_size(50_000)
        .start()
        .unwrap();
    let mut qc = quiet.connect("user2").unwrap();
    let qcaps = qc.capabilities().unwrap();
    assert!(
        !qcaps.iter().any(|x| x.starts_with("APPENDLIMIT")),
        "{qcaps:?}"
    );
    assert_eq!(
        qc.append_status("INBOX", &[], None, &big).unwrap().status,
        Status::No
    );
    let q = c.command("GETQUOTAROOT INBOX").unwrap();
    assert!(
        q.untagged_text().iter().any(|l| l.contains("STORAGE")),
        "{:?}",
        q.untagged_text()
    );
}

#[test]
fn compress_tmpfs_fsync_and_line_length_options() {
    let plain = Dovecot::start(Layout::Slash).unwrap();
    let mut c = plain.connect("user1").unwrap();
    assert!(
        !c.capabilities()
            .unwrap()
            .iter()
            .any(|x| x == "COMPRESS=DEFLATE")
    );
    let d = Dovecot::builder(Layout::Slash)
        .compress(true)
        .mail_on_tmpfs()
        .fsync_never()
        .max_line_length(1 << 20)
        .start()
        .unwrap();
    let mut c = d.connect("user1").unwrap();
    assert!(
        c.capabilities()
            .unwrap()
            .iter()
            .any(|x| x == "COMPRESS=DEFLATE")
    );
    assert!(d.mail_root().starts_with("/dev/shm"), "{:?}", d.mail_root());
    let conf = std::fs::read_to_string(d.config_path()).unwrap();
    assert!(conf.contains("mail_fsync = never"));
    assert!(conf.contains("imap_max_line_length = 1048576"));
    c.append("INBOX", &[], None, MSG).unwrap();
    // the maildir is where the accessor says, and tests may tamper with it
    let cur = d.user_maildir("user1").join("new");
    let n = std::fs::read_dir(&cur).unwrap().count()
        + std::fs::read_dir(d.user_maildir("user1").join("cur"))
            .unwrap()
            .count();
    assert_eq!(n, 1);
    let r = c.command("COMPRESS DEFLATE").unwrap();
    assert_eq!(r.status, Status::Ok);
    let root = d.mail_root().to_path_buf();
    drop(c);
    drop(d);
    assert!(!root.exists(), "tmpfs mail dir removed on drop");
}

#[test]
fn sixteen_connections_per_user() {
    let d = Dovecot::start(Layout::DotPrefix).unwrap();
    let mut conns = Vec::new();
    for user in ["user1", "user2"] {
        for _ in 0..16 {
            conns.push(d.connect(user).unwrap());
        }
    }
    for c in &mut conns {
        c.command("NOOP").unwrap();
        c.examine("INBOX").unwrap();
    }
}

#[test]
fn drop_stops_everything() {
    let mut d = Dovecot::start(Layout::GmailLike).unwrap();
    let _c = d.connect("user1").unwrap();
    let pid = d.master_pid().unwrap();
    let kids: Vec<u32> = children_of(pid).into_iter().map(|(p, _)| p).collect();
    assert!(kids.len() >= 3, "master has children: {kids:?}");
    let dir = d.instance_dir().to_path_buf();
    assert!(d.is_running());
    let t = Instant::now();
    drop(d);
    eprintln!("drop took {:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(!pid_alive(pid));
    assert!(!kids.iter().any(|k| pid_alive(*k)), "children left behind");
    assert!(group_members(pid).is_empty());
    assert!(!dir.exists());
}

#[test]
fn start_failure_is_loud_and_includes_the_log() {
    let err = Dovecot::builder(Layout::Slash)
        .extra_config("this_setting_does_not_exist = 1")
        .start()
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("failed to start"), "{msg}");
    assert!(msg.contains("this_setting_does_not_exist"), "{msg}");
}

#[test]
fn servers_die_with_their_process() {
    // `serve` uses the same library code path; kill it hard and the master must follow
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut child = Command::new(env!("CARGO_BIN_EXE_imapsync-testkit"))
        .args(["serve", "--layout", "slash", "--state-file"])
        .arg(&state)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while !state.exists() {
        assert!(Instant::now() < end, "serve did not write its state file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&state).unwrap();
    let get = |k: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap()
            .to_string()
    };
    let master: u32 = get("MASTER_PID").parse().unwrap();
    let port: u16 = get("PORT").parse().unwrap();
    assert!(pid_alive(master));
    TestImap::connect_login("127.0.0.1", port, "user3", "pass3").unwrap();
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    let t = Instant::now();
    while pid_alive(master) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "orphaned Dovecot master {master} survived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let master_gone = t.elapsed();
    assert!(TestImap::connect("127.0.0.1", port).is_err());
    // the services follow once the master is gone (no client is connected any more)
    while !group_members(master).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "Dovecot processes left behind: {:?}",
            group_members(master)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "after SIGKILL of serve: master gone in {master_gone:?}, all in {:?}",
        t.elapsed()
    );
    // serve had no chance to delete its instance dir; do it here (later starts would
    // also reap it once its owner is dead)
    let log = std::path::PathBuf::from(get("LOG_PATH"));
    let instance = log.parent().and_then(|p| p.parent()).unwrap();
    assert!(instance.join("owner.pid").exists());
    std::fs::remove_dir_all(instance).unwrap();
}

#[test]
fn awkward_folder_names_round_trip() {
    let names = imapsync_testkit::fixtures::folder_names().unwrap();
    assert!(names.len() >= 20);
    for layout in [Layout::Slash, Layout::DotPrefix] {
        let d = Dovecot::start(layout).unwrap();
        let mut c = d.connect("weird").unwrap();
        for n in &names {
            let w = layout.wire_name(n);
            c.create(&w)
                .unwrap_or_else(|e| panic!("{layout:?} {w:?}: {e:#}"));
            c.append(&w, &[], None, MSG).unwrap();
        }
        let list = c.list().unwrap();
        for n in &names {
            let w = layout.wire_name(n);
            let e = list
                .iter()
                .find(|e| e.name == w)
                .unwrap_or_else(|| panic!("{w:?} not listed"));
            assert!(e.selectable());
        }
        let snap = imapsync_testkit::verify::canonical_snapshot(&mut c, None).unwrap();
        for n in &names {
            let canon = canonical_name(&layout.wire_name(n), layout.prefix(), layout.separator());
            assert_eq!(
                snap.get(&canon).map(Vec::len),
                Some(1),
                "{layout:?} {n:?} as {canon:?}"
            );
        }
        if layout == Layout::DotPrefix {
            // `.` is the separator here: "dotted.name" is a child of "dotted"
            assert!(snap.contains_key("dotted/name"));
        }
    }
}

#[test]
fn dovecot_replaces_future_internaldates_with_now() {
    // Worth knowing when comparing INTERNALDATEs: Dovecot keeps past dates (even
    // before 1970) but stores "now" for a date in the future.
    let d = Dovecot::start(Layout::Slash).unwrap();
    let mut c = d.connect("user1").unwrap();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    c.append("INBOX", &[], Some("01-Jan-2099 00:00:00 +0000"), MSG)
        .unwrap();
    c.append("INBOX", &[], Some("31-Dec-1969 23:00:00 -0100"), MSG)
        .unwrap();
    let m = c.folder_snapshot("INBOX").unwrap();
    assert!(
        (before - 5..before + 60).contains(&m[0].internaldate_epoch),
        "{m:?}"
    );
    assert_eq!(m[1].internaldate_epoch, 0);
}
