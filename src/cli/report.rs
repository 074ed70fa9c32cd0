//! The suite's `report.html`: one self-contained page (inline SVG charts drawn with plotters, no
//! script, no stylesheet or font fetched from anywhere), with the baseline beside each figure
//! when there is one.

use plotters::prelude::*;

use super::suite::Row;
use crate::error::{Error, Result};

const WIDTH: u32 = 900;
const HEIGHT: u32 = 420;
const CURRENT: RGBColor = RGBColor(31, 119, 180);
const BASELINE: RGBColor = RGBColor(160, 160, 160);
const BOUND: RGBColor = RGBColor(214, 39, 40);

fn chart_error(e: impl std::fmt::Display) -> Error {
    Error::SelfCheck(format!("drawing a chart: {e}"))
}

/// One bar of a bar chart: its label, the current median with min..max, and the baseline's.
struct Bar {
    label: String,
    median: f64,
    min: f64,
    max: f64,
    baseline: Option<(f64, f64, f64)>,
}

/// A bar chart: the current run's medians as bars with min..max whiskers, the baseline's as grey
/// bars beside them, and optional horizontal reference lines.
fn bar_chart(title: &str, y_desc: &str, bars: &[Bar], lines: &[(String, f64)]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let top = bars
            .iter()
            .map(|b| b.max.max(b.baseline.map_or(0.0, |x| x.2)))
            .chain(lines.iter().map(|l| l.1))
            .fold(0.0f64, f64::max)
            .max(1e-9)
            * 1.15;
        let n = bars.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(90)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..n, 0f64..top)
            .map_err(chart_error)?;
        let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(bars.len().max(1))
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - x.floor() - 0.5).abs() < 1e-6 || x.fract() == 0.0 {
                    labels.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_label_style(
                ("sans-serif", 10)
                    .into_font()
                    .transform(FontTransform::Rotate90),
            )
            .y_desc(y_desc)
            .draw()
            .map_err(chart_error)?;
        let has_baseline = bars.iter().any(|b| b.baseline.is_some());
        let width = if has_baseline { 0.38 } else { 0.7 };
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                let x = i as f64 + 0.15;
                Rectangle::new([(x, 0.0), (x + width, b.median)], CURRENT.filled())
            }))
            .map_err(chart_error)?
            .label("this run (median)")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], CURRENT.filled()));
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                let x = i as f64 + 0.15 + width / 2.0;
                PathElement::new(vec![(x, b.min), (x, b.max)], BLACK.stroke_width(1))
            }))
            .map_err(chart_error)?;
        if has_baseline {
            chart
                .draw_series(bars.iter().enumerate().filter_map(|(i, b)| {
                    b.baseline.map(|(median, _, _)| {
                        let x = i as f64 + 0.15 + width + 0.04;
                        Rectangle::new([(x, 0.0), (x + width, median)], BASELINE.filled())
                    })
                }))
                .map_err(chart_error)?
                .label("baseline (median)")
                .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], BASELINE.filled()));
            chart
                .draw_series(bars.iter().enumerate().filter_map(|(i, b)| {
                    b.baseline.map(|(_, min, max)| {
                        let x = i as f64 + 0.15 + 1.5 * width + 0.04;
                        PathElement::new(vec![(x, min), (x, max)], BLACK.stroke_width(1))
                    })
                }))
                .map_err(chart_error)?;
        }
        for (name, y) in lines {
            chart
                .draw_series(LineSeries::new(
                    vec![(0.0, *y), (n, *y)],
                    BOUND.stroke_width(2),
                ))
                .map_err(chart_error)?
                .label(name.as_str())
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 12, y)], BOUND.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(inline(svg))
}

/// A line of the link chart: its name, its points (x index, ms) and whether it is the baseline.
type Series = (String, Vec<(usize, f64)>, bool);

/// A line chart of session time against link speed, one series per scheme (and its baseline).
fn link_chart(series: &[Series], x_labels: &[String]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let top = series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.1))
            .fold(0.0f64, f64::max)
            .max(1e-9)
            * 1.15;
        let n = x_labels.len().max(2) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Session time against link speed (semi-honest, plaintext)",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.3f64..(n - 0.7), 0f64..top)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_labels(x_labels.len().max(2))
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-6 && *x >= 0.0 {
                    x_labels
                        .get(x.round() as usize)
                        .cloned()
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc("link, each direction")
            .y_desc("ms per session")
            .draw()
            .map_err(chart_error)?;
        let palette = [CURRENT, RGBColor(255, 127, 14), RGBColor(44, 160, 44)];
        for (k, (name, points, is_baseline)) in series.iter().enumerate() {
            let color = if *is_baseline {
                BASELINE
            } else {
                palette[k % palette.len()]
            };
            let pts: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x as f64, y)).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(chart_error)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 12, y)], color.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(chart_error)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(inline(svg))
}

/// An SVG for inline use in HTML: without the namespace attribute (HTML does not need it, and
/// the page then holds no URL at all).
fn inline(svg: String) -> String {
    svg.replace(" xmlns=\"http://www.w3.org/2000/svg\"", "")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn find<'a>(rows: &'a [Row], key: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.key() == key)
}

fn bar_of(r: &Row, label: String, baseline: Option<&[Row]>) -> Bar {
    let old = baseline
        .and_then(|b| find(b, &r.key()))
        .filter(|o| o.digest == r.digest)
        .map(|o| (o.median, o.min, o.max));
    Bar {
        label,
        median: r.median,
        min: r.min,
        max: r.max,
        baseline: old,
    }
}

fn short(scheme: &str) -> &str {
    match scheme {
        "half-gates" => "hg",
        "three-halves" => "3/2",
        other => other,
    }
}

/// The page.
pub(crate) fn html(
    suite: &str,
    rows: &[Row],
    baseline: Option<&[Row]>,
    machine: &serde_json::Value,
    repetitions: usize,
    took: std::time::Duration,
) -> Result<String> {
    let aes = rows
        .iter()
        .find(|r| r.metric == "aes_ns_per_block")
        .map_or(f64::NAN, |r| r.median);
    // 1. ns per AND against the AES bound.
    let mut kernel = Vec::new();
    for r in rows.iter().filter(|r| r.unit == "ns/AND") {
        let op = if r.metric.starts_with("garble") {
            "garble"
        } else {
            "eval"
        };
        kernel.push(bar_of(
            r,
            format!("{} {} {op}", r.circuit, short(&r.scheme)),
            baseline,
        ));
    }
    let chart_kernel = bar_chart(
        "Garbling and evaluation in memory: ns per AND gate (median, min..max)",
        "ns per AND gate",
        &kernel,
        &[
            (format!("AES bound, garble (8 x {aes:.2} ns)"), 8.0 * aes),
            (format!("AES bound, evaluate (4 x {aes:.2} ns)"), 4.0 * aes),
        ],
    )?;
    // The circuit of the end-to-end charts: the one with most AND gates measured end to end.
    let reference = rows
        .iter()
        .filter(|r| r.metric == "and_per_second" && r.link == "unpaced")
        .max_by(|a, b| a.median.total_cmp(&b.median))
        .map(|r| r.circuit.clone())
        .unwrap_or_default();
    let e2e: Vec<&Row> = rows
        .iter()
        .filter(|r| r.circuit == reference && r.link == "unpaced")
        .collect();
    // 2. AND/s per security level and transport.
    let rates: Vec<Bar> = e2e
        .iter()
        .filter(|r| r.metric == "and_per_second")
        .map(|r| {
            bar_of(
                r,
                format!("{} {} {}", short(&r.scheme), r.security, r.transport),
                baseline,
            )
        })
        .collect();
    let chart_rates = bar_chart(
        &format!(
            "End to end, {reference}: AND gates per second over the session (connection included)"
        ),
        "AND gates per second",
        &rates,
        &[],
    )?;
    // 3. Bytes per AND.
    let bytes: Vec<Bar> = e2e
        .iter()
        .filter(|r| r.metric == "bytes_per_and" && r.transport == "plaintext")
        .map(|r| bar_of(r, format!("{} {}", short(&r.scheme), r.security), baseline))
        .collect();
    let chart_bytes = bar_chart(
        &format!("Bytes on the wire per AND gate, both directions, {reference}"),
        "bytes per AND gate",
        &bytes,
        &[],
    )?;
    // 4. Time against link speed.
    let paced: Vec<&Row> = rows
        .iter()
        .filter(|r| r.metric == "session_ms" && r.link != "unpaced" && r.link != "-")
        .collect();
    let link_circuit = paced.first().map(|r| r.circuit.clone()).unwrap_or_default();
    let links = ["100 Mbit/s", "1000 Mbit/s", "unpaced"];
    let x_labels: Vec<String> = links.iter().map(|s| s.to_string()).collect();
    let mut series = Vec::new();
    for scheme in ["half-gates", "three-halves"] {
        for (source, is_baseline) in [(Some(rows), false), (baseline, true)] {
            let Some(source) = source else { continue };
            let points: Vec<(usize, f64)> = links
                .iter()
                .enumerate()
                .filter_map(|(i, link)| {
                    source
                        .iter()
                        .find(|r| {
                            r.circuit == link_circuit
                                && r.scheme == scheme
                                && r.security == "semi-honest"
                                && r.transport == "plaintext"
                                && r.link == *link
                                && r.metric == "session_ms"
                        })
                        .map(|r| (i, r.median))
                })
                .collect();
            if !points.is_empty() {
                let name = if is_baseline {
                    format!("{scheme} (baseline)")
                } else {
                    scheme.to_string()
                };
                series.push((name, points, is_baseline));
            }
        }
    }
    let chart_link = link_chart(&series, &x_labels)?;
    // The table of every row.
    let mut table = String::from(
        "<table><tr><th>circuit</th><th>scheme</th><th>security</th><th>transport</th><th>threads</th><th>link</th><th>metric</th><th>median</th><th>min</th><th>max</th><th>unit</th>",
    );
    if baseline.is_some() {
        table.push_str("<th>baseline median</th>");
    }
    table.push_str("</tr>\n");
    for r in rows {
        table.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td>",
            escape(&r.circuit),
            escape(&r.scheme),
            escape(&r.security),
            escape(&r.transport),
            r.threads,
            escape(&r.link),
            escape(&r.metric),
            r.median,
            r.min,
            r.max,
            escape(&r.unit)
        ));
        if let Some(b) = baseline {
            let old = find(b, &r.key()).map_or("-".to_string(), |o| {
                if o.digest == r.digest {
                    o.median.to_string()
                } else {
                    "not comparable".into()
                }
            });
            table.push_str(&format!("<td class=n>{old}</td>"));
        }
        table.push_str("</tr>\n");
    }
    table.push_str("</table>");
    let machine_rows: String = machine
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    format!("<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(&v))
                })
                .collect()
        })
        .unwrap_or_default();
    let baseline_note = if baseline.is_some() {
        "Grey bars and lines are the baseline run's medians (its min..max whiskers beside them)."
    } else {
        "No baseline was given (<code>--baseline DIR</code> adds an earlier run to every chart)."
    };
    Ok(format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>garbled bench --suite {suite}</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}}table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}td.n{{text-align:right}}figure{{margin:1.5em 0}}</style>
</head><body>
<h1>garbled benchmark suite: {suite}</h1>
<p>Produced by <code>garbled bench --suite {suite}</code> in {took:.0} s. Every cell was measured {repetitions} times,
round-robin: each round measures every cell once before the next round begins, so a burst of load on a
shared host spreads over all cells instead of spoiling one. Each figure is the median of its
repetitions, with the minimum and maximum beside it; against a baseline, a cell counts as changed only
when the two runs' min..max ranges do not overlap. {baseline_note}</p>
<h2>Machine</h2><table>{machine_rows}</table>
<figure>{chart_kernel}<figcaption>Time per AND gate (all gates counted, divided by the AND count) to garble and to
evaluate each circuit in memory, for both schemes; the red lines are this machine's AES bound measured in
the same rounds: 8 AES calls per AND gate to garble and 4 to evaluate with half-gates (three-halves is drawn
against the same bound, so the two schemes compare in one unit).</figcaption></figure>
<figure>{chart_rates}<figcaption>One session of the circuit between two parties in this process over loopback,
from opening the connection to the outputs (base OT included), per scheme, security level and transport
(plaintext TCP, or mutually authenticated TLS 1.3).</figcaption></figure>
<figure>{chart_bytes}<figcaption>Traffic of the same sessions, both directions, per AND gate (plaintext TCP).</figcaption></figure>
<figure>{chart_link}<figcaption>The session of {link_circuit} with each direction of the link paced to 100 Mbit/s
and 1 Gbit/s (a token bucket in the channel), and unpaced loopback.</figcaption></figure>
<h2>All results</h2>
{table}
</body></html>
"#,
        took = took.as_secs_f64()
    ))
}
