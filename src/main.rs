//! The `gan-bias` command: parse arguments, validate them into a config, then run.

mod cli;
mod cli_import;
mod cli_pictures;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
