//! Whole-message rewrites before APPEND, in imapsync's order (its `message_for_host2`, then
//! its line-length checks):
//!
//! 1. `--skipmess`: a matching message is not copied;
//! 2. `--regexmess` substitutions, in order, then `--disarmreadreceipts` (imapsync appends it
//!    to the `--regexmess` list);
//! 3. `--pipemess` commands, in order, each fed the output of the one before;
//! 4. the `--addheader` line;
//! 5. `--truncmess`;
//! 6. `--minmaxlinelength` (a message whose longest line is that short is not copied), then
//!    `--maxlinelength` (a message with a longer line is not copied, or goes through
//!    `--maxlinelengthcmd` when given).
//!
//! No command is run here: a [`Pipeline`] is a step machine that asks its caller to run each
//! command ([`Step::Run`]) and takes the result back ([`Pipeline::ran`]); how a run is judged
//! is [`crate::pipe`]'s.

use crate::identity;
use crate::options::MessageConfig;
use crate::pipe::{self, CommandOutput, Verdict};

/// What the rewrites decided for one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rewritten {
    /// Copy it as it is.
    Keep,
    /// Copy this instead.
    Replace(Vec<u8>),
    /// Do not copy it (why, completing "skipped by ...").
    Skip(String),
}

/// The run looks at whole messages (a rewrite, a check or `--debugcontent`): they are then
/// held whole instead of being streamed.
pub fn any(m: &MessageConfig) -> bool {
    !m.regexmess.is_empty()
        || !m.skipmess.is_empty()
        || m.disarmreadreceipts
        || m.maxlinelength.is_some()
        || m.minmaxlinelength.is_some()
        || !m.pipemess.is_empty()
        || m.truncmess.is_some()
        || m.debugcontent
        || m.debugmaxlinelength
}

/// What the caller does next for a message in a [`Pipeline`].
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'p> {
    /// Run this shell command with `input` on its standard input, then hand the result to
    /// [`Pipeline::ran`].
    Run {
        /// The option that asked for it (`--pipemess`, `--maxlinelengthcmd`).
        option: &'static str,
        command: &'p str,
        input: &'p [u8],
    },
    /// The message's fate. Lines to print first: [`Pipeline::take_notes`].
    Done(Rewritten),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Start,
    /// Waiting for, or about to ask for, the n-th `--pipemess` command.
    Pipe(usize),
    Finish,
    /// Waiting for `--maxlinelengthcmd`; the longest line that called for it.
    LineCmd(u64),
    Done,
}

/// One message going through the run's rewrites.
#[derive(Debug)]
pub struct Pipeline<'a> {
    m: &'a MessageConfig,
    original: &'a [u8],
    /// The message as rewritten so far (`None`: still the original).
    cur: Option<Vec<u8>>,
    /// The `--addheader` line (with its CRLF) to put in front.
    prefix: Option<&'a [u8]>,
    stage: Stage,
    result: Option<Rewritten>,
    notes: Vec<String>,
}

/// The longest line of a message, counting its newline (imapsync's `max_line_length`).
pub fn max_line_length(msg: &[u8]) -> u64 {
    msg.split_inclusive(|&b| b == b'\n')
        .map(|l| l.len() as u64)
        .max()
        .unwrap_or(0)
}

impl<'a> Pipeline<'a> {
    /// The rewrites of `msg` under the run's options; `prefix` is the `--addheader` line.
    pub fn new(m: &'a MessageConfig, msg: &'a [u8], prefix: Option<&'a [u8]>) -> Self {
        Pipeline {
            m,
            original: msg,
            cur: None,
            prefix,
            stage: Stage::Start,
            result: None,
            notes: Vec::new(),
        }
    }

    fn msg(&self) -> &[u8] {
        self.cur.as_deref().unwrap_or(self.original)
    }

    fn finish(&mut self, r: Rewritten) {
        self.stage = Stage::Done;
        self.result = Some(r);
    }

    /// The lines to print about this message so far (command failures and what commands said
    /// on their standard error, line lengths with `--debugmaxlinelength`).
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// The next step.
    pub fn step(&mut self) -> Step<'_> {
        loop {
            match self.stage {
                Stage::Start => {
                    self.stage = Stage::Pipe(0);
                    if let Some(skip) = self.expressions() {
                        self.finish(Rewritten::Skip(skip));
                    }
                }
                Stage::Pipe(i) => {
                    if i >= self.m.pipemess.len() {
                        self.stage = Stage::Finish;
                        continue;
                    }
                    let command = self.m.pipemess[i].as_str();
                    let input = self.cur.as_deref().unwrap_or(self.original);
                    return Step::Run {
                        option: "--pipemess",
                        command,
                        input,
                    };
                }
                Stage::Finish => self.finish_message(),
                Stage::LineCmd(_) => {
                    let command = self.m.maxlinelengthcmd.as_deref().unwrap_or("");
                    let input = self.cur.as_deref().unwrap_or(self.original);
                    return Step::Run {
                        option: "--maxlinelengthcmd",
                        command,
                        input,
                    };
                }
                Stage::Done => {
                    let r = self.result.take().unwrap_or(Rewritten::Keep);
                    self.result = Some(r.clone());
                    return Step::Done(r);
                }
            }
        }
    }

    /// The result of the command [`Pipeline::step`] asked for.
    pub fn ran(&mut self, output: CommandOutput) {
        let (option, command) = match self.stage {
            Stage::Pipe(i) => ("--pipemess", self.m.pipemess.get(i).cloned()),
            Stage::LineCmd(_) => ("--maxlinelengthcmd", self.m.maxlinelengthcmd.clone()),
            _ => return,
        };
        let command = command.unwrap_or_default();
        match pipe::judge(option, &command, output) {
            Verdict::Ok { output, note } => {
                self.notes.extend(note);
                self.cur = Some(output);
                self.stage = match self.stage {
                    Stage::Pipe(i) => Stage::Pipe(i + 1),
                    _ => {
                        let r = self.outcome();
                        self.finish(r);
                        Stage::Done
                    }
                };
            }
            Verdict::Failed(line) => {
                self.notes.push(line);
                let why = match self.stage {
                    Stage::LineCmd(longest) => format!(
                        "--maxlinelengthcmd \"{command}\": could not be successfully transformed (line length {longest} exceeds maxlinelength {} bytes)",
                        self.m.maxlinelength.unwrap_or(0)
                    ),
                    _ => format!("--pipemess \"{command}\": could not be successfully transformed"),
                };
                self.finish(Rewritten::Skip(why));
            }
        }
    }

    /// `--skipmess`, `--regexmess`, `--disarmreadreceipts`; `Some(why)` to skip.
    fn expressions(&mut self) -> Option<String> {
        let m = self.m;
        for e in &m.skipmess {
            match e.is_match_bytes(self.original) {
                Ok(true) => return Some(format!("--skipmess {}", e.source())),
                Ok(false) => {}
                Err(err) => return Some(format!("--skipmess {} failing: {err}", e.source())),
            }
        }
        for e in &m.regexmess {
            match e.apply_bytes(self.msg()) {
                Ok(out) => self.cur = Some(out),
                Err(err) => return Some(format!("--regexmess {} failing: {err}", e.source())),
            }
        }
        if m.disarmreadreceipts
            && let Some(out) = disarm_read_receipts(self.msg())
        {
            self.cur = Some(out);
        }
        None
    }

    /// `--addheader`, `--truncmess`, then the line lengths.
    fn finish_message(&mut self) {
        let m = self.m;
        if let Some(p) = self.prefix {
            let mut v = Vec::with_capacity(p.len() + self.msg().len());
            v.extend_from_slice(p);
            v.extend_from_slice(self.msg());
            self.cur = Some(v);
        }
        if let Some(n) = m.truncmess
            && (self.msg().len() as u64) > n
        {
            let mut v = self.cur.take().unwrap_or_else(|| self.original.to_vec());
            v.truncate(n as usize);
            self.cur = Some(v);
        }
        if m.maxlinelength.is_none() && m.minmaxlinelength.is_none() && !m.debugmaxlinelength {
            let r = self.outcome();
            return self.finish(r);
        }
        let longest = max_line_length(self.msg());
        if m.debugmaxlinelength {
            self.notes.push(format!("maxlinelength: {longest}"));
        }
        if let Some(min) = m.minmaxlinelength
            && longest <= min
        {
            return self.finish(Rewritten::Skip(format!(
                "--minmaxlinelength {min} (max line length {longest} is under minmaxlinelength {min} bytes)"
            )));
        }
        if let Some(max) = m.maxlinelength
            && longest > max
        {
            if m.maxlinelengthcmd.is_some() {
                self.stage = Stage::LineCmd(longest);
                return;
            }
            return self.finish(Rewritten::Skip(format!(
                "--maxlinelength {max} (line length {longest} exceeds maxlinelength {max} bytes)"
            )));
        }
        let r = self.outcome();
        self.finish(r)
    }

    /// The message as it stands: kept, replaced, or skipped when nothing is left of it.
    fn outcome(&mut self) -> Rewritten {
        match self.cur.take() {
            Some(v) if v.is_empty() => {
                Rewritten::Skip("its rewrites (nothing is left of the message)".into())
            }
            Some(v) if v.as_slice() != self.original => Rewritten::Replace(v),
            _ if self.original.is_empty() => {
                Rewritten::Skip("its rewrites (nothing is left of the message)".into())
            }
            _ => Rewritten::Keep,
        }
    }
}

/// Renames `Disposition-Notification-To:` header lines to `X-Disposition-Notification-To:`
/// (in the header only), so that moved messages do not send read receipts again.
pub fn disarm_read_receipts(msg: &[u8]) -> Option<Vec<u8>> {
    let header_len = identity::header_block(msg).len();
    let (head, body) = msg.split_at(header_len);
    const NAME: &[u8] = b"disposition-notification-to:";
    let mut out = Vec::with_capacity(msg.len() + 8);
    let mut changed = false;
    for line in head.split_inclusive(|&b| b == b'\n') {
        if line.len() >= NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME) {
            out.extend_from_slice(b"X-");
            changed = true;
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(body);
    changed.then_some(out)
}

/// Runs the rewrites of `msg` with `run` standing in for the external commands; returns the
/// outcome and the lines to print. (The executor drives a [`Pipeline`] itself, running each
/// command asynchronously; this is the same loop, synchronous.)
pub fn rewrite_with(
    m: &MessageConfig,
    msg: &[u8],
    prefix: Option<&[u8]>,
    mut run: impl FnMut(&str, &[u8]) -> CommandOutput,
) -> (Rewritten, Vec<String>) {
    let mut p = Pipeline::new(m, msg, prefix);
    loop {
        let out = match p.step() {
            Step::Done(r) => return (r, p.take_notes()),
            Step::Run { command, input, .. } => run(command, input),
        };
        p.ran(out);
    }
}

/// The rewrites of a run without external commands (a command asked for fails).
pub fn rewrite(m: &MessageConfig, msg: &[u8]) -> Rewritten {
    rewrite_with(m, msg, None, |_, _| CommandOutput {
        exit: pipe::Exit::NotStarted("no command runner".into()),
        stdout: Vec::new(),
        stderr: Vec::new(),
    })
    .0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perlre::PerlExpr;
    use crate::pipe::Exit;

    fn expr(s: &str) -> PerlExpr {
        PerlExpr::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    const MSG: &[u8] = b"Subject: hi\r\nDisposition-Notification-To: a@b\r\n\r\nbody\r\nDisposition-Notification-To: stays\r\n";

    /// A stand-in for the shell: `upper` upper-cases, `fail` fails, `empty` says nothing,
    /// `fold` cuts lines to 10 bytes; every other command echoes its input.
    fn shell(command: &str, input: &[u8]) -> CommandOutput {
        let ok = |stdout: Vec<u8>| CommandOutput {
            exit: Exit::Code(0),
            stdout,
            stderr: Vec::new(),
        };
        match command {
            "upper" => ok(input.to_ascii_uppercase()),
            "fail" => CommandOutput {
                exit: Exit::Code(3),
                stdout: Vec::new(),
                stderr: b"broken\n".to_vec(),
            },
            "empty" => ok(Vec::new()),
            "fold" => ok(input
                .split_inclusive(|&b| b == b'\n')
                .flat_map(|l| {
                    l.chunks(8)
                        .flat_map(|c| [c, b"\r\n"].concat())
                        .collect::<Vec<u8>>()
                })
                .collect()),
            _ => ok(input.to_vec()),
        }
    }

    fn cfg() -> MessageConfig {
        MessageConfig::default()
    }

    #[test]
    fn nothing_asked_keeps() {
        let m = cfg();
        assert!(!any(&m));
        assert_eq!(rewrite(&m, MSG), Rewritten::Keep);
    }

    #[test]
    fn disarm_only_touches_the_header() {
        let m = MessageConfig {
            disarmreadreceipts: true,
            ..cfg()
        };
        let Rewritten::Replace(v) = rewrite(&m, MSG) else {
            panic!("expected a rewrite")
        };
        assert_eq!(
            v,
            b"Subject: hi\r\nX-Disposition-Notification-To: a@b\r\n\r\nbody\r\nDisposition-Notification-To: stays\r\n"
        );
    }

    #[test]
    fn skips_come_first_and_say_why() {
        let m = MessageConfig {
            skipmess: vec![expr("m/Subject: hi/")],
            regexmess: vec![expr("s/body/BODY/")],
            pipemess: vec!["fail".into()],
            ..cfg()
        };
        assert_eq!(
            rewrite_with(&m, MSG, None, shell),
            (Rewritten::Skip("--skipmess m/Subject: hi/".into()), vec![])
        );
        let m = MessageConfig {
            maxlinelength: Some(20),
            ..cfg()
        };
        let Rewritten::Skip(why) = rewrite(&m, MSG) else {
            panic!("expected a skip")
        };
        assert_eq!(
            why,
            "--maxlinelength 20 (line length 36 exceeds maxlinelength 20 bytes)"
        );
    }

    #[test]
    fn disarm_comes_after_regexmess_as_imapsync_appends_it() {
        let m = MessageConfig {
            disarmreadreceipts: true,
            regexmess: vec![expr(
                "s/Disposition-Notification-To: a/Disposition-Notification-To: A/",
            )],
            ..cfg()
        };
        let Rewritten::Replace(v) = rewrite(&m, MSG) else {
            panic!("expected a rewrite")
        };
        assert!(v.starts_with(b"Subject: hi\r\nX-Disposition-Notification-To: A@b"));
        // A rule that changes nothing keeps the message as it is.
        let m = MessageConfig {
            regexmess: vec![expr("s/nowhere/x/")],
            ..cfg()
        };
        assert_eq!(rewrite(&m, MSG), Rewritten::Keep);
    }

    #[test]
    fn pipemess_chains_commands_in_order() {
        let m = MessageConfig {
            regexmess: vec![expr("s/body/changed/")],
            pipemess: vec!["cat".into(), "upper".into()],
            ..cfg()
        };
        let mut seen = Vec::new();
        let (r, notes) = rewrite_with(&m, MSG, None, |c, input| {
            seen.push((c.to_string(), input.to_vec()));
            shell(c, input)
        });
        // The first command sees what --regexmess made, the second the first's output.
        assert!(String::from_utf8_lossy(&seen[0].1).contains("changed"));
        assert_eq!(seen[1].0, "upper");
        let want = String::from_utf8_lossy(MSG)
            .replacen("body", "changed", 1)
            .to_uppercase();
        assert_eq!(r, Rewritten::Replace(want.into_bytes()));
        assert!(notes.is_empty());
    }

    #[test]
    fn a_failing_command_skips_the_message_and_says_why() {
        for (cmd, line) in [
            (
                "fail",
                "Failure: --pipemess command \"fail\" ended with \"0\" characters exit value \"3\" and STDERR \"broken\"",
            ),
            (
                "empty",
                "Failure: --pipemess command \"empty\" ended with \"0\" characters exit value \"0\" and STDERR \"\"",
            ),
        ] {
            let m = MessageConfig {
                pipemess: vec!["cat".into(), cmd.into(), "upper".into()],
                ..cfg()
            };
            let mut ran = Vec::new();
            let (r, notes) = rewrite_with(&m, MSG, None, |c, i| {
                ran.push(c.to_string());
                shell(c, i)
            });
            assert_eq!(
                r,
                Rewritten::Skip(format!(
                    "--pipemess \"{cmd}\": could not be successfully transformed"
                ))
            );
            assert_eq!(notes, vec![line.to_string()]);
            assert_eq!(ran, vec!["cat", cmd], "the chain stops at the failure");
        }
    }

    #[test]
    fn addheader_then_truncmess_then_line_lengths() {
        let m = MessageConfig {
            truncmess: Some(20),
            ..cfg()
        };
        let (r, _) = rewrite_with(&m, MSG, Some(b"Message-Id: <x>\r\n"), shell);
        assert_eq!(r, Rewritten::Replace(b"Message-Id: <x>\r\nSub".to_vec()));
        // Shorter than the limit: kept whole.
        let m = MessageConfig {
            truncmess: Some(10_000),
            ..cfg()
        };
        assert_eq!(rewrite(&m, MSG), Rewritten::Keep);
        // Nothing left: not copied.
        let m = MessageConfig {
            truncmess: Some(0),
            ..cfg()
        };
        assert!(matches!(rewrite(&m, MSG), Rewritten::Skip(_)));
    }

    #[test]
    fn line_lengths() {
        // The longest line of MSG counts 36 bytes with its CRLF.
        assert_eq!(max_line_length(MSG), 36);
        assert_eq!(max_line_length(b""), 0);
        assert_eq!(max_line_length(b"abc"), 3);
        // (min, max, cmd) -> skip reason prefix, or "" for kept
        type Row = (Option<u64>, Option<u64>, Option<&'static str>, &'static str);
        let table: &[Row] = &[
            (
                Some(36),
                None,
                None,
                "--minmaxlinelength 36 (max line length 36",
            ),
            (Some(35), None, None, ""),
            (None, Some(36), None, ""),
            (None, Some(35), None, "--maxlinelength 35 (line length 36"),
            (None, Some(35), Some("fold"), "replaced"),
            (
                None,
                Some(35),
                Some("fail"),
                "--maxlinelengthcmd \"fail\": could not be successfully transformed (line length 36",
            ),
        ];
        for &(min, max, cmd, want) in table {
            let m = MessageConfig {
                minmaxlinelength: min,
                maxlinelength: max,
                maxlinelengthcmd: cmd.map(str::to_string),
                ..cfg()
            };
            let (r, _) = rewrite_with(&m, MSG, None, shell);
            match (want, r) {
                ("", Rewritten::Keep) => {}
                ("replaced", Rewritten::Replace(v)) => assert!(max_line_length(&v) <= 10),
                (w, Rewritten::Skip(why)) if !w.is_empty() => {
                    assert!(why.starts_with(w), "{why} / {w}")
                }
                (w, r) => panic!("{min:?} {max:?} {cmd:?}: want {w:?}, got {r:?}"),
            }
        }
    }

    #[test]
    fn debugmaxlinelength_says_the_longest_line() {
        let m = MessageConfig {
            debugmaxlinelength: true,
            ..cfg()
        };
        assert_eq!(
            rewrite_with(&m, MSG, None, shell),
            (Rewritten::Keep, vec!["maxlinelength: 36".to_string()])
        );
    }
}
