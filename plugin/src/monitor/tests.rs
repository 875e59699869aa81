//! The monitor section through the whole engine: bounce safety, level match, click-free
//! switching and the listen tools.

use super::*;
use crate::dsp::compressor::CompressorSettings;
use crate::engine::{ChainSettings, Engine, ProcessSpec};
use crate::meters::loudness::LoudnessMeter;
use crate::meters::test_support::music_like;
use crate::test_files::{write_wav_24, TempDir};

const RATE: f64 = 48_000.0;

/// A chain that changes the sound clearly: +6 dB output gain into a glue compressor.
fn loud_chain() -> ChainSettings {
    let mut settings = ChainSettings { output_gain_db: 6.0, ..ChainSettings::default() };
    settings.stages.glue =
        CompressorSettings { threshold_db: -24.0, ratio: 3.0, bypass: false, ..settings.stages.glue };
    settings
}

fn engine(settings: &ChainSettings) -> Engine {
    let mut engine = Engine::new();
    engine.set_settings(settings);
    engine.prepare(ProcessSpec { sample_rate_hz: RATE, max_block_frames: 4096, channels: 2 }).unwrap();
    engine
}

/// Renders `input` in blocks of `block` frames, calling `before_block(engine, block_start)` first.
fn render(
    engine: &mut Engine,
    input: &[Vec<f32>],
    block: usize,
    mut before_block: impl FnMut(&mut Engine, usize),
) -> Vec<Vec<f32>> {
    let mut output = input.to_vec();
    let frames = input[0].len();
    let mut start = 0;
    while start < frames {
        let end = (start + block).min(frames);
        before_block(engine, start);
        let mut channels: Vec<&mut [f32]> = output.iter_mut().map(|c| &mut c[start..end]).collect();
        engine.process(&mut channels);
        start = end;
    }
    output
}

/// Integrated loudness of `signal[range]`.
fn loudness(signal: &[Vec<f32>], range: std::ops::Range<usize>) -> f64 {
    let mut meter = LoudnessMeter::new(RATE, 2);
    meter.process(&[&signal[0][range.clone()], &signal[1][range]]);
    meter.integrated_lufs().unwrap()
}

fn busy_settings() -> MonitorSettings {
    MonitorSettings {
        source: MonitorSource::Unprocessed,
        listen: ListenMode::Side,
        polarity: Polarity::InvertLeft,
        band_solo: BandSolo::Mid,
        dim: true,
        platform: Some(0),
        translation: translation::Translation::Phone,
        low_level: translation::LowLevel::Phon50,
        ..MonitorSettings::default()
    }
}

#[test]
fn offline_render_is_exactly_the_chain_output_whatever_the_monitor_says() {
    let input = music_like(RATE, 4.0, 7);
    let mut plain = engine(&loud_chain());
    let expected = render(&mut plain, &input, 512, |_, _| {});
    let mut bouncing = engine(&loud_chain());
    bouncing.set_offline(true);
    bouncing.set_monitor_settings(&busy_settings());
    let view = bouncing.monitor_view();
    let output = render(&mut bouncing, &input, 333, |_, _| {});
    assert_eq!(output, expected, "offline output must be bit-identical to the chain output");
    assert!(!view.output_differs.load(Ordering::Relaxed));
    assert!(view.offline.load(Ordering::Relaxed));
}

#[test]
fn monitor_returns_to_bit_exact_chain_output_when_the_tools_are_off() {
    let input = music_like(RATE, 3.0, 8);
    let mut plain = engine(&loud_chain());
    let expected = render(&mut plain, &input, 256, |_, _| {});
    let mut monitored = engine(&loud_chain());
    let view = monitored.monitor_view();
    let mut differed = false;
    let output = render(&mut monitored, &input, 256, |engine, start| {
        let busy = (RATE as usize / 2..RATE as usize).contains(&start);
        engine.set_monitor_settings(&if busy { busy_settings() } else { MonitorSettings::default() });
        if busy {
            differed |= view.output_differs.load(Ordering::Relaxed);
        }
    });
    assert!(differed, "the editor is told while the tools are on");
    // Before the tools and from one fade after them, the output is the chain output exactly.
    let fade = (CROSSFADE_MS * 1e-3 * RATE) as usize + 256;
    for channel in 0..2 {
        assert_eq!(output[channel][..RATE as usize / 2], expected[channel][..RATE as usize / 2]);
        assert_eq!(output[channel][RATE as usize + fade..], expected[channel][RATE as usize + fade..]);
        assert_ne!(
            output[channel][RATE as usize / 2 + fade..RATE as usize],
            expected[channel][RATE as usize / 2 + fade..RATE as usize]
        );
    }
    assert!(!view.output_differs.load(Ordering::Relaxed));
}

#[test]
fn unprocessed_is_matched_to_processed_loudness() {
    // The built-in demo song (a 34 s arrangement with sections, intro … final chorus), played
    // twice: the second pass is the steady state (an integrated match has seen the whole song).
    let song = crate::demo_song::render_demo_song(RATE);
    let song_frames = song[0].len();
    let input: Vec<Vec<f32>> = song.iter().map(|c| [c.as_slice(), c.as_slice()].concat()).collect();
    let mut plain = engine(&loud_chain());
    let processed = render(&mut plain, &input, 512, |_, _| {});
    let unmatched = loudness(&input, 0..input[0].len());
    let target = loudness(&processed, 0..input[0].len());
    println!("processed {target:.2} LUFS, unprocessed {unmatched:.2} LUFS");
    assert!(target - unmatched > 1.5, "the chain must change the loudness for this test to mean anything");
    for mode in [LevelMatch::ShortTerm, LevelMatch::Integrated] {
        let mut monitored = engine(&loud_chain());
        monitored.set_monitor_settings(&MonitorSettings {
            source: MonitorSource::Unprocessed,
            level_match: mode,
            ..MonitorSettings::default()
        });
        let heard = render(&mut monitored, &input, 512, |_, _| {});
        let offset = monitored.monitor_view().match_db[1].load(Ordering::Relaxed);
        let difference =
            |range: std::ops::Range<usize>| loudness(&heard, range.clone()) - loudness(&processed, range);
        let second = |s: f64| (s * RATE) as usize;
        // The second pass as a whole, and its final chorus from 3 s after it starts.
        let whole = difference(song_frames..2 * song_frames);
        let chorus = difference(song_frames + second(27.0)..song_frames + second(31.5));
        println!("{mode:?}: heard − processed: song {whole:+.3} LU, final chorus {chorus:+.3} LU (offset {offset:+.2} dB)");
        match mode {
            // One offset for the whole programme: the song matches, a section need not.
            LevelMatch::Integrated => assert!(whole.abs() <= 0.2, "{mode:?}: {whole:+.3} LU"),
            // Follows the music: a steady passage matches; over the song, the 3 s window lags
            // the sections (the chain compresses loud sections more), which costs a little.
            _ => {
                assert!(chorus.abs() <= 0.2, "{mode:?}: steady state {chorus:+.3} LU");
                assert!(whole.abs() <= 0.4, "{mode:?}: {whole:+.3} LU");
            }
        }
    }
}

/// Largest sample-to-sample step of any channel.
fn max_step(signal: &[Vec<f32>], range: std::ops::Range<usize>) -> f32 {
    signal
        .iter()
        .map(|c| c[range.clone()].windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max))
        .fold(0.0, f32::max)
}

#[test]
fn switching_sources_and_tools_is_click_free() {
    // Music, and two smooth tones (where a click could not hide in the signal's own steps).
    let tones: Vec<Vec<f32>> = [(110.0, 0.0), (165.0, 1.0)]
        .iter()
        .map(|&(freq, phase): &(f64, f64)| {
            (0..8 * RATE as usize)
                .map(|n| (0.4 * (2.0 * std::f64::consts::PI * freq * n as f64 / RATE + phase).sin()) as f32)
                .collect()
        })
        .collect();
    for input in [music_like(RATE, 8.0, 10), tones] {
        check_click_free(&input);
    }
}

fn check_click_free(input: &[Vec<f32>]) {
    let mut plain = engine(&loud_chain());
    let processed = render(&mut plain, input, 128, |_, _| {});
    let latency = plain.latency_samples() as usize;
    // The signals' own steps, after their starts (a tone starting at a non-zero phase jumps).
    let settled = latency + 64..input[0].len();
    let own_step = max_step(&processed, settled.clone()).max(max_step(input, settled));
    let configurations = [
        MonitorSettings::default(),
        MonitorSettings { source: MonitorSource::Unprocessed, ..MonitorSettings::default() },
        MonitorSettings { listen: ListenMode::Side, ..MonitorSettings::default() },
        MonitorSettings { band_solo: BandSolo::Low, ..MonitorSettings::default() },
        MonitorSettings { polarity: Polarity::InvertBoth, ..MonitorSettings::default() },
        MonitorSettings { dim: true, ..MonitorSettings::default() },
    ];
    let mut monitored = engine(&loud_chain());
    let mut switches = 0;
    // Switch every 150 ms (longer than a fade), also mid-fade every so often.
    let output = render(&mut monitored, input, 128, |engine, start| {
        let step = start / (RATE as usize * 150 / 1000);
        let jitter = (start / 128) % 7 == 3;
        let index = (step + usize::from(jitter)) % configurations.len();
        engine.set_monitor_settings(&configurations[index]);
        switches += 1;
    });
    let step = max_step(&output, latency + 64..input[0].len());
    println!("largest step {step:.4} (the signals' own: {own_step:.4}) over {switches} blocks");
    assert!(step <= own_step, "a switch clicked: step {step} > {own_step}");
}

#[test]
fn platform_preview_plays_the_mix_at_the_platform_level() {
    // EBU R128 normalises both ways to −23 LUFS; YouTube only turns down (to −14).
    // The song three times: the gain follows the integrated loudness so far, which is steady in
    // the third pass.
    let song = crate::demo_song::render_demo_song(RATE);
    let input: Vec<Vec<f32>> =
        song.iter().map(|c| [c.as_slice(), c.as_slice(), c.as_slice()].concat()).collect();
    let index = |id: &str| platform::platforms().iter().position(|p| p.id == id).unwrap();
    let mut plain = engine(&loud_chain());
    let processed = render(&mut plain, &input, 512, |_, _| {});
    let tail = 2 * song[0].len()..input[0].len();
    let processed_lufs = loudness(&processed, tail.clone());
    for id in ["ebu_r128", "youtube"] {
        let mut monitored = engine(&loud_chain());
        monitored.set_monitor_settings(&MonitorSettings {
            platform: Some(index(id)),
            ..MonitorSettings::default()
        });
        let heard = render(&mut monitored, &input, 512, |_, _| {});
        let gain = f64::from(monitored.monitor_view().platform_gain_db.load(Ordering::Relaxed));
        let integrated = f64::from(monitored.view().output_meters.integrated_lufs().unwrap());
        let expected = match id {
            "ebu_r128" => -23.0 - integrated,
            _ => (-14.0 - integrated).min(0.0),
        };
        let heard_lufs = loudness(&heard, tail.clone());
        println!("{id}: processed {processed_lufs:.2} LUFS (integrated {integrated:.2}), gain {gain:+.2} dB, heard {heard_lufs:.2}");
        assert!((gain - expected).abs() < 0.01, "{id}: gain {gain:+.3}, expected {expected:+.3}");
        assert!((heard_lufs - (processed_lufs + gain)).abs() <= 0.2, "{id}: heard {heard_lufs:.2}");
    }
}

#[test]
fn listen_tools_do_what_they_say() {
    let frames = RATE as usize;
    let tone = |freq: f64, amplitude: f64| -> Vec<f32> {
        (0..frames)
            .map(|n| (amplitude * (2.0 * std::f64::consts::PI * freq * n as f64 / RATE).sin()) as f32)
            .collect()
    };
    // Left: 40 Hz, right: 12 kHz at different levels (well inside the low and high bands).
    let input = vec![tone(40.0, 0.5), tone(12_000.0, 0.25)];
    let mut plain = engine(&ChainSettings::default());
    let chain_out = render(&mut plain, &input, 64, |_, _| {});
    let settle = frames / 2..frames;
    let rms = |x: &[f32]| (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    let run = |settings: MonitorSettings| {
        let mut monitored = engine(&ChainSettings::default());
        monitored.set_monitor_settings(&settings);
        render(&mut monitored, &input, 64, |_, _| {})
    };
    let left = run(MonitorSettings { listen: ListenMode::Left, ..MonitorSettings::default() });
    assert_eq!(left[1][settle.clone()], chain_out[0][settle.clone()], "left on both speakers");
    let side = run(MonitorSettings { listen: ListenMode::Side, ..MonitorSettings::default() });
    let mid = run(MonitorSettings { listen: ListenMode::Mid, ..MonitorSettings::default() });
    for i in settle.clone() {
        let (l, r) = (chain_out[0][i], chain_out[1][i]);
        assert!((side[0][i] - 0.5 * (l - r)).abs() < 1e-6 && side[1][i] == side[0][i]);
        assert!((mid[0][i] - 0.5 * (l + r)).abs() < 1e-6);
    }
    let inverted = run(MonitorSettings { polarity: Polarity::InvertRight, ..MonitorSettings::default() });
    assert_eq!(inverted[0][settle.clone()], chain_out[0][settle.clone()]);
    assert!(inverted[1][settle.clone()].iter().zip(&chain_out[1][settle.clone()]).all(|(a, b)| *a == -*b));
    let dimmed = run(MonitorSettings { dim: true, ..MonitorSettings::default() });
    let dim_db = 20.0 * (rms(&dimmed[0][settle.clone()]) / rms(&chain_out[0][settle.clone()])).log10();
    assert!((dim_db - f64::from(DIM_DB)).abs() < 0.01, "dim {dim_db:.3} dB");
    // Band solo: the 40 Hz left tone sits in the low band, the 12 kHz right tone in the high band.
    let low = run(MonitorSettings { band_solo: BandSolo::Low, ..MonitorSettings::default() });
    let high = run(MonitorSettings { band_solo: BandSolo::High, ..MonitorSettings::default() });
    let level_db = |x: &[f32], reference: &[f32]| 20.0 * (rms(x) / rms(reference)).log10();
    // Analytic LR4 responses: low-pass 1 / (1 + (f/fc)⁴), high-pass (f/fc)⁴ / (1 + (f/fc)⁴).
    let lr4_low_db = |f: f64, fc: f64| -20.0 * (1.0 + (f / fc).powi(4)).log10();
    let lr4_high_db = |f: f64, fc: f64| 20.0 * ((f / fc).powi(4) / (1.0 + (f / fc).powi(4))).log10();
    let expected_low = lr4_low_db(40.0, crate::dsp::multiband::DEFAULT_CROSSOVER_LOW_HZ);
    let expected_high = lr4_high_db(12_000.0, crate::dsp::multiband::DEFAULT_CROSSOVER_HIGH_HZ);
    let low_keeps = level_db(&low[0][settle.clone()], &chain_out[0][settle.clone()]);
    let low_drops = level_db(&low[1][settle.clone()], &chain_out[1][settle.clone()]);
    let high_keeps = level_db(&high[1][settle.clone()], &chain_out[1][settle.clone()]);
    let high_drops = level_db(&high[0][settle.clone()], &chain_out[0][settle.clone()]);
    println!("band solo: low keeps {low_keeps:.2} dB, drops {low_drops:.1} dB; high keeps {high_keeps:.2}, drops {high_drops:.1}");
    println!("analytic: low {expected_low:.3} dB, high {expected_high:.3} dB");
    assert!((low_keeps - expected_low).abs() < 0.02 && (high_keeps - expected_high).abs() < 0.02);
    assert!(low_drops < -60.0 && high_drops < -60.0);
}

#[test]
fn monitor_process_never_allocates() {
    let input = music_like(RATE, 2.0, 11);
    let mut monitored = engine(&loud_chain());
    let mut output = input.clone();
    crate::test_alloc::assert_no_alloc("monitor switching", || {
        for (index, start) in (0..input[0].len()).step_by(480).enumerate() {
            let end = (start + 480).min(input[0].len());
            let settings = if index % 2 == 0 { busy_settings() } else { MonitorSettings::default() };
            monitored.set_monitor_settings(&settings);
            let (left, right) = output.split_at_mut(1);
            let mut channels: [&mut [f32]; 2] = [&mut left[0][start..end], &mut right[0][start..end]];
            monitored.process(&mut channels);
        }
    });
}

#[test]
fn references_are_matched_to_the_mix() {
    let dir = TempDir::new("monitor-reference");
    let path = dir.path("reference.wav");
    let song = crate::demo_song::render_demo_song(44_100.0);
    let quieter: Vec<Vec<f32>> = song.iter().map(|c| c.iter().map(|s| s * 0.3).collect()).collect();
    write_wav_24(&path, 44_100, &[&quieter[0], &quieter[1]]);
    let mix_song = crate::demo_song::render_demo_song(RATE);
    let song_frames = mix_song[0].len();
    // Three passes: "integrated so far" moves less with every pass; the third is the steady state.
    let mix: Vec<Vec<f32>> =
        mix_song.iter().map(|c| [c.as_slice(), c.as_slice(), c.as_slice()].concat()).collect();
    let mut plain = engine(&loud_chain());
    let processed = render(&mut plain, &mix, 512, |_, _| {});
    for mode in [LevelMatch::Integrated, LevelMatch::ShortTerm] {
        let bank = crate::reference::ReferenceBank::new();
        let mut monitored = engine(&loud_chain());
        monitored.set_reference_link(bank.take_player_link().unwrap());
        bank.set_session_rate(RATE);
        bank.load(0, &path);
        monitored.set_monitor_settings(&MonitorSettings {
            source: MonitorSource::Reference(0),
            level_match: mode,
            ..MonitorSettings::default()
        });
        let started = std::time::Instant::now();
        while !bank.is_playing_latest(0) {
            let mut silence = vec![vec![0.0f32; 64]; 2];
            let mut channels: Vec<&mut [f32]> = silence.iter_mut().map(|c| &mut c[..]).collect();
            monitored.process(&mut channels);
            assert!(started.elapsed().as_secs() < 30);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        monitored.reset();
        let view = monitored.monitor_view();
        let (mut low, mut high) = (f32::MAX, f32::MIN);
        let heard = render(&mut monitored, &mix, 512, |_, start| {
            if start >= 2 * song_frames {
                let g = view.gain_db.load(Ordering::Relaxed);
                low = low.min(g);
                high = high.max(g);
            }
        });
        let difference =
            |range: std::ops::Range<usize>| loudness(&heard, range.clone()) - loudness(&processed, range);
        let whole = difference(2 * song_frames..3 * song_frames);
        let second = |s: f64| 2 * song_frames + (s * RATE) as usize;
        let chorus = difference(second(27.0)..second(31.5));
        println!("{mode:?}: reference heard − processed: song {whole:+.3} LU, final chorus {chorus:+.3} LU (gain {low:.2} … {high:.2} dB)");
        match mode {
            LevelMatch::Integrated => assert!(whole.abs() <= 0.2, "{mode:?}: {whole:+.3}"),
            _ => {
                assert!(chorus.abs() <= 0.2, "{mode:?}: steady state {chorus:+.3}");
                assert!(whole.abs() <= 0.5, "{mode:?}: {whole:+.3}");
            }
        }
    }
}

#[test]
fn song_position_jumps_of_a_synced_reference_crossfade() {
    let dir = TempDir::new("monitor-jump");
    let path = dir.path("tone.wav");
    // A smooth 220 Hz tone: any jump in its playback position would be a visible step.
    let tone: Vec<f32> = (0..20 * 48_000)
        .map(|n| (0.5 * (2.0 * std::f64::consts::PI * 220.0 * n as f64 / RATE).sin()) as f32)
        .collect();
    write_wav_24(&path, 48_000, &[&tone, &tone]);
    let bank = crate::reference::ReferenceBank::new();
    let mut monitored = engine(&ChainSettings::default());
    monitored.set_reference_link(bank.take_player_link().unwrap());
    bank.set_session_rate(RATE);
    bank.load(0, &path);
    monitored.set_monitor_settings(&MonitorSettings {
        source: MonitorSource::Reference(0),
        level_match: LevelMatch::Off,
        ..MonitorSettings::default()
    });
    let started = std::time::Instant::now();
    while !bank.is_playing_latest(0) {
        assert!(started.elapsed().as_secs() < 30);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let mut silence = vec![vec![0.0f32; 64]; 2];
        let mut channels: Vec<&mut [f32]> = silence.iter_mut().map(|c| &mut c[..]).collect();
        monitored.process(&mut channels);
    }
    // Play from song position 1 s; jump to 7.3 s (a seek), loop back to 2 s, stop (free), start
    // again at 5 s.
    let silence = vec![vec![0.0f32; 6 * 48_000]; 2];
    let block = 256;
    let mut song = 48_000i64;
    let heard = render(&mut monitored, &silence, block, |engine, start| {
        match start {
            s if s == block * 200 => song = 350_400,
            s if s == block * 400 => song = 96_000,
            _ => {}
        }
        let stopped = (block * 600..block * 800).contains(&start);
        engine.set_song_position_frames((!stopped).then_some(song));
        if start == block * 800 {
            song = 240_000;
        }
        if !stopped {
            song += block as i64;
        }
    });
    let own = 0.5 * 2.0 * std::f32::consts::PI * 220.0 / 48_000.0;
    let step = max_step(&heard, 2048..heard[0].len());
    for (i, w) in heard[0].windows(2).enumerate().skip(2048) {
        if (w[1] - w[0]).abs() > own * 1.05 {
            println!("step {:.4} at frame {i} (block {})", (w[1] - w[0]).abs(), i / block);
            break;
        }
    }
    println!("largest step {step:.4} (the tone's own {own:.4})");
    assert!(step <= own * 1.01, "a position jump clicked: {step}");
}

#[test]
fn translation_preview_shapes_what_is_heard_as_its_model_says_and_never_the_bounce() {
    // A 100 Hz and a 2 kHz sine, in turn, through the phone model: each comes out at the level
    // the filter's response says (after the fade and the filters settle).
    for (frequency_hz, model, low_level) in [
        (100.0, translation::Translation::Phone, translation::LowLevel::Off),
        (2_000.0, translation::Translation::Phone, translation::LowLevel::Off),
        (60.0, translation::Translation::Car, translation::LowLevel::Off),
        (50.0, translation::Translation::Off, translation::LowLevel::Phon40),
    ] {
        let frames = RATE as usize;
        let tone: Vec<f32> = (0..frames)
            .map(|n| (0.25 * (2.0 * std::f64::consts::PI * frequency_hz * n as f64 / RATE).sin()) as f32)
            .collect();
        let input = vec![tone.clone(), tone.clone()];
        let settings = MonitorSettings { translation: model, low_level, ..MonitorSettings::default() };
        let mut monitored = engine(&ChainSettings::default());
        monitored.set_monitor_settings(&settings);
        let heard = render(&mut monitored, &input, 480, |_, _| {});
        let mut plain = engine(&ChainSettings::default());
        let chain = render(&mut plain, &input, 480, |_, _| {});
        let rms = |x: &[f32]| (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
        let tail = frames / 2..frames;
        let measured_db = 20.0 * (rms(&heard[0][tail.clone()]) / rms(&chain[0][tail])).log10();
        let mut filter = translation::TranslationFilter::new(RATE);
        filter.set(model, low_level);
        let expected_db = filter.response_db(frequency_hz);
        println!("{model:?} {low_level:?} at {frequency_hz} Hz: heard {measured_db:+.2} dB, model {expected_db:+.2} dB");
        assert!((measured_db - expected_db).abs() < 0.3, "{measured_db} vs {expected_db}");
        assert!(expected_db.abs() > 1.0, "the case must actually change the level");
        // The offline bounce of the same settings is the chain output exactly.
        let mut bouncing = engine(&ChainSettings::default());
        bouncing.set_offline(true);
        bouncing.set_monitor_settings(&settings);
        assert_eq!(render(&mut bouncing, &input, 480, |_, _| {}), chain);
    }
}
