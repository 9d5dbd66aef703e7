//! What each subcommand does, and which exit code each kind of error means.

use std::fs::File;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use crate::cli::{Cli, Clock, Command, RunArgs};
use crate::config::{Config, ConfigError};
use crate::order::{open_order_file, JsonLines, Order, OrderFileError, OrderSource};
use crate::output::{Progress, Writer};
use crate::summary::{Machine, Summary};
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
    Run(Box<RunFailed>),
    #[error("cannot start the Tokio runtime: {0}")]
    Runtime(io::Error),
    #[error("{path}: cannot create the summary file: {source}")]
    SummaryFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: cannot write summary: {source}")]
    Summary {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl From<RunFailed> for Error {
    fn from(failed: RunFailed) -> Self {
        Error::Run(Box::new(failed))
    }
}

impl Error {
    /// The process exit code for this error (see README, "Exit codes").
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Orders(_) | Error::Config(_) | Error::SummaryFile { .. } => EXIT_BAD_INPUT,
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
    // Config and documents are checked whole before the first order goes in; JSON Lines are
    // checked line by line as they are read.
    let mut config = Config::load(args.config.as_deref(), &args.set)?;
    if let Some(seed) = args.seed {
        config.simulation.seed = seed;
    }
    let source = open_order_file(&args.file, config.input.duplicate_window)?;
    // Created before the run, so a bad path is found before any work is done.
    let summary_file = match &args.summary {
        Some(path) => Some(File::create(path).map_err(|source| Error::SummaryFile {
            path: path.clone(),
            source,
        })?),
        None => None,
    };

    let runtime = runtime(args.clock).map_err(Error::Runtime)?;
    let total = match &source {
        OrderSource::Document(orders) => Some(orders.len() as u64),
        OrderSource::Lines(_) => None,
    };
    let mut output = Progress::new(
        total,
        Writer::new(args.format, BufWriter::new(io::stdout())),
    );
    if !args.quiet {
        // Logged first, so any run can be replayed: `--seed N` with the same input and config.
        say(format_args!("choreo: seed {}", config.simulation.seed));
    }
    let started = Instant::now();
    let (mut result, stopped_by) = match source {
        OrderSource::Document(orders) => {
            tracing::info!(file = %args.file.display(), orders = orders.len(), "orders read");
            let result = runtime.block_on(supervisor::run(&config, orders, &mut output));
            (result, None)
        }
        OrderSource::Lines(mut lines) => {
            let mut feed = LineFeed {
                lines: &mut lines,
                skip_invalid: args.skip_invalid,
                stopped_by: None,
            };
            let mut result = runtime.block_on(supervisor::run(&config, &mut feed, &mut output));
            let stopped_by = feed.stopped_by;
            // Every line is accounted for: the ones after a stop are counted, not parsed.
            let unread_lines = match stopped_by {
                Some(_) => lines.skip_rest()?,
                // Cut short by a failure: what the run never read is counted, not parsed.
                None if result.is_err() => lines.skip_rest()?,
                None => 0,
            };
            let stats = lines.stats();
            let summary = summary_of(&mut result);
            summary.lines = stats.lines + unread_lines;
            summary.blank_lines = stats.blank_lines;
            summary.invalid_lines = stats.invalid_lines;
            summary.unread_lines = unread_lines;
            (result, stopped_by)
        }
    };

    // The summary is written whether or not the run succeeded: a failed run needs it most.
    let summary = summary_of(&mut result);
    summary.machine = Machine::measure(started);
    if !args.quiet {
        say(format_args!("{}", summary.to_string().trim_end()));
    }
    if let (Some(path), Some(file)) = (&args.summary, summary_file) {
        write_summary(file, summary).map_err(|source| Error::Summary {
            path: path.clone(),
            source,
        })?;
    }
    match (result, stopped_by) {
        (result, Some(stop)) => {
            if let Err(failed) = result {
                say(format_args!("choreo: error: {failed}"));
            }
            Err(stop.into())
        }
        (result, None) => Ok(result.map(drop)?),
    }
}

/// The runtime for `clock`: virtual time is Tokio's paused clock on a single thread, which
/// also makes the schedule, and so every run, the same.
pub fn runtime(clock: Clock) -> io::Result<tokio::runtime::Runtime> {
    match clock {
        // Timers only: without an I/O driver, jumping the paused clock ahead costs no system
        // call, which is most of what a simulated latency would otherwise cost.
        Clock::Virtual => tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build(),
        Clock::Real => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
}

fn summary_of(result: &mut Result<Summary, RunFailed>) -> &mut Summary {
    match result {
        Ok(summary) => summary,
        Err(failed) => &mut failed.summary,
    }
}

/// Feeds the orders of a JSON Lines file to the supervisor, applying the bad-line policy: stop
/// at the first invalid line (remembered in `stopped_by`), or report it and go on.
struct LineFeed<'a, R> {
    lines: &'a mut JsonLines<R>,
    skip_invalid: bool,
    stopped_by: Option<OrderFileError>,
}

impl<R: BufRead> Iterator for LineFeed<'_, R> {
    type Item = Order;

    fn next(&mut self) -> Option<Order> {
        loop {
            match self.lines.next()? {
                Ok(order) => return Some(order),
                Err(err @ OrderFileError::Invalid { .. }) if self.skip_invalid => {
                    say(format_args!("choreo: skipped invalid line: {err}"));
                }
                Err(err) => {
                    self.stopped_by = Some(err);
                    return None;
                }
            }
        }
    }
}

/// One line on stderr. A closed stderr is not worth a panic: the line is dropped.
pub fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

fn write_summary(file: File, summary: &Summary) -> io::Result<()> {
    let mut file = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut file, summary)?;
    file.write_all(b"\n")?;
    file.flush()
}
