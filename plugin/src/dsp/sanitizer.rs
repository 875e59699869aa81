//! Input sanitizing: the first stage of the engine. A master bus can receive anything from a
//! broken plugin upstream; NaN or infinity would poison every recursive filter downstream.

/// Largest sample magnitude accepted as audio: +120 dBFS. Anything larger (1e30 from a blown-up
/// filter upstream) is treated as garbage, like NaN and ±∞.
pub const MAX_SANE_SAMPLE: f32 = 1.0e6;

/// One sample through the same rule, without counting: NaN, ±∞ and |x| > [`MAX_SANE_SAMPLE`]
/// become 0.0, everything else passes (for processors that guard their own input).
#[inline(always)]
pub fn sanitize_sample(x: f32) -> f32 {
    // NaN fails the comparison.
    if x.abs() <= MAX_SANE_SAMPLE {
        x
    } else {
        0.0
    }
}

/// Replaces non-finite and absurdly large samples with silence and counts them, so the editor can
/// say "bad input arrived" and the meters never see NaN.
#[derive(Debug, Default, Clone)]
pub struct Sanitizer {
    /// Number of samples replaced since the last [`Sanitizer::reset`].
    replaced_samples: u64,
}

impl Sanitizer {
    /// A sanitizer with a zero count.
    pub fn new() -> Self {
        Self::default()
    }

    /// Clears the count.
    pub fn reset(&mut self) {
        self.replaced_samples = 0;
    }

    /// Replaces every NaN, ±∞ and |x| > [`MAX_SANE_SAMPLE`] in `samples` with 0.0 and returns how
    /// many were replaced in this call.
    #[inline]
    pub fn process(&mut self, samples: &mut [f32]) -> u64 {
        let mut replaced = 0u64;
        for sample in samples.iter_mut() {
            // NaN fails `is_finite`; ±∞ and 1e30 fail the range check.
            if !sample.is_finite() || sample.abs() > MAX_SANE_SAMPLE {
                *sample = 0.0;
                replaced += 1;
            }
        }
        self.replaced_samples += replaced;
        replaced
    }

    /// Samples replaced since the last reset.
    pub fn replaced_samples(&self) -> u64 {
        self.replaced_samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_garbage_and_counts_it() {
        let mut block = [0.5, f32::NAN, -1.0, f32::INFINITY, f32::NEG_INFINITY, 1.0e30, -2.0e6, 999_999.0];
        let mut sanitizer = Sanitizer::new();
        assert_eq!(sanitizer.process(&mut block), 5);
        assert_eq!(block, [0.5, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 999_999.0]);
        assert_eq!(sanitizer.replaced_samples(), 5);
        sanitizer.reset();
        assert_eq!(sanitizer.replaced_samples(), 0);
    }

    #[test]
    fn subnormals_pass_as_audio() {
        // Subnormals are finite audio; the denormal guard, not the sanitizer, deals with them.
        let mut block = [f32::MIN_POSITIVE / 4.0];
        assert_eq!(Sanitizer::new().process(&mut block), 0);
    }
}
