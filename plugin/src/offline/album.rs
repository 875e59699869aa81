//! `parity analyze --album`: album-level figures and consistency. The album's integrated
//! loudness and loudness range are measured over the tracks played back to back (one BS.1770
//! measurement of the whole programme, as EBU R 128 treats an album), the album true peak is the
//! highest track's, and each track's loudness and tonal balance are compared with the album's.

use serde::Serialize;

use super::analysis::{Analysis, OCTAVE_CENTRES_HZ};
use super::compare::{rms, BandDifference};

/// Loudness spread between the loudest and the quietest track up to which an album is
/// consistent, LU (quiet songs may sit a little lower on purpose).
pub const CONSISTENT_SPREAD_LU: f64 = 3.0;

/// Tonal difference (RMS over octave bands) from the album's balance up to which a track is
/// consistent, dB.
pub const CONSISTENT_TONAL_RMS_DB: f64 = 3.0;

/// One track within the album.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlbumTrack {
    /// The track's name (path as given).
    pub file: String,
    /// Track integrated loudness minus the album's, LU.
    pub loudness_deviation_lu: Option<f64>,
    /// Tonal balance minus the album's mean balance, per octave band.
    pub tonal_deviation: Vec<BandDifference>,
    /// RMS of the tonal deviation, dB.
    pub tonal_deviation_rms_db: Option<f64>,
    /// Flags for this track ("louder than the album by 4.1 LU", …); empty when it fits.
    pub notes: Vec<String>,
}

/// The album report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlbumReport {
    /// Integrated loudness of the album played through, LUFS.
    pub integrated_lufs: Option<f64>,
    /// Loudness range of the album played through, LU.
    pub loudness_range_lu: Option<f64>,
    /// Highest true peak of any track, dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// Album PLR (true peak minus integrated), dB.
    pub plr_db: Option<f64>,
    /// Loudest minus quietest track integrated loudness, LU.
    pub loudness_spread_lu: Option<f64>,
    /// Total duration, seconds.
    pub duration_s: f64,
    /// The tracks in order.
    pub tracks: Vec<AlbumTrack>,
    /// True when loudness and tonal balance are consistent across the album.
    pub consistent: bool,
    /// The verdict in words.
    pub verdict: String,
}

/// The album's own loudness measurement (the tracks back to back), when it could be made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlbumLoudness {
    /// Integrated loudness of the whole album, LUFS.
    pub integrated_lufs: Option<f64>,
    /// Loudness range of the whole album, LU.
    pub loudness_range_lu: Option<f64>,
}

/// Builds the album report from each track's analysis (in album order, with names) and the
/// back-to-back measurement.
pub fn album_report(tracks: &[(String, &Analysis)], loudness: AlbumLoudness) -> AlbumReport {
    let integrated = loudness.integrated_lufs;
    let true_peak_dbtp = tracks.iter().filter_map(|(_, a)| a.true_peak_dbtp).reduce(f64::max);
    let track_loudness: Vec<f64> = tracks.iter().filter_map(|(_, a)| a.integrated_lufs).collect();
    let loudness_spread_lu = (!track_loudness.is_empty()).then(|| {
        track_loudness.iter().copied().fold(f64::MIN, f64::max)
            - track_loudness.iter().copied().fold(f64::MAX, f64::min)
    });
    // The album's balance: the mean of the tracks' balances, band by band (power mean in dB).
    let album_balance: Vec<Option<f64>> = OCTAVE_CENTRES_HZ
        .iter()
        .map(|&centre| {
            let levels: Vec<f64> = tracks
                .iter()
                .filter_map(|(_, a)| a.octave_bands.iter().find(|b| b.centre_hz == centre)?.relative_db)
                .collect();
            (!levels.is_empty()).then(|| {
                10.0 * (levels.iter().map(|db| 10f64.powf(db / 10.0)).sum::<f64>() / levels.len() as f64)
                    .log10()
            })
        })
        .collect();
    let mut consistent = loudness_spread_lu.is_none_or(|spread| spread <= CONSISTENT_SPREAD_LU);
    let album_tracks: Vec<AlbumTrack> = tracks
        .iter()
        .map(|(file, analysis)| {
            let tonal_deviation: Vec<BandDifference> = OCTAVE_CENTRES_HZ
                .iter()
                .zip(&album_balance)
                .map(|(&centre_hz, album)| {
                    let track = analysis
                        .octave_bands
                        .iter()
                        .find(|b| b.centre_hz == centre_hz)
                        .and_then(|b| b.relative_db);
                    BandDifference { centre_hz, difference_db: track.zip(*album).map(|(t, a)| t - a) }
                })
                .collect();
            let tonal_deviation_rms_db = rms(&tonal_deviation);
            let loudness_deviation_lu = analysis.integrated_lufs.zip(integrated).map(|(t, a)| t - a);
            let mut notes = Vec::new();
            if let Some(deviation) =
                loudness_deviation_lu.filter(|d| d.abs() > CONSISTENT_SPREAD_LU / 2.0 + 1.0)
            {
                notes.push(format!(
                    "{} than the album by {:.1} LU",
                    if deviation > 0.0 { "louder" } else { "quieter" },
                    deviation.abs()
                ));
            }
            if let Some(rms) = tonal_deviation_rms_db.filter(|&r| r > CONSISTENT_TONAL_RMS_DB) {
                let (band, worst) =
                    tonal_deviation.iter().filter_map(|b| Some((b.centre_hz, b.difference_db?))).fold(
                        (0.0, 0.0_f64),
                        |best, (hz, d)| if d.abs() > best.1.abs() { (hz, d) } else { best },
                    );
                notes.push(format!(
                    "tonal balance {rms:.1} dB from the album's (most at {}: {worst:+.1} dB)",
                    band_name(band)
                ));
                consistent = false;
            }
            if analysis.integrated_lufs.is_none() {
                notes.push("no loudness reading (silent or shorter than 400 ms)".to_owned());
            }
            AlbumTrack {
                file: file.clone(),
                loudness_deviation_lu,
                tonal_deviation,
                tonal_deviation_rms_db,
                notes,
            }
        })
        .collect();
    let flagged: Vec<&str> =
        album_tracks.iter().filter(|t| !t.notes.is_empty()).map(|t| t.file.as_str()).collect();
    let verdict = match (consistent, loudness_spread_lu) {
        (true, Some(spread)) => format!("consistent: tracks within {spread:.1} LU and of one tonal balance"),
        (true, None) => "no loudness readings".to_owned(),
        (false, spread) => format!(
            "inconsistent: {}check {}",
            spread
                .filter(|s| *s > CONSISTENT_SPREAD_LU)
                .map(|s| format!("tracks {s:.1} LU apart; "))
                .unwrap_or_default(),
            if flagged.is_empty() { "the spread".to_owned() } else { flagged.join(", ") }
        ),
    };
    AlbumReport {
        integrated_lufs: integrated,
        loudness_range_lu: loudness.loudness_range_lu,
        true_peak_dbtp,
        plr_db: true_peak_dbtp.zip(integrated).map(|(p, i)| p - i),
        loudness_spread_lu,
        duration_s: tracks.iter().map(|(_, a)| a.duration_s).sum(),
        tracks: album_tracks,
        consistent,
        verdict,
    }
}

/// "1 kHz", "63 Hz".
pub fn band_name(centre_hz: f64) -> String {
    if centre_hz >= 1_000.0 {
        format!("{} kHz", centre_hz / 1_000.0)
    } else {
        format!("{centre_hz} Hz")
    }
}

#[cfg(test)]
mod tests {
    use super::super::analysis::analyze;
    use super::*;

    fn track(level: f64, treble: f64, rate: f64) -> Vec<f32> {
        (0..(rate * 6.0) as usize)
            .map(|n| {
                let t = n as f64 / rate;
                (level
                    * ((std::f64::consts::TAU * 200.0 * t).sin()
                        + treble * (std::f64::consts::TAU * 6_000.0 * t).sin())) as f32
            })
            .collect()
    }

    #[test]
    fn a_consistent_album_passes_and_an_odd_track_is_named() {
        let rate = 48_000.0;
        let a = track(0.1, 0.3, rate);
        let b = track(0.12, 0.3, rate);
        let analyses = [analyze(&[&a, &a], rate), analyze(&[&b, &b], rate)];
        let named: Vec<(String, &Analysis)> =
            analyses.iter().enumerate().map(|(i, a)| (format!("{i}.wav"), a)).collect();
        let loudness = AlbumLoudness { integrated_lufs: Some(-20.0), loudness_range_lu: Some(2.0) };
        let report = album_report(&named, loudness);
        assert!(report.consistent, "{}", report.verdict);
        assert!((report.loudness_spread_lu.unwrap() - 1.58).abs() < 0.05);

        // A third track much brighter and much louder is flagged by name.
        let odd = track(0.4, 3.0, rate);
        let odd_analysis = analyze(&[&odd, &odd], rate);
        let mut named = named.clone();
        named.push(("odd.wav".to_owned(), &odd_analysis));
        let report = album_report(&named, loudness);
        assert!(!report.consistent);
        assert!(report.verdict.contains("odd.wav"), "{}", report.verdict);
        let odd_track = &report.tracks[2];
        assert!(odd_track.notes.iter().any(|n| n.contains("louder")), "{:?}", odd_track.notes);
        assert!(odd_track.notes.iter().any(|n| n.contains("tonal balance")), "{:?}", odd_track.notes);
        assert!(report.tracks[0].notes.iter().all(|n| !n.contains("tonal")), "{:?}", report.tracks[0].notes);
    }
}
