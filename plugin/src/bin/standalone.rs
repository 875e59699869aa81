//! Parity as a standalone application (JACK, ALSA through cpal, or `--backend dummy` without a
//! sound card). Parity's own flag `--demo-input` feeds the built-in demo mix into the plugin so
//! the meters move without a DAW; every other flag is nice-plug's (`--help` lists them).

use std::sync::atomic::Ordering;

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(index) = args.iter().position(|arg| arg == "--demo-input") {
        args.remove(index);
        parity::STANDALONE_DEMO_INPUT.store(true, Ordering::Relaxed);
    }
    nice_plug::prelude::nice_export_standalone_with_args::<parity::Parity, _>(args);
}
