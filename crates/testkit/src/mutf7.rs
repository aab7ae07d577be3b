//! Modified UTF-7 (RFC 3501 section 5.1.3) for mailbox names.

use anyhow::{Result, bail};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Does this UTF-8 name need encoding (non-ASCII or a literal `&`)?
pub fn needs_encoding(name: &str) -> bool {
    name.chars().any(|c| c == '&' || !(' '..='~').contains(&c))
}

/// Encode a UTF-8 mailbox name into modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        out.push('&');
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Decode a modified UTF-7 mailbox name into UTF-8.
pub fn decode(name: &str) -> Result<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let Some(end) = after.find('-') else {
            bail!("unterminated &-sequence in {name:?}");
        };
        let enc = &after[..end];
        if enc.is_empty() {
            out.push('&');
        } else {
            let mut bits = 0u32;
            let mut nbits = 0;
            let mut bytes = Vec::new();
            for ch in enc.bytes() {
                let Some(v) = B64.iter().position(|&b| b == ch) else {
                    bail!("bad modified-base64 char {:?} in {name:?}", ch as char);
                };
                bits = bits << 6 | v as u32;
                nbits += 6;
                if nbits >= 8 {
                    nbits -= 8;
                    bytes.push((bits >> nbits) as u8);
                    bits &= (1 << nbits) - 1;
                }
            }
            if bytes.len() % 2 != 0 {
                bail!("odd UTF-16 byte count in {name:?}");
            }
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            match String::from_utf16(&units) {
                Ok(s) => out.push_str(&s),
                Err(_) => bail!("invalid UTF-16 in {name:?}"),
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(encode("a&b"), "a&-b");
        assert_eq!(encode("日本語"), "&ZeVnLIqe-");
        assert_eq!(
            encode("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        for s in [
            "Entwürfe",
            "a&b",
            "日本語フォルダ",
            "Папка",
            "x😀y",
            "&-lit",
            "plain",
        ] {
            assert_eq!(decode(&encode(s)).unwrap(), s);
        }
        assert!(needs_encoding("a&b"));
        assert!(!needs_encoding("with space"));
    }
}
