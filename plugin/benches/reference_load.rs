//! Speed and memory of loading a reference track, printed as figures
//! (`cargo bench -p parity --features cli --bench reference_load`).
//!
//! Generates a 4-minute stereo 44.1 kHz 16-bit FLAC of the demo song looped (the acceptance
//! fixture), then times `load_reference` into a 48 kHz session (the target: under 1 s on two
//! cores) and, for comparison, into 44.1 kHz (no resampling), 96 kHz and a fractional
//! 47 999.5 Hz session. Prints each stage (decode, resample, analysis), the total, × realtime,
//! and the bytes the returned audio holds against the session-rate stereo `f32` size.

use std::path::{Path, PathBuf};
use std::time::Instant;

use parity::audio_file::{write_flac, AudioBuffer};
use parity::demo_song::render_demo_song;
use parity::reference::load::{load_reference, LoadTimings, LoadedReference};

/// Sample rate of the fixture, Hz.
const RATE_HZ: u32 = 44_100;

/// Length of the fixture, seconds.
const DURATION_S: f64 = 240.0;

/// Timed loads per session rate.
const RUNS: usize = 5;

/// A 4-minute stereo 16-bit FLAC of the demo song looped, in `dir`.
fn fixture(dir: &Path) -> PathBuf {
    let [left, right] = render_demo_song(f64::from(RATE_HZ));
    let frames = (DURATION_S * f64::from(RATE_HZ)) as usize;
    let looped = |channel: &[f32]| channel.iter().copied().cycle().take(frames).collect::<Vec<f32>>();
    let buffer = AudioBuffer { sample_rate_hz: RATE_HZ, channels: vec![looped(&left), looped(&right)] };
    let path = dir.join("four-minutes.flac");
    write_flac(&path, &buffer, 16).expect("write the bench fixture");
    path
}

/// The median of `values` (sorted in place).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Loads `path` into a session at `session_rate_hz` [`RUNS`] times and prints the figures.
fn bench(path: &Path, session_rate_hz: f64) {
    let mut runs: Vec<LoadTimings> = Vec::new();
    let mut last: Option<LoadedReference> = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let loaded = load_reference(path, session_rate_hz, &|| false).expect("load the fixture");
        let wall_s = started.elapsed().as_secs_f64();
        runs.push(LoadTimings { total_s: wall_s, ..loaded.timings });
        last = Some(loaded);
    }
    let Some(loaded) = last else { return };
    let stage = |pick: fn(&LoadTimings) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(pick).collect();
        let best = values.iter().copied().fold(f64::INFINITY, f64::min);
        (best, median(&mut values))
    };
    let (decode_best, decode_median) = stage(|t| t.decode_s);
    let (resample_best, resample_median) = stage(|t| t.resample_s);
    let (analysis_best, analysis_median) = stage(|t| t.analysis_s);
    let (total_best, total_median) = stage(|t| t.total_s);
    let audio = &loaded.audio;
    let expected_bytes = audio.frames() * 2 * std::mem::size_of::<f32>();
    println!("4-minute 44.1 kHz stereo FLAC -> {session_rate_hz} Hz session ({RUNS} runs, best / median):");
    println!("  decode    {decode_best:.3} / {decode_median:.3} s");
    println!("  resample  {resample_best:.3} / {resample_median:.3} s");
    println!("  analysis  {analysis_best:.3} / {analysis_median:.3} s");
    println!(
        "  total     {total_best:.3} / {total_median:.3} s  ({:.0}x / {:.0}x realtime)",
        DURATION_S / total_best,
        DURATION_S / total_median
    );
    println!(
        "  audio held {} bytes = session-rate stereo f32 {} bytes ({:+.2} %); {} frames",
        audio.bytes(),
        expected_bytes,
        100.0 * (audio.bytes() as f64 / expected_bytes as f64 - 1.0),
        audio.frames()
    );
    let a = &loaded.analysis;
    println!(
        "  I {:?} LUFS, LRA {:?} LU, TP {:?} dBTP, width {:?} %, correlation {:?}, {} short-term points",
        a.integrated_lufs,
        a.loudness_range_lu,
        a.true_peak_dbtp,
        a.width_percent,
        a.correlation,
        a.short_term_lufs.len()
    );
}

fn main() {
    let dir = std::env::temp_dir().join(format!("parity-bench-reference-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the bench folder");
    let started = Instant::now();
    let path = fixture(&dir);
    let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!(
        "fixture: {} ({:.1} MB), written in {:.1} s; {} cores available",
        path.display(),
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for session_rate_hz in [48_000.0, 44_100.0, 96_000.0, 47_999.5] {
        bench(&path, session_rate_hz);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
