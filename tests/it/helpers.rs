//! Shared test helpers: running the real `choreo` binary, and building orders.

use std::path::{Path, PathBuf};

use std::process::{Command, Output};
use tempfile::TempDir;

use choreo::shop::{Order, Shop};

/// The shop's config, envelope and summary: what these tests run.
pub type Config = choreo::config::Config<Shop>;
pub type Envelope = choreo::engine::Envelope<Shop>;
pub type Summary = choreo::engine::Summary<Shop>;

/// The repository root, where `orders/` and `config/` live.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A path under the repository root.
pub fn repo_path(relative: &str) -> PathBuf {
    repo_root().join(relative)
}

/// The reference program's exact output for the sample order.
pub fn reference_output() -> String {
    let path = repo_root().join("../shared/reference/seed-output.txt");
    match std::fs::read_to_string(&path) {
        Ok(text) => text,
        // Outside the workspace the copy in tests/data stands in; they are the same bytes.
        Err(_) => std::fs::read_to_string(repo_path("tests/data/seed-output.txt"))
            .expect("tests/data/seed-output.txt"),
    }
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the built `choreo` binary with `args`, from the repository root.
pub fn choreo<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    choreo_in(repo_root(), args)
}

/// Runs the built `choreo` binary with `args`, from `dir`.
pub fn choreo_in<I, S>(dir: &Path, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    choreo_with(dir, args, &[])
}

/// Runs the built `choreo` binary with `args`, from `dir`, with extra environment variables
/// (and without any `RUST_LOG` the test itself runs with).
pub fn choreo_with<I, S>(dir: &Path, args: I, env: &[(&str, &str)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    program_with(Path::new(env!("CARGO_BIN_EXE_choreo")), dir, args, env)
}

/// The binary of the example `name` (`cargo test` builds the examples beside choreo's), or
/// `None` where it is not built (`cargo test --test it` alone), with a note saying that
/// `skipped` is skipped; under CI its absence fails the test.
pub fn example_binary(name: &str, skipped: &str) -> Option<PathBuf> {
    let bin = Path::new(env!("CARGO_BIN_EXE_choreo"))
        .parent()
        .map(|dir| dir.join("examples").join(name))
        .filter(|path| path.exists());
    if bin.is_none() {
        assert!(
            !in_ci(),
            "the {name} example is not built: `cargo test` builds it"
        );
        eprintln!(
            "note: the {name} example is not built (`cargo build --release --example {name}`); {skipped}"
        );
    }
    bin
}

/// Runs `program` (choreo's, or an example's) as [`choreo_with`] runs choreo's.
pub fn program_with<I, S>(program: &Path, dir: &Path, args: I, env: &[(&str, &str)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("run choreo");
    Run {
        code: status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8(stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(stderr).expect("utf-8 stderr"),
    }
}

/// An order for `quantity` of `product_id`.
pub fn order(order_id: u64, product_id: u64, quantity: u64) -> Order {
    serde_json::from_value(serde_json::json!({
        "order_id": order_id,
        "product_id": product_id,
        "quantity": quantity,
    }))
    .expect("valid order")
}

/// One order as a JSON object on one line, as in an order file.
pub fn order_json(order_id: u64, product_id: u64, quantity: u64) -> String {
    format!(r#"{{"order_id": {order_id}, "product_id": {product_id}, "quantity": {quantity}}}"#)
}

/// A temporary directory holding one file `name` with `contents`.
pub fn temp_file(name: &str, contents: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, contents).expect("write temp file");
    (dir, path)
}

/// Runs `choreo run NAME ARGS...` from a temporary directory holding the order file `name`, so
/// messages name it exactly as `name`.
pub fn run_order_file(name: &str, contents: &str) -> Run {
    run_order_file_with(name, contents, &[])
}

/// Like [`run_order_file`], with more arguments after the file.
pub fn run_order_file_with(name: &str, contents: &str, args: &[&str]) -> Run {
    let (dir, _) = temp_file(name, contents);
    let mut all = vec!["run", name];
    all.extend_from_slice(args);
    choreo_in(dir.path(), all)
}

/// The config and stats of a test choreography that has none of its own.
pub use choreo::flow::{NoConfig, NoStats};

/// `check` with duplicates, a crash and every schedule of `inputs`, within generous limits:
/// how a choreography's tests check a few instances of it.
pub fn check_every_schedule<C: choreo::engine::Choreography>(
    config: &choreo::config::Config<C>,
    inputs: &[C::Input],
) -> choreo::check::Checked<C> {
    let limits = choreo::check::Limits {
        max_states: 1_000_000,
        max_memory: 1 << 30,
        time_limit: std::time::Duration::from_secs(120),
        interrupt: Default::default(),
    };
    let faults = choreo::check::Faults {
        duplicates: true,
        crashes: 1,
        reduction: choreo::check::Reduction::Por,
    };
    choreo::check::check(config, inputs, faults, &limits, &mut |_, _, _| {}).expect("check runs")
}

/// Whether the tests run under CI (the `CI` environment variable), where a missing tool is a
/// failure rather than a skipped test.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Runs `inputs` of choreography `C` in-process with its `config`: the summary, the text it
/// prints and every event.
pub async fn run_in_process<C: choreo::engine::Choreography>(
    config: &choreo::config::Config<C>,
    inputs: Vec<C::Input>,
) -> (
    choreo::engine::Summary<C>,
    String,
    Vec<choreo::engine::Envelope<C>>,
) {
    use choreo::view::output::{Format, Writer};
    let mut text = Writer::<C, _>::new(Format::Text, Vec::new());
    let mut events: Vec<choreo::engine::Envelope<C>> = Vec::new();
    let summary = choreo::engine::run(
        config,
        inputs,
        &mut choreo::engine::Fanout(vec![&mut text, &mut events]),
    )
    .await
    .expect("every instance ends");
    (
        summary,
        String::from_utf8(text.into_inner()).expect("utf-8"),
        events,
    )
}

/// The command line of `run FILE --format none` writing a journal, a summary and a report
/// into `dir`, and those three files' paths.
pub fn run_writing_every_file(file: &str, dir: &Path) -> (Vec<String>, [String; 3]) {
    let path = |name: &str| dir.join(name).display().to_string();
    let files = [path("j.jsonl"), path("s.json"), path("r.html")];
    let mut args: Vec<String> = ["run", file, "--format", "none"].map(String::from).into();
    for (flag, file) in ["--journal", "--summary", "--report"].iter().zip(&files) {
        args.extend([flag.to_string(), file.clone()]);
    }
    (args, files)
}
