//! Dither: the last stage of the chain. Requantizes the output to the word length of the delivery
//! format (16, 20 or 24 bits) so that the host's float → integer conversion is lossless, and makes
//! the requantization error a benign, signal-independent noise instead of distortion.
//!
//! ## Quantizer
//! Everything runs in f64 in units of the target LSB (`x·2^(bits−1)`, full scale ±1.0). The output
//! is `q / 2^(bits−1)` with `q` an integer clipped to `[−2^(bits−1), 2^(bits−1) − 1]`, so every
//! output value lies exactly on the target grid (exactly representable in f32 for ≤ 24 bits) and the
//! host's integer conversion is lossless. Rounding is to nearest (ties to even, via the
//! `±1.5·2^52` trick, which vectorises and needs no SSE4.1).
//!
//! ## Modes
//! * [`DitherMode::Off`] (default): a bit-exact identity, handled like bypass.
//! * [`DitherMode::Tpdf`]: non-subtractive triangular-PDF dither, the sum of two independent uniform
//!   ±½ LSB values, added before rounding. With TPDF the first and second moments of the total error
//!   are independent of the signal (no distortion, no noise modulation) and the error is white with
//!   variance LSB²/4 (RMS ½ LSB: −96.3 dBFS at 16 bits) — Lipshitz, Wannamaker, Vanderkooy,
//!   "Quantization and Dither: A Theoretical Survey", JAES 40(5), 1992.
//! * [`DitherMode::NoiseShaped`]: an error-feedback quantizer with TPDF dither inside the loop:
//!   `w = x + d − Σ h_k·e[n−k]`, `q = round(w)`, `e[n] = q − (w − d)`. The output error is then
//!   `e[n] − Σ h_k·e[n−k]`, i.e. white TPDF error through the noise transfer function
//!   `NTF(z) = 1 − H(z)`, `H(z) = Σ_{k=1..9} h_k·z^−k`. `h` is the 9-coefficient F-weighted filter
//!   designed for 44.1 kHz in R. A. Wannamaker, "Psychoacoustically Optimal Noise Shaping",
//!   JAES 40(7/8), 611–620, 1992 (<http://robertwannamaker.com/abstracts/psychoacoustically.html>),
//!   [`F_WEIGHTED_44K1`]. At 44.1 kHz `|NTF|²` is −12 dB at DC, −25 dB at 3 kHz (where hearing is
//!   most sensitive) and +27 dB at Nyquist; total noise power is +18.4 dB over plain TPDF, but the
//!   perceived (F-weighted) noise is much lower.
//!
//! ## Noise shaping at other sample rates
//! The filter is a fixed set of coefficients, so its curve scales with the sample rate.
//! * 40 kHz ≤ fs < 64 kHz (44.1, 48 kHz): the F-weighted filter. At 48 kHz the curve sits 8.8 %
//!   higher in frequency (deepest dip ≈ 3.3 kHz instead of 3 kHz), still over the ear's most
//!   sensitive region; Wannamaker's design, like SoX's, is used unchanged at 44.1–48 kHz.
//! * Outside that range `NoiseShaped` falls back to plain TPDF ([`Dither::noise_shaping_active`]
//!   reports it). Below 40 kHz the +27 dB boost would land in the audible band; at 64 kHz and above
//!   the dip would move to ≥ 6 kHz and the filter would push +18 dB of extra noise power into the
//!   ultrasonic band, where it only costs headroom and can intermodulate in downstream converters,
//!   while high-rate masters are delivered at 24 bits where shaping buys nothing audible.
//!
//! ## Overload guard
//! The error fed back is the error of the *unclipped* quantizer: `|e| ≤ ½ (rounding) + 1 (TPDF
//! peak) = 1.5 LSB` by construction, so the feedback is bounded by `1.5·Σ|h_k| ≈ 32 LSB` and the FIR
//! loop cannot run away, whatever the input. The clipping to the word length is applied to the
//! output only; its (possibly huge) error is never fed back.
//!
//! ## Random numbers and determinism
//! The dither is counter-based: the value for sample `n` (counted since the last reset) of channel
//! `c` is `H(n ⊕ key_c)`, with `H` the `lowbias32` integer hash from C. Wellons' hash-prospector
//! (<https://github.com/skeeto/hash-prospector>), a bijection on 32 bits with low avalanche bias. Its
//! upper and lower 16 bits are the two uniforms of the TPDF value (resolution 2^−16 LSB); because
//! `H` is a bijection, over the 2^32-sample period every (upper, lower) pair occurs exactly once, so
//! the two uniforms are exactly independent over a period. The channels use different keys
//! (independent streams; the tests measure their correlation). The period is 2^32 samples (24.9 h at
//! 48 kHz, 93 min at 768 kHz), after which the sequence repeats, which is harmless for dither.
//! Because the dither of sample `n` depends only on `n`, the output is block-size invariant,
//! `reset()` equals a fresh instance, and bypassed stretches skip the generator in O(1).
//!
//! ## Speed
//! Audio runs in 64-frame chunks. The hash is a straight 32-bit integer loop and TPDF
//! requantization a straight f64 loop; on x86-64 CPUs with AVX2 (detected once in [`Dither::new`])
//! the same code runs in an AVX2 build. The noise shaper's feedback loop carries both channels as
//! one 2-lane SSE2 vector (two scalars on other targets). No path uses FMA or anything else that
//! rounds differently, so every build gives the same bits.
//!
//! ## Auto-blank
//! When a channel's input has been exactly 0.0 for the last [`AUTO_BLANK_MS`] (rate-derived count)
//! its output is exact zeros: digital silence stays digital silence (track gaps, fade-outs). The
//! first non-zero sample is dithered at once. The time before the first sample counts as silence,
//! so a render that starts silent starts with exact zeros. Each channel blanks on its own.
//!
//! ## Changes
//! Bypass and `Off` crossfade over [`BYPASS_FADE_MS`](crate::dsp::bypass::BYPASS_FADE_MS) (the mix is
//! off the grid only during the fade). Mode and word-length changes switch at the next sub-block
//! without a crossfade, clearing the error feedback: the old and new outputs differ only by
//! requantization noise (16 bits: TPDF −96 dBFS RMS, noise-shaped −78 dBFS RMS with peaks of at most
//! 34 LSB ≈ −60 dBFS), so the switch changes the hiss but cannot click, and a crossfade would put the
//! output off the grid. Latency is always 0.

use crate::dsp::bypass::BypassCrossfade;
use crate::dsp::clamp_sample_rate_hz;
use crate::dsp::sanitizer::sanitize_sample;
#[cfg(test)]
use crate::dsp::stereo_lanes::ScalarPair;
use crate::dsp::stereo_lanes::{Pair, StereoLanes};

/// Length of the trailing run of exact digital silence after which the output is blanked.
pub const AUTO_BLANK_MS: f64 = 50.0;

/// Number of taps of the noise-shaping filter.
pub const SHAPER_TAPS: usize = 9;

/// Wannamaker's 9-coefficient F-weighted error-feedback filter for 44.1 kHz (JAES 1992): `h_1..h_9`
/// of `H(z) = Σ h_k·z^−k`; the noise transfer function is `1 − H(z)`.
pub const F_WEIGHTED_44K1: [f64; SHAPER_TAPS] =
    [2.412, -3.370, 3.937, -4.174, 3.353, -2.205, 1.281, -0.569, 0.0847];

/// Lowest sample rate at which [`DitherMode::NoiseShaped`] uses the F-weighted filter.
pub const NOISE_SHAPING_MIN_RATE_HZ: f64 = 40_000.0;

/// Sample rate from which [`DitherMode::NoiseShaped`] falls back to plain TPDF.
pub const NOISE_SHAPING_MAX_RATE_HZ: f64 = 64_000.0;

/// Adding and subtracting 1.5·2^52 rounds an f64 of magnitude < 2^51 to the nearest integer (ties
/// to even) in the default rounding mode.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;

/// 2^−16: one step of a 16-bit uniform, in LSB.
const TWO_POW_MINUS_16: f64 = 1.0 / 65_536.0;

/// Keys of the left and right dither streams (digits of π, nothing up the sleeve).
const CHANNEL_KEYS: [u32; 2] = [0x243F_6A88, 0x85A3_08D3];

/// Values of error-feedback state per channel: e[n−1], eight partial sums, q[n−1], h_1·v[n−1].
const SHAPER_STATE_LEN: usize = SHAPER_TAPS + 2;

/// Frames per internal chunk (size of the stack scratch arrays).
const CHUNK_FRAMES: usize = 64;

/// How the output is requantized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DitherMode {
    /// No requantization: the output is the input, bit for bit (the neutral default).
    #[default]
    Off,
    /// TPDF dither and rounding to the word length.
    Tpdf,
    /// F-weighted noise-shaped TPDF dither (40–64 kHz; plain TPDF at other rates).
    NoiseShaped,
}

/// Target word length of the delivery format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WordLength {
    /// 16 bits (CD): LSB = 2^−15.
    Bits16,
    /// 20 bits: LSB = 2^−19.
    Bits20,
    /// 24 bits (default): LSB = 2^−23.
    #[default]
    Bits24,
}

impl WordLength {
    /// The number of bits.
    pub fn bits(self) -> u32 {
        match self {
            WordLength::Bits16 => 16,
            WordLength::Bits20 => 20,
            WordLength::Bits24 => 24,
        }
    }

    /// The word length with `bits` bits, if it is one of 16, 20, 24.
    pub fn from_bits(bits: u32) -> Option<Self> {
        match bits {
            16 => Some(WordLength::Bits16),
            20 => Some(WordLength::Bits20),
            24 => Some(WordLength::Bits24),
            _ => None,
        }
    }

    /// Number of LSBs in full scale (1.0): `2^(bits−1)`.
    fn steps_per_unit(self) -> f64 {
        (1u64 << (self.bits() - 1)) as f64
    }
}

/// Dither settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DitherSettings {
    /// Requantization mode. Default [`DitherMode::Off`] (bit-exact).
    pub mode: DitherMode,
    /// Target word length: 16, 20 or 24 bits. Default 24 bits.
    pub word_length: WordLength,
    /// Output exact zeros after [`AUTO_BLANK_MS`] of exact digital silence (per channel). Default
    /// true.
    pub auto_blank: bool,
    /// Bypass (crossfaded, bit-exact input once faded). Default false.
    pub bypass: bool,
}

impl Default for DitherSettings {
    fn default() -> Self {
        Self { mode: DitherMode::Off, word_length: WordLength::Bits24, auto_blank: true, bypass: false }
    }
}

impl DitherSettings {
    /// True when the settings leave the audio untouched (bypass or `Off`).
    fn is_neutral(&self) -> bool {
        self.bypass || self.mode == DitherMode::Off
    }
}

/// The quantizer derived from the settings and the sample rate.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Quantizer {
    /// LSBs per unit of full scale, `2^(bits−1)`.
    scale: f64,
    /// `1 / scale` (a power of two: the division back is exact).
    inv_scale: f64,
    /// Smallest output code, `−2^(bits−1)`.
    lowest: f64,
    /// Largest output code, `2^(bits−1) − 1`.
    highest: f64,
    /// Whether the error-feedback filter runs (NoiseShaped at a supported rate).
    shaped: bool,
}

impl Quantizer {
    fn new(mode: DitherMode, word_length: WordLength, shaping_supported: bool) -> Self {
        let scale = word_length.steps_per_unit();
        Self {
            scale,
            inv_scale: 1.0 / scale,
            lowest: -scale,
            highest: scale - 1.0,
            shaped: mode == DitherMode::NoiseShaped && shaping_supported,
        }
    }
}

/// The dither / word-length reduction stage (stereo, latency 0).
#[derive(Debug, Clone)]
pub struct Dither {
    /// Current settings (dirty check).
    settings: DitherSettings,
    /// The mode that renders while a fade towards `Off` runs (the last mode that was not `Off`).
    active_mode: DitherMode,
    /// Whether the sample rate is in the F-weighted filter's range.
    shaping_supported: bool,
    /// Quantizer for `active_mode` and the word length.
    quantizer: Quantizer,
    /// Crossfade between dithered and untouched audio (bypass and `Off`).
    fade: BypassCrossfade,
    /// Exact zeros in a row after which a channel is blanked: `AUTO_BLANK_MS·fs`, at least 1.
    blank_after_samples: u32,
    /// Index of the next sample since the last reset (wraps after 2^32: the dither period).
    counter: u32,
    /// Trailing exact-zero input samples per channel, saturating at `blank_after_samples`.
    zero_run: [u32; 2],
    /// Error-feedback state of (left, right), in LSB (see [`shape_loop`]): `history[0]` is the last
    /// error `e[n−1]`, `history[j − 1]` for j = 2..9 the transposed-form partial sum
    /// `T_j = Σ_{k=j..9} h_k·e[n+j−2−k]`, `history[9]` the last code `q[n−1]` and `history[10]` the
    /// scaled last quantizer input `h_1·v[n−1]`.
    history: [[f64; 2]; SHAPER_STATE_LEN],
    /// Which build of the inner loops runs (AVX2 when the CPU has it).
    kernels: Kernels,
}

impl Dither {
    /// A dither stage at `sample_rate_hz` (clamped to [1 kHz, 1.536 MHz], non-finite → 48 kHz).
    pub fn new(sample_rate_hz: f64, settings: &DitherSettings) -> Self {
        let fs = clamp_sample_rate_hz(sample_rate_hz);
        let shaping_supported = (NOISE_SHAPING_MIN_RATE_HZ..NOISE_SHAPING_MAX_RATE_HZ).contains(&fs);
        let active_mode = if settings.mode == DitherMode::Off { DitherMode::Tpdf } else { settings.mode };
        // Blank after AUTO_BLANK_MS of silence: samples = ms·1e−3·fs (≥ 1).
        let blank_after_samples = ((AUTO_BLANK_MS * 1e-3 * fs).round() as u32).max(1);
        Self {
            settings: *settings,
            active_mode,
            shaping_supported,
            quantizer: Quantizer::new(active_mode, settings.word_length, shaping_supported),
            fade: BypassCrossfade::new(fs, settings.is_neutral()),
            blank_after_samples,
            counter: 0,
            zero_run: [blank_after_samples; 2],
            history: [[0.0; 2]; SHAPER_STATE_LEN],
            kernels: Kernels::detect(),
        }
    }

    /// Applies new settings (audio thread, once per sub-block; O(1) when nothing changed). Bypass
    /// and `Off` crossfade; mode and word-length changes take effect at once (see the module doc).
    pub fn set_settings(&mut self, settings: &DitherSettings) {
        if *settings == self.settings {
            return;
        }
        let was_neutral = self.settings.is_neutral();
        self.settings = *settings;
        if settings.mode != DitherMode::Off {
            self.active_mode = settings.mode;
        }
        let quantizer = Quantizer::new(self.active_mode, settings.word_length, self.shaping_supported);
        // A new quantizer, or leaving bypass: start the error feedback from a clean history (stale
        // errors of another word length or from before the bypass mean nothing now).
        if quantizer != self.quantizer || (was_neutral && !settings.is_neutral()) {
            self.history = [[0.0; 2]; SHAPER_STATE_LEN];
        }
        self.quantizer = quantizer;
        self.fade.set_bypassed(settings.is_neutral());
    }

    /// Clears all state; the next output equals that of a fresh instance with the current settings.
    pub fn reset(&mut self) {
        self.counter = 0;
        self.zero_run = [self.blank_after_samples; 2];
        self.history = [[0.0; 2]; SHAPER_STATE_LEN];
        self.fade.settle();
    }

    /// Latency: always 0.
    pub fn latency_samples(&self) -> usize {
        0
    }

    /// True when `NoiseShaped` uses the F-weighted filter at this sample rate; false where it falls
    /// back to plain TPDF.
    pub fn noise_shaping_active(&self) -> bool {
        self.shaping_supported
    }

    /// Requantizes a stereo block in place (the shorter slice's length is processed).
    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let frames = left.len().min(right.len());
        let (Some(left), Some(right)) = (left.get_mut(..frames), right.get_mut(..frames)) else {
            return;
        };
        if self.fade.is_fully_bypassed() {
            self.follow_bypassed(left, right);
            return;
        }
        let fading = !self.fade.is_fully_processed();
        for (left, right) in left.chunks_mut(CHUNK_FRAMES).zip(right.chunks_mut(CHUNK_FRAMES)) {
            if !fading {
                self.render_chunk(left, right);
            } else if self.fade.is_fully_bypassed() {
                self.follow_bypassed(left, right);
            } else {
                let mut dry_left = [0.0f32; CHUNK_FRAMES];
                let mut dry_right = [0.0f32; CHUNK_FRAMES];
                let dry_left = copy_into(&mut dry_left, left);
                let dry_right = copy_into(&mut dry_right, right);
                self.render_chunk(left, right);
                self.fade.process(&mut [left, right], &[dry_left, dry_right]);
            }
        }
    }

    /// Keeps the state in step while the output is the untouched input: the counter skips ahead,
    /// the silence counters follow the input. (The error history is not needed; leaving bypass
    /// clears it.)
    fn follow_bypassed(&mut self, left: &[f32], right: &[f32]) {
        self.counter = self.counter.wrapping_add(left.len() as u32);
        let limit = self.blank_after_samples;
        for (run, channel) in self.zero_run.iter_mut().zip([left, right]) {
            let trailing = channel.iter().rev().take_while(|&&x| sanitize_sample(x) == 0.0).count();
            let trailing = trailing.min(limit as usize) as u32;
            *run = if trailing as usize == channel.len() {
                run.saturating_add(trailing).min(limit)
            } else {
                trailing
            };
        }
    }

    /// Dithers and requantizes one chunk (≤ [`CHUNK_FRAMES`]) in place with the active quantizer.
    fn render_chunk(&mut self, left: &mut [f32], right: &mut [f32]) {
        let frames = left.len().min(right.len()).min(CHUNK_FRAMES);
        let counter = self.counter;
        self.counter = counter.wrapping_add(frames as u32);
        // Silence tracking from the input, before it is overwritten. Chunks without an exact zero
        // (all music) skip the per-sample pass.
        let limit = self.blank_after_samples;
        let blanking = self.settings.auto_blank;
        let mut blank = [[false; CHUNK_FRAMES]; 2];
        let mut any_blank = false;
        for ((channel, run), flags) in
            [&*left, &*right].into_iter().zip(self.zero_run.iter_mut()).zip(blank.iter_mut())
        {
            if !channel.iter().fold(false, |zero, &x| zero | (sanitize_sample(x) == 0.0)) {
                *run = if frames > 0 { 0 } else { *run };
                continue;
            }
            for (&x, flag) in channel.iter().zip(flags.iter_mut()) {
                *run = if sanitize_sample(x) == 0.0 { (*run + 1).min(limit) } else { 0 };
                *flag = blanking && *run >= limit;
                any_blank |= *flag;
            }
        }
        let quantizer = self.quantizer;
        let [blank_left, blank_right] = &blank;
        if quantizer.shaped {
            let mut dither = [[0i32; 2]; CHUNK_FRAMES];
            self.kernels.dither_pairs(counter, frames, &mut dither);
            let shaper =
                Shaper { quantizer: &quantizer, dither: &dither, blank: any_blank.then_some(&blank) };
            self.kernels.shape(&shaper, &mut self.history, left, right);
        } else {
            self.kernels.tpdf(&quantizer, counter, CHANNEL_KEYS[0], left);
            self.kernels.tpdf(&quantizer, counter, CHANNEL_KEYS[1], right);
            if any_blank {
                for (channel, flags) in [left, right].into_iter().zip([blank_left, blank_right]) {
                    for (y, &flag) in channel.iter_mut().zip(flags.iter()) {
                        *y = if flag { 0.0 } else { *y };
                    }
                }
            }
        }
    }
}

/// Copies `source` into the front of `buffer` and returns that part.
fn copy_into<'a>(buffer: &'a mut [f32; CHUNK_FRAMES], source: &[f32]) -> &'a [f32] {
    let mut used = 0;
    for (slot, &x) in buffer.iter_mut().zip(source) {
        *slot = x;
        used += 1;
    }
    &buffer[..used]
}

/// `lowbias32` (C. Wellons, hash-prospector): a 32-bit bijection with low avalanche bias.
#[inline(always)]
fn hash32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7FEB_352D);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846C_A68B);
    x ^= x >> 16;
    x
}

/// TPDF dither for sample `n` of the stream `key`, in steps of 2^−16 LSB: the sum of two
/// independent uniforms on (−½, ½) LSB (the two 16-bit halves of the hash, each centred exactly), so
/// the value lies in (−1, 1) LSB with a triangular density and zero mean.
#[inline(always)]
fn tpdf_steps(n: u32, key: u32) -> i32 {
    let h = hash32(n ^ key);
    // (high + ½)/2^16 − ½ + (low + ½)/2^16 − ½ = (high + low + 1 − 2^16)/2^16: an exact integer sum.
    (h >> 16) as i32 + (h & 0xFFFF) as i32 + (1 - 65_536)
}

/// The dither of `frames` consecutive samples from `counter` (a pure 32-bit integer loop, so it
/// vectorises 8 lanes wide with AVX2).
#[inline(always)]
fn dither_steps_kernel(counter: u32, key: u32, frames: usize, steps: &mut [i32; CHUNK_FRAMES]) {
    for (i, step) in steps.iter_mut().enumerate().take(frames) {
        *step = tpdf_steps(counter.wrapping_add(i as u32), key);
    }
}

/// Round to nearest, ties to even (|v| < 2^51).
#[inline(always)]
fn round_to_integer(v: f64) -> f64 {
    (v + ROUND_MAGIC) - ROUND_MAGIC
}

/// Clips a code to the word length's range.
#[inline(always)]
fn clip_code(q: f64, quantizer: &Quantizer) -> f64 {
    let q = if q > quantizer.highest { quantizer.highest } else { q };
    if q < quantizer.lowest {
        quantizer.lowest
    } else {
        q
    }
}

/// The (left, right) dither of `frames` consecutive frames from `counter`, for the noise shaper
/// (a pure 32-bit integer loop: 4 frames per 8-lane vector with AVX2).
#[inline(always)]
fn dither_pairs_kernel(counter: u32, frames: usize, pairs: &mut [[i32; 2]; CHUNK_FRAMES]) {
    let [key_left, key_right] = CHANNEL_KEYS;
    for (i, pair) in pairs.iter_mut().enumerate().take(frames) {
        let n = counter.wrapping_add(i as u32);
        *pair = [tpdf_steps(n, key_left), tpdf_steps(n, key_right)];
    }
}

/// TPDF dither and rounding of one channel (straight loops, vectorised).
#[inline(always)]
fn tpdf_kernel(quantizer: &Quantizer, counter: u32, key: u32, samples: &mut [f32]) {
    let mut steps = [0i32; CHUNK_FRAMES];
    dither_steps_kernel(counter, key, samples.len(), &mut steps);
    for (x, &step) in samples.iter_mut().zip(steps.iter()) {
        let dither = step as f64 * TWO_POW_MINUS_16;
        let code =
            clip_code(round_to_integer(sanitize_sample(*x) as f64 * quantizer.scale + dither), quantizer);
        *x = (code * quantizer.inv_scale) as f32;
    }
}

/// Builds of the straight loops: portable, and on x86-64 the same code compiled for AVX2.
#[derive(Debug, Clone, Copy)]
struct Kernels {
    /// The CPU has AVX2 (checked once in `new`).
    #[cfg(target_arch = "x86_64")]
    avx2: bool,
    /// Tests: run the noise shaper on [`ScalarPair`] (the build for targets without SSE2).
    #[cfg(test)]
    scalar_lanes: bool,
}

impl Kernels {
    fn detect() -> Self {
        Self {
            #[cfg(target_arch = "x86_64")]
            avx2: std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(test)]
            scalar_lanes: false,
        }
    }

    #[inline]
    fn tpdf(&self, quantizer: &Quantizer, counter: u32, key: u32, samples: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is true only when the CPU reported AVX2 support in `detect`.
            unsafe { tpdf_avx2(quantizer, counter, key, samples) };
            return;
        }
        tpdf_kernel(quantizer, counter, key, samples);
    }

    #[inline]
    fn dither_pairs(&self, counter: u32, frames: usize, pairs: &mut [[i32; 2]; CHUNK_FRAMES]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is true only when the CPU reported AVX2 support in `detect`.
            unsafe { dither_pairs_avx2(counter, frames, pairs) };
            return;
        }
        dither_pairs_kernel(counter, frames, pairs);
    }

    #[inline]
    fn shape(
        &self,
        shaper: &Shaper,
        history: &mut [[f64; 2]; SHAPER_STATE_LEN],
        left: &mut [f32],
        right: &mut [f32],
    ) {
        #[cfg(test)]
        if self.scalar_lanes {
            shape_kernel::<ScalarPair>(shaper, history, left, right);
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is true only when the CPU reported AVX2 support in `detect`.
            unsafe { shape_avx2(shaper, history, left, right) };
            return;
        }
        shape_kernel::<Pair>(shaper, history, left, right);
    }
}

/// [`tpdf_kernel`] compiled for AVX2 (same operations, so the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn tpdf_avx2(quantizer: &Quantizer, counter: u32, key: u32, samples: &mut [f32]) {
    tpdf_kernel(quantizer, counter, key, samples);
}

/// [`dither_pairs_kernel`] compiled for AVX2 (the same integer operations, so the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dither_pairs_avx2(counter: u32, frames: usize, pairs: &mut [[i32; 2]; CHUNK_FRAMES]) {
    dither_pairs_kernel(counter, frames, pairs);
}

/// One chunk of the error-feedback loop: what it needs besides the audio and the state.
struct Shaper<'a> {
    /// Word length and range.
    quantizer: &'a Quantizer,
    /// TPDF dither of (left, right) per frame, in steps of 2^−16 LSB (computed ahead, so its long
    /// latency stays out of the loop).
    dither: &'a [[i32; 2]; CHUNK_FRAMES],
    /// Blanked samples per channel, when there are any.
    blank: Option<&'a [[bool; CHUNK_FRAMES]; 2]>,
}

/// The error-feedback loop over one chunk (≤ [`CHUNK_FRAMES`]), in place, on the lanes `P`.
#[inline(always)]
fn shape_kernel<P: StereoLanes>(
    shaper: &Shaper,
    history: &mut [[f64; 2]; SHAPER_STATE_LEN],
    left: &mut [f32],
    right: &mut [f32],
) {
    match shaper.blank {
        Some(blank) => shape_loop::<P, true>(shaper, blank, history, left, right),
        None => shape_loop::<P, false>(shaper, &[[false; CHUNK_FRAMES]; 2], history, left, right),
    }
}

/// [`shape_kernel`] compiled for AVX2 (VEX encoding; the same IEEE operations, so the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn shape_avx2(
    shaper: &Shaper,
    history: &mut [[f64; 2]; SHAPER_STATE_LEN],
    left: &mut [f32],
    right: &mut [f32],
) {
    shape_kernel::<Pair>(shaper, history, left, right);
}

/// Both channels side by side as one (left, right) vector, in one loop. The dither hash is computed
/// ahead ([`dither_pairs_kernel`]): its ≈ 40-cycle latency would otherwise need more iterations in
/// flight than a core shared by two threads provides.
///
/// The quantizer of the module doc is `v[n] = x[n] − T_2[n] − h_1·e[n−1]`, `q[n] = round(v[n] + d[n])`,
/// `e[n] = q[n] − v[n]`. Written that way the loop-carried chain is e → ×h_1 → − → round → − (≈ 12
/// cycles). With `e[n−1] = q[n−1] − v[n−1]` substituted,
/// `v[n] = (x[n] − T_2[n] + h_1·v[n−1]) − h_1·q[n−1]`, and the chain from one code to the next is
/// ×h_1 → − → round (≈ 10 cycles); `e[n]` is still formed (for the older taps), off that chain.
/// The values differ from the textbook order only by f64 rounding (relative 1e−16; the tests
/// compare with a textbook implementation).
#[inline(always)]
fn shape_loop<P: StereoLanes, const BLANK: bool>(
    shaper: &Shaper,
    blank: &[[bool; CHUNK_FRAMES]; 2],
    history: &mut [[f64; 2]; SHAPER_STATE_LEN],
    left: &mut [f32],
    right: &mut [f32],
) {
    let q = shaper.quantizer;
    let h = F_WEIGHTED_44K1.map(P::splat);
    let round_magic = P::splat(ROUND_MAGIC);
    let dither_step = P::splat(TWO_POW_MINUS_16);
    let scale = P::splat(q.scale);
    let (lowest, highest, inv_scale) = (P::splat(q.lowest), P::splat(q.highest), P::splat(q.inv_scale));
    // Taps 2..9 run in transposed form, so every partial sum is computed once and nothing is shifted
    // around: T_j(n) = Σ_{k=j..9} h_k·e[n+j−2−k], so T_2(n) = Σ_{k=2..9} h_k·e[n−k] is the older
    // taps' feedback at sample n. `code1` is q[n−1], `scaled_v1` is h_1·v[n−1].
    let [mut e1, mut t2, mut t3, mut t4, mut t5, mut t6, mut t7, mut t8, mut t9, mut code1, mut scaled_v1] =
        history.map(P::from_array);
    let [blank_left, blank_right] = blank;
    let frames = left.iter_mut().zip(right.iter_mut()).zip(blank_left.iter().zip(blank_right));
    for (((l, r), (&bl, &br)), &dither) in frames.zip(shaper.dither) {
        let dither = P::from_i32(dither).mul(dither_step);
        let target = P::from_f32(*l, *r).mul(scale).sub(t2).add(scaled_v1);
        let newest = code1.mul(h[0]);
        let v = target.sub(newest);
        let w = target.add(dither).sub(newest);
        // Round to nearest (ties to even): see `round_to_integer`.
        let code = w.add(round_magic).sub(round_magic);
        // Error of the unclipped quantizer, |e| ≤ 1.5 LSB: the loop stays bounded. A blanked sample
        // leaves no error behind (its q and v count as 0).
        let error = code.sub(v);
        let (error, code_fed_back, v_fed_back) = if BLANK {
            (error.zero_where(bl, br), code.zero_where(bl, br), v.zero_where(bl, br))
        } else {
            (error, code, v)
        };
        // T_j(n+1) = T_{j+1}(n) + h_j·e[n−1]: only the previous error enters (off the critical
        // path); e[n] enters the partial sums one sample later.
        t2 = t3.add(h[1].mul(e1));
        t3 = t4.add(h[2].mul(e1));
        t4 = t5.add(h[3].mul(e1));
        t5 = t6.add(h[4].mul(e1));
        t6 = t7.add(h[5].mul(e1));
        t7 = t8.add(h[6].mul(e1));
        t8 = t9.add(h[7].mul(e1));
        t9 = h[8].mul(e1);
        e1 = error;
        code1 = code_fed_back;
        scaled_v1 = h[0].mul(v_fed_back);
        // Only the output is clipped to the word length; the clipping error is never fed back.
        let out = code.min(highest).max(lowest).mul(inv_scale);
        let out = if BLANK { out.zero_where(bl, br) } else { out };
        (*l, *r) = out.to_f32();
    }
    *history = [e1, t2, t3, t4, t5, t6, t7, t8, t9, code1, scaled_v1].map(P::to_array);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use std::f64::consts::PI;

    fn settings(mode: DitherMode, word_length: WordLength, auto_blank: bool) -> DitherSettings {
        DitherSettings { mode, word_length, auto_blank, bypass: false }
    }

    /// Renders `left`/`right` through `dither` in blocks of `block` frames.
    fn render(dither: &mut Dither, left: &[f32], right: &[f32], block: usize) -> (Vec<f32>, Vec<f32>) {
        let (mut l, mut r) = (left.to_vec(), right.to_vec());
        for (bl, br) in l.chunks_mut(block).zip(r.chunks_mut(block)) {
            dither.process(bl, br);
        }
        (l, r)
    }

    fn render_mono(fs: f64, s: &DitherSettings, input: &[f32]) -> Vec<f32> {
        let mut dither = Dither::new(fs, s);
        render(&mut dither, input, input, 64).0
    }

    /// In-place iterative radix-2 FFT (length a power of two).
    fn fft(re: &mut [f64], im: &mut [f64]) {
        let n = re.len();
        let mut j = 0;
        for i in 1..n {
            let mut bit = n >> 1;
            while j & bit != 0 {
                j ^= bit;
                bit >>= 1;
            }
            j |= bit;
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let mut len = 2;
        while len <= n {
            let angle = -2.0 * PI / len as f64;
            for start in (0..n).step_by(len) {
                for k in 0..len / 2 {
                    let (s, c) = (angle * k as f64).sin_cos();
                    let (a, b) = (start + k, start + k + len / 2);
                    let tr = re[b] * c - im[b] * s;
                    let ti = re[b] * s + im[b] * c;
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
            }
            len <<= 1;
        }
    }

    /// One-sided power per bin (rectangular window): a sine of amplitude A on a bin reads A²/2,
    /// white noise of variance σ² reads 2σ²/N per bin.
    fn power_spectrum(x: &[f64]) -> Vec<f64> {
        let n = x.len();
        let mut re = x.to_vec();
        let mut im = vec![0.0; n];
        fft(&mut re, &mut im);
        (0..n / 2).map(|k| 2.0 * (re[k] * re[k] + im[k] * im[k]) / (n as f64 * n as f64)).collect()
    }

    /// Welch power spectral density with a Hann window: white noise of variance σ² reads σ² in
    /// every bin.
    fn welch_psd(x: &[f64], segment: usize) -> Vec<f64> {
        let window: Vec<f64> =
            (0..segment).map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / segment as f64).cos()).collect();
        let window_power: f64 = window.iter().map(|w| w * w).sum();
        let mut psd = vec![0.0; segment / 2];
        let mut count = 0;
        for seg in x.chunks_exact(segment) {
            let mut re: Vec<f64> = seg.iter().zip(&window).map(|(s, w)| s * w).collect();
            let mut im = vec![0.0; segment];
            fft(&mut re, &mut im);
            for (k, p) in psd.iter_mut().enumerate() {
                *p += (re[k] * re[k] + im[k] * im[k]) / window_power;
            }
            count += 1;
        }
        psd.iter_mut().for_each(|p| *p /= count as f64);
        psd
    }

    /// |1 − H(e^jω)|² of the F-weighted shaper at normalised frequency `f_norm` (cycles/sample),
    /// evaluated directly from the published coefficients.
    fn ntf_power(f_norm: f64) -> f64 {
        let (mut re, mut im) = (1.0, 0.0);
        for (k, h) in F_WEIGHTED_44K1.iter().enumerate() {
            let phase = -2.0 * PI * f_norm * (k + 1) as f64;
            re -= h * phase.cos();
            im -= h * phase.sin();
        }
        re * re + im * im
    }

    fn db(power_ratio: f64) -> f64 {
        10.0 * power_ratio.log10()
    }

    fn lsb(word_length: WordLength) -> f64 {
        1.0 / word_length.steps_per_unit()
    }

    fn assert_on_grid(output: &[f32], word_length: WordLength) {
        let scale = word_length.steps_per_unit();
        for &y in output {
            let code = y as f64 * scale;
            assert!(code == code.round(), "{y} is off the {}-bit grid", word_length.bits());
            assert!(
                code >= -scale && code <= scale - 1.0,
                "{y} outside the {}-bit range",
                word_length.bits()
            );
        }
    }

    fn sine(amplitude: f64, cycles_per_sample: f64, n: usize) -> Vec<f32> {
        (0..n).map(|i| (amplitude * (2.0 * PI * cycles_per_sample * i as f64).sin()) as f32).collect()
    }

    #[test]
    fn tpdf_noise_floor_matches_theory() {
        // Theory: TPDF (variance 2·LSB²/12) + rounding (LSB²/12) = LSB²/4, RMS = LSB/2.
        let n = 1 << 20;
        let dc = 1.0e-6f32; // −120 dBFS, never exactly zero (no blanking involved)
        let input = vec![dc; n];
        for word_length in [WordLength::Bits16, WordLength::Bits20, WordLength::Bits24] {
            let out = render_mono(48_000.0, &settings(DitherMode::Tpdf, word_length, false), &input);
            let error: Vec<f64> = out.iter().map(|&y| y as f64 - dc as f64).collect();
            let rms = (error.iter().map(|e| e * e).sum::<f64>() / n as f64).sqrt();
            let mean_out = out.iter().map(|&y| y as f64).sum::<f64>() / n as f64;
            let expected_db = 20.0 * (lsb(word_length) / 2.0).log10();
            let measured_db = 20.0 * rms.log10();
            println!(
                "TPDF {} bits: noise floor {measured_db:.2} dBFS RMS (theory {expected_db:.2}), output mean \
                 {mean_out:.3e} for a {dc:e} input",
                word_length.bits()
            );
            assert!((measured_db - expected_db).abs() < 0.5);
            // Dither linearises: the mean of the output is the sub-LSB input (6σ of the mean).
            let sigma_mean = lsb(word_length) / 2.0 / (n as f64).sqrt();
            assert!((mean_out - dc as f64).abs() < 6.0 * sigma_mean);
        }
        let floor_16 = 20.0 * (2f64.powi(-15) / 2.0).log10();
        assert!((floor_16 + 96.33).abs() < 0.01);
    }

    #[test]
    fn tpdf_error_power_is_independent_of_the_signal_offset() {
        // The defining property of TPDF: total error variance LSB²/4 for any input. Undithered
        // rounding (0 .. LSB²/4) and RPDF dither (LSB²/12 .. LSB²/4 + ...) would vary with the offset.
        let n = 1 << 18;
        let word_length = WordLength::Bits16;
        for offset_lsb in [0.0, 0.1, 0.25, 0.5, 0.75] {
            let x = (offset_lsb + 3.0) * lsb(word_length);
            let out =
                render_mono(48_000.0, &settings(DitherMode::Tpdf, word_length, false), &vec![x as f32; n]);
            let errors: Vec<f64> =
                out.iter().map(|&y| (y as f64 - x as f32 as f64) / lsb(word_length)).collect();
            let mean = errors.iter().sum::<f64>() / n as f64;
            let variance = errors.iter().map(|e| (e - mean) * (e - mean)).sum::<f64>() / n as f64;
            println!("offset {offset_lsb} LSB: error mean {mean:+.4} LSB, variance {variance:.4} LSB² (theory 0.25)");
            assert!((variance - 0.25).abs() < 0.25 * 0.02);
            assert!(mean.abs() < 0.005);
        }
    }

    #[test]
    fn dither_removes_the_harmonics_of_a_minus_90_dbfs_tone() {
        let n = 1 << 16;
        let fs = 48_000.0;
        let k0 = 1365; // 999.76 Hz, exactly on a bin (coherent, no window)
        let amplitude = 10f64.powf(-90.0 / 20.0);
        let input = sine(amplitude, k0 as f64 / n as f64, n);
        let word_length = WordLength::Bits16;
        let scale = word_length.steps_per_unit();
        let dithered = render_mono(fs, &settings(DitherMode::Tpdf, word_length, false), &input);
        // Independent reference: plain rounding to 16 bits.
        let rounded: Vec<f64> = input.iter().map(|&x| (x as f64 * scale).round() / scale).collect();
        let dithered_spectrum = power_spectrum(&dithered.iter().map(|&y| y as f64).collect::<Vec<_>>());
        let rounded_spectrum = power_spectrum(&rounded);
        let harmonic_bins: Vec<usize> = (2..=9).map(|m| m * k0).collect();
        let is_signal = |k: usize| k == 0 || (1..=9).any(|m| (k as i64 - (m * k0) as i64).abs() <= 1);
        let noise_bins: Vec<f64> =
            dithered_spectrum.iter().enumerate().filter(|(k, _)| !is_signal(*k)).map(|(_, &p)| p).collect();
        let floor = noise_bins.iter().sum::<f64>() / noise_bins.len() as f64;
        // Theory: LSB²/4 spread over N/2 bins.
        let floor_theory = 2.0 * (lsb(word_length) * lsb(word_length) / 4.0) / n as f64;
        let fundamental_db = db(dithered_spectrum[k0] / 0.5);
        println!(
            "−90 dBFS tone, 16 bits: fundamental {fundamental_db:.2} dBFS, dithered bin floor {:.1} dB (theory {:.1})",
            db(floor),
            db(floor_theory)
        );
        assert!((fundamental_db + 90.0).abs() < 0.3);
        assert!((db(floor) - db(floor_theory)).abs() < 0.2);
        let mut worst_dithered = f64::MIN;
        let mut best_rounded = f64::MIN;
        for &k in &harmonic_bins {
            let d = db(dithered_spectrum[k] / floor);
            let r = db(rounded_spectrum[k] / floor);
            println!("harmonic {}: dithered {d:+.1} dB re bin floor, undithered {r:+.1} dB", k / k0);
            worst_dithered = worst_dithered.max(d);
            best_rounded = best_rounded.max(r);
        }
        // Dithered: no harmonic stands out (a noise bin exceeds +10 dB with probability e^−10).
        assert!(worst_dithered < 10.0, "dithered harmonic {worst_dithered:.1} dB above the floor");
        // Undithered: distortion far above that same floor (theory: 5th harmonic ≈ +34 dB).
        assert!(best_rounded > 25.0, "undithered harmonics only {best_rounded:.1} dB above the floor");
    }

    #[test]
    fn error_is_uncorrelated_with_the_signal() {
        let n = 1 << 20;
        let amplitude = 10f64.powf(-90.0 / 20.0);
        let input = sine(amplitude, 997.0 / 48_000.0, n);
        let scale = WordLength::Bits16.steps_per_unit();
        for mode in [DitherMode::Tpdf, DitherMode::NoiseShaped] {
            let out = render_mono(48_000.0, &settings(mode, WordLength::Bits16, false), &input);
            let (mut exy, mut ee, mut xx) = (0.0, 0.0, 0.0);
            for (&y, &x) in out.iter().zip(&input) {
                let e = y as f64 - x as f64;
                exy += e * x as f64;
                ee += e * e;
                xx += x as f64 * x as f64;
            }
            let rho = exy / (ee * xx).sqrt();
            let mean_product = exy / n as f64;
            let sigma = (ee / n as f64).sqrt() * (xx / n as f64).sqrt() / (n as f64).sqrt();
            println!(
                "{mode:?}: corr(error, signal) = {rho:+.5} (|mean e·x| = {:.2} σ)",
                mean_product.abs() / sigma
            );
            assert!(mean_product.abs() < 4.0 * sigma);
        }
        // The undithered reference is clearly correlated.
        let (mut exy, mut ee, mut xx) = (0.0, 0.0, 0.0);
        for &x in &input {
            let e = (x as f64 * scale).round() / scale - x as f64;
            exy += e * x as f64;
            ee += e * e;
            xx += x as f64 * x as f64;
        }
        let rho = exy / (ee * xx).sqrt();
        println!("undithered rounding: corr(error, signal) = {rho:+.3}");
        assert!(rho.abs() > 0.1);
    }

    #[test]
    fn output_lies_on_the_grid_and_clips_to_the_range() {
        let mut rng = Rng::new(0x1234_5678);
        let mut input: Vec<f32> = (0..50_000).map(|_| (rng.range(-1.0, 1.0) * 1.3) as f32).collect();
        input.extend((0..5_000).map(|i| (i as f32 * 1e-9).sin() * 1e-8));
        input.extend([1.0, -1.0, 0.999_999_9, -0.999_999_9, 1.5, -1.5, 1e-30, -1e-30]);
        for word_length in [WordLength::Bits16, WordLength::Bits20, WordLength::Bits24] {
            for mode in [DitherMode::Tpdf, DitherMode::NoiseShaped] {
                for fs in [44_100.0, 96_000.0] {
                    let out = render_mono(fs, &settings(mode, word_length, true), &input);
                    assert_on_grid(&out, word_length);
                }
            }
        }
        // Full scale clips to the largest code.
        let out = render_mono(48_000.0, &settings(DitherMode::Tpdf, WordLength::Bits24, false), &[1.0; 16]);
        assert!(out.iter().all(|&y| y <= 1.0 - 2f32.powi(-23) && y >= 1.0 - 2f32.powi(-22)));
        let out = render_mono(48_000.0, &settings(DitherMode::Tpdf, WordLength::Bits16, false), &[-1.0; 16]);
        assert!(out.iter().all(|&y| y >= -1.0 && y <= -1.0 + 2f32.powi(-15)));
    }

    /// Band powers of the output error vs TPDF-white and vs σ²·|1 − H|², at `fs`.
    fn check_noise_shaped_spectrum(fs: f64) {
        let n = 1 << 20;
        let segment = 4096;
        let word_length = WordLength::Bits16;
        // A −70 dBFS noise signal: the error must not depend on it.
        let mut rng = Rng::new(0xDEAD_BEEF);
        let amplitude = 10f64.powf(-70.0 / 20.0) * 3f64.sqrt();
        let input: Vec<f32> = (0..n).map(|_| (rng.range(-1.0, 1.0) * amplitude) as f32).collect();
        let sigma2 = 0.25; // TPDF error variance in LSB²
        let mut results = Vec::new();
        for mode in [DitherMode::Tpdf, DitherMode::NoiseShaped] {
            let out = render_mono(fs, &settings(mode, word_length, false), &input);
            let error: Vec<f64> =
                out.iter().zip(&input).map(|(&y, &x)| (y as f64 - x as f64) / lsb(word_length)).collect();
            results.push(welch_psd(&error, segment));
        }
        let bands = [
            (200.0, 1_000.0),
            (2_000.0, 5_000.0),
            (8_000.0, 10_000.0),
            (15_000.0, 18_000.0),
            (19_000.0, 21_500.0),
        ];
        let mut band_db = Vec::new();
        for (lo, hi) in bands {
            let bins: Vec<usize> = (0..segment / 2)
                .filter(|&k| {
                    let f = k as f64 * fs / segment as f64;
                    f >= lo && f < hi
                })
                .collect();
            let mean = |psd: &Vec<f64>| bins.iter().map(|&k| psd[k]).sum::<f64>() / bins.len() as f64;
            let analytic =
                bins.iter().map(|&k| ntf_power(k as f64 / segment as f64)).sum::<f64>() / bins.len() as f64;
            let tpdf_db = db(mean(&results[0]) / sigma2);
            let shaped_db = db(mean(&results[1]) / sigma2);
            let analytic_db = db(analytic);
            println!(
                "fs {fs}: {lo:>6}–{hi:<6} Hz  TPDF {tpdf_db:+6.2} dB, noise-shaped {shaped_db:+6.2} dB, \
                 analytic |1−H|² {analytic_db:+6.2} dB (re white LSB²/4)"
            );
            assert!(tpdf_db.abs() < 0.3, "TPDF is white");
            assert!(
                (shaped_db - analytic_db).abs() < 1.0,
                "shaped band {lo}–{hi} Hz off the analytic response"
            );
            band_db.push((tpdf_db, shaped_db));
        }
        // Less noise where hearing is most sensitive, more near Nyquist.
        assert!(band_db[1].1 < band_db[1].0 - 15.0);
        assert!(band_db[4].1 > band_db[4].0 + 15.0);
    }

    #[test]
    fn noise_shaped_spectrum_follows_the_f_weighted_response_at_44k1() {
        check_noise_shaped_spectrum(44_100.0);
    }

    #[test]
    fn noise_shaped_spectrum_follows_the_f_weighted_response_at_48k() {
        check_noise_shaped_spectrum(48_000.0);
    }

    #[test]
    fn noise_shaper_survives_overload_without_runaway() {
        let fs = 44_100.0;
        let word_length = WordLength::Bits16;
        let s = settings(DitherMode::NoiseShaped, word_length, false);
        let mut dither = Dither::new(fs, &s);
        // 0 dBFS square, +6 dBFS sine, 1e6 DC, then a quiet −70 dBFS tone.
        let mut input: Vec<f32> = (0..20_000).map(|i| if (i / 50) % 2 == 0 { 1.0 } else { -1.0 }).collect();
        input.extend(sine(2.0, 1_000.0 / fs, 20_000));
        input.extend(vec![1.0e6f32; 5_000]);
        let quiet_start = input.len();
        input.extend(sine(10f64.powf(-70.0 / 20.0), 1_000.0 / fs, 1 << 17));
        let (out, _) = render(&mut dither, &input, &input, 64);
        assert_on_grid(&out, word_length);
        let feedback_bound = 1.5 * F_WEIGHTED_44K1.iter().map(|h| h.abs()).sum::<f64>();
        assert!(dither.history[0].iter().all(|e| e.abs() <= 1.5));
        assert!(dither.history[1..SHAPER_TAPS].iter().flatten().all(|t| t.abs() <= feedback_bound));
        // After the overload the shaped error is back at its theoretical power:
        // σ²·Σ(1, −h)² = ¼·(1 + Σh²) LSB².
        let tail = &out[quiet_start + 1000..];
        let tail_in = &input[quiet_start + 1000..];
        let power = tail
            .iter()
            .zip(tail_in)
            .map(|(&y, &x)| ((y as f64 - x as f64) / lsb(word_length)).powi(2))
            .sum::<f64>()
            / tail.len() as f64;
        let theory = 0.25 * (1.0 + F_WEIGHTED_44K1.iter().map(|h| h * h).sum::<f64>());
        println!("after overload: shaped error power {:.2} dB re LSB² (theory {:.2})", db(power), db(theory));
        assert!((db(power) - db(theory)).abs() < 0.5);
    }

    #[test]
    fn auto_blank_outputs_exact_zeros_and_resumes_at_once() {
        for fs in [44_100.0, 48_000.0] {
            let limit = (AUTO_BLANK_MS * 1e-3 * fs).round() as usize;
            for mode in [DitherMode::Tpdf, DitherMode::NoiseShaped] {
                let word_length = WordLength::Bits16;
                // A fresh instance on silence: exact zeros from the first sample.
                let out = render_mono(fs, &settings(mode, word_length, true), &vec![0.0; 10_000]);
                assert!(out.iter().all(|&y| y.to_bits() == 0));
                // Audio, silence, then a tiny signal far below ½ LSB.
                let mut rng = Rng::new(99);
                let audio = 3_000;
                let silence = 20_000;
                let mut input: Vec<f32> = (0..audio).map(|_| (rng.range(-1.0, 1.0) * 0.01) as f32).collect();
                input.extend(vec![0.0; silence]);
                input.extend(vec![1.0e-7; 5_000]);
                let blanked = render_mono(fs, &settings(mode, word_length, true), &input);
                let plain = render_mono(fs, &settings(mode, word_length, false), &input);
                let tpdf_plain = render_mono(fs, &settings(DitherMode::Tpdf, word_length, false), &input);
                let first_blank = audio + limit - 1;
                let resume = audio + silence;
                assert_eq!(
                    blanked[..first_blank],
                    plain[..first_blank],
                    "dithered until {AUTO_BLANK_MS} ms of silence"
                );
                assert!(blanked[first_blank..resume].iter().all(|&y| y.to_bits() == 0), "exact zeros");
                assert!(
                    plain[first_blank..resume].iter().any(|&y| y != 0.0),
                    "without blanking: dither noise"
                );
                // The first non-zero sample is dithered at once; with a cleared error history the
                // noise shaper's first sample is plain TPDF of the same dither value.
                let reference = if mode == DitherMode::Tpdf { &plain } else { &tpdf_plain };
                assert_eq!(blanked[resume], reference[resume]);
                if mode == DitherMode::Tpdf {
                    assert_eq!(blanked[resume..], plain[resume..]);
                }
                let nonzero = blanked[resume..].iter().filter(|&&y| y != 0.0).count();
                println!(
                    "fs {fs} {mode:?}: blank after {limit} zeros; {nonzero} of 5000 resumed samples non-zero \
                     (TPDF on a 0.003 LSB input: ≈ 25 % in theory)"
                );
                assert!(nonzero > 1_000);
            }
        }
    }

    #[test]
    fn auto_blank_is_per_channel() {
        let fs = 48_000.0;
        let mut dither = Dither::new(fs, &settings(DitherMode::Tpdf, WordLength::Bits16, true));
        let left = vec![0.0f32; 20_000];
        let right = vec![1.0e-7f32; 20_000];
        let (l, r) = render(&mut dither, &left, &right, 64);
        assert!(l.iter().all(|&y| y.to_bits() == 0));
        assert!(r.iter().filter(|&&y| y != 0.0).count() > 2_000);
    }

    #[test]
    fn channels_have_independent_dither() {
        let n = 1 << 18;
        let input = vec![1.0e-6f32; n];
        let mut dither = Dither::new(48_000.0, &settings(DitherMode::Tpdf, WordLength::Bits16, false));
        let (l, r) = render(&mut dither, &input, &input, 64);
        let (mut lr, mut ll, mut rr) = (0.0, 0.0, 0.0);
        for ((&a, &b), &x) in l.iter().zip(&r).zip(&input) {
            let (ea, eb) = (a as f64 - x as f64, b as f64 - x as f64);
            lr += ea * eb;
            ll += ea * ea;
            rr += eb * eb;
        }
        let rho = lr / (ll * rr).sqrt();
        println!("corr(left error, right error) = {rho:+.5}");
        assert!(rho.abs() < 4.0 / (n as f64).sqrt());
    }

    fn test_signal(n: usize) -> Vec<f32> {
        let mut rng = Rng::new(7);
        (0..n)
            .map(|i| match (i / 3000) % 4 {
                0 => (rng.range(-1.0, 1.0) * 0.3) as f32,
                1 => 0.0,
                2 => (0.5 * (i as f64 * 0.05).sin()) as f32,
                _ => 1.0e-6,
            })
            .collect()
    }

    #[test]
    fn block_size_invariance() {
        let n = 30_000;
        let left = test_signal(n);
        let right: Vec<f32> = left.iter().rev().copied().collect();
        for mode in [DitherMode::Off, DitherMode::Tpdf, DitherMode::NoiseShaped] {
            let s = settings(mode, WordLength::Bits16, true);
            let reference = render(&mut Dither::new(44_100.0, &s), &left, &right, n);
            for block in [1, 7, 64, 4096] {
                assert_eq!(
                    render(&mut Dither::new(44_100.0, &s), &left, &right, block),
                    reference,
                    "{mode:?} {block}"
                );
            }
            let mut dither = Dither::new(44_100.0, &s);
            let mut rng = Rng::new(3);
            let (mut l, mut r) = (left.clone(), right.clone());
            let mut start = 0;
            while start < n {
                let end = (start + 1 + (rng.next_u64() % 700) as usize).min(n);
                dither.process(&mut l[start..end], &mut r[start..end]);
                start = end;
            }
            assert_eq!((l, r), reference, "{mode:?} random blocks");
        }
    }

    #[test]
    fn bypass_toggles_are_block_size_invariant() {
        // Settings change at the same sample positions (multiples of 448 = 7·64) for every partition.
        let n = 448 * 40;
        let left = test_signal(n);
        let right = left.clone();
        let run = |block: usize| {
            let mut s = settings(DitherMode::NoiseShaped, WordLength::Bits16, true);
            let mut dither = Dither::new(48_000.0, &s);
            let (mut l, mut r) = (left.clone(), right.clone());
            for (i, (bl, br)) in l.chunks_mut(block).zip(r.chunks_mut(block)).enumerate() {
                let position = i * block;
                if position.is_multiple_of(448) {
                    s.bypass = (position / 448) % 5 == 2;
                    s.mode =
                        if (position / 448) % 7 == 3 { DitherMode::Off } else { DitherMode::NoiseShaped };
                    dither.set_settings(&s);
                }
                dither.process(bl, br);
            }
            (l, r)
        };
        let reference = run(448);
        for block in [1, 7, 64] {
            assert!(run(block) == reference, "block {block}");
        }
    }

    #[test]
    fn reset_equals_a_fresh_instance() {
        let left = test_signal(20_000);
        let right: Vec<f32> = left.iter().map(|x| -x).collect();
        for mode in [DitherMode::Tpdf, DitherMode::NoiseShaped] {
            let s = settings(mode, WordLength::Bits16, true);
            let mut dither = Dither::new(48_000.0, &s);
            render(&mut dither, &left, &right, 64);
            // Leave a crossfade in flight too.
            dither.set_settings(&DitherSettings { bypass: true, ..s });
            render(&mut dither, &left[..100], &right[..100], 64);
            dither.reset();
            let after_reset = render(&mut dither, &left, &right, 64);
            let mut fresh = Dither::new(48_000.0, &DitherSettings { bypass: true, ..s });
            assert_eq!(after_reset, render(&mut fresh, &left, &right, 64));
            dither.set_settings(&s);
            fresh.set_settings(&s);
            dither.reset();
            let after_reset = render(&mut dither, &left, &right, 64);
            assert_eq!(after_reset, render(&mut Dither::new(48_000.0, &s), &left, &right, 64));
        }
    }

    #[test]
    fn neutral_and_bypass_are_bit_exact_with_zero_latency() {
        let mut rng = Rng::new(11);
        let mut input: Vec<f32> = (0..5_000).map(|_| rng.range(-1.0, 1.0) as f32 * 0.7).collect();
        input.extend([f32::MIN_POSITIVE / 8.0, 1.0e-30, 2.0, -3.0]);
        let default = DitherSettings::default();
        assert_eq!(default.mode, DitherMode::Off);
        assert_eq!(default.word_length.bits(), 24);
        assert!(default.auto_blank && !default.bypass);
        let bypassed =
            DitherSettings { bypass: true, ..settings(DitherMode::NoiseShaped, WordLength::Bits16, true) };
        for s in [default, bypassed] {
            let mut dither = Dither::new(48_000.0, &s);
            assert_eq!(dither.latency_samples(), 0);
            let (l, r) = render(&mut dither, &input, &input, 37);
            assert!(l.iter().zip(&input).all(|(a, b)| a.to_bits() == b.to_bits()));
            assert!(r.iter().zip(&input).all(|(a, b)| a.to_bits() == b.to_bits()));
            let mut impulse = vec![0.0f32; 64];
            impulse[0] = 0.5;
            let (l, _) = render(&mut dither, &impulse, &impulse, 64);
            assert_eq!(l, impulse, "impulse at latency 0");
        }
    }

    #[test]
    fn bypass_crossfades_without_a_click_and_ends_bit_exact() {
        let fs = 48_000.0;
        let word_length = WordLength::Bits16;
        let mut s = settings(DitherMode::NoiseShaped, word_length, true);
        let mut dither = Dither::new(fs, &s);
        let input = sine(0.5, 440.0 / fs, 48_000);
        let fade = (crate::dsp::bypass::BYPASS_FADE_MS * 1e-3 * fs) as usize;
        let (mut l, mut r) = (input.clone(), input.clone());
        let bound = 1.5 * (1.0 + F_WEIGHTED_44K1.iter().map(|h| h.abs()).sum::<f64>()) * lsb(word_length);
        for (i, (bl, br)) in l.chunks_mut(64).zip(r.chunks_mut(64)).enumerate() {
            match i {
                100 => s.bypass = true,
                300 => s.bypass = false,
                500 => s.mode = DitherMode::Off,
                _ => {}
            }
            dither.set_settings(&s);
            dither.process(bl, br);
        }
        let max_dev = l.iter().zip(&input).map(|(&y, &x)| (y as f64 - x as f64).abs()).fold(0.0, f64::max);
        println!(
            "largest |out − in| through bypass toggles: {:.2} LSB (bound {:.1})",
            max_dev / lsb(word_length),
            bound / lsb(word_length)
        );
        assert!(max_dev <= bound);
        let bypassed = 100 * 64 + fade..300 * 64;
        assert!(l[bypassed.clone()].iter().zip(&input[bypassed]).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert_on_grid(&l[300 * 64 + fade..500 * 64], word_length);
        let off = 500 * 64 + fade..;
        assert!(l[off.clone()].iter().zip(&input[off]).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn word_length_and_mode_changes_apply_at_the_next_block() {
        let fs = 44_100.0;
        let mut s = settings(DitherMode::Tpdf, WordLength::Bits24, false);
        let mut dither = Dither::new(fs, &s);
        let input = sine(0.25, 1_000.0 / fs, 64 * 30);
        let (mut l, mut r) = (input.clone(), input.clone());
        for (i, (bl, br)) in l.chunks_mut(64).zip(r.chunks_mut(64)).enumerate() {
            s.word_length = [WordLength::Bits24, WordLength::Bits16, WordLength::Bits20][(i / 10) % 3];
            s.mode = if i % 2 == 0 { DitherMode::Tpdf } else { DitherMode::NoiseShaped };
            dither.set_settings(&s);
            dither.process(bl, br);
            assert_on_grid(bl, s.word_length);
            let bound = 1.5 * 22.0 * lsb(s.word_length);
            assert!(bl.iter().zip(&input[i * 64..]).all(|(&y, &x)| (y as f64 - x as f64).abs() <= bound));
        }
    }

    #[test]
    fn hostile_input_gives_finite_output_and_recovers() {
        let fs = 48_000.0;
        for mode in [DitherMode::Tpdf, DitherMode::NoiseShaped] {
            let word_length = WordLength::Bits16;
            let mut dither = Dither::new(fs, &settings(mode, word_length, true));
            let mut input =
                vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.0e30, -1.0e30, f32::MAX, f32::MIN];
            input.extend(vec![1.0f32; 1_000]);
            input.extend(vec![f32::MIN_POSITIVE / 4.0; 1_000]);
            input.extend(vec![0.0; 10_000]);
            let (l, r) = render(&mut dither, &input, &input, 64);
            assert!(l.iter().chain(&r).all(|y| y.is_finite()));
            assert_on_grid(&l, word_length);
            assert!(
                l[l.len() - 1000..].iter().all(|&y| y.to_bits() == 0),
                "silence after loud audio is silent"
            );
            assert!(dither.history[0].iter().all(|e| e.abs() <= 1.5));
            assert!(dither.history[1..SHAPER_TAPS].iter().flatten().all(|t| t.abs() <= 33.0));
            assert!(dither.history.iter().flatten().all(|t| t.is_finite() && !t.is_subnormal()));
            // Recovery: a tone afterwards is dithered normally.
            let tone = sine(0.1, 1_000.0 / fs, 4_096);
            let (l, _) = render(&mut dither, &tone, &tone, 64);
            let power = l
                .iter()
                .zip(&tone)
                .map(|(&y, &x)| ((y as f64 - x as f64) / lsb(word_length)).powi(2))
                .sum::<f64>()
                / tone.len() as f64;
            assert!(power < 0.25 * 70.0 * 1.3, "{mode:?}: error power {power}");
        }
    }

    #[test]
    fn sample_rates_from_8k_to_768k_work() {
        for fs in [
            8_000.0,
            22_050.0,
            44_100.0,
            48_000.0,
            96_000.0,
            192_000.0,
            768_000.0,
            12_345.678,
            0.0,
            f64::NAN,
            1e12,
        ] {
            let shaped = settings(DitherMode::NoiseShaped, WordLength::Bits16, true);
            let mut dither = Dither::new(fs, &shaped);
            let clamped = clamp_sample_rate_hz(fs);
            assert_eq!(dither.noise_shaping_active(), (40_000.0..64_000.0).contains(&clamped));
            let input = sine(0.5, 1_000.0 / clamped.max(2_500.0), 8_192);
            let (l, r) = render(&mut dither, &input, &input, 64);
            assert!(l.iter().chain(&r).all(|y| y.is_finite()));
            assert_on_grid(&l, WordLength::Bits16);
            if !dither.noise_shaping_active() {
                // Fallback: exactly the TPDF output.
                let tpdf = render_mono(fs, &settings(DitherMode::Tpdf, WordLength::Bits16, true), &input);
                assert_eq!(l, tpdf, "fs {fs}");
            }
            let silence = vec![0.0; (clamped * 0.06) as usize + 1];
            let (l, _) = render(&mut dither, &silence, &silence, 64);
            assert_eq!(*l.last().unwrap_or(&0.0), 0.0, "auto-blank at {fs}");
        }
    }

    /// Every build of the loops (portable, AVX2, scalar lanes for targets without SSE2) gives the
    /// same bits.
    #[test]
    fn all_builds_give_identical_bits() {
        let n = 20_000;
        let left = test_signal(n);
        let right: Vec<f32> = left.iter().map(|x| x * -0.7 + 1e-4).collect();
        for mode in [DitherMode::Tpdf, DitherMode::NoiseShaped] {
            for word_length in [WordLength::Bits16, WordLength::Bits24] {
                let s = settings(mode, word_length, true);
                let reference = render(&mut Dither::new(44_100.0, &s), &left, &right, 64);
                let mut variants = Vec::new();
                #[cfg(target_arch = "x86_64")]
                for avx2 in [false, true] {
                    let mut dither = Dither::new(44_100.0, &s);
                    dither.kernels.avx2 = avx2 && std::arch::is_x86_feature_detected!("avx2");
                    variants.push(dither);
                }
                let mut scalar = Dither::new(44_100.0, &s);
                scalar.kernels.scalar_lanes = true;
                variants.push(scalar);
                for mut dither in variants {
                    assert!(render(&mut dither, &left, &right, 64) == reference, "{mode:?} {word_length:?}");
                }
            }
        }
    }

    /// The noise shaper against a textbook error-feedback quantizer written out here (shift register
    /// of past errors, `v = x − Σ h_k·e[n−k]`, `q = round(v + d)`, `e = q − v`) with the same dither:
    /// the two differ only in f64 rounding, which can flip a rounding decision only when `v + d`
    /// lies within ~1e−12 LSB of a half-integer.
    #[test]
    fn noise_shaper_matches_a_textbook_error_feedback_quantizer() {
        let n = 200_000;
        let mut rng = Rng::new(41);
        let input: Vec<f32> =
            (0..n).map(|i| (0.3 * (i as f64 * 0.013).sin() + 1e-3 * rng.range(-1.0, 1.0)) as f32).collect();
        let word_length = WordLength::Bits16;
        let out = render_mono(44_100.0, &settings(DitherMode::NoiseShaped, word_length, false), &input);
        let scale = word_length.steps_per_unit();
        let mut errors = [0.0f64; SHAPER_TAPS]; // errors[k] = e[n−1−k]
        let mut differing = 0;
        for (i, (&x, &y)) in input.iter().zip(&out).enumerate() {
            let feedback: f64 = F_WEIGHTED_44K1.iter().zip(&errors).map(|(h, e)| h * e).sum();
            let v = x as f64 * scale - feedback;
            let d = tpdf_steps(i as u32, CHANNEL_KEYS[0]) as f64 / 65_536.0;
            let q = (v + d).round();
            errors.rotate_right(1);
            errors[0] = q - v;
            let expected = (q.clamp(-scale, scale - 1.0) / scale) as f32;
            if expected != y {
                differing += 1;
            }
        }
        println!("noise shaper vs textbook quantizer: {differing} of {n} samples differ");
        assert_eq!(differing, 0);
    }

    #[test]
    fn word_length_round_trips_bits() {
        for bits in [16, 20, 24] {
            assert_eq!(WordLength::from_bits(bits).map(WordLength::bits), Some(bits));
        }
        assert_eq!(WordLength::from_bits(8), None);
    }
}
