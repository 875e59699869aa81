//! Tonal balance per octave band against a target: the generic curve below or the loaded
//! references.
//!
//! **The generic curve** follows Pestana, Ma, Reiss, Barbosa & Black, "Spectral Characteristics
//! of Popular Commercial Recordings 1950–2010" (AES 135th Convention, 2013, paper 8960): the
//! long-term average spectrum of 772 UK/US number-one singles decays about 5 dB per octave between
//! 100 Hz and 4 kHz, with a low cut around 60 Hz and a steeper slope above 4 kHz. Those slopes are
//! **per-hertz densities** (pink noise is −3 dB/oct there). Parity's density: −5 dB/oct from
//! 60 Hz to 4 kHz, held flat below 60 Hz, −7 dB/oct above 4 kHz (the paper gives no number above
//! 4 kHz: an assumption). [`curve_bands_db`] integrates that density over each octave band, so it
//! compares directly with measured octave-band powers (about −2 dB per octave in band levels).
//!
//! **The comparison** uses the octave bands 63 Hz … 8 kHz (31.5 Hz and 16 kHz swing by 10 dB
//! between genres and productions). Both sides are aligned by their mean over the bands compared,
//! so only the shape counts, never the level. Genre spread is large (Elowsson & Friberg, AES 142,
//! 2017: mostly below 100 Hz and above 2 kHz, with the amount of percussion), hence the wide
//! tolerances against the generic curve: ±[`CURVE_WARN_DB`] / ±[`CURVE_FAIL_DB`]. Against the
//! engineer's own references the tolerances are tighter: ±[`REFERENCE_WARN_DB`] /
//! ±[`REFERENCE_FAIL_DB`].

use serde::Serialize;

use super::{OCTAVE_BANDS, OCTAVE_CENTRES_HZ};

/// Warning deviation against the generic curve, dB.
pub const CURVE_WARN_DB: f64 = 4.0;

/// Failing deviation against the generic curve, dB.
pub const CURVE_FAIL_DB: f64 = 8.0;

/// Warning deviation against the loaded references, dB.
pub const REFERENCE_WARN_DB: f64 = 3.0;

/// Failing deviation against the loaded references, dB.
pub const REFERENCE_FAIL_DB: f64 = 6.0;

/// First and last band compared (indices into the octave centres: 63 Hz … 8 kHz).
pub const COMPARED_BANDS: std::ops::RangeInclusive<usize> = 1..=8;

/// One band's deviation from the target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BandDeviation {
    /// Octave-band centre, Hz.
    pub centre_hz: f64,
    /// Measured minus target after alignment, dB (positive = too much).
    pub deviation_db: f64,
}

/// The generic curve's density at `freq_hz`, dB per hertz relative to 1 kHz.
pub fn curve_density_db(freq_hz: f64) -> f64 {
    let f = freq_hz.max(60.0);
    if f <= 4_000.0 {
        -5.0 * (f / 1_000.0).log2()
    } else {
        -5.0 * 4f64.log2() - 7.0 * (f / 4_000.0).log2()
    }
}

/// The generic curve as octave-band powers, dB (the density integrated over each band, relative
/// to an arbitrary common reference).
pub fn curve_bands_db() -> [Option<f64>; OCTAVE_BANDS] {
    static BANDS: std::sync::OnceLock<[Option<f64>; OCTAVE_BANDS]> = std::sync::OnceLock::new();
    *BANDS.get_or_init(integrate_curve_bands)
}

/// [`curve_bands_db`] computed.
fn integrate_curve_bands() -> [Option<f64>; OCTAVE_BANDS] {
    std::array::from_fn(|band| {
        let centre = OCTAVE_CENTRES_HZ[band];
        let (low, high) = (centre / 2f64.sqrt(), centre * 2f64.sqrt());
        const STEPS: usize = 256;
        let ratio = (high / low).ln() / STEPS as f64;
        let power: f64 = (0..STEPS)
            .map(|i| {
                let f = low * ((i as f64 + 0.5) * ratio).exp();
                10f64.powf(curve_density_db(f) / 10.0) * f * ratio
            })
            .sum();
        Some(10.0 * power.log10())
    })
}

/// Deviations of `measured` from `target` over [`COMPARED_BANDS`], both aligned by their mean
/// over the bands both have. `None` when fewer than four bands can be compared.
pub fn deviations(
    measured: &[Option<f64>; OCTAVE_BANDS],
    target: &[Option<f64>; OCTAVE_BANDS],
) -> Option<Vec<BandDeviation>> {
    let pairs: Vec<(usize, f64, f64)> = COMPARED_BANDS
        .filter_map(|band| match (measured[band], target[band]) {
            (Some(m), Some(t)) if m.is_finite() && t.is_finite() => Some((band, m, t)),
            _ => None,
        })
        .collect();
    if pairs.len() < 4 {
        return None;
    }
    let count = pairs.len() as f64;
    let offset = pairs.iter().map(|(_, m, t)| m - t).sum::<f64>() / count;
    Some(
        pairs
            .into_iter()
            .map(|(band, m, t)| BandDeviation {
                centre_hz: OCTAVE_CENTRES_HZ[band],
                deviation_db: m - t - offset,
            })
            .collect(),
    )
}

/// The mean shape of several references' octave bands (each aligned to its own mean first);
/// `None` for none.
pub fn mean_reference_bands(
    references: &[[Option<f64>; OCTAVE_BANDS]],
) -> Option<[Option<f64>; OCTAVE_BANDS]> {
    if references.is_empty() {
        return None;
    }
    let aligned: Vec<[Option<f64>; OCTAVE_BANDS]> = references
        .iter()
        .map(|bands| {
            let values: Vec<f64> =
                COMPARED_BANDS.filter_map(|b| bands[b]).filter(|v| v.is_finite()).collect();
            let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
            std::array::from_fn(|b| bands[b].filter(|v| v.is_finite()).map(|v| v - mean))
        })
        .collect();
    Some(std::array::from_fn(|band| {
        let values: Vec<f64> = aligned.iter().filter_map(|bands| bands[band]).collect();
        (!values.is_empty()).then(|| {
            10.0 * (values.iter().map(|v| 10f64.powf(v / 10.0)).sum::<f64>() / values.len() as f64).log10()
        })
    }))
}

/// Octave-band levels from the reference analysis's 1/6-octave band powers (the power sum of the
/// sixth-octave bands whose centres lie in each octave band), dB.
pub fn octave_bands_from_sixths(spectrum_db: &[f32]) -> [Option<f64>; OCTAVE_BANDS] {
    use crate::reference::analysis::{spectrum_band_centre_hz, SPECTRUM_FLOOR_DB};
    std::array::from_fn(|band| {
        let centre = OCTAVE_CENTRES_HZ[band];
        let (low, high) = (centre / 2f64.sqrt(), centre * 2f64.sqrt());
        let power: f64 = spectrum_db
            .iter()
            .enumerate()
            .filter(|&(k, &level)| {
                let f = spectrum_band_centre_hz(k);
                (low..high).contains(&f) && level.is_finite() && level > SPECTRUM_FLOOR_DB + 1.0
            })
            .map(|(_, &level)| 10f64.powf(f64::from(level) / 10.0))
            .sum();
        (power > 0.0).then(|| 10.0 * power.log10())
    })
}

/// "63 Hz", "1 kHz" …
pub fn band_name(centre_hz: f64) -> String {
    if centre_hz >= 1_000.0 {
        format!("{:.0} kHz", centre_hz / 1_000.0)
    } else {
        format!("{centre_hz:.0} Hz")
    }
}

/// The usual word for too much (positive) or too little (negative) in the band at `centre_hz`.
pub fn describe(centre_hz: f64, deviation_db: f64) -> &'static str {
    let more = deviation_db > 0.0;
    match centre_hz {
        c if c < 90.0 => {
            if more {
                "Heavy sub-bass"
            } else {
                "Thin low end"
            }
        }
        c if c < 180.0 => {
            if more {
                "Boomy"
            } else {
                "Lean bass"
            }
        }
        c if c < 360.0 => {
            if more {
                "Muddy"
            } else {
                "Hollow low mids"
            }
        }
        c if c < 700.0 => {
            if more {
                "Boxy"
            } else {
                "Scooped mids"
            }
        }
        c if c < 1_400.0 => {
            if more {
                "Honky, nasal"
            } else {
                "Recessed mids"
            }
        }
        c if c < 2_800.0 => {
            if more {
                "Hard, forward"
            } else {
                "Distant"
            }
        }
        c if c < 5_600.0 => {
            if more {
                "Harsh"
            } else {
                "Dull"
            }
        }
        _ => {
            if more {
                "Bright, sibilant"
            } else {
                "Dark"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_integrates_the_density_per_octave() {
        let bands = curve_bands_db();
        // Between 125 Hz and 2 kHz the band levels fall by 5 − 3 = 2 dB per octave (the band
        // width doubles every octave).
        for band in 2..5 {
            let step = bands[band + 1].unwrap() - bands[band].unwrap();
            assert!((step + 2.0).abs() < 0.05, "{band}: {step}");
        }
        // Above 4 kHz: 7 − 3 = 4 dB per octave.
        let step = bands[9].unwrap() - bands[8].unwrap();
        assert!((step + 4.0).abs() < 0.05, "{step}");
        // Below 60 Hz the density holds, so the 31.5 Hz band is 3 dB under the 63 Hz band's
        // flat-density part: smaller than the 63 → 125 step in the other direction.
        assert!(bands[0].unwrap() < bands[1].unwrap());
    }

    #[test]
    fn pink_noise_against_the_curve_and_deviations_are_level_free() {
        // Pink noise has equal band powers: against the curve it reads ~+2 dB/oct too bright.
        let pink = [Some(-20.0); OCTAVE_BANDS];
        let d = deviations(&pink, &curve_bands_db()).unwrap();
        assert_eq!(d.len(), 8);
        assert!(d.first().unwrap().deviation_db < -5.0 && d.last().unwrap().deviation_db > 5.0, "{d:?}");
        // Deviations ignore level: the curve against itself + 12 dB is all zeros.
        let shifted: [Option<f64>; OCTAVE_BANDS] =
            std::array::from_fn(|b| curve_bands_db()[b].map(|v| v + 12.0));
        assert!(deviations(&shifted, &curve_bands_db()).unwrap().iter().all(|b| b.deviation_db.abs() < 1e-9));
        // Too few bands: no verdict.
        let sparse: [Option<f64>; OCTAVE_BANDS] = std::array::from_fn(|b| (b < 3).then_some(0.0));
        assert!(deviations(&sparse, &curve_bands_db()).is_none());
    }

    #[test]
    fn reference_means_align_each_reference_first() {
        let a: [Option<f64>; OCTAVE_BANDS] = std::array::from_fn(|b| Some(b as f64));
        let b: [Option<f64>; OCTAVE_BANDS] = std::array::from_fn(|b| Some(b as f64 - 30.0));
        let mean = mean_reference_bands(&[a, b]).unwrap();
        // Same shape at different levels: the mean has that shape.
        let d = deviations(&a, &mean).unwrap();
        assert!(d.iter().all(|x| x.deviation_db.abs() < 1e-9), "{d:?}");
        assert!(mean_reference_bands(&[]).is_none());
        assert_eq!(describe(250.0, 5.0), "Muddy");
        assert_eq!(describe(8_000.0, -5.0), "Dark");
        assert_eq!(band_name(4_000.0), "4 kHz");
        // Sixth-octave bands of equal power: every full octave band holds six of them (+7.8 dB).
        let sixths = [-30.0f32; crate::reference::analysis::SPECTRUM_BANDS];
        let octaves = octave_bands_from_sixths(&sixths);
        for band in 1..9 {
            assert!(
                (octaves[band].unwrap() - (-30.0 + 10.0 * 6f64.log10())).abs() < 1e-6,
                "{band}: {octaves:?}"
            );
        }
    }
}
