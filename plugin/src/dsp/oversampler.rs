//! Two-stage polyphase FIR interpolator for true-peak detection (oversampling factors 1, 2,
//! 4, 8, 16), Kaiser-windowed sinc filters.
//!
//! # Why two stages
//! A single-stage polyphase interpolator of 32 taps per branch (as in the metering code,
//! `meters/true_peak.rs`) rolls off from ~0.45·fs: on wide-band material (noise bursts,
//! hi-hats, naive square waves) it read up to 0.49 dB under an independent 16× brute-force
//! sinc reference, which for a limiter means overs. A sharp filter is needed, and it is cheap
//! at 2× only:
//!
//! 1. **Half-band stage** (`fs → 2·fs`): the new sample between `x(a)` and `x(a+1)` is
//!    `m(a + ½) = Σ_{j<K} b_j · (x(a − j) + x(a + 1 + j))`, `b_j = sinc(j + ½)·kaiser((j + ½)/K)`
//!    normalised to unit DC gain; the original samples pass unchanged. With
//!    [`HALF_BAND_PAIRS`] `K = 96` (383 taps at 2·fs, β = 5) the 2× stream is flat to 0.010 dB
//!    up to 0.47·fs (0.003 dB at 0.48·fs), images ≤ −65 dB: **96 multiplies per input sample**.
//!    (`K = 48` was flat only to 0.45·fs in practice: a limiter using it overshot a long sinc
//!    reference by 0.34 dB on white noise; `K = 96` by 0.09 dB, for about 8 ns more per frame.)
//! 2. **Polyphase stage** (`2·fs → F·fs`): the 2× stream is band-limited to ¼ of its rate, so a
//!    short Kaiser-sinc interpolator of [`STAGE2_TAPS`] = 8 taps per branch (β = 6, error ≤
//!    0.012 dB) suffices; branch `j` evaluates the 2× signal at `t − j/(F/2)`. Symmetric
//!    folding halves its multiplies: branch `F/2 − j` is branch `j` reversed
//!    (`h_{F/2−j}[k] = h_j[T−1−k]`), so with `s[k] = w[k] + w[T−1−k]`, `d[k] = w[k] − w[T−1−k]`
//!    (k < T/2):
//!
//! ```text
//! P_j = Σ_{k<T/2} ½(h_j[k] + h_j[T−1−k]) · s[k],   M_j = Σ_{k<T/2} ½(h_j[k] − h_j[T−1−k]) · d[k],
//! y_j = P_j + M_j,   y_{F/2−j} = P_j − M_j,   max(|y_j|, |y_{F/2−j}|) = |P_j| + |M_j|,
//! ```
//!    and the middle branch is symmetric: `y = Σ_{k<T/2} h[k]·s[k]`. At 8× that is 12
//!    multiplies per 2× sample, 24 per input sample (the last identity is exact in floating
//!    point too: `|P| + |M|` rounds like `|P ± M|`).
//!
//! In total 120 multiplies per input sample at 8× (a single-stage filter of the same sharpness
//! would need several hundred). [`Oversampler::process_peaks`] reports, per input sample, the
//! largest magnitude of the interpolated signal on the interval `(c − 1, c]` (the sample
//! `x(c)`, the half-band sample `m(c − ½)` and the `F − 2` stage-2 values), `c = n −`
//! [`Oversampler::delay_samples`] (97 samples at 4×–16×, 95 at 2×).
//!
//! # Kernels
//! Both stages are vectorised across *output samples* in groups of 8 lanes: per folded tap two
//! unaligned loads give `s` and `d` for 8 outputs, shared by every branch accumulator (each in
//! its own register), and the maximum over branches is lane-wise. An explicit AVX2 kernel
//! (`std::arch`, chosen at run time with `is_x86_feature_detected!` in [`Oversampler::new`]) and
//! a portable kernel written on 8-lane arrays (auto-vectorised, e.g. SSE2/NEON) run the
//! identical per-lane sequence of separately rounded multiplies and adds (no FMA: Rust never
//! contracts `a·b + c`, and the AVX2 kernel does not either), so **both give bit-identical
//! results** on every CPU.
//!
//! # Early-out
//! Every output phase is a linear function of the input, so for `|x| ≤ A` every reported peak
//! is at most `A·G`, `G` = the largest sum of magnitudes of a phase's effective taps
//! ([`Oversampler::peak_gain_bound`], 3.68 = +11.3 dB, attained by a ±1 input with the right
//! signs). When `A·G` over every input a sub-block's peaks depend on is below the caller's
//! `skip_below`, stage 2 is skipped (stage 1 only refreshes the 2× history it needs) and `A·G`
//! is reported instead of the exact peaks: a detector comparing peaks against `skip_below`
//! decides the same way.

use super::bessel_i0;
use super::kernel::Kernel;

/// Coefficient pairs `K` of the half-band stage (`4K − 1` taps at 2·fs). Stage-1 group delay:
/// `K` input samples.
pub const HALF_BAND_PAIRS: usize = 96;

/// Kaiser β of the half-band stage.
pub const HALF_BAND_BETA: f64 = 5.0;

/// Taps per branch of the second (polyphase) stage at 2·fs. A multiple of 4, so that its
/// output pairs line up with input samples.
pub const STAGE2_TAPS: usize = 8;

/// Kaiser β of the second stage.
pub const STAGE2_BETA: f64 = 6.0;

/// Largest sub-block processed at once, in input samples.
pub const MAX_BLOCK: usize = 64;

/// Oversampling factors supported by [`Oversampler`].
pub const SUPPORTED_FACTORS: [usize; 5] = [1, 2, 4, 8, 16];

/// Lanes of the kernel's vectors (one 256-bit register of `f32`).
const LANES: usize = 8;

/// Most groups of 8 outputs a kernel computes together (sizes the read padding).
const MAX_GROUPS: usize = 4;

/// Relative safety margin of the early-out bound over the f32 rounding of the filter sums
/// (a 96-term sum errs by at most ~100·2⁻²⁴ ≈ 6·10⁻⁶ of its bound, about twice that over two
/// stages).
const SKIP_MARGIN: f32 = 1.0e-4;

/// Largest magnitude in `x` (lane-wise maxima over 8 lanes, so it vectorises; NaN is
/// ignored).
#[inline]
fn max_abs(x: &[f32]) -> f32 {
    let mut lanes = [0.0_f32; LANES];
    let (chunks, rest) = x.as_chunks::<LANES>();
    for chunk in chunks {
        for (m, v) in lanes.iter_mut().zip(chunk) {
            let a = v.abs();
            *m = if a > *m { a } else { *m };
        }
    }
    for (m, v) in lanes.iter_mut().zip(rest) {
        let a = v.abs();
        *m = if a > *m { a } else { *m };
    }
    lanes.iter().fold(0.0_f32, |m, &v| if v > m { v } else { m })
}

/// The 8 samples of `w` starting at `at` (zeros where out of range; the kernels never read
/// out of range).
#[inline(always)]
fn load8(w: &[f32], at: usize) -> [f32; LANES] {
    let mut v = [0.0_f32; LANES];
    if let Some(s) = w.get(at..at + LANES) {
        v.copy_from_slice(s);
    }
    v
}

/// Kaiser-windowed sinc at distance `tau` (samples) with window half-width `half_width`.
fn windowed_sinc(tau: f64, half_width: f64, beta: f64) -> f64 {
    let pi = std::f64::consts::PI;
    let sinc = if tau == 0.0 { 1.0 } else { (pi * tau).sin() / (pi * tau) };
    let r = tau / half_width;
    let window = if r.abs() < 1.0 { bessel_i0(beta * (1.0 - r * r).sqrt()) / bessel_i0(beta) } else { 0.0 };
    sinc * window
}

/// Coefficients of branch `phase` (`1 ≤ phase < factor`) of a `taps`-tap polyphase
/// interpolator, oldest tap first: `out[k]` multiplies `w[k] = u(t − taps/2 + 1 + k)` to give
/// the signal at `t − phase/factor`. Normalised to unit DC gain.
fn design_branch(factor: usize, taps: usize, phase: usize, beta: f64) -> Vec<f64> {
    let half_width = taps as f64 / 2.0;
    let raw: Vec<f64> = (0..taps)
        .map(|k| windowed_sinc(half_width - k as f64 - phase as f64 / factor as f64, half_width, beta))
        .collect();
    let dc: f64 = raw.iter().sum();
    let norm = if dc.abs() > 1e-12 { 1.0 / dc } else { 1.0 };
    raw.iter().map(|c| c * norm).collect()
}

/// Half-band rows: `rows[k]` multiplies `w[k] + w[2K−1−k]` (window `w` of `2K` input samples)
/// to give the sample half-way between `w[K−1]` and `w[K]`.
fn design_half_band(pairs: usize, beta: f64) -> Vec<f32> {
    let b: Vec<f64> = (0..pairs).map(|j| windowed_sinc(j as f64 + 0.5, pairs as f64, beta)).collect();
    let dc: f64 = 2.0 * b.iter().sum::<f64>();
    (0..pairs).map(|k| (b[pairs - 1 - k] / dc) as f32).collect()
}

/// Folded stage-2 rows for `phases` branches of `taps` taps: `taps/2` rows of
/// `[P₁, M₁, P₂, M₂, …, mid]` (module documentation).
fn design_folded(phases: usize, taps: usize, beta: f64) -> Vec<f32> {
    let branches: Vec<Vec<f64>> = (0..phases).map(|j| design_branch(phases, taps, j.max(1), beta)).collect();
    let middle = phases / 2;
    let mut out = Vec::new();
    for k in 0..taps / 2 {
        for h in branches.iter().take(middle).skip(1) {
            out.push((0.5 * (h[k] + h[taps - 1 - k])) as f32);
            out.push((0.5 * (h[k] - h[taps - 1 - k])) as f32);
        }
        out.push(branches[middle][k] as f32);
    }
    out
}

/// Half-band values, portable: `out[i] = Σ_k rows[k]·(w[i+k] + w[i+2K−1−k])`, `G` groups of 8
/// outputs at once. `window` holds at least `8·G·⌈out.len()/(8·G)⌉ + 2K − 1` samples. Per lane
/// the exact operation sequence of [`half_band_avx2`].
#[inline(always)]
fn half_band_portable<const G: usize>(rows: &[f32], window: &[f32], out: &mut [f32]) {
    let taps = 2 * rows.len();
    for (block, o) in out.chunks_mut(LANES * G).enumerate() {
        let base = block * LANES * G;
        let Some(w) = window.get(base..base + taps + LANES * G - 1) else {
            return;
        };
        let mut acc = [[0.0_f32; LANES]; G];
        for (k, &c) in rows.iter().enumerate() {
            for (g, a) in acc.iter_mut().enumerate() {
                let lo = load8(w, g * LANES + k);
                let hi = load8(w, g * LANES + taps - 1 - k);
                for l in 0..LANES {
                    a[l] += c * (lo[l] + hi[l]);
                }
            }
        }
        for (o, v) in o.iter_mut().zip(acc.iter().flatten()) {
            *o = *v;
        }
    }
}

/// AVX2 build of [`half_band_portable`] (separately rounded multiply and add, no FMA).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn half_band_avx2<const G: usize>(rows: &[f32], window: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps,
        _mm256_storeu_ps,
    };
    let taps = 2 * rows.len();
    for (block, o) in out.chunks_mut(LANES * G).enumerate() {
        let base = block * LANES * G;
        let Some(w) = window.get(base..base + taps + LANES * G - 1) else {
            return;
        };
        let wp = w.as_ptr();
        let mut acc: [__m256; G] = [_mm256_setzero_ps(); G];
        for (k, &c) in rows.iter().enumerate() {
            let cv = _mm256_set1_ps(c);
            for (g, a) in acc.iter_mut().enumerate() {
                // SAFETY: k < K and g < G, so both 8-value reads (starting at g·8 + k and
                // g·8 + 2K − 1 − k) end at index ≤ 8·G + 2K − 2 < w.len().
                let (lo, hi) = unsafe {
                    (
                        _mm256_loadu_ps(wp.add(g * LANES + k)),
                        _mm256_loadu_ps(wp.add(g * LANES + taps - 1 - k)),
                    )
                };
                *a = _mm256_add_ps(*a, _mm256_mul_ps(cv, _mm256_add_ps(lo, hi)));
            }
        }
        let mut lanes = [[0.0_f32; LANES]; G];
        for (l, a) in lanes.iter_mut().zip(acc.iter()) {
            // SAFETY: `l` holds exactly 8 f32 values.
            unsafe { _mm256_storeu_ps(l.as_mut_ptr(), *a) };
        }
        for (o, v) in o.iter_mut().zip(lanes.iter().flatten()) {
            *o = *v;
        }
    }
}

/// One pass over a sub-block, portable: `NP` branch pairs (`P`, `M`) and `MID` (0 or 1)
/// middle branches; `W = 2·NP + MID` coefficients per folded tap, laid out
/// `[P₁, M₁, P₂, M₂, …, mid]`. Updates `peaks[i] = max(peaks[i], max(|P|+|M|, |mid|))`.
/// `G` groups of 8 outputs are computed together (more independent accumulators when a pass
/// has few branches).
///
/// `window` starts at the oldest history sample of output 0 and holds at least
/// `8·G·⌈peaks.len()/(8·G)⌉ + taps − 1` samples. Per lane this is exactly the operation
/// sequence of [`pass_avx2`].
#[inline(always)]
fn pass_portable<const NP: usize, const MID: usize, const W: usize, const G: usize>(
    rows: &[[f32; W]],
    window: &[f32],
    peaks: &mut [f32],
) {
    let taps = 2 * rows.len();
    for (block, out) in peaks.chunks_mut(LANES * G).enumerate() {
        let base = block * LANES * G;
        let Some(w) = window.get(base..base + taps + LANES * G - 1) else {
            return;
        };
        let mut p = [[[0.0_f32; LANES]; NP]; G];
        let mut m = [[[0.0_f32; LANES]; NP]; G];
        let mut q = [[[0.0_f32; LANES]; MID]; G];
        for (k, row) in rows.iter().enumerate() {
            for g in 0..G {
                let lo = load8(w, g * LANES + k);
                let hi = load8(w, g * LANES + taps - 1 - k);
                let mut sum = [0.0_f32; LANES];
                let mut diff = [0.0_f32; LANES];
                for l in 0..LANES {
                    sum[l] = lo[l] + hi[l];
                    diff[l] = lo[l] - hi[l];
                }
                for b in 0..NP {
                    let (cp, cm) = (row[2 * b], row[2 * b + 1]);
                    for l in 0..LANES {
                        p[g][b][l] += cp * sum[l];
                        m[g][b][l] += cm * diff[l];
                    }
                }
                for qb in q[g].iter_mut() {
                    let c = row[2 * NP];
                    for l in 0..LANES {
                        qb[l] += c * sum[l];
                    }
                }
            }
        }
        let mut best = [[0.0_f32; LANES]; G];
        for g in 0..G {
            for (pb, mb) in p[g].iter().zip(m[g].iter()) {
                for l in 0..LANES {
                    let v = pb[l].abs() + mb[l].abs();
                    best[g][l] = if v > best[g][l] { v } else { best[g][l] };
                }
            }
            for qb in &q[g] {
                for l in 0..LANES {
                    let v = qb[l].abs();
                    best[g][l] = if v > best[g][l] { v } else { best[g][l] };
                }
            }
        }
        for (o, v) in out.iter_mut().zip(best.iter().flatten()) {
            *o = if *v > *o { *v } else { *o };
        }
    }
}

/// AVX2 build of one pass (contract: [`pass_portable`]): per folded tap, two unaligned loads
/// give `s` and `d` for 8 outputs, then every accumulator gets a separately rounded multiply
/// and add (not FMA, to stay bit-identical with the portable kernel).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn pass_avx2<const NP: usize, const MID: usize, const W: usize, const G: usize>(
    rows: &[[f32; W]],
    window: &[f32],
    peaks: &mut [f32],
) {
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_and_ps, _mm256_castsi256_ps, _mm256_loadu_ps, _mm256_max_ps,
        _mm256_mul_ps, _mm256_set1_epi32, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps, _mm256_sub_ps,
    };
    let taps = 2 * rows.len();
    let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    for (block, out) in peaks.chunks_mut(LANES * G).enumerate() {
        let base = block * LANES * G;
        let Some(w) = window.get(base..base + taps + LANES * G - 1) else {
            return;
        };
        let wp = w.as_ptr();
        let mut p: [[__m256; NP]; G] = [[_mm256_setzero_ps(); NP]; G];
        let mut m: [[__m256; NP]; G] = [[_mm256_setzero_ps(); NP]; G];
        let mut q: [[__m256; MID]; G] = [[_mm256_setzero_ps(); MID]; G];
        for (k, row) in rows.iter().enumerate() {
            for g in 0..G {
                // SAFETY: k < taps/2 and g < G, so both 8-value reads (starting at
                // g·8 + k and g·8 + taps − 1 − k) end at index ≤ 8·G + taps − 2 < w.len().
                let (lo, hi) = unsafe {
                    (
                        _mm256_loadu_ps(wp.add(g * LANES + k)),
                        _mm256_loadu_ps(wp.add(g * LANES + taps - 1 - k)),
                    )
                };
                let sum = _mm256_add_ps(lo, hi);
                let diff = _mm256_sub_ps(lo, hi);
                for (b, (pb, mb)) in p[g].iter_mut().zip(m[g].iter_mut()).enumerate() {
                    *pb = _mm256_add_ps(*pb, _mm256_mul_ps(_mm256_set1_ps(row[2 * b]), sum));
                    *mb = _mm256_add_ps(*mb, _mm256_mul_ps(_mm256_set1_ps(row[2 * b + 1]), diff));
                }
                for qb in q[g].iter_mut() {
                    *qb = _mm256_add_ps(*qb, _mm256_mul_ps(_mm256_set1_ps(row[2 * NP]), sum));
                }
            }
        }
        let mut lanes = [[0.0_f32; LANES]; G];
        for g in 0..G {
            let mut best = _mm256_setzero_ps();
            for (pb, mb) in p[g].iter().zip(m[g].iter()) {
                let v = _mm256_add_ps(_mm256_and_ps(*pb, abs_mask), _mm256_and_ps(*mb, abs_mask));
                best = _mm256_max_ps(v, best);
            }
            for qb in &q[g] {
                best = _mm256_max_ps(_mm256_and_ps(*qb, abs_mask), best);
            }
            // SAFETY: `lanes[g]` holds exactly 8 f32 values.
            unsafe { _mm256_storeu_ps(lanes[g].as_mut_ptr(), best) };
        }
        for (o, v) in out.iter_mut().zip(lanes.iter().flatten()) {
            *o = if *v > *o { *v } else { *o };
        }
    }
}

/// Runs the stage-2 pass for `phases` branches (coefficient layout of [`design_folded`]) with
/// the pass function `$pass`; passes with few branches compute several groups of 8 at once.
macro_rules! stage2 {
    ($pass:ident, $phases:expr, $c:expr, $window:expr, $peaks:expr) => {{
        let (c, window, peaks) = ($c, $window, $peaks);
        match $phases {
            2 => $pass::<0, 1, 1, 4>(c.as_chunks::<1>().0, window, peaks),
            4 => $pass::<1, 1, 3, 2>(c.as_chunks::<3>().0, window, peaks),
            8 => $pass::<3, 1, 7, 1>(c.as_chunks::<7>().0, window, peaks),
            _ => {}
        }
    }};
}

/// Two-stage Kaiser-sinc interpolator of one channel, reporting per input sample the peak
/// magnitude of the oversampled signal (see the module documentation).
#[derive(Debug, Clone)]
pub struct Oversampler {
    /// Oversampling factor (1, 2, 4, 8 or 16).
    factor: usize,
    /// Half-band coefficient pairs `K` (0 at factor 1).
    pairs: usize,
    /// Half-band rows (see [`design_half_band`]).
    half_band: Vec<f32>,
    /// Stage-2 taps per branch (0 below 4×).
    stage2_taps: usize,
    /// Folded stage-2 rows (see [`design_folded`]).
    stage2: Vec<f32>,
    /// Input samples kept between sub-blocks: `2K − 1` for the half-band window plus `T₂/2`
    /// older ones that the 2× history still depends on (so the early-out bound sees every
    /// input a sub-block's peaks depend on).
    history: usize,
    /// Input history (`history` samples), the current sub-block, read padding.
    input: Vec<f32>,
    /// The 2× stream: `T₂ − 1` history samples, `2·len` new ones, read padding.
    doubled: Vec<f32>,
    /// Half-band values of the current sub-block.
    mids: Vec<f32>,
    /// Stage-2 peaks per 2× sample of the current sub-block.
    peaks2: Vec<f32>,
    /// Early-out gain bound `G` (≥ 1): the largest `Σ|effective taps|` over the output phases.
    peak_gain: f32,
    /// Kernel variant chosen at construction.
    kernel: Kernel,
}

impl Oversampler {
    /// An interpolator for `factor` (rounded to the nearest supported factor, clamped to
    /// 1…16). Allocates; designs the filters.
    pub fn new(factor: usize) -> Self {
        Self::with_design(factor, HALF_BAND_PAIRS, HALF_BAND_BETA, STAGE2_TAPS, STAGE2_BETA)
    }

    /// [`Self::new`] with explicit filter parameters (`pairs` ≥ 1, `stage2_taps` a multiple
    /// of 4).
    fn with_design(factor: usize, pairs: usize, beta1: f64, stage2_taps: usize, beta2: f64) -> Self {
        let factor: usize = match factor {
            0 | 1 => 1,
            2 => 2,
            3..=5 => 4,
            6..=11 => 8,
            _ => 16,
        };
        let pairs = if factor == 1 { 0 } else { pairs.max(1) };
        let stage2_taps = if factor >= 4 { stage2_taps.div_ceil(4).max(1) * 4 } else { 0 };
        let half_band = if pairs > 0 { design_half_band(pairs, beta1) } else { Vec::new() };
        let stage2 = if stage2_taps > 0 { design_folded(factor / 2, stage2_taps, beta2) } else { Vec::new() };
        let history = if pairs > 0 { 2 * pairs - 1 + stage2_taps / 2 } else { 0 };
        let padding = MAX_GROUPS * LANES;
        let mut oversampler = Self {
            factor,
            pairs,
            half_band,
            stage2_taps,
            stage2,
            history,
            input: vec![0.0; history + MAX_BLOCK + padding],
            doubled: vec![0.0; stage2_taps.saturating_sub(1) + 2 * MAX_BLOCK + padding],
            mids: vec![0.0; MAX_BLOCK + padding],
            peaks2: vec![0.0; 2 * MAX_BLOCK + padding],
            peak_gain: 1.0,
            kernel: Kernel::detect(),
        };
        oversampler.peak_gain = oversampler.measure_peak_gain();
        oversampler
    }

    /// The early-out bound: every output phase is a linear function of the input, so its
    /// largest value for `|x| ≤ 1` is the sum of the magnitudes of its effective taps, read off
    /// the impulse response (run through the real arithmetic; rounded up by 10⁻⁵).
    fn measure_peak_gain(&self) -> f32 {
        let f = self.factor;
        let span = self.history + 2 * self.stage2_taps + 8;
        let mut probe = self.clone();
        probe.reset();
        let mut impulse = vec![0.0_f32; span];
        if let Some(first) = impulse.first_mut() {
            *first = 1.0;
        }
        let mut response = vec![0.0_f32; span * f];
        probe.process_interpolated(&impulse, &mut response);
        let mut sums = vec![0.0_f64; f];
        for (i, v) in response.iter().enumerate() {
            if let Some(s) = sums.get_mut(i % f) {
                *s += f64::from(v.abs());
            }
        }
        (sums.iter().fold(1.0_f64, |m, &v| m.max(v)) * (1.0 + 1e-5)) as f32
    }

    /// The oversampling factor in use.
    pub fn factor(&self) -> usize {
        self.factor
    }

    /// Group delay of the detection, in input samples: the peaks reported with input sample
    /// `n` belong to the interval `(c − 1, c]`, `c = n − delay_samples()` (`K + T₂/4 − 1` = 97
    /// at 4×–16×, `K − 1` = 95 at 2×, 0 at 1×).
    pub fn delay_samples(&self) -> usize {
        match self.factor {
            1 => 0,
            2 => self.pairs - 1,
            _ => self.pairs + self.stage2_taps / 4 - 1,
        }
    }

    /// Early-out gain bound (≥ 1): no reported peak exceeds this times the largest input
    /// magnitude the filters read.
    pub fn peak_gain_bound(&self) -> f32 {
        self.peak_gain
    }

    /// Clears the history without allocating.
    pub fn reset(&mut self) {
        self.input.fill(0.0);
        self.doubled.fill(0.0);
    }

    /// Runs the half-band kernel over `len` outputs starting at output `first`.
    fn run_half_band(&mut self, first: usize, len: usize) {
        let start = self.history + 1 - 2 * self.pairs + first;
        let (Some(window), Some(out)) = (self.input.get(start..), self.mids.get_mut(first..first + len))
        else {
            return;
        };
        // Short runs (the early-out's history refresh) use single groups of 8.
        match (self.kernel, len <= LANES) {
            (Kernel::Portable, false) => half_band_portable::<4>(&self.half_band, window, out),
            (Kernel::Portable, true) => half_band_portable::<1>(&self.half_band, window, out),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Kernel::Avx2Fma` is only chosen when the CPU reports AVX2 and FMA.
            (Kernel::Avx2Fma, false) => unsafe { half_band_avx2::<4>(&self.half_band, window, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (Kernel::Avx2Fma, true) => unsafe { half_band_avx2::<1>(&self.half_band, window, out) },
        }
    }

    /// Appends one sub-block (≤ [`MAX_BLOCK`]) to the input history, computes the half-band
    /// values (all of them, or with `tail_only` just the last ones the 2× history needs) and
    /// builds the 2× stream. Returns `false` when the block does not fit.
    fn stage1(&mut self, chunk: &[f32], tail_only: bool) -> bool {
        let keep = self.history;
        let len = chunk.len();
        match self.input.get_mut(keep..keep + len) {
            Some(slot) => slot.copy_from_slice(chunk),
            None => return false,
        }
        let needed = if tail_only { self.stage2_taps.div_ceil(2).min(len) } else { len };
        self.run_half_band(len - needed, needed);
        if self.stage2_taps > 0 {
            let hist = self.stage2_taps - 1;
            // 2× stream: x(a), m(a + ½) for a = n − K (window centre of each output).
            let centre = self.history - self.pairs;
            let new = self.doubled.get_mut(hist..hist + 2 * len).unwrap_or(&mut []);
            for (i, pair) in new.chunks_exact_mut(2).enumerate() {
                pair[0] = self.input.get(centre + i).copied().unwrap_or(0.0);
                pair[1] = self.mids.get(i).copied().unwrap_or(0.0);
            }
        }
        true
    }

    /// Drops the oldest samples of both histories after a sub-block of `len` samples.
    fn shift(&mut self, len: usize) {
        let keep = self.history;
        if len + keep <= self.input.len() {
            self.input.copy_within(len..len + keep, 0);
        }
        let hist = self.stage2_taps.saturating_sub(1);
        if 2 * len + hist <= self.doubled.len() {
            self.doubled.copy_within(2 * len..2 * len + hist, 0);
        }
    }

    /// For every input sample, writes to `peaks` the largest magnitude of the interpolated
    /// signal on `(c − 1, c]` (`c = n − delay_samples()`). Processes `min(input.len(),
    /// peaks.len())` samples. Where every value of a sub-block is provably at most
    /// `skip_below` (see the module documentation), writes that bound (≤ `skip_below`)
    /// instead. Pass `0.0` to always get exact peaks. Never allocates.
    pub fn process_peaks(&mut self, input: &[f32], peaks: &mut [f32], skip_below: f32) {
        let n = input.len().min(peaks.len());
        if self.factor == 1 {
            for (p, x) in peaks.iter_mut().zip(input).take(n) {
                *p = x.abs();
            }
            return;
        }
        for (chunk, out) in input[..n].chunks(MAX_BLOCK).zip(peaks[..n].chunks_mut(MAX_BLOCK)) {
            let len = chunk.len();
            // Early-out bound over every input this sub-block's peaks depend on.
            let history = max_abs(self.input.get(..self.history).unwrap_or(&[]));
            let bound = history.max(max_abs(chunk)) * self.peak_gain;
            let skip = bound * (1.0 + SKIP_MARGIN) <= skip_below;
            if !self.stage1(chunk, skip) {
                return;
            }
            if skip {
                out.fill(bound);
            } else if self.factor == 2 {
                // (c − 1, c]: m(c − ½) and x(c), c = n − K + 1.
                let after = self.history + 1 - self.pairs;
                for ((o, m), x) in out.iter_mut().zip(&self.mids).zip(self.input.get(after..).unwrap_or(&[]))
                {
                    let (a, b) = (m.abs(), x.abs());
                    *o = if a > b { a } else { b };
                }
            } else {
                let centre = self.stage2_taps / 2;
                let p2 = self.peaks2.get_mut(..2 * len).unwrap_or(&mut []);
                for (o, u) in p2.iter_mut().zip(self.doubled.get(centre..).unwrap_or(&[])) {
                    *o = u.abs();
                }
                match self.kernel {
                    Kernel::Portable => {
                        stage2!(pass_portable, self.factor / 2, &self.stage2, &self.doubled, &mut *p2)
                    }
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `Kernel::Avx2Fma` is only chosen when the CPU reports AVX2 and FMA.
                    Kernel::Avx2Fma => unsafe {
                        stage2_avx2(self.factor / 2, &self.stage2, &self.doubled, &mut *p2)
                    },
                }
                // Two 2× intervals per input interval: (2c−2, 2c−1] and (2c−1, 2c].
                for (o, pair) in out.iter_mut().zip(p2.chunks_exact(2)) {
                    *o = if pair[0] > pair[1] { pair[0] } else { pair[1] };
                }
            }
            self.shift(len);
        }
    }

    /// Writes the oversampled signal: `factor` values per input sample, at the times
    /// `c − 1 + j/F`, `j = 1 … F` (`c = n − delay_samples()`), into `out` (processes as many
    /// whole input samples as fit). Same arithmetic as [`Self::process_peaks`], scalar for the
    /// second stage: meant for analysis and tests, not the audio path. Shares the history with
    /// [`Self::process_peaks`]. Never allocates.
    pub fn process_interpolated(&mut self, input: &[f32], out: &mut [f32]) {
        let f = self.factor;
        let n = input.len().min(out.len() / f);
        if f == 1 {
            out[..n].copy_from_slice(&input[..n]);
            return;
        }
        for (c, chunk) in input[..n].chunks(MAX_BLOCK).enumerate() {
            if !self.stage1(chunk, false) {
                return;
            }
            for i in 0..chunk.len() {
                let slots =
                    out.get_mut((c * MAX_BLOCK + i) * f..(c * MAX_BLOCK + i + 1) * f).unwrap_or(&mut []);
                if f == 2 {
                    slots[0] = self.mids.get(i).copied().unwrap_or(0.0);
                    slots[1] = self.input.get(self.history + 1 - self.pairs + i).copied().unwrap_or(0.0);
                    continue;
                }
                let (first, second) = slots.split_at_mut(f / 2);
                self.stage2_values(2 * i, first);
                self.stage2_values(2 * i + 1, second);
            }
            self.shift(chunk.len());
        }
    }

    /// Stage-2 values of output `j` of the 2× stream (window `doubled[j .. j + T₂]`): the
    /// `F/2` values on `(t − 1, t]` in time order, with the kernel's operation order.
    fn stage2_values(&self, j: usize, slots: &mut [f32]) {
        let phases = self.factor / 2;
        let t = self.stage2_taps;
        let Some(window) = self.doubled.get(j..j + t) else {
            return;
        };
        let pairs = phases / 2 - 1;
        let width = 2 * pairs + 1;
        let mut p = [0.0_f32; 8];
        let mut m = [0.0_f32; 8];
        let mut q = 0.0_f32;
        for k in 0..t / 2 {
            let (lo, hi) = (window[k], window[t - 1 - k]);
            let (sum, diff) = (lo + hi, lo - hi);
            let row = self.stage2.get(k * width..(k + 1) * width).unwrap_or(&[]);
            for b in 0..pairs {
                p[b] += row.get(2 * b).copied().unwrap_or(0.0) * sum;
                m[b] += row.get(2 * b + 1).copied().unwrap_or(0.0) * diff;
            }
            q += row.get(2 * pairs).copied().unwrap_or(0.0) * sum;
        }
        // Branch b + 1 sits at t − (b+1)/F₂, its partner at t − (F₂ − b − 1)/F₂.
        let mut put = |branch: usize, v: f32| {
            if let Some(s) = slots.get_mut(phases - 1 - branch) {
                *s = v;
            }
        };
        for b in 0..pairs {
            put(b + 1, p[b] + m[b]);
            put(phases - b - 1, p[b] - m[b]);
        }
        put(phases / 2, q);
        put(0, window[t / 2]);
    }
}

/// Stage 2, AVX2 kernel.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn stage2_avx2(phases: usize, coefficients: &[f32], window: &[f32], peaks: &mut [f32]) {
    stage2!(pass_avx2, phases, coefficients, window, peaks);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    /// Sum of random sines below `max_cycles` (cycles per sample) and its exact value at time
    /// `t` (in samples).
    struct Partials(Vec<(f64, f64, f64)>);

    impl Partials {
        fn random(rng: &mut Rng, count: usize, max_cycles: f64) -> Self {
            Self(
                (0..count)
                    .map(|_| (rng.range(0.0, max_cycles), rng.range(0.0, 6.3), rng.range(0.1, 1.0)))
                    .collect(),
            )
        }
        fn at(&self, t: f64) -> f64 {
            let tau = 2.0 * std::f64::consts::PI;
            self.0.iter().map(|&(f, ph, a)| a * (tau * f * t + ph).sin()).sum::<f64>() / self.0.len() as f64
        }
    }

    #[test]
    fn interpolates_band_limited_signals_accurately() {
        // Analytic reference: the exact value of a sum of sines at the sub-sample times.
        for factor in [2, 4, 8, 16] {
            let mut worst = [0.0_f64; 3];
            for (slot, max_cycles) in [0.35, 0.42, 0.4535].into_iter().enumerate() {
                let mut rng = Rng::mixed(factor as u64 * 31 + slot as u64);
                for _ in 0..20 {
                    let partials = Partials::random(&mut rng, 5, max_cycles);
                    let mut os = Oversampler::new(factor);
                    // Skip the start-up transient: the filters span 2·delay samples.
                    let start = 2 * os.delay_samples() + 8;
                    let len = start + 500;
                    let x: Vec<f32> = (0..len).map(|n| partials.at(n as f64) as f32).collect();
                    let mut out = vec![0.0_f32; len * factor];
                    os.process_interpolated(&x, &mut out);
                    let d = os.delay_samples() as f64;
                    for n in start..len {
                        for s in 0..factor {
                            let t = n as f64 - d - 1.0 + (s + 1) as f64 / factor as f64;
                            let err = (f64::from(out[n * factor + s]) - partials.at(t)).abs();
                            worst[slot] = worst[slot].max(err);
                        }
                    }
                }
            }
            println!(
                "interpolation error {factor}x (signal rms ~0.25): max |err| {:.2e} (<0.35 fs), {:.2e} (<0.42 fs), {:.2e} (<20 kHz @ 44.1k)",
                worst[0], worst[1], worst[2]
            );
            assert!(worst[0] < 1e-3 && worst[1] < 1e-3 && worst[2] < 1.5e-3, "{factor}: {worst:?}");
        }
    }

    #[test]
    fn peaks_are_the_max_of_the_interpolated_values_and_kernels_agree() {
        let mut rng = Rng::mixed(5);
        let x: Vec<f32> = (0..5_000).map(|_| rng.range(-1.0, 1.0) as f32).collect();
        for factor in SUPPORTED_FACTORS {
            let mut a = Oversampler::new(factor);
            let mut interp = vec![0.0_f32; x.len() * factor];
            a.process_interpolated(&x, &mut interp);
            let mut b = Oversampler::new(factor);
            let mut peaks = vec![0.0_f32; x.len()];
            // Odd block sizes exercise the sub-block and tail handling.
            let mut start = 0;
            for size in [1usize, 7, 64, 65, 200, 3].iter().cycle() {
                if start >= x.len() {
                    break;
                }
                let end = (start + size).min(x.len());
                b.process_peaks(&x[start..end], &mut peaks[start..end], 0.0);
                start = end;
            }
            let mut c = Oversampler::new(factor);
            c.kernel = Kernel::Portable;
            let mut portable = vec![0.0_f32; x.len()];
            c.process_peaks(&x, &mut portable, 0.0);
            for (n, p) in peaks.iter().enumerate() {
                let expected =
                    interp[n * factor..(n + 1) * factor].iter().fold(0.0_f32, |m, v| m.max(v.abs()));
                assert_eq!(*p, expected, "factor {factor}, sample {n}");
            }
            assert_eq!(peaks, portable, "factor {factor}: dispatched and portable kernels differ");
            println!("{factor}x: kernel {:?}, peak gain bound {:.4}", b.kernel, b.peak_gain_bound());
        }
    }

    #[test]
    fn early_out_never_changes_the_verdict() {
        let mut rng = Rng::mixed(77);
        for factor in [2, 8, 16] {
            let mut exact = Oversampler::new(factor);
            let mut skipping = Oversampler::new(factor);
            let level = 0.5_f32;
            for block in 0..200 {
                let gain = if block % 3 == 0 { 0.05 } else { rng.range(0.0, 0.7) };
                let x: Vec<f32> = (0..37).map(|_| (gain * rng.range(-1.0, 1.0)) as f32).collect();
                let mut p = vec![0.0_f32; 37];
                let mut q = vec![0.0_f32; 37];
                exact.process_peaks(&x, &mut p, 0.0);
                skipping.process_peaks(&x, &mut q, level);
                for (a, b) in p.iter().zip(&q) {
                    assert_eq!(*a > level, *b > level);
                    assert!(*b >= *a);
                }
            }
        }
    }

    #[test]
    fn peak_gain_bound_holds_for_adversarial_input() {
        let mut rng = Rng::mixed(123);
        for factor in [2, 4, 8, 16] {
            let os = Oversampler::new(factor);
            let bound = os.peak_gain_bound();
            let mut worst = 0.0_f32;
            // Random ±1 sequences and runs of the half-band coefficients' sign pattern.
            let signs: Vec<f32> =
                os.half_band.iter().rev().map(|&c| if c >= 0.0 { 1.0 } else { -1.0 }).collect();
            for trial in 0..200 {
                let x: Vec<f32> = if trial % 2 == 0 {
                    (0..300).map(|_| if rng.uniform() < 0.5 { 1.0 } else { -1.0 }).collect()
                } else {
                    let mut v: Vec<f32> = (0..300).map(|_| 0.0).collect();
                    let at = 100 + trial % 50;
                    for (k, s) in signs.iter().enumerate() {
                        v[at - k] = *s;
                        v[at + 1 + k] = *s;
                    }
                    v
                };
                let mut probe = Oversampler::new(factor);
                let mut peaks = vec![0.0_f32; x.len()];
                probe.process_peaks(&x, &mut peaks, 0.0);
                worst = worst.max(peak_of(&peaks));
            }
            println!("{factor}x: worst interpolated peak of ±1 input {worst:.4}, bound {bound:.4}");
            assert!(worst <= bound);
        }
    }

    fn peak_of(x: &[f32]) -> f32 {
        x.iter().fold(0.0_f32, |m, v| m.max(v.abs()))
    }

    #[test]
    fn half_band_stage_is_flat_to_047_fs() {
        let os = Oversampler::new(8);
        let k = os.half_band.len();
        let pi = std::f64::consts::PI;
        let response = |f: f64| -> f64 {
            os.half_band
                .iter()
                .enumerate()
                .map(|(row, &c)| 2.0 * f64::from(c) * (2.0 * pi * f * (k - row) as f64 - pi * f).cos())
                .sum()
        };
        // Interleaving x with the half-band values gives the signal with gain (1 + H)/2 and its
        // image at 2·fs − f with gain (1 − H)/2.
        let worst = (0..=470).map(|i| (response(i as f64 / 1000.0) - 1.0).abs()).fold(0.0, f64::max);
        let at_048 = (response(0.48) - 1.0).abs();
        println!(
            "half-band: error {:.4} dB up to 0.47 fs ({:.4} dB at 0.48 fs), image leak below {:.1} dB",
            20.0 * (1.0 + worst).log10(),
            20.0 * (1.0 + at_048).log10(),
            20.0 * (worst / 2.0).log10()
        );
        assert!(20.0 * (1.0 + worst).log10() < 0.025);
    }

    #[test]
    fn branch_zero_is_the_delayed_sample_and_dc_passes() {
        for factor in SUPPORTED_FACTORS {
            let mut os = Oversampler::new(factor);
            let mut x = vec![0.0_f32; 300];
            x[10] = 0.75;
            let mut out = vec![0.0_f32; 300 * factor];
            os.process_interpolated(&x, &mut out);
            let d = os.delay_samples();
            assert_eq!(out[(10 + d) * factor + factor - 1], 0.75, "factor {factor}");
            let mut os = Oversampler::new(factor);
            let dc = vec![0.5_f32; 300];
            os.process_interpolated(&dc, &mut out);
            assert!(out[200 * factor..].iter().all(|v| (v - 0.5).abs() < 1e-6), "factor {factor}");
        }
    }
}
