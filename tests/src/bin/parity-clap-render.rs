//! Renders a raw audio file through the CLAP bundle with given parameter settings, so other
//! hosts' output (pedalboard's VST3) can be compared with the CLAP output of the same settings.
//!
//! ```text
//! parity-clap-render --rate 48000 --channels 2 --block 512 [--set "Input Trim=6"]... [--save-state F] IN OUT
//! ```
//! IN and OUT are raw little-endian f32, planar (all frames of channel 0, then channel 1, …).
//! `--set NAME=TEXT` finds the parameter whose name contains NAME and sets it from its display
//! text, as a user typing into a host would. `--save-state F` writes the plugin's `clap.state`
//! after the settings (the settings file `parity master --settings` reads). The bundle is `PARITY_CLAP_BUNDLE` or the test bundle.

use std::process::ExitCode;

use parity_tests::ParityHost;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("parity-clap-render: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut rate, mut channels, mut block) = (48_000.0f64, 2usize, 512usize);
    let mut settings: Vec<(String, String)> = Vec::new();
    let mut files = Vec::new();
    let mut state_path: Option<String> = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--rate" => rate = value()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--channels" => channels = value()?.parse().map_err(|e| format!("--channels: {e}"))?,
            "--block" => block = value()?.parse().map_err(|e| format!("--block: {e}"))?,
            "--save-state" => state_path = Some(value()?),
            "--set" => {
                let setting = value()?;
                let (name, text) = setting.split_once('=').ok_or("--set takes NAME=TEXT")?;
                settings.push((name.to_owned(), text.to_owned()));
            }
            _ => files.push(arg),
        }
    }
    let [input_path, output_path] = files.as_slice() else {
        return Err("usage: parity-clap-render [--rate R] [--channels C] [--block N] [--set NAME=TEXT]... \
                 [--save-state F] IN OUT"
            .into());
    };
    if channels == 0 || block == 0 {
        return Err("channels and block must be at least 1".into());
    }

    let bytes = std::fs::read(input_path).map_err(|e| format!("{input_path}: {e}"))?;
    let samples: Vec<f32> =
        bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let frames = samples.len() / channels;
    let input: Vec<Vec<f32>> = samples.chunks(frames.max(1)).take(channels).map(<[f32]>::to_vec).collect();

    let mut host = ParityHost::new(Default::default())?;
    if channels == 1 {
        let mono = host
            .audio_ports_configs()
            .into_iter()
            .find(|config| config.main_input_channels == Some(1))
            .ok_or("the plugin offers no mono layout")?;
        host.select_audio_ports_config(mono.id)?;
    }
    let mut values = Vec::new();
    for (name, text) in &settings {
        let param = host.find_param(&[name])?;
        let value =
            host.text_to_value(param.id, text).ok_or_else(|| format!("{name}: cannot parse {text:?}"))?;
        values.push((param.id, value));
    }
    host.set_params(&values)?;
    if let Some(path) = &state_path {
        let state = host.save_state()?;
        std::fs::write(path, state).map_err(|e| format!("{path}: {e}"))?;
    }
    host.activate(rate, block as u32)?;
    // Delay-compensated like pedalboard, so the two hosts' outputs line up.
    let output = host.render_aligned(&input, || block, &[])?;
    host.deactivate();

    let mut out_bytes = Vec::with_capacity(frames * channels * 4);
    for channel in &output {
        for sample in channel {
            out_bytes.extend_from_slice(&sample.to_le_bytes());
        }
    }
    std::fs::write(output_path, out_bytes).map_err(|e| format!("{output_path}: {e}"))
}
