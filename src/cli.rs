//! The command line, as clap-derive structs. `main.rs` parses it; `app.rs` carries it out.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::view::output::Format;

/// Simulates an event-driven choreography: services that cooperate only by reacting to each
/// other's events on a shared bus.
#[derive(Debug, Parser)]
#[command(name = "choreo", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    /// More logs on stderr: -v info, -vv debug, -vvv trace. RUST_LOG, when set, wins.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// What `--help` says of exit codes (the codes are `app::EXIT_*`).
const EXIT_CODES: &str = "Exit codes:
  0    done: every order (instance) reached its terminal event; check: no violation;
       shrink: a smaller failing case written
  1    the run failed (time limit, lost events, a failed service, a run over NATS refused);
       check: a violation, or a search stopped at its limits; shrink: the run does not fail
  2    bad input or usage; nothing was run
  130  interrupted (Ctrl-C): what was admitted was let finish, everything written; shrink:
       the smallest failing case found so far written";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the orders in FILE through the choreography and print every event.
    Run(RunArgs),
    /// Print a journal's run again, as `run` printed it (text lines).
    Replay {
        /// A journal written by `run --journal`.
        journal: PathBuf,
    },
    /// Show one order's causal chain, or every order that did not finish.
    Trace(TraceArgs),
    /// Mermaid diagrams: the services' wiring, or one order's sequence.
    #[command(subcommand)]
    Diagram(DiagramCommand),
    /// Run one service of the choreography as its own process over NATS JetStream, until
    /// Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Explore every schedule of the few orders in FILE (reorderings, duplicate deliveries,
    /// crashes) and check that none breaks a property.
    Check(CheckArgs),
    /// Make a failing run small: fewer orders, fewer and simpler faults, shorter latencies,
    /// for as long as it fails the same way; write the smallest case to --out DIR.
    Shrink(ShrinkArgs),
    /// Print the effective config as TOML: the built-in defaults with every --config file and
    /// --set applied. Given back as the only --config, it makes the same config.
    Config(ShowConfigArgs),
    /// Print a completion script for SHELL, e.g. `choreo completions bash >
    /// ~/.local/share/bash-completion/completions/choreo`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `choreo man > choreo.1 && man ./choreo.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct ShowConfigArgs {
    /// Print the built-in defaults as written, every key with its comment, instead.
    #[arg(long, conflicts_with_all = ["config", "set", "from"])]
    pub defaults: bool,

    /// Print the config a run was made with, from the first line of its journal, instead.
    #[arg(long, value_name = "JOURNAL", conflicts_with_all = ["config", "set"])]
    pub from: Option<PathBuf>,

    #[command(flatten)]
    pub layers: ConfigArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The service: its name (`InventoryService`) or its short config name (`inventory`).
    pub service: String,

    /// The NATS server, e.g. nats://127.0.0.1:4222.
    #[arg(long, value_name = "URL")]
    pub nats: String,

    #[command(flatten)]
    pub layers: ConfigArgs,

    /// Stop (as on SIGTERM) when stdin reaches its end: `run --spawn-services` gives its
    /// services a pipe, so they do not outlive it however it ends.
    #[arg(long, hide = true)]
    pub until_stdin_closes: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Order file with at most 6 orders, in any form `run` takes.
    pub file: PathBuf,

    /// Deliver each event once: explore reorderings and crashes only.
    #[arg(long)]
    pub no_duplicates: bool,

    /// Crashes of any service at any step, in all, 0 to 3: before its decision, or after
    /// publishing some of what it decided, before recording the event as handled.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=3))]
    pub crashes: u32,

    /// Explore every interleaving, also of deliveries that publish nothing and change nothing
    /// but their order's record (by default each is taken as soon as it can be: see docs/checking.md).
    #[arg(long)]
    pub every_interleaving: bool,

    #[command(flatten)]
    pub layers: ConfigArgs,

    /// Write the counterexample, if one is found, to FILE as a journal (for `trace` and
    /// `diagram order`).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ShrinkArgs {
    /// Order file of the failing run, in any form `run` takes but stdin (it is run many times).
    pub file: PathBuf,

    #[command(flatten)]
    pub layers: ConfigArgs,

    /// The failing run's seed; default `simulation.seed`.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Where to write the smallest failing case (made if missing): orders.jsonl, config.toml
    /// (complete: give it back with --config), seed, and journal.jsonl (its run's journal, for
    /// `trace` and `diagram order`).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true))]
pub struct TraceArgs {
    /// A journal written by `run --journal`.
    pub journal: PathBuf,
    /// The order to trace: its `order_id`.
    #[arg(long, value_name = "ID", group = "what", allow_negative_numbers = true, value_parser = order_id)]
    pub order: Option<String>,
    /// List every order without a terminal state, with its last event.
    #[arg(long, group = "what")]
    pub stuck: bool,
}

#[derive(Debug, Subcommand)]
pub enum DiagramCommand {
    /// Services and events: who publishes what, who reacts to what (from the code).
    Topology,
    /// A sequence diagram of one order across the services.
    Order {
        /// A journal written by `run --journal`.
        journal: PathBuf,
        /// The order to draw: its `order_id`.
        #[arg(long, value_name = "ID", allow_negative_numbers = true, value_parser = order_id)]
        order: String,
    },
}

/// The clock, and with it the runtime, a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Clock {
    /// One thread, paused Tokio time that jumps ahead whenever every task waits.
    #[default]
    Virtual,
    /// One thread and the wall clock.
    Real,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Order file: one JSON order object, a JSON array of orders, or JSON Lines (.jsonl),
    /// e.g. {"order_id": 1, "product_id": 101, "quantity": 2}.
    pub file: PathBuf,

    /// Which clock the run uses: `virtual` (the default) runs every task on one thread with
    /// simulated time (deterministic; simulated seconds pass instantly); `real` runs them on
    /// one thread with real time. With --nats, always the real one.
    #[arg(long, value_enum)]
    pub clock: Option<Clock>,

    // Its help names the schedule version (`seed_help`).
    #[arg(long, value_name = "N", help = seed_help())]
    pub seed: Option<u64>,

    /// How to print events on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    #[command(flatten)]
    pub layers: ConfigArgs,

    /// Also write the run's summary as JSON to FILE (written even when the run fails).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,

    /// JSON Lines: report each invalid line on stderr and go on with the valid ones, instead
    /// of stopping at the first.
    #[arg(long)]
    pub skip_invalid: bool,

    /// Also write every event to FILE as JSON Lines (the journal that `replay`, `trace` and
    /// `diagram order` read). Written also when the run fails or is interrupted.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,

    /// Also write a self-contained HTML report of the run to FILE.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,

    /// Print nothing on stderr but errors: no seed line, no summary.
    #[arg(short, long)]
    pub quiet: bool,

    /// Run over NATS JetStream at URL instead of the in-process bus: inject the orders and
    /// observe the stream, with services served by `serve` (always the real clock).
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,

    /// With --nats: also start every service (`serve`, same config) and stop them at the end.
    #[arg(long, requires = "nats")]
    pub spawn_services: bool,
}

/// `run --seed`'s help, which names the schedule version this choreo follows.
fn seed_help() -> String {
    format!(
        "Seed for every random choice (latencies, arrivals, faults); default `simulation.seed`. \
         The same input, config, seed and schedule version give the same run; this choreo \
         follows schedule {} (a journal's first line and the summary's `repeat` record it)",
        crate::engine::stats::SCHEDULE
    )
}

/// The config layers of every command that runs services: the built-in defaults, then these.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Config file layered over the built-in defaults (config/default.toml); it only needs
    /// the keys it changes. Repeatable: later files override earlier ones.
    #[arg(long, value_name = "FILE")]
    pub config: Vec<PathBuf>,

    /// Override one config key, e.g. --set bus.capacity=16. Repeatable; applied last.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// An order id as the command line takes it, with the range in the message for anything else
/// (`--order -1`, `--order x`).
fn order_id(text: &str) -> Result<String, String> {
    instance_id(text, "order", false)
}

/// An id of an instance called `noun`, as [`order_id`]: a whole number, or with `text` a
/// string id (see [`crate::input::TextId`]).
fn instance_id(text: &str, noun: &str, string: bool) -> Result<String, String> {
    if string {
        return crate::input::InstanceId::text(text)
            .map(|_| text.to_owned())
            .map_err(|err| {
                format!(
                    "{} id is {}",
                    crate::plural::a(noun),
                    err.trim_start_matches("order_id must be ")
                )
            });
    }
    text.parse::<u64>()
        .ok()
        .filter(|id| (1..=crate::input::MAX_ID).contains(id))
        .map(|_| text.to_owned())
        .ok_or_else(|| {
            format!(
                "{} id is a whole number from 1 to {}, got `{text}`",
                crate::plural::a(noun),
                crate::input::MAX_ID
            )
        })
}

/// The command line in the words of choreography `C`, whose binary is `name`: its description,
/// its input records (their noun and an example) and where its default config is, in the help
/// texts. For the shop, the same words as the definitions above.
pub fn in_its_words<C: crate::engine::Choreography>(
    mut command: clap::Command,
    name: &str,
) -> clap::Command {
    use crate::input::Record;
    if let Some(about) = C::ABOUT {
        command = command.about(about);
    }
    let noun = <C::Input as Record>::noun();
    let example = <C::Input as Record>::EXAMPLE.map_or_else(
        || format!("{{\"{}\": 1, ...}}", <C::Input as Record>::ID_FIELD),
        str::to_owned,
    );
    let mut capital = noun.to_owned();
    capital[..1].make_ascii_uppercase();
    let file = format!(
        "{capital} file: one JSON {noun} object, a JSON array of {noun}s, or JSON Lines (.jsonl), e.g. {example}"
    );
    let check = format!(
        "{capital} file with at most {} {noun}s, in any form `run` takes",
        crate::check::MAX_INSTANCES
    );
    let shrink = format!(
        "{capital} file of the failing run, in any form `run` takes but stdin (it is run many times)"
    );
    let defaults = C::DEFAULT_CONFIG_FILE.map_or_else(
        || format!("`{name} config --defaults` prints them"),
        str::to_owned,
    );
    let config = format!(
        "Config file layered over the built-in defaults ({defaults}); it only needs the keys it changes. Repeatable: later files override earlier ones"
    );
    let id_field = <C::Input as Record>::ID_FIELD;
    let words = |text: String| {
        let text = if name == "choreo" {
            text
        } else {
            text.replace("`choreo ", &format!("`{name} "))
                .replace("completions/choreo", &format!("completions/{name}"))
                .replace("choreo.1", &format!("{name}.1"))
        };
        if noun == "order" {
            return text;
        }
        text.replace("order_id", id_field)
            .replace("orders", &format!("{noun}s"))
            .replace("order's", &format!("{noun}'s"))
            .replace("one order", &format!("one {noun}"))
            .replace("every order", &format!("every {noun}"))
            .replace("The order", &format!("The {noun}"))
    };
    if let Some(codes) = command
        .get_after_help()
        .map(|codes| words(codes.to_string()))
    {
        command = command.after_help(codes);
    }
    reword(
        command,
        &|mut sub: clap::Command| {
            let has = |sub: &clap::Command, id: &str| sub.get_arguments().any(|a| a.get_id() == id);
            if has(&sub, "config") {
                sub = sub.mut_arg("config", |a| a.help(config.clone()));
            }
            if has(&sub, "file") {
                let help = match sub.get_name() {
                    "check" => &check,
                    "shrink" => &shrink,
                    _ => &file,
                };
                sub = sub.mut_arg("file", |a| a.help(help.clone()));
            }
            let text = <C::Input as Record>::TEXT_IDS;
            if has(&sub, "order") && (noun != "order" || text) {
                // `--transfer 3` as well as `--order 3`.
                sub = sub.mut_arg("order", |a| {
                    let a = if noun == "order" {
                        a
                    } else {
                        a.visible_alias(noun)
                    };
                    a.value_parser(move |id: &str| instance_id(id, noun, text))
                });
            }
            sub
        },
        &words,
    )
}

/// Applies `each` to every subcommand of `command`, at any depth, and `words` to every
/// subcommand's description and every argument's help.
fn reword(
    mut command: clap::Command,
    each: &dyn Fn(clap::Command) -> clap::Command,
    words: &dyn Fn(String) -> String,
) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in names {
        command = command.mut_subcommand(name, |mut sub| {
            if let Some(about) = sub.get_about().map(|about| words(about.to_string())) {
                sub = sub.about(about);
            }
            let ids: Vec<String> = sub
                .get_arguments()
                .map(|a| a.get_id().to_string())
                .collect();
            for id in ids {
                sub = sub.mut_arg(id, |mut arg| {
                    if let Some(help) = arg.get_help().map(|help| words(help.to_string())) {
                        arg = arg.help(help);
                    }
                    if let Some(help) = arg.get_long_help().map(|help| words(help.to_string())) {
                        arg = arg.long_help(help);
                    }
                    arg
                });
            }
            reword(each(sub), each, words)
        });
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
