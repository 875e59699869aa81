//! Delivery targets and the readiness checks: whether a mix is ready to master and whether a
//! master is ready to deliver, in plain words, shared by the plugin's Checks page and
//! `parity analyze` (field `checks`).
//!
//! * [`DeliveryTarget`]: what a master must (or should) meet — loudness, true-peak ceiling,
//!   format — read from a row of `assets/platforms.csv` (the same table the platform preview
//!   uses, one source and one check date per row) or the user's custom values.
//! * [`Measurements`]: every reading the checks use, gathered from the offline analysis
//!   ([`Measurements::from_analysis`]) or from the live meters (the editor builds it from the
//!   engine's views). The definitions are the same in both places: the same meter code
//!   ([`crate::meters::MeterSet`], [`crate::meters::inspector`], the stereo meter's
//!   since-reset integration, the long-term octave bands).
//! * [`checks`]: the checks, each green / amber / red (or grey while there is not enough
//!   audio) with its value, its threshold and one sentence of advice.
//! * [`tonal`]: tonal balance per octave band against a target curve or the loaded references.

pub mod checks;
pub mod tonal;

pub use checks::{evaluate, Check, Group, Status};

use crate::monitor::platform::{self, DeliveryChannels, DeliveryKind, DitherRule, Platform};
#[cfg(feature = "cli")]
use crate::offline::analysis::Analysis;

/// Centre frequencies of the octave bands of the tonal figures (IEC 61260 nominal), Hz.
pub const OCTAVE_CENTRES_HZ: [f64; 10] =
    [31.5, 63.0, 125.0, 250.0, 500.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0, 16_000.0];

/// Id of the custom target (never a row id of the table).
pub const CUSTOM_TARGET_ID: &str = "custom";

/// Tolerance used when a target publishes none, LU (the common ±1 LU of EBU R 128 and Apple).
pub const DEFAULT_TOLERANCE_LU: f32 = 1.0;

/// Number of octave bands of the tonal figures (31.5 Hz … 16 kHz).
pub const OCTAVE_BANDS: usize = OCTAVE_CENTRES_HZ.len();

/// A delivery target: what the checks read the master against.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryTarget {
    /// The table row's id, or [`CUSTOM_TARGET_ID`].
    pub id: String,
    /// Display name.
    pub name: String,
    /// How binding the loudness is.
    pub kind: DeliveryKind,
    /// The loudness the meters are read against, LUFS: the delivery loudness, else the
    /// platform's playback reference (Apple Music's Sound Check level); `None` when there is no
    /// loudness at all (CD).
    pub target_lufs: Option<f32>,
    /// ± tolerance on the loudness, LU ([`DEFAULT_TOLERANCE_LU`] when none is published).
    pub tolerance_lu: f32,
    /// Whether the tolerance is published (else it is Parity's default).
    pub tolerance_published: bool,
    /// Maximum true peak of the delivered master, dBTP.
    pub ceiling_dbtp: f32,
    /// Louder than this (LUFS), the master must keep its true peak below
    /// [`Self::loud_ceiling_dbtp`] instead (Spotify).
    pub loud_above_lufs: Option<f32>,
    /// The loud-master ceiling, dBTP.
    pub loud_ceiling_dbtp: Option<f32>,
    /// The platform's playback rule (for the "what will the platform do" figure).
    pub playback: Option<&'static Platform>,
    /// Accepted sample rates, Hz (empty: any).
    pub sample_rates_hz: Vec<u32>,
    /// Export rate to use, Hz (`None`: the session rate).
    pub preferred_rate_hz: Option<u32>,
    /// Smallest accepted word length, bits.
    pub min_bits: u32,
    /// Word length to export, bits (the dither stage's word length when the target is applied).
    pub preferred_bits: u32,
    /// Accepted containers.
    pub formats: Vec<String>,
    /// Accepted channel layouts.
    pub channels: DeliveryChannels,
    /// When dither is needed.
    pub dither: DitherRule,
    /// Where the delivery numbers come from.
    pub source: String,
}

impl DeliveryTarget {
    /// The target of a table row.
    pub fn from_platform(row: &'static Platform) -> Self {
        let d = &row.delivery;
        Self {
            id: row.id.clone(),
            name: row.name.clone(),
            kind: d.kind,
            target_lufs: d.loudness_lufs.or(row.target_lufs),
            tolerance_lu: d.tolerance_lu.unwrap_or(DEFAULT_TOLERANCE_LU),
            tolerance_published: d.tolerance_lu.is_some(),
            ceiling_dbtp: d.true_peak_dbtp,
            loud_above_lufs: d.loud_above_lufs,
            loud_ceiling_dbtp: d.loud_true_peak_dbtp,
            playback: Some(row),
            sample_rates_hz: d.sample_rates_hz.clone(),
            preferred_rate_hz: d.preferred_rate_hz,
            min_bits: d.min_bits,
            preferred_bits: d.preferred_bits,
            formats: d.formats.clone(),
            channels: d.channels,
            dither: d.dither,
            source: d.source.clone(),
        }
    }

    /// The user's own target: `target_lufs` ± 1 LU (recommended), ceiling `ceiling_dbtp`, 24-bit
    /// WAV/FLAC at the session rate, stereo. Non-finite values fall back to −14 LUFS / −1 dBTP.
    pub fn custom(target_lufs: f32, ceiling_dbtp: f32) -> Self {
        let loudness = if target_lufs.is_finite() { target_lufs.clamp(-40.0, 0.0) } else { -14.0 };
        let ceiling = if ceiling_dbtp.is_finite() { ceiling_dbtp.clamp(-10.0, 0.0) } else { -1.0 };
        Self {
            id: CUSTOM_TARGET_ID.to_owned(),
            name: "Custom".to_owned(),
            kind: DeliveryKind::Recommended,
            target_lufs: Some(loudness),
            tolerance_lu: DEFAULT_TOLERANCE_LU,
            tolerance_published: false,
            ceiling_dbtp: ceiling,
            loud_above_lufs: None,
            loud_ceiling_dbtp: None,
            playback: None,
            sample_rates_hz: Vec::new(),
            preferred_rate_hz: None,
            min_bits: 16,
            preferred_bits: 24,
            formats: vec!["wav".to_owned(), "flac".to_owned()],
            channels: DeliveryChannels::MonoOrStereo,
            dither: DitherRule::WhenReducing,
            source: "your own values".to_owned(),
        }
    }

    /// The target with this id: a table row, or the custom target with the given values.
    pub fn by_id(id: &str, custom_lufs: f32, custom_ceiling_dbtp: f32) -> Self {
        platform::platform(id)
            .map_or_else(|| Self::custom(custom_lufs, custom_ceiling_dbtp), Self::from_platform)
    }

    /// Every target: the table's rows in order, then the custom one.
    pub fn all(custom_lufs: f32, custom_ceiling_dbtp: f32) -> Vec<Self> {
        platform::platforms()
            .iter()
            .map(Self::from_platform)
            .chain(std::iter::once(Self::custom(custom_lufs, custom_ceiling_dbtp)))
            .collect()
    }

    /// The true-peak ceiling for a master of loudness `integrated_lufs` (the loud-master rule
    /// where it applies), dBTP.
    pub fn ceiling_for_dbtp(&self, integrated_lufs: Option<f64>) -> f32 {
        match (self.loud_above_lufs, self.loud_ceiling_dbtp, integrated_lufs) {
            (Some(above), Some(ceiling), Some(loudness)) if loudness > f64::from(above) => {
                ceiling.min(self.ceiling_dbtp)
            }
            _ => self.ceiling_dbtp,
        }
    }

    /// The accepted sample rates as shown ("44.1/48.0 kHz", or "any rate").
    pub fn rates_text(&self) -> String {
        if self.sample_rates_hz.is_empty() {
            return "any rate".to_owned();
        }
        let list: Vec<String> =
            self.sample_rates_hz.iter().map(|r| format!("{:.1}", f64::from(*r) / 1e3)).collect();
        format!("{} kHz", list.join("/"))
    }

    /// The peak-to-loudness ratio a master exactly at the target's loudness and ceiling has, dB:
    /// how much dynamics the target leaves room for (`None` without a loudness).
    pub fn room_plr_db(&self) -> Option<f32> {
        self.target_lufs.map(|target| self.ceiling_dbtp - target)
    }
}

/// The file format of what is checked (offline: the file; live: the chain's output stage).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FormatInfo {
    /// PCM word length, bits (`None` when unknown or lossy).
    pub bits: Option<u32>,
    /// Floating-point samples.
    pub float: bool,
    /// Container or codec, lower case (`wav`, `flac`, `mp3` …; `None` live).
    pub container: Option<String>,
    /// Whether dither is applied at the word length (`None`: unknown, e.g. a file).
    pub dithered: Option<bool>,
}

/// Everything the checks read. `None` means "not measured yet" (too little audio, silence or a
/// mono signal for the stereo readings); the check then reads grey.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Measurements {
    /// Integrated loudness (BS.1770), LUFS.
    pub integrated_lufs: Option<f64>,
    /// Loudness range (EBU Tech 3342), LU.
    pub loudness_range_lu: Option<f64>,
    /// Highest true peak, dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// Highest sample peak, dBFS.
    pub sample_peak_dbfs: Option<f64>,
    /// Peak-to-loudness ratio (true peak − integrated), dB.
    pub plr_db: Option<f64>,
    /// Lowest PSR of the loud passages, dB ([`crate::meters::MeterSet::loud_psr_db`]).
    pub loud_psr_db: Option<f64>,
    /// True-peak overs above 0 dBTP (separate events; `None` live, where the meter counts overs
    /// against its own −1 dBTP threshold).
    pub true_peak_overs: Option<u64>,
    /// Clipped runs ([`crate::meters::inspector`]).
    pub clipped_runs: u64,
    /// Where the first clipped runs start, seconds.
    pub clip_positions_s: Vec<f64>,
    /// Flat-top runs.
    pub flat_top_runs: u64,
    /// Full-band correlation over the whole programme.
    pub correlation: Option<f64>,
    /// Correlation below 150 Hz over the whole programme.
    pub low_band_correlation: Option<f64>,
    /// L/R balance over the whole programme, dB (positive = left louder).
    pub balance_db: Option<f64>,
    /// DC offset of the worst channel, dBFS.
    pub dc_offset_dbfs: Option<f64>,
    /// Long-term octave-band levels (31.5 Hz … 16 kHz), dB on any common scale (the tonal check
    /// aligns them); `None` above 0.45·fs or for empty bands.
    pub octave_bands_db: [Option<f64>; OCTAVE_BANDS],
    /// Silence before the first sound, s (`None` live: not judged on a running session).
    pub leading_silence_s: Option<f64>,
    /// Silence after the last sound, s (`None` live).
    pub trailing_silence_s: Option<f64>,
    /// Level of the last ~10 ms, dBFS (`None` live).
    pub end_level_dbfs: Option<f64>,
    /// Audio measured, s.
    pub duration_s: f64,
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// Channels.
    pub channels: usize,
    /// Format of what is delivered.
    pub format: FormatInfo,
}

impl Measurements {
    /// The measurements of an offline analysis (the file's format in `format`).
    #[cfg(feature = "cli")]
    pub fn from_analysis(analysis: &Analysis, format: FormatInfo) -> Self {
        let mut octave_bands_db = [None; OCTAVE_BANDS];
        for (slot, band) in octave_bands_db.iter_mut().zip(&analysis.octave_bands) {
            *slot = band.relative_db;
        }
        Self {
            integrated_lufs: analysis.integrated_lufs,
            loudness_range_lu: analysis.loudness_range_lu,
            true_peak_dbtp: analysis.true_peak_dbtp,
            sample_peak_dbfs: analysis.sample_peak_dbfs,
            plr_db: analysis.plr_db,
            loud_psr_db: analysis.psr_db,
            true_peak_overs: Some(analysis.over_events),
            clipped_runs: analysis.clipped_runs,
            clip_positions_s: analysis.clip_positions_s.clone(),
            flat_top_runs: analysis.flat_top_runs,
            correlation: analysis.correlation,
            low_band_correlation: analysis.low_band_correlation,
            balance_db: analysis.balance_db,
            dc_offset_dbfs: analysis.dc_offset_dbfs.iter().flatten().copied().reduce(f64::max),
            octave_bands_db,
            leading_silence_s: Some(analysis.leading_silence_s),
            trailing_silence_s: Some(analysis.trailing_silence_s),
            end_level_dbfs: Some(analysis.end_level_dbfs),
            duration_s: analysis.duration_s,
            sample_rate_hz: analysis.sample_rate_hz,
            channels: analysis.channels,
            format,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_come_from_the_table_or_the_custom_values() {
        let spotify = DeliveryTarget::by_id("spotify", -9.0, -0.3);
        assert_eq!(
            (spotify.target_lufs, spotify.ceiling_dbtp, spotify.kind),
            (Some(-14.0), -1.0, DeliveryKind::Recommended)
        );
        assert_eq!(spotify.ceiling_for_dbtp(Some(-9.0)), -2.0);
        assert_eq!(spotify.ceiling_for_dbtp(Some(-15.0)), -1.0);
        assert_eq!(spotify.ceiling_for_dbtp(Some(-14.0)), -1.0);
        assert_eq!(spotify.ceiling_for_dbtp(None), -1.0);
        assert_eq!(spotify.room_plr_db(), Some(13.0));
        let ebu = DeliveryTarget::by_id("ebu_r128", -9.0, -0.3);
        assert_eq!(
            (ebu.kind, ebu.tolerance_lu, ebu.tolerance_published),
            (DeliveryKind::Required, 1.0, true)
        );
        let atsc = DeliveryTarget::by_id("atsc_a85", -9.0, -0.3);
        assert_eq!((atsc.target_lufs, atsc.tolerance_lu, atsc.ceiling_dbtp), (Some(-24.0), 2.0, -2.0));
        // Apple Music sets no delivery loudness: the meters read against Sound Check's −16.
        let apple = DeliveryTarget::by_id("apple_music", -9.0, -0.3);
        assert_eq!((apple.kind, apple.target_lufs), (DeliveryKind::None, Some(-16.0)));
        let cd = DeliveryTarget::by_id("cd", -9.0, -0.3);
        assert_eq!((cd.target_lufs, cd.preferred_bits, cd.dither), (None, 16, DitherRule::Required));
        let custom = DeliveryTarget::by_id("custom", -9.0, -0.3);
        assert_eq!(
            (custom.name.as_str(), custom.target_lufs, custom.ceiling_dbtp),
            ("Custom", Some(-9.0), -0.3)
        );
        let broken = DeliveryTarget::custom(f32::NAN, f32::INFINITY);
        assert_eq!((broken.target_lufs, broken.ceiling_dbtp), (Some(-14.0), -1.0));
        let all = DeliveryTarget::all(-9.0, -0.3);
        assert_eq!(all.len(), platform::platforms().len() + 1);
        for id in [
            "spotify",
            "apple_music",
            "youtube",
            "tidal",
            "amazon_music",
            "deezer",
            "soundcloud",
            "apple_podcasts",
            "ebu_r128",
            "atsc_a85",
            "cd",
            "custom",
        ] {
            assert!(all.iter().any(|t| t.id == id), "{id}");
        }
    }
}
