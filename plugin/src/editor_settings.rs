//! The editor's own settings, saved with the session: window size, the page shown, the delivery
//! target, display options and the file browser's folder and recent files. None of them changes
//! the audio, so they are not parameters (hosts would record them as automation); they are a
//! persisted field of [`crate::params::ParityParams`], read and written only by the editor and
//! the host's state save/load (never the audio thread).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

/// Version written into saved settings (older versions are read with defaults for new fields).
pub const EDITOR_SETTINGS_VERSION: u32 = 1;

/// Default window size in logical points.
pub const DEFAULT_SIZE: (f32, f32) = (1120.0, 740.0);

/// Smallest window size in logical points.
pub const MIN_SIZE: (f32, f32) = (900.0, 620.0);

/// Largest window size the settings accept, logical points (anything larger in a state file is
/// clamped: a corrupt state must not open a 100 000-point window).
pub const MAX_SIZE: (f32, f32) = (4096.0, 2400.0);

/// Recent files kept for the file browser.
pub const MAX_RECENT_FILES: usize = 8;

/// Shortest and longest span of the loudness history graph, seconds.
pub const HISTORY_SPAN_RANGE_S: (f32, f32) = (10.0, 3600.0);

/// The editor's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Page {
    /// Loudness at input and output, history and histogram.
    #[default]
    Loudness,
    /// The mastering chain, stage by stage.
    Chain,
    /// The output spectrum with reference overlay and target band.
    Spectrum,
    /// Vectorscope and correlation.
    Stereo,
    /// The reference slots and the file browser.
    References,
    /// What each platform's normalisation does to the output.
    Platforms,
    /// Mix-readiness and delivery checks, and listening care.
    Checks,
}

impl Page {
    /// Every page, in tab order.
    pub const ALL: [Page; 7] = [
        Self::Loudness,
        Self::Chain,
        Self::Spectrum,
        Self::Stereo,
        Self::References,
        Self::Platforms,
        Self::Checks,
    ];

    /// Tab title.
    pub fn title(self) -> &'static str {
        match self {
            Self::Loudness => "Loudness",
            Self::Chain => "Chain",
            Self::Spectrum => "Spectrum",
            Self::Stereo => "Stereo",
            Self::References => "References",
            Self::Platforms => "Platforms",
            Self::Checks => "Checks",
        }
    }

    /// The page named `name` (case-insensitive tab title, as `PARITY_EDITOR_PAGE` gives it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|page| page.title().eq_ignore_ascii_case(name))
    }
}

/// The chain stages the chain page can show in detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// DC blocker.
    Dc,
    /// Equaliser.
    #[default]
    Eq,
    /// Glue compressor.
    Glue,
    /// Multiband dynamics.
    Multiband,
    /// Stereo imager.
    Imager,
    /// True-peak limiter.
    Limiter,
    /// Dither and output.
    Dither,
}

impl Stage {
    /// Every stage in signal order.
    pub const ALL: [Stage; 7] =
        [Self::Dc, Self::Eq, Self::Glue, Self::Multiband, Self::Imager, Self::Limiter, Self::Dither];

    /// Short title.
    pub fn title(self) -> &'static str {
        match self {
            Self::Dc => "DC",
            Self::Eq => "EQ",
            Self::Glue => "GLUE",
            Self::Multiband => "MULTIBAND",
            Self::Imager => "IMAGER",
            Self::Limiter => "LIMITER",
            Self::Dither => "DITHER",
        }
    }
}

/// Which traces the spectrum shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpectrumTraces {
    /// Left and right.
    #[default]
    LeftRight,
    /// Mid and side.
    MidSide,
}

/// Spectrum averaging choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpectrumAveraging {
    /// 300 ms.
    #[default]
    Fast,
    /// 3 s.
    Slow,
    /// Everything since the last reset.
    Infinite,
}

/// Spectrum smoothing choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpectrumSmoothing {
    /// None (each band shows its highest bin).
    None,
    /// 1/3 octave.
    Third,
    /// 1/6 octave.
    #[default]
    Sixth,
    /// 1/12 octave.
    Twelfth,
    /// 1/24 octave.
    TwentyFourth,
}

/// Default break reminder, minutes of continuous listening (studio advice: 5–10 min every
/// 30–60 min; see [`crate::listening`]).
pub const DEFAULT_BREAK_REMINDER_MIN: u32 = 45;

/// Longest break reminder interval, minutes.
pub const MAX_BREAK_REMINDER_MIN: u32 = 240;

/// Everything the editor remembers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EditorSettings {
    /// Format version ([`EDITOR_SETTINGS_VERSION`]).
    pub version: u32,
    /// Window width in logical points (at 100 % scale).
    pub width: f32,
    /// Window height in logical points (at 100 % scale).
    pub height: f32,
    /// The page shown.
    pub page: Page,
    /// The chain stage shown in detail.
    pub stage: Stage,
    /// Delivery target: a platform id from `assets/platforms.csv`, or `"custom"`.
    pub target: String,
    /// Loudness of the custom target, LUFS integrated.
    pub custom_target_lufs: f32,
    /// True-peak ceiling of the custom target, dBTP.
    pub custom_ceiling_dbtp: f32,
    /// Time span of the loudness history graph, seconds.
    pub history_span_s: f32,
    /// Whether the history graph also draws the input's short-term loudness.
    pub history_show_input: bool,
    /// Spectrum traces.
    pub spectrum_traces: SpectrumTraces,
    /// Spectrum averaging.
    pub spectrum_averaging: SpectrumAveraging,
    /// Spectrum smoothing.
    pub spectrum_smoothing: SpectrumSmoothing,
    /// Spectrum display tilt, dB per octave around 1 kHz (0, 3 or 4.5).
    pub spectrum_tilt_db_per_octave: f32,
    /// Reference slot drawn over the spectrum (0-based), if any.
    pub spectrum_reference_slot: Option<usize>,
    /// Whether the spectrum shows the target curve band.
    pub spectrum_show_target: bool,
    /// The file browser's folder.
    pub browser_dir: Option<PathBuf>,
    /// Recently loaded reference files, newest first.
    pub recent_files: Vec<PathBuf>,
    /// Minutes of continuous listening before a break is suggested (0: never).
    pub break_reminder_min: u32,
    /// SPL reading of −20 dBFS RMS pink noise at the listening position, dB (the monitor
    /// calibration for the dose estimate; `None`: not calibrated).
    pub calibration_spl_db: Option<f32>,
}

impl Default for EditorSettings {
    fn default() -> Self {
        Self {
            version: EDITOR_SETTINGS_VERSION,
            width: DEFAULT_SIZE.0,
            height: DEFAULT_SIZE.1,
            page: Page::default(),
            stage: Stage::default(),
            target: "spotify".to_owned(),
            custom_target_lufs: -14.0,
            custom_ceiling_dbtp: -1.0,
            history_span_s: 120.0,
            history_show_input: false,
            spectrum_traces: SpectrumTraces::default(),
            spectrum_averaging: SpectrumAveraging::default(),
            spectrum_smoothing: SpectrumSmoothing::default(),
            spectrum_tilt_db_per_octave: 0.0,
            spectrum_reference_slot: None,
            spectrum_show_target: false,
            browser_dir: None,
            recent_files: Vec::new(),
            break_reminder_min: DEFAULT_BREAK_REMINDER_MIN,
            calibration_spl_db: None,
        }
    }
}

impl EditorSettings {
    /// The settings with every value in range (what a broken or hostile state file becomes):
    /// sizes clamped to [`MIN_SIZE`]…[`MAX_SIZE`] (NaN → default), loudness values clamped,
    /// unknown tilts snapped, the recent list deduplicated and cut to [`MAX_RECENT_FILES`].
    pub fn sanitized(mut self) -> Self {
        let default = Self::default();
        let clean = |value: f32, default: f32, lo: f32, hi: f32| {
            if value.is_nan() {
                default
            } else {
                value.clamp(lo, hi)
            }
        };
        self.version = EDITOR_SETTINGS_VERSION;
        self.width = clean(self.width, default.width, MIN_SIZE.0, MAX_SIZE.0);
        self.height = clean(self.height, default.height, MIN_SIZE.1, MAX_SIZE.1);
        self.custom_target_lufs = clean(self.custom_target_lufs, default.custom_target_lufs, -40.0, -3.0);
        self.custom_ceiling_dbtp = clean(self.custom_ceiling_dbtp, default.custom_ceiling_dbtp, -12.0, 0.0);
        self.history_span_s = clean(
            self.history_span_s,
            default.history_span_s,
            HISTORY_SPAN_RANGE_S.0,
            HISTORY_SPAN_RANGE_S.1,
        );
        self.spectrum_tilt_db_per_octave = [0.0, 3.0, 4.5]
            .into_iter()
            .min_by(|a, b| {
                (a - self.spectrum_tilt_db_per_octave)
                    .abs()
                    .total_cmp(&(b - self.spectrum_tilt_db_per_octave).abs())
            })
            .unwrap_or(0.0);
        self.spectrum_reference_slot =
            self.spectrum_reference_slot.filter(|&slot| slot < crate::reference::REFERENCE_SLOTS);
        if self.target.len() > 64 {
            self.target = default.target;
        }
        let mut recent: Vec<PathBuf> = Vec::new();
        for path in self.recent_files.drain(..) {
            if !recent.contains(&path) && recent.len() < MAX_RECENT_FILES {
                recent.push(path);
            }
        }
        self.recent_files = recent;
        self.break_reminder_min = self.break_reminder_min.min(MAX_BREAK_REMINDER_MIN);
        self.calibration_spl_db =
            self.calibration_spl_db.filter(|spl| spl.is_finite()).map(|spl| spl.clamp(40.0, 120.0));
        self
    }
}

/// The shared, persisted editor settings (GUI and main thread only; the audio thread never
/// touches them, so the lock is never on it).
#[derive(Debug, Default)]
pub struct EditorSettingsCell {
    /// The settings.
    settings: Mutex<EditorSettings>,
}

impl EditorSettingsCell {
    /// Locks the settings for reading or changing them (GUI thread).
    pub fn lock(&self) -> MutexGuard<'_, EditorSettings> {
        // A panic while the lock was held cannot leave the plain data half-written in a way that
        // matters; keep going with it.
        self.settings.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of the settings.
    pub fn get(&self) -> EditorSettings {
        self.lock().clone()
    }
}

impl<'a> nice_plug::params::persist::PersistentField<'a, EditorSettings> for Arc<EditorSettingsCell> {
    fn set(&self, new_value: EditorSettings) {
        *self.lock() = new_value.sanitized();
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&EditorSettings) -> R,
    {
        f(&self.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nice_plug::params::persist::PersistentField;

    #[test]
    fn settings_round_trip_through_json_and_old_or_broken_ones_come_back_sane() {
        let mut settings = EditorSettings {
            width: 1500.0,
            page: Page::Stereo,
            target: "ebu_r128".into(),
            recent_files: vec!["/a.wav".into(), "/b.flac".into()],
            ..EditorSettings::default()
        };
        settings.spectrum_reference_slot = Some(3);
        let json = serde_json::to_string(&settings).unwrap();
        let back: EditorSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back, settings);

        // A version-0 state (before this file existed) names only a few fields.
        let old: EditorSettings = serde_json::from_str(r#"{"width": 1000.0}"#).unwrap();
        assert_eq!(old.width, 1000.0);
        assert_eq!(old.page, Page::Loudness);

        let cell = Arc::new(EditorSettingsCell::default());
        let broken = EditorSettings {
            width: f32::NAN,
            height: 1e9,
            custom_target_lufs: -500.0,
            history_span_s: 0.0,
            spectrum_tilt_db_per_octave: 4.4,
            spectrum_reference_slot: Some(99),
            target: "x".repeat(10_000),
            recent_files: (0..20).map(|i| PathBuf::from(format!("/{}.wav", i % 3))).collect(),
            ..EditorSettings::default()
        };
        cell.set(broken);
        let sane = cell.get();
        assert_eq!(sane.width, DEFAULT_SIZE.0);
        assert_eq!(sane.height, MAX_SIZE.1);
        assert_eq!(sane.custom_target_lufs, -40.0);
        assert_eq!(sane.history_span_s, HISTORY_SPAN_RANGE_S.0);
        assert_eq!(sane.spectrum_tilt_db_per_octave, 4.5);
        assert_eq!(sane.spectrum_reference_slot, None);
        assert_eq!(sane.target, "spotify");
        assert_eq!(sane.recent_files.len(), 3, "deduplicated");
        assert_eq!(cell.map(|s| s.width), DEFAULT_SIZE.0);
    }

    #[test]
    fn page_names_parse_case_insensitively() {
        assert_eq!(Page::from_name("chain"), Some(Page::Chain));
        assert_eq!(Page::from_name("REFERENCES"), Some(Page::References));
        assert_eq!(Page::from_name("nope"), None);
    }
}
