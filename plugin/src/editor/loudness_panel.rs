//! The loudness page: input and output side by side (M and S bars against the delivery target,
//! big readouts of momentary, short-term, integrated, LRA, true peak per channel with the over
//! lamp, PLR and PSR), the loudness history with its histogram, and the meters' transport
//! controls (reset, reset on play, pause when stopped, pause).

use std::sync::atomic::Ordering;

use egui::{Color32, RichText, Sense, Vec2};
use nice_plug::prelude::*;

use super::level_meter::{loudness_bar, loudness_scale};
use super::loudness_graph::{span_label, HistoryGraph, SPANS_S};
use super::widgets::{
    caption, checkbox, format_dbtp, format_lu, format_position, loudness_colour, title, GOOD, RED,
};
use super::DeliveryTarget;
use crate::editor_settings::EditorSettings;
use crate::engine::EngineView;
use crate::meters::MeterPointView;
use crate::params::ParityParams;

/// Draws the page.
pub fn panel(
    ui: &mut egui::Ui,
    params: &ParityParams,
    setter: &ParamSetter,
    view: &EngineView,
    settings: &mut EditorSettings,
    graph: &mut HistoryGraph,
    target: &DeliveryTarget,
) {
    let total = ui.available_height();
    let meters_height = (total * 0.5).clamp(250.0, 420.0);
    ui.columns(2, |columns| {
        meter_point(&mut columns[0], "INPUT", &view.input_meters, target, meters_height);
        meter_point(&mut columns[1], "OUTPUT", &view.output_meters, target, meters_height);
    });
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.label(title("HISTORY"));
        ui.label(caption("span"));
        for span in SPANS_S {
            if ui.selectable_label(settings.history_span_s == span, span_label(span)).clicked() {
                settings.history_span_s = span;
            }
        }
        ui.separator();
        ui.checkbox(&mut settings.history_show_input, "input S");
        if !graph.is_live() && ui.button("Live").clicked() {
            graph.go_live();
        }
    });
    let graph_height = (ui.available_height() - 34.0).max(90.0);
    let width = ui.available_width();
    let input = settings.history_show_input.then_some(&view.input_history);
    graph.show(
        ui,
        Vec2::new(width, graph_height),
        &view.output_history,
        input,
        settings.history_span_s,
        target.target_lufs,
    );
    ui.add_space(2.0);
    meter_controls(ui, params, setter, view);
}

/// One meter point: title, M and S bars with the scale, and the readouts.
fn meter_point(ui: &mut egui::Ui, name: &str, meters: &MeterPointView, target: &DeliveryTarget, height: f32) {
    ui.label(title(name));
    ui.horizontal_top(|ui| {
        let (rect, _) = ui.allocate_exact_size(Vec2::new(104.0, height - 22.0), Sense::hover());
        let painter = ui.painter_at(rect);
        let bar = |index: f32| {
            egui::Rect::from_min_size(rect.min + Vec2::new(index * 38.0, 0.0), Vec2::new(30.0, rect.height()))
        };
        loudness_bar(
            &painter,
            bar(0.0),
            "M",
            meters.momentary_lufs(),
            meters.max_momentary_lufs(),
            target.target_lufs,
        );
        loudness_bar(
            &painter,
            bar(1.0),
            "S",
            meters.short_term_lufs(),
            meters.max_short_term_lufs(),
            target.target_lufs,
        );
        loudness_scale(&painter, egui::Rect::from_min_max(rect.min + Vec2::new(70.0, 0.0), rect.max));
        ui.add_space(6.0);
        readouts(ui, meters, target);
    });
}

/// The readouts of one meter point, large enough to read from across the room.
fn readouts(ui: &mut egui::Ui, meters: &MeterPointView, target: &DeliveryTarget) {
    let big =
        |text: String, colour: Color32| RichText::new(text).size(30.0).monospace().strong().color(colour);
    let medium = |text: String, colour: Color32| RichText::new(text).size(17.0).monospace().color(colour);
    let text = ui.visuals().strong_text_color();
    let integrated = meters.integrated_lufs();
    // Integrated against the target: within ±1 LU green, within ±2 amber, else the text colour.
    let integrated_colour = loudness_colour(integrated, target, text);
    egui::Grid::new(ui.next_auto_id()).num_columns(2).spacing([10.0, 0.0]).show(ui, |ui| {
        ui.label(caption("Momentary"));
        ui.label(big(format_lu(meters.momentary_lufs()), text)).on_hover_text(format!(
            "LUFS, 400 ms; max {} at {}",
            format_lu(meters.max_momentary_lufs()),
            format_position(meters.max_momentary_position_s())
        ));
        ui.end_row();
        ui.label(caption("Short-term"));
        ui.label(big(format_lu(meters.short_term_lufs()), text)).on_hover_text(format!(
            "LUFS, 3 s; max {} at {}",
            format_lu(meters.max_short_term_lufs()),
            format_position(meters.max_short_term_position_s())
        ));
        ui.end_row();
        ui.label(caption("Integrated"));
        ui.label(big(format_lu(integrated), integrated_colour))
            .on_hover_text(format!("LUFS since reset (BS.1770 gated); target {}", format_lu(target.target_lufs)));
        ui.end_row();
        ui.label(caption("LRA"));
        ui.label(medium(format_lu(meters.loudness_range_lu()), text)).on_hover_text("loudness range, LU (EBU Tech 3342)");
        ui.end_row();
        ui.label(caption("True peak"));
        ui.horizontal(|ui| {
            for channel in 0..2 {
                let peak = meters.true_peak_dbtp(channel);
                let over = peak.is_some_and(|p| super::widgets::above_ceiling(p, target.ceiling_dbtp));
                ui.label(medium(format_dbtp(peak), if over { RED } else { text }))
                    .on_hover_text(if channel == 0 { "left, dBTP, held since reset" } else { "right, dBTP, held since reset" });
            }
        });
        ui.end_row();
        ui.label(caption("Overs"));
        ui.horizontal(|ui| {
            let events = meters.over_events();
            let over = meters.max_true_peak_dbtp().is_some_and(|p| super::widgets::above_ceiling(p, target.ceiling_dbtp));
            let (lamp, colour) = if over { ("OVER", RED) } else { ("ok", GOOD) };
            ui.label(RichText::new(lamp).strong().monospace().color(Color32::BLACK).background_color(colour))
                .on_hover_text(format!("true peak above the target's ceiling ({:.1} dBTP)", target.ceiling_dbtp));
            ui.label(medium(events.to_string(), text)).on_hover_text(format!(
                "overs above −1 dBTP since reset ({} sample periods); highest at {}",
                meters.over_count(),
                format_position(meters.true_peak_position_s())
            ));
        });
        ui.end_row();
        ui.label(caption("PLR · PSR"));
        ui.label(medium(format!("{} · {}", format_lu(meters.plr_db()), format_lu(meters.psr_db())), text))
            .on_hover_text("peak-to-loudness ratio (max true peak − integrated) · peak-to-short-term ratio (true peak of the last 3 s − S), dB");
        ui.end_row();
    });
}

/// Reset, reset on play, pause when stopped, pause.
fn meter_controls(ui: &mut egui::Ui, params: &ParityParams, setter: &ParamSetter, view: &EngineView) {
    ui.horizontal(|ui| {
        if ui
            .button("Reset meters")
            .on_hover_text("Clear integrated, LRA, maxima, true peaks and history")
            .clicked()
        {
            view.reset_meters_requested.store(true, Ordering::Relaxed);
        }
        checkbox(ui, "Reset on play", &params.meters.reset_on_play, setter);
        checkbox(ui, "Pause when stopped", &params.meters.pause_when_stopped, setter);
        let mut hold = view.meters_hold.load(Ordering::Relaxed);
        if ui
            .toggle_value(&mut hold, "Pause")
            .on_hover_text("Hold every loudness reading until pressed again")
            .clicked()
        {
            view.meters_hold.store(hold, Ordering::Relaxed);
        }
        if view.meters_paused.load(Ordering::Relaxed) {
            let why = if hold { "METERS PAUSED" } else { "METERS PAUSED (transport stopped)" };
            ui.label(RichText::new(why).strong().color(Color32::YELLOW));
        }
    });
}
