//! The bank, its loader thread and the player together: hand-off, stale results, missing files,
//! and swaps during playback without allocation on the audio thread.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::test_files::{write_wav_24, TempDir};

/// Writes a stereo 24-bit WAV of a `freq_hz` sine at `amplitude`, `seconds` long.
fn write_tone(path: &Path, rate: u32, seconds: f64, freq_hz: f64, amplitude: f64) {
    let tone: Vec<f32> = (0..(seconds * f64::from(rate)) as usize)
        .map(|n| {
            (amplitude * (2.0 * std::f64::consts::PI * freq_hz * n as f64 / f64::from(rate)).sin()) as f32
        })
        .collect();
    write_wav_24(path, rate, &[&tone, &tone]);
}

/// Waits (bounded) until `done()`, feeding the player like an audio thread would.
fn pump_until(player: &mut ReferencePlayer, what: &str, mut done: impl FnMut(&mut ReferencePlayer) -> bool) {
    let started = Instant::now();
    loop {
        player.receive();
        if done(player) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Peak of slot `slot`'s audio, as the player plays it.
fn played_peak(player: &ReferencePlayer, slot: usize) -> f32 {
    let reference = player.reference(slot).expect("loaded");
    reference.audio.left.iter().fold(0.0f32, |peak, s| peak.max(s.abs()))
}

fn bank_and_player(rate: f64) -> (Arc<ReferenceBank>, ReferencePlayer) {
    let bank = Arc::new(ReferenceBank::new());
    let mut player = ReferencePlayer::new(bank.take_player_link());
    player.prepare(rate);
    bank.set_session_rate(rate);
    assert!(bank.take_player_link().is_none(), "the link is handed out once");
    (bank, player)
}

#[test]
fn a_load_reaches_the_player_with_its_analysis() {
    let dir = TempDir::new("load");
    let path = dir.path("tone.wav");
    write_tone(&path, 44_100, 2.0, 997.0, 0.5);
    let (bank, mut player) = bank_and_player(48_000.0);
    bank.load(3, &path);
    pump_until(&mut player, "the load", |p| p.is_loaded(3));
    let info = bank.slot(3).unwrap();
    assert_eq!(info.status, SlotStatus::Ready);
    assert!(bank.is_playing_latest(3));
    let reference = player.reference(3).unwrap();
    assert_eq!(reference.audio.sample_rate_hz, 48_000.0);
    assert_eq!(reference.audio.left.len(), 96_000);
    let summary = info.settings.summary.unwrap();
    // A 1 kHz sine in both channels reads its peak level in LUFS (EBU Tech 3341 case 1): −6.02.
    let integrated = summary.integrated_lufs.unwrap();
    assert!((integrated + 6.02).abs() < 0.05, "{integrated}");
    assert_eq!(summary.source_rate_hz, 44_100);
    // Saved state: path, trim, loop points and the summary; restoring it changes nothing.
    let state = bank.state();
    assert_eq!(state.slots[3].path, path.to_string_lossy());
    let generation = player.shared().unwrap().slots[3].generation.load(Ordering::Relaxed);
    bank.restore(state.clone());
    assert_eq!(
        player.shared().unwrap().slots[3].generation.load(Ordering::Relaxed),
        generation,
        "idempotent"
    );
    assert_eq!(bank.state(), state);
}

#[test]
fn stale_results_are_dropped() {
    let dir = TempDir::new("stale");
    let (loud, quiet) = (dir.path("loud.wav"), dir.path("quiet.wav"));
    write_tone(&loud, 48_000, 3.0, 440.0, 0.8);
    write_tone(&quiet, 48_000, 1.0, 440.0, 0.1);
    let (bank, mut player) = bank_and_player(48_000.0);
    // A new load started during a load: only the second one is ever played.
    bank.load(0, &loud);
    bank.load(0, &quiet);
    pump_until(&mut player, "the second load", |p| p.is_loaded(0) && bank.is_playing_latest(0));
    assert!((played_peak(&player, 0) - 0.1).abs() < 1e-3, "the stale (loud) result was played");
    // A sample-rate change during a load: the result for the old rate is dropped, the slot
    // reloads at the new rate.
    bank.load(1, &loud);
    player.prepare(44_100.0);
    bank.set_session_rate(44_100.0);
    pump_until(&mut player, "the reload at 44.1 kHz", |p| p.is_loaded(1) && bank.is_playing_latest(1));
    assert_eq!(player.reference(1).unwrap().audio.sample_rate_hz, 44_100.0);
    assert_eq!(player.reference(1).unwrap().audio.left.len(), 3 * 44_100);
}

#[test]
fn a_missing_file_in_saved_state_says_missing_and_keeps_its_figures() {
    let summary =
        AnalysisSummary { integrated_lufs: Some(-9.5), duration_s: 200.0, ..AnalysisSummary::default() };
    let mut state = ReferenceBankState::default();
    state.slots[5] = SlotSettings {
        path: "/nonexistent/parity/reference.flac".into(),
        gain_db: f32::NAN,
        loop_start_s: -3.0,
        loop_end_s: f64::INFINITY,
        summary: Some(summary),
    };
    // Broken values are clamped, extra slots ignored, missing ones empty.
    state.slots.truncate(6);
    let (bank, mut player) = bank_and_player(48_000.0);
    bank.restore(state);
    pump_until(&mut player, "the missing verdict", |_| {
        matches!(bank.slot(5).unwrap().status, SlotStatus::Failed(_))
    });
    let info = bank.slot(5).unwrap();
    assert_eq!(info.status.clone(), SlotStatus::Failed(load::ReferenceError::Missing));
    assert_eq!(
        match &info.status {
            SlotStatus::Failed(e) => e.to_string(),
            _ => String::new(),
        },
        "missing"
    );
    assert_eq!(info.settings.gain_db, 0.0);
    assert_eq!((info.settings.loop_start_s, info.settings.loop_end_s), (0.0, 0.0));
    assert_eq!(info.settings.summary.unwrap().integrated_lufs, Some(-9.5));
    assert!(!player.is_loaded(5));
    assert_eq!(bank.slot(15).unwrap().status, SlotStatus::Empty);
    // Serde: the state survives a JSON round trip, and junk JSON is an error, not a panic.
    let json = serde_json::to_string(&bank.state()).unwrap();
    assert_eq!(serde_json::from_str::<ReferenceBankState>(&json).unwrap(), bank.state());
    assert!(serde_json::from_str::<ReferenceBankState>("{\"slots\": 7}").is_err());
}

#[test]
fn a_thousand_swaps_during_playback_never_allocate_on_the_audio_thread() {
    let dir = TempDir::new("swaps");
    let files: Vec<PathBuf> = (0..2).map(|i| dir.path(&format!("tone{i}.wav"))).collect();
    for (i, file) in files.iter().enumerate() {
        write_tone(file, 48_000, 0.6, 220.0 * (i + 1) as f64, 0.25);
    }
    let (bank, mut player) = bank_and_player(48_000.0);
    const SWAPS: usize = 1000;
    let requester = {
        let bank = bank.clone();
        std::thread::spawn(move || {
            for swap in 0..SWAPS {
                let slot = swap % REFERENCE_SLOTS;
                bank.load(slot, &files[swap % 2]);
                let started = Instant::now();
                while !bank.is_playing_latest(slot) {
                    assert!(started.elapsed() < Duration::from_secs(20), "swap {swap} never arrived");
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        })
    };
    let (mut left, mut right) = ([0.0f32; 64], [0.0f32; 64]);
    let mut rendered = 0u64;
    crate::test_alloc::assert_no_alloc("receive and play during 1000 swaps", || {
        while !requester.is_finished() {
            player.receive();
            for slot in 0..REFERENCE_SLOTS {
                player.render(slot, PlayPosition::Free, &mut left, &mut right);
                player.advance(slot, 64);
                rendered += 1;
            }
            std::hint::spin_loop();
        }
    });
    requester.join().unwrap();
    assert!(rendered > SWAPS as u64);
    // The last swaps are all playing.
    for slot in 0..REFERENCE_SLOTS {
        assert!(player.is_loaded(slot) && bank.is_playing_latest(slot), "slot {slot}");
    }
}

#[test]
fn playback_loops_and_follows_the_song_position() {
    let dir = TempDir::new("play");
    let path = dir.path("ramp.wav");
    write_tone(&path, 48_000, 4.0, 7.0, 0.5);
    let (bank, mut player) = bank_and_player(48_000.0);
    bank.load(0, &path);
    pump_until(&mut player, "the load", |p| p.is_loaded(0));
    let audio = player.reference(0).unwrap().audio.left.clone();
    // Loop 0.25 s … 0.5 s: after the loop end the playhead wraps to its start.
    bank.set_loop_s(0, 0.25, 0.5);
    player.reset();
    let (mut left, mut right) = (vec![0.0f32; 48_000], vec![0.0f32; 48_000]);
    player.render(0, PlayPosition::Free, &mut left, &mut right);
    assert_eq!(left[..12_000], audio[12_000..24_000], "a reset playhead starts at the loop start");
    assert_eq!(left[12_000..24_000], audio[12_000..24_000], "and wraps at the loop end");
    player.advance(0, 1);
    let mut one = ([0.0f32; 1], [0.0f32; 1]);
    player.render(0, PlayPosition::Free, &mut one.0, &mut one.1);
    assert_eq!(one.0[0], audio[12_001], "advance moves the playhead");
    player.advance(0, 12_000);
    player.render(0, PlayPosition::Free, &mut one.0, &mut one.1);
    assert_eq!(one.0[0], audio[12_001], "and wraps it at the loop end");
    // Song position: the loop start plays at song position 0; outside the file, silence.
    player.render(0, PlayPosition::Song(100), &mut one.0, &mut one.1);
    assert_eq!(one.0[0], audio[12_100]);
    player.render(0, PlayPosition::Song(-20_000), &mut one.0, &mut one.1);
    assert_eq!(one.0[0], 0.0);
    player.render(0, PlayPosition::Song(1 << 40), &mut one.0, &mut one.1);
    assert_eq!(one.0[0], 0.0);
    // Short-term loudness at the play position comes from the analysis: none before 3 s of
    // audio, then the sine's level (a 7 Hz sine is K-weighted far down, but finite).
    assert_eq!(player.short_term_lufs_at(0, PlayPosition::Song(0)), None);
    let late = player.short_term_lufs_at(0, PlayPosition::Song(3 * 48_000)).expect("a reading after 3 s");
    assert!(late.is_finite() && late < -6.0, "{late}");
}

#[test]
fn the_analysis_measures_the_audio_that_plays() {
    let dir = TempDir::new("analysis");
    let path = dir.path("song.wav");
    let song = crate::demo_song::render_demo_song(44_100.0);
    let scaled: Vec<Vec<f32>> = song.iter().map(|c| c.iter().map(|s| s * 0.3).collect()).collect();
    write_wav_24(&path, 44_100, &[&scaled[0], &scaled[1]]);
    let (bank, mut player) = bank_and_player(48_000.0);
    bank.load(0, &path);
    pump_until(&mut player, "the load", |p| p.is_loaded(0));
    let reference = player.reference(0).unwrap();
    let mut meter = crate::meters::loudness::LoudnessMeter::new(48_000.0, 2);
    meter.process(&[&reference.audio.left, &reference.audio.right]);
    let played = meter.integrated_lufs().unwrap();
    let analysed = f64::from(reference.analysis.integrated_lufs.unwrap());
    let mut source_meter = crate::meters::loudness::LoudnessMeter::new(44_100.0, 2);
    source_meter.process(&[&scaled[0], &scaled[1]]);
    let source = source_meter.integrated_lufs().unwrap();
    println!("source {source:.3} LUFS, played {played:.3}, analysed {analysed:.3}");
    assert!((played - analysed).abs() < 0.01 && (source - analysed).abs() < 0.02);
}
