//! The local OAuth2 server and Dovecot's oauth2 passdb: tokens accepted while alive and for
//! their own user only, the grants and their refusals, service-account JWT checks.

use std::time::Duration;

use imapsync_testkit::{Dovecot, Layout, OAuthServer, TestImap};

fn post(url: &str, form: &str) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (auth, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(auth).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {auth}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap())
}

#[test]
fn dovecot_accepts_live_tokens_of_the_right_user_only() {
    let o = OAuthServer::start().unwrap();
    let d = Dovecot::builder(Layout::Slash)
        .oauth2(&o.introspection_url())
        .start()
        .unwrap();
    let good = o.issue_access_token("user1", Duration::from_secs(3));
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    assert!(c.has_capability("AUTH=XOAUTH2") && c.has_capability("AUTH=OAUTHBEARER"));
    c.authenticate_xoauth2("user1", &good).unwrap();
    c.select("INBOX").unwrap();
    // Another user's token, an unknown token: refused.
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    assert!(c.authenticate_xoauth2("user2", &good).is_err());
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    assert!(c.authenticate_xoauth2("user1", "at-forged").is_err());
    // Passwords still work.
    d.connect("user2").unwrap();
    // Expired: refused.
    std::thread::sleep(Duration::from_millis(3200));
    let mut c = TestImap::connect(d.host(), d.port()).unwrap();
    let e = c.authenticate_xoauth2("user1", &good).unwrap_err();
    assert!(e.to_string().contains("AUTHENTICATIONFAILED"), "{e}");
    let s = o.stats();
    assert!(
        s.introspect_active >= 2 && s.introspect_inactive >= 2,
        "{s:?}"
    );
}

#[test]
fn grants_and_refusals() {
    let o = OAuthServer::start().unwrap();
    o.add_client("app", Some("s3cret"));
    o.add_client("public", None);
    o.set_rotate_refresh_tokens(true);
    let rt = o.issue_refresh_token("user1", "app");
    let (st, v) = post(
        &o.token_url(),
        &format!("grant_type=refresh_token&refresh_token={rt}&client_id=app&client_secret=s3cret"),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    let rotated = v["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rotated, rt);
    // The old one is spent, a wrong secret is refused, a revoked token is invalid_grant.
    let (st, v) = post(
        &o.token_url(),
        &format!("grant_type=refresh_token&refresh_token={rt}&client_id=app&client_secret=s3cret"),
    );
    assert_eq!((st, v["error"].as_str()), (400, Some("invalid_grant")));
    let (st, v) = post(
        &o.token_url(),
        &format!("grant_type=refresh_token&refresh_token={rotated}&client_id=app&client_secret=no"),
    );
    assert_eq!((st, v["error"].as_str()), (401, Some("invalid_client")));
    o.revoke_user("user1");
    let (_, v) = post(
        &o.token_url(),
        &format!(
            "grant_type=refresh_token&refresh_token={rotated}&client_id=app&client_secret=s3cret"
        ),
    );
    assert_eq!(v["error"], "invalid_grant");
    // App-only tokens: only for a confidential client granted a mailbox.
    let (_, v) = post(
        &o.token_url(),
        "grant_type=client_credentials&client_id=app&client_secret=s3cret&scope=x",
    );
    assert_eq!(v["error"], "unauthorized_client");
    o.grant_app_access("app", "user2");
    let (st, _) = post(
        &o.token_url(),
        "grant_type=client_credentials&client_id=app&client_secret=s3cret&scope=x",
    );
    assert_eq!(st, 200);
    // Discovery names absolute endpoints.
    let (st, v) = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(o.url().strip_prefix("http://").unwrap()).unwrap();
        write!(s, "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", o.url().strip_prefix("http://").unwrap()).unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        let (h, b) = raw.split_once("\r\n\r\n").unwrap();
        (
            h.split_whitespace().nth(1).unwrap().to_string(),
            serde_json::from_str::<serde_json::Value>(b).unwrap(),
        )
    };
    assert_eq!(st, "200");
    assert_eq!(v["token_endpoint"], o.token_url());
    let s = o.stats();
    assert_eq!((s.refresh_grants, s.client_credentials_grants), (1, 1));
}

#[test]
fn forged_or_misaddressed_assertions_are_refused() {
    let o = OAuthServer::start().unwrap();
    let key = o
        .service_account("sync@project.iam.gserviceaccount.com")
        .unwrap();
    let text = std::fs::read_to_string(&key).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["type"], "service_account");
    assert_eq!(v["token_uri"], o.token_url());
    // An unsigned assertion.
    use base64::Engine as _;
    let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let jwt = format!(
        "{}.{}.{}",
        b(r#"{"alg":"RS256"}"#),
        b(r#"{"iss":"sync@project.iam.gserviceaccount.com","sub":"user1"}"#),
        b("sig")
    );
    let (st, v) = post(
        &o.token_url(),
        &format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={jwt}"
        ),
    );
    assert_eq!((st, v["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(o.stats().jwt_rejections, vec!["bad signature".to_string()]);
}
