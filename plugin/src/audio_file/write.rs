//! Writing audio files (the offline CLI only, feature `cli`): WAV through hound, FLAC through
//! flacenc, always through a temporary file renamed into place.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use flacenc::component::BitRepr;
use flacenc::error::{SourceError, Verify};
use flacenc::source::{Fill, Source};

use super::{
    check_channel_count, check_sample_rate, one_line, AudioBuffer, AudioFileError, SampleFormat,
    FLAC_MAX_SAMPLE_RATE_HZ, FULL_SCALE_16, FULL_SCALE_24,
};
/// Writes a WAV file: 16/24-bit integer PCM (rounded, clamped, NaN as 0; no dither) or 32-bit
/// float as is. The file appears under `path` only when complete.
pub fn write_wav(path: &Path, buffer: &AudioBuffer, format: SampleFormat) -> Result<(), AudioFileError> {
    check_writable(path, buffer)?;
    let (bits_per_sample, sample_format) = match format {
        SampleFormat::Int16 => (16, hound::SampleFormat::Int),
        SampleFormat::Int24 => (24, hound::SampleFormat::Int),
        SampleFormat::Float32 => (32, hound::SampleFormat::Float),
    };
    let spec = hound::WavSpec {
        channels: buffer.channel_count() as u16,
        sample_rate: buffer.sample_rate_hz,
        bits_per_sample,
        sample_format,
    };
    let wav_error = |error: hound::Error| match error {
        hound::Error::IoError(io_error) => AudioFileError::Write { path: path.to_path_buf(), io_error },
        other => {
            AudioFileError::Encode { path: path.to_path_buf(), format: "WAV", detail: other.to_string() }
        }
    };
    write_atomically(path, |file| {
        let mut writer = hound::WavWriter::new(BufWriter::new(file), spec).map_err(wav_error)?;
        for frame in 0..buffer.frames() {
            for channel in &buffer.channels {
                let sample = channel[frame];
                match format {
                    SampleFormat::Int16 => writer.write_sample(quantize(sample, FULL_SCALE_16) as i16),
                    SampleFormat::Int24 => writer.write_sample(quantize(sample, FULL_SCALE_24)),
                    SampleFormat::Float32 => writer.write_sample(sample),
                }
                .map_err(wav_error)?;
            }
        }
        writer.finalize().map_err(wav_error)
    })
}

/// Writes a FLAC file at 16 or 24 bits (rounded, clamped, NaN as 0; no dither). The file appears
/// under `path` only when complete.
pub fn write_flac(path: &Path, buffer: &AudioBuffer, bits_per_sample: u32) -> Result<(), AudioFileError> {
    if bits_per_sample != 16 && bits_per_sample != 24 {
        return Err(AudioFileError::FlacBitDepth { path: path.to_path_buf(), bits_per_sample });
    }
    check_writable(path, buffer)?;
    if buffer.sample_rate_hz > FLAC_MAX_SAMPLE_RATE_HZ {
        return Err(AudioFileError::FlacSampleRate {
            path: path.to_path_buf(),
            rate_hz: buffer.sample_rate_hz,
        });
    }
    let encode_error =
        |detail: String| AudioFileError::Encode { path: path.to_path_buf(), format: "FLAC", detail };
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|(_, error)| encode_error(error.to_string()))?;
    let source = PlanarSource::new(buffer, bits_per_sample);
    let mut stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|error| encode_error(one_line(&error.to_string())))?;
    // flacenc 0.5 states the short last block as the minimum block size, which marks the stream
    // as variable-blocksize; symphonia then rejects every (fixed-blocksize) frame header and
    // reads nothing. The FLAC format excludes the last block from the minimum, so state the
    // fixed size as both bounds.
    stream
        .stream_info_mut()
        .set_block_sizes(config.block_size, config.block_size)
        .map_err(|error| encode_error(one_line(&error.to_string())))?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).map_err(|error| encode_error(one_line(&error.to_string())))?;
    write_atomically(path, |mut file| {
        file.write_all(sink.as_slice())
            .map_err(|io_error| AudioFileError::Write { path: path.to_path_buf(), io_error })
    })
}

/// Chooses by extension (case-insensitive): `.wav` → [`write_wav`] with `format`, `.flac` →
/// [`write_flac`] (16 or 24 bits; [`SampleFormat::Float32`] is refused), anything else an error.
pub fn write_audio_file(
    path: &Path,
    buffer: &AudioBuffer,
    format: SampleFormat,
) -> Result<(), AudioFileError> {
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("wav") => write_wav(path, buffer, format),
        Some("flac") => match format {
            SampleFormat::Int16 => write_flac(path, buffer, 16),
            SampleFormat::Int24 => write_flac(path, buffer, 24),
            SampleFormat::Float32 => Err(AudioFileError::FlacFloat { path: path.to_path_buf() }),
        },
        _ => Err(AudioFileError::UnsupportedOutputExtension { path: path.to_path_buf() }),
    }
}

/// Refuses buffers the writers (or the reader, reading them back) cannot represent.
fn check_writable(path: &Path, buffer: &AudioBuffer) -> Result<(), AudioFileError> {
    if buffer.channels.is_empty() {
        return Err(AudioFileError::NoChannels { path: path.to_path_buf() });
    }
    check_channel_count(path, buffer.channel_count())?;
    let expected_frames = buffer.frames();
    if let Some((channel, samples)) =
        buffer.channels.iter().enumerate().find(|(_, samples)| samples.len() != expected_frames)
    {
        return Err(AudioFileError::UnequalChannelLengths {
            path: path.to_path_buf(),
            channel,
            frames: samples.len(),
            expected_frames,
        });
    }
    check_sample_rate(path, u64::from(buffer.sample_rate_hz))?;
    if path.is_dir() {
        return Err(AudioFileError::IsDirectory { path: path.to_path_buf() });
    }
    Ok(())
}

/// Rounds `sample · full_scale` to the nearest integer (halves away from zero), clamped to
/// `-full_scale..=full_scale − 1`; NaN becomes 0. `full_scale` is a power of two, so the product is
/// exact and `s / full_scale` comes back as `s`.
fn quantize(sample: f32, full_scale: f32) -> i32 {
    if sample.is_nan() {
        return 0;
    }
    (sample * full_scale).round().clamp(-full_scale, full_scale - 1.0) as i32
}

/// Serial number making temporary names unique within the process (the pid makes them unique
/// across processes).
static TEMP_FILE_SERIAL: AtomicU64 = AtomicU64::new(0);

/// Writes through `write` into a new temporary file next to `path`, syncs it, then renames it to
/// `path` (replacing an existing file). On any failure the temporary file is removed and `path` is
/// left as it was.
pub(super) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&File) -> Result<(), AudioFileError>,
) -> Result<(), AudioFileError> {
    let write_error = |io_error: io::Error| AudioFileError::Write { path: path.to_path_buf(), io_error };
    let file_name = path.file_name().ok_or_else(|| {
        write_error(io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))
    })?;
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let (temp_path, file) = loop {
        let serial = TEMP_FILE_SERIAL.fetch_add(1, Ordering::Relaxed);
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(file_name);
        temp_name.push(format!(".{}-{serial}.tmp", std::process::id()));
        let temp_path = folder.join(temp_name);
        match OpenOptions::new().write(true).create_new(true).open(&temp_path) {
            Ok(file) => break (temp_path, file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(write_error(e)),
        }
    };
    let written = write(&file).and_then(|()| file.sync_all().map_err(write_error));
    // Closed before the rename or the removal (Windows refuses both on an open file).
    drop(file);
    let result = written.and_then(|()| fs::rename(&temp_path, path).map_err(write_error));
    if result.is_err() {
        // Best effort: the error being reported is the write's, not the clean-up's.
        let _ = fs::remove_file(&temp_path);
    }
    result
}

/// Feeds a planar [`AudioBuffer`] to flacenc block by block, quantizing into a reused interleaved
/// scratch block (no full interleaved copy of the file).
struct PlanarSource<'a> {
    /// The audio.
    buffer: &'a AudioBuffer,
    /// 16 or 24.
    bits_per_sample: u32,
    /// Next frame to read.
    read_head: usize,
    /// Interleaved quantized samples of the current block.
    scratch: Vec<i32>,
}

impl<'a> PlanarSource<'a> {
    /// A source reading `buffer` from its start.
    fn new(buffer: &'a AudioBuffer, bits_per_sample: u32) -> Self {
        Self { buffer, bits_per_sample, read_head: 0, scratch: Vec::new() }
    }
}

impl Source for PlanarSource<'_> {
    fn channels(&self) -> usize {
        self.buffer.channel_count()
    }

    fn bits_per_sample(&self) -> usize {
        self.bits_per_sample as usize
    }

    fn sample_rate(&self) -> usize {
        self.buffer.sample_rate_hz as usize
    }

    fn read_samples<F: Fill>(&mut self, block_size: usize, dest: &mut F) -> Result<usize, SourceError> {
        let full_scale = if self.bits_per_sample == 16 { FULL_SCALE_16 } else { FULL_SCALE_24 };
        let end = (self.read_head + block_size).min(self.buffer.frames());
        self.scratch.clear();
        for frame in self.read_head..end {
            self.scratch
                .extend(self.buffer.channels.iter().map(|channel| quantize(channel[frame], full_scale)));
        }
        dest.fill_interleaved(&self.scratch)?;
        let read = end - self.read_head;
        self.read_head = end;
        Ok(read)
    }

    fn len_hint(&self) -> Option<usize> {
        Some(self.buffer.frames())
    }
}
