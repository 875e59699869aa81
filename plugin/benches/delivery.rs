//! Costs of issue 8's additions: the translation preview's filters on the audio thread (ns per
//! stereo frame at 48 kHz in 64-frame blocks, every model, the low-level fits, and the longest
//! cascade), the listening clock's per-block update, the signal inspector per frame, and one
//! evaluation of the 14 readiness checks (editor thread, every 250 ms). Run with
//! `cargo bench -p parity --features cli --bench delivery`.

use std::hint::black_box;
use std::time::Instant;

use parity::delivery::checks::evaluate;
use parity::delivery::{DeliveryTarget, FormatInfo, Measurements};
use parity::listening::ListeningClock;
use parity::meters::SignalInspector;
use parity::monitor::translation::{LowLevel, Translation, TranslationFilter};
use parity::offline::analysis::analyze;

/// Stereo noise-like test signal (xorshift), 2 s at `fs`.
fn signal(fs: f64) -> (Vec<f32>, Vec<f32>) {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let n = (2.0 * fs) as usize;
    ((0..n).map(|_| next()).collect(), (0..n).map(|_| next()).collect())
}

/// Best of 10 runs of `f` over the signal, ns per frame.
fn best_ns_per_frame(frames: usize, mut f: impl FnMut()) -> f64 {
    (0..10)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_nanos() as f64 / frames as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let fs = 48_000.0;
    let (left, right) = signal(fs);
    let frames = left.len();
    let mut cases: Vec<(Translation, LowLevel)> =
        Translation::ALL[1..].iter().map(|&m| (m, LowLevel::Off)).collect();
    cases.extend(LowLevel::ALL[1..].iter().map(|&l| (Translation::Off, l)));
    cases.push((Translation::Car, LowLevel::Phon40));
    for (model, low_level) in cases {
        let mut filter = TranslationFilter::new(fs);
        filter.set(model, low_level);
        let (mut l, mut r) = (left.clone(), right.clone());
        let ns = best_ns_per_frame(frames, || {
            l.copy_from_slice(&left);
            r.copy_from_slice(&right);
            for (bl, br) in l.chunks_mut(64).zip(r.chunks_mut(64)) {
                filter.process(bl, br);
            }
            black_box((&l, &r));
        });
        let percent = ns * fs / 1e9 * 100.0;
        println!(
            "translation {:<16} {:<8} {ns:6.1} ns/stereo frame ({percent:.2} % of one core at 48 kHz)",
            model.name(),
            low_level.name()
        );
    }

    let clock = ListeningClock::default();
    let runs = 1_000_000;
    let start = Instant::now();
    for i in 0..runs {
        clock.record(black_box(0.01 + (i % 7) as f64 * 1e-4), black_box(64.0 / fs));
    }
    println!(
        "listening clock record          {:6.1} ns per 64-frame block",
        start.elapsed().as_nanos() as f64 / runs as f64
    );

    let mut inspector = SignalInspector::new(fs, 2);
    let ns = best_ns_per_frame(frames, || {
        for (bl, br) in left.chunks(64).zip(right.chunks(64)) {
            inspector.process(&[bl, br]);
        }
    });
    println!("signal inspector                {ns:6.2} ns/stereo frame");

    let analysis = analyze(&[&left, &right], fs);
    let measurements = Measurements::from_analysis(&analysis, FormatInfo::default());
    let target = DeliveryTarget::by_id("spotify", -14.0, -1.0);
    let runs = 20_000;
    let start = Instant::now();
    for _ in 0..runs {
        black_box(evaluate(black_box(&measurements), &target, None, None));
    }
    println!(
        "evaluate (14 checks)            {:6.1} µs per call",
        start.elapsed().as_nanos() as f64 / runs as f64 / 1e3
    );
}
