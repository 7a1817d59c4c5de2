//! The SVG plot helpers: every chart type renders without system fonts, bad charts are errors.

use xtask::reproduce::plot::{AxisScale, Chart, Marker, Series, render_svg};

#[test]
fn log_log_chart_with_bands_and_error_bars_renders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chart.svg");
    let widths: [f64; 5] = [64.0, 128.0, 256.0, 512.0, 1024.0];
    let gap: Vec<(f64, f64)> = widths.iter().map(|&w| (w, 2.0 / w.sqrt())).collect();
    let band: Vec<(f64, f64, f64)> = gap.iter().map(|&(w, g)| (w, 0.8 * g, 1.25 * g)).collect();
    let bars: Vec<(f64, f64)> = gap.iter().map(|&(_, g)| (0.9 * g, 1.1 * g)).collect();
    let chart = Chart::new("Gap against width", "width", "sup gap")
        .scales(AxisScale::Log, AxisScale::Log)
        .with(
            Series::line("median gap", gap.clone())
                .with_band(band)
                .with_error_bars(bars),
        )
        .with(Series::scatter(
            "seeds",
            gap.iter().map(|&(w, g)| (w, 1.05 * g)).collect(),
        ))
        .with(Series {
            name: "with NaN and a negative value".into(),
            points: vec![(64.0, f64::NAN), (128.0, -1.0), (256.0, 0.1), (512.0, 0.05)],
            marker: Marker::LineAndPoints,
            ..Default::default()
        });
    render_svg(&chart, &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg"));
    for text in [
        "Gap against width",
        "width",
        "sup gap",
        "median gap",
        "seeds",
    ] {
        assert!(svg.contains(text), "SVG lacks {text}");
    }
    assert!(
        svg.contains("<polygon") || svg.contains("<path"),
        "no band drawn"
    );
}

#[test]
fn linear_chart_renders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("line.svg");
    let chart = Chart::new("Loss", "t", "loss").with(Series::line(
        "loss",
        (0..50)
            .map(|i| (i as f64, (-0.1 * i as f64).exp()))
            .collect(),
    ));
    render_svg(&chart, &path).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 500);
    // A single point (zero span) still gets a valid range.
    let single = Chart::new("One", "x", "y").with(Series::scatter("p", vec![(1.0, 1.0)]));
    render_svg(&single, &dir.path().join("one.svg")).unwrap();
}

#[test]
fn bad_charts_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.svg");
    let empty = Chart::new("Empty", "x", "y");
    assert!(render_svg(&empty, &path).is_err());
    let nothing_positive = Chart::new("Neg", "x", "y")
        .scales(AxisScale::Linear, AxisScale::Log)
        .with(Series::line("neg", vec![(1.0, -1.0), (2.0, 0.0)]));
    assert!(render_svg(&nothing_positive, &path).is_err());
    let mismatched = Chart::new("Bars", "x", "y")
        .with(Series::line("s", vec![(1.0, 1.0), (2.0, 2.0)]).with_error_bars(vec![(0.0, 1.0)]));
    assert!(render_svg(&mismatched, &path).is_err());
    let unwritable =
        Chart::new("Ok", "x", "y").with(Series::line("s", vec![(1.0, 1.0), (2.0, 3.0)]));
    assert!(render_svg(&unwritable, &dir.path().join("no/such/dir/x.svg")).is_err());
}

#[test]
fn power_law_reference_passes_through_its_anchor_with_the_given_exponent() {
    let xs = [4.0, 16.0, 64.0, 256.0];
    let s = Series::power_law("∝ x^(−1/2)", &xs, 3.0, -0.5);
    assert_eq!(s.points.len(), xs.len());
    assert_eq!(s.points[0], (4.0, 3.0));
    // Each factor 4 in x halves y under exponent −1/2: exact in binary floating point here.
    for (k, &(x, y)) in s.points.iter().enumerate() {
        assert_eq!(x, xs[k]);
        assert!((y - 3.0 / 2f64.powi(k as i32)).abs() <= 1e-15 * 3.0, "{y}");
    }
}
