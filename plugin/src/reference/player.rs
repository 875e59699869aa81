//! The audio thread's side of the reference slots: receives finished loads wait-free, plays them
//! (free-running between loop points, or at the host's song position), and hands every buffer it
//! lets go of back to the loader thread, which frees it.
//!
//! Nothing here allocates, frees, locks or waits. The hand-off is two bounded SPSC queues (rtrb):
//! deliveries come in on one and replaced buffers go back on the other. A delivery is taken only
//! while the return queue has room for the one buffer it may displace, so a buffer never has to
//! be dropped here.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::bank::{Delivery, PlayerLink, SharedSlots};
use super::load::LoadedReference;
use super::REFERENCE_SLOTS;

/// Plays the reference slots on the audio thread.
pub struct ReferencePlayer {
    /// The queues to and from the loader (`None`: an engine without references, e.g. the CLI).
    link: Option<PlayerLink>,
    /// The loaded audio of each slot, at the prepared sample rate.
    slots: [Option<Box<LoadedReference>>; REFERENCE_SLOTS],
    /// Free-running playhead of each slot, in frames.
    playheads: [usize; REFERENCE_SLOTS],
    /// Sample rate the player is prepared for; deliveries at another rate are refused.
    sample_rate_hz: f64,
}

impl Default for ReferencePlayer {
    fn default() -> Self {
        Self::new(None)
    }
}

/// Where a slot plays from in one call to [`ReferencePlayer::render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayPosition {
    /// The slot's own free-running playhead, looping between its loop points.
    Free,
    /// A song position in frames (already compensated for the chain latency): the reference's
    /// loop start plays at song position 0. Outside the file the slot is silent.
    Song(i64),
}

impl ReferencePlayer {
    /// A player fed by `link` (from [`super::ReferenceBank::take_player_link`]).
    pub fn new(link: Option<PlayerLink>) -> Self {
        Self { link, slots: Default::default(), playheads: [0; REFERENCE_SLOTS], sample_rate_hz: 0.0 }
    }

    /// Prepares for a sample rate (host main thread; may free): slots loaded at another rate are
    /// let go of, since the bank reloads them for the new rate.
    pub fn prepare(&mut self, sample_rate_hz: f64) {
        if sample_rate_hz.to_bits() != self.sample_rate_hz.to_bits() {
            for slot in 0..REFERENCE_SLOTS {
                if let Some(old) = self.slots[slot].take() {
                    self.give_back(old);
                }
            }
            self.sample_rate_hz = sample_rate_hz;
        }
        self.playheads = [0; REFERENCE_SLOTS];
    }

    /// Rewinds the free-running playheads to their loop starts (no allocation).
    pub fn reset(&mut self) {
        for slot in 0..REFERENCE_SLOTS {
            self.playheads[slot] = self.loop_bounds(slot).0;
        }
    }

    /// Takes in finished loads (audio thread, wait-free). Stale deliveries (an older generation
    /// than the slot's latest request, or another sample rate) go straight back.
    pub fn receive(&mut self) {
        let Some(link) = &mut self.link else { return };
        while link.returns.slots() > 0 {
            let Ok(Delivery { slot, generation, reference }) = link.deliveries.pop() else { break };
            let Some(shared) = link.shared.slots.get(slot) else {
                if let Some(reference) = reference {
                    let _ = link.returns.push(reference);
                }
                continue;
            };
            let current = shared.generation.load(Ordering::Acquire) == generation;
            let rate_ok = reference
                .as_ref()
                .is_none_or(|r| r.audio.sample_rate_hz.to_bits() == self.sample_rate_hz.to_bits());
            if current && rate_ok {
                let old = std::mem::replace(&mut self.slots[slot], reference);
                self.playheads[slot] = loop_bounds(&link.shared, slot, self.slots[slot].as_deref()).0;
                shared.playing_generation.store(generation, Ordering::Release);
                if let Some(old) = old {
                    let _ = link.returns.push(old);
                }
            } else if let Some(reference) = reference {
                let _ = link.returns.push(reference);
            }
        }
    }

    /// Hands a buffer back to the loader for freeing (only where freeing here would be allowed
    /// anyway: `prepare`, or when the queue is full, which `receive` prevents).
    fn give_back(&mut self, reference: Box<LoadedReference>) {
        if let Some(link) = &mut self.link {
            if let Err(rtrb::PushError::Full(reference)) = link.returns.push(reference) {
                drop(reference);
            }
        }
    }

    /// True when `slot` has audio to play.
    pub fn is_loaded(&self, slot: usize) -> bool {
        self.slots.get(slot).is_some_and(Option::is_some)
    }

    /// The loaded reference of `slot`, if any.
    pub fn reference(&self, slot: usize) -> Option<&LoadedReference> {
        self.slots.get(slot).and_then(|s| s.as_deref())
    }

    /// The slot's gain trim in dB (0 without a bank).
    pub fn gain_db(&self, slot: usize) -> f32 {
        self.link
            .as_ref()
            .and_then(|link| link.shared.slots.get(slot))
            .map_or(0.0, |shared| shared.gain_db.load(Ordering::Relaxed))
    }

    /// The frame `render` would start at for `slot` and `position` (`None`: outside the file).
    pub fn start_frame(&self, slot: usize, position: PlayPosition) -> Option<usize> {
        let reference = self.reference(slot)?;
        match position {
            PlayPosition::Free => Some(self.playheads[slot]),
            PlayPosition::Song(song_frames) => {
                let (loop_start, _) = self.loop_bounds(slot);
                let frame = loop_start as i64 + song_frames;
                (frame >= 0 && (frame as usize) < reference.audio.left.len()).then_some(frame as usize)
            }
        }
    }

    /// The slot's short-term loudness at the frame it plays now, LUFS (`None`: not loaded,
    /// outside the file, or silent there).
    pub fn short_term_lufs_at(&self, slot: usize, position: PlayPosition) -> Option<f32> {
        let reference = self.reference(slot)?;
        let frame = self.start_frame(slot, position)?;
        let curve = &reference.analysis.short_term_lufs;
        // Entry k covers the 3 s ending at (k + 1)·100 ms.
        let hop = (self.sample_rate_hz * 0.1).max(1.0);
        let index = ((frame as f64 / hop) as usize).saturating_sub(1);
        curve.get(index.min(curve.len().saturating_sub(1))).copied().filter(|v| v.is_finite())
    }

    /// Loop start and end of `slot` in frames, clamped to the file (end exclusive).
    fn loop_bounds(&self, slot: usize) -> (usize, usize) {
        match &self.link {
            Some(link) => loop_bounds(&link.shared, slot, self.reference(slot)),
            None => (0, self.reference(slot).map_or(0, |r| r.audio.left.len())),
        }
    }

    /// Writes `left.len()` frames of `slot` at `position` into `left`/`right` (silence where
    /// there is nothing to play). Free-running playheads don't move here: see [`Self::advance`].
    pub fn render(&self, slot: usize, position: PlayPosition, left: &mut [f32], right: &mut [f32]) {
        left.fill(0.0);
        right.fill(0.0);
        let Some(reference) = self.reference(slot) else { return };
        let (source_left, source_right) = (&reference.audio.left[..], &reference.audio.right[..]);
        let frames = left.len().min(right.len());
        match position {
            PlayPosition::Song(song_frames) => {
                let (loop_start, _) = self.loop_bounds(slot);
                for i in 0..frames {
                    let frame = loop_start as i64 + song_frames + i as i64;
                    if frame >= 0 && (frame as usize) < source_left.len() {
                        left[i] = source_left[frame as usize];
                        right[i] = source_right[frame as usize];
                    }
                }
            }
            PlayPosition::Free => {
                let (loop_start, loop_end) = self.loop_bounds(slot);
                let mut frame = self.playheads[slot];
                for i in 0..frames {
                    if frame >= loop_end || frame < loop_start {
                        frame = loop_start;
                    }
                    if frame < loop_end {
                        left[i] = source_left[frame];
                        right[i] = source_right[frame];
                    }
                    frame += 1;
                }
            }
        }
    }

    /// Moves the free-running playhead of `slot` on by `frames`, wrapping between its loop points.
    pub fn advance(&mut self, slot: usize, frames: usize) {
        if !self.is_loaded(slot) {
            return;
        }
        let (loop_start, loop_end) = self.loop_bounds(slot);
        let length = loop_end.saturating_sub(loop_start);
        let head = &mut self.playheads[slot];
        if length == 0 {
            *head = loop_start;
            return;
        }
        if *head < loop_start || *head >= loop_end {
            *head = loop_start;
        }
        *head = loop_start + (*head - loop_start + frames) % length;
    }

    /// The sample rate the player is prepared for.
    pub fn sample_rate_hz(&self) -> f64 {
        self.sample_rate_hz
    }

    /// The shared slot settings (`None` without a bank).
    pub fn shared(&self) -> Option<&Arc<SharedSlots>> {
        self.link.as_ref().map(|link| &link.shared)
    }
}

/// Loop start and end of `slot` in frames, clamped to the file: an end at or before the start
/// (including the stored 0 = "to the end") plays to the end of the file.
fn loop_bounds(shared: &SharedSlots, slot: usize, reference: Option<&LoadedReference>) -> (usize, usize) {
    let Some(reference) = reference else { return (0, 0) };
    let length = reference.audio.left.len();
    let rate = reference.audio.sample_rate_hz;
    let Some(slot_shared) = shared.slots.get(slot) else { return (0, length) };
    let to_frame = |seconds: f64| -> usize {
        if seconds.is_finite() && seconds > 0.0 {
            ((seconds * rate) as usize).min(length)
        } else {
            0
        }
    };
    let start = to_frame(slot_shared.loop_start_s.load(Ordering::Relaxed)).min(length.saturating_sub(1));
    let end = to_frame(slot_shared.loop_end_s.load(Ordering::Relaxed));
    if end > start {
        (start, end)
    } else {
        (start, length)
    }
}
