//! The mastering EQ: [`EQ_BANDS`] parametric bands (low/high cut, low/high shelf, bell, tilt),
//! each on the stereo pair, on mid only or on side only, in one of two structural modes.
//!
//! # Target response
//!
//! Every band is a product of analogue prototype sections ([`AnalogSection`]); their exact
//! magnitude is the target both modes realise and what [`Eq::magnitude_db`] reports for the
//! editor:
//!
//! * Bell, low shelf, high shelf: the RBJ Audio EQ Cookbook prototypes
//!   (<https://www.w3.org/TR/audio-eq-cookbook/>), `gain_db` at the bell's centre, at DC (low
//!   shelf) or at high frequencies (high shelf), half of it at `freq_hz`, Q as in the cookbook
//!   (0.707 is the steepest shelf without overshoot).
//! * Tilt: the first-order pair `(t·s + 1)/(s + t)`, `t = 10^(gain/40)`, pivoting at `freq_hz`:
//!   0 dB at the pivot, `−gain/2` towards DC, `+gain/2` towards high frequencies, with a zero
//!   at `freq/t` and a pole at `freq·t` (a gentle slope of at most 6 dB/oct between them).
//! * Low/high cut: Butterworth cascades of order `slope/6` (6, 12, 18, 24, 36, 48 dB/oct):
//!   −3 dB at `freq_hz` at the default `q` = 0.707, and an asymptote of exactly `slope` dB/oct.
//!   `q` scales the Q of the highest-Q (last) stage by `q/0.707` (clamped to 0.1–40): `q` = 0.707
//!   is exactly Butterworth; for 12 dB/oct that stage is the whole filter.
//!
//! Mid/side bands act on `M = (L+R)/2` and `S = (L−R)/2`; the result is decoded with
//! `L = M + S`, `R = M − S`. Only when some band uses M/S is the signal encoded.
//!
//! # Minimum phase ([`EqMode::MinimumPhase`], latency 0)
//!
//! Each band becomes a cascade of f64 transposed-direct-form-II sections designed without
//! cramping near Nyquist ([`crate::dsp::biquad`]: Vicanek's matched sections, plus a fitted
//! correction section where they are not within 0.005 dB of the prototype; measured within
//! 0.02 dB for bells and shelves up to 0.45·fs). All bands run as one chain of two-lane
//! sections over (L, R), or over (M, S) when any band uses mid/side: stereo bands are the same
//! filter on both lanes, so they commute with the encoding; a mid (side) band has the identity
//! on its other lane. When the encoding is switched on or off, the state of the stereo bands is
//! transformed like the signal, so nothing clicks. At rest the two lanes are independent
//! chains, so the kernel packs the `j`-th non-identity mid section and the `j`-th side section
//! into one two-lane section, and runs the chain time-skewed with two sections per AVX2 vector
//! (bit-identical to sample-by-sample processing).
//!
//! Parameters are followed at a control rate ([`CONTROL_INTERVAL_MS`]; ticks at fixed positions
//! in time, so any partition of the input gives the same output bit for bit). Every
//! [`DESIGN_INTERVAL_MS`] (the bands staggered across ticks) a moving band advances gain (dB),
//! log-frequency and log-Q linearly towards its target, reaching it after [`SMOOTHING_MS`],
//! designs its sections once, and each section interpolates its coefficients linearly per
//! sample to the new design: no zipper noise, and a band at rest has exactly the coefficients
//! of a fresh instance. Structural changes (enabling, kind, slope, placement) fade the band's
//! contribution out (`x + m·(band(x) − x)`, `m` a smoothstep) over [`STRUCTURE_FADE_MS`], swap
//! the structure, and fade it back in. A band at rest at 0 dB is exactly the identity and
//! costs nothing.
//!
//! # Linear phase ([`EqMode::LinearPhase`])
//!
//! See [`crate::dsp::eq_linear_phase`]: an FIR designed from the same target magnitude,
//! uniformly partitioned FFT convolution, constant latency `N/16 + N/2 − 1` with `N` the kernel
//! FFT size: 4607 samples at 44.1/48 kHz (`N` = 8192), 9215 at 88.2/96 kHz, 18 431 at
//! 176.4/192 kHz, 575 at 8 kHz, 36 863 from 352.8 kHz (`N` capped at 65 536).
//!
//! # Neutral and bypass
//!
//! With `bypass`, or when every band is neutral (disabled, or a bell/shelf/tilt at 0 dB), the
//! output crossfades over [`BYPASS_FADE_MS`] (smoothstep) to the input delayed by the latency,
//! and is then that delayed input bit for bit (only non-finite and subnormal input samples
//! become 0). While fully bypassed nothing is filtered; processing resumes from rest on the
//! current settings.
//!
//! Input to the filters is sanitised (non-finite → 0, clamped to ±[`MAX_INPUT_SAMPLE`]);
//! output values too small to be normal f32 are flushed to zero; filter state is snapped below
//! 1e-20 every [`SNAP_INTERVAL_TICKS`] ticks.
//!
//! Mode is structural: it is read in [`Eq::new`] only.

#[cfg(target_arch = "x86_64")]
use super::biquad::Fused;
use super::biquad::{
    matched_cascade_tail, run_cascade, AnalogSection, Biquad, BiquadCoefficients, MulAdd, Separate,
};
use super::clamp_sample_rate_hz;
use super::eq_linear_phase::LinearPhaseEngine;
use super::kernel::Kernel;

/// Number of bands.
pub const EQ_BANDS: usize = 6;
/// Lowest band frequency.
pub const MIN_FREQ_HZ: f32 = 10.0;
/// Highest band frequency (further limited to [`MAX_FREQ_RATIO`]·fs).
pub const MAX_FREQ_HZ: f32 = 30_000.0;
/// Highest band frequency as a fraction of the sample rate.
pub const MAX_FREQ_RATIO: f64 = 0.45;
/// Largest band gain magnitude.
pub const MAX_GAIN_DB: f32 = 30.0;
/// Lowest Q.
pub const MIN_Q: f32 = 0.1;
/// Highest Q.
pub const MAX_Q: f32 = 40.0;
/// The cut slopes offered, in dB/oct (Butterworth orders 1, 2, 3, 4, 6, 8).
pub const CUT_SLOPES_DB_PER_OCT: [u32; 6] = [6, 12, 18, 24, 36, 48];
/// Time over which gain, frequency and Q move to a new value (linear in dB, log-f, log-Q).
pub const SMOOTHING_MS: f64 = 20.0;
/// Duration of each half (out, then in) of a band's structural change.
pub const STRUCTURE_FADE_MS: f64 = 10.0;
/// Duration of the bypass crossfade.
pub const BYPASS_FADE_MS: f64 = 10.0;
/// Target interval of the control ticks at which smoothing advances and coefficients are
/// designed; rounded to a power of two of samples (32 at 44.1/48 kHz), 16 to 512 samples.
pub const CONTROL_INTERVAL_MS: f64 = 2.0 / 3.0;
/// Input samples are clamped to ±this before filtering (non-finite ones become 0), so state
/// and output stay finite whatever arrives.
pub const MAX_INPUT_SAMPLE: f64 = crate::dsp::sanitizer::MAX_SANE_SAMPLE as f64;

/// Most analogue prototype sections in one band (48 dB/oct: four second-order stages).
pub(crate) const MAX_PROTOTYPES: usize = 4;
/// Most digital sections in one band (the prototypes plus one correction section).
pub(crate) const MAX_SECTIONS: usize = MAX_PROTOTYPES + 1;

/// The cut filters' `q` at which every stage has its Butterworth Q (the last stage's Q scales
/// with `q / CUT_BUTTERWORTH_Q`). Taken from the f32 parameter value 0.707, so the default gives
/// exactly Butterworth.
const CUT_BUTTERWORTH_Q: f64 = 0.707f32 as f64;

/// What a band does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EqBandKind {
    /// Butterworth highpass (`freq_hz`, `slope_db_per_oct`, `q` of the last stage).
    LowCut,
    /// Butterworth lowpass (`freq_hz`, `slope_db_per_oct`, `q` of the last stage).
    HighCut,
    /// Second-order low shelf (`freq_hz`, `gain_db`, `q`).
    LowShelf,
    /// Second-order high shelf (`freq_hz`, `gain_db`, `q`).
    HighShelf,
    /// Peaking bell (`freq_hz`, `gain_db`, `q`).
    #[default]
    Bell,
    /// First-order tilt pivoting at `freq_hz`; `gain_db` is the total tilt (±gain/2 at the
    /// extremes).
    Tilt,
}

impl EqBandKind {
    /// True for the kinds whose neutral setting is `gain_db == 0`.
    pub fn has_gain(self) -> bool {
        !matches!(self, EqBandKind::LowCut | EqBandKind::HighCut)
    }
}

/// Which signal a band processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EqPlacement {
    /// Left and right alike.
    #[default]
    Stereo,
    /// The mid signal `(L+R)/2` only.
    Mid,
    /// The side signal `(L−R)/2` only.
    Side,
}

/// Filter realisation. Structural: read in [`Eq::new`] only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EqMode {
    /// IIR sections, zero latency, analogue-like phase.
    #[default]
    MinimumPhase,
    /// Symmetric FIR by FFT convolution, constant latency, no phase shift.
    LinearPhase,
}

/// One band's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EqBandSettings {
    /// Band on. Default per band (see [`EqSettings::default`]).
    pub enabled: bool,
    /// Filter kind.
    pub kind: EqBandKind,
    /// Centre, corner or pivot frequency in Hz, 10–30 000, further limited to 0.45·fs.
    pub freq_hz: f32,
    /// Gain in dB, −30 to +30 (bell, shelves, tilt; ignored by cuts). Default 0.
    pub gain_db: f32,
    /// Q, 0.1–40: bandwidth of bells, resonance of shelves; for cuts of 12 dB/oct and more the
    /// last stage's Q relative to Butterworth (0.707 = Butterworth).
    pub q: f32,
    /// Cut slope in dB/oct: 6, 12, 18, 24, 36 or 48 (other values snap to the nearest).
    pub slope_db_per_oct: u32,
    /// Stereo, mid or side.
    pub placement: EqPlacement,
}

impl Default for EqBandSettings {
    /// A neutral, enabled 1 kHz bell (Q 0.707, 12 dB/oct when switched to a cut).
    fn default() -> Self {
        Self {
            enabled: true,
            kind: EqBandKind::Bell,
            freq_hz: 1_000.0,
            gain_db: 0.0,
            q: 0.707,
            slope_db_per_oct: 12,
            placement: EqPlacement::Stereo,
        }
    }
}

/// The default band layout: low cut 20 Hz / 12 dB/oct (disabled), low shelf 100 Hz, bells at
/// 250 Hz, 1 kHz and 4 kHz (Q 1), high shelf 10 kHz; all at 0 dB, so the default is neutral.
pub const DEFAULT_BANDS: [EqBandSettings; EQ_BANDS] = [
    EqBandSettings {
        enabled: false,
        kind: EqBandKind::LowCut,
        freq_hz: 20.0,
        gain_db: 0.0,
        q: 0.707,
        slope_db_per_oct: 12,
        placement: EqPlacement::Stereo,
    },
    EqBandSettings {
        enabled: true,
        kind: EqBandKind::LowShelf,
        freq_hz: 100.0,
        gain_db: 0.0,
        q: 0.707,
        slope_db_per_oct: 12,
        placement: EqPlacement::Stereo,
    },
    EqBandSettings {
        enabled: true,
        kind: EqBandKind::Bell,
        freq_hz: 250.0,
        gain_db: 0.0,
        q: 1.0,
        slope_db_per_oct: 12,
        placement: EqPlacement::Stereo,
    },
    EqBandSettings {
        enabled: true,
        kind: EqBandKind::Bell,
        freq_hz: 1_000.0,
        gain_db: 0.0,
        q: 1.0,
        slope_db_per_oct: 12,
        placement: EqPlacement::Stereo,
    },
    EqBandSettings {
        enabled: true,
        kind: EqBandKind::Bell,
        freq_hz: 4_000.0,
        gain_db: 0.0,
        q: 1.0,
        slope_db_per_oct: 12,
        placement: EqPlacement::Stereo,
    },
    EqBandSettings {
        enabled: true,
        kind: EqBandKind::HighShelf,
        freq_hz: 10_000.0,
        gain_db: 0.0,
        q: 0.707,
        slope_db_per_oct: 12,
        placement: EqPlacement::Stereo,
    },
];

/// All EQ parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EqSettings {
    /// The bands, processed in this order. Defaults: [`DEFAULT_BANDS`].
    pub bands: [EqBandSettings; EQ_BANDS],
    /// Minimum or linear phase (structural: read in [`Eq::new`] only). Default minimum phase.
    pub mode: EqMode,
    /// Bypass (crossfades to the input delayed by the latency). Default off.
    pub bypass: bool,
}

impl Default for EqSettings {
    fn default() -> Self {
        Self { bands: DEFAULT_BANDS, mode: EqMode::MinimumPhase, bypass: false }
    }
}

impl EqSettings {
    /// The settings with every value in range: NaN → the band's default, numbers clamped,
    /// slopes snapped to [`CUT_SLOPES_DB_PER_OCT`]. (The 0.45·fs limit is applied by [`struct@Eq`].)
    pub fn sanitized(&self) -> Self {
        let mut out = *self;
        for (band, default) in out.bands.iter_mut().zip(DEFAULT_BANDS.iter()) {
            let clean = |value: f32, default: f32, lo: f32, hi: f32| {
                if value.is_nan() {
                    default
                } else {
                    value.clamp(lo, hi)
                }
            };
            band.freq_hz = clean(band.freq_hz, default.freq_hz, MIN_FREQ_HZ, MAX_FREQ_HZ);
            band.gain_db = clean(band.gain_db, default.gain_db, -MAX_GAIN_DB, MAX_GAIN_DB);
            band.q = clean(band.q, default.q, MIN_Q, MAX_Q);
            band.slope_db_per_oct = CUT_SLOPES_DB_PER_OCT
                .iter()
                .copied()
                .min_by_key(|&s| s.abs_diff(band.slope_db_per_oct))
                .unwrap_or(12);
        }
        out
    }
}

impl EqSettings {
    /// The target response in dB at `freq_hz` of the signal path `path` (`Mid`: stereo and mid
    /// bands, what a centred source hears; `Side`: stereo and side bands; `Stereo`: stereo bands
    /// only), at `sample_rate_hz`: the exact analogue prototype magnitude the filters are matched
    /// to, as [`Eq::path_magnitude_db`] gives it, without building an EQ (the editor's curve).
    pub fn response_db(&self, sample_rate_hz: f64, freq_hz: f64, path: EqPlacement) -> f64 {
        let clean = self.sanitized();
        let power: f64 = clean
            .bands
            .iter()
            .map(|band| BandTarget::new(band, sample_rate_hz))
            .filter(|target| target.acts_on(path))
            .map(|target| target.magnitude_squared(freq_hz))
            .product();
        10.0 * power.max(1e-300).log10()
    }

    /// The target response in dB of band `band` alone at `freq_hz` (0 dB when it is disabled,
    /// flat or out of range).
    pub fn band_response_db(&self, band: usize, sample_rate_hz: f64, freq_hz: f64) -> f64 {
        let clean = self.sanitized();
        clean.bands.get(band).map_or(0.0, |band| {
            10.0 * BandTarget::new(band, sample_rate_hz).magnitude_squared(freq_hz).max(1e-300).log10()
        })
    }
}

/// A benchmark/demo configuration: six active bands at non-zero settings, mixing stereo, mid
/// and side: low cut 30 Hz 24 dB/oct, mid low shelf 120 Hz +2 dB, bell 300 Hz −2.5 dB Q 1.2,
/// side bell 2.5 kHz +1.5 dB Q 0.8, mid bell 5 kHz −1.5 dB Q 2, high shelf 11 kHz +2.5 dB.
pub fn demo_settings() -> EqSettings {
    let band = |kind, freq_hz, gain_db, q, slope_db_per_oct, placement| EqBandSettings {
        enabled: true,
        kind,
        freq_hz,
        gain_db,
        q,
        slope_db_per_oct,
        placement,
    };
    use EqBandKind::*;
    use EqPlacement::*;
    EqSettings {
        bands: [
            band(LowCut, 30.0, 0.0, 0.707, 24, Stereo),
            band(LowShelf, 120.0, 2.0, 0.707, 12, Mid),
            band(Bell, 300.0, -2.5, 1.2, 12, Stereo),
            band(Bell, 2_500.0, 1.5, 0.8, 12, Side),
            band(Bell, 5_000.0, -1.5, 2.0, 12, Mid),
            band(HighShelf, 11_000.0, 2.5, 0.707, 12, Stereo),
        ],
        mode: EqMode::MinimumPhase,
        bypass: false,
    }
}

/// A band's parameters after sanitising and clamping to the sample rate: the single source of
/// every response the EQ computes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BandTarget {
    /// Band on.
    pub enabled: bool,
    /// Filter kind.
    pub kind: EqBandKind,
    /// Stereo, mid or side.
    pub placement: EqPlacement,
    /// Cut slope (one of [`CUT_SLOPES_DB_PER_OCT`]).
    pub slope_db_per_oct: u32,
    /// Frequency in Hz, within [10 Hz, 0.45·fs].
    pub freq_hz: f64,
    /// Gain in dB.
    pub gain_db: f64,
    /// Q.
    pub q: f64,
}

/// A band's analogue prototype sections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prototypes {
    /// The sections (first `len` valid).
    pub sections: [AnalogSection; MAX_PROTOTYPES],
    /// Number of valid sections (0: the band is flat).
    pub len: usize,
}

impl Prototypes {
    /// The valid sections.
    pub fn as_slice(&self) -> &[AnalogSection] {
        self.sections.get(..self.len).unwrap_or(&[])
    }

    /// `|H(j2πf)|²` of the cascade.
    #[inline]
    pub fn magnitude_squared(&self, freq_hz: f64) -> f64 {
        self.as_slice().iter().map(|p| p.magnitude_squared(freq_hz)).product()
    }
}

impl BandTarget {
    /// Clamps a sanitised band to the sample rate.
    pub fn new(band: &EqBandSettings, sample_rate_hz: f64) -> Self {
        Self {
            enabled: band.enabled,
            kind: band.kind,
            placement: band.placement,
            slope_db_per_oct: band.slope_db_per_oct,
            freq_hz: (band.freq_hz as f64).min(MAX_FREQ_RATIO * sample_rate_hz),
            gain_db: band.gain_db as f64,
            q: band.q as f64,
        }
    }

    /// True when the band does nothing: disabled, or a gain kind at 0 dB.
    pub fn is_neutral(&self) -> bool {
        !self.enabled || (self.kind.has_gain() && self.gain_db == 0.0)
    }

    /// Butterworth order of a cut.
    fn cut_order(&self) -> usize {
        (self.slope_db_per_oct / 6).clamp(1, 8) as usize
    }

    /// Digital sections this band's structure uses (fixed for a kind and slope).
    pub fn section_count(&self) -> usize {
        if self.kind.has_gain() {
            2
        } else {
            let order = self.cut_order();
            order / 2 + order % 2 + 1
        }
    }

    /// The analogue prototype sections (none when the band is disabled or flat).
    pub fn prototypes(&self) -> Prototypes {
        let f = self.freq_hz;
        let mut out = Prototypes { sections: [AnalogSection::lowpass1(f); MAX_PROTOTYPES], len: 0 };
        if self.is_neutral() {
            return out;
        }
        let mut push = |section: AnalogSection| {
            if let Some(slot) = out.sections.get_mut(out.len) {
                *slot = section;
                out.len += 1;
            }
        };
        match self.kind {
            EqBandKind::Bell => push(AnalogSection::bell(f, self.gain_db, self.q)),
            EqBandKind::LowShelf => push(AnalogSection::low_shelf(f, self.gain_db, self.q)),
            EqBandKind::HighShelf => push(AnalogSection::high_shelf(f, self.gain_db, self.q)),
            EqBandKind::Tilt => push(AnalogSection::tilt(f, self.gain_db)),
            EqBandKind::LowCut | EqBandKind::HighCut => {
                let high = self.kind == EqBandKind::LowCut;
                let order = self.cut_order();
                if order % 2 == 1 {
                    push(if high { AnalogSection::highpass1(f) } else { AnalogSection::lowpass1(f) });
                }
                let pairs = order / 2;
                for k in 1..=pairs {
                    // Butterworth pole pairs at ±ψ from the negative real axis, Q = 1/(2 cos ψ),
                    // in increasing Q; the last (highest-Q) stage takes the user's resonance.
                    let psi = if order % 2 == 1 {
                        k as f64 * std::f64::consts::PI / order as f64
                    } else {
                        (2 * k - 1) as f64 * std::f64::consts::PI / (2 * order) as f64
                    };
                    let mut q = 1.0 / (2.0 * psi.cos());
                    if k == pairs {
                        q = (q * self.q / CUT_BUTTERWORTH_Q).clamp(MIN_Q as f64, MAX_Q as f64);
                    }
                    push(if high { AnalogSection::highpass2(f, q) } else { AnalogSection::lowpass2(f, q) });
                }
            }
        }
        out
    }

    /// `|H(j2πf)|²` of the band (1 when neutral).
    pub fn magnitude_squared(&self, freq_hz: f64) -> f64 {
        self.prototypes().magnitude_squared(freq_hz)
    }

    /// True when the band acts on the signal of `path` (Mid: the mid path, Side: the side path,
    /// Stereo: the stereo bands only).
    pub fn acts_on(&self, path: EqPlacement) -> bool {
        match self.placement {
            EqPlacement::Stereo => true,
            placement => placement == path,
        }
    }

    /// Designs the band's digital sections (minimum phase) at `sample_rate_hz`: closed-form
    /// matched sections followed by the fitted pair for the last prototype. Unused entries and
    /// all entries of a flat band are the identity.
    pub fn design(&self, sample_rate_hz: f64) -> [BiquadCoefficients; MAX_SECTIONS] {
        let mut out = [BiquadCoefficients::IDENTITY; MAX_SECTIONS];
        let prototypes = self.prototypes();
        let protos = prototypes.as_slice();
        let Some((last, fixed_protos)) = protos.split_last() else {
            return out;
        };
        let fixed_count = fixed_protos.len();
        for (slot, proto) in out.iter_mut().zip(fixed_protos.iter()) {
            *slot = proto.matched(sample_rate_hz);
        }
        let (fixed, rest) = out.split_at_mut(fixed_count);
        let tail = matched_cascade_tail(fixed, fixed_protos, last, sample_rate_hz);
        for (slot, section) in rest.iter_mut().zip(tail.iter()) {
            *slot = *section;
        }
        out
    }
}

/// Clamps and rounds the settings of all bands for `sample_rate_hz`.
pub(crate) fn band_targets(settings: &EqSettings, sample_rate_hz: f64) -> [BandTarget; EQ_BANDS] {
    std::array::from_fn(|i| BandTarget::new(&settings.bands[i], sample_rate_hz))
}

/// Input sample for the filters: finite and within ±[`MAX_INPUT_SAMPLE`].
#[inline(always)]
pub(crate) fn wet_input(x: f32) -> f64 {
    if x.is_finite() {
        (x as f64).clamp(-MAX_INPUT_SAMPLE, MAX_INPUT_SAMPLE)
    } else {
        0.0
    }
}

/// Input sample for the dry (bypass) path: unchanged unless non-finite or subnormal (then 0).
#[inline(always)]
pub(crate) fn dry_input(x: f32) -> f32 {
    if x.is_normal() || x == 0.0 {
        x
    } else {
        0.0
    }
}

/// A processed sample as f32, with values too small to be normal in f32 flushed to zero.
#[inline(always)]
pub(crate) fn to_output(y: f64) -> f32 {
    if y.abs() < f32::MIN_POSITIVE as f64 {
        0.0
    } else {
        y as f32
    }
}

/// `3t² − 2t³` on [0, 1]: the crossfade shape (no slope step at either end, so a fade
/// between two coherent signals has no kink in its envelope).
#[inline(always)]
pub(crate) fn smoothstep(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Samples of the control interval at `sample_rate_hz` (power of two, 16–512).
pub(crate) fn control_frames(sample_rate_hz: f64) -> usize {
    let ideal = (CONTROL_INTERVAL_MS * 1e-3 * sample_rate_hz).max(1.0);
    (1usize << ideal.log2().round().clamp(0.0, 20.0) as u32).clamp(16, 512)
}

/// Crossfade to the dry signal ([`smoothstep`] shape, sample-accurate, any partition).
#[derive(Debug, Clone)]
pub(crate) struct BypassFade {
    /// Fade length in samples (≥ 1).
    length: u32,
    /// 0 = fully processed … `length` = fully dry.
    position: u32,
    /// Target state.
    bypassed: bool,
}

impl BypassFade {
    /// A fade of [`BYPASS_FADE_MS`] at `sample_rate_hz`, settled in the given state.
    pub fn new(sample_rate_hz: f64, bypassed: bool) -> Self {
        let length = ((BYPASS_FADE_MS * 1e-3 * sample_rate_hz).round() as u32).max(1);
        Self { length, position: if bypassed { length } else { 0 }, bypassed }
    }

    /// Sets the target state.
    pub fn set_bypassed(&mut self, bypassed: bool) {
        self.bypassed = bypassed;
    }

    /// The target state.
    pub fn is_bypassed(&self) -> bool {
        self.bypassed
    }

    /// Jumps to the target state.
    pub fn settle(&mut self) {
        self.position = if self.bypassed { self.length } else { 0 };
    }

    /// Output is exactly the dry signal.
    pub fn is_fully_dry(&self) -> bool {
        self.bypassed && self.position == self.length
    }

    /// Output is exactly the processed signal.
    pub fn is_fully_wet(&self) -> bool {
        !self.bypassed && self.position == 0
    }

    /// Mixes the dry channels into the processed ones for one segment (all the same length),
    /// advancing the fade by that many samples.
    pub fn mix_stereo(&mut self, wet: [&mut [f32]; 2], dry: [&[f32]; 2]) {
        let frames = wet[0].len().min(wet[1].len());
        if self.is_fully_wet() {
            return;
        }
        let start = self.position as i64;
        let step: i64 = if self.bypassed { 1 } else { -1 };
        let length = self.length as i64;
        let inv = 1.0 / self.length as f64;
        for (wet, dry) in wet.into_iter().zip(dry) {
            let mut position = start;
            for (out, &d) in wet.iter_mut().zip(dry.iter()) {
                position = (position + step).clamp(0, length);
                *out = if position == length {
                    d
                } else if position == 0 {
                    *out
                } else {
                    let t = smoothstep(position as f64 * inv);
                    to_output(*out as f64 * (1.0 - t) + d as f64 * t)
                };
            }
        }
        self.position = (start + step * frames as i64).clamp(0, length) as u32;
    }
}

/// A band's structure: what changes only through a fade.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Structure {
    /// Kind.
    kind: EqBandKind,
    /// Slope (cuts).
    slope_db_per_oct: u32,
    /// Placement.
    placement: EqPlacement,
}

impl Structure {
    /// The structure a target asks for (`None` when disabled).
    fn of(target: &BandTarget) -> Option<Self> {
        target.enabled.then_some(Self {
            kind: target.kind,
            slope_db_per_oct: target.slope_db_per_oct,
            placement: target.placement,
        })
    }
}

/// The smoothed continuous parameters of a band.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Params {
    /// Gain in dB.
    gain_db: f64,
    /// log2 of the frequency in Hz.
    log2_freq: f64,
    /// log2 of Q.
    log2_q: f64,
}

impl Params {
    fn of(target: &BandTarget) -> Self {
        Self { gain_db: target.gain_db, log2_freq: target.freq_hz.log2(), log2_q: target.q.log2() }
    }

    /// `target` with these parameters.
    fn apply(&self, target: &BandTarget) -> BandTarget {
        BandTarget { gain_db: self.gain_db, freq_hz: self.log2_freq.exp2(), q: self.log2_q.exp2(), ..*target }
    }

    /// One linear step of `1/remaining` of the way to `goal`.
    fn step_towards(&self, goal: &Self, remaining: u32) -> Self {
        if remaining <= 1 {
            return *goal;
        }
        let k = 1.0 / remaining as f64;
        Self {
            gain_db: self.gain_db + (goal.gain_db - self.gain_db) * k,
            log2_freq: self.log2_freq + (goal.log2_freq - self.log2_freq) * k,
            log2_q: self.log2_q + (goal.log2_q - self.log2_q) * k,
        }
    }
}

/// Smoothing and structure state of one band (minimum phase).
#[derive(Debug, Clone)]
struct BandRuntime {
    /// Structure currently in the chain (`None`: band absent).
    structure: Option<Structure>,
    /// Parameters the sections are designed from right now.
    params: Params,
    /// Parameters the ramp heads for.
    goal: Params,
    /// Band updates left in the parameter ramp.
    ramp_steps_left: u32,
    /// Contribution of the band at its last update (1 = fully in).
    mix: f64,
    /// Contribution at its next update.
    mix_end: f64,
    /// Contribution right now (advanced per sample).
    mix_now: f64,
    /// Per-sample change of the contribution.
    mix_step: f64,
    /// The target this band was last updated for.
    last_target: Option<BandTarget>,
}

impl BandRuntime {
    /// Nothing to do for `target`: at rest on it.
    fn is_idle(&self, target: &BandTarget) -> bool {
        self.last_target.as_ref() == Some(target)
            && self.ramp_steps_left == 0
            && (self.structure.is_none() || self.mix == 1.0)
    }
}

/// A run of sections belonging to one band, as the kernel sees it for one control tick.
#[derive(Debug, Clone, Copy, Default)]
struct Group {
    /// The band.
    band: usize,
    /// First section index.
    start: usize,
    /// One past the last section index.
    end: usize,
    /// Current mix value (advanced per sample while mixing).
    mix: f64,
    /// Per-sample mix increment.
    mix_step: f64,
    /// The band is partially mixed in this tick.
    mixing: bool,
}

/// The minimum-phase engine: a chain of two-lane sections.
#[derive(Debug, Clone)]
struct MinimumPhaseEngine {
    /// Sample rate.
    sample_rate_hz: f64,
    /// Samples per control tick.
    control_frames: usize,
    /// Control ticks between two updates of a band ([`DESIGN_INTERVAL_MS`]).
    update_ticks: u32,
    /// Band updates of a parameter ramp ([`SMOOTHING_MS`]).
    ramp_steps: u32,
    /// Mix change per band update of a structural fade ([`STRUCTURE_FADE_MS`]).
    fade_step: f64,
    /// Band `b` owns sections `b·MAX_SECTIONS .. b·MAX_SECTIONS + section_count`.
    sections: Vec<Biquad<2>>,
    /// Sections in use per band.
    section_counts: [usize; EQ_BANDS],
    /// Per-band smoothing state.
    bands: [BandRuntime; EQ_BANDS],
    /// Groups of the current tick.
    groups: [Group; EQ_BANDS],
    /// Indices of the sections that are not transparent, in chain order.
    order: [usize; EQ_BANDS * MAX_SECTIONS],
    /// Valid entries of `order`.
    order_len: usize,
    /// The static chain, packed: the lanes are independent chains (channel 0 and channel 1),
    /// so entry `j` holds the `j`-th non-transparent lane-0 section and the `j`-th lane-1
    /// section. With mid/side bands (identity on their other lane) this saves sections. Holds
    /// the live state between control ticks; unpacked into `sections` at each tick.
    packed: Vec<Biquad<2>>,
    /// Where each packed lane comes from: `[lane 0 source, lane 1 source]` section indices.
    packed_sources: [[Option<usize>; 2]; EQ_BANDS * MAX_SECTIONS],
    /// Valid entries of `packed`.
    packed_len: usize,
    /// Valid entries of `groups`.
    group_count: usize,
    /// Some section ramps or some band mixes in the current tick.
    moving: bool,
    /// The lanes carry (M, S) instead of (L, R).
    mid_side: bool,
    /// Kernel variant.
    kernel: Kernel,
    /// False after a control tick that was fully bypassed: the next processed tick starts by
    /// settling every band on its target with zero state.
    bypass_settled: bool,
    /// The chain runs in the current control tick (decided at the tick: not fully bypassed).
    chain_active: bool,
    /// Some band was updated in the previous tick (the chain layout must be rebuilt once
    /// more, e.g. to drop sections that became transparent).
    was_busy: bool,
    /// Work buffer of one segment (f64 frames).
    buffer: Vec<[f64; 2]>,
    /// Control ticks since the last settle (schedules state snapping).
    ticks: u32,
}

impl MinimumPhaseEngine {
    fn new(sample_rate_hz: f64, targets: &[BandTarget; EQ_BANDS]) -> Self {
        let control_frames = control_frames(sample_rate_hz);
        // Band updates every DESIGN_INTERVAL_MS (in whole ticks), ramps and fades in whole
        // band updates: duration in samples over samples per update, at least one.
        let update_ticks =
            ((DESIGN_INTERVAL_MS * 1e-3 * sample_rate_hz / control_frames as f64).round() as u32).max(1);
        let update_frames = (update_ticks as usize * control_frames) as f64;
        let updates = |ms: f64| ((ms * 1e-3 * sample_rate_hz / update_frames).round() as u32).max(1);
        let idle = BandRuntime {
            structure: None,
            params: Params { gain_db: 0.0, log2_freq: 10.0, log2_q: 0.0 },
            goal: Params { gain_db: 0.0, log2_freq: 10.0, log2_q: 0.0 },
            ramp_steps_left: 0,
            mix: 0.0,
            mix_end: 0.0,
            mix_now: 0.0,
            mix_step: 0.0,
            last_target: None,
        };
        let mut engine = Self {
            sample_rate_hz,
            control_frames,
            update_ticks,
            ramp_steps: updates(SMOOTHING_MS),
            fade_step: 1.0 / updates(STRUCTURE_FADE_MS) as f64,
            sections: vec![Biquad::default(); EQ_BANDS * MAX_SECTIONS],
            section_counts: [0; EQ_BANDS],
            bands: std::array::from_fn(|_| idle.clone()),
            groups: [Group::default(); EQ_BANDS],
            order: [0; EQ_BANDS * MAX_SECTIONS],
            order_len: 0,
            packed: vec![Biquad::default(); EQ_BANDS * MAX_SECTIONS],
            packed_sources: [[None; 2]; EQ_BANDS * MAX_SECTIONS],
            packed_len: 0,
            group_count: 0,
            moving: false,
            mid_side: false,
            kernel: Kernel::detect(),
            bypass_settled: true,
            chain_active: true,
            was_busy: true,
            buffer: vec![[0.0; 2]; MAX_SEGMENT],
            ticks: 0,
        };
        engine.settle(targets);
        engine
    }

    /// Lane coefficients of a band section for its placement.
    fn lanes(section: BiquadCoefficients, placement: EqPlacement) -> [BiquadCoefficients; 2] {
        match placement {
            EqPlacement::Stereo => [section, section],
            EqPlacement::Mid => [section, BiquadCoefficients::IDENTITY],
            EqPlacement::Side => [BiquadCoefficients::IDENTITY, section],
        }
    }

    /// The sections of band `b`.
    fn band_sections(&mut self, b: usize) -> &mut [Biquad<2>] {
        let start = b * MAX_SECTIONS;
        let count = self.section_counts.get(b).copied().unwrap_or(0);
        self.sections.get_mut(start..start + count).unwrap_or(&mut [])
    }

    /// Installs band `b` at `target` at rest: designed, zero state, fully mixed in.
    fn install(&mut self, b: usize, target: &BandTarget) {
        let structure = Structure::of(target);
        let coefficients = target.design(self.sample_rate_hz);
        let count = if structure.is_some() { target.section_count() } else { 0 };
        if let Some(slot) = self.section_counts.get_mut(b) {
            *slot = count;
        }
        for (section, c) in self.band_sections(b).iter_mut().zip(coefficients.iter()) {
            section.set_coefficients(Self::lanes(*c, target.placement));
            section.reset();
        }
        if let Some(band) = self.bands.get_mut(b) {
            band.structure = structure;
            band.params = Params::of(target);
            band.goal = band.params;
            band.ramp_steps_left = 0;
            band.mix = if structure.is_some() { 1.0 } else { 0.0 };
            band.mix_end = band.mix;
            band.mix_now = band.mix;
            band.mix_step = 0.0;
            band.last_target = Some(*target);
        }
    }

    /// Puts every band at rest on its target with zero state.
    fn settle(&mut self, targets: &[BandTarget; EQ_BANDS]) {
        for (b, target) in targets.iter().enumerate() {
            self.install(b, target);
        }
        self.mid_side =
            self.bands.iter().any(|band| band.structure.is_some_and(|s| s.placement != EqPlacement::Stereo));
        self.group_count = 0;
        self.order_len = 0;
        self.packed_len = 0;
        self.moving = false;
        self.chain_active = true;
        self.was_busy = true;
        self.ticks = 0;
    }

    /// Writes the packed chain's state back into the band sections.
    fn unpack_states(&mut self) {
        let len = self.packed_len.min(self.packed.len());
        for (packed, sources) in self.packed[..len].iter().zip(self.packed_sources.iter()) {
            for (lane, source) in sources.iter().enumerate() {
                if let Some(section) = source.and_then(|i| self.sections.get_mut(i)) {
                    section.copy_lane_state(lane, packed, lane);
                }
            }
        }
    }

    /// Reads the band sections' state into the packed chain (same layout).
    fn pack_states(&mut self) {
        let len = self.packed_len.min(self.packed.len());
        for (packed, sources) in self.packed[..len].iter_mut().zip(self.packed_sources.iter()) {
            for (lane, source) in sources.iter().enumerate() {
                if let Some(section) = source.and_then(|i| self.sections.get(i)) {
                    packed.copy_lane_state(lane, section, lane);
                }
            }
        }
    }

    /// Lays out the packed chain from `order` (static ticks only).
    fn pack_layout(&mut self) {
        self.packed_len = 0;
        if self.moving {
            return;
        }
        let mut lengths = [0usize; 2];
        for &index in self.order.get(..self.order_len).unwrap_or(&[]) {
            let Some(section) = self.sections.get(index) else { continue };
            for (lane, length) in lengths.iter_mut().enumerate() {
                if section.lane_is_transparent(lane) {
                    continue;
                }
                let (Some(packed), Some(sources)) =
                    (self.packed.get_mut(*length), self.packed_sources.get_mut(*length))
                else {
                    continue;
                };
                if *length >= self.packed_len {
                    // A fresh entry: both lanes start as the identity.
                    *packed = Biquad::default();
                    *sources = [None, None];
                    self.packed_len = *length + 1;
                }
                packed.copy_lane(lane, section, lane);
                sources[lane] = Some(index);
                *length += 1;
            }
        }
    }

    /// True when the next control ticks are no-ops until the next state snapping (nothing
    /// moves, nothing is pending): `process` may then run several ticks in one kernel call.
    fn is_quiet(&self, targets: &[BandTarget; EQ_BANDS]) -> bool {
        !self.was_busy
            && !self.moving
            && self.bypass_settled
            && self.bands.iter().zip(targets.iter()).all(|(band, target)| band.is_idle(target))
    }

    /// Control ticks from the current one up to (not including) the next snapping tick.
    fn ticks_until_snap(&self) -> u32 {
        SNAP_INTERVAL_TICKS - self.ticks % SNAP_INTERVAL_TICKS
    }

    /// Advances smoothing and fades by one control tick and prepares the kernel's groups.
    fn control_tick(&mut self, targets: &[BandTarget; EQ_BANDS], fully_bypassed: bool) {
        self.chain_active = !fully_bypassed;
        self.unpack_states();
        if fully_bypassed {
            // Nothing is heard: skip the chain, and start from rest on the targets when the
            // bypass ends.
            self.bypass_settled = false;
            return;
        }
        if !self.bypass_settled {
            self.settle(targets);
            self.bypass_settled = true;
        }
        // Keep the running sections' state clean (snap tiny values, recover from non-finite)
        // every SNAP_INTERVAL_TICKS: f64 state needs hundreds of decades to become subnormal.
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(SNAP_INTERVAL_TICKS) {
            for &index in self.order.get(..self.order_len).unwrap_or(&[]) {
                if let Some(section) = self.sections.get_mut(index) {
                    section.snap_state();
                }
            }
        }
        // Carry the per-sample mix values of the last tick over.
        for group in self.groups.get(..self.group_count).unwrap_or(&[]) {
            if let Some(band) = self.bands.get_mut(group.band) {
                band.mix_now = group.mix;
            }
        }
        // Each band is updated every `update_ticks` ticks, the bands staggered over the ticks
        // so that their designs spread out.
        let mut busy = false;
        let update_frames = (self.update_ticks as usize * self.control_frames) as f64;
        for b in 0..EQ_BANDS {
            if !(self.ticks as usize + b).is_multiple_of(self.update_ticks as usize) {
                continue;
            }
            let (Some(band), Some(target)) = (self.bands.get_mut(b), targets.get(b)) else { continue };
            // Land the mix exactly on its value for this update.
            band.mix = band.mix_end;
            band.mix_now = band.mix;
            band.mix_step = 0.0;
            if band.is_idle(target) {
                continue;
            }
            busy = true;
            band.last_target = Some(*target);
            self.update_band(b, target);
            if let Some(band) = self.bands.get_mut(b) {
                band.mix_step = (band.mix_end - band.mix) / update_frames;
            }
        }
        let in_motion = self.moving;
        let rebuild = busy || self.was_busy || in_motion;
        self.was_busy = busy;
        if !rebuild {
            self.pack_states();
            return;
        }
        let mid_side =
            self.bands.iter().any(|band| band.structure.is_some_and(|s| s.placement != EqPlacement::Stereo));
        if mid_side != self.mid_side {
            // Only stereo bands are in the chain at this moment (a band's placement changes
            // at zero mix); their lanes hold identical filters, so the state transforms like
            // the signal: (L, R) ↔ (M, S).
            let to_mid_side = mid_side;
            for section in self.sections.iter_mut() {
                let (s1, s2) = section.state();
                let map = |s: [f64; 2]| {
                    if to_mid_side {
                        [0.5 * (s[0] + s[1]), 0.5 * (s[0] - s[1])]
                    } else {
                        [s[0] + s[1], s[0] - s[1]]
                    }
                };
                section.set_state(map(s1), map(s2));
            }
            self.mid_side = mid_side;
        }
        // Build the chain for this tick.
        self.group_count = 0;
        self.order_len = 0;
        self.moving = false;
        for b in 0..EQ_BANDS {
            let Some(band) = self.bands.get(b) else { continue };
            if band.structure.is_none() {
                continue;
            }
            let (mix, mix_step) = (band.mix_now, band.mix_step);
            let start = b * MAX_SECTIONS;
            let end = start + self.section_counts.get(b).copied().unwrap_or(0);
            let sections = self.sections.get(start..end).unwrap_or(&[]);
            if sections.iter().all(Biquad::is_transparent) {
                continue;
            }
            let mixing = mix != 1.0 || mix_step != 0.0;
            self.moving |= mixing || sections.iter().any(Biquad::is_ramping);
            if let Some(group) = self.groups.get_mut(self.group_count) {
                *group = Group { band: b, start, end, mix, mix_step, mixing };
                self.group_count += 1;
            }
            // Transparent sections are exact pass-throughs: the static path skips them.
            for (index, section) in (start..end).zip(sections.iter()) {
                if !section.is_transparent() {
                    if let Some(slot) = self.order.get_mut(self.order_len) {
                        *slot = index;
                        self.order_len += 1;
                    }
                }
            }
        }
        self.pack_layout();
    }

    /// One band's smoothing/fade step (see the module doc).
    fn update_band(&mut self, b: usize, target: &BandTarget) {
        let Some(band) = self.bands.get(b).cloned() else { return };
        let desired = Structure::of(target);
        if band.structure != desired {
            if band.structure.is_some() && band.mix > 0.0 {
                if let Some(band) = self.bands.get_mut(b) {
                    band.mix_end = (band.mix - self.fade_step).max(0.0);
                }
            } else {
                self.install(b, target);
                if let Some(band) = self.bands.get_mut(b) {
                    band.mix = 0.0;
                    band.mix_now = 0.0;
                    band.mix_end = if band.structure.is_some() { self.fade_step.min(1.0) } else { 0.0 };
                }
            }
            return;
        }
        if band.structure.is_none() {
            return;
        }
        let goal = Params::of(target);
        let mut next = band.clone();
        next.mix_end = (band.mix + self.fade_step).min(1.0);
        if goal != band.goal {
            next.goal = goal;
            next.ramp_steps_left = self.ramp_steps;
        }
        let ramp_steps_left = next.ramp_steps_left;
        if ramp_steps_left > 0 {
            next.params = band.params.step_towards(&next.goal, ramp_steps_left);
            next.ramp_steps_left = ramp_steps_left - 1;
            // At the end of the ramp design from the target itself, so a band at rest has exactly
            // the coefficients of a fresh instance.
            let at = if next.ramp_steps_left == 0 { *target } else { next.params.apply(target) };
            let coefficients = at.design(self.sample_rate_hz);
            let frames = self.update_ticks * self.control_frames as u32;
            for (section, c) in self.band_sections(b).iter_mut().zip(coefficients.iter()) {
                section.ramp_to(Self::lanes(*c, target.placement), frames);
            }
        }
        if let Some(slot) = self.bands.get_mut(b) {
            *slot = next;
        }
    }

    /// Filters one segment (within one control tick) in place.
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        if self.moving {
            let groups = self.groups.get_mut(..self.group_count).unwrap_or(&mut []);
            let sections = &mut self.sections[..];
            let mid_side = self.mid_side;
            match self.kernel {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `Kernel::Avx2Fma` is only chosen after run-time detection of AVX2 and FMA.
                Kernel::Avx2Fma => unsafe { run_moving_avx2(sections, groups, mid_side, left, right) },
                Kernel::Portable => run_moving::<Separate>(sections, groups, mid_side, left, right),
            }
            return;
        }
        let frames = left.len().min(right.len()).min(MAX_SEGMENT);
        let Some(buffer) = self.buffer.get_mut(..frames) else { return };
        let (left, right) = (&mut left[..frames], &mut right[..frames]);
        for ((v, l), r) in buffer.iter_mut().zip(left.iter()).zip(right.iter()) {
            *v = [wet_input(*l), wet_input(*r)];
        }
        if self.mid_side {
            for v in buffer.iter_mut() {
                *v = [0.5 * (v[0] + v[1]), 0.5 * (v[0] - v[1])];
            }
        }
        let len = self.packed_len.min(self.packed.len());
        let packed = &mut self.packed[..len];
        match self.kernel {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Kernel::Avx2Fma` is only chosen after run-time detection of AVX2 and FMA.
            Kernel::Avx2Fma => unsafe { run_static_avx2(packed, buffer) },
            Kernel::Portable => run_static::<Separate>(packed, buffer),
        }
        if self.mid_side {
            for v in buffer.iter_mut() {
                *v = [v[0] + v[1], v[0] - v[1]];
            }
        }
        for ((v, l), r) in buffer.iter().zip(left.iter_mut()).zip(right.iter_mut()) {
            *l = to_output(v[0]);
            *r = to_output(v[1]);
        }
    }
}

/// The static chain kernel for AVX2 + FMA: two sections per vector, skewed in time.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_static_avx2(sections: &mut [Biquad<2>], buffer: &mut [[f64; 2]]) {
    const IN_ORDER: [usize; EQ_BANDS * MAX_SECTIONS] = {
        let mut order = [0; EQ_BANDS * MAX_SECTIONS];
        let mut i = 0;
        while i < order.len() {
            order[i] = i;
            i += 1;
        }
        order
    };
    let order = IN_ORDER.get(..sections.len()).unwrap_or(&[]);
    super::biquad::run_cascade_avx2(sections, order, buffer);
}

/// Runs the sections over `buffer`, four at a time through the time-skewed [`run_cascade`].
#[inline(always)]
fn run_static<M: MulAdd>(sections: &mut [Biquad<2>], buffer: &mut [[f64; 2]]) {
    let mut chunks = sections.chunks_exact_mut(4);
    for chunk in chunks.by_ref() {
        if let [a, b, c, d] = chunk {
            run_cascade::<M, 2, 4>([a, b, c, d], buffer);
        }
    }
    match chunks.into_remainder() {
        [a] => run_cascade::<M, 2, 1>([a], buffer),
        [a, b] => run_cascade::<M, 2, 2>([a, b], buffer),
        [a, b, c] => run_cascade::<M, 2, 3>([a, b, c], buffer),
        _ => {}
    }
}

/// The moving-chain kernel compiled for AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_moving_avx2(
    sections: &mut [Biquad<2>],
    groups: &mut [Group],
    mid_side: bool,
    left: &mut [f32],
    right: &mut [f32],
) {
    run_moving::<Fused>(sections, groups, mid_side, left, right);
}

/// Runs every group of sections over the frames sample by sample, in place, with coefficient
/// ramps and band mixes (control ticks where something moves).
#[inline(always)]
fn run_moving<M: MulAdd>(
    sections: &mut [Biquad<2>],
    groups: &mut [Group],
    mid_side: bool,
    left: &mut [f32],
    right: &mut [f32],
) {
    for (l, r) in left.iter_mut().zip(right.iter_mut()) {
        let (xl, xr) = (wet_input(*l), wet_input(*r));
        let mut v = if mid_side { [0.5 * (xl + xr), 0.5 * (xl - xr)] } else { [xl, xr] };
        for group in groups.iter_mut() {
            let Some(chain) = sections.get_mut(group.start..group.end) else { continue };
            let x = v;
            for section in chain.iter_mut() {
                v = section.tick_ramping::<M>(v);
            }
            if group.mixing {
                group.mix += group.mix_step;
                let m = smoothstep(group.mix);
                v = [x[0] + m * (v[0] - x[0]), x[1] + m * (v[1] - x[1])];
            }
        }
        let [yl, yr] = if mid_side { [v[0] + v[1], v[0] - v[1]] } else { v };
        *l = to_output(yl);
        *r = to_output(yr);
    }
}

/// The engine of the instance's mode.
#[derive(Debug)]
enum Engine {
    /// IIR chain.
    MinimumPhase(Box<MinimumPhaseEngine>),
    /// FFT convolution.
    LinearPhase(Box<LinearPhaseEngine>),
}

/// The mastering EQ (see the module doc).
#[derive(Debug)]
pub struct Eq {
    /// Sample rate (clamped).
    sample_rate_hz: f64,
    /// Current settings, sanitised (for the dirty check).
    settings: EqSettings,
    /// Current band targets (sanitised and clamped to the rate).
    targets: [BandTarget; EQ_BANDS],
    /// Mode (fixed at construction).
    mode: EqMode,
    /// Settings changed since the last control tick.
    changed: bool,
    /// Bypass crossfade.
    fade: BypassFade,
    /// Samples per control tick.
    control_frames: usize,
    /// Position in the current control tick.
    tick_phase: usize,
    /// The filter engine.
    engine: Engine,
}

impl Eq {
    /// An EQ at `sample_rate_hz` (clamped to 1 kHz–1.536 MHz, non-finite → 48 kHz), settled on
    /// `settings`. `settings.mode` is fixed for the instance's lifetime. Allocates.
    pub fn new(sample_rate_hz: f64, settings: &EqSettings) -> Self {
        let fs = clamp_sample_rate_hz(sample_rate_hz);
        let settings = settings.sanitized();
        let targets = band_targets(&settings, fs);
        let bypassed = Self::wants_bypass(&settings, &targets);
        let engine = match settings.mode {
            EqMode::MinimumPhase => Engine::MinimumPhase(Box::new(MinimumPhaseEngine::new(fs, &targets))),
            EqMode::LinearPhase => {
                Engine::LinearPhase(Box::new(LinearPhaseEngine::new(fs, &targets, bypassed)))
            }
        };
        Self {
            sample_rate_hz: fs,
            settings,
            targets,
            mode: settings.mode,
            changed: false,
            fade: BypassFade::new(fs, bypassed),
            control_frames: control_frames(fs),
            tick_phase: 0,
            engine,
        }
    }

    /// Bypass requested, or every band neutral.
    fn wants_bypass(settings: &EqSettings, targets: &[BandTarget; EQ_BANDS]) -> bool {
        settings.bypass || targets.iter().all(BandTarget::is_neutral)
    }

    /// Takes new settings (audio thread, once per sub-block). O(1) and allocation-free when
    /// nothing changed; otherwise the change is followed smoothly from the next control tick.
    /// `mode` changes are ignored (structural).
    pub fn set_settings(&mut self, settings: &EqSettings) {
        let mut settings = settings.sanitized();
        settings.mode = self.mode;
        if settings == self.settings {
            return;
        }
        self.settings = settings;
        self.targets = band_targets(&settings, self.sample_rate_hz);
        self.changed = true;
    }

    /// The settings in effect (sanitised).
    pub fn settings(&self) -> &EqSettings {
        &self.settings
    }

    /// Clears all audio state and settles every smoother on the current settings; afterwards
    /// processing equals a fresh instance bit for bit. Allocation-free.
    pub fn reset(&mut self) {
        self.tick_phase = 0;
        self.changed = false;
        self.fade.set_bypassed(Self::wants_bypass(&self.settings, &self.targets));
        self.fade.settle();
        match &mut self.engine {
            Engine::MinimumPhase(engine) => {
                engine.settle(&self.targets);
                engine.bypass_settled = true;
            }
            Engine::LinearPhase(engine) => engine.reset(&self.targets, self.fade.is_bypassed()),
        }
    }

    /// Processing latency in samples: 0 in minimum phase; constant in linear phase.
    pub fn latency_samples(&self) -> usize {
        match &self.engine {
            Engine::MinimumPhase(_) => 0,
            Engine::LinearPhase(engine) => engine.latency_samples(),
        }
    }

    /// Number of filter sections running in the current control tick (minimum phase; 0 when
    /// fully bypassed or in linear phase). Diagnostics for benchmarks.
    pub fn active_sections(&self) -> usize {
        match &self.engine {
            Engine::MinimumPhase(engine) if engine.chain_active => {
                if engine.moving {
                    engine.groups[..engine.group_count].iter().map(|g| g.end - g.start).sum()
                } else {
                    engine.packed_len
                }
            }
            _ => 0,
        }
    }

    /// The mode of this instance.
    pub fn mode(&self) -> EqMode {
        self.mode
    }

    /// Filters a stereo block in place (any length; the shorter slice decides).
    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let frames = left.len().min(right.len());
        let (left, right) = (&mut left[..frames], &mut right[..frames]);
        let mut done = 0;
        while done < frames {
            let mut length = (self.control_frames - self.tick_phase).min(frames - done);
            if self.tick_phase == 0 {
                self.control_tick();
                // Minimum phase at rest: the following ticks up to the next state snapping
                // would do nothing, so one kernel call may cover them (bit-identical).
                if let Engine::MinimumPhase(engine) = &mut self.engine {
                    if engine.is_quiet(&self.targets) && (self.fade.is_fully_wet() || !engine.chain_active) {
                        let most = engine.ticks_until_snap() as usize * self.control_frames;
                        length = most.min(MAX_SEGMENT).min(frames - done);
                        // Tick starts passed inside this segment count as done.
                        engine.ticks += ((length - 1) / self.control_frames) as u32;
                    }
                }
            }
            let (l, r) = (&mut left[done..done + length], &mut right[done..done + length]);
            match &mut self.engine {
                Engine::MinimumPhase(engine) => Self::process_minimum_phase(engine, &mut self.fade, l, r),
                Engine::LinearPhase(engine) => engine.process(&mut self.fade, l, r),
            }
            done += length;
            self.tick_phase = (self.tick_phase + length) % self.control_frames;
        }
    }

    /// Control-rate work at a tick boundary.
    fn control_tick(&mut self) {
        let changed = std::mem::take(&mut self.changed);
        let bypass = Self::wants_bypass(&self.settings, &self.targets);
        match &mut self.engine {
            Engine::MinimumPhase(engine) => {
                // Minimum phase compares targets per band; `changed` is not needed.
                self.fade.set_bypassed(bypass);
                engine.control_tick(&self.targets, self.fade.is_fully_dry());
            }
            Engine::LinearPhase(engine) => {
                engine.control_tick(&self.targets, bypass, changed, &mut self.fade)
            }
        }
    }

    /// One minimum-phase segment: chain, then the bypass crossfade.
    fn process_minimum_phase(
        engine: &mut MinimumPhaseEngine,
        fade: &mut BypassFade,
        left: &mut [f32],
        right: &mut [f32],
    ) {
        if !engine.chain_active {
            // Fully bypassed for this whole control tick (the fade target only changes at ticks).
            left.iter_mut().chain(right.iter_mut()).for_each(|x| *x = dry_input(*x));
            return;
        }
        if fade.is_fully_wet() {
            engine.process(left, right);
            return;
        }
        let frames = left.len().min(right.len()).min(MAX_SEGMENT);
        let mut dry = [[0.0f32; MAX_SEGMENT]; 2];
        for (d, x) in dry[0].iter_mut().zip(left.iter()) {
            *d = dry_input(*x);
        }
        for (d, x) in dry[1].iter_mut().zip(right.iter()) {
            *d = dry_input(*x);
        }
        engine.process(left, right);
        let [dry_l, dry_r] = &dry;
        fade.mix_stereo([left, right], [&dry_l[..frames], &dry_r[..frames]]);
    }

    /// The target response (dB) at `freq_hz` for the mid signal, i.e. what a centred (mono)
    /// source hears: stereo and mid bands. Exact analogue prototype magnitude, for the editor.
    pub fn magnitude_db(&self, freq_hz: f64) -> f64 {
        self.path_magnitude_db(freq_hz, EqPlacement::Mid)
    }

    /// The target response (dB) at `freq_hz` of one signal path: `Mid` (stereo + mid bands),
    /// `Side` (stereo + side bands) or `Stereo` (stereo bands only).
    pub fn path_magnitude_db(&self, freq_hz: f64, path: EqPlacement) -> f64 {
        let power: f64 =
            self.targets.iter().filter(|t| t.acts_on(path)).map(|t| t.magnitude_squared(freq_hz)).product();
        10.0 * power.max(1e-300).log10()
    }

    /// The target response (dB) of band `band` alone at `freq_hz` (0 dB when disabled or out of
    /// range).
    pub fn band_magnitude_db(&self, band: usize, freq_hz: f64) -> f64 {
        self.targets.get(band).map_or(0.0, |t| 10.0 * t.magnitude_squared(freq_hz).max(1e-300).log10())
    }
}

/// Interval at which each band's smoothing advances and its sections are designed while it
/// moves (rounded to whole control ticks: 4 ticks, 2.7 ms at 48 kHz). Coefficients are
/// interpolated per sample in between.
pub const DESIGN_INTERVAL_MS: f64 = 8.0 / 3.0;

/// Control ticks between two passes of state snapping (f64 state needs hundreds of decades of
/// decay to become subnormal, so every ≈ 10 ms is plenty).
pub const SNAP_INTERVAL_TICKS: u32 = 16;

/// Largest segment the engines process at once (the largest control interval).
pub(crate) const MAX_SEGMENT: usize = 512;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use std::f64::consts::PI;

    /// Stereo noise with some correlation between the channels.
    fn noise(frames: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = Rng::from_state(seed);
        (0..frames)
            .map(|_| {
                let common = rng.uniform() - 0.5;
                let l = 0.3 * common + 0.2 * (rng.uniform() - 0.5);
                let r = 0.3 * common + 0.2 * (rng.uniform() - 0.5);
                (l as f32, r as f32)
            })
            .unzip()
    }

    fn sine(frames: usize, freq_hz: f64, fs: f64, amplitude: f64) -> Vec<f32> {
        (0..frames).map(|n| (amplitude * (2.0 * PI * freq_hz * n as f64 / fs).sin()) as f32).collect()
    }

    /// A settings change applied before processing sample `at`.
    type Schedule = Vec<(usize, EqSettings)>;

    /// Processes `l`/`r` in blocks of the given sizes (cycled), applying `schedule` exactly at
    /// its sample positions (blocks are split there).
    fn run(eq: &mut Eq, l: &mut [f32], r: &mut [f32], blocks: &[usize], schedule: &Schedule) {
        let frames = l.len();
        let mut position = 0;
        let mut block_index = 0;
        while position < frames {
            for (at, settings) in schedule {
                if *at == position {
                    eq.set_settings(settings);
                }
            }
            let mut len = blocks[block_index % blocks.len()].max(1);
            block_index += 1;
            len = len.min(frames - position);
            if let Some(next) = schedule.iter().map(|(at, _)| *at).filter(|&at| at > position).min() {
                len = len.min(next - position);
            }
            eq.process(&mut l[position..position + len], &mut r[position..position + len]);
            position += len;
        }
    }

    /// Naive DFT magnitude (dB) of `h` at `freq_hz`.
    fn dft_db(h: &[f64], freq_hz: f64, fs: f64) -> f64 {
        let w = 2.0 * PI * freq_hz / fs;
        let (mut re, mut im) = (0.0, 0.0);
        // Rotate incrementally in f64 (exact enough over tens of thousands of samples when
        // renormalised).
        let (s, c) = w.sin_cos();
        let (mut cr, mut ci) = (1.0f64, 0.0f64);
        for (n, &x) in h.iter().enumerate() {
            re += x * cr;
            im -= x * ci;
            let t = cr * c - ci * s;
            ci = cr * s + ci * c;
            cr = t;
            if n % 1024 == 1023 {
                let norm = (cr * cr + ci * ci).sqrt();
                cr /= norm;
                ci /= norm;
            }
        }
        10.0 * (re * re + im * im).log10()
    }

    /// Impulse response of the left channel (impulse on both channels): `frames` samples from
    /// the latency on (minimum phase), or the whole symmetric kernel around the latency (linear
    /// phase).
    fn impulse_response(eq: &mut Eq, frames: usize) -> Vec<f64> {
        let latency = eq.latency_samples();
        let (start, len) = match eq.mode() {
            EqMode::MinimumPhase => (0, frames),
            EqMode::LinearPhase => {
                let half = crate::dsp::eq_linear_phase::kernel_size(eq.sample_rate_hz) / 2 - 1;
                (latency - half, 2 * half + 1)
            }
        };
        let mut l = vec![0.0f32; start + len + latency];
        l[0] = 1.0;
        let mut r = l.clone();
        run(eq, &mut l, &mut r, &[256], &Vec::new());
        l[start..start + len].iter().map(|&x| x as f64).collect()
    }

    fn settings_with(mode: EqMode, bands: &[(usize, EqBandSettings)]) -> EqSettings {
        let mut s = EqSettings { mode, ..EqSettings::default() };
        for (i, b) in bands {
            s.bands[*i] = *b;
        }
        s
    }

    fn bell(freq_hz: f32, gain_db: f32, q: f32, placement: EqPlacement) -> EqBandSettings {
        EqBandSettings {
            enabled: true,
            kind: EqBandKind::Bell,
            freq_hz,
            gain_db,
            q,
            slope_db_per_oct: 12,
            placement,
        }
    }

    /// A busy schedule: parameter, structure, placement and bypass changes.
    fn busy_schedule(mode: EqMode) -> Schedule {
        let mut s1 = demo_settings();
        s1.mode = mode;
        let mut s2 = s1;
        s2.bands[2].gain_db = 6.0;
        s2.bands[2].freq_hz = 700.0;
        s2.bands[3].placement = EqPlacement::Stereo;
        s2.bands[0].slope_db_per_oct = 48;
        s2.bands[5].kind = EqBandKind::Tilt;
        let mut s3 = s2;
        s3.bypass = true;
        let mut s4 = s3;
        s4.bypass = false;
        s4.bands[1].enabled = false;
        s4.bands[4].q = 8.0;
        vec![(0, s1), (9_000, s2), (30_000, s3), (41_000, s4)]
    }

    #[test]
    fn any_partition_gives_the_same_output_bit_for_bit() {
        for mode in [EqMode::MinimumPhase, EqMode::LinearPhase] {
            let schedule = busy_schedule(mode);
            let (l0, r0) = noise(60_000, 7);
            let mut reference: Option<(Vec<f32>, Vec<f32>)> = None;
            let mut rng = Rng::from_state(99);
            let random: Vec<usize> = (0..400).map(|_| 1 + (rng.uniform() * 700.0) as usize).collect();
            for blocks in [vec![1], vec![7], vec![64], vec![4096], random] {
                let mut eq = Eq::new(48_000.0, &schedule[0].1);
                let (mut l, mut r) = (l0.clone(), r0.clone());
                run(&mut eq, &mut l, &mut r, &blocks, &schedule);
                assert!(l.iter().chain(r.iter()).all(|x| x.is_finite()));
                match &reference {
                    None => reference = Some((l, r)),
                    Some((rl, rr)) => {
                        assert!(l == *rl && r == *rr, "{mode:?}: blocks {:?}… differ", &blocks[..1]);
                    }
                }
            }
            println!("{mode:?}: identical output for blocks 1, 7, 64, 4096 and random, with changes");
        }
    }

    #[test]
    fn reset_equals_a_fresh_instance() {
        for mode in [EqMode::MinimumPhase, EqMode::LinearPhase] {
            let schedule = busy_schedule(mode);
            let final_settings = schedule.last().map(|(_, s)| *s).unwrap_or_default();
            let (l0, r0) = noise(50_000, 3);
            let mut eq = Eq::new(48_000.0, &schedule[0].1);
            let (mut l, mut r) = (l0.clone(), r0.clone());
            // Stop in the middle of ramps/fades/crossfades.
            run(&mut eq, &mut l[..41_100], &mut r[..41_100], &[100], &schedule);
            eq.reset();
            let mut fresh = Eq::new(48_000.0, &final_settings);
            let (mut a, mut b) = (l0[..20_000].to_vec(), r0[..20_000].to_vec());
            let (mut c, mut d) = (a.clone(), b.clone());
            eq.process(&mut a, &mut b);
            fresh.process(&mut c, &mut d);
            assert!(a == c && b == d, "{mode:?}: reset differs from a fresh instance");
        }
    }

    #[test]
    fn neutral_and_bypass_give_the_delayed_input_bit_for_bit() {
        let default_lp = EqSettings { mode: EqMode::LinearPhase, ..EqSettings::default() };
        let mut bypassed = demo_settings();
        bypassed.bypass = true;
        let mut bypassed_lp = bypassed;
        bypassed_lp.mode = EqMode::LinearPhase;
        let mut zero_gains = demo_settings();
        zero_gains.bands[0].enabled = false;
        for band in zero_gains.bands.iter_mut().skip(1) {
            band.gain_db = 0.0;
        }
        for settings in [EqSettings::default(), default_lp, bypassed, bypassed_lp, zero_gains] {
            let mut eq = Eq::new(44_100.0, &settings);
            let latency = eq.latency_samples();
            let (l0, r0) = noise(30_000, 11);
            let (mut l, mut r) = (l0.clone(), r0.clone());
            run(&mut eq, &mut l, &mut r, &[333], &Vec::new());
            assert!(l[..latency].iter().chain(r[..latency].iter()).all(|&x| x == 0.0));
            assert_eq!(&l[latency..], &l0[..l0.len() - latency]);
            assert_eq!(&r[latency..], &r0[..r0.len() - latency]);
        }
    }

    #[test]
    fn neutral_impulse_exits_at_the_reported_latency() {
        for mode in [EqMode::MinimumPhase, EqMode::LinearPhase] {
            for fs in [44_100.0, 48_000.0, 96_000.0, 192_000.0] {
                let mut eq = Eq::new(fs, &EqSettings { mode, ..EqSettings::default() });
                let latency = eq.latency_samples();
                let mut l = vec![0.0f32; latency + 100];
                l[3] = 1.0;
                let mut r = l.clone();
                run(&mut eq, &mut l, &mut r, &[64], &Vec::new());
                assert_eq!(l.iter().position(|&x| x != 0.0), Some(3 + latency));
                assert_eq!(l.iter().filter(|&&x| x != 0.0).count(), 1);
                println!("{mode:?} at {fs} Hz: latency {latency} samples");
            }
        }
    }

    #[test]
    fn linear_phase_latency_is_the_documented_constant() {
        for (fs, expected) in
            [(44_100.0, 4607), (48_000.0, 4607), (88_200.0, 9215), (96_000.0, 9215), (192_000.0, 18_431)]
        {
            let eq = Eq::new(fs, &EqSettings { mode: EqMode::LinearPhase, ..demo_settings() });
            assert_eq!(eq.latency_samples(), expected, "{fs}");
        }
        // Non-neutral: the impulse response's peak sits at the latency (symmetric FIR).
        let mut eq = Eq::new(48_000.0, &EqSettings { mode: EqMode::LinearPhase, ..demo_settings() });
        let latency = eq.latency_samples();
        let mut l = vec![0.0f32; 3 * latency];
        l[0] = 1.0;
        let mut r = l.clone();
        run(&mut eq, &mut l, &mut r, &[100, 37, 4096], &Vec::new());
        let peak = l.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).map(|(i, _)| i);
        assert_eq!(peak, Some(latency));
        // Symmetry around the latency.
        let kernel_half = crate::dsp::eq_linear_phase::kernel_size(48_000.0) / 2 - 1;
        let mut worst: f64 = 0.0;
        for k in 1..kernel_half {
            worst = worst.max((l[latency + k] as f64 - l[latency - k] as f64).abs());
        }
        println!("linear phase: impulse peak at {latency}, worst asymmetry {worst:.2e}");
        assert!(worst < 1e-6);
    }

    #[test]
    fn hostile_input_stays_finite_and_leaves_no_subnormal_state() {
        for mode in [EqMode::MinimumPhase, EqMode::LinearPhase] {
            let mut settings = demo_settings();
            settings.mode = mode;
            settings.bands[4] = bell(5_000.0, 30.0, 40.0, EqPlacement::Stereo);
            let mut eq = Eq::new(48_000.0, &settings);
            let frames = 48_000;
            let (mut l, mut r) = noise(frames, 5);
            for (i, x) in l.iter_mut().enumerate().take(6_000) {
                *x = match i % 5 {
                    0 => f32::NAN,
                    1 => f32::INFINITY,
                    2 => f32::NEG_INFINITY,
                    3 => 1.0e30,
                    _ => -1.0e30,
                };
            }
            r[6_000..12_000].fill(1.0); // DC
            l[12_000..20_000].fill(0.9); // loud, then silence
            l[20_000..].fill(0.0);
            r[20_000..].fill(0.0);
            l[30_000] = f32::MIN_POSITIVE / 8.0; // a subnormal input
            run(&mut eq, &mut l, &mut r, &[64], &Vec::new());
            assert!(l.iter().chain(r.iter()).all(|x| x.is_finite() && !x.is_subnormal()), "{mode:?}");
            // Silence after loud audio: the tail has decayed to (exact) silence.
            assert!(l[47_000..].iter().chain(r[47_000..].iter()).all(|&x| x.abs() < 1e-6), "{mode:?}");
            if let Engine::MinimumPhase(engine) = &eq.engine {
                for section in engine.sections.iter() {
                    let (s1, s2) = section.state();
                    assert!(s1.iter().chain(s2.iter()).all(|s| s.is_finite() && !s.is_subnormal()));
                }
            }
            // Recovery: normal audio afterwards is processed normally.
            let (mut a, mut b) = noise(10_000, 9);
            let (c, d) = (a.clone(), b.clone());
            run(&mut eq, &mut a, &mut b, &[64], &Vec::new());
            let gain = |x: &[f32], y: &[f32]| {
                let p = |v: &[f32]| v[5_000..].iter().map(|&s| (s as f64).powi(2)).sum::<f64>();
                10.0 * (p(x) / p(y)).log10()
            };
            let g = gain(&a, &c).max(gain(&b, &d));
            println!("{mode:?}: after hostile input, noise gain {g:.1} dB");
            assert!(g.abs() < 20.0);
        }
    }

    #[test]
    fn all_sample_rates_construct_and_process_sanely() {
        for mode in [EqMode::MinimumPhase, EqMode::LinearPhase] {
            for fs in [8_000.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0, 768_000.0] {
                let mut settings = demo_settings();
                settings.mode = mode;
                let mut eq = Eq::new(fs, &settings);
                let latency = eq.latency_samples();
                let frames = (fs * 0.5) as usize + latency;
                let mut l = sine(frames, 1_000.0, fs, 0.5);
                let mut r = l.clone();
                run(&mut eq, &mut l, &mut r, &[512], &Vec::new());
                assert!(l.iter().chain(r.iter()).all(|x| x.is_finite()));
                // A centred 1 kHz sine hears the mid path.
                let tail = &l[frames - (fs * 0.1) as usize..];
                let rms = (tail.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / tail.len() as f64).sqrt();
                let measured = 20.0 * (rms * 2f64.sqrt() / 0.5).log10();
                let expected = eq.magnitude_db(1_000.0);
                println!("{mode:?} at {fs} Hz: latency {latency}, 1 kHz gain {measured:.3} dB (target {expected:.3})");
                assert!((measured - expected).abs() < 0.05, "{mode:?} {fs}");
            }
        }
    }

    #[test]
    fn processing_never_allocates() {
        for mode in [EqMode::MinimumPhase, EqMode::LinearPhase] {
            let schedule = busy_schedule(mode);
            let mut eq = Eq::new(48_000.0, &schedule[0].1);
            let (mut l, mut r) = noise(60_000, 2);
            crate::test_alloc::assert_no_alloc(&format!("EQ {mode:?}"), || {
                run(&mut eq, &mut l, &mut r, &[1, 64, 300, 2048], &schedule);
                eq.reset();
                eq.process(&mut l[..1000], &mut r[..1000]);
            });
        }
    }

    #[test]
    fn settings_are_sanitised() {
        let mut s = EqSettings::default();
        s.bands[1].freq_hz = f32::NAN;
        s.bands[2].gain_db = 99.0;
        s.bands[3].q = -1.0;
        s.bands[4].slope_db_per_oct = 30;
        s.bands[5].freq_hz = 1.0e9;
        let clean = s.sanitized();
        assert_eq!(clean.bands[1].freq_hz, DEFAULT_BANDS[1].freq_hz);
        assert_eq!(clean.bands[2].gain_db, MAX_GAIN_DB);
        assert_eq!(clean.bands[3].q, MIN_Q);
        assert!([24, 36].contains(&clean.bands[4].slope_db_per_oct));
        assert_eq!(clean.bands[5].freq_hz, MAX_FREQ_HZ);
        // Frequencies are limited to 0.45·fs.
        let eq = Eq::new(32_000.0, &s);
        assert!((eq.targets[5].freq_hz - 14_400.0).abs() < 1e-9);
        // Rates are clamped.
        assert_eq!(Eq::new(f64::NAN, &s).sample_rate_hz, 48_000.0);
        assert_eq!(Eq::new(1.0e9, &s).sample_rate_hz, 1_536_000.0);
        // Default is neutral.
        let eq = Eq::new(48_000.0, &EqSettings::default());
        for f in [20.0, 100.0, 1_000.0, 10_000.0, 20_000.0] {
            assert_eq!(eq.magnitude_db(f), 0.0);
        }
    }

    /// Largest |third difference| of a signal.
    fn max_third_difference(x: &[f32]) -> f64 {
        x.windows(4)
            .map(|w| (w[3] as f64 - 3.0 * w[2] as f64 + 3.0 * w[1] as f64 - w[0] as f64).abs())
            .fold(0.0, f64::max)
    }

    /// Runs a 1 kHz sine through `from` → `to` (switched at 0.2 s) and returns the output's
    /// largest third difference relative to the bound of a sine at the larger of the two steady
    /// amplitudes, `A·(2 sin(ω/2))³` (a smooth amplitude change adds only a little to it). A
    /// click or zipper step — a discontinuity in the waveform or its slope — shows up as a
    /// ratio well above 1: the third difference of a sine is 1/ω³ ≈ 450× smaller than the
    /// signal at 1 kHz / 48 kHz.
    fn click_ratio(from: &EqSettings, to: &EqSettings, fs: f64) -> f64 {
        let freq = 1_000.0;
        let amplitude = 0.25;
        let mut eq = Eq::new(fs, from);
        let latency = eq.latency_samples();
        let frames = (fs * 0.5) as usize + latency;
        let mut l = sine(frames, freq, fs, amplitude);
        let mut r = l.clone();
        let switch = (fs * 0.2) as usize;
        run(&mut eq, &mut l, &mut r, &[64], &vec![(switch, *to)]);
        let a_from = amplitude * 10f64.powf(Eq::new(fs, from).magnitude_db(freq) / 20.0);
        let a_to = amplitude * 10f64.powf(Eq::new(fs, to).magnitude_db(freq) / 20.0);
        let w = 2.0 * PI * freq / fs;
        let bound = a_from.max(a_to) * (2.0 * (w / 2.0).sin()).powi(3);
        // Skip the start-up transient of the sine.
        let start = latency + (fs * 0.05) as usize;
        max_third_difference(&l[start..]) / bound
    }

    #[test]
    fn gain_changes_are_smooth_without_zipper_noise() {
        for mode in [EqMode::MinimumPhase, EqMode::LinearPhase] {
            let from = settings_with(mode, &[(3, bell(1_000.0, 0.0, 1.0, EqPlacement::Stereo))]);
            let mut from = from;
            from.bands[2].gain_db = 0.1; // not neutral, so no bypass fade is involved
            let mut to = from;
            to.bands[3].gain_db = 12.0;
            let up = click_ratio(&from, &to, 48_000.0);
            let down = click_ratio(&to, &from, 48_000.0);
            println!("{mode:?}: 0 → +12 dB bell jump on a 1 kHz sine: max 3rd difference / sine bound = {up:.4} (up), {down:.4} (down)");
            assert!(up < 1.05 && down < 1.05, "{mode:?}: {up} {down}");
        }
        // The same jumps with an instantaneous coefficient switch click: the test has teeth.
        let fs = 48_000.0;
        let flat = AnalogSection::bell(1_000.0, 0.0, 1.0).matched(fs);
        let boost = AnalogSection::bell(1_000.0, 12.0, 1.0).matched(fs);
        for (name, a, b) in [("up", flat, boost), ("down", boost, flat)] {
            let mut section = Biquad::<1>::new([a]);
            let input = sine(24_000, 1_000.0, fs, 0.25);
            let output: Vec<f32> = input
                .iter()
                .enumerate()
                .map(|(n, &x)| {
                    if n == 9_600 + 7 {
                        section.set_coefficients([b]);
                    }
                    section.tick::<Separate>([x as f64])[0] as f32
                })
                .collect();
            let w = 2.0 * PI * 1_000.0 / fs;
            let bound = 0.25 * 10f64.powf(12.0 / 20.0) * (2.0 * (w / 2.0).sin()).powi(3);
            let ratio = max_third_difference(&output[2_000..]) / bound;
            println!("unsmoothed coefficient jump ({name}): ratio {ratio:.2}");
            assert!(ratio > 2.0);
        }
    }

    #[test]
    fn structural_changes_are_click_free() {
        let fs = 48_000.0;
        for mode in [EqMode::MinimumPhase, EqMode::LinearPhase] {
            let base = settings_with(mode, &[(3, bell(1_000.0, 6.0, 1.0, EqPlacement::Stereo))]);
            let mut changes: Vec<(&str, EqSettings)> = Vec::new();
            let mut s = base;
            s.bands[3].enabled = false;
            changes.push(("disable bell", s));
            let mut s = base;
            s.bands[3].kind = EqBandKind::HighShelf;
            changes.push(("bell → high shelf", s));
            let mut s = base;
            s.bands[3].placement = EqPlacement::Mid;
            changes.push(("stereo → mid", s));
            let mut s = base;
            s.bands[0].enabled = true;
            s.bands[0].freq_hz = 300.0;
            s.bands[0].slope_db_per_oct = 48;
            changes.push(("enable 48 dB/oct low cut at 300 Hz", s));
            let mut s = base;
            s.bypass = true;
            changes.push(("bypass", s));
            for (name, to) in changes {
                let there = click_ratio(&base, &to, fs);
                let back = click_ratio(&to, &base, fs);
                println!("{mode:?}: {name}: ratio {there:.4} / back {back:.4}");
                assert!(there < 1.1 && back < 1.1, "{mode:?} {name}: {there} {back}");
            }
        }
    }

    #[test]
    fn mid_and_side_bands_act_on_their_signal_only() {
        for mode in [EqMode::MinimumPhase, EqMode::LinearPhase] {
            let fs = 48_000.0;
            let settings = settings_with(
                mode,
                &[
                    (2, bell(1_000.0, 9.0, 1.0, EqPlacement::Mid)),
                    (4, bell(5_000.0, -6.0, 1.0, EqPlacement::Side)),
                ],
            );
            let mut eq = Eq::new(fs, &settings);
            let latency = eq.latency_samples();
            let frames = 24_000 + latency;
            // Pure side signal at 1 kHz: the mid bell must not touch it.
            let l0 = sine(frames, 1_000.0, fs, 0.25);
            let r0: Vec<f32> = l0.iter().map(|x| -x).collect();
            let (mut l, mut r) = (l0.clone(), r0.clone());
            run(&mut eq, &mut l, &mut r, &[128], &Vec::new());
            let rms =
                |x: &[f32]| (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
            let side_gain = 20.0
                * (rms(&l[frames - 9_600..]) / rms(&l0[frames - 9_600 - latency..frames - latency])).log10();
            let expected_side = eq.path_magnitude_db(1_000.0, EqPlacement::Side);
            // Pure mid signal at 1 kHz: +9 dB.
            let mut eq = Eq::new(fs, &settings);
            let (mut l, mut r) = (l0.clone(), l0.clone());
            run(&mut eq, &mut l, &mut r, &[128], &Vec::new());
            let mid_gain = 20.0
                * (rms(&l[frames - 9_600..]) / rms(&l0[frames - 9_600 - latency..frames - latency])).log10();
            let expected_mid = eq.magnitude_db(1_000.0);
            println!("{mode:?}: side signal {side_gain:.3} dB (target {expected_side:.3}), mid signal {mid_gain:.3} dB (target {expected_mid:.3})");
            assert!((side_gain - expected_side).abs() < 0.02);
            assert!((mid_gain - expected_mid).abs() < 0.02);
            assert!(l.iter().zip(r.iter()).all(|(a, b)| a == b), "a mid signal stays mid");
        }
    }

    /// Measured (impulse response) vs target magnitude of an EQ, worst |dB| over `freqs`.
    fn response_error(settings: &EqSettings, fs: f64, freqs: &[f64], ir_frames: usize) -> (f64, f64) {
        let mut eq = Eq::new(fs, settings);
        let h = impulse_response(&mut eq, ir_frames);
        let mut worst = (0.0, 0.0);
        for &f in freqs {
            let e = (dft_db(&h, f, fs) - eq.magnitude_db(f)).abs();
            if e > worst.0 {
                worst = (e, f);
            }
        }
        worst
    }

    /// Log-spaced frequencies from `lo` to `hi`.
    fn log_freqs(lo: f64, hi: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| lo * (hi / lo).powf(i as f64 / (n - 1) as f64)).collect()
    }

    #[test]
    fn minimum_phase_response_matches_the_target() {
        // Through the whole EQ (runtime + design), not only the coefficients.
        for fs in [44_100.0, 48_000.0, 96_000.0] {
            let mut worst: (f64, String) = (0.0, String::new());
            let configs: Vec<(&str, EqSettings)> = vec![
                ("demo", demo_settings()),
                (
                    "high bells",
                    settings_with(
                        EqMode::MinimumPhase,
                        &[
                            (2, bell(10_000.0, 12.0, 0.5, EqPlacement::Stereo)),
                            (3, bell(16_000.0, -12.0, 2.0, EqPlacement::Stereo)),
                            (4, bell(18_000.0, 12.0, 4.0, EqPlacement::Stereo)),
                        ],
                    ),
                ),
            ];
            for (name, settings) in configs {
                let e = response_error(&settings, fs, &log_freqs(40.0, 0.45 * fs, 120), 1 << 16);
                if e.0 > worst.0 {
                    worst = (e.0, format!("{name} at {:.0} Hz", e.1));
                }
            }
            println!(
                "minimum phase at {fs} Hz: worst deviation from the target {:.4} dB ({})",
                worst.0, worst.1
            );
            assert!(worst.0 < 0.1);
        }
    }

    #[test]
    fn linear_phase_response_matches_the_target_where_resolvable() {
        // Resolvable: a few window main-lobe widths above DC and away from features narrower
        // than that (≈ 10 bins of fs/N = 5.9 Hz at 48 kHz).
        for fs in [44_100.0, 48_000.0, 96_000.0] {
            let mut demo = demo_settings();
            demo.mode = EqMode::LinearPhase;
            let mut bells = settings_with(
                EqMode::LinearPhase,
                &[
                    (1, bell(200.0, 6.0, 2.0, EqPlacement::Stereo)),
                    (2, bell(10_000.0, 12.0, 0.5, EqPlacement::Stereo)),
                    (3, bell(16_000.0, -12.0, 2.0, EqPlacement::Stereo)),
                ],
            );
            bells.bands[0] =
                EqBandSettings { enabled: true, freq_hz: 40.0, slope_db_per_oct: 24, ..DEFAULT_BANDS[0] };
            let mut worst: (f64, String) = (0.0, String::new());
            for (name, settings) in [("demo", demo), ("cuts+bells", bells)] {
                let n = crate::dsp::eq_linear_phase::kernel_size(fs);
                let e = response_error(&settings, fs, &log_freqs(100.0, 0.45 * fs, 120), n);
                if e.0 > worst.0 {
                    worst = (e.0, format!("{name} at {:.0} Hz", e.1));
                }
            }
            println!(
                "linear phase at {fs} Hz: worst deviation from the target above 100 Hz {:.4} dB ({})",
                worst.0, worst.1
            );
            assert!(worst.0 < 0.1);
        }
    }

    #[test]
    fn minimum_and_linear_phase_agree_in_magnitude() {
        let fs = 48_000.0;
        let mut lp = demo_settings();
        lp.mode = EqMode::LinearPhase;
        let freqs = log_freqs(100.0, 20_000.0, 60);
        let mut eq_min = Eq::new(fs, &demo_settings());
        let mut eq_lin = Eq::new(fs, &lp);
        let h_min = impulse_response(&mut eq_min, 1 << 15);
        let h_lin = impulse_response(&mut eq_lin, 8192);
        let worst =
            freqs.iter().map(|&f| (dft_db(&h_min, f, fs) - dft_db(&h_lin, f, fs)).abs()).fold(0.0, f64::max);
        println!("minimum vs linear phase, 100 Hz–20 kHz: worst magnitude difference {worst:.4} dB");
        assert!(worst < 0.1);
    }

    #[test]
    fn automation_sweeps_are_smooth() {
        // Gain 0 → +12 dB and frequency 300 Hz → 3 kHz of a bell swept across a 1 kHz sine, a
        // new value every 64-frame sub-block (as the host glue does), in both modes.
        let fs = 48_000.0;
        for mode in [EqMode::MinimumPhase, EqMode::LinearPhase] {
            let mut base = settings_with(mode, &[(3, bell(300.0, 0.0, 1.5, EqPlacement::Stereo))]);
            base.bands[2].gain_db = 0.1;
            let frames = 48_000;
            let mut schedule: Schedule = Vec::new();
            let mut peak_gain: f64 = 1.0;
            for k in 0..frames / 64 {
                let t = k as f64 * 64.0 / frames as f64;
                let mut s = base;
                s.bands[3].gain_db = (12.0 * t) as f32;
                s.bands[3].freq_hz = (300.0 * 10f64.powf(t)) as f32;
                let power: f64 =
                    band_targets(&s.sanitized(), fs).iter().map(|b| b.magnitude_squared(1_000.0)).product();
                peak_gain = peak_gain.max(power.sqrt());
                schedule.push((k * 64, s));
            }
            let mut eq = Eq::new(fs, &base);
            let latency = eq.latency_samples();
            let amplitude = 0.25;
            let mut l = sine(frames + latency, 1_000.0, fs, amplitude);
            let mut r = l.clone();
            run(&mut eq, &mut l, &mut r, &[64], &schedule);
            let w = 2.0 * PI * 1_000.0 / fs;
            let bound = amplitude * peak_gain * (2.0 * (w / 2.0).sin()).powi(3);
            let ratio = max_third_difference(&l[latency + 2_400..]) / bound;
            println!("{mode:?}: bell swept 300 Hz → 3 kHz, 0 → +12 dB over 1 s: max 3rd difference / bound {ratio:.4}");
            assert!(ratio < 1.05, "{mode:?}: {ratio}");
        }
    }

    #[test]
    fn unchanged_settings_are_a_no_op() {
        let mut eq = Eq::new(48_000.0, &demo_settings());
        let (mut l, mut r) = noise(4_096, 1);
        eq.process(&mut l, &mut r);
        eq.set_settings(&demo_settings());
        assert!(!eq.changed);
        let mut nan = demo_settings();
        nan.bands[2].q = f32::NAN;
        nan.bands[2].q = DEFAULT_BANDS[2].q;
        eq.set_settings(&nan);
        assert!(eq.changed);
        // Mode is structural: ignored after construction.
        let mut other_mode = demo_settings();
        other_mode.mode = EqMode::LinearPhase;
        let mut eq = Eq::new(48_000.0, &demo_settings());
        eq.set_settings(&other_mode);
        assert!(!eq.changed);
        assert_eq!(eq.mode(), EqMode::MinimumPhase);
        assert_eq!(eq.latency_samples(), 0);
    }

    #[test]
    fn magnitude_curve_is_the_analogue_target() {
        let fs = 48_000.0;
        let mut s = EqSettings::default();
        s.bands[0] =
            EqBandSettings { enabled: true, freq_hz: 40.0, slope_db_per_oct: 24, ..DEFAULT_BANDS[0] };
        s.bands[1].gain_db = 4.0; // low shelf 100 Hz
        s.bands[2] = bell(1_000.0, -6.0, 2.0, EqPlacement::Mid);
        s.bands[3] = EqBandSettings { kind: EqBandKind::Tilt, freq_hz: 2_000.0, gain_db: 6.0, ..s.bands[3] };
        s.bands[5] = EqBandSettings {
            kind: EqBandKind::HighCut,
            freq_hz: 20_000.0,
            slope_db_per_oct: 12,
            ..s.bands[5]
        };
        let eq = Eq::new(fs, &s);
        // Band by band, against the closed-form analogue responses.
        assert!((eq.band_magnitude_db(0, 40.0) + 10.0 * 2f64.log10()).abs() < 1e-9, "Butterworth −3 dB");
        assert!((eq.band_magnitude_db(2, 1_000.0) + 6.0).abs() < 1e-9, "bell gain at its centre");
        assert!((eq.band_magnitude_db(1, 100.0) - 2.0).abs() < 1e-9, "shelf: half the gain at f");
        assert!((eq.band_magnitude_db(1, 1.0) - 4.0).abs() < 1e-3, "shelf: full gain far below");
        assert!(eq.band_magnitude_db(3, 2_000.0).abs() < 1e-9, "tilt pivot");
        assert!(
            (eq.band_magnitude_db(3, 2.0) + 3.0).abs() < 0.01
                && (eq.band_magnitude_db(3, 2.0e6) - 3.0).abs() < 0.01
        );
        assert!((eq.band_magnitude_db(5, 20_000.0) + 10.0 * 2f64.log10()).abs() < 1e-9);
        // The mid bell is in the mid curve only.
        let mid = eq.path_magnitude_db(1_000.0, EqPlacement::Mid);
        let side = eq.path_magnitude_db(1_000.0, EqPlacement::Side);
        assert!((mid - side + 6.0).abs() < 1e-9);
        assert_eq!(eq.magnitude_db(1_000.0), mid);
        let sum: f64 = (0..EQ_BANDS).map(|b| eq.band_magnitude_db(b, 1_000.0)).sum();
        assert!((sum - mid).abs() < 1e-9);
    }

    #[test]
    fn sweeps_of_every_kind_are_click_free() {
        // Frequency 40 Hz → 18 kHz with gain −12 → +12 dB (cuts: q 0.5 → 2), a new value every
        // 64 frames, on a 100 Hz + 1 kHz signal. Bound: the third difference of the two sines at
        // the largest gain each reaches during the sweep.
        let fs = 48_000.0;
        let kinds = [
            (EqBandKind::Bell, 12),
            (EqBandKind::LowShelf, 12),
            (EqBandKind::HighShelf, 12),
            (EqBandKind::Tilt, 12),
            (EqBandKind::LowCut, 24),
            (EqBandKind::HighCut, 48),
            (EqBandKind::LowCut, 18),
        ];
        for mode in [EqMode::MinimumPhase, EqMode::LinearPhase] {
            let mut worst: (f64, String) = (0.0, String::new());
            for (kind, slope) in kinds {
                let band = EqBandSettings {
                    enabled: true,
                    kind,
                    freq_hz: 40.0,
                    gain_db: -12.0,
                    q: 0.5,
                    slope_db_per_oct: slope,
                    placement: EqPlacement::Stereo,
                };
                let base = settings_with(mode, &[(3, band)]);
                let frames = 48_000;
                let mut schedule: Schedule = Vec::new();
                let mut peak = [0.0f64; 2];
                for k in 0..frames / 64 {
                    let t = k as f64 * 64.0 / frames as f64;
                    let mut s = base;
                    s.bands[3].freq_hz = (40.0 * 450f64.powf(t)) as f32;
                    s.bands[3].gain_db = (-12.0 + 24.0 * t) as f32;
                    s.bands[3].q = (0.5 * 4f64.powf(t)) as f32;
                    let target = BandTarget::new(&s.sanitized().bands[3], fs);
                    for (p, f) in peak.iter_mut().zip([100.0, 1_000.0]) {
                        *p = p.max(target.magnitude_squared(f).sqrt());
                    }
                    schedule.push((k * 64, s));
                }
                let mut eq = Eq::new(fs, &base);
                let latency = eq.latency_samples();
                let low = sine(frames + latency, 100.0, fs, 0.25);
                let high = sine(frames + latency, 1_000.0, fs, 0.25);
                let mut l: Vec<f32> = low.iter().zip(high.iter()).map(|(a, b)| a + b).collect();
                let mut r = l.clone();
                run(&mut eq, &mut l, &mut r, &[64], &schedule);
                let bound: f64 = [100.0, 1_000.0]
                    .iter()
                    .zip(peak.iter())
                    .map(|(f, g)| 0.25 * g * (2.0 * (PI * f / fs).sin()).powi(3))
                    .sum();
                let ratio = max_third_difference(&l[latency + 4_800..]) / bound;
                if ratio > worst.0 {
                    worst = (ratio, format!("{kind:?} {slope}"));
                }
                assert!(ratio < 1.1, "{mode:?} {kind:?} {slope}: {ratio}");
            }
            println!(
                "{mode:?}: sweeps of every kind, worst max 3rd difference / bound {:.4} ({})",
                worst.0, worst.1
            );
        }
    }

    #[test]
    fn settings_response_equals_the_built_eqs_response() {
        let settings = demo_settings();
        let eq = Eq::new(48_000.0, &settings);
        for freq_hz in [25.0, 120.0, 300.0, 2_500.0, 5_000.0, 11_000.0, 19_000.0] {
            for path in [EqPlacement::Mid, EqPlacement::Side, EqPlacement::Stereo] {
                let expected = eq.path_magnitude_db(freq_hz, path);
                let got = settings.response_db(48_000.0, freq_hz, path);
                assert!((got - expected).abs() < 1e-9, "{freq_hz} Hz {path:?}: {got} vs {expected}");
            }
            for band in 0..EQ_BANDS {
                let expected = eq.band_magnitude_db(band, freq_hz);
                let got = settings.band_response_db(band, 48_000.0, freq_hz);
                assert!((got - expected).abs() < 1e-9, "band {band} at {freq_hz} Hz");
            }
        }
        // A bell's peak is its gain, independent of the EQ object (analytic check).
        let mut bell = EqSettings::default();
        bell.bands[2] = EqBandSettings {
            enabled: true,
            kind: EqBandKind::Bell,
            freq_hz: 1_000.0,
            gain_db: 6.0,
            ..bell.bands[2]
        };
        assert!((bell.band_response_db(2, 48_000.0, 1_000.0) - 6.0).abs() < 1e-9);
    }
}
