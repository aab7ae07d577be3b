//! Folder selection and host1 → host2 name mapping for a run: glue between what the servers
//! listed ([`SideFolders`]) and the pure rules of [`imapsync_plan::folders`] and
//! [`imapsync_plan::automap`].

use imapsync_plan::automap::{self, AutomapSide};
use imapsync_plan::folders::{
    self, FolderError, FolderMapper, Host1Listing, ListedFolder, MapperOptions, Namespace,
    SelectionOptions,
};

use crate::config::Mode;
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
    pub sep2: String,
    /// Host2 folders that no host1 folder maps to (for `--delete2folders`).
    pub only_on_2: Vec<String>,
    /// Every selectable host1 folder the rules map, synced or not, with its host2 name (Gmail
    /// labels are translated like folder names).
    pub mapped_all: Vec<(String, String)>,
}

/// Both folder listings, mapped, with the statuses of the folders concerned.
#[derive(Debug)]
pub struct Mapped {
    pub f1: SideFolders,
    pub f2: SideFolders,
    pub plan: Plan,
    pub status1: std::collections::HashMap<String, imapsync_proto::response::StatusItems>,
    pub status2: std::collections::HashMap<String, imapsync_proto::response::StatusItems>,
}

/// Why no plan could be made, with imapsync's exit code.
#[derive(Debug)]
pub struct PlanError {
    pub message: String,
    pub exit_code: i32,
}

impl From<FolderError> for PlanError {
    fn from(e: FolderError) -> Self {
        let exit_code = match e {
            FolderError::Subfolder1Missing { .. } => 21,
            _ => 64,
        };
        PlanError {
            message: e.to_string(),
            exit_code,
        }
    }
}

/// imapsync's display form without the outer brackets (callers add them): `raw` or
/// `raw] = [utf8`.
fn shown(raw: &str) -> String {
    let d = folders::display_name(raw);
    let d = d.strip_prefix('[').unwrap_or(&d);
    d.strip_suffix(']').unwrap_or(d).to_string()
}

fn listed(side: &SideFolders) -> Vec<ListedFolder> {
    side.list
        .iter()
        .map(|f| ListedFolder {
            name: f.name.clone(),
            attributes: f.attrs.clone(),
        })
        .collect()
}

fn namespace(
    side: &SideFolders,
    name: &str,
    n: u8,
    sep_opt: Option<char>,
    prefix_opt: Option<&str>,
    lines: &mut Vec<String>,
) -> Namespace {
    let names = side.names();
    let server_sep = side
        .namespace_separator()
        .or_else(|| side.list.iter().find_map(|f| f.delimiter))
        .map(String::from);
    let sep_opt = sep_opt.map(String::from);
    let sep = folders::resolve_separator(
        name,
        &format!("--sep{n}"),
        side.personal.is_some(),
        server_sep.as_deref(),
        sep_opt.as_deref(),
        &names,
    );
    let server_prefix = side
        .personal
        .as_ref()
        .map(|p| String::from_utf8_lossy(&p.prefix).into_owned());
    let prefix = folders::resolve_prefix(
        name,
        &format!("--prefix{n}"),
        side.personal.is_some(),
        server_prefix.as_deref(),
        prefix_opt,
        &names,
    );
    lines.extend(sep.lines.iter().cloned());
    lines.extend(prefix.lines.iter().cloned());
    Namespace::new(sep.value, prefix.value)
}

/// Decides the folder pairs.
pub fn plan(ctx: &Ctx, f1: &SideFolders, f2: &SideFolders) -> Result<Plan, PlanError> {
    let cfg = &ctx.cfg;
    let fc = &cfg.folders;
    let mut lines = Vec::new();
    let ns1 = namespace(
        f1,
        "Host1",
        1,
        cfg.side1.sep,
        cfg.side1.prefix.as_deref(),
        &mut lines,
    );
    let ns2 = namespace(
        f2,
        "Host2",
        2,
        cfg.side2.sep,
        cfg.side2.prefix.as_deref(),
        &mut lines,
    );
    let (list1, list2) = (listed(f1), listed(f2));
    let selected = selection(fc, f1, &list1, &ns1, &mut lines)?;
    let h1_all = folders::selectable_names(&list1);
    let h2_all = folders::selectable_names(&list2);
    let table = if fc.automap {
        let am = automap::automap(
            AutomapSide {
                list: &list1,
                prefix: &ns1.prefix,
            },
            AutomapSide {
                list: &list2,
                prefix: &ns2.prefix,
            },
            &selected,
        );
        lines.extend(am.lines.iter().cloned());
        lines.extend(am.report());
        am.table()
    } else {
        Default::default()
    };
    let mapper = FolderMapper::new(
        MapperOptions {
            f1f2: fc.f1f2.clone(),
            automap: table,
            subfolder1: fc.subfolder1.clone(),
            subfolder2: fc.subfolder2.clone(),
            regextrans2: fc.regextrans2.clone(),
            fixslash2: fc.fixslash2,
            fix_inbox_inbox: fc.fixinboxinbox,
        },
        ns1.clone(),
        ns2.clone(),
        &h1_all,
        &h2_all,
    )?;
    lines.extend(mapper.lines().iter().cloned());
    lines.extend(mapper.f1f2_report(&h1_all));
    let pairs = selected
        .iter()
        .map(|name1| {
            let name2 = mapper.map(name1)?;
            Ok(Pair {
                shown1: shown(name1),
                shown2: shown(&name2),
                name1: name1.clone(),
                name2,
            })
        })
        .collect::<Result<Vec<_>, FolderError>>()?;
    let only_on_2 = folders::folders_in_2_not_in_1(&mapper, &h1_all, &h2_all)?;
    let mapped_all = h1_all
        .iter()
        .filter_map(|n| mapper.map(n).ok().map(|n2| (n.clone(), n2)))
        .collect();
    let verbose = cfg.debug
        || cfg.debugfolders
        || matches!(cfg.mode, Mode::JustFolderLists | Mode::JustAutomap);
    lines.extend(listing_lines(verbose, &h1_all, &h2_all, &only_on_2, &pairs));
    Ok(Plan {
        pairs,
        lines,
        sep2: ns2.sep,
        only_on_2,
        mapped_all,
    })
}

/// The host1 folders to sync, in order.
fn selection(
    fc: &crate::config::FolderConfig,
    f1: &SideFolders,
    list1: &[ListedFolder],
    ns1: &Namespace,
    lines: &mut Vec<String>,
) -> Result<Vec<String>, PlanError> {
    let lsub1: Vec<ListedFolder> = f1
        .subscribed
        .iter()
        .map(|n| ListedFolder {
            name: n.clone(),
            attributes: Vec::new(),
        })
        .collect();
    let selection = folders::select_folders(
        Host1Listing {
            list: list1,
            lsub: &lsub1,
            namespace: ns1,
        },
        &SelectionOptions {
            folder: fc.folder.clone(),
            folderrec: fc.folderrec.clone(),
            include: fc.include.clone(),
            exclude: fc.exclude.clone(),
            subscribed: fc.subscribed,
            checkfoldersexist: fc.checkfoldersexist,
            checkselectable: fc.checkselectable,
            subfolder1: fc.subfolder1.clone(),
            folderfirst: fc.folderfirst.clone(),
            folderlast: fc.folderlast.clone(),
        },
    )?;
    lines.extend(selection.lines.iter().cloned());
    lines.extend(selection.warnings.iter().cloned());
    Ok(selection.folders)
}

/// Both folder lists and the mapping (with `--debug` or `--justfolderlists`), and the host2
/// folders no host1 folder maps to.
fn listing_lines(
    verbose: bool,
    h1_all: &[String],
    h2_all: &[String],
    only_on_2: &[String],
    pairs: &[Pair],
) -> Vec<String> {
    let mut lines = Vec::new();
    if verbose {
        lines.push("Host1: folders list:".into());
        lines.extend(h1_all.iter().map(|n| folders::display_name(n)));
        lines.push("Host2: folders list:".into());
        lines.extend(h2_all.iter().map(|n| folders::display_name(n)));
    }
    if !only_on_2.is_empty() {
        lines.push("Folders in host2 not in host1:".into());
        lines.extend(only_on_2.iter().map(|n| folders::display_name(n)));
    }
    if verbose {
        lines.push("Folders mapping host1 -> host2:".into());
        lines.extend(
            pairs
                .iter()
                .map(|p| format!("[{}] -> [{}]", p.shown1, p.shown2)),
        );
    }
    lines
}
