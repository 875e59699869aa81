//! The offline CLI's demo song: half a minute of synthesized music that `parity demo` masters, so
//! a person has something worth listening to and a loudness curve worth looking at.
//!
//! A short song in A minor at 120 BPM over Am–F–C–G: drums (kick with a pitch sweep, snare of tone
//! and noise, high-passed noise hi-hats, a crash, fills), a filtered saw bass on the chord roots,
//! detuned saw pads that differ per channel, and a triangle lead with vibrato and a dotted-eighth
//! echo. The arrangement moves like a real song's — quiet intro (about −26 LUFS short-term),
//! verse (−20), louder chorus (−16.5), breakdown (−24), final chorus, ring-out — so the unmastered
//! mix has a realistic loudness range (about 8 LU, −18.2 LUFS integrated) and headroom (sample
//! peaks around −2.6 dBFS). The tests check all of this with an independent meter (`ebur128`).
//!
//! Deterministic to the bit on every machine: time is the sample index, noise is a seeded
//! xorshift, and `sin`, `exp` and `tan` are computed here from `+ − × ÷` only, so no platform
//! libm can change a sample. Oscillators are band-limited (PolyBLEP saws, an additive triangle
//! whose partials fade out between 0.40·fs and 0.45·fs, filter cutoffs kept below 0.45·fs) and
//! noise is scaled so its in-band level does not depend on the rate: any rate from 8 kHz to
//! 192 kHz gives the same song, just band-limited.

use std::f64::consts::{LN_2, PI};

/// Length of the demo song in seconds.
pub const DEMO_SONG_DURATION_S: f64 = 34.0;

/// Tempo of the song.
const TEMPO_BPM: f64 = 120.0;
/// Sixteenth notes ("steps") per bar of 4/4.
const STEPS_PER_BAR: usize = 16;
/// Length of one sixteenth note in seconds.
const STEP_S: f64 = 15.0 / TEMPO_BPM;
/// Length of one bar in seconds.
const BAR_S: f64 = STEP_S * STEPS_PER_BAR as f64;

/// Highest frequency the synthesis produces, as a fraction of the sample rate; partials and filter
/// cutoffs above it are omitted or clamped.
const MAX_FREQ_RATIO: f64 = 0.45;
/// Partials fade out linearly from this fraction of the sample rate up to [`MAX_FREQ_RATIO`].
const FADE_FREQ_RATIO: f64 = 0.40;
/// Sample rate at which noise has unit amplitude; other rates scale it by √(fs / this) so the
/// noise power in any fixed band is the same at every rate.
const NOISE_REFERENCE_RATE_HZ: f64 = 48_000.0;
/// Lowest and highest rates rendered; others are clamped into this range.
const SAMPLE_RATE_RANGE_HZ: (f64, f64) = (1_000.0, 768_000.0);

/// Mix bus gain: puts the integrated loudness around −18 LUFS and the sample peak around
/// −2.6 dBFS.
const MASTER_GAIN: f64 = 0.247;
/// Fade-in at the very start, in seconds (the first sample is exactly zero).
const START_FADE_S: f64 = 0.01;
/// Fade-out at the very end, in seconds (the ring-out reaches exactly zero).
const END_FADE_S: f64 = 0.6;
/// The intro's pads swell in over this many seconds.
const INTRO_SWELL_S: f64 = 3.0;
/// Time constant of the section level changes in seconds: short enough to follow the
/// arrangement, long enough never to click.
const LEVEL_TAU_S: f64 = 0.03;

/// Sections of the song with their start times in seconds (derived from [`ARRANGEMENT`]; a test
/// keeps the two in step).
static SECTIONS: [(&str, f64); 6] = [
    ("intro", 0.0),
    ("verse", 4.0),
    ("chorus", 12.0),
    ("breakdown", 20.0),
    ("final chorus", 24.0),
    ("ending", 32.0),
];

/// The song's sections with their start times (for the report / plot annotation): pairs of
/// (name, start in seconds), in order, the first starting at 0 s.
pub fn demo_song_sections() -> &'static [(&'static str, f64)] {
    &SECTIONS
}

/// Renders the whole demo song, stereo, planar: `[left, right]`, each
/// `round(DEMO_SONG_DURATION_S · sample_rate_hz)` samples. Deterministic: the same samples on
/// every run and every machine. Any rate works (8 kHz to 192 kHz is the intended range; rates
/// outside 1 kHz ..= 768 kHz, and non-finite ones, are clamped into it).
pub fn render_demo_song(sample_rate_hz: f64) -> [Vec<f32>; 2] {
    render_parts(sample_rate_hz, Parts::ALL)
}

/// Which instruments to render (all for the song; single ones for the tests).
#[derive(Debug, Clone, Copy)]
struct Parts {
    /// Kick, snare, hi-hats and crash.
    drums: bool,
    /// The bass line.
    bass: bool,
    /// The chord pads.
    pads: bool,
    /// The lead melody and its echo.
    lead: bool,
}

impl Parts {
    /// The whole band.
    const ALL: Parts = Parts { drums: true, bass: true, pads: true, lead: true };
}

/// Renders the selected instruments of the song.
fn render_parts(sample_rate_hz: f64, parts: Parts) -> [Vec<f32>; 2] {
    let (min_hz, max_hz) = SAMPLE_RATE_RANGE_HZ;
    let fs = if sample_rate_hz.is_finite() { sample_rate_hz.clamp(min_hz, max_hz) } else { min_hz };
    let frames = (DEMO_SONG_DURATION_S * fs).round() as usize;
    let mut song = Song::new(fs, parts);
    let mut left = Vec::with_capacity(frames);
    let mut right = Vec::with_capacity(frames);
    let fade_out_from = frames.saturating_sub((END_FADE_S * fs) as usize);
    for n in 0..frames {
        let t_s = n as f64 / fs;
        let [l, r] = song.frame(t_s);
        let mut fade = if t_s < START_FADE_S { t_s / START_FADE_S } else { 1.0 };
        if n >= fade_out_from {
            fade *= end_fade((frames - 1 - n) as f64 / fs);
        }
        left.push((MASTER_GAIN * fade * l) as f32);
        right.push((MASTER_GAIN * fade * r) as f32);
    }
    [left, right]
}

/// Raised-cosine fade-out gain with `remaining_s` seconds left in the song: (1 − cos πx)/2 =
/// sin²(πx/2), exactly 0 at the end.
fn end_fade(remaining_s: f64) -> f64 {
    let x = (remaining_s / END_FADE_S).clamp(0.0, 1.0);
    let s = sin_turns(0.25 * x);
    s * s
}

// ---------------------------------------------------------------------------------------------
// The score.

/// Chords as MIDI notes of the pad voicing (close voice leading around A3–E4).
const CHORD_NOTES: [[u8; 3]; 4] = [
    [57, 60, 64], // Am: A3 C4 E4
    [57, 60, 65], // F: A3 C4 F4
    [55, 60, 64], // C: G3 C4 E4
    [55, 59, 62], // G: G3 B3 D4
];
/// Bass note per chord: the root an octave below the chord's root (A2, F2, C2, G2).
const BASS_NOTES: [u8; 4] = [45, 41, 36, 43];
/// Index of A minor in [`CHORD_NOTES`]; F, C and G follow.
const AM: usize = 0;
/// F major.
const F: usize = 1;
/// C major.
const C: usize = 2;
/// G major.
const G: usize = 3;

/// One melody note: first sixteenth within the phrase, length in sixteenths, MIDI note.
type Note = (usize, usize, u8);

/// The chorus hook, one note per entry over the four bars of Am–F–C–G.
const HOOK: [Note; 13] = [
    (0, 6, 76), // Am: E5 . D5 C5 . D5
    (6, 2, 74),
    (8, 4, 72),
    (12, 4, 74),
    (16, 6, 72), // F: C5 . A4 ...
    (22, 10, 69),
    (32, 4, 67), // C: G4 C5 E5 G5, up the arpeggio
    (36, 4, 72),
    (40, 4, 76),
    (44, 4, 79),
    (48, 10, 74), // G: D5 ... B4 D5, back into the top
    (58, 2, 71),
    (60, 4, 74),
];
/// The last note: A4, held and left to ring.
const FINAL_NOTE: [Note; 1] = [(0, 12, 69)];

/// Bit mask of the given sixteenths of a bar.
const fn steps(list: &[usize]) -> u16 {
    let mut mask = 0u16;
    let mut i = 0;
    while i < list.len() {
        mask |= 1 << list[i];
        i += 1;
    }
    mask
}

/// Every eighth note.
const EIGHTHS: u16 = steps(&[0, 2, 4, 6, 8, 10, 12, 14]);
/// Every sixteenth note.
const SIXTEENTHS: u16 = u16::MAX;
/// Beats 2 and 4.
const BACKBEAT: u16 = steps(&[4, 12]);
/// Every beat.
const FOUR_ON_THE_FLOOR: u16 = steps(&[0, 4, 8, 12]);

/// The drum fill in a section's last bar.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fill {
    /// No fill: the section's own pattern.
    None,
    /// Backbeat, then a sixteenth-note snare run over the last beat into the next section.
    Snare,
    /// A crescendo snare roll over the second half of the bar (the build out of the breakdown).
    Roll,
}

impl Fill {
    /// Snare velocity (0..1) of the fill on sixteenth `step`, or `None` for no hit.
    fn snare(self, step: usize) -> Option<f64> {
        match self {
            Fill::None => None,
            Fill::Snare => match step {
                4 => Some(1.0),
                10 => Some(0.5),
                12..=15 => Some(0.55 + 0.15 * (step - 12) as f64),
                _ => None,
            },
            Fill::Roll => (step >= 8).then(|| 0.12 + 0.09 * (step - 8) as f64),
        }
    }
}

/// How one section is played: which parts play, how loud, and their rhythm. Step masks have bit
/// `i` set when the part plays on sixteenth `i` of the bar; levels are linear.
#[derive(Debug, Clone, Copy)]
struct SectionMix {
    /// The section's chords, one per bar; the section lasts this many bars.
    chords: &'static [usize],
    /// Pad level.
    pad: f64,
    /// Pad low-pass cutoff in Hz (darker when quiet, open in the chorus).
    pad_cutoff_hz: f64,
    /// Kick level.
    kick: f64,
    /// Kick steps.
    kick_steps: u16,
    /// Snare level.
    snare: f64,
    /// Snare steps (outside the fill).
    snare_steps: u16,
    /// Drum fill in the section's last bar.
    fill: Fill,
    /// Hi-hat level.
    hat: f64,
    /// Closed hi-hat steps.
    hat_steps: u16,
    /// Open hi-hat steps (instead of a closed one on the same step).
    open_hat_steps: u16,
    /// Crash cymbal level on the section's first beat (0: none).
    crash: f64,
    /// Bass level.
    bass: f64,
    /// Bass note steps.
    bass_steps: u16,
    /// Steps on which the bass plays an octave up.
    bass_octave_steps: u16,
    /// Bass note length in sixteenths.
    bass_gate_steps: f64,
    /// Lead level (0: the lead rests).
    lead: f64,
    /// Level of the lead's octave-up double, relative to the lead.
    lead_octave: f64,
    /// The lead's notes, repeating every four bars.
    melody: &'static [Note],
}

/// A section where nothing plays; the others are written as changes to it.
const TACET: SectionMix = SectionMix {
    chords: &[AM],
    pad: 0.0,
    pad_cutoff_hz: 1_000.0,
    kick: 0.0,
    kick_steps: 0,
    snare: 0.0,
    snare_steps: 0,
    fill: Fill::None,
    hat: 0.0,
    hat_steps: 0,
    open_hat_steps: 0,
    crash: 0.0,
    bass: 0.0,
    bass_steps: 0,
    bass_octave_steps: 0,
    bass_gate_steps: 2.0,
    lead: 0.0,
    lead_octave: 0.0,
    melody: &[],
};

/// The chorus (and, with the lead doubled, the final chorus).
const CHORUS: SectionMix = SectionMix {
    chords: &[AM, F, C, G],
    pad: 1.0,
    pad_cutoff_hz: 3_000.0,
    kick: 1.0,
    kick_steps: FOUR_ON_THE_FLOOR,
    snare: 1.0,
    snare_steps: BACKBEAT,
    fill: Fill::Snare,
    hat: 0.6,
    hat_steps: SIXTEENTHS,
    open_hat_steps: steps(&[14]),
    crash: 1.0,
    bass: 1.0,
    bass_steps: EIGHTHS,
    bass_octave_steps: steps(&[2, 6, 10, 14]),
    bass_gate_steps: 1.5,
    lead: 1.0,
    lead_octave: 0.0,
    melody: &HOOK,
};

/// The arrangement, one entry per section of [`SECTIONS`].
const ARRANGEMENT: [SectionMix; 6] = [
    // Intro: pads swelling in under soft eighth-note hats.
    SectionMix { chords: &[AM, F], pad: 1.35, pad_cutoff_hz: 1_400.0, hat: 0.5, hat_steps: EIGHTHS, ..TACET },
    // Verse: the groove without the lead.
    SectionMix {
        chords: &[AM, F, C, G],
        pad: 0.8,
        pad_cutoff_hz: 1_600.0,
        kick: 0.8,
        kick_steps: steps(&[0, 6, 8]),
        snare: 0.7,
        snare_steps: BACKBEAT,
        fill: Fill::Snare,
        hat: 0.55,
        hat_steps: EIGHTHS,
        bass: 0.7,
        bass_steps: steps(&[0, 3, 6, 8, 11, 14]),
        bass_gate_steps: 2.0,
        ..TACET
    },
    CHORUS,
    // Breakdown: dark pads over held bass notes, then a snare roll builds into the last chorus.
    SectionMix {
        chords: &[F, G],
        pad: 0.9,
        pad_cutoff_hz: 1_000.0,
        snare: 0.6,
        fill: Fill::Roll,
        bass: 0.7,
        bass_steps: steps(&[0]),
        bass_gate_steps: 15.0,
        ..TACET
    },
    // Final chorus: the hook doubled an octave up.
    SectionMix { lead_octave: 0.35, ..CHORUS },
    // Ending: one last A minor, everything left to ring out.
    SectionMix {
        chords: &[AM],
        pad: 1.0,
        pad_cutoff_hz: 2_000.0,
        kick: 1.0,
        kick_steps: steps(&[0]),
        crash: 1.0,
        bass: 1.0,
        bass_steps: steps(&[0]),
        bass_gate_steps: 10.0,
        lead: 1.0,
        lead_octave: 0.35,
        melody: &FINAL_NOTE,
        ..TACET
    },
];

/// Where a sixteenth falls in the arrangement.
#[derive(Debug, Clone, Copy)]
struct Position {
    /// Index into [`ARRANGEMENT`] and [`SECTIONS`].
    section: usize,
    /// Bar within the section.
    bar: usize,
    /// Sixteenth within the bar.
    step: usize,
}

/// The position of song sixteenth `step`, or `None` past the last section.
fn position(step: usize) -> Option<Position> {
    let mut bar = step / STEPS_PER_BAR;
    for (section, mix) in ARRANGEMENT.iter().enumerate() {
        if bar < mix.chords.len() {
            return Some(Position { section, bar, step: step % STEPS_PER_BAR });
        }
        bar -= mix.chords.len();
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The band.

/// The song renderer: the instruments, their section levels, and the score position.
struct Song {
    /// Which instruments sound.
    parts: Parts,
    /// The next sixteenth to trigger.
    next_step: usize,
    /// Velocity variation of the drums (±10 %), seeded.
    humanize: Noise,
    /// Kick drum.
    kick: Kick,
    /// Snare drum.
    snare: Snare,
    /// Hi-hats.
    hat: Hat,
    /// Crash cymbal.
    crash: Crash,
    /// Bass synth.
    bass: Bass,
    /// Chord pads.
    pads: Pads,
    /// Lead synth with echo.
    lead: Lead,
    /// Bass level of the current section.
    bass_level: Smoother,
    /// Pad level of the current section.
    pad_level: Smoother,
    /// Lead level of the current section.
    lead_level: Smoother,
}

impl Song {
    /// The band, ready to play the first sample.
    fn new(fs: f64, parts: Parts) -> Self {
        let noise_gain = (fs / NOISE_REFERENCE_RATE_HZ).sqrt();
        Self {
            parts,
            next_step: 0,
            humanize: Noise::new(0x9E37_79B9),
            kick: Kick::new(fs),
            snare: Snare::new(fs, noise_gain),
            hat: Hat::new(fs, noise_gain),
            crash: Crash::new(fs, noise_gain),
            bass: Bass::new(fs),
            pads: Pads::new(fs),
            lead: Lead::new(fs),
            bass_level: Smoother::new(0.0, LEVEL_TAU_S, fs),
            pad_level: Smoother::new(0.0, LEVEL_TAU_S, fs),
            lead_level: Smoother::new(0.0, LEVEL_TAU_S, fs),
        }
    }

    /// The sample at song time `t_s` (which advances by one sample per call), before the master
    /// gain.
    fn frame(&mut self, t_s: f64) -> [f64; 2] {
        let step = (t_s / STEP_S) as usize;
        while self.next_step <= step {
            self.trigger(self.next_step);
            self.next_step += 1;
        }

        let mut out = [0.0; 2];
        if self.parts.drums {
            let centre = self.kick.next() + self.snare.next();
            let [hat_l, hat_r] = self.hat.next();
            let [crash_l, crash_r] = self.crash.next();
            out[0] += centre + hat_l + crash_l;
            out[1] += centre + hat_r + crash_r;
        }
        if self.parts.bass {
            let bass = self.bass_level.next() * self.bass.next(t_s);
            out[0] += bass;
            out[1] += bass;
        }
        if self.parts.pads {
            let level = self.pad_level.next() * swell(t_s);
            let [pad_l, pad_r] = self.pads.next(t_s);
            out[0] += level * pad_l;
            out[1] += level * pad_r;
        }
        if self.parts.lead {
            let level = self.lead_level.next();
            let [lead_l, lead_r] = self.lead.next(t_s, level);
            out[0] += lead_l;
            out[1] += lead_r;
        }
        out
    }

    /// Plays song sixteenth `step`: the section's levels on its first beat, then every note that
    /// starts on the step.
    fn trigger(&mut self, step: usize) {
        let Some(Position { section, bar, step: s }) = position(step) else { return };
        let mix = &ARRANGEMENT[section];
        let t_s = step as f64 * STEP_S;
        let chord = mix.chords[bar % mix.chords.len()];
        let bit = 1u16 << s;
        let last_bar = bar + 1 == mix.chords.len();

        if s == 0 {
            let ending = section + 1 == ARRANGEMENT.len();
            self.pads.set_chord(CHORD_NOTES[chord], t_s, ending);
            self.pads.set_cutoff(mix.pad_cutoff_hz);
            self.pad_level.target = mix.pad;
            self.bass_level.target = mix.bass;
            self.lead_level.target = mix.lead;
            self.lead.set_octave_level(mix.lead_octave);
            if bar == 0 && mix.crash > 0.0 {
                self.crash.trigger(mix.crash);
            }
        }

        let feel = 1.0 + 0.1 * self.humanize.next();
        if mix.kick_steps & bit != 0 {
            self.kick.trigger(mix.kick * feel);
        }
        let snare = if last_bar && mix.fill != Fill::None {
            mix.fill.snare(s)
        } else {
            (mix.snare_steps & bit != 0).then_some(1.0)
        };
        if let Some(velocity) = snare {
            self.snare.trigger(mix.snare * velocity * feel);
        }
        // Accented eighths, softer sixteenths in between.
        let accent = if s % 2 == 0 { 1.0 } else { 0.55 };
        if mix.open_hat_steps & bit != 0 {
            self.hat.trigger(mix.hat * feel, true);
        } else if mix.hat_steps & bit != 0 {
            self.hat.trigger(mix.hat * accent * feel, false);
        }

        if mix.bass_steps & bit != 0 {
            let octave = if mix.bass_octave_steps & bit != 0 { 12 } else { 0 };
            let note = BASS_NOTES[chord] + octave;
            self.bass.note_on(midi_to_hz(note as f64), t_s + mix.bass_gate_steps * STEP_S);
        }

        let phrase_step = (bar * STEPS_PER_BAR + s) % (4 * STEPS_PER_BAR);
        if let Some(&(_, length, note)) = mix.melody.iter().find(|(start, _, _)| *start == phrase_step) {
            // Slightly detached: the gate closes 30 ms before the next note.
            self.lead.note_on(midi_to_hz(note as f64), t_s, t_s + length as f64 * STEP_S - 0.03);
        }
    }
}

/// The intro's pad swell: a smooth rise from silence over [`INTRO_SWELL_S`].
fn swell(t_s: f64) -> f64 {
    if t_s >= INTRO_SWELL_S {
        return 1.0;
    }
    let x = t_s / INTRO_SWELL_S;
    x * x * (3.0 - 2.0 * x)
}

/// Kick drum: a sine swept down from about 130 Hz to 52 Hz, gently saturated. Every hit is
/// the same waveform (scaled by velocity), so it is rendered once and played back by a few
/// overlapping voices, which lets a ringing kick go on under the next one.
struct Kick {
    /// One hit at full velocity.
    hit: Vec<f64>,
    /// The voices: position in `hit` (at its end when idle) and velocity.
    voices: [(usize, f64); 3],
    /// Which voice plays the next hit.
    next_voice: usize,
}

impl Kick {
    /// Where the pitch sweep ends, in Hz: the kick's sub fundamental.
    const BASE_HZ: f64 = 52.0;
    /// How far above the base the sweep starts, in Hz.
    const SWEEP_HZ: f64 = 80.0;
    /// Pitch sweep time constant in seconds.
    const SWEEP_S: f64 = 0.03;
    /// Attack (linear ramp from silence) in seconds.
    const ATTACK_S: f64 = 0.0005;
    /// Amplitude decay time constant in seconds.
    const DECAY_S: f64 = 0.08;
    /// Length of a hit in seconds (the decay is at −65 dB by then)…
    const LENGTH_S: f64 = 0.6;
    /// …of which the last this many seconds fade linearly to zero.
    const TAPER_S: f64 = 0.1;

    /// A silent kick.
    fn new(fs: f64) -> Self {
        let frames = (Self::LENGTH_S * fs).round() as usize;
        let (mut amp, mut sweep) =
            (PercEnv::new(Self::ATTACK_S, Self::DECAY_S, fs), PercEnv::new(0.0, Self::SWEEP_S, fs));
        amp.trigger(1.0);
        sweep.trigger(1.0);
        let mut phase = 0.0;
        let hit = (0..frames)
            .map(|i| {
                let (amp, sweep) = (amp.next(), sweep.next());
                let taper = ((frames - i) as f64 / (Self::TAPER_S * fs)).min(1.0);
                phase += (Self::BASE_HZ + Self::SWEEP_HZ * sweep) / fs;
                let x = sin_turns(phase);
                // Cubic soft saturation: a third harmonic so small speakers hear the kick too.
                2.0 * taper * amp * (1.2 * x - 0.2 * x * x * x)
            })
            .collect();
        Self { hit, voices: [(frames, 0.0); 3], next_voice: 0 }
    }

    /// Hits the kick at `velocity` (0..1).
    fn trigger(&mut self, velocity: f64) {
        self.voices[self.next_voice] = (0, velocity);
        self.next_voice = (self.next_voice + 1) % self.voices.len();
    }

    /// The next sample.
    fn next(&mut self) -> f64 {
        let mut out = 0.0;
        for (position, velocity) in &mut self.voices {
            if let Some(x) = self.hit.get(*position) {
                out += *velocity * x;
                *position += 1;
            }
        }
        out
    }
}

/// Snare drum: a short 185 Hz tone plus band-passed noise.
struct Snare {
    /// Tone phase increment per sample, in turns.
    tone_dt: f64,
    /// Tone phase in turns.
    phase: f64,
    /// Tone envelope.
    tone: PercEnv,
    /// Noise envelope.
    rattle: PercEnv,
    /// Noise source.
    noise: Noise,
    /// Rate compensation of the noise (see [`NOISE_REFERENCE_RATE_HZ`]).
    noise_gain: f64,
    /// Removes the noise's lows.
    high_pass: Svf,
    /// Removes the noise's harsh top.
    low_pass: Svf,
}

impl Snare {
    /// Tone frequency in Hz.
    const TONE_HZ: f64 = 185.0;

    /// A silent snare.
    fn new(fs: f64, noise_gain: f64) -> Self {
        Self {
            tone_dt: Self::TONE_HZ / fs,
            phase: 0.0,
            tone: PercEnv::new(0.0005, 0.05, fs),
            rattle: PercEnv::new(0.0005, 0.09, fs),
            noise: Noise::new(0x5EED_0001),
            noise_gain,
            high_pass: Svf::new(1_200.0, 0.7, fs),
            low_pass: Svf::new(9_000.0, 0.7, fs),
        }
    }

    /// Hits the snare at `velocity` (0..1).
    fn trigger(&mut self, velocity: f64) {
        self.tone.trigger(velocity);
        self.rattle.trigger(velocity);
    }

    /// The next sample.
    fn next(&mut self) -> f64 {
        let (tone, rattle) = (self.tone.next(), self.rattle.next());
        if tone == 0.0 && rattle == 0.0 {
            return 0.0;
        }
        let noise = self.noise_gain * self.noise.next();
        let filtered = self.low_pass.process(self.high_pass.process(noise).high).low;
        self.phase += self.tone_dt;
        0.4 * tone * sin_turns(self.phase) + 0.35 * rattle * filtered
    }
}

/// Hi-hats: high-passed noise with a short (closed) or longer (open) decay, a little right of
/// centre.
struct Hat {
    /// Sample rate in Hz.
    fs: f64,
    /// Envelope.
    env: PercEnv,
    /// Noise source.
    noise: Noise,
    /// Rate compensation of the noise, and 0 where the rate cannot carry the hats.
    gain: f64,
    /// Leaves only the sizzle.
    high_pass: Svf,
    /// Takes the fizz off the very top.
    low_pass: Svf,
}

impl Hat {
    /// High-pass cutoff in Hz.
    const CUTOFF_HZ: f64 = 7_000.0;
    /// Low-pass cutoff in Hz.
    const TOP_HZ: f64 = 13_000.0;
    /// Closed hat decay time constant in seconds.
    const CLOSED_S: f64 = 0.025;
    /// Open hat decay time constant in seconds.
    const OPEN_S: f64 = 0.16;

    /// Silent hats.
    fn new(fs: f64, noise_gain: f64) -> Self {
        Self {
            fs,
            env: PercEnv::new(0.0003, Self::CLOSED_S, fs),
            noise: Noise::new(0x5EED_0002),
            gain: noise_gain * band_weight(Self::CUTOFF_HZ, fs),
            high_pass: Svf::new(Self::CUTOFF_HZ, 0.7, fs),
            low_pass: Svf::new(Self::TOP_HZ, 0.7, fs),
        }
    }

    /// Hits the hats at `velocity` (0..1), open or closed.
    fn trigger(&mut self, velocity: f64, open: bool) {
        self.env.set_decay(if open { Self::OPEN_S } else { Self::CLOSED_S }, self.fs);
        self.env.trigger(velocity);
    }

    /// The next stereo sample.
    fn next(&mut self) -> [f64; 2] {
        let sizzle = self.low_pass.process(self.high_pass.process(self.gain * self.noise.next()).high).low;
        let x = 0.2 * self.env.next() * sizzle;
        [0.8 * x, x]
    }
}

/// Crash cymbal: long high-passed noise, independent per channel so it is wide.
struct Crash {
    /// Envelope.
    env: PercEnv,
    /// Noise sources, per channel.
    noise: [Noise; 2],
    /// Rate compensation of the noise, and 0 where the rate cannot carry the crash.
    gain: f64,
    /// Leaves the shimmer, per channel.
    high_pass: [Svf; 2],
    /// Takes the fizz off the very top, per channel.
    low_pass: [Svf; 2],
}

impl Crash {
    /// High-pass cutoff in Hz.
    const CUTOFF_HZ: f64 = 4_500.0;
    /// Low-pass cutoff in Hz.
    const TOP_HZ: f64 = 12_000.0;

    /// A silent crash.
    fn new(fs: f64, noise_gain: f64) -> Self {
        Self {
            env: PercEnv::new(0.001, 0.7, fs),
            noise: [Noise::new(0x5EED_0003), Noise::new(0x5EED_0004)],
            gain: noise_gain * band_weight(Self::CUTOFF_HZ, fs),
            high_pass: [Svf::new(Self::CUTOFF_HZ, 0.7, fs); 2],
            low_pass: [Svf::new(Self::TOP_HZ, 0.7, fs); 2],
        }
    }

    /// Hits the crash at `velocity` (0..1).
    fn trigger(&mut self, velocity: f64) {
        self.env.trigger(velocity);
    }

    /// The next stereo sample.
    fn next(&mut self) -> [f64; 2] {
        let env = 0.12 * self.gain * self.env.next();
        let mut out = [0.0; 2];
        if env == 0.0 {
            return out;
        }
        for (channel, out) in out.iter_mut().enumerate() {
            let shimmer = self.high_pass[channel].process(self.noise[channel].next()).high;
            *out = env * self.low_pass[channel].process(shimmer).low;
        }
        out
    }
}

/// Bass synth: a PolyBLEP saw through a plucked resonant low-pass, plus a sine for weight.
struct Bass {
    /// Sample rate in Hz.
    fs: f64,
    /// Oscillator.
    saw: Saw,
    /// Oscillator phase increment per sample (frequency / sample rate).
    dt: f64,
    /// Amplitude, following the gate.
    amp: Gate,
    /// When the current note's gate closes, in song seconds.
    gate_end_s: f64,
    /// Filter envelope (1 at the note start, decaying).
    pluck: PercEnv,
    /// Tone filter.
    filter: Svf,
}

impl Bass {
    /// Filter cutoff at rest, in Hz.
    const CUTOFF_HZ: f64 = 220.0;
    /// How far the pluck opens the filter, in Hz.
    const PLUCK_HZ: f64 = 1_400.0;

    /// A silent bass.
    fn new(fs: f64) -> Self {
        Self {
            fs,
            saw: Saw::default(),
            dt: 0.0,
            amp: Gate::new(0.003, 0.025, fs),
            gate_end_s: 0.0,
            pluck: PercEnv::new(0.0, 0.12, fs),
            filter: Svf::new(Self::CUTOFF_HZ, 1.2, fs),
        }
    }

    /// Plays `freq_hz` until `gate_end_s`.
    fn note_on(&mut self, freq_hz: f64, gate_end_s: f64) {
        self.dt = freq_hz / self.fs;
        self.gate_end_s = gate_end_s;
        self.pluck.trigger(1.0);
    }

    /// The next sample at song time `t_s`.
    fn next(&mut self, t_s: f64) -> f64 {
        // Fast attack, gentle 25 ms release.
        let amp = self.amp.next(t_s < self.gate_end_s);
        self.filter.follow(Self::CUTOFF_HZ + Self::PLUCK_HZ * self.pluck.next(), self.fs);
        let saw = self.saw.next(self.dt);
        let body = sin_turns(self.saw.phase);
        0.52 * amp * (self.filter.process(saw).low + 0.8 * body)
    }
}

/// Chord pads: per chord tone a PolyBLEP saw in the centre plus one detuned saw per channel
/// (flat on the left, sharp on the right: width that still sums to mono), a slow swell on every
/// chord, through a low-pass.
struct Pads {
    /// Sample rate in Hz.
    fs: f64,
    /// Centre oscillators, per chord tone.
    centre: [Saw; 3],
    /// Phase increments (frequency / sample rate) of the centre oscillators.
    centre_dt: [f64; 3],
    /// Detuned oscillators: `[channel][tone]`.
    sides: [[Saw; 3]; 2],
    /// Phase increments of the detuned oscillators: `[channel][tone]`.
    sides_dt: [[f64; 3]; 2],
    /// Detune factors of the side oscillators, per channel.
    detune: [f64; 2],
    /// Chord envelope: swells on each chord, dips just before the next.
    env: f64,
    /// When the current chord started, in song seconds.
    chord_start_s: f64,
    /// Whether this chord is the last one, which rings out instead of dipping.
    last_chord: bool,
    /// One-pole coefficients of the envelope, per entry of [`Self::TAUS_S`].
    coefficients: [f64; 3],
    /// Low-pass cutoff in Hz, smoothed between sections.
    cutoff_hz: Smoother,
    /// Tone filters, per channel.
    filters: [Svf; 2],
}

impl Pads {
    /// Envelope level between chords.
    const DIP_LEVEL: f64 = 0.55;
    /// The dip starts this many seconds before the next chord.
    const DIP_LEAD_S: f64 = 0.25;
    /// Time constants of the envelope in seconds: swell, dip, release of the last chord.
    const TAUS_S: [f64; 3] = [0.3, 0.06, 0.6];
    /// Index of the swell in [`Self::TAUS_S`].
    const SWELL: usize = 0;
    /// Index of the dip in [`Self::TAUS_S`].
    const DIP: usize = 1;
    /// Index of the release in [`Self::TAUS_S`].
    const RELEASE: usize = 2;
    /// The last chord starts releasing this many seconds after it starts.
    const RELEASE_AFTER_S: f64 = 0.5;

    /// Gain of the centre oscillators.
    const CENTRE_GAIN: f64 = 0.85;
    /// Gain of the detuned oscillators.
    const SIDE_GAIN: f64 = 1.15;
    /// Detune of the side oscillators in cents, per channel.
    const DETUNE_CENTS: [f64; 2] = [-8.0, 9.0];

    /// Silent pads.
    fn new(fs: f64) -> Self {
        Self {
            fs,
            centre: Default::default(),
            centre_dt: [0.0; 3],
            sides: Default::default(),
            sides_dt: [[0.0; 3]; 2],
            detune: Self::DETUNE_CENTS.map(|cents| exp(cents / 1200.0 * LN_2)),
            env: 0.0,
            chord_start_s: 0.0,
            last_chord: false,
            coefficients: Self::TAUS_S.map(|tau_s| one_pole_coefficient(tau_s, fs)),
            cutoff_hz: Smoother::new(1_000.0, 0.4, fs),
            filters: [Svf::new(1_000.0, 0.6, fs); 2],
        }
    }

    /// Changes to `notes` (MIDI) at song time `start_s`; the last chord rings out.
    fn set_chord(&mut self, notes: [u8; 3], start_s: f64, last_chord: bool) {
        for (tone, note) in notes.into_iter().enumerate() {
            let dt = midi_to_hz(note as f64) / self.fs;
            self.centre_dt[tone] = dt;
            for (sides_dt, detune) in self.sides_dt.iter_mut().zip(self.detune) {
                sides_dt[tone] = dt * detune;
            }
        }
        self.chord_start_s = start_s;
        self.last_chord = last_chord;
    }

    /// Moves the low-pass cutoff to `cutoff_hz` (smoothly).
    fn set_cutoff(&mut self, cutoff_hz: f64) {
        self.cutoff_hz.target = cutoff_hz;
    }

    /// The next stereo sample at song time `t_s`.
    fn next(&mut self, t_s: f64) -> [f64; 2] {
        let since_s = t_s - self.chord_start_s;
        let (target, tau) = if self.last_chord {
            if since_s < Self::RELEASE_AFTER_S {
                (1.0, Self::SWELL)
            } else {
                (0.0, Self::RELEASE)
            }
        } else if since_s < BAR_S - Self::DIP_LEAD_S {
            (1.0, Self::SWELL)
        } else {
            (Self::DIP_LEVEL, Self::DIP)
        };
        self.env += (target - self.env) * self.coefficients[tau];

        let cutoff_hz = self.cutoff_hz.next();
        for filter in &mut self.filters {
            filter.follow(cutoff_hz, self.fs);
        }
        let centre: f64 = self.centre.iter_mut().zip(self.centre_dt).map(|(saw, dt)| saw.next(dt)).sum();
        let mut out = [0.0; 2];
        for (channel, out) in out.iter_mut().enumerate() {
            let sides = &mut self.sides[channel];
            let side: f64 = sides.iter_mut().zip(self.sides_dt[channel]).map(|(saw, dt)| saw.next(dt)).sum();
            let voices = Self::CENTRE_GAIN * centre + Self::SIDE_GAIN * side;
            *out = 0.115 * self.env * self.filters[channel].process(voices).low;
        }
        out
    }
}

/// Lead synth: an additive triangle (optionally doubled an octave up) with glide and delayed
/// vibrato, slightly left, and a dotted-eighth echo on the right.
struct Lead {
    /// Sample period in seconds (1 / the sample rate).
    period_s: f64,
    /// Oscillator phase in turns.
    phase: f64,
    /// Frequency in Hz, gliding to the note.
    freq_hz: Smoother,
    /// Vibrato LFO phase in turns.
    vibrato_phase: f64,
    /// Amplitude, following the gate.
    amp: Gate,
    /// When the current note started, in song seconds.
    note_start_s: f64,
    /// When the current note's gate closes, in song seconds.
    gate_end_s: f64,
    /// Amplitudes of the partials 1..=[`Self::PARTIALS`] (see [`Self::set_octave_level`]).
    partial_gains: [f64; Self::PARTIALS],
    /// Where partials stop, in Hz ([`MAX_FREQ_RATIO`]·fs).
    top_hz: f64,
    /// 1 / the width in Hz over which partials fade out below `top_hz` (see [`band_weight`]).
    fade_per_hz: f64,
    /// Echo delay line.
    echo: Vec<f64>,
    /// Read/write position in the echo delay line.
    echo_pos: usize,
    /// Damping low-pass state of the echo feedback.
    echo_damp: f64,
    /// Damping low-pass coefficient of the echo feedback.
    echo_damp_coefficient: f64,
}

impl Lead {
    /// Vibrato rate in Hz.
    const VIBRATO_HZ: f64 = 5.5;
    /// Vibrato depth as a frequency ratio (about ±0.2 semitone).
    const VIBRATO_DEPTH: f64 = 0.012;
    /// Vibrato starts this many seconds into a note…
    const VIBRATO_DELAY_S: f64 = 0.2;
    /// …and reaches full depth this many seconds later.
    const VIBRATO_RISE_S: f64 = 0.4;
    /// Echo delay in seconds (a dotted eighth at 120 BPM).
    const ECHO_S: f64 = 0.375;
    /// Echo feedback gain.
    const ECHO_FEEDBACK: f64 = 0.38;
    /// Cutoff of the echo's damping in Hz.
    const ECHO_DAMP_HZ: f64 = 3_000.0;
    /// Highest partial of the triangle.
    const PARTIALS: usize = 11;

    /// Amplitudes of the partials 1..=[`Self::PARTIALS`] with the octave-up double at
    /// `octave_level`: the triangle's odd partials at ±1/k², the double's own odd partials (the
    /// lead's partials 2, 6 and 10) likewise, and a little of partials 2 and 4 for warmth.
    fn partial_gains(octave_level: f64) -> [f64; Self::PARTIALS] {
        /// Triangle series term n (odd): ±1/n².
        fn triangle(n: usize) -> f64 {
            let sign = if n % 4 == 1 { 1.0 } else { -1.0 };
            sign / (n * n) as f64
        }
        std::array::from_fn(|i| {
            let k = i + 1;
            let warmth = if k == 2 || k == 4 { 0.12 / (k * k) as f64 } else { 0.0 };
            match k % 4 {
                1 | 3 => triangle(k),
                2 => octave_level * triangle(k / 2) + warmth,
                _ => warmth,
            }
        })
    }

    /// Sets the level of the octave-up double, relative to the lead.
    fn set_octave_level(&mut self, octave_level: f64) {
        self.partial_gains = Self::partial_gains(octave_level);
    }

    /// A silent lead.
    fn new(fs: f64) -> Self {
        let echo_frames = (Self::ECHO_S * fs).round().max(1.0) as usize;
        Self {
            period_s: 1.0 / fs,
            phase: 0.0,
            freq_hz: Smoother::new(440.0, 0.012, fs),
            vibrato_phase: 0.0,
            amp: Gate::new(0.006, 0.08, fs),
            note_start_s: 0.0,
            gate_end_s: 0.0,
            partial_gains: Self::partial_gains(0.0),
            top_hz: MAX_FREQ_RATIO * fs,
            fade_per_hz: 1.0 / ((MAX_FREQ_RATIO - FADE_FREQ_RATIO) * fs),
            echo: vec![0.0; echo_frames],
            echo_pos: 0,
            echo_damp: 0.0,
            echo_damp_coefficient: one_pole_coefficient(
                1.0 / (2.0 * PI * Self::ECHO_DAMP_HZ.min(MAX_FREQ_RATIO * fs)),
                fs,
            ),
        }
    }

    /// Plays `freq_hz` from `start_s` until `gate_end_s` (song seconds); the pitch glides from
    /// the previous note.
    fn note_on(&mut self, freq_hz: f64, start_s: f64, gate_end_s: f64) {
        if self.amp.value < 1e-3 {
            // Nothing sounding: start on pitch rather than gliding from an old note.
            self.freq_hz.value = freq_hz;
        }
        self.freq_hz.target = freq_hz;
        self.note_start_s = start_s;
        self.gate_end_s = gate_end_s;
    }

    /// The next stereo sample at song time `t_s`, the dry lead at `level` (the echo keeps
    /// ringing when the section silences the lead).
    fn next(&mut self, t_s: f64, level: f64) -> [f64; 2] {
        let amp = self.amp.next(t_s < self.gate_end_s);
        let dry = if amp == 0.0 { 0.0 } else { level * amp * self.oscillator(t_s) };

        let echoed = self.echo[self.echo_pos];
        self.echo_damp += (echoed - self.echo_damp) * self.echo_damp_coefficient;
        self.echo[self.echo_pos] = dry + Self::ECHO_FEEDBACK * self.echo_damp;
        self.echo_pos += 1;
        if self.echo_pos == self.echo.len() {
            self.echo_pos = 0;
        }
        [0.9 * dry + 0.25 * echoed, 0.7 * dry + 0.5 * echoed]
    }

    /// The next sample of the oscillator at song time `t_s` (only run while the lead sounds).
    fn oscillator(&mut self, t_s: f64) -> f64 {
        self.vibrato_phase += Self::VIBRATO_HZ * self.period_s;
        if self.vibrato_phase >= 1.0 {
            self.vibrato_phase -= 1.0;
        }
        let into_note_s = t_s - self.note_start_s;
        let depth = ((into_note_s - Self::VIBRATO_DELAY_S) / Self::VIBRATO_RISE_S).clamp(0.0, 1.0);
        let vibrato = 1.0 + Self::VIBRATO_DEPTH * depth * sin_turns(self.vibrato_phase);
        let freq_hz = self.freq_hz.next() * vibrato;
        self.phase += freq_hz * self.period_s;
        if self.phase >= 1.0 {
            self.phase -= 1.0;
        }

        // sin(kθ) for k = 1, 2, … by the Chebyshev recurrence sin((k+1)θ) = 2cosθ·sin(kθ) −
        // sin((k−1)θ); the triangle takes the odd partials at ±1/k², the octave double the
        // partials 2, 6, 10 (its own odd ones), and 2 and 4 add a little warmth.
        let two_cos = 2.0 * cos_turns(self.phase);
        let (mut previous, mut current) = (0.0, sin_turns(self.phase));
        let mut dry = 0.0;
        for (k, gain) in (1..).zip(self.partial_gains) {
            let weight = ((self.top_hz - k as f64 * freq_hz) * self.fade_per_hz).clamp(0.0, 1.0);
            if weight == 0.0 {
                break;
            }
            dry += weight * gain * current;
            (previous, current) = (current, two_cos * current - previous);
        }
        0.29 * dry
    }
}

// ---------------------------------------------------------------------------------------------
// Building blocks.

/// Noise generator: xorshift32 (Marsaglia, "Xorshift RNGs", 2003), uniform in [−1, 1).
#[derive(Debug, Clone)]
struct Noise {
    /// Generator state, never zero.
    state: u32,
}

impl Noise {
    /// A generator seeded with `seed` (zero is replaced, as xorshift would stay at zero).
    fn new(seed: u32) -> Self {
        Self { state: seed.max(1) }
    }

    /// The next value, uniform in [−1, 1).
    fn next(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        self.state as f64 / 2_147_483_648.0 - 1.0
    }
}

/// Percussive envelope: a short linear ramp from wherever it is to the hit's peak (so retriggers
/// never jump), then exponential decay.
#[derive(Debug, Clone)]
struct PercEnv {
    /// Current value.
    value: f64,
    /// Attack length in samples.
    attack_frames: u32,
    /// Attack samples still to go.
    attack_left: u32,
    /// Per-sample increment during the attack.
    attack_step: f64,
    /// Per-sample decay factor.
    decay: f64,
}

impl PercEnv {
    /// A silent envelope with the given attack and decay time constant, in seconds.
    fn new(attack_s: f64, decay_s: f64, fs: f64) -> Self {
        let mut env = Self {
            value: 0.0,
            attack_frames: (attack_s * fs).round().max(1.0) as u32,
            attack_left: 0,
            attack_step: 0.0,
            decay: 0.0,
        };
        env.set_decay(decay_s, fs);
        env
    }

    /// Changes the decay time constant, in seconds.
    fn set_decay(&mut self, decay_s: f64, fs: f64) {
        self.decay = 1.0 - one_pole_coefficient(decay_s, fs);
    }

    /// Starts a hit peaking at `peak`.
    fn trigger(&mut self, peak: f64) {
        self.attack_left = self.attack_frames;
        self.attack_step = (peak - self.value) / self.attack_frames as f64;
    }

    /// The next value.
    fn next(&mut self) -> f64 {
        if self.attack_left > 0 {
            self.value += self.attack_step;
            self.attack_left -= 1;
        } else {
            self.value *= self.decay;
            // −120 dB: silent, and the voice can stop computing.
            if self.value < 1e-6 {
                self.value = 0.0;
            }
        }
        self.value
    }
}

/// One-pole smoother: moves exponentially towards `target`.
#[derive(Debug, Clone)]
struct Smoother {
    /// Current value.
    value: f64,
    /// Where it is heading.
    target: f64,
    /// Per-sample fraction of the remaining distance covered.
    coefficient: f64,
}

impl Smoother {
    /// A smoother at `value` with time constant `tau_s`.
    fn new(value: f64, tau_s: f64, fs: f64) -> Self {
        Self { value, target: value, coefficient: one_pole_coefficient(tau_s, fs) }
    }

    /// The next value.
    fn next(&mut self) -> f64 {
        self.value += (self.target - self.value) * self.coefficient;
        if (self.value - self.target).abs() < 1e-9 {
            self.value = self.target;
        }
        self.value
    }
}

/// Gate envelope: one-pole rise towards 1 while the gate is open, one-pole fall towards 0 after.
#[derive(Debug, Clone)]
struct Gate {
    /// Current value, 0..1.
    value: f64,
    /// One-pole coefficient of the rise.
    attack: f64,
    /// One-pole coefficient of the fall.
    release: f64,
}

impl Gate {
    /// A closed gate with attack and release time constants in seconds.
    fn new(attack_s: f64, release_s: f64, fs: f64) -> Self {
        Self {
            value: 0.0,
            attack: one_pole_coefficient(attack_s, fs),
            release: one_pole_coefficient(release_s, fs),
        }
    }

    /// The next value, with the gate `open` or not.
    fn next(&mut self, open: bool) -> f64 {
        if open {
            self.value += (1.0 - self.value) * self.attack;
        } else {
            self.value -= self.value * self.release;
            if self.value < 1e-9 {
                self.value = 0.0;
            }
        }
        self.value
    }
}

/// Per-sample coefficient of a one-pole with time constant `tau_s`: 1 − e^(−1/(τ·fs)).
fn one_pole_coefficient(tau_s: f64, fs: f64) -> f64 {
    1.0 - exp(-1.0 / (tau_s * fs))
}

/// Sawtooth oscillator with PolyBLEP anti-aliasing (Välimäki & Huovilainen, "Antialiasing
/// Oscillators in Subtractive Synthesis", IEEE Signal Processing Magazine, 2007).
#[derive(Debug, Clone, Copy, Default)]
struct Saw {
    /// Phase in turns, in [0, 1).
    phase: f64,
}

impl Saw {
    /// The next sample, in [−1, 1], at `dt` = frequency / sample rate; silent at or above
    /// [`MAX_FREQ_RATIO`].
    fn next(&mut self, dt: f64) -> f64 {
        if dt >= MAX_FREQ_RATIO {
            return 0.0;
        }
        let t = self.phase;
        let blep = if t < dt {
            let x = t / dt;
            2.0 * x - x * x - 1.0
        } else if t > 1.0 - dt {
            let x = (t - 1.0) / dt;
            x * x + 2.0 * x + 1.0
        } else {
            0.0
        };
        self.phase += dt;
        if self.phase >= 1.0 {
            self.phase -= 1.0;
        }
        2.0 * t - 1.0 - blep
    }
}

/// The outputs of a state-variable filter used here.
#[derive(Debug, Clone, Copy)]
struct SvfOut {
    /// Low-pass output.
    low: f64,
    /// High-pass output.
    high: f64,
}

/// State-variable filter, trapezoidal integration (Andrew Simper, "Linear Trapezoidal Integrated
/// SVF", Cytomic, 2013): stable under fast cutoff modulation.
#[derive(Debug, Clone, Copy)]
struct Svf {
    /// First integrator state.
    ic1eq: f64,
    /// Second integrator state.
    ic2eq: f64,
    /// Cutoff the coefficients are set to, in Hz.
    cutoff_hz: f64,
    /// Quality.
    q: f64,
    /// Damping, 1/Q.
    k: f64,
    /// 1 / (1 + g(g + k)).
    a1: f64,
    /// g·a1.
    a2: f64,
    /// g·a2.
    a3: f64,
}

impl Svf {
    /// A filter at rest with cutoff `cutoff_hz` and quality `q`.
    fn new(cutoff_hz: f64, q: f64, fs: f64) -> Self {
        let mut filter =
            Self { ic1eq: 0.0, ic2eq: 0.0, cutoff_hz: 0.0, q: 1.0, k: 1.0, a1: 0.0, a2: 0.0, a3: 0.0 };
        filter.set(cutoff_hz, q, fs);
        filter
    }

    /// Sets cutoff (clamped to [`MAX_FREQ_RATIO`]·fs) and quality; keeps the state.
    fn set(&mut self, cutoff_hz: f64, q: f64, fs: f64) {
        let cutoff_hz = cutoff_hz.clamp(1.0, MAX_FREQ_RATIO * fs);
        self.cutoff_hz = cutoff_hz;
        self.q = q;
        // g = tan(π·fc/fs) = tan of fc/(2fs) turns.
        let g = tan_turns(cutoff_hz / (2.0 * fs));
        self.k = 1.0 / q;
        self.a1 = 1.0 / (1.0 + g * (g + self.k));
        self.a2 = g * self.a1;
        self.a3 = g * self.a2;
    }

    /// Follows a modulated cutoff: recomputes the coefficients only once `cutoff_hz` has moved
    /// by more than 0.2 % (inaudible), so a slow sweep costs a `tan` every few samples, not every
    /// sample.
    fn follow(&mut self, cutoff_hz: f64, fs: f64) {
        let cutoff_hz = cutoff_hz.clamp(1.0, MAX_FREQ_RATIO * fs);
        if (cutoff_hz - self.cutoff_hz).abs() > 0.002 * self.cutoff_hz {
            self.set(cutoff_hz, self.q, fs);
        }
    }

    /// Filters one sample.
    fn process(&mut self, v0: f64) -> SvfOut {
        let v3 = v0 - self.ic2eq;
        let v1 = self.a1 * self.ic1eq + self.a2 * v3;
        let v2 = self.ic2eq + self.a2 * self.ic1eq + self.a3 * v3;
        self.ic1eq = snap_to_zero(2.0 * v1 - self.ic1eq);
        self.ic2eq = snap_to_zero(2.0 * v2 - self.ic2eq);
        SvfOut { low: v2, high: v0 - self.k * v1 - v2 }
    }
}

/// Zero for values too small to hear, so decaying states never become subnormal.
fn snap_to_zero(x: f64) -> f64 {
    if x.abs() < 1e-30 {
        0.0
    } else {
        x
    }
}

/// Gain of a partial at `freq_hz`: 1 up to [`FADE_FREQ_RATIO`]·fs, fading linearly to 0 at
/// [`MAX_FREQ_RATIO`]·fs, so nothing aliases and nothing switches on or off abruptly.
fn band_weight(freq_hz: f64, fs: f64) -> f64 {
    ((MAX_FREQ_RATIO * fs - freq_hz) / ((MAX_FREQ_RATIO - FADE_FREQ_RATIO) * fs)).clamp(0.0, 1.0)
}

/// Equal-tempered frequency of a MIDI note (A4 = 69 = 440 Hz).
fn midi_to_hz(note: f64) -> f64 {
    440.0 * exp((note - 69.0) / 12.0 * LN_2)
}

// ---------------------------------------------------------------------------------------------
// Portable transcendental functions: `+ − × ÷` only, so the same bits on every platform.

/// Taylor coefficients of sin(2π·r)/r in powers of r²: (−1)ⁿ(2π)²ⁿ⁺¹/(2n+1)! for n = 0..=7.
const SIN_COEFFICIENTS: [f64; 8] = {
    let mut coefficients = [2.0 * PI; 8];
    let mut n = 1;
    while n < 8 {
        let m = (2 * n) as f64;
        coefficients[n] = -coefficients[n - 1] * (2.0 * PI) * (2.0 * PI) / (m * (m + 1.0));
        n += 1;
    }
    coefficients
};

/// 1/n for n = 1..=16: the ratios of successive terms of the exponential's Taylor series.
const EXP_RATIOS: [f64; 16] = {
    let mut ratios = [0.0; 16];
    let mut n = 0;
    while n < 16 {
        ratios[n] = 1.0 / (n + 1) as f64;
        n += 1;
    }
    ratios
};

/// sin(2π·turns): reduced to a quarter turn, then the Taylor series to x¹⁵ (truncation error
/// below 1e-11 at a quarter turn).
fn sin_turns(turns: f64) -> f64 {
    // Integer part by truncation (a single instruction, unlike `round`, which is a libm call on
    // baseline x86-64), then into [−0.5, 0.5] and folded into a quarter turn.
    let mut r = turns - turns as i64 as f64;
    if r > 0.5 {
        r -= 1.0;
    } else if r < -0.5 {
        r += 1.0;
    }
    if r > 0.25 {
        r = 0.5 - r;
    } else if r < -0.25 {
        r = -0.5 - r;
    }
    // Estrin's scheme: the same polynomial as Horner's rule in half the dependent steps.
    let c = SIN_COEFFICIENTS;
    let u = r * r;
    let u2 = u * u;
    let u4 = u2 * u2;
    let low = (c[0] + c[1] * u) + u2 * (c[2] + c[3] * u);
    let high = (c[4] + c[5] * u) + u2 * (c[6] + c[7] * u);
    r * (low + u4 * high)
}

/// cos(2π·turns).
fn cos_turns(turns: f64) -> f64 {
    sin_turns(turns + 0.25)
}

/// tan(2π·turns), for |turns| < 0.25.
fn tan_turns(turns: f64) -> f64 {
    sin_turns(turns) / cos_turns(turns)
}

/// eˣ: x = k·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its Taylor series to r¹⁶ (truncation error
/// below 1e-20), 2^k from the exponent bits. Saturates to 0 below −700 and at e⁷⁰⁰ above 700.
fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x < -700.0 {
        return 0.0;
    }
    let x = x.min(700.0);
    let k = (x / LN_2).round();
    let r = x - k * LN_2;
    let mut sum = 1.0;
    for ratio in EXP_RATIOS.iter().rev() {
        sum = 1.0 + r * ratio * sum;
    }
    // |k| ≤ 1010, so 2^k is a normal number.
    sum * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebur128::{EbuR128, Mode};
    use std::sync::OnceLock;

    /// The 48 kHz render, shared by the tests.
    fn song_48k() -> &'static [Vec<f32>; 2] {
        static SONG: OnceLock<[Vec<f32>; 2]> = OnceLock::new();
        SONG.get_or_init(|| render_demo_song(48_000.0))
    }

    /// Largest |sample| over both channels.
    fn peak(song: &[Vec<f32>; 2]) -> f32 {
        song.iter().flatten().fold(0.0f32, |a, x| a.max(x.abs()))
    }

    /// A loudness meter fed with `song[range]`.
    fn meter(song: &[Vec<f32>; 2], rate_hz: u32, mode: Mode, range: std::ops::Range<usize>) -> EbuR128 {
        let mut meter = EbuR128::new(2, rate_hz, mode).unwrap();
        meter.add_frames_planar_f32(&[&song[0][range.clone()], &song[1][range]]).unwrap();
        meter
    }

    /// Integrated loudness of the whole song in LUFS.
    fn integrated_lufs(song: &[Vec<f32>; 2], rate_hz: u32) -> f64 {
        meter(song, rate_hz, Mode::I, 0..song[0].len()).loudness_global().unwrap()
    }

    /// Integrated loudness of each section in LUFS, at 48 kHz.
    fn section_lufs(song: &[Vec<f32>; 2]) -> Vec<f64> {
        let frames = song[0].len();
        let sections = demo_song_sections();
        (0..sections.len())
            .map(|i| {
                let start = (sections[i].1 * 48_000.0) as usize;
                let end = sections.get(i + 1).map_or(frames, |s| (s.1 * 48_000.0) as usize);
                meter(song, 48_000, Mode::I, start..end).loudness_global().unwrap()
            })
            .collect()
    }

    /// Short-term loudness every 100 ms as (end of window in s, LUFS), at 48 kHz.
    fn short_term(song: &[Vec<f32>; 2]) -> Vec<(f64, f64)> {
        let mut meter = EbuR128::new(2, 48_000, Mode::S).unwrap();
        let hop = 4_800;
        let mut curve = Vec::new();
        for start in (0..song[0].len()).step_by(hop) {
            let end = (start + hop).min(song[0].len());
            meter.add_frames_planar_f32(&[&song[0][start..end], &song[1][start..end]]).unwrap();
            if end >= 3 * 48_000 {
                curve.push((end as f64 / 48_000.0, meter.loudness_shortterm().unwrap()));
            }
        }
        curve
    }

    #[test]
    fn portable_math_matches_std() {
        for i in -2_000..=2_000 {
            let x = i as f64 * 0.001_37;
            assert!((sin_turns(x) - (2.0 * PI * x).sin()).abs() < 1e-11, "sin {x}");
            assert!((cos_turns(x) - (2.0 * PI * x).cos()).abs() < 1e-11, "cos {x}");
            let e = i as f64 * 0.03;
            assert!((exp(e) / e.exp() - 1.0).abs() < 1e-14, "exp {e}");
        }
        for i in 1..450 {
            let turns = i as f64 / 2_000.0;
            let want = (2.0 * PI * turns).tan();
            assert!((tan_turns(turns) / want - 1.0).abs() < 1e-10, "tan {turns}");
        }
        assert_eq!(exp(-800.0), 0.0);
        assert!((midi_to_hz(57.0) - 220.0).abs() < 1e-12);
    }

    #[test]
    fn sections_match_the_arrangement() {
        let mut start_s = 0.0;
        for ((name, section_start_s), mix) in SECTIONS.iter().zip(&ARRANGEMENT) {
            assert!((section_start_s - start_s).abs() < 1e-12, "{name} starts at {start_s} s");
            start_s += mix.chords.len() as f64 * BAR_S;
        }
        assert_eq!(SECTIONS.len(), ARRANGEMENT.len());
        assert!((start_s - DEMO_SONG_DURATION_S).abs() < 1e-12, "the arrangement lasts {start_s} s");
        assert_eq!(demo_song_sections(), &SECTIONS[..]);
    }

    #[test]
    fn renders_are_identical() {
        let again = render_demo_song(48_000.0);
        assert!(song_48k() == &again);
        assert!(render_demo_song(8_000.0) == render_demo_song(8_000.0));
    }

    #[test]
    fn length_finite_and_headroom_at_every_rate() {
        for rate_hz in [8_000.0, 22_050.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0] {
            let song = if rate_hz == 48_000.0 { song_48k().clone() } else { render_demo_song(rate_hz) };
            let frames = (DEMO_SONG_DURATION_S * rate_hz).round() as usize;
            assert_eq!(song[0].len(), frames, "{rate_hz} Hz");
            assert_eq!(song[1].len(), frames, "{rate_hz} Hz");
            assert!(song.iter().flatten().all(|x| x.is_finite()), "{rate_hz} Hz");
            let peak = peak(&song);
            assert!(peak < 1.0 && peak > 0.5, "{rate_hz} Hz: peak {peak}");
            assert_eq!(song[0][0], 0.0);
            assert_eq!(song[0][frames - 1], 0.0);
        }
        // Rates outside the range are clamped, not a panic or NaN.
        for rate_hz in [0.0, -5.0, f64::NAN, f64::INFINITY] {
            let song = render_demo_song(rate_hz);
            assert!(song.iter().flatten().all(|x| x.is_finite() && x.abs() < 1.0), "{rate_hz}");
        }
    }

    #[test]
    fn peak_is_an_unmastered_mix_with_headroom() {
        let peak_dbfs = 20.0 * (peak(song_48k()) as f64).log10();
        assert!((-3.0..=-1.0).contains(&peak_dbfs), "peak {peak_dbfs:.2} dBFS");
    }

    #[test]
    fn integrated_loudness_and_range_are_realistic() {
        let song = song_48k();
        let meter = meter(song, 48_000, Mode::I | Mode::LRA, 0..song[0].len());
        let integrated = meter.loudness_global().unwrap();
        let range = meter.loudness_range().unwrap();
        assert!((-20.0..=-18.0).contains(&integrated), "integrated {integrated:.2} LUFS");
        assert!((4.0..=10.0).contains(&range), "LRA {range:.2} LU");
    }

    #[test]
    fn sections_get_louder_then_quieter() {
        let lufs = section_lufs(song_48k());
        let [intro, verse, chorus, breakdown, final_chorus, _ending] = lufs[..] else { panic!() };
        assert!(verse - intro >= 3.0, "intro {intro:.1}, verse {verse:.1}");
        assert!(chorus - verse >= 3.0, "verse {verse:.1}, chorus {chorus:.1}");
        assert!(chorus - breakdown >= 5.0, "chorus {chorus:.1}, breakdown {breakdown:.1}");
        assert!((final_chorus - chorus).abs() <= 1.5, "chorus {chorus:.1}, final {final_chorus:.1}");
        assert!((-28.0..=-24.0).contains(&intro), "intro {intro:.1}");
        assert!((-22.0..=-18.0).contains(&verse), "verse {verse:.1}");
        assert!((-17.0..=-14.5).contains(&chorus), "chorus {chorus:.1}");
    }

    #[test]
    fn is_stereo_but_mostly_correlated() {
        let [l, r] = song_48k();
        assert_ne!(l, r);
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>();
        let correlation = dot(l, r) / (dot(l, l) * dot(r, r)).sqrt();
        println!("left/right correlation {correlation:.3}");
        assert!((0.5..=0.98).contains(&correlation), "correlation {correlation:.3}");
    }

    #[test]
    fn loudness_does_not_depend_on_the_rate() {
        let at_48k = integrated_lufs(song_48k(), 48_000);
        let at_44k1 = integrated_lufs(&render_demo_song(44_100.0), 44_100);
        println!("integrated: 48 kHz {at_48k:.3} LUFS, 44.1 kHz {at_44k1:.3} LUFS");
        assert!((at_48k - at_44k1).abs() < 0.3, "48 kHz {at_48k:.2}, 44.1 kHz {at_44k1:.2}");
    }

    /// Tonal parts never jump. A smooth (band-limited) signal's largest sample-to-sample step
    /// halves when the rate doubles; a discontinuity's — a level switched without a ramp, a phase
    /// reset — stays. The drums are excluded: their hits are meant to be transients.
    #[test]
    fn tonal_parts_have_no_clicks() {
        let none = Parts { drums: false, bass: false, pads: false, lead: false };
        let largest_step = |rate_hz: f64, parts: Parts| {
            render_parts(rate_hz, parts)
                .iter()
                .flat_map(|channel| channel.windows(2).map(|w| (w[1] - w[0]).abs()))
                .fold(0.0f32, f32::max)
        };
        for (name, parts) in [
            ("bass", Parts { bass: true, ..none }),
            ("pads", Parts { pads: true, ..none }),
            ("lead", Parts { lead: true, ..none }),
        ] {
            let (at_48k, at_96k) = (largest_step(48_000.0, parts), largest_step(96_000.0, parts));
            println!("{name}: largest step {at_48k:.5} at 48 kHz, {at_96k:.5} at 96 kHz");
            assert!(at_96k < 0.65 * at_48k, "{name}: largest step {at_48k} at 48 kHz, {at_96k} at 96 kHz");
        }
    }

    /// Prints the loudness of each part alone, per section, and the peak at other rates: the
    /// numbers to look at when rebalancing the mix.
    /// `cargo test --release -- --ignored --nocapture part_balance`.
    #[test]
    #[ignore]
    fn part_balance() {
        let none = Parts { drums: false, bass: false, pads: false, lead: false };
        for (name, parts) in [
            ("all", Parts::ALL),
            ("drums", Parts { drums: true, ..none }),
            ("bass", Parts { bass: true, ..none }),
            ("pads", Parts { pads: true, ..none }),
            ("lead", Parts { lead: true, ..none }),
        ] {
            let song = render_parts(48_000.0, parts);
            let m = meter(&song, 48_000, Mode::I | Mode::LRA, 0..song[0].len());
            let secs: Vec<String> = section_lufs(&song).iter().map(|x| format!("{x:6.1}")).collect();
            println!(
                "{name:>6}: I {:6.2} LRA {:5.2} peak {:6.2} dBFS | {}",
                m.loudness_global().unwrap(),
                m.loudness_range().unwrap(),
                20.0 * (peak(&song) as f64).log10(),
                secs.join(" ")
            );
        }
        for rate in [8_000.0, 22_050.0, 44_100.0, 96_000.0] {
            let song = render_demo_song(rate);
            println!("{rate}: peak {:.2} dBFS", 20.0 * (peak(&song) as f64).log10());
        }
    }

    /// Render time at 48 kHz: `cargo test --release -- --ignored --nocapture render_time`.
    #[test]
    #[ignore]
    fn render_time() {
        let started = std::time::Instant::now();
        let song = render_demo_song(48_000.0);
        let elapsed_s = started.elapsed().as_secs_f64();
        println!("render: {elapsed_s:.3} s for {DEMO_SONG_DURATION_S} s at 48 kHz");
        assert_eq!(song[0].len(), 1_632_000);
    }

    /// Writes the 48 kHz render to `target/demo_song.wav` (24-bit) and prints its numbers:
    /// `cargo test --release -- --ignored --nocapture write_wav`.
    #[test]
    #[ignore]
    fn write_wav() {
        let started = std::time::Instant::now();
        let song = render_demo_song(48_000.0);
        println!("render: {:.3} s for {DEMO_SONG_DURATION_S} s at 48 kHz", started.elapsed().as_secs_f64());

        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
        std::fs::create_dir_all(&dir).unwrap();
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::create(dir.join("demo_song.wav"), spec).unwrap();
        for (l, r) in song[0].iter().zip(&song[1]) {
            for x in [l, r] {
                writer.write_sample((*x as f64 * 8_388_607.0).round() as i32).unwrap();
            }
        }
        writer.finalize().unwrap();

        let all = meter(&song, 48_000, Mode::I | Mode::LRA | Mode::TRUE_PEAK, 0..song[0].len());
        let true_peak = (0..2).map(|c| all.true_peak(c).unwrap()).fold(0.0, f64::max);
        println!(
            "integrated {:.2} LUFS, LRA {:.2} LU, sample peak {:.2} dBFS, true peak {:.2} dBTP",
            all.loudness_global().unwrap(),
            all.loudness_range().unwrap(),
            20.0 * (peak(&song) as f64).log10(),
            20.0 * true_peak.log10(),
        );
        let curve = short_term(&song);
        let sections = demo_song_sections();
        let integrated = section_lufs(&song);
        for (i, (name, start_s)) in sections.iter().enumerate() {
            let end_s = sections.get(i + 1).map_or(DEMO_SONG_DURATION_S, |s| s.1);
            // Windows wholly inside the section; a section shorter than the 3 s window reports
            // the window ending with it.
            let inside: Vec<f64> = curve
                .iter()
                .filter(|(t, _)| *t > (start_s + 2.95).min(end_s - 0.05) && *t <= end_s + 0.05)
                .map(|c| c.1)
                .collect();
            let (lo, hi) = inside
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
            println!(
                "{name:>12} {start_s:4.1} s: integrated {:6.2} LUFS, short-term {lo:6.2} .. {hi:6.2} LUFS",
                integrated[i]
            );
        }
    }
}
