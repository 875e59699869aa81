"""The offline CLI (`parity`) against independent references and the real plugin: analysis vs
pyloudnorm and a 16x true-peak reference, mastering to a target, identical output to the CLAP
bundle for the same saved settings, bad files, album/compare/selftest/demo end to end."""

import json
import os
import struct
import subprocess

import numpy as np
import pyloudnorm
import pytest
from PIL import Image
from scipy.io import wavfile

from signals import music_like, true_peak_16x_dbtp

WORKSPACE = os.path.join(os.path.dirname(__file__), "..", "..")


@pytest.fixture(scope="session")
def cli_path():
    path = os.environ.get("PARITY_CLI", os.path.join(WORKSPACE, "target", "debug", "parity"))
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run `cargo xtask test`")
    return path


def run(cli_path, *args, check=True):
    result = subprocess.run([cli_path, *map(str, args)], capture_output=True, text=True, timeout=600)
    assert "panicked" not in result.stderr, result.stderr
    if check:
        assert result.returncode == 0, result.stderr
    return result


def write_float_wav(path, audio: np.ndarray, rate: int):
    """Planar float audio as a 32-bit float WAV."""
    wavfile.write(path, rate, np.ascontiguousarray(audio.T).astype(np.float32))


def read_wav(path):
    rate, data = wavfile.read(path)
    if data.dtype == np.int16:
        data = data.astype(np.float64) / 32768.0
    elif data.dtype == np.int32:  # 24-bit is read left-justified into int32
        data = data.astype(np.float64) / 2147483648.0
    return rate, np.asarray(data, dtype=np.float64).T


def pyloudnorm_lufs(audio: np.ndarray, rate: int) -> float:
    return pyloudnorm.Meter(rate, filter_class="DeMan").integrated_loudness(np.asarray(audio, dtype=np.float64).T)


@pytest.mark.parametrize("rate", [44_100, 48_000])
def test_analyze_agrees_with_pyloudnorm_and_a_16x_true_peak(cli_path, tmp_path, rate):
    files = []
    for seed in (4, 5):
        audio = music_like(rate, 30.0, seed)
        # Inter-sample peaks: a burst near fs/4 with a 45° phase offset.
        n = np.arange(4096)
        audio[:, 20_000:24_096] += (0.6 * np.sin(np.pi / 2 * n + np.pi / 4) * np.hanning(4096)).astype(np.float32)
        path = tmp_path / f"mix{seed}.wav"
        write_float_wav(path, audio, rate)
        files.append((path, audio))
    report = json.loads(run(cli_path, "analyze", "--json", *[p for p, _ in files]).stdout)
    for entry, (path, audio) in zip(report["files"], files):
        assert entry["file"] == str(path)
        ours, theirs = entry["integrated_lufs"], pyloudnorm_lufs(audio, rate)
        tp_ours, tp_reference = entry["true_peak_dbtp"], true_peak_16x_dbtp(audio)
        print(f"{path.name} @ {rate}: I {ours:.4f} vs pyloudnorm {theirs:.4f}; TP {tp_ours:.3f} vs 16x {tp_reference:.3f}")
        assert abs(ours - theirs) <= 0.02
        assert abs(tp_ours - tp_reference) <= 0.1
        # The documented fields are all there, with the file's format.
        for field in ["loudness_range_lu", "max_momentary_lufs", "max_short_term_lufs", "sample_peak_dbfs",
                      "plr_db", "psr_db", "crest_db", "correlation", "low_band_correlation", "width_percent",
                      "dc_offset_dbfs", "overs", "octave_bands"]:
            assert field in entry, field
        assert entry["sample_rate_hz"] == rate and entry["channels"] == 2
        assert abs(entry["duration_s"] - 30.0) < 1e-6
        assert abs(entry["sample_peak_dbfs"] - 20 * np.log10(np.max(np.abs(audio)))) < 1e-3
        assert abs(entry["plr_db"] - (tp_ours - ours)) < 1e-9


def test_master_lands_on_the_target_under_the_ceiling(cli_path, tmp_path):
    demo_dir = tmp_path / "demo"
    run(cli_path, "demo", "--out", demo_dir)
    mixes = [demo_dir / "before.wav"]
    for seed, rate in [(6, 44_100), (7, 48_000)]:
        path = tmp_path / f"mix{seed}.wav"
        write_float_wav(path, 0.5 * music_like(rate, 40.0, seed), rate)
        mixes.append(path)
    for mix in mixes:
        out = tmp_path / f"{mix.stem}-master.wav"
        report = json.loads(
            run(cli_path, "master", mix, "-o", out, "--target", "-14", "--ceiling", "-1", "--json").stdout
        )
        rate, audio = read_wav(out)
        loudness, peak = pyloudnorm_lufs(audio, rate), true_peak_16x_dbtp(audio)
        print(f"{mix.name}: {report['before']['integrated_lufs']:.2f} -> {loudness:.2f} LUFS (pyloudnorm), "
              f"TP {peak:.2f} dBTP (16x), drive {report['limiter_drive_db']:.2f} dB, {report['passes']} passes")
        assert abs(loudness + 14.0) <= 0.3
        assert peak <= -0.9
        assert abs(report["after"]["integrated_lufs"] - loudness) <= 0.02
        # 24-bit by default, same length as the input.
        assert wavfile.read(out)[1].dtype == np.int32
        assert audio.shape[1] == read_wav(mix)[1].shape[1]


@pytest.mark.parametrize("channels", [2, 1])
def test_the_cli_renders_what_the_clap_plugin_renders(cli_path, clap_render_path, tmp_path, channels):
    rate = 48_000
    audio = music_like(rate, 8.0, 8)[:channels]
    raw_in = tmp_path / "in.f32"
    np.ascontiguousarray(audio).astype("<f4").tofile(raw_in)
    state = tmp_path / "state.json"
    settings = ["Input Trim=2.5", "Glue On=On", "Limiter Style=Punchy", "Drive=4", "Ceiling=-1.5", "Width=120"]
    args = [clap_render_path, "--rate", rate, "--channels", channels, "--block", 333]
    for setting in settings:
        args += ["--set", setting]
    subprocess.run([*map(str, args), "--save-state", str(state), str(raw_in), str(tmp_path / "clap.f32")], check=True)
    clap = np.fromfile(tmp_path / "clap.f32", dtype="<f4").reshape(channels, -1)
    # nice-plug's CLAP state stream: an 8-byte length, then the JSON. The CLI reads either.
    saved = json.loads(state.read_bytes()[8:])
    assert saved["params"]["gl_on"] == {"bool": True}, saved["params"]

    wav_in = tmp_path / "in.wav"
    write_float_wav(wav_in, audio, rate)
    out = tmp_path / "cli.wav"
    run(cli_path, "master", wav_in, "-o", out, "--settings", state, "--bits", "32")
    cli = wavfile.read(out)[1].T.reshape(channels, -1)
    assert cli.shape == clap.shape
    difference = np.max(np.abs(cli - clap))
    print(f"{channels} ch: max |CLI - CLAP| = {difference:.3g}, output peak {np.max(np.abs(cli)):.3f}")
    assert np.max(np.abs(clap - audio)) > 0.05, "the settings did nothing: the comparison would be vacuous"
    assert difference == 0.0


def wav_header(rate: int, channels: int, data_bytes: int, bits: int = 16) -> bytes:
    """A 16-byte-fmt PCM WAV header; absurd values wrap into their fields as a broken writer's would."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * block) % 2**32, block % 2**16, bits)
    return (b"RIFF" + struct.pack("<I", min(36 + data_bytes, 2**32 - 1)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", data_bytes))


def test_bad_files_get_one_clear_line_each_and_the_rest_are_analysed(cli_path, tmp_path):
    good = tmp_path / "good.wav"
    write_float_wav(good, music_like(48_000, 5.0, 9), 48_000)
    bad = {
        "missing.wav": None,
        "empty.wav": b"",
        "truncated-header.wav": wav_header(48_000, 2, 1000)[:30],
        "unsupported.xyz": b"this is not audio at all, just text that goes on" * 20,
        "zero-hz.wav": wav_header(0, 2, 4000) + bytes(4000),
        "absurd-channels.wav": wav_header(48_000, 65535, 4000) + bytes(4000),
        "garbage.flac": b"fLaC" + bytes(range(256)) * 8,
    }
    paths = []
    for name, content in bad.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        paths.append(path)
    directory = tmp_path / "a-folder.wav"
    directory.mkdir()
    paths.append(directory)
    # A header that claims 4 GB of audio over 1000 bytes: read what is there (250 frames), never
    # allocate what the header claims.
    huge = tmp_path / "huge-claims.wav"
    huge.write_bytes(wav_header(48_000, 2, 0xFFFFFFF0) + bytes(1000))
    result = run(cli_path, "analyze", "--json", good, huge, *paths, check=False)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    print("\n".join(lines))
    # One line per bad file, each naming it, none for the good one.
    assert len(lines) == len(paths), lines
    for path, line in zip(paths, lines):
        assert line.startswith("parity: ") and str(path) in line, line
    report = json.loads(result.stdout)
    assert report["files"][0]["integrated_lufs"] is not None
    assert report["files"][1]["duration_s"] == 250 / 48_000 and report["files"][1]["integrated_lufs"] is None
    assert all("error" in entry for entry in report["files"][2:])
    # A truncated file (header claims more than there is) decodes what is there.
    data = np.zeros((2, 48_000), dtype=np.float32)
    data[:, :] = 0.25 * np.sin(2 * np.pi * 1000 * np.arange(48_000) / 48_000)
    cut = tmp_path / "cut.wav"
    write_float_wav(cut, data, 48_000)
    cut.write_bytes(cut.read_bytes()[: 44 + 8 * 30_000])
    entry = json.loads(run(cli_path, "analyze", "--json", cut).stdout)["files"][0]
    assert abs(entry["duration_s"] - 30_000 / 48_000) < 0.01, entry["duration_s"]
    # Bad command lines exit with 2; a bad settings file is one line.
    assert run(cli_path, "master", good, check=False).returncode == 2
    broken = tmp_path / "broken.json"
    broken.write_text('{"params": {"lim_ceil": {"f32": 99.0}}, "fields": {}}')
    result = run(cli_path, "master", good, "-o", tmp_path / "x.wav", "--settings", broken, check=False)
    assert result.returncode == 1 and "lim_ceil" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.wav").exists()


def test_compare_matches_loudness_and_finds_the_brighter_reference(cli_path, tmp_path):
    rate = 48_000
    mix = music_like(rate, 20.0, 10)
    write_float_wav(tmp_path / "mix.wav", mix, rate)
    write_float_wav(tmp_path / "louder.wav", 2.0 * mix, rate)
    # A brighter reference: a first-difference high boost mixed in.
    bright = mix + 1.5 * np.diff(mix, prepend=0.0, axis=1)
    write_float_wav(tmp_path / "bright.wav", 0.8 * bright / np.max(np.abs(bright)), rate)
    result = json.loads(run(cli_path, "compare", "--json", tmp_path / "mix.wav", tmp_path / "louder.wav",
                            tmp_path / "bright.wav").stdout)
    louder, bright = result["references"]
    assert abs(louder["reference_gain_to_match_db"] + 6.02) < 0.02
    assert louder["tonal_difference_rms_db"] < 0.05
    # Bands compare at equal loudness, so the boost shows as a tilt: each band against the
    # 125 Hz band follows the boost's analytic response |1 + 1.5·(1 − e^(−jω))|, with the mix
    # having that much less treble.
    bands = {b["centre_hz"]: b["difference_db"] for b in bright["octave_bands"]}
    for centre in (1000.0, 4000.0, 8000.0):
        w = 2 * np.pi * centre / rate
        boost_db = 10 * np.log10(8.5 - 7.5 * np.cos(w)) - 10 * np.log10(8.5 - 7.5 * np.cos(2 * np.pi * 125 / rate))
        tilt = bands[centre] - bands[125.0]
        print(f"{centre:.0f} Hz: mix minus bright {tilt:+.2f} dB, analytic {-boost_db:+.2f} dB")
        assert abs(tilt + boost_db) < 1.0
    text = run(cli_path, "compare", tmp_path / "mix.wav", tmp_path / "louder.wav").stdout
    assert "Gain to match" in text and "-6.0 dB" in text


def test_album_report_and_parallel_analysis(cli_path, tmp_path):
    rate = 44_100
    tracks = []
    for i, gain in enumerate([0.5, 0.55, 0.45, 0.15]):
        path = tmp_path / f"{i + 1:02}.wav"
        write_float_wav(path, gain * music_like(rate, 12.0, 20 + i), rate)
        tracks.append(path)
    album = json.loads(run(cli_path, "analyze", "--json", "--album", *tracks).stdout)["album"]
    # The album's loudness is measured over the tracks back to back: check with pyloudnorm.
    joined = np.concatenate([read_wav(t)[1] for t in tracks], axis=1)
    print(f"album {album['integrated_lufs']:.3f} LUFS vs pyloudnorm {pyloudnorm_lufs(joined, rate):.3f}; {album['verdict']}")
    assert abs(album["integrated_lufs"] - pyloudnorm_lufs(joined, rate)) <= 0.02
    assert not album["consistent"] and "04.wav" in album["verdict"]
    assert album["tracks"][3]["loudness_deviation_lu"] < -5.0
    consistent = json.loads(run(cli_path, "analyze", "--json", "--album", *tracks[:3]).stdout)["album"]
    assert consistent["consistent"], consistent["verdict"]


def test_selftest_passes_and_says_so(cli_path):
    for rate in (44_100, 48_000):
        cases = json.loads(run(cli_path, "selftest", "--rate", rate, "--json").stdout)
        assert len(cases) >= 20 and all(case["passed"] for case in cases)
    text = run(cli_path, "selftest").stdout
    assert "cases passed" in text and "FAIL" not in text


def test_demo_writes_listenable_files_and_plots(cli_path, tmp_path):
    out = tmp_path / "demo"
    result = run(cli_path, "demo", "--out", out)
    assert "Target -14.0 LUFS: reached" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert abs(report["master"]["after"]["integrated_lufs"] + 14.0) <= 0.3
    assert report["master"]["after"]["true_peak_dbtp"] <= -0.9
    assert report["master"]["before"]["loudness_range_lu"] > 4.0
    for name in ("loudness.png", "spectrum.png"):
        image = Image.open(out / name)
        assert image.size == (1200, 600)
        # Both traces (before orange, after green) are drawn.
        pixels = np.asarray(image.convert("RGB")).astype(int)
        orange = (np.abs(pixels - [255, 170, 80]).sum(axis=2) < 60).mean()
        green = (np.abs(pixels - [70, 200, 120]).sum(axis=2) < 60).mean()
        assert orange > 0.001 and green > 0.001, (name, orange, green)
    rate, before = read_wav(out / "before.wav")
    _, after = read_wav(out / "after.wav")
    assert rate == 48_000 and before.shape == after.shape and before.shape[0] == 2


def test_analyze_json_carries_the_readiness_checks(cli_path, tmp_path):
    """`parity analyze --json` gives every file a `checks` list (name, status, value, threshold,
    advice) whose verdicts follow the signals: a clipped square fails clipping and headroom, an
    inverted channel fails phase, a clean mix passes both, at 44.1 and 48 kHz."""
    files = {}
    for rate in (44_100, 48_000):
        t = np.arange(int(5 * rate)) / rate
        square = np.where(np.sin(2 * np.pi * 100 * t) >= 0, 32767, -32768).astype(np.int16)
        path = tmp_path / f"square-{rate}.wav"
        wavfile.write(path, rate, np.stack([square, square], axis=1))
        files[("square", rate)] = path
        mix = music_like(rate, 12.0, 3)
        mix *= 10 ** (-8 / 20) / np.abs(mix).max()
        path = tmp_path / f"mix-{rate}.wav"
        write_float_wav(path, mix, rate)
        files[("mix", rate)] = path
        inverted = mix.copy()
        inverted[1] = -inverted[0]
        path = tmp_path / f"inverted-{rate}.wav"
        write_float_wav(path, inverted, rate)
        files[("inverted", rate)] = path
    keys = list(files)
    report = json.loads(run(cli_path, "analyze", "--json", "--target", "ebu_r128", *files.values()).stdout)
    assert report["target"] == "ebu_r128"
    verdicts = {}
    for key, entry in zip(keys, report["files"]):
        checks = entry["checks"]
        assert len(checks) == 14, checks
        for check in checks:
            assert {"name", "group", "status", "value", "threshold", "advice"} <= set(check), check
            assert check["status"] in ("pass", "warn", "fail", "unknown")
            assert check["advice"] and check["threshold"]
        verdicts[key] = {(c["group"], c["name"]): c for c in checks}
    for rate in (44_100, 48_000):
        square = verdicts[("square", rate)]
        assert square[("mix", "clipping")]["status"] == "fail"
        assert square[("mix", "clipping")]["value"] >= 900, square[("mix", "clipping")]
        assert len(square[("mix", "clipping")]["positions_s"]) == 8
        assert square[("mix", "headroom")]["status"] == "fail"
        mix = verdicts[("mix", rate)]
        assert mix[("mix", "clipping")]["status"] == "pass"
        assert mix[("mix", "headroom")]["status"] == "pass", mix[("mix", "headroom")]
        assert mix[("mix", "phase")]["status"] == "pass"
        # A float file is not a delivery format; EBU R 128 deliveries are 48 kHz.
        assert mix[("delivery", "format")]["status"] == ("warn" if rate == 48_000 else "fail")
        # The file is far from −23 LUFS: R 128 is a requirement, so it fails.
        assert mix[("delivery", "loudness")]["status"] == "fail"
        inverted = verdicts[("inverted", rate)]
        assert inverted[("mix", "phase")]["status"] == "fail"
        assert inverted[("mix", "low_end_mono")]["status"] == "fail"
        # The figures are the analysis's own.
        entry = report["files"][keys.index(("mix", rate))]
        assert abs(mix[("delivery", "true_peak")]["value"] - entry["true_peak_dbtp"]) < 1e-9
        assert abs(mix[("delivery", "loudness")]["value"] - entry["integrated_lufs"]) < 1e-9
    # The table names the target and marks failures; an unknown target lists the choices.
    text = run(cli_path, "analyze", "--target", "cd", files[("square", 44_100)]).stdout
    assert "Checks for square-44100.wav against CD (Red Book)" in text and "[FAIL] Clipping" in text
    bad = run(cli_path, "analyze", "--target", "vinyl", files[("mix", 48_000)], check=False)
    assert bad.returncode != 0 and "unknown target `vinyl`" in bad.stderr and "spotify" in bad.stderr
