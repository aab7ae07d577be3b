//! `imapsync`: copy an IMAP account to another, incrementally. See `imapsync --help`.

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(imapsync_cli::app::main_with(args));
}
