//! Reference tracks: up to [`REFERENCE_SLOTS`] files loaded inside the session, for A/B
//! comparison at equal loudness.
//!
//! | thread | what it does here |
//! |---|---|
//! | GUI / host main | [`ReferenceBank`] methods: load, clear, trim, loop points; state save/load |
//! | loader (one per plugin instance, owned by the bank) | decode, resample to the session rate, analyse ([`load`], [`resample`], [`analysis`]) |
//! | audio | [`ReferencePlayer`]: takes finished audio wait-free, plays it, hands replaced buffers back |
//!
//! Only paths, trims, loop points and a small analysis summary are saved with the session, never
//! audio. A slot whose file is gone on reload says "missing" and the plugin loads anyway.

pub mod analysis;
mod bank;
pub mod load;
mod player;
pub mod resample;

pub use bank::{
    AnalysisSummary, Delivery, PlayerLink, ReferenceBank, ReferenceBankState, SharedSlots, SlotInfo,
    SlotSettings, SlotShared, SlotStatus, SLOT_GAIN_RANGE_DB,
};
pub use player::{PlayPosition, ReferencePlayer};

/// Number of reference slots.
pub const REFERENCE_SLOTS: usize = 16;

#[cfg(test)]
mod tests;
