//! Metering core of Parity: ITU-R BS.1770-5 / EBU R 128 loudness (momentary, short-term,
//! integrated, loudness range) and true-peak / sample-peak metering.
//!
//! Everything here is plain Rust with no plugin-framework types. Each meter follows the same
//! contract:
//!
//! * `new(sample_rate_hz, channels)` may allocate; every buffer size is derived from the rate.
//!   Rates are clamped to [`MIN_SAMPLE_RATE_HZ`, `MAX_SAMPLE_RATE_HZ`] (a non-finite rate falls
//!   back to 48 kHz), so construction never panics.
//! * `reset()` clears all state without allocating.
//! * `process(&mut self, channels: &[&[f32]])` consumes a block of any length without
//!   allocating, locking or panicking, and its readings do not depend on how the audio is split
//!   into blocks.
//!
//! Modules:
//! * [`k_weighting`]: the BS.1770 K-weighting pre-filter (shelf + RLB high-pass) for any rate.
//! * [`loudness`]: momentary / short-term / integrated loudness and loudness range (EBU Tech
//!   3341 / 3342), in fixed memory for sessions of any length.
//! * [`true_peak`]: polyphase-oversampling true-peak meter (BS.1770-5 Annex 2) plus sample peak.
//! * [`level`]: RMS (300 ms and since reset) and crest factor.
//! * [`fenwick`]: the prefix-sum trees that keep integrated loudness and LRA updates O(log n).
//! * [`history`], [`spectrum`], [`stereo`], [`view`]: the editor's graph, analyser, stereo
//!   meters and the lock-free hand-off of every reading.

pub mod fenwick;
pub mod history;
pub mod inspector;
pub mod k_weighting;
pub mod level;
pub mod loudness;
pub mod spectrum;
pub mod stereo;
pub mod true_peak;
pub mod view;

pub use history::LoudnessHistory;
pub use inspector::SignalInspector;
pub use k_weighting::{BiquadCoefficients, KWeightingCoefficients, KWeightingFilter};
pub use level::LevelMeter;
pub use loudness::LoudnessMeter;
pub use true_peak::TruePeakMeter;
pub use view::MeterPointView;

/// Lowest supported sample rate in Hz; lower requests are clamped up to it.
pub const MIN_SAMPLE_RATE_HZ: f64 = 8_000.0;

/// Highest supported sample rate in Hz; higher requests are clamped down to it.
pub const MAX_SAMPLE_RATE_HZ: f64 = 768_000.0;

/// Rate used when a non-finite sample rate is requested, in Hz.
pub const FALLBACK_SAMPLE_RATE_HZ: f64 = 48_000.0;

/// Clamps a requested sample rate (Hz) into the supported range; NaN or infinite requests give
/// [`FALLBACK_SAMPLE_RATE_HZ`].
pub fn clamp_sample_rate_hz(sample_rate_hz: f64) -> f64 {
    if sample_rate_hz.is_finite() {
        sample_rate_hz.clamp(MIN_SAMPLE_RATE_HZ, MAX_SAMPLE_RATE_HZ)
    } else {
        FALLBACK_SAMPLE_RATE_HZ
    }
}

/// Converts a linear amplitude to decibels (`20·log10`); zero gives `f64::NEG_INFINITY`.
pub fn amplitude_to_db(amplitude: f64) -> f64 {
    if amplitude > 0.0 {
        20.0 * amplitude.log10()
    } else {
        f64::NEG_INFINITY
    }
}

/// Converts decibels to a linear amplitude (`10^(db/20)`).
pub fn db_to_amplitude(level_db: f64) -> f64 {
    10.0_f64.powf(level_db / 20.0)
}

/// Loudness and true-peak metering of one signal, fed together.
///
/// A convenience wrapper; the two meters can also be used on their own.
#[derive(Debug, Clone)]
pub struct MeterSet {
    /// Momentary / short-term / integrated loudness and loudness range.
    pub loudness: LoudnessMeter,
    /// True-peak and sample-peak levels per channel.
    pub true_peak: TruePeakMeter,
    /// RMS and crest factor per channel.
    pub level: LevelMeter,
    /// Clipped runs, flat tops, DC offset, head/tail silence.
    pub inspector: SignalInspector,
    /// Lowest PSR of the loud passages since reset (see [`MeterSet::loud_psr_db`]).
    loud_psr_db: Option<f64>,
    /// Loudness hops seen by the PSR tracker.
    hops_seen: u64,
    /// Longest piece fed to the meters at once (50 ms), so every 100 ms loudness hop is seen.
    chunk_frames: usize,
}

/// A hop whose short-term loudness is this far below the integrated loudness or more is not a
/// loud passage for [`MeterSet::loud_psr_db`], LU.
pub const LOUD_PASSAGE_BELOW_INTEGRATED_LU: f64 = 20.0;

impl MeterSet {
    /// Creates both meters for `channels` channels at `sample_rate_hz` (clamped, see
    /// [`clamp_sample_rate_hz`]). Allocates.
    pub fn new(sample_rate_hz: f64, channels: usize) -> Self {
        Self {
            loudness: LoudnessMeter::new(sample_rate_hz, channels),
            true_peak: TruePeakMeter::new(sample_rate_hz, channels),
            level: LevelMeter::new(sample_rate_hz, channels),
            inspector: SignalInspector::new(sample_rate_hz, channels),
            loud_psr_db: None,
            hops_seen: 0,
            chunk_frames: ((clamp_sample_rate_hz(sample_rate_hz) / 20.0) as usize).max(1),
        }
    }

    /// Clears both meters without allocating.
    pub fn reset(&mut self) {
        self.loudness.reset();
        self.true_peak.reset();
        self.level.reset();
        self.inspector.reset();
        self.loud_psr_db = None;
        self.hops_seen = 0;
    }

    /// Feeds one block (one slice per channel) to every meter, in pieces of at most 50 ms so the
    /// PSR tracker sees every loudness hop whatever the block size. Never allocates.
    pub fn process(&mut self, channels: &[&[f32]]) {
        const MAX_CHANNELS: usize = 8;
        let frames = channels.iter().map(|c| c.len()).min().unwrap_or(0);
        let count = channels.len().min(MAX_CHANNELS);
        let mut start = 0;
        while start < frames {
            let end = (start + self.chunk_frames).min(frames);
            let mut pieces: [&[f32]; MAX_CHANNELS] = [&[]; MAX_CHANNELS];
            for (piece, channel) in pieces.iter_mut().zip(channels) {
                *piece = &channel[start..end];
            }
            let block = &pieces[..count];
            self.loudness.process(block);
            self.true_peak.process(block);
            self.level.process(block);
            self.inspector.process(block);
            self.track_loud_psr();
            start = end;
        }
    }

    /// Updates [`Self::loud_psr_db`] once per new loudness hop.
    fn track_loud_psr(&mut self) {
        let hops = self.loudness.hops_done();
        if hops == self.hops_seen {
            return;
        }
        self.hops_seen = hops;
        let (Some(psr), Some(short_term), Some(integrated)) =
            (self.psr_db(), self.loudness.short_term_lufs(), self.loudness.integrated_lufs())
        else {
            return;
        };
        if integrated.is_finite() && short_term >= integrated - LOUD_PASSAGE_BELOW_INTEGRATED_LU {
            self.loud_psr_db = Some(self.loud_psr_db.map_or(psr, |lowest| lowest.min(psr)));
        }
    }

    /// The most compressed moment since reset: the lowest PSR among the 100 ms hops whose
    /// short-term loudness is within [`LOUD_PASSAGE_BELOW_INTEGRATED_LU`] of the integrated
    /// loudness at that time (quiet intros and fades, whose PSR says nothing about limiting, are
    /// left out). `None` until the first such hop.
    pub fn loud_psr_db(&self) -> Option<f64> {
        self.loud_psr_db
    }

    /// Peak-to-short-term-loudness ratio in dB: the highest true peak of the last 3 s minus the
    /// short-term loudness (`None` before 3 s or while the short-term loudness is −∞).
    pub fn psr_db(&self) -> Option<f64> {
        let short_term = self.loudness.short_term_lufs().filter(|s| s.is_finite())?;
        let peak = self.true_peak.recent_true_peak_dbtp();
        peak.is_finite().then_some(peak - short_term)
    }
}

/// Helpers shared by the meters' tests: locating the EBU test files, reading WAVs, synthesising
/// tone sequences and a deterministic pseudo-random generator.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::{Path, PathBuf};

    /// Directory holding the EBU / ITU loudness conformance files, if present.
    ///
    /// Order: `$PARITY_EBU_DIR`, then `<manifest>/../../shared/data/ebu-loudness` (the plugin
    /// crate lives in `<repo>/plugin`), then `/work/shared/data/ebu-loudness`.
    pub fn ebu_dir() -> Option<PathBuf> {
        let mut candidates = Vec::new();
        if let Some(dir) = std::env::var_os("PARITY_EBU_DIR") {
            candidates.push(PathBuf::from(dir));
        }
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        candidates.push(manifest.join("../../shared/data/ebu-loudness"));
        candidates.push(PathBuf::from("/work/shared/data/ebu-loudness"));
        candidates.into_iter().find(|dir| dir.join("EXPECTED.md").is_file())
    }

    /// Returns the EBU directory or prints a skip notice naming `test` and returns `None`.
    pub fn ebu_dir_or_skip(test: &str) -> Option<PathBuf> {
        let dir = ebu_dir();
        if dir.is_none() {
            println!(
                "SKIPPED {test}: EBU test folder not found (set PARITY_EBU_DIR or provide \
                 shared/data/ebu-loudness)"
            );
        }
        dir
    }

    /// Reads an integer-PCM or float WAV into planar `f32` channels scaled to ±1.0 full scale.
    pub fn read_wav(path: &Path) -> (f64, Vec<Vec<f32>>) {
        let mut reader =
            hound::WavReader::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        let spec = reader.spec();
        let channels = usize::from(spec.channels);
        let interleaved: Vec<f32> = match spec.sample_format {
            hound::SampleFormat::Float => reader.samples::<f32>().map(|s| s.expect("bad sample")).collect(),
            hound::SampleFormat::Int => {
                let scale = 1.0 / f64::from(1_u32 << (spec.bits_per_sample - 1));
                reader.samples::<i32>().map(|s| (f64::from(s.expect("bad sample")) * scale) as f32).collect()
            }
        };
        let mut planar = vec![Vec::with_capacity(interleaved.len() / channels); channels];
        for frame in interleaved.chunks_exact(channels) {
            for (channel, &sample) in planar.iter_mut().zip(frame) {
                channel.push(sample);
            }
        }
        (f64::from(spec.sample_rate), planar)
    }

    /// One segment of a tone sequence: per-channel level in dBFS (sine peak; `None` = silent
    /// channel) and duration in seconds.
    pub struct ToneSegment<'a> {
        /// Per-channel sine peak level in dBFS, `None` for a silent channel.
        pub levels_dbfs: &'a [Option<f64>],
        /// Duration of the segment in seconds.
        pub duration_s: f64,
    }

    /// Synthesises a phase-continuous sine sequence (as EBU Tech 3341/3342 define their tone
    /// tests) at `frequency_hz`; segment lengths are rounded to whole samples.
    pub fn tone_sequence(
        sample_rate_hz: f64,
        frequency_hz: f64,
        segments: &[ToneSegment<'_>],
    ) -> Vec<Vec<f32>> {
        let channels = segments.first().map_or(0, |s| s.levels_dbfs.len());
        let mut out = vec![Vec::new(); channels];
        let mut n: u64 = 0;
        for segment in segments {
            let len = (segment.duration_s * sample_rate_hz).round() as u64;
            for _ in 0..len {
                let phase = 2.0 * std::f64::consts::PI * frequency_hz * n as f64 / sample_rate_hz;
                let s = phase.sin();
                for (channel, level) in out.iter_mut().zip(segment.levels_dbfs) {
                    let amplitude = level.map_or(0.0, super::db_to_amplitude);
                    channel.push((amplitude * s) as f32);
                }
                n += 1;
            }
        }
        out
    }

    pub use crate::test_rng::Rng;

    /// A "music-like" stereo test signal: decaying harmonic notes with vibrato, band-limited
    /// noise, stereo differences and level changes every few seconds (including quiet and
    /// near-silent passages), `duration_s` long.
    pub fn music_like(sample_rate_hz: f64, duration_s: f64, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = Rng::new(seed);
        let len = (duration_s * sample_rate_hz) as usize;
        let mut left = Vec::with_capacity(len);
        let mut right = Vec::with_capacity(len);
        let two_pi = 2.0 * std::f64::consts::PI;
        let mut section_left = 0usize;
        let mut gain = 0.1;
        let mut target_gain = 0.1;
        let mut note_phase = [0.0_f64; 4];
        let mut note_hz = [110.0, 220.0, 330.0, 440.0];
        let mut note_age = 0usize;
        let note_len = (0.25 * sample_rate_hz) as usize;
        let (mut lp_l, mut lp_r) = (0.0_f64, 0.0_f64);
        let mut vib_phase = 0.0_f64;
        for _ in 0..len {
            if section_left == 0 {
                section_left = (rng.range(1.5, 6.0) * sample_rate_hz) as usize;
                let level_db =
                    if rng.uniform() < 0.1 { rng.range(-90.0, -60.0) } else { rng.range(-35.0, -6.0) };
                target_gain = super::db_to_amplitude(level_db);
            }
            section_left -= 1;
            gain += (target_gain - gain) * (200.0 / sample_rate_hz).min(1.0);
            if note_age == 0 {
                let root = rng.range(60.0, 500.0);
                note_hz = [root, root * 1.5, root * 2.0, root * rng.range(3.0, 7.0)];
            }
            note_age = (note_age + 1) % note_len;
            let envelope = (-(note_age as f64) / (0.12 * sample_rate_hz)).exp();
            vib_phase += two_pi * 5.0 / sample_rate_hz;
            let vibrato = 1.0 + 0.004 * vib_phase.sin();
            let mut tone = 0.0;
            for (k, (phase, hz)) in note_phase.iter_mut().zip(note_hz).enumerate() {
                *phase = (*phase + two_pi * hz * vibrato / sample_rate_hz) % two_pi;
                tone += phase.sin() / (k as f64 + 1.0);
            }
            let noise_l = rng.range(-1.0, 1.0);
            let noise_r = rng.range(-1.0, 1.0);
            lp_l += 0.3 * (noise_l - lp_l);
            lp_r += 0.3 * (noise_r - lp_r);
            let l = gain * (0.6 * envelope * tone + 0.25 * lp_l + 0.05 * noise_l);
            let r = gain * (0.5 * envelope * tone + 0.25 * lp_r + 0.05 * noise_r);
            left.push(l as f32);
            right.push(r as f32);
        }
        vec![left, right]
    }

    /// Feeds `signal` (planar) to `process` in blocks of `block` frames.
    pub fn feed_blocks(signal: &[Vec<f32>], block: usize, mut process: impl FnMut(&[&[f32]])) {
        let len = signal.first().map_or(0, Vec::len);
        let mut start = 0;
        while start < len {
            let end = (start + block.max(1)).min(len);
            let views: Vec<&[f32]> = signal.iter().map(|c| &c[start..end]).collect();
            process(&views);
            start = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{feed_blocks, music_like, Rng};
    use super::*;

    /// Every reading of a [`MeterSet`], as bit patterns so comparisons are exact.
    fn snapshot(m: &MeterSet) -> Vec<u64> {
        let l = &m.loudness;
        let opt = |v: Option<f64>| v.map_or(u64::MAX, f64::to_bits);
        let mut out = vec![
            opt(m.psr_db()),
            opt(m.level.crest_db()),
            m.true_peak.recent_true_peak_dbtp().to_bits(),
            opt(l.momentary_lufs()),
            opt(l.short_term_lufs()),
            opt(l.integrated_lufs()),
            opt(l.loudness_range_lu()),
            opt(l.max_momentary_lufs()),
            opt(l.max_short_term_lufs()),
            l.max_momentary_position_samples().unwrap_or(u64::MAX),
            l.max_short_term_position_samples().unwrap_or(u64::MAX),
            l.samples_processed(),
            l.gating_block_count(),
        ];
        for c in 0..m.true_peak.channels() {
            out.push(opt(m.true_peak.true_peak_dbtp(c)));
            out.push(opt(m.true_peak.sample_peak_dbfs(c)));
            out.push(m.true_peak.true_peak_position_samples(c).unwrap_or(u64::MAX));
            out.push(m.true_peak.sample_peak_position_samples(c).unwrap_or(u64::MAX));
            out.push(m.true_peak.over_count(c).unwrap_or(u64::MAX));
            out.push(m.true_peak.over_event_count(c).unwrap_or(u64::MAX));
            out.push(opt(m.level.rms_dbfs(c)));
            out.push(opt(m.level.program_rms_dbfs(c)));
        }
        out
    }

    #[test]
    fn readings_are_bitwise_independent_of_block_size() {
        for fs in [44_100.0, 48_000.0] {
            let signal = music_like(fs, 40.0, 5);
            let mut reference: Option<Vec<u64>> = None;
            for block in [1_usize, 7, 64, 4096, 0] {
                let mut meters = MeterSet::new(fs, 2);
                meters.true_peak.set_over_threshold_dbtp(-20.0);
                if block == 0 {
                    // Random block sizes 1..=5000.
                    let mut rng = Rng::new(17);
                    let len = signal[0].len();
                    let mut start = 0;
                    while start < len {
                        let end = (start + 1 + (rng.next_u64() % 5000) as usize).min(len);
                        meters.process(&[&signal[0][start..end], &signal[1][start..end]]);
                        start = end;
                    }
                } else {
                    feed_blocks(&signal, block, |b| meters.process(b));
                }
                let snap = snapshot(&meters);
                match &reference {
                    None => reference = Some(snap),
                    Some(r) => assert_eq!(r, &snap, "block size {block} differs at {fs} Hz"),
                }
            }
            let r = reference.unwrap_or_default();
            println!("block-size invariance @ {fs} Hz: {} readings bit-identical for blocks 1, 7, 64, 4096, random", r.len());
        }
    }

    #[test]
    fn reset_restores_the_initial_state() {
        let fs = 48_000.0;
        let signal = music_like(fs, 8.0, 9);
        let mut fresh = MeterSet::new(fs, 2);
        feed_blocks(&signal, 500, |b| fresh.process(b));
        let mut reused = MeterSet::new(fs, 2);
        feed_blocks(&music_like(fs, 5.0, 1), 333, |b| reused.process(b));
        reused.reset();
        feed_blocks(&signal, 500, |b| reused.process(b));
        assert_eq!(snapshot(&fresh), snapshot(&reused));
    }

    /// Cross-check against the `ebur128` crate (a port of libebur128) on a music-like signal.
    #[test]
    fn agrees_with_ebur128() {
        use ebur128::{EbuR128, Mode};
        let fs = 48_000.0;
        let signal = music_like(fs, 150.0, 42);
        let mut ours = MeterSet::new(fs, 2);
        let step = ours.loudness.evaluation_interval_samples();

        // Pass 1: our meter alone, to find where the maxima are.
        feed_blocks(&signal, step, |b| ours.process(b));
        let max_m_pos = ours.loudness.max_momentary_position_samples().unwrap_or(0);
        let max_s_pos = ours.loudness.max_short_term_position_samples().unwrap_or(0);

        // Pass 2: both meters in lock-step, querying ebur128 at the same instants as our
        // evaluations (every `step` samples near our maxima, every 100 ms elsewhere).
        let mode = Mode::I | Mode::M | Mode::S | Mode::LRA | Mode::TRUE_PEAK | Mode::SAMPLE_PEAK;
        let Ok(mut theirs) = EbuR128::new(2, fs as u32, mode) else {
            panic!("ebur128 init failed");
        };
        let mut ours2 = MeterSet::new(fs, 2);
        let near = |pos: u64, centre: u64| pos.abs_diff(centre) <= (fs as u64) / 2;
        let (mut their_max_m, mut their_max_s) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        let (mut worst_m, mut worst_s) = (0.0_f64, 0.0_f64);
        let mut pos = 0_u64;
        let hop = (fs / 10.0) as u64;
        let mut short_term_10hz = Vec::new();
        feed_blocks(&signal, step, |b| {
            ours2.process(b);
            if theirs.add_frames_planar_f32(b).is_err() {
                panic!("ebur128 add_frames failed");
            }
            pos += b[0].len() as u64;
            let on_hop = pos.is_multiple_of(hop);
            if on_hop && pos >= (3.0 * fs) as u64 {
                short_term_10hz.push(ours2.loudness.short_term_lufs().unwrap_or(f64::NAN));
            }
            if (on_hop || near(pos, max_m_pos)) && pos >= (0.4 * fs) as u64 {
                let m = theirs.loudness_momentary().unwrap_or(f64::NAN);
                their_max_m = their_max_m.max(m);
                let mine = ours2.loudness.momentary_lufs().unwrap_or(f64::NAN);
                if m > -70.0 {
                    worst_m = worst_m.max((m - mine).abs());
                }
            }
            if (on_hop || near(pos, max_s_pos)) && pos >= (3.0 * fs) as u64 {
                let s = theirs.loudness_shortterm().unwrap_or(f64::NAN);
                their_max_s = their_max_s.max(s);
                let mine = ours2.loudness.short_term_lufs().unwrap_or(f64::NAN);
                if s > -70.0 {
                    worst_s = worst_s.max((s - mine).abs());
                }
            }
        });
        let their_i = theirs.loudness_global().unwrap_or(f64::NAN);
        let their_lra = theirs.loudness_range().unwrap_or(f64::NAN);
        let our_i = ours.loudness.integrated_lufs().unwrap_or(f64::NAN);
        let our_lra = ours.loudness.loudness_range_lu().unwrap_or(f64::NAN);
        let our_max_m = ours.loudness.max_momentary_lufs().unwrap_or(f64::NAN);
        let our_max_s = ours.loudness.max_short_term_lufs().unwrap_or(f64::NAN);
        println!("ebur128 cross-check ({} s music-like, 48 kHz):", signal[0].len() as f64 / fs);
        println!("  I   ours {our_i:.5}  theirs {their_i:.5}  Δ {:+.5} LU", our_i - their_i);
        println!("  maxM ours {our_max_m:.5} theirs {their_max_m:.5} Δ {:+.5} LU", our_max_m - their_max_m);
        println!("  maxS ours {our_max_s:.5} theirs {their_max_s:.5} Δ {:+.5} LU", our_max_s - their_max_s);
        println!("  pointwise worst |ΔM| {worst_m:.2e}, |ΔS| {worst_s:.2e} LU");
        // Exact (sorted) EBU Tech 3342 LRA of our short-term values at 10 Hz, and at 1 Hz (3 s,
        // 4 s, …), which is how libebur128 samples them.
        let exact_10hz = exact_lra(&short_term_10hz);
        let one_hz: Vec<f64> = short_term_10hz.iter().step_by(10).copied().collect();
        let exact_1hz = exact_lra(&one_hz);
        println!(
            "  LRA ours (histogram, 10 Hz) {our_lra:.4}, exact sort at 10 Hz {exact_10hz:.4} (Δ {:+.4})",
            our_lra - exact_10hz
        );
        println!("  LRA exact sort at 1 Hz {exact_1hz:.4}, ebur128 {their_lra:.4} (Δ {:+.4}); 10 Hz vs 1 Hz sampling differ by {:+.4} LU", exact_1hz - their_lra, exact_10hz - exact_1hz);
        for c in 0..2 {
            let their_tp = amplitude_to_db(theirs.true_peak(c as u32).unwrap_or(f64::NAN));
            let their_sp = amplitude_to_db(theirs.sample_peak(c as u32).unwrap_or(f64::NAN));
            let our_tp = ours.true_peak.true_peak_dbtp(c).unwrap_or(f64::NAN);
            let our_sp = ours.true_peak.sample_peak_dbfs(c).unwrap_or(f64::NAN);
            println!(
                "  ch{c} TP ours {our_tp:.4} theirs {their_tp:.4} Δ {:+.4} dB; SP Δ {:+.2e} dB",
                our_tp - their_tp,
                our_sp - their_sp
            );
            assert!((our_sp - their_sp).abs() < 1e-6);
            assert!((our_tp - their_tp).abs() < 0.3);
        }
        assert!((our_i - their_i).abs() <= 0.02);
        assert!((our_max_m - their_max_m).abs() <= 0.05);
        assert!((our_max_s - their_max_s).abs() <= 0.05);
        assert!(worst_m <= 0.01 && worst_s <= 0.01);
        assert!((our_lra - exact_10hz).abs() <= 0.02);
        assert!((exact_1hz - their_lra).abs() <= 0.02);
    }

    /// EBU Tech 3342 loudness range of `short_term` values by sorting (the textbook method):
    /// gates at −70 LUFS and −20 LU below the power mean, nearest-rank 10th/95th percentiles.
    fn exact_lra(short_term: &[f64]) -> f64 {
        let above_abs: Vec<f64> = short_term.iter().copied().filter(|&l| l > -70.0).collect();
        if above_abs.is_empty() {
            return 0.0;
        }
        let mean =
            above_abs.iter().map(|&l| loudness::lufs_to_energy(l)).sum::<f64>() / above_abs.len() as f64;
        let gate = loudness::energy_to_lufs(mean) - 20.0;
        let mut kept: Vec<f64> = above_abs.into_iter().filter(|&l| l > gate).collect();
        kept.sort_by(f64::total_cmp);
        let rank = |p: f64| ((kept.len() - 1) as f64 * p + 0.5) as usize;
        kept[rank(0.95)] - kept[rank(0.10)]
    }

    /// Cost of loudness + true peak per stereo frame. Run with
    /// `cargo test --release -- --ignored bench_meters --nocapture`.
    #[test]
    #[ignore = "benchmark; run in release"]
    fn bench_meters() {
        for fs in [44_100.0, 48_000.0, 96_000.0, 192_000.0] {
            let signal = music_like(fs, 20.0, 3);
            let frames = signal[0].len();
            let mut meters = MeterSet::new(fs, 2);
            feed_blocks(&signal, 512, |b| meters.process(b)); // warm-up
            let mut best_total = f64::INFINITY;
            let mut best_loudness = f64::INFINITY;
            let mut best_tp = f64::INFINITY;
            for _ in 0..5 {
                meters.reset();
                let t = std::time::Instant::now();
                feed_blocks(&signal, 512, |b| meters.process(b));
                best_total = best_total.min(t.elapsed().as_secs_f64());
                meters.reset();
                let t = std::time::Instant::now();
                feed_blocks(&signal, 512, |b| meters.loudness.process(b));
                best_loudness = best_loudness.min(t.elapsed().as_secs_f64());
                meters.reset();
                let t = std::time::Instant::now();
                feed_blocks(&signal, 512, |b| meters.true_peak.process(b));
                best_tp = best_tp.min(t.elapsed().as_secs_f64());
            }
            let ns = |s: f64| s * 1e9 / frames as f64;
            println!(
                "{fs} Hz ({}x TP): loudness + true peak {:.1} ns/stereo frame (loudness {:.1}, true peak {:.1})",
                meters.true_peak.oversampling_factor(),
                ns(best_total),
                ns(best_loudness),
                ns(best_tp)
            );
            std::hint::black_box(meters.loudness.integrated_lufs());
        }
    }
}
