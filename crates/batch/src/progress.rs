//! Progress on the terminal: on a terminal, an overall bar (accounts done, messages, bytes,
//! rate, ETA) with one line per running account, redrawn in place, with event lines scrolling
//! above it; elsewhere (a log, a pipe) plain lines: one per account start and end, and a
//! summary line every 10 seconds.

use std::io::Write;
use std::sync::Mutex;

use crate::plan::{Counts, JobState};
use crate::report::{bytes, duration};
use crate::store::Progress;

/// A running account as shown.
#[derive(Clone, Debug)]
pub struct Running {
    pub name: String,
    pub progress: Progress,
    pub seconds: f64,
}

/// What the display shows.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Accounts per state in the job store (all workers).
    pub counts: Counts,
    /// This process's running accounts.
    pub running: Vec<Running>,
    /// Messages and bytes this process transferred.
    pub transferred: u64,
    pub bytes: u64,
    /// Since this process started.
    pub seconds: f64,
}

impl Snapshot {
    fn n(&self, s: JobState) -> u64 {
        self.counts.get(&s).copied().unwrap_or(0)
    }

    /// The overall line: `[####----] 12/50 accounts (done 10, ...) | 1200 msgs ...`.
    pub fn summary(&self, width: usize) -> String {
        let total: u64 = self.counts.values().sum();
        let ended: u64 = self
            .counts
            .iter()
            .filter(|(s, _)| s.is_final())
            .map(|(_, n)| n)
            .sum();
        let rate = if self.seconds > 0.0 {
            self.transferred as f64 / self.seconds
        } else {
            0.0
        };
        let left = total.saturating_sub(ended);
        let eta = if ended > 0 && left > 0 && self.seconds > 1.0 {
            duration(self.seconds / ended as f64 * left as f64)
        } else if left == 0 {
            "0s".into()
        } else {
            "?".into()
        };
        let bar = if width > 0 && total > 0 {
            let filled = (ended as usize * width) / total as usize;
            format!("[{}{}] ", "#".repeat(filled), "-".repeat(width - filled))
        } else {
            String::new()
        };
        let mut states = Vec::new();
        for s in JobState::ALL {
            let n = self.n(s);
            if n > 0 {
                states.push(format!("{} {n}", s.as_str()));
            }
        }
        format!(
            "{bar}{ended}/{total} accounts ({}) | {} msgs {} | {:.0} msg/s | {} | ETA {eta}",
            states.join(", "),
            self.transferred,
            bytes(self.bytes),
            rate,
            duration(self.seconds),
        )
    }
}

pub struct Display {
    tty: bool,
    state: Mutex<DrawState>,
}

#[derive(Default)]
struct DrawState {
    /// Lines of the bar block currently on screen (tty).
    drawn: usize,
    last: Option<Snapshot>,
}

impl Display {
    /// A display on standard output (bars only when it is a terminal).
    pub fn stdout() -> Display {
        // SAFETY: isatty on fd 1 has no preconditions.
        let tty = unsafe { libc::isatty(1) } == 1;
        Display {
            tty,
            state: Mutex::new(DrawState::default()),
        }
    }

    /// Plain lines whatever standard output is.
    pub fn plain() -> Display {
        Display {
            tty: false,
            state: Mutex::new(DrawState::default()),
        }
    }

    pub fn is_tty(&self) -> bool {
        self.tty
    }

    /// An event line (scrolls above the bars on a terminal).
    pub fn line(&self, s: &str) {
        let mut st = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut out = std::io::stdout().lock();
        if self.tty {
            clear(&mut out, st.drawn);
            st.drawn = 0;
            let _ = writeln!(out, "{s}");
            if let Some(snap) = st.last.clone() {
                st.drawn = draw(&mut out, &snap);
            }
        } else {
            let _ = writeln!(out, "{s}");
        }
        let _ = out.flush();
    }

    /// The periodic view: redrawn in place on a terminal, a summary line otherwise.
    pub fn progress(&self, snap: &Snapshot) {
        let mut st = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut out = std::io::stdout().lock();
        if self.tty {
            clear(&mut out, st.drawn);
            st.drawn = draw(&mut out, snap);
        } else {
            let _ = writeln!(out, "batch: {}", snap.summary(0));
        }
        st.last = Some(snap.clone());
        let _ = out.flush();
    }

    /// The last view before the worker ends (the bars leave one final summary line).
    pub fn finish(&self, snap: &Snapshot) {
        let mut st = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut out = std::io::stdout().lock();
        if self.tty {
            clear(&mut out, st.drawn);
            st.drawn = 0;
        }
        st.last = None;
        let _ = writeln!(out, "batch: {}", snap.summary(0));
        let _ = out.flush();
    }
}

fn term_width() -> usize {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills the winsize struct we own.
    let ok = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 20 {
        ws.ws_col as usize
    } else {
        100
    }
}

fn clear(out: &mut impl Write, lines: usize) {
    for _ in 0..lines {
        // Up one line, erase it.
        let _ = write!(out, "\x1b[1A\x1b[2K");
    }
    let _ = write!(out, "\r");
}

fn fit(s: &str, width: usize) -> String {
    s.chars().take(width.saturating_sub(1)).collect()
}

fn draw(out: &mut impl Write, snap: &Snapshot) -> usize {
    let width = term_width();
    let _ = writeln!(out, "{}", fit(&snap.summary(20), width));
    for r in &snap.running {
        let _ = writeln!(
            out,
            "{}",
            fit(
                &format!(
                    "  {}  {} copied  {} skipped  {}  {}",
                    r.name,
                    r.progress.transferred,
                    r.progress.skipped,
                    bytes(r.progress.bytes),
                    duration(r.seconds)
                ),
                width
            )
        );
    }
    1 + snap.running.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line() {
        let mut counts = Counts::new();
        counts.insert(JobState::Done, 3);
        counts.insert(JobState::Running, 1);
        counts.insert(JobState::Pending, 4);
        let s = Snapshot {
            counts,
            running: vec![],
            transferred: 600,
            bytes: 3 * 1024 * 1024,
            seconds: 30.0,
        };
        assert_eq!(
            s.summary(8),
            "[###-----] 3/8 accounts (pending 4, running 1, done 3) | 600 msgs 3.0 MiB | 20 msg/s | 30s | ETA 50s"
        );
    }
}
