//! One chart drawn with plotters into an RGB buffer, then saved as PNG.

use crate::font::{self, FAMILY};
use crate::metrics::{ema, Metrics};
use crate::specs::{Chart, Line, Style};
use anyhow::{bail, Result};
use plotters::prelude::*;
use std::ops::Range;
use std::path::Path;

/// Chart size in pixels.
pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 540;

/// Draws `chart` of `metrics` to `path`; false (nothing written) when the
/// run logged none of its keys.
pub fn chart(path: &Path, chart: &Chart, metrics: &Metrics, run: &str) -> Result<bool> {
    let lines: Vec<(&Line, Vec<(f64, f64)>)> = chart
        .lines
        .iter()
        .map(|l| (l, metrics.points(l.key)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if lines.is_empty() {
        return Ok(false);
    }
    font::register();
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    // A chart must never take its caller down: a panic in drawing is an error.
    let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        render(&mut rgb, chart, &lines, run).map_err(|e| e.to_string())
    }));
    match drawn {
        Ok(Ok(())) => {}
        Ok(Err(e)) => bail!("drawing {}: {e}", chart.file),
        Err(_) => bail!("drawing {}: the chart library panicked", chart.file),
    }
    crate::png_file::write(path, WIDTH, HEIGHT, &rgb)?;
    Ok(true)
}

type Drawing<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn render(
    rgb: &mut [u8],
    chart: &Chart,
    lines: &[(&Line, Vec<(f64, f64)>)],
    run: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let root: Drawing = BitMapBackend::with_buffer(rgb, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let all = || lines.iter().flat_map(|(_, p)| p.iter());
    let xs = span(all().map(|p| p.0), 0.0);
    let xs_len = xs.end - xs.start;
    let ys = span(all().map(|p| p.1), 0.05);
    let mut c = ChartBuilder::on(&root)
        .caption(format!("{}: {run}", chart.title), (FAMILY, 26))
        .margin(18)
        .x_label_area_size(48)
        .y_label_area_size(84)
        .build_cartesian_2d(xs, ys)?;
    c.configure_mesh()
        .x_desc("step")
        .y_desc(chart.y_label)
        .x_labels(((xs_len + 1.0) as usize).clamp(2, 11))
        .x_label_formatter(&|x| whole(*x))
        .y_label_formatter(&|y| number(*y))
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 17))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (line, points) in lines {
        let color = line.color;
        if line.style == Style::Smoothed {
            let faint = color.mix(0.3).filled();
            c.draw_series(points.iter().map(|&p| Circle::new(p, 2, faint)))?;
        }
        let shown = match line.style {
            Style::Smoothed => ema(points),
            _ => points.clone(),
        };
        let stroke = color.stroke_width(2);
        c.draw_series(LineSeries::new(shown, stroke))?
            .label(line.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], stroke));
        if line.style == Style::Marked {
            c.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        }
    }
    if lines.len() > 1 {
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font((FAMILY, 15))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// The range of `values`, widened by `pad` of its length on each side (and
/// to a unit around a single value).
fn span(values: impl Iterator<Item = f64>, pad: f64) -> Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let half = (hi.abs() * 0.1).max(0.5);
        return lo - half..hi + half;
    }
    let d = (hi - lo) * pad;
    lo - d..hi + d
}

/// A step label: whole steps only (a tick between two steps has none).
fn whole(x: f64) -> String {
    match (x - x.round()).abs() < 1e-6 {
        true => format!("{x:.0}"),
        false => String::new(),
    }
}

/// An axis label: `0.25`, `3.0e-4`, `12.3k`, `1.2M`.
pub fn number(v: f64) -> String {
    match v.abs() {
        0.0 => "0".into(),
        a if a >= 1e6 => format!("{:.1}M", v / 1e6),
        a if a >= 1e4 => format!("{:.1}k", v / 1e3),
        a if a < 1e-2 => format!("{v:.1e}"),
        _ => {
            let s = format!("{v:.3}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    }
}
