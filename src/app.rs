//! What each subcommand does, and which exit code each kind of error means.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command, RunArgs};
use crate::config::{Config, ConfigError};
use crate::order::{read_order_file, OrderFileError};
use crate::output::Writer;
use crate::summary::Summary;
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
    #[error("{path}: cannot write summary: {source}")]
    Summary {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The process exit code for this error (see README, "Exit codes").
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Orders(_) | Error::Config(_) => EXIT_BAD_INPUT,
            Error::Run(_) | Error::Runtime(_) | Error::Summary { .. } => EXIT_RUN_FAILED,
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
    let result = runtime.block_on(supervisor::run(&config, orders, &mut output));

    // The summary is written whether or not the run succeeded: a failed run needs it most.
    let summary = match &result {
        Ok(summary) => summary,
        Err(failed) => &failed.summary,
    };
    if !args.quiet {
        eprint!("{summary}");
    }
    if let Some(path) = &args.summary {
        write_summary(path, summary).map_err(|source| Error::Summary {
            path: path.clone(),
            source,
        })?;
    }
    result?;
    Ok(())
}

fn write_summary(path: &Path, summary: &Summary) -> io::Result<()> {
    let mut file = BufWriter::new(File::create(path)?);
    serde_json::to_writer_pretty(&mut file, summary)?;
    file.write_all(b"\n")?;
    file.flush()
}
