//! The IMAP shim in front of a real Dovecot: transparent by default, each action doing what
//! it says, counters right.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use imapsync_testkit::imap::Status;
use imapsync_testkit::shim::{Action, Rule, Shim, When};
use imapsync_testkit::{Dovecot, Layout, TestImap};

fn server() -> &'static Dovecot {
    static S: OnceLock<Dovecot> = OnceLock::new();
    S.get_or_init(|| Dovecot::start(Layout::Slash).expect("dovecot"))
}

fn shim(rules: Vec<Rule>) -> Shim {
    let s = server();
    Shim::start((s.host(), s.port()), rules).expect("shim")
}

fn client(shim: &Shim) -> TestImap {
    TestImap::connect_timeout("127.0.0.1", shim.port(), Duration::from_secs(10))
        .expect("connect through the shim")
}

fn login(shim: &Shim, user: &str) -> TestImap {
    let mut c = client(shim);
    let pass = server().password_of(user).expect("user");
    c.login(user, &pass).expect("login");
    c
}

/// A direct connection to the server, to check what really reached it.
fn direct(user: &str) -> TestImap {
    server().connect(user).expect("direct connection")
}

fn messages(user: &str, folder: &str) -> u64 {
    let st = direct(user).status(folder, &["MESSAGES"]).expect("status");
    st.get("MESSAGES").copied().unwrap_or(0)
}

fn fresh_folder(user: &str, name: &str) {
    let mut d = direct(user);
    let _ = d.delete(name);
    d.create(name).expect("create");
}

/// A raw line-oriented client.
struct Raw {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Raw {
    fn connect(shim: &Shim) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", shim.port())).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.set_nodelay(true).expect("nodelay");
        Raw {
            r: BufReader::new(s.try_clone().expect("clone")),
            w: s,
        }
    }

    fn send(&mut self, b: &[u8]) {
        self.w.write_all(b).expect("send");
    }

    fn line(&mut self) -> String {
        let mut l = Vec::new();
        self.r.read_until(b'\n', &mut l).expect("read");
        String::from_utf8_lossy(&l).into_owned()
    }

    /// Lines until the tagged one (included).
    fn until(&mut self, tag: &str) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line();
            assert!(!l.is_empty(), "EOF before {tag}: {out:?}");
            let done = l.starts_with(&format!("{tag} "));
            out.push(l);
            if done {
                return out;
            }
        }
    }

    /// Reads until EOF (or a reset); returns what came.
    fn rest(&mut self) -> String {
        let mut v = Vec::new();
        let _ = self.r.read_to_end(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    }

    fn login(&mut self, user: &str) {
        let pass = server().password_of(user).expect("user");
        let greeting = self.line();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        self.send(format!("L1 LOGIN {user} {pass}\r\n").as_bytes());
        let r = self.until("L1");
        assert!(r.last().is_some_and(|l| l.starts_with("L1 OK")), "{r:?}");
    }
}

fn body(n: usize) -> Vec<u8> {
    let mut b =
        b"From: shim@example.org\r\nSubject: shim test\r\nMessage-ID: <shim@test>\r\n\r\n".to_vec();
    while b.len() < n {
        b.extend_from_slice(b"line of text \xc3\xa9\x00\x01 0123456789\r\n");
    }
    b
}

#[test]
fn forwards_transparently() {
    let shim = shim(vec![]);
    fresh_folder("user1", "ShimPlain");
    let mut c = login(&shim, "user1");
    let big = body(300_000);
    let small = body(100);
    c.set_literal_plus(Some(false));
    let u1 = c
        .append(
            "ShimPlain",
            &["\\Seen"],
            Some("17-Jul-1996 02:44:25 -0700"),
            &big,
        )
        .expect("append {n}");
    c.set_literal_plus(Some(true));
    let u2 = c
        .append("ShimPlain", &[], None, &small)
        .expect("append {n+}");
    let sel = c.select("ShimPlain").expect("select");
    assert_eq!(sel.exists, 2);
    assert_eq!(
        c.fetch_body(u1).expect("fetch"),
        direct("user1")
            .tap_select("ShimPlain")
            .fetch_body(u1)
            .expect("direct fetch")
    );
    assert_eq!(
        c.fetch_body(u2).expect("fetch").len(),
        direct("user1")
            .tap_select("ShimPlain")
            .fetch_body(u2)
            .expect("fetch")
            .len()
    );
    let msgs = c.fetch_messages().expect("fetch all");
    assert_eq!(msgs.len(), 2);
    c.logout().expect("logout");
    assert_eq!(messages("user1", "ShimPlain"), 2);

    // SASL through the shim: the client's response line is not a command.
    let mut c = client(&shim);
    c.authenticate_plain("", "user2", "pass2")
        .expect("AUTHENTICATE PLAIN");
    c.command("NOOP").expect("noop");
    // IDLE ... DONE.
    let mut r = Raw::connect(&shim);
    r.login("user3");
    r.send(b"I1 SELECT INBOX\r\n");
    r.until("I1");
    r.send(b"I2 IDLE\r\n");
    assert!(r.line().starts_with('+'));
    r.send(b"DONE\r\n");
    let done = r.until("I2");
    assert!(
        done.last().is_some_and(|l| l.starts_with("I2 OK")),
        "{done:?}"
    );

    let st = shim.stats();
    assert_eq!(st.connections, 3);
    assert_eq!(st.commands_named("LOGIN"), 2);
    assert_eq!(st.commands_named("APPEND"), 2);
    assert_eq!(st.commands_named("AUTHENTICATE"), 1);
    assert_eq!(st.commands_named("IDLE"), 1);
    assert!(st.commands_named("UID FETCH") >= 2, "{st:?}");
    assert!(
        st.commands
            .keys()
            .all(|k| k.chars().all(|ch| ch.is_ascii_uppercase() || ch == ' ')),
        "something else than commands counted: {st:?}"
    );
    assert!(!st.commands.contains_key("DONE"));
}

/// `select` that returns the client, for one-liners.
trait TapSelect {
    fn tap_select(self, folder: &str) -> Self;
}

impl TapSelect for TestImap {
    fn tap_select(mut self, folder: &str) -> Self {
        self.select(folder).expect("select");
        self
    }
}

#[test]
fn reply_swallows_the_command_and_its_literal() {
    let shim = shim(vec![
        Rule::new(
            When::command("APPEND").args(r#"^"?ShimQuota\b"#),
            Action::Reply("NO [OVERQUOTA] Quota exceeded".into()),
        )
        .times(2),
    ]);
    fresh_folder("user2", "ShimQuota");
    let mut c = login(&shim, "user2");
    for plus in [false, true] {
        c.set_literal_plus(Some(plus));
        let r = c
            .append_status("ShimQuota", &["\\Seen"], None, &body(50_000))
            .expect("append answered");
        assert_eq!(r.status, Status::No, "LITERAL+ {plus}: {}", r.text);
        assert_eq!(r.code().map(|c| c.0), Some("OVERQUOTA".into()));
        assert_eq!(r.text, "[OVERQUOTA] Quota exceeded");
    }
    // The budget is spent: the third goes through, and the connection is in sync.
    c.set_literal_plus(Some(false));
    c.append("ShimQuota", &[], None, &body(1000))
        .expect("third append");
    c.command("NOOP").expect("noop");
    assert_eq!(messages("user2", "ShimQuota"), 1);
    let st = shim.stats();
    assert_eq!(st.fired, vec![2]);
    assert_eq!(st.commands_named("APPEND"), 3);
}

#[test]
fn replies_with_server_error_codes() {
    let texts = [
        "NO [LIMIT] too many commands",
        "NO [OVERQUOTA] Quota exceeded",
        "NO [TOOBIG] Message too big",
        "NO [INUSE] Mailbox in use",
        "NO [UNAVAILABLE] try later",
        "BAD Request is throttled. Suggested Backoff Time: 300 milliseconds",
        "NO [THROTTLED] slow down",
    ];
    let rules = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            Rule::new(
                When::command("noop").nth(i + 1),
                Action::Reply(t.to_string()),
            )
        })
        .collect();
    let shim = shim(rules);
    let mut c = login(&shim, "user1");
    for t in texts {
        let r = c.command_status("NOOP").expect("answered");
        let (word, text) = t.split_once(' ').expect("status word");
        let want = if word == "BAD" {
            Status::Bad
        } else {
            Status::No
        };
        assert_eq!((r.status, r.text.as_str()), (want, text));
    }
    let r = c.command_status("NOOP").expect("server answer");
    assert_eq!(r.status, Status::Ok);
    let st = shim.stats();
    assert_eq!(st.fired, vec![1; texts.len()]);
    assert_eq!(st.commands_named("NOOP"), texts.len() as u64 + 1);
}

#[test]
fn reply_then_close() {
    let shim = shim(vec![Rule::new(
        When::command("LOGIN"),
        Action::ReplyThenClose("NO [UNAVAILABLE] try later".into()),
    )]);
    let mut r = Raw::connect(&shim);
    assert!(r.line().starts_with("* OK"));
    r.send(b"a1 LOGIN user1 pass1\r\n");
    assert_eq!(r.line(), "a1 NO [UNAVAILABLE] try later\r\n");
    assert_eq!(r.rest(), "");
    assert_eq!(shim.stats().fired, vec![1]);
}

#[test]
fn delay_then_forward() {
    let shim = shim(vec![Rule::new(
        When::command("SELECT"),
        Action::Delay(Duration::from_millis(400)),
    )]);
    let mut c = login(&shim, "user3");
    let t = Instant::now();
    c.select("INBOX").expect("select");
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    c.command("NOOP").expect("noop");
    assert!(t.elapsed() < Duration::from_millis(400));
}

#[test]
fn close_before_forward() {
    let shim = shim(vec![Rule::new(
        When::command("uid fetch"),
        Action::CloseBeforeForward,
    )]);
    let mut c = login(&shim, "user3");
    c.select("INBOX").expect("select");
    assert!(c.command_status("UID FETCH 1:* (FLAGS)").is_err());
    let st = shim.stats();
    assert_eq!(
        (st.fired.clone(), st.commands_named("UID FETCH")),
        (vec![1], 1)
    );
    assert!(
        shim.events()
            .iter()
            .any(|e| e.contains("closed (by the shim)"))
    );
}

#[test]
fn close_in_the_middle_of_a_literal() {
    let shim = shim(vec![Rule::new(
        When::command("APPEND").args(r#"^"?ShimMid\b"#),
        Action::CloseMidLiteral { after_bytes: 1000 },
    )]);
    fresh_folder("user3", "ShimMid");
    for plus in [false, true] {
        let mut c = login(&shim, "user3");
        c.set_literal_plus(Some(plus));
        assert!(
            c.append("ShimMid", &[], None, &body(20_000)).is_err(),
            "LITERAL+ {plus}"
        );
    }
    // The server saw part of a literal, never a message.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(messages("user3", "ShimMid"), 0);
    assert_eq!(shim.stats().fired, vec![2]);
    let mid = shim
        .events()
        .iter()
        .filter(|e| e.contains("closed in the middle of a literal"))
        .count();
    assert_eq!(mid, 2, "{:?}", shim.events());
}

#[test]
fn bye_after_or_instead_of_the_greeting() {
    let shim = shim(vec![
        Rule::new(
            When::Connection(2),
            Action::ByeAfterGreeting("Too many simultaneous connections".into()),
        ),
        Rule::new(
            When::Connection(3),
            Action::ByeInsteadOfGreeting("[UNAVAILABLE] Server busy".into()),
        ),
    ]);
    let mut c1 = login(&shim, "user1");
    let mut r2 = Raw::connect(&shim);
    assert!(r2.line().starts_with("* OK"));
    assert_eq!(r2.line(), "* BYE Too many simultaneous connections\r\n");
    assert_eq!(r2.rest(), "");
    let err = TestImap::connect_timeout("127.0.0.1", shim.port(), Duration::from_secs(10))
        .expect_err("third connection refused");
    assert!(format!("{err:#}").contains("BYE"), "{err:#}");
    let mut c4 = login(&shim, "user2");
    c1.command("NOOP").expect("first connection unaffected");
    c4.command("NOOP").expect("fourth connection fine");
    let st = shim.stats();
    assert_eq!(st.connections, 4);
    assert_eq!(st.fired, vec![1, 1]);
}

#[test]
fn rewritten_greeting_and_injected_untagged() {
    let shim = shim(vec![
        Rule::new(
            When::Always,
            Action::RewriteGreeting(
                "OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] Shim ready".into(),
            ),
        ),
        Rule::new(
            When::command("SELECT"),
            Action::InjectUntagged("NO [ALERT] injected by the shim".into()),
        ),
    ]);
    let mut c = client(&shim);
    assert_eq!(
        c.greeting(),
        "* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] Shim ready"
    );
    c.login("user1", "pass1").expect("login");
    let r = c.command("SELECT INBOX").expect("select");
    let untagged = r.untagged_text();
    assert_eq!(
        untagged.last().map(String::as_str),
        Some("* NO [ALERT] injected by the shim"),
        "{untagged:?}"
    );
    assert_eq!(r.status, Status::Ok);
    assert_eq!(shim.stats().fired, vec![1, 1]);
}

#[test]
fn pipelined_commands_and_literals_are_split_right() {
    let shim = shim(vec![Rule::new(
        When::command("NOOP").nth_in_connection(2),
        Action::Reply("NO [LIMIT] too many commands".into()),
    )]);
    fresh_folder("user2", "ShimPipe");
    let mut r = Raw::connect(&shim);
    r.login("user2");
    // Literal bodies that look like commands must not be taken for commands.
    r.send(
        b"p0 SELECT INBOX\r\np1 NOOP\r\np2 APPEND ShimPipe {11+}\r\nx9 LOGOUT\r\n (\\Seen) {11+}\r\nx8 NOOP\r\nab\r\n\
p3 APPEND ShimPipe ~{4+}\r\n\x00\x01\x02\x03\r\np4 NOOP\r\np5 UID fetch 1:* (FLAGS)\r\n",
    );
    let out = r.until("p5").join("");
    for want in [
        "p0 OK",
        "p1 OK",
        "p2 OK",
        "p3 OK",
        "p4 NO [LIMIT] too many commands",
        "p5 OK",
    ] {
        assert!(out.contains(want), "{want} missing in {out}");
    }
    let st = shim.stats();
    assert_eq!(st.commands_named("NOOP"), 2);
    assert_eq!(st.commands_named("APPEND"), 2);
    assert_eq!(st.commands_named("LOGOUT"), 0);
    assert_eq!(st.commands_named("UID FETCH"), 1);
    assert_eq!(st.commands_named("SELECT"), 1);
    assert_eq!(st.fired, vec![1]);
    assert_eq!(messages("user2", "ShimPipe"), 3);
}

#[test]
fn a_synchronizing_literal_refused_by_the_server_is_understood() {
    let shim = shim(vec![Rule::new(
        When::command("NOOP"),
        Action::Reply("NO [THROTTLED] slow down".into()),
    )]);
    let mut r = Raw::connect(&shim);
    r.login("user1");
    // Dovecot answers at once instead of `+`: the client must not send the literal.
    r.send(b"b1 APPEND NoSuchFolder {5}\r\n");
    let out = r.until("b1");
    assert!(
        out.last()
            .is_some_and(|l| l.starts_with("b1 NO [TRYCREATE]")),
        "{out:?}"
    );
    // The next bytes are a command again, so the shim answers this NOOP itself.
    r.send(b"b2 NOOP\r\n");
    assert_eq!(
        r.until("b2"),
        vec!["b2 NO [THROTTLED] slow down\r\n".to_string()]
    );
    // A swallowed command with a synchronizing literal gets the shim's own `+`.
    let shim2 = self::shim(vec![Rule::new(
        When::command("APPEND"),
        Action::Reply("NO [TOOBIG] Message too big".into()),
    )]);
    let mut r = Raw::connect(&shim2);
    r.login("user1");
    r.send(b"c1 APPEND INBOX {5}\r\n");
    assert_eq!(r.line(), "+ go ahead\r\n");
    r.send(b"hello\r\n");
    assert_eq!(
        r.until("c1"),
        vec!["c1 NO [TOOBIG] Message too big\r\n".to_string()]
    );
    r.send(b"c2 NOOP\r\n");
    assert!(r.until("c2").last().is_some_and(|l| l.starts_with("c2 OK")));
}

#[test]
fn nth_per_connection_and_per_connection_rules() {
    let shim = shim(vec![
        Rule::new(
            When::command("NOOP").nth_in_connection(1),
            Action::Reply("NO first noop".into()),
        ),
        Rule::new(
            When::Connection(2),
            Action::Reply("BAD connection two".into()),
        )
        .times(1),
    ]);
    let mut a = login(&shim, "user1");
    let mut b = client(&shim);
    // Connection 2: its first command (LOGIN) is answered by the second rule.
    let r = b.command_status("LOGIN user2 pass2").expect("answered");
    assert_eq!((r.status, r.text.as_str()), (Status::Bad, "connection two"));
    b.login("user2", "pass2")
        .expect("second LOGIN reaches the server");
    for c in [&mut a, &mut b] {
        let r = c.command_status("NOOP").expect("first");
        assert_eq!((r.status, r.text.as_str()), (Status::No, "first noop"));
        assert_eq!(c.command_status("NOOP").expect("second").status, Status::Ok);
    }
    assert_eq!(shim.stats().fired, vec![2, 1]);
}

#[test]
fn stop_closes_connections() {
    let s = shim(vec![]);
    let mut r = Raw::connect(&s);
    r.login("user1");
    let started = Instant::now();
    s.stop();
    assert_eq!(r.rest(), "");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn commands_pipelined_before_a_close_still_reach_the_server() {
    let shim = shim(vec![Rule::new(
        When::command("NOOP"),
        Action::CloseBeforeForward,
    )]);
    {
        let mut d = direct("user3");
        let _ = d.delete("ShimBefore");
    }
    let mut r = Raw::connect(&shim);
    r.login("user3");
    r.send(b"a1 CREATE ShimBefore\r\na2 NOOP\r\na3 CREATE ShimNever\r\n");
    let _ = r.rest();
    let names: Vec<String> = direct("user3")
        .list()
        .expect("list")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(names.iter().any(|n| n == "ShimBefore"), "{names:?}");
    assert!(!names.iter().any(|n| n == "ShimNever"), "{names:?}");
}

#[test]
fn after_starttls_everything_is_raw() {
    let shim = shim(vec![Rule::new(
        When::command("NOOP"),
        Action::Reply("NO shim answered".into()),
    )]);
    let mut r = Raw::connect(&shim);
    assert!(r.line().starts_with("* OK"));
    r.send(b"s1 STARTTLS\r\n");
    assert!(r.until("s1").last().is_some_and(|l| l.starts_with("s1 OK")));
    // Not TLS: the server gives up, the shim must not read it as a command.
    r.send(b"x1 NOOP\r\n");
    let rest = r.rest();
    assert!(!rest.contains("shim answered"), "{rest:?}");
    let st = shim.stats();
    assert_eq!(st.commands_named("STARTTLS"), 1);
    assert_eq!(st.commands_named("NOOP"), 0);
    assert_eq!(st.fired, vec![0]);
}
