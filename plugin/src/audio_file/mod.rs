//! Reading and writing audio files for the offline tools (the CLI's analyze/master/compare and the
//! reference-track loader).
//!
//! Reading decodes into planar `f32` at full scale 1.0: plain 16/24/32-bit integer and 32-bit
//! float WAV directly (several times faster than symphonia's per-sample PCM decoder), everything
//! else through symphonia 0.5 (WAV, AIFF, FLAC, MP3, AAC/M4A, Ogg Vorbis; gapless trimming on).
//! Integer PCM decodes exactly: a 16-bit sample `s` becomes `s / 32768`, a 24-bit one
//! `s / 8388608` (symphonia's `FromSample` conversions on both paths; the tests check the scaling
//! and that both paths agree bit for bit). Writing is WAV (hound: 16/24-bit integer or 32-bit
//! float) and FLAC (flacenc: 16/24-bit, at most 96 kHz), through a temporary file renamed into
//! place.
//!
//! # Untrusted input
//! Every function returns a typed [`AudioFileError`] whose `Display` is one line,
//! `<path>: <problem>`, and none of them panics on any file:
//! - The first bytes must be a supported container's signature; symphonia's probe would otherwise
//!   search the first megabyte for any marker (MPEG sync words occur in most binary data).
//! - Nothing is allocated from a header's claim: the decoded length grows with what is actually
//!   decoded (the initial reservation is capped by the file's size in bytes) and stops with
//!   [`AudioFileError::TooLong`] at [`ReadOptions`]' limits.
//! - WAV and AIFF headers are checked before symphonia sees them (channel count, sample rate,
//!   block size): symphonia 0.5 panics on a 0 Hz rate (`TimeBase::new(1, 0)`), loops forever on a
//!   0-byte block size, and reads 8 bytes past an AIFF `SSND` chunk when another chunk follows (it
//!   counts the chunk's offset/block-size fields as audio), which the `COMM` frame count corrects.
//! - MP4 sample tables are checked against their atom sizes: symphonia 0.5 reserves their stated
//!   entry count up front, and a failed allocation aborts the process rather than unwinding.
//! - Any remaining panic inside symphonia is caught and reported as
//!   [`AudioFileError::DecoderPanicked`] (the default panic hook still prints it to stderr).
//!   Known residual risk: a crafted Ogg Vorbis setup header can still make symphonia request an
//!   enormous codebook table (entries × dimensions), which would abort.
//!
//! Truncated files decode what is there; [`DecodeReport`] tells the caller how that compares with
//! the header's claim and how many damaged packets were skipped.
//!
//! # Threads
//! Everything here blocks, allocates and does file I/O: call it from worker threads (rayon, the
//! reference loader), never from the audio thread. All types are `Send + Sync`.

use std::any::Any;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use symphonia::core::audio::{AudioBuffer as SymphoniaBuffer, AudioBufferRef, Signal};
use symphonia::core::codecs::{CodecParameters, Decoder, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::conv::FromSample;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use symphonia::core::sample::{i24, Sample};

/// Most channels a file may have, read or written (7.1).
pub const MAX_CHANNELS: usize = 8;
/// Lowest accepted sample rate.
pub const MIN_SAMPLE_RATE_HZ: u32 = 1_000;
/// Highest accepted sample rate (32 × 48 kHz).
pub const MAX_SAMPLE_RATE_HZ: u32 = 1_536_000;
/// Default limit on the decoded duration ([`ReadOptions::max_duration_s`]): 6 hours.
pub const DEFAULT_MAX_DURATION_S: f64 = 6.0 * 3600.0;
/// Default limit on decoded samples summed over channels ([`ReadOptions::max_total_samples`]):
/// 2^31 samples, 8 GiB of `f32`.
pub const DEFAULT_MAX_TOTAL_SAMPLES: u64 = 1 << 31;
/// Highest sample rate `write::write_flac` (feature `cli`) accepts: flacenc 0.5 refuses anything above 96 kHz (its
/// stream-info check), although FLAC itself goes to 655350 Hz. Write WAV for 176.4/192 kHz.
pub const FLAC_MAX_SAMPLE_RATE_HZ: u32 = 96_000;

/// Consecutive unreadable packets after which decoding gives up (a stuck or hopeless stream).
const MAX_CONSECUTIVE_BAD_PACKETS: u32 = 1_000;
/// Atoms walked at most per level while checking an MP4's sample tables.
const MP4_SCAN_MAX_ATOMS: usize = 4_096;
/// Deepest MP4 container nesting followed (moov/trak/mdia/minf/stbl is 5).
const MP4_SCAN_MAX_DEPTH: u32 = 8;
/// Chunks walked at most while looking for a WAV `fmt ` or AIFF `COMM` chunk.
const HEADER_SCAN_MAX_CHUNKS: usize = 4_096;
/// Bytes of a WAV `fmt ` chunk read: up to the end of `WAVE_FORMAT_EXTENSIBLE`'s sub-format GUID.
const WAV_FMT_READ_BYTES: usize = 40;
/// Samples per channel converted per read in the direct WAV path.
const WAV_READ_BLOCK_FRAMES: usize = 16_384;
/// Full scale of 16-bit PCM: sample `s` is `s / 32768`.
#[cfg(feature = "cli")]
const FULL_SCALE_16: f32 = 32_768.0;
/// Full scale of 24-bit PCM: sample `s` is `s / 8388608`.
#[cfg(feature = "cli")]
const FULL_SCALE_24: f32 = 8_388_608.0;

/// Decoded audio, planar f32 (one Vec per channel, equal lengths), full scale = 1.0.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AudioBuffer {
    /// Sample rate in Hz.
    pub sample_rate_hz: u32,
    /// One vector of samples per channel, all of the same length; full scale is ±1.0.
    pub channels: Vec<Vec<f32>>,
}

impl AudioBuffer {
    /// Number of frames (samples per channel); 0 when there are no channels.
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Duration in seconds (0.0 when the sample rate is 0).
    pub fn duration_s(&self) -> f64 {
        if self.sample_rate_hz == 0 {
            0.0
        } else {
            self.frames() as f64 / f64::from(self.sample_rate_hz)
        }
    }

    /// Number of channels.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }
}

/// Limits applied while reading; decoding stops with [`AudioFileError::TooLong`] beyond them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReadOptions {
    /// Longest accepted duration in seconds, at the file's own sample rate.
    pub max_duration_s: f64,
    /// Most samples accepted, summed over all channels (memory is 4 bytes per sample).
    pub max_total_samples: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self { max_duration_s: DEFAULT_MAX_DURATION_S, max_total_samples: DEFAULT_MAX_TOTAL_SAMPLES }
    }
}

/// What happened while decoding a file that was read successfully.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeReport {
    /// Symphonia's short codec name, e.g. `pcm_s16le`, `flac`, `mp3`, `aac`, `vorbis`.
    pub codec: &'static str,
    /// Bits per sample the file states, if any (lossy codecs state none).
    pub bits_per_sample: Option<u32>,
    /// Frames the container claims (untrusted; `None` if it states none). More than the decoded
    /// frames usually means a truncated file.
    pub stated_frames: Option<u64>,
    /// Damaged packets that failed to decode and were skipped (their audio is missing, not
    /// replaced by silence).
    pub skipped_packets: usize,
}

/// A decoded file with its [`DecodeReport`].
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedAudio {
    /// The decoded audio.
    pub buffer: AudioBuffer,
    /// How the decoding went.
    pub report: DecodeReport,
}

/// Output sample formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleFormat {
    /// 16-bit integer PCM (rounded, clamped; no dither here).
    Int16,
    /// 24-bit integer PCM (rounded, clamped; no dither here).
    Int24,
    /// 32-bit IEEE float, written as is (WAV only).
    Float32,
}

/// Why a file could not be read or written. `Display` is one line: `<path>: <problem>`.
#[derive(Debug, thiserror::Error)]
pub enum AudioFileError {
    /// The path does not exist.
    #[error("{}: no such file", .path.display())]
    NotFound {
        /// The file concerned.
        path: PathBuf,
    },
    /// The path is a directory.
    #[error("{}: is a directory, not an audio file", .path.display())]
    IsDirectory {
        /// The file concerned.
        path: PathBuf,
    },
    /// The path is neither a file nor a directory (a device, socket or pipe).
    #[error("{}: not a regular file", .path.display())]
    NotAFile {
        /// The file concerned.
        path: PathBuf,
    },
    /// The file is 0 bytes long.
    #[error("{}: empty file", .path.display())]
    Empty {
        /// The file concerned.
        path: PathBuf,
    },
    /// The operating system refused access.
    #[error("{}: permission denied", .path.display())]
    PermissionDenied {
        /// The file concerned.
        path: PathBuf,
    },
    /// Another I/O error while reading.
    #[error("{}: cannot read ({io_error})", .path.display())]
    Read {
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        io_error: io::Error,
    },
    /// The content is not a container this module reads.
    #[error("{}: unsupported or unrecognised format", .path.display())]
    UnsupportedFormat {
        /// The file concerned.
        path: PathBuf,
    },
    /// A known container holding an encoding or feature symphonia does not decode.
    #[error("{}: unsupported audio encoding ({detail})", .path.display())]
    UnsupportedEncoding {
        /// The file concerned.
        path: PathBuf,
        /// Symphonia's description.
        detail: String,
    },
    /// The header or stream structure is invalid.
    #[error("{}: damaged or malformed file ({detail})", .path.display())]
    Malformed {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The file ends before its header does.
    #[error("{}: truncated: the file ends inside its header", .path.display())]
    TruncatedHeader {
        /// The file concerned.
        path: PathBuf,
    },
    /// The container has no decodable audio track.
    #[error("{}: no audio track", .path.display())]
    NoAudioTrack {
        /// The file concerned.
        path: PathBuf,
    },
    /// Decoding produced no audio at all.
    #[error("{}: no audio frames{}", .path.display(), bad_packet_note(*.skipped_packets, .last_error))]
    NoAudioFrames {
        /// The file concerned.
        path: PathBuf,
        /// Packets that failed to decode.
        skipped_packets: usize,
        /// The last decoding error, if any.
        last_error: Option<String>,
    },
    /// Decoding stopped after too many consecutive unreadable packets.
    #[error(
        "{}: gave up after {count} consecutive unreadable packets (decoded {decoded_frames} frames)",
        .path.display()
    )]
    TooManyBadPackets {
        /// The file concerned.
        path: PathBuf,
        /// Consecutive failures.
        count: u32,
        /// Frames decoded before giving up.
        decoded_frames: usize,
    },
    /// The sample rate is outside [`MIN_SAMPLE_RATE_HZ`]..=[`MAX_SAMPLE_RATE_HZ`].
    #[error("{}: sample rate {rate_hz} Hz is outside 1 kHz..1536 kHz", .path.display())]
    SampleRateOutOfRange {
        /// The file concerned.
        path: PathBuf,
        /// The offending rate in Hz (saturated to `u64`).
        rate_hz: u64,
    },
    /// The file does not state its sample rate.
    #[error("{}: the file does not state its sample rate", .path.display())]
    MissingSampleRate {
        /// The file concerned.
        path: PathBuf,
    },
    /// The channel count is 0 or above [`MAX_CHANNELS`].
    #[error("{}: unsupported channel count {count} (1 to 8 are supported)", .path.display())]
    ChannelCount {
        /// The file concerned.
        path: PathBuf,
        /// The offending channel count.
        count: usize,
    },
    /// The channel count or sample rate changes inside the stream.
    #[error("{}: the audio format changes midway ({detail})", .path.display())]
    FormatChanged {
        /// The file concerned.
        path: PathBuf,
        /// What changed.
        detail: String,
    },
    /// The decoded audio exceeds [`ReadOptions`]' limits.
    #[error(
        "{}: too long (the limit is {max_frames} frames at {sample_rate_hz} Hz, {limit_s:.0} s)",
        .path.display(),
        limit_s = *.max_frames as f64 / f64::from(*.sample_rate_hz)
    )]
    TooLong {
        /// The file concerned.
        path: PathBuf,
        /// The limit in frames.
        max_frames: usize,
        /// The file's sample rate in Hz.
        sample_rate_hz: u32,
    },
    /// Symphonia panicked on the file (a symphonia bug reached by malformed data).
    #[error("{}: the decoder failed on malformed data ({message})", .path.display())]
    DecoderPanicked {
        /// The file concerned.
        path: PathBuf,
        /// The panic message.
        message: String,
    },
    /// A buffer with no channels was given to a writer.
    #[error("{}: cannot write a buffer with no channels", .path.display())]
    NoChannels {
        /// The file concerned.
        path: PathBuf,
    },
    /// A buffer whose channels differ in length was given to a writer.
    #[error(
        "{}: cannot write: channel {channel} has {frames} frames but channel 0 has {expected_frames}",
        .path.display()
    )]
    UnequalChannelLengths {
        /// The file concerned.
        path: PathBuf,
        /// Index of the first channel whose length differs.
        channel: usize,
        /// Its length in frames.
        frames: usize,
        /// Channel 0's length in frames.
        expected_frames: usize,
    },
    /// FLAC was asked for 32-bit float samples.
    #[error("{}: FLAC cannot store 32-bit float samples (use 16 or 24 bits)", .path.display())]
    FlacFloat {
        /// The file concerned.
        path: PathBuf,
    },
    /// FLAC was asked for a bit depth other than 16 or 24.
    #[error("{}: FLAC bit depth {bits_per_sample} is not supported (use 16 or 24)", .path.display())]
    FlacBitDepth {
        /// The file concerned.
        path: PathBuf,
        /// The requested bit depth.
        bits_per_sample: u32,
    },
    /// FLAC cannot carry the buffer's sample rate.
    #[error(
        "{}: FLAC output is limited to 96000 Hz, not {rate_hz} Hz (write WAV instead)",
        .path.display()
    )]
    FlacSampleRate {
        /// The file concerned.
        path: PathBuf,
        /// The buffer's sample rate in Hz.
        rate_hz: u32,
    },
    /// The output extension is neither `.wav` nor `.flac`.
    #[error("{}: unknown output format (the name must end in .wav or .flac)", .path.display())]
    UnsupportedOutputExtension {
        /// The file concerned.
        path: PathBuf,
    },
    /// The encoder refused the data.
    #[error("{}: {format} encoding failed ({detail})", .path.display())]
    Encode {
        /// The file concerned.
        path: PathBuf,
        /// `WAV` or `FLAC`.
        format: &'static str,
        /// The encoder's message.
        detail: String,
    },
    /// An I/O error while writing (the final name is left untouched).
    #[error("{}: cannot write ({io_error})", .path.display())]
    Write {
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        io_error: io::Error,
    },
}

impl AudioFileError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::NotFound { path }
            | Self::IsDirectory { path }
            | Self::NotAFile { path }
            | Self::Empty { path }
            | Self::PermissionDenied { path }
            | Self::Read { path, .. }
            | Self::UnsupportedFormat { path }
            | Self::UnsupportedEncoding { path, .. }
            | Self::Malformed { path, .. }
            | Self::TruncatedHeader { path }
            | Self::NoAudioTrack { path }
            | Self::NoAudioFrames { path, .. }
            | Self::TooManyBadPackets { path, .. }
            | Self::SampleRateOutOfRange { path, .. }
            | Self::MissingSampleRate { path }
            | Self::ChannelCount { path, .. }
            | Self::FormatChanged { path, .. }
            | Self::TooLong { path, .. }
            | Self::DecoderPanicked { path, .. }
            | Self::NoChannels { path }
            | Self::UnequalChannelLengths { path, .. }
            | Self::FlacFloat { path }
            | Self::FlacBitDepth { path, .. }
            | Self::FlacSampleRate { path, .. }
            | Self::UnsupportedOutputExtension { path }
            | Self::Encode { path, .. }
            | Self::Write { path, .. } => path,
        }
    }
}

/// The tail of [`AudioFileError::NoAudioFrames`]' message.
fn bad_packet_note(skipped_packets: usize, last_error: &Option<String>) -> String {
    match (skipped_packets, last_error) {
        (0, _) => String::new(),
        (n, Some(error)) => format!(" ({n} packets could not be decoded; last error: {error})"),
        (n, None) => format!(" ({n} packets could not be decoded)"),
    }
}

/// Symphonia's messages, kept to one line.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

// ------------------------------------------------------------------------------------------------
// Reading
// ------------------------------------------------------------------------------------------------

/// Reads and decodes a whole file with the default [`ReadOptions`].
pub fn read_audio_file(path: &Path) -> Result<AudioBuffer, AudioFileError> {
    read_audio_file_with(path, &ReadOptions::default()).map(|decoded| decoded.buffer)
}

/// Reads and decodes a whole file within `options`' limits, with a report on the decoding.
pub fn read_audio_file_with(path: &Path, options: &ReadOptions) -> Result<DecodedAudio, AudioFileError> {
    read_with(path, options, true)
}

/// [`read_audio_file_with`]; `direct_wav` enables the direct path for plain PCM/float WAV (off
/// only in tests that compare it with symphonia).
fn read_with(path: &Path, options: &ReadOptions, direct_wav: bool) -> Result<DecodedAudio, AudioFileError> {
    let (file, file_len_bytes) = open_for_reading(path)?;
    // The checks and the direct WAV path are written not to panic, and symphonia is known to on
    // some malformed input: either way the caller gets an error, never an unwinding thread.
    let read = AssertUnwindSafe(|| read_opened(path, file, file_len_bytes, options, direct_wav));
    panic::catch_unwind(read).unwrap_or_else(|payload| {
        Err(AudioFileError::DecoderPanicked { path: path.to_path_buf(), message: panic_message(&*payload) })
    })
}

/// [`read_with`] once the file is open: sniff, check headers, then decode directly or through
/// symphonia.
fn read_opened(
    path: &Path,
    mut file: File,
    file_len_bytes: u64,
    options: &ReadOptions,
    direct_wav: bool,
) -> Result<DecodedAudio, AudioFileError> {
    let read_error = |io_error: io::Error| AudioFileError::Read { path: path.to_path_buf(), io_error };

    let mut head = [0_u8; 16];
    let head_len = read_up_to(&mut file, &mut head).map_err(read_error)?;
    if !looks_like_audio(&head[..head_len]) {
        return Err(AudioFileError::UnsupportedFormat { path: path.to_path_buf() });
    }
    if head_len >= 8 && &head[4..8] == b"ftyp" {
        if let Some(detail) = check_mp4_tables(&mut file, file_len_bytes).map_err(read_error)? {
            return Err(AudioFileError::Malformed { path: path.to_path_buf(), detail });
        }
    }
    let header = scan_riff_header(&mut file, file_len_bytes).map_err(read_error)?;
    if let Some(header) = &header {
        header.validate(path)?;
        if let Some(layout) = header.wav_pcm.filter(|_| direct_wav) {
            return read_wav_pcm(path, &mut file, file_len_bytes, header, &layout, options);
        }
    }
    file.seek(SeekFrom::Start(0)).map_err(read_error)?;

    let aiff_frames = header.and_then(|h| h.aiff_frames);
    decode(path, StreamSource { file, file_len_bytes }, options, aiff_frames)
}

/// Opens `path` after checking it is a non-empty regular file; returns the file and its length.
fn open_for_reading(path: &Path) -> Result<(File, u64), AudioFileError> {
    let open_error = |io_error: io::Error| match io_error.kind() {
        io::ErrorKind::NotFound => AudioFileError::NotFound { path: path.to_path_buf() },
        io::ErrorKind::PermissionDenied => AudioFileError::PermissionDenied { path: path.to_path_buf() },
        _ => AudioFileError::Read { path: path.to_path_buf(), io_error },
    };
    let metadata = fs::metadata(path).map_err(open_error)?;
    if metadata.is_dir() {
        return Err(AudioFileError::IsDirectory { path: path.to_path_buf() });
    }
    if !metadata.is_file() {
        return Err(AudioFileError::NotAFile { path: path.to_path_buf() });
    }
    if metadata.len() == 0 {
        return Err(AudioFileError::Empty { path: path.to_path_buf() });
    }
    let file = File::open(path).map_err(open_error)?;
    Ok((file, metadata.len()))
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Whether the first bytes are the start of a container this module reads. Symphonia's probe
/// instead searches the first megabyte for any marker (an MPEG sync word turns up in most binary
/// data), which would decode arbitrary files as noise.
fn looks_like_audio(head: &[u8]) -> bool {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let riff_form = |form: &[u8]| head.len() >= 12 && &head[8..12] == form;
    (starts(b"RIFF") && riff_form(b"WAVE"))
        || (starts(b"FORM") && (riff_form(b"AIFF") || riff_form(b"AIFC")))
        || starts(b"fLaC")
        || starts(b"OggS")
        || starts(b"ID3")
        || (head.len() >= 8 && &head[4..8] == b"ftyp")
        // MPEG audio frame or ADTS (AAC) sync word: 11 set bits.
        || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0)
}

/// What a WAV `fmt ` or AIFF `COMM` chunk states, read before symphonia sees the file.
#[derive(Clone, Copy, Debug, PartialEq)]
struct RiffHeader {
    /// Stated channel count.
    channel_count: usize,
    /// Stated sample rate in Hz (AIFF stores an 80-bit float).
    sample_rate_hz: f64,
    /// Bytes per frame (WAV `block_align`); `None` for AIFF.
    block_align_bytes: Option<u16>,
    /// Frames stated by an AIFF `COMM` chunk; `None` for WAV.
    aiff_frames: Option<u64>,
    /// Where the samples are, for a plain PCM/float WAV read directly; `None` otherwise.
    wav_pcm: Option<WavPcmLayout>,
}

impl RiffHeader {
    /// Refuses what symphonia would mishandle or this module does not accept.
    fn validate(&self, path: &Path) -> Result<(), AudioFileError> {
        check_channel_count(path, self.channel_count)?;
        // `as` saturates (NaN becomes 0): symphonia itself truncates the rate to an integer.
        check_sample_rate(path, self.sample_rate_hz as u64)?;
        if self.block_align_bytes == Some(0) {
            return Err(AudioFileError::Malformed {
                path: path.to_path_buf(),
                detail: "the fmt chunk states a block size of 0 bytes".to_owned(),
            });
        }
        Ok(())
    }
}

/// Finds a WAV `fmt ` (and then the `data` chunk) or an AIFF/AIFC `COMM` chunk by walking the
/// chunk list with seeks. Returns `None` for other formats, or when the format chunk is missing or
/// cut short (symphonia then judges the file).
fn scan_riff_header(file: &mut File, file_len_bytes: u64) -> io::Result<Option<RiffHeader>> {
    let mut head = [0_u8; 12];
    file.seek(SeekFrom::Start(0))?;
    if read_up_to(file, &mut head)? < head.len() {
        return Ok(None);
    }
    let is_aiff = match (&head[0..4], &head[8..12]) {
        (b"RIFF", b"WAVE") => false,
        (b"FORM", b"AIFF" | b"AIFC") => true,
        _ => return Ok(None),
    };
    let mut header: Option<RiffHeader> = None;
    let mut fmt = [0_u8; WAV_FMT_READ_BYTES];
    let mut fmt_len = 0;
    let mut chunk_pos = 12_u64;
    for _ in 0..HEADER_SCAN_MAX_CHUNKS {
        let mut chunk_head = [0_u8; 8];
        file.seek(SeekFrom::Start(chunk_pos))?;
        if read_up_to(file, &mut chunk_head)? < chunk_head.len() {
            break;
        }
        let size_bytes = [chunk_head[4], chunk_head[5], chunk_head[6], chunk_head[7]];
        let size =
            u64::from(if is_aiff { u32::from_be_bytes(size_bytes) } else { u32::from_le_bytes(size_bytes) });
        // The body as far as it is needed, and no further than the chunk's stated size.
        let body_len = usize::try_from(size).map_or(WAV_FMT_READ_BYTES, |size| size.min(WAV_FMT_READ_BYTES));
        match (&chunk_head[0..4], is_aiff) {
            (b"COMM", true) => {
                let mut comm = [0_u8; 18];
                let read = read_up_to(file, &mut comm[..body_len.min(18)])?;
                return Ok(parse_aiff_comm(&comm[..read]));
            }
            (b"fmt ", false) if header.is_none() => {
                fmt_len = read_up_to(file, &mut fmt[..body_len])?;
                header = parse_wav_fmt(&fmt[..fmt_len]);
            }
            (b"data", false) => {
                if let Some(header) = &mut header {
                    header.wav_pcm = wav_pcm_layout(&fmt[..fmt_len], chunk_pos + 8, size);
                }
                break;
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        chunk_pos = chunk_pos.saturating_add(8).saturating_add(size).saturating_add(size & 1);
        if chunk_pos >= file_len_bytes {
            break;
        }
    }
    Ok(header)
}

/// Parses the start of a WAV `fmt ` chunk (any format tag: the first 16 bytes are common).
fn parse_wav_fmt(body: &[u8]) -> Option<RiffHeader> {
    if body.len() < 16 {
        return None;
    }
    let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
    let sample_rate_hz = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
    Some(RiffHeader {
        channel_count: usize::from(u16_at(2)),
        sample_rate_hz: f64::from(sample_rate_hz),
        block_align_bytes: Some(u16_at(12)),
        aiff_frames: None,
        wav_pcm: None,
    })
}

/// Parses an AIFF/AIFC `COMM` chunk: channels (i16), frames (u32), bits (i16), rate (80-bit float).
fn parse_aiff_comm(body: &[u8]) -> Option<RiffHeader> {
    if body.len() < 18 {
        return None;
    }
    let channels = i16::from_be_bytes([body[0], body[1]]);
    let frames = u32::from_be_bytes([body[2], body[3], body[4], body[5]]);
    let mut rate = [0_u8; 10];
    rate.copy_from_slice(&body[8..18]);
    Some(RiffHeader {
        // A negative count reads as a huge one, which is refused.
        channel_count: usize::from(channels as u16),
        sample_rate_hz: extended_to_f64(rate),
        block_align_bytes: None,
        aiff_frames: Some(u64::from(frames)),
        wav_pcm: None,
    })
}

/// Checks that every MP4 sample table (`stts`, `stsc`, `stsz`, `stco`, `co64`) fits in its atom.
/// Symphonia 0.5 reserves `entry_count` entries up front, so a table claiming 2^32 entries in a
/// 100-byte file makes it request tens of GB, and a failed allocation aborts the whole process
/// (no unwinding): the CLI's batch or, through the reference loader, the host. Returns the
/// problem found, if any; structure symphonia can judge itself (cut-short atoms) passes.
fn check_mp4_tables(file: &mut File, file_len_bytes: u64) -> io::Result<Option<String>> {
    check_mp4_atoms(file, 0, file_len_bytes, 0)
}

/// [`check_mp4_tables`] for the atoms between `start` and `end` at nesting `depth`.
fn check_mp4_atoms(file: &mut File, start: u64, end: u64, depth: u32) -> io::Result<Option<String>> {
    let mut pos = start;
    for _ in 0..MP4_SCAN_MAX_ATOMS {
        let mut header = [0_u8; 16];
        file.seek(SeekFrom::Start(pos))?;
        if pos.saturating_add(8) > end || read_up_to(file, &mut header)? < 8 {
            break;
        }
        let kind = [header[4], header[5], header[6], header[7]];
        let (header_len, size) = match u32::from_be_bytes([header[0], header[1], header[2], header[3]]) {
            // A 64-bit size follows the type.
            1 => {
                let mut large = [0_u8; 8];
                large.copy_from_slice(&header[8..16]);
                (16, u64::from_be_bytes(large))
            }
            // The atom runs to the end of its parent.
            0 => (8, end - pos),
            size => (8, u64::from(size)),
        };
        if size < header_len {
            break;
        }
        // What the file actually holds of this atom's payload.
        let body_start = pos + header_len;
        let body_end = pos.saturating_add(size).min(end);
        let body_bytes = body_end.saturating_sub(body_start);
        match &kind {
            b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" if depth < MP4_SCAN_MAX_DEPTH => {
                if let Some(problem) = check_mp4_atoms(file, body_start, body_end, depth + 1)? {
                    return Ok(Some(problem));
                }
            }
            b"stts" | b"stsc" | b"stsz" | b"stco" | b"co64" => {
                // Version and flags (4 bytes), then for stsz a constant sample size (0 means a
                // table follows), then the entry count.
                let mut fields = [0_u8; 12];
                file.seek(SeekFrom::Start(body_start))?;
                let read = read_up_to(file, &mut fields)?;
                let u32_at =
                    |i: usize| u32::from_be_bytes([fields[i], fields[i + 1], fields[i + 2], fields[i + 3]]);
                let (count, entry_bytes, fixed_bytes) = match &kind {
                    b"stsz" if read >= 12 && u32_at(4) == 0 => (u32_at(8), 4, 12),
                    b"stsz" => (0, 4, 12),
                    _ if read >= 8 => (
                        u32_at(4),
                        if &kind == b"stco" {
                            4
                        } else if &kind == b"stsc" {
                            12
                        } else {
                            8
                        },
                        8,
                    ),
                    _ => (0, 0, 8),
                };
                let needed = u64::from(count) * entry_bytes + fixed_bytes;
                if count > 0 && needed > body_bytes {
                    return Ok(Some(format!(
                        "the MP4 {} table claims {count} entries but its atom holds {body_bytes} bytes",
                        String::from_utf8_lossy(&kind)
                    )));
                }
            }
            _ => {}
        }
        pos = pos.saturating_add(size);
    }
    Ok(None)
}

/// Sample encodings the direct WAV path reads (all little-endian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WavPcmEncoding {
    /// Signed 16-bit integer.
    I16,
    /// Signed 24-bit integer.
    I24,
    /// Signed 32-bit integer.
    I32,
    /// 32-bit IEEE float.
    F32,
}

impl WavPcmEncoding {
    /// Bytes per sample.
    fn bytes(self) -> usize {
        match self {
            Self::I16 => 2,
            Self::I24 => 3,
            Self::I32 | Self::F32 => 4,
        }
    }

    /// Symphonia's short name for the codec, so reports do not depend on the path taken.
    fn codec_name(self) -> &'static str {
        match self {
            Self::I16 => "pcm_s16le",
            Self::I24 => "pcm_s24le",
            Self::I32 => "pcm_s32le",
            Self::F32 => "pcm_f32le",
        }
    }
}

/// Where and how a plain PCM/float WAV stores its samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct WavPcmLayout {
    /// Sample encoding.
    encoding: WavPcmEncoding,
    /// Byte offset of the first sample.
    data_start: u64,
    /// Size of the `data` chunk as stated (untrusted: the file may be shorter).
    stated_data_bytes: u64,
}

/// The `WAVE_FORMAT_EXTENSIBLE` sub-format GUID after its leading 2-byte format code.
const KSDATAFORMAT_GUID_TAIL: [u8; 14] = [0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71];

/// The direct-path layout of a WAV whose `fmt ` chunk is `fmt`, if it is plain 16/24/32-bit
/// integer or 32-bit float PCM with a consistent block size; anything else goes to symphonia.
fn wav_pcm_layout(fmt: &[u8], data_start: u64, stated_data_bytes: u64) -> Option<WavPcmLayout> {
    if fmt.len() < 16 {
        return None;
    }
    let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
    let (format_tag, channels, block_align, bits) = (u16_at(0), u16_at(2), u16_at(12), u16_at(14));
    let code = match format_tag {
        0xFFFE => {
            // Extensible: the sub-format decides; valid bits must fill the container.
            if fmt.len() < 40 || fmt[26..40] != KSDATAFORMAT_GUID_TAIL || u16_at(18) != bits {
                return None;
            }
            u16_at(24)
        }
        tag => tag,
    };
    let encoding = match (code, bits) {
        (1, 16) => WavPcmEncoding::I16,
        (1, 24) => WavPcmEncoding::I24,
        (1, 32) => WavPcmEncoding::I32,
        (3, 32) => WavPcmEncoding::F32,
        _ => return None,
    };
    let consistent = usize::from(block_align) == usize::from(channels) * encoding.bytes();
    consistent.then_some(WavPcmLayout { encoding, data_start, stated_data_bytes })
}

/// Reads a plain PCM/float WAV directly (symphonia decodes PCM one sample at a time through a
/// closure, several times slower). The conversions are symphonia's, so both paths give identical
/// samples; the tests compare them. Reads what the file holds, whatever the `data` size claims.
fn read_wav_pcm(
    path: &Path,
    file: &mut File,
    file_len_bytes: u64,
    header: &RiffHeader,
    layout: &WavPcmLayout,
    options: &ReadOptions,
) -> Result<DecodedAudio, AudioFileError> {
    let read_error = |io_error: io::Error| AudioFileError::Read { path: path.to_path_buf(), io_error };
    // `RiffHeader::validate` has checked the channel count (1..=8) and the rate (an integer here).
    let channel_count = header.channel_count;
    let sample_rate_hz = header.sample_rate_hz as u32;
    let bytes_per_sample = layout.encoding.bytes();
    let frame_bytes = (channel_count * bytes_per_sample) as u64;
    let present_bytes = file_len_bytes.saturating_sub(layout.data_start).min(layout.stated_data_bytes);
    let frames = present_bytes / frame_bytes;
    let report = DecodeReport {
        codec: layout.encoding.codec_name(),
        bits_per_sample: Some(8 * bytes_per_sample as u32),
        stated_frames: Some(layout.stated_data_bytes / frame_bytes),
        skipped_packets: 0,
    };
    if frames == 0 {
        return Err(AudioFileError::NoAudioFrames {
            path: path.to_path_buf(),
            skipped_packets: 0,
            last_error: None,
        });
    }
    let max_frames = max_frames(options, sample_rate_hz, channel_count);
    if frames > max_frames {
        return Err(AudioFileError::TooLong {
            path: path.to_path_buf(),
            max_frames: usize::try_from(max_frames).unwrap_or(usize::MAX),
            sample_rate_hz,
        });
    }
    // `frames` is what the file actually holds (and within the limit), not a header claim.
    let frames = usize::try_from(frames).unwrap_or(usize::MAX);
    let mut channels: Vec<Vec<f32>> = (0..channel_count).map(|_| Vec::with_capacity(frames)).collect();
    let mut block = vec![0_u8; WAV_READ_BLOCK_FRAMES * frame_bytes as usize];
    file.seek(SeekFrom::Start(layout.data_start)).map_err(read_error)?;
    let mut remaining = frames;
    while remaining > 0 {
        let want = remaining.min(WAV_READ_BLOCK_FRAMES) * frame_bytes as usize;
        let got = read_up_to(file, &mut block[..want]).map_err(read_error)?;
        // Whole frames only (the file may have shrunk since its length was taken).
        let got_frames = got / frame_bytes as usize;
        let bytes = &block[..got_frames * frame_bytes as usize];
        for (index, channel) in channels.iter_mut().enumerate() {
            let offset = index * bytes_per_sample;
            let samples = bytes.chunks_exact(frame_bytes as usize).map(|frame| &frame[offset..]);
            match layout.encoding {
                WavPcmEncoding::I16 => {
                    channel.extend(samples.map(|b| f32::from_sample(i16::from_le_bytes([b[0], b[1]]))))
                }
                WavPcmEncoding::I24 => channel.extend(samples.map(|b| {
                    // Sign-extend by placing the 3 bytes at the top of an i32, then shifting down.
                    let value = i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8;
                    f32::from_sample(i24::from(value))
                })),
                WavPcmEncoding::I32 => channel
                    .extend(samples.map(|b| f32::from_sample(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))),
                WavPcmEncoding::F32 => {
                    channel.extend(samples.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                }
            }
        }
        if got_frames < remaining.min(WAV_READ_BLOCK_FRAMES) {
            break;
        }
        remaining -= got_frames;
    }
    if channels[0].is_empty() {
        return Err(AudioFileError::NoAudioFrames {
            path: path.to_path_buf(),
            skipped_packets: 0,
            last_error: None,
        });
    }
    Ok(DecodedAudio { buffer: AudioBuffer { sample_rate_hz, channels }, report })
}

/// Most frames `options` accept at `sample_rate_hz` with `channel_count` channels.
fn max_frames(options: &ReadOptions, sample_rate_hz: u32, channel_count: usize) -> u64 {
    // `as` saturates (NaN and negative limits become 0).
    let by_duration = (options.max_duration_s * f64::from(sample_rate_hz)).floor() as u64;
    let by_samples = options.max_total_samples / channel_count.max(1) as u64;
    by_duration.min(by_samples)
}

/// Converts an 80-bit IEEE 754 extended float (big-endian, explicit integer bit) to `f64`.
fn extended_to_f64(bytes: [u8; 10]) -> f64 {
    let sign_exponent = u16::from_be_bytes([bytes[0], bytes[1]]);
    let mut mantissa_bytes = [0_u8; 8];
    mantissa_bytes.copy_from_slice(&bytes[2..10]);
    let mantissa = u64::from_be_bytes(mantissa_bytes);
    let exponent = i32::from(sign_exponent & 0x7FFF);
    let magnitude = if exponent == 0x7FFF {
        if mantissa << 1 == 0 {
            f64::INFINITY
        } else {
            f64::NAN
        }
    } else {
        // value = mantissa · 2^(exponent − 16383 − 63); powi over- or underflows harmlessly.
        mantissa as f64 * 2_f64.powi(exponent - 16_383 - 63)
    };
    if sign_exponent & 0x8000 == 0 {
        magnitude
    } else {
        -magnitude
    }
}

/// Refuses a channel count outside 1..=[`MAX_CHANNELS`].
fn check_channel_count(path: &Path, count: usize) -> Result<(), AudioFileError> {
    if (1..=MAX_CHANNELS).contains(&count) {
        Ok(())
    } else {
        Err(AudioFileError::ChannelCount { path: path.to_path_buf(), count })
    }
}

/// Refuses a sample rate outside [`MIN_SAMPLE_RATE_HZ`]..=[`MAX_SAMPLE_RATE_HZ`].
fn check_sample_rate(path: &Path, rate_hz: u64) -> Result<(), AudioFileError> {
    if (u64::from(MIN_SAMPLE_RATE_HZ)..=u64::from(MAX_SAMPLE_RATE_HZ)).contains(&rate_hz) {
        Ok(())
    } else {
        Err(AudioFileError::SampleRateOutOfRange { path: path.to_path_buf(), rate_hz })
    }
}

/// The opened file handed to the decoder.
struct StreamSource {
    /// The file, positioned at its start.
    file: File,
    /// Its length in bytes.
    file_len_bytes: u64,
}

/// Text of a caught panic.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_owned()
    };
    one_line(&text)
}

/// Maps an error from symphonia's probe, track set-up or demuxer to this module's error.
fn symphonia_error(path: &Path, error: SymphoniaError) -> AudioFileError {
    let path = path.to_path_buf();
    match error {
        SymphoniaError::IoError(io_error) if io_error.kind() == io::ErrorKind::UnexpectedEof => {
            AudioFileError::TruncatedHeader { path }
        }
        SymphoniaError::IoError(io_error) => AudioFileError::Read { path, io_error },
        SymphoniaError::Unsupported(detail) if detail.contains("no suitable format reader") => {
            AudioFileError::UnsupportedFormat { path }
        }
        SymphoniaError::Unsupported(detail) => {
            AudioFileError::UnsupportedEncoding { path, detail: one_line(detail) }
        }
        SymphoniaError::DecodeError(detail) | SymphoniaError::LimitError(detail) => {
            AudioFileError::Malformed { path, detail: one_line(detail) }
        }
        other => AudioFileError::Malformed { path, detail: one_line(&other.to_string()) },
    }
}

/// Picks the track to decode: the default one if it has a codec, else the first that has.
fn audio_track(format: &dyn FormatReader) -> Option<(u32, CodecParameters)> {
    format
        .default_track()
        .filter(|track| track.codec_params.codec != CODEC_TYPE_NULL)
        .or_else(|| format.tracks().iter().find(|track| track.codec_params.codec != CODEC_TYPE_NULL))
        .map(|track| (track.id, track.codec_params.clone()))
}

/// Makes a decoder for `params`.
fn make_decoder(path: &Path, params: &CodecParameters) -> Result<Box<dyn Decoder>, AudioFileError> {
    symphonia::default::get_codecs().make(params, &DecoderOptions::default()).map_err(|error| match error {
        SymphoniaError::Unsupported(detail) => {
            AudioFileError::UnsupportedEncoding { path: path.to_path_buf(), detail: one_line(detail) }
        }
        other => symphonia_error(path, other),
    })
}

/// Probes, decodes every packet of the audio track, and collects planar `f32`.
fn decode(
    path: &Path,
    source: StreamSource,
    options: &ReadOptions,
    aiff_frames: Option<u64>,
) -> Result<DecodedAudio, AudioFileError> {
    let StreamSource { file, file_len_bytes } = source;
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(extension) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(extension);
    }
    // Gapless: MP3/AAC/Vorbis encoder delay and padding are trimmed, so lengths match the source.
    let format_options = FormatOptions { enable_gapless: true, ..Default::default() };
    let probed = symphonia::default::get_probe()
        .format(&hint, stream, &format_options, &MetadataOptions::default())
        .map_err(|e| symphonia_error(path, e))?;
    let mut format = probed.format;

    let (track_id, params) = audio_track(format.as_ref())
        .ok_or_else(|| AudioFileError::NoAudioTrack { path: path.to_path_buf() })?;
    if let Some(channels) = params.channels {
        check_channel_count(path, channels.count())?;
    }
    if let Some(rate_hz) = params.sample_rate {
        check_sample_rate(path, u64::from(rate_hz))?;
    }
    let mut report = DecodeReport {
        codec: symphonia::default::get_codecs().get_codec(params.codec).map_or("unknown", |d| d.short_name),
        bits_per_sample: params.bits_per_sample,
        stated_frames: params.n_frames,
        skipped_packets: 0,
    };
    let mut decoder = make_decoder(path, &params)?;
    // Reserve for the stated length, but never more frames than the file has bytes: a header can
    // claim anything.
    let reserve_frames = params.n_frames.unwrap_or(0).min(file_len_bytes);
    let mut collector = Collector::new(path, options, reserve_frames);

    let mut bad_packets = BadPackets::default();
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            // Symphonia's end-of-stream signal (also a file cut short inside a packet).
            Err(SymphoniaError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(SymphoniaError::ResetRequired) => {
                // A new logical stream (chained Ogg): restart the decoder; `Collector` refuses a
                // change of channel count or rate.
                let (_, new_params) = audio_track(format.as_ref())
                    .ok_or_else(|| AudioFileError::NoAudioTrack { path: path.to_path_buf() })?;
                decoder = make_decoder(path, &new_params)?;
                continue;
            }
            Err(SymphoniaError::DecodeError(detail)) => {
                bad_packets.note(path, detail, collector.frames())?;
                continue;
            }
            Err(other) => return Err(symphonia_error(path, other)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(decoded) => {
                bad_packets.consecutive = 0;
                collector.append(&decoded)?;
            }
            Err(SymphoniaError::ResetRequired) => {
                decoder = make_decoder(path, &params)?;
            }
            // A damaged packet (bad bits, cut short, unsupported feature): skip it and go on.
            Err(other) => {
                bad_packets.note(path, &other.to_string(), collector.frames())?;
            }
        }
    }

    report.skipped_packets = bad_packets.total;
    let mut buffer = match collector.finish() {
        Some(buffer) => buffer,
        None => {
            return Err(AudioFileError::NoAudioFrames {
                path: path.to_path_buf(),
                skipped_packets: bad_packets.total,
                last_error: bad_packets.last_error,
            })
        }
    };
    // Symphonia 0.5 counts the SSND chunk's 8-byte offset/block-size prefix in the sound data, so
    // it reads 8 bytes past the chunk when another chunk follows; COMM states the true length.
    if let Some(stated) = aiff_frames.filter(|&frames| frames > 0) {
        let stated = usize::try_from(stated).unwrap_or(usize::MAX);
        for channel in &mut buffer.channels {
            channel.truncate(stated);
        }
    }
    Ok(DecodedAudio { buffer, report })
}

/// Counts packets that failed to demux or decode.
#[derive(Default)]
struct BadPackets {
    /// All failures so far.
    total: usize,
    /// Failures since the last decoded packet.
    consecutive: u32,
    /// The last failure's message.
    last_error: Option<String>,
}

impl BadPackets {
    /// Records a failure; gives up after [`MAX_CONSECUTIVE_BAD_PACKETS`] in a row.
    fn note(&mut self, path: &Path, error: &str, decoded_frames: usize) -> Result<(), AudioFileError> {
        self.total += 1;
        self.consecutive += 1;
        self.last_error = Some(one_line(error));
        if self.consecutive >= MAX_CONSECUTIVE_BAD_PACKETS {
            Err(AudioFileError::TooManyBadPackets {
                path: path.to_path_buf(),
                count: self.consecutive,
                decoded_frames,
            })
        } else {
            Ok(())
        }
    }
}

/// Accumulates decoded packets into planar `f32`, enforcing the limits and a constant format.
struct Collector<'a> {
    /// The file, for errors.
    path: &'a Path,
    /// The limits.
    options: &'a ReadOptions,
    /// Frames to reserve once the format is known (already capped by the file size).
    reserve_frames: u64,
    /// Sample rate of the first decoded packet in Hz (0 until then).
    sample_rate_hz: u32,
    /// Most frames accepted (set with the first packet).
    max_frames: usize,
    /// Decoded samples, one vector per channel (empty until the first packet).
    channels: Vec<Vec<f32>>,
}

impl<'a> Collector<'a> {
    /// An empty collector.
    fn new(path: &'a Path, options: &'a ReadOptions, reserve_frames: u64) -> Self {
        Self { path, options, reserve_frames, sample_rate_hz: 0, max_frames: 0, channels: Vec::new() }
    }

    /// Frames collected so far.
    fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Appends one decoded packet, converting to `f32` with symphonia's exact scaling.
    fn append(&mut self, decoded: &AudioBufferRef<'_>) -> Result<(), AudioFileError> {
        if decoded.frames() == 0 {
            return Ok(());
        }
        let spec = decoded.spec();
        let channel_count = spec.channels.count();
        if self.channels.is_empty() {
            self.start(channel_count, spec.rate)?;
        } else if channel_count != self.channels.len() || spec.rate != self.sample_rate_hz {
            return Err(AudioFileError::FormatChanged {
                path: self.path.to_path_buf(),
                detail: format!(
                    "from {} channels at {} Hz to {} channels at {} Hz",
                    self.channels.len(),
                    self.sample_rate_hz,
                    channel_count,
                    spec.rate
                ),
            });
        }
        if self.frames() + decoded.frames() > self.max_frames {
            return Err(AudioFileError::TooLong {
                path: self.path.to_path_buf(),
                max_frames: self.max_frames,
                sample_rate_hz: self.sample_rate_hz,
            });
        }
        match decoded {
            AudioBufferRef::U8(b) => append_planes(b, &mut self.channels),
            AudioBufferRef::U16(b) => append_planes(b, &mut self.channels),
            AudioBufferRef::U24(b) => append_planes(b, &mut self.channels),
            AudioBufferRef::U32(b) => append_planes(b, &mut self.channels),
            AudioBufferRef::S8(b) => append_planes(b, &mut self.channels),
            AudioBufferRef::S16(b) => append_planes(b, &mut self.channels),
            AudioBufferRef::S24(b) => append_planes(b, &mut self.channels),
            AudioBufferRef::S32(b) => append_planes(b, &mut self.channels),
            AudioBufferRef::F32(b) => append_planes(b, &mut self.channels),
            AudioBufferRef::F64(b) => append_planes(b, &mut self.channels),
        }
        Ok(())
    }

    /// Checks the first packet's format, sets the limit and reserves memory.
    fn start(&mut self, channel_count: usize, sample_rate_hz: u32) -> Result<(), AudioFileError> {
        check_channel_count(self.path, channel_count)?;
        check_sample_rate(self.path, u64::from(sample_rate_hz))?;
        let max_frames = max_frames(self.options, sample_rate_hz, channel_count);
        self.max_frames = usize::try_from(max_frames).unwrap_or(usize::MAX);
        self.sample_rate_hz = sample_rate_hz;
        let reserve = usize::try_from(self.reserve_frames.min(max_frames)).unwrap_or(0);
        self.channels = (0..channel_count).map(|_| Vec::with_capacity(reserve)).collect();
        Ok(())
    }

    /// The collected audio, or `None` if nothing was decoded.
    fn finish(mut self) -> Option<AudioBuffer> {
        if self.frames() == 0 {
            return None;
        }
        for channel in &mut self.channels {
            // Give back an over-reservation (a header that claimed more than the file holds).
            if channel.capacity() - channel.len() > channel.len() / 8 {
                channel.shrink_to_fit();
            }
        }
        Some(AudioBuffer { sample_rate_hz: self.sample_rate_hz, channels: self.channels })
    }
}

/// Appends each plane of a symphonia buffer to the matching output channel. The channel counts
/// were checked equal by the caller.
fn append_planes<S>(source: &SymphoniaBuffer<S>, channels: &mut [Vec<f32>])
where
    S: Sample,
    f32: FromSample<S>,
{
    for (index, channel) in channels.iter_mut().enumerate() {
        channel.extend(source.chan(index).iter().map(|&sample| f32::from_sample(sample)));
    }
}

#[cfg(feature = "cli")]
mod write;
#[cfg(feature = "cli")]
pub use write::{write_audio_file, write_flac, write_wav};

#[cfg(all(test, feature = "cli"))]
mod tests {
    use std::io::Write;

    use super::write::write_atomically;
    use super::*;
    use crate::test_files::TempDir;

    /// Small deterministic PRNG (xorshift64*), so garbage inputs are reproducible.
    struct Rng(u64);

    impl Rng {
        fn new(seed: u64) -> Self {
            Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }

        fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| (self.next_u64() >> 56) as u8).collect()
        }

        /// Uniform integer in `lo..=hi`.
        fn int(&mut self, lo: i32, hi: i32) -> i32 {
            let span = (i64::from(hi) - i64::from(lo) + 1) as u64;
            (i64::from(lo) + (self.next_u64() % span) as i64) as i32
        }
    }

    /// Random integer samples of `bits` bits, including both extremes, as planar `f32`.
    fn pcm_buffer(seed: u64, channel_count: usize, frames: usize, bits: u32, rate_hz: u32) -> AudioBuffer {
        let mut rng = Rng::new(seed);
        let max = (1_i32 << (bits - 1)) - 1;
        let full_scale = (1_i64 << (bits - 1)) as f32;
        let channels = (0..channel_count)
            .map(|_| {
                (0..frames)
                    .map(|i| match i {
                        0 => max as f32 / full_scale,
                        1 => -1.0,
                        _ => rng.int(-max - 1, max) as f32 / full_scale,
                    })
                    .collect()
            })
            .collect();
        AudioBuffer { sample_rate_hz: rate_hz, channels }
    }

    /// A canonical 44-byte WAV header (PCM format tag unless given) with the stated fields.
    fn wav_header(format_tag: u16, channels: u16, rate_hz: u32, bits: u16, data_len: u32) -> Vec<u8> {
        let block_align = channels.wrapping_mul(bits / 8);
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&36_u32.wrapping_add(data_len).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16_u32.to_le_bytes());
        out.extend_from_slice(&format_tag.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate_hz.to_le_bytes());
        out.extend_from_slice(&rate_hz.wrapping_mul(u32::from(block_align)).to_le_bytes());
        out.extend_from_slice(&block_align.to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        out
    }

    /// A 16-bit AIFF file built by hand: FORM/AIFF with COMM and SSND chunks, big-endian, plus an
    /// optional chunk after SSND.
    fn aiff_file(rate_hz: u16, frames: &[Vec<i16>], trailing_chunk: bool) -> Vec<u8> {
        let channel_count = frames[0].len();
        let mut comm = Vec::new();
        comm.extend_from_slice(&(channel_count as i16).to_be_bytes());
        comm.extend_from_slice(&(frames.len() as u32).to_be_bytes());
        comm.extend_from_slice(&16_i16.to_be_bytes());
        // 80-bit extended: the rate's top bit at 2^15 of a 64-bit mantissa, exponent 16383 + k.
        let rate = u64::from(rate_hz);
        let shift = rate.leading_zeros();
        comm.extend_from_slice(&(16_383_u16 + 63 - shift as u16).to_be_bytes());
        comm.extend_from_slice(&(rate << shift).to_be_bytes());
        let mut ssnd = vec![0_u8; 8]; // offset 0, block size 0
        for frame in frames {
            for &sample in frame {
                ssnd.extend_from_slice(&sample.to_be_bytes());
            }
        }
        let mut body = b"AIFF".to_vec();
        for (id, chunk) in [(b"COMM", &comm), (b"SSND", &ssnd)] {
            body.extend_from_slice(id);
            body.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
            body.extend_from_slice(chunk);
        }
        if trailing_chunk {
            body.extend_from_slice(b"ANNO");
            body.extend_from_slice(&8_u32.to_be_bytes());
            body.extend_from_slice(&[0x7F; 8]);
        }
        let mut out = b"FORM".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Asserts the error's message is one line that starts with the path.
    fn assert_one_line(error: &AudioFileError, path: &Path) {
        let text = error.to_string();
        assert!(!text.contains('\n') && !text.contains('\r'), "multi-line: {text:?}");
        assert!(text.starts_with(&format!("{}: ", path.display())), "{text}");
        assert_eq!(error.path(), path);
    }

    fn read_err(path: &Path) -> AudioFileError {
        let error = read_audio_file(path).expect_err("expected an error");
        assert_one_line(&error, path);
        error
    }

    #[test]
    fn errors_are_send_sync_static() {
        fn check<T: Send + Sync + 'static>() {}
        check::<AudioFileError>();
        check::<AudioBuffer>();
        check::<DecodedAudio>();
    }

    #[test]
    fn buffer_accessors() {
        let buffer = AudioBuffer { sample_rate_hz: 48_000, channels: vec![vec![0.0; 24_000]; 2] };
        assert_eq!(buffer.frames(), 24_000);
        assert_eq!(buffer.channel_count(), 2);
        assert_eq!(buffer.duration_s(), 0.5);
        let empty = AudioBuffer::default();
        assert_eq!((empty.frames(), empty.channel_count(), empty.duration_s()), (0, 0, 0.0));
    }

    #[test]
    fn wav_round_trips_are_bit_exact() {
        let dir = TempDir::new("wav-round-trip");
        for (format, bits) in [(SampleFormat::Int16, 16), (SampleFormat::Int24, 24)] {
            for (channels, rate) in [(1, 44_100), (2, 48_000), (3, 96_000), (8, 44_100)] {
                let buffer = pcm_buffer(u64::from(bits) * 10 + channels as u64, channels, 5_000, bits, rate);
                let path = dir.path(&format!("{bits}-{channels}.wav"));
                write_wav(&path, &buffer, format).unwrap();
                let decoded = read_audio_file_with(&path, &ReadOptions::default()).unwrap();
                assert_eq!(decoded.buffer, buffer, "{format:?} {channels} ch");
                assert_eq!(decoded.report.bits_per_sample, Some(bits));
                assert_eq!(decoded.report.skipped_packets, 0);
            }
        }
        // Float32 keeps any value, overs included.
        let mut rng = Rng::new(7);
        let channels: Vec<Vec<f32>> = (0..2)
            .map(|_| (0..3_000).map(|_| (rng.next_u64() as i64 as f64 / 2e18) as f32).collect())
            .collect();
        assert!(channels[0].iter().any(|s| s.abs() > 1.0));
        let buffer = AudioBuffer { sample_rate_hz: 44_100, channels };
        let path = dir.path("float.wav");
        write_wav(&path, &buffer, SampleFormat::Float32).unwrap();
        let read = read_audio_file(&path).unwrap();
        let bits =
            |b: &AudioBuffer| -> Vec<u32> { b.channels.iter().flatten().map(|s| s.to_bits()).collect() };
        assert_eq!(bits(&read), bits(&buffer));
    }

    #[test]
    fn flac_round_trips_are_bit_exact() {
        let dir = TempDir::new("flac-round-trip");
        for bits in [16, 24] {
            for (channels, rate) in [(1, 44_100), (2, 48_000), (3, 88_200), (8, 96_000)] {
                // More than one 4096-frame block, with a partial last block.
                let buffer = pcm_buffer(u64::from(bits) + channels as u64, channels, 10_000, bits, rate);
                let path = dir.path(&format!("{bits}-{channels}.flac"));
                write_flac(&path, &buffer, bits).unwrap();
                let decoded = read_audio_file_with(&path, &ReadOptions::default()).unwrap();
                assert_eq!(decoded.buffer, buffer, "{bits} bits {channels} ch");
                assert_eq!(decoded.report.codec, "flac");
                assert_eq!(decoded.report.stated_frames, Some(10_000));
            }
        }
    }

    #[test]
    fn integer_pcm_decodes_with_exact_scaling() {
        // Written by hound directly, independently of `write_wav`.
        let dir = TempDir::new("scaling");
        let samples_16: Vec<i16> = vec![0, 1, -1, 12_345, -12_345, i16::MAX, i16::MIN];
        let path = dir.path("16.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::create(&path, spec).unwrap();
        samples_16.iter().for_each(|&s| writer.write_sample(s).unwrap());
        writer.finalize().unwrap();
        let expected: Vec<f32> = samples_16.iter().map(|&s| f32::from(s) / 32_768.0).collect();
        assert_eq!(read_audio_file(&path).unwrap().channels, vec![expected]);

        let samples_24: Vec<i32> = vec![0, 1, -1, 4_660_021, -4_660_021, 8_388_607, -8_388_608];
        let path = dir.path("24.wav");
        let mut writer =
            hound::WavWriter::create(&path, hound::WavSpec { bits_per_sample: 24, ..spec }).unwrap();
        samples_24.iter().for_each(|&s| writer.write_sample(s).unwrap());
        writer.finalize().unwrap();
        let expected: Vec<f32> = samples_24.iter().map(|&s| s as f32 / 8_388_608.0).collect();
        assert_eq!(read_audio_file(&path).unwrap().channels, vec![expected]);
    }

    /// Writes `samples` (interleaved) with hound.
    fn hound_wav<S: hound::Sample + Copy>(path: &Path, spec: hound::WavSpec, samples: &[S]) {
        let mut writer = hound::WavWriter::create(path, spec).unwrap();
        samples.iter().for_each(|&s| writer.write_sample(s).unwrap());
        writer.finalize().unwrap();
    }

    #[test]
    fn direct_wav_path_matches_symphonia() {
        let dir = TempDir::new("direct-wav");
        let mut rng = Rng::new(77);
        let int = hound::SampleFormat::Int;
        for channels in [1_u16, 2, 3, 8] {
            let spec = |bits, sample_format| hound::WavSpec {
                channels,
                sample_rate: 48_000,
                bits_per_sample: bits,
                sample_format,
            };
            let n = 3_000 * usize::from(channels);
            let cases: [(&str, u16, hound::SampleFormat, &str); 4] = [
                ("i16", 16, int, "pcm_s16le"),
                ("i24", 24, int, "pcm_s24le"),
                ("i32", 32, int, "pcm_s32le"),
                ("f32", 32, hound::SampleFormat::Float, "pcm_f32le"),
            ];
            for (name, bits, format, codec) in cases {
                let path = dir.path(&format!("{name}-{channels}.wav"));
                match (bits, format) {
                    (32, hound::SampleFormat::Float) => {
                        let samples: Vec<f32> =
                            (0..n).map(|_| f32::from_bits(rng.next_u64() as u32 & 0xBFFF_FFFF)).collect();
                        hound_wav(&path, spec(32, format), &samples);
                    }
                    _ => {
                        let max = ((1_i64 << (bits - 1)) - 1) as i32;
                        let samples: Vec<i32> = (0..n).map(|_| rng.int(-max - 1, max)).collect();
                        if bits == 16 {
                            let samples: Vec<i16> = samples.iter().map(|&s| s as i16).collect();
                            hound_wav(&path, spec(16, format), &samples);
                        } else {
                            hound_wav(&path, spec(bits, format), &samples);
                        }
                    }
                }
                let mut file = File::open(&path).unwrap();
                let len = file.metadata().unwrap().len();
                let layout = scan_riff_header(&mut file, len).unwrap().unwrap().wav_pcm.expect("direct path");
                assert_eq!(layout.encoding.codec_name(), codec);
                let bytes = fs::read(&path).unwrap();
                // Whole, and cut mid-frame.
                let cut = dir.write(&format!("{name}-{channels}-cut.wav"), &bytes[..bytes.len() * 2 / 3 + 1]);
                for file in [&path, &cut] {
                    let direct = read_with(file, &ReadOptions::default(), true).unwrap();
                    let symphonia = read_with(file, &ReadOptions::default(), false).unwrap();
                    assert_eq!(direct.report, symphonia.report, "{}", file.display());
                    assert_eq!(direct.buffer.sample_rate_hz, 48_000);
                    assert_eq!(direct.buffer.channel_count(), usize::from(channels));
                    let bits_of = |b: &AudioBuffer| -> Vec<u32> {
                        b.channels.iter().flatten().map(|s| s.to_bits()).collect()
                    };
                    assert_eq!(bits_of(&direct.buffer), bits_of(&symphonia.buffer), "{}", file.display());
                }
            }
        }
    }

    #[test]
    fn other_wav_encodings_go_through_symphonia() {
        let dir = TempDir::new("other-wav");
        // 8-bit (unsigned on disk): s / 128.
        let path = dir.path("8.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8_000,
            bits_per_sample: 8,
            sample_format: hound::SampleFormat::Int,
        };
        let samples: Vec<i8> = vec![0, 1, -1, 127, -128];
        hound_wav(&path, spec, &samples);
        let expected: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 128.0).collect();
        assert_eq!(read_audio_file(&path).unwrap().channels, vec![expected]);
        // 20 valid bits in 24-bit containers (WAVE_FORMAT_EXTENSIBLE, built by hand): s / 2^19.
        let samples: Vec<i32> = vec![0, 1, -1, 524_287, -524_288, 12_345];
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&0xFFFE_u16.to_le_bytes());
        fmt.extend_from_slice(&2_u16.to_le_bytes());
        fmt.extend_from_slice(&44_100_u32.to_le_bytes());
        fmt.extend_from_slice(&(44_100_u32 * 6).to_le_bytes());
        fmt.extend_from_slice(&6_u16.to_le_bytes()); // block align
        fmt.extend_from_slice(&24_u16.to_le_bytes()); // container bits
        fmt.extend_from_slice(&22_u16.to_le_bytes()); // extension size
        fmt.extend_from_slice(&20_u16.to_le_bytes()); // valid bits
        fmt.extend_from_slice(&3_u32.to_le_bytes()); // channel mask: FL | FR
        fmt.extend_from_slice(&1_u16.to_le_bytes()); // PCM sub-format
        fmt.extend_from_slice(&KSDATAFORMAT_GUID_TAIL);
        let data: Vec<u8> = samples.iter().flat_map(|&s| (s << 4).to_le_bytes()[..3].to_vec()).collect();
        let mut bytes = b"RIFF".to_vec();
        bytes.extend_from_slice(&(4 + 8 + fmt.len() as u32 + 8 + data.len() as u32).to_le_bytes());
        bytes.extend_from_slice(b"WAVEfmt ");
        bytes.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&fmt);
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&(data.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&data);
        let path = dir.write("20.wav", &bytes);
        let mut file = File::open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        assert_eq!(scan_riff_header(&mut file, len).unwrap().unwrap().wav_pcm, None);
        let read = read_audio_file(&path).unwrap();
        let expected: Vec<f32> = samples.iter().map(|&s| s as f32 / 524_288.0).collect();
        assert_eq!(read.channels[0], [expected[0], expected[2], expected[4]]);
        assert_eq!(read.channels[1], [expected[1], expected[3], expected[5]]);
    }

    #[test]
    fn writers_round_clamp_and_zero_nan() {
        let dir = TempDir::new("quantize");
        let lsb16 = 1.0 / 32_768.0;
        let input = vec![
            1.0,
            -1.0,
            2.0,
            -2.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.5 * lsb16,
            -0.5 * lsb16,
            0.49 * lsb16,
            1.5 * lsb16,
        ];
        let buffer = AudioBuffer { sample_rate_hz: 48_000, channels: vec![input] };
        let path = dir.path("q16.wav");
        write_wav(&path, &buffer, SampleFormat::Int16).unwrap();
        let raw: Vec<i16> =
            hound::WavReader::open(&path).unwrap().samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(raw, [32_767, -32_768, 32_767, -32_768, 0, 32_767, -32_768, 1, -1, 0, 2]);

        let path = dir.path("q24.wav");
        write_wav(&path, &buffer, SampleFormat::Int24).unwrap();
        let raw: Vec<i32> =
            hound::WavReader::open(&path).unwrap().samples::<i32>().map(Result::unwrap).collect();
        assert_eq!(&raw[..7], [8_388_607, -8_388_608, 8_388_607, -8_388_608, 0, 8_388_607, -8_388_608]);
        assert_eq!(&raw[7..], [128, -128, 125, 384]);

        // FLAC quantizes the same way.
        let path = dir.path("q16.flac");
        write_flac(&path, &buffer, 16).unwrap();
        let read: Vec<i32> =
            read_audio_file(&path).unwrap().channels[0].iter().map(|&s| (s * 32_768.0) as i32).collect();
        assert_eq!(read, [32_767, -32_768, 32_767, -32_768, 0, 32_767, -32_768, 1, -1, 0, 2]);
    }

    #[test]
    fn write_audio_file_chooses_by_extension() {
        let dir = TempDir::new("dispatch");
        let buffer = pcm_buffer(3, 2, 1_000, 16, 44_100);
        for name in ["a.wav", "b.WAV", "c.flac", "d.Flac"] {
            let path = dir.path(name);
            write_audio_file(&path, &buffer, SampleFormat::Int16).unwrap();
            assert_eq!(read_audio_file(&path).unwrap(), buffer, "{name}");
        }
        let path = dir.path("e.flac");
        write_audio_file(&path, &buffer, SampleFormat::Int24).unwrap();
        let decoded = read_audio_file_with(&path, &ReadOptions::default()).unwrap();
        assert_eq!((decoded.report.bits_per_sample, decoded.buffer), (Some(24), buffer.clone()));

        for (name, format) in
            [("f.flac", SampleFormat::Float32), ("g.mp3", SampleFormat::Int16), ("h", SampleFormat::Int16)]
        {
            let path = dir.path(name);
            let error = write_audio_file(&path, &buffer, format).unwrap_err();
            assert_one_line(&error, &path);
            assert!(!path.exists());
        }
        let path = dir.path("f.flac");
        assert_eq!(
            write_audio_file(&path, &buffer, SampleFormat::Float32).unwrap_err().to_string(),
            format!("{}: FLAC cannot store 32-bit float samples (use 16 or 24 bits)", path.display())
        );
        assert_eq!(dir.entries(), ["a.wav", "b.WAV", "c.flac", "d.Flac", "e.flac"]);
    }

    #[test]
    fn writers_refuse_invalid_buffers() {
        let dir = TempDir::new("refuse");
        let path = dir.path("out.wav");
        let flac = dir.path("out.flac");
        let cases = [
            AudioBuffer { sample_rate_hz: 44_100, channels: vec![] },
            AudioBuffer { sample_rate_hz: 44_100, channels: vec![vec![0.0; 10], vec![0.0; 9]] },
            AudioBuffer { sample_rate_hz: 44_100, channels: vec![vec![0.0; 10]; 9] },
            AudioBuffer { sample_rate_hz: 0, channels: vec![vec![0.0; 10]] },
            AudioBuffer { sample_rate_hz: 2_000_000, channels: vec![vec![0.0; 10]] },
        ];
        for buffer in &cases {
            for format in [SampleFormat::Int16, SampleFormat::Int24, SampleFormat::Float32] {
                assert_one_line(&write_wav(&path, buffer, format).unwrap_err(), &path);
            }
            assert_one_line(&write_flac(&flac, buffer, 16).unwrap_err(), &flac);
        }
        assert!(matches!(
            write_wav(&path, &cases[1], SampleFormat::Int16),
            Err(AudioFileError::UnequalChannelLengths { channel: 1, frames: 9, expected_frames: 10, .. })
        ));
        assert!(matches!(
            write_wav(&path, &cases[0], SampleFormat::Int16),
            Err(AudioFileError::NoChannels { .. })
        ));
        let ok = pcm_buffer(1, 1, 10, 16, 44_100);
        assert!(matches!(
            write_flac(&flac, &ok, 20),
            Err(AudioFileError::FlacBitDepth { bits_per_sample: 20, .. })
        ));
        let fast = AudioBuffer { sample_rate_hz: 192_000, ..ok.clone() };
        assert!(matches!(write_flac(&flac, &fast, 24), Err(AudioFileError::FlacSampleRate { .. })));
        // A directory as the target.
        let sub = dir.path("sub.wav");
        fs::create_dir(&sub).unwrap();
        assert!(matches!(write_wav(&sub, &ok, SampleFormat::Int16), Err(AudioFileError::IsDirectory { .. })));
        // A missing folder.
        let missing = dir.path("no/such/folder/out.wav");
        assert!(matches!(write_wav(&missing, &ok, SampleFormat::Int16), Err(AudioFileError::Write { .. })));
        assert_eq!(dir.entries(), ["sub.wav"]);
    }

    #[test]
    fn failed_write_leaves_no_file_and_keeps_the_old_one() {
        let dir = TempDir::new("atomic");
        let path = dir.path("master.wav");
        let old = pcm_buffer(1, 2, 100, 16, 44_100);
        write_wav(&path, &old, SampleFormat::Int16).unwrap();
        let result = write_atomically(&path, |mut file| {
            file.write_all(b"half a file").unwrap();
            Err(AudioFileError::Encode { path: path.clone(), format: "WAV", detail: "simulated".to_owned() })
        });
        assert!(result.is_err());
        assert_eq!(dir.entries(), ["master.wav"]);
        assert_eq!(read_audio_file(&path).unwrap(), old);
        // A successful rewrite replaces it.
        let new = pcm_buffer(2, 1, 50, 16, 48_000);
        write_wav(&path, &new, SampleFormat::Int16).unwrap();
        assert_eq!(read_audio_file(&path).unwrap(), new);
        assert_eq!(dir.entries(), ["master.wav"]);
        // Relative paths without a folder also work.
        assert!(matches!(write_atomically(Path::new(""), |_| Ok(())), Err(AudioFileError::Write { .. })));
    }

    #[test]
    fn zero_frame_buffers_write_but_do_not_read() {
        let dir = TempDir::new("zero-frames");
        let empty = AudioBuffer { sample_rate_hz: 44_100, channels: vec![vec![], vec![]] };
        let path = dir.path("empty.wav");
        write_wav(&path, &empty, SampleFormat::Int16).unwrap();
        assert!(matches!(read_err(&path), AudioFileError::NoAudioFrames { .. }));
        assert_eq!(read_err(&path).to_string(), format!("{}: no audio frames", path.display()));
        let path = dir.path("empty.flac");
        if write_flac(&path, &empty, 16).is_ok() {
            read_err(&path);
        }
    }

    #[test]
    fn file_system_errors_name_the_path() {
        let dir = TempDir::new("fs-errors");
        let missing = dir.path("song.wav");
        assert_eq!(read_err(&missing).to_string(), format!("{}: no such file", missing.display()));
        let folder = dir.path("x");
        fs::create_dir(&folder).unwrap();
        let folder = PathBuf::from(format!("{}/", folder.display()));
        assert_eq!(
            read_err(&folder).to_string(),
            format!("{}: is a directory, not an audio file", folder.display())
        );
        let empty = dir.write("empty.wav", b"");
        assert_eq!(read_err(&empty).to_string(), format!("{}: empty file", empty.display()));
        let text = dir.write("bad.xyz", b"this is not audio at all, just some text\n");
        assert_eq!(
            read_err(&text).to_string(),
            format!("{}: unsupported or unrecognised format", text.display())
        );
    }

    #[test]
    fn header_claims_are_checked() {
        let dir = TempDir::new("headers");
        let pcm = vec![0_u8; 4_000];
        let file = |name: &str, header: Vec<u8>| {
            let mut bytes = header;
            bytes.extend_from_slice(&pcm);
            dir.write(name, &bytes)
        };
        let zero_rate = file("zero-rate.wav", wav_header(1, 2, 0, 16, 4_000));
        assert_eq!(
            read_err(&zero_rate).to_string(),
            format!("{}: sample rate 0 Hz is outside 1 kHz..1536 kHz", zero_rate.display())
        );
        let huge_rate = file("huge-rate.wav", wav_header(1, 2, 4_000_000_000, 16, 4_000));
        assert!(matches!(
            read_err(&huge_rate),
            AudioFileError::SampleRateOutOfRange { rate_hz: 4_000_000_000, .. }
        ));
        let slow = file("slow.wav", wav_header(1, 1, 999, 16, 4_000));
        assert!(matches!(read_err(&slow), AudioFileError::SampleRateOutOfRange { rate_hz: 999, .. }));
        let many = file("many.wav", wav_header(1, 65_535, 44_100, 16, 4_000));
        assert!(matches!(read_err(&many), AudioFileError::ChannelCount { count: 65_535, .. }));
        let nine = file("nine.wav", wav_header(1, 9, 44_100, 16, 4_000));
        assert!(matches!(read_err(&nine), AudioFileError::ChannelCount { count: 9, .. }));
        let none = file("none.wav", wav_header(1, 0, 44_100, 16, 4_000));
        assert!(matches!(read_err(&none), AudioFileError::ChannelCount { count: 0, .. }));
        let mut zero_align = wav_header(1, 2, 44_100, 16, 4_000);
        zero_align[32] = 0;
        zero_align[33] = 0;
        let zero_align = file("zero-align.wav", zero_align);
        assert!(matches!(read_err(&zero_align), AudioFileError::Malformed { .. }));
        let adpcm = file("adpcm.wav", wav_header(0x55, 2, 44_100, 16, 4_000));
        assert!(matches!(read_err(&adpcm), AudioFileError::UnsupportedEncoding { .. }));
        let header_only = dir.write("header-only.wav", &wav_header(1, 2, 44_100, 16, 0));
        assert!(matches!(read_err(&header_only), AudioFileError::NoAudioFrames { .. }));
        let cut_header = dir.write("cut-header.wav", &wav_header(1, 2, 44_100, 16, 0)[..30]);
        read_err(&cut_header);
    }

    #[test]
    fn huge_data_size_decodes_what_is_present_or_fails_cleanly() {
        let dir = TempDir::new("huge-data");
        let pcm: Vec<u8> = (0..4_000_u32).flat_map(|i| (i as i16).to_le_bytes()).collect();
        // The data chunk claims 4 GiB inside a normal RIFF size.
        let mut bytes = wav_header(1, 2, 44_100, 16, 0xFFFF_FFFF);
        bytes[4..8].copy_from_slice(&(36 + pcm.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&pcm);
        let path = dir.write("huge-data.wav", &bytes);
        assert_eq!(read_audio_file(&path).unwrap().frames(), 2_000);
        // (Symphonia alone refuses the chunk with a clear error.)
        let error = read_with(&path, &ReadOptions::default(), false).unwrap_err();
        assert!(matches!(error, AudioFileError::Malformed { .. }), "{error}");
        assert_one_line(&error, &path);
        // Both sizes 0xFFFFFFFF (streamed WAV, as ffmpeg writes to a pipe): decode what is there.
        let mut bytes = wav_header(1, 2, 44_100, 16, 0xFFFF_FFFF);
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&pcm);
        let path = dir.write("streamed.wav", &bytes);
        let decoded = read_audio_file_with(&path, &ReadOptions::default()).unwrap();
        assert_eq!(decoded.buffer.frames(), 2_000);
        assert_eq!(decoded.buffer.channels[1][5], 11.0 / 32_768.0);
        assert!(decoded.report.stated_frames.unwrap() > 1_000_000_000);
        assert!(decoded.buffer.channels[0].capacity() < 10_000);
    }

    #[test]
    fn truncated_wav_decodes_what_is_present() {
        let dir = TempDir::new("trunc-wav");
        let buffer = pcm_buffer(11, 2, 10_000, 16, 44_100);
        let path = dir.path("full.wav");
        write_wav(&path, &buffer, SampleFormat::Int16).unwrap();
        let bytes = fs::read(&path).unwrap();
        // 1234 whole frames and half of the next.
        let cut = dir.write("trunc.wav", &bytes[..44 + 1_234 * 4 + 3]);
        let decoded = read_audio_file_with(&cut, &ReadOptions::default()).unwrap();
        assert_eq!(decoded.buffer.frames(), 1_234);
        assert_eq!(decoded.report.stated_frames, Some(10_000));
        for (read, full) in decoded.buffer.channels.iter().zip(&buffer.channels) {
            assert_eq!(read[..], full[..1_234]);
        }
    }

    #[test]
    fn truncated_flac_decodes_a_prefix() {
        let dir = TempDir::new("trunc-flac");
        let buffer = pcm_buffer(12, 2, 44_100, 16, 44_100);
        let path = dir.path("full.flac");
        write_flac(&path, &buffer, 16).unwrap();
        let bytes = fs::read(&path).unwrap();
        let cut = dir.write("trunc.flac", &bytes[..bytes.len() * 6 / 10]);
        let decoded = read_audio_file_with(&cut, &ReadOptions::default()).unwrap();
        let frames = decoded.buffer.frames();
        assert!(frames > 0 && frames < 44_100, "{frames}");
        for (read, full) in decoded.buffer.channels.iter().zip(&buffer.channels) {
            assert_eq!(read[..], full[..frames]);
        }
        // Cut inside the STREAMINFO block.
        let cut = dir.write("cut-header.flac", &bytes[..20]);
        read_err(&cut);
    }

    #[test]
    fn read_limits_stop_long_files() {
        let dir = TempDir::new("limits");
        let buffer = pcm_buffer(5, 2, 48_000, 16, 48_000);
        let path = dir.path("one-second.wav");
        write_wav(&path, &buffer, SampleFormat::Int16).unwrap();
        let short = ReadOptions { max_duration_s: 0.5, ..ReadOptions::default() };
        let error = read_audio_file_with(&path, &short).unwrap_err();
        assert!(matches!(error, AudioFileError::TooLong { max_frames: 24_000, .. }), "{error}");
        assert_one_line(&error, &path);
        let few = ReadOptions { max_total_samples: 50_000, ..ReadOptions::default() };
        assert!(matches!(
            read_audio_file_with(&path, &few),
            Err(AudioFileError::TooLong { max_frames: 25_000, .. })
        ));
        let enough = ReadOptions { max_duration_s: 1.0, max_total_samples: 96_000 };
        assert_eq!(read_audio_file_with(&path, &enough).unwrap().buffer, buffer);
        // The same limits on the symphonia path.
        let path = dir.path("one-second.flac");
        write_flac(&path, &buffer, 16).unwrap();
        let error = read_audio_file_with(&path, &short).unwrap_err();
        assert!(matches!(error, AudioFileError::TooLong { max_frames: 24_000, .. }), "{error}");
        assert_eq!(read_audio_file_with(&path, &enough).unwrap().buffer, buffer);
    }

    #[test]
    fn aiff_is_decoded() {
        let dir = TempDir::new("aiff");
        let mut rng = Rng::new(21);
        for (rate, channels) in [(44_100_u16, 1_usize), (48_000, 2)] {
            let frames: Vec<Vec<i16>> = (0..1_000)
                .map(|_| (0..channels).map(|_| rng.int(-32_768, 32_767) as i16).collect())
                .collect();
            for trailing in [false, true] {
                let path = dir.write(
                    &format!("{rate}-{channels}-{trailing}.aiff"),
                    &aiff_file(rate, &frames, trailing),
                );
                let buffer = read_audio_file(&path).unwrap();
                assert_eq!(buffer.sample_rate_hz, u32::from(rate));
                assert_eq!(buffer.channel_count(), channels);
                assert_eq!(buffer.frames(), 1_000, "trailing chunk: {trailing}");
                for (c, channel) in buffer.channels.iter().enumerate() {
                    let expected: Vec<f32> = frames.iter().map(|f| f32::from(f[c]) / 32_768.0).collect();
                    assert_eq!(*channel, expected);
                }
            }
        }
        // A 0 Hz AIFF (symphonia 0.5 would panic in `TimeBase::new`).
        let mut bytes = aiff_file(44_100, &vec![vec![0_i16]; 10], false);
        bytes[20 + 8..20 + 18].fill(0);
        let path = dir.write("zero-rate.aiff", &bytes);
        assert!(matches!(read_err(&path), AudioFileError::SampleRateOutOfRange { rate_hz: 0, .. }));
    }

    #[test]
    fn extended_float_conversion() {
        let encode = |rate: u64| {
            let shift = rate.leading_zeros();
            let mut bytes = [0_u8; 10];
            bytes[..2].copy_from_slice(&(16_383_u16 + 63 - shift as u16).to_be_bytes());
            bytes[2..].copy_from_slice(&(rate << shift).to_be_bytes());
            bytes
        };
        for rate in [1_u64, 8_000, 44_100, 48_000, 192_000, 4_000_000_000] {
            assert_eq!(extended_to_f64(encode(rate)), rate as f64);
        }
        assert_eq!(extended_to_f64([0; 10]), 0.0);
        assert!(extended_to_f64([0x7F, 0xFF, 0, 0, 0, 0, 0, 0, 0, 1]).is_nan());
        assert_eq!(extended_to_f64([0x7F, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]), f64::INFINITY);
        assert!(extended_to_f64([0xC0, 0x0E, 0xAC, 0x44, 0, 0, 0, 0, 0, 0]) < 0.0);
    }

    /// An MP4 atom: 32-bit size, type, body.
    fn mp4_atom(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = (8 + body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn mp4_tables_larger_than_their_atoms_are_refused() {
        let dir = TempDir::new("mp4");
        let ftyp = mp4_atom(b"ftyp", b"M4A \0\0\0\0M4A mp42isom");
        let tables: [(&[u8; 4], Vec<u8>); 5] = [
            (b"stts", [0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF].to_vec()),
            (b"stsc", [0, 0, 0, 0, 0x10, 0, 0, 0].to_vec()),
            (b"stsz", [0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF].to_vec()),
            (b"stco", [0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2].to_vec()),
            (b"co64", [0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF].to_vec()),
        ];
        for (kind, body) in &tables {
            // Without the check, symphonia 0.5 asks for up to 34 GB here and the process aborts.
            let stbl = mp4_atom(b"stbl", &mp4_atom(kind, body));
            let moov = mp4_atom(b"moov", &mp4_atom(b"trak", &mp4_atom(b"mdia", &mp4_atom(b"minf", &stbl))));
            let mut bytes = ftyp.clone();
            bytes.extend_from_slice(&moov);
            bytes.extend_from_slice(&[0; 64]);
            let path = dir.write(&format!("{}.m4a", String::from_utf8_lossy(*kind)), &bytes);
            let error = read_err(&path);
            assert!(matches!(error, AudioFileError::Malformed { .. }), "{error}");
        }
        // Tables that fit pass the check (symphonia then judges the rest).
        let stts =
            mp4_atom(b"stts", &[0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 4, 0, 0, 0, 0, 1, 0, 0, 4, 0]);
        let stsz = mp4_atom(b"stsz", &[0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 9]); // constant size: no table
        let stbl = mp4_atom(b"stbl", &[stts, stsz].concat());
        let mut bytes = ftyp;
        bytes.extend_from_slice(&mp4_atom(b"moov", &mp4_atom(b"trak", &stbl)));
        let path = dir.write("fits.m4a", &bytes);
        let mut file = File::open(&path).unwrap();
        assert_eq!(check_mp4_tables(&mut file, bytes.len() as u64).unwrap(), None);
        read_err(&path);
    }

    #[test]
    fn garbage_never_panics() {
        let dir = TempDir::new("garbage");
        let prefixes: [&[u8]; 9] = [
            b"",
            b"RIFF\x24\x10\x00\x00WAVE",
            b"FORM\x00\x00\x10\x00AIFF",
            b"fLaC",
            b"OggS",
            b"ID3\x03\x00\x00\x00\x00\x00\x00",
            b"\x00\x00\x00\x18ftypM4A ",
            b"\xFF\xFB\x90\x64",
            b"\xFF\xF1\x50\x80",
        ];
        let mut rng = Rng::new(99);
        let mut outcomes = [0_usize; 2];
        for (p, prefix) in prefixes.iter().enumerate() {
            for round in 0..40 {
                let len = [1, 7, 64, 500, 4_096, 20_000][round % 6];
                let mut bytes = prefix.to_vec();
                bytes.extend(rng.bytes(len));
                let path = dir.write(&format!("g{p}-{round}.bin"), &bytes);
                match read_audio_file(&path) {
                    Ok(buffer) => {
                        outcomes[0] += 1;
                        println!("decoded {} frames from {}", buffer.frames(), path.display());
                        assert!(buffer.frames() > 0);
                        assert!(buffer.channels.iter().all(|c| c.len() == buffer.frames()));
                    }
                    Err(error) => {
                        outcomes[1] += 1;
                        assert_one_line(&error, &path);
                        assert!(!matches!(error, AudioFileError::DecoderPanicked { .. }), "{error}");
                    }
                }
            }
        }
        println!("garbage: {} decoded as audio, {} refused", outcomes[0], outcomes[1]);
    }

    #[test]
    fn wav_header_followed_by_garbage() {
        let dir = TempDir::new("wav-garbage");
        let mut rng = Rng::new(5);
        for round in 0..20 {
            // A valid fmt chunk, then garbage where the data chunk should be.
            let mut bytes = wav_header(1, 2, 44_100, 16, 1_000)[..36].to_vec();
            bytes.extend(rng.bytes(100 + round * 97));
            let path = dir.write(&format!("h{round}.wav"), &bytes);
            if let Err(error) = read_audio_file(&path) {
                assert_one_line(&error, &path);
            }
            // Only the RIFF/WAVE marker, then garbage chunks.
            let mut bytes = b"RIFF\xFF\xFF\x00\x00WAVE".to_vec();
            bytes.extend(rng.bytes(100 + round * 97));
            let path = dir.write(&format!("r{round}.wav"), &bytes);
            if let Err(error) = read_audio_file(&path) {
                assert_one_line(&error, &path);
            }
        }
    }

    #[test]
    fn truncated_mp3_like_stream_never_panics() {
        let dir = TempDir::new("mp3-like");
        let mut rng = Rng::new(42);
        // MPEG-1 layer III, 128 kb/s, 44.1 kHz frames (417 bytes each) with garbage payloads.
        let mut bytes = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
        for _ in 0..40 {
            bytes.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
            bytes.extend(rng.bytes(413));
        }
        for cut in [bytes.len(), bytes.len() - 200, 3_001, 600, 14] {
            let path = dir.write(&format!("cut{cut}.mp3"), &bytes[..cut]);
            match read_audio_file(&path) {
                Ok(buffer) => assert!(buffer.channel_count() <= 2 && buffer.frames() > 0),
                Err(error) => assert_one_line(&error, &path),
            }
        }
    }

    #[test]
    fn sniffing_accepts_the_supported_containers() {
        assert!(looks_like_audio(b"RIFF\0\0\0\0WAVEfmt "));
        assert!(looks_like_audio(b"FORM\0\0\0\0AIFC"));
        assert!(looks_like_audio(b"fLaC\0\0\0\x22"));
        assert!(looks_like_audio(b"OggS\0\x02"));
        assert!(looks_like_audio(b"ID3\x04"));
        assert!(looks_like_audio(b"\0\0\0\x20ftypM4A "));
        assert!(looks_like_audio(&[0xFF, 0xFB, 0x90, 0x64]));
        assert!(!looks_like_audio(b"RIFF\0\0\0\0AVI LIST"));
        assert!(!looks_like_audio(b"hello"));
        assert!(!looks_like_audio(b""));
    }

    /// Decoding speed of a 4-minute stereo 44.1 kHz 16-bit WAV. Run with
    /// `cargo test --release -- --ignored --nocapture decode_speed`.
    #[test]
    #[ignore]
    fn decode_speed() {
        let dir = TempDir::new("speed");
        let buffer = pcm_buffer(1, 2, 240 * 44_100, 16, 44_100);
        let path = dir.path("long.wav");
        let start = std::time::Instant::now();
        write_wav(&path, &buffer, SampleFormat::Int16).unwrap();
        println!("write WAV 16-bit: {:.3} s", start.elapsed().as_secs_f64());
        let start = std::time::Instant::now();
        let read = read_audio_file(&path).unwrap();
        println!("read WAV 16-bit: {:.3} s", start.elapsed().as_secs_f64());
        assert_eq!(read.frames(), buffer.frames());
        let path = dir.path("long.flac");
        let start = std::time::Instant::now();
        write_flac(&path, &buffer, 16).unwrap();
        println!("write FLAC 16-bit: {:.3} s", start.elapsed().as_secs_f64());
        let start = std::time::Instant::now();
        read_audio_file(&path).unwrap();
        println!("read FLAC 16-bit: {:.3} s", start.elapsed().as_secs_f64());
    }
}
