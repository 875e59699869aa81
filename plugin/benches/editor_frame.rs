//! The editor's CPU time per frame, page by page, at the default size (1120 × 740 points) and at
//! 150 % scale: building the UI (Parity's code and egui's layout) and tessellating its shapes
//! into meshes, i.e. everything but the GPU upload and raster. The engine has played 30 s of the
//! demo song, so every meter, trace, the spectrum and the vectorscope are live; the engine keeps
//! playing between frames (one 16 ms block per frame, as in a host at 60 fps). Figures are the
//! median and the 99th percentile of 600 frames after 60 warm-up frames. The target is ≤ 4 ms per
//! frame. Then 200 windows are opened one after another and the RSS printed (flat: the editor
//! keeps nothing per window). Run with `cargo bench -p parity --bench editor_frame`.

use std::sync::Arc;
use std::time::Duration;

use parity::editor::headless::HeadlessEditor;
use parity::editor::EditorFeeds;
use parity::editor_settings::{Page, Stage, DEFAULT_SIZE};
use parity::engine::{Engine, ProcessSpec};
use parity::params::ParityParams;

/// Sample rate of the run.
const RATE_HZ: f64 = 48_000.0;

/// Frames measured per page.
const FRAMES: usize = 600;

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    sorted[((sorted.len() as f64 * fraction) as usize).min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Resident memory of this process, kB (Linux).
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

/// Opens 200 windows one after another (a fresh egui context each, the same editor, 10 frames
/// on a page each) and prints the RSS: the editor keeps nothing per window.
fn windows() {
    let params = Arc::new(ParityParams::default());
    let mut engine = Engine::new();
    engine.prepare(ProcessSpec { sample_rate_hz: RATE_HZ, max_block_frames: 1024, channels: 2 }).unwrap();
    engine.set_analysis_enabled(true);
    let feeds = EditorFeeds::take_from(&mut engine);
    let mut editor = HeadlessEditor::new(params, feeds, DEFAULT_SIZE.0, DEFAULT_SIZE.1, 1.0);
    let mut line = String::from("200 headless windows opened and closed, RSS kB after every 40:");
    for window in 1..=200 {
        editor.new_window();
        editor.set_page(Page::ALL[window % Page::ALL.len()]);
        for _ in 0..10 {
            editor.frame(Vec::new());
        }
        if window % 40 == 0 {
            line.push_str(&format!(" {}", rss_kb()));
        }
    }
    println!("{line}");
}

fn main() {
    windows();
    let song = parity::demo_song::render_demo_song(RATE_HZ);
    for scale in [1.0f32, 1.5] {
        println!("scale {:.0} %, {}×{} points:", scale * 100.0, DEFAULT_SIZE.0, DEFAULT_SIZE.1);
        let cases: Vec<(Page, Option<Stage>)> = vec![
            (Page::Loudness, None),
            (Page::Chain, Some(Stage::Eq)),
            (Page::Chain, Some(Stage::Multiband)),
            (Page::Chain, Some(Stage::Limiter)),
            (Page::Spectrum, None),
            (Page::Stereo, None),
            (Page::References, None),
            (Page::Platforms, None),
            (Page::Checks, None),
        ];
        for (page, stage) in cases {
            let params = Arc::new(ParityParams::default());
            let mut engine = Engine::new();
            engine
                .prepare(ProcessSpec { sample_rate_hz: RATE_HZ, max_block_frames: 1024, channels: 2 })
                .unwrap();
            engine.set_settings(&params.chain_settings());
            engine.set_analysis_enabled(true);
            let feeds = EditorFeeds::take_from(&mut engine);
            let mut editor =
                HeadlessEditor::new(params.clone(), feeds, DEFAULT_SIZE.0, DEFAULT_SIZE.1, scale);
            editor.set_page(page);
            if let Some(stage) = stage {
                editor.set_stage(stage);
            }
            let (mut left, mut right) = (song[0].clone(), song[1].clone());
            let block = (RATE_HZ * 0.016) as usize;
            let mut position = 0;
            let mut play = |engine: &mut Engine, frames: usize| {
                for _ in 0..frames.div_ceil(block) {
                    if position + block > left.len() {
                        position = 0;
                    }
                    let (l, r) =
                        (&mut left[position..position + block], &mut right[position..position + block]);
                    engine.process(&mut [l, r]);
                    position += block;
                }
            };
            play(&mut engine, (RATE_HZ * 30.0) as usize);
            let mut ui = Vec::with_capacity(FRAMES);
            let mut total = Vec::with_capacity(FRAMES);
            let mut primitives = 0;
            for frame in 0..(60 + FRAMES) {
                play(&mut engine, block);
                let cost = editor.frame(Vec::new());
                if frame >= 60 {
                    ui.push(cost.ui);
                    total.push(cost.ui + cost.tessellate);
                    primitives = cost.primitives;
                }
            }
            ui.sort();
            total.sort();
            let name = match stage {
                Some(stage) => format!("{} / {}", page.title(), stage.title()),
                None => page.title().to_owned(),
            };
            println!(
                "  {name:<20} ui {:5.2} ms median, {:5.2} ms p99 · ui + tessellation {:5.2} ms median, {:5.2} ms p99 · {primitives} meshes",
                percentile(&ui, 0.5),
                percentile(&ui, 0.99),
                percentile(&total, 0.5),
                percentile(&total, 0.99),
            );
        }
    }
}
