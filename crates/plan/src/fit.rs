//! Before copying, what will not fit on host2: its QUOTA against what host1 has to bring,
//! and the messages bigger than its APPENDLIMIT. One warning each, with counts and sizes,
//! printed up front (imapsync's "Quota limit will be exceeded"); the sync then goes on and
//! copies what fits.
//!
//! Which folders count ([`counted`]): every synced folder, except where Gmail's labels make
//! one message appear in several folders — with labels synced as labels only All Mail,
//! Spam and Trash count (each message is copied once, through them); with labels synced as
//! folders the views (All Mail, Important, Starred) do not count (they only get what no
//! label folder holds), which makes the estimate a lower bound.

use crate::display::bytes_display_string_dec;
use crate::labels::{FolderLabel, LabelMode, View};

/// Whether a synced host1 folder counts in what host1 brings.
pub fn counted(role: &FolderLabel, mode: LabelMode, all_mail_synced: bool) -> bool {
    match mode {
        LabelMode::Off | LabelMode::Labels { sync: false, .. } => true,
        LabelMode::Folders => role.view.is_none(),
        LabelMode::Labels { sync: true, .. } => {
            if !all_mail_synced {
                return true;
            }
            role.view == Some(View::AllMail)
                || matches!(role.label.as_deref(), Some("\\Spam") | Some("\\Trash"))
        }
    }
}

/// Host2's quota root, as GETQUOTAROOT tells (STORAGE in KiB).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quota {
    /// (usage, limit) in KiB.
    pub storage_kib: Option<(u64, u64)>,
    /// (usage, limit) in messages.
    pub messages: Option<(u64, u64)>,
}

/// Messages and bytes of some folders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Volume {
    pub messages: u64,
    pub bytes: u64,
}

/// The quota warning: host1's counted folders (`need1`) less what host2's matching folders
/// already hold (`have2`) against host2's free room. `None` when it fits or nothing is known.
pub fn quota_warning(q: &Quota, need1: Volume, have2: Volume) -> Option<String> {
    let to_copy = Volume {
        messages: need1.messages.saturating_sub(have2.messages),
        bytes: need1.bytes.saturating_sub(have2.bytes),
    };
    let mut parts = Vec::new();
    let mut head = None;
    if let Some((usage, limit)) = q.storage_kib.filter(|&(_, l)| l > 0) {
        let (usage, limit) = (usage.saturating_mul(1024), limit.saturating_mul(1024));
        let free = limit.saturating_sub(usage);
        if to_copy.bytes > free {
            let projected = usage.saturating_add(to_copy.bytes);
            let pct = (100.0 * projected as f64 / limit as f64).round();
            head = Some(format!(
                "Host2: Quota limit will be exceeded! Over {pct:.0} % ( {projected} bytes / {limit} bytes )"
            ));
            parts.push(format!(
                "{} free on host2 ({} used of {}): about {} will not fit",
                bytes_display_string_dec(free as f64),
                bytes_display_string_dec(usage as f64),
                bytes_display_string_dec(limit as f64),
                bytes_display_string_dec((to_copy.bytes - free) as f64),
            ));
        }
    }
    if let Some((usage, limit)) = q.messages.filter(|&(_, l)| l > 0) {
        let free = limit.saturating_sub(usage);
        if to_copy.messages > free {
            head.get_or_insert_with(|| {
                format!(
                    "Host2: Quota limit will be exceeded! Over {:.0} % ( {} messages / {limit} messages )",
                    (100.0 * (usage + to_copy.messages) as f64 / limit as f64).round(),
                    usage + to_copy.messages
                )
            });
            parts.push(format!(
                "room for {free} more messages on host2 ({usage} of {limit}): {} will not fit",
                to_copy.messages - free
            ));
        }
    }
    let head = head?;
    Some(format!(
        "{head}: {} messages ({}) to bring from host1, {} already in host2's folders; {}. The sync copies what fits, then host2 refuses the rest (OVERQUOTA, exit 113): make room on host2 or raise its quota first.",
        to_copy.messages,
        bytes_display_string_dec(to_copy.bytes as f64),
        bytes_display_string_dec(have2.bytes as f64),
        parts.join("; ")
    ))
}

/// What host1 brings once the messages host2 will refuse as too big are left out.
pub fn without_too_big(need: Volume, hits: &[TooBig]) -> Volume {
    Volume {
        messages: need.messages.saturating_sub(hits.len() as u64),
        bytes: need
            .bytes
            .saturating_sub(hits.iter().map(|h| h.size).sum::<u64>()),
    }
}

/// A host1 message too big for host2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooBig {
    pub folder: String,
    pub uid: u32,
    pub size: u64,
}

/// The APPENDLIMIT warning: how many host1 messages (and bytes) host2 will refuse.
pub fn appendlimit_warning(limit: u64, hits: &[TooBig]) -> Option<String> {
    let biggest = hits
        .iter()
        .max_by_key(|h| (h.size, std::cmp::Reverse(h.uid)))?;
    let total: u64 = hits.iter().map(|h| h.size).sum();
    let mut folders: Vec<&str> = hits.iter().map(|h| h.folder.as_str()).collect();
    folders.sort_unstable();
    folders.dedup();
    Some(format!(
        "Host2: {} messages ({} in all) in {} folders are bigger than host2's APPENDLIMIT of {limit} bytes ({}): they will not be copied; the biggest is {}/{} ({}). Each is listed when its folder is synced and they are counted at the end.",
        hits.len(),
        bytes_display_string_dec(total as f64),
        folders.len(),
        bytes_display_string_dec(limit as f64),
        biggest.folder,
        biggest.uid,
        bytes_display_string_dec(biggest.size as f64),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(label: Option<&str>, view: Option<View>) -> FolderLabel {
        FolderLabel {
            label: label.map(str::to_string),
            view,
        }
    }

    #[test]
    fn which_folders_count() {
        let inbox = role(Some("\\Inbox"), None);
        let all = role(None, Some(View::AllMail));
        let important = role(Some("\\Important"), Some(View::Important));
        let trash = role(Some("\\Trash"), None);
        let labels = LabelMode::Labels {
            sync: true,
            resync: true,
        };
        // (role, mode, all mail synced, counted)
        let table = [
            (&inbox, LabelMode::Off, true, true),
            (&all, LabelMode::Off, true, true),
            (&inbox, LabelMode::Folders, true, true),
            (&all, LabelMode::Folders, true, false),
            (&important, LabelMode::Folders, true, false),
            (&inbox, labels, true, false),
            (&all, labels, true, true),
            (&trash, labels, true, true),
            (&inbox, labels, false, true),
        ];
        for (r, mode, synced, want) in table {
            assert_eq!(counted(r, mode, synced), want, "{r:?} {mode:?} {synced}");
        }
    }

    #[test]
    fn the_quota_warning() {
        let q = Quota {
            storage_kib: Some((1024, 10 * 1024)),
            messages: None,
        };
        let v = |messages, bytes| Volume { messages, bytes };
        // 9 MiB free; 8 MiB to bring fits, 12 MiB does not.
        assert_eq!(quota_warning(&q, v(10, 8 << 20), v(0, 0)), None);
        let w = quota_warning(&q, v(10, 12 << 20), v(0, 0)).expect("warning");
        assert!(
            w.starts_with("Host2: Quota limit will be exceeded! Over 130 % ( 13631488 bytes / 10485760 bytes ): 10 messages (12.583 MB) to bring from host1, 0 bytes already in host2's folders; 9.437 MB free on host2 (1.049 MB used of 10.486 MB): about 3.146 MB will not fit."),
            "{w}"
        );
        // What host2's folders already hold is not brought again.
        assert_eq!(quota_warning(&q, v(10, 12 << 20), v(5, 6 << 20)), None);
        // A message-count quota.
        let q = Quota {
            storage_kib: None,
            messages: Some((90, 100)),
        };
        let w = quota_warning(&q, v(25, 1), v(0, 0)).expect("warning");
        assert!(
            w.contains("room for 10 more messages on host2 (90 of 100): 15 will not fit"),
            "{w}"
        );
        assert!(
            w.contains("Over 115 % ( 115 messages / 100 messages )"),
            "{w}"
        );
        assert_eq!(
            quota_warning(&Quota::default(), v(1, 1 << 40), v(0, 0)),
            None
        );
    }

    #[test]
    fn the_appendlimit_warning() {
        assert_eq!(appendlimit_warning(1000, &[]), None);
        let hits = [
            TooBig {
                folder: "INBOX".into(),
                uid: 4,
                size: 3000,
            },
            TooBig {
                folder: "Sent".into(),
                uid: 9,
                size: 5000,
            },
            TooBig {
                folder: "INBOX".into(),
                uid: 7,
                size: 2000,
            },
        ];
        assert_eq!(
            without_too_big(
                Volume {
                    messages: 10,
                    bytes: 20_000
                },
                &hits
            ),
            Volume {
                messages: 7,
                bytes: 10_000
            }
        );
        let w = appendlimit_warning(1000, &hits).expect("warning");
        assert!(
            w.starts_with("Host2: 3 messages (10.000 KB in all) in 2 folders are bigger than host2's APPENDLIMIT of 1000 bytes (1.000 KB)"),
            "{w}"
        );
        assert!(w.contains("the biggest is Sent/9 (5.000 KB)"), "{w}");
    }
}
