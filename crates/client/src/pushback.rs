//! What to do when a server pushes back (RFC 5530 response codes and the throttling texts
//! of the big providers).
//!
//! | answer | decision |
//! |---|---|
//! | `[LIMIT]`, `[INUSE]`, `[UNAVAILABLE]`, `[THROTTLED]`, Office 365's `Request is throttled. Suggested Backoff Time: N milliseconds`, Gmail's `Too many simultaneous connections` | [`PushBack::Retry`] after a delay (the suggested one when given) |
//! | `[TOOBIG]`, `[LIMIT]` about the message size, the size texts imapsync knows | [`PushBack::TooBig`]: skip the message and report it |
//! | `[OVERQUOTA]` | [`PushBack::OverQuota`]: stop, exit 113 |
//! | anything else | [`PushBack::Fail`]: an error for this message, the others go on |

use std::time::Duration;

use imapsync_proto::response::Status;

/// The decision for a refused command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushBack {
    Retry(Duration),
    TooBig,
    OverQuota,
    Fail,
}

/// Delay when a transient refusal suggests none.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Longest delay we accept from a server's suggestion.
pub const MAX_SUGGESTED_DELAY: Duration = Duration::from_secs(120);

/// Decides from the response code (upper-case atom, if any) and the text.
pub fn classify(code: Option<&str>, text: &str) -> PushBack {
    let lower = text.to_ascii_lowercase();
    let about_size = lower.contains("too large")
        || lower.contains("too big")
        || lower.contains("message size")
        || lower.contains("mail size")
        || lower.contains("maximum size");
    match code.map(str::to_ascii_uppercase).as_deref() {
        Some("OVERQUOTA") => return PushBack::OverQuota,
        Some("TOOBIG") => return PushBack::TooBig,
        Some("LIMIT") if about_size => return PushBack::TooBig,
        Some("LIMIT") | Some("INUSE") | Some("UNAVAILABLE") | Some("THROTTLED") => {
            return PushBack::Retry(suggested_delay(&lower).unwrap_or(DEFAULT_RETRY_DELAY));
        }
        _ => {}
    }
    if let Some(d) = suggested_delay(&lower) {
        return PushBack::Retry(d);
    }
    if lower.contains("throttl")
        || lower.contains("too many simultaneous")
        || lower.contains("try again later")
    {
        return PushBack::Retry(DEFAULT_RETRY_DELAY);
    }
    if lower.contains("quota") && (lower.contains("exceed") || lower.contains("full")) {
        return PushBack::OverQuota;
    }
    if about_size || lower.contains("maximum message size exceeded") {
        return PushBack::TooBig;
    }
    PushBack::Fail
}

/// Office 365: `Suggested Backoff Time: 2000 milliseconds`.
fn suggested_delay(lower: &str) -> Option<Duration> {
    let at = lower.find("backoff time:")? + "backoff time:".len();
    let digits: String = lower[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let n: u64 = digits.parse().ok()?;
    let unit_secs = lower[at..].contains("second") && !lower[at..].contains("millisecond");
    let d = if unit_secs {
        Duration::from_secs(n)
    } else {
        Duration::from_millis(n)
    };
    Some(d.min(MAX_SUGGESTED_DELAY))
}

/// The decision for a refused command's tagged answer.
pub fn of_status(status: &Status) -> PushBack {
    classify(status.code.as_ref().map(|c| c.name()), &status.text)
}

/// How long to wait before the n-th retry (1-based) of a command refused as busy: what the
/// server suggests, at least the back-off. `None` when the refusal is not transient.
pub fn retry_wait(status: &Status, attempt: u32) -> Option<Duration> {
    match of_status(status) {
        PushBack::Retry(delay) => Some(delay.max(backoff(attempt))),
        _ => None,
    }
}

/// Exponential back-off for the n-th retry (1-based): 0.5 s, 1 s, 2 s, ... capped at 30 s.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 500u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(6));
    Duration::from_millis(ms.min(30_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        assert_eq!(
            classify(Some("OVERQUOTA"), "Quota exceeded"),
            PushBack::OverQuota
        );
        assert_eq!(
            classify(Some("TOOBIG"), "Message too big"),
            PushBack::TooBig
        );
        assert_eq!(
            classify(Some("LIMIT"), "Mail size is too large"),
            PushBack::TooBig
        );
        assert_eq!(
            classify(Some("LIMIT"), "Too many commands"),
            PushBack::Retry(DEFAULT_RETRY_DELAY)
        );
        assert_eq!(
            classify(Some("INUSE"), "Mailbox locked"),
            PushBack::Retry(DEFAULT_RETRY_DELAY)
        );
        assert_eq!(
            classify(Some("UNAVAILABLE"), "try later"),
            PushBack::Retry(DEFAULT_RETRY_DELAY)
        );
        assert_eq!(
            classify(
                None,
                "Request is throttled. Suggested Backoff Time: 2500 milliseconds"
            ),
            PushBack::Retry(Duration::from_millis(2500))
        );
        assert_eq!(
            classify(
                None,
                "Request is throttled. Suggested Backoff Time: 999999999 milliseconds"
            ),
            PushBack::Retry(MAX_SUGGESTED_DELAY)
        );
        assert_eq!(
            classify(Some("THROTTLED"), "slow down"),
            PushBack::Retry(DEFAULT_RETRY_DELAY)
        );
        assert_eq!(
            classify(None, "Too many simultaneous connections"),
            PushBack::Retry(DEFAULT_RETRY_DELAY)
        );
        assert_eq!(
            classify(None, "maximum message size exceeded"),
            PushBack::TooBig
        );
        assert_eq!(classify(None, "Mailbox is read-only"), PushBack::Fail);
        assert_eq!(classify(Some("CANNOT"), "nope"), PushBack::Fail);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(20), Duration::from_secs(30));
    }
}
