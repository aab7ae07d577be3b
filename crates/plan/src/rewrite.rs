//! Whole-message rewrites before APPEND: `--skipmess`, `--maxlinelength`,
//! `--disarmreadreceipts`, `--regexmess`, in imapsync's order.

use crate::identity;
use crate::options::MessageConfig;

/// What the rewrites decided for one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rewritten {
    /// Copy it as it is.
    Keep,
    /// Copy this instead.
    Replace(Vec<u8>),
    /// Do not copy it (why, for the message line).
    Skip(String),
}

/// The run has some whole-message rewrite (messages must then be held whole).
pub fn any(m: &MessageConfig) -> bool {
    !m.regexmess.is_empty()
        || !m.skipmess.is_empty()
        || m.disarmreadreceipts
        || m.maxlinelength.is_some()
}

/// Applies the run's rewrites to one message.
pub fn rewrite(m: &MessageConfig, msg: &[u8]) -> Rewritten {
    for e in &m.skipmess {
        match e.is_match_bytes(msg) {
            Ok(true) => return Rewritten::Skip(format!("--skipmess {}", e.source())),
            Ok(false) => {}
            Err(err) => {
                return Rewritten::Skip(format!("--skipmess {} failing: {err}", e.source()));
            }
        }
    }
    if let Some(max) = m.maxlinelength {
        let longest = msg
            .split(|&b| b == b'\n')
            .map(|l| l.len() as u64)
            .max()
            .unwrap_or(0);
        if longest > max {
            return Rewritten::Skip(format!("--maxlinelength {max} (a line of {longest} bytes)"));
        }
    }
    let mut cur: Option<Vec<u8>> = None;
    if m.disarmreadreceipts {
        cur = disarm_read_receipts(msg);
    }
    for e in &m.regexmess {
        let input: &[u8] = cur.as_deref().unwrap_or(msg);
        match e.apply_bytes(input) {
            Ok(out) => cur = Some(out),
            Err(err) => {
                return Rewritten::Skip(format!("--regexmess {} failing: {err}", e.source()));
            }
        }
    }
    match cur {
        Some(v) if v.as_slice() != msg => Rewritten::Replace(v),
        _ => Rewritten::Keep,
    }
}

/// Renames `Disposition-Notification-To:` header lines to `X-Disposition-Notification-To:`
/// (in the header only), so that moved messages do not send read receipts again.
pub fn disarm_read_receipts(msg: &[u8]) -> Option<Vec<u8>> {
    let header_len = identity::header_block(msg).len();
    let (head, body) = msg.split_at(header_len);
    const NAME: &[u8] = b"disposition-notification-to:";
    let mut out = Vec::with_capacity(msg.len() + 8);
    let mut changed = false;
    for line in head.split_inclusive(|&b| b == b'\n') {
        if line.len() >= NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME) {
            out.extend_from_slice(b"X-");
            changed = true;
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(body);
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perlre::PerlExpr;

    fn expr(s: &str) -> PerlExpr {
        PerlExpr::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    const MSG: &[u8] = b"Subject: hi\r\nDisposition-Notification-To: a@b\r\n\r\nbody\r\nDisposition-Notification-To: stays\r\n";

    #[test]
    fn nothing_asked_keeps() {
        let m = MessageConfig::default();
        assert!(!any(&m));
        assert_eq!(rewrite(&m, MSG), Rewritten::Keep);
    }

    #[test]
    fn disarm_only_touches_the_header() {
        let m = MessageConfig {
            disarmreadreceipts: true,
            ..MessageConfig::default()
        };
        let Rewritten::Replace(v) = rewrite(&m, MSG) else {
            panic!("expected a rewrite")
        };
        assert_eq!(
            v,
            b"Subject: hi\r\nX-Disposition-Notification-To: a@b\r\n\r\nbody\r\nDisposition-Notification-To: stays\r\n"
        );
    }

    #[test]
    fn skips_come_first_and_say_why() {
        let m = MessageConfig {
            skipmess: vec![expr("m/Subject: hi/")],
            regexmess: vec![expr("s/body/BODY/")],
            ..MessageConfig::default()
        };
        assert_eq!(
            rewrite(&m, MSG),
            Rewritten::Skip("--skipmess m/Subject: hi/".into())
        );
        let m = MessageConfig {
            maxlinelength: Some(20),
            ..MessageConfig::default()
        };
        let Rewritten::Skip(why) = rewrite(&m, MSG) else {
            panic!("expected a skip")
        };
        assert!(why.starts_with("--maxlinelength 20 (a line of"), "{why}");
    }

    #[test]
    fn regexmess_in_order_after_disarm() {
        let m = MessageConfig {
            disarmreadreceipts: true,
            regexmess: vec![expr("s/X-Disp/Y-Disp/"), expr("s/Y-Disp/Z-Disp/")],
            ..MessageConfig::default()
        };
        let Rewritten::Replace(v) = rewrite(&m, MSG) else {
            panic!("expected a rewrite")
        };
        assert!(v.starts_with(b"Subject: hi\r\nZ-Disposition"));
        // A rule that changes nothing keeps the message as it is.
        let m = MessageConfig {
            regexmess: vec![expr("s/nowhere/x/")],
            ..MessageConfig::default()
        };
        assert_eq!(rewrite(&m, MSG), Rewritten::Keep);
    }
}
