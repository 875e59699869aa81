//! Parity: a mastering chain and loudness meters for the last slot of the master bus.
//!
//! This file is the plugin glue only: it maps the host's lifecycle onto [`engine::Engine`] and
//! exports the CLAP and VST3 entry points. All audio work lives in [`engine`] and [`dsp`], which
//! know nothing about plugin frameworks and are shared with the standalone and the offline tools.
//!
//! # Thread map
//! | thread | calls | may allocate? |
//! |---|---|---|
//! | host main thread | `Default` (construction), `editor()`, `activate()`, `deactivate()`, state save/load (`params()`, persisted fields: the reference slots and the editor settings) | yes — `activate()` sizes every buffer via `Engine::prepare`; it may be called again with another configuration and is idempotent |
//! | audio thread | `process()`, `reset()` | **never**: no allocation, free, lock, log, I/O or wait. Test bundles (`--features alloc-guard`) abort on any allocation inside `process()` |
//! | GUI thread (egui, created by baseview) | `editor::ParityEditor::ui` | yes, but it only *reads* the engine through atomics ([`engine::EngineView`], [`monitor::MonitorView`]) and lock-free buffers (spectrum, vectorscope), and only *writes* through the host's parameter API (begin/set/end gestures), the engine view's command atomics (meter reset and pause, spectrum display, learn, the listening clock's "took a break" flag) or the reference bank's commands; the checks page evaluates [`delivery`] on this thread from the views, every 250 ms; its own settings ([`editor_settings`]) sit behind a mutex that only the GUI and the host's state save/load take, never the audio thread |
//! | reference loader (one per instance, owned by [`reference::ReferenceBank`]) | decoding, resampling and analysing reference files; freeing replaced ones | yes: it hands finished audio to the audio thread over a wait-free SPSC queue and gets replaced audio back on another |
//!
//! The engine publishes its readings through [`engine::EngineView`] (relaxed `AtomicF32`/`AtomicU64`
//! stores, one writer), including the listening clock ([`listening::ListeningClock`]: relaxed
//! `AtomicF64` load/store pairs, the audio thread the only writer; the editor's break is a flag
//! the writer consumes). Parameter values cross from the host/GUI to the audio thread as atomics
//! inside nice-plug's parameter objects; the glue renders them into plain
//! [`engine::ChainSettings`] once per block (nice-plug splits blocks at parameter events because
//! `SAMPLE_ACCURATE_AUTOMATION` is on).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nice_plug::prelude::*;
use nice_plug_egui::{EguiEditor, EguiEditorState};

pub mod audio_file;
pub mod delivery;
pub mod demo_signal;
pub mod demo_song;
pub mod dsp;
pub mod editor;
pub mod editor_settings;
pub mod engine;
pub mod listening;
pub mod meters;
pub mod monitor;
#[cfg(feature = "cli")]
pub mod offline;
pub mod params;
pub mod peak_meter;
#[cfg(feature = "cli")]
pub mod plot;
pub mod reference;
#[cfg(test)]
mod test_alloc;
#[cfg(test)]
mod test_files;
#[cfg(test)]
mod test_rng;

use demo_signal::DemoSignal;
use engine::{Engine, ProcessSpec};
use params::ParityParams;

/// Set by the standalone application's `--demo-input` flag: the plugin then replaces its (silent
/// or absent) audio input with the built-in demo mix, so meters move without a DAW or a sound card.
pub static STANDALONE_DEMO_INPUT: AtomicBool = AtomicBool::new(false);

/// The plugin instance.
pub struct Parity {
    /// Parameters, shared with the host and the editor.
    params: Arc<ParityParams>,
    /// The audio engine.
    engine: Engine,
    /// Built-in demo input for the standalone (`None` in a host).
    demo_input: Option<DemoSignal>,
    /// The editor's window state; while it is open the engine runs the screen-only analysis.
    editor_state: Arc<EguiEditorState>,
    /// Whether a restart was already requested for the pending structural change.
    restart_requested: bool,
}

impl Default for Parity {
    fn default() -> Self {
        let params = Arc::new(ParityParams::default());
        let mut engine = Engine::new();
        if let Some(link) = params.references.take_player_link() {
            engine.set_reference_link(link);
        }
        Self {
            params,
            engine,
            demo_input: None,
            editor_state: editor::default_state(),
            restart_requested: false,
        }
    }
}

impl Plugin for Parity {
    const NAME: &'static str = "Parity";
    const VENDOR: &'static str = "Parity Audio";
    const URL: &'static str = "";
    const EMAIL: &'static str = "";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            ..AudioIOLayout::const_default()
        },
    ];

    const SAMPLE_ACCURATE_AUTOMATION: bool = true;

    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = EguiEditor<editor::ParityEditor>;

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        let feeds = editor::EditorFeeds::take_from(&mut self.engine);
        editor::create(self.editor_state.clone(), self.params.clone(), feeds)
    }

    fn activate(
        &mut self,
        audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        let channels = audio_io_layout.main_output_channels.map_or(2, NonZeroU32::get) as usize;
        let spec = ProcessSpec {
            sample_rate_hz: buffer_config.sample_rate as f64,
            max_block_frames: buffer_config.max_buffer_size as usize,
            channels,
        };
        // Settings first, so the chain is built with the current structural settings (EQ mode,
        // limiter lookahead and oversampling) and the latency below is theirs.
        self.engine.set_settings(&self.params.chain_settings());
        if let Err(error) = self.engine.prepare(spec) {
            nice_error!("Parity cannot run: {error}");
            return false;
        }
        self.restart_requested = false;
        // Bounce safety: an offline render is the chain output, whatever the monitor says.
        self.engine.set_offline(buffer_config.process_mode == ProcessMode::Offline);
        self.engine.set_monitor_settings(&self.params.monitor_settings());
        // References reload at the new rate if it changed (on the loader thread).
        self.params.references.set_session_rate(spec.sample_rate_hz);
        self.engine.set_meter_settings(&self.params.meter_settings());
        self.engine.reset();
        self.demo_input =
            STANDALONE_DEMO_INPUT.load(Ordering::Relaxed).then(|| DemoSignal::new(spec.sample_rate_hz));
        context.set_latency_samples(self.engine.latency_samples());
        true
    }

    fn reset(&mut self) {
        self.engine.reset();
        if let Some(demo) = &mut self.demo_input {
            demo.reset();
        }
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        self.engine.set_settings(&self.params.chain_settings());
        if self.engine.needs_rebuild() && !self.restart_requested {
            // A latency-changing setting moved: the host restarts processing (deactivate +
            // activate), and `activate` rebuilds the chain and reports the new latency.
            context.request_restart();
            self.restart_requested = true;
        }
        self.engine.set_meter_settings(&self.params.meter_settings());
        let transport = context.transport();
        self.engine.set_transport_playing(transport.playing);
        self.engine.set_song_position_frames(transport.playing.then(|| transport.pos_samples()).flatten());
        self.engine.set_monitor_settings(&self.params.monitor_settings());
        self.engine.set_analysis_enabled(self.editor_state.is_open());
        let channels = buffer.as_slice();
        if let Some(demo) = &mut self.demo_input {
            demo.render(channels);
        }
        self.engine.process(channels);
        ProcessStatus::Normal
    }
}

impl ClapPlugin for Parity {
    const CLAP_ID: &'static str = "audio.parity.master";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Mastering chain and EBU R128 / BS.1770 metering with loudness-matched comparison");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Mastering,
        ClapFeature::Limiter,
        ClapFeature::Analyzer,
        ClapFeature::Stereo,
        ClapFeature::Mono,
    ];
}

impl Vst3Plugin for Parity {
    /// Fixed forever: hosts identify saved instances by it.
    const VST3_CLASS_ID: [u8; 16] = *b"ParityAudioMastr";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[
        Vst3SubCategory::Fx,
        Vst3SubCategory::Dynamics,
        Vst3SubCategory::Mastering,
        Vst3SubCategory::Analyzer,
    ];
}

nice_export_clap!(Parity);
nice_export_vst3!(Parity);
