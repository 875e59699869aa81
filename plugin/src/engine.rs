//! The engine: everything Parity does to and measures about the audio, with no plugin-framework
//! types. The plugin glue, the standalone and (later) the offline CLI drive the same `Engine`, so
//! their numbers and their output are the same.
//!
//! Lifecycle (the JUCE/fundsp contract): [`Engine::prepare`] may allocate and is called off the
//! audio thread (plugin `activate`); [`Engine::reset`] clears state without allocating;
//! [`Engine::process`] never allocates, locks, logs or panics, for any block length.
//!
//! Per block: sanitize → input meters (peak, loudness, true peak) → chain → bypass crossfade
//! against the dry path (delayed by the chain latency) → output meters. Work is done in fixed sub-blocks of at most
//! [`SUB_BLOCK_FRAMES`] frames, so host block sizes from 1 to 16384 behave identically.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use atomic_float::AtomicF32;

use crate::dsp::bypass::BypassCrossfade;
use crate::dsp::chain::{Chain, ChainStageSettings};
use crate::dsp::delay_line::DelayLine;
use crate::dsp::denormals::DenormalGuard;
use crate::dsp::gain::SmoothedGain;
use crate::dsp::sanitizer::Sanitizer;
use crate::dsp::target_learner::LearnedDrive;
use crate::meters::spectrum::{Averaging, ChannelMode, Smoothing, SpectrumAnalyzer, SpectrumView};
use crate::meters::stereo::{StereoMeter, StereoView, VectorscopeReader};
use crate::meters::{LoudnessHistory, MeterPointView, MeterSet};
use crate::monitor::{Monitor, MonitorReadings, MonitorSettings, MonitorView, SourceReading};
use crate::peak_meter::{PeakMeter, PeakMeterView};
use crate::reference::{PlayerLink, ReferencePlayer};

/// Frames processed per internal sub-block.
pub const SUB_BLOCK_FRAMES: usize = 64;

/// Channels the engine processes (mono or stereo). Extra host channels pass through untouched.
pub const MAX_CHANNELS: usize = 2;

/// The range of sample rates the engine accepts (the processors' range).
pub use crate::dsp::{MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ};

/// What the engine is prepared for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessSpec {
    /// Sample rate in Hz.
    pub sample_rate_hz: f64,
    /// Largest block the host will pass to one `process` call, in frames (the engine works in
    /// sub-blocks, so this only sizes optional scratch space).
    pub max_block_frames: usize,
    /// Number of channels, 1 (mono) or 2 (stereo).
    pub channels: usize,
}

impl Default for ProcessSpec {
    fn default() -> Self {
        Self { sample_rate_hz: 48_000.0, max_block_frames: 1024, channels: 2 }
    }
}

/// Why a [`ProcessSpec`] was refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SpecError {
    /// The sample rate is not finite or outside
    /// [`MIN_SAMPLE_RATE_HZ`]..=[`MAX_SAMPLE_RATE_HZ`].
    SampleRate(f64),
    /// The channel count is not 1 or 2.
    Channels(usize),
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SampleRate(rate) => {
                write!(f, "sample rate {rate} Hz is outside {MIN_SAMPLE_RATE_HZ}..={MAX_SAMPLE_RATE_HZ} Hz")
            }
            Self::Channels(channels) => write!(f, "{channels} channels (Parity runs mono or stereo)"),
        }
    }
}

impl std::error::Error for SpecError {}

/// Plain settings of the chain, rendered from the parameters by the glue once per block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChainSettings {
    /// Gain at the start of the chain (after the input meters), in dB.
    pub input_trim_db: f32,
    /// Gain at the end of the chain, in dB.
    pub output_gain_db: f32,
    /// Global bypass: the output is the input delayed by the (unchanged) latency.
    pub bypass: bool,
    /// Settings of the chain's stages (DC blocker to dither).
    pub stages: ChainStageSettings,
}

impl Default for ChainSettings {
    fn default() -> Self {
        Self { input_trim_db: 0.0, output_gain_db: 0.0, bypass: false, stages: ChainStageSettings::default() }
    }
}

/// How the meters follow the host transport (plain settings rendered from the parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeterSettings {
    /// Reset integrated loudness, loudness range and maxima when the transport starts playing.
    pub reset_on_play: bool,
    /// Hold every loudness and true-peak reading while the transport is stopped.
    pub pause_when_stopped: bool,
}

/// What the engine publishes for the editor and the host glue: one writer (the audio thread),
/// read anywhere through atomics.
#[derive(Debug, Default)]
pub struct EngineView {
    /// Sample peaks at the chain input (after sanitizing, before the trim).
    pub input_peak: PeakMeterView,
    /// Sample peaks at the plugin output.
    pub output_peak: PeakMeterView,
    /// Loudness and true peak at the chain input (after sanitizing, before the trim).
    pub input_meters: MeterPointView,
    /// Loudness and true peak at the plugin output.
    pub output_meters: MeterPointView,
    /// Momentary and short-term loudness at the chain input over the last hour, at 10 Hz.
    pub input_history: LoudnessHistory,
    /// Momentary and short-term loudness at the output over the last hour, at 10 Hz.
    pub output_history: LoudnessHistory,
    /// Set by the editor to ask the audio thread to reset every measurement (integrated, LRA,
    /// maxima, true peaks, history). The audio thread clears it when done.
    pub reset_meters_requested: AtomicBool,
    /// True while the meters hold because the transport is stopped and
    /// [`MeterSettings::pause_when_stopped`] is on.
    pub meters_paused: AtomicBool,
    /// Samples of the input replaced because they were NaN, ±∞ or absurdly large, since the
    /// engine was created (never reset, so the editor can tell a new burst from an old one).
    pub bad_input_samples: AtomicU64,
    /// Frames processed since the engine was created.
    pub processed_frames: AtomicU64,
    /// Sample rate the engine is prepared for, in Hz.
    pub sample_rate_hz: AtomicF32,
    /// Latency of the chain as prepared, in samples.
    pub latency_samples: AtomicU64,
    /// True while a structural setting (EQ mode, limiter lookahead or oversampling) differs from
    /// the prepared chain: it applies when the host restarts processing.
    pub restart_pending: AtomicBool,
    /// Gain reduction of the glue compressor, dB (positive = reduction).
    pub glue_gain_reduction_db: AtomicF32,
    /// Gain reduction of the multiband bands (low, mid, high), dB.
    pub multiband_gain_reduction_db: [AtomicF32; crate::dsp::multiband::BANDS],
    /// Gain reduction of the limiter, dB.
    pub limiter_gain_reduction_db: AtomicF32,
    /// Largest glue gain reduction since the editor last took it, dB (the editor swaps in 0 each
    /// frame, so its history trace misses no peak that fell between two frames).
    pub glue_gain_reduction_peak_db: AtomicF32,
    /// Largest limiter gain reduction since the editor last took it, dB (see
    /// `glue_gain_reduction_peak_db`).
    pub limiter_gain_reduction_peak_db: AtomicF32,
    /// Set by the editor's pause button: while it is set the loudness and true-peak meters take in
    /// no audio (the sample-peak bars keep moving).
    pub meters_hold: AtomicBool,
    /// The spectrum display the editor asks for: channel pair, averaging and smoothing (see
    /// [`SpectrumDisplay`]), packed by [`SpectrumDisplay::pack`].
    pub spectrum_display: AtomicU32,
    /// Display tilt of the spectrum the editor asks for, dB per octave.
    pub spectrum_tilt_db_per_octave: AtomicF32,
    /// Set by the editor: [`LEARN_START`] or [`LEARN_STOP`] ("learn to target"); the audio
    /// thread clears it to [`LEARN_IDLE`] when done.
    pub learn_command: AtomicU8,
    /// Output loudness target of "learn to target", LUFS (the editor writes it).
    pub learn_target_lufs: AtomicF32,
    /// True while a learning pass runs.
    pub learning: AtomicBool,
    /// The drive that reaches the target from the audio of the current or last pass, dB
    /// (NaN: no answer, see `learn_note_db`).
    pub learned_drive_db: AtomicF32,
    /// Why there is no drive: +x = the music is x dB louder than the target even without drive,
    /// −x = the largest drive still leaves it x dB short; NaN while there is not enough audio.
    pub learn_note_db: AtomicF32,
    /// Listening time and sound energy of what is heard (never counted offline).
    pub listening: crate::listening::ListeningClock,
}

/// How the editor wants the output spectrum analysed (display only; never touches the audio).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpectrumDisplay {
    /// Left/right or mid/side traces.
    pub mode: ChannelMode,
    /// Averaging of the power spectra.
    pub averaging: Averaging,
    /// Fractional-octave smoothing of the traces.
    pub smoothing: Smoothing,
}

impl Default for SpectrumDisplay {
    fn default() -> Self {
        // The analyser's own defaults, so that a zero word (a fresh view) means them.
        Self { mode: ChannelMode::LeftRight, averaging: Averaging::Fast, smoothing: Smoothing::None }
    }
}

impl SpectrumDisplay {
    /// Packs the three choices into one word for [`EngineView::spectrum_display`].
    pub fn pack(self) -> u32 {
        let mode = match self.mode {
            ChannelMode::LeftRight => 0,
            ChannelMode::MidSide => 1,
        };
        let averaging = match self.averaging {
            Averaging::Fast => 0,
            Averaging::Slow => 1,
            Averaging::Infinite => 2,
        };
        let smoothing = match self.smoothing {
            Smoothing::None => 0,
            Smoothing::Third => 1,
            Smoothing::Sixth => 2,
            Smoothing::Twelfth => 3,
            Smoothing::TwentyFourth => 4,
        };
        mode | (averaging << 8) | (smoothing << 16)
    }

    /// Unpacks [`Self::pack`]'s word (unknown codes give the defaults).
    pub fn unpack(word: u32) -> Self {
        let default = Self::default();
        Self {
            mode: match word & 0xff {
                1 => ChannelMode::MidSide,
                _ => ChannelMode::LeftRight,
            },
            averaging: match (word >> 8) & 0xff {
                0 => Averaging::Fast,
                1 => Averaging::Slow,
                2 => Averaging::Infinite,
                _ => default.averaging,
            },
            smoothing: match (word >> 16) & 0xff {
                0 => Smoothing::None,
                1 => Smoothing::Third,
                2 => Smoothing::Sixth,
                3 => Smoothing::Twelfth,
                4 => Smoothing::TwentyFourth,
                _ => default.smoothing,
            },
        }
    }
}

/// [`EngineView::learn_command`]: nothing pending.
pub const LEARN_IDLE: u8 = 0;
/// [`EngineView::learn_command`]: start a learning pass.
pub const LEARN_START: u8 = 1;
/// [`EngineView::learn_command`]: stop the learning pass.
pub const LEARN_STOP: u8 = 2;

/// Default target of "learn to target", LUFS (the common streaming normalisation level).
pub const DEFAULT_LEARN_TARGET_LUFS: f32 = -14.0;

/// Parity's audio engine. See the module documentation for the contract.
pub struct Engine {
    /// What `prepare` was last called with.
    spec: ProcessSpec,
    /// Settings applied by the last `set_settings`.
    settings: ChainSettings,
    /// Replaces NaN/∞/huge input samples.
    sanitizer: Sanitizer,
    /// Input trim stage.
    input_trim: SmoothedGain,
    /// Output gain stage.
    output_gain: SmoothedGain,
    /// The mastering chain between the trim and the output gain.
    chain: Chain,
    /// Right-channel stand-in for mono layouts (the chain is stereo).
    mono_scratch: [f32; SUB_BLOCK_FRAMES],
    /// Crossfade between the chain output and the dry path.
    bypass: BypassCrossfade,
    /// Delays the dry path by the chain latency.
    dry_delay: DelayLine,
    /// Dry copy of the current sub-block per channel.
    dry: [[f32; SUB_BLOCK_FRAMES]; MAX_CHANNELS],
    /// Per-sample gain scratch for the gain stages.
    gain_scratch: [f32; SUB_BLOCK_FRAMES],
    /// Input sample-peak meter.
    input_peak: PeakMeter,
    /// Output sample-peak meter.
    output_peak: PeakMeter,
    /// Loudness and true-peak meters at the chain input. Always running (also with the editor
    /// closed): level matching needs both meter points.
    input_meters: MeterSet,
    /// Loudness and true-peak meters at the output.
    output_meters: MeterSet,
    /// Correlation, width and balance of the output (always running: cheap, and the mix-readiness
    /// checks need it), plus vectorscope points while the editor shows them.
    stereo: StereoMeter,
    /// Stereo meter of the chain input (the mix-readiness checks' correlation and balance).
    input_stereo: StereoMeter,
    /// Spectrum of the output; only runs while the editor is open.
    spectrum: SpectrumAnalyzer,
    /// 100 ms hops of the input loudness meter already pushed to the history.
    input_hops_published: u64,
    /// 100 ms hops of the output loudness meter already pushed to the history.
    output_hops_published: u64,
    /// Transport behaviour of the meters.
    meter_settings: MeterSettings,
    /// Whether the host transport was playing at the last block (true without a transport).
    transport_playing: bool,
    /// Limiter-output target (learn target minus output gain) the published answer was computed
    /// for (NaN: recompute at the next publish). Between passes the answer only changes with it,
    /// so it is not recomputed per block.
    learn_answer_target_lufs: f32,
    /// Largest glue gain reduction since the last publication, dB.
    glue_reduction_peak_db: f32,
    /// Largest limiter gain reduction since the last publication, dB.
    limiter_reduction_peak_db: f32,
    /// The monitor section (source select, level match, platform preview, listen tools).
    monitor: Monitor,
    /// Plays the reference slots.
    player: ReferencePlayer,
    /// True while the host renders offline: the monitor section is off, the output is the chain
    /// output (bounce safety).
    offline: bool,
    /// Host song position of the first frame of the current block, in frames (`None`: no
    /// transport position, or stopped).
    song_position_frames: Option<i64>,
    /// What the monitor section publishes.
    monitor_view: Arc<MonitorView>,
    /// Published readings.
    view: Arc<EngineView>,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    /// An engine prepared for the default spec (48 kHz stereo), so it is safe to process at once.
    pub fn new() -> Self {
        let spec = ProcessSpec::default();
        let settings = ChainSettings::default();
        let monitor_view = Arc::new(MonitorView::default());
        let mut engine = Self {
            spec,
            settings,
            sanitizer: Sanitizer::new(),
            input_trim: SmoothedGain::new(spec.sample_rate_hz, 0.0),
            output_gain: SmoothedGain::new(spec.sample_rate_hz, 0.0),
            chain: Chain::new(spec.sample_rate_hz, &settings.stages),
            mono_scratch: [0.0; SUB_BLOCK_FRAMES],
            bypass: BypassCrossfade::new(spec.sample_rate_hz, false),
            dry_delay: DelayLine::new(MAX_CHANNELS, 0),
            dry: [[0.0; SUB_BLOCK_FRAMES]; MAX_CHANNELS],
            gain_scratch: [0.0; SUB_BLOCK_FRAMES],
            input_peak: PeakMeter::new(spec.sample_rate_hz),
            output_peak: PeakMeter::new(spec.sample_rate_hz),
            input_meters: MeterSet::new(spec.sample_rate_hz, spec.channels),
            output_meters: MeterSet::new(spec.sample_rate_hz, spec.channels),
            stereo: StereoMeter::new(spec.sample_rate_hz),
            input_stereo: StereoMeter::new(spec.sample_rate_hz),
            spectrum: SpectrumAnalyzer::new(spec.sample_rate_hz),
            input_hops_published: 0,
            output_hops_published: 0,
            meter_settings: MeterSettings::default(),
            transport_playing: true,
            learn_answer_target_lufs: f32::NAN,
            glue_reduction_peak_db: 0.0,
            limiter_reduction_peak_db: 0.0,
            monitor: Monitor::new(spec.sample_rate_hz, monitor_view.clone()),
            player: ReferencePlayer::new(None),
            offline: false,
            song_position_frames: None,
            monitor_view,
            view: Arc::new(EngineView::default()),
        };
        engine.view.learn_target_lufs.store(DEFAULT_LEARN_TARGET_LUFS, Ordering::Relaxed);
        engine.rebuild();
        engine
    }

    /// Prepares for `spec`: sizes every buffer and derives every coefficient from the sample
    /// rate. May allocate; never call it on the audio thread. Calling it again with the same or
    /// another spec is fine (it is idempotent and keeps the settings). On error the engine keeps
    /// its previous preparation.
    pub fn prepare(&mut self, spec: ProcessSpec) -> Result<(), SpecError> {
        if !spec.sample_rate_hz.is_finite()
            || !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&spec.sample_rate_hz)
        {
            return Err(SpecError::SampleRate(spec.sample_rate_hz));
        }
        if !(1..=MAX_CHANNELS).contains(&spec.channels) {
            return Err(SpecError::Channels(spec.channels));
        }
        self.spec = spec;
        self.rebuild();
        Ok(())
    }

    /// Rebuilds every processor for `self.spec`, settled on `self.settings`.
    fn rebuild(&mut self) {
        let rate = self.spec.sample_rate_hz;
        self.input_trim = SmoothedGain::new(rate, self.settings.input_trim_db);
        self.output_gain = SmoothedGain::new(rate, self.settings.output_gain_db);
        self.chain = Chain::new(rate, &self.settings.stages);
        self.learn_answer_target_lufs = f32::NAN;
        self.view.latency_samples.store(self.chain.latency_samples() as u64, Ordering::Relaxed);
        self.view.restart_pending.store(false, Ordering::Relaxed);
        self.bypass = BypassCrossfade::new(rate, self.settings.bypass);
        self.dry_delay = DelayLine::new(MAX_CHANNELS, self.latency_samples() as usize);
        self.input_peak = PeakMeter::new(rate);
        self.output_peak = PeakMeter::new(rate);
        self.input_meters = MeterSet::new(rate, self.spec.channels);
        self.output_meters = MeterSet::new(rate, self.spec.channels);
        // Re-rated in place so the editor's readers stay connected.
        self.stereo.set_sample_rate_hz(rate);
        self.input_stereo.set_sample_rate_hz(rate);
        self.spectrum.set_sample_rate_hz(rate);
        let monitor_settings = *self.monitor.settings();
        self.monitor = Monitor::new(rate, self.monitor_view.clone());
        self.monitor.set_settings(&monitor_settings);
        self.player.prepare(rate);
        self.view.sample_rate_hz.store(rate as f32, Ordering::Relaxed);
        self.reset();
        self.reset_meters();
    }

    /// Clears all audio state (filters, delays, smoothers jump to their targets) without
    /// allocating. After `reset`, the audio output repeats a fresh engine exactly. Measurements
    /// (integrated loudness, maxima, history) are kept: hosts call reset on seeks and transport
    /// starts, and a mastering engineer's integrated reading must not vanish with them. They are
    /// cleared by [`Engine::reset_meters`] (the editor's reset button, "reset on play",
    /// `prepare`).
    pub fn reset(&mut self) {
        self.sanitizer.reset();
        self.input_trim.settle();
        self.output_gain.settle();
        self.bypass.settle();
        self.chain.reset();
        self.learn_answer_target_lufs = f32::NAN;
        self.dry_delay.reset();
        self.monitor.reset();
        self.player.reset();
        self.publish();
    }

    /// Clears every measurement (loudness, true peak, maxima, history) without touching the audio
    /// path. What the editor's reset button and "reset on play" do.
    pub fn reset_meters(&mut self) {
        self.input_peak.reset();
        self.output_peak.reset();
        self.input_meters.reset();
        self.output_meters.reset();
        self.input_hops_published = 0;
        self.output_hops_published = 0;
        self.view.input_history.clear();
        self.view.output_history.clear();
        self.stereo.reset();
        self.input_stereo.reset();
        self.spectrum.reset();
        self.publish();
    }

    /// The spec the engine is prepared for.
    pub fn spec(&self) -> ProcessSpec {
        self.spec
    }

    /// Total latency of the chain in samples. Constant for a given preparation: bypassed stages
    /// keep their delay, and `process` never changes it.
    pub fn latency_samples(&self) -> u32 {
        u32::try_from(self.chain.latency_samples()).unwrap_or(u32::MAX)
    }

    /// Starts a "learn to target" pass (see [`crate::dsp::target_learner`]). No allocation.
    pub fn start_learning(&mut self) {
        self.chain.start_learning();
        self.learn_answer_target_lufs = f32::NAN;
    }

    /// Ends the learning pass; its answer stays available from [`Engine::learned_drive`].
    pub fn stop_learning(&mut self) {
        self.chain.stop_learning();
        self.learn_answer_target_lufs = f32::NAN;
    }

    /// The limiter drive that puts the *plugin output* at `target_lufs` (the output gain after
    /// the limiter is accounted for), from the audio of the current or last learning pass.
    pub fn learned_drive(&self, target_lufs: f64) -> LearnedDrive {
        self.chain.learned_drive(target_lufs - f64::from(self.settings.output_gain_db))
    }

    /// Whether the current settings' structural part (EQ mode, limiter lookahead or
    /// oversampling) differs from the prepared chain. The change applies at the next
    /// [`Engine::prepare`]; the plugin glue asks the host for a restart.
    pub fn needs_rebuild(&self) -> bool {
        !self.chain.structure_matches(&self.settings.stages)
    }

    /// Shared handle to the published readings.
    pub fn view(&self) -> Arc<EngineView> {
        Arc::clone(&self.view)
    }

    /// Sets the chain settings for the following samples. Cheap; call it every block.
    #[inline]
    pub fn set_settings(&mut self, settings: &ChainSettings) {
        self.settings = *settings;
        self.input_trim.set_target_db(settings.input_trim_db);
        self.output_gain.set_target_db(settings.output_gain_db);
        self.bypass.set_bypassed(settings.bypass);
        self.chain.set_settings(&settings.stages);
        self.view.restart_pending.store(!self.chain.structure_matches(&settings.stages), Ordering::Relaxed);
    }

    /// Readings of the output's stereo meter (correlation, width, balance).
    pub fn stereo_view(&self) -> Arc<StereoView> {
        self.stereo.view()
    }

    /// Readings of the input's stereo meter (correlation, width, balance).
    pub fn input_stereo_view(&self) -> Arc<StereoView> {
        self.input_stereo.view()
    }

    /// The reader of the output spectrum (`Some` once: it belongs to the editor).
    pub fn take_spectrum_view(&mut self) -> Option<SpectrumView> {
        self.spectrum.take_view()
    }

    /// The reader of the output vectorscope points (`Some` once: it belongs to the editor).
    pub fn take_vectorscope(&mut self) -> Option<VectorscopeReader> {
        self.stereo.take_vectorscope()
    }

    /// Turns the analysis only a screen needs (spectrum, vectorscope) on while the editor is open
    /// and off when it closes. Cheap; call it every block.
    #[inline]
    pub fn set_analysis_enabled(&mut self, enabled: bool) {
        self.spectrum.set_enabled(enabled);
        self.stereo.set_vectorscope_enabled(enabled);
    }

    /// Sets how the meters follow the transport. Cheap; call it every block.
    #[inline]
    pub fn set_meter_settings(&mut self, settings: &MeterSettings) {
        self.meter_settings = *settings;
    }

    /// Tells the engine whether the host transport is playing (hosts without a transport, and the
    /// offline tools, never call it: the meters then always run). Call it before `process`.
    #[inline]
    pub fn set_transport_playing(&mut self, playing: bool) {
        if playing && !self.transport_playing && self.meter_settings.reset_on_play {
            self.reset_meters();
        }
        self.transport_playing = playing;
    }

    /// Whether the loudness and true-peak meters take in audio right now.
    #[inline]
    fn meters_running(&self) -> bool {
        (self.transport_playing || !self.meter_settings.pause_when_stopped)
            && !self.view.meters_hold.load(Ordering::Relaxed)
    }

    /// Connects the reference slots' player to its bank's loader (host main thread).
    pub fn set_reference_link(&mut self, link: PlayerLink) {
        self.player = ReferencePlayer::new(Some(link));
        self.player.prepare(self.spec.sample_rate_hz);
    }

    /// Sets the monitor section's settings (cheap; applied with a crossfade).
    pub fn set_monitor_settings(&mut self, settings: &MonitorSettings) {
        self.monitor.set_settings(settings);
    }

    /// What the monitor section publishes (level-match offsets, "output differs", …).
    pub fn monitor_view(&self) -> Arc<MonitorView> {
        self.monitor_view.clone()
    }

    /// Offline rendering (the host bounces): the monitor section is off and the output is exactly
    /// the chain output, whatever the monitor settings.
    pub fn set_offline(&mut self, offline: bool) {
        self.offline = offline;
    }

    /// The host's song position of the next block's first frame, in frames (`None` when the host
    /// gives none or the transport is stopped). References in sync mode play from it.
    pub fn set_song_position_frames(&mut self, position: Option<i64>) {
        self.song_position_frames = position;
    }

    /// Processes `channels` in place. All channels are treated as the length of the shortest one;
    /// channels beyond [`MAX_CHANNELS`] (or beyond the prepared count) are left untouched.
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        let _denormals = DenormalGuard::new();
        if self.view.reset_meters_requested.swap(false, Ordering::Relaxed) {
            self.reset_meters();
        }
        match self.view.learn_command.swap(LEARN_IDLE, Ordering::Relaxed) {
            LEARN_START => self.start_learning(),
            LEARN_STOP => self.stop_learning(),
            _ => {}
        }
        self.view.meters_paused.store(!self.meters_running(), Ordering::Relaxed);
        let display = SpectrumDisplay::unpack(self.view.spectrum_display.load(Ordering::Relaxed));
        self.spectrum.set_mode(display.mode);
        self.spectrum.set_averaging(display.averaging);
        self.spectrum.set_smoothing(display.smoothing);
        self.spectrum.set_tilt_db_per_octave(self.view.spectrum_tilt_db_per_octave.load(Ordering::Relaxed));
        let channel_count = channels.len().min(self.spec.channels);
        let frames = channels.iter().take(channel_count).map(|c| c.len()).min().unwrap_or(0);
        self.player.receive();
        self.monitor_view.offline.store(self.offline, Ordering::Relaxed);
        let mut start = 0;
        while start < frames {
            let end = (start + SUB_BLOCK_FRAMES).min(frames);
            let mut sub_block: [&mut [f32]; MAX_CHANNELS] = Default::default();
            for (slot, channel) in sub_block.iter_mut().zip(channels.iter_mut().take(channel_count)) {
                *slot = &mut channel[start..end];
            }
            self.process_sub_block(&mut sub_block[..channel_count], start);
            start = end;
        }
        self.view.processed_frames.fetch_add(frames as u64, Ordering::Relaxed);
        self.publish();
    }

    /// One sub-block of at most [`SUB_BLOCK_FRAMES`] frames.
    #[inline]
    fn process_sub_block(&mut self, channels: &mut [&mut [f32]], offset_frames: usize) {
        let frames = channels.first().map_or(0, |c| c.len());
        let mut replaced = 0;
        for channel in channels.iter_mut() {
            replaced += self.sanitizer.process(channel);
        }
        if replaced > 0 {
            self.view.bad_input_samples.fetch_add(replaced, Ordering::Relaxed);
        }
        self.input_peak.process(&shared(channels)[..channels.len()]);
        let meters_running = self.meters_running();
        if meters_running {
            self.input_meters.process(&shared(channels)[..channels.len()]);
            push_history(&self.input_meters, &mut self.input_hops_published, &self.view.input_history);
            match &*channels {
                [left, right, ..] => self.input_stereo.process(left, right),
                [mono] => self.input_stereo.process(mono, mono),
                [] => {}
            }
        }

        // Dry path: the sanitized input, delayed by the chain latency.
        let channel_count = channels.len();
        for (dry, channel) in self.dry.iter_mut().zip(channels.iter()) {
            dry[..frames].copy_from_slice(channel);
        }
        {
            let [dry_left, dry_right] = &mut self.dry;
            let mut dry: [&mut [f32]; MAX_CHANNELS] = [&mut dry_left[..frames], &mut dry_right[..frames]];
            self.dry_delay.process(&mut dry[..channel_count]);
        }

        // The chain: trim → DC blocker … dither → output gain.
        self.input_trim.process(channels, &mut self.gain_scratch);
        match channels {
            [left, right, ..] => self.chain.process(left, right),
            [mono] => {
                let scratch = &mut self.mono_scratch[..mono.len()];
                scratch.copy_from_slice(mono);
                self.chain.process(mono, scratch);
            }
            [] => {}
        }
        self.output_gain.process(channels, &mut self.gain_scratch);
        let reduction = self.chain.gain_reduction();
        self.glue_reduction_peak_db = self.glue_reduction_peak_db.max(reduction.glue_db);
        self.limiter_reduction_peak_db = self.limiter_reduction_peak_db.max(reduction.limiter_db);

        let [dry_left, dry_right] = &self.dry;
        let dry: [&[f32]; MAX_CHANNELS] = [&dry_left[..frames], &dry_right[..frames]];
        self.bypass.process(channels, &dry[..channel_count]);
        self.output_peak.process(&shared(channels)[..channels.len()]);
        if meters_running {
            self.output_meters.process(&shared(channels)[..channels.len()]);
            push_history(&self.output_meters, &mut self.output_hops_published, &self.view.output_history);
        }
        let (left, right) = match channels {
            [left, right, ..] => (&**left, &**right),
            [mono] => (&**mono, &**mono),
            [] => return,
        };
        self.stereo.process(left, right);
        self.spectrum.process(left, right);

        // What is heard: never in an offline render.
        if self.offline {
            self.monitor_view.output_differs.store(false, Ordering::Relaxed);
            return;
        }
        let readings = self.monitor_readings();
        let latency = i64::from(self.latency_samples());
        let song_position = self.song_position_frames.map(|start| start + offset_frames as i64 - latency);
        let [dry_left, dry_right] = &self.dry;
        let dry: [&[f32]; MAX_CHANNELS] = [&dry_left[..frames], &dry_right[..frames]];
        self.monitor.process(channels, &dry[..channel_count], &mut self.player, &readings, song_position);
        // What reached the speakers, for the listening clock.
        let squares: f64 = channels.iter().flat_map(|c| c.iter()).map(|&x| f64::from(x) * f64::from(x)).sum();
        let mean_square = squares / (frames * channel_count.max(1)).max(1) as f64;
        self.view.listening.record(mean_square, frames as f64 / self.spec.sample_rate_hz);
    }

    /// The loudness of the chain input and output for the monitor's level match and preview.
    fn monitor_readings(&self) -> MonitorReadings {
        let reading = |meters: &MeterSet| {
            let finite = |value: Option<f64>| value.filter(|v| v.is_finite()).map(|v| v as f32);
            let peak = meters.true_peak.max_true_peak_dbtp();
            SourceReading {
                short_term_lufs: finite(meters.loudness.short_term_lufs()),
                integrated_lufs: finite(meters.loudness.integrated_lufs()),
                true_peak_dbtp: peak.is_finite().then_some(peak as f32),
            }
        };
        MonitorReadings { processed: reading(&self.output_meters), unprocessed: reading(&self.input_meters) }
    }

    /// Publishes meter readings (relaxed atomic stores only).
    fn publish(&mut self) {
        self.input_peak.publish(&self.view.input_peak, self.spec.channels);
        self.output_peak.publish(&self.view.output_peak, self.spec.channels);
        self.view.input_meters.publish(&self.input_meters);
        self.view.output_meters.publish(&self.output_meters);
        let reduction = self.chain.gain_reduction();
        self.view.glue_gain_reduction_db.store(reduction.glue_db, Ordering::Relaxed);
        for (cell, &value) in self.view.multiband_gain_reduction_db.iter().zip(&reduction.multiband_db) {
            cell.store(value, Ordering::Relaxed);
        }
        self.view.limiter_gain_reduction_db.store(reduction.limiter_db, Ordering::Relaxed);
        self.view.glue_gain_reduction_peak_db.fetch_max(self.glue_reduction_peak_db, Ordering::Relaxed);
        self.view.limiter_gain_reduction_peak_db.fetch_max(self.limiter_reduction_peak_db, Ordering::Relaxed);
        self.glue_reduction_peak_db = 0.0;
        self.limiter_reduction_peak_db = 0.0;
        let learning = self.chain.is_learning();
        self.view.learning.store(learning, Ordering::Relaxed);
        let target = self.view.learn_target_lufs.load(Ordering::Relaxed);
        // While a pass runs the answer moves with the audio; otherwise only with the target at the
        // limiter output.
        let limiter_target = target - self.settings.output_gain_db;
        if !learning && limiter_target.to_bits() == self.learn_answer_target_lufs.to_bits() {
            return;
        }
        self.learn_answer_target_lufs = if learning { f32::NAN } else { limiter_target };
        let (drive, note) = match self.learned_drive(f64::from(target)) {
            LearnedDrive::Drive(drive) => (drive, f32::NAN),
            LearnedDrive::TooLoud(excess) => (f32::NAN, excess),
            LearnedDrive::OutOfReach(reached) => (f32::NAN, reached - target),
            LearnedDrive::NotEnoughAudio => (f32::NAN, f32::NAN),
        };
        self.view.learned_drive_db.store(drive, Ordering::Relaxed);
        self.view.learn_note_db.store(note, Ordering::Relaxed);
    }
}

/// Pushes the meter's latest 100 ms hop to `history` if it has not been pushed yet. Called after
/// every sub-block (≤ 64 frames, always shorter than a hop), so no hop is missed and the history is
/// independent of the host's block sizes.
#[inline]
fn push_history(meters: &MeterSet, hops_published: &mut u64, history: &LoudnessHistory) {
    let hops = meters.loudness.hops_done();
    if hops != *hops_published {
        *hops_published = hops;
        history.push(meters.loudness.hop_momentary_lufs(), meters.loudness.hop_short_term_lufs());
    }
}

/// Reborrows mutable channel slices as shared ones (at most [`MAX_CHANNELS`]).
#[inline]
fn shared<'a>(channels: &'a [&'a mut [f32]]) -> [&'a [f32]; MAX_CHANNELS] {
    let mut out: [&[f32]; MAX_CHANNELS] = [&[]; MAX_CHANNELS];
    for (slot, channel) in out.iter_mut().zip(channels.iter()) {
        *slot = channel;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::compressor::CompressorSettings;

    /// A deterministic test signal: two sines and a little noise, about −12 dBFS.
    fn signal(frames: usize, channels: usize, sample_rate_hz: f64) -> Vec<Vec<f32>> {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        (0..channels)
            .map(|channel| {
                (0..frames)
                    .map(|n| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        let noise = (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                        let t = n as f64 / sample_rate_hz;
                        let tone = 0.2 * (2.0 * std::f64::consts::PI * 997.0 * t + channel as f64).sin()
                            + 0.05 * (2.0 * std::f64::consts::PI * 61.0 * t).sin();
                        tone as f32 + 0.02 * noise
                    })
                    .collect()
            })
            .collect()
    }

    fn render(
        engine: &mut Engine,
        input: &[Vec<f32>],
        block_sizes: &mut dyn FnMut() -> usize,
    ) -> Vec<Vec<f32>> {
        let mut output = input.to_vec();
        let frames = input[0].len();
        let mut start = 0;
        while start < frames {
            let end = (start + block_sizes()).min(frames);
            let mut block: Vec<&mut [f32]> = output.iter_mut().map(|c| &mut c[start..end]).collect();
            engine.process(&mut block);
            start = end;
        }
        output
    }

    fn prepared(settings: ChainSettings) -> Engine {
        let mut engine = Engine::new();
        engine
            .prepare(ProcessSpec { sample_rate_hz: 48_000.0, max_block_frames: 8192, channels: 2 })
            .unwrap();
        engine.set_settings(&settings);
        engine.reset();
        engine
    }

    /// Trim and output gain away from 0 dB; every stage at its default.
    fn gainy() -> ChainSettings {
        ChainSettings { input_trim_db: 3.5, output_gain_db: -7.25, ..ChainSettings::default() }
    }

    /// `output` equals `input` delayed by `latency` samples, bit for bit.
    fn assert_delayed_copy(output: &[Vec<f32>], input: &[Vec<f32>], latency: usize) {
        for (out, inp) in output.iter().zip(input) {
            assert!(out[..latency].iter().all(|&x| x == 0.0), "silence during the latency");
            assert_eq!(&out[latency..], &inp[..inp.len() - latency]);
        }
    }

    #[test]
    fn output_is_identical_for_every_block_partition() {
        let input = signal(20_000, 2, 48_000.0);
        let reference = render(&mut prepared(gainy()), &input, &mut || 20_000);
        let mut seed = 7u32;
        let mut random = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            1 + (seed >> 20) as usize % 3000
        };
        for sizes in [1usize, 7, 17, 64, 65, 512, 4096] {
            assert_eq!(render(&mut prepared(gainy()), &input, &mut || sizes), reference, "block {sizes}");
        }
        assert_eq!(render(&mut prepared(gainy()), &input, &mut random), reference, "random blocks");
    }

    #[test]
    fn reset_makes_a_run_repeat_a_fresh_engine() {
        let input = signal(10_000, 2, 48_000.0);
        let mut engine = prepared(gainy());
        let first = render(&mut engine, &input, &mut || 333);
        engine.set_settings(&ChainSettings { bypass: true, ..gainy() });
        render(&mut engine, &input, &mut || 100);
        engine.set_settings(&gainy());
        engine.reset();
        assert_eq!(render(&mut engine, &input, &mut || 333), first);
    }

    #[test]
    fn neutral_chain_and_bypass_are_bit_exact_identities_after_the_latency() {
        let input = signal(5_000, 2, 48_000.0);
        let latency = prepared(ChainSettings::default()).latency_samples() as usize;
        assert!(latency > 0, "the limiter's lookahead");
        // Every stage switched on but neutral (glue at 1:1, multiband at 1:1 and 0 dB, imager
        // at 100 %, flat EQ, limiter far above the signal, dither off), every stage bypassed,
        // and the global bypass.
        let mut neutral = ChainSettings::default();
        neutral.stages.glue = CompressorSettings { ratio: 1.0, bypass: false, ..neutral.stages.glue };
        neutral.stages.multiband.bypass = false;
        let mut all_bypassed = ChainSettings::default();
        let stages = &mut all_bypassed.stages;
        stages.eq.bypass = true;
        stages.imager.bypass = true;
        stages.limiter.bypass = true;
        stages.dither.bypass = true;
        stages.eq.bands[2].gain_db = 6.0;
        stages.limiter.drive_db = 12.0;
        for settings in
            [ChainSettings::default(), neutral, all_bypassed, ChainSettings { bypass: true, ..gainy() }]
        {
            let mut engine = prepared(settings);
            assert_eq!(engine.latency_samples() as usize, latency, "bypassed stages keep their delay");
            let output = render(&mut engine, &input, &mut || 256);
            assert_delayed_copy(&output, &input, latency);
        }
    }

    #[test]
    fn gains_are_applied_exactly_at_rest() {
        let input = signal(4_800, 2, 48_000.0);
        let mut engine = prepared(gainy());
        let latency = engine.latency_samples() as usize;
        let output = render(&mut engine, &input, &mut || 64);
        let gain = crate::dsp::gain::db_to_gain(3.5) * crate::dsp::gain::db_to_gain(-7.25);
        for (out, inp) in output[0][latency..].iter().zip(input[0].iter()) {
            assert!((out - inp * gain).abs() <= 1e-6 * inp.abs().max(1e-3));
        }
    }

    #[test]
    fn impulse_comes_out_at_the_reported_latency_at_every_rate() {
        for rate in [8_000.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0, 384_000.0, 768_000.0, 12_345.678] {
            let mut engine = Engine::new();
            engine.prepare(ProcessSpec { sample_rate_hz: rate, max_block_frames: 512, channels: 2 }).unwrap();
            let mut input = vec![vec![0.0f32; 4096]; 2];
            input[0][100] = 1.0;
            input[1][100] = 1.0;
            let output = render(&mut engine, &input, &mut || 512);
            let peak = output[0].iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap().0;
            assert_eq!(peak, 100 + engine.latency_samples() as usize, "rate {rate}");
        }
    }

    #[test]
    fn garbage_input_is_silenced_counted_and_never_reaches_the_output() {
        let mut engine = prepared(gainy());
        let view = engine.view();
        let mut input = signal(1_000, 2, 48_000.0);
        input[0][10] = f32::NAN;
        input[0][11] = f32::INFINITY;
        input[1][12] = f32::NEG_INFINITY;
        input[1][500] = 1.0e30;
        let output = render(&mut engine, &input, &mut || 128);
        assert!(output.iter().flatten().all(|x| x.is_finite() && x.abs() < 2.0));
        assert_eq!(view.bad_input_samples.load(Ordering::Relaxed), 4);
        assert!(view.output_peak.peak_dbfs(0).is_finite());
        // A reset keeps the running count, so the editor can still tell that bad input arrived.
        engine.reset();
        assert_eq!(view.bad_input_samples.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn silence_after_loud_audio_leaves_no_subnormals() {
        let mut engine = prepared(gainy());
        let loud = signal(4_800, 2, 48_000.0);
        render(&mut engine, &loud, &mut || 480);
        let tiny = vec![vec![f32::MIN_POSITIVE / 8.0; 4_800]; 2];
        let output = render(&mut engine, &tiny, &mut || 480);
        assert!(output.iter().flatten().all(|x| !x.is_subnormal()));
    }

    #[test]
    fn mono_and_odd_inputs_are_safe() {
        let mut engine = Engine::new();
        engine.prepare(ProcessSpec { sample_rate_hz: 44_100.0, max_block_frames: 64, channels: 1 }).unwrap();
        let input = signal(1_000, 1, 44_100.0);
        let output = render(&mut engine, &input, &mut || 100);
        assert_delayed_copy(&output, &input, engine.latency_samples() as usize);
        // Zero frames, no channels, and more channels than prepared.
        engine.process(&mut []);
        engine.process(&mut [&mut [][..]]);
        let mut a = [0.5f32; 10];
        let mut b = [0.25f32; 10];
        engine.process(&mut [&mut a[..], &mut b[..]]);
        assert_eq!(b, [0.25f32; 10], "channels beyond the prepared count are untouched");
    }

    #[test]
    fn output_meters_see_the_chain_gain_and_input_meters_do_not() {
        let mut engine = prepared(ChainSettings { output_gain_db: -6.0, ..ChainSettings::default() });
        let view = engine.view();
        let input = signal(48_000 * 4, 2, 48_000.0);
        render(&mut engine, &input, &mut || 512);
        let input_i = view.input_meters.integrated_lufs().unwrap();
        let output_i = view.output_meters.integrated_lufs().unwrap();
        assert!((input_i - output_i - 6.0).abs() < 0.01, "in {input_i} out {output_i}");
        let tp_difference = view.input_meters.max_true_peak_dbtp().unwrap()
            - view.output_meters.max_true_peak_dbtp().unwrap();
        assert!((tp_difference - 6.0).abs() < 0.01);
        engine.reset();
        assert!(view.output_meters.integrated_lufs().is_some(), "a host reset keeps the measurements");
        engine.reset_meters();
        assert_eq!(view.output_meters.integrated_lufs(), None, "reset_meters clears them");
    }

    #[test]
    fn history_runs_at_10_hz_independent_of_block_sizes() {
        let input = signal(48_000 * 5, 2, 48_000.0);
        let histories: Vec<Vec<crate::meters::history::HistoryPoint>> = [1usize, 64, 333, 8192]
            .iter()
            .map(|&block| {
                let mut engine = prepared(gainy());
                let view = engine.view();
                render(&mut engine, &input, &mut || block);
                let mut points = Vec::new();
                view.output_history.recent(usize::MAX, &mut points);
                points
            })
            .collect();
        assert_eq!(histories[0].len(), 50, "5 s at 10 Hz");
        assert!(histories[0][..3].iter().all(|p| p.momentary_lufs.is_none()), "no M before 400 ms");
        assert!(histories[0][3].momentary_lufs.is_some());
        assert!(histories[0][28].short_term_lufs.is_none() && histories[0][29].short_term_lufs.is_some());
        assert!(histories.iter().all(|h| h == &histories[0]));
    }

    #[test]
    fn reset_command_pause_and_reset_on_play_follow_the_transport() {
        let input = signal(48_000 * 2, 2, 48_000.0);
        let mut engine = prepared(gainy());
        let view = engine.view();
        render(&mut engine, &input, &mut || 512);
        assert!(view.output_meters.momentary_lufs().is_some());

        // The editor's reset button.
        view.reset_meters_requested.store(true, Ordering::Relaxed);
        engine.process(&mut [&mut [0.0f32; 16][..], &mut [0.0f32; 16][..]]);
        assert!(!view.reset_meters_requested.load(Ordering::Relaxed));
        assert_eq!(view.output_meters.momentary_lufs(), None);
        assert!(view.output_history.is_empty());

        // Paused while stopped: the meters hold, the audio still flows.
        engine.set_meter_settings(&MeterSettings { reset_on_play: true, pause_when_stopped: true });
        engine.set_transport_playing(false);
        let output = render(&mut engine, &input, &mut || 512);
        assert!(view.meters_paused.load(Ordering::Relaxed));
        assert_eq!(view.output_meters.momentary_lufs(), None);
        assert!(output[0].iter().any(|&x| x != 0.0));

        // Play: reset, then measure again.
        engine.set_transport_playing(true);
        render(&mut engine, &input, &mut || 512);
        assert!(!view.meters_paused.load(Ordering::Relaxed));
        let first = view.output_meters.integrated_lufs();
        assert!(first.is_some());
        engine.set_transport_playing(true);
        render(&mut engine, &input, &mut || 512);
        assert_eq!(view.output_history.len(), 40, "no reset while playing on");
        engine.set_transport_playing(false);
        engine.set_transport_playing(true);
        assert!(view.output_history.is_empty(), "stop → play resets");
    }

    #[test]
    fn stereo_meter_always_runs_and_the_spectrum_only_when_enabled() {
        let mut engine = prepared(gainy());
        let stereo = engine.stereo_view();
        let mut spectrum = engine.take_spectrum_view().expect("first take");
        assert!(engine.take_spectrum_view().is_none(), "handed out once");
        let mono_in_stereo: Vec<Vec<f32>> = {
            let channel = signal(48_000, 1, 48_000.0).remove(0);
            vec![channel.clone(), channel]
        };
        render(&mut engine, &mono_in_stereo, &mut || 512);
        let correlation = stereo
            .correlation(
                crate::meters::stereo::CorrelationBand::Full,
                crate::meters::stereo::Integration::Fast,
            )
            .unwrap();
        assert!((correlation - 1.0).abs() < 1e-4, "{correlation}");
        assert_eq!(spectrum.latest().sequence, 0, "nothing published while the editor is closed");

        engine.set_analysis_enabled(true);
        render(&mut engine, &mono_in_stereo, &mut || 512);
        let frame = spectrum.latest();
        assert!(frame.sequence > 0);
        // The 997 Hz component of the test signal stands out of the spectrum.
        let band = (0..crate::meters::spectrum::DISPLAY_BANDS)
            .max_by(|&a, &b| frame.levels_db[0][a].total_cmp(&frame.levels_db[0][b]))
            .unwrap();
        let peak_hz = crate::meters::spectrum::display_band_frequency_hz(band);
        assert!((900.0..1100.0).contains(&peak_hz), "{peak_hz}");

        // A new rate keeps the readers connected.
        engine.prepare(ProcessSpec { sample_rate_hz: 96_000.0, max_block_frames: 512, channels: 2 }).unwrap();
        engine.set_analysis_enabled(true);
        render(&mut engine, &mono_in_stereo, &mut || 512);
        assert_eq!(spectrum.latest().sample_rate_hz, 96_000.0);
    }

    #[test]
    fn the_editors_view_gets_reduction_peaks_the_pause_and_its_spectrum_choice() {
        // A loud 100 Hz tone into the limiter (6 dB of drive): the reduction peak the editor
        // takes is the largest since its last take, then starts again from 0.
        let mut settings = ChainSettings::default();
        settings.stages.limiter.drive_db = 6.0;
        let mut engine = prepared(settings);
        let view = engine.view();
        let tone: Vec<Vec<f32>> = (0..2)
            .map(|_| {
                (0..48_000)
                    .map(|i| (0.9 * (std::f64::consts::TAU * 100.0 * i as f64 / 48_000.0).sin()) as f32)
                    .collect()
            })
            .collect();
        render(&mut engine, &tone, &mut || 512);
        let peak = view.limiter_gain_reduction_peak_db.swap(0.0, Ordering::Relaxed);
        let current = view.limiter_gain_reduction_db.load(Ordering::Relaxed);
        assert!(peak > 5.0 && peak >= current, "peak {peak}, current {current}");
        let quiet: Vec<Vec<f32>> = vec![vec![0.0; 48_000]; 2];
        render(&mut engine, &quiet, &mut || 512);
        // This take still holds the release tail; the next one, after a second of silence, is 0.
        assert!(view.limiter_gain_reduction_peak_db.swap(0.0, Ordering::Relaxed) > 0.0);
        render(&mut engine, &quiet, &mut || 512);
        let take = view.limiter_gain_reduction_peak_db.load(Ordering::Relaxed);
        assert!(take < 0.01, "a new take starts from 0: {take}");

        // Pause: the integrated loudness holds while the button is down.
        render(&mut engine, &tone, &mut || 512);
        let integrated = view.output_meters.integrated_lufs();
        view.meters_hold.store(true, Ordering::Relaxed);
        render(&mut engine, &quiet, &mut || 512);
        render(&mut engine, &tone, &mut || 512);
        assert_eq!(view.output_meters.integrated_lufs(), integrated);
        assert!(view.meters_paused.load(Ordering::Relaxed));
        view.meters_hold.store(false, Ordering::Relaxed);
        render(&mut engine, &quiet, &mut || 512);
        assert!(!view.meters_paused.load(Ordering::Relaxed));

        // The spectrum display the editor asks for is what the analyser publishes.
        let mut spectrum = engine.take_spectrum_view().unwrap();
        engine.set_analysis_enabled(true);
        let display = SpectrumDisplay {
            mode: ChannelMode::MidSide,
            averaging: Averaging::Slow,
            smoothing: Smoothing::Third,
        };
        view.spectrum_display.store(display.pack(), Ordering::Relaxed);
        view.spectrum_tilt_db_per_octave.store(4.5, Ordering::Relaxed);
        render(&mut engine, &tone, &mut || 512);
        let frame = spectrum.latest();
        assert_eq!(
            (frame.mode, frame.averaging, frame.smoothing),
            (display.mode, display.averaging, display.smoothing)
        );
        assert_eq!(frame.tilt_db_per_octave, 4.5);
        assert_eq!(SpectrumDisplay::unpack(display.pack()), display);
        assert_eq!(SpectrumDisplay::unpack(0), SpectrumDisplay::default());
        assert_eq!(
            SpectrumDisplay::unpack(u32::MAX),
            SpectrumDisplay { mode: ChannelMode::LeftRight, ..SpectrumDisplay::default() }
        );
    }

    #[test]
    fn structural_changes_wait_for_prepare_and_change_the_latency_there() {
        let mut engine = prepared(ChainSettings::default());
        let before = engine.latency_samples();
        let mut settings = ChainSettings::default();
        settings.stages.limiter.lookahead_ms = 5.0;
        engine.set_settings(&settings);
        assert!(engine.needs_rebuild());
        assert!(engine.view().restart_pending.load(Ordering::Relaxed));
        assert_eq!(engine.latency_samples(), before, "never changed from process");
        engine.prepare(engine.spec()).unwrap();
        assert!(!engine.needs_rebuild());
        assert_eq!(engine.latency_samples(), before + (3.5 * 48.0) as u32);
    }

    #[test]
    fn learn_to_target_lands_within_0_3_lu_in_one_pass() {
        use crate::dsp::target_learner::LearnedDrive;
        let rate = 48_000.0;
        // 40 s of music-like material around −20 LUFS.
        let mut demo = crate::demo_signal::DemoSignal::new(rate);
        let mut input = vec![vec![0.0f32; (40.0 * rate) as usize]; 2];
        {
            let [left, right] = &mut input[..] else { unreachable!() };
            demo.render(&mut [&mut left[..], &mut right[..]]);
        }
        for target in [-14.0, -10.0] {
            let mut engine = prepared(ChainSettings { output_gain_db: -0.5, ..ChainSettings::default() });
            engine.start_learning();
            render(&mut engine, &input, &mut || 512);
            engine.stop_learning();
            // Far beyond the largest drive: reported with the loudness the largest drive reaches.
            match engine.learned_drive(-3.0) {
                LearnedDrive::OutOfReach(reach) => assert!(reach < -3.0 && reach > target as f32, "{reach}"),
                other => panic!("−3 LUFS should be out of reach: {other:?}"),
            }
            let LearnedDrive::Drive(drive_db) = engine.learned_drive(target) else {
                panic!("no drive for {target}: {:?}", engine.learned_drive(target));
            };
            // The editor reads the same answer from the view once a block has been published,
            // also after the target changes between passes.
            let view = engine.view();
            let silence = vec![vec![0.0f32; 512]; 2];
            for probe in [target, target - 1.0, target] {
                view.learn_target_lufs.store(probe as f32, Ordering::Relaxed);
                render(&mut engine, &silence, &mut || 512);
                let expected = match engine.learned_drive(probe) {
                    LearnedDrive::Drive(drive) => drive,
                    other => panic!("{probe}: {other:?}"),
                };
                assert_eq!(
                    view.learned_drive_db.load(Ordering::Relaxed),
                    expected,
                    "view answer for {probe}"
                );
            }
            let mut settings = ChainSettings { output_gain_db: -0.5, ..ChainSettings::default() };
            settings.stages.limiter.drive_db = drive_db;
            let mut check = prepared(settings);
            let view = check.view();
            render(&mut check, &input, &mut || 512);
            let reached = f64::from(view.output_meters.integrated_lufs().unwrap());
            let peak = view.output_meters.max_true_peak_dbtp().unwrap();
            println!("learn {target} LUFS: drive {drive_db:.2} dB → {reached:.3} LUFS, TP {peak:.2} dBTP");
            assert!((reached - target).abs() <= 0.3, "target {target}: reached {reached}");
            assert!(peak <= -1.0 - 0.5 + 0.1, "ceiling (−1 dBTP) minus the output gain holds: {peak}");
        }
    }

    #[test]
    fn absurd_specs_are_refused_and_the_engine_keeps_working() {
        let mut engine = Engine::new();
        for rate in [0.0, -48_000.0, f64::NAN, f64::INFINITY, 10.0, 1.0e9] {
            assert!(matches!(
                engine.prepare(ProcessSpec { sample_rate_hz: rate, max_block_frames: 64, channels: 2 }),
                Err(SpecError::SampleRate(_))
            ));
        }
        assert_eq!(
            engine.prepare(ProcessSpec { sample_rate_hz: 48_000.0, max_block_frames: 64, channels: 6 }),
            Err(SpecError::Channels(6))
        );
        assert_eq!(engine.spec(), ProcessSpec::default());
        let input = signal(1000, 2, 48_000.0);
        let output = render(&mut engine, &input, &mut || 100);
        assert_delayed_copy(&output, &input, engine.latency_samples() as usize);
    }
}
