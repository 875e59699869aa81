//! Sample-rate conversion of whole decoded reference tracks to the session rate (offline, on the
//! reference loader's threads), with rubato 5.
//!
//! Two of rubato's resamplers, chosen by the rate pair ([`ResampleMethod`]):
//! * **Integer pairs** (44.1 → 48 kHz, 96 → 48 kHz, 22.05 → 44.1 kHz, …) whose reduced ratio
//!   `p/q` has `q ≤` [`FFT_MAX_REDUCED_INPUT_FRAMES`]: rubato's synchronous FFT resampler
//!   ([`rubato::Fft`]): overlap-add convolution with a windowed sinc (Blackman-Harris², as long
//!   as one FFT block, at least [`FFT_BLOCK_TARGET_FRAMES`] input frames) and exact spectrum
//!   truncation/extension. It is exact to the ratio and fast (a few ns per sample).
//! * **Everything else** (fractional session rates such as 12 345.678 Hz, or integer pairs with
//!   an awkward ratio such as 44 100 → 44 101 Hz): rubato's asynchronous sinc resampler
//!   ([`rubato::Async::new_sinc`]) with a [`SINC_LEN_TAPS`]-tap Blackman-Harris² windowed sinc,
//!   [`SINC_OVERSAMPLING`] sub-sample phases and linear interpolation between them. It is slower
//!   (tens of ns per sample); the tests print its figures.
//!
//! Both are driven chunk by chunk here (not through rubato's `process_all`), so that:
//! * the output is exactly [`resampled_len`] `= round(len · to / from)` frames, in a `Vec` whose
//!   capacity equals its length (no over-allocation left behind);
//! * the output is **time-aligned** with the input: output frame `k` is the band-limited input at
//!   input time `k · from / to`. The FFT resampler's delay is exactly half an FFT block of output
//!   frames (the blocks are kept even so it is a whole number) and is dropped. The sinc
//!   resampler's delay is generally not a whole number of output frames, so the input gets a
//!   lead-in of silence, and during that silence (one chunk) the resampler runs at a ratio
//!   nudged by about 1e-4 so that its sub-sample phase moves by exactly the fraction needed;
//!   then the ratio is set back and a whole number of output frames is dropped
//!   ([`SincAlignment`]; the tests measure the alignment with a ramp and with sines);
//! * the input is followed by silence while the filter's tail is flushed: no samples are lost at
//!   the end, and the first and last samples see the same filter as the rest (no start or end
//!   glitch beyond the ringing any band-limited conversion of a cut-off signal has).
//!
//! Resampling is linear with unity DC gain: nothing is normalised or clipped, so inter-sample
//! peaks of a loud master can come out above 0 dBFS (as they would in any DAW).
//!
//! # Threads
//! A [`ChannelResampler`] converts one channel; it is `Send`, so a stereo track is converted on
//! two threads with one resampler each (see [`crate::reference::load`]).

use rubato::audioadapter_buffers::direct::SequentialSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Indexing, Resampler, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};

/// Target length of the FFT resampler's blocks, in frames: the input and output blocks are whole,
/// even multiples of the reduced ratio, both at least this long (the anti-aliasing sinc is as
/// long as the input block, and its sharpness relative to the output rate is set by the output
/// block). 2048 taps keep 44.1 → 48 kHz flat within 0.0001 dB to 20 kHz with images and
/// aliases over 130 dB down (the tests' figures).
pub const FFT_BLOCK_TARGET_FRAMES: usize = 2_048;

/// Largest reduced input block (`from / gcd(from, to)`) given to the FFT resampler. Pairs with a
/// larger one (44 100 → 44 101 Hz needs 44 100) go to the sinc resampler instead, whose cost does
/// not depend on the ratio.
pub const FFT_MAX_REDUCED_INPUT_FRAMES: usize = 8_192;

/// Length of the sinc resampler's windowed sinc, in taps of the lower of the two rates: when
/// down-sampling by `1/ratio` the sinc is stretched (`SINC_LEN_TAPS / ratio` input taps) so that
/// its transition band stays as narrow relative to the output rate (rubato's own sinc length
/// counts input taps and would roll off and alias far more).
pub const SINC_LEN_TAPS: usize = 512;

/// Sub-sample phases of the sinc resampler's table (linearly interpolated between), at the lower
/// rate: a stretched sinc is smoother and needs `ratio` times fewer phases (at least
/// [`SINC_MIN_OVERSAMPLING`]).
pub const SINC_OVERSAMPLING: usize = 1_024;

/// Most a down-sampling sinc is stretched: the cost per input frame is about `2 · SINC_LEN_TAPS`
/// multiplies whatever the stretch, but a 1536 kHz file going to an 8 kHz session would need a
/// sinc of 98 304 taps; beyond 16× the sinc is sharp for its length, not for the output rate.
pub const SINC_MAX_STRETCH: f64 = 16.0;

/// Fewest sub-sample phases of a stretched sinc table.
pub const SINC_MIN_OVERSAMPLING: usize = 64;

/// Input frames per call of the sinc resampler (also the length of its alignment chunk).
const SINC_CHUNK_FRAMES: usize = 4_096;

/// How far the sinc resampler's ratio may be nudged for the alignment chunk (relative).
const SINC_MAX_RELATIVE_RATIO: f64 = 1.1;

/// Input frames between two polls of the stop callback (about a second of audio at 48 kHz).
const POLL_INTERVAL_FRAMES: usize = 48_000;

/// Lowest rate accepted on either side, Hz.
pub const MIN_RATE_HZ: f64 = 1_000.0;

/// Highest rate accepted on either side, Hz.
pub const MAX_RATE_HZ: f64 = 1_536_000.0;

/// Why a conversion could not be set up or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResampleError {
    /// A rate is not finite or lies outside [`MIN_RATE_HZ`]..=[`MAX_RATE_HZ`].
    #[error("sample rate out of range ({from_hz} Hz to {to_hz} Hz)")]
    InvalidRate {
        /// The input rate, Hz.
        from_hz: f64,
        /// The output rate, Hz.
        to_hz: f64,
    },
    /// rubato refused the set-up or a call (a bug here: the sizes are computed from its own
    /// figures).
    #[error("resampler failed: {detail}")]
    Rubato {
        /// rubato's message.
        detail: String,
    },
}

/// Which converter a rate pair uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResampleMethod {
    /// Equal rates: the samples are copied.
    Copy,
    /// rubato's synchronous FFT resampler with blocks of `block_in_frames` input and
    /// `block_out_frames` output frames (both even).
    Fft {
        /// Input frames per FFT block (also the sinc's length in taps).
        block_in_frames: usize,
        /// Output frames per FFT block.
        block_out_frames: usize,
    },
    /// rubato's asynchronous windowed-sinc resampler ([`SINC_LEN_TAPS`] taps).
    Sinc,
}

/// Number of output frames for `input_len` frames: `round(input_len · to_hz / from_hz)`.
pub fn resampled_len(input_len: usize, from_hz: f64, to_hz: f64) -> usize {
    if from_hz == to_hz {
        input_len
    } else {
        (input_len as f64 * to_hz / from_hz).round() as usize
    }
}

/// Converts one channel from `from_hz` to `to_hz` (see the module documentation). Equal rates
/// return a copy.
pub fn resample(input: &[f32], from_hz: f64, to_hz: f64) -> Result<Vec<f32>, ResampleError> {
    let mut resampler = ChannelResampler::new(from_hz, to_hz)?;
    resampler.process(input, &|| false).map(|output| output.unwrap_or_default())
}

/// How the sinc resampler's output is lined up with its input.
///
/// rubato's asynchronous sinc resampler (5.0, fixed input) starts at input position
/// `−(taps − 1)` and steps by `1/ratio` before each output frame, and its table row for the
/// position's fraction is the sinc centred `taps/2 − 1 + 1/oversampling` frames after the
/// position (`make_sincs` centres the sinc on table point `taps·oversampling/2`, and row `s`
/// holds points `oversampling − 1 − s` apart). Output frame `j` therefore holds the input at
/// time `(j + 1)/ratio − taps/2 + 1/oversampling` (the tests confirm it with a ramp).
///
/// With `n` zero frames in front of the input, and the first chunk's `m` output frames produced
/// at a ratio whose step is `shift/m` longer, output frame `j` holds input time
/// `(j + 1)/ratio − b + shift − n` with `b = taps/2 − 1/oversampling`, which is `k/ratio` for
/// `k = j − d` exactly when `d = ratio · (b + n − shift) − 1`. So `d` is the whole number
/// `⌊ratio · (b + n) − 1⌋` and `shift = b + n − (d + 1)/ratio`, in `[0, 1/ratio)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SincAlignment {
    /// Zero frames in front of the input (at least one chunk, so the nudged chunk is silent
    /// and all its output frames are dropped).
    pub lead_in_frames: usize,
    /// Output frames dropped from the front.
    pub delay_frames: usize,
    /// Input frames by which the first chunk moves the phase.
    pub shift_frames: f64,
}

impl SincAlignment {
    /// The alignment for `ratio = to / from` with a table of `taps` taps and `oversampling`
    /// phases.
    fn new(ratio: f64, taps: usize, oversampling: usize) -> Self {
        // One chunk, plus enough that even at tiny ratios the chunk's outputs are all dropped.
        let lead_in_frames = SINC_CHUNK_FRAMES + (8.0 / ratio).ceil() as usize;
        let base = taps as f64 / 2.0 - 1.0 / oversampling as f64;
        let delay = (ratio * (base + lead_in_frames as f64) - 1.0).floor();
        let shift_frames = (base + lead_in_frames as f64 - (delay + 1.0) / ratio).max(0.0);
        Self { lead_in_frames, delay_frames: delay as usize, shift_frames }
    }
}

/// The converter of one channel for one rate pair. Construction designs the filter (well under
/// a millisecond for the FFT resampler, a few ms for the sinc table); [`Self::process`]
/// converts a whole channel.
pub struct ChannelResampler {
    /// Input rate, Hz.
    from_hz: f64,
    /// Output rate, Hz.
    to_hz: f64,
    /// The method chosen for the pair.
    method: ResampleMethod,
    /// rubato's resampler (`None` for [`ResampleMethod::Copy`]).
    inner: Option<Box<dyn Resampler<f32>>>,
    /// Zero frames put in front of the input.
    lead_in_frames: usize,
    /// Output frames dropped from the front (the resampler's delay, lead-in included).
    delay_frames: usize,
    /// The sinc resampler's alignment (`None` for the other methods).
    alignment: Option<SincAlignment>,
}

impl std::fmt::Debug for ChannelResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelResampler")
            .field("from_hz", &self.from_hz)
            .field("to_hz", &self.to_hz)
            .field("method", &self.method)
            .field("lead_in_frames", &self.lead_in_frames)
            .field("delay_frames", &self.delay_frames)
            .field("alignment", &self.alignment)
            .finish()
    }
}

impl ChannelResampler {
    /// A converter from `from_hz` to `to_hz` (both within [`MIN_RATE_HZ`]..=[`MAX_RATE_HZ`];
    /// fractional rates are fine).
    pub fn new(from_hz: f64, to_hz: f64) -> Result<Self, ResampleError> {
        let valid = |rate: f64| rate.is_finite() && (MIN_RATE_HZ..=MAX_RATE_HZ).contains(&rate);
        if !valid(from_hz) || !valid(to_hz) {
            return Err(ResampleError::InvalidRate { from_hz, to_hz });
        }
        let rubato_error =
            |error: rubato::ResamplerConstructionError| ResampleError::Rubato { detail: error.to_string() };
        let copy = Self {
            from_hz,
            to_hz,
            method: ResampleMethod::Copy,
            inner: None,
            lead_in_frames: 0,
            delay_frames: 0,
            alignment: None,
        };
        if from_hz == to_hz {
            return Ok(copy);
        }
        if let Some((block_in, block_out)) = fft_blocks(from_hz, to_hz) {
            let fft = Fft::<f32>::new_custom(
                from_hz as usize,
                to_hz as usize,
                block_in,
                1,
                1,
                WindowFunction::BlackmanHarris2,
                FixedSync::Both,
            )
            .map_err(rubato_error)?;
            debug_assert_eq!((fft.fft_size_in(), fft.fft_size_out()), (block_in, block_out));
            // The sinc is centred on input frame block_in / 2 (a whole number: the block is
            // even), which is block_out / 2 output frames: rubato's `output_delay`.
            let delay_frames = fft.output_delay();
            return Ok(Self {
                method: ResampleMethod::Fft { block_in_frames: block_in, block_out_frames: block_out },
                inner: Some(Box::new(fft)),
                delay_frames,
                ..copy
            });
        }
        let ratio = to_hz / from_hz;
        let (taps, oversampling) = sinc_table(ratio);
        // rubato would pick the cutoff for the table's length in input taps (and scale it by the
        // ratio when down-sampling); a stretched sinc has the sharpness of SINC_LEN_TAPS taps
        // at the output rate.
        let f_cutoff = rubato::calculate_cutoff::<f32>(SINC_LEN_TAPS, WindowFunction::BlackmanHarris2);
        let parameters = SincInterpolationParameters {
            sinc_len: taps,
            f_cutoff: Some(f_cutoff),
            oversampling_factor: oversampling,
            interpolation: SincInterpolationType::Linear,
            window: WindowFunction::BlackmanHarris2,
        };
        let sinc = Async::<f32>::new_sinc(
            ratio,
            SINC_MAX_RELATIVE_RATIO,
            &parameters,
            SINC_CHUNK_FRAMES,
            1,
            FixedAsync::Input,
        )
        .map_err(rubato_error)?;
        let alignment = SincAlignment::new(ratio, taps, oversampling);
        Ok(Self {
            method: ResampleMethod::Sinc,
            inner: Some(Box::new(sinc)),
            lead_in_frames: alignment.lead_in_frames,
            delay_frames: alignment.delay_frames,
            alignment: Some(alignment),
            ..copy
        })
    }

    /// The method chosen for this rate pair.
    pub fn method(&self) -> ResampleMethod {
        self.method
    }

    /// Output frames dropped from the front to remove the converter's delay.
    pub fn delay_frames(&self) -> usize {
        self.delay_frames
    }

    /// The sinc resampler's alignment (`None` for the other methods).
    pub fn sinc_alignment(&self) -> Option<SincAlignment> {
        self.alignment
    }

    /// Converts a whole channel. Returns exactly [`resampled_len`] frames with capacity equal to
    /// length, or `Ok(None)` when `stop` returned `true` (polled about every second of input).
    pub fn process(
        &mut self,
        input: &[f32],
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<Vec<f32>>, ResampleError> {
        let out_len = resampled_len(input.len(), self.from_hz, self.to_hz);
        let ratio = self.to_hz / self.from_hz;
        let (lead_in_frames, delay_frames, alignment) =
            (self.lead_in_frames, self.delay_frames, self.alignment);
        let Some(resampler) = self.inner.as_deref_mut() else {
            return Ok(Some(input.to_vec()));
        };
        let error = |detail: String| ResampleError::Rubato { detail };
        resampler.reset();
        let mut output = Vec::with_capacity(out_len);
        if out_len == 0 {
            return Ok(Some(output));
        }
        if let Some(alignment) = alignment {
            nudge_first_chunk(resampler, ratio, alignment.shift_frames)?;
        }
        let mut scratch_in = vec![0.0_f32; resampler.input_frames_max()];
        let mut scratch_out = vec![0.0_f32; resampler.output_frames_max()];
        let whole_input = SequentialSlice::new(input, 1, input.len()).map_err(|e| error(e.to_string()))?;
        // Position in the stream [lead-in zeros] ++ input ++ [zeros].
        let mut position = 0_usize;
        let mut to_drop = delay_frames;
        let mut since_poll = 0_usize;
        while output.len() < out_len {
            let need = resampler.input_frames_next();
            let start = position.checked_sub(lead_in_frames);
            let produced = {
                let out_frames = resampler.output_frames_max();
                let mut out_adapter = SequentialSlice::new_mut(&mut scratch_out, 1, out_frames)
                    .map_err(|e| error(e.to_string()))?;
                match start {
                    // Entirely inside the input: read it in place.
                    Some(start) if start + need <= input.len() => {
                        let indexing = Indexing::new().input_offset(start);
                        resampler.process_into_buffer(&whole_input, &mut out_adapter, Some(&indexing))
                    }
                    // The lead-in, the end of the input or the flush: assemble the chunk.
                    _ => {
                        for (offset, slot) in scratch_in[..need].iter_mut().enumerate() {
                            *slot = (position + offset)
                                .checked_sub(lead_in_frames)
                                .and_then(|i| input.get(i))
                                .copied()
                                .unwrap_or(0.0);
                        }
                        let chunk = SequentialSlice::new(&scratch_in[..need], 1, need)
                            .map_err(|e| error(e.to_string()))?;
                        resampler.process_into_buffer(&chunk, &mut out_adapter, None)
                    }
                }
                .map_err(|e| error(e.to_string()))?
                .1
            };
            if position == 0 && alignment.is_some() {
                // The nudged chunk is done: back to the true ratio.
                set_ratio(resampler, ratio)?;
            }
            position += need;
            let fresh = &scratch_out[..produced];
            let dropped = to_drop.min(fresh.len());
            to_drop -= dropped;
            let wanted = out_len - output.len();
            output.extend_from_slice(&fresh[dropped..][..wanted.min(fresh.len() - dropped)]);
            since_poll += need;
            if since_poll >= POLL_INTERVAL_FRAMES {
                since_poll = 0;
                if stop() {
                    return Ok(None);
                }
            }
        }
        Ok(Some(output))
    }
}

/// The sinc table for `ratio = to / from`: `(taps, oversampling)` in input frames, see
/// [`SINC_LEN_TAPS`] and [`SINC_OVERSAMPLING`]. Taps are a multiple of 8 (rubato's own rounding).
/// The stretch stops at [`SINC_MAX_STRETCH`].
fn sinc_table(ratio: f64) -> (usize, usize) {
    let stretch = (1.0 / ratio).clamp(1.0, SINC_MAX_STRETCH);
    let taps = ((SINC_LEN_TAPS as f64 * stretch / 8.0).ceil() as usize) * 8;
    let oversampling = ((SINC_OVERSAMPLING as f64 / stretch).ceil() as usize).max(SINC_MIN_OVERSAMPLING);
    (taps, oversampling)
}

/// Sets the sinc resampler's ratio (applied from the next chunk, no ramp).
fn set_ratio(resampler: &mut dyn Resampler<f32>, ratio: f64) -> Result<(), ResampleError> {
    let adjustable = resampler
        .as_adjustable()
        .ok_or_else(|| ResampleError::Rubato { detail: "the sinc resampler is not adjustable".to_owned() })?;
    adjustable.set_resample_ratio(ratio, false).map_err(|e| ResampleError::Rubato { detail: e.to_string() })
}

/// Sets the ratio of the first chunk so that its `m` output frames, each a step of
/// `1/ratio + shift/m` input frames, move the phase by `shift_frames` ([`SincAlignment`]). `m`
/// itself depends on the ratio (rubato fits as many frames as the chunk allows), so the two are
/// settled together.
fn nudge_first_chunk(
    resampler: &mut dyn Resampler<f32>,
    ratio: f64,
    shift_frames: f64,
) -> Result<(), ResampleError> {
    if shift_frames <= 0.0 {
        return Ok(());
    }
    let mut frames = resampler.output_frames_next();
    for _ in 0..4 {
        let nudged = 1.0 / (1.0 / ratio + shift_frames / frames.max(1) as f64);
        set_ratio(resampler, nudged)?;
        let now = resampler.output_frames_next();
        if now == frames {
            return Ok(());
        }
        frames = now;
    }
    Err(ResampleError::Rubato { detail: "the alignment chunk did not settle".to_owned() })
}

/// The FFT resampler's block sizes `(in, out)` for an integer rate pair whose reduced input block
/// is at most [`FFT_MAX_REDUCED_INPUT_FRAMES`]; `None` otherwise. Both blocks are even and at
/// least [`FFT_BLOCK_TARGET_FRAMES`] long.
fn fft_blocks(from_hz: f64, to_hz: f64) -> Option<(usize, usize)> {
    let integer = |rate: f64| (rate.fract() == 0.0).then_some(rate as usize);
    let (from, to) = (integer(from_hz)?, integer(to_hz)?);
    let gcd = gcd(from, to);
    let (reduced_in, reduced_out) = (from / gcd, to / gcd);
    if reduced_in > FFT_MAX_REDUCED_INPUT_FRAMES {
        return None;
    }
    // Whole reduced blocks, an even number of them (so both sizes are even), reaching the target
    // on both sides (the sinc's sharpness is set by the shorter block).
    let blocks = FFT_BLOCK_TARGET_FRAMES.div_ceil(reduced_in.min(reduced_out)).max(1);
    let blocks = blocks + blocks % 2;
    Some((blocks * reduced_in, blocks * reduced_out))
}

/// Greatest common divisor.
fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use std::f64::consts::TAU;

    use super::*;

    /// The rate pairs every property is checked on: FFT ones, and sinc ones (fractional rates,
    /// or an integer pair with an awkward ratio).
    const PAIRS: [(f64, f64); 7] = [
        (44_100.0, 48_000.0),
        (44_100.0, 96_000.0),
        (48_000.0, 44_100.0),
        (96_000.0, 48_000.0),
        (44_100.0, 12_345.678),
        (48_000.0, 44_100.3),
        (44_100.0, 44_101.0),
    ];

    fn convert(input: &[f32], from_hz: f64, to_hz: f64) -> Vec<f32> {
        let output = resample(input, from_hz, to_hz).expect("valid rates");
        assert_eq!(output.len(), resampled_len(input.len(), from_hz, to_hz));
        assert_eq!(output.capacity(), output.len());
        output
    }

    /// A sine of `frequency_hz` at `amplitude`, `frames` long, at `rate_hz`, with raised-cosine
    /// fades of `fade_s` at both ends (0 for none).
    fn tone(frequency_hz: f64, amplitude: f64, frames: usize, rate_hz: f64, fade_s: f64) -> Vec<f32> {
        let duration_s = frames as f64 / rate_hz;
        (0..frames)
            .map(|n| tone_at(frequency_hz, amplitude, n as f64 / rate_hz, duration_s, fade_s) as f32)
            .collect()
    }

    /// The faded sine of [`tone`] at time `t_s`, for a signal `duration_s` long.
    fn tone_at(frequency_hz: f64, amplitude: f64, t_s: f64, duration_s: f64, fade_s: f64) -> f64 {
        let fade = |x: f64| {
            if fade_s > 0.0 {
                (0.5 - 0.5 * (TAU / 2.0 * (x / fade_s).clamp(0.0, 1.0)).cos()).max(0.0)
            } else {
                1.0
            }
        };
        amplitude * (TAU * frequency_hz * t_s).sin() * fade(t_s) * fade(duration_s - t_s)
    }

    /// Least-squares fit of `A·sin(ωk) + B·cos(ωk)` to `signal` (sample `k` at `k / rate_hz`,
    /// counted from `start`): returns the amplitude, the phase (radians, 0 for a pure sine) and
    /// the RMS of what is left.
    fn fit_sine(signal: &[f32], start: usize, frequency_hz: f64, rate_hz: f64) -> (f64, f64, f64) {
        let omega = TAU * frequency_hz / rate_hz;
        let (mut ss, mut sc, mut cc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (k, &x) in signal.iter().enumerate() {
            let (s, c) = (omega * (start + k) as f64).sin_cos();
            let x = f64::from(x);
            ss += s * s;
            sc += s * c;
            cc += c * c;
            xs += x * s;
            xc += x * c;
        }
        let det = ss * cc - sc * sc;
        let a = (xs * cc - xc * sc) / det;
        let b = (xc * ss - xs * sc) / det;
        let residual = signal
            .iter()
            .enumerate()
            .map(|(k, &x)| {
                let (s, c) = (omega * (start + k) as f64).sin_cos();
                (f64::from(x) - a * s - b * c).powi(2)
            })
            .sum::<f64>();
        (a.hypot(b), b.atan2(a), (residual / signal.len() as f64).sqrt())
    }

    /// The middle `fraction` of `signal` and where it starts.
    fn middle(signal: &[f32], fraction: f64) -> (&[f32], usize) {
        let skip = (signal.len() as f64 * (1.0 - fraction) / 2.0) as usize;
        (&signal[skip..signal.len() - skip], skip)
    }

    #[test]
    fn methods_and_delays() {
        let method = |from: f64, to: f64| ChannelResampler::new(from, to).unwrap().method();
        assert_eq!(method(48_000.0, 48_000.0), ResampleMethod::Copy);
        assert_eq!(
            method(44_100.0, 48_000.0),
            ResampleMethod::Fft { block_in_frames: 2_058, block_out_frames: 2_240 }
        );
        assert_eq!(
            method(96_000.0, 48_000.0),
            ResampleMethod::Fft { block_in_frames: 4_096, block_out_frames: 2_048 }
        );
        assert_eq!(
            method(44_100.0, 12_345.0),
            ResampleMethod::Fft { block_in_frames: 11_760, block_out_frames: 3_292 }
        );
        assert_eq!(method(44_100.0, 12_345.678), ResampleMethod::Sinc);
        assert_eq!(method(44_100.0, 44_101.0), ResampleMethod::Sinc);
        for (from, to) in PAIRS {
            let resampler = ChannelResampler::new(from, to).unwrap();
            println!("{from} -> {to} Hz: {resampler:?}");
            if let Some(alignment) = resampler.sinc_alignment() {
                assert!((0.0..1.0).contains(&(alignment.shift_frames * to / from)));
            }
        }
    }

    #[test]
    fn passband_is_flat_and_time_aligned() {
        let frequencies_hz = [
            20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0, 15_000.0, 18_000.0,
            19_000.0, 20_000.0,
        ];
        // Limits near the measured figures (printed): the FFT blocks are 2058+ taps long; the
        // sinc resampler's 512 taps roll off from about 0.93 of the lower Nyquist frequency.
        for (from, to, top_hz, limit_db) in [
            (44_100.0, 48_000.0, 20_000.0, 0.001),
            (44_100.0, 96_000.0, 20_000.0, 0.001),
            (48_000.0, 44_100.0, 20_000.0, 0.001),
            (96_000.0, 48_000.0, 20_000.0, 0.001),
            (48_000.0, 44_100.3, 20_000.0, 0.05),
            (44_100.0, 44_101.0, 20_000.0, 0.05),
            (44_100.0, 12_345.678, 5_000.0, 0.05),
        ] {
            let mut worst_db = 0.0_f64;
            let mut worst_offset = 0.0_f64;
            let mut line = String::new();
            for frequency_hz in frequencies_hz.iter().copied().filter(|&f| f <= top_hz) {
                let input = tone(frequency_hz, 0.5, (2.0 * from) as usize, from, 0.0);
                let output = convert(&input, from, to);
                let (part, start) = middle(&output, 0.5);
                let (amplitude, phase, _) = fit_sine(part, start, frequency_hz, to);
                let gain_db = 20.0 * (amplitude / 0.5).log10();
                // Phase 0 is perfect alignment; convert the phase error to output frames.
                let offset_frames = -phase / TAU * to / frequency_hz;
                worst_db = worst_db.max(gain_db.abs());
                worst_offset = worst_offset.max(offset_frames.abs());
                line += &format!(" {frequency_hz}:{gain_db:+.4}");
            }
            println!("{from} -> {to} Hz gain dB:{line}; worst {worst_db:.4} dB, worst offset {worst_offset:.5} frames");
            assert!(worst_db <= limit_db, "{from} -> {to}: {worst_db} dB");
            assert!(worst_offset <= 0.02, "{from} -> {to}: {worst_offset} frames");
        }
    }

    #[test]
    fn odd_ratios_stay_time_aligned() {
        // A low tone's phase, for extreme and near-unity ratios (the sinc resampler's alignment
        // must hold wherever the phase of a whole-frame delay falls).
        for (from, to) in [
            (44_100.0, 44_100.5),
            (44_100.0, 44_101.0),
            (48_000.0, 47_999.9),
            (8_000.0, 767_999.5),
            (96_000.0, 8_000.25),
            (1_000.0, 231_999.94),
            (8_000.0, 768_000.0),
            (192_000.0, 8_000.0),
        ] {
            let (from, to): (f64, f64) = (from, to);
            let frequency_hz = 0.05 * from.min(to);
            let input = tone(frequency_hz, 0.5, (1.0 * from) as usize, from, 0.0);
            let output = convert(&input, from, to);
            let (part, start) = middle(&output, 0.5);
            let (amplitude, phase, _) = fit_sine(part, start, frequency_hz, to);
            let offset_frames = -phase / TAU * to / frequency_hz;
            let gain_db = 20.0 * (amplitude / 0.5).log10();
            println!("{from} -> {to} Hz ({:?}): {frequency_hz} Hz tone {gain_db:+.5} dB, offset {offset_frames:+.6} output frames", ChannelResampler::new(from, to).unwrap().method());
            assert!(offset_frames.abs() < 1e-3, "{from} -> {to}: {offset_frames}");
            assert!(gain_db.abs() < 1e-3, "{from} -> {to}: {gain_db}");
        }
    }

    #[test]
    fn images_and_aliases_are_rejected() {
        // (from, to, tone, tone survives?, limit dB). Surviving tones: everything but the
        // fitted tone must be this far down. Removed tones (above the output's Nyquist): the
        // whole output must be.
        for (from, to, frequency_hz, survives, limit_db) in [
            (44_100.0, 48_000.0, 21_000.0, true, 120.0),
            (44_100.0, 96_000.0, 21_000.0, true, 120.0),
            (44_100.0, 48_000.0, 1_000.0, true, 120.0),
            (48_000.0, 44_100.0, 23_000.0, false, 120.0),
            (48_000.0, 44_100.0, 22_500.0, false, 100.0),
            (96_000.0, 48_000.0, 30_000.0, false, 120.0),
            (48_000.0, 44_100.3, 23_000.0, false, 100.0),
            (44_100.0, 12_345.678, 7_000.0, false, 100.0),
            (192_000.0, 8_000.0, 5_000.0, false, 100.0),
            (44_100.0, 48_000.5, 21_000.0, true, 100.0),
        ] {
            let input = tone(frequency_hz, 0.5, (2.0 * from) as usize, from, 0.0);
            let output = convert(&input, from, to);
            let (part, start) = middle(&output, 0.5);
            let rejection_db = if survives {
                let (amplitude, _, residual) = fit_sine(part, start, frequency_hz, to);
                20.0 * (amplitude / std::f64::consts::SQRT_2 / residual).log10()
            } else {
                let rms =
                    (part.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / part.len() as f64).sqrt();
                20.0 * (0.5 / std::f64::consts::SQRT_2 / rms).log10()
            };
            println!(
                "{from} -> {to} Hz, {frequency_hz} Hz tone: {} {rejection_db:.1} dB down",
                if survives { "everything else" } else { "the tone" }
            );
            assert!(rejection_db >= limit_db, "{from} -> {to}, {frequency_hz} Hz: {rejection_db:.1} dB");
        }
    }

    #[test]
    fn an_impulse_lands_where_it_should() {
        // Input frame `n` maps to output frame `n · to / from`; pick whole-number landings.
        for (from, to, input_frame, output_frame) in [
            (44_100.0, 48_000.0, 2_940, 3_200),
            (48_000.0, 44_100.0, 3_200, 2_940),
            (96_000.0, 48_000.0, 4_000, 2_000),
            (44_100.0, 96_000.0, 2_940, 6_400),
        ] {
            let mut input = vec![0.0_f32; 10_000];
            input[input_frame] = 1.0;
            let output = convert(&input, from, to);
            let peak = (0..output.len()).max_by(|&a, &b| output[a].total_cmp(&output[b])).unwrap();
            let asymmetry = (1..200).map(|j| (output[peak - j] - output[peak + j]).abs()).fold(0.0, f32::max);
            println!("{from} -> {to} Hz: impulse at {input_frame} lands at {peak} (expected {output_frame}), peak {:.5}, asymmetry {asymmetry:.2e}", output[peak]);
            assert_eq!(peak, output_frame);
            assert!(asymmetry < 1e-6);
        }
    }

    #[test]
    fn a_band_limited_signal_comes_out_whole_at_both_ends() {
        // A 1 kHz tone faded in and out over 5 ms: the output must equal the same formula at the
        // output rate everywhere, first and last samples included (no lost samples, no delay, no
        // start or end transient).
        for (from, to) in PAIRS {
            // Near the measured figures (printed): the sinc resampler interpolates its table.
            let limit = match ChannelResampler::new(from, to).unwrap().method() {
                ResampleMethod::Sinc => 1e-4,
                _ => 5e-6,
            };
            let frames = (0.5 * from) as usize;
            let duration_s = frames as f64 / from;
            let input = tone(1_000.0, 0.8, frames, from, 0.005);
            let output = convert(&input, from, to);
            let error = output
                .iter()
                .enumerate()
                .map(|(k, &y)| (f64::from(y) - tone_at(1_000.0, 0.8, k as f64 / to, duration_s, 0.005)).abs())
                .fold(0.0, f64::max);
            let ends = [output[0], output[1], output[output.len() - 2], output[output.len() - 1]];
            println!(
                "{from} -> {to} Hz: worst error {error:.2e} (re 0.8 peak); first and last samples {ends:?}"
            );
            assert!(error < limit, "{from} -> {to}: {error}");
        }
    }

    #[test]
    fn dc_gain_is_one() {
        for (from, to) in PAIRS {
            let input = vec![0.5_f32; (0.5 * from) as usize];
            let output = convert(&input, from, to);
            let (part, _) = middle(&output, 0.5);
            let worst = part.iter().map(|&y| (f64::from(y) / 0.5 - 1.0).abs()).fold(0.0, f64::max);
            println!("{from} -> {to} Hz: DC gain error {worst:.2e}");
            assert!(worst < 1e-4, "{from} -> {to}: {worst}");
        }
    }

    #[test]
    fn lengths_are_the_rounded_ratio() {
        let pairs =
            PAIRS.iter().copied().chain([(8_000.0, 768_000.0), (768_000.0, 8_000.0), (1_000.0, 1_536_000.0)]);
        for (from, to) in pairs {
            for frames in [1, 2, 3, 7, 100, 1_001, 12_345, 100_000] {
                let input: Vec<f32> = (0..frames).map(|n| (n % 7) as f32 * 0.1).collect();
                let output = convert(&input, from, to);
                assert_eq!(output.len(), (frames as f64 * to / from).round() as usize);
            }
        }
        assert!(convert(&[], 44_100.0, 48_000.0).is_empty());
    }

    #[test]
    fn equal_rates_copy_and_bad_rates_are_refused() {
        let input: Vec<f32> = (0..1_000).map(|n| (n as f32 * 0.37).sin()).collect();
        assert_eq!(convert(&input, 44_100.0, 44_100.0), input);
        for (from, to) in [
            (f64::NAN, 48_000.0),
            (44_100.0, 0.0),
            (44_100.0, 999.0),
            (2e6, 48_000.0),
            (44_100.0, f64::INFINITY),
        ] {
            assert!(matches!(ChannelResampler::new(from, to), Err(ResampleError::InvalidRate { .. })));
            assert!(resample(&input, from, to).is_err());
        }
    }

    #[test]
    fn stop_is_polled() {
        let input = vec![0.1_f32; 441_000];
        let mut resampler = ChannelResampler::new(44_100.0, 48_000.0).unwrap();
        let polls = std::cell::Cell::new(0);
        let result = resampler.process(&input, &|| {
            polls.set(polls.get() + 1);
            polls.get() >= 3
        });
        assert_eq!(result, Ok(None));
        assert_eq!(polls.get(), 3);
        // The same resampler is reusable after a stop.
        let again = resampler.process(&input, &|| false).unwrap().unwrap();
        assert_eq!(again.len(), 480_000);
    }

    /// Speed per output sample. Run with
    /// `cargo test --release -- --ignored --nocapture resample_speed`.
    #[test]
    #[ignore = "benchmark; run in release"]
    fn resample_speed() {
        for (from, to) in PAIRS {
            let input = tone(997.0, 0.5, (20.0 * from) as usize, from, 0.0);
            let started = std::time::Instant::now();
            let output = convert(&input, from, to);
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "{from} -> {to} Hz: {:.1} ns per output sample ({:.0}x realtime, one core)",
                seconds * 1e9 / output.len() as f64,
                20.0 / seconds
            );
        }
    }
}
