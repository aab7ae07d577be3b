//! NTLM messages of the client side (MS-NLMP), NTLMv2 only: NEGOTIATE, then AUTHENTICATE in
//! answer to the server's CHALLENGE. imapsync (Authen::NTLM) sends NTLMv1 responses, which
//! current Windows servers refuse by policy; NTLMv2 is what they expect.
//!
//! Only authentication is done: no signing or sealing is negotiated (IMAP does not use them),
//! so no session key is exchanged. When the server's target information carries a timestamp,
//! the message integrity code (MIC) is computed and announced (MS-NLMP 3.1.5.1.2).

use md4::{Digest, Md4};

use super::auth::hmac_md5;

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
const REQUEST_TARGET: u32 = 0x0000_0004;
const NEGOTIATE_NTLM: u32 = 0x0000_0200;
const NEGOTIATE_ALWAYS_SIGN: u32 = 0x0000_8000;
const NEGOTIATE_EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
const NEGOTIATE_TARGET_INFO: u32 = 0x0080_0000;
const NEGOTIATE_128: u32 = 0x2000_0000;
const NEGOTIATE_56: u32 = 0x8000_0000;

/// What the client asks for.
const FLAGS: u32 = NEGOTIATE_UNICODE
    | REQUEST_TARGET
    | NEGOTIATE_NTLM
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_TARGET_INFO
    | NEGOTIATE_128
    | NEGOTIATE_56;

const AV_EOL: u16 = 0;
const AV_FLAGS: u16 = 6;
const AV_TIMESTAMP: u16 = 7;
/// MsvAvFlags bit: the AUTHENTICATE message carries a MIC.
const AV_FLAG_MIC: u32 = 0x2;

/// Offset of the MIC in an AUTHENTICATE message, and of its payload.
const MIC_AT: usize = 72;
const PAYLOAD_AT: usize = 88;

/// The NEGOTIATE_MESSAGE: no domain, no workstation, no version.
pub(super) fn negotiate() -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&FLAGS.to_le_bytes());
    m.extend_from_slice(&[0; 16]); // domain and workstation fields: empty
    m
}

/// What the client needs of the server's CHALLENGE_MESSAGE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Challenge {
    pub(super) flags: u32,
    pub(super) server_challenge: [u8; 8],
    /// The AV pairs of TargetInfo, as sent.
    pub(super) target_info: Vec<u8>,
}

fn u16_at(m: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(m.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(m: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(m.get(at..at + 4)?.try_into().ok()?))
}

/// Reads a CHALLENGE_MESSAGE.
pub(super) fn parse_challenge(m: &[u8]) -> Result<Challenge, String> {
    if m.get(..8) != Some(SIGNATURE.as_slice()) || u32_at(m, 8) != Some(2) {
        return Err("the server's NTLM challenge is not an NTLM CHALLENGE message".into());
    }
    let short = || "the server's NTLM challenge is too short".to_string();
    let flags = u32_at(m, 20).ok_or_else(short)?;
    let server_challenge: [u8; 8] = m
        .get(24..32)
        .and_then(|c| c.try_into().ok())
        .ok_or_else(short)?;
    let target_info = if flags & NEGOTIATE_TARGET_INFO != 0 {
        let len = usize::from(u16_at(m, 40).ok_or_else(short)?);
        let at = u32_at(m, 44).ok_or_else(short)? as usize;
        m.get(at..at.saturating_add(len))
            .ok_or_else(|| {
                "the server's NTLM target information lies outside the message".to_string()
            })?
            .to_vec()
    } else {
        Vec::new()
    };
    if flags & NEGOTIATE_UNICODE == 0 {
        return Err("the server does not offer Unicode NTLM".into());
    }
    Ok(Challenge {
        flags,
        server_challenge,
        target_info,
    })
}

/// The AV pairs of a TargetInfo, as (id, value); stops at MsvAvEOL.
fn av_pairs(info: &[u8]) -> Vec<(u16, &[u8])> {
    let mut pairs = Vec::new();
    let mut at = 0;
    while let (Some(id), Some(len)) = (u16_at(info, at), u16_at(info, at + 2)) {
        if id == AV_EOL {
            break;
        }
        let Some(value) = info.get(at + 4..at + 4 + usize::from(len)) else {
            break;
        };
        pairs.push((id, value));
        at += 4 + usize::from(len);
    }
    pairs
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// NTOWFv2 (MS-NLMP 3.3.2): HMAC_MD5(MD4(UNICODE(password)), UNICODE(UPPER(user) domain)).
pub(super) fn ntowf_v2(password: &str, user: &str, domain: &str) -> [u8; 16] {
    let nt_hash = Md4::digest(utf16le(password));
    let who = utf16le(&format!("{}{domain}", user.to_uppercase()));
    hmac_md5(&nt_hash, &who)
}

/// The responses of NTLMv2 (MS-NLMP 3.3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Responses {
    pub(super) lm: Vec<u8>,
    /// NTProofStr followed by the client blob ("temp").
    pub(super) nt: Vec<u8>,
    pub(super) session_base_key: [u8; 16],
}

/// ComputeResponse for NTLMv2 with `target_info` the AV pairs to put in the blob.
pub(super) fn responses(
    key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
    time: u64,
    target_info: &[u8],
    lm_zero: bool,
) -> Responses {
    let mut temp = vec![1u8, 1, 0, 0, 0, 0, 0, 0];
    temp.extend_from_slice(&time.to_le_bytes());
    temp.extend_from_slice(client_challenge);
    temp.extend_from_slice(&[0; 4]);
    temp.extend_from_slice(target_info);
    temp.extend_from_slice(&[0; 4]);
    let proof = hmac_md5(key, &[server_challenge.as_slice(), &temp].concat());
    let mut nt = proof.to_vec();
    nt.extend_from_slice(&temp);
    let lm = if lm_zero {
        vec![0; 24]
    } else {
        let mut lm = hmac_md5(
            key,
            &[server_challenge.as_slice(), client_challenge].concat(),
        )
        .to_vec();
        lm.extend_from_slice(client_challenge);
        lm
    };
    Responses {
        lm,
        nt,
        session_base_key: hmac_md5(key, &proof),
    }
}

/// Who logs in.
pub(super) struct Credentials<'a> {
    pub(super) user: &'a str,
    pub(super) domain: &'a str,
    pub(super) password: &'a str,
}

/// The AUTHENTICATE_MESSAGE answering `challenge` (`challenge_msg` its bytes, `negotiate_msg`
/// ours, both covered by the MIC). `client_challenge` is random and `now` the current time as
/// a FILETIME, except in tests.
pub(super) fn authenticate(
    cred: &Credentials<'_>,
    negotiate_msg: &[u8],
    challenge_msg: &[u8],
    challenge: &Challenge,
    client_challenge: &[u8; 8],
    now: u64,
) -> Vec<u8> {
    let pairs = av_pairs(&challenge.target_info);
    let server_time = pairs
        .iter()
        .find(|(id, v)| *id == AV_TIMESTAMP && v.len() == 8)
        .and_then(|(_, v)| v.get(..8)?.try_into().ok().map(u64::from_le_bytes));
    // With the server's timestamp: its time, no LM response, a MIC announced in MsvAvFlags.
    let mic = server_time.is_some();
    let mut info = Vec::new();
    let mut av_flags = 0u32;
    for (id, value) in &pairs {
        if *id == AV_FLAGS {
            av_flags = value
                .get(..4)
                .and_then(|v| v.try_into().ok())
                .map(u32::from_le_bytes)
                .unwrap_or(0);
            continue;
        }
        info.extend_from_slice(&id.to_le_bytes());
        info.extend_from_slice(&(value.len() as u16).to_le_bytes());
        info.extend_from_slice(value);
    }
    if mic {
        av_flags |= AV_FLAG_MIC;
    }
    if av_flags != 0 {
        info.extend_from_slice(&AV_FLAGS.to_le_bytes());
        info.extend_from_slice(&4u16.to_le_bytes());
        info.extend_from_slice(&av_flags.to_le_bytes());
    }
    if !pairs.is_empty() || av_flags != 0 {
        info.extend_from_slice(&[0; 4]); // MsvAvEOL
    }
    let key = ntowf_v2(cred.password, cred.user, cred.domain);
    let r = responses(
        &key,
        &challenge.server_challenge,
        client_challenge,
        server_time.unwrap_or(now),
        &info,
        mic,
    );
    let flags = FLAGS & challenge.flags;
    let domain = utf16le(cred.domain);
    let user = utf16le(cred.user);
    let fields: [&[u8]; 5] = [&domain, &user, &[], &r.lm, &r.nt];
    let mut m = Vec::with_capacity(PAYLOAD_AT + fields.iter().map(|f| f.len()).sum::<usize>());
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&3u32.to_le_bytes());
    // Field descriptors in the order of the header: LM, NT, domain, user, workstation,
    // session key; the payload in the order of `fields`.
    let mut offsets = [0usize; 5];
    let mut at = PAYLOAD_AT;
    for (i, f) in fields.iter().enumerate() {
        offsets[i] = at;
        at += f.len();
    }
    let descriptor = |m: &mut Vec<u8>, len: usize, at: usize| {
        m.extend_from_slice(&(len as u16).to_le_bytes());
        m.extend_from_slice(&(len as u16).to_le_bytes());
        m.extend_from_slice(&(at as u32).to_le_bytes());
    };
    descriptor(&mut m, r.lm.len(), offsets[3]);
    descriptor(&mut m, r.nt.len(), offsets[4]);
    descriptor(&mut m, domain.len(), offsets[0]);
    descriptor(&mut m, user.len(), offsets[1]);
    descriptor(&mut m, 0, offsets[2]);
    descriptor(&mut m, 0, at);
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&[0; 8]); // version: not sent
    m.extend_from_slice(&[0; 16]); // MIC, filled in below
    for f in fields {
        m.extend_from_slice(f);
    }
    if mic {
        // No key exchange: the exported session key is the session base key.
        let code = hmac_md5(
            &r.session_base_key,
            &[negotiate_msg, challenge_msg, &m].concat(),
        );
        m[MIC_AT..MIC_AT + 16].copy_from_slice(&code);
    }
    m
}

/// Now as a FILETIME (100 ns ticks since 1601-01-01).
pub(super) fn filetime_now() -> u64 {
    const FROM_1601_TO_1970: u64 = 11_644_473_600;
    let since_1970 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (since_1970.as_secs() + FROM_1601_TO_1970) * 10_000_000
        + u64::from(since_1970.subsec_nanos() / 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
            .collect()
    }

    // MS-NLMP 4.2.4: user "User", domain "Domain", password "Password", server "Server".
    const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];
    /// 4.2.4.3's TargetInfo: MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", EOL.
    const TARGET_INFO: &str = "02000c0044006f006d00610069006e0001000c00530065007200760065007200\
         00000000";
    /// [`TARGET_INFO`] without its MsvAvEOL.
    fn pairs_only() -> Vec<u8> {
        let info = unhex(TARGET_INFO);
        info[..info.len() - 4].to_vec()
    }

    #[test]
    fn ms_nlmp_ntlmv2_vectors() {
        let key = ntowf_v2("Password", "User", "Domain");
        assert_eq!(
            hex(&key),
            "0c868a403bfd7a93a3001ef22ef02e3f",
            "NTOWFv2 (4.2.4.1.1)"
        );
        // The user name is case-insensitive, the domain is not.
        assert_eq!(ntowf_v2("Password", "user", "Domain"), key);
        assert_ne!(ntowf_v2("Password", "User", "DOMAIN"), key);
        let info = unhex(TARGET_INFO);
        assert_eq!(info.len(), 36);
        let r = responses(&key, &SERVER_CHALLENGE, &CLIENT_CHALLENGE, 0, &info, false);
        assert_eq!(
            hex(&r.lm),
            "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa",
            "LMv2 (4.2.4.2.1)"
        );
        assert_eq!(
            hex(&r.nt[..16]),
            "68cd0ab851e51c96aabc927bebef6a1c",
            "NTProofStr (4.2.4.2.2)"
        );
        assert_eq!(
            hex(&r.nt[16..]),
            format!(
                "0101000000000000{}{}00000000{}00000000",
                "00".repeat(8),
                "aa".repeat(8),
                hex(&info)
            ),
            "temp (4.2.4.2.2)"
        );
        assert_eq!(
            hex(&r.session_base_key),
            "8de40ccadbc14a82f15cb0ad0de95ca3",
            "SessionBaseKey (4.2.4.1.2)"
        );
    }

    /// A CHALLENGE_MESSAGE as a server sends it, with `info` as TargetInfo.
    fn challenge_message(info: &[u8]) -> Vec<u8> {
        let name = utf16le("Domain");
        let mut m = SIGNATURE.to_vec();
        m.extend_from_slice(&2u32.to_le_bytes());
        let name_at = 56u32;
        let info_at = name_at + name.len() as u32;
        m.extend_from_slice(&(name.len() as u16).to_le_bytes());
        m.extend_from_slice(&(name.len() as u16).to_le_bytes());
        m.extend_from_slice(&name_at.to_le_bytes());
        m.extend_from_slice(&0xe28a_8233u32.to_le_bytes());
        m.extend_from_slice(&SERVER_CHALLENGE);
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&(info.len() as u16).to_le_bytes());
        m.extend_from_slice(&(info.len() as u16).to_le_bytes());
        m.extend_from_slice(&info_at.to_le_bytes());
        m.extend_from_slice(&[6, 0, 0x70, 0x17, 0, 0, 0, 0x0f]); // version
        m.extend_from_slice(&name);
        m.extend_from_slice(info);
        m
    }

    /// The (offset, length) of field `i` of an AUTHENTICATE message.
    fn field(m: &[u8], descriptor_at: usize) -> &[u8] {
        let len = usize::from(u16_at(m, descriptor_at).unwrap_or(0));
        let at = u32_at(m, descriptor_at + 4).unwrap_or(0) as usize;
        &m[at..at + len]
    }

    #[test]
    fn messages_carry_the_vectors() {
        let neg = negotiate();
        assert_eq!(&neg[..8], SIGNATURE);
        assert_eq!(u32_at(&neg, 8), Some(1));
        assert_eq!(u32_at(&neg, 12), Some(FLAGS));
        assert_eq!(neg.len(), 32);

        let info = unhex(TARGET_INFO);
        let chal_msg = challenge_message(&info);
        let chal = parse_challenge(&chal_msg).expect("challenge");
        assert_eq!(chal.server_challenge, SERVER_CHALLENGE);
        assert_eq!(chal.target_info, info);
        let cred = Credentials {
            user: "User",
            domain: "Domain",
            password: "Password",
        };
        let m = authenticate(&cred, &neg, &chal_msg, &chal, &CLIENT_CHALLENGE, 0);
        assert_eq!(&m[..8], SIGNATURE);
        assert_eq!(u32_at(&m, 8), Some(3));
        assert_eq!(
            hex(field(&m, 12)),
            "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"
        );
        let nt = field(&m, 20);
        assert_eq!(hex(&nt[..16]), "68cd0ab851e51c96aabc927bebef6a1c");
        assert_eq!(field(&m, 28), utf16le("Domain").as_slice());
        assert_eq!(field(&m, 36), utf16le("User").as_slice());
        assert!(field(&m, 44).is_empty(), "no workstation");
        assert_eq!(u32_at(&m, 60), Some(FLAGS & 0xe28a_8233));
        assert_eq!(&m[MIC_AT..MIC_AT + 16], &[0; 16], "no timestamp, no MIC");
    }

    #[test]
    fn a_server_timestamp_brings_a_mic() {
        // TargetInfo with MsvAvTimestamp: the server's time goes in the blob, the LM response
        // is zero, MsvAvFlags announces the MIC, and the MIC covers all three messages.
        let mut info = pairs_only();
        let time: u64 = 0x01d9_0000_1234_5678;
        info.extend_from_slice(&AV_TIMESTAMP.to_le_bytes());
        info.extend_from_slice(&8u16.to_le_bytes());
        info.extend_from_slice(&time.to_le_bytes());
        info.extend_from_slice(&[0; 4]);
        let neg = negotiate();
        let chal_msg = challenge_message(&info);
        let chal = parse_challenge(&chal_msg).expect("challenge");
        let cred = Credentials {
            user: "User",
            domain: "Domain",
            password: "Password",
        };
        let m = authenticate(&cred, &neg, &chal_msg, &chal, &CLIENT_CHALLENGE, 42);
        assert_eq!(field(&m, 12), &[0; 24]);
        let nt = field(&m, 20);
        assert_eq!(
            &nt[24..32],
            time.to_le_bytes().as_slice(),
            "server time used"
        );
        let blob_info = &nt[44..nt.len() - 4];
        let pairs = av_pairs(blob_info);
        assert!(
            pairs
                .iter()
                .any(|(id, v)| *id == AV_FLAGS && *v == AV_FLAG_MIC.to_le_bytes().as_slice()),
            "{pairs:?}"
        );
        let key = ntowf_v2("Password", "User", "Domain");
        let base = hmac_md5(&key, &nt[..16]);
        let mut zeroed = m.clone();
        zeroed[MIC_AT..MIC_AT + 16].fill(0);
        let want = hmac_md5(&base, &[neg.as_slice(), &chal_msg, &zeroed].concat());
        assert_eq!(&m[MIC_AT..MIC_AT + 16], want.as_slice());
    }

    #[test]
    fn bad_challenges_are_errors_not_panics() {
        assert!(parse_challenge(b"").is_err());
        assert!(parse_challenge(b"NTLMSSP\0\x01\0\0\0").is_err());
        let good = challenge_message(&unhex(TARGET_INFO));
        for cut in 0..good.len() {
            let _ = parse_challenge(&good[..cut]);
        }
        let mut far = good.clone();
        far[44..48].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_challenge(&far).is_err());
        let mut oem = good;
        oem[20] &= !1;
        assert!(parse_challenge(&oem).is_err());
    }

    #[test]
    fn filetime_is_after_2020() {
        assert!(filetime_now() > 132_223_104_000_000_000);
    }
}
