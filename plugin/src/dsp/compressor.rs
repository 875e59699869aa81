//! The glue compressor: a stereo-linked, feed-forward, log-domain bus compressor.
//!
//! Signal flow per frame (design of Giannoulis, Massberg and Reiss, "Digital Dynamic Range
//! Compressor Design — A Tutorial and Analysis", JAES 2012; the blocks live in
//! [`crate::dsp::envelope`]):
//!
//! ```text
//! L, R ─► sidechain high-pass (2nd-order Butterworth, detector only) ─► max(|L|, |R|)
//!      ─► level (dB) ─► soft-knee gain computer ─► smooth branching detector (attack/release,
//!         optional auto release) ─► gain g = 10^(−reduction/20) · makeup
//! out = x · (m·g + (1 − m))        m = mix · (bypass/neutral fade)
//! ```
//!
//! - **Stereo link**: one gain for both channels, detected on the larger of the two channels'
//!   magnitudes, so a hard-panned source is compressed exactly like the same source in the centre
//!   and the stereo image never shifts.
//! - **Sidechain high-pass**: 2nd-order Butterworth (bilinear, prewarped) in the detector only, so
//!   low-frequency energy (kick, rumble) pumps the mix less; the audio path is not filtered.
//! - **Mix** is parallel compression: the dry signal is the input itself (the compressor has no
//!   latency, so it is aligned by construction); the makeup gain belongs to the compressed (wet)
//!   path, so mix 0 % is the bit-exact dry signal whatever the makeup.
//! - **Attack/release** are the detector's time constants τ (63.2 % of a step after τ, see
//!   [`crate::dsp::envelope`]). **Auto release** adds the slow detector described there: transients
//!   release with `release_ms`, sustained reduction with up to
//!   [`crate::dsp::envelope::AUTO_RELEASE_FACTOR`]·`release_ms`.
//! - **Detection** is on the instantaneous peak level, as in the paper, so the static curve applies
//!   to a signal's peaks: a constant-magnitude signal gets exactly the curve, a steady sine gets
//!   the curve at its peak with peak-reading ballistics (fast attack, slow release) and somewhat
//!   less with slower ones (1 kHz at −6 dBFS, default 30/150 ms: 4.9 dB instead of 6.0 dB).
//! - **Neutral** (ratio 1 with makeup 0 dB, or mix 0 %) and **bypass** fade (10 ms) to the input,
//!   after which the output is the input, bit for bit, and the detector is skipped and cleared.
//!   (As in every processor here, input samples that are NaN, ±∞, beyond ±10³⁰ or below 10⁻³⁰
//!   in magnitude become 0 first, see [`crate::dsp::envelope::sanitize`]; all real audio passes
//!   untouched.)
//! - Threshold, ratio and knee ramp over 10 ms, makeup and mix likewise, the sidechain frequency
//!   glides: automation never steps the gain.
//!
//! Cost is kept low by working in chunks of up to 64 frames: the sidechain filter and the detector
//! are the only recursive loops (software-pipelined so they overlap, see `Compressor::compress`);
//! the logarithm, gain computer and exponential run as vectorised loops with the fast
//! approximations of [`crate::dsp::envelope`], compiled for AVX2 + FMA when the CPU has them. A
//! half-chunk whose detector signal stays below `threshold − knee/2` while the detector holds no
//! reduction skips the logarithm and the detector (the result is identical, bit for bit). The
//! processor has no latency.

use crate::dsp::clamp_sample_rate_hz;
use crate::dsp::crossover::{clamp_frequency_hz, FrequencyGlide, Section};
use crate::dsp::envelope::{
    clamp_or, db_to_gain, fast_exp2, ramp_samples, sanitize, snap_output, Ballistics, CurveRamp, Detector,
    Ramp, CHUNK_FRAMES, FADE_MS, LOG2_PER_DB, PARAMETER_RAMP_MS,
};
#[cfg(target_arch = "x86_64")]
use crate::dsp::kernel::Fused;
use crate::dsp::kernel::{Kernel, MulAdd, Separate};

/// Settings of the glue compressor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompressorSettings {
    /// Threshold in dBFS (detector peak level), −60..0, default −18.
    pub threshold_db: f64,
    /// Ratio (x:1), 1..20, default 2. Ratio 1 with makeup 0 dB is neutral.
    pub ratio: f64,
    /// Attack time constant in ms (63.2 % of a step), 0.1..100, default 30.
    pub attack_ms: f64,
    /// Release time constant in ms (63.2 % of a step), 10..2000, default 150.
    pub release_ms: f64,
    /// Program-dependent (dual time-constant) release, default on: sustained reduction releases
    /// up to 5× slower than `release_ms`.
    pub auto_release: bool,
    /// Soft-knee width in dB (centred on the threshold), 0..24, default 6.
    pub knee_db: f64,
    /// Sidechain (detector only) 2nd-order high-pass frequency in Hz, 20..300, default 60.
    pub sidechain_hpf_hz: f64,
    /// Parallel mix of the compressed signal in percent, 0..100, default 100. 0 % is the dry input.
    pub mix_percent: f64,
    /// Makeup gain of the compressed (wet) path in dB, −12..+24, default 0.
    pub makeup_db: f64,
    /// Bypass: fades to the input (10 ms), then passes it bit for bit.
    pub bypass: bool,
}

impl Default for CompressorSettings {
    fn default() -> Self {
        Self {
            threshold_db: -18.0,
            ratio: 2.0,
            attack_ms: 30.0,
            release_ms: 150.0,
            auto_release: true,
            knee_db: 6.0,
            sidechain_hpf_hz: 60.0,
            mix_percent: 100.0,
            makeup_db: 0.0,
            bypass: false,
        }
    }
}

impl CompressorSettings {
    /// The settings with every value clamped to its range (NaN → default). The sidechain
    /// frequency is further limited to 0.45·fs by the processor.
    pub fn clamped(&self) -> Self {
        let d = Self::default();
        Self {
            threshold_db: clamp_or(self.threshold_db, -60.0, 0.0, d.threshold_db),
            ratio: clamp_or(self.ratio, 1.0, 20.0, d.ratio),
            attack_ms: clamp_or(self.attack_ms, 0.1, 100.0, d.attack_ms),
            release_ms: clamp_or(self.release_ms, 10.0, 2_000.0, d.release_ms),
            auto_release: self.auto_release,
            knee_db: clamp_or(self.knee_db, 0.0, 24.0, d.knee_db),
            sidechain_hpf_hz: clamp_or(self.sidechain_hpf_hz, 20.0, 300.0, d.sidechain_hpf_hz),
            mix_percent: clamp_or(self.mix_percent, 0.0, 100.0, d.mix_percent),
            makeup_db: clamp_or(self.makeup_db, -12.0, 24.0, d.makeup_db),
            bypass: self.bypass,
        }
    }

    /// True when the (clamped) settings leave the signal untouched.
    fn is_neutral(&self) -> bool {
        (self.ratio == 1.0 && self.makeup_db == 0.0) || self.mix_percent == 0.0
    }
}

/// The glue compressor (see the module doc).
#[derive(Debug, Clone)]
pub struct Compressor {
    /// Sample rate (clamped).
    sample_rate_hz: f64,
    /// Current settings, clamped (dirty check).
    settings: CompressorSettings,
    /// Gain computer with ramped parameters.
    curve: CurveRamp,
    /// Detector coefficients.
    ballistics: Ballistics,
    /// Sidechain high-pass frequency.
    sidechain_glide: FrequencyGlide,
    /// Sidechain high-pass state (left, right).
    sidechain: Section<2>,
    /// Level detector (dB of reduction).
    detector: Detector,
    /// Instruction-set variant of the kernels.
    kernel: Kernel,
    /// Makeup gain (linear).
    makeup: Ramp,
    /// Mix (0..1).
    mix: Ramp,
    /// Processing amount: 1 = compressing, 0 = bypassed or neutral (the crossfade).
    active: Ramp,
    /// Position inside the current 64-frame chunk grid (housekeeping happens at its multiples).
    chunk_phase: usize,
    /// Gain reduction shown by the meter (dB, ≥ 0).
    gain_reduction_db: f32,
    /// Scratch: detector magnitudes, then gains.
    magnitudes: [f32; CHUNK_FRAMES],
    /// Scratch: gain-computer output, then smoothed reduction (dB).
    reduction: [f32; CHUNK_FRAMES],
    /// Scratch: makeup gains.
    makeup_gains: [f32; CHUNK_FRAMES],
    /// Scratch: effective mix (mix × active).
    mix_amounts: [f32; CHUNK_FRAMES],
    /// Scratch: active amounts.
    active_amounts: [f32; CHUNK_FRAMES],
}

impl Compressor {
    /// A compressor at `sample_rate_hz` (clamped to [1 kHz, 1.536 MHz], non-finite → 48 kHz), settled
    /// on `settings`.
    pub fn new(sample_rate_hz: f64, settings: &CompressorSettings) -> Self {
        let sample_rate_hz = clamp_sample_rate_hz(sample_rate_hz);
        let s = settings.clamped();
        let sidechain_hz = clamp_frequency_hz(s.sidechain_hpf_hz, 20.0, 300.0, 60.0, sample_rate_hz);
        let ramp = ramp_samples(PARAMETER_RAMP_MS, sample_rate_hz);
        let active = if s.bypass || s.is_neutral() { 0.0 } else { 1.0 };
        Self {
            sample_rate_hz,
            settings: s,
            curve: CurveRamp::new(s.threshold_db, s.ratio, s.knee_db, sample_rate_hz),
            ballistics: Ballistics::new(s.attack_ms, s.release_ms, s.auto_release, sample_rate_hz),
            sidechain_glide: FrequencyGlide::new(sidechain_hz, sample_rate_hz),
            sidechain: Section::default(),
            detector: Detector::default(),
            kernel: Kernel::detect(),
            makeup: Ramp::new(db_to_gain(s.makeup_db), ramp),
            mix: Ramp::new(s.mix_percent * 0.01, ramp),
            active: Ramp::new(active, ramp_samples(FADE_MS, sample_rate_hz)),
            chunk_phase: 0,
            gain_reduction_db: 0.0,
            magnitudes: [0.0; CHUNK_FRAMES],
            reduction: [0.0; CHUNK_FRAMES],
            makeup_gains: [0.0; CHUNK_FRAMES],
            mix_amounts: [0.0; CHUNK_FRAMES],
            active_amounts: [0.0; CHUNK_FRAMES],
        }
    }

    /// Applies new settings (O(1) when unchanged; never allocates). Parameters move smoothly.
    pub fn set_settings(&mut self, settings: &CompressorSettings) {
        let s = settings.clamped();
        if s == self.settings {
            return;
        }
        // Nothing was audible: the new values apply at once (no ramps, glides or path fades).
        let was_idle = self.is_idle();
        self.settings = s;
        self.curve.set_target(s.threshold_db, s.ratio, s.knee_db);
        self.ballistics = Ballistics::new(s.attack_ms, s.release_ms, s.auto_release, self.sample_rate_hz);
        self.sidechain_glide.set_frequency_hz(clamp_frequency_hz(
            s.sidechain_hpf_hz,
            20.0,
            300.0,
            60.0,
            self.sample_rate_hz,
        ));
        self.makeup.set_target(db_to_gain(s.makeup_db));
        self.mix.set_target(s.mix_percent * 0.01);
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

    /// Current gain reduction of the compressor in dB, ≥ 0 (0 = no reduction). It is the
    /// detector's reduction before makeup and mix; 0 while bypassed or neutral.
    pub fn gain_reduction_db(&self) -> f32 {
        self.gain_reduction_db
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
                self.housekeeping();
            }
        }
    }

    /// Forces an instruction-set variant (tests compare the portable one with the detected one).
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
        self.curve.settle();
        self.sidechain_glide.settle();
        self.makeup.settle();
        self.mix.settle();
    }

    /// Clears filter and detector state.
    fn clear_state(&mut self) {
        self.sidechain.reset();
        self.detector.reset();
        self.gain_reduction_db = 0.0;
    }

    /// Work done at every multiple of [`CHUNK_FRAMES`] frames (block-size invariant).
    fn housekeeping(&mut self) {
        self.sidechain.snap();
        self.detector.snap();
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

    /// [`Compressor::process_chunk_with`] compiled for AVX2 + FMA.
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
        if self.sidechain_glide.is_gliding() {
            self.compress::<M, true>(left, right);
        } else {
            self.compress::<M, false>(left, right);
        }
        self.gain_reduction_db = self.detector.value() as f32;
        if self.active.is_settled_at(0.0) {
            // Fully faded out: start the next activation from a clean state, like a new instance.
            self.clear_state();
            self.settle();
        }
    }

    /// Sidechain filter → gain computer → detector → gain, for one chunk.
    ///
    /// The two recursive loops (sidechain filter, detector) are latency-bound; the gain computer
    /// and the gain stage vectorise. The chunk is cut in two halves and software-pipelined so that
    /// the sidechain filter of the second half runs in the same loop as the detector of the first
    /// (two independent dependency chains in flight):
    ///
    /// ```text
    /// sidechain(1st) → curve(1st) → [sidechain(2nd) ∥ detector(1st)] → curve(2nd)
    ///                → detector(2nd) → gain(all)
    /// ```
    ///
    /// Every sample sees exactly the arithmetic of plain sequential loops. A half whose gain
    /// computer output is all zero while the detector is idle skips the detector (the result would
    /// be all zero anyway), so the pipelining never changes the output.
    #[inline(always)]
    fn compress<M: MulAdd, const GLIDE: bool>(&mut self, left: &mut [f32], right: &mut [f32]) {
        let n = left.len().min(right.len()).min(CHUNK_FRAMES);
        let half = n / 2;
        let ballistics = self.ballistics;
        let auto = ballistics.auto_release();
        // Local copies keep the recursive state in registers.
        let mut sidechain = self.sidechain;
        let mut detector = self.detector;
        let glide = &mut self.sidechain_glide;
        let (magnitudes_first, magnitudes_second) = self.magnitudes[..n].split_at_mut(half);
        let (reduction_first, reduction_second) = self.reduction[..n].split_at_mut(half);
        let (left_first, left_second) = left[..n].split_at(half);
        let (right_first, right_second) = right[..n].split_at(half);

        for ((m, &l), &r) in magnitudes_first.iter_mut().zip(left_first).zip(right_first) {
            *m = sidechain_magnitude::<M, GLIDE>(glide, &mut sidechain, l, r);
        }
        let active_first = self.curve.render(magnitudes_first, reduction_first) || !detector.is_idle();
        let mut second = magnitudes_second.iter_mut().zip(left_second).zip(right_second);
        if active_first {
            for (reduction, ((m, &l), &r)) in reduction_first.iter_mut().zip(second.by_ref()) {
                *m = sidechain_magnitude::<M, GLIDE>(glide, &mut sidechain, l, r);
                *reduction = detector_step::<M>(&mut detector, *reduction, &ballistics, auto);
            }
        }
        // The rest of the second half (all of it when the first half skipped the detector, one
        // frame when the chunk is odd).
        for ((m, &l), &r) in second {
            *m = sidechain_magnitude::<M, GLIDE>(glide, &mut sidechain, l, r);
        }
        self.sidechain = sidechain;
        let active_second = self.curve.render(magnitudes_second, reduction_second) || !detector.is_idle();
        if active_second {
            for reduction in reduction_second.iter_mut() {
                *reduction = detector_step::<M>(&mut detector, *reduction, &ballistics, auto);
            }
        }
        self.detector = detector;

        // Gain stage (vectorised). Static and ramping parameters use the same f32 arithmetic, so
        // the result does not depend on where a ramp's end falls relative to the blocks.
        let reduction = &self.reduction[..n];
        let frames = left.iter_mut().zip(right.iter_mut());
        if !self.makeup.is_moving() && !self.mix.is_moving() && !self.active.is_moving() {
            let makeup = self.makeup.value() as f32;
            let amount = self.mix.value() as f32 * self.active.value() as f32;
            for (&reduction, frame) in reduction.iter().zip(frames) {
                apply_frame(reduction, makeup, amount, frame);
            }
        } else {
            let (makeup, mix, active) =
                (&mut self.makeup_gains[..n], &mut self.mix_amounts[..n], &mut self.active_amounts[..n]);
            self.makeup.render(makeup);
            self.mix.render(mix);
            self.active.render(active);
            let parameters = reduction.iter().zip(makeup.iter()).zip(mix.iter().zip(active.iter()));
            for (((&reduction, &makeup), (&mix, &active)), frame) in parameters.zip(frames) {
                apply_frame(reduction, makeup, mix * active, frame);
            }
        }
    }
}

/// One detector step on an f32 gain-computer output.
#[inline(always)]
fn detector_step<M: MulAdd>(
    detector: &mut Detector,
    target_db: f32,
    ballistics: &Ballistics,
    auto: bool,
) -> f32 {
    if auto {
        detector.next::<M, true>(target_db as f64, ballistics) as f32
    } else {
        detector.next::<M, false>(target_db as f64, ballistics) as f32
    }
}

/// Applies one frame's gain: compressor gain × makeup on the wet path, mixed with the dry signal
/// by `amount` (mix × bypass fade): `x·(amount·wet + (1 − amount))`.
#[inline(always)]
fn apply_frame(reduction_db: f32, makeup: f32, amount: f32, (left, right): (&mut f32, &mut f32)) {
    let wet = fast_exp2(-reduction_db * LOG2_PER_DB) * makeup;
    let gain = amount * wet + (1.0 - amount);
    *left = snap_output(*left * gain);
    *right = snap_output(*right * gain);
}

/// One sample of the sidechain high-pass on both channels; returns the stereo-linked magnitude
/// `max(|L|, |R|)`.
#[inline(always)]
fn sidechain_magnitude<M: MulAdd, const GLIDE: bool>(
    glide: &mut FrequencyGlide,
    section: &mut Section<2>,
    left: f32,
    right: f32,
) -> f32 {
    if GLIDE {
        glide.advance();
    }
    let [hl, hr] = section.highpass::<M>(glide.coefficients(), [left as f64, right as f64]);
    larger(hl.abs(), hr.abs()) as f32
}

/// The larger of two non-NaN values (plain `maxsd`, without `f64::max`'s NaN handling).
#[inline(always)]
fn larger(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::envelope::test_util::*;
    use std::f64::consts::PI;

    const FS: f64 = 48_000.0;

    fn settings() -> CompressorSettings {
        CompressorSettings::default()
    }

    /// Runs `frames` of a stereo signal through `comp` in 64-frame blocks.
    fn run(comp: &mut Compressor, left: &mut [f32], right: &mut [f32]) {
        for (l, r) in left.chunks_mut(64).zip(right.chunks_mut(64)) {
            comp.process(l, r);
        }
    }

    /// The paper's gain computer (eq. 4), written out independently (dB of reduction).
    fn reference_reduction(level_db: f64, s: &CompressorSettings) -> f64 {
        let (t, r, w) = (s.threshold_db, s.ratio, s.knee_db);
        let over = level_db - t;
        let out = if 2.0 * over < -w {
            level_db
        } else if 2.0 * over.abs() <= w {
            level_db + (1.0 / r - 1.0) * (over + w / 2.0).powi(2) / (2.0 * w)
        } else {
            t + over / r
        };
        level_db - out
    }

    /// |H| of the 2nd-order Butterworth high-pass (bilinear, prewarped) at `freq_hz`.
    fn butterworth_highpass_magnitude(freq_hz: f64, cutoff_hz: f64, fs: f64) -> f64 {
        let w = (PI * freq_hz / fs).tan() / (PI * cutoff_hz / fs).tan();
        w * w / (1.0 + w.powi(4)).sqrt()
    }

    /// Gain (dB) the compressor applies at sample `n` (needs |input| well above zero).
    fn gain_db(input: f32, output: f32) -> f64 {
        20.0 * (output as f64 / input as f64).abs().log10()
    }

    #[test]
    fn static_curve_on_steady_sines() {
        // Peak-reading settings (fast attack, slow release) so the detector settles on the sine's
        // peak level: the gain must then be the static curve at that level.
        let s = CompressorSettings {
            threshold_db: -20.0,
            ratio: 4.0,
            knee_db: 12.0,
            attack_ms: 0.1,
            release_ms: 2_000.0,
            auto_release: false,
            ..settings()
        };
        let freq = 1_000.0;
        let hpf_db = 20.0 * butterworth_highpass_magnitude(freq, s.sidechain_hpf_hz, FS).log10();
        let mut worst: f64 = 0.0;
        for level_db in [-40.0, -30.0, -26.5, -24.0, -20.0, -16.0, -14.0, -10.0, -3.0, 0.0] {
            let mut comp = Compressor::new(FS, &s);
            let amplitude = db_to_gain(level_db) as f32;
            let mut left: Vec<f32> =
                (0..48_000).map(|n| amplitude * (2.0 * PI * freq * n as f64 / FS).sin() as f32).collect();
            let input = left.clone();
            let mut right = left.clone();
            run(&mut comp, &mut left, &mut right);
            // Gain at the last input peak.
            let tail = 48_000 - 48;
            let peak = (tail..48_000).max_by(|&a, &b| input[a].abs().total_cmp(&input[b].abs())).unwrap();
            let measured = -gain_db(input[peak], left[peak]);
            let expected = reference_reduction(level_db + hpf_db, &s);
            println!(
                "sine {level_db:6.1} dBFS: reduction {measured:7.4} dB, static curve {expected:7.4} dB, meter {:.4}",
                comp.gain_reduction_db()
            );
            worst = worst.max((measured - expected).abs());
            assert!((measured - expected).abs() < 0.1);
            assert!((comp.gain_reduction_db() as f64 - expected).abs() < 0.1);
        }
        println!("static curve: worst deviation {worst:.4} dB");
    }

    #[test]
    fn static_curve_at_default_ballistics() {
        // A constant-magnitude signal (alternating ±a at Nyquist: |x| = a every sample, passed
        // unchanged by the sidechain high-pass) settles exactly on the curve with any ballistics.
        let s = settings();
        let mut worst: f64 = 0.0;
        for level_db in [-30.0, -21.0, -18.0, -15.0, -6.0, 0.0] {
            let mut comp = Compressor::new(FS, &s);
            let a = db_to_gain(level_db) as f32;
            let mut left: Vec<f32> = (0..96_000).map(|n| if n % 2 == 0 { a } else { -a }).collect();
            let input = left.clone();
            let mut right = left.clone();
            run(&mut comp, &mut left, &mut right);
            let measured = -gain_db(input[95_999], left[95_999]);
            let expected = reference_reduction(level_db, &s);
            worst = worst.max((measured - expected).abs());
            assert!((measured - expected).abs() < 0.01, "{level_db}: {measured} vs {expected}");
        }
        println!("constant-magnitude signal, default settings: worst deviation {worst:.5} dB");
        // For information: a 1 kHz sine at default ballistics reads below its peak (peak detector
        // with 30/150 ms): report by how much.
        let level_db = -6.0;
        let mut comp = Compressor::new(FS, &s);
        let amplitude = db_to_gain(level_db) as f32;
        let mut left: Vec<f32> =
            (0..96_000).map(|n| amplitude * (2.0 * PI * 1_000.0 * n as f64 / FS).sin() as f32).collect();
        let input = left.clone();
        let mut right = left.clone();
        run(&mut comp, &mut left, &mut right);
        let measured = -gain_db(input[95_988], left[95_988]);
        println!(
            "1 kHz sine at −6 dBFS, default ballistics: reduction {measured:.3} dB vs static curve at its peak {:.3} dB",
            reference_reduction(level_db, &s)
        );
    }

    /// Constant-magnitude step: `low_db` for `before` samples, then `high_db`.
    fn nyquist_steps(levels: &[(f64, usize)]) -> Vec<f32> {
        let mut out = Vec::new();
        for &(level_db, len) in levels {
            let a = db_to_gain(level_db) as f32;
            for _ in 0..len {
                out.push(if out.len() % 2 == 0 { a } else { -a });
            }
        }
        out
    }

    /// Reduction (dB) per sample of a constant-magnitude run.
    fn reductions(comp: &mut Compressor, signal: &[f32]) -> Vec<f64> {
        let mut left = signal.to_vec();
        let mut right = signal.to_vec();
        run(comp, &mut left, &mut right);
        signal.iter().zip(&left).map(|(&x, &y)| -gain_db(x, y)).collect()
    }

    fn crossing(values: &[f64], from: usize, level: f64, rising: bool) -> f64 {
        let index =
            (from..values.len()).find(|&n| if rising { values[n] >= level } else { values[n] <= level });
        (index.unwrap() - from) as f64 / FS * 1e3
    }

    #[test]
    fn attack_and_release_time_constants() {
        for (attack_ms, release_ms) in [(30.0, 150.0), (1.0, 50.0), (100.0, 2_000.0)] {
            let s = CompressorSettings {
                knee_db: 0.0,
                ratio: 4.0,
                attack_ms,
                release_ms,
                auto_release: false,
                ..settings()
            };
            let mut comp = Compressor::new(FS, &s);
            let hold = (release_ms * 1e-3 * FS * 10.0) as usize;
            let signal = nyquist_steps(&[(-40.0, 4_800), (0.0, hold), (-40.0, hold)]);
            let red = reductions(&mut comp, &signal);
            let full = reference_reduction(0.0, &s);
            assert!((red[4_800 + hold - 1] - full).abs() < 0.01);
            let attack = crossing(&red, 4_800, full * (1.0 - (-1.0f64).exp()), true);
            let release = crossing(&red, 4_800 + hold, full * (-1.0f64).exp(), false);
            println!(
                "attack {attack_ms} ms: 63.2 % of {full:.2} dB after {attack:.3} ms; release {release_ms} ms: 36.8 % after {release:.3} ms"
            );
            assert!((attack / attack_ms - 1.0).abs() < 0.1 || (attack - attack_ms).abs() <= 1e3 / FS);
            assert!((release / release_ms - 1.0).abs() < 0.1);
        }
    }

    #[test]
    fn auto_release_is_program_dependent() {
        let s = CompressorSettings { knee_db: 0.0, ratio: 4.0, auto_release: true, ..settings() };
        let full = reference_reduction(0.0, &s);
        // A short burst (3 attack time constants) releases with the set release time...
        let mut comp = Compressor::new(FS, &s);
        let burst = (0.09 * FS) as usize;
        let signal = nyquist_steps(&[(-40.0, 4_800), (0.0, burst), (-40.0, 4 * 48_000)]);
        let red = reductions(&mut comp, &signal);
        let peak = red[4_800 + burst - 1];
        let short = crossing(&red, 4_800 + burst, peak * (-1.0f64).exp(), false);
        // ...sustained reduction (5 s) with AUTO_RELEASE_FACTOR × release.
        let mut comp = Compressor::new(FS, &s);
        let sustained = 5 * 48_000;
        let signal = nyquist_steps(&[(-40.0, 4_800), (0.0, sustained), (-40.0, 10 * 48_000)]);
        let red = reductions(&mut comp, &signal);
        assert!((red[4_800 + sustained - 1] - full).abs() < 0.01);
        let long = crossing(&red, 4_800 + sustained, full * (-1.0f64).exp(), false);
        println!(
            "auto release (150 ms): after a 90 ms burst 36.8 % at {short:.1} ms; after 5 s at {long:.1} ms"
        );
        assert!((short / s.release_ms - 1.0).abs() < 0.1);
        let slow = s.release_ms * crate::dsp::envelope::AUTO_RELEASE_FACTOR;
        assert!((long / slow - 1.0).abs() < 0.1);
    }

    #[test]
    fn sidechain_highpass_reduces_low_frequency_detection_by_its_analytic_response() {
        let base = CompressorSettings {
            threshold_db: -30.0,
            ratio: 4.0,
            knee_db: 0.0,
            attack_ms: 0.1,
            release_ms: 2_000.0,
            auto_release: false,
            ..settings()
        };
        let freq = 30.0;
        let level_db = 0.0;
        let amplitude = db_to_gain(level_db);
        let period = (FS / freq) as usize;
        let mut measured = Vec::new();
        for hpf in [20.0, 100.0] {
            let s = CompressorSettings { sidechain_hpf_hz: hpf, ..base };
            let mut comp = Compressor::new(FS, &s);
            let len = 4 * 48_000;
            // Faded in over 1 s: no start-up overshoot of the sidechain filter.
            let mut left: Vec<f32> = (0..len)
                .map(|n| {
                    let fade = (n as f64 / 48_000.0).min(1.0);
                    (amplitude * fade * (2.0 * PI * freq * n as f64 / FS).sin()) as f32
                })
                .collect();
            let input = left.clone();
            let mut right = left.clone();
            run(&mut comp, &mut left, &mut right);
            // Largest reduction over the last period (= detector right after the sidechain peak).
            let got = (len - period..len)
                .filter(|&n| input[n].abs() > 0.2)
                .map(|n| -gain_db(input[n], left[n]))
                .fold(0.0, f64::max);
            let hpf_db = 20.0 * butterworth_highpass_magnitude(freq, hpf, FS).log10();
            let expected = reference_reduction(level_db + hpf_db, &s);
            println!(
                "30 Hz at {level_db} dBFS, sidechain HPF {hpf} Hz (|H| = {hpf_db:.3} dB): reduction {got:.4} dB, static curve at the filtered level {expected:.4} dB"
            );
            assert!((got - expected).abs() < 0.1);
            measured.push(got);
        }
        assert!(measured[1] < measured[0] - 10.0);
    }

    #[test]
    fn stereo_link_uses_the_louder_channel() {
        let s = CompressorSettings { knee_db: 0.0, ratio: 4.0, auto_release: false, ..settings() };
        let signal = nyquist_steps(&[(-6.0, 48_000)]);
        // Hard left vs centre: same gain, applied to both channels.
        let mut comp = Compressor::new(FS, &s);
        let (mut l, mut r) = (signal.clone(), vec![0.25f32; signal.len()]);
        run(&mut comp, &mut l, &mut r);
        let left_only = -gain_db(signal[47_999], l[47_999]);
        let right_gain = -gain_db(0.25, r[47_999]);
        let expected = reference_reduction(-6.0, &s);
        println!("hard-left −6 dBFS: left reduction {left_only:.4} dB, right (quiet) channel {right_gain:.4} dB, expected {expected:.4}");
        assert!((left_only - expected).abs() < 0.01);
        assert!((right_gain - expected).abs() < 0.01);
    }

    #[test]
    fn mix_and_makeup() {
        let signal = noise(48_000, 1, 0.5);
        // Mix 0 % is the dry signal, bit for bit, whatever the other settings.
        let s = CompressorSettings {
            threshold_db: -40.0,
            ratio: 10.0,
            makeup_db: 12.0,
            mix_percent: 0.0,
            ..settings()
        };
        let mut comp = Compressor::new(FS, &s);
        let (mut l, mut r) = (signal.clone(), signal.clone());
        run(&mut comp, &mut l, &mut r);
        assert_eq!(l, signal);
        assert_eq!(r, signal);
        // Mix 50 % on a constant-magnitude signal: out = x·(½·g + ½) with g from the curve.
        let s =
            CompressorSettings { mix_percent: 50.0, knee_db: 0.0, ratio: 4.0, makeup_db: 6.0, ..settings() };
        let steps = nyquist_steps(&[(0.0, 96_000)]);
        let mut comp = Compressor::new(FS, &s);
        let red = reductions(&mut comp, &steps);
        let g = db_to_gain(-reference_reduction(0.0, &s) + 6.0);
        let expected = -20.0 * (0.5 * g + 0.5).log10();
        println!("mix 50 %, makeup +6 dB: total gain {:.4} dB, expected {:.4} dB", -red[95_999], -expected);
        assert!((red[95_999] - expected).abs() < 0.01);
        // Ratio 1 with makeup +6 dB is a clean +6.02 dB gain.
        let s = CompressorSettings { ratio: 1.0, makeup_db: 6.0, ..settings() };
        let mut comp = Compressor::new(FS, &s);
        let (mut l, mut r) = (signal.clone(), signal.clone());
        run(&mut comp, &mut l, &mut r);
        let expected = db_to_gain(6.0) as f32;
        assert!(l.iter().zip(&signal).all(|(y, x)| (y - x * expected).abs() <= 1e-6 * x.abs() + 1e-12));
        assert_eq!(l, r);
    }

    fn make(fs: f64, s: &CompressorSettings) -> Compressor {
        Compressor::new(fs, s)
    }

    #[test]
    fn neutral_and_bypass_are_bit_exact() {
        let signal = noise(20_000, 2, 0.9);
        let other = noise(20_000, 3, 0.9);
        let neutral = CompressorSettings { ratio: 1.0, ..settings() };
        let mut comp = make(FS, &neutral);
        let (mut l, mut r) = (signal.clone(), other.clone());
        run(&mut comp, &mut l, &mut r);
        assert_eq!((l, r), (signal.clone(), other.clone()));
        assert_eq!(comp.latency_samples(), 0);
        // Impulse comes out at latency 0.
        let mut impulse = vec![0.0f32; 64];
        impulse[0] = 1.0;
        let (mut l, mut r) = (impulse.clone(), impulse.clone());
        comp.reset();
        comp.process(&mut l, &mut r);
        assert_eq!(l, impulse);
        // Bypass toggled on while compressing: fades over FADE_MS, then bit-exact.
        let mut comp = make(FS, &settings());
        let (mut l, mut r) = (signal.clone(), other.clone());
        let fade = (FADE_MS * 1e-3 * FS) as usize;
        for start in (0..20_000).step_by(64) {
            let end = (start + 64).min(20_000);
            if start == 9_600 {
                comp.set_settings(&CompressorSettings { bypass: true, ..settings() });
            }
            comp.process(&mut l[start..end], &mut r[start..end]);
        }
        assert_eq!(&l[9_600 + fade..], &signal[9_600 + fade..]);
        assert_eq!(&r[9_600 + fade..], &other[9_600 + fade..]);
        assert_ne!(l[9_600 + fade - 2], signal[9_600 + fade - 2]);
        assert_eq!(comp.gain_reduction_db(), 0.0);
        // Neutral by ratio 1 reached by automation is bit-exact after the fade as well.
        let (mut l, mut r) = (signal.clone(), other.clone());
        let mut comp = make(FS, &settings());
        run(&mut comp, &mut l[..9_600], &mut r[..9_600]);
        comp.set_settings(&neutral);
        run(&mut comp, &mut l[9_600..], &mut r[9_600..]);
        assert_eq!(&l[9_600 + fade..], &signal[9_600 + fade..]);
    }

    #[test]
    fn block_size_invariance_and_reset() {
        let left = music_like(30_000, 4);
        let right = music_like(30_000, 5);
        let changes = |comp: &mut Compressor, at: usize| {
            if at == 12_000 {
                comp.set_settings(&CompressorSettings {
                    threshold_db: -30.0,
                    ratio: 6.0,
                    sidechain_hpf_hz: 200.0,
                    makeup_db: 3.0,
                    mix_percent: 70.0,
                    ..settings()
                });
            }
        };
        for auto_release in [true, false] {
            let s = CompressorSettings { auto_release, ..settings() };
            let render = |blocks: &[usize]| {
                let mut comp = make(FS, &s);
                render_blocks(&left, &right, blocks, &[12_000], |l, r, at| {
                    changes(&mut comp, at);
                    comp.process(l, r)
                })
            };
            let reference = render(&[30_000]);
            for blocks in block_patterns(30_000) {
                assert!(render(&blocks) == reference, "block pattern {:?}", &blocks[..blocks.len().min(5)]);
            }
            // Reset equals a fresh instance.
            let mut comp = make(FS, &s);
            let (mut l, mut r) = (left.clone(), right.clone());
            run(&mut comp, &mut l, &mut r);
            comp.reset();
            let (mut l, mut r) = (left.clone(), right.clone());
            run(&mut comp, &mut l, &mut r);
            let mut fresh = make(FS, &s);
            let (mut fl, mut fr) = (left.clone(), right.clone());
            run(&mut fresh, &mut fl, &mut fr);
            assert!(l == fl && r == fr);
        }
    }

    #[test]
    fn portable_kernel_matches_and_is_block_invariant() {
        let left = music_like(20_000, 6);
        let right = music_like(20_000, 7);
        let s = settings();
        let render = |kernel: Kernel, blocks: &[usize]| {
            let mut comp = make(FS, &s).with_kernel(kernel);
            render_blocks(&left, &right, blocks, &[], |l, r, _| comp.process(l, r))
        };
        let portable = render(Kernel::Portable, &[64]);
        for blocks in block_patterns(20_000) {
            assert!(render(Kernel::Portable, &blocks) == portable);
        }
        let detected = render(Kernel::detect(), &[64]);
        let worst = portable.0.iter().zip(&detected.0).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
        println!("portable vs {:?} kernel: max |difference| {worst:.2e}", Kernel::detect());
        assert!(worst < 1e-5);
    }

    #[test]
    fn hostile_input() {
        let s = CompressorSettings { threshold_db: -30.0, ratio: 8.0, makeup_db: 24.0, ..settings() };
        for fs in [8_000.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0, 768_000.0] {
            let mut comp = make(fs, &s);
            check_hostile(fs, |l, r| comp.process(l, r));
            assert!(comp.sidechain.is_clean() && comp.detector.value().is_finite());
            // The detector recovered: after the hostile run ended in silence and 10 s of release,
            // a quiet signal is no longer reduced.
            let mut quiet = vec![1e-3f32; (fs * 10.0) as usize];
            let mut quiet_r = quiet.clone();
            comp.process(&mut quiet, &mut quiet_r);
            assert!(comp.gain_reduction_db() < 0.01, "{fs}: {}", comp.gain_reduction_db());
            assert!(comp.detector.is_idle() || comp.detector.value() < 1e-3);
        }
    }

    #[test]
    fn sample_rates_construct_and_process_sanely() {
        for fs in [8_000.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0, 768_000.0, 1.0, f64::NAN, 1e9] {
            let s = CompressorSettings {
                knee_db: 0.0,
                ratio: 4.0,
                auto_release: false,
                sidechain_hpf_hz: 300.0,
                ..settings()
            };
            let mut comp = make(fs, &s);
            let rate = clamp_sample_rate_hz(fs);
            let len = (rate * 0.5) as usize;
            let a = 1.0f32;
            let mut l: Vec<f32> = (0..len).map(|n| if n % 2 == 0 { a } else { -a }).collect();
            let input = l.clone();
            let mut r = l.clone();
            comp.process(&mut l, &mut r);
            let got = -gain_db(input[len - 1], l[len - 1]);
            let expected = reference_reduction(0.0, &s);
            println!("fs {fs}: steady reduction {got:.4} dB (expected {expected:.4})");
            assert!((got - expected).abs() < 0.01);
        }
    }

    #[test]
    fn settings_are_clamped() {
        let wild = CompressorSettings {
            threshold_db: f64::NAN,
            ratio: 100.0,
            attack_ms: 0.0,
            release_ms: f64::INFINITY,
            auto_release: false,
            knee_db: -5.0,
            sidechain_hpf_hz: 5.0,
            mix_percent: 150.0,
            makeup_db: f64::NEG_INFINITY,
            bypass: false,
        };
        let c = wild.clamped();
        assert_eq!(
            (
                c.threshold_db,
                c.ratio,
                c.attack_ms,
                c.release_ms,
                c.knee_db,
                c.sidechain_hpf_hz,
                c.mix_percent,
                c.makeup_db
            ),
            (-18.0, 20.0, 0.1, 2_000.0, 0.0, 20.0, 100.0, -12.0)
        );
        let mut comp = make(FS, &wild);
        let mut l = noise(1_000, 9, 1.0);
        let mut r = l.clone();
        comp.set_settings(&wild);
        comp.process(&mut l, &mut r);
        assert!(l.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn parameter_changes_do_not_click() {
        // A steady loud tone while the threshold jumps by 30 dB: with the fastest attack, the gain
        // still moves over the 10 ms parameter ramp rather than in one step.
        let s = CompressorSettings {
            attack_ms: 0.1,
            threshold_db: -6.0,
            ratio: 20.0,
            knee_db: 0.0,
            ..settings()
        };
        let mut comp = make(FS, &s);
        let steps = nyquist_steps(&[(0.0, 48_000)]);
        let (mut l, mut r) = (steps.clone(), steps.clone());
        run(&mut comp, &mut l[..24_000], &mut r[..24_000]);
        comp.set_settings(&CompressorSettings { threshold_db: -36.0, ..s });
        run(&mut comp, &mut l[24_000..], &mut r[24_000..]);
        let gains: Vec<f64> = (23_000..30_000).map(|n| gain_db(steps[n], l[n])).collect();
        let largest_step = gains.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f64::max);
        let total = gains[0] - gains[gains.len() - 1];
        println!("threshold jump: gain moves {total:.2} dB, largest per-sample step {largest_step:.4} dB");
        assert!(largest_step < total / 200.0);
    }
}
