//! Client-side throttling and the transfer ceiling.
//!
//! imapsync limits its own pace with **average** rates measured from the moment the folder
//! loop starts (not from the first copy): after each successful APPEND it computes how long
//! it would have to sleep for the average message rate (`--maxmessagespersecond`) and the
//! average byte rate (`--maxbytespersecond`, counting only bytes beyond `--maxbytesafter`) to
//! come back under the limits, takes the larger of the two, caps it with `--maxsleep`
//! (default 2 s, 0 disables throttling) and rounds it to hundredths of a second
//! ([`sleep_if_needed`]). Nothing is computed at all unless one of the two rates is set
//! (any non-zero value, even negative, counts as set; a non-positive rate then yields no
//! sleep).
//!
//! SIGUSR1 flips `--maxsleep` between 0 and 2 ([`toggle_sleep`]).
//!
//! `--exitwhenover N` ends the sync, recording an error, as soon as the transferred bytes
//! reach N ([`total_bytes_max_reached`]). A provider's daily limit ([`DailyLimit`], Gmail's
//! under `--gmail1`/`--gmail2`) is such a ceiling by default, and the stop says when to run
//! again.

/// Default `--maxsleep`, seconds.
pub const DEFAULT_MAXSLEEP: f64 = 2.0;

/// Throttling options.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ThrottleLimits {
    /// `--maxmessagespersecond` (0 or absent: off).
    pub maxmessagespersecond: Option<f64>,
    /// `--maxbytespersecond` (0 or absent: off).
    pub maxbytespersecond: Option<f64>,
    /// `--maxbytesafter`: bytes exempt from the byte-rate limit.
    pub maxbytesafter: Option<i64>,
    /// `--maxsleep` (absent: [`DEFAULT_MAXSLEEP`]; negative is taken as 0).
    pub maxsleep: Option<f64>,
}

/// Counters the decision depends on.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TransferProgress {
    /// Messages appended so far.
    pub nb_msg_transferred: u64,
    /// Bytes appended so far.
    pub total_bytes_transferred: u64,
    /// Seconds since the transfer (folder loop) began.
    pub time_spent: f64,
}

/// Sleep needed so that `nb_msg_transferred / (time_spent + sleep) ≤ limit`; 0 when the
/// limit is absent or not positive, or when already under it.
pub fn sleep_max_messages(nb_msg_transferred: u64, time_spent: f64, limit: Option<f64>) -> f64 {
    match limit {
        Some(l) if l > 0.0 => {
            #[allow(clippy::cast_precision_loss)]
            let n = nb_msg_transferred as f64;
            (n / l - time_spent).max(0.0)
        }
        _ => 0.0,
    }
}

/// Same for bytes (`bytes_to_consider` may be negative when under `--maxbytesafter`).
pub fn sleep_max_bytes(bytes_to_consider: f64, time_spent: f64, limit: Option<f64>) -> f64 {
    match limit {
        Some(l) if l > 0.0 => (bytes_to_consider / l - time_spent).max(0.0),
        _ => 0.0,
    }
}

/// Round like `sprintf("%.2f")`.
fn round_hundredths(x: f64) -> f64 {
    format!("{x:.2}").parse().unwrap_or(0.0)
}

/// The effective `--maxsleep`.
pub fn effective_maxsleep(maxsleep: Option<f64>) -> f64 {
    maxsleep.unwrap_or(DEFAULT_MAXSLEEP).max(0.0)
}

/// The pause imapsync takes after a copy, in seconds (hundredths).
///
/// `None` when neither rate limit is set (no computation happens); otherwise `Some(0.0)` for
/// no sleep or `Some(s)` with `s = round2(min(maxsleep, max(sleep_messages, sleep_bytes)))`.
pub fn sleep_if_needed(limits: &ThrottleLimits, progress: &TransferProgress) -> Option<f64> {
    let set = |v: Option<f64>| v.is_some_and(|x| x != 0.0);
    if !(set(limits.maxmessagespersecond) || set(limits.maxbytespersecond)) {
        return None;
    }
    let maxsleep = effective_maxsleep(limits.maxsleep);
    let by_msgs = sleep_max_messages(
        progress.nb_msg_transferred,
        progress.time_spent,
        limits.maxmessagespersecond,
    );
    #[allow(clippy::cast_precision_loss)]
    let to_consider =
        progress.total_bytes_transferred as f64 - limits.maxbytesafter.unwrap_or(0) as f64;
    let by_bytes = sleep_max_bytes(to_consider, progress.time_spent, limits.maxbytespersecond);
    let s = round_hundredths(maxsleep.min(by_msgs.max(by_bytes)));
    Some(if s > 0.0 { s } else { 0.0 })
}

/// The line printed before sleeping, e.g. `sleeping 0.20 s`.
pub fn sleep_message(seconds: f64) -> String {
    format!("sleeping {seconds:.2} s")
}

/// SIGUSR1: `maxsleep ← max(0, 2 − maxsleep)` (so 0 ↔ 2). `None` stays `None` (imapsync
/// ignores the signal when `--maxsleep` was never resolved).
pub fn toggle_sleep(maxsleep: Option<f64>) -> Option<f64> {
    maxsleep.map(|m| (DEFAULT_MAXSLEEP - m).max(0.0))
}

/// The line printed by [`toggle_sleep`]'s caller, e.g. `Resetting maxsleep to 2s`.
pub fn toggle_sleep_message(maxsleep: f64) -> String {
    format!("Resetting maxsleep to {maxsleep}s")
}

/// `--exitwhenover`: the error message to record (then stop) once `total ≥ limit`; `None`
/// while under the limit, when the limit is absent or 0, or when nothing was transferred.
/// The message classifies as `ERR_TRANSFER_EXCEEDED`.
pub fn total_bytes_max_reached(
    exitwhenover: Option<u64>,
    total_bytes_transferred: u64,
) -> Option<String> {
    let limit = exitwhenover.filter(|&l| l != 0)?;
    if total_bytes_transferred == 0 || total_bytes_transferred < limit {
        return None;
    }
    Some(format!(
        "Maximum bytes transferred reached, {total_bytes_transferred} >= {limit}, ending sync\n"
    ))
}

/// Which way a provider's daily limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Bytes read from host1.
    Download,
    /// Bytes written to host2.
    Upload,
}

/// A provider's daily transfer limit per account (Gmail: about 2,500 MB downloaded and
/// 500 MB uploaded over IMAP a day). The presets make it the default `--exitwhenover`, so
/// the run stops cleanly when it is reached, and say when to go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyLimit {
    pub provider: &'static str,
    pub direction: Direction,
    pub bytes: u64,
}

/// Gmail's documented IMAP download limit per account and day.
pub const GMAIL_DAILY_DOWNLOAD: u64 = 2_500_000_000;
/// Gmail's documented IMAP upload limit per account and day.
pub const GMAIL_DAILY_UPLOAD: u64 = 500_000_000;

impl DailyLimit {
    /// Gmail's limit in one direction.
    pub const fn gmail(direction: Direction) -> DailyLimit {
        DailyLimit {
            provider: "Gmail",
            direction,
            bytes: match direction {
                Direction::Download => GMAIL_DAILY_DOWNLOAD,
                Direction::Upload => GMAIL_DAILY_UPLOAD,
            },
        }
    }

    /// The lines printed when the run stopped at its transfer ceiling under this limit:
    /// what the limit is and when to run again (a day after the run started; `when` renders
    /// an epoch as a local date).
    pub fn resume_lines(
        &self,
        stopped_at: u64,
        started_epoch: i64,
        when: impl Fn(i64) -> String,
    ) -> Vec<String> {
        let way = match self.direction {
            Direction::Download => "download from",
            Direction::Upload => "upload to",
        };
        let limit = crate::display::bytes_display_string_dec(self.bytes as f64);
        vec![
            format!(
                "{} allows about {limit} of IMAP {way} an account a day; this run stopped after {} to stay within it.",
                self.provider,
                crate::display::bytes_display_string_dec(stopped_at as f64),
            ),
            format!(
                "Run the same command again after {} to go on: what is already copied is not copied again.",
                when(started_epoch + 86_400)
            ),
        ]
    }
}

/// Seconds elapsed since `start` (imapsync's `timesince`; note it can be 0, callers dividing
/// by it must guard).
pub fn timesince(start: f64, now: f64) -> f64 {
    now - start
}

/// `--exitonload`: why the machine is too loaded to start a sync, if it is — the load
/// average of the last minute at or over the number of CPUs, or under 10 % of the memory
/// available (imapsync applies the same idea in its web mode).
pub fn heavy_load(load1: f64, cpus: usize, mem_available: Option<(u64, u64)>) -> Option<String> {
    let cpus = cpus.max(1);
    if load1 >= cpus as f64 {
        return Some(format!("load average {load1:.2} on {cpus} cores"));
    }
    if let Some((avail, total)) = mem_available
        && total > 0
        && avail.saturating_mul(10) < total
    {
        return Some(format!(
            "{:.1} % of the memory available",
            100.0 * avail as f64 / total as f64
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_max_messages_vectors() {
        assert_eq!(sleep_max_messages(4, 2.0, None), 0.0);
        assert_eq!(sleep_max_messages(4, 2.0, Some(0.0)), 0.0);
        assert_eq!(sleep_max_messages(4, 2.0, Some(-1.0)), 0.0);
        assert_eq!(sleep_max_messages(4, 2.0, Some(2.0)), 0.0);
        assert_eq!(sleep_max_messages(8, 2.0, Some(2.0)), 2.0);
        assert_eq!(sleep_max_messages(2, 2.0, Some(2.0)), 0.0);
    }

    #[test]
    fn sleep_max_bytes_vectors() {
        assert_eq!(sleep_max_bytes(4000.0, 2.0, None), 0.0);
        assert_eq!(sleep_max_bytes(4000.0, 2.0, Some(0.0)), 0.0);
        assert_eq!(sleep_max_bytes(4000.0, 2.0, Some(-1.0)), 0.0);
        assert_eq!(sleep_max_bytes(4000.0, 2.0, Some(2000.0)), 0.0);
        assert_eq!(sleep_max_bytes(8000.0, 2.0, Some(2000.0)), 2.0);
        assert_eq!(sleep_max_bytes(-8000.0, 2.0, Some(2000.0)), 0.0);
        assert_eq!(sleep_max_bytes(2000.0, 2.0, Some(2000.0)), 0.0);
        assert_eq!(sleep_max_bytes(-2000.0, 2.0, Some(1000.0)), 0.0);
    }

    // imapsync's sleep_if_needed unit vectors, with the elapsed time made explicit.
    #[test]
    fn sleep_if_needed_vectors() {
        assert_eq!(
            sleep_if_needed(&ThrottleLimits::default(), &TransferProgress::default()),
            None
        );
        let mut l = ThrottleLimits {
            maxbytespersecond: Some(1000.0),
            ..ThrottleLimits::default()
        };
        let mut p = TransferProgress {
            time_spent: 2.0,
            ..TransferProgress::default()
        };
        assert_eq!(sleep_if_needed(&l, &p), Some(0.0));
        p.total_bytes_transferred = 2200;
        assert_eq!(sleep_if_needed(&l, &p), Some(0.2));
        assert_eq!(sleep_message(0.2), "sleeping 0.20 s");
        p.time_spent = 4.0;
        assert_eq!(sleep_if_needed(&l, &p), Some(0.0));
        l.maxsleep = Some(0.1);
        p.time_spent = 2.0;
        assert_eq!(sleep_if_needed(&l, &p), Some(0.1));
        l.maxbytesafter = Some(2200);
        assert_eq!(sleep_if_needed(&l, &p), Some(0.0));
    }

    #[test]
    fn sleep_if_needed_combined() {
        let l = ThrottleLimits {
            maxmessagespersecond: Some(2.0),
            maxbytespersecond: Some(2000.0),
            maxbytesafter: None,
            maxsleep: Some(10.0),
        };
        let p = TransferProgress {
            nb_msg_transferred: 8,
            total_bytes_transferred: 9000,
            time_spent: 2.0,
        };
        // max(2, 2.5) = 2.5
        assert_eq!(sleep_if_needed(&l, &p), Some(2.5));
        // default maxsleep 2 caps it.
        let l2 = ThrottleLimits {
            maxsleep: None,
            ..l
        };
        assert_eq!(sleep_if_needed(&l2, &p), Some(2.0));
        // maxsleep 0 disables.
        let l3 = ThrottleLimits {
            maxsleep: Some(0.0),
            ..l
        };
        assert_eq!(sleep_if_needed(&l3, &p), Some(0.0));
        // negative maxsleep is 0.
        let l4 = ThrottleLimits {
            maxsleep: Some(-3.0),
            ..l
        };
        assert_eq!(sleep_if_needed(&l4, &p), Some(0.0));
        // Rounding to hundredths, below 0.005 is no sleep.
        let p2 = TransferProgress {
            nb_msg_transferred: 1,
            total_bytes_transferred: 0,
            time_spent: 0.4961,
        };
        let l5 = ThrottleLimits {
            maxmessagespersecond: Some(2.0),
            ..ThrottleLimits::default()
        };
        assert_eq!(sleep_if_needed(&l5, &p2), Some(0.0));
        let p3 = TransferProgress {
            time_spent: 0.4849,
            ..p2
        };
        assert_eq!(sleep_if_needed(&l5, &p3), Some(0.02));
        // A negative limit counts as "set" but gives no sleep.
        let l6 = ThrottleLimits {
            maxmessagespersecond: Some(-1.0),
            ..ThrottleLimits::default()
        };
        assert_eq!(sleep_if_needed(&l6, &p), Some(0.0));
    }

    #[test]
    fn toggle() {
        assert_eq!(toggle_sleep(None), None);
        assert_eq!(toggle_sleep(Some(3.0)), Some(0.0));
        assert_eq!(toggle_sleep(Some(0.0)), Some(2.0));
        assert_eq!(toggle_sleep(Some(2.0)), Some(0.0));
        assert_eq!(toggle_sleep(Some(0.5)), Some(1.5));
        assert_eq!(toggle_sleep_message(2.0), "Resetting maxsleep to 2s");
        assert_eq!(toggle_sleep_message(1.5), "Resetting maxsleep to 1.5s");
    }

    #[test]
    fn daily_limits_say_when_to_go_on() {
        let g = DailyLimit::gmail(Direction::Upload);
        assert_eq!(g.bytes, 500_000_000);
        assert_eq!(DailyLimit::gmail(Direction::Download).bytes, 2_500_000_000);
        let lines = g.resume_lines(500_123_000, 1_000, |t| format!("T{t}"));
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0]
                .starts_with("Gmail allows about 500.000 MB of IMAP upload to an account a day"),
            "{lines:?}"
        );
        assert!(lines[0].contains("stopped after 500.123 MB"), "{lines:?}");
        assert!(lines[1].starts_with("Run the same command again after T87400 to go on"));
    }

    #[test]
    fn exitwhenover() {
        assert_eq!(total_bytes_max_reached(None, 400), None);
        assert_eq!(total_bytes_max_reached(Some(0), 400), None);
        assert_eq!(total_bytes_max_reached(Some(300), 0), None);
        assert_eq!(total_bytes_max_reached(Some(300), 200), None);
        assert_eq!(
            total_bytes_max_reached(Some(300), 400).as_deref(),
            Some("Maximum bytes transferred reached, 400 >= 300, ending sync\n")
        );
        assert!(total_bytes_max_reached(Some(300), 300).is_some());
    }

    #[test]
    fn heavy_load_table() {
        assert_eq!(heavy_load(0.5, 2, Some((8, 10))), None);
        assert!(heavy_load(2.0, 2, None).is_some_and(|w| w.contains("2.00 on 2 cores")));
        assert!(heavy_load(0.1, 0, None).is_none(), "0 cpus counts as 1");
        assert!(heavy_load(0.1, 4, Some((9, 100))).is_some_and(|w| w.contains("9.0 %")));
        assert_eq!(heavy_load(0.1, 4, Some((10, 100))), None);
    }
}
