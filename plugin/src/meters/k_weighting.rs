//! K-weighting filter of ITU-R BS.1770-5, §2.1 and Annex 1: a second-order high-shelf
//! "pre-filter" (head acoustics, about +4 dB above 2 kHz) followed by the second-order "RLB"
//! high-pass (revised low-frequency B-curve, about 38 Hz).
//!
//! BS.1770 tabulates the coefficients only for 48 kHz. For any other rate they are derived from
//! the analogue prototypes through the bilinear transform, with the prototype parameters that
//! reproduce the 48 kHz table to about 1e-8 (the derivation used by libebur128 and pyloudnorm):
//!
//! * shelf: f0 = 1681.974450955533 Hz, gain G = 3.999843853973347 dB, Q = 0.7071752369554196;
//! * high-pass: f0 = 38.13547087602444 Hz, Q = 0.5003270373238773.
//!
//! The filter runs in `f64` (transposed direct form II); state values that decay below
//! [`DENORMAL_SNAP_THRESHOLD`] are snapped to zero by [`KWeightingFilter::flush_denormals`].

use super::clamp_sample_rate_hz;

/// Centre frequency of the BS.1770 high-shelf pre-filter prototype, in Hz.
pub const SHELF_F0_HZ: f64 = 1681.974450955533;
/// High-frequency gain of the BS.1770 high-shelf pre-filter prototype, in dB.
pub const SHELF_GAIN_DB: f64 = 3.999843853973347;
/// Quality factor of the BS.1770 high-shelf pre-filter prototype.
pub const SHELF_Q: f64 = 0.7071752369554196;
/// Exponent relating the shelf's band gain `Vb` to its high gain `Vh` (`Vb = Vh^x`).
const SHELF_VB_EXPONENT: f64 = 0.4996667741545416;
/// Corner frequency of the BS.1770 RLB high-pass prototype, in Hz.
pub const HIGH_PASS_F0_HZ: f64 = 38.13547087602444;
/// Quality factor of the BS.1770 RLB high-pass prototype.
pub const HIGH_PASS_Q: f64 = 0.5003270373238773;

/// Filter state magnitudes below this are snapped to zero (≈ −600 dBFS, far below anything
/// measurable, but well above the `f64` subnormal range so the FPU never slows down).
pub const DENORMAL_SNAP_THRESHOLD: f64 = 1e-30;

/// Coefficients of one biquad (the DSP modules' type: one definition for the whole crate).
pub use crate::dsp::biquad::BiquadCoefficients;

/// The two K-weighting stages for one sample rate (ITU-R BS.1770-5 Annex 1, Tables 1 and 2 at
/// 48 kHz; bilinear-transform derivation elsewhere).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KWeightingCoefficients {
    /// Stage 1: high-shelf pre-filter (BS.1770-5 Table 1).
    pub shelf: BiquadCoefficients,
    /// Stage 2: RLB high-pass (BS.1770-5 Table 2).
    pub high_pass: BiquadCoefficients,
}

impl KWeightingCoefficients {
    /// Derives both stages for `sample_rate_hz` (clamped to the supported range) from the
    /// analogue prototypes by the bilinear transform with frequency pre-warping
    /// (`K = tan(π·f0/fs)`).
    pub fn new(sample_rate_hz: f64) -> Self {
        let fs = clamp_sample_rate_hz(sample_rate_hz);
        let pi = std::f64::consts::PI;

        // Stage 1: high shelf.
        let k = (pi * SHELF_F0_HZ / fs).tan();
        let vh = 10.0_f64.powf(SHELF_GAIN_DB / 20.0);
        let vb = vh.powf(SHELF_VB_EXPONENT);
        let a0 = 1.0 + k / SHELF_Q + k * k;
        let shelf = BiquadCoefficients {
            b0: (vh + vb * k / SHELF_Q + k * k) / a0,
            b1: 2.0 * (k * k - vh) / a0,
            b2: (vh - vb * k / SHELF_Q + k * k) / a0,
            a1: 2.0 * (k * k - 1.0) / a0,
            a2: (1.0 - k / SHELF_Q + k * k) / a0,
        };

        // Stage 2: RLB high-pass. BS.1770 keeps the numerator un-normalised as (1, −2, 1).
        let k = (pi * HIGH_PASS_F0_HZ / fs).tan();
        let a0 = 1.0 + k / HIGH_PASS_Q + k * k;
        let high_pass = BiquadCoefficients {
            b0: 1.0,
            b1: -2.0,
            b2: 1.0,
            a1: 2.0 * (k * k - 1.0) / a0,
            a2: (1.0 - k / HIGH_PASS_Q + k * k) / a0,
        };

        Self { shelf, high_pass }
    }
}

/// One channel of K-weighting: shelf then RLB high-pass, `f64` state.
#[derive(Debug, Clone)]
pub struct KWeightingFilter {
    /// Coefficients for the configured sample rate.
    coefficients: KWeightingCoefficients,
    /// Transposed-direct-form-II state of the shelf stage.
    shelf_state: [f64; 2],
    /// Transposed-direct-form-II state of the high-pass stage.
    high_pass_state: [f64; 2],
}

impl KWeightingFilter {
    /// Creates a filter at rest for `sample_rate_hz` (clamped to the supported range).
    pub fn new(sample_rate_hz: f64) -> Self {
        Self {
            coefficients: KWeightingCoefficients::new(sample_rate_hz),
            shelf_state: [0.0; 2],
            high_pass_state: [0.0; 2],
        }
    }

    /// The coefficients in use.
    pub fn coefficients(&self) -> &KWeightingCoefficients {
        &self.coefficients
    }

    /// Returns the filter to rest (zero state).
    pub fn reset(&mut self) {
        self.shelf_state = [0.0; 2];
        self.high_pass_state = [0.0; 2];
    }

    /// Filters one sample (full scale = 1.0) and returns the K-weighted sample.
    #[inline(always)]
    pub fn process_sample(&mut self, x: f64) -> f64 {
        let s = &self.coefficients.shelf;
        let y1 = s.b0 * x + self.shelf_state[0];
        self.shelf_state[0] = s.b1 * x - s.a1 * y1 + self.shelf_state[1];
        self.shelf_state[1] = s.b2 * x - s.a2 * y1;

        let h = &self.coefficients.high_pass;
        let y2 = h.b0 * y1 + self.high_pass_state[0];
        self.high_pass_state[0] = h.b1 * y1 - h.a1 * y2 + self.high_pass_state[1];
        self.high_pass_state[1] = h.b2 * y1 - h.a2 * y2;
        y2
    }

    /// Filters `input` into `output` (as many samples as the shorter of the two holds) and then
    /// flushes denormals. Never allocates.
    pub fn process(&mut self, input: &[f32], output: &mut [f64]) {
        for (y, &x) in output.iter_mut().zip(input) {
            *y = self.process_sample(f64::from(x));
        }
        self.flush_denormals();
    }

    /// Filters `input` and returns the sum of the squared K-weighted samples, added to
    /// `energy` one sample at a time in order (so the result does not depend on how a signal
    /// is split into calls).
    #[inline]
    pub fn accumulate_energy(&mut self, input: &[f32], mut energy: f64) -> f64 {
        let mut filter = self.clone();
        for &x in input {
            let y = filter.process_sample(f64::from(x));
            energy += y * y;
        }
        self.shelf_state = filter.shelf_state;
        self.high_pass_state = filter.high_pass_state;
        energy
    }

    /// Snaps tiny state values (below [`DENORMAL_SNAP_THRESHOLD`]) to zero and clears a state
    /// that has become non-finite (NaN or infinite input), so one bad sample cannot poison the
    /// filter forever.
    pub fn flush_denormals(&mut self) {
        let finite = self.shelf_state.iter().chain(&self.high_pass_state).all(|s| s.is_finite());
        if !finite {
            self.reset();
            return;
        }
        for s in self.shelf_state.iter_mut().chain(&mut self.high_pass_state) {
            if s.abs() < DENORMAL_SNAP_THRESHOLD {
                *s = 0.0;
            }
        }
    }
}

/// Filters two channels at once (independent dependency chains run in parallel on the CPU) and
/// adds their squared outputs to `energy`, sample by sample in order, exactly as two separate
/// [`KWeightingFilter::accumulate_energy`] calls would.
#[inline]
pub fn accumulate_energy_pair(
    filters: (&mut KWeightingFilter, &mut KWeightingFilter),
    inputs: (&[f32], &[f32]),
    energy: (f64, f64),
) -> (f64, f64) {
    let (mut fa, mut fb) = (filters.0.clone(), filters.1.clone());
    let (mut ea, mut eb) = energy;
    for (&xa, &xb) in inputs.0.iter().zip(inputs.1) {
        let ya = fa.process_sample(f64::from(xa));
        let yb = fb.process_sample(f64::from(xb));
        ea += ya * ya;
        eb += yb * yb;
    }
    filters.0.shelf_state = fa.shelf_state;
    filters.0.high_pass_state = fa.high_pass_state;
    filters.1.shelf_state = fb.shelf_state;
    filters.1.high_pass_state = fb.high_pass_state;
    (ea, eb)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Magnitude response in dB of the cascade at `frequency_hz`.
    fn response_db(c: &KWeightingCoefficients, frequency_hz: f64, sample_rate_hz: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * frequency_hz / sample_rate_hz;
        let mag = |q: &BiquadCoefficients| {
            let (c1, s1, c2, s2) = (w.cos(), w.sin(), (2.0 * w).cos(), (2.0 * w).sin());
            let nr = q.b0 + q.b1 * c1 + q.b2 * c2;
            let ni = -(q.b1 * s1 + q.b2 * s2);
            let dr = 1.0 + q.a1 * c1 + q.a2 * c2;
            let di = -(q.a1 * s1 + q.a2 * s2);
            ((nr * nr + ni * ni) / (dr * dr + di * di)).sqrt()
        };
        20.0 * (mag(&c.shelf) * mag(&c.high_pass)).log10()
    }

    #[test]
    fn reproduces_bs1770_48k_table() {
        // ITU-R BS.1770-5 Annex 1, Table 1 (pre-filter) and Table 2 (RLB), 48 kHz.
        let c = KWeightingCoefficients::new(48_000.0);
        let expected_shelf =
            [1.53512485958697, -2.69169618940638, 1.19839281085285, -1.69065929318241, 0.73248077421585];
        let got_shelf = [c.shelf.b0, c.shelf.b1, c.shelf.b2, c.shelf.a1, c.shelf.a2];
        let expected_hp = [1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621];
        let got_hp = [c.high_pass.b0, c.high_pass.b1, c.high_pass.b2, c.high_pass.a1, c.high_pass.a2];
        let mut worst = 0.0_f64;
        for (g, e) in got_shelf.iter().zip(&expected_shelf).chain(got_hp.iter().zip(&expected_hp)) {
            worst = worst.max((g - e).abs());
        }
        println!("K-weighting 48 kHz: worst coefficient deviation from BS.1770 table = {worst:.3e}");
        assert!(worst < 1e-8, "worst deviation {worst}");
    }

    #[test]
    fn response_is_rate_independent_in_the_audio_band() {
        // The analogue prototype is the same at every rate; the bilinear transform only warps
        // frequencies near Nyquist, so low/mid-band responses must agree across rates.
        // (At low rates such as 8 kHz the shelf at 1.7 kHz is warped noticeably: a 1 kHz tone
        // reads 0.02 LU high at 8 kHz, as with libebur128; those rates are not compared here.)
        let reference = KWeightingCoefficients::new(768_000.0);
        for fs in [44_100.0, 48_000.0, 88_200.0, 96_000.0, 192_000.0] {
            let c = KWeightingCoefficients::new(fs);
            for f in [20.0, 38.0, 100.0, 500.0, 1_000.0] {
                // The warped shelf shifts the response by up to ≈ 0.045 dB at 20 Hz (44.1 kHz).
                let d = response_db(&c, f, fs) - response_db(&reference, f, 768_000.0);
                assert!(d.abs() < 0.05, "fs {fs} f {f}: {d} dB");
            }
        }
        // 997 Hz/1 kHz gain ≈ +0.691 dB, the offset BS.1770 subtracts (−0.691 in eq. 2).
        let c = KWeightingCoefficients::new(48_000.0);
        let g = response_db(&c, 1_000.0, 48_000.0);
        assert!((g - 0.691).abs() < 0.01, "1 kHz gain {g}");
        // +4 dB shelf at high frequencies.
        let g = response_db(&c, 10_000.0, 48_000.0);
        assert!((g - 4.0).abs() < 0.2, "10 kHz gain {g}");
    }

    #[test]
    fn clamps_any_rate_without_panicking() {
        for fs in [0.0, -1.0, 1.0, 7_999.0, 1e7, f64::NAN, f64::INFINITY] {
            let mut f = KWeightingFilter::new(fs);
            let y = f.process_sample(1.0);
            assert!(y.is_finite());
        }
    }

    #[test]
    fn flushes_tiny_and_non_finite_state() {
        let mut f = KWeightingFilter::new(48_000.0);
        f.process_sample(1.0);
        for _ in 0..200_000 {
            f.process_sample(0.0);
        }
        f.flush_denormals();
        assert_eq!(f.shelf_state, [0.0; 2]);
        assert_eq!(f.high_pass_state, [0.0; 2]);

        f.process_sample(f64::NAN);
        f.flush_denormals();
        assert!(f.process_sample(0.5).is_finite());
    }

    #[test]
    fn pair_and_single_paths_agree_bitwise() {
        let input: Vec<f32> = (0..5_000).map(|n| ((n as f32) * 0.37).sin() * 0.3).collect();
        let mut a = KWeightingFilter::new(44_100.0);
        let mut b = KWeightingFilter::new(44_100.0);
        let single = a.accumulate_energy(&input, 0.0);
        let mut c = KWeightingFilter::new(44_100.0);
        let (pair, _) = accumulate_energy_pair((&mut b, &mut c), (&input, &input), (0.0, 0.0));
        assert_eq!(single.to_bits(), pair.to_bits());
        let mut out = vec![0.0; input.len()];
        KWeightingFilter::new(44_100.0).process(&input, &mut out);
        let direct: f64 = out.iter().fold(0.0, |acc, y| acc + y * y);
        assert_eq!(single.to_bits(), direct.to_bits());
    }
}
