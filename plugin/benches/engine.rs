//! Speed of the engine and its meters, printed as figures (`cargo bench -p parity --bench engine`).
//!
//! - ns per stereo frame and × realtime for: the whole engine at Parity's defaults as it runs in
//!   a host with the editor closed (both loudness/true-peak meter points and the stereo meter),
//!   the same with the editor open (spectrum and vectorscope on), the **full chain** (6 active
//!   minimum-phase EQ bands, glue, 3-band multiband compressing, imager with mono maker, 8x
//!   limiter driven into 3–6 dB of reduction, 16-bit noise-shaped dither, both meter points), the
//!   same with the linear-phase EQ, the limiter alone, and one meter point alone;
//! - p99.9 of one `process()` call as a share of the buffer's duration at 32, 512 and 4096 frames;
//! - a soak: an hour of audio through the engine in random block sizes (1–4096 frames) with the
//!   editor's analysis on, meter resets and transport starts/stops, counting every heap
//!   allocation and free made inside `process()` (a counting global allocator). Must be zero.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parity::demo_signal::DemoSignal;
use parity::dsp::dither::{DitherMode, WordLength};
use parity::dsp::eq::EqMode;
use parity::dsp::limiter::{Limiter, LimiterSettings};
use parity::engine::{ChainSettings, Engine, ProcessSpec};
use parity::meters::MeterSet;

/// Counts heap allocations, reallocations and frees of the whole process. Not installed when the
/// `alloc-guard` feature is on: nice-plug's `assert_process_allocs` brings its own global allocator.
#[cfg_attr(feature = "alloc-guard", allow(dead_code))]
struct CountingAllocator;

/// Allocations + reallocations + frees so far.
static HEAP_OPERATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to the system allocator unchanged; the counter is a side effect.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HEAP_OPERATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HEAP_OPERATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HEAP_OPERATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(not(feature = "alloc-guard"))]
#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Simulated duration of the allocation soak, in seconds.
const SOAK_SECONDS: f64 = 3_600.0;

/// Seconds of audio per measurement.
const SECONDS: f64 = 30.0;

fn demo(rate: f64, seconds: f64) -> [Vec<f32>; 2] {
    let frames = (rate * seconds) as usize;
    let mut out = [vec![0.0f32; frames], vec![0.0f32; frames]];
    let [left, right] = &mut out;
    DemoSignal::new(rate).render(&mut [&mut left[..], &mut right[..]]);
    out
}

/// Parity's defaults with trim and output gain away from 0 dB.
fn defaults() -> ChainSettings {
    ChainSettings { input_trim_db: 1.0, output_gain_db: -1.0, ..ChainSettings::default() }
}

/// Every stage on and working: the benchmark's "full chain".
fn full_chain(eq_mode: EqMode) -> ChainSettings {
    let mut settings = defaults();
    let stages = &mut settings.stages;
    stages.dc_blocker.bypass = false;
    stages.eq = parity::dsp::eq::demo_settings();
    stages.eq.mode = eq_mode;
    stages.glue.bypass = false;
    stages.multiband.bypass = false;
    for band in &mut stages.multiband.bands {
        band.ratio = 2.0;
        band.threshold_db = -30.0;
    }
    stages.imager.width_percent = 120.0;
    stages.imager.mono_maker_enabled = true;
    stages.limiter.drive_db = 8.0;
    stages.dither.mode = DitherMode::NoiseShaped;
    stages.dither.word_length = WordLength::Bits16;
    settings
}

fn engine_with(rate: f64, block: usize, analysis: bool, settings: &ChainSettings) -> Engine {
    let mut engine = Engine::new();
    engine.set_settings(settings);
    engine
        .prepare(ProcessSpec { sample_rate_hz: rate, max_block_frames: block, channels: 2 })
        .expect("valid spec");
    engine.set_analysis_enabled(analysis);
    engine
}

fn engine(rate: f64, block: usize, analysis: bool) -> Engine {
    engine_with(rate, block, analysis, &defaults())
}

/// Runs `signal` through `process` in blocks of `block` frames; returns the per-call durations.
fn run(signal: &[Vec<f32>; 2], block: usize, mut process: impl FnMut(&mut [&mut [f32]])) -> Vec<Duration> {
    let mut left = signal[0].clone();
    let mut right = signal[1].clone();
    let mut times = Vec::with_capacity(left.len() / block + 1);
    for start in (0..left.len()).step_by(block) {
        let end = (start + block).min(left.len());
        let began = Instant::now();
        process(&mut [&mut left[start..end], &mut right[start..end]]);
        times.push(began.elapsed());
    }
    black_box((&left, &right));
    times
}

fn report(name: &str, rate: f64, frames: usize, times: &[Duration]) {
    let total: Duration = times.iter().sum();
    let ns_per_frame = total.as_secs_f64() * 1e9 / frames as f64;
    let realtime = frames as f64 / rate / total.as_secs_f64();
    println!("  {name:<44} {ns_per_frame:>8.1} ns/frame {realtime:>9.0}x realtime");
}

fn main() {
    println!("Parity engine benchmark (one core, release, no LTO)");
    for rate in [44_100.0, 48_000.0, 96_000.0] {
        let signal = demo(rate, SECONDS);
        let frames = signal[0].len();
        println!("{} kHz stereo:", rate / 1000.0);
        let mut closed = engine(rate, 512, false);
        report(
            "engine, editor closed (2 meter points + stereo)",
            rate,
            frames,
            &run(&signal, 512, |b| closed.process(b)),
        );
        let mut open = engine(rate, 512, true);
        report(
            "engine, editor open (+ spectrum, vectorscope)",
            rate,
            frames,
            &run(&signal, 512, |b| open.process(b)),
        );
        let mut full = engine_with(rate, 512, false, &full_chain(EqMode::MinimumPhase));
        report("full chain + meters, editor closed", rate, frames, &run(&signal, 512, |b| full.process(b)));
        let reduction = full.view().limiter_gain_reduction_db.load(Ordering::Relaxed);
        println!("    (limiter reduction at the end: {reduction:.1} dB)");
        let mut linear = engine_with(rate, 512, false, &full_chain(EqMode::LinearPhase));
        report("full chain with linear-phase EQ", rate, frames, &run(&signal, 512, |b| linear.process(b)));
        let settings = LimiterSettings { drive_db: 8.0, ..LimiterSettings::default() };
        let mut limiter = Limiter::new(rate, &settings);
        report(
            &format!("limiter alone ({}x detection, +8 dB drive)", limiter.oversampling_factor()),
            rate,
            frames,
            &run(&signal, 512, |b| {
                let [l, r] = b else { return };
                limiter.process(l, r);
            }),
        );
        let mut meters = MeterSet::new(rate, 2);
        report(
            "one meter point (loudness + true peak)",
            rate,
            frames,
            &run(&signal, 512, |b| {
                let [l, r] = b else { return };
                meters.process(&[&**l, &**r]);
            }),
        );
        let mut loudness = parity::meters::LoudnessMeter::new(rate, 2);
        report(
            "  of which loudness (K-weighting, M/S/I/LRA)",
            rate,
            frames,
            &run(&signal, 512, |b| {
                let [l, r] = b else { return };
                loudness.process(&[&**l, &**r]);
            }),
        );
        let mut true_peak = parity::meters::TruePeakMeter::new(rate, 2);
        report(
            &format!("  of which true peak ({}x)", true_peak.oversampling_factor()),
            rate,
            frames,
            &run(&signal, 512, |b| {
                let [l, r] = b else { return };
                true_peak.process(&[&**l, &**r]);
            }),
        );
    }

    println!("p99.9 of one process() call (48 kHz, full chain, editor open) vs the buffer's duration:");
    let rate = 48_000.0;
    let signal = demo(rate, 60.0);
    for block in [32usize, 512, 4096] {
        let mut engine = engine_with(rate, block, true, &full_chain(EqMode::MinimumPhase));
        let mut times = run(&signal, block, |b| engine.process(b));
        times.sort();
        let p999 = times[(times.len() as f64 * 0.999) as usize - 1];
        let buffer = Duration::from_secs_f64(block as f64 / rate);
        println!(
            "  {block:>5} frames: p99.9 {:>8.1} µs = {:>5.2} % of {:.1} µs (limit 10 %)",
            p999.as_secs_f64() * 1e6,
            100.0 * p999.as_secs_f64() / buffer.as_secs_f64(),
            buffer.as_secs_f64() * 1e6
        );
    }

    soak(rate);
    compare_with_alimiter();
}

/// Seconds of the file timed through Parity's limiter-only chain and ffmpeg's `alimiter`.
const FILE_SECONDS: f64 = 300.0;

/// Parity's chain with everything but the limiter bypassed (+8 dB drive, −1 dBTP ceiling).
fn limiter_only() -> ChainSettings {
    let mut settings = ChainSettings::default();
    let stages = &mut settings.stages;
    stages.dc_blocker.bypass = true;
    stages.eq.bypass = true;
    stages.glue.bypass = true;
    stages.multiband.bypass = true;
    stages.imager.bypass = true;
    stages.dither.bypass = true;
    stages.limiter.drive_db = 8.0;
    stages.limiter.ceiling_dbtp = -1.0;
    settings
}

/// Reads raw interleaved stereo f32 into planar channels.
fn read_interleaved(path: &std::path::Path) -> std::io::Result<[Vec<f32>; 2]> {
    let bytes = std::fs::read(path)?;
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for frame in bytes.chunks_exact(8) {
        left.push(f32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]));
        right.push(f32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]));
    }
    Ok([left, right])
}

/// Writes planar stereo as raw interleaved f32.
fn write_interleaved(path: &std::path::Path, signal: &[Vec<f32>; 2]) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(signal[0].len() * 8);
    for (l, r) in signal[0].iter().zip(&signal[1]) {
        bytes.extend_from_slice(&l.to_le_bytes());
        bytes.extend_from_slice(&r.to_le_bytes());
    }
    std::fs::write(path, bytes)
}

/// Highest true peak of a stereo signal, in dBTP (Parity's meter, flushed).
fn true_peak_dbtp(rate: f64, signal: &[Vec<f32>; 2]) -> f64 {
    let mut meter = parity::meters::TruePeakMeter::new(rate, 2);
    meter.process(&[&signal[0], &signal[1]]);
    let tail = vec![0.0f32; 1024];
    meter.process(&[&tail, &tail]);
    meter.max_true_peak_dbtp()
}

/// Times the same file (5 min of the demo mix, raw f32, 48 kHz stereo) through Parity's
/// limiter-only configuration (file read, engine with both meter points, file write) and
/// through ffmpeg's `alimiter` (same drive and ceiling as a sample-peak limit, automatic level
/// off), and reports both outputs' true peak. Skipped with a notice when ffmpeg is missing.
fn compare_with_alimiter() {
    let rate = 48_000.0;
    let dir = std::env::temp_dir().join(format!("parity-bench-{}", std::process::id()));
    if let Err(error) = std::fs::create_dir_all(&dir) {
        println!("limiter comparison skipped: {error}");
        return;
    }
    let (input, parity_out, ffmpeg_out) =
        (dir.join("demo.f32"), dir.join("parity.f32"), dir.join("alimiter.f32"));
    if let Err(error) = write_interleaved(&input, &demo(rate, FILE_SECONDS)) {
        println!("limiter comparison skipped: {error}");
        return;
    }
    println!("the same {FILE_SECONDS:.0} s file (48 kHz stereo f32), +8 dB drive, −1 dBTP ceiling:");

    let began = Instant::now();
    let result = read_interleaved(&input).and_then(|mut signal| {
        let mut engine = engine_with(rate, 512, false, &limiter_only());
        let [left, right] = &mut signal;
        for (l, r) in left.chunks_mut(512).zip(right.chunks_mut(512)) {
            engine.process(&mut [l, r]);
        }
        write_interleaved(&parity_out, &signal).map(|()| signal)
    });
    let parity_time = began.elapsed();
    match result {
        Ok(signal) => println!(
            "  Parity, limiter only (+ 2 meter points)  {:>7.2} s = {:>5.0}x realtime, output true peak {:+.2} dBTP",
            parity_time.as_secs_f64(),
            FILE_SECONDS / parity_time.as_secs_f64(),
            true_peak_dbtp(rate, &signal)
        ),
        Err(error) => println!("  Parity run failed: {error}"),
    }

    let limit = 10f64.powf(-1.0 / 20.0);
    let drive = 10f64.powf(8.0 / 20.0);
    let began = Instant::now();
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-threads",
            "1",
            "-f",
            "f32le",
            "-ar",
            "48000",
            "-ac",
            "2",
            "-i",
        ])
        .arg(&input)
        .args([
            "-af",
            &format!("alimiter=level_in={drive:.4}:limit={limit:.5}:attack=1.5:release=50:level=disabled"),
            "-f",
            "f32le",
        ])
        .arg(&ffmpeg_out)
        .status();
    let ffmpeg_time = began.elapsed();
    match status {
        Ok(status) if status.success() => match read_interleaved(&ffmpeg_out) {
            Ok(signal) => println!(
                "  ffmpeg alimiter (attack 1.5 ms)         {:>7.2} s = {:>5.0}x realtime, output true peak {:+.2} dBTP",
                ffmpeg_time.as_secs_f64(),
                FILE_SECONDS / ffmpeg_time.as_secs_f64(),
                true_peak_dbtp(rate, &signal)
            ),
            Err(error) => println!("  ffmpeg output unreadable: {error}"),
        },
        Ok(status) => println!("  ffmpeg alimiter failed ({status})"),
        Err(error) => println!("  ffmpeg not available ({error}): comparison skipped"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs [`SOAK_SECONDS`] of audio through an engine in random block sizes with the editor's
/// analysis on, resetting the meters and toggling the transport now and then, and counts heap
/// operations inside `process()`.
fn soak(rate: f64) {
    if cfg!(feature = "alloc-guard") {
        println!("allocation soak skipped: the alloc-guard feature replaces the counting allocator");
        return;
    }
    let signal = demo(rate, 60.0);
    let mut engine = engine(rate, 4096, true);
    engine
        .set_meter_settings(&parity::engine::MeterSettings { reset_on_play: true, pause_when_stopped: true });
    let view = engine.view();
    let (mut left, mut right) = (signal[0].clone(), signal[1].clone());
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let total = (SOAK_SECONDS * rate) as u64;
    let (mut done, mut position, mut calls, mut in_process) = (0u64, 0usize, 0u64, 0u64);
    let began = Instant::now();
    while done < total {
        let block = 1 + (random() % 4096) as usize;
        if position + block > left.len() {
            position = 0;
        }
        match random() % 2000 {
            0 => view.reset_meters_requested.store(true, Ordering::Relaxed),
            1 => engine.set_transport_playing(false),
            2 => engine.set_transport_playing(true),
            _ => {}
        }
        let before = HEAP_OPERATIONS.load(Ordering::Relaxed);
        engine.process(&mut [&mut left[position..position + block], &mut right[position..position + block]]);
        in_process += HEAP_OPERATIONS.load(Ordering::Relaxed) - before;
        position += block;
        done += block as u64;
        calls += 1;
    }
    println!(
        "allocation soak: {:.0} min of audio at {} kHz in {calls} random blocks ({:.1} s): {in_process} heap \
         operations inside process() {}",
        SOAK_SECONDS / 60.0,
        rate / 1000.0,
        began.elapsed().as_secs_f64(),
        if in_process == 0 { "(ok)" } else { "(FAIL: the audio thread allocated)" }
    );
    black_box((&left, &right));
    assert_eq!(in_process, 0, "the audio thread allocated or freed memory");
}
