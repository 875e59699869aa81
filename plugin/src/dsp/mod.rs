//! Signal processors. Every processor is plain Rust over `&mut [f32]` with the same small
//! contract: `new`/`prepare` may allocate (sizes derive from the sample rate), `reset` clears
//! without allocating, `process` never allocates, locks or panics.

pub mod bypass;
pub mod delay_line;
pub mod denormals;
pub mod gain;
pub mod sanitizer;
