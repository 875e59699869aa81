//! Three-band compressor on a Linkwitz–Riley split.
//!
//! ```text
//!          ┌─ low  = AP2(f2)·LP4(f1) ─► detector/gain computer ─► × gain_low  ─┐
//! L, R ────┼─ mid  = LP4(f2)·HP4(f1) ─► detector/gain computer ─► × gain_mid  ─┼─► Σ ─► out
//!          └─ high = HP4(f2)·HP4(f1) ─► detector/gain computer ─► × gain_high ─┘
//! ```
//!
//! - The split is [`crate::dsp::crossover::ThreeBandSplit`] (f64 state): with every band at unity
//!   the sum is the allpass `AP2(f1)·AP2(f2)`, flat in magnitude. The crossovers are clamped to
//!   20 Hz..20 kHz (and below 0.45·fs) with at least 1/3 octave between them, and glide when
//!   changed.
//! - Each band is a stereo-linked compressor built from the glue compressor's blocks
//!   ([`crate::dsp::envelope`]: soft-knee gain computer with a fixed [`BAND_KNEE_DB`] knee, smooth
//!   branching log-domain detector on `max(|L|, |R|)` of the band, fast dB conversions). There is
//!   no sidechain filter: the band filters are the sidechain filters.
//! - **Band gain** (makeup) −24..+24 dB and **solo**: with any band soloed, only soloed bands reach
//!   the output (several solos sum). Gains, solos and band bypasses move over 10 ms ramps.
//! - **Band bypass** removes the band's compression and gain; the band still passes (and still
//!   obeys solo).
//! - **Neutral** (every band bypassed or at ratio 1 with 0 dB gain, no solo) and **bypass** skip
//!   the split altogether and pass the input bit for bit, after a 10 ms crossfade from the split
//!   path (whose allpass phase differs from the dry signal, so the fade is a short, smooth phase
//!   transition). Defaults are neutral: ratio 1 and 0 dB in every band, thresholds −20 dB, so
//!   raising a ratio is all it takes to start compressing. (Non-finite, absurd and sub-audio
//!   input samples become 0 first, see [`crate::dsp::envelope::sanitize`].)
//! - No latency. The three detectors run in one loop (three independent dependency chains), the
//!   gain computers and the output sum vectorise; the kernels are compiled for AVX2 + FMA when the
//!   CPU has them.

use crate::dsp::clamp_sample_rate_hz;
use crate::dsp::crossover::{clamp_crossover_pair_hz, ThreeBandSplit};
use crate::dsp::envelope::{
    clamp_or, db_to_gain, fast_exp2, ramp_samples, sanitize, snap_output, Ballistics, CurveRamp, Detector,
    Ramp, CHUNK_FRAMES, FADE_MS, LOG2_PER_DB, PARAMETER_RAMP_MS,
};
#[cfg(target_arch = "x86_64")]
use crate::dsp::kernel::Fused;
use crate::dsp::kernel::{Kernel, MulAdd, Separate};

/// Number of bands.
pub const BANDS: usize = 3;

/// Knee width of every band's gain computer (dB).
pub const BAND_KNEE_DB: f64 = 6.0;

/// Default lower crossover (Hz).
pub const DEFAULT_CROSSOVER_LOW_HZ: f64 = 120.0;

/// Default upper crossover (Hz).
pub const DEFAULT_CROSSOVER_HIGH_HZ: f64 = 2_500.0;

/// Settings of one band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandSettings {
    /// Threshold in dBFS (band detector peak), −60..0, default −20.
    pub threshold_db: f64,
    /// Ratio, 1..20, default 1 (no compression).
    pub ratio: f64,
    /// Attack time constant in ms, 0.1..100 (defaults: low 30, mid 15, high 5).
    pub attack_ms: f64,
    /// Release time constant in ms, 10..2000 (defaults: low 250, mid 150, high 100).
    pub release_ms: f64,
    /// Band output gain in dB, −24..+24, default 0.
    pub gain_db: f64,
    /// Removes this band's compression and gain (the band still passes).
    pub bypass: bool,
    /// Solo: with any band soloed, only soloed bands are heard.
    pub solo: bool,
}

impl BandSettings {
    /// The defaults of band `band` (0 = low, 1 = mid, 2 = high): neutral, with ballistics suited
    /// to the band.
    pub fn default_for(band: usize) -> Self {
        let (attack_ms, release_ms) = match band {
            0 => (30.0, 250.0),
            1 => (15.0, 150.0),
            _ => (5.0, 100.0),
        };
        Self {
            threshold_db: -20.0,
            ratio: 1.0,
            attack_ms,
            release_ms,
            gain_db: 0.0,
            bypass: false,
            solo: false,
        }
    }

    /// Clamped copy (NaN → the band's default).
    fn clamped(&self, band: usize) -> Self {
        let d = Self::default_for(band);
        Self {
            threshold_db: clamp_or(self.threshold_db, -60.0, 0.0, d.threshold_db),
            ratio: clamp_or(self.ratio, 1.0, 20.0, d.ratio),
            attack_ms: clamp_or(self.attack_ms, 0.1, 100.0, d.attack_ms),
            release_ms: clamp_or(self.release_ms, 10.0, 2_000.0, d.release_ms),
            gain_db: clamp_or(self.gain_db, -24.0, 24.0, d.gain_db),
            bypass: self.bypass,
            solo: self.solo,
        }
    }

    /// True when the band leaves its signal untouched.
    fn is_neutral(&self) -> bool {
        self.bypass || (self.ratio == 1.0 && self.gain_db == 0.0)
    }
}

/// Settings of the multiband compressor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultibandSettings {
    /// Lower crossover in Hz, 20..20000 (and < 0.45·fs), default 120.
    pub crossover_low_hz: f64,
    /// Upper crossover in Hz, 20..20000 (and < 0.45·fs), at least 1/3 octave above the lower one
    /// (the lower one wins), default 2500.
    pub crossover_high_hz: f64,
    /// Low, mid and high band.
    pub bands: [BandSettings; BANDS],
    /// Bypass: fades to the input (10 ms), then passes it bit for bit.
    pub bypass: bool,
}

impl Default for MultibandSettings {
    fn default() -> Self {
        Self {
            crossover_low_hz: DEFAULT_CROSSOVER_LOW_HZ,
            crossover_high_hz: DEFAULT_CROSSOVER_HIGH_HZ,
            bands: [BandSettings::default_for(0), BandSettings::default_for(1), BandSettings::default_for(2)],
            bypass: false,
        }
    }
}

impl MultibandSettings {
    /// Clamped copy (the crossover pair is clamped for `sample_rate_hz`).
    pub fn clamped(&self, sample_rate_hz: f64) -> Self {
        let (low, high) = clamp_crossover_pair_hz(
            self.crossover_low_hz,
            self.crossover_high_hz,
            DEFAULT_CROSSOVER_LOW_HZ,
            DEFAULT_CROSSOVER_HIGH_HZ,
            sample_rate_hz,
        );
        let mut bands = self.bands;
        for (index, band) in bands.iter_mut().enumerate() {
            *band = band.clamped(index);
        }
        Self { crossover_low_hz: low, crossover_high_hz: high, bands, bypass: self.bypass }
    }

    /// True when no band changes the signal and nothing is soloed.
    fn is_neutral(&self) -> bool {
        self.bands.iter().all(|band| band.is_neutral() && !band.solo)
    }
}

/// Per-band compressor state.
#[derive(Debug, Clone)]
struct Band {
    /// Gain computer with ramped parameters.
    curve: CurveRamp,
    /// Detector coefficients.
    ballistics: Ballistics,
    /// Level detector (dB of reduction).
    detector: Detector,
    /// Compression amount: 1 = compressing, 0 = band bypassed (scales the reduction in dB).
    amount: Ramp,
    /// Output weight: gain × solo (linear).
    weight: Ramp,
}

/// The three-band compressor (see the module doc).
#[derive(Debug, Clone)]
pub struct Multiband {
    /// Sample rate (clamped).
    sample_rate_hz: f64,
    /// Current settings, clamped (dirty check).
    settings: MultibandSettings,
    /// Linkwitz–Riley split (left, right lanes).
    split: ThreeBandSplit,
    /// The bands, low to high.
    bands: [Band; BANDS],
    /// Split path amount: 1 = processing, 0 = bypassed or neutral (the crossfade).
    active: Ramp,
    /// Instruction-set variant of the kernels.
    kernel: Kernel,
    /// Position inside the 64-frame chunk grid (housekeeping happens at its multiples).
    chunk_phase: usize,
    /// Band gain reduction shown by the meters (dB, ≥ 0).
    band_gain_reduction_db: [f32; BANDS],
    /// Scratch: band signals `[band][channel][frame]`.
    band_signals: Box<[[[f32; CHUNK_FRAMES]; 2]; BANDS]>,
    /// Scratch: per band detector magnitudes, then gains.
    magnitudes: Box<[[f32; CHUNK_FRAMES]; BANDS]>,
    /// Scratch: per band gain-computer output, then smoothed reduction (dB).
    reduction: Box<[[f32; CHUNK_FRAMES]; BANDS]>,
    /// Scratch: per band compression amounts.
    amounts: Box<[[f32; CHUNK_FRAMES]; BANDS]>,
    /// Scratch: split path amounts (crossfade).
    fades: [f32; CHUNK_FRAMES],
}

impl Multiband {
    /// A multiband compressor at `sample_rate_hz` (clamped to [1 kHz, 1.536 MHz], non-finite →
    /// 48 kHz), settled on `settings`.
    pub fn new(sample_rate_hz: f64, settings: &MultibandSettings) -> Self {
        let sample_rate_hz = clamp_sample_rate_hz(sample_rate_hz);
        let s = settings.clamped(sample_rate_hz);
        let ramp = ramp_samples(PARAMETER_RAMP_MS, sample_rate_hz);
        let band = |index: usize| {
            let b = s.bands[index];
            Band {
                curve: CurveRamp::new(b.threshold_db, b.ratio, BAND_KNEE_DB, sample_rate_hz),
                ballistics: Ballistics::new(b.attack_ms, b.release_ms, false, sample_rate_hz),
                detector: Detector::default(),
                amount: Ramp::new(band_amount(&b), ramp),
                weight: Ramp::new(band_weight(&s, index), ramp),
            }
        };
        Self {
            sample_rate_hz,
            settings: s,
            split: ThreeBandSplit::new(s.crossover_low_hz, s.crossover_high_hz, sample_rate_hz),
            bands: [band(0), band(1), band(2)],
            active: Ramp::new(
                if s.bypass || s.is_neutral() { 0.0 } else { 1.0 },
                ramp_samples(FADE_MS, sample_rate_hz),
            ),
            kernel: Kernel::detect(),
            chunk_phase: 0,
            band_gain_reduction_db: [0.0; BANDS],
            band_signals: Box::new([[[0.0; CHUNK_FRAMES]; 2]; BANDS]),
            magnitudes: Box::new([[0.0; CHUNK_FRAMES]; BANDS]),
            reduction: Box::new([[0.0; CHUNK_FRAMES]; BANDS]),
            amounts: Box::new([[0.0; CHUNK_FRAMES]; BANDS]),
            fades: [0.0; CHUNK_FRAMES],
        }
    }

    /// Applies new settings (O(1) when unchanged; never allocates). Everything moves smoothly.
    pub fn set_settings(&mut self, settings: &MultibandSettings) {
        let s = settings.clamped(self.sample_rate_hz);
        if s == self.settings {
            return;
        }
        // Nothing was audible: the new values apply at once (no ramps, glides or path fades).
        let was_idle = self.is_idle();
        self.settings = s;
        self.split.set_frequencies_hz(s.crossover_low_hz, s.crossover_high_hz);
        for (index, band) in self.bands.iter_mut().enumerate() {
            let b = s.bands[index];
            band.curve.set_target(b.threshold_db, b.ratio, BAND_KNEE_DB);
            band.ballistics = Ballistics::new(b.attack_ms, b.release_ms, false, self.sample_rate_hz);
            band.amount.set_target(band_amount(&b));
            band.weight.set_target(band_weight(&s, index));
        }
        self.active.set_target(if s.bypass || s.is_neutral() { 0.0 } else { 1.0 });
        if was_idle {
            self.settle();
        }
    }

    /// Clears all state (no allocation): processing continues like a fresh instance.
    pub fn reset(&mut self) {
        self.settle();
        self.active.settle();
        self.clear_state();
        self.chunk_phase = 0;
    }

    /// Latency in samples: always 0.
    pub fn latency_samples(&self) -> usize {
        0
    }

    /// Current gain reduction of band `band` (0 = low, 1 = mid, 2 = high) in dB, ≥ 0 (0 = none;
    /// also for an out-of-range index, and while bypassed or neutral).
    pub fn band_gain_reduction_db(&self, band: usize) -> f32 {
        self.band_gain_reduction_db.get(band).copied().unwrap_or(0.0)
    }

    /// Processes one block in place (uses the shorter of the two slices).
    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let frames = left.len().min(right.len());
        let mut start = 0;
        while start < frames {
            let len = (CHUNK_FRAMES - self.chunk_phase).min(frames - start);
            let end = start + len;
            if let (Some(l), Some(r)) = (left.get_mut(start..end), right.get_mut(start..end)) {
                self.process_chunk(l, r);
            }
            start = end;
            self.chunk_phase = (self.chunk_phase + len) % CHUNK_FRAMES;
            if self.chunk_phase == 0 && !self.is_idle() {
                // (Idle: the state is already clear.)
                self.split.snap();
                self.bands.iter_mut().for_each(|band| band.detector.snap());
            }
        }
    }

    /// Forces an instruction-set variant (tests).
    #[cfg(test)]
    fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// True when the output is the input and nothing moves.
    fn is_idle(&self) -> bool {
        self.active.is_settled_at(0.0)
    }

    /// Jumps every ramp and glide to its target (the fade state is left alone).
    fn settle(&mut self) {
        self.split.settle();
        for band in self.bands.iter_mut() {
            band.curve.settle();
            band.amount.settle();
            band.weight.settle();
        }
    }

    /// Clears filter and detector state.
    fn clear_state(&mut self) {
        self.split.clear();
        self.bands.iter_mut().for_each(|band| band.detector.reset());
        self.band_gain_reduction_db = [0.0; BANDS];
    }

    /// One chunk (≤ [`CHUNK_FRAMES`] frames, never crossing a multiple of it).
    fn process_chunk(&mut self, left: &mut [f32], right: &mut [f32]) {
        match self.kernel {
            Kernel::Portable => self.process_chunk_with::<Separate>(left, right),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Kernel::Avx2Fma` is only selected when the CPU reports AVX2 and FMA.
            Kernel::Avx2Fma => unsafe { self.process_chunk_avx2(left, right) },
        }
    }

    /// [`Multiband::process_chunk_with`] compiled for AVX2 + FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn process_chunk_avx2(&mut self, left: &mut [f32], right: &mut [f32]) {
        self.process_chunk_with::<Fused>(left, right);
    }

    /// The chunk kernel (inlined into each instruction-set variant).
    #[inline(always)]
    fn process_chunk_with<M: MulAdd>(&mut self, left: &mut [f32], right: &mut [f32]) {
        sanitize(left);
        sanitize(right);
        if self.is_idle() {
            return;
        }
        let n = left.len().min(right.len()).min(CHUNK_FRAMES);
        let (left, right) = (&mut left[..n], &mut right[..n]);
        self.split_chunk::<M>(left, right);
        self.compress_bands::<M>(n);
        self.sum_bands(left, right);
        for (meter, band) in self.band_gain_reduction_db.iter_mut().zip(self.bands.iter()) {
            *meter = (band.detector.value() * band.amount.value()) as f32;
        }
        if self.active.is_settled_at(0.0) {
            // Fully faded out: start the next activation from a clean state, like a new instance.
            self.clear_state();
            self.settle();
        }
    }

    /// Splits the chunk into the band buffers (f32, one array per band and channel).
    #[inline(always)]
    fn split_chunk<M: MulAdd>(&mut self, left: &[f32], right: &[f32]) {
        let bands = &mut *self.band_signals;
        let input = left.iter().zip(right.iter()).map(|(&l, &r)| [l as f64, r as f64]);
        self.split.split_block::<M>(input, |index, [low, mid, high]| {
            // `index < CHUNK_FRAMES` (the chunk length); the modulo only spares a bounds check.
            let i = index % CHUNK_FRAMES;
            let [[low_l, low_r], [mid_l, mid_r], [high_l, high_r]] = &mut *bands;
            (low_l[i], low_r[i]) = (low[0] as f32, low[1] as f32);
            (mid_l[i], mid_r[i]) = (mid[0] as f32, mid[1] as f32);
            (high_l[i], high_r[i]) = (high[0] as f32, high[1] as f32);
        });
    }

    /// Gain computers and detectors of the three bands; leaves each band's linear gain (without
    /// its weight) in `magnitudes`.
    #[inline(always)]
    fn compress_bands<M: MulAdd>(&mut self, n: usize) {
        let mut any_active = false;
        let mut ballistics = [self.bands[0].ballistics; BANDS];
        for (index, band) in self.bands.iter_mut().enumerate() {
            let [band_left, band_right] = &self.band_signals[index];
            let magnitudes = &mut self.magnitudes[index][..n];
            let reduction = &mut self.reduction[index][..n];
            // Decided at the chunk start: if the amount reaches 0 inside this chunk, the rest of
            // the chunk still runs the detector (its reduction is scaled by 0), so where a chunk
            // ends never changes the output.
            let bypassed = band.amount.is_settled_at(0.0);
            band.amount.render(&mut self.amounts[index][..n]);
            ballistics[index] = band.ballistics;
            if bypassed {
                // Band bypassed: no compression, detector cleared.
                band.detector.reset();
                reduction.fill(0.0);
                continue;
            }
            for ((m, &l), &r) in magnitudes.iter_mut().zip(band_left.iter()).zip(band_right.iter()) {
                let (l, r) = (l.abs(), r.abs());
                *m = if l > r { l } else { r };
            }
            any_active |= band.curve.render(magnitudes, reduction) || !band.detector.is_idle();
        }
        if any_active {
            // Three independent dependency chains in one loop. Bands with nothing to do see a zero
            // input on an idle detector, which stays exactly zero.
            let mut detectors = [self.bands[0].detector, self.bands[1].detector, self.bands[2].detector];
            let [low, mid, high] = &mut *self.reduction;
            let frames = low[..n].iter_mut().zip(mid[..n].iter_mut()).zip(high[..n].iter_mut());
            for ((low, mid), high) in frames {
                let [d0, d1, d2] = &mut detectors;
                *low = d0.next::<M, false>(*low as f64, &ballistics[0]) as f32;
                *mid = d1.next::<M, false>(*mid as f64, &ballistics[1]) as f32;
                *high = d2.next::<M, false>(*high as f64, &ballistics[2]) as f32;
            }
            for (band, detector) in self.bands.iter_mut().zip(detectors) {
                band.detector = detector;
            }
        }
        // Linear band gains (bit-exact 1 for zero reduction).
        for index in 0..BANDS {
            let gains = self.magnitudes[index].iter_mut().zip(self.reduction[index].iter());
            for ((gain, &reduction), &amount) in gains.zip(self.amounts[index].iter()).take(n) {
                *gain = fast_exp2(-(amount * reduction) * LOG2_PER_DB);
            }
        }
    }

    /// Weighted band sum, crossfaded with the dry input.
    #[inline(always)]
    fn sum_bands(&mut self, left: &mut [f32], right: &mut [f32]) {
        let n = left.len();
        // Fold each band's weight into its gains.
        for (index, band) in self.bands.iter_mut().enumerate() {
            let gains = &mut self.magnitudes[index][..n];
            if band.weight.is_moving() {
                let weights = &mut self.reduction[index][..n];
                band.weight.render(weights);
                gains.iter_mut().zip(weights.iter()).for_each(|(gain, &weight)| *gain *= weight);
            } else {
                let weight = band.weight.value() as f32;
                gains.iter_mut().for_each(|gain| *gain *= weight);
            }
        }
        let fades = &mut self.fades[..n];
        self.active.render(fades);
        let [g0, g1, g2] = &*self.magnitudes;
        let [[l0, r0], [l1, r1], [l2, r2]] = &*self.band_signals;
        for (channel, (b0, b1, b2)) in [(&mut *left, (l0, l1, l2)), (&mut *right, (r0, r1, r2))] {
            let gains = g0.iter().zip(g1.iter()).zip(g2.iter());
            let signals = b0.iter().zip(b1.iter()).zip(b2.iter());
            for ((x, &fade), (((&g0, &g1), &g2), ((&s0, &s1), &s2))) in
                channel.iter_mut().zip(fades.iter()).zip(gains.zip(signals))
            {
                let wet = snap_output(g0 * s0 + g1 * s1 + g2 * s2);
                *x = (1.0 - fade) * *x + fade * wet;
            }
        }
    }
}

/// Compression amount of a band: 0 when bypassed.
fn band_amount(band: &BandSettings) -> f64 {
    if band.bypass {
        0.0
    } else {
        1.0
    }
}

/// Output weight of band `index`: its gain (unity when bypassed), times 0 when another band is
/// soloed and this one is not.
fn band_weight(settings: &MultibandSettings, index: usize) -> f64 {
    let band = settings.bands[index];
    let any_solo = settings.bands.iter().any(|b| b.solo);
    let audible = if !any_solo || band.solo { 1.0 } else { 0.0 };
    let gain = if band.bypass { 1.0 } else { db_to_gain(band.gain_db) };
    audible * gain
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::envelope::test_util::*;
    use std::f64::consts::{PI, SQRT_2};

    const FS: f64 = 48_000.0;

    /// Complex numbers for the analytic responses.
    #[derive(Clone, Copy, Debug)]
    struct C(f64, f64);
    impl C {
        fn add(self, o: C) -> C {
            C(self.0 + o.0, self.1 + o.1)
        }
        fn scale(self, k: f64) -> C {
            C(self.0 * k, self.1 * k)
        }
        fn mul(self, o: C) -> C {
            C(self.0 * o.0 - self.1 * o.1, self.0 * o.1 + self.1 * o.0)
        }
        fn div(self, o: C) -> C {
            let d = o.0 * o.0 + o.1 * o.1;
            C((self.0 * o.0 + self.1 * o.1) / d, (self.1 * o.0 - self.0 * o.1) / d)
        }
        fn db(self) -> f64 {
            20.0 * self.0.hypot(self.1).log10()
        }
    }

    /// Analytic LR4 3-band responses (analog prototype at the bilinear-warped frequency).
    fn bands_at(freq: f64, f1: f64, f2: f64) -> [C; 3] {
        let sections = |fc: f64| {
            let w = (PI * freq / FS).tan() / (PI * fc / FS).tan();
            let den = C(1.0 - w * w, SQRT_2 * w);
            (C(1.0, 0.0).div(den), C(-w * w, 0.0).div(den), C(1.0 - w * w, -SQRT_2 * w).div(den))
        };
        let (lp1, hp1, _) = sections(f1);
        let (lp2, hp2, ap2) = sections(f2);
        [lp1.mul(lp1).mul(ap2), hp1.mul(hp1).mul(lp2).mul(lp2), hp1.mul(hp1).mul(hp2).mul(hp2)]
    }

    fn dft_db(ir: &[f32], freq: f64) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (n, &x) in ir.iter().enumerate() {
            let phase = -2.0 * PI * freq * n as f64 / FS;
            re += x as f64 * phase.cos();
            im += x as f64 * phase.sin();
        }
        20.0 * re.hypot(im).log10()
    }

    /// Impulse response (left channel) of `amplitude`·δ, normalised by the amplitude.
    fn impulse_response(settings: &MultibandSettings, amplitude: f32) -> Vec<f32> {
        let mut mb = Multiband::new(FS, settings);
        let mut left = vec![0.0f32; 1 << 16];
        left[0] = amplitude;
        let mut right = left.clone();
        for (l, r) in left.chunks_mut(64).zip(right.chunks_mut(64)) {
            mb.process(l, r);
        }
        assert_eq!(left, right);
        left.iter().map(|x| x / amplitude).collect()
    }

    fn frequencies() -> Vec<f64> {
        (0..50).map(|i| 20.0 * 2f64.powf(i as f64 / 5.0)).filter(|&f| f < 21_000.0).collect()
    }

    /// Compares an impulse response with an analytic response; returns the worst deviation (dB)
    /// where the analytic magnitude is above −60 dB.
    fn worst_deviation(ir: &[f32], expected: impl Fn(f64) -> C) -> f64 {
        frequencies()
            .iter()
            .filter(|&&f| expected(f).db() > -60.0)
            .map(|&f| (dft_db(ir, f) - expected(f).db()).abs())
            .fold(0.0, f64::max)
    }

    fn compressing_bands() -> MultibandSettings {
        let mut s = MultibandSettings::default();
        for band in s.bands.iter_mut() {
            band.ratio = 2.0;
            band.threshold_db = 0.0;
        }
        s
    }

    #[test]
    fn transparent_split_sums_flat() {
        // Ratio 2 at a 0 dB threshold is not neutral (the split runs), but a −60 dBFS impulse never
        // reaches the knee: the output is the band sum, an allpass.
        let s = compressing_bands();
        let ir = impulse_response(&s, 1e-3);
        let worst = frequencies().iter().map(|&f| dft_db(&ir, f).abs()).fold(0.0, f64::max);
        println!("forced split, no compression: sum flat within {worst:.2e} dB (20 Hz..20 kHz)");
        assert!(worst < 0.01);
    }

    #[test]
    fn band_gain_and_solo_follow_the_analytic_responses() {
        let (f1, f2) = (DEFAULT_CROSSOVER_LOW_HZ, DEFAULT_CROSSOVER_HIGH_HZ);
        // +6 dB on the mid band.
        let mut s = MultibandSettings::default();
        s.bands[1].gain_db = 6.0;
        let g = db_to_gain(6.0);
        let ir = impulse_response(&s, 1.0);
        let worst = worst_deviation(&ir, |f| {
            let [l, m, h] = bands_at(f, f1, f2);
            l.add(m.scale(g)).add(h)
        });
        println!(
            "mid +6 dB: max deviation from analytic {worst:.2e} dB; at 700 Hz {:.3} dB",
            dft_db(&ir, 700.0)
        );
        assert!(worst < 0.01);
        // Solo low: the LR4 low-pass magnitude.
        let mut s = MultibandSettings::default();
        s.bands[0].solo = true;
        let ir = impulse_response(&s, 1.0);
        let worst = worst_deviation(&ir, |f| bands_at(f, f1, f2)[0]);
        println!("solo low: max deviation from |LP4| {worst:.2e} dB; at f1 {:.4} dB", dft_db(&ir, f1));
        assert!(worst < 0.01);
        assert!((dft_db(&ir, f1) + 6.0206).abs() < 0.01);
        // Solo low + high sum; solo on a band with gain and crossovers moved.
        let mut s =
            MultibandSettings { crossover_low_hz: 300.0, crossover_high_hz: 5_000.0, ..Default::default() };
        s.bands[0].solo = true;
        s.bands[2].solo = true;
        s.bands[2].gain_db = -6.0;
        let g = db_to_gain(-6.0);
        let ir = impulse_response(&s, 1.0);
        let worst = worst_deviation(&ir, |f| {
            let [l, _, h] = bands_at(f, 300.0, 5_000.0);
            l.add(h.scale(g))
        });
        println!("solo low + high (−6 dB): max deviation {worst:.2e} dB");
        assert!(worst < 0.01);
    }

    /// The paper's gain computer (eq. 4), written out independently (dB of reduction).
    fn reference_reduction(level_db: f64, threshold_db: f64, ratio: f64, knee_db: f64) -> f64 {
        let over = level_db - threshold_db;
        let out = if 2.0 * over < -knee_db {
            level_db
        } else if 2.0 * over.abs() <= knee_db {
            level_db + (1.0 / ratio - 1.0) * (over + knee_db / 2.0).powi(2) / (2.0 * knee_db)
        } else {
            threshold_db + over / ratio
        };
        level_db - out
    }

    #[test]
    fn each_band_compresses_its_own_content() {
        let (f1, f2) = (DEFAULT_CROSSOVER_LOW_HZ, DEFAULT_CROSSOVER_HIGH_HZ);
        let mut s = MultibandSettings::default();
        for band in s.bands.iter_mut() {
            *band = BandSettings {
                ratio: 4.0,
                threshold_db: -30.0,
                attack_ms: 0.1,
                release_ms: 2_000.0,
                ..*band
            };
        }
        for (band, freq) in [(0usize, 50.0), (1, 800.0), (2, 7_919.0)] {
            let mut mb = Multiband::new(FS, &s);
            let amplitude = 0.5;
            let len = 2 * 48_000;
            // Fade in over 0.5 s: no filter start-up overshoot in the detectors.
            let mut left: Vec<f32> = (0..len)
                .map(|n| {
                    let ramp = (n as f64 / 24_000.0).min(1.0);
                    (amplitude * ramp * (2.0 * PI * freq * n as f64 / FS).sin()) as f32
                })
                .collect();
            let mut right = left.clone();
            for (l, r) in left.chunks_mut(64).zip(right.chunks_mut(64)) {
                mb.process(l, r);
            }
            let responses = bands_at(freq, f1, f2);
            for (index, response) in responses.iter().enumerate() {
                let level = 20.0 * amplitude.log10() + response.db();
                let expected = reference_reduction(level, -30.0, 4.0, BAND_KNEE_DB);
                let got = mb.band_gain_reduction_db(index) as f64;
                println!("{freq} Hz tone: band {index} reduction {got:.3} dB, static curve at its level {expected:.3} dB");
                // The meter reads the detector just after the last peak ± the release droop.
                assert!((got - expected).abs() < 0.1, "band {index}");
            }
            assert!(mb.band_gain_reduction_db(band) > 5.0);
        }
    }

    #[test]
    fn neutral_and_bypass_are_bit_exact() {
        let signal = noise(20_000, 2, 0.9);
        let other = noise(20_000, 3, 0.9);
        let mut mb = Multiband::new(FS, &MultibandSettings::default());
        let (mut l, mut r) = (signal.clone(), other.clone());
        mb.process(&mut l, &mut r);
        assert_eq!((&l, &r), (&signal, &other));
        assert_eq!(mb.latency_samples(), 0);
        // Band bypass on compressing bands is neutral as well.
        let mut s = compressing_bands();
        s.bands.iter_mut().for_each(|band| band.bypass = true);
        let mut mb = Multiband::new(FS, &s);
        let (mut l, mut r) = (signal.clone(), other.clone());
        mb.process(&mut l, &mut r);
        assert_eq!((&l, &r), (&signal, &other));
        // Impulse at latency 0.
        let mut impulse = vec![0.0f32; 64];
        impulse[0] = 1.0;
        let (mut l, mut r) = (impulse.clone(), impulse.clone());
        mb.process(&mut l, &mut r);
        assert_eq!(l, impulse);
        // Active → bypass: crossfade, then bit-exact.
        let mut s = compressing_bands();
        s.bands[1].threshold_db = -40.0;
        let mut mb = Multiband::new(FS, &s);
        let (mut l, mut r) = (signal.clone(), other.clone());
        mb.process(&mut l[..9_600], &mut r[..9_600]);
        assert_ne!(l[9_599], signal[9_599]);
        mb.set_settings(&MultibandSettings { bypass: true, ..s });
        for (a, b) in l[9_600..].chunks_mut(64).zip(r[9_600..].chunks_mut(64)) {
            mb.process(a, b);
        }
        let fade = (FADE_MS * 1e-3 * FS) as usize;
        assert_eq!(&l[9_600 + fade..], &signal[9_600 + fade..]);
        assert_eq!(&r[9_600 + fade..], &other[9_600 + fade..]);
        assert_eq!(mb.band_gain_reduction_db(1), 0.0);
        // Crossfade is smooth: the largest step stays near the signal's own.
        let largest =
            l[9_500..9_600 + fade + 100].windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
        assert!(largest < 1.9);
    }

    #[test]
    fn block_size_invariance_and_reset() {
        let left = music_like(30_000, 4);
        let right = music_like(30_000, 5);
        let mut start = compressing_bands();
        start.bands[0].threshold_db = -30.0;
        start.bands[1].threshold_db = -25.0;
        start.bands[2].gain_db = 3.0;
        let mut later = start;
        later.crossover_low_hz = 300.0;
        later.crossover_high_hz = 4_000.0;
        later.bands[1].solo = true;
        later.bands[2].solo = true;
        later.bands[0].bypass = true;
        later.bands[2].ratio = 8.0;
        let cuts = [9_000, 18_000];
        let render = |kernel: Kernel, blocks: &[usize]| {
            let mut mb = Multiband::new(FS, &start).with_kernel(kernel);
            render_blocks(&left, &right, blocks, &cuts, |l, r, at| {
                if at == 9_000 {
                    mb.set_settings(&later);
                }
                if at == 18_000 {
                    mb.set_settings(&MultibandSettings::default());
                }
                mb.process(l, r)
            })
        };
        for kernel in [Kernel::detect(), Kernel::Portable] {
            let reference = render(kernel, &[30_000]);
            for blocks in block_patterns(30_000) {
                assert!(
                    render(kernel, &blocks) == reference,
                    "{kernel:?} {:?}",
                    &blocks[..blocks.len().min(5)]
                );
            }
            // Neutral again after 18 000 + fade: bit-exact input.
            assert_eq!(&reference.0[18_000 + 480..], &left[18_000 + 480..]);
        }
        let a = render(Kernel::detect(), &[64]);
        let b = render(Kernel::Portable, &[64]);
        let worst = a.0.iter().zip(&b.0).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        println!("portable vs detected kernel: max |difference| {worst:.2e}");
        assert!(worst < 1e-5);
        // Reset equals a fresh instance.
        let mut mb = Multiband::new(FS, &start);
        let (mut l, mut r) = (left.clone(), right.clone());
        mb.process(&mut l, &mut r);
        mb.reset();
        let (mut l, mut r) = (left.clone(), right.clone());
        mb.process(&mut l, &mut r);
        let mut fresh = Multiband::new(FS, &start);
        let (mut fl, mut fr) = (left.clone(), right.clone());
        fresh.process(&mut fl, &mut fr);
        assert!(l == fl && r == fr);
    }

    #[test]
    fn hostile_input_and_sample_rates() {
        let mut s = compressing_bands();
        s.bands.iter_mut().for_each(|band| band.threshold_db = -30.0);
        s.bands[1].gain_db = 12.0;
        for fs in [8_000.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0, 768_000.0] {
            let mut mb = Multiband::new(fs, &s);
            check_hostile(fs, |l, r| mb.process(l, r));
            assert!(mb.split.is_clean());
            assert!(mb.bands.iter().all(|band| band.detector.value().is_finite()));
            let mut quiet = vec![0.0f32; (fs * 10.0) as usize];
            let mut quiet_r = quiet.clone();
            mb.process(&mut quiet, &mut quiet_r);
            assert!((0..3).all(|band| mb.band_gain_reduction_db(band) < 0.01));
        }
        for fs in [8_000.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0, 768_000.0, 1.0, f64::NAN] {
            // Transparent split at every rate: a sine comes out at its level.
            let mut mb = Multiband::new(fs, &compressing_bands());
            let rate = clamp_sample_rate_hz(fs);
            let len = (rate * 0.5) as usize;
            let freq = 0.05 * rate;
            let input: Vec<f32> =
                (0..len).map(|n| (0.01 * (2.0 * PI * freq * n as f64 / rate).sin()) as f32).collect();
            let (mut l, mut r) = (input.clone(), input.clone());
            mb.process(&mut l, &mut r);
            let rms =
                |x: &[f32]| (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
            let gain_db = 20.0 * (rms(&l[len / 2..]) / rms(&input[len / 2..])).log10();
            println!(
                "fs {fs}: split ({:?}) passes a {freq} Hz sine at {gain_db:+.5} dB",
                (mb.settings.crossover_low_hz, mb.settings.crossover_high_hz)
            );
            assert!(gain_db.abs() < 0.01);
        }
    }

    #[test]
    fn settings_are_clamped() {
        let mut s =
            MultibandSettings { crossover_low_hz: 1_000.0, crossover_high_hz: 1_100.0, ..Default::default() };
        s.bands[0] = BandSettings {
            threshold_db: f64::NAN,
            ratio: 0.5,
            attack_ms: 1e9,
            release_ms: -3.0,
            gain_db: 99.0,
            bypass: false,
            solo: false,
        };
        let c = s.clamped(48_000.0);
        assert_eq!(c.crossover_low_hz, 1_000.0);
        assert!((c.crossover_high_hz / 1_000.0 - 2f64.powf(1.0 / 3.0)).abs() < 1e-12);
        let b = c.bands[0];
        assert_eq!(
            (b.threshold_db, b.ratio, b.attack_ms, b.release_ms, b.gain_db),
            (-20.0, 1.0, 100.0, 10.0, 24.0)
        );
        let c =
            MultibandSettings { crossover_low_hz: f64::NAN, crossover_high_hz: 1e9, ..Default::default() }
                .clamped(8_000.0);
        assert_eq!((c.crossover_low_hz, c.crossover_high_hz), (120.0, 3_600.0));
        assert_eq!(Multiband::new(FS, &s).band_gain_reduction_db(7), 0.0);
    }

    #[test]
    fn solo_and_gain_changes_are_smooth() {
        // Toggling a solo mid-signal moves the output over the 10 ms ramp, without a jump.
        let signal: Vec<f32> =
            (0..24_000).map(|n| (0.5 * (2.0 * PI * 100.0 * n as f64 / FS).sin()) as f32).collect();
        let mut s = MultibandSettings::default();
        s.bands[1].gain_db = 1.0;
        let mut mb = Multiband::new(FS, &s);
        let (mut l, mut r) = (signal.clone(), signal.clone());
        mb.process(&mut l[..12_000], &mut r[..12_000]);
        s.bands[2].solo = true;
        mb.set_settings(&s);
        for (a, b) in l[12_000..].chunks_mut(64).zip(r[12_000..].chunks_mut(64)) {
            mb.process(a, b);
        }
        let largest = l[11_000..13_000].windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
        let sine_step = (0.5 * 2.0 * PI * 100.0 / FS) as f32;
        // The level may change by at most amplitude / ramp length per sample on top of the sine.
        let ramp_step = 0.5 / (PARAMETER_RAMP_MS * 1e-3 * FS) as f32;
        println!("solo toggle: largest step {largest:.5} (sine's own {sine_step:.5} + ramp {ramp_step:.5})");
        assert!(largest <= (sine_step + ramp_step) * 1.01);
        // Soloed high band: a 100 Hz tone is gone.
        let tail = l[20_000..].iter().fold(0.0f32, |m, &x| m.max(x.abs()));
        assert!(tail < 0.5 * db_to_gain(-40.0) as f32);
    }
}
