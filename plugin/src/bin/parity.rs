//! `parity`: the offline command-line tool. It runs the plugin's own engine and meters on files,
//! so its numbers are the plugin's numbers. Everything it does lives in `parity::offline`; this
//! file is the command line, the files and the progress bars around it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use parity::audio_file::{
    read_audio_file, read_audio_file_with, write_audio_file, AudioBuffer, ReadOptions, SampleFormat,
};
use parity::delivery::checks::{evaluate, Check};
use parity::delivery::{tonal, DeliveryTarget, FormatInfo, Measurements};
use parity::demo_song::{demo_song_sections, render_demo_song};
use parity::dsp::dither::{DitherMode, WordLength};
use parity::engine::ChainSettings;
use parity::meters::LoudnessMeter;
use parity::offline::album::{album_report, AlbumLoudness, AlbumReport};
use parity::offline::analysis::{analyze, Analysis, CURVE_HOP_S};
use parity::offline::compare::{compare, Comparison};
use parity::offline::render::{master_to_target, render, Mastered};
use parity::offline::report;
use parity::offline::selftest::run_selftest;
use parity::offline::settings::{settings_from_state_bytes, Preset};
use parity::plot::{write_loudness_plot, write_spectrum_plot, LoudnessTrace, SpectrumTrace};

const EXAMPLES: &str = "\
Examples:
  parity demo                                  master the built-in demo song into ./parity-demo/
  parity analyze song.wav                      loudness, peaks, dynamics, stereo, tonal balance
  parity analyze *.flac --album --json         album report as JSON (one decode per core)
  parity analyze mix.wav --plot plots/         plus loudness-over-time and spectrum PNGs
  parity master mix.wav -o master.wav --target -14 --ceiling -1 --bits 16
  parity master mix.wav -o master.flac --settings session-state.json
  parity compare mix.wav ref1.flac ref2.mp3    the mix against references at equal loudness
  parity selftest --rate 44100                 EBU Tech 3341/3342 conformance of the meters

Exit codes: 0 success; 1 a file could not be read or processed (the others still were) or a
self-test case failed; 2 bad command line.";

/// Parity's offline tool: analyze, master and compare audio files with the plugin's engine.
#[derive(Debug, Parser)]
#[command(name = "parity", version, about, after_help = EXAMPLES)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Synthesizes a short demo song, masters it to a streaming target and writes before.wav,
    /// after.wav, report.json and PNG plots into a folder.
    Demo {
        /// Output folder (created if missing).
        #[arg(long, default_value = "parity-demo")]
        out: PathBuf,
        /// Loudness target, LUFS integrated.
        #[arg(long, default_value_t = -14.0, allow_negative_numbers = true)]
        target: f64,
        /// Sample rate of the demo, Hz.
        #[arg(long, default_value_t = 48_000)]
        rate: u32,
    },
    /// Measures files: loudness (integrated, range, maxima), true and sample peak, PLR, PSR,
    /// crest, correlation, width, DC offset, overs and tonal balance.
    Analyze {
        /// Audio files (WAV, AIFF, FLAC, MP3, AAC/M4A, Ogg Vorbis).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Write a loudness and a spectrum plot per file into this folder.
        #[arg(long, value_name = "DIR")]
        plot: Option<PathBuf>,
        /// Album report: album loudness (the tracks back to back), each track's deviation and a
        /// consistency verdict.
        #[arg(long)]
        album: bool,
        /// Delivery target the checks read against: a row id of the platform table (spotify,
        /// apple_music, youtube, tidal, amazon_music, deezer, soundcloud, apple_podcasts,
        /// podcast_mono, ebu_r128, atsc_a85, cd …) or custom (with --custom-lufs/--custom-ceiling).
        #[arg(long, default_value = "spotify")]
        target: String,
        /// Loudness of the custom target, LUFS.
        #[arg(long, default_value_t = -14.0, allow_negative_numbers = true)]
        custom_lufs: f32,
        /// True-peak ceiling of the custom target, dBTP.
        #[arg(long, default_value_t = -1.0, allow_negative_numbers = true)]
        custom_ceiling: f32,
        /// Reference tracks: the tonal-balance check compares with their mean octave balance
        /// instead of the generic curve.
        #[arg(long = "reference", value_name = "FILE")]
        references: Vec<PathBuf>,
    },
    /// Renders a file through the mastering chain (optionally to a loudness target) and reports
    /// before and after.
    Master {
        /// The input file.
        input: PathBuf,
        /// The output file (.wav or .flac).
        #[arg(short, long)]
        output: PathBuf,
        /// Loudness target, LUFS integrated: learns the limiter drive in a first pass.
        #[arg(long, allow_negative_numbers = true)]
        target: Option<f64>,
        /// Starting chain: transparent (limiter only), glue (plus glue compressor) or punchy.
        #[arg(long, conflicts_with = "settings")]
        preset: Option<String>,
        /// The chain settings as the plugin saves them (its state: the JSON, or a CLAP host's
        /// state stream).
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// Limiter ceiling, dBTP.
        #[arg(long, allow_negative_numbers = true)]
        ceiling: Option<f32>,
        /// Output word length: 16 or 24 (dithered with TPDF unless the settings choose a
        /// dither) or 32 (float; the settings' dither, off by default).
        #[arg(long, default_value_t = 24, value_parser = clap::builder::PossibleValuesParser::new(["16", "24", "32"]).map(|s| s.parse::<u32>().unwrap_or(24)))]
        bits: u32,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Write before/after plots into this folder.
        #[arg(long, value_name = "DIR")]
        plot: Option<PathBuf>,
    },
    /// Compares a mix with reference tracks at equal loudness.
    Compare {
        /// Your mix or master.
        mix: PathBuf,
        /// One or more references.
        #[arg(required = true)]
        references: Vec<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Runs the EBU Tech 3341/3342 conformance cases on Parity's meters.
    Selftest {
        /// Sample rate of the synthesized cases, Hz.
        #[arg(long, default_value_t = 48_000)]
        rate: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    quiet_decoder_panics();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { out, target, rate } => demo(&out, target, rate),
        Command::Analyze { files, json, plot, album, target, custom_lufs, custom_ceiling, references } => {
            let checks = CheckOptions { target, custom_lufs, custom_ceiling, references };
            analyze_files(&files, json, plot.as_deref(), album, &checks)
        }
        Command::Master { input, output, target, preset, settings, ceiling, bits, json, plot } => {
            let options = MasterOptions { target, preset, settings, ceiling, bits, json, plot };
            master(&input, &output, &options)
        }
        Command::Compare { mix, references, json } => compare_files(&mix, &references, json),
        Command::Selftest { rate, json } => selftest(rate, json),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("parity: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The decoder library panics on some corrupt files; the file reader catches that and reports
/// the file as corrupt, so the panic's own message would only be a confusing second line. Other
/// panics (bugs of ours) still print.
fn quiet_decoder_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.location().is_some_and(|l| l.file().contains("symphonia")) {
            default(info);
        }
    }));
}

/// A failure that ends the command, as one line.
type Failure = String;

/// A spinner on stderr with a message (hidden when stderr is not a terminal).
fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Reads a file the engine can take (mono or stereo), as one error line naming it.
fn read_for_engine(path: &Path) -> Result<AudioBuffer, Failure> {
    let buffer = read_audio_file(path).map_err(|e| e.to_string())?;
    if !(1..=2).contains(&buffer.channel_count()) {
        return Err(format!(
            "{}: {} channels (Parity analyses and masters mono and stereo)",
            path.display(),
            buffer.channel_count()
        ));
    }
    Ok(buffer)
}

/// The planar channels of a buffer as slices.
fn slices(buffer: &AudioBuffer) -> Vec<&[f32]> {
    buffer.channels.iter().map(Vec::as_slice).collect()
}

/// Reads a file the engine can take, with its format (word length, float, container) for the
/// format check.
fn read_with_format(path: &Path) -> Result<(AudioBuffer, FormatInfo), Failure> {
    let decoded = read_audio_file_with(path, &ReadOptions::default()).map_err(|e| e.to_string())?;
    if !(1..=2).contains(&decoded.buffer.channel_count()) {
        return read_for_engine(path).map(|buffer| (buffer, FormatInfo::default()));
    }
    let codec = decoded.report.codec;
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let container = match extension.as_str() {
        "wav" | "wave" => "wav",
        "aif" | "aiff" | "aifc" => "aiff",
        "flac" => "flac",
        "mp3" => "mp3",
        "m4a" | "aac" | "mp4" => "aac",
        "ogg" | "oga" => "ogg",
        _ => codec,
    };
    let format = FormatInfo {
        bits: decoded.report.bits_per_sample,
        float: codec.starts_with("pcm_f"),
        container: Some(container.to_owned()),
        dithered: None,
    };
    Ok((decoded.buffer, format))
}

/// What the readiness checks of `analyze` read against.
struct CheckOptions {
    /// Target id.
    target: String,
    /// Custom loudness, LUFS.
    custom_lufs: f32,
    /// Custom ceiling, dBTP.
    custom_ceiling: f32,
    /// Reference files for the tonal check.
    references: Vec<PathBuf>,
}

impl CheckOptions {
    /// The target, or an error listing the ids.
    fn target(&self) -> Result<DeliveryTarget, Failure> {
        let all = DeliveryTarget::all(self.custom_lufs, self.custom_ceiling);
        all.iter().find(|t| t.id == self.target).cloned().ok_or_else(|| {
            let ids: Vec<&str> = all.iter().map(|t| t.id.as_str()).collect();
            format!("unknown target `{}`; choose one of: {}", self.target, ids.join(", "))
        })
    }

    /// The references' mean octave balance (`None` without references).
    fn reference_bands(&self) -> Result<Option<[Option<f64>; parity::delivery::OCTAVE_BANDS]>, Failure> {
        let bands: Vec<_> = self
            .references
            .par_iter()
            .map(|path| {
                read_for_engine(path).map(|buffer| {
                    Measurements::from_analysis(&analyze_buffer(&buffer), FormatInfo::default())
                        .octave_bands_db
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(tonal::mean_reference_bands(&bands))
    }
}

/// Analysis of a decoded buffer.
fn analyze_buffer(buffer: &AudioBuffer) -> Analysis {
    analyze(&slices(buffer), f64::from(buffer.sample_rate_hz))
}

/// One file's entry in `analyze --json`.
#[derive(Serialize)]
struct FileEntry<'a> {
    /// The path as given.
    file: String,
    /// The analysis (its fields inline).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    analysis: Option<&'a Analysis>,
    /// The mix-readiness and delivery checks against the target.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checks: Vec<Check>,
    /// Why the file could not be analysed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `analyze --json` output.
#[derive(Serialize)]
struct AnalyzeReport<'a> {
    /// The delivery target of the checks (its id).
    target: String,
    /// Every file in the order given.
    files: Vec<FileEntry<'a>>,
    /// The album report (`--album` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    album: Option<AlbumReport>,
}

fn analyze_files(
    files: &[PathBuf],
    json: bool,
    plot: Option<&Path>,
    album: bool,
    options: &CheckOptions,
) -> Result<ExitCode, Failure> {
    let target = options.target()?;
    let reference_bands = options.reference_bands()?;
    let bar = ProgressBar::new(files.len() as u64).with_style(
        ProgressStyle::with_template("{spinner} analysing {pos}/{len} files [{bar:30}] {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    // One file per core; results come back in the order given.
    let measured: Vec<Result<(Analysis, FormatInfo), Failure>> = files
        .par_iter()
        .map(|path| {
            let result = read_with_format(path).map(|(buffer, format)| (analyze_buffer(&buffer), format));
            bar.inc(1);
            result
        })
        .collect();
    bar.finish_and_clear();
    let checks: Vec<Vec<Check>> = measured
        .iter()
        .map(|result| match result {
            Ok((analysis, format)) => {
                let m = Measurements::from_analysis(analysis, format.clone());
                evaluate(&m, &target, reference_bands.as_ref(), None)
            }
            Err(_) => Vec::new(),
        })
        .collect();
    let results: Vec<Result<Analysis, Failure>> =
        measured.into_iter().map(|result| result.map(|(analysis, _)| analysis)).collect();
    let mut failed = false;
    for (path, result) in files.iter().zip(&results) {
        if let Err(message) = result {
            eprintln!("parity: {message}");
            failed = true;
        } else if let (Ok(analysis), Some(dir)) = (result, plot) {
            if let Err(message) = plot_analysis(dir, path, analysis) {
                eprintln!("parity: {message}");
                failed = true;
            }
        }
    }
    let album_report = if album { Some(album_of(files, &results)?) } else { None };
    if json {
        let entries = files
            .iter()
            .zip(&results)
            .zip(checks)
            .map(|((path, result), checks)| FileEntry {
                file: path.display().to_string(),
                analysis: result.as_ref().ok(),
                checks,
                error: result.as_ref().err().cloned(),
            })
            .collect();
        print_json(&AnalyzeReport { target: target.id.clone(), files: entries, album: album_report })?;
    } else {
        let ok: Vec<(String, &Analysis)> = files
            .iter()
            .zip(&results)
            .filter_map(|(path, result)| Some((display_name(path), result.as_ref().ok()?)))
            .collect();
        // Up to four files side by side, then the next four.
        for group in ok.chunks(4) {
            let names: Vec<&str> = group.iter().map(|(name, _)| name.as_str()).collect();
            let analyses: Vec<&Analysis> = group.iter().map(|(_, a)| *a).collect();
            println!("{}", report::analysis_table(&names, &analyses));
        }
        for ((path, result), checks) in files.iter().zip(&results).zip(&checks) {
            if result.is_ok() {
                println!("{}", report::checks_table(&display_name(path), &target, checks));
            }
        }
        if let Some(album) = &album_report {
            println!("{}", report::album_table(album));
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The album report of the files that could be analysed: their loudness measured back to back
/// (a second decode, one file at a time, when all share one sample rate and channel count).
fn album_of(files: &[PathBuf], results: &[Result<Analysis, Failure>]) -> Result<AlbumReport, Failure> {
    let tracks: Vec<(String, &Analysis)> = files
        .iter()
        .zip(results)
        .filter_map(|(path, result)| Some((display_name(path), result.as_ref().ok()?)))
        .collect();
    let first = tracks.first().ok_or("no track of the album could be read")?.1;
    let uniform =
        tracks.iter().all(|(_, a)| a.sample_rate_hz == first.sample_rate_hz && a.channels == first.channels);
    let loudness = if uniform {
        let bar = spinner("measuring the album back to back");
        let mut meter = LoudnessMeter::new(first.sample_rate_hz, first.channels);
        for (path, result) in files.iter().zip(results) {
            if result.is_ok() {
                let buffer = read_for_engine(path)?;
                meter.process(&slices(&buffer));
            }
        }
        bar.finish_and_clear();
        let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
        AlbumLoudness {
            integrated_lufs: finite(meter.integrated_lufs()),
            loudness_range_lu: finite(meter.loudness_range_lu()),
        }
    } else {
        eprintln!("parity: the tracks differ in sample rate or channels: album loudness is the energy mean of the tracks");
        let total: f64 =
            tracks.iter().filter(|(_, a)| a.integrated_lufs.is_some()).map(|(_, a)| a.duration_s).sum();
        let energy: f64 = tracks
            .iter()
            .filter_map(|(_, a)| Some(a.duration_s * 10f64.powf(a.integrated_lufs? / 10.0)))
            .sum();
        AlbumLoudness {
            integrated_lufs: (total > 0.0 && energy > 0.0).then(|| 10.0 * (energy / total).log10()),
            loudness_range_lu: None,
        }
    };
    Ok(album_report(&tracks, loudness))
}

/// The file name of a path (or the whole path if it has none).
fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Writes `<stem>-loudness.png` and `<stem>-spectrum.png` for one analysis.
fn plot_analysis(dir: &Path, path: &Path, analysis: &Analysis) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create the folder: {e}", dir.display()))?;
    let stem = path.file_stem().map_or_else(|| "audio".to_owned(), |s| s.to_string_lossy().into_owned());
    let name = display_name(path);
    write_loudness_plot(
        &dir.join(format!("{stem}-loudness.png")),
        &format!("Loudness of {name}"),
        &[loudness_trace(&name, analysis)],
        None,
    )
    .map_err(|e| e.to_string())?;
    write_spectrum_plot(
        &dir.join(format!("{stem}-spectrum.png")),
        &format!("Long-term spectrum of {name}"),
        &[spectrum_trace(&name, analysis)],
    )
    .map_err(|e| e.to_string())
}

/// The loudness curve of an analysis as a plot trace.
fn loudness_trace<'a>(label: &'a str, analysis: &'a Analysis) -> LoudnessTrace<'a> {
    LoudnessTrace {
        label,
        hop_s: CURVE_HOP_S,
        short_term_lufs: &analysis.curve.short_term_lufs,
        momentary_lufs: &analysis.curve.momentary_lufs,
    }
}

/// The spectrum of an analysis as a plot trace.
fn spectrum_trace<'a>(label: &'a str, analysis: &'a Analysis) -> SpectrumTrace<'a> {
    SpectrumTrace {
        label,
        frequencies_hz: &analysis.spectrum.frequencies_hz,
        levels_db: &analysis.spectrum.levels_db,
    }
}

/// Pretty JSON on stdout.
fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| format!("cannot write JSON: {e}"))?;
    println!("{text}");
    Ok(())
}

/// `master`'s options.
struct MasterOptions {
    /// Loudness target, LUFS.
    target: Option<f64>,
    /// Preset name.
    preset: Option<String>,
    /// Settings file (plugin state JSON).
    settings: Option<PathBuf>,
    /// Limiter ceiling override, dBTP.
    ceiling: Option<f32>,
    /// Output word length (16, 24, 32 = float).
    bits: u32,
    /// JSON report.
    json: bool,
    /// Plot folder.
    plot: Option<PathBuf>,
}

/// `master --json` output.
#[derive(Serialize)]
struct MasterReport<'a> {
    /// Input file.
    input: String,
    /// Output file.
    output: String,
    /// Loudness target, LUFS.
    target_lufs: Option<f64>,
    /// Limiter drive used, dB.
    limiter_drive_db: f32,
    /// Output gain used, dB.
    output_gain_db: f32,
    /// Limiter ceiling, dBTP.
    ceiling_dbtp: f32,
    /// Passes through the engine.
    passes: usize,
    /// Output word length (32 = float).
    bits: u32,
    /// Set when the target was out of reach: the loudness the largest drive gives, LUFS.
    out_of_reach_lufs: Option<f64>,
    /// Analysis of the input.
    before: &'a Analysis,
    /// Analysis of the output as written (after quantization).
    after: &'a Analysis,
}

/// The chain settings `master` starts from: the settings file, else the preset, else the
/// defaults; then the ceiling and the dither for the output word length.
fn master_settings(options: &MasterOptions) -> Result<ChainSettings, Failure> {
    let mut settings = if let Some(path) = &options.settings {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let loaded = settings_from_state_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        for id in &loaded.unknown_ids {
            eprintln!("parity: {}: ignoring unknown parameter \"{id}\"", path.display());
        }
        loaded.settings
    } else if let Some(name) = &options.preset {
        Preset::from_name(name)
            .ok_or_else(|| {
                let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
                format!("unknown preset \"{name}\" (choose one of: {})", names.join(", "))
            })?
            .settings()
    } else {
        ChainSettings::default()
    };
    if let Some(ceiling) = options.ceiling {
        if !(-20.0..=0.0).contains(&ceiling) {
            return Err(format!("--ceiling {ceiling}: choose a ceiling from -20 to 0 dBTP"));
        }
        settings.stages.limiter.ceiling_dbtp = ceiling;
    }
    let dither = &mut settings.stages.dither;
    match options.bits {
        16 | 24 => {
            if dither.mode == DitherMode::Off || dither.bypass {
                dither.mode = DitherMode::Tpdf;
                dither.bypass = false;
            }
            dither.word_length = if options.bits == 16 { WordLength::Bits16 } else { WordLength::Bits24 };
        }
        // A float file keeps the chain's dither as the settings have it.
        _ => {}
    }
    Ok(settings)
}

/// The output sample format of a word length.
fn sample_format(bits: u32) -> SampleFormat {
    match bits {
        16 => SampleFormat::Int16,
        24 => SampleFormat::Int24,
        _ => SampleFormat::Float32,
    }
}

/// Renders `input` with `settings` (to `target` if given), reporting progress on a spinner.
fn master_buffer(
    input: &AudioBuffer,
    settings: &ChainSettings,
    target: Option<f64>,
) -> Result<Mastered, Failure> {
    let rate = f64::from(input.sample_rate_hz);
    let bar = spinner(match target {
        Some(_) => "mastering: learning the drive, then rendering",
        None => "mastering: rendering",
    });
    let result = match target {
        Some(target) => master_to_target(&slices(input), rate, settings, target).map_err(|e| e.to_string()),
        None => render(&slices(input), rate, settings)
            .map(|channels| Mastered {
                channels,
                settings: *settings,
                integrated_lufs: None,
                passes: 1,
                out_of_reach_lufs: None,
            })
            .map_err(|e| e.to_string()),
    };
    bar.finish_and_clear();
    result
}

/// What a master produced: the engine's result and the analyses before and after.
struct MasterOutcome {
    /// The render and the settings it used.
    mastered: Mastered,
    /// Analysis of the input.
    before: Analysis,
    /// Analysis of the output as written (read back, so quantization is included).
    after: Analysis,
}

/// Masters `input_path` into `output_path` (the work of `master` and `demo`), writing the plots
/// if asked.
fn master_file(
    input_path: &Path,
    output_path: &Path,
    options: &MasterOptions,
) -> Result<MasterOutcome, Failure> {
    if let Some(target) = options.target {
        if !(-40.0..=0.0).contains(&target) {
            return Err(format!("--target {target}: choose a target from -40 to 0 LUFS"));
        }
    }
    let settings = master_settings(options)?;
    let input = read_for_engine(input_path)?;
    let mastered = master_buffer(&input, &settings, options.target)
        .map_err(|e| format!("{}: {e}", input_path.display()))?;
    let output = AudioBuffer { sample_rate_hz: input.sample_rate_hz, channels: mastered.channels.clone() };
    write_audio_file(output_path, &output, sample_format(options.bits)).map_err(|e| e.to_string())?;
    let before = analyze_buffer(&input);
    let after = analyze_buffer(&read_for_engine(output_path)?);
    if let Some(reached) = mastered.out_of_reach_lufs {
        eprintln!("parity: the target is out of reach: the largest drive gives {reached:.1} LUFS");
    }
    if let Some(dir) = &options.plot {
        plot_before_after(dir, &before, &after, options.target)?;
    }
    Ok(MasterOutcome { mastered, before, after })
}

/// The report of a master.
fn master_report<'a>(
    input_path: &Path,
    output_path: &Path,
    options: &MasterOptions,
    outcome: &'a MasterOutcome,
) -> MasterReport<'a> {
    let settings = &outcome.mastered.settings;
    MasterReport {
        input: input_path.display().to_string(),
        output: output_path.display().to_string(),
        target_lufs: options.target,
        limiter_drive_db: settings.stages.limiter.drive_db,
        output_gain_db: settings.output_gain_db,
        ceiling_dbtp: settings.stages.limiter.ceiling_dbtp,
        passes: outcome.mastered.passes,
        bits: options.bits,
        out_of_reach_lufs: outcome.mastered.out_of_reach_lufs,
        before: &outcome.before,
        after: &outcome.after,
    }
}

fn master(input_path: &Path, output_path: &Path, options: &MasterOptions) -> Result<ExitCode, Failure> {
    let outcome = master_file(input_path, output_path, options)?;
    let report = master_report(input_path, output_path, options, &outcome);
    if options.json {
        print_json(&report)?;
    } else {
        print_master_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// The before/after table and the settings line of a master.
fn print_master_report(r: &MasterReport<'_>) {
    println!("{}", report::analysis_table(&["before", "after"], &[r.before, r.after]));
    println!(
        "{} -> {}: limiter drive {:.2} dB, ceiling {:.1} dBTP, output gain {:.2} dB, {} pass{}, {}",
        r.input,
        r.output,
        r.limiter_drive_db,
        r.ceiling_dbtp,
        r.output_gain_db,
        r.passes,
        if r.passes == 1 { "" } else { "es" },
        if r.bits == 32 { "32-bit float".to_owned() } else { format!("{}-bit dithered", r.bits) }
    );
    if let Some(target) = r.target_lufs {
        println!(
            "Target {target:.1} LUFS: reached {} (true peak {})",
            report::reading(r.after.integrated_lufs, 2, "LUFS"),
            report::reading(r.after.true_peak_dbtp, 2, "dBTP")
        );
    }
}

/// `loudness.png` and `spectrum.png` with before and after.
fn plot_before_after(
    dir: &Path,
    before: &Analysis,
    after: &Analysis,
    target: Option<f64>,
) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create the folder: {e}", dir.display()))?;
    write_loudness_plot(
        &dir.join("loudness.png"),
        "Loudness over time: before and after mastering",
        &[loudness_trace("before", before), loudness_trace("after", after)],
        target,
    )
    .map_err(|e| e.to_string())?;
    write_spectrum_plot(
        &dir.join("spectrum.png"),
        "Long-term spectrum: before and after mastering",
        &[spectrum_trace("before", before), spectrum_trace("after", after)],
    )
    .map_err(|e| e.to_string())
}

/// `compare --json` output.
#[derive(Serialize)]
struct CompareReport<'a> {
    /// The mix.
    mix: String,
    /// Analysis of the mix.
    mix_analysis: &'a Analysis,
    /// One comparison per reference that could be read.
    references: Vec<Comparison>,
}

fn compare_files(mix_path: &Path, references: &[PathBuf], json: bool) -> Result<ExitCode, Failure> {
    let bar = spinner("analysing");
    let all: Vec<PathBuf> =
        std::iter::once(mix_path.to_path_buf()).chain(references.iter().cloned()).collect();
    let results: Vec<Result<Analysis, Failure>> =
        all.par_iter().map(|path| read_for_engine(path).map(|buffer| analyze_buffer(&buffer))).collect();
    bar.finish_and_clear();
    let mut results = results.into_iter();
    let mix = results.next().ok_or("nothing to compare")??;
    let mut failed = false;
    let comparisons: Vec<Comparison> = references
        .iter()
        .zip(results)
        .filter_map(|(path, result)| match result {
            Ok(analysis) => Some(compare(&mix, &analysis, &display_name(path))),
            Err(message) => {
                eprintln!("parity: {message}");
                failed = true;
                None
            }
        })
        .collect();
    if comparisons.is_empty() {
        return Err("none of the references could be read".to_owned());
    }
    if json {
        print_json(&CompareReport {
            mix: mix_path.display().to_string(),
            mix_analysis: &mix,
            references: comparisons,
        })?;
    } else {
        println!("{}", report::compare_table(&display_name(mix_path), &mix, &comparisons));
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn selftest(rate: u32, json: bool) -> Result<ExitCode, Failure> {
    if !(8_000..=768_000).contains(&rate) {
        return Err(format!("--rate {rate}: choose a rate from 8000 to 768000 Hz"));
    }
    let bar = spinner("running the EBU cases");
    let results = run_selftest(f64::from(rate));
    bar.finish_and_clear();
    if json {
        print_json(&results)?;
    } else {
        print!("{}", report::selftest_table(f64::from(rate), &results));
    }
    Ok(if results.iter().all(|r| r.passed) { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `demo`'s report.json.
#[derive(Serialize)]
struct DemoReport<'a> {
    /// The song's sections and their start times, seconds.
    sections: Vec<(&'static str, f64)>,
    /// The master's report.
    master: MasterReport<'a>,
}

fn demo(out: &Path, target: f64, rate: u32) -> Result<ExitCode, Failure> {
    if !(8_000..=192_000).contains(&rate) {
        return Err(format!("--rate {rate}: choose a rate from 8000 to 192000 Hz"));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: cannot create the folder: {e}", out.display()))?;
    let bar = spinner("synthesizing the demo song");
    let [left, right] = render_demo_song(f64::from(rate));
    bar.finish_and_clear();
    let input = AudioBuffer { sample_rate_hz: rate, channels: vec![left, right] };
    let before_path = out.join("before.wav");
    let after_path = out.join("after.wav");
    write_audio_file(&before_path, &input, SampleFormat::Int24).map_err(|e| e.to_string())?;
    let options = MasterOptions {
        target: Some(target),
        preset: Some(Preset::Glue.name().to_owned()),
        settings: None,
        ceiling: Some(-1.0),
        bits: 24,
        json: false,
        plot: Some(out.to_path_buf()),
    };
    let outcome = master_file(&before_path, &after_path, &options)?;
    let master_report = master_report(&before_path, &after_path, &options, &outcome);
    println!(
        "Parity demo: a {:.0} s song ({}) mastered with the glue preset to {target:.1} LUFS, ceiling -1 dBTP\n",
        outcome.before.duration_s,
        demo_song_sections().iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
    );
    print_master_report(&master_report);
    let json = serde_json::to_string_pretty(&DemoReport {
        sections: demo_song_sections().to_vec(),
        master: master_report,
    })
    .map_err(|e| format!("cannot write JSON: {e}"))?;
    let report_path = out.join("report.json");
    std::fs::write(&report_path, json).map_err(|e| format!("{}: {e}", report_path.display()))?;
    println!("\nWrote {}: before.wav, after.wav, report.json, loudness.png, spectrum.png", out.display());
    Ok(ExitCode::SUCCESS)
}
