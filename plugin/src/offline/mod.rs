//! The offline tools' engine room (feature `cli`): whole-file analysis, renders through the
//! plugin's [`Engine`](crate::engine::Engine), mastering to a loudness target, comparisons, album
//! reports, the EBU conformance self-test and the reports' text and JSON. The `parity` binary
//! (`src/bin/parity.rs`) is only the command line around these.

pub mod album;
pub mod analysis;
pub mod compare;
pub mod render;
pub mod report;
pub mod selftest;
pub mod settings;
