//! Denormal protection, done twice as the style guide asks: a flush-to-zero guard for the whole
//! block (the CPU's FTZ/DAZ flags), and [`snap_to_zero`] for recursive filter and envelope state.

/// Magnitude below which recursive state is snapped to zero (about −300 dBFS in f32, far below
/// anything audible but far above the subnormal range).
pub const SNAP_THRESHOLD: f32 = 1.0e-15;

/// Returns `x`, or exactly zero when `|x|` is below [`SNAP_THRESHOLD`].
#[inline]
pub fn snap_to_zero(x: f32) -> f32 {
    if x.abs() < SNAP_THRESHOLD {
        0.0
    } else {
        x
    }
}

/// Returns `x`, or exactly zero when `|x|` is below [`SNAP_THRESHOLD`] (f64 state).
#[inline]
pub fn snap_to_zero_f64(x: f64) -> f64 {
    if x.abs() < SNAP_THRESHOLD as f64 {
        0.0
    } else {
        x
    }
}

/// Sets the flush-to-zero and denormals-are-zero modes of the current thread for as long as the
/// guard lives, and restores the previous mode when dropped. Cheap (two register moves), so it is
/// taken once per `process()` call.
pub struct DenormalGuard {
    /// Keeps the guard on the thread whose mode it changed (raw pointers are neither Send nor Sync).
    _same_thread: std::marker::PhantomData<*const ()>,
    #[cfg(target_arch = "x86_64")]
    previous_mxcsr: u32,
    #[cfg(target_arch = "aarch64")]
    previous_fpcr: u64,
}

#[cfg(target_arch = "x86_64")]
const MXCSR_FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

#[cfg(target_arch = "aarch64")]
const FPCR_FZ: u64 = 1 << 24;

impl DenormalGuard {
    /// Enables FTZ/DAZ (x86_64) or FZ (aarch64) on this thread until the guard is dropped.
    #[inline]
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let mut previous_mxcsr: u32 = 0;
            // SAFETY: stmxcsr/ldmxcsr only read and write the SSE control register of this
            // thread; the new value differs only in the FTZ and DAZ bits, which do not trap.
            unsafe {
                std::arch::asm!("stmxcsr [{}]", in(reg) &mut previous_mxcsr, options(nostack));
                let new_mxcsr = previous_mxcsr | MXCSR_FTZ_DAZ;
                std::arch::asm!("ldmxcsr [{}]", in(reg) &new_mxcsr, options(nostack));
            }
            Self { _same_thread: std::marker::PhantomData, previous_mxcsr }
        }
        #[cfg(target_arch = "aarch64")]
        {
            let previous_fpcr: u64;
            // SAFETY: reading and writing FPCR only changes this thread's rounding/flush mode;
            // setting FZ does not enable any trap.
            unsafe {
                std::arch::asm!("mrs {}, fpcr", out(reg) previous_fpcr, options(nomem, nostack));
                std::arch::asm!("msr fpcr, {}", in(reg) previous_fpcr | FPCR_FZ, options(nomem, nostack));
            }
            Self { _same_thread: std::marker::PhantomData, previous_fpcr }
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            Self { _same_thread: std::marker::PhantomData }
        }
    }
}

impl Default for DenormalGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for DenormalGuard {
    #[inline]
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: restores the exact register value read in `new()` on this same thread (the
        // guard is neither Send nor Sync because of its marker field).
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &self.previous_mxcsr, options(nostack));
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: restores the FPCR value read in `new()` on this same thread.
        unsafe {
            std::arch::asm!("msr fpcr, {}", in(reg) self.previous_fpcr, options(nomem, nostack));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snap_to_zero_keeps_audio_and_kills_tiny_state() {
        assert_eq!(snap_to_zero(1.0e-20), 0.0);
        assert_eq!(snap_to_zero(-1.0e-16), 0.0);
        assert_eq!(snap_to_zero(1.0e-6), 1.0e-6);
        assert_eq!(snap_to_zero_f64(f64::MIN_POSITIVE), 0.0);
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn guard_flushes_subnormal_results_and_restores_the_mode() {
        let tiny = std::hint::black_box(f32::MIN_POSITIVE);
        let half = std::hint::black_box(0.5f32);
        assert!((tiny * half).is_subnormal(), "without the guard the product is subnormal");
        {
            let _guard = DenormalGuard::new();
            let product = std::hint::black_box(tiny) * std::hint::black_box(half);
            assert_eq!(product, 0.0, "FTZ must flush the subnormal product");
        }
        assert!((std::hint::black_box(tiny) * half).is_subnormal(), "mode restored on drop");
    }
}
