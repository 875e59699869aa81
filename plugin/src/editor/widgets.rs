//! What every panel shares: the console's colours, number formats (−∞, one decimal for LU, two
//! for dBTP, a real minus sign), parameter gestures (every change is a begin/set/end gesture so
//! hosts record automation), and the log-frequency and dB axes of the plots.

use egui::{Align2, Color32, FontId, Painter, Pos2, Rect, Response, RichText, Stroke};
use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;

use crate::peak_meter::SILENCE_DBFS;

/// Titles and the brand colour.
pub const ACCENT: Color32 = Color32::from_rgb(120, 200, 255);
/// Healthy readings, the target line.
pub const GOOD: Color32 = Color32::from_rgb(80, 200, 120);
/// Readings near a limit.
pub const AMBER: Color32 = Color32::from_rgb(235, 185, 60);
/// Overs, errors, readings past a limit.
pub const RED: Color32 = Color32::from_rgb(235, 70, 60);
/// "What you hear is not the chain output".
pub const DIFFERS: Color32 = Color32::from_rgb(230, 140, 20);
/// Gain-reduction traces and bars.
pub const REDUCTION: Color32 = Color32::from_rgb(250, 120, 90);
/// Background of plots and meters.
pub const PLOT_BACKGROUND: Color32 = Color32::from_gray(18);
/// Grid lines.
pub const GRID: Color32 = Color32::from_gray(42);
/// Grid labels.
pub const GRID_TEXT: Color32 = Color32::from_gray(125);
/// Trace 0 of a pair (left, mid, momentary).
pub const TRACE_A: Color32 = Color32::from_rgb(110, 190, 255);
/// Trace 1 of a pair (right, side).
pub const TRACE_B: Color32 = Color32::from_rgb(255, 170, 90);
/// The input's traces.
pub const INPUT_TRACE: Color32 = Color32::from_rgb(170, 170, 185);
/// Reference overlays.
pub const REFERENCE_TRACE: Color32 = Color32::from_rgb(200, 130, 255);

/// True when a true peak reads above a ceiling at the two decimals it is shown with (the
/// delivery check's rule).
pub use crate::delivery::checks::above_ceiling;

/// Remembers where control `name` was drawn this frame (egui's temporary memory), so the
/// headless tests can click it.
pub fn probe(ctx: &egui::Context, name: &str, rect: Rect) {
    ctx.data_mut(|data| data.insert_temp(egui::Id::unique(("parity-probe", name)), rect));
}

/// Where control `name` was drawn in the last frame.
pub fn probed(ctx: &egui::Context, name: &str) -> Option<Rect> {
    ctx.data(|data| data.get_temp(egui::Id::unique(("parity-probe", name))))
}

/// A label in the small, dim style used for captions.
pub fn caption(text: impl Into<String>) -> RichText {
    RichText::new(text).size(12.0).color(Color32::from_gray(150))
}

/// A section title.
pub fn title(text: impl Into<String>) -> RichText {
    RichText::new(text).size(14.0).strong().color(ACCENT)
}

/// Replaces ASCII hyphen-minus signs by the typographic minus.
fn minus(text: String) -> String {
    text.replace('-', "−")
}

/// A level in dBFS with one decimal and its sign, "−∞" for silence.
pub fn format_dbfs(level_dbfs: f32) -> String {
    if !level_dbfs.is_finite() || level_dbfs <= SILENCE_DBFS + 1.0 {
        "−∞".to_owned()
    } else {
        minus(format!("{level_dbfs:+.1}"))
    }
}

/// A loudness (LUFS) or loudness difference (LU): one decimal, "−∞" for silence, "—" while
/// there is no value yet.
pub fn format_lu(value: Option<f32>) -> String {
    match value {
        None => "—".to_owned(),
        Some(v) if v == f32::NEG_INFINITY => "−∞".to_owned(),
        Some(v) if !v.is_finite() => "—".to_owned(),
        Some(v) => minus(format!("{v:.1}")),
    }
}

/// A true peak in dBTP: two decimals with the sign, "−∞" for silence, "—" before any audio.
pub fn format_dbtp(value: Option<f32>) -> String {
    match value {
        None => "—".to_owned(),
        Some(v) if v == f32::NEG_INFINITY || v <= SILENCE_DBFS => "−∞".to_owned(),
        Some(v) if !v.is_finite() => "—".to_owned(),
        Some(v) => minus(format!("{v:+.2}")),
    }
}

/// A position since the last reset as `m:ss.s`, "—" when there is none.
pub fn format_position(seconds: Option<f64>) -> String {
    match seconds {
        Some(s) if s.is_finite() && s >= 0.0 => {
            let minutes = (s / 60.0).floor();
            format!("{}:{:04.1}", minutes as u64, s - minutes * 60.0)
        }
        _ => "—".to_owned(),
    }
}

/// A gain in dB with its sign and one decimal ("+1.5 dB", "−3.0 dB", "0.0 dB"; "–" if unknown).
pub fn signed_db(value_db: f32) -> String {
    if !value_db.is_finite() {
        return "–".into();
    }
    let rounded = (value_db * 10.0).round() / 10.0;
    if rounded > 0.0 {
        format!("+{rounded:.1} dB")
    } else if rounded < 0.0 {
        format!("−{:.1} dB", -rounded)
    } else {
        "0.0 dB".into()
    }
}

/// A gain reduction (positive = reduction) as "−x.x dB", or "0.0 dB" below 0.05 dB.
pub fn format_reduction(reduction_db: f32) -> String {
    if reduction_db.is_finite() && reduction_db >= 0.05 {
        format!("−{reduction_db:.1} dB")
    } else {
        "0.0 dB".to_owned()
    }
}

/// A frequency: "950 Hz", "1.20 kHz", "12.5 kHz".
pub fn format_hz(freq_hz: f32) -> String {
    if freq_hz >= 10_000.0 {
        format!("{:.1} kHz", freq_hz / 1000.0)
    } else if freq_hz >= 1_000.0 {
        format!("{:.2} kHz", freq_hz / 1000.0)
    } else {
        format!("{freq_hz:.0} Hz")
    }
}

/// Writes a boolean parameter through a begin/set/end gesture.
pub fn set_bool(setter: &ParamSetter, param: &BoolParam, value: bool) {
    setter.begin_set_parameter(param);
    setter.set_parameter(param, value);
    setter.end_set_parameter(param);
}

/// Writes a float parameter through a gesture.
pub fn set_float(setter: &ParamSetter, param: &FloatParam, value: f32) {
    setter.begin_set_parameter(param);
    setter.set_parameter(param, value);
    setter.end_set_parameter(param);
}

/// Writes an integer parameter through a gesture.
pub fn set_int(setter: &ParamSetter, param: &IntParam, value: i32) {
    setter.begin_set_parameter(param);
    setter.set_parameter(param, value);
    setter.end_set_parameter(param);
}

/// Writes an enum parameter through a gesture.
pub fn set_enum<T: Enum + PartialEq + 'static>(setter: &ParamSetter, param: &EnumParam<T>, value: T) {
    setter.begin_set_parameter(param);
    setter.set_parameter(param, value);
    setter.end_set_parameter(param);
}

/// A toggle button for a boolean parameter (lit while on).
pub fn toggle(
    ui: &mut egui::Ui,
    label: impl Into<egui::WidgetText>,
    param: &BoolParam,
    setter: &ParamSetter,
) -> Response {
    let mut on = param.value();
    let response = ui.toggle_value(&mut on, label);
    if response.clicked() {
        set_bool(setter, param, on);
    }
    response
}

/// A checkbox for a boolean parameter.
pub fn checkbox(ui: &mut egui::Ui, label: &str, param: &BoolParam, setter: &ParamSetter) -> Response {
    let mut on = param.value();
    let response = ui.checkbox(&mut on, label);
    if response.changed() {
        set_bool(setter, param, on);
    }
    response
}

/// A row of buttons, one per variant of an enum parameter (the current one lit).
pub fn enum_buttons<T: Enum + PartialEq + 'static>(
    ui: &mut egui::Ui,
    param: &EnumParam<T>,
    setter: &ParamSetter,
) {
    let current = param.value();
    for (index, name) in T::variants().iter().enumerate() {
        let variant = T::from_index(index);
        if ui.selectable_label(variant == current, *name).clicked() && variant != current {
            set_enum(setter, param, variant);
        }
    }
}

/// A combo box for an enum parameter.
pub fn enum_combo<T: Enum + PartialEq + 'static>(
    ui: &mut egui::Ui,
    id: &str,
    param: &EnumParam<T>,
    setter: &ParamSetter,
) {
    let current = param.value();
    egui::ComboBox::from_id_salt(id).selected_text(param.to_string()).width(84.0).show_ui(ui, |ui| {
        for (index, name) in T::variants().iter().enumerate() {
            let variant = T::from_index(index);
            if ui.selectable_label(variant == current, *name).clicked() && variant != current {
                set_enum(setter, param, variant);
            }
        }
    });
}

/// A labelled parameter slider of `width` points (the label above the slider).
pub fn labelled_slider<P: Param>(
    ui: &mut egui::Ui,
    label: &str,
    param: &P,
    setter: &ParamSetter,
    width: f32,
) {
    ui.vertical(|ui| {
        ui.label(caption(label));
        ui.add(ParamSlider::for_param(param, setter).with_width(width));
    });
}

/// An unlabelled parameter slider of `width` points.
pub fn slider<P: Param>(ui: &mut egui::Ui, param: &P, setter: &ParamSetter, width: f32) -> Response {
    ui.add(ParamSlider::for_param(param, setter).with_width(width))
}

/// A log-frequency axis across a rectangle.
#[derive(Debug, Clone, Copy)]
pub struct FrequencyAxis {
    /// The plot area.
    pub rect: Rect,
    /// Frequency at the left edge, Hz.
    pub min_hz: f32,
    /// Frequency at the right edge, Hz.
    pub max_hz: f32,
}

impl FrequencyAxis {
    /// The audio band 20 Hz – 20 kHz across `rect`.
    pub fn audio(rect: Rect) -> Self {
        Self { rect, min_hz: 20.0, max_hz: 20_000.0 }
    }

    /// Horizontal position of `freq_hz` (clamped to the edges).
    pub fn x(&self, freq_hz: f32) -> f32 {
        let span = (self.max_hz / self.min_hz).ln();
        let t = (freq_hz.max(self.min_hz) / self.min_hz).ln() / span;
        self.rect.left() + t.clamp(0.0, 1.0) * self.rect.width()
    }

    /// Frequency at horizontal position `x`, Hz.
    pub fn freq_hz(&self, x: f32) -> f32 {
        let t = ((x - self.rect.left()) / self.rect.width().max(1.0)).clamp(0.0, 1.0);
        self.min_hz * (self.max_hz / self.min_hz).powf(t)
    }

    /// Draws the vertical grid (20, 50, 100 … 20k) with labels along the bottom.
    pub fn draw_grid(&self, painter: &Painter) {
        let font = FontId::monospace(10.0);
        for hz in [20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 10e3, 20e3] {
            if hz < self.min_hz || hz > self.max_hz {
                continue;
            }
            let x = self.x(hz);
            painter.line_segment(
                [Pos2::new(x, self.rect.top()), Pos2::new(x, self.rect.bottom())],
                Stroke::new(1.0, GRID),
            );
            let label = if hz >= 1000.0 { format!("{}k", hz / 1000.0) } else { format!("{hz}") };
            painter.text(
                Pos2::new(x + 2.0, self.rect.bottom() - 2.0),
                Align2::LEFT_BOTTOM,
                label,
                font.clone(),
                GRID_TEXT,
            );
        }
    }
}

/// A linear dB axis from `bottom_db` to `top_db` across a rectangle's height.
#[derive(Debug, Clone, Copy)]
pub struct DbAxis {
    /// The plot area.
    pub rect: Rect,
    /// Value at the top edge, dB.
    pub top_db: f32,
    /// Value at the bottom edge, dB.
    pub bottom_db: f32,
}

impl DbAxis {
    /// Vertical position of `db` (clamped to the edges; −∞ and NaN sit at the bottom).
    pub fn y(&self, db: f32) -> f32 {
        let t = if db.is_nan() { 0.0 } else { (db - self.bottom_db) / (self.top_db - self.bottom_db) };
        self.rect.bottom() - t.clamp(0.0, 1.0) * self.rect.height()
    }

    /// Value at vertical position `y`, dB.
    pub fn db(&self, y: f32) -> f32 {
        let t = (self.rect.bottom() - y) / self.rect.height().max(1.0);
        self.bottom_db + t * (self.top_db - self.bottom_db)
    }

    /// Draws horizontal grid lines at `values` with labels at the left (`suffix` after the number).
    pub fn draw_grid(&self, painter: &Painter, values: &[f32], suffix: &str) {
        let font = FontId::monospace(10.0);
        for &value in values {
            let y = self.y(value);
            painter.line_segment(
                [Pos2::new(self.rect.left(), y), Pos2::new(self.rect.right(), y)],
                Stroke::new(1.0, GRID),
            );
            painter.text(
                Pos2::new(self.rect.left() + 2.0, y - 1.0),
                Align2::LEFT_BOTTOM,
                minus(format!("{value}{suffix}")),
                font.clone(),
                GRID_TEXT,
            );
        }
    }
}

/// A horizontal gain-reduction bar (grows leftwards from the right edge, 0 … `range_db`) with
/// its value, `width` × 14 points.
pub fn reduction_bar(ui: &mut egui::Ui, reduction_db: f32, range_db: f32, width: f32) -> Response {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(width, 14.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, PLOT_BACKGROUND);
    let reduction = if reduction_db.is_finite() { reduction_db.clamp(0.0, range_db) } else { 0.0 };
    let length = reduction / range_db * rect.width();
    painter.rect_filled(
        Rect::from_min_max(Pos2::new(rect.right() - length, rect.top()), rect.right_bottom()),
        2.0,
        REDUCTION,
    );
    painter.text(
        rect.left_center() + egui::vec2(3.0, 0.0),
        Align2::LEFT_CENTER,
        format_reduction(reduction_db),
        FontId::monospace(10.0),
        Color32::WHITE,
    );
    response
}

/// Colour of an integrated reading against the delivery target: green within the target's
/// tolerance, amber within twice it, else `otherwise` (also without a target).
pub fn loudness_colour(
    integrated_lufs: Option<f32>,
    target: &crate::delivery::DeliveryTarget,
    otherwise: Color32,
) -> Color32 {
    match (integrated_lufs.filter(|v| v.is_finite()), target.target_lufs) {
        (Some(v), Some(goal)) if (v - goal).abs() <= target.tolerance_lu => GOOD,
        (Some(v), Some(goal)) if (v - goal).abs() <= 2.0 * target.tolerance_lu => AMBER,
        _ => otherwise,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_silence_as_minus_infinity_and_uses_a_real_minus_sign() {
        assert_eq!(format_dbfs(SILENCE_DBFS), "−∞");
        assert_eq!(format_dbfs(f32::NAN), "−∞");
        assert_eq!(format_dbfs(-6.02), "−6.0");
        assert_eq!(format_dbfs(0.04), "+0.0");
        assert_eq!(format_lu(None), "—");
        assert_eq!(format_lu(Some(f32::NEG_INFINITY)), "−∞");
        assert_eq!(format_lu(Some(f32::NAN)), "—");
        assert_eq!(format_lu(Some(-14.04)), "−14.0");
        assert_eq!(format_dbtp(Some(-0.996)), "−1.00");
        assert_eq!(format_dbtp(Some(0.5)), "+0.50");
        assert_eq!(format_position(None), "—");
        assert_eq!(format_position(Some(f64::NAN)), "—");
        assert_eq!(format_position(Some(75.25)), "1:15.2");
        assert_eq!(format_position(Some(3.0)), "0:03.0");
        assert_eq!(signed_db(-0.04), "0.0 dB");
        assert_eq!(signed_db(1.26), "+1.3 dB");
        assert_eq!(signed_db(-3.0), "−3.0 dB");
        assert_eq!(format_reduction(2.345), "−2.3 dB");
        assert_eq!(format_reduction(0.01), "0.0 dB");
        assert_eq!(format_hz(950.0), "950 Hz");
        assert_eq!(format_hz(1_200.0), "1.20 kHz");
        assert_eq!(format_hz(12_500.0), "12.5 kHz");
    }

    #[test]
    fn axes_map_and_invert() {
        let rect = Rect::from_min_size(Pos2::new(10.0, 20.0), egui::vec2(300.0, 200.0));
        let axis = FrequencyAxis::audio(rect);
        assert!((axis.x(20.0) - 10.0).abs() < 1e-3);
        assert!((axis.x(20_000.0) - 310.0).abs() < 1e-3);
        // 632 Hz is the geometric middle of 20 Hz – 20 kHz.
        assert!((axis.x(20.0 * 1000f32.sqrt()) - 160.0).abs() < 1e-2);
        for hz in [31.0, 440.0, 9_000.0] {
            assert!((axis.freq_hz(axis.x(hz)) / hz - 1.0).abs() < 1e-4);
        }
        let db = DbAxis { rect, top_db: 0.0, bottom_db: -60.0 };
        assert_eq!(db.y(0.0), 20.0);
        assert_eq!(db.y(-60.0), 220.0);
        assert_eq!(db.y(f32::NEG_INFINITY), 220.0);
        assert_eq!(db.y(f32::NAN), 220.0);
        assert!((db.db(db.y(-17.5)) + 17.5).abs() < 1e-4);
    }
}
