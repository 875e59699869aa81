//! Speed of the engine and its meters, printed as figures (`cargo bench -p parity --bench engine`).
//!
//! - ns per stereo frame and × realtime for: the whole engine as it runs in a host with the
//!   editor closed (both loudness/true-peak meter points and the stereo meter), the same with the
//!   editor open (spectrum and vectorscope on), and one loudness + true-peak meter point alone;
//! - p99.9 of one `process()` call as a share of the buffer's duration at 32, 512 and 4096 frames.

use std::hint::black_box;
use std::time::{Duration, Instant};

use parity::demo_signal::DemoSignal;
use parity::engine::{ChainSettings, Engine, ProcessSpec};
use parity::meters::MeterSet;

/// Seconds of audio per measurement.
const SECONDS: f64 = 30.0;

fn demo(rate: f64, seconds: f64) -> [Vec<f32>; 2] {
    let frames = (rate * seconds) as usize;
    let mut out = [vec![0.0f32; frames], vec![0.0f32; frames]];
    let [left, right] = &mut out;
    DemoSignal::new(rate).render(&mut [&mut left[..], &mut right[..]]);
    out
}

fn engine(rate: f64, block: usize, analysis: bool) -> Engine {
    let mut engine = Engine::new();
    engine
        .prepare(ProcessSpec { sample_rate_hz: rate, max_block_frames: block, channels: 2 })
        .expect("valid spec");
    engine.set_settings(&ChainSettings { input_trim_db: 1.0, output_gain_db: -1.0, bypass: false });
    engine.set_analysis_enabled(analysis);
    engine
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
    }

    println!("p99.9 of one process() call (48 kHz, editor open) vs the buffer's duration:");
    let rate = 48_000.0;
    let signal = demo(rate, 60.0);
    for block in [32usize, 512, 4096] {
        let mut engine = engine(rate, block, true);
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
}
