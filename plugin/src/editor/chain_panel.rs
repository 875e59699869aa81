//! The chain page: every stage in signal order with its on switch, its controls (host parameter
//! gestures through `ParamSlider`), its gain-reduction reading, and "learn to target" next to
//! the limiter.

use std::sync::atomic::Ordering;

use egui::{Color32, RichText};
use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;

use crate::engine::{EngineView, LEARN_START, LEARN_STOP};
use crate::params::ParityParams;

/// Width of every slider, in points.
const SLIDER_WIDTH: f32 = 110.0;

/// Colour of stage titles.
const TITLE_COLOUR: Color32 = Color32::from_rgb(120, 200, 255);

/// Draws the chain page.
pub fn panel(ui: &mut egui::Ui, params: &ParityParams, setter: &ParamSetter, view: &EngineView) {
    if view.restart_pending.load(Ordering::Relaxed) {
        ui.label(
            RichText::new(
                "EQ mode, lookahead or oversampling changed: applies when the host restarts processing \
                 (Parity asked it to; toggle the plugin off and on if it does not).",
            )
            .color(Color32::YELLOW),
        );
    }
    ui.label(
        RichText::new(format!(
            "Latency {} samples · order: DC > EQ > Glue > Multiband > Imager > Limiter > Dither",
            view.latency_samples.load(Ordering::Relaxed)
        ))
        .weak(),
    );
    // Vertical only, so the slider rows wrap at the window width (the band grids fit the
    // default width).
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        stage(ui, "DC BLOCKER", &params.dc.enabled, setter, None, |ui| {
            slider(ui, "Cut-off", &params.dc.cutoff_hz, setter);
        });
        stage(ui, "EQ", &params.eq.enabled, setter, None, |ui| {
            slider(ui, "Mode", &params.eq.mode, setter);
            egui::Grid::new("eq-bands").num_columns(8).spacing([6.0, 4.0]).show(ui, |ui| {
                for header in ["", "On", "Type", "Freq", "Gain", "Q", "Slope", "Place"] {
                    ui.label(RichText::new(header).weak());
                }
                ui.end_row();
                for (index, band) in params.eq.bands.iter().enumerate() {
                    ui.label(format!("{}", index + 1));
                    toggle(ui, "", &band.enabled, setter);
                    compact(ui, &band.kind, setter, 60.0);
                    compact(ui, &band.freq_hz, setter, 70.0);
                    compact(ui, &band.gain_db, setter, 60.0);
                    compact(ui, &band.q, setter, 40.0);
                    compact(ui, &band.slope, setter, 40.0);
                    compact(ui, &band.placement, setter, 50.0);
                    ui.end_row();
                }
            });
        });
        let glue = &params.glue;
        let glue_reduction = view.glue_gain_reduction_db.load(Ordering::Relaxed);
        stage(ui, "GLUE", &glue.enabled, setter, Some(glue_reduction), |ui| {
            // Rows of three labelled sliders (a wrapped row cannot wrap a slider with its value
            // box, so it would run off the window).
            egui::Grid::new("glue").num_columns(6).show(ui, |ui| {
                slider(ui, "Threshold", &glue.threshold_db, setter);
                slider(ui, "Ratio", &glue.ratio, setter);
                slider(ui, "Attack", &glue.attack_ms, setter);
                ui.end_row();
                slider(ui, "Release", &glue.release_ms, setter);
                slider(ui, "Knee", &glue.knee_db, setter);
                slider(ui, "SC HPF", &glue.sidechain_hpf_hz, setter);
                ui.end_row();
                slider(ui, "Mix", &glue.mix_percent, setter);
                slider(ui, "Make-up", &glue.makeup_db, setter);
                ui.label("");
                toggle(ui, "Auto release", &glue.auto_release, setter);
                ui.end_row();
            });
        });
        let mb = &params.multiband;
        stage(ui, "MULTIBAND", &mb.enabled, setter, None, |ui| {
            ui.horizontal(|ui| {
                slider(ui, "Low/Mid", &mb.crossover_low_hz, setter);
                slider(ui, "Mid/High", &mb.crossover_high_hz, setter);
            });
            egui::Grid::new("mb-bands").num_columns(9).spacing([6.0, 4.0]).show(ui, |ui| {
                for header in ["", "Threshold", "Ratio", "Attack", "Release", "Gain", "Bypass", "Solo", "GR"]
                {
                    ui.label(RichText::new(header).weak());
                }
                ui.end_row();
                for ((name, band), reduction) in
                    ["Low", "Mid", "High"].iter().zip(&mb.bands).zip(&view.multiband_gain_reduction_db)
                {
                    ui.label(*name);
                    compact(ui, &band.threshold_db, setter, 60.0);
                    compact(ui, &band.ratio, setter, 50.0);
                    compact(ui, &band.attack_ms, setter, 50.0);
                    compact(ui, &band.release_ms, setter, 50.0);
                    compact(ui, &band.gain_db, setter, 50.0);
                    toggle(ui, "", &band.bypass, setter);
                    toggle(ui, "", &band.solo, setter);
                    ui.label(reduction_text(reduction.load(Ordering::Relaxed)));
                    ui.end_row();
                }
            });
        });
        let im = &params.imager;
        stage(ui, "IMAGER", &im.enabled, setter, None, |ui| {
            egui::Grid::new("imager").num_columns(6).show(ui, |ui| {
                slider(ui, "Width", &im.width_percent, setter);
                ui.label("");
                toggle(ui, "Mono maker", &im.mono_maker, setter);
                slider(ui, "below", &im.mono_maker_hz, setter);
                ui.end_row();
                slider(ui, "Low", &im.low_width_percent, setter);
                slider(ui, "Mid", &im.mid_width_percent, setter);
                slider(ui, "High", &im.high_width_percent, setter);
                ui.end_row();
            });
        });
        let lim = &params.limiter;
        let limiter_reduction = view.limiter_gain_reduction_db.load(Ordering::Relaxed);
        stage(ui, "LIMITER", &lim.enabled, setter, Some(limiter_reduction), |ui| {
            egui::Grid::new("limiter").num_columns(6).show(ui, |ui| {
                slider(ui, "Ceiling", &lim.ceiling_dbtp, setter);
                slider(ui, "Drive", &lim.drive_db, setter);
                slider(ui, "Style", &lim.style, setter);
                ui.end_row();
                slider(ui, "Release", &lim.release_ms, setter);
                slider(ui, "Link", &lim.stereo_link_percent, setter);
                slider(ui, "Lookahead", &lim.lookahead_ms, setter);
                ui.end_row();
                slider(ui, "Oversampling", &lim.oversampling, setter);
                ui.end_row();
            });
            learn_to_target(ui, params, setter, view);
        });
        let dither = &params.dither;
        ui.group(|ui| {
            ui.label(RichText::new("DITHER").strong().color(TITLE_COLOUR));
            ui.horizontal(|ui| {
                slider(ui, "Mode", &dither.mode, setter);
                slider(ui, "Bits", &dither.word_length, setter);
                toggle(ui, "Auto blank", &dither.auto_blank, setter);
            });
        });
    });
}

/// A titled stage box with its on switch and an optional gain-reduction reading.
fn stage(
    ui: &mut egui::Ui,
    title: &str,
    enabled: &BoolParam,
    setter: &ParamSetter,
    reduction_db: Option<f32>,
    contents: impl FnOnce(&mut egui::Ui),
) {
    ui.group(|ui| {
        ui.horizontal(|ui| {
            ui.label(RichText::new(title).strong().color(TITLE_COLOUR));
            toggle(ui, "On", enabled, setter);
            if let Some(reduction) = reduction_db {
                ui.label(RichText::new(format!("GR {}", reduction_text(reduction))).monospace());
            }
        });
        ui.add_enabled_ui(enabled.value(), contents);
    });
}

/// Gain reduction as "−x.x dB" (or "0.0 dB").
fn reduction_text(reduction_db: f32) -> String {
    if reduction_db.is_finite() && reduction_db > 0.05 {
        format!("−{reduction_db:.1} dB")
    } else {
        "0.0 dB".to_owned()
    }
}

/// A labelled slider for any parameter.
fn slider<P: Param>(ui: &mut egui::Ui, label: &str, param: &P, setter: &ParamSetter) {
    ui.label(label);
    ui.add(ParamSlider::for_param(param, setter).with_width(SLIDER_WIDTH));
}

/// An unlabelled slider of `width` points (for grids).
fn compact<P: Param>(ui: &mut egui::Ui, param: &P, setter: &ParamSetter, width: f32) {
    ui.add(ParamSlider::for_param(param, setter).with_width(width));
}

/// A checkbox for a boolean parameter, written through a begin/set/end gesture.
fn toggle(ui: &mut egui::Ui, label: &str, param: &BoolParam, setter: &ParamSetter) {
    let mut on = param.value();
    if ui.checkbox(&mut on, label).changed() {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, on);
        setter.end_set_parameter(param);
    }
}

/// Target, Learn / Stop and Apply: the engine measures what each drive would give on the
/// music that plays; Apply writes the answer into the Drive parameter (so hosts record it).
fn learn_to_target(ui: &mut egui::Ui, params: &ParityParams, setter: &ParamSetter, view: &EngineView) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Learn to target").strong());
        let mut target = view.learn_target_lufs.load(Ordering::Relaxed);
        if ui.add(egui::DragValue::new(&mut target).range(-40.0..=-3.0).speed(0.1).suffix(" LUFS")).changed()
        {
            view.learn_target_lufs.store(target, Ordering::Relaxed);
        }
        for (name, value) in [("Spotify/YouTube −14", -14.0), ("Apple −16", -16.0), ("EBU −23", -23.0)]
        {
            if ui.small_button(name).clicked() {
                view.learn_target_lufs.store(value, Ordering::Relaxed);
            }
        }
        let learning = view.learning.load(Ordering::Relaxed);
        if learning {
            if ui.button("Stop").clicked() {
                view.learn_command.store(LEARN_STOP, Ordering::Relaxed);
            }
        } else if ui.button("Learn").on_hover_text("Play the whole song once, then Apply").clicked() {
            view.learn_command.store(LEARN_START, Ordering::Relaxed);
        }
        let drive = view.learned_drive_db.load(Ordering::Relaxed);
        let note = view.learn_note_db.load(Ordering::Relaxed);
        if drive.is_finite() {
            ui.label(RichText::new(format!("drive {drive:+.1} dB")).monospace());
            if ui.button("Apply").clicked() {
                view.learn_command.store(LEARN_STOP, Ordering::Relaxed);
                let drive_param = &params.limiter.drive_db;
                setter.begin_set_parameter(drive_param);
                setter.set_parameter(drive_param, drive);
                setter.end_set_parameter(drive_param);
            }
        } else if note.is_finite() && note > 0.0 {
            ui.label(format!("already {note:.1} dB louder than the target without drive"));
        } else if note.is_finite() {
            ui.label(format!("out of reach: {:.1} dB short at +24 dB drive", -note));
        } else if learning {
            ui.label(RichText::new("listening…").weak());
        }
    });
}
