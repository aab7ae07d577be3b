//! The message pipeline and the options around it, against real Dovecot servers:
//! `--pipemess` (checked before connecting, chained, a failing message reported),
//! `--truncmess`, `--maxlinelengthcmd`, `--minmaxlinelength`, `--dry --nodry1
//! --debugcontent`, `--syncflagsaftercopy`, `--checkmessageexists`, `--noallowsizemismatch`,
//! `--appendlimit`, `--fetch_hash_set`, `--f1f2h`, `--debugflags`, `--debugcrossduplicates`;
//! then `--syncacls`, `--emailreport1/2`, `--expungeaftereach` and `--nouidexpunge2`.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Pair, bin, count, message, run_in, strings};
use imapsync_testkit::shim::{Action, Rule, Shim, When};
use imapsync_testkit::{Dovecot, Layout};

/// The bodies of a host2 folder, in UID order.
fn bodies2(p: &Pair, folder: &str) -> Vec<String> {
    let mut c = p.imap2();
    c.select(folder).expect("select");
    c.uid_search("ALL")
        .expect("search")
        .into_iter()
        .map(|u| String::from_utf8_lossy(&c.fetch_body(u).expect("fetch")).into_owned())
        .collect()
}

#[test]
fn pipemess_is_checked_first_then_chained_and_a_failing_message_is_reported() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    c.append("INBOX", &[], None, &message("a", "one", "the colour"))
        .expect("append");
    c.append("INBOX", &[], None, &message("b", "FAILME", "the colour"))
        .expect("append");
    c.append("INBOX", &[], None, &message("c", "two", "colour"))
        .expect("append");

    // A command that is not there, or that gives no output, is a usage error before any
    // connection.
    for bad in ["no-such-command-for-imapsync", "true"] {
        let r = p.run(&["--pipemess", "cat", "--pipemess", bad]);
        assert_eq!(r.code, 64, "{bad}: {}", r.show());
        assert!(
            r.has("Error: one of --pipemess command is bad, check it")
                && r.has(&format!("Failure: --pipemess command \"{bad}\" ended with")),
            "{}",
            r.show()
        );
        assert!(!r.has("Host1: found"), "connected anyway: {}", r.show());
    }
    assert_eq!(count(&p.snap2()), 0);

    // --dry fetches nothing (--dry1 follows it); --nodry1 fetches, transforms and shows,
    // and still writes nothing.
    let r = p.sync(&["--dry", "--debugcontent", "--regexmess", "s/colour/color/"]);
    assert!(!r.has("F message content begin"), "{}", r.show());
    assert!(r.has("add --nodry1 to see them"), "{}", r.show());
    let r = p.sync(&[
        "--dry",
        "--nodry1",
        "--debugcontent",
        "--regexmess",
        "s/colour/color/",
    ]);
    assert!(
        r.has("F message content begin next line (")
            && r.has("the color\r\n\nF message content ended on previous line")
            && r.has("(not really since --dry mode)"),
        "{}",
        r.show()
    );
    assert_eq!(count(&p.snap2()), 0, "--dry wrote on host2");

    // Without the check, a command without output skips every message (not an error, as
    // imapsync).
    let r = p.sync(&["--nopipemesscheck", "--pipemess", "true"]);
    assert!(!r.has("Checking each --pipemess"), "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    assert!(
        r.has("skipped by --pipemess \"true\": could not be successfully transformed"),
        "{}",
        r.show()
    );

    // The chain: each command gets the previous one's output; the second fails on one
    // message, which is reported and skipped, the others are copied transformed.
    let r = p.sync(&[
        "--pipemess",
        "sed s/colour/color/",
        "--pipemess",
        "sed -e s/color/hue/ -e '/^Subject: FAILME/Q 3'",
    ]);
    assert!(
        r.has("Checking each --pipemess command, sed s/colour/color/, sed -e s/color/hue/")
            && r.has("Ok with --pipemess"),
        "{}",
        r.show()
    );
    assert_eq!(r.num("Messages transferred"), 2, "{}", r.show());
    assert!(
        r.has("Failure: --pipemess command \"sed -e s/color/hue/ -e '/^Subject: FAILME/Q 3'\" ended with")
            && r.has("exit value \"3\"")
            && r.has("- msg INBOX/2 {")
            && r.has("skipped by --pipemess \"sed -e s/color/hue/"),
        "{}",
        r.show()
    );
    let b = bodies2(&p, "INBOX");
    assert_eq!(b.len(), 2);
    assert!(
        b.iter().all(|m| m.contains("hue") && !m.contains("colour")),
        "{b:?}"
    );
}

#[test]
fn truncmess_and_line_lengths_with_their_command() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    for f in ["trunc", "long", "short"] {
        c.create(f).expect("create");
    }
    c.append("trunc", &[], None, &message("t", "big", &"z".repeat(5000)))
        .expect("append");
    c.append("long", &[], None, &message("l", "long", &"x".repeat(3000)))
        .expect("append");
    c.append("short", &[], None, &message("s", "short", "tiny lines"))
        .expect("append");
    c.append("short", &[], None, &message("w", "wide", &"w".repeat(300)))
        .expect("append");

    let r = p.sync(&["--folder", "trunc", "--truncmess", "300"]);
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    let b = bodies2(&p, "trunc");
    assert_eq!(b[0].len(), 300, "{b:?}");

    // A command that fails the check stops the run before connecting.
    let r = p.run(&["--maxlinelength", "1000", "--maxlinelengthcmd", "false"]);
    assert_eq!(r.code, 64, "{}", r.show());
    assert!(
        r.has("Error: --maxlinelengthcmd command is bad, check it"),
        "{}",
        r.show()
    );
    // A message with a longer line goes through the command instead of being skipped.
    let r = p.sync(&[
        "--folder",
        "long",
        "--maxlinelength",
        "1000",
        "--maxlinelengthcmd",
        "fold -w 500",
        "--debugmaxlinelength",
    ]);
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    assert!(r.has("msg long/1 maxlinelength: 3002"), "{}", r.show());
    let b = bodies2(&p, "long");
    let longest = b[0].split('\n').map(str::len).max().unwrap_or(0);
    assert!(longest <= 502, "line of {longest} bytes left");

    // --minmaxlinelength skips messages whose lines are all that short.
    let r = p.sync(&["--folder", "short", "--minmaxlinelength", "100"]);
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    assert!(
        r.has("skipped by --minmaxlinelength 100 (max line length"),
        "{}",
        r.show()
    );
    assert!(bodies2(&p, "short")[0].contains(&"w".repeat(300)));
}

/// Runs imapsync in the background; its output once it ends.
struct Background(std::process::Child);

impl Background {
    fn start(p: &Pair, args: &[String]) -> Background {
        let child = Command::new(bin())
            .args(args)
            .current_dir(p.dir.path())
            .env("HOME", p.dir.path())
            .env("XDG_STATE_HOME", p.dir.path().join("state-home"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn imapsync");
        Background(child)
    }

    fn finish(self) -> common::Run {
        let o = self.0.wait_with_output().expect("imapsync output");
        common::Run {
            code: o.status.code().unwrap_or(-1),
            out: String::from_utf8_lossy(&o.stdout).into_owned(),
            err: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Waits until the shim's rule `i` fired `n` times.
fn fired(shim: &Shim, i: usize, n: u64) {
    let t = Instant::now();
    while shim.stats().fired[i] < n {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "rule {i} never fired"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn messages_that_vanish_or_change_size_while_being_copied() {
    let h1 = Dovecot::builder(Layout::Slash)
        .no_tls()
        .start()
        .expect("host1");
    let p = Pair::with(h1, Dovecot::start(Layout::Slash).expect("host2"));
    let mut c = p.imap1();
    for f in ["gone", "keep", "size"] {
        c.create(f).expect("create");
        for i in 0..2 {
            c.append(f, &[], None, &message(&format!("{f}{i}"), f, "body"))
                .expect("append");
        }
    }
    let via = |shim: &Shim, extra: &[&str]| {
        let mut a = p.args_via(1, shim.port(), &["--nossl1", "--notls1"]);
        a.extend(strings(extra));
        a
    };
    // The message host1 loses after the listing: a fetch failure, unless
    // --checkmessageexists, which skips it.
    for (folder, check) in [("gone", true), ("keep", false)] {
        let shim = Shim::start(
            (p.h1.host(), p.h1.port()),
            vec![Rule::new(
                When::command("UID FETCH").args(r"BODY\.PEEK\[\]").nth(1),
                Action::Delay(Duration::from_secs(2)),
            )],
        )
        .expect("shim");
        let mut extra = vec!["--folder", folder, "--nomultiappend"];
        if check {
            extra.push("--checkmessageexists");
        }
        let run = Background::start(&p, &via(&shim, &extra));
        fired(&shim, 0, 1);
        let mut c = p.imap1();
        c.select(folder).expect("select");
        c.store_flags("2", "+FLAGS", &["\\Deleted"]).expect("flag");
        c.expunge().expect("expunge");
        let r = run.finish();
        assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
        if check {
            assert_eq!(r.code, 0, "{}", r.show());
            assert!(
                r.has("skipped by --checkmessageexists: the message is no longer on host1"),
                "{}",
                r.show()
            );
        } else {
            assert_ne!(r.code, 0, "{}", r.show());
            // Dovecot answers NIL for a message another session expunged.
            assert!(r.has("- msg keep/2 could not be fetched"), "{}", r.show());
        }
    }
    // Host1 sends a body of another length than the RFC822.SIZE it listed (a broken cache):
    // copied by default (--allowsizemismatch), refused with --noallowsizemismatch.
    let broken = || {
        Shim::start(
            (p.h1.host(), p.h1.port()),
            vec![Rule::new(
                When::command("UID FETCH").args(r"BODY\.PEEK\[\]"),
                Action::InjectUntagged("9 FETCH (UID 1 BODY[] {5}\r\nshort)".into()),
            )],
        )
        .expect("shim")
    };
    let shim = broken();
    let r = run_in(
        p.dir.path(),
        &via(
            &shim,
            &[
                "--folder",
                "size",
                "--noallowsizemismatch",
                "--nomultiappend",
            ],
        ),
        &[],
    );
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    assert!(
        r.has("msg size/1 could not be fetched: expected")
            && r.has("but received 5 (--noallowsizemismatch)"),
        "{}",
        r.show()
    );
    assert_ne!(r.code, 0, "{}", r.show());
    let shim = broken();
    let r = run_in(
        p.dir.path(),
        &via(&shim, &["--folder", "size", "--nomultiappend"]),
        &[],
    );
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    assert_eq!(bodies2(&p, "size").len(), 2);
}

#[test]
fn syncflagsaftercopy_sets_again_flags_host2_lost() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    for f in ["plain", "after"] {
        c.create(f).expect("create");
        c.append(
            f,
            &["\\Seen"],
            None,
            &message(&format!("{f}1"), "first", "1"),
        )
        .expect("append");
        c.append(
            f,
            &["\\Seen"],
            None,
            &message(&format!("{f}2"), "second", "2"),
        )
        .expect("append");
    }
    // Stands in for a host2 that drops flags: while the second message goes through
    // --pipemess, the first one, already on host2, loses its flags there.
    let conf = p.h2.config_path();
    let script = |folder: &str| {
        format!(
            "f=$(mktemp); cat > \"$f\"; if grep -q '^Subject: second' \"$f\"; then \
             i=0; while [ -z \"$(doveadm -c {c} search -u user2 mailbox {folder} all)\" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; \
             doveadm -c {c} flags remove -u user2 '\\Seen' mailbox {folder} all; fi; cat \"$f\"; rm -f \"$f\"",
            c = conf.display()
        )
    };
    let seen2 = |folder: &str| -> Vec<bool> {
        p.snap2()[folder]
            .iter()
            .map(|m| m.flags.contains(&"\\Seen".to_string()))
            .collect()
    };
    let r = p.sync(&["--folder", "plain", "--pipemess", &script("plain")]);
    assert_eq!(r.num("Messages transferred"), 2, "{}", r.show());
    assert_eq!(seen2("plain"), vec![false, true], "the flag was not lost");
    let r = p.sync(&[
        "--folder",
        "after",
        "--pipemess",
        &script("after"),
        "--syncflagsaftercopy",
        "--debugflags",
    ]);
    assert_eq!(r.num("Messages transferred"), 2, "{}", r.show());
    assert!(
        r.has("Host2: flags msg after/1 set again after copy to [\\Seen] (--syncflagsaftercopy)"),
        "{}",
        r.show()
    );
    assert!(
        r.has("Host1: flags init msg after/1 flags [\\Seen")
            && r.has("Host1: flags filt msg after/1 flags [\\Seen]"),
        "{}",
        r.show()
    );
    assert_eq!(seen2("after"), vec![true, true]);
}

#[test]
fn appendlimit_fetch_hash_set_f1f2h_and_debug_lines() {
    let h2 = Dovecot::builder(Layout::Slash)
        .max_mail_size(2000)
        .advertise_appendlimit()
        .start()
        .expect("host2");
    let p = Pair::with(Dovecot::start(Layout::Slash).expect("host1"), h2);
    let mut c = p.imap1();
    c.create("big").expect("create");
    c.append("big", &[], None, &message("small", "s", "small"))
        .expect("append");
    c.append("big", &[], None, &message("mid", "m", &"m".repeat(1000)))
        .expect("append");
    c.append("big", &[], None, &message("huge", "h", &"h".repeat(3000)))
        .expect("append");
    // --appendlimit wins over the APPENDLIMIT host2 announces, lower...
    let r = p.sync(&["--folder", "big", "--appendlimit", "500"]);
    assert!(
        r.has(
            "Host2: Getting appendlimit from --appendlimit 500 (host2 announces APPENDLIMIT=2000)"
        ),
        "{}",
        r.show()
    );
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    // ... or higher: then host2 itself refuses what is over its real limit.
    let r = p.sync(&["--folder", "big", "--appendlimit", "100000"]);
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    assert!(r.has("host2 refuses it as too big"), "{}", r.show());

    c.create("set").expect("create");
    for i in 1..=4 {
        c.append(
            "set",
            &["\\Seen"],
            None,
            &message(&format!("s{i}"), "s", "x"),
        )
        .expect("append");
    }
    // --fetch_hash_set lists those UIDs only; --f1f2h maps like --f1f2.
    let r = p.sync(&[
        "--folder",
        "set",
        "--fetch_hash_set",
        "2:3",
        "--f1f2h",
        "set=picked",
        "--debugflags",
    ]);
    assert_eq!(r.num("Messages transferred"), 2, "{}", r.show());
    let ids: Vec<String> = p.snap2()["picked"]
        .iter()
        .filter_map(|m| m.message_id.clone())
        .collect();
    assert_eq!(ids, vec!["<s2@example.org>", "<s3@example.org>"]);
    assert!(
        r.has("Host1: flags init msg set/2 flags [\\Seen")
            && r.has("Host1: flags filt msg set/2 flags [\\Seen]"),
        "{}",
        r.show()
    );

    // --debugcrossduplicates names the host2 folders a skipped message is in.
    c.create("dup").expect("create");
    c.append("dup", &[], None, &message("s2", "s", "x"))
        .expect("append");
    let r = p.sync(&[
        "--folder",
        "set",
        "--folder",
        "dup",
        "--f1f2",
        "set=picked",
        "--folderlast",
        "dup",
        "--connections1",
        "1",
        "--skipcrossduplicates",
        "--debugcrossduplicates",
        "--nofoldersizes",
    ]);
    assert!(
        r.has("Host1: found that msg dup/1 is also in Host2 folders picked"),
        "{}",
        r.show()
    );
}

/// The entries of GETACL on `folder`, as `id rights` words.
fn getacl(c: &mut imapsync_testkit::TestImap, folder: &str) -> String {
    let r = c.command(&format!("GETACL {folder}")).expect("getacl");
    r.untagged
        .iter()
        .map(|u| String::from_utf8_lossy(u).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn syncacls_and_email_reports() {
    let p = Pair::with(
        Dovecot::builder(Layout::Slash)
            .acl()
            .start()
            .expect("host1"),
        Dovecot::builder(Layout::Slash)
            .acl()
            .start()
            .expect("host2"),
    );
    let mut c1 = p.imap1();
    c1.create("shared").expect("create");
    c1.append("shared", &[], None, &message("m", "m", "m"))
        .expect("append");
    c1.command("SETACL shared user3 lr").expect("setacl");
    let mut c2 = p.imap2();
    c2.create("shared").expect("create");
    c2.command("SETACL shared user4 lrs").expect("setacl");

    // Not asked: no ACL is looked at (imapsync's default, --nosyncacls).
    let r = p.sync(&["--folder", "shared"]);
    assert!(!r.has("acl"), "{}", r.show());
    let r = p.sync(&["--folder", "shared", "--syncacls", "--dry"]);
    assert!(
        r.has("Host2: setting acl for folder shared user user3 acl lr (was []) (not really since --dry mode)"),
        "{}",
        r.show()
    );
    assert!(getacl(&mut c2, "shared").contains("user4 lrs"));
    let r = p.sync(&["--folder", "shared", "--syncacls"]);
    assert!(
        r.has("Host2: removing acl of user user4 from folder shared (was [lrs], host1 has none)")
            && r.has("user user2 has already the same acl"),
        "{}",
        r.show()
    );
    let acl = getacl(&mut c2, "shared");
    assert!(
        acl.contains("user3 lr") && !acl.contains("user4") && acl.contains("user2 lrwstipekxacd"),
        "{acl}"
    );
    // host1's own user is host2's: never given rights under host1's name.
    assert!(!acl.contains("user1"), "{acl}");

    // The reports: none with --dry; with a real sync, one in each INBOX asked for.
    let r = p.sync(&["--folder", "shared", "--emailreport2", "--dry"]);
    assert!(
        r.has("Note: no email report is appended with --dry"),
        "{}",
        r.show()
    );
    let r = p.sync(&[
        "--folder",
        "shared",
        "--emailreport1",
        "--emailreport2",
        "--emailreportfrom",
        "admin@example.org",
    ]);
    assert!(
        r.has("Host2: Successfully put the email final report in INBOX. Use --noemailreport2 to avoid it.")
            && r.has("Host1: Successfully put the email final report in INBOX."),
        "{}",
        r.show()
    );
    for c in [&mut c1, &mut c2] {
        c.select("INBOX").expect("select");
        let uids = c
            .uid_search("SUBJECT \"Imapsync transferred your account\" FROM admin@example.org")
            .expect("search");
        assert_eq!(uids.len(), 1);
        let body = String::from_utf8_lossy(&c.fetch_body(uids[0]).expect("body")).into_owned();
        assert!(
            body.contains("<b>user1</b>") && body.contains("<b>user2</b>"),
            "{body}"
        );
    }
}

#[test]
fn expungeaftereach_and_uidexpunge2() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    for f in ["move", "later", "mirror"] {
        c.create(f).expect("create");
        for i in 0..2 {
            c.append(f, &[], None, &message(&format!("{f}{i}"), f, "x"))
                .expect("append");
        }
    }
    // --delete1: each message leaves host1 as soon as host2 has it (--expungeaftereach, on
    // by default), or all at the folder's end with --noexpungeaftereach.
    let r = p.sync(&["--folder", "move", "--delete1"]);
    assert!(
        r.has("Host1: move/1 marking deleted and expunged (--expungeaftereach)")
            && r.has("Host1: move/2 marking deleted and expunged (--expungeaftereach)"),
        "{}",
        r.show()
    );
    let r = p.sync(&["--folder", "later", "--delete1", "--noexpungeaftereach"]);
    assert!(
        !r.has("(--expungeaftereach)") && r.has("Host1: later/1 marking deleted and expunged"),
        "{}",
        r.show()
    );
    let s1 = p.snap1();
    assert!(s1["move"].is_empty() && s1["later"].is_empty(), "{s1:?}");
    assert_eq!(p.snap2()["move"].len() + p.snap2()["later"].len(), 4);

    // --delete2 removes what host1 does not have with UID EXPUNGE; --nouidexpunge2 only
    // flags it.
    p.sync(&["--folder", "mirror"]);
    let mut c2 = p.imap2();
    c2.append("mirror", &[], None, &message("extra", "x", "x"))
        .expect("append");
    let r = p.sync(&["--folder", "mirror", "--delete2", "--nouidexpunge2"]);
    assert!(
        r.has("only flagged \\Deleted, not expunged (--nouidexpunge2)"),
        "{}",
        r.show()
    );
    let m = &p.snap2()["mirror"];
    assert_eq!(m.len(), 3);
    assert!(m.iter().any(|m| m.flags.contains(&"\\Deleted".to_string())));
    p.sync(&["--folder", "mirror", "--delete2"]);
    assert_eq!(p.snap2()["mirror"].len(), 2);
}
