//! Click-free bypass: a short linear crossfade between the processed signal and the dry signal
//! (delayed by the chain latency), so the reported latency never changes when bypassing.

/// Length of the bypass crossfade.
pub const BYPASS_FADE_MS: f64 = 10.0;

/// Crossfades between a processed ("wet") and a bypassed ("dry") signal. At rest the output is
/// exactly one of the two inputs, bit for bit.
#[derive(Debug, Clone)]
pub struct BypassCrossfade {
    /// Fade length in samples (≥ 1).
    fade_samples: u32,
    /// Position in the fade: 0 = fully processed, `fade_samples` = fully bypassed.
    position: u32,
    /// Whether the target state is bypassed.
    bypassed: bool,
}

impl BypassCrossfade {
    /// A crossfade for `sample_rate_hz`, starting settled in the given state.
    pub fn new(sample_rate_hz: f64, bypassed: bool) -> Self {
        let fade_samples = ((BYPASS_FADE_MS * 1e-3 * sample_rate_hz).round() as u32).max(1);
        Self { fade_samples, position: if bypassed { fade_samples } else { 0 }, bypassed }
    }

    /// Sets the target state; the fade runs in the following `process` calls.
    #[inline]
    pub fn set_bypassed(&mut self, bypassed: bool) {
        self.bypassed = bypassed;
    }

    /// Jumps to the target state (used by `reset`).
    pub fn settle(&mut self) {
        self.position = if self.bypassed { self.fade_samples } else { 0 };
    }

    /// True when the output is entirely the dry signal: the chain's output is not needed.
    #[inline]
    pub fn is_fully_bypassed(&self) -> bool {
        self.bypassed && self.position == self.fade_samples
    }

    /// True when the output is entirely the processed signal.
    #[inline]
    pub fn is_fully_processed(&self) -> bool {
        !self.bypassed && self.position == 0
    }

    /// Mixes `dry` into `wet` (which becomes the output) for one sub-block.
    #[inline]
    pub fn process(&mut self, wet: &mut [&mut [f32]], dry: &[&[f32]]) {
        if self.is_fully_processed() {
            return;
        }
        if self.is_fully_bypassed() {
            for (wet, dry) in wet.iter_mut().zip(dry.iter()) {
                wet.copy_from_slice(&dry[..wet.len()]);
            }
            return;
        }
        let frames = wet.first().map_or(0, |channel| channel.len());
        let start = self.position;
        let step: i64 = if self.bypassed { 1 } else { -1 };
        let inv_len = 1.0 / self.fade_samples as f32;
        for (wet, dry) in wet.iter_mut().zip(dry.iter()) {
            let mut position = start as i64;
            for (out, dry) in wet.iter_mut().zip(dry.iter()) {
                position = (position + step).clamp(0, self.fade_samples as i64);
                let dry_amount = position as f32 * inv_len;
                *out = *out * (1.0 - dry_amount) + *dry * dry_amount;
            }
        }
        self.position = (start as i64 + step * frames as i64).clamp(0, self.fade_samples as i64) as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settled_states_are_bit_exact() {
        let mut wet = vec![0.25f32; 32];
        let dry = vec![-0.75f32; 32];
        let mut fade = BypassCrossfade::new(48_000.0, true);
        fade.process(&mut [&mut wet[..]], &[&dry[..]]);
        assert_eq!(wet, dry);
        let mut wet = [0.25f32; 32];
        let mut fade = BypassCrossfade::new(48_000.0, false);
        fade.process(&mut [&mut wet[..]], &[&dry[..]]);
        assert!(wet.iter().all(|&x| x == 0.25));
    }

    #[test]
    fn toggling_fades_monotonically_over_the_fade_length() {
        let fs = 48_000.0;
        let mut fade = BypassCrossfade::new(fs, false);
        fade.set_bypassed(true);
        let frames = (fs * 0.02) as usize;
        let mut wet = vec![1.0f32; frames];
        let dry = vec![0.0f32; frames];
        for start in (0..frames).step_by(64) {
            let end = (start + 64).min(frames);
            fade.process(&mut [&mut wet[start..end]], &[&dry[start..end]]);
        }
        let fade_len = (BYPASS_FADE_MS * 1e-3 * fs) as usize;
        assert!(wet.windows(2).all(|w| w[1] <= w[0]));
        assert!(wet[0] < 1.0 && wet[0] > 0.99, "first step is one fade increment");
        assert_eq!(wet[fade_len - 1], 0.0);
        assert!(fade.is_fully_bypassed());
        // Largest step is 1/fade_len of the signal: no click.
        let max_step = wet.windows(2).map(|w| (w[0] - w[1]).abs()).fold(0.0, f32::max);
        assert!(max_step <= 1.0 / fade_len as f32 + 1e-6);
    }
}
