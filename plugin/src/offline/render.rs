//! Renders files through the plugin's [`Engine`], and masters to a loudness target with the
//! limiter's "learn to target" in two passes (plus correction passes while the result is more
//! than [`TARGET_TOLERANCE_LU`] off).
//!
//! The engine is block-size invariant, so the output equals the plugin's for the same settings
//! and input; the only difference is that the offline render removes the chain's latency (the
//! output lines up with the input and has the same length).

use crate::dsp::limiter::LimiterSettings;
use crate::dsp::target_learner::{LearnedDrive, LEARN_DRIVES, LEARN_DRIVE_STEP_DB};
use crate::engine::{ChainSettings, Engine, ProcessSpec, SpecError};
use crate::meters::LoudnessMeter;

/// Frames per `Engine::process` call (any value gives the same output).
const RENDER_BLOCK_FRAMES: usize = 4096;

/// How far the integrated loudness of a mastered file may be from the target before another
/// pass corrects the drive, LU.
pub const TARGET_TOLERANCE_LU: f64 = 0.1;

/// Correction passes after the learned pass, at most.
const MAX_CORRECTION_PASSES: usize = 3;

/// Largest limiter drive, dB (the learner's range).
const MAX_DRIVE_DB: f64 = (LEARN_DRIVES - 1) as f64 * LEARN_DRIVE_STEP_DB as f64;

/// Why a render failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    /// The engine refused the file's format.
    #[error("{0}")]
    Spec(#[from] SpecError),
    /// Too little audio above the gate to learn a drive.
    #[error("not enough audio above the loudness gate to master to a target")]
    NotEnoughAudio,
}

/// Renders `input` (planar, mono or stereo, equal lengths) through a fresh engine with
/// `settings`, latency removed: the output has the input's length and timing.
pub fn render(
    input: &[&[f32]],
    sample_rate_hz: f64,
    settings: &ChainSettings,
) -> Result<Vec<Vec<f32>>, RenderError> {
    let mut engine = prepared_engine(input.len(), sample_rate_hz, settings)?;
    Ok(run(&mut engine, input))
}

/// An engine prepared for `channels` at `sample_rate_hz`, with `settings` (the structural ones,
/// such as the EQ mode and the limiter lookahead, included).
fn prepared_engine(
    channels: usize,
    sample_rate_hz: f64,
    settings: &ChainSettings,
) -> Result<Engine, SpecError> {
    let mut engine = Engine::new();
    engine.set_settings(settings);
    engine.prepare(ProcessSpec { sample_rate_hz, max_block_frames: RENDER_BLOCK_FRAMES, channels })?;
    engine.set_settings(settings);
    Ok(engine)
}

/// Processes `input` and then the latency's worth of silence, dropping the first latency samples.
fn run(engine: &mut Engine, input: &[&[f32]]) -> Vec<Vec<f32>> {
    let frames = input.iter().map(|c| c.len()).min().unwrap_or(0);
    let latency = engine.latency_samples() as usize;
    let mut padded: Vec<Vec<f32>> = input
        .iter()
        .map(|channel| {
            let mut padded = Vec::with_capacity(frames + latency);
            padded.extend_from_slice(&channel[..frames]);
            padded.resize(frames + latency, 0.0);
            padded
        })
        .collect();
    let total = frames + latency;
    let mut start = 0;
    while start < total {
        let end = (start + RENDER_BLOCK_FRAMES).min(total);
        let mut block: Vec<&mut [f32]> = padded.iter_mut().map(|c| &mut c[start..end]).collect();
        engine.process(&mut block);
        start = end;
    }
    padded.iter_mut().for_each(|channel| {
        channel.drain(..latency);
    });
    padded
}

/// Integrated loudness of planar audio, LUFS (`None`: silent or too short).
pub fn integrated_lufs(channels: &[Vec<f32>], sample_rate_hz: f64) -> Option<f64> {
    let mut meter = LoudnessMeter::new(sample_rate_hz, channels.len().max(1));
    let slices: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    meter.process(&slices);
    meter.integrated_lufs().filter(|v| v.is_finite())
}

/// The result of [`master_to_target`].
#[derive(Debug, Clone, PartialEq)]
pub struct Mastered {
    /// The rendered audio (latency removed).
    pub channels: Vec<Vec<f32>>,
    /// The settings of the final pass (the drive and output gain it used).
    pub settings: ChainSettings,
    /// Integrated loudness of the output, LUFS.
    pub integrated_lufs: Option<f64>,
    /// Passes through the engine (learning pass included).
    pub passes: usize,
    /// Set when the target could not be reached: the loudness the largest drive gives, LUFS.
    pub out_of_reach_lufs: Option<f64>,
}

/// Masters `input` to `target_lufs` integrated: a learning pass (the limiter's "learn to
/// target" records the audio at its input and predicts the drive), a render with the learned
/// drive, then up to three correction passes (secant steps on the drive) while the result is more
/// than [`TARGET_TOLERANCE_LU`] away. A target quieter than the music without drive is reached
/// with the output gain instead (it lowers the true peak too).
pub fn master_to_target(
    input: &[&[f32]],
    sample_rate_hz: f64,
    settings: &ChainSettings,
    target_lufs: f64,
) -> Result<Mastered, RenderError> {
    let mut settings = *settings;
    settings.stages.limiter = LimiterSettings { drive_db: 0.0, ..settings.stages.limiter };
    let mut engine = prepared_engine(input.len(), sample_rate_hz, &settings)?;
    engine.start_learning();
    let mut passes = 1;
    let learned_output = run(&mut engine, input);
    engine.stop_learning();
    let mut out_of_reach_lufs = None;
    match engine.learned_drive(target_lufs) {
        LearnedDrive::Drive(drive_db) => settings.stages.limiter.drive_db = drive_db,
        LearnedDrive::TooLoud(excess_db) => settings.output_gain_db -= excess_db,
        LearnedDrive::OutOfReach(reached_lufs) => {
            settings.stages.limiter.drive_db = MAX_DRIVE_DB as f32;
            out_of_reach_lufs = Some(f64::from(reached_lufs));
        }
        LearnedDrive::NotEnoughAudio => return Err(RenderError::NotEnoughAudio),
    }
    // The learning pass rendered at 0 dB drive: reuse it when that is what was learned.
    let mut channels = if settings.stages.limiter.drive_db == 0.0 && settings.output_gain_db == 0.0 {
        learned_output
    } else {
        passes += 1;
        render(input, sample_rate_hz, &settings)?
    };
    let mut loudness = integrated_lufs(&channels, sample_rate_hz);
    // Secant correction on the drive: (drive, loudness) of the previous pass.
    let mut previous: Option<(f64, f64)> = None;
    for _ in 0..MAX_CORRECTION_PASSES {
        let Some(measured) = loudness else { break };
        let error = target_lufs - measured;
        if error.abs() <= TARGET_TOLERANCE_LU || out_of_reach_lufs.is_some() {
            break;
        }
        let drive = f64::from(settings.stages.limiter.drive_db);
        let slope = match previous {
            Some((previous_drive, previous_loudness)) if (drive - previous_drive).abs() > 1e-3 => {
                ((measured - previous_loudness) / (drive - previous_drive)).clamp(0.2, 1.0)
            }
            // Under limiting, loudness grows slower than the drive.
            _ => 0.8,
        };
        if drive <= 0.0 && error < 0.0 {
            // Too loud with no drive: the output gain corrects exactly.
            settings.output_gain_db += error as f32;
        } else {
            settings.stages.limiter.drive_db = (drive + error / slope).clamp(0.0, MAX_DRIVE_DB) as f32;
        }
        previous = Some((drive, measured));
        channels = render(input, sample_rate_hz, &settings)?;
        passes += 1;
        loudness = integrated_lufs(&channels, sample_rate_hz);
    }
    Ok(Mastered { channels, settings, integrated_lufs: loudness, passes, out_of_reach_lufs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meters::TruePeakMeter;

    /// A few seconds of a dense, peaky test mix (pulsed tones and noise), −18 LUFS-ish.
    fn mix(rate: f64, seconds: f64) -> Vec<Vec<f32>> {
        let mut state = 0x1234_5678_u32;
        let frames = (rate * seconds) as usize;
        let mut left = Vec::with_capacity(frames);
        let mut right = Vec::with_capacity(frames);
        for n in 0..frames {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state as f64 / u32::MAX as f64) * 2.0 - 1.0;
            let t = n as f64 / rate;
            let beat = (t * 2.0).fract();
            let kick = (-beat * 25.0).exp() * (std::f64::consts::TAU * 55.0 * t).sin();
            let tone = 0.2 * (std::f64::consts::TAU * 440.0 * t).sin();
            left.push((0.5 * kick + tone + 0.05 * noise) as f32);
            right.push((0.5 * kick + 0.8 * tone - 0.05 * noise) as f32);
        }
        vec![left, right]
    }

    fn slices(channels: &[Vec<f32>]) -> Vec<&[f32]> {
        channels.iter().map(Vec::as_slice).collect()
    }

    #[test]
    fn render_removes_the_latency_and_keeps_the_length() {
        let rate = 48_000.0;
        let mut impulse = vec![0.0_f32; 9_000];
        impulse[1_000] = 0.5;
        let output = render(&[&impulse, &impulse], rate, &ChainSettings::default()).unwrap();
        assert_eq!(output[0].len(), impulse.len());
        // The default chain passes audio under the ceiling bit for bit: the same impulse, same place.
        assert_eq!(output[0], impulse);
        assert_eq!(output[1], impulse);
    }

    #[test]
    fn render_refuses_what_the_engine_refuses() {
        let channels = vec![vec![0.0_f32; 100]; 3];
        let error = render(&slices(&channels), 48_000.0, &ChainSettings::default()).unwrap_err();
        assert!(matches!(error, RenderError::Spec(SpecError::Channels(3))));
        let error = render(&slices(&channels[..2]), 100.0, &ChainSettings::default()).unwrap_err();
        assert!(error.to_string().contains("sample rate"));
    }

    #[test]
    fn mastering_lands_on_the_target_under_the_ceiling() {
        for (rate, target) in [(48_000.0, -14.0), (44_100.0, -9.0), (48_000.0, -24.0)] {
            let input = mix(rate, 12.0);
            let before = integrated_lufs(&input, rate).unwrap();
            let mastered =
                master_to_target(&slices(&input), rate, &ChainSettings::default(), target).unwrap();
            let after = mastered.integrated_lufs.unwrap();
            let mut peak = TruePeakMeter::new(rate, 2);
            peak.process(&slices(&mastered.channels));
            let true_peak = peak.max_true_peak_dbtp();
            println!(
                "{rate} Hz: {before:.2} → {after:.2} LUFS (target {target}), drive {:.2} dB, gain {:.2} dB, \
                 {} passes, TP {true_peak:.2} dBTP",
                mastered.settings.stages.limiter.drive_db, mastered.settings.output_gain_db, mastered.passes
            );
            assert!((after - target).abs() <= TARGET_TOLERANCE_LU + 0.05, "{after} vs {target}");
            assert!(true_peak <= -0.95, "{true_peak}");
        }
    }

    #[test]
    fn silence_cannot_be_mastered_to_a_target() {
        let silence = vec![vec![0.0_f32; 48_000]; 2];
        let error =
            master_to_target(&slices(&silence), 48_000.0, &ChainSettings::default(), -14.0).unwrap_err();
        assert_eq!(error, RenderError::NotEnoughAudio);
    }
}
