//! Meter bars: per-channel sample peak (PPM fall-back with the held maximum) on a dBFS scale,
//! and loudness bars (momentary or short-term) on a LUFS scale with the target marked.

use egui::{Align2, Color32, FontId, Painter, Pos2, Rect, Stroke, Vec2};

use super::widgets::{format_dbfs, format_lu, AMBER, GOOD, GRID, GRID_TEXT, PLOT_BACKGROUND, RED};
use crate::peak_meter::PeakMeterView;

/// Bottom of the peak scale, dBFS.
const PEAK_MIN_DBFS: f32 = -60.0;

/// Top of the peak scale, dBFS.
const PEAK_MAX_DBFS: f32 = 6.0;

/// Peak scale ticks, dBFS.
const PEAK_TICKS_DBFS: [f32; 8] = [6.0, 0.0, -6.0, -12.0, -18.0, -24.0, -36.0, -48.0];

/// Bottom of the loudness bar scale, LUFS.
pub const LOUDNESS_MIN_LUFS: f32 = -48.0;

/// Top of the loudness bar scale, LUFS.
pub const LOUDNESS_MAX_LUFS: f32 = 0.0;

/// Space kept above and below a scale so its end labels are not clipped, in points.
const SCALE_PADDING: f32 = 8.0;

/// Vertical position of `value` on a `min`…`max` scale inside `rect` (padded).
fn scale_y(rect: Rect, value: f32, min: f32, max: f32) -> f32 {
    let t = if value.is_nan() { 0.0 } else { ((value - min) / (max - min)).clamp(0.0, 1.0) };
    let span = (rect.height() - 2.0 * SCALE_PADDING).max(1.0);
    rect.bottom() - SCALE_PADDING - t * span
}

/// Sample-peak bars of `channels` channels (L, R) with a dBFS scale of `scale_width` points at
/// the left (0 for none): green to −18 dBFS, amber to −6, red above; the held maximum as a white
/// line; the current peak as a number on top.
pub fn peak_bars(painter: &Painter, rect: Rect, view: &PeakMeterView, scale_width: f32) {
    painter.rect_filled(rect, 3.0, PLOT_BACKGROUND);
    let font = FontId::monospace(10.0);
    if scale_width > 0.0 {
        for tick in PEAK_TICKS_DBFS {
            let y = scale_y(rect, tick, PEAK_MIN_DBFS, PEAK_MAX_DBFS);
            painter.line_segment(
                [Pos2::new(rect.left() + scale_width - 4.0, y), Pos2::new(rect.right() - 2.0, y)],
                Stroke::new(1.0, GRID),
            );
            painter.text(
                Pos2::new(rect.left() + scale_width - 6.0, y),
                Align2::RIGHT_CENTER,
                format!("{tick:+.0}").replace('-', "−"),
                font.clone(),
                GRID_TEXT,
            );
        }
    }
    let gap = 4.0;
    let bar_width = ((rect.width() - scale_width - 3.0 * gap) / 2.0).max(4.0);
    for channel in 0..2 {
        let left = rect.left() + scale_width + gap + channel as f32 * (bar_width + gap);
        let column =
            Rect::from_min_max(Pos2::new(left, rect.top()), Pos2::new(left + bar_width, rect.bottom()));
        let track = column.shrink2(Vec2::new(0.0, SCALE_PADDING));
        painter.rect_filled(track, 1.0, Color32::from_gray(32));
        let peak = view.peak_dbfs(channel);
        if peak > PEAK_MIN_DBFS {
            let top = scale_y(column, peak, PEAK_MIN_DBFS, PEAK_MAX_DBFS);
            for (from, to, colour) in
                [(PEAK_MIN_DBFS, -18.0, GOOD), (-18.0, -6.0, AMBER), (-6.0, PEAK_MAX_DBFS, RED)]
            {
                let segment_top = scale_y(column, to, PEAK_MIN_DBFS, PEAK_MAX_DBFS).max(top);
                let segment_bottom = scale_y(column, from, PEAK_MIN_DBFS, PEAK_MAX_DBFS);
                if segment_top < segment_bottom {
                    painter.rect_filled(
                        Rect::from_min_max(
                            Pos2::new(column.left(), segment_top),
                            Pos2::new(column.right(), segment_bottom),
                        ),
                        0.0,
                        colour,
                    );
                }
            }
        }
        let max = view.max_dbfs(channel);
        if max > PEAK_MIN_DBFS {
            let y = scale_y(column, max, PEAK_MIN_DBFS, PEAK_MAX_DBFS);
            let colour = if max > 0.0 { RED } else { Color32::WHITE };
            painter.line_segment(
                [Pos2::new(column.left(), y), Pos2::new(column.right(), y)],
                Stroke::new(2.0, colour),
            );
        }
        if bar_width >= 26.0 {
            painter.text(
                Pos2::new(column.center().x, column.top() + SCALE_PADDING + 8.0),
                Align2::CENTER_CENTER,
                format_dbfs(peak),
                font.clone(),
                Color32::WHITE,
            );
        }
    }
}

/// One loudness bar: `value` (LUFS) filled from the bottom, its maximum since reset as a white
/// line, the target as a green line; the part above target + 1 LU is amber. `label` sits under
/// the bar, the value above it.
pub fn loudness_bar(
    painter: &Painter,
    rect: Rect,
    label: &str,
    value_lufs: Option<f32>,
    max_lufs: Option<f32>,
    target_lufs: Option<f32>,
) {
    let track = Rect::from_min_max(rect.min + Vec2::new(0.0, 16.0), rect.max - Vec2::new(0.0, 14.0));
    painter.rect_filled(track, 2.0, Color32::from_gray(32));
    let y = |lufs: f32| scale_y(track, lufs, LOUDNESS_MIN_LUFS, LOUDNESS_MAX_LUFS);
    if let Some(value) = value_lufs.filter(|v| v.is_finite() && *v > LOUDNESS_MIN_LUFS) {
        let top = y(value);
        let warn_from = target_lufs.map_or(track.top(), |target| y(target + 1.0));
        let bottom = y(LOUDNESS_MIN_LUFS);
        painter.rect_filled(
            Rect::from_min_max(Pos2::new(track.left(), top.max(warn_from)), Pos2::new(track.right(), bottom)),
            0.0,
            Color32::from_rgb(70, 150, 220),
        );
        if top < warn_from {
            painter.rect_filled(
                Rect::from_min_max(Pos2::new(track.left(), top), Pos2::new(track.right(), warn_from)),
                0.0,
                AMBER,
            );
        }
    }
    if let Some(max) = max_lufs.filter(|v| v.is_finite() && *v > LOUDNESS_MIN_LUFS) {
        let my = y(max);
        painter.line_segment(
            [Pos2::new(track.left(), my), Pos2::new(track.right(), my)],
            Stroke::new(1.5, Color32::WHITE),
        );
    }
    if let Some(target) = target_lufs {
        let ty = y(target);
        painter.line_segment(
            [Pos2::new(track.left() - 3.0, ty), Pos2::new(track.right() + 3.0, ty)],
            Stroke::new(2.0, GOOD),
        );
    }
    painter.text(
        Pos2::new(rect.center().x, rect.top()),
        Align2::CENTER_TOP,
        format_lu(value_lufs),
        FontId::monospace(11.0),
        Color32::WHITE,
    );
    painter.text(
        Pos2::new(rect.center().x, rect.bottom()),
        Align2::CENTER_BOTTOM,
        label,
        FontId::proportional(11.0),
        GRID_TEXT,
    );
}

/// The LUFS scale for loudness bars: labels every 6 LU along the right edge of `rect` (the same
/// padding as [`loudness_bar`]'s track).
pub fn loudness_scale(painter: &Painter, rect: Rect) {
    let track = Rect::from_min_max(rect.min + Vec2::new(0.0, 16.0), rect.max - Vec2::new(0.0, 14.0));
    let mut lufs = LOUDNESS_MAX_LUFS;
    while lufs >= LOUDNESS_MIN_LUFS {
        let y = scale_y(track, lufs, LOUDNESS_MIN_LUFS, LOUDNESS_MAX_LUFS);
        painter.text(
            Pos2::new(rect.right(), y),
            Align2::RIGHT_CENTER,
            format!("{lufs:.0}").replace('-', "−"),
            FontId::monospace(10.0),
            GRID_TEXT,
        );
        lufs -= 6.0;
    }
}
