//! The `choreo` binary: parse the command line, set up logging, run, pick the exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = choreo::cli::Cli::parse();
    choreo::telemetry::init(cli.verbose);
    match choreo::app::execute(cli) {
        Ok(()) => ExitCode::from(choreo::app::EXIT_OK),
        Err(err) => {
            choreo::app::say(format_args!("choreo: error: {err}"));
            ExitCode::from(err.exit_code())
        }
    }
}
