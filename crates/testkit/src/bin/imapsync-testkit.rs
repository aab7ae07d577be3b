//! `imapsync-testkit`: the test kit for shell scripts (demo, benchmark).
//!
//! ```text
//! imapsync-testkit serve --layout slash|dot|gmail|exchange [--mail-dir DIR] [--fsync never]
//!                        [--state-file F] [--var-prefix P] [--compress] [--remove-cap CAP]...
//!                        [--add-cap CAP]... [--quota-kib N] [--max-mail-size BYTES] [--users N]
//! imapsync-testkit serve --server cyrus-slash|cyrus-dot|courier [--state-file F] [--var-prefix P]
//! imapsync-testkit fill --port P [--host H] --user U --pass W --preset small|bench
//!                        [--messages N] [--folders F] [--seed S] [--connections C]
//! imapsync-testkit snapshot --port P [--host H] --user U --pass W [--sep C --prefix X] [--full]
//! imapsync-testkit verify --port1 P --user1 U --pass1 W [--host1 H] [--sep1 C --prefix1 X]
//!                         --port2 P --user2 U --pass2 W [--host2 H] [--sep2 C --prefix2 X]
//!                         [--map A=B]... [--ignore NAME]... [--no-flags] [--no-dates]
//!                         [--allow-extra-empty]
//! ```
//! Exit status: 0 success, 1 `verify` found differences, 2 usage or runtime error.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use imapsync_testkit::corpus::{Corpus, CorpusSpec};
use imapsync_testkit::fill::{FillOptions, fill_with};
use imapsync_testkit::verify::{CompareOptions, compare, digest_text, record, snapshot_at};
use imapsync_testkit::{Dovecot, Flavour, Layout};

const USAGE: &str = "usage:
  imapsync-testkit proxy --target HOST:PORT [--latency-ms MS] [--state-file F] [--var-prefix P]
                         (a delay line: MS each way, so a round trip costs 2*MS)
  imapsync-testkit mutate --port P [--host H] --user U --pass W [--new N] [--flag-changes M]
                          [--seed S]   (N new messages and M flag changes, deterministic)
  imapsync-testkit serve --layout slash|dot|gmail|exchange [--mail-dir DIR] [--fsync never]
                         [--state-file F] [--var-prefix P] [--compress] [--remove-cap CAP]...
                         [--add-cap CAP]... [--quota-kib N] [--max-mail-size BYTES]
                         [--users N]   (also acct1..acctN, password pass-acct<i>)
  imapsync-testkit serve --server cyrus-slash|cyrus-dot|courier [--state-file F] [--var-prefix P]
  imapsync-testkit fill --port P [--host H] --user U --pass W --preset small|bench
                         [--messages N] [--folders F] [--seed S] [--connections C]
  imapsync-testkit snapshot --port P [--host H] --user U --pass W [--sep C --prefix X] [--full]
  imapsync-testkit verify --port1 P --user1 U --pass1 W [--host1 H] [--sep1 C --prefix1 X]
                          --port2 P --user2 U --pass2 W [--host2 H] [--sep2 C --prefix2 X]
                          [--map A=B]... [--ignore NAME]... [--no-flags] [--no-dates]
                          [--allow-extra-empty]";

/// Parsed `--key value` options (repeatable) and `--flag`s.
struct Args {
    values: BTreeMap<String, Vec<String>>,
    flags: Vec<String>,
}

const FLAGS: &[&str] = &[
    "compress",
    "full",
    "no-flags",
    "no-dates",
    "allow-extra-empty",
    "help",
];

impl Args {
    fn parse(raw: &[String]) -> Result<Args> {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut flags = Vec::new();
        let mut it = raw.iter();
        while let Some(a) = it.next() {
            let Some(key) = a.strip_prefix("--") else {
                bail!("unexpected argument {a:?}");
            };
            if let Some((k, v)) = key.split_once('=') {
                values.entry(k.to_string()).or_default().push(v.to_string());
            } else if FLAGS.contains(&key) {
                flags.push(key.to_string());
            } else {
                let v = it.next().ok_or_else(|| anyhow!("--{key} needs a value"))?;
                values.entry(key.to_string()).or_default().push(v.clone());
            }
        }
        Ok(Args { values, flags })
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.values
            .get(k)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    fn all(&self, k: &str) -> Vec<String> {
        self.values.get(k).cloned().unwrap_or_default()
    }

    fn req(&self, k: &str) -> Result<&str> {
        self.get(k).ok_or_else(|| anyhow!("missing --{k}"))
    }

    fn num<T: std::str::FromStr>(&self, k: &str) -> Result<Option<T>> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| anyhow!("--{k}: not a number: {v:?}")),
        }
    }

    fn flag(&self, k: &str) -> bool {
        self.flags.iter().any(|f| f == k)
    }

    /// `--sepN C --prefixN X` namespace override.
    fn namespace(&self, suffix: &str) -> Result<Option<(String, char)>> {
        let sep = self.get(&format!("sep{suffix}"));
        let prefix = self.get(&format!("prefix{suffix}"));
        match (sep, prefix) {
            (None, None) => Ok(None),
            (Some(s), p) => {
                let mut ch = s.chars();
                let (Some(c), None) = (ch.next(), ch.next()) else {
                    bail!("--sep{suffix} must be one character");
                };
                Ok(Some((p.unwrap_or("").to_string(), c)))
            }
            (None, Some(_)) => bail!("--prefix{suffix} needs --sep{suffix}"),
        }
    }
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = raw.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let args = match Args::parse(rest) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("imapsync-testkit: {e:#}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let res = match cmd.as_str() {
        "serve" => serve(&args),
        "fill" => fill_cmd(&args),
        "snapshot" => snapshot_cmd(&args),
        "verify" => verify_cmd(&args),
        "proxy" => proxy_cmd(&args),
        "mutate" => mutate_cmd(&args),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(anyhow!("unknown command {other:?}")),
    };
    match res {
        Ok(c) => c,
        Err(e) => {
            eprintln!("imapsync-testkit {cmd}: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Waits for SIGTERM, SIGINT or SIGHUP.
fn wait_for_signal() -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = hup.recv() => {}
        }
        anyhow::Ok(())
    })
}

fn write_state(a: &Args, state: &str) -> Result<()> {
    if let Some(f) = a.get("state-file") {
        let tmp = format!("{f}.tmp");
        std::fs::write(&tmp, state).with_context(|| format!("writing {tmp}"))?;
        std::fs::rename(&tmp, f).with_context(|| format!("writing {f}"))?;
    }
    print!("{state}");
    std::io::stdout().flush()?;
    Ok(())
}

/// `serve --server cyrus-slash|cyrus-dot|courier`: a non-Dovecot server of the matrix.
fn serve_other(a: &Args, flavour: Flavour) -> Result<ExitCode> {
    for o in [
        "mail-dir",
        "fsync",
        "remove-cap",
        "add-cap",
        "quota-kib",
        "max-mail-size",
    ] {
        if a.get(o).is_some() {
            bail!("--{o} is only available for Dovecot servers");
        }
    }
    if a.flag("compress") {
        bail!("--compress is only available for Dovecot servers");
    }
    let server = flavour.start()?;
    let p = a.get("var-prefix").unwrap_or("");
    let state = format!(
        "{p}HOST={}\n{p}PORT={}\n{p}TLS_PORT={}\n{p}CA_PATH={}\n{p}LAYOUT={}\n{p}PID={}\n",
        server.host(),
        server.port(),
        server.tls_port(),
        server.ca_cert_path().display(),
        flavour.name(),
        std::process::id(),
    );
    write_state(a, &state)?;
    wait_for_signal()?;
    drop(server);
    if let Some(f) = a.get("state-file") {
        let _ = std::fs::remove_file(f);
    }
    eprintln!("imapsync-testkit serve: stopped");
    Ok(ExitCode::SUCCESS)
}

fn serve(a: &Args) -> Result<ExitCode> {
    if let Some(name) = a.get("server") {
        let flavour = Flavour::parse(name).ok_or_else(|| {
            anyhow!(
                "unknown server {name:?} ({})",
                Flavour::ALL.map(Flavour::name).join("|")
            )
        })?;
        match flavour {
            Flavour::Dovecot(_) if a.get("layout").is_some() => {
                bail!("give either --server or --layout")
            }
            Flavour::Dovecot(l) => return serve_dovecot(a, l),
            other => return serve_other(a, other),
        }
    }
    let layout_name = a.req("layout")?;
    let layout = Layout::parse(layout_name)
        .ok_or_else(|| anyhow!("unknown layout {layout_name:?} (slash|dot|gmail|exchange)"))?;
    serve_dovecot(a, layout)
}

fn serve_dovecot(a: &Args, layout: Layout) -> Result<ExitCode> {
    let mut b = Dovecot::builder(layout);
    if let Some(d) = a.get("mail-dir") {
        b = b.mail_dir(d);
    }
    match a.get("fsync") {
        None => {}
        Some("never") => b = b.fsync_never(),
        Some(o) => bail!("--fsync: only `never` is supported, got {o:?}"),
    }
    if a.flag("compress") {
        b = b.compress(true);
    }
    for c in a.all("remove-cap") {
        b = b.remove_capability(&c);
    }
    for c in a.all("add-cap") {
        b = b.add_capability(&c);
    }
    if let Some(k) = a.num::<u64>("quota-kib")? {
        b = b.quota_storage_kib(k);
    }
    if let Some(m) = a.num::<u64>("max-mail-size")? {
        b = b.max_mail_size(m);
    }
    // Many accounts (batch benchmarks): acct1..acctN with password pass-acct<i>.
    for i in 1..=a.num::<u32>("users")?.unwrap_or(0) {
        b = b.user(&format!("acct{i}"), &format!("pass-acct{i}"));
    }
    let mut server = b.start()?;
    let p = a.get("var-prefix").unwrap_or("");
    let state = format!(
        "{p}HOST={}\n{p}PORT={}\n{p}TLS_PORT={}\n{p}CA_PATH={}\n{p}LOG_PATH={}\n{p}MAIL_DIR={}\n{p}LAYOUT={}\n{p}PID={}\n{p}MASTER_PID={}\n",
        server.host(),
        server.port(),
        server.tls_port(),
        server.ca_cert_path().display(),
        server.log_path().display(),
        server.mail_root().display(),
        layout.name(),
        std::process::id(),
        server.master_pid().unwrap_or(0),
    );
    write_state(a, &state)?;
    wait_for_signal()?;
    server.stop()?;
    if let Some(f) = a.get("state-file") {
        let _ = std::fs::remove_file(f);
    }
    eprintln!("imapsync-testkit serve: stopped");
    Ok(ExitCode::SUCCESS)
}

fn fill_cmd(a: &Args) -> Result<ExitCode> {
    let host = a.get("host").unwrap_or("127.0.0.1");
    let port: u16 = a.num("port")?.ok_or_else(|| anyhow!("missing --port"))?;
    let (user, pass) = (a.req("user")?, a.req("pass")?);
    let mut spec = match a.req("preset")? {
        "small" => CorpusSpec::small(),
        "bench" => CorpusSpec::bench(10_000, 25),
        o => bail!("unknown preset {o:?} (small|bench)"),
    };
    if let Some(n) = a.num("messages")? {
        spec.messages = n;
    }
    if let Some(f) = a.num("folders")? {
        spec.folders = f;
    }
    if let Some(s) = a.num("seed")? {
        spec.seed = s;
    }
    let t = std::time::Instant::now();
    let corpus = Corpus::generate(&spec);
    let gen_time = t.elapsed();
    let mut opts = FillOptions::default();
    if let Some(c) = a.num("connections")? {
        opts.connections = c;
    }
    let r = fill_with(host, port, user, pass, &corpus, &opts)?;
    println!(
        "filled {} messages ({:.1} MB) into {} folders over {} connections in {:.2} s: {:.0} msg/s, {:.1} MB/s (corpus generated in {:.2} s)",
        r.messages,
        r.bytes as f64 / 1e6,
        r.folders,
        r.connections,
        r.elapsed.as_secs_f64(),
        r.msgs_per_sec(),
        r.mb_per_sec(),
        gen_time.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn snapshot_cmd(a: &Args) -> Result<ExitCode> {
    let host = a.get("host").unwrap_or("127.0.0.1");
    let port: u16 = a.num("port")?.ok_or_else(|| anyhow!("missing --port"))?;
    let s = snapshot_at(host, port, a.req("user")?, a.req("pass")?, a.namespace("")?)?;
    let mut out = std::io::stdout().lock();
    if a.flag("full") {
        for (name, msgs) in &s {
            let mut recs: Vec<String> = msgs.iter().map(record).collect();
            recs.sort();
            for r in recs {
                writeln!(out, "{name}\t{r}")?;
            }
        }
    }
    out.write_all(digest_text(&s).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn verify_cmd(a: &Args) -> Result<ExitCode> {
    let side = |n: &str| -> Result<imapsync_testkit::Snapshot> {
        let host = a.get(&format!("host{n}")).unwrap_or("127.0.0.1");
        let port: u16 = a
            .num(&format!("port{n}"))?
            .ok_or_else(|| anyhow!("missing --port{n}"))?;
        snapshot_at(
            host,
            port,
            a.req(&format!("user{n}"))?,
            a.req(&format!("pass{n}"))?,
            a.namespace(n)?,
        )
        .with_context(|| format!("host{n}"))
    };
    let s1 = side("1")?;
    let s2 = side("2")?;
    let mut opts = CompareOptions {
        flags: !a.flag("no-flags"),
        dates: !a.flag("no-dates"),
        allow_extra_empty: a.flag("allow-extra-empty"),
        ignore: a.all("ignore"),
        ..CompareOptions::default()
    };
    for m in a.all("map") {
        let (from, to) = m
            .split_once('=')
            .ok_or_else(|| anyhow!("--map wants FROM=TO, got {m:?}"))?;
        opts.map.push((from.to_string(), to.to_string()));
    }
    let diffs = compare(&s1, &s2, &opts);
    let n1: usize = s1.values().map(Vec::len).sum();
    let n2: usize = s2.values().map(Vec::len).sum();
    if diffs.is_empty() {
        println!(
            "OK: host1 and host2 match ({} folders, {n1} messages on host1; {} folders, {n2} messages on host2)",
            s1.len(),
            s2.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for d in &diffs {
        println!("DIFF {d}");
    }
    println!(
        "FAILED: {} differences (host1 {n1} messages, host2 {n2} messages)",
        diffs.len()
    );
    Ok(ExitCode::from(1))
}

/// `proxy`: a latency proxy in front of a server, until SIGTERM.
fn proxy_cmd(a: &Args) -> Result<ExitCode> {
    let target = a.req("target")?.to_string();
    let ms: u64 = a.num("latency-ms")?.unwrap_or(0);
    let faults = imapsync_testkit::Faults::new().latency(std::time::Duration::from_millis(ms));
    let proxy = imapsync_testkit::FaultProxy::start(target.as_str(), faults)?;
    let p = a.get("var-prefix").unwrap_or("");
    let state = format!("{p}PORT={}\n{p}PID={}\n", proxy.port(), std::process::id());
    if let Some(f) = a.get("state-file") {
        let tmp = format!("{f}.tmp");
        std::fs::write(&tmp, &state).with_context(|| format!("writing {tmp}"))?;
        std::fs::rename(&tmp, f).with_context(|| format!("writing {f}"))?;
    }
    print!("{state}");
    std::io::stdout().flush()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        anyhow::Ok(())
    })?;
    drop(proxy);
    Ok(ExitCode::SUCCESS)
}

/// `mutate`: deterministic changes on a mailbox for the benchmark's delta scenario: N new
/// messages spread over the folders, M flag changes on existing messages.
fn mutate_cmd(a: &Args) -> Result<ExitCode> {
    let host = a.get("host").unwrap_or("127.0.0.1");
    let port: u16 = a
        .num("port")?
        .ok_or_else(|| anyhow!("--port is required"))?;
    let user = a.req("user")?;
    let pass = a.req("pass")?;
    let new: usize = a.num("new")?.unwrap_or(100);
    let changes: usize = a.num("flag-changes")?.unwrap_or(500);
    let seed: u64 = a.num("seed")?.unwrap_or(7);
    let mut rng = imapsync_testkit::prng::Rng::new(seed);
    let mut c = imapsync_testkit::TestImap::connect_login(host, port, user, pass)?;
    let folders: Vec<String> = c
        .list()?
        .into_iter()
        .filter(|e| e.selectable())
        .map(|e| e.name)
        .collect();
    if folders.is_empty() {
        bail!("no folder");
    }
    for i in 0..new {
        let f = &folders[(rng.next_u64() % folders.len() as u64) as usize];
        let body = format!(
            "From: delta@example.org\r\nTo: you@example.org\r\nSubject: delta {i}\r\nDate: Tue, 02 Jan 2024 10:00:00 +0000\r\nMessage-ID: <delta-{seed}-{i}@example.org>\r\n\r\nnew message {i}\r\n"
        );
        c.append(f, &["$Delta"], None, body.as_bytes())?;
    }
    let flags = ["\\Flagged", "\\Answered", "$Forwarded", "$Label7"];
    let mut done = 0usize;
    let mut attempts = 0usize;
    while done < changes && attempts < changes * 10 {
        attempts += 1;
        let f = &folders[(rng.next_u64() % folders.len() as u64) as usize];
        let sel = c.select(f)?;
        if sel.exists == 0 {
            continue;
        }
        let uids = c.uid_search("ALL")?;
        if uids.is_empty() {
            continue;
        }
        let uid = uids[(rng.next_u64() % uids.len() as u64) as usize];
        let flag = flags[(rng.next_u64() % flags.len() as u64) as usize];
        let mode = if rng.next_u64().is_multiple_of(2) {
            "+FLAGS.SILENT"
        } else {
            "-FLAGS.SILENT"
        };
        c.store_flags(&uid.to_string(), mode, &[flag])?;
        done += 1;
    }
    println!("mutate: {new} new messages, {done} flag changes");
    let _ = c.logout();
    Ok(ExitCode::SUCCESS)
}
