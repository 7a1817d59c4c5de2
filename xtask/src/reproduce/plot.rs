//! SVG charts for the report (plotters): line and scatter series with names, linear or log axes,
//! optional shaded bands and error bars, title and axis labels. Every function returns a `Result`.
//!
//! Text layout needs a font; DejaVu Sans (Bitstream Vera license, `xtask/assets/`) is compiled in
//! and registered as `sans-serif`, so no system font is needed.

use anyhow::{Result, anyhow, bail};
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the bundled font once (process-wide).
fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        bail!("plot: the bundled DejaVu Sans font could not be loaded")
    }
}

/// Scale of an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AxisScale {
    #[default]
    Linear,
    /// Logarithmic (base 10 ticks); non-positive values are left out of the plot.
    Log,
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Marker {
    /// A polyline through the points, in order.
    #[default]
    Line,
    /// Points only.
    Scatter,
    /// A polyline and a marker at each point.
    LineAndPoints,
}

/// One named series.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub name: String,
    /// The points (x, y).
    pub points: Vec<(f64, f64)>,
    pub marker: Marker,
    /// An optional shaded band (x, low, high), e.g. a 10–90% interval.
    pub band: Option<Vec<(f64, f64, f64)>>,
    /// Optional error bars (low, high), one per point.
    pub error_bars: Option<Vec<(f64, f64)>>,
}

impl Series {
    /// A line series.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
            ..Default::default()
        }
    }

    /// A line series with a marker at every point ([`Marker::LineAndPoints`]).
    pub fn line_points(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            marker: Marker::LineAndPoints,
            ..Series::line(name, points)
        }
    }

    /// A line with point markers through (`xs[i]`, `ys[i]`) (the shorter slice sets the length).
    pub fn line_points_xy(name: impl Into<String>, xs: &[f64], ys: &[f64]) -> Self {
        Series::line_points(name, xs.iter().copied().zip(ys.iter().copied()).collect())
    }

    /// A reference power law y = y₀·(x/x₀)^exponent through (x₀, y₀) = (`xs[0]`, y0), drawn at
    /// the abscissae `xs` (the "∝ n^(−1/2)" guide lines of the scaling figures).
    pub fn power_law(name: impl Into<String>, xs: &[f64], y0: f64, exponent: f64) -> Self {
        let x0 = xs.first().copied().unwrap_or(1.0);
        Series::line(
            name,
            xs.iter()
                .map(|&x| (x, y0 * (x / x0).powf(exponent)))
                .collect(),
        )
    }

    /// A scatter series.
    pub fn scatter(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
            marker: Marker::Scatter,
            ..Default::default()
        }
    }

    /// Adds a shaded band (x, low, high).
    pub fn with_band(mut self, band: Vec<(f64, f64, f64)>) -> Self {
        self.band = Some(band);
        self
    }

    /// Adds error bars (low, high), one per point.
    pub fn with_error_bars(mut self, bars: Vec<(f64, f64)>) -> Self {
        self.error_bars = Some(bars);
        self
    }
}

/// A chart: title, axis labels and scales, series.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_scale: AxisScale,
    pub y_scale: AxisScale,
    pub series: Vec<Series>,
    /// Size in pixels.
    pub size: (u32, u32),
}

impl Chart {
    /// An empty chart with linear axes, 800×520 pixels.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_scale: AxisScale::Linear,
            y_scale: AxisScale::Linear,
            series: Vec::new(),
            size: (800, 520),
        }
    }

    /// Sets the axis scales.
    pub fn scales(mut self, x_scale: AxisScale, y_scale: AxisScale) -> Self {
        self.x_scale = x_scale;
        self.y_scale = y_scale;
        self
    }

    /// Adds a series.
    pub fn with(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }
}

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn usable(value: f64, scale: AxisScale) -> bool {
    value.is_finite() && (scale == AxisScale::Linear || value > 0.0)
}

/// The padded data range of one axis over all values that can be drawn.
fn axis_range(values: impl Iterator<Item = f64>, scale: AxisScale) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|&v| usable(v, scale)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    Some(match scale {
        AxisScale::Linear => {
            let span = hi - lo;
            let pad = if span > 0.0 {
                0.05 * span
            } else {
                0.5 * lo.abs().max(1.0)
            };
            (lo - pad, hi + pad)
        }
        AxisScale::Log => {
            let factor = if hi > lo { (hi / lo).powf(0.05) } else { 2.0 };
            (lo / factor, hi * factor)
        }
    })
}

/// Renders `chart` as an SVG file at `path`.
pub fn render_svg(chart: &Chart, path: &Path) -> Result<()> {
    ensure_font()?;
    if chart.series.is_empty() {
        bail!("plot `{}`: no series", chart.title);
    }
    if chart.size.0 < 100 || chart.size.1 < 100 {
        bail!("plot `{}`: size {:?} is too small", chart.title, chart.size);
    }
    for series in &chart.series {
        if let Some(bars) = &series.error_bars
            && bars.len() != series.points.len()
        {
            bail!(
                "plot `{}`: series `{}` has {} points but {} error bars",
                chart.title,
                series.name,
                series.points.len(),
                bars.len()
            );
        }
    }
    let xs = chart.series.iter().flat_map(|s| {
        s.points
            .iter()
            .map(|p| p.0)
            .chain(s.band.iter().flatten().map(|b| b.0))
    });
    let ys = chart.series.iter().flat_map(|s| {
        s.points
            .iter()
            .map(|p| p.1)
            .chain(s.band.iter().flatten().flat_map(|b| [b.1, b.2]))
            .chain(s.error_bars.iter().flatten().flat_map(|b| [b.0, b.1]))
    });
    let (Some(x_range), Some(y_range)) =
        (axis_range(xs, chart.x_scale), axis_range(ys, chart.y_scale))
    else {
        bail!(
            "plot `{}`: no finite point to draw on these axes",
            chart.title
        );
    };
    let (x0, x1) = x_range;
    let (y0, y1) = y_range;
    match (chart.x_scale, chart.y_scale) {
        (AxisScale::Linear, AxisScale::Linear) => draw(chart, path, x0..x1, y0..y1),
        (AxisScale::Log, AxisScale::Linear) => draw(chart, path, (x0..x1).log_scale(), y0..y1),
        (AxisScale::Linear, AxisScale::Log) => draw(chart, path, x0..x1, (y0..y1).log_scale()),
        (AxisScale::Log, AxisScale::Log) => {
            draw(chart, path, (x0..x1).log_scale(), (y0..y1).log_scale())
        }
    }
}

fn plot_error(chart: &Chart, error: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("plot `{}`: {error}", chart.title)
}

fn draw<X, Y>(chart: &Chart, path: &Path, x_spec: X, y_spec: Y) -> Result<()>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let root = SVGBackend::new(path, chart.size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(chart, e))?;
    let mut context = ChartBuilder::on(&root)
        .caption(&chart.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x_spec, y_spec)
        .map_err(|e| plot_error(chart, e))?;
    context
        .configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(|e| plot_error(chart, e))?;

    let (xs, ys) = (chart.x_scale, chart.y_scale);
    let ok = |x: f64, y: f64| usable(x, xs) && usable(y, ys);
    for (index, series) in chart.series.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        if let Some(band) = &series.band {
            let upper: Vec<(f64, f64)> = band
                .iter()
                .filter(|b| ok(b.0, b.2) && usable(b.1, ys))
                .map(|b| (b.0, b.2))
                .collect();
            let lower: Vec<(f64, f64)> = band
                .iter()
                .rev()
                .filter(|b| ok(b.0, b.1) && usable(b.2, ys))
                .map(|b| (b.0, b.1))
                .collect();
            if upper.len() >= 2 {
                let polygon: Vec<(f64, f64)> = upper.into_iter().chain(lower).collect();
                context
                    .draw_series(std::iter::once(Polygon::new(
                        polygon,
                        color.mix(0.2).filled(),
                    )))
                    .map_err(|e| plot_error(chart, e))?;
            }
        }
        let points: Vec<(f64, f64)> = series
            .points
            .iter()
            .copied()
            .filter(|&(x, y)| ok(x, y))
            .collect();
        let style = ShapeStyle::from(&color).stroke_width(2);
        let mut legend_drawn = false;
        if matches!(series.marker, Marker::Line | Marker::LineAndPoints) && !points.is_empty() {
            context
                .draw_series(LineSeries::new(points.clone(), style))
                .map_err(|e| plot_error(chart, e))?
                .label(series.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            legend_drawn = true;
        }
        if matches!(series.marker, Marker::Scatter | Marker::LineAndPoints) && !points.is_empty() {
            let annotation = context
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| plot_error(chart, e))?;
            if !legend_drawn {
                annotation
                    .label(series.name.as_str())
                    .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.filled()));
            }
        }
        if let Some(bars) = &series.error_bars {
            let segments: Vec<PathElement<(f64, f64)>> = series
                .points
                .iter()
                .zip(bars)
                .filter(|(p, b)| ok(p.0, b.0) && ok(p.0, b.1))
                .map(|(p, b)| PathElement::new(vec![(p.0, b.0), (p.0, b.1)], style))
                .collect();
            context
                .draw_series(segments)
                .map_err(|e| plot_error(chart, e))?;
        }
    }
    context
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| plot_error(chart, e))?;
    root.present().map_err(|e| plot_error(chart, e))?;
    Ok(())
}
