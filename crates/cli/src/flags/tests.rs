//! Unit tests of the option table and of the Getopt::Long-compatible parser.
//!
//! Expected messages and values were obtained from Perl 5.36 with
//! Getopt::Long 2.52 fed the same option specifications.

use super::getopt::{self, perl_float, perl_int};
use super::table::{self, EXTRA_NAMES, names, spellings};
use super::*;

fn ok(args: &[&str]) -> Parsed {
    match parse(args.iter().copied()) {
        Ok(p) => p,
        Err(e) => panic!("{args:?} should parse, got:\n{e}"),
    }
}

fn problems(args: &[&str]) -> Vec<Problem> {
    match parse(args.iter().copied()) {
        Ok(p) => panic!("{args:?} should fail, parsed {:?}", p.given()),
        Err(e) => {
            assert_eq!(e.exit_code(), 64);
            e.problems().to_vec()
        }
    }
}

fn messages(args: &[&str]) -> Vec<String> {
    problems(args).iter().map(ToString::to_string).collect()
}

// ----------------------------------------------------------------------
// Getopt::Long rules

#[test]
fn option_starters_and_value_forms() {
    for args in [
        &["--host1", "h"][..],
        &["-host1", "h"],
        &["+host1", "h"],
        &["--host1=h"],
        &["-host1=h"],
        &["+host1=h"],
    ] {
        assert_eq!(ok(args).string("host1"), Some("h"), "{args:?}");
    }
    assert_eq!(ok(&["-dry"]).bool("dry"), Some(true));
    assert_eq!(ok(&["+dry"]).bool("dry"), Some(true));
}

#[test]
fn value_after_equal_sign_may_contain_equal_signs() {
    assert_eq!(
        ok(&["--search=HEADER X=Y"]).string("search"),
        Some("HEADER X=Y")
    );
    assert_eq!(ok(&["--f1f2=a=b"]).list("f1f2"), ["a=b"]);
}

#[test]
fn names_are_case_insensitive() {
    let p = ok(&["--HOST1", "h", "--fixinboxinbox", "--NoDry", "--debugLIST"]);
    assert_eq!(p.string("host1"), Some("h"));
    assert_eq!(p.bool("fixInboxINBOX"), Some(true));
    assert_eq!(p.bool("fixinboxinbox"), Some(true));
    assert_eq!(p.bool("dry"), Some(false));
    assert_eq!(p.bool("debuglist"), Some(true));
}

#[test]
fn unambiguous_prefix_is_accepted() {
    assert_eq!(ok(&["--delete2d"]).bool("delete2duplicates"), Some(true));
    assert_eq!(ok(&["--justfoldersi"]).bool("justfoldersizes"), Some(true));
    // Getopt::Long 2.52 finds --delete2f ambiguous (the spec says otherwise).
    assert_eq!(
        messages(&["--delete2f"]),
        ["Option delete2f is ambiguous (delete2folders, delete2foldersbutnot, delete2foldersonly)"]
    );
    assert_eq!(
        ok(&["--delete2foldersb", "/x/"]).string("delete2foldersbutnot"),
        Some("/x/")
    );
    assert_eq!(
        ok(&["--maxm", "2"]).float("maxmessagespersecond"),
        Some(2.0)
    );
    assert_eq!(
        messages(&["--host", "x"])[0],
        "Option host is ambiguous (host1, host2)"
    );
}

#[test]
fn exact_name_wins_over_longer_names() {
    let p = ok(&["--justfolders"]);
    assert_eq!(p.bool("justfolders"), Some(true));
    assert!(!p.is_set("justfoldersizes"));
    assert_eq!(ok(&["--delete2"]).given(), ["delete2"]);
    assert_eq!(ok(&["--search", "ALL"]).given(), ["search"]);
    assert_eq!(ok(&["--tests"]).given(), ["tests"]);
}

#[test]
fn ambiguous_prefix_lists_candidates() {
    assert_eq!(
        messages(&["--dele"]),
        [
            "Option dele is ambiguous (delete, delete1, delete1emptyfolders, delete2, \
          delete2duplicates, delete2folders, delete2foldersbutnot, delete2foldersonly)"
        ]
    );
    assert_eq!(
        messages(&["--maxs", "x"])[0],
        "Option maxs is ambiguous (maxsize, maxsleep)"
    );
    assert_eq!(
        messages(&["--justfolder"]),
        ["Option justfolder is ambiguous (justfolderlists, justfolders, justfoldersizes)"]
    );
    // The typed name is shown lower-cased.
    assert_eq!(
        messages(&["--MAXS=1"])[0],
        "Option maxs is ambiguous (maxsize, maxsleep)"
    );
}

#[test]
fn negation_of_negatable_options() {
    assert_eq!(ok(&["--nodry"]).bool("dry"), Some(false));
    assert_eq!(ok(&["--no-dry"]).bool("dry"), Some(false));
    assert_eq!(ok(&["-nodry"]).bool("dry"), Some(false));
    assert_eq!(ok(&["--NO-DRY"]).bool("dry"), Some(false));
    assert_eq!(ok(&["--nossl1", "--notls2"]).bool("ssl1"), Some(false));
    assert_eq!(ok(&["--nostate"]).bool("state"), Some(false));
    // is_set is true for a negated option too.
    assert!(ok(&["--nodry"]).is_set("dry"));
}

#[test]
fn negated_names_take_part_in_prefix_matching() {
    assert_eq!(ok(&["--nojustfolders"]).bool("justfolders"), Some(false));
    assert_eq!(ok(&["--noresyncf"]).bool("resyncflags"), Some(false));
    assert_eq!(ok(&["--no-resyncf"]).bool("resyncflags"), Some(false));
    assert_eq!(
        messages(&["--nodel"]),
        [
            "Option nodel is ambiguous (nodelete, nodelete1, nodelete2, nodelete2duplicates, nodelete2folders)"
        ]
    );
    assert_eq!(
        messages(&["--nodr"]),
        ["Option nodr is ambiguous (nodry, nodry1)"]
    );
    // `--no` alone matches every negated name.
    let m = messages(&["--no"]);
    assert!(
        m[0].starts_with("Option no is ambiguous (no-abletosearch, no-abletosearch1,"),
        "{m:?}"
    );
}

#[test]
fn switches_without_negation_reject_no_forms() {
    assert_eq!(messages(&["--noabort"]), ["Unknown option: noabort"]);
    assert_eq!(messages(&["--no-gmail1"]), ["Unknown option: no-gmail1"]);
    // ...while the real options whose name starts with "no" still work.
    let p = ok(&["--noexclude", "--nof1f2", "--noregexmess", "--noregexflag"]);
    assert_eq!(
        p.given(),
        ["noexclude", "nof1f2", "noregexmess", "noregexflag"]
    );
}

#[test]
fn spellings_of_one_option_are_not_ambiguous() {
    // modulesversion and modules_version are the same option.
    assert_eq!(ok(&["--modules"]).bool("modulesversion"), Some(true));
    assert_eq!(ok(&["--nomodules"]).bool("modulesversion"), Some(false));
    assert_eq!(ok(&["--no-modules"]).bool("modulesversion"), Some(false));
    assert_eq!(ok(&["--subscribe_"]).bool("subscribeall"), Some(true));
    // ...and Getopt then names it by its primary name.
    assert_eq!(
        messages(&["--modules=1"]),
        ["Option modulesversion does not take an argument"]
    );
}

#[test]
fn aliases_land_on_canonical_names() {
    let p = ok(&[
        "--delete",
        "--expunge",
        "--ipv4",
        "--ipv6",
        "--subscribe_all",
        "--tests_debug",
        "--modules_version",
    ]);
    assert_eq!(
        p.given(),
        [
            "inet4",
            "inet6",
            "subscribeall",
            "delete1",
            "expunge1",
            "modulesversion",
            "testsdebug"
        ]
    );
    assert_eq!(ok(&["--nodelete"]).bool("delete1"), Some(false));
    assert_eq!(ok(&["--no-expunge"]).bool("expunge1"), Some(false));
}

#[test]
fn value_option_takes_next_word_even_if_it_looks_like_an_option() {
    let p = ok(&["--f1f2", "--delete1"]);
    assert_eq!(p.list("f1f2"), ["--delete1"]);
    assert!(!p.is_set("delete1"));
    assert_eq!(ok(&["--host1", "--"]).string("host1"), Some("--"));
    assert_eq!(ok(&["--host1", "-"]).string("host1"), Some("-"));
    assert_eq!(ok(&["--host1", ""]).string("host1"), Some(""));
    // A number option swallows it too, then rejects it.
    assert_eq!(
        messages(&["--maxsize", "--", "x"]),
        [
            "Value \"--\" invalid for option maxsize (number expected)",
            "Found 1 extra arguments : [x]\nThey are neither options nor option values: check the quoting of \
             the command line and the spelling of the options."
        ]
    );
}

#[test]
fn double_dash_ends_options() {
    let pr = problems(&["--dry", "--", "--host1", "x"]);
    assert_eq!(
        pr,
        [Problem::ExtraArguments {
            words: vec!["--host1".into(), "x".into()]
        }]
    );
    assert!(ok(&["--dry", "--"]).leftover().is_empty());
}

#[test]
fn lone_dash_and_plus() {
    assert_eq!(
        problems(&["-"]),
        [Problem::ExtraArguments {
            words: vec!["-".into()]
        }]
    );
    assert_eq!(messages(&["+"]), ["Missing option after +"]);
    assert_eq!(messages(&["---"]), ["Unknown option: -"]);
    assert_eq!(messages(&["--="]), ["Unknown option: ="]);
    assert_eq!(messages(&["-=x"]), ["Unknown option: =x"]);
}

#[test]
fn integers_accept_underscores_and_signs() {
    assert_eq!(
        ok(&["--maxsize", "45_000_000"]).int("maxsize"),
        Some(45_000_000)
    );
    assert_eq!(ok(&["--maxsize=_5"]).int("maxsize"), Some(5));
    assert_eq!(ok(&["--maxsize=5_"]).int("maxsize"), Some(5));
    assert_eq!(ok(&["--maxsize=+3"]).int("maxsize"), Some(3));
    assert_eq!(ok(&["--maxsize", "-5"]).int("maxsize"), Some(-5));
    assert_eq!(ok(&["--maxsize", "007"]).int("maxsize"), Some(7));
    assert_eq!(ok(&["--maxsize", "007"]).string("maxsize"), Some("7"));
    assert_eq!(perl_int("99999999999999999999"), Some(i64::MAX));
    assert_eq!(perl_int("-99999999999999999999"), Some(i64::MIN));
    assert_eq!(perl_int("5\n"), Some(5));
    for bad in ["x", "0x10", "1.5", "", "_", "-", "5 ", "1e3", "٣"] {
        assert_eq!(perl_int(bad), None, "{bad:?}");
    }
    assert_eq!(
        messages(&["--maxsize", "x"]),
        ["Value \"x\" invalid for option maxsize (number expected)"]
    );
    assert_eq!(
        messages(&["--port1=0x10"]),
        ["Value \"0x10\" invalid for option port1 (number expected)"]
    );
}

#[test]
fn reals_accept_underscores_fractions_and_exponents() {
    let f = |s: &str| ok(&["--maxage", s]).float("maxage");
    assert_eq!(f("1_000.5"), Some(1000.5));
    assert_eq!(
        ok(&["--maxage", "1_000.5"]).string("maxage"),
        Some("1000.5")
    );
    assert_eq!(f(".5"), Some(0.5));
    assert_eq!(f("1e3"), Some(1000.0));
    assert_eq!(f("-.5e-3"), Some(-0.0005));
    assert_eq!(f("+1_0.0_1E+0_2"), Some(1001.0));
    assert_eq!(f("7"), Some(7.0));
    // Oddities of the pattern: an exponent or fraction made only of '_'...
    assert_eq!(f("1e_"), Some(1.0));
    assert_eq!(f("._"), Some(0.0));
    // ...and a "decimal point" that may be any single byte but a newline
    // (Getopt's pattern has `\.` inside a double-quoted string). Perl then
    // reads the number up to the odd character.
    assert_eq!(f("1,5"), Some(1.0));
    assert_eq!(ok(&["--maxage", "1,5"]).string("maxage"), Some("1,5"));
    assert_eq!(f("0x10"), Some(0.0));
    assert_eq!(f("1x5e3"), Some(1.0));
    assert_eq!(f("1 5"), Some(1.0));
    assert_eq!(f("1x_"), Some(1.0));
    for bad in ["1x", ".x5", "1é5", "1.5x5", "1e5x5", "1\n5"] {
        assert_eq!(perl_float(bad), None, "{bad:?}");
    }
    assert_eq!(perl_float("2.5\n").map(|v| v.0), Some(2.5));
    for bad in ["1.", "abc", "e5", "1.5.5", "", ".", "-", "1e", "1e+", "_1"] {
        assert_eq!(perl_float(bad), None, "{bad:?}");
    }
    assert_eq!(
        messages(&["--timeout", "abc"]),
        ["Value \"abc\" invalid for option timeout (real number expected)"]
    );
}

#[test]
fn missing_value_is_reported() {
    assert_eq!(
        messages(&["--host1"]),
        ["Option host1 requires an argument"]
    );
    assert_eq!(
        messages(&["--host1="]),
        ["Option host1 requires an argument"]
    );
    assert_eq!(
        messages(&["--folder="]),
        ["Option folder requires an argument"]
    );
    assert_eq!(
        messages(&["--sslargs1"]),
        ["Option sslargs1 requires an argument"]
    );
    assert_eq!(
        messages(&["--maxsi"]),
        ["Option maxsize requires an argument"]
    );
}

#[test]
fn switches_reject_inline_values() {
    assert_eq!(
        messages(&["--dry=1"]),
        ["Option dry does not take an argument"]
    );
    assert_eq!(
        messages(&["--nodry=1"]),
        ["Option nodry does not take an argument"]
    );
    assert_eq!(
        messages(&["--no-dry=1"]),
        ["Option no-dry does not take an argument"]
    );
    assert_eq!(
        messages(&["--abort=x"]),
        ["Option abort does not take an argument"]
    );
}

#[test]
fn lists_accumulate_in_order() {
    let p = ok(&[
        "--folder",
        "INBOX",
        "--exclude",
        "^Junk",
        "--folder=Sent Items",
        "-folder",
        "a",
    ]);
    assert_eq!(p.list("folder"), ["INBOX", "Sent Items", "a"]);
    assert_eq!(p.list("exclude"), ["^Junk"]);
    assert!(p.list("include").is_empty());
}

#[test]
fn hashes_accumulate_key_value_pairs() {
    let p = ok(&[
        "--sslargs1",
        "SSL_verify_mode=1",
        "--sslargs1",
        "SSL_version=TLSv1_2=x",
        "--sslargs1=SSL_verify_mode=0",
        "--sslargs2",
        "=v",
    ]);
    assert_eq!(
        p.hash("sslargs1"),
        [
            ("SSL_verify_mode".to_string(), "0".to_string()),
            ("SSL_version".to_string(), "TLSv1_2=x".to_string())
        ]
    );
    assert_eq!(p.hash("sslargs2"), [(String::new(), "v".to_string())]);
    assert_eq!(
        messages(&["--sslargs1", "foo"]),
        ["Option sslargs1, key \"foo\", requires a value"]
    );
}

#[test]
fn last_occurrence_wins_for_single_values() {
    assert_eq!(ok(&["--dry", "--nodry"]).bool("dry"), Some(false));
    assert_eq!(ok(&["--nodry", "--dry"]).bool("dry"), Some(true));
    assert_eq!(
        ok(&["--host1", "a", "--host1", "b"]).string("host1"),
        Some("b")
    );
    assert_eq!(ok(&["--gmail1", "--gmail1"]).bool("gmail1"), Some(true));
}

#[test]
fn unknown_options_are_reported_lowercased() {
    assert_eq!(messages(&["--foo"]), ["Unknown option: foo"]);
    assert_eq!(messages(&["--FOO=Bar"]), ["Unknown option: foo"]);
    assert_eq!(messages(&["-x"]), ["Unknown option: x"]);
}

#[test]
fn every_problem_is_collected_in_order() {
    assert_eq!(
        messages(&["--foo", "--maxsize", "x", "--dry=1", "word"]),
        [
            "Unknown option: foo",
            "Value \"x\" invalid for option maxsize (number expected)",
            "Option dry does not take an argument",
            "Found 1 extra arguments : [word]\nThey are neither options nor option values: check the quoting \
             of the command line and the spelling of the options.",
        ]
    );
}

#[test]
fn extra_arguments_are_an_error() {
    assert_eq!(
        problems(&["a", "--dry", "b"]),
        [Problem::ExtraArguments {
            words: vec!["a".into(), "b".into()]
        }]
    );
    let err = parse(["extra1", "--version", "extra2"]).err();
    assert!(err.is_some_and(|e| {
        e.to_string()
            .starts_with("Found 2 extra arguments : [extra1 extra2]")
    }));
}

#[test]
fn leading_empty_or_zero_leftover_is_tolerated() {
    // imapsync only complains when the first left-over word is true for Perl.
    let p = ok(&["--dry", ""]);
    assert_eq!(p.leftover(), [""]);
    assert_eq!(ok(&["0", "x"]).leftover(), ["0", "x"]);
    assert!(parse(["00"]).is_err());
}

#[test]
fn delete_space_two_gets_its_own_hint() {
    for args in [
        &["--delete", "2"][..],
        &["--host1", "h", "-delete", "2", "--foo"],
        &["--no-delete", "2"],
        &["--delete", "20"],
    ] {
        assert_eq!(problems(args), [Problem::DeleteSpaceTwo], "{args:?}");
    }
    assert!(
        Problem::DeleteSpaceTwo.to_string().contains("--delete2"),
        "the hint names the right option"
    );
    // Not the pattern.
    assert!(matches!(
        problems(&["--delete2", "2"]).as_slice(),
        [Problem::ExtraArguments { .. }]
    ));
    assert!(matches!(
        problems(&["--delete", "x2"]).as_slice(),
        [Problem::ExtraArguments { .. }]
    ));
    assert_eq!(messages(&["--delete  2"]), ["Unknown option: delete  2"]);
}

#[test]
fn usage_errors_exit_64() {
    let err = parse(["--nope"]).err();
    assert_eq!(err.map(|e| e.exit_code()), Some(EX_USAGE));
    assert_eq!(EX_USAGE, 64);
}

#[test]
fn no_arguments_is_fine() {
    let p = ok(&[]);
    assert!(p.args().is_empty());
    assert!(p.given().is_empty());
}

// ----------------------------------------------------------------------
// The table

/// Every option name spelled in spec §1, with the canonical name it must land on.
const SPEC_NAMES: &[(&str, &str)] = &[
    ("abletosearch", "abletosearch"),
    ("abletosearch1", "abletosearch1"),
    ("abletosearch2", "abletosearch2"),
    ("abort", "abort"),
    ("abortbyfile", "abortbyfile"),
    ("addheader", "addheader"),
    ("allowsizemismatch", "allowsizemismatch"),
    ("appendlimit", "appendlimit"),
    ("authmd5", "authmd5"),
    ("authmd51", "authmd51"),
    ("authmd52", "authmd52"),
    ("authmech1", "authmech1"),
    ("authmech2", "authmech2"),
    ("authuser1", "authuser1"),
    ("authuser2", "authuser2"),
    ("automap", "automap"),
    ("buffersize", "buffersize"),
    ("cacheaftercopy", "cacheaftercopy"),
    ("checkfoldersexist", "checkfoldersexist"),
    ("checkmessageexists", "checkmessageexists"),
    ("checknoabletosearch", "checknoabletosearch"),
    ("checkselectable", "checkselectable"),
    ("compress1", "compress1"),
    ("compress2", "compress2"),
    ("create_folder_old", "create_folder_old"),
    ("debug", "debug"),
    ("debugLIST", "debuglist"),
    ("debugcache", "debugcache"),
    ("debugcgi", "debugcgi"),
    ("debugcontent", "debugcontent"),
    ("debugcrossduplicates", "debugcrossduplicates"),
    ("debugdev", "debugdev"),
    ("debugenv", "debugenv"),
    ("debugflags", "debugflags"),
    ("debugfolders", "debugfolders"),
    ("debugimap", "debugimap"),
    ("debugimap1", "debugimap1"),
    ("debugimap2", "debugimap2"),
    ("debuglabels", "debuglabels"),
    ("debuglist", "debuglist"),
    ("debugmaxlinelength", "debugmaxlinelength"),
    ("debugmemory", "debugmemory"),
    ("debugsig", "debugsig"),
    ("debugsleep", "debugsleep"),
    ("debugssl", "debugssl"),
    ("delete", "delete1"),
    ("delete1", "delete1"),
    ("delete1emptyfolders", "delete1emptyfolders"),
    ("delete2", "delete2"),
    ("delete2duplicates", "delete2duplicates"),
    ("delete2folders", "delete2folders"),
    ("delete2foldersbutnot", "delete2foldersbutnot"),
    ("delete2foldersonly", "delete2foldersonly"),
    ("disarmreadreceipts", "disarmreadreceipts"),
    ("dockercontext", "dockercontext"),
    ("domain1", "domain1"),
    ("domain2", "domain2"),
    ("domino1", "domino1"),
    ("domino2", "domino2"),
    ("dry", "dry"),
    ("dry1", "dry1"),
    ("emailreport1", "emailreport1"),
    ("emailreport2", "emailreport2"),
    ("emailreportfrom", "emailreportfrom"),
    ("errorsdump", "errorsdump"),
    ("errorsmax", "errorsmax"),
    ("exchange1", "exchange1"),
    ("exchange2", "exchange2"),
    ("exclude", "exclude"),
    ("exitonload", "exitonload"),
    ("exitwhenover", "exitwhenover"),
    ("expunge", "expunge1"),
    ("expunge1", "expunge1"),
    ("expunge2", "expunge2"),
    ("expungeaftereach", "expungeaftereach"),
    ("extra", "extra"),
    ("f1f2", "f1f2"),
    ("f1f2h", "f1f2h"),
    ("fastio1", "fastio1"),
    ("fastio2", "fastio2"),
    ("fetch_hash_set", "fetch_hash_set"),
    ("filterbuggyflags", "filterbuggyflags"),
    ("filterflags", "filterflags"),
    ("fixInboxINBOX", "fixInboxINBOX"),
    ("fixcolonbug", "fixcolonbug"),
    ("fixslash2", "fixslash2"),
    ("flagscase", "flagscase"),
    ("folder", "folder"),
    ("folderfirst", "folderfirst"),
    ("folderlast", "folderlast"),
    ("folderrec", "folderrec"),
    ("foldersizes", "foldersizes"),
    ("foldersizesatend", "foldersizesatend"),
    ("gmail1", "gmail1"),
    ("gmail2", "gmail2"),
    ("help", "help"),
    ("host1", "host1"),
    ("host2", "host2"),
    ("id", "id"),
    ("idatefromheader", "idatefromheader"),
    ("include", "include"),
    ("inet4", "inet4"),
    ("inet6", "inet6"),
    ("ipv4", "inet4"),
    ("ipv6", "inet6"),
    ("justautomap", "justautomap"),
    ("justbanner", "justbanner"),
    ("justconnect", "justconnect"),
    ("justfolderlists", "justfolderlists"),
    ("justfolders", "justfolders"),
    ("justfoldersizes", "justfoldersizes"),
    ("justlogin", "justlogin"),
    ("keepalive1", "keepalive1"),
    ("keepalive2", "keepalive2"),
    ("log", "log"),
    ("logdir", "logdir"),
    ("logfile", "logfile"),
    ("maxage", "maxage"),
    ("maxbytesafter", "maxbytesafter"),
    ("maxbytespersecond", "maxbytespersecond"),
    ("maxlinelength", "maxlinelength"),
    ("maxlinelengthcmd", "maxlinelengthcmd"),
    ("maxmessagespersecond", "maxmessagespersecond"),
    ("maxsize", "maxsize"),
    ("maxsleep", "maxsleep"),
    ("memorystress", "memorystress"),
    ("messageidnodomain", "messageidnodomain"),
    ("minage", "minage"),
    ("minmaxlinelength", "minmaxlinelength"),
    ("minsize", "minsize"),
    ("mixfolders", "mixfolders"),
    ("modules_version", "modulesversion"),
    ("modulesversion", "modulesversion"),
    ("noabletosearch", "abletosearch"),
    ("nodry1", "dry1"),
    ("noexclude", "noexclude"),
    ("noexpunge1", "expunge1"),
    ("noexpungeaftereach", "expungeaftereach"),
    ("nof1f2", "nof1f2"),
    ("noid", "id"),
    ("nolog", "log"),
    ("nomixfolders", "mixfolders"),
    ("noregexflag", "noregexflag"),
    ("noregexmess", "noregexmess"),
    ("noskipsize", "skipsize"),
    ("nossl1", "ssl1"),
    ("notls1", "tls1"),
    ("oauthaccesstoken1", "oauthaccesstoken1"),
    ("oauthaccesstoken2", "oauthaccesstoken2"),
    ("oauthdirect1", "oauthdirect1"),
    ("oauthdirect2", "oauthdirect2"),
    ("oauthrefreshcmd1", "oauthrefreshcmd1"),
    ("oauthrefreshcmd2", "oauthrefreshcmd2"),
    ("office1", "office1"),
    ("office2", "office2"),
    ("passfile1", "passfile1"),
    ("passfile2", "passfile2"),
    ("password1", "password1"),
    ("password2", "password2"),
    ("pidfile", "pidfile"),
    ("pidfilelocking", "pidfilelocking"),
    ("pipemess", "pipemess"),
    ("pipemesscheck", "pipemesscheck"),
    ("port1", "port1"),
    ("port2", "port2"),
    ("prefix1", "prefix1"),
    ("prefix2", "prefix2"),
    ("proxyauth1", "proxyauth1"),
    ("proxyauth2", "proxyauth2"),
    ("reconnectretry1", "reconnectretry1"),
    ("reconnectretry2", "reconnectretry2"),
    ("regexflag", "regexflag"),
    ("regexmess", "regexmess"),
    ("regextrans2", "regextrans2"),
    ("releasecheck", "releasecheck"),
    ("resyncflags", "resyncflags"),
    ("resynclabels", "resynclabels"),
    ("sanitize", "sanitize"),
    ("search", "search"),
    ("search1", "search1"),
    ("search2", "search2"),
    ("sep1", "sep1"),
    ("sep2", "sep2"),
    ("showpasswords", "showpasswords"),
    ("sigexit", "sigexit"),
    ("sigignore", "sigignore"),
    ("sigreconnect", "sigreconnect"),
    ("simulong", "simulong"),
    ("skipcrossduplicates", "skipcrossduplicates"),
    ("skipemptyfolders", "skipemptyfolders"),
    ("skipheader", "skipheader"),
    ("skipmess", "skipmess"),
    ("skipsize", "skipsize"),
    ("split1", "split1"),
    ("split2", "split2"),
    ("ssl1", "ssl1"),
    ("ssl1_ssl_version", "ssl1_ssl_version"),
    ("ssl2", "ssl2"),
    ("ssl2_ssl_version", "ssl2_ssl_version"),
    ("sslargs1", "sslargs1"),
    ("sslargs2", "sslargs2"),
    ("sslcheck", "sslcheck"),
    ("subfolder1", "subfolder1"),
    ("subfolder2", "subfolder2"),
    ("subscribe", "subscribe"),
    ("subscribe_all", "subscribeall"),
    ("subscribeall", "subscribeall"),
    ("subscribed", "subscribed"),
    ("syncacls", "syncacls"),
    ("syncduplicates", "syncduplicates"),
    ("syncflagsaftercopy", "syncflagsaftercopy"),
    ("syncinternaldates", "syncinternaldates"),
    ("synclabels", "synclabels"),
    ("tail", "tail"),
    ("tests", "tests"),
    ("tests_debug", "testsdebug"),
    ("testsdebug", "testsdebug"),
    ("testslive", "testslive"),
    ("testslive2", "testslive2"),
    ("testslive6", "testslive6"),
    ("testsunit", "testsunit"),
    ("timeout", "timeout"),
    ("timeout1", "timeout1"),
    ("timeout2", "timeout2"),
    ("tls1", "tls1"),
    ("tls2", "tls2"),
    ("tmpdir", "tmpdir"),
    ("truncmess", "truncmess"),
    ("trylogin", "trylogin"),
    ("uid1", "uid1"),
    ("uid2", "uid2"),
    ("uidexpunge2", "uidexpunge2"),
    ("usecache", "usecache"),
    ("useheader", "useheader"),
    ("user1", "user1"),
    ("user2", "user2"),
    ("useuid", "useuid"),
    ("var", "var"),
    ("version", "version"),
    ("wholeheaderifneeded", "wholeheaderifneeded"),
    // Ours.
    ("connections1", "connections1"),
    ("connections2", "connections2"),
    ("statedir", "statedir"),
    ("state", "state"),
    ("nostate", "state"),
    ("multiappend", "multiappend"),
    ("pipelinedepth", "pipelinedepth"),
];

fn sample_value(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Switch | Kind::Bool => None,
        Kind::Str | Kind::List => Some("x"),
        Kind::Int | Kind::Float => Some("1"),
        Kind::Hash => Some("k=v"),
    }
}

#[test]
fn every_spec_option_name_is_accepted() {
    for &(typed, canonical) in SPEC_NAMES {
        let index = table::name_index(canonical);
        assert!(index.is_some(), "{canonical} missing from the table");
        let kind = index.map_or(Kind::Switch, |i| names()[i].entry().kind);
        let mut args = vec![format!("--{typed}")];
        args.extend(sample_value(kind).map(String::from));
        let p = match parse(args.clone()) {
            Ok(p) => p,
            Err(e) => panic!("{args:?}: {e}"),
        };
        assert_eq!(
            p.given(),
            [names()[index.unwrap_or(0)].name.as_str()],
            "{args:?}"
        );
        let negated = typed.starts_with("no") && kind == Kind::Bool;
        if matches!(kind, Kind::Bool | Kind::Switch) {
            assert_eq!(p.bool(canonical), Some(!negated), "{args:?}");
        }
    }
}

#[test]
fn pairs_generate_numbered_names() {
    let p = ok(&[
        "--host1",
        "a",
        "--host2",
        "b",
        "--port1",
        "143",
        "--connections2",
        "4",
    ]);
    assert_eq!(p.string("host1"), Some("a"));
    assert_eq!(p.string("host2"), Some("b"));
    assert_eq!(p.int("port1"), Some(143));
    assert!(!p.is_set("port2"));
    assert_eq!(p.int("connections2"), Some(4));
    for flag in FLAGS.iter().filter(|f| f.sides == Sides::Both) {
        let generated = flag.names();
        assert_eq!(
            generated,
            [format!("{}1", flag.name), format!("{}2", flag.name)]
        );
        for n in generated {
            assert!(table::name_index(&n).is_some(), "{n}");
        }
    }
    // Names existing both with and without a digit are separate options.
    let p = ok(&["--timeout", "5", "--timeout1", "7"]);
    assert_eq!(p.float("timeout"), Some(5.0));
    assert_eq!(p.float("timeout1"), Some(7.0));
    assert!(!p.is_set("timeout2"));
}

#[test]
fn table_has_no_duplicate_spelling() {
    let all = spellings();
    for pair in all.windows(2) {
        assert_ne!(pair[0].text, pair[1].text, "duplicate spelling");
    }
    let mut canon: Vec<&str> = names().iter().map(|n| n.key.as_str()).collect();
    canon.sort_unstable();
    let before = canon.len();
    canon.dedup();
    assert_eq!(before, canon.len(), "two entries generate the same name");
    // Aliases only on single entries, and never equal to a canonical name.
    for flag in FLAGS {
        assert!(
            flag.aliases.is_empty() || flag.sides == Sides::One,
            "{}",
            flag.name
        );
        for a in flag.aliases {
            assert!(table::name_index(a).is_none(), "alias {a} shadows a name");
        }
        assert!(!flag.help.is_empty(), "{} has no help", flag.name);
    }
}

#[test]
fn every_prefix_resolves_to_itself_or_is_ambiguous() {
    for s in spellings() {
        let mut cut = 1;
        while cut <= s.text.len() {
            let prefix = &s.text[..cut];
            let outcome = getopt::run(&[format!("--{prefix}")], spellings());
            let resolved = outcome.occurrences.first();
            match (resolved, outcome.problems.as_slice()) {
                (Some(o), []) => {
                    // Either the spelling being cut, or a shorter name equal to the prefix.
                    let itself = o.name == s.target && o.negated == s.negated;
                    let exact = spellings()
                        .iter()
                        .any(|x| x.text == prefix && x.target == o.name && x.negated == o.negated);
                    assert!(
                        itself || exact,
                        "{prefix} resolved elsewhere than {}",
                        s.text
                    );
                }
                (None, [Problem::Ambiguous { candidates, .. }]) => {
                    assert!(cut < s.text.len(), "full spelling {} is ambiguous", s.text);
                    assert!(candidates.contains(&s.text), "{prefix}: {candidates:?}");
                }
                // A value option at the end of the line: it was resolved.
                (None, [Problem::RequiresValue { .. }]) => {}
                other => panic!("{prefix}: {other:?}"),
            }
            cut += 1;
        }
    }
}

/// The option names of imapsync 2.229's command line.
const NAMES_2229: &[&str] = &[
    "idatefromheader",
    "debug",
    "debuglist",
    "debugcontent",
    "debugsleep",
    "debugflags",
    "debugimap",
    "debugimap1",
    "debugimap2",
    "debugdev",
    "debugmemory",
    "debugfolders",
    "debugssl",
    "debugcgi",
    "debugenv",
    "debugsig",
    "debuglabels",
    "simulong",
    "abort",
    "abortbyfile",
    "host1",
    "host2",
    "port1",
    "port2",
    "inet4",
    "ipv4",
    "inet6",
    "ipv6",
    "user1",
    "user2",
    "gmail1",
    "gmail2",
    "office1",
    "office2",
    "exchange1",
    "exchange2",
    "domino1",
    "domino2",
    "domain1",
    "domain2",
    "password1",
    "password2",
    "passfile1",
    "passfile2",
    "authmd5",
    "authmd51",
    "authmd52",
    "trylogin",
    "oauthdirect1",
    "oauthdirect2",
    "oauthaccesstoken1",
    "oauthaccesstoken2",
    "sep1",
    "sep2",
    "sanitize",
    "folder",
    "folderrec",
    "include",
    "exclude",
    "noexclude",
    "folderfirst",
    "folderlast",
    "prefix1",
    "prefix2",
    "subfolder1",
    "subfolder2",
    "fixslash2",
    "fixinboxinbox",
    "regextrans2",
    "mixfolders",
    "skipemptyfolders",
    "regexmess",
    "noregexmess",
    "skipmess",
    "pipemess",
    "pipemesscheck",
    "disarmreadreceipts",
    "regexflag",
    "noregexflag",
    "filterflags",
    "filterbuggyflags",
    "flagscase",
    "syncflagsaftercopy",
    "resyncflags",
    "synclabels",
    "resynclabels",
    "delete",
    "delete1",
    "delete2",
    "delete2duplicates",
    "delete2folders",
    "delete2foldersonly",
    "delete2foldersbutnot",
    "syncinternaldates",
    "syncacls",
    "maxsize",
    "appendlimit",
    "truncmess",
    "minsize",
    "maxage",
    "minage",
    "search",
    "search1",
    "search2",
    "foldersizes",
    "foldersizesatend",
    "dry",
    "dry1",
    "expunge1",
    "expunge",
    "expunge2",
    "uidexpunge2",
    "subscribed",
    "subscribe",
    "subscribeall",
    "subscribe_all",
    "justbanner",
    "justfolders",
    "justfoldersizes",
    "version",
    "help",
    "timeout",
    "timeout1",
    "timeout2",
    "skipheader",
    "useheader",
    "wholeheaderifneeded",
    "messageidnodomain",
    "skipsize",
    "allowsizemismatch",
    "fastio1",
    "fastio2",
    "sslcheck",
    "ssl1",
    "ssl2",
    "ssl1_ssl_version",
    "ssl2_ssl_version",
    "sslargs1",
    "sslargs2",
    "tls1",
    "tls2",
    "uid1",
    "uid2",
    "authmech1",
    "authmech2",
    "authuser1",
    "authuser2",
    "proxyauth1",
    "proxyauth2",
    "compress1",
    "compress2",
    "keepalive1",
    "keepalive2",
    "split1",
    "split2",
    "buffersize",
    "reconnectretry1",
    "reconnectretry2",
    "tests",
    "testsdebug",
    "tests_debug",
    "testsunit",
    "testslive",
    "testslive6",
    "justlogin",
    "justconnect",
    "tmpdir",
    "pidfile",
    "pidfilelocking",
    "sigexit",
    "sigreconnect",
    "sigignore",
    "releasecheck",
    "modulesversion",
    "modules_version",
    "usecache",
    "cacheaftercopy",
    "debugcache",
    "useuid",
    "addheader",
    "exitwhenover",
    "exitonload",
    "checkselectable",
    "checkfoldersexist",
    "checkmessageexists",
    "expungeaftereach",
    "abletosearch",
    "abletosearch1",
    "abletosearch2",
    "showpasswords",
    "maxlinelength",
    "maxlinelengthcmd",
    "minmaxlinelength",
    "debugmaxlinelength",
    "fixcolonbug",
    "create_folder_old",
    "maxmessagespersecond",
    "maxbytespersecond",
    "maxbytesafter",
    "maxsleep",
    "syncduplicates",
    "skipcrossduplicates",
    "debugcrossduplicates",
    "log",
    "tail",
    "logfile",
    "logdir",
    "errorsmax",
    "errorsdump",
    "fetch_hash_set",
    "automap",
    "justautomap",
    "id",
    "f1f2",
    "nof1f2",
    "f1f2h",
    "justfolderlists",
    "delete1emptyfolders",
    "checknoabletosearch",
    "dockercontext",
    "emailreportfrom",
    "emailreport1",
    "emailreport2",
    "var",
    "memorystress",
];

/// Prefixes of imapsync 2.229 names that resolve differently in our union
/// table, because of options added after 2.229, CGI-only ones, or ours.
#[test]
fn prefixes_valid_in_imapsync_2229_keep_their_meaning() {
    let old: Vec<&Spelling> = spellings()
        .iter()
        .filter(|s| {
            let positive = s.positive.to_ascii_lowercase();
            NAMES_2229.contains(&positive.as_str())
        })
        .collect();
    let old_table: Vec<Spelling> = old.into_iter().cloned().collect();
    let mut changed = Vec::new();
    for s in &old_table {
        for cut in 1..=s.text.len() {
            let word = format!("--{}", &s.text[..cut]);
            let a = getopt::run(std::slice::from_ref(&word), &old_table);
            let b = getopt::run(std::slice::from_ref(&word), spellings());
            let key = |o: &getopt::Outcome| {
                (
                    o.occurrences.first().map(|x| (x.name, x.negated)),
                    o.problems.first().map(std::mem::discriminant),
                )
            };
            if key(&a) != key(&b) && !changed.contains(&word) {
                changed.push(word);
            }
        }
    }
    changed.sort();
    // tmphash and loglogfile are CGI-only in imapsync and are left out of our
    // command line, so no prefix valid in 2.229 changes meaning.
    assert!(
        changed.is_empty(),
        "prefixes whose meaning changed: {changed:?}"
    );
}

use super::table::Spelling;

#[test]
fn not_yet_statuses_are_exactly_the_listed_ones() {
    let mut not_yet: Vec<String> = Vec::new();
    for flag in FLAGS.iter().filter(|f| f.support == Support::NotYet) {
        not_yet.extend(flag.names());
        not_yet.extend(flag.aliases.iter().map(|a| a.to_string()));
    }
    not_yet.sort();
    let mut expected = [
        "tests",
        "testsdebug",
        "tests_debug",
        "testsunit",
        "testslive",
        "testslive6",
        "testslive2",
        "simulong",
        "memorystress",
        "dockercontext",
        "var",
    ];
    expected.sort_unstable();
    assert_eq!(not_yet, expected);
}

#[test]
fn not_yet_supported_reports_given_options_once() {
    let p = ok(&[
        "--host1",
        "h",
        "--tests_debug",
        "--var",
        "a=b",
        "--notests",
        "--var",
        "c=d",
        "--simulong",
        "5",
        "--dry",
    ]);
    assert_eq!(
        p.not_yet_supported(),
        ["--tests_debug", "--var", "--tests", "--simulong"]
    );
    assert!(ok(&["--dry"]).not_yet_supported().is_empty());
    let seen: Vec<(&str, &str, bool)> = p
        .occurrences()
        .iter()
        .map(|o| (o.canonical(), o.spelling.as_str(), o.negated))
        .collect();
    assert_eq!(seen[1], ("testsdebug", "tests_debug", false));
    assert_eq!(seen[3], ("tests", "tests", true));
}

#[test]
fn masked_command_line_hides_secrets() {
    let p = ok(&[
        "--host1",
        "h",
        "--password1",
        "s3cret",
        "--password2=p@ss word",
        "-oauthaccesstoken1",
        "tok",
        "--oauthdirect2=abc==",
        "--passfile1",
        "/etc/pw",
        "--f1f2",
        "--password1",
    ]);
    assert_eq!(
        p.masked_command_line(),
        "--host1 h --password1 MASKED --password2=MASKED -oauthaccesstoken1 MASKED \
         --oauthdirect2=MASKED --passfile1 /etc/pw --f1f2 --password1"
    );
    // Values are untouched.
    assert_eq!(p.string("password1"), Some("s3cret"));
    assert_eq!(p.string("password2"), Some("p@ss word"));
    assert_eq!(p.args()[3], "s3cret");
    // An abbreviation is masked too.
    assert_eq!(
        ok(&["--oauthaccesstoken2", "t", "--password1", "x"]).masked_args(),
        ["--oauthaccesstoken2", "MASKED", "--password1", "MASKED"]
    );
    assert_eq!(
        ok(&["--oauthdirect1", "x", "--user1=u"]).masked_command_line(),
        "--oauthdirect1 MASKED --user1=u"
    );
    // The built-in OAuth2 refresh: client secrets and refresh tokens.
    assert_eq!(
        ok(&[
            "--oauthclientsecret1",
            "cs",
            "--oauthrefreshtoken2=rt",
            "--oauthclientid1",
            "id"
        ])
        .masked_command_line(),
        "--oauthclientsecret1 MASKED --oauthrefreshtoken2=MASKED --oauthclientid1 id"
    );
}

#[test]
fn accessors_on_absent_options() {
    let p = ok(&["--dry"]);
    assert_eq!(p.string("host1"), None);
    assert_eq!(p.int("maxsize"), None);
    assert_eq!(p.float("maxage"), None);
    assert!(p.list("folder").is_empty());
    assert!(p.hash("sslargs1").is_empty());
    assert_eq!(p.bool("delete2"), None);
    assert_eq!(p.float("maxsize"), None);
    assert_eq!(ok(&["--maxsize", "3"]).float("maxsize"), Some(3.0));
    assert_eq!(ok(&["--maxsize", "3"]).string("maxsize"), Some("3"));
    assert_eq!(p.value("dry"), Some(&Value::Bool(true)));
}

#[test]
#[cfg_attr(debug_assertions, should_panic(expected = "not in the flag table"))]
fn unknown_accessor_name_is_a_bug() {
    let p = ok(&["--dry"]);
    // In release builds: no panic, just nothing.
    assert_eq!(p.bool("nosuchoption"), None);
    assert!(!p.is_set("delete"));
}

#[test]
#[cfg_attr(debug_assertions, should_panic(expected = "is of kind"))]
fn accessor_of_the_wrong_kind_is_a_bug() {
    let p = ok(&["--host1", "h"]);
    assert_eq!(p.int("host1"), None);
}

// ----------------------------------------------------------------------
// Extra options

#[test]
fn extra_options_use_the_restricted_set() {
    let e = parse_extra("--debugimap1 caca");
    assert_eq!(e.options.bool("debugimap1"), Some(true));
    assert_eq!(e.leftover, ["caca"]);
    assert!(e.problems.is_empty());

    let e = parse_extra("--nodebugimap1 --debugflags --errorsmax 2");
    assert_eq!(e.options.bool("debugimap1"), Some(false));
    assert_eq!(e.options.bool("debugflags"), Some(true));
    assert_eq!(e.options.int("errorsmax"), Some(2));

    let e = parse_extra("--folder \"IN BOX\" --folder JOE");
    assert_eq!(e.options.list("folder"), ["IN BOX", "JOE"]);

    let e = parse_extra("--debugflags --koko --host1 x");
    assert_eq!(e.options.given(), ["debugflags"]);
    assert_eq!(
        e.problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["Unknown option: koko", "Unknown option: host1"]
    );
    assert_eq!(e.leftover, ["x"]);
    assert!(e.clone().into_result().is_err());

    // Prefixes are resolved within the restricted set: "f" is only folder there.
    assert_eq!(parse_extra("--f a").options.list("folder"), ["a"]);
    assert!(
        parse_extra("--t 3")
            .problems
            .iter()
            .any(|p| matches!(p, Problem::Ambiguous { .. }))
    );

    let e = parse_extra("--ssl1 \"unclosed");
    assert!(e.unbalanced);
    assert!(e.options.given().is_empty());

    // Every restricted name exists.
    for n in EXTRA_NAMES {
        assert!(table::name_index(n).is_some(), "{n}");
    }
}

#[test]
fn extra_options_merge_over_the_command_line() {
    let mut p = ok(&[
        "--folder",
        "a",
        "--folder",
        "b",
        "--timeout",
        "5",
        "--ssl1",
        "--host1",
        "h",
    ]);
    let e = parse_extra("--folder c --timeout 9 --nossl1 --notls2 --pipemess x");
    p.merge(&e.options);
    assert_eq!(
        p.list("folder"),
        ["c"],
        "a list given in the extra string replaces ours"
    );
    assert_eq!(p.float("timeout"), Some(9.0));
    assert_eq!(p.bool("ssl1"), Some(false));
    assert_eq!(p.bool("tls2"), Some(false));
    assert_eq!(p.string("host1"), Some("h"));
    // --pipemess is not in the restricted set: a warning, the rest still applies.
    assert_eq!(
        e.problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["Unknown option: pipemess"]
    );
    assert!(e.into_result().is_err());
    let ok_extra = parse_extra("--tls1");
    assert!(ok_extra.into_result().is_ok());
}

#[test]
fn shellwords_follows_text_parsewords() {
    let w = shellwords(r#"a "b c" d\ e 'f\"g' h"i"j "k\"l" "#);
    assert_eq!(
        w,
        Some(vec![
            "a".to_string(),
            "b c".into(),
            "d e".into(),
            r#"f\"g"#.into(),
            "hij".into(),
            "k\"l".into()
        ])
    );
    assert_eq!(
        shellwords("  x\n\ty  "),
        Some(vec!["x".to_string(), "y".into()])
    );
    assert_eq!(shellwords(r#""""#), Some(vec![String::new()]));
    assert_eq!(shellwords(""), Some(vec![]));
    assert_eq!(shellwords("   "), Some(vec![]));
    assert_eq!(shellwords("a \"b"), None);
    assert_eq!(shellwords("a b\\"), None);
    assert_eq!(shellwords("'it\\'s'"), Some(vec!["it\\'s".to_string()]));
}

// ----------------------------------------------------------------------
// Help

#[test]
fn help_lists_every_option() {
    let text = help_text();
    // imapsync's layout: scripts look for these headings.
    assert!(text.starts_with("Name:\n"));
    for section in [
        "\nVersion:\n",
        "\nUsage:\n",
        "\nOptions:\n",
        "usage: imapsync [options]",
    ] {
        assert!(text.contains(section), "{section}");
    }
    for n in names() {
        assert!(
            text.contains(&format!("--{}", n.name)) || text.contains(&format!("--[no]{}", n.name)),
            "{}",
            n.name
        );
    }
    for c in Category::ALL {
        assert!(text.contains(c.title()), "{}", c.title());
    }
    assert!(text.contains("--[no]ssl1, --[no]ssl2"));
    assert!(text.contains("--[no]delete1, --[no]delete "));
    let testslive = text
        .lines()
        .find(|l| l.trim_start().starts_with("--[no]testslive "));
    assert!(
        testslive.is_some_and(|l| l.ends_with("(not supported yet)")),
        "{testslive:?}"
    );
    let host = text
        .lines()
        .find(|l| l.trim_start().starts_with("--host1, --host2 STR"));
    assert!(host.is_some_and(|l| !l.contains("not supported")));
    assert!(text.contains(VERSION));
    assert!(usage_hint().contains("--help"));
    assert_eq!(
        FLAGS
            .iter()
            .filter(|f| f.category == Category::Beyond)
            .count(),
        12
    );
}

// ----------------------------------------------------------------------
// Differential run against Perl (driven by a script kept outside the repo)

fn dump_values(values: &[Option<Value>]) -> Vec<String> {
    let mut lines: Vec<(String, String)> = names()
        .iter()
        .zip(values)
        .filter_map(|(n, v)| {
            let v = v.as_ref()?;
            let shown = match v {
                Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
                Value::Str(s) => s.clone(),
                Value::Int { text, .. } | Value::Float { text, .. } => text.clone(),
                Value::List(items) => format!("[{}]", items.join("\x1f")),
                Value::Hash(pairs) => {
                    let mut p: Vec<String> =
                        pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    p.sort();
                    format!("{{{}}}", p.join("\x1f"))
                }
            };
            Some((n.key.clone(), shown))
        })
        .collect();
    lines.sort();
    lines.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

#[test]
#[ignore = "differential run against Perl: FLAGS_DIFF_IN, FLAGS_DIFF_OUT, FLAGS_DIFF_MODE"]
fn differential_dump() {
    let (Ok(input), Ok(output)) = (
        std::env::var("FLAGS_DIFF_IN"),
        std::env::var("FLAGS_DIFF_OUT"),
    ) else {
        return;
    };
    let mode = std::env::var("FLAGS_DIFF_MODE").unwrap_or_else(|_| "cmd".into());
    let text = std::fs::read_to_string(input).unwrap_or_default();
    let mut out = String::new();
    let text = text.strip_suffix('\n').unwrap_or(&text);
    for line in text.split('\n') {
        let args: Vec<String> = if line.is_empty() {
            Vec::new()
        } else {
            line.split('\x1f').map(String::from).collect()
        };
        let mut lines: Vec<String> = Vec::new();
        if mode == "extra" {
            let e = parse_extra(args.first().map_or("", String::as_str));
            lines.extend(e.problems.iter().map(|p| format!("W:{p}")));
            lines.push(format!("LEFT:{}", e.leftover.join("\x1f")));
            lines.push(format!("RET:{}", u8::from(e.problems.is_empty())));
            let values: Vec<Option<Value>> = names()
                .iter()
                .map(|n| e.options.value(&n.name).cloned())
                .collect();
            lines.extend(dump_values(&values));
        } else {
            let parsed = parse(args.clone());
            if let Err(e) = &parsed
                && e.problems() == [Problem::DeleteSpaceTwo]
            {
                out.push_str("DELETE2HINT\n\x1e\n");
                continue;
            }
            let o = getopt::run(&args, spellings());
            lines.extend(o.problems.iter().map(|p| format!("W:{p}")));
            let extra = o.leftover.first().is_some_and(|w| getopt::perl_true(w));
            if extra {
                lines.push(format!("EXTRA:{}", o.leftover.join("\x1f")));
            }
            lines.push(format!("RET:{}", u8::from(o.problems.is_empty())));
            lines.extend(dump_values(&o.values));
            // parse() must agree with the engine it wraps.
            match &parsed {
                Ok(p) => {
                    assert!(o.problems.is_empty() && !extra, "{args:?}");
                    assert_eq!(
                        p.given().len(),
                        o.values.iter().flatten().count(),
                        "{args:?}"
                    );
                }
                Err(e) => {
                    let mut expected = o.problems.clone();
                    if extra {
                        expected.push(Problem::ExtraArguments {
                            words: o.leftover.clone(),
                        });
                    }
                    assert_eq!(e.problems(), expected.as_slice(), "{args:?}");
                }
            }
        }
        out.push_str(&lines.join("\n"));
        out.push_str("\n\x1e\n");
    }
    if let Err(e) = std::fs::write(output, out) {
        panic!("cannot write the differential output: {e}");
    }
}

#[test]
#[ignore = "prints the help text"]
fn print_help() {
    print!("{}", help_text());
}
