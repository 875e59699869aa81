"""Parity's VST3 bundle in a real JUCE host (pedalboard): parameters, processing at many buffer
sizes, state round trips. The bundle is the alloc-guard build, so any allocation on the audio
thread aborts this process."""

import os
import subprocess

import numpy as np
import pedalboard
import pytest

RATE = 48_000


def signal(seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    """Two sines and a little noise at about −12 dBFS, stereo, float32 (channels first)."""
    rng = np.random.default_rng(1234)
    t = np.arange(int(seconds * rate)) / rate
    left = 0.2 * np.sin(2 * np.pi * 997 * t) + 0.05 * np.sin(2 * np.pi * 61 * t)
    right = 0.2 * np.sin(2 * np.pi * 997 * t + 1.0) + 0.05 * np.sin(2 * np.pi * 61 * t)
    noise = 0.01 * rng.standard_normal((2, t.size))
    return (np.stack([left, right]) + noise).astype(np.float32)


def load(vst3_path):
    return pedalboard.load_plugin(str(vst3_path))


def settle(plugin):
    """JUCE applies parameter changes on the next process() call."""
    plugin.process(np.zeros((2, 64), dtype=np.float32), RATE, buffer_size=64, reset=False)


def test_identity_and_parameters(vst3_path):
    plugin = load(vst3_path)
    assert plugin.name == "Parity"
    names = set(plugin.parameters.keys())
    # pedalboard names parameters from their name and unit ("Input Trim", " dB").
    assert {"input_trim_db", "output_gain_db", "bypass"} <= names, names
    assert plugin.input_trim_db == pytest.approx(0.0)
    assert plugin.output_gain_db == pytest.approx(0.0)
    assert plugin.parameters["bypass"].raw_value == 0
    assert plugin.bypass == "Not Bypassed"


def test_defaults_are_a_bit_exact_identity(vst3_path):
    plugin = load(vst3_path)
    audio = signal()
    out = plugin.process(audio, RATE, buffer_size=512, reset=True)
    np.testing.assert_array_equal(out, audio)


@pytest.mark.parametrize("buffer_size", [1, 17, 64, 512, 4096, 8192])
def test_output_is_the_same_for_every_buffer_size(vst3_path, buffer_size):
    plugin = load(vst3_path)
    plugin.input_trim_db = 4.5
    plugin.output_gain_db = -9.0
    settle(plugin)
    audio = signal(0.5)
    reference = plugin.process(audio, RATE, buffer_size=8192, reset=True)
    out = plugin.process(audio, RATE, buffer_size=buffer_size, reset=True)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out, reference)


def test_gains_apply_exactly(vst3_path):
    plugin = load(vst3_path)
    plugin.input_trim_db = 6.0
    plugin.output_gain_db = -12.0
    settle(plugin)
    audio = signal()
    out = plugin.process(audio, RATE, buffer_size=1024, reset=True)
    expected_gain = 10 ** ((6.0 - 12.0) / 20)
    np.testing.assert_allclose(out, audio * expected_gain, rtol=2e-6, atol=1e-7)


def test_bypass_passes_the_input_through(vst3_path):
    plugin = load(vst3_path)
    plugin.input_trim_db = 12.0
    plugin.bypass = "Bypassed"
    settle(plugin)
    audio = signal()
    out = plugin.process(audio, RATE, buffer_size=256, reset=True)
    np.testing.assert_array_equal(out, audio)


def test_raw_state_round_trip(vst3_path):
    plugin = load(vst3_path)
    plugin.input_trim_db = -3.3
    plugin.output_gain_db = 7.1
    settle(plugin)
    state = plugin.raw_state
    assert len(state) > 8

    fresh = load(vst3_path)
    fresh.raw_state = state
    settle(fresh)
    assert fresh.input_trim_db == pytest.approx(-3.3, abs=1e-4)
    assert fresh.output_gain_db == pytest.approx(7.1, abs=1e-4)
    assert fresh.raw_state == state

    audio = signal(0.25)
    np.testing.assert_array_equal(
        fresh.process(audio, RATE, buffer_size=512, reset=True),
        plugin.process(audio, RATE, buffer_size=512, reset=True),
    )


def test_broken_state_is_refused_without_changing_the_current_one(vst3_path):
    plugin = load(vst3_path)
    plugin.output_gain_db = 5.0
    settle(plugin)
    before = plugin.raw_state
    rng = np.random.default_rng(7)
    for broken in [b"", before[: len(before) // 2], rng.bytes(4096), b"\xff" * 16]:
        try:
            plugin.raw_state = broken
        except Exception:  # pedalboard may report the refusal; either way nothing may change
            pass
        settle(plugin)
        assert plugin.output_gain_db == pytest.approx(5.0, abs=1e-4)
        assert plugin.raw_state == before


@pytest.mark.parametrize("rate", [44_100, 96_000, 8_000, 192_000])
def test_other_sample_rates(vst3_path, rate):
    plugin = load(vst3_path)
    audio = signal(0.3, rate)
    out = plugin.process(audio, rate, buffer_size=333, reset=True)
    np.testing.assert_array_equal(out, audio)


def test_hostile_input_stays_finite(vst3_path):
    plugin = load(vst3_path)
    audio = signal(0.2)
    audio[0, 100] = np.nan
    audio[1, 200] = np.inf
    audio[0, 300] = -np.inf
    audio[1, 400] = 1e30
    out = plugin.process(audio, RATE, buffer_size=128, reset=True)
    assert np.all(np.isfinite(out))
    assert np.max(np.abs(out)) < 1.0


def test_mono_layout(vst3_path):
    plugin = load(vst3_path)
    audio = signal(0.2)[:1]
    out = plugin.process(audio, RATE, buffer_size=256, reset=True)
    assert out.shape[0] in (1, 2)
    np.testing.assert_array_equal(out[0], audio[0])


@pytest.mark.parametrize("channels", [2, 1])
def test_same_output_as_the_clap_host(vst3_path, clap_path, clap_render_path, tmp_path, channels):
    """The VST3 in JUCE and the CLAP in our clack host run the same engine: same settings, same
    input, bit-identical output."""
    audio = np.ascontiguousarray(signal(0.5)[:channels])
    plugin = load(vst3_path)
    plugin.input_trim_db = 4.5
    plugin.output_gain_db = -9.0
    settle(plugin)
    vst3_out = plugin.process(audio, RATE, buffer_size=512, reset=True)

    audio.astype("<f4").tofile(tmp_path / "in.f32")
    subprocess.run(
        [
            str(clap_render_path),
            "--rate", str(RATE), "--channels", str(channels), "--block", "512",
            "--set", "Input Trim=4.5", "--set", "Output Gain=-9.0",
            str(tmp_path / "in.f32"), str(tmp_path / "out.f32"),
        ],
        check=True,
        env={**os.environ, "PARITY_CLAP_BUNDLE": str(clap_path)},
    )
    clap_out = np.fromfile(tmp_path / "out.f32", dtype="<f4").reshape(channels, -1)
    assert np.max(np.abs(clap_out - audio)) > 0.01, "the settings must change the audio"
    np.testing.assert_array_equal(vst3_out[:channels], clap_out)
