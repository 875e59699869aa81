//! `parity selftest`: the EBU Tech 3341 (loudness meter, "EBU Mode") and Tech 3342 (loudness
//! range) test signals that are defined by formula, synthesized at any sample rate and measured
//! with the plugin's own meters, plus analytic true-peak cases. Each case prints its deviation
//! from the expected reading and passes within the standard's tolerance.
//!
//! Sources: EBU Tech 3341 v4 (2023) table 1 (cases 1–6, 9–14) and §3 true-peak tolerances
//! (+0.2/−0.4 dB); EBU Tech 3342 v4 table 1 (cases 1–4). The cases built from programme
//! material (3341 cases 7–8, 3342 cases 5–6) and the official true-peak files need the
//! EBU's WAVs; the unit tests run those when the files are present.

use serde::Serialize;

use crate::meters::{db_to_amplitude, LoudnessMeter, TruePeakMeter};

/// Tolerance of momentary, short-term and integrated loudness (Tech 3341), LU.
const LOUDNESS_TOLERANCE_LU: f64 = 0.1;

/// Tolerance of the loudness range (Tech 3342), LU.
const LRA_TOLERANCE_LU: f64 = 1.0;

/// True-peak tolerance (Tech 3341 §3): the reading may be this much above the truth, dB.
const TRUE_PEAK_OVER_DB: f64 = 0.2;

/// True-peak tolerance: the reading may be this much below the truth, dB.
const TRUE_PEAK_UNDER_DB: f64 = 0.4;

/// Frequency of the standard's tone signals, Hz.
const TONE_HZ: f64 = 1_000.0;

/// A Tech 3342 case: number, expected LRA (LU) and its `(dBFS, seconds)` tone segments.
type LraCase = (u32, f64, &'static [(f64, f64)]);

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    /// Which case, e.g. "3341-1 I".
    pub case: String,
    /// What was measured, in words.
    pub quantity: &'static str,
    /// The expected reading.
    pub expected: f64,
    /// Parity's reading (the worst one where the case checks a series).
    pub measured: f64,
    /// Measured minus expected.
    pub deviation: f64,
    /// Whether the deviation is within the standard's tolerance.
    pub passed: bool,
}

/// A stereo 1 kHz tone sequence from `(dBFS, seconds)` segments (level ≤ −150: digital silence),
/// phase-continuous, each segment rounded to whole samples.
fn stereo_tones(rate: f64, segments: &[(f64, f64)]) -> Vec<f32> {
    let mut out = Vec::new();
    let mut n: u64 = 0;
    for &(level_dbfs, duration_s) in segments {
        let amplitude = if level_dbfs > -150.0 { db_to_amplitude(level_dbfs) } else { 0.0 };
        for _ in 0..(duration_s * rate).round() as u64 {
            out.push((amplitude * (std::f64::consts::TAU * TONE_HZ * n as f64 / rate).sin()) as f32);
            n += 1;
        }
    }
    out
}

/// Momentary and short-term readings after every evaluation interval, with their positions.
struct Trace {
    /// (sample position, momentary LUFS).
    momentary: Vec<(u64, f64)>,
    /// (sample position, short-term LUFS).
    short_term: Vec<(u64, f64)>,
}

/// Meters `signal` (the same on both channels) one evaluation interval at a time.
fn trace(meter: &mut LoudnessMeter, signal: &[f32]) -> Trace {
    let mut t = Trace { momentary: Vec::new(), short_term: Vec::new() };
    for chunk in signal.chunks(meter.evaluation_interval_samples().max(1)) {
        meter.process(&[chunk, chunk]);
        let position = meter.samples_processed();
        if let Some(m) = meter.momentary_lufs() {
            t.momentary.push((position, m));
        }
        if let Some(s) = meter.short_term_lufs() {
            t.short_term.push((position, s));
        }
    }
    t
}

/// The reading furthest from `expected` among those at or after `from_s`.
fn worst_after(values: &[(u64, f64)], rate: f64, from_s: f64, expected: f64) -> f64 {
    let from = (from_s * rate).round() as u64;
    values.iter().filter(|(position, _)| *position >= from).map(|&(_, v)| v).fold(expected, |worst, v| {
        if (v - expected).abs() > (worst - expected).abs() {
            v
        } else {
            worst
        }
    })
}

/// Builds a result; `tolerance` is symmetric.
fn result(case: String, quantity: &'static str, expected: f64, measured: f64, tolerance: f64) -> CaseResult {
    let deviation = measured - expected;
    CaseResult { case, quantity, expected, measured, deviation, passed: deviation.abs() <= tolerance }
}

/// Runs every case at `sample_rate_hz` and returns the results in order.
pub fn run_selftest(sample_rate_hz: f64) -> Vec<CaseResult> {
    let rate = sample_rate_hz;
    let mut results = Vec::new();
    let tol = LOUDNESS_TOLERANCE_LU;

    // 3341 cases 1 and 2: a constant tone; M, S and I all read its level.
    for (case, level) in [(1, -23.0), (2, -33.0)] {
        let signal = stereo_tones(rate, &[(level, 20.0)]);
        let mut meter = LoudnessMeter::new(rate, 2);
        let t = trace(&mut meter, &signal);
        results.push(result(
            format!("3341-{case}"),
            "momentary",
            level,
            worst_after(&t.momentary, rate, 0.4, level),
            tol,
        ));
        results.push(result(
            format!("3341-{case}"),
            "short-term",
            level,
            worst_after(&t.short_term, rate, 3.0, level),
            tol,
        ));
        let integrated = meter.integrated_lufs().unwrap_or(f64::NAN);
        results.push(result(format!("3341-{case}"), "integrated", level, integrated, tol));
    }
    // 3341 cases 3–5: the gates of integrated loudness.
    let gated: [(u32, &[(f64, f64)]); 3] = [
        (3, &[(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)]),
        (4, &[(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)]),
        (5, &[(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)]),
    ];
    for (case, segments) in gated {
        let signal = stereo_tones(rate, segments);
        let mut meter = LoudnessMeter::new(rate, 2);
        meter.process(&[&signal, &signal]);
        results.push(result(
            format!("3341-{case}"),
            "integrated",
            -23.0,
            meter.integrated_lufs().unwrap_or(f64::NAN),
            tol,
        ));
    }
    // 3341 case 6: 5.0 channels (L, R, C, Ls, Rs) at −28, −28, −24, −30, −30 dBFS; the meter's
    // default 5-channel weights count the surrounds 1.41×.
    {
        let channels: Vec<Vec<f32>> =
            [-28.0, -28.0, -24.0, -30.0, -30.0].iter().map(|&db| stereo_tones(rate, &[(db, 20.0)])).collect();
        let mut meter = LoudnessMeter::new(rate, 5);
        let slices: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
        meter.process(&slices);
        results.push(result(
            "3341-6".into(),
            "integrated",
            -23.0,
            meter.integrated_lufs().unwrap_or(f64::NAN),
            tol,
        ));
    }
    // 3341 case 9: 1.34 s at −20 / 1.66 s at −30 dBFS, five times: S = −23 from 3 s on.
    {
        let segments: Vec<(f64, f64)> = (0..5).flat_map(|_| [(-20.0, 1.34), (-30.0, 1.66)]).collect();
        let signal = stereo_tones(rate, &segments);
        let t = trace(&mut LoudnessMeter::new(rate, 2), &signal);
        results.push(result(
            "3341-9".into(),
            "short-term",
            -23.0,
            worst_after(&t.short_term, rate, 3.0, -23.0),
            tol,
        ));
    }
    // 3341 cases 10 and 13: a burst after i·offset of silence; the maximum reads −23, for each
    // of the 20 offsets (each its own file in the official set, so a fresh meter each).
    for (case, offset_s, burst_s, short_term) in [(10, 0.15, 3.0, true), (13, 0.02, 0.4, false)] {
        let mut worst = -23.0_f64;
        for i in 0..20 {
            let signal =
                stereo_tones(rate, &[(-200.0, i as f64 * offset_s), (-23.0, burst_s), (-200.0, 1.0)]);
            let mut meter = LoudnessMeter::new(rate, 2);
            meter.process(&[&signal, &signal]);
            let max = if short_term { meter.max_short_term_lufs() } else { meter.max_momentary_lufs() };
            let max = max.unwrap_or(f64::NAN);
            // NaN (no reading) is the worst of all.
            if max.is_nan() || (max + 23.0).abs() > (worst + 23.0).abs() {
                worst = max;
            }
        }
        let quantity = if short_term { "max short-term" } else { "max momentary" };
        results.push(result(format!("3341-{case}"), quantity, -23.0, worst, tol));
    }
    // 3341 case 12: 0.18 s at −20 / 0.22 s at −30 dBFS for 10 s: M = −23 from 1 s on.
    {
        let segments: Vec<(f64, f64)> = (0..25).flat_map(|_| [(-20.0, 0.18), (-30.0, 0.22)]).collect();
        let signal = stereo_tones(rate, &segments);
        let t = trace(&mut LoudnessMeter::new(rate, 2), &signal);
        results.push(result(
            "3341-12".into(),
            "momentary",
            -23.0,
            worst_after(&t.momentary, rate, 1.0, -23.0),
            tol,
        ));
    }
    // 3342 cases 1–4: loudness range of tone sequences.
    let lra_cases: [LraCase; 4] = [
        (1, 10.0, &[(-20.0, 20.0), (-30.0, 20.0)]),
        (2, 5.0, &[(-20.0, 20.0), (-15.0, 20.0)]),
        (3, 20.0, &[(-40.0, 20.0), (-20.0, 20.0)]),
        (4, 15.0, &[(-50.0, 20.0), (-35.0, 20.0), (-20.0, 20.0), (-35.0, 20.0), (-50.0, 20.0)]),
    ];
    for (case, expected, segments) in lra_cases {
        let signal = stereo_tones(rate, segments);
        let mut meter = LoudnessMeter::new(rate, 2);
        meter.process(&[&signal, &signal]);
        let lra = meter.loudness_range_lu().unwrap_or(f64::NAN);
        results.push(result(format!("3342-{case}"), "loudness range", expected, lra, LRA_TOLERANCE_LU));
    }
    // True peak, analytic: sines whose samples never land on their crest (at fs/4 with a 45°
    // phase the samples sit at ±0.707 of it, −3.01 dB; at fs/6 with 30° at ±0.866). The true
    // peak is the amplitude.
    for (name, divisor, phase) in
        [("fs/4 at 45°", 4.0, 0.25 * std::f64::consts::PI), ("fs/6 at 30°", 6.0, std::f64::consts::PI / 6.0)]
    {
        for crest_dbtp in [-6.0, 0.0, 3.0] {
            let amplitude = db_to_amplitude(crest_dbtp);
            let frequency = rate / divisor;
            let signal: Vec<f32> = (0..(rate * 2.0) as usize)
                .map(|n| {
                    (amplitude * (std::f64::consts::TAU * frequency * n as f64 / rate + phase).sin()) as f32
                })
                .collect();
            let mut meter = TruePeakMeter::new(rate, 2);
            meter.process(&[&signal, &signal]);
            let measured = meter.max_true_peak_dbtp();
            let deviation = measured - crest_dbtp;
            results.push(CaseResult {
                case: format!("TP {name}"),
                quantity: "true peak",
                expected: crest_dbtp,
                measured,
                deviation,
                passed: (-TRUE_PEAK_UNDER_DB..=TRUE_PEAK_OVER_DB).contains(&deviation),
            });
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_passes_at_the_common_rates() {
        for rate in [44_100.0, 48_000.0, 96_000.0] {
            for case in run_selftest(rate) {
                assert!(case.passed, "{rate} Hz: {case:?}");
                assert!(case.deviation.is_finite());
            }
        }
    }

    #[test]
    fn a_wrong_meter_would_fail() {
        // The checks are not vacuous: a reading 0.2 LU off fails.
        let case = result("x".into(), "integrated", -23.0, -23.2, LOUDNESS_TOLERANCE_LU);
        assert!(!case.passed);
        // NaN (no reading) fails too.
        assert!(!result("x".into(), "integrated", -23.0, f64::NAN, LOUDNESS_TOLERANCE_LU).passed);
    }
}
