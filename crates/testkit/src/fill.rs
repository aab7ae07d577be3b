//! Fast upload of a [`Corpus`] into a mailbox.
//!
//! Folders are created (and subscribed) first over one connection. Then the folders
//! are spread over several connections (each folder on exactly one connection, so UIDs
//! follow corpus order); each connection pipelines `APPEND ... {n+}` commands from one
//! thread while a second thread reads the tagged replies; consecutive messages of a
//! folder are batched into MULTIAPPEND commands (one server transaction each) when the
//! server offers MULTIAPPEND. Without LITERAL+ it falls back to synchronizing
//! literals, one APPEND at a time per connection.

use std::collections::BTreeSet;
use std::io::{BufReader, BufWriter, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::corpus::{Corpus, CorpusMessage};
use crate::dovecot::Dovecot;
use crate::imap::{TestImap, quote};
use crate::parse::{preview, read_response};

/// Result of a fill.
#[derive(Clone, Debug, PartialEq)]
pub struct FillReport {
    /// Messages appended.
    pub messages: usize,
    /// Bytes appended.
    pub bytes: u64,
    /// Folders created or found.
    pub folders: usize,
    /// Connections used.
    pub connections: usize,
    /// Wall time (folder creation included).
    pub elapsed: Duration,
}

impl FillReport {
    /// Messages per second.
    pub fn msgs_per_sec(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// MB (10^6 bytes) per second.
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Tuning for [`fill_with`].
#[derive(Clone, Debug)]
pub struct FillOptions {
    /// Parallel connections (default 2).
    pub connections: usize,
    /// Override the namespace prefix and separator instead of asking NAMESPACE.
    pub namespace: Option<(String, char)>,
    /// Subscribe created folders (default true).
    pub subscribe: bool,
}

impl Default for FillOptions {
    fn default() -> Self {
        FillOptions {
            connections: 2,
            namespace: None,
            subscribe: true,
        }
    }
}

/// Fill `user`'s mailbox on a [`Dovecot`] instance.
pub fn fill(server: &Dovecot, user: &str, pass: &str, corpus: &Corpus) -> Result<FillReport> {
    fill_at(server.host(), server.port(), user, pass, corpus)
}

/// Fill a mailbox on any IMAP server (plain TCP).
pub fn fill_at(
    host: &str,
    port: u16,
    user: &str,
    pass: &str,
    corpus: &Corpus,
) -> Result<FillReport> {
    fill_with(host, port, user, pass, corpus, &FillOptions::default())
}

/// Personal namespace `(prefix, separator)` of a logged-in connection.
pub fn detect_namespace(c: &mut TestImap) -> Result<(String, char)> {
    if let Ok(ns) = c.personal_namespaces()
        && let Some((prefix, Some(sep))) = ns.into_iter().next()
    {
        return Ok((prefix, sep));
    }
    let l = c.list_matching("LIST", "", "")?;
    let sep = l.first().and_then(|e| e.sep).unwrap_or('/');
    Ok((String::new(), sep))
}

/// Fill with explicit options.
pub fn fill_with(
    host: &str,
    port: u16,
    user: &str,
    pass: &str,
    corpus: &Corpus,
    opts: &FillOptions,
) -> Result<FillReport> {
    let started = Instant::now();
    let mut ctl = TestImap::connect_login(host, port, user, pass)
        .with_context(|| format!("fill: logging in as {user}"))?;
    let (prefix, sep) = match &opts.namespace {
        Some(ns) => ns.clone(),
        None => detect_namespace(&mut ctl)?,
    };
    let existing: BTreeSet<String> = ctl.list()?.into_iter().map(|e| e.name).collect();
    let wire: Vec<String> = corpus
        .folders
        .iter()
        .map(|f| f.wire_name(&prefix, sep))
        .collect();
    for w in &wire {
        if w != "INBOX" && !existing.contains(w) {
            ctl.create(w)
                .with_context(|| format!("fill: CREATE {w:?}"))?;
        }
        if opts.subscribe && w != "INBOX" {
            ctl.subscribe(w)?;
        }
    }
    // LITERAL- only allows small non-synchronizing literals: treat it like no LITERAL+
    let literal_plus = ctl.has_capability("LITERAL+");
    let multiappend = ctl.has_capability("MULTIAPPEND");
    let _ = ctl.logout();

    // spread folders over connections, biggest first, onto the least loaded one
    let nconn = opts.connections.max(1);
    let mut sizes: Vec<(u64, usize)> = (0..corpus.folders.len())
        .map(|i| (corpus.messages_in(i).map(|m| m.bytes.len() as u64).sum(), i))
        .collect();
    sizes.sort_by(|a, b| b.cmp(a));
    let mut load = vec![0u64; nconn];
    let mut assign = vec![0usize; corpus.folders.len()];
    for (sz, i) in sizes {
        let (c, _) = load
            .iter()
            .enumerate()
            .min_by_key(|(_, l)| **l)
            .unwrap_or((0, &0));
        load[c] += sz;
        assign[i] = c;
    }
    let mut per_conn: Vec<Vec<&CorpusMessage>> = vec![Vec::new(); nconn];
    for m in &corpus.messages {
        per_conn[assign[m.folder]].push(m);
    }
    per_conn.retain(|v| !v.is_empty());
    let used = per_conn.len();
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = per_conn
            .iter()
            .map(|msgs| {
                let wire = &wire;
                s.spawn(move || {
                    upload(
                        host,
                        port,
                        user,
                        pass,
                        msgs,
                        wire,
                        literal_plus,
                        multiappend,
                    )
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow!("fill: upload thread panicked"))??;
        }
        Ok(())
    })?;
    Ok(FillReport {
        messages: corpus.messages.len(),
        bytes: corpus.total_bytes(),
        folders: corpus.folders.len(),
        connections: used,
        elapsed: started.elapsed(),
    })
}

fn append_part(m: &CorpusMessage, plus: bool) -> Vec<u8> {
    format!(
        " ({}) \"{}\" {{{}{}}}\r\n",
        m.flags.join(" "),
        m.internaldate_imap(),
        m.bytes.len(),
        if plus { "+" } else { "" }
    )
    .into_bytes()
}

/// Consecutive runs of same-folder messages, at most 100 messages / 16 MB each
/// (one MULTIAPPEND command, one server transaction).
fn batches<'a>(msgs: &[&'a CorpusMessage], multi: bool) -> Vec<Vec<&'a CorpusMessage>> {
    let mut sorted: Vec<&CorpusMessage> = msgs.to_vec();
    sorted.sort_by_key(|m| m.folder); // stable: corpus order within a folder
    let mut out: Vec<Vec<&CorpusMessage>> = Vec::new();
    let mut bytes = 0usize;
    for m in sorted {
        let start_new = match out.last() {
            None => true,
            Some(b) => {
                !multi
                    || b[0].folder != m.folder
                    || b.len() >= 100
                    || bytes + m.bytes.len() > 16 << 20
            }
        };
        if start_new {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += m.bytes.len();
        if let Some(b) = out.last_mut() {
            b.push(m);
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn upload(
    host: &str,
    port: u16,
    user: &str,
    pass: &str,
    msgs: &[&CorpusMessage],
    wire: &[String],
    literal_plus: bool,
    multiappend: bool,
) -> Result<()> {
    let mut c = TestImap::connect_login(host, port, user, pass)?;
    if !literal_plus {
        for m in msgs {
            let flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
            c.append(
                &wire[m.folder],
                &flags,
                Some(&m.internaldate_imap()),
                &m.bytes,
            )?;
        }
        let _ = c.logout();
        return Ok(());
    }
    drop(c);
    // raw pipelined connection
    let stream = TcpStream::connect((host, port)).context("fill: connecting")?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    stream.set_write_timeout(Some(Duration::from_secs(120)))?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(64 * 1024, stream.try_clone()?);
    let mut writer = BufWriter::with_capacity(1 << 20, stream);
    let g = read_response(&mut reader)?;
    if !g.starts_with(b"* OK") {
        bail!("fill: bad greeting {}", preview(&g));
    }
    let login = format!(
        "L LOGIN {} {}\r\n",
        quote(user.as_bytes()).ok_or_else(|| anyhow!("user name needs a literal"))?,
        quote(pass.as_bytes()).ok_or_else(|| anyhow!("password needs a literal"))?
    );
    writer.write_all(login.as_bytes())?;
    writer.flush()?;
    loop {
        let r = read_response(&mut reader)?;
        if r.starts_with(b"L OK") {
            break;
        }
        if r.starts_with(b"L ") {
            bail!("fill: LOGIN failed: {}", preview(&r));
        }
    }
    let batches = batches(msgs, multiappend);
    let n = batches.len();
    std::thread::scope(|s| -> Result<()> {
        let rd = s.spawn(move || -> Result<()> {
            let mut done = 0usize;
            while done < n {
                let r = read_response(&mut reader).with_context(|| {
                    format!("fill: waiting for APPEND replies ({done}/{n} done)")
                })?;
                if r.starts_with(b"* ") {
                    if r.starts_with(b"* BYE") {
                        bail!("fill: server said {}", preview(&r));
                    }
                    continue;
                }
                if r.starts_with(b"A") {
                    let text = String::from_utf8_lossy(&r);
                    let mut parts = text.splitn(3, ' ');
                    let tag = parts.next().unwrap_or("");
                    let st = parts.next().unwrap_or("");
                    if st != "OK" {
                        let idx: usize = tag[1..].parse().unwrap_or(usize::MAX);
                        bail!("fill: APPEND batch #{idx} failed: {text}");
                    }
                    done += 1;
                }
            }
            Ok(())
        });
        let wr = (|| -> Result<()> {
            for (i, batch) in batches.iter().enumerate() {
                let folder = &wire[batch[0].folder];
                let mbox = quote(folder.as_bytes()).unwrap_or_else(|| format!("\"{folder}\""));
                write!(writer, "A{i} APPEND {mbox}")?;
                for m in batch {
                    writer.write_all(&append_part(m, true))?;
                    writer.write_all(&m.bytes)?;
                }
                writer.write_all(b"\r\n")?;
            }
            writer.flush()?;
            Ok(())
        })();
        let rr = rd
            .join()
            .map_err(|_| anyhow!("fill: reader thread panicked"))?;
        // a reader error explains a writer error (e.g. connection reset after NO)
        rr?;
        wr?;
        let _ = writer.write_all(b"Z LOGOUT\r\n");
        let _ = writer.flush();
        Ok(())
    })
}
