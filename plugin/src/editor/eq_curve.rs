//! The EQ's interactive response curve over the output spectrum: the summed response of the mid
//! path (what a centred source hears) and, when bands act on mid or side only, the side path;
//! one numbered node per band. Drag a node to move its frequency (and gain for bells, shelves
//! and tilt), scroll over it to change Q, double-click it to switch the band on or off. Every
//! change is a host gesture (begin on press, set while dragging, end on release), so hosts
//! record it as automation. The curve is the exact analogue target the filters are matched to
//! ([`EqSettings::response_db`]).

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Shape, Stroke, Vec2};
use nice_plug::prelude::*;

use super::spectrum_panel::draw_spectrum;
use super::widgets::{format_hz, DbAxis, FrequencyAxis, GRID_TEXT, PLOT_BACKGROUND};
use crate::dsp::eq::{EqPlacement, EqSettings, EQ_BANDS};
use crate::meters::spectrum::SpectrumFrame;
use crate::params::EqParams;

/// Range of the curve's dB axis (±), dB.
pub const CURVE_RANGE_DB: f32 = 18.0;

/// Radius of a band node, points.
const NODE_RADIUS: f32 = 9.0;

/// Points per evaluated curve point (horizontal resolution).
const CURVE_STEP: f32 = 3.0;

/// Q change per scrolled point (multiplicative: Q × 2^(scroll·this)).
const Q_PER_SCROLL_POINT: f32 = 1.0 / 120.0;

/// One colour per band.
pub const BAND_COLOURS: [Color32; EQ_BANDS] = [
    Color32::from_rgb(255, 110, 110),
    Color32::from_rgb(255, 180, 80),
    Color32::from_rgb(230, 230, 90),
    Color32::from_rgb(110, 220, 130),
    Color32::from_rgb(100, 190, 255),
    Color32::from_rgb(200, 140, 255),
];

/// The id of band `band`'s node.
pub fn node_id(band: usize) -> egui::Id {
    egui::Id::unique(("parity-eq-node", band))
}

/// Where band `band`'s node sits: (frequency, dB). Gain kinds sit at their gain; cuts at the
/// curve's value at their frequency.
pub fn node_position(settings: &EqSettings, band: usize, sample_rate_hz: f64) -> (f32, f32) {
    let b = settings.bands[band];
    let y = if b.kind.has_gain() {
        b.gain_db
    } else {
        settings.band_response_db(band, sample_rate_hz, f64::from(b.freq_hz)) as f32
    };
    (b.freq_hz, y)
}

/// Draws the curve and handles the nodes. `settings` are the current EQ settings (from the
/// parameters); `frame` the output spectrum drawn dimly behind.
pub fn show(
    ui: &mut egui::Ui,
    size: Vec2,
    params: &EqParams,
    setter: &ParamSetter,
    settings: &EqSettings,
    sample_rate_hz: f64,
    frame: &SpectrumFrame,
) {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, PLOT_BACKGROUND);
    // The spectrum fills the plot at its own scale, dimmed.
    draw_spectrum(&painter, rect, frame, [true, false], true);
    let axis = FrequencyAxis::audio(rect);
    let db = DbAxis { rect, top_db: CURVE_RANGE_DB, bottom_db: -CURVE_RANGE_DB };
    for value in [-12.0f32, -6.0, 0.0, 6.0, 12.0] {
        let y = db.y(value);
        painter.line_segment(
            [Pos2::new(rect.left(), y), Pos2::new(rect.right(), y)],
            Stroke::new(1.0, Color32::from_gray(50)),
        );
        painter.text(
            Pos2::new(rect.right() - 3.0, y - 1.0),
            Align2::RIGHT_BOTTOM,
            format!("{value:+.0}").replace('-', "−"),
            FontId::monospace(10.0),
            GRID_TEXT,
        );
    }
    let zero = db.y(0.0);
    painter.line_segment(
        [Pos2::new(rect.left(), zero), Pos2::new(rect.right(), zero)],
        Stroke::new(1.0, Color32::from_gray(90)),
    );

    // Which paths differ: with no mid/side bands both paths are the stereo curve.
    let split = settings.bands.iter().any(|b| b.enabled && b.placement != EqPlacement::Stereo);
    let bypassed = settings.bypass;
    // One point every CURVE_STEP points across the plot of `response_db(frequency)`.
    let sample = |response_db: &dyn Fn(f64) -> f64| -> Vec<Pos2> {
        let mut points = Vec::with_capacity((rect.width() / CURVE_STEP) as usize + 2);
        let mut x = rect.left();
        while x <= rect.right() + 0.5 {
            points.push(Pos2::new(x, db.y(response_db(f64::from(axis.freq_hz(x))) as f32)));
            x += CURVE_STEP;
        }
        points
    };
    let curve = |path: EqPlacement| sample(&|f| settings.response_db(sample_rate_hz, f, path));
    let main_colour = if bypassed { Color32::from_gray(120) } else { Color32::WHITE };
    if split {
        painter.add(Shape::line(curve(EqPlacement::Side), Stroke::new(1.5, Color32::from_rgb(255, 170, 90))));
        painter.text(
            rect.left_top() + Vec2::new(6.0, 18.0),
            Align2::LEFT_TOP,
            "side",
            FontId::proportional(11.0),
            Color32::from_rgb(255, 170, 90),
        );
        painter.text(
            rect.left_top() + Vec2::new(6.0, 4.0),
            Align2::LEFT_TOP,
            "mid",
            FontId::proportional(11.0),
            main_colour,
        );
    }
    painter.add(Shape::line(curve(EqPlacement::Mid), Stroke::new(2.5, main_colour)));
    if bypassed {
        painter.text(
            rect.center_top() + Vec2::new(0.0, 6.0),
            Align2::CENTER_TOP,
            "EQ OFF",
            FontId::proportional(14.0),
            Color32::from_gray(160),
        );
    }

    // Nodes: the dragged or hovered one draws its own band's curve and a label.
    let mut highlighted = None;
    for (band, band_params) in params.bands.iter().enumerate() {
        let (freq_hz, node_db) = node_position(settings, band, sample_rate_hz);
        let centre = Pos2::new(axis.x(freq_hz), db.y(node_db));
        // A stable id: tests find the node with `Context::read_response`.
        let id = node_id(band);
        let response = ui.interact(
            Rect::from_center_size(centre, Vec2::splat(2.0 * NODE_RADIUS + 4.0)),
            id,
            Sense::click_and_drag(),
        );
        let has_gain = settings.bands[band].kind.has_gain();
        if response.drag_started() {
            setter.begin_set_parameter(&band_params.freq_hz);
            if has_gain {
                setter.begin_set_parameter(&band_params.gain_db);
            }
        }
        if response.dragged() {
            if let Some(pointer) = response.interact_pointer_pos() {
                setter.set_parameter(&band_params.freq_hz, axis.freq_hz(pointer.x));
                if has_gain {
                    setter.set_parameter(
                        &band_params.gain_db,
                        db.db(pointer.y).clamp(-CURVE_RANGE_DB, CURVE_RANGE_DB),
                    );
                }
            }
        }
        if response.drag_stopped() {
            setter.end_set_parameter(&band_params.freq_hz);
            if has_gain {
                setter.end_set_parameter(&band_params.gain_db);
            }
        }
        if response.double_clicked() {
            super::widgets::set_bool(setter, &band_params.enabled, !band_params.enabled.value());
        }
        if response.hovered() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            if scroll != 0.0 {
                let q = band_params.q.value() * 2f32.powf(scroll * Q_PER_SCROLL_POINT);
                setter.begin_set_parameter(&band_params.q);
                setter.set_parameter(&band_params.q, q);
                setter.end_set_parameter(&band_params.q);
            }
        }
        if response.hovered() || response.dragged() {
            highlighted = Some((band, centre));
        }
        let enabled = settings.bands[band].enabled;
        let colour = BAND_COLOURS[band];
        if enabled {
            painter.circle_filled(centre, NODE_RADIUS, colour.gamma_multiply(0.85));
        } else {
            painter.circle_stroke(centre, NODE_RADIUS, Stroke::new(1.5, colour.gamma_multiply(0.5)));
        }
        painter.text(
            centre,
            Align2::CENTER_CENTER,
            format!("{}", band + 1),
            FontId::monospace(11.0),
            if enabled { Color32::BLACK } else { colour },
        );
    }
    if let Some((band, centre)) = highlighted {
        let b = settings.bands[band];
        let points = sample(&|f| settings.band_response_db(band, sample_rate_hz, f));
        painter.add(Shape::line(points, Stroke::new(1.5, BAND_COLOURS[band])));
        let band_params = &params.bands[band];
        let mut text = format!("{} {} · {}", band + 1, band_params.kind, format_hz(b.freq_hz));
        if b.kind.has_gain() {
            text.push_str(&format!(" · {:+.1} dB", b.gain_db).replace('-', "−"));
        }
        text.push_str(&format!(" · Q {:.2} · {}", b.q, band_params.placement));
        if !b.enabled {
            text.push_str(" · off (double-click)");
        }
        let anchor = if centre.x > rect.center().x { Align2::RIGHT_BOTTOM } else { Align2::LEFT_BOTTOM };
        let offset =
            if centre.x > rect.center().x { Vec2::new(-14.0, -12.0) } else { Vec2::new(14.0, -12.0) };
        painter.text(centre + offset, anchor, text, FontId::proportional(13.0), Color32::WHITE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::eq::{EqBandKind, EqBandSettings};

    #[test]
    fn nodes_sit_at_the_gain_of_gain_bands_and_on_the_curve_of_cuts() {
        let mut settings = EqSettings::default();
        settings.bands[2] = EqBandSettings {
            enabled: true,
            kind: EqBandKind::Bell,
            freq_hz: 800.0,
            gain_db: -4.5,
            ..settings.bands[2]
        };
        settings.bands[0] = EqBandSettings {
            enabled: true,
            kind: EqBandKind::LowCut,
            freq_hz: 40.0,
            slope_db_per_oct: 12,
            q: 0.707,
            ..settings.bands[0]
        };
        assert_eq!(node_position(&settings, 2, 48_000.0), (800.0, -4.5));
        let (freq, db) = node_position(&settings, 0, 48_000.0);
        assert_eq!(freq, 40.0);
        // A 12 dB/oct Butterworth high-pass is 3 dB down at its corner.
        assert!((db + 3.01).abs() < 0.05, "{db}");
    }
}
