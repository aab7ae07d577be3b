//! Servers that push back, scripted by the IMAP shim in front of real Dovecot servers:
//! a message host2 refuses for good (policy, virus), throttling answers that must be waited
//! out (Office 365's suggested backoff, `[THROTTLED]`, `[INUSE]`, `[UNAVAILABLE]`), and
//! Gmail's `* BYE Too many simultaneous connections`.

mod common;

use common::{Pair, count, message, run_in, set_arg, strings};
use imapsync_testkit::shim::{Action, Rule, Shim, When};
use imapsync_testkit::{Corpus, CorpusSpec, Dovecot, Layout, fill};

/// host1 as usual (TLS), host2 in plain text so that the shim can read the commands.
fn pair() -> Pair {
    let h1 = Dovecot::builder(Layout::DotPrefix).start().expect("host1");
    let h2 = Dovecot::builder(Layout::Slash)
        .no_tls()
        .start()
        .expect("host2");
    Pair::with(h1, h2)
}

/// Arguments that reach host2 through `shim` (and host1 through `shim1` when given).
fn args(p: &Pair, shim2: &Shim, shim1: Option<&Shim>, extra: &[&str]) -> Vec<String> {
    let mut a = p.args_via(2, shim2.port(), &["--nossl2", "--notls2"]);
    if let Some(s1) = shim1 {
        set_arg(&mut a, "--port1", &s1.port().to_string());
        a.extend(strings(&["--nossl1", "--notls1"]));
    }
    a.extend(strings(extra));
    a
}

#[test]
fn a_refused_big_message_is_named_by_its_subject_too() {
    // Bodies over the streaming threshold are never held whole: the error line names the
    // message from the first bytes that went by.
    let p = pair();
    let mut c = p.imap1();
    let big = message("big", "Scanned contract", &"y".repeat(400_000));
    c.append("INBOX", &[], None, &big).expect("append");
    let shim = Shim::start(
        (p.h2.host(), p.h2.port()),
        vec![Rule::new(
            When::command("APPEND").args(&format!(r"\{{{}\+?\}}", big.len())),
            Action::Reply("NO [CANNOT] Attachment type not allowed".into()),
        )],
    )
    .expect("shim");
    let r = run_in(p.dir.path(), &args(&p, &shim, None, &[]), &[]);
    assert_eq!(r.code, 114, "{}", r.show());
    assert!(
        r.has("could not append ( Subject:[Scanned contract], Date:[")
            && r.has("Attachment type not allowed"),
        "{}",
        r.show()
    );
}

#[test]
fn a_message_host2_refuses_is_reported_with_114_and_the_rest_is_copied() {
    let p = pair();
    let mut c = p.imap1();
    for i in 0..5 {
        c.append(
            "INBOX",
            &["\\Seen"],
            None,
            &message(&format!("ok{i}"), "s", "fine"),
        )
        .expect("append");
    }
    c.create("INBOX.Policy").expect("create");
    let bad = message("bad", "Quarterly figures", &"x".repeat(4321));
    c.append("INBOX.Policy", &[], None, &bad).expect("append");
    c.append("INBOX.Policy", &[], None, &message("good", "s", "good"))
        .expect("append");
    // host2 refuses that one message, whatever the command carrying it (APPEND or
    // MULTIAPPEND with it first): the batch falls back to single APPENDs.
    let size = bad.len();
    let shim = Shim::start(
        (p.h2.host(), p.h2.port()),
        vec![Rule::new(
            When::command("APPEND").args(&format!(r"\{{{size}\+?\}}")),
            Action::Reply("NO [CANNOT] Message refused by the content policy".into()),
        )],
    )
    .expect("shim");
    let r = run_in(p.dir.path(), &args(&p, &shim, None, &[]), &[]);
    assert_eq!(r.code, 114, "{}", r.show());
    assert!(
        r.has("- msg INBOX.Policy/1 {")
            && r.has("could not append ( Subject:[Quarterly figures], Date:[")
            && r.has("to folder Policy: [CANNOT] Message refused by the content policy"),
        "{}",
        r.show()
    );
    assert_eq!(r.num("Messages transferred"), 6, "{}", r.show());
    let snap = p.snap2();
    assert_eq!(snap.get("INBOX").map(Vec::len), Some(5));
    assert_eq!(snap.get("Policy").map(Vec::len), Some(1));
    // A rerun tries that message again, and only that one.
    let r = run_in(p.dir.path(), &args(&p, &shim, None, &[]), &[]);
    assert_eq!(r.code, 114, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    assert_eq!(count(&p.snap2()), 6);
    // The same refusal naming a virus is its own exit code, 119.
    shim.set_rules(vec![Rule::new(
        When::command("APPEND").args(&format!(r"\{{{size}\+?\}}")),
        Action::Reply("NO Message rejected: virus found (Eicar-Test-Signature)".into()),
    )])
    .expect("rules");
    let r = run_in(p.dir.path(), &args(&p, &shim, None, &[]), &[]);
    assert_eq!(r.code, 119, "{}", r.show());
    // Once host2 takes it, the sync completes.
    shim.set_rules(Vec::new()).expect("rules");
    let r = run_in(p.dir.path(), &args(&p, &shim, None, &[]), &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    p.assert_same();
}

#[test]
fn throttling_answers_are_waited_out_and_the_result_is_exact() {
    let h1 = Dovecot::builder(Layout::DotPrefix)
        .no_tls()
        .start()
        .expect("host1");
    let h2 = Dovecot::builder(Layout::Slash)
        .no_tls()
        .start()
        .expect("host2");
    let p = Pair::with(h1, h2);
    let mut spec = CorpusSpec::small();
    spec.messages = 120;
    fill(&p.h1, "user1", "pass1", &Corpus::generate(&spec)).expect("fill");
    let o365 = "BAD Request is throttled. Suggested Backoff Time: 300 milliseconds";
    let shim2 = Shim::start(
        (p.h2.host(), p.h2.port()),
        vec![
            Rule::new(When::command("APPEND").nth(2), Action::Reply(o365.into())).times(1),
            Rule::new(
                When::command("APPEND").nth(6),
                Action::Reply("NO [THROTTLED] Account exceeded command or bandwidth limits".into()),
            )
            .times(1),
            Rule::new(
                When::command("SELECT").nth(3),
                Action::Reply("NO [INUSE] Mailbox is locked by another session".into()),
            )
            .times(1),
            Rule::new(
                When::command("UID STORE").nth(1),
                Action::Reply(o365.into()),
            )
            .times(1),
        ],
    )
    .expect("shim2");
    let shim1 = Shim::start(
        (p.h1.host(), p.h1.port()),
        vec![
            Rule::new(
                When::command("UID FETCH").nth(3),
                Action::Reply("NO [UNAVAILABLE] Temporary System Error".into()),
            )
            .times(1),
            Rule::new(
                When::command("STATUS").nth(2),
                Action::Reply("NO [UNAVAILABLE] Temporary System Error".into()),
            )
            .times(1),
        ],
    )
    .expect("shim1");
    let r = run_in(p.dir.path(), &args(&p, &shim2, Some(&shim1), &[]), &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.errors(), 0, "{}", r.show());
    p.assert_same();
    assert!(
        r.has("pushed back") && r.has("Suggested Backoff Time: 300 milliseconds"),
        "{}",
        r.show()
    );
    let fired1 = shim1.stats().fired;
    let fired2 = shim2.stats().fired;
    assert_eq!(
        fired1[0], 1,
        "host1 UID FETCH refusal not exercised: {fired1:?}"
    );
    assert_eq!(
        &fired2[..3],
        &[1, 1, 1],
        "host2 refusals not exercised: {fired2:?}"
    );
    // A flag change goes through a throttled UID STORE too.
    let mut c = p.imap1();
    c.select("INBOX").expect("select");
    c.store_flags("1:3", "+FLAGS", &["\\Flagged"])
        .expect("store");
    let r = run_in(p.dir.path(), &args(&p, &shim2, Some(&shim1), &[]), &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 0, "{}", r.show());
    assert_eq!(shim2.stats().fired[3], 1, "UID STORE refusal not exercised");
    p.assert_same();
}

#[test]
fn too_many_simultaneous_connections_means_fewer_workers_not_a_failure() {
    let p = pair();
    let mut spec = CorpusSpec::small();
    spec.messages = 80;
    fill(&p.h1, "user1", "pass1", &Corpus::generate(&spec)).expect("fill");
    // Like Gmail: beyond two connections, each new one is greeted and then turned away.
    let bye = "[UNAVAILABLE] Too many simultaneous connections. (Failure)";
    let rules = (3..=12)
        .map(|n| Rule::new(When::Connection(n), Action::ByeAfterGreeting(bye.into())))
        .collect();
    let shim = Shim::start((p.h2.host(), p.h2.port()), rules).expect("shim");
    let r = run_in(
        p.dir.path(),
        &args(
            &p,
            &shim,
            None,
            &["--connections1", "4", "--connections2", "4"],
        ),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("going on with fewer connections"), "{}", r.show());
    assert!(r.has("Too many simultaneous connections"), "{}", r.show());
    p.assert_same();
}
