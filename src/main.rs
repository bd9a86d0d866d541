//! The `gan-bias` command: parse arguments, validate them into a config, then run.

mod cli;
mod cli_bench;
mod cli_import;
mod cli_pictures;
mod cli_plots;

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
            // Print the chain, skipping a cause whose text its parent already ends with.
            let mut message = String::new();
            for cause in e.chain() {
                let text = cause.to_string();
                if message.is_empty() {
                    message = text;
                } else if !message.ends_with(&text) {
                    message.push_str(": ");
                    message.push_str(&text);
                }
            }
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
