//! Files for the unit tests: a temporary folder removed on drop, and a 24-bit WAV writer for
//! fixtures (the modules that read files share these instead of each keeping a copy).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh folder under the system temp dir (unique per process, name and call), removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `parity-<name>-<pid>-<serial>` under the temp dir, empty.
    pub fn new(name: &str) -> Self {
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("parity-{name}-{}-{serial}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// A path inside the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `bytes` to a file in the folder and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, bytes).unwrap();
        path
    }

    /// The names of the folder's entries, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Writes planar `channels` (full scale ±1) as a 24-bit integer WAV at `rate_hz`.
pub fn write_wav_24(path: &Path, rate_hz: u32, channels: &[&[f32]]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate_hz,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for frame in 0..channels.first().map_or(0, |c| c.len()) {
        for channel in channels {
            writer
                .write_sample((f64::from(channel[frame].clamp(-1.0, 1.0)) * 8_388_607.0).round() as i32)
                .unwrap();
        }
    }
    writer.finalize().unwrap();
}
