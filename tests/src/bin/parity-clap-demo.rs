//! The README's demo: loads the installed `Parity.clap` in the project's CLAP host, runs the
//! built-in demo mix through it at several settings, measures input and output with Parity's own
//! BS.1770 meters, checks what the plugin promises (transparency, exact gain, bypass, block-size
//! invariance) and prints a report. Exits non-zero when a check fails.
//!
//! `parity-clap-demo [PATH/TO/Parity.clap]` (default: `PARITY_CLAP_BUNDLE`, then the test bundle).

use std::process::ExitCode;
use std::time::Instant;

use parity::demo_signal::DemoSignal;
use parity::meters::MeterSet;
use parity_tests::{ParityHost, XorShift, BUNDLE_ENV};

/// Sample rate of the demo.
const RATE_HZ: f64 = 48_000.0;

/// Length of the demo mix.
const DURATION_S: f64 = 20.0;

/// Host block size of the demo.
const BLOCK_FRAMES: usize = 512;

fn main() -> ExitCode {
    if let Some(path) = std::env::args().nth(1) {
        std::env::set_var(BUNDLE_ENV, path);
    }
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("parity-clap-demo: {error}");
            ExitCode::FAILURE
        }
    }
}

/// What the meters read for one signal.
struct Readings {
    integrated_lufs: f64,
    max_short_term_lufs: f64,
    max_momentary_lufs: f64,
    loudness_range_lu: f64,
    true_peak_dbtp: f64,
    sample_peak_dbfs: f64,
}

/// Picks one figure out of [`Readings`].
type Reading = fn(&Readings) -> f64;

fn measure(signal: &[Vec<f32>]) -> Readings {
    let mut meters = MeterSet::new(RATE_HZ, signal.len());
    let channels: Vec<&[f32]> = signal.iter().map(Vec::as_slice).collect();
    meters.process(&channels);
    let loudness = &meters.loudness;
    let peaks = &meters.true_peak;
    let sample_peak =
        (0..signal.len()).filter_map(|c| peaks.sample_peak_dbfs(c)).fold(f64::NEG_INFINITY, f64::max);
    Readings {
        integrated_lufs: loudness.integrated_lufs().unwrap_or(f64::NAN),
        max_short_term_lufs: loudness.max_short_term_lufs().unwrap_or(f64::NAN),
        max_momentary_lufs: loudness.max_momentary_lufs().unwrap_or(f64::NAN),
        loudness_range_lu: loudness.loudness_range_lu().unwrap_or(f64::NAN),
        true_peak_dbtp: peaks.max_true_peak_dbtp(),
        sample_peak_dbfs: sample_peak,
    }
}

/// Renders `input` through a fresh, activated instance with the given display-text settings.
fn render(
    input: &[Vec<f32>],
    settings: &[(&str, &str)],
    block: &mut dyn FnMut() -> usize,
) -> Result<Vec<Vec<f32>>, String> {
    let mut host = ParityHost::new(Default::default())?;
    let mut values = Vec::new();
    for (name, text) in settings {
        let param = host.find_param(&[name])?;
        values.push((param.id, host.text_to_value(param.id, text).ok_or(format!("{name}: {text}?"))?));
    }
    host.set_params(&values)?;
    host.activate(RATE_HZ, 16_384)?;
    // Aligned like a DAW with delay compensation, so the null tests compare like with like.
    let output = host.render_aligned(input, block, &[])?;
    host.deactivate();
    Ok(output)
}

fn max_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter().flatten().zip(b.iter().flatten()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn run() -> Result<bool, String> {
    let frames = (RATE_HZ * DURATION_S) as usize;
    let mut input = vec![vec![0.0f32; frames]; 2];
    {
        let [left, right] = input.as_mut_slice() else { unreachable!("two channels") };
        DemoSignal::new(RATE_HZ).render(&mut [&mut left[..], &mut right[..]]);
    }

    // What a mastering engineer would dial in: glue on, a touch of air, the limiter driven
    // 8 dB into a −1 dBTP ceiling.
    const MASTERED: [(&str, &str); 4] =
        [("Glue On", "On"), ("EQ 6 Gain", "1.5"), ("Drive", "8.0"), ("Ceiling", "-1.0")];
    let mut host = ParityHost::new(Default::default())?;
    let mut values = Vec::new();
    for (name, text) in MASTERED {
        let param = host.find_param(&[name])?;
        values.push((param.id, host.text_to_value(param.id, text).ok_or(format!("{name}: {text}?"))?));
    }
    host.set_params(&values)?;
    host.activate(RATE_HZ, BLOCK_FRAMES as u32)?;
    let latency = host.latency().unwrap_or(0);
    let parameter_count = host.params()?.len();
    let started = Instant::now();
    let mastered = host.render_aligned(&input, || BLOCK_FRAMES, &[])?;
    let elapsed_s = started.elapsed().as_secs_f64();
    host.deactivate();
    drop(host);

    // Every stage neutral: the limiter (the only stage that acts at the defaults) switched off.
    let neutral = render(&input, &[("Limiter On", "Off")], &mut || BLOCK_FRAMES)?;
    let gained = render(&input, &[("Input Trim", "-2.0"), ("Output Gain", "-1.0")], &mut || BLOCK_FRAMES)?;
    let bypassed = render(&input, &[("Input Trim", "9.0"), ("Bypass", "Bypassed")], &mut || BLOCK_FRAMES)?;
    let small_blocks = render(&input, &MASTERED, &mut || 64)?;
    let mut rng = XorShift::new(2026);
    let random_blocks = render(&input, &MASTERED, &mut || rng.range(1, 4096))?;

    let bundle =
        std::env::var(BUNDLE_ENV).unwrap_or_else(|_| parity_tests::bundle_path().display().to_string());
    println!("Parity demo through the installed CLAP plugin");
    println!("  bundle     {bundle}");
    println!("  plugin     audio.parity.master, latency {latency} samples, {parameter_count} parameters");
    println!(
        "  signal     built-in demo mix (drums, bass, chords), {DURATION_S} s, {} kHz stereo",
        RATE_HZ / 1000.0
    );
    println!();

    let columns = [
        ("input", measure(&input)),
        ("neutral", measure(&neutral)),
        ("trim −2, out −1", measure(&gained)),
        ("mastered", measure(&mastered)),
    ];
    println!(
        "  {:<24}{:>12}{:>12}{:>18}{:>12}",
        "measured", columns[0].0, columns[1].0, columns[2].0, columns[3].0
    );
    let rows: [(&str, Reading); 6] = [
        ("integrated (LUFS)", |r| r.integrated_lufs),
        ("max short-term (LUFS)", |r| r.max_short_term_lufs),
        ("max momentary (LUFS)", |r| r.max_momentary_lufs),
        ("loudness range (LU)", |r| r.loudness_range_lu),
        ("true peak (dBTP)", |r| r.true_peak_dbtp),
        ("sample peak (dBFS)", |r| r.sample_peak_dbfs),
    ];
    for (name, get) in rows {
        println!(
            "  {name:<24}{:>12.2}{:>12.2}{:>18.2}{:>12.2}",
            get(&columns[0].1),
            get(&columns[1].1),
            get(&columns[2].1),
            get(&columns[3].1)
        );
    }
    println!();

    let gain_change_db = columns[2].1.integrated_lufs - columns[0].1.integrated_lufs;
    let checks = [
        (
            "neutral settings are bit-exact (null test)",
            max_difference(&neutral, &input) == 0.0,
            format!("max |out − in| = {:e}", max_difference(&neutral, &input)),
        ),
        (
            "gain lands where it was set (−3.0 dB)",
            (gain_change_db + 3.0).abs() < 0.01,
            format!("measured {gain_change_db:+.3} dB"),
        ),
        (
            "limiter holds the −1 dBTP ceiling (mastered)",
            columns[3].1.true_peak_dbtp <= -0.9,
            format!(
                "true peak {:+.2} dBTP at {:+.1} LU louder",
                columns[3].1.true_peak_dbtp,
                columns[3].1.integrated_lufs - columns[0].1.integrated_lufs
            ),
        ),
        (
            "bypass is the input, bit for bit",
            max_difference(&bypassed, &input) == 0.0,
            format!("max |out − in| = {:e}", max_difference(&bypassed, &input)),
        ),
        (
            "64-frame blocks = 512-frame blocks (mastered)",
            max_difference(&small_blocks, &mastered) == 0.0,
            format!("max difference {:e}", max_difference(&small_blocks, &mastered)),
        ),
        (
            "random blocks = 512-frame blocks (mastered)",
            max_difference(&random_blocks, &mastered) == 0.0,
            format!("max difference {:e}", max_difference(&random_blocks, &mastered)),
        ),
    ];
    let mut all_passed = true;
    for (name, passed, detail) in &checks {
        all_passed &= passed;
        println!("  {} {name:<48} {detail}", if *passed { "PASS" } else { "FAIL" });
    }
    println!();
    println!(
        "  speed      {:.0}x realtime through the CLAP host, mastered chain ({:.0} ns per stereo frame, {BLOCK_FRAMES}-frame blocks)",
        DURATION_S / elapsed_s,
        elapsed_s * 1e9 / frames as f64
    );
    Ok(all_passed)
}
