//! The stereo page: a vectorscope (goniometer: mono is vertical, left-only leans left, out of
//! phase lies horizontal) of the output, correlation meters (fast and slow), per-band
//! correlation (low < 150 Hz, mid, high > 5 kHz) with the low-end mono warning, width and
//! balance.

use egui::{Align2, Color32, FontId, Mesh, Pos2, Rect, Sense, Stroke, Vec2};

use super::widgets::{caption, title, AMBER, GOOD, GRID, GRID_TEXT, PLOT_BACKGROUND, RED, TRACE_A};
use crate::meters::stereo::{
    CorrelationBand, Integration, StereoView, VectorscopeReader, VECTORSCOPE_POINT_RATE_HZ,
};

/// Points the scope keeps on screen (about 170 ms of points).
pub const SCOPE_POINTS: usize = 2_048;

/// Largest automatic gain of the scope, dB (a quiet mix is enlarged up to this much).
pub const MAX_SCOPE_GAIN_DB: f32 = 30.0;

/// The scope's state (GUI thread): the ring of recent points and the automatic gain.
#[derive(Debug)]
pub struct Vectorscope {
    /// Recent (left, right) points, the newest at `next - 1`.
    points: Vec<(f32, f32)>,
    /// Where the next point goes.
    next: usize,
    /// Points written since creation (saturating), to know how much of the ring is valid.
    written: usize,
    /// Scratch for reading the engine's ring.
    scratch: Vec<(f32, f32)>,
    /// Smoothed display gain (linear).
    gain: f32,
}

impl Default for Vectorscope {
    fn default() -> Self {
        Self {
            points: vec![(0.0, 0.0); SCOPE_POINTS],
            next: 0,
            written: 0,
            scratch: vec![(0.0, 0.0); 1024],
            gain: 1.0,
        }
    }
}

impl Vectorscope {
    /// Takes every point the engine published since the last frame.
    pub fn take(&mut self, reader: &mut VectorscopeReader) {
        loop {
            let count = reader.pop_into(&mut self.scratch);
            for &point in &self.scratch[..count] {
                self.points[self.next] = point;
                self.next = (self.next + 1) % SCOPE_POINTS;
                self.written = self.written.saturating_add(1);
            }
            if count < self.scratch.len() {
                break;
            }
        }
    }

    /// The display gain that puts the recent peak at 90 % of the radius (at most
    /// [`MAX_SCOPE_GAIN_DB`]; it rises slowly and falls at once).
    fn update_gain(&mut self) -> f32 {
        let valid = self.written.min(SCOPE_POINTS);
        let peak = self.points[..valid].iter().fold(0.0f32, |m, &(l, r)| m.max(l.abs()).max(r.abs()));
        let wanted =
            if peak > 1e-6 { (0.9 / peak).min(10f32.powf(MAX_SCOPE_GAIN_DB / 20.0)) } else { self.gain };
        self.gain = if wanted < self.gain { wanted } else { self.gain + 0.05 * (wanted - self.gain) };
        self.gain
    }

    /// Draws the scope into a square of `side` points.
    pub fn show(&mut self, ui: &mut egui::Ui, side: f32) {
        let (rect, _) = ui.allocate_exact_size(Vec2::splat(side), Sense::hover());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 4.0, PLOT_BACKGROUND);
        let centre = rect.center();
        let radius = side * 0.46;
        painter.circle_stroke(centre, radius, Stroke::new(1.0, GRID));
        for (angle, label) in [(90.0f32, "M"), (0.0, "+S"), (180.0, "−S"), (135.0, "L"), (45.0, "R")] {
            let direction = Vec2::angled(-angle.to_radians());
            painter.line_segment(
                [centre - direction * radius, centre + direction * radius],
                Stroke::new(1.0, GRID),
            );
            painter.text(
                centre + direction * (radius + 2.0),
                Align2::CENTER_CENTER,
                label,
                FontId::monospace(10.0),
                GRID_TEXT,
            );
        }
        let gain = self.update_gain();
        let valid = self.written.min(SCOPE_POINTS);
        let mut mesh = Mesh::default();
        let half = 0.9;
        for age in 0..valid {
            let index = (self.next + SCOPE_POINTS - 1 - age) % SCOPE_POINTS;
            let (left, right) = self.points[index];
            // Mid up, side across: x = (R − L)/√2, y = (L + R)/√2.
            let x = (right - left) * std::f32::consts::FRAC_1_SQRT_2 * gain;
            let y = (left + right) * std::f32::consts::FRAC_1_SQRT_2 * gain;
            let position = centre + Vec2::new(x.clamp(-1.0, 1.0), -y.clamp(-1.0, 1.0)) * radius;
            let alpha = (255.0 * (1.0 - age as f32 / valid as f32)).max(40.0) as u8;
            let colour = Color32::from_rgba_unmultiplied(TRACE_A.r(), TRACE_A.g(), TRACE_A.b(), alpha);
            mesh.add_colored_rect(Rect::from_center_size(position, Vec2::splat(2.0 * half)), colour);
        }
        painter.add(mesh);
        painter.text(
            rect.left_bottom() + Vec2::new(6.0, -4.0),
            Align2::LEFT_BOTTOM,
            format!(
                "auto gain +{:.0} dB · {:.0} points/s",
                20.0 * gain.max(1e-6).log10(),
                VECTORSCOPE_POINT_RATE_HZ
            ),
            FontId::monospace(10.0),
            GRID_TEXT,
        );
    }
}

/// Draws the page.
pub fn panel(ui: &mut egui::Ui, stereo: &StereoView, scope: &mut Vectorscope, scope_available: bool) {
    ui.horizontal_top(|ui| {
        let side = ui.available_height().min(ui.available_width() * 0.5).clamp(200.0, 560.0);
        ui.vertical(|ui| {
            ui.label(title("VECTORSCOPE"));
            if scope_available {
                scope.show(ui, side - 24.0);
            } else {
                ui.label(caption("The scope is shown in the first editor of this instance only."));
            }
        });
        ui.add_space(12.0);
        ui.vertical(|ui| {
            ui.label(title("CORRELATION"));
            let width = ui.available_width().min(460.0);
            for (integration, name) in
                [(Integration::Fast, "fast (300 ms)"), (Integration::Slow, "slow (3 s)")]
            {
                ui.label(caption(name));
                correlation_bar(ui, stereo.correlation(CorrelationBand::Full, integration), width, 26.0);
            }
            ui.add_space(10.0);
            ui.label(title("PER BAND"));
            for (band, name) in [
                (CorrelationBand::Low, "low < 150 Hz"),
                (CorrelationBand::Mid, "mid 150 Hz – 5 kHz"),
                (CorrelationBand::High, "high > 5 kHz"),
            ] {
                ui.label(caption(name));
                correlation_bar(ui, stereo.correlation(band, Integration::Slow), width, 18.0);
            }
            let low = stereo.correlation(CorrelationBand::Low, Integration::Slow);
            if stereo.bass_out_of_phase() {
                warning(ui, "LOW END OUT OF PHASE: the bass cancels in mono (phones, clubs, vinyl)", RED);
            } else if low.is_some_and(|c| c < 0.5) {
                warning(ui, "Low end is wide: check the bass in mono", AMBER);
            } else if low.is_some() {
                ui.label(egui::RichText::new("Low end mono-compatible").color(GOOD));
            }
            ui.add_space(10.0);
            ui.label(title("WIDTH · BALANCE"));
            egui::Grid::new("stereo-figures").num_columns(2).spacing([12.0, 4.0]).show(ui, |ui| {
                let big = |text: String| egui::RichText::new(text).size(20.0).monospace();
                ui.label(caption("Width"));
                ui.label(big(stereo
                    .width_percent(Integration::Slow)
                    .map_or("—".to_owned(), |w| format!("{w:.0} %"))))
                    .on_hover_text("side level relative to mid (0 % mono, 100 % side as loud as mid)");
                ui.end_row();
                ui.label(caption("Balance"));
                ui.label(big(stereo.balance_db(Integration::Slow).map_or("—".to_owned(), |b| {
                    if b.abs() < 0.05 {
                        "centre".to_owned()
                    } else if b > 0.0 {
                        format!("L +{b:.1} dB")
                    } else {
                        format!("R +{:.1} dB", -b)
                    }
                })));
                ui.end_row();
            });
        });
    });
}

/// A warning line on a coloured background.
fn warning(ui: &mut egui::Ui, text: &str, colour: Color32) {
    ui.label(egui::RichText::new(text).strong().color(Color32::BLACK).background_color(colour));
}

/// A correlation bar from −1 to +1: the negative half red, a needle at the value, the value as a
/// number; `None` (no signal) draws no needle.
pub fn correlation_bar(ui: &mut egui::Ui, value: Option<f32>, width: f32, height: f32) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, height), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 3.0, PLOT_BACKGROUND);
    let x = |c: f32| rect.left() + (c.clamp(-1.0, 1.0) + 1.0) * 0.5 * rect.width();
    painter.rect_filled(
        Rect::from_min_max(rect.min, Pos2::new(x(0.0), rect.bottom())),
        3.0,
        Color32::from_rgb(60, 22, 22),
    );
    for tick in [-1.0, -0.5, 0.0, 0.5, 1.0] {
        painter.line_segment(
            [Pos2::new(x(tick), rect.top()), Pos2::new(x(tick), rect.bottom())],
            Stroke::new(1.0, GRID),
        );
    }
    if let Some(c) = value.filter(|c| c.is_finite()) {
        let colour = if c < 0.0 {
            RED
        } else if c < 0.3 {
            AMBER
        } else {
            GOOD
        };
        let start = x(0.0);
        let end = x(c);
        painter.rect_filled(
            Rect::from_min_max(
                Pos2::new(start.min(end), rect.top() + 4.0),
                Pos2::new(start.max(end), rect.bottom() - 4.0),
            ),
            1.0,
            colour.gamma_multiply(0.6),
        );
        painter.line_segment(
            [Pos2::new(end, rect.top()), Pos2::new(end, rect.bottom())],
            Stroke::new(3.0, colour),
        );
    }
    let text =
        value.filter(|c| c.is_finite()).map_or("—".to_owned(), |c| format!("{c:+.2}").replace('-', "−"));
    painter.text(
        rect.right_center() - Vec2::new(6.0, 0.0),
        Align2::RIGHT_CENTER,
        text,
        FontId::monospace(height.min(18.0) - 2.0),
        Color32::WHITE,
    );
    painter.text(
        rect.left_center() + Vec2::new(4.0, 0.0),
        Align2::LEFT_CENTER,
        "−1",
        FontId::monospace(10.0),
        GRID_TEXT,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meters::stereo::point_ring;

    #[test]
    fn the_scope_keeps_the_newest_points_and_scales_a_quiet_signal_up_within_its_limit() {
        let (mut producer, mut reader) = point_ring(8192);
        let mut scope = Vectorscope::default();
        for i in 0..5000 {
            producer.push(i as f32 * 1e-5, 0.0);
        }
        scope.take(&mut reader);
        assert_eq!(scope.written, 5000);
        let newest = scope.points[(scope.next + SCOPE_POINTS - 1) % SCOPE_POINTS];
        assert!((newest.0 - 4999.0 * 1e-5).abs() < 1e-9);
        // Peak ≈ 0.05: the gain that puts it at 90 % is 18, reached gradually.
        let mut gain = 0.0;
        for _ in 0..400 {
            gain = scope.update_gain();
        }
        assert!((gain - 0.9 / 0.04999).abs() < 0.05, "{gain}");
        // A loud burst brings the gain down at once.
        producer.push(1.0, -1.0);
        scope.take(&mut reader);
        assert!((scope.update_gain() - 0.9).abs() < 1e-6);
        // Silence: never more than the limit.
        let mut quiet = Vectorscope::default();
        for _ in 0..2000 {
            producer.push(1e-9, 1e-9);
        }
        quiet.take(&mut reader);
        for _ in 0..2000 {
            gain = quiet.update_gain();
        }
        assert!(gain <= 10f32.powf(MAX_SCOPE_GAIN_DB / 20.0) * 1.0001, "{gain}");
    }
}
