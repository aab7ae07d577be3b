//! `tr///` and `y///`: ranges, flags `c d s r`.

use super::*;

/// One element of a tr list: a range of code points, and whether its ends were written as
/// characters (as opposed to numeric escapes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TrRange {
    lo: u32,
    hi: u32,
    literal: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Translit {
    pub(super) search: Vec<TrRange>,
    pub(super) replace: Vec<TrRange>,
    pub(super) complement: bool,
    pub(super) delete: bool,
    pub(super) squeeze: bool,
    pub(super) copy: bool,
}

pub(super) fn parse_tr_list(expr: &str, src: &str) -> Result<Vec<TrRange>, PerlExprError> {
    enum El {
        C(u32, bool),
        Dash,
    }
    let syntax = |message: String| PerlExprError::Syntax {
        expr: expr.to_string(),
        message,
    };
    let chars: Vec<char> = src.chars().collect();
    let mut els = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                let Some(&e) = chars.get(i) else {
                    els.push(El::C(u32::from('\\'), true));
                    break;
                };
                i += 1;
                let (lit, used) = string_escape(&chars, i, e).map_err(syntax)?;
                i += used;
                els.push(match lit {
                    Lit::Char(ch) => El::C(u32::from(ch), true),
                    Lit::Code(v) => El::C(v, false),
                });
            }
            '-' => els.push(El::Dash),
            other => els.push(El::C(u32::from(other), true)),
        }
    }
    let mut out: Vec<TrRange> = Vec::new();
    let mut k = 0;
    while k < els.len() {
        match els[k] {
            El::C(lo, lit_lo) => {
                if let (Some(El::Dash), Some(El::C(hi, lit_hi))) = (els.get(k + 1), els.get(k + 2))
                {
                    if *hi < lo {
                        return Err(syntax(format!(
                            "invalid range {:?}-{:?} in transliteration",
                            char::from_u32(lo).unwrap_or('?'),
                            char::from_u32(*hi).unwrap_or('?')
                        )));
                    }
                    if let (Some(El::Dash), Some(El::C(..))) = (els.get(k + 3), els.get(k + 4)) {
                        return Err(syntax("ambiguous range in transliteration".into()));
                    }
                    out.push(TrRange {
                        lo,
                        hi: *hi,
                        literal: lit_lo || *lit_hi,
                    });
                    k += 3;
                } else {
                    out.push(TrRange {
                        lo,
                        hi: lo,
                        literal: lit_lo,
                    });
                    k += 1;
                }
            }
            El::Dash => {
                out.push(TrRange {
                    lo: u32::from('-'),
                    hi: u32::from('-'),
                    literal: true,
                });
                k += 1;
            }
        }
    }
    Ok(out)
}

/// A tr list in the units of one mode (code points or bytes), indexable by position.
struct UnitList {
    ranges: Vec<(u32, u32)>,
}

impl UnitList {
    fn for_mode(expr: &str, list: &[TrRange], mode: Mode) -> Result<UnitList, PerlExprError> {
        let mut ranges = Vec::new();
        for r in list {
            match mode {
                Mode::Unicode => ranges.push((r.lo, r.hi)),
                Mode::Bytes => {
                    if r.literal && (r.lo > 0x7F || r.hi > 0x7F) {
                        if r.lo != r.hi {
                            return Err(PerlExprError::Unsupported {
                                expr: expr.to_string(),
                                feature: "a non-ASCII character range in tr/// applied to bytes"
                                    .into(),
                            });
                        }
                        let ch = char::from_u32(r.lo).unwrap_or('\u{FFFD}');
                        let mut buf = [0u8; 4];
                        for b in ch.encode_utf8(&mut buf).bytes() {
                            ranges.push((u32::from(b), u32::from(b)));
                        }
                    } else if r.hi > 0xFF {
                        return Err(PerlExprError::Unsupported {
                            expr: expr.to_string(),
                            feature: "a code point above 0xFF in tr/// applied to bytes".into(),
                        });
                    } else {
                        ranges.push((r.lo, r.hi));
                    }
                }
            }
        }
        Ok(UnitList { ranges })
    }

    fn index_of(&self, u: u32) -> Option<u64> {
        let mut base = 0u64;
        for (a, b) in &self.ranges {
            if (*a..=*b).contains(&u) {
                return Some(base + u64::from(u - a));
            }
            base += u64::from(b - a) + 1;
        }
        None
    }

    fn get(&self, idx: u64) -> Option<u32> {
        let mut base = 0u64;
        for (a, b) in &self.ranges {
            let n = u64::from(b - a) + 1;
            if idx < base + n {
                return u32::try_from(idx - base).ok().map(|d| a + d);
            }
            base += n;
        }
        None
    }

    fn last(&self) -> Option<u32> {
        self.ranges.last().map(|(_, b)| *b)
    }

    /// Number of distinct units below `u` (for the complement's positions).
    fn count_below(&self, u: u32) -> u64 {
        let mut sorted = self.ranges.clone();
        sorted.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::new();
        for (a, b) in sorted {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        merged
            .iter()
            .map(|(a, b)| {
                if u <= *a {
                    0
                } else {
                    u64::from((*b).min(u - 1) - a) + 1
                }
            })
            .sum()
    }
}

enum TrOutcome {
    Keep,
    Map(u32),
    Delete,
}

impl Translit {
    fn lists(&self, expr: &str, mode: Mode) -> Result<(UnitList, UnitList), PerlExprError> {
        Ok((
            UnitList::for_mode(expr, &self.search, mode)?,
            UnitList::for_mode(expr, &self.replace, mode)?,
        ))
    }

    /// What happens to unit `u`: None when it is not in the (possibly complemented) list.
    fn outcome(&self, s: &UnitList, r: &UnitList, u: u32) -> Option<TrOutcome> {
        let idx = if self.complement {
            if s.index_of(u).is_some() {
                return None;
            }
            u64::from(u) - s.count_below(u)
        } else {
            s.index_of(u)?
        };
        if let Some(m) = r.get(idx) {
            return Some(TrOutcome::Map(m));
        }
        if self.delete {
            return Some(TrOutcome::Delete);
        }
        match r.last() {
            None => Some(TrOutcome::Keep),
            Some(l) => Some(TrOutcome::Map(l)),
        }
    }

    fn run_units(&self, s: &UnitList, r: &UnitList, units: &[u32]) -> (Vec<u32>, usize) {
        let mut out = Vec::with_capacity(units.len());
        let mut count = 0;
        let mut last_translated: Option<u32> = None;
        for &u in units {
            match self.outcome(s, r, u) {
                None => {
                    out.push(u);
                    last_translated = None;
                }
                Some(o) => {
                    count += 1;
                    let t = match o {
                        TrOutcome::Delete => continue,
                        TrOutcome::Keep => u,
                        TrOutcome::Map(m) => m,
                    };
                    if self.squeeze && last_translated == Some(t) {
                        continue;
                    }
                    out.push(t);
                    last_translated = Some(t);
                }
            }
        }
        (out, count)
    }

    pub(super) fn run_str(
        &self,
        expr: &str,
        input: &str,
    ) -> Result<(String, usize), PerlExprError> {
        let (s, r) = self.lists(expr, Mode::Unicode)?;
        let units: Vec<u32> = input.chars().map(u32::from).collect();
        let (out, n) = self.run_units(&s, &r, &units);
        Ok((
            out.into_iter()
                .map(|u| char::from_u32(u).unwrap_or('\u{FFFD}'))
                .collect(),
            n,
        ))
    }

    pub(super) fn run_bytes(
        &self,
        expr: &str,
        input: &[u8],
    ) -> Result<(Vec<u8>, usize), PerlExprError> {
        let (s, r) = self.lists(expr, Mode::Bytes)?;
        let units: Vec<u32> = input.iter().map(|b| u32::from(*b)).collect();
        let (out, n) = self.run_units(&s, &r, &units);
        Ok((out.into_iter().map(|u| (u & 0xFF) as u8).collect(), n))
    }
}
