//! Run-time choice of a processor's compiled kernels: each processor compiles its per-sample
//! loop twice, generic over [`MulAdd`] (portable, and inside an `avx2,fma` target-feature
//! function), and picks one with [`Kernel::detect`] when it is built.

/// Multiply-add flavour of the recursive kernels: separate multiply and add (portable), or fused
/// (FMA hardware, used only inside functions compiled with the `fma` target feature).
pub trait MulAdd {
    /// Returns `a·b + c`.
    fn mul_add(a: f64, b: f64, c: f64) -> f64;
}

/// `a·b + c` as a separate multiply and add (portable).
#[derive(Debug, Clone, Copy)]
pub struct Separate;

impl MulAdd for Separate {
    #[inline(always)]
    fn mul_add(a: f64, b: f64, c: f64) -> f64 {
        a * b + c
    }
}

/// `a·b + c` with one rounding (`vfmadd`; only inside `#[target_feature(enable = "fma")]` code,
/// elsewhere it would be a slow library call).
#[derive(Debug, Clone, Copy)]
pub struct Fused;

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
}

/// Which compiled variant of a processor's kernels runs. Chosen once per instance, so the output
/// is deterministic (and block-size invariant) on a given machine; the two variants differ by
/// rounding only (FMA), far below the tests' tolerances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Baseline instruction set of the target.
    Portable,
    /// x86-64 with AVX2 and FMA, detected at run time.
    #[cfg(target_arch = "x86_64")]
    Avx2Fma,
}

impl Kernel {
    /// The best variant this CPU supports.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Kernel::Avx2Fma;
            }
        }
        Kernel::Portable
    }
}
