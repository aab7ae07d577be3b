//! Where the run's lines go (stdout and the log file, as the command line decides).

use std::sync::Arc;

/// A line printer shared by every task of a run. Each call prints one or more complete lines
/// atomically, so lines of folders synced in parallel never mix within a line.
#[derive(Clone)]
pub struct Out {
    sink: Arc<dyn Fn(&str) + Send + Sync>,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Out")
    }
}

impl Out {
    pub fn new(sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Out {
            sink: Arc::new(sink),
        }
    }

    /// Discards everything (tests of internals).
    pub fn null() -> Self {
        Out::new(|_| {})
    }

    /// Prints one line (a trailing newline is added).
    pub fn line(&self, s: impl AsRef<str>) {
        (self.sink)(s.as_ref());
    }

    /// Prints several lines at once.
    pub fn lines(&self, lines: &[String]) {
        if !lines.is_empty() {
            (self.sink)(&lines.join("\n"));
        }
    }
}
