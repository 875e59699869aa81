//! The loudness history graph: momentary (thin) and short-term (thick) loudness of the output
//! over a chosen span (30 s … 1 h), optionally the input's short-term loudness, the delivery
//! target line, and the histogram of short-term values since the last reset drawn sideways on the
//! right (the distribution LRA is computed from). Drag or scroll to look back in time; the graph
//! follows live again when scrolled back to the present.

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Shape, Stroke, Vec2};

use super::widgets::{DbAxis, GOOD, GRID_TEXT, INPUT_TRACE, PLOT_BACKGROUND, TRACE_A};
use crate::meters::history::{
    histogram_bin_lufs, HistoryPoint, LoudnessHistory, HISTOGRAM_BINS, HISTOGRAM_BIN_LU, HISTORY_CAPACITY,
    HISTORY_RATE_HZ,
};

/// Top of the loudness scale, LUFS.
const TOP_LUFS: f32 = 0.0;

/// Bottom of the loudness scale, LUFS.
const BOTTOM_LUFS: f32 = -54.0;

/// Width of the sideways histogram, in points.
const HISTOGRAM_WIDTH: f32 = 96.0;

/// Spans offered, seconds.
pub const SPANS_S: [f32; 7] = [30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];

/// The graph's view state and its reusable buffers (GUI thread).
#[derive(Debug, Default)]
pub struct HistoryGraph {
    /// How far the right edge lies in the past, in history entries (0 = live).
    offset_entries: usize,
    /// Output points of the visible span (reused).
    output: Vec<HistoryPoint>,
    /// Input points of the visible span (reused).
    input: Vec<HistoryPoint>,
    /// Polyline buffer (reused).
    line: Vec<Pos2>,
}

/// Shortens a span label: "30 s", "2 min", "1 h".
pub fn span_label(span_s: f32) -> String {
    if span_s >= 3600.0 {
        format!("{:.0} h", span_s / 3600.0)
    } else if span_s >= 60.0 {
        format!("{:.0} min", span_s / 60.0)
    } else {
        format!("{span_s:.0} s")
    }
}

impl HistoryGraph {
    /// True while the graph shows the present.
    pub fn is_live(&self) -> bool {
        self.offset_entries == 0
    }

    /// Returns to the present.
    pub fn go_live(&mut self) {
        self.offset_entries = 0;
    }

    /// Draws the graph into `size`; `input` is drawn as a grey short-term trace when given.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        size: Vec2,
        output: &LoudnessHistory,
        input: Option<&LoudnessHistory>,
        span_s: f32,
        target_lufs: Option<f32>,
    ) {
        let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 4.0, PLOT_BACKGROUND);
        let plot =
            Rect::from_min_max(rect.min, Pos2::new(rect.right() - HISTOGRAM_WIDTH - 8.0, rect.bottom()));
        let axis = DbAxis { rect: plot, top_db: TOP_LUFS, bottom_db: BOTTOM_LUFS };
        axis.draw_grid(&painter, &[-6.0, -12.0, -18.0, -24.0, -30.0, -36.0, -42.0, -48.0], "");

        let span_entries = ((span_s as f64 * HISTORY_RATE_HZ) as usize).clamp(10, HISTORY_CAPACITY);
        let available = (output.len()).min(HISTORY_CAPACITY);
        // Scrolling: drag right or wheel up looks back in time.
        let per_point = span_entries as f32 / plot.width().max(1.0);
        let mut shift = 0.0;
        if response.dragged() {
            shift += response.drag_delta().x * per_point;
        }
        if response.hovered() {
            let scroll = ui.input(|i| i.smooth_scroll_delta);
            shift += (scroll.y + scroll.x) * per_point;
        }
        if response.double_clicked() {
            self.offset_entries = 0;
        } else if shift != 0.0 {
            let max_offset = available.saturating_sub(span_entries);
            self.offset_entries =
                (self.offset_entries as f32 + shift).round().clamp(0.0, max_offset as f32) as usize;
        }

        let offset = self.offset_entries;
        output.recent(span_entries + offset, &mut self.output);
        let keep = self.output.len().saturating_sub(offset);
        self.output.truncate(keep);
        let x_of =
            |age_entries: usize| plot.right() - age_entries as f32 / span_entries as f32 * plot.width();

        // The target line.
        if let Some(target_lufs) = target_lufs {
            let ty = axis.y(target_lufs);
            painter.line_segment(
                [Pos2::new(plot.left(), ty), Pos2::new(plot.right(), ty)],
                Stroke::new(1.0, GOOD),
            );
            painter.text(
                Pos2::new(plot.right() - 2.0, ty - 1.0),
                Align2::RIGHT_BOTTOM,
                format!("target {target_lufs:.0}").replace('-', "−"),
                FontId::monospace(10.0),
                GOOD,
            );
        }

        if let Some(input) = input {
            input.recent(span_entries + offset, &mut self.input);
            let keep = self.input.len().saturating_sub(offset);
            self.input.truncate(keep);
            trace(
                &painter,
                &mut self.line,
                &self.input,
                |p| p.short_term_lufs,
                &axis,
                x_of,
                plot.width(),
                Stroke::new(1.5, INPUT_TRACE),
            );
        }
        trace(
            &painter,
            &mut self.line,
            &self.output,
            |p| p.momentary_lufs,
            &axis,
            x_of,
            plot.width(),
            Stroke::new(1.0, Color32::from_rgb(80, 125, 170)),
        );
        trace(
            &painter,
            &mut self.line,
            &self.output,
            |p| p.short_term_lufs,
            &axis,
            x_of,
            plot.width(),
            Stroke::new(2.0, TRACE_A),
        );

        let font = FontId::monospace(10.0);
        let when = if offset == 0 {
            format!("M / S, last {} (live)", span_label(span_s))
        } else {
            format!(
                "M / S, {} ending {:.0} s ago · double-click: live",
                span_label(span_s),
                offset as f64 / HISTORY_RATE_HZ
            )
        };
        painter.text(
            plot.right_top() + Vec2::new(-4.0, 3.0),
            Align2::RIGHT_TOP,
            when,
            font.clone(),
            GRID_TEXT,
        );

        // Histogram of short-term values, bars growing leftwards from the right edge.
        let hist = Rect::from_min_max(Pos2::new(rect.right() - HISTOGRAM_WIDTH, rect.top()), rect.max);
        let hist_axis = DbAxis { rect: hist, top_db: TOP_LUFS, bottom_db: BOTTOM_LUFS };
        let counts = output.histogram();
        let most = counts.iter().copied().max().unwrap_or(0).max(1) as f32;
        let bar_height = (hist.height() / (TOP_LUFS - BOTTOM_LUFS) * HISTOGRAM_BIN_LU).max(1.0);
        for (bin, &count) in counts.iter().enumerate().take(HISTOGRAM_BINS) {
            let low = histogram_bin_lufs(bin);
            if count == 0 || !(BOTTOM_LUFS..TOP_LUFS).contains(&low) {
                continue;
            }
            let y = hist_axis.y(low + HISTOGRAM_BIN_LU);
            let length = count as f32 / most * (HISTOGRAM_WIDTH - 4.0);
            painter.rect_filled(
                Rect::from_min_size(Pos2::new(hist.right() - length, y), Vec2::new(length, bar_height)),
                0.0,
                Color32::from_rgb(70, 120, 170),
            );
        }
        painter.text(
            hist.right_bottom() - Vec2::new(2.0, 2.0),
            Align2::RIGHT_BOTTOM,
            "S histogram",
            font,
            GRID_TEXT,
        );
    }
}

/// Draws one trace of `points` (the newest last, at the right edge), decimated to at most two
/// points per horizontal point: each group keeps its loudest value, so short peaks stay visible
/// at long spans. Gaps (no value yet, silence) break the line.
#[allow(clippy::too_many_arguments)]
fn trace(
    painter: &egui::Painter,
    line: &mut Vec<Pos2>,
    points: &[HistoryPoint],
    select: fn(&HistoryPoint) -> Option<f32>,
    axis: &DbAxis,
    x_of: impl Fn(usize) -> f32,
    width: f32,
    stroke: Stroke,
) {
    let group = (points.len() as f32 / (2.0 * width.max(1.0))).ceil().max(1.0) as usize;
    line.clear();
    let newest = points.len();
    let flush = |line: &mut Vec<Pos2>| {
        if line.len() > 1 {
            painter.add(Shape::line(std::mem::take(line), stroke));
        }
        line.clear();
    };
    for (chunk_index, chunk) in points.chunks(group).enumerate() {
        let loudest =
            chunk.iter().filter_map(select).filter(|v| v.is_finite()).fold(f32::NEG_INFINITY, f32::max);
        if loudest.is_finite() {
            let last_index = chunk_index * group + chunk.len() - 1;
            line.push(Pos2::new(x_of(newest - 1 - last_index), axis.y(loudest)));
        } else {
            flush(line);
        }
    }
    flush(line);
}
