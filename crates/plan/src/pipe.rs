//! External commands a message goes through (`--pipemess`, `--maxlinelengthcmd`): how a run
//! of one is judged, and the lines imapsync prints about it. The commands themselves are run
//! by the executor (`imapsync-sync`'s `pipe` module): like imapsync, each is a shell command
//! line (`sh -c`), fed the message on its standard input; its standard output is the new
//! message.
//!
//! A run fails — and the message is not copied — when the command does not exit with 0, is
//! killed, gives no output at all, runs longer than [`COMMAND_TIMEOUT`] or writes more than
//! [`MAX_COMMAND_OUTPUT`] bytes. What it writes on its standard error is printed (it does not
//! make the run fail).

use std::time::Duration;

/// Longest time one command may take for one message (imapsync waits forever; a hung
/// command would then stall the whole sync).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Most bytes a command may write on its standard output (the output is held whole, like
/// the message it replaces).
pub const MAX_COMMAND_OUTPUT: u64 = 512 * 1024 * 1024;

/// Most bytes of a command's standard error kept for the lines printed about it.
pub const MAX_STDERR_SHOWN: usize = 4096;

/// The message every command is tried on before anything is transferred (as imapsync does,
/// a one-space string).
pub const CHECK_INPUT: &[u8] = b" ";

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
    /// It could not be started (the shell is missing, too many processes, ...).
    NotStarted(String),
    /// It ran longer than [`COMMAND_TIMEOUT`] and was killed.
    TimedOut,
    /// It wrote more than [`MAX_COMMAND_OUTPUT`] bytes and was killed.
    TooMuchOutput,
}

/// What one run of a command gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    pub exit: Exit,
    pub stdout: Vec<u8>,
    /// The start of its standard error (at most [`MAX_STDERR_SHOWN`] bytes).
    pub stderr: Vec<u8>,
}

/// The verdict on one run: the new message, or why there is none, with the lines to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The output replaces the message; `note` is a line about what the command said on its
    /// standard error, if anything.
    Ok {
        output: Vec<u8>,
        note: Option<String>,
    },
    /// No usable output: the line saying why (imapsync's `Failure: ...` line).
    Failed(String),
}

/// The standard error as shown: lossy UTF-8, one trailing newline removed (Perl's `chomp`).
fn shown_stderr(stderr: &[u8]) -> String {
    let s = String::from_utf8_lossy(stderr);
    s.strip_suffix('\n').unwrap_or(&s).to_string()
}

/// Judges one run of `command` (given as `option`, e.g. `--pipemess`).
pub fn judge(option: &str, command: &str, run: CommandOutput) -> Verdict {
    let err = shown_stderr(&run.stderr);
    let len = run.stdout.len();
    let (code, signal) = match &run.exit {
        Exit::Code(0) if len > 0 => {
            let note =
                (!err.is_empty()).then(|| format!("STDERR of {option} \"{command}\": {err}"));
            return Verdict::Ok {
                output: run.stdout,
                note,
            };
        }
        Exit::Code(c) => (*c, None),
        Exit::Signal(s) => (0, Some(*s)),
        Exit::NotStarted(why) => {
            return Verdict::Failed(format!(
                "Failure: {option} command \"{command}\" could not be started: {why}"
            ));
        }
        Exit::TimedOut => {
            return Verdict::Failed(format!(
                "Failure: {option} command \"{command}\" did not end within {} seconds and was killed; STDERR \"{err}\"",
                COMMAND_TIMEOUT.as_secs()
            ));
        }
        Exit::TooMuchOutput => {
            return Verdict::Failed(format!(
                "Failure: {option} command \"{command}\" wrote more than {MAX_COMMAND_OUTPUT} bytes and was killed"
            ));
        }
    };
    let signal = signal
        .map(|s| format!(" signal {s} and"))
        .unwrap_or_default();
    Verdict::Failed(format!(
        "Failure: {option} command \"{command}\" ended with{signal} \"{len}\" characters exit value \"{code}\" and STDERR \"{err}\""
    ))
}

/// The first line of the check made before anything is transferred.
pub fn check_intro(option: &str, commands: &[String]) -> String {
    let each = if option == "--pipemess" { "each " } else { "" };
    let mut s = format!(
        "Checking {each}{option} command, {}, with a one-space message.",
        commands.join(", ")
    );
    if option == "--pipemess" {
        s.push_str(" ( Can avoid this check with --nopipemesscheck )");
    }
    s
}

/// The line of a check that passed.
pub fn check_ok(option: &str, commands: &[String]) -> String {
    format!("Ok with {option} {}", commands.join(" "))
}

/// The line of a check that failed (the run then stops with exit 64).
pub fn check_failed(option: &str) -> String {
    match option {
        "--pipemess" => "Error: one of --pipemess command is bad, check it".to_string(),
        _ => format!("Error: {option} command is bad, check it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(exit: Exit, stdout: &str, stderr: &str) -> CommandOutput {
        CommandOutput {
            exit,
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn verdicts() {
        // (exit, stdout, stderr, Ok(output, note) or Err(failure line))
        type Want = Result<(&'static str, Option<&'static str>), &'static str>;
        let table: &[(Exit, &str, &str, Want)] = &[
            (Exit::Code(0), "new", "", Ok(("new", None))),
            (
                Exit::Code(0),
                "new",
                "careful\n",
                Ok(("new", Some("STDERR of --pipemess \"c\": careful"))),
            ),
            (
                Exit::Code(0),
                "",
                "",
                Err(
                    "Failure: --pipemess command \"c\" ended with \"0\" characters exit value \"0\" and STDERR \"\"",
                ),
            ),
            (
                Exit::Code(1),
                "",
                "",
                Err(
                    "Failure: --pipemess command \"c\" ended with \"0\" characters exit value \"1\" and STDERR \"\"",
                ),
            ),
            (
                Exit::Code(127),
                "",
                "sh: 1: c: not found\n",
                Err(
                    "Failure: --pipemess command \"c\" ended with \"0\" characters exit value \"127\" and STDERR \"sh: 1: c: not found\"",
                ),
            ),
            // Output, but a failing exit: still a failure (imapsync: $CHILD_ERROR).
            (
                Exit::Code(2),
                "half",
                "",
                Err(
                    "Failure: --pipemess command \"c\" ended with \"4\" characters exit value \"2\" and STDERR \"\"",
                ),
            ),
            (
                Exit::Signal(9),
                "",
                "",
                Err(
                    "Failure: --pipemess command \"c\" ended with signal 9 and \"0\" characters exit value \"0\" and STDERR \"\"",
                ),
            ),
        ];
        for (exit, stdout, stderr, want) in table {
            let got = judge("--pipemess", "c", out(exit.clone(), stdout, stderr));
            match (want, got) {
                (Ok((o, n)), Verdict::Ok { output, note }) => {
                    assert_eq!(output, o.as_bytes(), "{exit:?}");
                    assert_eq!(note.as_deref(), *n, "{exit:?}");
                }
                (Err(line), Verdict::Failed(got)) => assert_eq!(got, *line, "{exit:?}"),
                (want, got) => panic!("{exit:?}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn timeouts_and_starts_say_so() {
        let Verdict::Failed(l) = judge("--maxlinelengthcmd", "fold", out(Exit::TimedOut, "x", ""))
        else {
            panic!("a timed out command fails")
        };
        assert!(l.contains("--maxlinelengthcmd command \"fold\" did not end within 120 seconds"));
        let Verdict::Failed(l) = judge(
            "--pipemess",
            "x",
            out(Exit::NotStarted("No such file".into()), "", ""),
        ) else {
            panic!("a command that can not start fails")
        };
        assert!(l.contains("could not be started: No such file"), "{l}");
    }

    #[test]
    fn check_lines() {
        let cmds = vec!["cat".to_string(), "sort".to_string()];
        assert_eq!(
            check_intro("--pipemess", &cmds),
            "Checking each --pipemess command, cat, sort, with a one-space message. ( Can avoid this check with --nopipemesscheck )"
        );
        assert_eq!(check_ok("--pipemess", &cmds), "Ok with --pipemess cat sort");
        assert_eq!(
            check_failed("--pipemess"),
            "Error: one of --pipemess command is bad, check it"
        );
        assert_eq!(
            check_failed("--maxlinelengthcmd"),
            "Error: --maxlinelengthcmd command is bad, check it"
        );
    }
}
