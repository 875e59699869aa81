//! Listening-fatigue care: how long the engineer has been listening and how much sound energy
//! reached the speakers, counted on the audio thread (so it also runs while the editor is closed)
//! and read by the editor, which suggests breaks and, once the monitors are calibrated,
//! estimates the noise dose.
//!
//! **What is counted.** The monitor output (what is heard, after level match, platform preview
//! and dim), never an offline render. A block whose mean square is above
//! [`SOUND_THRESHOLD_DBFS`] counts as listening time. Its energy (mean square × seconds) is
//! summed unweighted, with the level `L = 10·log10(mean square)` (a full-scale sine reads
//! −3.01 dB, the K-system's "dBFS RMS" of pink noise).
//!
//! **Breaks.** Continuous listening restarts after [`BREAK_AFTER_QUIET_S`] (5 min) without sound,
//! or when the engineer says a break was taken. No standard sets break intervals; mastering and
//! studio advice ranges over 5–10 min every 30–60 min (ProSoundWeb/Omega Studios 2018,
//! productlondon.com): the editor's default reminder comes after 45 min.
//!
//! **Dose** ([`dose_percent`]). NIOSH REL: 85 dB(A) for 8 h with a 3 dB exchange rate, i.e. the
//! dose is proportional to energy: `D = 100 % · Σ Δt · 10^((L + O − 85)/10) / 8 h`, where `O` is the
//! calibration offset (SPL = level + O). Calibration follows the K-system: pink noise at
//! −20 dBFS RMS in one speaker reads `S` dB SPL (C, slow) at the listening position, so
//! `O = S + 20` (Katz 2000: K-20 is 83 dB SPL). The level is unweighted, not A-weighted: for music
//! with strong bass the estimate errs on the safe side (A-weighting would read lower). Without a
//! calibration no SPL or dose is shown: the plugin cannot know the monitor gain. Headphones need
//! their own calibration.

use std::sync::atomic::{AtomicBool, Ordering};

use atomic_float::AtomicF64;

/// A block above this level (mean square, dBFS) is listening time.
pub const SOUND_THRESHOLD_DBFS: f64 = -60.0;

/// Quiet time that counts as a break, s.
pub const BREAK_AFTER_QUIET_S: f64 = 300.0;

/// NIOSH recommended exposure limit, dB(A) over 8 hours.
pub const NIOSH_LIMIT_DBA: f64 = 85.0;

/// NIOSH reference duration, s (8 h).
pub const NIOSH_DURATION_S: f64 = 8.0 * 3600.0;

/// Level of the K-system calibration noise, dBFS RMS.
pub const CALIBRATION_NOISE_DBFS: f64 = -20.0;

/// The listening clock: one writer (the audio thread), any number of readers.
#[derive(Debug, Default)]
pub struct ListeningClock {
    /// Listening time since the plugin instance was created, s.
    total_s: AtomicF64,
    /// Listening time since the last break, s.
    continuous_s: AtomicF64,
    /// Time without sound since the last sound, s.
    quiet_s: AtomicF64,
    /// Sound energy since the instance was created, mean square × s.
    energy: AtomicF64,
    /// Set by the editor: a break was taken (the writer clears `continuous_s`).
    break_taken: AtomicBool,
}

impl ListeningClock {
    /// Counts one block of heard audio of `seconds` with mean square `mean_square` (audio
    /// thread; a few relaxed loads and stores).
    pub fn record(&self, mean_square: f64, seconds: f64) {
        if seconds.is_nan() || seconds <= 0.0 || !mean_square.is_finite() {
            return;
        }
        let load = |cell: &AtomicF64| cell.load(Ordering::Relaxed);
        let mut continuous = load(&self.continuous_s);
        if self.break_taken.swap(false, Ordering::Relaxed) {
            continuous = 0.0;
        }
        let sound = mean_square > 10f64.powf(SOUND_THRESHOLD_DBFS / 10.0);
        if sound {
            self.total_s.store(load(&self.total_s) + seconds, Ordering::Relaxed);
            self.energy.store(load(&self.energy) + mean_square * seconds, Ordering::Relaxed);
            self.quiet_s.store(0.0, Ordering::Relaxed);
            continuous += seconds;
        } else {
            let quiet = load(&self.quiet_s) + seconds;
            self.quiet_s.store(quiet, Ordering::Relaxed);
            if quiet >= BREAK_AFTER_QUIET_S {
                continuous = 0.0;
            }
        }
        self.continuous_s.store(continuous, Ordering::Relaxed);
    }

    /// Tells the writer a break was taken (editor).
    pub fn take_break(&self) {
        self.break_taken.store(true, Ordering::Relaxed);
    }

    /// Listening time since the instance was created, s.
    pub fn total_s(&self) -> f64 {
        self.total_s.load(Ordering::Relaxed)
    }

    /// Listening time since the last break, s (0 right after a break is taken, before the
    /// audio thread runs again).
    pub fn continuous_s(&self) -> f64 {
        if self.break_taken.load(Ordering::Relaxed) {
            0.0
        } else {
            self.continuous_s.load(Ordering::Relaxed)
        }
    }

    /// Time since the last sound, s.
    pub fn quiet_s(&self) -> f64 {
        self.quiet_s.load(Ordering::Relaxed)
    }

    /// Equivalent continuous level of the listening time, dBFS (`None` before any).
    pub fn equivalent_level_dbfs(&self) -> Option<f64> {
        let total = self.total_s();
        (total > 0.0).then(|| 10.0 * (self.energy.load(Ordering::Relaxed) / total).log10())
    }

    /// Sound energy since the instance was created, mean square × s.
    pub fn energy(&self) -> f64 {
        self.energy.load(Ordering::Relaxed)
    }
}

/// The calibration offset `O` (SPL = level + O) from the SPL reading of −20 dBFS RMS pink noise.
pub fn calibration_offset_db(noise_spl_db: f64) -> f64 {
    noise_spl_db - CALIBRATION_NOISE_DBFS
}

/// NIOSH daily dose of `energy` (mean square × s) with calibration offset `offset_db`, percent.
pub fn dose_percent(energy: f64, offset_db: f64) -> f64 {
    100.0 * energy * 10f64.powf((offset_db - NIOSH_LIMIT_DBA) / 10.0) / NIOSH_DURATION_S
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_time_breaks_and_energy() {
        let clock = ListeningClock::default();
        // 10 minutes of a −20 dBFS (mean square 0.01) signal in 100 ms blocks.
        for _ in 0..6_000 {
            clock.record(0.01, 0.1);
        }
        assert!((clock.total_s() - 600.0).abs() < 1e-6 && (clock.continuous_s() - 600.0).abs() < 1e-6);
        assert!((clock.equivalent_level_dbfs().unwrap() + 20.0).abs() < 1e-9);
        // Four minutes of silence are not a break…
        for _ in 0..2_400 {
            clock.record(0.0, 0.1);
        }
        assert!((clock.continuous_s() - 600.0).abs() < 1e-6);
        // …five are.
        for _ in 0..610 {
            clock.record(1e-9, 0.1);
        }
        assert_eq!(clock.continuous_s(), 0.0);
        assert!((clock.total_s() - 600.0).abs() < 1e-6, "quiet time is not listening time");
        clock.record(0.01, 60.0);
        assert!((clock.continuous_s() - 60.0).abs() < 1e-9);
        clock.take_break();
        assert_eq!(clock.continuous_s(), 0.0);
        clock.record(0.01, 1.0);
        assert!((clock.continuous_s() - 1.0).abs() < 1e-9);
        // Nonsense is ignored.
        clock.record(f64::NAN, 1.0);
        clock.record(0.01, -1.0);
        assert!((clock.total_s() - 661.0).abs() < 1e-6);
    }

    #[test]
    fn dose_follows_niosh() {
        // K-20 room: −20 dBFS pink reads 83 dB SPL, so O = 103. A −18 dBFS programme plays at
        // 85 dB SPL: 8 hours is 100 %, 4 hours at 88 dB SPL also 100 % (3 dB exchange rate).
        let offset = calibration_offset_db(83.0);
        assert_eq!(offset, 103.0);
        let eight_hours_at_85 = 10f64.powf(-18.0 / 10.0) * NIOSH_DURATION_S;
        assert!((dose_percent(eight_hours_at_85, offset) - 100.0).abs() < 1e-9);
        let four_hours_at_88 = 10f64.powf(-15.0 / 10.0) * NIOSH_DURATION_S / 2.0;
        // (10^0.3 = 1.995, not exactly 2: the energy rule and NIOSH's halving differ by 0.2 %.)
        assert!((dose_percent(four_hours_at_88, offset) - 100.0).abs() < 0.3);
        assert!((dose_percent(eight_hours_at_85, offset - 10.0) - 10.0).abs() < 1e-9);
    }
}
