//! Signal processors. Every processor is plain Rust over `&mut [f32]` with the same small
//! contract: `new`/`prepare` may allocate (sizes derive from the sample rate), `reset` clears
//! without allocating, `process` never allocates, locks or panics.

pub mod biquad;
pub mod bypass;
pub mod chain;
pub mod compressor;
pub mod crossover;
pub mod dc_blocker;
pub mod delay_line;
pub mod denormals;
pub mod dither;
pub mod envelope;
pub mod eq;
pub mod eq_linear_phase;
pub mod gain;
pub mod imager;
pub mod kernel;
pub mod limiter;
pub mod multiband;
pub mod oversampler;
pub mod sanitizer;
pub(crate) mod stereo_lanes;
pub mod target_learner;

/// Lowest sample rate Parity processes, in Hz (the engine refuses lower ones; processors clamp).
pub const MIN_SAMPLE_RATE_HZ: f64 = 1_000.0;

/// Highest sample rate Parity processes, in Hz.
pub const MAX_SAMPLE_RATE_HZ: f64 = 1_536_000.0;

/// Sample rate a processor assumes for a non-finite request, in Hz.
pub const FALLBACK_SAMPLE_RATE_HZ: f64 = 48_000.0;

/// Clamps a requested sample rate the way every processor does: into
/// [[`MIN_SAMPLE_RATE_HZ`], [`MAX_SAMPLE_RATE_HZ`]], non-finite → [`FALLBACK_SAMPLE_RATE_HZ`].
/// (The meters use their own, narrower range: `crate::meters::clamp_sample_rate_hz`.)
pub fn clamp_sample_rate_hz(sample_rate_hz: f64) -> f64 {
    if sample_rate_hz.is_finite() {
        sample_rate_hz.clamp(MIN_SAMPLE_RATE_HZ, MAX_SAMPLE_RATE_HZ)
    } else {
        FALLBACK_SAMPLE_RATE_HZ
    }
}

/// Zeroth-order modified Bessel function of the first kind (power series, to double precision),
/// for Kaiser windows.
pub(crate) fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..300 {
        term *= half / k as f64;
        let t2 = term * term;
        sum += t2;
        if t2 < sum * 1e-17 {
            break;
        }
    }
    sum
}
