//! A small, reusable CLAP test host for Parity, built on `clack-host`.
//!
//! It loads the real `Parity.clap` bundle (a plain shared library on Linux), instantiates
//! `audio.parity.master` and drives it the way a DAW does: activate → start processing → process
//! blocks of `f32` audio with parameter events → stop → deactivate, plus the main-thread extensions
//! (params, state, latency, audio ports, audio-ports-config, GUI).
//!
//! The host side offers the extensions a normal host offers: `clap.log`, `clap.params`,
//! `clap.state`, `clap.latency`, `clap.audio-ports`, `clap.audio-ports-config`,
//! `clap.thread-check`, `clap.timer-support` and (unless disabled with
//! [`HostOptions::offer_gui`]) `clap.gui`.
//!
//! # Threads
//!
//! Everything runs on the test's own thread. To make `clap.thread-check` answer like a real host
//! would, the thread that created a [`ParityHost`] counts as the *main thread*, and while the host
//! is inside `process()`, `reset()` or an active `flush()` the same thread counts as the *audio
//! thread* (and not as the main thread). The checks use allocation-free thread-locals, because the
//! test bundle aborts on any allocation inside `process()`, host callbacks included.
//!
//! # Bundle location
//!
//! `PARITY_CLAP_BUNDLE` if set, else `<workspace root>/target/guard/bundled/Parity.clap`, which
//! `cargo xtask test` builds. A missing bundle is an error, never a skip.

#![warn(missing_docs)]

use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use clack_extensions::audio_ports::{
    AudioPortFlags, AudioPortInfoBuffer, AudioPortRescanFlags, HostAudioPorts, HostAudioPortsImpl,
    PluginAudioPorts,
};
use clack_extensions::audio_ports_config::{
    AudioPortsConfigBuffer, HostAudioPortsConfig, HostAudioPortsConfigImpl, PluginAudioPortsConfig,
};
use clack_extensions::gui::{GuiApiType, GuiConfiguration, GuiSize, HostGui, HostGuiImpl, PluginGui};
use clack_extensions::latency::{HostLatency, HostLatencyImpl, PluginLatency};
use clack_extensions::log::{HostLog, HostLogImpl, LogSeverity};
use clack_extensions::params::{
    HostParams, HostParamsImplMainThread, HostParamsImplShared, ParamClearFlags, ParamInfoBuffer,
    ParamInfoFlags, ParamRescanFlags, PluginParams,
};
use clack_extensions::render::{PluginRender, RenderMode};
use clack_extensions::state::{HostState, HostStateImpl, PluginState};
use clack_extensions::thread_check::{HostThreadCheck, HostThreadCheckImpl};
use clack_extensions::timer::{HostTimer, HostTimerImpl, TimerId};
use clack_host::events::event_types::ParamValueEvent;
use clack_host::prelude::*;

pub use clack_host::process::ProcessStatus;

/// The CLAP id of the plugin under test.
pub const PLUGIN_ID: &CStr = c"audio.parity.master";

/// Environment variable that overrides the bundle location.
pub const BUNDLE_ENV: &str = "PARITY_CLAP_BUNDLE";

/// Environment variable that tells a re-executed test binary which crash case to run in-process
/// (see [`run_test_in_child`]).
pub const CHILD_CASE_ENV: &str = "PARITY_TESTS_CHILD_CASE";

/// The X11 window API name (`CLAP_WINDOW_API_X11`).
pub const GUI_API_X11: &CStr = c"x11";

thread_local! {
    /// `true` on every thread that created a [`ParityHost`] (the CLAP main thread).
    static IS_MAIN_THREAD: Cell<bool> = const { Cell::new(false) };
    /// `true` while this thread is inside an audio-thread call into the plugin.
    static IN_AUDIO_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with this thread marked as the audio thread.
fn as_audio_thread<R>(f: impl FnOnce() -> R) -> R {
    let previous = IN_AUDIO_CALL.with(|c| c.replace(true));
    let result = f();
    IN_AUDIO_CALL.with(|c| c.set(previous));
    result
}

// ---------------------------------------------------------------------------------------------
// Bundle loading
// ---------------------------------------------------------------------------------------------

/// The bundle this test run uses: `$PARITY_CLAP_BUNDLE`, else
/// `<workspace root>/target/guard/bundled/Parity.clap`.
pub fn bundle_path() -> PathBuf {
    match std::env::var_os(BUNDLE_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => workspace_root().join("target/guard/bundled/Parity.clap"),
    }
}

/// The workspace root (the parent of this crate's manifest directory).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Loads the bundle once per process and keeps it loaded until the process exits (unloading a
/// Rust `cdylib` while its threads' TLS destructors are registered is asking for trouble).
fn plugin_entry() -> Result<PluginEntry, String> {
    static ENTRY: OnceLock<Result<PluginEntry, String>> = OnceLock::new();
    ENTRY
        .get_or_init(|| {
            let path = bundle_path();
            if !path.is_file() {
                return Err(format!(
                    "Parity CLAP bundle not found at {}.\nRun `cargo xtask test` (it builds the \
                     alloc-guard test bundle and then runs these tests), or point {BUNDLE_ENV} at \
                     a Parity.clap file.",
                    path.display()
                ));
            }
            // SAFETY: loading a plugin library runs its initialisers; this is the bundle we built.
            unsafe { PluginEntry::load(&path) }
                .map_err(|e| format!("cannot load CLAP bundle {}: {e}", path.display()))
        })
        .clone()
}

// ---------------------------------------------------------------------------------------------
// Host-side handlers
// ---------------------------------------------------------------------------------------------

/// Options for creating a [`ParityHost`].
#[derive(Debug, Clone, Copy)]
pub struct HostOptions {
    /// Offer the host-side `clap.gui` extension (a normal host does).
    pub offer_gui: bool,
}

impl Default for HostOptions {
    fn default() -> Self {
        Self { offer_gui: true }
    }
}

/// The `clack-host` handler set of [`ParityHost`].
pub struct Handlers;

/// Thread-safe host state: request flags and counters the plugin can touch from any thread.
pub struct HostShared {
    offer_gui: bool,
    callback_pending: AtomicBool,
    callback_requests: AtomicU32,
    restart_requests: AtomicU32,
    process_requests: AtomicU32,
    flush_requests: AtomicU32,
    log_messages: AtomicU32,
    gui_resize_requests: AtomicU32,
    gui_closed: AtomicU32,
}

impl HostShared {
    fn new(options: HostOptions) -> Self {
        Self {
            offer_gui: options.offer_gui,
            callback_pending: AtomicBool::new(false),
            callback_requests: AtomicU32::new(0),
            restart_requests: AtomicU32::new(0),
            process_requests: AtomicU32::new(0),
            flush_requests: AtomicU32::new(0),
            log_messages: AtomicU32::new(0),
            gui_resize_requests: AtomicU32::new(0),
            gui_closed: AtomicU32::new(0),
        }
    }
}

impl SharedHandler<'_> for HostShared {
    fn request_restart(&self) {
        self.restart_requests.fetch_add(1, Ordering::Relaxed);
    }

    fn request_process(&self) {
        self.process_requests.fetch_add(1, Ordering::Relaxed);
    }

    fn request_callback(&self) {
        self.callback_requests.fetch_add(1, Ordering::Relaxed);
        self.callback_pending.store(true, Ordering::Release);
    }
}

impl HostLogImpl for HostShared {
    fn log(&self, severity: LogSeverity, message: &str) {
        self.log_messages.fetch_add(1, Ordering::Relaxed);
        // Printing allocates: never do it from the audio thread.
        if !IN_AUDIO_CALL.with(Cell::get) {
            eprintln!("[plugin log {severity}] {message}");
        }
    }
}

impl HostParamsImplShared for HostShared {
    fn request_flush(&self) {
        self.flush_requests.fetch_add(1, Ordering::Relaxed);
    }
}

impl HostThreadCheckImpl for HostShared {
    fn is_main_thread(&self) -> bool {
        IS_MAIN_THREAD.with(Cell::get) && !IN_AUDIO_CALL.with(Cell::get)
    }

    fn is_audio_thread(&self) -> bool {
        IN_AUDIO_CALL.with(Cell::get)
    }
}

impl HostGuiImpl for HostShared {
    fn resize_hints_changed(&self) {}

    fn request_resize(&self, _new_size: GuiSize) -> Result<(), HostError> {
        self.gui_resize_requests.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn request_show(&self) -> Result<(), HostError> {
        Ok(())
    }

    fn request_hide(&self) -> Result<(), HostError> {
        Ok(())
    }

    fn closed(&self, _was_destroyed: bool) {
        self.gui_closed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Main-thread host state: counters of the main-thread callbacks the plugin made.
#[derive(Default)]
pub struct HostMainThread {
    param_rescans: Cell<u32>,
    param_clears: Cell<u32>,
    state_dirty: Cell<u32>,
    latency_changes: Cell<u32>,
    audio_ports_rescans: Cell<u32>,
    audio_ports_config_rescans: Cell<u32>,
    next_timer_id: Cell<u32>,
    timers: RefCell<Vec<(TimerId, u32)>>,
}

impl MainThreadHandler<'_> for HostMainThread {}

impl HostParamsImplMainThread for HostMainThread {
    fn rescan(&self, _flags: ParamRescanFlags) {
        self.param_rescans.set(self.param_rescans.get() + 1);
    }

    fn clear(&self, _param_id: ClapId, _flags: ParamClearFlags) {
        self.param_clears.set(self.param_clears.get() + 1);
    }
}

impl HostStateImpl for HostMainThread {
    fn mark_dirty(&self) {
        self.state_dirty.set(self.state_dirty.get() + 1);
    }
}

impl HostLatencyImpl for HostMainThread {
    fn changed(&self) {
        self.latency_changes.set(self.latency_changes.get() + 1);
    }
}

impl HostAudioPortsImpl for HostMainThread {
    fn is_rescan_flag_supported(&self, _flag: AudioPortRescanFlags) -> bool {
        true
    }

    fn rescan(&self, _flags: AudioPortRescanFlags) {
        self.audio_ports_rescans.set(self.audio_ports_rescans.get() + 1);
    }
}

impl HostAudioPortsConfigImpl for HostMainThread {
    fn rescan(&self) {
        self.audio_ports_config_rescans.set(self.audio_ports_config_rescans.get() + 1);
    }
}

impl HostTimerImpl for HostMainThread {
    fn register_timer(&self, period_ms: u32) -> Result<TimerId, HostError> {
        let id = TimerId(self.next_timer_id.get());
        self.next_timer_id.set(id.0 + 1);
        self.timers.borrow_mut().push((id, period_ms));
        Ok(id)
    }

    fn unregister_timer(&self, timer_id: TimerId) -> Result<(), HostError> {
        let mut timers = self.timers.borrow_mut();
        let before = timers.len();
        timers.retain(|(id, _)| *id != timer_id);
        if timers.len() == before {
            Err(HostError::Message("unknown timer id"))
        } else {
            Ok(())
        }
    }
}

impl HostHandlers for Handlers {
    type Shared<'a> = HostShared;
    type MainThread<'a> = HostMainThread;
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, shared: &Self::Shared<'_>) {
        builder
            .register::<HostLog>()
            .register::<HostParams>()
            .register::<HostState>()
            .register::<HostLatency>()
            .register::<HostAudioPorts>()
            .register::<HostAudioPortsConfig>()
            .register::<HostThreadCheck>()
            .register::<HostTimer>();
        if shared.offer_gui {
            builder.register::<HostGui>();
        }
    }
}

/// A snapshot of what the plugin asked of the host so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostStats {
    /// `host.request_callback()` calls.
    pub callback_requests: u32,
    /// `host.request_restart()` calls.
    pub restart_requests: u32,
    /// `host.request_process()` calls.
    pub process_requests: u32,
    /// `params.request_flush()` calls.
    pub flush_requests: u32,
    /// `log.log()` calls.
    pub log_messages: u32,
    /// `params.rescan()` calls.
    pub param_rescans: u32,
    /// `params.clear()` calls.
    pub param_clears: u32,
    /// `state.mark_dirty()` calls.
    pub state_dirty: u32,
    /// `latency.changed()` calls.
    pub latency_changes: u32,
    /// `audio-ports.rescan()` calls.
    pub audio_ports_rescans: u32,
    /// `audio-ports-config.rescan()` calls.
    pub audio_ports_config_rescans: u32,
    /// `gui.request_resize()` calls.
    pub gui_resize_requests: u32,
    /// `gui.closed()` calls.
    pub gui_closed: u32,
    /// Currently registered timers.
    pub timers: u32,
}

// ---------------------------------------------------------------------------------------------
// Descriptions returned by the host
// ---------------------------------------------------------------------------------------------

/// One parameter as reported by `clap.params`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDesc {
    /// CLAP parameter id (nice-plug: a hash of the string id).
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Module path (nice-plug: the `#[nested(group = ...)]` path).
    pub module: String,
    /// CLAP flags.
    pub flags: ParamInfoFlags,
    /// Minimum CLAP value.
    pub min: f64,
    /// Maximum CLAP value.
    pub max: f64,
    /// Default CLAP value.
    pub default: f64,
}

impl ParamDesc {
    /// `CLAP_PARAM_IS_BYPASS` is set.
    pub fn is_bypass(&self) -> bool {
        self.flags.contains(ParamInfoFlags::IS_BYPASS)
    }

    /// `CLAP_PARAM_IS_STEPPED` is set.
    pub fn is_stepped(&self) -> bool {
        self.flags.contains(ParamInfoFlags::IS_STEPPED)
    }

    /// Maps `t` in `0..=1` linearly onto `min..=max` (rounded for stepped params).
    pub fn lerp(&self, t: f64) -> f64 {
        let v = self.min + (self.max - self.min) * t;
        if self.is_stepped() {
            v.round()
        } else {
            v
        }
    }
}

/// One audio port as reported by `clap.audio-ports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDesc {
    /// Port id.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Number of channels.
    pub channel_count: u32,
    /// `CLAP_AUDIO_PORT_IS_MAIN` is set.
    pub is_main: bool,
    /// Port type (`"mono"`, `"stereo"`, ...), if any.
    pub port_type: Option<String>,
}

/// One configuration as reported by `clap.audio-ports-config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortsConfigDesc {
    /// Configuration id (pass to [`ParityHost::select_audio_ports_config`]).
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Channels of the main input port, if any.
    pub main_input_channels: Option<u32>,
    /// Channels of the main output port, if any.
    pub main_output_channels: Option<u32>,
}

/// A parameter change at an absolute frame of a [`ParityHost::render`] call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamChange {
    /// Frame index from the start of the rendered signal.
    pub frame: usize,
    /// CLAP parameter id.
    pub param_id: u32,
    /// CLAP value (any `f64`, including out-of-range and non-finite ones).
    pub value: f64,
}

/// Builds a `CLAP_EVENT_PARAM_VALUE` event for all ports/channels/keys/notes.
pub fn param_event(time: u32, param_id: u32, value: f64) -> ParamValueEvent {
    ParamValueEvent::new(time, ClapId::new(param_id), Pckn::match_all(), value)
}

// ---------------------------------------------------------------------------------------------
// The host
// ---------------------------------------------------------------------------------------------

/// One Parity instance inside a minimal, single-threaded CLAP host.
pub struct ParityHost {
    instance: PluginInstance<Handlers>,
    processor: Option<StartedPluginAudioProcessor<Handlers>>,
    channels: usize,
    max_frames: usize,
    sample_rate: f64,
    scratch_in: Vec<Vec<f32>>,
    in_ports: AudioPorts,
    out_ports: AudioPorts,
    out_events: EventBuffer,
    steady_time: u64,
}

/// Creates a host with [`HostOptions::default`], panicking with a clear message (including the
/// "run `cargo xtask test`" hint when the bundle is missing) if that fails.
pub fn new_host() -> ParityHost {
    ParityHost::new(HostOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

impl ParityHost {
    /// Loads the bundle (once per process), finds [`PLUGIN_ID`] and instantiates it.
    pub fn new(options: HostOptions) -> Result<Self, String> {
        let entry = plugin_entry()?;
        let factory = entry.get_plugin_factory().ok_or("the bundle has no CLAP plugin factory")?;
        let found = factory.plugin_descriptors().any(|d| d.id().is_some_and(|id| id == PLUGIN_ID));
        if !found {
            let ids: Vec<String> = factory
                .plugin_descriptors()
                .filter_map(|d| d.id().map(|id| id.to_string_lossy().into_owned()))
                .collect();
            return Err(format!("plugin {PLUGIN_ID:?} not in the bundle (found: {ids:?})"));
        }

        IS_MAIN_THREAD.with(|c| c.set(true));
        let host_info = HostInfo::new(
            "Parity test host",
            "Parity Audio",
            "https://example.invalid/parity",
            env!("CARGO_PKG_VERSION"),
        )
        .map_err(|e| e.to_string())?;
        let instance = PluginInstance::<Handlers>::new(
            |_| HostShared::new(options),
            |_| HostMainThread::default(),
            &entry,
            PLUGIN_ID,
            &host_info,
        )
        .map_err(|e| format!("cannot instantiate {PLUGIN_ID:?}: {e}"))?;

        let mut host = Self {
            instance,
            processor: None,
            channels: 2,
            max_frames: 0,
            sample_rate: 0.0,
            scratch_in: Vec::new(),
            in_ports: AudioPorts::with_capacity(2, 1),
            out_ports: AudioPorts::with_capacity(2, 1),
            out_events: EventBuffer::with_capacity(64),
            steady_time: 0,
        };
        host.pump_main_thread();
        Ok(host)
    }

    // --- lifecycle --------------------------------------------------------------------------

    /// `activate(sample_rate, 1, max_frames)` followed by `start_processing()`.
    pub fn activate(&mut self, sample_rate: f64, max_frames: u32) -> Result<(), String> {
        if self.processor.is_some() {
            return Err("already active".into());
        }
        let channels = self.audio_ports(true).first().map_or(2, |p| p.channel_count as usize);
        let config =
            PluginAudioConfiguration { sample_rate, min_frames_count: 1, max_frames_count: max_frames };
        let stopped = self
            .instance
            .activate(|_, _| (), config)
            .map_err(|e| format!("activate({sample_rate} Hz, max {max_frames}) failed: {e}"))?;
        let started = match stopped.start_processing() {
            Ok(started) => started,
            Err(e) => {
                self.instance.deactivate(e.into_stopped_processor());
                return Err("start_processing() failed".into());
            }
        };
        self.processor = Some(started);
        self.channels = channels;
        self.max_frames = max_frames as usize;
        self.sample_rate = sample_rate;
        self.scratch_in = vec![vec![0.0; self.max_frames]; channels];
        self.in_ports = AudioPorts::with_capacity(channels, 1);
        self.out_ports = AudioPorts::with_capacity(channels, 1);
        self.steady_time = 0;
        self.pump_main_thread();
        Ok(())
    }

    /// `stop_processing()` followed by `deactivate()`. A no-op when inactive.
    pub fn deactivate(&mut self) {
        if let Some(processor) = self.processor.take() {
            let stopped = processor.stop_processing();
            self.instance.deactivate(stopped);
        }
        self.pump_main_thread();
    }

    /// Whether the plugin is active.
    pub fn is_active(&self) -> bool {
        self.processor.is_some()
    }

    /// The plugin's `reset()` (on the audio thread, between process calls).
    pub fn reset(&mut self) -> Result<(), String> {
        let processor = self.processor.as_mut().ok_or("reset() needs an active plugin")?;
        as_audio_thread(|| processor.reset());
        self.steady_time = 0;
        self.pump_main_thread();
        Ok(())
    }

    /// Number of channels of the main ports in the current layout (valid once active).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The activation's sample rate (0 when never activated).
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// The activation's `max_frames_count` (0 when never activated).
    pub fn max_frames(&self) -> usize {
        self.max_frames
    }

    /// Runs the plugin's `on_main_thread()` if it asked for it, like a host's event loop would.
    pub fn pump_main_thread(&mut self) {
        for _ in 0..16 {
            let pending =
                self.instance.access_shared_handler(|s| s.callback_pending.swap(false, Ordering::AcqRel));
            if !pending {
                break;
            }
            self.instance.call_on_main_thread_callback();
        }
    }

    // --- processing -------------------------------------------------------------------------

    /// Processes one block: `input`/`output` are per-channel buffers of at least `frames` samples,
    /// starting at `start`. Event times are relative to the block.
    fn process_range(
        &mut self,
        input: &[Vec<f32>],
        output: &mut [Vec<f32>],
        start: usize,
        frames: usize,
        events: &[ParamValueEvent],
    ) -> Result<ProcessStatus, String> {
        let processor = self.processor.as_mut().ok_or("process() needs an active plugin")?;
        if input.len() != self.channels || output.len() != self.channels {
            return Err(format!(
                "layout has {} channels, got {} in / {} out",
                self.channels,
                input.len(),
                output.len()
            ));
        }
        if frames == 0 || frames > self.max_frames {
            return Err(format!("block of {frames} frames (max {})", self.max_frames));
        }
        for (scratch, channel) in self.scratch_in.iter_mut().zip(input) {
            scratch[..frames].copy_from_slice(&channel[start..start + frames]);
        }
        let in_buffers = self.in_ports.with_input_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(
                self.scratch_in.iter_mut().map(|b| InputChannel::variable(&mut b[..frames])),
            ),
        }]);
        let mut out_buffers = self.out_ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(
                output.iter_mut().map(|b| &mut b[start..start + frames]),
            ),
        }]);
        let in_events = InputEvents::from_buffer(&events);
        self.out_events.clear();
        let mut out_events = OutputEvents::from_buffer(&mut self.out_events);
        let steady_time = self.steady_time;
        let status = as_audio_thread(|| {
            processor.process(
                &in_buffers,
                &mut out_buffers,
                &in_events,
                &mut out_events,
                Some(steady_time),
                None,
            )
        })
        .map_err(|e| format!("process() failed: {e}"))?;
        self.steady_time += frames as u64;
        self.pump_main_thread();
        Ok(status)
    }

    /// Processes one block of `input[0].len()` frames into `output` (same shape).
    pub fn process_block(
        &mut self,
        input: &[Vec<f32>],
        output: &mut [Vec<f32>],
        events: &[ParamValueEvent],
    ) -> Result<ProcessStatus, String> {
        let frames = input.first().map_or(0, Vec::len);
        self.process_range(input, output, 0, frames, events)
    }

    /// Renders a whole signal in blocks of `next_block()` frames (clamped to `1..=max_frames`),
    /// routing each [`ParamChange`] to the block containing its frame.
    pub fn render(
        &mut self,
        input: &[Vec<f32>],
        mut next_block: impl FnMut() -> usize,
        changes: &[ParamChange],
    ) -> Result<Vec<Vec<f32>>, String> {
        let len = input.first().map_or(0, Vec::len);
        let mut output = vec![vec![0.0f32; len]; input.len()];
        let mut changes = changes.to_vec();
        changes.sort_by_key(|c| c.frame);
        let mut next_change = 0;
        let mut events = Vec::new();
        let mut pos = 0;
        while pos < len {
            let frames = next_block().clamp(1, self.max_frames.max(1)).min(len - pos);
            events.clear();
            while next_change < changes.len() && changes[next_change].frame < pos + frames {
                let c = changes[next_change];
                let time = u32::try_from(c.frame.saturating_sub(pos)).unwrap_or(0);
                events.push(param_event(time, c.param_id, c.value));
                next_change += 1;
            }
            self.process_range(input, &mut output, pos, frames, &events)?;
            pos += frames;
        }
        Ok(output)
    }

    /// Renders like a DAW with plugin delay compensation: `input` followed by the reported
    /// latency in zeros, with the first `latency` output frames dropped, so the output lines up
    /// with the input (as pedalboard does for VST3).
    pub fn render_aligned(
        &mut self,
        input: &[Vec<f32>],
        next_block: impl FnMut() -> usize,
        changes: &[ParamChange],
    ) -> Result<Vec<Vec<f32>>, String> {
        let latency = self.latency().unwrap_or(0) as usize;
        let padded: Vec<Vec<f32>> = input
            .iter()
            .map(|channel| channel.iter().copied().chain(std::iter::repeat_n(0.0, latency)).collect())
            .collect();
        let output = self.render(&padded, next_block, changes)?;
        Ok(output.into_iter().map(|channel| channel[latency..].to_vec()).collect())
    }

    /// Renders `input` in fixed blocks of `block` frames without parameter changes.
    pub fn render_fixed(&mut self, input: &[Vec<f32>], block: usize) -> Result<Vec<Vec<f32>>, String> {
        self.render(input, || block, &[])
    }

    // --- params -----------------------------------------------------------------------------

    fn params_ext(&mut self) -> Result<PluginParams, String> {
        self.instance
            .plugin_shared_handle()
            .get_extension::<PluginParams>()
            .ok_or_else(|| "the plugin has no clap.params extension".to_string())
    }

    /// All parameters (`count` + `get_info`).
    pub fn params(&mut self) -> Result<Vec<ParamDesc>, String> {
        let ext = self.params_ext()?;
        let handle = self.instance.plugin_handle();
        let mut out = Vec::new();
        for index in 0..ext.count(&handle) {
            let mut buffer = ParamInfoBuffer::new();
            let info = ext
                .get_info(&handle, index, &mut buffer)
                .ok_or_else(|| format!("params.get_info({index}) failed"))?;
            out.push(ParamDesc {
                id: info.id.get(),
                name: String::from_utf8_lossy(info.name).into_owned(),
                module: String::from_utf8_lossy(info.module).into_owned(),
                flags: info.flags,
                min: info.min_value,
                max: info.max_value,
                default: info.default_value,
            });
        }
        Ok(out)
    }

    /// The first parameter whose name or module (case-insensitive) contains every needle.
    pub fn find_param(&mut self, needles: &[&str]) -> Result<ParamDesc, String> {
        let params = self.params()?;
        params
            .iter()
            .find(|p| {
                let hay = format!("{} {}", p.module, p.name).to_lowercase();
                needles.iter().all(|n| hay.contains(&n.to_lowercase()))
            })
            .cloned()
            .ok_or_else(|| format!("no parameter matching {needles:?} in {params:#?}"))
    }

    /// `params.get_value(id)`.
    pub fn param_value(&mut self, id: u32) -> Option<f64> {
        let ext = self.params_ext().ok()?;
        let handle = self.instance.plugin_handle();
        ext.get_value(&handle, ClapId::new(id))
    }

    /// `params.value_to_text(id, value)`.
    pub fn value_to_text(&mut self, id: u32, value: f64) -> Option<String> {
        let ext = self.params_ext().ok()?;
        let handle = self.instance.plugin_handle();
        let mut buffer = [0u8; 256];
        ext.value_to_text(&handle, ClapId::new(id), value, &mut buffer)
            .ok()
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
    }

    /// `params.text_to_value(id, text)`.
    pub fn text_to_value(&mut self, id: u32, text: &str) -> Option<f64> {
        let ext = self.params_ext().ok()?;
        let handle = self.instance.plugin_handle();
        let text = CString::new(text).ok()?;
        ext.text_to_value(&handle, ClapId::new(id), &text)
    }

    /// `params.flush(events)`: on the main thread when inactive, on the audio thread (between
    /// process calls) when active.
    pub fn flush_params(&mut self, events: &[ParamValueEvent]) -> Result<(), String> {
        let ext = self.params_ext()?;
        let in_events = InputEvents::from_buffer(&events);
        self.out_events.clear();
        let mut out_events = OutputEvents::from_buffer(&mut self.out_events);
        if let Some(processor) = self.processor.as_mut() {
            let mut handle = processor.plugin_handle();
            as_audio_thread(|| ext.flush_active(&mut handle, &in_events, &mut out_events));
        } else {
            let mut handle = self.instance.inactive_plugin_handle().ok_or("inactive handle unavailable")?;
            ext.flush(&mut handle, &in_events, &mut out_events);
        }
        self.pump_main_thread();
        Ok(())
    }

    /// Sets parameters through `params.flush` (each `(id, value)` at time 0).
    pub fn set_params(&mut self, values: &[(u32, f64)]) -> Result<(), String> {
        let events: Vec<ParamValueEvent> = values.iter().map(|&(id, v)| param_event(0, id, v)).collect();
        self.flush_params(&events)
    }

    // --- state ------------------------------------------------------------------------------

    fn state_ext(&mut self) -> Result<PluginState, String> {
        self.instance
            .plugin_shared_handle()
            .get_extension::<PluginState>()
            .ok_or_else(|| "the plugin has no clap.state extension".to_string())
    }

    /// `state.save()` into memory.
    pub fn save_state(&mut self) -> Result<Vec<u8>, String> {
        let ext = self.state_ext()?;
        let handle = self.instance.plugin_handle();
        let mut bytes = Vec::new();
        ext.save(&handle, &mut bytes).map_err(|e| e.to_string())?;
        self.pump_main_thread();
        Ok(bytes)
    }

    /// `state.load()` from memory. `Err` when the plugin refuses the data.
    pub fn load_state(&mut self, bytes: &[u8]) -> Result<(), String> {
        let ext = self.state_ext()?;
        let handle = self.instance.plugin_handle();
        let mut reader = bytes;
        let result = ext.load(&handle, &mut reader).map_err(|e| e.to_string());
        self.pump_main_thread();
        result
    }

    // --- render mode -------------------------------------------------------------------------

    /// `render.set()`: offline (a bounce) or realtime. nice-plug restarts an active plugin to
    /// apply it, so call it while inactive.
    pub fn set_render_mode(&mut self, offline: bool) -> Result<(), String> {
        let ext = self
            .instance
            .plugin_shared_handle()
            .get_extension::<PluginRender>()
            .ok_or("the plugin has no clap.render extension")?;
        let handle = self.instance.plugin_handle();
        let mode = if offline { RenderMode::Offline } else { RenderMode::Realtime };
        ext.set(&handle, mode).map_err(|e| e.to_string())?;
        self.pump_main_thread();
        Ok(())
    }

    // --- latency, ports ---------------------------------------------------------------------

    /// `latency.get()`, or `None` without the extension.
    pub fn latency(&mut self) -> Option<u32> {
        let ext = self.instance.plugin_shared_handle().get_extension::<PluginLatency>()?;
        let handle = self.instance.plugin_handle();
        Some(ext.get(&handle))
    }

    /// `audio-ports.count/get` for inputs or outputs (empty without the extension).
    pub fn audio_ports(&mut self, is_input: bool) -> Vec<PortDesc> {
        let Some(ext) = self.instance.plugin_shared_handle().get_extension::<PluginAudioPorts>() else {
            return Vec::new();
        };
        let handle = self.instance.plugin_handle();
        (0..ext.count(&handle, is_input))
            .filter_map(|index| {
                let mut buffer = AudioPortInfoBuffer::new();
                let info = ext.get(&handle, index, is_input, &mut buffer)?;
                Some(PortDesc {
                    id: info.id.get(),
                    name: String::from_utf8_lossy(info.name).into_owned(),
                    channel_count: info.channel_count,
                    is_main: info.flags.contains(AudioPortFlags::IS_MAIN),
                    port_type: info.port_type.map(|t| t.0.to_string_lossy().into_owned()),
                })
            })
            .collect()
    }

    /// `audio-ports-config.count/get` (empty without the extension).
    pub fn audio_ports_configs(&mut self) -> Vec<PortsConfigDesc> {
        let Some(ext) = self.instance.plugin_shared_handle().get_extension::<PluginAudioPortsConfig>() else {
            return Vec::new();
        };
        let handle = self.instance.plugin_handle();
        (0..ext.count(&handle))
            .filter_map(|index| {
                let mut buffer = AudioPortsConfigBuffer::new();
                let config = ext.get(&handle, index, &mut buffer)?;
                Some(PortsConfigDesc {
                    id: config.id.get(),
                    name: String::from_utf8_lossy(config.name).into_owned(),
                    main_input_channels: config.main_input.map(|p| p.channel_count),
                    main_output_channels: config.main_output.map(|p| p.channel_count),
                })
            })
            .collect()
    }

    /// `audio-ports-config.select(id)`; the plugin must be inactive.
    pub fn select_audio_ports_config(&mut self, id: u32) -> Result<(), String> {
        if self.is_active() {
            return Err("audio-ports-config.select needs an inactive plugin".into());
        }
        let ext = self
            .instance
            .plugin_shared_handle()
            .get_extension::<PluginAudioPortsConfig>()
            .ok_or("the plugin has no clap.audio-ports-config extension")?;
        let handle = self.instance.plugin_handle();
        ext.select(&handle, ClapId::new(id))
            .map_err(|e| format!("audio-ports-config.select({id}) failed: {e}"))
    }

    // --- GUI --------------------------------------------------------------------------------

    fn gui_ext(&mut self) -> Result<PluginGui, String> {
        self.instance
            .plugin_shared_handle()
            .get_extension::<PluginGui>()
            .ok_or_else(|| "the plugin has no clap.gui extension".to_string())
    }

    /// `gui.is_api_supported(api, floating)`.
    pub fn gui_is_api_supported(&mut self, api: &CStr, floating: bool) -> Result<bool, String> {
        let ext = self.gui_ext()?;
        let handle = self.instance.plugin_handle();
        Ok(ext
            .is_api_supported(&handle, GuiConfiguration { api_type: GuiApiType(api), is_floating: floating }))
    }

    /// `gui.create(api, floating)`.
    pub fn gui_create(&mut self, api: &CStr, floating: bool) -> Result<(), String> {
        let ext = self.gui_ext()?;
        let handle = self.instance.plugin_handle();
        let result = ext
            .create(&handle, GuiConfiguration { api_type: GuiApiType(api), is_floating: floating })
            .map_err(|e| format!("gui.create({api:?}, floating={floating}) failed: {e}"));
        self.pump_main_thread();
        result
    }

    /// `gui.get_size()`.
    pub fn gui_size(&mut self) -> Option<(u32, u32)> {
        let ext = self.gui_ext().ok()?;
        let handle = self.instance.plugin_handle();
        ext.get_size(&handle).map(|s| (s.width, s.height))
    }

    /// `gui.set_scale(scale)`.
    pub fn gui_set_scale(&mut self, scale: f64) -> Result<(), String> {
        let ext = self.gui_ext()?;
        let handle = self.instance.plugin_handle();
        let result = ext.set_scale(&handle, scale).map_err(|e| format!("gui.set_scale({scale}) failed: {e}"));
        self.pump_main_thread();
        result
    }

    /// `gui.destroy()`.
    pub fn gui_destroy(&mut self) -> Result<(), String> {
        let ext = self.gui_ext()?;
        let handle = self.instance.plugin_handle();
        ext.destroy(&handle);
        self.pump_main_thread();
        Ok(())
    }

    // --- introspection ----------------------------------------------------------------------

    /// What the plugin asked of the host so far.
    pub fn stats(&self) -> HostStats {
        let mut stats = self.instance.access_shared_handler(|s| HostStats {
            callback_requests: s.callback_requests.load(Ordering::Relaxed),
            restart_requests: s.restart_requests.load(Ordering::Relaxed),
            process_requests: s.process_requests.load(Ordering::Relaxed),
            flush_requests: s.flush_requests.load(Ordering::Relaxed),
            log_messages: s.log_messages.load(Ordering::Relaxed),
            gui_resize_requests: s.gui_resize_requests.load(Ordering::Relaxed),
            gui_closed: s.gui_closed.load(Ordering::Relaxed),
            ..HostStats::default()
        });
        self.instance.access_handler(|m| {
            stats.param_rescans = m.param_rescans.get();
            stats.param_clears = m.param_clears.get();
            stats.state_dirty = m.state_dirty.get();
            stats.latency_changes = m.latency_changes.get();
            stats.audio_ports_rescans = m.audio_ports_rescans.get();
            stats.audio_ports_config_rescans = m.audio_ports_config_rescans.get();
            stats.timers = u32::try_from(m.timers.borrow().len()).unwrap_or(u32::MAX);
        });
        stats
    }
}

impl Drop for ParityHost {
    fn drop(&mut self) {
        // clack-host leaks an instance whose audio processor is still alive: deactivate first.
        self.deactivate();
    }
}

// ---------------------------------------------------------------------------------------------
// Signals and checks
// ---------------------------------------------------------------------------------------------

/// A tiny xorshift64* generator: deterministic test noise without a `rand` dependency.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (0 is remapped to a fixed non-zero seed).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[-1, 1)`.
    pub fn bipolar(&mut self) -> f32 {
        (self.next_f64() * 2.0 - 1.0) as f32
    }

    /// Uniform integer in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// A −12 dBFS (peak) test signal: a 997 Hz sine (slightly detuned per channel) plus white noise.
pub fn test_signal(channels: usize, frames: usize, sample_rate: f64, seed: u64) -> Vec<Vec<f32>> {
    let peak = 10f64.powf(-12.0 / 20.0);
    let mut rng = XorShift::new(seed);
    (0..channels)
        .map(|ch| {
            let freq = 997.0 * (1.0 + 0.01 * ch as f64);
            (0..frames)
                .map(|n| {
                    let phase = std::f64::consts::TAU * freq * n as f64 / sample_rate;
                    let sine = 0.8 * phase.sin();
                    let noise = 0.2 * f64::from(rng.bipolar());
                    ((sine + noise) * peak) as f32
                })
                .collect()
        })
        .collect()
}

/// `signal` followed by `frames` of digital silence on every channel (exposes denormal tails).
pub fn with_silence(mut signal: Vec<Vec<f32>>, frames: usize) -> Vec<Vec<f32>> {
    for channel in &mut signal {
        channel.resize(channel.len() + frames, 0.0);
    }
    signal
}

/// Panics unless every sample is finite and not subnormal.
pub fn assert_clean(output: &[Vec<f32>], context: &str) {
    for (ch, channel) in output.iter().enumerate() {
        if let Some((i, v)) = channel.iter().enumerate().find(|(_, v)| !v.is_finite() || v.is_subnormal()) {
            panic!("{context}: channel {ch} sample {i} is {v:e} (not finite or subnormal)");
        }
    }
}

/// Panics unless `a` and `b` are bit-identical, naming the first differing sample.
pub fn assert_bit_identical(a: &[Vec<f32>], b: &[Vec<f32>], context: &str) {
    assert_eq!(a.len(), b.len(), "{context}: channel count differs");
    for (ch, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.len(), y.len(), "{context}: channel {ch} length differs");
        if let Some(i) = x.iter().zip(y).position(|(p, q)| p.to_bits() != q.to_bits()) {
            let mut detail = String::new();
            let lo = i.saturating_sub(2);
            let hi = (i + 3).min(x.len());
            for k in lo..hi {
                let _ = write!(detail, "\n  [{k}] {:e} vs {:e}", x[k], y[k]);
            }
            panic!("{context}: channel {ch} first differs at sample {i}:{detail}");
        }
    }
}

/// Largest absolute sample over all channels.
pub fn peak(signal: &[Vec<f32>]) -> f32 {
    signal.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs()))
}

// ---------------------------------------------------------------------------------------------
// Child-process helper for tests that may abort the process
// ---------------------------------------------------------------------------------------------

/// The result of [`run_test_in_child`].
#[derive(Debug)]
pub struct ChildOutcome {
    /// Exit status of the child test binary.
    pub status: ExitStatus,
    /// The child did not finish in time and was killed.
    pub timed_out: bool,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
}

impl ChildOutcome {
    /// The child's stderr lines that mention a panic or an abort (for short failure messages).
    pub fn panic_lines(&self) -> String {
        self.stderr
            .lines()
            .filter(|l| l.contains("panicked") || l.contains("abort") || l.contains("wrapper.rs"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A one-line description of how the child ended (exit code or signal).
    pub fn describe(&self) -> String {
        if self.timed_out {
            return "hung (killed after the timeout)".to_string();
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if let Some(signal) = self.status.signal() {
                let name = match signal {
                    6 => " (SIGABRT)",
                    11 => " (SIGSEGV)",
                    4 => " (SIGILL)",
                    _ => "",
                };
                return format!("killed by signal {signal}{name}");
            }
        }
        format!("exited with {}", self.status)
    }
}

/// `true` when this process is a child started by [`run_test_in_child`] for `case`.
pub fn is_child_case(case: &str) -> bool {
    std::env::var(CHILD_CASE_ENV).is_ok_and(|v| v == case)
}

/// Re-executes the current test binary running only `test_name` (exact match, ignored tests
/// included) with [`CHILD_CASE_ENV`] set to `case`, so a test can run code that may abort the
/// process without killing the test runner.
///
/// A child still running after `timeout` is killed (by its own pid) and reported as hung.
pub fn run_test_in_child(test_name: &str, case: &str, timeout: Duration) -> ChildOutcome {
    let exe = std::env::current_exe().expect("current test executable");
    let tag = format!("parity-child-{}-{case}", std::process::id());
    let out_path = std::env::temp_dir().join(format!("{tag}.out"));
    let err_path = std::env::temp_dir().join(format!("{tag}.err"));
    let mut child = Command::new(exe)
        .args([test_name, "--exact", "--include-ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_CASE_ENV, case)
        .stdout(std::fs::File::create(&out_path).expect("child stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("child stderr file"))
        .spawn()
        .expect("spawn child test process");
    let started = Instant::now();
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break (status, false);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            break (child.wait().expect("reap killed child"), true);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |path: &Path| {
        let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned());
        let _ = std::fs::remove_file(path);
        text.unwrap_or_default()
    };
    ChildOutcome { status, timed_out, stdout: read(&out_path), stderr: read(&err_path) }
}
