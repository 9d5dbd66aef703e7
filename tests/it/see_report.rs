//! Tests for `choreo run --report FILE.html`: the page a newcomer reads to see a run.
//!
//! The chaos scenario on `orders/swarm.jsonl` takes every branch of the flow (rejections,
//! declines, failed shipments, dead letters, crashes and restarts), so its report must show
//! every part: the summary's numbers, the topology, a latency histogram per terminal state,
//! the orders finished over time, and a swimlane for each way of failing that occurred. What
//! the page should contain is worked out here from the run's own JSON events and summary, not
//! from the report's code.
//!
//! The browser test loads the page in headless Chromium (Debian's `chromium`), checks the
//! parsed DOM and saves a screenshot as a CI artifact. Without Chromium it fails under CI (the
//! `CI` environment variable) and is skipped with a note elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{choreo, repo_path};

const SCENARIO: [&str; 4] = [
    "orders/swarm.jsonl",
    "--config",
    "config/scenarios/chaos.toml",
    "-q",
];

/// The report of the chaos scenario, with the run's summary and (with `--format json`) events.
struct Chaos {
    html: String,
    summary: Value,
    events: Vec<Value>,
}

/// Runs the chaos scenario writing the report to `report`, with `--format format`; returns
/// the page, stdout and the summary.
fn run_chaos(report: &Path, format: &str) -> (String, String, Value) {
    let summary_path = report.with_extension("summary.json");
    let mut args = vec!["run".to_string()];
    args.extend(SCENARIO.iter().map(|s| s.to_string()));
    args.extend([
        "--format".into(),
        format.into(),
        "--report".into(),
        path_arg(report),
        "--summary".into(),
        path_arg(&summary_path),
    ]);
    let run = choreo(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = std::fs::read_to_string(report).expect("the report was written");
    let summary = std::fs::read_to_string(&summary_path).expect("the summary was written");
    let summary = serde_json::from_str(&summary).expect("summary JSON");
    (html, run.stdout, summary)
}

fn chaos() -> Chaos {
    let dir = tempfile::tempdir().expect("temp dir");
    let (html, _, summary) = run_chaos(&dir.path().join("r.html"), "none");
    let (with_events, stdout, _) = run_chaos(&dir.path().join("events.html"), "json");
    assert_eq!(
        without_machine(&html),
        without_machine(&with_events),
        "the same run gives the same page, whatever the output format"
    );
    let events = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON event per line"))
        .collect();
    Chaos {
        html,
        summary,
        events,
    }
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("utf-8 temp path").to_string()
}

/// The page without its footer, the one part that measures the machine.
fn without_machine(html: &str) -> &str {
    html.split("<footer>").next().unwrap_or(html)
}

/// The element that starts with `start` (e.g. `<svg id="x"`), up to its closing `</tag>`.
fn element<'a>(html: &'a str, start: &str) -> &'a str {
    let at = html
        .find(start)
        .unwrap_or_else(|| panic!("the page has {start}"));
    let tag = start
        .trim_start_matches('<')
        .split([' ', '>'])
        .next()
        .expect("a tag name");
    let close = format!("</{tag}>");
    let end = html[at..]
        .find(&close)
        .unwrap_or_else(|| panic!("{start} is closed"));
    &html[at..at + end + close.len()]
}

/// How each order ended, worked out from its events the way the README draws the flow:
/// the failure that started the end decides.
fn outcomes(events: &[Value]) -> BTreeMap<u64, String> {
    let mut by_order: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for event in events {
        let order = event["order_id"].as_u64().expect("order_id");
        by_order.entry(order).or_default().push(event);
    }
    by_order
        .into_iter()
        .map(|(order, events)| {
            let of = |kind: &str| events.iter().find(|e| e["event"] == kind);
            let outcome = if of("ShippingArranged").is_some() {
                "completed".to_string()
            } else if let Some(letter) = of("DeadLettered") {
                format!(
                    "dead-lettered-{}",
                    letter["service"].as_str().expect("service")
                )
            } else if let Some(declined) = of("PaymentDeclined") {
                declined["reason"]
                    .as_str()
                    .expect("reason")
                    .replace('_', "-")
            } else if of("ShippingFailed").is_some() {
                "shipping-failed".to_string()
            } else if let Some(rejected) = of("OrderRejected") {
                if rejected["available"].is_null() {
                    "unknown-product".to_string()
                } else {
                    "out-of-stock".to_string()
                }
            } else {
                panic!("order {order} did not finish")
            };
            (order, outcome)
        })
        .collect()
}

/// The service whose failure started each cancellation, as the issue defines it.
fn cancellations_by_service(events: &[Value]) -> BTreeMap<String, u64> {
    let mut by_service = BTreeMap::new();
    let mut started: BTreeMap<u64, String> = BTreeMap::new();
    for event in events {
        let order = event["order_id"].as_u64().expect("order_id");
        let service = event["service"].as_str().expect("service");
        match event["event"].as_str().expect("event") {
            "PaymentDeclined" | "ShippingFailed" | "DeadLettered" => {
                started.entry(order).or_insert_with(|| service.to_string());
            }
            "OrderCancelled" => {
                let service = started.get(&order).expect("a cancellation has a cause");
                *by_service.entry(service.clone()).or_insert(0) += 1;
            }
            _ => {}
        }
    }
    by_service
}

/// The `data-value` of the element with `id`.
fn data_value(html: &str, id: &str) -> u64 {
    let start = html
        .find(&format!("id=\"{id}\" data-value=\""))
        .unwrap_or_else(|| panic!("the page has #{id} with a value"));
    let rest = &html[start + format!("id=\"{id}\" data-value=\"").len()..];
    rest[..rest.find('"').expect("closing quote")]
        .parse()
        .expect("a number")
}

/// Every `href` is a link within the page, to an element that exists; nothing is loaded.
fn assert_self_contained(html: &str) {
    for needle in [
        "http://", "https://", "src=", "<script", "<link", "<img", "<iframe", "@import", "url(h",
        "//cdn",
    ] {
        assert!(
            !html.to_ascii_lowercase().contains(needle),
            "the page must not reference anything outside itself: found {needle:?}"
        );
    }
    for href in html.split("href=\"").skip(1) {
        let target = &href[..href.find('"').expect("closing quote")];
        let id = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("a link leaves the page: {target}"));
        assert!(
            html.contains(&format!("id=\"{id}\"")),
            "a link points nowhere: {target}"
        );
    }
    for url in html.split("url(").skip(1) {
        assert!(
            url.starts_with('#'),
            "url() must be within the page: {url:.40}"
        );
    }
}

#[test]
fn the_chaos_report_shows_every_part_of_the_run() {
    let Chaos {
        html,
        summary,
        events,
    } = chaos();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    assert!(
        html.len() < 200 * 1024,
        "the page stays small: {} bytes",
        html.len()
    );
    assert_self_contained(&html);

    // The summary's numbers.
    for (id, key) in [
        ("summary-orders", "orders"),
        ("summary-completed", "completed"),
        ("summary-rejected", "rejected"),
        ("summary-cancelled", "cancelled"),
        ("summary-unfinished", "unfinished"),
        ("summary-events", "events"),
        ("summary-lost", "lost_events"),
        ("summary-revenue", "revenue_cents"),
    ] {
        assert_eq!(
            data_value(&html, id),
            summary[key].as_u64().expect("a count"),
            "#{id} shows the summary's {key}"
        );
    }
    assert_eq!(summary["orders"], 1000);
    assert_eq!(
        events.len() as u64,
        summary["events"].as_u64().expect("events")
    );

    // The topology: an SVG graph with the four services, and the wiring they declare.
    let topology = element(&html, "<svg id=\"topology-graph\"");
    for service in [
        "OrderService",
        "InventoryService",
        "PaymentService",
        "ShippingService",
    ] {
        assert!(
            topology.contains(&format!("<g id=\"node-{service}\">")),
            "{service} is a node"
        );
        assert!(
            topology.contains(&format!(">{service}</text>")),
            "{service} is named"
        );
    }
    for edge in [
        "OrderService \u{2192} InventoryService",
        "InventoryService \u{2192} PaymentService",
        "PaymentService \u{2192} ShippingService",
        "ShippingService \u{2192} PaymentService",
        "PaymentService \u{2192} InventoryService",
        "InventoryService \u{2192} OrderService",
    ] {
        assert!(
            topology.contains(&format!("<title>{edge}</title>")),
            "the graph has {edge}"
        );
    }

    // A latency histogram per terminal state, whose bars hold every order of that state.
    for state in ["completed", "rejected", "cancelled"] {
        let count = summary["latency_ms"][state]["count"]
            .as_u64()
            .expect("count");
        assert!(count > 0, "chaos has {state} orders");
        let chart = element(&html, &format!("<svg id=\"latency-{state}\""));
        let in_bars: u64 = chart
            .split("<rect class=\"bar\"")
            .skip(1)
            .map(|bar| {
                let title = &bar[bar.find("<title>").expect("a bar has a title")..];
                let n = title[..title.find(" orders</title>").expect("orders")]
                    .rsplit(": ")
                    .next()
                    .expect("a count");
                n.replace(',', "").parse::<u64>().expect("a number")
            })
            .sum();
        assert_eq!(
            in_bars, count,
            "the {state} histogram holds every {state} order"
        );
        for marker in ["p50 ", "p90 ", "p99 "] {
            assert!(chart.contains(marker), "{state} shows {marker}");
        }
    }

    // Orders finished over time: every terminal state's slots add up to its count.
    let timeline = element(&html, "<svg id=\"completions\"");
    for state in ["completed", "rejected", "cancelled"] {
        assert!(
            timeline.contains(&format!("<rect class=\"slot {state}\"")),
            "{state} orders appear over time"
        );
    }
    let in_slots: u64 = timeline
        .split("<title>")
        .skip(1)
        .map(|title| {
            let text = &title[..title.find("</title>").expect("closed")];
            let counts = text.rsplit(": ").next().expect("counts");
            counts
                .split(", ")
                .map(|part| {
                    let n = part.split(' ').next().expect("a number");
                    n.replace(',', "").parse::<u64>().expect("a number")
                })
                .sum::<u64>()
        })
        .sum();
    assert_eq!(in_slots, 1000, "every finished order is somewhere in time");

    // A swimlane for each way of ending that occurred, and no more than a dozen in all.
    let outcomes = outcomes(&events);
    let kinds: BTreeSet<&String> = outcomes.values().collect();
    assert!(
        kinds.len() >= 6,
        "chaos fails in many ways: {kinds:?} (the test would check too little)"
    );
    for kind in &kinds {
        assert!(
            html.contains(&format!("class=\"swimlane\" data-outcome=\"{kind}\"")),
            "a swimlane for {kind}"
        );
        assert!(
            html.contains(&format!("<tr data-outcome=\"{kind}\">")),
            "{kind} is in the failures table"
        );
    }
    for letter in summary["dead_letters"].as_array().expect("dead letters") {
        let service = letter["service"].as_str().expect("service");
        assert!(html.contains(&format!("data-outcome=\"dead-lettered-{service}\"")));
    }
    let lanes = html.matches("class=\"swimlane\"").count();
    assert!(lanes <= 12, "at most a dozen swimlanes: {lanes}");
    // Each swimlane names its order, and the order's events are all drawn.
    for lane in html.split("<figure id=\"order-").skip(1) {
        let id: u64 = lane[..lane.find('"').expect("id")].parse().expect("an id");
        let lane = &lane[..lane.find("</figure>").expect("closed")];
        let drawn = lane.matches("<g class=\"event\"").count();
        let had = events.iter().filter(|e| e["order_id"] == id).count();
        assert_eq!(drawn, had, "order {id}: every event is drawn");
    }

    // Which service caused the most cancellations.
    let by_service = cancellations_by_service(&events);
    let (top, most) = by_service
        .iter()
        .max_by_key(|(service, n)| (**n, std::cmp::Reverse((*service).clone())))
        .expect("chaos cancels orders");
    assert!(
        html.contains(&format!("id=\"most-cancellations\" data-service=\"{top}\"")),
        "{top} started the most cancellations ({by_service:?})"
    );
    let table = element(&html, "<table id=\"cancellations-by-service\"");
    for (service, n) in &by_service {
        assert!(
            table.contains(&format!(
                "data-service=\"{service}\"><td><span class=\"dot\" style=\"background:"
            )),
            "{service} has a row"
        );
        let row = &table[table
            .find(&format!("data-service=\"{service}\""))
            .expect("row")..];
        assert!(
            row.contains(&format!("<td class=\"n\">{n}</td>")),
            "{service} caused {n} cancellations"
        );
    }
    assert!(*most > 0);

    // How long each step took.
    let steps = element(&html, "<table id=\"step-durations\"");
    assert!(
        steps.contains("InventoryChecked</span> \u{2192} <span class=\"ev fwd\">PaymentProcessed")
    );
}

#[test]
fn a_report_is_written_for_a_failed_run_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("failed.html");
    // Nothing is shipped in time: every order is still in flight when the time limit hits.
    let run = choreo([
        "run",
        "orders/mixed.jsonl",
        "--format",
        "none",
        "-q",
        "--set",
        "run.time_limit=\"10ms\"",
        "--set",
        "simulation.latency.shipping={ model = \"fixed\", ms = 1000 }",
        "--report",
        &path_arg(&report),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let html = std::fs::read_to_string(&report).expect("the report was written");
    assert!(
        html.contains("id=\"run-failed\""),
        "the page says the run failed"
    );
    assert!(
        html.contains("data-outcome=\"unfinished\""),
        "stuck orders are shown"
    );
    assert!(data_value(&html, "summary-unfinished") > 0);
    assert_self_contained(&html);
}

#[test]
fn a_report_that_cannot_be_created_is_bad_usage() {
    let run = choreo([
        "run",
        "orders/seed.json",
        "--report",
        "/nonexistent-dir/r.html",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("/nonexistent-dir/r.html"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// In a real browser

/// Debian's Chromium, or the one `CHOREO_CHROMIUM` names.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("CHOREO_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    path.exists().then_some(path)
}

use crate::helpers::in_ci;

/// Where CI collects artifacts: `CHOREO_ARTIFACTS`, or the repository's `target/`.
fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("CHOREO_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_path("target"));
    std::fs::create_dir_all(&dir).expect("create the artifacts directory");
    dir
}

/// Records an artifact in `artifacts.txt` beside it (replacing an older line for the same
/// name), and says where it is on stderr and stdout.
fn announce(dir: &Path, what: &str, path: &Path) {
    let line = format!("{what}: {}", path.display());
    eprintln!("{line}");
    let list = dir.join("artifacts.txt");
    let old = std::fs::read_to_string(&list).unwrap_or_default();
    let mut lines: Vec<&str> = old
        .lines()
        .filter(|l| !l.starts_with(&format!("{what}: ")))
        .collect();
    lines.push(&line);
    std::fs::write(&list, lines.join("\n") + "\n").expect("write artifacts.txt");
}

/// Runs headless Chromium on `page` with `extra` arguments, stdout to `stdout_to`, within a
/// minute. Returns its stderr when it fails.
fn run_chromium(chromium: &Path, page: &Path, extra: &[String], stdout_to: &Path) {
    let profile = tempfile::tempdir().expect("temp dir");
    let stderr_path = stdout_to.with_extension("stderr.txt");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(stdout_to).expect("create stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("create stderr file"))
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", chromium.display()));
    let limit = Duration::from_secs(60);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish within {limit:?}; its stderr:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "chromium failed ({status}); its stderr:\n{}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
}

/// A PNG's width and height, from its IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let be = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    (be(16), be(20))
}

#[test]
fn the_report_renders_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        let note = "headless Chromium is needed to check the report in a browser: install \
                    Debian's `chromium` package (`apt-get install -y chromium`; .ci/run does \
                    it) or point CHOREO_CHROMIUM at a Chromium binary";
        if in_ci() {
            panic!("{note}");
        }
        eprintln!("skipped: {note}");
        println!("skipped: {note}");
        return;
    };
    let started = Instant::now();
    let dir = artifacts_dir();
    let report = dir.join("report.html");
    let (html, _, summary) = run_chaos(&report, "none");
    let report = report.canonicalize().expect("absolute report path");

    // The DOM after load: the parsed page, with every key element in it.
    let work = tempfile::tempdir().expect("temp dir");
    let dom_path = work.path().join("dom.html");
    run_chromium(&chromium, &report, &["--dump-dom".into()], &dom_path);
    let dom = std::fs::read_to_string(&dom_path).expect("the DOM");
    let mut ids = vec![
        "summary".to_string(),
        "summary-completed".into(),
        "failures".into(),
        "outcomes".into(),
        "cancellations-by-service".into(),
        "topology-graph".into(),
        "latency-completed".into(),
        "latency-rejected".into(),
        "latency-cancelled".into(),
        "step-durations".into(),
        "completions".into(),
        "swimlanes".into(),
    ];
    for service in [
        "OrderService",
        "InventoryService",
        "PaymentService",
        "ShippingService",
    ] {
        ids.push(format!("node-{service}"));
    }
    for lane in html.split("<figure id=\"").skip(1) {
        ids.push(lane[..lane.find('"').expect("id")].to_string());
    }
    for id in &ids {
        assert!(
            dom.contains(&format!("id=\"{id}\"")),
            "#{id} is in the DOM after load"
        );
    }
    assert!(dom.contains("</svg>") && dom.contains("</html>"));
    let completed = summary["completed"].as_u64().expect("completed");
    assert!(dom.contains(&format!(
        "id=\"summary-completed\" data-value=\"{completed}\""
    )));

    // What it looks like.
    let screenshot = dir.join("report-screenshot.png");
    let _ = std::fs::remove_file(&screenshot);
    run_chromium(
        &chromium,
        &report,
        &[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1400,2000".into(),
        ],
        &work.path().join("screenshot.log"),
    );
    let png = std::fs::read(&screenshot).expect("the screenshot was saved");
    assert_eq!(png_size(&png), (1400, 2000));
    // A blank or unstyled page compresses to far less than a page of text and charts.
    assert!(
        png.len() > 100_000,
        "the screenshot looks empty: {} bytes",
        png.len()
    );
    announce(&dir, "report", &report);
    announce(&dir, "report screenshot", &screenshot);
    eprintln!("browser test took {:.1} s", started.elapsed().as_secs_f64());
}
