//! Loading a reference track: decode, convert to stereo, resample to the session rate, analyse.
//! [`load_reference`] is called by the slot's loader thread (one per plugin instance); it blocks,
//! allocates and reads the file, and must never run on the audio thread.
//!
//! # Stages
//! 1. **Decode** through [`crate::audio_file::read_audio_file_with`] (which refuses hostile
//!    headers, catches decoder panics and stops at [`MAX_REFERENCE_DURATION_S`] and
//!    [`MAX_REFERENCE_DECODED_SAMPLES`] before allocating for more).
//! 2. **Check** that the file did not change meanwhile (its length and modification time before
//!    and after decoding: [`ReferenceError::Changed`]), and its duration
//!    ([`MIN_REFERENCE_DURATION_S`]).
//! 3. **Stereo** ([`ChannelConversion`]), in place, without normalising: mono plays on both
//!    channels; stereo as is; 5.1 (six channels in the WAV/FLAC/AAC order L R C LFE Ls Rs) is
//!    downmixed per ITU-R BS.775 (`L' = L + 0.7071·C + 0.7071·Ls`, `R' = R + 0.7071·C +
//!    0.7071·Rs`, LFE dropped); any other count keeps its first two channels (L and R in the WAV,
//!    FLAC and AAC orders). Non-finite samples become silence (the plugin's sanitizer rule).
//! 4. **Resample** to the session rate ([`super::resample`]), one thread per channel.
//! 5. **Analyse** the session-rate audio ([`super::analysis`]), on up to four threads.
//!
//! `cancelled()` is polled on the calling thread after decoding, during resampling and analysis
//! (about once per second of audio) and after resampling; `true` gives
//! [`ReferenceError::Cancelled`].
//!
//! # Memory
//! The returned audio is exactly the session-rate stereo `f32` (capacity equals length). While
//! loading, the decoded source (all its channels until the downmix) and the resampled output
//! exist together; each source channel is freed as soon as it has been resampled.

use std::fs::{self, File};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::time::{Instant, SystemTime};

use symphonia::core::codecs::{self as codecs, CodecType};
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::analysis::{analyze_reference, run_parallel, ReferenceAnalysis, Task};
use super::resample::{ChannelResampler, ResampleError};
use crate::audio_file::{read_audio_file_with, AudioFileError, ReadOptions};
use crate::dsp::sanitizer::sanitize_sample;

/// Longest reference track, seconds; longer files are refused before their audio is allocated.
pub const MAX_REFERENCE_DURATION_S: f64 = 30.0 * 60.0;

/// Shortest reference track, seconds: shorter ones (an empty data chunk, one sample) leave
/// nothing to compare.
pub const MIN_REFERENCE_DURATION_S: f64 = 0.5;

/// Most decoded samples (summed over the file's channels) a reference may have: 2.6 GiB of
/// `f32`, 30 minutes of stereo at 192 kHz or of 7.1 at 48 kHz. Bigger files are refused as
/// [`ReferenceError::TooLong`] with the shorter limit their format allows.
pub const MAX_REFERENCE_DECODED_SAMPLES: u64 = 691_200_000;

/// Lowest session rate accepted, Hz (the meters' range).
pub const MIN_SESSION_RATE_HZ: f64 = crate::meters::MIN_SAMPLE_RATE_HZ;

/// Highest session rate accepted, Hz (the meters' range).
pub const MAX_SESSION_RATE_HZ: f64 = crate::meters::MAX_SAMPLE_RATE_HZ;

/// BS.775 downmix gain of the centre and surround channels into left and right (−3 dB).
const DOWNMIX_GAIN: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// Reference audio at the session rate, ready to play.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceAudio {
    /// The session rate it was converted to, Hz.
    pub sample_rate_hz: f64,
    /// Left channel, full scale ±1.0 (capacity equals length).
    pub left: Vec<f32>,
    /// Right channel, as long as `left` (capacity equals length).
    pub right: Vec<f32>,
}

impl ReferenceAudio {
    /// Frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.left.len()
    }

    /// Duration, seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames() as f64 / self.sample_rate_hz
    }

    /// Bytes of sample memory held (both channels' capacities).
    pub fn bytes(&self) -> usize {
        (self.left.capacity() + self.right.capacity()) * std::mem::size_of::<f32>()
    }
}

/// How the file's channels became stereo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelConversion {
    /// One channel, played on both sides.
    MonoToBoth,
    /// Two channels, as they are.
    Stereo,
    /// Six channels (L R C LFE Ls Rs), downmixed per ITU-R BS.775 without the LFE.
    Downmix51,
    /// Another count (3, 4, 5, 7 or 8): the first two channels, the rest ignored.
    FirstTwoOf(usize),
}

/// What the file was, before conversion.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// The file's sample rate, Hz.
    pub sample_rate_hz: u32,
    /// The file's channel count.
    pub channels: usize,
    /// Symphonia's short codec name (`pcm_s16le`, `flac`, `mp3`, `aac`, `vorbis`, …).
    pub codec: &'static str,
    /// Decoded duration, seconds.
    pub duration_s: f64,
    /// Bits per sample the file states (`None` for lossy codecs).
    pub bits_per_sample: Option<u32>,
    /// Damaged packets skipped while decoding (their audio is missing).
    pub skipped_packets: usize,
    /// Frames the header states beyond those decoded (a truncated file), if it states any.
    pub missing_frames: u64,
    /// How the channels became stereo.
    pub conversion: ChannelConversion,
}

/// Wall-clock time of each stage of a load, seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadTimings {
    /// Decoding, the file checks and the stereo conversion.
    pub decode_s: f64,
    /// Resampling (both channels in parallel); 0 when the rates are equal.
    pub resample_s: f64,
    /// The analysis.
    pub analysis_s: f64,
    /// The whole load.
    pub total_s: f64,
}

/// A loaded reference track.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedReference {
    /// The audio at the session rate.
    pub audio: ReferenceAudio,
    /// What the file was.
    pub source: SourceInfo,
    /// Loudness, peak, stereo and spectrum figures of `audio`.
    pub analysis: ReferenceAnalysis,
    /// How long each stage took.
    pub timings: LoadTimings,
}

/// Why a reference could not be loaded. `Display` is a short lowercase phrase for a narrow slot
/// in the editor; [`Self::detail`] gives the longer text where there is one (for a tooltip).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReferenceError {
    /// The file does not exist (any more).
    #[error("missing")]
    Missing,
    /// The path is a folder.
    #[error("is a folder")]
    Directory,
    /// The path is a device, pipe or socket.
    #[error("not a file")]
    NotAFile,
    /// The operating system refused access.
    #[error("no permission to read")]
    PermissionDenied,
    /// Another I/O error.
    #[error("unreadable")]
    Unreadable {
        /// The operating system's message.
        detail: String,
    },
    /// The content is not a format Parity reads (WAV, AIFF, FLAC, MP3, AAC/M4A, Ogg Vorbis).
    #[error("not an audio file")]
    NotAudio,
    /// A known container holding an encoding that is not decoded (ALAC, ADPCM, Opus, …).
    #[error("unsupported codec ({detail})")]
    UnsupportedCodec {
        /// The codec or feature, as short as the decoder says it.
        detail: String,
    },
    /// The header or stream is damaged (malformed, cut inside its header, unreadable packets,
    /// a format change midway, a decoder failure).
    #[error("damaged file")]
    Damaged {
        /// What is wrong.
        detail: String,
    },
    /// The container holds no audio track.
    #[error("no audio track")]
    NoAudioTrack,
    /// The file is 0 bytes long, or holds no audio frames at all.
    #[error("empty")]
    Empty,
    /// The file's sample rate is outside 1 kHz…1536 kHz (or unstated).
    #[error("unsupported sample rate ({})", khz(*.rate_hz as f64))]
    UnsupportedSampleRate {
        /// The rate, Hz (0 when unstated).
        rate_hz: u64,
    },
    /// The file has no channels or more than eight.
    #[error("unsupported channel count ({count})")]
    UnsupportedChannels {
        /// The count.
        count: usize,
    },
    /// Shorter than [`MIN_REFERENCE_DURATION_S`].
    #[error("too short ({duration_s:.1} s; minimum {:.1} s)", MIN_REFERENCE_DURATION_S)]
    TooShort {
        /// The decoded duration, seconds.
        duration_s: f64,
    },
    /// Longer than the limit: [`MAX_REFERENCE_DURATION_S`], or less for files whose rate and
    /// channel count would exceed [`MAX_REFERENCE_DECODED_SAMPLES`]. Refused before the audio
    /// is allocated, so the full duration is usually unknown.
    #[error("{}", too_long_text(*.duration_s, *.limit_s))]
    TooLong {
        /// The file's duration, seconds, when known.
        duration_s: Option<f64>,
        /// The limit that applied, seconds.
        limit_s: f64,
    },
    /// The file's length or modification time changed while it was decoded.
    #[error("file changed while loading")]
    Changed,
    /// The load was cancelled (a newer load, or a session-rate change).
    #[error("cancelled")]
    Cancelled,
    /// The session rate is not finite or outside 8 kHz…768 kHz.
    #[error("unsupported session rate ({})", khz(*.rate_hz))]
    SessionRate {
        /// The rate asked for, Hz.
        rate_hz: f64,
    },
    /// The resampler failed (a bug, not a property of the file).
    #[error("resampling failed")]
    Resample {
        /// The resampler's message.
        detail: String,
    },
}

impl ReferenceError {
    /// The longer description behind the short text, if there is one.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Self::Unreadable { detail }
            | Self::UnsupportedCodec { detail }
            | Self::Damaged { detail }
            | Self::Resample { detail } => Some(detail),
            _ => None,
        }
    }
}

/// A rate for the error texts: kHz with up to three decimals (`44.1 kHz`, `12.346 kHz`).
fn khz(rate_hz: f64) -> String {
    let text = format!("{:.3}", rate_hz / 1_000.0);
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    format!("{text} kHz")
}

/// [`ReferenceError::TooLong`]'s text: minutes, rounded.
fn too_long_text(duration_s: Option<f64>, limit_s: f64) -> String {
    let minutes = |seconds: f64| {
        if seconds >= 60.0 {
            format!("{:.0} min", seconds / 60.0)
        } else {
            format!("{seconds:.0} s")
        }
    };
    match duration_s {
        Some(duration_s) => format!("too long ({}; limit {})", minutes(duration_s), minutes(limit_s)),
        None => format!("too long (limit {})", minutes(limit_s)),
    }
}

impl From<AudioFileError> for ReferenceError {
    fn from(error: AudioFileError) -> Self {
        let detail = || error.to_string();
        match &error {
            AudioFileError::NotFound { .. } => Self::Missing,
            AudioFileError::IsDirectory { .. } => Self::Directory,
            AudioFileError::NotAFile { .. } => Self::NotAFile,
            AudioFileError::Empty { .. } | AudioFileError::NoAudioFrames { .. } => Self::Empty,
            AudioFileError::PermissionDenied { .. } => Self::PermissionDenied,
            AudioFileError::Read { io_error, .. } => Self::Unreadable { detail: io_error.to_string() },
            AudioFileError::UnsupportedFormat { .. } => Self::NotAudio,
            AudioFileError::UnsupportedEncoding { detail, .. } => {
                Self::UnsupportedCodec { detail: short_codec_detail(detail) }
            }
            AudioFileError::Malformed { .. }
            | AudioFileError::TruncatedHeader { .. }
            | AudioFileError::TooManyBadPackets { .. }
            | AudioFileError::FormatChanged { .. }
            | AudioFileError::DecoderPanicked { .. } => Self::Damaged { detail: detail() },
            AudioFileError::NoAudioTrack { .. } => Self::NoAudioTrack,
            AudioFileError::SampleRateOutOfRange { rate_hz, .. } => {
                Self::UnsupportedSampleRate { rate_hz: *rate_hz }
            }
            AudioFileError::MissingSampleRate { .. } => Self::UnsupportedSampleRate { rate_hz: 0 },
            AudioFileError::ChannelCount { count, .. } => Self::UnsupportedChannels { count: *count },
            AudioFileError::TooLong { max_frames, sample_rate_hz, .. } => Self::TooLong {
                duration_s: None,
                limit_s: *max_frames as f64 / f64::from((*sample_rate_hz).max(1)),
            },
            // Writing errors: reading never returns them.
            AudioFileError::NoChannels { .. }
            | AudioFileError::UnequalChannelLengths { .. }
            | AudioFileError::FlacFloat { .. }
            | AudioFileError::FlacBitDepth { .. }
            | AudioFileError::FlacSampleRate { .. }
            | AudioFileError::UnsupportedOutputExtension { .. }
            | AudioFileError::Encode { .. }
            | AudioFileError::Write { .. } => Self::Unreadable { detail: detail() },
        }
    }
}

/// Symphonia's "unsupported" messages carry a module prefix (`core (codec): unsupported codec`);
/// keep the last part.
fn short_codec_detail(detail: &str) -> String {
    let tail = detail.rsplit(':').next().unwrap_or(detail).trim();
    let tail = if tail.is_empty() { detail.trim() } else { tail };
    tail.chars().take(40).collect()
}

/// The name of the codec in a file the decoder refused ([`AudioFileError::UnsupportedEncoding`]),
/// for "unsupported codec (alac)": the file is probed again (it has passed
/// [`read_audio_file_with`]'s header checks, and the refusal came after symphonia's probe) and
/// its first track's codec named. `None` if it cannot be told.
fn unsupported_codec_name(path: &Path) -> Option<&'static str> {
    let probe = || -> Option<&'static str> {
        let stream = MediaSourceStream::new(Box::new(File::open(path).ok()?), Default::default());
        let mut hint = Hint::new();
        if let Some(extension) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(extension);
        }
        let probed = symphonia::default::get_probe()
            .format(&hint, stream, &FormatOptions::default(), &MetadataOptions::default())
            .ok()?;
        let tracks = probed.format.tracks();
        tracks
            .iter()
            .map(|track| track.codec_params.codec)
            .find(|&codec| codec != codecs::CODEC_TYPE_NULL)
            .and_then(codec_name)
    };
    // Symphonia may panic on malformed input (see `crate::audio_file`); a name is not worth it.
    panic::catch_unwind(AssertUnwindSafe(probe)).ok().flatten()
}

/// Short names of the codecs symphonia recognises but Parity does not decode.
fn codec_name(codec: CodecType) -> Option<&'static str> {
    Some(match codec {
        codecs::CODEC_TYPE_ALAC => "alac",
        codecs::CODEC_TYPE_OPUS => "opus",
        codecs::CODEC_TYPE_WAVPACK => "wavpack",
        codecs::CODEC_TYPE_MONKEYS_AUDIO => "ape",
        codecs::CODEC_TYPE_TTA => "tta",
        codecs::CODEC_TYPE_SPEEX => "speex",
        codecs::CODEC_TYPE_MUSEPACK => "musepack",
        codecs::CODEC_TYPE_WMA => "wma",
        codecs::CODEC_TYPE_EAC3 => "e-ac-3",
        codecs::CODEC_TYPE_AC4 => "ac-4",
        codecs::CODEC_TYPE_DCA => "dts",
        codecs::CODEC_TYPE_MP1 => "mp1",
        codecs::CODEC_TYPE_MP2 => "mp2",
        codecs::CODEC_TYPE_ATRAC1
        | codecs::CODEC_TYPE_ATRAC3
        | codecs::CODEC_TYPE_ATRAC3PLUS
        | codecs::CODEC_TYPE_ATRAC9 => "atrac",
        codecs::CODEC_TYPE_ADPCM_G722
        | codecs::CODEC_TYPE_ADPCM_G726
        | codecs::CODEC_TYPE_ADPCM_G726LE
        | codecs::CODEC_TYPE_ADPCM_MS
        | codecs::CODEC_TYPE_ADPCM_IMA_WAV
        | codecs::CODEC_TYPE_ADPCM_IMA_QT => "adpcm",
        _ => return None,
    })
}

impl From<ResampleError> for ReferenceError {
    fn from(error: ResampleError) -> Self {
        Self::Resample { detail: error.to_string() }
    }
}

/// Loads `path` for a session at `session_rate_hz` (any finite rate in 8 kHz…768 kHz, fractional
/// ones included): see the module documentation for the stages. Blocks for the whole load
/// (about a second for a 4-minute track on two cores).
pub fn load_reference(
    path: &Path,
    session_rate_hz: f64,
    cancelled: &dyn Fn() -> bool,
) -> Result<LoadedReference, ReferenceError> {
    let started = Instant::now();
    if !session_rate_hz.is_finite() || !(MIN_SESSION_RATE_HZ..=MAX_SESSION_RATE_HZ).contains(&session_rate_hz)
    {
        return Err(ReferenceError::SessionRate { rate_hz: session_rate_hz });
    }

    // 1. Decode.
    let stamp_before = file_stamp(path);
    let options = ReadOptions {
        max_duration_s: MAX_REFERENCE_DURATION_S,
        max_total_samples: MAX_REFERENCE_DECODED_SAMPLES,
    };
    let decoded = read_audio_file_with(path, &options).map_err(|error| match error {
        AudioFileError::UnsupportedEncoding { .. } => match unsupported_codec_name(path) {
            Some(name) => ReferenceError::UnsupportedCodec { detail: name.to_owned() },
            None => error.into(),
        },
        other => other.into(),
    })?;
    if cancelled() {
        return Err(ReferenceError::Cancelled);
    }

    // 2. Checks.
    if stamp_before.is_none() || file_stamp(path) != stamp_before {
        return Err(ReferenceError::Changed);
    }
    let source_rate_hz = decoded.buffer.sample_rate_hz;
    let frames = decoded.buffer.frames();
    let duration_s = decoded.buffer.duration_s();
    if duration_s < MIN_REFERENCE_DURATION_S {
        return Err(ReferenceError::TooShort { duration_s });
    }
    if duration_s > MAX_REFERENCE_DURATION_S {
        return Err(ReferenceError::TooLong {
            duration_s: Some(duration_s),
            limit_s: MAX_REFERENCE_DURATION_S,
        });
    }

    // 3. Stereo.
    let channels = decoded.buffer.channel_count();
    let (stereo, conversion) = to_stereo(decoded.buffer.channels);
    let source = SourceInfo {
        sample_rate_hz: source_rate_hz,
        channels,
        codec: decoded.report.codec,
        duration_s,
        bits_per_sample: decoded.report.bits_per_sample,
        skipped_packets: decoded.report.skipped_packets,
        missing_frames: decoded.report.stated_frames.map_or(0, |stated| stated.saturating_sub(frames as u64)),
        conversion,
    };
    let decoded_at = Instant::now();

    // 4. Resample.
    let (left, right) = to_session_rate(stereo, f64::from(source_rate_hz), session_rate_hz, cancelled)?;
    if cancelled() {
        return Err(ReferenceError::Cancelled);
    }
    let resampled_at = Instant::now();

    // 5. Analyse.
    let analysis =
        analyze_reference(&left, &right, session_rate_hz, cancelled).ok_or(ReferenceError::Cancelled)?;
    let finished_at = Instant::now();

    let timings = LoadTimings {
        decode_s: (decoded_at - started).as_secs_f64(),
        resample_s: (resampled_at - decoded_at).as_secs_f64(),
        analysis_s: (finished_at - resampled_at).as_secs_f64(),
        total_s: (finished_at - started).as_secs_f64(),
    };
    Ok(LoadedReference {
        audio: ReferenceAudio { sample_rate_hz: session_rate_hz, left, right },
        source,
        analysis,
        timings,
    })
}

/// A file's length and modification time, to notice a change (`None` if unavailable).
fn file_stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let metadata = fs::metadata(path).ok()?;
    Some((metadata.len(), metadata.modified().ok()?))
}

/// Stereo at the source rate: one shared channel (mono) or two.
enum Stereo {
    /// A mono file: the same samples on both sides.
    Mono(Vec<f32>),
    /// Left and right.
    Pair(Vec<f32>, Vec<f32>),
}

/// Converts decoded channels (1 to 8, equal lengths) to [`Stereo`], in place and sanitized.
fn to_stereo(mut channels: Vec<Vec<f32>>) -> (Stereo, ChannelConversion) {
    let count = channels.len();
    let conversion = match count {
        1 => ChannelConversion::MonoToBoth,
        2 => ChannelConversion::Stereo,
        6 => ChannelConversion::Downmix51,
        n => ChannelConversion::FirstTwoOf(n),
    };
    if conversion == ChannelConversion::Downmix51 {
        let (front, rest) = channels.split_at_mut(2);
        let [left, right] = front else { unreachable!("split at 2") };
        let [centre, _lfe, left_surround, right_surround] = rest else { unreachable!("six channels") };
        for (((l, r), c), (ls, rs)) in left
            .iter_mut()
            .zip(right.iter_mut())
            .zip(centre.iter())
            .zip(left_surround.iter().zip(right_surround.iter()))
        {
            let c = DOWNMIX_GAIN * sanitize_sample(*c);
            *l = sanitize_sample(*l) + c + DOWNMIX_GAIN * sanitize_sample(*ls);
            *r = sanitize_sample(*r) + c + DOWNMIX_GAIN * sanitize_sample(*rs);
        }
    } else {
        for channel in channels.iter_mut().take(2) {
            channel.iter_mut().for_each(|x| *x = sanitize_sample(*x));
        }
    }
    channels.truncate(2);
    let mut channels = channels.into_iter();
    let stereo = match (channels.next(), channels.next()) {
        (Some(left), Some(right)) => Stereo::Pair(left, right),
        (Some(mono), None) => Stereo::Mono(mono),
        // The decoder never returns no channels; treat it as one empty channel.
        (None, _) => Stereo::Mono(Vec::new()),
    };
    (stereo, conversion)
}

/// Resamples [`Stereo`] to the session rate (both channels in parallel), returning left and right
/// with capacity equal to length.
fn to_session_rate(
    stereo: Stereo,
    source_rate_hz: f64,
    session_rate_hz: f64,
    cancelled: &dyn Fn() -> bool,
) -> Result<(Vec<f32>, Vec<f32>), ReferenceError> {
    let exact = |mut channel: Vec<f32>| {
        channel.shrink_to_fit();
        channel
    };
    if source_rate_hz == session_rate_hz {
        return Ok(match stereo {
            Stereo::Mono(mono) => {
                let mono = exact(mono);
                (mono.clone(), mono)
            }
            Stereo::Pair(left, right) => (exact(left), exact(right)),
        });
    }
    let resample_one = |channel: Vec<f32>, stop: &dyn Fn() -> bool| {
        let mut resampler = ChannelResampler::new(source_rate_hz, session_rate_hz)?;
        resampler.process(&channel, stop)
    };
    match stereo {
        Stereo::Mono(mono) => {
            let resampled = resample_one(mono, cancelled)?.ok_or(ReferenceError::Cancelled)?;
            Ok((resampled.clone(), resampled))
        }
        Stereo::Pair(left, right) => {
            let mut results: [Option<Result<Option<Vec<f32>>, ResampleError>>; 2] = [None, None];
            {
                let [left_out, right_out] = &mut results;
                let tasks: Vec<Task<'_>> = vec![
                    Box::new(move |stop| *left_out = Some(resample_one(left, &|| stop.requested()))),
                    Box::new(move |stop| *right_out = Some(resample_one(right, &|| stop.requested()))),
                ];
                if !run_parallel(tasks, cancelled) {
                    return Err(ReferenceError::Cancelled);
                }
            }
            match results {
                [Some(left), Some(right)] => match (left?, right?) {
                    (Some(left), Some(right)) => Ok((left, right)),
                    _ => Err(ReferenceError::Cancelled),
                },
                _ => Err(ReferenceError::Cancelled),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::f64::consts::TAU;
    use std::fs::{File, OpenOptions};
    use std::io::Write;
    use std::path::PathBuf;
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::test_files::TempDir;

    /// Left 1 kHz at −6 dBFS, right 1 kHz at −12 dBFS (so a swap shows).
    const LEFT_AMPLITUDE: f64 = 0.5;
    /// See [`LEFT_AMPLITUDE`].
    const RIGHT_AMPLITUDE: f64 = 0.25;
    /// The test tone, Hz.
    const TONE_HZ: f64 = 1_000.0;

    /// `seconds` of a 1 kHz sine at `amplitude`, at `rate_hz`.
    fn sine(amplitude: f64, seconds: f64, rate_hz: f64) -> Vec<f32> {
        (0..(seconds * rate_hz).round() as usize)
            .map(|n| (amplitude * (TAU * TONE_HZ * n as f64 / rate_hz).sin()) as f32)
            .collect()
    }

    /// The test tone pair at `rate_hz`.
    fn stereo_tone(seconds: f64, rate_hz: f64) -> Vec<Vec<f32>> {
        vec![sine(LEFT_AMPLITUDE, seconds, rate_hz), sine(RIGHT_AMPLITUDE, seconds, rate_hz)]
    }

    /// WAV sample formats of the fixtures.
    #[derive(Clone, Copy, Debug)]
    enum Wav {
        /// 16-bit integer.
        Int16,
        /// 24-bit integer.
        Int24,
        /// 32-bit float.
        Float,
    }

    /// Writes planar `channels` as a WAV with hound.
    fn write_wav(path: &Path, channels: &[Vec<f32>], rate_hz: u32, format: Wav) {
        let (bits_per_sample, sample_format) = match format {
            Wav::Int16 => (16, hound::SampleFormat::Int),
            Wav::Int24 => (24, hound::SampleFormat::Int),
            Wav::Float => (32, hound::SampleFormat::Float),
        };
        let spec = hound::WavSpec {
            channels: channels.len() as u16,
            sample_rate: rate_hz,
            bits_per_sample,
            sample_format,
        };
        let mut writer = hound::WavWriter::create(path, spec).unwrap();
        for n in 0..channels[0].len() {
            for channel in channels {
                let x = channel[n];
                match format {
                    Wav::Int16 => {
                        writer.write_sample((x * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16)
                    }
                    Wav::Int24 => {
                        writer.write_sample((x * 8_388_608.0).round().clamp(-8_388_608.0, 8_388_607.0) as i32)
                    }
                    Wav::Float => writer.write_sample(x),
                }
                .unwrap();
            }
        }
        writer.finalize().unwrap();
    }

    /// A minimal 16-bit AIFF: `FORM`/`AIFF`, `COMM` (80-bit extended rate), `SSND`.
    fn aiff_bytes(channels: &[Vec<f32>], rate_hz: u32) -> Vec<u8> {
        let frames = channels[0].len();
        let mut comm = Vec::new();
        comm.extend_from_slice(&(channels.len() as i16).to_be_bytes());
        comm.extend_from_slice(&(frames as u32).to_be_bytes());
        comm.extend_from_slice(&16_i16.to_be_bytes());
        let rate = u64::from(rate_hz);
        let shift = rate.leading_zeros();
        comm.extend_from_slice(&(16_383_u16 + 63 - shift as u16).to_be_bytes());
        comm.extend_from_slice(&(rate << shift).to_be_bytes());
        let mut ssnd = vec![0_u8; 8];
        for n in 0..frames {
            for channel in channels {
                let sample = (channel[n] * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16;
                ssnd.extend_from_slice(&sample.to_be_bytes());
            }
        }
        let mut body = b"AIFF".to_vec();
        for (id, chunk) in [(b"COMM", &comm), (b"SSND", &ssnd)] {
            body.extend_from_slice(id);
            body.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
            body.extend_from_slice(chunk);
        }
        let mut bytes = b"FORM".to_vec();
        bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&body);
        bytes
    }

    /// Loads with no cancellation.
    fn load(path: &Path, session_rate_hz: f64) -> Result<LoadedReference, ReferenceError> {
        load_reference(path, session_rate_hz, &|| false)
    }

    /// Amplitude of the 1 kHz tone in the middle half of `channel` at `rate_hz` (least squares).
    fn tone_amplitude(channel: &[f32], rate_hz: f64) -> f64 {
        let skip = channel.len() / 4;
        let part = &channel[skip..channel.len() - skip];
        let omega = TAU * TONE_HZ / rate_hz;
        let (mut ss, mut sc, mut cc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (k, &x) in part.iter().enumerate() {
            let (s, c) = (omega * k as f64).sin_cos();
            ss += s * s;
            sc += s * c;
            cc += c * c;
            xs += f64::from(x) * s;
            xc += f64::from(x) * c;
        }
        let det = ss * cc - sc * sc;
        ((xs * cc - xc * sc) / det).hypot((xc * ss - xs * sc) / det)
    }

    /// Checks a loaded test tone: lengths, capacities, level of both channels within
    /// `tolerance_db`, duration within `duration_tolerance_s`. Returns the level errors.
    fn check_tone(
        loaded: &LoadedReference,
        session_rate_hz: f64,
        duration_s: f64,
        tolerance_db: f64,
        duration_tolerance_s: f64,
    ) -> (f64, f64) {
        let audio = &loaded.audio;
        assert_eq!(audio.sample_rate_hz, session_rate_hz);
        assert_eq!(audio.left.len(), audio.right.len());
        assert_eq!(audio.left.capacity(), audio.left.len());
        assert_eq!(audio.right.capacity(), audio.right.len());
        assert_eq!(audio.bytes(), audio.frames() * 8);
        assert!((loaded.source.duration_s - duration_s).abs() <= duration_tolerance_s, "{:?}", loaded.source);
        assert!((audio.duration_s() - duration_s).abs() <= duration_tolerance_s + 1.0 / session_rate_hz);
        let error = |channel: &[f32], amplitude: f64| {
            20.0 * (tone_amplitude(channel, session_rate_hz) / amplitude).log10()
        };
        let errors = (error(&audio.left, LEFT_AMPLITUDE), error(&audio.right, RIGHT_AMPLITUDE));
        assert!(errors.0.abs() <= tolerance_db && errors.1.abs() <= tolerance_db, "{errors:?}");
        errors
    }

    #[test]
    fn lossless_formats_load_at_the_right_level() {
        let dir = TempDir::new("lossless");
        let signal = stereo_tone(3.0, 44_100.0);
        let mut fixtures = Vec::new();
        for format in [Wav::Int16, Wav::Int24, Wav::Float] {
            let path = dir.path(&format!("{format:?}.wav"));
            write_wav(&path, &signal, 44_100, format);
            fixtures.push(path);
        }
        fixtures.push(dir.write("tone.aiff", &aiff_bytes(&signal, 44_100)));
        #[cfg(feature = "cli")]
        {
            let path = dir.path("tone.flac");
            let buffer = crate::audio_file::AudioBuffer { sample_rate_hz: 44_100, channels: signal.clone() };
            crate::audio_file::write_flac(&path, &buffer, 16).unwrap();
            fixtures.push(path);
        }
        #[cfg(not(feature = "cli"))]
        println!("SKIP FLAC fixture: writing FLAC needs the `cli` feature");
        for path in &fixtures {
            for session_rate_hz in [48_000.0, 44_100.0] {
                let loaded = load(path, session_rate_hz).unwrap();
                assert_eq!(loaded.audio.frames(), (3.0 * session_rate_hz) as usize);
                let errors = check_tone(&loaded, session_rate_hz, 3.0, 0.01, 0.0);
                let integrated = loaded.analysis.integrated_lufs.unwrap();
                println!(
                    "{} ({}, {} bits) -> {session_rate_hz} Hz: level error L {:+.4} dB R {:+.4} dB, I {integrated:.2} LUFS, {:.3} s",
                    path.file_name().unwrap().to_string_lossy(),
                    loaded.source.codec,
                    loaded.source.bits_per_sample.unwrap_or(0),
                    errors.0,
                    errors.1,
                    loaded.timings.total_s
                );
                assert_eq!(loaded.source.conversion, ChannelConversion::Stereo);
                assert_eq!((loaded.source.channels, loaded.source.sample_rate_hz), (2, 44_100));
                // −6.02 and −12.04 dBFS sines: 10·log10(0.5²/2 + 0.25²/2) = −8.06 LUFS (the
                // K-weighting's +0.69 dB at 1 kHz cancels BS.1770's −0.691 dB).
                assert!((integrated - -8.06).abs() < 0.05, "{integrated}");
            }
        }
    }

    /// Runs ffmpeg, or says why not: `None` = skip (panics instead when `CI=true`).
    fn ffmpeg(args: &[&str]) -> Option<()> {
        match Command::new("ffmpeg").args(["-nostdin", "-y", "-loglevel", "error"]).args(args).status() {
            Ok(status) if status.success() => Some(()),
            outcome => {
                let why = format!("ffmpeg {args:?} failed or is missing: {outcome:?}");
                if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                    panic!("{why}");
                }
                println!("SKIP {why}");
                None
            }
        }
    }

    #[test]
    fn lossy_formats_load_at_the_right_level() {
        let dir = TempDir::new("lossy");
        let source = dir.path("source.wav");
        write_wav(&source, &stereo_tone(3.0, 44_100.0), 44_100, Wav::Int16);
        let source = source.to_string_lossy().into_owned();
        for (name, codec_args, codec) in [
            ("tone.mp3", &["-c:a", "libmp3lame", "-b:a", "192k"][..], "mp3"),
            ("tone.m4a", &["-c:a", "aac", "-b:a", "192k"][..], "aac"),
            ("tone.ogg", &["-c:a", "libvorbis", "-q:a", "6"][..], "vorbis"),
        ] {
            let path = dir.path(name);
            let path_text = path.to_string_lossy().into_owned();
            let mut args = vec!["-i", source.as_str()];
            args.extend_from_slice(codec_args);
            args.push(&path_text);
            if ffmpeg(&args).is_none() {
                continue;
            }
            let loaded = load(&path, 48_000.0).unwrap();
            assert_eq!(loaded.source.codec, codec);
            let errors = check_tone(&loaded, 48_000.0, 3.0, 0.5, 0.06);
            println!(
                "{name}: decoded {:.4} s (source 3 s), level error L {:+.3} dB R {:+.3} dB",
                loaded.source.duration_s, errors.0, errors.1
            );
        }
    }

    #[test]
    fn unsupported_codecs_are_named() {
        let dir = TempDir::new("alac");
        let source = dir.path("source.wav");
        write_wav(&source, &stereo_tone(1.0, 44_100.0), 44_100, Wav::Int16);
        let path = dir.path("tone-alac.m4a");
        if ffmpeg(&["-i", &source.to_string_lossy(), "-c:a", "alac", &path.to_string_lossy()]).is_none() {
            return;
        }
        let error = load(&path, 48_000.0).unwrap_err();
        println!("ALAC: {error}");
        assert_eq!(error.to_string(), "unsupported codec (alac)");
        let path = dir.path("tone-opus.ogg");
        if ffmpeg(&["-i", &source.to_string_lossy(), "-c:a", "libopus", &path.to_string_lossy()]).is_none() {
            return;
        }
        let error = load(&path, 48_000.0).unwrap_err();
        println!("Ogg Opus: {error}");
        assert_eq!(error.to_string(), "unsupported codec (opus)");
        // An MS-ADPCM WAV.
        let path = dir.path("tone-adpcm.wav");
        if ffmpeg(&["-i", &source.to_string_lossy(), "-c:a", "adpcm_ms", &path.to_string_lossy()]).is_none() {
            return;
        }
        let error = load(&path, 48_000.0).unwrap_err();
        println!("MS-ADPCM WAV: {error} ({:?})", error.detail());
        assert!(matches!(error, ReferenceError::UnsupportedCodec { .. }), "{error:?}");
    }

    #[test]
    fn refusals() {
        let dir = TempDir::new("refusals");
        assert_eq!(load(&dir.path("nothing-here.wav"), 48_000.0).unwrap_err(), ReferenceError::Missing);
        assert_eq!(load(&dir.0, 48_000.0).unwrap_err(), ReferenceError::Directory);
        assert_eq!(load(&dir.write("empty.wav", b""), 48_000.0).unwrap_err(), ReferenceError::Empty);
        let text = dir.write("notes.wav", b"These are my mastering notes, not audio.\n");
        assert_eq!(load(&text, 48_000.0).unwrap_err(), ReferenceError::NotAudio);
        let one_sample = dir.path("one-sample.wav");
        write_wav(&one_sample, &[vec![0.5]], 44_100, Wav::Int16);
        let error = load(&one_sample, 48_000.0).unwrap_err();
        assert!(matches!(error, ReferenceError::TooShort { duration_s } if duration_s < 1e-4), "{error:?}");
        assert_eq!(error.to_string(), "too short (0.0 s; minimum 0.5 s)");
        let short = dir.path("short.wav");
        write_wav(&short, &stereo_tone(0.49, 44_100.0), 44_100, Wav::Int16);
        assert!(matches!(load(&short, 48_000.0), Err(ReferenceError::TooShort { .. })));
        let just_long_enough = dir.path("half-second.wav");
        write_wav(&just_long_enough, &stereo_tone(0.5, 44_100.0), 44_100, Wav::Int16);
        assert!(load(&just_long_enough, 48_000.0).is_ok());
        // A header with no data chunk after it.
        let header_only = dir.write("header-only.wav", &fs::read(&one_sample).unwrap()[..40]);
        let error = load(&header_only, 48_000.0).unwrap_err();
        println!("header only: {error} ({:?})", error.detail());
        assert!(matches!(error, ReferenceError::Damaged { .. } | ReferenceError::Empty), "{error:?}");
        for rate in [f64::NAN, 7_999.0, 768_001.0, f64::INFINITY] {
            let error = load(&just_long_enough, rate).unwrap_err();
            assert!(matches!(error, ReferenceError::SessionRate { .. }), "{error:?}");
        }
    }

    #[test]
    fn truncated_files_load_what_is_there() {
        let dir = TempDir::new("truncated");
        let full = dir.path("full.wav");
        write_wav(&full, &stereo_tone(3.0, 44_100.0), 44_100, Wav::Int16);
        let bytes = fs::read(&full).unwrap();
        let cut = dir.write("cut.wav", &bytes[..bytes.len() * 6 / 10]);
        let loaded = load(&cut, 48_000.0).unwrap();
        println!(
            "truncated WAV: {:.3} s decoded, {} frames missing",
            loaded.source.duration_s, loaded.source.missing_frames
        );
        assert!(loaded.source.missing_frames > 40_000);
        check_tone(&loaded, 48_000.0, loaded.source.duration_s, 0.01, 0.0);
        #[cfg(feature = "cli")]
        {
            let path = dir.path("full.flac");
            let buffer = crate::audio_file::AudioBuffer {
                sample_rate_hz: 44_100,
                channels: stereo_tone(3.0, 44_100.0),
            };
            crate::audio_file::write_flac(&path, &buffer, 16).unwrap();
            let bytes = fs::read(&path).unwrap();
            let cut = dir.write("cut.flac", &bytes[..bytes.len() / 2]);
            let loaded = load(&cut, 48_000.0).unwrap();
            println!("truncated FLAC: {:.3} s decoded", loaded.source.duration_s);
            assert!(loaded.source.duration_s > 1.0 && loaded.source.duration_s < 2.0);
            let cut = dir.write("cut-header.flac", &bytes[..30]);
            let error = load(&cut, 48_000.0).unwrap_err();
            println!("FLAC cut in its header: {error} ({:?})", error.detail());
        }
    }

    #[test]
    fn a_header_claiming_31_minutes_is_refused_before_allocating() {
        let dir = TempDir::new("long");
        let frames: u64 = 31 * 60 * 44_100;
        let data_bytes = frames * 4;
        let mut header = Vec::new();
        header.extend_from_slice(b"RIFF");
        header.extend_from_slice(&((36 + data_bytes) as u32).to_le_bytes());
        header.extend_from_slice(b"WAVEfmt ");
        header.extend_from_slice(&16_u32.to_le_bytes());
        header.extend_from_slice(&1_u16.to_le_bytes());
        header.extend_from_slice(&2_u16.to_le_bytes());
        header.extend_from_slice(&44_100_u32.to_le_bytes());
        header.extend_from_slice(&(44_100_u32 * 4).to_le_bytes());
        header.extend_from_slice(&4_u16.to_le_bytes());
        header.extend_from_slice(&16_u16.to_le_bytes());
        header.extend_from_slice(b"data");
        header.extend_from_slice(&(data_bytes as u32).to_le_bytes());
        // A sparse file as long as the header says: 328 MB on paper, a few bytes on disk.
        let path = dir.write("thirty-one-minutes.wav", &header);
        OpenOptions::new().write(true).open(&path).unwrap().set_len(44 + data_bytes).unwrap();
        let started = std::time::Instant::now();
        let error = load(&path, 48_000.0).unwrap_err();
        let elapsed_s = started.elapsed().as_secs_f64();
        println!("31-minute WAV: {error} after {:.2} ms", elapsed_s * 1e3);
        assert_eq!(error, ReferenceError::TooLong { duration_s: None, limit_s: MAX_REFERENCE_DURATION_S });
        assert_eq!(error.to_string(), "too long (limit 30 min)");
        // Refused from the header, not after reading 328 MB.
        assert!(elapsed_s < 0.1, "{elapsed_s}");
        // A shorter claim in the same kind of file is read (silence, 2 s).
        let mut short = header.clone();
        short[40..44].copy_from_slice(&(2 * 44_100 * 4_u32).to_le_bytes());
        let path = dir.write("two-seconds.wav", &short);
        OpenOptions::new().write(true).open(&path).unwrap().set_len(44 + 2 * 44_100 * 4).unwrap();
        assert_eq!(load(&path, 44_100.0).unwrap().audio.frames(), 88_200);
    }

    #[test]
    fn mono_plays_on_both_sides() {
        let dir = TempDir::new("mono");
        let path = dir.path("mono.wav");
        write_wav(&path, &[sine(0.5, 2.0, 44_100.0)], 44_100, Wav::Float);
        for rate in [44_100.0, 48_000.0] {
            let loaded = load(&path, rate).unwrap();
            assert_eq!(loaded.source.conversion, ChannelConversion::MonoToBoth);
            assert_eq!(loaded.audio.left, loaded.audio.right);
            assert_eq!(loaded.audio.right.capacity(), loaded.audio.right.len());
            // Not normalised: a −6 dBFS mono sine stays −6 dBFS on each side.
            let error_db = 20.0 * (tone_amplitude(&loaded.audio.left, rate) / 0.5).log10();
            assert!(error_db.abs() < 0.01, "{error_db}");
            assert_eq!(loaded.analysis.width_percent, Some(0.0));
        }
    }

    #[test]
    fn surround_is_downmixed() {
        let dir = TempDir::new("surround");
        let rate = 48_000.0;
        let frames = 48_000;
        // Distinct content per channel: L R C LFE Ls Rs.
        let channels: Vec<Vec<f32>> = (0..6)
            .map(|c| {
                (0..frames).map(|n| ((n * (c + 3)) % 101) as f32 / 400.0 - 0.125 + c as f32 * 0.01).collect()
            })
            .collect();
        let path = dir.path("five-one.wav");
        write_wav(&path, &channels, 48_000, Wav::Float);
        let loaded = load(&path, rate).unwrap();
        assert_eq!(loaded.source.conversion, ChannelConversion::Downmix51);
        let g = std::f32::consts::FRAC_1_SQRT_2;
        for n in [0, 1, 777, frames - 1] {
            let [l, r, c, _lfe, ls, rs] = [0, 1, 2, 3, 4, 5].map(|i| channels[i][n]);
            assert_eq!(loaded.audio.left[n], l + g * c + g * ls);
            assert_eq!(loaded.audio.right[n], r + g * c + g * rs);
        }
        // A centre-only 5.1 file plays at −3 dB on both sides (no normalising).
        let mut centre_only = vec![vec![0.0_f32; frames]; 6];
        centre_only[2] = sine(0.5, 1.0, rate);
        centre_only[3] = sine(0.9, 1.0, rate);
        let path = dir.path("centre.wav");
        write_wav(&path, &centre_only, 48_000, Wav::Float);
        let loaded = load(&path, rate).unwrap();
        let level_db = 20.0 * (tone_amplitude(&loaded.audio.left, rate) / 0.5).log10();
        assert!((level_db - -3.0103).abs() < 0.01, "{level_db}");
        assert_eq!(loaded.audio.left, loaded.audio.right);
        // Four channels: the first two.
        let path = dir.path("quad.wav");
        write_wav(&path, &channels[..4], 48_000, Wav::Float);
        let loaded = load(&path, rate).unwrap();
        assert_eq!(loaded.source.conversion, ChannelConversion::FirstTwoOf(4));
        assert_eq!(loaded.audio.left, channels[0]);
        assert_eq!(loaded.audio.right, channels[1]);
    }

    #[test]
    fn rates_convert() {
        let dir = TempDir::new("rates");
        let path = dir.path("96k.wav");
        write_wav(&path, &stereo_tone(2.0, 96_000.0), 96_000, Wav::Float);
        let loaded = load(&path, 48_000.0).unwrap();
        assert_eq!(loaded.audio.frames(), 96_000);
        check_tone(&loaded, 48_000.0, 2.0, 0.001, 0.0);
        let path = dir.path("44k.wav");
        write_wav(&path, &stereo_tone(2.0, 44_100.0), 44_100, Wav::Float);
        for session in [12_345.678, 8_000.0, 768_000.0, 96_000.0] {
            let loaded = load(&path, session).unwrap();
            assert_eq!(loaded.audio.frames(), (88_200.0 * session / 44_100.0).round() as usize);
            let errors = check_tone(&loaded, session, 2.0, 0.001, 0.0);
            println!(
                "44.1 kHz -> {session} Hz: level error L {:+.5} dB R {:+.5} dB, {:.3} s",
                errors.0, errors.1, loaded.timings.total_s
            );
        }
    }

    #[test]
    fn equal_rates_keep_the_samples() {
        let dir = TempDir::new("equal");
        let signal = stereo_tone(1.0, 48_000.0);
        let path = dir.path("48k.wav");
        write_wav(&path, &signal, 48_000, Wav::Float);
        let loaded = load(&path, 48_000.0).unwrap();
        assert_eq!(loaded.audio.left, signal[0]);
        assert_eq!(loaded.audio.right, signal[1]);
        assert_eq!(loaded.timings.resample_s, 0.0_f64.max(loaded.timings.resample_s));
        // Non-finite samples are silenced, as the plugin's sanitizer would.
        let mut dirty = signal.clone();
        dirty[0][10] = f32::NAN;
        dirty[1][20] = f32::INFINITY;
        write_wav(&path, &dirty, 48_000, Wav::Float);
        let loaded = load(&path, 48_000.0).unwrap();
        assert_eq!((loaded.audio.left[10], loaded.audio.right[20]), (0.0, 0.0));
        assert_eq!(loaded.audio.left[11], signal[0][11]);
    }

    #[test]
    fn a_file_that_changes_while_loading_is_refused() {
        let dir = TempDir::new("changed");
        let path = dir.path("tone.wav");
        write_wav(&path, &stereo_tone(1.0, 44_100.0), 44_100, Wav::Int16);
        // The first poll comes right after decoding: change the file there.
        let grow = || {
            OpenOptions::new().append(true).open(&path).unwrap().write_all(&[0, 0, 0, 0]).unwrap();
            false
        };
        assert_eq!(load_reference(&path, 48_000.0, &grow).unwrap_err(), ReferenceError::Changed);
        // Same length, new content and modification time.
        let rewrite = || {
            let mut bytes = fs::read(&path).unwrap();
            bytes[100] ^= 1;
            fs::write(&path, &bytes).unwrap();
            let later = SystemTime::now() + std::time::Duration::from_secs(10);
            File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
            false
        };
        assert_eq!(load_reference(&path, 48_000.0, &rewrite).unwrap_err(), ReferenceError::Changed);
        // Deleted meanwhile.
        let delete = || {
            fs::remove_file(&path).unwrap();
            false
        };
        assert_eq!(load_reference(&path, 48_000.0, &delete).unwrap_err(), ReferenceError::Changed);
    }

    #[test]
    fn cancellation_is_polled_in_every_stage() {
        let dir = TempDir::new("cancel");
        let path = dir.path("tone.wav");
        write_wav(&path, &stereo_tone(10.0, 44_100.0), 44_100, Wav::Int16);
        let polls = AtomicUsize::new(0);
        let counting = || {
            polls.fetch_add(1, Ordering::Relaxed);
            false
        };
        load_reference(&path, 48_000.0, &counting).unwrap();
        let total = polls.load(Ordering::Relaxed);
        println!("a 10 s load polls cancelled() {total} times");
        assert!(total >= 10);
        // The analysis polls from several threads, so the count is only roughly repeatable: stay
        // well inside it.
        for cancel_at in [1, 2, 3, total / 2] {
            let count = AtomicUsize::new(0);
            let result =
                load_reference(&path, 48_000.0, &|| count.fetch_add(1, Ordering::Relaxed) + 1 >= cancel_at);
            assert_eq!(result.unwrap_err(), ReferenceError::Cancelled, "cancelled at poll {cancel_at}");
        }
    }

    #[test]
    fn error_texts_are_short() {
        let errors = [
            ReferenceError::Missing,
            ReferenceError::Directory,
            ReferenceError::NotAFile,
            ReferenceError::PermissionDenied,
            ReferenceError::Unreadable { detail: "Input/output error (os error 5)".into() },
            ReferenceError::NotAudio,
            ReferenceError::UnsupportedCodec { detail: "alac".into() },
            ReferenceError::Damaged { detail: "x".into() },
            ReferenceError::NoAudioTrack,
            ReferenceError::Empty,
            ReferenceError::UnsupportedSampleRate { rate_hz: 2_000_000 },
            ReferenceError::UnsupportedChannels { count: 12 },
            ReferenceError::TooShort { duration_s: 0.2 },
            ReferenceError::TooLong { duration_s: Some(43.0 * 60.0), limit_s: MAX_REFERENCE_DURATION_S },
            ReferenceError::TooLong { duration_s: None, limit_s: 750.0 },
            ReferenceError::Changed,
            ReferenceError::Cancelled,
            ReferenceError::SessionRate { rate_hz: 1e6 },
            ReferenceError::Resample { detail: "x".into() },
        ];
        for error in &errors {
            let text = error.to_string();
            println!("{text}");
            assert!(text.chars().count() <= 36, "{text}");
            assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
        }
        assert_eq!(errors[6].to_string(), "unsupported codec (alac)");
        assert_eq!(errors[13].to_string(), "too long (43 min; limit 30 min)");
        assert_eq!(errors[14].to_string(), "too long (limit 12 min)");
        assert_eq!(errors[12].to_string(), "too short (0.2 s; minimum 0.5 s)");
    }

    #[test]
    fn every_audio_file_error_is_mapped() {
        use std::io;
        let path = PathBuf::from("x.wav");
        let io_error = || io::Error::other("disk on fire");
        let cases: Vec<(AudioFileError, ReferenceError)> = vec![
            (AudioFileError::NotFound { path: path.clone() }, ReferenceError::Missing),
            (AudioFileError::IsDirectory { path: path.clone() }, ReferenceError::Directory),
            (AudioFileError::NotAFile { path: path.clone() }, ReferenceError::NotAFile),
            (AudioFileError::Empty { path: path.clone() }, ReferenceError::Empty),
            (AudioFileError::PermissionDenied { path: path.clone() }, ReferenceError::PermissionDenied),
            (
                AudioFileError::Read { path: path.clone(), io_error: io_error() },
                ReferenceError::Unreadable { detail: "disk on fire".into() },
            ),
            (AudioFileError::UnsupportedFormat { path: path.clone() }, ReferenceError::NotAudio),
            (
                AudioFileError::UnsupportedEncoding {
                    path: path.clone(),
                    detail: "core (codec):unsupported codec".into(),
                },
                ReferenceError::UnsupportedCodec { detail: "unsupported codec".into() },
            ),
            (AudioFileError::NoAudioTrack { path: path.clone() }, ReferenceError::NoAudioTrack),
            (
                AudioFileError::NoAudioFrames { path: path.clone(), skipped_packets: 0, last_error: None },
                ReferenceError::Empty,
            ),
            (
                AudioFileError::SampleRateOutOfRange { path: path.clone(), rate_hz: 0 },
                ReferenceError::UnsupportedSampleRate { rate_hz: 0 },
            ),
            (
                AudioFileError::MissingSampleRate { path: path.clone() },
                ReferenceError::UnsupportedSampleRate { rate_hz: 0 },
            ),
            (
                AudioFileError::ChannelCount { path: path.clone(), count: 9 },
                ReferenceError::UnsupportedChannels { count: 9 },
            ),
            (
                AudioFileError::TooLong {
                    path: path.clone(),
                    max_frames: 48_000 * 600,
                    sample_rate_hz: 48_000,
                },
                ReferenceError::TooLong { duration_s: None, limit_s: 600.0 },
            ),
        ];
        for (from, to) in cases {
            assert_eq!(ReferenceError::from(from), to);
        }
        let damaged = [
            AudioFileError::Malformed { path: path.clone(), detail: "x".into() },
            AudioFileError::TruncatedHeader { path: path.clone() },
            AudioFileError::TooManyBadPackets { path: path.clone(), count: 1_000, decoded_frames: 0 },
            AudioFileError::FormatChanged { path: path.clone(), detail: "x".into() },
            AudioFileError::DecoderPanicked { path: path.clone(), message: "x".into() },
        ];
        for error in damaged {
            assert!(matches!(ReferenceError::from(error), ReferenceError::Damaged { .. }));
        }
        let writing = [
            AudioFileError::NoChannels { path: path.clone() },
            AudioFileError::UnequalChannelLengths {
                path: path.clone(),
                channel: 1,
                frames: 1,
                expected_frames: 2,
            },
            AudioFileError::FlacFloat { path: path.clone() },
            AudioFileError::FlacBitDepth { path: path.clone(), bits_per_sample: 8 },
            AudioFileError::FlacSampleRate { path: path.clone(), rate_hz: 192_000 },
            AudioFileError::UnsupportedOutputExtension { path: path.clone() },
            AudioFileError::Encode { path: path.clone(), format: "WAV", detail: "x".into() },
            AudioFileError::Write { path: path.clone(), io_error: io_error() },
        ];
        for error in writing {
            assert!(matches!(ReferenceError::from(error), ReferenceError::Unreadable { .. }));
        }
    }
}
