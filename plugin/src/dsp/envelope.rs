//! Building blocks shared by the glue compressor and the multiband compressor: the gain computer
//! (static curve), the level detector (ballistics), fast dB conversions and parameter ramps.
//!
//! The design is the feed-forward, log-domain compressor of Giannoulis, Massberg and Reiss,
//! "Digital Dynamic Range Compressor Design — A Tutorial and Analysis", JAES 60(6), 2012
//! (<https://www.eecs.qmul.ac.uk/~josh/documents/2012/GiannoulisMassbergReiss-dynamicrangecompression-JAES2012.pdf>):
//!
//! 1. level `x_G = 20·log10|x|` (dB),
//! 2. gain computer with a soft knee of width `W` around the threshold `T` (their eq. 4):
//!    `y_G = x_G` below `T − W/2`, `T + (x_G − T)/R` above `T + W/2`, and
//!    `x_G + (1/R − 1)·(x_G − T + W/2)² / (2W)` inside the knee,
//! 3. gain reduction `x_L = x_G − y_G ≥ 0` smoothed in the log domain by the *smooth branching*
//!    peak detector (their eq. 17): `y_L[n] = α_A·y_L[n−1] + (1 − α_A)·x_L[n]` while `x_L` rises
//!    above `y_L`, `α_R` otherwise, with `α = exp(−1/(τ·fs))`,
//! 4. gain `10^(−y_L/20)`.
//!
//! Attack/release times are the one-pole time constants τ: after a step of the gain computer's
//! output the smoothed reduction has covered `1 − 1/e ≈ 63.2 %` of the step after τ.
//!
//! **Auto release** (program-dependent, the dual time-constant release of bus compressors): a
//! second, slow smooth-branching detector runs in parallel on the same gain-computer output with a
//! charge (attack) time constant of [`AUTO_SUSTAIN_MS`] and a release of
//! [`AUTO_RELEASE_FACTOR`]·release; the output is the larger of the two. A transient (reduction
//! shorter than about [`AUTO_SUSTAIN_MS`]) barely charges the slow detector, so it releases with the
//! set release time; sustained reduction charges it, so the release follows the slower time
//! constant, avoiding pumping on dense material. (Measured: 150 ms release → a 90 ms burst releases
//! to 36.8 % in 150 ms, 5 s of sustained reduction in 750 ms.)
//!
//! **Fast dB conversions.** The level uses [`fast_log2`] (range reduction to [√½, √2) and the
//! odd `atanh` series to t⁷, series error < 5·10⁻⁸; measured error < 4·10⁻⁶ in log2 over
//! 10⁻³⁰..10³⁰, i.e. < 3·10⁻⁵ dB, the f32 rounding of the result) and the
//! gain uses [`fast_exp2`] (round-to-nearest reduction to [−½, ½] and a degree-6 Taylor polynomial:
//! relative error < 2·10⁻⁷, i.e. < 2·10⁻⁶ dB). Both are branch-free and vectorise; `fast_exp2(0)`
//! is exactly 1, so zero reduction is a bit-exact unity gain.

use crate::dsp::kernel::MulAdd;
#[cfg(test)]
use crate::dsp::kernel::Separate;

/// `20·log10(2)`: dB per octave of level, converts log2 to dB.
pub const DB_PER_LOG2: f32 = 6.020_6;

/// `1 / (20·log10(2))`: converts dB to log2.
pub const LOG2_PER_DB: f32 = 0.166_096_4;

/// Largest gain reduction the gain computer reports: a safety bound for absurd input levels (a
/// 0 dBFS signal at threshold −60 dB and ratio 20 needs 57 dB), which also keeps every gain, and
/// so every output sample of normal input, far from the subnormal range.
pub const MAX_GAIN_REDUCTION_DB: f32 = 120.0;

/// Detector input magnitudes are floored here before the logarithm (−600 dBFS).
pub const LEVEL_FLOOR: f32 = 1.0e-30;

/// Detector state (dB of reduction) below this is snapped to exactly zero. 10⁻⁶ dB is a gain of
/// 1 − 1.2·10⁻⁷, below the resolution of f32 audio, so the snap is inaudible; it lets a released
/// detector return to the bit-exact unity-gain fast path.
pub const ENVELOPE_SNAP_DB: f64 = 1.0e-6;

/// Charge time constant of the slow (sustained-reduction) detector of the auto release.
pub const AUTO_SUSTAIN_MS: f64 = 500.0;

/// Release time constant of the slow detector of the auto release, relative to the set release.
pub const AUTO_RELEASE_FACTOR: f64 = 5.0;

/// Length of the linear ramps of gains, mixes and static-curve parameters.
pub const PARAMETER_RAMP_MS: f64 = 10.0;

/// Length of the crossfades between processing paths (bypass, neutral, filter paths on/off).
pub const FADE_MS: f64 = 10.0;

/// Frames per internal chunk. Processors cut every call into chunks aligned to absolute multiples
/// of this length (so that per-chunk housekeeping is block-size invariant) and use fixed-size
/// scratch arrays of this length.
pub const CHUNK_FRAMES: usize = 64;

/// Sanitized input samples beyond this magnitude (and NaN/±∞) are replaced by silence.
pub const MAX_INPUT_MAGNITUDE: f32 = 1.0e30;

/// Sanitized input samples below this magnitude (−600 dBFS, including subnormals) are replaced by
/// exact zero, and processed output below it is written as zero: no subnormal ever leaves.
pub const MIN_INPUT_MAGNITUDE: f32 = 1.0e-30;

/// Fast log2 of a positive, normal `x` (see the module doc for the accuracy).
#[inline(always)]
pub fn fast_log2(x: f32) -> f32 {
    const SQRT_HALF_BITS: i32 = 0x3f35_04f3;
    let bits = x.to_bits() as i32;
    // Exponent such that the mantissa lands in [√½, √2).
    let exponent = bits.wrapping_sub(SQRT_HALF_BITS) >> 23;
    let mantissa = f32::from_bits(bits.wrapping_sub(exponent << 23) as u32);
    // log2(m) = 2/ln2 · atanh(t), t = (m − 1)/(m + 1) ∈ [−0.172, 0.172].
    let t = (mantissa - 1.0) / (mantissa + 1.0);
    let t2 = t * t;
    const C1: f32 = 2.885_39; // 2/ln2
    const C3: f32 = 0.961_796_7; // 2/(3 ln2)
    const C5: f32 = 0.577_078; // 2/(5 ln2)
    const C7: f32 = 0.412_198_6; // 2/(7 ln2)
    exponent as f32 + t * (C1 + t2 * (C3 + t2 * (C5 + t2 * C7)))
}

/// Fast 2^x for x in [−126, 126] (clamped), exact 1 at 0 (see the module doc for the accuracy).
#[inline(always)]
pub fn fast_exp2(x: f32) -> f32 {
    // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits.
    const ROUND_MAGIC: f32 = 12_582_912.0;
    const ROUND_MAGIC_BITS: i32 = 0x4b40_0000;
    let x = x.clamp(-126.0, 126.0);
    let shifted = x + ROUND_MAGIC;
    let integer = (shifted.to_bits() as i32).wrapping_sub(ROUND_MAGIC_BITS);
    let fraction = x - (shifted - ROUND_MAGIC);
    // 2^f = e^(f·ln2), Taylor to f⁶ on [−½, ½].
    const C1: f32 = std::f32::consts::LN_2;
    const C2: f32 = 0.240_226_5;
    const C3: f32 = 0.055_504_11;
    const C4: f32 = 0.009_618_129;
    const C5: f32 = 0.001_333_355_8;
    const C6: f32 = 0.000_154_035_3;
    let poly = 1.0
        + fraction
            * (C1 + fraction * (C2 + fraction * (C3 + fraction * (C4 + fraction * (C5 + fraction * C6)))));
    poly * f32::from_bits((integer.wrapping_add(127) << 23) as u32)
}

/// dB → linear gain (exact `powf`, for parameters).
#[inline]
pub fn db_to_gain(gain_db: f64) -> f64 {
    10f64.powf(gain_db / 20.0)
}

/// One-pole coefficient `exp(−1/(τ·fs))` for the time constant `time_ms`: the step response
/// `1 − α^n` reaches `1 − 1/e` after `n = τ·fs` samples. Zero time gives 0 (instant).
pub fn one_pole_coefficient(time_ms: f64, sample_rate_hz: f64) -> f64 {
    let samples = time_ms * 1e-3 * sample_rate_hz;
    if samples > 0.0 {
        (-1.0 / samples).exp()
    } else {
        0.0
    }
}

/// Replaces non-finite and absurd samples (|x| > [`MAX_INPUT_MAGNITUDE`]) and sub-audio dust
/// (|x| < [`MIN_INPUT_MAGNITUDE`], including subnormals) with exact zero, in place. Every other
/// sample is untouched (bit-exact).
#[inline(always)]
pub fn sanitize(samples: &mut [f32]) {
    for x in samples.iter_mut() {
        // NaN fails the comparison.
        let magnitude = x.abs();
        *x = if (MIN_INPUT_MAGNITUDE..=MAX_INPUT_MAGNITUDE).contains(&magnitude) { *x } else { 0.0 };
    }
}

/// Processed output below [`MIN_INPUT_MAGNITUDE`] becomes exact zero (never a subnormal).
#[inline(always)]
pub fn snap_output(x: f32) -> f32 {
    if x.abs() >= MIN_INPUT_MAGNITUDE {
        x
    } else {
        0.0
    }
}

/// Clamps a parameter to [min, max], NaN → default.
#[inline]
pub fn clamp_or(value: f64, min: f64, max: f64, default: f64) -> f64 {
    if value.is_nan() {
        default
    } else {
        value.clamp(min, max)
    }
}

/// The soft-knee static curve (gain computer) of Giannoulis et al. eq. 4, in a branch-free form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaticCurve {
    /// Threshold T (dB).
    threshold_db: f32,
    /// `1 − 1/R`: reduction per dB above the threshold.
    slope: f32,
    /// Half the knee width W/2 (dB).
    half_knee_db: f32,
    /// `slope / (2W)` (0 for a hard knee).
    knee_scale: f32,
    /// Linear magnitude of `T − W/2`: at or below it the reduction is exactly zero.
    floor_magnitude: f32,
}

impl StaticCurve {
    /// The curve for a threshold (dB), ratio (≥ 1) and knee width (dB ≥ 0).
    pub fn new(threshold_db: f64, ratio: f64, knee_db: f64) -> Self {
        Self::from_slope(threshold_db, 1.0 - 1.0 / ratio.max(1.0), knee_db.max(0.0))
    }

    /// The curve from `slope = 1 − 1/R`.
    pub fn from_slope(threshold_db: f64, slope: f64, knee_db: f64) -> Self {
        let knee_scale = if knee_db > 0.0 { slope / (2.0 * knee_db) } else { 0.0 };
        Self {
            threshold_db: threshold_db as f32,
            slope: slope as f32,
            half_knee_db: (0.5 * knee_db) as f32,
            knee_scale: knee_scale as f32,
            floor_magnitude: db_to_gain(threshold_db - 0.5 * knee_db) as f32,
        }
    }

    /// True when the curve never reduces (ratio 1).
    #[inline]
    pub fn is_unity(&self) -> bool {
        self.slope == 0.0
    }

    /// Linear magnitude at or below which the reduction is exactly zero.
    #[inline]
    pub fn floor_magnitude(&self) -> f32 {
        self.floor_magnitude
    }

    /// Gain reduction `x_L = x_G − y_G` (dB, ≥ 0) for a level in dB.
    #[inline(always)]
    pub fn reduction_db(&self, level_db: f32) -> f32 {
        let over = level_db - self.threshold_db;
        let into_knee = (over + self.half_knee_db).max(0.0);
        let knee = self.knee_scale * into_knee * into_knee;
        let above = self.slope * over;
        let reduction = if over >= self.half_knee_db { above } else { knee };
        reduction.min(MAX_GAIN_REDUCTION_DB)
    }

    /// Gain reduction (dB) for a detector magnitude (linear, ≥ 0). Exactly zero at or below
    /// [`StaticCurve::floor_magnitude`], so a chunk whose peak is below it may skip this entirely.
    #[inline(always)]
    pub fn reduction_for_magnitude(&self, magnitude: f32) -> f32 {
        let level_db = DB_PER_LOG2 * fast_log2(magnitude.max(LEVEL_FLOOR));
        let reduction = self.reduction_db(level_db);
        if magnitude > self.floor_magnitude {
            reduction
        } else {
            0.0
        }
    }

    /// Fills `reduction` with the gain reduction (dB) for each detector magnitude. Returns false
    /// (and leaves `reduction` zero-filled) when every magnitude is at or below the floor.
    #[inline(always)]
    pub fn render(&self, magnitudes: &[f32], reduction: &mut [f32]) -> bool {
        // A local copy: the compiler then knows the parameters cannot alias the output, keeps
        // them in registers and vectorises the loop.
        let curve = *self;
        // Plain compare (magnitudes are never NaN): vectorises without NaN bookkeeping.
        let peak = magnitudes.iter().fold(0.0f32, |peak, &m| if m > peak { m } else { peak });
        if peak <= curve.floor_magnitude || curve.is_unity() {
            reduction.fill(0.0);
            return false;
        }
        for (out, &magnitude) in reduction.iter_mut().zip(magnitudes) {
            *out = curve.reduction_for_magnitude(magnitude);
        }
        true
    }
}

/// Static-curve parameters that move linearly to new values over [`PARAMETER_RAMP_MS`], so
/// threshold/ratio/knee automation does not step the gain.
#[derive(Debug, Clone)]
pub struct CurveRamp {
    /// Current (threshold dB, slope, knee dB).
    current: [f64; 3],
    /// Target values.
    target: [f64; 3],
    /// Per-sample increments.
    step: [f64; 3],
    /// Samples left (0 = at rest).
    remaining: u32,
    /// Ramp length in samples (≥ 1).
    length: u32,
    /// The curve at `current`.
    curve: StaticCurve,
}

impl CurveRamp {
    /// A ramp at rest on the given curve.
    pub fn new(threshold_db: f64, ratio: f64, knee_db: f64, sample_rate_hz: f64) -> Self {
        let target = [threshold_db, 1.0 - 1.0 / ratio.max(1.0), knee_db.max(0.0)];
        Self {
            current: target,
            target,
            step: [0.0; 3],
            remaining: 0,
            length: ramp_samples(PARAMETER_RAMP_MS, sample_rate_hz),
            curve: StaticCurve::from_slope(target[0], target[1], target[2]),
        }
    }

    /// Starts a ramp to new parameters (no-op if unchanged).
    pub fn set_target(&mut self, threshold_db: f64, ratio: f64, knee_db: f64) {
        let target = [threshold_db, 1.0 - 1.0 / ratio.max(1.0), knee_db.max(0.0)];
        if target == self.target {
            return;
        }
        self.target = target;
        self.remaining = self.length;
        for ((step, target), current) in self.step.iter_mut().zip(target).zip(self.current) {
            *step = (target - current) / self.length as f64;
        }
    }

    /// Jumps to the target.
    pub fn settle(&mut self) {
        self.current = self.target;
        self.remaining = 0;
        self.curve = StaticCurve::from_slope(self.target[0], self.target[1], self.target[2]);
    }

    /// True while the parameters move.
    #[inline]
    pub fn is_moving(&self) -> bool {
        self.remaining != 0
    }

    /// The curve at rest (or at the current point of the ramp).
    #[inline]
    pub fn curve(&self) -> &StaticCurve {
        &self.curve
    }

    /// Renders the reduction for each magnitude. While ramping, the curve moves every sample
    /// (exact `powf`-free form: the knee floor test is skipped, the knee formula alone gives
    /// exactly zero below it). Returns false when the output is all zero and was skipped.
    #[inline(always)]
    pub fn render(&mut self, magnitudes: &[f32], reduction: &mut [f32]) -> bool {
        if !self.is_moving() {
            return self.curve.render(magnitudes, reduction);
        }
        self.render_moving(magnitudes, reduction);
        true
    }

    /// [`CurveRamp::render`] while the parameters move (rare: scalar, out of line).
    #[inline(never)]
    fn render_moving(&mut self, magnitudes: &[f32], reduction: &mut [f32]) {
        for (out, &magnitude) in reduction.iter_mut().zip(magnitudes) {
            if self.remaining != 0 {
                self.remaining -= 1;
                if self.remaining == 0 {
                    self.settle();
                } else {
                    for (current, step) in self.current.iter_mut().zip(self.step) {
                        *current += step;
                    }
                    let [threshold_db, slope, knee_db] = self.current;
                    let knee_scale = if knee_db > 0.0 { slope / (2.0 * knee_db) } else { 0.0 };
                    self.curve.threshold_db = threshold_db as f32;
                    self.curve.slope = slope as f32;
                    self.curve.half_knee_db = (0.5 * knee_db) as f32;
                    self.curve.knee_scale = knee_scale as f32;
                }
            }
            let level_db = DB_PER_LOG2 * fast_log2(magnitude.max(LEVEL_FLOOR));
            *out = if self.is_moving() {
                self.curve.reduction_db(level_db)
            } else {
                self.curve.reduction_for_magnitude(magnitude)
            };
        }
    }
}

/// Ramp length in samples for a duration (≥ 1).
pub fn ramp_samples(time_ms: f64, sample_rate_hz: f64) -> u32 {
    ((time_ms * 1e-3 * sample_rate_hz).round() as u32).max(1)
}

/// Detector coefficients (see the module doc): for each one-pole the pair `(α, 1 − α)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ballistics {
    /// Attack `(α_A, 1 − α_A)`, then release `(α_R, 1 − α_R)` of the fast detector.
    fast: [f64; 4],
    /// The same for the slow detector of the auto release (charge time [`AUTO_SUSTAIN_MS`],
    /// release [`AUTO_RELEASE_FACTOR`]·release).
    slow: [f64; 4],
    /// Whether the slow detector is used.
    auto_release: bool,
}

impl Ballistics {
    /// Coefficients for the given times at `sample_rate_hz` (α = exp(−1/(τ·fs))).
    pub fn new(attack_ms: f64, release_ms: f64, auto_release: bool, sample_rate_hz: f64) -> Self {
        let pair = |time_ms: f64| {
            let alpha = one_pole_coefficient(time_ms, sample_rate_hz);
            [alpha, 1.0 - alpha]
        };
        let ([aa, ba], [ar, br]) = (pair(attack_ms), pair(release_ms));
        let ([sa, sb], [sr, sbr]) = (pair(AUTO_SUSTAIN_MS), pair(AUTO_RELEASE_FACTOR * release_ms));
        Self { fast: [aa, ba, ar, br], slow: [sa, sb, sr, sbr], auto_release }
    }

    /// Whether the auto (dual time-constant) release is on.
    #[inline]
    pub fn auto_release(&self) -> bool {
        self.auto_release
    }
}

/// Smooth branching peak detector in the log domain (dB of gain reduction), with the optional slow
/// detector of the auto release.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Detector {
    /// Fast (attack/release) detector state, dB ≥ 0.
    fast: f64,
    /// Slow detector state (auto release), dB ≥ 0.
    slow: f64,
}

/// One smooth-branching step `α·y + (1 − α)·x`, α by direction. Both candidates are computed and
/// then selected, so the loop-carried path is one multiply, one add and a select (the comparison
/// runs in parallel), instead of subtract → compare → select → multiply → add.
#[inline(always)]
fn branching_step<M: MulAdd>(state: f64, target: f64, c: &[f64; 4]) -> f64 {
    let attack = M::mul_add(state, c[0], target * c[1]);
    let release = M::mul_add(state, c[2], target * c[3]);
    if target > state {
        attack
    } else {
        release
    }
}

impl Detector {
    /// Clears the state.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// True when the detector holds no reduction.
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.fast == 0.0 && self.slow == 0.0
    }

    /// Current output (dB of reduction).
    #[inline]
    pub fn value(&self) -> f64 {
        self.fast.max(self.slow)
    }

    /// Snaps state below [`ENVELOPE_SNAP_DB`] to zero (call at fixed sample positions).
    pub fn snap(&mut self) {
        for state in [&mut self.fast, &mut self.slow] {
            if state.is_nan() || *state < ENVELOPE_SNAP_DB {
                // Also catches NaN (impossible with the clamped gain computer; a safety net).
                *state = 0.0;
            }
        }
    }

    /// One sample: smooths the gain computer output `target_db`, returns the reduction (dB).
    #[inline(always)]
    pub fn next<M: MulAdd, const AUTO: bool>(&mut self, target_db: f64, ballistics: &Ballistics) -> f64 {
        self.fast = branching_step::<M>(self.fast, target_db, &ballistics.fast);
        if AUTO {
            // The slow detector runs in parallel on the same input (no serial dependency).
            self.slow = branching_step::<M>(self.slow, target_db, &ballistics.slow);
            if self.fast > self.slow {
                self.fast
            } else {
                self.slow
            }
        } else {
            self.fast
        }
    }
}

/// A value that moves linearly to new targets over a fixed number of samples and lands on the
/// target exactly (so a settled unity gain or a settled fade is bit-exact).
#[derive(Debug, Clone, Copy)]
pub struct Ramp {
    /// Current value.
    value: f64,
    /// Target value.
    target: f64,
    /// Per-sample increment.
    step: f64,
    /// Samples left (0 = at rest).
    remaining: u32,
    /// Ramp length in samples (≥ 1).
    length: u32,
}

impl Ramp {
    /// A ramp at rest on `value`, moving over `length_samples` (≥ 1) on changes.
    pub fn new(value: f64, length_samples: u32) -> Self {
        Self { value, target: value, step: 0.0, remaining: 0, length: length_samples.max(1) }
    }

    /// Sets a new target (no-op if unchanged).
    pub fn set_target(&mut self, target: f64) {
        if target == self.target {
            return;
        }
        self.target = target;
        self.remaining = self.length;
        self.step = (target - self.value) / self.length as f64;
    }

    /// Jumps to the target.
    pub fn settle(&mut self) {
        self.value = self.target;
        self.remaining = 0;
    }

    /// True while moving.
    #[inline]
    pub fn is_moving(&self) -> bool {
        self.remaining != 0
    }

    /// The current value.
    #[inline]
    pub fn value(&self) -> f64 {
        self.value
    }

    /// True when at rest on `value`.
    #[inline]
    pub fn is_settled_at(&self, value: f64) -> bool {
        self.remaining == 0 && self.value == value
    }

    /// Advances one sample and returns the new value.
    #[inline(always)]
    pub fn step(&mut self) -> f64 {
        if self.remaining != 0 {
            self.remaining -= 1;
            self.value = if self.remaining == 0 { self.target } else { self.value + self.step };
        }
        self.value
    }

    /// Renders the next `out.len()` values.
    #[inline(always)]
    pub fn render(&mut self, out: &mut [f32]) {
        if self.remaining == 0 {
            out.fill(self.value as f32);
            return;
        }
        for value in out.iter_mut() {
            *value = self.step() as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paper's three-branch gain computer (eq. 4) in f64, written independently.
    fn reference_reduction(level_db: f64, threshold_db: f64, ratio: f64, knee_db: f64) -> f64 {
        let over = level_db - threshold_db;
        let output = if 2.0 * over < -knee_db {
            level_db
        } else if 2.0 * over.abs() <= knee_db {
            level_db + (1.0 / ratio - 1.0) * (over + knee_db / 2.0).powi(2) / (2.0 * knee_db)
        } else {
            threshold_db + over / ratio
        };
        level_db - output
    }

    #[test]
    fn fast_log2_and_exp2_are_accurate() {
        let mut worst_log: f64 = 0.0;
        let mut x = 1.0e-30f32;
        while x < 1.0e30 {
            let error = (fast_log2(x) as f64 - (x as f64).log2()).abs();
            worst_log = worst_log.max(error);
            x *= 1.0137;
        }
        let mut worst_exp: f64 = 0.0;
        let mut e = -100.0f32;
        while e < 20.0 {
            let exact = (e as f64).exp2();
            worst_exp = worst_exp.max((fast_exp2(e) as f64 / exact - 1.0).abs());
            e += 0.00731;
        }
        println!(
            "fast_log2 max abs error {worst_log:.2e} ({:.2e} dB); fast_exp2 max rel error {worst_exp:.2e} ({:.2e} dB)",
            worst_log * 6.0206,
            worst_exp * 8.686
        );
        // The bound is f32 rounding of the result (|log2| up to 100 here: ulp 7.6e-6).
        assert!(worst_log * 6.0206 < 3e-5);
        assert!(worst_exp < 3e-7);
        assert_eq!(fast_exp2(0.0), 1.0);
        assert_eq!(fast_exp2(-0.0), 1.0);
        assert_eq!(fast_exp2(1.0), 2.0);
        assert!(fast_exp2(-1000.0) > 0.0 && fast_exp2(-1000.0).is_normal());
    }

    #[test]
    fn static_curve_matches_the_paper() {
        let mut worst: f64 = 0.0;
        for (threshold, ratio, knee) in
            [(-18.0, 2.0, 6.0), (-40.0, 20.0, 24.0), (0.0, 1.5, 0.0), (-60.0, 4.0, 1.0)]
        {
            let curve = StaticCurve::new(threshold, ratio, knee);
            let mut level = -100.0;
            while level < 20.0 {
                let expected = reference_reduction(level, threshold, ratio, knee);
                let got = curve.reduction_db(level as f32) as f64;
                worst = worst.max((got - expected).abs());
                let magnitude = db_to_gain(level) as f32;
                let via_magnitude = curve.reduction_for_magnitude(magnitude) as f64;
                worst = worst.max((via_magnitude - expected).abs());
                level += 0.0917;
            }
        }
        println!("static curve vs paper eq. 4: max |error| {worst:.2e} dB");
        assert!(worst < 1e-4);
        let curve = StaticCurve::new(-18.0, 2.0, 6.0);
        assert_eq!(curve.reduction_for_magnitude(curve.floor_magnitude()), 0.0);
        assert_eq!(curve.reduction_for_magnitude(0.0), 0.0);
    }

    #[test]
    fn detector_time_constants() {
        let fs = 48_000.0;
        for (attack_ms, release_ms) in [(0.1, 10.0), (30.0, 150.0), (100.0, 2_000.0)] {
            let ballistics = Ballistics::new(attack_ms, release_ms, false, fs);
            let mut detector = Detector::default();
            let mut n = 0;
            while detector.next::<Separate, false>(10.0, &ballistics) < 10.0 * (1.0 - (-1.0f64).exp()) {
                n += 1;
            }
            let attack_measured = (n + 1) as f64 / fs * 1e3;
            for _ in 0..(fs as usize * 30) {
                detector.next::<Separate, false>(10.0, &ballistics);
            }
            let mut n = 0;
            while detector.next::<Separate, false>(0.0, &ballistics) > 10.0 * (-1.0f64).exp() {
                n += 1;
            }
            let release_measured = (n + 1) as f64 / fs * 1e3;
            println!(
                "attack {attack_ms} ms → 63.2 % at {attack_measured:.3} ms; release {release_ms} ms → 36.8 % at {release_measured:.3} ms"
            );
            assert!(
                (attack_measured / attack_ms - 1.0).abs() < 0.1
                    || (attack_measured - attack_ms).abs() < 1e3 / fs
            );
            assert!((release_measured / release_ms - 1.0).abs() < 0.1);
        }
    }

    #[test]
    fn ramp_lands_exactly() {
        let mut ramp = Ramp::new(1.0, 480);
        ramp.set_target(0.3);
        let mut values = vec![0.0f32; 500];
        ramp.render(&mut values[..100]);
        ramp.render(&mut values[100..]);
        assert!(values.windows(2).all(|w| w[1] <= w[0]));
        assert_eq!(values[479], 0.3);
        assert!(ramp.is_settled_at(0.3));
    }
}

/// Test helpers shared by the dynamics and stereo modules (signals, block partitions, hostile
/// input). Independent of the code under test.
#[cfg(test)]
pub mod test_util {
    /// xorshift64* PRNG.
    pub struct Prng(u64);

    impl Prng {
        /// A generator from a seed.
        pub fn new(seed: u64) -> Self {
            Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
        }
        /// Next raw value.
        pub fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        /// Uniform in [−1, 1).
        pub fn bipolar(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
        /// Uniform integer in [lo, hi].
        pub fn range(&mut self, lo: usize, hi: usize) -> usize {
            lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
        }
    }

    /// White noise, uniform in ±amplitude.
    pub fn noise(len: usize, seed: u64, amplitude: f64) -> Vec<f32> {
        let mut prng = Prng::new(seed);
        (0..len).map(|_| (amplitude * prng.bipolar()) as f32).collect()
    }

    /// A loud, dynamic test signal: tones plus noise bursts with a varying envelope.
    pub fn music_like(len: usize, seed: u64) -> Vec<f32> {
        let mut prng = Prng::new(seed);
        let mut lowpassed = 0.0;
        (0..len)
            .map(|n| {
                let t = n as f64 / 48_000.0;
                let envelope = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * 2.3 * t).sin().powi(3);
                lowpassed += 0.05 * (prng.bipolar() - lowpassed);
                let tones = 0.4 * (2.0 * std::f64::consts::PI * 55.0 * t).sin()
                    + 0.2 * (2.0 * std::f64::consts::PI * 1_234.5 * t).sin();
                (envelope * (tones + 2.0 * lowpassed) + 0.05 * prng.bipolar()) as f32
            })
            .collect()
    }

    /// Block-size patterns covering `len`: 1, 7, 64, 4096 and random sizes (0 included).
    pub fn block_patterns(len: usize) -> Vec<Vec<usize>> {
        let mut patterns: Vec<Vec<usize>> =
            [1usize, 7, 64, 4096].iter().map(|&size| vec![size; len.div_ceil(size)]).collect();
        let mut prng = Prng::new(77);
        let mut random = Vec::new();
        let mut total = 0;
        while total < len {
            let size = if prng.range(0, 9) == 0 { 0 } else { prng.range(1, 700) };
            random.push(size);
            total += size;
        }
        patterns.push(random);
        patterns
    }

    /// Renders a stereo signal through `process` in the given block sizes, additionally cutting
    /// the blocks at `cuts` (where settings change). `process` receives each block and its start.
    pub fn render_blocks(
        left: &[f32],
        right: &[f32],
        blocks: &[usize],
        cuts: &[usize],
        mut process: impl FnMut(&mut [f32], &mut [f32], usize),
    ) -> (Vec<f32>, Vec<f32>) {
        let (mut l, mut r) = (left.to_vec(), right.to_vec());
        let len = l.len();
        let mut start = 0;
        for &size in blocks.iter().cycle().take(blocks.len() * 2 + len) {
            if start >= len {
                break;
            }
            let mut end = (start + size).min(len);
            if let Some(&cut) = cuts.iter().find(|&&cut| cut > start && cut < end) {
                end = cut;
            }
            process(&mut l[start..end], &mut r[start..end], start);
            start = end;
        }
        (l, r)
    }

    /// Feeds NaN, ±∞, 1e30, DC and silence after loud audio; every output sample must be finite
    /// and never subnormal, and the silence must end as exact zeros.
    pub fn check_hostile(sample_rate_hz: f64, mut process: impl FnMut(&mut [f32], &mut [f32])) {
        let block = 64;
        let second = sample_rate_hz as usize;
        let loud = super::test_util::music_like(second, 11);
        let mut phases: Vec<(&str, Vec<f32>, Vec<f32>)> = vec![
            ("nan", vec![f32::NAN; block * 3], loud[..block * 3].to_vec()),
            ("inf", vec![f32::INFINITY; block * 3], vec![f32::NEG_INFINITY; block * 3]),
            ("1e30", vec![1.0e30; block * 5], vec![-1.0e30; block * 5]),
            ("subnormal", vec![f32::MIN_POSITIVE / 8.0; block * 3], vec![-1.0e-39; block * 3]),
            ("dc", vec![1.0; second], vec![-1.0; second]),
            ("loud", loud.iter().map(|x| x * 4.0).collect(), loud.clone()),
            ("silence", vec![0.0; 4 * second], vec![0.0; 4 * second]),
        ];
        for (name, left, right) in phases.iter_mut() {
            let mut start = 0;
            while start < left.len() {
                let end = (start + block).min(left.len());
                process(&mut left[start..end], &mut right[start..end]);
                start = end;
            }
            for x in left.iter().chain(right.iter()) {
                assert!(x.is_finite() && !x.is_subnormal(), "{name}: output {x}");
            }
            if *name == "silence" {
                let tail = &left[left.len() - block..];
                assert!(
                    tail.iter().chain(&right[right.len() - block..]).all(|&x| x == 0.0),
                    "silence must end at zero"
                );
            }
        }
    }
}
