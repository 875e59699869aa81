//! The editor without a window, for tests and the `editor_frame` benchmark: an egui context runs
//! the real [`ParityEditor`] on simulated input, and a recording host context applies every
//! parameter change the editor makes (as a host would) and keeps the begin/set/end gestures, so
//! a test can click a control and check what the host saw.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nice_plug::context::gui::GuiContextInner;
use nice_plug::context::PluginApi;
use nice_plug::params::internals::ParamPtr;
use nice_plug::prelude::*;

use super::{EditorFeeds, ParityEditor};
use crate::editor_settings::Page;
use crate::params::ParityParams;

/// One call the editor made to the host's parameter API.
#[derive(Debug, Clone, PartialEq)]
pub enum Gesture {
    /// `begin_set_parameter` of the parameter named so.
    Begin(String),
    /// `set_parameter` to a normalised value.
    Set(String, f32),
    /// `end_set_parameter`.
    End(String),
}

/// A host context that applies changes at once and records them.
#[derive(Default)]
struct RecordingHost {
    /// The calls so far.
    gestures: Mutex<Vec<Gesture>>,
}

impl RecordingHost {
    /// Appends a call.
    fn push(&self, gesture: Gesture) {
        self.gestures.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(gesture);
    }
}

/// The parameter's display name.
fn name_of(param: ParamPtr) -> String {
    // SAFETY: the pointer comes from a parameter of the `ParityParams` the editor holds, which
    // outlives every frame.
    unsafe { param.name() }.to_owned()
}

impl GuiContextInner for RecordingHost {
    fn plugin_api(&self) -> PluginApi {
        PluginApi::Clap
    }

    unsafe fn raw_begin_set_parameter(&self, param: ParamPtr) {
        self.push(Gesture::Begin(name_of(param)));
    }

    unsafe fn raw_set_parameter_normalized(&self, param: ParamPtr, normalized: f32) {
        // SAFETY: as in `name_of`; a host applies the value the same way.
        unsafe { param._internal_set_normalized_value(normalized) };
        self.push(Gesture::Set(name_of(param), normalized));
    }

    unsafe fn raw_end_set_parameter(&self, param: ParamPtr) {
        self.push(Gesture::End(name_of(param)));
    }

    fn get_state(&self) -> nice_plug::plugin::PluginState {
        nice_plug::plugin::PluginState {
            version: String::new(),
            params: Default::default(),
            fields: Default::default(),
        }
    }

    fn set_state(&self, _state: nice_plug::plugin::PluginState) {}

    fn request_restart(&self) {}
}

/// CPU time of one headless frame.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameCost {
    /// Building the UI (the editor's own code and egui's layout).
    pub ui: Duration,
    /// Tessellating the shapes into meshes (what the renderer would upload).
    pub tessellate: Duration,
    /// Number of primitives produced.
    pub primitives: usize,
}

/// The editor in an egui context of a fixed size.
pub struct HeadlessEditor {
    /// The egui context.
    ctx: egui::Context,
    /// The editor.
    editor: ParityEditor,
    /// The recording host.
    host: Arc<RecordingHost>,
    /// Screen size, points.
    size: egui::Vec2,
    /// Time given to egui (advanced 16 ms per frame).
    time_s: f64,
    /// Every text drawn in the last frame.
    texts: Vec<String>,
    /// The window commands of the last frame (resize requests).
    commands: Vec<egui::ViewportCommand>,
}

impl HeadlessEditor {
    /// An editor for `params` and `feeds` on a `width` × `height` point screen at `scale`
    /// (pixels per point: 1.0, 1.5 for 150 %).
    pub fn new(params: Arc<ParityParams>, feeds: EditorFeeds, width: f32, height: f32, scale: f32) -> Self {
        let ctx = egui::Context::default();
        ctx.set_pixels_per_point(scale);
        let host = Arc::new(RecordingHost::default());
        let mut editor = ParityEditor::new(params, feeds);
        editor.on_open(&ctx);
        // The headless screen is the size it is; do not ask for the saved one.
        editor.size_applied = true;
        Self {
            ctx,
            editor,
            host,
            size: egui::vec2(width, height),
            time_s: 0.0,
            texts: Vec::new(),
            commands: Vec::new(),
        }
    }

    /// Shows `page`.
    pub fn set_page(&mut self, page: Page) {
        self.editor.params.editor.lock().page = page;
    }

    /// Runs one frame with `events` (pointer, keys) and tessellates its output.
    pub fn frame(&mut self, events: Vec<egui::Event>) -> FrameCost {
        self.time_s += 0.016;
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, self.size)),
            time: Some(self.time_s),
            events,
            ..Default::default()
        };
        let started = Instant::now();
        let setter = ParamSetter::new(&*self.host);
        let editor = &mut self.editor;
        let mut output = self.ctx.run_ui(input, |ui| editor.draw(ui, &setter));
        // No renderer uploads the font atlas here.
        output.textures_delta.clear();
        self.commands = output
            .viewport_output
            .get(&egui::ViewportId::ROOT)
            .map(|v| v.commands.clone())
            .unwrap_or_default();
        let ui = started.elapsed();
        self.texts.clear();
        for clipped in &output.shapes {
            collect_texts(&clipped.shape, &mut self.texts);
        }
        let started = Instant::now();
        let primitives = self.ctx.tessellate(output.shapes, output.pixels_per_point);
        FrameCost { ui, tessellate: started.elapsed(), primitives: primitives.len() }
    }

    /// Opens `stage` on the chain page.
    pub fn set_stage(&mut self, stage: crate::editor_settings::Stage) {
        self.editor.params.editor.lock().stage = stage;
    }

    /// The engine readings the editor shows.
    pub fn view(&self) -> &crate::engine::EngineView {
        &self.editor.view
    }

    /// Runs one frame per entry of `frames`.
    pub fn frames(&mut self, frames: Vec<Vec<egui::Event>>) {
        for events in frames {
            self.frame(events);
        }
    }

    /// Takes the gestures recorded so far.
    pub fn take_gestures(&self) -> Vec<Gesture> {
        std::mem::take(&mut *self.host.gestures.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Closes and reopens the window at `width` × `height` points (the size the host opened it
    /// at): the editor then asks for its saved size.
    pub fn reopen(&mut self, width: f32, height: f32) {
        self.size = egui::vec2(width, height);
        self.editor.on_open(&self.ctx);
    }

    /// Opens a new window: a fresh egui context (as each real window has), the same editor.
    pub fn new_window(&mut self) {
        let scale = self.ctx.pixels_per_point();
        self.ctx = egui::Context::default();
        self.ctx.set_pixels_per_point(scale);
        self.editor.on_open(&self.ctx);
        self.editor.size_applied = true;
    }

    /// The window commands (resize requests) of the last frame.
    pub fn commands(&self) -> &[egui::ViewportCommand] {
        &self.commands
    }

    /// Every text drawn in the last frame.
    pub fn texts(&self) -> &[String] {
        &self.texts
    }

    /// True when some text of the last frame contains `needle`.
    pub fn shows(&self, needle: &str) -> bool {
        self.texts.iter().any(|text| text.contains(needle))
    }

    /// Where control `name` (see `widgets::probe`) was drawn in the last frame.
    pub fn probe(&self, name: &str) -> Option<egui::Rect> {
        super::widgets::probed(&self.ctx, name)
    }

    /// Where the widget with `id` was drawn in the last frame.
    pub fn rect_of(&self, id: egui::Id) -> Option<egui::Rect> {
        self.ctx.read_response(id).map(|response| response.rect)
    }

    /// The egui context (to find where widgets were drawn).
    pub fn context(&self) -> &egui::Context {
        &self.ctx
    }
}

/// Collects the text of `shape` (and of nested shapes).
fn collect_texts(shape: &egui::Shape, out: &mut Vec<String>) {
    match shape {
        egui::Shape::Text(text) => out.push(text.galley.text().to_owned()),
        egui::Shape::Vec(shapes) => shapes.iter().for_each(|shape| collect_texts(shape, out)),
        _ => {}
    }
}

/// A drag from `from` to `to` in `steps` moves: press, moves, release (one frame's events each).
pub fn drag(from: egui::Pos2, to: egui::Pos2, steps: usize) -> Vec<Vec<egui::Event>> {
    let button = |pos, pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: Default::default(),
    };
    let mut frames = vec![vec![egui::Event::PointerMoved(from)], vec![button(from, true)]];
    for step in 1..=steps {
        frames.push(vec![egui::Event::PointerMoved(from + (to - from) * (step as f32 / steps as f32))]);
    }
    frames.push(vec![button(to, false)]);
    frames.push(Vec::new());
    frames
}

/// A left click at `pos`: move, press, release, one frame each, and a quiet frame.
pub fn click(pos: egui::Pos2) -> Vec<Vec<egui::Event>> {
    let button = |pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: Default::default(),
    };
    vec![vec![egui::Event::PointerMoved(pos)], vec![button(true)], vec![button(false)], Vec::new()]
}

/// A key press and release.
pub fn key(key: egui::Key) -> Vec<egui::Event> {
    [true, false]
        .into_iter()
        .map(|pressed| egui::Event::Key {
            key,
            physical_key: None,
            pressed,
            repeat: false,
            modifiers: Default::default(),
        })
        .collect()
}
