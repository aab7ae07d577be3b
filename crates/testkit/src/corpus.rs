//! Deterministic test corpora: folders with awkward names and realistic messages.
//!
//! Everything is derived from [`CorpusSpec::seed`] through the local [`Rng`], so the
//! same spec yields byte-identical output on every run and machine. Folder names are
//! canonical UTF-8 paths with `/` as the hierarchy delimiter; callers (or
//! [`CorpusFolder::wire_name`]) turn them into a server's separator, prefix and
//! modified UTF-7. Names never contain `.` or `/` inside a component, so they map
//! onto both `.` and `/` layouts. Parents are always listed before their children, so
//! creating folders in order never leaves `\Noselect` holes.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::date::{format_internaldate, format_rfc5322};
use crate::prng::Rng;

/// Size distribution of generated messages (bytes, approximate).
#[derive(Clone, Debug, PartialEq)]
pub struct SizeDist {
    /// Range of the common case.
    pub small: (u64, u64),
    /// Range of the "some" case.
    pub medium: (u64, u64),
    /// Range of the "a few" case.
    pub large: (u64, u64),
    /// Probability of a medium message.
    pub p_medium: f64,
    /// Probability of a large message.
    pub p_large: f64,
}

impl SizeDist {
    /// Mostly 2-50 KB, some 100 KB-1 MB, a few 1-10 MB (the benchmark mix).
    pub fn realistic() -> SizeDist {
        SizeDist {
            small: (2_000, 50_000),
            medium: (100_000, 1_000_000),
            large: (1_000_000, 10_000_000),
            p_medium: 0.058,
            p_large: 0.004,
        }
    }

    /// Small messages only (fast unit tests): 1-20 KB, a few 50-200 KB.
    pub fn light() -> SizeDist {
        SizeDist {
            small: (1_000, 20_000),
            medium: (50_000, 200_000),
            large: (200_000, 400_000),
            p_medium: 0.05,
            p_large: 0.0,
        }
    }

    fn draw(&self, rng: &mut Rng) -> u64 {
        let u = rng.unit();
        let (lo, hi) = if u < self.p_large {
            self.large
        } else if u < self.p_large + self.p_medium {
            self.medium
        } else {
            self.small
        };
        rng.log_uniform(lo, hi)
    }
}

/// System flags and keywords used by default (12 distinct), with the probability that
/// a message carries each one.
pub const DEFAULT_FLAGS: [(&str, f64); 12] = [
    ("\\Seen", 0.70),
    ("\\Answered", 0.15),
    ("\\Flagged", 0.08),
    ("\\Draft", 0.02),
    ("\\Deleted", 0.02),
    ("$Forwarded", 0.06),
    ("$Junk", 0.02),
    ("NonJunk", 0.10),
    ("$label1", 0.05),
    ("$label2", 0.03),
    ("$MDNSent", 0.03),
    ("$NotJunk", 0.03),
];

/// Folder paths in the order they are handed out; every prefix of this list contains
/// the parents of its members.
pub const FOLDER_NAMES: [&str; 25] = [
    "INBOX",
    "Sent",
    "Drafts",
    "Archive",
    "Archive/2019",
    "Entwürfe",
    "Old Mail",
    "日本語フォルダ",
    "Projects",
    "Projects/2024",
    "Projects/2024/Q1",
    "Receipts & Invoices",
    "Папка",
    "Newsletters",
    "Travel",
    "Family",
    "Archive/2020",
    "Projects/2024/Q2",
    "Work Stuff",
    "Gelöschte Elemente",
    "Spam-ish",
    "Lists",
    "Lists/rust-users",
    "Lists/dovecot",
    "Ünïcödé Ärchiv",
];

/// What to generate.
#[derive(Clone, Debug)]
pub struct CorpusSpec {
    /// PRNG seed: same seed, same bytes.
    pub seed: u64,
    /// Number of generated messages (edge cases come on top).
    pub messages: usize,
    /// Number of folders (INBOX included).
    pub folders: usize,
    /// Size distribution.
    pub sizes: SizeDist,
    /// Flags/keywords and their probabilities.
    pub flags: Vec<(String, f64)>,
    /// INTERNALDATE range (UTC epoch seconds, inclusive).
    pub date_range: (i64, i64),
    /// Add the hand-picked edge cases (duplicate Message-ID pair, no Message-ID and no
    /// Received, only Received, ...).
    pub edge_cases: bool,
}

impl CorpusSpec {
    /// 8 folders, ~60 small messages including the edge cases.
    pub fn small() -> CorpusSpec {
        CorpusSpec {
            seed: 1,
            messages: 56,
            folders: 8,
            sizes: SizeDist::light(),
            flags: default_flags(),
            date_range: (1_262_304_000, 1_735_689_600), // 2010-01-01 .. 2025-01-01
            edge_cases: true,
        }
    }

    /// The benchmark corpus: `bench(10_000, 25)` is ~546 MB with 1-10 MB attachments.
    pub fn bench(messages: usize, folders: usize) -> CorpusSpec {
        CorpusSpec {
            seed: 2024,
            messages,
            folders,
            sizes: SizeDist::realistic(),
            flags: default_flags(),
            date_range: (1_262_304_000, 1_735_689_600),
            edge_cases: false,
        }
    }
}

fn default_flags() -> Vec<(String, f64)> {
    DEFAULT_FLAGS
        .iter()
        .map(|(f, p)| (f.to_string(), *p))
        .collect()
}

/// One folder of a corpus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorpusFolder {
    /// Canonical UTF-8 path, `/`-separated (`INBOX` for the inbox).
    pub name: String,
    /// True if the name needs modified UTF-7 on the wire (non-ASCII or `&`).
    pub needs_encoding: bool,
}

impl CorpusFolder {
    /// Wire name for a server with personal namespace `prefix` and separator `sep`.
    pub fn wire_name(&self, prefix: &str, sep: char) -> String {
        wire_name(&self.name, prefix, sep)
    }
}

/// Canonical `/` path -> wire name (`INBOX` stays `INBOX`; children of INBOX keep it).
pub fn wire_name(path: &str, prefix: &str, sep: char) -> String {
    if path.eq_ignore_ascii_case("INBOX") {
        return "INBOX".into();
    }
    let enc = |p: &str| -> String {
        p.split('/')
            .map(crate::mutf7::encode)
            .collect::<Vec<_>>()
            .join(&sep.to_string())
    };
    if let Some(rest) = path.strip_prefix("INBOX/") {
        return format!("INBOX{sep}{}", enc(rest));
    }
    format!("{prefix}{}", enc(path))
}

/// One message of a corpus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorpusMessage {
    /// Index into [`Corpus::folders`].
    pub folder: usize,
    /// Exact RFC 5322 bytes (CRLF line ends).
    pub bytes: Vec<u8>,
    /// Flags and keywords to set on APPEND.
    pub flags: Vec<String>,
    /// INTERNALDATE (UTC epoch seconds).
    pub internaldate: i64,
    /// Zone offset (minutes) used when sending the INTERNALDATE.
    pub tz_offset_minutes: i32,
    /// Message-ID header value, if the message has one.
    pub message_id: Option<String>,
}

impl CorpusMessage {
    /// INTERNALDATE in IMAP syntax.
    pub fn internaldate_imap(&self) -> String {
        format_internaldate(self.internaldate, self.tz_offset_minutes)
    }
}

/// A generated corpus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corpus {
    /// Folders, parents before children; `folders[0]` is INBOX.
    pub folders: Vec<CorpusFolder>,
    /// Messages in generation order (= APPEND order within a folder).
    pub messages: Vec<CorpusMessage>,
}

const FIRST: [&str; 16] = [
    "Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
    "Niaj", "Olivia", "Peggy", "Rupert", "Sybil",
];
const LAST: [&str; 12] = [
    "Smith", "Müller", "García", "Nakamura", "Ivanova", "O'Brien", "Dubois", "Rossi", "Kowalski",
    "Jensen", "Silva", "Chen",
];
const DOMAINS: [&str; 6] = [
    "example.org",
    "example.com",
    "example.net",
    "mail.example.edu",
    "corp.example",
    "lists.example.org",
];
const WORDS: [&str; 48] = [
    "meeting",
    "report",
    "quarterly",
    "budget",
    "project",
    "deadline",
    "review",
    "draft",
    "invoice",
    "travel",
    "schedule",
    "update",
    "please",
    "attached",
    "thanks",
    "regards",
    "tomorrow",
    "agenda",
    "notes",
    "follow-up",
    "question",
    "answer",
    "release",
    "server",
    "migration",
    "mailbox",
    "folder",
    "archive",
    "contract",
    "proposal",
    "summary",
    "figures",
    "Grüße",
    "café",
    "naïve",
    "über",
    "日本語",
    "привет",
    "the",
    "and",
    "for",
    "with",
    "about",
    "this",
    "that",
    "from",
    "will",
    "have",
];
const SUBJECTS: [&str; 12] = [
    "Quarterly report",
    "Re: Meeting tomorrow",
    "Fwd: Invoice",
    "Travel plans",
    "Project update",
    "Lunch?",
    "Your order has shipped",
    "Re: Re: Budget review",
    "Weekly newsletter",
    "Photos from the weekend",
    "Contract draft v2",
    "Server migration schedule",
];
const ZONES: [i32; 8] = [-480, -300, -180, 0, 60, 120, 330, 540];
const ATTACH: [(&str, &str); 5] = [
    ("application/pdf", "report.pdf"),
    ("image/jpeg", "photo.jpg"),
    ("application/zip", "archive.zip"),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "figures.xlsx",
    ),
    ("application/octet-stream", "data.bin"),
];

fn person(rng: &mut Rng) -> (String, String) {
    let f = *rng.pick(&FIRST);
    let l = *rng.pick(&LAST);
    let d = *rng.pick(&DOMAINS);
    let local: String = format!("{f}.{l}")
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    (format!("{f} {l}"), format!("{local}@{d}"))
}

/// RFC 2047 B-encoding of a display name if it is not ASCII.
fn encode_word(s: &str) -> String {
    if s.is_ascii() {
        if s.contains(['\'', '"', ',']) {
            return format!("\"{}\"", s.replace('"', "\\\""));
        }
        return s.to_string();
    }
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
    )
}

fn text_body(rng: &mut Rng, target: usize) -> String {
    let mut out = String::with_capacity(target + 100);
    let mut line = String::new();
    while out.len() + line.len() < target {
        let w = *rng.pick(&WORDS);
        if line.len() + w.len() + 1 > 72 {
            out.push_str(&line);
            out.push_str("\r\n");
            line.clear();
            if rng.chance(0.08) {
                out.push_str("\r\n");
            }
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    out.push_str(&line);
    out.push_str("\r\n");
    out
}

fn base64_lines(data: &[u8]) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(enc.len() + enc.len() / 76 * 2 + 2);
    for chunk in enc.as_bytes().chunks(76) {
        // base64 output is ASCII
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

struct Headers {
    received: usize,
    message_id: bool,
}

#[allow(clippy::too_many_arguments)]
fn build_message(
    rng: &mut Rng,
    seq: usize,
    target: u64,
    date: i64,
    tz: i32,
    h: Headers,
    subject: Option<&str>,
    message_id: Option<&str>,
) -> (Vec<u8>, Option<String>) {
    let (from_name, from) = person(rng);
    let (to_name, to) = person(rng);
    let mut m = String::with_capacity(target as usize + 2048);
    let mut t = date;
    for i in 0..h.received {
        let hop = rng.range(1, 250);
        let _ = write!(
            m,
            "Received: from mx{i}.{} (mx{i}.{} [192.0.2.{hop}])\r\n\tby mail.example.net (Postfix) with ESMTPS id {:010X}\r\n\tfor <{to}>; {}\r\n",
            DOMAINS[i % DOMAINS.len()],
            DOMAINS[i % DOMAINS.len()],
            rng.next_u64() & 0xFF_FFFF_FFFF,
            format_rfc5322(t, tz)
        );
        t -= rng.range(1, 30) as i64;
    }
    let sent = t - rng.range(5, 3600) as i64;
    let _ = write!(m, "From: {} <{from}>\r\n", encode_word(&from_name));
    let _ = write!(m, "To: {} <{to}>\r\n", encode_word(&to_name));
    if rng.chance(0.2) {
        let (cc_name, cc) = person(rng);
        let _ = write!(m, "Cc: {} <{cc}>\r\n", encode_word(&cc_name));
    }
    let subject = match subject {
        Some(s) => s.to_string(),
        None => {
            let mut s = rng.pick(&SUBJECTS).to_string();
            if rng.chance(0.1) {
                s.push_str(" – Grüße");
            }
            let _ = write!(s, " #{seq}");
            s
        }
    };
    let _ = write!(m, "Subject: {}\r\n", encode_word(&subject));
    let _ = write!(m, "Date: {}\r\n", format_rfc5322(sent, tz));
    let mid = if h.message_id {
        let id = match message_id {
            Some(id) => id.to_string(),
            None => format!(
                "<{:016x}.{seq}@{}>",
                rng.next_u64(),
                DOMAINS[seq % DOMAINS.len()]
            ),
        };
        let _ = write!(m, "Message-ID: {id}\r\n");
        Some(id)
    } else {
        None
    };
    m.push_str("MIME-Version: 1.0\r\n");
    let used = m.len() as u64;
    let remaining = target.saturating_sub(used + 200) as usize;
    let multipart = target >= 100_000 || rng.chance(0.3);
    if !multipart {
        m.push_str(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        );
        m.push_str(&text_body(rng, remaining.max(40)));
        return (m.into_bytes(), mid);
    }
    let boundary = format!("=_itk_{:012x}", rng.next_u64() & 0xFFFF_FFFF_FFFF);
    let _ = write!(
        m,
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n"
    );
    let text_len = (remaining / 10).clamp(200, 4000);
    let _ = write!(
        m,
        "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
        text_body(rng, text_len)
    );
    let (ctype, fname) = *rng.pick(&ATTACH);
    let _ = write!(
        m,
        "--{boundary}\r\nContent-Type: {ctype}; name=\"{fname}\"\r\nContent-Disposition: attachment; filename=\"{fname}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    );
    let after_headers = (m.len() + boundary.len() + 8) as u64;
    let enc_budget = target.saturating_sub(after_headers).max(100) as usize;
    let raw_len = enc_budget * 57 / 78;
    let mut raw = vec![0u8; raw_len];
    rng.fill_bytes(&mut raw);
    m.push_str(&base64_lines(&raw));
    let _ = write!(m, "--{boundary}--\r\n");
    (m.into_bytes(), mid)
}

impl Corpus {
    /// Generate a corpus from a spec (deterministic).
    pub fn generate(spec: &CorpusSpec) -> Corpus {
        let nf = spec.folders.max(1);
        let mut folders: Vec<CorpusFolder> = Vec::with_capacity(nf);
        for i in 0..nf {
            let name = match FOLDER_NAMES.get(i) {
                Some(n) => n.to_string(),
                None => format!("Folder {:03}", i + 1),
            };
            folders.push(CorpusFolder {
                needs_encoding: crate::mutf7::needs_encoding(&name),
                name,
            });
        }
        let mut rng = Rng::derive(spec.seed, 0x00c0_7105);
        // folder weights: INBOX gets the most
        let weights: Vec<u64> = (0..nf)
            .map(|i| if i == 0 { 6 } else { rng.range(1, 4) })
            .collect();
        let wsum: u64 = weights.iter().sum();
        let mut messages = Vec::with_capacity(spec.messages + 8);
        let (d0, d1) = spec.date_range;
        for seq in 0..spec.messages {
            let mut r = Rng::derive(spec.seed, seq as u64 + 1);
            let mut pick = r.below(wsum);
            let mut folder = 0;
            for (i, w) in weights.iter().enumerate() {
                if pick < *w {
                    folder = i;
                    break;
                }
                pick -= w;
            }
            let size = spec.sizes.draw(&mut r);
            let date = r.range(d0.max(0) as u64, d1.max(d0).max(0) as u64) as i64;
            let tz = *r.pick(&ZONES);
            let mut flags: Vec<String> = spec
                .flags
                .iter()
                .filter(|(_, p)| r.chance(*p))
                .map(|(f, _)| f.clone())
                .collect();
            flags.sort();
            let received = r.range(1, 3) as usize;
            let (bytes, mid) = build_message(
                &mut r,
                seq,
                size,
                date,
                tz,
                Headers {
                    received,
                    message_id: true,
                },
                None,
                None,
            );
            messages.push(CorpusMessage {
                folder,
                bytes,
                flags,
                internaldate: date,
                tz_offset_minutes: tz,
                message_id: mid,
            });
        }
        if spec.edge_cases {
            Self::add_edge_cases(spec, &folders, &mut messages);
        }
        Corpus { folders, messages }
    }

    fn add_edge_cases(spec: &CorpusSpec, folders: &[CorpusFolder], out: &mut Vec<CorpusMessage>) {
        let mut r = Rng::derive(spec.seed, 0xed9e);
        let f = |i: usize| i.min(folders.len() - 1);
        let mut push = |r: &mut Rng,
                        folder: usize,
                        received: usize,
                        has_mid: bool,
                        subject: &str,
                        mid: Option<&str>,
                        flags: &[&str]| {
            let date = 1_600_000_000 + r.range(0, 100_000_000) as i64;
            let (bytes, message_id) = build_message(
                r,
                out.len() + 100_000,
                3000,
                date,
                0,
                Headers {
                    received,
                    message_id: has_mid,
                },
                Some(subject),
                mid,
            );
            out.push(CorpusMessage {
                folder,
                bytes,
                flags: flags.iter().map(|s| s.to_string()).collect(),
                internaldate: date,
                tz_offset_minutes: 0,
                message_id,
            });
        };
        let dup = "<duplicate-pair@example.org>";
        push(
            &mut r,
            f(0),
            1,
            true,
            "Duplicate Message-ID, first",
            Some(dup),
            &["\\Seen"],
        );
        push(
            &mut r,
            f(0),
            1,
            true,
            "Duplicate Message-ID, second (different body)",
            Some(dup),
            &[],
        );
        push(
            &mut r,
            f(1),
            0,
            false,
            "No Message-ID and no Received",
            None,
            &["\\Seen"],
        );
        push(
            &mut r,
            f(1),
            2,
            false,
            "Only Received headers, no Message-ID",
            None,
            &[],
        );
        push(
            &mut r,
            f(3),
            1,
            true,
            "Keywords galore",
            None,
            &["$Forwarded", "$label1", "NonJunk", "\\Flagged"],
        );
        push(
            &mut r,
            f(2),
            0,
            true,
            "A draft",
            None,
            &["\\Draft", "\\Seen"],
        );
        push(
            &mut r,
            f(4),
            1,
            true,
            "Deleted but not expunged",
            None,
            &["\\Deleted"],
        );
        // sort flags like the generated messages
        for m in out.iter_mut() {
            m.flags.sort();
        }
    }

    /// Preset: 8 folders, ~60 messages with edge cases and keywords.
    pub fn small() -> Corpus {
        Corpus::generate(&CorpusSpec::small())
    }

    /// Preset: the benchmark corpus (`bench(10_000, 25)`: ~546 MB).
    pub fn bench(messages: usize, folders: usize) -> Corpus {
        Corpus::generate(&CorpusSpec::bench(messages, folders))
    }

    /// Sum of all message sizes.
    pub fn total_bytes(&self) -> u64 {
        self.messages.iter().map(|m| m.bytes.len() as u64).sum()
    }

    /// Messages of folder `i` in APPEND order.
    pub fn messages_in(&self, i: usize) -> impl Iterator<Item = &CorpusMessage> {
        self.messages.iter().filter(move |m| m.folder == i)
    }

    /// All distinct flags and keywords used.
    pub fn distinct_flags(&self) -> BTreeSet<String> {
        self.messages
            .iter()
            .flat_map(|m| m.flags.iter().cloned())
            .collect()
    }

    /// SHA-256 over everything (folders, bytes, flags, dates): equal digests mean equal
    /// corpora.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        for f in &self.folders {
            h.update(f.name.as_bytes());
            h.update([0]);
        }
        for m in &self.messages {
            h.update((m.folder as u64).to_le_bytes());
            h.update((m.bytes.len() as u64).to_le_bytes());
            h.update(&m.bytes);
            for f in &m.flags {
                h.update(f.as_bytes());
                h.update([0]);
            }
            h.update(m.internaldate.to_le_bytes());
            h.update(m.tz_offset_minutes.to_le_bytes());
        }
        crate::imap::hex(&h.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_first() {
        for (i, n) in FOLDER_NAMES.iter().enumerate() {
            if let Some((parent, _)) = n.rsplit_once('/') {
                assert!(FOLDER_NAMES[..i].contains(&parent), "{n}");
            }
            assert!(!n.contains('.'));
        }
    }
}
