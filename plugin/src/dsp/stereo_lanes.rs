//! A (left, right) pair of f64 as one SSE2 register on x86-64, or two scalars elsewhere: the lanes
//! of the DC blocker's filter and the dither's noise shaper, which run both channels in one
//! register. Both implementations perform the same IEEE operations and give the same bits (the
//! processors' tests compare them).

#[cfg(any(not(target_arch = "x86_64"), test))]
use crate::dsp::sanitizer::sanitize_sample;
#[cfg(target_arch = "x86_64")]
use crate::dsp::sanitizer::MAX_SANE_SAMPLE;

/// A (left, right) pair of f64 and the lane-wise operations of the stereo recursive loops.
pub(crate) trait StereoLanes: Copy {
    /// The pair (left, right).
    fn new(left: f64, right: f64) -> Self;
    /// `x` in both lanes.
    fn splat(x: f64) -> Self;
    /// The pair `[left, right]`.
    fn from_array(pair: [f64; 2]) -> Self;
    /// `[left, right]`.
    fn to_array(self) -> [f64; 2];
    /// Two integers, exactly.
    fn from_i32(pair: [i32; 2]) -> Self;
    /// Two input samples, sanitized like [`sanitize_sample`]: NaN, ±∞ and |x| >
    /// [`MAX_SANE_SAMPLE`] become 0.
    fn from_f32(left: f32, right: f32) -> Self;
    /// Both lanes rounded to f32.
    fn to_f32(self) -> (f32, f32);
    /// Lane-wise sum.
    fn add(self, other: Self) -> Self;
    /// Lane-wise difference.
    fn sub(self, other: Self) -> Self;
    /// Lane-wise product.
    fn mul(self, other: Self) -> Self;
    /// Lane-wise minimum as x86 `minpd` (`a < b ? a : b`; operands are never NaN here).
    fn min(self, other: Self) -> Self;
    /// Lane-wise maximum as x86 `maxpd` (`a > b ? a : b`; operands are never NaN here).
    fn max(self, other: Self) -> Self;
    /// +0.0 in the lanes whose flag is set.
    fn zero_where(self, left: bool, right: bool) -> Self;
}

/// The lanes the loops run on: one SSE2 register on x86-64 (SSE2 is part of the x86-64 baseline),
/// two scalars elsewhere. Both perform the same IEEE operations, so they give the same bits (the
/// tests compare them).
#[cfg(target_arch = "x86_64")]
pub(crate) type Pair = Sse2Pair;
#[cfg(not(target_arch = "x86_64"))]
pub(crate) type Pair = ScalarPair;

/// (left, right) in one SSE2 register.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Sse2Pair(std::arch::x86_64::__m128d);

#[cfg(target_arch = "x86_64")]
impl StereoLanes for Sse2Pair {
    #[inline(always)]
    fn new(left: f64, right: f64) -> Self {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe { Self(std::arch::x86_64::_mm_set_pd(right, left)) }
    }
    #[inline(always)]
    fn splat(x: f64) -> Self {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe { Self(std::arch::x86_64::_mm_set1_pd(x)) }
    }
    #[inline(always)]
    fn from_array([left, right]: [f64; 2]) -> Self {
        Self::new(left, right)
    }
    #[inline(always)]
    fn to_array(self) -> [f64; 2] {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe { [_mm_cvtsd_f64(self.0), _mm_cvtsd_f64(_mm_unpackhi_pd(self.0, self.0))] }
    }
    #[inline(always)]
    fn from_i32([left, right]: [i32; 2]) -> Self {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe { Self(_mm_cvtepi32_pd(_mm_setr_epi32(left, right, 0, 0))) }
    }
    #[inline(always)]
    fn from_f32(left: f32, right: f32) -> Self {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe {
            // f32 → f64 is exact, so testing the magnitude in f64 is the same test.
            let x = _mm_cvtps_pd(_mm_setr_ps(left, right, 0.0, 0.0));
            let magnitude = _mm_andnot_pd(_mm_set1_pd(-0.0), x);
            // NaN compares false, so it is zeroed too.
            let sane = _mm_cmple_pd(magnitude, _mm_set1_pd(MAX_SANE_SAMPLE as f64));
            Self(_mm_and_pd(x, sane))
        }
    }
    #[inline(always)]
    fn to_f32(self) -> (f32, f32) {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe {
            let y = _mm_cvtpd_ps(self.0);
            (_mm_cvtss_f32(y), _mm_cvtss_f32(_mm_shuffle_ps::<0b01>(y, y)))
        }
    }
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe { Self(std::arch::x86_64::_mm_add_pd(self.0, other.0)) }
    }
    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe { Self(std::arch::x86_64::_mm_sub_pd(self.0, other.0)) }
    }
    #[inline(always)]
    fn mul(self, other: Self) -> Self {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe { Self(std::arch::x86_64::_mm_mul_pd(self.0, other.0)) }
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe { Self(std::arch::x86_64::_mm_min_pd(self.0, other.0)) }
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe { Self(std::arch::x86_64::_mm_max_pd(self.0, other.0)) }
    }
    #[inline(always)]
    fn zero_where(self, left: bool, right: bool) -> Self {
        use std::arch::x86_64::*;
        let keep = |flag: bool| if flag { 0 } else { -1 };
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe { Self(_mm_and_pd(self.0, _mm_castsi128_pd(_mm_set_epi64x(keep(right), keep(left))))) }
    }
}

/// (left, right) as two scalars (targets without SSE2; compiled in tests everywhere).
#[cfg(any(not(target_arch = "x86_64"), test))]
#[derive(Clone, Copy)]
pub(crate) struct ScalarPair([f64; 2]);

#[cfg(any(not(target_arch = "x86_64"), test))]
impl StereoLanes for ScalarPair {
    #[inline(always)]
    fn new(left: f64, right: f64) -> Self {
        Self([left, right])
    }
    #[inline(always)]
    fn splat(x: f64) -> Self {
        Self([x, x])
    }
    #[inline(always)]
    fn from_array(pair: [f64; 2]) -> Self {
        Self(pair)
    }
    #[inline(always)]
    fn to_array(self) -> [f64; 2] {
        self.0
    }
    #[inline(always)]
    fn from_i32(pair: [i32; 2]) -> Self {
        Self(pair.map(f64::from))
    }
    #[inline(always)]
    fn from_f32(left: f32, right: f32) -> Self {
        Self([sanitize_sample(left) as f64, sanitize_sample(right) as f64])
    }
    #[inline(always)]
    fn to_f32(self) -> (f32, f32) {
        let [left, right] = self.0;
        (left as f32, right as f32)
    }
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        let ([a, b], [c, d]) = (self.0, other.0);
        Self([a + c, b + d])
    }
    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        let ([a, b], [c, d]) = (self.0, other.0);
        Self([a - c, b - d])
    }
    #[inline(always)]
    fn mul(self, other: Self) -> Self {
        let ([a, b], [c, d]) = (self.0, other.0);
        Self([a * c, b * d])
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        let min = |a: f64, b: f64| if a < b { a } else { b };
        let ([a, b], [c, d]) = (self.0, other.0);
        Self([min(a, c), min(b, d)])
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        let max = |a: f64, b: f64| if a > b { a } else { b };
        let ([a, b], [c, d]) = (self.0, other.0);
        Self([max(a, c), max(b, d)])
    }
    #[inline(always)]
    fn zero_where(self, left: bool, right: bool) -> Self {
        let [a, b] = self.0;
        Self([if left { 0.0 } else { a }, if right { 0.0 } else { b }])
    }
}
