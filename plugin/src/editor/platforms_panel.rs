//! The platforms page: what every platform's loudness normalisation does to the output as it
//! measures now (integrated loudness and true peak since reset): the gain it applies (the
//! "loudness penalty"), the loudness and true peak on playback, and whether its peak rule or
//! limiter acts. Click a row to hear it (the platform preview, monitor only); hover for the
//! rule's source and the date it was checked.

use std::sync::atomic::Ordering;

use egui::{Color32, RichText};
use nice_plug::prelude::*;

use super::widgets::{
    caption, format_dbtp, format_lu, set_enum, signed_db, title, AMBER, DIFFERS, GOOD, RED,
};
use crate::engine::EngineView;
use crate::monitor::platform::{platforms, playback_gain, TurnUp};
use crate::monitor::MonitorView;
use crate::params::{ParityParams, PlatformParam};

/// A platform's turn-up rule in words.
pub fn rule_text(turn_up: TurnUp, ceiling_dbtp: Option<f32>) -> String {
    match (turn_up, ceiling_dbtp) {
        (TurnUp::Never, _) => "down only".to_owned(),
        (TurnUp::Off, _) => "no normalisation".to_owned(),
        (TurnUp::PeakLimited, Some(c)) => format!("up until the peak is {c:.0} dBTP").replace('-', "−"),
        (TurnUp::Limiter, Some(c)) => format!("up, limiter at {c:.0} dBTP").replace('-', "−"),
        (TurnUp::Full, Some(c)) => format!("both ways, peaks ≤ {c:.0} dBTP").replace('-', "−"),
        (_, None) => "up".to_owned(),
    }
}

/// Draws the page.
pub fn panel(
    ui: &mut egui::Ui,
    params: &ParityParams,
    setter: &ParamSetter,
    view: &EngineView,
    monitor: &MonitorView,
) {
    let integrated = view.output_meters.integrated_lufs().filter(|v| v.is_finite());
    let true_peak = view.output_meters.max_true_peak_dbtp().filter(|v| v.is_finite());
    ui.horizontal(|ui| {
        ui.label(title("PLATFORMS"));
        ui.label(match (integrated, true_peak) {
            (Some(lufs), Some(peak)) => {
                format!("output {} LUFS integrated · {} dBTP", format_lu(Some(lufs)), format_dbtp(Some(peak)))
            }
            _ => "output: not enough audio yet (play the song; the figures follow the integrated reading)"
                .to_owned(),
        });
    });
    let preview = params.monitor.platform.value();
    if preview != PlatformParam::Off {
        ui.horizontal(|ui| {
            let gain = monitor.platform_gain_db.load(Ordering::Relaxed);
            let mut text = format!("Previewing {}: {}", params.monitor.platform, signed_db(gain));
            if monitor.platform_limited_by_peak.load(Ordering::Relaxed) {
                text.push_str(" (turn-up limited by true peak)");
            }
            let limiter = monitor.platform_limiter_db.load(Ordering::Relaxed);
            if limiter > 0.05 {
                text.push_str(&format!(", platform limiter −{limiter:.1} dB"));
            }
            ui.label(RichText::new(text).strong().color(DIFFERS));
            if ui.button("Stop preview").clicked() {
                set_enum(setter, &params.monitor.platform, PlatformParam::Off);
            }
        });
    }
    ui.label(caption(
        "Click a platform to hear your master as its listeners will (monitor only, never in a bounce).",
    ));
    ui.add_space(4.0);
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        egui::Grid::new("platform-table")
            .num_columns(6)
            .striped(true)
            .spacing([16.0, 6.0])
            .min_row_height(24.0)
            .show(ui, |ui| {
                for header in ["Platform", "Target", "Gain applied", "Plays at", "Peak on playback", "Rule"] {
                    ui.label(caption(header));
                }
                ui.end_row();
                for platform in platforms() {
                    // By id: the table and the parameter's choices are matched by name, not order.
                    let variant = PlatformParam::from_table_id(&platform.id).unwrap_or(PlatformParam::Off);
                    let selected = variant != PlatformParam::Off && preview == variant;
                    let name = RichText::new(&platform.name).size(14.0);
                    let response = ui.selectable_label(selected, name).on_hover_text(format!(
                        "checked {} · {} source: {}{}",
                        platform.checked,
                        platform.source_kind.as_str(),
                        platform.source,
                        if platform.note.is_empty() { String::new() } else { format!("\n{}", platform.note) }
                    ));
                    if response.clicked() {
                        set_enum(
                            setter,
                            &params.monitor.platform,
                            if selected { PlatformParam::Off } else { variant },
                        );
                    }
                    let target = platform
                        .target_lufs
                        .map_or("—".to_owned(), |lufs| format!("{} LUFS", format_lu(Some(lufs))));
                    ui.label(RichText::new(target).monospace());
                    match (integrated, true_peak) {
                        (Some(lufs), Some(peak)) => {
                            let gain = playback_gain(platform, lufs, peak);
                            // Judged at the precision shown (a master at −1.00 dBTP is not over −1).
                            let over_ceiling = gain.exceeds_peak_ceiling
                                && platform.peak_ceiling_dbtp.is_some_and(|c| {
                                    super::widgets::above_ceiling(gain.playback_true_peak_dbtp, c)
                                });
                            let colour = if gain.gain_db < -0.05 {
                                AMBER
                            } else if gain.gain_db > 0.05 {
                                GOOD
                            } else {
                                ui.visuals().text_color()
                            };
                            ui.label(
                                RichText::new(signed_db(gain.gain_db)).monospace().size(15.0).color(colour),
                            );
                            ui.label(
                                RichText::new(format!("{} LUFS", format_lu(Some(gain.playback_lufs))))
                                    .monospace(),
                            );
                            let mut peak_text = RichText::new(format!(
                                "{} dBTP",
                                format_dbtp(Some(gain.playback_true_peak_dbtp))
                            ))
                            .monospace();
                            if over_ceiling || gain.limiter_engaged {
                                peak_text = peak_text.color(RED);
                            }
                            ui.label(peak_text);
                            let mut note = rule_text(platform.turn_up, platform.peak_ceiling_dbtp);
                            if gain.limited_by_peak {
                                note.push_str(" · held back by your peak");
                            }
                            if gain.limiter_engaged {
                                note.push_str(" · its limiter acts");
                            }
                            if over_ceiling {
                                note.push_str(" · over its ceiling");
                            }
                            ui.label(RichText::new(note).size(12.0).color(Color32::from_gray(170)));
                        }
                        _ => {
                            for _ in 0..3 {
                                ui.label("—");
                            }
                            ui.label(
                                RichText::new(rule_text(platform.turn_up, platform.peak_ceiling_dbtp))
                                    .size(12.0)
                                    .color(Color32::from_gray(170)),
                            );
                        }
                    }
                    ui.end_row();
                }
            });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_as_sentences_with_real_minus_signs() {
        assert_eq!(rule_text(TurnUp::Never, None), "down only");
        assert_eq!(rule_text(TurnUp::PeakLimited, Some(-1.0)), "up until the peak is −1 dBTP");
        assert!(rule_text(TurnUp::Full, Some(-2.0)).contains("−2 dBTP"));
    }
}
