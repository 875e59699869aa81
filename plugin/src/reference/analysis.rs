//! Analysis of a loaded reference track, run once on the loader thread over the session-rate
//! audio that will play: the plugin's own loudness and true-peak meters (so the reference's
//! figures compare honestly with the live meters), whole-track width and correlation, a
//! 1/6-octave long-term spectrum of the mid signal and the 10 Hz short-term loudness curve.
//!
//! # Why the session-rate audio
//! The figures describe what the user hears from the reference slot, which is the resampled
//! audio; true peak in particular depends on it (resampling moves inter-sample peaks). Analysing
//! the source-rate audio in parallel with the resampling would not be faster on the target
//! machines: the work is the same per second of audio, and on two cores the resampling already
//! runs on both.
//!
//! # Parallelism
//! The work is split into independent tasks that run on up to [`MAX_ANALYSIS_THREADS`] threads
//! (the calling thread and scoped helpers, `run_parallel`): the true peak of each channel
//! (two one-channel [`TruePeakMeter`]s; a stereo meter's reading is the larger of its channels'
//! readings, and its channels do not interact), the loudness meter with the short-term curve,
//! and the spectrum with the stereo sums. Each meter still sees every sample in order, so the
//! readings are bit-identical to one [`crate::meters::MeterSet`] fed the whole track (the tests
//! check it).
//!
//! # Cancellation
//! `cancelled` is called only on the calling thread (it need not be `Sync`): every task polls a
//! shared flag about once per second of audio, and the calling thread refreshes that flag from
//! `cancelled` whenever it polls, and every millisecond while it waits for the helpers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use crate::dsp::sanitizer::sanitize_sample;
use crate::meters::{amplitude_to_db, LoudnessMeter, TruePeakMeter};

/// Number of bands of [`ReferenceAnalysis::spectrum_db`]: 1/6-octave bands from 20 Hz to
/// 20.48 kHz.
pub const SPECTRUM_BANDS: usize = 61;

/// Centre of the lowest spectrum band, Hz; band `k` is centred on `20 · 2^(k/6)` Hz.
pub const SPECTRUM_LOWEST_CENTRE_HZ: f64 = 20.0;

/// Bands per octave of the spectrum.
pub const SPECTRUM_BANDS_PER_OCTAVE: f64 = 6.0;

/// Level of a spectrum band with no power (silence, or above the Nyquist frequency), dB.
pub const SPECTRUM_FLOOR_DB: f32 = -150.0;

/// Interval of the short-term loudness curve, seconds (the loudness meter's 100 ms hop).
pub const SHORT_TERM_HOP_S: f64 = 0.1;

/// Frequency resolution of the long-term spectrum: one FFT covers about this many seconds
/// (rounded up to a power of two of samples: 32 768 at 44.1 and 48 kHz, 1.3–1.5 Hz per bin).
pub const SPECTRUM_WINDOW_S: f64 = 0.68;

/// Most threads an analysis (and the loader's resampling) runs on, the calling thread included.
pub const MAX_ANALYSIS_THREADS: usize = 4;

/// Smallest FFT of the long-term spectrum (short tracks use a shorter FFT), samples.
const MIN_SPECTRUM_FFT_SIZE: usize = 256;

/// Frames fed to a true-peak meter per call.
const TRUE_PEAK_BLOCK_FRAMES: usize = 4_096;

/// What the reference slot shows about its track. `None` means "no reading": the track is too
/// short for the measurement, silent, or (width, correlation) has a silent side.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceAnalysis {
    /// Integrated loudness (BS.1770-5, gated), LUFS.
    pub integrated_lufs: Option<f32>,
    /// Loudness range (EBU Tech 3342), LU.
    pub loudness_range_lu: Option<f32>,
    /// Highest true peak of the two channels (the plugin's meter, BS.1770-5 Annex 2), dBTP.
    pub true_peak_dbtp: Option<f32>,
    /// Highest short-term loudness (3 s), LUFS.
    pub max_short_term_lufs: Option<f32>,
    /// Highest momentary loudness (400 ms), LUFS.
    pub max_momentary_lufs: Option<f32>,
    /// Whole-track stereo width `200·Σside²/(Σmid² + Σside²)` with mid `(L+R)/2` and side
    /// `(L−R)/2`, percent: 0 mono, 100 one channel only (or side as loud as mid), 200 anti-phase
    /// (as `parity analyze` and the plugin's width meter define it). `None` for silence.
    pub width_percent: Option<f32>,
    /// Whole-track correlation of left and right (Pearson), −1…+1. `None` when either side is
    /// silent.
    pub correlation: Option<f32>,
    /// Long-term average power of the mid signal `(L+R)/2` per band, dB relative to a
    /// full-scale sine: a full-scale sine in both channels reads 0 dB in the band holding its
    /// frequency. Band `k` is centred on `20 · 2^(k/6)` Hz ([`spectrum_band_centre_hz`]) and
    /// spans `±1/12` octave. Never below [`SPECTRUM_FLOOR_DB`] (silence, bands above Nyquist).
    pub spectrum_db: [f32; SPECTRUM_BANDS],
    /// Short-term loudness every 100 ms, LUFS: entry `k` is the 3 s window ending at
    /// `(k + 1) · 0.1 s` (exactly, `(k + 1) · round(fs / 10)` samples). `NaN` before the window
    /// is full (the first 29 entries), `f32::NEG_INFINITY` for silence.
    pub short_term_lufs: Vec<f32>,
}

/// Centre frequency of spectrum band `band`, Hz: `20 · 2^(band/6)`.
pub fn spectrum_band_centre_hz(band: usize) -> f64 {
    SPECTRUM_LOWEST_CENTRE_HZ * 2_f64.powf(band as f64 / SPECTRUM_BANDS_PER_OCTAVE)
}

/// Edges `[low, high)` of spectrum band `band`, Hz: `±1/12` octave around its centre.
pub fn spectrum_band_edges_hz(band: usize) -> (f64, f64) {
    let centre = spectrum_band_centre_hz(band);
    let half = 2_f64.powf(0.5 / SPECTRUM_BANDS_PER_OCTAVE);
    (centre / half, centre * half)
}

/// Analyses a stereo track at `sample_rate_hz` (the two slices should have equal lengths; the
/// shorter length is used). Non-finite samples count as silence, as the plugin's sanitizer makes
/// them. Returns `None` when `cancelled` returned `true` (polled about once per second of audio
/// per task, on the calling thread only).
pub fn analyze_reference(
    left: &[f32],
    right: &[f32],
    sample_rate_hz: f64,
    cancelled: &dyn Fn() -> bool,
) -> Option<ReferenceAnalysis> {
    let frames = left.len().min(right.len());
    let (left, right) = (&left[..frames], &right[..frames]);
    let poll_frames = (sample_rate_hz.round() as usize).max(1);

    let mut peaks: [Option<f32>; 2] = [None, None];
    let mut loudness: Option<LoudnessReadings> = None;
    let mut mid: Option<MidReadings> = None;
    {
        let [peak_left, peak_right] = &mut peaks;
        let tasks: Vec<Task<'_>> = vec![
            Box::new(move |stop: &Stop<'_>| *peak_left = true_peak(left, sample_rate_hz, poll_frames, stop)),
            Box::new(move |stop: &Stop<'_>| {
                *peak_right = true_peak(right, sample_rate_hz, poll_frames, stop)
            }),
            Box::new(|stop: &Stop<'_>| {
                loudness = measure_loudness(left, right, sample_rate_hz, poll_frames, stop)
            }),
            Box::new(|stop: &Stop<'_>| mid = measure_mid(left, right, sample_rate_hz, poll_frames, stop)),
        ];
        if !run_parallel(tasks, cancelled) {
            return None;
        }
    }
    let ([Some(peak_left), Some(peak_right)], Some(loudness), Some(mid)) = (peaks, loudness, mid) else {
        return None;
    };
    let finite = |value: Option<f64>| value.filter(|v| v.is_finite()).map(|v| v as f32);
    let peak = peak_left.max(peak_right);
    Some(ReferenceAnalysis {
        integrated_lufs: finite(loudness.integrated_lufs),
        loudness_range_lu: finite(loudness.loudness_range_lu),
        true_peak_dbtp: finite(Some(amplitude_to_db(f64::from(peak)))),
        max_short_term_lufs: finite(loudness.max_short_term_lufs),
        max_momentary_lufs: finite(loudness.max_momentary_lufs),
        width_percent: (mid.sums.ll + mid.sums.rr > SILENT_SUM).then(|| mid.sums.width_percent() as f32),
        correlation: (mid.sums.ll > SILENT_SUM && mid.sums.rr > SILENT_SUM)
            .then(|| mid.sums.correlation() as f32),
        spectrum_db: mid.spectrum_db,
        short_term_lufs: loudness.short_term_lufs,
    })
}

/// Sums of squares at or below which a channel counts as silent for width and correlation.
const SILENT_SUM: f64 = 1e-20;

/// The loudness task's readings.
struct LoudnessReadings {
    /// Integrated loudness, LUFS.
    integrated_lufs: Option<f64>,
    /// Loudness range, LU.
    loudness_range_lu: Option<f64>,
    /// Highest short-term loudness, LUFS.
    max_short_term_lufs: Option<f64>,
    /// Highest momentary loudness, LUFS.
    max_momentary_lufs: Option<f64>,
    /// The 10 Hz short-term curve (see [`ReferenceAnalysis::short_term_lufs`]).
    short_term_lufs: Vec<f32>,
}

/// The mid/stereo task's readings.
struct MidReadings {
    /// Whole-track sums of the channel pair.
    sums: StereoSums,
    /// The mid spectrum per band (see [`ReferenceAnalysis::spectrum_db`]).
    spectrum_db: [f32; SPECTRUM_BANDS],
}

/// Held true peak of one channel as a linear amplitude (`None` if stopped).
fn true_peak(channel: &[f32], sample_rate_hz: f64, poll_frames: usize, stop: &Stop<'_>) -> Option<f32> {
    let mut meter = TruePeakMeter::new(sample_rate_hz, 1);
    let mut since_poll = 0;
    for block in channel.chunks(TRUE_PEAK_BLOCK_FRAMES) {
        // The meter's input must be sane (the loader's audio is; a caller's may not be).
        if block.iter().all(|x| x.abs() <= crate::dsp::sanitizer::MAX_SANE_SAMPLE) {
            meter.process(&[block]);
        } else {
            let clean: Vec<f32> = block.iter().map(|&x| sanitize_sample(x)).collect();
            meter.process(&[&clean]);
        }
        since_poll += block.len();
        if since_poll >= poll_frames {
            since_poll = 0;
            if stop.requested() {
                return None;
            }
        }
    }
    meter.true_peak_amplitude(0)
}

/// Loudness readings and the short-term curve of the pair (`None` if stopped).
fn measure_loudness(
    left: &[f32],
    right: &[f32],
    sample_rate_hz: f64,
    poll_frames: usize,
    stop: &Stop<'_>,
) -> Option<LoudnessReadings> {
    let mut meter = LoudnessMeter::new(sample_rate_hz, 2);
    // Less than one 100 ms hop per call, so every hop of the curve is seen.
    let chunk = ((sample_rate_hz / 20.0) as usize).max(1);
    let hops_expected = (left.len() as f64 / (sample_rate_hz * SHORT_TERM_HOP_S)).ceil() as usize;
    let mut curve = Vec::with_capacity(hops_expected + 1);
    let mut clean = [vec![0.0_f32; chunk], vec![0.0_f32; chunk]];
    let mut hops_seen = 0;
    let mut since_poll = 0;
    for (l, r) in left.chunks(chunk).zip(right.chunks(chunk)) {
        let sane = |block: &[f32]| block.iter().all(|x| x.abs() <= crate::dsp::sanitizer::MAX_SANE_SAMPLE);
        if sane(l) && sane(r) {
            meter.process(&[l, r]);
        } else {
            for (out, block) in clean.iter_mut().zip([l, r]) {
                for (o, &x) in out.iter_mut().zip(block) {
                    *o = sanitize_sample(x);
                }
            }
            meter.process(&[&clean[0][..l.len()], &clean[1][..r.len()]]);
        }
        if meter.hops_done() != hops_seen {
            hops_seen = meter.hops_done();
            curve.push(meter.hop_short_term_lufs().map_or(f32::NAN, |v| v as f32));
        }
        since_poll += l.len();
        if since_poll >= poll_frames {
            since_poll = 0;
            if stop.requested() {
                return None;
            }
        }
    }
    curve.shrink_to_fit();
    Some(LoudnessReadings {
        integrated_lufs: meter.integrated_lufs(),
        loudness_range_lu: meter.loudness_range_lu(),
        max_short_term_lufs: meter.max_short_term_lufs(),
        max_momentary_lufs: meter.max_momentary_lufs(),
        short_term_lufs: curve,
    })
}

/// The mid spectrum and the stereo sums in one pass (`None` if stopped).
fn measure_mid(
    left: &[f32],
    right: &[f32],
    sample_rate_hz: f64,
    poll_frames: usize,
    stop: &Stop<'_>,
) -> Option<MidReadings> {
    let frames = left.len();
    let mut fft_size = spectrum_fft_size(sample_rate_hz);
    while fft_size > frames && fft_size > MIN_SPECTRUM_FFT_SIZE {
        fft_size /= 2;
    }
    let mut spectrum = (frames >= fft_size).then(|| LongTermSpectrum::new(fft_size));
    let mut sums = StereoSums::default();
    let mut since_poll = 0;
    let mut start = 0;
    while start < frames {
        let end = (start + fft_size).min(frames);
        let (l, r) = (&left[start..end], &right[start..end]);
        sums.add_blocks(l, r);
        if let Some(spectrum) = spectrum.as_mut().filter(|_| end - start == fft_size) {
            spectrum.add_segment(|segment| {
                for ((slot, &a), &b) in segment.iter_mut().zip(l).zip(r) {
                    *slot = 0.5 * (sanitize_sample(a) + sanitize_sample(b));
                }
            });
        }
        since_poll += end - start;
        if since_poll >= poll_frames {
            since_poll = 0;
            if stop.requested() {
                return None;
            }
        }
        start = end;
    }
    let mut spectrum_db = [SPECTRUM_FLOOR_DB; SPECTRUM_BANDS];
    if let Some(spectrum) = spectrum {
        let power = spectrum.power();
        for (band, level) in spectrum_db.iter_mut().enumerate() {
            let (low, high) = spectrum_band_edges_hz(band);
            if let Some(p) = band_power(&power, sample_rate_hz, low, high.min(0.5 * sample_rate_hz)) {
                *level = ((10.0 * p.log10()) as f32).max(SPECTRUM_FLOOR_DB);
            }
        }
    }
    Some(MidReadings { sums, spectrum_db })
}

// ------------------------------------------------------------------------------------------------
// Shared with `parity analyze` (crate::offline::analysis)
// ------------------------------------------------------------------------------------------------

/// Whole-track sums of a channel pair: Σl·r, Σl², Σr² (non-finite samples as silence).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct StereoSums {
    /// Σ left·right.
    pub(crate) lr: f64,
    /// Σ left².
    pub(crate) ll: f64,
    /// Σ right².
    pub(crate) rr: f64,
}

impl StereoSums {
    /// Adds one sample pair.
    #[inline]
    pub(crate) fn add(&mut self, l: f64, r: f64) {
        self.lr += l * r;
        self.ll += l * l;
        self.rr += r * r;
    }

    /// Adds two blocks of samples (equal lengths; sanitized as the plugin's sanitizer does).
    /// Four interleaved partial sums keep the additions' latency off the critical path.
    fn add_blocks(&mut self, left: &[f32], right: &[f32]) {
        let mut partial = [Self::default(); 4];
        let mut l4 = left.chunks_exact(4);
        let mut r4 = right.chunks_exact(4);
        for (l, r) in (&mut l4).zip(&mut r4) {
            for (sums, (&a, &b)) in partial.iter_mut().zip(l.iter().zip(r)) {
                sums.add(f64::from(sanitize_sample(a)), f64::from(sanitize_sample(b)));
            }
        }
        for (&a, &b) in l4.remainder().iter().zip(r4.remainder()) {
            partial[0].add(f64::from(sanitize_sample(a)), f64::from(sanitize_sample(b)));
        }
        for sums in partial {
            self.lr += sums.lr;
            self.ll += sums.ll;
            self.rr += sums.rr;
        }
    }

    /// Pearson correlation, −1…+1 (NaN when a side is silent: check the sums first).
    pub(crate) fn correlation(self) -> f64 {
        (self.lr / (self.ll * self.rr).sqrt()).clamp(-1.0, 1.0)
    }

    /// `200·Σs²/(Σm² + Σs²)` with m = (l + r)/2, s = (l − r)/2, which is
    /// `100·(Σl² + Σr² − 2Σlr)/(Σl² + Σr²)`; percent, 0…200 (NaN for silence: check first).
    pub(crate) fn width_percent(self) -> f64 {
        (100.0 * (self.ll + self.rr - 2.0 * self.lr) / (self.ll + self.rr)).clamp(0.0, 200.0)
    }
}

/// FFT size of the long-term spectrum at `sample_rate_hz`: [`SPECTRUM_WINDOW_S`] of samples
/// rounded up to a power of two (at least 256).
pub(crate) fn spectrum_fft_size(sample_rate_hz: f64) -> usize {
    let size = (sample_rate_hz * SPECTRUM_WINDOW_S).max(MIN_SPECTRUM_FFT_SIZE as f64).round() as usize;
    size.next_power_of_two()
}

/// Welch's long-term average power spectrum: Hann-windowed segments, added one at a time
/// (back-to-back: over minutes of music the overlap adds nothing but time), scaled so that a
/// full-scale sine reads 0 dB in the sum of its bins.
pub(crate) struct LongTermSpectrum {
    /// The forward FFT.
    fft: Arc<dyn RealToComplex<f32>>,
    /// Periodic Hann window.
    window: Vec<f32>,
    /// Σ window², for Parseval's scaling.
    window_power: f64,
    /// The segment being transformed.
    input: Vec<f32>,
    /// Its spectrum.
    output: Vec<Complex<f32>>,
    /// FFT scratch.
    scratch: Vec<Complex<f32>>,
    /// Summed power per bin (`fft_size / 2 + 1` bins).
    power: Vec<f64>,
    /// Segments added.
    segments: usize,
}

impl LongTermSpectrum {
    /// An empty spectrum with FFTs of `fft_size` samples.
    pub(crate) fn new(fft_size: usize) -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(fft_size);
        let window: Vec<f32> = (0..fft_size)
            .map(|n| (0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / fft_size as f64).cos()) as f32)
            .collect();
        let window_power = window.iter().map(|&w| f64::from(w) * f64::from(w)).sum();
        Self {
            input: fft.make_input_vec(),
            output: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            power: vec![0.0; fft_size / 2 + 1],
            fft,
            window,
            window_power,
            segments: 0,
        }
    }

    /// FFT size, samples.
    pub(crate) fn fft_size(&self) -> usize {
        self.window.len()
    }

    /// Adds one segment: `fill` writes [`Self::fft_size`] samples (sane ones: sanitize first),
    /// which are then windowed and transformed.
    pub(crate) fn add_segment(&mut self, fill: impl FnOnce(&mut [f32])) {
        fill(&mut self.input);
        for (slot, &w) in self.input.iter_mut().zip(&self.window) {
            *slot *= w;
        }
        if self.fft.process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch).is_ok() {
            for (bin, value) in self.power.iter_mut().zip(&self.output) {
                *bin += f64::from(value.norm_sqr());
            }
            self.segments += 1;
        }
    }

    /// Average power per bin (`fft_size / 2 + 1` bins), a full-scale sine's bins summing to 1.
    pub(crate) fn power(mut self) -> Vec<f64> {
        // Parseval: a sine of amplitude A puts N·A²/4·Σw² into its one-sided bins, so this scale
        // makes a full-scale sine read 0 dB (A² = 1).
        let scale = 4.0 / (self.fft_size() as f64 * self.window_power * self.segments.max(1) as f64);
        self.power.iter_mut().for_each(|p| *p *= scale);
        self.power
    }
}

/// Summed power of the bins within `[low_hz, high_hz)` of a `power` spectrum (`fft_size / 2 + 1`
/// bins at `sample_rate_hz`), or `None` if no bin lies there (DC is never counted).
pub(crate) fn band_power(power: &[f64], sample_rate_hz: f64, low_hz: f64, high_hz: f64) -> Option<f64> {
    if power.len() < 2 {
        return None;
    }
    let bin_hz = sample_rate_hz / (2.0 * (power.len() - 1) as f64);
    let first = (low_hz / bin_hz).ceil().max(1.0) as usize;
    let last = ((high_hz / bin_hz).ceil() as usize).min(power.len());
    (first < last).then(|| power[first..last].iter().sum())
}

// ------------------------------------------------------------------------------------------------
// Running tasks in parallel
// ------------------------------------------------------------------------------------------------

/// One unit of work for [`run_parallel`]. It polls [`Stop::requested`] about once per second of
/// audio and returns early when it says so.
pub(crate) type Task<'a> = Box<dyn FnOnce(&Stop<'_>) + Send + 'a>;

/// A task's view of the stop request.
pub(crate) struct Stop<'a> {
    /// Set once the job is cancelled; shared by all threads.
    flag: &'a AtomicBool,
    /// The caller's callback, on the calling thread only.
    cancelled: Option<&'a dyn Fn() -> bool>,
}

impl Stop<'_> {
    /// Whether to stop now (on the calling thread this also asks the caller's callback).
    pub(crate) fn requested(&self) -> bool {
        if self.cancelled.is_some_and(|cancelled| cancelled()) {
            self.flag.store(true, Ordering::Relaxed);
        }
        self.flag.load(Ordering::Relaxed)
    }
}

/// Runs `tasks` on the calling thread and up to [`MAX_ANALYSIS_THREADS`]` − 1` scoped helper
/// threads (as many as the machine has cores), in the given order (put the longest first).
/// Returns `false` if `cancelled` returned `true` (the tasks then stop early; their results are
/// incomplete). If no helper thread can be started, everything runs on the calling thread.
pub(crate) fn run_parallel(tasks: Vec<Task<'_>>, cancelled: &dyn Fn() -> bool) -> bool {
    let flag = AtomicBool::new(false);
    let helpers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_ANALYSIS_THREADS)
        .min(tasks.len())
        .saturating_sub(1);
    let queue = Mutex::new(tasks.into_iter());
    // A poisoned lock only means another task panicked; that panic is propagated by the scope.
    let next = || queue.lock().map_or(None, |mut tasks| tasks.next());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..helpers)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .name("parity-reference".to_owned())
                    .spawn_scoped(scope, || {
                        let stop = Stop { flag: &flag, cancelled: None };
                        while let Some(task) = next() {
                            if stop.requested() {
                                break;
                            }
                            task(&stop);
                        }
                    })
                    .ok()
            })
            .collect();
        let stop = Stop { flag: &flag, cancelled: Some(cancelled) };
        while let Some(task) = next() {
            if stop.requested() {
                break;
            }
            task(&stop);
        }
        // Keep answering for the helpers until they are done.
        while workers.iter().any(|worker| !worker.is_finished()) {
            stop.requested();
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    !flag.load(Ordering::Relaxed) && !cancelled()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::meters::test_support::{feed_blocks, music_like};
    use crate::meters::MeterSet;

    /// A sine of `frequency_hz` at `amplitude`, `seconds` long, at `rate_hz`.
    fn sine(frequency_hz: f64, amplitude: f64, seconds: f64, rate_hz: f64) -> Vec<f32> {
        (0..(seconds * rate_hz) as usize)
            .map(|n| (amplitude * (std::f64::consts::TAU * frequency_hz * n as f64 / rate_hz).sin()) as f32)
            .collect()
    }

    fn analyze(left: &[f32], right: &[f32], rate_hz: f64) -> ReferenceAnalysis {
        analyze_reference(left, right, rate_hz, &|| false).expect("not cancelled")
    }

    #[test]
    fn readings_equal_a_meter_set_run() {
        for rate_hz in [44_100.0, 48_000.0, 12_345.678] {
            let signal = music_like(rate_hz, 40.0, 11);
            let ours = analyze(&signal[0], &signal[1], rate_hz);
            let mut meters = MeterSet::new(rate_hz, 2);
            let mut curve = Vec::new();
            let mut hops = 0;
            feed_blocks(&signal, 1_000, |block| {
                meters.process(block);
                if meters.loudness.hops_done() != hops {
                    hops = meters.loudness.hops_done();
                    curve.push(meters.loudness.hop_short_term_lufs().map_or(f32::NAN, |v| v as f32));
                }
            });
            let f = |value: Option<f64>| value.map(|v| v as f32);
            let loudness = &meters.loudness;
            println!(
                "{rate_hz} Hz: I {:?} LRA {:?} TP {:?} maxS {:?} maxM {:?} width {:?} corr {:?}",
                ours.integrated_lufs,
                ours.loudness_range_lu,
                ours.true_peak_dbtp,
                ours.max_short_term_lufs,
                ours.max_momentary_lufs,
                ours.width_percent,
                ours.correlation
            );
            assert_eq!(ours.integrated_lufs, f(loudness.integrated_lufs()));
            assert_eq!(ours.loudness_range_lu, f(loudness.loudness_range_lu()));
            assert_eq!(ours.max_short_term_lufs, f(loudness.max_short_term_lufs()));
            assert_eq!(ours.max_momentary_lufs, f(loudness.max_momentary_lufs()));
            assert_eq!(ours.true_peak_dbtp, Some(meters.true_peak.max_true_peak_dbtp() as f32));
            // The curve, NaN for NaN.
            assert_eq!(ours.short_term_lufs.len(), curve.len());
            assert_eq!(ours.short_term_lufs.len(), (40.0 * rate_hz / (rate_hz / 10.0).round()) as usize);
            for (a, b) in ours.short_term_lufs.iter().zip(&curve) {
                assert_eq!(a.to_bits(), b.to_bits());
            }
            assert!(ours.short_term_lufs[..29].iter().all(|v| v.is_nan()));
            assert!(ours.short_term_lufs[29..].iter().all(|v| !v.is_nan()));
        }
    }

    #[test]
    fn a_full_scale_sine_reads_0_db_in_its_band() {
        for rate_hz in [44_100.0, 48_000.0, 96_000.0] {
            for (amplitude, level_db) in [(1.0, 0.0), (0.1, -20.0)] {
                let tone = sine(1_000.0, amplitude, 10.0, rate_hz);
                let analysis = analyze(&tone, &tone, rate_hz);
                let band = (0..SPECTRUM_BANDS)
                    .find(|&b| {
                        let (low, high) = spectrum_band_edges_hz(b);
                        (low..high).contains(&1_000.0)
                    })
                    .expect("a band holds 1 kHz");
                assert_eq!(band, 34);
                let spectrum = &analysis.spectrum_db;
                let peak = spectrum.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                println!(
                    "{rate_hz} Hz, {level_db} dBFS sine: band {band} ({:.0} Hz) reads {:.4} dB; neighbours {:.1} / {:.1} dB; 100 Hz band {:.1} dB",
                    spectrum_band_centre_hz(band),
                    spectrum[band],
                    spectrum[band - 1],
                    spectrum[band + 1],
                    spectrum[20]
                );
                assert_eq!(spectrum[band], peak);
                assert!((spectrum[band] - level_db as f32).abs() < 0.01, "{}", spectrum[band]);
                assert!(
                    spectrum[band - 1] < level_db as f32 - 60.0
                        && spectrum[band + 1] < level_db as f32 - 60.0
                );
                assert!(spectrum[..30].iter().chain(&spectrum[38..]).all(|&db| db < level_db as f32 - 100.0));
                assert!(spectrum.iter().all(|&db| db >= SPECTRUM_FLOOR_DB));
            }
        }
        // Bands above Nyquist read the floor; silence reads the floor everywhere.
        let tone = sine(1_000.0, 0.5, 2.0, 8_000.0);
        let analysis = analyze(&tone, &tone, 8_000.0);
        assert!(analysis.spectrum_db[spectrum_band_index_above(4_000.0)..]
            .iter()
            .all(|&db| db == SPECTRUM_FLOOR_DB));
        let silence = vec![0.0_f32; 48_000];
        let analysis = analyze(&silence, &silence, 48_000.0);
        assert!(analysis.spectrum_db.iter().all(|&db| db == SPECTRUM_FLOOR_DB));
    }

    /// The first band whose lower edge is at or above `hz`.
    fn spectrum_band_index_above(hz: f64) -> usize {
        (0..SPECTRUM_BANDS).find(|&b| spectrum_band_edges_hz(b).0 >= hz).unwrap_or(SPECTRUM_BANDS)
    }

    #[test]
    fn band_layout() {
        assert_eq!(spectrum_band_centre_hz(0), 20.0);
        assert!((spectrum_band_centre_hz(6) - 40.0).abs() < 1e-9);
        assert!((spectrum_band_centre_hz(SPECTRUM_BANDS - 1) - 20_480.0).abs() < 1e-6);
        for band in 1..SPECTRUM_BANDS {
            assert!((spectrum_band_edges_hz(band).0 - spectrum_band_edges_hz(band - 1).1).abs() < 1e-9);
        }
    }

    #[test]
    fn width_and_correlation() {
        let rate_hz = 48_000.0;
        let tone = sine(440.0, 0.5, 4.0, rate_hz);
        let silence = vec![0.0_f32; tone.len()];
        let inverted: Vec<f32> = tone.iter().map(|x| -x).collect();
        let other = sine(1_234.0, 0.5, 4.0, rate_hz);

        let mono = analyze(&tone, &tone, rate_hz);
        assert_eq!(mono.width_percent, Some(0.0));
        assert_eq!(mono.correlation, Some(1.0));
        let left_only = analyze(&tone, &silence, rate_hz);
        assert_eq!(left_only.width_percent, Some(100.0));
        assert_eq!(left_only.correlation, None);
        let right_only = analyze(&silence, &tone, rate_hz);
        assert_eq!(right_only.width_percent, Some(100.0));
        let anti = analyze(&tone, &inverted, rate_hz);
        assert_eq!(anti.width_percent, Some(200.0));
        assert_eq!(anti.correlation, Some(-1.0));
        let unrelated = analyze(&tone, &other, rate_hz);
        println!(
            "unrelated tones: width {:?} correlation {:?}",
            unrelated.width_percent, unrelated.correlation
        );
        assert!((unrelated.width_percent.unwrap() - 100.0).abs() < 0.5);
        assert!(unrelated.correlation.unwrap().abs() < 0.005);
        let quiet = analyze(&silence, &silence, rate_hz);
        assert_eq!((quiet.width_percent, quiet.correlation), (None, None));
        assert_eq!((quiet.integrated_lufs, quiet.true_peak_dbtp), (None, None));
        assert!(quiet.short_term_lufs[29..].iter().all(|&v| v == f32::NEG_INFINITY));
    }

    #[test]
    fn garbage_samples_count_as_silence() {
        let rate_hz = 48_000.0;
        let mut tone = sine(1_000.0, 0.25, 5.0, rate_hz);
        let clean = analyze(&tone, &tone, rate_hz);
        let mut dirty = tone.clone();
        for n in (0..dirty.len()).step_by(9_973) {
            dirty[n] = [f32::NAN, f32::INFINITY, 1e30][n % 3];
            tone[n] = 0.0;
        }
        let dirty = analyze(&dirty, &dirty, rate_hz);
        let zeroed = analyze(&tone, &tone, rate_hz);
        // (Debug text: the curves hold NaN, which `==` never matches.)
        assert_eq!(format!("{dirty:?}"), format!("{zeroed:?}"));
        assert!((dirty.integrated_lufs.unwrap() - clean.integrated_lufs.unwrap()).abs() < 0.01);
    }

    #[test]
    fn cancelled_gives_none() {
        let rate_hz = 48_000.0;
        let signal = music_like(rate_hz, 20.0, 3);
        assert!(analyze_reference(&signal[0], &signal[1], rate_hz, &|| true).is_none());
        // Cancelled midway: stops within about a second of audio per task.
        let polls = AtomicUsize::new(0);
        let started = std::time::Instant::now();
        let result = analyze_reference(&signal[0], &signal[1], rate_hz, &|| {
            polls.fetch_add(1, Ordering::Relaxed) >= 3
        });
        println!(
            "cancelled after {} polls in {:.1} ms",
            polls.load(Ordering::Relaxed),
            started.elapsed().as_secs_f64() * 1e3
        );
        assert!(result.is_none());
        // Short and empty input: no panic, no readings.
        let short = analyze(&signal[0][..1_000], &signal[1][..1_000], rate_hz);
        assert_eq!(short.integrated_lufs, None);
        assert!(short.short_term_lufs.is_empty());
        let empty = analyze(&[], &[], rate_hz);
        assert_eq!(empty.true_peak_dbtp, None);
    }

    #[test]
    fn run_parallel_runs_every_task_once() {
        let counters: Vec<AtomicUsize> = (0..10).map(|_| AtomicUsize::new(0)).collect();
        let tasks: Vec<Task<'_>> = counters
            .iter()
            .map(|counter| -> Task<'_> {
                Box::new(move |_stop: &Stop<'_>| {
                    counter.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        assert!(run_parallel(tasks, &|| false));
        assert!(counters.iter().all(|c| c.load(Ordering::Relaxed) == 1));
        assert!(run_parallel(Vec::new(), &|| false));
    }
}
