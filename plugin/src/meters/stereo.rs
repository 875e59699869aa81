//! Stereo-field metering (audio thread: [`StereoMeter`]) with its lock-free hand-off to the editor:
//! scalar readings in [`StereoView`] (atomics) and vectorscope points through a wait-free SPSC
//! ring ([`point_ring`], read by [`VectorscopeReader`]).
//!
//! # Correlation
//!
//! Pearson correlation `ρ = Σlr / √(Σl²·Σr²)` from exponentially weighted mean squares and mean
//! cross product (`f64`), with a fast (300 ms) and a slow (3 s) time constant. The sums are
//! accumulated over sub-blocks of [`SUB_BLOCK_SAMPLES`] samples on a fixed sample grid and then
//! integrated with the exact per-sub-block decay `exp(−M / (τ·fs))`, so a step reaches
//! `1 − 1/e` (63 %) of its final value after τ (to within one sub-block, 0.33 ms at 48 kHz) and
//! readings are bit-identical for any host block size. If either channel's mean square is below
//! [`SIGNAL_THRESHOLD_DBFS`] (−90 dB RMS re full scale) the correlation is "no signal"
//! (`None`; the view stores 0 and clears its valid flag) — never NaN.
//!
//! # Bands
//!
//! Two 2nd-order Butterworth splits per channel, implemented as trapezoidal (TPT) state-variable
//! filters — equivalent to the bilinear transform of the analog prototype with the cutoff
//! prewarped by `g = tan(π·fc/fs)` (A. Simper, "Linear trap integrated SVF", Cytomic technical
//! paper, 2013) — with cutoffs clamped below 0.45·fs:
//!
//! * low  = LP150(x)
//! * mid  = LP5k(HP150(x))
//! * high = HP5k(HP150(x))
//!
//! Identical filters act on L and R, so each band's correlation is that of the band-limited
//! signals; a negative low-band correlation raises the "bass out of phase" warning
//! ([`StereoMeter::bass_out_of_phase`], slow integration).
//!
//! # Width and balance
//!
//! From the same sums: `Σm² = (Σl² + Σr² + 2Σlr)/4`, `Σs² = (Σl² + Σr² − 2Σlr)/4`.
//! Width in dB is `10·log10(Σs²/Σm²)` (mono −∞, one channel only or uncorrelated equal channels 0,
//! pure anti-phase +∞); width in percent is `200·Σs²/(Σm² + Σs²)` (mono 0 %, 100 % where the
//! width is 0 dB, anti-phase 200 %; for equal channel levels it equals `100·(1 − ρ)`).
//! Balance is `10·log10(Σl²/Σr²)` dB (positive = left louder, ±∞ with one channel silent).
//! Width and balance are `None` when the mean of both channels' mean squares is below the threshold.
//!
//! # Vectorscope
//!
//! While enabled ([`StereoMeter::set_vectorscope_enabled`], off by default), every
//! [`StereoMeter::vectorscope_decimation`]-th input frame (one per 4 at 44.1/48 kHz, rate-scaled
//! to about [`VECTORSCOPE_POINT_RATE_HZ`] points per second) is pushed as a raw `(L, R)` pair
//! into a ring of [`VECTORSCOPE_CAPACITY`] points. The ring **drops the newest point when full**
//! (the producer never touches the reader's index) and counts the drops.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use atomic_float::AtomicF32;

use super::{clamp_sample_rate_hz, FALLBACK_SAMPLE_RATE_HZ};

/// Mean-square threshold matching [`SIGNAL_THRESHOLD_DBFS`] (`10^(−90/10)`).
const SIGNAL_THRESHOLD_MEAN_SQUARE: f64 = 1e-9;
/// Filter states below this magnitude are set to zero (no subnormals).
const STATE_SNAP: f64 = 1e-15;
/// Integrated energies below this magnitude are set to zero (square of [`STATE_SNAP`]).
const ENERGY_SNAP: f64 = 1e-30;
/// Number of correlation bands.
const BANDS: usize = 4;

/// Time constant of the fast integration, ms.
pub const FAST_TIME_CONSTANT_MS: f64 = 300.0;

/// Time constant of the slow integration, ms.
pub const SLOW_TIME_CONSTANT_MS: f64 = 3_000.0;

/// Crossover between the low and mid bands, Hz.
pub const LOW_CROSSOVER_HZ: f64 = 150.0;

/// Crossover between the mid and high bands, Hz (clamped below 0.45·fs at low rates).
pub const HIGH_CROSSOVER_HZ: f64 = 5_000.0;

/// Crossover frequencies are clamped below this fraction of the sample rate.
pub const CROSSOVER_LIMIT_FRACTION: f64 = 0.45;

/// Below this RMS level (dB re full scale) a channel counts as silent, dBFS.
pub const SIGNAL_THRESHOLD_DBFS: f64 = -90.0;

/// Points the vectorscope ring holds.
pub const VECTORSCOPE_CAPACITY: usize = 4_096;

/// Target vectorscope point rate (decimation `round(fs / this)`, at least 1), points per second.
pub const VECTORSCOPE_POINT_RATE_HZ: f64 = 12_000.0;

/// Interval between publications to the [`StereoView`], ms (rounded up to whole sub-blocks).
pub const PUBLISH_INTERVAL_MS: f64 = 10.0;

/// Length of the fixed integration sub-block, samples.
pub const SUB_BLOCK_SAMPLES: usize = 16;

/// Frequency band of a correlation reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorrelationBand {
    /// The unfiltered signal.
    Full,
    /// Below [`LOW_CROSSOVER_HZ`].
    Low,
    /// Between [`LOW_CROSSOVER_HZ`] and [`HIGH_CROSSOVER_HZ`].
    Mid,
    /// Above [`HIGH_CROSSOVER_HZ`].
    High,
}

impl CorrelationBand {
    /// All bands, in storage order.
    pub const ALL: [CorrelationBand; BANDS] = [Self::Full, Self::Low, Self::Mid, Self::High];

    /// Storage index.
    fn index(self) -> usize {
        match self {
            Self::Full => 0,
            Self::Low => 1,
            Self::Mid => 2,
            Self::High => 3,
        }
    }
}

/// Integration time of a reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Integration {
    /// [`FAST_TIME_CONSTANT_MS`].
    Fast,
    /// [`SLOW_TIME_CONSTANT_MS`].
    Slow,
    /// Everything since reset, equally weighted (the delivery checks' long-term reading).
    Total,
}

/// Number of integrations stored.
const INTEGRATIONS: usize = 3;

impl Integration {
    /// The two exponential integrations, in storage order.
    pub const ALL: [Integration; 2] = [Self::Fast, Self::Slow];

    /// Every integration, in storage order.
    pub const EVERY: [Integration; INTEGRATIONS] = [Self::Fast, Self::Slow, Self::Total];

    /// Storage index.
    fn index(self) -> usize {
        match self {
            Self::Fast => 0,
            Self::Slow => 1,
            Self::Total => 2,
        }
    }

    /// Time constant, ms (∞ for [`Integration::Total`]).
    pub fn time_constant_ms(self) -> f64 {
        match self {
            Self::Fast => FAST_TIME_CONSTANT_MS,
            Self::Slow => SLOW_TIME_CONSTANT_MS,
            Self::Total => f64::INFINITY,
        }
    }
}

// ------------------------------------------------------------------------------------------------
// SPSC ring of (L, R) points
// ------------------------------------------------------------------------------------------------

/// Aligns its content to a cache line so producer and consumer indices do not share one.
#[repr(align(64))]
struct CachePadded<T>(T);

/// Storage shared by a [`PointProducer`] and a [`VectorscopeReader`].
struct RingShared {
    /// Points packed as `L bits | R bits << 32`: one atomic word per pair, so a pair can never tear.
    slots: Box<[AtomicU64]>,
    /// `capacity − 1` (capacity is a power of two).
    mask: usize,
    /// Points consumed so far (written by the reader only), wrapping.
    head: CachePadded<AtomicUsize>,
    /// Points produced so far (written by the producer only), wrapping.
    tail: CachePadded<AtomicUsize>,
    /// Points dropped because the ring was full (written by the producer only).
    dropped: AtomicU64,
}

/// Producing side of the vectorscope ring (audio thread; wait-free, never allocates).
pub struct PointProducer {
    /// Shared storage.
    shared: Arc<RingShared>,
    /// Local copy of the tail.
    tail: usize,
    /// Last head value seen (refreshed only when the ring looks full).
    cached_head: usize,
    /// Local count of dropped points.
    dropped: u64,
}

/// Consuming side of the vectorscope ring (GUI thread; wait-free, never allocates).
pub struct VectorscopeReader {
    /// Shared storage.
    shared: Arc<RingShared>,
    /// Local copy of the head.
    head: usize,
    /// Last tail value seen (refreshed only when the ring looks empty).
    cached_tail: usize,
}

/// Packs a point into one 64-bit word.
fn pack(left: f32, right: f32) -> u64 {
    u64::from(left.to_bits()) | (u64::from(right.to_bits()) << 32)
}

/// Unpacks a point packed by [`pack`].
fn unpack(word: u64) -> (f32, f32) {
    (f32::from_bits(word as u32), f32::from_bits((word >> 32) as u32))
}

/// Creates a single-producer single-consumer ring of `(L, R)` points with room for `capacity`
/// points (rounded up to a power of two, at least 2). The only allocation happens here. When the
/// ring is full, [`PointProducer::push`] drops the new point and counts it.
pub fn point_ring(capacity: usize) -> (PointProducer, VectorscopeReader) {
    let capacity = capacity.max(2).next_power_of_two();
    let shared = Arc::new(RingShared {
        slots: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
        mask: capacity - 1,
        head: CachePadded(AtomicUsize::new(0)),
        tail: CachePadded(AtomicUsize::new(0)),
        dropped: AtomicU64::new(0),
    });
    (
        PointProducer { shared: Arc::clone(&shared), tail: 0, cached_head: 0, dropped: 0 },
        VectorscopeReader { shared, head: 0, cached_tail: 0 },
    )
}

impl PointProducer {
    /// Appends a point; returns `false` (and counts a drop) if the ring is full.
    #[inline]
    pub fn push(&mut self, left: f32, right: f32) -> bool {
        let capacity = self.shared.mask + 1;
        if self.tail.wrapping_sub(self.cached_head) >= capacity {
            // Acquire: the reader has finished reading the slots it released.
            self.cached_head = self.shared.head.0.load(Ordering::Acquire);
            if self.tail.wrapping_sub(self.cached_head) >= capacity {
                self.dropped += 1;
                self.shared.dropped.store(self.dropped, Ordering::Relaxed);
                return false;
            }
        }
        self.shared.slots[self.tail & self.shared.mask].store(pack(left, right), Ordering::Relaxed);
        self.tail = self.tail.wrapping_add(1);
        // Release: the slot store above is visible before the reader sees the new tail.
        self.shared.tail.0.store(self.tail, Ordering::Release);
        true
    }

    /// Points dropped so far because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl VectorscopeReader {
    /// Takes the oldest point, or `None` if the ring is empty.
    #[inline]
    pub fn pop(&mut self) -> Option<(f32, f32)> {
        if self.head == self.cached_tail {
            // Acquire: pairs with the producer's Release store of the tail.
            self.cached_tail = self.shared.tail.0.load(Ordering::Acquire);
            if self.head == self.cached_tail {
                return None;
            }
        }
        let word = self.shared.slots[self.head & self.shared.mask].load(Ordering::Relaxed);
        self.head = self.head.wrapping_add(1);
        // Release: our read of the slot completes before the producer may overwrite it.
        self.shared.head.0.store(self.head, Ordering::Release);
        Some(unpack(word))
    }

    /// Moves up to `out.len()` of the oldest points into `out`; returns how many were written.
    pub fn pop_into(&mut self, out: &mut [(f32, f32)]) -> usize {
        let mut written = 0;
        for slot in out.iter_mut() {
            match self.pop() {
                Some(point) => *slot = point,
                None => break,
            }
            written += 1;
        }
        written
    }

    /// Discards every point currently in the ring (e.g. when the editor reopens).
    pub fn clear(&mut self) {
        self.cached_tail = self.shared.tail.0.load(Ordering::Acquire);
        self.head = self.cached_tail;
        self.shared.head.0.store(self.head, Ordering::Release);
    }

    /// Points currently waiting in the ring.
    pub fn len(&self) -> usize {
        self.shared.tail.0.load(Ordering::Acquire).wrapping_sub(self.head)
    }

    /// Whether no point is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Maximum number of points the ring holds.
    pub fn capacity(&self) -> usize {
        self.shared.mask + 1
    }

    /// Points the producer dropped so far because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

// ------------------------------------------------------------------------------------------------
// View (GUI side)
// ------------------------------------------------------------------------------------------------

/// Scalar readings of a [`StereoMeter`] for the GUI: one writer (the meter, every
/// [`PUBLISH_INTERVAL_MS`]), any number of lock-free readers. Values are never NaN; "no signal"
/// readings store 0 and clear their valid flag, and are returned as `None`.
#[derive(Debug, Default)]
pub struct StereoView {
    /// Correlation per band and integration, −1..+1 (0 when invalid).
    correlation: [[AtomicF32; INTEGRATIONS]; BANDS],
    /// Whether `correlation` holds a reading (both channels above the threshold).
    correlation_valid: [[AtomicBool; INTEGRATIONS]; BANDS],
    /// Side/mid energy ratio per integration, dB (−∞ for mono).
    width_db: [AtomicF32; INTEGRATIONS],
    /// Width per integration, percent (0 = mono, 100 = side as loud as mid, 200 = anti-phase).
    width_percent: [AtomicF32; INTEGRATIONS],
    /// L/R energy ratio per integration, dB (positive = left louder).
    balance_db: [AtomicF32; INTEGRATIONS],
    /// Whether width and balance hold readings (signal above the threshold).
    level_valid: [AtomicBool; INTEGRATIONS],
}

/// Loads a reading that is only meaningful when its flag is set.
fn load_valid(value: &AtomicF32, valid: &AtomicBool) -> Option<f32> {
    valid.load(Ordering::Relaxed).then(|| value.load(Ordering::Relaxed))
}

/// Stores an optional reading as value + flag (0 when absent).
fn store_valid(value: &AtomicF32, valid: &AtomicBool, reading: Option<f64>) {
    value.store(reading.unwrap_or(0.0) as f32, Ordering::Relaxed);
    valid.store(reading.is_some(), Ordering::Relaxed);
}

impl StereoView {
    /// Correlation coefficient (−1..+1) of `band` with `integration`; `None` without signal.
    pub fn correlation(&self, band: CorrelationBand, integration: Integration) -> Option<f32> {
        let (b, i) = (band.index(), integration.index());
        load_valid(&self.correlation[b][i], &self.correlation_valid[b][i])
    }

    /// Side/mid energy ratio, dB (−∞ for mono, +∞ for pure anti-phase); `None` without signal.
    pub fn width_db(&self, integration: Integration) -> Option<f32> {
        let i = integration.index();
        load_valid(&self.width_db[i], &self.level_valid[i])
    }

    /// Width, percent (0 mono … 100 side = mid … 200 anti-phase); `None` without signal.
    pub fn width_percent(&self, integration: Integration) -> Option<f32> {
        let i = integration.index();
        load_valid(&self.width_percent[i], &self.level_valid[i])
    }

    /// L/R balance, dB (positive = left louder, ±∞ with one channel silent); `None` without signal.
    pub fn balance_db(&self, integration: Integration) -> Option<f32> {
        let i = integration.index();
        load_valid(&self.balance_db[i], &self.level_valid[i])
    }

    /// "Bass is out of phase": the slow low-band correlation is valid and below 0.
    pub fn bass_out_of_phase(&self) -> bool {
        self.correlation(CorrelationBand::Low, Integration::Slow).is_some_and(|c| c < 0.0)
    }
}

// ------------------------------------------------------------------------------------------------
// Meter
// ------------------------------------------------------------------------------------------------

/// Trapezoidal state-variable filter (2nd-order, Butterworth damping) for both channels at once;
/// equivalent to the bilinear transform with prewarping (Simper 2013).
#[derive(Clone, Copy, Debug)]
struct Svf {
    /// `1 / (1 + g·(g + k))`.
    a1: f64,
    /// `g·a1`.
    a2: f64,
    /// `g·a2`.
    a3: f64,
    /// Damping `1/Q = √2`.
    k: f64,
    /// First integrator state per channel.
    ic1: [f64; 2],
    /// Second integrator state per channel.
    ic2: [f64; 2],
}

impl Svf {
    /// Designs the filter for `cutoff_hz` (clamped below 0.45·fs) at `sample_rate_hz`.
    fn new(cutoff_hz: f64, sample_rate_hz: f64) -> Self {
        let cutoff = cutoff_hz.min(CROSSOVER_LIMIT_FRACTION * sample_rate_hz);
        let g = (std::f64::consts::PI * cutoff / sample_rate_hz).tan();
        let k = std::f64::consts::SQRT_2;
        let a1 = 1.0 / (1.0 + g * (g + k));
        let a2 = g * a1;
        Self { a1, a2, a3: g * a2, k, ic1: [0.0; 2], ic2: [0.0; 2] }
    }

    /// Filters one stereo sample; returns (low-pass, high-pass).
    #[inline(always)]
    fn tick(&mut self, x: [f64; 2]) -> ([f64; 2], [f64; 2]) {
        let mut low = [0.0; 2];
        let mut high = [0.0; 2];
        for c in 0..2 {
            let v3 = x[c] - self.ic2[c];
            let v1 = self.a1 * self.ic1[c] + self.a2 * v3;
            let v2 = self.ic2[c] + self.a2 * self.ic1[c] + self.a3 * v3;
            self.ic1[c] = 2.0 * v1 - self.ic1[c];
            self.ic2[c] = 2.0 * v2 - self.ic2[c];
            low[c] = v2;
            high[c] = x[c] - self.k * v1 - v2;
        }
        (low, high)
    }

    /// Clears the state.
    fn reset(&mut self) {
        self.ic1 = [0.0; 2];
        self.ic2 = [0.0; 2];
    }

    /// Sets tiny states to exactly zero; returns whether all states are finite.
    fn snap(&mut self) -> bool {
        let mut finite = true;
        for state in self.ic1.iter_mut().chain(self.ic2.iter_mut()) {
            finite &= state.is_finite();
            if state.abs() < STATE_SNAP {
                *state = 0.0;
            }
        }
        finite
    }
}

/// Sums of one band: `[Σl², Σr², Σlr]`.
type BandSums = [f64; 3];

/// Correlation from mean squares and mean cross product; `None` if a channel is below threshold.
fn correlation_of(sums: &BandSums) -> Option<f64> {
    let [ll, rr, lr] = *sums;
    if ll < SIGNAL_THRESHOLD_MEAN_SQUARE || rr < SIGNAL_THRESHOLD_MEAN_SQUARE {
        return None;
    }
    Some((lr / (ll * rr).sqrt()).clamp(-1.0, 1.0))
}

/// Mid and side mean squares `(Σm², Σs²)`, or `None` below the threshold.
fn mid_side_of(sums: &BandSums) -> Option<(f64, f64)> {
    let [ll, rr, lr] = *sums;
    if 0.5 * (ll + rr) < SIGNAL_THRESHOLD_MEAN_SQUARE {
        return None;
    }
    Some((((ll + rr + 2.0 * lr) * 0.25).max(0.0), ((ll + rr - 2.0 * lr) * 0.25).max(0.0)))
}

/// `10·log10(numerator/denominator)` with ±∞ for zero parts (both parts never zero together here).
fn ratio_db(numerator: f64, denominator: f64) -> f64 {
    if denominator <= 0.0 {
        f64::INFINITY
    } else if numerator <= 0.0 {
        f64::NEG_INFINITY
    } else {
        10.0 * (numerator / denominator).log10()
    }
}

/// Stereo correlation / width / balance meter with per-band correlation and a vectorscope feed
/// (audio thread). See the module docs for the definitions.
pub struct StereoMeter {
    /// Sample rate after clamping, Hz.
    sample_rate_hz: f64,
    /// 150 Hz split (low = LP, rest = HP).
    low_split: Svf,
    /// 5 kHz split of the 150 Hz high-pass output (mid = LP, high = HP).
    high_split: Svf,
    /// Sums of the current sub-block per band.
    accumulator: [BandSums; BANDS],
    /// Samples in the current sub-block.
    phase: usize,
    /// Integrated mean squares / cross products per integration and band.
    integrated: [[BandSums; BANDS]; INTEGRATIONS],
    /// Per-sub-block decay `exp(−M/(τ·fs))` per integration (the total's is `(n − 1)/n`, set
    /// per sub-block).
    decay: [f64; INTEGRATIONS],
    /// Sub-blocks integrated since reset (for [`Integration::Total`]).
    total_blocks: u64,
    /// Sub-blocks between publications.
    publish_interval: usize,
    /// Sub-blocks since the last publication.
    since_publish: usize,
    /// Whether vectorscope points are produced.
    scope_enabled: bool,
    /// One vectorscope point per this many frames.
    scope_decimation: usize,
    /// Frames since the last vectorscope point (mod `scope_decimation`).
    scope_phase: usize,
    /// Producing side of the vectorscope ring.
    producer: PointProducer,
    /// Consuming side, until [`StereoMeter::take_vectorscope`] hands it out.
    reader: Option<VectorscopeReader>,
    /// Published scalar readings.
    view: Arc<StereoView>,
}

impl StereoMeter {
    /// Creates a meter for `sample_rate_hz` (clamped to 8–768 kHz; non-finite gives 48 kHz).
    /// Allocates the view and the vectorscope ring ([`VECTORSCOPE_CAPACITY`] points); the
    /// vectorscope starts disabled.
    pub fn new(sample_rate_hz: f64) -> Self {
        let (producer, reader) = point_ring(VECTORSCOPE_CAPACITY);
        let mut meter = Self {
            sample_rate_hz: 0.0,
            low_split: Svf::new(LOW_CROSSOVER_HZ, FALLBACK_SAMPLE_RATE_HZ),
            high_split: Svf::new(HIGH_CROSSOVER_HZ, FALLBACK_SAMPLE_RATE_HZ),
            accumulator: [[0.0; 3]; BANDS],
            phase: 0,
            integrated: [[[0.0; 3]; BANDS]; INTEGRATIONS],
            decay: [0.0; INTEGRATIONS],
            total_blocks: 0,
            publish_interval: 1,
            since_publish: 0,
            scope_enabled: false,
            scope_decimation: 1,
            scope_phase: 0,
            producer,
            reader: Some(reader),
            view: Arc::new(StereoView::default()),
        };
        meter.set_sample_rate_hz(sample_rate_hz);
        meter
    }

    /// Re-designs filters and time constants for a new rate, Hz (clamped like `new`) and resets
    /// the readings. Does not allocate; the view and the vectorscope ring stay connected.
    pub fn set_sample_rate_hz(&mut self, sample_rate_hz: f64) {
        let fs = clamp_sample_rate_hz(sample_rate_hz);
        self.sample_rate_hz = fs;
        self.low_split = Svf::new(LOW_CROSSOVER_HZ, fs);
        self.high_split = Svf::new(HIGH_CROSSOVER_HZ, fs);
        for integration in Integration::ALL {
            let samples = integration.time_constant_ms() * 1e-3 * fs;
            self.decay[integration.index()] = (-(SUB_BLOCK_SAMPLES as f64) / samples).exp();
        }
        let interval_samples = PUBLISH_INTERVAL_MS * 1e-3 * fs;
        self.publish_interval = ((interval_samples / SUB_BLOCK_SAMPLES as f64).ceil() as usize).max(1);
        self.scope_decimation = ((fs / VECTORSCOPE_POINT_RATE_HZ).round() as usize).max(1);
        self.reset();
    }

    /// Clears filters and readings without allocating (the vectorscope ring keeps its points).
    pub fn reset(&mut self) {
        self.low_split.reset();
        self.high_split.reset();
        self.accumulator = [[0.0; 3]; BANDS];
        self.phase = 0;
        self.integrated = [[[0.0; 3]; BANDS]; INTEGRATIONS];
        self.total_blocks = 0;
        self.since_publish = 0;
        self.scope_phase = 0;
        self.publish();
    }

    /// The shared scalar readings for the GUI.
    pub fn view(&self) -> Arc<StereoView> {
        Arc::clone(&self.view)
    }

    /// Hands out the vectorscope reader (`Some` on the first call only).
    pub fn take_vectorscope(&mut self) -> Option<VectorscopeReader> {
        self.reader.take()
    }

    /// Enables or disables production of vectorscope points (enable only while it is shown).
    pub fn set_vectorscope_enabled(&mut self, enabled: bool) {
        if enabled && !self.scope_enabled {
            self.scope_phase = 0;
        }
        self.scope_enabled = enabled;
    }

    /// Whether vectorscope points are produced.
    pub fn is_vectorscope_enabled(&self) -> bool {
        self.scope_enabled
    }

    /// Input frames per vectorscope point (4 at 44.1/48 kHz).
    pub fn vectorscope_decimation(&self) -> usize {
        self.scope_decimation
    }

    /// Points dropped so far because the vectorscope ring was full.
    pub fn vectorscope_dropped(&self) -> u64 {
        self.producer.dropped()
    }

    /// Sample rate after clamping, Hz.
    pub fn sample_rate_hz(&self) -> f64 {
        self.sample_rate_hz
    }

    /// Consumes a block of stereo audio (`left` and `right` are truncated to the shorter length).
    /// Never allocates, locks or panics; readings do not depend on the block sizes. Sub-blocks
    /// containing non-finite samples are discarded (filters restart from zero).
    pub fn process(&mut self, left: &[f32], right: &[f32]) {
        let frames = left.len().min(right.len());
        let (mut left, mut right) = (&left[..frames], &right[..frames]);
        while !left.is_empty() {
            let take = left.len().min(SUB_BLOCK_SAMPLES - self.phase);
            let (l_now, l_later) = left.split_at(take);
            let (r_now, r_later) = right.split_at(take);
            self.accumulate(l_now, r_now);
            if self.scope_enabled {
                self.feed_scope(l_now, r_now);
            }
            (left, right) = (l_later, r_later);
            self.phase += take;
            if self.phase == SUB_BLOCK_SAMPLES {
                self.phase = 0;
                self.finish_sub_block();
            }
        }
    }

    /// Filters a chunk (within one sub-block) and adds its squares and products to the
    /// sub-block sums, in sample order.
    #[inline]
    fn accumulate(&mut self, left: &[f32], right: &[f32]) {
        let mut sums = self.accumulator;
        let mut low_split = self.low_split;
        let mut high_split = self.high_split;
        for (&l, &r) in left.iter().zip(right) {
            let x = [f64::from(l), f64::from(r)];
            let (low, rest) = low_split.tick(x);
            let (mid, high) = high_split.tick(rest);
            for (band, v) in sums.iter_mut().zip([x, low, mid, high]) {
                band[0] += v[0] * v[0];
                band[1] += v[1] * v[1];
                band[2] += v[0] * v[1];
            }
        }
        self.accumulator = sums;
        self.low_split = low_split;
        self.high_split = high_split;
    }

    /// Pushes every `scope_decimation`-th frame (on the global sample grid) to the ring.
    fn feed_scope(&mut self, left: &[f32], right: &[f32]) {
        for (&l, &r) in left.iter().zip(right) {
            if self.scope_phase == 0 {
                self.producer.push(l, r);
            }
            self.scope_phase += 1;
            if self.scope_phase >= self.scope_decimation {
                self.scope_phase = 0;
            }
        }
    }

    /// Integrates the finished sub-block, snaps tiny values, publishes when due.
    fn finish_sub_block(&mut self) {
        let sums = std::mem::replace(&mut self.accumulator, [[0.0; 3]; BANDS]);
        let finite = self.low_split.snap() & self.high_split.snap();
        if finite && sums.iter().flatten().all(|s| s.is_finite()) {
            let scale = 1.0 / SUB_BLOCK_SAMPLES as f64;
            // The total skips silent sub-blocks, so pauses do not dilute it.
            let silent = (sums[0][0] + sums[0][1]) * scale < ENERGY_SNAP;
            self.decay[Integration::Total.index()] = if silent {
                1.0
            } else {
                self.total_blocks += 1;
                (self.total_blocks - 1) as f64 / self.total_blocks as f64
            };
            for (integrated, &decay) in self.integrated.iter_mut().zip(&self.decay) {
                for (band, block) in integrated.iter_mut().zip(&sums) {
                    for (value, &sum) in band.iter_mut().zip(block) {
                        *value = decay * *value + (1.0 - decay) * (sum * scale);
                        if value.abs() < ENERGY_SNAP {
                            *value = 0.0;
                        }
                    }
                }
            }
        } else {
            self.low_split.reset();
            self.high_split.reset();
        }
        self.since_publish += 1;
        if self.since_publish >= self.publish_interval {
            self.since_publish = 0;
            self.publish();
        }
    }

    /// Stores the current readings in the view (relaxed atomic stores).
    fn publish(&self) {
        let view = &self.view;
        for integration in Integration::EVERY {
            let i = integration.index();
            for band in CorrelationBand::ALL {
                let b = band.index();
                store_valid(
                    &view.correlation[b][i],
                    &view.correlation_valid[b][i],
                    self.correlation(band, integration),
                );
            }
            store_valid(&view.width_db[i], &view.level_valid[i], self.width_db(integration));
            store_valid(&view.width_percent[i], &view.level_valid[i], self.width_percent(integration));
            store_valid(&view.balance_db[i], &view.level_valid[i], self.balance_db(integration));
        }
    }

    /// Correlation coefficient (−1..+1) of `band`; `None` if either channel's band level is below
    /// [`SIGNAL_THRESHOLD_DBFS`].
    pub fn correlation(&self, band: CorrelationBand, integration: Integration) -> Option<f64> {
        correlation_of(&self.integrated[integration.index()][band.index()])
    }

    /// Side/mid energy ratio, dB (−∞ mono, 0 one-sided or uncorrelated, +∞ anti-phase);
    /// `None` without signal.
    pub fn width_db(&self, integration: Integration) -> Option<f64> {
        mid_side_of(&self.integrated[integration.index()][0]).map(|(mid, side)| ratio_db(side, mid))
    }

    /// Width `200·Σs²/(Σm² + Σs²)`, percent (0 mono, 100 at 0 dB width, 200 anti-phase);
    /// `None` without signal.
    pub fn width_percent(&self, integration: Integration) -> Option<f64> {
        mid_side_of(&self.integrated[integration.index()][0]).map(|(mid, side)| 200.0 * (side / (mid + side)))
    }

    /// L/R balance `10·log10(Σl²/Σr²)`, dB (positive = left louder); `None` without signal.
    pub fn balance_db(&self, integration: Integration) -> Option<f64> {
        let [ll, rr, _] = self.integrated[integration.index()][0];
        (0.5 * (ll + rr) >= SIGNAL_THRESHOLD_MEAN_SQUARE).then(|| ratio_db(ll, rr))
    }

    /// RMS level of `band` averaged over both channels, `10·log10((Σl² + Σr²)/2)` dBFS
    /// (full-scale square wave = 0 dB, full-scale sine −3.01 dB); −∞ for silence.
    pub fn band_level_dbfs(&self, band: CorrelationBand, integration: Integration) -> f64 {
        let [ll, rr, _] = self.integrated[integration.index()][band.index()];
        let mean_square = 0.5 * (ll + rr);
        if mean_square > 0.0 {
            10.0 * mean_square.log10()
        } else {
            f64::NEG_INFINITY
        }
    }

    /// "Bass is out of phase": the slow low-band correlation is valid and below 0.
    pub fn bass_out_of_phase(&self) -> bool {
        self.correlation(CorrelationBand::Low, Integration::Slow).is_some_and(|c| c < 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::{E, PI};
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

    fn sine(rate: f64, frequency: f64, amplitude: f64, frames: usize) -> Vec<f32> {
        (0..frames).map(|n| (amplitude * (2.0 * PI * frequency * n as f64 / rate).sin()) as f32).collect()
    }

    fn feed(meter: &mut StereoMeter, left: &[f32], right: &[f32], block: usize) {
        for (l, r) in left.chunks(block).zip(right.chunks(block)) {
            meter.process(l, r);
        }
    }

    #[test]
    fn identical_and_inverted_channels() {
        let mut meter = StereoMeter::new(48_000.0);
        let view = meter.view();
        let mut noise = Noise(1);
        let signal = noise.block(4 * 48_000, 0.5);
        feed(&mut meter, &signal, &signal, 512);
        for integration in Integration::ALL {
            for band in CorrelationBand::ALL {
                let c = meter.correlation(band, integration).expect("signal");
                assert!((c - 1.0).abs() <= 1e-6, "{band:?} {integration:?}: {c}");
                let published = view.correlation(band, integration).expect("published");
                assert!((published - 1.0).abs() <= 1e-6);
            }
        }
        assert!(!meter.bass_out_of_phase());
        let inverted: Vec<f32> = signal.iter().map(|x| -x).collect();
        let mut meter = StereoMeter::new(48_000.0);
        feed(&mut meter, &signal, &inverted, 512);
        for integration in Integration::ALL {
            for band in CorrelationBand::ALL {
                let c = meter.correlation(band, integration).expect("signal");
                assert!((c + 1.0).abs() <= 1e-6, "{band:?} {integration:?}: {c}");
            }
        }
        assert!(meter.bass_out_of_phase());
        assert_eq!(meter.width_db(Integration::Slow), Some(f64::INFINITY));
        assert_eq!(meter.width_percent(Integration::Slow), Some(200.0));
    }

    #[test]
    fn total_integration_weighs_everything_since_reset_equally() {
        // 4 s in phase, then 4 s inverted: the exponential readings end near −1, the total at 0.
        let mut meter = StereoMeter::new(48_000.0);
        let view = meter.view();
        let mut noise = Noise(9);
        let first = noise.block(4 * 48_000, 0.5);
        let second = noise.block(4 * 48_000, 0.5);
        let inverted: Vec<f32> = second.iter().map(|x| -x).collect();
        feed(&mut meter, &first, &first, 512);
        feed(&mut meter, &second, &inverted, 333);
        let total = meter.correlation(CorrelationBand::Full, Integration::Total).expect("signal");
        let slow = meter.correlation(CorrelationBand::Full, Integration::Slow).expect("signal");
        assert!(total.abs() < 0.05 && slow < -0.5, "total {total}, slow {slow}");
        let published = view.correlation(CorrelationBand::Full, Integration::Total).expect("published");
        assert!((f64::from(published) - total).abs() < 0.01, "{published} vs {total}");
        // Left at half level for the second half: total balance = 10·log10(2·0.25 / (0.25 + 0.25·0.25)).
        let mut meter = StereoMeter::new(48_000.0);
        let half: Vec<f32> = second.iter().map(|x| 0.5 * x).collect();
        feed(&mut meter, &first, &first, 512);
        feed(&mut meter, &half, &second, 512);
        let balance = meter.balance_db(Integration::Total).expect("signal");
        let expected = 10.0 * (1.25f64 / 2.0).log10();
        assert!((balance - expected).abs() < 0.05, "{balance} vs {expected}");
        meter.reset();
        assert_eq!(meter.correlation(CorrelationBand::Full, Integration::Total), None);
    }

    #[test]
    fn independent_noise_is_uncorrelated() {
        let mut meter = StereoMeter::new(48_000.0);
        let mut noise = Noise(2);
        let left = noise.block(15 * 48_000, 0.5);
        let right = noise.block(15 * 48_000, 0.5);
        feed(&mut meter, &left, &right, 1024);
        let full = meter.correlation(CorrelationBand::Full, Integration::Slow).expect("signal");
        println!("independent noise: slow full-band correlation {full:.5}");
        assert!(full.abs() < 0.05, "{full}");
        for band in [CorrelationBand::Low, CorrelationBand::Mid, CorrelationBand::High] {
            let c = meter.correlation(band, Integration::Slow).expect("signal");
            println!("  {band:?}: {c:.4}");
            assert!(c.abs() < 0.15, "{band:?} {c}");
        }
        let width = meter.width_db(Integration::Slow).expect("signal");
        let percent = meter.width_percent(Integration::Slow).expect("signal");
        assert!(width.abs() < 0.5 && (percent - 100.0).abs() < 6.0, "{width} {percent}");
    }

    #[test]
    fn one_channel_and_silence() {
        let mut meter = StereoMeter::new(48_000.0);
        let view = meter.view();
        let mut noise = Noise(3);
        let left = noise.block(48_000, 0.5);
        let silent = vec![0.0f32; 48_000];
        feed(&mut meter, &left, &silent, 100);
        for integration in Integration::ALL {
            for band in CorrelationBand::ALL {
                assert_eq!(meter.correlation(band, integration), None);
                assert_eq!(view.correlation(band, integration), None);
            }
            assert_eq!(meter.width_db(integration), Some(0.0));
            assert_eq!(meter.width_percent(integration), Some(100.0));
            assert_eq!(meter.balance_db(integration), Some(f64::INFINITY));
            assert_eq!(view.width_db(integration), Some(0.0));
        }
        assert!(!view.bass_out_of_phase());
        // Silence: nothing valid, nothing NaN.
        let mut meter = StereoMeter::new(48_000.0);
        let view = meter.view();
        feed(&mut meter, &silent, &silent, 64);
        for integration in Integration::ALL {
            for band in CorrelationBand::ALL {
                assert_eq!(view.correlation(band, integration), None);
                let raw = view.correlation[band.index()][integration.index()].load(Ordering::Relaxed);
                assert_eq!(raw, 0.0);
            }
            assert_eq!(view.width_db(integration), None);
            assert_eq!(view.balance_db(integration), None);
            assert!(!view.width_percent[integration.index()].load(Ordering::Relaxed).is_nan());
        }
    }

    #[test]
    fn bass_out_of_phase_per_band() {
        for rate in [44_100.0, 48_000.0, 96_000.0] {
            let mut meter = StereoMeter::new(rate);
            let view = meter.view();
            let frames = 4 * rate as usize;
            let bass = sine(rate, 50.0, 0.4, frames);
            let tone = sine(rate, 1_000.0, 0.4, frames);
            let left: Vec<f32> = bass.iter().zip(&tone).map(|(b, t)| b + t).collect();
            let right: Vec<f32> = bass.iter().zip(&tone).map(|(b, t)| t - b).collect();
            feed(&mut meter, &left, &right, 256);
            for integration in Integration::ALL {
                let low = meter.correlation(CorrelationBand::Low, integration).expect("low");
                let mid = meter.correlation(CorrelationBand::Mid, integration).expect("mid");
                let high = meter.correlation(CorrelationBand::High, integration).expect("high");
                println!("{rate} Hz {integration:?}: low {low:.4}, mid {mid:.4}, high {high:.4}");
                assert!(low < -0.9 && mid > 0.9 && high > 0.9);
            }
            assert!(meter.bass_out_of_phase() && view.bass_out_of_phase());
        }
    }

    #[test]
    fn width_of_mono_and_balance() {
        let mut meter = StereoMeter::new(48_000.0);
        let view = meter.view();
        let mut noise = Noise(4);
        let signal = noise.block(48_000, 0.5);
        feed(&mut meter, &signal, &signal, 480);
        for integration in Integration::ALL {
            assert_eq!(meter.width_db(integration), Some(f64::NEG_INFINITY));
            assert_eq!(meter.width_percent(integration), Some(0.0));
            assert_eq!(view.width_db(integration), Some(f32::NEG_INFINITY));
            assert_eq!(view.width_percent(integration), Some(0.0));
            assert_eq!(meter.balance_db(integration), Some(0.0));
        }
        // Right channel 6.02 dB lower → balance +6.02 dB after the slow integration has settled.
        let mut meter = StereoMeter::new(48_000.0);
        let long = noise.block(20 * 48_000, 0.5);
        let half: Vec<f32> = long.iter().map(|x| 0.5 * x).collect();
        feed(&mut meter, &long, &half, 480);
        let balance = meter.balance_db(Integration::Slow).expect("signal");
        assert!((balance - 20.0 * 2f64.log10()).abs() < 1e-6, "{balance}");
    }

    #[test]
    fn step_response_time_constants() {
        // L = R = DC for 10 τ (ρ = +1), then R inverted: with constant energies
        // ρ(t) = 2·e^(−t/τ) − 1, which has covered 63.2 % of the way to −1 when ρ = 1 − 2·(1 − 1/e).
        let rate = 48_000.0;
        let target = 1.0 - 2.0 * (1.0 - 1.0 / E);
        for integration in Integration::ALL {
            let tau_s = integration.time_constant_ms() * 1e-3;
            let mut meter = StereoMeter::new(rate);
            let settle = vec![0.5f32; (10.0 * tau_s * rate) as usize];
            meter.process(&settle, &settle);
            let negative = vec![-0.5f32; SUB_BLOCK_SAMPLES];
            let mut elapsed = 0;
            loop {
                meter.process(&settle[..SUB_BLOCK_SAMPLES], &negative);
                elapsed += SUB_BLOCK_SAMPLES;
                let c = meter.correlation(CorrelationBand::Full, integration).expect("signal");
                if c <= target {
                    break;
                }
                assert!(elapsed < (3.0 * tau_s * rate) as usize);
            }
            let measured = elapsed as f64 / rate;
            println!("{integration:?}: 63 % step response after {measured:.4} s (τ = {tau_s} s)");
            assert!((measured / tau_s - 1.0).abs() <= 0.1, "{measured}");
            assert!((measured - tau_s).abs() <= SUB_BLOCK_SAMPLES as f64 / rate);
        }
    }

    #[test]
    fn crossovers_match_prewarped_butterworth() {
        // |H_LP|² = 1/(1 + Ω⁴), |H_HP|² = Ω⁴/(1 + Ω⁴) with Ω = tan(πf/fs)/tan(πfc/fs) (BLT).
        let lp = |f: f64, fc: f64, fs: f64| {
            let w = (PI * f / fs).tan() / (PI * fc / fs).tan();
            1.0 / (1.0 + w.powi(4))
        };
        let hp = |f: f64, fc: f64, fs: f64| 1.0 - lp(f, fc, fs);
        for rate in [8_000.0, 48_000.0, 768_000.0] {
            let high_fc = HIGH_CROSSOVER_HZ.min(0.45 * rate);
            for f in [40.0, 150.0, 600.0, 2_000.0, 3_000.0, 10_000.0] {
                if f >= 0.45 * rate {
                    continue;
                }
                let mut meter = StereoMeter::new(rate);
                let frames = (12.0 * rate) as usize;
                let signal = sine(rate, f, 1.0, frames);
                feed(&mut meter, &signal, &signal, 4096);
                let full = meter.band_level_dbfs(CorrelationBand::Full, Integration::Fast);
                let measure = |band| meter.band_level_dbfs(band, Integration::Fast) - full;
                let expected = [
                    (CorrelationBand::Low, lp(f, LOW_CROSSOVER_HZ, rate)),
                    (CorrelationBand::Mid, hp(f, LOW_CROSSOVER_HZ, rate) * lp(f, high_fc, rate)),
                    (CorrelationBand::High, hp(f, LOW_CROSSOVER_HZ, rate) * hp(f, high_fc, rate)),
                ];
                for (band, gain) in expected {
                    let expected_db = 10.0 * gain.log10();
                    let got = measure(band);
                    if expected_db > -60.0 {
                        assert!(
                            (got - expected_db).abs() < 0.05,
                            "{rate} {f} {band:?}: {got} vs {expected_db}"
                        );
                    } else {
                        assert!(got < -55.0, "{rate} {f} {band:?}: {got}");
                    }
                }
                assert!((full + 3.0103).abs() < 0.05, "{full}");
            }
        }
    }

    #[test]
    fn block_size_invariance() {
        let rate = 48_000.0;
        let mut noise = Noise(5);
        let left = noise.block(2 * 48_000, 0.5);
        let right: Vec<f32> =
            left.iter().zip(noise.block(2 * 48_000, 0.3)).map(|(l, n)| 0.5 * l + n).collect();
        let mut random = Noise(6);
        let random_sizes: Vec<usize> =
            (0..20_000).map(|_| 1 + ((random.next() + 1.0) * 700.0) as usize).collect();
        let run = |sizes: &mut dyn Iterator<Item = usize>| {
            let mut meter = StereoMeter::new(rate);
            let mut scope = meter.take_vectorscope().expect("reader");
            let view = meter.view();
            meter.set_vectorscope_enabled(true);
            let mut points = Vec::new();
            let mut start = 0;
            while start < left.len() {
                let end = (start + sizes.next().unwrap_or(1)).min(left.len());
                meter.process(&left[start..end], &right[start..end]);
                while let Some(point) = scope.pop() {
                    points.push(point);
                }
                start = end;
            }
            let mut readings = Vec::new();
            for integration in Integration::ALL {
                for band in CorrelationBand::ALL {
                    readings.push(meter.correlation(band, integration));
                    readings.push(view.correlation(band, integration).map(f64::from));
                }
                readings.push(meter.width_db(integration));
                readings.push(meter.balance_db(integration));
                readings.push(view.width_percent(integration).map(f64::from));
            }
            (readings, points)
        };
        let reference = run(&mut std::iter::repeat(4096));
        assert_eq!(reference.1.len(), left.len() / 4);
        for block in [1, 7, 64] {
            assert!(run(&mut std::iter::repeat(block)) == reference, "block {block}");
        }
        assert!(run(&mut random_sizes.iter().copied()) == reference, "random blocks");
    }

    #[test]
    fn vectorscope_decimation_and_gating() {
        for (rate, decimation) in [(8_000.0, 1), (44_100.0, 4), (48_000.0, 4), (96_000.0, 8), (768_000.0, 64)]
        {
            let mut meter = StereoMeter::new(rate);
            assert_eq!(meter.vectorscope_decimation(), decimation, "{rate}");
            let mut scope = meter.take_vectorscope().expect("reader");
            assert!(meter.take_vectorscope().is_none());
            let left: Vec<f32> = (0..1000).map(|n| n as f32).collect();
            let right: Vec<f32> = left.iter().map(|x| -x).collect();
            meter.process(&left, &right);
            assert!(scope.is_empty(), "disabled meter produced points");
            meter.set_vectorscope_enabled(true);
            feed(&mut meter, &left, &right, 37);
            let mut points = vec![(0.0, 0.0); 2000];
            let count = scope.pop_into(&mut points);
            assert_eq!(count, 1000usize.div_ceil(decimation));
            for (index, &(l, r)) in points[..count].iter().enumerate() {
                assert_eq!((l, r), ((index * decimation) as f32, -((index * decimation) as f32)));
            }
        }
    }

    #[test]
    fn ring_drops_newest_when_full() {
        let (mut producer, mut reader) = point_ring(VECTORSCOPE_CAPACITY);
        assert_eq!(reader.capacity(), VECTORSCOPE_CAPACITY);
        for n in 0..VECTORSCOPE_CAPACITY + 100 {
            producer.push(n as f32, 0.5);
        }
        assert_eq!(producer.dropped(), 100);
        assert_eq!(reader.dropped(), 100);
        assert_eq!(reader.len(), VECTORSCOPE_CAPACITY);
        for n in 0..VECTORSCOPE_CAPACITY {
            assert_eq!(reader.pop(), Some((n as f32, 0.5)));
        }
        assert_eq!(reader.pop(), None);
        assert!(producer.push(1.0, 2.0));
        reader.clear();
        assert!(reader.is_empty());
    }

    #[test]
    fn ring_stress_two_threads() {
        const POINTS: u32 = 4_000_000;
        let (mut producer, mut reader) = point_ring(VECTORSCOPE_CAPACITY);
        let writer = std::thread::spawn(move || {
            let mut full = 0u64;
            for n in 0..POINTS {
                // Back-pressure models a reader that keeps up: retry instead of losing the point.
                while !producer.push(n as f32, -(n as f32)) {
                    full += 1;
                    std::thread::yield_now();
                }
            }
            full
        });
        let started = Instant::now();
        let mut expected = 0u32;
        while expected < POINTS {
            match reader.pop() {
                Some((l, r)) => {
                    assert_eq!(r, -l, "torn pair at {expected}");
                    assert_eq!(l, expected as f32, "lost or reordered point");
                    expected += 1;
                }
                None => std::thread::yield_now(),
            }
            assert!(started.elapsed().as_secs() < 120);
        }
        let full = writer.join().expect("writer");
        assert_eq!(reader.pop(), None);
        println!("ring stress: {POINTS} points in order, producer found the ring full {full} times");
        assert_eq!(reader.dropped(), full);
    }

    #[test]
    fn snaps_tiny_state_and_survives_non_finite_input() {
        let mut meter = StereoMeter::new(48_000.0);
        let mut noise = Noise(7);
        let signal = noise.block(48_000, 0.5);
        feed(&mut meter, &signal, &signal, 512);
        let silence = vec![0.0f32; 10 * 48_000];
        feed(&mut meter, &silence, &silence, 512);
        for svf in [meter.low_split, meter.high_split] {
            assert!(svf.ic1.iter().chain(&svf.ic2).all(|&s| s == 0.0), "{svf:?}");
        }
        for value in meter.integrated.iter().flatten().flatten() {
            assert!(*value == 0.0 || value.abs() >= ENERGY_SNAP);
            assert!(!value.is_subnormal());
        }
        let mut bad = signal.clone();
        bad[1000] = f32::NAN;
        bad[2000] = f32::INFINITY;
        feed(&mut meter, &bad, &signal, 333);
        for integration in Integration::ALL {
            for band in CorrelationBand::ALL {
                let c = meter.correlation(band, integration).expect("signal");
                assert!(c.is_finite() && c > 0.9, "{band:?} {c}");
            }
        }
    }

    #[test]
    fn all_rates_work() {
        for rate in
            [8_000.0, 11_025.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0, 384_000.0, 768_000.0, 1.0, f64::NAN]
        {
            let mut meter = StereoMeter::new(rate);
            meter.set_vectorscope_enabled(true);
            let frames = (meter.sample_rate_hz() * 0.5) as usize;
            let mut noise = Noise(8);
            let left = noise.block(frames, 0.5);
            let right = noise.block(frames, 0.5);
            feed(&mut meter, &left, &right, 999);
            assert!(meter.correlation(CorrelationBand::Full, Integration::Fast).is_some_and(f64::is_finite));
            assert!(meter.width_db(Integration::Fast).is_some_and(f64::is_finite));
        }
    }

    #[test]
    #[ignore = "benchmark; run with --release -- --ignored --nocapture"]
    fn bench_stereo_meter() {
        let rate = 48_000.0;
        let mut meter = StereoMeter::new(rate);
        let mut scope = meter.take_vectorscope().expect("reader");
        meter.set_vectorscope_enabled(true);
        let mut noise = Noise(9);
        let frames = 20 * 48_000;
        let left = noise.block(frames, 0.5);
        let right = noise.block(frames, 0.5);
        let mut sink = vec![(0.0, 0.0); VECTORSCOPE_CAPACITY];
        let start = Instant::now();
        for (l, r) in left.chunks(512).zip(right.chunks(512)) {
            meter.process(l, r);
            scope.pop_into(&mut sink);
        }
        let ns = start.elapsed().as_nanos() as f64 / frames as f64;
        println!("stereo meter (4 bands × 2 integrations, vectorscope on): {ns:.2} ns per stereo frame");
    }
}
