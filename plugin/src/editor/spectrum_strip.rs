//! The output spectrum (L and R, averaged and smoothed by the analyser) on a log-frequency axis,
//! with the stereo readouts beside it: correlation (fast), width, balance and the low-end mono
//! warning.

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Shape, Stroke, Vec2};

use crate::meters::spectrum::{display_band_frequency_hz, SpectrumView, DISPLAY_BANDS};
use crate::meters::stereo::{CorrelationBand, Integration, StereoView};

/// Top of the spectrum scale in dB (a full-scale sine reads 0 dB).
const SPECTRUM_TOP_DB: f32 = 0.0;

/// Bottom of the spectrum scale in dB.
const SPECTRUM_BOTTOM_DB: f32 = -96.0;

/// Frequency grid lines in Hz.
const GRID_HZ: [f32; 10] = [20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 10e3, 20e3];

/// Horizontal position of `frequency_hz` on the 20 Hz – 20 kHz log axis inside `rect`.
fn frequency_x(rect: Rect, frequency_hz: f32) -> f32 {
    let t = (frequency_hz.max(20.0) / 20.0).log10() / 3.0;
    rect.left() + t.clamp(0.0, 1.0) * rect.width()
}

fn level_y(rect: Rect, level_db: f32) -> f32 {
    let t = ((level_db - SPECTRUM_BOTTOM_DB) / (SPECTRUM_TOP_DB - SPECTRUM_BOTTOM_DB)).clamp(0.0, 1.0);
    rect.bottom() - t * rect.height()
}

/// Draws the strip into the rest of the width at `height` points.
pub fn strip(ui: &mut egui::Ui, spectrum: Option<&mut SpectrumView>, stereo: &StereoView, height: f32) {
    ui.horizontal_top(|ui| {
        let width = (ui.available_width() - 190.0).max(200.0);
        let (rect, _) = ui.allocate_exact_size(Vec2::new(width, height), Sense::hover());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 4.0, Color32::from_gray(18));
        let font = FontId::monospace(10.0);
        for hz in GRID_HZ {
            let x = frequency_x(rect, hz);
            painter.line_segment(
                [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
                Stroke::new(1.0, Color32::from_gray(40)),
            );
            let label = if hz >= 1000.0 { format!("{}k", hz / 1000.0) } else { format!("{hz}") };
            painter.text(
                Pos2::new(x + 2.0, rect.bottom() - 2.0),
                Align2::LEFT_BOTTOM,
                label,
                font.clone(),
                Color32::from_gray(120),
            );
        }
        for db in [-24.0, -48.0, -72.0] {
            let y = level_y(rect, db);
            painter.line_segment(
                [Pos2::new(rect.left(), y), Pos2::new(rect.right(), y)],
                Stroke::new(1.0, Color32::from_gray(40)),
            );
            painter.text(
                Pos2::new(rect.left() + 2.0, y - 1.0),
                Align2::LEFT_BOTTOM,
                format!("{db:.0}"),
                font.clone(),
                Color32::from_gray(120),
            );
        }
        painter.text(
            rect.left_top() + Vec2::new(4.0, 2.0),
            Align2::LEFT_TOP,
            "OUTPUT SPECTRUM  L / R",
            font.clone(),
            Color32::from_gray(170),
        );
        if let Some(spectrum) = spectrum {
            let frame = spectrum.latest();
            if frame.sequence > 0 {
                for (trace, colour) in
                    [(0, Color32::from_rgb(110, 190, 255)), (1, Color32::from_rgb(255, 170, 90))]
                {
                    let points: Vec<Pos2> = (0..frame.valid_bands.min(DISPLAY_BANDS))
                        .map(|band| {
                            let level = frame.levels_db[trace][band];
                            Pos2::new(
                                frequency_x(rect, display_band_frequency_hz(band) as f32),
                                level_y(rect, level),
                            )
                        })
                        .collect();
                    painter.add(Shape::line(points, Stroke::new(1.5, colour)));
                }
            }
        }
        ui.add_space(10.0);
        stereo_readouts(ui, stereo);
    });
}

fn stereo_readouts(ui: &mut egui::Ui, stereo: &StereoView) {
    let value = |v: Option<f32>, digits: usize| {
        v.map_or("—".to_owned(), |v| format!("{v:+.digits$}").replace('-', "−"))
    };
    egui::Grid::new("stereo-readouts").num_columns(2).spacing([8.0, 4.0]).show(ui, |ui| {
        let small = |text: &str| egui::RichText::new(text).size(12.0).weak();
        let big = |text: String| egui::RichText::new(text).size(17.0).monospace();
        ui.label(small("Correlation"));
        ui.label(big(value(stereo.correlation(CorrelationBand::Full, Integration::Fast), 2)));
        ui.end_row();
        ui.label(small("Low < 150 Hz"));
        ui.label(big(value(stereo.correlation(CorrelationBand::Low, Integration::Slow), 2)));
        ui.end_row();
        ui.label(small("Width"));
        ui.label(big(stereo
            .width_percent(Integration::Slow)
            .map_or("—".to_owned(), |w| format!("{w:.0} %"))));
        ui.end_row();
        ui.label(small("Balance"));
        ui.label(big(value(stereo.balance_db(Integration::Slow), 1) + " dB"));
        ui.end_row();
    });
    if stereo.bass_out_of_phase() {
        ui.label(
            egui::RichText::new("BASS OUT OF PHASE")
                .strong()
                .color(Color32::WHITE)
                .background_color(Color32::from_rgb(190, 30, 30)),
        );
    }
}
