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
    /// imapsync's probe (`--sslcheck`): implicit TLS on 993; when 993 can not be had, clear
    /// TCP on 143 (see [`probe_falls_back`]).
    Probe,
}

/// What the probe of port 993 found on an earlier connection of this run (later connections
/// of the same side go the same way without probing again, as imapsync probes once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probed {
    /// Port 993 spoke TLS: implicit TLS on 993.
    Tls,
    /// It did not: port 143.
    Clear,
}

/// From `--sslN`, `--tlsN`, `--sslcheck` and the port, as imapsync decides it: explicit
/// `--sslN` or port 993 mean implicit TLS, `--nosslN` or another explicit port a clear start;
/// `--tlsN` alone means STARTTLS on 143; with nothing said, port 993 is probed (or, under
/// `--nosslcheck`, 143 is used). Unlike imapsync, `--notlsN` alone still probes 993 (TLS
/// where it can be had rather than clear text).
pub(super) fn transport_plan(
    sec: &Security,
    port: Option<u16>,
    probed: Option<Probed>,
) -> TransportPlan {
    match (sec.ssl, port) {
        (Some(true), p) => TransportPlan::ImplicitTls {
            port: p.unwrap_or(993),
        },
        (Some(false), p) => TransportPlan::Plain {
            port: p.unwrap_or(143),
        },
        (None, Some(993)) => TransportPlan::ImplicitTls { port: 993 },
        (None, Some(p)) => TransportPlan::Plain { port: p },
        (None, None) if sec.tls == Some(true) || sec.no_sslcheck => {
            TransportPlan::Plain { port: 143 }
        }
        (None, None) => match probed {
            Some(Probed::Tls) => TransportPlan::ImplicitTls { port: 993 },
            Some(Probed::Clear) => TransportPlan::Plain { port: 143 },
            None => TransportPlan::Probe,
        },
    }
}

/// How the probe of port 993 failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ProbeFailure {
    /// Nothing answers on 993 (refused, unreachable, no answer in time).
    Unreachable,
    /// Something answers but no TLS session could be made (not TLS, no common protocol).
    Handshake,
    /// A TLS server whose certificate fails verification.
    Certificate,
}

/// Whether the probe goes on with port 143. imapsync falls back on any failure; a
/// certificate that fails verification stops here instead: it is the answer the user needs
/// (a silent move to 143 would hide it).
pub(super) fn probe_falls_back(failure: ProbeFailure) -> bool {
    match failure {
        ProbeFailure::Unreachable | ProbeFailure::Handshake => true,
        ProbeFailure::Certificate => false,
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
    /// `--sslN --tlsN`: STARTTLS inside TLS, which fails (imapsync: the server answers
    /// `BAD TLS is already active`, exit 12). Refused without asking.
    StartTlsInsideTls,
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
        if sec.ssl == Some(true) && sec.tls == Some(true) {
            return TlsStep::StartTlsInsideTls;
        }
        return TlsStep::Encrypted;
    }
    match (sec.tls, starttls_offered) {
        (Some(true), true) | (None, true) => TlsStep::StartTls,
        (Some(true), false) => TlsStep::StartTlsNotOffered,
        (Some(false), _) if sec.ssl == Some(false) || sec.port_given => TlsStep::ClearTextAllowed,
        _ => TlsStep::ClearTextRefused,
    }
}

/// What a PREAUTH greeting (logged in by the server, RFC 3501 §7.1.4) leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PreauthStep {
    /// Go on: encrypted, or clear text the user asked for.
    Accept,
    /// TLS was due (STARTTLS asked for or offered) but STARTTLS is not possible any more
    /// once authenticated: a TLS failure, as imapsync's refused STARTTLS is. A PREAUTH
    /// greeting on a clear connection is also how an attacker strips STARTTLS.
    TlsImpossible,
    /// Clear text nobody asked for: the session (mail, not a password) would travel in
    /// clear; refused like a clear-text login.
    ClearTextRefused,
}

/// A PREAUTH greeting gets the same rule as a login: the session may run where a password
/// may go ([`tls_step`]).
pub(super) fn preauth_step(sec: &Security, encrypted: bool, starttls_offered: bool) -> PreauthStep {
    match tls_step(sec, encrypted, starttls_offered) {
        TlsStep::Encrypted | TlsStep::ClearTextAllowed => PreauthStep::Accept,
        TlsStep::StartTls | TlsStep::StartTlsNotOffered | TlsStep::StartTlsInsideTls => {
            PreauthStep::TlsImpossible
        }
        TlsStep::ClearTextRefused => PreauthStep::ClearTextRefused,
    }
}

/// `--authmechN PREAUTH` and a server that greeted with OK (not PREAUTH): a failed login
/// (imapsync exits 16), nothing is sent.
pub(super) fn preauth_missing(asked: &AuthMech) -> bool {
    *asked == AuthMech::PreAuth
}

/// The authorization identity SASL EXTERNAL sends: empty (the certificate's identity) unless
/// an admin certificate acts for `--userN` (`--authuserN` given).
pub(super) fn external_authzid<'a>(user: &'a str, authuser: Option<&str>) -> &'a str {
    if authuser.is_some() { user } else { "" }
}

/// The NTLM domain and user: `--domainN` when given, else the `DOMAIN\user` form of the
/// user; otherwise no domain (a UPN `user@domain` goes as it is).
pub(super) fn ntlm_identity<'a>(user: &'a str, domain: Option<&'a str>) -> (&'a str, &'a str) {
    match (domain, user.split_once('\\')) {
        (Some(d), _) => (d, user),
        (None, Some((d, u))) => (d, u),
        (None, None) => ("", user),
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
/// LOGIN already and no admin identity is involved. Never after an OAuth mechanism (an
/// access token is not a password and must not be sent as one), nor after EXTERNAL (no
/// password was given for it) or X-MASTERAUTH (imapsync stops there, exit 16).
pub(super) fn login_fallback(used: &AuthMech, trylogin: bool, authuser: bool) -> bool {
    let retryable = !matches!(
        used,
        AuthMech::Login | AuthMech::External | AuthMech::XMasterAuth | AuthMech::PreAuth
    );
    trylogin && retryable && !authuser && !used.is_oauth()
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
            no_sslcheck: false,
        }
    }

    #[test]
    fn transport_plans() {
        use TransportPlan::*;
        // (--sslN, --tlsN, explicit port, plan)
        type Row = (Option<bool>, Option<bool>, Option<u16>, TransportPlan);
        let table: &[Row] = &[
            (None, None, None, Probe),
            // Unlike imapsync (143 in clear text): TLS on 993 when it can be had.
            (None, Some(false), None, Probe),
            // As imapsync: --tlsN alone is STARTTLS on 143, no probe.
            (None, Some(true), None, Plain { port: 143 }),
            (Some(true), None, None, ImplicitTls { port: 993 }),
            (Some(true), Some(true), None, ImplicitTls { port: 993 }),
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
                transport_plan(&s, *port, None),
                *want,
                "ssl {ssl:?} tls {tls:?} port {port:?}"
            );
        }
    }

    #[test]
    fn the_probe_is_made_once_and_only_when_asked_for() {
        use TransportPlan::*;
        // (--nosslcheck, --tlsN, what an earlier probe found, plan)
        type Row = (bool, Option<bool>, Option<Probed>, TransportPlan);
        let table: &[Row] = &[
            (false, None, None, Probe),
            (false, None, Some(Probed::Tls), ImplicitTls { port: 993 }),
            (false, None, Some(Probed::Clear), Plain { port: 143 }),
            (
                false,
                Some(false),
                Some(Probed::Tls),
                ImplicitTls { port: 993 },
            ),
            // --nosslcheck: imapsync's port 143 (then STARTTLS when offered).
            (true, None, None, Plain { port: 143 }),
            (true, Some(false), None, Plain { port: 143 }),
            (true, None, Some(Probed::Tls), Plain { port: 143 }),
            (false, Some(true), Some(Probed::Tls), Plain { port: 143 }),
        ];
        for (no_sslcheck, tls, probed, want) in table {
            let s = Security {
                no_sslcheck: *no_sslcheck,
                ..sec(None, *tls, false)
            };
            assert_eq!(
                transport_plan(&s, None, *probed),
                *want,
                "nosslcheck {no_sslcheck} tls {tls:?} probed {probed:?}"
            );
        }
        // An explicit --sslN or port is never overridden by an earlier probe.
        let s = sec(Some(false), None, false);
        assert_eq!(
            transport_plan(&s, None, Some(Probed::Tls)),
            Plain { port: 143 }
        );
        let s = sec(None, None, true);
        assert_eq!(
            transport_plan(&s, Some(1143), Some(Probed::Tls)),
            Plain { port: 1143 }
        );
    }

    #[test]
    fn probe_fallbacks() {
        use ProbeFailure::*;
        let table = [(Unreachable, true), (Handshake, true), (Certificate, false)];
        for (failure, want) in table {
            assert_eq!(probe_falls_back(failure), want, "{failure:?}");
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
            (None, Some(true), true, true, false, Encrypted),
            // --sslN --tlsN: STARTTLS inside TLS
            (
                Some(true),
                Some(true),
                false,
                true,
                false,
                StartTlsInsideTls,
            ),
            (Some(true), Some(true), true, true, true, StartTlsInsideTls),
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
    fn preauth_steps() {
        use PreauthStep::*;
        // (--sslN, --tlsN, explicit port, encrypted, STARTTLS offered, step)
        type Row = (Option<bool>, Option<bool>, bool, bool, bool, PreauthStep);
        let table: &[Row] = &[
            // encrypted: fine
            (None, None, false, true, false, Accept),
            (Some(true), None, true, true, false, Accept),
            (None, Some(true), true, true, false, Accept),
            // clear text asked for: fine, no password is sent anyway
            (Some(false), Some(false), false, false, false, Accept),
            (None, Some(false), true, false, true, Accept),
            // TLS was due: STARTTLS is impossible after PREAUTH
            (None, Some(true), false, false, true, TlsImpossible),
            (None, Some(true), true, false, false, TlsImpossible),
            (None, None, true, false, true, TlsImpossible),
            (Some(true), Some(true), false, true, false, TlsImpossible),
            // clear text nobody asked for
            (None, None, true, false, false, ClearTextRefused),
            (None, None, false, false, false, ClearTextRefused),
            (Some(false), None, false, false, false, ClearTextRefused),
        ];
        for (ssl, tls, port_given, encrypted, offered, want) in table {
            let s = sec(*ssl, *tls, *port_given);
            assert_eq!(
                preauth_step(&s, *encrypted, *offered),
                *want,
                "ssl {ssl:?} tls {tls:?} port given {port_given} encrypted {encrypted} \
                 STARTTLS offered {offered}"
            );
        }
    }

    #[test]
    fn preauth_asked_for_and_not_given() {
        use AuthMech::*;
        for (asked, want) in [
            (PreAuth, true),
            (Login, false),
            (Plain, false),
            (Ntlm, false),
            (External, false),
        ] {
            assert_eq!(preauth_missing(&asked), want, "{asked:?}");
        }
    }

    #[test]
    fn external_and_ntlm_identities() {
        assert_eq!(external_authzid("joe", None), "");
        assert_eq!(external_authzid("joe", Some("admin")), "joe");
        // (user, --domainN, (domain, user))
        let table = [
            ("joe", None, ("", "joe")),
            ("joe", Some("CORP"), ("CORP", "joe")),
            ("CORP\\joe", None, ("CORP", "joe")),
            ("CORP\\joe", Some("OTHER"), ("OTHER", "CORP\\joe")),
            ("joe@corp.example", None, ("", "joe@corp.example")),
        ];
        for (user, domain, want) in table {
            assert_eq!(ntlm_identity(user, domain), want, "{user} {domain:?}");
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
            (Ntlm, false, false, &plain_only, Ntlm),
            (External, true, false, &plain_only, External),
            (XMasterAuth, false, false, &plain_only, XMasterAuth),
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
            (Ntlm, true, false, true),
            (External, true, false, false),
            (XMasterAuth, true, false, false),
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
