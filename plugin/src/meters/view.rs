//! The hand-off from the audio thread to everything that shows meter readings (the editor, and the
//! offline tools through the same type): one writer, lock-free readers, O(1) reads.
//!
//! Each reading is an `AtomicF32`. "No value yet" (less than 400 ms of audio for momentary, 3 s
//! for short-term) is stored as NaN and returned as `None`; silence is stored and returned as
//! −∞. Readers never see NaN.

use std::sync::atomic::{AtomicU64, Ordering};

use atomic_float::AtomicF32;

use super::MeterSet;

/// Channels a meter point shows.
pub const VIEW_CHANNELS: usize = 2;

/// Readings of one meter point (the chain input or the chain output).
#[derive(Debug)]
pub struct MeterPointView {
    /// Momentary loudness (400 ms), LUFS.
    momentary_lufs: AtomicF32,
    /// Short-term loudness (3 s), LUFS.
    short_term_lufs: AtomicF32,
    /// Integrated loudness since reset (BS.1770 gating), LUFS.
    integrated_lufs: AtomicF32,
    /// Loudness range since reset (EBU Tech 3342), LU.
    loudness_range_lu: AtomicF32,
    /// Highest momentary loudness since reset, LUFS.
    max_momentary_lufs: AtomicF32,
    /// Highest short-term loudness since reset, LUFS.
    max_short_term_lufs: AtomicF32,
    /// Highest true peak per channel since reset, dBTP.
    true_peak_dbtp: [AtomicF32; VIEW_CHANNELS],
    /// Highest sample peak per channel since reset, dBFS.
    sample_peak_dbfs: [AtomicF32; VIEW_CHANNELS],
    /// Input sample periods whose true peak exceeded the over threshold (−1 dBTP), all channels.
    over_count: AtomicU64,
}

impl Default for MeterPointView {
    fn default() -> Self {
        let none = || AtomicF32::new(f32::NAN);
        Self {
            momentary_lufs: none(),
            short_term_lufs: none(),
            integrated_lufs: none(),
            loudness_range_lu: none(),
            max_momentary_lufs: none(),
            max_short_term_lufs: none(),
            true_peak_dbtp: std::array::from_fn(|_| none()),
            sample_peak_dbfs: std::array::from_fn(|_| none()),
            over_count: AtomicU64::new(0),
        }
    }
}

/// Stores an optional reading (NaN encodes `None`).
#[inline]
fn store(cell: &AtomicF32, value: Option<f64>) {
    cell.store(value.map_or(f32::NAN, |v| v as f32), Ordering::Relaxed);
}

/// Loads an optional reading.
#[inline]
fn load(cell: &AtomicF32) -> Option<f32> {
    let value = cell.load(Ordering::Relaxed);
    (!value.is_nan()).then_some(value)
}

impl MeterPointView {
    /// Publishes the current readings of `meters` (audio thread; a few relaxed stores).
    pub fn publish(&self, meters: &MeterSet) {
        let loudness = &meters.loudness;
        store(&self.momentary_lufs, loudness.momentary_lufs());
        store(&self.short_term_lufs, loudness.short_term_lufs());
        store(&self.integrated_lufs, loudness.integrated_lufs());
        store(&self.loudness_range_lu, loudness.loudness_range_lu());
        store(&self.max_momentary_lufs, loudness.max_momentary_lufs());
        store(&self.max_short_term_lufs, loudness.max_short_term_lufs());
        let peaks = &meters.true_peak;
        let mut overs = 0;
        for channel in 0..VIEW_CHANNELS {
            let present = channel < peaks.channels();
            store(&self.true_peak_dbtp[channel], if present { peaks.true_peak_dbtp(channel) } else { None });
            store(
                &self.sample_peak_dbfs[channel],
                if present { peaks.sample_peak_dbfs(channel) } else { None },
            );
            if present {
                overs += peaks.over_count(channel).unwrap_or(0);
            }
        }
        self.over_count.store(overs, Ordering::Relaxed);
    }

    /// Momentary loudness in LUFS; `None` before 400 ms of audio, −∞ for silence.
    pub fn momentary_lufs(&self) -> Option<f32> {
        load(&self.momentary_lufs)
    }

    /// Short-term loudness in LUFS; `None` before 3 s of audio, −∞ for silence.
    pub fn short_term_lufs(&self) -> Option<f32> {
        load(&self.short_term_lufs)
    }

    /// Integrated loudness since reset in LUFS; −∞ while nothing passed the gates.
    pub fn integrated_lufs(&self) -> Option<f32> {
        load(&self.integrated_lufs)
    }

    /// Loudness range since reset in LU.
    pub fn loudness_range_lu(&self) -> Option<f32> {
        load(&self.loudness_range_lu)
    }

    /// Highest momentary loudness since reset in LUFS.
    pub fn max_momentary_lufs(&self) -> Option<f32> {
        load(&self.max_momentary_lufs)
    }

    /// Highest short-term loudness since reset in LUFS.
    pub fn max_short_term_lufs(&self) -> Option<f32> {
        load(&self.max_short_term_lufs)
    }

    /// Highest true peak of `channel` since reset in dBTP.
    pub fn true_peak_dbtp(&self, channel: usize) -> Option<f32> {
        self.true_peak_dbtp.get(channel).and_then(load)
    }

    /// Highest true peak over all channels since reset in dBTP.
    pub fn max_true_peak_dbtp(&self) -> Option<f32> {
        (0..VIEW_CHANNELS).filter_map(|channel| self.true_peak_dbtp(channel)).reduce(f32::max)
    }

    /// Highest sample peak of `channel` since reset in dBFS.
    pub fn sample_peak_dbfs(&self, channel: usize) -> Option<f32> {
        self.sample_peak_dbfs.get(channel).and_then(load)
    }

    /// Peak-to-loudness ratio (max true peak − integrated loudness) in dB, when both exist and
    /// the integrated loudness is not −∞.
    pub fn plr_db(&self) -> Option<f32> {
        let integrated = self.integrated_lufs().filter(|i| i.is_finite())?;
        Some(self.max_true_peak_dbtp()? - integrated)
    }

    /// Sample periods over the true-peak over threshold (−1 dBTP) since reset, all channels.
    pub fn over_count(&self) -> u64 {
        self.over_count.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_value_yet_silence_and_readings_round_trip_without_nan() {
        let view = MeterPointView::default();
        assert_eq!(view.momentary_lufs(), None);
        assert_eq!(view.plr_db(), None);

        let rate = 48_000.0;
        let mut meters = MeterSet::new(rate, 2);
        let silence = vec![0.0f32; 24_000];
        meters.process(&[&silence, &silence]);
        view.publish(&meters);
        assert_eq!(view.momentary_lufs(), Some(f32::NEG_INFINITY));
        assert_eq!(view.short_term_lufs(), None, "3 s not reached");
        assert_eq!(view.plr_db(), None, "no PLR of silence");

        // 4 s of a stereo 1 kHz sine at −20 dBFS: −20 dBFS per channel reads about −20 LUFS
        // (−23 dBFS stereo sine = −23 LUFS), true peak −20 dBTP, PLR 0 dB.
        let amplitude = 10f64.powf(-20.0 / 20.0);
        let tone: Vec<f32> = (0..(4.0 * rate) as usize)
            .map(|n| (amplitude * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / rate).sin()) as f32)
            .collect();
        let mut meters = MeterSet::new(rate, 2);
        meters.process(&[&tone, &tone]);
        view.publish(&meters);
        let short_term = view.short_term_lufs().unwrap();
        assert!((short_term + 20.0).abs() < 0.1, "{short_term}");
        let true_peak = view.max_true_peak_dbtp().unwrap();
        assert!((true_peak + 20.0).abs() < 0.1, "{true_peak}");
        assert!(view.plr_db().unwrap().abs() < 0.2);
        assert_eq!(view.true_peak_dbtp(5), None);
    }
}
