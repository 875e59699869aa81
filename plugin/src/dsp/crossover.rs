//! Linkwitz–Riley crossovers: the band splitter of the multiband compressor and of the imager.
//!
//! A 4th-order Linkwitz–Riley (LR4) low-pass is two cascaded 2nd-order Butterworth low-passes
//! (Q = 1/√2), the high-pass likewise. In the analog prototype
//!
//! ```text
//! LP4(s) + HP4(s) = (1 + s⁴) / (s² + √2·s + 1)² = (s² − √2·s + 1) / (s² + √2·s + 1) = AP2(s),
//! ```
//!
//! a 2nd-order allpass with the Butterworth denominator. The filters are discretised with the
//! bilinear transform prewarped at the crossover frequency (`g = tan(π·f/fs)`, the same mapping as
//! the RBJ Audio EQ Cookbook, <https://www.w3.org/TR/audio-eq-cookbook/>). The bilinear transform is a
//! substitution `s → (1/g)·(1 − z⁻¹)/(1 + z⁻¹)`, so the identity survives discretisation exactly:
//! the digital LP4 + HP4 is the digital AP2, and each band is −6.02 dB at the crossover.
//!
//! A 3-band split at f1 < f2 ([`ThreeBandSplit`]):
//!
//! ```text
//! low  = AP2(f2) · LP4(f1)        (the allpass gives the low band the phase of the f2 split)
//! mid  = LP4(f2) · HP4(f1)
//! high = HP4(f2) · HP4(f1)
//! low + mid + high = AP2(f2)·LP4(f1) + AP2(f2)·HP4(f1) = AP2(f2) · AP2(f1)     (flat magnitude)
//! ```
//!
//! All state is f64. Single filters ([`Section`]: the compressor's sidechain high-pass, the
//! imager's mono maker, the allpass of the split) are direct-form-I biquads: DF-I keeps its state
//! as past inputs and outputs, so per-sample coefficient changes never put energy into hidden
//! states, and its recursion is one multiply-add long. The Butterworth numerators are fixed integer
//! patterns (`[1, 2, 1]`, `[1, −2, 1]`) and the allpass numerator is the reversed denominator. In
//! the split ([`ThreeBandSplit`]) the low- and high-pass of each crossover share their poles and
//! run side by side on four vector lanes (left/right × LP/HP) in transposed direct form II, whose
//! two state values per lane let the whole split stay in registers. In f64 the roundoff of either
//! form is negligible even for a 20 Hz crossover at 768 kHz (the test's band sum stays flat within
//! 10⁻⁴ dB there).
//!
//! The per-sample kernels are generic over [`MulAdd`] so that processors can compile them twice:
//! portable, and with FMA inside an AVX2 + FMA function chosen at run time ([`crate::dsp::kernel::Kernel`]).
//!
//! Frequency changes glide: the prewarped `g` moves geometrically (a straight line in
//! log-frequency) over [`FREQUENCY_GLIDE_MS`], with the coefficients recomputed every sample, so
//! there is no zipper noise. At the end of a glide the coefficients are exactly those a new
//! instance computes for the target.

use std::f64::consts::{PI, SQRT_2};

use super::kernel::MulAdd;

/// Lowest crossover frequency.
pub const MIN_CROSSOVER_HZ: f64 = 20.0;

/// Highest crossover frequency (further limited to [`MAX_FREQUENCY_FRACTION`] of the rate).
pub const MAX_CROSSOVER_HZ: f64 = 20_000.0;

/// Every frequency stays below this fraction of the sample rate.
pub const MAX_FREQUENCY_FRACTION: f64 = 0.45;

/// Minimum distance between the two crossovers of a 3-band split: 1/3 octave.
pub const MIN_BAND_SPACING_OCTAVES: f64 = 1.0 / 3.0;

/// Duration of a crossover-frequency glide.
pub const FREQUENCY_GLIDE_MS: f64 = 20.0;

/// Filter state below this magnitude is snapped to zero (about −400 dBFS).
pub const STATE_SNAP: f64 = 1.0e-20;

/// Clamps a frequency to [`min_hz`, `max_hz`] and below [`MAX_FREQUENCY_FRACTION`]·fs
/// (NaN → `default_hz`).
pub fn clamp_frequency_hz(
    freq_hz: f64,
    min_hz: f64,
    max_hz: f64,
    default_hz: f64,
    sample_rate_hz: f64,
) -> f64 {
    let freq_hz = if freq_hz.is_nan() { default_hz } else { freq_hz };
    freq_hz.clamp(min_hz, max_hz).min(MAX_FREQUENCY_FRACTION * sample_rate_hz)
}

/// Clamps a crossover pair to [`MIN_CROSSOVER_HZ`]..[`MAX_CROSSOVER_HZ`] (and below 0.45·fs) with
/// `high ≥ low · 2^(1/3)`. The low frequency wins: the high one is pushed up; only when there is no
/// room left above is the low one pushed down. NaN → the given defaults.
pub fn clamp_crossover_pair_hz(
    low_hz: f64,
    high_hz: f64,
    default_low_hz: f64,
    default_high_hz: f64,
    sample_rate_hz: f64,
) -> (f64, f64) {
    let spacing = MIN_BAND_SPACING_OCTAVES.exp2();
    let top = MAX_CROSSOVER_HZ.min(MAX_FREQUENCY_FRACTION * sample_rate_hz);
    let low = clamp_frequency_hz(low_hz, MIN_CROSSOVER_HZ, MAX_CROSSOVER_HZ, default_low_hz, sample_rate_hz)
        .min(top / spacing);
    let high =
        clamp_frequency_hz(high_hz, MIN_CROSSOVER_HZ, MAX_CROSSOVER_HZ, default_high_hz, sample_rate_hz)
            .max(low * spacing)
            .min(top);
    (low, high)
}

/// The prewarped frequency `g = tan(π·f/fs)` of the bilinear transform.
#[inline]
pub fn prewarp(freq_hz: f64, sample_rate_hz: f64) -> f64 {
    (PI * freq_hz / sample_rate_hz).tan()
}

/// Coefficients of the 2nd-order Butterworth sections at one frequency. Low-pass, high-pass and
/// allpass share the denominator `1 + a1·z⁻¹ + a2·z⁻²`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ButterworthCoefficients {
    /// Low-pass gain: `LP(z) = lowpass_gain·(1 + z⁻¹)² / A(z)`.
    pub lowpass_gain: f64,
    /// High-pass gain: `HP(z) = highpass_gain·(1 − z⁻¹)² / A(z)`.
    pub highpass_gain: f64,
    /// First denominator coefficient.
    pub a1: f64,
    /// Second denominator coefficient. The allpass is `(a2 + a1·z⁻¹ + z⁻²) / A(z)`.
    pub a2: f64,
}

impl ButterworthCoefficients {
    /// Coefficients for `freq_hz` at `sample_rate_hz` (the caller clamps the frequency).
    pub fn new(freq_hz: f64, sample_rate_hz: f64) -> Self {
        Self::from_prewarped(prewarp(freq_hz, sample_rate_hz))
    }

    /// Coefficients from the prewarped frequency `g` (bilinear transform of `1/(s² + √2·s + 1)`:
    /// denominator `(1 + √2g + g²) + 2(g² − 1)·z⁻¹ + (1 − √2g + g²)·z⁻²`).
    #[inline]
    pub fn from_prewarped(g: f64) -> Self {
        let g2 = g * g;
        let norm = 1.0 / (1.0 + SQRT_2 * g + g2);
        Self {
            lowpass_gain: g2 * norm,
            highpass_gain: norm,
            a1: 2.0 * (g2 - 1.0) * norm,
            a2: (1.0 - SQRT_2 * g + g2) * norm,
        }
    }
}

/// A crossover frequency that glides to new values (geometrically in `g`, i.e. along
/// log-frequency) over [`FREQUENCY_GLIDE_MS`], recomputing the coefficients every sample.
#[derive(Debug, Clone)]
pub struct FrequencyGlide {
    /// Sample rate (already clamped).
    sample_rate_hz: f64,
    /// Glide length in samples (≥ 1): `FREQUENCY_GLIDE_MS · fs`.
    glide_samples: u32,
    /// Current prewarped frequency.
    current: f64,
    /// Prewarped target frequency.
    target: f64,
    /// Per-sample ratio of the geometric glide.
    step_ratio: f64,
    /// Samples left in the glide (0 = at rest on the target).
    remaining: u32,
    /// Coefficients for `current`.
    coefficients: ButterworthCoefficients,
}

impl FrequencyGlide {
    /// A glide at rest on `freq_hz` (already clamped by the caller).
    pub fn new(freq_hz: f64, sample_rate_hz: f64) -> Self {
        let target = prewarp(freq_hz, sample_rate_hz);
        let glide_samples = ((FREQUENCY_GLIDE_MS * 1e-3 * sample_rate_hz).round() as u32).max(1);
        Self {
            sample_rate_hz,
            glide_samples,
            current: target,
            target,
            step_ratio: 1.0,
            remaining: 0,
            coefficients: ButterworthCoefficients::from_prewarped(target),
        }
    }

    /// Starts a glide to `freq_hz` (no-op if it is already the target).
    pub fn set_frequency_hz(&mut self, freq_hz: f64) {
        let target = prewarp(freq_hz, self.sample_rate_hz);
        if target == self.target {
            return;
        }
        self.target = target;
        self.remaining = self.glide_samples;
        self.step_ratio = (target / self.current).powf(1.0 / self.glide_samples as f64);
    }

    /// Jumps to the target.
    pub fn settle(&mut self) {
        self.current = self.target;
        self.remaining = 0;
        self.coefficients = ButterworthCoefficients::from_prewarped(self.target);
    }

    /// True while the frequency moves.
    #[inline]
    pub fn is_gliding(&self) -> bool {
        self.remaining != 0
    }

    /// Coefficients of the current sample.
    #[inline]
    pub fn coefficients(&self) -> &ButterworthCoefficients {
        &self.coefficients
    }

    /// Moves one sample along the glide (no-op at rest).
    #[inline]
    pub fn advance(&mut self) {
        if self.remaining == 0 {
            return;
        }
        self.remaining -= 1;
        self.current = if self.remaining == 0 { self.target } else { self.current * self.step_ratio };
        self.coefficients = ButterworthCoefficients::from_prewarped(self.current);
    }
}

/// State of one direct-form-I biquad section over `N` parallel lanes (channels) that share the
/// coefficients.
#[derive(Debug, Clone, Copy)]
pub struct Section<const N: usize> {
    /// Previous input.
    x1: [f64; N],
    /// Input before that.
    x2: [f64; N],
    /// Previous output.
    y1: [f64; N],
    /// Output before that.
    y2: [f64; N],
}

impl<const N: usize> Default for Section<N> {
    fn default() -> Self {
        Self { x1: [0.0; N], x2: [0.0; N], y1: [0.0; N], y2: [0.0; N] }
    }
}

impl<const N: usize> Section<N> {
    /// Clears the state.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Snaps state below [`STATE_SNAP`] to zero; non-finite state (impossible with finite input,
    /// kept as a safety net) clears the section.
    pub fn snap(&mut self) {
        let mut finite = true;
        for state in [&mut self.x1, &mut self.x2, &mut self.y1, &mut self.y2] {
            for value in state.iter_mut() {
                finite &= value.is_finite();
                if value.abs() < STATE_SNAP {
                    *value = 0.0;
                }
            }
        }
        if !finite {
            self.reset();
        }
    }

    /// True when every state value is zero or a normal number of at least [`STATE_SNAP`]·10⁻⁶
    /// (tests: no subnormal or denormal-bound state).
    #[cfg(test)]
    pub fn is_clean(&self) -> bool {
        [self.x1, self.x2, self.y1, self.y2]
            .iter()
            .flatten()
            .all(|v| *v == 0.0 || (v.is_normal() && v.abs() > 1e-300))
    }

    /// Shifts the delay lines after computing output `y` from input `x`.
    #[inline(always)]
    fn push(&mut self, x: [f64; N], y: [f64; N]) {
        self.x2 = self.x1;
        self.x1 = x;
        self.y2 = self.y1;
        self.y1 = y;
    }

    /// Recursive part shared by low- and high-pass: `gain·fir − a2·y[n−2] − a1·y[n−1]`, with the
    /// y[n−2] term first so only y[n−1] sits on the loop-carried path (one multiply-add).
    #[inline(always)]
    fn recurse<M: MulAdd>(
        &mut self,
        c: &ButterworthCoefficients,
        gain: f64,
        x: [f64; N],
        fir: [f64; N],
    ) -> [f64; N] {
        let mut y = [0.0; N];
        for lane in 0..N {
            let partial = M::mul_add(-c.a2, self.y2[lane], gain * fir[lane]);
            y[lane] = M::mul_add(-c.a1, self.y1[lane], partial);
        }
        self.push(x, y);
        y
    }

    /// One sample of the Butterworth low-pass.
    #[inline(always)]
    pub fn lowpass<M: MulAdd>(&mut self, c: &ButterworthCoefficients, x: [f64; N]) -> [f64; N] {
        let mut fir = [0.0; N];
        for lane in 0..N {
            fir[lane] = (x[lane] + self.x2[lane]) + 2.0 * self.x1[lane];
        }
        self.recurse::<M>(c, c.lowpass_gain, x, fir)
    }

    /// One sample of the Butterworth high-pass.
    #[inline(always)]
    pub fn highpass<M: MulAdd>(&mut self, c: &ButterworthCoefficients, x: [f64; N]) -> [f64; N] {
        let mut fir = [0.0; N];
        for lane in 0..N {
            fir[lane] = (x[lane] + self.x2[lane]) - 2.0 * self.x1[lane];
        }
        self.recurse::<M>(c, c.highpass_gain, x, fir)
    }

    /// One sample of the 2nd-order allpass with the Butterworth denominator (= LP4 + HP4):
    /// `a2·(x − y[n−2]) + x[n−2] + a1·x[n−1] − a1·y[n−1]`.
    #[inline(always)]
    pub fn allpass<M: MulAdd>(&mut self, c: &ButterworthCoefficients, x: [f64; N]) -> [f64; N] {
        let mut y = [0.0; N];
        for lane in 0..N {
            let partial = M::mul_add(c.a2, x[lane] - self.y2[lane], self.x2[lane]);
            let partial = M::mul_add(c.a1, self.x1[lane], partial);
            y[lane] = M::mul_add(-c.a1, self.y1[lane], partial);
        }
        self.push(x, y);
        y
    }
}

/// Coefficients of a [`DualSection`]: lanes 0–1 low-pass, lanes 2–3 high-pass (same poles).
#[derive(Debug, Clone, Copy, PartialEq)]
struct DualCoefficients {
    /// Outer numerator coefficient per lane (`b0 = b2`).
    b0: [f64; 4],
    /// Middle numerator coefficient per lane (`±2·b0`).
    b1: [f64; 4],
    /// −a1 per lane.
    minus_a1: [f64; 4],
    /// −a2 per lane.
    minus_a2: [f64; 4],
}

impl DualCoefficients {
    /// Low-pass on lanes 0–1, high-pass on lanes 2–3.
    fn new(c: &ButterworthCoefficients) -> Self {
        let (lp, hp) = (c.lowpass_gain, c.highpass_gain);
        Self {
            b0: [lp, lp, hp, hp],
            b1: [2.0 * lp, 2.0 * lp, -2.0 * hp, -2.0 * hp],
            minus_a1: [-c.a1; 4],
            minus_a2: [-c.a2; 4],
        }
    }
}

/// Two Butterworth sections with the same poles, run side by side on four lanes (left and right
/// low-pass, left and right high-pass), so that one 4-wide vector operation serves both.
///
/// Transposed direct form II: two state values per lane instead of DF-I's four, so the whole
/// split's state fits in vector registers (the DF-I version spilled to the stack on every sample
/// and ran at half the speed). In f64 its roundoff is as negligible as DF-I's, and the 20 ms
/// geometric frequency glides are slow enough for the state (scaled by the previous sample's
/// coefficients) to follow without audible transients.
#[derive(Debug, Clone, Copy, Default)]
struct DualSection {
    /// First state per lane.
    s1: [f64; 4],
    /// Second state per lane.
    s2: [f64; 4],
}

impl DualSection {
    /// One sample on all four lanes: `y = b0·x + s1; s1 = b1·x − a1·y + s2; s2 = b0·x − a2·y`.
    #[inline(always)]
    fn step<M: MulAdd>(&mut self, c: &DualCoefficients, x: [f64; 4]) -> [f64; 4] {
        let mut y = [0.0; 4];
        for lane in 0..4 {
            let outer = c.b0[lane] * x[lane];
            y[lane] = outer + self.s1[lane];
            self.s1[lane] =
                M::mul_add(c.minus_a1[lane], y[lane], M::mul_add(c.b1[lane], x[lane], self.s2[lane]));
            self.s2[lane] = M::mul_add(c.minus_a2[lane], y[lane], outer);
        }
        y
    }

    /// Snaps tiny state to zero; clears non-finite state.
    fn snap(&mut self) {
        let mut finite = true;
        for state in [&mut self.s1, &mut self.s2] {
            for value in state.iter_mut() {
                finite &= value.is_finite();
                if value.abs() < STATE_SNAP {
                    *value = 0.0;
                }
            }
        }
        if !finite {
            *self = Self::default();
        }
    }
}

/// Frames per internal pass of [`ThreeBandSplit::split_block`].
pub const SPLIT_BLOCK_FRAMES: usize = 64;

/// A stereo 3-band Linkwitz–Riley split at `low_hz` < `high_hz` (see the module doc). The two
/// lanes are independent channels (left/right, or mid/side).
///
/// The low-pass and high-pass of each crossover share their poles and run side by side on four
/// lanes, so the whole split is four 4-wide sections and one 2-wide allpass per frame. Blocks run
/// in two passes (the f1 sections, then the f2 sections and the allpass), each small enough for
/// its state and coefficients to stay in registers.
#[derive(Debug, Clone)]
pub struct ThreeBandSplit {
    /// Lower crossover (f1).
    low_glide: FrequencyGlide,
    /// Upper crossover (f2).
    high_glide: FrequencyGlide,
    /// First LP/HP sections at f1.
    low_first: DualSection,
    /// Second LP/HP sections at f1: LP4(f1) on lanes 0–1, HP4(f1) on lanes 2–3.
    low_second: DualSection,
    /// Allpass at f2 on the low band.
    low_allpass: Section<2>,
    /// First LP/HP sections at f2 on HP4(f1).
    high_first: DualSection,
    /// Second LP/HP sections at f2: mid band on lanes 0–1, high band on lanes 2–3.
    high_second: DualSection,
    /// Output of the first pass: `[LP4(f1) L, LP4(f1) R, HP4(f1) L, HP4(f1) R]` per frame.
    scratch: Box<[[f64; 4]; SPLIT_BLOCK_FRAMES]>,
}

impl ThreeBandSplit {
    /// A split at rest on the given (already clamped) frequencies (allocates its scratch).
    pub fn new(low_hz: f64, high_hz: f64, sample_rate_hz: f64) -> Self {
        Self {
            low_glide: FrequencyGlide::new(low_hz, sample_rate_hz),
            high_glide: FrequencyGlide::new(high_hz, sample_rate_hz),
            low_first: DualSection::default(),
            low_second: DualSection::default(),
            low_allpass: Section::default(),
            high_first: DualSection::default(),
            high_second: DualSection::default(),
            scratch: Box::new([[0.0; 4]; SPLIT_BLOCK_FRAMES]),
        }
    }

    /// Starts gliding to new (already clamped) crossover frequencies.
    pub fn set_frequencies_hz(&mut self, low_hz: f64, high_hz: f64) {
        self.low_glide.set_frequency_hz(low_hz);
        self.high_glide.set_frequency_hz(high_hz);
    }

    /// Jumps to the target frequencies.
    pub fn settle(&mut self) {
        self.low_glide.settle();
        self.high_glide.settle();
    }

    /// Clears the filter state (frequencies untouched).
    pub fn clear(&mut self) {
        for section in
            [&mut self.low_first, &mut self.low_second, &mut self.high_first, &mut self.high_second]
        {
            *section = DualSection::default();
        }
        self.low_allpass.reset();
    }

    /// Snaps tiny state to zero (call at fixed sample positions to stay block-size invariant).
    pub fn snap(&mut self) {
        for section in
            [&mut self.low_first, &mut self.low_second, &mut self.high_first, &mut self.high_second]
        {
            section.snap();
        }
        self.low_allpass.snap();
    }

    /// True while either frequency glides.
    #[inline]
    pub fn is_gliding(&self) -> bool {
        self.low_glide.is_gliding() || self.high_glide.is_gliding()
    }

    /// True when no state value is subnormal or non-finite (tests).
    #[cfg(test)]
    pub fn is_clean(&self) -> bool {
        let duals = [&self.low_first, &self.low_second, &self.high_first, &self.high_second];
        duals
            .iter()
            .all(|d| d.s1.iter().chain(d.s2.iter()).all(|v| *v == 0.0 || (v.is_normal() && v.abs() > 1e-300)))
            && self.low_allpass.is_clean()
    }

    /// Splits a block: `output(index, [low, mid, high])` (each `[lane 0, lane 1]`) is called for
    /// every frame of `input`, in order. The state lives in registers during each pass, and the
    /// coefficients are hoisted out of the loops unless a frequency glides.
    #[inline(always)]
    pub fn split_block<M: MulAdd>(
        &mut self,
        mut input: impl Iterator<Item = [f64; 2]>,
        mut output: impl FnMut(usize, [[f64; 2]; 3]),
    ) {
        let mut index = 0;
        loop {
            let frames = self.first_pass::<M>(&mut input);
            if frames == 0 {
                break;
            }
            self.second_pass::<M>(frames, |i, bands| output(index + i, bands));
            index += frames;
            if frames < SPLIT_BLOCK_FRAMES {
                break;
            }
        }
    }

    /// LP4(f1) and HP4(f1) of up to [`SPLIT_BLOCK_FRAMES`] frames into the scratch; returns the
    /// number of frames taken from `input`.
    #[inline(always)]
    fn first_pass<M: MulAdd>(&mut self, input: &mut impl Iterator<Item = [f64; 2]>) -> usize {
        let (mut first, mut second) = (self.low_first, self.low_second);
        let mut frames = 0;
        if self.low_glide.is_gliding() {
            for (slot, [l, r]) in self.scratch.iter_mut().zip(input) {
                self.low_glide.advance();
                let c = DualCoefficients::new(self.low_glide.coefficients());
                *slot = second.step::<M>(&c, first.step::<M>(&c, [l, r, l, r]));
                frames += 1;
            }
        } else {
            let c = DualCoefficients::new(self.low_glide.coefficients());
            for (slot, [l, r]) in self.scratch.iter_mut().zip(input) {
                *slot = second.step::<M>(&c, first.step::<M>(&c, [l, r, l, r]));
                frames += 1;
            }
        }
        (self.low_first, self.low_second) = (first, second);
        frames
    }

    /// Allpass on the low band and LP4/HP4(f2) on the upper band of the scratch.
    #[inline(always)]
    fn second_pass<M: MulAdd>(&mut self, frames: usize, mut output: impl FnMut(usize, [[f64; 2]; 3])) {
        let (mut first, mut second, mut allpass) = (self.high_first, self.high_second, self.low_allpass);
        let glide = &mut self.high_glide;
        let gliding = glide.is_gliding();
        let mut coefficients = *glide.coefficients();
        let mut dual = DualCoefficients::new(&coefficients);
        for (index, &[low_l, low_r, up_l, up_r]) in self.scratch.iter().take(frames).enumerate() {
            if gliding {
                glide.advance();
                coefficients = *glide.coefficients();
                dual = DualCoefficients::new(&coefficients);
            }
            let low = allpass.allpass::<M>(&coefficients, [low_l, low_r]);
            let [mid_l, mid_r, high_l, high_r] =
                second.step::<M>(&dual, first.step::<M>(&dual, [up_l, up_r, up_l, up_r]));
            output(index, [low, [mid_l, mid_r], [high_l, high_r]]);
        }
        (self.high_first, self.high_second, self.low_allpass) = (first, second, allpass);
    }

    /// Splits one frame (convenience wrapper of [`ThreeBandSplit::split_block`]).
    pub fn split<M: MulAdd>(&mut self, frame: [f64; 2]) -> [[f64; 2]; 3] {
        let mut bands = [[0.0; 2]; 3];
        self.split_block::<M>(std::iter::once(frame), |_, out| bands = out);
        bands
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::kernel::Separate;

    /// Analytic LR4 responses from the analog prototype through the bilinear map
    /// `Ω = tan(π f / fs) / tan(π fc / fs)`: |LP4|² ... as complex values.
    #[derive(Clone, Copy, Debug)]
    struct C(f64, f64);
    impl C {
        fn mul(self, o: C) -> C {
            C(self.0 * o.0 - self.1 * o.1, self.0 * o.1 + self.1 * o.0)
        }
        fn div(self, o: C) -> C {
            let d = o.0 * o.0 + o.1 * o.1;
            C((self.0 * o.0 + self.1 * o.1) / d, (self.1 * o.0 - self.0 * o.1) / d)
        }
        fn abs(self) -> f64 {
            self.0.hypot(self.1)
        }
    }

    /// Analog Butterworth sections at s = jΩ: (LP2, HP2, AP2).
    fn butterworth(freq_hz: f64, crossover_hz: f64, fs: f64) -> (C, C, C) {
        let w = (PI * freq_hz / fs).tan() / (PI * crossover_hz / fs).tan();
        let den = C(1.0 - w * w, SQRT_2 * w);
        let lp = C(1.0, 0.0).div(den);
        let hp = C(-w * w, 0.0).div(den);
        let ap = C(1.0 - w * w, -SQRT_2 * w).div(den);
        (lp, hp, ap)
    }

    /// Analytic (complex) 3-band responses.
    fn three_band(freq_hz: f64, f1: f64, f2: f64, fs: f64) -> [C; 3] {
        let (lp1, hp1, _) = butterworth(freq_hz, f1, fs);
        let (lp2, hp2, ap2) = butterworth(freq_hz, f2, fs);
        [lp1.mul(lp1).mul(ap2), hp1.mul(hp1).mul(lp2).mul(lp2), hp1.mul(hp1).mul(hp2).mul(hp2)]
    }

    /// Magnitude (dB) of an impulse response at `freq_hz` by a naive DFT.
    fn dft_db(ir: &[f64], freq_hz: f64, fs: f64) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (n, x) in ir.iter().enumerate() {
            let phase = -2.0 * PI * freq_hz * n as f64 / fs;
            re += x * phase.cos();
            im += x * phase.sin();
        }
        20.0 * re.hypot(im).log10()
    }

    fn band_impulse_responses(f1: f64, f2: f64, fs: f64, len: usize) -> [Vec<f64>; 4] {
        let mut split = ThreeBandSplit::new(f1, f2, fs);
        let mut out: [Vec<f64>; 4] = Default::default();
        for n in 0..len {
            let x = if n == 0 { 1.0 } else { 0.0 };
            if n % 64 == 0 {
                split.snap();
            }
            let [low, mid, high] = split.split::<Separate>([x, -0.5 * x]);
            if n < 100 {
                // The lanes are independent channels: lane 1 is exactly −½ × lane 0 (until the
                // snapping of tiny tails treats them differently).
                assert_eq!([low[1], mid[1], high[1]], [-0.5 * low[0], -0.5 * mid[0], -0.5 * high[0]]);
            }
            out[0].push(low[0]);
            out[1].push(mid[0]);
            out[2].push(high[0]);
            out[3].push(low[0] + mid[0] + high[0]);
        }
        out
    }

    fn log_frequencies(fs: f64) -> Vec<f64> {
        (0..60).map(|i| 10.0 * 2f64.powf(i as f64 / 5.0)).filter(|&f| f < 0.49 * fs).collect()
    }

    #[test]
    fn sum_is_flat_and_bands_match_the_analytic_lr4() {
        for fs in [44_100.0, 48_000.0, 96_000.0, 192_000.0] {
            let (f1, f2) = (120.0, 2_500.0);
            let irs = band_impulse_responses(f1, f2, fs, 1 << 16);
            let mut worst_sum: f64 = 0.0;
            let mut worst_band: f64 = 0.0;
            for freq in log_frequencies(fs) {
                worst_sum = worst_sum.max(dft_db(&irs[3], freq, fs).abs());
                let expected = three_band(freq, f1, f2, fs);
                for band in 0..3 {
                    let exp_db = 20.0 * expected[band].abs().log10();
                    if exp_db > -100.0 {
                        worst_band = worst_band.max((dft_db(&irs[band], freq, fs) - exp_db).abs());
                    }
                }
            }
            println!(
                "fs {fs}: sum flatness max |dev| = {worst_sum:.2e} dB, band vs analytic {worst_band:.2e} dB"
            );
            assert!(worst_sum < 0.01);
            assert!(worst_band < 0.01);
            // At the crossovers each adjacent band is at −6.02 dB (|1/2|).
            let at_f1 = dft_db(&irs[0], f1, fs);
            let mid_at_f2 = dft_db(&irs[1], f2, fs);
            let high_at_f2 = dft_db(&irs[2], f2, fs);
            println!("  low @f1 {at_f1:.4} dB, mid @f2 {mid_at_f2:.4} dB, high @f2 {high_at_f2:.4} dB");
            assert!((at_f1 + 6.0206).abs() < 0.01);
            assert!((high_at_f2 + 6.0206).abs() < 0.01);
        }
    }

    #[test]
    fn extreme_rates_stay_flat() {
        for fs in [8_000.0, 768_000.0] {
            let (f1, f2) = clamp_crossover_pair_hz(20.0, 3_000.0, 120.0, 2_500.0, fs);
            let irs = band_impulse_responses(f1, f2, fs, 1 << 17);
            let worst = [f1 / 2.0, f1, 1_000.0, f2, 0.4 * fs]
                .iter()
                .map(|&f| dft_db(&irs[3], f, fs).abs())
                .fold(0.0, f64::max);
            println!("fs {fs}: f1 {f1} f2 {f2:.1}, sum max |dev| {worst:.2e} dB");
            assert!(worst < 0.01);
        }
    }

    #[test]
    fn crossover_pair_is_clamped_and_spaced() {
        let spacing = 2f64.powf(1.0 / 3.0);
        let (lo, hi) = clamp_crossover_pair_hz(1_000.0, 900.0, 120.0, 2_500.0, 48_000.0);
        assert_eq!(lo, 1_000.0);
        assert!((hi - 1_000.0 * spacing).abs() < 1e-9);
        let (lo, hi) = clamp_crossover_pair_hz(30_000.0, 40_000.0, 120.0, 2_500.0, 48_000.0);
        assert_eq!(hi, 20_000.0);
        assert!((lo - 20_000.0 / spacing).abs() < 1e-9);
        let (lo, hi) = clamp_crossover_pair_hz(f64::NAN, f64::NAN, 120.0, 2_500.0, 8_000.0);
        assert_eq!((lo, hi), (120.0, 2_500.0));
        let (lo, hi) = clamp_crossover_pair_hz(5.0, 1e9, 120.0, 2_500.0, 8_000.0);
        assert_eq!((lo, hi), (20.0, 3_600.0));
    }

    #[test]
    fn glide_ends_on_exact_coefficients_and_moves_monotonically() {
        let fs = 48_000.0;
        let mut glide = FrequencyGlide::new(100.0, fs);
        glide.set_frequency_hz(1_000.0);
        let mut previous = glide.coefficients().lowpass_gain;
        let mut steps = 0;
        let mut largest_ratio: f64 = 1.0;
        while glide.is_gliding() {
            glide.advance();
            let gain = glide.coefficients().lowpass_gain;
            assert!(gain > previous);
            largest_ratio = largest_ratio.max(gain / previous);
            previous = gain;
            steps += 1;
        }
        assert_eq!(steps, (FREQUENCY_GLIDE_MS * 48.0) as usize);
        assert_eq!(*glide.coefficients(), ButterworthCoefficients::new(1_000.0, fs));
        // A decade in 960 samples: each step moves g by 0.24 %, no audible zipper.
        println!("largest per-sample coefficient ratio {largest_ratio:.5}");
        assert!(largest_ratio < 1.006);
    }

    #[test]
    fn gliding_split_stays_bounded_and_smooth() {
        // A sine through a split whose crossovers sweep: the band sum stays close to the input
        // level (allpass), with no jumps larger than the sine's own slope.
        let fs = 48_000.0;
        let mut split = ThreeBandSplit::new(100.0, 1_000.0, fs);
        let mut max_step: f64 = 0.0;
        let mut peak: f64 = 0.0;
        let mut previous = 0.0;
        for n in 0..48_000 {
            if n % 64 == 0 {
                let t = n as f64 / 48_000.0;
                split.set_frequencies_hz(100.0 * (1.0 + 4.0 * t), 1_000.0 * (1.0 + 8.0 * t));
            }
            let x = (2.0 * PI * 440.0 * n as f64 / fs).sin();
            let [a, b, c] = split.split::<Separate>([x, x]);
            let y = a[0] + b[0] + c[0];
            if n > 4_800 {
                max_step = max_step.max((y - previous).abs());
                peak = peak.max(y.abs());
            }
            previous = y;
        }
        let sine_slope = 2.0 * PI * 440.0 / fs;
        println!("sweeping split: peak {peak:.4}, max step {max_step:.4} (sine slope {sine_slope:.4})");
        assert!(peak < 1.02 && peak > 0.98);
        assert!(max_step < sine_slope * 1.05);
    }
}
