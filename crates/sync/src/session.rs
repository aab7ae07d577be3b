//! Sessions: every connection of a run is opened, re-opened and watched here.
//!
//! * [`open`] connects and logs in one side, telling what happened in imapsync's words (the
//!   first connections of a run); a failure is recorded as an error.
//! * [`open_quiet`] opens one more connection for extra work (a split copy, folder sizes at
//!   the end): nothing printed, a failure is not an error.
//! * [`ensure`] gives a worker a live connection, reconnecting with back-off up to
//!   `--reconnectretryN` times.
//! * [`justconnect`] is `--justconnect`: connect both sides, print banners, no login.
//!
//! Every connection gets the same watch: push-backs are reported, host1 enables QRESYNC
//! when offered.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use imapsync_client::{Connection, SessionInfo, SetupError, Side, connect};
use imapsync_proto::command::cmd;

use crate::config::Config;
use crate::ctx::Ctx;
use crate::output::Out;

/// Connects and logs in one side; what happened is printed, a failure recorded with
/// imapsync's wording.
pub async fn open(ctx: &Ctx, side: Side) -> Option<(Connection, SessionInfo)> {
    let o = &ctx.cfg.side(side).connect;
    ctx.out.line(format!(
        "{side}: imap connection timeout is {} seconds",
        o.timeout.map(|t| t.as_secs_f64()).unwrap_or(0.0)
    ));
    ctx.out.line(format!(
        "{side}: connecting and login on {} [{}] port [{}] with user [{}]",
        side.to_string().to_lowercase(),
        o.host,
        o.port
            .map(|p| p.to_string())
            .unwrap_or_else(|| "993/143".into()),
        o.user
    ));
    match connect(o).await {
        Ok((conn, info)) => {
            watch(ctx, &conn);
            ctx.out.lines(&session_lines(side, o, &info));
            Some((conn, info))
        }
        Err(e) => {
            ctx.error(failure_line(side, o, &e));
            None
        }
    }
}

/// What imapsync prints about a new session.
fn session_lines(
    side: Side,
    o: &imapsync_client::ConnectOptions,
    info: &SessionInfo,
) -> Vec<String> {
    let mut lines = vec![
        format!("{side} IP address: {}", info.address),
        format!("{side} banner: {}", info.greeting),
        format!(
            "{side} capability before authentication: {}",
            info.caps_before_login.render()
        ),
    ];
    lines.extend(info.notes.iter().cloned());
    if info.tls {
        lines.push(format!(
            "{side}: {} with certificate {}",
            if info.starttls {
                "STARTTLS"
            } else {
                "implicit TLS"
            },
            if o.tls.verify {
                "verified"
            } else {
                "NOT verified (SSL_verify_mode=0)"
            }
        ));
    }
    lines.push(format!(
        "{side}: success login on [{}] with user [{}] auth [{}]",
        o.host, o.user, info.mech
    ));
    lines.push(format!("{side} capability: {}", info.caps.render()));
    if info.compressed {
        lines.push(format!("{side}: COMPRESS=DEFLATE enabled"));
    }
    lines
}

/// imapsync's wording of a failed connection or login.
fn failure_line(side: Side, o: &imapsync_client::ConnectOptions, e: &SetupError) -> String {
    let n = side.number();
    match e {
        SetupError::Auth(text) => format!("{side} failure: {text}"),
        SetupError::Tls(t) | SetupError::NoEncryption(t) => format!(
            "{side} failure: Can not go to tls encryption on host{n} [{}]: {t}",
            o.host
        ),
        other => format!(
            "{side} failure: can not open imap connection on host{n} [{}] with user [{}]: {other}",
            o.host, o.user
        ),
    }
}

/// Opens and logs in one more connection on `side` (nothing printed, failures not
/// recorded).
pub async fn open_quiet(ctx: &Ctx, side: Side) -> Option<Connection> {
    let c = connect(&ctx.cfg.side(side).connect)
        .await
        .ok()
        .map(|(c, _)| c)?;
    watch(ctx, &c);
    Some(c)
}

/// Prepares a new connection: push-backs are reported; host1 gets QRESYNC when offered.
fn watch(ctx: &Ctx, c: &Connection) {
    ctx.register(c);
    if c.side() == Side::Host1 {
        c.enable_qresync();
    }
    let out = ctx.out.clone();
    let side = c.side();
    c.set_pushback_hook(Arc::new(move |command, status, wait| {
        out.line(format!(
            "{side}: the server pushed back on {command} ({}): waiting {} ms, then sending it again",
            status.full_text(),
            wait.as_millis()
        ));
    }));
}

/// Ensures a live connection on `side`, reconnecting with back-off. `None` after the
/// `--reconnectretryN` attempts, or at once for a worker that is not the last one alive (the
/// run then continues with fewer connections: providers refuse connections beyond their
/// limit).
pub async fn ensure(
    ctx: &Ctx,
    side: Side,
    conn: &mut Option<Connection>,
    alive_workers: &AtomicUsize,
) -> Option<Connection> {
    if let Some(c) = conn.as_ref().filter(|c| c.is_alive()) {
        return Some(c.clone());
    }
    let reconnect = conn.is_some();
    let sc = ctx.cfg.side(side);
    let mut attempt = 0u32;
    loop {
        if reconnect {
            let mut st = ctx.stats();
            match side {
                Side::Host1 => st.reconnect1 += 1,
                Side::Host2 => st.reconnect2 += 1,
            }
        }
        let e = match connect(&sc.connect).await {
            Ok((c, _)) => {
                watch(ctx, &c);
                *conn = Some(c.clone());
                return Some(c);
            }
            Err(e) => e,
        };
        attempt += 1;
        if !reconnect && alive_workers.load(Ordering::SeqCst) > 1 {
            ctx.out.line(format!(
                "{side}: could not open one more connection ({e}); going on with fewer connections"
            ));
            return None;
        }
        if attempt > sc.reconnect_retry || ctx.aborted() {
            // Worded as at the start: a login refused late in a run (an OAuth2 refresh token
            // revoked meanwhile) is an authentication failure, not a connection failure.
            ctx.error(failure_line(side, &sc.connect, &e));
            return None;
        }
        ctx.out.line(format!(
            "{side}: connection attempt {attempt}/{} failed: {e}; retrying",
            sc.reconnect_retry
        ));
        backoff(attempt).await;
    }
}

/// Exponential back-off with jitter: 0.5 s, 1 s, 2 s, ... capped at 30 s, ±25 %.
pub async fn backoff(attempt: u32) {
    let base = 0.5f64 * 2f64.powi(attempt.saturating_sub(1).min(6) as i32);
    let base = base.min(30.0);
    let jitter = 0.75 + rand::random::<f64>() * 0.5;
    tokio::time::sleep(Duration::from_secs_f64(base * jitter)).await;
}

/// Round-trip time of one NOOP, in microseconds.
pub async fn rtt(c: &Connection) -> u64 {
    let t = std::time::Instant::now();
    let _ = c.run(cmd::noop()).await;
    t.elapsed().as_micros() as u64
}

/// `--justconnect` (also implied when only a host is given): connect each given side, TLS
/// included, print its banner and capabilities, no login. Returns the exit code (10 when a
/// side can not be reached) and the number of errors.
pub async fn justconnect(cfg: &Config, out: &Out) -> (i32, u64) {
    let mut errors = 0u64;
    let mut hosts = Vec::new();
    for sc in [&cfg.side1, &cfg.side2] {
        let o = &sc.connect;
        if o.host.is_empty() {
            continue;
        }
        let side = o.side;
        let n = side.number();
        let mut o = o.clone();
        o.no_login = true;
        out.lines(&[
            format!("{side}: Will just connect to {} without login", o.host),
            format!(
                "{side}: connecting on host{n} [{}] port [{}]",
                o.host,
                o.port
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "993/143".into())
            ),
        ]);
        match connect(&o).await {
            Ok((conn, info)) => {
                out.lines(&[
                    format!("{side} IP address: {}", info.address),
                    format!("{side} banner: {}", info.greeting),
                    format!("{side} capability: {}", info.caps.render()),
                ]);
                conn.logout().await;
                hosts.push(o.host.clone());
            }
            Err(e) => {
                out.line(format!(
                    "{side}: Can not open imap connection on [{}]: {e}",
                    o.host
                ));
                errors += 1;
            }
        }
    }
    if errors > 0 {
        return (10, errors);
    }
    out.line(format!(
        "Exiting after a justconnect on host(s): {} ",
        hosts.join(" ")
    ));
    (0, 0)
}
