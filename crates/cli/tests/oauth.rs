//! OAuth2 that lasts a whole migration, against a real Dovecot whose `oauth2` passdb checks
//! every token with a local authorization server ([`OAuthServer`]): XOAUTH2 and OAUTHBEARER,
//! tokens that expire every few seconds during a sync whose connections keep being cut
//! (renewed from a file an outside refresher keeps fresh, by imapsync's refresh command, and
//! by the built-in refresh), app-only tokens, a Google-style service account, a revoked
//! refresh token, and the interactive logins (device code, browser).

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Pair, Run, count, message, run_in, strings};
use imapsync_testkit::verify::{CompareOptions, compare, snapshot_at};
use imapsync_testkit::{
    Corpus, CorpusSpec, Dovecot, FaultProxy, Faults, Layout, OAuthServer, fill,
};

/// Host1 accepts tokens from `o` (and passwords, to fill it); host2 is a plain server.
fn pair(o: &OAuthServer) -> Pair {
    Pair::with(
        Dovecot::builder(Layout::Slash)
            .oauth2(&o.introspection_url())
            .start()
            .expect("host1 with oauth2"),
        Dovecot::start(Layout::Slash).expect("host2"),
    )
}

fn seed(p: &Pair, n: usize) {
    let mut c = p.imap1();
    for i in 0..n {
        c.append(
            "INBOX",
            &["\\Seen"],
            None,
            &message(&format!("oa{i}"), &format!("s{i}"), "hello"),
        )
        .expect("append");
    }
}

/// ~0.6 MB in 6 folders.
fn corpus() -> Corpus {
    let mut spec = CorpusSpec::small();
    spec.messages = 60;
    spec.folders = 6;
    spec.edge_cases = false;
    Corpus::generate(&spec)
}

/// The usual arguments without host1's password, then `extra`.
fn args(p: &Pair, port1: Option<u16>, extra: &[&str]) -> Vec<String> {
    let mut a = p.base_args();
    let i = a
        .iter()
        .position(|x| x == "--password1")
        .expect("password1");
    a.drain(i..i + 2);
    if let Some(port) = port1 {
        common::set_arg(&mut a, "--port1", &port.to_string());
    }
    a.extend(strings(extra));
    a
}

/// A proxy in front of host1 that slows the download to 80 kB/s and cuts every connection
/// when it opens its second folder: the sync takes several seconds and reconnects again and
/// again, each time after the token it started with has expired. (The proxy reads the
/// commands: runs through it use `--notls1`.)
fn cutting_proxy(p: &Pair) -> FaultProxy {
    FaultProxy::start(
        (p.h1.host(), p.h1.port()),
        Faults::new()
            .rate_down(80_000)
            .drop_on(" (SELECT|EXAMINE) ", 2)
            .expect("pattern"),
    )
    .expect("proxy")
}

fn assert_no_secret(r: &Run, secrets: &[&str]) {
    for s in secrets {
        assert!(!r.has(s), "secret {s} printed:\n{}", r.show());
    }
}

/// Issues a fresh token for `user` every `every` into `path` until dropped (an outside
/// refresher, as imapsync's documentation suggests running beside a long sync).
struct Refresher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Refresher {
    fn start(
        o: Arc<OAuthServer>,
        user: &str,
        path: std::path::PathBuf,
        life: Duration,
        every: Duration,
    ) -> Refresher {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let user = user.to_string();
        let write = move || {
            let t = o.issue_access_token(&user, life);
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, format!("{t}\n")).expect("write token");
            std::fs::rename(&tmp, &path).expect("rename token");
        };
        write();
        let thread = std::thread::spawn(move || {
            let mut n = 1;
            while !s.load(Ordering::SeqCst) {
                std::thread::sleep(every);
                write();
                n += 1;
            }
            n
        });
        Refresher {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .map(|t| t.join().expect("join"))
            .unwrap_or(0)
    }
}

#[test]
fn static_tokens_xoauth2_and_oauthbearer_never_login() {
    let o = OAuthServer::start().unwrap();
    let p = pair(&o);
    seed(&p, 3);
    let tok = o.issue_access_token("user1", Duration::from_secs(600));
    // Dovecot offers both: XOAUTH2 is chosen.
    let r = run_in(
        p.dir.path(),
        &args(&p, None, &["--oauthaccesstoken1", &tok, "--debugimap1"]),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("auth [XOAUTH2]"), "{}", r.show());
    assert_no_secret(&r, &[&tok]);
    p.assert_same();
    // OAUTHBEARER when asked.
    let r = run_in(
        p.dir.path(),
        &args(
            &p,
            None,
            &["--oauthaccesstoken1", &tok, "--authmech1", "OAUTHBEARER"],
        ),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("auth [OAUTHBEARER]"), "{}", r.show());
    // A refused token: a clear auth error, no LOGIN with the token, nothing copied.
    let bad = "at-forged-token";
    let r = run_in(
        p.dir.path(),
        &args(&p, None, &["--oauthaccesstoken1", bad, "--debugimap1"]),
        &[],
    );
    assert_eq!(r.code, 161, "{}", r.show());
    assert!(r.has("Error login on"), "{}", r.show());
    assert!(!r.has(" LOGIN "), "a LOGIN was tried:\n{}", r.show());
    assert_no_secret(&r, &[bad]);
    assert!(r.has("MASKED"), "{}", r.show());
}

#[test]
fn token_file_kept_fresh_by_an_outside_refresher_and_by_the_refresh_command() {
    let o = Arc::new(OAuthServer::start().unwrap());
    let p = pair(&o);
    fill(&p.h1, "user1", "pass1", &corpus()).expect("fill");
    let life = Duration::from_secs(2);
    // 1. The token file alone, rewritten every second by someone else: re-read on every
    //    connection.
    let file = p.dir.path().join("token.txt");
    let proxy = cutting_proxy(&p);
    let refresher = Refresher::start(
        o.clone(),
        "user1",
        file.clone(),
        life,
        Duration::from_secs(1),
    );
    let t0 = Instant::now();
    let r = run_in(
        p.dir.path(),
        &args(
            &p,
            Some(proxy.port()),
            &[
                "--oauthaccesstoken1",
                &file.to_string_lossy(),
                "--connections1",
                "1",
                "--notls1",
            ],
        ),
        &[],
    );
    let took = t0.elapsed();
    let issued = refresher.stop();
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(
        took > 2 * life,
        "the sync should outlive several tokens ({took:?})"
    );
    assert!(r.num("Reconnections to host1") >= 1, "{}", r.show());
    assert!(issued >= 3, "{issued}");
    p.assert_same();
    // 2. The refresh command: run before every authentication, it copies the newest token
    //    (written elsewhere by the refresher) into the token file. Into user3 this time.
    let fresh = p.dir.path().join("fresh.txt");
    let calls = p.dir.path().join("calls");
    let cmd = format!(
        "cp '{}' '{}' && echo x >> '{}'",
        fresh.display(),
        file.display(),
        calls.display()
    );
    std::fs::write(&file, "at-expired-long-ago\n").unwrap();
    let proxy = cutting_proxy(&p);
    let refresher = Refresher::start(o.clone(), "user1", fresh, life, Duration::from_secs(1));
    let mut a = args(
        &p,
        Some(proxy.port()),
        &[
            "--oauthaccesstoken1",
            &file.to_string_lossy(),
            "--oauthrefreshcmd1",
            &cmd,
            "--connections1",
            "1",
            "--notls1",
        ],
    );
    common::set_arg(&mut a, "--user2", "user3");
    common::set_arg(&mut a, "--password2", "pass3");
    let r = run_in(p.dir.path(), &a, &[]);
    refresher.stop();
    assert_eq!(r.code, 0, "{}", r.show());
    let runs = std::fs::read_to_string(&calls)
        .unwrap_or_default()
        .lines()
        .count() as u64;
    assert!(
        runs > r.num("Reconnections to host1"),
        "the command ran {runs} times:\n{}",
        r.show()
    );
    let user3 = snapshot_at(p.h2.host(), p.h2.port(), "user3", "pass3", None).expect("snapshot");
    let diffs = compare(
        &p.snap1(),
        &user3,
        &CompareOptions {
            allow_extra_empty: true,
            ..CompareOptions::default()
        },
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn built_in_refresh_renews_expiring_tokens_mid_run_and_keeps_the_rotated_refresh_token() {
    let o = OAuthServer::start().unwrap();
    let p = pair(&o);
    fill(&p.h1, "user1", "pass1", &corpus()).expect("fill");
    o.add_client("migration-app", Some("app-secret"));
    o.set_rotate_refresh_tokens(true);
    o.set_token_lifetime(Duration::from_secs(2));
    let rt_file = p.dir.path().join("refresh-token");
    let first = o.issue_refresh_token("user1", "migration-app");
    std::fs::write(&rt_file, format!("{first}\n")).unwrap();
    std::fs::set_permissions(&rt_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let proxy = cutting_proxy(&p);
    let t0 = Instant::now();
    let r = run_in(
        p.dir.path(),
        &args(
            &p,
            Some(proxy.port()),
            &[
                "--oauthprovider1",
                &o.url(),
                "--oauthclientid1",
                "migration-app",
                "--oauthclientsecret1",
                "app-secret",
                "--oauthrefreshtoken1",
                &rt_file.to_string_lossy(),
                "--connections1",
                "1",
                "--notls1",
            ],
        ),
        &[],
    );
    let took = t0.elapsed();
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(took > Duration::from_secs(4), "{took:?}");
    let s = o.stats();
    assert!(s.refresh_grants >= 2, "{s:?}\n{}", r.show());
    assert!(r.has("got a new access token"), "{}", r.show());
    assert!(r.num("Reconnections to host1") >= 1, "{}", r.show());
    p.assert_same();
    // The rotated refresh token was written back (0600) and is the live one.
    let now = std::fs::read_to_string(&rt_file).unwrap();
    assert_eq!(o.live_refresh_tokens("user1"), vec![now.trim().to_string()]);
    assert_ne!(now.trim(), first);
    assert_eq!(
        std::fs::metadata(&rt_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_no_secret(&r, &["app-secret", &first, now.trim()]);
}

#[test]
fn app_only_tokens_and_a_revoked_refresh_token() {
    let o = OAuthServer::start().unwrap();
    let p = pair(&o);
    seed(&p, 4);
    // Microsoft 365's admin path: client credentials, the app granted user1's mailbox.
    o.add_client("daemon", Some("daemon-secret"));
    o.grant_app_access("daemon", "user1");
    let r = run_in(
        p.dir.path(),
        &args(
            &p,
            None,
            &[
                "--oauthprovider1",
                &o.url(),
                "--oauthclientid1",
                "daemon",
                "--oauthclientsecret1",
                "daemon-secret",
                "--oauthscope1",
                "imap",
            ],
        ),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(o.stats().client_credentials_grants, 1);
    p.assert_same();
    // A refresh token revoked since: exit 161, the reason told, host2 untouched.
    o.add_client("app", None);
    let rt = o.issue_refresh_token("user1", "app");
    o.revoke_user("user1");
    seed(&p, 1);
    let before = count(&p.snap2());
    let r = run_in(
        p.dir.path(),
        &args(
            &p,
            None,
            &[
                "--oauthprovider1",
                &o.url(),
                "--oauthclientid1",
                "app",
                "--oauthrefreshtoken1",
                &rt,
            ],
        ),
        &[],
    );
    assert_eq!(r.code, 161, "{}", r.show());
    assert!(r.has("invalid_grant"), "{}", r.show());
    assert!(r.has("Token has been expired or revoked"), "{}", r.show());
    assert_eq!(count(&p.snap2()), before);
    assert_no_secret(&r, &[&rt]);
}

#[test]
fn refresh_token_revoked_mid_run_ends_with_an_auth_error_and_loses_nothing() {
    let o = Arc::new(OAuthServer::start().unwrap());
    let p = pair(&o);
    fill(&p.h1, "user1", "pass1", &corpus()).expect("fill");
    o.add_client("app", Some("s"));
    o.set_token_lifetime(Duration::from_secs(2));
    let rt = o.issue_refresh_token("user1", "app");
    let proxy = cutting_proxy(&p);
    // The admin revokes the app's access a moment after the run started.
    let revoker = {
        let o = o.clone();
        std::thread::spawn(move || {
            while o.stats().refresh_grants == 0 {
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(Duration::from_millis(1500));
            o.revoke_user("user1");
        })
    };
    let grant = [
        "--oauthprovider1",
        &o.url(),
        "--oauthclientid1",
        "app",
        "--oauthclientsecret1",
        "s",
        "--oauthrefreshtoken1",
        &rt,
    ];
    let mut a = args(&p, Some(proxy.port()), &grant);
    a.extend(strings(&["--connections1", "1", "--notls1"]));
    let r = run_in(p.dir.path(), &a, &[]);
    revoker.join().unwrap();
    assert_eq!(r.code, 161, "{}", r.show());
    assert!(r.has("Host1 failure: Error login on"), "{}", r.show());
    assert!(r.has("invalid_grant"), "{}", r.show());
    // Nothing lost: what was copied is intact, and a run with a new consent finishes.
    let copied = count(&p.snap2());
    assert!(copied < count(&p.snap1()), "{}", r.show());
    let rt2 = o.issue_refresh_token("user1", "app");
    let mut a = args(&p, None, &grant);
    common::set_arg(&mut a, "--oauthrefreshtoken1", &rt2);
    let r = run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(
        r.num("Messages transferred") as usize + copied,
        count(&p.snap1()),
        "{}",
        r.show()
    );
    p.assert_same();
}

#[test]
fn service_account_assertion_checked_by_the_token_endpoint() {
    let o = OAuthServer::start().unwrap();
    let p = pair(&o);
    seed(&p, 2);
    let key = o
        .service_account("migrator@imapsync-test.iam.gserviceaccount.com")
        .unwrap();
    // imapsync's form: --authmech1 XOAUTH2 with the JSON key file as the password.
    let r = run_in(
        p.dir.path(),
        &args(
            &p,
            None,
            &[
                "--authmech1",
                "XOAUTH2",
                "--password1",
                &key.to_string_lossy(),
            ],
        ),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.show());
    let s = o.stats();
    assert_eq!((s.jwt_grants, s.jwt_rejections.len()), (1, 0), "{s:?}");
    p.assert_same();
    // A key the endpoint does not know: refused with the endpoint's reason, exit 161.
    let other = OAuthServer::start().unwrap();
    let foreign = other
        .service_account("stranger@elsewhere.iam.gserviceaccount.com")
        .unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&foreign).unwrap()).unwrap();
    v["token_uri"] = serde_json::Value::String(o.token_url());
    let forged = p.dir.path().join("forged.json");
    std::fs::write(&forged, v.to_string()).unwrap();
    let r = run_in(
        p.dir.path(),
        &args(
            &p,
            None,
            &[
                "--authmech1",
                "XOAUTH2",
                "--password1",
                &forged.to_string_lossy(),
            ],
        ),
        &[],
    );
    assert_eq!(r.code, 161, "{}", r.show());
    assert!(r.has("unknown service account"), "{}", r.show());
    assert!(!r.has("PRIVATE KEY"), "{}", r.show());
}

/// Runs imapsync with `a`, handing each stdout line to `on_line` while it runs.
fn run_watching(p: &Pair, a: &[String], mut on_line: impl FnMut(&str)) -> (i32, String) {
    let mut child = Command::new(common::bin())
        .args(a)
        .current_dir(p.dir.path())
        .env("HOME", p.dir.path())
        .env("XDG_STATE_HOME", p.dir.path().join("state-home"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn imapsync");
    let out = child.stdout.take().expect("stdout");
    let mut all = String::new();
    for line in BufReader::new(out).lines() {
        let line = line.expect("line");
        on_line(&line);
        all.push_str(&line);
        all.push('\n');
    }
    let code = child.wait().expect("wait").code().unwrap_or(-1);
    (code, all)
}

#[test]
fn device_code_login_saves_a_token_file_for_later_runs() {
    let o = OAuthServer::start().unwrap();
    let p = pair(&o);
    seed(&p, 2);
    o.add_client("desktop-app", None);
    let tf = p.dir.path().join("user1-tokens.json");
    let a = args(
        &p,
        None,
        &[
            "--oauthlogin1",
            "--oauthprovider1",
            &o.url(),
            "--oauthclientid1",
            "desktop-app",
            "--oauthscope1",
            "imap offline_access",
            "--oauthtokenfile1",
            &tf.to_string_lossy(),
        ],
    );
    let mut approved = false;
    let (code, out) = run_watching(&p, &a, |line| {
        // "Host1: To sign in, open URL and enter the code XXXXXXXX"
        if let Some(code) = line.split("enter the code ").nth(1) {
            // The user takes a moment: polls meanwhile are told to wait.
            std::thread::sleep(Duration::from_millis(1500));
            o.approve_device(code.trim(), "user1").expect("approve");
            approved = true;
        }
    });
    assert!(approved, "{out}");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("refresh token saved in"), "{out}");
    assert_eq!(o.stats().device_grants, 1);
    assert!(
        o.stats().device_pending >= 1,
        "polling should have waited for the user"
    );
    p.assert_same();
    assert_eq!(
        std::fs::metadata(&tf).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A later run needs only the token file. The access token it keeps looks valid but the
    // server dropped it: refused once, renewed, tried again on the same connection.
    o.revoke_access_tokens("user1");
    let grants = o.stats().refresh_grants;
    seed(&p, 1);
    let mut a = p.base_args();
    let i = a.iter().position(|x| x == "--password1").unwrap();
    a.drain(i..i + 2);
    a.extend(strings(&["--oauthtokenfile1", &tf.to_string_lossy()]));
    let r = run_in(p.dir.path(), &a, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    assert_eq!(o.stats().refresh_grants, grants + 1, "{}", r.show());
    assert!(r.has("got a new access token"), "{}", r.show());
    assert!(o.stats().introspect_inactive >= 1);
}

#[test]
fn browser_login_with_pkce_and_a_loopback_redirect() {
    let o = OAuthServer::start().unwrap();
    o.set_device_flow(false);
    let p = pair(&o);
    seed(&p, 1);
    o.add_client("installed-app", Some("not-really-secret"));
    let tf = p.dir.path().join("tokens.json");
    let a = args(
        &p,
        None,
        &[
            "--oauthlogin1",
            "--oauthprovider1",
            &o.url(),
            "--oauthclientid1",
            "installed-app",
            "--oauthclientsecret1",
            "not-really-secret",
            "--oauthscope1",
            "imap",
            "--oauthtokenfile1",
            &tf.to_string_lossy(),
        ],
    );
    let mut page = None;
    let (code, out) = run_watching(&p, &a, |line| {
        if line.starts_with("http://127.0.0.1") && line.contains("/authorize?") {
            page = Some(OAuthServer::browse(line.trim()).expect("browser"));
        }
    });
    assert_eq!(code, 0, "{out}");
    assert!(page.is_some_and(|t| t.contains("Signed in")), "{out}");
    assert_eq!(o.stats().code_grants, 1);
    p.assert_same();
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&tf).unwrap()).unwrap();
    assert_eq!(stored["user"], "user1");
    assert!(stored["refresh_token"].as_str().is_some());
}
