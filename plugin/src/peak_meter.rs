//! Sample-peak meter with PPM-style ballistics, published to the editor through atomics. (The
//! full loudness and true-peak meters live in `meters/`; this is the fast level bar the editor
//! draws next to them.)

use atomic_float::AtomicF32;
use std::sync::atomic::Ordering;

/// Channels a meter shows (Parity runs mono or stereo).
pub const METER_CHANNELS: usize = 2;

/// Fall-back rate of the displayed peak: 20 dB in 1.7 s, the IEC 60268-10 type I PPM return time.
pub const PEAK_FALLBACK_DB_PER_S: f64 = 20.0 / 1.7;

/// Level published for silence (the editor formats anything at or below it as −∞).
pub const SILENCE_DBFS: f32 = -200.0;

/// The GUI side of a peak meter: one writer (the audio thread), any number of readers.
#[derive(Debug)]
pub struct PeakMeterView {
    /// Displayed peak per channel in dBFS, with fall-back ballistics.
    peak_dbfs: [AtomicF32; METER_CHANNELS],
    /// Highest sample peak per channel since the last reset, in dBFS.
    max_dbfs: [AtomicF32; METER_CHANNELS],
}

impl Default for PeakMeterView {
    fn default() -> Self {
        Self {
            peak_dbfs: std::array::from_fn(|_| AtomicF32::new(SILENCE_DBFS)),
            max_dbfs: std::array::from_fn(|_| AtomicF32::new(SILENCE_DBFS)),
        }
    }
}

impl PeakMeterView {
    /// Displayed peak of `channel` in dBFS ([`SILENCE_DBFS`] for silence or a missing channel).
    pub fn peak_dbfs(&self, channel: usize) -> f32 {
        self.peak_dbfs.get(channel).map_or(SILENCE_DBFS, |v| v.load(Ordering::Relaxed))
    }

    /// Highest sample peak of `channel` since the last reset, in dBFS.
    pub fn max_dbfs(&self, channel: usize) -> f32 {
        self.max_dbfs.get(channel).map_or(SILENCE_DBFS, |v| v.load(Ordering::Relaxed))
    }
}

/// The audio-thread side of a peak meter.
#[derive(Debug, Clone)]
pub struct PeakMeter {
    /// Linear fall-back factor per sample, `10^(−rate_db_per_s / 20 / fs)`.
    fallback_per_sample: f32,
    /// Displayed peak per channel, linear.
    peak: [f32; METER_CHANNELS],
    /// Max sample peak per channel since reset, linear.
    max: [f32; METER_CHANNELS],
}

impl PeakMeter {
    /// A meter whose ballistics derive from `sample_rate_hz`.
    pub fn new(sample_rate_hz: f64) -> Self {
        let fallback_per_sample = 10f64.powf(-PEAK_FALLBACK_DB_PER_S / 20.0 / sample_rate_hz.max(1.0)) as f32;
        Self { fallback_per_sample, peak: [0.0; METER_CHANNELS], max: [0.0; METER_CHANNELS] }
    }

    /// Clears the displayed peaks and the maxima.
    pub fn reset(&mut self) {
        self.peak = [0.0; METER_CHANNELS];
        self.max = [0.0; METER_CHANNELS];
    }

    /// Measures one sub-block (all channels the same length).
    #[inline]
    pub fn process(&mut self, channels: &[&[f32]]) {
        for (index, channel) in channels.iter().take(METER_CHANNELS).enumerate() {
            let block_peak = channel.iter().fold(0.0f32, |acc, x| acc.max(x.abs()));
            let fallen = self.peak[index] * self.fallback_per_sample.powi(channel.len() as i32);
            self.peak[index] = fallen.max(block_peak);
            if self.peak[index] < 1e-10 {
                self.peak[index] = 0.0;
            }
            self.max[index] = self.max[index].max(block_peak);
        }
    }

    /// Publishes the current readings to `view` (a few relaxed atomic stores).
    pub fn publish(&self, view: &PeakMeterView, channels: usize) {
        for index in 0..METER_CHANNELS {
            let (peak, max) = if index < channels { (self.peak[index], self.max[index]) } else { (0.0, 0.0) };
            view.peak_dbfs[index].store(linear_to_dbfs(peak), Ordering::Relaxed);
            view.max_dbfs[index].store(linear_to_dbfs(max), Ordering::Relaxed);
        }
    }
}

/// Linear amplitude to dBFS, with silence as [`SILENCE_DBFS`] (never −∞ or NaN in an atomic).
#[inline]
pub fn linear_to_dbfs(amplitude: f32) -> f32 {
    if amplitude > 1e-10 {
        20.0 * amplitude.log10()
    } else {
        SILENCE_DBFS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_true_sample_peak_and_falls_back_at_the_ppm_rate() {
        let fs = 48_000.0;
        let mut meter = PeakMeter::new(fs);
        let view = PeakMeterView::default();
        let loud = [0.5f32, -0.25, 0.1];
        meter.process(&[&loud, &[0.0; 3]]);
        meter.publish(&view, 2);
        assert!((view.peak_dbfs(0) - (-6.0206)).abs() < 1e-3);
        assert_eq!(view.peak_dbfs(1), SILENCE_DBFS);
        // One second of silence later the display has fallen by PEAK_FALLBACK_DB_PER_S.
        let silence = vec![0.0f32; 64];
        for _ in 0..(fs as usize / 64) {
            meter.process(&[&silence, &silence]);
        }
        meter.publish(&view, 2);
        let fallen = -6.0206 - view.peak_dbfs(0);
        assert!((fallen - PEAK_FALLBACK_DB_PER_S as f32).abs() < 0.05, "fell {fallen} dB");
        // The maximum holds.
        assert!((view.max_dbfs(0) - (-6.0206)).abs() < 1e-3);
        meter.reset();
        meter.publish(&view, 2);
        assert_eq!(view.max_dbfs(0), SILENCE_DBFS);
    }
}
