//! Child processes that cannot outlive the process that started them.
//!
//! Every long-lived helper process (the Dovecot master) is forked from one
//! dedicated thread that never ends, with `PR_SET_PDEATHSIG` set in the child
//! between `fork` and `exec`. The kernel delivers that signal when the *thread*
//! that forked the child exits. Test harnesses run each test in its own short-lived
//! thread, so forking from the test thread would kill a server shared between tests
//! as soon as the first test finished; forking from a thread that lives as long as
//! the process ties the server's lifetime to the process instead. When the test
//! process dies for any reason (panic=abort, SIGKILL, OOM), the master receives
//! SIGTERM, shuts its own children down and exits. A race where the parent dies
//! between `fork` and `prctl` is closed by checking `getppid()` after `prctl`.
//!
//! This was preferred over a watchdog process because it needs no extra process,
//! no polling and cannot itself be orphaned.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::sync::mpsc;

use anyhow::{Context, Result, anyhow};

struct Request {
    cmd: Command,
    reply: mpsc::Sender<io::Result<Child>>,
}

static SPAWNER: OnceLock<mpsc::Sender<Request>> = OnceLock::new();

fn spawner() -> Result<&'static mpsc::Sender<Request>> {
    if let Some(tx) = SPAWNER.get() {
        return Ok(tx);
    }
    let (tx, rx) = mpsc::channel::<Request>();
    // Only one thread wins the race below; a losing thread's receiver is dropped and
    // its spawner thread ends at once (it never forked anything).
    std::thread::Builder::new()
        .name("testkit-spawner".into())
        .spawn(move || {
            // The sender lives in a static, so this loop only ends with the process.
            for mut req in rx {
                let res = req.cmd.spawn();
                let _ = req.reply.send(res);
            }
        })
        .context("starting the spawner thread")?;
    let _ = SPAWNER.set(tx);
    SPAWNER
        .get()
        .ok_or_else(|| anyhow!("spawner thread registration failed"))
}

/// Spawn `cmd` so that it receives `signal` when this process dies.
pub fn spawn_tied(mut cmd: Command, signal: libc::c_int) -> Result<Child> {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure only performs async-signal-safe system calls and builds
    // io::Error values from raw OS codes (no allocation).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner()?
        .send(Request {
            cmd,
            reply: reply_tx,
        })
        .map_err(|_| anyhow!("spawner thread is gone"))?;
    let child = reply_rx
        .recv()
        .map_err(|_| anyhow!("spawner thread dropped the request"))?;
    Ok(child?)
}

/// Is a process with this pid still there (and not a zombie)?
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // state is the first field after the parenthesised command name
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// Direct children of `pid` as (pid, comm), read from /proc.
pub fn children_of(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(child) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next();
        let ppid = rest.next().and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) && !matches!(state, Some("Z") | Some("X")) {
            out.push((child, comm));
        }
    }
    out
}

/// Live (non-zombie) members of process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next();
        let _ppid = rest.next();
        let pgrp = rest.next().and_then(|p| p.parse::<u32>().ok());
        if pgrp == Some(pgid) && !matches!(state, Some("Z") | Some("X")) {
            out.push(pid);
        }
    }
    out
}
