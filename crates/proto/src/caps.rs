//! The server's capability set.

/// Capabilities as announced (compared case-insensitively).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    items: Vec<String>,
}

impl Capabilities {
    pub fn new(items: Vec<String>) -> Self {
        Capabilities {
            items: items.into_iter().map(|c| c.to_ascii_uppercase()).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Exact capability, e.g. `UIDPLUS`, `AUTH=PLAIN`.
    pub fn has(&self, cap: &str) -> bool {
        self.items.iter().any(|c| c.eq_ignore_ascii_case(cap))
    }

    /// Value of a `NAME=value` capability, e.g. `APPENDLIMIT=35651584`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.items.iter().find_map(|c| {
            let (k, v) = c.split_once('=')?;
            k.eq_ignore_ascii_case(name).then_some(v)
        })
    }

    pub fn auth_mechanisms(&self) -> Vec<&str> {
        self.items
            .iter()
            .filter_map(|c| c.strip_prefix("AUTH="))
            .collect()
    }

    pub fn items(&self) -> &[String] {
        &self.items
    }

    /// LITERAL+ (RFC 7888): every literal may be non-synchronizing.
    pub fn literal_plus(&self) -> bool {
        self.has("LITERAL+")
    }

    /// LITERAL- (RFC 7888): literals up to 4096 bytes may be non-synchronizing.
    pub fn literal_minus(&self) -> bool {
        self.has("LITERAL-")
    }

    /// May a literal of `len` bytes be sent non-synchronizing (`{N+}`), without waiting for
    /// the server's `+`? With LITERAL+ any size, with LITERAL- up to [`LITERAL_MINUS_MAX`]
    /// bytes, otherwise never (RFC 7888). The one place this rule lives: set-up and the
    /// engine both ask it.
    pub fn literal_nonsync(&self, len: u64) -> bool {
        self.literal_plus() || (self.literal_minus() && len <= LITERAL_MINUS_MAX)
    }

    /// `APPENDLIMIT=n` (RFC 7889); a bare `APPENDLIMIT` means per-mailbox limits.
    pub fn append_limit(&self) -> Option<u64> {
        self.value("APPENDLIMIT").and_then(|v| v.parse().ok())
    }

    pub fn condstore(&self) -> bool {
        self.has("CONDSTORE") || self.has("QRESYNC")
    }

    pub fn render(&self) -> String {
        self.items.join(" ")
    }
}

/// Largest literal that may be sent without waiting for `+` under LITERAL- (RFC 7888 §5).
pub const LITERAL_MINUS_MAX: u64 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let c = Capabilities::new(vec![
            "IMAP4rev1".into(),
            "literal+".into(),
            "AUTH=PLAIN".into(),
            "APPENDLIMIT=35651584".into(),
        ]);
        assert!(c.has("LITERAL+") && c.literal_plus() && !c.literal_minus());
        assert_eq!(c.auth_mechanisms(), vec!["PLAIN"]);
        assert_eq!(c.append_limit(), Some(35651584));
        assert!(!c.condstore());
    }

    #[test]
    fn literal_nonsync_rule() {
        let caps =
            |items: &[&str]| Capabilities::new(items.iter().map(|s| s.to_string()).collect());
        // (capabilities, literal length, may be sent without waiting for `+`)
        let table: &[(&[&str], u64, bool)] = &[
            (&[], 0, false),
            (&[], 1, false),
            (&["IMAP4rev1"], 10, false),
            (&["LITERAL+"], 0, true),
            (&["LITERAL+"], 4096, true),
            (&["LITERAL+"], 4097, true),
            (&["literal+"], 100_000_000, true),
            (&["LITERAL-"], 0, true),
            (&["LITERAL-"], 4095, true),
            (&["LITERAL-"], 4096, true),
            (&["LITERAL-"], 4097, false),
            (&["literal-"], 100_000_000, false),
            (&["LITERAL+", "LITERAL-"], 4097, true),
            (&["LITERAL"], 1, false),
            (&["LITERAL=+"], 1, false),
        ];
        for (items, len, want) in table {
            assert_eq!(
                caps(items).literal_nonsync(*len),
                *want,
                "{items:?} with a literal of {len} bytes"
            );
        }
    }
}
