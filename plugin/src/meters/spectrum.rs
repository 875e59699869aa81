//! Real-time FFT spectrum analyser (audio thread: [`SpectrumAnalyzer`]) and its lock-free hand-off
//! to the editor (GUI thread: [`SpectrumView`]), plus the generic [`triple_buffer`] used for it.
//!
//! # Analysis
//!
//! * Real-to-complex FFT (`realfft`) of a periodic Hann window, `N` = [`fft_size_for_rate`]
//!   (4096 up to 24 kHz, 8192 up to 64 kHz, 16384 up to 128 kHz, 32768 above), so the bin width
//!   stays near 6 Hz up to 192 kHz (11.7 Hz at 384 kHz, 23.4 Hz at 768 kHz). Hop = `N / 4` (75 %
//!   overlap). The first frame after a reset or an enable waits for a full window of audio.
//! * Both channels are transformed (two real FFTs per hop); because the DFT is linear, the Mid
//!   (`(L+R)/2`) and Side (`(L−R)/2`) spectra are formed per bin from the L and R spectra, so **all
//!   four** power spectra (L, R, M, S) are averaged on every hop and switching between L/R and M/S
//!   display is instant, with its averaging history intact.
//! * Averaging per bin: exponential with a 300 ms ("fast") or 3 s ("slow") time constant, the
//!   per-hop coefficient `α = 1 − exp(−hop / (τ·fs))`; and a cumulative mean since reset
//!   ("infinite", `f64` sums), which always runs and also feeds [`SpectrumAnalyzer::long_term_octave_bands`].
//!
//! # Level reference (dB)
//!
//! For the periodic Hann window `w[n] = ½(1 − cos(2πn/N))`, `Σw = N/2` (coherent gain 0.5) and
//! `Σw² = 3N/8` (equivalent noise bandwidth 1.5 bins); F. J. Harris, "On the use of windows for
//! harmonic analysis with the discrete Fourier transform", Proc. IEEE 66(1), 1978, table 1.
//! Each bin's power is `P_k = |X_k|² · (2/Σw)² = |X_k|² · 16/N²` (window-gain correction), so:
//!
//! * a sine `A·cos(2π f n / fs)` centred on a bin reads `P = A²`, i.e. **a full-scale sine reads
//!   0 dB** at its bin (off-centre it reads lower by the Hann scalloping loss, at most 1.42 dB);
//! * white noise of variance `σ²` has `E|X_k|² = σ²·Σw² = 3Nσ²/8`, so every bin (and any
//!   power-domain mean of bins) reads `10·log10(σ²) + 10·log10(6/N)` dB, e.g. RMS − 31.35 dB
//!   at `N = 8192`.
//!
//! # Display bands
//!
//! The published trace has [`DISPLAY_BANDS`] points log-spaced from [`DISPLAY_MIN_HZ`] to
//! [`DISPLAY_MAX_HZ`] ([`display_band_frequency_hz`]). Bands at or above
//! [`NYQUIST_GUARD_FRACTION`]`·fs` are invalid and read `f32::NEG_INFINITY`; valid bands are
//! finite and never below [`LEVEL_FLOOR_DB`]. With [`Smoothing::None`] a band shows the highest bin
//! whose centre lies between the geometric midpoints to its neighbours (narrow tones are never lost
//! between display points); with 1/N-octave smoothing it shows the power mean of the bins whose
//! centres lie within `f·2^(±1/(2N))`. Where no bin centre falls inside (low frequencies), the band
//! interpolates linearly in power between the two bins around its centre. An optional tilt
//! `tilt·log2(f / 1 kHz)` dB is added afterwards: [`PINK_TILT_DB_PER_OCTAVE`] (3.01 dB/oct) makes
//! pink noise read flat; the common "mix reference" [`MIX_TILT_DB_PER_OCTAVE`] (4.5 dB/oct) leaves
//! pink noise rising at 1.49 dB/oct.
//!
//! # Publishing
//!
//! Only while enabled ([`SpectrumAnalyzer::set_enabled`]; disabled by default, and `process`
//! returns at once while disabled). After an analysis frame, a [`SpectrumFrame`] is published if at
//! least `fs / 60` samples were processed since the previous publication, so at most 60 frames per
//! second reach the [`SpectrumView`], whichever block sizes the host uses.

use std::cell::UnsafeCell;
use std::f64::consts::PI;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::clamp_sample_rate_hz;

/// Equivalent noise bandwidth of the Hann window in bins (Harris 1978, table 1).
const HANN_ENBW_BINS: f64 = 1.5;
/// Number of [`Smoothing`] options (band maps precomputed per option).
const SMOOTHING_OPTIONS: usize = 5;
/// Spectrum lanes kept per bin: L, R, M, S.
const LANES: usize = 4;

/// Number of log-spaced points in a published spectrum trace.
pub const DISPLAY_BANDS: usize = 256;

/// Samples between the steps of one analysis frame (snapshot at the hop, then FFT L, FFT R,
/// averaging, publication), so a small host buffer carries at most one step's work and the
/// frame's cost never lands in a single callback. Steps are tied to the sample count, so the
/// results stay independent of the block sizes.
const ANALYSIS_STEP_SPACING: usize = 64;

/// The steps of one analysis frame, run [`ANALYSIS_STEP_SPACING`] samples apart after the hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// No frame in flight.
    Idle,
    /// Transform the left snapshot.
    TransformLeft,
    /// Transform the right snapshot.
    TransformRight,
    /// Fold both spectra into the averages.
    Accumulate,
    /// Publish the display traces if one is due.
    Publish,
}

/// Centre frequency of the first display band, Hz.
pub const DISPLAY_MIN_HZ: f64 = 20.0;

/// Centre frequency of the last display band, Hz.
pub const DISPLAY_MAX_HZ: f64 = 20_000.0;

/// Display bands whose centre frequency is at or above this fraction of the sample rate are
/// flagged invalid (they read `f32::NEG_INFINITY`).
pub const NYQUIST_GUARD_FRACTION: f64 = 0.45;

/// Lowest level a valid display band reads, dB (digital silence reads exactly this).
pub const LEVEL_FLOOR_DB: f32 = -200.0;

/// Highest publication rate of spectrum frames, frames per second of processed audio.
pub const MAX_PUBLISH_RATE_HZ: f64 = 60.0;

/// Time constant of the "fast" exponential average, ms.
pub const FAST_TIME_CONSTANT_MS: f64 = 300.0;

/// Time constant of the "slow" exponential average, ms.
pub const SLOW_TIME_CONSTANT_MS: f64 = 3_000.0;

/// Tilt that makes pink noise (−10·log10(2) dB per octave per bin) read flat, dB per octave.
pub const PINK_TILT_DB_PER_OCTAVE: f32 = 3.0103;

/// The customary "mix reference" display tilt, dB per octave.
pub const MIX_TILT_DB_PER_OCTAVE: f32 = 4.5;

/// Frequency at which the display tilt is 0 dB, Hz.
pub const TILT_PIVOT_HZ: f64 = 1_000.0;

/// Number of octave bands reported by [`SpectrumAnalyzer::long_term_octave_bands`].
pub const OCTAVE_BANDS: usize = 10;

/// Nominal centre frequencies of the octave bands (IEC 61260-1, base 10), Hz. The exact
/// mid-band frequencies are `1000·10^(0.3·(i − 5))` Hz, band edges `10^(±0.15)` times that.
pub const OCTAVE_BAND_NOMINAL_HZ: [f32; OCTAVE_BANDS] =
    [31.5, 63.0, 125.0, 250.0, 500.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0, 16_000.0];

/// FFT length used at `sample_rate_hz` (clamped to 8–768 kHz): 4096 up to 24 kHz, 8192 up to
/// 64 kHz, 16384 up to 128 kHz, 32768 above.
pub fn fft_size_for_rate(sample_rate_hz: f64) -> usize {
    let fs = clamp_sample_rate_hz(sample_rate_hz);
    if fs <= 24_000.0 {
        4_096
    } else if fs <= 64_000.0 {
        8_192
    } else if fs <= 128_000.0 {
        16_384
    } else {
        32_768
    }
}

/// Centre frequency of display band `band` (0-based), Hz:
/// `DISPLAY_MIN_HZ · (DISPLAY_MAX_HZ / DISPLAY_MIN_HZ)^(band / (DISPLAY_BANDS − 1))`.
pub fn display_band_frequency_hz(band: usize) -> f64 {
    let position = band as f64 / (DISPLAY_BANDS - 1) as f64;
    DISPLAY_MIN_HZ * (DISPLAY_MAX_HZ / DISPLAY_MIN_HZ).powf(position)
}

/// Exact mid-band frequency of octave band `index` (IEC 61260-1 base-10 series), Hz.
fn octave_band_centre_hz(index: usize) -> f64 {
    1_000.0 * 10f64.powf(0.3 * (index as f64 - 5.0))
}

/// One of the four spectra the analyser keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpectrumChannel {
    /// Left input channel.
    Left,
    /// Right input channel.
    Right,
    /// Mid signal `(L + R) / 2`.
    Mid,
    /// Side signal `(L − R) / 2`.
    Side,
}

impl SpectrumChannel {
    /// Index of this channel in the per-bin lane arrays.
    fn lane(self) -> usize {
        match self {
            Self::Left => 0,
            Self::Right => 1,
            Self::Mid => 2,
            Self::Side => 3,
        }
    }
}

/// Which pair of spectra is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelMode {
    /// Trace 0 = Left, trace 1 = Right.
    LeftRight,
    /// Trace 0 = Mid, trace 1 = Side.
    MidSide,
}

impl ChannelMode {
    /// The channels shown as trace 0 and trace 1 in this mode.
    pub fn channels(self) -> [SpectrumChannel; 2] {
        match self {
            Self::LeftRight => [SpectrumChannel::Left, SpectrumChannel::Right],
            Self::MidSide => [SpectrumChannel::Mid, SpectrumChannel::Side],
        }
    }
}

/// Per-bin averaging of the power spectra.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Averaging {
    /// Exponential, time constant [`FAST_TIME_CONSTANT_MS`].
    Fast,
    /// Exponential, time constant [`SLOW_TIME_CONSTANT_MS`].
    Slow,
    /// Arithmetic mean of all frames since reset.
    Infinite,
}

/// Fractional-octave smoothing of the displayed trace (power-domain mean).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Smoothing {
    /// No smoothing: each display band shows the highest bin inside it.
    None,
    /// 1/3-octave window.
    Third,
    /// 1/6-octave window.
    Sixth,
    /// 1/12-octave window.
    Twelfth,
    /// 1/24-octave window.
    TwentyFourth,
}

impl Smoothing {
    /// Index of the precomputed band map for this option.
    fn index(self) -> usize {
        match self {
            Self::None => 0,
            Self::Third => 1,
            Self::Sixth => 2,
            Self::Twelfth => 3,
            Self::TwentyFourth => 4,
        }
    }

    /// Window width in octaves (`1/N`), or `None` for [`Smoothing::None`].
    pub fn width_octaves(self) -> Option<f64> {
        match self {
            Self::None => None,
            Self::Third => Some(1.0 / 3.0),
            Self::Sixth => Some(1.0 / 6.0),
            Self::Twelfth => Some(1.0 / 12.0),
            Self::TwentyFourth => Some(1.0 / 24.0),
        }
    }

    /// All options, in band-map index order.
    const ALL: [Smoothing; SMOOTHING_OPTIONS] =
        [Self::None, Self::Third, Self::Sixth, Self::Twelfth, Self::TwentyFourth];
}

/// One published spectrum: two traces of display-band levels plus the settings that produced it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpectrumFrame {
    /// Levels per display band, dB re a full-scale sine (see the module docs); trace 0/1 are the
    /// channels given by `mode`. Invalid bands (index ≥ `valid_bands`) are `f32::NEG_INFINITY`.
    pub levels_db: [[f32; DISPLAY_BANDS]; 2],
    /// Which spectra the two traces show.
    pub mode: ChannelMode,
    /// Averaging in effect.
    pub averaging: Averaging,
    /// Smoothing in effect.
    pub smoothing: Smoothing,
    /// Display tilt included in `levels_db`, dB per octave around [`TILT_PIVOT_HZ`].
    pub tilt_db_per_octave: f32,
    /// Number of valid bands: bands `0..valid_bands` lie below [`NYQUIST_GUARD_FRACTION`]·fs.
    pub valid_bands: usize,
    /// Sample rate of the analysed audio, Hz (0 before the first publication).
    pub sample_rate_hz: f64,
    /// FFT length used, samples (0 before the first publication).
    pub fft_size: usize,
    /// Analysis frames in the infinite average since reset.
    pub frames_averaged: u64,
    /// Publication counter since construction (0 = nothing published yet).
    pub sequence: u64,
    /// Long-term octave-band levels of the left and right channels together (power mean of
    /// [`SpectrumAnalyzer::long_term_octave_bands`] of both), dB: the tonal-balance check's
    /// input. `f32::NEG_INFINITY` for empty bands or before the first frame.
    pub octave_bands_db: [f32; OCTAVE_BANDS],
}

impl SpectrumFrame {
    /// The frame a view holds before anything was published: all bands invalid, sequence 0.
    pub fn empty() -> Self {
        Self {
            levels_db: [[f32::NEG_INFINITY; DISPLAY_BANDS]; 2],
            mode: ChannelMode::LeftRight,
            averaging: Averaging::Fast,
            smoothing: Smoothing::None,
            tilt_db_per_octave: 0.0,
            valid_bands: 0,
            sample_rate_hz: 0.0,
            fft_size: 0,
            frames_averaged: 0,
            sequence: 0,
            octave_bands_db: [f32::NEG_INFINITY; OCTAVE_BANDS],
        }
    }

    /// Whether display band `band` holds a level (below [`NYQUIST_GUARD_FRACTION`]·fs).
    pub fn band_valid(&self, band: usize) -> bool {
        band < self.valid_bands
    }
}

impl Default for SpectrumFrame {
    fn default() -> Self {
        Self::empty()
    }
}

// ------------------------------------------------------------------------------------------------
// Triple buffer
// ------------------------------------------------------------------------------------------------

/// Mask of the slot index stored in the triple buffer's middle word.
const SLOT_MASK: u8 = 0b011;
/// Flag in the middle word: the middle slot holds a value the reader has not taken yet.
const FRESH: u8 = 0b100;

/// Storage shared by a [`TripleWriter`] and a [`TripleReader`].
///
/// Invariant: the writer's index, the middle index (`middle & SLOT_MASK`) and the reader's index
/// are always a permutation of {0, 1, 2}; each slot is only accessed by the side owning its index.
struct TripleShared<T> {
    /// The three value slots.
    slots: [UnsafeCell<T>; 3],
    /// Index of the middle slot plus the [`FRESH`] flag; swapped by both sides.
    middle: AtomicU8,
}

// SAFETY: the slots are only accessed through the index-ownership protocol above: a slot is
// reachable from exactly one side at a time, and ownership moves between threads with an AcqRel
// swap of `middle`, which orders all accesses of the previous owner before those of the next one.
// Values of `T` move between threads, hence `T: Send`.
unsafe impl<T: Send> Sync for TripleShared<T> {}

/// Writing side of a triple buffer (one writer; wait-free, never allocates).
pub struct TripleWriter<T> {
    /// Shared slots.
    shared: Arc<TripleShared<T>>,
    /// Slot currently owned by the writer (the back buffer).
    index: u8,
}

/// Reading side of a triple buffer (one reader; wait-free, never allocates).
pub struct TripleReader<T> {
    /// Shared slots.
    shared: Arc<TripleShared<T>>,
    /// Slot currently owned by the reader (the front buffer).
    index: u8,
}

/// Creates a triple buffer holding three copies of `initial` (the only allocation), returning its
/// writer and reader. The reader always sees a complete value: the latest one published, or
/// `initial` before the first publication.
pub fn triple_buffer<T: Clone + Send>(initial: T) -> (TripleWriter<T>, TripleReader<T>) {
    let shared = Arc::new(TripleShared {
        slots: [UnsafeCell::new(initial.clone()), UnsafeCell::new(initial.clone()), UnsafeCell::new(initial)],
        middle: AtomicU8::new(1),
    });
    (TripleWriter { shared: Arc::clone(&shared), index: 0 }, TripleReader { shared, index: 2 })
}

impl<T> TripleWriter<T> {
    /// The back buffer to fill before [`TripleWriter::publish`]. It holds an older value (not
    /// necessarily the last one written), so the caller must overwrite every part it relies on.
    pub fn back_mut(&mut self) -> &mut T {
        let slot = &self.shared.slots[usize::from(self.index & SLOT_MASK)];
        // SAFETY: by the ownership invariant of `TripleShared`, slot `self.index` belongs to the
        // writer until the next `publish`, and the returned borrow of `self` prevents `publish`
        // (and any second borrow) while it lives.
        unsafe { &mut *slot.get() }
    }

    /// Makes the back buffer the newest value and takes the previous middle slot as back buffer.
    pub fn publish(&mut self) {
        // Release: our writes to the slot happen-before the reader's Acquire swap that takes it.
        // Acquire: the reader's reads of a slot it handed back happen-before our next writes.
        let previous = self.shared.middle.swap(self.index | FRESH, Ordering::AcqRel);
        self.index = previous & SLOT_MASK;
    }
}

impl<T> TripleReader<T> {
    /// Whether a value newer than the one last returned by [`TripleReader::read`] is available.
    pub fn has_update(&self) -> bool {
        self.shared.middle.load(Ordering::Relaxed) & FRESH != 0
    }

    /// The latest published value (taking it over if a newer one is available).
    pub fn read(&mut self) -> &T {
        if self.has_update() {
            // AcqRel: see `TripleWriter::publish`.
            let previous = self.shared.middle.swap(self.index, Ordering::AcqRel);
            self.index = previous & SLOT_MASK;
        }
        let slot = &self.shared.slots[usize::from(self.index & SLOT_MASK)];
        // SAFETY: slot `self.index` belongs to the reader until its next swap, which needs
        // `&mut self` and therefore cannot happen while the returned shared borrow lives; the
        // writer never touches a slot it does not own.
        unsafe { &*slot.get() }
    }
}

// ------------------------------------------------------------------------------------------------
// GUI side
// ------------------------------------------------------------------------------------------------

/// GUI-side reader of the published spectra. Reading never blocks and never allocates. It needs
/// `&mut self`: keep it in the editor state (or behind a GUI-only mutex), never on the audio thread.
pub struct SpectrumView {
    /// Reading side of the analyser's triple buffer.
    reader: TripleReader<SpectrumFrame>,
}

impl SpectrumView {
    /// The most recent published frame ([`SpectrumFrame::empty`] before the first publication).
    pub fn latest(&mut self) -> &SpectrumFrame {
        self.reader.read()
    }

    /// Whether a frame newer than the one last returned by [`SpectrumView::latest`] exists.
    pub fn has_update(&self) -> bool {
        self.reader.has_update()
    }
}

// ------------------------------------------------------------------------------------------------
// Analyser
// ------------------------------------------------------------------------------------------------

/// How a display band is derived from the FFT bins.
#[derive(Clone, Copy, Debug, PartialEq)]
enum BandSpan {
    /// Bins `lo..hi` (non-empty) have their centre inside the band window.
    Bins {
        /// First bin.
        lo: usize,
        /// One past the last bin.
        hi: usize,
    },
    /// No bin centre inside: interpolate between `bin` and `bin + 1` with weight `frac` on the latter.
    Interpolate {
        /// Lower bin.
        bin: usize,
        /// Position between `bin` and `bin + 1`, 0..1.
        frac: f64,
    },
    /// Band at or above the Nyquist guard.
    Invalid,
}

/// Everything that depends on the sample rate (allocated in [`Analysis::new`]).
struct Analysis {
    /// Analysed sample rate, Hz.
    sample_rate_hz: f64,
    /// FFT length, samples.
    fft_size: usize,
    /// Hop between analysis frames, samples.
    hop: usize,
    /// Number of spectrum bins, `fft_size / 2 + 1`.
    bins: usize,
    /// Forward real FFT plan.
    fft: Arc<dyn RealToComplex<f32>>,
    /// Periodic Hann window, `fft_size` values.
    window: Vec<f32>,
    /// Input history per channel (L, R), `fft_size` values each.
    ring: [Vec<f32>; 2],
    /// Next write position in `ring` (= oldest sample).
    ring_pos: usize,
    /// Samples still needed before the next analysis frame.
    until_frame: usize,
    /// Windowed FFT input per channel (L, R), snapshotted at the hop; overwritten by the FFT.
    fft_in: [Vec<f32>; 2],
    /// Next step of the analysis frame in flight ([`Step::Idle`] when none).
    step: Step,
    /// Samples still to go before `step` runs.
    until_step: usize,
    /// Spectra of L and R, `bins` values each.
    spectra: [Vec<Complex<f32>>; 2],
    /// realfft scratch.
    scratch: Vec<Complex<f32>>,
    /// Window-gain-corrected power scale `(2/Σw)²`.
    power_scale: f32,
    /// Exponential averages per lane (L, R, M, S), one power value per bin (linear).
    ema: [Vec<f32>; LANES],
    /// Whether `ema` holds a frame (the first frame initialises it).
    ema_primed: bool,
    /// Sums of power since reset per lane (L, R, M, S), one value per bin.
    sums: [Vec<f64>; LANES],
    /// Frames accumulated in `sums`.
    frames_summed: u64,
    /// Per-hop coefficient of the fast average.
    fast_coeff: f32,
    /// Per-hop coefficient of the slow average.
    slow_coeff: f32,
    /// Power of the trace being published, per bin.
    trace: Vec<f64>,
    /// Prefix sums of `trace` (`bins + 1` values).
    prefix: Vec<f64>,
    /// Band maps, `SMOOTHING_OPTIONS × DISPLAY_BANDS`, indexed `option · DISPLAY_BANDS + band`.
    spans: Vec<BandSpan>,
    /// `log2(f_band / TILT_PIVOT_HZ)` per display band, octaves.
    tilt_octaves: [f32; DISPLAY_BANDS],
    /// Number of display bands below the Nyquist guard.
    valid_bands: usize,
    /// Bin ranges (`lo..hi`) of the octave bands.
    octave_spans: [(usize, usize); OCTAVE_BANDS],
    /// Minimum number of samples between publications (`ceil(fs / 60)`).
    publish_interval: u64,
    /// Samples processed since the last publication.
    samples_since_publish: u64,
}

impl Analysis {
    /// Plans the FFT and allocates all buffers for `sample_rate_hz` (already clamped).
    fn new(sample_rate_hz: f64) -> Self {
        let fft_size = fft_size_for_rate(sample_rate_hz);
        let bins = fft_size / 2 + 1;
        let bin_hz = sample_rate_hz / fft_size as f64;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(fft_size);
        let window: Vec<f32> = (0..fft_size)
            .map(|n| (0.5 - 0.5 * (2.0 * PI * n as f64 / fft_size as f64).cos()) as f32)
            .collect();
        // Σw = N/2 exactly for the periodic Hann window (Harris 1978, coherent gain 0.5).
        let coherent_sum = fft_size as f64 / 2.0;
        let power_scale = ((2.0 / coherent_sum) * (2.0 / coherent_sum)) as f32;
        let hop = fft_size / 4;
        let coeff = |time_constant_ms: f64| {
            (1.0 - (-(hop as f64) / (time_constant_ms * 1e-3 * sample_rate_hz)).exp()) as f32
        };
        let guard_hz = NYQUIST_GUARD_FRACTION * sample_rate_hz;
        let centres: [f64; DISPLAY_BANDS] = std::array::from_fn(display_band_frequency_hz);
        let valid_bands = centres.iter().filter(|&&f| f < guard_hz).count();
        let step = (DISPLAY_MAX_HZ / DISPLAY_MIN_HZ).powf(1.0 / (DISPLAY_BANDS - 1) as f64);
        // Bins whose centre k·Δf lies in [lo_hz, hi_hz), restricted to 1..bins.
        let bin_range = |lo_hz: f64, hi_hz: f64| -> (usize, usize) {
            let lo = ((lo_hz / bin_hz).ceil().max(1.0) as usize).min(bins);
            let hi = ((hi_hz / bin_hz).ceil().max(1.0) as usize).min(bins);
            (lo, hi.max(lo))
        };
        let mut spans = Vec::with_capacity(SMOOTHING_OPTIONS * DISPLAY_BANDS);
        for smoothing in Smoothing::ALL {
            for (band, &centre) in centres.iter().enumerate() {
                if band >= valid_bands {
                    spans.push(BandSpan::Invalid);
                    continue;
                }
                let half_width = match smoothing.width_octaves() {
                    Some(octaves) => 2f64.powf(octaves / 2.0),
                    None => step.sqrt(),
                };
                let (lo, hi) = bin_range(centre / half_width, centre * half_width);
                if lo < hi {
                    spans.push(BandSpan::Bins { lo, hi });
                } else {
                    let position = centre / bin_hz;
                    let bin = (position.floor() as usize).min(bins - 2);
                    spans.push(BandSpan::Interpolate { bin, frac: (position - bin as f64).clamp(0.0, 1.0) });
                }
            }
        }
        let octave_spans = std::array::from_fn(|index| {
            let centre = octave_band_centre_hz(index);
            let edge = 10f64.powf(0.15);
            let (lo, hi) = bin_range(centre / edge, centre * edge);
            // The Nyquist bin (index bins − 1) is not doubled by the one-sided scaling: leave it out.
            (lo.min(bins - 1), hi.min(bins - 1))
        });
        let tilt_octaves = std::array::from_fn(|band| (centres[band] / TILT_PIVOT_HZ).log2() as f32);
        let mut planned = Self {
            sample_rate_hz,
            fft_size,
            hop,
            bins,
            scratch: vec![Complex::default(); fft.get_scratch_len()],
            fft,
            window,
            ring: [vec![0.0; fft_size], vec![0.0; fft_size]],
            ring_pos: 0,
            until_frame: fft_size,
            fft_in: [vec![0.0; fft_size], vec![0.0; fft_size]],
            step: Step::Idle,
            until_step: 0,
            spectra: [vec![Complex::default(); bins], vec![Complex::default(); bins]],
            power_scale,
            ema: std::array::from_fn(|_| vec![0.0; bins]),
            ema_primed: false,
            sums: std::array::from_fn(|_| vec![0.0; bins]),
            frames_summed: 0,
            fast_coeff: coeff(FAST_TIME_CONSTANT_MS),
            slow_coeff: coeff(SLOW_TIME_CONSTANT_MS),
            trace: vec![0.0; bins],
            prefix: vec![0.0; bins + 1],
            spans,
            tilt_octaves,
            valid_bands,
            octave_spans,
            publish_interval: (sample_rate_hz / MAX_PUBLISH_RATE_HZ).ceil() as u64,
            samples_since_publish: 0,
        };
        planned.reset();
        planned
    }

    /// Clears history and averages (no allocation).
    fn reset(&mut self) {
        for ring in &mut self.ring {
            ring.fill(0.0);
        }
        self.restart_window();
        for lane in &mut self.ema {
            lane.fill(0.0);
        }
        for lane in &mut self.sums {
            lane.fill(0.0);
        }
        self.frames_summed = 0;
    }

    /// Forgets the input history so the next frame waits for a full window of new audio, and
    /// re-primes the exponential averages with that frame; the infinite average is kept.
    fn restart_window(&mut self) {
        self.ring_pos = 0;
        self.until_frame = self.fft_size;
        self.step = Step::Idle;
        self.until_step = 0;
        self.ema_primed = false;
        self.samples_since_publish = 0;
    }

    /// Appends a chunk to the input history (non-finite samples are stored as 0).
    fn push(&mut self, left: &[f32], right: &[f32]) {
        let sanitize = |x: f32| if x.is_finite() { x } else { 0.0 };
        for (ring, input) in self.ring.iter_mut().zip([left, right]) {
            let mut pos = self.ring_pos;
            let mut rest = input;
            while !rest.is_empty() {
                let take = rest.len().min(ring.len() - pos);
                let (now, later) = rest.split_at(take);
                for (slot, &x) in ring[pos..pos + take].iter_mut().zip(now) {
                    *slot = sanitize(x);
                }
                pos = (pos + take) % ring.len();
                rest = later;
            }
        }
        self.ring_pos = (self.ring_pos + left.len()) % self.fft_size;
    }

    /// Starts an analysis frame at the hop: copies the windowed history of both channels, oldest
    /// sample first, into the FFT inputs. The FFTs and the averaging follow in later steps.
    fn snapshot(&mut self) {
        let Self { ring, ring_pos, window, fft_in, .. } = self;
        let pos = *ring_pos;
        for (ring, input) in ring.iter().zip(fft_in.iter_mut()) {
            // Oldest sample first: ring[pos..] then ring[..pos].
            let (newer, older) = ring.split_at(pos);
            let (win_old, win_new) = window.split_at(older.len());
            let (in_old, in_new) = input.split_at_mut(older.len());
            for ((o, &x), &w) in in_old.iter_mut().zip(older).zip(win_old) {
                *o = x * w;
            }
            for ((o, &x), &w) in in_new.iter_mut().zip(newer).zip(win_new) {
                *o = x * w;
            }
        }
    }

    /// Transforms the snapshot of `channel` (0 = L, 1 = R).
    fn transform(&mut self, channel: usize) {
        let Self { fft_in, fft, spectra, scratch, .. } = self;
        if let (Some(input), Some(spectrum)) = (fft_in.get_mut(channel), spectra.get_mut(channel)) {
            // Only fails with mismatched buffer lengths, which `new` rules out.
            let _ = fft.process_with_scratch(input, spectrum, scratch);
        }
    }

    /// Folds the two transformed spectra into the four power averages (L, R, M, S).
    fn accumulate(&mut self, ema_coeff: f32) {
        let scale = self.power_scale;
        let ms_scale = 0.25 * scale;
        let bins = self.bins;
        let (left, right) = (&self.spectra[0][..bins], &self.spectra[1][..bins]);
        let [ema_l, ema_r, ema_m, ema_s] = &mut self.ema;
        let (ema_l, ema_r, ema_m, ema_s) =
            (&mut ema_l[..bins], &mut ema_r[..bins], &mut ema_m[..bins], &mut ema_s[..bins]);
        let [sum_l, sum_r, sum_m, sum_s] = &mut self.sums;
        let (sum_l, sum_r, sum_m, sum_s) =
            (&mut sum_l[..bins], &mut sum_r[..bins], &mut sum_m[..bins], &mut sum_s[..bins]);
        // The first frame after a (re)start initialises the exponential averages.
        let coeff = if self.ema_primed { ema_coeff } else { 1.0 };
        for k in 0..bins {
            let (a, b) = (left[k], right[k]);
            let (sr, si) = (a.re + b.re, a.im + b.im);
            let (dr, di) = (a.re - b.re, a.im - b.im);
            let pl = (a.re * a.re + a.im * a.im) * scale;
            let pr = (b.re * b.re + b.im * b.im) * scale;
            let pm = (sr * sr + si * si) * ms_scale;
            let ps = (dr * dr + di * di) * ms_scale;
            ema_l[k] += coeff * (pl - ema_l[k]);
            ema_r[k] += coeff * (pr - ema_r[k]);
            ema_m[k] += coeff * (pm - ema_m[k]);
            ema_s[k] += coeff * (ps - ema_s[k]);
            sum_l[k] += f64::from(pl);
            sum_r[k] += f64::from(pr);
            sum_m[k] += f64::from(pm);
            sum_s[k] += f64::from(ps);
        }
        self.ema_primed = true;
        self.frames_summed += 1;
    }

    /// Fills `levels` with the display trace of `channel` for the given settings.
    fn band_levels(
        &mut self,
        channel: SpectrumChannel,
        averaging: Averaging,
        smoothing: Smoothing,
        tilt_db_per_octave: f32,
        levels: &mut [f32; DISPLAY_BANDS],
    ) {
        let lane = channel.lane();
        let bins = self.bins;
        let trace = &mut self.trace[..bins];
        match averaging {
            Averaging::Infinite => {
                let inverse = 1.0 / self.frames_summed.max(1) as f64;
                for (t, &s) in trace.iter_mut().zip(&self.sums[lane][..bins]) {
                    *t = s * inverse;
                }
            }
            Averaging::Fast | Averaging::Slow => {
                for (t, &e) in trace.iter_mut().zip(&self.ema[lane][..bins]) {
                    *t = f64::from(e);
                }
            }
        }
        // Prefix sums (`prefix[k] = Σ trace[..k]`), computed as four independent running sums
        // over consecutive segments (four dependency chains instead of one), then offset.
        let prefix = &mut self.prefix[..bins + 1];
        prefix[0] = 0.0;
        let segment = bins.div_ceil(4);
        let mut running = [0.0f64; 4];
        for i in 0..segment {
            for (chain, sum) in running.iter_mut().enumerate() {
                let k = chain * segment + i;
                if k < bins {
                    *sum += trace[k];
                    prefix[k + 1] = *sum;
                }
            }
        }
        let mut offset = 0.0;
        for chain in 1..4 {
            offset += running[chain - 1];
            let start = (chain * segment + 1).min(bins + 1);
            let end = ((chain + 1) * segment + 1).min(bins + 1);
            for p in &mut prefix[start..end] {
                *p += offset;
            }
        }
        let base = smoothing.index() * DISPLAY_BANDS;
        let spans = &self.spans[base..base + DISPLAY_BANDS];
        for ((level, span), &octaves) in levels.iter_mut().zip(spans).zip(&self.tilt_octaves) {
            let power = match *span {
                BandSpan::Invalid => {
                    *level = f32::NEG_INFINITY;
                    continue;
                }
                BandSpan::Bins { lo, hi } => {
                    if smoothing == Smoothing::None {
                        trace[lo..hi].iter().fold(0.0f64, |m, &p| m.max(p))
                    } else {
                        (prefix[hi] - prefix[lo]) / (hi - lo) as f64
                    }
                }
                BandSpan::Interpolate { bin, frac } => trace[bin] * (1.0 - frac) + trace[bin + 1] * frac,
            };
            // f32 logarithm: ample for display (≈1e-6 dB) and about twice as fast as f64.
            let power = power as f32;
            let db = if power > 0.0 { 10.0 * power.log10() } else { f32::NEG_INFINITY };
            *level = (db + tilt_db_per_octave * octaves).max(LEVEL_FLOOR_DB);
        }
    }
}

/// Real-time FFT spectrum analyser (audio thread). See the module docs for the analysis, the dB
/// reference and the publishing rules.
pub struct SpectrumAnalyzer {
    /// Rate-dependent state and buffers.
    analysis: Analysis,
    /// Whether `process` analyses and publishes.
    enabled: bool,
    /// Published channel pair.
    mode: ChannelMode,
    /// Published averaging.
    averaging: Averaging,
    /// Published smoothing.
    smoothing: Smoothing,
    /// Display tilt, dB per octave.
    tilt_db_per_octave: f32,
    /// Writing side of the hand-off to the view.
    writer: TripleWriter<SpectrumFrame>,
    /// The view, until [`SpectrumAnalyzer::take_view`] hands it out.
    view: Option<SpectrumView>,
    /// Publications so far.
    sequence: u64,
    /// Staging area for the published traces.
    levels: [[f32; DISPLAY_BANDS]; 2],
}

impl SpectrumAnalyzer {
    /// Creates a disabled analyser for `sample_rate_hz` (clamped to 8–768 kHz; non-finite gives
    /// 48 kHz): plans the FFT and allocates every buffer. Defaults: L/R, fast averaging, no
    /// smoothing, no tilt. The GUI reader is available once through [`SpectrumAnalyzer::take_view`].
    pub fn new(sample_rate_hz: f64) -> Self {
        let (writer, reader) = triple_buffer(SpectrumFrame::empty());
        Self {
            analysis: Analysis::new(clamp_sample_rate_hz(sample_rate_hz)),
            enabled: false,
            mode: ChannelMode::LeftRight,
            averaging: Averaging::Fast,
            smoothing: Smoothing::None,
            tilt_db_per_octave: 0.0,
            writer,
            view: Some(SpectrumView { reader }),
            sequence: 0,
            levels: [[f32::NEG_INFINITY; DISPLAY_BANDS]; 2],
        }
    }

    /// Hands out the GUI-side reader (`Some` on the first call only).
    pub fn take_view(&mut self) -> Option<SpectrumView> {
        self.view.take()
    }

    /// Re-plans for a new sample rate, Hz (clamped like [`SpectrumAnalyzer::new`]); allocates, so
    /// call it outside `process`. Settings, enable state and the view connection are kept;
    /// averages are cleared.
    pub fn set_sample_rate_hz(&mut self, sample_rate_hz: f64) {
        self.analysis = Analysis::new(clamp_sample_rate_hz(sample_rate_hz));
    }

    /// Clears input history and all averages without allocating.
    pub fn reset(&mut self) {
        self.analysis.reset();
    }

    /// Enables or disables analysis and publication. Enabling after a disabled period restarts
    /// the input window (the next frame waits for `fft_size` new samples) and re-primes the
    /// exponential averages; the infinite average continues.
    pub fn set_enabled(&mut self, enabled: bool) {
        if enabled && !self.enabled {
            self.analysis.restart_window();
        }
        self.enabled = enabled;
    }

    /// Whether the analyser is enabled.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Selects the published channel pair (takes effect at the next publication).
    pub fn set_mode(&mut self, mode: ChannelMode) {
        self.mode = mode;
    }

    /// Selects the averaging (the exponential coefficient changes from the next frame on).
    pub fn set_averaging(&mut self, averaging: Averaging) {
        self.averaging = averaging;
    }

    /// Selects the fractional-octave smoothing of the published traces.
    pub fn set_smoothing(&mut self, smoothing: Smoothing) {
        self.smoothing = smoothing;
    }

    /// Sets the display tilt in dB per octave around [`TILT_PIVOT_HZ`] (0 = none; non-finite
    /// values give 0; clamped to ±12 dB/oct).
    pub fn set_tilt_db_per_octave(&mut self, tilt_db_per_octave: f32) {
        self.tilt_db_per_octave =
            if tilt_db_per_octave.is_finite() { tilt_db_per_octave.clamp(-12.0, 12.0) } else { 0.0 };
    }

    /// Analysed sample rate after clamping, Hz.
    pub fn sample_rate_hz(&self) -> f64 {
        self.analysis.sample_rate_hz
    }

    /// FFT length, samples.
    pub fn fft_size(&self) -> usize {
        self.analysis.fft_size
    }

    /// Hop between analysis frames, samples (a quarter of the FFT length).
    pub fn hop_size(&self) -> usize {
        self.analysis.hop
    }

    /// Width of one FFT bin, Hz.
    pub fn bin_width_hz(&self) -> f64 {
        self.analysis.sample_rate_hz / self.analysis.fft_size as f64
    }

    /// Number of valid display bands at this rate (centre below [`NYQUIST_GUARD_FRACTION`]·fs).
    pub fn valid_bands(&self) -> usize {
        self.analysis.valid_bands
    }

    /// Analysis frames in the infinite average since reset.
    pub fn frames_averaged(&self) -> u64 {
        self.analysis.frames_summed
    }

    /// Publications so far (the `sequence` of the newest published frame).
    pub fn publications(&self) -> u64 {
        self.sequence
    }

    /// Consumes a block of stereo audio (`left` and `right` are truncated to the shorter length).
    /// Never allocates, locks or panics; returns at once while disabled. Results do not depend on
    /// the block sizes.
    pub fn process(&mut self, left: &[f32], right: &[f32]) {
        if !self.enabled {
            return;
        }
        let frames = left.len().min(right.len());
        let (mut left, mut right) = (&left[..frames], &right[..frames]);
        while !left.is_empty() {
            let mut take = left.len().min(self.analysis.until_frame);
            if self.analysis.step != Step::Idle {
                take = take.min(self.analysis.until_step);
            }
            let (l_now, l_later) = left.split_at(take);
            let (r_now, r_later) = right.split_at(take);
            self.analysis.push(l_now, r_now);
            (left, right) = (l_later, r_later);
            self.analysis.until_frame -= take;
            self.analysis.samples_since_publish += take as u64;
            if self.analysis.step != Step::Idle {
                self.analysis.until_step -= take;
                if self.analysis.until_step == 0 {
                    self.run_step();
                }
            }
            if self.analysis.until_frame == 0 {
                self.analysis.until_frame = self.analysis.hop;
                // A frame still in flight (only when the hop is shorter than its steps) ends first.
                while self.analysis.step != Step::Idle {
                    self.run_step();
                }
                self.analysis.snapshot();
                self.analysis.step = Step::TransformLeft;
                self.analysis.until_step = ANALYSIS_STEP_SPACING;
            }
        }
    }

    /// Runs the pending step of the analysis frame in flight and schedules the next one.
    fn run_step(&mut self) {
        let next = match self.analysis.step {
            Step::Idle => Step::Idle,
            Step::TransformLeft => {
                self.analysis.transform(0);
                Step::TransformRight
            }
            Step::TransformRight => {
                self.analysis.transform(1);
                Step::Accumulate
            }
            Step::Accumulate => {
                let coeff = match self.averaging {
                    Averaging::Fast => self.analysis.fast_coeff,
                    Averaging::Slow | Averaging::Infinite => self.analysis.slow_coeff,
                };
                self.analysis.accumulate(coeff);
                Step::Publish
            }
            Step::Publish => {
                if self.analysis.samples_since_publish >= self.analysis.publish_interval {
                    self.analysis.samples_since_publish = 0;
                    self.publish();
                }
                Step::Idle
            }
        };
        self.analysis.step = next;
        self.analysis.until_step = ANALYSIS_STEP_SPACING;
    }

    /// Computes the two display traces with the current settings into `out` (no allocation).
    /// Before the first analysis frame every valid band reads [`LEVEL_FLOOR_DB`].
    pub fn compute_traces(&mut self, out: &mut [[f32; DISPLAY_BANDS]; 2]) {
        let channels = self.mode.channels();
        for (trace, channel) in out.iter_mut().zip(channels) {
            self.analysis.band_levels(
                channel,
                self.averaging,
                self.smoothing,
                self.tilt_db_per_octave,
                trace,
            );
        }
    }

    /// Publishes the current traces to the view.
    fn publish(&mut self) {
        let mut levels = self.levels;
        self.compute_traces(&mut levels);
        self.levels = levels;
        self.sequence += 1;
        let left = self.long_term_octave_bands(SpectrumChannel::Left);
        let right = self.long_term_octave_bands(SpectrumChannel::Right);
        let octave_bands_db = std::array::from_fn(|band| {
            let power =
                0.5 * (10f64.powf(f64::from(left[band]) / 10.0) + 10f64.powf(f64::from(right[band]) / 10.0));
            if power > 0.0 {
                (10.0 * power.log10()) as f32
            } else {
                f32::NEG_INFINITY
            }
        });
        let frame = self.writer.back_mut();
        *frame = SpectrumFrame {
            levels_db: self.levels,
            mode: self.mode,
            averaging: self.averaging,
            smoothing: self.smoothing,
            tilt_db_per_octave: self.tilt_db_per_octave,
            valid_bands: self.analysis.valid_bands,
            sample_rate_hz: self.analysis.sample_rate_hz,
            fft_size: self.analysis.fft_size,
            frames_averaged: self.analysis.frames_summed,
            sequence: self.sequence,
            octave_bands_db,
        };
        self.writer.publish();
    }

    /// Long-term octave-band levels of `channel` from the infinite average (31.5 Hz … 16 kHz,
    /// IEC 61260-1 base-10 band edges), in dB re a full-scale sine: the power of the bins whose
    /// centre lies in the band, divided by the Hann ENBW (1.5 bins), so a sine of amplitude `A`
    /// inside a band reads `20·log10(A)` and noise of mean-square `m` in a band reads
    /// `10·log10(2m)`. Bands above Nyquist (or empty) and all bands before the first frame read
    /// `f32::NEG_INFINITY`. No allocation.
    pub fn long_term_octave_bands(&self, channel: SpectrumChannel) -> [f32; OCTAVE_BANDS] {
        let analysis = &self.analysis;
        let lane = channel.lane();
        let frames = analysis.frames_summed;
        std::array::from_fn(|index| {
            let (lo, hi) = analysis.octave_spans[index];
            if frames == 0 || lo >= hi {
                return f32::NEG_INFINITY;
            }
            let total: f64 = analysis.sums[lane][lo..hi].iter().sum();
            let power = total / frames as f64 / HANN_ENBW_BINS;
            if power > 0.0 {
                (10.0 * power.log10()) as f32
            } else {
                f32::NEG_INFINITY
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// xorshift64* generator, uniform in [−1, 1).
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
            (bits as f64 / (1u64 << 23) as f64 - 1.0) as f32
        }

        fn block(&mut self, frames: usize, amplitude: f32) -> Vec<f32> {
            (0..frames).map(|_| self.next() * amplitude).collect()
        }
    }

    fn enabled(rate: f64) -> (SpectrumAnalyzer, SpectrumView) {
        let mut analyzer = SpectrumAnalyzer::new(rate);
        let view = analyzer.take_view().expect("view");
        analyzer.set_enabled(true);
        (analyzer, view)
    }

    fn feed(analyzer: &mut SpectrumAnalyzer, left: &[f32], right: &[f32], block: usize) {
        for (l, r) in left.chunks(block).zip(right.chunks(block)) {
            analyzer.process(l, r);
        }
    }

    fn band_nearest(frequency_hz: f64) -> usize {
        (0..DISPLAY_BANDS)
            .min_by(|&a, &b| {
                let da = (display_band_frequency_hz(a) / frequency_hz).ln().abs();
                let db = (display_band_frequency_hz(b) / frequency_hz).ln().abs();
                da.total_cmp(&db)
            })
            .expect("bands")
    }

    /// Magnitude of the periodic Hann window's DTFT at `offset_bins`, normalised to 1 at 0,
    /// by direct summation (independent of the FFT).
    fn hann_response(fft_size: usize, offset_bins: f64) -> f64 {
        let (mut re, mut im, mut sum) = (0.0, 0.0, 0.0);
        for n in 0..fft_size {
            let w = 0.5 - 0.5 * (2.0 * PI * n as f64 / fft_size as f64).cos();
            let phase = 2.0 * PI * offset_bins * n as f64 / fft_size as f64;
            re += w * phase.cos();
            im -= w * phase.sin();
            sum += w;
        }
        (re * re + im * im).sqrt() / sum
    }

    #[test]
    fn full_scale_sine_reads_0_db() {
        let rate = 48_000.0;
        let (mut analyzer, mut view) = enabled(rate);
        analyzer.set_averaging(Averaging::Infinite);
        let f0 = 997.0;
        let signal: Vec<f32> =
            (0..2 * 48_000).map(|n| (2.0 * PI * f0 * n as f64 / rate).sin() as f32).collect();
        feed(&mut analyzer, &signal, &signal, 480);
        let frame = *view.latest();
        let band = band_nearest(f0);
        let measured = f64::from(frame.levels_db[0][band]);
        let n = analyzer.fft_size();
        let bin = f0 / (rate / n as f64);
        let expected = 20.0 * hann_response(n, bin - bin.round()).log10();
        println!("997 Hz: band {band} reads {measured:.4} dB, Hann scalloping predicts {expected:.4} dB");
        assert!(measured.abs() <= 0.2, "{measured}");
        assert!((measured - expected).abs() < 0.01, "{measured} vs {expected}");
        assert_eq!(frame.levels_db[0], frame.levels_db[1]);
        // A bin-centred sine reads 0 dB exactly (window-gain correction).
        let (mut analyzer, mut view) = enabled(rate);
        analyzer.set_averaging(Averaging::Infinite);
        let centred = 171.0 * rate / n as f64;
        let signal: Vec<f32> =
            (0..48_000).map(|k| (0.5 * (2.0 * PI * centred * k as f64 / rate).cos()) as f32).collect();
        feed(&mut analyzer, &signal, &signal, 1000);
        let level = view.latest().levels_db[0][band_nearest(centred)];
        assert!((level - (-6.0206)).abs() < 0.01, "{level}");
    }

    #[test]
    fn white_noise_is_flat_at_the_predicted_level() {
        let rate = 48_000.0;
        let (mut analyzer, mut view) = enabled(rate);
        analyzer.set_averaging(Averaging::Infinite);
        analyzer.set_smoothing(Smoothing::Third);
        let amplitude = 0.5f32;
        let mut noise = Noise(0x1234_5678);
        let left = noise.block(20 * 48_000, amplitude);
        let right = noise.block(20 * 48_000, amplitude);
        feed(&mut analyzer, &left, &right, 512);
        // Uniform noise on [−a, a): σ² = a²/3; per-bin level 10·log10(σ²·6/N) (module docs).
        let variance = f64::from(amplitude * amplitude) / 3.0;
        let predicted = 10.0 * (variance * 6.0 / analyzer.fft_size() as f64).log10();
        let frame = *view.latest();
        let mut worst: f64 = 0.0;
        for band in 0..DISPLAY_BANDS {
            let f = display_band_frequency_hz(band);
            if !(100.0..=15_000.0).contains(&f) {
                continue;
            }
            for trace in &frame.levels_db {
                worst = worst.max((f64::from(trace[band]) - predicted).abs());
            }
        }
        println!("white noise: predicted {predicted:.2} dB, worst deviation {worst:.3} dB (100 Hz–15 kHz)");
        assert!(worst <= 1.0, "{worst}");
    }

    /// Pink noise (PSD ∝ 1/f) synthesised in the frequency domain: exact 1/√k magnitudes with random
    /// phases, inverse real FFT, periodic over 2^20 samples.
    fn pink_noise(rms: f64) -> Vec<f32> {
        let len = 1 << 20;
        let mut planner = RealFftPlanner::<f64>::new();
        let inverse = planner.plan_fft_inverse(len);
        let mut spectrum = inverse.make_input_vec();
        let mut noise = Noise(0xDEAD_BEEF);
        for (k, value) in spectrum.iter_mut().enumerate() {
            if k == 0 || k == len / 2 {
                continue;
            }
            let phase = PI * f64::from(noise.next());
            *value = Complex::from_polar(1.0 / (k as f64).sqrt(), phase);
        }
        let mut signal = inverse.make_output_vec();
        inverse.process(&mut spectrum, &mut signal).expect("inverse fft");
        let actual = (signal.iter().map(|x| x * x).sum::<f64>() / len as f64).sqrt();
        signal.iter().map(|x| (x * rms / actual) as f32).collect()
    }

    fn levels_100_to_15k(trace: &[f32; DISPLAY_BANDS]) -> Vec<(f64, f64)> {
        (0..DISPLAY_BANDS)
            .map(|b| (display_band_frequency_hz(b), f64::from(trace[b])))
            .filter(|(f, _)| (100.0..=15_000.0).contains(f))
            .collect()
    }

    #[test]
    fn tilt_flattens_pink_noise() {
        let rate = 48_000.0;
        let pink = pink_noise(0.1);
        let run = |tilt: f32| {
            let (mut analyzer, mut view) = enabled(rate);
            analyzer.set_averaging(Averaging::Infinite);
            analyzer.set_smoothing(Smoothing::Third);
            analyzer.set_tilt_db_per_octave(tilt);
            feed(&mut analyzer, &pink, &pink, 1024);
            levels_100_to_15k(&view.latest().levels_db[0])
        };
        let flat = run(PINK_TILT_DB_PER_OCTAVE);
        let mean = flat.iter().map(|(_, l)| l).sum::<f64>() / flat.len() as f64;
        let worst = flat.iter().map(|(_, l)| (l - mean).abs()).fold(0.0, f64::max);
        println!("pink + {PINK_TILT_DB_PER_OCTAVE} dB/oct: worst deviation from mean {worst:.3} dB");
        assert!(worst <= 1.0, "{worst}");
        // Least-squares slope per octave of the untilted and the 4.5 dB/oct views.
        let slope = |points: &[(f64, f64)]| {
            let n = points.len() as f64;
            let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (f, l)| (a + f.log2(), b + l));
            let (mx, my) = (sx / n, sy / n);
            let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (f, l)| {
                (a + (f.log2() - mx) * (l - my), b + (f.log2() - mx).powi(2))
            });
            num / den
        };
        let untilted = slope(&run(0.0));
        let mix = slope(&run(MIX_TILT_DB_PER_OCTAVE));
        println!("pink slope: untilted {untilted:.3} dB/oct, with 4.5 dB/oct tilt {mix:.3} dB/oct");
        assert!((untilted + 3.0103).abs() < 0.1, "{untilted}");
        assert!((mix - 1.4897).abs() < 0.1, "{mix}");
    }

    #[test]
    fn bands_above_guard_are_flagged() {
        for rate in [8_000.0, 44_100.0, 48_000.0] {
            let (mut analyzer, mut view) = enabled(rate);
            let mut noise = Noise(7);
            let signal = noise.block(rate as usize, 0.3);
            feed(&mut analyzer, &signal, &signal, 333);
            let frame = *view.latest();
            let expected =
                (0..DISPLAY_BANDS).take_while(|&b| display_band_frequency_hz(b) < 0.45 * rate).count();
            assert_eq!(frame.valid_bands, expected, "{rate}");
            for trace in &frame.levels_db {
                for (band, &level) in trace.iter().enumerate() {
                    if band < expected {
                        assert!(level.is_finite() && level >= LEVEL_FLOOR_DB, "{rate} {band} {level}");
                        assert!(frame.band_valid(band));
                    } else {
                        assert_eq!(level, f32::NEG_INFINITY, "{rate} {band}");
                        assert!(!frame.band_valid(band));
                    }
                }
            }
        }
        assert_eq!(SpectrumAnalyzer::new(44_100.0).valid_bands(), DISPLAY_BANDS - 1);
    }

    #[test]
    fn mid_side_of_mono_has_no_side() {
        let (mut analyzer, mut view) = enabled(48_000.0);
        analyzer.set_mode(ChannelMode::MidSide);
        analyzer.set_averaging(Averaging::Slow);
        analyzer.set_smoothing(Smoothing::Sixth);
        let mut noise = Noise(99);
        let signal = noise.block(48_000, 0.5);
        feed(&mut analyzer, &signal, &signal, 256);
        let frame = *view.latest();
        assert_eq!(frame.mode, ChannelMode::MidSide);
        let valid = frame.valid_bands;
        assert!(frame.levels_db[1][..valid].iter().all(|&l| l < -100.0));
        assert!(frame.levels_db[0][..valid].iter().all(|&l| l > -60.0));
    }

    #[test]
    fn all_rates_work() {
        for (rate, fft) in [
            (8_000.0, 4_096),
            (11_025.0, 4_096),
            (22_050.0, 4_096),
            (32_000.0, 8_192),
            (44_100.0, 8_192),
            (48_000.0, 8_192),
            (88_200.0, 16_384),
            (96_000.0, 16_384),
            (176_400.0, 32_768),
            (192_000.0, 32_768),
            (384_000.0, 32_768),
            (768_000.0, 32_768),
            (1_000.0, 4_096),
            (1e7, 32_768),
            (f64::NAN, 8_192),
        ] {
            let (mut analyzer, mut view) = enabled(rate);
            assert_eq!(analyzer.fft_size(), fft, "{rate}");
            for smoothing in Smoothing::ALL {
                analyzer.set_smoothing(smoothing);
                let frames = (analyzer.sample_rate_hz() * 0.3) as usize;
                let mut noise = Noise(3);
                let left = noise.block(frames, 0.5);
                let right = noise.block(frames, 0.5);
                feed(&mut analyzer, &left, &right, 997);
            }
            let frame = *view.latest();
            assert!(frame.sequence > 0, "{rate}");
            assert!(frame.levels_db.iter().flatten().all(|l| !l.is_nan()), "{rate}");
            assert!(frame.levels_db[0][..frame.valid_bands].iter().all(|&l| l > -80.0 && l < 0.0), "{rate}");
            let octaves = analyzer.long_term_octave_bands(SpectrumChannel::Left);
            assert!(octaves.iter().all(|l| !l.is_nan()), "{rate}");
        }
    }

    #[test]
    fn publication_is_rate_limited_and_gated() {
        for rate in [8_000.0, 48_000.0, 768_000.0] {
            let mut analyzer = SpectrumAnalyzer::new(rate);
            let mut view = analyzer.take_view().expect("view");
            assert!(analyzer.take_view().is_none());
            let seconds = 2usize;
            let mut noise = Noise(5);
            let signal = noise.block(seconds * analyzer.sample_rate_hz() as usize, 0.5);
            // Disabled by default: nothing is analysed or published.
            feed(&mut analyzer, &signal, &signal, 64);
            assert!(!view.has_update());
            assert_eq!(view.latest().sequence, 0);
            assert_eq!(analyzer.frames_averaged(), 0);
            analyzer.set_enabled(true);
            feed(&mut analyzer, &signal, &signal, 64);
            let published = view.latest().sequence;
            let limit = (MAX_PUBLISH_RATE_HZ * seconds as f64) as u64 + 1;
            println!("{rate} Hz: {published} publications in {seconds} s");
            assert!(published > 0 && published <= limit, "{rate}: {published}");
            analyzer.set_enabled(false);
            feed(&mut analyzer, &signal, &signal, 64);
            assert!(!view.has_update());
            assert_eq!(analyzer.publications(), published);
        }
    }

    #[test]
    fn block_size_invariance() {
        let rate = 48_000.0;
        let mut noise = Noise(42);
        let left = noise.block(3 * 48_000, 0.5);
        let right = noise.block(3 * 48_000, 0.25);
        let mut random = Noise(77);
        let random_sizes: Vec<usize> =
            (0..10_000).map(|_| 1 + ((random.next() + 1.0) * 1500.0) as usize).collect();
        for (mode, averaging, smoothing) in [
            (ChannelMode::LeftRight, Averaging::Fast, Smoothing::None),
            (ChannelMode::MidSide, Averaging::Infinite, Smoothing::Third),
        ] {
            let run = |sizes: &mut dyn Iterator<Item = usize>| {
                let (mut analyzer, mut view) = enabled(rate);
                analyzer.set_mode(mode);
                analyzer.set_averaging(averaging);
                analyzer.set_smoothing(smoothing);
                analyzer.set_tilt_db_per_octave(MIX_TILT_DB_PER_OCTAVE);
                let mut start = 0;
                while start < left.len() {
                    let end = (start + sizes.next().unwrap_or(1)).min(left.len());
                    analyzer.process(&left[start..end], &right[start..end]);
                    start = end;
                }
                (*view.latest(), analyzer.long_term_octave_bands(SpectrumChannel::Side))
            };
            let reference = run(&mut std::iter::repeat(4096));
            assert!(reference.0.sequence > 50);
            for block in [1, 7, 64] {
                assert_eq!(run(&mut std::iter::repeat(block)), reference, "block {block}");
            }
            assert_eq!(run(&mut random_sizes.iter().copied()), reference, "random blocks");
        }
    }

    #[test]
    fn octave_bands_match_analytic_levels() {
        let rate = 48_000.0;
        let mut analyzer = SpectrumAnalyzer::new(rate);
        analyzer.set_enabled(true);
        let amplitude = 0.5f32;
        let mut noise = Noise(11);
        let signal = noise.block(10 * 48_000, amplitude);
        feed(&mut analyzer, &signal, &signal, 4096);
        let levels = analyzer.long_term_octave_bands(SpectrumChannel::Left);
        let variance = f64::from(amplitude * amplitude) / 3.0;
        for (index, &level) in levels.iter().enumerate() {
            let centre = octave_band_centre_hz(index);
            let bandwidth = centre * (10f64.powf(0.15) - 10f64.powf(-0.15));
            // Mean-square in the band = σ²·B/(fs/2); reported as 10·log10(2·ms).
            let expected = 10.0 * (2.0 * variance * bandwidth / (rate / 2.0)).log10();
            let tolerance = if centre < 100.0 { 1.5 } else { 0.3 };
            println!(
                "octave {:>7} Hz: {level:.2} dB, expected {expected:.2} dB",
                OCTAVE_BAND_NOMINAL_HZ[index]
            );
            assert!((f64::from(level) - expected).abs() < tolerance, "{index}: {level} vs {expected}");
        }
        // A sine of amplitude 0.5 at 1 kHz: −6.02 dB in the 1 kHz band, far less elsewhere.
        let mut analyzer = SpectrumAnalyzer::new(rate);
        analyzer.set_enabled(true);
        let sine: Vec<f32> =
            (0..48_000).map(|n| (0.5 * (2.0 * PI * 1000.0 * n as f64 / rate).sin()) as f32).collect();
        feed(&mut analyzer, &sine, &sine, 4096);
        let levels = analyzer.long_term_octave_bands(SpectrumChannel::Mid);
        assert!((levels[5] + 6.0206).abs() < 0.05, "{}", levels[5]);
        assert!(levels.iter().enumerate().all(|(i, &l)| i == 5 || l < -60.0), "{levels:?}");
        assert_eq!(
            SpectrumAnalyzer::new(rate).long_term_octave_bands(SpectrumChannel::Left),
            [f32::NEG_INFINITY; 10]
        );
    }

    #[test]
    fn reset_clears_averages() {
        let (mut analyzer, _view) = enabled(48_000.0);
        let mut noise = Noise(1);
        let signal = noise.block(48_000, 0.5);
        feed(&mut analyzer, &signal, &signal, 512);
        assert!(analyzer.frames_averaged() > 0);
        analyzer.reset();
        assert_eq!(analyzer.frames_averaged(), 0);
        let mut traces = [[0.0; DISPLAY_BANDS]; 2];
        analyzer.compute_traces(&mut traces);
        assert!(traces[0][..analyzer.valid_bands()].iter().all(|&l| l == LEVEL_FLOOR_DB));
    }

    #[test]
    fn exponential_time_constants() {
        // Once the window holds only silence every frame's power is exactly 0, so the average
        // decays by (1 − α) per hop: the level drop over K hops gives τ = K·hop/fs / ln(P0/PK).
        let rate = 48_000.0;
        for (averaging, tau_s) in [(Averaging::Fast, 0.3), (Averaging::Slow, 3.0)] {
            let (mut analyzer, _view) = enabled(rate);
            analyzer.set_averaging(averaging);
            let hop = analyzer.hop_size();
            let n = analyzer.fft_size();
            let f = 64.0 * rate / n as f64;
            let loud: Vec<f32> = (0..n * 8).map(|k| (2.0 * PI * f * k as f64 / rate).sin() as f32).collect();
            feed(&mut analyzer, &loud, &loud, 512);
            let silence = vec![0.0f32; n];
            analyzer.process(&silence, &silence);
            let band = band_nearest(f);
            let mut traces = [[0.0; DISPLAY_BANDS]; 2];
            analyzer.compute_traces(&mut traces);
            let before = f64::from(traces[0][band]);
            let hops = 20;
            for _ in 0..hops {
                analyzer.process(&silence[..hop], &silence[..hop]);
            }
            analyzer.compute_traces(&mut traces);
            let drop_db = before - f64::from(traces[0][band]);
            let measured = hops as f64 * hop as f64 / rate / (drop_db / (10.0 * std::f64::consts::E.log10()));
            println!("{averaging:?} average: τ = {measured:.4} s (nominal {tau_s} s)");
            assert!((measured / tau_s - 1.0).abs() < 0.01, "{measured}");
        }
    }

    #[test]
    fn triple_buffer_never_tears() {
        const LEN: usize = 1024;
        const WRITES: u64 = 200_000;
        let (mut writer, mut reader) = triple_buffer([0u64; LEN]);
        let producer = std::thread::spawn(move || {
            for counter in 1..=WRITES {
                writer.back_mut().fill(counter);
                writer.publish();
            }
        });
        let mut last = 0;
        let mut distinct = 0;
        let deadline = Instant::now();
        loop {
            let value = reader.read();
            let first = value[0];
            assert!(value.iter().all(|&x| x == first), "torn read at {first}");
            assert!(first >= last, "went backwards: {first} < {last}");
            if first != last {
                distinct += 1;
            }
            last = first;
            if first == WRITES {
                break;
            }
            assert!(deadline.elapsed().as_secs() < 60);
        }
        producer.join().expect("producer");
        println!("triple buffer: reader saw {distinct} distinct values out of {WRITES}");
        assert!(distinct > 1);
    }

    /// On-CPU time of the calling thread, ns (Linux `schedstat`), so contention from other
    /// processes does not inflate the benchmark; falls back to wall-clock time elsewhere.
    fn thread_cpu_ns(wall: Instant) -> f64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
            .unwrap_or_else(|| wall.elapsed().as_nanos() as f64)
    }

    #[test]
    #[ignore = "benchmark; run with --release -- --ignored --nocapture"]
    fn bench_spectrum() {
        let rate = 48_000.0;
        let (mut analyzer, _view) = enabled(rate);
        analyzer.set_smoothing(Smoothing::Third);
        let mut noise = Noise(8);
        let frames = 60 * 48_000;
        let left = noise.block(frames, 0.5);
        let right = noise.block(frames, 0.5);
        feed(&mut analyzer, &left[..48_000], &right[..48_000], 512);
        let origin = Instant::now();
        let (wall, cpu) = (Instant::now(), thread_cpu_ns(origin));
        feed(&mut analyzer, &left, &right, 512);
        let cpu = (thread_cpu_ns(origin) - cpu) / frames as f64;
        let wall = wall.elapsed().as_nanos() as f64 / frames as f64;
        println!(
            "spectrum analyser (enabled, N = {}, 75 % overlap, L+R+M+S, 1/3 oct): {cpu:.2} ns on-CPU \
             ({wall:.2} ns wall) per stereo frame",
            analyzer.fft_size()
        );
        // Breakdown per hop: analysis frame (window + 2 FFTs + averages) and one publication.
        let hops = 2_000;
        let start = thread_cpu_ns(origin);
        for _ in 0..hops {
            let a = &mut analyzer.analysis;
            a.snapshot();
            a.transform(0);
            a.transform(1);
            a.accumulate(0.1);
        }
        let analyze_ns = (thread_cpu_ns(origin) - start) / hops as f64;
        let start = thread_cpu_ns(origin);
        let mut traces = [[0.0; DISPLAY_BANDS]; 2];
        for _ in 0..hops {
            analyzer.compute_traces(&mut traces);
        }
        let traces_ns = (thread_cpu_ns(origin) - start) / hops as f64;
        let start = thread_cpu_ns(origin);
        for _ in 0..hops {
            let a = &mut analyzer.analysis;
            let _ = a.fft.process_with_scratch(&mut a.fft_in[0], &mut a.spectra[0], &mut a.scratch);
        }
        println!("  one FFT: {:.1} us", (thread_cpu_ns(origin) - start) / hops as f64 * 1e-3);
        println!(
            "  per hop of {} samples: analysis {:.1} us, traces {:.1} us",
            analyzer.hop_size(),
            analyze_ns * 1e-3,
            traces_ns * 1e-3
        );
        analyzer.set_enabled(false);
        let wall = Instant::now();
        feed(&mut analyzer, &left, &right, 512);
        let ns = wall.elapsed().as_nanos() as f64 / frames as f64;
        println!("spectrum analyser (disabled): {ns:.3} ns per stereo frame");
    }
}
