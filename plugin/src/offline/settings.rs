//! Chain settings for the offline tools: the plugin's own saved state (the JSON nice-plug writes
//! for a session or a `clap.state` save, `{"version": …, "params": {id: value, …}, "fields": …}`)
//! read into the same parameter tree the plugin uses, plus a few named starting points.

use std::collections::BTreeMap;
use std::sync::Arc;

use nice_plug::plugin::ParamValue;
use nice_plug::prelude::{ParamPtr, Params, PluginState};

use crate::dsp::compressor::CompressorSettings;
use crate::dsp::limiter::LimiterStyle;
use crate::engine::ChainSettings;
use crate::params::ParityParams;

/// Why a settings file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    /// Not a JSON plugin state.
    #[error("not a Parity settings file (plugin state JSON): {0}")]
    Json(String),
    /// A value of the wrong type or out of range for its parameter.
    #[error("parameter \"{id}\": {problem}")]
    Value {
        /// The parameter id.
        id: String,
        /// What is wrong.
        problem: String,
    },
}

/// Settings read from a state file, with the ids that were not Parity's (ignored, as the plugin
/// ignores them, but worth a warning: a typo in a hand-written file).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSettings {
    /// The chain settings.
    pub settings: ChainSettings,
    /// Parameter ids in the file that Parity does not have.
    pub unknown_ids: Vec<String>,
}

/// Reads a state as a host saves it: the JSON itself, or the JSON behind the 8-byte
/// little-endian length that nice-plug's CLAP wrapper puts in front of it in a `clap.state`
/// stream.
pub fn settings_from_state_bytes(bytes: &[u8]) -> Result<LoadedSettings, SettingsError> {
    let json = match bytes.split_first_chunk::<8>() {
        Some((prefix, rest)) if bytes[0] != b'{' => {
            let length = u64::from_le_bytes(*prefix);
            if length != rest.len() as u64 {
                return Err(SettingsError::Json(format!(
                    "a binary state whose length prefix ({length}) does not match its {} bytes",
                    rest.len()
                )));
            }
            rest
        }
        _ => bytes,
    };
    let text = std::str::from_utf8(json).map_err(|e| SettingsError::Json(e.to_string()))?;
    settings_from_state_json(text)
}

/// Reads the plugin's state JSON into chain settings. Parameters missing from the file keep
/// their defaults (as the plugin does when it loads an older session).
pub fn settings_from_state_json(text: &str) -> Result<LoadedSettings, SettingsError> {
    let state: PluginState = serde_json::from_str(text).map_err(|e| SettingsError::Json(e.to_string()))?;
    let params = Arc::new(ParityParams::default());
    let map: BTreeMap<String, ParamPtr> =
        params.param_map().into_iter().map(|(id, ptr, _group)| (id, ptr)).collect();
    let mut unknown_ids = Vec::new();
    for (id, value) in &state.params {
        let Some(&ptr) = map.get(id) else {
            unknown_ids.push(id.clone());
            continue;
        };
        let problem = |problem: String| SettingsError::Value { id: id.clone(), problem };
        // SAFETY: `ptr` points into `params`, which outlives this loop; nothing else touches
        // the parameters (they belong to this function).
        unsafe {
            match (ptr, value) {
                (ParamPtr::EnumParam(p), ParamValue::String(variant)) => {
                    if !(*p).set_from_id(variant) {
                        return Err(problem(format!("unknown choice \"{variant}\"")));
                    }
                }
                (ParamPtr::FloatParam(_), ParamValue::F32(plain)) => {
                    set_plain(ptr, *plain).map_err(problem)?
                }
                (ParamPtr::IntParam(_) | ParamPtr::EnumParam(_), ParamValue::I32(plain)) => {
                    set_plain(ptr, *plain as f32).map_err(problem)?
                }
                (ParamPtr::BoolParam(_), ParamValue::Bool(on)) => {
                    set_plain(ptr, if *on { 1.0 } else { 0.0 }).map_err(problem)?
                }
                (_, value) => return Err(problem(format!("{value:?} is the wrong kind of value"))),
            }
        }
    }
    Ok(LoadedSettings { settings: params.chain_settings(), unknown_ids })
}

/// Sets a parameter from its plain value, refusing non-finite values and values outside its
/// range (the plugin would clamp them silently; a settings file with such a value is broken).
///
/// # Safety
/// `ptr` must point to a live parameter that nothing else accesses meanwhile.
unsafe fn set_plain(ptr: ParamPtr, plain: f32) -> Result<(), String> {
    if !plain.is_finite() {
        return Err(format!("{plain} is not a number"));
    }
    // SAFETY: guaranteed by the caller.
    let (low, high) = unsafe { (ptr.preview_plain(0.0), ptr.preview_plain(1.0)) };
    let (low, high) = (low.min(high), low.max(high));
    let slack = 1e-4 * (high - low).abs().max(1.0);
    if !(low - slack..=high + slack).contains(&plain) {
        return Err(format!("{plain} is outside the parameter's range {low}..{high}"));
    }
    // SAFETY: as above.
    let normalized = unsafe { ptr.preview_normalized(plain) };
    // SAFETY: as above.
    unsafe { ptr._internal_set_normalized_value(normalized) };
    Ok(())
}

/// Named starting points for `parity master --preset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Parity's defaults: only the true-peak limiter works (the cleanest loudness).
    Transparent,
    /// A gentle 2:1 glue compressor (−18 dB threshold, 30 ms attack, auto release) before the
    /// limiter: holds a mix together.
    Glue,
    /// Glue plus the punchy limiter style: louder, recovers fast between hits.
    Punchy,
}

impl Preset {
    /// Every preset, in the order `--help` lists them.
    pub const ALL: [Preset; 3] = [Preset::Transparent, Preset::Glue, Preset::Punchy];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Transparent => "transparent",
            Preset::Glue => "glue",
            Preset::Punchy => "punchy",
        }
    }

    /// The preset of a command-line name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// The chain settings of the preset.
    pub fn settings(self) -> ChainSettings {
        let mut settings = ChainSettings::default();
        let glue = CompressorSettings { bypass: false, ..CompressorSettings::default() };
        match self {
            Preset::Transparent => {}
            Preset::Glue => settings.stages.glue = glue,
            Preset::Punchy => {
                settings.stages.glue = glue;
                settings.stages.limiter.style = LimiterStyle::Punchy;
            }
        }
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::eq::EqMode;

    #[test]
    fn a_saved_state_reads_into_the_same_settings_the_plugin_renders() {
        // The format nice-plug saves: values tagged with their kind.
        let text = r#"{"version":"0.1.0","params":{"in_trim":{"f32":-3.5},"lim_ceil":{"f32":-2.0},
            "lim_style":{"string":"punchy"},"eq_mode":{"string":"lin"},"gl_on":{"bool":true},
            "bypass":{"bool":false}},"fields":{}}"#;
        let loaded = settings_from_state_json(text).unwrap();
        let s = loaded.settings;
        assert_eq!(s.input_trim_db, -3.5);
        assert_eq!(s.stages.limiter.ceiling_dbtp, -2.0);
        assert_eq!(s.stages.limiter.style, LimiterStyle::Punchy);
        assert_eq!(s.stages.eq.mode, EqMode::LinearPhase);
        assert!(!s.stages.glue.bypass);
        assert!(loaded.unknown_ids.is_empty(), "{:?}", loaded.unknown_ids);
        // Everything else stays at the defaults.
        let defaults = ChainSettings::default();
        assert_eq!(s.output_gain_db, defaults.output_gain_db);
        assert_eq!(s.stages.multiband, defaults.stages.multiband);
        // An empty state is the defaults.
        let empty = settings_from_state_json(r#"{"params":{},"fields":{}}"#).unwrap();
        assert_eq!(empty.settings, defaults);
    }

    #[test]
    fn broken_settings_are_refused_with_the_reason() {
        let cases = [
            ("", "not a Parity settings file"),
            ("{\"params\": 3}", "not a Parity settings file"),
            (r#"{"params":{"lim_ceil":-1.0},"fields":{}}"#, "not a Parity settings file"),
            (r#"{"params":{"lim_ceil":{"bool":true}},"fields":{}}"#, "lim_ceil"),
            (r#"{"params":{"lim_ceil":{"f32":99.0}},"fields":{}}"#, "outside"),
            (r#"{"params":{"lim_style":{"string":"wobbly"}},"fields":{}}"#, "wobbly"),
        ];
        for (text, expected) in cases {
            let error = settings_from_state_json(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
        let loaded = settings_from_state_json(r#"{"params":{"lim_cell":{"f32":-1.0}},"fields":{}}"#).unwrap();
        assert_eq!(loaded.unknown_ids, vec!["lim_cell".to_owned()]);
    }

    #[test]
    fn a_clap_state_stream_reads_like_its_json() {
        let json = br#"{"params":{"lim_ceil":{"f32":-3.0}},"fields":{}}"#;
        let mut stream = (json.len() as u64).to_le_bytes().to_vec();
        stream.extend_from_slice(json);
        assert_eq!(settings_from_state_bytes(&stream).unwrap().settings.stages.limiter.ceiling_dbtp, -3.0);
        assert_eq!(settings_from_state_bytes(json).unwrap().settings.stages.limiter.ceiling_dbtp, -3.0);
        stream.pop();
        assert!(settings_from_state_bytes(&stream).unwrap_err().to_string().contains("length prefix"));
        assert!(settings_from_state_bytes(&[0xff; 4]).is_err());
    }

    #[test]
    fn presets_differ_where_they_say() {
        assert_eq!(Preset::Transparent.settings(), ChainSettings::default());
        assert!(!Preset::Glue.settings().stages.glue.bypass);
        assert_eq!(Preset::Punchy.settings().stages.limiter.style, LimiterStyle::Punchy);
        for preset in Preset::ALL {
            assert_eq!(Preset::from_name(preset.name()), Some(preset));
        }
        assert_eq!(Preset::from_name("nope"), None);
    }
}
