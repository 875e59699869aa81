//! Stereo imager: mid/side width, per-band width and a mono maker for the low end.
//!
//! ```text
//! M = (L + R)/2, S = (L − R)/2
//! mono maker:  M ← AP2(fm)·M,  S ← HP4(fm)·S          (LR4 high-pass on S, matching allpass on M)
//! band widths: [M, S] → 3-band LR4 split → M ← Σ M_b,  S ← Σ w_b·S_b
//! width:       S ← w·S
//! L = M + S, R = M − S
//! ```
//!
//! - **Width** scales the side signal only: 0 % is mono (`L == R`, bit for bit), 100 % is the
//!   identity, 200 % doubles S.
//! - **Mono maker** removes the side signal below `mono_maker_hz` with a Linkwitz–Riley 4th-order
//!   high-pass on S (−6.02 dB at the frequency, 24 dB/octave below). M passes through the matching
//!   2nd-order allpass (`LP4 + HP4 = AP2`, see [`crate::dsp::crossover`]), so above the frequency M
//!   and S keep the same phase and the image stays exactly where it was; below it the signal is
//!   mono.
//! - **Per-band widths** split S at the engine's multiband crossovers (same LR4 split, f64 state)
//!   and weight each band; M runs through the identical split and is summed again, i.e. it gets
//!   exactly the allpass phase the side bands get (`Σ bands = AP2(f1)·AP2(f2)`), so the image
//!   stays coherent. With every band at 100 % the split is skipped.
//! - Changes ramp (10 ms for widths, 20 ms glides for frequencies); switching the mono maker or the
//!   band split on or off crossfades (10 ms) between the filtered and unfiltered paths. Those two
//!   paths differ in phase (allpass), so a switch is a short, smooth phase transition rather than a
//!   click.
//! - **Neutral** (width and every band width 100 %, mono maker off) and **bypass** fade (10 ms) to
//!   the input, then pass it bit for bit. No latency. (Non-finite, absurd and sub-audio input
//!   samples become 0 first, see [`crate::dsp::envelope::sanitize`].)
//!
//! The M/S arithmetic of the filter paths runs in f64; the plain width path runs in f32. Kernels
//! are compiled for AVX2 + FMA when the CPU has them.

use crate::dsp::clamp_sample_rate_hz;
use crate::dsp::crossover::{
    clamp_crossover_pair_hz, clamp_frequency_hz, FrequencyGlide, Section, ThreeBandSplit,
};
use crate::dsp::envelope::{
    clamp_or, ramp_samples, sanitize, snap_output, Ramp, CHUNK_FRAMES, FADE_MS, PARAMETER_RAMP_MS,
};
#[cfg(target_arch = "x86_64")]
use crate::dsp::kernel::Fused;
use crate::dsp::kernel::{Kernel, MulAdd, Separate};

/// Default band-width crossovers (Hz): the multiband's (the plugin shares one pair of crossover
/// parameters between the two stages).
pub use crate::dsp::multiband::{DEFAULT_CROSSOVER_HIGH_HZ, DEFAULT_CROSSOVER_LOW_HZ};

/// Lowest mono-maker frequency (Hz).
pub const MIN_MONO_MAKER_HZ: f64 = 20.0;

/// Highest mono-maker frequency (Hz).
pub const MAX_MONO_MAKER_HZ: f64 = 300.0;

/// Settings of the imager.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImagerSettings {
    /// Overall width in percent (side gain ×0.01), 0..200, default 100 (identity). 0 = mono.
    pub width_percent: f64,
    /// Width of the low, mid and high band in percent, 0..200 each, default 100 (no split).
    pub band_width_percent: [f64; 3],
    /// Lower band crossover in Hz, 20..20000 (and < 0.45·fs), default 120 (pass the multiband's).
    pub crossover_low_hz: f64,
    /// Upper band crossover in Hz, at least 1/3 octave above the lower one, default 2500.
    pub crossover_high_hz: f64,
    /// Mono maker on/off, default off.
    pub mono_maker_enabled: bool,
    /// Mono maker frequency in Hz (side signal below it is removed), 20..300, default 120.
    pub mono_maker_hz: f64,
    /// Bypass: fades to the input (10 ms), then passes it bit for bit.
    pub bypass: bool,
}

impl Default for ImagerSettings {
    fn default() -> Self {
        Self {
            width_percent: 100.0,
            band_width_percent: [100.0; 3],
            crossover_low_hz: DEFAULT_CROSSOVER_LOW_HZ,
            crossover_high_hz: DEFAULT_CROSSOVER_HIGH_HZ,
            mono_maker_enabled: false,
            mono_maker_hz: 120.0,
            bypass: false,
        }
    }
}

impl ImagerSettings {
    /// Clamped copy (frequencies also limited for `sample_rate_hz`; NaN → default).
    pub fn clamped(&self, sample_rate_hz: f64) -> Self {
        let (low, high) = clamp_crossover_pair_hz(
            self.crossover_low_hz,
            self.crossover_high_hz,
            DEFAULT_CROSSOVER_LOW_HZ,
            DEFAULT_CROSSOVER_HIGH_HZ,
            sample_rate_hz,
        );
        let mut band_width_percent = self.band_width_percent;
        band_width_percent.iter_mut().for_each(|w| *w = clamp_or(*w, 0.0, 200.0, 100.0));
        Self {
            width_percent: clamp_or(self.width_percent, 0.0, 200.0, 100.0),
            band_width_percent,
            crossover_low_hz: low,
            crossover_high_hz: high,
            mono_maker_enabled: self.mono_maker_enabled,
            mono_maker_hz: clamp_frequency_hz(
                self.mono_maker_hz,
                MIN_MONO_MAKER_HZ,
                MAX_MONO_MAKER_HZ,
                120.0,
                sample_rate_hz,
            ),
            bypass: self.bypass,
        }
    }

    /// True when some band width differs from 100 %.
    fn uses_bands(&self) -> bool {
        self.band_width_percent.iter().any(|&w| w != 100.0)
    }

    /// True when the settings leave the signal untouched.
    fn is_neutral(&self) -> bool {
        self.width_percent == 100.0 && !self.uses_bands() && !self.mono_maker_enabled
    }
}

/// The stereo imager (see the module doc).
#[derive(Debug, Clone)]
pub struct Imager {
    /// Sample rate (clamped).
    sample_rate_hz: f64,
    /// Current settings, clamped (dirty check).
    settings: ImagerSettings,
    /// Mono-maker frequency.
    mono_glide: FrequencyGlide,
    /// Mono maker: the two high-pass sections on S.
    mono_highpass: [Section<1>; 2],
    /// Mono maker: the allpass on M.
    mono_allpass: Section<1>,
    /// Band split of [M, S].
    split: ThreeBandSplit,
    /// Mono-maker path amount (crossfade, 0..1).
    mono_amount: Ramp,
    /// Band-split path amount (crossfade, 0..1).
    band_amount: Ramp,
    /// Side gain of each band (fraction).
    band_widths: [Ramp; 3],
    /// Overall side gain (fraction).
    width: Ramp,
    /// Processing amount: 1 = processing, 0 = bypassed or neutral (the crossfade).
    active: Ramp,
    /// Instruction-set variant of the kernels.
    kernel: Kernel,
    /// Position inside the 64-frame chunk grid (housekeeping happens at its multiples).
    chunk_phase: usize,
    /// Scratch: per-frame ramp values `[mono, band, width, active, band_low, band_mid, band_high]`.
    ramps: Box<[[f32; CHUNK_FRAMES]; 7]>,
    /// Scratch: mid and side (f64) after the mono maker.
    mid_side: Box<[[f64; CHUNK_FRAMES]; 2]>,
    /// Scratch: mid and side (f64) after the band widths.
    band_mid_side: Box<[[f64; CHUNK_FRAMES]; 2]>,
}

impl Imager {
    /// An imager at `sample_rate_hz` (clamped to [1 kHz, 1.536 MHz], non-finite → 48 kHz), settled
    /// on `settings`.
    pub fn new(sample_rate_hz: f64, settings: &ImagerSettings) -> Self {
        let sample_rate_hz = clamp_sample_rate_hz(sample_rate_hz);
        let s = settings.clamped(sample_rate_hz);
        let fade = ramp_samples(FADE_MS, sample_rate_hz);
        let ramp = ramp_samples(PARAMETER_RAMP_MS, sample_rate_hz);
        let band_width = |band: usize| Ramp::new(s.band_width_percent[band] * 0.01, ramp);
        Self {
            sample_rate_hz,
            settings: s,
            mono_glide: FrequencyGlide::new(s.mono_maker_hz, sample_rate_hz),
            mono_highpass: [Section::default(); 2],
            mono_allpass: Section::default(),
            split: ThreeBandSplit::new(s.crossover_low_hz, s.crossover_high_hz, sample_rate_hz),
            mono_amount: Ramp::new(if s.mono_maker_enabled { 1.0 } else { 0.0 }, fade),
            band_amount: Ramp::new(if s.uses_bands() { 1.0 } else { 0.0 }, fade),
            band_widths: [band_width(0), band_width(1), band_width(2)],
            width: Ramp::new(s.width_percent * 0.01, ramp),
            active: Ramp::new(if s.bypass || s.is_neutral() { 0.0 } else { 1.0 }, fade),
            kernel: Kernel::detect(),
            chunk_phase: 0,
            ramps: Box::new([[0.0; CHUNK_FRAMES]; 7]),
            mid_side: Box::new([[0.0; CHUNK_FRAMES]; 2]),
            band_mid_side: Box::new([[0.0; CHUNK_FRAMES]; 2]),
        }
    }

    /// Applies new settings (O(1) when unchanged; never allocates). Everything moves smoothly.
    pub fn set_settings(&mut self, settings: &ImagerSettings) {
        let s = settings.clamped(self.sample_rate_hz);
        if s == self.settings {
            return;
        }
        // Nothing was audible: the new values apply at once (no ramps, glides or path fades).
        let was_idle = self.active.is_settled_at(0.0);
        self.settings = s;
        self.mono_glide.set_frequency_hz(s.mono_maker_hz);
        self.split.set_frequencies_hz(s.crossover_low_hz, s.crossover_high_hz);
        self.mono_amount.set_target(if s.mono_maker_enabled { 1.0 } else { 0.0 });
        self.band_amount.set_target(if s.uses_bands() { 1.0 } else { 0.0 });
        for (ramp, percent) in self.band_widths.iter_mut().zip(s.band_width_percent) {
            ramp.set_target(percent * 0.01);
        }
        self.width.set_target(s.width_percent * 0.01);
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
            if self.chunk_phase == 0 && !self.active.is_settled_at(0.0) {
                // (Idle: the state is already clear.)
                self.mono_highpass.iter_mut().for_each(|section| section.snap());
                self.mono_allpass.snap();
                self.split.snap();
            }
        }
    }

    /// Forces an instruction-set variant (tests).
    #[cfg(test)]
    fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// Jumps every ramp and glide to its target (the overall fade is left alone).
    fn settle(&mut self) {
        self.mono_glide.settle();
        self.split.settle();
        self.mono_amount.settle();
        self.band_amount.settle();
        self.band_widths.iter_mut().for_each(|ramp| ramp.settle());
        self.width.settle();
    }

    /// Clears filter state.
    fn clear_state(&mut self) {
        self.clear_mono_maker();
        self.split.clear();
    }

    /// Clears the mono-maker filters.
    fn clear_mono_maker(&mut self) {
        self.mono_highpass.iter_mut().for_each(|section| section.reset());
        self.mono_allpass.reset();
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

    /// [`Imager::process_chunk_with`] compiled for AVX2 + FMA.
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
        if self.active.is_settled_at(0.0) {
            return;
        }
        let n = left.len().min(right.len()).min(CHUNK_FRAMES);
        let (left, right) = (&mut left[..n], &mut right[..n]);
        // Path selection at the chunk start (a path fading out inside the chunk keeps running to
        // the chunk end with amount 0, so block boundaries never change the output).
        let mono = !self.mono_amount.is_settled_at(0.0);
        let bands = !self.band_amount.is_settled_at(0.0);
        {
            let [mono_amounts, band_amounts, widths, actives, band_low, band_mid, band_high] =
                &mut *self.ramps;
            self.mono_amount.render(&mut mono_amounts[..n]);
            self.band_amount.render(&mut band_amounts[..n]);
            self.width.render(&mut widths[..n]);
            self.active.render(&mut actives[..n]);
            if bands {
                let [low, mid, high] = &mut self.band_widths;
                low.render(&mut band_low[..n]);
                mid.render(&mut band_mid[..n]);
                high.render(&mut band_high[..n]);
            }
        }
        match (mono, bands) {
            (false, false) => self.width_only(left, right),
            (true, false) => self.filtered::<M, true, false>(left, right),
            (false, true) => self.filtered::<M, false, true>(left, right),
            (true, true) => self.filtered::<M, true, true>(left, right),
        }
        if self.mono_amount.is_settled_at(0.0) && mono {
            self.clear_mono_maker();
            self.mono_glide.settle();
        }
        if self.band_amount.is_settled_at(0.0) && bands {
            self.split.clear();
            self.split.settle();
        }
        if self.active.is_settled_at(0.0) {
            // Fully faded out: start the next activation from a clean state, like a new instance.
            self.settle();
            self.clear_state();
        }
    }

    /// Width only (f32, vectorised).
    #[inline(always)]
    fn width_only(&mut self, left: &mut [f32], right: &mut [f32]) {
        let [_, _, widths, actives, ..] = &*self.ramps;
        let frames = left.iter_mut().zip(right.iter_mut()).zip(widths.iter().zip(actives.iter()));
        for ((l, r), (&width, &active)) in frames {
            let (dry_l, dry_r) = (*l, *r);
            let mid = 0.5 * (dry_l + dry_r);
            let side = width * (0.5 * (dry_l - dry_r));
            (*l, *r) = mix(dry_l, dry_r, mid + side, mid - side, active);
        }
    }

    /// The filter paths (mono maker and/or band widths), in f64, as passes: M/S (vectorised),
    /// mono maker (recursive), band split (recursive), width and output (vectorised).
    #[inline(always)]
    fn filtered<M: MulAdd, const MONO: bool, const BANDS: bool>(
        &mut self,
        left: &mut [f32],
        right: &mut [f32],
    ) {
        let n = left.len().min(CHUNK_FRAMES);
        {
            let [mid, side] = &mut *self.mid_side;
            let frames = mid.iter_mut().zip(side.iter_mut()).zip(left.iter().zip(right.iter()));
            for ((m, s), (&l, &r)) in frames {
                (*m, *s) = (0.5 * (l as f64 + r as f64), 0.5 * (l as f64 - r as f64));
            }
        }
        if MONO {
            if self.mono_glide.is_gliding() {
                self.mono_maker::<M, true>(n);
            } else {
                self.mono_maker::<M, false>(n);
            }
        }
        if BANDS {
            self.band_widths::<M>(n);
        }
        let [mid, side] = if BANDS { &*self.band_mid_side } else { &*self.mid_side };
        let [_, _, widths, actives, ..] = &*self.ramps;
        let parameters = mid.iter().zip(side.iter()).zip(widths.iter().zip(actives.iter()));
        for ((l, r), ((&mid, &side), (&width, &active))) in
            left.iter_mut().zip(right.iter_mut()).zip(parameters)
        {
            let side = side * width as f64;
            (*l, *r) = mix(*l, *r, (mid + side) as f32, (mid - side) as f32, active);
        }
    }

    /// Mono maker on the mid/side scratch, in place, crossfaded by the mono-maker amount.
    #[inline(always)]
    fn mono_maker<M: MulAdd, const GLIDE: bool>(&mut self, n: usize) {
        // Local copies keep the state (and, at rest, the coefficients) in registers.
        let mut highpass = self.mono_highpass;
        let mut allpass = self.mono_allpass;
        let mut coefficients = *self.mono_glide.coefficients();
        let [mid, side] = &mut *self.mid_side;
        let amounts = &self.ramps[0];
        let frames = mid[..n].iter_mut().zip(side[..n].iter_mut()).zip(amounts.iter());
        for ((m, s), &amount) in frames {
            if GLIDE {
                self.mono_glide.advance();
                coefficients = *self.mono_glide.coefficients();
            }
            let c = &coefficients;
            let [shifted] = allpass.allpass::<M>(c, [*m]);
            let [first, second] = &mut highpass;
            let [filtered] = second.highpass::<M>(c, first.highpass::<M>(c, [*s]));
            let amount = amount as f64;
            *m = crossfade(*m, shifted, amount);
            *s = crossfade(*s, filtered, amount);
        }
        self.mono_highpass = highpass;
        self.mono_allpass = allpass;
    }

    /// Band widths: splits [M, S], sums the mid bands, weights the side bands; crossfaded by the
    /// band-path amount into the second scratch pair.
    #[inline(always)]
    fn band_widths<M: MulAdd>(&mut self, n: usize) {
        let [mid, side] = &*self.mid_side;
        let [mid_out, side_out] = &mut *self.band_mid_side;
        let [_, amounts, _, _, low, middle, high] = &*self.ramps;
        let input = mid[..n].iter().zip(side[..n].iter()).map(|(&m, &s)| [m, s]);
        self.split.split_block::<M>(input, |index, [b0, b1, b2]| {
            // `index < n ≤ CHUNK_FRAMES`; the modulo only spares a bounds check.
            let i = index % CHUNK_FRAMES;
            let band_mid = b0[0] + b1[0] + b2[0];
            let band_side = low[i] as f64 * b0[1] + middle[i] as f64 * b1[1] + high[i] as f64 * b2[1];
            let amount = amounts[i] as f64;
            mid_out[i] = crossfade(mid[i], band_mid, amount);
            side_out[i] = crossfade(side[i], band_side, amount);
        });
    }
}

/// `(1 − a)·dry + a·wet`, exactly `wet` at `a = 1` (so a settled path does not depend on how the
/// crossfade arithmetic rounds).
#[inline(always)]
fn crossfade(dry: f64, wet: f64, amount: f64) -> f64 {
    if amount == 1.0 {
        wet
    } else {
        (1.0 - amount) * dry + amount * wet
    }
}

/// Output of one frame: the processed pair crossfaded with the dry pair by `active`
/// (`(1 − a)·dry + a·wet`: exactly the wet pair at 1).
#[inline(always)]
fn mix(dry_l: f32, dry_r: f32, wet_l: f32, wet_r: f32, active: f32) -> (f32, f32) {
    let keep = 1.0 - active;
    (keep * dry_l + active * snap_output(wet_l), keep * dry_r + active * snap_output(wet_r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::envelope::test_util::*;
    use std::f64::consts::{PI, SQRT_2};

    const FS: f64 = 48_000.0;

    fn run(imager: &mut Imager, left: &mut [f32], right: &mut [f32]) {
        for (l, r) in left.chunks_mut(64).zip(right.chunks_mut(64)) {
            imager.process(l, r);
        }
    }

    fn energy(x: impl Iterator<Item = f64>) -> f64 {
        x.map(|v| v * v).sum()
    }

    #[test]
    fn identity_and_mono() {
        let left = noise(48_000, 1, 0.9);
        let right = noise(48_000, 2, 0.9);
        // 100 %: bit-exact identity.
        let mut imager = Imager::new(FS, &ImagerSettings::default());
        let (mut l, mut r) = (left.clone(), right.clone());
        run(&mut imager, &mut l, &mut r);
        assert!(l == left && r == right);
        // 0 %: L == R bit for bit, equal to the f32 mid (L + R)/2.
        let mut imager = Imager::new(FS, &ImagerSettings { width_percent: 0.0, ..Default::default() });
        let (mut l, mut r) = (left.clone(), right.clone());
        run(&mut imager, &mut l, &mut r);
        assert_eq!(l, r);
        assert!(l.iter().zip(left.iter().zip(&right)).all(|(&y, (&a, &b))| y == 0.5 * (a + b)));
        // 0 % with the filter paths on: still exactly mono.
        let s = ImagerSettings {
            width_percent: 0.0,
            mono_maker_enabled: true,
            band_width_percent: [50.0, 150.0, 80.0],
            ..Default::default()
        };
        let mut imager = Imager::new(FS, &s);
        let (mut l, mut r) = (left.clone(), right.clone());
        run(&mut imager, &mut l, &mut r);
        assert_eq!(l, r);
        // Bypass: bit-exact, and latency 0.
        let mut imager =
            Imager::new(FS, &ImagerSettings { width_percent: 150.0, bypass: true, ..Default::default() });
        let (mut l, mut r) = (left.clone(), right.clone());
        run(&mut imager, &mut l, &mut r);
        assert!(l == left && r == right);
        assert_eq!(imager.latency_samples(), 0);
        let mut impulse = vec![0.0f32; 64];
        impulse[3] = 1.0;
        let mut imager = Imager::new(FS, &ImagerSettings::default());
        let (mut l, mut r) = (impulse.clone(), impulse.clone());
        imager.process(&mut l, &mut r);
        assert_eq!(l, impulse);
    }

    #[test]
    fn width_scales_side_energy() {
        // Uncorrelated noise: M and S energies; 200 % keeps M and multiplies S energy by 4.
        let left = noise(96_000, 3, 0.5);
        let right = noise(96_000, 4, 0.5);
        let ms = |l: &[f32], r: &[f32]| {
            let m = energy(l.iter().zip(r).map(|(&a, &b)| 0.5 * (a as f64 + b as f64)));
            let s = energy(l.iter().zip(r).map(|(&a, &b)| 0.5 * (a as f64 - b as f64)));
            (m, s)
        };
        let (m0, s0) = ms(&left, &right);
        for width in [200.0, 150.0, 50.0] {
            let mut imager = Imager::new(FS, &ImagerSettings { width_percent: width, ..Default::default() });
            let (mut l, mut r) = (left.clone(), right.clone());
            run(&mut imager, &mut l, &mut r);
            let (m1, s1) = ms(&l, &r);
            let w = width / 100.0;
            println!(
                "width {width} %: M energy ratio {:.6}, S energy ratio {:.6} (theory {:.6})",
                m1 / m0,
                s1 / s0,
                w * w
            );
            assert!((m1 / m0 - 1.0).abs() < 1e-6);
            assert!((s1 / s0 / (w * w) - 1.0).abs() < 1e-6);
        }
    }

    /// Analog Butterworth sections at the bilinear-warped frequency: (LP2, HP2, AP2) as (re, im).
    fn sections(freq: f64, fc: f64) -> [(f64, f64); 3] {
        let w = (PI * freq / FS).tan() / (PI * fc / FS).tan();
        let den = (1.0 - w * w, SQRT_2 * w);
        let div = |n: (f64, f64)| {
            let d = den.0 * den.0 + den.1 * den.1;
            ((n.0 * den.0 + n.1 * den.1) / d, (n.1 * den.0 - n.0 * den.1) / d)
        };
        [div((1.0, 0.0)), div((-w * w, 0.0)), div((1.0 - w * w, -SQRT_2 * w))]
    }

    fn mul(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
        (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
    }

    fn db(a: (f64, f64)) -> f64 {
        20.0 * a.0.hypot(a.1).log10()
    }

    /// Steady-state gain (dB) of the side and mid signals for a sine of `freq` on S (or M).
    fn steady_gain_db(settings: &ImagerSettings, freq: f64, side: bool) -> f64 {
        let mut imager = Imager::new(FS, settings);
        let len = 96_000;
        let signal: Vec<f64> = (0..len).map(|n| 0.25 * (2.0 * PI * freq * n as f64 / FS).sin()).collect();
        let mut l: Vec<f32> = signal.iter().map(|&x| x as f32).collect();
        let mut r: Vec<f32> = signal.iter().map(|&x| if side { -x as f32 } else { x as f32 }).collect();
        run(&mut imager, &mut l, &mut r);
        let out = |n: usize| {
            if side {
                0.5 * (l[n] as f64 - r[n] as f64)
            } else {
                0.5 * (l[n] as f64 + r[n] as f64)
            }
        };
        let tail = len / 2..len;
        let gain = (energy(tail.clone().map(out)) / energy(tail.map(|n| signal[n]))).sqrt();
        20.0 * gain.log10()
    }

    #[test]
    fn mono_maker_follows_the_lr4_highpass() {
        let s = ImagerSettings { mono_maker_enabled: true, mono_maker_hz: 120.0, ..Default::default() };
        for freq in [30.0, 60.0, 120.0, 240.0, 1_000.0, 10_000.0] {
            let [_, hp, _] = sections(freq, 120.0);
            let expected = db(mul(hp, hp));
            let side = steady_gain_db(&s, freq, true);
            let mid = steady_gain_db(&s, freq, false);
            println!("mono maker 120 Hz: side at {freq} Hz {side:+.4} dB (LR4 HP {expected:+.4} dB), mid {mid:+.5} dB");
            assert!((side - expected).abs() < 0.01);
            assert!(mid.abs() < 0.01);
        }
        // The image above the frequency is unchanged: a hard-left 1 kHz tone stays hard left.
        let mut imager = Imager::new(FS, &s);
        let mut l: Vec<f32> =
            (0..48_000).map(|n| (0.5 * (2.0 * PI * 1_000.0 * n as f64 / FS).sin()) as f32).collect();
        let mut r = vec![0.0f32; 48_000];
        run(&mut imager, &mut l, &mut r);
        let leak =
            energy(r[24_000..].iter().map(|&x| x as f64)) / energy(l[24_000..].iter().map(|&x| x as f64));
        println!("hard-left 1 kHz through the mono maker: right/left energy {:.1} dB", 10.0 * leak.log10());
        assert!(leak < 1e-3);
    }

    #[test]
    fn band_widths_give_the_analytic_side_gains() {
        let widths = [0.0, 150.0, 60.0];
        let s = ImagerSettings { band_width_percent: widths, ..Default::default() };
        for freq in [40.0, 120.0, 500.0, 2_500.0, 8_000.0] {
            let [lp1, hp1, _] = sections(freq, 120.0);
            let [lp2, hp2, ap2] = sections(freq, 2_500.0);
            let low = mul(mul(lp1, lp1), ap2);
            let mid = mul(mul(hp1, hp1), mul(lp2, lp2));
            let high = mul(mul(hp1, hp1), mul(hp2, hp2));
            let w = widths.map(|p| p / 100.0);
            let total =
                (w[0] * low.0 + w[1] * mid.0 + w[2] * high.0, w[0] * low.1 + w[1] * mid.1 + w[2] * high.1);
            let expected = db(total);
            let side = steady_gain_db(&s, freq, true);
            let mid_gain = steady_gain_db(&s, freq, false);
            println!("band widths {widths:?}: side at {freq} Hz {side:+.4} dB (analytic {expected:+.4}), mid {mid_gain:+.5} dB");
            assert!((side - expected).abs() < 0.01);
            assert!(mid_gain.abs() < 0.01);
        }
    }

    #[test]
    fn block_size_invariance_and_reset() {
        let left = music_like(30_000, 4);
        let right = music_like(30_000, 9);
        let start = ImagerSettings { width_percent: 140.0, mono_maker_enabled: true, ..Default::default() };
        let later = ImagerSettings {
            width_percent: 80.0,
            band_width_percent: [0.0, 120.0, 180.0],
            mono_maker_hz: 200.0,
            crossover_low_hz: 200.0,
            ..start
        };
        let last = ImagerSettings { mono_maker_enabled: false, ..later };
        let cuts = [8_000, 16_000, 24_000];
        let render = |kernel: Kernel, blocks: &[usize]| {
            let mut imager = Imager::new(FS, &start).with_kernel(kernel);
            render_blocks(&left, &right, blocks, &cuts, |l, r, at| {
                match at {
                    8_000 => imager.set_settings(&later),
                    16_000 => imager.set_settings(&last),
                    24_000 => imager.set_settings(&ImagerSettings::default()),
                    _ => {}
                }
                imager.process(l, r)
            })
        };
        for kernel in [Kernel::detect(), Kernel::Portable] {
            let reference = render(kernel, &[30_000]);
            for blocks in block_patterns(30_000) {
                assert!(render(kernel, &blocks) == reference, "{kernel:?}");
            }
            assert_eq!(&reference.0[24_480..], &left[24_480..]);
        }
        let a = render(Kernel::detect(), &[64]);
        let b = render(Kernel::Portable, &[64]);
        let worst = a.0.iter().zip(&b.0).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        println!("portable vs detected kernel: max |difference| {worst:.2e}");
        assert!(worst < 1e-5);
        let mut imager = Imager::new(FS, &later);
        let (mut l, mut r) = (left.clone(), right.clone());
        run(&mut imager, &mut l, &mut r);
        imager.reset();
        let (mut l, mut r) = (left.clone(), right.clone());
        run(&mut imager, &mut l, &mut r);
        let mut fresh = Imager::new(FS, &later);
        let (mut fl, mut fr) = (left.clone(), right.clone());
        run(&mut fresh, &mut fl, &mut fr);
        assert!(l == fl && r == fr);
    }

    #[test]
    fn switching_paths_is_smooth() {
        // A 500 Hz side tone; the mono maker and a band width switch on mid-signal: no step larger
        // than the tone's own slope plus the fade's level change.
        let len = 24_000;
        let mut l: Vec<f32> =
            (0..len).map(|n| (0.5 * (2.0 * PI * 500.0 * n as f64 / FS).sin()) as f32).collect();
        let mut r: Vec<f32> = l.iter().map(|x| -x).collect();
        let mut imager = Imager::new(FS, &ImagerSettings { width_percent: 120.0, ..Default::default() });
        run(&mut imager, &mut l[..12_000], &mut r[..12_000]);
        imager.set_settings(&ImagerSettings {
            width_percent: 120.0,
            mono_maker_enabled: true,
            band_width_percent: [100.0, 50.0, 100.0],
            ..Default::default()
        });
        run(&mut imager, &mut l[12_000..], &mut r[12_000..]);
        let largest = l[11_000..14_000].windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
        let tone_step = (0.6 * 2.0 * PI * 500.0 / FS) as f32;
        println!("path switch: largest step {largest:.5} (tone's own {tone_step:.5})");
        assert!(largest < tone_step * 1.1);
    }

    #[test]
    fn hostile_input_and_sample_rates() {
        let s = ImagerSettings {
            width_percent: 200.0,
            band_width_percent: [0.0, 200.0, 150.0],
            mono_maker_enabled: true,
            ..Default::default()
        };
        for fs in [8_000.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0, 768_000.0] {
            let mut imager = Imager::new(fs, &s);
            check_hostile(fs, |l, r| imager.process(l, r));
            assert!(imager.split.is_clean() && imager.mono_allpass.is_clean());
            assert!(imager.mono_highpass.iter().all(|section| section.is_clean()));
        }
        for fs in [8_000.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0, 768_000.0, 1.0, f64::NAN] {
            // Mono maker at every rate: 1 kHz side (or 0.2·fs) passes, 20 Hz side is removed.
            let rate = clamp_sample_rate_hz(fs);
            let s = ImagerSettings { mono_maker_enabled: true, mono_maker_hz: 300.0, ..Default::default() };
            let len = (rate * 1.0) as usize;
            let side_gain = |freq: f64| {
                let mut imager = Imager::new(fs, &s);
                let mut l: Vec<f32> =
                    (0..len).map(|n| (0.5 * (2.0 * PI * freq * n as f64 / rate).sin()) as f32).collect();
                let mut r: Vec<f32> = l.iter().map(|x| -x).collect();
                let input = l.clone();
                imager.process(&mut l, &mut r);
                let out = energy(
                    l[len / 2..].iter().zip(&r[len / 2..]).map(|(&a, &b)| 0.5 * (a as f64 - b as f64)),
                );
                10.0 * (out / energy(input[len / 2..].iter().map(|&x| x as f64))).log10()
            };
            let probe = (0.3 * rate).min(1_000.0);
            let high = side_gain(probe);
            let low = side_gain(20.0);
            // LR4 high-pass |H|² = Ω⁴/(1 + Ω⁴), Ω from the bilinear-warped frequencies.
            let omega = (PI * probe / rate).tan() / (PI * 300.0 / rate).tan();
            let expected = 10.0 * (omega.powi(4) / (1.0 + omega.powi(4))).log10() * 2.0;
            println!("fs {fs}: mono maker 300 Hz: side at {probe:.0} Hz {high:+.4} dB (LR4 {expected:+.4}), at 20 Hz {low:+.1} dB");
            assert!((high - expected).abs() < 0.01 && low < -40.0);
        }
    }

    #[test]
    fn settings_are_clamped() {
        let s = ImagerSettings {
            width_percent: f64::NAN,
            band_width_percent: [-5.0, 500.0, f64::NAN],
            crossover_low_hz: 5.0,
            crossover_high_hz: 6.0,
            mono_maker_enabled: true,
            mono_maker_hz: 1e6,
            bypass: false,
        }
        .clamped(48_000.0);
        assert_eq!(s.width_percent, 100.0);
        assert_eq!(s.band_width_percent, [0.0, 200.0, 100.0]);
        assert_eq!(s.crossover_low_hz, 20.0);
        assert!((s.crossover_high_hz - 20.0 * 2f64.powf(1.0 / 3.0)).abs() < 1e-9);
        assert_eq!(s.mono_maker_hz, 300.0);
        assert_eq!(
            ImagerSettings { mono_maker_hz: 250.0, ..Default::default() }.clamped(1_000.0).mono_maker_hz,
            250.0
        );
    }
}
