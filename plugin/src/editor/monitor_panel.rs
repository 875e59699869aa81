//! The monitor page: what is heard (source, level match, platform preview, listen tools) and the
//! reference slots. Parameters change through begin/set/end gestures; the slots through the
//! [`ReferenceBank`]'s methods (their work runs on the bank's loader thread).

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use nice_plug::prelude::*;

use crate::engine::EngineView;
use crate::monitor::platform::{platforms, playback_gain};
use crate::monitor::{MonitorSource, MonitorView};
use crate::params::{ParityParams, PlatformParam};
use crate::reference::{ReferenceBank, SlotStatus, REFERENCE_SLOTS, SLOT_GAIN_RANGE_DB};

/// Text typed into each slot's path field (GUI thread only).
#[derive(Default)]
pub struct SlotInputs {
    /// One path entry per slot.
    paths: Vec<String>,
}

/// Warning colour for "what you hear is not the chain output".
pub const DIFFERS_COLOUR: egui::Color32 = egui::Color32::from_rgb(230, 140, 20);

/// The page.
pub fn panel(
    ui: &mut egui::Ui,
    params: &ParityParams,
    setter: &ParamSetter,
    view: &EngineView,
    monitor: &MonitorView,
    inputs: &mut SlotInputs,
) {
    let bank = &params.references;
    egui::ScrollArea::both().auto_shrink([false, false]).show(ui, |ui| {
        source_row(ui, params, setter, bank, monitor);
        ui.add_space(4.0);
        ui.horizontal_wrapped(|ui| {
            enum_combo(ui, "Level match", &params.monitor.level_match, setter);
            enum_combo(ui, "Listen", &params.monitor.listen, setter);
            enum_combo(ui, "Polarity", &params.monitor.polarity, setter);
            enum_combo(ui, "Band solo", &params.monitor.band_solo, setter);
            bool_toggle(ui, "Dim", &params.monitor.dim, setter);
            bool_toggle(ui, "Sync references to song position", &params.monitor.reference_sync, setter);
        });
        ui.separator();
        platform_table(ui, params, setter, view, monitor);
        ui.separator();
        slots(ui, bank, inputs, monitor);
    });
}

/// Source buttons with their level-match offsets.
fn source_row(
    ui: &mut egui::Ui,
    params: &ParityParams,
    setter: &ParamSetter,
    bank: &ReferenceBank,
    monitor: &MonitorView,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new("Hear").strong());
        let current = params.monitor.source.value();
        let button = |ui: &mut egui::Ui, value: i32, label: String| {
            let offset =
                monitor.match_db[MonitorSource::from_index(value as usize).index()].load(Ordering::Relaxed);
            let text = if value == 0 { label } else { format!("{label} ({})", signed_db(offset)) };
            if ui.selectable_label(current == value, text).clicked() && current != value {
                set_int(setter, &params.monitor.source, value);
            }
        };
        button(ui, 0, "Processed".into());
        button(ui, 1, "Unprocessed".into());
        for slot in 0..REFERENCE_SLOTS {
            if bank.slot(slot).is_some_and(|info| info.status == SlotStatus::Ready) {
                button(ui, 2 + slot as i32, format!("Ref {}", slot + 1));
            }
        }
    });
    let gain = monitor.gain_db.load(Ordering::Relaxed);
    ui.label(egui::RichText::new(format!("Gain applied to what you hear: {}", signed_db(gain))).weak());
}

/// Platform preview selector and every platform's gain for the output at once.
fn platform_table(
    ui: &mut egui::Ui,
    params: &ParityParams,
    setter: &ParamSetter,
    view: &EngineView,
    monitor: &MonitorView,
) {
    let integrated = view.output_meters.integrated_lufs();
    let true_peak = view.output_meters.max_true_peak_dbtp();
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new("Platform preview").strong());
        ui.label(match integrated {
            Some(lufs) => format!(
                "output {lufs:.1} LUFS, {}",
                true_peak.map_or("–".into(), |tp| format!("{tp:.2} dBTP"))
            ),
            None => "output: not enough audio yet".into(),
        });
        let preview = params.monitor.platform.value();
        if preview != PlatformParam::Off {
            let gain = monitor.platform_gain_db.load(Ordering::Relaxed);
            let limited = monitor.platform_limited_by_peak.load(Ordering::Relaxed);
            let limiter = monitor.platform_limiter_db.load(Ordering::Relaxed);
            let mut text = format!("previewing: {}", signed_db(gain));
            if limited {
                text.push_str(" (turn-up limited by true peak)");
            }
            if limiter > 0.05 {
                text.push_str(&format!(", limiter −{limiter:.1} dB"));
            }
            ui.label(egui::RichText::new(text).color(DIFFERS_COLOUR));
        }
    });
    egui::Grid::new("platforms").num_columns(4).striped(true).spacing([14.0, 3.0]).show(ui, |ui| {
        ui.label(egui::RichText::new("Platform").weak());
        ui.label(egui::RichText::new("Target").weak());
        ui.label(egui::RichText::new("Gain").weak());
        ui.label(egui::RichText::new("").weak());
        ui.end_row();
        let current = params.monitor.platform.value();
        for (index, platform) in platforms().iter().enumerate() {
            let variant = PlatformParam::from_index(index + 1);
            let mut selected = current == variant;
            if ui.toggle_value(&mut selected, platform.name.to_string()).clicked() {
                let value = if current == variant { PlatformParam::Off } else { variant };
                setter.begin_set_parameter(&params.monitor.platform);
                setter.set_parameter(&params.monitor.platform, value);
                setter.end_set_parameter(&params.monitor.platform);
            }
            ui.label(format!("{:.0} LUFS", platform.target_lufs));
            match (integrated, true_peak) {
                (Some(lufs), Some(peak)) => {
                    let gain = playback_gain(platform, lufs, peak);
                    ui.label(signed_db(gain.gain_db));
                    let mut note = String::new();
                    if gain.limited_by_peak {
                        note.push_str("turn-up limited by peak");
                    }
                    if gain.limiter_engaged {
                        note.push_str("limiter engaged");
                    }
                    ui.label(egui::RichText::new(note).weak());
                }
                _ => {
                    ui.label("–");
                    ui.label("");
                }
            }
            ui.end_row();
        }
    });
}

/// The reference slots: path, load state, figures, trim.
fn slots(ui: &mut egui::Ui, bank: &ReferenceBank, inputs: &mut SlotInputs, monitor: &MonitorView) {
    ui.label(egui::RichText::new("References").strong());
    inputs.paths.resize(REFERENCE_SLOTS, String::new());
    egui::Grid::new("reference-slots").num_columns(6).striped(true).spacing([10.0, 3.0]).show(ui, |ui| {
        for slot in 0..REFERENCE_SLOTS {
            let Some(info) = bank.slot(slot) else { continue };
            ui.label(format!("{:>2}", slot + 1));
            let entry = &mut inputs.paths[slot];
            if entry.is_empty() && !info.settings.path.is_empty() {
                entry.clone_from(&info.settings.path);
            }
            // A fixed size: inside a grid a text field's desired width is clamped to the column's
            // width of the previous frame, which starts tiny.
            let response = ui.add_sized(
                [240.0, 20.0],
                egui::TextEdit::singleline(entry)
                    .hint_text("path to a WAV, AIFF, FLAC, MP3, M4A or OGG file"),
            );
            let submitted = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            ui.horizontal(|ui| {
                if ui.button("Load").clicked() || submitted {
                    bank.load(slot, &PathBuf::from(entry.trim()));
                }
                if !info.settings.path.is_empty() {
                    if ui.button("Reload").clicked() {
                        bank.reload(slot);
                    }
                    if ui.button("Clear").clicked() {
                        bank.clear(slot);
                        entry.clear();
                    }
                }
            });
            let playing = bank.is_playing_latest(slot);
            let status = match &info.status {
                SlotStatus::Empty => egui::RichText::new("empty").weak(),
                SlotStatus::Loading => egui::RichText::new("loading…").color(egui::Color32::LIGHT_BLUE),
                SlotStatus::Ready if !playing => {
                    egui::RichText::new("handing over…").color(egui::Color32::LIGHT_BLUE)
                }
                SlotStatus::Ready => {
                    let summary = info.settings.summary.clone().unwrap_or_default();
                    let offset =
                        monitor.match_db[MonitorSource::Reference(slot).index()].load(Ordering::Relaxed);
                    egui::RichText::new(format!(
                        "{} LUFS · LRA {} · {} dBTP · ≙ {}",
                        summary.integrated_lufs.map_or("–".into(), |v| format!("{v:.1}")),
                        summary.loudness_range_lu.map_or("–".into(), |v| format!("{v:.1}")),
                        summary.true_peak_dbtp.map_or("–".into(), |v| format!("{v:.2}")),
                        signed_db(offset),
                    ))
                }
                SlotStatus::Failed(error) => {
                    egui::RichText::new(error.to_string()).color(egui::Color32::from_rgb(240, 90, 90))
                }
            };
            ui.label(status);
            ui.horizontal(|ui| {
                let loaded = !info.settings.path.is_empty();
                let mut gain = info.settings.gain_db;
                let trim = egui::DragValue::new(&mut gain)
                    .range(-SLOT_GAIN_RANGE_DB..=SLOT_GAIN_RANGE_DB)
                    .speed(0.1)
                    .fixed_decimals(1)
                    .suffix(" dB");
                if ui.add_enabled(loaded, trim).on_hover_text("Trim after level matching").changed() {
                    bank.set_gain_db(slot, gain);
                }
                // Loop points (free-running playback; in sync mode the loop start plays at song
                // position 0). An end of 0 means the end of the file.
                let duration = info.source.as_ref().map_or(0.0, |source| source.duration_s);
                let (mut start, mut end) = (info.settings.loop_start_s, info.settings.loop_end_s);
                let start_drag = egui::DragValue::new(&mut start)
                    .range(0.0..=duration)
                    .speed(0.05)
                    .fixed_decimals(2)
                    .prefix("loop ")
                    .suffix(" s");
                let end_drag = egui::DragValue::new(&mut end)
                    .range(0.0..=duration)
                    .speed(0.05)
                    .fixed_decimals(2)
                    .prefix("– ")
                    .suffix(" s");
                let start_changed = ui
                    .add_enabled(loaded, start_drag)
                    .on_hover_text("Loop start (sync: plays at song position 0)")
                    .changed();
                let end_changed =
                    ui.add_enabled(loaded, end_drag).on_hover_text("Loop end (0 = end of file)").changed();
                if start_changed || end_changed {
                    bank.set_loop_s(slot, start, end);
                }
            });
            ui.end_row();
        }
    });
}

/// A combo box for an enum parameter, written through a gesture.
fn enum_combo<T: Enum + PartialEq + 'static>(
    ui: &mut egui::Ui,
    label: &str,
    param: &EnumParam<T>,
    setter: &ParamSetter,
) {
    ui.label(label);
    let current = param.value();
    egui::ComboBox::from_id_salt(label).selected_text(param.to_string()).show_ui(ui, |ui| {
        for (index, name) in T::variants().iter().enumerate() {
            let variant = T::from_index(index);
            let selected = variant == current;
            if ui.selectable_label(selected, *name).clicked() && !selected {
                setter.begin_set_parameter(param);
                setter.set_parameter(param, variant);
                setter.end_set_parameter(param);
            }
        }
    });
}

/// A toggle for a boolean parameter, written through a gesture.
fn bool_toggle(ui: &mut egui::Ui, label: &str, param: &BoolParam, setter: &ParamSetter) {
    let mut on = param.value();
    if ui.toggle_value(&mut on, label).clicked() {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, on);
        setter.end_set_parameter(param);
    }
}

/// Sets an integer parameter through a gesture.
fn set_int(setter: &ParamSetter, param: &IntParam, value: i32) {
    setter.begin_set_parameter(param);
    setter.set_parameter(param, value);
    setter.end_set_parameter(param);
}

/// A gain in dB with its sign and one decimal ("+1.5 dB", "−3.0 dB", "0.0 dB").
pub fn signed_db(value_db: f32) -> String {
    if !value_db.is_finite() {
        return "–".into();
    }
    let rounded = (value_db * 10.0).round() / 10.0;
    if rounded > 0.0 {
        format!("+{rounded:.1} dB")
    } else if rounded < 0.0 {
        format!("−{:.1} dB", -rounded)
    } else {
        "0.0 dB".into()
    }
}
