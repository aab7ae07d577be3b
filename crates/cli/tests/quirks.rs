//! Odd answers real servers send, injected by the IMAP shim in front of real Dovecot servers:
//! an untagged response we cannot parse is logged (with `--debugimap`) and skipped; it never
//! breaks the connection or the commands after it, and informational queries that answer
//! oddly (QUOTA, NAMESPACE, ID, STATUS) degrade to "unknown".

mod common;

use common::{Pair, message, run_in, set_arg, strings};
use imapsync_testkit::shim::{Action, Rule, Shim, When};
use imapsync_testkit::{Dovecot, Layout};

/// Both sides in plain text, each behind its own shim.
fn setup(rules1: Vec<Rule>, rules2: Vec<Rule>) -> (Pair, Shim, Shim) {
    let h1 = Dovecot::builder(Layout::DotPrefix)
        .no_tls()
        .start()
        .expect("host1");
    let h2 = Dovecot::builder(Layout::Slash)
        .no_tls()
        .quota_storage_kib(1_000_000)
        .start()
        .expect("host2");
    let p = Pair::with(h1, h2);
    let s1 = Shim::start((p.h1.host(), p.h1.port()), rules1).expect("shim1");
    let s2 = Shim::start((p.h2.host(), p.h2.port()), rules2).expect("shim2");
    (p, s1, s2)
}

fn args(p: &Pair, s1: &Shim, s2: &Shim, extra: &[&str]) -> Vec<String> {
    let mut a = p.args_via(
        2,
        s2.port(),
        &["--nossl2", "--notls2", "--nossl1", "--notls1"],
    );
    set_arg(&mut a, "--port1", &s1.port().to_string());
    a.extend(strings(extra));
    a
}

fn inject(cmd: &str, text: &str) -> Rule {
    Rule::new(When::command(cmd), Action::InjectUntagged(text.into()))
}

#[test]
fn malformed_untagged_answers_are_skipped_and_the_sync_goes_on() {
    let (p, s1, s2) = setup(
        vec![
            // garbage before the answers host1 gives to its listing and its fetches
            inject("LIST", "LIST garbage ("),
            inject("NAMESPACE", "NAMESPACE junk"),
            inject("ID", "ID (\"name\""),
            inject("SELECT", "FLAGS \\Seen"),
            inject("EXAMINE", "FLAGS \\Seen"),
            inject("UID FETCH", "1 FETCH (UID"),
        ],
        vec![
            // (one rule per command) answers that do not parse at all
            inject("GETQUOTAROOT", "QUOTA \"ROOT\" (STORAGE x)"),
            inject("CREATE", "99999999999 EXISTS"),
            inject("APPEND", "STATUS INBOX (MESSAGES)"),
            inject("LIST", "LIST (\\X \"/\" "),
        ],
    );
    let mut c = p.imap1();
    for f in ["INBOX.a", "INBOX.b", "INBOX.[Gmail]"] {
        c.create(f).expect("create");
        for i in 0..3 {
            c.append(f, &["\\Seen"], None, &message(&format!("{f}{i}"), "s", "b"))
                .expect("append");
        }
    }
    c.append("INBOX", &[], None, &message("in", "s", "b"))
        .expect("append");
    let r = run_in(p.dir.path(), &args(&p, &s1, &s2, &["--debugimap"]), &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.errors(), 0, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 10, "{}", r.show());
    for bad in [
        "\"* ID (\\\"name\\\"\\r\\n\"",
        "\"* NAMESPACE junk\\r\\n\"",
        "\"* LIST garbage (\\r\\n\"",
        "\"* FLAGS \\\\Seen\\r\\n\"",
        "\"* 1 FETCH (UID\\r\\n\"",
        "(STORAGE x)\\r\\n\"",
        "\"* 99999999999 EXISTS\\r\\n\"",
        "INBOX (MESSAGES)\\r\\n\"",
        "\"* LIST (\\\\X \\\"/\\\" \\r\\n\"",
    ] {
        assert!(
            r.out
                .lines()
                .any(|l| l.contains("ignored an untagged response") && l.contains(bad)),
            "not logged: {bad}\n{}",
            r.show()
        );
    }
    // every shimmed command was really answered oddly
    for cmd in ["GETQUOTAROOT", "CREATE", "APPEND", "LIST"] {
        assert!(s2.stats().commands_named(cmd) > 0, "{cmd} never sent");
    }
    p.assert_same();
    // and again: nothing to do, still no error
    let r = run_in(p.dir.path(), &args(&p, &s1, &s2, &[]), &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
}

/// Courier's empty quota (`* QUOTA "ROOT"`) is "no limit known", not an error, and does not
/// hide a real quota answered in the same response.
#[test]
fn an_empty_quota_is_unknown_and_a_real_quota_is_still_read() {
    let (p, s1, s2) = setup(
        vec![],
        vec![
            inject("GETQUOTAROOT", "QUOTAROOT \"INBOX\" \"ROOT\""),
            inject("GETQUOTAROOT", "QUOTA \"ROOT\""),
        ],
    );
    p.imap1()
        .append("INBOX", &[], None, &message("q", "s", "b"))
        .expect("append");
    let r = run_in(p.dir.path(), &args(&p, &s1, &s2, &[]), &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    // Dovecot's own QUOTA answer comes before the injected lines and is read.
    assert!(r.has("Host2: Quota current storage is"), "{}", r.show());
    let _ = &s1;
}
