//! Renderings that appear in imapsync's output and that users and scripts parse.
//!
//! * Byte amounts: [`bytes_display_string_bin`] (`x.xxx KiB/MiB/GiB/TiB/PiB`, switching unit at
//!   1000 × 1024ⁿ, so `1 024 000` bytes is `0.977 MiB`) and [`bytes_display_string_dec`]
//!   (`N bytes`, then `KB/MB/...` with 3 decimals).
//! * Statistics lines: the label is left-aligned in 40 columns, then `: ` ([`stat_line`]).
//! * Dates: [`localtimez`] renders `strftime("%A %d %B %Y-%m-%d %H:%M:%S %z %Z")` (English
//!   names) from an instant, a UTC offset and a zone abbreviation; [`local_time_info`] asks the
//!   C library for the offset and abbreviation of the process's local zone.
//! * The log file name `<YYYY_MM_DD_HH_MM_SS_mmm>_<user1>_<user2>.txt`
//!   ([`logfile_name`], [`setlogfile`]): user names have `/` turned into `_` and every byte
//!   that is a shell/Windows-unfriendly character, a control character or non-ASCII replaced
//!   by `_` ([`filter_forbidden_characters`]); the milliseconds are truncated, not rounded.
//! * Per-folder and per-message lines ([`folder_line`], [`copied_line`], [`eta_line`]).
//!
//! Column widths follow Perl's `printf`: they count characters and never truncate.

use crate::dates::civil_time;

/// 1024.
pub const KIBI: f64 = 1024.0;

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Binary-unit rendering with three decimals: below 1000 KiB in KiB, below 1000 MiB in MiB,
/// and so on up to PiB. `NA` for a non-finite value.
pub fn bytes_display_string_bin(bytes: f64) -> String {
    if !bytes.is_finite() {
        return "NA".to_owned();
    }
    let a = bytes.abs();
    let units = ["KiB", "MiB", "GiB", "TiB"];
    let mut scale = KIBI;
    for unit in units {
        if a < 1000.0 * scale {
            return format!("{:.3} {unit}", bytes / scale);
        }
        scale *= KIBI;
    }
    format!("{:.3} PiB", bytes / scale)
}

/// Decimal-unit rendering: `N bytes` below 1000, then `KB`, `MB`, `GB`, `TB`, `PB` with three
/// decimals (the MB/GB/TB thresholds sit just below the next power, so that a value that would
/// print as `1000.000` moves to the next unit, except for KB). `NA` for a non-finite value.
pub fn bytes_display_string_dec(bytes: f64) -> String {
    if !bytes.is_finite() {
        return "NA".to_owned();
    }
    let a = bytes.abs();
    if a < 1000.0 {
        format!("{bytes:.0} bytes")
    } else if a < 1e6 {
        format!("{:.3} KB", bytes / 1e3)
    } else if a < 999_999_500.0 {
        format!("{:.3} MB", bytes / 1e6)
    } else if a < 999_999_500_000.0 {
        format!("{:.3} GB", bytes / 1e9)
    } else if a < 999_999_500_000_000.0 {
        format!("{:.3} TB", bytes / 1e12)
    } else {
        format!("{:.3} PB", bytes / 1e15)
    }
}

/// A statistics line: `label` padded to 40 characters, `: `, then `value`.
pub fn stat_line(label: &str, value: &str) -> String {
    format!("{label:<40}: {value}")
}

/// `in order to sync those N unidentified messages, add option --addheader` when N ≥ 1, the
/// empty string otherwise (printed after the "Messages void (noheader) on host1" count).
pub fn useheader_suggestion(nb_noheader: u64) -> String {
    if nb_noheader >= 1 {
        format!(
            "in order to sync those {nb_noheader} unidentified messages, add option --addheader"
        )
    } else {
        String::new()
    }
}

/// Offset and zone abbreviation of the local time zone at some instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTime {
    /// Seconds east of UTC.
    pub offset_secs: i32,
    /// Abbreviation such as `CEST` (`UTC` when unknown).
    pub zone: String,
}

/// The process's local zone at `epoch`, from the C library (`TZ`, `/etc/localtime`).
#[cfg(unix)]
pub fn local_time_info(epoch: i64) -> LocalTime {
    let fallback = LocalTime {
        offset_secs: 0,
        zone: "UTC".to_owned(),
    };
    // `time_t` is 64-bit on every platform this builds for.
    #[allow(clippy::cast_possible_truncation)]
    let t = epoch as libc::time_t;
    // SAFETY: `tm` is plain old data, valid when zeroed; `localtime_r` only writes into it
    // and returns null on failure; `tm_zone`, when non-null, points to a NUL-terminated
    // string owned by the C library that stays valid until the next tzset, and is copied
    // immediately.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return fallback;
        }
        let zone = if tm.tm_zone.is_null() {
            fallback.zone
        } else {
            std::ffi::CStr::from_ptr(tm.tm_zone)
                .to_string_lossy()
                .into_owned()
        };
        LocalTime {
            offset_secs: i32::try_from(tm.tm_gmtoff).unwrap_or(0),
            zone,
        }
    }
}

/// The process's local zone at `epoch` (non-Unix: UTC).
#[cfg(not(unix))]
pub fn local_time_info(_epoch: i64) -> LocalTime {
    LocalTime {
        offset_secs: 0,
        zone: "UTC".to_owned(),
    }
}

/// Local UTC offset at `epoch`, seconds east.
pub fn local_offset(epoch: i64) -> i32 {
    local_time_info(epoch).offset_secs
}

fn format_offset(offset_secs: i32) -> String {
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let off = offset_secs.unsigned_abs();
    format!("{sign}{:02}{:02}", off / 3600, off % 3600 / 60)
}

/// `strftime("%A %d %B %Y-%m-%d %H:%M:%S %z %Z")` for `epoch` seen at `offset_secs` with the
/// abbreviation `zone`, e.g. `Thursday 19 September 2024-09-19 04:20:30 +0000 UTC`.
pub fn localtimez(epoch: i64, offset_secs: i32, zone: &str) -> String {
    let c = civil_time(epoch, offset_secs);
    let weekday = WEEKDAYS.get(c.weekday as usize).copied().unwrap_or("");
    let month_full = c
        .month
        .checked_sub(1)
        .and_then(|i| MONTH_NAMES.get(i as usize))
        .copied()
        .unwrap_or("");
    format!(
        "{weekday} {:02} {month_full} {:04}-{:02}-{:02} {:02}:{:02}:{:02} {} {zone}",
        c.day,
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        format_offset(offset_secs)
    )
}

/// [`localtimez`] of a whole epoch in the process's local zone.
pub fn localtimez_local_epoch(epoch: i64) -> String {
    let lt = local_time_info(epoch);
    localtimez(epoch, lt.offset_secs, &lt.zone)
}

/// [`localtimez`] in the process's local zone (fractional seconds floored, as Perl's
/// `localtime` does).
pub fn localtimez_local(time: f64) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let epoch = time.floor() as i64;
    let lt = local_time_info(epoch);
    localtimez(epoch, lt.offset_secs, &lt.zone)
}

/// Perl's `fractional_of_floor`: `t − int(t)` for non-negative parts, `1 − (int(t) − t)` for
/// negative ones (so −0.246 gives 0.754), computed in the same floating-point steps.
pub fn fractional_of_floor(t: f64) -> f64 {
    let i = t.trunc();
    if t - i >= 0.0 { t - i } else { 1.0 - (i - t) }
}

/// `YYYY_MM_DD_HH_MM_SS_mmm` of a fractional instant in the zone given by `offset_at`
/// (milliseconds truncated).
pub fn year_month_day_hour_min_sec_ms(time: f64, offset_at: impl Fn(i64) -> i32) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let epoch = time.floor() as i64;
    let c = civil_time(epoch, offset_at(epoch));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = (fractional_of_floor(time) * 1000.0).trunc() as u32;
    format!(
        "{:04}_{:02}_{:02}_{:02}_{:02}_{:02}_{ms:03}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Replace by `_` every byte among `* | ? : " < > '`, space, TAB, CR, LF and backslash, and
/// every control or non-ASCII byte (so a two-byte UTF-8 letter gives `__`).
pub fn filter_forbidden_characters(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'*' | b'|' | b'?' | b':' | b'"' | b'<' | b'>' | b'\'' | b' ' | b'\t' | b'\r'
            | b'\n' | b'\\' => '_',
            0x00..=0x1f | 0x7f..=0xff => '_',
            _ => char::from(b),
        })
        .collect()
}

/// `/` → `_`.
pub fn slash_to_underscore(s: &str) -> String {
    s.replace('/', "_")
}

fn perl_false(s: &str) -> bool {
    s.is_empty() || s == "0"
}

/// `<user1>_<user2><supplement>` with both users sanitised (a missing user is empty).
pub fn logfile_suffix(user1: Option<&str>, user2: Option<&str>, supplement: &str) -> String {
    let clean = |u: Option<&str>| {
        let f = u
            .map(|u| filter_forbidden_characters(&slash_to_underscore(u)))
            .unwrap_or_default();
        if perl_false(&f) { String::new() } else { f }
    };
    let supplement = if perl_false(supplement) {
        ""
    } else {
        supplement
    };
    format!("{}_{}{supplement}", clean(user1), clean(user2))
}

/// imapsync's `logfile`: `[dir/]<date>[_<suffix>].txt`, spaces removed from the suffix.
pub fn logfile_name(time: f64, suffix: &str, dir: &str, offset_at: impl Fn(i64) -> i32) -> String {
    let suffix: String = suffix.chars().filter(|&c| c != ' ').collect();
    let suffix = if perl_false(&suffix) { "" } else { &suffix };
    let sep_suffix = if suffix.is_empty() { "" } else { "_" };
    let dir = if perl_false(dir) { "" } else { dir };
    let sep_dir = if dir.is_empty() { "" } else { "/" };
    let date = year_month_day_hour_min_sec_ms(time, offset_at);
    format!("{dir}{sep_dir}{date}{sep_suffix}{suffix}.txt")
}

/// Inputs of [`setlogfile`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogfileSpec<'a> {
    /// Program start time (fractional epoch).
    pub timestart: f64,
    /// `--user1`.
    pub user1: Option<&'a str>,
    /// `--user2`.
    pub user2: Option<&'a str>,
    /// Extra suffix (e.g. `_remote`).
    pub supplement: &'a str,
    /// `--abort` run: `_abort` is appended.
    pub abort: bool,
    /// `--logdir` (empty: current directory).
    pub logdir: &'a str,
    /// `--logfile` when given.
    pub logfile: Option<&'a str>,
}

/// The log file path: `--logfile` (under `--logdir` if set) or the generated name.
pub fn setlogfile(spec: &LogfileSpec<'_>, offset_at: impl Fn(i64) -> i32) -> String {
    let logdir = if perl_false(spec.logdir) {
        ""
    } else {
        spec.logdir
    };
    if let Some(given) = spec.logfile {
        return if logdir.is_empty() {
            given.to_owned()
        } else {
            format!("{logdir}/{given}")
        };
    }
    let supplement = format!(
        "{}{}",
        spec.supplement,
        if spec.abort { "_abort" } else { "" }
    );
    let suffix = logfile_suffix(spec.user1, spec.user2, &supplement);
    logfile_name(spec.timestart, &suffix, logdir, offset_at)
}

/// `[raw]`, or `[raw] = [decoded]` when the decoded (UTF-8) form of the mUTF-7 name differs.
pub fn jux_utf8(raw: &str, decoded: &str) -> String {
    if raw == decoded {
        format!("[{raw}]")
    } else {
        format!("[{raw}] = [{decoded}]")
    }
}

/// `Folder %7s %-35s -> %-35s`: `ct/nb` right-aligned in 7, both names (already rendered by
/// [`jux_utf8`]) left-aligned in 35 characters.
pub fn folder_line(ct: usize, nb: usize, h1: &str, h2: &str) -> String {
    let count = format!("{ct}/{nb}");
    format!("Folder {count:>7} {h1:<35} -> {h2:<35}")
}

/// imapsync's remaining-time estimate: `(spent / transferred) × (start − processed)`, with
/// transferred 0 taken as 1 and start 0 taken as processed.
pub fn time_remaining(
    time_spent: f64,
    nb_processed: u64,
    nb_msg_start: u64,
    nb_transferred: u64,
) -> f64 {
    let transferred = if nb_transferred == 0 {
        1
    } else {
        nb_transferred
    };
    let start = if nb_msg_start == 0 {
        nb_processed
    } else {
        nb_msg_start
    };
    #[allow(clippy::cast_precision_loss)]
    let (t, s, p) = (transferred as f64, start as f64, nb_processed as f64);
    time_spent / t * (s - p)
}

/// `ETA: <localtimez of now + remaining>  <remaining %1.0f> s  <left>/<start> msgs left`.
/// `eta_date` is the [`localtimez`] rendering of `now + remaining`.
pub fn eta_line(eta_date: &str, remaining: f64, nb_processed: u64, nb_msg_start: u64) -> String {
    let left = i128::from(nb_msg_start) - i128::from(nb_processed);
    format!("ETA: {eta_date}  {remaining:.0} s  {left}/{nb_msg_start} msgs left")
}

/// Values of the per-message copy line.
#[derive(Debug, Clone, PartialEq)]
pub struct CopiedLine<'a> {
    /// Host1 folder.
    pub h1_folder: &'a str,
    /// Host1 UID.
    pub h1_uid: u32,
    /// Length of the appended message.
    pub len: u64,
    /// Host2 folder.
    pub h2_folder: &'a str,
    /// New host2 UID (or whatever imapsync got as id).
    pub h2_uid: &'a str,
    /// Messages transferred so far (this one included).
    pub nb_msg_transferred: u64,
    /// Bytes transferred so far.
    pub total_bytes_transferred: u64,
    /// Seconds since the transfer began.
    pub time_spent: f64,
    /// [`eta_line`] result, or empty when folder sizes were not computed.
    pub eta: &'a str,
}

/// `msg %s/%-19s copied to %s/%-10s %.2f msgs/s  %s/s %s copied %s` — e.g.
/// `msg INBOX/12 {3456}           copied to INBOX/7          1.50 msgs/s  3.375 KiB/s 6.750 KiB copied ETA: ...`.
/// A zero elapsed time is treated as one nanosecond (imapsync would divide by zero).
pub fn copied_line(l: &CopiedLine<'_>) -> String {
    let spent = if l.time_spent > 0.0 {
        l.time_spent
    } else {
        1e-9
    };
    #[allow(clippy::cast_precision_loss)]
    let (n, bytes) = (
        l.nb_msg_transferred as f64,
        l.total_bytes_transferred as f64,
    );
    let uid_len = format!("{} {{{}}}", l.h1_uid, l.len);
    format!(
        "msg {}/{uid_len:<19} copied to {}/{:<10} {:.2} msgs/s  {}/s {} copied {}",
        l.h1_folder,
        l.h2_folder,
        l.h2_uid,
        n / spent,
        bytes_display_string_bin(bytes / spent),
        bytes_display_string_bin(bytes),
        l.eta
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // imapsync's bytes_display_string_bin unit vectors.
    #[test]
    fn bin_vectors() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.000 KiB"),
            (1.0, "0.001 KiB"),
            (10.0, "0.010 KiB"),
            (999.0, "0.976 KiB"),
            (1023.0, "0.999 KiB"),
            (1024.0, "1.000 KiB"),
            (1025.0, "1.001 KiB"),
            (10_239.0, "9.999 KiB"),
            (10_240.0, "10.000 KiB"),
            (1_023_999.0, "999.999 KiB"),
            (1_024_000.0, "0.977 MiB"),
            (1_047_527.0, "0.999 MiB"),
            (1_048_051.0, "0.999 MiB"),
            (1_048_052.0, "1.000 MiB"),
            (1_048_575.0, "1.000 MiB"),
            (1_048_576.0, "1.000 MiB"),
            (1_073_741_823.0, "1.000 GiB"),
            (1_073_741_824.0, "1.000 GiB"),
            (1_099_511_627_775.0, "1.000 TiB"),
            (1_099_511_627_776.0, "1.000 TiB"),
            (1_125_899_906_842_623.0, "1.000 PiB"),
            (1_125_899_906_842_624.0, "1.000 PiB"),
            (1_152_921_504_606_846_975.0, "1024.000 PiB"),
            (1_152_921_504_606_846_976.0, "1024.000 PiB"),
            (1_180_591_620_717_411_303_424.0, "1048576.000 PiB"),
            // Perl oracle.
            (3_000_000_000.0, "2.794 GiB"),
            (-2048.0, "-2.000 KiB"),
            (1_023_999.5, "1000.000 KiB"),
        ];
        for (b, want) in cases {
            assert_eq!(bytes_display_string_bin(*b), *want, "{b}");
        }
        assert_eq!(bytes_display_string_bin(f64::NAN), "NA");
    }

    // imapsync's bytes_display_string_dec unit vectors.
    #[test]
    fn dec_vectors() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0 bytes"),
            (1.0, "1 bytes"),
            (10.0, "10 bytes"),
            (999.0, "999 bytes"),
            (1000.0, "1.000 KB"),
            (1001.0, "1.001 KB"),
            (999_999.0, "999.999 KB"),
            (1_000_000.0, "1.000 MB"),
            (1_000_500.0, "1.000 MB"),
            (1_000_501.0, "1.001 MB"),
            (999_999_000.0, "999.999 MB"),
            (999_999_499.0, "999.999 MB"),
            (999_999_500.0, "1.000 GB"),
            (1_000_000_000.0, "1.000 GB"),
            (1_000_500_000.0, "1.000 GB"),
            (1_000_500_001.0, "1.001 GB"),
            (999_999_000_000.0, "999.999 GB"),
            (999_999_499_999.0, "999.999 GB"),
            (999_999_500_000.0, "1.000 TB"),
            (1_000_000_000_000.0, "1.000 TB"),
            (1_000_500_000_000.0, "1.000 TB"),
            (1_000_500_000_001.0, "1.001 TB"),
            (999_999_000_000_000.0, "999.999 TB"),
            (999_999_499_999_999.0, "999.999 TB"),
            (999_999_500_000_000.0, "1.000 PB"),
            (3_000_000_000.0, "3.000 GB"),
        ];
        for (b, want) in cases {
            assert_eq!(bytes_display_string_dec(*b), *want, "{b}");
        }
    }

    #[test]
    fn stat_lines() {
        assert_eq!(
            stat_line("Transfer started on", "x"),
            "Transfer started on                     : x"
        );
        assert_eq!(
            stat_line("Messages found crossduplicate on host2", "0"),
            "Messages found crossduplicate on host2  : 0"
        );
        assert_eq!(useheader_suggestion(0), "");
        assert_eq!(
            useheader_suggestion(2),
            "in order to sync those 2 unidentified messages, add option --addheader"
        );
    }

    #[test]
    fn localtimez_rendering() {
        assert_eq!(
            localtimez(1_726_719_630, 0, "UTC"),
            "Thursday 19 September 2024-09-19 04:20:30 +0000 UTC"
        );
        assert_eq!(
            localtimez(0, 0, "GMT"),
            "Thursday 01 January 1970-01-01 00:00:00 +0000 GMT"
        );
        // Perl oracle with TZ=Europe/Paris and TZ=America/St_Johns.
        assert_eq!(
            localtimez(1_282_658_461, 7200, "CEST"),
            "Tuesday 24 August 2010-08-24 16:01:01 +0200 CEST"
        );
        assert_eq!(
            localtimez(1_282_658_461, -9000, "NDT"),
            "Tuesday 24 August 2010-08-24 11:31:01 -0230 NDT"
        );
    }

    // imapsync's logfile / year_month_day_hour_min_sec_ms / fractional_of_floor vectors (GMT).
    #[test]
    fn logfile_vectors() {
        let gmt = |_: i64| 0;
        assert_eq!(
            logfile_name(0.0, "", "", gmt),
            "1970_01_01_00_00_00_000.txt"
        );
        assert_eq!(
            logfile_name(61.0, "", "", gmt),
            "1970_01_01_00_01_01_000.txt"
        );
        assert_eq!(
            logfile_name(61.234, "", "", gmt),
            "1970_01_01_00_01_01_234.txt"
        );
        assert_eq!(
            logfile_name(1_282_658_400.0, "", "", gmt),
            "2010_08_24_14_00_00_000.txt"
        );
        assert_eq!(
            logfile_name(1_282_658_461.0, "poupinette", "", gmt),
            "2010_08_24_14_01_01_000_poupinette.txt"
        );
        assert_eq!(
            logfile_name(1_282_658_461.0, "   remove blanks  ", "", gmt),
            "2010_08_24_14_01_01_000_removeblanks.txt"
        );
        assert_eq!(
            logfile_name(1_282_658_461.234_7, "poup", "", gmt),
            "2010_08_24_14_01_01_234_poup.txt"
        );
        assert_eq!(
            logfile_name(1_282_658_461.234_7, "poup", "dirdir", gmt),
            "dirdir/2010_08_24_14_01_01_234_poup.txt"
        );
        let ymd = |t: f64| year_month_day_hour_min_sec_ms(t, gmt);
        assert_eq!(ymd(123_456_789.123), "1973_11_29_21_33_09_122");
        assert_eq!(ymd(-1.0), "1969_12_31_23_59_59_000");
        assert_eq!(ymd(-0.246), "1969_12_31_23_59_59_754");
        assert_eq!(ymd(-123_456_789.135), "1966_02_02_02_26_50_864");
        assert_eq!(fractional_of_floor(0.0), 0.0);
        assert_eq!(fractional_of_floor(-1.0), 0.0);
        assert!((fractional_of_floor(1.234) - 0.234).abs() < 1e-12);
        assert!((fractional_of_floor(-1.234) - 0.766).abs() < 1e-12);
        assert!((fractional_of_floor(-10.234) - 0.766).abs() < 1e-12);
        // Local zone applies.
        assert_eq!(
            logfile_name(1_282_658_461.0, "a_b", "", |_| 7200),
            "2010_08_24_16_01_01_000_a_b.txt"
        );
    }

    #[test]
    fn setlogfile_vectors() {
        let gmt = |_: i64| 0;
        let base = LogfileSpec {
            timestart: 2.0,
            user1: Some("user1"),
            user2: Some("user2"),
            ..LogfileSpec::default()
        };
        assert_eq!(
            setlogfile(&base, gmt),
            "1970_01_01_00_00_02_000_user1_user2.txt"
        );
        assert_eq!(
            setlogfile(
                &LogfileSpec {
                    abort: true,
                    ..base.clone()
                },
                gmt
            ),
            "1970_01_01_00_00_02_000_user1_user2_abort.txt"
        );
        assert_eq!(
            setlogfile(
                &LogfileSpec {
                    supplement: "_remote",
                    ..base.clone()
                },
                gmt
            ),
            "1970_01_01_00_00_02_000_user1_user2_remote.txt"
        );
        assert_eq!(
            setlogfile(
                &LogfileSpec {
                    supplement: "_remote",
                    abort: true,
                    ..base.clone()
                },
                gmt
            ),
            "1970_01_01_00_00_02_000_user1_user2_remote_abort.txt"
        );
        assert_eq!(
            setlogfile(
                &LogfileSpec {
                    logdir: "vallogdir",
                    ..base.clone()
                },
                gmt
            ),
            "vallogdir/1970_01_01_00_00_02_000_user1_user2.txt"
        );
        assert_eq!(
            setlogfile(
                &LogfileSpec {
                    logdir: "vallogdir",
                    logfile: Some("given.txt"),
                    ..base.clone()
                },
                gmt
            ),
            "vallogdir/given.txt"
        );
        assert_eq!(
            setlogfile(
                &LogfileSpec {
                    timestart: 0.0,
                    user1: Some("us/er1a*|?:\"<>b"),
                    user2: Some("u/ser2a*|?:\"<>b"),
                    ..LogfileSpec::default()
                },
                gmt
            ),
            "1970_01_01_00_00_00_000_us_er1a_______b_u_ser2a_______b.txt"
        );
        assert_eq!(logfile_suffix(None, None, ""), "_");
        assert_eq!(
            logfile_suffix(Some("valuser1"), Some("valuser2"), "_suppl"),
            "valuser1_valuser2_suppl"
        );
        // No users: the bare "_" suffix.
        assert_eq!(
            setlogfile(
                &LogfileSpec {
                    timestart: 0.0,
                    ..LogfileSpec::default()
                },
                gmt
            ),
            "1970_01_01_00_00_00_000__.txt"
        );
    }

    #[test]
    fn forbidden_characters() {
        assert_eq!(filter_forbidden_characters(""), "");
        assert_eq!(filter_forbidden_characters("a_b"), "a_b");
        assert_eq!(filter_forbidden_characters("a*b"), "a_b");
        assert_eq!(filter_forbidden_characters("a|b"), "a_b");
        assert_eq!(filter_forbidden_characters("a?b"), "a_b");
        assert_eq!(filter_forbidden_characters("a*|?:\"<>'b"), "a________b");
        assert_eq!(filter_forbidden_characters("a b "), "a_b_");
        assert_eq!(filter_forbidden_characters("a\tb"), "a_b");
        assert_eq!(filter_forbidden_characters("a\rb"), "a_b");
        assert_eq!(filter_forbidden_characters("a\nb"), "a_b");
        assert_eq!(filter_forbidden_characters("a\\b"), "a_b");
        assert_eq!(filter_forbidden_characters("a-b"), "a-b");
        assert_eq!(
            filter_forbidden_characters("aé-è-à-ç-Öb"),
            "a__-__-__-__-__b"
        );
        assert_eq!(
            filter_forbidden_characters("abcdABCDwxyzWXYZ012789"),
            "abcdABCDwxyzWXYZ012789"
        );
        assert_eq!(filter_forbidden_characters("a\x7fb\x01"), "a_b_");
        assert_eq!(slash_to_underscore("/abc/def/"), "_abc_def_");
    }

    #[test]
    fn folder_and_copy_lines() {
        assert_eq!(jux_utf8("INBOX", "INBOX"), "[INBOX]");
        assert_eq!(jux_utf8("&ANY-", "Ö"), "[&ANY-] = [Ö]");
        assert_eq!(
            folder_line(1, 12, "[INBOX]", "[INBOX]"),
            "Folder    1/12 [INBOX]                             -> [INBOX]                            "
        );
        // Width counts characters, long names are not cut.
        let long = "[".to_owned() + &"x".repeat(40) + "]";
        assert_eq!(
            folder_line(10, 10, &long, "[&ANY-] = [Ö]"),
            format!("Folder   10/10 {long} -> [&ANY-] = [Ö]                      ")
        );
        let eta = eta_line(
            "Tuesday 24 August 2010-08-24 14:01:11 +0000 UTC",
            10.0,
            3,
            5,
        );
        assert_eq!(
            eta,
            "ETA: Tuesday 24 August 2010-08-24 14:01:11 +0000 UTC  10 s  2/5 msgs left"
        );
        let line = copied_line(&CopiedLine {
            h1_folder: "INBOX",
            h1_uid: 12,
            len: 3456,
            h2_folder: "INBOX",
            h2_uid: "7",
            nb_msg_transferred: 3,
            total_bytes_transferred: 6912,
            time_spent: 2.0,
            eta: &eta,
        });
        assert_eq!(
            line,
            "msg INBOX/12 {3456}           copied to INBOX/7          1.50 msgs/s  3.375 KiB/s 6.750 KiB copied ETA: Tuesday 24 August 2010-08-24 14:01:11 +0000 UTC  10 s  2/5 msgs left"
        );
        // Without ETA the line ends with "copied ".
        let line = copied_line(&CopiedLine {
            h1_folder: "A",
            h1_uid: 1,
            len: 1,
            h2_folder: "B",
            h2_uid: "1",
            nb_msg_transferred: 1,
            total_bytes_transferred: 1,
            time_spent: 0.0,
            eta: "",
        });
        assert!(line.ends_with(" copied "));
        // imapsync's time_remaining vectors.
        assert_eq!(time_remaining(0.0, 0, 0, 0), 0.0);
        assert_eq!(time_remaining(1.0, 1, 2, 1), 1.0);
        assert_eq!(time_remaining(9.0, 9, 10, 9), 1.0);
        assert_eq!(time_remaining(1.0, 1, 10, 1), 9.0);
        assert_eq!(time_remaining(5.0, 5, 10, 5), 5.0);
        assert_eq!(time_remaining(5.0, 5, 10, 0), 25.0);
        assert_eq!(time_remaining(5.0, 5, 10, 1), 25.0);
    }

    #[test]
    fn local_zone_is_sane() {
        let lt = local_time_info(1_282_658_461);
        assert!(lt.offset_secs.abs() <= 14 * 3600);
        assert!(!lt.zone.is_empty());
        assert!(localtimez_local(1_282_658_461.9).contains("2010-08-2"));
    }
}
