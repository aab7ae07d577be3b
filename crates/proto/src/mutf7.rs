//! Modified UTF-7 mailbox names (RFC 3501 §5.1.3).
//!
//! IMAP4rev1 servers exchange mailbox names in a 7-bit form: printable US-ASCII characters
//! (0x20..=0x7E) stand for themselves, except `&`, which is written `&-`; every other character
//! (controls, DEL 0x7F and all non-ASCII) is written as UTF-16BE encoded in a modified BASE64
//! (`,` instead of `/`, no `=` padding) between `&` and `-`.
//!
//! imapsync never converts names: every option works on the raw form the server lists, and the
//! decoded form is only shown to help users (`[&ANY-] = [Ö]`). This module provides:
//!
//! * [`encode`]: UTF-8 → modified UTF-7, always canonical (maximal shift runs, zero padding bits).
//! * [`decode`]: strict modified UTF-7 → UTF-8. It rejects anything a conforming encoder would
//!   not produce (invalid BASE64, non-zero padding bits, unterminated `&`, encoded printable
//!   ASCII, two adjacent shift runs, unpaired surrogates, raw 8-bit or control characters), so
//!   that `encode(decode(x)) == x` holds whenever `decode(x)` succeeds.
//! * [`decode_lossy`]: best effort for display; never fails, keeps undecodable text verbatim and
//!   turns unpaired surrogates into U+FFFD.
//!
//! Nothing here panics on hostile input; errors carry the byte offset of the offending
//! shift sequence or character.

use std::fmt::Write as _;

/// Why a name is not valid (canonical) modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mutf7Error {
    /// A character outside printable US-ASCII appears unencoded.
    #[error("character {ch:?} at byte {offset} must be BASE64-encoded in modified UTF-7")]
    NotPrintableAscii {
        /// Byte offset of the character in the input.
        offset: usize,
        /// The offending character.
        ch: char,
    },
    /// `&` without a closing `-`.
    #[error("shift sequence starting at byte {offset} is not terminated by '-'")]
    Unterminated {
        /// Byte offset of the `&`.
        offset: usize,
    },
    /// A character that is not in the modified BASE64 alphabet inside a shift sequence.
    #[error("character {ch:?} at byte {offset} is not modified BASE64")]
    InvalidBase64 {
        /// Byte offset of the character.
        offset: usize,
        /// The offending character.
        ch: char,
    },
    /// The BASE64 run does not end on a UTF-16 boundary, or its padding bits are not zero.
    #[error(
        "shift sequence starting at byte {offset} has a partial UTF-16 unit or non-zero padding bits"
    )]
    BadPadding {
        /// Byte offset of the `&`.
        offset: usize,
    },
    /// A shift sequence encodes a printable ASCII character, which must be written directly.
    #[error(
        "shift sequence starting at byte {offset} encodes printable ASCII {ch:?}, which must be written directly"
    )]
    EncodedPrintable {
        /// Byte offset of the `&`.
        offset: usize,
        /// The encoded character.
        ch: char,
    },
    /// Two shift sequences follow each other; a canonical encoder merges them.
    #[error("shift sequence at byte {offset} directly follows another one; they must be merged")]
    AdjacentShifts {
        /// Byte offset of the second `&`.
        offset: usize,
    },
    /// A high surrogate without its low half, or a lone low surrogate.
    #[error("unpaired UTF-16 surrogate {unit:#06x} in shift sequence starting at byte {offset}")]
    UnpairedSurrogate {
        /// Byte offset of the `&`.
        offset: usize,
        /// The surrogate code unit.
        unit: u16,
    },
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn is_direct(ch: char) -> bool {
    (' '..='~').contains(&ch)
}

fn b64_value(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
        b'+' => Some(62),
        b',' => Some(63),
        _ => None,
    }
}

/// Encode a UTF-8 string as modified UTF-7 (canonical form).
pub fn encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + 8);
    let mut pending: Vec<u16> = Vec::new();
    for ch in input.chars() {
        if is_direct(ch) {
            flush_run(&mut pending, &mut out);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(ch.encode_utf16(&mut buf));
        }
    }
    flush_run(&mut pending, &mut out);
    out
}

fn flush_run(units: &mut Vec<u16>, out: &mut String) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for &unit in units.iter() {
        acc = (acc << 16) | u32::from(unit);
        bits += 16;
        while bits >= 6 {
            bits -= 6;
            out.push(char::from(ALPHABET[((acc >> bits) & 0x3f) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (6 - bits)) & 0x3f) as usize]));
    }
    out.push('-');
    units.clear();
}

/// Strictly decode a modified UTF-7 name; see [`Mutf7Error`] for what is rejected.
pub fn decode(input: &str) -> Result<String, Mutf7Error> {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut pos = 0;
    // End offset of the previous shift sequence (`-` included), to spot adjacent runs.
    let mut last_shift_end: Option<usize> = None;
    while pos < bytes.len() {
        let ch = input[pos..].chars().next().unwrap_or('\u{FFFD}');
        if ch != '&' {
            if !is_direct(ch) {
                return Err(Mutf7Error::NotPrintableAscii { offset: pos, ch });
            }
            out.push(ch);
            pos += ch.len_utf8();
            continue;
        }
        let start = pos;
        if bytes.get(pos + 1) == Some(&b'-') {
            out.push('&');
            pos += 2;
            continue;
        }
        if last_shift_end == Some(start) {
            return Err(Mutf7Error::AdjacentShifts { offset: start });
        }
        let (units, end) = read_run(input, start)?;
        decode_units(&units, start, &mut out)?;
        pos = end;
        last_shift_end = Some(end);
    }
    Ok(out)
}

/// Read the BASE64 run of the shift sequence whose `&` is at `start`. Returns the UTF-16 units
/// and the offset just after the closing `-`.
fn read_run(input: &str, start: usize) -> Result<(Vec<u16>, usize), Mutf7Error> {
    let bytes = input.as_bytes();
    let mut pos = start + 1;
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let mut units = Vec::new();
    loop {
        let Some(&b) = bytes.get(pos) else {
            return Err(Mutf7Error::Unterminated { offset: start });
        };
        if b == b'-' {
            break;
        }
        let Some(v) = b64_value(b) else {
            let ch = input[pos..].chars().next().unwrap_or('\u{FFFD}');
            return Err(Mutf7Error::InvalidBase64 { offset: pos, ch });
        };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 16 {
            bits -= 16;
            units.push(((acc >> bits) & 0xffff) as u16);
            acc &= (1 << bits) - 1;
        }
        pos += 1;
    }
    // A canonical run ends with fewer than 6 leftover bits, all zero, and holds at least one unit.
    if units.is_empty() || bits >= 6 || acc != 0 {
        return Err(Mutf7Error::BadPadding { offset: start });
    }
    Ok((units, pos + 1))
}

fn decode_units(units: &[u16], offset: usize, out: &mut String) -> Result<(), Mutf7Error> {
    for item in char::decode_utf16(units.iter().copied()) {
        match item {
            Ok(ch) if is_direct(ch) => return Err(Mutf7Error::EncodedPrintable { offset, ch }),
            Ok(ch) => out.push(ch),
            Err(e) => {
                return Err(Mutf7Error::UnpairedSurrogate {
                    offset,
                    unit: e.unpaired_surrogate(),
                });
            }
        }
    }
    Ok(())
}

/// Decode for display: never fails. Valid shift sequences are decoded even when not canonical,
/// undecodable ones are kept verbatim, unpaired surrogates become U+FFFD and characters that
/// should have been encoded (8-bit text from non-conforming servers) are kept as they are.
pub fn decode_lossy(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut pos = 0;
    while pos < bytes.len() {
        let ch = input[pos..].chars().next().unwrap_or('\u{FFFD}');
        if ch != '&' {
            out.push(ch);
            pos += ch.len_utf8();
            continue;
        }
        if bytes.get(pos + 1) == Some(&b'-') {
            out.push('&');
            pos += 2;
            continue;
        }
        match lossy_run(bytes, pos) {
            Some((units, end)) => {
                for item in char::decode_utf16(units.iter().copied()) {
                    out.push(item.unwrap_or('\u{FFFD}'));
                }
                pos = end;
            }
            None => {
                out.push('&');
                pos += 1;
            }
        }
    }
    out
}

/// Like [`read_run`] but ignores padding problems; `None` when the run is not BASE64 up to a `-`.
fn lossy_run(bytes: &[u8], start: usize) -> Option<(Vec<u16>, usize)> {
    let mut pos = start + 1;
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let mut units = Vec::new();
    loop {
        let b = *bytes.get(pos)?;
        if b == b'-' {
            break;
        }
        acc = (acc << 6) | b64_value(b)?;
        bits += 6;
        if bits >= 16 {
            bits -= 16;
            units.push(((acc >> bits) & 0xffff) as u16);
            acc &= (1 << bits) - 1;
        }
        pos += 1;
    }
    if units.is_empty() {
        return None;
    }
    Some((units, pos + 1))
}

/// True when `input` is canonical modified UTF-7 (what [`decode`] accepts).
pub fn is_valid(input: &str) -> bool {
    decode(input).is_ok()
}

/// True when the name contains a shift sequence, i.e. its decoded form differs from the raw one
/// (apart from `&-`).
pub fn has_non_ascii(input: &str) -> bool {
    decode_lossy(input) != input.replace("&-", "&")
}

/// imapsync's `[raw] = [utf8]` rendering (or just `[raw]` when decoding changes nothing).
pub fn juxtapose(raw: &str) -> String {
    let decoded = decode_lossy(raw);
    let mut s = String::with_capacity(raw.len() * 2 + 8);
    if decoded == raw {
        let _ = write!(s, "[{raw}]");
    } else {
        let _ = write!(s, "[{raw}] = [{decoded}]");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (UTF-8, modified UTF-7) pairs; the encodings were computed independently with a small
    /// Perl script (UTF-16BE + MIME::Base64) and cross-checked against imapsync's own table.
    const VECTORS: &[(&str, &str)] = &[
        // RFC 3501 §5.1.3
        (
            "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}",
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
        ),
        ("\u{263a}!", "&Jjo-!"),
        ("&", "&-"),
        ("", ""),
        // spec examples
        ("\u{d6}", "&ANY-"),
        ("\u{6536}\u{4ef6}\u{7bb1}", "&ZTZO9nux-"),
        ("Cart\u{f3}rio", "Cart&APM-rio"),
        ("\u{421}\u{43f}\u{430}\u{43c}", "&BCEEPwQwBDw-"),
        // controls, DEL and astral planes
        ("\u{7f}", "&AH8-"),
        ("a\u{7f}b", "a&AH8-b"),
        ("\u{9}Tab", "&AAk-Tab"),
        ("\u{0}", "&AAA-"),
        ("\u{1f600}", "&2D3eAA-"),
        ("\u{ffff}", "&,,8-"),
        ("\u{10ffff}", "&2,,f,w-"),
        ("\u{e9}&\u{e9}", "&AOk-&-&AOk-"),
        ("\u{e9}a\u{e9}", "&AOk-a&AOk-"),
        // shared/corpus/synthetic/folder-names.txt
        ("Entw\u{fc}rfe", "Entw&APw-rfe"),
        ("Gel\u{f6}schte Elemente", "Gel&APY-schte Elemente"),
        (
            "\u{65e5}\u{672c}\u{8a9e}\u{30d5}\u{30a9}\u{30eb}\u{30c0}",
            "&ZeVnLIqeMNUwqTDrMMA-",
        ),
        ("\u{41f}\u{430}\u{43f}\u{43a}\u{430}", "&BB8EMAQ,BDoEMA-"),
        ("a&b", "a&-b"),
        ("&-literal-looking", "&--literal-looking"),
        ("with space", "with space"),
        (" leading space", " leading space"),
        ("trailing space ", "trailing space "),
        ("Quote\"d", "Quote\"d"),
        ("back\\slash", "back\\slash"),
        ("percent%sign", "percent%sign"),
        ("star*name", "star*name"),
        ("tilde~name", "tilde~name"),
        ("UPPER/lower/MiXeD", "UPPER/lower/MiXeD"),
        ("dotted.name", "dotted.name"),
        ("deep/a/b/c/d/e/f/g/h", "deep/a/b/c/d/e/f/g/h"),
        ("Sent Items", "Sent Items"),
        ("[Gmail]/All Mail", "[Gmail]/All Mail"),
        ("INBOX/child of inbox", "INBOX/child of inbox"),
        ("inbox-lowercase-lookalike", "inbox-lowercase-lookalike"),
        // imapsync's automap table
        (
            "\u{c9}l\u{e9}ments envoy\u{e9}s",
            "&AMk-l&AOk-ments envoy&AOk-s",
        ),
        (
            "E\u{301}le\u{301}ments envoye\u{301}s",
            "E&AwE-le&AwE-ments envoye&AwE-s",
        ),
        ("Wiadomo\u{15b}ci-\u{15b}mieci", "Wiadomo&AVs-ci-&AVs-mieci"),
        (
            "\u{41e}\u{442}\u{43f}\u{440}\u{430}\u{432}\u{43b}\u{435}\u{43d}\u{43d}\u{44b}\u{435}",
            "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-",
        ),
    ];

    #[test]
    fn vectors_encode() {
        for (utf8, m) in VECTORS {
            assert_eq!(encode(utf8), *m, "encode {utf8:?}");
        }
    }

    #[test]
    fn vectors_decode() {
        for (utf8, m) in VECTORS {
            assert_eq!(decode(m).as_deref(), Ok(*utf8), "decode {m:?}");
            assert_eq!(decode_lossy(m), *utf8, "decode_lossy {m:?}");
        }
    }

    #[test]
    fn rejects_invalid() {
        use Mutf7Error::*;
        let cases: &[(&str, Mutf7Error)] = &[
            ("&Jjo!", InvalidBase64 { offset: 4, ch: '!' }),
            ("&Jjo", Unterminated { offset: 0 }),
            ("abc&", Unterminated { offset: 3 }),
            ("&U,BTFw-&ZeVnLIqe-", AdjacentShifts { offset: 8 }),
            ("&AGE-", EncodedPrintable { offset: 0, ch: 'a' }),
            ("&ACY-", EncodedPrintable { offset: 0, ch: '&' }),
            ("&ANZ-", BadPadding { offset: 0 }),
            ("&AN-", BadPadding { offset: 0 }),
            ("&A-", BadPadding { offset: 0 }),
            ("&ANYA-", BadPadding { offset: 0 }),
            (
                "&2D0-",
                UnpairedSurrogate {
                    offset: 0,
                    unit: 0xd83d,
                },
            ),
            (
                "&3gA-",
                UnpairedSurrogate {
                    offset: 0,
                    unit: 0xde00,
                },
            ),
            (
                "&2D3YPQ-",
                UnpairedSurrogate {
                    offset: 0,
                    unit: 0xd83d,
                },
            ),
            ("&AN/-", InvalidBase64 { offset: 3, ch: '/' }),
            ("&AN=-", InvalidBase64 { offset: 3, ch: '=' }),
            (
                "caf\u{e9}",
                NotPrintableAscii {
                    offset: 3,
                    ch: '\u{e9}',
                },
            ),
            (
                "a\tb",
                NotPrintableAscii {
                    offset: 1,
                    ch: '\t',
                },
            ),
            (
                "a\u{7f}",
                NotPrintableAscii {
                    offset: 1,
                    ch: '\u{7f}',
                },
            ),
            ("&&-", InvalidBase64 { offset: 1, ch: '&' }),
            (
                "&\u{e9}-",
                InvalidBase64 {
                    offset: 1,
                    ch: '\u{e9}',
                },
            ),
        ];
        for (input, err) in cases {
            assert_eq!(decode(input).as_ref(), Err(err), "{input:?}");
            assert!(!is_valid(input));
            // never panics, always returns something
            let _ = decode_lossy(input);
        }
    }

    #[test]
    fn adjacent_runs_separated_by_ampersand_are_fine() {
        assert_eq!(decode("&AOk-&-&AOk-").as_deref(), Ok("\u{e9}&\u{e9}"));
    }

    #[test]
    fn lossy_is_forgiving() {
        assert_eq!(decode_lossy("&AGE-"), "a");
        assert_eq!(
            decode_lossy("&U,BTFw-&ZeVnLIqe-"),
            "\u{53f0}\u{5317}\u{65e5}\u{672c}\u{8a9e}"
        );
        assert_eq!(decode_lossy("&ANZ-"), "\u{d6}");
        assert_eq!(decode_lossy("&Jjo"), "&Jjo");
        assert_eq!(decode_lossy("&Jjo!-"), "&Jjo!-");
        assert_eq!(decode_lossy("a&"), "a&");
        assert_eq!(decode_lossy("&2D0-x"), "\u{fffd}x");
        assert_eq!(decode_lossy("caf\u{e9}"), "caf\u{e9}");
        assert_eq!(decode_lossy("&A-"), "&A-");
    }

    #[test]
    fn juxtapose_like_imapsync() {
        assert_eq!(juxtapose(""), "[]");
        assert_eq!(juxtapose("INBOX"), "[INBOX]");
        assert_eq!(juxtapose("&ANY-"), "[&ANY-] = [\u{d6}]");
        assert_eq!(juxtapose("2006 Budget & Fcst"), "[2006 Budget & Fcst]");
        assert_eq!(juxtapose("a&-b"), "[a&-b] = [a&b]");
        assert!(has_non_ascii("&ANY-"));
        assert!(!has_non_ascii("a&-b"));
        assert!(!has_non_ascii("INBOX"));
    }

    proptest! {
        #[test]
        fn roundtrip_any_string(s in any::<String>()) {
            let m = encode(&s);
            prop_assert!(m.chars().all(is_direct));
            prop_assert_eq!(decode(&m), Ok(s.clone()));
            prop_assert_eq!(decode_lossy(&m), s);
        }

        #[test]
        fn roundtrip_mixed_names(s in "[a-z&. /\u{e0}-\u{ff}\u{400}-\u{44f}\u{4e00}-\u{4e40}\u{1f600}-\u{1f610}\u{0}-\u{1f}\u{7f}]{0,24}") {
            prop_assert_eq!(decode(&encode(&s)), Ok(s));
        }

        #[test]
        fn canonical_inputs_reencode_identically(x in "[A-Za-z0-9&,+\\- ]{0,24}") {
            if let Ok(d) = decode(&x) {
                prop_assert_eq!(encode(&d), x);
            }
        }

        #[test]
        fn valid_encodings_reencode_identically(s in any::<String>()) {
            let x = encode(&s);
            let d = decode(&x);
            prop_assert!(d.is_ok());
            prop_assert_eq!(encode(&d.unwrap_or_default()), x);
        }

        #[test]
        fn hostile_input_never_panics(x in any::<String>()) {
            let _ = decode(&x);
            let _ = decode_lossy(&x);
        }
    }
}
