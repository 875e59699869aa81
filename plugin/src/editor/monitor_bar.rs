//! The monitor bar along the bottom: level match, listen (stereo, mono, L, R, mid, side),
//! polarity, band solo, dim and the platform preview. These shape only what is heard, never a
//! bounce; they are parameters (host gestures), so a session remembers them.

use nice_plug::prelude::*;

use super::widgets::{caption, enum_buttons, enum_combo, toggle};
use crate::params::ParityParams;

/// Draws the bar.
pub fn bar(ui: &mut egui::Ui, params: &ParityParams, setter: &ParamSetter) {
    let monitor = &params.monitor;
    ui.horizontal_wrapped(|ui| {
        ui.label(caption("Match"));
        enum_combo(ui, "bar-level-match", &monitor.level_match, setter);
        ui.separator();
        ui.label(caption("Listen"));
        enum_buttons(ui, &monitor.listen, setter);
        ui.label(caption("Polarity"));
        enum_combo(ui, "bar-polarity", &monitor.polarity, setter);
        ui.label(caption("Solo"));
        enum_combo(ui, "bar-band", &monitor.band_solo, setter);
        toggle(ui, "Dim", &monitor.dim, setter).on_hover_text("−20 dB");
    });
    // The playback previews on their own row.
    ui.horizontal_wrapped(|ui| {
        ui.label(caption("Preview"));
        enum_combo(ui, "bar-platform", &monitor.platform, setter);
        ui.separator();
        ui.horizontal(|ui| {
            ui.label(caption("Translate")).on_hover_text(
                "Hear the master on a playback system (documented filter models, mono fold-down where the \
                 system has one speaker). Monitor only: never in a bounce.",
            );
            enum_combo(ui, "bar-translation", &monitor.translation, setter);
            ui.label(caption("Low level")).on_hover_text(
                "Equal-loudness correction (ISO 226:2023): hear the tonal balance as at this listening level, \
                 relative to an 83 phon monitoring level, without turning down. Monitor only.",
            );
            enum_combo(ui, "bar-low-level", &monitor.low_level, setter);
        });
    });
}
