//! The option table: one [`Flag`] per option (or per pair of per-side options).
//!
//! Everything the parser and the help text know about an option lives here.
//! A [`Sides::Both`] entry is written once and generates two names, `name1`
//! and `name2`; options that also exist without a digit (`--timeout`,
//! `--debugimap`, `--search`, ...) are separate [`Sides::One`] entries.
//!
//! To change whether an option is implemented, add or remove the trailing
//! `.not_yet()` of its entry: that is the only place the status lives.

use std::sync::LazyLock;

/// How an option takes its value, in Getopt::Long terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A plain switch without value and without negation (Getopt spec `name`).
    Switch,
    /// A negatable switch (Getopt spec `name!`): `--name`, `--noname`, `--no-name`.
    Bool,
    /// A string value (`name=s`).
    Str,
    /// An integer value (`name=i`); `_` digit separators are accepted.
    Int,
    /// A real number (`name=f`); `_` digit separators are accepted.
    Float,
    /// A repeatable string value, accumulated in order (`name=s@`).
    List,
    /// A repeatable `key=value` value (`name=s%`).
    Hash,
}

impl Kind {
    /// True when the option consumes a value.
    pub fn takes_value(self) -> bool {
        !matches!(self, Kind::Switch | Kind::Bool)
    }

    /// The placeholder shown in the help for the value.
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Switch | Kind::Bool => "",
            Kind::Str | Kind::List => "STR",
            Kind::Int => "INT",
            Kind::Float => "NUM",
            Kind::Hash => "KEY=VAL",
        }
    }
}

/// Whether an entry generates one name or a `name1`/`name2` pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sides {
    /// The name is used as written.
    One,
    /// The entry generates `name1` (host1 side) and `name2` (host2 side).
    Both,
}

/// Whether the re-implementation acts on the option yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Accepted and implemented.
    Supported,
    /// Accepted by the parser (so old command lines still parse) but not acted upon.
    NotYet,
}

/// Help grouping, in the order the help text shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Connection,
    Credentials,
    Folders,
    Selection,
    Identity,
    Transform,
    FlagsDates,
    Deletion,
    Presets,
    Throttling,
    Robustness,
    Modes,
    Logging,
    Beyond,
}

impl Category {
    /// Every category, in help order.
    pub const ALL: [Category; 14] = [
        Category::Connection,
        Category::Credentials,
        Category::Folders,
        Category::Selection,
        Category::Identity,
        Category::Transform,
        Category::FlagsDates,
        Category::Deletion,
        Category::Presets,
        Category::Throttling,
        Category::Robustness,
        Category::Modes,
        Category::Logging,
        Category::Beyond,
    ];

    /// The heading used in the help text.
    pub fn title(self) -> &'static str {
        match self {
            Category::Connection => "Connection, TLS and transport",
            Category::Credentials => "Credentials and authentication",
            Category::Folders => "Folder selection and name mapping",
            Category::Selection => "Message selection",
            Category::Identity => "Message identity, duplicates and cache",
            Category::Transform => "Message transformation",
            Category::FlagsDates => "Flags, dates, labels and ACLs",
            Category::Deletion => "Deletion and expunge",
            Category::Presets => "Server presets",
            Category::Throttling => "Throttling and size limits",
            Category::Robustness => "Errors, signals and process control",
            Category::Modes => "Modes, tests and miscellaneous",
            Category::Logging => "Logging and debugging",
            Category::Beyond => "Beyond imapsync",
        }
    }
}

/// One entry of the option table.
#[derive(Clone, Copy, Debug)]
pub struct Flag {
    /// Base name (for [`Sides::Both`], without the side digit).
    pub name: &'static str,
    /// One name or a numbered pair.
    pub sides: Sides,
    /// Other spellings of the same option (only for [`Sides::One`] entries).
    pub aliases: &'static [&'static str],
    /// Value kind.
    pub kind: Kind,
    /// Help grouping.
    pub category: Category,
    /// Default shown in the help ("" when there is nothing useful to show).
    pub default: &'static str,
    /// One-line help.
    pub help: &'static str,
    /// Implemented or not yet.
    pub support: Support,
    /// The value is a secret and must be masked when the command line is echoed.
    pub secret: bool,
    /// Placeholder for the value in the help, overriding [`Kind::placeholder`].
    pub value_name: Option<&'static str>,
}

impl Flag {
    const fn new(
        name: &'static str,
        sides: Sides,
        kind: Kind,
        category: Category,
        default: &'static str,
        help: &'static str,
    ) -> Flag {
        Flag {
            name,
            sides,
            aliases: &[],
            kind,
            category,
            default,
            help,
            support: Support::Supported,
            secret: false,
            value_name: None,
        }
    }

    /// An option used as written.
    pub const fn one(
        name: &'static str,
        kind: Kind,
        category: Category,
        default: &'static str,
        help: &'static str,
    ) -> Flag {
        Flag::new(name, Sides::One, kind, category, default, help)
    }

    /// A pair of per-side options, `name1` and `name2`.
    pub const fn both(
        name: &'static str,
        kind: Kind,
        category: Category,
        default: &'static str,
        help: &'static str,
    ) -> Flag {
        Flag::new(name, Sides::Both, kind, category, default, help)
    }

    /// Other spellings accepted for this option.
    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Flag {
        self.aliases = aliases;
        self
    }

    /// Mark the option as accepted but not implemented yet.
    pub const fn not_yet(mut self) -> Flag {
        self.support = Support::NotYet;
        self
    }

    /// Mark the value as secret (masked when the command line is echoed).
    pub const fn secret(mut self) -> Flag {
        self.secret = true;
        self
    }

    /// Override the value placeholder shown in the help.
    pub const fn value(mut self, value_name: &'static str) -> Flag {
        self.value_name = Some(value_name);
        self
    }

    /// The value placeholder shown in the help.
    pub fn placeholder(&self) -> &'static str {
        match self.value_name {
            Some(v) => v,
            None => self.kind.placeholder(),
        }
    }

    /// The canonical names this entry generates.
    pub fn names(&self) -> Vec<String> {
        match self.sides {
            Sides::One => vec![self.name.to_string()],
            Sides::Both => vec![format!("{}1", self.name), format!("{}2", self.name)],
        }
    }
}

use Category::*;
use Kind::*;

/// The option table: the union of imapsync 2.229 and 2.314, plus our own options.
#[rustfmt::skip]
pub static FLAGS: &[Flag] = &[
    // ------------------------------------------------------------------
    // Connection, TLS, transport
    Flag::both("host", Str, Connection, "", "IMAP server name or IP address (blanks and '/' are stripped)"),
    Flag::both("port", Int, Connection, "993 with SSL, else 143", "TCP port of the IMAP server"),
    Flag::both("ssl", Bool, Connection, "probed", "Implicit TLS (imaps) from the first byte; --nossl1/2 forbids it"),
    Flag::both("tls", Bool, Connection, "if offered", "Upgrade with STARTTLS; --notls1/2 stays in plain text"),
    Flag::one("sslcheck", Bool, Connection, "on", "Probe port 993 to turn implicit TLS on when nothing was said"),
    Flag::both("sslargs", Hash, Connection, "SSL_verify_mode=0", "Extra TLS parameter for that side, repeatable"),
    Flag::one("ssl1_ssl_version", Str, Connection, "", "Shortcut for --sslargs1 SSL_version=VALUE"),
    Flag::one("ssl2_ssl_version", Str, Connection, "", "Shortcut for --sslargs2 SSL_version=VALUE"),
    Flag::one("debugssl", Int, Connection, "1", "TLS details: 0 none, 1 protocol, cipher, server certificate, 2 the chain"),
    Flag::one("timeout", Float, Connection, "120", "Inactivity timeout in seconds for both sides, 0 for none"),
    Flag::both("timeout", Float, Connection, "--timeout", "Inactivity timeout in seconds for that side"),
    Flag::both("keepalive", Bool, Connection, "on", "Set SO_KEEPALIVE on the connection"),
    Flag::both("reconnectretry", Int, Connection, "3", "Reconnections tried after a lost connection, per command"),
    Flag::both("compress", Bool, Connection, "off", "Use COMPRESS=DEFLATE after login when offered"),
    Flag::one("inet4", Switch, Connection, "off", "Connect over IPv4 only").aliases(&["ipv4"]),
    Flag::one("inet6", Switch, Connection, "off", "Connect over IPv6 only").aliases(&["ipv6"]),
    Flag::both("fastio", Bool, Connection, "off", "Non-blocking fast reads (kept for compatibility)"),
    Flag::one("buffersize", Int, Connection, "4096", "Socket read buffer size in bytes"),
    Flag::both("split", Int, Connection, "100", "How many messages a single multi-message command may name"),
    Flag::both("uid", Bool, Connection, "on", "Address messages by UID rather than by sequence number"),
    Flag::one("id", Bool, Connection, "on", "Send the IMAP ID command when the server supports it"),
    // ------------------------------------------------------------------
    // Credentials and authentication
    Flag::both("user", Str, Credentials, "", "Login name"),
    Flag::both("password", Str, Credentials, "", "Password (masked when the command line is shown)").secret(),
    Flag::both("passfile", Str, Credentials, "", "File whose first line is the password; wins over --password")
        .value("FILE"),
    Flag::one("showpasswords", Bool, Credentials, "off", "Show passwords instead of MASKED in the output"),
    Flag::both("authmech", Str, Credentials, "LOGIN", "Authentication mechanism: LOGIN, PLAIN, CRAM-MD5, XOAUTH2, OAUTHBEARER, NTLM, EXTERNAL, PREAUTH, X-MASTERAUTH"),
    Flag::one("authmd5", Bool, Credentials, "off", "Use CRAM-MD5 on both sides"),
    Flag::both("authmd5", Bool, Credentials, "off", "Use CRAM-MD5 on that side"),
    Flag::both("authuser", Str, Credentials, "", "Administrator identity used to authenticate for the user"),
    Flag::both("proxyauth", Switch, Credentials, "off", "Log in as --authuser, then PROXYAUTH as --user"),
    Flag::both("domain", Str, Credentials, "", "NTLM domain"),
    Flag::one("trylogin", Bool, Credentials, "on", "Retry once with plain LOGIN when another mechanism fails"),
    Flag::both("oauthaccesstoken", Str, Credentials, "", "OAuth2 access token, or a file holding it (re-read on every connection)")
        .secret(),
    Flag::both("oauthdirect", Str, Credentials, "", "Ready-made base64 XOAUTH2 string, or a file holding it")
        .secret(),
    Flag::both("oauthrefreshcmd", Str, Credentials, "", "Command run before each OAuth login to refresh the token file (or printing the token)")
        .value("CMD"),
    // ------------------------------------------------------------------
    // Folder selection and name mapping
    Flag::one("folder", List, Folders, "all folders", "Sync this host1 folder, repeatable"),
    Flag::one("folderrec", List, Folders, "", "Sync this host1 folder and its subfolders, repeatable"),
    Flag::one("include", List, Folders, "", "Add host1 folders matching this regex, repeatable").value("REGEX"),
    Flag::one("exclude", List, Folders, "", "Skip folders matching this regex, repeatable").value("REGEX"),
    Flag::one("noexclude", Switch, Folders, "off", "Drop the excludes added by the presets"),
    Flag::one("folderfirst", List, Folders, "", "Sync this folder before the others, repeatable"),
    Flag::one("folderlast", List, Folders, "", "Sync this folder after the others, repeatable"),
    Flag::one("subscribed", Switch, Folders, "off", "Sync the folders subscribed on host1"),
    Flag::one("subscribe", Bool, Folders, "on", "Subscribe on host2 what is subscribed on host1"),
    Flag::one("subscribeall", Bool, Folders, "off", "Subscribe every synced folder on host2")
        .aliases(&["subscribe_all"]),
    Flag::one("skipemptyfolders", Bool, Folders, "off", "Do not create host2 folders for empty host1 folders"),
    Flag::one("checkfoldersexist", Bool, Folders, "on", "Drop requested folders missing from the host1 list"),
    Flag::one("checkselectable", Bool, Folders, "on", "Drop requested folders that cannot be selected"),
    Flag::one("automap", Bool, Folders, "off", "Map special-use folders (Sent, Trash, ...) across servers"),
    Flag::one("justautomap", Bool, Folders, "off", "Show the automap result and exit"),
    Flag::one("f1f2", List, Folders, "", "Force host1 folder SRC to host2 folder DST, repeatable")
        .value("SRC=DST"),
    Flag::one("f1f2h", Hash, Folders, "", "Hash form of --f1f2").value("SRC=DST"),
    Flag::one("nof1f2", Switch, Folders, "off", "Drop the --f1f2 added by the presets"),
    Flag::one("regextrans2", List, Folders, "", "Rewrite host2 folder names with this substitution, repeatable")
        .value("S///"),
    Flag::one("subfolder1", Str, Folders, "", "Sync only this host1 subtree, to the root of host2"),
    Flag::one("subfolder2", Str, Folders, "", "Put the whole host1 tree under this host2 folder"),
    Flag::both("prefix", Str, Folders, "from NAMESPACE", "Personal namespace prefix of that side"),
    Flag::both("sep", Str, Folders, "from NAMESPACE", "Hierarchy separator of that side"),
    Flag::one("fixslash2", Bool, Folders, "on", "Turn stray '/' into '_' when host2 uses another separator"),
    Flag::one("fixInboxINBOX", Bool, Folders, "on", "Map INBOX and Inbox onto each other across servers"),
    Flag::one("mixfolders", Bool, Folders, "on", "Merge folders differing only by case on a case-blind host2"),
    Flag::one("create_folder_old", Bool, Folders, "off", "Legacy folder creation without parents"),
    Flag::one("sanitize", Bool, Folders, "on", "Trim edge blanks from host, user and password values"),
    // ------------------------------------------------------------------
    // Message selection
    Flag::one("maxsize", Int, Selection, "APPENDLIMIT", "Skip messages bigger than this many bytes"),
    Flag::one("minsize", Int, Selection, "", "Skip messages of this many bytes or fewer"),
    Flag::one("appendlimit", Int, Selection, "from CAPABILITY", "Override the append limit announced by host2"),
    Flag::one("maxage", Float, Selection, "", "Only messages younger than this many days"),
    Flag::one("minage", Float, Selection, "", "Only messages older than this many days"),
    Flag::one("search", Str, Selection, "ALL", "IMAP SEARCH criteria used on both sides"),
    Flag::both("search", Str, Selection, "--search", "IMAP SEARCH criteria for that side"),
    Flag::one("abletosearch", Bool, Selection, "on", "List messages with SEARCH on both sides"),
    Flag::both("abletosearch", Bool, Selection, "on", "List messages with SEARCH on that side"),
    Flag::one("checknoabletosearch", Bool, Selection, "on", "Compare SELECT and SEARCH counts to detect a broken SEARCH"),
    Flag::one("fetch_hash_set", Str, Selection, "1:*", "UID set fetched when SEARCH is not used"),
    Flag::one("skipmess", List, Selection, "", "Skip messages whose content matches this regex, repeatable")
        .value("REGEX"),
    Flag::one("maxlinelength", Int, Selection, "", "Skip messages having a line longer than this"),
    Flag::one("maxlinelengthcmd", Str, Selection, "", "Command fixing over-long messages instead of skipping them")
        .value("CMD"),
    Flag::one("minmaxlinelength", Int, Selection, "", "Skip messages whose longest line is this short (testing)"),
    Flag::one("skipcrossduplicates", Bool, Selection, "off", "Skip messages already copied to any host2 folder"),
    Flag::one("debugcrossduplicates", Bool, Selection, "off", "Report the cross-folder duplicates skipped"),
    Flag::one("checkmessageexists", Bool, Selection, "off", "Check each message exists before fetching it"),
    Flag::one("dry1", Bool, Selection, "--dry", "In dry mode, do not fetch host1 bodies"),
    // ------------------------------------------------------------------
    // Message identity, duplicates, cache
    Flag::one("useheader", List, Identity, "Message-Id, Received", "Header used to identify messages, repeatable")
        .value("HEADER"),
    Flag::one("skipheader", Str, Identity, "", "Ignore header lines matching this regex in the identity")
        .value("REGEX"),
    Flag::one("skipsize", Bool, Identity, "on", "Leave the size out of the message identity"),
    Flag::one("allowsizemismatch", Bool, Identity, "on", "Accept bodies whose length differs from the announced size"),
    Flag::one("wholeheaderifneeded", Bool, Identity, "on", "Fetch the whole header when selected fields are missing"),
    Flag::one("messageidnodomain", Bool, Identity, "off", "Ignore the domain part of Message-ID values"),
    Flag::one("addheader", Bool, Identity, "off", "Add a Message-Id to messages that have no identity header"),
    Flag::one("syncduplicates", Bool, Identity, "off", "Also copy duplicates found inside a folder"),
    Flag::one("usecache", Bool, Identity, "off", "Remember UID pairs between runs"),
    Flag::one("cacheaftercopy", Bool, Identity, "on with --usecache", "Record the UID pair right after each copy"),
    Flag::one("debugcache", Bool, Identity, "off", "Trace the UID cache"),
    Flag::one("useuid", Bool, Identity, "off", "Identify messages by remembered UIDs only"),
    Flag::one("fixcolonbug", Bool, Identity, "on", "Repair cache directories named by an old bug"),
    // ------------------------------------------------------------------
    // Message transformation
    Flag::one("regexmess", List, Transform, "", "Rewrite each message with this substitution, repeatable")
        .value("S///"),
    Flag::one("noregexmess", Switch, Transform, "off", "Drop the --regexmess added by the presets"),
    Flag::one("pipemess", List, Transform, "", "Filter each message through this command, repeatable")
        .value("CMD"),
    Flag::one("pipemesscheck", Bool, Transform, "on", "Test the --pipemess commands at start"),
    Flag::one("disarmreadreceipts", Bool, Transform, "off", "Neutralise read-receipt requests in copied messages"),
    Flag::one("truncmess", Int, Transform, "", "Cut each message to this many bytes"),
    // ------------------------------------------------------------------
    // Flags, dates, labels, ACLs
    Flag::one("resyncflags", Bool, FlagsDates, "on", "Make host2 flags equal to host1 flags for known messages"),
    Flag::one("syncflagsaftercopy", Bool, FlagsDates, "off", "Store flags again after each copy"),
    Flag::one("regexflag", List, FlagsDates, "", "Rewrite the flag list with this substitution, repeatable")
        .value("S///"),
    Flag::one("noregexflag", Switch, FlagsDates, "off", "Drop the --regexflag added by the presets"),
    Flag::one("filterflags", Bool, FlagsDates, "on", "Drop flags host2 cannot store"),
    Flag::one("filterbuggyflags", Bool, FlagsDates, "off", "Drop known bogus pseudo-system flags"),
    Flag::one("flagscase", Bool, FlagsDates, "on", "Normalise the case of the standard system flags"),
    Flag::one("syncinternaldates", Bool, FlagsDates, "on", "Keep the host1 internal date on host2"),
    Flag::one("idatefromheader", Bool, FlagsDates, "off", "Take the internal date from the Date: header"),
    Flag::one("synclabels", Bool, FlagsDates, "off", "Copy Gmail labels of new messages"),
    Flag::one("resynclabels", Bool, FlagsDates, "off", "Make Gmail labels equal for known messages"),
    Flag::one("debuglabels", Bool, FlagsDates, "off", "Trace Gmail label handling"),
    Flag::one("syncacls", Bool, FlagsDates, "off", "Copy folder ACLs to host2"),
    // ------------------------------------------------------------------
    // Deletion and expunge
    Flag::one("delete1", Bool, Deletion, "off", "Delete host1 messages once they are on host2 (a move)")
        .aliases(&["delete"]),
    Flag::one("expunge1", Bool, Deletion, "off", "Expunge host1 folders").aliases(&["expunge"]),
    Flag::one("expungeaftereach", Bool, Deletion, "on", "With --delete1, expunge after each message"),
    Flag::one("delete1emptyfolders", Switch, Deletion, "off", "Delete host1 folders left empty"),
    Flag::one("delete2", Bool, Deletion, "off", "Delete host2 messages that are not on host1 (strict sync)"),
    Flag::one("delete2duplicates", Bool, Deletion, "with --delete2", "Delete duplicates inside host2 folders"),
    Flag::one("delete2folders", Bool, Deletion, "off", "Delete host2 folders that have no host1 counterpart"),
    Flag::one("delete2foldersonly", Str, Deletion, "", "Only delete host2 folders matching this regex")
        .value("REGEX"),
    Flag::one("delete2foldersbutnot", Str, Deletion, "", "Never delete host2 folders matching this regex")
        .value("REGEX"),
    Flag::one("expunge2", Bool, Deletion, "off", "Expunge each host2 folder after its sync"),
    Flag::one("uidexpunge2", Bool, Deletion, "with --delete2", "Expunge only the host2 messages deleted by the run"),
    // ------------------------------------------------------------------
    // Server presets
    Flag::both("gmail", Switch, Presets, "off", "That side is Gmail: host, TLS, throttling and folder tweaks"),
    Flag::both("office", Switch, Presets, "off", "That side is Office 365: host, TLS and limits"),
    Flag::both("exchange", Switch, Presets, "off", "That side is Exchange: size and rate limits"),
    Flag::both("domino", Switch, Presets, "off", "That side is Domino: separator and prefix"),
    // ------------------------------------------------------------------
    // Throttling and size limits
    Flag::one("maxmessagespersecond", Float, Throttling, "0 (no limit)", "Average copy rate limit in messages per second"),
    Flag::one("maxbytespersecond", Int, Throttling, "0 (no limit)", "Average copy rate limit in bytes per second"),
    Flag::one("maxbytesafter", Int, Throttling, "0", "Bytes copied before the byte rate limit applies"),
    Flag::one("maxsleep", Float, Throttling, "2", "Longest single throttling pause in seconds, 0 disables"),
    Flag::one("exitwhenover", Int, Throttling, "", "Stop once this many bytes were transferred"),
    // ------------------------------------------------------------------
    // Errors, signals, process control
    Flag::one("errorsmax", Int, Robustness, "50", "Abort after this many errors"),
    Flag::one("errorsdump", Bool, Robustness, "on", "List all errors at the end"),
    Flag::one("sigexit", List, Robustness, "QUIT TERM", "Signal that prints the stats and exits, repeatable")
        .value("SIG"),
    Flag::one("sigreconnect", List, Robustness, "INT", "Signal that forces a reconnection (twice in 2 s: exit), repeatable").value("SIG"),
    Flag::one("sigignore", List, Robustness, "", "Signal that only prints the stats, repeatable").value("SIG"),
    Flag::one("abort", Switch, Robustness, "", "Stop the run whose PID is in the pidfile, then exit"),
    Flag::one("abortbyfile", Switch, Robustness, "", "With --abort: ask the running sync to stop through a file (PIDFILEabortPID), exit 7"),
    Flag::one("exitonload", Bool, Robustness, "off", "Refuse to run under heavy load"),
    Flag::one("pidfile", Str, Robustness, "TMPDIR/imapsync.pid", "File holding the PID of the run").value("FILE"),
    Flag::one("pidfilelocking", Bool, Robustness, "off", "Refuse to start while the pidfile names a live process"),
    Flag::one("tail", Bool, Robustness, "off", "Follow the log of the run already going on"),
    Flag::one("tmpdir", Str, Robustness, "$HOME/tmp", "Directory for the pidfile and the cache").value("DIR"),
    // ------------------------------------------------------------------
    // Modes, tests, misc
    Flag::one("dry", Bool, Modes, "off", "Change nothing on either server, only show what would be done"),
    Flag::one("justconnect", Bool, Modes, "off", "Connect to both servers, then exit"),
    Flag::one("justlogin", Bool, Modes, "off", "Log in to both servers, then exit"),
    Flag::one("justbanner", Bool, Modes, "off", "Print the start banner, then exit"),
    Flag::one("justfolders", Bool, Modes, "off", "Only create (and delete) folders, copy no message"),
    Flag::one("justfoldersizes", Bool, Modes, "off", "Print folder sizes on both sides, then exit"),
    Flag::one("justfolderlists", Bool, Modes, "off", "Print folder lists and their mapping, then exit"),
    Flag::one("foldersizes", Bool, Modes, "on", "Compute folder sizes before syncing"),
    Flag::one("foldersizesatend", Bool, Modes, "--foldersizes", "Compute folder sizes after syncing"),
    Flag::one("version", Switch, Modes, "", "Print the version number and exit"),
    Flag::one("help", Switch, Modes, "", "Print this help and exit"),
    Flag::one("releasecheck", Bool, Modes, "off", "Check online for a newer release"),
    Flag::one("modulesversion", Bool, Modes, "on", "Print the versions of the components used")
        .aliases(&["modules_version"]),
    Flag::both("emailreport", Bool, Modes, "off", "Append a transfer report message to that side's INBOX"),
    Flag::one("emailreportfrom", Str, Modes, "", "From: address of the transfer report"),
    Flag::one("tests", Bool, Modes, "", "Run the built-in tests").not_yet(),
    Flag::one("testsdebug", Bool, Modes, "", "Run a small debug subset of the built-in tests")
        .aliases(&["tests_debug"])
        .not_yet(),
    Flag::one("testsunit", List, Modes, "", "Run this built-in test function, repeatable").not_yet(),
    Flag::one("testslive", Bool, Modes, "", "Live sync between the public test accounts").not_yet(),
    Flag::one("testslive6", Bool, Modes, "", "Live sync between the public test accounts over IPv6").not_yet(),
    Flag::one("testslive2", Bool, Modes, "", "Second live sync between the public test accounts").not_yet(),
    Flag::one("simulong", Float, Modes, "", "Pretend a long run of this many seconds").not_yet(),
    Flag::one("memorystress", Bool, Modes, "", "Allocate memory to test limits").not_yet(),
    Flag::one("debugsleep", Float, Modes, "", "Sleep this many seconds at several points (tests reconnection)"),
    Flag::one("dockercontext", Bool, Modes, "auto", "Use the defaults meant for a container").not_yet(),
    Flag::one("var", List, Modes, "", "Override an environment variable (web context), repeatable")
        .value("KEY=VAL")
        .not_yet(),
    Flag::one("extra", List, Modes, "", "More options, restricted set, as one quoted string, repeatable")
        .value("OPTIONS"),
    // ------------------------------------------------------------------
    // Logging and debugging
    Flag::one("log", Bool, Logging, "on", "Copy the output to a log file"),
    Flag::one("logdir", Str, Logging, "LOG_imapsync", "Directory of the log file").value("DIR"),
    Flag::one("logfile", Str, Logging, "DATE_USER1_USER2.txt", "Log file name, inside --logdir").value("FILE"),
    Flag::one("debug", Bool, Logging, "off", "Verbose program trace"),
    Flag::one("debugimap", Bool, Logging, "off", "Trace the IMAP dialogue of both sides"),
    Flag::both("debugimap", Bool, Logging, "off", "Trace the IMAP dialogue of that side"),
    Flag::one("debugcontent", Bool, Logging, "off", "Dump every transferred message"),
    Flag::one("debugflags", Bool, Logging, "off", "Trace flag filtering and resync"),
    Flag::one("debugfolders", Bool, Logging, "off", "Trace folder mapping"),
    Flag::one("debugmemory", Bool, Logging, "off", "Print memory use at several points"),
    Flag::one("debuglist", Bool, Logging, "off", "Print the UID lists of each folder"),
    Flag::one("debugenv", Bool, Logging, "off", "Print the environment at start"),
    Flag::one("debugsig", Bool, Logging, "off", "Trace signal handling"),
    Flag::one("debugdev", Bool, Logging, "off", "Developer trace"),
    Flag::one("debugcgi", Bool, Logging, "off", "Web context trace"),
    Flag::one("debugmaxlinelength", Bool, Logging, "off", "Trace the line length checks"),
    // ------------------------------------------------------------------
    // Beyond imapsync: options of this re-implementation only
    Flag::both("connections", Int, Beyond, "1", "Parallel IMAP connections on that side"),
    Flag::one("statedir", Str, Beyond, "", "Directory of the local state database").value("DIR"),
    Flag::one("state", Bool, Beyond, "on", "Keep a local state database; --nostate runs without one"),
    Flag::one("multiappend", Bool, Beyond, "on", "Send several messages per APPEND when host2 supports it"),
    Flag::one("pipelinedepth", Int, Beyond, "", "IMAP commands kept in flight per connection"),
    Flag::both("oauthprovider", Str, Beyond, "", "OAuth2 provider: google, microsoft, microsoft:TENANT, or an issuer URL")
        .value("PROVIDER"),
    Flag::both("oauthclientid", Str, Beyond, "", "OAuth2 application (client) id for the built-in token refresh")
        .value("ID"),
    Flag::both("oauthclientsecret", Str, Beyond, "", "OAuth2 client secret, or a file holding it; alone: app-only tokens")
        .value("SECRET")
        .secret(),
    Flag::both("oauthrefreshtoken", Str, Beyond, "", "OAuth2 refresh token, or a file holding it (rotated tokens written back)")
        .value("TOKEN")
        .secret(),
    Flag::both("oauthtokenfile", Str, Beyond, "", "Token file (JSON, 0600) written by --oauthloginN, kept up to date")
        .value("FILE"),
    Flag::both("oauthscope", Str, Beyond, "the provider's", "OAuth2 scope to ask for"),
    Flag::both("oauthlogin", Switch, Beyond, "off", "Sign in once (device code or browser), save the refresh token in --oauthtokenfileN, go on"),
];

/// One generated option name: a name of the command line and the place its value is stored.
#[derive(Clone, Debug)]
pub struct OptName {
    /// The name as shown to users (`host1`, `fixInboxINBOX`).
    pub name: String,
    /// Lower-case form used for matching.
    pub key: String,
    /// Index of the entry in [`FLAGS`].
    pub flag: usize,
    /// 1 or 2 for names generated by a [`Sides::Both`] entry.
    pub side: Option<u8>,
}

impl OptName {
    /// The table entry of this name.
    pub fn entry(&self) -> &'static Flag {
        &FLAGS[self.flag]
    }
}

/// Every canonical name, in table order (pairs give `name1` then `name2`).
pub fn names() -> &'static [OptName] {
    static NAMES: LazyLock<Vec<OptName>> = LazyLock::new(|| {
        let mut out = Vec::new();
        for (flag, entry) in FLAGS.iter().enumerate() {
            match entry.sides {
                Sides::One => out.push(OptName {
                    name: entry.name.to_string(),
                    key: entry.name.to_ascii_lowercase(),
                    flag,
                    side: None,
                }),
                Sides::Both => {
                    for side in [1u8, 2] {
                        let name = format!("{}{side}", entry.name);
                        out.push(OptName {
                            key: name.to_ascii_lowercase(),
                            name,
                            flag,
                            side: Some(side),
                        });
                    }
                }
            }
        }
        out
    });
    &NAMES
}

/// Index in [`names`] of a canonical name (case-insensitive), if it exists.
pub fn name_index(name: &str) -> Option<usize> {
    let key = name.to_ascii_lowercase();
    names().iter().position(|n| n.key == key)
}

/// One spelling the parser recognises: a canonical name, an alias, or a
/// negated form (`noX`, `no-X`) of a [`Kind::Bool`] option.
#[derive(Clone, Debug)]
pub struct Spelling {
    /// Lower-case text matched against what the user typed.
    pub text: String,
    /// Index in [`names`] of the option it sets.
    pub target: usize,
    /// The spelling turns the option off.
    pub negated: bool,
    /// The name in its positive form and original case (`fixInboxINBOX`, `ipv4`).
    pub positive: String,
}

/// The options accepted by `options_extra.txt` (and imapsync's `--extra`).
pub const EXTRA_NAMES: &[&str] = &[
    "debugimap",
    "debugimap1",
    "debugimap2",
    "debugflags",
    "debugsleep",
    "errorsmax",
    "folder",
    "timeout",
    "timeout1",
    "timeout2",
    "keepalive1",
    "keepalive2",
    "reconnectretry1",
    "reconnectretry2",
    "ssl1",
    "ssl2",
    "tls1",
    "tls2",
    "compress1",
    "compress2",
];

fn build_spellings(keep: impl Fn(&OptName) -> bool) -> Vec<Spelling> {
    let mut out = Vec::new();
    for (target, n) in names().iter().enumerate() {
        if !keep(n) {
            continue;
        }
        let entry = n.entry();
        let mut shown = vec![n.name.clone()];
        if entry.sides == Sides::One {
            shown.extend(entry.aliases.iter().map(|a| a.to_string()));
        }
        for positive in shown {
            let text = positive.to_ascii_lowercase();
            if entry.kind == Kind::Bool {
                for prefix in ["no", "no-"] {
                    out.push(Spelling {
                        text: format!("{prefix}{text}"),
                        target,
                        negated: true,
                        positive: positive.clone(),
                    });
                }
            }
            out.push(Spelling {
                text,
                target,
                negated: false,
                positive,
            });
        }
    }
    out.sort_by(|a, b| a.text.cmp(&b.text));
    out
}

/// Every spelling of the command line, sorted by text.
pub fn spellings() -> &'static [Spelling] {
    static ALL: LazyLock<Vec<Spelling>> = LazyLock::new(|| build_spellings(|_| true));
    &ALL
}

/// The spellings of the restricted `options_extra.txt` subset, sorted by text.
pub fn extra_spellings() -> &'static [Spelling] {
    static EXTRA: LazyLock<Vec<Spelling>> = LazyLock::new(|| {
        build_spellings(|n| EXTRA_NAMES.iter().any(|e| e.eq_ignore_ascii_case(&n.key)))
    });
    &EXTRA
}
