//! The suites' curves as SVG images in docs/img/, beside their tables in docs/BENCHMARKS.md
//! (plotters' SVG backend: text stays text, and no font is read).

use plotters::prelude::*;

use crate::common::repo;

/// One curve: its name in the legend, and its points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(name: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.to_string(),
            points,
        }
    }
}

/// What a chart shows.
pub struct Chart<'a> {
    /// The file in docs/img/, and the title above the curves.
    pub file: &'a str,
    pub title: &'a str,
    pub x: &'a str,
    pub y: &'a str,
    /// Logarithmic axes, for values spanning decades (players, rates).
    pub log_x: bool,
    pub log_y: bool,
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

/// Draws `series` into docs/img/`chart.file`, and gives the Markdown that shows it. A smoke
/// run draws into target/ instead, so that a broken chart fails CI and docs/ stays as it is.
pub fn draw(chart: &Chart, series: &[Series], smoke: bool) -> String {
    let dir = if smoke {
        "target/bench-smoke-img"
    } else {
        "docs/img"
    };
    let path = repo(dir).join(chart.file);
    if let Err(why) = try_draw(&path, chart, series) {
        panic!("{}: {why}", path.display());
    }
    format!("![{}](img/{})", chart.title, chart.file)
}

fn try_draw(
    path: &std::path::Path,
    chart: &Chart,
    series: &[Series],
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(path.parent().unwrap())?;
    let points = || series.iter().flat_map(|s| s.points.iter());
    let positive = |v: f64| if v > 0.0 { v } else { f64::NAN };
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points() {
        if chart.log_x && x <= 0.0 || chart.log_y && y <= 0.0 || !x.is_finite() || !y.is_finite() {
            continue;
        }
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 || y0 > y1 {
        return Err("nothing to draw".into());
    }
    // Room around the points; linear axes start at zero, as a reader expects of a rate.
    let (x0, x1) = if chart.log_x {
        (x0 / 1.5, x1 * 1.5)
    } else {
        (0.0, x1 * 1.05)
    };
    let (y0, y1) = if chart.log_y {
        (y0 / 1.5, y1 * 1.5)
    } else {
        (0.0, (y1 * 1.15).max(1e-9))
    };
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(chart.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70);
    macro_rules! curves {
        ($chart:expr) => {{
            let mut c = $chart;
            c.configure_mesh()
                .x_desc(chart.x)
                .y_desc(chart.y)
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            for (i, s) in series.iter().enumerate() {
                let colour = COLOURS[i % COLOURS.len()];
                let pts: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .map(|&(x, y)| {
                        (
                            if chart.log_x { positive(x) } else { x },
                            if chart.log_y { positive(y) } else { y },
                        )
                    })
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .collect();
                c.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?
                    .label(s.name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                    });
                c.draw_series(pts.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
            }
            c.configure_series_labels()
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperLeft)
                .draw()?;
        }};
    }
    match (chart.log_x, chart.log_y) {
        (true, true) => {
            curves!(builder.build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?)
        }
        (true, false) => curves!(builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1)?),
        (false, true) => curves!(builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale())?),
        (false, false) => curves!(builder.build_cartesian_2d(x0..x1, y0..y1)?),
    }
    root.present()?;
    Ok(())
}
