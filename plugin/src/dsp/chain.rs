//! The mastering chain in its fixed order: DC blocker → EQ → glue compressor → multiband
//! dynamics → imager → true-peak limiter → dither. (Input trim and output gain wrap it in the
//! engine, so the limiter's ceiling and the dither's word length hold at 0 dB output gain.)
//!
//! Every stage keeps its delay when bypassed, so [`Chain::latency_samples`] is constant for a
//! configuration. Only *structural* settings change it (EQ mode, limiter lookahead and
//! oversampling); those take effect when the chain is rebuilt with [`Chain::new`] (the engine's
//! `prepare`, i.e. the host's activation), never from `process`. [`Chain::structure_matches`]
//! tells the glue when a rebuild is due (it then asks the host for a restart).

use super::compressor::{Compressor, CompressorSettings};
use super::dc_blocker::{DcBlocker, DcBlockerSettings};
use super::dither::{Dither, DitherSettings};
use super::eq::{Eq, EqSettings};
use super::imager::{Imager, ImagerSettings};
use super::limiter::{Limiter, LimiterSettings};
use super::multiband::{Multiband, MultibandSettings, BANDS};
use super::target_learner::{LearnedDrive, TargetLearner};

/// Plain settings of every chain stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChainStageSettings {
    /// DC blocker.
    pub dc_blocker: DcBlockerSettings,
    /// Equaliser.
    pub eq: EqSettings,
    /// Glue compressor.
    pub glue: CompressorSettings,
    /// Multiband dynamics.
    pub multiband: MultibandSettings,
    /// Stereo imager.
    pub imager: ImagerSettings,
    /// True-peak limiter.
    pub limiter: LimiterSettings,
    /// Dither.
    pub dither: DitherSettings,
}

impl Default for ChainStageSettings {
    /// Parity's defaults: a chain that leaves audio under the limiter's ceiling untouched (bit
    /// for bit, apart from the latency) until the engineer engages a stage. EQ (flat) and
    /// imager (100 %) are on and neutral, the limiter is on at −1 dBTP, the DC blocker, glue and
    /// multiband are off, dither is off.
    fn default() -> Self {
        Self {
            dc_blocker: DcBlockerSettings { bypass: true, ..DcBlockerSettings::default() },
            eq: EqSettings::default(),
            glue: CompressorSettings { bypass: true, ..CompressorSettings::default() },
            multiband: MultibandSettings { bypass: true, ..MultibandSettings::default() },
            imager: ImagerSettings::default(),
            limiter: LimiterSettings::default(),
            dither: DitherSettings::default(),
        }
    }
}

/// The settings that fix the chain's latency.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Structure {
    /// EQ settings as built (only the mode is structural).
    eq: EqSettings,
    /// Limiter settings as built (lookahead and oversampling are structural).
    limiter: LimiterSettings,
}

impl Structure {
    fn of(settings: &ChainStageSettings) -> Self {
        Self { eq: settings.eq, limiter: settings.limiter }
    }

    fn matches(&self, settings: &ChainStageSettings) -> bool {
        self.eq.mode == settings.eq.mode
            && self.limiter.lookahead_ms == settings.limiter.lookahead_ms
            && self.limiter.oversampling == settings.limiter.oversampling
    }
}

/// Gain reduction of every dynamics stage, in dB (positive = reduction), for the editor.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GainReduction {
    /// Glue compressor.
    pub glue_db: f32,
    /// Multiband bands, low to high.
    pub multiband_db: [f32; BANDS],
    /// Limiter.
    pub limiter_db: f32,
}

/// The chain. See the module documentation.
pub struct Chain {
    /// Sample rate the chain was built for, Hz.
    sample_rate_hz: f64,
    /// Structural settings it was built with.
    structure: Structure,
    /// DC blocker.
    dc_blocker: DcBlocker,
    /// Equaliser.
    eq: Eq,
    /// Glue compressor.
    glue: Compressor,
    /// Multiband dynamics.
    multiband: Multiband,
    /// Stereo imager.
    imager: Imager,
    /// True-peak limiter.
    limiter: Limiter,
    /// Dither.
    dither: Dither,
    /// Shadow limiters of "learn to target" (idle unless a pass runs).
    learner: TargetLearner,
}

impl Chain {
    /// Builds every stage for `sample_rate_hz`, settled on `settings`. Allocates.
    pub fn new(sample_rate_hz: f64, settings: &ChainStageSettings) -> Self {
        Self {
            sample_rate_hz,
            structure: Structure::of(settings),
            dc_blocker: DcBlocker::new(sample_rate_hz, &settings.dc_blocker),
            eq: Eq::new(sample_rate_hz, &settings.eq),
            glue: Compressor::new(sample_rate_hz, &settings.glue),
            multiband: Multiband::new(sample_rate_hz, &settings.multiband),
            imager: Imager::new(sample_rate_hz, &settings.imager),
            limiter: Limiter::new(sample_rate_hz, &settings.limiter),
            dither: Dither::new(sample_rate_hz, &settings.dither),
            learner: TargetLearner::new(sample_rate_hz, &settings.limiter),
        }
    }

    /// Sample rate the chain was built for, Hz.
    pub fn sample_rate_hz(&self) -> f64 {
        self.sample_rate_hz
    }

    /// Total latency in samples: the sum of the stages' latencies (bypassed stages included).
    pub fn latency_samples(&self) -> usize {
        self.dc_blocker.latency_samples()
            + self.eq.latency_samples()
            + self.glue.latency_samples()
            + self.multiband.latency_samples()
            + self.imager.latency_samples()
            + self.limiter.latency_samples()
            + self.dither.latency_samples()
    }

    /// Whether `settings` can be applied without a rebuild (its structural settings equal the
    /// built ones).
    pub fn structure_matches(&self, settings: &ChainStageSettings) -> bool {
        self.structure.matches(settings)
    }

    /// Sets every stage's settings for the following samples. Cheap when nothing changed; never
    /// allocates. Structural changes wait for the next [`Chain::new`].
    pub fn set_settings(&mut self, settings: &ChainStageSettings) {
        self.dc_blocker.set_settings(&settings.dc_blocker);
        self.eq.set_settings(&settings.eq);
        self.glue.set_settings(&settings.glue);
        self.multiband.set_settings(&settings.multiband);
        self.imager.set_settings(&settings.imager);
        self.limiter.set_settings(&settings.limiter);
        self.learner.set_settings(&settings.limiter);
        self.dither.set_settings(&settings.dither);
    }

    /// Clears all state without allocating; afterwards the chain repeats a fresh one.
    pub fn reset(&mut self) {
        self.dc_blocker.reset();
        self.eq.reset();
        self.glue.reset();
        self.multiband.reset();
        self.imager.reset();
        self.limiter.reset();
        self.dither.reset();
    }

    /// Processes one stereo block in place through every stage. Never allocates.
    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        self.dc_blocker.process(left, right);
        self.eq.process(left, right);
        self.glue.process(left, right);
        self.multiband.process(left, right);
        self.imager.process(left, right);
        self.learner.process(left, right);
        self.limiter.process(left, right);
        self.dither.process(left, right);
    }

    /// Current gain reduction of the dynamics stages.
    pub fn gain_reduction(&self) -> GainReduction {
        GainReduction {
            glue_db: self.glue.gain_reduction_db(),
            multiband_db: std::array::from_fn(|band| self.multiband.band_gain_reduction_db(band)),
            limiter_db: self.limiter.gain_reduction_db(),
        }
    }

    /// Starts a "learn to target" pass: from now on the limiter's input also feeds the shadow
    /// limiters (see [`super::target_learner`]). No allocation.
    pub fn start_learning(&mut self) {
        self.learner.start();
    }

    /// Ends the learning pass (its result stays readable).
    pub fn stop_learning(&mut self) {
        self.learner.stop();
    }

    /// Whether a learning pass runs.
    pub fn is_learning(&self) -> bool {
        self.learner.is_active()
    }

    /// The limiter drive that puts the limiter output at `target_lufs`, from the audio of the
    /// current (or last) learning pass.
    pub fn learned_drive(&self, target_lufs: f64) -> LearnedDrive {
        self.learner.drive_for(target_lufs)
    }

    /// The EQ's current target magnitude response at `freq_hz`, dB (for the editor's curve).
    pub fn eq_magnitude_db(&self, freq_hz: f64) -> f64 {
        self.eq.magnitude_db(freq_hz)
    }
}
