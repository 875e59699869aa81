//! Speed of the platform-preview limiter: ns per stereo frame at 48 kHz in 64-frame blocks at the
//! default settings (Spotify Loud: −1 dB, 5 ms, 100 ms) on a signal limited by ~6 dB, and on one
//! that stays under the threshold, plus the p99.9 of one 32-frame call; and the cost of one
//! `penalty_table` call (GUI thread). Run with `cargo bench -p parity --bench platform_preview`.

use parity::monitor::platform::penalty_table;
use parity::monitor::platform_limiter::{PlatformLimiter, PlatformLimiterSettings};
use std::hint::black_box;
use std::time::Instant;

/// A stereo test signal: two detuned tones with a slow level swing, peak `level`.
fn signal(fs: f64, seconds: f64, level: f32) -> (Vec<f32>, Vec<f32>) {
    let n = (fs * seconds) as usize;
    let tau = std::f64::consts::TAU;
    let left = (0..n)
        .map(|i| {
            let t = i as f64 / fs;
            let swing = 0.75 + 0.25 * (tau * 0.5 * t).sin();
            (f64::from(level) * swing * (0.6 * (tau * 110.0 * t).sin() + 0.4 * (tau * 1_760.0 * t).sin()))
                as f32
        })
        .collect::<Vec<f32>>();
    let right =
        left.iter().enumerate().map(|(i, x)| x * if i.is_multiple_of(2) { 0.9 } else { 0.95 }).collect();
    (left, right)
}

fn bench(name: &str, fs: f64, level: f32) {
    let (left, right) = signal(fs, 2.0, level);
    let settings = PlatformLimiterSettings::default();
    let mut limiter = PlatformLimiter::new(fs, &settings);
    let (mut l, mut r) = (left.clone(), right.clone());
    let mut best_ns_per_frame = f64::INFINITY;
    for _ in 0..20 {
        l.copy_from_slice(&left);
        r.copy_from_slice(&right);
        let start = Instant::now();
        for (bl, br) in l.chunks_mut(64).zip(r.chunks_mut(64)) {
            limiter.set_settings(&settings);
            limiter.process(bl, br);
        }
        let ns = start.elapsed().as_nanos() as f64 / left.len() as f64;
        best_ns_per_frame = best_ns_per_frame.min(ns);
        black_box((&l, &r));
    }
    let mut calls: Vec<u128> = Vec::with_capacity(left.len() / 32);
    l.copy_from_slice(&left);
    r.copy_from_slice(&right);
    for (bl, br) in l.chunks_mut(32).zip(r.chunks_mut(32)) {
        let start = Instant::now();
        limiter.process(bl, br);
        calls.push(start.elapsed().as_nanos());
    }
    calls.sort_unstable();
    let p999 = calls[(calls.len() * 999 / 1000).min(calls.len() - 1)];
    println!(
        "{name:<34} {best_ns_per_frame:6.2} ns/stereo frame (64-frame blocks), p99.9 of a 32-frame call {p999} ns, \
         gain reduction at end {:.1} dB",
        limiter.gain_reduction_db()
    );
}

fn main() {
    bench("default, limiting ~6 dB", 48_000.0, 1.8);
    bench("default, under the threshold", 48_000.0, 0.5);
    let start = Instant::now();
    let runs = 10_000;
    for i in 0..runs {
        black_box(penalty_table(black_box(-9.0 - (i % 10) as f32), -0.3));
    }
    println!(
        "penalty_table (11 platforms)      {:6.0} ns per call",
        start.elapsed().as_nanos() as f64 / runs as f64
    );
}
