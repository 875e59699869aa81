//! The readiness checks. Each is green ([`Status::Pass`]), amber ([`Status::Warn`]) or red
//! ([`Status::Fail`]) with its measured value, its threshold and one sentence of advice; grey
//! ([`Status::Unknown`]) while there is not enough audio to judge.
//!
//! **Mix readiness** ([`Group::Mix`]: the plugin judges the chain input, `parity analyze` the
//! file):
//!
//! | check | value | pass | warn | fail | source of the numbers |
//! |---|---|---|---|---|---|
//! | `headroom` | true peak | ≤ −4 dBTP | ≤ −2 dBTP | above | the "peaks around −6 dBFS" mastering convention; −3…−6 is "a very workable zone" (lbmastering) |
//! | `clipping` | clipped runs | none, TP ≤ 0 | no runs, but inter-sample overs | any run (≥ 3 samples ≥ −0.1 dBFS) | 3-sample clip flag, common in QC tools |
//! | `bus_limiter` | loud-passage PSR | ≥ 8 dB, < 10 flat tops | < 8 dB or ≥ 10 flat tops | < 6 dB | Dynameter "Limited" ≥ 8 dB PSR; Shepherd: PSR ≥ 8 |
//! | `over_compression` | PLR | ≥ min(11, room − 2) and LRA ≥ 3 LU | below, or LRA < 3 LU (≥ 60 s) | < min(8, room − 5) | room = the target's ceiling − loudness (13 dB for −14 LUFS/−1 dBTP) |
//! | `low_end_mono` | correlation < 150 Hz | ≥ 0.5 | ≥ −0.1 | < −0.1 | mono below ~120–150 Hz: club and vinyl practice |
//! | `phase` | full-band correlation | ≥ 0.1 | ≥ −0.1 | < −0.1 | RTW: normal mixes read +0.3…+0.7; negative for long = phase problem |
//!
//! (Unrelated channels read 0 ± a few hundredths; "clearly negative" starts at −0.1.)
//! | `balance` | L/R level difference | ≤ 1 dB | ≤ 3 dB | above | (Parity's choice) |
//! | `dc_offset` | worst channel | ≤ −60 dBFS | ≤ −40 dBFS | above | "above −60 dB worth correcting" |
//!
//! **Delivery** ([`Group::Delivery`]: the plugin judges the chain output):
//!
//! | check | value | rule |
//! |---|---|---|
//! | `loudness` | integrated | required targets (broadcast): fail outside ± tolerance; recommended: warn outside; reference-only (most streaming): warn when > 2 LU louder (turned down, the limiting bought nothing) or quieter than a down-only platform's target by more than the tolerance; no target (CD): pass |
//! | `true_peak` | true peak | ≤ ceiling (the loud-master ceiling where it applies, Spotify −2 dBTP above −14 LUFS); warn up to 0.5 dB over (fail for required targets); fail beyond |
//! | `clipping` | as above, on the master |
//! | `tonal_balance` | largest octave-band deviation | see [`super::tonal`]: against the loaded references ±3/±6 dB, else the generic curve ±4/±8 dB |
//! | `silence` | head / tail silence | warn head > 2 s, tail > 10 s or an abrupt end (last 10 ms above −40 dBFS); fail head or tail > 10 s / 30 s (distributors reject ≥ 10 s); grey live |
//! | `format` | rate, bits, channels | fail: rate not accepted, fewer bits than the minimum; warn: float file, mono/stereo mismatch, a word length under 24 bits without dither |
//!
//! Values are compared at the precision they are shown with (two decimals for dBTP), so a
//! reading never shows a red "−1.00 dBTP" against a −1 dBTP ceiling.

use serde::Serialize;

use super::tonal::{self, BandDeviation};
use super::{DeliveryTarget, Measurements};
use crate::monitor::platform::{self, DeliveryKind, DitherRule};

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Green: fine.
    Pass,
    /// Grey: not enough audio to judge yet.
    Unknown,
    /// Amber: look at it.
    Warn,
    /// Red: fix it before mastering / delivery.
    Fail,
}

impl Status {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Unknown => "unknown",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// Which question a check answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// Is the mix ready to master?
    Mix,
    /// Is the master ready to deliver to the target?
    Delivery,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Stable machine name (`headroom`, `clipping` …).
    pub name: &'static str,
    /// Display title.
    pub title: &'static str,
    /// Mix readiness or delivery.
    pub group: Group,
    /// The verdict.
    pub status: Status,
    /// The measured value the verdict rests on (`None` when not measured).
    pub value: Option<f64>,
    /// Unit of `value` (`dBTP`, `LUFS`, `dB`, `count` …).
    pub unit: &'static str,
    /// The value as shown, with any secondary figures.
    pub value_text: String,
    /// The threshold in words.
    pub threshold: String,
    /// One sentence of advice.
    pub advice: String,
    /// Where the problems are, seconds (clipping).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub positions_s: Vec<f64>,
    /// Per-band deviations (tonal balance).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bands: Vec<BandDeviation>,
}

impl Check {
    /// A check with no positions or bands.
    fn new(name: &'static str, title: &'static str, group: Group, status: Status) -> Self {
        Self {
            name,
            title,
            group,
            status,
            value: None,
            unit: "",
            value_text: "—".to_owned(),
            threshold: String::new(),
            advice: String::new(),
            positions_s: Vec::new(),
            bands: Vec::new(),
        }
    }

    /// Sets value and unit.
    fn value(mut self, value: Option<f64>, unit: &'static str, text: String) -> Self {
        self.value = value;
        self.unit = unit;
        self.value_text = minus(text);
        self
    }

    /// Sets threshold and advice.
    fn says(mut self, threshold: impl Into<String>, advice: impl Into<String>) -> Self {
        self.threshold = minus(threshold.into());
        self.advice = minus(advice.into());
        self
    }
}

/// Reference octave bands for the tonal check: the mean of the loaded references.
pub type ReferenceBands = [Option<f64>; super::OCTAVE_BANDS];

/// Audio needed before loudness-based checks judge, s (the short-term window).
pub const MIN_DURATION_S: f64 = 3.0;

/// Audio needed before LRA is judged, s (EBU Tech 3342: LRA is unstable under a minute).
pub const MIN_LRA_DURATION_S: f64 = 60.0;

/// Runs every check of `group` (or both when `None`) on `m` against `target`. `references`:
/// the loaded references' octave bands, if any (the tonal check then compares with them).
pub fn evaluate(
    m: &Measurements,
    target: &DeliveryTarget,
    references: Option<&ReferenceBands>,
    group: Option<Group>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    if group.is_none_or(|g| g == Group::Mix) {
        checks.extend([
            headroom(m),
            clipping(m, Group::Mix),
            bus_limiter(m),
            over_compression(m, target),
            low_end_mono(m),
            phase(m),
            balance(m),
            dc_offset(m),
        ]);
    }
    if group.is_none_or(|g| g == Group::Delivery) {
        checks.extend([
            loudness(m, target),
            true_peak(m, target),
            clipping(m, Group::Delivery),
            tonal_balance(m, references),
            silence(m),
            format(m, target),
        ]);
    }
    checks
}

/// The worst status of `checks` ([`Status::Pass`] for none).
pub fn worst(checks: &[Check]) -> Status {
    checks.iter().map(|c| c.status).max().unwrap_or(Status::Pass)
}

/// Replaces ASCII hyphen-minus before digits and ∞ with a real minus sign.
fn minus(text: String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        let next = chars.peek().copied().unwrap_or(' ');
        if c == '-' && (next.is_ascii_digit() || next == '∞') && !previous.is_alphanumeric() {
            out.push('−');
        } else {
            out.push(c);
        }
        previous = c;
    }
    out
}

/// True when a true peak reads above a ceiling at the two decimals it is shown with (a limiter
/// set to −1.0 dBTP that lands on −0.999 dBTP reads "−1.00" and is not an over). The editor's
/// lamps and status line use the same rule, so they never disagree with the true-peak check.
pub fn above_ceiling(true_peak_dbtp: f32, ceiling_dbtp: f32) -> bool {
    true_peak_dbtp.is_finite() && true_peak_dbtp >= ceiling_dbtp + 0.005
}

/// Rounds to the shown precision (two decimals).
fn shown(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// `value` with `decimals`, or "—".
fn fmt(value: Option<f64>, decimals: usize, unit: &str) -> String {
    match value {
        Some(v) if v == f64::NEG_INFINITY => format!("−∞ {unit}"),
        Some(v) if v.is_finite() => minus(format!("{v:.decimals$} {unit}")),
        _ => "—".to_owned(),
    }
}

/// Seconds as m:ss.sss.
pub fn format_position(seconds: f64) -> String {
    let minutes = (seconds / 60.0).floor();
    format!("{}:{:06.3}", minutes as u64, seconds - 60.0 * minutes)
}

fn headroom(m: &Measurements) -> Check {
    let check = Check::new("headroom", "Headroom", Group::Mix, Status::Unknown);
    let Some(tp) = m.true_peak_dbtp.filter(|v| v.is_finite()) else {
        return check.says("true peak ≤ −4 dBTP", "Play the mix: no peaks yet.");
    };
    let text = format!("{} ({} sample)", fmt(Some(tp), 2, "dBTP"), fmt(m.sample_peak_dbfs, 2, "dBFS"));
    let status = match shown(tp) {
        v if v <= -4.0 => Status::Pass,
        v if v <= -2.0 => Status::Warn,
        _ => Status::Fail,
    };
    let advice = match status {
        Status::Pass => "Enough headroom for mastering.".to_owned(),
        _ => format!(
            "Turn the mix bus down by about {:.0} dB (peaks around −6 dBFS) and bounce again, without a bus limiter.",
            (tp + 6.0).max(1.0)
        ),
    };
    Check { status, ..check }.value(Some(tp), "dBTP", text).says("≤ −4 dBTP (warn to −2)", advice)
}

fn clipping(m: &Measurements, group: Group) -> Check {
    let title = "Clipping";
    let check = Check::new("clipping", title, group, Status::Unknown);
    if m.duration_s <= 0.0 || m.true_peak_dbtp.is_none() {
        return check.says("no clipped runs, true peak ≤ 0 dBTP", "Play the audio: nothing measured yet.");
    }
    let tp = m.true_peak_dbtp.unwrap_or(f64::NEG_INFINITY);
    let positions: Vec<String> = m.clip_positions_s.iter().take(4).map(|&s| format_position(s)).collect();
    let text = match m.true_peak_overs {
        Some(overs) => format!("{} clipped · {overs} TP overs", m.clipped_runs),
        None => format!("{} clipped · TP {}", m.clipped_runs, fmt(Some(tp), 2, "dBTP")),
    };
    let (status, advice) = if m.clipped_runs > 0 {
        let more = if m.clipped_runs as usize > positions.len() { " …" } else { "" };
        let fix = match group {
            Group::Mix => "Find what clips (a channel, a plug-in or the bounce) and bounce again lower",
            Group::Delivery => "Lower the limiter's input or output, or raise its ceiling headroom",
        };
        (Status::Fail, format!("{fix}; first at {}{more}.", positions.join(", ")))
    } else if shown(tp) > 0.0 {
        (
            Status::Warn,
            format!(
                "Inter-sample peaks reach {}: no sample clips, but a DAC or a codec will.",
                fmt(Some(tp), 2, "dBTP")
            ),
        )
    } else {
        (Status::Pass, "No clipping.".to_owned())
    };
    Check { status, positions_s: m.clip_positions_s.clone(), ..check }
        .value(Some(m.clipped_runs as f64), "count", text)
        .says("no run of 3 samples ≥ −0.1 dBFS; true peak ≤ 0 dBTP", advice)
}

fn bus_limiter(m: &Measurements) -> Check {
    let check = Check::new("bus_limiter", "Limiter on the mix bus", Group::Mix, Status::Unknown);
    let Some(psr) = m.loud_psr_db.filter(|_| m.duration_s >= MIN_DURATION_S) else {
        return check.says("loud-passage PSR ≥ 8 dB", "Needs at least 3 s of audio.");
    };
    let text = format!("PSR {} · {} flat tops", fmt(Some(psr), 1, "dB"), m.flat_top_runs);
    let flat = m.flat_top_runs >= 10;
    let status = if psr < 6.0 {
        Status::Fail
    } else if psr < 8.0 || flat {
        Status::Warn
    } else {
        Status::Pass
    };
    let advice = match (status, flat) {
        (Status::Pass, _) => "The mix still has its transients.".to_owned(),
        (_, true) => "Flat-topped peaks: a clipper or limiter already squares the waveform. Ask for a bounce without it."
            .to_owned(),
        _ => format!(
            "PSR {psr:.1} dB means the peaks are already held down: take the mix-bus limiter off (or ask for a bounce without it) and leave loudness to mastering."
        ),
    };
    Check { status, ..check }
        .value(Some(psr), "dB", text)
        .says("PSR ≥ 8 dB (fail < 6), < 10 flat tops", advice)
}

fn over_compression(m: &Measurements, target: &DeliveryTarget) -> Check {
    let check = Check::new("over_compression", "Over-compression", Group::Mix, Status::Unknown);
    let room = target.room_plr_db().map_or(13.0, f64::from);
    let warn_below = (room - 2.0).min(11.0);
    let fail_below = (room - 5.0).min(8.0);
    let threshold = format!("PLR ≥ {warn_below:.0} dB (fail < {fail_below:.0}), LRA ≥ 3 LU");
    let Some(plr) = m.plr_db.filter(|_| m.duration_s >= MIN_DURATION_S) else {
        return check.says(threshold, "Needs at least 3 s of audio.");
    };
    let lra = m.loudness_range_lu.filter(|_| m.duration_s >= MIN_LRA_DURATION_S);
    let text = format!("PLR {}, LRA {}", fmt(Some(plr), 1, "dB"), fmt(lra, 1, "LU"));
    let flat_lra = lra.is_some_and(|l| l < 3.0);
    let status = if plr < fail_below {
        Status::Fail
    } else if plr < warn_below || flat_lra {
        Status::Warn
    } else {
        Status::Pass
    };
    let advice = match status {
        Status::Pass => format!("Dynamics to spare: {} leaves {room:.0} dB from loudness to ceiling.", target.name),
        _ if flat_lra && plr >= warn_below => {
            "The level barely moves (LRA under 3 LU): check the mix-bus compression before mastering.".to_owned()
        }
        _ => format!(
            "PLR {plr:.1} dB is squeezed harder than {} needs ({room:.0} dB room): ease the bus compression and limiting.",
            target.name
        ),
    };
    Check { status, ..check }.value(Some(plr), "dB", text).says(threshold, advice)
}

fn low_end_mono(m: &Measurements) -> Check {
    let check = Check::new("low_end_mono", "Low end in mono", Group::Mix, Status::Unknown);
    let Some(c) = m.low_band_correlation.map(shown) else {
        let why = if m.channels < 2 { "Mono: nothing to check." } else { "No low end measured yet." };
        let status = if m.channels < 2 { Status::Pass } else { Status::Unknown };
        return Check { status, ..check }.says("correlation below 150 Hz ≥ 0.5", why);
    };
    let status = match c {
        c if c >= 0.5 => Status::Pass,
        c if c >= -0.1 => Status::Warn,
        _ => Status::Fail,
    };
    let advice = match status {
        Status::Pass => "The bass holds up in mono.",
        Status::Warn => "Wide low end: bass will lose weight on mono systems and in clubs; narrow it below ~150 Hz.",
        _ => "Bass out of phase: it cancels in mono. Check the polarity of bass sources or make them mono below 150 Hz.",
    };
    Check { status, ..check }
        .value(Some(c), "", format!("{:+.2} (below 150 Hz)", c).replace('-', "−"))
        .says("correlation below 150 Hz ≥ 0.5 (fail < −0.1)", advice)
}

fn phase(m: &Measurements) -> Check {
    let check = Check::new("phase", "Phase", Group::Mix, Status::Unknown);
    let Some(c) = m.correlation.map(shown) else {
        let status = if m.channels < 2 { Status::Pass } else { Status::Unknown };
        return Check { status, ..check }.says("correlation ≥ 0.1", "No stereo signal measured yet.");
    };
    let status = match c {
        c if c >= 0.1 => Status::Pass,
        c if c >= -0.1 => Status::Warn,
        _ => Status::Fail,
    };
    let advice = match status {
        Status::Pass => "No phase problem.",
        Status::Warn => "Very wide: parts of the mix may vanish in mono. Check wideners and stereo reverbs.",
        _ => "Negative correlation: one channel is (partly) inverted. Check polarity before mastering.",
    };
    Check { status, ..check }
        .value(Some(c), "", format!("{c:+.2}").replace('-', "−"))
        .says("correlation ≥ 0.1 (fail < −0.1)", advice)
}

fn balance(m: &Measurements) -> Check {
    let check = Check::new("balance", "Stereo balance", Group::Mix, Status::Unknown);
    let Some(b) = m.balance_db.filter(|b| b.is_finite()) else {
        let (status, why) = match (m.channels < 2, m.balance_db) {
            (true, _) => (Status::Pass, "Mono: nothing to check."),
            (false, Some(_)) => (Status::Fail, "One channel is silent."),
            _ => (Status::Unknown, "No stereo signal measured yet."),
        };
        let value = m.balance_db.filter(|_| m.channels >= 2);
        return Check { status, ..check }.value(value, "dB", fmt(value, 1, "dB")).says("|L − R| ≤ 1 dB", why);
    };
    let status = match b.abs() {
        x if x <= 1.0 => Status::Pass,
        x if x <= 3.0 => Status::Warn,
        _ => Status::Fail,
    };
    let side = if b > 0.0 { "left" } else { "right" };
    let advice = match status {
        Status::Pass => "Balanced.".to_owned(),
        _ => format!("The {side} channel is {:.1} dB louder: check panning and the master balance.", b.abs()),
    };
    Check { status, ..check }
        .value(
            Some(b),
            "dB",
            if b.abs() < 0.05 { "centred".to_owned() } else { format!("{:.1} dB {side}", b.abs()) },
        )
        .says("|L − R| ≤ 1 dB (fail > 3)", advice)
}

fn dc_offset(m: &Measurements) -> Check {
    let check = Check::new("dc_offset", "DC offset", Group::Mix, Status::Unknown);
    let Some(dc) = m.dc_offset_dbfs.filter(|_| m.duration_s > 0.0) else {
        return check.says("≤ −60 dBFS", "Play the mix: nothing measured yet.");
    };
    let status = match dc {
        d if d <= -60.0 => Status::Pass,
        d if d <= -40.0 => Status::Warn,
        _ => Status::Fail,
    };
    let advice = match status {
        Status::Pass => "No DC offset worth removing.",
        _ => "DC offset: remove it at the source (a DC-coupled channel or plug-in); Parity's DC blocker removes it from the master.",
    };
    Check { status, ..check }
        .value(Some(dc), "dBFS", fmt(Some(dc), 1, "dBFS"))
        .says("≤ −60 dBFS (fail > −40)", advice)
}

fn loudness(m: &Measurements, target: &DeliveryTarget) -> Check {
    let check = Check::new("loudness", "Loudness", Group::Delivery, Status::Unknown);
    let tol = f64::from(target.tolerance_lu);
    let Some(goal) = target.target_lufs.map(f64::from) else {
        let status = if m.integrated_lufs.is_some() { Status::Pass } else { Status::Unknown };
        return Check { status, ..check }
            .value(m.integrated_lufs, "LUFS", fmt(m.integrated_lufs, 1, "LUFS"))
            .says(
                format!("{}: no loudness target", target.name),
                "Loudness is your choice for this format.",
            );
    };
    let threshold = match target.kind {
        DeliveryKind::Required | DeliveryKind::Recommended => {
            let published = if target.tolerance_published { "" } else { " (Parity's default tolerance)" };
            format!("{goal:.1} LUFS ± {tol:.1} LU{published}")
        }
        DeliveryKind::Reference | DeliveryKind::None => format!("plays at {goal:.1} LUFS"),
    };
    let Some(lufs) = m.integrated_lufs.filter(|v| v.is_finite() && m.duration_s >= MIN_DURATION_S) else {
        return check.says(threshold, "Needs at least 3 s of audio above the gate.");
    };
    let delta = lufs - goal;
    // Rounded first, so a hair under the target never reads "−0.0".
    let text = format!("{} ({:+.1} LU)", fmt(Some(lufs), 1, "LUFS"), (delta * 10.0).round() / 10.0 + 0.0);
    let gain = target
        .playback
        .map(|p| platform::playback_gain(p, lufs as f32, m.true_peak_dbtp.unwrap_or(0.0) as f32));
    let within = delta.abs() <= tol + 0.05;
    let (status, advice) = match target.kind {
        DeliveryKind::Required => {
            if within {
                (Status::Pass, format!("Within the {} tolerance.", target.name))
            } else {
                (Status::Fail, format!("Outside the {} tolerance: change the level by {:+.1} dB.", target.name, -delta))
            }
        }
        DeliveryKind::Recommended => {
            if within {
                (Status::Pass, format!("On {}'s recommended loudness.", target.name))
            } else {
                (Status::Warn, format!("{:+.1} dB would meet {}'s recommendation.", -delta, target.name))
            }
        }
        DeliveryKind::Reference | DeliveryKind::None => match gain {
            Some(g) if g.gain_db < -2.0 => (
                Status::Warn,
                format!(
                    "{} turns this down by {:.1} dB: the loudness bought with limiting is thrown away on playback.",
                    target.name, -g.gain_db
                ),
            ),
            Some(g) if delta < -tol && g.gain_db + 0.05 < (-delta) as f32 => (
                Status::Warn,
                format!(
                    "{} plays this {:.1} dB below its reference ({} LUFS): it will sound quieter than other tracks.",
                    target.name,
                    -(delta + f64::from(g.gain_db)),
                    format!("{goal:.0}").replace('-', "−")
                ),
            ),
            Some(g) => (Status::Pass, format!("{} applies {:+.1} dB.", target.name, g.gain_db)),
            None => (Status::Pass, "No platform rule to apply.".to_owned()),
        },
    };
    Check { status, ..check }.value(Some(lufs), "LUFS", text).says(threshold, advice)
}

fn true_peak(m: &Measurements, target: &DeliveryTarget) -> Check {
    let check = Check::new("true_peak", "True peak", Group::Delivery, Status::Unknown);
    let ceiling = f64::from(target.ceiling_for_dbtp(m.integrated_lufs));
    let loud_rule = ceiling < f64::from(target.ceiling_dbtp);
    let threshold = if loud_rule {
        format!("≤ {ceiling:.1} dBTP (louder than {:.0} LUFS)", target.loud_above_lufs.unwrap_or(0.0))
    } else {
        format!("≤ {ceiling:.1} dBTP")
    };
    let Some(tp) = m.true_peak_dbtp.filter(|v| v.is_finite()) else {
        return check.says(threshold, "Play the master: no peaks yet.");
    };
    let over = tp - ceiling;
    let status = if !above_ceiling(tp as f32, ceiling as f32) {
        Status::Pass
    } else if shown(over) <= 0.5 && target.kind != DeliveryKind::Required {
        Status::Warn
    } else {
        Status::Fail
    };
    let advice = match status {
        Status::Pass => "Under the ceiling.".to_owned(),
        _ => format!(
            "{:.2} dB over: set the limiter's ceiling to {} (true-peak mode) or lower its input.",
            over,
            format!("{ceiling:.1} dBTP").replace('-', "−")
        ),
    };
    Check { status, ..check }.value(Some(tp), "dBTP", fmt(Some(tp), 2, "dBTP")).says(threshold, advice)
}

fn tonal_balance(m: &Measurements, references: Option<&ReferenceBands>) -> Check {
    let against_references = references.is_some();
    let title = "Tonal balance";
    let check = Check::new("tonal_balance", title, Group::Delivery, Status::Unknown);
    let (warn, fail) = if against_references {
        (tonal::REFERENCE_WARN_DB, tonal::REFERENCE_FAIL_DB)
    } else {
        (tonal::CURVE_WARN_DB, tonal::CURVE_FAIL_DB)
    };
    let what = if against_references { "the loaded references" } else { "the target curve" };
    let threshold = format!("every octave 63 Hz–8 kHz within ±{warn:.0} dB of {what} (fail ±{fail:.0})");
    let target_bands = references.copied().unwrap_or_else(tonal::curve_bands_db);
    let Some(bands) =
        tonal::deviations(&m.octave_bands_db, &target_bands).filter(|_| m.duration_s >= MIN_DURATION_S)
    else {
        return check.says(threshold, "Needs at least 3 s of audio.");
    };
    let Some(worst) =
        bands.iter().copied().max_by(|a, b| a.deviation_db.abs().total_cmp(&b.deviation_db.abs()))
    else {
        return check.says(threshold, "No bands to compare.");
    };
    let status = match worst.deviation_db.abs() {
        d if d <= warn => Status::Pass,
        d if d <= fail => Status::Warn,
        _ => Status::Fail,
    };
    let text =
        format!("{:+.1} dB at {}", worst.deviation_db, tonal::band_name(worst.centre_hz)).replace('-', "−");
    let advice = match status {
        Status::Pass => format!("Close to {what}."),
        _ => {
            let word = tonal::describe(worst.centre_hz, worst.deviation_db);
            format!(
                "{word}: {} is {:.1} dB {} {what}.",
                tonal::band_name(worst.centre_hz),
                worst.deviation_db.abs(),
                if worst.deviation_db > 0.0 { "above" } else { "below" }
            )
        }
    };
    Check { status, bands, ..check }.value(Some(worst.deviation_db), "dB", text).says(threshold, advice)
}

fn silence(m: &Measurements) -> Check {
    let check = Check::new("silence", "Silence at the ends", Group::Delivery, Status::Unknown);
    let threshold = "head ≤ 2 s, tail ≤ 10 s, a clean end";
    let (Some(head), Some(tail)) = (m.leading_silence_s, m.trailing_silence_s) else {
        return check.says(
            threshold,
            "Judged on the bounced file (parity analyze): a live session has no start or end.",
        );
    };
    let abrupt = m.end_level_dbfs.is_some_and(|level| level > -40.0);
    let text = format!("head {head:.2} s, tail {tail:.2} s");
    let status = if head > 10.0 || tail > 30.0 {
        Status::Fail
    } else if head > 2.0 || tail > 10.0 || abrupt {
        Status::Warn
    } else {
        Status::Pass
    };
    let advice = if status == Status::Pass {
        "Clean start and end.".to_owned()
    } else if head > 2.0 {
        format!(
            "{head:.1} s of silence before the music: trim the head (distributors reject more than ~10 s)."
        )
    } else if tail > 10.0 {
        format!("{tail:.1} s of silence at the end: trim the tail.")
    } else {
        "The file ends abruptly (the last 10 ms are loud): add a short fade or check the edit.".to_owned()
    };
    Check { status, ..check }.value(Some(head.max(tail)), "s", text).says(threshold, advice)
}

fn format(m: &Measurements, target: &DeliveryTarget) -> Check {
    let check = Check::new("format", "Format", Group::Delivery, Status::Unknown);
    let rate = m.sample_rate_hz.round() as u32;
    let rates = target.rates_text();
    let threshold =
        format!("{rates}, ≥ {} bit, {}", target.min_bits, target.channels.as_str().replace('_', " "));
    let bits = m.format.bits;
    let mut problems: Vec<(Status, String)> = Vec::new();
    if !target.sample_rates_hz.is_empty() && !target.sample_rates_hz.contains(&rate) {
        let to = target.preferred_rate_hz.or(target.sample_rates_hz.first().copied()).unwrap_or(48_000);
        problems
            .push((Status::Fail, format!("{} does not take {rate} Hz: resample to {to} Hz.", target.name)));
    }
    if let Some(b) = bits.filter(|&b| !m.format.float && b < target.min_bits) {
        problems.push((
            Status::Fail,
            format!("{b}-bit is below {}'s minimum of {} bits.", target.name, target.min_bits),
        ));
    }
    if m.format.float && m.format.container.is_some() {
        problems.push((
            Status::Warn,
            format!("A float file: deliver {}-bit PCM, dithered.", target.preferred_bits),
        ));
    }
    if m.channels > 0 && !target.channels.accepts(m.channels) {
        let want = target.channels.as_str().replace('_', " ");
        problems.push((Status::Warn, format!("{} channel(s); {} wants {want}.", m.channels, target.name)));
    }
    let reducing = bits.is_some_and(|b| b < 24) || target.dither == DitherRule::Required;
    if reducing && m.format.dithered == Some(false) {
        problems.push((
            Status::Warn,
            "Reducing to fewer than 24 bits without dither: turn the dither stage on.".to_owned(),
        ));
    }
    if let Some(container) = &m.format.container {
        if !target.formats.iter().any(|f| f == container) && !matches!(container.as_str(), "pcm") {
            problems.push((
                Status::Warn,
                format!("{} takes {}, not {container}.", target.name, target.formats.join("/")),
            ));
        }
    }
    let bits_text = match (bits, m.format.float) {
        (Some(b), true) => format!("{b}-bit float"),
        (Some(b), false) => format!("{b}-bit"),
        (None, _) if m.format.container.is_none() => "bits set by the export".to_owned(),
        (None, _) => "lossy, no word length".to_owned(),
    };
    let text = format!("{:.1} kHz, {bits_text}, {} ch", m.sample_rate_hz / 1000.0, m.channels);
    if m.sample_rate_hz <= 0.0 {
        return check.says(threshold, "Nothing measured yet.");
    }
    let status = problems.iter().map(|(s, _)| *s).max().unwrap_or(Status::Pass);
    let advice = problems
        .into_iter()
        .max_by_key(|(s, _)| *s)
        .map_or_else(|| format!("Fits {}.", target.name), |(_, advice)| advice);
    Check { status, ..check }.value(Some(m.sample_rate_hz), "Hz", text).says(threshold, advice)
}

/// Every check with generated signals that must pass it and signals that must fail it, at
/// 44.1 and 48 kHz, measured by the offline analysis (the same meters as the plugin).
#[cfg(all(test, feature = "cli"))]
mod tests {
    use super::*;
    use crate::delivery::{FormatInfo, Measurements};
    use crate::offline::analysis::analyze;
    use crate::test_rng::Rng;

    const RATES: [f64; 2] = [44_100.0, 48_000.0];

    /// A healthy pre-master, 20 s: a mono kick (60 Hz, 80 ms decay) every 0.5 s peaking near
    /// −7 dBFS over a partly correlated noise bed around −26 dBFS RMS; 1 s fade-out.
    fn healthy_mix(rate: f64) -> Vec<Vec<f32>> {
        mix_with_kick(rate, 1.0)
    }

    /// [`healthy_mix`] with the right channel's kick multiplied by `kick_right` (−1: the bass
    /// out of phase).
    fn mix_with_kick(rate: f64, kick_right: f64) -> Vec<Vec<f32>> {
        let frames = (20.0 * rate) as usize;
        let mut rng = Rng::new(7);
        let (mut l, mut r) = (Vec::with_capacity(frames), Vec::with_capacity(frames));
        let (mut lp_common, mut lp_l, mut lp_r) = (0.0f64, 0.0f64, 0.0f64);
        let beat = (0.5 * rate) as usize;
        // One beat of kick with its mean removed (a decaying sine is not DC-free).
        let mut kick_beat: Vec<f64> = (0..beat)
            .map(|n| {
                let t = n as f64 / rate;
                0.4 * (-t / 0.08).exp() * (2.0 * std::f64::consts::PI * 60.0 * t).sin()
            })
            .collect();
        let mean = kick_beat.iter().sum::<f64>() / beat as f64;
        kick_beat.iter_mut().for_each(|k| *k -= mean);
        for n in 0..frames {
            let kick = kick_beat[n % beat];
            lp_common += 0.5 * (rng.range(-1.0, 1.0) - lp_common);
            lp_l += 0.5 * (rng.range(-1.0, 1.0) - lp_l);
            lp_r += 0.5 * (rng.range(-1.0, 1.0) - lp_r);
            let bed_l = 0.06 * (0.8 * lp_common + 0.45 * lp_l);
            let bed_r = 0.06 * (0.8 * lp_common + 0.45 * lp_r);
            let fade = ((frames - n) as f64 / rate).min(1.0);
            l.push(((kick + bed_l) * fade) as f32);
            r.push(((kick_right * kick + bed_r) * fade) as f32);
        }
        vec![l, r]
    }

    fn scaled(signal: &[Vec<f32>], gain: f32) -> Vec<Vec<f32>> {
        signal.iter().map(|c| c.iter().map(|x| x * gain).collect()).collect()
    }

    /// The signal scaled so its true peak is `dbtp`.
    fn peaking_at(signal: &[Vec<f32>], rate: f64, dbtp: f64) -> Vec<Vec<f32>> {
        let tp = measure(signal, rate).true_peak_dbtp.unwrap();
        scaled(signal, 10f64.powf((dbtp - tp) / 20.0) as f32)
    }

    /// The signal scaled to `lufs` integrated.
    fn at_loudness(signal: &[Vec<f32>], rate: f64, lufs: f64) -> Vec<Vec<f32>> {
        let integrated = measure(signal, rate).integrated_lufs.unwrap();
        scaled(signal, 10f64.powf((lufs - integrated) / 20.0) as f32)
    }

    fn measure(signal: &[Vec<f32>], rate: f64) -> Measurements {
        let slices: Vec<&[f32]> = signal.iter().map(Vec::as_slice).collect();
        let format =
            FormatInfo { bits: Some(24), float: false, container: Some("wav".into()), dithered: None };
        Measurements::from_analysis(&analyze(&slices, rate), format)
    }

    fn status_of(m: &Measurements, target: &str, name: &str, group: Group) -> Check {
        let target = DeliveryTarget::by_id(target, -14.0, -1.0);
        evaluate(m, &target, None, Some(group))
            .into_iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}"))
    }

    fn assert_status(
        signal: &[Vec<f32>],
        rate: f64,
        target: &str,
        name: &str,
        group: Group,
        expected: Status,
    ) {
        let check = status_of(&measure(signal, rate), target, name, group);
        println!(
            "{rate} Hz {name} → {:?}: {} | {} | {}",
            check.status, check.value_text, check.threshold, check.advice
        );
        assert_eq!(check.status, expected, "{rate} Hz {name}: {check:?}");
        assert!(!check.advice.is_empty() && !check.threshold.is_empty() && check.value.is_some());
    }

    /// The limiter's output with `drive_db` of drive: a mix already squashed on the bus.
    fn limited(signal: &[Vec<f32>], rate: f64, drive_db: f32) -> Vec<Vec<f32>> {
        use crate::dsp::limiter::{Limiter, LimiterSettings};
        let settings = LimiterSettings { drive_db, ceiling_dbtp: -0.3, ..LimiterSettings::default() };
        let mut limiter = Limiter::new(rate, &settings);
        let (mut l, mut r) = (signal[0].clone(), signal[1].clone());
        limiter.process(&mut l, &mut r);
        vec![l, r]
    }

    #[test]
    fn a_healthy_mix_passes_every_mix_check() {
        for rate in RATES {
            let m = measure(&healthy_mix(rate), rate);
            let target = DeliveryTarget::by_id("spotify", -14.0, -1.0);
            for check in evaluate(&m, &target, None, Some(Group::Mix)) {
                println!(
                    "{rate} Hz {:<16} {:?} {} | {}",
                    check.name, check.status, check.value_text, check.advice
                );
                assert_eq!(check.status, Status::Pass, "{check:?}");
            }
        }
    }

    #[test]
    fn headroom_fails_at_minus_1_dbfs_and_warns_at_minus_3() {
        for rate in RATES {
            let mix = healthy_mix(rate);
            assert_status(
                &peaking_at(&mix, rate, -1.0),
                rate,
                "spotify",
                "headroom",
                Group::Mix,
                Status::Fail,
            );
            assert_status(
                &peaking_at(&mix, rate, -3.0),
                rate,
                "spotify",
                "headroom",
                Group::Mix,
                Status::Warn,
            );
            assert_status(
                &peaking_at(&mix, rate, -6.0),
                rate,
                "spotify",
                "headroom",
                Group::Mix,
                Status::Pass,
            );
        }
    }

    #[test]
    fn a_clipped_square_fails_clipping_and_inter_sample_peaks_warn() {
        for rate in RATES {
            // A 100 Hz square at full scale: every half period sits on the rail.
            let half = (rate / 200.0) as usize;
            let square: Vec<f32> = (0..(5.0 * rate) as usize)
                .map(|n| if (n / half).is_multiple_of(2) { 1.0 } else { -1.0 })
                .collect();
            let clipped = vec![square.clone(), square];
            let m = measure(&clipped, rate);
            let check = status_of(&m, "spotify", "clipping", Group::Mix);
            assert_eq!(check.status, Status::Fail, "{check:?}");
            let runs = 2 * (5.0 * rate) as usize / half + 2 * usize::from((5.0 * rate) as usize % half >= 3);
            assert_eq!(check.value, Some(runs as f64), "one run per half period and channel");
            assert_eq!(check.positions_s.len(), 8);
            assert!((check.positions_s[1] - half as f64 / rate).abs() < 1e-9, "{:?}", check.positions_s);
            assert!(check.advice.contains("0:00.000"), "{}", check.advice);
            assert_eq!(status_of(&m, "spotify", "clipping", Group::Delivery).status, Status::Fail);
            // fs/4 at 45°: samples at ±0.92, the waveform between them at 1.3 (+2.3 dBTP).
            let isp: Vec<f32> = (0..(3.0 * rate) as usize)
                .map(|n| {
                    (1.3 * (std::f64::consts::FRAC_PI_2 * n as f64 + std::f64::consts::FRAC_PI_4).sin())
                        as f32
                })
                .collect();
            assert_status(&[isp.clone(), isp], rate, "spotify", "clipping", Group::Mix, Status::Warn);
            assert_status(&healthy_mix(rate), rate, "spotify", "clipping", Group::Mix, Status::Pass);
        }
    }

    #[test]
    fn a_limited_mix_trips_the_bus_limiter_and_over_compression_checks() {
        for rate in RATES {
            let mix = healthy_mix(rate);
            let squashed = limited(&mix, rate, 24.0);
            let m = measure(&squashed, rate);
            let psr = m.loud_psr_db.unwrap();
            println!("{rate} Hz: limited by 24 dB → PSR {psr:.1} dB, PLR {:.1} dB", m.plr_db.unwrap());
            assert!(psr < 6.0, "{psr}");
            assert_eq!(status_of(&m, "spotify", "bus_limiter", Group::Mix).status, Status::Fail);
            assert_eq!(status_of(&m, "spotify", "over_compression", Group::Mix).status, Status::Fail);
            // Less drive: amber or red, never green.
            let m = measure(&limited(&mix, rate, 20.0), rate);
            let check = status_of(&m, "spotify", "bus_limiter", Group::Mix);
            println!("{rate} Hz: limited by 20 dB → {}", check.value_text);
            assert!(check.status >= Status::Warn, "{check:?}");
            // A clipper's flat tops at any level trip it too.
            let clipped: Vec<Vec<f32>> =
                scaled(&mix, 4.0).iter().map(|c| c.iter().map(|x| x.clamp(-0.5, 0.5)).collect()).collect();
            let check = status_of(&measure(&clipped, rate), "spotify", "bus_limiter", Group::Mix);
            assert!(check.status >= Status::Warn && check.value_text.contains("flat tops"), "{check:?}");
        }
    }

    #[test]
    fn out_of_phase_bass_trips_low_end_mono_and_an_inverted_channel_trips_phase() {
        for rate in RATES {
            let mix = healthy_mix(rate);
            // The kick polarity-inverted on the right: the bass cancels in mono.
            let kick_out = mix_with_kick(rate, -1.0);
            assert_status(&kick_out, rate, "spotify", "low_end_mono", Group::Mix, Status::Fail);
            assert_status(&kick_out, rate, "spotify", "phase", Group::Mix, Status::Fail);
            assert_status(&mix, rate, "spotify", "low_end_mono", Group::Mix, Status::Pass);
            // Independent noise in the two channels: correlation ~0 → amber, and the low band
            // (the noise's own) uncorrelated → amber too.
            let mut rng = Rng::new(3);
            let wide: Vec<Vec<f32>> = (0..2)
                .map(|_| (0..(10.0 * rate) as usize).map(|_| rng.range(-0.1, 0.1) as f32).collect())
                .collect();
            assert_status(&wide, rate, "spotify", "phase", Group::Mix, Status::Warn);
            assert_status(&wide, rate, "spotify", "low_end_mono", Group::Mix, Status::Warn);
        }
    }

    #[test]
    fn balance_and_dc_offset() {
        for rate in RATES {
            let mix = healthy_mix(rate);
            let leaning = vec![mix[0].iter().map(|x| x * 0.5).collect(), mix[1].clone()];
            assert_status(&leaning, rate, "spotify", "balance", Group::Mix, Status::Fail);
            let slight = vec![mix[0].iter().map(|x| x * 0.85).collect(), mix[1].clone()];
            assert_status(&slight, rate, "spotify", "balance", Group::Mix, Status::Warn);
            let offset: Vec<Vec<f32>> = mix.iter().map(|c| c.iter().map(|x| x + 0.02).collect()).collect();
            assert_status(&offset, rate, "spotify", "dc_offset", Group::Mix, Status::Fail);
            let small: Vec<Vec<f32>> = mix.iter().map(|c| c.iter().map(|x| x + 0.003).collect()).collect();
            assert_status(&small, rate, "spotify", "dc_offset", Group::Mix, Status::Warn);
            assert_status(&mix, rate, "spotify", "dc_offset", Group::Mix, Status::Pass);
        }
    }

    #[test]
    fn loudness_and_true_peak_follow_the_target() {
        for rate in RATES {
            // A limited master so loudness can be raised without the peaks running away.
            let master = limited(&healthy_mix(rate), rate, 12.0);
            assert_status(
                &at_loudness(&master, rate, -23.0),
                rate,
                "ebu_r128",
                "loudness",
                Group::Delivery,
                Status::Pass,
            );
            assert_status(
                &at_loudness(&master, rate, -21.5),
                rate,
                "ebu_r128",
                "loudness",
                Group::Delivery,
                Status::Fail,
            );
            assert_status(
                &at_loudness(&master, rate, -14.0),
                rate,
                "spotify",
                "loudness",
                Group::Delivery,
                Status::Pass,
            );
            assert_status(
                &at_loudness(&master, rate, -17.0),
                rate,
                "spotify",
                "loudness",
                Group::Delivery,
                Status::Warn,
            );
            // YouTube only gives a playback reference: a −8 LUFS master is turned down 6 dB.
            let loud = at_loudness(&master, rate, -8.0);
            let check = status_of(&measure(&loud, rate), "youtube", "loudness", Group::Delivery);
            assert_eq!(check.status, Status::Warn);
            assert!(check.advice.contains("6.0 dB"), "{}", check.advice);
            // CD has no loudness target.
            assert_status(&loud, rate, "cd", "loudness", Group::Delivery, Status::Pass);

            let mix = healthy_mix(rate);
            assert_status(
                &peaking_at(&mix, rate, -1.5),
                rate,
                "spotify",
                "true_peak",
                Group::Delivery,
                Status::Pass,
            );
            assert_status(
                &peaking_at(&mix, rate, -0.7),
                rate,
                "spotify",
                "true_peak",
                Group::Delivery,
                Status::Warn,
            );
            assert_status(
                &peaking_at(&mix, rate, -0.7),
                rate,
                "ebu_r128",
                "true_peak",
                Group::Delivery,
                Status::Fail,
            );
            assert_status(
                &peaking_at(&mix, rate, 0.5),
                rate,
                "spotify",
                "true_peak",
                Group::Delivery,
                Status::Fail,
            );
            // Spotify's loud-master rule: above −14 LUFS the ceiling is −2 dBTP.
            let hot = peaking_at(&at_loudness(&master, rate, -9.0), rate, -1.5);
            let check = status_of(&measure(&hot, rate), "spotify", "true_peak", Group::Delivery);
            assert_eq!(check.status, Status::Warn, "{check:?}");
            assert!(check.threshold.contains("−2.0 dBTP"), "{}", check.threshold);
        }
    }

    /// Stereo noise whose long-term spectrum follows `density_db(f)` (dB per hertz), 8 s.
    fn shaped_noise(rate: f64, density_db: impl Fn(f64) -> f64) -> Vec<Vec<f32>> {
        use realfft::RealFftPlanner;
        let size = 1 << 16;
        let mut planner = RealFftPlanner::<f64>::new();
        let inverse = planner.plan_fft_inverse(size);
        let mut rng = Rng::new(11);
        let mut channels = Vec::new();
        for _ in 0..2 {
            let mut out = Vec::new();
            while out.len() < (8.0 * rate) as usize {
                let mut spectrum = inverse.make_input_vec();
                for (k, bin) in spectrum.iter_mut().enumerate().skip(1) {
                    let f = k as f64 * rate / size as f64;
                    let amplitude = if f < 20.0 { 0.0 } else { 10f64.powf(density_db(f) / 20.0) };
                    let phase = rng.range(0.0, 2.0 * std::f64::consts::PI);
                    *bin = realfft::num_complex::Complex::from_polar(amplitude, phase);
                }
                let last = spectrum.len() - 1;
                spectrum[last].im = 0.0;
                let mut block = inverse.make_output_vec();
                inverse.process(&mut spectrum, &mut block).unwrap();
                out.extend(block.iter().map(|&x| x as f32));
            }
            channels.push(out);
        }
        let peak = channels.iter().flatten().fold(0.0f32, |m, x| m.max(x.abs()));
        scaled(&channels, 0.3 / peak)
    }

    #[test]
    fn tonal_balance_against_the_curve_and_against_references() {
        for rate in RATES {
            let on_curve = shaped_noise(rate, tonal::curve_density_db);
            let m = measure(&on_curve, rate);
            let check = status_of(&m, "spotify", "tonal_balance", Group::Delivery);
            println!("{rate} Hz on the curve: {} {:?}", check.value_text, check.bands);
            assert_eq!(check.status, Status::Pass, "{check:?}");
            assert!(check.bands.iter().all(|b| b.deviation_db.abs() < 1.0), "{:?}", check.bands);
            // +10 dB around 4 kHz (2.8–5.6 kHz): harsh.
            let harsh = shaped_noise(rate, |f| {
                tonal::curve_density_db(f) + if (2_900.0..5_500.0).contains(&f) { 10.0 } else { 0.0 }
            });
            let check = status_of(&measure(&harsh, rate), "spotify", "tonal_balance", Group::Delivery);
            assert_eq!(check.status, Status::Fail, "{check:?}");
            assert!(check.advice.starts_with("Harsh") && check.value_text.contains("4 kHz"), "{check:?}");
            // −6 dB from 6 kHz up: dark against the curve (amber).
            let dark =
                shaped_noise(rate, |f| tonal::curve_density_db(f) - if f > 5_800.0 { 6.0 } else { 0.0 });
            let check = status_of(&measure(&dark, rate), "spotify", "tonal_balance", Group::Delivery);
            assert_eq!(check.status, Status::Warn, "{check:?}");
            assert!(check.advice.starts_with("Dark"), "{}", check.advice);
            // Against a reference with the same +10 dB presence, the harsh master matches.
            let reference = measure(&harsh, rate).octave_bands_db;
            let target = DeliveryTarget::by_id("spotify", -14.0, -1.0);
            let references = tonal::mean_reference_bands(&[reference]).unwrap();
            let against = evaluate(&measure(&harsh, rate), &target, Some(&references), Some(Group::Delivery));
            let check = against.iter().find(|c| c.name == "tonal_balance").unwrap();
            assert_eq!(check.status, Status::Pass, "{check:?}");
            assert!(check.threshold.contains("references"));
            // …and the plain curve-shaped noise now reads 10 dB short at 4 kHz: red.
            let against = evaluate(&m, &target, Some(&references), Some(Group::Delivery));
            assert_eq!(against.iter().find(|c| c.name == "tonal_balance").unwrap().status, Status::Fail);
        }
    }

    #[test]
    fn silence_at_the_ends_and_abrupt_endings() {
        for rate in RATES {
            let mix = healthy_mix(rate);
            assert_status(&mix, rate, "spotify", "silence", Group::Delivery, Status::Pass);
            let pad = |seconds: f64, signal: &[Vec<f32>], head: bool| -> Vec<Vec<f32>> {
                let silence = vec![0.0f32; (seconds * rate) as usize];
                signal
                    .iter()
                    .map(|c| {
                        if head {
                            [silence.as_slice(), c].concat()
                        } else {
                            [c.as_slice(), &silence].concat()
                        }
                    })
                    .collect()
            };
            assert_status(&pad(12.0, &mix, true), rate, "spotify", "silence", Group::Delivery, Status::Fail);
            assert_status(&pad(4.0, &mix, true), rate, "spotify", "silence", Group::Delivery, Status::Warn);
            assert_status(&pad(12.0, &mix, false), rate, "spotify", "silence", Group::Delivery, Status::Warn);
            // Cut off in the middle of the music (no fade).
            let cut: Vec<Vec<f32>> = mix.iter().map(|c| c[..(10.0 * rate) as usize].to_vec()).collect();
            let check = status_of(&measure(&cut, rate), "spotify", "silence", Group::Delivery);
            assert_eq!(check.status, Status::Warn, "{check:?}");
            assert!(check.advice.contains("abruptly"));
        }
    }

    #[test]
    fn format_fits_the_target() {
        for rate in RATES {
            let mut m = measure(&healthy_mix(rate), rate);
            let status = |m: &Measurements, target: &str| status_of(m, target, "format", Group::Delivery);
            assert_eq!(status(&m, "spotify").status, Status::Pass);
            // EBU R 128 deliveries are 48 kHz.
            let expected = if rate == 48_000.0 { Status::Pass } else { Status::Fail };
            assert_eq!(status(&m, "ebu_r128").status, expected, "{:?}", status(&m, "ebu_r128"));
            // CD: 16-bit 44.1 kHz with dither.
            m.format = FormatInfo {
                bits: Some(16),
                float: false,
                container: Some("wav".into()),
                dithered: Some(false),
            };
            let cd = status(&m, "cd");
            let expected = if rate == 44_100.0 { Status::Warn } else { Status::Fail };
            assert_eq!(cd.status, expected, "{cd:?}");
            m.format.dithered = Some(true);
            let expected = if rate == 44_100.0 { Status::Pass } else { Status::Fail };
            assert_eq!(status(&m, "cd").status, expected);
            m.format =
                FormatInfo { bits: Some(32), float: true, container: Some("wav".into()), dithered: None };
            assert_eq!(status(&m, "spotify").status, Status::Warn);
            m.format =
                FormatInfo { bits: Some(8), float: false, container: Some("wav".into()), dithered: None };
            assert_eq!(status(&m, "spotify").status, Status::Fail);
        }
        let mut low = measure(&healthy_mix(32_000.0), 32_000.0);
        low.format.bits = Some(24);
        assert_eq!(status_of(&low, "spotify", "format", Group::Delivery).status, Status::Fail);
    }

    #[test]
    fn nothing_measured_is_grey_not_green_and_json_has_the_fields() {
        let empty = Measurements::default();
        let target = DeliveryTarget::by_id("spotify", -14.0, -1.0);
        let checks = evaluate(&empty, &target, None, None);
        assert_eq!(checks.len(), 14);
        for check in &checks {
            if !matches!(check.name, "low_end_mono" | "phase" | "balance") {
                assert_eq!(check.status, Status::Unknown, "{check:?}");
            }
        }
        let json = serde_json::to_value(&checks[0]).unwrap();
        for field in ["name", "status", "value", "threshold", "advice", "group"] {
            assert!(json.get(field).is_some(), "{field} missing: {json}");
        }
        assert_eq!(json["status"], "unknown");
        // Texts use a real minus sign.
        let m = measure(&peaking_at(&healthy_mix(48_000.0), 48_000.0, -1.0), 48_000.0);
        for check in evaluate(&m, &target, None, None) {
            for text in [&check.value_text, &check.threshold, &check.advice] {
                assert!(!text.contains(" -1") && !text.contains("(-"), "{}: {text}", check.name);
            }
        }
        assert_eq!(format_position(75.25), "1:15.250");
        assert_eq!(worst(&checks), Status::Unknown);
    }
}
