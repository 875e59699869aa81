//! The reference slots' shared state and their loader thread.
//!
//! [`ReferenceBank`] is created with the plugin's parameters (it is a persisted field of them) and
//! owns one loader thread for this plugin instance. The GUI and the host's main thread call its
//! methods; the loader decodes, resamples and analyses ([`super::load::load_reference`]) and hands
//! finished audio to the audio thread's [`super::ReferencePlayer`] over a bounded SPSC queue.
//! Replaced buffers come back on a second queue and are freed here, never on the audio thread.
//!
//! Every request carries a generation number per slot. A newer request (another file, a cleared
//! slot, a new session sample rate) makes older ones stale: the loader abandons a stale job at its
//! next check, and the player refuses a stale delivery.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use atomic_float::{AtomicF32, AtomicF64};
use serde::{Deserialize, Serialize};

use super::analysis::{ReferenceAnalysis, SPECTRUM_BANDS};
use super::load::{load_reference, LoadedReference, ReferenceError, SourceInfo};
use super::REFERENCE_SLOTS;

/// Range of a slot's gain trim, dB.
pub const SLOT_GAIN_RANGE_DB: f32 = 24.0;

/// Capacity of the delivery queue (loader → audio). Deliveries beyond it wait on the loader.
const DELIVERY_CAPACITY: usize = 2 * REFERENCE_SLOTS;

/// Capacity of the return queue (audio → loader); the player only takes a delivery while there
/// is room for the buffer it may displace.
const RETURN_CAPACITY: usize = 2 * REFERENCE_SLOTS;

/// How often the idle loader wakes to free returned buffers.
const LOADER_POLL: Duration = Duration::from_millis(50);

/// A finished (or cleared) slot on its way to the audio thread.
pub struct Delivery {
    /// Slot index.
    pub slot: usize,
    /// The request this answers.
    pub generation: u64,
    /// The audio (`None`: the slot was cleared).
    pub reference: Option<Box<LoadedReference>>,
}

/// The audio thread's ends of the hand-off queues.
pub struct PlayerLink {
    /// Finished loads from the loader.
    pub deliveries: rtrb::Consumer<Delivery>,
    /// Buffers the player let go of, for the loader to free.
    pub returns: rtrb::Producer<Box<LoadedReference>>,
    /// Per-slot settings the audio thread reads (atomics).
    pub shared: Arc<SharedSlots>,
}

/// A slot's persisted settings and the summary of its last analysis (never audio).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlotSettings {
    /// The file; empty for an empty slot.
    pub path: String,
    /// Gain trim added to the slot's playback (after level matching), dB.
    pub gain_db: f32,
    /// Loop start, seconds into the file.
    pub loop_start_s: f64,
    /// Loop end, seconds into the file; 0 (or anything at or before the start) = the end.
    pub loop_end_s: f64,
    /// The last analysis of the file, kept so a missing file still shows its figures.
    pub summary: Option<AnalysisSummary>,
}

/// The figures of a slot's analysis that are saved with the session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnalysisSummary {
    /// Integrated loudness, LUFS.
    pub integrated_lufs: Option<f32>,
    /// Loudness range, LU.
    pub loudness_range_lu: Option<f32>,
    /// Maximum true peak, dBTP.
    pub true_peak_dbtp: Option<f32>,
    /// Maximum short-term loudness, LUFS.
    pub max_short_term_lufs: Option<f32>,
    /// Stereo width, percent (0 mono, 100 side as loud as mid).
    pub width_percent: Option<f32>,
    /// Duration of the file, seconds.
    pub duration_s: f64,
    /// Sample rate of the file, Hz.
    pub source_rate_hz: u32,
    /// Channels of the file.
    pub source_channels: usize,
    /// Long-term average spectrum of the mid signal, dB per 1/6-octave band
    /// ([`SPECTRUM_BANDS`] values, 20 Hz … 20 kHz).
    pub spectrum_db: Vec<f32>,
}

impl AnalysisSummary {
    /// The summary of a finished load (non-finite figures become `None`).
    pub fn new(analysis: &ReferenceAnalysis, source: &SourceInfo) -> Self {
        let finite = |value: Option<f32>| value.filter(|v| v.is_finite());
        Self {
            integrated_lufs: finite(analysis.integrated_lufs),
            loudness_range_lu: finite(analysis.loudness_range_lu),
            true_peak_dbtp: finite(analysis.true_peak_dbtp),
            max_short_term_lufs: finite(analysis.max_short_term_lufs),
            width_percent: finite(analysis.width_percent),
            duration_s: source.duration_s,
            source_rate_hz: source.sample_rate_hz,
            source_channels: source.channels,
            spectrum_db: analysis
                .spectrum_db
                .iter()
                .map(|v| if v.is_finite() { *v } else { -150.0 })
                .collect(),
        }
    }

    /// Drops values a hand-edited or corrupt state could carry (non-finite, absurd).
    fn sanitized(mut self) -> Self {
        let sane = |value: Option<f32>, low: f32, high: f32| {
            value.filter(|v| v.is_finite() && (low..=high).contains(v))
        };
        self.integrated_lufs = sane(self.integrated_lufs, -200.0, 50.0);
        self.loudness_range_lu = sane(self.loudness_range_lu, 0.0, 200.0);
        self.true_peak_dbtp = sane(self.true_peak_dbtp, -400.0, 200.0);
        self.max_short_term_lufs = sane(self.max_short_term_lufs, -200.0, 50.0);
        self.width_percent = sane(self.width_percent, 0.0, 200.0);
        if !self.duration_s.is_finite() || self.duration_s < 0.0 {
            self.duration_s = 0.0;
        }
        self.spectrum_db.truncate(SPECTRUM_BANDS);
        for value in &mut self.spectrum_db {
            if !value.is_finite() {
                *value = -150.0;
            }
        }
        self
    }
}

impl SlotSettings {
    /// Clamps values a hand-edited or corrupt state could carry.
    fn sanitized(mut self) -> Self {
        self.gain_db = if self.gain_db.is_finite() {
            self.gain_db.clamp(-SLOT_GAIN_RANGE_DB, SLOT_GAIN_RANGE_DB)
        } else {
            0.0
        };
        let time = |seconds: f64| if seconds.is_finite() { seconds.clamp(0.0, 24.0 * 3600.0) } else { 0.0 };
        self.loop_start_s = time(self.loop_start_s);
        self.loop_end_s = time(self.loop_end_s);
        self.summary = self.summary.map(AnalysisSummary::sanitized);
        self
    }
}

/// Everything of the slots that is saved with the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReferenceBankState {
    /// Format version of this record.
    pub version: u32,
    /// One entry per slot (missing entries are empty slots; extra ones are ignored).
    pub slots: Vec<SlotSettings>,
}

impl Default for ReferenceBankState {
    fn default() -> Self {
        Self { version: 1, slots: vec![SlotSettings::default(); REFERENCE_SLOTS] }
    }
}

/// What a slot is doing, for the editor.
#[derive(Debug, Clone, PartialEq)]
pub enum SlotStatus {
    /// No file.
    Empty,
    /// Decoding, resampling and analysing.
    Loading,
    /// Loaded and playable.
    Ready,
    /// The file could not be loaded (e.g. "missing").
    Failed(ReferenceError),
}

/// A slot as the editor sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotInfo {
    /// Saved settings (path, trim, loop points, summary).
    pub settings: SlotSettings,
    /// What the slot is doing.
    pub status: SlotStatus,
    /// The file's format, once loaded.
    pub source: Option<SourceInfo>,
    /// The path and sample rate of the last request (to make requests idempotent).
    requested: Option<(String, u64)>,
}

impl Default for SlotInfo {
    fn default() -> Self {
        Self { settings: SlotSettings::default(), status: SlotStatus::Empty, source: None, requested: None }
    }
}

/// One slot's shared state.
#[derive(Debug, Default)]
pub struct SlotShared {
    /// Generation of the latest request; older deliveries are stale.
    pub generation: AtomicU64,
    /// Generation the audio thread plays (the editor compares it with `generation`).
    pub playing_generation: AtomicU64,
    /// Gain trim, dB (copy of the settings for the audio thread).
    pub gain_db: AtomicF32,
    /// Loop start, seconds.
    pub loop_start_s: AtomicF64,
    /// Loop end, seconds (0 = the end of the file).
    pub loop_end_s: AtomicF64,
    /// Settings and status (GUI, main and loader threads only; never the audio thread).
    info: Mutex<SlotInfo>,
}

/// The slots' state shared by the bank, the loader thread and the player.
#[derive(Debug, Default)]
pub struct SharedSlots {
    /// The slots.
    pub slots: [SlotShared; REFERENCE_SLOTS],
    /// Set when the bank is dropped: the loader abandons its job and exits.
    shutdown: AtomicBool,
}

impl SharedSlots {
    /// Locks a slot's info (a poisoned lock still holds valid data: every write is one assignment).
    fn info(&self, slot: usize) -> MutexGuard<'_, SlotInfo> {
        self.slots[slot].info.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A request for the loader.
enum Job {
    /// Load `path` into `slot` at `session_rate_hz`.
    Load { slot: usize, generation: u64, path: PathBuf, session_rate_hz: f64 },
    /// Empty `slot`.
    Clear { slot: usize, generation: u64 },
}

/// The reference slots of one plugin instance, and their loader thread.
pub struct ReferenceBank {
    /// State shared with the loader and the player.
    shared: Arc<SharedSlots>,
    /// Requests to the loader (`None` once dropping).
    jobs: Option<Sender<Job>>,
    /// The audio thread's ends of the queues until the engine takes them.
    player_link: Mutex<Option<PlayerLink>>,
    /// Session sample rate the slots are loaded for (0: not known yet), as f64 bits.
    session_rate_bits: AtomicU64,
    /// The loader thread.
    loader: Option<JoinHandle<()>>,
}

impl Default for ReferenceBank {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ReferenceBank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceBank").finish_non_exhaustive()
    }
}

impl ReferenceBank {
    /// A bank of empty slots with its own loader thread.
    pub fn new() -> Self {
        let shared = Arc::new(SharedSlots::default());
        let (delivery_producer, delivery_consumer) = rtrb::RingBuffer::new(DELIVERY_CAPACITY);
        let (return_producer, return_consumer) = rtrb::RingBuffer::new(RETURN_CAPACITY);
        let (job_sender, job_receiver) = mpsc::channel();
        let loader_shared = shared.clone();
        let loader = std::thread::Builder::new()
            .name("parity-reference-loader".into())
            .spawn(move || loader_main(&loader_shared, &job_receiver, delivery_producer, return_consumer))
            .ok();
        Self {
            player_link: Mutex::new(Some(PlayerLink {
                deliveries: delivery_consumer,
                returns: return_producer,
                shared: shared.clone(),
            })),
            shared,
            jobs: loader.is_some().then_some(job_sender),
            session_rate_bits: AtomicU64::new(0f64.to_bits()),
            loader,
        }
    }

    /// The audio thread's ends of the queues (once; later calls return `None`).
    pub fn take_player_link(&self) -> Option<PlayerLink> {
        self.player_link.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// A slot as the editor sees it (`None` for an index out of range).
    pub fn slot(&self, slot: usize) -> Option<SlotInfo> {
        (slot < REFERENCE_SLOTS).then(|| self.shared.info(slot).clone())
    }

    /// True when the audio thread plays the latest request of `slot` (a loaded slot is ready).
    pub fn is_playing_latest(&self, slot: usize) -> bool {
        self.shared.slots.get(slot).is_some_and(|s| {
            s.generation.load(Ordering::Acquire) == s.playing_generation.load(Ordering::Acquire)
        })
    }

    /// The session sample rate the slots are loaded for (0 before the first activation).
    pub fn session_rate_hz(&self) -> f64 {
        f64::from_bits(self.session_rate_bits.load(Ordering::Relaxed))
    }

    /// Sets the session sample rate (plugin activation): slots loaded at another rate reload.
    pub fn set_session_rate(&self, sample_rate_hz: f64) {
        self.session_rate_bits.store(sample_rate_hz.to_bits(), Ordering::Relaxed);
        for slot in 0..REFERENCE_SLOTS {
            self.request(slot);
        }
    }

    /// Loads `path` into `slot` (replacing what is there; loop points reset).
    pub fn load(&self, slot: usize, path: &Path) {
        if slot >= REFERENCE_SLOTS {
            return;
        }
        {
            let mut info = self.shared.info(slot);
            info.settings = SlotSettings {
                path: path.to_string_lossy().into_owned(),
                gain_db: info.settings.gain_db,
                ..Default::default()
            };
        }
        self.publish_settings(slot);
        self.request(slot);
    }

    /// Loads the slot's file again (e.g. after it was missing or changed).
    pub fn reload(&self, slot: usize) {
        if slot < REFERENCE_SLOTS {
            self.shared.info(slot).requested = None;
            self.request(slot);
        }
    }

    /// Empties `slot`.
    pub fn clear(&self, slot: usize) {
        if slot < REFERENCE_SLOTS {
            self.shared.info(slot).settings = SlotSettings::default();
            self.publish_settings(slot);
            self.request(slot);
        }
    }

    /// Sets a slot's gain trim, dB (clamped to ±[`SLOT_GAIN_RANGE_DB`]).
    pub fn set_gain_db(&self, slot: usize, gain_db: f32) {
        if slot < REFERENCE_SLOTS {
            let mut info = self.shared.info(slot);
            info.settings.gain_db = gain_db;
            info.settings = std::mem::take(&mut info.settings).sanitized();
            drop(info);
            self.publish_settings(slot);
        }
    }

    /// Sets a slot's loop points, seconds (an end at or before the start = the end of the file).
    pub fn set_loop_s(&self, slot: usize, start_s: f64, end_s: f64) {
        if slot < REFERENCE_SLOTS {
            let mut info = self.shared.info(slot);
            info.settings.loop_start_s = start_s;
            info.settings.loop_end_s = end_s;
            info.settings = std::mem::take(&mut info.settings).sanitized();
            drop(info);
            self.publish_settings(slot);
        }
    }

    /// The state saved with the session.
    pub fn state(&self) -> ReferenceBankState {
        ReferenceBankState {
            version: 1,
            slots: (0..REFERENCE_SLOTS).map(|slot| self.shared.info(slot).settings.clone()).collect(),
        }
    }

    /// Restores saved state: slots whose file changed reload (once the session rate is known),
    /// the others keep their audio. Values out of range are clamped.
    pub fn restore(&self, state: ReferenceBankState) {
        let mut saved = state.slots.into_iter();
        for slot in 0..REFERENCE_SLOTS {
            let settings = saved.next().unwrap_or_default().sanitized();
            {
                let mut info = self.shared.info(slot);
                if info.settings.path != settings.path {
                    info.source = None;
                }
                info.settings = settings;
            }
            self.publish_settings(slot);
            self.request(slot);
        }
    }

    /// Copies a slot's trim and loop points to the atomics the audio thread reads.
    fn publish_settings(&self, slot: usize) {
        let info = self.shared.info(slot);
        let shared = &self.shared.slots[slot];
        shared.gain_db.store(info.settings.gain_db, Ordering::Relaxed);
        shared.loop_start_s.store(info.settings.loop_start_s, Ordering::Relaxed);
        shared.loop_end_s.store(info.settings.loop_end_s, Ordering::Relaxed);
    }

    /// Sends the loader what `slot` needs, unless it was already asked for exactly that.
    fn request(&self, slot: usize) {
        let rate = self.session_rate_hz();
        let mut info = self.shared.info(slot);
        let path = info.settings.path.clone();
        let key = (path.clone(), rate.to_bits());
        if info.requested.as_ref() == Some(&key) {
            return;
        }
        if !path.is_empty() && rate <= 0.0 {
            // Not active yet: the slot loads when the session rate is known.
            info.status = SlotStatus::Loading;
            return;
        }
        info.requested = Some(key);
        let generation = self.shared.slots[slot].generation.fetch_add(1, Ordering::AcqRel) + 1;
        let job = if path.is_empty() {
            info.status = SlotStatus::Empty;
            info.source = None;
            Job::Clear { slot, generation }
        } else {
            info.status = SlotStatus::Loading;
            Job::Load { slot, generation, path: PathBuf::from(path), session_rate_hz: rate }
        };
        drop(info);
        let sent = self.jobs.as_ref().is_some_and(|jobs| jobs.send(job).is_ok());
        if !sent {
            let mut info = self.shared.info(slot);
            info.status =
                SlotStatus::Failed(ReferenceError::Unreadable { detail: "no loader thread".into() });
        }
    }
}

impl Drop for ReferenceBank {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Relaxed);
        self.jobs = None;
        if let Some(loader) = self.loader.take() {
            let _ = loader.join();
        }
    }
}

impl<'a> nice_plug::params::persist::PersistentField<'a, ReferenceBankState> for Arc<ReferenceBank> {
    fn set(&self, new_value: ReferenceBankState) {
        self.restore(new_value);
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&ReferenceBankState) -> R,
    {
        f(&self.state())
    }
}

/// The loader thread: runs jobs one at a time, hands results to the audio thread and frees what
/// comes back. Ends when the bank is dropped.
fn loader_main(
    shared: &SharedSlots,
    jobs: &Receiver<Job>,
    mut deliveries: rtrb::Producer<Delivery>,
    mut returns: rtrb::Consumer<Box<LoadedReference>>,
) {
    let mut pending: VecDeque<Delivery> = VecDeque::new();
    loop {
        // Free what the audio thread let go of.
        while let Ok(old) = returns.pop() {
            drop(old);
        }
        // Deliver what is finished and still wanted.
        pending.retain(|d| shared.slots[d.slot].generation.load(Ordering::Acquire) == d.generation);
        while !pending.is_empty() && deliveries.slots() > 0 {
            if let Some(delivery) = pending.pop_front() {
                let _ = deliveries.push(delivery);
            }
        }
        if shared.shutdown.load(Ordering::Relaxed) {
            return;
        }
        let job = match jobs.recv_timeout(LOADER_POLL) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        match job {
            Job::Clear { slot, generation } => {
                pending.push_back(Delivery { slot, generation, reference: None })
            }
            Job::Load { slot, generation, path, session_rate_hz } => {
                let stale = || {
                    shared.shutdown.load(Ordering::Relaxed)
                        || shared.slots[slot].generation.load(Ordering::Acquire) != generation
                };
                if stale() {
                    continue;
                }
                let result = load_reference(&path, session_rate_hz, &stale);
                let mut info = shared.info(slot);
                if stale() {
                    continue;
                }
                match result {
                    Ok(loaded) => {
                        info.settings.summary = Some(AnalysisSummary::new(&loaded.analysis, &loaded.source));
                        info.source = Some(loaded.source.clone());
                        info.status = SlotStatus::Ready;
                        pending.push_back(Delivery { slot, generation, reference: Some(Box::new(loaded)) });
                    }
                    Err(ReferenceError::Cancelled) => {}
                    Err(error) => {
                        info.status = SlotStatus::Failed(error);
                        info.source = None;
                        pending.push_back(Delivery { slot, generation, reference: None });
                    }
                }
            }
        }
    }
}
