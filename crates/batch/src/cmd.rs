//! `imapsync batch ...`: the subcommands, their options, and what each does.

use std::collections::HashMap;
use std::sync::Arc;

use crate::accounts::{self, Account, DefaultHosts};
use crate::plan::{self, Limits, RetryPolicy, RetrySet};
use crate::progress::Display;
use crate::report;
use crate::runner::AccountRunner;
use crate::store::{self, BatchConfig, JobStore, NewJob, StoreError};
use crate::worker::{self, Secrets, WorkerOptions};

/// The job store used when `--store` is not given.
pub const DEFAULT_STORE: &str = "imapsync-batch.sqlite";

pub const HELP: &str = "\
imapsync batch: many accounts, on one machine or several.

  imapsync batch run    --accounts FILE [--store STORE] [--jobs N] [--max-per-host1 N] [--max-per-host2 N]
                        [--stagger SECONDS] [--bandwidth BYTES_PER_SECOND] [--pass NAME]
                        [--retry-failed] [--retry-held] [--retry-refused]
                        [--max-attempts N] [--retry-backoff SECONDS] [--lease SECONDS]
                        [imapsync options for every account]
  imapsync batch status [--store STORE]
  imapsync batch report [--store STORE] --format csv|json|html|failures [--output FILE]
  imapsync batch worker --store postgres://... [--jobs N] [--accounts FILE] [--bandwidth BYTES_PER_SECOND]

STORE is a file (SQLite, default imapsync-batch.sqlite here, created 0600) or a PostgreSQL URL
(postgres://user@host:port/database; the password may be in the URL or in PGPASSWORD). With a
PostgreSQL store the per-account state (UID maps, journal) lives in the same database, so any
worker machine can resume any account; `batch run` is the first worker, `batch worker` adds more.

The account file: imapsync's format, one account a line,
    host1;user1;password1;host2;user2;password2;extra options;
(# comments, blank lines, a trailing ';' allowed; `user1;password1;user2;password2` when
--host1/--host2 are among the options), or CSV with a header (host1,user1,password1,host2,
user2,password2[,passfile1,passfile2,oauthaccesstoken1,oauthaccesstoken2,extra]). A password may
be a reference: file:PATH (passfile), env:NAME, oauth2:TOKENFILE, oauth2-cmd:COMMAND,
plain:TEXT. Inline passwords are never written to the job store.

batch run:
  --jobs N             accounts at once in this process (default 4)
  --max-per-host1 N    simultaneous connections to one host1, over all accounts and workers
  --max-per-host2 N    same for host2 (an account's connections are lowered to fit)
  --stagger SECONDS    between two account starts on one host1 (default 0, 1 for Gmail/Office 365)
  --bandwidth B        total bytes per second of this process's accounts (each gets B/jobs)
  Unless --connections1/2 are given, an account opens 8/jobs connection pairs (at least 1,
  at most imapsync's 4): with many accounts at once the parallelism comes from the accounts.
  --pass NAME          a pass of the migration (e.g. prestage, delta, final): a new name runs
                       every account again; the same name resumes (default: the current one)
  --retry-failed       run again the accounts that ended with errors or could not connect
  --retry-held         run again the accounts held for over quota
  --retry-refused      run again the accounts refused (authentication, options) once fixed
  --max-attempts N     runs per account and pass when it can not connect (default 3)
  --retry-backoff S    first wait before such a retry, doubled each time (default 30)
  --lease SECONDS      how long a claimed account stays a worker's without a heartbeat (60)
  Interrupted (Ctrl-C, kill -9, reboot), the same command resumes: finished accounts are not
  run again, interrupted ones are.

Exit codes of batch run and batch worker:
  0    every account ended without error
  1    some account did not (errors, could not connect, over quota, refused): see
       `imapsync batch status` and `imapsync batch report --format failures`
  64   usage error (batch options, or imapsync options wrong for every account)
  65   the account file has errors (each one is listed; nothing was run)
  66   the account file can not be read
  74   the job store can not be opened or used
  75   another `batch run` uses this job store
  130, 143  interrupted by INT or TERM (run the same command again to resume)
";

/// Runs `imapsync batch ARGS` (ARGS without `batch`); returns the exit code.
pub fn main(args: Vec<String>, runner: Arc<dyn AccountRunner>) -> i32 {
    let Some((sub, rest)) = args.split_first() else {
        print!("{HELP}");
        return 0;
    };
    let rest = rest.to_vec();
    match sub.as_str() {
        "run" => run_cmd(rest, runner),
        "worker" => worker_cmd(rest, runner),
        "status" => status_cmd(rest),
        "report" => report_cmd(rest),
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            0
        }
        other => {
            eprintln!("imapsync batch: unknown command {other:?} (run, status, report, worker)");
            64
        }
    }
}

/// The batch's own options; the rest are imapsync's.
#[derive(Debug, Default)]
struct Opts {
    values: HashMap<String, String>,
    flags: Vec<String>,
    imapsync: Vec<String>,
}

const VALUED: &[&str] = &[
    "accounts",
    "store",
    "jobs",
    "max-per-host1",
    "max-per-host2",
    "stagger",
    "bandwidth",
    "pass",
    "max-attempts",
    "retry-backoff",
    "lease",
    "format",
    "output",
];
const FLAGS: &[&str] = &["retry-failed", "retry-held", "retry-refused", "help"];

fn parse_opts(args: Vec<String>, allowed: &[&str]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let name = a.strip_prefix("--").unwrap_or("");
        let (key, inline) = match name.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (name.to_string(), None),
        };
        if VALUED.contains(&key.as_str()) && allowed.contains(&key.as_str()) {
            let v = match inline {
                Some(v) => v,
                None => it.next().ok_or_else(|| format!("--{key} needs a value"))?,
            };
            o.values.insert(key, v);
        } else if FLAGS.contains(&key.as_str()) && allowed.contains(&key.as_str()) {
            o.flags.push(key);
        } else if allowed.contains(&"imapsync") {
            o.imapsync.push(a);
        } else {
            return Err(format!("unknown option {a}"));
        }
    }
    Ok(o)
}

impl Opts {
    fn get(&self, k: &str) -> Option<&str> {
        self.values.get(k).map(String::as_str)
    }

    fn flag(&self, k: &str) -> bool {
        self.flags.iter().any(|f| f == k)
    }

    fn num<T: std::str::FromStr>(&self, k: &str, min: f64) -> Result<Option<T>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => {
                let ok = v.parse::<f64>().is_ok_and(|f| f >= min && f.is_finite());
                match (ok, v.parse::<T>()) {
                    (true, Ok(x)) => Ok(Some(x)),
                    _ => Err(format!("--{k} {v}: expected a number of at least {min}")),
                }
            }
        }
    }

    fn store(&self) -> String {
        self.get("store").unwrap_or(DEFAULT_STORE).to_string()
    }
}

fn usage(e: impl std::fmt::Display) -> i32 {
    eprintln!("imapsync batch: {e}");
    eprintln!("See imapsync batch --help");
    64
}

fn store_error(e: &StoreError) -> i32 {
    eprintln!("imapsync batch: {e}");
    match e {
        StoreError::Busy { .. } => 75,
        StoreError::Db { .. } => 74,
    }
}

/// A PostgreSQL password given in the URL goes to `PGPASSWORD` so that the URL handed to
/// every account (and shown in its log) has none.
fn hide_pg_password(location: &str) -> String {
    if !imapsync_state::pgconn::is_url(location) {
        return location.to_string();
    }
    if let Some(pw) = imapsync_state::pgconn::url_password(location)
        && std::env::var_os("PGPASSWORD").is_none()
    {
        // SAFETY: called at the start of the batch command, before any thread is started.
        unsafe { std::env::set_var("PGPASSWORD", pw) };
    }
    imapsync_state::pgconn::mask_url(location)
}

/// One worker thread per account at once (and one for the scheduler): the executor calls
/// its state store synchronously, and a file being created or synced there must hold up one
/// account only, not every account of the batch (as separate imapsync processes would not).
fn runtime(jobs: usize) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(jobs.clamp(1, 63) + 1)
        .enable_all()
        .build()
        .map_err(|e| format!("can not start the runtime: {e}"))
}

/// `--host1 X` / `--host1=X` among imapsync options.
fn option_value(opts: &[String], name: &str) -> Option<String> {
    let mut it = opts.iter();
    let mut found = None;
    while let Some(a) = it.next() {
        if a == &format!("--{name}") {
            found = it.next().cloned();
        } else if let Some(v) = a.strip_prefix(&format!("--{name}=")) {
            found = Some(v.to_string());
        }
    }
    found
}

fn read_accounts(path: &str, global: &[String]) -> Result<Vec<Account>, i32> {
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            eprintln!("imapsync batch: can not read the account file {path}: {e}");
            return Err(66);
        }
    };
    let hosts = DefaultHosts {
        host1: option_value(global, "host1"),
        host2: option_value(global, "host2"),
    };
    accounts::parse(&text, &hosts).map_err(|errors| {
        for e in &errors {
            eprintln!("{path}: {e}");
        }
        eprintln!(
            "imapsync batch: {} problem(s) in {path}; nothing was run",
            errors.len()
        );
        65
    })
}

fn secrets_of(accounts: &[Account]) -> Secrets {
    accounts
        .iter()
        .map(|a| (a.key(), (a.secret1.clone(), a.secret2.clone())))
        .collect()
}

/// An account's command line for checking its options: a stand-in password, no secret read.
fn check_args(global: &[String], a: &Account) -> Vec<String> {
    let dummy = plan::SecretArg::Password("x".into());
    plan::account_args(&plan::AccountArgs {
        global,
        host1: &a.host1,
        user1: &a.user1,
        secret1: &dummy,
        host2: &a.host2,
        user2: &a.user2,
        secret2: &dummy,
        extra: &a.extra,
        reserved: None,
        bandwidth: None,
        statedir: None,
    })
}

fn run_cmd(args: Vec<String>, runner: Arc<dyn AccountRunner>) -> i32 {
    let o = match parse_opts(
        args,
        &[
            "accounts",
            "store",
            "jobs",
            "max-per-host1",
            "max-per-host2",
            "stagger",
            "bandwidth",
            "pass",
            "max-attempts",
            "retry-backoff",
            "lease",
            "retry-failed",
            "retry-held",
            "retry-refused",
            "help",
            "imapsync",
        ],
    ) {
        Ok(o) => o,
        Err(e) => return usage(e),
    };
    if o.flag("help") {
        print!("{HELP}");
        return 0;
    }
    let Some(accounts_path) = o.get("accounts").map(str::to_string) else {
        return usage("batch run needs --accounts FILE");
    };
    let location = o.store();
    let shared = imapsync_state::pgconn::is_url(&location);
    let nums = (|| -> Result<_, String> {
        Ok((
            o.num::<usize>("jobs", 1.0)?.unwrap_or(4),
            o.num::<u32>("max-per-host1", 1.0)?,
            o.num::<u32>("max-per-host2", 1.0)?,
            o.num::<f64>("stagger", 0.0)?,
            o.num::<f64>("bandwidth", 1.0)?,
            o.num::<u32>("max-attempts", 1.0)?.unwrap_or(3),
            o.num::<f64>("retry-backoff", 0.0)?.unwrap_or(30.0),
            o.num::<f64>("lease", 1.0)?.unwrap_or(60.0),
        ))
    })();
    let (jobs, cap1, cap2, stagger, bandwidth, max_attempts, backoff, lease) = match nums {
        Ok(n) => n,
        Err(e) => return usage(e),
    };
    for a in &o.imapsync {
        if let Some(why) = plan::refused_option(a, shared, true) {
            return usage(format!("{a} can not be an option of the batch: {why}"));
        }
    }
    let accounts = match read_accounts(&accounts_path, &o.imapsync) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let statedir = shared.then(|| hide_pg_password(&location));
    let store: Arc<dyn JobStore> = match store::open(&location, true) {
        Ok(s) => Arc::from(s),
        Err(e) => return store_error(&e),
    };
    // The options for every account must make sense on their own.
    if let Some(first) = accounts.first() {
        let bare = Account {
            extra: vec![],
            ..first.clone()
        };
        if let Err((64, msg)) = runner.check(&check_args(&o.imapsync, &bare)) {
            eprintln!("{msg}");
            return usage("the imapsync options given for every account are wrong");
        }
    }
    let mut new_jobs = Vec::with_capacity(accounts.len());
    for a in &accounts {
        let refused_extra = a
            .extra
            .iter()
            .find_map(|x| plan::refused_option(x, shared, false).map(|why| format!("{x}: {why}")));
        let (conns, refused) = match (refused_extra, runner.check(&check_args(&o.imapsync, a))) {
            (Some(why), _) => (1, Some(why)),
            (None, Ok(c)) => (
                plan::account_pairs(
                    c.connections,
                    plan::sets_connections(o.imapsync.iter().chain(&a.extra)),
                    jobs,
                ),
                None,
            ),
            (None, Err((_, msg))) => (1, Some(msg)),
        };
        new_jobs.push(NewJob {
            key: a.key(),
            line: a.line,
            host1: a.host1.clone(),
            user1: a.user1.clone(),
            secret1: a.secret1.stored(),
            host2: a.host2.clone(),
            user2: a.user2.clone(),
            secret2: a.secret2.stored(),
            extra: a.extra.clone(),
            conns,
            refused,
        });
    }
    let previous = match store.config() {
        Ok(c) => c,
        Err(e) => return store_error(&e),
    };
    let pass = o
        .get("pass")
        .map(str::to_string)
        .or_else(|| previous.as_ref().map(|c| c.pass.clone()))
        .unwrap_or_else(|| "main".into());
    let cfg = BatchConfig {
        pass: pass.clone(),
        options: o.imapsync.clone(),
        limits: Limits {
            max_per_host1: cap1,
            max_per_host2: cap2,
            stagger,
        },
        retry: RetryPolicy {
            max_attempts,
            backoff_base: backoff,
        },
        lease,
        accounts_file: std::fs::canonicalize(&accounts_path)
            .ok()
            .map(|p| p.display().to_string()),
    };
    let retry = RetrySet {
        failed: o.flag("retry-failed"),
        held: o.flag("retry-held"),
        refused: o.flag("retry-refused"),
    };
    let display = Arc::new(Display::stdout());
    if !store.shared() {
        match store.recover_all() {
            Ok(0) => {}
            Ok(n) => display.line(&format!(
                "batch: {n} accounts were running when the last batch stopped: they run again"
            )),
            Err(e) => return store_error(&e),
        }
    }
    let imported = match store
        .save_config(&cfg)
        .and_then(|()| store.import(&new_jobs, &pass, retry))
    {
        Ok(i) => i,
        Err(e) => return store_error(&e),
    };
    display.line(&format!(
        "batch: {} accounts in {accounts_path} (new {}, to run again {}, as they were {}), job store {}, pass {pass:?}, {jobs} at once",
        accounts.len(),
        imported.added,
        imported.restarted,
        imported.kept,
        store.shown(),
    ));
    let opts = WorkerOptions {
        jobs,
        bandwidth,
        id: worker::worker_id(),
        statedir,
    };
    work_and_report(
        store,
        runner,
        cfg,
        opts,
        Arc::new(secrets_of(&accounts)),
        display,
    )
}

fn work_and_report(
    store: Arc<dyn JobStore>,
    runner: Arc<dyn AccountRunner>,
    cfg: BatchConfig,
    opts: WorkerOptions,
    secrets: Arc<Secrets>,
    display: Arc<Display>,
) -> i32 {
    let rt = match runtime(opts.jobs) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("imapsync batch: {e}");
            return 1;
        }
    };
    let started = std::time::Instant::now();
    let end = rt.block_on(worker::work(
        store.clone(),
        runner,
        cfg,
        opts,
        secrets,
        display.clone(),
    ));
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    let counts = match store.counts() {
        Ok(c) => c,
        Err(e) => return store_error(&e),
    };
    let jobs = store.jobs().unwrap_or_default();
    let transferred: u64 = jobs.iter().map(|j| j.transferred).sum();
    let bytes: u64 = jobs.iter().map(|j| j.bytes).sum();
    let wall = started.elapsed().as_secs_f64();
    let by: Vec<String> = plan::JobState::ALL
        .iter()
        .filter_map(|s| counts.get(s).map(|n| format!("{} {n}", s.as_str())))
        .collect();
    display.line(&format!(
        "batch: {} accounts: {}; {} messages, {} transferred over all accounts; this process ended {} account runs in {}",
        jobs.len(),
        by.join(", "),
        transferred,
        report::bytes(bytes),
        end.finished,
        report::duration(wall)
    ));
    let code = plan::batch_exit(&counts, end.signal);
    if code == 1 {
        display.line(&format!(
            "batch: see `imapsync batch status{}`; accounts to run again: `imapsync batch report{} --format failures`",
            store_arg(&store.shown()),
            store_arg(&store.shown())
        ));
    }
    display.line(&format!("batch: exiting with return value {code}"));
    code
}

fn store_arg(shown: &str) -> String {
    if shown == DEFAULT_STORE {
        String::new()
    } else {
        format!(" --store {shown}")
    }
}

fn worker_cmd(args: Vec<String>, runner: Arc<dyn AccountRunner>) -> i32 {
    let o = match parse_opts(args, &["store", "jobs", "accounts", "bandwidth", "help"]) {
        Ok(o) => o,
        Err(e) => return usage(e),
    };
    if o.flag("help") {
        print!("{HELP}");
        return 0;
    }
    let location = o.store();
    if !imapsync_state::pgconn::is_url(&location) {
        return usage(
            "batch worker needs --store postgres://...: on one machine, `batch run` is the worker",
        );
    }
    let (jobs, bandwidth) = match (o.num::<usize>("jobs", 1.0), o.num::<f64>("bandwidth", 1.0)) {
        (Ok(j), Ok(b)) => (j.unwrap_or(4), b),
        (Err(e), _) | (_, Err(e)) => return usage(e),
    };
    let statedir = hide_pg_password(&location);
    let store: Arc<dyn JobStore> = match store::open(&location, false) {
        Ok(s) => Arc::from(s),
        Err(e) => return store_error(&e),
    };
    let cfg = match store.config() {
        Ok(Some(c)) => c,
        Ok(None) => {
            eprintln!(
                "imapsync batch: no batch in {} yet: start it with `imapsync batch run --store ... --accounts FILE`",
                store.shown()
            );
            return 74;
        }
        Err(e) => return store_error(&e),
    };
    let secrets = match o.get("accounts") {
        Some(p) => match read_accounts(p, &cfg.options) {
            Ok(a) => secrets_of(&a),
            Err(code) => return code,
        },
        None => Secrets::new(),
    };
    let display = Arc::new(Display::stdout());
    display.line(&format!(
        "batch: worker on {}, pass {:?}, {jobs} at once",
        store.shown(),
        cfg.pass
    ));
    let opts = WorkerOptions {
        jobs,
        bandwidth,
        id: worker::worker_id(),
        statedir: Some(statedir),
    };
    work_and_report(store, runner, cfg, opts, Arc::new(secrets), display)
}

fn status_cmd(args: Vec<String>) -> i32 {
    let o = match parse_opts(args, &["store", "help"]) {
        Ok(o) => o,
        Err(e) => return usage(e),
    };
    if o.flag("help") {
        print!("{HELP}");
        return 0;
    }
    let store = match store::open(&o.store(), false) {
        Ok(s) => s,
        Err(e) => return store_error(&e),
    };
    let (jobs, cfg, now) = match (store.jobs(), store.config(), store.now()) {
        (Ok(j), Ok(c), Ok(n)) => (j, c, n),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return store_error(&e),
    };
    print!(
        "{}",
        report::status(&jobs, cfg.as_ref(), &store.shown(), now)
    );
    0
}

fn report_cmd(args: Vec<String>) -> i32 {
    let o = match parse_opts(args, &["store", "format", "output", "help"]) {
        Ok(o) => o,
        Err(e) => return usage(e),
    };
    if o.flag("help") {
        print!("{HELP}");
        return 0;
    }
    let Some(format) = o.get("format") else {
        return usage("batch report needs --format csv|json|html|failures");
    };
    if !["csv", "json", "html", "failures"].contains(&format) {
        return usage(format!(
            "--format {format}: expected csv, json, html or failures"
        ));
    }
    let store = match store::open(&o.store(), false) {
        Ok(s) => s,
        Err(e) => return store_error(&e),
    };
    let (jobs, cfg, now) = match (store.jobs(), store.config(), store.now()) {
        (Ok(j), Ok(c), Ok(n)) => (j, c, n),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return store_error(&e),
    };
    let shown = store.shown();
    let text = match format {
        "csv" => report::csv(&jobs),
        "json" => report::json(&jobs, cfg.as_ref(), &shown),
        "html" => {
            let events = match store.events() {
                Ok(e) => e,
                Err(e) => return store_error(&e),
            };
            report::html(&jobs, &events, cfg.as_ref(), &shown, now)
        }
        _ => {
            let original = cfg
                .as_ref()
                .and_then(|c| c.accounts_file.as_ref())
                .and_then(|p| std::fs::read_to_string(p).ok());
            report::failures(&jobs, original.as_deref())
        }
    };
    match o.get("output") {
        None => {
            print!("{text}");
            0
        }
        Some(path) => {
            use std::io::Write;
            // Reports name accounts (and a failures list may hold their passwords): 0600.
            let written = imapsync_state::private_file(std::path::Path::new(path), true)
                .and_then(|mut f| f.write_all(text.as_bytes()));
            match written {
                Ok(()) => {
                    eprintln!("imapsync batch: wrote {path}");
                    0
                }
                Err(e) => {
                    eprintln!("imapsync batch: can not write {path}: {e}");
                    74
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_options_and_imapsync_options_are_told_apart() {
        let o = parse_opts(
            [
                "--accounts",
                "f.txt",
                "--jobs=8",
                "--nofoldersizes",
                "--exclude",
                "Junk",
                "--retry-failed",
                "--max-per-host1",
                "3",
            ]
            .map(String::from)
            .to_vec(),
            &[
                "accounts",
                "jobs",
                "max-per-host1",
                "retry-failed",
                "imapsync",
            ],
        )
        .expect("parses");
        assert_eq!(o.get("accounts"), Some("f.txt"));
        assert_eq!(o.num::<usize>("jobs", 1.0), Ok(Some(8)));
        assert_eq!(o.num::<u32>("max-per-host1", 1.0), Ok(Some(3)));
        assert!(o.flag("retry-failed"));
        assert_eq!(o.imapsync, ["--nofoldersizes", "--exclude", "Junk"]);
        assert!(parse_opts(vec!["--jobs".into()], &["jobs"]).is_err());
        assert!(parse_opts(vec!["--bogus".into()], &["store"]).is_err());
        let z = parse_opts(vec!["--jobs".into(), "0".into()], &["jobs"]).expect("parses");
        assert!(z.num::<usize>("jobs", 1.0).is_err());
        assert_eq!(
            option_value(&["--host1".into(), "a".into(), "--host1=b".into()], "host1"),
            Some("b".into())
        );
    }

    #[test]
    fn a_url_password_moves_out_of_the_url() {
        assert_eq!(hide_pg_password("x.sqlite"), "x.sqlite");
        let shown = hide_pg_password("postgres://u@h/db");
        assert_eq!(shown, "postgres://u@h/db");
    }
}
