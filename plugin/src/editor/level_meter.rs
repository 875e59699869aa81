//! Level bars: per-channel sample peak with PPM fall-back and the held maximum, on a dBFS scale.

use egui::{Align2, Color32, FontId, Rect, Sense, Stroke, Vec2};

use crate::meters::MeterPointView;
use crate::peak_meter::{PeakMeterView, SILENCE_DBFS};

/// Bottom of the bar scale in dBFS.
const SCALE_MIN_DBFS: f32 = -60.0;

/// Top of the bar scale in dBFS.
const SCALE_MAX_DBFS: f32 = 6.0;

/// Scale ticks in dBFS.
const TICKS_DBFS: [f32; 8] = [6.0, 0.0, -6.0, -12.0, -18.0, -24.0, -36.0, -48.0];

/// Formats a level in dBFS with one decimal, "−∞" for silence.
pub fn format_dbfs(level_dbfs: f32) -> String {
    if !level_dbfs.is_finite() || level_dbfs <= SILENCE_DBFS + 1.0 {
        "−∞".to_owned()
    } else {
        format!("{level_dbfs:+.1}").replace('-', "−")
    }
}

/// Formats a loudness reading: one decimal, "−∞" for silence, "—" while there is no value yet.
pub fn format_lu(value: Option<f32>) -> String {
    match value {
        None => "—".to_owned(),
        Some(v) if v == f32::NEG_INFINITY => "−∞".to_owned(),
        Some(v) => format!("{v:.1}").replace('-', "−"),
    }
}

/// Formats a true-peak reading: two decimals, "−∞" for silence, "—" before any audio.
pub fn format_dbtp(value: Option<f32>) -> String {
    match value {
        None => "—".to_owned(),
        Some(v) if v == f32::NEG_INFINITY || v <= SILENCE_DBFS => "−∞".to_owned(),
        Some(v) => format!("{v:+.2}").replace('-', "−"),
    }
}

/// Formats a position since the last reset as `m:ss.s`, "—" when there is none.
pub fn format_position(seconds: Option<f64>) -> String {
    match seconds {
        Some(s) if s.is_finite() && s >= 0.0 => {
            let minutes = (s / 60.0).floor();
            format!("{}:{:04.1}", minutes as u64, s - minutes * 60.0)
        }
        _ => "—".to_owned(),
    }
}

/// A titled meter section: two bars (L, R) with a scale, the loudness readouts beside them, and
/// the held sample-peak maxima as numbers.
pub fn section(ui: &mut egui::Ui, title: &str, view: &PeakMeterView, meters: &MeterPointView, height: f32) {
    ui.vertical(|ui| {
        ui.label(egui::RichText::new(title).size(15.0).strong());
        ui.horizontal_top(|ui| {
            let width = (ui.available_width() * 0.5).clamp(140.0, 320.0);
            let (rect, _) = ui.allocate_exact_size(Vec2::new(width, height), Sense::hover());
            draw_bars(ui, rect, view);
            ui.add_space(8.0);
            loudness_readouts(ui, meters);
        });
        ui.horizontal(|ui| {
            for (channel, name) in ["L", "R"].iter().enumerate() {
                let max = view.max_dbfs(channel);
                let color =
                    if max > 0.0 { Color32::from_rgb(255, 80, 80) } else { ui.visuals().text_color() };
                ui.label(
                    egui::RichText::new(format!("{name} max {} dBFS", format_dbfs(max)))
                        .monospace()
                        .color(color),
                );
            }
        });
    });
}

/// Space kept above and below the scale so the end labels are not clipped, in points.
const SCALE_PADDING: f32 = 10.0;

/// The loudness figures of one meter point, large enough to read from across the room.
fn loudness_readouts(ui: &mut egui::Ui, meters: &MeterPointView) {
    let big = |text: String| egui::RichText::new(text).size(24.0).monospace().strong();
    let small = |text: &str| egui::RichText::new(text).size(12.0).weak();
    egui::Grid::new(ui.next_auto_id()).num_columns(2).spacing([10.0, 2.0]).show(ui, |ui| {
        for (name, value, unit) in [
            ("M", format_lu(meters.momentary_lufs()), "LUFS"),
            ("S", format_lu(meters.short_term_lufs()), "LUFS"),
            ("I", format_lu(meters.integrated_lufs()), "LUFS"),
            ("LRA", format_lu(meters.loudness_range_lu()), "LU"),
        ] {
            ui.label(small(name));
            ui.label(big(value)).on_hover_text(unit);
            ui.end_row();
        }
        let true_peak = meters.max_true_peak_dbtp();
        let over = true_peak.is_some_and(|tp| tp > -1.0);
        ui.label(small("TP max"));
        let colour = if over { Color32::from_rgb(255, 90, 80) } else { ui.visuals().text_color() };
        ui.label(egui::RichText::new(format_dbtp(true_peak)).size(18.0).monospace().color(colour))
            .on_hover_text(format!(
                "dBTP, L {} / R {}, at {}; {} over(s) above −1 dBTP ({} sample periods)",
                format_dbtp(meters.true_peak_dbtp(0)),
                format_dbtp(meters.true_peak_dbtp(1)),
                format_position(meters.true_peak_position_s()),
                meters.over_events(),
                meters.over_count()
            ));
        ui.end_row();
        ui.label(small("PLR"));
        ui.label(egui::RichText::new(format_lu(meters.plr_db())).size(18.0).monospace())
            .on_hover_text("peak-to-loudness ratio: max true peak − integrated, dB");
        ui.end_row();
        let medium = |text: String| egui::RichText::new(text).size(14.0).monospace();
        ui.label(small("PSR"));
        ui.label(medium(format_lu(meters.psr_db())))
            .on_hover_text("peak-to-short-term ratio: true peak of the last 3 s − S, dB");
        ui.end_row();
        ui.label(small("Crest"));
        ui.label(medium(format_lu(meters.crest_db()))).on_hover_text(format!(
            "sample peak over RMS since reset, dB; RMS (300 ms) L {} / R {} dBFS",
            format_lu(meters.rms_dbfs(0)),
            format_lu(meters.rms_dbfs(1))
        ));
        ui.end_row();
        ui.label(small("Overs"));
        ui.label(medium(meters.over_events().to_string()));
        ui.end_row();
    });
}

/// Vertical position of `level_dbfs` inside `rect` (padded by [`SCALE_PADDING`]).
fn level_y(rect: Rect, level_dbfs: f32) -> f32 {
    let t = ((level_dbfs - SCALE_MIN_DBFS) / (SCALE_MAX_DBFS - SCALE_MIN_DBFS)).clamp(0.0, 1.0);
    let span = (rect.height() - 2.0 * SCALE_PADDING).max(1.0);
    rect.bottom() - SCALE_PADDING - t * span
}

fn draw_bars(ui: &egui::Ui, rect: Rect, view: &PeakMeterView) {
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, Color32::from_gray(22));
    let scale_width = 44.0;
    let bar_width = ((rect.width() - scale_width) / 2.0 - 10.0).max(8.0);
    let font = FontId::monospace(11.0);
    for tick in TICKS_DBFS {
        let y = level_y(rect, tick);
        painter.line_segment(
            [egui::pos2(rect.left() + scale_width - 6.0, y), egui::pos2(rect.right() - 4.0, y)],
            Stroke::new(1.0, Color32::from_gray(48)),
        );
        painter.text(
            egui::pos2(rect.left() + scale_width - 10.0, y),
            Align2::RIGHT_CENTER,
            format!("{tick:+.0}"),
            font.clone(),
            Color32::from_gray(150),
        );
    }
    for channel in 0..2 {
        let left = rect.left() + scale_width + channel as f32 * (bar_width + 10.0);
        let column =
            Rect::from_min_max(egui::pos2(left, rect.top()), egui::pos2(left + bar_width, rect.bottom()));
        painter.rect_filled(column.shrink2(Vec2::new(0.0, SCALE_PADDING)), 2.0, Color32::from_gray(34));
        let peak = view.peak_dbfs(channel);
        if peak > SCALE_MIN_DBFS {
            let top = level_y(column, peak);
            // Green up to −18 dBFS, amber to −6, red above.
            for (from, to, color) in [
                (SCALE_MIN_DBFS, -18.0, Color32::from_rgb(60, 200, 110)),
                (-18.0, -6.0, Color32::from_rgb(230, 190, 60)),
                (-6.0, SCALE_MAX_DBFS, Color32::from_rgb(235, 70, 60)),
            ] {
                let segment_top = level_y(column, to).max(top);
                let segment_bottom = level_y(column, from);
                if segment_top < segment_bottom {
                    painter.rect_filled(
                        Rect::from_min_max(
                            egui::pos2(column.left(), segment_top),
                            egui::pos2(column.right(), segment_bottom),
                        ),
                        0.0,
                        color,
                    );
                }
            }
        }
        let max = view.max_dbfs(channel);
        if max > SCALE_MIN_DBFS {
            let y = level_y(column, max);
            painter.line_segment(
                [egui::pos2(column.left(), y), egui::pos2(column.right(), y)],
                Stroke::new(2.0, Color32::WHITE),
            );
        }
        painter.text(
            egui::pos2(column.center().x, column.top() + SCALE_PADDING + 10.0),
            Align2::CENTER_CENTER,
            format_dbfs(peak),
            font.clone(),
            Color32::WHITE,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_silence_as_minus_infinity_and_uses_a_real_minus_sign() {
        assert_eq!(format_dbfs(SILENCE_DBFS), "−∞");
        assert_eq!(format_dbfs(f32::NAN), "−∞");
        assert_eq!(format_dbfs(-6.02), "−6.0");
        assert_eq!(format_dbfs(0.04), "+0.0");
        assert_eq!(format_lu(None), "—");
        assert_eq!(format_lu(Some(f32::NEG_INFINITY)), "−∞");
        assert_eq!(format_lu(Some(-14.04)), "−14.0");
        assert_eq!(format_dbtp(Some(-0.996)), "−1.00");
        assert_eq!(format_dbtp(Some(0.5)), "+0.50");
        assert_eq!(format_position(None), "—");
        assert_eq!(format_position(Some(f64::NAN)), "—");
        assert_eq!(format_position(Some(75.25)), "1:15.2");
        assert_eq!(format_position(Some(3.0)), "0:03.0");
    }
}
