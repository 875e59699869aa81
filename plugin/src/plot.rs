//! PNG plots for the offline CLI: loudness over time and spectrum, before and after mastering.
//!
//! The plots are for people (mastering engineers) to look at, so they follow the editor's dark look:
//! near-black background, dim grid, light grey text, one distinct colour per trace and a legend row
//! under the title. Both plots are [`PLOT_WIDTH_PX`] × [`PLOT_HEIGHT_PX`] RGB PNGs.
//!
//! * [`write_loudness_plot`]: x = time (seconds, or m:ss beyond a minute), y = LUFS. The range is
//!   chosen from the data (clamped to [`LOUDNESS_FLOOR_LUFS`]..=[`LOUDNESS_CEILING_LUFS`], at least
//!   [`MIN_LOUDNESS_SPAN_LU`] tall, ticks on a round step). Short-term loudness is drawn thick and
//!   solid, momentary thin and faint, an optional target as a dashed line.
//! * [`write_spectrum_plot`]: log-frequency x axis over 20 Hz – 20 kHz (narrowed to the data's
//!   range), y in dB, a [`MIN_SPECTRUM_SPAN_DB`]–[`MAX_SPECTRUM_SPAN_DB`] tall window ending a bit
//!   above the highest level.
//!
//! Non-finite readings (silence, bands above the analyser's limit) leave a gap in their trace.
//! Readings above or below the window are drawn on its edge.
//!
//! # Drawing
//!
//! plotters maps the data to pixels and draws the lines into an RGB buffer in memory. The text is
//! rasterised afterwards with `ab_glyph` straight into that buffer, in egui's built-in Ubuntu Light
//! face (`epaint_default_fonts`, embedded at compile time, so no system font is needed). plotters'
//! own `ab_glyph` text drawing is not used: in 0.3.7 it places every glyph at its pen position
//! without the glyph's left side bearing, so letters after wide-bearing glyphs drift apart
//! ("mom entary", "−1 4"). For the same reason the grid is drawn here rather than by plotters' mesh,
//! which always draws its labels.
//!
//! The buffer is then written to a temporary file in the destination's folder, which is renamed
//! over the destination: a failed or interrupted run never leaves half a PNG behind.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, PxScaleFont, ScaleFont};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// Width of every plot in pixels.
pub const PLOT_WIDTH_PX: u32 = 1200;

/// Height of every plot in pixels.
pub const PLOT_HEIGHT_PX: u32 = 600;

/// Lowest loudness the loudness plot can show, in LUFS.
pub const LOUDNESS_FLOOR_LUFS: f64 = -60.0;

/// Highest loudness the loudness plot can show, in LUFS.
pub const LOUDNESS_CEILING_LUFS: f64 = 0.0;

/// Smallest height of the loudness plot's window, in LU.
pub const MIN_LOUDNESS_SPAN_LU: f64 = 20.0;

/// Smallest height of the spectrum plot's window, in dB.
pub const MIN_SPECTRUM_SPAN_DB: f64 = 60.0;

/// Largest height of the spectrum plot's window, in dB (lower levels are drawn on its bottom edge).
pub const MAX_SPECTRUM_SPAN_DB: f64 = 80.0;

/// Lowest frequency the spectrum plot can show, in Hz.
pub const SPECTRUM_MIN_HZ: f64 = 20.0;

/// Highest frequency the spectrum plot can show, in Hz.
pub const SPECTRUM_MAX_HZ: f64 = 20_000.0;

/// Trace colours in the order the traces are given: "before" orange, "after" green, a third trace
/// light blue, then three more that stay apart from those on a dark background.
pub const TRACE_COLOURS: [RGBColor; 6] = [
    RGBColor(255, 170, 80),
    RGBColor(70, 200, 120),
    RGBColor(120, 200, 255),
    RGBColor(235, 110, 200),
    RGBColor(235, 220, 90),
    RGBColor(175, 145, 255),
];

/// Most traces one plot accepts: one per entry of [`TRACE_COLOURS`], so each stays distinct.
pub const MAX_TRACES: usize = TRACE_COLOURS.len();

/// Background, as the editor's panels (#141414).
const BACKGROUND: RGBColor = RGBColor(0x14, 0x14, 0x14);

/// Grid lines at labelled ticks (#333).
const GRID_COLOUR: RGBColor = RGBColor(0x33, 0x33, 0x33);

/// Unlabelled grid lines (the log axis' 30, 40, 60 … Hz), between background and grid.
const FINE_GRID_COLOUR: RGBColor = RGBColor(0x22, 0x22, 0x22);

/// Axis lines and tick marks.
const AXIS_COLOUR: RGBColor = RGBColor(0x66, 0x66, 0x66);

/// Title, legend and tick labels.
const TEXT_COLOUR: RGBColor = RGBColor(0xd8, 0xd8, 0xd8);

/// Axis descriptions and the "no data" note.
const DIM_TEXT_COLOUR: RGBColor = RGBColor(0xa0, 0xa0, 0xa0);

/// Neutral swatches in the legend (short-term / momentary) and the target line.
const NEUTRAL_COLOUR: RGBColor = RGBColor(0xc8, 0xc8, 0xc8);

/// Opacity of the momentary traces (short-term is opaque).
const MOMENTARY_ALPHA: f64 = 0.4;

/// Opacity of the target line.
const TARGET_ALPHA: f64 = 0.75;

/// Stroke width of short-term loudness and spectrum traces, in pixels.
const THICK_STROKE_PX: u32 = 2;

/// Stroke width of momentary loudness traces, in pixels.
const THIN_STROKE_PX: u32 = 1;

/// Radius of the dot drawn for a reading with no finite neighbour, in pixels.
const LONE_POINT_RADIUS_PX: i32 = 3;

/// Title text size (ascent to descent) in pixels.
const TITLE_SIZE_PX: f32 = 24.0;

/// Legend text size in pixels.
const LEGEND_SIZE_PX: f32 = 17.0;

/// Tick label text size in pixels.
const TICK_LABEL_SIZE_PX: f32 = 16.0;

/// Axis description text size in pixels.
const AXIS_DESC_SIZE_PX: f32 = 16.0;

/// Height of the header (title row and legend row) above the chart, in pixels.
const HEADER_HEIGHT_PX: u32 = 78;

/// Distance of the title's and legend's left edge from the image's left edge, in pixels.
const HEADER_LEFT_PX: i32 = 20;

/// Vertical centre of the title row, in pixels from the top.
const TITLE_CENTRE_Y_PX: i32 = 24;

/// Vertical centre of the legend row, in pixels from the top.
const LEGEND_CENTRE_Y_PX: i32 = 58;

/// Length of a legend swatch line, in pixels.
const LEGEND_SWATCH_PX: i32 = 28;

/// Gap between a swatch and its label, in pixels.
const LEGEND_SWATCH_GAP_PX: i32 = 8;

/// Gap between legend entries, in pixels.
const LEGEND_ENTRY_GAP_PX: i32 = 28;

/// Space for the x tick labels and the x axis description, in pixels.
const X_LABEL_AREA_PX: u32 = 56;

/// Space for the y tick labels and the y axis description, in pixels.
const Y_LABEL_AREA_PX: u32 = 76;

/// Margin right of the chart, in pixels.
const CHART_MARGIN_RIGHT_PX: u32 = 28;

/// Margin left of and below the chart, in pixels.
const CHART_MARGIN_PX: u32 = 8;

/// Margin between the legend row and the chart, in pixels.
const CHART_MARGIN_TOP_PX: u32 = 12;

/// Length of the tick marks outside the chart, in pixels.
const TICK_MARK_PX: i32 = 5;

/// Distance of tick labels from the chart's edge, in pixels.
const TICK_LABEL_GAP_PX: i32 = 10;

/// Distance of an axis description's middle from the outer edge of its label area, in pixels.
const AXIS_DESC_INSET_PX: i32 = 13;

/// Most labelled ticks on a linear axis.
const MAX_TICKS: f64 = 12.0;

/// Headroom above the highest loudness reading when choosing the window, in LU.
const LOUDNESS_HEADROOM_LU: f64 = 1.0;

/// Headroom above the highest spectrum level when choosing the window, in dB.
const SPECTRUM_HEADROOM_DB: f64 = 3.0;

/// Fraction of the visible spectrum levels allowed below the window before it grows (so a few
/// deep notches or floor values do not stretch it).
const SPECTRUM_LOW_OUTLIER_FRACTION: f64 = 0.02;

/// Levels beyond ± this many dB are taken as this when choosing the spectrum window (so absurd
/// values cannot make a window too wide for `f64` to resolve).
const MAX_PLAUSIBLE_LEVEL_DB: f64 = 500.0;

/// Longest trace label shown before it is cut with "…", in characters.
const MAX_LABEL_CHARS: usize = 40;

/// Why a plot could not be written. Every message is one line naming the destination.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A trace's paired slices differ in length.
    #[error(
        "cannot plot {path}: trace \"{label}\" has {left_len} {left} but {right_len} {right} (they must match)",
        path = path.display()
    )]
    MismatchedLengths {
        /// Destination of the plot.
        path: PathBuf,
        /// Label of the offending trace.
        label: String,
        /// What the first slice holds ("short-term readings", "frequencies").
        left: &'static str,
        /// Length of the first slice.
        left_len: usize,
        /// What the second slice holds ("momentary readings", "levels").
        right: &'static str,
        /// Length of the second slice.
        right_len: usize,
    },
    /// A loudness trace's reading interval is zero, negative or not finite.
    #[error(
        "cannot plot {path}: trace \"{label}\" has a reading interval of {hop_s} s (it must be finite and positive)",
        path = path.display()
    )]
    InvalidHop {
        /// Destination of the plot.
        path: PathBuf,
        /// Label of the offending trace.
        label: String,
        /// The refused interval in seconds.
        hop_s: f64,
    },
    /// A spectrum trace's frequencies are not finite and strictly ascending.
    #[error(
        "cannot plot {path}: trace \"{label}\" has frequency {frequency_hz} Hz at index {index}, which is not finite or not above the previous one",
        path = path.display()
    )]
    FrequenciesNotAscending {
        /// Destination of the plot.
        path: PathBuf,
        /// Label of the offending trace.
        label: String,
        /// Index of the first offending frequency.
        index: usize,
        /// The offending frequency in Hz.
        frequency_hz: f32,
    },
    /// The loudness target is not finite.
    #[error("cannot plot {path}: the target loudness {target_lufs} LUFS is not finite", path = path.display())]
    InvalidTarget {
        /// Destination of the plot.
        path: PathBuf,
        /// The refused target in LUFS.
        target_lufs: f64,
    },
    /// More traces than distinct colours.
    #[error(
        "cannot plot {path}: {count} traces given, at most {MAX_TRACES} can be told apart",
        path = path.display()
    )]
    TooManyTraces {
        /// Destination of the plot.
        path: PathBuf,
        /// Number of traces given.
        count: usize,
    },
    /// The destination has no file name (it is empty, a root or ends in "..").
    #[error("cannot write plot to {path}: the path does not name a file", path = path.display())]
    NotAFilePath {
        /// The refused destination.
        path: PathBuf,
    },
    /// Rendering failed (the embedded font could not be parsed, or plotters refused a drawing).
    #[error("cannot draw plot {path}: {message}", path = path.display())]
    Render {
        /// Destination of the plot.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The temporary file could not be created or renamed over the destination.
    #[error("cannot write plot {path}: {io_error}", path = path.display())]
    Write {
        /// Destination of the plot.
        path: PathBuf,
        /// The underlying I/O error (its text is part of this error's message).
        io_error: std::io::Error,
    },
    /// The PNG encoder failed after the temporary file was created.
    #[error("cannot write plot {path}: PNG encoding failed: {message}", path = path.display())]
    Encode {
        /// Destination of the plot.
        path: PathBuf,
        /// What the encoder reported.
        message: String,
    },
}

/// One loudness trace: readings every `hop_s` seconds from t = 0.
///
/// Non-finite readings mean silence or no reading yet: they leave a gap, never a line to −∞.
#[derive(Debug, Clone, Copy)]
pub struct LoudnessTrace<'a> {
    /// Legend label ("before", "after").
    pub label: &'a str,
    /// Interval between readings in seconds; must be finite and positive.
    pub hop_s: f64,
    /// Short-term loudness (3 s window) in LUFS, reading `i` at `i · hop_s` seconds. Drawn thick.
    pub short_term_lufs: &'a [f32],
    /// Momentary loudness (400 ms window) in LUFS, on the same clock as `short_term_lufs` and of
    /// the same length, or empty to leave it out. Drawn thin and faint.
    pub momentary_lufs: &'a [f32],
}

/// One spectrum: levels in dB at frequencies in Hz.
///
/// Frequencies must be finite and strictly ascending; those outside
/// [`SPECTRUM_MIN_HZ`]..=[`SPECTRUM_MAX_HZ`] (such as a 0 Hz bin) are not drawn. Non-finite levels
/// leave a gap.
#[derive(Debug, Clone, Copy)]
pub struct SpectrumTrace<'a> {
    /// Legend label ("before", "after").
    pub label: &'a str,
    /// Frequency of each point in Hz, strictly ascending.
    pub frequencies_hz: &'a [f32],
    /// Level of each point in dB, same length as `frequencies_hz`.
    pub levels_db: &'a [f32],
}

/// Writes the loudness-over-time plot of `traces` (at most [`MAX_TRACES`]) to the PNG file `path`,
/// with a dashed line at `target_lufs` if given (and within the plot's limits).
///
/// An empty `traces`, or traces without a finite reading, give an empty chart saying "no data".
pub fn write_loudness_plot(
    path: &Path,
    title: &str,
    traces: &[LoudnessTrace<'_>],
    target_lufs: Option<f64>,
) -> Result<(), PlotError> {
    check_trace_count(path, traces.len())?;
    for trace in traces {
        if !(trace.hop_s.is_finite() && trace.hop_s > 0.0) {
            return Err(PlotError::InvalidHop {
                path: path.to_path_buf(),
                label: trace.label.to_owned(),
                hop_s: trace.hop_s,
            });
        }
        let (short_len, momentary_len) = (trace.short_term_lufs.len(), trace.momentary_lufs.len());
        if short_len != momentary_len && short_len != 0 && momentary_len != 0 {
            return Err(PlotError::MismatchedLengths {
                path: path.to_path_buf(),
                label: trace.label.to_owned(),
                left: "short-term readings",
                left_len: short_len,
                right: "momentary readings",
                right_len: momentary_len,
            });
        }
    }
    if let Some(target_lufs) = target_lufs.filter(|target| !target.is_finite()) {
        return Err(PlotError::InvalidTarget { path: path.to_path_buf(), target_lufs });
    }
    render_and_write(path, |root, font, labels| draw_loudness(root, font, labels, title, traces, target_lufs))
}

/// Writes the spectrum plot of `traces` (at most [`MAX_TRACES`]) to the PNG file `path`.
///
/// An empty `traces`, or traces without a finite level in range, give an empty chart saying
/// "no data".
pub fn write_spectrum_plot(path: &Path, title: &str, traces: &[SpectrumTrace<'_>]) -> Result<(), PlotError> {
    check_trace_count(path, traces.len())?;
    for trace in traces {
        if trace.frequencies_hz.len() != trace.levels_db.len() {
            return Err(PlotError::MismatchedLengths {
                path: path.to_path_buf(),
                label: trace.label.to_owned(),
                left: "frequencies",
                left_len: trace.frequencies_hz.len(),
                right: "levels",
                right_len: trace.levels_db.len(),
            });
        }
        let mut previous_hz = f32::NEG_INFINITY;
        for (index, &frequency_hz) in trace.frequencies_hz.iter().enumerate() {
            if !(frequency_hz.is_finite() && frequency_hz > previous_hz) {
                return Err(PlotError::FrequenciesNotAscending {
                    path: path.to_path_buf(),
                    label: trace.label.to_owned(),
                    index,
                    frequency_hz,
                });
            }
            previous_hz = frequency_hz;
        }
    }
    render_and_write(path, |root, font, labels| draw_spectrum(root, font, labels, title, traces))
}

/// Refuses more traces than there are distinct colours.
fn check_trace_count(path: &Path, count: usize) -> Result<(), PlotError> {
    if count > MAX_TRACES {
        return Err(PlotError::TooManyTraces { path: path.to_path_buf(), count });
    }
    Ok(())
}

/// The root drawing area every plot is drawn on.
type Root<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Result of a drawing step on [`Root`].
type DrawOutcome<'a> = DrawResult<(), BitMapBackend<'a>>;

/// The embedded Ubuntu Light face, parsed once per process; None if it could not be parsed.
fn embedded_font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT).ok()).as_ref()
}

/// Renders with `draw` (lines through plotters, text collected in a list) into an RGB buffer, paints
/// the text over it, then writes it to `path` as a PNG (see [`write_png_atomically`]).
fn render_and_write(
    path: &Path,
    draw: impl for<'a> FnOnce(&Root<'a>, &Typeface, &mut Vec<Label>) -> DrawOutcome<'a>,
) -> Result<(), PlotError> {
    let Some(font) = embedded_font() else {
        return Err(PlotError::Render {
            path: path.to_path_buf(),
            message: "the embedded font could not be parsed".to_owned(),
        });
    };
    let typeface = Typeface { font };
    let mut pixels = vec![0_u8; PLOT_WIDTH_PX as usize * PLOT_HEIGHT_PX as usize * 3];
    let mut labels = Vec::new();
    {
        let root =
            BitMapBackend::with_buffer(&mut pixels, (PLOT_WIDTH_PX, PLOT_HEIGHT_PX)).into_drawing_area();
        draw(&root, &typeface, &mut labels)
            .and_then(|()| root.present())
            .map_err(|error| PlotError::Render { path: path.to_path_buf(), message: error.to_string() })?;
    }
    for label in &labels {
        typeface.paint(&mut pixels, label);
    }
    write_png_atomically(path, &pixels)
}

/// Writes the RGB `pixels` as a PNG to a fresh temporary file next to `path`, then renames it over
/// `path`. On failure the temporary file is removed, and `path` is left as it was.
fn write_png_atomically(path: &Path, pixels: &[u8]) -> Result<(), PlotError> {
    /// Distinguishes temporary files of concurrent plots within this process.
    static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

    let Some(file_name) = path.file_name() else {
        return Err(PlotError::NotAFilePath { path: path.to_path_buf() });
    };
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // The encoder picks the format from the extension, so the temporary name ends in ".png".
    let temp_path = folder.join(format!(
        ".{}.{}-{}.tmp.png",
        file_name.to_string_lossy(),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let write_error = |io_error| PlotError::Write { path: path.to_path_buf(), io_error };
    // Creating the file first reports an unwritable folder as a plain I/O error.
    std::fs::OpenOptions::new().write(true).create_new(true).open(&temp_path).map_err(write_error)?;

    let encoded = {
        let mut backend = BitMapBackend::new(&temp_path, (PLOT_WIDTH_PX, PLOT_HEIGHT_PX));
        backend
            .blit_bitmap((0, 0), (PLOT_WIDTH_PX, PLOT_HEIGHT_PX), pixels)
            .and_then(|()| backend.present())
            .map_err(|error| error.to_string())
        // A backend that failed to save retries once when dropped here; the file is removed below.
    };
    let result = match encoded {
        Ok(()) => std::fs::rename(&temp_path, path).map_err(write_error),
        Err(message) => Err(PlotError::Encode { path: path.to_path_buf(), message }),
    };
    if result.is_err() {
        // Best effort: the error to report is the one above.
        let _ = std::fs::remove_file(&temp_path);
    }
    result
}

/// Horizontal alignment of a [`Label`] on its anchor.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Align {
    /// The text starts at the anchor.
    Left,
    /// The text is centred on the anchor.
    Centre,
    /// The text ends at the anchor.
    Right,
}

/// A line of text to paint once plotters is done with the pixel buffer.
#[derive(Debug, Clone)]
struct Label {
    /// The text (one line).
    text: String,
    /// Anchor, in pixels from the image's left edge.
    x_px: i32,
    /// Anchor, in pixels from the image's top: the vertical middle of the capitals and digits.
    y_px: i32,
    /// Text size (ascent to descent) in pixels.
    size_px: f32,
    /// Text colour.
    colour: RGBColor,
    /// How the text sits on the anchor along its direction.
    align: Align,
    /// Rotated a quarter turn anticlockwise (read bottom to top), for the y axis description.
    vertical: bool,
    /// Clear a box of background behind the text first (for text over the chart's lines).
    backdrop: bool,
}

impl Label {
    /// A horizontal label.
    fn new(
        text: impl Into<String>,
        (x_px, y_px): (i32, i32),
        size_px: f32,
        colour: RGBColor,
        align: Align,
    ) -> Self {
        Self { text: text.into(), x_px, y_px, size_px, colour, align, vertical: false, backdrop: false }
    }
}

/// Lays out and rasterises text in the embedded face with `ab_glyph`.
struct Typeface {
    /// The parsed face.
    font: &'static FontRef<'static>,
}

impl Typeface {
    /// The face at `size_px` (ascent to descent).
    fn scaled(&self, size_px: f32) -> PxScaleFont<&'static FontRef<'static>> {
        self.font.as_scaled(PxScale::from(size_px))
    }

    /// Pen positions of the glyphs of `text` from 0 (with kerning), and the advance of the whole
    /// line, in pixels.
    fn layout(&self, size_px: f32, text: &str) -> (Vec<(GlyphId, f32)>, f32) {
        let scaled = self.scaled(size_px);
        let mut pen_px = 0.0;
        let mut previous: Option<GlyphId> = None;
        let mut glyphs = Vec::with_capacity(text.len());
        for character in text.chars() {
            let id = scaled.glyph_id(character);
            if let Some(previous) = previous {
                pen_px += scaled.kern(previous, id);
            }
            glyphs.push((id, pen_px));
            pen_px += scaled.h_advance(id);
            previous = Some(id);
        }
        (glyphs, pen_px)
    }

    /// Advance width of `text` at `size_px`, in whole pixels (rounded up).
    fn width_px(&self, size_px: f32, text: &str) -> i32 {
        self.layout(size_px, text).1.ceil() as i32
    }

    /// Height of the capitals at `size_px`, in pixels (the label anchor is their vertical middle).
    fn cap_height_px(&self, size_px: f32) -> f32 {
        let scaled = self.scaled(size_px);
        scaled
            .outline_glyph(scaled.scaled_glyph('H'))
            .map_or(0.7 * size_px, |glyph| glyph.px_bounds().height())
    }

    /// Paints `label` into the RGB buffer `pixels` ([`PLOT_WIDTH_PX`] × [`PLOT_HEIGHT_PX`]),
    /// blending each pixel by the glyph's coverage; parts outside the image are skipped.
    fn paint(&self, pixels: &mut [u8], label: &Label) {
        let scaled = self.scaled(label.size_px);
        let (glyphs, width_px) = self.layout(label.size_px, &label.text);
        let start_px = match label.align {
            Align::Left => 0.0,
            Align::Centre => -width_px / 2.0,
            Align::Right => -width_px,
        };
        let cap_height_px = self.cap_height_px(label.size_px);
        let baseline_px = cap_height_px / 2.0;
        if label.backdrop && !label.vertical {
            let padding_px = cap_height_px;
            let x = (label.x_px as f32 + start_px - padding_px).floor() as i32;
            let y = (label.y_px as f32 - baseline_px - padding_px / 2.0).floor() as i32;
            let size = ((width_px + 2.0 * padding_px).ceil() as i32, (2.0 * cap_height_px).ceil() as i32);
            fill_rect(pixels, (x, y), size, BACKGROUND);
        }
        let RGBColor(red, green, blue) = label.colour;
        for (id, pen_px) in glyphs {
            let glyph =
                id.with_scale_and_position(scaled.scale(), ab_glyph::point(start_px + pen_px, baseline_px));
            let Some(outlined) = scaled.outline_glyph(glyph) else {
                continue; // a space
            };
            let bounds = outlined.px_bounds();
            outlined.draw(|glyph_x, glyph_y, coverage| {
                // Position along and across the text relative to the anchor.
                let along = bounds.min.x as i32 + glyph_x as i32;
                let across = bounds.min.y as i32 + glyph_y as i32;
                let (x, y) = if label.vertical {
                    (label.x_px + across, label.y_px - along)
                } else {
                    (label.x_px + along, label.y_px + across)
                };
                if x < 0 || y < 0 || x >= PLOT_WIDTH_PX as i32 || y >= PLOT_HEIGHT_PX as i32 {
                    return;
                }
                let index = (y as usize * PLOT_WIDTH_PX as usize + x as usize) * 3;
                let alpha = coverage.clamp(0.0, 1.0);
                for (channel, target) in pixels[index..index + 3].iter_mut().zip([red, green, blue]) {
                    let blended = f32::from(*channel) + (f32::from(target) - f32::from(*channel)) * alpha;
                    *channel = blended.round() as u8;
                }
            });
        }
    }
}

/// Fills the `size` (width, height) pixel rectangle at `corner` of the RGB buffer `pixels` with
/// `colour`, as far as it lies inside the image.
fn fill_rect(pixels: &mut [u8], corner: (i32, i32), size: (i32, i32), colour: RGBColor) {
    let RGBColor(red, green, blue) = colour;
    let (width, height) = (PLOT_WIDTH_PX as i32, PLOT_HEIGHT_PX as i32);
    for y in corner.1.max(0)..(corner.1 + size.1).min(height) {
        for x in corner.0.max(0)..(corner.0 + size.0).min(width) {
            let index = (y as usize * width as usize + x as usize) * 3;
            pixels[index..index + 3].copy_from_slice(&[red, green, blue]);
        }
    }
}

/// One legend entry: a swatch line and a label.
struct LegendEntry {
    /// Swatch colour (with opacity).
    colour: RGBAColor,
    /// Swatch stroke width in pixels.
    stroke_px: u32,
    /// Dashed swatch (for the target line).
    dashed: bool,
    /// Label text.
    label: String,
    /// The label is the caller's (a trace label) and may be shortened to fit the row; ours are not.
    shortenable: bool,
}

/// Cuts `text` to `max_chars` characters (at least 1), ending in "…" if it was longer.
fn shorten(text: &str, max_chars: usize) -> String {
    let max_chars = max_chars.max(1);
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let kept: String = text.chars().take(max_chars - 1).collect();
        kept.trim_end().to_owned() + "…"
    }
}

/// Drops control characters (a title is one line).
fn one_line(text: &str) -> String {
    text.chars().filter(|character| !character.is_control()).collect()
}

/// Fills the background, draws the legend swatches and queues the title and legend labels; returns
/// the area below for the chart.
fn draw_header<'a>(
    root: &Root<'a>,
    typeface: &Typeface,
    labels: &mut Vec<Label>,
    title: &str,
    legend: &[LegendEntry],
) -> DrawResult<Root<'a>, BitMapBackend<'a>> {
    root.fill(&BACKGROUND)?;
    let (header, body) = root.split_vertically(HEADER_HEIGHT_PX);
    let available_px = PLOT_WIDTH_PX as i32 - 2 * HEADER_LEFT_PX;

    // Titles may be long file names: cut them at the image's width rather than run off the edge.
    let title = one_line(title);
    let mut title_chars = title.chars().count();
    let mut shown_title = title.clone();
    while title_chars > 1 && typeface.width_px(TITLE_SIZE_PX, &shown_title) > available_px {
        title_chars -= 1;
        shown_title = shorten(&title, title_chars);
    }
    labels.push(Label::new(
        shown_title,
        (HEADER_LEFT_PX, TITLE_CENTRE_Y_PX),
        TITLE_SIZE_PX,
        TEXT_COLOUR,
        Align::Left,
    ));

    // Long trace labels: cut them all alike until the legend fits on its row.
    let entry_text = |entry: &LegendEntry, max_chars: usize| {
        if entry.shortenable {
            shorten(&entry.label, max_chars)
        } else {
            entry.label.clone()
        }
    };
    let row_width = |max_chars: usize| {
        legend
            .iter()
            .map(|entry| {
                let text = entry_text(entry, max_chars);
                LEGEND_SWATCH_PX + LEGEND_SWATCH_GAP_PX + typeface.width_px(LEGEND_SIZE_PX, &text)
            })
            .sum::<i32>()
            + LEGEND_ENTRY_GAP_PX * (legend.len() as i32 - 1).max(0)
    };
    let mut max_chars = MAX_LABEL_CHARS;
    while max_chars > 4 && row_width(max_chars) > available_px {
        max_chars -= 1;
    }
    let mut x = HEADER_LEFT_PX;
    let y = LEGEND_CENTRE_Y_PX;
    for entry in legend {
        let style = ShapeStyle::from(entry.colour).stroke_width(entry.stroke_px);
        let swatch = [(x, y), (x + LEGEND_SWATCH_PX, y)];
        if entry.dashed {
            header.draw(&DashedPathElement::new(swatch, 6, 4, style))?;
        } else {
            header.draw(&PathElement::new(swatch, style))?;
        }
        x += LEGEND_SWATCH_PX + LEGEND_SWATCH_GAP_PX;
        let text = entry_text(entry, max_chars);
        let width_px = typeface.width_px(LEGEND_SIZE_PX, &text);
        labels.push(Label::new(text, (x, y), LEGEND_SIZE_PX, TEXT_COLOUR, Align::Left));
        x += width_px + LEGEND_ENTRY_GAP_PX;
    }
    Ok(body)
}

/// A chart with our ticks on an x axis mapped by `X` and a linear y axis.
type Chart<'a, X> =
    ChartContext<'a, BitMapBackend<'a>, Cartesian2d<TickedAxis<X>, TickedAxis<RangedCoordf64>>>;

/// Builds the chart (axes with our ticks) in `body`, leaving room for the labels.
fn build_chart<'a, X: Ranged<ValueType = f64>>(
    body: &Root<'a>,
    x_axis: TickedAxis<X>,
    y_axis: TickedAxis<RangedCoordf64>,
) -> DrawResult<Chart<'a, X>, BitMapBackend<'a>> {
    ChartBuilder::on(body)
        .margin_top(CHART_MARGIN_TOP_PX)
        .margin_left(CHART_MARGIN_PX)
        .margin_bottom(CHART_MARGIN_PX)
        .margin_right(CHART_MARGIN_RIGHT_PX)
        .x_label_area_size(X_LABEL_AREA_PX)
        .y_label_area_size(Y_LABEL_AREA_PX)
        .build_cartesian_2d(x_axis, y_axis)
}

/// Draws the grid, the axes and their tick marks, and queues the tick labels (formatted by
/// `x_text` / `y_text`) and the axis descriptions.
fn draw_axes<'a, X: Ranged<ValueType = f64>>(
    chart: &mut Chart<'a, X>,
    labels: &mut Vec<Label>,
    (x_text, x_desc): (&dyn Fn(f64) -> String, &str),
    (y_text, y_desc): (&dyn Fn(f64) -> String, &str),
) -> DrawOutcome<'a> {
    let (x_range, y_range) = (chart.x_range(), chart.y_range());
    let (x_axis, y_axis) = {
        let spec = chart.as_coord_spec();
        (spec.x_spec(), spec.y_spec())
    };
    let (x_ticks, x_fine) = (x_axis.labelled.clone(), x_axis.unlabelled.clone());
    let (y_ticks, y_fine) = (y_axis.labelled.clone(), y_axis.unlabelled.clone());
    let vertical = |x: f64| [(x, y_range.start), (x, y_range.end)];
    let horizontal = |y: f64| [(x_range.start, y), (x_range.end, y)];
    for (lines, colour) in [(&x_fine, FINE_GRID_COLOUR), (&x_ticks, GRID_COLOUR)] {
        chart.draw_series(lines.iter().map(|&x| PathElement::new(vertical(x), colour)))?;
    }
    for (lines, colour) in [(&y_fine, FINE_GRID_COLOUR), (&y_ticks, GRID_COLOUR)] {
        chart.draw_series(lines.iter().map(|&y| PathElement::new(horizontal(y), colour)))?;
    }

    let (plot_x, plot_y) = chart.plotting_area().get_pixel_range();
    let (left, bottom) = (plot_x.start, plot_y.end - 1);
    // Pixel drawing relative to the plotting area's corner (it does not clip, so marks may stick out).
    let frame = chart.plotting_area().strip_coord_spec();
    let to_frame = |(x, y): (i32, i32)| (x - plot_x.start, y - plot_y.start);
    let axis_line = |points: [(i32, i32); 2]| PathElement::new(points.map(to_frame), AXIS_COLOUR);
    frame.draw(&axis_line([(left, plot_y.start), (left, bottom)]))?;
    frame.draw(&axis_line([(left, bottom), (plot_x.end - 1, bottom)]))?;
    for &x in &x_ticks {
        let (x_px, _) = chart.backend_coord(&(x, y_range.start));
        frame.draw(&axis_line([(x_px, bottom), (x_px, bottom + TICK_MARK_PX)]))?;
        let anchor = (x_px, bottom + TICK_LABEL_GAP_PX + TICK_LABEL_SIZE_PX as i32 / 2);
        labels.push(Label::new(x_text(x), anchor, TICK_LABEL_SIZE_PX, TEXT_COLOUR, Align::Centre));
    }
    for &y in &y_ticks {
        let (_, y_px) = chart.backend_coord(&(x_range.start, y));
        frame.draw(&axis_line([(left - TICK_MARK_PX, y_px), (left, y_px)]))?;
        labels.push(Label::new(
            y_text(y),
            (left - TICK_LABEL_GAP_PX, y_px),
            TICK_LABEL_SIZE_PX,
            TEXT_COLOUR,
            Align::Right,
        ));
    }
    let x_desc_anchor =
        ((plot_x.start + plot_x.end) / 2, plot_y.end + X_LABEL_AREA_PX as i32 - AXIS_DESC_INSET_PX);
    labels.push(Label::new(x_desc, x_desc_anchor, AXIS_DESC_SIZE_PX, DIM_TEXT_COLOUR, Align::Centre));
    let y_desc_anchor = (left - Y_LABEL_AREA_PX as i32 + AXIS_DESC_INSET_PX, (plot_y.start + plot_y.end) / 2);
    labels.push(Label {
        vertical: true,
        ..Label::new(y_desc, y_desc_anchor, AXIS_DESC_SIZE_PX, DIM_TEXT_COLOUR, Align::Centre)
    });
    Ok(())
}

/// Queues "no data" in the middle of the chart's plotting area.
fn queue_no_data<X: Ranged, Y: Ranged>(
    chart: &ChartContext<'_, BitMapBackend<'_>, Cartesian2d<X, Y>>,
    labels: &mut Vec<Label>,
) {
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    let centre = ((x_px.start + x_px.end) / 2, (y_px.start + y_px.end) / 2);
    labels.push(Label {
        backdrop: true,
        ..Label::new("no data", centre, LEGEND_SIZE_PX, DIM_TEXT_COLOUR, Align::Centre)
    });
}

/// Splits `points` at non-finite values into runs of consecutive finite points.
fn finite_runs(points: impl IntoIterator<Item = (f64, f64)>) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    for (x, y) in points {
        if x.is_finite() && y.is_finite() {
            run.push((x, y));
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// Draws each run of finite points as a line `stroke_px` wide (a dot for a lone point). Points
/// left or right of the chart's x range count as gaps; y is clamped to the chart's y range.
///
/// A wide line is drawn as 1-pixel lines side by side (a square pen): plotters' own wide lines are
/// one polygon with mitred joins, which throws long spikes wherever a dense trace zigzags.
fn draw_runs<'a, X, Y>(
    chart: &ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    points: impl IntoIterator<Item = (f64, f64)>,
    colour: RGBAColor,
    stroke_px: u32,
) -> DrawOutcome<'a>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let (x_range, y_range) = (chart.x_range(), chart.y_range());
    // Tolerance for values computed to sit exactly on an end of the range.
    let x_slack = (x_range.end - x_range.start).abs() * 1e-9;
    let visible = |x: f64| x >= x_range.start - x_slack && x <= x_range.end + x_slack;
    let shown = points.into_iter().map(|(x, y)| if visible(x) { (x, y) } else { (x, f64::NAN) });
    // Pixel drawing relative to the plotting area's corner.
    let (plot_x, plot_y) = chart.plotting_area().get_pixel_range();
    let frame = chart.plotting_area().strip_coord_spec();
    let to_frame = |(x, y): (f64, f64)| {
        let (x_px, y_px) = chart.backend_coord(&(x, y.clamp(y_range.start, y_range.end)));
        (x_px - plot_x.start, y_px - plot_y.start)
    };
    let pen = stroke_px.max(1) as i32;
    let pen_offsets = (0..pen).map(|offset| offset - (pen - 1) / 2);
    for run in finite_runs(shown) {
        let mut path: Vec<(i32, i32)> = run.iter().copied().map(to_frame).collect();
        if let [point] = path[..] {
            frame.draw(&Circle::new(point, LONE_POINT_RADIUS_PX, colour.filled()))?;
            continue;
        }
        path.dedup();
        for dx in pen_offsets.clone() {
            for dy in pen_offsets.clone() {
                let shifted = path.iter().map(|&(x, y)| (x + dx, y + dy));
                if path.len() == 1 {
                    frame.draw(&Pixel::new((path[0].0 + dx, path[0].1 + dy), colour))?;
                } else {
                    frame.draw(&PathElement::new(shifted.collect::<Vec<_>>(), colour))?;
                }
            }
        }
    }
    Ok(())
}

/// A linear axis window and its tick step.
#[derive(Debug, Clone, Copy, PartialEq)]
struct AxisWindow {
    /// Bottom (or left) end.
    low: f64,
    /// Top (or right) end.
    high: f64,
    /// Distance between labelled ticks.
    step: f64,
}

impl AxisWindow {
    /// Tick positions: the multiples of `step` within the window.
    fn ticks(&self) -> Vec<f64> {
        let first = (self.low / self.step - 1e-9).ceil() as i64;
        let last = (self.high / self.step + 1e-9).floor() as i64;
        (first..=last).map(|k| k as f64 * self.step).collect()
    }
}

/// An axis with the ticks we choose, for plotters' coordinate mapping and our grid.
struct TickedAxis<R> {
    /// The mapping from values to pixels.
    inner: R,
    /// Values with a grid line and a label.
    labelled: Vec<f64>,
    /// Values with a fine grid line only.
    unlabelled: Vec<f64>,
}

impl TickedAxis<RangedCoordf64> {
    /// A linear axis over `window` with a labelled tick on each multiple of its step.
    fn linear(window: &AxisWindow) -> Self {
        Self { inner: (window.low..window.high).into(), labelled: window.ticks(), unlabelled: Vec::new() }
    }
}

impl<R: Ranged<ValueType = f64>> Ranged for TickedAxis<R> {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.unlabelled.clone()
        } else {
            self.labelled.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// The smallest of `steps` that puts at most [`MAX_TICKS`] intervals on `span`, or the last one.
fn tick_step(span: f64, steps: &[f64]) -> f64 {
    steps.iter().copied().find(|step| span / step <= MAX_TICKS).unwrap_or(steps[steps.len() - 1])
}

/// The loudness window for readings between `lowest_lufs` and `highest_lufs` (None: no reading).
///
/// It spans the readings plus [`LOUDNESS_HEADROOM_LU`] above and below, is at least
/// [`MIN_LOUDNESS_SPAN_LU`] tall (grown around the middle), lies within
/// [`LOUDNESS_FLOOR_LUFS`]..=[`LOUDNESS_CEILING_LUFS`] and ends on multiples of its tick step.
fn loudness_window(extent_lufs: Option<(f64, f64)>) -> AxisWindow {
    let (floor, ceiling) = (LOUDNESS_FLOOR_LUFS, LOUDNESS_CEILING_LUFS);
    let (lowest, highest) = extent_lufs.unwrap_or((-23.0, -23.0));
    let mut low = (lowest - LOUDNESS_HEADROOM_LU).clamp(floor, ceiling);
    let mut high = (highest + LOUDNESS_HEADROOM_LU).clamp(floor, ceiling);
    let missing = MIN_LOUDNESS_SPAN_LU - (high - low);
    if missing > 0.0 {
        low -= missing / 2.0;
        high += missing / 2.0;
        if high > ceiling {
            low -= high - ceiling;
            high = ceiling;
        }
        if low < floor {
            high += floor - low;
            low = floor;
        }
    }
    let step = tick_step(high - low, &[1.0, 2.0, 5.0, 10.0]);
    AxisWindow {
        low: ((low / step).floor() * step).max(floor),
        high: ((high / step).ceil() * step).min(ceiling),
        step,
    }
}

/// The time window from 0 to `duration_s` (at least 1 s) with a round tick step.
fn time_window(duration_s: f64) -> AxisWindow {
    const STEPS_S: [f64; 16] =
        [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0];
    let high = if duration_s.is_finite() && duration_s >= 1.0 { duration_s } else { 1.0 };
    let mut step = tick_step(high, &STEPS_S);
    if high / step > MAX_TICKS {
        step = (high / MAX_TICKS / 3600.0).ceil() * 3600.0;
    }
    AxisWindow { low: 0.0, high, step }
}

/// Formats a time tick: m:ss (h:mm:ss from an hour) if `clock` is set, else seconds with as many
/// decimals as `step_s` needs.
fn format_time(time_s: f64, step_s: f64, clock: bool) -> String {
    if clock {
        let total_s = time_s.round().max(0.0) as u64;
        let (hours, minutes, seconds) = (total_s / 3600, total_s / 60 % 60, total_s % 60);
        if hours > 0 {
            format!("{hours}:{minutes:02}:{seconds:02}")
        } else {
            format!("{minutes}:{seconds:02}")
        }
    } else if step_s < 1.0 {
        format!("{time_s:.1}")
    } else {
        format!("{time_s:.0}")
    }
}

/// Formats a level or loudness tick with a typographic minus sign.
fn format_level(value: f64) -> String {
    let text = if value.fract().abs() < 1e-9 { format!("{value:.0}") } else { format!("{value:.1}") };
    match text.strip_prefix('-') {
        Some("0") => "0".to_owned(),
        Some(magnitude) => format!("\u{2212}{magnitude}"),
        None => text,
    }
}

/// Loudness `readings` taken every `hop_s` seconds as (time in s, LUFS) points.
fn timed(readings: &[f32], hop_s: f64) -> impl Iterator<Item = (f64, f64)> + '_ {
    readings.iter().enumerate().map(move |(index, &lufs)| (index as f64 * hop_s, f64::from(lufs)))
}

/// Legend entries for `labels`, one per trace colour.
fn trace_legend<'t>(labels: impl Iterator<Item = &'t str>) -> Vec<LegendEntry> {
    labels
        .zip(TRACE_COLOURS)
        .map(|(label, colour)| LegendEntry {
            colour: colour.to_rgba(),
            stroke_px: THICK_STROKE_PX + 1,
            dashed: false,
            label: one_line(label),
            shortenable: true,
        })
        .collect()
}

/// Draws the loudness plot on `root`, queueing its text in `labels`.
fn draw_loudness<'a>(
    root: &Root<'a>,
    typeface: &Typeface,
    labels: &mut Vec<Label>,
    title: &str,
    traces: &[LoudnessTrace<'_>],
    target_lufs: Option<f64>,
) -> DrawOutcome<'a> {
    let mut extent = traces
        .iter()
        .flat_map(|trace| trace.short_term_lufs.iter().chain(trace.momentary_lufs))
        .filter(|lufs| lufs.is_finite())
        .map(|&lufs| f64::from(lufs))
        .fold(None, |extent: Option<(f64, f64)>, lufs| {
            Some(extent.map_or((lufs, lufs), |(low, high)| (low.min(lufs), high.max(lufs))))
        });
    let has_data = extent.is_some();
    let visible_target =
        target_lufs.filter(|target| (LOUDNESS_FLOOR_LUFS..=LOUDNESS_CEILING_LUFS).contains(target));
    if let Some(target) = visible_target {
        extent = Some(extent.map_or((target, target), |(low, high)| (low.min(target), high.max(target))));
    }
    let y_window = loudness_window(extent);
    let duration_s = traces
        .iter()
        .map(|trace| {
            let readings = trace.short_term_lufs.len().max(trace.momentary_lufs.len());
            readings.saturating_sub(1) as f64 * trace.hop_s
        })
        .fold(0.0, f64::max);
    let x_window = time_window(duration_s);
    let clock = x_window.high > 60.0;

    let mut legend = trace_legend(traces.iter().map(|trace| trace.label));
    if traces.iter().any(|trace| !trace.short_term_lufs.is_empty()) {
        legend.push(LegendEntry {
            colour: NEUTRAL_COLOUR.to_rgba(),
            stroke_px: THICK_STROKE_PX,
            dashed: false,
            label: "short-term (3 s)".to_owned(),
            shortenable: false,
        });
    }
    if traces.iter().any(|trace| !trace.momentary_lufs.is_empty()) {
        legend.push(LegendEntry {
            colour: NEUTRAL_COLOUR.mix(MOMENTARY_ALPHA + 0.15),
            stroke_px: THIN_STROKE_PX,
            dashed: false,
            label: "momentary (400 ms)".to_owned(),
            shortenable: false,
        });
    }
    if let Some(target) = visible_target {
        legend.push(LegendEntry {
            colour: NEUTRAL_COLOUR.mix(TARGET_ALPHA),
            stroke_px: 1,
            dashed: true,
            label: format!("target {} LUFS", format_level(target)),
            shortenable: false,
        });
    }
    let body = draw_header(root, typeface, labels, title, &legend)?;

    let mut chart = build_chart(&body, TickedAxis::linear(&x_window), TickedAxis::linear(&y_window))?;
    let time_text = |time_s: f64| format_time(time_s, x_window.step, clock);
    draw_axes(
        &mut chart,
        labels,
        (&time_text, if clock { "time (m:ss)" } else { "time (s)" }),
        (&format_level, "loudness (LUFS)"),
    )?;
    // All momentary traces under all short-term traces, later traces over earlier ones.
    for (trace, colour) in traces.iter().zip(TRACE_COLOURS) {
        let momentary = timed(trace.momentary_lufs, trace.hop_s);
        draw_runs(&chart, momentary, colour.mix(MOMENTARY_ALPHA), THIN_STROKE_PX)?;
    }
    // The target over the faint momentary traces, under the short-term ones.
    if let Some(target) = visible_target {
        chart.draw_series(DashedLineSeries::new(
            [(x_window.low, target), (x_window.high, target)],
            10,
            6,
            NEUTRAL_COLOUR.mix(TARGET_ALPHA).stroke_width(1),
        ))?;
    }
    for (trace, colour) in traces.iter().zip(TRACE_COLOURS) {
        draw_runs(&chart, timed(trace.short_term_lufs, trace.hop_s), colour.to_rgba(), THICK_STROKE_PX)?;
    }
    if !has_data {
        queue_no_data(&chart, labels);
    }
    Ok(())
}

/// The dB window for visible spectrum levels `levels_db` (unsorted; empty: no data).
///
/// Its top is the next multiple of 10 dB at least [`SPECTRUM_HEADROOM_DB`] above the highest level;
/// it reaches down to the lowest levels except the lowest [`SPECTRUM_LOW_OUTLIER_FRACTION`], in
/// 10 dB steps, and is [`MIN_SPECTRUM_SPAN_DB`]..=[`MAX_SPECTRUM_SPAN_DB`] tall.
fn spectrum_window(levels_db: &mut [f64]) -> AxisWindow {
    const STEP_DB: f64 = 10.0;
    if levels_db.is_empty() {
        return AxisWindow { low: -MAX_SPECTRUM_SPAN_DB, high: 0.0, step: STEP_DB };
    }
    levels_db.sort_unstable_by(f64::total_cmp);
    let plausible = |db: f64| db.clamp(-MAX_PLAUSIBLE_LEVEL_DB, MAX_PLAUSIBLE_LEVEL_DB);
    let highest = plausible(levels_db[levels_db.len() - 1]);
    let outliers = (levels_db.len() as f64 * SPECTRUM_LOW_OUTLIER_FRACTION) as usize;
    let lowest = plausible(levels_db[outliers.min(levels_db.len() - 1)]);
    let high = ((highest + SPECTRUM_HEADROOM_DB) / STEP_DB).ceil() * STEP_DB;
    let span =
        (((high - lowest) / STEP_DB).ceil() * STEP_DB).clamp(MIN_SPECTRUM_SPAN_DB, MAX_SPECTRUM_SPAN_DB);
    AxisWindow { low: high - span, high, step: STEP_DB }
}

/// The frequency window for visible points between `lowest_hz` and `highest_hz` (None: no data):
/// [`SPECTRUM_MIN_HZ`]..[`SPECTRUM_MAX_HZ`] narrowed to the data, or all of it if the data spans
/// less than a third of an octave. An end within a third of an octave of a labelled tick (such as
/// the 19.8 kHz limit of a 44.1 kHz analysis) is moved out to that tick, so the axis ends on a label.
fn frequency_window(extent_hz: Option<(f64, f64)>) -> (f64, f64) {
    let third_octave = 2_f64.powf(1.0 / 3.0);
    let labelled_hz =
        [1.0, 2.0, 5.0].into_iter().flat_map(|m| [10.0, 100.0, 1_000.0, 10_000.0].map(|d| m * d));
    match extent_hz {
        Some((lowest, highest)) if highest > lowest * third_octave => {
            let low = labelled_hz
                .clone()
                .filter(|&hz| hz <= lowest && hz * third_octave >= lowest)
                .fold(lowest, f64::min);
            let high = labelled_hz
                .filter(|&hz| hz >= highest && hz <= highest * third_octave)
                .fold(highest, f64::max);
            (low.max(SPECTRUM_MIN_HZ), high.min(SPECTRUM_MAX_HZ))
        }
        _ => (SPECTRUM_MIN_HZ, SPECTRUM_MAX_HZ),
    }
}

/// Labelled (1-2-5 series) and unlabelled (the other integer multiples of each decade) frequency
/// ticks within `low_hz..=high_hz`. With fewer than two labelled ticks inside, the ends are labelled.
fn frequency_ticks(low_hz: f64, high_hz: f64) -> (Vec<f64>, Vec<f64>) {
    let inside = |hz: f64| hz >= low_hz * (1.0 - 1e-6) && hz <= high_hz * (1.0 + 1e-6);
    let mut labelled = Vec::new();
    let mut unlabelled = Vec::new();
    for decade in [1.0, 10.0, 100.0, 1_000.0, 10_000.0] {
        for multiple in 1..=9 {
            let hz = decade * f64::from(multiple);
            if !inside(hz) {
                continue;
            }
            if matches!(multiple, 1 | 2 | 5) {
                labelled.push(hz);
            } else {
                unlabelled.push(hz);
            }
        }
    }
    if labelled.len() < 2 {
        labelled = vec![low_hz, high_hz];
    }
    (labelled, unlabelled)
}

/// Formats a frequency tick: "50", "500", "1k", "2.5k", "20k".
fn format_frequency(frequency_hz: f64) -> String {
    if frequency_hz >= 1_000.0 {
        let khz = frequency_hz / 1_000.0;
        let text = format!("{khz:.1}");
        format!("{}k", text.strip_suffix(".0").unwrap_or(&text))
    } else if frequency_hz >= 100.0 {
        format!("{frequency_hz:.0}")
    } else {
        let text = format!("{frequency_hz:.1}");
        text.strip_suffix(".0").unwrap_or(&text).to_owned()
    }
}

/// The points of a spectrum trace as (frequency in Hz, level in dB).
fn spectrum_points<'t>(trace: &SpectrumTrace<'t>) -> impl Iterator<Item = (f64, f64)> + 't {
    trace.frequencies_hz.iter().zip(trace.levels_db).map(|(&hz, &db)| (f64::from(hz), f64::from(db)))
}

/// Draws the spectrum plot on `root`, queueing its text in `labels`.
fn draw_spectrum<'a>(
    root: &Root<'a>,
    typeface: &Typeface,
    labels: &mut Vec<Label>,
    title: &str,
    traces: &[SpectrumTrace<'_>],
) -> DrawOutcome<'a> {
    let within =
        |hz: f64, (low_hz, high_hz): (f64, f64)| hz >= low_hz * (1.0 - 1e-6) && hz <= high_hz * (1.0 + 1e-6);
    let extent_hz = traces
        .iter()
        .flat_map(spectrum_points)
        .filter(|&(hz, db)| db.is_finite() && within(hz, (SPECTRUM_MIN_HZ, SPECTRUM_MAX_HZ)))
        .fold(None, |extent: Option<(f64, f64)>, (hz, _)| {
            Some(extent.map_or((hz, hz), |(low, high)| (low.min(hz), high.max(hz))))
        });
    let (low_hz, high_hz) = frequency_window(extent_hz);
    let mut visible_levels: Vec<f64> = traces
        .iter()
        .flat_map(spectrum_points)
        .filter(|&(hz, db)| db.is_finite() && within(hz, (low_hz, high_hz)))
        .map(|(_, db)| db)
        .collect();
    let has_data = !visible_levels.is_empty();
    let y_window = spectrum_window(&mut visible_levels);

    let legend = trace_legend(traces.iter().map(|trace| trace.label));
    let body = draw_header(root, typeface, labels, title, &legend)?;

    let (labelled_hz, unlabelled_hz) = frequency_ticks(low_hz, high_hz);
    let x_axis = TickedAxis {
        inner: LogCoord::from((low_hz..high_hz).log_scale()),
        labelled: labelled_hz,
        unlabelled: unlabelled_hz,
    };
    let mut chart = build_chart(&body, x_axis, TickedAxis::linear(&y_window))?;
    draw_axes(&mut chart, labels, (&format_frequency, "frequency (Hz)"), (&format_level, "level (dB)"))?;
    for (trace, colour) in traces.iter().zip(TRACE_COLOURS) {
        draw_runs(&chart, spectrum_points(trace), colour.to_rgba(), THICK_STROKE_PX)?;
    }
    if !has_data {
        queue_no_data(&chart, labels);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::f64::consts::TAU;
    use std::fs::File;

    /// A fresh, empty folder for one test.
    fn test_folder(name: &str) -> PathBuf {
        let folder = std::env::temp_dir().join(format!("parity-plot-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).expect("create test folder");
        folder
    }

    /// Names of the files in `folder`, sorted.
    fn folder_contents(folder: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(folder)
            .expect("read test folder")
            .map(|entry| entry.expect("folder entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A decoded RGB image.
    struct Image {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// RGB bytes, row-major.
        rgb: Vec<u8>,
    }

    impl Image {
        /// Decodes the PNG at `path` with the independent `png` crate.
        fn read(path: &Path) -> Self {
            let decoder = png::Decoder::new(File::open(path).expect("open PNG"));
            let mut reader = decoder.read_info().expect("PNG header");
            let mut buffer = vec![0; reader.output_buffer_size()];
            let info = reader.next_frame(&mut buffer).expect("PNG data");
            assert_eq!(info.bit_depth, png::BitDepth::Eight);
            let channels = match info.color_type {
                png::ColorType::Rgb => 3,
                png::ColorType::Rgba => 4,
                other => panic!("unexpected PNG colour type {other:?}"),
            };
            let rgb = buffer[..info.buffer_size()]
                .chunks_exact(channels)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            Self { width: info.width, height: info.height, rgb }
        }

        /// Pixels in rows `rows` matching `predicate`.
        fn count(&self, rows: Range<u32>, predicate: impl Fn([u8; 3]) -> bool) -> usize {
            let row_bytes = self.width as usize * 3;
            self.rgb[rows.start as usize * row_bytes..rows.end as usize * row_bytes]
                .chunks_exact(3)
                .filter(|p| predicate([p[0], p[1], p[2]]))
                .count()
        }

        /// Pixels of the chart (below the title and legend) within 8 of `colour` in every channel.
        fn chart_pixels_of(&self, colour: RGBColor) -> usize {
            let RGBColor(r, g, b) = colour;
            self.count(HEADER_HEIGHT_PX..self.height, |p| {
                p[0].abs_diff(r) <= 8 && p[1].abs_diff(g) <= 8 && p[2].abs_diff(b) <= 8
            })
        }

        /// Light grey pixels (text) in rows `rows`.
        fn text_pixels(&self, rows: Range<u32>) -> usize {
            self.count(rows, |[r, g, b]| r > 150 && r.abs_diff(g) < 10 && r.abs_diff(b) < 10)
        }

        /// Fraction of all pixels that are exactly the background.
        fn background_fraction(&self) -> f64 {
            let RGBColor(r, g, b) = BACKGROUND;
            self.count(0..self.height, |p| p == [r, g, b]) as f64 / f64::from(self.width * self.height)
        }
    }

    /// Copies a plot to `$PARITY_PLOT_OUT` (if set) for a person to look at.
    fn keep_for_viewing(path: &Path, name: &str) {
        if let Some(folder) = std::env::var_os("PARITY_PLOT_OUT") {
            let folder = PathBuf::from(folder);
            std::fs::create_dir_all(&folder).expect("create PARITY_PLOT_OUT");
            std::fs::copy(path, folder.join(name)).expect("copy plot");
        }
    }

    /// Checks the properties every written plot has: size, mostly background, text.
    fn assert_plot_basics(image: &Image) {
        assert_eq!((image.width, image.height), (PLOT_WIDTH_PX, PLOT_HEIGHT_PX));
        let background = image.background_fraction();
        assert!(background > 0.6, "background covers only {background:.2} of the image");
        assert!(image.text_pixels(0..40) > 150, "no title text");
        // Tick labels left of the chart.
        let left_labels = {
            let row_bytes = image.width as usize * 3;
            (HEADER_HEIGHT_PX as usize..image.height as usize)
                .flat_map(|y| image.rgb[y * row_bytes..y * row_bytes + 80 * 3].chunks_exact(3))
                .filter(|p| p[0] > 150 && p[0].abs_diff(p[1]) < 10 && p[0].abs_diff(p[2]) < 10)
                .count()
        };
        assert!(left_labels > 150, "no y tick labels ({left_labels} text pixels)");
        assert!(
            image.text_pixels(PLOT_HEIGHT_PX - X_LABEL_AREA_PX..PLOT_HEIGHT_PX) > 150,
            "no x tick labels"
        );
    }

    /// Synthetic loudness readings every `hop_s` for `duration_s`: a slow sine around `centre_lufs`
    /// (`swing_lu` deep), momentary wobbling around it, with silence for the first 0.4 s / 3 s and in
    /// `gap_s`.
    fn synthetic_loudness(
        duration_s: f64,
        hop_s: f64,
        centre_lufs: f64,
        swing_lu: f64,
        gap_s: Range<f64>,
    ) -> (Vec<f32>, Vec<f32>) {
        let readings = (duration_s / hop_s) as usize;
        let time = |index: usize| index as f64 * hop_s;
        let short_term = (0..readings)
            .map(|i| {
                let t = time(i);
                if t < 3.0 || gap_s.contains(&t) {
                    f32::NEG_INFINITY
                } else {
                    (centre_lufs + swing_lu * (TAU * t / 47.0).sin()) as f32
                }
            })
            .collect();
        let momentary = (0..readings)
            .map(|i| {
                let t = time(i);
                if t < 0.4 || gap_s.contains(&t) {
                    f32::NAN
                } else {
                    let wobble = 2.5 * (TAU * t / 1.3).sin() + 1.5 * (TAU * t / 0.37).sin();
                    (centre_lufs + swing_lu * (TAU * t / 47.0).sin() + wobble) as f32
                }
            })
            .collect();
        (short_term, momentary)
    }

    /// 256 log-spaced bands from 20 Hz to 20 kHz (as the analyser publishes them).
    fn bands_hz() -> Vec<f32> {
        (0..256).map(|band| (20.0 * 1000_f64.powf(band as f64 / 255.0)) as f32).collect()
    }

    /// A pink-noise-like spectrum (−3 dB per octave through `level_at_1k_db` at 1 kHz) with some
    /// ripple and `tilt_db_per_octave` extra; bands above `cutoff_hz` are invalid (−∞).
    fn synthetic_spectrum(
        frequencies_hz: &[f32],
        level_at_1k_db: f64,
        tilt_db_per_octave: f64,
        cutoff_hz: f32,
    ) -> Vec<f32> {
        frequencies_hz
            .iter()
            .map(|&hz| {
                if hz > cutoff_hz {
                    return f32::NEG_INFINITY;
                }
                let octaves = (f64::from(hz) / 1000.0).log2();
                let ripple = 2.0 * (octaves * 5.1).sin() + 0.8 * (octaves * 23.0).sin();
                (level_at_1k_db + (tilt_db_per_octave - 3.01) * octaves + ripple) as f32
            })
            .collect()
    }

    #[test]
    fn loudness_plot_draws_every_trace_with_text_on_a_dark_background() {
        let folder = test_folder("loudness");
        let path = folder.join("loudness.png");
        let (before_short, before_momentary) = synthetic_loudness(215.0, 0.1, -21.0, 5.0, 120.0..124.0);
        let (after_short, after_momentary) = synthetic_loudness(215.0, 0.1, -14.5, 1.5, 120.0..124.0);
        let traces = [
            LoudnessTrace {
                label: "before",
                hop_s: 0.1,
                short_term_lufs: &before_short,
                momentary_lufs: &before_momentary,
            },
            LoudnessTrace {
                label: "after",
                hop_s: 0.1,
                short_term_lufs: &after_short,
                momentary_lufs: &after_momentary,
            },
        ];
        write_loudness_plot(&path, "Loudness over time — mix_v7_final.wav", &traces, Some(-14.0))
            .expect("write loudness plot");
        keep_for_viewing(&path, "loudness.png");

        let image = Image::read(&path);
        assert_plot_basics(&image);
        for colour in &TRACE_COLOURS[..2] {
            let pixels = image.chart_pixels_of(*colour);
            assert!(pixels > 1000, "only {pixels} chart pixels of {colour:?}");
        }
        assert_eq!(image.chart_pixels_of(TRACE_COLOURS[2]), 0, "a third colour without a third trace");
        assert_eq!(folder_contents(&folder), ["loudness.png"], "temporary file left behind");
        std::fs::remove_dir_all(&folder).expect("remove test folder");
    }

    #[test]
    fn spectrum_plot_draws_every_trace_with_text_on_a_dark_background() {
        let folder = test_folder("spectrum");
        let path = folder.join("spectrum.png");
        let frequencies_hz = bands_hz();
        let before = synthetic_spectrum(&frequencies_hz, -38.0, 0.0, 19_800.0);
        let after = synthetic_spectrum(&frequencies_hz, -31.0, 0.4, 19_800.0);
        let reference = synthetic_spectrum(&frequencies_hz, -34.0, -0.6, 19_800.0);
        let traces = [
            SpectrumTrace { label: "before", frequencies_hz: &frequencies_hz, levels_db: &before },
            SpectrumTrace { label: "after", frequencies_hz: &frequencies_hz, levels_db: &after },
            SpectrumTrace { label: "reference", frequencies_hz: &frequencies_hz, levels_db: &reference },
        ];
        write_spectrum_plot(&path, "Spectrum (long-term average) — mix_v7_final.wav", &traces)
            .expect("write spectrum plot");
        keep_for_viewing(&path, "spectrum.png");

        let image = Image::read(&path);
        assert_plot_basics(&image);
        for colour in &TRACE_COLOURS[..3] {
            let pixels = image.chart_pixels_of(*colour);
            assert!(pixels > 1000, "only {pixels} chart pixels of {colour:?}");
        }
        assert_eq!(folder_contents(&folder), ["spectrum.png"], "temporary file left behind");
        std::fs::remove_dir_all(&folder).expect("remove test folder");
    }

    #[test]
    fn empty_and_silent_inputs_give_plots_without_traces() {
        let folder = test_folder("empty");
        let silent = [f32::NAN, f32::NEG_INFINITY, f32::NAN];
        let loudness_cases: [&[LoudnessTrace<'_>]; 3] = [
            &[],
            &[LoudnessTrace { label: "before", hop_s: 0.1, short_term_lufs: &[], momentary_lufs: &[] }],
            &[LoudnessTrace {
                label: "before",
                hop_s: 0.1,
                short_term_lufs: &silent,
                momentary_lufs: &silent,
            }],
        ];
        for (case, traces) in loudness_cases.iter().enumerate() {
            let path = folder.join(format!("loudness-{case}.png"));
            write_loudness_plot(&path, "silence", traces, Some(-14.0)).expect("write empty loudness plot");
            let image = Image::read(&path);
            assert_eq!((image.width, image.height), (PLOT_WIDTH_PX, PLOT_HEIGHT_PX));
            assert_eq!(image.chart_pixels_of(TRACE_COLOURS[0]), 0, "case {case} drew a trace");
            assert!(image.text_pixels(0..40) > 0, "case {case} has no title");
        }
        let frequencies_hz = [100.0, 1000.0, 10_000.0];
        let spectrum_cases: [&[SpectrumTrace<'_>]; 3] = [
            &[],
            &[SpectrumTrace { label: "before", frequencies_hz: &[], levels_db: &[] }],
            &[SpectrumTrace { label: "before", frequencies_hz: &frequencies_hz, levels_db: &silent }],
        ];
        for (case, traces) in spectrum_cases.iter().enumerate() {
            let path = folder.join(format!("spectrum-{case}.png"));
            write_spectrum_plot(&path, "silence", traces).expect("write empty spectrum plot");
            let image = Image::read(&path);
            assert_eq!((image.width, image.height), (PLOT_WIDTH_PX, PLOT_HEIGHT_PX));
            assert_eq!(image.chart_pixels_of(TRACE_COLOURS[0]), 0, "case {case} drew a trace");
        }
        std::fs::remove_dir_all(&folder).expect("remove test folder");
    }

    #[test]
    fn a_single_reading_is_drawn_as_a_dot() {
        let folder = test_folder("single");
        let path = folder.join("loudness.png");
        let traces =
            [LoudnessTrace { label: "before", hop_s: 0.1, short_term_lufs: &[-14.0], momentary_lufs: &[] }];
        write_loudness_plot(&path, "one reading", &traces, None).expect("write loudness plot");
        assert!(Image::read(&path).chart_pixels_of(TRACE_COLOURS[0]) > 10);

        let path = folder.join("spectrum.png");
        let traces = [SpectrumTrace { label: "before", frequencies_hz: &[1000.0], levels_db: &[-20.0] }];
        write_spectrum_plot(&path, "one band", &traces).expect("write spectrum plot");
        assert!(Image::read(&path).chart_pixels_of(TRACE_COLOURS[0]) > 10);
        std::fs::remove_dir_all(&folder).expect("remove test folder");
    }

    #[test]
    fn odd_but_valid_values_do_not_panic() {
        let folder = test_folder("odd");
        let path = folder.join("plot.png");
        let extreme = [f32::MAX, f32::MIN, f32::INFINITY, -300.0, 12.0, f32::MIN_POSITIVE];
        let traces = [
            LoudnessTrace { label: "", hop_s: 1e-9, short_term_lufs: &extreme, momentary_lufs: &extreme },
            LoudnessTrace {
                label: &"long label ".repeat(20),
                hop_s: 1e6,
                short_term_lufs: &[-20.0; 4],
                momentary_lufs: &[],
            },
        ];
        write_loudness_plot(&path, &"a very long title ".repeat(30), &traces, Some(-80.0)).expect("extremes");
        write_loudness_plot(&path, "", &traces[..1], Some(5.0)).expect("overwrite an existing plot");
        // A DC bin at 0 Hz, bands beyond 20 kHz, and a narrow range.
        let frequencies_hz = [0.0, 10.0, 1000.0, 1001.0, 30_000.0, 1e30];
        let levels_db = [-10.0, -20.0, f32::MAX, f32::MIN, -50.0, -60.0];
        let traces =
            [SpectrumTrace { label: "raw FFT", frequencies_hz: &frequencies_hz, levels_db: &levels_db }];
        write_spectrum_plot(&path, "raw", &traces).expect("raw FFT bins");
        let traces =
            [SpectrumTrace { label: "narrow", frequencies_hz: &[1000.0, 1100.0], levels_db: &[-3.0, -4.0] }];
        write_spectrum_plot(&path, "narrow", &traces).expect("narrow range");
        assert_eq!(folder_contents(&folder), ["plot.png"]);
        std::fs::remove_dir_all(&folder).expect("remove test folder");
    }

    #[test]
    fn invalid_inputs_are_refused_without_writing() {
        let folder = test_folder("invalid");
        let path = folder.join("plot.png");
        let readings = [-20.0_f32; 10];
        let trace = LoudnessTrace {
            label: "before",
            hop_s: 0.1,
            short_term_lufs: &readings,
            momentary_lufs: &readings,
        };

        let mismatched = LoudnessTrace { momentary_lufs: &readings[..9], ..trace };
        let error = write_loudness_plot(&path, "t", &[trace, mismatched], None).unwrap_err();
        assert!(matches!(error, PlotError::MismatchedLengths { left_len: 10, right_len: 9, .. }), "{error}");
        for hop_s in [0.0, -0.1, f64::NAN, f64::INFINITY] {
            let error =
                write_loudness_plot(&path, "t", &[LoudnessTrace { hop_s, ..trace }], None).unwrap_err();
            assert!(matches!(error, PlotError::InvalidHop { .. }), "hop {hop_s}: {error}");
        }
        let error = write_loudness_plot(&path, "t", &[trace], Some(f64::NAN)).unwrap_err();
        assert!(matches!(error, PlotError::InvalidTarget { .. }), "{error}");
        let error = write_loudness_plot(&path, "t", &[trace; MAX_TRACES + 1], None).unwrap_err();
        assert!(matches!(error, PlotError::TooManyTraces { count: 7, .. }), "{error}");

        let spectrum =
            SpectrumTrace { label: "before", frequencies_hz: &[100.0, 200.0], levels_db: &[-10.0, -20.0] };
        let error = write_spectrum_plot(&path, "t", &[SpectrumTrace { levels_db: &[-10.0], ..spectrum }])
            .unwrap_err();
        assert!(matches!(error, PlotError::MismatchedLengths { left_len: 2, right_len: 1, .. }), "{error}");
        for frequencies_hz in [[200.0, 100.0], [100.0, 100.0], [f32::NAN, 100.0]] {
            let error = write_spectrum_plot(
                &path,
                "t",
                &[SpectrumTrace { frequencies_hz: &frequencies_hz, ..spectrum }],
            )
            .unwrap_err();
            assert!(matches!(error, PlotError::FrequenciesNotAscending { .. }), "{error}");
        }
        let error = write_spectrum_plot(&path, "t", &[spectrum; MAX_TRACES + 1]).unwrap_err();
        assert!(matches!(error, PlotError::TooManyTraces { .. }), "{error}");

        assert!(folder_contents(&folder).is_empty(), "a refused plot wrote {:?}", folder_contents(&folder));
        std::fs::remove_dir_all(&folder).expect("remove test folder");
    }

    #[test]
    fn unwritable_destinations_are_reported_with_their_path() {
        let folder = test_folder("unwritable");
        let readings = [-20.0_f32; 10];
        let traces =
            [LoudnessTrace { label: "before", hop_s: 0.1, short_term_lufs: &readings, momentary_lufs: &[] }];

        let missing_folder = folder.join("no such folder").join("plot.png");
        let error = write_loudness_plot(&missing_folder, "t", &traces, None).unwrap_err();
        assert!(matches!(error, PlotError::Write { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains(&missing_folder.display().to_string()), "{message}");
        assert!(!message.contains('\n'), "{message}");

        // A folder where the file should be: the rename fails, the temporary file is removed.
        let occupied = folder.join("taken.png");
        std::fs::create_dir(&occupied).expect("create folder");
        let error = write_loudness_plot(&occupied, "t", &traces, None).unwrap_err();
        assert!(matches!(error, PlotError::Write { .. }), "{error}");
        assert!(error.to_string().contains("taken.png"), "{error}");
        assert_eq!(folder_contents(&folder), ["taken.png"], "temporary file left behind");

        let error = write_loudness_plot(Path::new("/"), "t", &traces, None).unwrap_err();
        assert!(matches!(error, PlotError::NotAFilePath { .. }), "{error}");
        std::fs::remove_dir_all(&folder).expect("remove test folder");
    }

    #[test]
    fn plots_can_be_written_from_several_threads() {
        let folder = test_folder("threads");
        let (short_term, momentary) = synthetic_loudness(30.0, 0.1, -16.0, 3.0, 0.0..0.0);
        std::thread::scope(|scope| {
            for thread in 0..3 {
                let (folder, short_term, momentary) = (&folder, &short_term, &momentary);
                scope.spawn(move || {
                    let traces = [LoudnessTrace {
                        label: "before",
                        hop_s: 0.1,
                        short_term_lufs: short_term,
                        momentary_lufs: momentary,
                    }];
                    // All threads write the same file too: each renames a complete image over it.
                    for path in [folder.join(format!("{thread}.png")), folder.join("shared.png")] {
                        write_loudness_plot(&path, "threads", &traces, None).expect("write plot");
                    }
                });
            }
        });
        assert_eq!(folder_contents(&folder), ["0.png", "1.png", "2.png", "shared.png"]);
        assert_eq!(Image::read(&folder.join("shared.png")).width, PLOT_WIDTH_PX);
        std::fs::remove_dir_all(&folder).expect("remove test folder");
    }

    #[test]
    fn loudness_window_is_round_tall_enough_and_within_limits() {
        let mut extents = vec![None];
        for low in (-90..=10).step_by(3) {
            for height in [0, 1, 4, 9, 19, 25, 40, 70] {
                let low = f64::from(low);
                extents.push(Some((low, low + f64::from(height))));
            }
        }
        for extent in extents {
            let window = loudness_window(extent);
            let text = format!("{extent:?} -> {window:?}");
            assert!(window.high - window.low >= MIN_LOUDNESS_SPAN_LU - 1e-9, "{text}");
            assert!(window.low >= LOUDNESS_FLOOR_LUFS && window.high <= LOUDNESS_CEILING_LUFS, "{text}");
            assert_eq!((window.low / window.step).fract(), 0.0, "{text}");
            assert_eq!((window.high / window.step).fract(), 0.0, "{text}");
            assert!((window.high - window.low) / window.step <= MAX_TICKS, "{text}");
            if let Some((low, high)) = extent {
                let (floor, ceiling) = (LOUDNESS_FLOOR_LUFS, LOUDNESS_CEILING_LUFS);
                assert!(
                    window.low <= low.clamp(floor, ceiling) && window.high >= high.clamp(floor, ceiling),
                    "{text}"
                );
            }
        }
        assert_eq!(loudness_window(Some((-16.0, -12.0))), AxisWindow { low: -24.0, high: -4.0, step: 2.0 });
    }

    #[test]
    fn spectrum_window_ends_above_the_maximum_and_ignores_a_few_outliers() {
        let mut levels: Vec<f64> = (0..200).map(|i| -20.0 - f64::from(i) * 0.2).collect();
        levels.extend([-200.0, -200.0]);
        let window = spectrum_window(&mut levels);
        assert_eq!(window, AxisWindow { low: -70.0, high: -10.0, step: 10.0 });
        let mut wide: Vec<f64> = (0..200).map(|i| f64::from(i) * -0.6).collect();
        let window = spectrum_window(&mut wide);
        assert_eq!((window.high, window.high - window.low), (10.0, MAX_SPECTRUM_SPAN_DB));
        assert_eq!(spectrum_window(&mut []), AxisWindow { low: -80.0, high: 0.0, step: 10.0 });
    }

    #[test]
    fn frequency_axis_has_the_usual_ticks() {
        let (labelled, unlabelled) = frequency_ticks(SPECTRUM_MIN_HZ, SPECTRUM_MAX_HZ);
        let labels: Vec<String> = labelled.iter().map(|&hz| format_frequency(hz)).collect();
        assert_eq!(labels, ["20", "50", "100", "200", "500", "1k", "2k", "5k", "10k", "20k"]);
        assert_eq!(unlabelled[..3], [30.0, 40.0, 60.0]);
        assert_eq!(frequency_window(Some((10.0, 24_000.0))), (20.0, 20_000.0));
        assert_eq!(frequency_window(Some((45.0, 12_000.0))), (45.0, 12_000.0));
        assert_eq!(frequency_window(Some((22.0, 19_845.0))), (20.0, 20_000.0));
        assert_eq!(frequency_window(Some((105.0, 4_500.0))), (100.0, 5_000.0));
        assert_eq!(frequency_window(Some((1000.0, 1100.0))), (20.0, 20_000.0));
        assert_eq!(frequency_window(None), (20.0, 20_000.0));
        assert_eq!(format_frequency(2500.0), "2.5k");
        assert_eq!(format_frequency(31.5), "31.5");
    }

    #[test]
    fn labels_read_like_a_meter() {
        assert_eq!(format_level(-14.0), "\u{2212}14");
        assert_eq!(format_level(-0.0), "0");
        assert_eq!(format_level(-23.5), "\u{2212}23.5");
        assert_eq!(format_level(6.0), "6");
        assert_eq!(format_time(12.0, 2.0, false), "12");
        assert_eq!(format_time(0.5, 0.1, false), "0.5");
        assert_eq!(format_time(75.0, 15.0, true), "1:15");
        assert_eq!(format_time(3725.0, 300.0, true), "1:02:05");
        assert_eq!(time_window(215.0), AxisWindow { low: 0.0, high: 215.0, step: 30.0 });
        assert_eq!(time_window(0.0), AxisWindow { low: 0.0, high: 1.0, step: 0.1 });
        assert!(time_window(1e7).high / time_window(1e7).step <= MAX_TICKS);
        assert_eq!(shorten(&"x".repeat(50), MAX_LABEL_CHARS).chars().count(), MAX_LABEL_CHARS);
        assert_eq!(shorten("before the limiter", 10), "before th…");
        assert_eq!(shorten("before", 10), "before");
    }

    #[test]
    fn error_messages_are_one_line_naming_the_path() {
        let path = PathBuf::from("/tmp/out/plot.png");
        let errors = [
            PlotError::InvalidHop { path: path.clone(), label: "before".into(), hop_s: 0.0 },
            PlotError::TooManyTraces { path: path.clone(), count: 9 },
            PlotError::Write { path: path.clone(), io_error: std::io::Error::other("disk full") },
        ];
        for error in errors {
            let message = error.to_string();
            assert!(message.contains("/tmp/out/plot.png") && !message.contains('\n'), "{message}");
        }
    }
}
