//! The `gan-bias` command: parse arguments, validate them into a config, then run.
//!
//! Owns: the logger and the one-line error. Must not touch: the library's work.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Mesa's Vulkan and GL drivers print "XDG_RUNTIME_DIR is invalid or not set" on headless
    // machines while adapters are listed; compute needs no display, so give them a folder.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: first thing in main, before any other thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
    let args = cli::Args::parse();
    let level = match (args.quiet, args.verbose) {
        (true, _) => log::LevelFilter::Error,
        (false, 0) => log::LevelFilter::Warn,
        (false, 1) => log::LevelFilter::Info,
        _ => log::LevelFilter::Debug,
    };
    env_logger::Builder::new()
        .filter_level(log::LevelFilter::Warn)
        .filter_module("gan_bias", level)
        .format_timestamp(None)
        .parse_default_env()
        .init();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain once, on one line: each error's own message, then its cause's.
            let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}
