//! The set-up decisions, pure and table-tested: how to reach the server, whether to go to TLS
//! and whether a password may be sent, which mechanism logs in. The
//! [states](super::states) only carry them out.

use imapsync_proto::caps::Capabilities;

use super::{AuthMech, Security};
use crate::secret::Secret;

/// How the byte stream is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TransportPlan {
    /// TLS from the first byte on this port.
    ImplicitTls { port: u16 },
    /// Clear TCP on this port (STARTTLS may follow).
    Plain { port: u16 },
    /// imapsync's probe: implicit TLS on 993; only when 993 can not be reached, clear TCP on
    /// 143.
    Probe,
}

/// From `--sslN`, `--tlsN` and the port: explicit `--sslN` or port 993 mean implicit TLS,
/// `--nosslN` or another explicit port a clear start; nothing said probes port 993.
pub(super) fn transport_plan(sec: &Security, port: Option<u16>) -> TransportPlan {
    match (sec.ssl, port) {
        (Some(true), p) => TransportPlan::ImplicitTls {
            port: p.unwrap_or(993),
        },
        (Some(false), p) => TransportPlan::Plain {
            port: p.unwrap_or(143),
        },
        (None, Some(993)) => TransportPlan::ImplicitTls { port: 993 },
        (None, Some(p)) => TransportPlan::Plain { port: p },
        (None, None) if sec.tls == Some(true) => TransportPlan::ImplicitTls { port: 993 },
        (None, None) => TransportPlan::Probe,
    }
}

/// What happens between the greeting and authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TlsStep {
    /// The stream is already encrypted (implicit TLS).
    Encrypted,
    /// Send STARTTLS and start TLS.
    StartTls,
    /// `--tlsN` asked for STARTTLS and the server does not offer it: fail.
    StartTlsNotOffered,
    /// Clear text, asked for explicitly: a password may be sent.
    ClearTextAllowed,
    /// Clear text that nobody asked for: the password must not be sent.
    ClearTextRefused,
}

/// STARTTLS when `--tlsN` says so or, with nothing said, when the server offers it. Without
/// TLS, a password goes only if the user asked for clear text explicitly: `--notlsN` with
/// `--nosslN` or with an explicit port.
pub(super) fn tls_step(sec: &Security, encrypted: bool, starttls_offered: bool) -> TlsStep {
    if encrypted {
        return TlsStep::Encrypted;
    }
    match (sec.tls, starttls_offered) {
        (Some(true), true) | (None, true) => TlsStep::StartTls,
        (Some(true), false) => TlsStep::StartTlsNotOffered,
        (Some(false), _) if sec.ssl == Some(false) || sec.port_given => TlsStep::ClearTextAllowed,
        _ => TlsStep::ClearTextRefused,
    }
}

/// The mechanism that runs: LOGIN becomes SASL PLAIN when an admin identity is given without
/// PROXYAUTH (LOGIN can not carry it) or when the server disables LOGIN but offers PLAIN.
pub(super) fn mechanism(
    asked: &AuthMech,
    authuser: bool,
    proxyauth: bool,
    caps: &Capabilities,
) -> AuthMech {
    let login_to_plain =
        (authuser && !proxyauth) || (caps.has("LOGINDISABLED") && caps.has("AUTH=PLAIN"));
    if *asked == AuthMech::Login && login_to_plain {
        AuthMech::Plain
    } else if *asked == AuthMech::OAuth {
        if !caps.has("AUTH=XOAUTH2") && caps.has("AUTH=OAUTHBEARER") {
            AuthMech::OAuthBearer
        } else {
            AuthMech::XOAuth2
        }
    } else {
        asked.clone()
    }
}

/// After a refused mechanism, LOGIN is tried when `--trylogin` is on, the mechanism was not
/// LOGIN already and no admin identity is involved. Never after an OAuth mechanism: an
/// access token is not a password and must not be sent as one.
pub(super) fn login_fallback(used: &AuthMech, trylogin: bool, authuser: bool) -> bool {
    trylogin && *used != AuthMech::Login && !authuser && !used.is_oauth()
}

/// After a refused OAuth token, one more try on the same connection, with a fresher token,
/// when the token source gives a different one.
pub(super) fn oauth_retry(used: &AuthMech, refused: &Secret, fresher: &Secret) -> bool {
    used.is_oauth() && refused != fresher
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec(ssl: Option<bool>, tls: Option<bool>, port_given: bool) -> Security {
        Security {
            ssl,
            tls,
            port_given,
        }
    }

    #[test]
    fn transport_plans() {
        use TransportPlan::*;
        // (--sslN, --tlsN, explicit port, plan)
        type Row = (Option<bool>, Option<bool>, Option<u16>, TransportPlan);
        let table: &[Row] = &[
            (None, None, None, Probe),
            (None, Some(false), None, Probe),
            // Kept as it was: --tlsN alone connects to 993 with implicit TLS.
            (None, Some(true), None, ImplicitTls { port: 993 }),
            (Some(true), None, None, ImplicitTls { port: 993 }),
            (Some(true), None, Some(1993), ImplicitTls { port: 1993 }),
            (
                Some(true),
                Some(false),
                Some(143),
                ImplicitTls { port: 143 },
            ),
            (Some(false), None, None, Plain { port: 143 }),
            (Some(false), Some(true), None, Plain { port: 143 }),
            (Some(false), None, Some(993), Plain { port: 993 }),
            (Some(false), None, Some(1143), Plain { port: 1143 }),
            (None, None, Some(993), ImplicitTls { port: 993 }),
            (None, Some(true), Some(993), ImplicitTls { port: 993 }),
            (None, None, Some(143), Plain { port: 143 }),
            (None, Some(true), Some(143), Plain { port: 143 }),
            (None, Some(false), Some(10143), Plain { port: 10143 }),
        ];
        for (ssl, tls, port, want) in table {
            let s = sec(*ssl, *tls, port.is_some());
            assert_eq!(
                transport_plan(&s, *port),
                *want,
                "ssl {ssl:?} tls {tls:?} port {port:?}"
            );
        }
    }

    #[test]
    fn tls_steps() {
        use TlsStep::*;
        // (--sslN, --tlsN, explicit port, encrypted already, STARTTLS offered, step)
        type Row = (Option<bool>, Option<bool>, bool, bool, bool, TlsStep);
        let table: &[Row] = &[
            // implicit TLS: nothing more, whatever was said or offered
            (None, None, false, true, true, Encrypted),
            (Some(true), Some(false), false, true, false, Encrypted),
            (None, Some(true), false, true, false, Encrypted),
            // STARTTLS when offered and not forbidden
            (None, None, false, false, true, StartTls),
            (Some(false), None, false, false, true, StartTls),
            (None, None, true, false, true, StartTls),
            (None, Some(true), true, false, true, StartTls),
            (Some(false), Some(true), false, false, true, StartTls),
            // --tlsN and no STARTTLS: an error
            (None, Some(true), true, false, false, StartTlsNotOffered),
            (
                Some(false),
                Some(true),
                false,
                false,
                false,
                StartTlsNotOffered,
            ),
            // clear text only when asked for explicitly
            (
                Some(false),
                Some(false),
                false,
                false,
                true,
                ClearTextAllowed,
            ),
            (
                Some(false),
                Some(false),
                false,
                false,
                false,
                ClearTextAllowed,
            ),
            (None, Some(false), true, false, false, ClearTextAllowed),
            (None, Some(false), true, false, true, ClearTextAllowed),
            // ... and refused otherwise
            (None, None, false, false, false, ClearTextRefused),
            (None, None, true, false, false, ClearTextRefused),
            (Some(false), None, false, false, false, ClearTextRefused),
            (Some(false), None, true, false, false, ClearTextRefused),
            (None, Some(false), false, false, false, ClearTextRefused),
            (None, Some(false), false, false, true, ClearTextRefused),
        ];
        for (ssl, tls, port_given, encrypted, offered, want) in table {
            let s = sec(*ssl, *tls, *port_given);
            assert_eq!(
                tls_step(&s, *encrypted, *offered),
                *want,
                "ssl {ssl:?} tls {tls:?} port given {port_given} encrypted {encrypted} \
                 STARTTLS offered {offered}"
            );
        }
    }

    #[test]
    fn mechanisms() {
        let caps =
            |items: &[&str]| Capabilities::new(items.iter().map(|s| s.to_string()).collect());
        let plain_only = caps(&["IMAP4rev1", "LOGINDISABLED", "AUTH=PLAIN"]);
        let disabled_no_plain = caps(&["IMAP4rev1", "LOGINDISABLED"]);
        let open = caps(&["IMAP4rev1", "AUTH=PLAIN"]);
        let both = caps(&["IMAP4rev1", "AUTH=XOAUTH2", "AUTH=OAUTHBEARER"]);
        let bearer = caps(&["IMAP4rev1", "AUTH=OAUTHBEARER"]);
        let xoauth = caps(&["IMAP4rev1", "AUTH=XOAUTH2"]);
        use AuthMech::*;
        // (asked, --authuserN, --proxyauthN, capabilities, runs)
        let table: &[(AuthMech, bool, bool, &Capabilities, AuthMech)] = &[
            (Login, false, false, &open, Login),
            (Login, true, false, &open, Plain),
            (Login, true, true, &open, Login),
            (Login, false, false, &plain_only, Plain),
            (Login, true, true, &plain_only, Plain),
            (Login, false, false, &disabled_no_plain, Login),
            (CramMd5, true, false, &plain_only, CramMd5),
            (SaslLogin, false, false, &plain_only, SaslLogin),
            (XOAuth2, false, false, &plain_only, XOAuth2),
            (Plain, false, false, &open, Plain),
            // A token: what the server offers, XOAUTH2 first (Gmail offers both,
            // Office 365 XOAUTH2 only), XOAUTH2 when nothing is said; --authmechN wins.
            (OAuth, false, false, &both, XOAuth2),
            (OAuth, false, false, &xoauth, XOAuth2),
            (OAuth, false, false, &bearer, OAuthBearer),
            (OAuth, false, false, &open, XOAuth2),
            (OAuthBearer, false, false, &xoauth, OAuthBearer),
            (XOAuth2, false, false, &bearer, XOAuth2),
        ];
        for (asked, authuser, proxyauth, c, want) in table {
            assert_eq!(
                mechanism(asked, *authuser, *proxyauth, c),
                *want,
                "{asked:?} authuser {authuser} proxyauth {proxyauth} caps {}",
                c.render()
            );
        }
    }

    #[test]
    fn login_fallbacks() {
        use AuthMech::*;
        // (mechanism used, --trylogin, --authuserN, LOGIN tried next)
        let table: &[(AuthMech, bool, bool, bool)] = &[
            (Plain, true, false, true),
            (CramMd5, true, false, true),
            // Never a token as a LOGIN password.
            (XOAuth2, true, false, false),
            (OAuthBearer, true, false, false),
            (XOAuth2Direct, true, false, false),
            (Login, true, false, false),
            (Plain, false, false, false),
            (Plain, true, true, false),
        ];
        for (used, trylogin, authuser, want) in table {
            assert_eq!(
                login_fallback(used, *trylogin, *authuser),
                *want,
                "{used:?} trylogin {trylogin} authuser {authuser}"
            );
        }
    }

    #[test]
    fn oauth_retries() {
        let (a, b) = (Secret::new("a"), Secret::new("b"));
        assert!(oauth_retry(&AuthMech::XOAuth2, &a, &b));
        assert!(oauth_retry(&AuthMech::OAuthBearer, &a, &b));
        assert!(
            !oauth_retry(&AuthMech::XOAuth2, &a, &a),
            "the same token again: no retry"
        );
        assert!(!oauth_retry(&AuthMech::Plain, &a, &b));
    }
}
