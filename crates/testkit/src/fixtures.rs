//! Edge-case mail fixtures stored under `crates/testkit/fixtures/corpus/`
//! (see the README there for provenance and licences).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};

/// What a server does to a fixture on APPEND + `FETCH BODY.PEEK[]`
/// (from `SERVER-BEHAVIOUR.tsv`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Returned byte for byte.
    Exact,
    /// Returned with bare LF turned into CRLF.
    CrlfNorm,
    /// Returned altered in another way (e.g. NUL bytes replaced).
    Modified,
    /// APPEND refused.
    Rejected,
    /// Any other label found in the table.
    Other(String),
}

impl Verdict {
    fn parse(s: &str) -> Verdict {
        match s {
            "exact" => Verdict::Exact,
            "crlf-norm" => Verdict::CrlfNorm,
            "modified" => Verdict::Modified,
            "rejected" => Verdict::Rejected,
            o => Verdict::Other(o.to_string()),
        }
    }
}

/// One fixture message.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// File name, e.g. `02-bare-lf.eml`.
    pub name: String,
    /// Exact file bytes.
    pub bytes: Vec<u8>,
    /// What it exercises (from `MANIFEST.tsv`).
    pub description: String,
    /// Observed Dovecot 2.3.19 behaviour (`dovecot-fs` rows), if recorded.
    pub dovecot: Option<Verdict>,
}

/// Directory holding the fixture tree (`fixtures/corpus`).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/corpus")
}

/// `(server, file) -> verdict` for every row of `SERVER-BEHAVIOUR.tsv`.
pub fn server_behaviour() -> Result<BTreeMap<(String, String), Verdict>> {
    let p = fixtures_dir().join("SERVER-BEHAVIOUR.tsv");
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.starts_with("server\t") {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() >= 3 {
            out.insert(
                (cols[0].to_string(), cols[1].to_string()),
                Verdict::parse(cols[2]),
            );
        }
    }
    Ok(out)
}

/// All synthetic `.eml` fixtures, sorted by name: `(name, bytes)` plus metadata.
pub fn fixtures() -> Result<Vec<Fixture>> {
    let dir = fixtures_dir().join("synthetic");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv"))
        .with_context(|| format!("reading {}/MANIFEST.tsv", dir.display()))?;
    let mut desc = BTreeMap::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.splitn(3, '\t').collect();
        if cols.len() == 3 {
            desc.insert(cols[0].to_string(), cols[2].to_string());
        }
    }
    let behaviour = server_behaviour()?;
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".eml") {
            continue;
        }
        let bytes = std::fs::read(e.path())?;
        let dovecot = behaviour
            .get(&("dovecot-fs".to_string(), format!("synthetic/{name}")))
            .cloned();
        out.push(Fixture {
            description: desc.get(&name).cloned().unwrap_or_default(),
            name,
            bytes,
            dovecot,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Just `(file name, bytes)` of every synthetic fixture, sorted by name.
pub fn fixture_bytes() -> Result<Vec<(String, Vec<u8>)>> {
    Ok(fixtures()?.into_iter().map(|f| (f.name, f.bytes)).collect())
}

/// Tricky mailbox names from `folder-names.txt` (UTF-8, `/` = hierarchy separator).
pub fn folder_names() -> Result<Vec<String>> {
    let p = fixtures_dir().join("synthetic/folder-names.txt");
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Turn every bare LF into CRLF (what Dovecot returns for `crlf-norm` fixtures).
pub fn crlf_normalise(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + 64);
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' && (i == 0 || b[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}
