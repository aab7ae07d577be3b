//! UID sets (`1:5,7,9:*`), as sent in commands and received in APPENDUID/COPYUID/VANISHED.
//!
//! ```abnf
//! sequence-set = (seq-number / seq-range) ["," sequence-set]
//! seq-range    = seq-number ":" seq-number
//! seq-number   = nz-number / "*"
//! ```

use std::fmt;

/// A set of UIDs as a list of inclusive ranges, kept in the order given. `*` is represented by
/// `u32::MAX`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UidSet {
    ranges: Vec<(u32, u32)>,
}

/// `*` in a sequence set.
pub const STAR: u32 = u32::MAX;

impl UidSet {
    pub fn new() -> Self {
        UidSet::default()
    }

    /// The set `lo:hi`.
    pub fn range(lo: u32, hi: u32) -> Self {
        UidSet {
            ranges: vec![(lo.min(hi), lo.max(hi))],
        }
    }

    /// Builds a compact set from UIDs (sorted and de-duplicated here).
    pub fn from_uids(uids: impl IntoIterator<Item = u32>) -> Self {
        let mut v: Vec<u32> = uids.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for u in v {
            match ranges.last_mut() {
                Some((_, hi)) if hi.checked_add(1) == Some(u) => *hi = u,
                _ => ranges.push((u, u)),
            }
        }
        UidSet { ranges }
    }

    /// Parses `1:5,7,9:*`. Returns `None` on any syntax error or a zero.
    pub fn parse(s: &str) -> Option<Self> {
        let mut ranges = Vec::new();
        for part in s.split(',') {
            let (a, b) = match part.split_once(':') {
                Some((a, b)) => (num(a)?, num(b)?),
                None => {
                    let n = num(part)?;
                    (n, n)
                }
            };
            ranges.push((a.min(b), a.max(b)));
        }
        Some(UidSet { ranges })
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    /// Number of UIDs (ranges ending in `*` count to u32::MAX; callers don't count those).
    pub fn len(&self) -> u64 {
        self.ranges
            .iter()
            .map(|&(a, b)| u64::from(b) - u64::from(a) + 1)
            .sum()
    }

    pub fn contains(&self, uid: u32) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= uid && uid <= b)
    }

    /// The UIDs in the order given (APPENDUID with MULTIAPPEND lists them in append order).
    /// Refuses to expand more than `limit` UIDs.
    pub fn expand(&self, limit: usize) -> Option<Vec<u32>> {
        if self.len() > limit as u64 {
            return None;
        }
        let mut out = Vec::with_capacity(self.len() as usize);
        for &(a, b) in &self.ranges {
            out.extend(a..=b);
        }
        Some(out)
    }

    /// Splits the UIDs into sets whose rendering stays under `max_len` characters, to keep
    /// command lines short (imapsync keeps them under 1000 characters).
    pub fn chunks_by_len(uids: &[u32], max_len: usize) -> Vec<UidSet> {
        let all = UidSet::from_uids(uids.iter().copied());
        let mut out = Vec::new();
        let mut cur: Vec<(u32, u32)> = Vec::new();
        let mut cur_len = 0usize;
        for &r in &all.ranges {
            let add = range_len(r) + usize::from(!cur.is_empty());
            if !cur.is_empty() && cur_len + add > max_len {
                out.push(UidSet {
                    ranges: std::mem::take(&mut cur),
                });
                cur_len = 0;
            }
            cur_len += range_len(r) + usize::from(!cur.is_empty());
            cur.push(r);
        }
        if !cur.is_empty() {
            out.push(UidSet { ranges: cur });
        }
        out
    }
}

fn range_len((a, b): (u32, u32)) -> usize {
    let digits = |n: u32| if n == STAR { 1 } else { n.to_string().len() };
    if a == b {
        digits(a)
    } else {
        digits(a) + 1 + digits(b)
    }
}

fn num(s: &str) -> Option<u32> {
    if s == "*" {
        return Some(STAR);
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&n| n != 0)
}

impl fmt::Display for UidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |n: u32| {
            if n == STAR {
                "*".to_string()
            } else {
                n.to_string()
            }
        };
        for (i, &(a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                f.write_str(&show(a))?;
            } else {
                write!(f, "{}:{}", show(a), show(b))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_render() {
        let s = UidSet::parse("1:5,7,9:*").expect("set");
        assert_eq!(s.to_string(), "1:5,7,9:*");
        assert!(s.contains(3) && s.contains(7) && s.contains(100) && !s.contains(6));
        assert_eq!(UidSet::parse("5:3").expect("set").to_string(), "3:5");
        assert!(UidSet::parse("0").is_none());
        assert!(UidSet::parse("").is_none());
        assert!(UidSet::parse("1,,2").is_none());
        assert!(UidSet::parse("a").is_none());
    }

    #[test]
    fn compact_from_uids() {
        assert_eq!(
            UidSet::from_uids([5, 1, 2, 3, 9, 10, 3]).to_string(),
            "1:3,5,9:10"
        );
        assert_eq!(UidSet::from_uids([]).to_string(), "");
        assert_eq!(
            UidSet::parse("3:5,1").expect("set").expand(10),
            Some(vec![3, 4, 5, 1])
        );
        assert_eq!(UidSet::parse("1:*").expect("set").expand(10), None);
    }

    #[test]
    fn chunks_stay_short_and_cover_everything() {
        let uids: Vec<u32> = (1..2000).filter(|u| u % 3 != 0).collect();
        let chunks = UidSet::chunks_by_len(&uids, 100);
        let mut all = Vec::new();
        for c in &chunks {
            assert!(c.to_string().len() <= 100, "{c}");
            all.extend(c.expand(100_000).expect("expand"));
        }
        assert_eq!(all, uids);
        assert_eq!(UidSet::chunks_by_len(&[], 10).len(), 0);
    }
}
