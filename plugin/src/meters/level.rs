//! Unweighted level statistics per channel: RMS over the last 300 ms, program RMS since reset
//! and the crest factor (sample peak over program RMS).
//!
//! RMS is reported as `20·log10(rms)` with full scale ±1.0, so a full-scale sine reads
//! −3.01 dBFS RMS (not the AES17 convention that adds 3.01 dB); the crest factor of a sine is
//! therefore 3.01 dB and of a square wave 0 dB.
//!
//! Squares are summed per 100 ms hop (hop boundaries follow the sample count, never the block
//! boundaries, so readings are identical for any block partitioning); the 300 ms window is the
//! sum of the last three finished hops.

use super::{amplitude_to_db, clamp_sample_rate_hz};

/// Hops (100 ms each) in the RMS window: 300 ms, the classic RMS meter integration time.
pub const RMS_WINDOW_HOPS: usize = 3;

/// Per-channel RMS and crest-factor meter.
#[derive(Debug, Clone)]
pub struct LevelMeter {
    /// Number of channels metered.
    channels: usize,
    /// Samples per 100 ms hop.
    hop_len: usize,
    /// Samples of the current hop processed so far.
    hop_fill: usize,
    /// Per-channel sum of squares of the current hop.
    hop_sums: Vec<f64>,
    /// Per-channel sums of the last [`RMS_WINDOW_HOPS`] finished hops, channel-major.
    window_sums: Vec<f64>,
    /// Next slot of `window_sums` to overwrite.
    window_pos: usize,
    /// Finished hops since reset.
    hops_done: u64,
    /// Per-channel sum of squares of all finished hops since reset.
    program_sums: Vec<f64>,
    /// Per-channel highest |sample| since reset.
    sample_peaks: Vec<f32>,
    /// Samples processed since reset.
    samples_processed: u64,
}

impl LevelMeter {
    /// Creates a meter for `channels` channels at `sample_rate_hz` (clamped). Allocates.
    pub fn new(sample_rate_hz: f64, channels: usize) -> Self {
        let sample_rate_hz = clamp_sample_rate_hz(sample_rate_hz);
        Self {
            channels,
            hop_len: ((sample_rate_hz / 10.0).round() as usize).max(1),
            hop_fill: 0,
            hop_sums: vec![0.0; channels],
            window_sums: vec![0.0; channels * RMS_WINDOW_HOPS],
            window_pos: 0,
            hops_done: 0,
            program_sums: vec![0.0; channels],
            sample_peaks: vec![0.0; channels],
            samples_processed: 0,
        }
    }

    /// Clears all state without allocating.
    pub fn reset(&mut self) {
        self.hop_fill = 0;
        self.hop_sums.fill(0.0);
        self.window_sums.fill(0.0);
        self.window_pos = 0;
        self.hops_done = 0;
        self.program_sums.fill(0.0);
        self.sample_peaks.fill(0.0);
        self.samples_processed = 0;
    }

    /// Number of channels metered.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Meters one block (one slice per channel; the shortest sets the length, missing channels
    /// count as silent). Non-finite samples are ignored. Never allocates.
    pub fn process(&mut self, channels: &[&[f32]]) {
        let used = channels.len().min(self.channels);
        let Some(frames) = channels.iter().take(used).map(|c| c.len()).min() else {
            return;
        };
        let mut offset = 0;
        while offset < frames {
            let take = (frames - offset).min(self.hop_len - self.hop_fill);
            for ((input, sum), peak) in
                channels.iter().take(used).zip(&mut self.hop_sums).zip(&mut self.sample_peaks)
            {
                for &x in input.get(offset..offset + take).unwrap_or(&[]) {
                    if x.is_finite() {
                        *sum += f64::from(x) * f64::from(x);
                        *peak = peak.max(x.abs());
                    }
                }
            }
            self.hop_fill += take;
            self.samples_processed += take as u64;
            offset += take;
            if self.hop_fill >= self.hop_len {
                self.finish_hop();
            }
        }
    }

    /// Moves the current hop into the window and the program sums.
    fn finish_hop(&mut self) {
        self.hop_fill = 0;
        let pos = self.window_pos;
        for (c, (hop, program)) in self.hop_sums.iter_mut().zip(&mut self.program_sums).enumerate() {
            if let Some(slot) = self.window_sums.get_mut(c * RMS_WINDOW_HOPS + pos) {
                *slot = *hop;
            }
            *program += *hop;
            *hop = 0.0;
        }
        self.window_pos = (pos + 1) % RMS_WINDOW_HOPS;
        self.hops_done += 1;
    }

    /// RMS of `channel` over the last 300 ms (three finished hops) in dBFS; `None` before
    /// 300 ms or for a channel that does not exist, −∞ for silence.
    pub fn rms_dbfs(&self, channel: usize) -> Option<f64> {
        if self.hops_done < RMS_WINDOW_HOPS as u64 {
            return None;
        }
        let sums = self.window_sums.get(channel * RMS_WINDOW_HOPS..(channel + 1) * RMS_WINDOW_HOPS)?;
        let mean = sums.iter().sum::<f64>() / (RMS_WINDOW_HOPS * self.hop_len) as f64;
        Some(amplitude_to_db(mean.sqrt()))
    }

    /// Mean square of `channel` since reset (finished hops plus the current one).
    fn program_mean_square(&self, channel: usize) -> Option<f64> {
        if self.samples_processed == 0 {
            return None;
        }
        let total = self.program_sums.get(channel)? + self.hop_sums.get(channel)?;
        Some(total / self.samples_processed as f64)
    }

    /// RMS of `channel` since reset in dBFS; `None` before any audio, −∞ for silence.
    pub fn program_rms_dbfs(&self, channel: usize) -> Option<f64> {
        self.program_mean_square(channel).map(|ms| amplitude_to_db(ms.sqrt()))
    }

    /// Crest factor since reset in dB: the highest sample peak of any channel over the program
    /// RMS of all channels (power mean). `None` before audio or while everything is silent.
    pub fn crest_db(&self) -> Option<f64> {
        let peak = self.sample_peaks.iter().copied().fold(0.0_f32, f32::max);
        let mean_square = (0..self.channels).filter_map(|c| self.program_mean_square(c)).sum::<f64>()
            / self.channels.max(1) as f64;
        (peak > 0.0 && mean_square > 0.0)
            .then(|| amplitude_to_db(f64::from(peak)) - amplitude_to_db(mean_square.sqrt()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{feed_blocks, Rng};
    use super::*;

    #[test]
    fn sine_and_square_read_their_theoretical_rms_and_crest() {
        for fs in [44_100.0, 48_000.0, 96_000.0] {
            let len = (2.0 * fs) as usize;
            // 1 kHz at −6 dBFS peak: RMS −6 − 3.0103 dBFS, crest 3.0103 dB (to within the sine's
            // sampled peak, which at these rates lands within 0.001 dB of the true peak).
            let amplitude = 10f64.powf(-6.0 / 20.0);
            let sine: Vec<f32> = (0..len)
                .map(|n| (amplitude * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / fs).sin()) as f32)
                .collect();
            let square: Vec<f32> = (0..len).map(|n| if (n / 50) % 2 == 0 { 0.25 } else { -0.25 }).collect();
            let mut meter = LevelMeter::new(fs, 2);
            meter.process(&[&sine, &square]);
            let sine_rms = meter.rms_dbfs(0).unwrap();
            let square_rms = meter.rms_dbfs(1).unwrap();
            let expected_sine = -6.0 - 10.0 * 2f64.log10();
            println!(
                "{fs} Hz: sine RMS {sine_rms:.4} dBFS (expected {expected_sine:.4}), square {square_rms:.4}"
            );
            assert!((sine_rms - expected_sine).abs() < 0.01);
            assert!((square_rms - amplitude_to_db(0.25)).abs() < 1e-9);
            assert!((meter.program_rms_dbfs(0).unwrap() - expected_sine).abs() < 0.01);

            let mut sine_only = LevelMeter::new(fs, 1);
            sine_only.process(&[&sine]);
            let crest = sine_only.crest_db().unwrap();
            assert!((crest - 10.0 * 2f64.log10()).abs() < 0.01, "{crest}");
        }
    }

    #[test]
    fn none_before_window_silence_is_minus_infinity_and_block_size_does_not_matter() {
        let fs = 48_000.0;
        let mut meter = LevelMeter::new(fs, 2);
        assert_eq!(meter.rms_dbfs(0), None);
        assert_eq!(meter.crest_db(), None);
        let silence = vec![0.0f32; 14_400];
        meter.process(&[&silence, &silence]);
        assert_eq!(meter.rms_dbfs(0), Some(f64::NEG_INFINITY));
        assert_eq!(meter.crest_db(), None);
        assert_eq!(meter.rms_dbfs(2), None);

        let mut rng = Rng::new(3);
        let noise: Vec<Vec<f32>> =
            (0..2).map(|_| (0..100_000).map(|_| rng.range(-0.5, 0.5) as f32).collect()).collect();
        let readings = |block: usize| {
            let mut m = LevelMeter::new(fs, 2);
            feed_blocks(&noise, block, |b| m.process(b));
            [m.rms_dbfs(0), m.rms_dbfs(1), m.program_rms_dbfs(0), m.crest_db()].map(|v| v.map(f64::to_bits))
        };
        let reference = readings(1);
        for block in [7, 64, 4096, 100_000] {
            assert_eq!(readings(block), reference, "block {block}");
        }
        // Uniform noise in ±0.5 has RMS 0.5/√3.
        let mut m = LevelMeter::new(fs, 2);
        m.process(&[&noise[0], &noise[1]]);
        let expected = amplitude_to_db(0.5 / 3f64.sqrt());
        assert!((m.program_rms_dbfs(0).unwrap() - expected).abs() < 0.05);

        let nan = [f32::NAN, f32::INFINITY, 0.5];
        m.process(&[&nan, &nan]);
        assert!(m.crest_db().unwrap().is_finite());
        m.reset();
        assert_eq!(m.rms_dbfs(0), None);
    }
}
