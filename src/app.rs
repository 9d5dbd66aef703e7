//! What each subcommand does, and which exit code each kind of error means: the whole command
//! line for any [`Choreography`]. The shop's `choreo` binary is [`main`] applied to the shop;
//! a choreography of your own gets the same `run`, `replay`, `trace` and `diagram` from it.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::{CommandFactory, FromArgMatches};

use crate::check::{CheckError, Faults, Limits, Verdict};
use crate::cli::{
    CheckArgs, Cli, Clock, Command, DiagramCommand, RunArgs, ServeArgs, ShowConfigArgs, ShrinkArgs,
};
use crate::config::{Config, ConfigError};
use crate::engine::failure::{Failure, Failures};
use crate::engine::sink::OffThread;
use crate::engine::stats::{Machine, Repeat, Summary};
use crate::engine::{
    run_fed, Choreography, EventSink, Fanout, Feed, Interrupt, Iterated, RunFailed,
};
use crate::input::read_ahead::{OnSkipped, ReadAhead};
use crate::input::{
    open_order_file, read_order_file, InstanceId, OrderFileError, OrderSource, Record, MAX_ID,
};
use crate::view::journal::{self, JournalError};
use crate::view::output::{Progress, Writer};
use crate::view::report::Report;
use crate::view::{diagram, trace};

/// The whole program for choreography `C`: parses the command line (named `name` in help
/// and messages), sets up logging, runs, and returns the exit code. A choreography's binary
/// is `fn main() -> ExitCode { choreo::app::main::<MyChoreography>("my-flow") }`.
pub fn main<C: Choreography>(name: &'static str) -> ExitCode {
    let command = Cli::command().name(name).bin_name(name);
    let matches = crate::cli::in_its_words::<C>(command, name).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    crate::telemetry::init(cli.verbose);
    match execute::<C>(name, cli) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(err) => {
            say(format_args!("{name}: error: {err}"));
            ExitCode::from(err.exit_code())
        }
    }
}

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
    #[error("{0}")]
    Run(Failures),
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
    #[error("{count} {} without a terminal state", if *count == 1 { "order" } else { "orders" })]
    Stuck { count: u64 },
    #[error("{0}")]
    Check(String),
    #[error("the check was interrupted: search incomplete")]
    CheckInterrupted,
    #[error("{0}")]
    Shrink(String),
    #[error("interrupted: the smallest failing case found so far is in {}", .0.display())]
    ShrinkInterrupted(PathBuf),
    #[error(transparent)]
    Nats(#[from] crate::nats::NatsError),
    #[error("cannot start {service}: {source}")]
    SpawnService {
        service: &'static str,
        #[source]
        source: io::Error,
    },
}

impl<C: Choreography> From<RunFailed<C>> for Error {
    fn from(failed: RunFailed<C>) -> Self {
        Error::Run(Failures(failed.failures))
    }
}

impl Error {
    /// How serious it is, when a run ends with several: bad input first (nothing, or not all,
    /// of what was asked could run), then a failed run or output, then an interrupt.
    fn severity(&self) -> u8 {
        match self.exit_code() {
            EXIT_BAD_INPUT => 3,
            EXIT_RUN_FAILED => 2,
            EXIT_INTERRUPTED => 1,
            _ => 0,
        }
    }

    /// The process exit code for this error (see docs/running.md, "Exit codes").
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Orders(_)
            | Error::Config(_)
            | Error::Journal(_)
            | Error::Usage(_)
            | Error::CreateFile { .. } => EXIT_BAD_INPUT,
            Error::Run(failures) if failures.interrupted() => EXIT_INTERRUPTED,
            Error::CheckInterrupted | Error::ShrinkInterrupted(_) => EXIT_INTERRUPTED,
            Error::Run(_)
            | Error::Runtime(_)
            | Error::WriteFile { .. }
            | Error::Output(_)
            | Error::Stuck { .. }
            | Error::Check(_)
            | Error::Shrink(_)
            | Error::Nats(_)
            | Error::SpawnService { .. } => EXIT_RUN_FAILED,
        }
    }
}

/// Carries out a parsed command line for choreography `C`; `name` is the program's name in
/// messages.
pub fn execute<C: Choreography>(name: &str, cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run(args) => run::<C>(name, args),
        Command::Replay { journal } => {
            let events = journal::read::<C>(&journal)?;
            print(|out| journal::replay(&events, out))
        }
        Command::Trace(args) => {
            let events = journal::read::<C>(&args.journal)?;
            match args.order {
                Some(id) => {
                    let order = order_id::<C>(&id)?;
                    print(|out| trace::order(&events, order, out))
                }
                None => {
                    let mut stuck = 0;
                    print(|out| {
                        stuck = trace::stuck(&events, out)?;
                        Ok(())
                    })?;
                    match stuck {
                        0 => Ok(()),
                        count => Err(Error::Stuck { count }),
                    }
                }
            }
        }
        Command::Check(args) => check::<C>(name, args),
        Command::Shrink(args) => shrink::<C>(name, args),
        Command::Serve(args) => serve::<C>(args),
        Command::Config(args) => show_config::<C>(args),
        Command::Completions { shell } => {
            let mut command = Cli::command()
                .name(name.to_owned())
                .bin_name(name.to_owned());
            print(|out| {
                clap_complete::generate(shell, &mut command, name.to_owned(), out);
                Ok(())
            })
        }
        Command::Man => {
            let command = Cli::command()
                .name(name.to_owned())
                .bin_name(name.to_owned());
            print(|out| clap_mangen::Man::new(command).render(out))
        }
        Command::Diagram(DiagramCommand::Topology) => print(diagram::topology::<C>),
        Command::Diagram(DiagramCommand::Order { journal, order }) => {
            let events = journal::read::<C>(&journal)?;
            let order = order_id::<C>(&order)?;
            print(|out| diagram::order(&events, order, out))
        }
    }
}

/// What the summary records so that the run can be repeated.
fn repeat<C: Choreography>(args: &RunArgs, clock: Clock, seed: u64) -> Result<Repeat, Error> {
    let config = Config::<C>::effective(&args.layers.config, &args.layers.set)?;
    repeat_of(config, clock, seed)
}

/// How to repeat a run of the effective `config` (`--seed` put in it) with `seed` on `clock`.
fn repeat_of(config: toml::Table, clock: Clock, seed: u64) -> Result<Repeat, Error> {
    Ok(Repeat {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        schedule: crate::engine::stats::SCHEDULE,
        clock: match clock {
            Clock::Real => "real",
            Clock::Virtual => "virtual",
        }
        .to_owned(),
        seed,
        config: serde_json::to_value(crate::shrink::with_seed(config, seed))
            .map_err(|err| Error::Output(io::Error::other(err)))?,
    })
}

/// "No time limit": a year, far longer than any run, and within what Tokio's timers take (about 2 years).
const NO_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 60 * 60);

/// What the services and runs on a stream agree on (see [`crate::nats::Agreement`]).
fn agreement<C: Choreography>(
    layers: &crate::cli::ConfigArgs,
    seed: u64,
) -> Result<crate::nats::Agreement, Error> {
    let effective = Config::<C>::effective(&layers.config, &layers.set)?;
    Ok(crate::nats::Agreement::of::<C>(&effective, seed))
}

/// `config`: the effective config as TOML, or the built-in defaults as written.
fn show_config<C: Choreography>(args: ShowConfigArgs) -> Result<(), Error> {
    let text = match (args.defaults, &args.from) {
        (true, _) => Config::<C>::defaults_text(),
        (false, Some(path)) => {
            let repeat = journal::repeat_of(path)?.ok_or_else(|| {
                Error::Usage(format!(
                    "{}: the journal does not record its config: its first line is an event (as in journals of `check`, and of runs before choreo recorded it)",
                    path.display(),
                ))
            })?;
            let table: toml::Table = serde_json::from_value(repeat.config).map_err(|err| {
                Error::Usage(format!("{}: the recorded config: {err}", path.display()))
            })?;
            toml::to_string(&table).map_err(|err| Error::Output(io::Error::other(err)))?
        }
        (false, None) => {
            let table = Config::<C>::effective(&args.layers.config, &args.layers.set)?;
            toml::to_string(&table).map_err(|err| Error::Output(io::Error::other(err)))?
        }
    };
    print(|out| out.write_all(text.as_bytes()))
}

/// The instance `--order` names: a whole number, or a string for a choreography whose ids are
/// strings.
fn order_id<C: Choreography>(id: &str) -> Result<InstanceId, Error> {
    if <C::Input as Record>::TEXT_IDS {
        return InstanceId::text(id).map_err(|err| {
            Error::Usage(format!(
                "--order {id}: {}",
                err.replace("order_id", <C::Input as Record>::ID_FIELD)
            ))
        });
    }
    id.parse().ok().and_then(InstanceId::new).ok_or_else(|| {
        Error::Usage(format!(
            "--order {id}: {} id is a whole number from 1 to {MAX_ID}",
            crate::plural::a(<C::Input as Record>::noun())
        ))
    })
}

/// Runs `write` on buffered stdout. A closed pipe is not an error; an order missing from the
/// journal (`NotFound`) is a usage error.
fn print(
    write: impl FnOnce(&mut BufWriter<io::StdoutLock<'static>>) -> io::Result<()>,
) -> Result<(), Error> {
    stdout_is_open()?;
    let mut out = BufWriter::new(io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Err(Error::Usage(err.to_string())),
        Err(err) => Err(Error::Output(err)),
    }
}

/// `check`: explores every schedule of the orders in the file and prints the figures, then
/// `no violation`, or the violation with its counterexample (also written as a journal).
fn check<C: Choreography>(name: &str, args: CheckArgs) -> Result<(), Error> {
    check_distinct_files::<C>(
        &args.file,
        &args.layers.config,
        &[("--journal", args.journal.as_ref())],
    )?;
    let config = Config::<C>::load(&args.layers.config, &args.layers.set)?;
    let orders = read_order_file::<C::Input>(&args.file)?;
    // The journal is written only for a violation; its place is tried now, so a path that
    // cannot be written fails before the search rather than after it, and no file is left
    // behind (or emptied) when there is nothing to write.
    let mut journal = args.journal.as_ref().map(Journal::try_place).transpose()?;
    stdout_is_open()?;
    let interrupt = Arc::new(AtomicBool::new(false));
    let on_interrupt = Arc::clone(&interrupt);
    if let Err(err) = ctrlc::set_handler(move || on_interrupt.store(true, Ordering::Relaxed)) {
        tracing::warn!(%err, "cannot catch Ctrl-C; it will stop the check at once");
    }
    let limits = Limits {
        max_states: config.check.max_states,
        max_memory: config.check.max_memory.0,
        time_limit: config.check.time_limit,
        interrupt,
    };
    let faults = Faults {
        duplicates: !args.no_duplicates,
        crashes: args.crashes,
        reduction: if args.every_interleaving {
            crate::check::Reduction::None
        } else {
            config.check.reduction
        },
    };
    tracing::info!(file = %args.file.display(), orders = orders.len(), ?faults, max_states = limits.max_states, time_limit = ?limits.time_limit, "check");
    let spinner = crate::view::output::progress_wanted(true).then(|| {
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.set_message("checking");
        spinner
    });
    let checked = crate::check::check(
        &config,
        &orders,
        faults,
        &limits,
        &mut |states, depth, elapsed| {
            if let Some(spinner) = &spinner {
                spinner.set_message(format!(
                    "checking: {states} states, depth {depth}, {:.1} s",
                    elapsed.as_secs_f64()
                ));
                spinner.tick();
            }
        },
    );
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    let checked = checked.map_err(|err| match err {
        CheckError::TooMany { .. } => Error::Usage(format!("{}: {err}", args.file.display())),
        err => Error::Check(format!("{name} check: {err}")),
    })?;
    let what = format!(
        "{}, every delivery order{}, up to {}",
        crate::plural::Count(orders.len() as u64, <C::Input as Record>::noun()),
        if faults.duplicates {
            ", duplicate deliveries"
        } else {
            ""
        },
        crate::plural::crashes(u64::from(faults.crashes)),
    );
    let mut outcome = Ok(());
    print(|out| {
        writeln!(out, "checked {what}")?;
        writeln!(out, "{checked}")?;
        writeln!(out, "{}", checked.endings_line())?;
        match &checked.verdict {
            Verdict::Holds => writeln!(out, "no violation"),
            Verdict::Incomplete { reason } => {
                writeln!(
                    out,
                    "search incomplete: {reason}; no violation in what was explored"
                )
            }
            Verdict::Violated {
                property,
                why,
                counterexample,
            } => {
                writeln!(out, "violation: {property}")?;
                writeln!(out, "  {why}")?;
                writeln!(
                    out,
                    "counterexample, {}:",
                    crate::plural::Count(counterexample.steps() as u64, "step")
                )?;
                counterexample.write(out)
            }
        }
    })?;
    match &checked.verdict {
        Verdict::Holds => {}
        Verdict::Incomplete { .. } if limits.interrupt.load(Ordering::Relaxed) => {
            outcome = Err(Error::CheckInterrupted);
        }
        Verdict::Incomplete { reason } => {
            outcome = Err(Error::Check(format!("search incomplete: {reason}")));
        }
        Verdict::Violated {
            property,
            counterexample,
            ..
        } => {
            if let Some(mut journal) = journal.take() {
                journal.made = false;
                let path = journal.path;
                let file = create_file(path, "journal")?;
                // A counterexample has no seed or clock to record: no first line.
                let mut writer = journal::create::<C>(path, file, None).map_err(Error::Output)?;
                counterexample
                    .journal()
                    .iter()
                    .try_for_each(|envelope| writer.event(envelope))
                    .and_then(|()| writer.finish())
                    .map_err(Error::Output)?;
            }
            outcome = Err(Error::Check(format!("violation: {property}")));
        }
    }
    outcome
}

/// `shrink`: runs the failing case again and again, smaller each time it still fails the same
/// way, and writes the smallest to `--out DIR` (see [`crate::shrink`]).
fn shrink<C: Choreography>(name: &str, args: ShrinkArgs) -> Result<(), Error> {
    use crate::shrink::{Case, ShrinkError, Step};
    if args.file == std::path::Path::new(crate::input::STDIN) {
        return Err(Error::Usage(
            "shrink runs the orders many times: give them in a file, not on stdin".to_owned(),
        ));
    }
    let config = Config::<C>::load(&args.layers.config, &args.layers.set)?;
    let table = Config::<C>::effective(&args.layers.config, &args.layers.set)?;
    let seed = args.seed.unwrap_or(config.simulation.seed);
    let records = read_order_file::<C::Input>(&args.file)?;
    let raw = crate::shrink::raw_records(&args.file, records.len())?;
    // The directory is made first, so a place that cannot be written fails before the work.
    std::fs::create_dir_all(&args.out).map_err(|source| Error::CreateFile {
        path: args.out.clone(),
        what: "output directory",
        source,
    })?;
    let files = crate::shrink::Files::in_dir(&args.out);
    check_distinct_files::<C>(
        &args.file,
        &args.layers.config,
        &[
            ("--out DIR/orders.jsonl", Some(&files.orders)),
            ("--out DIR/config.toml", Some(&files.config)),
            ("--out DIR/seed", Some(&files.seed)),
            ("--out DIR/journal.jsonl", Some(&files.journal)),
        ],
    )?;
    let interrupt = Interrupt::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (on_interrupt, on_stop) = (interrupt.clone(), Arc::clone(&stop));
    if let Err(err) = ctrlc::set_handler(move || {
        on_stop.store(true, Ordering::Relaxed);
        on_interrupt.everything.cancel();
        on_interrupt.admitting.cancel();
    }) {
        tracing::warn!(%err, "cannot catch Ctrl-C; it will stop shrink at once");
    }
    let bar = crate::view::output::progress_wanted(false).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message("shrinking");
        bar
    });
    let program = format!("{name} shrink");
    let mut report = |step: Step| match (step, &bar) {
        (Step::Said(line), Some(bar)) => bar.println(format!("{program}: {line}")),
        (Step::Said(line), None) => say(format_args!("{program}: {line}")),
        (Step::Ran { runs, orders }, Some(bar)) => {
            bar.set_message(format!(
                "shrinking: {runs} runs, {}",
                crate::plural::Count(orders as u64, <C::Input as Record>::noun())
            ));
            bar.tick();
        }
        (Step::Ran { .. }, None) => {}
    };
    let start = Case {
        orders: (0..records.len()).collect(),
        config: table,
        seed,
    };
    let started = Instant::now();
    let shrunk = crate::shrink::shrink::<C>(&records, start, &interrupt, &stop, &mut report);
    let shrunk = match shrunk {
        Ok(shrunk) => shrunk,
        Err(ShrinkError::Config(err)) => return Err(err.into()),
        Err(ShrinkError::Runtime(err)) => return Err(Error::Runtime(err)),
        Err(err) => {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            return Err(Error::Shrink(format!(
                "{} ({}, seed {seed}): {err}",
                args.file.display(),
                crate::plural::Count(records.len() as u64, <C::Input as Record>::noun()),
            )));
        }
    };
    let repeat = repeat_of(shrunk.case.config.clone(), Clock::Virtual, shrunk.case.seed)?;
    let same_way = crate::shrink::write_case::<C>(&files, &records, &raw, &shrunk, &repeat)
        .map_err(|(path, what, source)| Error::WriteFile { path, what, source })?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    say(format_args!(
        "{program}: {} -> {}, {}; {} in {:.1} s; written to {}",
        crate::plural::Count(records.len() as u64, <C::Input as Record>::noun()),
        crate::plural::Count(
            shrunk.case.orders.len() as u64,
            <C::Input as Record>::noun()
        ),
        crate::shrink::faults_left::<C>(&shrunk.case.config),
        crate::plural::Count(shrunk.runs, "run"),
        started.elapsed().as_secs_f64(),
        args.out.display(),
    ));
    if same_way {
        say(format_args!(
            "{program}: it fails the same way: {}",
            shrunk.problem
        ));
    } else {
        say(format_args!(
            "{program}: warning: the case's run for its journal did not fail as its runs before did ({}): a run that does not repeat, which is a bug to report",
            shrunk.problem
        ));
    }
    if shrunk.interrupted {
        return Err(Error::ShrinkInterrupted(args.out));
    }
    if let Some(line) = crate::shrink::checked::<C>(&records, &shrunk.case, &stop) {
        say(format_args!("{program}: {line}"));
    }
    Ok(())
}

/// Where `check` may write its counterexample's journal, tried before the search.
struct Journal<'a> {
    path: &'a PathBuf,
    /// Whether the file was made by trying the place, and is to be removed unless written.
    made: bool,
}

impl<'a> Journal<'a> {
    /// Opens `path` for writing without emptying it, to fail early on a place that cannot be
    /// written.
    fn try_place(path: &'a PathBuf) -> Result<Self, Error> {
        let made = !path.exists();
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|source| Error::CreateFile {
                path: path.clone(),
                what: "journal",
                source,
            })?;
        Ok(Journal { path, made })
    }
}

impl Drop for Journal<'_> {
    /// Removes the file the try made, when nothing was written to it.
    fn drop(&mut self) {
        if self.made {
            // Nothing to do if it is gone already.
            let _ = std::fs::remove_file(self.path);
        }
    }
}

/// `serve`: one service over NATS until Ctrl-C or SIGTERM, which let it finish the event in
/// hand.
fn serve<C: Choreography>(args: ServeArgs) -> Result<(), Error> {
    let config = Config::<C>::load(&args.layers.config, &args.layers.set)?;
    // A serve runs forever: string ids' texts are remembered for a bounded window, besides
    // those its record of the instances holds (see `nats::instances`). Twice the record's
    // window, so the texts it holds never fill the table's.
    crate::input::ids::remember(config.services.dedup_window.saturating_mul(2));
    let service = crate::nats::serve::service_named::<C>(&args.service)
        .map_err(|err| Error::Usage(err.to_string()))?;
    let stop = tokio_util::sync::CancellationToken::new();
    let on_signal = stop.clone();
    // The first signal lets the service finish the event in hand; a second exits at once
    // (nothing is lost: what it has not acknowledged is delivered again).
    if let Err(err) = ctrlc::set_handler(move || {
        if on_signal.is_cancelled() {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        on_signal.cancel();
    }) {
        tracing::warn!(%err, "cannot catch Ctrl-C; it will stop the service at once");
    }
    if args.until_stdin_closes {
        let on_end = stop.clone();
        // Blocking reads, on a thread of their own; it ends with the process.
        let watching = std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || {
                let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
                tracing::warn!("the run that started this service has ended: stopping");
                on_end.cancel();
            });
        if let Err(err) = watching {
            tracing::warn!(%err, "cannot watch stdin; the service stops on a signal only");
        }
    }
    let agreement = agreement::<C>(&args.layers, config.simulation.seed)?;
    let runtime = multi_thread_runtime().map_err(Error::Runtime)?;
    // Every line it logs names the service: several write to one terminal under
    // `--spawn-services`.
    use tracing::Instrument;
    let span = tracing::info_span!("serve", service = crate::name::Name::name(service));
    // One line on stdout once it serves: `run --spawn-services` waits for it before its
    // first orders, and a script starting a service can too.
    let stream = config.nats.stream.clone();
    let serving = move || {
        let mut out = io::stdout().lock();
        let _ = writeln!(
            out,
            "{} serves stream `{stream}`",
            crate::name::Name::name(service)
        );
        let _ = out.flush();
    };
    runtime.block_on(
        crate::nats::serve::serve(&config, service, &args.nats, &agreement, stop, serving)
            .instrument(span),
    )?;
    Ok(())
}

/// The `serve` processes of `--spawn-services`, one per service, with the run's config.
///
/// Watched while the run goes: one that exits halts the run at once, named (the run fails
/// rather than restart it: a service that dies has a reason, which its own message on
/// stderr gives, and a restart would hide it). Stopped when dropped: SIGTERM, then SIGKILL
/// for any that has not exited within `run.shutdown_timeout`, named; killing one loses
/// nothing, since its state is the stream and what it did not acknowledge is delivered again.
/// They are in a process group of their own, and stop when the run's end of their stdin
/// closes (see `start`).
struct Spawned {
    children: Arc<std::sync::Mutex<Vec<Child>>>,
    /// Tells the watcher to stop; it is joined before the services are told to stop, so
    /// their exits then are not taken for deaths.
    stopping: Arc<AtomicBool>,
    watcher: Option<std::thread::JoinHandle<()>>,
    shutdown_timeout: std::time::Duration,
    program: String,
}

/// A spawned service process.
#[derive(Debug)]
struct Child {
    service: &'static str,
    process: std::process::Child,
    /// Its exit, once seen.
    exited: Option<std::process::ExitStatus>,
}

/// How often the watcher looks at the spawned services.
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

impl Spawned {
    fn start<C: Choreography>(
        name: &str,
        url: &str,
        args: &RunArgs,
        shutdown_timeout: std::time::Duration,
        (halt, serving): (&crate::nats::run::Halt, &crate::nats::run::Serving),
    ) -> Result<Self, Error> {
        let program = std::env::current_exe().map_err(Error::Runtime)?;
        let mut spawned = Spawned {
            children: Arc::default(),
            stopping: Arc::default(),
            watcher: None,
            shutdown_timeout,
            program: name.to_owned(),
        };
        use crate::name::Name;
        for service in C::Service::ALL {
            let mut command = std::process::Command::new(&program);
            command
                .arg("serve")
                .arg(service.key())
                .arg("--nats")
                .arg(url)
                .arg("--until-stdin-closes");
            for path in &args.layers.config {
                command.arg("--config").arg(path);
            }
            for set in &args.layers.set {
                command.arg("--set").arg(set);
            }
            // The seed draws the services' own chances (the shop's payment gateway), so a
            // `--seed` must reach them; as a string, since TOML's integers stop at 2^63 - 1.
            if let Some(seed) = args.seed {
                command
                    .arg("--set")
                    .arg(format!("simulation.seed=\"{seed}\""));
            }
            // A process group of its own: Ctrl-C at a terminal goes to the run alone, which
            // lets the orders in flight finish (they need the services) and then stops them.
            // Their stdin is a pipe from the run, which closes when the run exits, however
            // it exits (`kill -9` too): they then stop rather than serve on, orphaned.
            use std::os::unix::process::CommandExt;
            // Their stdout is a pipe too: its first line says the service serves.
            command
                .process_group(0)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped());
            let mut process = command.spawn().map_err(|source| Error::SpawnService {
                service: service.name(),
                source,
            })?;
            if let Some(out) = process.stdout.take() {
                let (told, name) = (serving.clone(), service.name());
                // Blocking reads, on a thread of their own that ends with the service. What
                // follows the first line is read to the end, so the service never blocks on
                // a full pipe.
                let reading = std::thread::Builder::new()
                    .name("spawned-stdout".into())
                    .spawn(move || {
                        let mut out = io::BufReader::new(out);
                        let mut line = String::new();
                        if io::BufRead::read_line(&mut out, &mut line).is_ok_and(|read| read > 0) {
                            told.serves(name);
                        }
                        let _ = io::copy(&mut out, &mut io::sink());
                    });
                if let Err(err) = reading {
                    // Not waited for, then: its first orders wait in the stream as before.
                    tracing::warn!(%err, service = name, "cannot read the service's stdout");
                    serving.serves(name);
                }
            }
            spawned.lock().push(Child {
                service: service.name(),
                process,
                exited: None,
            });
        }
        let (children, stopping, halt) = (
            Arc::clone(&spawned.children),
            Arc::clone(&spawned.stopping),
            halt.clone(),
        );
        let watcher = std::thread::Builder::new()
            .name("spawned-services".into())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    for child in lock(&children).iter_mut() {
                        if child.exited.is_some() {
                            continue;
                        }
                        if let Ok(Some(status)) = child.process.try_wait() {
                            child.exited = Some(status);
                            halt.halt(crate::engine::Failure::ServiceExited {
                                service: child.service,
                                pid: child.process.id(),
                                status: status.to_string(),
                            });
                        }
                    }
                    std::thread::sleep(WATCH_EVERY);
                }
            })
            .map_err(Error::Runtime)?;
        spawned.watcher = Some(watcher);
        Ok(spawned)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Child>> {
        lock(&self.children)
    }
}

/// The spawned services, whatever a panic elsewhere left them as.
fn lock(children: &std::sync::Mutex<Vec<Child>>) -> std::sync::MutexGuard<'_, Vec<Child>> {
    children
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Drop for Spawned {
    fn drop(&mut self) {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        self.stopping.store(true, Ordering::Relaxed);
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
        let program = self.program.clone();
        let timeout = self.shutdown_timeout;
        let mut children = self.lock();
        let signal = |child: &Child, signal: Signal| {
            if let Ok(pid) = i32::try_from(child.process.id()) {
                let _ = kill(Pid::from_raw(pid), signal);
            }
        };
        for child in children.iter().filter(|child| child.exited.is_none()) {
            signal(child, Signal::SIGTERM);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let mut running = 0;
            for child in children.iter_mut().filter(|child| child.exited.is_none()) {
                match child.process.try_wait() {
                    Ok(Some(status)) => child.exited = Some(status),
                    Ok(None) => running += 1,
                    Err(err) => {
                        tracing::warn!(service = child.service, %err, "a spawned service could not be waited for");
                        child.exited = Some(std::process::ExitStatus::default());
                    }
                }
            }
            if running == 0 || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for child in children.iter_mut().filter(|child| child.exited.is_none()) {
            say(format_args!(
                "{program}: warning: {} (pid {}) did not stop within {} of SIGTERM: killed (SIGKILL); what it had not acknowledged is delivered again",
                child.service,
                child.process.id(),
                humantime::format_duration(timeout)
            ));
            signal(child, Signal::SIGKILL);
            let _ = child.process.wait();
        }
    }
}

/// What is simulated has no meaning over NATS, where a real broker and real processes take
/// the time they take: the virtual clock asked for by name is refused (a run that says it
/// replays deterministically and does not would mislead); simulated latency, faults and
/// arrivals set beyond the choreography's defaults are warned about, since a config file is
/// often shared with in-process runs. (`at_ms` in the orders is warned about as they are
/// read: see `nats::run`.)
fn refuse_or_warn_the_simulated<C: Choreography>(
    name: &str,
    args: &RunArgs,
    config: &Config<C>,
) -> Result<(), Error> {
    if args.clock == Some(Clock::Virtual) {
        return Err(Error::Usage(
            "--clock virtual does not apply with --nats: a run over a broker is on the wall clock; leave --clock out".to_owned(),
        ));
    }
    let defaults = Config::<C>::load(&[], &[])?;
    let (simulated, built_in) = (&config.simulation, &defaults.simulation);
    let ignored = [
        ("simulation.latency", simulated.latency != built_in.latency),
        ("simulation.faults", simulated.faults != built_in.faults),
        (
            "simulation.arrivals",
            simulated.arrivals != built_in.arrivals,
        ),
    ];
    for (table, set) in ignored {
        if set {
            say(format_args!(
                "{name}: warning: [{table}] does not apply with --nats (the services take the time they take on a real broker): ignored"
            ));
        }
    }
    Ok(())
}

/// Creates an output file, named in the error.
fn create_file(path: &PathBuf, what: &'static str) -> Result<File, Error> {
    File::create(path).map_err(|source| Error::CreateFile {
        path: path.clone(),
        what,
        source,
    })
}

/// Whether `file` is a live source (a pipe, a FIFO, a terminal: anything but a regular
/// file), whose next order may take its time to come.
fn is_live(file: &std::path::Path) -> bool {
    let path = if file == std::path::Path::new(crate::input::STDIN) {
        std::path::Path::new("/dev/stdin")
    } else {
        file
    };
    !std::fs::metadata(path).is_ok_and(|meta| meta.is_file())
}

/// How a run's reading ended.
enum Ran<C: Choreography> {
    Done(Result<Summary<C>, RunFailed<C>>, Option<OrderFileError>),
    /// JSON Lines read to the end, or to where the run stopped.
    Read(
        Result<Summary<C>, RunFailed<C>>,
        crate::input::read_ahead::Finished<C::Input>,
    ),
    /// The reader is blocked on its source and did not stop.
    ReaderStuck(Result<Summary<C>, RunFailed<C>>),
}

/// Runs `orders` on the in-process bus, or over NATS at `nats` (its URL, and what the run
/// agrees on with the services there).
async fn drive<C: Choreography>(
    config: &Config<C>,
    nats: Option<(&str, &crate::nats::Agreement)>,
    orders: impl Feed<C::Input> + Iterator<Item = C::Input>,
    sinks: &mut (dyn EventSink<C> + Send),
    interrupt: &Interrupt,
    outside: (&crate::nats::run::Halt, &crate::nats::run::Serving),
) -> Result<Summary<C>, RunFailed<C>> {
    match nats {
        None => run_fed(config, orders, sinks, interrupt).await,
        Some((url, agreement)) => {
            crate::nats::run::run(config, url, orders, sinks, interrupt, outside, agreement).await
        }
    }
}

fn run<C: Choreography>(name: &str, args: RunArgs) -> Result<(), Error> {
    // Before anything is read or written: an output that is also an input, or two outputs
    // that are one file, would destroy data.
    check_distinct_files::<C>(
        &args.file,
        &args.layers.config,
        &[
            ("--journal", args.journal.as_ref()),
            ("--summary", args.summary.as_ref()),
            ("--report", args.report.as_ref()),
        ],
    )?;
    // Config and documents are checked whole before the first order goes in; JSON Lines are
    // checked line by line as they are read.
    let mut config = Config::<C>::load(&args.layers.config, &args.layers.set)?;
    if let Some(seed) = args.seed {
        config.simulation.seed = seed;
    }
    if args.nats.is_some() {
        refuse_or_warn_the_simulated(name, &args, &config)?;
        // Over NATS a run fails when it stalls (`nats.stall_timeout`): a time limit holds only
        // if one is set, so a long run that makes progress is not failed by the default.
        if !Config::<C>::sets(&args.layers.config, &args.layers.set, "run.time_limit")? {
            config.run.time_limit = NO_TIME_LIMIT;
        }
    }
    // Over NATS a run is on the wall clock, with services of their own.
    let clock = if args.nats.is_some() {
        Clock::Real
    } else {
        args.clock.unwrap_or_default()
    };
    let repeat = repeat::<C>(&args, clock, config.simulation.seed)?;
    tracing::info!(
        file = %args.file.display(),
        ?clock,
        seed = config.simulation.seed,
        configs = ?args.layers.config,
        sets = ?args.layers.set,
        nats = args.nats.as_deref().unwrap_or("no: in-process bus"),
        "run"
    );
    // String ids' texts are remembered as long as the reader remembers ids (see
    // `input::ids`), and the orders read ahead of the run too: their texts must still be
    // there when they are admitted.
    crate::input::ids::remember(
        config
            .input
            .duplicate_window
            .saturating_add(crate::input::read_ahead::MOST_AHEAD),
    );
    let source = open_order_file::<C::Input>(&args.file, config.input.duplicate_window)?;
    // Files are created before the run, so a bad path is found before any work is done.
    let create = create_file;
    let summary_file = args
        .summary
        .as_ref()
        .map(|p| create(p, "summary"))
        .transpose()?;
    let mut journal = match &args.journal {
        Some(path) => Some(
            journal::create::<C>(path, create(path, "journal")?, Some(&repeat)).map_err(
                |source| Error::WriteFile {
                    path: path.clone(),
                    what: "journal",
                    source,
                },
            )?,
        ),
        None => None,
    };
    if let Some(path) = &args.report {
        create(path, "report")?;
    }
    let mut report = args.report.as_ref().map(|_| Report::<C>::new(&config));

    if args.format != crate::view::output::Format::None {
        stdout_is_open()?;
    }
    let runtime = match args.nats {
        Some(_) => multi_thread_runtime(),
        None => runtime(clock),
    }
    .map_err(Error::Runtime)?;
    // A broker that is not there is one line and exit 1, before anything runs or is spawned.
    // (A JetStream that does not answer in time, a cluster electing a leader, is asked again.)
    if let Some(url) = &args.nats {
        let never = tokio_util::sync::CancellationToken::new();
        if let Some(connected) = runtime.block_on(crate::nats::patiently(&never, || {
            crate::nats::connect(url, &config.nats)
        })) {
            connected?;
        }
    }
    // A spawned service that exits halts the run.
    let halt = crate::nats::run::Halt::default();
    // The run's first orders wait for the services it spawns to serve.
    let spawning = args.nats.is_some() && args.spawn_services;
    let serving = crate::nats::run::Serving::of(if spawning {
        use crate::name::Name;
        C::Service::ALL
            .iter()
            .map(|service| service.name())
            .collect()
    } else {
        Vec::new()
    });
    let _spawned = match (&args.nats, spawning) {
        (Some(url), true) => Some(Spawned::start::<C>(
            name,
            url,
            &args,
            config.run.shutdown_timeout,
            (&halt, &serving),
        )?),
        _ => None,
    };
    let agreement = match args.nats {
        Some(_) => Some(agreement::<C>(&args.layers, config.simulation.seed)?),
        None => None,
    };
    let nats = args.nats.as_deref().zip(agreement.as_ref());
    let total = match &source {
        OrderSource::Document(orders) => Some(orders.len() as u64),
        OrderSource::Lines(_) => None,
    };
    let draw_progress =
        crate::view::output::progress_wanted(args.format != crate::view::output::Format::None);
    let mut output = Progress::drawn_if(
        total,
        Writer::<C, _>::new(args.format, BufWriter::new(io::stdout())),
        draw_progress,
    );
    let mut sinks: Vec<&mut (dyn EventSink<C> + Send)> = Vec::new();
    // `--format none` without a progress bar writes nothing: no sink to call per event.
    if args.format != crate::view::output::Format::None || draw_progress {
        sinks.push(&mut output);
    }
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
    // Reading stops at once too: a long run of invalid lines, or an overlong line from a slow
    // or endless source, must not hold the signal up.
    let stop_reading = Arc::new(AtomicBool::new(false));
    let on_interrupt_reading = Arc::clone(&stop_reading);
    if let Err(err) = ctrlc::set_handler(move || {
        on_interrupt_reading.store(true, Ordering::Relaxed);
        if on_interrupt.admitting.is_cancelled() {
            on_interrupt.everything.cancel();
        }
        on_interrupt.admitting.cancel();
    }) {
        tracing::warn!(%err, "cannot catch Ctrl-C; it will stop the run at once");
    }
    if !args.quiet {
        // Logged first, so any run can be replayed: `--seed N` with the same input and config.
        if args.nats.is_none() {
            say(format_args!("{name}: seed {}", config.simulation.seed));
        }
    }
    let started = Instant::now();
    // What is written goes out from a thread of its own, so formatting does not hold up the
    // services (it sees the events in the same order: the same bytes).
    let writes = args.format != crate::view::output::Format::None
        || args.journal.is_some()
        || args.report.is_some();
    let ran = std::thread::scope(|scope| -> Result<Ran<C>, Error> {
        let mut off_thread;
        let sinks: &mut (dyn EventSink<C> + Send) = if writes {
            off_thread = OffThread::start(scope, sinks).map_err(Error::Runtime)?;
            &mut off_thread
        } else {
            &mut sinks
        };
        Ok(match source {
            OrderSource::Document(orders) => {
                tracing::info!(file = %args.file.display(), orders = orders.len(), "orders read");
                let orders = Iterated(orders.into_iter());
                let result = runtime.block_on(drive(
                    &config,
                    nats,
                    orders,
                    sinks,
                    &interrupt,
                    (&halt, &serving),
                ));
                Ran::Done(result, None)
            }
            OrderSource::Lines(lines) => {
                let lines = Box::new(lines.stop_when(Arc::clone(&stop_reading)));
                let program = name.to_owned();
                let on_skipped: Option<OnSkipped> = args.skip_invalid.then(|| {
                    Box::new(move |err: &OrderFileError| {
                        say(format_args!("{program}: skipped invalid line: {err}"));
                    }) as OnSkipped
                });
                let live = is_live(&args.file);
                tracing::info!(file = %args.file.display(), live, "JSON Lines, read as the run goes");
                let mut feed = ReadAhead::start(lines, on_skipped, Arc::clone(&stop_reading), live)
                    .map_err(Error::Runtime)?;
                let result = runtime.block_on(drive(
                    &config,
                    nats,
                    &mut feed,
                    sinks,
                    &interrupt,
                    (&halt, &serving),
                ));
                match feed.finish() {
                    Some(finished) => Ran::Read(result, finished),
                    // The reader is stuck on its source (a FIFO's quiet writer): what it holds
                    // is not counted.
                    None => Ran::ReaderStuck(result),
                }
            }
        })
    })?;
    let (mut result, stopped_by) = match ran {
        Ran::Done(result, stopped_by) => (result, stopped_by),
        Ran::ReaderStuck(result) => {
            return worst(name, result.err().map(Error::from).into_iter().collect());
        }
        Ran::Read(mut result, finished) => {
            let (mut lines, stopped_by) = (finished.lines, finished.stopped_by);
            // Every line is accounted for: the ones after a stop are counted, not parsed;
            // orders read ahead but never taken count as unread too.
            let interrupted = interrupt.admitting.is_cancelled();
            let skipped = match stopped_by {
                Some(_) => lines.skip_rest()?,
                // Cut short by a failure or an interrupt: what the run never read is counted,
                // not parsed.
                None if result.is_err() || interrupted => lines.skip_rest()?,
                None => 0,
            };
            let unread_lines = finished.not_taken + skipped;
            // An interrupt that stopped the reading cut the run short, even if the run ended
            // before it saw the interrupt (reading stopped first, with nothing in flight).
            // What was never read is not counted: a stopped source is not read on.
            if interrupted && !lines.read_to_the_end() {
                if let Ok(summary) = result {
                    result = Err(RunFailed {
                        summary,
                        failures: vec![Failure::Interrupted { not_admitted: 0 }],
                    });
                }
            }
            let stats = lines.stats();
            // Skipping every line is not a run: like an empty file, it is bad input. Said only
            // of a file read to its end: an interrupted run has not seen the rest.
            let stopped_by = match stopped_by {
                None if stats.orders() == 0 && stats.invalid_lines > 0 && !interrupted => {
                    Some(OrderFileError::NoValidLine {
                        path: args.file.clone(),
                        invalid: stats.invalid_lines,
                    })
                }
                stopped_by => stopped_by,
            };
            let summary = summary_of(&mut result);
            summary.lines = stats.lines + skipped;
            summary.blank_lines = stats.blank_lines;
            summary.invalid_lines = stats.invalid_lines;
            summary.unread_lines = unread_lines;
            (result, stopped_by)
        }
    };

    // The summary is written whether or not the run succeeded: a failed run needs it most.
    let failed = result.is_err();
    let summary = summary_of(&mut result);
    summary.machine = Machine::measure(started);
    tracing::info!(
        orders = summary.orders,
        failed,
        wall = ?started.elapsed(),
        "run ended"
    );
    summary.repeat = Some(repeat);
    if !args.quiet {
        say(format_args!("{}", summary.to_string().trim_end()));
    }
    // Every output is attempted whatever went wrong before it, and every failure reported;
    // the exit code is the most serious one's (see `Error::severity`).
    let mut errors: Vec<Error> = Vec::new();
    if let (Some(path), Some(file)) = (&args.summary, summary_file) {
        tracing::info!(path = %path.display(), "writing the summary");
        if let Err(source) = write_summary(file, summary) {
            errors.push(Error::WriteFile {
                path: path.clone(),
                what: "summary",
                source,
            });
        }
    }
    if let (Some(path), Some(report)) = (&args.report, &report) {
        tracing::info!(path = %path.display(), "writing the report");
        if let Err(source) = report.write(summary, path) {
            errors.push(Error::WriteFile {
                path: path.clone(),
                what: "report",
                source,
            });
        }
    }
    if let Err(failed) = result {
        errors.push(failed.into());
    }
    if let Some(stop) = stopped_by {
        errors.push(stop.into());
    }
    worst(name, errors)
}

/// The most serious of `errors` (the first of equals), after reporting the others on stderr;
/// `Ok` if there are none.
fn worst(name: &str, mut errors: Vec<Error>) -> Result<(), Error> {
    let Some(index) = (0..errors.len()).max_by_key(|i| (errors[*i].severity(), usize::MAX - i))
    else {
        return Ok(());
    };
    let worst = errors.remove(index);
    for other in errors {
        say(format_args!("{name}: error: {other}"));
    }
    Err(worst)
}

/// Refuses a run where two of its files are one: the order file, a config file, the journal,
/// the summary, the report. Compared by identity (device and inode) where the file exists, so
/// `out.json` and `./dir/../out.json`, or a hard link, are caught; by the resolved path where
/// it does not exist yet.
fn check_distinct_files<C: Choreography>(
    file: &PathBuf,
    configs: &[PathBuf],
    outputs: &[(&str, Option<&PathBuf>)],
) -> Result<(), Error> {
    let mut files: Vec<(String, &PathBuf)> =
        vec![(format!("the {} file", <C::Input as Record>::noun()), file)];
    files.extend(configs.iter().map(|p| ("--config".to_owned(), p)));
    for (flag, path) in outputs {
        if let Some(path) = path {
            files.push(((*flag).to_owned(), path));
        }
    }
    let identities: Vec<Option<FileIdentity>> = files.iter().map(|(_, p)| identity(p)).collect();
    for (i, first) in files.iter().enumerate() {
        for (j, second) in files.iter().enumerate().skip(i + 1) {
            let same = match (&identities[i], &identities[j]) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            };
            if same {
                return Err(Error::Usage(format!(
                    "{} {} and {} {} are the same file; give each its own",
                    first.0,
                    first.1.display(),
                    second.0,
                    second.1.display()
                )));
            }
        }
    }
    Ok(())
}

/// What makes two paths one file.
#[derive(Debug, PartialEq, Eq)]
enum FileIdentity {
    /// An existing file: its device and inode (Unix), or its canonical path elsewhere.
    Existing(u64, u64, PathBuf),
    /// A file still to be created: the canonical path of its directory, and its name.
    New(PathBuf),
}

fn identity(path: &std::path::Path) -> Option<FileIdentity> {
    if path == std::path::Path::new(crate::input::STDIN) {
        return None;
    }
    match std::fs::metadata(path) {
        // Devices, pipes and the like are not files to destroy: `/dev/null` twice is fine.
        Ok(meta) if !meta.is_file() => None,
        Ok(meta) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                Some(FileIdentity::Existing(
                    meta.dev(),
                    meta.ino(),
                    PathBuf::new(),
                ))
            }
            #[cfg(not(unix))]
            {
                let _ = meta;
                Some(FileIdentity::Existing(
                    0,
                    0,
                    std::fs::canonicalize(path).ok()?,
                ))
            }
        }
        Err(_) => {
            let name = path.file_name()?;
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => std::path::Path::new("."),
            };
            Some(FileIdentity::New(
                std::fs::canonicalize(parent).ok()?.join(name),
            ))
        }
    }
}

/// Fails when standard output was closed (`>&-`), where the system shows how (Linux's
/// `/proc`); elsewhere there is no check.
///
/// Rust's runtime reopens a closed stdout on `/dev/null` before `main` (read-write, which a
/// shell's `>/dev/null` never is), so without this check every line would vanish with exit
/// 0. (A pipe whose reader left is different: that is quiet success, see
/// `view::output::Writer`.)
fn stdout_is_open() -> Result<(), Error> {
    if stdout_was_closed() {
        return Err(Error::Output(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "standard output is closed",
        )));
    }
    Ok(())
}

fn stdout_was_closed() -> bool {
    const O_ACCMODE: u32 = 0o3;
    const O_RDWR: u32 = 0o2;
    let Ok(target) = std::fs::read_link("/proc/self/fd/1") else {
        return false;
    };
    let Ok(info) = std::fs::read_to_string("/proc/self/fdinfo/1") else {
        return false;
    };
    let flags = info
        .lines()
        .find_map(|line| line.strip_prefix("flags:"))
        .and_then(|octal| u32::from_str_radix(octal.trim(), 8).ok());
    target == std::path::Path::new("/dev/null")
        && flags.is_some_and(|flags| flags & O_ACCMODE == O_RDWR)
}

/// The runtime of an in-process run on `clock`: virtual time is Tokio's paused clock on a
/// single thread, which also makes the schedule, and so every run, the same. The real clock
/// runs on a single thread too: the services and the supervisor share one bus, and on a
/// multi-thread runtime every event moved the channel's slots and woke tasks across cores,
/// which cost more than the work (reading the input and writing the output have threads of
/// their own either way).
pub fn runtime(clock: Clock) -> io::Result<tokio::runtime::Runtime> {
    match clock {
        Clock::Virtual => crate::sim::virtual_runtime(),
        Clock::Real => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    }
}

/// The multi-thread runtime: a run or a service over NATS, with many publishes and
/// acknowledgements in flight on the broker's connections (and the engine's tests of what a
/// library user may run on it).
pub fn multi_thread_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

fn summary_of<C: Choreography>(result: &mut Result<Summary<C>, RunFailed<C>>) -> &mut Summary<C> {
    match result {
        Ok(summary) => summary,
        Err(failed) => &mut failed.summary,
    }
}

/// One line on stderr. A closed stderr is not worth a panic: the line is dropped.
pub fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

fn write_summary<C: Choreography>(file: File, summary: &Summary<C>) -> io::Result<()> {
    let mut file = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut file, summary)?;
    file.write_all(b"\n")?;
    file.flush()
}
