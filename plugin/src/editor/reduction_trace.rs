//! A gain-reduction history trace (limiter, glue): one value per editor frame, each the largest
//! reduction since the previous frame (the engine keeps a peak the editor takes and clears), so
//! no short reduction is lost between frames. Drawn hanging down from 0 dB, newest at the right.

use std::time::Instant;

use egui::{Align2, FontId, Pos2, Sense, Shape, Stroke, Vec2};

use super::widgets::{format_reduction, DbAxis, GRID_TEXT, PLOT_BACKGROUND, REDUCTION};

/// Entries kept: about 17 s at 60 frames per second.
pub const TRACE_CAPACITY: usize = 1024;

/// The trace's ring (GUI thread).
#[derive(Debug)]
pub struct ReductionTrace {
    /// Seconds since `start` of each entry.
    times_s: Vec<f32>,
    /// Reduction of each entry, dB (positive = reduction).
    values_db: Vec<f32>,
    /// Where the next entry goes.
    next: usize,
    /// Valid entries.
    len: usize,
    /// Time origin.
    start: Instant,
}

impl Default for ReductionTrace {
    fn default() -> Self {
        Self {
            times_s: vec![0.0; TRACE_CAPACITY],
            values_db: vec![0.0; TRACE_CAPACITY],
            next: 0,
            len: 0,
            start: Instant::now(),
        }
    }
}

impl ReductionTrace {
    /// Adds the reduction of this frame (non-finite or negative values count as 0).
    pub fn push(&mut self, reduction_db: f32) {
        self.push_at(self.start.elapsed().as_secs_f32(), reduction_db);
    }

    /// Adds an entry at `time_s` seconds since the trace's origin.
    fn push_at(&mut self, time_s: f32, reduction_db: f32) {
        self.times_s[self.next] = time_s;
        self.values_db[self.next] = if reduction_db.is_finite() { reduction_db.max(0.0) } else { 0.0 };
        self.next = (self.next + 1) % TRACE_CAPACITY;
        self.len = (self.len + 1).min(TRACE_CAPACITY);
    }

    /// The largest reduction within the last `span_s` seconds, dB.
    pub fn max_db(&self, span_s: f32) -> f32 {
        let now = self.start.elapsed().as_secs_f32();
        self.entries().filter(|(t, _)| now - t <= span_s).map(|(_, v)| v).fold(0.0, f32::max)
    }

    /// Entries from the newest to the oldest: (time, reduction).
    fn entries(&self) -> impl Iterator<Item = (f32, f32)> + '_ {
        (0..self.len).map(move |age| {
            let index = (self.next + TRACE_CAPACITY - 1 - age) % TRACE_CAPACITY;
            (self.times_s[index], self.values_db[index])
        })
    }

    /// Draws the last `span_s` seconds into `size`, 0 … `range_db` dB downwards.
    pub fn show(&self, ui: &mut egui::Ui, size: Vec2, span_s: f32, range_db: f32, label: &str) {
        let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 4.0, PLOT_BACKGROUND);
        // 0 dB at the top, the reduction hangs down.
        let axis = DbAxis { rect, top_db: 0.0, bottom_db: -range_db };
        let step = if range_db > 12.0 {
            6.0
        } else if range_db > 4.0 {
            2.0
        } else {
            1.0
        };
        let ticks: Vec<f32> = (1..).map(|i| -(i as f32) * step).take_while(|v| *v > -range_db).collect();
        axis.draw_grid(&painter, &ticks, " dB");
        let now = self.start.elapsed().as_secs_f32();
        let x = |t: f32| rect.right() - (now - t) / span_s * rect.width();
        let mut outline: Vec<Pos2> = Vec::new();
        for (t, value) in self.entries() {
            if now - t > span_s {
                break;
            }
            outline.push(Pos2::new(x(t), axis.y(-value)));
        }
        // Filled area between 0 dB and the trace, one quad per step (convex pieces).
        for pair in outline.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            painter.add(Shape::convex_polygon(
                vec![Pos2::new(a.x, rect.top()), Pos2::new(b.x, rect.top()), b, a],
                REDUCTION.gamma_multiply(0.35),
                Stroke::NONE,
            ));
        }
        if outline.len() > 1 {
            painter.add(Shape::line(outline, Stroke::new(1.5, REDUCTION)));
        }
        painter.text(
            rect.right_bottom() + Vec2::new(-6.0, -4.0),
            Align2::RIGHT_BOTTOM,
            format!("{label} · max {} in {span_s:.0} s", format_reduction(self.max_db(span_s))),
            FontId::monospace(11.0),
            GRID_TEXT,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_entries_and_reports_the_recent_maximum() {
        let mut trace = ReductionTrace::default();
        for i in 0..(TRACE_CAPACITY + 10) {
            trace.push_at(i as f32 * 0.016, if i == 5 { 9.0 } else { (i % 7) as f32 * 0.5 });
        }
        assert_eq!(trace.len, TRACE_CAPACITY);
        // Entry 5 fell out of the ring: the largest left is 3.0.
        assert_eq!(trace.entries().map(|(_, v)| v).fold(0.0, f32::max), 3.0);
        let newest = trace.entries().next().unwrap();
        assert!((newest.0 - (TRACE_CAPACITY + 9) as f32 * 0.016).abs() < 1e-3);
        trace.push_at(100.0, f32::NAN);
        trace.push_at(100.1, -3.0);
        assert_eq!(trace.entries().next().unwrap().1, 0.0);
    }
}
