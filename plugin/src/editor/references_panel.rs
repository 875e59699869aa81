//! The references page: the 16 slots (one-click A/B, load state, per-slot loudness figures and
//! level-match offset), the selected slot's details (path entry, reload, clear, trim, loop
//! points, source format), sync or free-running playback, and a file browser drawn in egui (no
//! system dialog: it works the same under every host). Slots change through the
//! [`ReferenceBank`]'s commands (the work runs on its loader thread); what is heard through the
//! monitor source parameter (a host gesture).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use egui::{Color32, RichText, Vec2};
use nice_plug::prelude::*;

use super::file_browser::FileBrowser;
use super::widgets::{caption, format_dbtp, format_lu, set_int, signed_db, title, toggle, ACCENT, RED};
use crate::editor_settings::{EditorSettings, MAX_RECENT_FILES};
use crate::monitor::{MonitorSource, MonitorView};
use crate::params::ParityParams;
use crate::reference::{ReferenceBank, SlotInfo, SlotStatus, REFERENCE_SLOTS, SLOT_GAIN_RANGE_DB};

/// The file name of a path ("" for none).
pub fn file_name(path: &str) -> String {
    Path::new(path).file_name().map_or_else(|| path.to_owned(), |name| name.to_string_lossy().into_owned())
}

/// The references page's GUI state.
#[derive(Default)]
pub struct ReferencesPage {
    /// The slot whose details are shown and which receives the browser's file.
    selected: usize,
    /// Text of the selected slot's path field.
    path_entry: String,
    /// Which slot the path field was filled from.
    entry_slot: Option<usize>,
    /// The file browser (created when the page is first shown).
    browser: Option<FileBrowser>,
}

impl ReferencesPage {
    /// Draws the page.
    pub fn panel(
        &mut self,
        ui: &mut egui::Ui,
        params: &ParityParams,
        setter: &ParamSetter,
        monitor: &MonitorView,
        settings: &mut EditorSettings,
    ) {
        let bank = &params.references;
        ui.horizontal(|ui| {
            ui.label(title("REFERENCES"));
            toggle(ui, "Sync to song position", &params.monitor.reference_sync, setter).on_hover_text(
                "On: a reference plays at the host's song position (its loop start at bar 1). Off: it loops freely between its loop points.",
            );
            ui.label(caption("Level match"));
            super::widgets::enum_combo(ui, "ref-level-match", &params.monitor.level_match, setter);
        });
        ui.add_space(4.0);
        let browser_width = (ui.available_width() * 0.42).clamp(300.0, 520.0);
        ui.horizontal_top(|ui| {
            let list_width = (ui.available_width() - browser_width - 12.0).max(160.0);
            let column = egui::Layout::top_down(egui::Align::Min);
            ui.allocate_ui_with_layout(Vec2::new(list_width, ui.available_height()), column, |ui| {
                ui.set_width(list_width);
                self.slot_list(ui, params, setter, bank, monitor);
                ui.separator();
                self.slot_details(ui, bank, settings);
            });
            ui.separator();
            ui.allocate_ui_with_layout(Vec2::new(browser_width, ui.available_height()), column, |ui| {
                ui.set_width(browser_width);
                ui.label(title(format!("BROWSE · LOADS INTO SLOT {}", self.selected + 1)));
                let browser = self.browser.get_or_insert_with(|| {
                    let mut browser = FileBrowser::new(settings.browser_dir.clone());
                    browser.set_recent(settings.recent_files.clone());
                    browser
                });
                let picked = browser.show(ui);
                settings.browser_dir = Some(browser.current_dir().to_path_buf());
                settings.recent_files = browser.recent().iter().take(MAX_RECENT_FILES).cloned().collect();
                if let Some(path) = picked {
                    self.load(bank, self.selected, &path, settings);
                }
            });
        });
    }

    /// Loads `path` into `slot`, then selects the next empty slot.
    fn load(&mut self, bank: &ReferenceBank, slot: usize, path: &Path, settings: &mut EditorSettings) {
        bank.load(slot, path);
        self.entry_slot = None;
        settings.recent_files.retain(|p| p != path);
        settings.recent_files.insert(0, path.to_path_buf());
        settings.recent_files.truncate(MAX_RECENT_FILES);
        if let Some(next) = (0..REFERENCE_SLOTS)
            .map(|offset| (slot + 1 + offset) % REFERENCE_SLOTS)
            .find(|&s| bank.slot(s).is_some_and(|info| info.settings.path.is_empty()))
        {
            self.selected = next;
        }
    }

    /// One line per slot: number, A/B button, name, figures.
    fn slot_list(
        &mut self,
        ui: &mut egui::Ui,
        params: &ParityParams,
        setter: &ParamSetter,
        bank: &ReferenceBank,
        monitor: &MonitorView,
    ) {
        let heard = params.monitor.source.value();
        let height = (ui.available_height() - 190.0).max(120.0);
        egui::ScrollArea::vertical().id_salt("slots").max_height(height).auto_shrink([false, true]).show(
            ui,
            |ui| {
                egui::Grid::new("slot-list").num_columns(4).striped(true).spacing([8.0, 3.0]).show(
                    ui,
                    |ui| {
                        for slot in 0..REFERENCE_SLOTS {
                            let Some(info) = bank.slot(slot) else { continue };
                            let source_value = MonitorSource::Reference(slot).index() as i32;
                            let ready = info.status == SlotStatus::Ready;
                            if ui
                                .selectable_label(
                                    self.selected == slot,
                                    RichText::new(format!("{:>2}", slot + 1)).monospace(),
                                )
                                .clicked()
                            {
                                self.selected = slot;
                            }
                            // One-click A/B: hear this reference; click again to go back to the mix.
                            let hearing = heard == source_value;
                            let ab = egui::Button::new(
                                RichText::new(if hearing { "back" } else { "hear" }).size(12.0),
                            )
                            .selected(hearing);
                            let response = ui.add_enabled(ready, ab).on_hover_text(
                                "A/B: hear this reference level-matched; click again for the processed mix",
                            );
                            if response.clicked() {
                                set_int(
                                    setter,
                                    &params.monitor.source,
                                    if hearing { 0 } else { source_value },
                                );
                                self.selected = slot;
                            }
                            let name = if info.settings.path.is_empty() {
                                RichText::new("empty").weak()
                            } else {
                                RichText::new(file_name(&info.settings.path))
                            };
                            if ui.add(egui::Label::new(name).truncate().sense(egui::Sense::click())).clicked()
                            {
                                self.selected = slot;
                            }
                            ui.label(status_text(&info, bank.is_playing_latest(slot), monitor, slot));
                            ui.end_row();
                        }
                    },
                );
            },
        );
    }

    /// The selected slot's path entry, commands, trim, loop points and source.
    fn slot_details(&mut self, ui: &mut egui::Ui, bank: &ReferenceBank, settings: &mut EditorSettings) {
        let slot = self.selected;
        let Some(info) = bank.slot(slot) else { return };
        if self.entry_slot != Some(slot) {
            self.path_entry.clone_from(&info.settings.path);
            self.entry_slot = Some(slot);
        }
        ui.label(title(format!("SLOT {}", slot + 1)));
        ui.horizontal(|ui| {
            let response = ui.add_sized(
                [(ui.available_width() - 170.0).max(80.0), 22.0],
                egui::TextEdit::singleline(&mut self.path_entry)
                    .hint_text("path to a WAV, AIFF, FLAC, MP3, M4A or OGG file"),
            );
            let submitted = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Load").clicked() || submitted) && !self.path_entry.trim().is_empty() {
                let path = PathBuf::from(self.path_entry.trim());
                self.load(bank, slot, &path, settings);
            }
            if !info.settings.path.is_empty() {
                if ui.button("Reload").clicked() {
                    bank.reload(slot);
                }
                if ui.button("Clear").clicked() {
                    bank.clear(slot);
                    self.path_entry.clear();
                }
            }
        });
        let loaded = !info.settings.path.is_empty();
        ui.horizontal(|ui| {
            let mut gain = info.settings.gain_db;
            let trim = egui::DragValue::new(&mut gain)
                .range(-SLOT_GAIN_RANGE_DB..=SLOT_GAIN_RANGE_DB)
                .speed(0.1)
                .fixed_decimals(1)
                .prefix("trim ")
                .suffix(" dB");
            if ui.add_enabled(loaded, trim).on_hover_text("Trim after level matching").changed() {
                bank.set_gain_db(slot, gain);
            }
            // Loop points (free-running playback; in sync mode the loop start plays at song
            // position 0). An end of 0 means the end of the file.
            let duration = info.source.as_ref().map_or(0.0, |source| source.duration_s);
            let (mut start, mut end) = (info.settings.loop_start_s, info.settings.loop_end_s);
            let start_changed = ui
                .add_enabled(
                    loaded,
                    egui::DragValue::new(&mut start)
                        .range(0.0..=duration)
                        .speed(0.05)
                        .fixed_decimals(2)
                        .prefix("loop ")
                        .suffix(" s"),
                )
                .on_hover_text("Loop start (sync: plays at song position 0)")
                .changed();
            let end_changed = ui
                .add_enabled(
                    loaded,
                    egui::DragValue::new(&mut end)
                        .range(0.0..=duration)
                        .speed(0.05)
                        .fixed_decimals(2)
                        .prefix("to ")
                        .suffix(" s"),
                )
                .on_hover_text("Loop end (0 = end of file)")
                .changed();
            if start_changed || end_changed {
                bank.set_loop_s(slot, start, end);
            }
        });
        match (&info.status, &info.source) {
            (SlotStatus::Failed(error), _) => {
                ui.label(RichText::new(error.to_string()).color(RED));
            }
            (_, Some(source)) => {
                let bits = source.bits_per_sample.map_or(String::new(), |b| format!(" · {b}-bit"));
                ui.label(caption(format!(
                    "{} · {} Hz{bits} · {} ch · {:.1} s",
                    source.codec, source.sample_rate_hz, source.channels, source.duration_s
                )));
            }
            _ => {}
        }
        if let Some(summary) = &info.settings.summary {
            ui.label(caption(format!(
                "integrated {} LUFS · LRA {} LU · max S {} LUFS · true peak {} dBTP · width {}",
                format_lu(summary.integrated_lufs),
                format_lu(summary.loudness_range_lu),
                format_lu(summary.max_short_term_lufs),
                format_dbtp(summary.true_peak_dbtp),
                summary.width_percent.map_or("—".to_owned(), |w| format!("{w:.0} %")),
            )));
        }
    }
}

/// A slot's state in a few words: empty, loading, its figures and match offset, or the error.
fn status_text(info: &SlotInfo, playing: bool, monitor: &MonitorView, slot: usize) -> RichText {
    match &info.status {
        SlotStatus::Empty => RichText::new(""),
        SlotStatus::Loading => RichText::new("loading…").color(Color32::LIGHT_BLUE),
        SlotStatus::Ready if !playing => RichText::new("handing over…").color(Color32::LIGHT_BLUE),
        SlotStatus::Ready => {
            let summary = info.settings.summary.clone().unwrap_or_default();
            let offset = monitor.match_db[MonitorSource::Reference(slot).index()].load(Ordering::Relaxed);
            RichText::new(format!(
                "{} LUFS · {} dBTP · match {}",
                format_lu(summary.integrated_lufs),
                format_dbtp(summary.true_peak_dbtp),
                signed_db(offset),
            ))
            .monospace()
            .size(12.0)
            .color(ACCENT)
        }
        SlotStatus::Failed(error) => {
            let text = error.to_string();
            let short: String = text.chars().take(48).collect();
            RichText::new(if short.len() < text.len() { format!("{short}…") } else { short }).color(RED)
        }
    }
}
