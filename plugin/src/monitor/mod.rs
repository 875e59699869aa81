//! The monitor section: what the engineer hears, after the chain output has been measured.
//!
//! ```text
//! source (processed | unprocessed | reference N) → level match + slot trim → platform preview
//!        (gain, Spotify-loud limiter) → translation preview (playback-system model and/or
//!        low-listening-level correction) → band solo → polarity → listen mode → dim → crossfade
//! ```
//!
//! - **Translation preview** ([`translation`]): earbuds, phone speaker, laptop, car, TV or
//!   club/PA as documented filter models with their mono fold-down, and a low-listening-level
//!   mode (ISO 226:2023 equal-loudness correction) to judge tonal balance at consumer volume.
//!
//! - **Level match**: unprocessed and references are matched to the processed mix, from live
//!   loudness (short-term or integrated; a reference's from its analysis at its play position).
//!   Without a reading (silence, not enough audio yet) the last offset holds.
//! - **Platform preview**: each source is played the way the chosen platform would normalise it
//!   ([`platform::playback_gain`]): from that source's own integrated loudness and true peak.
//! - Any change of what is heard (source, platform, listen tools) crossfades over
//!   [`CROSSFADE_MS`] with a cos² fade (the two gains sum to 1, so correlated sources keep their
//!   level). Gains glide.
//! - **Bounce safety**: the engine does not run this section in offline rendering, and when it is
//!   transparent (processed, no preview, no listen tool, no fade) it does not touch the samples,
//!   so the output is bit for bit the chain output. [`MonitorView::output_differs`] tells the
//!   editor whenever that is not so.
//!
//! Audio thread only: no allocation (everything is sized in [`Monitor::new`]).

pub mod platform;
pub mod platform_limiter;
pub mod translation;

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use atomic_float::AtomicF32;

use crate::dsp::crossover::ThreeBandSplit;
use crate::dsp::kernel::Separate;
use crate::reference::{PlayPosition, ReferencePlayer, REFERENCE_SLOTS};
use platform::{playback_gain, Platform, TurnUp};
use platform_limiter::{PlatformLimiter, PlatformLimiterSettings};
use translation::{LowLevel, Translation, TranslationFilter};

/// Length of the crossfade between monitor configurations.
pub const CROSSFADE_MS: f64 = 30.0;

/// Attenuation of "dim".
pub const DIM_DB: f32 = -20.0;

/// Time constant of the gain glide (level match and platform gains).
pub const GAIN_GLIDE_MS: f64 = 150.0;

/// Largest level-match offset, dB.
pub const MAX_MATCH_DB: f32 = 30.0;

/// Frames per internal pass (the engine's sub-blocks are at most this long).
pub const MONITOR_BLOCK_FRAMES: usize = 64;

/// Number of sources: processed, unprocessed and the reference slots.
pub const SOURCES: usize = 2 + REFERENCE_SLOTS;

/// What is heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MonitorSource {
    /// The chain output.
    #[default]
    Processed,
    /// The chain input, delayed by the chain latency.
    Unprocessed,
    /// Reference slot `n` (0-based).
    Reference(usize),
}

impl MonitorSource {
    /// Index into per-source tables: 0 processed, 1 unprocessed, 2 + n reference n.
    pub fn index(self) -> usize {
        match self {
            Self::Processed => 0,
            Self::Unprocessed => 1,
            Self::Reference(slot) => 2 + slot.min(REFERENCE_SLOTS - 1),
        }
    }

    /// The source at a per-source table index (out of range: processed).
    pub fn from_index(index: usize) -> Self {
        match index {
            1 => Self::Unprocessed,
            n if (2..SOURCES).contains(&n) => Self::Reference(n - 2),
            _ => Self::Processed,
        }
    }
}

/// How sources are matched to the processed mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LevelMatch {
    /// Not matched: every source at its own level.
    Off,
    /// By integrated loudness (the whole programme so far; a reference's whole file).
    Integrated,
    /// By short-term loudness (3 s), following the music.
    #[default]
    ShortTerm,
}

/// Listen tools: which part of the stereo signal reaches both speakers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListenMode {
    /// Left and right as they are.
    #[default]
    Stereo,
    /// (L + R) / 2 on both speakers (a mono fold-down).
    Mono,
    /// The left channel on both speakers.
    Left,
    /// The right channel on both speakers.
    Right,
    /// Mid (L + R) / 2 solo, on both speakers.
    Mid,
    /// Side (L − R) / 2 solo, on both speakers.
    Side,
}

/// Polarity flip of the monitored signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Polarity {
    /// Unchanged.
    #[default]
    Normal,
    /// Left channel inverted.
    InvertLeft,
    /// Right channel inverted.
    InvertRight,
    /// Both channels inverted.
    InvertBoth,
}

/// Band solo on the multiband crossovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BandSolo {
    /// The whole signal.
    #[default]
    Off,
    /// Below the low crossover.
    Low,
    /// Between the crossovers.
    Mid,
    /// Above the high crossover.
    High,
}

/// Plain monitor settings (rendered from the parameters once per block).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonitorSettings {
    /// What is heard.
    pub source: MonitorSource,
    /// How sources are matched to the processed mix.
    pub level_match: LevelMatch,
    /// Platform preview: index into [`platform::platforms`] (`None`: off).
    pub platform: Option<usize>,
    /// Listen mode.
    pub listen: ListenMode,
    /// Polarity flip.
    pub polarity: Polarity,
    /// Band solo.
    pub band_solo: BandSolo,
    /// Dim by [`DIM_DB`].
    pub dim: bool,
    /// Playback-system model of the translation preview.
    pub translation: Translation,
    /// Low-listening-level (equal-loudness) correction of the translation preview.
    pub low_level: LowLevel,
    /// References play at the host's song position (else free-running between loop points).
    pub reference_sync: bool,
    /// Low crossover of the band solo (the multiband's), Hz.
    pub crossover_low_hz: f64,
    /// High crossover of the band solo (the multiband's), Hz.
    pub crossover_high_hz: f64,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        Self {
            source: MonitorSource::Processed,
            level_match: LevelMatch::default(),
            platform: None,
            listen: ListenMode::Stereo,
            polarity: Polarity::Normal,
            band_solo: BandSolo::Off,
            dim: false,
            translation: Translation::Off,
            low_level: LowLevel::Off,
            reference_sync: true,
            crossover_low_hz: crate::dsp::multiband::DEFAULT_CROSSOVER_LOW_HZ,
            crossover_high_hz: crate::dsp::multiband::DEFAULT_CROSSOVER_HIGH_HZ,
        }
    }
}

impl MonitorSettings {
    /// True when the monitor passes the chain output untouched.
    pub fn is_transparent(&self) -> bool {
        LaneConfig::from(self).is_transparent()
    }
}

/// Loudness of one source, as the level match and the platform preview need it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SourceReading {
    /// Short-term loudness now, LUFS.
    pub short_term_lufs: Option<f32>,
    /// Integrated loudness so far, LUFS.
    pub integrated_lufs: Option<f32>,
    /// Maximum true peak so far, dBTP.
    pub true_peak_dbtp: Option<f32>,
}

/// Live readings of the mix at the chain input and output.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MonitorReadings {
    /// The chain output.
    pub processed: SourceReading,
    /// The chain input.
    pub unprocessed: SourceReading,
}

/// What the monitor publishes for the editor (relaxed atomics, one writer).
#[derive(Debug, Default)]
pub struct MonitorView {
    /// True whenever the output is not exactly the chain output (another source, a preview, a
    /// listen tool, a fade). Always false in offline rendering.
    pub output_differs: AtomicBool,
    /// True while the host renders offline (the monitor is off).
    pub offline: AtomicBool,
    /// Level-match offset of each source, dB (index as [`MonitorSource::index`]).
    pub match_db: [AtomicF32; SOURCES],
    /// Platform-preview gain of the source heard, dB (0 without a preview).
    pub platform_gain_db: AtomicF32,
    /// True when the preview's turn-up of the source heard is limited by its true peak.
    pub platform_limited_by_peak: AtomicBool,
    /// Gain reduction of the preview's limiter (Spotify loud), dB.
    pub platform_limiter_db: AtomicF32,
    /// Total gain applied to the source heard, dB.
    pub gain_db: AtomicF32,
    /// The source heard ([`MonitorSource::index`]).
    pub source: AtomicU8,
}

/// What one lane plays: everything that changes what is heard.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LaneConfig {
    /// Source.
    source: MonitorSource,
    /// Platform preview.
    platform: Option<usize>,
    /// Listen mode.
    listen: ListenMode,
    /// Polarity.
    polarity: Polarity,
    /// Band solo.
    band_solo: BandSolo,
    /// Dim.
    dim: bool,
    /// Playback-system model.
    translation: Translation,
    /// Low-level correction.
    low_level: LowLevel,
}

impl From<&MonitorSettings> for LaneConfig {
    fn from(settings: &MonitorSettings) -> Self {
        Self {
            source: settings.source,
            platform: settings.platform,
            listen: settings.listen,
            polarity: settings.polarity,
            band_solo: settings.band_solo,
            dim: settings.dim,
            translation: settings.translation,
            low_level: settings.low_level,
        }
    }
}

impl LaneConfig {
    /// True when the lane plays the chain output untouched.
    fn is_transparent(&self) -> bool {
        self.source == MonitorSource::Processed
            && self.platform.is_none()
            && self.listen == ListenMode::Stereo
            && self.polarity == Polarity::Normal
            && self.band_solo == BandSolo::Off
            && !self.dim
            && self.translation == Translation::Off
            && self.low_level == LowLevel::Off
    }
}

/// One of the two signal paths the crossfade moves between.
struct Lane {
    /// What it plays.
    config: LaneConfig,
    /// Band-solo split.
    split: ThreeBandSplit,
    /// The preview's limiter (Spotify loud).
    limiter: PlatformLimiter,
    /// The translation preview's filters.
    translation: TranslationFilter,
    /// Left samples of the current pass.
    left: [f32; MONITOR_BLOCK_FRAMES],
    /// Right samples of the current pass.
    right: [f32; MONITOR_BLOCK_FRAMES],
    /// Where a reference plays when it is not where the song says: the fading-out side of a
    /// position jump continues from where it was (`Song` moves on with every pass).
    position_override: Option<PlayPosition>,
}

/// Smoothed gain of one source.
#[derive(Debug, Clone, Copy, Default)]
struct SourceGain {
    /// Gain at the end of the last pass, dB.
    current_db: f32,
    /// Gain at the start of the last pass, dB (the pass ramps between them).
    previous_db: f32,
    /// Held level-match offset, dB.
    match_db: f32,
    /// Platform gain at the last update, dB.
    platform_db: f32,
    /// Whether the platform turn-up was limited by the true peak.
    limited_by_peak: bool,
    /// Whether the platform's limiter runs.
    limiter: bool,
}

/// The monitor section. See the module documentation.
pub struct Monitor {
    /// Sample rate, Hz.
    sample_rate_hz: f64,
    /// Current settings.
    settings: MonitorSettings,
    /// The two lanes.
    lanes: [Lane; 2],
    /// The lane playing (or fading in).
    active: usize,
    /// Frames left in the running fade (0: none).
    fade_remaining: usize,
    /// Length of a fade, frames.
    fade_frames: usize,
    /// A configuration waiting for the running fade to end.
    pending: Option<LaneConfig>,
    /// Per-source gains.
    gains: [SourceGain; SOURCES],
    /// Glide coefficient per pass of [`MONITOR_BLOCK_FRAMES`].
    glide_per_pass: f32,
    /// The platform table.
    platforms: &'static [Platform],
    /// Where the reference heard would continue at this pass (`None`: no reference heard), to
    /// notice jumps of the song position (seek, loop, transport start).
    expected_position: Option<PlayPosition>,
    /// Published readings.
    view: Arc<MonitorView>,
}

impl Monitor {
    /// A monitor for `sample_rate_hz` (may allocate: call off the audio thread).
    pub fn new(sample_rate_hz: f64, view: Arc<MonitorView>) -> Self {
        let settings = MonitorSettings::default();
        let lane = |settings: &MonitorSettings| Lane {
            config: LaneConfig::from(settings),
            split: {
                let (low, high) = crossovers_hz(settings, sample_rate_hz);
                ThreeBandSplit::new(low, high, sample_rate_hz)
            },
            limiter: PlatformLimiter::new(sample_rate_hz, &PlatformLimiterSettings::default()),
            translation: TranslationFilter::new(sample_rate_hz),
            left: [0.0; MONITOR_BLOCK_FRAMES],
            right: [0.0; MONITOR_BLOCK_FRAMES],
            position_override: None,
        };
        let pass_s = MONITOR_BLOCK_FRAMES as f64 / sample_rate_hz;
        Self {
            sample_rate_hz,
            settings,
            lanes: [lane(&settings), lane(&settings)],
            active: 0,
            fade_remaining: 0,
            fade_frames: ((CROSSFADE_MS * 1e-3 * sample_rate_hz).round() as usize).max(1),
            pending: None,
            gains: [SourceGain::default(); SOURCES],
            glide_per_pass: (1.0 - (-pass_s / (GAIN_GLIDE_MS * 1e-3)).exp()) as f32,
            platforms: platform::platforms(),
            expected_position: None,
            view,
        }
    }

    /// Clears filter and fade state (no allocation); the settings stay.
    pub fn reset(&mut self) {
        for lane in &mut self.lanes {
            lane.split.clear();
            lane.limiter.reset();
            lane.translation.reset();
        }
        self.lanes[1 - self.active].config = self.lanes[self.active].config;
        self.fade_remaining = 0;
        self.pending = None;
        self.expected_position = None;
        for lane in &mut self.lanes {
            lane.position_override = None;
        }
        for gain in &mut self.gains {
            *gain = SourceGain { match_db: gain.match_db, ..SourceGain::default() };
            gain.current_db = gain.match_db;
            gain.previous_db = gain.match_db;
        }
    }

    /// Takes new settings (applied with a crossfade at the next pass).
    pub fn set_settings(&mut self, settings: &MonitorSettings) {
        let crossovers_moved = settings.crossover_low_hz != self.settings.crossover_low_hz
            || settings.crossover_high_hz != self.settings.crossover_high_hz;
        self.settings = *settings;
        self.settings.platform = settings.platform.filter(|&index| index < self.platforms.len());
        if let MonitorSource::Reference(slot) = settings.source {
            self.settings.source = MonitorSource::Reference(slot.min(REFERENCE_SLOTS - 1));
        }
        if crossovers_moved {
            let (low, high) = crossovers_hz(settings, self.sample_rate_hz);
            for lane in &mut self.lanes {
                lane.split.set_frequencies_hz(low, high);
            }
        }
    }

    /// The current settings.
    pub fn settings(&self) -> &MonitorSettings {
        &self.settings
    }

    /// True when the output is exactly the chain output (no fade, a transparent configuration).
    pub fn is_transparent(&self) -> bool {
        self.fade_remaining == 0 && self.pending.is_none() && self.lanes[self.active].config.is_transparent()
    }

    /// Processes one pass of at most [`MONITOR_BLOCK_FRAMES`] frames in place: `channels` holds
    /// the chain output (1 or 2 channels) and receives what is heard; `dry` is the chain input
    /// delayed by the chain latency. `song_position` is the host's song position of the first
    /// frame as heard (already compensated for the latency), if the transport plays.
    pub fn process(
        &mut self,
        channels: &mut [&mut [f32]],
        dry: &[&[f32]],
        player: &mut ReferencePlayer,
        readings: &MonitorReadings,
        song_position: Option<i64>,
    ) {
        let frames = channels.iter().map(|c| c.len()).min().unwrap_or(0).min(MONITOR_BLOCK_FRAMES);
        let target = LaneConfig::from(&self.settings);
        if self.fade_remaining == 0 {
            if let Some(pending) = self.pending.take() {
                self.start_fade(pending);
            }
        }
        if target != self.lanes[self.active].config {
            if self.fade_remaining == 0 {
                self.start_fade(target);
            } else {
                self.pending = Some(target);
            }
        } else if self.fade_remaining > 0 {
            self.pending = None;
        }
        let sync = self.settings.reference_sync;
        // Synced references follow the song position; without one (transport stopped, or a host
        // that gives none) they run free between their loop points.
        let position = move |_source: MonitorSource| -> PlayPosition {
            match (sync, song_position) {
                (true, Some(song)) => PlayPosition::Song(song),
                _ => PlayPosition::Free,
            }
        };
        // A reference heard jumps (seek, loop, transport start or stop): crossfade from where it
        // was to where it is now, like a source switch.
        let heard = self.lanes[self.active].config;
        let now = position(heard.source);
        // A jump during a fade: the lane fading in carries on where it was, and the next check
        // after the fade catches up with another fade.
        if let (MonitorSource::Reference(_), Some(expected)) = (heard.source, self.expected_position) {
            if now != expected {
                if self.fade_remaining == 0 {
                    self.start_fade(heard);
                    self.lanes[1 - self.active].position_override = Some(expected);
                } else {
                    self.lanes[self.active].position_override = Some(expected);
                }
            } else if self.fade_remaining == 0 {
                self.lanes[self.active].position_override = None;
            }
        }
        let fading = self.fade_remaining > 0;
        // Update the gains of the sources that are heard, once each (a source in both lanes
        // takes the active lane's platform: its gain glides to the new setting).
        let active_config = self.lanes[self.active].config;
        self.update_gain(
            active_config.source,
            active_config.platform,
            readings,
            player,
            position(active_config.source),
        );
        let other_config = self.lanes[1 - self.active].config;
        if fading && other_config.source != active_config.source {
            self.update_gain(
                other_config.source,
                other_config.platform,
                readings,
                player,
                position(other_config.source),
            );
        }
        self.update_unheard_matches(readings, player, position(MonitorSource::Processed));
        self.publish();
        if !fading && self.lanes[self.active].config.is_transparent() {
            self.view.output_differs.store(false, Ordering::Relaxed);
            return;
        }
        self.view.output_differs.store(true, Ordering::Relaxed);

        // Render the lanes.
        let [lane_a, lane_b] = &mut self.lanes;
        let (active_lane, other_lane) = if self.active == 0 { (lane_a, lane_b) } else { (lane_b, lane_a) };
        let lane_position = |lane: &Lane| lane.position_override.unwrap_or(position(lane.config.source));
        let active_position = lane_position(active_lane);
        render_lane(active_lane, frames, channels, dry, player, &self.gains, active_position, self.platforms);
        let other_position = lane_position(other_lane);
        if fading {
            render_lane(
                other_lane,
                frames,
                channels,
                dry,
                player,
                &self.gains,
                other_position,
                self.platforms,
            );
        }
        // Move free-running references on once per pass, whichever lanes play them, and the
        // overridden song positions with the song.
        let mut advanced = [false; REFERENCE_SLOTS];
        for (lane, lane_position) in
            [(&mut *active_lane, active_position), (&mut *other_lane, other_position)]
                .into_iter()
                .take(if fading { 2 } else { 1 })
        {
            if let MonitorSource::Reference(slot) = lane.config.source {
                if lane_position == PlayPosition::Free && !advanced[slot] {
                    advanced[slot] = true;
                    player.advance(slot, frames);
                }
            }
            if let Some(PlayPosition::Song(song)) = lane.position_override {
                lane.position_override = Some(PlayPosition::Song(song + frames as i64));
            }
        }
        self.expected_position = match (active_lane.config.source, active_position) {
            (MonitorSource::Reference(_), PlayPosition::Song(song)) => {
                Some(PlayPosition::Song(song + frames as i64))
            }
            (MonitorSource::Reference(_), PlayPosition::Free) => Some(PlayPosition::Free),
            _ => None,
        };

        // Mix into the output.
        let mut left = [0.0f32; MONITOR_BLOCK_FRAMES];
        let mut right = [0.0f32; MONITOR_BLOCK_FRAMES];
        for i in 0..frames {
            let (mut l, mut r) = (active_lane.left[i], active_lane.right[i]);
            if self.fade_remaining > 0 {
                // cos² fade: the weights sum to 1.
                let progress = 1.0 - self.fade_remaining as f64 / self.fade_frames as f64;
                let weight_in = (0.5 - 0.5 * (std::f64::consts::PI * progress).cos()) as f32;
                let weight_out = 1.0 - weight_in;
                l = l * weight_in + other_lane.left[i] * weight_out;
                r = r * weight_in + other_lane.right[i] * weight_out;
                self.fade_remaining -= 1;
            }
            left[i] = l;
            right[i] = r;
        }
        match channels {
            [out_left, out_right, ..] => {
                out_left[..frames].copy_from_slice(&left[..frames]);
                out_right[..frames].copy_from_slice(&right[..frames]);
            }
            [mono] => {
                for (out, (l, r)) in mono.iter_mut().zip(left.iter().zip(&right)).take(frames) {
                    *out = 0.5 * (l + r);
                }
            }
            [] => {}
        }
    }

    /// Starts a crossfade to `config` on the idle lane.
    fn start_fade(&mut self, config: LaneConfig) {
        let next = 1 - self.active;
        let lane = &mut self.lanes[next];
        lane.config = config;
        lane.split.clear();
        lane.split.settle();
        lane.limiter.reset();
        lane.translation.set(config.translation, config.low_level);
        lane.translation.reset();
        lane.position_override = None;
        self.lanes[1 - next].position_override = None;
        self.active = next;
        self.fade_remaining = self.fade_frames;
    }

    /// The level-match offset of `source` from the readings (held when there is none).
    fn level_match_db(
        &mut self,
        source: MonitorSource,
        readings: &MonitorReadings,
        player: &ReferencePlayer,
        position: PlayPosition,
    ) -> f32 {
        let index = source.index();
        let pick = |reading: &SourceReading| match self.settings.level_match {
            LevelMatch::ShortTerm => reading.short_term_lufs,
            _ => reading.integrated_lufs,
        };
        let mine = match source {
            MonitorSource::Processed => return 0.0,
            MonitorSource::Unprocessed => pick(&readings.unprocessed),
            MonitorSource::Reference(slot) => match self.settings.level_match {
                LevelMatch::ShortTerm => player.short_term_lufs_at(slot, position),
                _ => player.reference(slot).and_then(|r| r.analysis.integrated_lufs),
            },
        };
        if self.settings.level_match == LevelMatch::Off {
            self.gains[index].match_db = 0.0;
            return 0.0;
        }
        if let (Some(target), Some(mine)) = (pick(&readings.processed), mine) {
            if target.is_finite() && mine.is_finite() {
                self.gains[index].match_db = (target - mine).clamp(-MAX_MATCH_DB, MAX_MATCH_DB);
            }
        }
        self.gains[index].match_db
    }

    /// Keeps the offsets of sources not heard up to date, so switching to them starts matched.
    fn update_unheard_matches(
        &mut self,
        readings: &MonitorReadings,
        player: &ReferencePlayer,
        position: PlayPosition,
    ) {
        let _ = self.level_match_db(MonitorSource::Unprocessed, readings, player, position);
        for slot in 0..REFERENCE_SLOTS {
            if player.is_loaded(slot) {
                let source = MonitorSource::Reference(slot);
                let _ = self.level_match_db(source, readings, player, position);
            }
        }
    }

    /// Moves the gain of `source` one pass towards its target.
    fn update_gain(
        &mut self,
        source: MonitorSource,
        platform: Option<usize>,
        readings: &MonitorReadings,
        player: &ReferencePlayer,
        position: PlayPosition,
    ) {
        let match_db = self.level_match_db(source, readings, player, position);
        let (integrated, true_peak, trim) = match source {
            MonitorSource::Processed => {
                (readings.processed.integrated_lufs, readings.processed.true_peak_dbtp, 0.0)
            }
            MonitorSource::Unprocessed => {
                (readings.unprocessed.integrated_lufs, readings.unprocessed.true_peak_dbtp, 0.0)
            }
            MonitorSource::Reference(slot) => {
                let analysis = player.reference(slot).map(|r| &r.analysis);
                (
                    analysis.and_then(|a| a.integrated_lufs),
                    analysis.and_then(|a| a.true_peak_dbtp),
                    player.gain_db(slot),
                )
            }
        };
        let base_db = match_db + trim;
        let gain = &mut self.gains[source.index()];
        match platform.and_then(|index| self.platforms.get(index)) {
            Some(rule) => {
                let result = playback_gain(
                    rule,
                    integrated.map_or(f32::NAN, |v| v + base_db),
                    true_peak.map_or(f32::NAN, |v| v + base_db),
                );
                gain.platform_db = result.gain_db;
                gain.limited_by_peak = result.limited_by_peak;
                gain.limiter = rule.turn_up == TurnUp::Limiter;
            }
            None => {
                gain.platform_db = 0.0;
                gain.limited_by_peak = false;
                gain.limiter = false;
            }
        }
        let target = base_db + gain.platform_db;
        gain.previous_db = gain.current_db;
        if (target - gain.current_db).abs() < 1e-4 {
            gain.current_db = target;
        } else {
            gain.current_db += (target - gain.current_db) * self.glide_per_pass;
        }
    }

    /// Publishes the offsets and the gain heard.
    fn publish(&self) {
        for (cell, gain) in self.view.match_db.iter().zip(&self.gains) {
            cell.store(gain.match_db, Ordering::Relaxed);
        }
        let heard = self.lanes[self.active].config;
        let gain = &self.gains[heard.source.index()];
        self.view.source.store(heard.source.index() as u8, Ordering::Relaxed);
        self.view.gain_db.store(gain.current_db, Ordering::Relaxed);
        let preview = heard.platform.is_some();
        self.view.platform_gain_db.store(if preview { gain.platform_db } else { 0.0 }, Ordering::Relaxed);
        self.view.platform_limited_by_peak.store(preview && gain.limited_by_peak, Ordering::Relaxed);
        let reduction =
            if preview && gain.limiter { self.lanes[self.active].limiter.gain_reduction_db() } else { 0.0 };
        self.view.platform_limiter_db.store(reduction, Ordering::Relaxed);
    }
}

/// Fills a lane's buffers with its source and runs its tools.
#[allow(clippy::too_many_arguments)]
fn render_lane(
    lane: &mut Lane,
    frames: usize,
    channels: &[&mut [f32]],
    dry: &[&[f32]],
    player: &ReferencePlayer,
    gains: &[SourceGain; SOURCES],
    position: PlayPosition,
    platforms: &[Platform],
) {
    let config = lane.config;
    let (left, right) = (&mut lane.left[..frames], &mut lane.right[..frames]);
    match config.source {
        MonitorSource::Processed => copy_stereo(channels.iter().map(|c| &**c), left, right),
        MonitorSource::Unprocessed => copy_stereo(dry.iter().copied(), left, right),
        MonitorSource::Reference(slot) => player.render(slot, position, left, right),
    }
    // Gain: a ramp over the pass from the previous to the current smoothed value.
    let gain = &gains[config.source.index()];
    let start = db_to_gain(gain.previous_db);
    let end = db_to_gain(gain.current_db);
    let step = (end - start) / frames.max(1) as f32;
    for (i, (l, r)) in left.iter_mut().zip(right.iter_mut()).enumerate() {
        let g = start + step * (i + 1) as f32;
        *l *= g;
        *r *= g;
    }
    if config
        .platform
        .and_then(|index| platforms.get(index))
        .is_some_and(|rule| rule.turn_up == TurnUp::Limiter)
    {
        lane.limiter.process(left, right);
    }
    if !lane.translation.is_identity() {
        lane.translation.process(left, right);
    }
    if config.band_solo != BandSolo::Off {
        let band = match config.band_solo {
            BandSolo::Low => 0,
            BandSolo::Mid => 1,
            _ => 2,
        };
        let input = left.iter().zip(right.iter()).map(|(&l, &r)| [f64::from(l), f64::from(r)]);
        let mut out = [[0.0f32; 2]; MONITOR_BLOCK_FRAMES];
        lane.split.split_block::<Separate>(input, |index, bands| {
            out[index] = [bands[band][0] as f32, bands[band][1] as f32];
        });
        lane.split.snap();
        for (i, [l, r]) in out.iter().take(frames).enumerate() {
            left[i] = *l;
            right[i] = *r;
        }
    }
    let (left_sign, right_sign) = match config.polarity {
        Polarity::Normal => (1.0, 1.0),
        Polarity::InvertLeft => (-1.0, 1.0),
        Polarity::InvertRight => (1.0, -1.0),
        Polarity::InvertBoth => (-1.0, -1.0),
    };
    let dim = if config.dim { db_to_gain(DIM_DB) } else { 1.0 };
    for (l, r) in left.iter_mut().zip(right.iter_mut()) {
        let (a, b) = (*l * left_sign, *r * right_sign);
        let (out_l, out_r) = match config.listen {
            ListenMode::Stereo => (a, b),
            ListenMode::Mono | ListenMode::Mid => {
                let m = 0.5 * (a + b);
                (m, m)
            }
            ListenMode::Left => (a, a),
            ListenMode::Right => (b, b),
            ListenMode::Side => {
                let s = 0.5 * (a - b);
                (s, s)
            }
        };
        *l = out_l * dim;
        *r = out_r * dim;
    }
}

/// Copies one or two channels into a stereo pair (mono to both).
fn copy_stereo<'a>(mut channels: impl Iterator<Item = &'a [f32]>, left: &mut [f32], right: &mut [f32]) {
    match (channels.next(), channels.next()) {
        (Some(l), Some(r)) => {
            left.copy_from_slice(&l[..left.len()]);
            right.copy_from_slice(&r[..right.len()]);
        }
        (Some(mono), None) => {
            left.copy_from_slice(&mono[..left.len()]);
            right.copy_from_slice(&mono[..right.len()]);
        }
        _ => {
            left.fill(0.0);
            right.fill(0.0);
        }
    }
}

/// The band-solo crossovers of `settings`, clamped for `sample_rate_hz`.
fn crossovers_hz(settings: &MonitorSettings, sample_rate_hz: f64) -> (f64, f64) {
    crate::dsp::crossover::clamp_crossover_pair_hz(
        settings.crossover_low_hz,
        settings.crossover_high_hz,
        crate::dsp::multiband::DEFAULT_CROSSOVER_LOW_HZ,
        crate::dsp::multiband::DEFAULT_CROSSOVER_HIGH_HZ,
        sample_rate_hz,
    )
}

/// dB to linear gain.
#[inline]
fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

#[cfg(test)]
mod tests;
