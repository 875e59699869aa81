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
pub mod limiter;
pub mod multiband;
pub mod oversampler;
pub mod sanitizer;
pub(crate) mod stereo_lanes;
pub mod target_learner;
