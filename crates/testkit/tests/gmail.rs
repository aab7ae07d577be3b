//! The shim's Gmail emulation on a real Dovecot: X-GM-LABELS fetched and stored (both
//! signs), X-GM-MSGID stable across folders, All Mail holding every appended message.

use std::time::Duration;

use imapsync_testkit::gmail::GMAIL_CAPABILITY;
use imapsync_testkit::{Dovecot, Layout, Shim, TestImap};

fn msg(id: &str) -> Vec<u8> {
    format!("From: a@example.org\r\nSubject: {id}\r\nMessage-ID: <{id}@example.org>\r\n\r\nbody {id}\r\n")
        .into_bytes()
}

fn count(c: &mut TestImap, folder: &str) -> u64 {
    let st = c.status(folder, &["MESSAGES"]).expect("status");
    st.get("MESSAGES").copied().unwrap_or(0)
}

/// `(uid, msgid, labels line)` of every message of the selected folder.
fn labels(c: &mut TestImap) -> Vec<(u32, String, String)> {
    let r = c
        .command("UID FETCH 1:* (UID X-GM-MSGID X-GM-LABELS)")
        .expect("fetch labels");
    r.untagged_text()
        .into_iter()
        .map(|l| {
            let uid = l
                .split("UID ")
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let id = l
                .split("X-GM-MSGID ")
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .unwrap_or("")
                .to_string();
            let lab = l
                .split("X-GM-LABELS (")
                .nth(1)
                .and_then(|s| s.split(')').next())
                .unwrap_or("")
                .to_string();
            (uid, id, lab)
        })
        .collect()
}

#[test]
fn labels_are_folders_underneath() {
    let d = Dovecot::builder(Layout::GmailLike)
        .add_capability(GMAIL_CAPABILITY)
        .start()
        .expect("dovecot");
    let pass = d.password_of("user1").expect("user");
    let shim = Shim::gmail((d.host(), d.port()), "user1", &pass, vec![]).expect("shim");
    let mut c = TestImap::connect_timeout("127.0.0.1", shim.port(), Duration::from_secs(10))
        .expect("connect");
    c.login("user1", &pass).expect("login");
    assert!(
        c.capabilities()
            .expect("caps")
            .iter()
            .any(|x| x == GMAIL_CAPABILITY)
    );
    // An APPEND to a label folder also lands in All Mail.
    let uid = c
        .append("INBOX", &["\\Seen"], None, &msg("one"))
        .expect("append");
    assert_eq!(count(&mut c, "[Gmail]/All Mail"), 1);
    c.append("[Gmail]/Spam", &[], None, &msg("spam"))
        .expect("append");
    assert_eq!(
        count(&mut c, "[Gmail]/All Mail"),
        1,
        "Spam is not in All Mail"
    );
    // +X-GM-LABELS puts it in the label's folder, creating the label.
    c.select("INBOX").expect("select");
    c.command(&format!(
        "UID STORE {uid} +X-GM-LABELS (Work \"New Label\" \\Important)"
    ))
    .expect("store +labels");
    assert_eq!(count(&mut c, "Work"), 1);
    assert_eq!(count(&mut c, "New Label"), 1);
    assert_eq!(count(&mut c, "[Gmail]/Important"), 1);
    // Labels as FETCH gives them: the selected folder's own label left out; one MSGID.
    let inbox = labels(&mut c);
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].2, "\"New Label\" \"Work\" \"\\\\Important\"");
    c.select("[Gmail]/All Mail").expect("select");
    let all = labels(&mut c);
    assert_eq!(
        all[0].2,
        "\"New Label\" \"Work\" \"\\\\Important\" \"\\\\Inbox\""
    );
    assert_eq!(
        all[0].1, inbox[0].1,
        "X-GM-MSGID is the message's, in every folder"
    );
    // -X-GM-LABELS takes it out of the folder; replacing sets exactly these.
    let all_uid = all[0].0;
    c.command(&format!(
        "UID STORE {all_uid} -X-GM-LABELS (\\Inbox \"New Label\")"
    ))
    .expect("store -labels");
    assert_eq!(count(&mut c, "INBOX"), 0);
    assert_eq!(count(&mut c, "New Label"), 0);
    assert_eq!(
        count(&mut c, "[Gmail]/All Mail"),
        1,
        "archived, not deleted"
    );
    c.command(&format!(
        "UID STORE {all_uid} X-GM-LABELS.SILENT (\\Starred)"
    ))
    .expect("store labels");
    assert_eq!(count(&mut c, "Work"), 0);
    assert_eq!(count(&mut c, "[Gmail]/Important"), 0);
    assert_eq!(count(&mut c, "[Gmail]/Starred"), 1);
    // A label store on a message that is not there changes nothing and is answered.
    c.command("UID STORE 999 +X-GM-LABELS (Work)")
        .expect("nothing to do");
    assert_eq!(count(&mut c, "Work"), 0);
}
