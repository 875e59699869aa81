//! The loudness history graph: momentary (thin) and short-term (thick) loudness of a meter
//! point over the last minutes, a target line, and the histogram of short-term values since the
//! last reset drawn sideways on the right (the distribution LRA is computed from).

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Shape, Stroke, Vec2};

use crate::meters::history::{
    histogram_bin_lufs, HistoryPoint, LoudnessHistory, HISTOGRAM_BINS, HISTOGRAM_BIN_LU, HISTORY_RATE_HZ,
};

/// Time span the graph shows, in seconds.
pub const GRAPH_SPAN_S: f64 = 120.0;

/// Top of the loudness scale, LUFS.
const TOP_LUFS: f32 = 0.0;

/// Bottom of the loudness scale, LUFS.
const BOTTOM_LUFS: f32 = -48.0;

/// Reference line drawn across the graph (EBU R 128 programme target), LUFS.
const REFERENCE_LUFS: f32 = -23.0;

/// Width of the sideways histogram, in points.
const HISTOGRAM_WIDTH: f32 = 90.0;

/// Vertical position of `loudness_lufs` inside `rect`.
fn loudness_y(rect: Rect, loudness_lufs: f32) -> f32 {
    let t = ((loudness_lufs - BOTTOM_LUFS) / (TOP_LUFS - BOTTOM_LUFS)).clamp(0.0, 1.0);
    rect.bottom() - t * rect.height()
}

/// Draws the graph of `history` into `width` × `height` points; `points` is the caller's reusable
/// buffer (the GUI thread allocates it once).
pub fn graph(
    ui: &mut egui::Ui,
    history: &LoudnessHistory,
    points: &mut Vec<HistoryPoint>,
    width: f32,
    height: f32,
) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, height), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, Color32::from_gray(18));
    let plot = Rect::from_min_max(rect.min, Pos2::new(rect.right() - HISTOGRAM_WIDTH - 6.0, rect.bottom()));
    let font = FontId::monospace(10.0);
    for lufs in [-6.0, -12.0, -18.0, -24.0, -30.0, -36.0, -42.0] {
        let y = loudness_y(plot, lufs);
        painter.line_segment(
            [Pos2::new(plot.left(), y), Pos2::new(rect.right(), y)],
            Stroke::new(1.0, Color32::from_gray(40)),
        );
        painter.text(
            Pos2::new(plot.left() + 2.0, y - 1.0),
            Align2::LEFT_BOTTOM,
            format!("{lufs}").replace('-', "−"),
            font.clone(),
            Color32::from_gray(110),
        );
    }
    let reference_y = loudness_y(plot, REFERENCE_LUFS);
    painter.line_segment(
        [Pos2::new(plot.left(), reference_y), Pos2::new(plot.right(), reference_y)],
        Stroke::new(1.0, Color32::from_rgb(60, 110, 60)),
    );

    let capacity = (GRAPH_SPAN_S * HISTORY_RATE_HZ) as usize;
    history.recent(capacity, points);
    // The newest point sits at the right edge; older ones scroll left.
    let x_of = |index: usize| {
        let age = (points.len() - 1 - index) as f32;
        plot.right() - age / capacity as f32 * plot.width()
    };
    let trace = |select: fn(&HistoryPoint) -> Option<f32>| -> Vec<Shape> {
        let mut shapes = Vec::new();
        let mut run: Vec<Pos2> = Vec::new();
        for (index, point) in points.iter().enumerate() {
            match select(point).filter(|v| v.is_finite()) {
                Some(lufs) => run.push(Pos2::new(x_of(index), loudness_y(plot, lufs))),
                None => {
                    if run.len() > 1 {
                        shapes.push(Shape::line(std::mem::take(&mut run), Stroke::NONE));
                    }
                    run.clear();
                }
            }
        }
        if run.len() > 1 {
            shapes.push(Shape::line(run, Stroke::NONE));
        }
        shapes
    };
    for (select, stroke) in [
        (
            (|p: &HistoryPoint| p.momentary_lufs) as fn(&HistoryPoint) -> Option<f32>,
            Stroke::new(1.0, Color32::from_rgb(90, 140, 190)),
        ),
        (|p: &HistoryPoint| p.short_term_lufs, Stroke::new(2.0, Color32::from_rgb(140, 210, 255))),
    ] {
        for mut shape in trace(select) {
            if let Shape::Path(path) = &mut shape {
                path.stroke = stroke.into();
            }
            painter.add(shape);
        }
    }
    painter.text(
        Pos2::new(plot.right() - 2.0, plot.top() + 2.0),
        Align2::RIGHT_TOP,
        format!("M / S, last {} s", GRAPH_SPAN_S as u32),
        font.clone(),
        Color32::from_gray(130),
    );

    // Histogram of short-term values, bars growing leftwards from the right edge.
    let counts = history.histogram();
    let most = counts.iter().copied().max().unwrap_or(0).max(1) as f32;
    let bar_height = (rect.height() / (TOP_LUFS - BOTTOM_LUFS) * HISTOGRAM_BIN_LU).max(1.0);
    for (bin, &count) in counts.iter().enumerate().take(HISTOGRAM_BINS) {
        if count == 0 {
            continue;
        }
        let low = histogram_bin_lufs(bin);
        if !(BOTTOM_LUFS..TOP_LUFS).contains(&low) {
            continue;
        }
        let y = loudness_y(rect, low + HISTOGRAM_BIN_LU);
        let length = count as f32 / most * HISTOGRAM_WIDTH;
        painter.rect_filled(
            Rect::from_min_size(Pos2::new(rect.right() - length, y), Vec2::new(length, bar_height)),
            0.0,
            Color32::from_rgb(70, 120, 170),
        );
    }
    painter.text(
        Pos2::new(rect.right() - 2.0, rect.bottom() - 2.0),
        Align2::RIGHT_BOTTOM,
        "S histogram",
        font,
        Color32::from_gray(130),
    );
}
