//! The editor (egui): a mastering console. It reads the engine only through its views (atomics,
//! the spectrum's triple buffer, the vectorscope's ring) and changes the audio only through the
//! host's parameter API (begin/set/end gestures, so hosts record automation) or explicit commands
//! (meter reset and pause, reference slots, learn to target).
//!
//! Layout: the header (delivery target, monitor source with level-match offsets, bypass, lamps)
//! and the status line on top; the monitor bar at the bottom; the I/O meter column on the right;
//! the pages in the middle, one module each: loudness, chain, spectrum, stereo, references,
//! platforms. Keys (when no text field has focus): A toggles processed/unprocessed, R toggles
//! processed/reference, 1–9 hear reference 1–9, B toggles the global bypass.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::*;
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier,
};

use crate::editor_settings::{EditorSettings, Page, Stage, DEFAULT_SIZE, MIN_SIZE};
use crate::engine::EngineView;
use crate::meters::spectrum::{SpectrumFrame, SpectrumView};
use crate::meters::stereo::{StereoView, VectorscopeReader};
use crate::monitor::{MonitorSource, MonitorView};
use crate::params::ParityParams;
use crate::reference::{SlotStatus, REFERENCE_SLOTS};

mod chain_panel;
pub mod checks_panel;
mod eq_curve;
mod file_browser;
mod header;
pub mod headless;
mod io_meters;
mod level_meter;
mod loudness_graph;
mod loudness_panel;
mod monitor_bar;
mod platforms_panel;
mod reduction_trace;
mod references_panel;
mod spectrum_panel;
mod stereo_panel;
#[cfg(test)]
mod ui_tests;
mod widgets;

/// How long the "bad input" warning stays lit after the last bad sample.
const BAD_INPUT_HOLD: Duration = Duration::from_secs(3);

/// Redraw interval while open (meters animate at about 60 fps).
const FRAME_INTERVAL: Duration = Duration::from_millis(16);

/// Frames kept for the frame-time statistics.
const TIMING_FRAMES: usize = 256;

/// Frames the editor waits for a requested window size before it records sizes again.
const SIZE_WAIT_FRAMES: u32 = 30;

/// Frames between two frame-time lines on stderr (with `PARITY_EDITOR_STATS`).
const STATS_EVERY_FRAMES: u64 = 30;

/// The [`EditorSettings::target`] value of the custom target.
pub const CUSTOM_TARGET: &str = "custom";

/// The editor's window state: size, and whether it is open (the glue turns the screen-only
/// analysis on and off with it). The saved size is applied when the window opens.
pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(LogicalSize::new(DEFAULT_SIZE.0, DEFAULT_SIZE.1), 1.0)
}

/// What the editor reads from the engine.
pub struct EditorFeeds {
    /// Meter readings and commands.
    pub view: Arc<EngineView>,
    /// Output correlation, width and balance.
    pub stereo: Arc<StereoView>,
    /// Input correlation, width and balance (the mix-readiness checks).
    pub input_stereo: Arc<StereoView>,
    /// Output spectrum frames (`None` if another editor already took the reader).
    pub spectrum: Option<SpectrumView>,
    /// Output vectorscope points (`None` if another editor already took the reader).
    pub vectorscope: Option<VectorscopeReader>,
    /// The monitor section's readings.
    pub monitor: Arc<MonitorView>,
}

impl EditorFeeds {
    /// Takes the editor's readers from `engine` (the spectrum and vectorscope readers exist once:
    /// a second call gets `None` for them).
    pub fn take_from(engine: &mut crate::engine::Engine) -> Self {
        Self {
            view: engine.view(),
            stereo: engine.stereo_view(),
            input_stereo: engine.input_stereo_view(),
            spectrum: engine.take_spectrum_view(),
            vectorscope: engine.take_vectorscope(),
            monitor: engine.monitor_view(),
        }
    }
}

/// The delivery target every meter is read against (see [`crate::delivery`]).
pub use crate::delivery::DeliveryTarget;

/// The delivery target the editor settings name: a row of the platform table, or the custom
/// values for an unknown id.
pub fn target_from_settings(settings: &EditorSettings) -> DeliveryTarget {
    DeliveryTarget::by_id(&settings.target, settings.custom_target_lufs, settings.custom_ceiling_dbtp)
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
    create_egui_editor(state, RepaintNotifier::new(), settings, ParityEditor::new(params, feeds))
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
    /// Output vectorscope points.
    vectorscope: Option<VectorscopeReader>,
    /// The monitor section's readings.
    monitor: Arc<MonitorView>,
    /// The host connection, present while a window is open.
    gui_context: Option<GuiContext>,
    /// Remembers when bad input was last seen.
    bad_input: BadInputLamp,
    /// The latest spectrum frame (copied once per frame, shared by the pages).
    frame: SpectrumFrame,
    /// Loudness history graph.
    history: loudness_graph::HistoryGraph,
    /// Chain page state (reduction traces).
    chain: chain_panel::ChainPage,
    /// Spectrum page state.
    spectrum_page: spectrum_panel::SpectrumPage,
    /// Vectorscope state.
    scope: stereo_panel::Vectorscope,
    /// References page state (selection, file browser).
    references: references_panel::ReferencesPage,
    /// Frame-time statistics.
    timing: FrameTiming,
    /// Whether the saved window size was requested since the window opened.
    size_applied: bool,
    /// Frames left to wait for the requested size before recording sizes again (a host applies
    /// a resize request a few frames later, or never).
    size_wait_frames: u32,
    /// The reference slot `R` returns to.
    last_reference: Option<usize>,
    /// Input stereo readings.
    input_stereo: Arc<StereoView>,
    /// Checks page state.
    checks: checks_panel::ChecksPage,
    /// The break reminder.
    reminder: checks_panel::BreakReminder,
    /// Whether to print the frame-time statistics to stderr every [`STATS_EVERY_FRAMES`] frames
    /// (`PARITY_EDITOR_STATS` set; the editor tests read them).
    print_stats: bool,
}

impl ParityEditor {
    /// The editor state for `params` and the engine's `feeds`.
    pub fn new(params: Arc<ParityParams>, feeds: EditorFeeds) -> Self {
        Self {
            params,
            view: feeds.view,
            stereo: feeds.stereo,
            input_stereo: feeds.input_stereo,
            checks: Default::default(),
            reminder: Default::default(),
            spectrum: feeds.spectrum,
            vectorscope: feeds.vectorscope,
            monitor: feeds.monitor,
            gui_context: None,
            bad_input: BadInputLamp::default(),
            frame: SpectrumFrame::empty(),
            history: Default::default(),
            chain: Default::default(),
            spectrum_page: Default::default(),
            scope: Default::default(),
            references: Default::default(),
            timing: FrameTiming::default(),
            size_applied: false,
            size_wait_frames: 0,
            last_reference: None,
            print_stats: false,
        }
    }

    /// Prepares a newly opened window: visuals, no keyboard zoom (it would resize the window
    /// behind the host's back), the page named by `PARITY_EDITOR_PAGE` (screenshots, docs;
    /// `chain:limiter` also opens a chain stage).
    fn on_open(&mut self, ctx: &egui::Context) {
        ctx.set_visuals(egui::Visuals::dark());
        ctx.options_mut(|options| options.zoom_with_keyboard = false);
        ctx.all_styles_mut(|style| {
            style.spacing.item_spacing = egui::vec2(8.0, 5.0);
            style.spacing.button_padding = egui::vec2(7.0, 3.0);
        });
        if let Ok(wanted) = std::env::var("PARITY_EDITOR_PAGE") {
            let (page, stage) = wanted.split_once(':').unwrap_or((&wanted, ""));
            let mut settings = self.params.editor.lock();
            if let Some(page) = Page::from_name(page) {
                settings.page = page;
            }
            if let Some(stage) = Stage::ALL.into_iter().find(|s| s.title().eq_ignore_ascii_case(stage)) {
                settings.stage = stage;
            }
        }
        self.size_applied = false;
        self.timing = FrameTiming::default();
        self.print_stats = std::env::var_os("PARITY_EDITOR_STATS").is_some();
    }

    /// Draws one frame with `setter` for the host gestures.
    pub fn draw(&mut self, ui: &mut egui::Ui, setter: &ParamSetter) {
        let started = Instant::now();
        let mut settings = self.params.editor.get();
        let before = settings.clone();
        self.apply_saved_size(ui.ctx(), &mut settings);
        let target = target_from_settings(&settings);
        self.feed(&settings, &target);
        self.shortcuts(ui.ctx(), setter);

        let view = self.view.clone();
        let monitor = self.monitor.clone();
        let params = self.params.clone();
        let bad_input = self.bad_input.update(view.bad_input_samples.load(Ordering::Relaxed));
        let panel_fill = ui.visuals().panel_fill;
        egui::Panel::top("header")
            .frame(
                egui::Frame::new()
                    .fill(egui::Color32::from_gray(20))
                    .inner_margin(egui::Margin::symmetric(12, 6)),
            )
            .show(ui, |ui| {
                let inputs = header::HeaderInputs {
                    params: &params,
                    setter,
                    view: &view,
                    monitor: &monitor,
                    bad_input,
                    target: &target,
                    frame_ms: self.timing.mean_ms(),
                };
                header::header(ui, &inputs, &mut settings);
                let interval = settings.break_reminder_min;
                let reminder = &mut self.reminder;
                header::status_line(ui, &params, &view, &monitor, &target, |ui| {
                    reminder.show(ui, &params, setter, &view, interval)
                });
            });
        egui::Panel::bottom("monitor-bar")
            .frame(
                egui::Frame::new()
                    .fill(egui::Color32::from_gray(20))
                    .inner_margin(egui::Margin::symmetric(12, 6)),
            )
            .show(ui, |ui| monitor_bar::bar(ui, &params, setter));
        egui::Panel::right("io-meters")
            .exact_size(io_meters::COLUMN_WIDTH)
            .resizable(false)
            .frame(egui::Frame::new().fill(panel_fill).inner_margin(egui::Margin::symmetric(8, 8)))
            .show(ui, |ui| io_meters::column(ui, &view, &target));
        egui::CentralPanel::default_margins().show(ui, |ui| {
            ui.horizontal(|ui| {
                for page in Page::ALL {
                    let text = egui::RichText::new(page.title()).size(15.0);
                    let response = ui.selectable_value(&mut settings.page, page, text);
                    widgets::probe(ui.ctx(), page.title(), response.rect);
                }
            });
            ui.separator();
            match settings.page {
                Page::Loudness => loudness_panel::panel(
                    ui,
                    &params,
                    setter,
                    &view,
                    &mut settings,
                    &mut self.history,
                    &target,
                ),
                Page::Chain => {
                    let chain_settings = params.chain_settings();
                    let inputs = chain_panel::ChainInputs {
                        params: &params,
                        setter,
                        view: &view,
                        settings: &chain_settings,
                        frame: &self.frame,
                    };
                    let mut stage = settings.stage;
                    self.chain.panel(ui, &inputs, &mut stage);
                    settings.stage = stage;
                }
                Page::Spectrum => {
                    self.spectrum_page.panel(ui, &self.frame, &mut settings, &params.references)
                }
                Page::Stereo => {
                    stereo_panel::panel(ui, &self.stereo, &mut self.scope, self.vectorscope.is_some())
                }
                Page::References => self.references.panel(ui, &params, setter, &monitor, &mut settings),
                Page::Platforms => platforms_panel::panel(ui, &params, setter, &view, &monitor),
                Page::Checks => {
                    let inputs = checks_panel::LiveInputs {
                        params: &params,
                        view: &view,
                        input_stereo: &self.input_stereo,
                        output_stereo: &self.stereo,
                        frame: &self.frame,
                    };
                    self.checks.panel(ui, &inputs, setter, &target, &mut settings, &mut self.reminder);
                }
            }
        });
        if settings != before {
            *self.params.editor.lock() = settings;
        }
        self.timing.record(started.elapsed());
        if self.print_stats && self.timing.count.is_multiple_of(STATS_EVERY_FRAMES) {
            eprintln!("{}", self.timing.summary());
        }
    }

    /// Requests the saved window size once after opening, then records the size the user gives
    /// the window (in points at 100 %, the same at any host scale).
    fn apply_saved_size(&mut self, ctx: &egui::Context, settings: &mut EditorSettings) {
        let current = ctx.content_rect().size();
        let saved = egui::vec2(settings.width, settings.height);
        if !self.size_applied {
            self.size_applied = true;
            if (saved - current).length() > 2.0 {
                ctx.send_viewport_cmd(egui::ViewportCommand::InnerSize(saved));
                self.size_wait_frames = SIZE_WAIT_FRAMES;
            }
            return;
        }
        if self.size_wait_frames > 0 {
            // Until the host has applied the request (or plainly ignored it), the window's size is
            // not the user's choice.
            self.size_wait_frames =
                if (saved - current).length() > 2.0 { self.size_wait_frames - 1 } else { 0 };
            return;
        }
        if current.x >= MIN_SIZE.0 - 1.0 && current.y >= MIN_SIZE.1 - 1.0 {
            settings.width = current.x.round();
            settings.height = current.y.round();
        }
    }

    /// Per-frame hand-offs: the spectrum frame, the vectorscope points, the reduction peaks, the
    /// spectrum display choice and the learn target.
    fn feed(&mut self, settings: &EditorSettings, target: &DeliveryTarget) {
        if let Some(spectrum) = self.spectrum.as_mut() {
            self.frame = *spectrum.latest();
        }
        if let Some(reader) = self.vectorscope.as_mut() {
            self.scope.take(reader);
        }
        self.chain.limiter_trace.push(self.view.limiter_gain_reduction_peak_db.swap(0.0, Ordering::Relaxed));
        self.chain.glue_trace.push(self.view.glue_gain_reduction_peak_db.swap(0.0, Ordering::Relaxed));
        spectrum_panel::publish_display(&self.view, settings);
        if let Some(lufs) = target.target_lufs {
            self.view.learn_target_lufs.store(lufs, Ordering::Relaxed);
        }
    }

    /// The keyboard shortcuts (only while no text field has the keyboard).
    fn shortcuts(&mut self, ctx: &egui::Context, setter: &ParamSetter) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let params = &self.params;
        let source = &params.monitor.source;
        let current = MonitorSource::from_index(source.value().max(0) as usize);
        if let MonitorSource::Reference(slot) = current {
            self.last_reference = Some(slot);
        }
        let ready =
            |slot: usize| params.references.slot(slot).is_some_and(|info| info.status == SlotStatus::Ready);
        let keys = ctx.input(|input| {
            let mut keys = Vec::new();
            for event in &input.events {
                if let egui::Event::Key { key, pressed: true, repeat: false, modifiers, .. } = event {
                    if modifiers.is_none() {
                        keys.push(*key);
                    }
                }
            }
            keys
        });
        for key in keys {
            let digit = [
                egui::Key::Num1,
                egui::Key::Num2,
                egui::Key::Num3,
                egui::Key::Num4,
                egui::Key::Num5,
                egui::Key::Num6,
                egui::Key::Num7,
                egui::Key::Num8,
                egui::Key::Num9,
            ]
            .iter()
            .position(|k| *k == key);
            let wanted = match key {
                egui::Key::A => Some(if current == MonitorSource::Unprocessed {
                    MonitorSource::Processed
                } else if current == MonitorSource::Processed {
                    MonitorSource::Unprocessed
                } else {
                    MonitorSource::Processed
                }),
                egui::Key::R => Some(match current {
                    MonitorSource::Reference(_) => MonitorSource::Processed,
                    _ => self
                        .last_reference
                        .filter(|&slot| ready(slot))
                        .or_else(|| (0..REFERENCE_SLOTS).find(|&slot| ready(slot)))
                        .map_or(current, MonitorSource::Reference),
                }),
                egui::Key::B => {
                    widgets::set_bool(setter, &params.bypass, !params.bypass.value());
                    None
                }
                _ => digit.filter(|&slot| ready(slot)).map(MonitorSource::Reference),
            };
            if let Some(wanted) = wanted.filter(|w| *w != current) {
                widgets::set_int(setter, source, wanted.index() as i32);
            }
        }
    }
}

impl NiceEguiApp for ParityEditor {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.on_open(&egui_ctx);
        self.gui_context = Some(nice_gui_ctx);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        let Some(gui_context) = self.gui_context.clone() else {
            return;
        };
        let setter = gui_context.param_setter();
        self.draw(ui, &setter);
        ui.ctx().request_repaint_after(FRAME_INTERVAL);
    }

    fn editor_closed(&mut self) {
        // (nice-plug-egui 0.6.0 never calls this; `build` resets what a new window needs.)
        self.gui_context = None;
    }
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

/// The editor's own CPU time per frame (building the UI; tessellation and painting are the
/// framework's and are measured by the `editor_frame` benchmark).
#[derive(Debug)]
pub struct FrameTiming {
    /// Recent frame times, ms.
    recent_ms: [f32; TIMING_FRAMES],
    /// Frames recorded.
    count: u64,
    /// Longest frame since opening, ms.
    max_ms: f32,
}

impl Default for FrameTiming {
    fn default() -> Self {
        Self { recent_ms: [0.0; TIMING_FRAMES], count: 0, max_ms: 0.0 }
    }
}

impl FrameTiming {
    /// Records one frame.
    pub fn record(&mut self, elapsed: Duration) {
        let ms = elapsed.as_secs_f32() * 1000.0;
        self.recent_ms[(self.count % TIMING_FRAMES as u64) as usize] = ms;
        self.count += 1;
        // The first frames lay out fonts; they are not what a running editor costs.
        if self.count > 10 {
            self.max_ms = self.max_ms.max(ms);
        }
    }

    /// The recent frames, oldest order not kept.
    fn recent(&self) -> &[f32] {
        &self.recent_ms[..(self.count as usize).min(TIMING_FRAMES)]
    }

    /// Mean of the recent frames, ms.
    pub fn mean_ms(&self) -> f32 {
        let recent = self.recent();
        if recent.is_empty() {
            0.0
        } else {
            recent.iter().sum::<f32>() / recent.len() as f32
        }
    }

    /// 95th percentile of the recent frames, ms.
    pub fn p95_ms(&self) -> f32 {
        let mut sorted = self.recent().to_vec();
        sorted.sort_by(f32::total_cmp);
        sorted
            .get(((sorted.len() as f32 * 0.95) as usize).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    }

    /// One line for logs and tests: `parity-editor-frames count=… mean_ms=… p95_ms=… max_ms=…`.
    pub fn summary(&self) -> String {
        format!(
            "parity-editor-frames count={} mean_ms={:.3} p95_ms={:.3} max_ms={:.3}",
            self.count,
            self.mean_ms(),
            self.p95_ms(),
            self.max_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_targets_come_from_the_platform_table_or_the_custom_values() {
        let mut settings = EditorSettings { target: "spotify".into(), ..EditorSettings::default() };
        let spotify = target_from_settings(&settings);
        assert_eq!((spotify.target_lufs, spotify.ceiling_dbtp), (Some(-14.0), -1.0));
        settings.target = "atsc_a85".into();
        assert_eq!(target_from_settings(&settings).ceiling_dbtp, -2.0);
        settings.target = "youtube".into();
        assert_eq!(target_from_settings(&settings).ceiling_dbtp, -1.0, "no peak rule: −1 dBTP");
        settings.target = CUSTOM_TARGET.into();
        settings.custom_target_lufs = -9.5;
        settings.custom_ceiling_dbtp = -0.3;
        let custom = target_from_settings(&settings);
        assert_eq!(
            (custom.name.as_str(), custom.target_lufs, custom.ceiling_dbtp),
            ("Custom", Some(-9.5), -0.3)
        );
    }

    #[test]
    fn frame_timing_reports_mean_percentile_and_maximum() {
        let mut timing = FrameTiming::default();
        for i in 0..300 {
            timing.record(Duration::from_micros(if i == 250 { 9_000 } else { 1_000 }));
        }
        assert!((timing.mean_ms() - (255.0 + 9.0) / 256.0).abs() < 1e-3, "{}", timing.mean_ms());
        assert!((timing.p95_ms() - 1.0).abs() < 1e-3);
        assert!((timing.max_ms - 9.0).abs() < 1e-3);
        assert!(timing.summary().starts_with("parity-editor-frames count=300 "));
    }
}
