//! The editor driven headless ([`super::headless`]): every page at every size and scale with
//! live readings, and the controls a user touches, checked through what the host sees (the
//! begin/set/end gestures and the parameter values) and what the editor then draws.

use std::sync::Arc;

use super::headless::{click, drag, key, Gesture, HeadlessEditor};
use super::EditorFeeds;
use crate::editor_settings::{Page, Stage, DEFAULT_SIZE, MIN_SIZE};
use crate::engine::{Engine, ProcessSpec};
use crate::params::ParityParams;

/// An engine that has played `seconds` of the demo song, and the editor feeds taken from it.
fn played_engine(params: &ParityParams, seconds: f64) -> (Engine, EditorFeeds) {
    let mut engine = Engine::new();
    engine.prepare(ProcessSpec { sample_rate_hz: 48_000.0, max_block_frames: 512, channels: 2 }).unwrap();
    engine.set_settings(&params.chain_settings());
    engine.set_analysis_enabled(true);
    let feeds = EditorFeeds::take_from(&mut engine);
    let [mut left, mut right] = crate::demo_song::render_demo_song(48_000.0);
    let frames = ((seconds * 48_000.0) as usize).min(left.len());
    for (l, r) in left[..frames].chunks_mut(512).zip(right[..frames].chunks_mut(512)) {
        engine.process(&mut [l, r]);
    }
    (engine, feeds)
}

/// A headless editor over an engine that played 8 s of the demo song.
fn editor(width: f32, height: f32, scale: f32) -> (Arc<ParityParams>, Engine, HeadlessEditor) {
    let params = Arc::new(ParityParams::default());
    let (engine, feeds) = played_engine(&params, 8.0);
    let editor = HeadlessEditor::new(params.clone(), feeds, width, height, scale);
    (params, engine, editor)
}

#[test]
fn every_page_draws_at_every_size_and_scale_with_live_readings() {
    // Sizes: default, the minimum, a host forcing a window far below the minimum, a large one.
    for (width, height, scale) in [
        (DEFAULT_SIZE.0, DEFAULT_SIZE.1, 1.0),
        (DEFAULT_SIZE.0, DEFAULT_SIZE.1, 1.5),
        (MIN_SIZE.0, MIN_SIZE.1, 1.0),
        (320.0, 200.0, 1.0),
        (2400.0, 1500.0, 2.0),
    ] {
        let (_params, _engine, mut editor) = editor(width, height, scale);
        for page in Page::ALL {
            editor.set_page(page);
            let mut cost = editor.frame(Vec::new());
            for _ in 0..3 {
                cost = editor.frame(Vec::new());
            }
            assert!(cost.primitives > 5, "{page:?} at {width}×{height}: {} primitives", cost.primitives);
        }
        // The chain page's every stage.
        editor.set_page(Page::Chain);
        for stage in Stage::ALL {
            editor.set_stage(stage);
            editor.frame(Vec::new());
            editor.frame(Vec::new());
        }
    }
}

#[test]
fn the_loudness_page_shows_the_engines_readings_with_real_minus_signs() {
    let (_params, _engine, mut editor) = editor(DEFAULT_SIZE.0, DEFAULT_SIZE.1, 1.0);
    editor.set_page(Page::Loudness);
    editor.frame(Vec::new());
    editor.frame(Vec::new());
    let integrated = super::widgets::format_lu(editor.view().output_meters.integrated_lufs());
    assert!(editor.shows(&integrated), "integrated {integrated} not drawn: {:?}", editor.texts());
    assert!(editor.shows("Integrated") && editor.shows("Short-term") && editor.shows("LRA"));
    assert!(
        editor.texts().iter().all(|text| !text.contains("-1") && !text.contains("-2")),
        "ASCII minus: {:?}",
        editor.texts()
    );
}

#[test]
fn clicking_bypass_is_one_host_gesture_and_host_automation_moves_the_control_back() {
    let (params, _engine, mut editor) = editor(DEFAULT_SIZE.0, DEFAULT_SIZE.1, 1.0);
    editor.frame(Vec::new());
    let bypass = editor.probe("bypass").expect("the bypass button is drawn");
    editor.take_gestures();
    editor.frames(click(bypass.center()));
    assert_eq!(
        editor.take_gestures(),
        vec![
            Gesture::Begin("Bypass".into()),
            Gesture::Set("Bypass".into(), 1.0),
            Gesture::End("Bypass".into())
        ]
    );
    assert!(params.bypass.value());
    assert!(editor.shows("BYPASSED"));
    // The host automates it back: the editor follows on its next frame, and records nothing.
    let pointer = nice_plug::prelude::Param::as_ptr(&params.bypass);
    unsafe { pointer._internal_set_normalized_value(0.0) };
    editor.frame(Vec::new());
    assert!(!editor.shows("BYPASSED") && editor.shows("Bypass"));
    assert!(editor.take_gestures().is_empty());
}

#[test]
fn keys_switch_the_monitor_source_and_the_bypass_through_gestures() {
    let (params, _engine, mut editor) = editor(DEFAULT_SIZE.0, DEFAULT_SIZE.1, 1.0);
    editor.frame(Vec::new());
    editor.take_gestures();
    editor.frame(key(egui::Key::A));
    assert_eq!(params.monitor.source.value(), 1, "A: unprocessed");
    editor.frame(key(egui::Key::A));
    assert_eq!(params.monitor.source.value(), 0, "A again: processed");
    // R without a loaded reference does nothing; 3 neither.
    editor.frame(key(egui::Key::R));
    editor.frame(key(egui::Key::Num3));
    assert_eq!(params.monitor.source.value(), 0);
    editor.frame(key(egui::Key::B));
    assert!(params.bypass.value());
    let gestures = editor.take_gestures();
    assert_eq!(gestures.iter().filter(|g| matches!(g, Gesture::Begin(_))).count(), 3, "{gestures:?}");
    assert_eq!(gestures.iter().filter(|g| matches!(g, Gesture::End(_))).count(), 3, "{gestures:?}");
}

#[test]
fn dragging_an_eq_node_is_one_gesture_that_moves_frequency_and_gain_to_the_pointer() {
    let (params, _engine, mut editor) = editor(DEFAULT_SIZE.0, DEFAULT_SIZE.1, 1.0);
    editor.set_page(Page::Chain);
    editor.set_stage(Stage::Eq);
    editor.frame(Vec::new());
    editor.frame(Vec::new());
    let node = editor.rect_of(super::eq_curve::node_id(3)).expect("band 4's node is drawn");
    let before_freq = params.eq.bands[3].freq_hz.value();
    let target = node.center() + egui::vec2(120.0, -60.0);
    editor.take_gestures();
    editor.frames(drag(node.center(), target, 6));
    let gestures = editor.take_gestures();
    let names =
        |kind: fn(&Gesture) -> Option<&String>| gestures.iter().filter_map(kind).cloned().collect::<Vec<_>>();
    let begins = names(|g| if let Gesture::Begin(n) = g { Some(n) } else { None });
    let ends = names(|g| if let Gesture::End(n) = g { Some(n) } else { None });
    assert_eq!(begins.len(), 2, "{gestures:?}");
    assert_eq!(ends.len(), 2, "{gestures:?}");
    assert!(begins.iter().all(|n| n.starts_with("EQ 4")), "{begins:?}");
    assert!(gestures.iter().filter(|g| matches!(g, Gesture::Set(..))).count() >= 6);
    // 120 points right on a ~900-point 3-decade axis ≈ +0.4 decades; 60 points up on ±18 dB
    // over the curve's height is a few dB of boost.
    let freq = params.eq.bands[3].freq_hz.value();
    let gain = params.eq.bands[3].gain_db.value();
    assert!(freq > before_freq * 1.8 && freq < before_freq * 3.5, "{before_freq} → {freq}");
    assert!(gain > 2.0 && gain < 12.0, "{gain}");
    // The node follows: it is now under the pointer.
    editor.frame(Vec::new());
    let moved = editor.rect_of(super::eq_curve::node_id(3)).unwrap();
    assert!((moved.center() - target).length() < 3.0, "{:?} vs {target:?}", moved.center());
}

#[test]
fn dragging_a_crossover_handle_moves_the_multiband_split() {
    let (params, _engine, mut editor) = editor(DEFAULT_SIZE.0, DEFAULT_SIZE.1, 1.0);
    editor.set_page(Page::Chain);
    editor.set_stage(Stage::Multiband);
    editor.frame(Vec::new());
    editor.frame(Vec::new());
    let handle = editor.rect_of(egui::Id::unique(("parity-crossover", 1usize))).expect("the mid/high handle");
    let before = params.multiband.crossover_high_hz.value();
    editor.take_gestures();
    editor.frames(drag(handle.center(), handle.center() - egui::vec2(80.0, 0.0), 4));
    let after = params.multiband.crossover_high_hz.value();
    assert!(after < before * 0.75, "{before} → {after}");
    let gestures = editor.take_gestures();
    assert!(
        matches!(gestures.first(), Some(Gesture::Begin(name)) if name.contains("Mid/High")),
        "{gestures:?}"
    );
    assert!(matches!(gestures.last(), Some(Gesture::End(name)) if name.contains("Mid/High")), "{gestures:?}");
}

#[test]
fn clicking_a_tab_opens_the_page_and_the_choice_is_saved_with_the_session() {
    let (params, _engine, mut editor) = editor(DEFAULT_SIZE.0, DEFAULT_SIZE.1, 1.0);
    editor.set_page(Page::Loudness);
    editor.frame(Vec::new());
    let tab = editor.probe("Platforms").expect("the tab is drawn");
    editor.frames(click(tab.center()));
    assert_eq!(params.editor.get().page, Page::Platforms);
    assert!(editor.shows("Spotify") && editor.shows("EBU R 128 (broadcast)"));
    // Nothing the page choice does is a parameter.
    assert!(editor.take_gestures().is_empty());
}

#[test]
fn the_window_size_is_saved_with_the_session_and_asked_for_when_the_window_opens() {
    let (params, _engine, mut editor) = editor(1300.0, 860.0, 1.0);
    editor.frame(Vec::new());
    // The user's size is recorded (points at 100 %).
    let saved = params.editor.get();
    assert_eq!((saved.width, saved.height), (1300.0, 860.0));
    // A later session opens the window at the framework's default size: the editor asks once
    // for the saved size, and does not overwrite it with the default meanwhile.
    editor.reopen(DEFAULT_SIZE.0, DEFAULT_SIZE.1);
    editor.frame(Vec::new());
    assert_eq!(editor.commands(), &[egui::ViewportCommand::InnerSize(egui::vec2(1300.0, 860.0))]);
    assert_eq!((params.editor.get().width, params.editor.get().height), (1300.0, 860.0));
    for _ in 0..super::SIZE_WAIT_FRAMES {
        editor.frame(Vec::new());
        assert!(editor.commands().is_empty(), "asked only once");
    }
    // This host never applied it: after the wait the window's size is the size to keep.
    editor.frame(Vec::new());
    assert_eq!((params.editor.get().width, params.editor.get().height), (DEFAULT_SIZE.0, DEFAULT_SIZE.1));
    // A saved size equal to the window's asks nothing.
    editor.reopen(DEFAULT_SIZE.0, DEFAULT_SIZE.1);
    editor.frame(Vec::new());
    assert!(editor.commands().is_empty(), "{:?}", editor.commands());
    // Below the minimum (a host forcing a small window) the saved size stays.
    editor.reopen(400.0, 300.0);
    for _ in 0..super::SIZE_WAIT_FRAMES + 5 {
        editor.frame(Vec::new());
    }
    assert_eq!((params.editor.get().width, params.editor.get().height), (DEFAULT_SIZE.0, DEFAULT_SIZE.1));
}

/// The checks page's verdicts are `parity analyze`'s: the same signal through the engine (mix
/// checks on its input, delivery checks on its output) and through the offline analysis gives the
/// same status for every check and the same figures.
#[cfg(feature = "cli")]
#[test]
fn the_checks_page_shows_the_verdicts_parity_analyze_gives() {
    use crate::delivery::checks::{evaluate, Group, Status};
    use crate::delivery::{DeliveryTarget, Measurements};
    use crate::editor::checks_panel::{live_checks, output_format, LiveInputs};
    use crate::offline::analysis::analyze;

    let params = Arc::new(ParityParams::default());
    let mut engine = Engine::new();
    engine.prepare(ProcessSpec { sample_rate_hz: 48_000.0, max_block_frames: 512, channels: 2 }).unwrap();
    engine.set_settings(&params.chain_settings());
    engine.set_analysis_enabled(true);
    let mut feeds = EditorFeeds::take_from(&mut engine);
    let [mut left, mut right] = crate::demo_song::render_demo_song(48_000.0);
    // A DC offset and a clipped burst on the input, so not every verdict is green.
    for (i, (l, r)) in left.iter_mut().zip(right.iter_mut()).enumerate() {
        *l += 0.004;
        *r += 0.004;
        if (96_000..96_480).contains(&i) {
            *l = 1.0;
        }
    }
    let input = [left.clone(), right.clone()];
    for (l, r) in left.chunks_mut(512).zip(right.chunks_mut(512)) {
        engine.process(&mut [l, r]);
    }
    let frame = *feeds.spectrum.as_mut().expect("spectrum reader").latest();
    let inputs = LiveInputs {
        params: &params,
        view: &feeds.view,
        input_stereo: &feeds.input_stereo,
        output_stereo: &feeds.stereo,
        frame: &frame,
    };
    let target = DeliveryTarget::by_id("spotify", -14.0, -1.0);
    let live = live_checks(&inputs, &target);

    let offline_mix =
        Measurements::from_analysis(&analyze(&[&input[0], &input[1]], 48_000.0), Default::default());
    let offline_master =
        Measurements::from_analysis(&analyze(&[&left, &right], 48_000.0), output_format(&params));
    let mut offline = evaluate(&offline_mix, &target, None, Some(Group::Mix));
    offline.extend(evaluate(&offline_master, &target, None, Some(Group::Delivery)));
    assert_eq!(live.len(), offline.len());
    let mut statuses = Vec::new();
    for (live, offline) in live.iter().zip(&offline) {
        println!(
            "{:<9} {:<16} live {:<8} {:<40} offline {:<8} {}",
            format!("{:?}", live.group),
            live.name,
            live.status.as_str(),
            live.value_text,
            offline.status.as_str(),
            offline.value_text
        );
        assert_eq!((live.group, live.name), (offline.group, offline.name));
        if live.name == "silence" {
            // A live session has no start or end: grey live, judged on the file offline.
            assert_eq!(live.status, Status::Unknown);
            continue;
        }
        assert_eq!(live.status, offline.status, "{}: {live:?} vs {offline:?}", live.name);
        let tolerance: f64 = match live.name {
            "tonal_balance" => 1.0,
            "bus_limiter" | "over_compression" => 0.3,
            "clipping" => 0.0,
            _ => 0.05,
        };
        if let (Some(a), Some(b)) = (live.value, offline.value) {
            assert!((a - b).abs() <= tolerance.max(b.abs() * 1e-3), "{}: live {a} vs offline {b}", live.name);
        }
        statuses.push(live.status);
    }
    // The signal was built to fail some checks and pass others.
    assert!(statuses.contains(&Status::Fail) && statuses.contains(&Status::Pass), "{statuses:?}");
    let clip = live.iter().find(|c| c.name == "clipping" && c.group == Group::Mix).unwrap();
    assert_eq!(clip.status, Status::Fail);
    assert!(clip.advice.contains("0:02.000"), "{}", clip.advice);

    // The page draws them.
    let mut editor = HeadlessEditor::new(params.clone(), feeds, DEFAULT_SIZE.0, DEFAULT_SIZE.1, 1.0);
    editor.set_page(Page::Checks);
    editor.frame(Vec::new());
    editor.frame(Vec::new());
    for check in &live {
        assert!(editor.shows(check.title), "{} not drawn", check.title);
    }
    assert!(
        editor.probe("check-mix-clipping").is_some() && editor.probe("check-delivery-true_peak").is_some()
    );
    assert!(
        editor.texts().iter().all(|text| !text.contains("-1") && !text.contains("-2")),
        "ASCII minus: {:?}",
        editor.texts()
    );
}

#[test]
fn applying_a_target_writes_ceiling_and_dither_through_gestures() {
    let (params, _engine, mut editor) = editor(DEFAULT_SIZE.0, DEFAULT_SIZE.1, 1.0);
    params.editor.lock().target = "cd".to_owned();
    editor.set_page(Page::Checks);
    editor.frame(Vec::new());
    editor.take_gestures();
    let button = editor.probe("apply-target").expect("the apply button is drawn");
    editor.frames(click(button.center()));
    let gestures = editor.take_gestures();
    let names: Vec<String> = gestures
        .iter()
        .filter_map(|g| if let Gesture::Begin(name) = g { Some(name.clone()) } else { None })
        .collect();
    assert_eq!(names, vec!["Ceiling", "Dither Bits", "Dither"], "{gestures:?}");
    assert!((params.limiter.ceiling_dbtp.value() + 0.4).abs() < 1e-4, "CD: −0.3 dBTP less 0.1");
    assert_eq!(params.dither.word_length.value(), crate::params::WordLengthParam::Bits16);
    assert_eq!(params.dither.mode.value(), crate::params::DitherModeParam::Tpdf);
    editor.frame(Vec::new());
    assert!(editor.shows("applied to the chain"), "{:?}", editor.texts());
}

#[test]
fn the_break_reminder_appears_after_the_interval_and_later_snoozes_it() {
    let (params, _engine, mut editor) = editor(DEFAULT_SIZE.0, DEFAULT_SIZE.1, 1.0);
    editor.frame(Vec::new());
    assert!(!editor.texts().iter().any(|t| t.contains("of listening")));
    // 46 minutes of listening (the engine's clock, as the audio thread counts it).
    editor.view().listening.record(0.01, 46.0 * 60.0);
    editor.frame(Vec::new());
    assert!(editor.texts().iter().any(|t| t.contains("46 min of listening")), "{:?}", editor.texts());
    let later = editor.probe("reminder-later").expect("later button");
    editor.frames(click(later.center()));
    editor.frame(Vec::new());
    assert!(!editor.texts().iter().any(|t| t.contains("of listening")));
    assert!(editor.take_gestures().is_empty(), "the reminder writes no parameter");
    // 0 minutes = never.
    params.editor.lock().break_reminder_min = 0;
    editor.view().listening.record(0.01, 3600.0);
    editor.frame(Vec::new());
    assert!(!editor.texts().iter().any(|t| t.contains("of listening")));
}
