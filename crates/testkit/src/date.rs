//! Calendar arithmetic for IMAP INTERNALDATE and RFC 5322 Date headers (UTC epoch seconds).

use anyhow::{Context, Result, bail};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Date (year, month 1-12, day 1-31) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

struct Parts {
    y: i64,
    mo: u32,
    d: u32,
    h: i64,
    mi: i64,
    s: i64,
    wd: usize,
}

fn parts(epoch: i64, offset_minutes: i32) -> Parts {
    let local = epoch + offset_minutes as i64 * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    Parts {
        y,
        mo,
        d,
        h: secs / 3600,
        mi: secs / 60 % 60,
        s: secs % 60,
        wd: days.rem_euclid(7) as usize,
    }
}

fn zone(offset_minutes: i32) -> String {
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let a = offset_minutes.unsigned_abs();
    format!("{sign}{:02}{:02}", a / 60, a % 60)
}

/// `17-Jul-1996 02:44:25 -0700` for an epoch and a zone offset in minutes.
pub fn format_internaldate(epoch: i64, offset_minutes: i32) -> String {
    let p = parts(epoch, offset_minutes);
    format!(
        "{:02}-{}-{:04} {:02}:{:02}:{:02} {}",
        p.d,
        MONTHS[(p.mo - 1) as usize],
        p.y,
        p.h,
        p.mi,
        p.s,
        zone(offset_minutes)
    )
}

/// `Wed, 17 Jul 1996 02:44:25 -0700` (RFC 5322 date-time).
pub fn format_rfc5322(epoch: i64, offset_minutes: i32) -> String {
    let p = parts(epoch, offset_minutes);
    format!(
        "{}, {} {} {:04} {:02}:{:02}:{:02} {}",
        WEEKDAYS[p.wd],
        p.d,
        MONTHS[(p.mo - 1) as usize],
        p.y,
        p.h,
        p.mi,
        p.s,
        zone(offset_minutes)
    )
}

/// Parse an IMAP INTERNALDATE (`dd-Mon-yyyy hh:mm:ss +zzzz`, day may be space padded)
/// into UTC epoch seconds.
pub fn parse_internaldate(s: &str) -> Result<i64> {
    let ctx = || format!("bad INTERNALDATE {s:?}");
    let s = s.trim();
    let (date, rest) = s.split_once(' ').with_context(ctx)?;
    let rest = rest.trim_start();
    let (time, zone) = rest.split_once(' ').with_context(ctx)?;
    let mut dp = date.split('-');
    let (d, mon, y) = (
        dp.next().with_context(ctx)?,
        dp.next().with_context(ctx)?,
        dp.next().with_context(ctx)?,
    );
    let d: u32 = d.trim().parse().with_context(ctx)?;
    let mo = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(mon))
        .with_context(ctx)? as u32
        + 1;
    let y: i64 = y.parse().with_context(ctx)?;
    let mut tp = time.split(':');
    let h: i64 = tp.next().with_context(ctx)?.parse().with_context(ctx)?;
    let mi: i64 = tp.next().with_context(ctx)?.parse().with_context(ctx)?;
    let sec: i64 = tp.next().with_context(ctx)?.parse().with_context(ctx)?;
    let zone = zone.trim();
    if zone.len() != 5 {
        bail!("{}", ctx());
    }
    let sign = match &zone[..1] {
        "+" => 1,
        "-" => -1,
        _ => bail!("{}", ctx()),
    };
    let zh: i64 = zone[1..3].parse().with_context(ctx)?;
    let zm: i64 = zone[3..5].parse().with_context(ctx)?;
    let local = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec;
    Ok(local - sign * (zh * 3600 + zm * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(
            parse_internaldate("17-Jul-1996 02:44:25 -0700").unwrap(),
            837_596_665
        );
        assert_eq!(
            parse_internaldate(" 7-Jul-1996 02:44:25 +0000").unwrap(),
            836_707_465
        );
        for &(e, off) in &[
            (0i64, 0i32),
            (837_596_665, -420),
            (1_700_000_000, 330),
            (4_102_444_800, -720),
        ] {
            let s = format_internaldate(e, off);
            assert_eq!(parse_internaldate(&s).unwrap(), e, "{s}");
        }
        assert_eq!(
            format_rfc5322(837_596_665, -420),
            "Wed, 17 Jul 1996 02:44:25 -0700"
        );
    }
}
