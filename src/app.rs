//! What each subcommand does, and which exit code each kind of error means.

use std::io::{self, BufWriter};

use crate::cli::{Cli, Command, RunArgs};
use crate::config::{Config, ConfigError};
use crate::order::{read_order_file, OrderFileError};
use crate::output::Writer;
use crate::supervisor::{self, RunFailed};

/// Exit code: every order reached its terminal event.
pub const EXIT_OK: u8 = 0;
/// Exit code: the run failed (time limit, lost events, a failed service).
pub const EXIT_RUN_FAILED: u8 = 1;
/// Exit code: bad input or usage; nothing was run.
pub const EXIT_BAD_INPUT: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Orders(#[from] OrderFileError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Run(#[from] RunFailed),
    #[error("cannot start the Tokio runtime: {0}")]
    Runtime(io::Error),
}

impl Error {
    /// The process exit code for this error (see README, "Exit codes").
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Orders(_) | Error::Config(_) => EXIT_BAD_INPUT,
            Error::Run(_) | Error::Runtime(_) => EXIT_RUN_FAILED,
        }
    }
}

/// Carries out a parsed command line.
pub fn execute(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run(args) => run(args),
    }
}

fn run(args: RunArgs) -> Result<(), Error> {
    // Everything that can be wrong with the input is found before the first order goes in.
    let config = Config::load(args.config.as_deref(), &args.set)?;
    let orders = read_order_file(&args.file)?;
    tracing::info!(file = %args.file.display(), orders = orders.len(), "orders read");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let mut output = Writer::new(args.format, BufWriter::new(io::stdout()));
    let summary = runtime.block_on(supervisor::run(&config, orders, &mut output))?;
    tracing::info!(?summary, "run finished");
    Ok(())
}
