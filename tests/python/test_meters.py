"""Parity's meters against independent references: pyloudnorm (BS.1770 with the DeMan filter
derivation) for integrated loudness, and a 16x-oversampled true-peak reference (scipy's polyphase
resampler) — on music-like signals generated here, at 44.1 and 48 kHz."""

import json
import os
import subprocess

import numpy as np
import pyloudnorm
import pytest

from signals import music_like, true_peak_16x_dbtp

WORKSPACE_TARGET = os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug")


@pytest.fixture(scope="session")
def measure_path():
    path = os.environ.get("PARITY_MEASURE", os.path.join(WORKSPACE_TARGET, "parity-measure"))
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run `cargo xtask test`")
    return path


def parity_measure(measure_path, audio: np.ndarray, rate: int, tmp_path) -> dict:
    path = tmp_path / "signal.f32"
    np.ascontiguousarray(audio).astype("<f4").tofile(path)
    out = subprocess.run(
        [measure_path, "--rate", str(rate), "--channels", str(audio.shape[0]), str(path)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize("rate", [44_100, 48_000])
@pytest.mark.parametrize("seed", [1, 2])
def test_integrated_loudness_agrees_with_pyloudnorm(measure_path, tmp_path, rate, seed):
    audio = music_like(rate, 45.0, seed)
    ours = parity_measure(measure_path, audio, rate, tmp_path)["integrated_lufs"]
    theirs = pyloudnorm.Meter(rate, filter_class="DeMan").integrated_loudness(audio.T.astype(np.float64))
    print(f"{rate} Hz seed {seed}: parity {ours:.4f} LUFS, pyloudnorm {theirs:.4f} LUFS")
    assert abs(ours - theirs) <= 0.02


@pytest.mark.parametrize("rate", [44_100, 48_000])
def test_true_peak_agrees_with_a_16x_oversampled_reference(measure_path, tmp_path, rate):
    audio = music_like(rate, 20.0, 3)
    # Inter-sample peaks: a band-limited burst near fs/4 with a 45° phase offset.
    n = np.arange(4096)
    audio[:, 10_000:14_096] += (0.5 * np.sin(np.pi / 2 * n + np.pi / 4) * np.hanning(4096)).astype(np.float32)
    ours = parity_measure(measure_path, audio, rate, tmp_path)["true_peak_dbtp"]
    # A long interpolator (256 taps per phase, Kaiser β = 9): this signal reaches Nyquist (the
    # kick's chirp aliases through the whole band late in the file), where resample_poly's
    # default filter (20 taps per phase, β = 5) reads 0.8 dB low at 48 kHz.
    reference = true_peak_16x_dbtp(audio)
    print(f"{rate} Hz: parity {ours:.3f} dBTP, 16x reference {reference:.3f} dBTP")
    assert abs(ours - reference) <= 0.05
