//! `parity compare MIX REF…`: a mix against reference tracks at equal loudness. For each
//! reference: the gain that matches it to the mix, and how the two differ once loudness is out of
//! the way: loudness range, true peak, PLR, width and tonal balance per octave band.

use serde::Serialize;

use super::analysis::{Analysis, OCTAVE_CENTRES_HZ};

/// One octave band's difference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BandDifference {
    /// Nominal centre frequency, Hz.
    pub centre_hz: f64,
    /// Mix minus reference, dB, both relative to their own integrated loudness (`None` when
    /// either has no reading there). Positive: the mix has more of this band.
    pub difference_db: Option<f64>,
}

/// The mix against one reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The reference's name (its path as given).
    pub reference: String,
    /// Gain to apply to the reference to match the mix's integrated loudness, dB.
    pub reference_gain_to_match_db: Option<f64>,
    /// Mix minus reference integrated loudness, LU.
    pub loudness_difference_lu: Option<f64>,
    /// Mix minus reference loudness range, LU.
    pub loudness_range_difference_lu: Option<f64>,
    /// Mix minus reference true peak, dB.
    pub true_peak_difference_db: Option<f64>,
    /// Mix minus reference PLR, dB (negative: the mix is more compressed).
    pub plr_difference_db: Option<f64>,
    /// Mix minus reference stereo width, percentage points.
    pub width_difference_percent: Option<f64>,
    /// Mix minus reference correlation.
    pub correlation_difference: Option<f64>,
    /// Tonal balance differences per octave band.
    pub octave_bands: Vec<BandDifference>,
    /// The root-mean-square of the band differences, dB: one number for "how different does it
    /// sound at equal loudness".
    pub tonal_difference_rms_db: Option<f64>,
}

/// Difference of two optional readings.
fn difference(mix: Option<f64>, reference: Option<f64>) -> Option<f64> {
    Some(mix? - reference?)
}

/// Compares `mix` with `reference` (named `reference_name`).
pub fn compare(mix: &Analysis, reference: &Analysis, reference_name: &str) -> Comparison {
    let octave_bands = tonal_difference(mix, reference);
    Comparison {
        reference: reference_name.to_owned(),
        reference_gain_to_match_db: difference(mix.integrated_lufs, reference.integrated_lufs),
        loudness_difference_lu: difference(mix.integrated_lufs, reference.integrated_lufs),
        loudness_range_difference_lu: difference(mix.loudness_range_lu, reference.loudness_range_lu),
        true_peak_difference_db: difference(mix.true_peak_dbtp, reference.true_peak_dbtp),
        plr_difference_db: difference(mix.plr_db, reference.plr_db),
        width_difference_percent: difference(mix.width_percent, reference.width_percent),
        correlation_difference: difference(mix.correlation, reference.correlation),
        tonal_difference_rms_db: rms(&octave_bands),
        octave_bands,
    }
}

/// Per-band difference of two tonal balances.
pub fn tonal_difference(a: &Analysis, b: &Analysis) -> Vec<BandDifference> {
    OCTAVE_CENTRES_HZ
        .iter()
        .map(|&centre_hz| {
            let level = |analysis: &Analysis| {
                analysis
                    .octave_bands
                    .iter()
                    .find(|band| band.centre_hz == centre_hz)
                    .and_then(|band| band.relative_db)
            };
            BandDifference { centre_hz, difference_db: difference(level(a), level(b)) }
        })
        .collect()
}

/// RMS of the bands that have a difference (`None` if none has).
pub fn rms(bands: &[BandDifference]) -> Option<f64> {
    let values: Vec<f64> = bands.iter().filter_map(|band| band.difference_db).collect();
    (!values.is_empty()).then(|| (values.iter().map(|v| v * v).sum::<f64>() / values.len() as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::super::analysis::analyze;
    use super::*;

    fn tones(frequencies_hz: &[(f64, f64)], rate: f64, seconds: f64) -> Vec<f32> {
        (0..(rate * seconds) as usize)
            .map(|n| {
                let t = n as f64 / rate;
                frequencies_hz.iter().map(|&(f, a)| a * (std::f64::consts::TAU * f * t).sin()).sum::<f64>()
                    as f32
            })
            .collect()
    }

    #[test]
    fn the_same_music_louder_differs_only_in_loudness() {
        let rate = 48_000.0;
        let quiet = tones(&[(100.0, 0.1), (1_000.0, 0.05), (5_000.0, 0.02)], rate, 8.0);
        let loud: Vec<f32> = quiet.iter().map(|x| x * 2.0).collect();
        let mix = analyze(&[&quiet, &quiet], rate);
        let reference = analyze(&[&loud, &loud], rate);
        let c = compare(&mix, &reference, "ref.wav");
        let gain = c.reference_gain_to_match_db.unwrap();
        assert!((gain + 6.02).abs() < 0.02, "{gain}");
        assert!(c.plr_difference_db.unwrap().abs() < 0.05);
        assert!(c.tonal_difference_rms_db.unwrap() < 0.05, "{:?}", c.tonal_difference_rms_db);
        assert!(c.width_difference_percent.unwrap().abs() < 1e-6);
    }

    #[test]
    fn a_brighter_reference_shows_in_the_treble_bands() {
        let rate = 48_000.0;
        let mix = tones(&[(125.0, 0.2), (1_000.0, 0.1), (8_000.0, 0.02)], rate, 8.0);
        let bright = tones(&[(125.0, 0.2), (1_000.0, 0.1), (8_000.0, 0.08)], rate, 8.0);
        let c = compare(&analyze(&[&mix, &mix], rate), &analyze(&[&bright, &bright], rate), "bright.wav");
        let band =
            |hz: f64| c.octave_bands.iter().find(|b| b.centre_hz == hz).unwrap().difference_db.unwrap();
        // 8 kHz: 12 dB less in the mix (the loudness difference shifts every band equally).
        let shift = band(125.0);
        assert!((band(8_000.0) - shift + 12.04).abs() < 0.3, "{:?}", c.octave_bands);
        assert!((band(1_000.0) - shift).abs() < 0.3);
    }
}
