//! A re-implementation of Perl Getopt::Long's default configuration, driven
//! by a sorted [`Spelling`] table.
//!
//! The rules, each checked against Getopt::Long 2.52 (see the tests):
//! * an option word starts with `--`, `-` or `+` (the last one is Getopt's
//!   "getopt_compat" default); a lone `-` is an ordinary word, `--` ends the
//!   options and every later word is left over;
//! * `name=value` splits at the first `=` after the first character;
//! * names are matched case-insensitively (ASCII only, like Perl's `lc` on
//!   bytes), and any prefix is accepted when it designates one option: an
//!   exact spelling wins, several spellings of the same option (aliases, or
//!   `noX`/`no-X`) count as one, otherwise the prefix is ambiguous;
//! * a value option takes the next word whatever it looks like;
//! * words that are not options are kept, in order, and parsing goes on
//!   (Getopt's "permute" order);
//! * every problem is recorded and parsing continues, like Getopt's warnings.

use super::error::Problem;
use super::table::{Kind, Spelling, names};
use super::value::Value;

/// Where a secret value sits in the argument list, for masking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Secret {
    /// Index of the argument holding the secret.
    pub arg: usize,
    /// Byte offset in that argument where the secret starts (after `=` for `--password1=x`).
    pub from: usize,
}

/// One option seen on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    /// Index of the canonical name in [`names`].
    pub name: usize,
    /// The full name matched, in its positive form and original case
    /// (`delete` for `--nodelete`, `fixInboxINBOX` for `--fixinbox`).
    pub spelling: String,
    /// Given as `--noX` / `--no-X`.
    pub negated: bool,
}

impl Occurrence {
    /// The canonical name of the option.
    pub fn canonical(&self) -> &'static str {
        names().get(self.name).map_or("", |n| n.name.as_str())
    }
}

/// Everything one Getopt pass produces.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outcome {
    pub values: Vec<Option<Value>>,
    pub occurrences: Vec<Occurrence>,
    pub problems: Vec<Problem>,
    pub leftover: Vec<String>,
    pub secrets: Vec<Secret>,
}

/// Result of looking a typed name up in the table.
#[derive(Debug)]
enum Lookup<'a> {
    /// The spelling found, and the name Getopt would use in its messages.
    Found(&'a Spelling, String),
    Unknown,
    Ambiguous(Vec<String>),
}

fn lookup<'a>(table: &'a [Spelling], key: &str) -> Lookup<'a> {
    let start = table.partition_point(|s| s.text.as_str() < key);
    let hits: Vec<&Spelling> = table[start..]
        .iter()
        .take_while(|s| s.text.starts_with(key))
        .collect();
    match hits.as_slice() {
        [] => Lookup::Unknown,
        [one] => Lookup::Found(one, one.text.clone()),
        [first, ..] => {
            if let Some(exact) = hits.iter().find(|s| s.text == key) {
                return Lookup::Found(exact, exact.text.clone());
            }
            let same = hits
                .iter()
                .all(|h| h.target == first.target && h.negated == first.negated);
            if same {
                // Getopt names the option by its primary name in that case.
                let primary = &names()[first.target].key;
                let shown = if first.negated {
                    format!("no{primary}")
                } else {
                    primary.clone()
                };
                Lookup::Found(first, shown)
            } else {
                Lookup::Ambiguous(hits.iter().map(|h| h.text.clone()).collect())
            }
        }
    }
}

/// Perl's regex `$`: the end of the string, or just before a final newline.
fn without_final_newline(s: &str) -> &str {
    s.strip_suffix('\n').unwrap_or(s)
}

/// Getopt's integer pattern `[-+]?_*[0-9][0-9_]*`, and the value it gives
/// (underscores removed; out-of-range values saturate).
pub(crate) fn perl_int(text: &str) -> Option<i64> {
    let s = without_final_newline(text).as_bytes();
    let (negative, mut i) = match s.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    while s.get(i) == Some(&b'_') {
        i += 1;
    }
    if !s.get(i).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i64 = 0;
    for &c in &s[i..] {
        match c {
            b'_' => {}
            b'0'..=b'9' => {
                let digit = i64::from(c - b'0');
                value =
                    value
                        .saturating_mul(10)
                        .saturating_add(if negative { -digit } else { digit });
            }
            _ => return None,
        }
    }
    Some(value)
}

/// Perl's regex `$` (no `/m`): at the end, or just before a final newline.
fn at_end(s: &[u8], k: usize) -> bool {
    k == s.len() || (k + 1 == s.len() && s[k] == b'\n')
}

/// Length of the run of `[0-9_]` starting at `from`.
fn digits_or_underscores(s: &[u8], from: usize) -> usize {
    s.get(from..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'_')
        .count()
}

/// The optional exponent `([eE][-+]?[0-9_]+)?` then the end, from `k`.
fn float_tail(s: &[u8], k: usize) -> bool {
    if at_end(s, k) {
        return true;
    }
    if !matches!(s.get(k), Some(b'e' | b'E')) {
        return false;
    }
    let mut t = k + 1;
    if matches!(s.get(t), Some(b'-' | b'+')) {
        t += 1;
    }
    let run = digits_or_underscores(s, t);
    (1..=run).any(|len| at_end(s, t + len))
}

/// Does `text` match Getopt's real-number pattern? Getopt::Long writes it
/// `"[-+]?(?=[0-9.])[0-9_]*(\.[0-9_]+)?([eE][-+]?[0-9_]+)?"` in a
/// double-quoted Perl string, where `\.` loses its backslash: the decimal
/// point is really "any byte but a newline", so `1,5` and `0x10` pass.
/// Matching is done with the regex's backtracking, on the UTF-8 bytes
/// (Perl sees the command line as bytes).
fn is_perl_float(text: &str) -> bool {
    let s = text.as_bytes();
    let mut i = 0;
    if matches!(s.first(), Some(b'-' | b'+')) {
        i = 1;
    }
    if !s.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'.') {
        return false;
    }
    let int_run = digits_or_underscores(s, i);
    (0..=int_run).rev().any(|a| {
        let j = i + a;
        if float_tail(s, j) {
            return true;
        }
        // The "fraction": one byte (not a newline), then [0-9_]+.
        if s.get(j).is_none_or(|c| *c == b'\n') {
            return false;
        }
        let frac_run = digits_or_underscores(s, j + 1);
        (1..=frac_run).rev().any(|b| float_tail(s, j + 1 + b))
    })
}

/// The number Perl reads from the start of a string (`0 + "1,5"` is 1):
/// sign, digits, `.` and digits, exponent; anything after is ignored.
fn perl_numify(s: &str) -> f64 {
    let b = s
        .trim_start_matches([' ', '\t', '\n', '\r', '\x0B', '\x0C'])
        .as_bytes();
    let mut i = 0;
    let mut text = String::new();
    if let Some(&c @ (b'-' | b'+')) = b.first() {
        text.push(char::from(c));
        i = 1;
    }
    let digits = |from: usize| {
        b.get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let int_len = digits(i);
    text.push('0');
    text.push_str(&String::from_utf8_lossy(&b[i..i + int_len]));
    i += int_len;
    if b.get(i) == Some(&b'.') {
        let frac_len = digits(i + 1);
        text.push('.');
        text.push_str(&String::from_utf8_lossy(&b[i + 1..i + 1 + frac_len]));
        i += 1 + frac_len;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut t = i + 1;
        let mut exp = String::from("e");
        if let Some(&c @ (b'-' | b'+')) = b.get(t) {
            exp.push(char::from(c));
            t += 1;
        }
        let exp_len = digits(t);
        if exp_len > 0 {
            exp.push_str(&String::from_utf8_lossy(&b[t..t + exp_len]));
            text.push_str(&exp);
        }
    }
    text.parse::<f64>().unwrap_or(0.0)
}

/// Getopt's real-number check and the value it gives: Perl keeps the text
/// with its underscores removed (returned as is), and numbers it later the
/// Perl way (returned as the `f64`).
pub(crate) fn perl_float(text: &str) -> Option<(f64, String)> {
    if !is_perl_float(text) {
        return None;
    }
    let kept: String = text.chars().filter(|c| *c != '_').collect();
    Some((perl_numify(&kept), kept))
}

/// Perl truthiness of a string: false for "" and "0".
pub(crate) fn perl_true(s: &str) -> bool {
    !(s.is_empty() || s == "0")
}

/// Run one Getopt pass over `args` with the given spelling table.
pub(crate) fn run(args: &[String], table: &[Spelling]) -> Outcome {
    let mut out = Outcome {
        values: vec![None; names().len()],
        ..Outcome::default()
    };
    let mut i = 0;
    while i < args.len() {
        let index = i;
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            out.leftover.extend(args[i..].iter().cloned());
            break;
        }
        let (starter, body) = if let Some(b) = arg.strip_prefix("--") {
            ("--", b)
        } else if let Some(b) = arg.strip_prefix('-') {
            ("-", b)
        } else if let Some(b) = arg.strip_prefix('+') {
            ("+", b)
        } else {
            out.leftover.push(arg.clone());
            continue;
        };
        if arg == "-" {
            out.leftover.push(arg.clone());
            continue;
        }
        // `name=value`: split at the first `=` that is not the first character.
        let first_len = body.chars().next().map_or(0, char::len_utf8);
        let (name, inline) = match body[first_len..].find('=') {
            Some(p) => {
                let eq = first_len + p;
                (&body[..eq], Some((&body[eq + 1..], starter.len() + eq + 1)))
            }
            None => (body, None),
        };
        if name.is_empty() {
            out.problems.push(Problem::MissingOptionAfter {
                starter: starter.to_string(),
            });
            continue;
        }
        let key = name.to_ascii_lowercase();
        let (spelling, shown) = match lookup(table, &key) {
            Lookup::Found(s, shown) => (s, shown),
            Lookup::Unknown => {
                out.problems.push(Problem::UnknownOption { given: key });
                continue;
            }
            Lookup::Ambiguous(candidates) => {
                out.problems.push(Problem::Ambiguous {
                    given: key,
                    candidates,
                });
                continue;
            }
        };
        let target = spelling.target;
        let entry = names()[target].entry();
        let occurrence = Occurrence {
            name: target,
            spelling: spelling.positive.clone(),
            negated: spelling.negated,
        };

        if !entry.kind.takes_value() {
            if inline.is_some() {
                out.problems.push(Problem::TakesNoValue { option: shown });
                continue;
            }
            out.values[target] = Some(Value::Bool(!spelling.negated));
            out.occurrences.push(occurrence);
            continue;
        }

        // The value: after `=`, else the next word whatever it is.
        let (raw, secret) = match inline {
            Some((v, offset)) => {
                if v.is_empty() {
                    out.problems.push(Problem::RequiresValue { option: shown });
                    continue;
                }
                (
                    v.to_string(),
                    Secret {
                        arg: index,
                        from: offset,
                    },
                )
            }
            None => match args.get(i) {
                Some(v) => {
                    i += 1;
                    (
                        v.clone(),
                        Secret {
                            arg: i - 1,
                            from: 0,
                        },
                    )
                }
                None => {
                    out.problems.push(Problem::RequiresValue { option: shown });
                    continue;
                }
            },
        };

        let slot = &mut out.values[target];
        match entry.kind {
            Kind::Str => *slot = Some(Value::Str(raw)),
            Kind::Int => match perl_int(&raw) {
                Some(v) => {
                    *slot = Some(Value::Int {
                        value: v,
                        text: v.to_string(),
                    })
                }
                None => {
                    out.problems.push(Problem::NotAnInteger {
                        option: shown,
                        value: raw,
                    });
                    continue;
                }
            },
            Kind::Float => match perl_float(&raw) {
                Some((value, text)) => *slot = Some(Value::Float { value, text }),
                None => {
                    out.problems.push(Problem::NotARealNumber {
                        option: shown,
                        value: raw,
                    });
                    continue;
                }
            },
            Kind::List => match slot {
                Some(Value::List(items)) => items.push(raw),
                _ => *slot = Some(Value::List(vec![raw])),
            },
            Kind::Hash => {
                let Some((k, v)) = raw.split_once('=') else {
                    out.problems.push(Problem::KeyRequiresValue {
                        option: shown,
                        key: raw,
                    });
                    continue;
                };
                let (k, v) = (k.to_string(), v.to_string());
                match slot {
                    Some(Value::Hash(pairs)) => match pairs.iter_mut().find(|(pk, _)| *pk == k) {
                        Some(pair) => pair.1 = v,
                        None => pairs.push((k, v)),
                    },
                    _ => *slot = Some(Value::Hash(vec![(k, v)])),
                }
            }
            Kind::Switch | Kind::Bool => {}
        }
        if entry.secret {
            out.secrets.push(secret);
        }
        out.occurrences.push(occurrence);
    }
    out
}

/// Perl's `\s` on a byte string: space, \t, \n, \r, \x0B, \x0C.
fn is_perl_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0B' | '\x0C')
}

/// Split a string into words like Perl's `Text::ParseWords::shellwords`
/// (what `GetOptionsFromString` uses). `None` when a quote is not closed or
/// the text ends with a lone backslash (Perl then yields no word at all).
///
/// Inside double quotes and outside quotes a backslash makes the next
/// character literal; inside single quotes backslashes are kept as typed
/// (a `\'` does not end the quoted part, though).
pub fn shellwords(text: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() && is_perl_space(chars[i]) {
        i += 1;
    }
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            // A quoted piece: up to the matching quote, `\x` pairs skipped over.
            let mut j = i + 1;
            let mut piece = String::new();
            loop {
                match chars.get(j) {
                    None => return None,
                    Some('\\') => {
                        let next = *chars.get(j + 1)?;
                        if c == '"' {
                            piece.push(next);
                        } else {
                            piece.push('\\');
                            piece.push(next);
                        }
                        j += 2;
                    }
                    Some(&q) if q == c => break,
                    Some(&other) => {
                        piece.push(other);
                        j += 1;
                    }
                }
            }
            word.get_or_insert_with(String::new).push_str(&piece);
            i = j + 1;
        } else if is_perl_space(c) {
            while i < chars.len() && is_perl_space(chars[i]) {
                i += 1;
            }
            words.push(word.take().unwrap_or_default());
        } else {
            // An unquoted piece, up to a blank or a quote.
            let mut piece = String::new();
            while let Some(&ch) = chars.get(i) {
                if is_perl_space(ch) || ch == '"' || ch == '\'' {
                    break;
                }
                if ch == '\\' {
                    piece.push(*chars.get(i + 1)?);
                    i += 2;
                } else {
                    piece.push(ch);
                    i += 1;
                }
            }
            word.get_or_insert_with(String::new).push_str(&piece);
        }
    }
    if let Some(w) = word {
        words.push(w);
    }
    Some(words)
}
