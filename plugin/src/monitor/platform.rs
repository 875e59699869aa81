//! The platform table and the playback-gain rules of the platform preview: what each streaming
//! service or broadcast standard does to a master's level on playback, so the engineer can hear
//! the mix as it will be played and see every platform's "loudness penalty" at once.
//!
//! **Data.** `assets/platforms.csv` (embedded with `include_str!`) holds one row per platform:
//! target loudness, the turn-up rule, the peak ceiling, album/track mode, the date the row was
//! checked and its source. The table is parsed once ([`platforms`], `OnceLock`) by a small
//! hand-written parser ([`parse_platforms`]): comment lines start with `#`, fields may be
//! double-quoted (RFC 4180 style, `""` is a literal quote, no line breaks inside a field), columns
//! are found by their header name (extra columns are ignored). A malformed row is an error with
//! its line number; a unit test parses the real table, so a bad edit fails the build's tests.
//!
//! **Rules** ([`playback_gain`]). Sign convention everywhere: the gain is what the platform
//! applies, in dB; **negative = turned down**, positive = turned up. With `to_target = target −
//! integrated`:
//! - every rule turns a master louder than the target down by the full amount (`to_target < 0`),
//! - [`TurnUp::Never`]: quieter masters stay as they are (gain `min(to_target, 0)`),
//! - [`TurnUp::PeakLimited`]: quieter masters are lifted until the true peak reaches the ceiling:
//!   gain `min(to_target, max(ceiling − true_peak, 0))` (a quiet master already above the
//!   ceiling is left alone, never turned down for its peak),
//! - [`TurnUp::Limiter`] (Spotify Loud): gain `to_target` in full; a limiter with its threshold at
//!   the ceiling catches the peaks ([`crate::monitor::platform_limiter`] is that limiter),
//! - [`TurnUp::Full`] (broadcast): gain `to_target` both ways; the ceiling is the maximum
//!   permitted true peak of the delivered programme, flagged when exceeded.
//!
//! The integrated loudness and true peak are whatever the caller measured (BS.1770 integrated
//! loudness, true peak per BS.1770 Annex 2): for a platform whose mode is album normalisation,
//! passing the album's loudness and peak models album playback. The model is a static gain; what
//! a platform's codec does to the peaks is out of scope.

use std::fmt;
use std::sync::OnceLock;

/// The embedded platform table (see the module documentation for its format).
pub const PLATFORM_TABLE_CSV: &str = include_str!("../../../assets/platforms.csv");

/// Lowest target loudness a row may have, LUFS.
pub const MIN_TARGET_LUFS: f32 = -30.0;

/// Highest target loudness a row may have, LUFS.
pub const MAX_TARGET_LUFS: f32 = -5.0;

/// Lowest peak ceiling a row may have, dBTP.
pub const MIN_CEILING_DBTP: f32 = -10.0;

/// Highest peak ceiling a row may have, dBTP.
pub const MAX_CEILING_DBTP: f32 = 0.0;

/// Longest allowed platform id, characters.
pub const MAX_ID_LEN: usize = 32;

/// What a platform does with a master quieter than its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnUp {
    /// Never turned up: only loud masters are turned down (`never`).
    Never,
    /// Turned up only until the true peak reaches the ceiling (`peak_limited`).
    PeakLimited,
    /// Turned up fully; a limiter at the ceiling catches the peaks (`limiter`).
    Limiter,
    /// Normalised both ways; the ceiling is the maximum permitted true peak (`full`, broadcast).
    Full,
    /// No playback normalisation at all (`off`, e.g. CD): no target, gain 0.
    Off,
}

impl TurnUp {
    /// The table's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TurnUp::Never => "never",
            TurnUp::PeakLimited => "peak_limited",
            TurnUp::Limiter => "limiter",
            TurnUp::Full => "full",
            TurnUp::Off => "off",
        }
    }

    /// Parses the table's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [TurnUp::Never, TurnUp::PeakLimited, TurnUp::Limiter, TurnUp::Full, TurnUp::Off]
            .into_iter()
            .find(|rule| rule.as_str() == text)
    }

    /// Whether the rule needs a peak ceiling (every rule but [`TurnUp::Never`] and [`TurnUp::Off`]).
    pub fn has_ceiling(self) -> bool {
        !matches!(self, TurnUp::Never | TurnUp::Off)
    }

    /// Whether the rule has a playback target loudness (every rule but [`TurnUp::Off`]).
    pub fn has_target(self) -> bool {
        self != TurnUp::Off
    }
}

impl fmt::Display for TurnUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a platform normalises per track or per album by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every track is normalised on its own (`track`).
    Track,
    /// The album is normalised as a whole, keeping its internal level differences (`album`).
    Album,
    /// Album normalisation when an album plays in order, track normalisation otherwise
    /// (shuffle, playlists) (`context`).
    Context,
    /// Broadcast: the whole programme is normalised (`programme`).
    Programme,
    /// Not known (`unknown`).
    Unknown,
}

impl Mode {
    /// The table's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Track => "track",
            Mode::Album => "album",
            Mode::Context => "context",
            Mode::Programme => "programme",
            Mode::Unknown => "unknown",
        }
    }

    /// Parses the table's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [Mode::Track, Mode::Album, Mode::Context, Mode::Programme, Mode::Unknown]
            .into_iter()
            .find(|mode| mode.as_str() == text)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How authoritative a row's source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// The platform's own documentation (`official`).
    Official,
    /// A published standard or recommendation (`standard`).
    Standard,
    /// Engineers' measurements, articles, tools: less certain (`third_party`).
    ThirdParty,
}

impl SourceKind {
    /// The table's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Official => "official",
            SourceKind::Standard => "standard",
            SourceKind::ThirdParty => "third_party",
        }
    }

    /// Parses the table's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [SourceKind::Official, SourceKind::Standard, SourceKind::ThirdParty]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A calendar date (ISO 8601 `YYYY-MM-DD`), validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IsoDate {
    /// Year, 2000..=2100.
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of the month, 1..=28/29/30/31.
    pub day: u8,
}

impl IsoDate {
    /// Parses `YYYY-MM-DD`; `None` unless it is a real date between 2000 and 2100.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
            return None;
        }
        let digits = |range: std::ops::Range<usize>| -> Option<u16> {
            let part = text.get(range)?;
            if part.bytes().all(|b| b.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        };
        let year = digits(0..4)?;
        let month = u8::try_from(digits(5..7)?).ok()?;
        let day = u8::try_from(digits(8..10)?).ok()?;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((2000..=2100).contains(&year) && (1..=days_in_month).contains(&day)).then_some(Self {
            year,
            month,
            day,
        })
    }
}

impl fmt::Display for IsoDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// One platform's normalisation rule, as read from the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Platform {
    /// Short stable ascii id (`[a-z0-9_]`, at most [`MAX_ID_LEN`]), never renamed.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Playback (reference) loudness, LUFS integrated, within
    /// [`MIN_TARGET_LUFS`]..=[`MAX_TARGET_LUFS`]; `None` exactly when `turn_up` is
    /// [`TurnUp::Off`] (no normalisation).
    pub target_lufs: Option<f32>,
    /// What happens to masters quieter than the target.
    pub turn_up: TurnUp,
    /// The peak rule of [`Self::turn_up`], dBTP: turn-up ceiling, limiter threshold or maximum
    /// permitted true peak. `None` exactly when `turn_up` is [`TurnUp::Never`].
    pub peak_ceiling_dbtp: Option<f32>,
    /// Track or album normalisation by default.
    pub mode: Mode,
    /// When the row was last checked against its source.
    pub checked: IsoDate,
    /// Where the rule comes from (URLs or documents, separated by ` ; `).
    pub source: String,
    /// How authoritative the source is.
    pub source_kind: SourceKind,
    /// Caveats, disagreements between sources, assumptions (may be empty).
    pub note: String,
    /// What a delivered master must (or should) meet for this platform: the delivery checks'
    /// thresholds and the format. Defaults when the table has no delivery columns.
    pub delivery: Delivery,
}

/// How binding a platform's delivery loudness is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeliveryKind {
    /// A specification the file must meet: outside the tolerance fails (`required`, broadcast).
    Required,
    /// The platform or standard advises it: outside the tolerance warns (`recommended`).
    Recommended,
    /// Only the playback reference is known: report the gain the platform will apply
    /// (`reference`).
    Reference,
    /// No loudness target: peak and format checks only (`none`).
    #[default]
    None,
}

impl DeliveryKind {
    /// The table's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryKind::Required => "required",
            DeliveryKind::Recommended => "recommended",
            DeliveryKind::Reference => "reference",
            DeliveryKind::None => "none",
        }
    }

    /// Parses the table's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Required, Self::Recommended, Self::Reference, Self::None]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// Channel layouts a platform accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeliveryChannels {
    /// Two channels (`stereo`).
    #[default]
    Stereo,
    /// One channel (`mono`).
    Mono,
    /// Either (`mono_or_stereo`).
    MonoOrStereo,
}

impl DeliveryChannels {
    /// The table's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stereo => "stereo",
            Self::Mono => "mono",
            Self::MonoOrStereo => "mono_or_stereo",
        }
    }

    /// Parses the table's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Stereo, Self::Mono, Self::MonoOrStereo].into_iter().find(|c| c.as_str() == text)
    }

    /// Whether a file with `channels` channels fits.
    pub fn accepts(self, channels: usize) -> bool {
        match self {
            Self::Stereo => channels == 2,
            Self::Mono => channels == 1,
            Self::MonoOrStereo => channels == 1 || channels == 2,
        }
    }
}

/// When the delivery needs dither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DitherRule {
    /// Only when the export word length is shorter than the processing word length
    /// (`when_reducing`).
    #[default]
    WhenReducing,
    /// Always: the format is always a reduction, e.g. CD's 16 bits (`required`).
    Required,
}

impl DitherRule {
    /// The table's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WhenReducing => "when_reducing",
            Self::Required => "required",
        }
    }

    /// Parses the table's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::WhenReducing, Self::Required].into_iter().find(|d| d.as_str() == text)
    }
}

/// A platform's delivery specification (the `delivery_*` and format columns).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// How binding [`Self::loudness_lufs`] is.
    pub kind: DeliveryKind,
    /// Integrated loudness the delivered file should have, LUFS (`None`: no loudness target).
    pub loudness_lufs: Option<f32>,
    /// ± tolerance on [`Self::loudness_lufs`], LU (`None`: none published).
    pub tolerance_lu: Option<f32>,
    /// Maximum true peak of the delivered file, dBTP.
    pub true_peak_dbtp: f32,
    /// If the file is louder than this (LUFS) …
    pub loud_above_lufs: Option<f32>,
    /// … its true peak must stay below this instead, dBTP (Spotify's −2 dBTP rule).
    pub loud_true_peak_dbtp: Option<f32>,
    /// Accepted sample rates, Hz (empty: any rate).
    pub sample_rates_hz: Vec<u32>,
    /// Default export rate, Hz (`None`: keep the session rate).
    pub preferred_rate_hz: Option<u32>,
    /// Smallest accepted PCM word length, bits.
    pub min_bits: u32,
    /// Default export word length, bits.
    pub preferred_bits: u32,
    /// Accepted containers (`wav`, `flac`, `aiff`, `mp3`, `aac`, `ddp`).
    pub formats: Vec<String>,
    /// Accepted channel layouts.
    pub channels: DeliveryChannels,
    /// When dither is needed.
    pub dither: DitherRule,
    /// Where the delivery numbers come from (separated by ` ; `).
    pub source: String,
    /// How authoritative that source is.
    pub source_kind: SourceKind,
    /// Caveats for the delivery columns.
    pub note: String,
}

impl Default for Delivery {
    /// No loudness target, −1 dBTP (the common codec-input ceiling, AES TD1008), 16 bits or more
    /// at any rate, stereo WAV/FLAC.
    fn default() -> Self {
        Self {
            kind: DeliveryKind::None,
            loudness_lufs: None,
            tolerance_lu: None,
            true_peak_dbtp: -1.0,
            loud_above_lufs: None,
            loud_true_peak_dbtp: None,
            sample_rates_hz: Vec::new(),
            preferred_rate_hz: None,
            min_bits: 16,
            preferred_bits: 24,
            formats: vec!["wav".to_owned(), "flac".to_owned()],
            channels: DeliveryChannels::Stereo,
            dither: DitherRule::WhenReducing,
            source: String::new(),
            source_kind: SourceKind::ThirdParty,
            note: String::new(),
        }
    }
}

/// Why a table did not parse.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseErrorKind {
    /// No header line (the table is empty or only comments).
    NoHeader,
    /// A required column is missing from the header.
    MissingColumn(&'static str),
    /// A column name appears twice in the header.
    DuplicateColumn(String),
    /// A row has a different number of fields than the header.
    FieldCount {
        /// Fields in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
    /// A quoted field is not closed on its line.
    UnterminatedQuote,
    /// A quote inside an unquoted field, or text after a closing quote.
    StrayQuote,
    /// A required field is empty.
    Empty(&'static str),
    /// A numeric field is not a finite number.
    Number {
        /// Column name.
        column: &'static str,
        /// The field as written.
        value: String,
    },
    /// A numeric field is outside its allowed range.
    OutOfRange {
        /// Column name.
        column: &'static str,
        /// The value.
        value: f32,
    },
    /// `turn_up` is not one of `never`, `peak_limited`, `limiter`, `full`.
    TurnUp(String),
    /// `mode` is not one of `track`, `album`, `context`, `programme`, `unknown`.
    Mode(String),
    /// `source_kind` is not one of `official`, `standard`, `third_party`.
    SourceKind(String),
    /// `checked` is not a valid `YYYY-MM-DD` date.
    Date(String),
    /// The id is not `[a-z0-9_]{1,32}`.
    Id(String),
    /// The id was already used by an earlier row.
    DuplicateId(String),
    /// `peak_ceiling_dbtp` is empty although the rule needs it.
    MissingCeiling,
    /// `peak_ceiling_dbtp` is given although `turn_up` is `never` (it would be ignored).
    UnusedCeiling,
    /// `target_lufs` is given although `turn_up` is `off` (it would be ignored).
    UnusedTarget,
    /// A delivery column holds a value it does not know.
    Delivery {
        /// Column name.
        column: &'static str,
        /// The field as written.
        value: String,
    },
}

/// A table parse error: what went wrong and on which line (1-based, counting every line).
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// Line of the table, 1-based.
    pub line: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "platform table line {}: ", self.line)?;
        match &self.kind {
            ParseErrorKind::NoHeader => write!(f, "no header line"),
            ParseErrorKind::MissingColumn(column) => write!(f, "header has no `{column}` column"),
            ParseErrorKind::DuplicateColumn(column) => write!(f, "column `{column}` appears twice"),
            ParseErrorKind::FieldCount { expected, found } => {
                write!(f, "{found} fields, the header has {expected}")
            }
            ParseErrorKind::UnterminatedQuote => write!(f, "quoted field not closed on this line"),
            ParseErrorKind::StrayQuote => {
                write!(f, "quote inside an unquoted field or after a closing quote")
            }
            ParseErrorKind::Empty(column) => write!(f, "`{column}` is empty"),
            ParseErrorKind::Number { column, value } => write!(f, "`{column}` = `{value}` is not a number"),
            ParseErrorKind::OutOfRange { column, value } => write!(f, "`{column}` = {value} is out of range"),
            ParseErrorKind::TurnUp(value) => {
                write!(f, "turn_up `{value}` is not never, peak_limited, limiter, full or off")
            }
            ParseErrorKind::Mode(value) => {
                write!(f, "mode `{value}` is not track, album, context, programme or unknown")
            }
            ParseErrorKind::SourceKind(value) => {
                write!(f, "source_kind `{value}` is not official, standard or third_party")
            }
            ParseErrorKind::Date(value) => write!(f, "checked `{value}` is not a YYYY-MM-DD date"),
            ParseErrorKind::Id(value) => write!(f, "id `{value}` is not [a-z0-9_]{{1,{MAX_ID_LEN}}}"),
            ParseErrorKind::DuplicateId(value) => write!(f, "id `{value}` is used twice"),
            ParseErrorKind::MissingCeiling => write!(f, "peak_ceiling_dbtp is required by this turn_up rule"),
            ParseErrorKind::UnusedCeiling => {
                write!(f, "peak_ceiling_dbtp must be empty when turn_up is never or off")
            }
            ParseErrorKind::UnusedTarget => write!(f, "target_lufs must be empty when turn_up is off"),
            ParseErrorKind::Delivery { column, value } => write!(f, "`{column}` = `{value}` is not valid"),
        }
    }
}

impl std::error::Error for ParseError {}

/// The columns every table must have, in the order the parser looks them up.
const COLUMNS: [&str; 10] = [
    "id",
    "name",
    "target_lufs",
    "turn_up",
    "peak_ceiling_dbtp",
    "mode",
    "checked",
    "source",
    "source_kind",
    "note",
];

/// Optional delivery columns (a table without them gets [`Delivery::default`]).
const DELIVERY_COLUMNS: [&str; 16] = [
    "delivery_kind",
    "delivery_lufs",
    "delivery_tol_lu",
    "delivery_tp_dbtp",
    "loud_above_lufs",
    "loud_tp_dbtp",
    "sample_rates_hz",
    "preferred_rate_hz",
    "min_bits",
    "preferred_bits",
    "formats",
    "channels",
    "dither",
    "delivery_source",
    "delivery_source_kind",
    "delivery_note",
];

/// Parses a platform table (format in the module documentation). Rows keep the table's order.
pub fn parse_platforms(text: &str) -> Result<Vec<Platform>, ParseError> {
    let mut header: Option<(Vec<String>, [usize; COLUMNS.len()])> = None;
    let mut platforms: Vec<Platform> = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw_line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields = split_record(trimmed).map_err(|kind| ParseError { line, kind })?;
        let Some((names, columns)) = &header else {
            header = Some(parse_header(fields).map_err(|kind| ParseError { line, kind })?);
            continue;
        };
        if fields.len() != names.len() {
            return Err(ParseError {
                line,
                kind: ParseErrorKind::FieldCount { expected: names.len(), found: fields.len() },
            });
        }
        let platform = parse_row(&fields, names, columns).map_err(|kind| ParseError { line, kind })?;
        if platforms.iter().any(|earlier| earlier.id == platform.id) {
            return Err(ParseError { line, kind: ParseErrorKind::DuplicateId(platform.id) });
        }
        platforms.push(platform);
    }
    if header.is_none() {
        return Err(ParseError { line: text.lines().count().max(1), kind: ParseErrorKind::NoHeader });
    }
    Ok(platforms)
}

/// Splits one line into fields: `,`-separated, unquoted fields trimmed, quoted fields verbatim
/// with `""` as a literal quote.
fn split_record(line: &str) -> Result<Vec<String>, ParseErrorKind> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(ParseErrorKind::UnterminatedQuote),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
            match chars.next() {
                None => return Ok(fields),
                Some(',') => continue,
                Some(_) => return Err(ParseErrorKind::StrayQuote),
            }
        }
        loop {
            match chars.next() {
                None => {
                    fields.push(field.trim().to_owned());
                    return Ok(fields);
                }
                Some(',') => break,
                Some('"') => return Err(ParseErrorKind::StrayQuote),
                Some(c) => field.push(c),
            }
        }
        fields.push(field.trim().to_owned());
    }
}

/// Finds every required column in the header; returns the names and each column's index.
fn parse_header(names: Vec<String>) -> Result<(Vec<String>, [usize; COLUMNS.len()]), ParseErrorKind> {
    for (i, name) in names.iter().enumerate() {
        if names.iter().skip(i + 1).any(|other| other == name) {
            return Err(ParseErrorKind::DuplicateColumn(name.clone()));
        }
    }
    let mut columns = [0; COLUMNS.len()];
    for (slot, column) in columns.iter_mut().zip(COLUMNS) {
        *slot = names.iter().position(|name| name == column).ok_or(ParseErrorKind::MissingColumn(column))?;
    }
    Ok((names, columns))
}

/// Builds one platform from a row whose field count matches the header.
fn parse_row(
    fields: &[String],
    names: &[String],
    columns: &[usize; COLUMNS.len()],
) -> Result<Platform, ParseErrorKind> {
    let field = |column: &'static str| -> &str {
        COLUMNS
            .iter()
            .position(|&name| name == column)
            .and_then(|slot| columns.get(slot))
            .and_then(|&index| fields.get(index))
            .map_or("", String::as_str)
    };
    let required = |column: &'static str| -> Result<&str, ParseErrorKind> {
        let value = field(column);
        if value.is_empty() {
            Err(ParseErrorKind::Empty(column))
        } else {
            Ok(value)
        }
    };
    let number = |column: &'static str, value: &str, range: std::ops::RangeInclusive<f32>| {
        let parsed: f32 = value
            .parse()
            .ok()
            .filter(|x: &f32| x.is_finite())
            .ok_or_else(|| ParseErrorKind::Number { column, value: value.to_owned() })?;
        if range.contains(&parsed) {
            Ok(parsed)
        } else {
            Err(ParseErrorKind::OutOfRange { column, value: parsed })
        }
    };

    let id = required("id")?;
    let valid_id = id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid_id {
        return Err(ParseErrorKind::Id(id.to_owned()));
    }
    let name = required("name")?;
    let turn_up_text = required("turn_up")?;
    let turn_up =
        TurnUp::parse(turn_up_text).ok_or_else(|| ParseErrorKind::TurnUp(turn_up_text.to_owned()))?;
    let target_lufs = if turn_up.has_target() {
        Some(number("target_lufs", required("target_lufs")?, MIN_TARGET_LUFS..=MAX_TARGET_LUFS)?)
    } else if field("target_lufs").is_empty() {
        None
    } else {
        return Err(ParseErrorKind::UnusedTarget);
    };
    let ceiling_text = field("peak_ceiling_dbtp");
    let peak_ceiling_dbtp = match (turn_up.has_ceiling(), ceiling_text.is_empty()) {
        (true, true) => return Err(ParseErrorKind::MissingCeiling),
        (false, false) => return Err(ParseErrorKind::UnusedCeiling),
        (false, true) => None,
        (true, false) => {
            Some(number("peak_ceiling_dbtp", ceiling_text, MIN_CEILING_DBTP..=MAX_CEILING_DBTP)?)
        }
    };
    let mode_text = required("mode")?;
    let mode = Mode::parse(mode_text).ok_or_else(|| ParseErrorKind::Mode(mode_text.to_owned()))?;
    let checked_text = required("checked")?;
    let checked =
        IsoDate::parse(checked_text).ok_or_else(|| ParseErrorKind::Date(checked_text.to_owned()))?;
    let source = required("source")?;
    let kind_text = required("source_kind")?;
    let source_kind =
        SourceKind::parse(kind_text).ok_or_else(|| ParseErrorKind::SourceKind(kind_text.to_owned()))?;
    let delivery = parse_delivery(fields, names)?;
    Ok(Platform {
        id: id.to_owned(),
        name: name.to_owned(),
        target_lufs,
        turn_up,
        peak_ceiling_dbtp,
        mode,
        checked,
        source: source.to_owned(),
        source_kind,
        note: field("note").to_owned(),
        delivery,
    })
}

/// Reads the optional delivery columns of one row; a column the header lacks keeps its default.
fn parse_delivery(fields: &[String], names: &[String]) -> Result<Delivery, ParseErrorKind> {
    let field = |column: &'static str| -> Option<&str> {
        debug_assert!(DELIVERY_COLUMNS.contains(&column));
        names.iter().position(|name| name == column).and_then(|index| fields.get(index)).map(String::as_str)
    };
    let bad =
        |column: &'static str, value: &str| ParseErrorKind::Delivery { column, value: value.to_owned() };
    let number =
        |column: &'static str, range: std::ops::RangeInclusive<f32>| -> Result<Option<f32>, ParseErrorKind> {
            match field(column) {
                None | Some("") => Ok(None),
                Some(text) => {
                    let value: f32 =
                        text.parse().ok().filter(|x: &f32| x.is_finite()).ok_or_else(|| bad(column, text))?;
                    if range.contains(&value) {
                        Ok(Some(value))
                    } else {
                        Err(ParseErrorKind::OutOfRange { column, value })
                    }
                }
            }
        };
    let integer = |column: &'static str, text: &str, range: std::ops::RangeInclusive<u32>| {
        text.parse::<u32>().ok().filter(|v| range.contains(v)).ok_or_else(|| bad(column, text))
    };
    let defaults = Delivery::default();
    let kind = match field("delivery_kind") {
        None | Some("") => defaults.kind,
        Some(text) => DeliveryKind::parse(text).ok_or_else(|| bad("delivery_kind", text))?,
    };
    let loudness_lufs = number("delivery_lufs", MIN_TARGET_LUFS..=MAX_TARGET_LUFS)?;
    if loudness_lufs.is_none() && matches!(kind, DeliveryKind::Required | DeliveryKind::Recommended) {
        return Err(ParseErrorKind::Empty("delivery_lufs"));
    }
    let rates = |column: &'static str| -> Result<Vec<u32>, ParseErrorKind> {
        field(column)
            .unwrap_or("")
            .split_whitespace()
            .map(|text| integer(column, text, 8_000..=768_000))
            .collect()
    };
    let preferred_rate_hz = match field("preferred_rate_hz") {
        None | Some("") => None,
        Some(text) => Some(integer("preferred_rate_hz", text, 8_000..=768_000)?),
    };
    let bits = |column: &'static str, default: u32| match field(column) {
        None | Some("") => Ok(default),
        Some(text) => integer(column, text, 8..=32),
    };
    let formats: Vec<String> = match field("formats") {
        None | Some("") => defaults.formats.clone(),
        Some(text) => {
            let known = ["wav", "flac", "aiff", "mp3", "aac", "ddp"];
            text.split_whitespace()
                .map(|f| if known.contains(&f) { Ok(f.to_owned()) } else { Err(bad("formats", f)) })
                .collect::<Result<_, _>>()?
        }
    };
    let channels = match field("channels") {
        None | Some("") => defaults.channels,
        Some(text) => DeliveryChannels::parse(text).ok_or_else(|| bad("channels", text))?,
    };
    let dither = match field("dither") {
        None | Some("") => defaults.dither,
        Some(text) => DitherRule::parse(text).ok_or_else(|| bad("dither", text))?,
    };
    let source_kind = match field("delivery_source_kind") {
        None | Some("") => defaults.source_kind,
        Some(text) => SourceKind::parse(text).ok_or_else(|| bad("delivery_source_kind", text))?,
    };
    let min_bits = bits("min_bits", defaults.min_bits)?;
    let preferred_bits = bits("preferred_bits", defaults.preferred_bits)?;
    if preferred_bits < min_bits {
        return Err(bad("preferred_bits", &preferred_bits.to_string()));
    }
    Ok(Delivery {
        kind,
        loudness_lufs,
        tolerance_lu: number("delivery_tol_lu", 0.0..=10.0)?,
        true_peak_dbtp: number("delivery_tp_dbtp", MIN_CEILING_DBTP..=MAX_CEILING_DBTP)?
            .unwrap_or(defaults.true_peak_dbtp),
        loud_above_lufs: number("loud_above_lufs", MIN_TARGET_LUFS..=MAX_TARGET_LUFS)?,
        loud_true_peak_dbtp: number("loud_tp_dbtp", MIN_CEILING_DBTP..=MAX_CEILING_DBTP)?,
        sample_rates_hz: rates("sample_rates_hz")?,
        preferred_rate_hz,
        min_bits,
        preferred_bits,
        formats,
        channels,
        dither,
        source: field("delivery_source").unwrap_or("").to_owned(),
        source_kind,
        note: field("delivery_note").unwrap_or("").to_owned(),
    })
}

/// Every platform of the embedded table, in table order. Parsed on first use (allocates once;
/// call it from the GUI or setup, not first from the audio thread). The unit tests guarantee the
/// embedded table parses; if it ever did not, this would be empty rather than panic.
pub fn platforms() -> &'static [Platform] {
    static PLATFORMS: OnceLock<Vec<Platform>> = OnceLock::new();
    PLATFORMS.get_or_init(|| parse_platforms(PLATFORM_TABLE_CSV).unwrap_or_default())
}

/// The platform with this id, if the table has it.
pub fn platform(id: &str) -> Option<&'static Platform> {
    platforms().iter().find(|platform| platform.id == id)
}

/// What a platform does to one master on playback. Sign convention: `gain_db` negative = turned
/// down, positive = turned up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaybackGain {
    /// Gain the platform applies, dB (negative = turned down). This is the "loudness penalty" as
    /// popularised by loudnesspenalty.com. Exactly 0 when `measured` is false.
    pub gain_db: f32,
    /// Integrated loudness on playback, LUFS: the input plus `gain_db`. Below the target when
    /// the master is quiet and the platform does not (fully) turn it up.
    pub playback_lufs: f32,
    /// True peak on playback before any platform limiter, dBTP: the input plus `gain_db`.
    pub playback_true_peak_dbtp: f32,
    /// Turn-up was cut short by the peak ceiling ([`TurnUp::PeakLimited`]): the master plays
    /// quieter than the target.
    pub limited_by_peak: bool,
    /// The platform's limiter will act ([`TurnUp::Limiter`]): the true peak after the gain is above
    /// the limiter threshold. The threshold is specified on sample values, so a master whose
    /// overs are only inter-sample peaks may be flagged without the limiter acting.
    pub limiter_engaged: bool,
    /// The true peak after the gain is above the platform's ceiling. For broadcast
    /// ([`TurnUp::Full`]) this fails delivery; for streaming it means the playback is hotter than
    /// the headroom the platform asks for (codec clipping risk). Always false for
    /// [`TurnUp::Never`] (no ceiling) and for [`TurnUp::Limiter`] (see `limiter_engaged`).
    pub exceeds_peak_ceiling: bool,
    /// False when the loudness or the true peak was missing or not finite (NaN, ±∞, e.g. the
    /// gated loudness of silence): the gain is then 0 and the other fields say nothing.
    pub measured: bool,
}

impl PlaybackGain {
    /// The "no information" result: gain 0, nothing flagged, `measured` false.
    fn unmeasured(integrated_lufs: f32, true_peak_dbtp: f32) -> Self {
        Self {
            gain_db: 0.0,
            playback_lufs: integrated_lufs,
            playback_true_peak_dbtp: true_peak_dbtp,
            limited_by_peak: false,
            limiter_engaged: false,
            exceeds_peak_ceiling: false,
            measured: false,
        }
    }
}

/// The gain `platform` applies to a master of integrated loudness `integrated_lufs` (LUFS,
/// BS.1770) and true peak `true_peak_dbtp` (dBTP), following its turn-up rule (see the module
/// documentation). Non-finite inputs give gain 0 with `measured` false.
pub fn playback_gain(platform: &Platform, integrated_lufs: f32, true_peak_dbtp: f32) -> PlaybackGain {
    if !integrated_lufs.is_finite() || !true_peak_dbtp.is_finite() {
        return PlaybackGain::unmeasured(integrated_lufs, true_peak_dbtp);
    }
    let Some(target_lufs) = platform.target_lufs else {
        // No normalisation (CD): the master plays as it is.
        return PlaybackGain { measured: true, ..PlaybackGain::unmeasured(integrated_lufs, true_peak_dbtp) };
    };
    let to_target = target_lufs - integrated_lufs;
    // A missing ceiling on a rule that needs one cannot come from the parser; 0 dBTP is the
    // physical limit, used only if a hand-built `Platform` leaves it out.
    let ceiling = platform.peak_ceiling_dbtp.unwrap_or(0.0);
    let mut limited_by_peak = false;
    let gain_db = match platform.turn_up {
        TurnUp::Never => to_target.min(0.0),
        TurnUp::Off => 0.0,
        TurnUp::PeakLimited => {
            if to_target <= 0.0 {
                to_target
            } else {
                let headroom = (ceiling - true_peak_dbtp).max(0.0);
                limited_by_peak = headroom < to_target;
                to_target.min(headroom)
            }
        }
        TurnUp::Limiter | TurnUp::Full => to_target,
    };
    let playback_true_peak_dbtp = true_peak_dbtp + gain_db;
    let over_ceiling = playback_true_peak_dbtp > ceiling;
    PlaybackGain {
        gain_db,
        playback_lufs: integrated_lufs + gain_db,
        playback_true_peak_dbtp,
        limited_by_peak,
        limiter_engaged: platform.turn_up == TurnUp::Limiter && over_ceiling,
        exceeds_peak_ceiling: matches!(platform.turn_up, TurnUp::PeakLimited | TurnUp::Full) && over_ceiling,
        measured: true,
    }
}

/// Every platform with the gain it would apply to this master, in table order: the editor's
/// loudness-penalty table. Allocates (GUI thread).
pub fn penalty_table(integrated_lufs: f32, true_peak_dbtp: f32) -> Vec<(&'static Platform, PlaybackGain)> {
    platforms()
        .iter()
        .map(|platform| (platform, playback_gain(platform, integrated_lufs, true_peak_dbtp)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table header with every column, for the parser tests.
    const HEADER: &str = "id,name,target_lufs,turn_up,peak_ceiling_dbtp,mode,checked,source,source_kind,note";

    /// A platform with the given rule, for the rule tests (independent of the real table's values).
    fn rule(turn_up: TurnUp, target_lufs: f32, ceiling: Option<f32>) -> Platform {
        Platform {
            id: "test".into(),
            name: "Test".into(),
            target_lufs: Some(target_lufs),
            turn_up,
            peak_ceiling_dbtp: ceiling,
            mode: Mode::Track,
            checked: IsoDate { year: 2026, month: 1, day: 1 },
            source: "hand-written".into(),
            source_kind: SourceKind::Standard,
            note: String::new(),
            delivery: Delivery::default(),
        }
    }

    fn assert_close(actual: f32, expected: f32) {
        assert!((actual - expected).abs() < 1e-5, "{actual} != {expected}");
    }

    fn parse_error(body: &str) -> ParseError {
        let text = format!("# comment\n{HEADER}\n{body}\n");
        parse_platforms(&text).expect_err("the table must not parse")
    }

    #[test]
    fn real_table_parses_with_dates_sources_and_sane_values() {
        let table = parse_platforms(PLATFORM_TABLE_CSV).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(table.as_slice(), platforms());
        let expected_ids = [
            "spotify",
            "spotify_loud",
            "spotify_quiet",
            "apple_music",
            "youtube",
            "tidal",
            "amazon_music",
            "deezer",
            "soundcloud",
            "ebu_r128",
            "atsc_a85",
        ];
        for id in expected_ids {
            assert!(platform(id).is_some(), "missing platform {id}");
        }
        for (i, p) in table.iter().enumerate() {
            assert!(table.iter().skip(i + 1).all(|other| other.id != p.id), "duplicate id {}", p.id);
            assert!(p.id.is_ascii() && !p.id.is_empty());
            assert_eq!(p.target_lufs.is_some(), p.turn_up.has_target(), "{}", p.id);
            if let Some(target) = p.target_lufs {
                assert!((-30.0..=-5.0).contains(&target), "{}: target {target}", p.id);
            }
            // Every row carries its delivery specification, sourced.
            let d = &p.delivery;
            assert!(!d.source.trim().is_empty(), "{}: no delivery source", p.id);
            assert!((-10.0..=0.0).contains(&d.true_peak_dbtp), "{}", p.id);
            assert!(d.min_bits <= d.preferred_bits && d.min_bits >= 16, "{}", p.id);
            assert!(!d.formats.is_empty(), "{}", p.id);
            if let Some(rate) = d.preferred_rate_hz {
                assert!(d.sample_rates_hz.is_empty() || d.sample_rates_hz.contains(&rate), "{}", p.id);
            }
            assert!(!p.source.trim().is_empty(), "{}: no source", p.id);
            assert!(p.checked.year >= 2024, "{}: checked {}", p.id, p.checked);
            assert_eq!(p.peak_ceiling_dbtp.is_some(), p.turn_up.has_ceiling(), "{}", p.id);
            assert!(!p.name.is_empty());
            // Anything not from the platform itself or a standard must explain itself.
            if p.source_kind == SourceKind::ThirdParty {
                assert!(p.note.len() > 40, "{}: third-party row without a note", p.id);
            }
        }
        println!(
            "{:<14} {:<26} {:>7} {:<13} {:>8} {:<10} {:<10} {:<11}",
            "id", "name", "target", "turn_up", "ceiling", "mode", "checked", "source"
        );
        for p in &table {
            let ceiling = p.peak_ceiling_dbtp.map_or("-".to_owned(), |c| format!("{c:.1}"));
            let target = p.target_lufs.map_or("-".to_owned(), |t| format!("{t:.1}"));
            println!(
                "{:<14} {:<26} {:>7} {:<13} {:>8} {:<10} {:<10} {:<11}",
                p.id, p.name, target, p.turn_up, ceiling, p.mode, p.checked, p.source_kind
            );
        }
    }

    #[test]
    fn lookup_by_id() {
        let spotify = platform("spotify").expect("spotify");
        assert_eq!(spotify.target_lufs, Some(-14.0));
        assert_eq!(spotify.turn_up, TurnUp::PeakLimited);
        assert_eq!(spotify.peak_ceiling_dbtp, Some(-1.0));
        assert_eq!(platform("spotify_loud").map(|p| p.turn_up), Some(TurnUp::Limiter));
        assert_eq!(
            platform("ebu_r128").map(|p| (p.target_lufs, p.peak_ceiling_dbtp)),
            Some((Some(-23.0), Some(-1.0)))
        );
        assert_eq!(
            platform("atsc_a85").map(|p| (p.target_lufs, p.peak_ceiling_dbtp)),
            Some((Some(-24.0), Some(-2.0)))
        );
        assert!(platform("nope").is_none());
        assert!(platform("").is_none());
    }

    #[test]
    fn never_turns_loud_masters_down_and_leaves_quiet_ones() {
        let p = rule(TurnUp::Never, -14.0, None);
        let loud = playback_gain(&p, -8.0, -0.1);
        assert_close(loud.gain_db, -6.0);
        assert_close(loud.playback_lufs, -14.0);
        assert_close(loud.playback_true_peak_dbtp, -6.1);
        let quiet = playback_gain(&p, -20.0, -12.0);
        assert_eq!(quiet.gain_db, 0.0);
        assert_close(quiet.playback_lufs, -20.0);
        for g in [loud, quiet] {
            assert!(g.measured && !g.limited_by_peak && !g.limiter_engaged && !g.exceeds_peak_ceiling);
        }
    }

    #[test]
    fn peak_limited_turn_up_stops_at_the_ceiling() {
        let p = rule(TurnUp::PeakLimited, -14.0, Some(-1.0));
        // Spotify's own example: −20 LUFS with a −5 dBTP peak is lifted to −16 LUFS (+4 dB).
        let example = playback_gain(&p, -20.0, -5.0);
        assert_close(example.gain_db, 4.0);
        assert_close(example.playback_lufs, -16.0);
        assert_close(example.playback_true_peak_dbtp, -1.0);
        assert!(example.limited_by_peak && !example.exceeds_peak_ceiling);
        // Enough headroom: full turn-up, −20 → −14 LUFS, peak −10 → −4 dBTP.
        let roomy = playback_gain(&p, -20.0, -10.0);
        assert_close(roomy.gain_db, 6.0);
        assert!(!roomy.limited_by_peak);
        // Headroom exactly equal to the gain needed: full turn-up, not limited.
        let exact = playback_gain(&p, -20.0, -7.0);
        assert_close(exact.gain_db, 6.0);
        assert!(!exact.limited_by_peak && !exact.exceeds_peak_ceiling);
        // Loud masters are turned down in full whatever the peak.
        let loud = playback_gain(&p, -9.0, 0.5);
        assert_close(loud.gain_db, -5.0);
        assert!(!loud.limited_by_peak);
        assert!(!loud.exceeds_peak_ceiling, "−4.5 dBTP after the gain is under −1");
        let hot = playback_gain(&p, -13.0, 0.5);
        assert_close(hot.gain_db, -1.0);
        assert!(hot.exceeds_peak_ceiling, "−0.5 dBTP on playback is over the −1 dBTP ceiling");
    }

    #[test]
    fn boundaries_at_target_and_at_ceiling() {
        for turn_up in [TurnUp::Never, TurnUp::PeakLimited, TurnUp::Limiter, TurnUp::Full] {
            let p = rule(turn_up, -14.0, turn_up.has_ceiling().then_some(-1.0));
            // Exactly at the target: nothing happens.
            let at_target = playback_gain(&p, -14.0, -3.0);
            assert_eq!(at_target.gain_db, 0.0, "{turn_up}");
            assert!(
                !at_target.limited_by_peak && !at_target.limiter_engaged && !at_target.exceeds_peak_ceiling
            );
        }
        let p = rule(TurnUp::PeakLimited, -14.0, Some(-1.0));
        // Quiet master whose peak is exactly at the ceiling: no room, gain 0, limited.
        let at_ceiling = playback_gain(&p, -20.0, -1.0);
        assert_eq!(at_ceiling.gain_db, 0.0);
        assert!(at_ceiling.limited_by_peak && !at_ceiling.exceeds_peak_ceiling);
        // Quiet master already over the ceiling: left alone (never turned down for its peak).
        let over = playback_gain(&p, -20.0, 0.5);
        assert_eq!(over.gain_db, 0.0);
        assert!(over.limited_by_peak && over.exceeds_peak_ceiling);
        // Limiter rule: playback peak exactly at the threshold does not engage it.
        let limiter = rule(TurnUp::Limiter, -11.0, Some(-1.0));
        let at_threshold = playback_gain(&limiter, -15.0, -5.0);
        assert_close(at_threshold.gain_db, 4.0);
        assert!(!at_threshold.limiter_engaged);
        // Full rule: playback peak exactly at the maximum is compliant.
        let full = rule(TurnUp::Full, -23.0, Some(-1.0));
        assert!(!playback_gain(&full, -20.0, 2.0).exceeds_peak_ceiling);
    }

    #[test]
    fn limiter_turns_up_fully_and_flags_the_limiter() {
        let p = rule(TurnUp::Limiter, -11.0, Some(-1.0));
        let quiet = playback_gain(&p, -20.0, -5.0);
        assert_close(quiet.gain_db, 9.0);
        assert_close(quiet.playback_lufs, -11.0);
        assert_close(quiet.playback_true_peak_dbtp, 4.0);
        assert!(quiet.limiter_engaged && !quiet.limited_by_peak && !quiet.exceeds_peak_ceiling);
        let dense = playback_gain(&p, -14.0, -12.0);
        assert_close(dense.gain_db, 3.0);
        assert!(!dense.limiter_engaged, "−9 dBTP after the gain is under −1");
        let loud = playback_gain(&p, -6.0, -0.1);
        assert_close(loud.gain_db, -5.0);
        assert!(!loud.limiter_engaged);
        let loud_hot = playback_gain(&p, -10.5, 0.0);
        assert_close(loud_hot.gain_db, -0.5);
        assert!(loud_hot.limiter_engaged, "−0.5 dBTP on playback still reaches the −1 dB limiter");
    }

    #[test]
    fn full_normalises_both_ways_and_flags_the_maximum_peak() {
        let p = rule(TurnUp::Full, -23.0, Some(-1.0));
        let quiet = playback_gain(&p, -30.0, -10.0);
        assert_close(quiet.gain_db, 7.0);
        assert_close(quiet.playback_true_peak_dbtp, -3.0);
        assert!(!quiet.exceeds_peak_ceiling && !quiet.limited_by_peak);
        let peaky = playback_gain(&p, -30.0, -5.0);
        assert_close(peaky.gain_db, 7.0);
        assert!(peaky.exceeds_peak_ceiling, "+2 dBTP after normalisation fails −1 dBTP");
        let loud = playback_gain(&p, -16.0, -1.0);
        assert_close(loud.gain_db, -7.0);
        assert_close(loud.playback_true_peak_dbtp, -8.0);
        assert!(!loud.exceeds_peak_ceiling);
    }

    #[test]
    fn real_rows_follow_their_rules() {
        // A dynamic master: −20 LUFS, −5 dBTP. Hand-computed per row of the table.
        let cases = [
            ("spotify", 4.0),       // lifted to the −1 dBTP ceiling
            ("spotify_loud", 9.0),  // full, limiter catches the +4 dBTP peaks
            ("spotify_quiet", 1.0), // −19 target reached (headroom 4 dB)
            ("apple_music", 4.0),   // −16 target reached (headroom 5 dB to 0 dBTP)
            ("youtube", 0.0),       // down only
            ("tidal", 0.0),         // down only
            ("ebu_r128", -3.0),     // −23 both ways
            ("atsc_a85", -4.0),     // −24 both ways
        ];
        for (id, expected) in cases {
            let p = platform(id).unwrap_or_else(|| panic!("{id}"));
            assert_close(playback_gain(p, -20.0, -5.0).gain_db, expected);
        }
        // A loud master: −8 LUFS, −0.2 dBTP: everyone turns it down to the target.
        for (p, gain) in penalty_table(-8.0, -0.2) {
            assert_close(gain.gain_db, p.target_lufs.map_or(0.0, |target| target + 8.0));
        }
        // CD: no normalisation at all, whatever the master.
        let cd = platform("cd").expect("cd");
        for (loudness, peak) in [(-8.0, -0.2), (-30.0, -12.0)] {
            let g = playback_gain(cd, loudness, peak);
            assert!(g.measured && g.gain_db == 0.0 && !g.exceeds_peak_ceiling && !g.limiter_engaged);
        }
    }

    #[test]
    fn non_finite_input_gives_zero_gain_with_a_flag() {
        for turn_up in [TurnUp::Never, TurnUp::PeakLimited, TurnUp::Limiter, TurnUp::Full] {
            let p = rule(turn_up, -14.0, turn_up.has_ceiling().then_some(-1.0));
            for (lufs, tp) in [
                (f32::NAN, -1.0),
                (f32::NEG_INFINITY, -1.0),
                (f32::INFINITY, -1.0),
                (-20.0, f32::NAN),
                (-20.0, f32::NEG_INFINITY),
                (f32::NAN, f32::NAN),
            ] {
                let g = playback_gain(&p, lufs, tp);
                assert_eq!(g.gain_db, 0.0);
                assert!(!g.measured && !g.limited_by_peak && !g.limiter_engaged && !g.exceeds_peak_ceiling);
            }
        }
        let table = penalty_table(f32::NAN, f32::NAN);
        assert_eq!(table.len(), platforms().len());
        assert!(table.iter().all(|(_, g)| g.gain_db == 0.0 && !g.measured));
    }

    #[test]
    fn penalty_table_lists_every_platform_in_order() {
        let table = penalty_table(-9.0, -0.3);
        assert_eq!(table.len(), platforms().len());
        for ((p, g), expected) in table.iter().zip(platforms()) {
            assert_eq!(p.id, expected.id);
            assert_eq!(*g, playback_gain(expected, -9.0, -0.3));
        }
        println!("master −9.0 LUFS, −0.3 dBTP:");
        for (p, g) in &table {
            println!("  {:<26} {:+5.1} dB → {:6.1} LUFS", p.name, g.gain_db, g.playback_lufs);
        }
        println!("master −20.0 LUFS, −5.0 dBTP:");
        for (p, g) in penalty_table(-20.0, -5.0) {
            let flags = [
                (g.limited_by_peak, " peak-limited"),
                (g.limiter_engaged, " limiter"),
                (g.exceeds_peak_ceiling, " over-ceiling"),
            ];
            let flags: String = flags.iter().filter(|(on, _)| *on).map(|(_, text)| *text).collect();
            println!("  {:<26} {:+5.1} dB → {:6.1} LUFS{flags}", p.name, g.gain_db, g.playback_lufs);
        }
    }

    #[test]
    fn quoted_fields_comments_and_extra_columns() {
        let text = "\n# a comment\n   \n\
            id,extra,name,target_lufs,turn_up,peak_ceiling_dbtp,mode,checked,source,source_kind,note\r\n\
            # another comment\n\
            a_1,ignored,\"Name, with comma\",-14.5,never,,track,2024-02-29,\"http://x, y\",official,\"say \"\"hi\"\"\"\n\
            b,,B,-23,full,-1,programme,2026-11-22,doc,standard,\n";
        let table = parse_platforms(text).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(table.len(), 2);
        let a = &table[0];
        assert_eq!(a.id, "a_1");
        assert_eq!(a.name, "Name, with comma");
        assert_eq!(a.target_lufs, Some(-14.5));
        assert_eq!(a.peak_ceiling_dbtp, None);
        assert_eq!(a.checked, IsoDate { year: 2024, month: 2, day: 29 });
        assert_eq!(a.source, "http://x, y");
        assert_eq!(a.note, "say \"hi\"");
        assert_eq!(table[1].peak_ceiling_dbtp, Some(-1.0));
        assert_eq!(table[1].note, "");
        assert_eq!(table[1].checked.to_string(), "2026-11-22");
    }

    #[test]
    fn malformed_rows_report_their_line() {
        let good = "x,X,-14,never,,track,2026-11-22,src,official,";
        // Line 1 is a comment, line 2 the header, so the first row is line 3, the next line 4.
        let cases: Vec<(String, ParseErrorKind)> = vec![
            ("x,X,-14,never".into(), ParseErrorKind::FieldCount { expected: 10, found: 4 }),
            (
                "x,X,loud,never,,track,2026-11-22,src,official,".into(),
                ParseErrorKind::Number { column: "target_lufs", value: "loud".into() },
            ),
            (
                "x,X,NaN,never,,track,2026-11-22,src,official,".into(),
                ParseErrorKind::Number { column: "target_lufs", value: "NaN".into() },
            ),
            (
                "x,X,-40,never,,track,2026-11-22,src,official,".into(),
                ParseErrorKind::OutOfRange { column: "target_lufs", value: -40.0 },
            ),
            (
                "x,X,-14,sometimes,,track,2026-11-22,src,official,".into(),
                ParseErrorKind::TurnUp("sometimes".into()),
            ),
            ("x,X,-14,never,,single,2026-11-22,src,official,".into(), ParseErrorKind::Mode("single".into())),
            (
                "x,X,-14,never,,track,2026-02-30,src,official,".into(),
                ParseErrorKind::Date("2026-02-30".into()),
            ),
            (
                "x,X,-14,never,,track,22.11.2026,src,official,".into(),
                ParseErrorKind::Date("22.11.2026".into()),
            ),
            ("x,X,-14,never,,track,,src,official,".into(), ParseErrorKind::Empty("checked")),
            ("x,X,-14,never,,track,2026-11-22,,official,".into(), ParseErrorKind::Empty("source")),
            ("x,X,-14,never,,track,2026-11-22,src,blog,".into(), ParseErrorKind::SourceKind("blog".into())),
            ("X Y,X,-14,never,,track,2026-11-22,src,official,".into(), ParseErrorKind::Id("X Y".into())),
            ("x,X,-14,peak_limited,,track,2026-11-22,src,official,".into(), ParseErrorKind::MissingCeiling),
            ("x,X,-14,never,-1,track,2026-11-22,src,official,".into(), ParseErrorKind::UnusedCeiling),
            (
                "x,X,-14,full,3,track,2026-11-22,src,official,".into(),
                ParseErrorKind::OutOfRange { column: "peak_ceiling_dbtp", value: 3.0 },
            ),
            ("x,\"X,-14,never,,track,2026-11-22,src,official,".into(), ParseErrorKind::UnterminatedQuote),
            ("x,\"X\"Y,-14,never,,track,2026-11-22,src,official,".into(), ParseErrorKind::StrayQuote),
            ("x,X\"Y,-14,never,,track,2026-11-22,src,official,".into(), ParseErrorKind::StrayQuote),
        ];
        for (row, kind) in cases {
            assert_eq!(parse_error(&row), ParseError { line: 3, kind: kind.clone() }, "row `{row}`");
            // The same row after a good one is reported on the next line.
            assert_eq!(parse_error(&format!("{good}\n{row}")), ParseError { line: 4, kind }, "row `{row}`");
        }
        assert_eq!(
            parse_error(&format!("{good}\n\n# gap\n{good}")),
            ParseError { line: 6, kind: ParseErrorKind::DuplicateId("x".into()) }
        );
        let missing = parse_platforms("id,name,target_lufs\n").expect_err("missing columns");
        assert_eq!(missing, ParseError { line: 1, kind: ParseErrorKind::MissingColumn("turn_up") });
        let duplicate = parse_platforms(&format!("{HEADER},id\n")).expect_err("duplicate column");
        assert_eq!(duplicate.kind, ParseErrorKind::DuplicateColumn("id".into()));
        assert_eq!(parse_platforms("# only a comment\n").map_err(|e| e.kind), Err(ParseErrorKind::NoHeader));
        assert_eq!(parse_platforms("").map_err(|e| e.kind), Err(ParseErrorKind::NoHeader));
        // A header alone is an empty (valid) table.
        assert_eq!(parse_platforms(HEADER).map(|t| t.len()), Ok(0));
        // Errors read well.
        let message = parse_error("x,X,-14,never,,track,2026-13-01,src,official,").to_string();
        assert_eq!(message, "platform table line 3: checked `2026-13-01` is not a YYYY-MM-DD date");
    }

    #[test]
    fn iso_dates() {
        assert_eq!(IsoDate::parse("2026-11-22"), Some(IsoDate { year: 2026, month: 11, day: 22 }));
        assert!(IsoDate::parse("2024-02-29").is_some());
        assert!(IsoDate::parse("2000-02-29").is_some());
        for bad in [
            "2023-02-29",
            "2100-02-29",
            "2026-04-31",
            "2026-00-10",
            "2026-1-10",
            "1999-12-31",
            "2026-11-2x",
            "+026-11-22",
            "2026-11-22 ",
        ] {
            assert_eq!(IsoDate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn delivery_columns_parse_with_their_rules() {
        let spotify = &platform("spotify").expect("spotify").delivery;
        assert_eq!(spotify.kind, DeliveryKind::Recommended);
        assert_eq!((spotify.loudness_lufs, spotify.true_peak_dbtp), (Some(-14.0), -1.0));
        // Spotify's loud-master rule (applied by `delivery::DeliveryTarget::ceiling_for_dbtp`).
        assert_eq!((spotify.loud_above_lufs, spotify.loud_true_peak_dbtp), (Some(-14.0), Some(-2.0)));
        let ebu = &platform("ebu_r128").expect("ebu").delivery;
        assert_eq!(
            (ebu.kind, ebu.loudness_lufs, ebu.tolerance_lu),
            (DeliveryKind::Required, Some(-23.0), Some(1.0))
        );
        assert_eq!(ebu.sample_rates_hz, vec![48_000]);
        let cd = platform("cd").expect("cd");
        assert_eq!((cd.turn_up, cd.target_lufs, cd.peak_ceiling_dbtp), (TurnUp::Off, None, None));
        let d = &cd.delivery;
        assert_eq!(
            (d.kind, d.min_bits, d.preferred_bits, d.dither),
            (DeliveryKind::None, 16, 16, DitherRule::Required)
        );
        assert_eq!((d.sample_rates_hz.as_slice(), d.channels), (&[44_100][..], DeliveryChannels::Stereo));
        let podcast = &platform("apple_podcasts").expect("podcast").delivery;
        assert_eq!((podcast.loudness_lufs, podcast.tolerance_lu), (Some(-16.0), Some(1.0)));
        assert_eq!(platform("podcast_mono").expect("mono").delivery.channels, DeliveryChannels::Mono);
        assert!(DeliveryChannels::MonoOrStereo.accepts(1) && !DeliveryChannels::Stereo.accepts(1));

        // A table without delivery columns gets the defaults.
        let plain =
            parse_platforms(&format!("{HEADER}\nx,X,-14,never,,track,2026-11-22,src,official,\n")).unwrap();
        assert_eq!(plain[0].delivery, Delivery::default());
        // `off` wants no target; other rules need one.
        let off = "x,X,,off,,unknown,2026-11-22,src,standard,";
        assert_eq!(parse_platforms(&format!("{HEADER}\n{off}\n")).unwrap()[0].target_lufs, None);
        assert_eq!(
            parse_error("x,X,-14,off,,unknown,2026-11-22,src,standard,").kind,
            ParseErrorKind::UnusedTarget
        );
        assert_eq!(
            parse_error("x,X,,never,,unknown,2026-11-22,src,standard,").kind,
            ParseErrorKind::Empty("target_lufs")
        );
        // Malformed delivery fields name their column.
        let with = |columns: &str, values: &str| {
            parse_platforms(&format!(
                "{HEADER},{columns}\nx,X,-14,never,,track,2026-11-22,src,official,,{values}\n"
            ))
            .map(|table| table[0].delivery.clone())
        };
        let cases = [
            (
                "delivery_kind",
                "must",
                ParseErrorKind::Delivery { column: "delivery_kind", value: "must".into() },
            ),
            ("delivery_kind", "required", ParseErrorKind::Empty("delivery_lufs")),
            (
                "sample_rates_hz",
                "44100 lots",
                ParseErrorKind::Delivery { column: "sample_rates_hz", value: "lots".into() },
            ),
            (
                "sample_rates_hz",
                "4",
                ParseErrorKind::Delivery { column: "sample_rates_hz", value: "4".into() },
            ),
            ("min_bits", "64", ParseErrorKind::Delivery { column: "min_bits", value: "64".into() }),
            ("formats", "wav ogg", ParseErrorKind::Delivery { column: "formats", value: "ogg".into() }),
            ("channels", "5.1", ParseErrorKind::Delivery { column: "channels", value: "5.1".into() }),
            ("dither", "never", ParseErrorKind::Delivery { column: "dither", value: "never".into() }),
            ("delivery_tp_dbtp", "3", ParseErrorKind::OutOfRange { column: "delivery_tp_dbtp", value: 3.0 }),
        ];
        for (column, value, kind) in cases {
            assert_eq!(with(column, value).map_err(|e| e.kind), Err(kind), "{column} = {value}");
        }
        let good = with(
            "delivery_kind,delivery_lufs,delivery_tol_lu,formats,min_bits,preferred_bits",
            "required,-23,0.5,wav aiff,24,24",
        )
        .unwrap();
        assert_eq!((good.loudness_lufs, good.tolerance_lu, good.min_bits), (Some(-23.0), Some(0.5), 24));
        assert_eq!(good.formats, vec!["wav".to_owned(), "aiff".to_owned()]);
        assert_eq!(
            with("min_bits,preferred_bits", "24,16").map_err(|e| e.kind),
            Err(ParseErrorKind::Delivery { column: "preferred_bits", value: "16".into() })
        );
    }
}
