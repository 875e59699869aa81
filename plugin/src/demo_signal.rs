//! A small synthesized demo mix (drums, bass, chords) used where Parity needs music and no file
//! is at hand: the standalone's `--demo-input` and the built-in demo. Deterministic, allocation
//! free, and identical for any block partition.

use std::f64::consts::TAU;

/// Tempo of the demo groove.
pub const DEMO_TEMPO_BPM: f64 = 120.0;

/// Mix bus gain of the demo: peaks land around −2 dBFS, like an unmastered mix with little
/// headroom left.
const DEMO_MIX_GAIN: f32 = 0.7;

/// Chord roots of the four-bar loop (A minor, F, C, G) as MIDI notes, with the chord tones as
/// semitone offsets from the root.
const CHORDS: [(u8, [u8; 3]); 4] = [(57, [0, 3, 7]), (53, [0, 4, 7]), (48, [0, 4, 7]), (55, [0, 4, 7])];

/// The demo mix generator.
#[derive(Debug, Clone)]
pub struct DemoSignal {
    /// Sample rate in Hz.
    sample_rate_hz: f64,
    /// Samples since the start of the loop.
    position: u64,
    /// Kick oscillator phase in radians.
    kick_phase: f64,
    /// Bass oscillator phase in cycles.
    bass_phase: f64,
    /// Pad oscillator phases in cycles, per chord tone and channel.
    pad_phases: [[f64; 2]; 3],
    /// Noise generator state (xorshift32).
    noise_state: u32,
    /// Previous noise sample, for the hi-hat's first-difference high-pass.
    previous_noise: f32,
}

impl DemoSignal {
    /// A generator at the start of the loop.
    pub fn new(sample_rate_hz: f64) -> Self {
        Self {
            sample_rate_hz: sample_rate_hz.max(1.0),
            position: 0,
            kick_phase: 0.0,
            bass_phase: 0.0,
            pad_phases: [[0.0; 2]; 3],
            noise_state: 0x1234_5678,
            previous_noise: 0.0,
        }
    }

    /// Restarts the loop.
    pub fn reset(&mut self) {
        *self = Self::new(self.sample_rate_hz);
    }

    /// Overwrites every channel with the next frames of the mix (channel 0 = left, 1 = right; a
    /// mono buffer gets the left channel).
    pub fn render(&mut self, channels: &mut [&mut [f32]]) {
        let frames = channels.iter().map(|c| c.len()).min().unwrap_or(0);
        for frame in 0..frames {
            let (left, right) = self.next_frame();
            for (index, channel) in channels.iter_mut().enumerate() {
                channel[frame] = if index % 2 == 0 { left } else { right };
            }
        }
    }

    fn noise(&mut self) -> f32 {
        self.noise_state ^= self.noise_state << 13;
        self.noise_state ^= self.noise_state >> 17;
        self.noise_state ^= self.noise_state << 5;
        self.noise_state as f32 / u32::MAX as f32 * 2.0 - 1.0
    }

    /// One stereo frame.
    fn next_frame(&mut self) -> (f32, f32) {
        let fs = self.sample_rate_hz;
        let beat_samples = 60.0 / DEMO_TEMPO_BPM * fs;
        let beat_position = self.position as f64 / beat_samples;
        let beat = beat_position.floor() as u64;
        let since_beat_s = (beat_position - beat as f64) * 60.0 / DEMO_TEMPO_BPM;
        let eighth_s = since_beat_s % (30.0 / DEMO_TEMPO_BPM);
        let (root, tones) = CHORDS[((beat / 4) % 4) as usize];
        self.position += 1;

        // Kick on every beat: a falling sine with a fast decay.
        let kick_hz = 48.0 + 110.0 * (-since_beat_s * 35.0).exp();
        self.kick_phase = (self.kick_phase + TAU * kick_hz / fs) % TAU;
        let kick = 0.55 * (-since_beat_s * 9.0).exp() * self.kick_phase.sin();

        // Snare on beats 2 and 4, hi-hat on every eighth.
        let noise = self.noise();
        let snare = if beat % 2 == 1 { 0.22 * (-since_beat_s * 22.0).exp() as f32 * noise } else { 0.0 };
        let hat = 0.12 * (-eighth_s * 90.0).exp() as f32 * (noise - self.previous_noise);
        self.previous_noise = noise;

        // Bass: the chord root two octaves down, plucked per eighth, gently saturated.
        let bass_hz = midi_to_hz(root) / 4.0;
        self.bass_phase = (self.bass_phase + bass_hz / fs).fract();
        let bass_raw = (TAU * self.bass_phase).sin() + 0.3 * (2.0 * TAU * self.bass_phase).sin();
        let bass = 0.3 * (-eighth_s * 6.0).exp() * (1.2 * bass_raw).tanh();

        // Pad: the chord, slightly detuned between left and right for width.
        let mut pad = [0.0f64; 2];
        for (tone_phases, offset) in self.pad_phases.iter_mut().zip(tones) {
            let hz = midi_to_hz(root + offset);
            for (channel, phase) in tone_phases.iter_mut().enumerate() {
                let detune = if channel == 0 { 0.9985 } else { 1.0015 };
                *phase = (*phase + hz * detune / fs).fract();
                pad[channel] += 0.045 * (TAU * *phase).sin();
            }
        }

        let centre = (kick + bass) as f32 + snare;
        let left = centre + pad[0] as f32 + 0.8 * hat;
        let right = centre + pad[1] as f32 + 1.2 * hat;
        (DEMO_MIX_GAIN * left, DEMO_MIX_GAIN * right)
    }
}

/// Equal-tempered frequency of a MIDI note (A4 = 69 = 440 Hz).
fn midi_to_hz(note: u8) -> f64 {
    440.0 * 2f64.powf((note as f64 - 69.0) / 12.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_block_size_invariant_bounded_and_stereo() {
        let frames = 48_000;
        let mut one_shot = [vec![0.0f32; frames], vec![0.0f32; frames]];
        {
            let [l, r] = &mut one_shot;
            DemoSignal::new(48_000.0).render(&mut [&mut l[..], &mut r[..]]);
        }
        let mut blocks = [vec![0.0f32; frames], vec![0.0f32; frames]];
        let mut demo = DemoSignal::new(48_000.0);
        for start in (0..frames).step_by(37) {
            let end = (start + 37).min(frames);
            let [l, r] = &mut blocks;
            demo.render(&mut [&mut l[start..end], &mut r[start..end]]);
        }
        assert_eq!(one_shot, blocks);
        let peak = one_shot.iter().flatten().fold(0.0f32, |a, x| a.max(x.abs()));
        assert!(peak > 0.3 && peak < 1.0, "peak {peak}");
        assert_ne!(one_shot[0], one_shot[1], "the pad makes it stereo");
    }
}
