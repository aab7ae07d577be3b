//! Every rule of the batch in one pure, table-tested place: what an account's exit code means
//! for it (done, retried, held, refused), when it may start (per-host connection caps,
//! staggered starts, back-off), how many connections it may open, the imapsync command line
//! it runs with, and the batch's own exit code. The scheduler and the stores only carry
//! these decisions out.

use std::collections::HashMap;

/// Where an account stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    /// To run in the current pass.
    Pending,
    /// Claimed by a worker, under a lease.
    Running,
    /// Ended without error.
    Done,
    /// Ended with errors (some messages or folders): a retry pass may fix them.
    Errors,
    /// Could not connect: retried automatically after a back-off.
    Retry,
    /// Could not connect, attempts exhausted.
    Failed,
    /// Host2 is over quota: held for the operator (`--retry-held` once space is made).
    Held,
    /// Authentication or usage error: reported, never retried by itself.
    Refused,
}

impl JobState {
    pub const ALL: [JobState; 8] = [
        JobState::Pending,
        JobState::Running,
        JobState::Done,
        JobState::Errors,
        JobState::Retry,
        JobState::Failed,
        JobState::Held,
        JobState::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Errors => "errors",
            JobState::Retry => "retry",
            JobState::Failed => "failed",
            JobState::Held => "held",
            JobState::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|j| j.as_str() == s)
    }

    /// Nothing more happens to it in this pass without the operator.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            JobState::Pending | JobState::Running | JobState::Retry
        )
    }
}

/// What imapsync's exit code says about an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitClass {
    Ok,
    /// Could not connect (10, 101, 102), or the account's state store was busy (8).
    Connection,
    /// Authentication, TLS, usage or input errors: running again changes nothing.
    Terminal,
    OverQuota,
    /// Finished, with errors.
    WithErrors,
    /// Stopped by a signal (128+n), by the abort file (7) or by the batch itself.
    Interrupted,
}

/// imapsync's exit codes, classified.
pub fn classify(code: i32) -> ExitClass {
    match code {
        0 => ExitClass::Ok,
        8 | 10 | 101 | 102 => ExitClass::Connection,
        12 | 16 | 21 | 64 | 66 | 70 | 161 | 162 => ExitClass::Terminal,
        113 => ExitClass::OverQuota,
        6 | 7 | 129..=192 => ExitClass::Interrupted,
        _ => ExitClass::WithErrors,
    }
}

/// The state an account goes to after a run that exited with `code`; `attempts` counts the
/// run that just ended. A retry comes with its delay in seconds.
pub fn verdict(code: i32, attempts: u32, policy: &RetryPolicy) -> (JobState, Option<f64>) {
    match classify(code) {
        ExitClass::Ok => (JobState::Done, None),
        ExitClass::Connection if attempts < policy.max_attempts => (
            JobState::Retry,
            Some(backoff(attempts, policy.backoff_base)),
        ),
        ExitClass::Connection => (JobState::Failed, None),
        ExitClass::Terminal => (JobState::Refused, None),
        ExitClass::OverQuota => (JobState::Held, None),
        ExitClass::WithErrors => (JobState::Errors, None),
        ExitClass::Interrupted => (JobState::Pending, None),
    }
}

/// Automatic retries of accounts that could not connect.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Runs per account and pass before it is `failed`.
    pub max_attempts: u32,
    /// First back-off in seconds; doubled at each attempt, at most [`MAX_BACKOFF`].
    pub backoff_base: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            backoff_base: 30.0,
        }
    }
}

/// Longest wait before a retry, seconds.
pub const MAX_BACKOFF: f64 = 900.0;

/// Wait before retry number `attempt` (1-based): base, 2·base, 4·base, ... capped.
pub fn backoff(attempt: u32, base: f64) -> f64 {
    (base * 2f64.powi(attempt.saturating_sub(1).min(20) as i32)).min(MAX_BACKOFF)
}

/// Which non-finished accounts a new `batch run` of the same pass starts again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetrySet {
    /// `errors` and `failed` (`--retry-failed`).
    pub failed: bool,
    /// `held` (`--retry-held`).
    pub held: bool,
    /// `refused` (`--retry-refused`, after fixing credentials).
    pub refused: bool,
}

impl RetrySet {
    /// Does a rerun start an account in `state` again?
    pub fn restarts(&self, state: JobState) -> bool {
        match state {
            JobState::Errors | JobState::Failed => self.failed,
            JobState::Held => self.held,
            JobState::Refused => self.refused,
            // Resumed anyway (a running one was interrupted: nobody holds it any more).
            JobState::Pending | JobState::Retry | JobState::Running => true,
            JobState::Done => false,
        }
    }
}

/// Connection limits and pacing for the whole batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    /// Simultaneous connections to one host1 (all accounts, all workers).
    pub max_per_host1: Option<u32>,
    /// Same for host2.
    pub max_per_host2: Option<u32>,
    /// Seconds between two account starts on one host1; `None` = the provider's default.
    pub stagger: Option<f64>,
}

/// What we know of a big provider (from its documentation): how many connections one account
/// may have, and how far apart to start accounts against it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Provider {
    pub name: &'static str,
    /// Simultaneous IMAP connections one account may open.
    pub connections_per_account: Option<u32>,
    /// Default seconds between two account starts on this host.
    pub stagger: f64,
}

const PROVIDERS: &[(&str, Provider)] = &[
    (
        "imap.gmail.com",
        Provider {
            name: "Gmail",
            // Google: at most 15 simultaneous IMAP connections per account.
            connections_per_account: Some(15),
            stagger: 1.0,
        },
    ),
    (
        "outlook.office365.com",
        Provider {
            name: "Office 365",
            connections_per_account: None,
            stagger: 1.0,
        },
    ),
];

/// The provider behind a host name (`host` or `host:port`).
pub fn provider(host: &str) -> Option<Provider> {
    let name = host_name(host);
    PROVIDERS.iter().find(|(h, _)| *h == name).map(|(_, p)| *p)
}

/// The name part of `host`, `host:port`, `[v6]:port`, lowercased.
pub fn host_name(host: &str) -> String {
    let h = host.trim().to_ascii_lowercase();
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_string();
    }
    match h.split_once(':') {
        Some((name, port)) if !port.contains(':') => name.to_string(),
        _ => h,
    }
}

/// The key per-host caps and staggering count under: the host as written, lowercased (two
/// servers on one address with different ports are different servers).
pub fn host_key(host: &str) -> String {
    host.trim().to_ascii_lowercase()
}

impl Limits {
    fn cap(&self, side: u8) -> Option<u32> {
        if side == 1 {
            self.max_per_host1
        } else {
            self.max_per_host2
        }
    }

    /// Seconds between two starts on `host1`.
    pub fn stagger_for(&self, host1: &str) -> f64 {
        self.stagger
            .unwrap_or_else(|| provider(host1).map_or(0.0, |p| p.stagger))
            .max(0.0)
    }

    /// Connection pairs an account may open: what it asks for (`wanted`, the smaller of its
    /// `--connections1/2`), within the per-host caps and the providers' per-account limits.
    pub fn reservation(&self, wanted: u32, host1: &str, host2: &str) -> u32 {
        let mut r = wanted.max(1);
        for c in [self.max_per_host1, self.max_per_host2]
            .into_iter()
            .flatten()
        {
            r = r.min(c);
        }
        for h in [host1, host2] {
            if let Some(n) = provider(h).and_then(|p| p.connections_per_account) {
                r = r.min(n);
            }
        }
        r.max(1)
    }
}

/// An account that could be started now.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub host1: String,
    pub host2: String,
    /// Connection pairs it asks for.
    pub conns: u32,
    /// Not before this time (back-off), UNIX seconds.
    pub not_before: Option<f64>,
}

/// Connections in use per host and the last start per host1, over every worker.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostLoad {
    /// `(side, host key)` → connection pairs reserved by running accounts.
    pub used: HashMap<(u8, String), u32>,
    /// host1 key → time of the last account start.
    pub last_start: HashMap<String, f64>,
}

/// The scheduler's choice.
#[derive(Clone, Debug, PartialEq)]
pub enum Pick {
    /// Start candidate `index` with `reserved` connection pairs.
    Take { index: usize, reserved: u32 },
    /// Nothing can start before `seconds` (infinite: when some running account ends).
    Wait { seconds: f64 },
    /// No candidate at all.
    Nothing,
}

/// The first candidate (in order) that fits under the caps now, else how long to wait.
pub fn pick(cands: &[Candidate], load: &HostLoad, limits: &Limits, now: f64) -> Pick {
    if cands.is_empty() {
        return Pick::Nothing;
    }
    let mut wait = f64::INFINITY;
    'cands: for (index, c) in cands.iter().enumerate() {
        if let Some(nb) = c.not_before
            && nb > now
        {
            wait = wait.min(nb - now);
            continue;
        }
        let reserved = limits.reservation(c.conns, &c.host1, &c.host2);
        for (side, host) in [(1u8, &c.host1), (2u8, &c.host2)] {
            if let Some(cap) = limits.cap(side) {
                let used = load.used.get(&(side, host_key(host))).copied().unwrap_or(0);
                if used + reserved > cap {
                    continue 'cands;
                }
            }
        }
        let stagger = limits.stagger_for(&c.host1);
        if let Some(last) = load.last_start.get(&host_key(&c.host1))
            && now - last < stagger
        {
            wait = wait.min(last + stagger - now);
            continue;
        }
        return Pick::Take { index, reserved };
    }
    Pick::Wait { seconds: wait }
}

/// Connection pairs a batch keeps busy per side when the accounts leave it to the batch: with
/// many accounts at once the parallelism comes from the accounts, and every extra connection
/// of a small account costs a login and a server process for little work.
pub const BATCH_PAIRS: u32 = 8;

/// Connection pairs an account runs with: what its options ask for when they say
/// (`--connections1/2`), else its default lowered so that `jobs` accounts together keep about
/// [`BATCH_PAIRS`] pairs (4 accounts at once: 2 pairs each; 8 or more: 1).
pub fn account_pairs(asked: u32, explicit: bool, jobs: usize) -> u32 {
    let asked = asked.max(1);
    if explicit {
        return asked;
    }
    let share = BATCH_PAIRS / u32::try_from(jobs.max(1)).unwrap_or(u32::MAX);
    asked.min(share.max(1))
}

/// Do these imapsync options set the connections (`--connections1`, `--connections2`)?
pub fn sets_connections<'a>(args: impl IntoIterator<Item = &'a String>) -> bool {
    args.into_iter()
        .any(|a| a.starts_with('-') && a.trim_start_matches('-').starts_with("connections"))
}

/// Per-account `--maxbytespersecond` that keeps `jobs` accounts of one process under a total
/// of `total` bytes per second.
pub fn per_account_bandwidth(total: Option<f64>, jobs: usize) -> Option<f64> {
    total
        .filter(|t| *t > 0.0)
        .map(|t| (t / jobs.max(1) as f64).floor().max(1.0))
}

/// How the password of one side reaches imapsync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretArg {
    Password(String),
    Passfile(String),
    /// An access token, or a file holding one.
    OAuth2(String),
}

impl SecretArg {
    fn push(&self, side: u8, out: &mut Vec<String>) {
        let (opt, v) = match self {
            SecretArg::Password(p) => ("password", p),
            SecretArg::Passfile(f) => ("passfile", f),
            SecretArg::OAuth2(t) => ("oauthaccesstoken", t),
        };
        out.push(format!("--{opt}{side}"));
        out.push(v.clone());
    }
}

/// Everything that decides one account's imapsync command line.
#[derive(Clone, Debug)]
pub struct AccountArgs<'a> {
    /// imapsync options of the batch, for every account.
    pub global: &'a [String],
    pub host1: &'a str,
    pub user1: &'a str,
    pub secret1: &'a SecretArg,
    pub host2: &'a str,
    pub user2: &'a str,
    pub secret2: &'a SecretArg,
    /// The account's own extra options (they win over the batch's).
    pub extra: &'a [String],
    /// Connection pairs it was given (under the caps); `None` leaves its own.
    pub reserved: Option<u32>,
    /// Per-account share of the bandwidth cap.
    pub bandwidth: Option<f64>,
    /// The shared state database (PostgreSQL), when the job store is one.
    pub statedir: Option<&'a str>,
}

/// The account's imapsync command line: the batch's options, the account, its extra options,
/// then what the batch imposes (the connection pairs it reserved for it, bandwidth share,
/// shared state).
pub fn account_args(a: &AccountArgs<'_>) -> Vec<String> {
    let mut v: Vec<String> = a.global.to_vec();
    for (side, host, user, secret) in [
        (1u8, a.host1, a.user1, a.secret1),
        (2u8, a.host2, a.user2, a.secret2),
    ] {
        v.push(format!("--host{side}"));
        v.push(host.to_string());
        v.push(format!("--user{side}"));
        v.push(user.to_string());
        secret.push(side, &mut v);
    }
    v.extend(a.extra.iter().cloned());
    if let Some(r) = a.reserved {
        for side in [1, 2] {
            v.push(format!("--connections{side}"));
            v.push(r.to_string());
        }
    }
    if let Some(b) = a.bandwidth {
        v.push("--maxbytespersecond".into());
        v.push(format!("{b}"));
    }
    if let Some(s) = a.statedir {
        v.push("--statedir".into());
        v.push(s.to_string());
    }
    v
}

/// Options the batch refuses among the options for every account (`global`) or an account's
/// extras. Passwords in there would be written to the job store (use the account file or
/// references); the rest are the batch's to decide.
pub fn refused_option(arg: &str, shared_state: bool, global: bool) -> Option<&'static str> {
    let name = arg.trim_start_matches('-');
    let name = name.split('=').next().unwrap_or(name);
    const SECRETS: &[&str] = &[
        "password1",
        "password2",
        "oauthaccesstoken1",
        "oauthaccesstoken2",
        "oauthdirect1",
        "oauthdirect2",
    ];
    if !arg.starts_with('-') {
        return None;
    }
    if SECRETS.contains(&name) {
        return Some(
            "passwords and tokens are given per account in the account file (inline, or file:/env:/oauth2: references), never as options the job store would keep",
        );
    }
    if global && name == "logfile" {
        return Some("every account would write the same log file; give --logdir instead");
    }
    if shared_state && (name == "statedir" || name == "tmpdir") {
        return Some(
            "with a PostgreSQL job store the per-account state lives in the same database (that is how another machine resumes an account)",
        );
    }
    None
}

/// Counts of accounts per state.
pub type Counts = HashMap<JobState, u64>;

/// The batch's exit code: 0 when every account is done, 1 when some ended otherwise (see the
/// report), 128+n when a signal stopped the batch.
pub fn batch_exit(counts: &Counts, signal: Option<i32>) -> i32 {
    if let Some(s) = signal {
        return 128 + s;
    }
    let not_done: u64 = counts
        .iter()
        .filter(|(s, _)| **s != JobState::Done)
        .map(|(_, n)| n)
        .sum();
    if not_done == 0 { 0 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_and_what_becomes_of_the_account() {
        let p = RetryPolicy {
            max_attempts: 3,
            backoff_base: 10.0,
        };
        let table: &[(i32, u32, JobState, Option<f64>)] = &[
            (0, 1, JobState::Done, None),
            (10, 1, JobState::Retry, Some(10.0)),
            (101, 2, JobState::Retry, Some(20.0)),
            (102, 3, JobState::Failed, None),
            (8, 1, JobState::Retry, Some(10.0)),
            (161, 1, JobState::Refused, None),
            (162, 1, JobState::Refused, None),
            (16, 1, JobState::Refused, None),
            (12, 1, JobState::Refused, None),
            (64, 1, JobState::Refused, None),
            (66, 1, JobState::Refused, None),
            (21, 1, JobState::Refused, None),
            (113, 1, JobState::Held, None),
            (111, 1, JobState::Errors, None),
            (114, 1, JobState::Errors, None),
            (115, 1, JobState::Errors, None),
            (116, 1, JobState::Errors, None),
            (117, 1, JobState::Errors, None),
            (118, 1, JobState::Errors, None),
            (119, 1, JobState::Errors, None),
            (120, 1, JobState::Errors, None),
            (1, 1, JobState::Errors, None),
            (130, 1, JobState::Pending, None),
            (143, 1, JobState::Pending, None),
            (131, 1, JobState::Pending, None),
            (7, 1, JobState::Pending, None),
        ];
        for &(code, attempts, state, delay) in table {
            assert_eq!(
                verdict(code, attempts, &p),
                (state, delay),
                "exit {code}, attempt {attempts}"
            );
        }
        assert_eq!(backoff(1, 30.0), 30.0);
        assert_eq!(backoff(3, 30.0), 120.0);
        assert_eq!(backoff(30, 30.0), MAX_BACKOFF);
    }

    #[test]
    fn what_a_rerun_starts_again() {
        let none = RetrySet::default();
        let failed = RetrySet {
            failed: true,
            ..RetrySet::default()
        };
        let all = RetrySet {
            failed: true,
            held: true,
            refused: true,
        };
        for (state, by_none, by_failed, by_all) in [
            (JobState::Pending, true, true, true),
            (JobState::Running, true, true, true),
            (JobState::Retry, true, true, true),
            (JobState::Done, false, false, false),
            (JobState::Errors, false, true, true),
            (JobState::Failed, false, true, true),
            (JobState::Held, false, false, true),
            (JobState::Refused, false, false, true),
        ] {
            assert_eq!(none.restarts(state), by_none, "{state:?}");
            assert_eq!(failed.restarts(state), by_failed, "{state:?}");
            assert_eq!(all.restarts(state), by_all, "{state:?}");
        }
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
    }

    fn cand(h1: &str, h2: &str, conns: u32) -> Candidate {
        Candidate {
            host1: h1.into(),
            host2: h2.into(),
            conns,
            not_before: None,
        }
    }

    #[test]
    fn caps_stagger_and_backoff_decide_who_starts() {
        let limits = Limits {
            max_per_host1: Some(4),
            max_per_host2: Some(6),
            stagger: Some(2.0),
        };
        let mut load = HostLoad::default();
        load.used.insert((1, "a".into()), 3);
        load.used.insert((2, "z".into()), 6);
        load.last_start.insert("b".into(), 99.0);
        let cands = vec![
            // host1 a has 1 pair left: the account is capped to 4 pairs, 3 used: no.
            cand("A", "y", 4),
            // host2 z is full.
            cand("c", "Z", 1),
            // b started 1 s ago, stagger 2 s.
            cand("b", "y", 1),
            // backing off until t=105.
            Candidate {
                not_before: Some(105.0),
                ..cand("d", "y", 1)
            },
            // fits, one pair left on a.
            cand("a", "y", 1),
        ];
        assert_eq!(
            pick(&cands, &load, &limits, 100.0),
            Pick::Take {
                index: 4,
                reserved: 1
            }
        );
        assert_eq!(
            pick(&cands[..4], &load, &limits, 100.0),
            Pick::Wait { seconds: 1.0 }
        );
        assert_eq!(
            pick(&cands[..2], &load, &limits, 100.0),
            Pick::Wait {
                seconds: f64::INFINITY
            }
        );
        assert_eq!(pick(&[], &load, &limits, 100.0), Pick::Nothing);
        // Once b's stagger is over, b starts; past its back-off, d.
        assert_eq!(
            pick(&cands[..4], &load, &limits, 101.0),
            Pick::Take {
                index: 2,
                reserved: 1
            }
        );
        assert_eq!(
            pick(&cands[3..4], &load, &limits, 105.0),
            Pick::Take {
                index: 0,
                reserved: 1
            }
        );
    }

    #[test]
    fn reservations_respect_caps_and_providers() {
        let l = Limits {
            max_per_host1: Some(2),
            ..Limits::default()
        };
        assert_eq!(l.reservation(4, "h", "k"), 2);
        assert_eq!(l.reservation(1, "h", "k"), 1);
        let none = Limits::default();
        assert_eq!(none.reservation(4, "h", "k"), 4);
        assert_eq!(none.reservation(16, "imap.gmail.com:993", "k"), 15);
        assert_eq!(none.reservation(16, "h", "IMAP.Gmail.com"), 15);
        assert_eq!(none.reservation(0, "h", "k"), 1);
        assert_eq!(none.stagger_for("imap.gmail.com"), 1.0);
        assert_eq!(none.stagger_for("outlook.office365.com"), 1.0);
        assert_eq!(none.stagger_for("mail.example"), 0.0);
        let given = Limits {
            stagger: Some(0.0),
            ..Limits::default()
        };
        assert_eq!(given.stagger_for("imap.gmail.com"), 0.0);
        assert_eq!(host_name("[::1]:993"), "::1");
        assert_eq!(host_name("Imap.X:143"), "imap.x");
        assert_eq!(host_key(" 127.0.0.1:1430 "), "127.0.0.1:1430");
    }

    #[test]
    fn the_command_line_of_an_account() {
        let global = vec![
            "--nofoldersizes".to_string(),
            "--maxsize".into(),
            "100".into(),
        ];
        let extra = vec!["--maxsize".to_string(), "50".into()];
        let s1 = SecretArg::Password("p1".into());
        let s2 = SecretArg::Passfile("/p2".into());
        let mut a = AccountArgs {
            global: &global,
            host1: "h1:1430",
            user1: "u1",
            secret1: &s1,
            host2: "h2",
            user2: "u2",
            secret2: &s2,
            extra: &extra,
            reserved: None,
            bandwidth: None,
            statedir: None,
        };
        assert_eq!(
            account_args(&a).join(" "),
            "--nofoldersizes --maxsize 100 --host1 h1:1430 --user1 u1 --password1 p1 --host2 h2 --user2 u2 --passfile2 /p2 --maxsize 50"
        );
        a.reserved = Some(2);
        a.bandwidth = per_account_bandwidth(Some(1000.0), 3);
        a.statedir = Some("postgres://db/x");
        assert!(account_args(&a).join(" ").ends_with(
            "--maxsize 50 --connections1 2 --connections2 2 --maxbytespersecond 333 --statedir postgres://db/x"
        ));
        assert_eq!(per_account_bandwidth(None, 3), None);
        assert_eq!(per_account_bandwidth(Some(0.0), 3), None);
    }

    #[test]
    fn connection_pairs_of_an_account_in_a_batch() {
        for (asked, explicit, jobs, pairs) in [
            (4, false, 1, 4),
            (4, false, 2, 4),
            (4, false, 4, 2),
            (4, false, 8, 1),
            (4, false, 16, 1),
            (4, true, 8, 4),
            (2, false, 3, 2),
            (0, false, 4, 1),
        ] {
            assert_eq!(
                account_pairs(asked, explicit, jobs),
                pairs,
                "{asked} {explicit} {jobs}"
            );
        }
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(sets_connections(&args(&["--connections1", "2"])));
        assert!(sets_connections(&args(&["-connections2=3"])));
        assert!(!sets_connections(&args(&["--exclude", "connections"])));
    }

    #[test]
    fn options_the_batch_keeps_for_itself() {
        assert!(refused_option("--password1", false, true).is_some());
        assert!(refused_option("--password2=x", false, false).is_some());
        assert!(refused_option("--oauthaccesstoken1", false, false).is_some());
        assert!(refused_option("--statedir", true, false).is_some());
        assert!(refused_option("--statedir", false, true).is_none());
        assert!(refused_option("--passfile1", false, true).is_none());
        assert!(refused_option("password1", false, true).is_none());
        assert!(refused_option("--logfile", false, true).is_some());
        assert!(refused_option("--logfile", false, false).is_none());
    }

    #[test]
    fn the_batch_exit_code() {
        let mut c = Counts::new();
        c.insert(JobState::Done, 10);
        assert_eq!(batch_exit(&c, None), 0);
        assert_eq!(batch_exit(&c, Some(2)), 130);
        c.insert(JobState::Held, 1);
        assert_eq!(batch_exit(&c, None), 1);
        assert_eq!(batch_exit(&Counts::new(), None), 0);
    }
}
