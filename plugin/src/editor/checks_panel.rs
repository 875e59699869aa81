//! The checks page: is the mix ready to master (judged on the chain input), is the master ready
//! to deliver to the chosen target (judged on the output), and listening care (listening time,
//! breaks, the dose once the monitors are calibrated, "fresh ears").
//!
//! The verdicts are [`crate::delivery::evaluate`]'s, the same code `parity analyze` runs, fed
//! from the live meters: every figure is "since the meters were reset", like the integrated
//! loudness. "Apply to the chain" sets the target's true-peak ceiling on the limiter and its word
//! length on the dither, through host gestures.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use egui::{Color32, RichText};
use nice_plug::prelude::ParamSetter;

use super::widgets::{caption, set_enum, set_float, set_int, title, AMBER, GOOD, RED};
use crate::delivery::checks::{evaluate, Check, Group, Status};
use crate::delivery::{tonal, DeliveryTarget, FormatInfo, Measurements, OCTAVE_BANDS};
use crate::dsp::dither::WordLength;
use crate::editor_settings::EditorSettings;
use crate::engine::EngineView;
use crate::listening::{calibration_offset_db, dose_percent};
use crate::meters::spectrum::SpectrumFrame;
use crate::meters::stereo::{CorrelationBand, Integration, StereoView};
use crate::meters::MeterPointView;
use crate::monitor::platform::DitherRule;
use crate::params::{word_length_param, DitherModeParam, LevelMatchParam, ParityParams};
use crate::reference::{SlotStatus, REFERENCE_SLOTS};

/// How often the checks are re-evaluated (they read slow, since-reset figures).
const REFRESH: Duration = Duration::from_millis(250);

/// Margin below the target's ceiling that "apply" leaves on the limiter, dB: the room between two
/// true-peak estimates (the limiter's detector and the meter's 4× interpolation).
pub const CEILING_MARGIN_DB: f32 = 0.1;

/// Snooze of the break reminder ("later"), s of listening.
pub const SNOOZE_S: f64 = 600.0;

/// The meters and settings the live checks read.
pub struct LiveInputs<'a> {
    /// The parameters (dither, references, monitor).
    pub params: &'a ParityParams,
    /// The engine's readings.
    pub view: &'a EngineView,
    /// Stereo readings of the chain input.
    pub input_stereo: &'a StereoView,
    /// Stereo readings of the output.
    pub output_stereo: &'a StereoView,
    /// The latest output spectrum frame (its long-term octave bands).
    pub frame: &'a SpectrumFrame,
}

/// Measurements of one meter point from the live views.
pub fn live_measurements(
    meters: &MeterPointView,
    stereo: &StereoView,
    octave_bands_db: Option<&[f32; OCTAVE_BANDS]>,
    sample_rate_hz: f64,
    format: FormatInfo,
) -> Measurements {
    let finite = |value: Option<f32>| value.filter(|v| !v.is_nan()).map(f64::from);
    let channels = if meters.sample_peak_dbfs(1).is_some() { 2 } else { 1 };
    let sample_peak =
        (0..channels).filter_map(|c| meters.sample_peak_dbfs(c)).map(f64::from).reduce(f64::max);
    let dc = (0..channels).filter_map(|c| meters.dc_offset_dbfs(c)).map(f64::from).reduce(f64::max);
    let stereo_reading = |value: Option<f32>| value.filter(|_| channels == 2).map(f64::from);
    Measurements {
        integrated_lufs: finite(meters.integrated_lufs()).filter(|v| v.is_finite()),
        loudness_range_lu: finite(meters.loudness_range_lu()),
        true_peak_dbtp: finite(meters.max_true_peak_dbtp()).filter(|v| v.is_finite()),
        sample_peak_dbfs: sample_peak.filter(|v| v.is_finite()),
        plr_db: finite(meters.plr_db()).filter(|v| v.is_finite()),
        loud_psr_db: finite(meters.loud_psr_db()),
        true_peak_overs: None,
        clipped_runs: meters.clipped_runs(),
        clip_positions_s: meters.clip_positions_s().collect(),
        flat_top_runs: meters.flat_top_runs(),
        correlation: stereo_reading(stereo.correlation(CorrelationBand::Full, Integration::Total)),
        low_band_correlation: stereo_reading(stereo.correlation(CorrelationBand::Low, Integration::Total)),
        balance_db: stereo_reading(stereo.balance_db(Integration::Total)),
        dc_offset_dbfs: dc,
        octave_bands_db: octave_bands_db.map_or([None; OCTAVE_BANDS], |bands| {
            std::array::from_fn(|b| Some(f64::from(bands[b])).filter(|v| v.is_finite()))
        }),
        leading_silence_s: None,
        trailing_silence_s: None,
        end_level_dbfs: None,
        duration_s: meters.measured_s(),
        sample_rate_hz,
        channels,
        format,
    }
}

/// The mean octave balance of the loaded references (`None` when none is loaded).
pub fn reference_bands(params: &ParityParams) -> Option<[Option<f64>; OCTAVE_BANDS]> {
    let bands: Vec<_> = (0..REFERENCE_SLOTS)
        .filter_map(|slot| params.references.slot(slot))
        .filter(|info| info.status == SlotStatus::Ready)
        .filter_map(|info| {
            info.settings.summary.map(|summary| tonal::octave_bands_from_sixths(&summary.spectrum_db))
        })
        .collect();
    tonal::mean_reference_bands(&bands)
}

/// What the output delivers: the dither stage's word length when it is on, else the host's
/// export decides (unknown).
pub fn output_format(params: &ParityParams) -> FormatInfo {
    let dither = params.chain_settings().stages.dither;
    let on = dither.mode != crate::dsp::dither::DitherMode::Off && !dither.bypass;
    FormatInfo {
        bits: on.then(|| dither.word_length.bits()),
        float: false,
        container: None,
        dithered: Some(on),
    }
}

/// Every live check: mix readiness on the chain input, delivery on the output.
pub fn live_checks(inputs: &LiveInputs, target: &DeliveryTarget) -> Vec<Check> {
    let rate = f64::from(inputs.view.sample_rate_hz.load(Ordering::Relaxed));
    let mix =
        live_measurements(&inputs.view.input_meters, inputs.input_stereo, None, rate, FormatInfo::default());
    let octaves = (inputs.frame.sequence > 0 && inputs.frame.frames_averaged > 0)
        .then_some(&inputs.frame.octave_bands_db);
    let master = live_measurements(
        &inputs.view.output_meters,
        inputs.output_stereo,
        octaves,
        rate,
        output_format(inputs.params),
    );
    let references = reference_bands(inputs.params);
    let mut checks = evaluate(&mix, target, None, Some(Group::Mix));
    checks.extend(evaluate(&master, target, references.as_ref(), Some(Group::Delivery)));
    checks
}

/// Lamp colour of a status.
pub fn status_colour(status: Status) -> Color32 {
    match status {
        Status::Pass => GOOD,
        Status::Warn => AMBER,
        Status::Fail => RED,
        Status::Unknown => Color32::from_gray(90),
    }
}

/// The page's own state.
#[derive(Default)]
pub struct ChecksPage {
    /// The last evaluation and when it was made.
    cached: Option<(Instant, Vec<Check>)>,
}

impl ChecksPage {
    /// The checks, re-evaluated at most every 250 ms.
    pub fn checks(&mut self, inputs: &LiveInputs, target: &DeliveryTarget) -> &[Check] {
        let stale = self.cached.as_ref().is_none_or(|(at, _)| at.elapsed() >= REFRESH);
        if stale {
            self.cached = Some((Instant::now(), live_checks(inputs, target)));
        }
        self.cached.as_ref().map_or(&[], |(_, checks)| checks.as_slice())
    }

    /// Draws the page.
    pub fn panel(
        &mut self,
        ui: &mut egui::Ui,
        inputs: &LiveInputs,
        setter: &ParamSetter,
        target: &DeliveryTarget,
        settings: &mut EditorSettings,
        reminder: &mut BreakReminder,
    ) {
        target_row(ui, inputs.params, setter, target);
        ui.add_space(4.0);
        let checks = self.checks(inputs, target).to_vec();
        let listening_height = 92.0;
        let column_height = (ui.available_height() - listening_height).max(120.0);
        ui.columns(2, |columns| {
            let groups =
                [(Group::Mix, "MIX READINESS", "chain input"), (Group::Delivery, "DELIVERY", "output")];
            for (ui, (group, heading, signal)) in columns.iter_mut().zip(groups) {
                ui.horizontal(|ui| {
                    ui.label(title(heading));
                    ui.label(caption(signal));
                });
                egui::ScrollArea::vertical()
                    .id_salt(heading)
                    .max_height(column_height)
                    .auto_shrink([false, true])
                    .show(ui, |ui| {
                        for check in checks.iter().filter(|c| c.group == group) {
                            check_row(ui, check);
                        }
                    });
            }
        });
        ui.separator();
        listening_section(ui, inputs, setter, settings, reminder);
    }
}

/// The target's figures and "apply to the chain".
fn target_row(ui: &mut egui::Ui, params: &ParityParams, setter: &ParamSetter, target: &DeliveryTarget) {
    ui.horizontal_wrapped(|ui| {
        ui.label(title("TARGET"));
        ui.label(RichText::new(&target.name).strong());
        let loudness = match target.target_lufs {
            Some(lufs) => format!("{lufs:.1} LUFS ± {:.1} LU ({})", target.tolerance_lu, target.kind.as_str()),
            None => "no loudness target".to_owned(),
        };
        let mut peak = format!("≤ {:.1} dBTP", target.ceiling_dbtp);
        if let (Some(above), Some(ceiling)) = (target.loud_above_lufs, target.loud_ceiling_dbtp) {
            peak.push_str(&format!(" ({ceiling:.1} above {above:.0} LUFS)"));
        }
        let rates = target.rates_text();
        let text = format!("{loudness} · {peak} · {rates} · {} bit", target.preferred_bits).replace('-', "−");
        ui.label(RichText::new(text).monospace()).on_hover_text(format!("source: {}", target.source));
        let ceiling = apply_ceiling_dbtp(target);
        let bits = word_length_for(target);
        let applied = (params.limiter.ceiling_dbtp.value() - ceiling).abs() < 0.01
            && params.dither.word_length.value() == word_length_param(bits)
            && params.dither.mode.value() != DitherModeParam::Off;
        let hover = format!(
            "Sets the limiter ceiling to {ceiling:.1} dBTP ({CEILING_MARGIN_DB} dB under the target's), the dither to {} bit \
             (TPDF unless noise shaping is chosen) and \"learn to target\" to the target loudness.",
            bits.bits()
        )
        .replace('-', "−");
        if applied {
            ui.label(RichText::new("applied to the chain").color(GOOD)).on_hover_text(hover);
        } else {
            let response = ui.button("Apply to the chain").on_hover_text(hover);
            super::widgets::probe(ui.ctx(), "apply-target", response.rect);
            if response.clicked() {
                apply_target(params, setter, target);
            }
        }
    });
}

/// The limiter ceiling "apply" sets for `target`, dBTP.
pub fn apply_ceiling_dbtp(target: &DeliveryTarget) -> f32 {
    let at_target = target.ceiling_for_dbtp(target.target_lufs.map(f64::from));
    at_target - CEILING_MARGIN_DB
}

/// The dither word length for `target`'s delivery (24 bits for anything the dither cannot
/// produce, e.g. a float delivery).
pub fn word_length_for(target: &DeliveryTarget) -> WordLength {
    WordLength::from_bits(target.preferred_bits).unwrap_or(WordLength::Bits24)
}

/// Writes the target into the chain: limiter on with its ceiling, dither at its word length.
pub fn apply_target(params: &ParityParams, setter: &ParamSetter, target: &DeliveryTarget) {
    set_float(setter, &params.limiter.ceiling_dbtp, apply_ceiling_dbtp(target));
    if !params.limiter.enabled.value() {
        super::widgets::set_bool(setter, &params.limiter.enabled, true);
    }
    set_enum(setter, &params.dither.word_length, word_length_param(word_length_for(target)));
    // Every export from the float mix bus is a reduction; CD's 16 bits always are.
    let needs_dither = target.preferred_bits < 32 || target.dither == DitherRule::Required;
    if needs_dither && params.dither.mode.value() == DitherModeParam::Off {
        set_enum(setter, &params.dither.mode, DitherModeParam::Tpdf);
    }
}

/// One check: lamp, title, value; advice under it; the threshold on hover.
fn check_row(ui: &mut egui::Ui, check: &Check) {
    let colour = status_colour(check.status);
    let value = RichText::new(&check.value_text).monospace().color(colour);
    let value_width = {
        let galley = egui::WidgetText::from(value.clone()).into_galley(
            ui,
            Some(egui::TextWrapMode::Extend),
            f32::INFINITY,
            egui::TextStyle::Monospace,
        );
        galley.size().x
    };
    let title_width = 12.0 + 8.0 + 7.5 * check.title.chars().count() as f32;
    let same_line = title_width + value_width + 24.0 < ui.available_width();
    let response = ui
        .horizontal(|ui| {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
            ui.painter().circle_filled(rect.center(), 5.5, colour);
            ui.label(RichText::new(check.title).strong());
            if same_line {
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    ui.label(value.clone());
                });
            }
        })
        .response;
    if !same_line {
        ui.horizontal(|ui| {
            ui.add_space(20.0);
            ui.add(egui::Label::new(value).wrap());
        });
    }
    ui.add(egui::Label::new(RichText::new(&check.advice).size(12.0).color(Color32::from_gray(175))).wrap());
    ui.add_space(3.0);
    response.on_hover_text(format!("{} · threshold: {}", check.status.as_str(), check.threshold));
    super::widgets::probe(
        ui.ctx(),
        &format!("check-{}-{}", group_name(check.group), check.name),
        ui.min_rect(),
    );
}

/// The group's name in probes.
fn group_name(group: Group) -> &'static str {
    match group {
        Group::Mix => "mix",
        Group::Delivery => "delivery",
    }
}

/// Minutes as "1 h 05 min" / "12 min".
pub fn format_minutes(seconds: f64) -> String {
    let minutes = (seconds / 60.0).floor() as u64;
    if minutes == 0 {
        "under a minute".to_owned()
    } else if minutes >= 60 {
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    } else {
        format!("{minutes} min")
    }
}

/// Listening time, dose, calibration, the reminder interval and "fresh ears".
fn listening_section(
    ui: &mut egui::Ui,
    inputs: &LiveInputs,
    setter: &ParamSetter,
    settings: &mut EditorSettings,
    reminder: &mut BreakReminder,
) {
    let clock = &inputs.view.listening;
    ui.horizontal_wrapped(|ui| {
        ui.label(title("LISTENING"));
        ui.label(format!(
            "{} this session · {} since the last break",
            format_minutes(clock.total_s()),
            format_minutes(clock.continuous_s())
        ));
        if let Some(leq) = clock.equivalent_level_dbfs() {
            ui.label(caption(format!("Leq {:.1} dBFS", leq).replace('-', "−"))).on_hover_text(
                "energy average of what was heard (unweighted RMS; a full-scale sine is −3 dB)",
            );
        }
        match settings.calibration_spl_db {
            Some(spl) => {
                let offset = calibration_offset_db(f64::from(spl));
                let dose = dose_percent(clock.energy(), offset);
                let leq_spl = clock.equivalent_level_dbfs().map(|l| l + offset);
                let colour = if dose >= 100.0 {
                    RED
                } else if dose >= 50.0 {
                    AMBER
                } else {
                    ui.visuals().text_color()
                };
                let text = match leq_spl {
                    Some(spl) => format!("≈ {spl:.0} dB SPL · dose {dose:.0} %"),
                    None => format!("dose {dose:.0} %"),
                };
                ui.label(RichText::new(text).color(colour)).on_hover_text(
                    "NIOSH: 85 dB(A) for 8 h = 100 %, 3 dB exchange rate. An estimate: unweighted level, \
                     loudspeakers as calibrated; headphones need their own calibration.",
                );
            }
            None => {
                ui.label(caption("dose: calibrate the monitors to estimate it"));
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.label(caption("Break reminder every"));
        let mut minutes = settings.break_reminder_min;
        let response = ui.add(egui::DragValue::new(&mut minutes).range(0..=240).suffix(" min"));
        if response.changed() {
            settings.break_reminder_min = minutes;
        }
        response
            .on_hover_text("minutes of continuous listening (0: never). 5 min of quiet counts as a break.");
        if ui.button("I took a break").clicked() {
            clock.take_break();
            reminder.snooze_until_s = 0.0;
        }
        fresh_ears_button(ui, inputs.params, setter);
        ui.separator();
        let mut calibrated = settings.calibration_spl_db.is_some();
        if ui
            .checkbox(&mut calibrated, "Calibrated monitors")
            .on_hover_text(
                "Play pink noise at −20 dBFS RMS through one speaker and read an SPL meter (C, slow) at your \
                 listening position. A K-20 room reads 83 dB.",
            )
            .changed()
        {
            settings.calibration_spl_db = calibrated.then_some(83.0);
        }
        if let Some(spl) = settings.calibration_spl_db.as_mut() {
            ui.label(caption("−20 dBFS pink reads"));
            ui.add(egui::DragValue::new(spl).range(40.0..=120.0).speed(0.5).suffix(" dB SPL"));
        }
    });
}

/// "Fresh ears": switch to the first loaded reference, loudness-matched.
pub fn fresh_ears_button(ui: &mut egui::Ui, params: &ParityParams, setter: &ParamSetter) {
    let slot = first_ready_reference(params);
    let response = ui.add_enabled(slot.is_some(), egui::Button::new("Fresh ears"));
    let response = if slot.is_some() {
        response.on_hover_text("hear a loudness-matched reference now, to reset your sense of balance")
    } else {
        response.on_disabled_hover_text("load a reference first (References page)")
    };
    if let (true, Some(slot)) = (response.clicked(), slot) {
        fresh_ears(params, setter, slot);
    }
}

/// The first reference slot that is loaded.
pub fn first_ready_reference(params: &ParityParams) -> Option<usize> {
    (0..REFERENCE_SLOTS)
        .find(|&slot| params.references.slot(slot).is_some_and(|info| info.status == SlotStatus::Ready))
}

/// Switches the monitor to reference `slot`, level-matched (short-term if matching was off).
pub fn fresh_ears(params: &ParityParams, setter: &ParamSetter, slot: usize) {
    if params.monitor.level_match.value() == LevelMatchParam::Off {
        set_enum(setter, &params.monitor.level_match, LevelMatchParam::ShortTerm);
    }
    set_int(setter, &params.monitor.source, 2 + slot as i32);
}

/// The break reminder's state (the editor's, not saved).
#[derive(Debug, Default)]
pub struct BreakReminder {
    /// Continuous listening time before which the reminder stays quiet ("later"), s.
    pub snooze_until_s: f64,
}

impl BreakReminder {
    /// Whether the reminder shows: continuous listening has reached the interval and is past the
    /// snooze.
    pub fn due(&self, continuous_s: f64, interval_min: u32) -> bool {
        interval_min > 0
            && continuous_s >= f64::from(interval_min) * 60.0
            && continuous_s >= self.snooze_until_s
    }

    /// The reminder, drawn small at the right of the status line when due.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        params: &ParityParams,
        setter: &ParamSetter,
        view: &EngineView,
        interval_min: u32,
    ) {
        let continuous = view.listening.continuous_s();
        if !self.due(continuous, interval_min) {
            return;
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let later = ui.small_button("later").on_hover_text("remind me in 10 minutes");
            super::widgets::probe(ui.ctx(), "reminder-later", later.rect);
            if later.clicked() {
                self.snooze_until_s = continuous + SNOOZE_S;
            }
            if ui.small_button("took a break").clicked() {
                view.listening.take_break();
                self.snooze_until_s = 0.0;
            }
            fresh_ears_button(ui, params, setter);
            ui.label(
                RichText::new(format!(
                    " {} of listening: ears tire and judgements drift. Take 5–10 minutes. ",
                    format_minutes(continuous)
                ))
                .color(Color32::from_rgb(20, 30, 40))
                .background_color(Color32::from_rgb(150, 190, 230)),
            );
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_values_follow_the_target() {
        let spotify = DeliveryTarget::by_id("spotify", -14.0, -1.0);
        assert!((apply_ceiling_dbtp(&spotify) + 1.1).abs() < 1e-6);
        assert_eq!(word_length_for(&spotify), WordLength::Bits24);
        let cd = DeliveryTarget::by_id("cd", -14.0, -1.0);
        assert_eq!(word_length_for(&cd), WordLength::Bits16);
        let atsc = DeliveryTarget::by_id("atsc_a85", -14.0, -1.0);
        assert!((apply_ceiling_dbtp(&atsc) + 2.1).abs() < 1e-6);
        // A loud custom target under Spotify-like rules gets no loud rule: its own ceiling.
        let custom = DeliveryTarget::custom(-9.0, -0.5);
        assert!((apply_ceiling_dbtp(&custom) + 0.6).abs() < 1e-6);
    }

    #[test]
    fn reminder_timing() {
        let mut reminder = BreakReminder::default();
        assert!(!reminder.due(44.0 * 60.0, 45));
        assert!(reminder.due(45.0 * 60.0, 45));
        assert!(!reminder.due(10.0 * 3600.0, 0), "0 = never");
        reminder.snooze_until_s = 45.0 * 60.0 + SNOOZE_S;
        assert!(!reminder.due(50.0 * 60.0, 45));
        assert!(reminder.due(55.0 * 60.0, 45));
        assert_eq!(format_minutes(65.0 * 60.0 + 30.0), "1 h 05 min");
        assert_eq!(format_minutes(59.0), "under a minute");
        assert_eq!(format_minutes(61.0), "1 min");
    }
}
