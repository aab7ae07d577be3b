//! Folder discovery on one side: NAMESPACE, LIST (with special-use attributes and, when the
//! server has LIST-STATUS, every folder's status in the same round trip), LSUB.

use std::collections::HashMap;

use imapsync_client::{ConnError, Connection};
use imapsync_proto::command::cmd;
use imapsync_proto::response::{ListItem, NamespaceDesc, StatusItems, Untagged};

/// What one side holds.
#[derive(Clone, Debug, Default)]
pub struct SideFolders {
    /// LIST entries in server order, names as raw strings (invalid UTF-8 entries are in
    /// `unusable`).
    pub list: Vec<Folder>,
    pub subscribed: Vec<String>,
    pub personal: Option<NamespaceDesc>,
    /// Statuses from LIST-STATUS, by name.
    pub status: HashMap<String, StatusItems>,
    pub unusable: Vec<Vec<u8>>,
    /// The raw LIST lines, for display.
    pub raw: Vec<String>,
}

/// One listed folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folder {
    pub name: String,
    pub attrs: Vec<String>,
    pub delimiter: Option<char>,
}

impl Folder {
    pub fn has_attr(&self, a: &str) -> bool {
        self.attrs.iter().any(|x| x.eq_ignore_ascii_case(a))
    }
}

impl SideFolders {
    pub fn names(&self) -> Vec<String> {
        self.list.iter().map(|f| f.name.clone()).collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.list.iter().any(|f| f.name == name)
    }

    /// Separator from NAMESPACE, else from the first LIST entry that has one.
    pub fn namespace_separator(&self) -> Option<char> {
        self.personal.as_ref().and_then(|n| n.delimiter)
    }
}

fn to_folder(item: ListItem) -> Result<Folder, Vec<u8>> {
    match String::from_utf8(item.name) {
        Ok(name) => Ok(Folder {
            name,
            attrs: item.attrs,
            delimiter: item.delimiter,
        }),
        Err(e) => Err(e.into_bytes()),
    }
}

/// The STATUS items to ask for on this connection.
pub fn status_items(conn: &Connection) -> String {
    let mut s = String::from("MESSAGES UIDNEXT UIDVALIDITY");
    if conn.caps().condstore() {
        s.push_str(" HIGHESTMODSEQ");
    }
    if conn.caps().has("STATUS=SIZE") {
        s.push_str(" SIZE");
    }
    s
}

/// Lists a side's folders (pipelined: NAMESPACE, LIST, LSUB).
pub async fn discover(conn: &Connection) -> Result<SideFolders, ConnError> {
    let caps = conn.caps().clone();
    let mut ret = Vec::new();
    if caps.has("SPECIAL-USE") && caps.has("LIST-EXTENDED") {
        ret.push("SPECIAL-USE".to_string());
    }
    if caps.has("LIST-STATUS") {
        ret.push(format!("STATUS ({})", status_items(conn)));
    }
    let ns = caps.has("NAMESPACE").then(|| conn.submit(cmd::namespace()));
    let list = conn.submit(cmd::list(
        b"",
        b"*",
        (!ret.is_empty()).then(|| ret.join(" ")).as_deref(),
    ));
    let lsub = conn.submit(cmd::lsub(b"", b"*"));
    let mut out = SideFolders::default();
    if let Some(ns) = ns {
        let done = ns.await?;
        for u in done.untagged {
            if let Untagged::Namespace { personal, .. } = u {
                out.personal = personal.into_iter().next();
            }
        }
    }
    let mut done = list.await?;
    if !done.is_ok() && !ret.is_empty() {
        // A server that advertises but rejects the extended form: plain LIST.
        done = conn.run(cmd::list(b"", b"*", None)).await?;
    }
    for u in done.untagged {
        match u {
            Untagged::List(item) => {
                out.raw.push(format!(
                    "* LIST ({}) \"{}\" \"{}\"",
                    item.attrs.join(" "),
                    item.delimiter
                        .map(String::from)
                        .unwrap_or_else(|| "NIL".into()),
                    String::from_utf8_lossy(&item.name)
                ));
                match to_folder(item) {
                    Ok(f) => {
                        if !out.list.iter().any(|x| x.name == f.name) {
                            out.list.push(f);
                        }
                    }
                    Err(raw) => out.unusable.push(raw),
                }
            }
            Untagged::MailboxStatus { mailbox, items } => {
                if let Ok(name) = String::from_utf8(mailbox) {
                    out.status.insert(name, items);
                }
            }
            _ => {}
        }
    }
    let done = lsub.await?;
    for u in done.untagged {
        if let Untagged::Lsub(item) = u
            && let Ok(f) = to_folder(item)
        {
            out.subscribed.push(f.name);
        }
    }
    Ok(out)
}

/// STATUS of several folders, pipelined (servers without LIST-STATUS).
pub async fn statuses(
    conn: &Connection,
    names: &[String],
) -> Result<HashMap<String, StatusItems>, ConnError> {
    let items = status_items(conn);
    let pending: Vec<_> = names
        .iter()
        .map(|n| (n.clone(), conn.submit(cmd::status(n.as_bytes(), &items))))
        .collect();
    let mut out = HashMap::new();
    for (name, p) in pending {
        let done = p.await?;
        for u in done.untagged {
            if let Untagged::MailboxStatus { items, .. } = u {
                out.insert(name.clone(), items);
            }
        }
    }
    Ok(out)
}
