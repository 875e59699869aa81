//! The chain page: a strip of every stage in signal order (on switch, a one-line summary, live
//! gain reduction; click to open it) above the open stage's detail: the EQ's interactive curve
//! over the spectrum, the glue's transfer curve and reduction trace, the multiband's crossover
//! handles with per-band reduction, the limiter's reduction history and "learn to target".
//! Parameters change only through host gestures (`ParamSlider` and the helpers in `widgets`).

use std::sync::atomic::Ordering;

use egui::{Align2, Color32, FontId, Pos2, Rect, RichText, Sense, Shape, Stroke, Vec2};
use nice_plug::prelude::*;

use super::reduction_trace::ReductionTrace;
use super::spectrum_panel::draw_spectrum;
use super::widgets::{
    caption, checkbox, format_hz, format_reduction, labelled_slider, reduction_bar, slider, title, DbAxis,
    FrequencyAxis, ACCENT, AMBER, GRID, GRID_TEXT, PLOT_BACKGROUND, REDUCTION,
};
use crate::dsp::envelope::StaticCurve;
use crate::editor_settings::Stage;
use crate::engine::ChainSettings;
use crate::engine::{EngineView, LEARN_START, LEARN_STOP};
use crate::meters::spectrum::SpectrumFrame;
use crate::params::ParityParams;

/// Height of the stage strip, points.
const STRIP_HEIGHT: f32 = 64.0;

/// Span of the reduction traces, seconds.
const TRACE_SPAN_S: f32 = 10.0;

/// The chain page's GUI state.
#[derive(Debug, Default)]
pub struct ChainPage {
    /// Limiter reduction history.
    pub limiter_trace: ReductionTrace,
    /// Glue reduction history.
    pub glue_trace: ReductionTrace,
}

/// What the page draws from.
pub struct ChainInputs<'a> {
    /// Parameters.
    pub params: &'a ParityParams,
    /// Host gestures.
    pub setter: &'a ParamSetter<'a>,
    /// Engine readings.
    pub view: &'a EngineView,
    /// The current parameter values as engine settings.
    pub settings: &'a ChainSettings,
    /// The output spectrum.
    pub frame: &'a SpectrumFrame,
}

impl ChainPage {
    /// Draws the page; `stage` is the open stage (persisted by the caller).
    pub fn panel(&mut self, ui: &mut egui::Ui, inputs: &ChainInputs<'_>, stage: &mut Stage) {
        let view = inputs.view;
        if view.restart_pending.load(Ordering::Relaxed) {
            ui.label(
                RichText::new(
                    "EQ mode, lookahead or oversampling changed: applies when the host restarts processing \
                     (Parity asked it to; toggle the plugin off and on if it does not).",
                )
                .color(Color32::YELLOW),
            );
        }
        strip(ui, inputs, stage);
        ui.add_space(6.0);
        let params = inputs.params;
        let setter = inputs.setter;
        egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| match stage {
            Stage::Dc => {
                ui.label(caption(
                    "A 2nd-order high-pass that removes DC offset and subsonic rumble before the dynamics.",
                ));
                labelled_slider(ui, "Cut-off", &params.dc.cutoff_hz, setter, 200.0);
            }
            Stage::Eq => eq_detail(ui, inputs),
            Stage::Glue => self.glue_detail(ui, inputs),
            Stage::Multiband => multiband_detail(ui, inputs),
            Stage::Imager => imager_detail(ui, params, setter),
            Stage::Limiter => self.limiter_detail(ui, inputs),
            Stage::Dither => {
                ui.horizontal(|ui| {
                    labelled_slider(ui, "Mode", &params.dither.mode, setter, 160.0);
                    labelled_slider(ui, "Word length", &params.dither.word_length, setter, 120.0);
                    ui.vertical(|ui| {
                        ui.label(caption(" "));
                        checkbox(
                            ui,
                            "Auto blank (no dither in digital silence)",
                            &params.dither.auto_blank,
                            setter,
                        );
                    });
                });
                ui.add_space(6.0);
                ui.horizontal(|ui| {
                    labelled_slider(ui, "Input trim", &params.input.trim_db, setter, 200.0);
                    labelled_slider(ui, "Output gain", &params.output.gain_db, setter, 200.0);
                });
            }
        });
    }

    /// Glue: controls, transfer curve, reduction meter and history.
    fn glue_detail(&mut self, ui: &mut egui::Ui, inputs: &ChainInputs<'_>) {
        let (params, setter) = (inputs.params, inputs.setter);
        let glue = &params.glue;
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                egui::Grid::new("glue-controls").num_columns(3).spacing([10.0, 6.0]).show(ui, |ui| {
                    labelled_slider(ui, "Threshold", &glue.threshold_db, setter, 130.0);
                    labelled_slider(ui, "Ratio", &glue.ratio, setter, 130.0);
                    labelled_slider(ui, "Knee", &glue.knee_db, setter, 130.0);
                    ui.end_row();
                    labelled_slider(ui, "Attack", &glue.attack_ms, setter, 130.0);
                    labelled_slider(ui, "Release", &glue.release_ms, setter, 130.0);
                    ui.vertical(|ui| {
                        ui.label(caption(" "));
                        checkbox(ui, "Auto release", &glue.auto_release, setter);
                    });
                    ui.end_row();
                    labelled_slider(ui, "Sidechain HPF", &glue.sidechain_hpf_hz, setter, 130.0);
                    labelled_slider(ui, "Mix", &glue.mix_percent, setter, 130.0);
                    labelled_slider(ui, "Make-up", &glue.makeup_db, setter, 130.0);
                    ui.end_row();
                });
                ui.add_space(8.0);
                ui.label(caption("Gain reduction"));
                reduction_bar(ui, inputs.view.glue_gain_reduction_db.load(Ordering::Relaxed), 12.0, 420.0);
            });
            ui.add_space(10.0);
            let side = 200.0f32.min(ui.available_width());
            transfer_curve(ui, side, &inputs.settings.stages.glue);
        });
        ui.add_space(8.0);
        let width = ui.available_width();
        self.glue_trace.show(ui, Vec2::new(width, 150.0), TRACE_SPAN_S, 12.0, "glue reduction");
    }

    /// Limiter: controls, reduction history, learn to target.
    fn limiter_detail(&mut self, ui: &mut egui::Ui, inputs: &ChainInputs<'_>) {
        let (params, setter) = (inputs.params, inputs.setter);
        let lim = &params.limiter;
        let width = ui.available_width();
        let range = (self.limiter_trace.max_db(TRACE_SPAN_S) * 1.25).clamp(3.0, 24.0).ceil();
        self.limiter_trace.show(ui, Vec2::new(width, 170.0), TRACE_SPAN_S, range, "limiter reduction");
        ui.add_space(6.0);
        egui::Grid::new("limiter-controls").num_columns(4).spacing([10.0, 6.0]).show(ui, |ui| {
            labelled_slider(ui, "Ceiling", &lim.ceiling_dbtp, setter, 130.0);
            labelled_slider(ui, "Drive", &lim.drive_db, setter, 130.0);
            labelled_slider(ui, "Release", &lim.release_ms, setter, 130.0);
            labelled_slider(ui, "Style", &lim.style, setter, 130.0);
            ui.end_row();
            labelled_slider(ui, "Stereo link", &lim.stereo_link_percent, setter, 130.0);
            labelled_slider(ui, "Lookahead", &lim.lookahead_ms, setter, 130.0);
            labelled_slider(ui, "Oversampling", &lim.oversampling, setter, 130.0);
            ui.end_row();
        });
        ui.add_space(6.0);
        learn_to_target(ui, params, setter, inputs.view);
    }
}

/// The strip of stage cards.
fn strip(ui: &mut egui::Ui, inputs: &ChainInputs<'_>, open: &mut Stage) {
    let params = inputs.params;
    let view = inputs.view;
    let s = inputs.settings;
    let gap = 6.0;
    let width =
        ((ui.available_width() - gap * (Stage::ALL.len() - 1) as f32) / Stage::ALL.len() as f32).max(80.0);
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = gap;
        for stage in Stage::ALL {
            let (enabled, summary, reduction): (Option<&BoolParam>, String, Option<f32>) = match stage {
                Stage::Dc => (Some(&params.dc.enabled), format_hz(s.stages.dc_blocker.cutoff_hz), None),
                Stage::Eq => {
                    let active = s
                        .stages
                        .eq
                        .bands
                        .iter()
                        .filter(|b| b.enabled && (!b.kind.has_gain() || b.gain_db != 0.0))
                        .count();
                    let summary =
                        if active == 0 { "flat".to_owned() } else { format!("{active} bands shaping") };
                    (Some(&params.eq.enabled), summary, None)
                }
                Stage::Glue => (
                    Some(&params.glue.enabled),
                    format!("{:.0} dB · {:.1}:1", s.stages.glue.threshold_db, s.stages.glue.ratio)
                        .replace('-', "−"),
                    Some(view.glue_gain_reduction_db.load(Ordering::Relaxed)),
                ),
                Stage::Multiband => (
                    Some(&params.multiband.enabled),
                    format!(
                        "{} · {}",
                        format_hz(s.stages.multiband.crossover_low_hz as f32),
                        format_hz(s.stages.multiband.crossover_high_hz as f32)
                    ),
                    Some(
                        view.multiband_gain_reduction_db
                            .iter()
                            .map(|r| r.load(Ordering::Relaxed))
                            .fold(0.0, f32::max),
                    ),
                ),
                Stage::Imager => (
                    Some(&params.imager.enabled),
                    format!("width {:.0} %", s.stages.imager.width_percent),
                    None,
                ),
                Stage::Limiter => (
                    Some(&params.limiter.enabled),
                    format!(
                        "{:.1} dBTP · drive {:+.1}",
                        s.stages.limiter.ceiling_dbtp, s.stages.limiter.drive_db
                    )
                    .replace('-', "−"),
                    Some(view.limiter_gain_reduction_db.load(Ordering::Relaxed)),
                ),
                Stage::Dither => (None, params.dither.mode.to_string(), None),
            };
            let on = enabled.is_none_or(|p| p.value());
            let (rect, response) = ui.allocate_exact_size(Vec2::new(width, STRIP_HEIGHT), Sense::click());
            let painter = ui.painter_at(rect);
            let selected = *open == stage;
            let fill = if selected { Color32::from_rgb(30, 50, 70) } else { Color32::from_gray(26) };
            painter.rect_filled(rect, 5.0, fill);
            painter.rect_stroke(
                rect,
                5.0,
                Stroke::new(if selected { 2.0 } else { 1.0 }, if selected { ACCENT } else { GRID }),
                egui::StrokeKind::Inside,
            );
            let text_colour = if on { Color32::WHITE } else { Color32::from_gray(110) };
            painter.text(
                rect.left_top() + Vec2::new(8.0, 6.0),
                Align2::LEFT_TOP,
                stage.title(),
                FontId::proportional(13.0),
                if on { ACCENT } else { text_colour },
            );
            painter.text(
                rect.left_top() + Vec2::new(8.0, 25.0),
                Align2::LEFT_TOP,
                &summary,
                FontId::proportional(11.0),
                text_colour,
            );
            if let Some(reduction) = reduction {
                let bar = Rect::from_min_max(
                    Pos2::new(rect.left() + 8.0, rect.bottom() - 14.0),
                    Pos2::new(rect.right() - 8.0, rect.bottom() - 6.0),
                );
                painter.rect_filled(bar, 2.0, PLOT_BACKGROUND);
                let fraction = if reduction.is_finite() { (reduction / 12.0).clamp(0.0, 1.0) } else { 0.0 };
                painter.rect_filled(
                    Rect::from_min_max(Pos2::new(bar.right() - fraction * bar.width(), bar.top()), bar.max),
                    2.0,
                    REDUCTION,
                );
            }
            if response.clicked() {
                *open = stage;
            }
            let response = response.on_hover_text(match reduction {
                Some(r) => format!("{} · gain reduction {}", stage.title(), format_reduction(r)),
                None => stage.title().to_owned(),
            });
            // The on switch in the card's top-right corner.
            if let Some(param) = enabled {
                let switch =
                    Rect::from_min_size(rect.right_top() + Vec2::new(-38.0, 5.0), Vec2::new(32.0, 16.0));
                let switch_response = ui.interact(switch, response.id.with("on"), Sense::click());
                let colour = if on { Color32::from_rgb(60, 170, 90) } else { Color32::from_gray(60) };
                painter.rect_filled(switch, 8.0, colour);
                painter.text(
                    switch.center(),
                    Align2::CENTER_CENTER,
                    if on { "ON" } else { "OFF" },
                    FontId::proportional(10.0),
                    Color32::WHITE,
                );
                if switch_response.clicked() {
                    super::widgets::set_bool(inputs.setter, param, !on);
                }
            }
        }
    });
}

/// EQ: mode, the interactive curve, the band table.
fn eq_detail(ui: &mut egui::Ui, inputs: &ChainInputs<'_>) {
    let (params, setter) = (inputs.params, inputs.setter);
    ui.horizontal(|ui| {
        ui.label(title("EQ"));
        ui.label(caption("Mode"));
        slider(ui, &params.eq.mode, setter, 130.0);
        ui.label(caption("drag a node: frequency and gain · scroll: Q · double-click: band on/off"));
    });
    // The curve takes what the band table (7 rows) leaves.
    let height = (ui.available_height() - 215.0).clamp(160.0, 420.0);
    let rate = f64::from(inputs.view.sample_rate_hz.load(Ordering::Relaxed)).max(8_000.0);
    super::eq_curve::show(
        ui,
        Vec2::new(ui.available_width(), height),
        &params.eq,
        setter,
        &inputs.settings.stages.eq,
        rate,
        inputs.frame,
    );
    ui.add_space(6.0);
    egui::Grid::new("eq-bands").num_columns(8).spacing([6.0, 4.0]).show(ui, |ui| {
        for header in ["", "On", "Type", "Freq", "Gain", "Q", "Slope", "Place"] {
            ui.label(caption(header));
        }
        ui.end_row();
        for (index, band) in params.eq.bands.iter().enumerate() {
            ui.label(
                RichText::new(format!("{}", index + 1)).strong().color(super::eq_curve::BAND_COLOURS[index]),
            );
            checkbox(ui, "", &band.enabled, setter);
            slider(ui, &band.kind, setter, 70.0);
            slider(ui, &band.freq_hz, setter, 80.0);
            slider(ui, &band.gain_db, setter, 70.0);
            slider(ui, &band.q, setter, 50.0);
            slider(ui, &band.slope, setter, 50.0);
            slider(ui, &band.placement, setter, 60.0);
            ui.end_row();
        }
    });
}

/// The glue's static transfer curve (input level → output level before make-up) in a square.
fn transfer_curve(ui: &mut egui::Ui, side: f32, glue: &crate::dsp::compressor::CompressorSettings) {
    let (rect, _) = ui.allocate_exact_size(Vec2::splat(side), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, PLOT_BACKGROUND);
    let (lo, hi) = (-60.0f32, 0.0f32);
    let x = |db: f32| rect.left() + (db - lo) / (hi - lo) * rect.width();
    let y = |db: f32| rect.bottom() - ((db - lo) / (hi - lo)).clamp(0.0, 1.0) * rect.height();
    for db in [-48.0, -36.0, -24.0, -12.0] {
        painter.line_segment(
            [Pos2::new(x(db), rect.top()), Pos2::new(x(db), rect.bottom())],
            Stroke::new(1.0, GRID),
        );
        painter.line_segment(
            [Pos2::new(rect.left(), y(db)), Pos2::new(rect.right(), y(db))],
            Stroke::new(1.0, GRID),
        );
    }
    painter.line_segment(
        [Pos2::new(x(lo), y(lo)), Pos2::new(x(hi), y(hi))],
        Stroke::new(1.0, Color32::from_gray(70)),
    );
    let curve = StaticCurve::new(glue.threshold_db, glue.ratio, glue.knee_db);
    let points: Vec<Pos2> = (0..=120)
        .map(|i| {
            let input = lo + (hi - lo) * i as f32 / 120.0;
            Pos2::new(x(input), y(input - curve.reduction_db(input)))
        })
        .collect();
    painter.add(Shape::line(
        points,
        Stroke::new(2.0, if glue.bypass { Color32::from_gray(120) } else { Color32::WHITE }),
    ));
    let threshold = glue.threshold_db as f32;
    painter.line_segment(
        [Pos2::new(x(threshold), rect.top()), Pos2::new(x(threshold), rect.bottom())],
        Stroke::new(1.0, AMBER),
    );
    painter.text(
        rect.left_top() + Vec2::new(4.0, 3.0),
        Align2::LEFT_TOP,
        "in → out (dB)",
        FontId::monospace(10.0),
        GRID_TEXT,
    );
}

/// Multiband: crossover handles over the spectrum with each band's reduction, and the band table.
fn multiband_detail(ui: &mut egui::Ui, inputs: &ChainInputs<'_>) {
    let (params, setter) = (inputs.params, inputs.setter);
    let mb = &params.multiband;
    ui.label(caption("drag the crossover handles · each band's gain reduction hangs from the top"));
    let size = Vec2::new(ui.available_width(), (ui.available_height() - 150.0).clamp(160.0, 340.0));
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, PLOT_BACKGROUND);
    draw_spectrum(&painter, rect, inputs.frame, [true, false], true);
    let axis = FrequencyAxis::audio(rect);
    let crossovers = [&mb.crossover_low_hz, &mb.crossover_high_hz];
    let edges = [
        axis.x(20.0),
        axis.x(mb.crossover_low_hz.value()),
        axis.x(mb.crossover_high_hz.value()),
        axis.x(20_000.0),
    ];
    let reduction_axis = DbAxis { rect, top_db: 0.0, bottom_db: -24.0 };
    for band in 0..3 {
        let reduction = inputs.view.multiband_gain_reduction_db[band].load(Ordering::Relaxed);
        let r = if reduction.is_finite() { reduction.max(0.0) } else { 0.0 };
        let area = Rect::from_min_max(
            Pos2::new(edges[band] + 2.0, rect.top()),
            Pos2::new(edges[band + 1] - 2.0, reduction_axis.y(-r)),
        );
        if area.width() > 0.0 && area.height() > 0.5 {
            painter.rect_filled(area, 0.0, REDUCTION.gamma_multiply(0.45));
        }
        let name = ["LOW", "MID", "HIGH"][band];
        painter.text(
            Pos2::new(0.5 * (edges[band] + edges[band + 1]), rect.top() + 14.0),
            Align2::CENTER_CENTER,
            format!("{name}  {}", format_reduction(reduction)),
            FontId::proportional(12.0),
            Color32::WHITE,
        );
    }
    for (index, param) in crossovers.iter().enumerate() {
        let x = axis.x(param.value());
        let handle = Rect::from_min_max(Pos2::new(x - 6.0, rect.top()), Pos2::new(x + 6.0, rect.bottom()));
        let response = ui.interact(handle, egui::Id::unique(("parity-crossover", index)), Sense::drag());
        if response.drag_started() {
            setter.begin_set_parameter(*param);
        }
        if response.dragged() {
            if let Some(pointer) = response.interact_pointer_pos() {
                setter.set_parameter(*param, axis.freq_hz(pointer.x));
            }
        }
        if response.drag_stopped() {
            setter.end_set_parameter(*param);
        }
        let active = response.hovered() || response.dragged();
        painter.line_segment(
            [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
            Stroke::new(if active { 3.0 } else { 2.0 }, ACCENT),
        );
        painter.text(
            Pos2::new(x + 4.0, rect.bottom() - 16.0),
            Align2::LEFT_BOTTOM,
            format_hz(param.value()),
            FontId::monospace(11.0),
            ACCENT,
        );
    }
    ui.add_space(6.0);
    egui::Grid::new("mb-bands").num_columns(9).spacing([6.0, 4.0]).show(ui, |ui| {
        for header in ["", "Threshold", "Ratio", "Attack", "Release", "Gain", "Bypass", "Solo", "GR"] {
            ui.label(caption(header));
        }
        ui.end_row();
        for ((name, band), reduction) in
            ["Low", "Mid", "High"].iter().zip(&mb.bands).zip(&inputs.view.multiband_gain_reduction_db)
        {
            ui.label(*name);
            slider(ui, &band.threshold_db, setter, 80.0);
            slider(ui, &band.ratio, setter, 60.0);
            slider(ui, &band.attack_ms, setter, 70.0);
            slider(ui, &band.release_ms, setter, 70.0);
            slider(ui, &band.gain_db, setter, 60.0);
            checkbox(ui, "", &band.bypass, setter);
            checkbox(ui, "", &band.solo, setter);
            reduction_bar(ui, reduction.load(Ordering::Relaxed), 12.0, 90.0);
            ui.end_row();
        }
    });
}

/// Imager: overall and per-band width, mono maker.
fn imager_detail(ui: &mut egui::Ui, params: &ParityParams, setter: &ParamSetter) {
    let im = &params.imager;
    egui::Grid::new("imager").num_columns(3).spacing([10.0, 6.0]).show(ui, |ui| {
        labelled_slider(ui, "Width", &im.width_percent, setter, 160.0);
        ui.vertical(|ui| {
            ui.label(caption(" "));
            checkbox(ui, "Mono maker", &im.mono_maker, setter);
        });
        labelled_slider(ui, "Mono below", &im.mono_maker_hz, setter, 160.0);
        ui.end_row();
        labelled_slider(ui, "Low width", &im.low_width_percent, setter, 160.0);
        labelled_slider(ui, "Mid width", &im.mid_width_percent, setter, 160.0);
        labelled_slider(ui, "High width", &im.high_width_percent, setter, 160.0);
        ui.end_row();
    });
    ui.label(caption("The bands split at the multiband crossovers. See the Stereo page for the result."));
}

/// Target, Learn / Stop and Apply: the engine measures what each drive would give on the music
/// that plays; Apply writes the answer into the Drive parameter (so hosts record it).
fn learn_to_target(ui: &mut egui::Ui, params: &ParityParams, setter: &ParamSetter, view: &EngineView) {
    ui.horizontal(|ui| {
        ui.label(title("LEARN TO TARGET"));
        // The editor keeps the learn target on the delivery target chosen in the header.
        let target = view.learn_target_lufs.load(Ordering::Relaxed);
        ui.label(RichText::new(format!("{target:.1} LUFS").replace('-', "−")).monospace())
            .on_hover_text("the delivery target's loudness (choose the target in the header)");
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
            ui.label(RichText::new(format!("drive {drive:+.1} dB").replace('-', "−")).monospace());
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
