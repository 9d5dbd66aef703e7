//! The charts, as inline SVG: the topology, latency histograms, orders over time, swimlanes.

use std::fmt;

use crate::engine::stats::Summary;
use crate::engine::Envelope;
use crate::engine::{Choreography, Name, Outcome};
use crate::view::diagram::Declaration;

use super::collect::{EndingOf, LogHistogram, Timeline, BARS_PER_DECADE, DECADES};
use super::html::{dur, esc, facts, num, Page};
use super::{outcome_color, position, service_color, Drawn, TIME_SLOTS};

/// The topology as arcs between the service boxes, laid out in [`Name::ALL`] order. Orders
/// enter from the order file at the service at `entry` (its position among the boxes).
pub(super) fn topology_svg<C: Choreography>(
    page: &mut Page,
    services: &[Declaration<C>],
    published: &[u64],
    summary: &Summary<C>,
    entry: usize,
) {
    const NODE_W: f64 = 234.0;
    const NODE_H: f64 = 80.0;
    const LINE: f64 = 15.0;
    /// From one service box's centre to the next.
    const COLUMN: f64 = 263.0;
    /// Room right of the last box, for its border and an arrow's head.
    const MARGIN: f64 = 16.0;
    let n = services.len();
    let center = |i: usize| 245.0 + COLUMN * i as f64;
    // Wide enough for the last box whole, however many services there are.
    let width = center(n.max(1) - 1) + NODE_W / 2.0 + MARGIN;

    // Edges: publisher -> subscriber, with the events that travel that way.
    struct Edge<K> {
        from: usize,
        to: usize,
        kinds: Vec<K>,
    }
    let mut edges = Vec::new();
    for (from, (_, _, publishes)) in services.iter().enumerate() {
        for (to, (_, subscribes, _)) in services.iter().enumerate() {
            let kinds: Vec<C::Kind> = publishes
                .iter()
                .filter(|k| from != to && subscribes.contains(*k))
                .collect();
            if !kinds.is_empty() {
                edges.push(Edge { from, to, kinds });
            }
        }
    }
    // Each side stacks arcs by span: an arc's apex clears the labels of every shorter one, and
    // it goes straight out from its boxes until it is past them (`straight`), then bends: a
    // curve from the box would cross the labels under (or over) the boxes it starts at.
    let mut apex = [vec![0.0f64; n.max(1)], vec![0.0f64; n.max(1)]];
    let mut straight = [vec![0.0f64; n.max(1)], vec![0.0f64; n.max(1)]];
    let mut extent = [0.0f64; 2];
    for (side, forward) in [(0usize, true), (1, false)] {
        let mut clear = 18.0;
        for (span, apex) in apex[side].iter_mut().enumerate().skip(1) {
            straight[side][span] = if span == 1 { 0.0 } else { clear };
            *apex = clear + 14.0;
            let tallest = edges
                .iter()
                .filter(|e| (e.to > e.from) == forward && e.from.abs_diff(e.to) == span)
                .map(|e| e.kinds.len())
                .max()
                .unwrap_or(0);
            clear = *apex + tallest as f64 * LINE + 6.0;
        }
        extent[side] = clear + 8.0;
    }
    let [above, below] = extent;
    let node_top = above;
    let height = above + NODE_H + below;
    w!(
        page,
        "<svg id=\"topology-graph\" viewBox=\"0 0 {width} {height:.0}\" width=\"{width}\" \
         height=\"{height:.0}\" role=\"img\" aria-label=\"Services and the events between them\">\n"
    );
    // The order file feeding the service that starts every order.
    let entry_y = node_top + NODE_H / 2.0;
    say!(
        page,
        "<rect x=\"8\" y=\"{:.0}\" width=\"82\" height=\"30\" rx=\"15\" fill=\"#eef1f6\" \
         stroke=\"#9aa3b5\"/><text x=\"49\" y=\"{:.0}\" text-anchor=\"middle\" class=\"small\">order file</text>\
         <line x1=\"90\" y1=\"{entry_y:.0}\" x2=\"{:.0}\" y2=\"{entry_y:.0}\" stroke=\"#22784a\" \
         stroke-width=\"1.6\" marker-end=\"url(#arrow-fwd)\"/>\n",
        entry_y - 15.0,
        entry_y + 4.0,
        center(entry) - NODE_W / 2.0,
    );
    let mut labels = String::new();
    for edge in &edges {
        let forward = edge.to > edge.from;
        let span = edge.from.abs_diff(edge.to);
        let side = usize::from(!forward);
        // Apex of a cubic with both control points at depth h is 0.75 h.
        let out = straight[side][span];
        let depth = (apex[side][span] - out) / 0.75;
        // Longer arcs leave and reach a box nearer its middle, outside the shorter ones, so
        // that arcs nest rather than cross, and their straight parts keep clear of the
        // shorter arcs' labels, which are centred between those arcs' ends.
        let shift = 12.0 + 16.0 * n.saturating_sub(span) as f64;
        let (x1, x2) = if forward {
            (center(edge.from) + shift, center(edge.to) - shift)
        } else {
            (center(edge.from) - shift, center(edge.to) + shift)
        };
        let (y, ys, cy) = if forward {
            (node_top, node_top - out, node_top - out - depth)
        } else {
            let bottom = node_top + NODE_H;
            (bottom, bottom + out, bottom + out + depth)
        };
        let curve = format!("C{x1:.0},{cy:.0} {x2:.0},{cy:.0} {x2:.0},{ys:.0}");
        let d = if out > 0.0 {
            format!("M{x1:.0},{y:.0} L{x1:.0},{ys:.0} {curve} L{x2:.0},{y:.0}")
        } else {
            format!("M{x1:.0},{y:.0} {curve}")
        };
        let strongest = edge
            .kinds
            .iter()
            .map(|k| Drawn::of::<C>(*k))
            .min()
            .unwrap_or(Drawn::Failure);
        let dash = if strongest == Drawn::Forward {
            ""
        } else {
            " stroke-dasharray=\"6 4\""
        };
        w!(
            page,
            "<path d=\"{d}\" fill=\"none\" \
             stroke=\"{}\" stroke-width=\"1.6\"{dash} marker-end=\"url(#arrow-{})\"><title>{} \u{2192} {}</title></path>\n",
            strongest.ink(),
            strongest.class(),
            services[edge.from].0,
            services[edge.to].0
        );
        let mx = (x1 + x2) / 2.0;
        let apex_y = if forward {
            node_top - apex[side][span]
        } else {
            node_top + NODE_H + apex[side][span]
        };
        for (i, kind) in edge.kinds.iter().enumerate() {
            let ly = if forward {
                apex_y - 5.0 - (edge.kinds.len() - 1 - i) as f64 * LINE
            } else {
                apex_y + 14.0 + i as f64 * LINE
            };
            let _ = fmt::Write::write_fmt(
                &mut labels,
                format_args!(
                    "<text x=\"{mx:.0}\" y=\"{ly:.0}\" text-anchor=\"middle\" class=\"halo\" \
                     style=\"fill:{}\">{kind} <tspan class=\"small\">{}</tspan></text>\n",
                    Drawn::of::<C>(*kind).ink(),
                    num(published
                        .get(super::published_at::<C>(services[edge.from].0, *kind))
                        .copied()
                        .unwrap_or(0))
                ),
            );
        }
    }
    for (i, &(service, subscribes, publishes)) in services.iter().enumerate() {
        let x = center(i) - NODE_W / 2.0;
        let restarts = summary.restarts.get(&service).copied().unwrap_or(0);
        let dead_lettered = summary.dead_lettered.get(&service).copied().unwrap_or(0);
        let ends: Vec<C::Kind> = publishes
            .iter()
            .filter(|k| C::outcome(*k).is_some())
            .collect();
        w!(
            page,
            "<g id=\"node-{service}\"><rect x=\"{x:.0}\" y=\"{node_top:.0}\" width=\"{NODE_W}\" height=\"{NODE_H}\" \
             rx=\"9\" fill=\"#fff\" stroke=\"{}\" stroke-width=\"2.2\"/>\
             <rect x=\"{x:.0}\" y=\"{node_top:.0}\" width=\"8\" height=\"{NODE_H}\" rx=\"3\" fill=\"{}\"/>\
             <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" style=\"font-weight:700;font-size:14px\">{service}</text>\
             <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"small\">reacts to {} kinds \u{b7} publishes {}</text>\
             <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"small\">{} restarts \u{b7} {} dead-lettered</text>",
            service_color(service),
            service_color(service),
            center(i) + 4.0,
            node_top + 21.0,
            center(i) + 4.0,
            node_top + 38.0,
            subscribes.iter().count(),
            publishes.iter().count(),
            center(i) + 4.0,
            node_top + 53.0,
            num(restarts),
            num(dead_lettered)
        );
        if !ends.is_empty() {
            w!(
                page,
                "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"small\">ends: ",
                center(i) + 4.0,
                node_top + 69.0
            );
            for (j, kind) in ends.iter().enumerate() {
                let sep = if j == 0 { "" } else { ", " };
                w!(
                    page,
                    "{sep}<tspan style=\"fill:{}\">{kind}</tspan>",
                    Drawn::of::<C>(*kind).ink()
                );
            }
            page.raw("</text>");
        }
        page.raw("</g>\n");
    }
    page.raw(&labels);
    page.raw("</svg>\n");
}

/// The bars, over every histogram, that hold a value: whole decades, `[start, end)`.
pub(super) fn bar_range<'a>(
    histograms: impl Iterator<Item = &'a LogHistogram>,
) -> Option<(usize, usize)> {
    let mut range: Option<(usize, usize)> = None;
    for histogram in histograms {
        for (i, n) in histogram.bars().iter().enumerate() {
            if *n > 0 {
                range = Some(match range {
                    None => (i, i + 1),
                    Some((lo, hi)) => (lo.min(i), hi.max(i + 1)),
                });
            }
        }
    }
    range.map(|(lo, hi)| {
        let lo = lo / BARS_PER_DECADE * BARS_PER_DECADE;
        let hi = hi.div_ceil(BARS_PER_DECADE) * BARS_PER_DECADE;
        (
            lo,
            hi.max(lo + BARS_PER_DECADE).min(DECADES * BARS_PER_DECADE),
        )
    })
}

/// 10^(bar / 5) µs, the lower bound of a chart bar.
fn bar_start_us(bar: usize) -> f64 {
    10f64.powf(bar as f64 / BARS_PER_DECADE as f64)
}

pub(super) fn histogram_svg(
    page: &mut Page,
    outcome: Outcome,
    histogram: &LogHistogram,
    range: (usize, usize),
) {
    const WIDTH: f64 = 1120.0;
    const HEIGHT: f64 = 150.0;
    const LEFT: f64 = 72.0;
    const RIGHT: f64 = 14.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 24.0;
    let (lo, hi) = range;
    let bars = histogram.bars();
    let most = bars[lo..hi].iter().copied().max().unwrap_or(0).max(1);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let bar_w = plot_w / (hi - lo) as f64;
    let base = TOP + plot_h;
    w!(
        page,
        "<svg id=\"latency-{outcome}\" class=\"histogram\" data-state=\"{outcome}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"{outcome} latency histogram\">\n",
    );
    w!(
        page,
        "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{:.0}\" y2=\"{TOP}\"/>\
         <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\" class=\"small\">{}</text>\
         <text x=\"{:.0}\" y=\"{base:.0}\" text-anchor=\"end\" class=\"small\">0</text>\n",
        WIDTH - RIGHT,
        LEFT - 6.0,
        TOP + 4.0,
        num(most),
        LEFT - 6.0
    );
    for (i, &n) in bars[lo..hi].iter().enumerate() {
        if n == 0 {
            continue;
        }
        let bar = lo + i;
        let h = (n as f64 / most as f64 * plot_h).max(1.5);
        say!(
            page,
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\">\
             <title>{} to {}: {} orders</title></rect>\n",
            LEFT + i as f64 * bar_w + 1.0,
            base - h,
            (bar_w - 2.0).max(1.0),
            outcome_color(outcome),
            dur(bar_start_us(bar).round() as u64),
            dur(bar_start_us(bar + 1).round() as u64),
            num(n)
        );
    }
    w!(
        page,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{base:.0}\" x2=\"{:.0}\" y2=\"{base:.0}\"/>\n",
        WIDTH - RIGHT
    );
    for bar in (lo..=hi).step_by(BARS_PER_DECADE) {
        let x = LEFT + (bar - lo) as f64 * bar_w;
        w!(
            page,
            "<line class=\"axis\" x1=\"{x:.1}\" y1=\"{base:.0}\" x2=\"{x:.1}\" y2=\"{:.0}\"/>\
             <text x=\"{x:.1}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"small\">{}</text>\n",
            base + 4.0,
            base + 16.0,
            decade_label(bar / BARS_PER_DECADE)
        );
    }
    // Percentile markers, at their place on the log axis.
    let x_of = |micros: u64| {
        let position = if micros == 0 {
            0.0
        } else {
            (micros as f64).log10() * BARS_PER_DECADE as f64 - lo as f64
        };
        LEFT + position.clamp(0.0, (hi - lo) as f64) * bar_w
    };
    for (i, (name, q)) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)]
        .into_iter()
        .enumerate()
    {
        let value = histogram.quantile(q);
        let x = x_of(value);
        let y = 11.0 + 12.0 * i as f64;
        let anchor = if x > WIDTH - 110.0 { "end" } else { "start" };
        let dx = if anchor == "end" { -4.0 } else { 4.0 };
        w!(
            page,
            "<line x1=\"{x:.1}\" y1=\"{:.0}\" x2=\"{x:.1}\" y2=\"{base:.0}\" stroke=\"#1c2333\" \
             stroke-width=\"1\" stroke-dasharray=\"3 3\"/><text x=\"{:.1}\" y=\"{y:.0}\" \
             text-anchor=\"{anchor}\" class=\"small halo\">{name} {}</text>\n",
            y - 4.0,
            x + dx,
            dur(value)
        );
    }
    page.raw("</svg>\n");
}

/// "1 µs", "10 ms", "1 s", ... for 10^decade µs.
pub(super) fn decade_label(decade: usize) -> String {
    const UNITS: [&str; 5] = ["\u{b5}s", "ms", "s", "ks", "Ms"];
    let unit = (decade / 3).min(UNITS.len() - 1);
    let value = 10u64.pow((decade - 3 * unit) as u32);
    format!("{value} {}", UNITS[unit])
}

pub(super) fn timeline_svg(page: &mut Page, timeline: &Timeline, end_us: u64) {
    const WIDTH: f64 = 1120.0;
    const HEIGHT: f64 = 240.0;
    const LEFT: f64 = 72.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 26.0;
    const BOTTOM: f64 = 26.0;
    let completed_at = Outcome::Completed.index();
    let used = ((end_us / timeline.slot_us) as usize + 1).min(TIME_SLOTS);
    let slots = &timeline.slots[..used];
    let most = slots
        .iter()
        .map(|s| s.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let completed: u64 = slots.iter().map(|s| s[completed_at]).sum();
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot_w = plot_w / used as f64;
    let span_us = used as u64 * timeline.slot_us;
    let base = TOP + plot_h;
    say!(
        page,
        "<svg id=\"completions\" data-slot-us=\"{}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" \
         height=\"{HEIGHT}\" role=\"img\" aria-label=\"Orders finished over time\">\n",
        timeline.slot_us
    );
    say!(
        page,
        "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{:.0}\" y2=\"{TOP}\"/>\
         <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\" class=\"small\">{}</text>\
         <text x=\"{:.0}\" y=\"{base:.0}\" text-anchor=\"end\" class=\"small\">0</text>\
         <text x=\"{LEFT}\" y=\"12\" class=\"small\">orders per {}</text>\
         <text x=\"{:.0}\" y=\"12\" text-anchor=\"end\" class=\"small\" style=\"fill:#1f6b3a\">\
         line: completed so far, {} in all</text>\n",
        WIDTH - RIGHT,
        LEFT - 6.0,
        TOP + 4.0,
        num(most),
        LEFT - 6.0,
        dur(timeline.slot_us),
        WIDTH - RIGHT,
        num(completed)
    );
    for (i, slot) in slots.iter().enumerate() {
        let x = LEFT + i as f64 * slot_w;
        let mut y = base;
        for outcome in Outcome::ALL {
            let n = slot[outcome.index()];
            if n == 0 {
                continue;
            }
            let h = n as f64 / most as f64 * plot_h;
            y -= h;
            w!(
                page,
                "<rect class=\"slot {outcome}\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"/>",
                x + 0.5,
                (slot_w - 1.0).max(0.5),
                outcome_color(outcome)
            );
        }
        if slot.iter().any(|n| *n > 0) {
            let counts = Outcome::ALL
                .iter()
                .map(|o| format!("{} {o}", num(slot[o.index()])))
                .collect::<Vec<_>>()
                .join(", ");
            w!(
                page,
                "<rect x=\"{x:.1}\" y=\"{TOP}\" width=\"{slot_w:.1}\" height=\"{plot_h:.0}\" fill=\"transparent\">\
                 <title>{} to {}: {counts}</title></rect>\n",
                dur(i as u64 * timeline.slot_us),
                dur((i as u64 + 1) * timeline.slot_us),
            );
        }
    }
    // Running total of completed orders, scaled to the full height.
    if completed > 0 {
        let mut running = 0;
        let mut points = format!("{LEFT},{base}");
        for (i, slot) in slots.iter().enumerate() {
            running += slot[completed_at];
            let x = LEFT + (i + 1) as f64 * slot_w;
            let y = base - running as f64 / completed as f64 * plot_h;
            let _ = fmt::Write::write_fmt(&mut points, format_args!(" {x:.1},{y:.1}"));
        }
        w!(
            page,
            "<polyline points=\"{points}\" fill=\"none\" stroke=\"#1f6b3a\" stroke-width=\"1.8\"/>\n"
        );
    }
    w!(
        page,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{base:.0}\" x2=\"{:.0}\" y2=\"{base:.0}\"/>\n",
        WIDTH - RIGHT
    );
    let step = nice_step(span_us);
    let mut tick = 0;
    while tick <= span_us {
        let x = LEFT + tick as f64 / span_us as f64 * plot_w;
        w!(
            page,
            "<line class=\"axis\" x1=\"{x:.1}\" y1=\"{base:.0}\" x2=\"{x:.1}\" y2=\"{:.0}\"/>\
             <text x=\"{x:.1}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"small\">{}</text>\n",
            base + 4.0,
            base + 17.0,
            time_tick(tick)
        );
        match tick.checked_add(step) {
            Some(next) => tick = next,
            None => break,
        }
    }
    page.raw("</svg>\n");
}

/// A tick step from 1, 2, 5 x 10^k µs giving at most ten ticks over `span_us`.
fn nice_step(span_us: u64) -> u64 {
    let mut magnitude: u64 = 1;
    loop {
        for factor in [1, 2, 5] {
            let step = magnitude.saturating_mul(factor);
            if span_us / step <= 10 {
                return step;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// A round time for an axis: "0", "500 ms", "10 s", "20 min".
fn time_tick(micros: u64) -> String {
    match micros {
        0 => "0".into(),
        m if m % 3_600_000_000 == 0 => format!("{} h", m / 3_600_000_000),
        m if m >= 600_000_000 && m % 60_000_000 == 0 => format!("{} min", m / 60_000_000),
        m if m % 1_000_000 == 0 => format!("{} s", m / 1_000_000),
        m if m >= 1_000_000 => format!("{:.1} s", m as f64 / 1e6),
        m if m % 1_000 == 0 => format!("{} ms", m / 1_000),
        m => format!("{m} \u{b5}s"),
    }
}

/// One order's events in lanes, one per service, in [`Name::ALL`] order.
pub(super) fn swimlane<C: Choreography>(
    page: &mut Page,
    ending: &EndingOf<C>,
    events: &[Envelope<C>],
) {
    const WIDTH: f64 = 1120.0;
    const LABEL: f64 = 132.0;
    const LANE: f64 = 48.0;
    const TOP: f64 = 6.0;
    const BOX_H: f64 = 36.0;
    let Some(first) = events.first() else {
        return;
    };
    let order_id = first.order_id;
    let start = first.at_us;
    let took = events.last().map_or(0, |e| e.at_us.saturating_sub(start));
    let column = ((WIDTH - LABEL - 10.0) / events.len().max(1) as f64).min(180.0);
    let box_w = column - 16.0;
    let lanes_h = TOP + C::Service::ALL.len() as f64 * LANE;
    let height = lanes_h + 40.0;
    say!(
        page,
        "<figure id=\"order-{order_id}\" class=\"swimlane\" data-outcome=\"{}\">\n<figcaption>\
         <span class=\"dot\" style=\"background:{}\"></span>Order {order_id} \u{b7} {} \
         <span class=\"why\">\u{b7} {} events over {} \u{b7} from {} into the run</span></figcaption>\n",
        esc(ending.slug()),
        ending.color(),
        esc(&ending.label()),
        events.len(),
        dur(took),
        dur(start)
    );
    say!(
        page,
        "<svg viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" height=\"{height:.0}\" role=\"img\" \
         aria-label=\"Order {order_id}, event by event\">\n"
    );
    for (lane, &service) in C::Service::ALL.iter().enumerate() {
        let y = TOP + lane as f64 * LANE;
        let fill = if lane % 2 == 0 { "#f7f8fb" } else { "#fff" };
        w!(
            page,
            "<rect x=\"0\" y=\"{y:.0}\" width=\"{WIDTH}\" height=\"{LANE}\" fill=\"{fill}\"/>\
             <rect x=\"0\" y=\"{y:.0}\" width=\"4\" height=\"{LANE}\" fill=\"{}\"/>\
             <text x=\"12\" y=\"{:.0}\" style=\"font-weight:600\">{service}</text>\n",
            service_color(service),
            y + LANE / 2.0 + 4.0
        );
    }
    let place = |i: usize, e: &Envelope<C>| {
        let x = LABEL + i as f64 * column;
        let y = TOP + position(e.service) as f64 * LANE + (LANE - BOX_H) / 2.0;
        (x, y)
    };
    // Arrows first, so boxes sit on top of them.
    for (i, event) in events.iter().enumerate() {
        let Some(cause) = event.cause else { continue };
        let Some((j, cause_event)) = events.iter().enumerate().find(|(_, e)| e.id == cause) else {
            continue;
        };
        let (cx, cy) = place(j, cause_event);
        let (ex, ey) = place(i, event);
        let (x1, y1) = (cx + box_w, cy + BOX_H / 2.0);
        let (x2, y2) = (ex - 2.0, ey + BOX_H / 2.0);
        let drawn = Drawn::of::<C>(event.kind());
        w!(
            page,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{}\" \
             stroke-width=\"1.4\" marker-end=\"url(#arrow-{})\"/>\n",
            drawn.ink(),
            drawn.class(),
        );
    }
    for (i, event) in events.iter().enumerate() {
        let (x, y) = place(i, event);
        let drawn = Drawn::of::<C>(event.kind());
        let at = event.at_us.saturating_sub(start);
        let when = match step_of(event, events) {
            Some(step) => format!("t+{} (+{})", dur(at), dur(step)),
            None if i == 0 => "start".to_string(),
            None => format!("t+{}", dur(at)),
        };
        w!(
            page,
            "<g class=\"event\" data-kind=\"{}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{box_w:.1}\" height=\"{BOX_H}\" \
             rx=\"5\" fill=\"{}\" stroke=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" style=\"font-size:11px;\
             font-weight:600;fill:{}\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" class=\"small\" \
             style=\"font-size:10px\">{when}</text><title>{}</title></g>\n",
            event.kind(),
            drawn.fill(),
            drawn.ink(),
            x + 6.0,
            y + 15.0,
            drawn.ink(),
            event.kind(),
            x + 6.0,
            y + 29.0,
            esc(&facts(event))
        );
    }
    // The order's time to scale.
    let bar_y = lanes_h + 12.0;
    let bar_w = WIDTH - LABEL - 10.0;
    w!(
        page,
        "<text x=\"12\" y=\"{:.0}\" class=\"small\">time to scale</text>\
         <rect x=\"{LABEL}\" y=\"{bar_y:.0}\" width=\"{bar_w:.0}\" height=\"10\" fill=\"#eef1f6\"/>\n",
        bar_y + 9.0
    );
    if took > 0 {
        for pair in events.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let x1 = LABEL + a.at_us.saturating_sub(start) as f64 / took as f64 * bar_w;
            let x2 = LABEL + b.at_us.saturating_sub(start) as f64 / took as f64 * bar_w;
            if x2 - x1 < 0.05 {
                continue;
            }
            w!(
                page,
                "<rect x=\"{x1:.1}\" y=\"{bar_y:.0}\" width=\"{:.1}\" height=\"10\" fill=\"{}\">\
                 <title>{} until {} ({})</title></rect>",
                x2 - x1,
                service_color(b.service),
                dur(b.at_us.saturating_sub(a.at_us)),
                b.kind(),
                b.service
            );
        }
        page.raw("\n");
    }
    w!(
        page,
        "<text x=\"{LABEL}\" y=\"{:.0}\" class=\"small\">0</text><text x=\"{:.0}\" y=\"{:.0}\" \
         text-anchor=\"end\" class=\"small\">{}</text>\n</svg>\n",
        bar_y + 24.0,
        LABEL + bar_w,
        bar_y + 24.0,
        dur(took)
    );
    page.raw(
        "<table class=\"events\"><tr><th class=\"n\">t</th><th class=\"n\">step</th>\
         <th>service</th><th>event</th><th>what happened</th></tr>\n",
    );
    for event in events {
        let step = step_of(event, events).map_or(String::new(), |d| format!("+{}", dur(d)));
        w!(
            page,
            "<tr><td class=\"n\">{}</td><td class=\"n\">{step}</td><td>{}</td>\
             <td><span class=\"ev {}\">{}</span></td><td>{}</td></tr>\n",
            dur(event.at_us.saturating_sub(start)),
            event.service,
            Drawn::of::<C>(event.kind()).class(),
            event.kind(),
            esc(&facts(event))
        );
    }
    page.raw("</table>\n</figure>\n");
}

/// How long after its cause (among `events`) an event was published.
fn step_of<C: Choreography>(event: &Envelope<C>, events: &[Envelope<C>]) -> Option<u64> {
    let cause = event.cause?;
    let cause = events.iter().find(|e| e.id == cause)?;
    Some(event.at_us.saturating_sub(cause.at_us))
}
