//! What each subcommand does, and which exit code each kind of error means.

use std::fs::File;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use crate::cli::{Cli, Clock, Command, DiagramCommand, RunArgs};
use crate::config::{Config, ConfigError};
use crate::journal::{self, JournalError};
use crate::order::OrderId;
use crate::order::{open_order_file, JsonLines, Order, OrderFileError, OrderSource};
use crate::output::{EventSink, Fanout};
use crate::output::{Progress, Writer};
use crate::report::Report;
use crate::summary::{Machine, Summary};
use crate::supervisor::{self, Interrupt, RunFailed};
use crate::{diagram, trace};

/// Exit code: every order reached its terminal event.
pub const EXIT_OK: u8 = 0;
/// Exit code: the run failed (time limit, lost events, a failed service).
pub const EXIT_RUN_FAILED: u8 = 1;
/// Exit code: bad input or usage; nothing was run.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code: interrupted (Ctrl-C); the admitted orders were let finish and everything written.
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Orders(#[from] OrderFileError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Run(Box<RunFailed>),
    #[error("cannot start the Tokio runtime: {0}")]
    Runtime(io::Error),
    #[error("{path}: cannot create the {what} file: {source}")]
    CreateFile {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{path}: cannot write the {what}: {source}")]
    WriteFile {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("cannot write output: {0}")]
    Output(io::Error),
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
            Error::Orders(_)
            | Error::Config(_)
            | Error::Journal(_)
            | Error::Usage(_)
            | Error::CreateFile { .. } => EXIT_BAD_INPUT,
            Error::Run(failed) if failed.interrupted() => EXIT_INTERRUPTED,
            Error::Run(_) | Error::Runtime(_) | Error::WriteFile { .. } | Error::Output(_) => {
                EXIT_RUN_FAILED
            }
        }
    }
}

/// Carries out a parsed command line.
pub fn execute(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Replay { journal } => {
            let events = journal::read(&journal)?;
            print(|out| journal::replay(&events, out))
        }
        Command::Trace(args) => {
            let events = journal::read(&args.journal)?;
            match args.order {
                Some(id) => {
                    let order = order_id(id)?;
                    print(|out| trace::order(&events, order, out))
                }
                None => print(|out| trace::stuck(&events, out)),
            }
        }
        Command::Diagram(DiagramCommand::Topology) => print(diagram::topology),
        Command::Diagram(DiagramCommand::Order { journal, order }) => {
            let events = journal::read(&journal)?;
            let order = order_id(order)?;
            print(|out| diagram::order(&events, order, out))
        }
    }
}

fn order_id(id: u64) -> Result<OrderId, Error> {
    OrderId::new(id).ok_or_else(|| {
        Error::Usage(format!(
            "--order {id}: an order id is a whole number from 1 to {}",
            crate::order::MAX_ID
        ))
    })
}

/// Runs `write` on buffered stdout. A closed pipe is not an error; an order missing from the
/// journal (`NotFound`) is a usage error.
fn print(
    write: impl FnOnce(&mut BufWriter<io::StdoutLock<'static>>) -> io::Result<()>,
) -> Result<(), Error> {
    let mut out = BufWriter::new(io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Err(Error::Usage(err.to_string())),
        Err(err) => Err(Error::Output(err)),
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
    // Files are created before the run, so a bad path is found before any work is done.
    let create = |path: &PathBuf, what| {
        File::create(path).map_err(|source| Error::CreateFile {
            path: path.clone(),
            what,
            source,
        })
    };
    let summary_file = args
        .summary
        .as_ref()
        .map(|p| create(p, "summary"))
        .transpose()?;
    let mut journal = match &args.journal {
        Some(path) => Some(journal::create(create(path, "journal")?)),
        None => None,
    };
    if let Some(path) = &args.report {
        create(path, "report")?;
    }
    let mut report = args.report.as_ref().map(|_| Report::new(&config));

    let runtime = runtime(args.clock).map_err(Error::Runtime)?;
    let total = match &source {
        OrderSource::Document(orders) => Some(orders.len() as u64),
        OrderSource::Lines(_) => None,
    };
    let mut output = Progress::new(
        total,
        Writer::new(args.format, BufWriter::new(io::stdout())),
    );
    let mut sinks: Vec<&mut (dyn EventSink + Send)> = vec![&mut output];
    if let Some(journal) = journal.as_mut() {
        sinks.push(journal);
    }
    if let Some(report) = report.as_mut() {
        sinks.push(report);
    }
    let mut sinks = Fanout(sinks);
    // Ctrl-C (or SIGTERM): stop admitting, let the admitted orders finish, write everything,
    // exit 130. A second one stops the orders in flight too (everything is still written).
    let interrupt = Interrupt::default();
    let on_interrupt = interrupt.clone();
    if let Err(err) = ctrlc::set_handler(move || {
        if on_interrupt.admitting.is_cancelled() {
            on_interrupt.everything.cancel();
        }
        on_interrupt.admitting.cancel();
    }) {
        tracing::warn!(%err, "cannot catch Ctrl-C; it will stop the run at once");
    }
    if !args.quiet {
        // Logged first, so any run can be replayed: `--seed N` with the same input and config.
        say(format_args!("choreo: seed {}", config.simulation.seed));
    }
    let started = Instant::now();
    let (mut result, stopped_by) = match source {
        OrderSource::Document(orders) => {
            tracing::info!(file = %args.file.display(), orders = orders.len(), "orders read");
            let result = runtime.block_on(supervisor::run_until(
                &config, orders, &mut sinks, &interrupt,
            ));
            (result, None)
        }
        OrderSource::Lines(mut lines) => {
            let mut feed = LineFeed {
                lines: &mut *lines,
                skip_invalid: args.skip_invalid,
                stopped_by: None,
            };
            let mut result = runtime.block_on(supervisor::run_until(
                &config, &mut feed, &mut sinks, &interrupt,
            ));
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
        write_summary(file, summary).map_err(|source| Error::WriteFile {
            path: path.clone(),
            what: "summary",
            source,
        })?;
    }
    if let (Some(path), Some(report)) = (&args.report, &report) {
        report
            .write(summary, path)
            .map_err(|source| Error::WriteFile {
                path: path.clone(),
                what: "report",
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
