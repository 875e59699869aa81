//! The header: the brand, the delivery target (its loudness and true-peak ceiling are what every
//! meter is read against), the monitor source switch with each source's level-match offset, the
//! bad-input lamp, the sample rate and latency, and the global bypass; under it the status line,
//! which says in orange whenever what is heard is not the chain output (and what it is instead).
//! The status line always takes its height, so the layout never jumps.

use std::sync::atomic::Ordering;

use egui::{Color32, RichText};
use nice_plug::prelude::*;

use super::widgets::{set_bool, set_int, signed_db, ACCENT, DIFFERS, RED};
use super::{DeliveryTarget, CUSTOM_TARGET};
use crate::editor_settings::EditorSettings;
use crate::engine::EngineView;
use crate::monitor::platform::platforms;
use crate::monitor::{MonitorSource, MonitorView};
use crate::params::ParityParams;
use crate::reference::{ReferenceBank, SlotStatus, REFERENCE_SLOTS};

/// Height of the status line, points.
pub const STATUS_HEIGHT: f32 = 22.0;

/// What the header needs.
pub struct HeaderInputs<'a> {
    /// Parameters.
    pub params: &'a ParityParams,
    /// Host gestures.
    pub setter: &'a ParamSetter<'a>,
    /// Engine readings.
    pub view: &'a EngineView,
    /// Monitor readings.
    pub monitor: &'a MonitorView,
    /// Whether bad input was replaced recently.
    pub bad_input: bool,
    /// The delivery target in effect.
    pub target: &'a DeliveryTarget,
    /// Mean editor frame time, ms (shown on hover over the rate).
    pub frame_ms: f32,
}

/// Draws the header row.
pub fn header(ui: &mut egui::Ui, inputs: &HeaderInputs<'_>, settings: &mut EditorSettings) {
    let params = inputs.params;
    ui.horizontal(|ui| {
        ui.label(RichText::new("PARITY").size(22.0).strong().color(ACCENT));
        ui.add_space(8.0);
        target_selector(ui, inputs.target, settings);
        ui.add_space(10.0);
        source_switch(ui, params, inputs.setter, &params.references, inputs.monitor);
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let mut bypassed = params.bypass.value();
            let label = RichText::new(if bypassed { "BYPASSED" } else { "Bypass" }).size(14.0);
            let label =
                if bypassed { label.color(Color32::BLACK).background_color(Color32::YELLOW) } else { label };
            let response = ui.toggle_value(&mut bypassed, label).on_hover_text("Global bypass (B)");
            super::widgets::probe(ui.ctx(), "bypass", response.rect);
            if response.clicked() {
                set_bool(inputs.setter, &params.bypass, bypassed);
            }
            if inputs.bad_input {
                ui.label(
                    RichText::new("BAD INPUT (NaN/∞) REPLACED")
                        .strong()
                        .color(Color32::WHITE)
                        .background_color(Color32::from_rgb(190, 30, 30)),
                )
                .on_hover_text(
                    "The host sent NaN, infinite or absurdly large samples; they were replaced by silence.",
                );
            }
            let rate = inputs.view.sample_rate_hz.load(Ordering::Relaxed);
            let latency = inputs.view.latency_samples.load(Ordering::Relaxed);
            ui.label(RichText::new(format!("{:.1} kHz", rate / 1000.0)).weak()).on_hover_text(format!(
                "latency {latency} samples ({:.1} ms) · editor frame {:.2} ms",
                latency as f32 / rate.max(1.0) * 1000.0,
                inputs.frame_ms
            ));
        });
    });
}

/// The delivery target combo with its figures.
fn target_selector(ui: &mut egui::Ui, target: &DeliveryTarget, settings: &mut EditorSettings) {
    ui.vertical(|ui| {
        ui.spacing_mut().item_spacing.y = 0.0;
        egui::ComboBox::from_id_salt("delivery-target")
            .width(170.0)
            .selected_text(RichText::new(&target.name).strong())
            .show_ui(ui, |ui| {
                for platform in platforms() {
                    ui.selectable_value(&mut settings.target, platform.id.clone(), &platform.name);
                }
                ui.selectable_value(&mut settings.target, CUSTOM_TARGET.to_owned(), "Custom");
            });
        if settings.target == CUSTOM_TARGET {
            ui.horizontal(|ui| {
                ui.add(
                    egui::DragValue::new(&mut settings.custom_target_lufs)
                        .range(-40.0..=-3.0)
                        .speed(0.1)
                        .fixed_decimals(1)
                        .suffix(" LUFS"),
                );
                ui.add(
                    egui::DragValue::new(&mut settings.custom_ceiling_dbtp)
                        .range(-12.0..=0.0)
                        .speed(0.05)
                        .fixed_decimals(1)
                        .suffix(" dBTP"),
                );
            });
        } else {
            ui.label(
                RichText::new(
                    match target.target_lufs {
                        Some(lufs) => format!("{lufs:.0} LUFS · {:.1} dBTP", target.ceiling_dbtp),
                        None => format!("{:.1} dBTP", target.ceiling_dbtp),
                    }
                    .replace('-', "−"),
                )
                .size(11.0)
                .color(Color32::from_gray(160)),
            );
        }
    });
}

/// Processed / Unprocessed / Ref N buttons with the level-match offsets.
fn source_switch(
    ui: &mut egui::Ui,
    params: &ParityParams,
    setter: &ParamSetter,
    bank: &ReferenceBank,
    monitor: &MonitorView,
) {
    let current = params.monitor.source.value();
    let button = |ui: &mut egui::Ui, value: i32, label: String, hint: &str| {
        let offset =
            monitor.match_db[MonitorSource::from_index(value as usize).index()].load(Ordering::Relaxed);
        let text =
            if value == 0 || offset.abs() < 0.05 { label } else { format!("{label} {}", signed_db(offset)) };
        let selected = current == value;
        let rich = RichText::new(text).size(13.0);
        let rich =
            if selected && value != 0 { rich.color(Color32::BLACK).background_color(DIFFERS) } else { rich };
        let response = ui.selectable_label(selected, rich).on_hover_text(hint);
        super::widgets::probe(ui.ctx(), &format!("source-{value}"), response.rect);
        if response.clicked() && !selected {
            set_int(setter, &params.monitor.source, value);
        }
    };
    button(ui, 0, "Processed".into(), "Hear the chain output (A)");
    button(ui, 1, "Unprocessed".into(), "Hear the input, level-matched to the output (A toggles)");
    let mut shown = 0;
    for slot in 0..REFERENCE_SLOTS {
        if bank.slot(slot).is_some_and(|info| info.status == SlotStatus::Ready) {
            if shown < 6 || current == 2 + slot as i32 {
                button(
                    ui,
                    2 + slot as i32,
                    format!("Ref {}", slot + 1),
                    "Hear this reference, level-matched (R, or its number key)",
                );
            }
            shown += 1;
        }
    }
    if shown > 6 {
        ui.label(RichText::new(format!("+{} on References", shown - 6)).weak());
    }
}

/// The status line: orange when the output differs from the chain output, red for overs above
/// the target's ceiling, otherwise a quiet confirmation.
pub fn status_line(
    ui: &mut egui::Ui,
    params: &ParityParams,
    view: &EngineView,
    monitor: &MonitorView,
    target: &DeliveryTarget,
    right: impl FnOnce(&mut egui::Ui),
) {
    let (rect, _) =
        ui.allocate_exact_size(egui::vec2(ui.available_width(), STATUS_HEIGHT), egui::Sense::hover());
    // The right side first (the break reminder), so the message never covers it.
    let mut right_child = ui.new_child(
        egui::UiBuilder::new().max_rect(rect).layout(egui::Layout::right_to_left(egui::Align::Center)),
    );
    right(&mut right_child);
    let used = right_child.min_rect().width();
    let left_rect =
        egui::Rect::from_min_max(rect.min, egui::pos2((rect.max.x - used - 8.0).max(rect.min.x), rect.max.y));
    let mut child = ui.new_child(
        egui::UiBuilder::new().max_rect(left_rect).layout(egui::Layout::left_to_right(egui::Align::Center)),
    );
    status_message(&mut child, params, view, monitor, target);
}

/// The status line's message (see [`status_line`]).
fn status_message(
    ui: &mut egui::Ui,
    params: &ParityParams,
    view: &EngineView,
    monitor: &MonitorView,
    target: &DeliveryTarget,
) {
    if monitor.offline.load(Ordering::Relaxed) {
        ui.label(RichText::new("Offline render: output = chain output (monitor off)").weak());
        return;
    }
    if monitor.output_differs.load(Ordering::Relaxed) {
        let source = MonitorSource::from_index(usize::from(monitor.source.load(Ordering::Relaxed)));
        let mut text = format!(
            " MONITORING {} ({}): output ≠ chain output",
            crate::params::source_name(source.index() as i32).to_uppercase(),
            signed_db(monitor.gain_db.load(Ordering::Relaxed)),
        );
        let settings = params.monitor_settings();
        let mut tools = Vec::new();
        if settings.platform.is_some() {
            tools.push(params.monitor.platform.to_string());
        }
        if settings.listen != crate::monitor::ListenMode::Stereo {
            tools.push(params.monitor.listen.to_string());
        }
        if settings.polarity != crate::monitor::Polarity::Normal {
            tools.push(params.monitor.polarity.to_string());
        }
        if settings.band_solo != crate::monitor::BandSolo::Off {
            tools.push(format!("{} band", params.monitor.band_solo));
        }
        if settings.dim {
            tools.push("Dim".into());
        }
        if settings.translation != crate::monitor::translation::Translation::Off {
            tools.push(format!("Translate: {}", settings.translation.name()));
        }
        if settings.low_level != crate::monitor::translation::LowLevel::Off {
            tools.push(format!("Low level {}", settings.low_level.name()));
        }
        if !tools.is_empty() {
            text.push_str(&format!(" · {}", tools.join(" · ")));
        }
        text.push(' ');
        ui.label(RichText::new(text).strong().color(Color32::BLACK).background_color(DIFFERS));
        return;
    }
    let peak = view.output_meters.max_true_peak_dbtp().filter(|p| p.is_finite());
    if peak.is_some_and(|p| super::widgets::above_ceiling(p, target.ceiling_dbtp)) {
        ui.label(
            RichText::new(format!(
                " Output true peak {} dBTP is above the {} ceiling ({:.1} dBTP) ",
                super::widgets::format_dbtp(peak),
                target.name,
                target.ceiling_dbtp
            ))
            .strong()
            .color(Color32::WHITE)
            .background_color(RED),
        );
    } else {
        ui.label(RichText::new("Hearing the chain output").color(Color32::from_gray(120)));
    }
}
