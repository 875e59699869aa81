//! The parameter tree: one nested group per processor, short stable ids. The ids are part of every
//! saved session and automation lane; `golden_parameter_ids_never_change` pins them.

use std::sync::Arc;

use nice_plug::prelude::*;

use crate::dsp::chain::ChainStageSettings;
use crate::dsp::{compressor, dc_blocker, dither, eq, imager, limiter, multiband};
use crate::engine::{ChainSettings, MeterSettings};
use crate::monitor::translation::{LowLevel, Translation};
use crate::monitor::{BandSolo, LevelMatch, ListenMode, MonitorSettings, MonitorSource, Polarity};
use crate::reference::{ReferenceBank, REFERENCE_SLOTS};

/// Range of the input trim and the output gain, in dB.
pub const GAIN_RANGE_DB: f32 = 24.0;

/// All of Parity's parameters.
#[derive(Params)]
pub struct ParityParams {
    /// Global bypass (the host's bypass switch): the output becomes the input delayed by the
    /// unchanged latency, crossfaded without clicks.
    #[id = "bypass"]
    pub bypass: BoolParam,
    /// The input stage.
    #[nested(group = "Input")]
    pub input: InputParams,
    /// The DC blocker.
    #[nested(group = "DC Blocker")]
    pub dc: DcBlockerParams,
    /// The equaliser.
    #[nested(group = "EQ")]
    pub eq: EqParams,
    /// The glue compressor.
    #[nested(group = "Glue")]
    pub glue: GlueParams,
    /// The multiband dynamics.
    #[nested(group = "Multiband")]
    pub multiband: MultibandParams,
    /// The stereo imager.
    #[nested(group = "Imager")]
    pub imager: ImagerParams,
    /// The true-peak limiter.
    #[nested(group = "Limiter")]
    pub limiter: LimiterParams,
    /// The dither.
    #[nested(group = "Dither")]
    pub dither: DitherParams,
    /// The output stage.
    #[nested(group = "Output")]
    pub output: OutputParams,
    /// How the meters follow the transport.
    #[nested(group = "Meters")]
    pub meters: MeterParams,
    /// What is heard: source, level match, platform preview, listen tools.
    #[nested(group = "Monitor")]
    pub monitor: MonitorParams,
    /// The reference slots (paths, trims, loop points, analysis summaries; never audio). Owns
    /// this instance's reference loader thread.
    #[persist = "refs"]
    pub references: Arc<ReferenceBank>,
    /// The editor's window size, page, delivery target and display options (never the audio).
    #[persist = "editor"]
    pub editor: Arc<crate::editor_settings::EditorSettingsCell>,
}

/// The monitor section. These shape only what is heard, never the rendered file: in offline
/// rendering the output is the chain output whatever they say.
#[derive(Params)]
pub struct MonitorParams {
    /// Source heard: 0 processed, 1 unprocessed (level-matched bypass), 2… reference 1….
    #[id = "mon_src"]
    pub source: IntParam,
    /// How unprocessed and references are matched to the processed mix.
    #[id = "mon_match"]
    pub level_match: EnumParam<LevelMatchParam>,
    /// Platform preview.
    #[id = "mon_plat"]
    pub platform: EnumParam<PlatformParam>,
    /// Listen mode.
    #[id = "mon_listen"]
    pub listen: EnumParam<ListenParam>,
    /// Polarity flip.
    #[id = "mon_pol"]
    pub polarity: EnumParam<PolarityParam>,
    /// Band solo on the multiband crossovers.
    #[id = "mon_band"]
    pub band_solo: EnumParam<BandSoloParam>,
    /// Dim the monitor by 20 dB.
    #[id = "mon_dim"]
    pub dim: BoolParam,
    /// Translation preview: a playback-system model.
    #[id = "mon_trans"]
    pub translation: EnumParam<TranslationParam>,
    /// Translation preview: low-listening-level (equal-loudness) correction.
    #[id = "mon_low"]
    pub low_level: EnumParam<LowLevelParam>,
    /// References play at the host's song position (off: free-running between loop points).
    #[id = "ref_sync"]
    pub reference_sync: BoolParam,
}

/// [`MonitorParams::level_match`].
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelMatchParam {
    /// No matching.
    #[id = "off"]
    #[name = "Off"]
    Off,
    /// Integrated loudness.
    #[id = "int"]
    #[name = "Integrated"]
    Integrated,
    /// Short-term loudness.
    #[id = "short"]
    #[name = "Short-term"]
    ShortTerm,
}

/// [`MonitorParams::platform`]: off or a row of `assets/platforms.csv` (the ids are the table's).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformParam {
    /// No preview.
    #[id = "off"]
    #[name = "Off"]
    Off,
    /// Spotify, normal.
    #[id = "spotify"]
    #[name = "Spotify"]
    Spotify,
    /// Spotify, loud.
    #[id = "spotify_loud"]
    #[name = "Spotify Loud"]
    SpotifyLoud,
    /// Spotify, quiet.
    #[id = "spotify_quiet"]
    #[name = "Spotify Quiet"]
    SpotifyQuiet,
    /// Apple Music (Sound Check).
    #[id = "apple_music"]
    #[name = "Apple Music"]
    AppleMusic,
    /// YouTube.
    #[id = "youtube"]
    #[name = "YouTube"]
    YouTube,
    /// TIDAL.
    #[id = "tidal"]
    #[name = "TIDAL"]
    Tidal,
    /// Amazon Music.
    #[id = "amazon_music"]
    #[name = "Amazon Music"]
    AmazonMusic,
    /// Deezer.
    #[id = "deezer"]
    #[name = "Deezer"]
    Deezer,
    /// SoundCloud.
    #[id = "soundcloud"]
    #[name = "SoundCloud"]
    SoundCloud,
    /// EBU R128 broadcast.
    #[id = "ebu_r128"]
    #[name = "EBU R128"]
    EbuR128,
    /// ATSC A/85 broadcast.
    #[id = "atsc_a85"]
    #[name = "ATSC A/85"]
    AtscA85,
    /// Apple Podcasts.
    #[id = "apple_podcasts"]
    #[name = "Apple Podcasts"]
    ApplePodcasts,
    /// A mono podcast file.
    #[id = "podcast_mono"]
    #[name = "Podcast (mono)"]
    PodcastMono,
    /// CD: no normalisation.
    #[id = "cd"]
    #[name = "CD"]
    Cd,
}

impl PlatformParam {
    /// The id of the platform's row in `assets/platforms.csv` (`None` for off).
    pub fn table_id(self) -> Option<&'static str> {
        let variants = Self::ids().unwrap_or(&[]);
        (self != Self::Off).then(|| variants[self.to_index()])
    }

    /// The variant of the table row `id` (`None` for an unknown id).
    pub fn from_table_id(id: &str) -> Option<Self> {
        let variants = Self::ids().unwrap_or(&[]);
        variants.iter().position(|&variant| variant == id && id != "off").map(Self::from_index)
    }
}

/// [`MonitorParams::listen`].
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenParam {
    /// Stereo.
    #[id = "stereo"]
    #[name = "Stereo"]
    Stereo,
    /// Mono fold-down.
    #[id = "mono"]
    #[name = "Mono"]
    Mono,
    /// Left only.
    #[id = "left"]
    #[name = "Left"]
    Left,
    /// Right only.
    #[id = "right"]
    #[name = "Right"]
    Right,
    /// Mid solo.
    #[id = "mid"]
    #[name = "Mid"]
    Mid,
    /// Side solo.
    #[id = "side"]
    #[name = "Side"]
    Side,
}

/// [`MonitorParams::translation`] (see [`crate::monitor::translation::Translation`]).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranslationParam {
    /// No model.
    #[id = "off"]
    #[name = "Off"]
    Off,
    /// Earbuds.
    #[id = "earbuds"]
    #[name = "Earbuds"]
    Earbuds,
    /// Phone speaker.
    #[id = "phone"]
    #[name = "Phone"]
    Phone,
    /// Laptop speakers.
    #[id = "laptop"]
    #[name = "Laptop"]
    Laptop,
    /// Car.
    #[id = "car"]
    #[name = "Car"]
    Car,
    /// TV speakers.
    #[id = "tv"]
    #[name = "TV"]
    Tv,
    /// Club / PA.
    #[id = "club"]
    #[name = "Club"]
    Club,
}

/// [`MonitorParams::low_level`] (see [`crate::monitor::translation::LowLevel`]).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowLevelParam {
    /// No correction.
    #[id = "off"]
    #[name = "Off"]
    Off,
    /// As heard at 70 phon.
    #[id = "70"]
    #[name = "70 phon"]
    Phon70,
    /// As heard at 60 phon.
    #[id = "60"]
    #[name = "60 phon"]
    Phon60,
    /// As heard at 50 phon.
    #[id = "50"]
    #[name = "50 phon"]
    Phon50,
    /// As heard at 40 phon.
    #[id = "40"]
    #[name = "40 phon"]
    Phon40,
}

/// [`MonitorParams::polarity`].
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolarityParam {
    /// Normal.
    #[id = "normal"]
    #[name = "Normal"]
    Normal,
    /// Left inverted.
    #[id = "inv_l"]
    #[name = "Invert L"]
    InvertLeft,
    /// Right inverted.
    #[id = "inv_r"]
    #[name = "Invert R"]
    InvertRight,
    /// Both inverted.
    #[id = "inv_lr"]
    #[name = "Invert L+R"]
    InvertBoth,
}

/// [`MonitorParams::band_solo`].
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandSoloParam {
    /// Full band.
    #[id = "off"]
    #[name = "Off"]
    Off,
    /// Low band.
    #[id = "low"]
    #[name = "Low"]
    Low,
    /// Mid band.
    #[id = "mid"]
    #[name = "Mid"]
    Mid,
    /// High band.
    #[id = "high"]
    #[name = "High"]
    High,
}

/// Meter options (not automatable: they are preferences, saved with the session).
#[derive(Params)]
pub struct MeterParams {
    /// Reset integrated loudness, loudness range and maxima when playback starts.
    #[id = "m_rst_play"]
    pub reset_on_play: BoolParam,
    /// Hold all loudness readings while playback is stopped.
    #[id = "m_pause_stop"]
    pub pause_when_stopped: BoolParam,
}

/// Parameters of the input stage.
#[derive(Params)]
pub struct InputParams {
    /// Gain applied at the start of the chain, in dB (after the input meters).
    #[id = "in_trim"]
    pub trim_db: FloatParam,
}

/// Parameters of the output stage.
#[derive(Params)]
pub struct OutputParams {
    /// Gain applied at the end of the chain, in dB.
    #[id = "out_gain"]
    pub gain_db: FloatParam,
}

/// Parameters of the DC blocker.
#[derive(Params)]
pub struct DcBlockerParams {
    /// Stage on (off by default: the default chain passes audio under the ceiling untouched).
    #[id = "dc_on"]
    pub enabled: BoolParam,
    /// Cut-off of the high-pass, Hz.
    #[id = "dc_freq"]
    pub cutoff_hz: FloatParam,
}

/// Filter type of an EQ band (mirrors [`eq::EqBandKind`] for the host).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EqTypeParam {
    /// Bell (peaking).
    #[id = "bell"]
    Bell,
    /// Low shelf.
    #[id = "lshelf"]
    #[name = "Low Shelf"]
    LowShelf,
    /// High shelf.
    #[id = "hshelf"]
    #[name = "High Shelf"]
    HighShelf,
    /// Low cut (high-pass).
    #[id = "lcut"]
    #[name = "Low Cut"]
    LowCut,
    /// High cut (low-pass).
    #[id = "hcut"]
    #[name = "High Cut"]
    HighCut,
    /// Tilt around the band frequency.
    #[id = "tilt"]
    Tilt,
}

/// Slope of an EQ cut band.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EqSlopeParam {
    /// 6 dB/oct.
    #[id = "6"]
    #[name = "6 dB/oct"]
    Db6,
    /// 12 dB/oct.
    #[id = "12"]
    #[name = "12 dB/oct"]
    Db12,
    /// 18 dB/oct.
    #[id = "18"]
    #[name = "18 dB/oct"]
    Db18,
    /// 24 dB/oct.
    #[id = "24"]
    #[name = "24 dB/oct"]
    Db24,
    /// 36 dB/oct.
    #[id = "36"]
    #[name = "36 dB/oct"]
    Db36,
    /// 48 dB/oct.
    #[id = "48"]
    #[name = "48 dB/oct"]
    Db48,
}

/// Which signal an EQ band filters.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EqPlacementParam {
    /// Left and right alike.
    #[id = "st"]
    Stereo,
    /// Mid, (L+R)/2.
    #[id = "mid"]
    Mid,
    /// Side, (L−R)/2.
    #[id = "side"]
    Side,
}

/// EQ processing mode (changes the latency: applied when the host restarts processing).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EqModeParam {
    /// Minimum-phase biquads, no latency.
    #[id = "min"]
    #[name = "Minimum Phase"]
    MinimumPhase,
    /// Linear-phase FIR, constant latency.
    #[id = "lin"]
    #[name = "Linear Phase"]
    LinearPhase,
}

/// One EQ band.
#[derive(Params)]
pub struct EqBandParams {
    /// Band on.
    #[id = "eqb_on"]
    pub enabled: BoolParam,
    /// Filter type.
    #[id = "eqb_type"]
    pub kind: EnumParam<EqTypeParam>,
    /// Frequency, Hz.
    #[id = "eqb_freq"]
    pub freq_hz: FloatParam,
    /// Gain, dB (bells, shelves, tilt).
    #[id = "eqb_gain"]
    pub gain_db: FloatParam,
    /// Q (bells, shelves; resonance of cuts).
    #[id = "eqb_q"]
    pub q: FloatParam,
    /// Slope of cuts.
    #[id = "eqb_slope"]
    pub slope: EnumParam<EqSlopeParam>,
    /// Stereo, mid or side.
    #[id = "eqb_place"]
    pub placement: EnumParam<EqPlacementParam>,
}

/// Parameters of the equaliser.
#[derive(Params)]
pub struct EqParams {
    /// Stage on.
    #[id = "eq_on"]
    pub enabled: BoolParam,
    /// Minimum or linear phase.
    #[id = "eq_mode"]
    pub mode: EnumParam<EqModeParam>,
    /// The bands; ids `eqb_on_1` … `eqb_place_6`.
    #[nested(array, group = "EQ Band")]
    pub bands: [EqBandParams; eq::EQ_BANDS],
}

/// Parameters of the glue compressor.
#[derive(Params)]
pub struct GlueParams {
    /// Stage on.
    #[id = "gl_on"]
    pub enabled: BoolParam,
    /// Threshold, dBFS.
    #[id = "gl_thr"]
    pub threshold_db: FloatParam,
    /// Ratio.
    #[id = "gl_ratio"]
    pub ratio: FloatParam,
    /// Attack, ms.
    #[id = "gl_att"]
    pub attack_ms: FloatParam,
    /// Release, ms.
    #[id = "gl_rel"]
    pub release_ms: FloatParam,
    /// Program-dependent release.
    #[id = "gl_auto"]
    pub auto_release: BoolParam,
    /// Knee width, dB.
    #[id = "gl_knee"]
    pub knee_db: FloatParam,
    /// Sidechain high-pass, Hz.
    #[id = "gl_schp"]
    pub sidechain_hpf_hz: FloatParam,
    /// Wet mix, %.
    #[id = "gl_mix"]
    pub mix_percent: FloatParam,
    /// Make-up gain, dB.
    #[id = "gl_makeup"]
    pub makeup_db: FloatParam,
}

/// One multiband band.
#[derive(Params)]
pub struct MultibandBandParams {
    /// Threshold, dBFS.
    #[id = "mbb_thr"]
    pub threshold_db: FloatParam,
    /// Ratio.
    #[id = "mbb_ratio"]
    pub ratio: FloatParam,
    /// Attack, ms.
    #[id = "mbb_att"]
    pub attack_ms: FloatParam,
    /// Release, ms.
    #[id = "mbb_rel"]
    pub release_ms: FloatParam,
    /// Band gain, dB.
    #[id = "mbb_gain"]
    pub gain_db: FloatParam,
    /// Band bypass.
    #[id = "mbb_byp"]
    pub bypass: BoolParam,
    /// Band solo.
    #[id = "mbb_solo"]
    pub solo: BoolParam,
}

/// Parameters of the multiband dynamics.
#[derive(Params)]
pub struct MultibandParams {
    /// Stage on.
    #[id = "mb_on"]
    pub enabled: BoolParam,
    /// Low/mid crossover, Hz (also the imager's).
    #[id = "mb_x1"]
    pub crossover_low_hz: FloatParam,
    /// Mid/high crossover, Hz (also the imager's).
    #[id = "mb_x2"]
    pub crossover_high_hz: FloatParam,
    /// Low, mid and high band; ids `mbb_thr_1` … `mbb_solo_3`.
    #[nested(array, group = "Multiband Band")]
    pub bands: [MultibandBandParams; multiband::BANDS],
}

/// Parameters of the stereo imager.
#[derive(Params)]
pub struct ImagerParams {
    /// Stage on.
    #[id = "im_on"]
    pub enabled: BoolParam,
    /// Overall width, %.
    #[id = "im_width"]
    pub width_percent: FloatParam,
    /// Width of the low band (below the multiband's first crossover), %.
    #[id = "im_w_low"]
    pub low_width_percent: FloatParam,
    /// Width of the mid band, %.
    #[id = "im_w_mid"]
    pub mid_width_percent: FloatParam,
    /// Width of the high band, %.
    #[id = "im_w_high"]
    pub high_width_percent: FloatParam,
    /// Mono maker on.
    #[id = "im_mono"]
    pub mono_maker: BoolParam,
    /// Mono maker frequency, Hz.
    #[id = "im_mono_hz"]
    pub mono_maker_hz: FloatParam,
}

/// Limiter oversampling (changes the latency's composition: applied at restart).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OversamplingParam {
    /// By rate: 8x up to 48 kHz, 4x to 96 kHz, 2x to 192 kHz.
    #[id = "auto"]
    Auto,
    /// Sample peak only.
    #[id = "1x"]
    #[name = "1x"]
    X1,
    /// 2x.
    #[id = "2x"]
    #[name = "2x"]
    X2,
    /// 4x.
    #[id = "4x"]
    #[name = "4x"]
    X4,
    /// 8x.
    #[id = "8x"]
    #[name = "8x"]
    X8,
    /// 16x.
    #[id = "16x"]
    #[name = "16x"]
    X16,
}

/// Limiter character.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimiterStyleParam {
    /// 20 ms hold, slower release under sustained limiting.
    #[id = "transp"]
    Transparent,
    /// 3 ms hold, fixed release.
    #[id = "punchy"]
    Punchy,
    /// 40 ms hold, 0.1 dB detection margin.
    #[id = "safe"]
    Safe,
}

/// Parameters of the true-peak limiter.
#[derive(Params)]
pub struct LimiterParams {
    /// Stage on (on by default: catches true peaks above the ceiling).
    #[id = "lim_on"]
    pub enabled: BoolParam,
    /// Ceiling, dBTP.
    #[id = "lim_ceil"]
    pub ceiling_dbtp: FloatParam,
    /// Drive (input gain), dB.
    #[id = "lim_drive"]
    pub drive_db: FloatParam,
    /// Lookahead, ms (sets the latency: applied when the host restarts processing).
    #[id = "lim_look"]
    pub lookahead_ms: FloatParam,
    /// Release, ms.
    #[id = "lim_rel"]
    pub release_ms: FloatParam,
    /// Stereo link, %.
    #[id = "lim_link"]
    pub stereo_link_percent: FloatParam,
    /// True-peak detection oversampling.
    #[id = "lim_os"]
    pub oversampling: EnumParam<OversamplingParam>,
    /// Character.
    #[id = "lim_style"]
    pub style: EnumParam<LimiterStyleParam>,
}

/// Dither mode.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DitherModeParam {
    /// No requantization.
    #[id = "off"]
    Off,
    /// TPDF dither.
    #[id = "tpdf"]
    #[name = "TPDF"]
    Tpdf,
    /// F-weighted noise-shaped dither.
    #[id = "shaped"]
    #[name = "Noise Shaped"]
    NoiseShaped,
}

/// Dither target word length.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordLengthParam {
    /// 16 bits.
    #[id = "16"]
    #[name = "16 bit"]
    Bits16,
    /// 20 bits.
    #[id = "20"]
    #[name = "20 bit"]
    Bits20,
    /// 24 bits.
    #[id = "24"]
    #[name = "24 bit"]
    Bits24,
}

/// Parameters of the dither.
#[derive(Params)]
pub struct DitherParams {
    /// Mode (off by default).
    #[id = "dit_mode"]
    pub mode: EnumParam<DitherModeParam>,
    /// Target word length.
    #[id = "dit_bits"]
    pub word_length: EnumParam<WordLengthParam>,
    /// Output exact silence on digital silence.
    #[id = "dit_blank"]
    pub auto_blank: BoolParam,
}

impl Default for ParityParams {
    fn default() -> Self {
        let chain = ChainSettings::default().stages;
        Self {
            bypass: BoolParam::new("Bypass", false)
                .with_value_to_string(formatters::v2s_bool_bypass())
                .with_string_to_value(formatters::s2v_bool_bypass())
                .make_bypass(),
            input: InputParams { trim_db: gain_db_param("Input Trim") },
            dc: DcBlockerParams {
                enabled: BoolParam::new("DC Blocker On", !chain.dc_blocker.bypass),
                cutoff_hz: FloatParam::new(
                    "DC Blocker Cut-off",
                    chain.dc_blocker.cutoff_hz,
                    FloatRange::Skewed { min: 1.0, max: 20.0, factor: FloatRange::skew_factor(-1.0) },
                )
                .with_unit(" Hz")
                .with_value_to_string(formatters::v2s_f32_rounded(1)),
            },
            eq: EqParams {
                enabled: BoolParam::new("EQ On", !chain.eq.bypass),
                mode: EnumParam::new("EQ Mode", eq_mode_param(chain.eq.mode)).non_automatable(),
                bands: std::array::from_fn(|index| eq_band_params(index, &chain.eq.bands[index])),
            },
            glue: glue_params(&chain.glue),
            multiband: multiband_params(&chain.multiband),
            imager: imager_params(&chain.imager),
            limiter: limiter_params(&chain.limiter),
            dither: DitherParams {
                mode: EnumParam::new("Dither", dither_mode_param(chain.dither.mode)),
                word_length: EnumParam::new("Dither Bits", word_length_param(chain.dither.word_length)),
                auto_blank: BoolParam::new("Dither Auto Blank", chain.dither.auto_blank),
            },
            output: OutputParams { gain_db: gain_db_param("Output Gain") },
            meters: MeterParams {
                reset_on_play: BoolParam::new("Reset Meters on Play", false).non_automatable(),
                pause_when_stopped: BoolParam::new("Pause Meters when Stopped", false).non_automatable(),
            },
            monitor: MonitorParams {
                source: IntParam::new(
                    "Monitor Source",
                    0,
                    IntRange::Linear { min: 0, max: MAX_SOURCE_INDEX },
                )
                .with_value_to_string(Arc::new(source_name))
                .with_string_to_value(Arc::new(parse_source)),
                level_match: EnumParam::new("Level Match", LevelMatchParam::ShortTerm),
                platform: EnumParam::new("Platform Preview", PlatformParam::Off),
                listen: EnumParam::new("Listen", ListenParam::Stereo),
                polarity: EnumParam::new("Polarity", PolarityParam::Normal),
                band_solo: EnumParam::new("Band Solo", BandSoloParam::Off),
                dim: BoolParam::new("Dim", false),
                translation: EnumParam::new("Translation", TranslationParam::Off),
                low_level: EnumParam::new("Low Level", LowLevelParam::Off),
                reference_sync: BoolParam::new("Reference Sync", true).non_automatable(),
            },
            references: Arc::new(ReferenceBank::new()),
            editor: Arc::default(),
        }
    }
}

/// Highest value of [`MonitorParams::source`].
pub const MAX_SOURCE_INDEX: i32 = 1 + REFERENCE_SLOTS as i32;

/// Display name of a [`MonitorParams::source`] value.
pub fn source_name(value: i32) -> String {
    match value {
        0 => "Processed".to_owned(),
        1 => "Unprocessed".to_owned(),
        n => format!("Reference {}", n - 1),
    }
}

/// Parses a [`MonitorParams::source`] display name (or a bare number) back.
fn parse_source(text: &str) -> Option<i32> {
    let text = text.trim().to_ascii_lowercase();
    match text.as_str() {
        "processed" => Some(0),
        "unprocessed" => Some(1),
        _ => {
            let number = text.strip_prefix("reference").unwrap_or(&text).trim().parse::<i32>().ok()?;
            (1..=REFERENCE_SLOTS as i32).contains(&number).then_some(number + 1)
        }
    }
}

/// A ±[`GAIN_RANGE_DB`] gain in dB, 0.1 dB steps, shown with one decimal. Smoothing happens in the
/// engine (sample-rate aware and block-size invariant), not in the parameter.
fn gain_db_param(name: &str) -> FloatParam {
    db_param(name, 0.0, -GAIN_RANGE_DB, GAIN_RANGE_DB)
}

/// A level or gain in dB between `min` and `max`, 0.1 dB steps.
fn db_param(name: &str, default: f32, min: f32, max: f32) -> FloatParam {
    FloatParam::new(name, default, FloatRange::Linear { min, max })
        .with_step_size(0.1)
        .with_unit(" dB")
        .with_value_to_string(formatters::v2s_f32_rounded(1))
}

/// A frequency in Hz on a logarithmic-feeling scale, whole hertz.
fn freq_param(name: &str, default: f32, min: f32, max: f32) -> FloatParam {
    FloatParam::new(name, default, FloatRange::Skewed { min, max, factor: FloatRange::skew_factor(-2.0) })
        .with_step_size(1.0)
        .with_unit(" Hz")
        .with_value_to_string(formatters::v2s_f32_rounded(0))
}

/// A time in ms between `min` and `max` on a skewed scale, shown with one decimal.
fn time_ms_param(name: &str, default: f32, min: f32, max: f32) -> FloatParam {
    FloatParam::new(name, default, FloatRange::Skewed { min, max, factor: FloatRange::skew_factor(-2.0) })
        .with_step_size(0.1)
        .with_unit(" ms")
        .with_value_to_string(formatters::v2s_f32_rounded(1))
}

/// A percentage between `min` and `max`, whole percent.
fn percent_param(name: &str, default: f32, min: f32, max: f32) -> FloatParam {
    FloatParam::new(name, default, FloatRange::Linear { min, max })
        .with_step_size(1.0)
        .with_unit(" %")
        .with_value_to_string(formatters::v2s_f32_rounded(0))
}

/// A compression ratio 1–20 (x:1), 0.1 steps.
fn ratio_param(name: &str, default: f32) -> FloatParam {
    FloatParam::new(
        name,
        default,
        FloatRange::Skewed { min: 1.0, max: 20.0, factor: FloatRange::skew_factor(-1.5) },
    )
    .with_step_size(0.1)
    .with_unit(":1")
    .with_value_to_string(formatters::v2s_f32_rounded(1))
}

fn eq_band_params(index: usize, band: &eq::EqBandSettings) -> EqBandParams {
    let n = index + 1;
    EqBandParams {
        enabled: BoolParam::new(format!("EQ {n} On"), band.enabled),
        kind: EnumParam::new(format!("EQ {n} Type"), eq_type_param(band.kind)),
        freq_hz: freq_param(&format!("EQ {n} Frequency"), band.freq_hz, 10.0, 30_000.0),
        gain_db: db_param(&format!("EQ {n} Gain"), band.gain_db, -30.0, 30.0),
        q: FloatParam::new(
            format!("EQ {n} Q"),
            band.q,
            FloatRange::Skewed { min: 0.1, max: 40.0, factor: FloatRange::skew_factor(-2.0) },
        )
        .with_step_size(0.01)
        .with_value_to_string(formatters::v2s_f32_rounded(2)),
        slope: EnumParam::new(format!("EQ {n} Slope"), eq_slope_param(band.slope_db_per_oct)),
        placement: EnumParam::new(format!("EQ {n} Placement"), eq_placement_param(band.placement)),
    }
}

fn glue_params(glue: &compressor::CompressorSettings) -> GlueParams {
    GlueParams {
        enabled: BoolParam::new("Glue On", !glue.bypass),
        threshold_db: db_param("Glue Threshold", glue.threshold_db as f32, -60.0, 0.0),
        ratio: ratio_param("Glue Ratio", glue.ratio as f32),
        attack_ms: time_ms_param("Glue Attack", glue.attack_ms as f32, 0.1, 100.0),
        release_ms: time_ms_param("Glue Release", glue.release_ms as f32, 10.0, 2000.0),
        auto_release: BoolParam::new("Glue Auto Release", glue.auto_release),
        knee_db: db_param("Glue Knee", glue.knee_db as f32, 0.0, 24.0),
        sidechain_hpf_hz: freq_param("Glue Sidechain HPF", glue.sidechain_hpf_hz as f32, 20.0, 300.0),
        mix_percent: percent_param("Glue Mix", glue.mix_percent as f32, 0.0, 100.0),
        makeup_db: db_param("Glue Make-up", glue.makeup_db as f32, -12.0, 24.0),
    }
}

fn multiband_params(multiband: &multiband::MultibandSettings) -> MultibandParams {
    const NAMES: [&str; multiband::BANDS] = ["Low", "Mid", "High"];
    MultibandParams {
        enabled: BoolParam::new("Multiband On", !multiband.bypass),
        crossover_low_hz: freq_param("Multiband Low/Mid", multiband.crossover_low_hz as f32, 20.0, 20_000.0),
        crossover_high_hz: freq_param(
            "Multiband Mid/High",
            multiband.crossover_high_hz as f32,
            20.0,
            20_000.0,
        ),
        bands: std::array::from_fn(|index| {
            let band = &multiband.bands[index];
            let name = NAMES[index];
            MultibandBandParams {
                threshold_db: db_param(&format!("MB {name} Threshold"), band.threshold_db as f32, -60.0, 0.0),
                ratio: ratio_param(&format!("MB {name} Ratio"), band.ratio as f32),
                attack_ms: time_ms_param(&format!("MB {name} Attack"), band.attack_ms as f32, 0.1, 100.0),
                release_ms: time_ms_param(
                    &format!("MB {name} Release"),
                    band.release_ms as f32,
                    10.0,
                    2000.0,
                ),
                gain_db: db_param(&format!("MB {name} Gain"), band.gain_db as f32, -24.0, 24.0),
                bypass: BoolParam::new(format!("MB {name} Bypass"), band.bypass),
                solo: BoolParam::new(format!("MB {name} Solo"), band.solo),
            }
        }),
    }
}

fn imager_params(imager: &imager::ImagerSettings) -> ImagerParams {
    let [low, mid, high] = imager.band_width_percent;
    ImagerParams {
        enabled: BoolParam::new("Imager On", !imager.bypass),
        width_percent: percent_param("Width", imager.width_percent as f32, 0.0, 200.0),
        low_width_percent: percent_param("Width Low", low as f32, 0.0, 200.0),
        mid_width_percent: percent_param("Width Mid", mid as f32, 0.0, 200.0),
        high_width_percent: percent_param("Width High", high as f32, 0.0, 200.0),
        mono_maker: BoolParam::new("Mono Maker", imager.mono_maker_enabled),
        mono_maker_hz: freq_param("Mono Maker Frequency", imager.mono_maker_hz as f32, 20.0, 300.0),
    }
}

fn limiter_params(limiter: &limiter::LimiterSettings) -> LimiterParams {
    LimiterParams {
        enabled: BoolParam::new("Limiter On", !limiter.bypass),
        ceiling_dbtp: FloatParam::new(
            "Ceiling",
            limiter.ceiling_dbtp,
            FloatRange::Linear { min: -20.0, max: 0.0 },
        )
        .with_step_size(0.1)
        .with_unit(" dBTP")
        .with_value_to_string(formatters::v2s_f32_rounded(1)),
        drive_db: db_param("Drive", limiter.drive_db, 0.0, 24.0),
        lookahead_ms: time_ms_param("Lookahead", limiter.lookahead_ms, 0.3, 20.0).non_automatable(),
        release_ms: time_ms_param("Limiter Release", limiter.release_ms, 1.0, 1000.0),
        stereo_link_percent: percent_param("Stereo Link", limiter.stereo_link_percent, 0.0, 100.0),
        oversampling: EnumParam::new("Oversampling", oversampling_param(limiter.oversampling))
            .non_automatable(),
        style: EnumParam::new("Limiter Style", limiter_style_param(limiter.style)),
    }
}

impl ParityParams {
    /// The monitor section's plain settings for the current parameter values.
    pub fn monitor_settings(&self) -> MonitorSettings {
        let monitor = &self.monitor;
        let platform = monitor.platform.value().table_id().and_then(|id| {
            crate::monitor::platform::platforms().iter().position(|platform| platform.id == id)
        });
        MonitorSettings {
            source: MonitorSource::from_index(monitor.source.value().max(0) as usize),
            level_match: match monitor.level_match.value() {
                LevelMatchParam::Off => LevelMatch::Off,
                LevelMatchParam::Integrated => LevelMatch::Integrated,
                LevelMatchParam::ShortTerm => LevelMatch::ShortTerm,
            },
            platform,
            listen: match monitor.listen.value() {
                ListenParam::Stereo => ListenMode::Stereo,
                ListenParam::Mono => ListenMode::Mono,
                ListenParam::Left => ListenMode::Left,
                ListenParam::Right => ListenMode::Right,
                ListenParam::Mid => ListenMode::Mid,
                ListenParam::Side => ListenMode::Side,
            },
            polarity: match monitor.polarity.value() {
                PolarityParam::Normal => Polarity::Normal,
                PolarityParam::InvertLeft => Polarity::InvertLeft,
                PolarityParam::InvertRight => Polarity::InvertRight,
                PolarityParam::InvertBoth => Polarity::InvertBoth,
            },
            band_solo: match monitor.band_solo.value() {
                BandSoloParam::Off => BandSolo::Off,
                BandSoloParam::Low => BandSolo::Low,
                BandSoloParam::Mid => BandSolo::Mid,
                BandSoloParam::High => BandSolo::High,
            },
            translation: match monitor.translation.value() {
                TranslationParam::Off => Translation::Off,
                TranslationParam::Earbuds => Translation::Earbuds,
                TranslationParam::Phone => Translation::Phone,
                TranslationParam::Laptop => Translation::Laptop,
                TranslationParam::Car => Translation::Car,
                TranslationParam::Tv => Translation::Tv,
                TranslationParam::Club => Translation::Club,
            },
            low_level: match monitor.low_level.value() {
                LowLevelParam::Off => LowLevel::Off,
                LowLevelParam::Phon70 => LowLevel::Phon70,
                LowLevelParam::Phon60 => LowLevel::Phon60,
                LowLevelParam::Phon50 => LowLevel::Phon50,
                LowLevelParam::Phon40 => LowLevel::Phon40,
            },
            dim: monitor.dim.value(),
            reference_sync: monitor.reference_sync.value(),
            crossover_low_hz: f64::from(self.multiband.crossover_low_hz.value()),
            crossover_high_hz: f64::from(self.multiband.crossover_high_hz.value()),
        }
    }

    /// The meters' transport behaviour for the current parameter values.
    pub fn meter_settings(&self) -> MeterSettings {
        MeterSettings {
            reset_on_play: self.meters.reset_on_play.value(),
            pause_when_stopped: self.meters.pause_when_stopped.value(),
        }
    }

    /// The engine's plain settings for the current parameter values (cheap: atomic loads).
    pub fn chain_settings(&self) -> ChainSettings {
        let eq = &self.eq;
        let glue = &self.glue;
        let mb = &self.multiband;
        let im = &self.imager;
        let lim = &self.limiter;
        let f = |p: &FloatParam| f64::from(p.value());
        ChainSettings {
            input_trim_db: self.input.trim_db.value(),
            output_gain_db: self.output.gain_db.value(),
            bypass: self.bypass.value(),
            stages: ChainStageSettings {
                dc_blocker: dc_blocker::DcBlockerSettings {
                    cutoff_hz: self.dc.cutoff_hz.value(),
                    bypass: !self.dc.enabled.value(),
                },
                eq: eq::EqSettings {
                    mode: match eq.mode.value() {
                        EqModeParam::MinimumPhase => eq::EqMode::MinimumPhase,
                        EqModeParam::LinearPhase => eq::EqMode::LinearPhase,
                    },
                    bands: std::array::from_fn(|index| {
                        let band = &eq.bands[index];
                        eq::EqBandSettings {
                            enabled: band.enabled.value(),
                            kind: eq_type(band.kind.value()),
                            freq_hz: band.freq_hz.value(),
                            gain_db: band.gain_db.value(),
                            q: band.q.value(),
                            slope_db_per_oct: eq_slope(band.slope.value()),
                            placement: eq_placement(band.placement.value()),
                        }
                    }),
                    bypass: !eq.enabled.value(),
                },
                glue: compressor::CompressorSettings {
                    threshold_db: f(&glue.threshold_db),
                    ratio: f(&glue.ratio),
                    attack_ms: f(&glue.attack_ms),
                    release_ms: f(&glue.release_ms),
                    auto_release: glue.auto_release.value(),
                    knee_db: f(&glue.knee_db),
                    sidechain_hpf_hz: f(&glue.sidechain_hpf_hz),
                    mix_percent: f(&glue.mix_percent),
                    makeup_db: f(&glue.makeup_db),
                    bypass: !glue.enabled.value(),
                },
                multiband: multiband::MultibandSettings {
                    crossover_low_hz: f(&mb.crossover_low_hz),
                    crossover_high_hz: f(&mb.crossover_high_hz),
                    bands: std::array::from_fn(|index| {
                        let band = &mb.bands[index];
                        multiband::BandSettings {
                            threshold_db: f(&band.threshold_db),
                            ratio: f(&band.ratio),
                            attack_ms: f(&band.attack_ms),
                            release_ms: f(&band.release_ms),
                            gain_db: f(&band.gain_db),
                            bypass: band.bypass.value(),
                            solo: band.solo.value(),
                        }
                    }),
                    bypass: !mb.enabled.value(),
                },
                imager: imager::ImagerSettings {
                    width_percent: f(&im.width_percent),
                    band_width_percent: [
                        f(&im.low_width_percent),
                        f(&im.mid_width_percent),
                        f(&im.high_width_percent),
                    ],
                    crossover_low_hz: f(&mb.crossover_low_hz),
                    crossover_high_hz: f(&mb.crossover_high_hz),
                    mono_maker_enabled: im.mono_maker.value(),
                    mono_maker_hz: f(&im.mono_maker_hz),
                    bypass: !im.enabled.value(),
                },
                limiter: limiter::LimiterSettings {
                    ceiling_dbtp: lim.ceiling_dbtp.value(),
                    drive_db: lim.drive_db.value(),
                    lookahead_ms: lim.lookahead_ms.value(),
                    release_ms: lim.release_ms.value(),
                    stereo_link_percent: lim.stereo_link_percent.value(),
                    oversampling: match lim.oversampling.value() {
                        OversamplingParam::Auto => limiter::Oversampling::Auto,
                        OversamplingParam::X1 => limiter::Oversampling::X1,
                        OversamplingParam::X2 => limiter::Oversampling::X2,
                        OversamplingParam::X4 => limiter::Oversampling::X4,
                        OversamplingParam::X8 => limiter::Oversampling::X8,
                        OversamplingParam::X16 => limiter::Oversampling::X16,
                    },
                    style: match lim.style.value() {
                        LimiterStyleParam::Transparent => limiter::LimiterStyle::Transparent,
                        LimiterStyleParam::Punchy => limiter::LimiterStyle::Punchy,
                        LimiterStyleParam::Safe => limiter::LimiterStyle::Safe,
                    },
                    bypass: !lim.enabled.value(),
                },
                dither: dither::DitherSettings {
                    mode: match self.dither.mode.value() {
                        DitherModeParam::Off => dither::DitherMode::Off,
                        DitherModeParam::Tpdf => dither::DitherMode::Tpdf,
                        DitherModeParam::NoiseShaped => dither::DitherMode::NoiseShaped,
                    },
                    word_length: match self.dither.word_length.value() {
                        WordLengthParam::Bits16 => dither::WordLength::Bits16,
                        WordLengthParam::Bits20 => dither::WordLength::Bits20,
                        WordLengthParam::Bits24 => dither::WordLength::Bits24,
                    },
                    auto_blank: self.dither.auto_blank.value(),
                    bypass: false,
                },
            },
        }
    }
}

fn eq_type(kind: EqTypeParam) -> eq::EqBandKind {
    match kind {
        EqTypeParam::Bell => eq::EqBandKind::Bell,
        EqTypeParam::LowShelf => eq::EqBandKind::LowShelf,
        EqTypeParam::HighShelf => eq::EqBandKind::HighShelf,
        EqTypeParam::LowCut => eq::EqBandKind::LowCut,
        EqTypeParam::HighCut => eq::EqBandKind::HighCut,
        EqTypeParam::Tilt => eq::EqBandKind::Tilt,
    }
}

fn eq_type_param(kind: eq::EqBandKind) -> EqTypeParam {
    match kind {
        eq::EqBandKind::Bell => EqTypeParam::Bell,
        eq::EqBandKind::LowShelf => EqTypeParam::LowShelf,
        eq::EqBandKind::HighShelf => EqTypeParam::HighShelf,
        eq::EqBandKind::LowCut => EqTypeParam::LowCut,
        eq::EqBandKind::HighCut => EqTypeParam::HighCut,
        eq::EqBandKind::Tilt => EqTypeParam::Tilt,
    }
}

/// Cut slopes in dB/oct, in the order of [`EqSlopeParam`].
const EQ_SLOPES_DB_PER_OCT: [u32; 6] = [6, 12, 18, 24, 36, 48];

fn eq_slope(slope: EqSlopeParam) -> u32 {
    EQ_SLOPES_DB_PER_OCT[slope as usize]
}

fn eq_slope_param(slope_db_per_oct: u32) -> EqSlopeParam {
    const ALL: [EqSlopeParam; 6] = [
        EqSlopeParam::Db6,
        EqSlopeParam::Db12,
        EqSlopeParam::Db18,
        EqSlopeParam::Db24,
        EqSlopeParam::Db36,
        EqSlopeParam::Db48,
    ];
    let index = EQ_SLOPES_DB_PER_OCT.iter().position(|&s| s >= slope_db_per_oct).unwrap_or(5);
    ALL[index]
}

fn eq_placement(placement: EqPlacementParam) -> eq::EqPlacement {
    match placement {
        EqPlacementParam::Stereo => eq::EqPlacement::Stereo,
        EqPlacementParam::Mid => eq::EqPlacement::Mid,
        EqPlacementParam::Side => eq::EqPlacement::Side,
    }
}

fn eq_placement_param(placement: eq::EqPlacement) -> EqPlacementParam {
    match placement {
        eq::EqPlacement::Stereo => EqPlacementParam::Stereo,
        eq::EqPlacement::Mid => EqPlacementParam::Mid,
        eq::EqPlacement::Side => EqPlacementParam::Side,
    }
}

fn eq_mode_param(mode: eq::EqMode) -> EqModeParam {
    match mode {
        eq::EqMode::MinimumPhase => EqModeParam::MinimumPhase,
        eq::EqMode::LinearPhase => EqModeParam::LinearPhase,
    }
}

fn oversampling_param(oversampling: limiter::Oversampling) -> OversamplingParam {
    match oversampling {
        limiter::Oversampling::Auto => OversamplingParam::Auto,
        limiter::Oversampling::X1 => OversamplingParam::X1,
        limiter::Oversampling::X2 => OversamplingParam::X2,
        limiter::Oversampling::X4 => OversamplingParam::X4,
        limiter::Oversampling::X8 => OversamplingParam::X8,
        limiter::Oversampling::X16 => OversamplingParam::X16,
    }
}

fn limiter_style_param(style: limiter::LimiterStyle) -> LimiterStyleParam {
    match style {
        limiter::LimiterStyle::Transparent => LimiterStyleParam::Transparent,
        limiter::LimiterStyle::Punchy => LimiterStyleParam::Punchy,
        limiter::LimiterStyle::Safe => LimiterStyleParam::Safe,
    }
}

fn dither_mode_param(mode: dither::DitherMode) -> DitherModeParam {
    match mode {
        dither::DitherMode::Off => DitherModeParam::Off,
        dither::DitherMode::Tpdf => DitherModeParam::Tpdf,
        dither::DitherMode::NoiseShaped => DitherModeParam::NoiseShaped,
    }
}

/// The [`WordLengthParam`] of a dither word length.
pub fn word_length_param(word_length: dither::WordLength) -> WordLengthParam {
    match word_length {
        dither::WordLength::Bits16 => WordLengthParam::Bits16,
        dither::WordLength::Bits20 => WordLengthParam::Bits20,
        dither::WordLength::Bits24 => WordLengthParam::Bits24,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_row_can_be_previewed_and_ids_round_trip() {
        for platform in crate::monitor::platform::platforms() {
            let variant = PlatformParam::from_table_id(&platform.id)
                .unwrap_or_else(|| panic!("no Platform Preview choice for table row {}", platform.id));
            assert_eq!(variant.table_id(), Some(platform.id.as_str()));
        }
        assert_eq!(PlatformParam::from_table_id("off"), None);
        assert_eq!(PlatformParam::from_table_id("vinyl"), None);
        assert_eq!(PlatformParam::Off.table_id(), None);
    }

    /// `id<TAB>group` lines; a released id may never change or disappear.
    const GOLDEN_IDS: &str = include_str!("../tests/golden/param_ids.txt");

    #[test]
    fn golden_parameter_ids_never_change() {
        let params = ParityParams::default();
        let current: Vec<(String, String)> =
            params.param_map().into_iter().map(|(id, _, group)| (id, group)).collect();
        let golden: Vec<(String, String)> = GOLDEN_IDS
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (id, group) = line.split_once('\t').unwrap_or((line, ""));
                (id.to_owned(), group.to_owned())
            })
            .collect();
        for entry in &golden {
            assert!(current.contains(entry), "parameter id {entry:?} changed or disappeared");
        }
        let added: Vec<_> = current.iter().filter(|entry| !golden.contains(entry)).collect();
        assert!(
            added.is_empty(),
            "new parameters {added:?}: add them to plugin/tests/golden/param_ids.txt (never edit old lines)"
        );
    }

    #[test]
    fn exactly_one_bypass_parameter_and_it_is_flagged() {
        let params = ParityParams::default();
        let bypasses: Vec<String> = params
            .param_map()
            .into_iter()
            // SAFETY: the pointers come from `params`, which outlives this loop.
            .filter(|(_, ptr, _)| unsafe { ptr.flags() }.contains(ParamFlags::BYPASS))
            .map(|(id, _, _)| id)
            .collect();
        assert_eq!(bypasses, vec!["bypass".to_owned()]);
    }

    #[test]
    fn every_value_survives_a_text_round_trip() {
        let params = ParityParams::default();
        for (id, ptr, _) in params.param_map() {
            for step in 0..=20 {
                let normalized = step as f32 / 20.0;
                // SAFETY: the pointers come from `params`, which outlives this loop.
                unsafe {
                    let text = ptr.normalized_value_to_string(normalized, true);
                    let parsed = ptr
                        .string_to_normalized_value(&text)
                        .unwrap_or_else(|| panic!("{id}: '{text}' does not parse"));
                    let again = ptr.normalized_value_to_string(parsed, true);
                    assert_eq!(text, again, "{id}: {normalized} -> '{text}' -> {parsed} -> '{again}'");
                }
            }
        }
    }

    #[test]
    fn defaults_are_neutral() {
        assert_eq!(ParityParams::default().chain_settings(), ChainSettings::default());
        assert_eq!(ParityParams::default().meter_settings(), MeterSettings::default());
    }
}
