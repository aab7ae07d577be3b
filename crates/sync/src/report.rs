//! imapsync's statistics block (spec §4.1): same labels, same order, same alignment.

use imapsync_plan::display::{bytes_display_string_bin, localtimez_local, stat_line};

use crate::stats::Stats;

/// What the block needs besides the counters.
#[derive(Clone, Debug, Default)]
pub struct ReportInput {
    pub started: f64,
    pub ended: f64,
    pub dry: bool,
    pub justfolders: bool,
    pub nb_errors: u64,
    pub cpu_seconds: f64,
    pub rss_mib: f64,
    pub start_rss_mib: f64,
    pub sizes: Option<((i64, i64), (i64, i64))>,
    /// The release check's line (`--releasecheck`).
    pub release_line: Option<String>,
}

/// The statistics lines.
pub fn statistics(st: &Stats, r: &ReportInput) -> Vec<String> {
    let elapsed = (r.ended - r.started).max(0.0);
    let mut l = vec!["++++ Statistics".to_string()];
    l.extend(
        transfer_lines(st, r, elapsed)
            .iter()
            .map(|(k, v)| stat_line(k, v)),
    );
    l.extend(
        resource_lines(st, r, elapsed)
            .iter()
            .map(|(k, v)| stat_line(k, v)),
    );
    if !r.justfolders {
        l.extend(verdict_lines(st));
    }
    l.push(format!("Detected {} errors", r.nb_errors));
    l.push(String::new());
    l.push(r.release_line.clone().unwrap_or_else(|| {
        "Check if a new imapsync release is available by adding --releasecheck".into()
    }));
    l.push("Homepage: https://imapsync.lamiral.info/".into());
    l
}

fn bytes(n: u64) -> String {
    format!("{n} ({})", bytes_display_string_bin(n as f64))
}

fn per_second(v: f64, elapsed: f64) -> f64 {
    if elapsed > 0.0 { v / elapsed } else { 0.0 }
}

/// Times, folders and messages.
fn transfer_lines(st: &Stats, r: &ReportInput, elapsed: f64) -> Vec<(&'static str, String)> {
    let dry = if r.dry {
        " (not really since --dry mode)"
    } else {
        ""
    };
    let transferred = if r.dry {
        format!(
            "{} (could be {} without dry mode)",
            st.transferred, st.transferred_dry
        )
    } else {
        format!("{} ", st.transferred)
    };
    let mut l = vec![
        ("Transfer started on", localtimez_local(r.started)),
        ("Transfer ended on", localtimez_local(r.ended)),
        ("Transfer time", format!("{elapsed:.1} sec")),
        (
            "Folders synced",
            format!("{}/{} synced", st.folders_synced, st.folders_wanted),
        ),
        (
            "Folders deleted on host2",
            format!("{}{dry}", st.folders_deleted2),
        ),
    ];
    if st.folders_delete_failed2 > 0 {
        l.push((
            "Folders failed to be deleted on host2",
            st.folders_delete_failed2.to_string(),
        ));
    }
    l.extend([
        ("Messages transferred", transferred),
        ("Messages skipped", st.skipped.to_string()),
    ]);
    if st.too_big > 0 {
        // Per message above, summed here (--maxsize, APPENDLIMIT, refused by host2).
        l.push((
            "Messages skipped as too big",
            format!("{} messages, {}", st.too_big, bytes(st.bytes_too_big)),
        ));
    }
    l.extend([
        ("Messages found duplicate on host1", st.dup1.to_string()),
        ("Messages found duplicate on host2", st.dup2.to_string()),
        (
            "Messages found crossduplicate on host2",
            st.crossdup2.to_string(),
        ),
        (
            "Messages void (noheader) on host1",
            st.noheader1.to_string(),
        ),
        (
            "Messages void (noheader) on host2",
            st.noheader2.to_string(),
        ),
        (
            "Messages found in host1 not in host2",
            format!("{} messages", st.missing),
        ),
        (
            "Messages found in host2 not in host1",
            format!("{} messages", st.extra),
        ),
        ("Messages deleted on host1", st.deleted1.to_string()),
        ("Messages deleted on host2", st.deleted2.to_string()),
        ("Total bytes transferred", bytes(st.bytes_transferred)),
        ("Total bytes skipped", bytes(st.bytes_skipped)),
        (
            "Message rate",
            format!(
                "{:.1} messages/s",
                per_second(st.transferred as f64, elapsed)
            ),
        ),
        (
            "Average bandwidth rate",
            format!(
                "{:.1} KiB/s",
                per_second(st.bytes_transferred as f64 / 1024.0, elapsed)
            ),
        ),
        ("Reconnections to host1", st.reconnect1.to_string()),
        ("Reconnections to host2", st.reconnect2.to_string()),
    ]);
    l
}

/// Memory, load, CPU, sizes.
fn resource_lines(st: &Stats, r: &ReportInput, elapsed: f64) -> Vec<(&'static str, String)> {
    let pct = 100.0 * per_second(r.cpu_seconds, elapsed);
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let ratio = if st.biggest_transferred > 0 {
        format!(
            "{:.1}",
            r.rss_mib * 1024.0 * 1024.0 / st.biggest_transferred as f64
        )
    } else {
        "NA".into()
    };
    let mut l = vec![
        (
            "Memory consumption at the end",
            format!(
                "{:.1} MiB (started with {:.1} MiB)",
                r.rss_mib, r.start_rss_mib
            ),
        ),
        ("Load end is", load_line()),
        (
            "CPU time and %cpu",
            format!(
                "{:.2} sec {:.1} %cpu {:.1} %allcpus",
                r.cpu_seconds,
                pct,
                pct / ncpu
            ),
        ),
        (
            "Biggest message transferred",
            format!(
                "{} bytes ({})",
                st.biggest_transferred,
                bytes_display_string_bin(st.biggest_transferred as f64)
            ),
        ),
        ("Memory/biggest message ratio", ratio),
    ];
    if let Some(((sm, sb), (em, eb))) = r.sizes {
        l.push((
            "Start difference host2 - host1",
            format!("{sm} messages, {sb} bytes ({})", signed_bytes(sb)),
        ));
        l.push((
            "Final difference host2 - host1",
            format!("{em} messages, {eb} bytes ({})", signed_bytes(eb)),
        ));
    }
    l
}

/// "The sync looks good / is strict" sentences.
fn verdict_lines(st: &Stats) -> Vec<String> {
    let mut l = Vec::new();
    let (n1, n2, missing, extra) = (st.identified1, st.identified2, st.missing, st.extra);
    if n1 > 0 {
        l.push(if missing == 0 {
            format!("The sync looks good, all {n1} identified messages in host1 are on host2.")
        } else {
            format!(
                "The sync is not finished, there are {missing} among {n1} identified messages in host1 that are not on host2."
            )
        });
    }
    l.push(if st.noheader1 == 0 {
        "There is no unidentified message on host1.".into()
    } else {
        format!(
            "There are {} unidentified messages on host1 (no Message-Id nor Received header, usually Sent or Draft messages). They were synced anyway, identified by their whole header and tracked in the state store.",
            st.noheader1
        )
    });
    l.push(if extra == 0 {
        format!("The sync is strict, all {n2} identified messages in host2 are on host1.")
    } else {
        format!(
            "The sync is not strict, there are {extra} among {n2} identified messages in host2 that are not on host1. Use --delete2 and sync again to delete them and have a strict sync."
        )
    });
    l
}

fn signed_bytes(b: i64) -> String {
    if b < 0 {
        format!("-{}", bytes_display_string_bin(b.unsigned_abs() as f64))
    } else {
        bytes_display_string_bin(b as f64)
    }
}

fn load_line() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let fields: Vec<&str> = load.split_whitespace().take(3).collect();
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{} on {ncpu} cores", fields.join(" "))
}

/// Resident memory of this process in MiB (Linux), 0 when unknown.
pub fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("VmRSS:") {
            let kb: f64 = v
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(0.0);
            return kb / 1024.0;
        }
    }
    0.0
}

/// CPU time (user + system) of this process in seconds.
pub fn cpu_seconds() -> f64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a rusage struct into the pointer we pass.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) };
    if rc != 0 {
        return 0.0;
    }
    // SAFETY: getrusage succeeded, so the struct is initialised.
    let ru = unsafe { ru.assume_init() };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}
