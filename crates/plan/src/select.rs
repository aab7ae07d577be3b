//! Message selection: which UIDs of a folder are considered, and which are skipped for size.
//!
//! **Listing.** For each side imapsync lists the folder's messages in one of three ways
//! ([`listing_plan`]):
//! * nothing given → `UID SEARCH ALL`;
//! * a search string for that side (`--search1`/`--search2`, else `--search`) → `UID SEARCH
//!   <string>` sent verbatim; `--maxage/--minage` are then ignored **for that side only** (so
//!   `--search1 X --maxage 3` still ages host2);
//! * `--maxage` and/or `--minage` → `UID SEARCH sentsince <date>` and/or `UID SEARCH
//!   sentbefore <date>` (dates from [`crate::dates::sent_search_criteria`]), combined by
//!   [`msgs_from_maxmin`]: with both bounds, the intersection when `minage ≤ maxage` (a
//!   window), the union otherwise (everything except a band).
//!
//! With `--noabletosearch` the list comes from `UID FETCH 1:* INTERNALDATE` and ages are
//! tested client-side on internal dates ([`crate::dates::in_maxage_window`]).
//!
//! **Size filters.** Before copying, `--maxsize N` skips messages **larger than** N and
//! `--minsize N` skips messages **smaller than or equal to** N ([`size_filtered`]), printing
//! the lines of [`SizeSkip::message`]. The flag-resync path uses a different test where the
//! maxsize bound is inclusive (size ≥ N is filtered) — [`size_filtered_flag`].

use crate::dates::{DateError, SearchKey, sent_search_criteria};

/// `UID SEARCH ALL`, the listing without any criteria.
pub const SEARCH_ALL: &str = "UID SEARCH ALL";

/// How one side's messages are listed.
#[derive(Debug, Clone, PartialEq)]
pub enum Listing {
    /// `UID SEARCH ALL`.
    All,
    /// `UID SEARCH <criteria>`, criteria verbatim.
    Search(String),
    /// One or two searches (`sentsince` for maxage, `sentbefore` for minage) combined by
    /// [`msgs_from_maxmin`].
    Ages {
        /// `--maxage` in days.
        maxage: Option<f64>,
        /// `--minage` in days.
        minage: Option<f64>,
    },
}

impl Listing {
    /// The SEARCH commands to send, in order (`sentsince` before `sentbefore`). An age whose
    /// date cannot be built yields an `Err` in its slot (imapsync then has no list for it).
    /// `offset_at(t)` gives the local UTC offset at instant `t`.
    pub fn search_commands(
        &self,
        timestart_int: i64,
        offset_at: impl Fn(i64) -> i32,
    ) -> Vec<Result<String, DateError>> {
        match self {
            Listing::All => vec![Ok(SEARCH_ALL.to_owned())],
            Listing::Search(c) => vec![Ok(search_command(c))],
            Listing::Ages { maxage, minage } => {
                let mut out = Vec::new();
                if let Some(d) = maxage {
                    out.push(
                        sent_search_criteria(SearchKey::SentSince, timestart_int, *d, &offset_at)
                            .map(|c| search_command(&c)),
                    );
                }
                if let Some(d) = minage {
                    out.push(
                        sent_search_criteria(SearchKey::SentBefore, timestart_int, *d, &offset_at)
                            .map(|c| search_command(&c)),
                    );
                }
                out
            }
        }
    }
}

/// Perl truthiness of an optional string option (`""` and `"0"` are false).
fn perl_true(s: Option<&str>) -> Option<&str> {
    s.filter(|v| !v.is_empty() && *v != "0")
}

/// The search string of one side: `--searchN` if set, else `--search` if set.
pub fn side_search(search_n: Option<&str>, search: Option<&str>) -> Option<String> {
    perl_true(search_n)
        .or_else(|| perl_true(search))
        .map(str::to_owned)
}

/// Decide how one side is listed from its effective search string ([`side_search`]) and the
/// age options.
pub fn listing_plan(search: Option<&str>, maxage: Option<f64>, minage: Option<f64>) -> Listing {
    if let Some(s) = search {
        return Listing::Search(s.to_owned());
    }
    if maxage.is_none() && minage.is_none() {
        return Listing::All;
    }
    Listing::Ages { maxage, minage }
}

/// `UID SEARCH <criteria>`.
pub fn search_command(criteria: &str) -> String {
    format!("UID SEARCH {criteria}")
}

/// The `--noabletosearch` listing command; `set` is `--fetch_hash_set` (default `1:*`).
pub fn fetch_listing_command(set: Option<&str>) -> String {
    let set = perl_true(set).unwrap_or("1:*");
    format!("UID FETCH {set} INTERNALDATE")
}

/// Combine the `sentsince` (maxage) and `sentbefore` (minage) result lists.
///
/// * neither age given → empty;
/// * only maxage → `max` as returned (server order kept);
/// * only minage → `min` as returned;
/// * both → UIDs sorted numerically: the intersection if `minage ≤ maxage`, else the union.
///   (A UID listed twice by the same search counts as present in both.)
pub fn msgs_from_maxmin(
    max: &[u32],
    min: &[u32],
    maxage: Option<f64>,
    minage: Option<f64>,
) -> Vec<u32> {
    match (maxage, minage) {
        (None, None) => Vec::new(),
        (Some(_), None) => max.to_vec(),
        (None, Some(_)) => min.to_vec(),
        (Some(maxage), Some(minage)) => {
            let mut seen: std::collections::BTreeMap<u32, u32> = std::collections::BTreeMap::new();
            for &m in min.iter().chain(max) {
                *seen.entry(m).or_insert(0) += 1;
            }
            if minage <= maxage {
                seen.into_iter()
                    .filter(|&(_, n)| n >= 2)
                    .map(|(m, _)| m)
                    .collect()
            } else {
                seen.into_keys().collect()
            }
        }
    }
}

/// Why a message was skipped for its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeSkip {
    /// `size > maxsize`.
    ExceedsMaxsize {
        /// RFC822.SIZE (0 when unknown).
        size: u64,
        /// The limit.
        maxsize: i64,
    },
    /// `size ≤ minsize`.
    SmallerThanMinsize {
        /// RFC822.SIZE (0 when unknown).
        size: u64,
        /// The limit.
        minsize: i64,
    },
}

impl SizeSkip {
    /// The line imapsync prints, e.g.
    /// `msg INBOX/12 skipped (5000 exceeds maxsize limit 4000 bytes)`.
    pub fn message(&self, folder: &str, uid: u32) -> String {
        match self {
            SizeSkip::ExceedsMaxsize { size, maxsize } => {
                format!("msg {folder}/{uid} skipped ({size} exceeds maxsize limit {maxsize} bytes)")
            }
            SizeSkip::SmallerThanMinsize { size, minsize } => {
                format!("msg {folder}/{uid} skipped ({size} smaller than minsize {minsize} bytes)")
            }
        }
    }

    /// Bytes to add to "Total bytes skipped".
    pub fn size(&self) -> u64 {
        match self {
            SizeSkip::ExceedsMaxsize { size, .. } | SizeSkip::SmallerThanMinsize { size, .. } => {
                *size
            }
        }
    }
}

/// The copy-time size filter: maxsize checked first (strictly greater is skipped), then
/// minsize (smaller or equal is skipped). An unknown size counts as 0.
pub fn size_filtered(
    size: Option<u64>,
    maxsize: Option<i64>,
    minsize: Option<i64>,
) -> Option<SizeSkip> {
    let size = size.unwrap_or(0);
    let s = i128::from(size);
    if let Some(maxsize) = maxsize
        && s > i128::from(maxsize)
    {
        return Some(SizeSkip::ExceedsMaxsize { size, maxsize });
    }
    if let Some(minsize) = minsize
        && s <= i128::from(minsize)
    {
        return Some(SizeSkip::SmallerThanMinsize { size, minsize });
    }
    None
}

/// The flag-resync size filter: no flag resync when `size ≥ maxsize` or `size ≤ minsize`
/// (note the inclusive maxsize bound, unlike [`size_filtered`]).
pub fn size_filtered_flag(size: Option<u64>, maxsize: Option<i64>, minsize: Option<i64>) -> bool {
    let s = i128::from(size.unwrap_or(0));
    maxsize.is_some_and(|m| s >= i128::from(m)) || minsize.is_some_and(|m| s <= i128::from(m))
}

/// Host2's append limit and the line saying where it comes from: `--appendlimit` when given
/// (the APPENDLIMIT host2 announces is then not used, as imapsync), else the announced one.
/// Copies bigger than it are skipped (it lowers `--maxsize`).
pub fn appendlimit(option: Option<u64>, announced: Option<u64>) -> Option<(u64, String)> {
    match (option, announced) {
        (Some(v), Some(a)) => Some((
            v,
            format!(
                "Host2: Getting appendlimit from --appendlimit {v} (host2 announces APPENDLIMIT={a}), messages bigger are skipped"
            ),
        )),
        (Some(v), None) => Some((
            v,
            format!(
                "Host2: Getting appendlimit from --appendlimit {v}, messages bigger are skipped"
            ),
        )),
        (None, Some(a)) => Some((
            a,
            format!("Host2: found APPENDLIMIT={a} in CAPABILITY, messages bigger are skipped"),
        )),
        (None, None) => None,
    }
}

/// `--noallowsizemismatch`: why a fetched body whose length is not the RFC822.SIZE host1
/// announced is not copied (`None`: it is, always with `--allowsizemismatch`, the default).
pub fn size_mismatch(allow: bool, announced: u64, fetched: u64) -> Option<String> {
    (!allow && announced != fetched).then(|| {
        format!(
            "could not be fetched: expected {announced} bytes (RFC822.SIZE) but received {fetched} (--noallowsizemismatch)"
        )
    })
}

/// Which account a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The source.
    Host1,
    /// The destination.
    Host2,
}

/// The line printed for a message without any wanted header (not an error; counted as
/// skipped on host1).
pub fn noheader_message(side: Side, folder: &str, uid: u32, size: u64) -> String {
    match side {
        Side::Host1 => format!(
            "Host1: {folder}/{uid} size {size} ignored (no wanted headers so we ignore this message. To solve this: use --addheader)"
        ),
        Side::Host2 => format!(
            "Host2: {folder}/{uid} size {size} ignored (no wanted headers so we ignore this message)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // imapsync's msgs_from_maxmin unit vectors (maxage 200, minage 100 / 300).
    #[test]
    fn maxmin_vectors() {
        let (max, min) = ([1, 2], [2, 3]);
        assert_eq!(msgs_from_maxmin(&max, &min, None, None), Vec::<u32>::new());
        assert_eq!(msgs_from_maxmin(&max, &min, Some(200.0), None), vec![1, 2]);
        assert_eq!(
            msgs_from_maxmin(&max, &min, Some(200.0), Some(100.0)),
            vec![2]
        );
        assert_eq!(
            msgs_from_maxmin(&max, &min, Some(200.0), Some(300.0)),
            vec![1, 2, 3]
        );
        assert_eq!(msgs_from_maxmin(&max, &min, None, Some(300.0)), vec![2, 3]);
    }

    #[test]
    fn maxmin_details() {
        // Equal ages: intersection.
        assert_eq!(
            msgs_from_maxmin(&[5, 1], &[1, 9], Some(3.0), Some(3.0)),
            vec![1]
        );
        // Single bound keeps server order; combined results are sorted numerically.
        assert_eq!(
            msgs_from_maxmin(&[10, 9, 2], &[], Some(3.0), None),
            vec![10, 9, 2]
        );
        assert_eq!(
            msgs_from_maxmin(&[10, 9], &[100, 2], Some(1.0), Some(2.0)),
            vec![2, 9, 10, 100]
        );
        // A UID returned twice by one search lands in the intersection (Perl counting quirk).
        assert_eq!(
            msgs_from_maxmin(&[], &[7, 7], Some(3.0), Some(1.0)),
            vec![7]
        );
    }

    #[test]
    fn listing() {
        assert_eq!(
            side_search(Some("SEEN"), Some("ALL")),
            Some("SEEN".to_owned())
        );
        assert_eq!(side_search(None, Some("UNSEEN")), Some("UNSEEN".to_owned()));
        assert_eq!(
            side_search(Some(""), Some("UNSEEN")),
            Some("UNSEEN".to_owned())
        );
        assert_eq!(side_search(Some("0"), None), None);
        assert_eq!(listing_plan(None, None, None), Listing::All);
        assert_eq!(
            listing_plan(Some("SENTSINCE 1-Jan-2020"), Some(3.0), None),
            Listing::Search("SENTSINCE 1-Jan-2020".to_owned())
        );
        assert_eq!(
            listing_plan(None, Some(3.0), None),
            Listing::Ages {
                maxage: Some(3.0),
                minage: None
            }
        );
        assert_eq!(search_command("UNSEEN"), "UID SEARCH UNSEEN");
        let utc = |_: i64| 0;
        assert_eq!(
            Listing::All.search_commands(0, utc),
            vec![Ok("UID SEARCH ALL".to_owned())]
        );
        assert_eq!(
            Listing::Search("UNSEEN".into()).search_commands(0, utc),
            vec![Ok("UID SEARCH UNSEEN".to_owned())]
        );
        let ages = listing_plan(None, Some(1.0), Some(0.5));
        assert_eq!(
            ages.search_commands(1_282_658_461, utc),
            vec![
                Ok("UID SEARCH sentsince 23-Aug-2010".to_owned()),
                Ok("UID SEARCH sentbefore 24-Aug-2010".to_owned())
            ]
        );
        let bad = listing_plan(None, Some(0.0001), None).search_commands(1_282_658_461, utc);
        assert!(matches!(
            bad.as_slice(),
            [Err(DateError::InvalidSearchTime {
                how: "sentsince",
                ..
            })]
        ));
        assert_eq!(fetch_listing_command(None), "UID FETCH 1:* INTERNALDATE");
        assert_eq!(
            fetch_listing_command(Some("1:100")),
            "UID FETCH 1:100 INTERNALDATE"
        );
    }

    #[test]
    fn size_filters() {
        assert_eq!(size_filtered(Some(100), None, None), None);
        assert_eq!(size_filtered(Some(100), Some(100), None), None);
        let s = size_filtered(Some(101), Some(100), None);
        assert_eq!(
            s,
            Some(SizeSkip::ExceedsMaxsize {
                size: 101,
                maxsize: 100
            })
        );
        assert_eq!(
            s.map(|s| s.message("INBOX", 12)).as_deref(),
            Some("msg INBOX/12 skipped (101 exceeds maxsize limit 100 bytes)")
        );
        let s = size_filtered(Some(100), None, Some(100));
        assert_eq!(
            s.map(|s| s.message("A/B", 3)).as_deref(),
            Some("msg A/B/3 skipped (100 smaller than minsize 100 bytes)")
        );
        assert_eq!(size_filtered(Some(101), None, Some(100)), None);
        // Unknown size counts as 0.
        assert_eq!(
            size_filtered(None, None, Some(0)).map(|s| s.size()),
            Some(0)
        );
        // maxsize is checked first.
        assert!(matches!(
            size_filtered(Some(50), Some(10), Some(60)),
            Some(SizeSkip::ExceedsMaxsize { .. })
        ));
        // Flag resync: maxsize bound is inclusive.
        assert!(size_filtered_flag(Some(100), Some(100), None));
        assert!(!size_filtered_flag(Some(99), Some(100), None));
        assert!(size_filtered_flag(Some(5), None, Some(5)));
        assert!(!size_filtered_flag(Some(5), None, None));
    }

    #[test]
    fn noheader_lines() {
        assert_eq!(
            noheader_message(Side::Host1, "INBOX", 7, 1234),
            "Host1: INBOX/7 size 1234 ignored (no wanted headers so we ignore this message. To solve this: use --addheader)"
        );
        assert_eq!(
            noheader_message(Side::Host2, "INBOX", 7, 0),
            "Host2: INBOX/7 size 0 ignored (no wanted headers so we ignore this message)"
        );
    }

    #[test]
    fn appendlimit_from_the_option_wins() {
        assert_eq!(appendlimit(None, None), None);
        let (v, line) = appendlimit(Some(1000), Some(5000)).expect("limit");
        assert_eq!(v, 1000);
        assert!(line.contains("--appendlimit 1000"), "{line}");
        let (v, _) = appendlimit(Some(9000), Some(5000)).expect("limit");
        assert_eq!(v, 9000, "the user's value wins, even above the server's");
        let (v, line) = appendlimit(None, Some(5000)).expect("limit");
        assert_eq!(v, 5000);
        assert!(line.contains("found APPENDLIMIT=5000 in CAPABILITY"));
    }

    #[test]
    fn size_mismatch_only_when_refused() {
        assert_eq!(size_mismatch(true, 10, 12), None);
        assert_eq!(size_mismatch(false, 10, 10), None);
        assert!(size_mismatch(false, 10, 12).is_some_and(|s| s.contains("expected 10 bytes")));
    }
}
