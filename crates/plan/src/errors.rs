//! Error bookkeeping and the exit code.
//!
//! Every recoverable problem is recorded as a line of text ([`ErrorLog::record`]); after
//! `--errorsmax` (default 50) records the run stops. The exit code is derived from the
//! **text** of the recorded messages: each one is classified by the first matching rule of a
//! fixed, ordered list of substrings/patterns ([`classify`]), the most frequent class wins,
//! ties going to the class name that sorts first in ASCII order ([`most_frequent`]), and the
//! class maps to an exit code ([`ErrorClass::exit_code`]). Scripts rely on these codes (e.g.
//! 161/162 for bad credentials, 113 for a full mailbox), so the rule order, the class names
//! and the printed names ([`ExitCode::name`]) are reproduced exactly; so are the fixed lines
//! users grep (`Err i/N: ...`, `The most frequent error is ERR_XXX.`, `Exiting with return
//! value N (NAME) ...`). The advice sentence that follows the class name is our own wording.
//!
//! `ERR_SEARCH` / exit 121 come from imapsync 2.288+; they are included because a drop-in
//! replacement should accept the union of behaviours.

use std::sync::LazyLock;

use fancy_regex::Regex;

use crate::display::bytes_display_string_dec;

/// Default `--errorsmax`.
pub const ERRORS_MAX: u64 = 50;

/// Exit codes (sysexits-style ones plus imapsync's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExitCode {
    /// 0
    ExOk,
    /// 1: class without mapping.
    CatchAll,
    /// 6
    BySignal,
    /// 7: abort file seen.
    ByFile,
    /// 8
    PidFileError,
    /// 10
    ConnectionFailure,
    /// 12
    TlsFailure,
    /// 16
    AuthenticationFailure,
    /// 21
    Subfolder1NoExists,
    /// 64
    ExUsage,
    /// 66
    ExNoInput,
    /// 69
    ExUnavailable,
    /// 70
    ExSoftware,
    /// 101
    ConnectionFailureHost1,
    /// 102
    ConnectionFailureHost2,
    /// 111
    WithErrors,
    /// 112 (defined, no longer produced)
    WithErrorsMax,
    /// 113
    Overquota,
    /// 114
    ErrAppend,
    /// 115
    ErrFetch,
    /// 116
    ErrCreate,
    /// 117
    ErrSelect,
    /// 118
    TransferExceeded,
    /// 119
    ErrAppendVirus,
    /// 120
    ErrFlags,
    /// 121 (2.288+)
    ErrSearch,
    /// 161
    AuthenticationFailureUser1,
    /// 162
    AuthenticationFailureUser2,
    /// 254
    TestsFailed,
}

impl ExitCode {
    /// Every code.
    pub const ALL: [ExitCode; 29] = [
        ExitCode::ExOk,
        ExitCode::CatchAll,
        ExitCode::BySignal,
        ExitCode::ByFile,
        ExitCode::PidFileError,
        ExitCode::ConnectionFailure,
        ExitCode::TlsFailure,
        ExitCode::AuthenticationFailure,
        ExitCode::Subfolder1NoExists,
        ExitCode::ExUsage,
        ExitCode::ExNoInput,
        ExitCode::ExUnavailable,
        ExitCode::ExSoftware,
        ExitCode::ConnectionFailureHost1,
        ExitCode::ConnectionFailureHost2,
        ExitCode::WithErrors,
        ExitCode::WithErrorsMax,
        ExitCode::Overquota,
        ExitCode::ErrAppend,
        ExitCode::ErrFetch,
        ExitCode::ErrCreate,
        ExitCode::ErrSelect,
        ExitCode::TransferExceeded,
        ExitCode::ErrAppendVirus,
        ExitCode::ErrFlags,
        ExitCode::ErrSearch,
        ExitCode::AuthenticationFailureUser1,
        ExitCode::AuthenticationFailureUser2,
        ExitCode::TestsFailed,
    ];

    /// The numeric process exit status.
    pub fn code(self) -> i32 {
        match self {
            ExitCode::ExOk => 0,
            ExitCode::CatchAll => 1,
            ExitCode::BySignal => 6,
            ExitCode::ByFile => 7,
            ExitCode::PidFileError => 8,
            ExitCode::ConnectionFailure => 10,
            ExitCode::TlsFailure => 12,
            ExitCode::AuthenticationFailure => 16,
            ExitCode::Subfolder1NoExists => 21,
            ExitCode::ExUsage => 64,
            ExitCode::ExNoInput => 66,
            ExitCode::ExUnavailable => 69,
            ExitCode::ExSoftware => 70,
            ExitCode::ConnectionFailureHost1 => 101,
            ExitCode::ConnectionFailureHost2 => 102,
            ExitCode::WithErrors => 111,
            ExitCode::WithErrorsMax => 112,
            ExitCode::Overquota => 113,
            ExitCode::ErrAppend => 114,
            ExitCode::ErrFetch => 115,
            ExitCode::ErrCreate => 116,
            ExitCode::ErrSelect => 117,
            ExitCode::TransferExceeded => 118,
            ExitCode::ErrAppendVirus => 119,
            ExitCode::ErrFlags => 120,
            ExitCode::ErrSearch => 121,
            ExitCode::AuthenticationFailureUser1 => 161,
            ExitCode::AuthenticationFailureUser2 => 162,
            ExitCode::TestsFailed => 254,
        }
    }

    /// The name printed in `Exiting with return value N (NAME)`.
    pub fn name(self) -> &'static str {
        match self {
            ExitCode::ExOk => "EX_OK: successful termination",
            ExitCode::CatchAll => "EXIT_CATCH_ALL",
            ExitCode::BySignal => "EXIT_BY_SIGNAL",
            ExitCode::ByFile => "EXIT_BY_FILE",
            ExitCode::PidFileError => "EXIT_PID_FILE_ERROR",
            ExitCode::ConnectionFailure => "EXIT_CONNECTION_FAILURE",
            ExitCode::TlsFailure => "EXIT_TLS_FAILURE",
            ExitCode::AuthenticationFailure => "EXIT_AUTHENTICATION_FAILURE",
            ExitCode::Subfolder1NoExists => "EXIT_SUBFOLDER1_NO_EXISTS",
            ExitCode::ExUsage => "EX_USAGE: command line usage error",
            ExitCode::ExNoInput => "EX_NOINPUT: cannot open input",
            ExitCode::ExUnavailable => "EX_UNAVAILABLE: service unavailable",
            ExitCode::ExSoftware => "EX_SOFTWARE: internal software error",
            ExitCode::ConnectionFailureHost1 => "EXIT_CONNECTION_FAILURE_HOST1",
            ExitCode::ConnectionFailureHost2 => "EXIT_CONNECTION_FAILURE_HOST2",
            ExitCode::WithErrors => "EXIT_WITH_ERRORS",
            ExitCode::WithErrorsMax => "EXIT_WITH_ERRORS_MAX",
            ExitCode::Overquota => "EXIT_OVERQUOTA",
            ExitCode::ErrAppend => "EXIT_ERR_APPEND",
            ExitCode::ErrFetch => "EXIT_ERR_FETCH",
            ExitCode::ErrCreate => "EXIT_ERR_CREATE",
            ExitCode::ErrSelect => "EXIT_ERR_SELECT",
            ExitCode::TransferExceeded => "EXIT_TRANSFER_EXCEEDED",
            ExitCode::ErrAppendVirus => "EXIT_ERR_APPEND_VIRUS",
            ExitCode::ErrFlags => "EXIT_ERR_FLAGS",
            ExitCode::ErrSearch => "EXIT_ERR_SEARCH",
            ExitCode::AuthenticationFailureUser1 => "EXIT_AUTHENTICATION_FAILURE_USER1",
            ExitCode::AuthenticationFailureUser2 => "EXIT_AUTHENTICATION_FAILURE_USER2",
            ExitCode::TestsFailed => "EXIT_TESTS_FAILED",
        }
    }

    /// The code for a numeric status, if it is one of ours.
    pub fn from_code(code: i32) -> Option<ExitCode> {
        ExitCode::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// Name printed for a numeric status; empty for a status outside the table (e.g. an errno
/// exit), as imapsync prints an empty name then.
pub fn exit_name(code: i32) -> &'static str {
    ExitCode::from_code(code).map_or("", ExitCode::name)
}

/// The last line of a run:
/// `Exiting with return value N (NAME) e/m nb_errors/max_errors PID p`.
pub fn exiting_line(code: i32, nb_errors: u64, errorsmax: u64, pid: u32) -> String {
    format!(
        "Exiting with return value {code} ({}) {nb_errors}/{errorsmax} nb_errors/max_errors PID {pid}",
        exit_name(code)
    )
}

/// Error classes, named as imapsync prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    /// `ERR_AUTHENTICATION_FAILURE_USER1`
    AuthenticationFailureUser1,
    /// `ERR_AUTHENTICATION_FAILURE_USER2`
    AuthenticationFailureUser2,
    /// `ERR_EXIT_TLS_FAILURE`
    ExitTlsFailure,
    /// `ERR_EXIT_AUTHENTICATION_FAILURE`: where imapsync exits at once with 16 (PREAUTH asked
    /// for and not given, X-MASTERAUTH refused); ours, imapsync has no class for it.
    ExitAuthenticationFailure,
    /// `ERR_Host1_FETCH`
    Host1Fetch,
    /// `ERR_APPEND_SIZE`
    AppendSize,
    /// `ERR_OVERQUOTA`
    Overquota,
    /// `ERR_APPEND_VIRUS`
    AppendVirus,
    /// `ERR_APPEND`
    Append,
    /// `ERR_FLAGS`
    Flags,
    /// `ERR_SEARCH` (2.288+)
    Search,
    /// `ERR_CREATE`
    Create,
    /// `ERR_SELECT`
    Select,
    /// `ERR_TRANSFER_EXCEEDED`
    TransferExceeded,
    /// `ERR_CONNECTION_FAILURE_HOST1`
    ConnectionFailureHost1,
    /// `ERR_CONNECTION_FAILURE_HOST2`
    ConnectionFailureHost2,
    /// `ERR_UNCLASSIFIED`
    Unclassified,
    /// `ERR_NOTHING_REPORTED`: an empty message, or no message at all.
    NothingReported,
}

/// Details the advice sentences mention.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdviceContext {
    /// `--user1`.
    pub user1: String,
    /// `--user2`.
    pub user2: String,
    /// `--host1`.
    pub host1: String,
    /// Port used for host1.
    pub port1: u16,
    /// `--host2`.
    pub host2: String,
    /// Port used for host2.
    pub port2: u16,
    /// `--exitwhenover`.
    pub exitwhenover: Option<u64>,
}

impl ErrorClass {
    /// Every class, in classification order (then the two fallbacks).
    pub const ALL: [ErrorClass; 18] = [
        ErrorClass::AuthenticationFailureUser1,
        ErrorClass::AuthenticationFailureUser2,
        ErrorClass::ExitTlsFailure,
        ErrorClass::ExitAuthenticationFailure,
        ErrorClass::Host1Fetch,
        ErrorClass::AppendSize,
        ErrorClass::Overquota,
        ErrorClass::AppendVirus,
        ErrorClass::Append,
        ErrorClass::Flags,
        ErrorClass::Search,
        ErrorClass::Create,
        ErrorClass::Select,
        ErrorClass::TransferExceeded,
        ErrorClass::ConnectionFailureHost1,
        ErrorClass::ConnectionFailureHost2,
        ErrorClass::Unclassified,
        ErrorClass::NothingReported,
    ];

    /// The printed name, e.g. `ERR_Host1_FETCH`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::AuthenticationFailureUser1 => "ERR_AUTHENTICATION_FAILURE_USER1",
            ErrorClass::AuthenticationFailureUser2 => "ERR_AUTHENTICATION_FAILURE_USER2",
            ErrorClass::ExitTlsFailure => "ERR_EXIT_TLS_FAILURE",
            ErrorClass::ExitAuthenticationFailure => "ERR_EXIT_AUTHENTICATION_FAILURE",
            ErrorClass::Host1Fetch => "ERR_Host1_FETCH",
            ErrorClass::AppendSize => "ERR_APPEND_SIZE",
            ErrorClass::Overquota => "ERR_OVERQUOTA",
            ErrorClass::AppendVirus => "ERR_APPEND_VIRUS",
            ErrorClass::Append => "ERR_APPEND",
            ErrorClass::Flags => "ERR_FLAGS",
            ErrorClass::Search => "ERR_SEARCH",
            ErrorClass::Create => "ERR_CREATE",
            ErrorClass::Select => "ERR_SELECT",
            ErrorClass::TransferExceeded => "ERR_TRANSFER_EXCEEDED",
            ErrorClass::ConnectionFailureHost1 => "ERR_CONNECTION_FAILURE_HOST1",
            ErrorClass::ConnectionFailureHost2 => "ERR_CONNECTION_FAILURE_HOST2",
            ErrorClass::Unclassified => "ERR_UNCLASSIFIED",
            ErrorClass::NothingReported => "ERR_NOTHING_REPORTED",
        }
    }

    /// The exit code this class produces when it is the most frequent one.
    pub fn exit_code(self) -> ExitCode {
        match self {
            ErrorClass::AppendSize | ErrorClass::Append => ExitCode::ErrAppend,
            ErrorClass::Overquota => ExitCode::Overquota,
            ErrorClass::AppendVirus => ExitCode::ErrAppendVirus,
            ErrorClass::Create => ExitCode::ErrCreate,
            ErrorClass::Select => ExitCode::ErrSelect,
            ErrorClass::Host1Fetch => ExitCode::ErrFetch,
            ErrorClass::Flags => ExitCode::ErrFlags,
            ErrorClass::Search => ExitCode::ErrSearch,
            ErrorClass::Unclassified | ErrorClass::NothingReported => ExitCode::WithErrors,
            ErrorClass::TransferExceeded => ExitCode::TransferExceeded,
            ErrorClass::ConnectionFailureHost1 => ExitCode::ConnectionFailureHost1,
            ErrorClass::ConnectionFailureHost2 => ExitCode::ConnectionFailureHost2,
            ErrorClass::AuthenticationFailureUser1 => ExitCode::AuthenticationFailureUser1,
            ErrorClass::AuthenticationFailureUser2 => ExitCode::AuthenticationFailureUser2,
            ErrorClass::ExitTlsFailure => ExitCode::TlsFailure,
            ErrorClass::ExitAuthenticationFailure => ExitCode::AuthenticationFailure,
        }
    }

    /// The sentence printed after `The most frequent error is ERR_XXX.` (empty for most
    /// classes).
    pub fn advice(self, ctx: &AdviceContext) -> String {
        match self {
            ErrorClass::AppendSize => "Host2 rejects messages this large: leave them out with --maxsize, \
                 or cut them with --truncmess. See https://imapsync.lamiral.info/FAQ.d/FAQ.Messages_Too_Big.txt"
                .to_owned(),
            ErrorClass::Overquota => {
                "The host2 mailbox is 100% full: make room on it, then run the same sync again."
                    .to_owned()
            }
            ErrorClass::Flags => {
                "Host2 refused a lot of flag updates (STORE); consider running again with --noresyncflags."
                    .to_owned()
            }
            ErrorClass::TransferExceeded => {
                let limit = ctx
                    .exitwhenover
                    .map_or_else(|| "NA".to_owned(), |l| bytes_display_string_dec(l as f64));
                format!(
                    "This run hit its transfer ceiling (--exitwhenover, {limit}). Launch the same sync again to go on."
                )
            }
            ErrorClass::ConnectionFailureHost1 => format!(
                "Make sure host1 {} port {} really is the IMAP server of this mailbox.",
                ctx.host1, ctx.port1
            ),
            ErrorClass::ConnectionFailureHost2 => format!(
                "Make sure host2 {} port {} really is the IMAP server of this mailbox.",
                ctx.host2, ctx.port2
            ),
            ErrorClass::AuthenticationFailureUser1 => {
                format!("Verify the login and password given for {}.", ctx.user1)
            }
            ErrorClass::AuthenticationFailureUser2 => {
                format!("Verify the login and password given for {}.", ctx.user2)
            }
            _ => String::new(),
        }
    }
}

/// Ordered classification rules: (pattern, class). Patterns use Perl semantics where `.`
/// does not cross a newline.
static RULES: LazyLock<Vec<(Regex, ErrorClass)>> = LazyLock::new(|| {
    let raw: [(&str, ErrorClass); 19] = [
        (
            r"Host1 failure: Error login on",
            ErrorClass::AuthenticationFailureUser1,
        ),
        (
            r"Host2 failure: Error login on",
            ErrorClass::AuthenticationFailureUser2,
        ),
        (
            r"Host. failure: Can not go to tls encryption on host.",
            ErrorClass::ExitTlsFailure,
        ),
        (
            r"Host. failure: error login on host. \[.*\] with user \[.*\] auth \[PREAUTH\]",
            ErrorClass::ExitAuthenticationFailure,
        ),
        (
            r"Host. failure: Failure authenticate with X-MASTERAUTH",
            ErrorClass::ExitAuthenticationFailure,
        ),
        (r"could not be fetched:", ErrorClass::Host1Fetch),
        (
            r"could not append .*BAD maximum message size exceeded",
            ErrorClass::AppendSize,
        ),
        (
            r"could not append.*Maximum size of appendable message has been exceeded",
            ErrorClass::AppendSize,
        ),
        (r"OVERQUOTA", ErrorClass::Overquota),
        (r"Quota limit will be exceeded", ErrorClass::Overquota),
        (
            r"full: it is time to find a bigger place",
            ErrorClass::Overquota,
        ),
        (r"could not append.*virus", ErrorClass::AppendVirus),
        (r"could not append", ErrorClass::Append),
        (r"could not add flags", ErrorClass::Flags),
        (r"BAD .* SEARCH: Unknown argument", ErrorClass::Search),
        (r"Could not create folder", ErrorClass::Create),
        (r"Could not select:", ErrorClass::Select),
        (
            r"Maximum bytes transferred reached",
            ErrorClass::TransferExceeded,
        ),
        (
            r"can not open imap connection on host1",
            ErrorClass::ConnectionFailureHost1,
        ),
    ];
    let mut rules: Vec<(Regex, ErrorClass)> = raw
        .iter()
        .filter_map(|(p, c)| Regex::new(p).ok().map(|r| (r, *c)))
        .collect();
    if let Ok(r) = Regex::new(r"can not open imap connection on host2") {
        rules.push((r, ErrorClass::ConnectionFailureHost2));
    }
    rules
});

/// Classify one recorded error message (first matching rule wins).
pub fn classify(message: &str) -> ErrorClass {
    if message.is_empty() {
        return ErrorClass::NothingReported;
    }
    RULES
        .iter()
        .find(|(re, _)| re.is_match(message).unwrap_or(false))
        .map_or(ErrorClass::Unclassified, |(_, c)| *c)
}

/// The most frequent class; ties go to the class whose name sorts first (ASCII);
/// [`ErrorClass::NothingReported`] when there is none.
pub fn most_frequent<I: IntoIterator<Item = ErrorClass>>(classes: I) -> ErrorClass {
    let mut counts: Vec<(ErrorClass, u64)> = Vec::new();
    for c in classes {
        match counts.iter_mut().find(|(k, _)| *k == c) {
            Some((_, n)) => *n += 1,
            None => counts.push((c, 1)),
        }
    }
    counts
        .into_iter()
        .min_by(|(a, na), (b, nb)| nb.cmp(na).then_with(|| a.name().cmp(b.name())))
        .map_or(ErrorClass::NothingReported, |(c, _)| c)
}

/// Exit code for the most common class; imapsync falls back to `EXIT_CATCH_ALL` when no class
/// was computed (which happens when the only errors were counted after the listing, e.g. a
/// connection found lost at LOGOUT time).
pub fn exit_value(most_common: Option<ErrorClass>) -> ExitCode {
    most_common.map_or(ExitCode::CatchAll, ErrorClass::exit_code)
}

/// `Err 1/N: <msg>Err 2/N: <msg>...` — messages are concatenated as recorded (they normally
/// end with a newline). `None` for an empty list.
pub fn errors_dump<S: AsRef<str>>(messages: &[S]) -> Option<String> {
    if messages.is_empty() {
        return None;
    }
    let n = messages.len();
    let mut out = String::new();
    for (i, m) in messages.iter().enumerate() {
        out.push_str(&format!("Err {}/{n}: {}", i + 1, m.as_ref()));
    }
    Some(out)
}

/// Collector of recorded errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorLog {
    messages: Vec<String>,
    nb_errors: u64,
    errorsmax: u64,
}

impl Default for ErrorLog {
    fn default() -> Self {
        Self::new(ERRORS_MAX)
    }
}

impl ErrorLog {
    /// A new log; `errorsmax` 0 means the default (50), as in imapsync.
    pub fn new(errorsmax: u64) -> Self {
        Self {
            messages: Vec::new(),
            nb_errors: 0,
            errorsmax: if errorsmax == 0 {
                ERRORS_MAX
            } else {
                errorsmax
            },
        }
    }

    /// Record an error (count it and keep its text). Returns true when `--errorsmax` is now
    /// reached: the caller prints [`errorsmax_message`](Self::errorsmax_message) and the
    /// listing, then exits with [`exit_code`](Self::exit_code).
    pub fn record(&mut self, message: impl Into<String>) -> bool {
        self.nb_errors += 1;
        self.messages.push(message.into());
        self.max_reached()
    }

    /// Count an error without a message (imapsync does this for a connection found lost);
    /// such errors do not take part in the classification.
    pub fn count_only(&mut self) {
        self.nb_errors += 1;
    }

    /// Errors counted so far.
    pub fn nb_errors(&self) -> u64 {
        self.nb_errors
    }

    /// The effective `--errorsmax`.
    pub fn errorsmax(&self) -> u64 {
        self.errorsmax
    }

    /// Recorded messages.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }

    /// `nb_errors ≥ errorsmax`.
    pub fn max_reached(&self) -> bool {
        self.nb_errors >= self.errorsmax
    }

    /// Count of recorded messages per class.
    pub fn counts(&self) -> Vec<(ErrorClass, u64)> {
        let mut counts: Vec<(ErrorClass, u64)> = Vec::new();
        for c in self.messages.iter().map(|m| classify(m)) {
            match counts.iter_mut().find(|(k, _)| *k == c) {
                Some((_, n)) => *n += 1,
                None => counts.push((c, 1)),
            }
        }
        counts
    }

    /// The winning class over the recorded messages.
    pub fn most_frequent(&self) -> ErrorClass {
        most_frequent(self.messages.iter().map(|m| classify(m)))
    }

    /// Final exit code: 0 without any counted error, else the winning class's code.
    pub fn exit_code(&self) -> ExitCode {
        if self.nb_errors == 0 {
            ExitCode::ExOk
        } else {
            self.most_frequent().exit_code()
        }
    }

    /// `Maximum number of errors 50 reached ( you can change 50 to any value, for example 100
    /// with --errorsmax 100 ). Exiting.`
    pub fn errorsmax_message(&self) -> String {
        let m = self.errorsmax;
        format!(
            "Maximum number of errors {m} reached ( you can change {m} to any value, for example 100 with --errorsmax 100 ). Exiting.\n"
        )
    }

    /// The end-of-run listing: with `errorsdump` the header line and the `Err i/N:` lines,
    /// then always `The most frequent error is ERR_XXX. <advice>`.
    pub fn listing(&self, errorsdump: bool, ctx: &AdviceContext) -> String {
        let mut out = String::new();
        if errorsdump {
            out.push_str(&format!(
                "++++ Listing {} errors encountered during the sync ( avoid this listing with --noerrorsdump ).\n",
                self.nb_errors
            ));
            if let Some(d) = errors_dump(&self.messages) {
                out.push_str(&d);
            }
        }
        let c = self.most_frequent();
        out.push_str(&format!(
            "The most frequent error is {}. {}\n",
            c.name(),
            c.advice(ctx)
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // imapsync's error_type unit vectors.
    #[test]
    fn classify_vectors() {
        assert_eq!(classify(""), ErrorClass::NothingReported);
        assert_eq!(classify("ERR_UNCLASSIFIED"), ErrorClass::Unclassified);
        assert_eq!(classify("aie"), ErrorClass::Unclassified);
        assert_eq!(
            classify("Message xxx could not be fetched: blabla"),
            ErrorClass::Host1Fetch
        );
        assert_eq!(
            classify("could not append message xxx: BAD maximum message size exceeded"),
            ErrorClass::AppendSize
        );
        assert_eq!(
            classify("Quota limit will be exceeded"),
            ErrorClass::Overquota
        );
        assert_eq!(classify("could not append"), ErrorClass::Append);
        assert_eq!(classify("Could not create folder"), ErrorClass::Create);
        assert_eq!(classify("Could not select: blabla"), ErrorClass::Select);
        assert_eq!(
            classify("Maximum bytes transferred reached, blabla"),
            ErrorClass::TransferExceeded
        );
        assert_eq!(
            classify(
                "Host1 failure: can not open imap connection on host1 [badhostkaka] with user [tata]: Unable to connect to badhostkaka:  Invalid argument"
            ),
            ErrorClass::ConnectionFailureHost1
        );
        assert_eq!(
            classify(
                "Host2 failure: can not open imap connection on host2 [badhostkiki] with user [titi]: Unable to connect to badhostkiki:  Invalid argument"
            ),
            ErrorClass::ConnectionFailureHost2
        );
        assert_eq!(
            classify(
                "could not append ( Subject:[For Your Consideration], Date:[\"29-Nov-2016 03:21:10 -0800\"], Size:[5505], Flags:[\\Seen] ) to folder INBOX: 275 NO Message refused because it contains a virus"
            ),
            ErrorClass::AppendVirus
        );
        assert_eq!(
            classify(
                "Host2: flags msg INBOX/957910 could not add flags [PasGlop \\PasGlopRe]: 33 NO Error in IMAP command received by server."
            ),
            ErrorClass::Flags
        );
    }

    #[test]
    fn classify_order_and_lines() {
        assert_eq!(
            classify("Host1 failure: Error login on [h] with user [u] auth [LOGIN]: NO"),
            ErrorClass::AuthenticationFailureUser1
        );
        assert_eq!(
            classify("Host2 failure: Error login on [h] with user [u] auth [PLAIN]: NO"),
            ErrorClass::AuthenticationFailureUser2
        );
        assert_eq!(
            classify("Host2 failure: Can not go to tls encryption on host2 [h]: x"),
            ErrorClass::ExitTlsFailure
        );
        // imapsync's exit_clean(16) cases.
        for line in [
            "Host1 failure: error login on host1 [h] with user [u] auth [PREAUTH]",
            "Host2 failure: error login on host2 [h] with user [u] auth [PREAUTH]: not PREAUTH",
            "Host1 failure: Failure authenticate with X-MASTERAUTH: NO bad",
        ] {
            assert_eq!(
                classify(line),
                ErrorClass::ExitAuthenticationFailure,
                "{line}"
            );
            assert_eq!(classify(line).exit_code().code(), 16, "{line}");
        }
        // OVERQUOTA beats the append rules, even inside an append error.
        assert_eq!(
            classify(
                "- msg F/1 {5} could not append ( ... ) to folder F: NO [OVERQUOTA] Mailbox is full\n"
            ),
            ErrorClass::Overquota
        );
        assert_eq!(
            classify("Could not create folder [X] from [Y]: NO [OVERQUOTA] Not enough disk quota"),
            ErrorClass::Overquota
        );
        assert_eq!(
            classify("could not append x: Maximum size of appendable message has been exceeded"),
            ErrorClass::AppendSize
        );
        // `.*` does not cross a newline.
        assert_eq!(
            classify("could not append x\nthe mail had a virus"),
            ErrorClass::Append
        );
        assert_eq!(
            classify("could not append\n BAD maximum message size exceeded"),
            ErrorClass::Append
        );
        // The size rule needs a blank right after "append".
        assert_eq!(
            classify("could not append: BAD maximum message size exceeded"),
            ErrorClass::Append
        );
        assert_eq!(
            classify("Host1 failure: Error login on x could not be fetched:"),
            ErrorClass::AuthenticationFailureUser1
        );
        assert_eq!(
            classify(
                "Host1: folder F: UID SEARCH: 12 BAD Error in IMAP command SEARCH: Unknown argument X"
            ),
            ErrorClass::Search
        );
        assert_eq!(
            classify("full: it is time to find a bigger place"),
            ErrorClass::Overquota
        );
    }

    #[test]
    fn exit_codes() {
        assert_eq!(ErrorClass::Unclassified.exit_code().code(), 111);
        assert_eq!(ErrorClass::NothingReported.exit_code().code(), 111);
        assert_eq!(ErrorClass::AppendSize.exit_code().code(), 114);
        assert_eq!(ErrorClass::Append.exit_code().code(), 114);
        assert_eq!(ErrorClass::Overquota.exit_code().code(), 113);
        assert_eq!(ErrorClass::Host1Fetch.exit_code().code(), 115);
        assert_eq!(ErrorClass::Create.exit_code().code(), 116);
        assert_eq!(ErrorClass::Select.exit_code().code(), 117);
        assert_eq!(ErrorClass::TransferExceeded.exit_code().code(), 118);
        assert_eq!(ErrorClass::AppendVirus.exit_code().code(), 119);
        assert_eq!(ErrorClass::Flags.exit_code().code(), 120);
        assert_eq!(ErrorClass::Search.exit_code().code(), 121);
        assert_eq!(ErrorClass::ConnectionFailureHost1.exit_code().code(), 101);
        assert_eq!(ErrorClass::ConnectionFailureHost2.exit_code().code(), 102);
        assert_eq!(
            ErrorClass::AuthenticationFailureUser1.exit_code().code(),
            161
        );
        assert_eq!(
            ErrorClass::AuthenticationFailureUser2.exit_code().code(),
            162
        );
        assert_eq!(ErrorClass::ExitTlsFailure.exit_code().code(), 12);
        assert_eq!(exit_value(None), ExitCode::CatchAll);
        assert_eq!(exit_name(0), "EX_OK: successful termination");
        assert_eq!(exit_name(64), "EX_USAGE: command line usage error");
        assert_eq!(exit_name(111), "EXIT_WITH_ERRORS");
        assert_eq!(exit_name(5), "");
        for c in ExitCode::ALL {
            assert_eq!(ExitCode::from_code(c.code()), Some(c));
        }
        assert_eq!(
            exiting_line(113, 3, 50, 4242),
            "Exiting with return value 113 (EXIT_OVERQUOTA) 3/50 nb_errors/max_errors PID 4242"
        );
    }

    // imapsync's most_common_error / errorsanalyse vectors, on real class names.
    #[test]
    fn most_frequent_rule() {
        use ErrorClass::*;
        assert_eq!(most_frequent([]), NothingReported);
        assert_eq!(most_frequent([Flags]), Flags);
        assert_eq!(most_frequent([Flags, Create, Create]), Create);
        // Tie: name order. ERR_AUTHENTICATION_FAILURE_USER1 < ..._USER2.
        assert_eq!(
            most_frequent([AuthenticationFailureUser2, AuthenticationFailureUser1]),
            AuthenticationFailureUser1
        );
        // ERR_Host1_FETCH sorts before ERR_OVERQUOTA ('H' < 'O') but after ERR_FLAGS.
        assert_eq!(most_frequent([Overquota, Host1Fetch]), Host1Fetch);
        assert_eq!(most_frequent([Host1Fetch, Flags]), Flags);
        // errorsanalyse: on a tie, the empty message wins over an unclassified one.
        let classes = ["aie", ""].map(classify);
        assert_eq!(most_frequent(classes), NothingReported);
        let classes = ["aie", "ouille", ""].map(classify);
        assert_eq!(most_frequent(classes), Unclassified);
    }

    #[test]
    fn dump_and_log() {
        let none: [&str; 0] = [];
        assert_eq!(errors_dump(&none), None);
        assert_eq!(errors_dump(&[""]).as_deref(), Some("Err 1/1: "));
        assert_eq!(
            errors_dump(&["aieaieaie"]).as_deref(),
            Some("Err 1/1: aieaieaie")
        );
        assert_eq!(
            errors_dump(&["Aie ", "Ouille"]).as_deref(),
            Some("Err 1/2: Aie Err 2/2: Ouille")
        );

        let mut log = ErrorLog::new(0);
        assert_eq!(log.errorsmax(), 50);
        assert_eq!(log.exit_code(), ExitCode::ExOk);
        assert!(!log.record("Could not select: NO x\n"));
        assert!(!log.record("OVERQUOTA y\n"));
        assert!(!log.record("OVERQUOTA z\n"));
        log.count_only();
        assert_eq!(log.nb_errors(), 4);
        assert_eq!(log.most_frequent(), ErrorClass::Overquota);
        assert_eq!(log.exit_code().code(), 113);
        assert_eq!(
            log.listing(true, &AdviceContext::default()),
            "++++ Listing 4 errors encountered during the sync ( avoid this listing with --noerrorsdump ).\n\
             Err 1/3: Could not select: NO x\nErr 2/3: OVERQUOTA y\nErr 3/3: OVERQUOTA z\n\
             The most frequent error is ERR_OVERQUOTA. The host2 mailbox is 100% full: make room on it, then run the same sync again.\n"
        );
        assert_eq!(
            log.listing(false, &AdviceContext::default()),
            "The most frequent error is ERR_OVERQUOTA. The host2 mailbox is 100% full: make room on it, then run the same sync again.\n"
        );

        let mut small = ErrorLog::new(2);
        assert!(!small.record("a"));
        assert!(small.record("b"));
        assert!(small.max_reached());
        assert_eq!(
            small.errorsmax_message(),
            "Maximum number of errors 2 reached ( you can change 2 to any value, for example 100 with --errorsmax 100 ). Exiting.\n"
        );
        // Only count_only errors: nothing to classify → 111.
        let mut lost = ErrorLog::default();
        lost.count_only();
        assert_eq!(lost.exit_code().code(), 111);
        assert_eq!(
            ErrorLog::default().counts(),
            Vec::<(ErrorClass, u64)>::new()
        );
    }

    #[test]
    fn advice_sentences() {
        let ctx = AdviceContext {
            user1: "alice".into(),
            user2: "bob".into(),
            host1: "imap1.example".into(),
            port1: 993,
            host2: "imap2.example".into(),
            port2: 143,
            exitwhenover: Some(3_000_000_000),
        };
        assert_eq!(ErrorClass::Unclassified.advice(&ctx), "");
        assert!(ErrorClass::Overquota.advice(&ctx).contains("100% full"));
        assert!(
            ErrorClass::AuthenticationFailureUser2
                .advice(&ctx)
                .contains("bob")
        );
        assert!(
            ErrorClass::ConnectionFailureHost2
                .advice(&ctx)
                .contains("host2 imap2.example port 143")
        );
        assert!(
            ErrorClass::TransferExceeded
                .advice(&ctx)
                .contains("3.000 GB")
        );
        assert!(ErrorClass::Flags.advice(&ctx).contains("--noresyncflags"));
        assert!(ErrorClass::AppendSize.advice(&ctx).contains("--truncmess"));
    }
}
