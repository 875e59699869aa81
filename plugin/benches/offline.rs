//! Speed of the offline tool's work, printed as figures
//! (`cargo bench -p parity --features cli --bench offline`).
//!
//! - decode + analyse a 4-minute stereo 44.1 kHz 16-bit WAV on one core (× realtime per core;
//!   the target is ≥ 300×), split into decode and analysis;
//! - an album of 12 such files analysed with rayon across the cores as `parity analyze --album`
//!   does: wall-clock time, the speed-up over one core and the cores in use;
//! - a render of the same file through the full default chain, and mastering it to −14 LUFS
//!   (learning pass + renders).

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use parity::audio_file::{read_audio_file, write_wav, AudioBuffer, SampleFormat};
use parity::demo_song::render_demo_song;
use parity::engine::ChainSettings;
use parity::meters::MeterSet;
use parity::offline::analysis::analyze;
use parity::offline::render::{master_to_target, render};

/// Sample rate of the bench files, Hz.
const RATE_HZ: u32 = 44_100;

/// Length of the bench file, seconds.
const DURATION_S: f64 = 240.0;

/// A 4-minute stereo 16-bit WAV of the demo song looped, in a temporary folder.
fn bench_file(dir: &Path) -> PathBuf {
    let [left, right] = render_demo_song(f64::from(RATE_HZ));
    let frames = (DURATION_S * f64::from(RATE_HZ)) as usize;
    let looped = |channel: &[f32]| channel.iter().copied().cycle().take(frames).collect::<Vec<f32>>();
    let buffer = AudioBuffer { sample_rate_hz: RATE_HZ, channels: vec![looped(&left), looped(&right)] };
    let path = dir.join("four-minutes.wav");
    write_wav(&path, &buffer, SampleFormat::Int16).expect("write the bench file");
    path
}

/// Decodes and analyses a file; returns (decode s, analysis s).
fn decode_and_analyse(path: &Path) -> (f64, f64) {
    let started = Instant::now();
    let buffer = read_audio_file(path).expect("read the bench file");
    let decoded = started.elapsed().as_secs_f64();
    let slices: Vec<&[f32]> = buffer.channels.iter().map(Vec::as_slice).collect();
    let analysis = analyze(&slices, f64::from(buffer.sample_rate_hz));
    std::hint::black_box(&analysis);
    (decoded, started.elapsed().as_secs_f64() - decoded)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("parity-bench-offline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the bench folder");
    let path = bench_file(&dir);

    // One core: best of three.
    let runs: Vec<(f64, f64)> = (0..3).map(|_| decode_and_analyse(&path)).collect();
    let (decode_s, analysis_s) =
        runs.iter().copied().min_by(|a, b| (a.0 + a.1).total_cmp(&(b.0 + b.1))).expect("three runs");
    let total_s = decode_s + analysis_s;
    println!(
        "analyze, one core, 4 min stereo 44.1 kHz 16-bit: {total_s:.3} s = {:.0}x realtime \
         (decode {decode_s:.3} s, analysis {analysis_s:.3} s = {:.0}x)",
        DURATION_S / total_s,
        DURATION_S / analysis_s
    );

    // Of which the plugin's own meters (loudness + 8x true peak + level), as the analysis feeds them.
    let buffer = read_audio_file(&path).expect("read the bench file");
    let started = Instant::now();
    let mut meters = MeterSet::new(f64::from(RATE_HZ), 2);
    let chunk = RATE_HZ as usize / 20;
    for (left, right) in buffer.channels[0].chunks(chunk).zip(buffer.channels[1].chunks(chunk)) {
        meters.process(&[left, right]);
    }
    std::hint::black_box(meters.loudness.integrated_lufs());
    let meters_s = started.elapsed().as_secs_f64();
    println!(
        "  of which the plugin's meters (MeterSet: loudness, 8x true peak, level): {meters_s:.3} s = {:.0} ns/frame",
        meters_s * 1e9 / (DURATION_S * f64::from(RATE_HZ))
    );

    // An album of 12 files across the cores.
    let album: Vec<PathBuf> = (0..12).map(|_| path.clone()).collect();
    let cores = rayon::current_num_threads();
    let started = Instant::now();
    let busy_s: f64 = album
        .par_iter()
        .map(|p| {
            let (d, a) = decode_and_analyse(p);
            d + a
        })
        .sum();
    let wall_s = started.elapsed().as_secs_f64();
    println!(
        "album of 12 x 4 min on {cores} threads: {wall_s:.2} s wall, {busy_s:.2} s of work \
         (speed-up {:.2}x over one core, {:.0}x realtime)",
        busy_s / wall_s,
        12.0 * DURATION_S / wall_s
    );

    // Renders through the default chain and mastering to −14 LUFS.
    let buffer = read_audio_file(&path).expect("read the bench file");
    let slices: Vec<&[f32]> = buffer.channels.iter().map(Vec::as_slice).collect();
    let rate = f64::from(RATE_HZ);
    let started = Instant::now();
    std::hint::black_box(render(&slices, rate, &ChainSettings::default()).expect("render"));
    let render_s = started.elapsed().as_secs_f64();
    println!("render, default chain: {render_s:.2} s = {:.0}x realtime", DURATION_S / render_s);
    let started = Instant::now();
    let mastered = master_to_target(&slices, rate, &ChainSettings::default(), -14.0).expect("master");
    let master_s = started.elapsed().as_secs_f64();
    println!(
        "master to -14 LUFS: {master_s:.2} s ({} passes) = {:.0}x realtime, reached {:.2} LUFS",
        mastered.passes,
        DURATION_S / master_s,
        mastered.integrated_lufs.unwrap_or(f64::NAN)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
