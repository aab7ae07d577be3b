//! Running the external commands messages go through (`--pipemess`, `--maxlinelengthcmd`):
//! as imapsync does, each is a shell command line (`sh -c`), fed the message on its standard
//! input; its standard output is collected. The command runs in its own process group, so
//! that when it takes longer than [`COMMAND_TIMEOUT`] or writes more than
//! [`MAX_COMMAND_OUTPUT`] bytes the whole group is killed (a `( cat | cat )` included).
//!
//! What the results mean is decided by [`imapsync_plan::pipe`]; in which order the rewrites
//! and commands come, by [`imapsync_plan::rewrite::Pipeline`].

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use imapsync_plan::options::MessageConfig;
use imapsync_plan::pipe::{
    self, COMMAND_TIMEOUT, CommandOutput, Exit, MAX_COMMAND_OUTPUT, MAX_STDERR_SHOWN, Verdict,
};
use imapsync_plan::rewrite::{Pipeline, Rewritten, Step};

use crate::output::Out;

/// Kills the process group `pgid` (the command and whatever it started).
fn kill_group(pgid: Option<u32>) {
    if let Some(pid) = pgid.and_then(|p| i32::try_from(p).ok()).filter(|&p| p > 0) {
        // SAFETY: plain syscall on a process group this program created.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Reads `r` to its end, keeping at most `keep` bytes; `Err(())` once more than `limit`
/// bytes came (the caller then kills the command).
async fn read_bounded(
    r: Option<impl AsyncRead + Unpin>,
    keep: usize,
    limit: u64,
) -> Result<Vec<u8>, ()> {
    let Some(mut r) = r else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return Ok(out),
            Ok(n) => {
                total += n as u64;
                if total > limit {
                    return Err(());
                }
                let room = keep.saturating_sub(out.len()).min(n);
                out.extend_from_slice(&buf[..room]);
            }
        }
    }
}

/// Runs `command` through `sh -c` with `input` on its standard input.
pub async fn run(command: &str, input: &[u8]) -> CommandOutput {
    let spawned = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return CommandOutput {
                exit: Exit::NotStarted(e.to_string()),
                stdout: Vec::new(),
                stderr: Vec::new(),
            };
        }
    };
    let pgid = child.id();
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let write = async move {
        if let Some(mut w) = stdin {
            // A command may stop reading early (`head`): a broken pipe is its business.
            let _ = w.write_all(input).await;
            let _ = w.shutdown().await;
        }
    };
    let read_out = async {
        let r = read_bounded(stdout, usize::MAX, MAX_COMMAND_OUTPUT).await;
        if r.is_err() {
            kill_group(pgid);
        }
        r
    };
    let read_err = read_bounded(stderr, MAX_STDERR_SHOWN, u64::MAX);
    let finished = tokio::time::timeout(COMMAND_TIMEOUT, async {
        let ((), out, err) = tokio::join!(write, read_out, read_err);
        (out, err, child.wait().await)
    })
    .await;
    match finished {
        Ok((Ok(stdout), err, status)) => {
            let stderr = err.unwrap_or_default();
            let exit = match status {
                Ok(st) => match (st.code(), st.signal()) {
                    (Some(c), _) => Exit::Code(c),
                    (None, Some(s)) => Exit::Signal(s),
                    (None, None) => Exit::Code(-1),
                },
                Err(e) => Exit::NotStarted(format!("waiting for it failed: {e}")),
            };
            CommandOutput {
                exit,
                stdout,
                stderr,
            }
        }
        Ok((Err(()), err, _)) => CommandOutput {
            exit: Exit::TooMuchOutput,
            stdout: Vec::new(),
            stderr: err.unwrap_or_default(),
        },
        Err(_) => {
            kill_group(pgid);
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), child.wait()).await;
            CommandOutput {
                exit: Exit::TimedOut,
                stdout: Vec::new(),
                stderr: Vec::new(),
            }
        }
    }
}

/// The rewrites of one message (see [`Pipeline`]), running the commands they ask for; the
/// outcome and the lines to print about it.
pub async fn rewrite(
    m: &MessageConfig,
    msg: &[u8],
    prefix: Option<&[u8]>,
) -> (Rewritten, Vec<String>) {
    let mut p = Pipeline::new(m, msg, prefix);
    loop {
        let out = match p.step() {
            Step::Done(r) => return (r, p.take_notes()),
            Step::Run { command, input, .. } => run(command, input).await,
        };
        p.ran(out);
    }
}

/// Tries `commands`, chained, on the check message; prints the failure line if one fails.
async fn chain_works(option: &str, commands: &[String], out: &Out) -> bool {
    let mut msg = pipe::CHECK_INPUT.to_vec();
    for c in commands {
        match pipe::judge(option, c, run(c, &msg).await) {
            Verdict::Ok { output, note } => {
                if let Some(n) = note {
                    out.line(n);
                }
                msg = output;
            }
            Verdict::Failed(line) => {
                out.line(line);
                return false;
            }
        }
    }
    true
}

/// The check made before connecting (imapsync's): the `--pipemess` commands (unless
/// `--nopipemesscheck`) and `--maxlinelengthcmd` are tried on a one-space message. `false`
/// when one does not work: the run stops there (exit 64).
pub async fn check_commands(m: &MessageConfig, out: &Out) -> bool {
    let mut checks: Vec<(&str, Vec<String>)> = Vec::new();
    if m.pipemesscheck && !m.pipemess.is_empty() {
        checks.push(("--pipemess", m.pipemess.clone()));
    }
    if let Some(c) = &m.maxlinelengthcmd {
        checks.push(("--maxlinelengthcmd", vec![c.clone()]));
    }
    for (option, commands) in checks {
        out.line(pipe::check_intro(option, &commands));
        if !chain_works(option, &commands, out).await {
            out.line(pipe::check_failed(option));
            return false;
        }
        out.line(pipe::check_ok(option, &commands));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn runs_shell_command_lines() {
        rt().block_on(async {
            let r = run("tr a-z A-Z", b"hello\n").await;
            assert_eq!((r.exit, r.stdout), (Exit::Code(0), b"HELLO\n".to_vec()));
            // Shell syntax works, as with imapsync's backticks.
            let r = run("( cat | cat ) ; echo warn >&2", b"x").await;
            assert_eq!(r.stdout, b"x");
            assert_eq!(r.stderr, b"warn\n");
            let r = run("exit 3", b"").await;
            assert_eq!(r.exit, Exit::Code(3));
            let r = run("no-such-command-here", b"x").await;
            assert_eq!(r.exit, Exit::Code(127));
            // A command that does not read its input does not block us.
            let big = vec![b'a'; 4 * 1024 * 1024];
            let r = run("echo done", &big).await;
            assert_eq!(r.stdout, b"done\n");
            // A command that outputs before reading all its input does not deadlock.
            let r = run("cat", &big).await;
            assert_eq!(r.stdout.len(), big.len());
            let r = run("kill -9 $$", b"").await;
            assert_eq!(r.exit, Exit::Signal(9));
        });
    }

    #[test]
    fn the_check_stops_on_a_bad_command() {
        rt().block_on(async {
            let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
            let l = lines.clone();
            let out = Out::new(move |s| l.lock().expect("lines").push(s.to_string()));
            let m = MessageConfig {
                pipemess: vec!["cat".into(), "true".into()],
                pipemesscheck: true,
                ..MessageConfig::default()
            };
            assert!(!check_commands(&m, &out).await);
            let m = MessageConfig {
                pipemess: vec!["cat".into(), "sed s/^/x/".into()],
                pipemesscheck: true,
                ..MessageConfig::default()
            };
            assert!(check_commands(&m, &out).await);
            let m = MessageConfig {
                pipemess: vec!["false".into()],
                pipemesscheck: false,
                ..MessageConfig::default()
            };
            assert!(check_commands(&m, &out).await, "--nopipemesscheck");
            let all = lines.lock().expect("lines").join("\n");
            assert!(
                all.contains("Failure: --pipemess command \"true\" ended with \"0\" characters")
            );
            assert!(all.contains("Error: one of --pipemess command is bad, check it"));
            assert!(all.contains("Ok with --pipemess cat sed s/^/x/"));
        });
    }
}
