//! Just enough of X.509 (RFC 5280) to tell a user which certificate a server presented:
//! subject, issuer, validity, subject alternative names, and the raw public key (for
//! IO::Socket::SSL's `pub$` fingerprints). A small DER reader, read-only; anything it does not
//! understand makes [`parse`] answer `None`, never panic.

/// What [`parse`] reads from a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject name, OpenSSL's one-line form (`/CN=localhost/O=Example`).
    pub subject: String,
    pub issuer: String,
    /// Validity, `YYYY-MM-DD HH:MM:SS UTC`.
    pub not_before: String,
    pub not_after: String,
    /// Subject alternative names: `DNS:name`, `IP:address`, `email:...`, `URI:...`.
    pub names: Vec<String>,
    /// The subjectPublicKey bits (what OpenSSL's `X509_pubkey_digest` hashes).
    pub public_key: Vec<u8>,
    /// The contents of the public key's AlgorithmIdentifier.
    pub key_algorithm: Vec<u8>,
    /// X.509 version: 1 (no extensions; webpki refuses them, OpenSSL takes them) or 3.
    pub version: u8,
}

/// One DER element: its tag and its content.
#[derive(Clone, Copy, Debug)]
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
}

/// Reads DER elements one after the other.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader { rest: data }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    fn next(&mut self) -> Option<Tlv<'a>> {
        let (&tag, after_tag) = self.rest.split_first()?;
        let (&first, mut after_len) = after_tag.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || after_len.len() < n {
                return None;
            }
            let mut len = 0usize;
            for &b in &after_len[..n] {
                len = (len << 8) | usize::from(b);
            }
            after_len = &after_len[n..];
            len
        };
        if after_len.len() < len {
            return None;
        }
        let (content, rest) = after_len.split_at(len);
        self.rest = rest;
        Some(Tlv { tag, content })
    }

    /// The next element, which must carry `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        let t = self.next()?;
        (t.tag == tag).then_some(t.content)
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const BOOLEAN: u8 = 0x01;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// Reads a DER certificate.
pub fn parse(der: &[u8]) -> Option<CertInfo> {
    let cert = Reader::new(der).expect(SEQUENCE)?;
    let tbs = Reader::new(cert).expect(SEQUENCE)?;
    let mut r = Reader::new(tbs);
    let mut version = 1;
    if r.peek_tag() == Some(0xa0) {
        let v = Reader::new(r.next()?.content).expect(0x02)?;
        version = v.last().map_or(1, |n| n.saturating_add(1));
    }
    r.next()?; // serial number
    r.expect(SEQUENCE)?; // signature algorithm
    let issuer = name(r.expect(SEQUENCE)?)?;
    let mut validity = Reader::new(r.expect(SEQUENCE)?);
    let not_before = time(validity.next()?)?;
    let not_after = time(validity.next()?)?;
    let subject = name(r.expect(SEQUENCE)?)?;
    let mut spki = Reader::new(r.expect(SEQUENCE)?);
    let key_algorithm = spki.expect(SEQUENCE)?.to_vec();
    let bits = spki.expect(BIT_STRING)?;
    let public_key = bits.get(1..)?.to_vec();
    let mut names = Vec::new();
    while let Some(t) = r.next() {
        if t.tag == 0xa3 {
            names = alt_names(t.content)?;
        }
    }
    Some(CertInfo {
        subject,
        issuer,
        not_before,
        not_after,
        names,
        public_key,
        key_algorithm,
        version,
    })
}

/// A Name: `/CN=.../O=...` in the certificate's order.
fn name(content: &[u8]) -> Option<String> {
    let mut out = String::new();
    let mut rdns = Reader::new(content);
    while !rdns.is_empty() {
        let mut set = Reader::new(rdns.expect(SET)?);
        while !set.is_empty() {
            let mut atv = Reader::new(set.expect(SEQUENCE)?);
            let oid = oid_text(atv.expect(OID)?);
            let value = atv.next()?;
            out.push('/');
            out.push_str(attribute_name(&oid).unwrap_or(&oid));
            out.push('=');
            out.push_str(&string_value(value));
        }
    }
    Some(out)
}

fn attribute_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// A directory string as text (BMPString as UTF-16, the others as UTF-8/ASCII).
fn string_value(t: Tlv<'_>) -> String {
    match t.tag {
        0x1e => {
            let units: Vec<u16> = t
                .content
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => String::from_utf8_lossy(t.content).into_owned(),
    }
}

/// Dotted text of an OBJECT IDENTIFIER.
fn oid_text(content: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    for &b in content {
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (v / 40).min(2);
                arcs.push(first);
                arcs.push(v - first * 40);
            } else {
                arcs.push(v);
            }
            v = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// UTCTime or GeneralizedTime (the `Z` forms RFC 5280 requires) as `YYYY-MM-DD HH:MM:SS UTC`.
fn time(t: Tlv<'_>) -> Option<String> {
    let s = std::str::from_utf8(t.content).ok()?;
    let digits = s.strip_suffix('Z')?;
    let full = match (t.tag, digits.len()) {
        (UTC_TIME, 12) => {
            let yy: u32 = digits.get(..2)?.parse().ok()?;
            format!("{}{digits}", if yy >= 50 { 19 } else { 20 })
        }
        (GENERALIZED_TIME, 14) => digits.to_string(),
        _ => return None,
    };
    if !full.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!(
        "{}-{}-{} {}:{}:{} UTC",
        &full[..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    ))
}

/// The subjectAltName extension (2.5.29.17) out of the `[3]` extensions.
fn alt_names(explicit: &[u8]) -> Option<Vec<String>> {
    let mut exts = Reader::new(Reader::new(explicit).expect(SEQUENCE)?);
    let mut names = Vec::new();
    while !exts.is_empty() {
        let mut ext = Reader::new(exts.expect(SEQUENCE)?);
        let oid = oid_text(ext.expect(OID)?);
        if ext.peek_tag() == Some(BOOLEAN) {
            ext.next()?;
        }
        let value = ext.expect(OCTET_STRING)?;
        if oid != "2.5.29.17" {
            continue;
        }
        let mut general = Reader::new(Reader::new(value).expect(SEQUENCE)?);
        while let Some(g) = general.next() {
            let text = String::from_utf8_lossy(g.content);
            names.push(match g.tag {
                0x81 => format!("email:{text}"),
                0x82 => format!("DNS:{text}"),
                0x86 => format!("URI:{text}"),
                0x87 => match g.content.len() {
                    4 => format!(
                        "IP:{}",
                        std::net::Ipv4Addr::from([
                            g.content[0],
                            g.content[1],
                            g.content[2],
                            g.content[3]
                        ])
                    ),
                    16 => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(g.content);
                        format!("IP:{}", std::net::Ipv6Addr::from(a))
                    }
                    _ => "IP:?".to_string(),
                },
                other => format!("[{}]", other & 0x1f),
            });
        }
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(pem: &str) -> Vec<u8> {
        rustls_pemfile::certs(&mut pem.as_bytes())
            .next()
            .and_then(Result::ok)
            .map(|c| c.as_ref().to_vec())
            .unwrap_or_default()
    }

    #[test]
    fn reads_the_test_pki_certificates() {
        let pki = imapsync_testkit::tls::pki().expect("test PKI (openssl)");
        let leaf = parse(&der(&pki.cert_chain_pem)).expect("leaf parses");
        assert_eq!(leaf.subject, "/CN=localhost");
        assert_eq!(leaf.issuer, "/CN=imapsync-testkit CA");
        assert_eq!(leaf.names, ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]);
        assert!(leaf.not_before.ends_with(" UTC"), "{}", leaf.not_before);
        assert!(leaf.not_after > leaf.not_before);
        // P-256: an uncompressed point.
        assert_eq!(leaf.public_key.len(), 65);
        assert_eq!(leaf.public_key[0], 4);
        assert_eq!(leaf.version, 3);
        // id-ecPublicKey, prime256v1
        assert_eq!(leaf.key_algorithm[..2], [0x06, 0x07]);
        let ca = parse(&der(&pki.ca_pem)).expect("CA parses");
        assert_eq!(ca.subject, ca.issuer);
        assert!(ca.names.is_empty());
    }

    #[test]
    fn pieces() {
        assert_eq!(oid_text(&[0x55, 0x04, 0x03]), "2.5.4.3");
        assert_eq!(
            oid_text(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
            "1.2.840.113549.1.9.1"
        );
        let utc = Tlv {
            tag: UTC_TIME,
            content: b"491231235959Z",
        };
        assert_eq!(time(utc).as_deref(), Some("2049-12-31 23:59:59 UTC"));
        let utc = Tlv {
            tag: UTC_TIME,
            content: b"500101000000Z",
        };
        assert_eq!(time(utc).as_deref(), Some("1950-01-01 00:00:00 UTC"));
        let gen_time = Tlv {
            tag: GENERALIZED_TIME,
            content: b"20500101000000Z",
        };
        assert_eq!(time(gen_time).as_deref(), Some("2050-01-01 00:00:00 UTC"));
        let local = Tlv {
            tag: UTC_TIME,
            content: b"491231235959+0100",
        };
        assert_eq!(time(local), None);
    }

    #[test]
    fn garbage_is_none_never_a_panic() {
        assert_eq!(parse(b""), None);
        assert_eq!(parse(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(parse(&[0x30, 0x03, 0x30, 0x01]), None);
        let pki = imapsync_testkit::tls::pki().expect("test PKI (openssl)");
        let good = der(&pki.cert_chain_pem);
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        let mut flipped = good.clone();
        for i in (0..flipped.len()).step_by(7) {
            flipped[i] ^= 0x5a;
            let _ = parse(&flipped);
            flipped[i] ^= 0x5a;
        }
    }
}
