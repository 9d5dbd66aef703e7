//! The page: its head and foot, the styles, and each section's text and tables. The charts
//! are drawn by [`super::svg`].

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::engine::stats::Summary;
use crate::engine::{Choreography, Name, Outcome};
use crate::engine::{Envelope, Kinds};
use crate::input::InstanceId;
use crate::view::diagram::Declaration;

use super::collect::{Ending, EndingOf};
use super::html::{dur, esc, ms, ms_to_us, num, Page};
use super::svg::{bar_range, histogram_svg, swimlane, timeline_svg, topology_svg};
use super::{
    and_list, outcome_color, position, service_color, terminal_kinds, Drawn, Report, FIRST_IDS,
    SAMPLE_MAX, SAMPLE_UNFINISHED,
};

impl Page {
    pub fn head<C: Choreography>(&mut self, report: &Report<C>, summary: &Summary<C>) {
        self.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        self.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        say!(
            self,
            "<title>choreo run report: {} orders, seed {}</title>\n",
            num(summary.orders),
            report.seed
        );
        self.raw("<style>\n");
        self.raw(STYLE);
        self.raw("</style>\n</head>\n<body>\n<main>\n");
        // Arrowheads shared by every chart (ids are global to the page).
        self.raw(
            "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\"><defs>",
        );
        for drawn in Drawn::ALL {
            w!(
                self,
                "<marker id=\"arrow-{}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" \
                 markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" \
                 fill=\"{}\"/></marker>",
                drawn.class(),
                drawn.ink()
            );
        }
        self.raw("</defs></svg>\n");
        self.raw("<header id=\"top\">\n<h1>choreo run report</h1>\n");
        say!(
            self,
            "<p class=\"lead\">{} orders through {} \u{b7} seed {} \u{b7} {} of run time \u{b7} \
             {} events</p>\n",
            num(summary.orders),
            and_list(C::Service::ALL, "and"),
            report.seed,
            dur(ms_to_us(summary.elapsed_ms)),
            num(summary.events),
        );
        self.raw(
            "<nav>\n<a href=\"#summary\">Summary</a>\n<a href=\"#failures\">Failures</a>\n\
             <a href=\"#topology\">Topology</a>\n<a href=\"#latency\">Latency</a>\n\
             <a href=\"#steps\">Steps</a>\n<a href=\"#over-time\">Over time</a>\n\
             <a href=\"#swimlanes\">Swimlanes</a>\n</nav>\n</header>\n",
        );
    }

    pub fn foot<C: Choreography>(&mut self, summary: &Summary<C>) {
        self.raw("<footer>\n");
        w!(
            self,
            "<p>Written by choreo {}. Machine (differs between runs of the same seed): \
             wall time {}",
            env!("CARGO_PKG_VERSION"),
            dur(summary.machine.wall_ms.saturating_mul(1000)),
        );
        if let Some(kib) = summary.machine.peak_rss_kib {
            w!(self, ", peak memory {:.1} MiB", kib as f64 / 1024.0);
        }
        self.raw(".</p>\n</footer>\n</main>\n</body>\n</html>\n");
    }

    /// A card with a big number; `id` and `data-value` let tests and tools read it back.
    fn card(&mut self, id: &str, value: impl fmt::Display, shown: &str, label: &str, class: &str) {
        w!(
            self,
            "<div class=\"card {class}\" id=\"{id}\" data-value=\"{value}\"><b>{shown}</b><span>"
        );
        self.words(label);
        self.raw("</span></div>\n");
    }
}

const STYLE: &str = r#":root{--ink:#1c2333;--muted:#5d6678;--line:#dde2ea;--bg:#f4f6f9;--ok:#2f9e57;--rej:#d99a1e;--cx:#cf4a3c}
*{box-sizing:border-box}
html{background:var(--bg)}
body{margin:0;color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans","DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:20px 24px 40px}
header h1{font-size:26px;margin:4px 0 2px}
.lead{color:var(--muted);margin:0 0 10px}
nav{display:flex;flex-wrap:wrap;gap:6px}
nav a{color:var(--ink);text-decoration:none;border:1px solid var(--line);background:#fff;border-radius:14px;padding:2px 11px;font-size:13px}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 20px 16px;margin:16px 0}
h2{font-size:19px;margin:2px 0 6px}
h3{font-size:15px;margin:16px 0 4px}
p{margin:6px 0}
.note{color:var(--muted);font-size:13px;max-width:880px}
.banner{background:#fdecea;border:1px solid #e9aaa4;color:#7d1f16;border-radius:8px;padding:8px 12px;margin:8px 0;font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:10px 0}
.card{border:1px solid var(--line);border-left:5px solid #9aa3b5;border-radius:7px;padding:7px 11px}
.card b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.card span{color:var(--muted);font-size:12px}
.card.completed{border-left-color:var(--ok)}.card.rejected{border-left-color:var(--rej)}.card.cancelled{border-left-color:var(--cx)}.card.bad{border-left-color:#7d1f16;background:#fdecea}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:6px 26px}
table{border-collapse:collapse;width:100%;margin:6px 0 4px;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:12px;white-space:nowrap}
td:first-child{white-space:nowrap}
#outcomes td:first-child{white-space:normal}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.top td{background:#fff6e5}
tr.never td{color:var(--muted);font-style:italic}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px;vertical-align:-1px}
.meter{display:inline-block;height:9px;background:#cf4a3c;border-radius:2px;vertical-align:0}
.ev{font-weight:600}.ev.fwd{color:#22784a}.ev.comp{color:#a86400}.ev.fail{color:#b8382b}
.tag{display:inline-block;font-size:11px;background:#fbe3e0;color:#7d1f16;border-radius:9px;padding:0 7px;margin-left:6px}
svg{display:block;max-width:100%;height:auto;margin:6px 0}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans","DejaVu Sans",sans-serif;font-size:12px;fill:#1c2333}
svg .axis{stroke:#9aa3b5;stroke-width:1}
svg .grid{stroke:#eceff4;stroke-width:1}
svg .small{font-size:11px;fill:#5d6678}
svg .halo{paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}
figure{margin:18px 0 0;padding-top:12px;border-top:1px solid var(--line)}
figcaption{font-weight:600;font-size:14px}
figcaption .why{font-weight:400;color:var(--muted)}
.legend span{margin-right:14px;font-size:12.5px;white-space:nowrap}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
footer{color:var(--muted);font-size:12px;margin-top:18px}
"#;

// ---------------------------------------------------------------------------------------------
// Sections

impl<C: Choreography> Report<C> {
    pub(super) fn summary_section(&self, page: &mut Page, summary: &Summary<C>) {
        page.raw("<section id=\"summary\">\n<h2>Summary</h2>\n");
        if summary.unfinished > 0 || summary.lost_events > 0 {
            say!(
                page,
                "<p class=\"banner\" id=\"run-failed\">The run did not finish cleanly: {} orders \
                 unfinished, {} events lost. The report shows what happened up to the end.</p>\n",
                num(summary.unfinished),
                num(summary.lost_events)
            );
        }
        page.raw("<div class=\"cards\">\n");
        let finished = summary.finished().max(1);
        let share = |n: u64| format!("{:.1}% of finished", 100.0 * n as f64 / finished as f64);
        page.card(
            "summary-orders",
            summary.orders,
            &num(summary.orders),
            "orders read",
            "",
        );
        for outcome in Outcome::ALL {
            let n = match outcome {
                Outcome::Completed => summary.completed,
                Outcome::Rejected => summary.rejected,
                Outcome::Cancelled => summary.cancelled,
            };
            page.card(
                &format!("summary-{outcome}"),
                n,
                &num(n),
                &format!("{outcome} \u{b7} {}", share(n)),
                outcome.name(),
            );
        }
        let bad = |n: u64| if n > 0 { "bad" } else { "" };
        page.card(
            "summary-unfinished",
            summary.unfinished,
            &num(summary.unfinished),
            "unfinished",
            bad(summary.unfinished),
        );
        page.card(
            "summary-events",
            summary.events,
            &num(summary.events),
            "events published",
            "",
        );
        page.card(
            "summary-lost",
            summary.lost_events,
            &num(summary.lost_events),
            "events lost to lag",
            bad(summary.lost_events),
        );
        // The choreography's own figures: its numbers as cards, its lists as tables.
        let figures = figures(summary);
        for (key, value) in &figures {
            if value.is_scalar() {
                page.card(
                    &format!("summary-{}", slug(key)),
                    value.data_value(),
                    &value.text(key),
                    &esc(&words(key)),
                    "",
                );
            }
        }
        page.card(
            "summary-elapsed",
            ms_to_us(summary.elapsed_ms),
            &dur(ms_to_us(summary.elapsed_ms)),
            &format!("run time \u{b7} {:.0} orders/s", summary.orders_per_second),
            "",
        );
        page.raw("</div>\n<div class=\"cols\">\n<div>\n");

        page.raw("<h3>Latency, from arrival to the terminal event</h3>\n");
        page.words(
            "<table id=\"summary-latency\"><tr><th>state</th><th class=\"n\">orders</th>\
             <th class=\"n\">p50</th><th class=\"n\">p90</th><th class=\"n\">p99</th>\
             <th class=\"n\">max</th></tr>\n",
        );
        for (state, stats) in summary.latency_ms.by_state() {
            let shown = |value: f64| {
                if stats.count == 0 {
                    "\u{2013}".to_string()
                } else {
                    ms(value)
                }
            };
            let color = Outcome::ALL
                .into_iter()
                .find(|o| o.name() == state)
                .map_or("#9aa3b5", outcome_color);
            w!(
                page,
                "<tr><td><span class=\"dot\" style=\"background:{color}\"></span>{state}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                num(stats.count),
                shown(stats.p50),
                shown(stats.p90),
                shown(stats.p99),
                shown(stats.max)
            );
        }
        page.words("</table>\n<p class=\"note\">Measured by the supervisor from each order's arrival, so it includes waiting for room on the bus.</p>\n");

        page.raw("<h3>Services</h3>\n<table id=\"summary-services\"><tr><th>service</th><th class=\"n\">restarts after a crash</th><th class=\"n\">events dead-lettered</th></tr>\n");
        for &service in C::Service::ALL {
            let restarts = summary.restarts.get(&service).copied().unwrap_or(0);
            let letters = summary.dead_lettered.get(&service).copied().unwrap_or(0);
            w!(
                page,
                "<tr><td><span class=\"dot\" style=\"background:{}\"></span>{service}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                service_color(service),
                num(restarts),
                num(letters)
            );
        }
        page.raw("</table>\n</div>\n<div>\n");

        for (key, value) in &figures {
            if !value.is_scalar() {
                figure_table(page, key, value);
            }
        }
        if summary.lines > 0 {
            say!(
                page,
                "<h3>Input</h3>\n<p id=\"summary-input\">{} lines: {} orders, {} blank, {} \
                 invalid, {} not read.</p>\n",
                num(summary.lines),
                num(summary.orders),
                num(summary.blank_lines),
                num(summary.invalid_lines),
                num(summary.unread_lines)
            );
        }
        if !summary.dead_letters.is_empty() {
            w!(
                page,
                "<h3>Dead letters</h3>\n<p id=\"summary-dead-letters\">{} events given up on \
                 after repeated crashes, first: ",
                num(summary.dead_lettered.values().sum::<u64>())
            );
            for (i, letter) in summary.dead_letters.iter().take(5).enumerate() {
                let sep = if i == 0 { "" } else { "; " };
                say!(
                    page,
                    "{sep}order {} ({} on {}, {} crashes)",
                    letter.order_id,
                    letter.service,
                    letter.event,
                    letter.crashes
                );
            }
            if summary.dead_lettered.values().sum::<u64>() > 5 {
                page.raw("; \u{2026}");
            }
            page.raw(".</p>\n");
        }
        page.raw("</div>\n</div>\n</section>\n");
    }

    pub(super) fn failures_section(
        &self,
        page: &mut Page,
        unfinished: &[(InstanceId, &[Envelope<C>])],
    ) {
        page.words("<section id=\"failures\">\n<h2>Which orders failed, and why</h2>\n");
        page.words("<p class=\"note\">Each way an order can end, with the service whose failure started it. Every kind that occurred has a swimlane below; the order ids link to it.</p>\n");
        page.words(
            "<table id=\"outcomes\"><tr><th>how the order ended</th><th class=\"n\">orders</th>\
             <th class=\"n\">share</th><th>started by</th><th>first orders to end this way</th></tr>\n",
        );
        let finished: u64 = self.outcomes.values().map(|t| t.count).sum();
        let sampled: Vec<InstanceId> = self
            .sample
            .iter()
            .filter_map(|s| s.events.first().map(|e| e.order_id))
            .chain(
                unfinished
                    .iter()
                    .take(self.unfinished_shown(unfinished))
                    .map(|(id, _)| *id),
            )
            .collect();
        let mut rows: Vec<(EndingOf<C>, u64, Vec<InstanceId>)> = self
            .endings()
            .map(|t| (t.ending.clone(), t.count, t.first.clone()))
            .collect();
        if !unfinished.is_empty() {
            let first = unfinished
                .iter()
                .take(FIRST_IDS)
                .map(|(id, _)| *id)
                .collect();
            rows.push((EndingOf::<C>::unfinished(), unfinished.len() as u64, first));
        }
        if rows.is_empty() {
            page.words("<tr><td colspan=\"5\">No order reached an end.</td></tr>\n");
        }
        for (ending, count, mut first) in rows {
            first.sort_unstable();
            let share = if ending.outcome.is_none() || finished == 0 {
                String::new()
            } else {
                format!("{:.1}%", 100.0 * count as f64 / finished as f64)
            };
            w!(
                page,
                "<tr data-outcome=\"{}\"><td><span class=\"dot\" style=\"background:{}\"></span>{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{share}</td><td>{}</td><td>",
                esc(ending.slug()),
                ending.color(),
                esc(&ending.label()),
                num(count),
                ending.started_by().map_or("", Name::name),
            );
            for (i, id) in first.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                if sampled.contains(id) {
                    say!(page, "{sep}<a href=\"#order-{id}\">{id}</a>");
                } else {
                    w!(page, "{sep}{id}");
                }
            }
            if count > first.len() as u64 {
                page.raw(", \u{2026}");
            }
            page.raw("</td></tr>\n");
        }
        page.raw("</table>\n");

        // Cancellations by the service whose failure started the compensation.
        let mut by_service: BTreeMap<C::Service, Started<'_, C::Service, C::Kind>> =
            BTreeMap::new();
        let mut cancelled = 0;
        for tally in self.endings() {
            if tally.ending.outcome != Some(Outcome::Cancelled) {
                continue;
            }
            cancelled += tally.count;
            if let Some(service) = tally.ending.started_by() {
                let entry = by_service.entry(service).or_default();
                entry.0 += tally.count;
                entry.1.push((&tally.ending, tally.count));
            }
        }
        page.raw("<h3>Cancellations by the service whose failure started the compensation</h3>\n");
        w!(
            page,
            "<p class=\"note\">{}</p>\n",
            self.cancellations_note()
        );
        let mut ranked: Vec<_> = by_service.into_iter().collect();
        ranked.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
        if let Some((top, (n, _))) = ranked.first() {
            w!(
                page,
                "<p id=\"most-cancellations\" data-service=\"{top}\"><b>{top}</b> started the most \
                 cancellations: {} of {} ({:.0}%).</p>\n",
                num(*n),
                num(cancelled),
                100.0 * *n as f64 / cancelled.max(1) as f64
            );
        } else {
            page.words("<p id=\"most-cancellations\">No order was cancelled.</p>\n");
        }
        page.raw(
            "<table id=\"cancellations-by-service\"><tr><th>service</th><th class=\"n\">cancellations</th>\
             <th></th><th>why</th></tr>\n",
        );
        let most = ranked.first().map_or(0, |(_, (n, _))| *n).max(1);
        for (i, (service, (n, why))) in ranked.iter().enumerate() {
            let class = if i == 0 { " class=\"top\"" } else { "" };
            w!(
                page,
                "<tr{class} data-service=\"{service}\"><td><span class=\"dot\" style=\"background:{}\"></span>{service}</td>\
                 <td class=\"n\">{}</td><td><span class=\"meter\" style=\"width:{:.0}px\"></span></td><td>",
                service_color(*service),
                num(*n),
                200.0 * *n as f64 / most as f64
            );
            for (j, (ending, count)) in why.iter().enumerate() {
                let sep = if j == 0 { "" } else { "; " };
                w!(page, "{sep}{} {}", num(*count), esc(&ending.reason()));
            }
            page.raw("</td></tr>\n");
        }
        page.raw("</table>\n</section>\n");
    }

    /// The ways orders ended, in the order they are listed (see [`EndingOf::rank`]).
    fn endings(&self) -> impl Iterator<Item = &super::Tally<C::Service, C::Kind>> {
        let mut tallies: Vec<_> = self.outcomes.values().collect();
        tallies.sort_by(|a, b| a.ending.rank().cmp(&b.ending.rank()));
        tallies.into_iter()
    }

    /// Which failure events count for which service, from the causes that occurred: `X
    /// counts for A, Y for B, Z for the service that gave up.`, and whose refusals the
    /// rejections were.
    fn cancellations_note(&self) -> String {
        // Per kind that started a cancellation, in flow order: the service it counts for.
        let mut counted: Vec<(usize, C::Kind, String)> = Vec::new();
        let mut refused_by: Vec<Option<C::Service>> = Vec::new();
        for tally in self.outcomes.values() {
            let ending = &tally.ending;
            match ending.outcome {
                Some(Outcome::Cancelled) => {}
                Some(Outcome::Rejected) => {
                    if !refused_by.contains(&ending.started_by()) {
                        refused_by.push(ending.started_by());
                    }
                    continue;
                }
                Some(Outcome::Completed) | None => continue,
            }
            let Some((kind, dead_letter)) = ending.by else {
                continue;
            };
            let whom = match (dead_letter, ending.started_by()) {
                (true, _) => "the service that gave up".to_string(),
                (false, Some(service)) => service.name().to_string(),
                (false, None) => continue,
            };
            match counted.iter_mut().find(|(_, k, _)| *k == kind) {
                Some((_, _, counts_for)) if *counts_for != whom => {
                    *counts_for = "the service that published it".into();
                }
                Some(_) => {}
                None => counted.push((position(kind), kind, whom)),
            }
        }
        counted.sort_by_key(|(at, _, _)| *at);
        let mut note = String::new();
        for (i, (_, kind, whom)) in counted.iter().enumerate() {
            let counts = if i == 0 { " counts" } else { "" };
            let sep = if i == 0 { "" } else { ", " };
            note.push_str(&format!("{sep}{kind}{counts} for {whom}"));
        }
        if note.is_empty() {
            note.push_str("A cancellation counts for the service whose failure started it");
        }
        note.push_str(". ");
        match refused_by.as_slice() {
            [Some(service)] => note.push_str(&format!(
                "(Rejections are {service}'s refusals; they undo nothing, so they are not \
                 cancellations.)"
            )),
            _ => note.push_str("(Rejections undo nothing, so they are not cancellations.)"),
        }
        note
    }

    pub(super) fn topology_section(
        &self,
        page: &mut Page,
        summary: &Summary<C>,
        declarations: &[Declaration<C>],
    ) {
        page.raw("<section id=\"topology\">\n<h2>How the services are wired</h2>\n");
        page.raw("<p class=\"note\">Drawn from each service's declared <code>SUBSCRIBES</code> and <code>PUBLISHES</code> (the task loop refuses anything undeclared). An arrow from A to B carries the events A publishes and B reacts to, with how many were published in this run. Forward arrows run above, failures and compensations below. There is no coordinator: each service only reacts to events.</p>\n");
        page.raw("<div class=\"legend\"><span><span class=\"swatch\" style=\"background:#22784a\"></span>forward path</span><span><span class=\"swatch\" style=\"background:#b8382b\"></span>failure</span><span><span class=\"swatch\" style=\"background:#a86400\"></span>compensation</span></div>\n");
        // Orders enter at the service that publishes their first event.
        let entry = declarations
            .iter()
            .position(|(service, _, _)| self.entries.contains(*service))
            .unwrap_or(0);
        topology_svg(page, declarations, &self.published, summary, entry);

        page.raw("<h3>Who reacts to what</h3>\n<table id=\"wiring\"><tr><th>service</th><th>reacts to</th><th>publishes</th></tr>\n");
        for &(service, subscribes, publishes) in declarations {
            w!(
                page,
                "<tr><td><span class=\"dot\" style=\"background:{}\"></span>{service}</td><td>",
                service_color(service),
            );
            // A kind is the service's own only when no other service publishes it too
            // (a kind several services publish is a reaction to the others' for each).
            let others = declarations
                .iter()
                .filter(|(other, _, _)| *other != service)
                .fold(Kinds::default(), |acc, (_, _, publishes)| {
                    acc.union(*publishes)
                });
            let own = publishes.difference(others);
            kinds_list::<C>(page, subscribes, Some(own));
            page.raw("</td><td>");
            kinds_list::<C>(page, publishes, None);
            page.raw("</td></tr>\n");
        }
        let terminals = C::Kind::ALL
            .iter()
            .filter(|kind| C::outcome(**kind).is_some())
            .map(|kind| kind.name())
            .collect::<Vec<_>>()
            .join(", ");
        say!(page, "</table>\n<p class=\"note\">Every service also hears the terminal events ({terminals}) and drops what it kept about the order; \u{201c}own\u{201d} marks a service confirming its own event.</p>\n</section>\n");
    }

    /// What the run exercised: each declared handling and each possible ending, with counts,
    /// those never reached marked; the faults that fired.
    pub(super) fn coverage_section(&self, page: &mut Page, summary: &Summary<C>) {
        let coverage = &summary.coverage;
        page.raw("<section id=\"coverage\">\n<h2>What the run exercised</h2>\n");
        w!(
            page,
            "<p class=\"note\">{}.</p>\n",
            esc(&coverage.to_string())
        );
        page.raw("<table id=\"coverage-handlings\">\n<tr><th>service</th><th>handles</th><th>events</th></tr>\n");
        for (service, kind, events) in coverage.handlings() {
            let never = if events == 0 { " class=\"never\"" } else { "" };
            w!(
                page,
                "<tr{never}><td>{service}</td><td>{kind}</td><td>{}</td></tr>\n",
                num(events)
            );
        }
        page.words(
            "</table>\n<table id=\"coverage-endings\">\n<tr><th>ending</th><th>orders</th></tr>\n",
        );
        for (ending, instances) in coverage.endings() {
            let never = if instances == 0 {
                " class=\"never\""
            } else {
                ""
            };
            w!(
                page,
                "<tr{never}><td>{}</td><td>{}</td></tr>\n",
                esc(ending),
                num(instances)
            );
        }
        page.raw("</table>\n");
        if coverage.faults.is_empty() {
            page.raw("<p class=\"note\" id=\"coverage-faults\">No simulated fault fired.</p>\n");
        } else {
            page.raw("<table id=\"coverage-faults\">\n<tr><th>fault</th><th>times</th></tr>\n");
            for (fault, times) in &coverage.faults {
                w!(
                    page,
                    "<tr><td>{}</td><td>{}</td></tr>\n",
                    esc(fault),
                    num(*times)
                );
            }
            page.raw("</table>\n");
        }
        page.raw("</section>\n");
    }

    pub(super) fn latency_section(&self, page: &mut Page) {
        page.raw("<section id=\"latency\">\n<h2>Latency per terminal state</h2>\n");
        page.words("<p class=\"note\">Time from an order's arrival (its <code>at_ms</code>, or when the arrival process made it due; the wait for admission counts) to its terminal event, as in the summary's table above, in log-scale buckets (5 per power of ten); the dashed lines are p50, p90 and p99.</p>\n");
        let range = bar_range(self.latency.iter());
        for outcome in Outcome::ALL {
            let histogram = &self.latency[outcome.index()];
            w!(
                page,
                "<h3><span class=\"dot\" style=\"background:{}\"></span>{outcome}",
                outcome_color(outcome),
            );
            let terminals: Vec<_> = terminal_kinds::<C>(outcome).map(Name::name).collect();
            if !terminals.is_empty() {
                w!(page, " ({})", terminals.join(", "));
            }
            say!(page, " \u{b7} {} orders", num(histogram.count));
            if histogram.count > 0 {
                w!(
                    page,
                    " \u{b7} p50 {} \u{b7} p90 {} \u{b7} p99 {} \u{b7} max {}",
                    dur(histogram.quantile(0.5)),
                    dur(histogram.quantile(0.9)),
                    dur(histogram.quantile(0.99)),
                    dur(histogram.max)
                );
            }
            page.raw("</h3>\n");
            match range {
                Some(range) if histogram.count > 0 => {
                    histogram_svg(page, outcome, histogram, range);
                }
                _ => say!(
                    page,
                    "<p class=\"note\" id=\"latency-{outcome}\">No {outcome} orders.</p>\n"
                ),
            }
        }
        page.raw("</section>\n");
    }

    pub(super) fn steps_section(&self, page: &mut Page) {
        page.raw("<section id=\"steps\">\n<h2>How long each step took</h2>\n");
        page.words("<p class=\"note\">From an event's publication to the publication of the event it caused, per kind of step: queueing behind other orders' events, the service's simulated latency and retries, crashes and restarts. Percentiles are read from log-scale buckets (within about 6%).</p>\n");
        page.raw(
            "<table id=\"step-durations\"><tr><th>step</th><th>by</th><th class=\"n\">count</th>\
             <th class=\"n\">mean</th><th class=\"n\">p50</th><th class=\"n\">p90</th>\
             <th class=\"n\">p99</th><th class=\"n\">max</th></tr>\n",
        );
        let mut steps: Vec<_> = self.steps.iter().collect();
        // In flow order: by where the effect sits in the flow, then the cause.
        steps.sort_by_key(|((cause, effect), _)| (position(*effect), position(*cause)));
        for ((cause, effect), step) in steps {
            let d = &step.durations;
            w!(
                page,
                "<tr><td><span class=\"ev {}\">{cause}</span> \u{2192} <span class=\"ev {}\">{effect}</span></td>\
                 <td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                Drawn::of::<C>(*cause).class(),
                Drawn::of::<C>(*effect).class(),
                step.service,
                num(d.count),
                dur(d.mean()),
                dur(d.quantile(0.5)),
                dur(d.quantile(0.9)),
                dur(d.quantile(0.99)),
                dur(d.max)
            );
        }
        page.raw("</table>\n</section>\n");
    }

    pub(super) fn timeline_section(&self, page: &mut Page, summary: &Summary<C>) {
        page.words("<section id=\"over-time\">\n<h2>Orders finished over time</h2>\n");
        let end = self.last_at_us.max(ms_to_us(summary.elapsed_ms));
        say!(
            page,
            "<p class=\"note\">Orders reaching each terminal state per {} of run time (simulated \
             with the virtual clock), stacked; the line is the running total of completed orders.</p>\n",
            dur(self.timeline.slot_us)
        );
        page.raw("<div class=\"legend\">");
        for outcome in Outcome::ALL {
            w!(
                page,
                "<span><span class=\"swatch\" style=\"background:{}\"></span>{outcome}</span>",
                outcome_color(outcome),
            );
        }
        page.raw("</div>\n");
        timeline_svg(page, &self.timeline, end);
        page.raw("</section>\n");
    }

    /// How many unfinished orders get a swimlane: what room the sample leaves.
    fn unfinished_shown(&self, unfinished: &[(InstanceId, &[Envelope<C>])]) -> usize {
        unfinished
            .len()
            .min(SAMPLE_UNFINISHED)
            .min(SAMPLE_MAX.saturating_sub(self.sample.len()))
    }

    pub(super) fn swimlanes_section(
        &self,
        page: &mut Page,
        unfinished: &[(InstanceId, &[Envelope<C>])],
    ) {
        page.words("<section id=\"swimlanes\">\n<h2>Swimlanes: sample orders, step by step</h2>\n");
        page.words("<p class=\"note\">The first completed orders and the first order of every way of failing that occurred. One lane per service; each box is an event that service published, arrows go from cause to effect with the time between them. The bar under the lanes is the order's time to scale, coloured by the service that produced each next event.</p>\n");
        page.raw("<div class=\"legend\">");
        for &service in C::Service::ALL {
            w!(
                page,
                "<span><span class=\"swatch\" style=\"background:{}\"></span>{service}</span>",
                service_color(service)
            );
        }
        page.raw("</div>\n");
        let mut shown: Vec<(&EndingOf<C>, &[Envelope<C>])> = self
            .sample
            .iter()
            .map(|s| (&s.ending, s.events.as_slice()))
            .collect();
        shown.sort_by(|(a, a_events), (b, b_events)| {
            let first = |events: &[Envelope<C>]| events.first().map(|e| e.seq);
            a.rank()
                .cmp(&b.rank())
                .then(first(a_events).cmp(&first(b_events)))
        });
        let stuck = EndingOf::<C>::unfinished();
        shown.extend(
            unfinished
                .iter()
                .take(self.unfinished_shown(unfinished))
                .map(|(_, events)| (&stuck, *events)),
        );
        if shown.is_empty() {
            page.words("<p>No orders.</p>\n");
        }
        for (ending, events) in shown {
            swimlane(page, ending, events);
        }
        page.raw("</section>\n");
    }
}

/// The cancellations one service started: how many, and each way of ending with its count.
type Started<'a, S, K> = (u64, Vec<(&'a Ending<S, K>, u64)>);

fn kinds_list<C: Choreography>(
    page: &mut Page,
    kinds: Kinds<C::Kind>,
    own: Option<Kinds<C::Kind>>,
) {
    for (i, kind) in kinds.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        w!(
            page,
            "{sep}<span class=\"ev {}\">{kind}</span>",
            Drawn::of::<C>(kind).class()
        );
        if own.is_some_and(|own| own.contains(kind)) {
            page.raw(" (own)");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The choreography's own figures
//
// The report knows nothing of what a choreography counts (the shop's revenue and stock): it
// shows its `Stats` as they serialize, the way the summary's JSON has them. A number is a card
// (`revenue_cents` becomes `#summary-revenue`, in dollars), a list of records a table
// (`stock` becomes `#summary-stock`), in the order the fields are declared.

/// A JSON value whose objects keep their fields in the order they were written
/// (`serde_json::Value` sorts them).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Text(String),
    List(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = Json;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
                Json::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
                Ok(Json::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
                Ok(Json::Unsigned(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
                Ok(Json::Signed(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
                Ok(Json::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Json, E> {
                Ok(Json::Text(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Json, E> {
                Ok(Json::Text(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut fields = Vec::new();
                while let Some(field) = map.next_entry()? {
                    fields.push(field);
                }
                Ok(Json::Object(fields))
            }
        }
        deserializer.deserialize_any(Any)
    }
}

impl Json {
    fn is_scalar(&self) -> bool {
        !matches!(self, Json::List(_) | Json::Object(_))
    }

    fn is_number(&self) -> bool {
        matches!(self, Json::Unsigned(_) | Json::Signed(_) | Json::Float(_))
    }

    /// The value as written in `data-value`.
    fn data_value(&self) -> String {
        match self {
            Json::Null => String::new(),
            Json::Bool(b) => b.to_string(),
            Json::Unsigned(n) => n.to_string(),
            Json::Signed(n) => n.to_string(),
            Json::Float(n) => n.to_string(),
            Json::Text(text) => esc(text),
            Json::List(_) | Json::Object(_) => String::new(),
        }
    }

    /// The value for people, as the unit its `key` ends in says (`_cents`: dollars; `_id`:
    /// an id, without thousands separators), escaped.
    fn text(&self, key: &str) -> String {
        let id = key == "id" || key.ends_with("_id");
        let cents = key.ends_with("_cents");
        match self {
            Json::Null => "\u{2013}".into(),
            Json::Bool(b) => (if *b { "yes" } else { "no" }).into(),
            Json::Unsigned(n) if cents => format!("${}.{:02}", n / 100, n % 100),
            Json::Signed(n) if cents => {
                let sign = if *n < 0 { "\u{2212}" } else { "" };
                let n = n.unsigned_abs();
                format!("{sign}${}.{:02}", n / 100, n % 100)
            }
            Json::Unsigned(n) if id => n.to_string(),
            Json::Signed(n) if id => n.to_string(),
            Json::Unsigned(n) => num(*n),
            Json::Signed(n) => {
                let sign = if *n < 0 { "\u{2212}" } else { "" };
                format!("{sign}{}", num(n.unsigned_abs()))
            }
            // Past 64 bits (the shop's revenue can be), JSON reads a number as a float.
            Json::Float(n) if cents => format!("${:.2}", n / 100.0),
            Json::Float(n) => format!("{n:.2}"),
            Json::Text(text) => esc(text),
            Json::List(items) => items
                .iter()
                .map(|item| item.text(key))
                .collect::<Vec<_>>()
                .join(", "),
            Json::Object(fields) => fields
                .iter()
                .map(|(k, v)| format!("{} {}", esc(&words(k)), v.text(k)))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// The choreography's figures, in their order; none if they do not serialize to an object.
fn figures<C: Choreography>(summary: &Summary<C>) -> Vec<(String, Json)> {
    let json = serde_json::to_string(&summary.stats)
        .ok()
        .and_then(|text| serde_json::from_str::<Json>(&text).ok());
    match json {
        Some(Json::Object(fields)) => fields,
        _ => Vec::new(),
    }
}

/// A key as words: `revenue_cents` is `revenue`, `product_id` is `product id`.
fn words(key: &str) -> String {
    key.strip_suffix("_cents").unwrap_or(key).replace('_', " ")
}

/// A key for an element id: `revenue_cents` is `revenue`, `stock_left` is `stock-left`.
fn slug(key: &str) -> String {
    esc(&key
        .strip_suffix("_cents")
        .unwrap_or(key)
        .replace(['_', ' '], "-"))
}

/// A list or record of the choreography's figures, as a table under its name.
fn figure_table(page: &mut Page, key: &str, value: &Json) {
    let mut title = words(key);
    if let Some(first) = title.get(..1) {
        title = first.to_uppercase() + &title[1..];
    }
    w!(page, "<h3>{}</h3>\n", esc(&title));
    let id = slug(key);
    match value {
        Json::List(rows)
            if !rows.is_empty() && rows.iter().all(|r| matches!(r, Json::Object(_))) =>
        {
            // The columns: every field of any row, in the order they first appear.
            let mut columns: Vec<&str> = Vec::new();
            for row in rows {
                if let Json::Object(fields) = row {
                    for (name, _) in fields {
                        if !columns.contains(&name.as_str()) {
                            columns.push(name);
                        }
                    }
                }
            }
            let cell = |row: &'_ Json, column: &str| -> Option<Json> {
                match row {
                    Json::Object(fields) => fields
                        .iter()
                        .find(|(name, _)| name == column)
                        .map(|(_, v)| v.clone()),
                    _ => None,
                }
            };
            let numeric: Vec<bool> = columns
                .iter()
                .map(|column| {
                    rows.iter()
                        .all(|row| cell(row, column).is_none_or(|v| v.is_number()))
                })
                .collect();
            w!(page, "<table id=\"summary-{id}\"><tr>");
            for (column, numeric) in columns.iter().zip(&numeric) {
                let class = if *numeric { " class=\"n\"" } else { "" };
                w!(page, "<th{class}>{}</th>", esc(&words(column)));
            }
            page.raw("</tr>\n");
            for row in rows {
                page.raw("<tr>");
                for (column, numeric) in columns.iter().zip(&numeric) {
                    let class = if *numeric { " class=\"n\"" } else { "" };
                    let text = cell(row, column).map_or(String::new(), |v| v.text(column));
                    w!(page, "<td{class}>{text}</td>");
                }
                page.raw("</tr>\n");
            }
            page.raw("</table>\n");
        }
        Json::Object(fields) => {
            w!(page, "<table id=\"summary-{id}\">\n");
            for (name, v) in fields {
                let class = if v.is_number() { " class=\"n\"" } else { "" };
                w!(
                    page,
                    "<tr><td>{}</td><td{class}>{}</td></tr>\n",
                    esc(&words(name)),
                    v.text(name)
                );
            }
            page.raw("</table>\n");
        }
        Json::List(items) if items.is_empty() => {
            w!(page, "<p id=\"summary-{id}\">None.</p>\n");
        }
        other => {
            w!(page, "<p id=\"summary-{id}\">{}.</p>\n", other.text(key));
        }
    }
}
