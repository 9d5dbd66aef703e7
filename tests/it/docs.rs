//! Docs that cannot rot: every command that README.md and the pages in docs/ show is run here,
//! and its output compared wherever a page shows output.
//!
//! The notation is trycmd's (the crate clap and cargo use for this), so a page reads the same
//! either way:
//! - a ```` ```console ```` block holds commands, each on a line that starts `$ `; the lines
//!   after it, up to the next `$ `, are its output: stdout and stderr together, as a terminal
//!   shows them;
//! - `? N` as the first line after a command is the exit code it must end with (else 0);
//! - `...` as a line matches any number of lines, `[..]` within a line any characters;
//! - a command shown without output has only its exit code checked.
//!
//! Why not trycmd itself: the pages show commands as a user types them into a shell, with
//! pipes, redirections and `&&` (`head -3 orders/mixed.jsonl | choreo run -`, `choreo man >
//! /tmp/choreo.1`), and trycmd runs one program with split arguments, no shell. So each command
//! here runs in `bash` from the repository root, with stderr joined to stdout and:
//! - the built `choreo` first on `PATH`; `cargo run --release --` stands for it (the README's
//!   first command), and `cargo run --release --example trip --` for the trip example's binary
//!   (built by `cargo test`; a run of this file alone without it skips those commands, with a
//!   note, and fails under CI);
//! - `/tmp/` in a command is a temporary directory of this test's own, and so is `HOME`, so two
//!   runs of the suite at once share no file; in the output the directory reads `/tmp/` again;
//! - a time limit of two minutes each, so a hang fails.
//!
//! What is not run, and how it is covered:
//! - blocks marked `console nats` need a NATS broker: `tests/it/nats.rs` starts its own and
//!   runs the same runs (docs/distributed.md says which tests);
//! - blocks marked `console long` take minutes: `cargo install --path .` (cargo's own),
//!   `cargo bench` (the benchmarks: CI compiles them, with `cargo clippy --all-targets`, and
//!   they are run by hand), the long seed swarm (an ignored test, run on demand);
//! - `cargo test` itself, the suite this runs in (CI runs it).
//!
//! A command outside a `console` block (a ```` ```sh ```` block, say) would not be run, so such
//! blocks are refused; a ```` ```rust ```` block must be code the suite runs (its whitespace
//! aside, it is found in `tests/it/library.rs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{repo_path, repo_root};

/// How long one command may take before it counts as hung.
const TIME_LIMIT_SECONDS: u32 = 120;

/// Every command in README.md and docs/*.md runs, exits as shown and prints what is shown.
#[test]
fn every_command_in_the_docs_runs_as_shown() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let bin = Bins::find();
    let mut failures = Vec::new();
    let mut ran = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("read page");
        let name = page
            .strip_prefix(repo_root())
            .unwrap_or(&page)
            .display()
            .to_string();
        for block in blocks(&text) {
            match block.info.split_whitespace().collect::<Vec<_>>()[..] {
                ["console"] => {}
                ["console", "nats" | "long"] | ["text" | "mermaid" | "toml" | "json"] => continue,
                ["rust"] => {
                    failures.extend(rust_block_is_tested(&name, &block));
                    continue;
                }
                _ => {
                    failures.push(format!(
                        "{name}:{}: a ```{} block: commands go in ```console blocks (marked `nats` or `long` when the suite cannot run them), output alone in ```text",
                        block.line, block.info
                    ));
                    continue;
                }
            }
            for command in commands(&block) {
                match run(&command, &bin, tmp.path()) {
                    Outcome::Skipped => {}
                    Outcome::Ran(Ok(())) => ran += 1,
                    Outcome::Ran(Err(why)) => {
                        failures.push(format!(
                            "{name}:{}: `{}`\n{why}",
                            command.line, command.text
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the docs' commands fail:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(
        ran > 40,
        "only {ran} commands ran: are the pages still read?"
    );
}

/// Every link from one page to another, or to a heading, leads somewhere: the file exists
/// and, when the link names a heading, the page has it (as GitHub makes its anchor).
#[test]
fn every_link_between_pages_leads_somewhere() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("read page");
        let dir = page.parent().expect("a page's directory");
        for target in text
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split_once(')'))
        {
            let target = target.0;
            if target.starts_with("http") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
            let linked = if file.is_empty() {
                page.clone()
            } else {
                dir.join(file)
            };
            let Ok(linked_text) = std::fs::read_to_string(&linked) else {
                broken.push(format!("{}: {target}: no such file", page.display()));
                continue;
            };
            if !anchor.is_empty() && !anchors(&linked_text).contains(anchor) {
                broken.push(format!("{}: {target}: no such heading", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The anchors GitHub gives a page's headings: lower case, spaces as `-`, punctuation dropped.
fn anchors(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| {
            heading
                .trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// The table of keys in docs/configuration.md has a row for each key of config/default.toml,
/// and no other.
#[test]
fn the_config_table_lists_every_key_of_the_defaults() {
    let defaults: toml::Table = std::fs::read_to_string(repo_path("config/default.toml"))
        .expect("config/default.toml")
        .parse()
        .expect("config/default.toml is TOML");
    let mut in_defaults = BTreeSet::new();
    flatten("", &defaults, &mut in_defaults);
    let page = std::fs::read_to_string(repo_path("docs/configuration.md")).expect("page");
    let in_table: BTreeSet<String> = page
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(key, _)| key.to_owned())
        .collect();
    assert_eq!(
        in_defaults, in_table,
        "config/default.toml's keys (left) and docs/configuration.md's table (right) differ"
    );
}

/// The keys of `table` under `prefix`, as the docs' table names them: products and customers
/// by `<id>`, the services of the per-service tables by `<service>`, a latency model whole.
fn flatten(prefix: &str, table: &toml::Table, keys: &mut BTreeSet<String>) {
    for (key, value) in table {
        let key = match prefix {
            "products" | "customers" => "<id>",
            "simulation.latency" => {
                keys.insert(format!("{prefix}.<service>"));
                continue;
            }
            "simulation.faults" if key != "gateway" && value.is_table() => "<service>",
            _ => key,
        };
        let path = if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        };
        match value.as_table() {
            Some(inner) => flatten(&path, inner, keys),
            None => {
                keys.insert(path);
            }
        }
    }
}

/// README.md and every page in docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![repo_path("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo_path("docs"))
        .expect("docs/")
        .map(|entry| entry.expect("docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// A fenced code block: its info string, its first line's number, its lines.
struct Block<'a> {
    info: &'a str,
    line: usize,
    lines: Vec<(usize, &'a str)>,
}

/// The fenced code blocks of a page (```` ``` ```` fences, not indented).
fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim(),
                    line: number,
                    lines: Vec::new(),
                });
            }
            (Some(_), Some("")) => blocks.extend(open.take()),
            (Some(block), _) => block.lines.push((number, line)),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a code block is not closed");
    blocks
}

/// One command of a console block, with what the page says it ends with and prints.
struct Shown {
    line: usize,
    text: String,
    code: i32,
    output: Vec<String>,
}

fn commands(block: &Block) -> Vec<Shown> {
    let mut commands: Vec<Shown> = Vec::new();
    for &(number, line) in &block.lines {
        if let Some(text) = line.strip_prefix("$ ") {
            commands.push(Shown {
                line: number,
                text: text.to_owned(),
                code: 0,
                output: Vec::new(),
            });
            continue;
        }
        let command = commands
            .last_mut()
            .unwrap_or_else(|| panic!("line {number}: output before any `$ ` command"));
        match line.strip_prefix("? ") {
            Some(code) if command.output.is_empty() => {
                command.code = code
                    .parse()
                    .unwrap_or_else(|_| panic!("line {number}: `? {code}` is not an exit code"));
            }
            _ => command.output.push(line.to_owned()),
        }
    }
    commands
}

/// The binaries a command may name.
struct Bins {
    choreo: PathBuf,
    /// The trip example's binary, if this build has it.
    trip: Option<PathBuf>,
}

impl Bins {
    fn find() -> Bins {
        let choreo = PathBuf::from(env!("CARGO_BIN_EXE_choreo"));
        let trip = crate::helpers::example_binary("trip", "its commands in the docs are skipped");
        Bins { choreo, trip }
    }
}

enum Outcome {
    Skipped,
    Ran(Result<(), String>),
}

/// Runs one command as the module doc says, and compares what it did with what is shown.
fn run(shown: &Shown, bins: &Bins, tmp: &Path) -> Outcome {
    if shown.text.starts_with("cargo test") {
        return Outcome::Skipped;
    }
    // The pages' /tmp/ paths go to the test's own directory, before the binaries' paths are
    // put in: a checkout under /tmp/ keeps its own.
    let tmp_text = tmp.to_str().expect("utf-8 temp dir");
    let mut script = shown.text.replace("/tmp/", &format!("{tmp_text}/"));
    if let Some(rest) = script.strip_prefix("cargo run --release --example trip --") {
        let Some(trip) = &bins.trip else {
            return Outcome::Skipped;
        };
        script = format!("{}{rest}", trip.display());
    } else if let Some(rest) = script.strip_prefix("cargo run --release --") {
        script = format!("{}{rest}", bins.choreo.display());
    }
    if script.contains("cargo ") {
        return Outcome::Ran(Err(
            "a cargo command other than `cargo run --release --`: mark its block `long`".into(),
        ));
    }
    let bin_dir = bins.choreo.parent().expect("choreo's directory");
    let path = std::env::join_paths(std::iter::once(bin_dir.to_owned()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH");
    let output = Command::new("timeout")
        .arg(TIME_LIMIT_SECONDS.to_string())
        .args(["bash", "-c", &format!("exec 2>&1\n{script}")])
        .current_dir(repo_root())
        .env("PATH", path)
        .env("HOME", tmp)
        .env_remove("RUST_LOG")
        .output()
        .expect("run bash");
    let code = output.status.code().unwrap_or(-1);
    let printed = String::from_utf8_lossy(&output.stdout).replace(&format!("{tmp_text}/"), "/tmp/");
    let mut why = Vec::new();
    if code == 124 {
        why.push(format!("did not end within {TIME_LIMIT_SECONDS} s"));
    } else if code != shown.code {
        why.push(format!("exited {code}, the page says {}", shown.code));
    }
    if !shown.output.is_empty() {
        let lines: Vec<&str> = printed.lines().collect();
        let expected: Vec<&str> = shown.output.iter().map(String::as_str).collect();
        if !lines_match(&expected, &lines) {
            why.push(format!(
                "printed something else than the page shows; it printed:\n{printed}"
            ));
        }
    }
    if why.is_empty() {
        Outcome::Ran(Ok(()))
    } else {
        if shown.output.is_empty() && !printed.is_empty() {
            why.push(format!("it printed:\n{printed}"));
        }
        Outcome::Ran(Err(why.join("\n")))
    }
}

/// Whether `lines` match `expected`, where a line `...` matches any number of lines.
fn lines_match(expected: &[&str], lines: &[&str]) -> bool {
    match expected.split_first() {
        None => lines.is_empty(),
        Some((&"...", rest)) => (0..=lines.len()).any(|skip| lines_match(rest, &lines[skip..])),
        Some((first, rest)) => lines
            .split_first()
            .is_some_and(|(line, others)| line_matches(first, line) && lines_match(rest, others)),
    }
}

/// Whether `line` matches `pattern`, where `[..]` matches any characters.
fn line_matches(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split("[..]");
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// A ```rust block is code the suite runs: whitespace aside, it is in tests/it/library.rs, or
/// it is an example's whole source (the tutorial's, in the README).
fn rust_block_is_tested(page: &str, block: &Block) -> Option<String> {
    let squeeze = |text: &str| text.split_whitespace().collect::<String>();
    let code: String = block
        .lines
        .iter()
        .map(|(_, line)| *line)
        .collect::<Vec<_>>()
        .join("\n");
    let tests = std::fs::read_to_string(repo_path("tests/it/library.rs")).expect("library.rs");
    let tutorial = std::fs::read_to_string(repo_path("examples/tutorial/main.rs"))
        .expect("examples/tutorial/main.rs");
    let tested = squeeze(&tests).contains(&squeeze(&code)) || squeeze(&tutorial) == squeeze(&code);
    (!tested).then(|| {
        format!(
            "{page}:{}: this Rust example is not in tests/it/library.rs, nor the tutorial's source, as written",
            block.line
        )
    })
}

#[test]
fn patterns_match_as_trycmd_does() {
    assert!(line_matches("wall time: [..]", "wall time: 0.01 s"));
    assert!(line_matches("a [..] c [..]", "a b c d"));
    assert!(!line_matches("a [..] c", "a b d"));
    assert!(line_matches("exact", "exact"));
    assert!(!line_matches("exact", "exactly"));
    assert!(lines_match(&["a", "...", "d"], &["a", "b", "c", "d"]));
    assert!(lines_match(&["a", "...", "b"], &["a", "b"]));
    assert!(!lines_match(&["a", "...", "d"], &["a", "b"]));
}
