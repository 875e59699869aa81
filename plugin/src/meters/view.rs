//! The hand-off from the audio thread to everything that shows meter readings (the editor, and the
//! offline tools through the same type): one writer, lock-free readers, O(1) reads.
//!
//! Each reading is an `AtomicF32`. "No value yet" (less than 400 ms of audio for momentary, 3 s
//! for short-term) is stored as NaN and returned as `None`; silence is stored and returned as
//! −∞. Readers never see NaN.

use std::sync::atomic::{AtomicU64, Ordering};

use atomic_float::{AtomicF32, AtomicF64};

use super::inspector::MAX_POSITIONS;
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
    /// Separate overs (runs of consecutive over periods), summed over channels.
    over_events: AtomicU64,
    /// RMS over the last 300 ms per channel, dBFS (full-scale sine = −3.01).
    rms_dbfs: [AtomicF32; VIEW_CHANNELS],
    /// Crest factor since reset (sample peak over program RMS), dB.
    crest_db: AtomicF32,
    /// Peak-to-short-term ratio (true peak of the last 3 s − short-term loudness), dB.
    psr_db: AtomicF32,
    /// Where the maximum momentary loudness occurred, seconds since reset (end of its window).
    max_momentary_position_s: AtomicF64,
    /// Where the maximum short-term loudness occurred, seconds since reset (end of its window).
    max_short_term_position_s: AtomicF64,
    /// Where the highest true peak (any channel) occurred, seconds since reset.
    true_peak_position_s: AtomicF64,
    /// Lowest PSR of the loud passages since reset ([`MeterSet::loud_psr_db`]), dB.
    loud_psr_db: AtomicF32,
    /// Clipped runs since reset ([`super::inspector`]).
    clipped_runs: AtomicU64,
    /// Flat-top runs since reset.
    flat_top_runs: AtomicU64,
    /// Where the first clipped runs start, seconds since reset (NaN: none).
    clip_positions_s: [AtomicF64; MAX_POSITIONS],
    /// DC offset per channel since reset, dBFS (−∞ for none).
    dc_offset_dbfs: [AtomicF32; VIEW_CHANNELS],
    /// Audio measured since reset, s.
    measured_s: AtomicF64,
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
            over_events: AtomicU64::new(0),
            rms_dbfs: std::array::from_fn(|_| none()),
            crest_db: none(),
            psr_db: none(),
            max_momentary_position_s: AtomicF64::new(f64::NAN),
            max_short_term_position_s: AtomicF64::new(f64::NAN),
            true_peak_position_s: AtomicF64::new(f64::NAN),
            loud_psr_db: none(),
            clipped_runs: AtomicU64::new(0),
            flat_top_runs: AtomicU64::new(0),
            clip_positions_s: std::array::from_fn(|_| AtomicF64::new(f64::NAN)),
            dc_offset_dbfs: std::array::from_fn(|_| none()),
            measured_s: AtomicF64::new(0.0),
        }
    }
}

/// Stores an optional reading (NaN encodes `None`).
#[inline]
fn store(cell: &AtomicF32, value: Option<f64>) {
    cell.store(value.map_or(f32::NAN, |v| v as f32), Ordering::Relaxed);
}

/// Stores an optional position in seconds (NaN encodes `None`).
#[inline]
fn store_seconds(cell: &AtomicF64, samples: Option<u64>, sample_rate_hz: f64) {
    cell.store(samples.map_or(f64::NAN, |s| s as f64 / sample_rate_hz), Ordering::Relaxed);
}

/// Loads an optional position in seconds.
#[inline]
fn load_seconds(cell: &AtomicF64) -> Option<f64> {
    let value = cell.load(Ordering::Relaxed);
    (!value.is_nan()).then_some(value)
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
        let mut over_events = 0;
        let mut loudest: Option<(f64, Option<u64>)> = None;
        for channel in 0..VIEW_CHANNELS {
            let present = channel < peaks.channels();
            let true_peak = if present { peaks.true_peak_dbtp(channel) } else { None };
            store(&self.true_peak_dbtp[channel], true_peak);
            store(
                &self.sample_peak_dbfs[channel],
                if present { peaks.sample_peak_dbfs(channel) } else { None },
            );
            store(&self.rms_dbfs[channel], meters.level.rms_dbfs(channel));
            if present {
                overs += peaks.over_count(channel).unwrap_or(0);
                over_events += peaks.over_event_count(channel).unwrap_or(0);
                if let Some(tp) = true_peak.filter(|tp| loudest.is_none_or(|(max, _)| *tp > max)) {
                    loudest = Some((tp, peaks.true_peak_position_samples(channel)));
                }
            }
        }
        self.over_count.store(overs, Ordering::Relaxed);
        self.over_events.store(over_events, Ordering::Relaxed);
        store(&self.crest_db, meters.level.crest_db());
        store(&self.psr_db, meters.psr_db());
        let rate = loudness.sample_rate_hz();
        store_seconds(&self.max_momentary_position_s, loudness.max_momentary_position_samples(), rate);
        store_seconds(&self.max_short_term_position_s, loudness.max_short_term_position_samples(), rate);
        store_seconds(&self.true_peak_position_s, loudest.and_then(|(_, position)| position), rate);
        store(&self.loud_psr_db, meters.loud_psr_db());
        let inspector = &meters.inspector;
        self.clipped_runs.store(inspector.clipped_runs(), Ordering::Relaxed);
        self.flat_top_runs.store(inspector.flat_top_runs(), Ordering::Relaxed);
        let positions = inspector.clip_positions();
        for (index, cell) in self.clip_positions_s.iter().enumerate() {
            store_seconds(cell, positions.get(index).copied(), rate);
        }
        self.measured_s.store(inspector.frames() as f64 / rate, Ordering::Relaxed);
        for (channel, cell) in self.dc_offset_dbfs.iter().enumerate() {
            store(cell, inspector.dc_offset(channel).map(|dc| super::amplitude_to_db(dc.abs())));
        }
    }

    /// Audio measured since reset, s.
    pub fn measured_s(&self) -> f64 {
        self.measured_s.load(Ordering::Relaxed)
    }

    /// Lowest PSR of the loud passages since reset, dB ([`MeterSet::loud_psr_db`]).
    pub fn loud_psr_db(&self) -> Option<f32> {
        load(&self.loud_psr_db)
    }

    /// Clipped runs since reset (≥ 3 samples at −0.1 dBFS or above), all channels.
    pub fn clipped_runs(&self) -> u64 {
        self.clipped_runs.load(Ordering::Relaxed)
    }

    /// Flat-top runs since reset (≥ 3 identical samples at −20 dBFS or above), all channels.
    pub fn flat_top_runs(&self) -> u64 {
        self.flat_top_runs.load(Ordering::Relaxed)
    }

    /// Where the first clipped runs start, seconds since reset (at most
    /// [`MAX_POSITIONS`]), in order.
    pub fn clip_positions_s(&self) -> impl Iterator<Item = f64> + '_ {
        self.clip_positions_s.iter().map_while(load_seconds)
    }

    /// DC offset of `channel` since reset, dBFS (−∞ for none); `None` before audio or for a
    /// missing channel.
    pub fn dc_offset_dbfs(&self, channel: usize) -> Option<f32> {
        self.dc_offset_dbfs.get(channel).and_then(load)
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

    /// Separate overs (runs of sample periods over −1 dBTP) since reset, summed over channels.
    pub fn over_events(&self) -> u64 {
        self.over_events.load(Ordering::Relaxed)
    }

    /// RMS of `channel` over the last 300 ms in dBFS (full-scale sine = −3.01 dBFS); `None`
    /// before 300 ms, −∞ for silence.
    pub fn rms_dbfs(&self, channel: usize) -> Option<f32> {
        self.rms_dbfs.get(channel).and_then(load)
    }

    /// Crest factor since reset (highest sample peak over program RMS) in dB.
    pub fn crest_db(&self) -> Option<f32> {
        load(&self.crest_db)
    }

    /// Peak-to-short-term-loudness ratio (true peak of the last 3 s − short-term loudness) in
    /// dB; `None` before 3 s or in silence.
    pub fn psr_db(&self) -> Option<f32> {
        load(&self.psr_db)
    }

    /// Where the maximum momentary loudness occurred, in seconds since reset.
    pub fn max_momentary_position_s(&self) -> Option<f64> {
        load_seconds(&self.max_momentary_position_s)
    }

    /// Where the maximum short-term loudness occurred, in seconds since reset.
    pub fn max_short_term_position_s(&self) -> Option<f64> {
        load_seconds(&self.max_short_term_position_s)
    }

    /// Where the highest true peak of any channel occurred, in seconds since reset.
    pub fn true_peak_position_s(&self) -> Option<f64> {
        load_seconds(&self.true_peak_position_s)
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
        // A sine: PSR ≈ 0 dB here (TP −20, S −20), crest 3.01 dB, RMS −23.01 dBFS.
        assert!(view.psr_db().unwrap().abs() < 0.2, "{:?}", view.psr_db());
        assert!((view.crest_db().unwrap() - 3.0103).abs() < 0.01);
        assert!((view.rms_dbfs(1).unwrap() + 23.0103).abs() < 0.01);
        assert_eq!(view.over_events(), 0);
        let s_position = view.max_short_term_position_s().unwrap();
        assert!((3.0..=4.0).contains(&s_position), "{s_position}");
        assert!(view.true_peak_position_s().unwrap() <= 4.0);
    }
}
