//! The parameter tree: one nested group per processor, short stable ids. The ids are part of every
//! saved session and automation lane; `golden_parameter_ids_never_change` pins them.

use nice_plug::prelude::*;

use crate::engine::{ChainSettings, MeterSettings};

/// Range of the input trim and the output gain, in dB.
pub const GAIN_RANGE_DB: f32 = 24.0;

/// All of Parity's parameters.
#[derive(Params)]
pub struct ParityParams {
    /// Global bypass (the host's bypass switch): the output becomes the input delayed by the
    /// unchanged latency, crossfaded without clicks.
    #[id = "bypass"]
    pub bypass: BoolParam,
    /// The input stage.
    #[nested(group = "Input")]
    pub input: InputParams,
    /// The output stage.
    #[nested(group = "Output")]
    pub output: OutputParams,
    /// How the meters follow the transport.
    #[nested(group = "Meters")]
    pub meters: MeterParams,
}

/// Meter options (not automatable: they are preferences, saved with the session).
#[derive(Params)]
pub struct MeterParams {
    /// Reset integrated loudness, loudness range and maxima when playback starts.
    #[id = "m_rst_play"]
    pub reset_on_play: BoolParam,
    /// Hold all loudness readings while playback is stopped.
    #[id = "m_pause_stop"]
    pub pause_when_stopped: BoolParam,
}

/// Parameters of the input stage.
#[derive(Params)]
pub struct InputParams {
    /// Gain applied at the start of the chain, in dB (after the input meters).
    #[id = "in_trim"]
    pub trim_db: FloatParam,
}

/// Parameters of the output stage.
#[derive(Params)]
pub struct OutputParams {
    /// Gain applied at the end of the chain, in dB.
    #[id = "out_gain"]
    pub gain_db: FloatParam,
}

impl Default for ParityParams {
    fn default() -> Self {
        Self {
            bypass: BoolParam::new("Bypass", false)
                .with_value_to_string(formatters::v2s_bool_bypass())
                .with_string_to_value(formatters::s2v_bool_bypass())
                .make_bypass(),
            input: InputParams { trim_db: gain_db_param("Input Trim") },
            output: OutputParams { gain_db: gain_db_param("Output Gain") },
            meters: MeterParams {
                reset_on_play: BoolParam::new("Reset Meters on Play", false).non_automatable(),
                pause_when_stopped: BoolParam::new("Pause Meters when Stopped", false).non_automatable(),
            },
        }
    }
}

/// A ±[`GAIN_RANGE_DB`] gain in dB, 0.1 dB steps, shown with one decimal. Smoothing happens in the
/// engine (sample-rate aware and block-size invariant), not in the parameter.
fn gain_db_param(name: &str) -> FloatParam {
    FloatParam::new(name, 0.0, FloatRange::Linear { min: -GAIN_RANGE_DB, max: GAIN_RANGE_DB })
        .with_step_size(0.1)
        .with_unit(" dB")
        .with_value_to_string(formatters::v2s_f32_rounded(1))
}

impl ParityParams {
    /// The meters' transport behaviour for the current parameter values.
    pub fn meter_settings(&self) -> MeterSettings {
        MeterSettings {
            reset_on_play: self.meters.reset_on_play.value(),
            pause_when_stopped: self.meters.pause_when_stopped.value(),
        }
    }

    /// The engine's plain settings for the current parameter values (cheap: a few atomic loads).
    pub fn chain_settings(&self) -> ChainSettings {
        ChainSettings {
            input_trim_db: self.input.trim_db.value(),
            output_gain_db: self.output.gain_db.value(),
            bypass: self.bypass.value(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `id<TAB>group` lines; a released id may never change or disappear.
    const GOLDEN_IDS: &str = include_str!("../tests/golden/param_ids.txt");

    #[test]
    fn golden_parameter_ids_never_change() {
        let params = ParityParams::default();
        let current: Vec<(String, String)> =
            params.param_map().into_iter().map(|(id, _, group)| (id, group)).collect();
        let golden: Vec<(String, String)> = GOLDEN_IDS
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (id, group) = line.split_once('\t').unwrap_or((line, ""));
                (id.to_owned(), group.to_owned())
            })
            .collect();
        for entry in &golden {
            assert!(current.contains(entry), "parameter id {entry:?} changed or disappeared");
        }
        let added: Vec<_> = current.iter().filter(|entry| !golden.contains(entry)).collect();
        assert!(
            added.is_empty(),
            "new parameters {added:?}: add them to plugin/tests/golden/param_ids.txt (never edit old lines)"
        );
    }

    #[test]
    fn exactly_one_bypass_parameter_and_it_is_flagged() {
        let params = ParityParams::default();
        let bypasses: Vec<String> = params
            .param_map()
            .into_iter()
            // SAFETY: the pointers come from `params`, which outlives this loop.
            .filter(|(_, ptr, _)| unsafe { ptr.flags() }.contains(ParamFlags::BYPASS))
            .map(|(id, _, _)| id)
            .collect();
        assert_eq!(bypasses, vec!["bypass".to_owned()]);
    }

    #[test]
    fn every_value_survives_a_text_round_trip() {
        let params = ParityParams::default();
        for (id, ptr, _) in params.param_map() {
            for step in 0..=20 {
                let normalized = step as f32 / 20.0;
                // SAFETY: the pointers come from `params`, which outlives this loop.
                unsafe {
                    let text = ptr.normalized_value_to_string(normalized, true);
                    let parsed = ptr
                        .string_to_normalized_value(&text)
                        .unwrap_or_else(|| panic!("{id}: '{text}' does not parse"));
                    let again = ptr.normalized_value_to_string(parsed, true);
                    assert_eq!(text, again, "{id}: {normalized} -> '{text}' -> {parsed} -> '{again}'");
                }
            }
        }
    }

    #[test]
    fn defaults_are_neutral() {
        assert_eq!(ParityParams::default().chain_settings(), ChainSettings::default());
        assert_eq!(ParityParams::default().meter_settings(), MeterSettings::default());
    }
}
