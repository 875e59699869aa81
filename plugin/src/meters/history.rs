//! Loudness history for the editor's graph and histogram: momentary and short-term loudness at
//! 10 Hz in a fixed ring holding the last hour, and a histogram of the short-term values. Written
//! by the audio thread (a few relaxed stores per 100 ms, never an allocation), read by the GUI
//! without locks.
//!
//! A reader racing the writer may see the newest entry before its count is published or an entry
//! overwritten while it copies (each value is one atomic, so never a torn value): the graph is
//! at most one point early, never wrong.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use atomic_float::AtomicF32;

/// Entries per second (one per 100 ms hop of the loudness meter).
pub const HISTORY_RATE_HZ: f64 = 10.0;

/// Entries kept: one hour at 10 Hz.
pub const HISTORY_CAPACITY: usize = 36_000;

/// Lowest short-term loudness counted by the histogram (the absolute gate), LUFS.
pub const HISTOGRAM_MIN_LUFS: f32 = -70.0;

/// Width of one histogram bin, LU.
pub const HISTOGRAM_BIN_LU: f32 = 0.5;

/// Number of histogram bins: −70 … +5 LUFS (louder values land in the top bin).
pub const HISTOGRAM_BINS: usize = 150;

/// One history entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryPoint {
    /// Momentary loudness in LUFS (`None` before 400 ms, −∞ for silence).
    pub momentary_lufs: Option<f32>,
    /// Short-term loudness in LUFS (`None` before 3 s, −∞ for silence).
    pub short_term_lufs: Option<f32>,
}

/// The shared history of one meter point.
#[derive(Debug)]
pub struct LoudnessHistory {
    /// Momentary loudness ring (NaN = no value).
    momentary_lufs: Box<[AtomicF32]>,
    /// Short-term loudness ring (NaN = no value).
    short_term_lufs: Box<[AtomicF32]>,
    /// Entries written since the last clear; the next one goes to `written % HISTORY_CAPACITY`.
    written: AtomicU64,
    /// Short-term values per bin since the last clear.
    histogram: Box<[AtomicU32]>,
}

impl Default for LoudnessHistory {
    fn default() -> Self {
        Self::new()
    }
}

impl LoudnessHistory {
    /// Allocates the ring and the histogram (about 300 KB).
    pub fn new() -> Self {
        let ring = || (0..HISTORY_CAPACITY).map(|_| AtomicF32::new(f32::NAN)).collect();
        Self {
            momentary_lufs: ring(),
            short_term_lufs: ring(),
            written: AtomicU64::new(0),
            histogram: (0..HISTOGRAM_BINS).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Appends one 100 ms entry (audio thread).
    pub fn push(&self, momentary_lufs: Option<f64>, short_term_lufs: Option<f64>) {
        let written = self.written.load(Ordering::Relaxed);
        let index = (written % HISTORY_CAPACITY as u64) as usize;
        let encode = |value: Option<f64>| value.map_or(f32::NAN, |v| v as f32);
        self.momentary_lufs[index].store(encode(momentary_lufs), Ordering::Relaxed);
        self.short_term_lufs[index].store(encode(short_term_lufs), Ordering::Relaxed);
        if let Some(bin) = short_term_lufs.and_then(histogram_bin) {
            self.histogram[bin].fetch_add(1, Ordering::Relaxed);
        }
        self.written.store(written + 1, Ordering::Release);
    }

    /// Forgets everything (audio thread, on a meter reset). Never allocates.
    pub fn clear(&self) {
        self.written.store(0, Ordering::Release);
        self.histogram.iter().for_each(|bin| bin.store(0, Ordering::Relaxed));
    }

    /// Entries available (at most [`HISTORY_CAPACITY`]).
    pub fn len(&self) -> usize {
        (self.written.load(Ordering::Acquire) as usize).min(HISTORY_CAPACITY)
    }

    /// True when nothing has been recorded since the last clear.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries written since the last clear, including those the ring has overwritten.
    pub fn total_written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Copies the newest `count` entries (or fewer), oldest first, into `out` (GUI thread;
    /// reuses `out`'s allocation).
    pub fn recent(&self, count: usize, out: &mut Vec<HistoryPoint>) {
        out.clear();
        let written = self.written.load(Ordering::Acquire);
        let available = (written as usize).min(HISTORY_CAPACITY).min(count);
        let decode = |cell: &AtomicF32| {
            let value = cell.load(Ordering::Relaxed);
            (!value.is_nan()).then_some(value)
        };
        for age in (0..available).rev() {
            let index = ((written - 1 - age as u64) % HISTORY_CAPACITY as u64) as usize;
            out.push(HistoryPoint {
                momentary_lufs: decode(&self.momentary_lufs[index]),
                short_term_lufs: decode(&self.short_term_lufs[index]),
            });
        }
    }

    /// The histogram of short-term values since the last clear: counts per
    /// [`HISTOGRAM_BIN_LU`] bin from [`HISTOGRAM_MIN_LUFS`].
    pub fn histogram(&self) -> [u32; HISTOGRAM_BINS] {
        std::array::from_fn(|bin| self.histogram[bin].load(Ordering::Relaxed))
    }
}

/// Histogram bin of a short-term value; `None` below the absolute gate or for −∞.
fn histogram_bin(short_term_lufs: f64) -> Option<usize> {
    let offset = (short_term_lufs as f32 - HISTOGRAM_MIN_LUFS) / HISTOGRAM_BIN_LU;
    (offset >= 0.0).then(|| (offset as usize).min(HISTOGRAM_BINS - 1))
}

/// Lower edge of a histogram bin, LUFS.
pub fn histogram_bin_lufs(bin: usize) -> f32 {
    HISTOGRAM_MIN_LUFS + bin as f32 * HISTOGRAM_BIN_LU
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_hour_in_order_and_counts_the_histogram() {
        let history = LoudnessHistory::new();
        let mut out = Vec::new();
        history.recent(10, &mut out);
        assert!(out.is_empty());
        // 1 h 10 min of entries: the first 10 minutes fall out of the ring.
        let total = HISTORY_CAPACITY + 6_000;
        for n in 0..total {
            let short_term = if n < 30 { None } else { Some(-40.0 + (n % 100) as f64 * 0.1) };
            history.push(Some(-(n as f64) * 1e-3), short_term);
        }
        assert_eq!(history.len(), HISTORY_CAPACITY);
        assert_eq!(history.total_written(), total as u64);
        history.recent(5, &mut out);
        let expected: Vec<f32> = (total - 5..total).map(|n| (-(n as f64) * 1e-3) as f32).collect();
        let got: Vec<f32> = out.iter().map(|p| p.momentary_lufs.unwrap()).collect();
        assert_eq!(got, expected);
        history.recent(usize::MAX, &mut out);
        assert_eq!(out.len(), HISTORY_CAPACITY);
        assert_eq!(out[0].momentary_lufs, Some((-((total - HISTORY_CAPACITY) as f64) * 1e-3) as f32));

        // −40.0 … −30.1 LUFS in 0.1 LU steps: 5 values per 0.5 LU bin, spread over bins 60 … 79.
        let histogram = history.histogram();
        let counted: u32 = histogram.iter().sum();
        assert_eq!(counted as usize, total - 30);
        assert!(histogram[..60].iter().all(|&c| c == 0) && histogram[80..].iter().all(|&c| c == 0));
        assert_eq!(histogram_bin_lufs(60), -40.0);

        history.clear();
        assert!(history.is_empty());
        assert_eq!(history.histogram().iter().sum::<u32>(), 0);
    }

    #[test]
    fn gate_and_extremes() {
        assert_eq!(histogram_bin(f64::NEG_INFINITY), None);
        assert_eq!(histogram_bin(-70.5), None);
        assert_eq!(histogram_bin(-70.0), Some(0));
        assert_eq!(histogram_bin(12.0), Some(HISTOGRAM_BINS - 1));
    }
}
