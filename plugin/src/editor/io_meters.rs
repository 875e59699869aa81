//! The meter column on the right of every page: input and output sample peaks (with the held
//! maximum), the output's short-term and integrated loudness against the delivery target, its
//! true peak against the ceiling, and the limiter's gain reduction, readable from across the
//! room whatever page is open.

use std::sync::atomic::Ordering;

use egui::{Align2, Color32, FontId, Rect, RichText, Sense, Vec2};

use super::level_meter::{loudness_bar, peak_bars};
use super::widgets::{caption, format_dbtp, format_lu, loudness_colour, reduction_bar, RED};
use super::DeliveryTarget;
use crate::engine::EngineView;

/// Width of the column, points.
pub const COLUMN_WIDTH: f32 = 196.0;

/// Draws the column.
pub fn column(ui: &mut egui::Ui, view: &EngineView, target: &DeliveryTarget) {
    let meters = &view.output_meters;
    let bars_height = (ui.available_height() - 250.0).clamp(160.0, 520.0);
    let (rect, _) = ui.allocate_exact_size(Vec2::new(ui.available_width(), bars_height), Sense::hover());
    let painter = ui.painter_at(rect);
    let third = (rect.width() - 12.0) / 3.0;
    let label_height = 14.0;
    let area = |index: f32, width: f32| {
        Rect::from_min_size(
            rect.min + Vec2::new(index * (third + 6.0), label_height),
            Vec2::new(width, rect.height() - label_height),
        )
    };
    let input = area(0.0, third + 8.0);
    let output = area(1.0, third);
    let short_term = area(2.0, third);
    peak_bars(&painter, input, &view.input_peak, 24.0);
    peak_bars(&painter, output.translate(Vec2::new(8.0, 0.0)).intersect(rect), &view.output_peak, 0.0);
    loudness_bar(
        &painter,
        short_term.shrink2(Vec2::new(8.0, 0.0)),
        "S",
        meters.short_term_lufs(),
        meters.max_short_term_lufs(),
        target.target_lufs,
    );
    for (area, text) in [(input, "IN"), (output, "OUT"), (short_term, "LUFS")] {
        painter.text(
            Rect::from_min_size(area.min, Vec2::new(area.width(), 0.0)).center_top()
                - Vec2::new(0.0, label_height),
            Align2::CENTER_TOP,
            text,
            FontId::proportional(11.0),
            Color32::from_gray(150),
        );
    }

    ui.add_space(6.0);
    let integrated = meters.integrated_lufs();
    let colour = loudness_colour(integrated, target, ui.visuals().strong_text_color());
    ui.label(caption("Integrated"));
    ui.label(RichText::new(format_lu(integrated)).size(34.0).monospace().strong().color(colour))
        .on_hover_text(format!("output, LUFS since reset; target {}", format_lu(target.target_lufs)));
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            ui.label(caption("Short-term"));
            ui.label(RichText::new(format_lu(meters.short_term_lufs())).size(20.0).monospace());
        });
        ui.add_space(8.0);
        ui.vertical(|ui| {
            ui.label(caption("LRA"));
            ui.label(RichText::new(format_lu(meters.loudness_range_lu())).size(20.0).monospace());
        });
    });
    let peak = meters.max_true_peak_dbtp();
    let over = peak.is_some_and(|p| super::widgets::above_ceiling(p, target.ceiling_dbtp));
    ui.label(caption("True peak max"));
    ui.label(RichText::new(format_dbtp(peak)).size(20.0).monospace().color(if over {
        RED
    } else {
        ui.visuals().text_color()
    }))
    .on_hover_text(format!("output, dBTP since reset; ceiling {:.1} dBTP", target.ceiling_dbtp));
    ui.label(caption("Limiter"));
    reduction_bar(
        ui,
        view.limiter_gain_reduction_db.load(Ordering::Relaxed),
        12.0,
        (ui.available_width() - 4.0).max(20.0),
    );
}
