//! Reports from the job store: one record per account as CSV or JSON, imapsync's
//! `file_failures.txt`-style list of the accounts to run again, a self-contained HTML page
//! (summary, per-account table, throughput over time, bytes per account), and the text of
//! `batch status`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use crate::accounts::csv_field;
use crate::plan::JobState;
use crate::store::{BatchConfig, Event, Job};

/// `1.5 MiB`, `800 B`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `45s`, `2m05s`, `3h07m`.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// UNIX seconds as `2026-01-02T03:04:05Z`.
pub fn iso(t: f64) -> String {
    let secs = t.floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

fn rate(j: &Job) -> f64 {
    match j.duration {
        Some(d) if d > 0.0 => j.transferred as f64 / d,
        _ => 0.0,
    }
}

const CSV_HEADER: &[&str] = &[
    "line",
    "host1",
    "user1",
    "host2",
    "user2",
    "status",
    "pass",
    "attempts",
    "exit_code",
    "transferred",
    "skipped",
    "errors",
    "bytes",
    "duration_s",
    "msgs_per_s",
    "started",
    "finished",
    "worker",
    "log_file",
    "last_error",
];

fn record(j: &Job) -> Vec<String> {
    let t = |v: Option<f64>| v.map(iso).unwrap_or_default();
    vec![
        j.line.to_string(),
        j.host1.clone(),
        j.user1.clone(),
        j.host2.clone(),
        j.user2.clone(),
        j.state.as_str().into(),
        j.pass.clone(),
        j.attempts.to_string(),
        j.exit_code.map(|c| c.to_string()).unwrap_or_default(),
        j.transferred.to_string(),
        j.skipped.to_string(),
        j.errors.to_string(),
        j.bytes.to_string(),
        j.duration.map(|d| format!("{d:.3}")).unwrap_or_default(),
        format!("{:.2}", rate(j)),
        t(j.started_at),
        t(j.finished_at),
        j.owner.clone().unwrap_or_default(),
        j.log_file.clone().unwrap_or_default(),
        j.last_error.clone().unwrap_or_default(),
    ]
}

/// One CSV record per account, with a header.
pub fn csv(jobs: &[Job]) -> String {
    let mut out = CSV_HEADER.join(",");
    out.push('\n');
    for j in jobs {
        let r: Vec<String> = record(j).iter().map(|f| csv_field(f)).collect();
        out.push_str(&r.join(","));
        out.push('\n');
    }
    out
}

fn counts(jobs: &[Job]) -> BTreeMap<JobState, u64> {
    let mut c = BTreeMap::new();
    for j in jobs {
        *c.entry(j.state).or_insert(0) += 1;
    }
    c
}

struct Totals {
    transferred: u64,
    skipped: u64,
    errors: u64,
    bytes: u64,
    first: Option<f64>,
    last: Option<f64>,
}

fn totals(jobs: &[Job]) -> Totals {
    let mut t = Totals {
        transferred: 0,
        skipped: 0,
        errors: 0,
        bytes: 0,
        first: None,
        last: None,
    };
    for j in jobs {
        t.transferred += j.transferred;
        t.skipped += j.skipped;
        t.errors += j.errors;
        t.bytes += j.bytes;
        if let Some(s) = j.started_at {
            t.first = Some(t.first.map_or(s, |f: f64| f.min(s)));
        }
        if let Some(f) = j.finished_at {
            t.last = Some(t.last.map_or(f, |l: f64| l.max(f)));
        }
    }
    t
}

/// `{"batch": {...}, "accounts": [...]}`: one object per account, the CSV's fields typed.
pub fn json(jobs: &[Job], cfg: Option<&BatchConfig>, store: &str) -> String {
    use serde_json::{Map, Value, json};
    let accounts: Vec<Value> = jobs
        .iter()
        .map(|j| {
            json!({
                "line": j.line,
                "host1": j.host1, "user1": j.user1, "host2": j.host2, "user2": j.user2,
                "status": j.state.as_str(),
                "pass": j.pass,
                "attempts": j.attempts,
                "exit_code": j.exit_code,
                "transferred": j.transferred,
                "skipped": j.skipped,
                "errors": j.errors,
                "bytes": j.bytes,
                "duration_s": j.duration,
                "msgs_per_s": rate(j),
                "started": j.started_at.map(iso),
                "finished": j.finished_at.map(iso),
                "worker": j.owner,
                "log_file": j.log_file,
                "last_error": j.last_error,
            })
        })
        .collect();
    let mut by_state = Map::new();
    for (s, n) in counts(jobs) {
        by_state.insert(s.as_str().into(), n.into());
    }
    let t = totals(jobs);
    let doc = json!({
        "batch": {
            "store": store,
            "pass": cfg.map(|c| c.pass.clone()),
            "accounts": jobs.len(),
            "by_status": by_state,
            "transferred": t.transferred,
            "skipped": t.skipped,
            "errors": t.errors,
            "bytes": t.bytes,
            "started": t.first.map(iso),
            "finished": t.last.map(iso),
        },
        "accounts": accounts,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// The accounts not done, as account-file lines to run again (imapsync's
/// `file_failures.txt`): the original line when the account file is at hand (`original`:
/// its text), else the line rebuilt from the job store with its password references
/// (an inline password is not in the store: that field is left empty).
pub fn failures(jobs: &[Job], original: Option<&str>) -> String {
    let lines: Vec<&str> = original.map(|t| t.lines().collect()).unwrap_or_default();
    let mut out = String::new();
    for j in jobs.iter().filter(|j| j.state != JobState::Done) {
        let _ = writeln!(
            out,
            "# line {}: {} (exit {}){}",
            j.line,
            j.state.as_str(),
            j.exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
            j.last_error
                .as_ref()
                .map(|e| format!(": {}", e.replace('\n', " ")))
                .unwrap_or_default()
        );
        let original_line = lines
            .get(j.line.wrapping_sub(1))
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| l.contains(&j.user1) && l.contains(&j.user2));
        match original_line {
            Some(l) => {
                let _ = writeln!(out, "{l}");
            }
            None => {
                let secret = |s: &str| {
                    if s == "inline" {
                        String::new()
                    } else {
                        s.to_string()
                    }
                };
                let extra = j
                    .extra
                    .iter()
                    .map(|w| {
                        if w.is_empty()
                            || w.contains(|c: char| c.is_whitespace() || "'\"\\".contains(c))
                        {
                            format!("'{}'", w.replace('\'', "'\\''"))
                        } else {
                            w.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                let _ = writeln!(
                    out,
                    "{};{};{};{};{};{};{};",
                    j.host1,
                    j.user1,
                    secret(&j.secret1),
                    j.host2,
                    j.user2,
                    secret(&j.secret2),
                    extra
                );
            }
        }
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Messages per second over time, in `n` equal buckets from the first start to the last
/// sample. The progress samples are cumulative per run (they start again from zero when an
/// account runs again); the messages between two samples of an account are spread evenly
/// over the time between them (from the start of its run for the first one).
pub fn throughput(jobs: &[Job], events: &[Event], n: usize) -> Vec<(f64, f64)> {
    let start = jobs
        .iter()
        .filter_map(|j| j.started_at)
        .chain(events.iter().map(|e| e.at))
        .fold(f64::INFINITY, f64::min);
    let end = events
        .iter()
        .map(|e| e.at)
        .fold(f64::NEG_INFINITY, f64::max);
    if !start.is_finite() || !end.is_finite() || end <= start || n == 0 {
        return Vec::new();
    }
    let width = (end - start) / n as f64;
    let mut buckets = vec![0f64; n];
    let started: HashMap<i64, f64> = jobs
        .iter()
        .filter_map(|j| j.started_at.map(|s| (j.id, s)))
        .collect();
    let mut last: HashMap<i64, (f64, u64)> = HashMap::new();
    for e in events {
        let (t0, prev) = last.get(&e.job).copied().unwrap_or_else(|| {
            let s = started
                .get(&e.job)
                .copied()
                .filter(|s| *s <= e.at)
                .unwrap_or(e.at);
            (s, 0)
        });
        last.insert(e.job, (e.at, e.transferred));
        let delta = if e.transferred >= prev {
            e.transferred - prev
        } else {
            e.transferred
        } as f64;
        if delta == 0.0 {
            continue;
        }
        let (a, b) = (t0.max(start), e.at.max(t0));
        if b - a < 1e-9 {
            let i = (((b - start) / width) as usize).min(n - 1);
            buckets[i] += delta;
            continue;
        }
        let first = (((a - start) / width) as usize).min(n - 1);
        let last_i = (((b - start) / width) as usize).min(n - 1);
        for (i, bucket) in buckets.iter_mut().enumerate().take(last_i + 1).skip(first) {
            let lo = (start + i as f64 * width).max(a);
            let hi = (start + (i + 1) as f64 * width).min(b);
            if hi > lo {
                *bucket += delta * (hi - lo) / (b - a);
            }
        }
    }
    buckets
        .iter()
        .enumerate()
        .map(|(i, m)| (start + (i as f64 + 0.5) * width, m / width))
        .collect()
}

fn state_colour(s: JobState) -> &'static str {
    match s {
        JobState::Done => "#2e7d32",
        JobState::Running | JobState::Pending | JobState::Retry => "#1565c0",
        JobState::Errors | JobState::Held => "#ef6c00",
        JobState::Failed | JobState::Refused => "#c62828",
    }
}

/// A self-contained HTML page: summary, throughput chart, bytes per account, the table.
pub fn html(
    jobs: &[Job],
    events: &[Event],
    cfg: Option<&BatchConfig>,
    store: &str,
    now: f64,
) -> String {
    let mut h = String::new();
    let t = totals(jobs);
    let span = match (t.first, t.last) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => 0.0,
    };
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>imapsync batch report</title>\n<style>\
body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;font-size:0.9em}}\
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}th{{background:#f0f0f0}}\
td.n{{text-align:right}}.state{{color:#fff;border-radius:3px;padding:1px 6px}}\
svg{{background:#fafafa;border:1px solid #ddd}}small{{color:#666}}\
</style></head><body>\n<h1>imapsync batch report</h1>\n<p><small>store {} · pass {} · made {}</small></p>\n",
        esc(store),
        esc(cfg.map_or("", |c| c.pass.as_str())),
        iso(now)
    );
    h.push_str("<h2>Summary</h2>\n<table>\n");
    let _ = writeln!(
        h,
        "<tr><th>accounts</th><td class=\"n\">{}</td></tr>",
        jobs.len()
    );
    for (s, n) in counts(jobs) {
        let _ = writeln!(
            h,
            "<tr><th><span class=\"state\" style=\"background:{}\">{}</span></th><td class=\"n\">{n}</td></tr>",
            state_colour(s),
            s.as_str()
        );
    }
    for (k, v) in [
        ("messages transferred", t.transferred.to_string()),
        ("messages skipped", t.skipped.to_string()),
        ("errors", t.errors.to_string()),
        (
            "bytes transferred",
            format!("{} ({})", t.bytes, bytes(t.bytes)),
        ),
        ("first start", t.first.map(iso).unwrap_or_default()),
        ("last end", t.last.map(iso).unwrap_or_default()),
        ("wall time", duration(span)),
        (
            "overall rate",
            if span > 0.0 {
                format!(
                    "{:.1} msg/s, {}/s",
                    t.transferred as f64 / span,
                    bytes((t.bytes as f64 / span) as u64)
                )
            } else {
                String::new()
            },
        ),
    ] {
        let _ = writeln!(h, "<tr><th>{k}</th><td class=\"n\">{}</td></tr>", esc(&v));
    }
    h.push_str("</table>\n");
    // Throughput over time.
    let points = throughput(jobs, events, 60);
    h.push_str("<h2>Throughput over time</h2>\n");
    if points.is_empty() {
        h.push_str("<p>No progress samples yet.</p>\n");
    } else {
        let (w, ht, pad) = (720.0, 220.0, 40.0);
        let max = points.iter().map(|p| p.1).fold(0.0f64, f64::max).max(1.0);
        let (t0, t1) = (
            points[0].0,
            points[points.len() - 1].0.max(points[0].0 + 1.0),
        );
        let xy = |(t, v): (f64, f64)| {
            (
                pad + (t - t0) / (t1 - t0) * (w - 2.0 * pad),
                ht - pad - v / max * (ht - 2.0 * pad),
            )
        };
        let poly: Vec<String> = points
            .iter()
            .map(|p| {
                let (x, y) = xy(*p);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = writeln!(
            h,
            "<svg width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" role=\"img\" aria-label=\"messages per second over time\">\
<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"2\" points=\"{}\"/>\
<line x1=\"{pad}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"#999\"/><line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{y0}\" stroke=\"#999\"/>\
<text x=\"{pad}\" y=\"{ty}\" font-size=\"11\">{}</text><text x=\"{x1}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"end\">{}</text>\
<text x=\"4\" y=\"{py}\" font-size=\"11\">{max:.0}</text><text x=\"4\" y=\"{y0}\" font-size=\"11\">0</text>\
<text x=\"{cx}\" y=\"14\" font-size=\"12\" text-anchor=\"middle\">messages per second</text></svg>",
            poly.join(" "),
            esc(&iso(t0)),
            esc(&iso(t1)),
            y0 = ht - pad,
            x1 = w - pad,
            ty = ht - pad + 16.0,
            py = pad + 4.0,
            cx = w / 2.0,
        );
    }
    // Bytes per account.
    h.push_str("<h2>Bytes per account</h2>\n");
    let mut by_bytes: Vec<&Job> = jobs.iter().collect();
    by_bytes.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.line.cmp(&b.line)));
    let shown: Vec<&Job> = by_bytes.into_iter().take(100).collect();
    let max = shown.iter().map(|j| j.bytes).max().unwrap_or(0).max(1);
    let (w, row) = (720.0, 16.0);
    let ht = row * shown.len() as f64 + 10.0;
    let _ = write!(
        h,
        "<svg width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" role=\"img\" aria-label=\"bytes per account\">"
    );
    for (i, j) in shown.iter().enumerate() {
        let y = 5.0 + i as f64 * row;
        let bw = (j.bytes as f64 / max as f64) * (w - 330.0);
        let _ = write!(
            h,
            "<text x=\"4\" y=\"{:.1}\" font-size=\"11\">{}</text><rect x=\"230\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{}</text>",
            y + 11.0,
            esc(&j.user1.chars().take(32).collect::<String>()),
            row - 4.0,
            state_colour(j.state),
            234.0 + bw,
            y + 11.0,
            esc(&bytes(j.bytes))
        );
    }
    h.push_str("</svg>\n");
    if jobs.len() > shown.len() {
        let _ = writeln!(
            h,
            "<p><small>the {} biggest of {} accounts</small></p>",
            shown.len(),
            jobs.len()
        );
    }
    // The table.
    h.push_str("<h2>Accounts</h2>\n<table>\n<tr>");
    for c in CSV_HEADER {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>\n");
    for j in jobs {
        h.push_str("<tr>");
        for (i, f) in record(j).iter().enumerate() {
            if CSV_HEADER[i] == "status" {
                let _ = write!(
                    h,
                    "<td><span class=\"state\" style=\"background:{}\">{}</span></td>",
                    state_colour(j.state),
                    esc(f)
                );
            } else if f.parse::<f64>().is_ok() {
                let _ = write!(h, "<td class=\"n\">{}</td>", esc(f));
            } else {
                let _ = write!(h, "<td>{}</td>", esc(f));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n</body></html>\n");
    h
}

/// What `batch status` prints.
pub fn status(jobs: &[Job], cfg: Option<&BatchConfig>, store: &str, now: f64) -> String {
    let mut s = String::new();
    let t = totals(jobs);
    let _ = writeln!(
        s,
        "Batch {store}: pass {:?}, {} accounts",
        cfg.map_or("", |c| c.pass.as_str()),
        jobs.len()
    );
    let by: Vec<String> = counts(jobs)
        .iter()
        .map(|(k, n)| format!("{} {n}", k.as_str()))
        .collect();
    let _ = writeln!(s, "  {}", by.join(", "));
    let span = t.first.map(|f| now - f).unwrap_or(0.0);
    let _ = writeln!(
        s,
        "  {} messages transferred, {} skipped, {} errors, {}; first start {} ago",
        t.transferred,
        t.skipped,
        t.errors,
        bytes(t.bytes),
        duration(span)
    );
    let running: Vec<&Job> = jobs
        .iter()
        .filter(|j| j.state == JobState::Running)
        .collect();
    if !running.is_empty() {
        let _ = writeln!(s, "Running:");
        for j in running {
            let lease = j.lease_until.map(|l| l - now).unwrap_or(0.0);
            let _ = writeln!(
                s,
                "  line {:<5} {}  {} msgs  {}  for {}  worker {}  {}",
                j.line,
                j.name(),
                j.transferred,
                bytes(j.bytes),
                duration(now - j.started_at.unwrap_or(now)),
                j.owner.as_deref().unwrap_or("?"),
                if lease >= 0.0 {
                    format!("lease {}", duration(lease))
                } else {
                    format!(
                        "LEASE EXPIRED {} ago (worker gone? another takes it over)",
                        duration(-lease)
                    )
                }
            );
        }
    }
    let waiting: Vec<&Job> = jobs.iter().filter(|j| j.state == JobState::Retry).collect();
    if !waiting.is_empty() {
        let _ = writeln!(s, "Waiting to retry:");
        for j in waiting {
            let _ = writeln!(
                s,
                "  line {:<5} {}  attempt {}  in {}: {}",
                j.line,
                j.name(),
                j.attempts,
                duration(j.not_before.map(|n| n - now).unwrap_or(0.0)),
                j.last_error.as_deref().unwrap_or("")
            );
        }
    }
    let bad: Vec<&Job> = jobs
        .iter()
        .filter(|j| {
            matches!(
                j.state,
                JobState::Errors | JobState::Failed | JobState::Held | JobState::Refused
            )
        })
        .collect();
    if !bad.is_empty() {
        let _ = writeln!(s, "Need attention:");
        for j in bad {
            let _ = writeln!(
                s,
                "  line {:<5} {}  {} (exit {}): {}",
                j.line,
                j.name(),
                j.state.as_str(),
                j.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
                j.last_error.as_deref().unwrap_or("")
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(line: usize, user: &str, state: JobState) -> Job {
        Job {
            id: line as i64,
            key: user.into(),
            line,
            host1: "h1".into(),
            user1: user.into(),
            secret1: "inline".into(),
            host2: "h2".into(),
            user2: user.into(),
            secret2: "env:PW".into(),
            extra: vec!["--exclude".into(), "All Mail".into()],
            conns: 4,
            state,
            pass: "prestage".into(),
            attempts: 1,
            total_attempts: 1,
            owner: None,
            lease_until: None,
            not_before: None,
            reserved: 0,
            started_at: Some(1_767_225_600.0),
            finished_at: Some(1_767_225_610.0),
            duration: Some(10.0),
            exit_code: Some(if state == JobState::Done { 0 } else { 161 }),
            transferred: 20,
            skipped: 1,
            errors: 0,
            bytes: 2048,
            last_error: (state != JobState::Done).then(|| "Host1 failure: <bad>, \"login\"".into()),
            log_file: Some("LOG_imapsync/x.txt".into()),
        }
    }

    #[test]
    fn formats() {
        assert_eq!(bytes(800), "800 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(duration(125.0), "2m05s");
        assert_eq!(duration(3.0 * 3600.0 + 420.0), "3h07m");
        assert_eq!(iso(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_767_225_600.0), "2026-01-01T00:00:00Z");
        assert_eq!(iso(951_782_400.0 + 3661.0), "2000-02-29T01:01:01Z");
    }

    #[test]
    fn csv_and_json_have_one_record_per_account() {
        let jobs = vec![
            job(1, "a", JobState::Done),
            job(3, "b,c", JobState::Refused),
        ];
        let c = csv(&jobs);
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("line,host1,user1"));
        assert!(lines[2].starts_with("3,h1,\"b,c\",h2,\"b,c\",refused,prestage,1,161,20,1,0,2048,10.000,2.00,2026-01-01T00:00:00Z"));
        assert!(
            lines[2].ends_with(",\"Host1 failure: <bad>, \"\"login\"\"\""),
            "{}",
            lines[2]
        );
        let j: serde_json::Value = serde_json::from_str(&json(&jobs, None, "s")).expect("json");
        assert_eq!(j["accounts"].as_array().map(Vec::len), Some(2));
        assert_eq!(j["accounts"][1]["status"], "refused");
        assert_eq!(j["accounts"][1]["exit_code"], 161);
        assert_eq!(j["batch"]["by_status"]["done"], 1);
        assert_eq!(j["batch"]["transferred"], 40);
    }

    #[test]
    fn failures_are_lines_to_run_again() {
        let jobs = vec![job(1, "a", JobState::Done), job(2, "b", JobState::Refused)];
        let original = "h1;a;pa;h2;a;pa\nh1;b;pb;h2;b;pb;--x 1\n";
        let f = failures(&jobs, Some(original));
        assert_eq!(
            f.lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>(),
            ["h1;b;pb;h2;b;pb;--x 1"]
        );
        let rebuilt = failures(&jobs, None);
        assert!(
            rebuilt.contains("h1;b;;h2;b;env:PW;--exclude 'All Mail';"),
            "{rebuilt}"
        );
    }

    #[test]
    fn html_is_escaped_and_has_its_charts() {
        let jobs = vec![
            job(1, "a", JobState::Done),
            job(2, "<script>", JobState::Refused),
        ];
        let events = vec![
            Event {
                job: 1,
                at: 1_767_225_605.0,
                transferred: 10,
                bytes: 1000,
            },
            Event {
                job: 1,
                at: 1_767_225_610.0,
                transferred: 20,
                bytes: 2048,
            },
        ];
        let h = html(&jobs, &events, None, "store", 1_767_225_700.0);
        assert!(!h.contains("<script>"));
        assert!(h.contains("&lt;script&gt;"));
        assert!(h.contains("<polyline"));
        assert!(h.contains("aria-label=\"bytes per account\""));
        // 10 messages over the first 5 s (from the start), 10 over the next 5 s.
        let t = throughput(&jobs, &events, 2);
        assert_eq!(t.len(), 2);
        assert!(
            (t[0].1 - 2.0).abs() < 1e-9 && (t[1].1 - 2.0).abs() < 1e-9,
            "{t:?}"
        );
    }
}
