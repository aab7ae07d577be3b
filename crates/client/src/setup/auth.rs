//! Authentication: one small piece per mechanism.
//!
//! LOGIN is a command; every SASL mechanism is a [`Sasl`] value (its name, its initial
//! response, its answer to each challenge) driven by the one exchange in
//! [`Wire::sasl`](super::wire::Wire::sasl). A new mechanism is a new [`Sasl`] implementation
//! and an arm in [`run`]. Only the [states](super::states) where a password may be sent can
//! call [`authenticate`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use imapsync_proto::command::cmd;
use imapsync_proto::response::Status;

use super::wire::{Answer, Wire, caps_from};
use super::{AuthMech, ConnectOptions, ntlm, policy};
use crate::error::SetupError;
use crate::oauth::{self, OAuthError, StaticToken, TokenSource};
use crate::secret::Secret;

/// A SASL mechanism (RFC 4422) as the client side of `AUTHENTICATE` runs it.
pub(super) trait Sasl {
    /// The name sent in `AUTHENTICATE`.
    fn name(&self) -> &'static str;
    /// The initial response, base64 (sent on the command line under SASL-IR, else as the
    /// answer to the first challenge).
    fn initial(&mut self) -> Option<String> {
        None
    }
    /// The base64 answer to a (decoded) challenge; `None` aborts the exchange.
    fn respond(&mut self, challenge: &[u8]) -> Option<String>;
}

/// SASL PLAIN (RFC 4616): `authzid NUL authcid NUL password` in one go.
struct Plain<'a> {
    authz: &'a str,
    authc: &'a str,
    pass: &'a str,
}

impl Sasl for Plain<'_> {
    fn name(&self) -> &'static str {
        "PLAIN"
    }
    fn initial(&mut self) -> Option<String> {
        let (authz, authc, pass) = (self.authz, self.authc, self.pass);
        Some(B64.encode(format!("{authz}\0{authc}\0{pass}")))
    }
    fn respond(&mut self, _: &[u8]) -> Option<String> {
        None
    }
}

/// SASL LOGIN: the user name, then the password, each as a challenge's answer.
struct SaslLogin<'a> {
    user: &'a str,
    pass: &'a str,
    step: u32,
}

impl Sasl for SaslLogin<'_> {
    fn name(&self) -> &'static str {
        "LOGIN"
    }
    fn respond(&mut self, _: &[u8]) -> Option<String> {
        self.step += 1;
        Some(B64.encode(if self.step == 1 { self.user } else { self.pass }))
    }
}

/// SASL CRAM-MD5 (RFC 2195): `user hex(HMAC-MD5(password, challenge))`.
struct CramMd5<'a> {
    user: &'a str,
    pass: &'a str,
}

impl Sasl for CramMd5<'_> {
    fn name(&self) -> &'static str {
        "CRAM-MD5"
    }
    fn respond(&mut self, challenge: &[u8]) -> Option<String> {
        let digest = hmac_md5(self.pass.as_bytes(), challenge);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Some(B64.encode(format!("{} {hex}", self.user)))
    }
}

/// SASL XOAUTH2 (Google, Microsoft) and OAUTHBEARER (RFC 7628) with a ready-made initial
/// response. On failure the server sends a JSON error as a challenge, answered with an
/// empty line (XOAUTH2) or a `^A` (OAUTHBEARER); the error is kept for the message.
struct Bearer {
    name: &'static str,
    initial: String,
    error: Option<String>,
    refused: bool,
}

impl Bearer {
    fn new(mech: &AuthMech, user: &str, host: &str, port: u16, token: &Secret) -> Self {
        let (name, initial) = match mech {
            AuthMech::OAuthBearer => ("OAUTHBEARER", oauth::oauthbearer(user, host, port, token)),
            AuthMech::XOAuth2Direct => ("XOAUTH2", token.clone()),
            _ => ("XOAUTH2", oauth::xoauth2(user, token)),
        };
        Bearer {
            name,
            initial: initial.expose().to_string(),
            error: None,
            refused: false,
        }
    }
}

impl Sasl for Bearer {
    fn name(&self) -> &'static str {
        self.name
    }
    fn initial(&mut self) -> Option<String> {
        Some(std::mem::take(&mut self.initial))
    }
    fn respond(&mut self, challenge: &[u8]) -> Option<String> {
        self.refused = true;
        self.error = oauth::describe_challenge(challenge);
        Some(oauth::error_ack(self.name == "OAUTHBEARER"))
    }
}

/// NTLM (MS-NLMP, NTLMv2): NEGOTIATE in answer to the first (empty) challenge, AUTHENTICATE
/// in answer to the server's CHALLENGE. Never sent as a SASL-IR initial response (Exchange
/// and imapsync both wait for the first `+`).
struct Ntlm<'a> {
    cred: ntlm::Credentials<'a>,
    negotiate: Option<Vec<u8>>,
    /// AUTHENTICATE has been sent.
    done: bool,
    /// Why the exchange was aborted, if it was.
    error: Option<String>,
}

impl<'a> Ntlm<'a> {
    fn new(user: &'a str, domain: Option<&'a str>, password: &'a str) -> Self {
        let (domain, user) = policy::ntlm_identity(user, domain);
        Ntlm {
            cred: ntlm::Credentials {
                user,
                domain,
                password,
            },
            negotiate: None,
            done: false,
            error: None,
        }
    }
}

impl Sasl for Ntlm<'_> {
    fn name(&self) -> &'static str {
        "NTLM"
    }
    fn respond(&mut self, challenge: &[u8]) -> Option<String> {
        let Some(negotiate) = &self.negotiate else {
            let m = ntlm::negotiate();
            let answer = B64.encode(&m);
            self.negotiate = Some(m);
            return Some(answer);
        };
        if self.done {
            self.error = Some("the server asked for more after NTLM AUTHENTICATE".into());
            return None;
        }
        match ntlm::parse_challenge(challenge) {
            Ok(chal) => {
                let client_challenge: [u8; 8] = rand::random();
                let m = ntlm::authenticate(
                    &self.cred,
                    negotiate,
                    challenge,
                    &chal,
                    &client_challenge,
                    ntlm::filetime_now(),
                );
                self.done = true;
                Some(B64.encode(m))
            }
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

/// SASL EXTERNAL (RFC 4422 appendix A): the TLS client certificate authenticates; the
/// message is the authorization identity ([`policy::external_authzid`]).
struct External<'a> {
    authzid: &'a str,
}

impl Sasl for External<'_> {
    fn name(&self) -> &'static str {
        "EXTERNAL"
    }
    fn initial(&mut self) -> Option<String> {
        Some(B64.encode(self.authzid))
    }
    fn respond(&mut self, _: &[u8]) -> Option<String> {
        None
    }
}

/// Kerio's X-MASTERAUTH, as imapsync sends it: `X-MASTERAUTH`, the answer to its challenge
/// is `md5_hex(challenge . password)` (not base64), then `X-SETUSER user`. A failure is
/// imapsync's `Failure authenticate with X-MASTERAUTH` (exit 16).
async fn xmasterauth(wire: &mut Wire, opts: &ConnectOptions) -> Result<Answer, SetupError> {
    use md5::{Digest, Md5};
    let pass = opts.password.expose();
    let mut asked = false;
    let c = imapsync_proto::command::Builder::new("X-MASTERAUTH").build();
    let answer = wire
        .challenges(&c, |text| {
            if std::mem::replace(&mut asked, true) {
                return None;
            }
            let digest = Md5::new()
                .chain_update(text.trim())
                .chain_update(pass)
                .finalize();
            Some(digest.iter().map(|b| format!("{b:02x}")).collect())
        })
        .await?;
    let failed = |what: &str, st: &Status| {
        SetupError::Auth(format!(
            "Failure authenticate with X-MASTERAUTH: {what}{}",
            st.full_text()
        ))
    };
    if !answer.1.is_ok() {
        return Err(failed("", &answer.1));
    }
    let set = imapsync_proto::command::Builder::new("X-SETUSER")
        .sp()
        .astring(opts.user.as_bytes())
        .build();
    let set_answer = wire.command(&set).await?;
    if !set_answer.1.is_ok() {
        return Err(failed("X-SETUSER ", &set_answer.1));
    }
    Ok(set_answer)
}

/// Runs one mechanism and returns the server's answer.
async fn run(
    wire: &mut Wire,
    mech: &AuthMech,
    opts: &ConnectOptions,
) -> Result<Answer, SetupError> {
    let user = opts.user.as_str();
    let pass = opts.password.expose();
    // PROXYAUTH: log in as the admin, then switch.
    let login_user = if opts.proxyauth {
        opts.authuser.as_deref().unwrap_or_default()
    } else {
        user
    };
    let answer = match mech {
        AuthMech::Login => {
            wire.command(&cmd::login(login_user.as_bytes(), pass.as_bytes()))
                .await?
        }
        AuthMech::PreAuth => return Err(preauth_refused(opts)),
        AuthMech::Ntlm => {
            let mut m = Ntlm::new(login_user, opts.domain.as_deref(), pass);
            let answer = wire.sasl(&mut m).await?;
            match m.error {
                Some(e) if !answer.1.is_ok() => {
                    return Err(refused_because(opts, &answer.1, "NTLM", &e));
                }
                _ => answer,
            }
        }
        AuthMech::External => {
            let authzid = policy::external_authzid(user, opts.authuser.as_deref());
            wire.sasl(&mut External { authzid }).await?
        }
        AuthMech::XMasterAuth => xmasterauth(wire, opts).await?,
        AuthMech::Plain => {
            let (authz, authc) = match (&opts.authuser, opts.proxyauth) {
                (Some(admin), false) => (user, admin.as_str()),
                _ => ("", login_user),
            };
            wire.sasl(&mut Plain { authz, authc, pass }).await?
        }
        AuthMech::SaslLogin => {
            wire.sasl(&mut SaslLogin {
                user: login_user,
                pass,
                step: 0,
            })
            .await?
        }
        AuthMech::CramMd5 => {
            wire.sasl(&mut CramMd5 {
                user: login_user,
                pass,
            })
            .await?
        }
        AuthMech::XOAuth2 | AuthMech::OAuthBearer | AuthMech::OAuth | AuthMech::XOAuth2Direct => {
            let token = Secret::new(pass);
            let mut b = Bearer::new(mech, user, &opts.host, bearer_port(wire, opts), &token);
            wire.sasl(&mut b).await?
        }
    };
    Ok(answer)
}

/// Logs in (with a LOGIN retry when [`policy::login_fallback`] allows it), refreshes the
/// capabilities, switches user under PROXYAUTH. Returns the name of the mechanism that
/// worked.
pub(super) async fn authenticate(
    wire: &mut Wire,
    opts: &ConnectOptions,
) -> Result<&'static str, SetupError> {
    if policy::preauth_missing(&opts.mech) {
        return Err(preauth_refused(opts));
    }
    let mech = policy::mechanism(
        &opts.mech,
        opts.authuser.is_some(),
        opts.proxyauth,
        &wire.caps,
    );
    if mech.is_oauth() {
        return authenticate_oauth(wire, &mech, opts).await;
    }
    let answer = run(wire, &mech, opts).await?;
    if !answer.1.is_ok() {
        if policy::login_fallback(&mech, opts.trylogin, opts.authuser.is_some()) {
            let user = opts.user.as_bytes();
            let retry = wire
                .command(&cmd::login(user, opts.password.expose().as_bytes()))
                .await?;
            if retry.1.is_ok() {
                if let Some(c) = caps_from(&retry) {
                    wire.caps = c;
                }
                return Ok(AuthMech::Login.name());
            }
        }
        return Err(refused(opts, &answer.1, mech.name()));
    }
    logged_in(wire, &answer).await?;
    if opts.proxyauth {
        let (_, st) = wire.command(&cmd::proxyauth(opts.user.as_bytes())).await?;
        if !st.is_ok() {
            return Err(refused(opts, &st, "PROXYAUTH"));
        }
    }
    Ok(mech.name())
}

/// `--authmechN PREAUTH` and no PREAUTH greeting: imapsync's line (exit 16).
fn preauth_refused(opts: &ConnectOptions) -> SetupError {
    SetupError::Auth(format!(
        "error login on host{} [{}] with user [{}] auth [PREAUTH]: the server did not pre-authenticate the connection (its greeting is not PREAUTH)",
        opts.side.number(),
        opts.host,
        opts.user
    ))
}

fn refused_because(opts: &ConnectOptions, st: &Status, mech: &str, why: &str) -> SetupError {
    match refused(opts, st, mech) {
        SetupError::Auth(text) => SetupError::Auth(format!("{text} ({why})")),
        other => other,
    }
}

/// The capabilities after login: from the answer, else asked.
async fn logged_in(wire: &mut Wire, answer: &Answer) -> Result<(), SetupError> {
    match caps_from(answer) {
        Some(c) => wire.caps = c,
        None => {
            if let Some(c) = wire.capability().await? {
                wire.caps = c;
            }
        }
    }
    Ok(())
}

/// The port named in OAUTHBEARER's `port=`.
fn bearer_port(wire: &Wire, opts: &ConnectOptions) -> u16 {
    opts.port.unwrap_or(if wire.is_tls() { 993 } else { 143 })
}

/// XOAUTH2 / OAUTHBEARER: a token from the side's source, asked on every connection; a
/// refused token is reported to the source, and when it gives a different one (refreshed,
/// or re-read), one more try on the same connection. Never a LOGIN fallback.
async fn authenticate_oauth(
    wire: &mut Wire,
    mech: &AuthMech,
    opts: &ConnectOptions,
) -> Result<&'static str, SetupError> {
    let fallback;
    let source: &dyn TokenSource = match &opts.oauth {
        Some(s) => s.as_ref(),
        None => {
            fallback = StaticToken(opts.password.clone());
            &fallback
        }
    };
    let no_token = |e: OAuthError| {
        SetupError::Auth(format!(
            "Error login on [{}] with user [{}] auth [{}]: can not get an access token from {}: {e}",
            opts.host,
            opts.user,
            mech.name(),
            source.describe()
        ))
    };
    let port = bearer_port(wire, opts);
    let mut token = source.token(None).await.map_err(no_token)?;
    let mut retried = false;
    loop {
        let mut b = Bearer::new(mech, &opts.user, &opts.host, port, &token);
        let answer = match wire.sasl(&mut b).await {
            Ok(a) => a,
            Err(e) => {
                // Refused, then cut off: have the source renew now, so the next connection
                // does not offer the same token again.
                if b.refused && !retried {
                    let _ = source.token(Some(&token)).await;
                }
                return Err(e.into());
            }
        };
        if answer.1.is_ok() {
            logged_in(wire, &answer).await?;
            return Ok(mech.name());
        }
        if !retried {
            let fresher = source.token(Some(&token)).await.map_err(no_token)?;
            if policy::oauth_retry(mech, &token, &fresher) {
                retried = true;
                token = fresher;
                continue;
            }
        }
        let mut e = refused(opts, &answer.1, mech.name());
        if let (SetupError::Auth(text), Some(why)) = (&mut e, &b.error) {
            text.push_str(&format!(" ({why}; token from {})", source.describe()));
        }
        return Err(e);
    }
}

fn refused(opts: &ConnectOptions, st: &Status, mech: &str) -> SetupError {
    SetupError::Auth(format!(
        "Error login on [{}] with user [{}] auth [{}]: {}",
        opts.host,
        opts.user,
        mech,
        st.full_text()
    ))
}

/// HMAC-MD5 (RFC 2104) for CRAM-MD5 and NTLM.
pub(super) fn hmac_md5(key: &[u8], msg: &[u8]) -> [u8; 16] {
    use md5::{Digest, Md5};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&Md5::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for i in 0..64 {
        ipad[i] ^= k[i];
        opad[i] ^= k[i];
    }
    let inner = Md5::new().chain_update(ipad).chain_update(msg).finalize();
    let outer = Md5::new().chain_update(opad).chain_update(inner).finalize();
    outer.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_md5_rfc2202() {
        let hex = |d: [u8; 16]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(hmac_md5(&[0x0b; 16], b"Hi There")),
            "9294727a3638bb1c13f48ef8158bfc9d"
        );
        assert_eq!(
            hex(hmac_md5(b"Jefe", b"what do ya want for nothing?")),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        // RFC 2195 example
        assert_eq!(
            hex(hmac_md5(
                b"tanstaaftanstaaf",
                b"<1896.697170952@postoffice.reston.mci.net>"
            )),
            "b913a602c7eda7a495b4e6e7334d3890"
        );
    }

    #[test]
    fn mechanisms_say_what_the_rfcs_say() {
        let mut plain = Plain {
            authz: "",
            authc: "tim",
            pass: "tanstaaftanstaaf",
        };
        assert_eq!(
            B64.decode(plain.initial().unwrap_or_default()).ok(),
            Some(b"\0tim\0tanstaaftanstaaf".to_vec())
        );
        assert_eq!(plain.respond(b"more?"), None, "PLAIN aborts a second round");

        let mut login = SaslLogin {
            user: "u",
            pass: "p",
            step: 0,
        };
        assert_eq!(login.initial(), None);
        assert_eq!(login.respond(b"Username:").as_deref(), Some("dQ=="));
        assert_eq!(login.respond(b"Password:").as_deref(), Some("cA=="));

        // RFC 2195 §2 example
        let mut cram = CramMd5 {
            user: "tim",
            pass: "tanstaaftanstaaf",
        };
        let answer = cram.respond(b"<1896.697170952@postoffice.reston.mci.net>");
        assert_eq!(
            answer.and_then(|a| B64.decode(a).ok()),
            Some(b"tim b913a602c7eda7a495b4e6e7334d3890".to_vec())
        );

        let mut x = Bearer::new(
            &AuthMech::XOAuth2,
            "someuser@example.com",
            "imap.gmail.com",
            993,
            &Secret::new("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
        );
        assert_eq!(
            x.initial().and_then(|a| B64.decode(a).ok()),
            Some(
                b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
                    .to_vec()
            )
        );
        assert_eq!(x.respond(b"{\"status\":\"401\"}").as_deref(), Some(""));
        assert_eq!(x.error.as_deref(), Some("status=401"));
        let mut o = Bearer::new(
            &AuthMech::OAuthBearer,
            "user@example.com",
            "server.example.com",
            143,
            &Secret::new("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
        );
        assert_eq!(o.name(), "OAUTHBEARER");
        assert_eq!(
            o.initial().and_then(|a| B64.decode(a).ok()),
            Some(b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01".to_vec())
        );
        // RFC 7628 §3.2.3: the error challenge is answered with a single ^A.
        assert_eq!(
            o.respond(b"{\"status\":\"invalid_token\"}").as_deref(),
            Some("AQ==")
        );
    }
}
