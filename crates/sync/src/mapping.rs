//! Folder selection and host1 → host2 name mapping for a run (glue around
//! [`imapsync_plan::folders`]).

use imapsync_plan::perlre::{PerlExpr, perl_regex};

use crate::ctx::Ctx;
use crate::discover::SideFolders;

/// One folder pair.
#[derive(Clone, Debug)]
pub struct Pair {
    pub name1: String,
    pub name2: String,
    pub shown1: String,
    pub shown2: String,
}

/// The folders to sync, in order, and what to print about them.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub pairs: Vec<Pair>,
    pub lines: Vec<String>,
    pub sep2: char,
}

#[derive(Debug)]
pub struct PlanError {
    pub message: String,
    pub exit_code: i32,
}

fn shown(raw: &str) -> String {
    if raw.bytes().any(|b| b == b'&') {
        if let Ok(u) = imapsync_proto::mutf7::decode(raw) {
            if u != raw {
                return format!("{raw}] = [{u}");
            }
        }
    }
    raw.to_string()
}

fn sep_of(f: &SideFolders, over: Option<char>) -> char {
    over.or(f.namespace_separator())
        .or_else(|| f.list.iter().find_map(|x| x.delimiter))
        .unwrap_or('/')
}

fn prefix_of(f: &SideFolders, over: &Option<String>) -> String {
    match over {
        Some(p) => p.clone(),
        None => f
            .personal
            .as_ref()
            .map(|n| String::from_utf8_lossy(&n.prefix).into_owned())
            .unwrap_or_default(),
    }
}

/// Decides the folder pairs.
pub fn plan(ctx: &Ctx, f1: &SideFolders, f2: &SideFolders) -> Result<Plan, PlanError> {
    let cfg = &ctx.cfg;
    let fc = &cfg.folders;
    let sep1 = sep_of(f1, cfg.side1.sep);
    let sep2 = sep_of(f2, cfg.side2.sep);
    let prefix1 = prefix_of(f1, &cfg.side1.prefix);
    let prefix2 = prefix_of(f2, &cfg.side2.prefix);
    let mut lines = vec![
        format!("Host1: separator [{sep1}] prefix [{prefix1}]"),
        format!("Host2: separator [{sep2}] prefix [{prefix2}]"),
    ];
    let usage = |m: String| PlanError {
        message: m,
        exit_code: 64,
    };
    let include = fc
        .include
        .iter()
        .map(|p| perl_regex(p).map_err(|e| usage(format!("--include {p}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let exclude = fc
        .exclude
        .iter()
        .map(|p| perl_regex(p).map_err(|e| usage(format!("--exclude {p}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let trans = fc
        .regextrans2
        .iter()
        .map(|p| PerlExpr::parse(p).map_err(|e| usage(format!("--regextrans2 {p}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let mut selected: Vec<String> = Vec::new();
    let explicit = !fc.folder.is_empty() || !fc.folderrec.is_empty() || fc.subscribed;
    for f in &f1.list {
        if f.has_attr("\\Noselect") || f.has_attr("\\NonExistent") {
            continue;
        }
        let mut take = !explicit && include.is_empty();
        if fc.folder.contains(&f.name) {
            take = true;
        }
        for r in &fc.folderrec {
            if f.name == *r || f.name.starts_with(&format!("{r}{sep1}")) {
                take = true;
            }
        }
        if fc.subscribed && f1.subscribed.contains(&f.name) {
            take = true;
        }
        if include
            .iter()
            .any(|re| re.is_match(&f.name).unwrap_or(false))
        {
            take = true;
        }
        if exclude
            .iter()
            .any(|re| re.is_match(&f.name).unwrap_or(false))
        {
            take = false;
        }
        if take {
            selected.push(f.name.clone());
        }
    }
    for f in &fc.folder {
        if !f1.contains(f) {
            lines.push(format!("Folder [{f}] does not exist on host1"));
        }
    }
    selected.sort();
    let mut pairs = Vec::new();
    for name1 in selected {
        let name2 = if let Some((_, d)) = fc.f1f2.iter().find(|(s, _)| *s == name1) {
            d.clone()
        } else {
            let mut n = name1.clone();
            if !prefix1.is_empty() && n == prefix1.trim_end_matches(sep1) {
                n = "INBOX".into();
            }
            if let Some(rest) = n.strip_prefix(&prefix1).filter(|_| !prefix1.is_empty()) {
                n = rest.to_string();
            }
            if sep1 != sep2 {
                n = n
                    .chars()
                    .map(|c| {
                        if c == sep1 {
                            sep2
                        } else if c == sep2 {
                            sep1
                        } else {
                            c
                        }
                    })
                    .collect();
                if sep1 == '/' && fc.fixslash2 {
                    n = n.replace('/', "_");
                }
            }
            if !n.eq_ignore_ascii_case("INBOX") {
                n = format!("{prefix2}{n}");
            } else {
                n = "INBOX".into();
            }
            for t in &trans {
                n = t
                    .apply(&n)
                    .map_err(|e| usage(format!("--regextrans2 {}: {e}", t.source())))?;
            }
            n
        };
        pairs.push(Pair {
            shown1: shown(&name1),
            shown2: shown(&name2),
            name1,
            name2,
        });
    }
    Ok(Plan { pairs, lines, sep2 })
}

/// Folders to create on host2 for `name2` (parents first), given what exists.
pub fn to_create(ctx: &Ctx, name2: &str, existing: &[String]) -> Vec<String> {
    let _ = ctx;
    if name2.eq_ignore_ascii_case("INBOX") || existing.iter().any(|e| e == name2) {
        return Vec::new();
    }
    vec![name2.to_string()]
}
