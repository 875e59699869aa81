//! The spectrum page: the output spectrum (L/R or M/S) with averaging, smoothing and display tilt,
//! a loaded reference's long-term spectrum drawn over it, and an optional target band. Also the
//! spectrum drawing the EQ and multiband views put behind their curves.
//!
//! The live traces are the analyser's per-bin power (a full-scale sine reads 0 dB), averaged
//! over each display band's smoothing window. A reference's analysis gives power per 1/6-octave
//! band instead; a band's power grows with its bandwidth (∝ f), so it is turned into the same
//! per-bin shape by subtracting 10·log10(f / 1 kHz), given the display tilt, and shifted to the
//! same mean level as the live mid trace over 100 Hz – 10 kHz: the overlay compares shapes (tonal
//! balance), not levels. The target band is a straight line falling 4.5 dB per octave (the
//! customary "mix reference" slope; with the 4.5 dB/oct display tilt it reads flat), ±3 dB,
//! aligned the same way.

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Shape, Stroke, Vec2};

use super::widgets::{
    caption, DbAxis, FrequencyAxis, GRID_TEXT, PLOT_BACKGROUND, REFERENCE_TRACE, TRACE_A, TRACE_B,
};
use crate::editor_settings::{EditorSettings, SpectrumAveraging, SpectrumSmoothing, SpectrumTraces};
use crate::engine::{EngineView, SpectrumDisplay};
use crate::meters::spectrum::{
    display_band_frequency_hz, Averaging, ChannelMode, Smoothing, SpectrumFrame, DISPLAY_BANDS, TILT_PIVOT_HZ,
};
use crate::reference::{ReferenceBank, SlotStatus, REFERENCE_SLOTS};

/// Top of the spectrum scale, dB (a full-scale sine reads 0 dB).
pub const TOP_DB: f32 = 0.0;

/// Bottom of the spectrum scale, dB.
pub const BOTTOM_DB: f32 = -96.0;

/// Slope of the target band, dB per octave (before the display tilt).
pub const TARGET_SLOPE_DB_PER_OCTAVE: f32 = -4.5;

/// Half width of the target band, dB.
pub const TARGET_TOLERANCE_DB: f32 = 3.0;

/// Range over which overlays are aligned to the live trace, Hz.
pub const ALIGN_RANGE_HZ: (f32, f32) = (100.0, 10_000.0);

/// Centre frequency of the reference analysis's band `band`, Hz.
fn reference_band_hz(band: usize) -> f32 {
    (crate::reference::analysis::SPECTRUM_LOWEST_CENTRE_HZ
        * 2f64.powf(band as f64 / crate::reference::analysis::SPECTRUM_BANDS_PER_OCTAVE)) as f32
}

/// A reference's band powers turned into the live traces' shape (see the module docs) with the
/// display tilt: `(frequency, dB)` per band with power, before alignment.
pub fn reference_shape(spectrum_db: &[f32], tilt_db_per_octave: f32, out: &mut Vec<(f32, f32)>) {
    out.clear();
    for (band, &level) in spectrum_db.iter().enumerate() {
        if !level.is_finite() || level <= crate::reference::analysis::SPECTRUM_FLOOR_DB + 1.0 {
            continue;
        }
        let freq_hz = reference_band_hz(band);
        let octaves = (freq_hz / TILT_PIVOT_HZ as f32).log2();
        out.push((
            freq_hz,
            level - 10.0 * (freq_hz / TILT_PIVOT_HZ as f32).log10() + tilt_db_per_octave * octaves,
        ));
    }
}

/// The live mid level at `freq_hz` from a frame (power mean of the two traces in L/R mode, trace
/// 0 in M/S mode), or `None` where the frame has no valid band.
fn live_mid_db(frame: &SpectrumFrame, freq_hz: f32) -> Option<f32> {
    let position = (freq_hz as f64 / 20.0).ln() / (1000f64).ln() * (DISPLAY_BANDS - 1) as f64;
    let band = position.round().clamp(0.0, (DISPLAY_BANDS - 1) as f64) as usize;
    if band >= frame.valid_bands {
        return None;
    }
    let level = match frame.mode {
        ChannelMode::MidSide => frame.levels_db[0][band],
        ChannelMode::LeftRight => {
            let power = 0.5
                * (10f32.powf(frame.levels_db[0][band] / 10.0) + 10f32.powf(frame.levels_db[1][band] / 10.0));
            10.0 * power.max(1e-30).log10()
        }
    };
    (level.is_finite() && level > -190.0).then_some(level)
}

/// The offset that gives `curve` (frequency, dB) the same mean level as the live mid trace over
/// [`ALIGN_RANGE_HZ`] (`None` without overlap).
pub fn alignment_offset_db(frame: &SpectrumFrame, curve: &[(f32, f32)]) -> Option<f32> {
    let (mut sum, mut count) = (0.0, 0);
    for &(freq_hz, level) in curve {
        if !(ALIGN_RANGE_HZ.0..=ALIGN_RANGE_HZ.1).contains(&freq_hz) {
            continue;
        }
        if let Some(live) = live_mid_db(frame, freq_hz) {
            sum += live - level;
            count += 1;
        }
    }
    (count > 0).then(|| sum / count as f32)
}

/// The target line at `freq_hz` before alignment, with the display tilt.
pub fn target_db(freq_hz: f32, tilt_db_per_octave: f32) -> f32 {
    (TARGET_SLOPE_DB_PER_OCTAVE + tilt_db_per_octave) * (freq_hz / TILT_PIVOT_HZ as f32).log2()
}

/// Draws the frame's traces (`traces`: which of the two) into `rect` with the grids.
///
/// `dim`: drawn faintly behind another curve (EQ, crossovers), without the dB grid.
pub fn draw_spectrum(
    painter: &egui::Painter,
    rect: Rect,
    frame: &SpectrumFrame,
    traces: [bool; 2],
    dim: bool,
) {
    let axis = FrequencyAxis::audio(rect);
    let db = DbAxis { rect, top_db: TOP_DB, bottom_db: BOTTOM_DB };
    axis.draw_grid(painter);
    if !dim {
        db.draw_grid(painter, &[-12.0, -24.0, -36.0, -48.0, -60.0, -72.0, -84.0], "");
    }
    if frame.sequence == 0 {
        return;
    }
    let colours = [TRACE_A, TRACE_B];
    for trace in 0..2 {
        if !traces[trace] {
            continue;
        }
        let colour = if dim { colours[trace].gamma_multiply(0.45) } else { colours[trace] };
        let points: Vec<Pos2> = (0..frame.valid_bands.min(DISPLAY_BANDS))
            .map(|band| {
                Pos2::new(axis.x(display_band_frequency_hz(band) as f32), db.y(frame.levels_db[trace][band]))
            })
            .collect();
        if dim {
            painter.add(Shape::line(points, Stroke::new(1.0, colour)));
        } else {
            // A light fill under trace 0 makes the shape readable from a distance.
            if trace == 0 {
                for window in points.windows(2) {
                    let [a, b] = [window[0], window[1]];
                    painter.add(Shape::convex_polygon(
                        vec![a, b, Pos2::new(b.x, rect.bottom()), Pos2::new(a.x, rect.bottom())],
                        colour.gamma_multiply(0.08),
                        Stroke::NONE,
                    ));
                }
            }
            painter.add(Shape::line(points, Stroke::new(1.5, colour)));
        }
    }
}

/// State of the spectrum page (GUI thread).
#[derive(Debug, Default)]
pub struct SpectrumPage {
    /// Reused buffer for overlay curves.
    curve: Vec<(f32, f32)>,
}

impl SpectrumPage {
    /// Draws the page.
    pub fn panel(
        &mut self,
        ui: &mut egui::Ui,
        frame: &SpectrumFrame,
        settings: &mut EditorSettings,
        bank: &ReferenceBank,
    ) {
        controls(ui, settings, bank);
        let size = Vec2::new(ui.available_width(), ui.available_height().max(120.0));
        let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 4.0, PLOT_BACKGROUND);
        draw_spectrum(&painter, rect, frame, [true, true], false);
        let axis = FrequencyAxis::audio(rect);
        let db = DbAxis { rect, top_db: TOP_DB, bottom_db: BOTTOM_DB };
        let tilt = frame.tilt_db_per_octave;

        if settings.spectrum_show_target && frame.sequence > 0 {
            self.curve.clear();
            let mut freq_hz = 20.0f32;
            while freq_hz <= 20_000.0 {
                self.curve.push((freq_hz, target_db(freq_hz, tilt)));
                freq_hz *= 2f32.powf(1.0 / 12.0);
            }
            if let Some(offset) = alignment_offset_db(frame, &self.curve) {
                let band: Vec<Pos2> = self
                    .curve
                    .iter()
                    .map(|&(f, l)| Pos2::new(axis.x(f), db.y(l + offset + TARGET_TOLERANCE_DB)))
                    .chain(
                        self.curve
                            .iter()
                            .rev()
                            .map(|&(f, l)| Pos2::new(axis.x(f), db.y(l + offset - TARGET_TOLERANCE_DB))),
                    )
                    .collect();
                for window in 0..self.curve.len().saturating_sub(1) {
                    let n = self.curve.len();
                    let quad = vec![
                        band[window],
                        band[window + 1],
                        band[2 * n - 2 - window],
                        band[2 * n - 1 - window],
                    ];
                    painter.add(Shape::convex_polygon(
                        quad,
                        Color32::from_rgba_unmultiplied(80, 200, 120, 28),
                        Stroke::NONE,
                    ));
                }
                painter.text(
                    rect.left_top() + Vec2::new(6.0, 22.0),
                    Align2::LEFT_TOP,
                    "target band: −4.5 dB/oct ±3 dB",
                    FontId::proportional(11.0),
                    Color32::from_rgb(90, 200, 130),
                );
            }
        }

        let reference = settings.spectrum_reference_slot.and_then(|slot| {
            let info = bank.slot(slot)?;
            let summary = info.settings.summary.clone()?;
            Some((slot, summary.spectrum_db))
        });
        if let Some((slot, spectrum_db)) = reference.filter(|_| frame.sequence > 0) {
            reference_shape(&spectrum_db, tilt, &mut self.curve);
            if let Some(offset) = alignment_offset_db(frame, &self.curve) {
                let points: Vec<Pos2> =
                    self.curve.iter().map(|&(f, l)| Pos2::new(axis.x(f), db.y(l + offset))).collect();
                painter.add(Shape::line(points, Stroke::new(2.0, REFERENCE_TRACE)));
                painter.text(
                    rect.left_top() + Vec2::new(6.0, 38.0),
                    Align2::LEFT_TOP,
                    format!("Ref {} (long-term, level-aligned)", slot + 1),
                    FontId::proportional(11.0),
                    REFERENCE_TRACE,
                );
            }
        }

        let names = match frame.mode {
            ChannelMode::LeftRight => ["L", "R"],
            ChannelMode::MidSide => ["M", "S"],
        };
        painter.text(
            rect.left_top() + Vec2::new(6.0, 4.0),
            Align2::LEFT_TOP,
            names[0],
            FontId::monospace(12.0),
            TRACE_A,
        );
        painter.text(
            rect.left_top() + Vec2::new(22.0, 4.0),
            Align2::LEFT_TOP,
            names[1],
            FontId::monospace(12.0),
            TRACE_B,
        );
        if let Some(pointer) = response.hover_pos() {
            let freq_hz = axis.freq_hz(pointer.x);
            let level = db.db(pointer.y);
            painter.line_segment(
                [Pos2::new(pointer.x, rect.top()), Pos2::new(pointer.x, rect.bottom())],
                Stroke::new(1.0, Color32::from_gray(90)),
            );
            painter.text(
                pointer + Vec2::new(8.0, -8.0),
                Align2::LEFT_BOTTOM,
                format!("{} · {:.1} dB", super::widgets::format_hz(freq_hz), level).replace('-', "−"),
                FontId::monospace(11.0),
                Color32::WHITE,
            );
        }
        painter.text(
            rect.right_top() + Vec2::new(-6.0, 4.0),
            Align2::RIGHT_TOP,
            format!("FFT {} · {} averaged", frame.fft_size, frame.frames_averaged),
            FontId::monospace(10.0),
            GRID_TEXT,
        );
    }
}

/// The page's controls.
fn controls(ui: &mut egui::Ui, settings: &mut EditorSettings, bank: &ReferenceBank) {
    ui.horizontal_wrapped(|ui| {
        ui.label(caption("Traces"));
        ui.selectable_value(&mut settings.spectrum_traces, SpectrumTraces::LeftRight, "L / R");
        ui.selectable_value(&mut settings.spectrum_traces, SpectrumTraces::MidSide, "M / S");
        ui.separator();
        ui.label(caption("Average"));
        for (value, name) in [
            (SpectrumAveraging::Fast, "Fast"),
            (SpectrumAveraging::Slow, "Slow"),
            (SpectrumAveraging::Infinite, "Infinite"),
        ] {
            ui.selectable_value(&mut settings.spectrum_averaging, value, name);
        }
        ui.separator();
        ui.label(caption("Smoothing"));
        for (value, name) in [
            (SpectrumSmoothing::None, "off"),
            (SpectrumSmoothing::Third, "1/3"),
            (SpectrumSmoothing::Sixth, "1/6"),
            (SpectrumSmoothing::Twelfth, "1/12"),
            (SpectrumSmoothing::TwentyFourth, "1/24"),
        ] {
            ui.selectable_value(&mut settings.spectrum_smoothing, value, name);
        }
        ui.separator();
        ui.label(caption("Tilt"));
        for (value, name) in [(0.0, "0"), (3.0, "3 dB/oct"), (4.5, "4.5 dB/oct")] {
            if ui.selectable_label(settings.spectrum_tilt_db_per_octave == value, name).clicked() {
                settings.spectrum_tilt_db_per_octave = value;
            }
        }
        ui.separator();
        ui.checkbox(&mut settings.spectrum_show_target, "Target band");
        let selected =
            settings.spectrum_reference_slot.map_or("no reference".to_owned(), |s| format!("Ref {}", s + 1));
        egui::ComboBox::from_id_salt("spectrum-reference").selected_text(selected).show_ui(ui, |ui| {
            ui.selectable_value(&mut settings.spectrum_reference_slot, None, "no reference");
            for slot in 0..REFERENCE_SLOTS {
                let Some(info) = bank.slot(slot) else { continue };
                if info.status == SlotStatus::Ready {
                    let name = super::references_panel::file_name(&info.settings.path);
                    ui.selectable_value(
                        &mut settings.spectrum_reference_slot,
                        Some(slot),
                        format!("Ref {}: {name}", slot + 1),
                    );
                }
            }
        });
    });
}

/// Tells the analyser (through the engine's view) what the page shows.
pub fn publish_display(view: &EngineView, settings: &EditorSettings) {
    let display = SpectrumDisplay {
        mode: match settings.spectrum_traces {
            SpectrumTraces::LeftRight => ChannelMode::LeftRight,
            SpectrumTraces::MidSide => ChannelMode::MidSide,
        },
        averaging: match settings.spectrum_averaging {
            SpectrumAveraging::Fast => Averaging::Fast,
            SpectrumAveraging::Slow => Averaging::Slow,
            SpectrumAveraging::Infinite => Averaging::Infinite,
        },
        smoothing: match settings.spectrum_smoothing {
            SpectrumSmoothing::None => Smoothing::None,
            SpectrumSmoothing::Third => Smoothing::Third,
            SpectrumSmoothing::Sixth => Smoothing::Sixth,
            SpectrumSmoothing::Twelfth => Smoothing::Twelfth,
            SpectrumSmoothing::TwentyFourth => Smoothing::TwentyFourth,
        },
    };
    view.spectrum_display.store(display.pack(), std::sync::atomic::Ordering::Relaxed);
    view.spectrum_tilt_db_per_octave
        .store(settings.spectrum_tilt_db_per_octave, std::sync::atomic::Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame whose mid trace is `level(f)` in M/S mode.
    fn frame_with(level: impl Fn(f32) -> f32, tilt: f32) -> SpectrumFrame {
        let mut frame = SpectrumFrame::empty();
        frame.mode = ChannelMode::MidSide;
        frame.valid_bands = DISPLAY_BANDS;
        frame.sequence = 1;
        frame.tilt_db_per_octave = tilt;
        for band in 0..DISPLAY_BANDS {
            frame.levels_db[0][band] = level(display_band_frequency_hz(band) as f32);
        }
        frame
    }

    #[test]
    fn a_references_band_powers_overlay_the_live_trace_of_the_same_signal() {
        // Pink noise: equal power per octave band (flat band powers), per-bin power falling
        // 3 dB/oct. Its overlay must lie on the live pink trace once aligned, at every tilt.
        for tilt in [0.0, 3.0103, 4.5] {
            let live =
                frame_with(|f| -40.0 - 3.0103 * (f / 1000.0).log2() + tilt * (f / 1000.0).log2(), tilt);
            let bands = [-20.0f32; crate::reference::analysis::SPECTRUM_BANDS];
            let mut curve = Vec::new();
            reference_shape(&bands, tilt, &mut curve);
            let offset = alignment_offset_db(&live, &curve).unwrap();
            for &(f, l) in curve.iter().filter(|(f, _)| (50.0..15_000.0).contains(f)) {
                let expected = -40.0 + (tilt - 3.0103) * (f / 1000.0).log2();
                assert!(
                    (l + offset - expected).abs() < 0.1,
                    "tilt {tilt}: {f} Hz {} vs {expected}",
                    l + offset
                );
            }
        }
    }

    #[test]
    fn the_target_band_is_flat_with_the_matching_tilt_and_aligns_to_the_mean() {
        assert!(target_db(100.0, 4.5).abs() < 1e-5 && target_db(10_000.0, 4.5).abs() < 1e-5);
        assert!((target_db(2_000.0, 0.0) + 4.5).abs() < 1e-5);
        let live = frame_with(|_| -30.0, 0.0);
        let curve: Vec<(f32, f32)> =
            [100.0, 1000.0, 10_000.0].iter().map(|&f| (f, target_db(f, 4.5))).collect();
        assert!((alignment_offset_db(&live, &curve).unwrap() + 30.0).abs() < 1e-4);
        // No overlap, no offset.
        assert_eq!(alignment_offset_db(&live, &[(50.0, 0.0)]), None);
    }

    #[test]
    fn display_choices_reach_the_engine_view() {
        let view = EngineView::default();
        let settings = EditorSettings {
            spectrum_traces: SpectrumTraces::MidSide,
            spectrum_averaging: SpectrumAveraging::Infinite,
            spectrum_smoothing: SpectrumSmoothing::Twelfth,
            spectrum_tilt_db_per_octave: 4.5,
            ..EditorSettings::default()
        };
        publish_display(&view, &settings);
        let display =
            SpectrumDisplay::unpack(view.spectrum_display.load(std::sync::atomic::Ordering::Relaxed));
        assert_eq!(
            display,
            SpectrumDisplay {
                mode: ChannelMode::MidSide,
                averaging: Averaging::Infinite,
                smoothing: Smoothing::Twelfth
            }
        );
        assert_eq!(view.spectrum_tilt_db_per_octave.load(std::sync::atomic::Ordering::Relaxed), 4.5);
    }
}
