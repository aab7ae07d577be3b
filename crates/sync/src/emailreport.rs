//! `--emailreport1`, `--emailreport2`: once the folders are synced, a short HTML message
//! saying so is appended to the INBOX of host1 and/or host2 (as imapsync does; never with
//! `--dry` nor `--justfolders`, which the command line's options already decided). Ours also
//! gives the main counters of the run, and is addressed to the account it lands in.

use bytes::Bytes;

use imapsync_client::Side;
use imapsync_plan::dates::civil_time;
use imapsync_plan::display::{local_offset, year_month_day_hour_min_sec_ms};
use imapsync_proto::command::cmd;

use crate::ctx::Ctx;
use crate::session;
use crate::stats::Stats;

/// The `From:` of the report without `--emailreportfrom`.
pub const DEFAULT_FROM: &str = "imapsync-rs@localhost";

/// What the report says.
#[derive(Clone, Debug)]
pub struct Report<'a> {
    pub user1: &'a str,
    pub user2: &'a str,
    pub host1: &'a str,
    pub host2: &'a str,
    /// The account whose INBOX gets it (its `To:`).
    pub to: &'a str,
    pub from: &'a str,
    /// Start of the run and now (UNIX seconds).
    pub started: f64,
    pub now: f64,
    pub stats: &'a Stats,
    pub errors: u64,
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An RFC 5322 date of `epoch` at `offset` seconds east of UTC.
fn rfc5322_date(epoch: i64, offset: i32) -> String {
    let c = civil_time(epoch, offset);
    let sign = if offset < 0 { '-' } else { '+' };
    let off = offset.unsigned_abs() / 60;
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        DAYS[c.weekday as usize % 7],
        c.day,
        MONTHS[(c.month as usize).saturating_sub(1) % 12],
        c.year,
        c.hour,
        c.minute,
        c.second,
        off / 60,
        off % 60
    )
}

/// Text made safe inside HTML.
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Header field values never carry a line break.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// Letters and digits of a user name, the rest `_` (imapsync's Message-Id rule).
fn id_part(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The report message, CRLF line ends.
pub fn message(r: &Report<'_>, offset_at: impl Fn(i64) -> i32) -> Vec<u8> {
    #[allow(clippy::cast_possible_truncation)]
    let now = r.now.floor() as i64;
    let s = r.stats;
    let rows = [
        ("Messages transferred", s.transferred.to_string()),
        ("Messages skipped", s.skipped.to_string()),
        ("Messages deleted on host1", s.deleted1.to_string()),
        ("Messages deleted on host2", s.deleted2.to_string()),
        (
            "Folders synced",
            format!("{}/{}", s.folders_synced, s.folders_wanted),
        ),
        ("Errors", r.errors.to_string()),
        ("Duration", format!("{:.0} s", (r.now - r.started).max(0.0))),
    ];
    let mut body = String::new();
    body.push_str(
        "<!DOCTYPE html>\r\n<html lang=\"en\">\r\n<head>\r\n<meta charset=\"utf-8\">\r\n",
    );
    body.push_str(&format!(
        "<title>Account {} synced to {}</title>\r\n</head>\r\n<body>\r\n",
        html(r.user1),
        html(r.user2)
    ));
    body.push_str(&format!(
        "<p>The IMAP account <b>{}</b> on {} has been synced to the account <b>{}</b> on {}.</p>\r\n<table>\r\n",
        html(r.user1),
        html(r.host1),
        html(r.user2),
        html(r.host2)
    ));
    for (k, v) in rows {
        body.push_str(&format!("<tr><td>{k}</td><td>{}</td></tr>\r\n", html(&v)));
    }
    body.push_str("</table>\r\n</body>\r\n</html>\r\n");
    let head = [
        format!(
            "Message-Id: <{}_{}_{}@imapsync-rs>",
            year_month_day_hour_min_sec_ms(r.started, &offset_at),
            id_part(r.user1),
            id_part(r.user2)
        ),
        format!("Date: {}", rfc5322_date(now, offset_at(now))),
        format!("From: {}", one_line(r.from)),
        format!("To: {}", one_line(r.to)),
        "Subject: Imapsync transferred your account".to_string(),
        "MIME-Version: 1.0".to_string(),
        "Content-Type: text/html; charset=utf-8".to_string(),
    ];
    let mut msg = head.join("\r\n");
    msg.push_str("\r\n\r\n");
    msg.push_str(&body);
    msg.into_bytes()
}

/// Appends the reports asked for (a fresh connection per side: the run's are busy or gone).
pub async fn append(ctx: &Ctx) {
    let rc = &ctx.cfg.report;
    let stats = ctx.stats().clone();
    let errors = ctx.errors().nb_errors();
    let now = ctx.started_epoch + ctx.elapsed();
    for (side, wanted, n) in [
        (Side::Host2, rc.emailreport2, 2),
        (Side::Host1, rc.emailreport1, 1),
    ] {
        if !wanted {
            continue;
        }
        let c = &ctx.cfg.side(side).connect;
        let r = Report {
            user1: &ctx.cfg.side1.connect.user,
            user2: &ctx.cfg.side2.connect.user,
            host1: &ctx.cfg.side1.connect.host,
            host2: &ctx.cfg.side2.connect.host,
            to: &c.user,
            from: rc.from.as_deref().unwrap_or(DEFAULT_FROM),
            started: ctx.started_epoch,
            now,
            stats: &stats,
            errors,
        };
        let msg = Bytes::from(message(&r, local_offset));
        let ok = match session::open_quiet(ctx, side).await {
            Some(conn) => {
                let done = conn.run(cmd::append_bytes(b"INBOX", &[], None, msg)).await;
                conn.logout().await;
                matches!(done, Ok(d) if d.is_ok())
            }
            None => false,
        };
        ctx.out.line(format!(
            "{side}: {} the email final report in INBOX. Use --noemailreport{n} to avoid it.",
            if ok {
                "Successfully put"
            } else {
                "Failed to put"
            }
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_message() {
        let stats = Stats {
            transferred: 12,
            skipped: 3,
            folders_synced: 4,
            folders_wanted: 4,
            ..Stats::default()
        };
        let r = Report {
            user1: "sar@ah",
            user2: "<b>x",
            host1: "h1",
            host2: "h2",
            to: "<b>x",
            from: "me@x.org\r\nBcc: evil",
            started: 1_357_902_468.531,
            now: 1_357_902_500.0,
            stats: &stats,
            errors: 1,
        };
        let m = String::from_utf8(message(&r, |_| 3600)).expect("utf8");
        let (head, body) = m.split_once("\r\n\r\n").expect("header and body");
        let fields: Vec<&str> = head.split("\r\n").collect();
        assert_eq!(
            fields[0],
            "Message-Id: <2013_01_11_12_07_48_530_sar_ah__b_x@imapsync-rs>"
        );
        assert_eq!(fields[1], "Date: Fri, 11 Jan 2013 12:08:20 +0100");
        assert_eq!(
            fields[2], "From: me@x.org  Bcc: evil",
            "no header injection"
        );
        assert_eq!(fields[4], "Subject: Imapsync transferred your account");
        assert!(body.contains("<b>sar@ah</b> on h1"));
        assert!(body.contains("<b>&lt;b&gt;x</b>"), "names are escaped");
        assert!(body.contains("<tr><td>Messages transferred</td><td>12</td></tr>"));
        assert!(body.contains("<tr><td>Errors</td><td>1</td></tr>"));
        assert!(!m.contains("\n\n") && m.ends_with("</html>\r\n"));
        assert_eq!(
            rfc5322_date(0, -5 * 3600 - 1800),
            "Wed, 31 Dec 1969 18:30:00 -0530"
        );
    }
}
