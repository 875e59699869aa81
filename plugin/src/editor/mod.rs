//! The editor (egui). It reads the engine only through [`EngineView`]'s atomics and changes the
//! audio only through the host's parameter API (begin/set/end gestures, so hosts record
//! automation). The full mastering console grows here panel by panel, one module each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier,
};

use crate::engine::EngineView;
use crate::meters::spectrum::SpectrumView;
use crate::meters::stereo::StereoView;
use crate::monitor::{MonitorSource, MonitorView};
use crate::params::ParityParams;

mod chain_panel;
mod level_meter;
mod loudness_graph;
mod monitor_panel;
mod spectrum_strip;

/// Default editor size in logical pixels.
pub const DEFAULT_SIZE: (f32, f32) = (920.0, 680.0);

/// Smallest editor size in logical pixels.
pub const MIN_SIZE: (f32, f32) = (720.0, 540.0);

/// How long the "bad input" warning stays lit after the last bad sample.
const BAD_INPUT_HOLD: Duration = Duration::from_secs(3);

/// Redraw interval while open (meters animate at about 60 fps).
const FRAME_INTERVAL: Duration = Duration::from_millis(16);

/// The editor's window state: size, and whether it is open (the glue turns the screen-only
/// analysis on and off with it).
pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(LogicalSize::new(DEFAULT_SIZE.0, DEFAULT_SIZE.1), 1.0)
}

/// What the editor reads from the engine.
pub struct EditorFeeds {
    /// Meter readings and commands.
    pub view: Arc<EngineView>,
    /// Output correlation, width and balance.
    pub stereo: Arc<StereoView>,
    /// Output spectrum frames (`None` if another editor already took the reader).
    pub spectrum: Option<SpectrumView>,
    /// The monitor section's readings.
    pub monitor: Arc<MonitorView>,
}

/// Creates the editor for the plugin glue.
pub fn create(
    state: Arc<EguiEditorState>,
    params: Arc<ParityParams>,
    feeds: EditorFeeds,
) -> Option<EguiEditor<ParityEditor>> {
    let settings = EguiNiceSettings::new().with_tile("Parity").with_resize_hint(
        ResizeHint::resizable().with_min_logical_size(LogicalSize::new(MIN_SIZE.0, MIN_SIZE.1)),
    );
    let app = ParityEditor {
        params,
        view: feeds.view,
        stereo: feeds.stereo,
        spectrum: feeds.spectrum,
        monitor: feeds.monitor,
        slot_inputs: monitor_panel::SlotInputs::default(),
        gui_context: None,
        bad_input: BadInputLamp::default(),
        strip: StripMode::Spectrum,
        history_points: Vec::new(),
        // `PARITY_EDITOR_PAGE=chain` opens on the chain page (screenshots, scripted docs).
        page: match std::env::var("PARITY_EDITOR_PAGE").as_deref() {
            Ok("chain") => Page::Chain,
            Ok("monitor") => Page::Monitor,
            _ => Page::Meters,
        },
    };
    create_egui_editor(state, RepaintNotifier::new(), settings, app)
}

/// The editor's state (lives as long as the plugin; the window may open and close many times).
pub struct ParityEditor {
    /// Parameters, written only through `ParamSetter` gestures.
    params: Arc<ParityParams>,
    /// Engine readings.
    view: Arc<EngineView>,
    /// Output stereo readings.
    stereo: Arc<StereoView>,
    /// Output spectrum frames.
    spectrum: Option<SpectrumView>,
    /// The monitor section's readings.
    monitor: Arc<MonitorView>,
    /// Path entries of the reference slots.
    slot_inputs: monitor_panel::SlotInputs,
    /// The host connection, present while a window is open.
    gui_context: Option<GuiContext>,
    /// Remembers when bad input was last seen.
    bad_input: BadInputLamp,
    /// What the strip under the meters shows.
    strip: StripMode,
    /// Reused buffer for the loudness graph's points (GUI thread only).
    history_points: Vec<crate::meters::history::HistoryPoint>,
    /// The page shown under the header.
    page: Page,
}

/// The editor's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    /// Meters, spectrum / loudness history, trim and output gain.
    Meters,
    /// The mastering chain's stages.
    Chain,
    /// Monitoring: source, level match, platform preview, listen tools, reference slots.
    Monitor,
}

/// What the strip under the meters shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StripMode {
    /// Output spectrum with the stereo readouts.
    Spectrum,
    /// Output loudness history (M and S) with the short-term histogram.
    Loudness,
}

/// Tracks the engine's bad-sample counter to light a warning for a while after it moves.
#[derive(Default)]
struct BadInputLamp {
    /// Counter value at the last frame.
    last_count: u64,
    /// When the counter last moved.
    last_seen: Option<Instant>,
}

impl BadInputLamp {
    /// Updates from the counter; true while the lamp is lit.
    fn update(&mut self, count: u64) -> bool {
        if count != self.last_count {
            self.last_count = count;
            self.last_seen = Some(Instant::now());
        }
        self.last_seen.is_some_and(|seen| seen.elapsed() < BAD_INPUT_HOLD)
    }
}

impl NiceEguiApp for ParityEditor {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        egui_ctx.set_visuals(egui::Visuals::dark());
        self.gui_context = Some(nice_gui_ctx);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        let Some(gui_context) = self.gui_context.clone() else {
            return;
        };
        let setter = gui_context.param_setter();
        let view = &self.view;
        let bad_input =
            self.bad_input.update(view.bad_input_samples.load(std::sync::atomic::Ordering::Relaxed));

        egui::Frame::new().inner_margin(egui::Margin::same(12)).show(ui, |ui| {
            header(ui, &self.params, &setter, bad_input, view);
            monitor_banner(ui, &self.params, &self.monitor);
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.page, Page::Meters, "Meters");
                ui.selectable_value(&mut self.page, Page::Chain, "Chain");
                ui.selectable_value(&mut self.page, Page::Monitor, "Monitor & References");
            });
            ui.separator();
            if self.page == Page::Chain {
                chain_panel::panel(ui, &self.params, &setter, view);
                return;
            }
            if self.page == Page::Monitor {
                monitor_panel::panel(ui, &self.params, &setter, view, &self.monitor, &mut self.slot_inputs);
                return;
            }
            // Meters get what the spectrum strip and the controls (about 150 points) leave.
            let strip_height = (ui.available_height() * 0.25).clamp(110.0, 260.0);
            let bar_height = (ui.available_height() - strip_height - 180.0).clamp(150.0, 700.0);
            ui.columns(2, |columns| {
                level_meter::section(
                    &mut columns[0],
                    "INPUT",
                    &view.input_peak,
                    &view.input_meters,
                    bar_height,
                );
                level_meter::section(
                    &mut columns[1],
                    "OUTPUT",
                    &view.output_peak,
                    &view.output_meters,
                    bar_height,
                );
            });
            ui.separator();
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.strip, StripMode::Spectrum, "Spectrum");
                ui.selectable_value(&mut self.strip, StripMode::Loudness, "Loudness history");
            });
            match self.strip {
                StripMode::Spectrum => {
                    spectrum_strip::strip(ui, self.spectrum.as_mut(), &self.stereo, strip_height)
                }
                StripMode::Loudness => {
                    let width = ui.available_width();
                    loudness_graph::graph(
                        ui,
                        &view.output_history,
                        &mut self.history_points,
                        width,
                        strip_height,
                    );
                }
            }
            ui.separator();
            egui::Grid::new("gain-controls").num_columns(2).spacing([16.0, 8.0]).show(ui, |ui| {
                ui.label("Input Trim");
                ui.add(ParamSlider::for_param(&self.params.input.trim_db, &setter).with_width(260.0));
                ui.end_row();
                ui.label("Output Gain");
                ui.add(ParamSlider::for_param(&self.params.output.gain_db, &setter).with_width(260.0));
                ui.end_row();
            });
            ui.add_space(6.0);
            meter_controls(ui, &self.params, &setter, view);
        });
        ui.ctx().request_repaint_after(FRAME_INTERVAL);
    }

    fn editor_closed(&mut self) {
        self.gui_context = None;
    }
}

/// Reset button and the meters' transport options.
fn meter_controls(ui: &mut egui::Ui, params: &ParityParams, setter: &ParamSetter, view: &EngineView) {
    ui.horizontal(|ui| {
        if ui.button("Reset meters").on_hover_text("Clear integrated, LRA, maxima and true peaks").clicked() {
            view.reset_meters_requested.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        for param in [&params.meters.reset_on_play, &params.meters.pause_when_stopped] {
            let mut on = param.value();
            if ui.checkbox(&mut on, param.name()).changed() {
                setter.begin_set_parameter(param);
                setter.set_parameter(param, on);
                setter.end_set_parameter(param);
            }
        }
        if view.meters_paused.load(std::sync::atomic::Ordering::Relaxed) {
            ui.label(
                egui::RichText::new("METERS PAUSED (transport stopped)")
                    .strong()
                    .color(egui::Color32::YELLOW),
            );
        }
    });
}

/// A bar that says clearly when what is heard is not the chain output (another source, a
/// platform preview, a listen tool), and what is heard.
fn monitor_banner(ui: &mut egui::Ui, params: &ParityParams, monitor: &MonitorView) {
    if monitor.offline.load(std::sync::atomic::Ordering::Relaxed) {
        ui.label(egui::RichText::new("Offline render: output = chain output (monitor off)").weak());
        return;
    }
    if !monitor.output_differs.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let source =
        MonitorSource::from_index(usize::from(monitor.source.load(std::sync::atomic::Ordering::Relaxed)));
    let mut text = format!(
        "MONITORING {} ({}): output ≠ chain output",
        crate::params::source_name(source.index() as i32).to_uppercase(),
        monitor_panel::signed_db(monitor.gain_db.load(std::sync::atomic::Ordering::Relaxed)),
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
    if !tools.is_empty() {
        text.push_str(&format!(" · {}", tools.join(" · ")));
    }
    ui.label(
        egui::RichText::new(text)
            .strong()
            .color(egui::Color32::BLACK)
            .background_color(monitor_panel::DIFFERS_COLOUR),
    );
}

/// Title, global bypass and the status lamps.
fn header(
    ui: &mut egui::Ui,
    params: &ParityParams,
    setter: &ParamSetter,
    bad_input: bool,
    view: &EngineView,
) {
    ui.horizontal(|ui| {
        ui.label(
            egui::RichText::new("PARITY").size(22.0).strong().color(egui::Color32::from_rgb(120, 200, 255)),
        );
        ui.label(egui::RichText::new("mastering · metering").size(13.0).weak());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let mut bypassed = params.bypass.value();
            let label = egui::RichText::new(if bypassed { "BYPASSED" } else { "Bypass" }).size(14.0);
            if ui.toggle_value(&mut bypassed, label).clicked() {
                setter.begin_set_parameter(&params.bypass);
                setter.set_parameter(&params.bypass, bypassed);
                setter.end_set_parameter(&params.bypass);
            }
            if bad_input {
                ui.label(
                    egui::RichText::new("BAD INPUT (NaN/∞) REPLACED")
                        .strong()
                        .color(egui::Color32::WHITE)
                        .background_color(egui::Color32::from_rgb(190, 30, 30)),
                );
            }
            let rate = view.sample_rate_hz.load(std::sync::atomic::Ordering::Relaxed);
            ui.label(egui::RichText::new(format!("{:.1} kHz", rate / 1000.0)).weak());
        });
    });
}
