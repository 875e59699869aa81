//! Measures a raw audio file with Parity's own meters (the same `MeterSet` the plugin runs) and
//! prints the readings as one JSON object, for cross-checks against independent meters.
//!
//! ```text
//! parity-measure --rate 48000 --channels 2 IN
//! ```
//! IN is raw little-endian f32, planar (all frames of channel 0, then channel 1, …).

use std::process::ExitCode;

use parity::meters::MeterSet;

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("parity-measure: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A reading as JSON (`null` for no value, −∞ as `"-inf"`).
fn json_number(value: Option<f64>) -> String {
    match value {
        None => "null".to_owned(),
        Some(v) if v.is_finite() => format!("{v:.6}"),
        Some(v) if v < 0.0 => "\"-inf\"".to_owned(),
        Some(_) => "\"inf\"".to_owned(),
    }
}

fn run() -> Result<String, String> {
    let mut args = std::env::args().skip(1);
    let (mut rate, mut channels, mut path) = (48_000.0f64, 2usize, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rate" => {
                rate =
                    args.next().ok_or("--rate needs a value")?.parse().map_err(|e| format!("--rate: {e}"))?
            }
            "--channels" => {
                channels = args
                    .next()
                    .ok_or("--channels needs a value")?
                    .parse()
                    .map_err(|e| format!("--channels: {e}"))?
            }
            _ => path = Some(arg),
        }
    }
    let path = path.ok_or("usage: parity-measure [--rate R] [--channels C] IN")?;
    if channels == 0 {
        return Err("--channels must be at least 1".into());
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    let samples: Vec<f32> =
        bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let frames = samples.len() / channels;
    let signal: Vec<&[f32]> = (0..channels).map(|c| &samples[c * frames..(c + 1) * frames]).collect();

    let mut meters = MeterSet::new(rate, channels);
    meters.process(&signal);
    let loudness = &meters.loudness;
    let peaks = &meters.true_peak;
    let sample_peak = (0..channels).filter_map(|c| peaks.sample_peak_dbfs(c)).reduce(f64::max);
    Ok(format!(
        "{{\"integrated_lufs\": {}, \"loudness_range_lu\": {}, \"max_momentary_lufs\": {}, \
         \"max_short_term_lufs\": {}, \"true_peak_dbtp\": {}, \"sample_peak_dbfs\": {}, \
         \"oversampling\": {}}}",
        json_number(loudness.integrated_lufs()),
        json_number(loudness.loudness_range_lu()),
        json_number(loudness.max_momentary_lufs()),
        json_number(loudness.max_short_term_lufs()),
        json_number(Some(peaks.max_true_peak_dbtp())),
        json_number(sample_peak),
        peaks.oversampling_factor()
    ))
}
