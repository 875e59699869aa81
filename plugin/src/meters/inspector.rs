//! The signal inspector: what the delivery checks need beyond loudness and peaks, counted
//! sample by sample in fixed memory (audio thread and offline alike).
//!
//! * **Clipping**: a run of at least [`CLIP_RUN_SAMPLES`] consecutive samples of one channel on
//!   one rail — at or above [`CLIP_LEVEL`] (−0.1 dBFS) and either flat (within
//!   [`CLIP_FLAT_TOLERANCE`], a 16-bit step, of the previous sample) or beyond full scale (a float
//!   signal over 0 dBFS clips in any fixed-point file) — counts as one clipped run. Three samples
//!   at the rail is the usual flag for clipped PCM; a single full-scale sample, or the rounded top
//!   of a loud sine, is a legitimate peak. The first [`MAX_POSITIONS`] runs keep their position.
//! * **Flat tops**: a run of at least [`FLAT_RUN_SAMPLES`] bit-identical non-zero samples at or
//!   above [`FLAT_TOP_LEVEL`] (−20 dBFS) at any level: the trace of a clipper or of a clipped
//!   signal turned down afterwards. Real acoustic signals almost never repeat a sample value
//!   three times at that level.
//! * **DC offset**: the mean of each channel since reset.
//! * **Silence at the head and the tail**: where the first and the last sample above
//!   [`SOUND_LEVEL`] (−60 dBFS) lie. A fade ending below −60 dBFS counts as silence.
//! * **Abrupt end**: the mean square of the last ~10 ms (one-pole, τ = [`END_WINDOW_MS`]).
//!
//! Positions are frame indices since reset; the caller turns them into seconds. Non-finite samples
//! are ignored (the chain's sanitiser already replaced them upstream).

/// Level at or above which a sample counts toward a clipped run: −0.1 dBFS.
pub const CLIP_LEVEL: f32 = 0.988_553_1;

/// Largest step between two samples of a flat clipped run (one 16-bit step).
pub const CLIP_FLAT_TOLERANCE: f32 = 1.0 / 32_768.0;

/// Consecutive samples at [`CLIP_LEVEL`] that make a clipped run.
pub const CLIP_RUN_SAMPLES: u32 = 3;

/// Lowest level of a flat top, linear (−20 dBFS).
pub const FLAT_TOP_LEVEL: f32 = 0.1;

/// Consecutive identical samples that make a flat top.
pub const FLAT_RUN_SAMPLES: u32 = 3;

/// A sample above this (linear, −60 dBFS) is sound; the rest is silence.
pub const SOUND_LEVEL: f32 = 0.001;

/// Time constant of the end-level tracker, ms.
pub const END_WINDOW_MS: f64 = 10.0;

/// Clipped-run positions kept.
pub const MAX_POSITIONS: usize = 8;

/// Channels inspected (extra channels are ignored).
pub const INSPECTOR_CHANNELS: usize = 2;

/// Per-channel running state.
#[derive(Debug, Clone, Copy, Default)]
struct ChannelState {
    /// Consecutive samples at the clip level so far.
    clip_run: u32,
    /// The previous sample's value.
    previous: f32,
    /// Consecutive identical samples (including the first) so far.
    flat_run: u32,
    /// Sum of the samples since reset.
    sum: f64,
}

/// Counts clipped runs, flat tops, DC, and head/tail silence. See the module documentation.
#[derive(Debug, Clone)]
pub struct SignalInspector {
    /// Channels inspected (1 or 2).
    channels: usize,
    /// Per-channel state.
    state: [ChannelState; INSPECTOR_CHANNELS],
    /// Frames seen since reset.
    frames: u64,
    /// Clipped runs since reset, all channels.
    clipped_runs: u64,
    /// Flat-top runs since reset, all channels.
    flat_top_runs: u64,
    /// Start frames of the first clipped runs.
    clip_positions: [u64; MAX_POSITIONS],
    /// Valid entries of `clip_positions`.
    clip_positions_len: usize,
    /// First frame with sound.
    first_sound: Option<u64>,
    /// Last frame with sound.
    last_sound: Option<u64>,
    /// Mean square of the last ~10 ms (both channels summed).
    end_power: f64,
    /// One-pole coefficient of `end_power`.
    end_coefficient: f64,
}

impl SignalInspector {
    /// An inspector for `channels` channels (clamped to 1…2) at `sample_rate_hz`.
    pub fn new(sample_rate_hz: f64, channels: usize) -> Self {
        let rate = super::clamp_sample_rate_hz(sample_rate_hz);
        Self {
            channels: channels.clamp(1, INSPECTOR_CHANNELS),
            state: [ChannelState::default(); INSPECTOR_CHANNELS],
            frames: 0,
            clipped_runs: 0,
            flat_top_runs: 0,
            clip_positions: [0; MAX_POSITIONS],
            clip_positions_len: 0,
            first_sound: None,
            last_sound: None,
            end_power: 0.0,
            end_coefficient: 1.0 - (-1.0 / (END_WINDOW_MS * 1e-3 * rate)).exp(),
        }
    }

    /// Clears everything (no allocation).
    pub fn reset(&mut self) {
        *self = Self { end_coefficient: self.end_coefficient, ..Self::new(48_000.0, self.channels) };
    }

    /// Consumes one block (one slice per channel; the shortest sets the length). Never allocates.
    pub fn process(&mut self, channels: &[&[f32]]) {
        let used = channels.len().min(self.channels);
        let frames = channels.iter().take(used).map(|c| c.len()).min().unwrap_or(0);
        for frame in 0..frames {
            let position = self.frames + frame as u64;
            let mut power = 0.0;
            let mut sound = false;
            for (channel, samples) in channels.iter().take(used).enumerate() {
                let x = samples[frame];
                if !x.is_finite() {
                    continue;
                }
                let magnitude = x.abs();
                sound |= magnitude > SOUND_LEVEL;
                power += f64::from(x) * f64::from(x);
                let state = &mut self.state[channel];
                state.sum += f64::from(x);
                if magnitude >= CLIP_LEVEL {
                    // A run stays on one rail, flat or beyond full scale; anything else starts anew.
                    let continues = state.clip_run > 0
                        && x.is_sign_negative() == state.previous.is_sign_negative()
                        && (magnitude > 1.0 || (x - state.previous).abs() <= CLIP_FLAT_TOLERANCE);
                    state.clip_run = if continues { state.clip_run + 1 } else { 1 };
                    if state.clip_run == CLIP_RUN_SAMPLES {
                        let start = position + 1 - u64::from(CLIP_RUN_SAMPLES);
                        if self.clip_positions_len < MAX_POSITIONS
                            && !self.clip_positions[..self.clip_positions_len].contains(&start)
                        {
                            self.clip_positions[self.clip_positions_len] = start;
                            self.clip_positions_len += 1;
                        }
                        self.clipped_runs += 1;
                    }
                } else {
                    state.clip_run = 0;
                }
                if x == state.previous && magnitude >= FLAT_TOP_LEVEL {
                    state.flat_run += 1;
                    if state.flat_run == FLAT_RUN_SAMPLES {
                        self.flat_top_runs += 1;
                    }
                } else {
                    state.flat_run = 1;
                }
                state.previous = x;
            }
            if sound {
                self.first_sound.get_or_insert(position);
                self.last_sound = Some(position);
            }
            self.end_power += self.end_coefficient * (power - self.end_power);
        }
        self.frames += frames as u64;
        if self.end_power < 1e-30 {
            self.end_power = 0.0;
        }
    }

    /// Frames seen since reset.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Clipped runs since reset (all channels).
    pub fn clipped_runs(&self) -> u64 {
        self.clipped_runs
    }

    /// Start frames of the first [`MAX_POSITIONS`] clipped runs, in order.
    pub fn clip_positions(&self) -> &[u64] {
        &self.clip_positions[..self.clip_positions_len]
    }

    /// Flat-top runs since reset (all channels).
    pub fn flat_top_runs(&self) -> u64 {
        self.flat_top_runs
    }

    /// DC offset of `channel` (mean since reset), linear; `None` before any audio or for a
    /// channel not inspected.
    pub fn dc_offset(&self, channel: usize) -> Option<f64> {
        (channel < self.channels && self.frames > 0).then(|| self.state[channel].sum / self.frames as f64)
    }

    /// Frames of silence before the first sound (all frames so far if there was none yet).
    pub fn leading_silence_frames(&self) -> u64 {
        self.first_sound.unwrap_or(self.frames)
    }

    /// Frames of silence after the last sound (all frames so far if there was none).
    pub fn trailing_silence_frames(&self) -> u64 {
        self.last_sound.map_or(self.frames, |last| self.frames - last - 1)
    }

    /// Whether any sound was seen.
    pub fn has_sound(&self) -> bool {
        self.first_sound.is_some()
    }

    /// Level of the last ~10 ms (channel powers summed), dBFS re a full-scale square; −∞ for
    /// silence.
    pub fn end_level_dbfs(&self) -> f64 {
        super::amplitude_to_db(self.end_power.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect(channels: &[Vec<f32>], block: usize) -> SignalInspector {
        let mut inspector = SignalInspector::new(48_000.0, channels.len());
        let frames = channels[0].len();
        let mut start = 0;
        while start < frames {
            let end = (start + block).min(frames);
            let slices: Vec<&[f32]> = channels.iter().map(|c| &c[start..end]).collect();
            inspector.process(&slices);
            start = end;
        }
        inspector
    }

    fn sine(frames: usize, amplitude: f32, rate: f64) -> Vec<f32> {
        (0..frames)
            .map(|i| amplitude * (2.0 * std::f64::consts::PI * 997.0 * i as f64 / rate).sin() as f32)
            .collect()
    }

    #[test]
    fn a_clipped_square_counts_runs_with_positions_and_a_clean_sine_none() {
        // 100 Hz square at full scale, 48 kHz: 240 samples per half period, all at the rail.
        let square: Vec<f32> = (0..48_000).map(|i| if (i / 240) % 2 == 0 { 1.0 } else { -1.0 }).collect();
        for block in [1, 17, 512, 48_000] {
            let inspector = inspect(&[square.clone(), square.clone()], block);
            // 200 half periods per channel, each one run.
            assert_eq!(inspector.clipped_runs(), 400, "block {block}");
            assert_eq!(inspector.clip_positions(), &[0, 240, 480, 720, 960, 1200, 1440, 1680]);
            assert_eq!(inspector.flat_top_runs(), 400);
        }
        let clean = inspect(&[sine(48_000, 0.999, 48_000.0)], 512);
        assert_eq!((clean.clipped_runs(), clean.flat_top_runs()), (0, 0));
        // A float signal over full scale clips even where it is not flat.
        let over = inspect(&[sine(4_800, 1.5, 48_000.0)], 100);
        assert!(over.clipped_runs() >= 9, "{}", over.clipped_runs());
        // Two samples at the rail are a peak, not a clip.
        let two = inspect(&[vec![0.0, 1.0, 1.0, 0.5, -1.0, -1.0, 0.0]], 3);
        assert_eq!(two.clipped_runs(), 0);
    }

    #[test]
    fn a_clipped_signal_turned_down_still_shows_flat_tops() {
        let clipped: Vec<f32> =
            sine(48_000, 2.0, 48_000.0).iter().map(|x| x.clamp(-1.0, 1.0) * 0.5).collect();
        let inspector = inspect(&[clipped], 64);
        assert_eq!(inspector.clipped_runs(), 0);
        // 997 Hz for one second: two flat tops per period.
        assert!((1_990..=1_996).contains(&inspector.flat_top_runs()), "{}", inspector.flat_top_runs());
        // Quiet repeated values (dither-free fades, digital silence) are not flat tops.
        assert_eq!(inspect(&[vec![0.01; 1_000]], 64).flat_top_runs(), 0);
    }

    #[test]
    fn dc_silence_and_end_level() {
        let rate = 48_000.0;
        let mut signal = vec![0.0f32; 24_000];
        signal.extend(sine(48_000, 0.5, rate).iter().map(|x| x + 0.01));
        signal.extend(vec![0.0f32; 24_000]);
        let inspector = inspect(&[signal.clone()], 333);
        assert_eq!(inspector.leading_silence_frames(), 24_000);
        // The first sine sample is 0.0 + 0.01 (above −60 dBFS): sound starts at once.
        assert_eq!(inspector.trailing_silence_frames(), 24_000);
        let dc = inspector.dc_offset(0).unwrap();
        let expected = 0.01 * 48_000.0 / signal.len() as f64;
        assert!((dc - expected).abs() < 2e-4, "{dc} vs {expected}");
        assert!(inspector.end_level_dbfs() < -100.0, "{}", inspector.end_level_dbfs());
        // Cut in the middle of the sine: the end is loud (−6 dBFS sine ≈ −9 dB mean square).
        let abrupt = inspect(&[signal[..60_000].to_vec()], 333);
        assert!((abrupt.end_level_dbfs() + 9.0).abs() < 1.5, "{}", abrupt.end_level_dbfs());
        let silent = inspect(&[vec![0.0; 1_000], vec![0.0; 1_000]], 100);
        assert!(!silent.has_sound());
        assert_eq!((silent.leading_silence_frames(), silent.trailing_silence_frames()), (1_000, 1_000));
        silent.clone().reset();
        assert_eq!(SignalInspector::new(48_000.0, 2).dc_offset(0), None);
    }

    #[test]
    fn reset_clears_and_non_finite_samples_are_ignored() {
        let mut inspector = inspect(&[vec![1.0; 10]], 10);
        assert_eq!(inspector.clipped_runs(), 1);
        inspector.reset();
        assert_eq!(
            (inspector.clipped_runs(), inspector.frames(), inspector.clip_positions().len()),
            (0, 0, 0)
        );
        inspector.process(&[&[f32::NAN, f32::INFINITY, 0.5, 0.5, 0.5]]);
        assert_eq!(inspector.flat_top_runs(), 1);
        assert!(inspector.dc_offset(0).unwrap().is_finite());
    }
}
