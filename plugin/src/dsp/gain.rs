//! A gain stage with click-free changes: the input trim and the output gain of the chain.

/// Time constant of gain changes. Short enough to follow automation, long enough that a jump of
/// 24 dB does not click.
pub const GAIN_SMOOTHING_MS: f64 = 10.0;

/// Distance (linear) from the target below which a moving gain snaps onto it: −120 dB.
pub const GAIN_SNAP: f64 = 1.0e-6;

/// Gain in dB with a one-pole smoother on the linear gain. At rest the gain is exactly the target
/// (no creeping tail), so 0 dB is a bit-exact identity.
#[derive(Debug, Clone)]
pub struct SmoothedGain {
    /// Per-sample smoothing coefficient, `exp(-1 / (τ·fs))`.
    coefficient: f64,
    /// Current linear gain (f64: in f32 the one-pole stalls ~−97 dB short of its target).
    current: f64,
    /// Target linear gain.
    target: f64,
}

impl SmoothedGain {
    /// A gain stage at `gain_db`, already settled.
    pub fn new(sample_rate_hz: f64, gain_db: f32) -> Self {
        let target = db_to_gain(gain_db) as f64;
        let mut stage = Self { coefficient: 0.0, current: target, target };
        stage.set_sample_rate(sample_rate_hz);
        stage
    }

    /// Derives the smoothing coefficient from the sample rate (any rate > 0 is safe).
    pub fn set_sample_rate(&mut self, sample_rate_hz: f64) {
        let samples = (GAIN_SMOOTHING_MS * 1e-3 * sample_rate_hz.max(1.0)).max(1.0);
        self.coefficient = (-1.0 / samples).exp();
    }

    /// Sets the gain to move to, in dB. Non-finite values are ignored.
    #[inline]
    pub fn set_target_db(&mut self, gain_db: f32) {
        if gain_db.is_finite() {
            self.target = db_to_gain(gain_db) as f64;
        }
    }

    /// Jumps to the target (used by `reset`).
    pub fn settle(&mut self) {
        self.current = self.target;
    }

    /// True while the gain is still moving.
    #[inline]
    pub fn is_moving(&self) -> bool {
        self.current != self.target
    }

    /// Writes the per-sample linear gain for the next `gains.len()` samples.
    #[inline]
    pub fn render(&mut self, gains: &mut [f32]) {
        if !self.is_moving() {
            gains.fill(self.target as f32);
            return;
        }
        for gain in gains.iter_mut() {
            let remaining = (self.current - self.target) * self.coefficient;
            // Snap once within −120 dB of the target: f32 rounding would otherwise leave the
            // smoother one ulp away forever, and "moving" must end for bit-exact rest.
            self.current = if remaining.abs() < GAIN_SNAP { self.target } else { self.target + remaining };
            *gain = self.current as f32;
        }
    }

    /// Applies the gain to every channel of one sub-block. `scratch` must be at least as long as
    /// the channels.
    #[inline]
    pub fn process(&mut self, channels: &mut [&mut [f32]], scratch: &mut [f32]) {
        let frames = channels.first().map_or(0, |channel| channel.len());
        if !self.is_moving() {
            if self.target == 1.0 {
                return;
            }
            let gain = self.target as f32;
            channels.iter_mut().for_each(|channel| channel.iter_mut().for_each(|x| *x *= gain));
            return;
        }
        let gains = &mut scratch[..frames];
        self.render(gains);
        for channel in channels.iter_mut() {
            for (sample, gain) in channel.iter_mut().zip(gains.iter()) {
                *sample *= *gain;
            }
        }
    }
}

/// dB to linear gain (−∞ dB and below −200 dB give exactly 0).
#[inline]
pub fn db_to_gain(gain_db: f32) -> f32 {
    if gain_db <= -200.0 {
        0.0
    } else {
        10f32.powf(gain_db / 20.0)
    }
}

/// Linear gain to dB (0 gives −∞).
#[inline]
pub fn gain_to_db(gain: f32) -> f32 {
    if gain <= 0.0 {
        f32::NEG_INFINITY
    } else {
        20.0 * gain.log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unity_is_bit_exact() {
        let mut stage = SmoothedGain::new(48_000.0, 0.0);
        let mut left: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin()).collect();
        let reference = left.clone();
        let mut scratch = [0.0; 64];
        stage.process(&mut [&mut left[..]], &mut scratch);
        assert_eq!(left, reference);
    }

    #[test]
    fn change_settles_on_the_exact_target_and_is_monotonic() {
        let fs = 48_000.0;
        let mut stage = SmoothedGain::new(fs, 0.0);
        stage.set_target_db(-6.0);
        let mut gains = vec![0.0; (fs * 0.2) as usize];
        stage.render(&mut gains);
        assert!(gains.windows(2).all(|w| w[1] <= w[0]), "no overshoot or ripple");
        // After 10 time constants the one-pole is within e^-10 ≈ 4.5e-5 of the target...
        let after_100ms = gains[(fs * 0.1) as usize];
        assert!((after_100ms - db_to_gain(-6.0)).abs() < 1e-4 * 0.5 + 1e-6);
        // ...and, snapped, exactly on it at rest.
        assert_eq!(*gains.last().unwrap(), db_to_gain(-6.0));
        assert!(!stage.is_moving());
    }

    #[test]
    fn first_step_is_small_enough_not_to_click() {
        let mut stage = SmoothedGain::new(44_100.0, -24.0);
        stage.set_target_db(24.0);
        let mut gains = [0.0; 2];
        stage.render(&mut gains);
        // One sample of a 10 ms one-pole covers 1/441 of the jump.
        let jump = db_to_gain(24.0) - db_to_gain(-24.0);
        assert!(gains[0] - db_to_gain(-24.0) < jump / 400.0);
    }

    #[test]
    fn db_conversions_round_trip() {
        for db in [-60.0f32, -6.0, 0.0, 3.0, 24.0] {
            assert!((gain_to_db(db_to_gain(db)) - db).abs() < 1e-4);
        }
        assert_eq!(gain_to_db(0.0), f32::NEG_INFINITY);
        assert_eq!(db_to_gain(f32::NEG_INFINITY), 0.0);
    }
}
