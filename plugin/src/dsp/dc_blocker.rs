//! DC blocker: the first filter of the chain. Removes DC offset and infrasonic drift before it can
//! eat headroom or bias the detectors of the compressors and the limiter, and leaves the audio band
//! alone.
//!
//! ## Filter choice
//! A 2nd-order Butterworth high-pass at [`DC_BLOCKER_DEFAULT_CUTOFF_HZ`] = 5 Hz,
//! `H(s) = s² / (s² + √2·ωc·s + ωc²)`, `|H(f)|² = r⁴ / (1 + r⁴)` with `r = f/fc`:
//!
//! | at 5 Hz cut-off | magnitude | phase lead |
//! |---|---|---|
//! | 20 Hz | −0.017 dB | 20.7° |
//! | 50 Hz | −0.0004 dB | 8.1° |
//! | 100 Hz | ≈ 0 dB | 4.1° |
//! | −0.1 dB point | 2.56·fc = 12.8 Hz | |
//! | 2 Hz / 1 Hz | −16 dB / −28 dB | |
//!
//! Why not a 1st-order filter at ~3 Hz (`s / (s + ωc)`)? It rotates 20 Hz by only 8.5°, but it is
//! already −0.1 dB at 19.7 Hz (6.55·fc) and only −5 dB at 2 Hz: it touches the bottom of the audio
//! band and barely removes infrasonic drift. The 2nd-order filter is flat to −0.017 dB at 20 Hz and
//! rejects drift at 12 dB/octave; where the least phase shift at 20 Hz matters more, lower the
//! cut-off: at 2 Hz it rotates 20 Hz by 8.1° (less than the 1st-order filter at 3 Hz) and is −0.1 dB
//! at 5.1 Hz, at the price of slower settling after a DC step (1.3 s instead of 0.53 s to −100 dB).
//! The step response is `e^{−σt}·(cos σt − sin σt)` with `σ = ωc/√2`, so a unit DC step decays
//! below −100 dBFS after `ln(√2·10⁵)/σ` (0.53 s at 5 Hz).
//!
//! ## Implementation
//! Bilinear transform with the cut-off prewarped (RBJ Audio EQ Cookbook,
//! <https://www.w3.org/TR/audio-eq-cookbook/>, high-pass with Q = 1/√2): `K = tan(π·fc/fs)`,
//! `b = (1, −2, 1)/(1 + √2K + K²)`, `a1 = 2(K² − 1)/(…)`, `a2 = (1 − √2K + K²)/(…)`. Direct form I in
//! f64, with the numerator applied as `b0·((x − x1) − (x1 − x2))`: the zeros sit exactly at DC, so a
//! constant input is removed exactly, not just to within coefficient rounding. Direct form I keeps the
//! loop-carried dependency to one multiply and one subtraction per sample (the speed budget), and in
//! f64 its round-off is far below the f32 output resolution even at 1 Hz and 768 kHz
//! (poles 6·10⁻⁶ from z = 1). Both channels run as one 2-lane SSE2 vector on x86-64 (VEX-encoded
//! when the CPU has AVX) and as two scalars elsewhere; all builds perform the same IEEE operations
//! (no FMA), so they give the same bits.
//!
//! State is snapped to zero ([`snap_to_zero_f64`]) every [`SNAP_INTERVAL_SAMPLES`] on a fixed grid of
//! absolute sample positions, so silence after audio ends in exact zeros without subnormals, and the
//! snapping is independent of the block partition. Input that is NaN, ±∞ or larger than 1e6 is
//! treated as 0, as in the engine's sanitizer.
//!
//! ## Changes
//! Cut-off changes glide: the three coefficients move linearly to the new design over
//! [`COEFFICIENT_GLIDE_MS`], per sample (every intermediate set lies inside the convex stability
//! triangle and keeps the zeros at DC). Bypass crossfades over
//! [`BYPASS_FADE_MS`](crate::dsp::bypass::BYPASS_FADE_MS); the filter keeps running while bypassed, so
//! un-bypassing does not restart the DC transient. Latency is always 0.

use crate::dsp::bypass::BypassCrossfade;
use crate::dsp::clamp_sample_rate_hz;
use crate::dsp::denormals::snap_to_zero_f64;
#[cfg(test)]
use crate::dsp::stereo_lanes::ScalarPair;
use crate::dsp::stereo_lanes::{Pair, StereoLanes};

/// Default cut-off frequency.
pub const DC_BLOCKER_DEFAULT_CUTOFF_HZ: f32 = 5.0;

/// Lowest cut-off frequency.
pub const DC_BLOCKER_MIN_CUTOFF_HZ: f32 = 1.0;

/// Highest cut-off frequency.
pub const DC_BLOCKER_MAX_CUTOFF_HZ: f32 = 20.0;

/// Time over which the coefficients move to a new cut-off.
pub const COEFFICIENT_GLIDE_MS: f64 = 10.0;

/// Filter state is snapped to zero every this many samples (on absolute sample positions).
pub const SNAP_INTERVAL_SAMPLES: usize = 64;

/// DC blocker settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DcBlockerSettings {
    /// Cut-off (−3 dB) frequency of the 2nd-order Butterworth high-pass, 1–20 Hz (clamped, and kept
    /// below 0.45·fs). Default 5 Hz. NaN → default.
    pub cutoff_hz: f32,
    /// Bypass (crossfaded, bit-exact input once faded). Default false: the blocker is on.
    pub bypass: bool,
}

impl Default for DcBlockerSettings {
    fn default() -> Self {
        Self { cutoff_hz: DC_BLOCKER_DEFAULT_CUTOFF_HZ, bypass: false }
    }
}

impl DcBlockerSettings {
    /// The settings with every value in range (NaN → default).
    fn sanitized(&self, sample_rate_hz: f64) -> Self {
        let cutoff_hz = if self.cutoff_hz.is_nan() { DC_BLOCKER_DEFAULT_CUTOFF_HZ } else { self.cutoff_hz };
        let nyquist_guard = (0.45 * sample_rate_hz) as f32;
        let cutoff_hz =
            cutoff_hz.clamp(DC_BLOCKER_MIN_CUTOFF_HZ, DC_BLOCKER_MAX_CUTOFF_HZ).min(nyquist_guard);
        Self { cutoff_hz, bypass: self.bypass }
    }
}

/// Direct-form-I coefficients of `b0·(1 − 2z⁻¹ + z⁻²) / (1 + a1·z⁻¹ + a2·z⁻²)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Coefficients {
    /// Numerator gain (the numerator is `b0·(1 − 2z⁻¹ + z⁻²)`).
    b0: f64,
    /// First denominator coefficient.
    a1: f64,
    /// Second denominator coefficient.
    a2: f64,
}

impl Coefficients {
    /// 2nd-order Butterworth high-pass by the prewarped bilinear transform (see the module doc).
    fn butterworth_high_pass(cutoff_hz: f64, sample_rate_hz: f64) -> Self {
        let k = (std::f64::consts::PI * cutoff_hz / sample_rate_hz).tan();
        let sqrt2_k = std::f64::consts::SQRT_2 * k;
        let norm = 1.0 / (1.0 + sqrt2_k + k * k);
        Self { b0: norm, a1: 2.0 * (k * k - 1.0) * norm, a2: (1.0 - sqrt2_k + k * k) * norm }
    }

    /// Per-sample increment that reaches `target` from `self` in `samples` steps.
    fn step_towards(&self, target: &Self, samples: u32) -> Self {
        let n = samples.max(1) as f64;
        Self { b0: (target.b0 - self.b0) / n, a1: (target.a1 - self.a1) / n, a2: (target.a2 - self.a2) / n }
    }
}

/// One channel's filter memory (f64).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct ChannelState {
    /// Previous input.
    x1: f64,
    /// Input before that.
    x2: f64,
    /// Previous output.
    y1: f64,
    /// Output before that.
    y2: f64,
}

impl ChannelState {
    /// Snaps the recursive (output) state to zero once it has decayed below the threshold. The input
    /// history holds f32 values, which are never subnormal in f64, and is left exact so that a
    /// constant input is still removed exactly.
    fn snap(&mut self) {
        self.y1 = snap_to_zero_f64(self.y1);
        self.y2 = snap_to_zero_f64(self.y2);
    }
}

/// A coefficient glide in progress.
#[derive(Debug, Clone, Copy)]
struct Glide {
    /// Coefficients at the end of the glide.
    target: Coefficients,
    /// Per-sample increment.
    step: Coefficients,
    /// Samples left (0 = at rest on `target`).
    remaining: u32,
}

/// The DC blocker (stereo, latency 0).
#[derive(Debug, Clone)]
pub struct DcBlocker {
    /// Clamped sample rate.
    sample_rate_hz: f64,
    /// Current (sanitized) settings, for the dirty check.
    settings: DcBlockerSettings,
    /// Coefficients in use.
    coefficients: Coefficients,
    /// Glide towards the current cut-off's coefficients.
    glide: Glide,
    /// Glide length: `COEFFICIENT_GLIDE_MS·fs` samples (≥ 1).
    glide_samples: u32,
    /// Filter memory per channel.
    state: [ChannelState; 2],
    /// Position within the snapping grid, `0..SNAP_INTERVAL_SAMPLES`.
    snap_phase: usize,
    /// Crossfade between filtered and untouched audio.
    fade: BypassCrossfade,
    /// The CPU has AVX: the filter loop runs in a VEX-encoded build (same results, fewer moves).
    #[cfg(target_arch = "x86_64")]
    avx: bool,
    /// Tests: run the filter on [`ScalarPair`] (the build for targets without SSE2).
    #[cfg(test)]
    scalar_lanes: bool,
}

impl DcBlocker {
    /// A DC blocker at `sample_rate_hz` (clamped to [1 kHz, 1.536 MHz], non-finite → 48 kHz).
    pub fn new(sample_rate_hz: f64, settings: &DcBlockerSettings) -> Self {
        let fs = clamp_sample_rate_hz(sample_rate_hz);
        let settings = settings.sanitized(fs);
        let coefficients = Coefficients::butterworth_high_pass(settings.cutoff_hz as f64, fs);
        Self {
            sample_rate_hz: fs,
            settings,
            coefficients,
            glide: Glide {
                target: coefficients,
                step: Coefficients { b0: 0.0, a1: 0.0, a2: 0.0 },
                remaining: 0,
            },
            glide_samples: ((COEFFICIENT_GLIDE_MS * 1e-3 * fs).round() as u32).max(1),
            state: [ChannelState::default(); 2],
            snap_phase: 0,
            fade: BypassCrossfade::new(fs, settings.bypass),
            #[cfg(target_arch = "x86_64")]
            avx: std::arch::is_x86_feature_detected!("avx"),
            #[cfg(test)]
            scalar_lanes: false,
        }
    }

    /// Applies new settings (audio thread, once per sub-block; O(1) when nothing changed). A new
    /// cut-off glides over [`COEFFICIENT_GLIDE_MS`], bypass crossfades.
    pub fn set_settings(&mut self, settings: &DcBlockerSettings) {
        let settings = settings.sanitized(self.sample_rate_hz);
        if settings == self.settings {
            return;
        }
        if settings.cutoff_hz != self.settings.cutoff_hz {
            let target = Coefficients::butterworth_high_pass(settings.cutoff_hz as f64, self.sample_rate_hz);
            self.glide = Glide {
                target,
                step: self.coefficients.step_towards(&target, self.glide_samples),
                remaining: self.glide_samples,
            };
        }
        self.fade.set_bypassed(settings.bypass);
        self.settings = settings;
    }

    /// Clears all state; the next output equals that of a fresh instance with the current settings.
    pub fn reset(&mut self) {
        self.coefficients = self.glide.target;
        self.glide.remaining = 0;
        self.state = [ChannelState::default(); 2];
        self.snap_phase = 0;
        self.fade.settle();
    }

    /// Latency: always 0.
    pub fn latency_samples(&self) -> usize {
        0
    }

    /// Filters a stereo block in place (the shorter slice's length is processed).
    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let frames = left.len().min(right.len());
        let (Some(left), Some(right)) = (left.get_mut(..frames), right.get_mut(..frames)) else {
            return;
        };
        let mut rest = (left, right);
        while !rest.0.is_empty() {
            // Segments end on the snapping grid and where a glide ends (≤ 64 frames).
            let mut len = rest.0.len().min(SNAP_INTERVAL_SAMPLES - self.snap_phase);
            if self.glide.remaining > 0 {
                len = len.min(self.glide.remaining as usize);
            }
            let (left, left_rest) = std::mem::take(&mut rest.0).split_at_mut(len);
            let (right, right_rest) = std::mem::take(&mut rest.1).split_at_mut(len);
            rest = (left_rest, right_rest);
            self.process_segment(left, right);
            self.snap_phase += len;
            if self.snap_phase >= SNAP_INTERVAL_SAMPLES {
                self.snap_phase = 0;
                self.state.iter_mut().for_each(ChannelState::snap);
            }
        }
    }

    /// One segment (≤ [`SNAP_INTERVAL_SAMPLES`] frames, entirely gliding or entirely at rest).
    fn process_segment(&mut self, left: &mut [f32], right: &mut [f32]) {
        if self.fade.is_fully_processed() {
            self.filter::<true>(left, right);
        } else if self.fade.is_fully_bypassed() {
            // Keep the filter running so un-bypassing continues seamlessly; leave the audio alone.
            self.filter::<false>(left, right);
        } else {
            let mut dry_left = [0.0f32; SNAP_INTERVAL_SAMPLES];
            let mut dry_right = [0.0f32; SNAP_INTERVAL_SAMPLES];
            let dry_left = copy_into(&mut dry_left, left);
            let dry_right = copy_into(&mut dry_right, right);
            self.filter::<true>(left, right);
            self.fade.process(&mut [left, right], &[dry_left, dry_right]);
        }
    }

    /// Runs both channels through the filter, writing the output when `WRITE`.
    #[inline(always)]
    fn filter<const WRITE: bool>(&mut self, left: &mut [f32], right: &mut [f32]) {
        let filter = FilterRun {
            coefficients: &mut self.coefficients,
            glide: &mut self.glide,
            state: &mut self.state,
        };
        #[cfg(test)]
        if self.scalar_lanes {
            filter_kernel::<ScalarPair, WRITE>(filter, left, right);
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.avx {
            // SAFETY: `avx` is true only when the CPU reported AVX support in `new`.
            unsafe { filter_avx::<WRITE>(filter, left, right) };
            return;
        }
        filter_kernel::<Pair, WRITE>(filter, left, right);
    }
}

/// The mutable filter state one run works on.
struct FilterRun<'a> {
    /// Coefficients in use (moved per sample while gliding).
    coefficients: &'a mut Coefficients,
    /// The glide in progress, if any.
    glide: &'a mut Glide,
    /// Filter memory of (left, right).
    state: &'a mut [ChannelState; 2],
}

/// Both channels through the filter as one (left, right) vector, gliding the coefficients per sample
/// while a glide runs; writes the output when `WRITE`.
#[inline(always)]
fn filter_kernel<P: StereoLanes, const WRITE: bool>(run: FilterRun, left: &mut [f32], right: &mut [f32]) {
    let [state_left, state_right] = *run.state;
    let mut x1 = P::new(state_left.x1, state_right.x1);
    let mut x2 = P::new(state_left.x2, state_right.x2);
    let mut y1 = P::new(state_left.y1, state_right.y1);
    let mut y2 = P::new(state_left.y2, state_right.y2);
    // One sample of the direct form I: the numerator as a second difference (zeros exactly at DC),
    // the older output first so only one multiply and one subtraction depend on the newest output.
    let mut tick = |b0: P, a1: P, a2: P, l: &mut f32, r: &mut f32| {
        let x = P::from_f32(*l, *r);
        let second_difference = x.sub(x1).sub(x1.sub(x2));
        let y = b0.mul(second_difference).sub(a2.mul(y2)).sub(a1.mul(y1));
        (x2, x1, y2, y1) = (x1, x, y1, y);
        if WRITE {
            (*l, *r) = y.to_f32();
        }
    };
    if run.glide.remaining > 0 {
        let glide = run.glide;
        let coefficients = run.coefficients;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            glide.remaining = glide.remaining.saturating_sub(1);
            *coefficients = if glide.remaining == 0 {
                glide.target
            } else {
                Coefficients {
                    b0: coefficients.b0 + glide.step.b0,
                    a1: coefficients.a1 + glide.step.a1,
                    a2: coefficients.a2 + glide.step.a2,
                }
            };
            let c = *coefficients;
            tick(P::splat(c.b0), P::splat(c.a1), P::splat(c.a2), l, r);
        }
    } else {
        let c = *run.coefficients;
        let (b0, a1, a2) = (P::splat(c.b0), P::splat(c.a1), P::splat(c.a2));
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            tick(b0, a1, a2, l, r);
        }
    }
    let ([x1l, x1r], [x2l, x2r], [y1l, y1r], [y2l, y2r]) =
        (x1.to_array(), x2.to_array(), y1.to_array(), y2.to_array());
    *run.state = [
        ChannelState { x1: x1l, x2: x2l, y1: y1l, y2: y2l },
        ChannelState { x1: x1r, x2: x2r, y1: y1r, y2: y2r },
    ];
}

/// [`filter_kernel`] compiled for AVX (VEX encoding; the same IEEE operations, so the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn filter_avx<const WRITE: bool>(run: FilterRun, left: &mut [f32], right: &mut [f32]) {
    filter_kernel::<Pair, WRITE>(run, left, right);
}

/// Copies `source` into the front of `buffer` and returns that part.
fn copy_into<'a>(buffer: &'a mut [f32; SNAP_INTERVAL_SAMPLES], source: &[f32]) -> &'a [f32] {
    let mut used = 0;
    for (slot, &x) in buffer.iter_mut().zip(source) {
        *slot = x;
        used += 1;
    }
    &buffer[..used]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use std::f64::consts::PI;

    fn with_cutoff(cutoff_hz: f32) -> DcBlockerSettings {
        DcBlockerSettings { cutoff_hz, bypass: false }
    }

    fn render(blocker: &mut DcBlocker, left: &[f32], right: &[f32], block: usize) -> (Vec<f32>, Vec<f32>) {
        let (mut l, mut r) = (left.to_vec(), right.to_vec());
        for (bl, br) in l.chunks_mut(block).zip(r.chunks_mut(block)) {
            blocker.process(bl, br);
        }
        (l, r)
    }

    /// Analog 2nd-order Butterworth high-pass: magnitude in dB and phase lead in degrees.
    fn analytic(f: f64, fc: f64) -> (f64, f64) {
        let u = f / fc;
        let magnitude_db = 10.0 * (u.powi(4) / (1.0 + u.powi(4))).log10();
        // H(ju) = u² / (u² − 1 − j√2u)
        let phase_deg = (2f64.sqrt() * u).atan2(u * u - 1.0).to_degrees();
        (magnitude_db, phase_deg)
    }

    /// Steady-state gain (dB) and phase (degrees) measured by correlating the output with sin/cos
    /// over an integer number of periods after the transient.
    fn measure(fs: f64, cutoff_hz: f32, f: f64) -> (f64, f64) {
        let mut blocker = DcBlocker::new(fs, &with_cutoff(cutoff_hz));
        let settle = (3.0 * fs) as usize;
        let periods = (f * 2.0).ceil().max(4.0);
        let measured = (periods * fs / f).round() as usize;
        let f = periods * fs / measured as f64; // exactly `periods` cycles in the window
        let amplitude = 0.5;
        let input: Vec<f32> = (0..settle + measured)
            .map(|i| (amplitude * (2.0 * PI * f * i as f64 / fs).sin()) as f32)
            .collect();
        let (out, _) = render(&mut blocker, &input, &input, 64);
        let (mut s, mut c) = (0.0, 0.0);
        for (i, &y) in out[settle..].iter().enumerate() {
            let phase = 2.0 * PI * f * (settle + i) as f64 / fs;
            s += y as f64 * phase.sin();
            c += y as f64 * phase.cos();
        }
        let gain = 2.0 * (s * s + c * c).sqrt() / measured as f64 / amplitude;
        (20.0 * gain.log10(), c.atan2(s).to_degrees())
    }

    #[test]
    fn magnitude_and_phase_match_the_analytic_butterworth_response() {
        for fs in [8_000.0, 44_100.0, 48_000.0, 96_000.0, 768_000.0] {
            for cutoff in [DC_BLOCKER_DEFAULT_CUTOFF_HZ, 2.0, 20.0] {
                let fc = cutoff as f64;
                // fc (−3.01 dB), the −0.1 dB point 2.5597·fc, 20 Hz, 50 Hz, 1 kHz.
                let minus_01_db_point = fc / (10f64.powf(0.01) - 1.0).powf(0.25);
                for f in [fc, minus_01_db_point, 20.0, 50.0, 1_000.0].into_iter().filter(|&f| f < 0.45 * fs) {
                    let (gain_db, phase_deg) = measure(fs, cutoff, f);
                    let (expected_db, expected_phase) = analytic(f, fc);
                    println!(
                        "fs {fs} fc {fc} Hz, {f:7.2} Hz: {gain_db:+.4} dB (analytic {expected_db:+.4}), phase \
                         {phase_deg:+.2}° (analytic {expected_phase:+.2}°)"
                    );
                    assert!((gain_db - expected_db).abs() < 0.01);
                    assert!((phase_deg - expected_phase).abs() < 0.1);
                }
            }
        }
        let (at_20, phase_20) = analytic(20.0, 5.0);
        assert!((at_20 + 0.017).abs() < 0.001 && (phase_20 - 20.66).abs() < 0.01, "module doc table");
    }

    #[test]
    fn dc_step_decays_below_minus_100_dbfs_within_the_analytic_time() {
        for fs in [44_100.0, 48_000.0, 96_000.0, 192_000.0] {
            for cutoff in [1.0f32, 5.0, 20.0] {
                // Step response e^{−σt}(cos σt − sin σt), σ = ωc/√2: envelope √2·e^{−σt}.
                let sigma = 2.0 * PI * cutoff as f64 / 2f64.sqrt();
                let analytic_s = (2f64.sqrt() * 1e5).ln() / sigma;
                let n = ((analytic_s + 0.5) * fs) as usize;
                let input = vec![1.0f32; n];
                let mut blocker = DcBlocker::new(fs, &with_cutoff(cutoff));
                let (out, _) = render(&mut blocker, &input, &input, 64);
                let last_above = out.iter().rposition(|y| y.abs() >= 1e-5).unwrap_or(0);
                let measured_s = (last_above + 1) as f64 / fs;
                println!("fs {fs} fc {cutoff} Hz: below −100 dBFS after {measured_s:.4} s (analytic bound {analytic_s:.4} s)");
                assert!(measured_s <= analytic_s);
                // The envelope holds all along (the filter is the analytic one, not just faster).
                for (i, y) in out.iter().enumerate() {
                    let envelope = 2f64.sqrt() * (-sigma * i as f64 / fs).exp();
                    assert!((y.abs() as f64) <= envelope * 1.001 + 1e-7, "sample {i}");
                }
                assert!(out.iter().any(|y| (y.abs() as f64) > 0.3), "a real step response");
                // The DC zero is exact: once the tail passes the snap threshold (1e−15, ≈ 35/σ), the
                // output is exact zeros although the input is still 1.0.
                let tail = vec![1.0f32; (36.0 / sigma * fs) as usize];
                let (out, _) = render(&mut blocker, &tail, &tail, 64);
                assert_eq!(out[out.len() - 64..], [0.0; 64]);
            }
        }
    }

    #[test]
    fn bypass_is_bit_exact_with_zero_latency() {
        let mut rng = Rng::new(5);
        let mut input: Vec<f32> = (0..10_000).map(|_| rng.range(-1.0, 1.0) as f32 * 0.9 + 0.1).collect();
        input.extend([f32::MIN_POSITIVE / 4.0, 3.0, -7.0]);
        let settings = DcBlockerSettings { bypass: true, ..Default::default() };
        let mut blocker = DcBlocker::new(48_000.0, &settings);
        assert_eq!(blocker.latency_samples(), 0);
        let (l, r) = render(&mut blocker, &input, &input, 33);
        assert!(l.iter().chain(&r).zip(input.iter().chain(&input)).all(|(a, b)| a.to_bits() == b.to_bits()));
        let mut impulse = vec![0.0f32; 128];
        impulse[0] = 1.0;
        let (l, _) = render(&mut blocker, &impulse, &impulse, 128);
        assert_eq!(l, impulse);
        // Active: the impulse also leaves at sample 0 (b0 ≈ 1 at sample 0).
        let mut blocker = DcBlocker::new(48_000.0, &DcBlockerSettings::default());
        let (l, _) = render(&mut blocker, &impulse, &impulse, 128);
        assert!(l[0] > 0.999 && l[1..].iter().all(|y| y.abs() < 0.01));
    }

    #[test]
    fn bypass_toggle_crossfades_and_keeps_tracking() {
        let fs = 48_000.0;
        // 0.25 DC + a 1 kHz tone: bypassing brings the DC back over the fade, no jump.
        let input: Vec<f32> = (0..fs as usize * 3)
            .map(|i| (0.25 + 0.1 * (2.0 * PI * 1000.0 * i as f64 / fs).sin()) as f32)
            .collect();
        let mut blocker = DcBlocker::new(fs, &DcBlockerSettings::default());
        let mut settings = DcBlockerSettings::default();
        let (mut l, mut r) = (input.clone(), input.clone());
        for (i, (bl, br)) in l.chunks_mut(64).zip(r.chunks_mut(64)).enumerate() {
            if i == 1500 {
                settings.bypass = true;
            }
            if i == 1800 {
                settings.bypass = false;
            }
            blocker.set_settings(&settings);
            blocker.process(bl, br);
        }
        let natural_step = 0.1 * 2.0 * PI * 1000.0 / fs;
        let fade = crate::dsp::bypass::BYPASS_FADE_MS * 1e-3 * fs;
        let max_step = l.windows(2).skip(fs as usize).map(|w| (w[1] - w[0]).abs() as f64).fold(0.0, f64::max);
        println!(
            "largest step through the toggles {max_step:.5} (tone alone {natural_step:.5}, DC/fade {:.5})",
            0.25 / fade
        );
        assert!(max_step < natural_step + 0.25 / fade * 1.1);
        let bypassed = 1500 * 64 + fade as usize..1800 * 64;
        assert!(l[bypassed.clone()].iter().zip(&input[bypassed]).all(|(a, b)| a.to_bits() == b.to_bits()));
        // The filter kept running while bypassed: right after the fade back, the DC is gone.
        let back = 1800 * 64 + fade as usize;
        let mean = l[back..back + 480].iter().map(|&y| y as f64).sum::<f64>() / 480.0;
        assert!(mean.abs() < 1e-3, "mean {mean}");
    }

    fn test_signal(n: usize) -> Vec<f32> {
        let mut rng = Rng::new(17);
        (0..n)
            .map(|i| match (i / 5000) % 3 {
                0 => (0.3 + rng.range(-1.0, 1.0) * 0.3) as f32,
                1 => 0.0,
                _ => (0.5 * (i as f64 * 0.01).sin() - 0.2) as f32,
            })
            .collect()
    }

    #[test]
    fn block_size_invariance_including_glides() {
        let n = 40_000;
        let left = test_signal(n);
        let right: Vec<f32> = left.iter().map(|x| -x * 0.5).collect();
        // Settings change at multiples of 448 = 7·64 so every partition sees them at the same sample.
        let run = |block: usize| {
            let mut blocker = DcBlocker::new(44_100.0, &DcBlockerSettings::default());
            let (mut l, mut r) = (left.clone(), right.clone());
            let mut position = 0usize;
            for (bl, br) in l.chunks_mut(block).zip(r.chunks_mut(block)) {
                if position.is_multiple_of(448) {
                    let step = position / 448;
                    blocker.set_settings(&DcBlockerSettings {
                        cutoff_hz: [5.0, 20.0, 1.0, 7.5][(step / 9) % 4],
                        bypass: step % 13 == 5,
                    });
                }
                blocker.process(bl, br);
                position += bl.len();
            }
            (l, r)
        };
        let reference = run(448);
        for block in [1, 7, 64] {
            assert!(run(block) == reference, "block {block}");
        }
        // Constant settings: any partition, including 4096 and random blocks.
        let s = DcBlockerSettings::default();
        let reference = render(&mut DcBlocker::new(48_000.0, &s), &left, &right, n);
        for block in [1, 7, 64, 4096] {
            assert!(
                render(&mut DcBlocker::new(48_000.0, &s), &left, &right, block) == reference,
                "block {block}"
            );
        }
        let mut blocker = DcBlocker::new(48_000.0, &s);
        let mut rng = Rng::new(23);
        let (mut l, mut r) = (left.clone(), right.clone());
        let mut start = 0;
        while start < n {
            let end = (start + 1 + (rng.next_u64() % 900) as usize).min(n);
            blocker.process(&mut l[start..end], &mut r[start..end]);
            start = end;
        }
        assert!((l, r) == reference, "random blocks");
    }

    #[test]
    fn reset_equals_a_fresh_instance() {
        let input = test_signal(20_000);
        let mut blocker = DcBlocker::new(48_000.0, &DcBlockerSettings::default());
        render(&mut blocker, &input, &input, 100);
        // Leave a glide and a crossfade in flight.
        let changed = DcBlockerSettings { cutoff_hz: 12.0, bypass: true };
        blocker.set_settings(&changed);
        render(&mut blocker, &input[..50], &input[..50], 50);
        blocker.reset();
        let after_reset = render(&mut blocker, &input, &input, 64);
        assert!(after_reset == render(&mut DcBlocker::new(48_000.0, &changed), &input, &input, 64));
    }

    #[test]
    fn cutoff_change_glides_without_a_click() {
        let fs = 48_000.0;
        let input: Vec<f32> = (0..fs as usize * 2)
            .map(|i| (0.3 + 0.5 * (2.0 * PI * 40.0 * i as f64 / fs).sin()) as f32)
            .collect();
        let mut blocker = DcBlocker::new(fs, &with_cutoff(1.0));
        let (mut l, mut r) = (input.clone(), input.clone());
        for (i, (bl, br)) in l.chunks_mut(64).zip(r.chunks_mut(64)).enumerate() {
            if i == 700 {
                blocker.set_settings(&with_cutoff(20.0));
            }
            blocker.process(bl, br);
        }
        // The 40 Hz tone's own largest step vs the largest step around the change.
        let natural_step = 0.5 * 2.0 * PI * 40.0 / fs * 1.1;
        let around = &l[700 * 64 - 100..700 * 64 + 2000];
        let max_step = around.windows(2).map(|w| (w[1] - w[0]).abs() as f64).fold(0.0, f64::max);
        println!("cut-off 1 → 20 Hz under a 40 Hz tone: largest step {max_step:.6} (tone alone ≤ {natural_step:.6})");
        assert!(max_step < natural_step);
        // The glide ends exactly on the new design.
        assert_eq!(blocker.coefficients, Coefficients::butterworth_high_pass(20.0, fs));
        assert_eq!(blocker.glide.remaining, 0);
    }

    #[test]
    fn hostile_input_then_long_silence_leaves_no_subnormals() {
        for fs in [8_000.0, 48_000.0, 768_000.0] {
            let mut blocker = DcBlocker::new(fs, &with_cutoff(1.0));
            let mut input =
                vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.0e30, -1.0e30, f32::MAX, f32::MIN];
            input.extend(vec![1.0f32; 2_000]);
            input.extend([1.0e6, -1.0e6, 1.0e6, -1.0e6]);
            input.extend(vec![f32::MIN_POSITIVE / 4.0; 2_000]);
            let (l, r) = render(&mut blocker, &input, &input, 64);
            assert!(l.iter().chain(&r).all(|y| y.is_finite()));
            // Silence long enough for the unsnapped f64 decay to reach the subnormal range
            // (e^{−σt} < 1e−308 needs t > 709/σ = 160 s at 1 Hz; the snap must end it much sooner).
            let silence = vec![0.0f32; (fs * 12.0) as usize];
            let mut last = (Vec::new(), Vec::new());
            for _ in 0..3 {
                last = render(&mut blocker, &silence, &silence, 64);
            }
            for state in &blocker.state {
                for v in [state.x1, state.x2, state.y1, state.y2] {
                    assert_eq!(v, 0.0, "fs {fs}: state snapped to exact zero");
                }
            }
            assert!(last.0.iter().chain(&last.1).all(|y| !y.is_subnormal()));
            assert!(last.0[last.0.len() - 1000..].iter().all(|&y| y.to_bits() == 0));
            // Recovery: a tone passes normally afterwards.
            let tone: Vec<f32> =
                (0..fs as usize).map(|i| (0.5 * (2.0 * PI * 500.0 * i as f64 / fs).sin()) as f32).collect();
            let (l, _) = render(&mut blocker, &tone, &tone, 64);
            let peak = l[fs as usize / 2..].iter().fold(0.0f32, |m, y| m.max(y.abs()));
            assert!((peak - 0.5).abs() < 0.01, "fs {fs}: peak {peak}");
        }
    }

    #[test]
    fn sample_rates_from_8k_to_768k_remove_dc_and_pass_audio() {
        for fs in
            [8_000.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0, 768_000.0, 12_345.678, 0.0, f64::NAN, 1e12]
        {
            let mut blocker = DcBlocker::new(fs, &DcBlockerSettings::default());
            let rate = blocker.sample_rate_hz;
            let n = (rate * 1.5) as usize;
            // A ~200 Hz tone with a whole number of samples per period, so whole periods average out.
            let period = (rate / 200.0).round() as usize;
            let input: Vec<f32> = (0..n)
                .map(|i| (0.2 + 0.3 * (2.0 * PI * (i % period) as f64 / period as f64).sin()) as f32)
                .collect();
            let (l, r) = render(&mut blocker, &input, &input, 64);
            assert!(l.iter().chain(&r).all(|y| y.is_finite()));
            let tail = &l[n - 20 * period..];
            let mean = tail.iter().map(|&y| y as f64).sum::<f64>() / tail.len() as f64;
            let rms =
                (tail.iter().map(|&y| (y as f64 - mean).powi(2)).sum::<f64>() / tail.len() as f64).sqrt();
            let amplitude = rms * 2f64.sqrt();
            println!("fs {rate}: residual DC {mean:+.2e}, tone amplitude {amplitude:.5} (in 0.3)");
            assert!(mean.abs() < 1e-6 && (amplitude - 0.3).abs() < 0.003);
        }
    }

    /// Every build of the filter loop (SSE2, AVX, scalar lanes for targets without SSE2) gives the
    /// same bits, including hostile input, glides and crossfades.
    #[test]
    fn all_builds_give_identical_bits() {
        let mut left = test_signal(30_000);
        left.extend([f32::NAN, f32::INFINITY, -1.0e30, 1.0e6, -1.0e6, f32::MIN_POSITIVE / 8.0]);
        let right: Vec<f32> = left.iter().map(|x| x * -0.7 + 1e-3).collect();
        let run = |avx: bool, scalar: bool| {
            let mut blocker = DcBlocker::new(44_100.0, &DcBlockerSettings::default());
            #[cfg(target_arch = "x86_64")]
            {
                blocker.avx = avx && std::arch::is_x86_feature_detected!("avx");
            }
            let _ = avx;
            blocker.scalar_lanes = scalar;
            let (mut l, mut r) = (left.clone(), right.clone());
            for (i, (bl, br)) in l.chunks_mut(64).zip(r.chunks_mut(64)).enumerate() {
                blocker.set_settings(&DcBlockerSettings {
                    cutoff_hz: if (i / 100) % 2 == 0 { 5.0 } else { 17.0 },
                    bypass: (i / 70) % 3 == 2,
                });
                blocker.process(bl, br);
            }
            (l, r)
        };
        let reference = run(false, false);
        let same = |a: &(Vec<f32>, Vec<f32>)| {
            a.0.iter()
                .chain(&a.1)
                .zip(reference.0.iter().chain(&reference.1))
                .all(|(x, y)| x.to_bits() == y.to_bits())
        };
        assert!(same(&run(true, false)), "AVX build");
        assert!(same(&run(false, true)), "scalar lanes");
    }

    #[test]
    fn settings_are_clamped_and_nan_is_default() {
        let fs = 48_000.0;
        let cases =
            [(f32::NAN, 5.0), (0.1, 1.0), (-3.0, 1.0), (100.0, 20.0), (f32::INFINITY, 20.0), (7.0, 7.0)];
        for (given, expected) in cases {
            assert_eq!(with_cutoff(given).sanitized(fs).cutoff_hz, expected);
        }
        let defaults = DcBlockerSettings::default();
        assert_eq!(defaults.cutoff_hz, 5.0);
        assert!(!defaults.bypass);
        // NaN settings are a no-op after the first call (dirty check on sanitized values).
        let mut blocker = DcBlocker::new(fs, &defaults);
        blocker.set_settings(&with_cutoff(f32::NAN));
        assert_eq!(blocker.glide.remaining, 0);
    }
}
