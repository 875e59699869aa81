//! Whole-file analysis: the plugin's own meters ([`MeterSet`]: BS.1770-5 loudness, loudness
//! range, 8x true peak, sample peak, crest) run over a decoded file, plus the figures only a whole
//! file has: whole-file stereo correlation (full band and below 150 Hz), DC offset, a long-term
//! average spectrum (Welch) in octave bands for tonal balance, and the 10 Hz loudness curve for
//! the plots.

use serde::Serialize;

use crate::dsp::biquad::{AnalogSection, Biquad, Separate};
use crate::meters::{amplitude_to_db, MeterSet};
use crate::reference::analysis::{band_power, spectrum_fft_size, LongTermSpectrum, StereoSums};

pub use crate::delivery::OCTAVE_CENTRES_HZ;

/// Upper edge of the low band of [`Analysis::low_band_correlation`], Hz (the plugin's stereo
/// meter uses the same split).
pub const LOW_BAND_HZ: f64 = crate::meters::stereo::LOW_CROSSOVER_HZ;

/// Hop of the loudness curve ([`LoudnessCurve`]), seconds: the meters' 10 Hz history clock.
pub const CURVE_HOP_S: f64 = 0.1;

/// True peaks above this count as overs, dBTP.
pub const OVER_THRESHOLD_DBTP: f64 = 0.0;

/// Fractional-octave resolution of the plotted spectrum (bands per octave).
const PLOT_BANDS_PER_OCTAVE: f64 = 6.0;

/// Momentary and short-term loudness every [`CURVE_HOP_S`], for plots (`NaN` = no reading yet or
/// silence).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoudnessCurve {
    /// Momentary loudness per hop, LUFS.
    pub momentary_lufs: Vec<f32>,
    /// Short-term loudness per hop, LUFS.
    pub short_term_lufs: Vec<f32>,
}

/// One octave band of the long-term average spectrum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OctaveBand {
    /// Nominal centre frequency, Hz.
    pub centre_hz: f64,
    /// Band level relative to the integrated loudness, dB (`None`: above Nyquist or silent).
    /// Comparable between files of different loudness: the tonal balance.
    pub relative_db: Option<f64>,
}

/// A smoothed long-term spectrum for plots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlotSpectrum {
    /// Band centre frequencies, Hz (ascending).
    pub frequencies_hz: Vec<f32>,
    /// Band power levels, dB relative to a full-scale sine.
    pub levels_db: Vec<f32>,
}

/// Everything `parity analyze` reports about one file. `None` (JSON `null`) means "no reading":
/// too short, silent, or not applicable (correlation of a mono file).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Integrated loudness (BS.1770-5, gated), LUFS.
    pub integrated_lufs: Option<f64>,
    /// Loudness range (EBU Tech 3342), LU.
    pub loudness_range_lu: Option<f64>,
    /// Highest momentary loudness (400 ms), LUFS.
    pub max_momentary_lufs: Option<f64>,
    /// Highest short-term loudness (3 s), LUFS.
    pub max_short_term_lufs: Option<f64>,
    /// Highest true peak over all channels (BS.1770-5 Annex 2, the plugin's 8x detector), dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// Highest sample peak over all channels, dBFS.
    pub sample_peak_dbfs: Option<f64>,
    /// Peak-to-loudness ratio: true peak minus integrated loudness, dB.
    pub plr_db: Option<f64>,
    /// Peak-to-short-term-loudness ratio at the most compressed moment: the lowest value of
    /// Parity's PSR meter (3 s true-peak maximum minus short-term loudness) over the file,
    /// counting only passages within 20 LU of the integrated loudness, dB.
    pub psr_db: Option<f64>,
    /// Crest factor (sample peak over RMS since the start, loudest channel), dB.
    pub crest_db: Option<f64>,
    /// Whole-file stereo correlation, −1…+1 (`None` for mono or silence).
    pub correlation: Option<f64>,
    /// Whole-file correlation below [`LOW_BAND_HZ`] (mono compatibility of the bass).
    pub low_band_correlation: Option<f64>,
    /// Whole-file stereo width `200·Σside²/(Σmid² + Σside²)`, percent (0 mono, 100 side as
    /// loud as mid, 200 anti-phase), as the plugin's width meter defines it.
    pub width_percent: Option<f64>,
    /// DC offset of each channel (mean sample value), dBFS (`None` for exactly zero).
    pub dc_offset_dbfs: Vec<Option<f64>>,
    /// Samples whose true peak exceeds 0 dBTP (they clip a converter or a lossy encode), summed
    /// over the channels.
    pub overs: u64,
    /// Separate over events (overs closer than the meter's gap belong to one event), summed
    /// over the channels.
    pub over_events: u64,
    /// Clipped runs: at least 3 consecutive samples at −0.1 dBFS or above on one rail
    /// ([`crate::meters::inspector`]).
    pub clipped_runs: u64,
    /// Where the first clipped runs start, seconds (at most 8).
    pub clip_positions_s: Vec<f64>,
    /// Flat-top runs: at least 3 identical samples at −20 dBFS or above.
    pub flat_top_runs: u64,
    /// L/R balance `10·log10(Σl²/Σr²)`, dB (positive = left louder; ±∞ with one channel silent);
    /// `None` for mono or silence.
    pub balance_db: Option<f64>,
    /// Silence (every sample at or below −60 dBFS) before the first sound, s.
    pub leading_silence_s: f64,
    /// Silence after the last sound, s.
    pub trailing_silence_s: f64,
    /// Level of the last ~10 ms (channel powers summed), dBFS; −∞ for a silent end.
    pub end_level_dbfs: f64,
    /// Duration, seconds.
    pub duration_s: f64,
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// Channel count.
    pub channels: usize,
    /// Tonal balance: octave-band levels relative to the integrated loudness.
    pub octave_bands: Vec<OctaveBand>,
    /// The loudness curve (plots only; not in the JSON).
    #[serde(skip)]
    pub curve: LoudnessCurve,
    /// The smoothed long-term spectrum (plots only; not in the JSON).
    #[serde(skip)]
    pub spectrum: PlotSpectrum,
}

/// Analyses planar audio (one slice per channel, equal lengths, mono or stereo; full scale 1.0)
/// at `sample_rate_hz`. Non-finite samples count as silence, as the plugin's sanitizer makes them.
pub fn analyze(channels: &[&[f32]], sample_rate_hz: f64) -> Analysis {
    let channel_count = channels.len();
    let frames = channels.iter().map(|c| c.len()).min().unwrap_or(0);
    let mut meters = MeterSet::new(sample_rate_hz, channel_count.max(1));
    meters.true_peak.set_over_threshold_dbtp(OVER_THRESHOLD_DBTP);
    let mut curve = LoudnessCurve::default();
    // Less than one 100 ms hop per call, so every hop of the curve is seen.
    let chunk = ((sample_rate_hz / 20.0) as usize).max(1);
    let mut clean: Vec<Vec<f32>> = vec![vec![0.0; chunk]; channel_count];
    let mut hops_seen = 0;
    let mut start = 0;
    while start < frames {
        let end = (start + chunk).min(frames);
        for (out, channel) in clean.iter_mut().zip(channels) {
            for (o, &x) in out.iter_mut().zip(&channel[start..end]) {
                *o = crate::dsp::sanitizer::sanitize_sample(x);
            }
        }
        let block: Vec<&[f32]> = clean.iter().map(|c| &c[..end - start]).collect();
        meters.process(&block);
        let hops = meters.loudness.hops_done();
        if hops != hops_seen {
            hops_seen = hops;
            let reading = |value: Option<f64>| value.filter(|v| v.is_finite()).map_or(f32::NAN, |v| v as f32);
            curve.momentary_lufs.push(reading(meters.loudness.hop_momentary_lufs()));
            curve.short_term_lufs.push(reading(meters.loudness.hop_short_term_lufs()));
        }
        start = end;
    }

    let loudness = &meters.loudness;
    let finite = |value: Option<f64>| value.filter(|v| v.is_finite());
    let integrated_lufs = finite(loudness.integrated_lufs());
    let true_peak_dbtp = finite(Some(meters.true_peak.max_true_peak_dbtp()));
    let sample_peak_dbfs = (0..channel_count)
        .filter_map(|c| meters.true_peak.sample_peak_dbfs(c))
        .filter(|v| v.is_finite())
        .reduce(f64::max);
    let psr_db = finite(meters.loud_psr_db());
    let (full, low) = match channels {
        [left, right] => stereo_sums(left, right, sample_rate_hz),
        _ => (None, None),
    };
    let dc_offset_dbfs = channels
        .iter()
        .map(|c| {
            let sum: f64 = c.iter().map(|&x| f64::from(crate::dsp::sanitizer::sanitize_sample(x))).sum();
            let mean = if c.is_empty() { 0.0 } else { sum / c.len() as f64 };
            finite(Some(amplitude_to_db(mean.abs())))
        })
        .collect();
    let power = long_term_power_spectrum(channels, sample_rate_hz);
    let inspector = &meters.inspector;
    Analysis {
        integrated_lufs,
        loudness_range_lu: finite(loudness.loudness_range_lu()),
        max_momentary_lufs: finite(loudness.max_momentary_lufs()),
        max_short_term_lufs: finite(loudness.max_short_term_lufs()),
        true_peak_dbtp,
        sample_peak_dbfs,
        plr_db: true_peak_dbtp.zip(integrated_lufs).map(|(peak, integrated)| peak - integrated),
        psr_db,
        crest_db: finite(meters.level.crest_db()),
        correlation: full.map(|sums| sums.correlation()),
        low_band_correlation: low.map(|sums| sums.correlation()),
        width_percent: full.map(|sums| sums.width_percent()),
        dc_offset_dbfs,
        overs: (0..channel_count).filter_map(|c| meters.true_peak.over_count(c)).sum(),
        over_events: (0..channel_count).filter_map(|c| meters.true_peak.over_event_count(c)).sum(),
        clipped_runs: inspector.clipped_runs(),
        clip_positions_s: inspector
            .clip_positions()
            .iter()
            .map(|&frame| frame as f64 / sample_rate_hz)
            .collect(),
        flat_top_runs: inspector.flat_top_runs(),
        balance_db: full
            .filter(|sums| sums.ll + sums.rr > 0.0)
            .map(|sums| 10.0 * sums.ll.log10() - 10.0 * sums.rr.log10()),
        leading_silence_s: inspector.leading_silence_frames() as f64 / sample_rate_hz,
        trailing_silence_s: inspector.trailing_silence_frames() as f64 / sample_rate_hz,
        end_level_dbfs: inspector.end_level_dbfs(),
        duration_s: frames as f64 / sample_rate_hz,
        sample_rate_hz,
        channels: channel_count,
        octave_bands: octave_bands(&power, sample_rate_hz, integrated_lufs),
        curve,
        spectrum: plot_spectrum(&power, sample_rate_hz),
    }
}

/// Sums of the whole file (`.0`) and of the part below [`LOW_BAND_HZ`] (`.1`, a 4th-order
/// Butterworth low-pass at `sample_rate_hz`), in one pass. `None` where either side is silent.
fn stereo_sums(left: &[f32], right: &[f32], sample_rate_hz: f64) -> (Option<StereoSums>, Option<StereoSums>) {
    let section = |q| AnalogSection::lowpass2(LOW_BAND_HZ, q).matched(sample_rate_hz);
    // Butterworth 4th order: two sections with Q = 0.5412 and 1.3066.
    // One f64 biquad per section, the two channels as its lanes.
    let mut sections = [section(0.541_196_1), section(1.306_563)].map(|c| Biquad::<2>::new([c; 2]));
    let mut full = StereoSums::default();
    let mut low = full;
    for (&l, &r) in left.iter().zip(right) {
        let (l, r) = (
            f64::from(crate::dsp::sanitizer::sanitize_sample(l)),
            f64::from(crate::dsp::sanitizer::sanitize_sample(r)),
        );
        full.add(l, r);
        let [low_l, low_r] = sections.iter_mut().fold([l, r], |x, section| section.tick::<Separate>(x));
        low.add(low_l, low_r);
    }
    let heard = |sums: StereoSums| (sums.ll > 1e-20 && sums.rr > 1e-20).then_some(sums);
    (heard(full), heard(low))
}

/// Welch's long-term average power spectrum ([`LongTermSpectrum`]: Hann window, back-to-back
/// segments), averaged over the channels, scaled so that a full-scale sine reads 0 dB in its
/// bins' sum. Returns power per bin (`fft_size / 2 + 1` bins); empty for files shorter than one
/// window.
fn long_term_power_spectrum(channels: &[&[f32]], sample_rate_hz: f64) -> Vec<f64> {
    let fft_size = spectrum_fft_size(sample_rate_hz);
    let frames = channels.iter().map(|c| c.len()).min().unwrap_or(0);
    if frames < fft_size || channels.is_empty() {
        return Vec::new();
    }
    let mut spectrum = LongTermSpectrum::new(fft_size);
    for channel in channels {
        for segment in channel[..frames].chunks_exact(fft_size) {
            spectrum.add_segment(|input| {
                for (slot, &x) in input.iter_mut().zip(segment) {
                    *slot = crate::dsp::sanitizer::sanitize_sample(x);
                }
            });
        }
    }
    spectrum.power()
}

/// Octave-band levels relative to the integrated loudness (bands above 0.45·fs left out).
fn octave_bands(power: &[f64], sample_rate_hz: f64, integrated_lufs: Option<f64>) -> Vec<OctaveBand> {
    OCTAVE_CENTRES_HZ
        .iter()
        .map(|&centre_hz| {
            let (low, high) = (centre_hz / 2f64.sqrt(), centre_hz * 2f64.sqrt());
            let relative_db = if high <= 0.5 * sample_rate_hz {
                integrated_lufs.and_then(|integrated| {
                    band_power(power, sample_rate_hz, low, high)
                        .filter(|&p| p > 0.0)
                        .map(|p| 10.0 * p.log10() - integrated)
                })
            } else {
                None
            };
            OctaveBand { centre_hz, relative_db }
        })
        .collect()
}

/// 1/6-octave power levels from 20 Hz up to 20 kHz or 0.45·fs, for the spectrum plot.
fn plot_spectrum(power: &[f64], sample_rate_hz: f64) -> PlotSpectrum {
    let mut spectrum = PlotSpectrum::default();
    let top_hz = (0.45 * sample_rate_hz).min(20_000.0);
    let step = 2f64.powf(1.0 / PLOT_BANDS_PER_OCTAVE);
    let mut centre = 20.0;
    while centre <= top_hz {
        let half = step.sqrt();
        if let Some(p) = band_power(power, sample_rate_hz, centre / half, centre * half).filter(|&p| p > 0.0)
        {
            spectrum.frequencies_hz.push(centre as f32);
            spectrum.levels_db.push((10.0 * p.log10()) as f32);
        }
        centre *= step;
    }
    spectrum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(frequency_hz: f64, amplitude: f64, seconds: f64, rate: f64) -> Vec<f32> {
        (0..(seconds * rate) as usize)
            .map(|n| (amplitude * (std::f64::consts::TAU * frequency_hz * n as f64 / rate).sin()) as f32)
            .collect()
    }

    #[test]
    fn a_stereo_sine_reads_as_bs1770_defines_it() {
        // 997 Hz at −20 dBFS in both channels reads −20 LUFS (BS.1770's −0.691 dB offset cancels
        // the K-weighting gain at 1 kHz; two channels of a sine's mean square sum to its peak²).
        let rate = 48_000.0;
        let tone = sine(997.0, 0.1, 10.0, rate);
        let analysis = analyze(&[&tone, &tone], rate);
        let integrated = analysis.integrated_lufs.unwrap();
        assert!((integrated + 20.0).abs() < 0.05, "{integrated}");
        assert!((analysis.sample_peak_dbfs.unwrap() + 20.0).abs() < 0.01);
        assert!((analysis.true_peak_dbtp.unwrap() + 20.0).abs() < 0.05);
        assert!((analysis.correlation.unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(analysis.width_percent, Some(0.0));
        assert!(analysis.plr_db.unwrap().abs() < 0.1);
        assert!(analysis.loudness_range_lu.unwrap() < 0.1);
        assert_eq!(analysis.channels, 2);
        assert!((analysis.duration_s - 10.0).abs() < 1e-9);
        // ~100 hops of curve, and they read the tone once the windows are full.
        assert!((analysis.curve.short_term_lufs.len() as i64 - 100).abs() <= 1);
        assert!((analysis.curve.short_term_lufs[50] + 20.0).abs() < 0.05);
        // The 1 kHz octave band holds nearly all the power: its level relative to the
        // integrated loudness is the sine's power (−20 dB re full-scale sine) minus −20 LUFS.
        let band = analysis.octave_bands.iter().find(|b| b.centre_hz == 1_000.0).unwrap();
        assert!(band.relative_db.unwrap().abs() < 0.3, "{band:?}");
        let others = analysis.octave_bands.iter().filter(|b| b.centre_hz != 1_000.0);
        assert!(others.filter_map(|b| b.relative_db).all(|db| db < -40.0));
    }

    #[test]
    fn correlation_sees_polarity_and_the_low_band_separately() {
        let rate = 44_100.0;
        let bass = sine(60.0, 0.3, 5.0, rate);
        let treble = sine(3_000.0, 0.3, 5.0, rate);
        // Bass in phase, treble out of phase between the channels.
        let left: Vec<f32> = bass.iter().zip(&treble).map(|(b, t)| b + t).collect();
        let right: Vec<f32> = bass.iter().zip(&treble).map(|(b, t)| b - t).collect();
        let analysis = analyze(&[&left, &right], rate);
        assert!(analysis.correlation.unwrap().abs() < 0.05, "{:?}", analysis.correlation);
        assert!(analysis.low_band_correlation.unwrap() > 0.99, "{:?}", analysis.low_band_correlation);
        // Equal bass (mid) and treble (side) energy: width 100 %.
        assert!((analysis.width_percent.unwrap() - 100.0).abs() < 1.0, "{:?}", analysis.width_percent);
        let inverted: Vec<f32> = bass.iter().map(|b| -b).collect();
        let analysis = analyze(&[&bass, &inverted], rate);
        assert!(analysis.low_band_correlation.unwrap() < -0.99);
    }

    #[test]
    fn dc_offset_silence_and_mono_are_reported_as_such() {
        let rate = 48_000.0;
        let offset = vec![0.01_f32; 48_000];
        let analysis = analyze(&[&offset], rate);
        assert!((analysis.dc_offset_dbfs[0].unwrap() + 40.0).abs() < 1e-3);
        assert_eq!(analysis.correlation, None);
        let silence = vec![0.0_f32; 96_000];
        let analysis = analyze(&[&silence, &silence], rate);
        assert_eq!(analysis.integrated_lufs, None);
        assert_eq!(analysis.true_peak_dbtp, None);
        assert_eq!(analysis.dc_offset_dbfs, vec![None, None]);
        assert_eq!(analysis.correlation, None);
        assert!(analysis.octave_bands.iter().all(|b| b.relative_db.is_none()));
        // Garbage samples are metered as the plugin's sanitizer makes them (silence).
        let garbage = vec![f32::NAN; 48_000];
        let analysis = analyze(&[&garbage, &garbage], rate);
        assert_eq!(analysis.integrated_lufs, None);
        let empty = analyze(&[&[], &[]], rate);
        assert_eq!(empty.duration_s, 0.0);
    }

    #[test]
    fn psr_is_the_most_compressed_moment() {
        // A quiet tone and then a loud square (crushed) passage: the lowest PSR is the square's
        // (its loudness is 3 dB above a sine of the same peak, and K-weighting lifts its
        // harmonics), well below the stereo sine's 0 dB.
        let rate = 48_000.0;
        let mut signal = sine(1_000.0, 0.1, 8.0, rate);
        signal.extend(sine(1_000.0, 0.5, 8.0, rate).iter().map(|x| x.signum() * 0.5));
        let analysis = analyze(&[&signal, &signal], rate);
        let sine_only = analyze(&[&signal[..8 * 48_000], &signal[..8 * 48_000]], rate);
        assert!(sine_only.psr_db.unwrap().abs() < 0.1, "{:?}", sine_only.psr_db);
        assert!(analysis.psr_db.unwrap() < sine_only.psr_db.unwrap() - 1.0, "{:?}", analysis.psr_db);
    }
}
