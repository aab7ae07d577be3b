//! The command line: Getopt::Long rules, usage errors and their exit codes, help, version,
//! options not implemented yet, password sources, secrets never printed.

mod common;

use common::{Pair, run_in, strings};
use imapsync_testkit::Layout;

fn run(args: &[&str]) -> common::Run {
    let dir = tempfile::tempdir().expect("tempdir");
    run_in(dir.path(), &strings(args), &[])
}

#[test]
fn no_argument_prints_usage_and_exits_0() {
    let r = run(&[]);
    assert_eq!(r.code, 0);
    assert!(r.out.contains("--host1"), "{}", r.show());
    let r = run(&["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.out.contains("--regextrans2"));
    let r = run(&["--version"]);
    assert_eq!(r.code, 0);
    assert!(
        r.out
            .trim()
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit()),
        "{}",
        r.show()
    );
}

#[test]
fn unknown_option_ambiguous_prefix_and_stray_argument_exit_64() {
    let r = run(&["--host1", "h", "--bogus"]);
    assert_eq!(r.code, 64, "{}", r.show());
    assert!(r.err.contains("Unknown option: bogus"), "{}", r.show());
    let r = run(&["--del"]);
    assert_eq!(r.code, 64, "{}", r.show());
    assert!(r.err.contains("ambiguous"), "{}", r.show());
    let r = run(&["--host1", "h", "stray"]);
    assert_eq!(r.code, 64, "{}", r.show());
    assert!(r.err.contains("extra argument"), "{}", r.show());
    let r = run(&["--maxsize", "lots"]);
    assert_eq!(r.code, 64, "{}", r.show());
}

#[test]
fn option_not_implemented_stops_before_connecting() {
    // Port 1 is never listened on: had it tried to connect, it would report a connection
    // failure instead.
    let r = run(&[
        "--host1",
        "127.0.0.1",
        "--port1",
        "1",
        "--user1",
        "a",
        "--password1",
        "x",
        "--host2",
        "127.0.0.1",
        "--port2",
        "1",
        "--user2",
        "b",
        "--password2",
        "y",
        "--testslive",
    ]);
    assert_eq!(r.code, 64, "{}", r.show());
    assert!(
        r.err.contains(
            "option --testslive is not supported: in imapsync it syncs between the imapsync author's public test accounts"
        ),
        "{}",
        r.show()
    );
}

#[test]
fn missing_passfile_exits_66() {
    let r = run(&[
        "--host1",
        "127.0.0.1",
        "--user1",
        "a",
        "--passfile1",
        "/nonexistent/pass",
        "--host2",
        "127.0.0.1",
        "--user2",
        "b",
        "--password2",
        "y",
    ]);
    assert_eq!(r.code, 66, "{}", r.show());
    assert!(r.err.contains("passfile1"), "{}", r.show());
}

#[test]
fn getopt_rules_case_prefixes_single_dash_and_underscores_against_a_real_run() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let mut c = p.imap1();
    c.append(
        "INBOX",
        &[],
        None,
        &common::message("a", "a", &"x".repeat(3000)),
    )
    .expect("append");
    c.append("INBOX", &[], None, &common::message("b", "b", "small"))
        .expect("append");
    // -HOST1 style: one dash, upper case, abbreviations (--justf is ambiguous but --maxsi is
    // not), `_` in numbers, --opt=value.
    let args = vec![
        "-HOST1".to_string(),
        p.h1.host().into(),
        format!("--Port1={}", p.h1.port()),
        "--user1".into(),
        "user1".into(),
        "--password1".into(),
        "pass1".into(),
        "--host2".into(),
        p.h2.host().into(),
        "--port2".into(),
        p.h2.port().to_string(),
        "--user2".into(),
        "user2".into(),
        "--password2".into(),
        "pass2".into(),
        "--sslargs1".into(),
        format!("SSL_ca_file={}", p.h1.ca_cert_path().display()),
        "--sslargs2".into(),
        format!("SSL_ca_file={}", p.h2.ca_cert_path().display()),
        "--maxsi".into(),
        "2_000".into(),
        "--nofoldersizes".into(),
    ];
    let r = run_in(p.dir.path(), &args, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
}

#[test]
fn passwords_from_file_and_environment_are_never_printed() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let weird = imapsync_testkit::WEIRD_PASSWORD;
    let passfile = p.dir.path().join("pass1");
    std::fs::write(&passfile, format!("{weird}\n")).expect("write passfile");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let args = vec![
        "--host1".to_string(),
        p.h1.host().into(),
        "--port1".into(),
        p.h1.port().to_string(),
        "--user1".into(),
        "weird".into(),
        "--passfile1".into(),
        passfile.display().to_string(),
        "--host2".into(),
        p.h2.host().into(),
        "--port2".into(),
        p.h2.port().to_string(),
        "--user2".into(),
        "weird".into(),
        "--sslargs1".into(),
        format!("SSL_ca_file={}", p.h1.ca_cert_path().display()),
        "--sslargs2".into(),
        format!("SSL_ca_file={}", p.h2.ca_cert_path().display()),
        "--debugimap".into(),
    ];
    let r = run_in(p.dir.path(), &args, &[("IMAPSYNC_PASSWORD2", weird)]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(
        r.has("readable by group or others"),
        "no passfile permission warning:\n{}",
        r.show()
    );
    assert!(
        !r.out.contains(weird) && !r.err.contains(weird),
        "password printed:\n{}",
        r.show()
    );
    assert!(!r.out.contains("sp ace"), "part of the password printed");
    assert!(r.out.contains("LOGIN MASKED"), "{}", r.show());
    // The log file has the same content: no password either.
    let logs = std::fs::read_dir(p.dir.path().join("LOG_imapsync")).expect("log dir");
    for e in logs.flatten() {
        let text = std::fs::read_to_string(e.path()).expect("log");
        assert!(!text.contains(weird), "password in the log file");
        use std::os::unix::fs::PermissionsExt;
        let mode = e.metadata().expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "log file mode");
    }
    // And on the command line echo.
    let r = p.run(&["--justlogin", "--password1", "hunter2secret"]);
    assert!(!r.out.contains("hunter2secret"), "{}", r.show());
    assert!(r.out.contains("--password1 MASKED"), "{}", r.show());
}

#[test]
fn missing_user_means_justconnect() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    let args = strings(&[
        "--host1",
        p.h1.host(),
        "--port1",
        &p.h1.port().to_string(),
        "--host2",
        p.h2.host(),
        "--port2",
        &p.h2.port().to_string(),
        "--sslargs1",
        "SSL_verify_mode=0",
        "--sslargs2",
        "SSL_verify_mode=0",
    ]);
    let r = run_in(p.dir.path(), &args, &[]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert!(r.has("connecting only"), "{}", r.show());
    assert!(r.has("Host1 banner"), "{}", r.show());
}

#[test]
fn planted_symlinks_for_log_and_pid_files_are_not_followed() {
    let p = Pair::new(Layout::Slash, Layout::Slash);
    p.imap1()
        .append("INBOX", &[], None, &common::message("s1", "s", "s"))
        .expect("append");
    let victim = p.dir.path().join("victim");
    std::fs::write(&victim, "precious\n").expect("victim");
    let log = p.dir.path().join("planted.log");
    let pid = p.dir.path().join("planted.pid");
    std::os::unix::fs::symlink(&victim, &log).expect("symlink");
    std::os::unix::fs::symlink(&victim, &pid).expect("symlink");
    let (log_s, pid_s) = (log.display().to_string(), pid.display().to_string());
    let r = p.run(&["--logdir", "", "--logfile", &log_s, "--pidfile", &pid_s]);
    // The planted links are refused, not followed: a log file that can not be opened is a
    // warning, a pidfile that can not be written ends the run before any connection (exit 8,
    // as imapsync).
    assert_eq!(r.code, 8, "{}", r.show());
    assert!(r.has("can not open log file"), "{}", r.show());
    assert!(
        r.has("Could not open") && r.has("for writing"),
        "{}",
        r.show()
    );
    assert!(!r.has("connecting and login"), "{}", r.show());
    // Without the pidfile, the sync goes on with the log warning only.
    let r = p.run(&["--logdir", "", "--logfile", &log_s, "--pidfile", ""]);
    assert_eq!(r.code, 0, "{}", r.show());
    assert_eq!(r.num("Messages transferred"), 1, "{}", r.show());
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious\n"
    );
    assert!(
        std::fs::symlink_metadata(&pid)
            .expect("pid link")
            .file_type()
            .is_symlink()
    );
}
