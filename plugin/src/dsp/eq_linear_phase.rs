//! The linear-phase engine of the EQ ([`crate::dsp::eq`]): a symmetric FIR designed from the
//! bands' target magnitude, applied by uniformly partitioned overlap-save FFT convolution.
//!
//! # Kernel
//!
//! The kernel FFT size is `N = 2^round(log2(8192·fs/48 kHz))`, clamped to 1024–65 536 (8192 at
//! 44.1/48 kHz, 16 384 at 88.2/96 kHz, 32 768 at 176.4/192 kHz, 65 536 from 352.8 kHz; 1024 at
//! 8 kHz). The target magnitude — the product of the bands' analogue prototype magnitudes, the
//! very curve the minimum-phase sections approximate — is sampled on the `N/2 + 1` bins
//! `k·fs/N`, turned into a zero-phase impulse response by an inverse real FFT, centred and
//! multiplied by a Kaiser window ([`KAISER_BETA`]) of `N − 1` taps: a symmetric (type I) FIR
//! whose delay is exactly `N/2 − 1` samples. The bin spacing `fs/N` is 5.9 Hz at 48 kHz
//! (5.4 Hz at 44.1 kHz); the window smooths the response over a few bins, so features narrower
//! than about ten bins (≈ 60 Hz at 48 kHz: a 48 dB/oct cut at 20 Hz, a Q 10 bell at 100 Hz) are
//! rounded off, and the response within ≈ 1 bin of DC follows the window rather than the target.
//! Above that the FIR is within 0.1 dB of the target (see the tests).
//!
//! With mid/side bands two kernels are designed (mid path: stereo + mid bands; side path:
//! stereo + side bands) and the convolution runs on (M, S); otherwise one kernel on (L, R).
//!
//! # Convolution
//!
//! Uniformly partitioned overlap-save: [`PARTITIONS`] partitions of `B = N/16` samples, FFT
//! size `2B`. Input is buffered into blocks of `B`, so the latency is constant whatever the host
//! block size: `B + N/2 − 1` samples (4607 at 44.1/48 kHz, 9215 at 88.2/96 kHz, 18 431 at
//! 176.4/192 kHz). The spectra of the last 16 input blocks form a frequency-domain delay line,
//! each output block costs one forward FFT, 16 complex multiply-accumulates per bin and one
//! inverse FFT per channel.
//!
//! # Changes
//!
//! A new kernel is designed off the per-sample path, in steps of bounded cost taken at the
//! EQ's control ticks (≈ 2048 bins of target, or one inverse FFT, or four partition FFTs per
//! step; preallocated buffers and plans, no allocation). When it is complete, the next output
//! block is computed with both the old and the new kernel and crossfaded linearly over the
//! block (`B` samples, 10.7 ms at 48 kHz), so changes never click. Blocks and control ticks sit
//! at fixed positions in time, so any partition of the input gives the same output.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::bessel_i0;
#[cfg(target_arch = "x86_64")]
use super::biquad::Fused;
use super::biquad::{AnalogSection, MulAdd, Separate};
use super::eq::{
    dry_input, smoothstep, to_output, wet_input, BandTarget, BypassFade, EqPlacement, EQ_BANDS,
    MAX_PROTOTYPES, MAX_SEGMENT,
};

/// Kernel FFT size at 48 kHz (scaled with the rate).
pub const KERNEL_SIZE_AT_48K: usize = 8192;
/// Smallest kernel FFT size.
pub const MIN_KERNEL_SIZE: usize = 1024;
/// Largest kernel FFT size.
pub const MAX_KERNEL_SIZE: usize = 65_536;
/// Partitions of the kernel (block size = kernel size / partitions).
pub const PARTITIONS: usize = 16;
/// Kaiser window shape (side lobes ≈ −90 dB, main-lobe half width ≈ 4.5 bins).
pub const KAISER_BETA: f64 = 10.0;
/// Shortest interval between the starts of two kernel crossfades while settings keep changing
/// (automation): bounds the design work to a few percent of a core. Rounded to whole blocks.
pub const KERNEL_UPDATE_INTERVAL_MS: f64 = 40.0;
/// Target bins evaluated per design step.
const BINS_PER_STEP: usize = 2048;
/// Partition FFTs per design step.
const PARTITIONS_PER_STEP: usize = 4;

/// The kernel FFT size `N` at `sample_rate_hz`.
pub fn kernel_size(sample_rate_hz: f64) -> usize {
    let ideal = KERNEL_SIZE_AT_48K as f64 * sample_rate_hz / 48_000.0;
    let log2 = ideal.max(1.0).log2().round().clamp(0.0, 30.0) as u32;
    (1usize << log2).clamp(MIN_KERNEL_SIZE, MAX_KERNEL_SIZE)
}

/// Latency of the linear-phase EQ at `sample_rate_hz`: `N/16 + N/2 − 1`.
pub fn latency_samples(sample_rate_hz: f64) -> usize {
    let n = kernel_size(sample_rate_hz);
    n / PARTITIONS + n / 2 - 1
}

/// Spectra stored as separate real and imaginary arrays (so the multiply-accumulate is plain
/// vertical arithmetic).
#[derive(Debug, Clone)]
struct SplitSpectra {
    /// Real parts.
    re: Vec<f64>,
    /// Imaginary parts.
    im: Vec<f64>,
}

impl SplitSpectra {
    fn new(len: usize) -> Self {
        Self { re: vec![0.0; len], im: vec![0.0; len] }
    }

    fn clear(&mut self) {
        self.re.fill(0.0);
        self.im.fill(0.0);
    }

    /// Stores `spectrum · scale` at `offset`.
    fn store(&mut self, offset: usize, spectrum: &[Complex<f64>], scale: f64) {
        let end = offset + spectrum.len();
        if let (Some(re), Some(im)) = (self.re.get_mut(offset..end), self.im.get_mut(offset..end)) {
            for ((r, i), c) in re.iter_mut().zip(im.iter_mut()).zip(spectrum.iter()) {
                *r = c.re * scale;
                *i = c.im * scale;
            }
        }
    }
}

/// One designed kernel: the partition spectra of each path.
#[derive(Debug, Clone)]
struct KernelSet {
    /// Partition spectra per path (`PARTITIONS × (B + 1)`), scaled by `1/(2B)`.
    spectra: [SplitSpectra; 2],
    /// Runs on (M, S) with two paths; otherwise on (L, R) with path 0 for both channels.
    mid_side: bool,
}

/// Progress of a kernel design.
#[derive(Debug, Clone, Copy)]
struct DesignJob {
    /// Next step.
    step: usize,
    /// Steps in total.
    steps: usize,
    /// Mid/side design (two paths).
    mid_side: bool,
}

/// The FFT convolution engine (see the module doc).
pub(crate) struct LinearPhaseEngine {
    /// Sample rate.
    sample_rate_hz: f64,
    /// Kernel FFT size `N`.
    size: usize,
    /// Block (partition) size `B`.
    block: usize,
    /// `B + N/2 − 1`.
    latency: usize,
    /// Forward FFT of `2B` real samples.
    forward: Arc<dyn RealToComplex<f64>>,
    /// Inverse FFT of `2B` real samples.
    inverse: Arc<dyn ComplexToReal<f64>>,
    /// Inverse FFT of `N` real samples (design).
    design_inverse: Arc<dyn ComplexToReal<f64>>,
    /// Scratch of the forward FFT.
    forward_scratch: Vec<Complex<f64>>,
    /// Scratch of the inverse FFT.
    inverse_scratch: Vec<Complex<f64>>,
    /// Scratch of the design FFT.
    design_scratch: Vec<Complex<f64>>,
    /// Time-domain frame (`2B`).
    frame: Vec<f64>,
    /// Spectrum of one frame (`B + 1`).
    spectrum: Vec<Complex<f64>>,
    /// Accumulated product spectrum (`B + 1`).
    accumulator: Vec<Complex<f64>>,
    /// Accumulated product spectrum, split (`B + 1`).
    accumulator_split: SplitSpectra,
    /// Frequency-domain delay line per channel (`PARTITIONS × (B + 1)`).
    delay_line: [SplitSpectra; 2],
    /// Multiply-accumulate kernel variant.
    avx2_fma: bool,
    /// Partition index of the newest input spectrum.
    head: usize,
    /// Previous input block per channel (in the delay line's domain).
    previous: [Vec<f64>; 2],
    /// Input block being filled, per channel (L, R).
    input: [Vec<f64>; 2],
    /// Output block being emitted, per channel (L, R, wet).
    output: [Vec<f64>; 2],
    /// Old kernel's output during a crossfade (L, R).
    old_output: [Vec<f64>; 2],
    /// Samples of the current block done.
    fill: usize,
    /// Kernels: `active` and the spare one.
    kernels: [KernelSet; 2],
    /// Index of the kernel in use.
    active: usize,
    /// The spare kernel is complete and replaces the active one at the next block.
    pending: bool,
    /// Design in progress.
    job: Option<DesignJob>,
    /// Targets of the design in progress.
    job_targets: [BandTarget; EQ_BANDS],
    /// Latest targets.
    targets: [BandTarget; EQ_BANDS],
    /// Targets changed since the last design started.
    dirty: bool,
    /// Target squared magnitude on the `N/2 + 1` bins (design).
    magnitude: Vec<f64>,
    /// `0, 1, 2, …` as f64, one per bin (design).
    bin_numbers: Vec<f64>,
    /// Spectrum for the design FFT (`N/2 + 1`).
    design_spectrum: Vec<Complex<f64>>,
    /// Zero-phase impulse response (`N`).
    impulse: Vec<f64>,
    /// Kaiser window over the `N − 1` taps.
    window: Vec<f64>,
    /// Windowed kernel taps (`N`, last one zero).
    taps: Vec<f64>,
    /// Dry delay line per channel (`latency` samples).
    dry: [Vec<f32>; 2],
    /// Position in the dry delay line.
    dry_position: usize,
    /// The output block holds computed wet samples.
    wet_valid: bool,
    /// Bypass requested (latest).
    bypass_requested: bool,
    /// Blocks between two kernel switches ([`KERNEL_UPDATE_INTERVAL_MS`]).
    update_blocks: usize,
    /// Blocks since the last kernel switch.
    blocks_since_switch: usize,
}

impl std::fmt::Debug for LinearPhaseEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinearPhaseEngine")
            .field("sample_rate_hz", &self.sample_rate_hz)
            .field("size", &self.size)
            .field("block", &self.block)
            .field("latency", &self.latency)
            .finish_non_exhaustive()
    }
}

impl LinearPhaseEngine {
    /// Allocates everything for `sample_rate_hz` and designs the kernel for `targets`.
    pub fn new(sample_rate_hz: f64, targets: &[BandTarget; EQ_BANDS], bypassed: bool) -> Self {
        let size = kernel_size(sample_rate_hz);
        let block = size / PARTITIONS;
        let latency = block + size / 2 - 1;
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(2 * block);
        let inverse = planner.plan_fft_inverse(2 * block);
        let design_inverse = planner.plan_fft_inverse(size);
        let bins = block + 1;
        let taps = size - 1;
        let i0_beta = bessel_i0(KAISER_BETA);
        let centre = (taps - 1) as f64 / 2.0;
        let window = (0..taps)
            .map(|m| {
                let r = (m as f64 - centre) / centre;
                bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / i0_beta
            })
            .collect();
        let kernel = || KernelSet {
            spectra: [SplitSpectra::new(PARTITIONS * bins), SplitSpectra::new(PARTITIONS * bins)],
            mid_side: false,
        };
        let mut engine = Self {
            sample_rate_hz,
            size,
            block,
            latency,
            forward_scratch: forward.make_scratch_vec(),
            inverse_scratch: inverse.make_scratch_vec(),
            design_scratch: design_inverse.make_scratch_vec(),
            forward,
            inverse,
            design_inverse,
            frame: vec![0.0; 2 * block],
            spectrum: vec![Complex::new(0.0, 0.0); bins],
            accumulator: vec![Complex::new(0.0, 0.0); bins],
            accumulator_split: SplitSpectra::new(bins),
            delay_line: [SplitSpectra::new(PARTITIONS * bins), SplitSpectra::new(PARTITIONS * bins)],
            avx2_fma: detect_avx2_fma(),
            head: 0,
            previous: [vec![0.0; block], vec![0.0; block]],
            input: [vec![0.0; block], vec![0.0; block]],
            output: [vec![0.0; block], vec![0.0; block]],
            old_output: [vec![0.0; block], vec![0.0; block]],
            fill: 0,
            kernels: [kernel(), kernel()],
            active: 0,
            pending: false,
            job: None,
            job_targets: *targets,
            targets: *targets,
            dirty: false,
            magnitude: vec![0.0; size / 2 + 1],
            bin_numbers: (0..=size / 2).map(|k| k as f64).collect(),
            design_spectrum: vec![Complex::new(0.0, 0.0); size / 2 + 1],
            impulse: vec![0.0; size],
            window,
            taps: vec![0.0; size],
            dry: [vec![0.0; latency], vec![0.0; latency]],
            dry_position: 0,
            wet_valid: true,
            bypass_requested: bypassed,
            update_blocks: ((KERNEL_UPDATE_INTERVAL_MS * 1e-3 * sample_rate_hz / block as f64).round()
                as usize)
                .max(1),
            blocks_since_switch: 0,
        };
        engine.reset(targets, bypassed);
        engine
    }

    /// Latency in samples (constant).
    pub fn latency_samples(&self) -> usize {
        self.latency
    }

    /// Clears all audio state and designs the kernel for `targets` at once (no allocation).
    pub fn reset(&mut self, targets: &[BandTarget; EQ_BANDS], bypassed: bool) {
        for channel in 0..2 {
            self.delay_line[channel].clear();
            self.previous[channel].fill(0.0);
            self.input[channel].fill(0.0);
            self.output[channel].fill(0.0);
            self.old_output[channel].fill(0.0);
            self.dry[channel].fill(0.0);
        }
        self.head = 0;
        self.fill = 0;
        self.dry_position = 0;
        self.wet_valid = true;
        self.bypass_requested = bypassed;
        self.blocks_since_switch = usize::MAX / 2;
        self.targets = *targets;
        self.dirty = false;
        self.pending = false;
        self.active = 0;
        self.start_job(targets);
        while self.job.is_some() {
            self.design_step();
        }
        // Install directly: there is no old output to fade from.
        self.pending = false;
        self.active = 1;
    }

    /// Starts designing a kernel for `targets` into the spare slot.
    fn start_job(&mut self, targets: &[BandTarget; EQ_BANDS]) {
        self.job_targets = *targets;
        let mid_side = targets.iter().any(|t| !t.is_neutral() && t.placement != EqPlacement::Stereo);
        let paths = if mid_side { 2 } else { 1 };
        self.job = Some(DesignJob { step: 0, steps: paths * self.steps_per_path(), mid_side });
    }

    /// Design steps per path: target chunks, one inverse FFT, partition groups.
    fn steps_per_path(&self) -> usize {
        let bins = self.size / 2 + 1;
        bins.div_ceil(BINS_PER_STEP) + 1 + PARTITIONS.div_ceil(PARTITIONS_PER_STEP)
    }

    /// Performs one bounded design step; marks the spare kernel pending when done.
    fn design_step(&mut self) {
        let Some(mut job) = self.job else { return };
        let per_path = self.steps_per_path();
        let path = job.step / per_path;
        let local = job.step % per_path;
        let chunks = (self.size / 2 + 1).div_ceil(BINS_PER_STEP);
        let spare = 1 - self.active;
        if local < chunks {
            self.target_chunk(path, job.mid_side, local * BINS_PER_STEP);
        } else if local == chunks {
            self.impulse_response();
        } else {
            let first = (local - chunks - 1) * PARTITIONS_PER_STEP;
            for p in first..(first + PARTITIONS_PER_STEP).min(PARTITIONS) {
                self.partition_spectrum(spare, path, p);
            }
        }
        job.step += 1;
        if job.step >= job.steps {
            if let Some(kernel) = self.kernels.get_mut(spare) {
                kernel.mid_side = job.mid_side;
            }
            self.job = None;
            self.pending = true;
        } else {
            self.job = Some(job);
        }
    }

    /// Target squared magnitude of `path` on bins `first..first + BINS_PER_STEP`.
    fn target_chunk(&mut self, path: usize, mid_side: bool, first: usize) {
        let bins = self.magnitude.len();
        let last = (first + BINS_PER_STEP).min(bins);
        let Some(chunk) = self.magnitude.get_mut(first..last) else { return };
        chunk.fill(1.0);
        let signal = match (mid_side, path) {
            (false, _) => EqPlacement::Stereo,
            (true, 0) => EqPlacement::Mid,
            (true, _) => EqPlacement::Side,
        };
        let hz_per_bin = self.sample_rate_hz / self.size as f64;
        let Some(bin_numbers) = self.bin_numbers.get(first..last) else { return };
        for target in self.job_targets.iter().filter(|t| t.acts_on(signal) || !mid_side) {
            let prototypes = target.prototypes();
            let sections: &[AnalogSection] = prototypes.as_slice();
            debug_assert!(sections.len() <= MAX_PROTOTYPES);
            for section in sections {
                let ratio_per_bin = hz_per_bin / section.freq_hz;
                multiply_magnitude(self.avx2_fma, chunk, bin_numbers, ratio_per_bin, section);
            }
        }
    }

    /// Zero-phase impulse response of the target, centred and windowed into `taps`.
    fn impulse_response(&mut self) {
        for (s, m) in self.design_spectrum.iter_mut().zip(self.magnitude.iter()) {
            *s = Complex::new(m.max(0.0).sqrt(), 0.0);
        }
        if self
            .design_inverse
            .process_with_scratch(&mut self.design_spectrum, &mut self.impulse, &mut self.design_scratch)
            .is_err()
        {
            self.impulse.fill(0.0);
        }
        // taps[m] = w[m]·h[(m − delay) mod N]: the first `delay` taps take the tail of the
        // (even) impulse response, the rest its start.
        let n = self.size;
        let delay = n / 2 - 1;
        let scale = 1.0 / n as f64;
        self.taps.fill(0.0);
        let (before, after) = self.taps.split_at_mut(delay);
        let (window_before, window_after) = self.window.split_at(delay.min(self.window.len()));
        let tail = self.impulse.get(n - delay..).unwrap_or(&[]);
        for ((tap, w), h) in before.iter_mut().zip(window_before.iter()).zip(tail.iter()) {
            *tap = w * h * scale;
        }
        for ((tap, w), h) in after.iter_mut().zip(window_after.iter()).zip(self.impulse.iter()) {
            *tap = w * h * scale;
        }
    }

    /// Spectrum of partition `p` of the taps into kernel `slot`, path `path`.
    fn partition_spectrum(&mut self, slot: usize, path: usize, p: usize) {
        let b = self.block;
        self.frame.fill(0.0);
        if let (Some(dst), Some(src)) = (self.frame.get_mut(..b), self.taps.get(p * b..(p + 1) * b)) {
            dst.copy_from_slice(src);
        }
        if self
            .forward
            .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.forward_scratch)
            .is_err()
        {
            self.spectrum.fill(Complex::new(0.0, 0.0));
        }
        let scale = 1.0 / (2 * b) as f64;
        let bins = b + 1;
        let Some(kernel) = self.kernels.get_mut(slot) else { return };
        if let Some(spectra) = kernel.spectra.get_mut(path) {
            spectra.store(p * bins, &self.spectrum, scale);
        }
    }

    /// Control-rate work: block boundary, bypass gating, one design step.
    pub fn control_tick(
        &mut self,
        targets: &[BandTarget; EQ_BANDS],
        bypass: bool,
        changed: bool,
        fade: &mut BypassFade,
    ) {
        self.bypass_requested = bypass;
        if changed {
            self.targets = *targets;
            self.dirty = true;
        }
        if self.fill >= self.block {
            self.run_block(fade);
            self.fill = 0;
        }
        // The fade may only move towards the processed signal while it is being computed.
        fade.set_bypassed(bypass || !self.wet_valid);
        // A design takes about one block; start it so that the switch lands no earlier than
        // `update_blocks` after the previous one.
        if self.job.is_none()
            && !self.pending
            && self.dirty
            && self.blocks_since_switch + 1 >= self.update_blocks
        {
            self.dirty = false;
            let targets = self.targets;
            self.start_job(&targets);
        }
        if self.job.is_some() {
            self.design_step();
        }
    }

    /// Transforms the delay line and previous block between (L, R) and (M, S).
    fn change_domain(&mut self, to_mid_side: bool) {
        let [a, b] = &mut self.delay_line;
        let pairs = [(&mut a.re, &mut b.re), (&mut a.im, &mut b.im)];
        let [a, b] = &mut self.previous;
        for (a, b) in pairs.into_iter().chain([(a, b)]) {
            for (x, y) in a.iter_mut().zip(b.iter_mut()) {
                let (u, v) = (*x, *y);
                if to_mid_side {
                    *x = 0.5 * (u + v);
                    *y = 0.5 * (u - v);
                } else {
                    *x = u + v;
                    *y = u - v;
                }
            }
        }
    }

    /// Convolves the delay line with kernel `slot` into `out` (L, R).
    fn convolve(&mut self, slot: usize, out: &mut [Vec<f64>; 2]) {
        let bins = self.block + 1;
        let b = self.block;
        let mid_side = self.kernels.get(slot).is_some_and(|k| k.mid_side);
        for channel in 0..2 {
            let path = if mid_side { channel } else { 0 };
            let (Some(kernel), Some(line)) =
                (self.kernels.get(slot).and_then(|k| k.spectra.get(path)), self.delay_line.get(channel))
            else {
                continue;
            };
            let acc = &mut self.accumulator_split;
            acc.clear();
            for p in 0..PARTITIONS {
                let age = (self.head + PARTITIONS - p) % PARTITIONS;
                let (x, h) = (age * bins..(age + 1) * bins, p * bins..(p + 1) * bins);
                let (Some(xr), Some(xi), Some(hr), Some(hi)) =
                    (line.re.get(x.clone()), line.im.get(x), kernel.re.get(h.clone()), kernel.im.get(h))
                else {
                    continue;
                };
                multiply_accumulate(self.avx2_fma, &mut acc.re, &mut acc.im, xr, xi, hr, hi);
            }
            for ((c, r), i) in self.accumulator.iter_mut().zip(acc.re.iter()).zip(acc.im.iter()) {
                *c = Complex::new(*r, *i);
            }
            // The DC and Nyquist bins of a real signal's spectrum are real.
            if let Some(first) = self.accumulator.first_mut() {
                first.im = 0.0;
            }
            if let Some(last) = self.accumulator.last_mut() {
                last.im = 0.0;
            }
            if self
                .inverse
                .process_with_scratch(&mut self.accumulator, &mut self.frame, &mut self.inverse_scratch)
                .is_err()
            {
                self.frame.fill(0.0);
            }
            if let (Some(dst), Some(src)) = (out.get_mut(channel), self.frame.get(b..2 * b)) {
                dst.copy_from_slice(src);
            }
        }
        if mid_side {
            let [m, s] = out;
            for (m, s) in m.iter_mut().zip(s.iter_mut()) {
                let (mv, sv) = (*m, *s);
                *m = mv + sv;
                *s = mv - sv;
            }
        }
    }

    /// A full input block is in: push its spectrum, compute the next output block.
    fn run_block(&mut self, fade: &BypassFade) {
        let b = self.block;
        let bins = b + 1;
        let active_mid_side = self.kernels.get(self.active).is_some_and(|k| k.mid_side);
        // New input block in the delay line's domain.
        self.head = (self.head + 1) % PARTITIONS;
        for channel in 0..2 {
            // frame = [previous block | new block], the new block in the delay line's domain.
            let split = b.min(self.frame.len());
            let (older, newer) = self.frame.split_at_mut(split);
            let [left, right] = &self.input;
            let Some(previous) = self.previous.get_mut(channel) else { continue };
            for ((((old, new), prev), &l), &r) in older
                .iter_mut()
                .zip(newer.iter_mut())
                .zip(previous.iter_mut())
                .zip(left.iter())
                .zip(right.iter())
            {
                let x = match (active_mid_side, channel) {
                    (true, 0) => 0.5 * (l + r),
                    (true, _) => 0.5 * (l - r),
                    (false, 0) => l,
                    (false, _) => r,
                };
                *old = *prev;
                *new = x;
                *prev = x;
            }
            if self
                .forward
                .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.forward_scratch)
                .is_err()
            {
                self.spectrum.fill(Complex::new(0.0, 0.0));
            }
            self.delay_line[channel].store(self.head * bins, &self.spectrum, 1.0);
        }
        self.blocks_since_switch = self.blocks_since_switch.saturating_add(1);
        let compute = !(self.bypass_requested && fade.is_fully_dry());
        let spare = 1 - self.active;
        let switch_domain = |engine: &mut Self| {
            let new_mid_side = engine.kernels.get(spare).is_some_and(|k| k.mid_side);
            if new_mid_side != active_mid_side {
                engine.change_domain(new_mid_side);
            }
        };
        if !compute {
            if self.pending {
                switch_domain(self);
                self.active = spare;
                self.pending = false;
                self.blocks_since_switch = 0;
            }
            self.wet_valid = false;
            return;
        }
        let mut output = std::mem::take(&mut self.output);
        if self.pending {
            let mut old = std::mem::take(&mut self.old_output);
            self.convolve(self.active, &mut old);
            switch_domain(self);
            self.convolve(spare, &mut output);
            // Crossfade over the block, old → new (smoothstep shape: no kink in the envelope).
            let inv = 1.0 / b as f64;
            for (new, old) in output.iter_mut().zip(old.iter()) {
                for (i, (n, o)) in new.iter_mut().zip(old.iter()).enumerate() {
                    let t = smoothstep((i + 1) as f64 * inv);
                    *n = *o + (*n - *o) * t;
                }
            }
            self.old_output = old;
            self.active = spare;
            self.pending = false;
            self.blocks_since_switch = 0;
        } else {
            self.convolve(self.active, &mut output);
        }
        self.output = output;
        self.wet_valid = true;
    }

    /// Processes one segment (never crossing a block boundary, which is a control tick).
    pub fn process(&mut self, fade: &mut BypassFade, left: &mut [f32], right: &mut [f32]) {
        let fill = self.fill.min(self.block);
        let frames = left.len().min(right.len()).min(self.block - fill).min(MAX_SEGMENT);
        let (left, right) = (&mut left[..frames], &mut right[..frames]);
        let mut dry = [[0.0f32; MAX_SEGMENT]; 2];
        let position = self.dry_position;
        for (channel, x) in [&mut *left, &mut *right].into_iter().enumerate() {
            // Dry: the input delayed by the latency (ring buffer, in at most two pieces).
            if let (Some(line), Some(delayed)) = (self.dry.get_mut(channel), dry.get_mut(channel)) {
                let first = (line.len() - position).min(frames);
                let (head, tail) = x.split_at(first);
                let (out_head, out_tail) = delayed[..frames].split_at_mut(first);
                if let Some(slots) = line.get_mut(position..position + first) {
                    for ((slot, out), input) in slots.iter_mut().zip(out_head.iter_mut()).zip(head.iter()) {
                        *out = *slot;
                        *slot = dry_input(*input);
                    }
                }
                if let Some(slots) = line.get_mut(..tail.len()) {
                    for ((slot, out), input) in slots.iter_mut().zip(out_tail.iter_mut()).zip(tail.iter()) {
                        *out = *slot;
                        *slot = dry_input(*input);
                    }
                }
            }
            // Wet: into the input block, out of the output block.
            if let (Some(input), Some(output)) = (
                self.input.get_mut(channel).and_then(|b| b.get_mut(fill..fill + frames)),
                self.output.get(channel).and_then(|b| b.get(fill..fill + frames)),
            ) {
                for ((sample, slot), out) in x.iter_mut().zip(input.iter_mut()).zip(output.iter()) {
                    *slot = wet_input(*sample);
                    *sample = to_output(*out);
                }
            }
        }
        let latency = self.latency.max(1);
        self.dry_position = (position + frames) % latency;
        self.fill = fill + frames;
        let [dl, dr] = &dry;
        if fade.is_fully_dry() {
            left.copy_from_slice(&dl[..frames]);
            right.copy_from_slice(&dr[..frames]);
        } else {
            fade.mix_stereo([left, right], [&dl[..frames], &dr[..frames]]);
        }
    }
}

/// True when the CPU has AVX2 and FMA.
fn detect_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `acc += x·h` over split complex arrays, with the AVX2 + FMA build when `avx2_fma`.
fn multiply_accumulate(
    avx2_fma: bool,
    acc_re: &mut [f64],
    acc_im: &mut [f64],
    xr: &[f64],
    xi: &[f64],
    hr: &[f64],
    hi: &[f64],
) {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma {
        // SAFETY: `avx2_fma` is only set after run-time detection of AVX2 and FMA.
        unsafe { multiply_accumulate_avx2(acc_re, acc_im, xr, xi, hr, hi) };
        return;
    }
    let _ = avx2_fma;
    multiply_accumulate_generic::<Separate>(acc_re, acc_im, xr, xi, hr, hi);
}

/// [`multiply_accumulate_generic`] compiled for AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn multiply_accumulate_avx2(
    acc_re: &mut [f64],
    acc_im: &mut [f64],
    xr: &[f64],
    xi: &[f64],
    hr: &[f64],
    hi: &[f64],
) {
    multiply_accumulate_generic::<Fused>(acc_re, acc_im, xr, xi, hr, hi);
}

/// `acc += x·h` over split complex arrays (vectorisable).
#[inline(always)]
fn multiply_accumulate_generic<M: MulAdd>(
    acc_re: &mut [f64],
    acc_im: &mut [f64],
    xr: &[f64],
    xi: &[f64],
    hr: &[f64],
    hi: &[f64],
) {
    for (((((ar, ai), &xr), &xi), &hr), &hi) in
        acc_re.iter_mut().zip(acc_im.iter_mut()).zip(xr.iter()).zip(xi.iter()).zip(hr.iter()).zip(hi.iter())
    {
        *ar = M::mul_add(xr, hr, M::mul_add(-xi, hi, *ar));
        *ai = M::mul_add(xr, hi, M::mul_add(xi, hr, *ai));
    }
}

/// `magnitude[k] *= |H(j·x_k)|²` with `x_k = bin_numbers[k]·ratio_per_bin`, with the AVX2 + FMA
/// build when `avx2_fma`.
fn multiply_magnitude(
    avx2_fma: bool,
    magnitude: &mut [f64],
    bin_numbers: &[f64],
    ratio_per_bin: f64,
    section: &AnalogSection,
) {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma {
        // SAFETY: `avx2_fma` is only set after run-time detection of AVX2 and FMA.
        unsafe { multiply_magnitude_avx2(magnitude, bin_numbers, ratio_per_bin, section) };
        return;
    }
    let _ = avx2_fma;
    multiply_magnitude_generic(magnitude, bin_numbers, ratio_per_bin, section);
}

/// [`multiply_magnitude_generic`] compiled for AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn multiply_magnitude_avx2(
    magnitude: &mut [f64],
    bin_numbers: &[f64],
    ratio_per_bin: f64,
    section: &AnalogSection,
) {
    multiply_magnitude_generic(magnitude, bin_numbers, ratio_per_bin, section);
}

/// `magnitude[k] *= |H(j·x_k)|²` (vectorisable form of
/// [`AnalogSection::magnitude_squared_at_ratio`]).
#[inline(always)]
fn multiply_magnitude_generic(
    magnitude: &mut [f64],
    bin_numbers: &[f64],
    ratio_per_bin: f64,
    section: &AnalogSection,
) {
    let [n0, n1, n2] = section.numerator;
    let [d0, d1, d2] = section.denominator;
    let (n1_sq, d1_sq) = (n1 * n1, d1 * d1);
    for (m, &k) in magnitude.iter_mut().zip(bin_numbers.iter()) {
        let x = k * ratio_per_bin;
        let x2 = x * x;
        let nr = n0 - n2 * x2;
        let dr = d0 - d2 * x2;
        *m *= (nr * nr + n1_sq * x2) / (dr * dr + d1_sq * x2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::eq::{band_targets, demo_settings};

    #[test]
    fn kernel_sizes_and_latencies_follow_the_rate() {
        for (fs, size, latency) in [
            (8_000.0, 1024, 575),
            (44_100.0, 8192, 4607),
            (48_000.0, 8192, 4607),
            (96_000.0, 16_384, 9215),
            (192_000.0, 32_768, 18_431),
            (768_000.0, 65_536, 36_863),
        ] {
            assert_eq!(kernel_size(fs), size, "{fs}");
            assert_eq!(latency_samples(fs), latency, "{fs}");
            println!(
                "{fs} Hz: kernel {size} ({} taps), bin spacing {:.2} Hz, block {}, latency {latency} samples ({:.1} ms)",
                size - 1,
                fs / size as f64,
                size / PARTITIONS,
                latency as f64 / fs * 1e3
            );
        }
    }

    #[test]
    fn design_steps_are_bounded() {
        let fs = 48_000.0;
        let targets = band_targets(&demo_settings().sanitized(), fs);
        let mut engine = LinearPhaseEngine::new(fs, &targets, false);
        engine.start_job(&targets);
        let (mut steps, mut worst, mut total) = (0, 0.0f64, 0.0);
        while engine.job.is_some() {
            let start = std::time::Instant::now();
            engine.design_step();
            let t = start.elapsed().as_secs_f64() * 1e6;
            worst = worst.max(t);
            total += t;
            steps += 1;
        }
        assert!(engine.pending);
        println!("linear-phase kernel design (demo, mid/side): {steps} steps, {total:.0} µs in total, longest step {worst:.0} µs");
        // Each step is one of a few kinds of bounded work; all of them fit in a control tick.
        assert_eq!(steps, 2 * engine.steps_per_path());
    }
}
